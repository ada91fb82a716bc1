/*
 * `meshcheck diff OLD/report.json NEW/report.json`: what changed between
 * two runs (verdicts, policy rows, shares and latencies beyond a
 * tolerance). Exit 1 when a case went from pass to fail or error, 0
 * otherwise, 2 on usage errors and unreadable or malformed reports.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "diff.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: meshcheck diff OLD/report.json NEW/report.json [--tolerance-pct N] [--json]\n\n"
		   "Compares two runs' report.json: cases whose verdict changed (regressed: pass to fail\n"
		   "or error; fixed: the other way), cases added and removed, rows of policy cases whose\n"
		   "expected or seen outcome changed, and measurements in %% (shares, error rates) or ms\n"
		   "(latencies) that moved by more than the tolerance.\n\noptions:\n"
		   "  --tolerance-pct N    how far a measurement may move before it is listed: percentage\n"
		   "                       points for values in %%, percent of the old value for ms\n"
		   "                       (default %g)\n"
		   "  --json               print one JSON document (schema meshcheck.diff/1)\n"
		   "  -h, --help           this help\n"
		   "\nExit codes: 0 no case regressed, 1 some case regressed, 2 bad input or usage.\n",
		MC_DIFF_DEFAULT_TOLERANCE_PCT);
}

int
mc_cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"tolerance-pct", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double tol = MC_DIFF_DEFAULT_TOLERANCE_PCT;
	cJSON *old_report = NULL, *new_report = NULL;
	struct mc_diff d;
	char err[MC_ERRLEN], *end;
	bool json = false;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return MC_EXIT_OK;
		case 't':
			tol = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !isfinite(tol) || tol < 0) {
				fprintf(stderr, "meshcheck diff: --tolerance-pct takes a number >= 0, not \"%s\"\n", optarg);
				return MC_EXIT_USAGE;
			}
			break;
		case 'J':
			json = true;
			break;
		default:
			fprintf(stderr, "meshcheck diff: unknown option or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "meshcheck diff: give two reports, OLD/report.json NEW/report.json (see --help)\n");
		return MC_EXIT_USAGE;
	}
	if (mc_diff_load(argv[optind], &old_report, err, sizeof(err)) < 0 ||
	    mc_diff_load(argv[optind + 1], &new_report, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck diff: %s\n", err);
		cJSON_Delete(old_report);
		return MC_EXIT_USAGE;
	}
	if (mc_diff_compute(old_report, new_report, tol, &d) < 0) {
		/* Both were checked when loaded; only the tolerance could be refused, and it was checked too. */
		fprintf(stderr, "meshcheck diff: cannot compare the reports\n");
		cJSON_Delete(old_report);
		cJSON_Delete(new_report);
		return MC_EXIT_USAGE;
	}
	if (json) {
		cJSON *j = mc_diff_json(&d);
		char *text = cJSON_Print(j);

		printf("%s\n", text);
		cJSON_free(text);
		cJSON_Delete(j);
	} else {
		mc_diff_print(&d, stdout);
	}
	rc = mc_diff_regressed(&d) ? MC_EXIT_FAIL : MC_EXIT_OK;
	mc_diff_free(&d);
	cJSON_Delete(old_report);
	cJSON_Delete(new_report);
	return rc;
}
