/*
 * The runner: runs the selected cases of loaded suites against a target and
 * records everything in the results model.
 */
#ifndef MC_RUNNER_H
#define MC_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "results.h"
#include "suite.h"
#include "target.h"

struct mc_runner_options {
	const char *out_dir;                 /* report directory (evidence goes under it) */
	const char *case_regex;              /* POSIX ERE over "suite/case"; NULL selects all */
	const struct mc_target_ops *target;  /* default: local */
	bool keep;                           /* keep run directories */
	volatile sig_atomic_t *stop;         /* set (by a signal handler) to stop early */
	FILE *progress;                      /* progress lines; NULL for none */
	bool color;                          /* ANSI colours in progress */
	int retries;                         /* extra attempts for a failed or errored case (0: none) */
};

/* Retries beyond this count as this many. */
#define MC_RUNNER_MAX_RETRIES 100

/*
 * Compiles the case selection. Returns 0 or -EINVAL with the regcomp message.
 * Used by `run` to reject a bad --case before anything starts.
 */
int mc_runner_check_regex(const char *regex, char *err, size_t errlen);

/* True when the case of the suite is selected by regex (NULL selects all). */
bool mc_runner_selected(const char *regex, const char *suite, const char *name);

/*
 * Runs every selected case of the suites in order, one target per suite,
 * adding suites and cases to run. A target that cannot be set up turns the
 * suite's selected cases into errors naming why; a stop request ends the run
 * after the current case and marks the run aborted. Returns 0, or a negative
 * errno when the runner itself could not work (the run is then aborted too).
 *
 * With opts->retries > 0, a case whose outcome (after a negative control's
 * inversion) is FAIL or ERROR runs again, up to retries more times; a pass
 * ends it. A case that passes on a later attempt is PASS and flaky; one that
 * never passes keeps the last attempt's outcome. Either way every attempt is
 * kept in the case (status, reason, duration), the case's duration is the
 * sum, and the evidence files of an earlier attempt are moved to
 * "<case evidence dir>@attempt-N" and stay listed, labelled "attempt N: ".
 * SKIP is never retried; a retry that comes back SKIP does not hide the
 * failure before it (the case keeps that failure's status).
 */
int mc_runner_run(struct mc_run *run, struct mc_suite_def *const *suites, size_t n_suites,
		  const struct mc_runner_options *opts, char *err, size_t errlen);

#endif
