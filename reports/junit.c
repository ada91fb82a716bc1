/*
 * The JUnit XML report, in the shape CI systems read (Jenkins, GitLab,
 * GitHub test reporters): testsuites > testsuite > testcase with failure,
 * error or skipped. A run that stopped early keeps the suites that ran and
 * gets one more testsuite, "meshcheck", whose single testcase "run" carries
 * an error (type "aborted") saying why, so a CI system shows the abort as a
 * failed test rather than a green run; the testsuites counts include it
 * (see mc_report_counts).
 *
 * A case run more than once is written as Maven Surefire writes reruns
 * (surefire-test-report-3.0.xsd), which Jenkins and other readers know:
 * a flaky case (passed after failed attempts) has no <failure> but one
 * <flakyFailure> (or <flakyError>, for an attempt that errored) per failed
 * attempt; a case that never passed has its <failure> (or <error>) for the
 * outcome it kept, the last attempt's, plus one <rerunFailure> (or
 * <rerunError>) per earlier attempt. Each of those carries message and
 * type attributes and its text in a <stackTrace> child, and they come in
 * the schema's order (failure, rerunFailure, flakyFailure, error,
 * rerunError, flakyError, system-out). Testsuite counts do not change: a
 * flaky case is a pass.
 *
 * Text is escaped rather than wrapped in CDATA, so "]]>" in a value needs
 * no special case. Attribute values are flattened to one line first.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

/* The longest one-line message attribute, in bytes before escaping. */
#define MESSAGE_MAX 500
/* The longest other attribute value (names, properties), in bytes before escaping. */
#define ATTR_MAX 4096
/* A timeline's summary in a failure body: at most this many failed spans, marks and failures ... */
#define TL_SPANS_MAX 10
#define TL_MARKS_MAX 10
#define TL_FAILURES_MAX 5
/* ... with a mark's label and a failure's path and what cut to these many bytes. */
#define TL_LABEL_MAX 80
#define TL_PATH_MAX 160
#define TL_WHAT_MAX 120
/* An attempt's reason in the list of attempts of a failure body, cut to this many bytes. */
#define ATTEMPT_REASON_MAX 300

/* Returns seconds fit for a time attribute: negative, NaN and infinite become 0. */
static double
secs(double t)
{
	return isfinite(t) && t > 0 ? t : 0.0;
}

/* Appends s escaped as XML text. */
static void
put_esc(struct mc_buf *b, const char *s)
{
	char *e = mc_xml_escape(s);

	mc_buf_puts(b, e);
	free(e);
}

/* Appends ` name="value"` with the value flattened to one line of at most max bytes and escaped. */
static void
put_attr_max(struct mc_buf *b, const char *name, const char *value, size_t max)
{
	char *line = mc_report_one_line(value, max);

	mc_buf_printf(b, " %s=\"", name);
	put_esc(b, line);
	mc_buf_puts(b, "\"");
	free(line);
}

/* Appends ` name="value"` for a name, property or type (see put_attr_max). */
static void
put_attr(struct mc_buf *b, const char *name, const char *value)
{
	put_attr_max(b, name, value, ATTR_MAX);
}

/* Appends the tests/failures/errors/skipped/time attributes of a testsuite(s) element. */
static void
put_counts(struct mc_buf *b, struct mc_counts k, double time)
{
	mc_buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
		      k.total, k.failed, k.errors, k.skipped, secs(time));
}

/* Appends one <property name= value=/> line. */
static void
put_property(struct mc_buf *b, const char *name, const char *value)
{
	mc_buf_puts(b, "      <property");
	put_attr(b, "name", name);
	put_attr(b, "value", value);
	mc_buf_puts(b, "/>\n");
}

/* Appends s flattened to one line of at most max bytes (plain text, escaped later with the rest). */
static void
put_line(struct mc_buf *t, const char *s, size_t max)
{
	char *line = mc_report_one_line(s, max);

	mc_buf_puts(t, line);
	free(line);
}

/*
 * Appends a short plain-text summary of a timeline, bounded in length
 * whatever the timeline holds:
 *
 *   timeline: 1200 sent, 37 failed in 30 s from 2025-01-01T10:00:00Z, p99 at most 12.5 ms
 *   failed seconds: t=12-14s: 37 failed, t=20s: 1 failed
 *   marks: action start t=10.0s, action end t=14.2s
 *   first failures:
 *     t=12.31s sleep@c1 -> http://helloworld.sample:5000/hello: reset
 *     and 35 more
 */
static void
put_timeline(struct mc_buf *t, const struct mc_timeline *tl)
{
	struct mc_timeline_totals k = mc_timeline_totals(tl);
	struct mc_failed_span *spans;
	size_t n_spans;
	int64_t more;
	char when[32], num[64];

	mc_time_iso8601(isfinite(tl->start_unix) ? tl->start_unix : 0, when, sizeof(when));
	mc_buf_printf(t, "\ntimeline: %lld sent, %lld failed in %zu s from %s", (long long)k.sent,
		      (long long)k.failed, tl->n_points, when);
	if (k.p99_max_ms > 0)
		mc_buf_printf(t, ", p99 at most %.1f ms", k.p99_max_ms);
	mc_buf_puts(t, "\n");
	spans = mc_timeline_failed_spans(tl, &n_spans);
	if (n_spans > 0) {
		mc_buf_puts(t, "failed seconds: ");
		for (size_t i = 0; i < n_spans && i < TL_SPANS_MAX; i++) {
			mc_timeline_fmt_span(&spans[i], num, sizeof(num));
			mc_buf_printf(t, "%s%s", i > 0 ? ", " : "", num);
		}
		if (n_spans > TL_SPANS_MAX)
			mc_buf_printf(t, ", and %zu more", n_spans - TL_SPANS_MAX);
		mc_buf_puts(t, "\n");
	}
	free(spans);
	if (tl->n_marks > 0) {
		mc_buf_puts(t, "marks: ");
		for (size_t i = 0; i < tl->n_marks && i < TL_MARKS_MAX; i++) {
			mc_timeline_fmt_t(tl->marks[i].t, 1, num, sizeof(num));
			if (i > 0)
				mc_buf_puts(t, ", ");
			put_line(t, tl->marks[i].label, TL_LABEL_MAX);
			mc_buf_printf(t, " t=%ss", num);
		}
		if (tl->n_marks > TL_MARKS_MAX)
			mc_buf_printf(t, ", and %zu more", tl->n_marks - TL_MARKS_MAX);
		mc_buf_puts(t, "\n");
	}
	if (tl->n_failures > 0) {
		mc_buf_puts(t, "first failures:\n");
		for (size_t i = 0; i < tl->n_failures && i < TL_FAILURES_MAX; i++) {
			mc_timeline_fmt_t(tl->failures[i].t, 2, num, sizeof(num));
			mc_buf_printf(t, "  t=%ss ", num);
			put_line(t, tl->failures[i].path, TL_PATH_MAX);
			mc_buf_puts(t, ": ");
			put_line(t, tl->failures[i].what, TL_WHAT_MAX);
			mc_buf_puts(t, "\n");
		}
	}
	more = (int64_t)(tl->n_failures > TL_FAILURES_MAX ? tl->n_failures - TL_FAILURES_MAX : 0) +
	       (tl->failures_dropped > 0 ? tl->failures_dropped : 0);
	if (more > 0 && tl->n_failures > 0)
		mc_buf_printf(t, "  and %lld more\n", (long long)more);
	else if (more > 0)
		mc_buf_printf(t, "failed requests not listed: %lld\n", (long long)more);
}

/*
 * Appends the text body of a failure or error: the reason, then what was
 * expected, what was seen, a summary of the timeline, the attempts and
 * where the evidence is, each part only when the case has it.
 */
static void
put_details(struct mc_buf *b, const struct mc_case *c)
{
	struct mc_buf t;

	mc_buf_init(&t, SIZE_MAX);
	mc_buf_printf(&t, "%s\n", c->reason != NULL ? c->reason : "");
	if (c->expected != NULL)
		mc_buf_printf(&t, "\nexpected:\n%s\n", c->expected);
	if (c->seen != NULL)
		mc_buf_printf(&t, "\nseen:\n%s\n", c->seen);
	if (c->timeline != NULL)
		put_timeline(&t, c->timeline);
	if (c->n_attempts > 0) {
		mc_buf_printf(&t, "\nattempts (%zu, none passed):\n", c->n_attempts);
		for (size_t i = 0; i < c->n_attempts; i++) {
			mc_buf_printf(&t, "  %zu. %s after %.3f s: ", i + 1, mc_status_name(c->attempts[i].status),
				      secs(c->attempts[i].duration));
			put_line(&t, c->attempts[i].reason, ATTEMPT_REASON_MAX);
			mc_buf_puts(&t, "\n");
		}
	}
	if (c->n_evidence > 0) {
		mc_buf_puts(&t, "\nevidence:\n");
		for (size_t i = 0; i < c->n_evidence; i++)
			mc_buf_printf(&t, "  %s: %s\n", c->evidence[i].label != NULL ? c->evidence[i].label : "",
				      c->evidence[i].path != NULL ? c->evidence[i].path : "");
	}
	put_esc(b, t.data);
	mc_buf_free(&t);
}

/*
 * Appends the system-out of a case: that it was flaky, its measurements,
 * and for a pass what was seen (a failure carries it in its body). Nothing
 * when there is none of these.
 */
static void
put_system_out(struct mc_buf *b, const struct mc_case *c)
{
	bool seen = c->status == MC_RESULT_PASS && c->seen != NULL;
	struct mc_buf t;

	if (c->n_measures == 0 && !seen && !c->flaky)
		return;
	mc_buf_init(&t, SIZE_MAX);
	mc_buf_append(&t, "", 0);
	if (c->flaky)
		mc_buf_printf(&t, "FLAKY: passed on attempt %zu, after %zu failed\n%s", c->n_attempts,
			      c->n_attempts > 0 ? c->n_attempts - 1 : 0, c->n_measures > 0 ? "\n" : "");
	for (size_t i = 0; i < c->n_measures; i++)
		mc_buf_printf(&t, "%s = %g%s%s\n", c->measures[i].name != NULL ? c->measures[i].name : "",
			      c->measures[i].value, c->measures[i].unit != NULL ? " " : "",
			      c->measures[i].unit != NULL ? c->measures[i].unit : "");
	if (seen)
		mc_buf_printf(&t, "%sseen:\n%s\n", t.len > 0 ? "\n" : "", c->seen);
	mc_buf_puts(b, "      <system-out>");
	put_esc(b, t.data);
	mc_buf_puts(b, "</system-out>\n");
	mc_buf_free(&t);
}

/*
 * Appends attempt i of a case (not its last) as a Surefire rerun element:
 * <tag message="reason" type="check"><stackTrace>text</stackTrace></tag>,
 * the text saying which attempt it was, its outcome, its duration and its
 * reason.
 */
static void
put_attempt(struct mc_buf *b, const char *tag, const struct mc_case *c, size_t i)
{
	const struct mc_attempt *a = &c->attempts[i];
	struct mc_buf t;

	mc_buf_printf(b, "      <%s", tag);
	put_attr_max(b, "message", a->reason, MESSAGE_MAX);
	put_attr(b, "type", c->check);
	mc_buf_puts(b, "><stackTrace>");
	mc_buf_init(&t, SIZE_MAX);
	mc_buf_printf(&t, "attempt %zu of %zu: %s after %.3f s\n%s\n", i + 1, c->n_attempts,
		      mc_status_name(a->status), secs(a->duration), a->reason != NULL ? a->reason : "");
	put_esc(b, t.data);
	mc_buf_free(&t);
	mc_buf_printf(b, "</stackTrace></%s>\n", tag);
}

/* Appends a tag element for each attempt before the last whose outcome is st. */
static void
put_attempts(struct mc_buf *b, const char *tag, const struct mc_case *c, enum mc_status st)
{
	for (size_t i = 0; i + 1 < c->n_attempts; i++)
		if (c->attempts[i].status == st)
			put_attempt(b, tag, c, i);
}

/* Appends the <failure> or <error> of a case (tag), with a one-line message, the check kind as type and the details. */
static void
put_outcome(struct mc_buf *b, const char *tag, const struct mc_case *c)
{
	mc_buf_printf(b, "      <%s", tag);
	put_attr_max(b, "message", c->reason, MESSAGE_MAX);
	put_attr(b, "type", c->check);
	mc_buf_puts(b, ">");
	put_details(b, c);
	mc_buf_printf(b, "</%s>\n", tag);
}

/*
 * Appends one testcase: a FAIL gets <failure>, an ERROR <error> (both with
 * a one-line message, the check kind as type and the details as body), a
 * SKIP <skipped message="reason"/>, a PASS nothing but its system-out;
 * earlier attempts as flaky or rerun elements (see the top of the file).
 */
static void
put_case(struct mc_buf *b, const struct mc_suite *s, const struct mc_case *c)
{
	mc_buf_puts(b, "    <testcase");
	put_attr(b, "classname", s->name);
	put_attr(b, "name", c->name);
	mc_buf_printf(b, " time=\"%.3f\">\n", secs(c->duration));
	switch (c->status) {
	case MC_RESULT_PASS:
		if (c->flaky) {
			put_attempts(b, "flakyFailure", c, MC_RESULT_FAIL);
			put_attempts(b, "flakyError", c, MC_RESULT_ERROR);
		}
		break;
	case MC_RESULT_FAIL:
		put_outcome(b, "failure", c);
		put_attempts(b, "rerunFailure", c, MC_RESULT_FAIL);
		put_attempts(b, "rerunError", c, MC_RESULT_ERROR);
		break;
	case MC_RESULT_ERROR:
		put_attempts(b, "rerunFailure", c, MC_RESULT_FAIL);
		put_outcome(b, "error", c);
		put_attempts(b, "rerunError", c, MC_RESULT_ERROR);
		break;
	case MC_RESULT_SKIP:
		mc_buf_puts(b, "      <skipped");
		put_attr_max(b, "message", c->reason, MESSAGE_MAX);
		mc_buf_puts(b, "/>\n");
		break;
	}
	put_system_out(b, c);
	mc_buf_puts(b, "    </testcase>\n");
}

/* Appends the run facts every testsuite carries as properties. */
static void
put_run_props(struct mc_buf *b, const struct mc_run *run)
{
	put_property(b, "meshcheck.run_id", run->id);
	put_property(b, "meshcheck.version", run->version);
	put_property(b, "meshcheck.target", run->target);
	for (size_t i = 0; i < run->n_props; i++)
		put_property(b, run->props[i].name, run->props[i].value);
}

/* Appends the opening <testsuite ...> tag, attributes only. */
static void
put_suite_open(struct mc_buf *b, const struct mc_run *run, const char *name, struct mc_counts k,
	       double time, double start, size_t id)
{
	char ts[32];

	mc_time_iso8601(start, ts, sizeof(ts));
	mc_buf_puts(b, "  <testsuite");
	put_attr(b, "name", name);
	put_counts(b, k, time);
	mc_buf_printf(b, " timestamp=\"%s\"", ts);
	put_attr(b, "hostname", run->hostname);
	mc_buf_printf(b, " id=\"%zu\">\n", id);
}

/* Appends the testsuite for one suite of the run, with its properties and cases. */
static void
put_suite(struct mc_buf *b, const struct mc_run *run, const struct mc_suite *s, size_t id)
{
	put_suite_open(b, run, s->name, mc_suite_counts(s), s->duration, s->start, id);
	mc_buf_puts(b, "    <properties>\n");
	put_run_props(b, run);
	if (s->file != NULL)
		put_property(b, "suite.file", s->file);
	for (size_t j = 0; j < s->n_props; j++)
		put_property(b, s->props[j].name, s->props[j].value);
	mc_buf_puts(b, "    </properties>\n");
	for (size_t j = 0; j < s->n_cases; j++)
		put_case(b, s, s->cases[j]);
	mc_buf_puts(b, "  </testsuite>\n");
}

/* Appends the testsuite "meshcheck" whose testcase "run" carries the abort as an error. */
static void
put_abort_suite(struct mc_buf *b, const struct mc_run *run)
{
	struct mc_counts one = {.total = 1, .errors = 1};

	put_suite_open(b, run, "meshcheck", one, 0, run->end, run->n_suites);
	mc_buf_puts(b, "    <properties>\n");
	put_run_props(b, run);
	mc_buf_puts(b, "    </properties>\n"
		       "    <testcase classname=\"meshcheck\" name=\"run\" time=\"0.000\">\n      <error");
	put_attr_max(b, "message", run->aborted, MESSAGE_MAX);
	mc_buf_puts(b, " type=\"aborted\">");
	put_esc(b, run->aborted);
	mc_buf_puts(b, "\n</error>\n    </testcase>\n  </testsuite>\n");
}

/* Returns the whole document (see the comment at the top); the caller frees it. */
char *
mc_report_junit_text(const struct mc_run *run)
{
	struct mc_buf b;
	char ts[32];

	/* No maximum: truncating would leave a document that is not well-formed. */
	mc_buf_init(&b, SIZE_MAX);
	mc_time_iso8601(run->start, ts, sizeof(ts));
	mc_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"meshcheck\"");
	put_counts(&b, mc_report_counts(run), run->end - run->start);
	mc_buf_printf(&b, " timestamp=\"%s\">\n", ts);
	for (size_t i = 0; i < run->n_suites; i++)
		put_suite(&b, run, run->suites[i], i);
	if (run->aborted != NULL)
		put_abort_suite(&b, run);
	mc_buf_puts(&b, "</testsuites>\n");
	return mc_buf_steal(&b);
}

/* Writes the document to path atomically. */
int
mc_report_write_junit(const struct mc_run *run, const char *path, char *err, size_t errlen)
{
	char *text = mc_report_junit_text(run);
	int rc = mc_file_write(path, text, strlen(text), 0644, err, errlen);

	free(text);
	return rc;
}
