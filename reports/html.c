/*
 * The HTML report: one self-contained file (inline CSS and SVG, no script,
 * no external fetch) that reads well in any browser and in a CI artefact
 * viewer. Every string from the run is escaped; a status is always shown as
 * a word as well as a colour.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

static const char *const style =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;"
	"max-width:1100px;padding:0 16px;color:#1d2430;background:#fff}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
	".muted{color:#5b6575}"
	"table{border-collapse:collapse;width:100%;margin:8px 0}"
	"th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e7ee;vertical-align:top}"
	"th{background:#f4f6f9;font-weight:600}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	".st{display:inline-block;min-width:46px;text-align:center;font-weight:700;font-size:12px;"
	"padding:1px 6px;border-radius:3px;color:#fff}"
	".pass{background:#1f7a3a}.fail{background:#b42318}.skip{background:#8a6d00}.error{background:#6e2a8c}"
	".abort{border:2px solid #b42318;background:#fdecea;padding:10px 14px;margin:14px 0;border-radius:4px}"
	"pre{background:#f6f8fa;border:1px solid #e3e7ee;padding:8px;overflow-x:auto;white-space:pre-wrap;"
	"word-break:break-word;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;margin:4px 0}"
	"details{margin:6px 0 14px}summary{cursor:pointer}"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}"
	"dl.facts dt{color:#5b6575}dl.facts dd{margin:0}"
	".counts span{margin-right:14px}";

static void
put_esc(struct mc_buf *b, const char *s)
{
	char *e = mc_html_escape(s);

	mc_buf_puts(b, e);
	free(e);
}

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

static void
put_status(struct mc_buf *b, enum mc_status s)
{
	mc_buf_printf(b, "<span class=\"st %s\">%s</span>", mc_status_name(s), status_word(s));
}

/* True for a relative path with no scheme: the only kind of link we write. */
static bool
safe_link(const char *p)
{
	size_t scheme = strcspn(p, ":/");

	return p[0] != '\0' && p[0] != '/' && p[scheme] != ':' && strstr(p, "..") == NULL;
}

/* A horizontal bar of the outcome shares, with a text legend beside it. */
static void
put_bar(struct mc_buf *b, struct mc_counts k)
{
	static const char *const colors[] = {"#1f7a3a", "#b42318", "#8a6d00", "#6e2a8c"};
	size_t parts[] = {k.passed, k.failed, k.skipped, k.errors};
	double x = 0;

	mc_buf_puts(b, "<svg width=\"400\" height=\"14\" role=\"img\" aria-label=\"outcome shares\" "
		       "xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"400\" height=\"14\" fill=\"#e3e7ee\"/>");
	for (size_t i = 0; i < 4 && k.total > 0; i++) {
		double w = 400.0 * (double)parts[i] / (double)k.total;

		if (parts[i] == 0)
			continue;
		mc_buf_printf(b, "<rect x=\"%.1f\" width=\"%.1f\" height=\"14\" fill=\"%s\"/>", x, w, colors[i]);
		x += w;
	}
	mc_buf_puts(b, "</svg>");
}

static void
put_fact(struct mc_buf *b, const char *name, const char *value)
{
	mc_buf_puts(b, "<dt>");
	put_esc(b, name);
	mc_buf_puts(b, "</dt><dd>");
	put_esc(b, value);
	mc_buf_puts(b, "</dd>");
}

static void
put_case_details(struct mc_buf *b, const struct mc_case *c, bool open)
{
	mc_buf_printf(b, "<details%s><summary>", open ? " open" : "");
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
		for (size_t i = 0; i < c->n_measures; i++) {
			mc_buf_puts(b, "<tr><td>");
			put_esc(b, c->measures[i].name);
			mc_buf_printf(b, "</td><td class=\"num\">%g ", c->measures[i].value);
			put_esc(b, c->measures[i].unit);
			mc_buf_puts(b, "</td></tr>");
		}
		mc_buf_puts(b, "</table>");
	}
	if (c->n_evidence > 0) {
		mc_buf_puts(b, "<div class=\"muted\">Evidence</div><ul>");
		for (size_t i = 0; i < c->n_evidence; i++) {
			mc_buf_puts(b, "<li>");
			put_esc(b, c->evidence[i].label);
			mc_buf_puts(b, ": ");
			if (safe_link(c->evidence[i].path)) {
				mc_buf_puts(b, "<a href=\"");
				put_esc(b, c->evidence[i].path);
				mc_buf_puts(b, "\">");
				put_esc(b, c->evidence[i].path);
				mc_buf_puts(b, "</a>");
			} else {
				mc_buf_puts(b, "<code>");
				put_esc(b, c->evidence[i].path);
				mc_buf_puts(b, "</code>");
			}
			mc_buf_puts(b, "</li>");
		}
		mc_buf_puts(b, "</ul>");
	}
	mc_buf_puts(b, "</details>\n");
}

static void
put_suite(struct mc_buf *b, const struct mc_suite *s)
{
	struct mc_counts k = mc_suite_counts(s);

	mc_buf_puts(b, "<h2>Suite ");
	put_esc(b, s->name);
	mc_buf_printf(b, "</h2><p class=\"counts muted\"><span>%zu cases</span><span>%zu passed</span>"
			 "<span>%zu failed</span><span>%zu skipped</span><span>%zu errors</span>"
			 "<span>%.2f s</span>",
		      k.total, k.passed, k.failed, k.skipped, k.errors, s->duration);
	if (s->file != NULL) {
		mc_buf_puts(b, "<span>");
		put_esc(b, s->file);
		mc_buf_puts(b, "</span>");
	}
	mc_buf_puts(b, "</p>\n<table><tr><th>Status</th><th>Case</th><th>Check</th><th>Time</th><th>Reason</th></tr>\n");
	for (size_t i = 0; i < s->n_cases; i++) {
		const struct mc_case *c = s->cases[i];

		mc_buf_puts(b, "<tr><td>");
		put_status(b, c->status);
		mc_buf_puts(b, "</td><td>");
		put_esc(b, c->name);
		mc_buf_puts(b, "</td><td>");
		put_esc(b, c->check);
		mc_buf_printf(b, "</td><td class=\"num\">%.2f s</td><td>", c->duration);
		put_esc(b, c->reason != NULL && c->status != MC_RESULT_PASS ? c->reason : "");
		mc_buf_puts(b, "</td></tr>\n");
	}
	mc_buf_puts(b, "</table>\n");
	for (size_t i = 0; i < s->n_cases; i++)
		put_case_details(b, s->cases[i], s->cases[i]->status == MC_RESULT_FAIL ||
						 s->cases[i]->status == MC_RESULT_ERROR);
}

char *
mc_report_html_text(const struct mc_run *run)
{
	struct mc_buf b;
	struct mc_counts k = mc_run_counts(run);
	char start[32], dur[32];
	const char *verdict = run->aborted != NULL ? "ABORTED" : (k.failed + k.errors > 0 ? "FAILED" : "PASSED");

	mc_time_iso8601(run->start, start, sizeof(start));
	snprintf(dur, sizeof(dur), "%.1f s", run->end - run->start);
	mc_buf_init(&b, 0);
	mc_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			"style-src 'unsafe-inline'; img-src data:\"><title>meshcheck ");
	put_esc(&b, verdict);
	mc_buf_puts(&b, " — ");
	put_esc(&b, run->id);
	mc_buf_printf(&b, "</title><style>%s</style></head><body>\n", style);
	mc_buf_printf(&b, "<h1>meshcheck run: %s</h1>\n<p class=\"counts\">", verdict);
	mc_buf_printf(&b, "<span><strong>%zu</strong> cases</span><span><span class=\"st pass\">PASS</span> %zu</span>"
			  "<span><span class=\"st fail\">FAIL</span> %zu</span>"
			  "<span><span class=\"st skip\">SKIP</span> %zu</span>"
			  "<span><span class=\"st error\">ERROR</span> %zu</span></p>\n",
		      k.total, k.passed, k.failed, k.skipped, k.errors);
	put_bar(&b, k);
	if (run->aborted != NULL) {
		mc_buf_puts(&b, "<div class=\"abort\"><strong>The run stopped early:</strong> ");
		put_esc(&b, run->aborted);
		mc_buf_puts(&b, "</div>\n");
	}
	mc_buf_puts(&b, "<dl class=\"facts\">");
	put_fact(&b, "run id", run->id);
	put_fact(&b, "target", run->target);
	put_fact(&b, "started", start);
	put_fact(&b, "duration", dur);
	put_fact(&b, "host", run->hostname);
	put_fact(&b, "meshcheck", run->version);
	for (size_t i = 0; i < run->n_props; i++)
		put_fact(&b, run->props[i].name, run->props[i].value);
	mc_buf_puts(&b, "</dl>\n");
	if (run->n_suites == 0)
		mc_buf_puts(&b, "<p class=\"muted\">No suite ran.</p>\n");
	for (size_t i = 0; i < run->n_suites; i++)
		put_suite(&b, run->suites[i]);
	mc_buf_puts(&b, "</body></html>\n");
	return mc_buf_steal(&b);
}

int
mc_report_write_html(const struct mc_run *run, const char *path, char *err, size_t errlen)
{
	char *text = mc_report_html_text(run);
	int rc = mc_file_write(path, text, strlen(text), 0644, err, errlen);

	free(text);
	return rc;
}
