/*
 * The HTML report: one self-contained file (inline CSS and SVG, no script,
 * no external fetch) that reads well in any browser and in a CI artefact
 * viewer. Every string from the run is escaped; a status is always shown as
 * a word as well as a colour, so a failure never looks like a pass. A run
 * that stopped early says so in a box at the top, and its summary counts
 * the abort as one error (see mc_report_counts), like the other reports.
 * A flaky case (passed only after a failed attempt) carries a FLAKY label
 * beside its PASS, is counted apart in the summaries and the bar, and lists
 * its attempts in its details, which are open; so does a case that failed
 * every attempt.
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
	".st.flaky{background:#0b5cad;outline:2px dashed #0b5cad;outline-offset:1px}"
	"tr.flaky td{background:#eef5fc}"
	".flakynote{border:2px dashed #0b5cad;background:#eef5fc;padding:8px 14px;margin:14px 0;border-radius:4px}"
	".abort{border:2px solid #b42318;background:#fdecea;padding:10px 14px;margin:14px 0;border-radius:4px}"
	"pre{background:#f6f8fa;border:1px solid #e3e7ee;padding:8px;overflow-x:auto;white-space:pre-wrap;"
	"word-break:break-word;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;margin:4px 0}"
	"details{margin:6px 0 14px}summary{cursor:pointer}"
	"dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:10px 0}"
	"dl.facts dt{color:#5b6575}dl.facts dd{margin:0}"
	"table.grid td{text-align:center;font-weight:600}table.grid td.pass{background:#d9f2e1}"
	"table.grid td.fail{background:#f9d6d2;outline:2px solid #b42318}table.grid td.error{background:#ead9f2}"
	"table.grid td.skip{background:#f5ecc8}table.grid td.none{color:#8a94a6}"
	".counts span{margin-right:14px}"
	"svg.tl{display:block;max-width:100%;height:auto;margin:6px 0}"
	".tl text{font:11px system-ui,sans-serif;fill:#1d2430}"
	".tl .grid{stroke:#e3e7ee}.tl .axis{stroke:#5b6575}"
	".tl .hit{fill:transparent}.tl .bar:hover .hit{fill:#eef1f5}"
	".tl .ok{fill:#8fd3a0}.tl .failed{fill:#a8170f}"
	".tl .p99{fill:none;stroke:#1d4ed8;stroke-width:1.5;stroke-linecap:round;stroke-linejoin:round}"
	".tl .p99max{fill:#1d4ed8}.tl .p99lbl{fill:#1d4ed8}"
	".tl .lblbg{fill:#fff;fill-opacity:.85}"
	".tl .bar rect{shape-rendering:crispEdges}"
	".tl .markline{stroke:#1d2430;stroke-width:1.2;stroke-dasharray:5 3}"
	"p.tlsum{margin:4px 0}";

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

/* The FLAKY label, in words as well as its own colour. */
#define FLAKY_LABEL "<span class=\"st flaky\">FLAKY</span>"

/* Appends a case's status label, followed by FLAKY for a flaky case. */
static void
put_case_status(struct mc_buf *b, const struct mc_case *c)
{
	put_status(b, c->status);
	if (c->flaky)
		mc_buf_puts(b, " " FLAKY_LABEL);
}

/* The attempts before a flaky case's last one (all failed or errored). */
static size_t
failed_attempts(const struct mc_case *c)
{
	return c->n_attempts > 0 ? c->n_attempts - 1 : 0;
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

/*
 * Appends a horizontal bar of the outcome shares, flaky passes apart from
 * clean ones; the counts beside it carry the same in words.
 */
static void
put_bar(struct mc_buf *b, struct mc_counts k)
{
	static const char *const colors[] = {"#1f7a3a", "#0b5cad", "#b42318", "#8a6d00", "#6e2a8c"};
	size_t flaky = k.flaky < k.passed ? k.flaky : k.passed;
	size_t parts[] = {k.passed - flaky, flaky, k.failed, k.skipped, k.errors};
	double x = 0;

	mc_buf_printf(b, "<svg width=\"400\" height=\"14\" role=\"img\" aria-label=\"%zu passed (%zu of them flaky), "
			 "%zu failed, %zu skipped, %zu errors\"><rect width=\"400\" height=\"14\" fill=\"#e3e7ee\"/>",
		      k.passed, flaky, k.failed, k.skipped, k.errors);
	for (size_t i = 0; i < 5 && k.total > 0; i++) {
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
 * The timeline chart: an inline SVG drawn here, no script. Sizes are SVG
 * user units; the viewBox is TL_W wide and the page scales it down to fit,
 * so a long timeline gets thinner bars, never a wider page. One bar per
 * point up to TL_BARS_MAX points; a longer timeline gets one bar per group
 * of neighbouring points (its mean per second, its totals in the title),
 * which keeps the page's size bounded whatever the timeline's length.
 */
#define TL_W 960.0
#define TL_PLOT_H 180.0
#define TL_LEFT 56.0       /* room for the request axis */
#define TL_RIGHT 64.0      /* room for the p99 axis */
#define TL_BOTTOM 66.0     /* x tick labels, the axis title and the legend */
#define TL_ROW 13.0        /* one row of mark labels above the plot */
#define TL_ROWS 3          /* rows of mark labels at most */
#define TL_BARS_MAX 600    /* bars at most: about a pixel and a half each at full width */
#define TL_MARKS_DRAWN 50  /* marks drawn in the chart at most */
#define TL_LABEL_MAX 40    /* bytes of a mark label drawn in the chart */
#define TL_LIST_MAX 20     /* marks, failed spans and failures listed under the chart */
#define TL_TEXT_MAX 300    /* bytes of a path or what in the list */
#define TL_FAIL_MIN_H 2.0  /* a failed bar is at least this tall, so a single failure shows */
#define TL_T_LIMIT 1e9     /* times beyond this many seconds either way are drawn at the limit */

/* One bar: a point, or a group of neighbouring points when the timeline is long. */
struct bar {
	double t0, t1;              /* the seconds it covers: from t0 to t1 */
	size_t n;                   /* points in it */
	int64_t sent, ok, failed;   /* totals over them (counts below zero as zero) */
	double p99_ms;              /* the highest p99 among them; < 0 when none has one */
};

/* Where the chart's scales put things. */
struct chart {
	double x0, x1; /* seconds at the plot's left and right edges */
	double top;    /* y of the plot's top edge */
	double ytop;   /* requests per second at the top */
	double ptop;   /* p99 ms at the top; 0 when no bar has a p99 */
};

static double
clamp_t(double t)
{
	return t < -TL_T_LIMIT ? -TL_T_LIMIT : t > TL_T_LIMIT ? TL_T_LIMIT : t;
}

/* The x of time t. */
static double
chart_x(const struct chart *g, double t)
{
	return TL_LEFT + (clamp_t(t) - g->x0) * (TL_W - TL_LEFT - TL_RIGHT) / (g->x1 - g->x0);
}

/* The y of a number of requests per second. */
static double
chart_y(const struct chart *g, double v)
{
	return g->top + TL_PLOT_H - v * TL_PLOT_H / g->ytop;
}

/* The y of a p99 in ms, on the secondary scale. */
static double
chart_p(const struct chart *g, double ms)
{
	return g->top + TL_PLOT_H - ms * TL_PLOT_H / g->ptop;
}

/* A tick step of 1, 2 or 5 times a power of ten that cuts span into about want parts. */
static double
nice_step(double span, int want)
{
	double raw, mag, norm;

	if (!isfinite(span) || span <= 0)
		return 1;
	raw = span / want;
	mag = pow(10, floor(log10(raw)));
	norm = raw / mag;
	return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/* Writes a latency in ms with a precision that suits its size: "0.42", "3.1", "250". */
static void
fmt_ms(double ms, char *out, size_t outlen)
{
	snprintf(out, outlen, ms < 1 ? "%.2f" : ms < 100 ? "%.1f" : "%.0f", ms);
}

/* The number of characters of UTF-8 text (continuation bytes do not count). */
static size_t
text_chars(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

/* Returns the bars of tl, per points of each (1 unless the timeline is long), their number in *n. */
static struct bar *
make_bars(const struct mc_timeline *tl, size_t *n)
{
	size_t per = (tl->n_points + TL_BARS_MAX - 1) / TL_BARS_MAX, count = 0;
	struct bar *bars = mc_xcalloc(tl->n_points / (per > 0 ? per : 1) + 1, sizeof(*bars));

	per = per > 0 ? per : 1;
	for (size_t i = 0; i < tl->n_points; i += per, count++) {
		struct bar *r = &bars[count];

		r->t0 = clamp_t(mc_timeline_point_t(tl, i));
		r->p99_ms = -1;
		for (size_t j = i; j < i + per && j < tl->n_points; j++) {
			const struct mc_timeline_point *p = &tl->points[j];

			r->n++;
			r->t1 = clamp_t(mc_timeline_point_t(tl, j)) + 1;
			r->sent = mc_timeline_add(r->sent, p->sent);
			r->ok = mc_timeline_add(r->ok, p->ok);
			r->failed = mc_timeline_add(r->failed, p->failed);
			if (mc_timeline_point_has_p99(p) && p->p99_ms > r->p99_ms)
				r->p99_ms = p->p99_ms;
		}
	}
	*n = count;
	return bars;
}

/* A mark label's place above the plot: its row and the span of x it covers. */
struct mark_slot {
	char *text; /* the label cut to one short line */
	double x, from, to;
	int row;    /* -1 for a mark whose time is not finite: not drawn */
	bool end;   /* anchored at its end, left of the line (near the right edge) */
};

/*
 * Places the labels of the first n marks in rows above the plot: each goes
 * in the first row where it overlaps no earlier label, or, when every row
 * is taken there, in the row its index gives. Returns the rows used.
 */
static int
place_marks(const struct chart *g, const struct mc_timeline *tl, struct mark_slot *slots, size_t n)
{
	int rows = 1;

	for (size_t i = 0; i < n; i++) {
		struct mark_slot *m = &slots[i];
		double w;

		m->text = mc_report_one_line(tl->marks[i].label, TL_LABEL_MAX);
		m->row = -1;
		if (!isfinite(tl->marks[i].t))
			continue;
		w = 6.0 * (double)text_chars(m->text) + 2;
		m->x = chart_x(g, tl->marks[i].t);
		m->end = m->x + 3 + w > TL_W - 2;
		m->from = m->end ? m->x - 3 - w : m->x + 3;
		m->to = m->end ? m->x - 3 : m->x + 3 + w;
		for (int r = 0; r < TL_ROWS && m->row < 0; r++) {
			bool taken = false;

			for (size_t j = 0; j < i && !taken; j++)
				taken = slots[j].row == r && m->from < slots[j].to + 4 && slots[j].from < m->to + 4;
			if (!taken)
				m->row = r;
		}
		if (m->row < 0)
			m->row = (int)(i % TL_ROWS);
		if (m->row + 1 > rows)
			rows = m->row + 1;
	}
	return rows;
}

/* Appends the grid, the ticks and their labels, the axes and their titles. */
static void
put_chart_axes(struct mc_buf *b, const struct chart *g, double start_unix, size_t per)
{
	double bottom = g->top + TL_PLOT_H, right = TL_W - TL_RIGHT, step, first;
	char when[32];

	step = nice_step(g->ytop, 4);
	for (int k = 0; k <= 10 && k * step <= g->ytop * (1 + 1e-9); k++) {
		double y = chart_y(g, k * step);

		mc_buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>",
			      TL_LEFT, y, right, y, TL_LEFT - 5, y + 4, k * step);
	}
	if (g->ptop > 0) {
		step = nice_step(g->ptop, 4);
		for (int k = 0; k <= 10 && k * step <= g->ptop * (1 + 1e-9); k++)
			mc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%g</text>", right + 5, chart_p(g, k * step) + 4,
				      k * step);
		mc_buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", right, g->top,
			      right, bottom);
		mc_buf_printf(b, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\">"
				 "p99 latency (ms)</text>",
			      TL_W - 8, g->top + TL_PLOT_H / 2);
	}
	step = nice_step(g->x1 - g->x0, 8);
	step = step < 1 ? 1 : step;
	first = ceil(g->x0 / step);
	for (int k = 0; k <= 40 && (first + k) * step <= g->x1; k++) {
		double t = (first + k) * step, x = chart_x(g, t);

		mc_buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>",
			      x, bottom, x, bottom + 4, x, bottom + 15, t);
	}
	mc_buf_printf(b, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			 "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
		      TL_LEFT, g->top, TL_LEFT, bottom, TL_LEFT, bottom, right, bottom);
	mc_time_iso8601(isfinite(start_unix) ? start_unix : 0, when, sizeof(when));
	mc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">seconds from %s</text>",
		      TL_LEFT + (right - TL_LEFT) / 2, bottom + 31, when);
	mc_buf_printf(b, "<text transform=\"translate(13 %.1f) rotate(-90)\" text-anchor=\"middle\">requests per second",
		      g->top + TL_PLOT_H / 2);
	if (per > 1)
		mc_buf_printf(b, ", mean of %zu s a bar", per);
	mc_buf_puts(b, "</text>");
}

/* Appends the legend, in words, so the chart reads the same in black and white. */
static void
put_chart_legend(struct mc_buf *b, const struct chart *g, bool p99)
{
	double y = g->top + TL_PLOT_H + 50, x = TL_LEFT;

	mc_buf_printf(b, "<rect class=\"ok\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\"/>"
			 "<text x=\"%.1f\" y=\"%.1f\">ok requests</text>",
		      x, y - 9, x + 14, y);
	x += 100;
	mc_buf_printf(b, "<rect class=\"failed\" x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\"/>"
			 "<text x=\"%.1f\" y=\"%.1f\">failed requests (dark, stacked on top)</text>",
		      x, y - 9, x + 14, y);
	x += 250;
	if (p99) {
		mc_buf_printf(b, "<path class=\"p99\" d=\"M%.1f %.1fh20\"/>"
				 "<text x=\"%.1f\" y=\"%.1f\">p99 latency (line, right scale)</text>",
			      x, y - 4, x + 24, y);
		x += 210;
	}
	mc_buf_printf(b, "<line class=\"markline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			 "<text x=\"%.1f\" y=\"%.1f\">marks (dashed, labelled above)</text>",
		      x + 5, y - 11, x + 5, y + 2, x + 12, y);
}

/*
 * Appends the bars: a group each whose title reads, on hover, "t=12s: 40
 * sent, 2 failed, p99 3.1 ms" (for a group of points, "t=12-14s: ..." with
 * the totals and the highest p99), with a transparent rect over the whole
 * column so the title shows anywhere in it, the ok requests from the axis
 * up and the failed ones stacked on top. A bar with failures always gets
 * its failed rect, at least TL_FAIL_MIN_H tall.
 */
static void
put_chart_bars(struct mc_buf *b, const struct chart *g, const struct bar *bars, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct bar *r = &bars[i];
		double x = chart_x(g, r->t0), col = chart_x(g, r->t1) - x, w = col >= 3 ? col - 1 : col;
		double y_ok = chart_y(g, (double)r->ok / (double)r->n);
		char t0[48], t1[48], ms[32];

		mc_timeline_fmt_t(r->t0, -1, t0, sizeof(t0));
		mc_timeline_fmt_t(r->t1 - 1, -1, t1, sizeof(t1));
		mc_buf_printf(b, "<g class=\"bar\"><title>t=%s%s%ss: %lld sent, %lld failed", t0, r->n > 1 ? "-" : "",
			      r->n > 1 ? t1 : "", (long long)r->sent, (long long)r->failed);
		if (r->p99_ms >= 0) {
			fmt_ms(r->p99_ms, ms, sizeof(ms));
			mc_buf_printf(b, ", p99 %s ms", ms);
		}
		mc_buf_printf(b, "</title><rect class=\"hit\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>", x,
			      g->top, col, TL_PLOT_H);
		if (r->ok > 0)
			mc_buf_printf(b, "<rect class=\"ok\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>", x, y_ok,
				      w, g->top + TL_PLOT_H - y_ok);
		if (r->failed > 0) {
			double h = (double)r->failed / (double)r->n * TL_PLOT_H / g->ytop;

			h = h < TL_FAIL_MIN_H ? TL_FAIL_MIN_H : h;
			h = y_ok - h < g->top ? y_ok - g->top : h;
			h = h < TL_FAIL_MIN_H ? TL_FAIL_MIN_H : h;
			mc_buf_printf(b, "<rect class=\"failed\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>", x,
				      y_ok - h, w, h);
		}
		mc_buf_puts(b, "</g>");
	}
}

/*
 * Appends the p99 line through the middle of each bar that has a p99,
 * broken where one has none (a lone point shows as a dot, through the
 * line's round caps), and a dot with a label at its maximum.
 */
static void
put_chart_p99(struct mc_buf *b, const struct chart *g, const struct bar *bars, size_t n)
{
	bool any = false;
	size_t max_i = 0;
	double max_ms = -1;
	char ms[32];

	mc_buf_puts(b, "<path class=\"p99\" d=\"");
	for (size_t i = 0; i < n; i++) {
		const struct bar *r = &bars[i];
		bool joined = i > 0 && bars[i - 1].p99_ms >= 0 && fabs(r->t0 - bars[i - 1].t1) < 0.01;

		if (r->p99_ms < 0)
			continue;
		mc_buf_printf(b, "%s%c%.1f %.1f", any ? " " : "", joined ? 'L' : 'M', chart_x(g, (r->t0 + r->t1) / 2),
			      chart_p(g, r->p99_ms));
		any = true;
		if (r->p99_ms > max_ms) {
			max_ms = r->p99_ms;
			max_i = i;
		}
	}
	mc_buf_puts(b, "\"/>");
	if (max_ms >= 0) {
		double x = chart_x(g, (bars[max_i].t0 + bars[max_i].t1) / 2), y = chart_p(g, max_ms), w, lx, ly;

		/* The label on a white ground beside the dot: above it unless that leaves the plot, left of it near the edge. */
		fmt_ms(max_ms, ms, sizeof(ms));
		w = 6.0 * (double)(strlen("p99 max  ms") + strlen(ms)) + 4;
		lx = x + 6 + w > TL_W - TL_RIGHT ? x - 6 - w : x + 6;
		ly = y - 7 < g->top + 10 ? y + 15 : y - 7;
		mc_buf_printf(b, "<circle class=\"p99max\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>"
				 "<rect class=\"lblbg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"13\"/>"
				 "<text class=\"p99lbl\" x=\"%.1f\" y=\"%.1f\">p99 max %s ms</text>",
			      x, y, lx, ly - 10, w, lx + 2, ly, ms);
	}
}

/* Appends the marks: a dashed line across the plot with its label above, and a title with its time. */
static void
put_chart_marks(struct mc_buf *b, const struct chart *g, const struct mc_timeline *tl, const struct mark_slot *slots,
		size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct mark_slot *m = &slots[i];
		double y = 3 + (m->row + 1) * TL_ROW;
		char ts[48];

		if (m->row < 0)
			continue;
		mc_timeline_fmt_t(tl->marks[i].t, 1, ts, sizeof(ts));
		mc_buf_puts(b, "<g class=\"mark\"><title>");
		put_esc(b, m->text);
		mc_buf_printf(b, " at t=%ss</title><line class=\"markline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				 "<text x=\"%.1f\" y=\"%.1f\"%s>",
			      ts, m->x, y + 2, m->x, g->top + TL_PLOT_H, m->end ? m->x - 3 : m->x + 3, y,
			      m->end ? " text-anchor=\"end\"" : "");
		put_esc(b, m->text);
		mc_buf_puts(b, "</text></g>");
	}
}

/*
 * Appends the chart of a timeline (see the comment above TL_W): bars of ok
 * and failed requests per second on the left scale, p99 as a line on the
 * right scale with its maximum labelled, the marks as labelled dashed
 * lines, axes with ticks and titles, and a legend in words.
 */
static void
put_timeline_chart(struct mc_buf *b, const struct mc_timeline *tl)
{
	size_t n_bars, n_marks = tl->n_marks < TL_MARKS_DRAWN ? tl->n_marks : TL_MARKS_DRAWN;
	struct bar *bars = make_bars(tl, &n_bars);
	struct mark_slot *slots = mc_xcalloc(n_marks + 1, sizeof(*slots));
	struct chart g = {.x0 = 0, .x1 = 1};
	double ymax = 1, pmax = 0, step, height;
	int rows;

	for (size_t i = 0; i < n_bars; i++) {
		const struct bar *r = &bars[i];
		double done = (double)r->ok + (double)r->failed;
		double v = ((double)r->sent > done ? (double)r->sent : done) / (double)r->n;

		g.x0 = r->t0 < g.x0 ? r->t0 : g.x0;
		g.x1 = r->t1 > g.x1 ? r->t1 : g.x1;
		ymax = v > ymax ? v : ymax;
		pmax = r->p99_ms > pmax ? r->p99_ms : pmax;
	}
	for (size_t i = 0; i < n_marks; i++) {
		double t = clamp_t(tl->marks[i].t);

		if (isfinite(t)) {
			g.x0 = t < g.x0 ? t : g.x0;
			g.x1 = t > g.x1 ? t : g.x1;
		}
	}
	step = nice_step(ymax, 4);
	step = step < 1 ? 1 : step;
	g.ytop = ceil(ymax / step) * step;
	if (pmax > 0) {
		step = nice_step(pmax, 4);
		g.ptop = ceil(pmax / step) * step;
	}
	rows = place_marks(&g, tl, slots, n_marks);
	g.top = 8 + rows * TL_ROW;
	height = g.top + TL_PLOT_H + TL_BOTTOM;
	mc_buf_printf(b, "<svg class=\"tl\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
			 "aria-label=\"Requests per second over time; the text below says the same\">"
			 "<title>Requests per second (ok and failed) and p99 latency over time</title>",
		      TL_W, height, TL_W, height);
	put_chart_axes(b, &g, tl->start_unix, n_bars > 0 ? bars[0].n : 1);
	put_chart_bars(b, &g, bars, n_bars);
	if (g.ptop > 0)
		put_chart_p99(b, &g, bars, n_bars);
	put_chart_marks(b, &g, tl, slots, n_marks);
	put_chart_legend(b, &g, g.ptop > 0);
	mc_buf_puts(b, "</svg>\n");
	for (size_t i = 0; i < n_marks; i++)
		free(slots[i].text);
	free(slots);
	free(bars);
}

/*
 * Appends the timeline in words, for a reader without the chart: totals,
 * the marks, the failed seconds as spans, and the first failures in a
 * table, each list cut at TL_LIST_MAX with "and N more".
 */
static void
put_timeline_text(struct mc_buf *b, const struct mc_timeline *tl)
{
	struct mc_timeline_totals k = mc_timeline_totals(tl);
	struct mc_failed_span *spans;
	size_t n_spans, shown;
	int64_t more;
	char when[32], num[64];

	mc_time_iso8601(isfinite(tl->start_unix) ? tl->start_unix : 0, when, sizeof(when));
	mc_buf_printf(b, "<p class=\"tlsum\">%zu s from %s: %lld sent, %lld ok, %lld failed", tl->n_points, when,
		      (long long)k.sent, (long long)k.ok, (long long)k.failed);
	if (k.p99_max_ms > 0) {
		fmt_ms(k.p99_max_ms, num, sizeof(num));
		mc_buf_printf(b, "; p99 at most %s ms", num);
	}
	mc_buf_puts(b, ".</p>");
	if (tl->n_marks > 0) {
		mc_buf_puts(b, "<p class=\"tlsum\">Marks: ");
		for (size_t i = 0; i < tl->n_marks && i < TL_LIST_MAX; i++) {
			char *label = mc_report_one_line(tl->marks[i].label, TL_TEXT_MAX);

			mc_timeline_fmt_t(tl->marks[i].t, 1, num, sizeof(num));
			mc_buf_puts(b, i > 0 ? "; " : "");
			put_esc(b, label);
			mc_buf_printf(b, " at t=%s s", num);
			free(label);
		}
		if (tl->n_marks > TL_LIST_MAX)
			mc_buf_printf(b, "; and %zu more", tl->n_marks - TL_LIST_MAX);
		mc_buf_puts(b, ".</p>");
	}
	spans = mc_timeline_failed_spans(tl, &n_spans);
	if (n_spans == 0) {
		mc_buf_puts(b, "<p class=\"tlsum\">No second had a failed request.</p>");
	} else {
		mc_buf_printf(b, "<p class=\"tlsum\">Failed seconds (%zu): ", k.failed_seconds);
		for (size_t i = 0; i < n_spans && i < TL_LIST_MAX; i++) {
			mc_timeline_fmt_span(&spans[i], num, sizeof(num));
			mc_buf_printf(b, "%s%s", i > 0 ? "; " : "", num);
		}
		if (n_spans > TL_LIST_MAX)
			mc_buf_printf(b, "; and %zu more", n_spans - TL_LIST_MAX);
		mc_buf_puts(b, ".</p>");
	}
	free(spans);
	shown = tl->n_failures < TL_LIST_MAX ? tl->n_failures : TL_LIST_MAX;
	if (shown > 0) {
		mc_buf_puts(b, "<table class=\"tlfail\"><tr><th>t (s)</th><th>Path</th><th>What</th></tr>");
		for (size_t i = 0; i < shown; i++) {
			char *path = mc_report_one_line(tl->failures[i].path, TL_TEXT_MAX);
			char *what = mc_report_one_line(tl->failures[i].what, TL_TEXT_MAX);

			mc_timeline_fmt_t(tl->failures[i].t, 2, num, sizeof(num));
			mc_buf_printf(b, "<tr><td class=\"num\">%s</td><td><code>", num);
			put_esc(b, path);
			mc_buf_puts(b, "</code></td><td>");
			put_esc(b, what);
			mc_buf_puts(b, "</td></tr>");
			free(path);
			free(what);
		}
		mc_buf_puts(b, "</table>");
	}
	more = (int64_t)(tl->n_failures - shown) + (tl->failures_dropped > 0 ? tl->failures_dropped : 0);
	if (more > 0)
		mc_buf_printf(b, "<p class=\"tlsum muted\">%s%lld more failed request(s) not listed.</p>",
			      shown > 0 ? "And " : "", (long long)more);
}

/* Appends a case's timeline: the chart when there are points, then the same in words. */
static void
put_timeline(struct mc_buf *b, const struct mc_timeline *tl)
{
	mc_buf_puts(b, "<div class=\"timeline\"><div class=\"muted\">Timeline</div>");
	if (tl->n_points > 0)
		put_timeline_chart(b, tl);
	put_timeline_text(b, tl);
	mc_buf_puts(b, "</div>");
}

/*
 * Appends a case's attempts as a table: number, outcome, time and reason,
 * under a line that says how the case ended.
 */
static void
put_attempts(struct mc_buf *b, const struct mc_case *c)
{
	if (c->flaky)
		mc_buf_printf(b, "<p>" FLAKY_LABEL " Passed on attempt %zu, after %zu failed attempt(s):</p>",
			      c->n_attempts, failed_attempts(c));
	else
		mc_buf_printf(b, "<p>No pass in %zu attempts:</p>", c->n_attempts);
	mc_buf_puts(b, "<table class=\"attempts\"><tr><th>Attempt</th><th>Outcome</th><th>Time</th><th>Reason</th></tr>");
	for (size_t k = 0; k < c->n_attempts; k++) {
		mc_buf_printf(b, "<tr><td class=\"num\">%zu</td><td>", k + 1);
		put_status(b, c->attempts[k].status);
		mc_buf_printf(b, "</td><td class=\"num\">%.2f s</td><td>", secs(c->attempts[k].duration));
		put_esc(b, c->attempts[k].reason);
		mc_buf_puts(b, "</td></tr>");
	}
	mc_buf_puts(b, "</table>");
}

/*
 * Appends the expandable details of case j of suite i (anchor "s<i>c<j>"):
 * reason, attempts, expected, seen, timeline, measurements and evidence.
 * open expands it, for failures, errors and flaky cases.
 */
static void
put_case_details(struct mc_buf *b, const struct mc_case *c, size_t i, size_t j, bool open)
{
	mc_buf_printf(b, "<details id=\"s%zuc%zu\"%s><summary>", i, j, open ? " open" : "");
	put_case_status(b, c);
	mc_buf_puts(b, " ");
	put_esc(b, c->name);
	mc_buf_puts(b, "</summary>");
	if (c->n_attempts > 0)
		put_attempts(b, c);
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
	if (c->timeline != NULL)
		put_timeline(b, c->timeline);
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
			 "<span>%zu flaky</span><span>%zu failed</span><span>%zu skipped</span><span>%zu errors</span>"
			 "<span>%.2f s</span>",
		      k.total, k.passed, k.flaky, k.failed, k.skipped, k.errors, secs(s->duration));
	if (s->file != NULL) {
		mc_buf_puts(b, "<span>");
		put_esc(b, s->file);
		mc_buf_puts(b, "</span>");
	}
	mc_buf_puts(b, "</p>\n");
	/* A policy matrix's cases drawn as its grid first. */
	mc_html_matrix(b, s);
	mc_buf_puts(b, "<table><tr><th>Status</th><th>Case</th><th>Check</th><th>Time</th><th>Reason</th></tr>\n");
	for (size_t j = 0; j < s->n_cases; j++) {
		const struct mc_case *c = s->cases[j];

		mc_buf_printf(b, "<tr class=\"%s%s\"><td>", mc_status_name(c->status), c->flaky ? " flaky" : "");
		put_case_status(b, c);
		mc_buf_printf(b, "</td><td><a href=\"#s%zuc%zu\">", i, j);
		put_esc(b, c->name);
		mc_buf_puts(b, "</a></td><td>");
		put_esc(b, c->check);
		mc_buf_printf(b, "</td><td class=\"num\">%.2f s</td><td>", secs(c->duration));
		if (c->flaky) {
			const struct mc_attempt *a = c->n_attempts >= 2 ? &c->attempts[c->n_attempts - 2] : NULL;

			mc_buf_printf(b, "flaky: passed on attempt %zu, after %zu failed", c->n_attempts,
				      failed_attempts(c));
			if (a != NULL) {
				mc_buf_printf(b, " (last: %s: ", mc_status_name(a->status));
				put_esc(b, a->reason);
				mc_buf_puts(b, ")");
			}
		} else {
			put_esc(b, c->status != MC_RESULT_PASS ? c->reason : NULL);
			if (c->status != MC_RESULT_PASS && c->n_attempts > 1)
				mc_buf_printf(b, " (no pass in %zu attempts)", c->n_attempts);
		}
		mc_buf_puts(b, "</td></tr>\n");
	}
	mc_buf_puts(b, "</table>\n");
	for (size_t j = 0; j < s->n_cases; j++)
		put_case_details(b, s->cases[j], i, j,
				 s->cases[j]->status == MC_RESULT_FAIL || s->cases[j]->status == MC_RESULT_ERROR ||
					 s->cases[j]->flaky);
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
	return mc_report_html_text_with(run, NULL);
}

char *
mc_report_html_text_with(const struct mc_run *run, const char *section)
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
			  "<span>" FLAKY_LABEL " %zu (passed, counted in PASS)</span>"
			  "<span><span class=\"st fail\">FAIL</span> %zu</span>"
			  "<span><span class=\"st skip\">SKIP</span> %zu</span>"
			  "<span><span class=\"st error\">ERROR</span> %zu</span></p>\n",
		      k.total, k.passed, k.flaky, k.failed, k.skipped, k.errors);
	if (k.flaky > 0)
		mc_buf_printf(&b, "<div class=\"flakynote\">" FLAKY_LABEL " <strong>%zu case(s) passed only on a "
				  "retry.</strong> They count as passed; their failed attempts are listed with "
				  "them below.</div>\n", k.flaky);
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
	/* A section written (and escaped) by the caller, such as the changes since a baseline. */
	if (section != NULL)
		mc_buf_puts(&b, section);
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
	return mc_report_write_html_with(run, path, NULL, err, errlen);
}

int
mc_report_write_html_with(const struct mc_run *run, const char *path, const char *section, char *err, size_t errlen)
{
	char *text = mc_report_html_text_with(run, section);
	int rc = mc_file_write(path, text, strlen(text), 0644, err, errlen);

	free(text);
	return rc;
}
