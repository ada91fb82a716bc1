/*
 * The results model (see results.h).
 */
#include "results.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

const char *
mc_status_name(enum mc_status s)
{
	switch (s) {
	case MC_RESULT_PASS: return "pass";
	case MC_RESULT_FAIL: return "fail";
	case MC_RESULT_SKIP: return "skip";
	case MC_RESULT_ERROR: return "error";
	}
	return "error";
}

struct mc_run *
mc_run_new(const char *id, const char *target)
{
	struct mc_run *run = mc_xcalloc(1, sizeof(*run));
	char host[256];

	run->id = mc_xstrdup(id);
	run->target = mc_xstrdup(target);
	run->version = mc_xstrdup(MC_VERSION);
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	run->hostname = mc_xstrdup(host);
	run->start = mc_now();
	run->end = run->start;
	return run;
}

static void
props_free(struct mc_property *props, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(props[i].name);
		free(props[i].value);
	}
	free(props);
}

/* Sets name to value in a property list, replacing an earlier value. */
static void
props_set(struct mc_property **props, size_t *n, const char *name, const char *value)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*props)[i].name, name) == 0) {
			free((*props)[i].value);
			(*props)[i].value = mc_xstrdup(value != NULL ? value : "");
			return;
		}
	}
	*props = mc_xrealloc(*props, (*n + 1) * sizeof(**props));
	(*props)[*n].name = mc_xstrdup(name);
	(*props)[*n].value = mc_xstrdup(value != NULL ? value : "");
	(*n)++;
}

static void
timeline_free(struct mc_timeline *tl)
{
	if (tl == NULL)
		return;
	free(tl->points);
	for (size_t i = 0; i < tl->n_marks; i++)
		free(tl->marks[i].label);
	free(tl->marks);
	for (size_t i = 0; i < tl->n_failures; i++) {
		free(tl->failures[i].path);
		free(tl->failures[i].what);
	}
	free(tl->failures);
	free(tl);
}

/* Frees what one run of the check put in the case (see mc_case_clear_outcome). */
static void
outcome_free(struct mc_case *c)
{
	free(c->reason);
	c->reason = NULL;
	free(c->expected);
	c->expected = NULL;
	free(c->seen);
	c->seen = NULL;
	for (size_t i = 0; i < c->n_measures; i++) {
		free(c->measures[i].name);
		free(c->measures[i].unit);
	}
	free(c->measures);
	c->measures = NULL;
	c->n_measures = 0;
	for (size_t i = 0; i < c->n_evidence; i++) {
		free(c->evidence[i].label);
		free(c->evidence[i].path);
	}
	free(c->evidence);
	c->evidence = NULL;
	c->n_evidence = 0;
	timeline_free(c->timeline);
	c->timeline = NULL;
}

static void
case_free(struct mc_case *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->check);
	outcome_free(c);
	mc_case_clear_attempts(c);
	free(c);
}

static void
suite_free(struct mc_suite *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_cases; i++)
		case_free(s->cases[i]);
	free(s->cases);
	props_free(s->props, s->n_props);
	free(s->name);
	free(s->file);
	free(s);
}

void
mc_run_free(struct mc_run *run)
{
	if (run == NULL)
		return;
	for (size_t i = 0; i < run->n_suites; i++)
		suite_free(run->suites[i]);
	free(run->suites);
	props_free(run->props, run->n_props);
	free(run->id);
	free(run->version);
	free(run->target);
	free(run->hostname);
	free(run->aborted);
	free(run);
}

void
mc_run_abort(struct mc_run *run, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = mc_xvasprintf(fmt, ap);
	va_end(ap);
	/* The first reason is the one that matters; later ones are consequences. */
	if (run->aborted == NULL)
		run->aborted = s;
	else
		free(s);
}

void
mc_run_set_prop(struct mc_run *run, const char *name, const char *value)
{
	props_set(&run->props, &run->n_props, name, value);
}

static void
count_case(struct mc_counts *k, const struct mc_case *c)
{
	k->total++;
	switch (c->status) {
	case MC_RESULT_PASS:
		k->passed++;
		k->flaky += c->flaky;
		break;
	case MC_RESULT_FAIL: k->failed++; break;
	case MC_RESULT_SKIP: k->skipped++; break;
	case MC_RESULT_ERROR: k->errors++; break;
	}
}

struct mc_counts
mc_suite_counts(const struct mc_suite *suite)
{
	struct mc_counts k = {0};

	for (size_t i = 0; i < suite->n_cases; i++)
		count_case(&k, suite->cases[i]);
	return k;
}

struct mc_counts
mc_run_counts(const struct mc_run *run)
{
	struct mc_counts k = {0};

	for (size_t i = 0; i < run->n_suites; i++)
		for (size_t j = 0; j < run->suites[i]->n_cases; j++)
			count_case(&k, run->suites[i]->cases[j]);
	return k;
}

int
mc_run_exit_code(const struct mc_run *run)
{
	struct mc_counts k = mc_run_counts(run);

	if (run->aborted != NULL)
		return 2;
	return (k.failed > 0 || k.errors > 0) ? 1 : 0;
}

struct mc_suite *
mc_run_add_suite(struct mc_run *run, const char *name, const char *file)
{
	struct mc_suite *s = mc_xcalloc(1, sizeof(*s));

	s->name = mc_xstrdup(name);
	s->file = mc_xstrdup(file);
	s->start = mc_now();
	run->suites = mc_xrealloc(run->suites, (run->n_suites + 1) * sizeof(*run->suites));
	run->suites[run->n_suites++] = s;
	return s;
}

void
mc_suite_set_prop(struct mc_suite *suite, const char *name, const char *value)
{
	props_set(&suite->props, &suite->n_props, name, value);
}

struct mc_case *
mc_suite_add_case(struct mc_suite *suite, const char *name, const char *check)
{
	struct mc_case *c = mc_xcalloc(1, sizeof(*c));

	c->name = mc_xstrdup(name);
	c->check = mc_xstrdup(check);
	c->status = MC_RESULT_ERROR;
	c->reason = mc_xstrdup("not run");
	c->start = mc_now();
	suite->cases = mc_xrealloc(suite->cases, (suite->n_cases + 1) * sizeof(*suite->cases));
	suite->cases[suite->n_cases++] = c;
	return c;
}

void
mc_case_set(struct mc_case *c, enum mc_status status, const char *fmt, ...)
{
	va_list ap;

	c->status = status;
	free(c->reason);
	c->reason = NULL;
	if (fmt != NULL) {
		va_start(ap, fmt);
		c->reason = mc_xvasprintf(fmt, ap);
		va_end(ap);
	}
}

void
mc_case_set_expected(struct mc_case *c, const char *text)
{
	free(c->expected);
	c->expected = mc_xstrdup(text);
}

void
mc_case_set_seen(struct mc_case *c, const char *text)
{
	free(c->seen);
	c->seen = mc_xstrdup(text);
}

void
mc_case_add_measure(struct mc_case *c, const char *name, double value, const char *unit)
{
	c->measures = mc_xrealloc(c->measures, (c->n_measures + 1) * sizeof(*c->measures));
	c->measures[c->n_measures].name = mc_xstrdup(name);
	c->measures[c->n_measures].value = value;
	c->measures[c->n_measures].unit = mc_xstrdup(unit);
	c->n_measures++;
}

void
mc_case_add_evidence(struct mc_case *c, const char *label, const char *path)
{
	c->evidence = mc_xrealloc(c->evidence, (c->n_evidence + 1) * sizeof(*c->evidence));
	c->evidence[c->n_evidence].label = mc_xstrdup(label);
	c->evidence[c->n_evidence].path = mc_xstrdup(path);
	c->n_evidence++;
}

void
mc_case_set_timeline(struct mc_case *c, const struct mc_timeline *tl)
{
	struct mc_timeline *copy = NULL;

	if (tl != NULL) {
		copy = mc_xcalloc(1, sizeof(*copy));
		copy->start_unix = tl->start_unix;
		copy->failures_dropped = tl->failures_dropped;
		if (tl->points != NULL && tl->n_points > 0) {
			copy->points = mc_xcalloc(tl->n_points, sizeof(*copy->points));
			memcpy(copy->points, tl->points, tl->n_points * sizeof(*copy->points));
			copy->n_points = tl->n_points;
		}
		if (tl->marks != NULL && tl->n_marks > 0) {
			copy->marks = mc_xcalloc(tl->n_marks, sizeof(*copy->marks));
			for (size_t i = 0; i < tl->n_marks; i++) {
				copy->marks[i].t = tl->marks[i].t;
				copy->marks[i].label = mc_xstrdup(tl->marks[i].label);
			}
			copy->n_marks = tl->n_marks;
		}
		if (tl->failures != NULL && tl->n_failures > 0) {
			copy->failures = mc_xcalloc(tl->n_failures, sizeof(*copy->failures));
			for (size_t i = 0; i < tl->n_failures; i++) {
				copy->failures[i].t = tl->failures[i].t;
				copy->failures[i].path = mc_xstrdup(tl->failures[i].path);
				copy->failures[i].what = mc_xstrdup(tl->failures[i].what);
			}
			copy->n_failures = tl->n_failures;
		}
	}
	/* Copied before the old one goes, so tl may point into the case's own timeline. */
	timeline_free(c->timeline);
	c->timeline = copy;
}

void
mc_case_add_attempt(struct mc_case *c, enum mc_status status, const char *reason, double duration)
{
	struct mc_attempt *a;

	c->attempts = mc_xrealloc(c->attempts, (c->n_attempts + 1) * sizeof(*c->attempts));
	a = &c->attempts[c->n_attempts++];
	a->status = status;
	a->reason = reason != NULL ? mc_xstrdup(reason) : NULL;
	a->duration = duration;
}

void
mc_case_clear_attempts(struct mc_case *c)
{
	for (size_t i = 0; i < c->n_attempts; i++)
		free(c->attempts[i].reason);
	free(c->attempts);
	c->attempts = NULL;
	c->n_attempts = 0;
	c->flaky = false;
}

void
mc_case_clear_outcome(struct mc_case *c)
{
	outcome_free(c);
	c->status = MC_RESULT_ERROR;
	c->reason = mc_xstrdup("not run");
}
