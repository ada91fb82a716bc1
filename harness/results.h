/*
 * The results model: one run holds suites, a suite holds cases, a case holds
 * its outcome, what was expected, what was seen, measurements and evidence
 * files. Every report (JSON, JUnit, HTML) is written from this model alone.
 *
 * Ownership: mc_run_new() returns a run the caller frees with mc_run_free();
 * suites and cases belong to their run and are freed with it, and a case's
 * measurements, evidence, timeline and attempts belong to the case. Every
 * string passed in is copied.
 */
#ifndef MC_RESULTS_H
#define MC_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mc_status {
	MC_RESULT_PASS,
	MC_RESULT_FAIL,  /* the check ran and its expectation did not hold */
	MC_RESULT_SKIP,  /* the check could not apply here; the reason says why */
	MC_RESULT_ERROR, /* the harness could not run the check */
};

/* "pass", "fail", "skip", "error". */
const char *mc_status_name(enum mc_status s);

struct mc_measure {
	char *name;
	double value;
	char *unit; /* may be NULL */
};

struct mc_evidence {
	char *label; /* what it is, e.g. "peer chain (PEM)" */
	char *path;  /* relative to the report directory */
};

/* A key/value fact about the run or a suite (target, versions, host ...). */
struct mc_property {
	char *name;
	char *value;
};

/*
 * What happened over time while a case ran: traffic per second, the moments
 * something started or ended, and the failed requests. Times t are seconds
 * from the timeline's start (start_unix); they may be fractional.
 */
struct mc_timeline_point {
	double t;             /* the second this point covers starts here */
	int64_t sent, ok, failed;
	double p99_ms;        /* latency p99 of the requests of this second */
};

struct mc_timeline_mark {
	double t;
	char *label;          /* "action start", "action end", "before", "during", "after" ... */
};

struct mc_timeline_failure {
	double t;
	char *path;           /* on which path, e.g. "sleep@c1 -> http://helloworld.sample:5000/hello" */
	char *what;           /* what went wrong, e.g. "reset", "503" */
};

struct mc_timeline {
	double start_unix;    /* epoch seconds of t = 0 */
	struct mc_timeline_point *points;
	size_t n_points;
	struct mc_timeline_mark *marks;
	size_t n_marks;
	struct mc_timeline_failure *failures;
	size_t n_failures;
	int64_t failures_dropped; /* failed requests not listed in failures */
};

/*
 * One run of a case's check when the case was run more than once (a case
 * that failed or errored is run again when retries are allowed).
 */
struct mc_attempt {
	enum mc_status status; /* the attempt's outcome, a negative control's already inverted */
	char *reason;          /* its reason; NULL for a plain pass */
	double duration;       /* seconds */
};

struct mc_case {
	char *name;
	char *check;          /* the check kind, e.g. "chain" */
	enum mc_status status;
	char *reason;         /* one line; why it failed, skipped or errored (NULL on a plain pass) */
	char *expected;       /* multi-line text, may be NULL */
	char *seen;           /* multi-line text, may be NULL */
	double start;         /* epoch seconds */
	double duration;      /* seconds */
	struct mc_measure *measures;
	size_t n_measures;
	struct mc_evidence *evidence;
	size_t n_evidence;
	struct mc_timeline *timeline; /* NULL when the case has none */
	/*
	 * Every attempt in order when the case ran more than once (n_attempts
	 * is 0 for a case run once); the outcome above is the last attempt's,
	 * except that a last attempt skipped leaves the case with the failure
	 * before it. flaky: the case passed, but only after a failed or
	 * errored attempt.
	 */
	bool flaky;
	struct mc_attempt *attempts;
	size_t n_attempts;
};

struct mc_suite {
	char *name;
	char *file;           /* the suite file it came from, may be NULL */
	double start;
	double duration;
	struct mc_case **cases;
	size_t n_cases;
	struct mc_property *props;
	size_t n_props;
};

struct mc_counts {
	size_t total, passed, failed, skipped, errors;
	size_t flaky; /* passed only after a failed attempt; counted in passed too */
};

struct mc_run {
	char *id;             /* unique run id */
	char *version;        /* meshcheck version */
	char *target;         /* "local", "kube" ... */
	char *hostname;
	double start;
	double end;
	char *aborted;        /* non-NULL when the run stopped early: why */
	struct mc_suite **suites;
	size_t n_suites;
	struct mc_property *props;
	size_t n_props;
};

struct mc_run *mc_run_new(const char *id, const char *target);
void mc_run_free(struct mc_run *run);
/* Records that the run stopped early; the reports show it as an error case. */
void mc_run_abort(struct mc_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mc_run_set_prop(struct mc_run *run, const char *name, const char *value);
/* Counts over every case of every suite. */
struct mc_counts mc_run_counts(const struct mc_run *run);
/* 0 when every case passed or skipped, 1 when any failed or errored, 2 when the run aborted. */
int mc_run_exit_code(const struct mc_run *run);

struct mc_suite *mc_run_add_suite(struct mc_run *run, const char *name, const char *file);
void mc_suite_set_prop(struct mc_suite *suite, const char *name, const char *value);
struct mc_counts mc_suite_counts(const struct mc_suite *suite);

/* Adds a case in state ERROR ("not run") with its start time set to now. */
struct mc_case *mc_suite_add_case(struct mc_suite *suite, const char *name, const char *check);
/* Sets the outcome; reason is printf-style, may be NULL for a pass. */
void mc_case_set(struct mc_case *c, enum mc_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mc_case_set_expected(struct mc_case *c, const char *text);
void mc_case_set_seen(struct mc_case *c, const char *text);
void mc_case_add_measure(struct mc_case *c, const char *name, double value, const char *unit);
void mc_case_add_evidence(struct mc_case *c, const char *label, const char *path);
/*
 * Copies tl (deep: arrays and strings) into the case, replacing any earlier
 * one; tl NULL removes it. The caller keeps ownership of tl. NULL strings
 * stay NULL (the reports write them as empty text).
 */
void mc_case_set_timeline(struct mc_case *c, const struct mc_timeline *tl);
/* Appends an attempt (reason copied, may be NULL). */
void mc_case_add_attempt(struct mc_case *c, enum mc_status status, const char *reason, double duration);
/* Removes the attempts and the flaky flag. */
void mc_case_clear_attempts(struct mc_case *c);
/*
 * Forgets what a run of the check left in the case, before it runs again:
 * reason, expected, seen, measurements, evidence and timeline go, and the
 * case is back to ERROR "not run". Name, check, start, duration and the
 * attempts stay.
 */
void mc_case_clear_outcome(struct mc_case *c);

#endif
