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

#include "check_kind.h"
#include "cmd.h"
#include "report.h"
#include "results.h"
#include "runner.h"
#include "suite.h"
#include "target.h"
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
		"  --target NAME    where fixtures run: local (default)\n"
		"  --out DIR        report directory (default out/)\n"
		"  --junit FILE     write the JUnit report here instead of DIR/junit.xml\n"
		"  --html FILE      write the HTML report here instead of DIR/report.html\n"
		"  --json FILE      write the JSON report here instead of DIR/report.json\n"
		"  --list           list the selected suites and cases, run nothing\n"
		"  --keep           keep the run directory (certificates, configs, logs)\n"
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

/* Writes the three reports; returns the number that failed. */
static int
write_reports(const struct mc_run *run, const char *out_dir, const char *junit, const char *html,
	      const char *json, bool quiet)
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
	if (mc_report_write_html(run, ph, err, sizeof(err)) < 0) {
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
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
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
		fprintf(stderr, "meshcheck run: unknown target \"%s\" (known: local)\n", target_name);
		goto out;
	}
	if (mc_runner_check_regex(case_re, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck run: %s\n", err);
		goto out;
	}

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
	ro.stop = &stop_requested;
	ro.progress = quiet ? NULL : stdout;
	ro.color = !quiet && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	(void)mc_runner_run(run, defs, n_defs, &ro, err, sizeof(err));
	mc_target_down_all();
	curl_global_cleanup();
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

reports:
	run->end = mc_now();
	if (write_reports(run, out_dir, junit, html, json, quiet) > 0) {
		rc = MC_EXIT_USAGE;
		goto out;
	}
	{
		struct mc_counts k = mc_run_counts(run);

		printf("%zu passed, %zu failed, %zu skipped, %zu errors in %.1fs\n", k.passed, k.failed,
		       k.skipped, k.errors, run->end - run->start);
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
	return rc;
}
