/*
 * A policy matrix drawn as a grid in report.html: a suite whose cases are
 * all `policy` cases named "SOURCE -> DESTINATION" (as a suite's matrix
 * expands) gets a table, sources down and destinations across, each cell
 * coloured by its verdict and saying it in words (pass, FAIL, error, skip)
 * so the grid reads without colour; a cell's title holds the reason, and
 * failed cells are listed under the grid with expected and seen outcomes.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "results.h"
#include "util.h"

#define MAX_AXIS 200

static size_t
axis_index(char **axis, size_t *n, const char *name, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen(axis[i]) == len && memcmp(axis[i], name, len) == 0)
			return i;
	if (*n == MAX_AXIS)
		return MAX_AXIS;
	axis[*n] = mc_xasprintf("%.*s", (int)len, name);
	return (*n)++;
}

bool
mc_html_is_matrix(const struct mc_suite *s)
{
	if (s->n_cases == 0)
		return false;
	for (size_t i = 0; i < s->n_cases; i++)
		if (s->cases[i]->check == NULL || strcmp(s->cases[i]->check, "policy") != 0 ||
		    strstr(s->cases[i]->name, " -> ") == NULL)
			return false;
	return true;
}

static void
put_esc(struct mc_buf *b, const char *s)
{
	char *e = mc_html_escape(s != NULL ? s : "");

	mc_buf_puts(b, e);
	free(e);
}

void
mc_html_matrix(struct mc_buf *b, const struct mc_suite *s)
{
	char *rows[MAX_AXIS], *cols[MAX_AXIS];
	size_t nr = 0, nc = 0, nfail = 0;
	const struct mc_case **cell;

	if (!mc_html_is_matrix(s))
		return;
	cell = mc_xcalloc(MAX_AXIS * MAX_AXIS, sizeof(*cell));
	for (size_t i = 0; i < s->n_cases; i++) {
		const struct mc_case *c = s->cases[i];
		const char *arrow = strstr(c->name, " -> ");
		size_t r = axis_index(rows, &nr, c->name, (size_t)(arrow - c->name));
		size_t k = axis_index(cols, &nc, arrow + 4, strlen(arrow + 4));

		if (r < MAX_AXIS && k < MAX_AXIS)
			cell[r * MAX_AXIS + k] = c;
		nfail += c->status != MC_RESULT_PASS;
	}
	mc_buf_puts(b, "<div class=\"matrix\"><table class=\"grid\"><caption>Policy matrix: who may call what "
		       "(rows: sources; columns: destinations). Each cell: the verdict, in words.</caption>\n<tr><th></th>");
	for (size_t k = 0; k < nc; k++) {
		mc_buf_puts(b, "<th scope=\"col\">");
		put_esc(b, cols[k]);
		mc_buf_puts(b, "</th>");
	}
	mc_buf_puts(b, "</tr>\n");
	for (size_t r = 0; r < nr; r++) {
		mc_buf_puts(b, "<tr><th scope=\"row\">");
		put_esc(b, rows[r]);
		mc_buf_puts(b, "</th>");
		for (size_t k = 0; k < nc; k++) {
			const struct mc_case *c = cell[r * MAX_AXIS + k];

			if (c == NULL) {
				mc_buf_puts(b, "<td class=\"none\" title=\"not tested\">&mdash;</td>");
				continue;
			}
			mc_buf_printf(b, "<td class=\"%s\" title=\"", mc_status_name(c->status));
			put_esc(b, c->reason != NULL ? c->reason : "as expected");
			mc_buf_printf(b, "\">%s</td>",
				      c->status == MC_RESULT_PASS ? "pass" : c->status == MC_RESULT_FAIL ? "FAIL"
							      : c->status == MC_RESULT_SKIP ? "skip" : "error");
		}
		mc_buf_puts(b, "</tr>\n");
	}
	mc_buf_puts(b, "</table>\n");
	if (nfail > 0) {
		mc_buf_puts(b, "<ul class=\"matrix-failures\">\n");
		for (size_t i = 0; i < s->n_cases; i++) {
			const struct mc_case *c = s->cases[i];

			if (c->status == MC_RESULT_PASS)
				continue;
			mc_buf_puts(b, "<li>");
			put_esc(b, c->name);
			mc_buf_puts(b, ": ");
			put_esc(b, c->reason != NULL ? c->reason : mc_status_name(c->status));
			mc_buf_puts(b, "</li>\n");
		}
		mc_buf_puts(b, "</ul>\n");
	}
	mc_buf_puts(b, "</div>\n");
	for (size_t i = 0; i < nr; i++)
		free(rows[i]);
	for (size_t i = 0; i < nc; i++)
		free(cols[i]);
	free(cell);
}
