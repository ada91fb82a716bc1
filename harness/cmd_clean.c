/*
 * `meshcheck clean`: deletes, in each context, the objects meshcheck runs
 * created (those labelled meshcheck.io/run), of every run or of one, and
 * nothing else; says what it deleted. See harness/kube/clean.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "clean.h"
#include "cmd.h"
#include "kubectl.h"
#include "util.h"

#define MAX_CONTEXTS 16

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck clean --context CTX [--context CTX ...] [OPTIONS]\n"
		"\n"
		"Deletes what meshcheck's kube runs created: objects labelled\n"
		"meshcheck.io/run (namespaces, and mesh config and secrets outside them),\n"
		"checking the label on every object before deleting it. Namespaces of\n"
		"Kubernetes and Istio (default, kube-*, istio-*) are never deleted.\n"
		"\n"
		"options:\n"
		"  --context CTX    a kubeconfig context to clean (repeatable, required)\n"
		"  --run ID         only the objects of run ID (default: of every run)\n"
		"  --kubeconfig F   kubeconfig file (default: kubectl's)\n"
		"  --dry-run        print what would be deleted, delete nothing\n"
		"  -h, --help       this help\n"
		"\n"
		"Exit codes: 0 cleaned (or nothing to clean), 2 usage error or a context\n"
		"that could not be cleaned (the others still are).\n");
}

int
mc_cmd_clean(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"context", required_argument, NULL, 'c'}, {"run", required_argument, NULL, 'r'},
		{"kubeconfig", required_argument, NULL, 'k'}, {"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	const char *contexts[MAX_CONTEXTS], *run = NULL, *kubeconfig = NULL;
	size_t n = 0;
	bool dry = false;
	struct mc_kube k = {0};
	struct mc_clean_stats st = {0};
	char err[MC_ERRLEN];
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (n == MAX_CONTEXTS) {
				fprintf(stderr, "meshcheck clean: at most %d --context\n", MAX_CONTEXTS);
				return MC_EXIT_USAGE;
			}
			contexts[n++] = optarg;
			break;
		case 'r': run = optarg; break;
		case 'k': kubeconfig = optarg; break;
		case 'n': dry = true; break;
		case 'h': usage(stdout); return MC_EXIT_OK;
		default:
			fprintf(stderr, "meshcheck clean: unknown option or missing value: %s (see meshcheck clean --help)\n",
				argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshcheck clean: unexpected argument \"%s\"\n", argv[optind]);
		return MC_EXIT_USAGE;
	}
	if (n == 0) {
		fprintf(stderr, "meshcheck clean: give at least one --context\n");
		return MC_EXIT_USAGE;
	}
	if (run != NULL && !mc_kube_label_value_ok(run)) {
		fprintf(stderr, "meshcheck clean: --run: \"%s\" is not a run id\n", run);
		return MC_EXIT_USAGE;
	}
	if (mc_kube_init(&k, kubeconfig, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck clean: %s\n", err);
		return MC_EXIT_USAGE;
	}
	k.dry_run = dry;
	{
		struct mc_clean_opts o = {.contexts = contexts, .n_contexts = n, .run_id = run, .report = stdout};

		rc = mc_kube_clean(&k, &o, &st, err, sizeof(err));
	}
	printf("%s %zu object(s)%s; %zu kept (label missing or protected namespace)\n",
	       dry ? "would delete" : "deleted", st.deleted, run != NULL ? " of that run" : "", st.kept);
	mc_kube_clear(&k);
	if (rc < 0) {
		fprintf(stderr, "meshcheck clean: %s\n", err);
		return MC_EXIT_USAGE;
	}
	return MC_EXIT_OK;
}
