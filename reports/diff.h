/*
 * Run-to-run comparison of two report.json documents (schema
 * meshcheck.report/1): which cases changed verdict, which rows of policy
 * matrices changed outcome, and which shares and latencies moved by more
 * than a tolerance. `meshcheck diff` prints it; `run --baseline` shows the
 * same in the terminal, report.html and the JUnit properties.
 *
 * Cases are matched by suite name and case name (the k-th case of a name
 * in a suite with the k-th of the same name in the other report); policy
 * rows by row name within their case; measurements by name and unit within
 * their case. Everything is read from the report itself, so a report.json
 * copied without its evidence folder compares the same.
 */
#ifndef MC_DIFF_H
#define MC_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* The tolerance `meshcheck diff` uses when none is given, in percent. */
#define MC_DIFF_DEFAULT_TOLERANCE_PCT 10.0

enum mc_diff_change {
	MC_DIFF_CHANGED, /* present in both reports, different */
	MC_DIFF_ADDED,   /* only in the new report */
	MC_DIFF_REMOVED, /* only in the old report */
};

/* A case whose verdict changed, or that only one of the reports has. */
struct mc_diff_case {
	char *suite, *name;
	char *check;             /* the new report's check kind (the old one's for a removed case) */
	enum mc_diff_change change;
	char *old_status;        /* "pass", "fail", "skip", "error"; NULL for an added case */
	char *new_status;        /* NULL for a removed case */
	char *new_reason;        /* the new report's reason (NULL when it has none) */
	bool regressed;          /* pass -> fail or error */
	bool fixed;              /* fail or error -> pass */
};

/*
 * One side of a policy row: what the row expected and what it saw. seen is
 * the outcome ("403", "reset" ...) or "error" when the request could not
 * be sent (detail then holds why). expected is NULL when the report does
 * not say (rows that could not be sent have no expected line).
 */
struct mc_diff_row {
	char *expected;
	char *seen;
	char *detail;
	bool ok;
};

/* A row of a policy case (in both reports) whose outcome changed, or a row only one has. */
struct mc_diff_cell {
	char *suite, *name;      /* the case */
	char *row;
	enum mc_diff_change change;
	struct mc_diff_row old_row, new_row; /* old_row is empty for an added row, new_row for a removed one */
};

/*
 * A measurement with unit "%" (shares, error rates; compared in absolute
 * percentage points) or "ms" (latencies; compared relative to the old
 * value) that moved by more than the tolerance.
 */
struct mc_diff_measure {
	char *suite, *name;      /* the case */
	char *measure;           /* e.g. "share v1", "p99" */
	char *unit;              /* "%" or "ms" */
	double old_value, new_value;
	double delta;            /* new - old (percentage points for "%") */
	double relative_pct;     /* 100 * delta / |old|; infinite when old is 0 */
};

struct mc_diff {
	double tolerance_pct;
	char *old_id, *new_id;   /* the runs' ids ("" when the report has none) */
	struct mc_diff_case *cases;
	size_t n_cases;
	struct mc_diff_cell *cells;
	size_t n_cells;
	struct mc_diff_measure *measures;
	size_t n_measures;
	/* Counts over cases: verdict changes by kind, and cases in only one report. */
	size_t n_regressed, n_fixed, n_other, n_added, n_removed;
};

/*
 * Reads and checks a report.json. Errors name the file: "F:LINE:COL: JSON
 * syntax error near ..." for text that is not JSON, "F: not a meshcheck
 * report (suites[1].cases[0]: no \"status\")" when required keys are
 * missing, "F: No such file or directory" and so on. Returns 0 and the
 * document in *out (caller deletes), or a negative errno.
 */
int mc_diff_load(const char *path, cJSON **out, char *err, size_t errlen);

/*
 * Checks that j has what a comparison needs (schema meshcheck.report/...,
 * suites with names and cases, cases with names and statuses); name is
 * used in the message. Returns 0 or -EINVAL.
 */
int mc_diff_check_report(const cJSON *j, const char *name, char *err, size_t errlen);

/*
 * Compares two reports (as mc_diff_load reads them, or as mc_report_json
 * builds them). tolerance_pct: how far a measurement may move before it is
 * listed (percentage points for "%", percent of the old value for "ms");
 * it must be a finite number >= 0. Returns 0 with *out filled (free it with
 * mc_diff_free), or -EINVAL when a document is not a report or the
 * tolerance is invalid (*out is then empty, and safe to free).
 */
int mc_diff_compute(const cJSON *old_report, const cJSON *new_report, double tolerance_pct, struct mc_diff *out);

/* True when some case went from pass to fail or error. */
bool mc_diff_regressed(const struct mc_diff *d);

/* True when the diff lists nothing at all. */
bool mc_diff_empty(const struct mc_diff *d);

/*
 * Terminal text: a summary line, then a section per kind (cases, policy
 * rows, measurements) with one line per change. Control characters in
 * names are shown as "\xNN".
 */
void mc_diff_print(const struct mc_diff *d, FILE *f);

/* The diff as a JSON document (schema meshcheck.diff/1). Caller deletes. */
cJSON *mc_diff_json(const struct mc_diff *d);

/*
 * An HTML fragment for report.html: one <section class="diff"> with a
 * heading and a table per kind of change; every string is escaped. It uses
 * the report's own classes (st pass/fail/skip/error, num, muted). Caller
 * frees.
 */
char *mc_diff_html(const struct mc_diff *d);

/*
 * Calls add(name, value, arg) for each property describing the diff:
 * diff.regressed, diff.fixed, diff.changed, diff.added, diff.removed,
 * diff.cells, diff.measurements (counts), diff.baseline_run (the old
 * run's id), then diff.case.SUITE/CASE = "pass->fail" (or "(none)->pass",
 * "pass->(none)"), diff.cell.SUITE/CASE/ROW = "403->200" and
 * diff.measure.SUITE/CASE/NAME = "50->70 %".
 */
void mc_diff_junit_properties(const struct mc_diff *d, void (*add)(const char *name, const char *value, void *arg),
			      void *arg);

void mc_diff_free(struct mc_diff *d);

#endif
