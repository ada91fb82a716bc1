/*
 * What the three writers share about the run as a whole: the counts they
 * show (see report.h).
 */
#include "report.h"

struct mc_counts
mc_report_counts(const struct mc_run *run)
{
	struct mc_counts k = mc_run_counts(run);

	if (run->aborted != NULL) {
		k.total++;
		k.errors++;
	}
	return k;
}
