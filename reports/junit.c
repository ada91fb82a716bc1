/*
 * The JUnit XML report, in the shape CI systems read (Jenkins, GitLab,
 * GitHub test reporters): testsuites > testsuite > testcase with failure,
 * error or skipped. A run that stopped early gets one more testsuite,
 * "meshcheck", whose single testcase "run" carries the error saying why, so
 * a CI system shows the abort as a failed test rather than a green run.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

#define MESSAGE_MAX 500

/* Appends an escaped value. */
static void
put_esc(struct mc_buf *b, const char *s)
{
	char *e = mc_xml_escape(s);

	mc_buf_puts(b, e);
	free(e);
}

/* Appends name="value" with the value flattened to one line and escaped. */
static void
put_attr(struct mc_buf *b, const char *name, const char *value)
{
	char *line = mc_report_one_line(value, 4096);

	mc_buf_printf(b, " %s=\"", name);
	put_esc(b, line);
	mc_buf_puts(b, "\"");
	free(line);
}

static void
put_counts(struct mc_buf *b, struct mc_counts k, double time)
{
	mc_buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
		      k.total, k.failed, k.errors, k.skipped, time < 0 ? 0.0 : time);
}

static void
put_property(struct mc_buf *b, const char *name, const char *value)
{
	mc_buf_puts(b, "      <property");
	put_attr(b, "name", name);
	put_attr(b, "value", value);
	mc_buf_puts(b, "/>\n");
}

/* The body of a failure or error: what was expected, seen, and where the evidence is. */
static void
put_details(struct mc_buf *b, const struct mc_case *c)
{
	struct mc_buf t;

	mc_buf_init(&t, 0);
	mc_buf_printf(&t, "%s\n", c->reason != NULL ? c->reason : "");
	if (c->expected != NULL)
		mc_buf_printf(&t, "\nexpected:\n%s\n", c->expected);
	if (c->seen != NULL)
		mc_buf_printf(&t, "\nseen:\n%s\n", c->seen);
	if (c->n_evidence > 0) {
		mc_buf_puts(&t, "\nevidence:\n");
		for (size_t i = 0; i < c->n_evidence; i++)
			mc_buf_printf(&t, "  %s: %s\n", c->evidence[i].label, c->evidence[i].path);
	}
	put_esc(b, t.data);
	mc_buf_free(&t);
}

static void
put_case(struct mc_buf *b, const struct mc_suite *s, const struct mc_case *c)
{
	char *msg = mc_report_one_line(c->reason, MESSAGE_MAX);

	mc_buf_puts(b, "    <testcase");
	put_attr(b, "classname", s->name);
	put_attr(b, "name", c->name);
	mc_buf_printf(b, " time=\"%.3f\">\n", c->duration);
	switch (c->status) {
	case MC_RESULT_PASS:
		break;
	case MC_RESULT_FAIL:
	case MC_RESULT_ERROR:
		mc_buf_printf(b, "      <%s", c->status == MC_RESULT_FAIL ? "failure" : "error");
		put_attr(b, "message", msg);
		put_attr(b, "type", c->check);
		mc_buf_puts(b, ">");
		put_details(b, c);
		mc_buf_printf(b, "</%s>\n", c->status == MC_RESULT_FAIL ? "failure" : "error");
		break;
	case MC_RESULT_SKIP:
		mc_buf_puts(b, "      <skipped");
		put_attr(b, "message", msg);
		mc_buf_puts(b, "/>\n");
		break;
	}
	if (c->n_measures > 0 || (c->status == MC_RESULT_PASS && c->seen != NULL)) {
		struct mc_buf t;

		mc_buf_init(&t, 0);
		for (size_t i = 0; i < c->n_measures; i++)
			mc_buf_printf(&t, "%s = %g%s%s\n", c->measures[i].name, c->measures[i].value,
				      c->measures[i].unit != NULL ? " " : "",
				      c->measures[i].unit != NULL ? c->measures[i].unit : "");
		if (c->status == MC_RESULT_PASS && c->seen != NULL)
			mc_buf_printf(&t, "%sseen:\n%s\n", t.len > 0 ? "\n" : "", c->seen);
		mc_buf_puts(b, "      <system-out>");
		put_esc(b, t.data);
		mc_buf_puts(b, "</system-out>\n");
		mc_buf_free(&t);
	}
	mc_buf_puts(b, "    </testcase>\n");
	free(msg);
}

static void
put_run_props(struct mc_buf *b, const struct mc_run *run)
{
	put_property(b, "meshcheck.run_id", run->id);
	put_property(b, "meshcheck.version", run->version);
	put_property(b, "meshcheck.target", run->target);
	for (size_t i = 0; i < run->n_props; i++)
		put_property(b, run->props[i].name, run->props[i].value);
}

char *
mc_report_junit_text(const struct mc_run *run)
{
	struct mc_buf b;
	struct mc_counts total = mc_run_counts(run);
	char ts[32];

	if (run->aborted != NULL) {
		total.total++;
		total.errors++;
	}
	mc_buf_init(&b, 0);
	mc_time_iso8601(run->start, ts, sizeof(ts));
	mc_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"meshcheck\"");
	put_counts(&b, total, run->end - run->start);
	mc_buf_printf(&b, " timestamp=\"%s\">\n", ts);
	for (size_t i = 0; i < run->n_suites; i++) {
		const struct mc_suite *s = run->suites[i];

		mc_time_iso8601(s->start, ts, sizeof(ts));
		mc_buf_puts(&b, "  <testsuite");
		put_attr(&b, "name", s->name);
		put_counts(&b, mc_suite_counts(s), s->duration);
		mc_buf_printf(&b, " timestamp=\"%s\"", ts);
		put_attr(&b, "hostname", run->hostname);
		mc_buf_printf(&b, " id=\"%zu\">\n    <properties>\n", i);
		put_run_props(&b, run);
		if (s->file != NULL)
			put_property(&b, "suite.file", s->file);
		for (size_t j = 0; j < s->n_props; j++)
			put_property(&b, s->props[j].name, s->props[j].value);
		mc_buf_puts(&b, "    </properties>\n");
		for (size_t j = 0; j < s->n_cases; j++)
			put_case(&b, s, s->cases[j]);
		mc_buf_puts(&b, "  </testsuite>\n");
	}
	if (run->aborted != NULL) {
		struct mc_counts one = {.total = 1, .errors = 1};
		char *msg = mc_report_one_line(run->aborted, MESSAGE_MAX);

		mc_time_iso8601(run->end, ts, sizeof(ts));
		mc_buf_puts(&b, "  <testsuite name=\"meshcheck\"");
		put_counts(&b, one, 0);
		mc_buf_printf(&b, " timestamp=\"%s\"", ts);
		put_attr(&b, "hostname", run->hostname);
		mc_buf_printf(&b, " id=\"%zu\">\n    <properties>\n", run->n_suites);
		put_run_props(&b, run);
		mc_buf_puts(&b, "    </properties>\n"
				"    <testcase classname=\"meshcheck\" name=\"run\" time=\"0.000\">\n      <error");
		put_attr(&b, "message", msg);
		mc_buf_puts(&b, " type=\"aborted\">");
		put_esc(&b, run->aborted);
		mc_buf_puts(&b, "\n</error>\n    </testcase>\n  </testsuite>\n");
		free(msg);
	}
	mc_buf_puts(&b, "</testsuites>\n");
	return mc_buf_steal(&b);
}

int
mc_report_write_junit(const struct mc_run *run, const char *path, char *err, size_t errlen)
{
	char *text = mc_report_junit_text(run);
	int rc = mc_file_write(path, text, strlen(text), 0644, err, errlen);

	free(text);
	return rc;
}
