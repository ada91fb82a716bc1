/*
 * `meshcheck run`: load suites, run their cases on a target, write the
 * reports. The reports are written whatever happens after the options are
 * understood: a malformed suite, a failed set-up or an interruption all
 * still leave junit.xml, report.html and report.json saying why.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bundle.h"
#include "check_kind.h"
#include "clean.h"
#include "cmd.h"
#include "diff.h"
#include "kubectl.h"
#include "preflight.h"
#include "report.h"
#include "results.h"
#include "runner.h"
#include "suite.h"
#include "target.h"
#include "target_kube.h"
#include "util.h"

#define MAX_SUITES 256

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	stop_requested = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck run [OPTIONS]\n"
		"\n"
		"Runs suites (JSON files) against a target and writes junit.xml, report.html\n"
		"and report.json. Without --suite, runs every suites/*.json.\n"
		"\n"
		"options:\n"
		"  --suite FILE     a suite to run (repeatable)\n"
		"  --case REGEX     run only cases whose \"suite/case\" matches (POSIX ERE)\n"
		"  --target NAME    where fixtures run: local (default, a mesh on this machine)\n"
		"                   or kube (real clusters through kubectl)\n"
		"  --out DIR        report directory (default out/)\n"
		"  --junit FILE     write the JUnit report here instead of DIR/junit.xml\n"
		"  --html FILE      write the HTML report here instead of DIR/report.html\n"
		"  --json FILE      write the JSON report here instead of DIR/report.json\n"
		"  --list           list the selected suites and cases, run nothing\n"
		"  --keep           keep the run directory (certificates, configs, logs); on\n"
		"                   kube, leave the deployed objects in the clusters\n"
		"  --run-id ID      name the run (default: time and random); the value of the\n"
		"                   meshcheck.io/run label on kube\n"
		"  --retries N      run a case that fails or errors up to N more times (0 to 10,\n"
		"                   default 0); one that then passes is reported FLAKY\n"
		"  --baseline F     compare with an earlier run's report.json: changed verdicts,\n"
		"                   policy cells and figures, in the terminal, report.html and\n"
		"                   junit.xml (read before the run, so it may be the one replaced)\n"
		"  --certify        also write a certification bundle: DIR/manifest.json,\n"
		"                   DIR/SHA256SUMS and DIR/meshcheck-<run id>.tar (verify-bundle)\n"
		"\n"
		"kube target (see README.md, \"Running against real clusters\"):\n"
		"  --context CTX    a kubeconfig context, one per topology cluster, in order\n"
		"                   (c1 first); repeatable, required with --target kube\n"
		"  --kubeconfig F   kubeconfig file (default: kubectl's)\n"
		"  --revision REV   inject with istio.io/rev=REV instead of istio-injection\n"
		"  --namespace-prefix P  prefix of the namespaces created (default mc-)\n"
		"  --capture-image IMG   image of the node capture pod (ships tcpdump)\n"
		"  --ingress [CLUSTER=]HOST:PORT  the ingress gateway's address, when its\n"
		"                   Service has no external one (repeatable)\n"
		"  --rollout-timeout SECONDS  wait for the fixtures to be ready (default 300)\n"
		"  --dry-run        print what would be created in which context; touch no\n"
		"                   cluster, run nothing\n"
		"  -q, --quiet      no progress lines\n"
		"  -h, --help       this help\n"
		"\n"
		"Exit codes: 0 all passed, 1 some case failed or errored, 2 usage or\n"
		"environment error (bad suite, unknown option, interrupted).\n"
		"NO_COLOR turns colour off; progress is plain when output is not a terminal.\n");
}

/* The folder holding the built-in suites: ./suites, else the source tree's. */
static const char *
suites_dir(void)
{
	struct stat st;
	const char *env = getenv("MC_SUITES_DIR");

	if (env != NULL && *env != '\0')
		return env;
	if (stat("suites", &st) == 0 && S_ISDIR(st.st_mode))
		return "suites";
	return MC_SOURCE_ROOT "/suites";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the .json files of the suites folder, sorted. */
static int
default_suites(char **files, size_t *n, char *err, size_t errlen)
{
	const char *dir = suites_dir();
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return mc_err(err, errlen, errno, "%s: %s (give --suite FILE)", dir, strerror(errno));
	while ((e = readdir(d)) != NULL && *n < MAX_SUITES) {
		size_t l = strlen(e->d_name);

		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0 && e->d_name[0] != '.')
			files[(*n)++] = mc_xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	qsort(files, *n, sizeof(*files), cmp_str);
	if (*n == 0)
		return mc_err(err, errlen, ENOENT, "%s: no suites (*.json) found", dir);
	return 0;
}

static void
make_run_id(char *out, size_t outlen)
{
	unsigned char r[3] = {0};
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
	if (RAND_bytes(r, sizeof(r)) != 1) {
		r[0] = (unsigned char)getpid();
		r[1] = (unsigned char)(getpid() >> 8);
	}
	snprintf(out, outlen, "%s-%02x%02x%02x", ts, r[0], r[1], r[2]);
}

static void
add_run_prop(const char *name, const char *value, void *arg)
{
	mc_run_set_prop(arg, name, value);
}

/* Writes the three reports; returns the number that failed. */
static int
write_reports(const struct mc_run *run, const char *out_dir, const char *junit, const char *html,
	      const char *json, bool quiet, const char *html_section)
{
	char err[MC_ERRLEN];
	char *pj = junit != NULL ? mc_xstrdup(junit) : mc_xasprintf("%s/junit.xml", out_dir);
	char *ph = html != NULL ? mc_xstrdup(html) : mc_xasprintf("%s/report.html", out_dir);
	char *ps = json != NULL ? mc_xstrdup(json) : mc_xasprintf("%s/report.json", out_dir);
	int failed = 0;

	if (mc_mkdir_p(out_dir, 0755, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		failed++;
	}
	if (mc_report_write_junit(run, pj, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		failed++;
	}
	if (mc_report_write_html_with(run, ph, html_section, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		failed++;
	}
	if (mc_report_write_json(run, ps, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		failed++;
	}
	if (!quiet && failed == 0)
		printf("reports: %s %s %s\n", pj, ph, ps);
	free(pj);
	free(ph);
	free(ps);
	return failed;
}

int
mc_cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"suite", required_argument, NULL, 's'}, {"case", required_argument, NULL, 'c'},
		{"target", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
		{"junit", required_argument, NULL, 'J'},  {"html", required_argument, NULL, 'H'},
		{"json", required_argument, NULL, 'j'},   {"list", no_argument, NULL, 'l'},
		{"keep", no_argument, NULL, 'k'},         {"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},         {"context", required_argument, NULL, 'C'},
		{"kubeconfig", required_argument, NULL, 'K'}, {"revision", required_argument, NULL, 'R'},
		{"namespace-prefix", required_argument, NULL, 'P'}, {"capture-image", required_argument, NULL, 'I'},
		{"ingress", required_argument, NULL, 'G'}, {"rollout-timeout", required_argument, NULL, 'T'},
		{"dry-run", no_argument, NULL, 'D'},      {"run-id", required_argument, NULL, 'r'},
		{"baseline", required_argument, NULL, 'b'}, {"certify", no_argument, NULL, 'Z'},
		{"retries", required_argument, NULL, 'N'}, {NULL, 0, NULL, 0},
	};
	int retries = 0;
	const char *baseline_path = NULL;
	bool certify = false;
	cJSON *baseline = NULL;
	struct mc_diff diff = {0};
	bool have_diff = false;
	struct mc_kube_target_opts ko = {0};
	const char *ingress_args[MC_KUBE_MAX_CONTEXTS];
	size_t n_ingress = 0;
	const char *kubeconfig = NULL, *user_run_id = NULL;
	bool dry_run = false, kube_opts = false;
	struct mc_kube kube = {0};
	bool kube_ready = false;
	const char *out_dir = "out", *junit = NULL, *html = NULL, *json = NULL, *case_re = NULL;
	const char *target_name = "local";
	char *files[MAX_SUITES];
	struct mc_suite_def *defs[MAX_SUITES];
	size_t n_files = 0, n_defs = 0;
	bool list = false, keep = false, quiet = false;
	const struct mc_target_ops *target;
	struct mc_runner_options ro = {0};
	struct mc_run *run = NULL;
	struct sigaction sa, old_int, old_term;
	char err[MC_ERRLEN] = "";
	char run_id[64];
	int opt, rc = MC_EXIT_USAGE;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (n_files == MAX_SUITES) {
				fprintf(stderr, "meshcheck run: at most %d suites\n", MAX_SUITES);
				goto out;
			}
			files[n_files++] = mc_xstrdup(optarg);
			break;
		case 'c': case_re = optarg; break;
		case 't': target_name = optarg; break;
		case 'o': out_dir = optarg; break;
		case 'J': junit = optarg; break;
		case 'H': html = optarg; break;
		case 'j': json = optarg; break;
		case 'l': list = true; break;
		case 'k': keep = true; break;
		case 'q': quiet = true; break;
		case 'C':
			if (ko.n_contexts == MC_KUBE_MAX_CONTEXTS) {
				fprintf(stderr, "meshcheck run: at most %d --context\n", MC_KUBE_MAX_CONTEXTS);
				goto out;
			}
			ko.contexts[ko.n_contexts++] = optarg;
			kube_opts = true;
			break;
		case 'K': kubeconfig = optarg; kube_opts = true; break;
		case 'R': ko.revision = optarg; kube_opts = true; break;
		case 'P': ko.ns_prefix = optarg; kube_opts = true; break;
		case 'I': ko.capture_image = optarg; kube_opts = true; break;
		case 'G':
			if (n_ingress == MC_KUBE_MAX_CONTEXTS) {
				fprintf(stderr, "meshcheck run: at most %d --ingress\n", MC_KUBE_MAX_CONTEXTS);
				goto out;
			}
			ingress_args[n_ingress++] = optarg;
			kube_opts = true;
			break;
		case 'T': {
			char *e;

			ko.rollout_timeout_s = strtod(optarg, &e);
			if (e == optarg || *e != '\0' || !(ko.rollout_timeout_s >= 1 && ko.rollout_timeout_s <= 86400)) {
				fprintf(stderr, "meshcheck run: --rollout-timeout: expected seconds from 1 to 86400, got \"%s\"\n",
					optarg);
				goto out;
			}
			kube_opts = true;
			break;
		}
		case 'D': dry_run = true; break;
		case 'b': baseline_path = optarg; break;
		case 'Z': certify = true; break;
		case 'N': {
			char *e;
			long nr = strtol(optarg, &e, 10);

			if (e == optarg || *e != '\0' || nr < 0 || nr > 10) {
				fprintf(stderr, "meshcheck run: --retries: expected a number from 0 to 10, got \"%s\"\n", optarg);
				goto out;
			}
			retries = (int)nr;
			break;
		}
		case 'r': user_run_id = optarg; break;
		case 'h':
			usage(stdout);
			rc = MC_EXIT_OK;
			goto out;
		default:
			fprintf(stderr, "meshcheck run: unknown option or missing value: %s (see meshcheck run --help)\n",
				argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshcheck run: unexpected argument \"%s\" (suites are given with --suite)\n",
			argv[optind]);
		goto out;
	}
	target = mc_target_find(target_name);
	if (target == NULL) {
		fprintf(stderr, "meshcheck run: unknown target \"%s\" (known: local, kube)\n", target_name);
		goto out;
	}
	if (mc_runner_check_regex(case_re, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		goto out;
	}
	if (certify && (list || dry_run)) {
		fprintf(stderr, "meshcheck run: --certify needs a run (not --list or --dry-run)\n");
		goto out;
	}
	/* Read now: the run may be about to replace it. */
	if (baseline_path != NULL && mc_diff_load(baseline_path, &baseline, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: --baseline: %s\n", err);
		goto out;
	}
	if (user_run_id != NULL && !mc_kube_label_value_ok(user_run_id)) {
		fprintf(stderr, "meshcheck run: --run-id: \"%s\" is not a label value (letters, digits, '.', '_', '-'; "
				"1 to 63, alphanumeric at both ends)\n", user_run_id);
		goto out;
	}
	if (target != &mc_target_kube && (kube_opts || dry_run)) {
		fprintf(stderr, "meshcheck run: --context, --kubeconfig, --revision, --namespace-prefix, "
				"--capture-image, --ingress, --rollout-timeout and --dry-run go with --target kube\n");
		goto out;
	}
	if (target == &mc_target_kube) {
		if (ko.n_contexts == 0) {
			fprintf(stderr, "meshcheck run: --target kube needs --context (one per cluster, c1 first)\n");
			goto out;
		}
		if (ko.ns_prefix != NULL && (ko.ns_prefix[0] == '\0' || strlen(ko.ns_prefix) > 20 ||
					     strspn(ko.ns_prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
						     strlen(ko.ns_prefix) ||
					     ko.ns_prefix[0] == '-')) {
			fprintf(stderr, "meshcheck run: --namespace-prefix: \"%s\" must be 1 to 20 of a-z, 0-9 and '-', "
					"not starting with '-'\n", ko.ns_prefix);
			goto out;
		}
		for (size_t i = 0; i < n_ingress; i++) {
			const char *a = ingress_args[i], *eq = strchr(a, '='), *hp = eq != NULL ? eq + 1 : a;
			const char *colon = strrchr(hp, ':');
			size_t slot = i;

			if (eq != NULL) {
				/* CLUSTER is the topology's name: c1 is the first context. */
				if (eq - a < 2 || a[0] != 'c' || strspn(a + 1, "0123456789") != (size_t)(eq - a - 1) ||
				    atoi(a + 1) < 1 || atoi(a + 1) > (int)ko.n_contexts) {
					fprintf(stderr, "meshcheck run: --ingress %s: CLUSTER must be c1 .. c%zu\n", a,
						ko.n_contexts);
					goto out;
				}
				slot = (size_t)atoi(a + 1) - 1;
			}
			if (colon == NULL || colon == hp || atoi(colon + 1) < 1 || atoi(colon + 1) > 65535 ||
			    strspn(colon + 1, "0123456789") != strlen(colon + 1) || slot >= ko.n_contexts) {
				fprintf(stderr, "meshcheck run: --ingress %s: expected [CLUSTER=]HOST:PORT\n", a);
				goto out;
			}
			ko.ingress[slot] = hp;
		}
		if (mc_kube_init(&kube, kubeconfig, err, sizeof(err)) < 0) {
			fprintf(stderr, "meshcheck run: %s\n", err);
			goto out;
		}
		kube_ready = true;
		kube.dry_run = dry_run;
		ko.keep = keep;
		mc_target_kube_configure(&kube, &ko);
	}

	if (user_run_id != NULL)
		snprintf(run_id, sizeof(run_id), "%s", user_run_id);
	else
		make_run_id(run_id, sizeof(run_id));
	run = mc_run_new(run_id, target->name);
	/* Id, version and target are fields of the run; properties hold the other facts. */
	mc_run_set_prop(run, "openssl", OpenSSL_version(OPENSSL_VERSION));

	if (n_files == 0 && default_suites(files, &n_files, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		mc_run_abort(run, "%s", err);
		goto reports;
	}
	for (size_t i = 0; i < n_files; i++) {
		if (mc_suite_load(files[i], &defs[n_defs], err, sizeof(err)) < 0 ||
		    (n_defs++, target->validate != NULL && target->validate(defs[n_defs - 1], err, sizeof(err)) < 0)) {
			fprintf(stderr, "meshcheck run: %s\n", err);
			mc_run_abort(run, "invalid suite: %s", err);
			goto reports;
		}
	}
	if (list) {
		for (size_t i = 0; i < n_defs; i++)
			for (size_t j = 0; j < defs[i]->n_cases; j++)
				if (mc_runner_selected(case_re, defs[i]->name, defs[i]->cases[j].name))
					printf("%s/%s\t%s\n", defs[i]->name, defs[i]->cases[j].name,
					       defs[i]->cases[j].kind->name);
		rc = MC_EXIT_OK;
		goto out;
	}

	if (dry_run) {
		/* What would be created, cluster by cluster: nothing runs, no cluster is asked. */
		bool planned = false;

		for (size_t i = 0; i < n_defs && !planned; i++) {
			if (defs[i]->mesh == NULL || cJSON_GetObjectItemCaseSensitive(defs[i]->mesh, "topology") == NULL)
				continue;
			if (mc_target_kube_plan(defs[i], run_id, stdout, err, sizeof(err)) < 0) {
				fprintf(stderr, "meshcheck run: %s\n", err);
				goto out;
			}
			planned = true;
		}
		if (!planned)
			printf("# no selected suite deploys a topology: nothing would be created\n");
		else
			printf("# then: the cases, each case's mesh_config applied and deleted around it, and at the\n"
			       "# end every object labelled %s=%s deleted (unless --keep)\n",
			       MC_KUBE_RUN_LABEL, run_id);
		rc = MC_EXIT_OK;
		goto out;
	}
	if (target == &mc_target_kube) {
		struct mc_preflight_opts po = {.contexts = ko.contexts, .n_contexts = ko.n_contexts,
					       .revision = ko.revision};
		struct mc_preflight *pf = NULL;
		int prc;

		for (size_t i = 0; i < n_defs; i++)
			for (size_t j = 0; j < defs[i]->n_cases; j++)
				if (strcmp(defs[i]->cases[j].kind->name, "wire") == 0 &&
				    mc_runner_selected(case_re, defs[i]->name, defs[i]->cases[j].name))
					po.capture = true;
		prc = mc_preflight_run(&kube, &po, &pf, err, sizeof(err));
		if (pf != NULL) {
			if (prc < 0 || !quiet)
				mc_preflight_print(pf, prc < 0 ? stderr : stdout);
			ko.capture_allowed = pf->capture_allowed;
			mc_target_kube_configure(&kube, &ko);
			for (size_t i = 0; i < pf->n_clusters; i++) {
				char *key = mc_xasprintf("context %s", pf->clusters[i].context);
				char *val = mc_xasprintf("Kubernetes %s, Istio %s (revision %s)",
							 pf->clusters[i].server_version ? pf->clusters[i].server_version : "?",
							 pf->clusters[i].istio_version ? pf->clusters[i].istio_version : "?",
							 pf->clusters[i].revision ? pf->clusters[i].revision : "?");

				mc_run_set_prop(run, key, val);
				free(key);
				free(val);
			}
		}
		mc_preflight_free(pf);
		if (prc < 0) {
			fprintf(stderr, "meshcheck run: %s; nothing was created\n", err);
			mc_run_abort(run, "%s", err);
			goto reports;
		}
	}

	/* A fresh evidence folder: old evidence must not be linked to a new run. */
	{
		char *ev = mc_xasprintf("%s/evidence", out_dir);

		mc_rm_rf(ev);
		free(ev);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ro.out_dir = out_dir;
	ro.case_regex = case_re;
	ro.target = target;
	ro.keep = keep;
	ro.retries = retries;
	ro.stop = &stop_requested;
	ro.progress = quiet ? NULL : stdout;
	ro.color = !quiet && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	(void)mc_runner_run(run, defs, n_defs, &ro, err, sizeof(err));
	mc_target_down_all();
	if (target == &mc_target_kube && mc_target_kube_finish(quiet ? NULL : stdout, err, sizeof(err)) < 0)
		fprintf(stderr, "meshcheck run: cleaning up the clusters: %s (meshcheck clean --run %s removes the "
				"rest)\n", err, run_id);
	curl_global_cleanup();
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

reports:
	run->end = mc_now();
	if (baseline != NULL) {
		cJSON *now = mc_report_json(run);

		have_diff = mc_diff_compute(baseline, now, MC_DIFF_DEFAULT_TOLERANCE_PCT, &diff) == 0;
		cJSON_Delete(now);
		if (have_diff)
			mc_diff_junit_properties(&diff, add_run_prop, run);
	}
	{
		char *section = have_diff ? mc_diff_html(&diff) : NULL;
		int bad = write_reports(run, out_dir, junit, html, json, quiet, section);

		free(section);
		if (bad > 0) {
			rc = MC_EXIT_USAGE;
			goto out;
		}
	}
	if (certify) {
		struct mc_bundle_info bi = {.junit = junit, .html = html, .json = json};
		char **images = NULL, *bundle = NULL;
		size_t n_images = 0;

		if (target == &mc_target_kube) {
			char *dir = mc_xasprintf("%s/kube", ko.fixtures_dir != NULL ? ko.fixtures_dir : MC_SOURCE_ROOT "/fixtures");

			if (mc_bundle_images_from_manifests(dir, &images, &n_images) < 0)
				fprintf(stderr, "meshcheck run: --certify: %s: cannot read the fixtures\n", dir);
			free(dir);
		}
		bi.images = (const char *const *)images;
		bi.n_images = n_images;
		if (mc_bundle_write(run, out_dir, &bi, &bundle, err, sizeof(err)) < 0) {
			fprintf(stderr, "meshcheck run: --certify: %s\n", err);
			mc_bundle_images_free(images, n_images);
			rc = MC_EXIT_USAGE;
			goto out;
		}
		if (!quiet)
			printf("bundle: %s\n", bundle);
		free(bundle);
		mc_bundle_images_free(images, n_images);
	}
	{
		struct mc_counts k = mc_run_counts(run);

		printf("%zu passed, %zu failed, %zu skipped, %zu errors, %zu flaky in %.1fs\n", k.passed, k.failed,
		       k.skipped, k.errors, k.flaky, run->end - run->start);
	}
	if (have_diff) {
		printf("\nchanges since the baseline %s:\n", baseline_path);
		mc_diff_print(&diff, stdout);
	}
	if (run->aborted != NULL && stop_requested != 0)
		fprintf(stderr, "meshcheck run: interrupted by signal %d\n", (int)stop_requested);
	rc = mc_run_exit_code(run);
out:
	for (size_t i = 0; i < n_defs; i++)
		mc_suite_def_free(defs[i]);
	for (size_t i = 0; i < n_files; i++)
		free(files[i]);
	mc_run_free(run);
	if (kube_ready)
		mc_kube_clear(&kube);
	mc_diff_free(&diff);
	cJSON_Delete(baseline);
	return rc;
}
