/*
 * Report writers. Each writes one file from the results model and nothing
 * else; each returns 0 or a negative errno with a message in err.
 * Files are written atomically (a temporary file renamed into place), so a
 * reader never sees half a report.
 */
#ifndef MC_REPORT_H
#define MC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "results.h"

/*
 * The counts every report shows for the whole run: mc_run_counts() over the
 * cases that ran, plus, when the run aborted, one more case in state error
 * (the abort itself). So an aborted run is never "0 failed, 0 errors":
 * JSON's summary, JUnit's testsuites element and the HTML summary all agree.
 */
struct mc_counts mc_report_counts(const struct mc_run *run);

/* Returns sum + v for counts of a timeline: v below zero counts as zero, and the sum stops at INT64_MAX. */
int64_t mc_timeline_add(int64_t sum, int64_t v);
/* Sums over a case's timeline (counts below zero count as zero). */
struct mc_timeline_totals {
	int64_t sent, ok, failed;
	size_t failed_seconds;  /* points with at least one failed request */
	double p99_max_ms;      /* the highest p99 of a point that has one, else 0 */
};
struct mc_timeline_totals mc_timeline_totals(const struct mc_timeline *tl);

/* A run of neighbouring seconds (points one second apart) with failed requests. */
struct mc_failed_span {
	double from, to;        /* t of its first and last second */
	int64_t failed;         /* failed requests in them */
};
/* The spans of tl in the order of its points, their number in *n (caller frees; NULL when none). */
struct mc_failed_span *mc_timeline_failed_spans(const struct mc_timeline *tl, size_t *n);
/* True when the point has requests that finished and a finite p99 to show. */
bool mc_timeline_point_has_p99(const struct mc_timeline_point *p);
/* The t of point i, or i when its t is not finite. */
double mc_timeline_point_t(const struct mc_timeline *tl, size_t i);
/*
 * Writes t (seconds) with decimals digits after the point; with decimals
 * below zero, "12" for a whole second and "12.5" otherwise. "?" when t is
 * not finite.
 */
void mc_timeline_fmt_t(double t, int decimals, char *out, size_t outlen);
/* Writes a span as "t=12-14s: 37 failed" (or "t=12s: 3 failed" for one second). */
void mc_timeline_fmt_span(const struct mc_failed_span *s, char *out, size_t outlen);

/* The JSON serialisation of the model (documented in README.md). Caller frees with cJSON_Delete. */
cJSON *mc_report_json(const struct mc_run *run);

int mc_report_write_json(const struct mc_run *run, const char *path, char *err, size_t errlen);
/* The JUnit XML text (caller frees); mc_report_write_junit writes it. */
char *mc_report_junit_text(const struct mc_run *run);
int mc_report_write_junit(const struct mc_run *run, const char *path, char *err, size_t errlen);
/* The HTML text (caller frees); mc_report_write_html writes it. */
char *mc_report_html_text(const struct mc_run *run);
int mc_report_write_html(const struct mc_run *run, const char *path, char *err, size_t errlen);
/* The same with an extra section (HTML the caller wrote and escaped) after the run's facts. */
char *mc_report_html_text_with(const struct mc_run *run, const char *section);
int mc_report_write_html_with(const struct mc_run *run, const char *path, const char *section, char *err,
			      size_t errlen);
/* A policy matrix suite (policy cases named "SOURCE -> DESTINATION") as a grid; nothing for other suites. */
struct mc_suite;
struct mc_buf;
bool mc_html_is_matrix(const struct mc_suite *s);
void mc_html_matrix(struct mc_buf *b, const struct mc_suite *s);

/*
 * Escaping used by the writers, exported for tests. Both return a new string
 * the caller frees (NULL in gives ""). Both escape & < > and both quote
 * characters, and replace what XML 1.0 forbids or what is not valid UTF-8
 * (C0 controls other than tab, newline and CR; DEL; U+FFFE/U+FFFF;
 * surrogates; overlong or broken sequences) by the visible text "\xNN", one
 * per byte, so nothing is lost and the document stays well-formed.
 */
char *mc_xml_escape(const char *s);
char *mc_html_escape(const char *s);

/*
 * Collapses whitespace (newlines, tabs, runs of spaces) into single spaces
 * and cuts at about max bytes (adding "..."), for one-line messages. The
 * cut never falls inside a well-formed UTF-8 character. Caller frees.
 */
char *mc_report_one_line(const char *s, size_t max);

/*
 * Replaces bytes that are not well-formed UTF-8 (and U+FFFE/U+FFFF,
 * surrogates) by the text "\xNN"; everything else, control characters
 * included, is kept. For JSON, which must be valid UTF-8. Caller frees.
 */
char *mc_utf8_sanitize(const char *s);

#endif
