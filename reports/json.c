/*
 * The JSON report: the results model as data (schema meshcheck.report/1,
 * documented in README.md). Other tools read this file; keep it stable.
 *
 * A run that stopped early keeps its suites as they ran; run.aborted holds
 * why (null otherwise), and the top-level summary counts the abort as one
 * more case in state error (see mc_report_counts), like the extra
 * "meshcheck" testsuite of the JUnit report. Suite summaries count only
 * their own cases, so the top-level total is their sum plus one.
 *
 * Strings are made valid UTF-8 first (bytes that are not become "\xNN"),
 * since a JSON text must be UTF-8; everything else, control characters
 * included, is carried exactly.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

/* Adds key: v, both made valid UTF-8 first (cJSON copies bytes as they are). */
static void
add_str(cJSON *o, const char *key, const char *v)
{
	char *k = mc_utf8_sanitize(key);
	char *s = mc_utf8_sanitize(v);

	cJSON_AddStringToObject(o, k, s);
	free(k);
	free(s);
}

/* Adds key: t as ISO 8601 UTC text. */
static void
add_time(cJSON *o, const char *key, double t)
{
	char buf[32];

	mc_time_iso8601(t, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

/*
 * Adds key: t for a duration in seconds, rounded to the millisecond (a
 * difference of two epoch times carries float noise in its last digits).
 * NaN and infinities come out as null, as cJSON writes them.
 */
static void
add_secs(cJSON *o, const char *key, double t)
{
	cJSON_AddNumberToObject(o, key, isfinite(t) ? round(t * 1000.0) / 1000.0 : t);
}

/* Adds key: v, or key: null when v is NULL. */
static void
add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		add_str(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

/* Returns a new {total, passed, failed, skipped, errors, flaky} object (flaky cases are in passed too). */
static cJSON *
counts_json(struct mc_counts k)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total", (double)k.total);
	cJSON_AddNumberToObject(o, "passed", (double)k.passed);
	cJSON_AddNumberToObject(o, "failed", (double)k.failed);
	cJSON_AddNumberToObject(o, "skipped", (double)k.skipped);
	cJSON_AddNumberToObject(o, "errors", (double)k.errors);
	cJSON_AddNumberToObject(o, "flaky", (double)k.flaky);
	return o;
}

/* Returns a new object of the properties, name: value, in order. */
static cJSON *
props_json(const struct mc_property *props, size_t n)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < n; i++)
		add_str(o, props[i].name, props[i].value);
	return o;
}

/*
 * Adds key: v rounded to six decimals (a microsecond for times in seconds),
 * which drops float noise from sums; NaN and infinities as null.
 */
static void
add_fine(cJSON *o, const char *key, double v)
{
	cJSON_AddNumberToObject(o, key, isfinite(v) ? round(v * 1e6) / 1e6 : v);
}

/*
 * Returns a new object for a case's timeline: its start as ISO 8601 text,
 * then points, marks and listed failures, each in the timeline's order, and
 * how many failures were not listed.
 */
static cJSON *
timeline_json(const struct mc_timeline *tl)
{
	cJSON *o = cJSON_CreateObject(), *a;

	add_time(o, "start", isfinite(tl->start_unix) ? tl->start_unix : 0);
	a = cJSON_AddArrayToObject(o, "points");
	for (size_t i = 0; i < tl->n_points; i++) {
		const struct mc_timeline_point *p = &tl->points[i];
		cJSON *e = cJSON_CreateObject();

		add_fine(e, "t", p->t);
		cJSON_AddNumberToObject(e, "sent", (double)p->sent);
		cJSON_AddNumberToObject(e, "ok", (double)p->ok);
		cJSON_AddNumberToObject(e, "failed", (double)p->failed);
		add_fine(e, "p99_ms", p->p99_ms);
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(o, "marks");
	for (size_t i = 0; i < tl->n_marks; i++) {
		cJSON *e = cJSON_CreateObject();

		add_fine(e, "t", tl->marks[i].t);
		add_str(e, "label", tl->marks[i].label);
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(o, "failures");
	for (size_t i = 0; i < tl->n_failures; i++) {
		cJSON *e = cJSON_CreateObject();

		add_fine(e, "t", tl->failures[i].t);
		add_str(e, "path", tl->failures[i].path);
		add_str(e, "what", tl->failures[i].what);
		cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "failures_dropped", (double)tl->failures_dropped);
	return o;
}

/*
 * Returns a new object for one case: its outcome, whether it was flaky,
 * reason, expected and seen text (null when absent), timing, measurements,
 * evidence and, when the case has them, its attempts and its timeline.
 */
static cJSON *
case_json(const struct mc_case *c)
{
	cJSON *o = cJSON_CreateObject(), *a;

	add_str(o, "name", c->name);
	add_str(o, "check", c->check != NULL ? c->check : "");
	cJSON_AddStringToObject(o, "status", mc_status_name(c->status));
	cJSON_AddBoolToObject(o, "flaky", c->flaky);
	add_str_or_null(o, "reason", c->reason);
	add_str_or_null(o, "expected", c->expected);
	add_str_or_null(o, "seen", c->seen);
	add_time(o, "start", c->start);
	add_secs(o, "duration_s", c->duration);
	a = cJSON_AddArrayToObject(o, "measurements");
	for (size_t i = 0; i < c->n_measures; i++) {
		cJSON *m = cJSON_CreateObject();

		add_str(m, "name", c->measures[i].name);
		cJSON_AddNumberToObject(m, "value", c->measures[i].value);
		add_str_or_null(m, "unit", c->measures[i].unit);
		cJSON_AddItemToArray(a, m);
	}
	a = cJSON_AddArrayToObject(o, "evidence");
	for (size_t i = 0; i < c->n_evidence; i++) {
		cJSON *e = cJSON_CreateObject();

		add_str(e, "label", c->evidence[i].label);
		add_str(e, "path", c->evidence[i].path);
		cJSON_AddItemToArray(a, e);
	}
	if (c->n_attempts > 0) {
		a = cJSON_AddArrayToObject(o, "attempts");
		for (size_t i = 0; i < c->n_attempts; i++) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "status", mc_status_name(c->attempts[i].status));
			add_str_or_null(e, "reason", c->attempts[i].reason);
			add_secs(e, "duration_s", c->attempts[i].duration);
			cJSON_AddItemToArray(a, e);
		}
	}
	if (c->timeline != NULL)
		cJSON_AddItemToObject(o, "timeline", timeline_json(c->timeline));
	return o;
}

/* Builds the whole report object (see the comment at the top and README.md). */
cJSON *
mc_report_json(const struct mc_run *run)
{
	cJSON *root = cJSON_CreateObject(), *r, *suites;

	cJSON_AddStringToObject(root, "schema", "meshcheck.report/1");
	r = cJSON_AddObjectToObject(root, "run");
	add_str(r, "id", run->id);
	add_str(r, "version", run->version);
	add_str(r, "target", run->target);
	add_str(r, "hostname", run->hostname);
	add_time(r, "start", run->start);
	add_time(r, "end", run->end);
	add_secs(r, "duration_s", run->end - run->start);
	add_str_or_null(r, "aborted", run->aborted);
	cJSON_AddItemToObject(r, "properties", props_json(run->props, run->n_props));
	cJSON_AddItemToObject(root, "summary", counts_json(mc_report_counts(run)));
	cJSON_AddNumberToObject(root, "exit_code", mc_run_exit_code(run));
	suites = cJSON_AddArrayToObject(root, "suites");
	for (size_t i = 0; i < run->n_suites; i++) {
		const struct mc_suite *s = run->suites[i];
		cJSON *so = cJSON_CreateObject(), *cases;

		add_str(so, "name", s->name);
		add_str_or_null(so, "file", s->file);
		add_time(so, "start", s->start);
		add_secs(so, "duration_s", s->duration);
		cJSON_AddItemToObject(so, "summary", counts_json(mc_suite_counts(s)));
		cJSON_AddItemToObject(so, "properties", props_json(s->props, s->n_props));
		cases = cJSON_AddArrayToObject(so, "cases");
		for (size_t j = 0; j < s->n_cases; j++)
			cJSON_AddItemToArray(cases, case_json(s->cases[j]));
		cJSON_AddItemToArray(suites, so);
	}
	return root;
}

/* Writes the model, pretty-printed and ending in a newline, to path atomically. */
int
mc_report_write_json(const struct mc_run *run, const char *path, char *err, size_t errlen)
{
	cJSON *j = mc_report_json(run);
	char *printed = cJSON_Print(j), *text;
	int rc;

	cJSON_Delete(j);
	if (printed == NULL)
		return mc_err(err, errlen, ENOMEM, "%s: cannot serialise the report", path);
	text = mc_xasprintf("%s\n", printed);
	cJSON_free(printed);
	rc = mc_file_write(path, text, strlen(text), 0644, err, errlen);
	free(text);
	return rc;
}
