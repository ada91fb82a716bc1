/*
 * Tests of the run-to-run diff: two report.json files written by the real
 * JSON writer from runs built with the results API (a "good" run and one
 * with a broken policy row, a moved share, a doubled p99, a case added and
 * one removed) must differ in exactly those things; then the terminal,
 * JSON, HTML and JUnit forms; the reading of policy rows from the seen and
 * expected texts; and `meshcheck diff` through the built binary (MESHCHECK)
 * with its exit codes and its errors for bad input.
 */
#include <errno.h>
#include <math.h>

#include <cjson/cJSON.h>

#include "diff.h"
#include "report.h"
#include "testutil.h"

static const char *bin;

/* One row of a policy case, as check_policy.c reports it. */
struct prow {
	const char *name;
	const char *host;
	const char *expect;     /* the expected outcome */
	const char *seen;       /* the outcome seen; NULL when the row could not be sent */
	const char *body;       /* the body pattern, or NULL */
	const char *error;      /* why the row could not be sent */
};

/*
 * Fills a policy case from its rows with the texts, measurements and
 * verdict check_policy.c gives it (same formats, body pattern included).
 */
static void
set_policy(struct mc_case *c, const struct prow *rows, size_t n)
{
	struct mc_buf expected, seen, why;
	size_t bad = 0, errors = 0;

	mc_buf_init(&expected, 0);
	mc_buf_init(&seen, 0);
	mc_buf_init(&why, 0);
	mc_buf_puts(&expected, "");
	mc_buf_puts(&seen, "");
	mc_buf_puts(&why, "");
	for (size_t i = 0; i < n; i++) {
		const struct prow *r = &rows[i];
		bool ok;

		if (r->seen == NULL) {
			errors++;
			mc_buf_printf(&seen, "%-28s error: %s\n", r->name, r->error);
			if (why.len == 0)
				mc_buf_printf(&why, "%s: %s", r->name, r->error);
			continue;
		}
		ok = strcmp(r->expect, r->seen) == 0;
		mc_buf_printf(&expected, "%-28s %s %s%s%s%s -> %s%s%s\n", r->name, "GET",
			      "ingress@c1:nip (http://127.11.7.240:8081/)", r->host != NULL ? " Host: " : "",
			      r->host != NULL ? r->host : "", " (no client certificate)", r->expect,
			      r->body != NULL ? " body /" : "", r->body != NULL ? r->body : "");
		if (r->body != NULL)
			mc_buf_puts(&expected, "/");
		mc_buf_printf(&seen, "%-28s %s %s\n", r->name, r->seen, ok ? "ok" : "DIFFERS");
		if (!ok) {
			bad++;
			mc_buf_printf(&why, "%s%s: expected %s, saw %s", why.len > 0 ? "; " : "", r->name, r->expect,
				      r->seen);
		}
	}
	mc_case_add_measure(c, "rows", (double)n, NULL);
	mc_case_add_measure(c, "rows_differing", (double)bad, NULL);
	mc_case_add_evidence(c, "every row: request, expected and seen outcome", "evidence/x/matrix.json");
	if (errors > 0)
		mc_case_set(c, MC_RESULT_ERROR, "%zu of %zu row(s) could not be sent: %s", errors, n, why.data);
	else if (bad > 0)
		mc_case_set(c, MC_RESULT_FAIL, "%zu of %zu row(s) differ: %s", bad, n, why.data);
	else
		mc_case_set(c, MC_RESULT_PASS, NULL);
	mc_case_set_expected(c, expected.data);
	mc_case_set_seen(c, seen.data);
	mc_buf_free(&expected);
	mc_buf_free(&seen);
	mc_buf_free(&why);
}

/* A distribution case's measurements as check_distribution.c writes them. */
static void
set_split(struct mc_case *c, double v1)
{
	mc_case_add_measure(c, "requests", 632, NULL);
	mc_case_add_measure(c, "p_value", 0.8, NULL);
	mc_case_add_measure(c, "max_difference", fabs(v1 - 50), "%");
	mc_case_add_measure(c, "share v1", v1, "%");
	mc_case_add_measure(c, "share v2", 100 - v1, "%");
	mc_case_set(c, MC_RESULT_PASS, NULL);
}

/* A load case's measurements as check_load.c writes them. */
static void
set_load(struct mc_case *c, double p50, double p99, double error_rate)
{
	mc_case_add_measure(c, "requests", 400, NULL);
	mc_case_add_measure(c, "rate", 199.6, "req/s");
	mc_case_add_measure(c, "error_rate", error_rate, "%");
	mc_case_add_measure(c, "p50", p50, "ms");
	mc_case_add_measure(c, "p90", 2.5, "ms");
	mc_case_add_measure(c, "p99", p99, "ms");
	mc_case_add_measure(c, "max", 12.0, "ms");
	mc_case_set(c, MC_RESULT_PASS, NULL);
}

static void
set_reach(struct mc_case *c, double total_ms)
{
	mc_case_add_measure(c, "total", total_ms, "ms");
	mc_case_add_measure(c, "status", 200, NULL);
	mc_case_set(c, MC_RESULT_PASS, NULL);
}

/*
 * The runs compared: broken = false is the good run; broken = true has the
 * policy row "other host denied" answering 200 instead of 403 (case pass ->
 * fail), share v1 at 70% instead of 50%, p99 doubled, the case "old probe"
 * gone and the case "new probe" added. Below the tolerance and so not
 * listed: p50 up 5%, the error rate up 0.5 points, the probe's total up 8%.
 */
static struct mc_run *
make_run(bool broken)
{
	static const struct prow good_rows[] = {
		{"get allowed", "httpbin.example.com", "200", "200", NULL, NULL},
		{"other host denied", "other.example.com", "403", "403", "^RBAC: access denied$", NULL},
		{"nip.io host allowed, no route", "10.20.30.40.nip.io", "404", "404", "^$", NULL},
		{"no client certificate", NULL, "reset", "reset", NULL, NULL},
	};
	static const struct prow broken_rows[] = {
		{"get allowed", "httpbin.example.com", "200", "200", NULL, NULL},
		{"other host denied", "other.example.com", "403", "200", "^RBAC: access denied$", NULL},
		{"nip.io host allowed, no route", "10.20.30.40.nip.io", "404", "404", "^$", NULL},
		{"no client certificate", NULL, "reset", "reset", NULL, NULL},
	};
	struct mc_run *run = mc_run_new(broken ? "run-broken" : "run-good", "local");
	struct mc_suite *su = mc_run_add_suite(run, "mesh", "suites/mesh.json");
	struct mc_case *c;

	c = mc_suite_add_case(su, "probe", "reach");
	set_reach(c, broken ? 10.8 : 10.0);
	if (!broken) {
		c = mc_suite_add_case(su, "old probe", "reach");
		set_reach(c, 3.0);
	}
	c = mc_suite_add_case(su, "gateway policy", "policy");
	set_policy(c, broken ? broken_rows : good_rows, 4);
	c = mc_suite_add_case(su, "split", "distribution");
	set_split(c, broken ? 70 : 50);
	c = mc_suite_add_case(su, "load", "load");
	set_load(c, broken ? 1.05 : 1.0, broken ? 10.0 : 5.0, broken ? 0.5 : 0.0);
	c = mc_suite_add_case(su, "skipped capture", "wire");
	mc_case_set(c, MC_RESULT_SKIP, "capturing needs root");
	if (broken) {
		c = mc_suite_add_case(su, "new probe", "reach");
		set_reach(c, 4.0);
	}
	run->end = run->start + 3;
	return run;
}

/* A temporary folder with good/report.json and broken/report.json written by the real writer. */
struct pair {
	char *dir, *good, *broken;
};

static struct pair
pair_new(void)
{
	struct pair p;
	char err[MC_ERRLEN] = "";
	char *sub;

	p.dir = t_tmpdir();
	for (int i = 0; i < 2; i++) {
		struct mc_run *run = make_run(i == 1);

		sub = mc_xasprintf("%s/%s", p.dir, i == 1 ? "broken" : "good");
		ck_assert_int_eq(mc_mkdir_p(sub, 0755, NULL, 0), 0);
		free(sub);
		sub = mc_xasprintf("%s/%s/report.json", p.dir, i == 1 ? "broken" : "good");
		ck_assert_msg(mc_report_write_json(run, sub, err, sizeof(err)) == 0, "%s", err);
		if (i == 1)
			p.broken = sub;
		else
			p.good = sub;
		mc_run_free(run);
	}
	return p;
}

static void
pair_free(struct pair *p)
{
	ck_assert_int_eq(mc_rm_rf(p->dir), 0);
	free(p->dir);
	free(p->good);
	free(p->broken);
}

static cJSON *
load(const char *path)
{
	char err[MC_ERRLEN] = "";
	cJSON *j = NULL;

	ck_assert_msg(mc_diff_load(path, &j, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(j);
	return j;
}

/* Computes the diff of two report files. */
static void
diff_files(const char *a, const char *b, double tol, struct mc_diff *d)
{
	cJSON *ja = load(a), *jb = load(b);

	ck_assert_int_eq(mc_diff_compute(ja, jb, tol, d), 0);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
}

static const struct mc_diff_measure *
find_measure(const struct mc_diff *d, const char *cas, const char *name)
{
	for (size_t i = 0; i < d->n_measures; i++)
		if (strcmp(d->measures[i].name, cas) == 0 && strcmp(d->measures[i].measure, name) == 0)
			return &d->measures[i];
	ck_abort_msg("measurement %s/%s not in the diff", cas, name);
	return NULL;
}

static void
expect_measure(const struct mc_diff *d, const char *cas, const char *name, const char *unit, double old_v,
	       double new_v)
{
	const struct mc_diff_measure *m = find_measure(d, cas, name);

	ck_assert_str_eq(m->suite, "mesh");
	ck_assert_str_eq(m->unit, unit);
	ck_assert_double_eq_tol(m->old_value, old_v, 1e-9);
	ck_assert_double_eq_tol(m->new_value, new_v, 1e-9);
	ck_assert_double_eq_tol(m->delta, new_v - old_v, 1e-9);
}

/* The diff of good -> broken lists exactly what was broken, and nothing else. */
START_TEST(diff_lists_exactly_the_changes)
{
	struct pair p = pair_new();
	struct mc_diff d;

	diff_files(p.good, p.broken, 10, &d);
	ck_assert_str_eq(d.old_id, "run-good");
	ck_assert_str_eq(d.new_id, "run-broken");
	ck_assert_double_eq(d.tolerance_pct, 10);

	/* Cases: the policy regressed, one added, one removed; nothing else changed verdict. */
	ck_assert_uint_eq(d.n_cases, 3);
	ck_assert_uint_eq(d.n_regressed, 1);
	ck_assert_uint_eq(d.n_fixed, 0);
	ck_assert_uint_eq(d.n_other, 0);
	ck_assert_uint_eq(d.n_added, 1);
	ck_assert_uint_eq(d.n_removed, 1);
	ck_assert(mc_diff_regressed(&d));
	ck_assert(!mc_diff_empty(&d));
	ck_assert_str_eq(d.cases[0].suite, "mesh");
	ck_assert_str_eq(d.cases[0].name, "gateway policy");
	ck_assert_str_eq(d.cases[0].check, "policy");
	ck_assert_int_eq(d.cases[0].change, MC_DIFF_CHANGED);
	ck_assert_str_eq(d.cases[0].old_status, "pass");
	ck_assert_str_eq(d.cases[0].new_status, "fail");
	ck_assert(d.cases[0].regressed);
	ck_assert(!d.cases[0].fixed);
	ck_assert_str_eq(d.cases[0].new_reason, "1 of 4 row(s) differ: other host denied: expected 403, saw 200");
	ck_assert_str_eq(d.cases[1].name, "new probe");
	ck_assert_int_eq(d.cases[1].change, MC_DIFF_ADDED);
	ck_assert_ptr_null(d.cases[1].old_status);
	ck_assert_str_eq(d.cases[1].new_status, "pass");
	ck_assert(!d.cases[1].regressed);
	ck_assert_str_eq(d.cases[2].name, "old probe");
	ck_assert_int_eq(d.cases[2].change, MC_DIFF_REMOVED);
	ck_assert_str_eq(d.cases[2].old_status, "pass");
	ck_assert_ptr_null(d.cases[2].new_status);

	/* Cells: the one row whose outcome changed. */
	ck_assert_uint_eq(d.n_cells, 1);
	ck_assert_str_eq(d.cells[0].suite, "mesh");
	ck_assert_str_eq(d.cells[0].name, "gateway policy");
	ck_assert_str_eq(d.cells[0].row, "other host denied");
	ck_assert_int_eq(d.cells[0].change, MC_DIFF_CHANGED);
	ck_assert_str_eq(d.cells[0].old_row.expected, "403");
	ck_assert_str_eq(d.cells[0].old_row.seen, "403");
	ck_assert(d.cells[0].old_row.ok);
	ck_assert_str_eq(d.cells[0].new_row.expected, "403");
	ck_assert_str_eq(d.cells[0].new_row.seen, "200");
	ck_assert(!d.cells[0].new_row.ok);

	/* Measurements: the split (both shares and the largest difference) and p99; not p50, the error rate, totals. */
	ck_assert_uint_eq(d.n_measures, 4);
	expect_measure(&d, "split", "share v1", "%", 50, 70);
	expect_measure(&d, "split", "share v2", "%", 50, 30);
	expect_measure(&d, "split", "max_difference", "%", 0, 20);
	expect_measure(&d, "load", "p99", "ms", 5, 10);
	ck_assert_double_eq_tol(find_measure(&d, "load", "p99")->relative_pct, 100, 1e-9);
	mc_diff_free(&d);
	pair_free(&p);
}
END_TEST

/* The other way round the policy case is fixed, the added case removed, and nothing regressed. */
START_TEST(diff_reversed_is_fixed)
{
	struct pair p = pair_new();
	struct mc_diff d;

	diff_files(p.broken, p.good, 10, &d);
	ck_assert_uint_eq(d.n_cases, 3);
	ck_assert_uint_eq(d.n_regressed, 0);
	ck_assert_uint_eq(d.n_fixed, 1);
	ck_assert(!mc_diff_regressed(&d));
	/* In the new report's order, then what it lacks. */
	ck_assert_str_eq(d.cases[0].name, "old probe");
	ck_assert_int_eq(d.cases[0].change, MC_DIFF_ADDED);
	ck_assert_str_eq(d.cases[1].name, "gateway policy");
	ck_assert(d.cases[1].fixed);
	ck_assert_str_eq(d.cases[1].old_status, "fail");
	ck_assert_str_eq(d.cases[1].new_status, "pass");
	ck_assert_str_eq(d.cases[2].name, "new probe");
	ck_assert_int_eq(d.cases[2].change, MC_DIFF_REMOVED);
	ck_assert_uint_eq(d.n_cells, 1);
	ck_assert_str_eq(d.cells[0].old_row.seen, "200");
	ck_assert_str_eq(d.cells[0].new_row.seen, "403");
	/* p99 halved: -50% relative. */
	ck_assert_uint_eq(d.n_measures, 4);
	ck_assert_double_eq_tol(find_measure(&d, "load", "p99")->relative_pct, -50, 1e-9);
	mc_diff_free(&d);
	pair_free(&p);
}
END_TEST

/* A report compared with itself: nothing. */
START_TEST(diff_same_report_is_empty)
{
	struct pair p = pair_new();
	struct mc_diff d;

	diff_files(p.broken, p.broken, 10, &d);
	ck_assert(mc_diff_empty(&d));
	ck_assert(!mc_diff_regressed(&d));
	ck_assert_uint_eq(d.n_cases + d.n_cells + d.n_measures, 0);
	mc_diff_free(&d);
	pair_free(&p);
}
END_TEST

/* The tolerance: relative for ms, percentage points for %; a move equal to it is not listed. */
START_TEST(diff_tolerance)
{
	struct pair p = pair_new();
	struct mc_diff d;
	cJSON *a, *b;

	/* p99 moved by exactly 100%, the shares by exactly 20 points: at the tolerance, not beyond. */
	diff_files(p.good, p.broken, 100, &d);
	ck_assert_uint_eq(d.n_measures, 0);
	ck_assert_uint_eq(d.n_cases, 3);
	ck_assert_uint_eq(d.n_cells, 1);
	mc_diff_free(&d);
	diff_files(p.good, p.broken, 20, &d);
	ck_assert_uint_eq(d.n_measures, 1);
	ck_assert_str_eq(d.measures[0].measure, "p99");
	mc_diff_free(&d);
	/* 4%: the p50 (+5%) and the probe's total (+8%) move beyond it; the error rate (0.5 points) does not. */
	diff_files(p.good, p.broken, 4, &d);
	ck_assert_uint_eq(d.n_measures, 6);
	find_measure(&d, "load", "p50");
	find_measure(&d, "probe", "total");
	mc_diff_free(&d);
	/* 0.1: the error rate too. */
	diff_files(p.good, p.broken, 0.1, &d);
	ck_assert_uint_eq(d.n_measures, 7);
	expect_measure(&d, "load", "error_rate", "%", 0, 0.5);
	mc_diff_free(&d);
	/* A tolerance below zero or not a number is refused; the diff is left empty. */
	a = load(p.good);
	b = load(p.broken);
	ck_assert_int_eq(mc_diff_compute(a, b, -1, &d), -EINVAL);
	ck_assert(mc_diff_empty(&d));
	mc_diff_free(&d);
	ck_assert_int_eq(mc_diff_compute(a, b, NAN, &d), -EINVAL);
	mc_diff_free(&d);
	ck_assert_int_eq(mc_diff_compute(a, cJSON_GetObjectItemCaseSensitive(b, "run"), 10, &d), -EINVAL);
	mc_diff_free(&d);
	cJSON_Delete(a);
	cJSON_Delete(b);
	pair_free(&p);
}
END_TEST

/* The in-memory report (mc_report_json) compares as the same report read back from disk. */
START_TEST(diff_in_memory_report)
{
	struct pair p = pair_new();
	struct mc_run *run = make_run(true);
	cJSON *old_report = load(p.good), *now = mc_report_json(run);
	struct mc_diff d;

	ck_assert_int_eq(mc_diff_compute(old_report, now, 10, &d), 0);
	ck_assert_uint_eq(d.n_cases, 3);
	ck_assert_uint_eq(d.n_regressed, 1);
	ck_assert_uint_eq(d.n_cells, 1);
	ck_assert_uint_eq(d.n_measures, 4);
	mc_diff_free(&d);
	cJSON_Delete(old_report);
	cJSON_Delete(now);
	mc_run_free(run);
	pair_free(&p);
}
END_TEST

/* Reads what mc_diff_print writes. */
static char *
print_text(const struct mc_diff *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	mc_diff_print(d, f);
	fclose(f);
	return text;
}

static size_t
count_lines(const char *s, const char *prefix)
{
	size_t n = 0;

	for (const char *p = s; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

START_TEST(print_has_a_section_per_kind)
{
	struct pair p = pair_new();
	struct mc_diff d;
	char *text;

	diff_files(p.good, p.broken, 10, &d);
	text = print_text(&d);
	ck_assert_msg(strncmp(text, "diff run-good -> run-broken: 1 regressed, 0 fixed, 0 other verdict change(s), "
				    "1 added, 1 removed; 1 policy row(s) changed; 4 measurement(s) moved more than 10%\n",
			      strlen(text) > 0 ? strcspn(text, "\n") + 1 : 1) == 0,
		      "%s", text);
	ck_assert_msg(strstr(text, "\ncases:\n  REGRESSED  mesh/gateway policy: pass -> fail (1 of 4 row(s) differ: "
				   "other host denied: expected 403, saw 200)\n"
				   "  ADDED      mesh/new probe: pass\n"
				   "  REMOVED    mesh/old probe: was pass\n") != NULL,
		      "%s", text);
	ck_assert_msg(strstr(text, "\npolicy rows:\n  mesh/gateway policy, row \"other host denied\": 403 ok -> 200 DIFFERS "
				   "(expected 403)\n") != NULL,
		      "%s", text);
	ck_assert_msg(strstr(text, "\nmeasurements (moved more than 10%; percentage points for % values):\n") != NULL,
		      "%s", text);
	ck_assert_msg(strstr(text, "  mesh/split: share v1 50 -> 70 % (+20 points)\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "  mesh/load: p99 5 -> 10 ms (+100%)\n") != NULL, "%s", text);
	/* One line per change: 3 cases, 1 row, 4 measurements. */
	ck_assert_uint_eq(count_lines(text, "  "), 8);
	free(text);
	mc_diff_free(&d);
	diff_files(p.good, p.good, 10, &d);
	text = print_text(&d);
	ck_assert_uint_eq(count_lines(text, "  "), 0);
	ck_assert_ptr_null(strstr(text, "cases:"));
	free(text);
	mc_diff_free(&d);
	pair_free(&p);
}
END_TEST

START_TEST(json_form)
{
	struct pair p = pair_new();
	struct mc_diff d;
	cJSON *j, *a, *e;

	diff_files(p.good, p.broken, 10, &d);
	j = mc_diff_json(&d);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "schema")->valuestring, "meshcheck.diff/1");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "regressed")));
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "regressed")->valueint, 1);
	a = cJSON_GetObjectItem(j, "cases");
	ck_assert_int_eq(cJSON_GetArraySize(a), 3);
	e = cJSON_GetArrayItem(a, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "change")->valuestring, "regressed");
	ck_assert_str_eq(cJSON_GetObjectItem(e, "old")->valuestring, "pass");
	ck_assert_str_eq(cJSON_GetObjectItem(e, "new")->valuestring, "fail");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "old")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "new")));
	a = cJSON_GetObjectItem(j, "cells");
	ck_assert_int_eq(cJSON_GetArraySize(a), 1);
	e = cJSON_GetArrayItem(a, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "row")->valuestring, "other host denied");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "old"), "seen")->valuestring, "403");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "new"), "seen")->valuestring, "200");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "new"), "ok")));
	a = cJSON_GetObjectItem(j, "measurements");
	ck_assert_int_eq(cJSON_GetArraySize(a), 4);
	cJSON_Delete(j);
	mc_diff_free(&d);
	pair_free(&p);
}
END_TEST

/* Collects JUnit properties as "name=value\n" lines. */
static void
collect(const char *name, const char *value, void *arg)
{
	mc_buf_printf(arg, "%s=%s\n", name, value);
}

START_TEST(junit_properties)
{
	struct pair p = pair_new();
	struct mc_diff d;
	struct mc_buf b;

	diff_files(p.good, p.broken, 10, &d);
	mc_buf_init(&b, 0);
	mc_diff_junit_properties(&d, collect, &b);
	ck_assert_str_eq(b.data, "diff.regressed=1\n"
				 "diff.fixed=0\n"
				 "diff.changed=0\n"
				 "diff.added=1\n"
				 "diff.removed=1\n"
				 "diff.cells=1\n"
				 "diff.measurements=4\n"
				 "diff.baseline_run=run-good\n"
				 "diff.case.mesh/gateway policy=pass->fail\n"
				 "diff.case.mesh/new probe=(none)->pass\n"
				 "diff.case.mesh/old probe=pass->(none)\n"
				 "diff.cell.mesh/gateway policy/other host denied=403->200\n"
				 "diff.measure.mesh/split/max_difference=0->20 %\n"
				 "diff.measure.mesh/split/share v1=50->70 %\n"
				 "diff.measure.mesh/split/share v2=50->30 %\n"
				 "diff.measure.mesh/load/p99=5->10 ms\n");
	mc_buf_free(&b);
	mc_diff_free(&d);
	pair_free(&p);
}
END_TEST

/* Hostile names in both runs: the HTML escapes them, the terminal shows controls as \xNN. */
START_TEST(html_and_terminal_escape_names)
{
	struct mc_run *r1 = mc_run_new("<b>old</b>", "local"), *r2 = mc_run_new("new", "local");
	struct mc_suite *s1 = mc_run_add_suite(r1, "s<script>", NULL), *s2 = mc_run_add_suite(r2, "s<script>", NULL);
	const char *name = "case \"&<img src=x>\x1b[31m";
	struct mc_case *c;
	cJSON *a, *b;
	struct mc_diff d;
	char *html, *text;

	c = mc_suite_add_case(s1, name, "reach");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c = mc_suite_add_case(s2, name, "reach");
	mc_case_set(c, MC_RESULT_ERROR, "<why & how>");
	a = mc_report_json(r1);
	b = mc_report_json(r2);
	ck_assert_int_eq(mc_diff_compute(a, b, 10, &d), 0);
	ck_assert_uint_eq(d.n_regressed, 1);
	html = mc_diff_html(&d);
	ck_assert_msg(strncmp(html, "<section class=\"diff\">", 22) == 0, "%s", html);
	ck_assert_ptr_nonnull(strstr(html, "</section>"));
	ck_assert_ptr_null(strstr(html, "<script>"));
	ck_assert_ptr_null(strstr(html, "<img"));
	ck_assert_ptr_null(strstr(html, "<b>"));
	ck_assert_ptr_nonnull(strstr(html, "s&lt;script&gt;/case &quot;&amp;&lt;img src=x&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "&lt;why &amp; how&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "<span class=\"st pass\">PASS</span>"));
	ck_assert_ptr_nonnull(strstr(html, "<span class=\"st error\">ERROR</span>"));
	text = print_text(&d);
	ck_assert_ptr_null(strchr(text, '\x1b'));
	ck_assert_msg(strstr(text, "REGRESSED  s<script>/case \"&<img src=x>\\x1B[31m: pass -> error") != NULL, "%s",
		      text);
	free(text);
	free(html);
	mc_diff_free(&d);
	/* No change: the fragment says so. */
	ck_assert_int_eq(mc_diff_compute(a, a, 10, &d), 0);
	html = mc_diff_html(&d);
	ck_assert_ptr_nonnull(strstr(html, "No verdict, policy row or measurement changed."));
	ck_assert_ptr_null(strstr(html, "<table"));
	free(html);
	mc_diff_free(&d);
	cJSON_Delete(a);
	cJSON_Delete(b);
	mc_run_free(r1);
	mc_run_free(r2);
}
END_TEST

/* Builds a one-case report whose policy case has these rows. */
static cJSON *
policy_report(const struct prow *rows, size_t n)
{
	struct mc_run *run = mc_run_new("r", "local");
	struct mc_case *c = mc_suite_add_case(mc_run_add_suite(run, "s", NULL), "matrix", "policy");
	cJSON *j;

	set_policy(c, rows, n);
	j = mc_report_json(run);
	mc_run_free(run);
	return j;
}

/*
 * Rows read from the texts: long names (no padding), names with spaces and
 * digits, transport-error outcomes, rows that could not be sent (no
 * expected line; the error text is not compared, since it holds addresses),
 * body patterns whose closing "/" starts the next line, rows added and
 * removed, an expectation changed in the suite.
 */
START_TEST(policy_rows_from_texts)
{
	static const struct prow a[] = {
		{"a row whose name is longer than twenty-eight", "h", "403", "403", "^x$", NULL},
		{"row 2 ok 404", NULL, "404", "404", "/", NULL},
		{"refused here", NULL, "refused", "refused", NULL, NULL},
		{"unsendable", NULL, "200", NULL, NULL, "cannot connect to 127.11.3.240:8081: refused"},
		{"gone later", NULL, "200", "200", NULL, NULL},
		{"expectation edited", NULL, "403", "403", NULL, NULL},
		{"dup", NULL, "200", "200", NULL, NULL},
		{"dup", NULL, "200", "200", NULL, NULL},
	};
	static const struct prow b[] = {
		{"a row whose name is longer than twenty-eight", "h", "403", "reset", "^x$", NULL},
		{"row 2 ok 404", NULL, "404", "404", "/", NULL},
		{"refused here", NULL, "refused", "tls", NULL, NULL},
		{"unsendable", NULL, "200", NULL, NULL, "cannot connect to 127.11.9.240:8081: refused"},
		{"expectation edited", NULL, "404", "403", NULL, NULL},
		{"dup", NULL, "200", "200", NULL, NULL},
		{"dup", NULL, "200", "500", NULL, NULL},
		{"new row", NULL, "200", "200", NULL, NULL},
	};
	cJSON *ja = policy_report(a, sizeof(a) / sizeof(a[0])), *jb = policy_report(b, sizeof(b) / sizeof(b[0]));
	struct mc_diff d;

	ck_assert_int_eq(mc_diff_compute(ja, jb, 10, &d), 0);
	/* Both runs errored (the unsendable row), so the verdict did not change. */
	ck_assert_uint_eq(d.n_cases, 0);
	ck_assert_uint_eq(d.n_cells, 6);
	ck_assert_str_eq(d.cells[0].row, "a row whose name is longer than twenty-eight");
	ck_assert_str_eq(d.cells[0].old_row.seen, "403");
	ck_assert_str_eq(d.cells[0].new_row.seen, "reset");
	ck_assert_str_eq(d.cells[0].new_row.expected, "403");
	ck_assert(!d.cells[0].new_row.ok);
	ck_assert_str_eq(d.cells[1].row, "refused here");
	ck_assert_str_eq(d.cells[1].old_row.seen, "refused");
	ck_assert_str_eq(d.cells[1].new_row.seen, "tls");
	ck_assert_str_eq(d.cells[1].old_row.expected, "refused");
	ck_assert_str_eq(d.cells[2].row, "expectation edited");
	ck_assert_str_eq(d.cells[2].old_row.expected, "403");
	ck_assert_str_eq(d.cells[2].new_row.expected, "404");
	ck_assert_str_eq(d.cells[2].new_row.seen, "403");
	ck_assert_str_eq(d.cells[3].row, "dup");
	ck_assert_str_eq(d.cells[3].new_row.seen, "500");
	ck_assert_str_eq(d.cells[4].row, "new row");
	ck_assert_int_eq(d.cells[4].change, MC_DIFF_ADDED);
	ck_assert_str_eq(d.cells[5].row, "gone later");
	ck_assert_int_eq(d.cells[5].change, MC_DIFF_REMOVED);
	mc_diff_free(&d);
	/* The other way round: the same rows, added and removed swapped (in the new report's order). */
	ck_assert_int_eq(mc_diff_compute(jb, ja, 10, &d), 0);
	ck_assert_uint_eq(d.n_cells, 6);
	ck_assert_str_eq(d.cells[2].row, "gone later");
	ck_assert_int_eq(d.cells[2].change, MC_DIFF_ADDED);
	ck_assert_str_eq(d.cells[5].row, "new row");
	ck_assert_int_eq(d.cells[5].change, MC_DIFF_REMOVED);
	mc_diff_free(&d);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	{
		static const struct prow c1[] = {{"x", NULL, "200", "200", NULL, NULL}};
		static const struct prow c2[] = {{"x", NULL, "200", NULL, NULL, "no route to host"}};

		ja = policy_report(c1, 1);
		jb = policy_report(c2, 1);
		ck_assert_int_eq(mc_diff_compute(ja, jb, 10, &d), 0);
		ck_assert_uint_eq(d.n_cases, 1);
		ck_assert_str_eq(d.cases[0].new_status, "error");
		ck_assert(d.cases[0].regressed);
		ck_assert_uint_eq(d.n_cells, 1);
		ck_assert_str_eq(d.cells[0].new_row.seen, "error");
		ck_assert_str_eq(d.cells[0].new_row.detail, "no route to host");
		ck_assert_ptr_null(d.cells[0].new_row.expected);
		ck_assert_str_eq(d.cells[0].old_row.expected, "200");
		mc_diff_free(&d);
		cJSON_Delete(ja);
		cJSON_Delete(jb);
	}
}
END_TEST

/* A case that sent nothing in one run has its verdict change listed, not every row as removed. */
START_TEST(policy_case_not_run_lists_no_rows)
{
	static const struct prow rows[] = {{"x", NULL, "200", "200", NULL, NULL}, {"y", NULL, "403", "403", NULL, NULL}};
	struct mc_run *run = mc_run_new("r2", "local");
	struct mc_case *c = mc_suite_add_case(mc_run_add_suite(run, "s", NULL), "matrix", "policy");
	cJSON *ja = policy_report(rows, 2), *jb;
	struct mc_diff d;

	mc_case_set(c, MC_RESULT_ERROR, "not run: local target setup failed");
	jb = mc_report_json(run);
	ck_assert_int_eq(mc_diff_compute(ja, jb, 10, &d), 0);
	ck_assert_uint_eq(d.n_cases, 1);
	ck_assert(d.cases[0].regressed);
	ck_assert_uint_eq(d.n_cells, 0);
	mc_diff_free(&d);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	mc_run_free(run);
}
END_TEST

/* Cases of the same name in a suite pair up in order; other suites are apart. */
START_TEST(cases_match_by_suite_and_name)
{
	struct mc_run *r1 = mc_run_new("a", "local"), *r2 = mc_run_new("b", "local");
	struct mc_suite *s;
	cJSON *a, *b;
	struct mc_diff d;

	s = mc_run_add_suite(r1, "one", NULL);
	mc_case_set(mc_suite_add_case(s, "same", "reach"), MC_RESULT_PASS, NULL);
	mc_case_set(mc_suite_add_case(s, "same", "reach"), MC_RESULT_FAIL, "x");
	mc_case_set(mc_suite_add_case(s, "to skip", "reach"), MC_RESULT_PASS, NULL);
	s = mc_run_add_suite(r1, "two", NULL);
	mc_case_set(mc_suite_add_case(s, "same", "reach"), MC_RESULT_PASS, NULL);
	s = mc_run_add_suite(r2, "two", NULL);
	mc_case_set(mc_suite_add_case(s, "same", "reach"), MC_RESULT_PASS, NULL);
	s = mc_run_add_suite(r2, "one", NULL);
	mc_case_set(mc_suite_add_case(s, "same", "reach"), MC_RESULT_PASS, NULL);
	mc_case_set(mc_suite_add_case(s, "same", "reach"), MC_RESULT_PASS, NULL);
	mc_case_set(mc_suite_add_case(s, "to skip", "reach"), MC_RESULT_SKIP, "no root");
	a = mc_report_json(r1);
	b = mc_report_json(r2);
	ck_assert_int_eq(mc_diff_compute(a, b, 10, &d), 0);
	ck_assert_uint_eq(d.n_cases, 2);
	ck_assert_uint_eq(d.n_fixed, 1);
	ck_assert_uint_eq(d.n_other, 1);
	ck_assert_str_eq(d.cases[0].suite, "one");
	ck_assert_str_eq(d.cases[0].name, "same");
	ck_assert(d.cases[0].fixed);
	ck_assert_str_eq(d.cases[1].name, "to skip");
	ck_assert_str_eq(d.cases[1].new_status, "skip");
	ck_assert(!d.cases[1].regressed && !d.cases[1].fixed);
	ck_assert(!mc_diff_regressed(&d));
	mc_diff_free(&d);
	cJSON_Delete(a);
	cJSON_Delete(b);
	mc_run_free(r1);
	mc_run_free(r2);
}
END_TEST

/* Loads text as a report and returns the error (static storage); fails the test when it loads. */
static const char *
load_error(const char *dir, const char *name, const char *text)
{
	static char err[MC_ERRLEN];
	char *path = t_write(dir, name, text);
	cJSON *j = (cJSON *)1;

	err[0] = '\0';
	ck_assert_int_eq(mc_diff_load(path, &j, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(j);
	free(path);
	return err;
}

START_TEST(load_errors_name_file_and_position)
{
	char *dir = t_tmpdir(), *path, *want;
	char err[MC_ERRLEN];
	cJSON *j = NULL;
	const char *e;

	e = load_error(dir, "a.json", "{\n  \"schema\": \"meshcheck.report/1\",\n  \"suites\": [ }\n");
	want = mc_xasprintf("%s/a.json:3:15: JSON syntax error near \"}\"", dir);
	ck_assert_str_eq(e, want);
	free(want);
	e = load_error(dir, "b.json", "not json at all");
	want = mc_xasprintf("%s/b.json:1:1: JSON syntax error near \"not json at all\"", dir);
	ck_assert_str_eq(e, want);
	free(want);
	e = load_error(dir, "c.json", "{\"schema\": \"meshcheck.report/1\", \"run\": {}}");
	want = mc_xasprintf("%s/c.json: not a meshcheck report (no \"suites\" array)", dir);
	ck_assert_str_eq(e, want);
	free(want);
	e = load_error(dir, "d.json", "{\"suites\": []}");
	ck_assert_msg(strstr(e, "d.json: not a meshcheck report (no \"schema\"") != NULL, "%s", e);
	e = load_error(dir, "e.json", "{\"schema\": \"meshcheck.report/1\", \"suites\": [{\"name\": \"s\", "
				      "\"cases\": [{\"name\": \"c\", \"status\": \"pass\"}, {\"name\": \"d\"}]}]}");
	ck_assert_msg(strstr(e, "e.json: not a meshcheck report (suites[0].cases[1]: no \"status\")") != NULL, "%s", e);
	e = load_error(dir, "f.json", "{\"schema\": \"meshcheck.report/9\", \"suites\": []}");
	ck_assert_msg(strstr(e, "f.json: schema \"meshcheck.report/9\" is not one this meshcheck reads") != NULL, "%s",
		      e);
	e = load_error(dir, "g.json", "");
	ck_assert_msg(strstr(e, "g.json: empty file") != NULL, "%s", e);
	e = load_error(dir, "h.json", "[1, 2]");
	ck_assert_msg(strstr(e, "h.json: not a meshcheck report (expected a JSON object)") != NULL, "%s", e);
	e = load_error(dir, "i.json", "{\"schema\": \"meshcheck.report/1\", \"suites\": []} trailing");
	ck_assert_msg(strstr(e, "i.json:1:48: JSON syntax error near \"trailing\"") != NULL, "%s", e);
	/* A missing file: the file and the system's reason. */
	path = mc_xasprintf("%s/missing.json", dir);
	ck_assert_int_eq(mc_diff_load(path, &j, err, sizeof(err)), -ENOENT);
	want = mc_xasprintf("%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);
	/* The smallest report there is loads. */
	path = t_write(dir, "ok.json", "{\"schema\": \"meshcheck.report/1\", \"suites\": []}");
	ck_assert_msg(mc_diff_load(path, &j, err, sizeof(err)) == 0, "%s", err);
	cJSON_Delete(j);
	free(path);
	ck_assert_int_eq(mc_rm_rf(dir), 0);
	free(dir);
}
END_TEST

/* Runs `meshcheck diff ARGS...` and returns its exit code, its output in *out. */
static int
run_diff(char **out, const char *a1, const char *a2, const char *a3, const char *a4)
{
	char *argv[] = {(char *)bin, "diff", (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};

	return t_run(argv, out);
}

START_TEST(cli_exit_codes_and_output)
{
	struct pair p = pair_new();
	char *out = NULL, *dir = t_tmpdir(), *bad;
	cJSON *j;
	int rc;

	rc = run_diff(&out, p.good, p.broken, NULL, NULL);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "  REGRESSED  mesh/gateway policy: pass -> fail") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "row \"other host denied\": 403 ok -> 200 DIFFERS") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "  ADDED      mesh/new probe: pass\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "  REMOVED    mesh/old probe: was pass\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "p99 5 -> 10 ms (+100%)") != NULL, "%s", out);
	free(out);
	rc = run_diff(&out, p.broken, p.good, NULL, NULL);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "  FIXED      mesh/gateway policy: fail -> pass\n") != NULL, "%s", out);
	free(out);
	/* --json, options after the files; a tolerance that hides the measurements. */
	rc = run_diff(&out, p.good, p.broken, "--json", "--tolerance-pct=150");
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "regressed")));
	ck_assert_double_eq(cJSON_GetObjectItem(j, "tolerance_pct")->valuedouble, 150);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "cases")), 3);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "cells")), 1);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "measurements")), 0);
	cJSON_Delete(j);
	free(out);
	/* Bad input: exit 2 naming the file (and the position for JSON errors). */
	bad = t_write(dir, "bad.json", "{\"schema\": \"meshcheck.report/1\",\n \"suites\": [}");
	rc = run_diff(&out, p.good, bad, NULL, NULL);
	ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "bad.json:2:13: JSON syntax error") != NULL, "%s", out);
	free(out);
	free(bad);
	bad = t_write(dir, "nosuites.json", "{\"schema\": \"meshcheck.report/1\"}");
	rc = run_diff(&out, bad, p.good, NULL, NULL);
	ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "nosuites.json: not a meshcheck report") != NULL, "%s", out);
	free(out);
	free(bad);
	bad = mc_xasprintf("%s/nothing/report.json", dir);
	rc = run_diff(&out, p.good, bad, NULL, NULL);
	ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "nothing/report.json: No such file or directory") != NULL, "%s", out);
	free(out);
	free(bad);
	/* Usage errors. */
	rc = run_diff(&out, p.good, NULL, NULL, NULL);
	ck_assert_msg(rc == 2 && strstr(out, "give two reports") != NULL, "exit %d: %s", rc, out);
	free(out);
	rc = run_diff(&out, p.good, p.broken, "--tolerance-pct", "lots");
	ck_assert_msg(rc == 2 && strstr(out, "--tolerance-pct takes a number") != NULL, "exit %d: %s", rc, out);
	free(out);
	rc = run_diff(&out, "--help", NULL, NULL, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "usage: meshcheck diff") != NULL, "exit %d: %s", rc, out);
	free(out);
	ck_assert_int_eq(mc_rm_rf(dir), 0);
	free(dir);
	pair_free(&p);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reports-diff");
	TCase *tc = tcase_create("diff");

	bin = getenv("MESHCHECK");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, diff_lists_exactly_the_changes);
	tcase_add_test(tc, diff_reversed_is_fixed);
	tcase_add_test(tc, diff_same_report_is_empty);
	tcase_add_test(tc, diff_tolerance);
	tcase_add_test(tc, diff_in_memory_report);
	tcase_add_test(tc, print_has_a_section_per_kind);
	tcase_add_test(tc, json_form);
	tcase_add_test(tc, junit_properties);
	tcase_add_test(tc, html_and_terminal_escape_names);
	tcase_add_test(tc, policy_rows_from_texts);
	tcase_add_test(tc, policy_case_not_run_lists_no_rows);
	tcase_add_test(tc, cases_match_by_suite_and_name);
	tcase_add_test(tc, load_errors_name_file_and_position);
	if (bin != NULL)
		tcase_add_test(tc, cli_exit_codes_and_output);
	suite_add_tcase(s, tc);
	return t_main(s);
}
