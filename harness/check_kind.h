/*
 * Check kinds: one file each, each exporting one table entry. A kind
 * validates its inputs when the suite loads, and runs a case against a
 * target, filling in the case's result.
 */
#ifndef MC_CHECK_KIND_H
#define MC_CHECK_KIND_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "results.h"
#include "suite.h"

struct mc_target;

/* What a check gets to run one case. */
struct mc_check_ctx {
	const struct mc_suite_def *suite;
	const struct mc_case_def *def;
	struct mc_target *target;   /* set up for this suite; never NULL */
	const char *out_dir;        /* the report directory */
	const char *evidence_dir;   /* relative to out_dir, for this case; created on demand */
};

struct mc_check_kind {
	const char *name;
	const char *summary;
	/* Validates input and expect; where is e.g. "suites/x.json: cases[3]". */
	int (*validate)(const cJSON *input, const cJSON *expect, const char *where,
			char *err, size_t errlen);
	/* Runs the case and sets its outcome with mc_case_set (never leaves it "not run"). */
	void (*run)(const struct mc_check_ctx *ctx, struct mc_case *result);
};

extern const struct mc_check_kind mc_check_chain;
extern const struct mc_check_kind mc_check_wire;
extern const struct mc_check_kind mc_check_reach;
extern const struct mc_check_kind mc_check_continuity;
extern const struct mc_check_kind mc_check_policy;
extern const struct mc_check_kind mc_check_distribution;
extern const struct mc_check_kind mc_check_load;

/* The table of all check kinds, NULL-terminated. */
extern const struct mc_check_kind *const mc_check_kinds[];
const struct mc_check_kind *mc_check_find(const char *name);

/*
 * Creates the case's evidence directory if needed and returns the path of
 * file name inside it, relative to out_dir (caller frees), writing its full
 * path to *full (caller frees) when full is not NULL.
 */
char *mc_check_evidence_path(const struct mc_check_ctx *ctx, const char *name, char **full);

#endif
