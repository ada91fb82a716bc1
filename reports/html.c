/*
 * The HTML report: one self-contained file (inline CSS and SVG, no script,
 * no external fetch) that reads well in any browser and in a CI artefact
 * viewer. Every string from the run is escaped; a status is always shown as
 * a word as well as a colour, so a failure never looks like a pass. A run
 * that stopped early says so in a box at the top, and its summary counts
 * the abort as one error (see mc_report_counts), like the other reports.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

static const char *const style =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;"
	"margin:24px auto;max-width:1100px;padding:0 16px;color:#1d2430;background:#fff}"
	"h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:28px 0 6px}"
	".muted{color:#5b6575}"
	"table{border-collapse:collapse;width:100%;margin:8px 0}"
	"th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e7ee;vertical-align:top}"
	"th{background:#f4f6f9;font-weight:600}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"tr.fail td,tr.error td{background:#fdf1f0}"
	".st{display:inline-block;min-width:46px;text-align:center;font-weight:700;font-size:12px;"
	"padding:1px 6px;border-radius:3px;color:#fff}"
	".st.pass{background:#1f7a3a}.st.fail{background:#b42318}.st.skip{background:#8a6d00}.st.error{background:#6e2a8c}"
	".abort{border:2px solid #b42318;background:#fdecea;padding:10px 14px;margin:14px 0;border-radius:4px}"
	"pre{background:#f6f8fa;border:1px solid #e3e7ee;padding:8px;overflow-x:auto;white-space:pre-wrap;"
	"word-break:break-word;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;margin:4px 0}"
	"details{margin:6px 0 14px}summary{cursor:pointer}"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}"
	"dl.facts dt{color:#5b6575}dl.facts dd{margin:0}"
	".counts span{margin-right:14px}";

/* Returns seconds fit for display: negative, NaN and infinite become 0. */
static double
secs(double t)
{
	return isfinite(t) && t > 0 ? t : 0.0;
}

/* Appends s escaped as HTML text or attribute value. */
static void
put_esc(struct mc_buf *b, const char *s)
{
	char *e = mc_html_escape(s);

	mc_buf_puts(b, e);
	free(e);
}

/* The status as a word, so it never depends on colour alone. */
static const char *
status_word(enum mc_status s)
{
	switch (s) {
	case MC_RESULT_PASS: return "PASS";
	case MC_RESULT_FAIL: return "FAIL";
	case MC_RESULT_SKIP: return "SKIP";
	case MC_RESULT_ERROR: return "ERROR";
	}
	return "ERROR";
}

/* Appends the coloured status label, e.g. <span class="st fail">FAIL</span>. */
static void
put_status(struct mc_buf *b, enum mc_status s)
{
	mc_buf_printf(b, "<span class=\"st %s\">%s</span>", mc_status_name(s), status_word(s));
}

/*
 * Returns true when p may become a link: a relative path that stays below
 * the report directory (no leading "/", no ".." component, no scheme such
 * as "javascript:"). Other paths are shown as text only.
 */
static bool
safe_link(const char *p)
{
	size_t scheme = strcspn(p, ":/");

	if (p[0] == '\0' || p[0] == '/' || p[scheme] == ':')
		return false;
	for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return false;
	return true;
}

/*
 * Appends p as an href value: every byte other than an unreserved URL
 * character or "/" is percent-encoded, so "#", "?", "%", quotes, spaces,
 * markup and non-ASCII bytes all name the file rather than change the URL.
 */
static void
put_href(struct mc_buf *b, const char *p)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *s = (const unsigned char *)p; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '.' || *s == '_' || *s == '~' || *s == '/') {
			mc_buf_append(b, s, 1);
		} else {
			char enc[3] = {'%', hex[*s >> 4], hex[*s & 0xf]};

			mc_buf_append(b, enc, 3);
		}
	}
}

/* Appends a horizontal bar of the outcome shares; the counts beside it carry the same in words. */
static void
put_bar(struct mc_buf *b, struct mc_counts k)
{
	static const char *const colors[] = {"#1f7a3a", "#b42318", "#8a6d00", "#6e2a8c"};
	size_t parts[] = {k.passed, k.failed, k.skipped, k.errors};
	double x = 0;

	mc_buf_printf(b, "<svg width=\"400\" height=\"14\" role=\"img\" aria-label=\"%zu passed, %zu failed, "
			 "%zu skipped, %zu errors\"><rect width=\"400\" height=\"14\" fill=\"#e3e7ee\"/>",
		      k.passed, k.failed, k.skipped, k.errors);
	for (size_t i = 0; i < 4 && k.total > 0; i++) {
		double w = 400.0 * (double)parts[i] / (double)k.total;

		if (parts[i] == 0)
			continue;
		mc_buf_printf(b, "<rect x=\"%.1f\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>", x, w, colors[i]);
		x += w;
	}
	mc_buf_puts(b, "</svg>\n");
}

/* Appends one <dt>name</dt><dd>value</dd> pair of the run facts. */
static void
put_fact(struct mc_buf *b, const char *name, const char *value)
{
	mc_buf_puts(b, "<dt>");
	put_esc(b, name);
	mc_buf_puts(b, "</dt><dd>");
	put_esc(b, value);
	mc_buf_puts(b, "</dd>");
}

/* Appends the evidence list of a case: links for safe relative paths, plain text otherwise. */
static void
put_evidence(struct mc_buf *b, const struct mc_case *c)
{
	mc_buf_puts(b, "<div class=\"muted\">Evidence</div><ul>");
	for (size_t i = 0; i < c->n_evidence; i++) {
		const char *path = c->evidence[i].path != NULL ? c->evidence[i].path : "";

		mc_buf_puts(b, "<li>");
		put_esc(b, c->evidence[i].label);
		mc_buf_puts(b, ": ");
		if (safe_link(path)) {
			mc_buf_puts(b, "<a href=\"");
			put_href(b, path);
			mc_buf_puts(b, "\">");
			put_esc(b, path);
			mc_buf_puts(b, "</a>");
		} else {
			mc_buf_puts(b, "<code>");
			put_esc(b, path);
			mc_buf_puts(b, "</code>");
		}
		mc_buf_puts(b, "</li>");
	}
	mc_buf_puts(b, "</ul>");
}

/*
 * Appends the expandable details of case j of suite i (anchor "s<i>c<j>"):
 * reason, expected, seen, measurements and evidence. open expands it, for
 * failures and errors.
 */
static void
put_case_details(struct mc_buf *b, const struct mc_case *c, size_t i, size_t j, bool open)
{
	mc_buf_printf(b, "<details id=\"s%zuc%zu\"%s><summary>", i, j, open ? " open" : "");
	put_status(b, c->status);
	mc_buf_puts(b, " ");
	put_esc(b, c->name);
	mc_buf_puts(b, "</summary>");
	if (c->reason != NULL) {
		mc_buf_puts(b, "<p><strong>Reason:</strong> ");
		put_esc(b, c->reason);
		mc_buf_puts(b, "</p>");
	}
	if (c->expected != NULL) {
		mc_buf_puts(b, "<div class=\"muted\">Expected</div><pre>");
		put_esc(b, c->expected);
		mc_buf_puts(b, "</pre>");
	}
	if (c->seen != NULL) {
		mc_buf_puts(b, "<div class=\"muted\">Seen</div><pre>");
		put_esc(b, c->seen);
		mc_buf_puts(b, "</pre>");
	}
	if (c->n_measures > 0) {
		mc_buf_puts(b, "<table><tr><th>Measurement</th><th>Value</th></tr>");
		for (size_t k = 0; k < c->n_measures; k++) {
			mc_buf_puts(b, "<tr><td>");
			put_esc(b, c->measures[k].name);
			mc_buf_printf(b, "</td><td class=\"num\">%g ", c->measures[k].value);
			put_esc(b, c->measures[k].unit);
			mc_buf_puts(b, "</td></tr>");
		}
		mc_buf_puts(b, "</table>");
	}
	if (c->n_evidence > 0)
		put_evidence(b, c);
	mc_buf_puts(b, "</details>\n");
}

/*
 * Appends suite i: a heading with its counts, a table with one row per case
 * (status label, case linked to its details, check, time, reason), then the
 * details of every case.
 */
static void
put_suite(struct mc_buf *b, const struct mc_suite *s, size_t i)
{
	struct mc_counts k = mc_suite_counts(s);

	mc_buf_puts(b, "<h2>Suite ");
	put_esc(b, s->name);
	mc_buf_printf(b, "</h2>\n<p class=\"counts muted\"><span>%zu cases</span><span>%zu passed</span>"
			 "<span>%zu failed</span><span>%zu skipped</span><span>%zu errors</span>"
			 "<span>%.2f s</span>",
		      k.total, k.passed, k.failed, k.skipped, k.errors, secs(s->duration));
	if (s->file != NULL) {
		mc_buf_puts(b, "<span>");
		put_esc(b, s->file);
		mc_buf_puts(b, "</span>");
	}
	mc_buf_puts(b, "</p>\n<table><tr><th>Status</th><th>Case</th><th>Check</th><th>Time</th><th>Reason</th></tr>\n");
	for (size_t j = 0; j < s->n_cases; j++) {
		const struct mc_case *c = s->cases[j];

		mc_buf_printf(b, "<tr class=\"%s\"><td>", mc_status_name(c->status));
		put_status(b, c->status);
		mc_buf_printf(b, "</td><td><a href=\"#s%zuc%zu\">", i, j);
		put_esc(b, c->name);
		mc_buf_puts(b, "</a></td><td>");
		put_esc(b, c->check);
		mc_buf_printf(b, "</td><td class=\"num\">%.2f s</td><td>", secs(c->duration));
		put_esc(b, c->status != MC_RESULT_PASS ? c->reason : NULL);
		mc_buf_puts(b, "</td></tr>\n");
	}
	mc_buf_puts(b, "</table>\n");
	for (size_t j = 0; j < s->n_cases; j++)
		put_case_details(b, s->cases[j], i, j,
				 s->cases[j]->status == MC_RESULT_FAIL || s->cases[j]->status == MC_RESULT_ERROR);
}

/* The one-word verdict of the run, in the title and the heading. */
static const char *
verdict(const struct mc_run *run, struct mc_counts k)
{
	if (run->aborted != NULL)
		return "ABORTED";
	if (k.failed + k.errors > 0)
		return "FAILED";
	if (k.total == 0)
		return "NO CASES RAN";
	return "PASSED";
}

/* Returns the whole page (see the comment at the top); the caller frees it. */
char *
mc_report_html_text(const struct mc_run *run)
{
	struct mc_buf b;
	struct mc_counts k = mc_report_counts(run);
	const char *v = verdict(run, k);
	char start[32], end[32], dur[32];

	mc_time_iso8601(run->start, start, sizeof(start));
	mc_time_iso8601(run->end, end, sizeof(end));
	snprintf(dur, sizeof(dur), "%.1f s", secs(run->end - run->start));
	mc_buf_init(&b, SIZE_MAX);
	mc_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			"style-src 'unsafe-inline'\"><title>meshcheck ");
	mc_buf_puts(&b, v);
	mc_buf_puts(&b, " \xe2\x80\x94 ");
	put_esc(&b, run->id);
	mc_buf_printf(&b, "</title><style>%s</style></head><body>\n", style);
	mc_buf_printf(&b, "<h1>meshcheck run: %s</h1>\n", v);
	if (run->aborted != NULL) {
		mc_buf_puts(&b, "<div class=\"abort\"><span class=\"st error\">ERROR</span> "
				"<strong>The run stopped early:</strong> ");
		put_esc(&b, run->aborted);
		mc_buf_puts(&b, "<br><span class=\"muted\">Suites below show what ran before it stopped; "
				"the abort counts as one error.</span></div>\n");
	}
	mc_buf_printf(&b, "<p class=\"counts\"><span><strong>%zu</strong> cases</span>"
			  "<span><span class=\"st pass\">PASS</span> %zu</span>"
			  "<span><span class=\"st fail\">FAIL</span> %zu</span>"
			  "<span><span class=\"st skip\">SKIP</span> %zu</span>"
			  "<span><span class=\"st error\">ERROR</span> %zu</span></p>\n",
		      k.total, k.passed, k.failed, k.skipped, k.errors);
	put_bar(&b, k);
	mc_buf_puts(&b, "<dl class=\"facts\">");
	put_fact(&b, "run id", run->id);
	put_fact(&b, "target", run->target);
	put_fact(&b, "started", start);
	put_fact(&b, "ended", end);
	put_fact(&b, "duration", dur);
	put_fact(&b, "host", run->hostname);
	put_fact(&b, "meshcheck", run->version);
	for (size_t i = 0; i < run->n_props; i++)
		put_fact(&b, run->props[i].name, run->props[i].value);
	mc_buf_puts(&b, "</dl>\n");
	if (run->n_suites == 0)
		mc_buf_puts(&b, "<p class=\"muted\">No suite ran.</p>\n");
	for (size_t i = 0; i < run->n_suites; i++)
		put_suite(&b, run->suites[i], i);
	mc_buf_puts(&b, "</body></html>\n");
	return mc_buf_steal(&b);
}

/* Writes the page to path atomically. */
int
mc_report_write_html(const struct mc_run *run, const char *path, char *err, size_t errlen)
{
	char *text = mc_report_html_text(run);
	int rc = mc_file_write(path, text, strlen(text), 0644, err, errlen);

	free(text);
	return rc;
}
