/*
 * What the writers share about a case's timeline (see report.h): totals,
 * the spans of seconds with failed requests, and how times are written.
 * Counts below zero and times that are not finite are treated as zero and
 * unknown, so a malformed timeline still gives a sane summary.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "report.h"
#include "util.h"

/* Two points are neighbours when the second starts about one second after the first. */
#define NEIGHBOUR_SLACK 0.01

static int64_t
nonneg(int64_t v)
{
	return v > 0 ? v : 0;
}

int64_t
mc_timeline_add(int64_t sum, int64_t v)
{
	v = nonneg(v);
	return sum > INT64_MAX - v ? INT64_MAX : sum + v;
}

struct mc_timeline_totals
mc_timeline_totals(const struct mc_timeline *tl)
{
	struct mc_timeline_totals k = {0};

	for (size_t i = 0; i < tl->n_points; i++) {
		const struct mc_timeline_point *p = &tl->points[i];

		k.sent = mc_timeline_add(k.sent, p->sent);
		k.ok = mc_timeline_add(k.ok, p->ok);
		k.failed = mc_timeline_add(k.failed, p->failed);
		if (p->failed > 0)
			k.failed_seconds++;
		if (mc_timeline_point_has_p99(p) && p->p99_ms > k.p99_max_ms)
			k.p99_max_ms = p->p99_ms;
	}
	return k;
}

bool
mc_timeline_point_has_p99(const struct mc_timeline_point *p)
{
	return (p->ok > 0 || p->failed > 0) && isfinite(p->p99_ms) && p->p99_ms >= 0;
}

double
mc_timeline_point_t(const struct mc_timeline *tl, size_t i)
{
	return isfinite(tl->points[i].t) ? tl->points[i].t : (double)i;
}

struct mc_failed_span *
mc_timeline_failed_spans(const struct mc_timeline *tl, size_t *n)
{
	struct mc_failed_span *spans = NULL;
	size_t count = 0;

	for (size_t i = 0; i < tl->n_points; i++) {
		const struct mc_timeline_point *p = &tl->points[i];
		double t = mc_timeline_point_t(tl, i);

		if (p->failed <= 0)
			continue;
		/* Continues the last span when the previous point failed too and sits one second earlier. */
		if (count > 0 && i > 0 && tl->points[i - 1].failed > 0 &&
		    fabs(t - mc_timeline_point_t(tl, i - 1) - 1.0) < NEIGHBOUR_SLACK) {
			spans[count - 1].to = t;
			spans[count - 1].failed = mc_timeline_add(spans[count - 1].failed, p->failed);
			continue;
		}
		spans = mc_xrealloc(spans, (count + 1) * sizeof(*spans));
		spans[count].from = t;
		spans[count].to = t;
		spans[count].failed = p->failed;
		count++;
	}
	*n = count;
	return spans;
}

void
mc_timeline_fmt_t(double t, int decimals, char *out, size_t outlen)
{
	if (!isfinite(t))
		snprintf(out, outlen, "?");
	else if (decimals >= 0)
		snprintf(out, outlen, "%.*f", decimals, t);
	else if (fabs(t) < 1e15 && t == floor(t))
		snprintf(out, outlen, "%.0f", t);
	else
		snprintf(out, outlen, "%.1f", t);
}

void
mc_timeline_fmt_span(const struct mc_failed_span *s, char *out, size_t outlen)
{
	char a[48], b[48];

	mc_timeline_fmt_t(s->from, -1, a, sizeof(a));
	if (s->to == s->from) {
		snprintf(out, outlen, "t=%ss: %lld failed", a, (long long)s->failed);
		return;
	}
	mc_timeline_fmt_t(s->to, -1, b, sizeof(b));
	snprintf(out, outlen, "t=%s-%ss: %lld failed", a, b, (long long)s->failed);
}
