/*
 * Run-to-run comparison of two report.json documents (see diff.h).
 *
 * Policy rows come from the case's "seen" text, one line per row in the
 * order of the suite: "NAME  OUTCOME ok|DIFFERS", or "NAME  error: WHY" for
 * a row that could not be sent (the name is padded to 28 columns, longer
 * names are followed by one space). Lines are split from the right, since
 * outcomes are one word (a status code or a transport-error class) and
 * names may hold spaces. The expected outcome of each row comes from the
 * "expected" text, whose row lines carry "(no client certificate) -> X" or
 * "(mesh identity) -> X"; they are written for the rows that were sent, in
 * the same order, so the k-th such line belongs to the k-th sent row (its
 * name is checked too). A body pattern's closing "/" may start the next
 * line; it is skipped.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "report.h"
#include "util.h"

/* A report.json larger than this is refused (reports with big "seen" texts stay far below). */
#define REPORT_MAX ((size_t)256 << 20)

/* Float noise allowance when comparing a move with the tolerance. */
#define EPS 1e-9

/* ---------------------------------------------------------------- loading */

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1-based line and column (in bytes) of at within text. */
static void
position(const char *text, const char *at, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int
mc_diff_check_report(const cJSON *j, const char *name, char *err, size_t errlen)
{
	const cJSON *suites, *s, *cases, *c;
	const char *schema;
	size_t i = 0;

	if (!cJSON_IsObject(j))
		return mc_err(err, errlen, EINVAL, "%s: not a meshcheck report (expected a JSON object)", name);
	schema = str(j, "schema");
	if (schema == NULL)
		return mc_err(err, errlen, EINVAL, "%s: not a meshcheck report (no \"schema\": \"meshcheck.report/1\")",
			      name);
	if (strcmp(schema, "meshcheck.report/1") != 0)
		return mc_err(err, errlen, EINVAL, "%s: schema \"%.100s\" is not one this meshcheck reads "
						   "(meshcheck.report/1)", name, schema);
	suites = cJSON_GetObjectItemCaseSensitive(j, "suites");
	if (!cJSON_IsArray(suites))
		return mc_err(err, errlen, EINVAL, "%s: not a meshcheck report (no \"suites\" array)", name);
	cJSON_ArrayForEach(s, suites) {
		size_t k = 0;

		if (!cJSON_IsObject(s) || str(s, "name") == NULL)
			return mc_err(err, errlen, EINVAL, "%s: not a meshcheck report (suites[%zu]: no \"name\")", name, i);
		cases = cJSON_GetObjectItemCaseSensitive(s, "cases");
		if (!cJSON_IsArray(cases))
			return mc_err(err, errlen, EINVAL, "%s: not a meshcheck report (suites[%zu]: no \"cases\" array)",
				      name, i);
		cJSON_ArrayForEach(c, cases) {
			if (!cJSON_IsObject(c) || str(c, "name") == NULL)
				return mc_err(err, errlen, EINVAL,
					      "%s: not a meshcheck report (suites[%zu].cases[%zu]: no \"name\")", name, i, k);
			if (str(c, "status") == NULL)
				return mc_err(err, errlen, EINVAL,
					      "%s: not a meshcheck report (suites[%zu].cases[%zu]: no \"status\")", name, i,
					      k);
			k++;
		}
		i++;
	}
	return 0;
}

int
mc_diff_load(const char *path, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;
	char *text = NULL;
	size_t len = 0;
	cJSON *j;
	int rc;

	*out = NULL;
	if ((rc = mc_file_read(path, REPORT_MAX, &text, &len, err, errlen)) < 0)
		return rc;
	if (len == 0 || memchr(text, '\0', len) != NULL) {
		rc = mc_err(err, errlen, EINVAL, "%s: %s", path,
			    len == 0 ? "empty file (expected a meshcheck report)" : "contains a NUL byte (not JSON)");
		free(text);
		return rc;
	}
	/* The terminating NUL is inside the length, so trailing garbage is an error. */
	j = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
	if (j == NULL) {
		const char *at = end != NULL ? end : cJSON_GetErrorPtr();
		size_t line, col, k = 0;
		char near[24];

		if (at == NULL || at < text || at > text + len)
			at = text + len;
		position(text, at, &line, &col);
		for (const char *p = at; p < text + len && k < 20 && *p != '\n'; p++)
			near[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		near[k] = '\0';
		rc = mc_err(err, errlen, EINVAL, "%s:%zu:%zu: JSON syntax error%s%s%s", path, line, col,
			    k > 0 ? " near \"" : " at end of line or file", near, k > 0 ? "\"" : "");
		free(text);
		return rc;
	}
	free(text);
	if ((rc = mc_diff_check_report(j, path, err, errlen)) < 0) {
		cJSON_Delete(j);
		return rc;
	}
	*out = j;
	return 0;
}

/* ------------------------------------------------------------ policy rows */

struct row {
	char *name;
	struct mc_diff_row r;
	bool matched;
};

struct rows {
	struct row *v;
	size_t n;
};

static bool
is_outcome(const char *s, size_t n)
{
	static const char *const names[] = {"refused", "reset", "timeout", "tls", "dns", "other", "none", NULL};
	size_t digits = 0;

	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (n > 0 && digits == n)
		return true;
	for (size_t i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
			return true;
	return false;
}

/* Length of s[0..n) without trailing spaces and tabs. */
static size_t
rtrim(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return n;
}

/* The start of the last space-separated word of s[0..n), or NULL when there is no space before it. */
static const char *
last_word(const char *s, size_t n)
{
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == ' ')
			return i < n ? s + i : NULL;
	return NULL;
}

static void
rows_add(struct rows *rs, const char *name, size_t name_len, const char *seen, size_t seen_len, const char *detail,
	 size_t detail_len, bool ok)
{
	struct row *r;

	rs->v = mc_xrealloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	r->name = mc_xasprintf("%.*s", (int)name_len, name);
	r->r.seen = mc_xasprintf("%.*s", (int)seen_len, seen);
	r->r.detail = detail != NULL ? mc_xasprintf("%.*s", (int)detail_len, detail) : NULL;
	r->r.ok = ok;
}

/* Parses one line of a policy case's seen text; adds a row when it is one. */
static void
parse_seen_line(struct rows *rs, const char *line, size_t n)
{
	const char *status, *outcome, *e;
	size_t m;

	n = rtrim(line, n);
	status = last_word(line, n);
	if (status != NULL) {
		size_t sl = (size_t)(line + n - status);
		bool ok = sl == 2 && memcmp(status, "ok", 2) == 0;

		if (ok || (sl == 7 && memcmp(status, "DIFFERS", 7) == 0)) {
			m = (size_t)(status - 1 - line);
			outcome = last_word(line, m);
			if (outcome != NULL && is_outcome(outcome, (size_t)(line + m - outcome))) {
				size_t name_len = rtrim(line, (size_t)(outcome - line));

				if (name_len > 0) {
					rows_add(rs, line, name_len, outcome, (size_t)(line + m - outcome), NULL, 0, ok);
					return;
				}
			}
		}
	}
	/* A row that could not be sent. memmem: the line is not NUL-terminated here. */
	e = memmem(line, n, " error: ", 8);
	if (e != NULL && rtrim(line, (size_t)(e - line)) > 0)
		rows_add(rs, line, rtrim(line, (size_t)(e - line)), "error", 5, e + 8, (size_t)(line + n - (e + 8)),
			 false);
}

/* Finds the expected outcome on an expected-text line; returns its start and length, or NULL. */
static const char *
expected_outcome(const char *line, size_t n, size_t *len)
{
	static const char *const markers[] = {"(no client certificate) -> ", "(mesh identity) -> ", NULL};

	for (size_t i = 0; markers[i] != NULL; i++) {
		size_t ml = strlen(markers[i]);
		const char *p = memmem(line, n, markers[i], ml), *q;

		if (p == NULL)
			continue;
		p += ml;
		for (q = p; q < line + n && *q != ' '; q++)
			;
		if (q == p)
			return NULL;
		*len = (size_t)(q - p);
		return p;
	}
	return NULL;
}

/* Reads the rows of a policy case (none when it has no seen text). */
static void
parse_rows(const cJSON *c, struct rows *rs)
{
	const char *seen = str(c, "seen"), *expected = str(c, "expected"), *p;
	size_t k = 0;

	rs->v = NULL;
	rs->n = 0;
	if (seen == NULL)
		return;
	for (p = seen; *p != '\0';) {
		size_t n = strcspn(p, "\n");

		parse_seen_line(rs, p, n);
		p += n + (p[n] == '\n');
	}
	/* The k-th expected row line goes with the k-th row that was sent. */
	for (p = expected != NULL ? expected : ""; *p != '\0';) {
		size_t n = strcspn(p, "\n"), olen = 0, nl;
		const char *o = expected_outcome(p, n, &olen), *line = p;

		p += n + (p[n] == '\n');
		if (o == NULL)
			continue;
		while (k < rs->n && strcmp(rs->v[k].r.seen, "error") == 0)
			k++;
		if (k == rs->n)
			break;
		if (*line == '/' && strncmp(line, rs->v[k].name, strlen(rs->v[k].name)) != 0) {
			line++;
			n--;
		}
		nl = strlen(rs->v[k].name);
		if (n > nl && strncmp(line, rs->v[k].name, nl) == 0 && line[nl] == ' ')
			rs->v[k].r.expected = mc_xasprintf("%.*s", (int)olen, o);
		k++;
	}
	/* A row that held saw what it expected. */
	for (size_t i = 0; i < rs->n; i++)
		if (rs->v[i].r.expected == NULL && rs->v[i].r.ok)
			rs->v[i].r.expected = mc_xstrdup(rs->v[i].r.seen);
}

static void
row_free(struct mc_diff_row *r)
{
	free(r->expected);
	free(r->seen);
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

static void
rows_free(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].name);
		row_free(&rs->v[i].r);
	}
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

/* ---------------------------------------------------------------- compute */

struct side_case {
	const char *suite;
	const cJSON *c;
	bool matched;
};

struct side {
	struct side_case *v;
	size_t n;
};

static void
side_collect(const cJSON *report, struct side *sd)
{
	const cJSON *s, *c;

	sd->v = NULL;
	sd->n = 0;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(report, "suites")) {
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(s, "cases")) {
			sd->v = mc_xrealloc(sd->v, (sd->n + 1) * sizeof(*sd->v));
			sd->v[sd->n].suite = str(s, "name");
			sd->v[sd->n].c = c;
			sd->v[sd->n].matched = false;
			sd->n++;
		}
	}
}

static const char *
run_id(const cJSON *report)
{
	const char *id = str(cJSON_GetObjectItemCaseSensitive(report, "run"), "id");

	return id != NULL ? id : "";
}

static bool
is_bad(const char *status)
{
	return status != NULL && (strcmp(status, "fail") == 0 || strcmp(status, "error") == 0);
}

static bool
is_pass(const char *status)
{
	return status != NULL && strcmp(status, "pass") == 0;
}

static void
add_case(struct mc_diff *d, const char *suite, const cJSON *oc, const cJSON *nc, enum mc_diff_change change)
{
	struct mc_diff_case *e;
	const char *os = oc != NULL ? str(oc, "status") : NULL, *ns = nc != NULL ? str(nc, "status") : NULL;
	const cJSON *any = nc != NULL ? nc : oc;

	d->cases = mc_xrealloc(d->cases, (d->n_cases + 1) * sizeof(*d->cases));
	e = &d->cases[d->n_cases++];
	memset(e, 0, sizeof(*e));
	e->suite = mc_xstrdup(suite);
	e->name = mc_xstrdup(str(any, "name"));
	e->check = mc_xstrdup(str(any, "check") != NULL ? str(any, "check") : "");
	e->change = change;
	e->old_status = mc_xstrdup(os);
	e->new_status = mc_xstrdup(ns);
	e->new_reason = nc != NULL ? mc_xstrdup(str(nc, "reason")) : NULL;
	e->regressed = change == MC_DIFF_CHANGED && is_pass(os) && is_bad(ns);
	e->fixed = change == MC_DIFF_CHANGED && is_bad(os) && is_pass(ns);
	if (change == MC_DIFF_ADDED)
		d->n_added++;
	else if (change == MC_DIFF_REMOVED)
		d->n_removed++;
	else if (e->regressed)
		d->n_regressed++;
	else if (e->fixed)
		d->n_fixed++;
	else
		d->n_other++;
}

static void
row_copy(struct mc_diff_row *to, const struct mc_diff_row *from)
{
	to->expected = mc_xstrdup(from->expected);
	to->seen = mc_xstrdup(from->seen);
	to->detail = mc_xstrdup(from->detail);
	to->ok = from->ok;
}

static void
add_cell(struct mc_diff *d, const char *suite, const char *name, const char *row, enum mc_diff_change change,
	 const struct mc_diff_row *o, const struct mc_diff_row *n)
{
	struct mc_diff_cell *e;

	d->cells = mc_xrealloc(d->cells, (d->n_cells + 1) * sizeof(*d->cells));
	e = &d->cells[d->n_cells++];
	memset(e, 0, sizeof(*e));
	e->suite = mc_xstrdup(suite);
	e->name = mc_xstrdup(name);
	e->row = mc_xstrdup(row);
	e->change = change;
	if (o != NULL)
		row_copy(&e->old_row, o);
	if (n != NULL)
		row_copy(&e->new_row, n);
}

static bool
str_differs(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

/* Compares the rows of two policy cases: changed outcomes, rows added and removed. */
static void
compare_rows(struct mc_diff *d, const char *suite, const cJSON *oc, const cJSON *nc)
{
	struct rows orows, nrows;
	const char *name = str(nc, "name");

	parse_rows(oc, &orows);
	parse_rows(nc, &nrows);
	/* A case that sent nothing in one run (not run, setup failed) has its verdict change instead. */
	if (orows.n > 0 && nrows.n > 0) {
		for (size_t i = 0; i < nrows.n; i++) {
			struct row *nr = &nrows.v[i], *or = NULL;

			for (size_t j = 0; j < orows.n && or == NULL; j++)
				if (!orows.v[j].matched && strcmp(orows.v[j].name, nr->name) == 0)
					or = &orows.v[j];
			if (or == NULL) {
				add_cell(d, suite, name, nr->name, MC_DIFF_ADDED, NULL, &nr->r);
				continue;
			}
			or->matched = true;
			if (str_differs(or->r.seen, nr->r.seen) || or->r.ok != nr->r.ok ||
			    (or->r.expected != NULL && nr->r.expected != NULL && strcmp(or->r.expected, nr->r.expected) != 0))
				add_cell(d, suite, name, nr->name, MC_DIFF_CHANGED, &or->r, &nr->r);
		}
		for (size_t j = 0; j < orows.n; j++)
			if (!orows.v[j].matched)
				add_cell(d, suite, name, orows.v[j].name, MC_DIFF_REMOVED, &orows.v[j].r, NULL);
	}
	rows_free(&orows);
	rows_free(&nrows);
}

/* A measurement the diff compares: its unit is "%" or "ms" and its value a finite number. */
static bool
comparable(const cJSON *m, const char **name, const char **unit, double *v)
{
	const cJSON *val = cJSON_GetObjectItemCaseSensitive(m, "value");

	*name = str(m, "name");
	*unit = str(m, "unit");
	if (*name == NULL || *unit == NULL || (strcmp(*unit, "%") != 0 && strcmp(*unit, "ms") != 0))
		return false;
	if (!cJSON_IsNumber(val) || !isfinite(val->valuedouble))
		return false;
	*v = val->valuedouble;
	return true;
}

static void
compare_measures(struct mc_diff *d, const char *suite, const cJSON *oc, const cJSON *nc)
{
	const cJSON *oms = cJSON_GetObjectItemCaseSensitive(oc, "measurements");
	const cJSON *nms = cJSON_GetObjectItemCaseSensitive(nc, "measurements"), *m, *om;
	int n_old = cJSON_GetArraySize(oms);
	bool *used;

	if (!cJSON_IsArray(oms) || !cJSON_IsArray(nms) || n_old == 0)
		return;
	used = mc_xcalloc((size_t)n_old, sizeof(*used));
	cJSON_ArrayForEach(m, nms) {
		const char *name, *unit, *oname, *ounit;
		double nv, ov = 0, delta, rel;
		bool found = false, moved;
		int j = 0;

		if (!comparable(m, &name, &unit, &nv))
			continue;
		cJSON_ArrayForEach(om, oms) {
			if (!used[j] && comparable(om, &oname, &ounit, &ov) && strcmp(oname, name) == 0 &&
			    strcmp(ounit, unit) == 0) {
				used[j] = true;
				found = true;
				break;
			}
			j++;
		}
		if (!found)
			continue;
		delta = nv - ov;
		rel = ov != 0 ? 100.0 * delta / fabs(ov) : (delta == 0 ? 0 : (delta > 0 ? INFINITY : -INFINITY));
		if (strcmp(unit, "%") == 0)
			moved = fabs(delta) > d->tolerance_pct + EPS;
		else
			moved = fabs(rel) > d->tolerance_pct + EPS;
		if (moved) {
			struct mc_diff_measure *e;

			d->measures = mc_xrealloc(d->measures, (d->n_measures + 1) * sizeof(*d->measures));
			e = &d->measures[d->n_measures++];
			e->suite = mc_xstrdup(suite);
			e->name = mc_xstrdup(str(nc, "name"));
			e->measure = mc_xstrdup(name);
			e->unit = mc_xstrdup(unit);
			e->old_value = ov;
			e->new_value = nv;
			e->delta = delta;
			e->relative_pct = rel;
		}
	}
	free(used);
}

static bool
is_policy(const cJSON *c)
{
	const char *k = str(c, "check");

	return k != NULL && strcmp(k, "policy") == 0;
}

int
mc_diff_compute(const cJSON *old_report, const cJSON *new_report, double tolerance_pct, struct mc_diff *out)
{
	struct side os, ns;

	memset(out, 0, sizeof(*out));
	if (old_report == NULL || new_report == NULL || !isfinite(tolerance_pct) || tolerance_pct < 0 ||
	    mc_diff_check_report(old_report, "old", NULL, 0) < 0 || mc_diff_check_report(new_report, "new", NULL, 0) < 0)
		return -EINVAL;
	out->tolerance_pct = tolerance_pct;
	out->old_id = mc_xstrdup(run_id(old_report));
	out->new_id = mc_xstrdup(run_id(new_report));
	side_collect(old_report, &os);
	side_collect(new_report, &ns);
	for (size_t i = 0; i < ns.n; i++) {
		const cJSON *nc = ns.v[i].c, *oc = NULL;
		const char *name = str(nc, "name");

		/* The first old case of the same suite and name not yet matched. */
		for (size_t j = 0; j < os.n && oc == NULL; j++)
			if (!os.v[j].matched && strcmp(os.v[j].suite, ns.v[i].suite) == 0 &&
			    strcmp(str(os.v[j].c, "name"), name) == 0) {
				os.v[j].matched = true;
				oc = os.v[j].c;
			}
		if (oc == NULL) {
			add_case(out, ns.v[i].suite, NULL, nc, MC_DIFF_ADDED);
			continue;
		}
		if (strcmp(str(oc, "status"), str(nc, "status")) != 0)
			add_case(out, ns.v[i].suite, oc, nc, MC_DIFF_CHANGED);
		if (is_policy(oc) && is_policy(nc))
			compare_rows(out, ns.v[i].suite, oc, nc);
		compare_measures(out, ns.v[i].suite, oc, nc);
	}
	for (size_t j = 0; j < os.n; j++)
		if (!os.v[j].matched)
			add_case(out, os.v[j].suite, os.v[j].c, NULL, MC_DIFF_REMOVED);
	free(os.v);
	free(ns.v);
	return 0;
}

bool
mc_diff_regressed(const struct mc_diff *d)
{
	return d != NULL && d->n_regressed > 0;
}

bool
mc_diff_empty(const struct mc_diff *d)
{
	return d == NULL || (d->n_cases == 0 && d->n_cells == 0 && d->n_measures == 0);
}

void
mc_diff_free(struct mc_diff *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_cases; i++) {
		struct mc_diff_case *c = &d->cases[i];

		free(c->suite);
		free(c->name);
		free(c->check);
		free(c->old_status);
		free(c->new_status);
		free(c->new_reason);
	}
	free(d->cases);
	for (size_t i = 0; i < d->n_cells; i++) {
		struct mc_diff_cell *c = &d->cells[i];

		free(c->suite);
		free(c->name);
		free(c->row);
		row_free(&c->old_row);
		row_free(&c->new_row);
	}
	free(d->cells);
	for (size_t i = 0; i < d->n_measures; i++) {
		struct mc_diff_measure *m = &d->measures[i];

		free(m->suite);
		free(m->name);
		free(m->measure);
		free(m->unit);
	}
	free(d->measures);
	free(d->old_id);
	free(d->new_id);
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------- formatting */

/* Writes v with at most decimals digits after the point, trailing zeros dropped. */
static const char *
fmt_num(double v, int decimals, char *buf, size_t len)
{
	char *dot;
	size_t n;

	if (!isfinite(v)) {
		snprintf(buf, len, "%s", isnan(v) ? "?" : (v > 0 ? "inf" : "-inf"));
		return buf;
	}
	snprintf(buf, len, "%.*f", decimals, v);
	dot = strchr(buf, '.');
	if (dot != NULL) {
		n = strlen(buf);
		while (n > 0 && buf[n - 1] == '0')
			buf[--n] = '\0';
		if (n > 0 && buf[n - 1] == '.')
			buf[--n] = '\0';
	}
	if (strcmp(buf, "-0") == 0)
		snprintf(buf, len, "0");
	return buf;
}

/* "50 -> 70 %" style text of a measurement's values; "(+20 points)" or "(+100%)" in change. */
static void
fmt_measure(const struct mc_diff_measure *m, char *values, size_t vlen, char *change, size_t clen)
{
	bool pct = strcmp(m->unit, "%") == 0;
	char a[48], b[48], c[48];

	snprintf(values, vlen, "%s -> %s %s", fmt_num(m->old_value, pct ? 1 : 3, a, sizeof(a)),
		 fmt_num(m->new_value, pct ? 1 : 3, b, sizeof(b)), m->unit);
	if (pct)
		snprintf(change, clen, "%s%s points", m->delta > 0 ? "+" : "", fmt_num(m->delta, 1, c, sizeof(c)));
	else if (isfinite(m->relative_pct))
		snprintf(change, clen, "%s%s%%", m->relative_pct > 0 ? "+" : "", fmt_num(m->relative_pct, 0, c, sizeof(c)));
	else
		snprintf(change, clen, "from 0");
}

static const char *
case_change_word(const struct mc_diff_case *c)
{
	if (c->change == MC_DIFF_ADDED)
		return "added";
	if (c->change == MC_DIFF_REMOVED)
		return "removed";
	if (c->regressed)
		return "regressed";
	if (c->fixed)
		return "fixed";
	return "changed";
}

static const char *
change_word(enum mc_diff_change ch)
{
	return ch == MC_DIFF_ADDED ? "added" : ch == MC_DIFF_REMOVED ? "removed" : "changed";
}

/* Writes s to f with control characters shown as \xNN, so names cannot drive the terminal. */
static void
put_term(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02X", *p);
		else
			fputc(*p, f);
	}
}

/* A row's side as "403 ok", "200 DIFFERS" or "error DIFFERS". */
static void
print_row(FILE *f, const struct mc_diff_row *r)
{
	put_term(f, r->seen != NULL ? r->seen : "?");
	fputs(r->ok ? " ok" : " DIFFERS", f);
}

static void
print_summary(const struct mc_diff *d, FILE *f)
{
	char t[48];

	fputs("diff ", f);
	put_term(f, d->old_id[0] != '\0' ? d->old_id : "(old)");
	fputs(" -> ", f);
	put_term(f, d->new_id[0] != '\0' ? d->new_id : "(new)");
	fprintf(f, ": %zu regressed, %zu fixed, %zu other verdict change(s), %zu added, %zu removed; "
		   "%zu policy row(s) changed; %zu measurement(s) moved more than %s%%\n",
		d->n_regressed, d->n_fixed, d->n_other, d->n_added, d->n_removed, d->n_cells, d->n_measures,
		fmt_num(d->tolerance_pct, 2, t, sizeof(t)));
}

void
mc_diff_print(const struct mc_diff *d, FILE *f)
{
	char t[48];

	print_summary(d, f);
	if (d->n_cases > 0) {
		fputs("\ncases:\n", f);
		for (size_t i = 0; i < d->n_cases; i++) {
			const struct mc_diff_case *c = &d->cases[i];
			char word[16];

			snprintf(word, sizeof(word), "%s", case_change_word(c));
			for (char *w = word; *w != '\0'; w++)
				*w = (char)(*w - (*w >= 'a' && *w <= 'z' ? 32 : 0));
			fprintf(f, "  %-10s ", word);
			put_term(f, c->suite);
			fputc('/', f);
			put_term(f, c->name);
			if (c->change == MC_DIFF_ADDED) {
				fputs(": ", f);
				put_term(f, c->new_status);
			} else if (c->change == MC_DIFF_REMOVED) {
				fputs(": was ", f);
				put_term(f, c->old_status);
			} else {
				fputs(": ", f);
				put_term(f, c->old_status);
				fputs(" -> ", f);
				put_term(f, c->new_status);
			}
			if (c->change != MC_DIFF_REMOVED && c->new_reason != NULL && !is_pass(c->new_status)) {
				char *line = mc_report_one_line(c->new_reason, 200);

				fputs(" (", f);
				put_term(f, line);
				fputc(')', f);
				free(line);
			}
			fputc('\n', f);
		}
	}
	if (d->n_cells > 0) {
		fputs("\npolicy rows:\n", f);
		for (size_t i = 0; i < d->n_cells; i++) {
			const struct mc_diff_cell *c = &d->cells[i];
			const char *eo = c->old_row.expected, *en = c->new_row.expected;

			fputs("  ", f);
			put_term(f, c->suite);
			fputc('/', f);
			put_term(f, c->name);
			fputs(", row \"", f);
			put_term(f, c->row);
			fputs("\": ", f);
			if (c->change == MC_DIFF_ADDED) {
				fputs("added: ", f);
				print_row(f, &c->new_row);
			} else if (c->change == MC_DIFF_REMOVED) {
				fputs("removed: was ", f);
				print_row(f, &c->old_row);
			} else {
				print_row(f, &c->old_row);
				fputs(" -> ", f);
				print_row(f, &c->new_row);
			}
			if (eo != NULL && en != NULL && strcmp(eo, en) != 0) {
				fputs(" (expected ", f);
				put_term(f, eo);
				fputs(" -> ", f);
				put_term(f, en);
				fputc(')', f);
			} else if (en != NULL || eo != NULL) {
				fputs(" (expected ", f);
				put_term(f, en != NULL ? en : eo);
				fputc(')', f);
			}
			if (c->new_row.detail != NULL) {
				fputs(": ", f);
				put_term(f, c->new_row.detail);
			}
			fputc('\n', f);
		}
	}
	if (d->n_measures > 0) {
		fprintf(f, "\nmeasurements (moved more than %s%%; percentage points for %% values):\n",
			fmt_num(d->tolerance_pct, 2, t, sizeof(t)));
		for (size_t i = 0; i < d->n_measures; i++) {
			const struct mc_diff_measure *m = &d->measures[i];
			char values[128], change[64];

			fmt_measure(m, values, sizeof(values), change, sizeof(change));
			fputs("  ", f);
			put_term(f, m->suite);
			fputc('/', f);
			put_term(f, m->name);
			fputs(": ", f);
			put_term(f, m->measure);
			fprintf(f, " %s (%s)\n", values, change);
		}
	}
}

/* ------------------------------------------------------------------- JSON */

static void
jstr(cJSON *o, const char *key, const char *v)
{
	if (v == NULL) {
		cJSON_AddNullToObject(o, key);
	} else {
		char *s = mc_utf8_sanitize(v);

		cJSON_AddStringToObject(o, key, s);
		free(s);
	}
}

static cJSON *
row_json(const struct mc_diff_row *r, bool present)
{
	cJSON *o;

	if (!present)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	jstr(o, "expected", r->expected);
	jstr(o, "seen", r->seen);
	cJSON_AddBoolToObject(o, "ok", r->ok);
	if (r->detail != NULL)
		jstr(o, "detail", r->detail);
	return o;
}

cJSON *
mc_diff_json(const struct mc_diff *d)
{
	cJSON *root = cJSON_CreateObject(), *o, *a;

	cJSON_AddStringToObject(root, "schema", "meshcheck.diff/1");
	jstr(root, "old_run", d->old_id);
	jstr(root, "new_run", d->new_id);
	cJSON_AddNumberToObject(root, "tolerance_pct", d->tolerance_pct);
	cJSON_AddBoolToObject(root, "regressed", mc_diff_regressed(d));
	o = cJSON_AddObjectToObject(root, "summary");
	cJSON_AddNumberToObject(o, "regressed", (double)d->n_regressed);
	cJSON_AddNumberToObject(o, "fixed", (double)d->n_fixed);
	cJSON_AddNumberToObject(o, "changed", (double)d->n_other);
	cJSON_AddNumberToObject(o, "added", (double)d->n_added);
	cJSON_AddNumberToObject(o, "removed", (double)d->n_removed);
	cJSON_AddNumberToObject(o, "cells", (double)d->n_cells);
	cJSON_AddNumberToObject(o, "measurements", (double)d->n_measures);
	a = cJSON_AddArrayToObject(root, "cases");
	for (size_t i = 0; i < d->n_cases; i++) {
		const struct mc_diff_case *c = &d->cases[i];
		cJSON *e = cJSON_CreateObject();

		jstr(e, "suite", c->suite);
		jstr(e, "case", c->name);
		jstr(e, "check", c->check);
		cJSON_AddStringToObject(e, "change", case_change_word(c));
		jstr(e, "old", c->old_status);
		jstr(e, "new", c->new_status);
		jstr(e, "reason", c->new_reason);
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(root, "cells");
	for (size_t i = 0; i < d->n_cells; i++) {
		const struct mc_diff_cell *c = &d->cells[i];
		cJSON *e = cJSON_CreateObject();

		jstr(e, "suite", c->suite);
		jstr(e, "case", c->name);
		jstr(e, "row", c->row);
		cJSON_AddStringToObject(e, "change", change_word(c->change));
		cJSON_AddItemToObject(e, "old", row_json(&c->old_row, c->change != MC_DIFF_ADDED));
		cJSON_AddItemToObject(e, "new", row_json(&c->new_row, c->change != MC_DIFF_REMOVED));
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(root, "measurements");
	for (size_t i = 0; i < d->n_measures; i++) {
		const struct mc_diff_measure *m = &d->measures[i];
		cJSON *e = cJSON_CreateObject();

		jstr(e, "suite", m->suite);
		jstr(e, "case", m->name);
		jstr(e, "name", m->measure);
		jstr(e, "unit", m->unit);
		cJSON_AddNumberToObject(e, "old", m->old_value);
		cJSON_AddNumberToObject(e, "new", m->new_value);
		cJSON_AddNumberToObject(e, "delta", m->delta);
		if (isfinite(m->relative_pct))
			cJSON_AddNumberToObject(e, "relative_pct", m->relative_pct);
		else
			cJSON_AddNullToObject(e, "relative_pct");
		cJSON_AddItemToArray(a, e);
	}
	return root;
}

/* ------------------------------------------------------------------- HTML */

static void
put_esc(struct mc_buf *b, const char *s)
{
	char *e = mc_html_escape(s != NULL ? s : "");

	mc_buf_puts(b, e);
	free(e);
}

/* A status as the report shows it (a coloured label with the word), or "-" when absent. */
static void
put_status(struct mc_buf *b, const char *s)
{
	static const char *const known[] = {"pass", "fail", "skip", "error", NULL};

	if (s == NULL) {
		mc_buf_puts(b, "<span class=\"muted\">-</span>");
		return;
	}
	for (size_t i = 0; known[i] != NULL; i++)
		if (strcmp(s, known[i]) == 0) {
			char up[8];

			for (size_t k = 0; k <= strlen(s); k++)
				up[k] = (char)(s[k] >= 'a' && s[k] <= 'z' ? s[k] - 32 : s[k]);
			mc_buf_printf(b, "<span class=\"st %s\">%s</span>", s, up);
			return;
		}
	put_esc(b, s);
}

static void
put_case_id(struct mc_buf *b, const char *suite, const char *name)
{
	put_esc(b, suite);
	mc_buf_puts(b, "/");
	put_esc(b, name);
}

static void
put_row(struct mc_buf *b, const struct mc_diff_row *r, bool present)
{
	if (!present) {
		mc_buf_puts(b, "<span class=\"muted\">-</span>");
		return;
	}
	put_esc(b, r->seen);
	mc_buf_puts(b, r->ok ? " <span class=\"st pass\">OK</span>" : " <span class=\"st fail\">DIFFERS</span>");
	if (r->detail != NULL) {
		mc_buf_puts(b, "<br><span class=\"muted\">");
		put_esc(b, r->detail);
		mc_buf_puts(b, "</span>");
	}
}

char *
mc_diff_html(const struct mc_diff *d)
{
	struct mc_buf b;
	char t[48];

	mc_buf_init(&b, SIZE_MAX);
	mc_buf_puts(&b, "<section class=\"diff\">\n<h2>Changes since the baseline</h2>\n<p class=\"counts muted\">"
			"<span>baseline run ");
	put_esc(&b, d->old_id);
	mc_buf_printf(&b, "</span><span>%zu regressed</span><span>%zu fixed</span><span>%zu other verdict "
			  "change(s)</span><span>%zu added</span><span>%zu removed</span><span>%zu policy row(s) "
			  "changed</span><span>%zu measurement(s) moved more than %s%%</span></p>\n",
		      d->n_regressed, d->n_fixed, d->n_other, d->n_added, d->n_removed, d->n_cells, d->n_measures,
		      fmt_num(d->tolerance_pct, 2, t, sizeof(t)));
	if (mc_diff_empty(d))
		mc_buf_puts(&b, "<p>No verdict, policy row or measurement changed.</p>\n");
	if (d->n_cases > 0) {
		mc_buf_puts(&b, "<h3>Verdicts</h3>\n<table><tr><th>Case</th><th>Check</th><th>Before</th><th>After</th>"
				"<th>Change</th><th>Reason</th></tr>\n");
		for (size_t i = 0; i < d->n_cases; i++) {
			const struct mc_diff_case *c = &d->cases[i];

			mc_buf_puts(&b, c->regressed ? "<tr class=\"fail\"><td>" : "<tr><td>");
			put_case_id(&b, c->suite, c->name);
			mc_buf_puts(&b, "</td><td>");
			put_esc(&b, c->check);
			mc_buf_puts(&b, "</td><td>");
			put_status(&b, c->old_status);
			mc_buf_puts(&b, "</td><td>");
			put_status(&b, c->new_status);
			mc_buf_printf(&b, "</td><td>%s</td><td>", case_change_word(c));
			if (!is_pass(c->new_status))
				put_esc(&b, c->new_reason);
			mc_buf_puts(&b, "</td></tr>\n");
		}
		mc_buf_puts(&b, "</table>\n");
	}
	if (d->n_cells > 0) {
		mc_buf_puts(&b, "<h3>Policy rows</h3>\n<table><tr><th>Case</th><th>Row</th><th>Expected</th>"
				"<th>Before</th><th>After</th><th>Change</th></tr>\n");
		for (size_t i = 0; i < d->n_cells; i++) {
			const struct mc_diff_cell *c = &d->cells[i];
			const char *eo = c->old_row.expected, *en = c->new_row.expected;

			mc_buf_puts(&b, c->change != MC_DIFF_REMOVED && !c->new_row.ok ? "<tr class=\"fail\"><td>" : "<tr><td>");
			put_case_id(&b, c->suite, c->name);
			mc_buf_puts(&b, "</td><td>");
			put_esc(&b, c->row);
			mc_buf_puts(&b, "</td><td>");
			if (eo != NULL && en != NULL && strcmp(eo, en) != 0) {
				put_esc(&b, eo);
				mc_buf_puts(&b, " &rarr; ");
				put_esc(&b, en);
			} else {
				put_esc(&b, en != NULL ? en : eo != NULL ? eo : "?");
			}
			mc_buf_puts(&b, "</td><td>");
			put_row(&b, &c->old_row, c->change != MC_DIFF_ADDED);
			mc_buf_puts(&b, "</td><td>");
			put_row(&b, &c->new_row, c->change != MC_DIFF_REMOVED);
			mc_buf_printf(&b, "</td><td>%s</td></tr>\n", change_word(c->change));
		}
		mc_buf_puts(&b, "</table>\n");
	}
	if (d->n_measures > 0) {
		mc_buf_printf(&b, "<h3>Measurements</h3>\n<p class=\"muted\">Moved more than %s%% (percentage points "
				  "for values in %%, relative for latencies in ms).</p>\n<table><tr><th>Case</th>"
				  "<th>Measurement</th><th>Before</th><th>After</th><th>Change</th></tr>\n",
			      fmt_num(d->tolerance_pct, 2, t, sizeof(t)));
		for (size_t i = 0; i < d->n_measures; i++) {
			const struct mc_diff_measure *m = &d->measures[i];
			bool pct = strcmp(m->unit, "%") == 0;
			char a[48], c[48], values[128], change[64];

			fmt_measure(m, values, sizeof(values), change, sizeof(change));
			mc_buf_puts(&b, "<tr><td>");
			put_case_id(&b, m->suite, m->name);
			mc_buf_puts(&b, "</td><td>");
			put_esc(&b, m->measure);
			mc_buf_printf(&b, "</td><td class=\"num\">%s ", fmt_num(m->old_value, pct ? 1 : 3, a, sizeof(a)));
			put_esc(&b, m->unit);
			mc_buf_printf(&b, "</td><td class=\"num\">%s ", fmt_num(m->new_value, pct ? 1 : 3, c, sizeof(c)));
			put_esc(&b, m->unit);
			mc_buf_puts(&b, "</td><td class=\"num\">");
			put_esc(&b, change);
			mc_buf_puts(&b, "</td></tr>\n");
		}
		mc_buf_puts(&b, "</table>\n");
	}
	mc_buf_puts(&b, "</section>\n");
	return mc_buf_steal(&b);
}

/* ------------------------------------------------------------------ JUnit */

static void
add_count(void (*add)(const char *, const char *, void *), void *arg, const char *name, size_t n)
{
	char v[32];

	snprintf(v, sizeof(v), "%zu", n);
	add(name, v, arg);
}

void
mc_diff_junit_properties(const struct mc_diff *d, void (*add)(const char *name, const char *value, void *arg),
			 void *arg)
{
	add_count(add, arg, "diff.regressed", d->n_regressed);
	add_count(add, arg, "diff.fixed", d->n_fixed);
	add_count(add, arg, "diff.changed", d->n_other);
	add_count(add, arg, "diff.added", d->n_added);
	add_count(add, arg, "diff.removed", d->n_removed);
	add_count(add, arg, "diff.cells", d->n_cells);
	add_count(add, arg, "diff.measurements", d->n_measures);
	add("diff.baseline_run", d->old_id, arg);
	for (size_t i = 0; i < d->n_cases; i++) {
		const struct mc_diff_case *c = &d->cases[i];
		char *name = mc_xasprintf("diff.case.%s/%s", c->suite, c->name);
		char *value = mc_xasprintf("%s->%s", c->old_status != NULL ? c->old_status : "(none)",
					   c->new_status != NULL ? c->new_status : "(none)");

		add(name, value, arg);
		free(name);
		free(value);
	}
	for (size_t i = 0; i < d->n_cells; i++) {
		const struct mc_diff_cell *c = &d->cells[i];
		const char *eo = c->old_row.expected, *en = c->new_row.expected;
		char *name = mc_xasprintf("diff.cell.%s/%s/%s", c->suite, c->name, c->row);
		const char *from = c->change == MC_DIFF_ADDED ? "(none)" : c->old_row.seen;
		const char *to = c->change == MC_DIFF_REMOVED ? "(none)" : c->new_row.seen;
		char *value;

		if (eo != NULL && en != NULL && strcmp(eo, en) != 0)
			value = mc_xasprintf("%s->%s (expected %s->%s)", from, to, eo, en);
		else
			value = mc_xasprintf("%s->%s", from, to);
		add(name, value, arg);
		free(name);
		free(value);
	}
	for (size_t i = 0; i < d->n_measures; i++) {
		const struct mc_diff_measure *m = &d->measures[i];
		bool pct = strcmp(m->unit, "%") == 0;
		char *name = mc_xasprintf("diff.measure.%s/%s/%s", m->suite, m->name, m->measure);
		char a[48], b[48], *value;

		value = mc_xasprintf("%s->%s %s", fmt_num(m->old_value, pct ? 1 : 3, a, sizeof(a)),
				     fmt_num(m->new_value, pct ? 1 : 3, b, sizeof(b)), m->unit);
		add(name, value, arg);
		free(name);
		free(value);
	}
}
