/*
 * The `load` check kind: traffic at a rate (open loop) or with a number of
 * connections as fast as they go (closed loop) for a duration; expect an
 * error rate, latency percentiles and a rate achieved.
 *
 *   "input":  request fields (see check_http.h), "connections": 4, "rate": 200,
 *             "duration": "3s", "requests": N, "warmup": "1s", "fresh": false,
 *             "extract": "Hello version: (v[0-9]+)" (responders, reported)
 *   "expect": { "max_error_rate": 0.0, "p50_ms": 5, "p90_ms": 10, "p99_ms": 20,
 *               "max_ms": 100, "min_rate": 190 }
 *
 * An error is a transport failure or a status outside 200..399. In an open
 * loop latency counts from each request's intended send time, so a stalled
 * server shows in the percentiles. Evidence: the result with its latency
 * histogram, as JSON.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_http.h"
#include "check_kind.h"
#include "load.h"
#include "util.h"

static const char *const input_fields[] = {MC_HTTP_REQUEST_FIELDS, "connections", "rate", "duration", "requests",
					   "warmup", "fresh", "extract", NULL};
static const char *const expect_fields[] = {"max_error_rate", "p50_ms", "p90_ms", "p99_ms", "max_ms", "min_rate",
					    NULL};

static int
load_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	const cJSON *v;
	char w[600];
	long l;
	int b, rc;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0 ||
	    (rc = mc_http_validate(in, false, w, err, errlen)) < 0 ||
	    (rc = mc_field_int(in, "connections", 0, w, 1, 1024, &l, err, errlen)) < 0 ||
	    (rc = mc_field_int(in, "rate", 0, w, 0, 1000000, &l, err, errlen)) < 0 ||
	    (rc = mc_field_duration(in, "duration", 0, w, &l, err, errlen)) < 0 ||
	    (rc = mc_field_int(in, "requests", 0, w, 1, 100000000, &l, err, errlen)) < 0 ||
	    (rc = mc_field_duration(in, "warmup", 0, w, &l, err, errlen)) < 0 ||
	    (rc = mc_field_bool(in, "fresh", 0, w, &b, err, errlen)) < 0)
		return rc;
	{
		const char *re = NULL;
		regex_t r;

		if ((rc = mc_field_string(in, "extract", 0, w, &re, err, errlen)) < 0)
			return rc;
		if (re != NULL && regcomp(&r, re, REG_EXTENDED) != 0)
			return mc_err(err, errlen, EINVAL, "%s.extract: bad regular expression \"%s\"", w, re);
		if (re != NULL)
			regfree(&r);
	}
	l = 0;
	(void)mc_field_duration(in, "duration", 0, w, &l, NULL, 0);
	if (l > 3600)
		return mc_err(err, errlen, EINVAL, "%s.duration: at most 1h", w);
	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_fields_known(ex, expect_fields, w, err, errlen)) < 0)
		return rc;
	cJSON_ArrayForEach(v, ex) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0))
			return mc_err(err, errlen, EINVAL, "%s.%s: expected a number >= 0", w, v->string);
		if (strcmp(v->string, "max_error_rate") == 0 && v->valuedouble > 1)
			return mc_err(err, errlen, EINVAL, "%s.max_error_rate: a fraction from 0 to 1", w);
	}
	if (cJSON_GetArraySize(ex) == 0)
		return mc_err(err, errlen, EINVAL, "%s: name at least one bound (max_error_rate, p99_ms ...)", w);
	return 0;
}

static void
load_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	static const struct {
		const char *key;
		double pct;
		const char *label;
	} bounds[] = {{"p50_ms", 50, "p50"}, {"p90_ms", 90, "p90"}, {"p99_ms", 99, "p99"}, {"max_ms", 100, "max"}};
	const cJSON *in = ctx->def->input, *ex = ctx->def->expect, *v;
	struct mc_http_req r;
	struct mc_load_options o = {0};
	struct mc_load_result res = {0};
	struct mc_buf expected, seen, why;
	char err[MC_ERRLEN] = "", *text;
	int64_t bad = 0;
	double err_rate;
	cJSON *j;

	mc_buf_init(&expected, 1 << 16);
	mc_buf_init(&seen, 1 << 16);
	mc_buf_init(&why, 1 << 12);
	if (mc_http_req_build(ctx->target, in, NULL, &r, err, sizeof(err)) < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "%s", err);
		goto out;
	}
	if (r.ep.via != NULL) {
		/* A load needs the harness's own engine: in-mesh loads run where the harness is inside the mesh. */
		mc_case_set(c, MC_RESULT_SKIP, "%s: load from inside the mesh needs the local target; on %s, load goes "
					       "north-south through an ingress gateway",
			    r.target, ctx->target->ops->name);
		goto out;
	}
	r.spec.fresh = mc_json_bool(in, "fresh", false);
	o.req = r.spec;
	o.connections = (int)mc_json_int(in, "connections", 4);
	o.rate = (double)mc_json_int(in, "rate", 0);
	o.count = mc_json_int(in, "requests", 0);
	o.duration = (double)mc_json_seconds(in, "duration", o.count > 0 ? 300 : 3);
	o.warmup = (double)mc_json_seconds(in, "warmup", 0);
	o.extract = mc_json_str(in, "extract", NULL);
	if (o.rate > 0)
		mc_buf_printf(&expected, "%.0f req/s (open loop, %d connections at most)", o.rate, o.connections);
	else
		mc_buf_printf(&expected, "%d connections as fast as they go (closed loop)", o.connections);
	mc_buf_printf(&expected, " to %s for %s%.0f s%s\n", r.target, o.count > 0 ? "at most " : "", o.duration,
		      r.spec.fresh ? ", a new connection per request" : "");
	if (mc_load_run(&o, &res, err, sizeof(err)) < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "%s", err);
		goto out;
	}
	for (int code = 0; code < MC_LOAD_MAX_CODE; code++)
		if (code < 200 || code > 399)
			bad += res.codes[code];
	bad += res.codes_other + res.errors;
	err_rate = res.requests > 0 ? (double)bad / (double)res.requests : 1.0;
	mc_buf_printf(&seen, "%lld requests in %.2f s: %.1f req/s; %lld failed (%.3f%%)", (long long)res.requests,
		      res.duration, res.rate_achieved, (long long)bad, 100 * err_rate);
	if (res.rate_target > 0)
		mc_buf_printf(&seen, "; %lld late, %lld unsent", (long long)res.late, (long long)res.unsent);
	mc_buf_printf(&seen, "\nlatency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
		      (double)mc_hist_percentile(res.hist, 50) / 1000, (double)mc_hist_percentile(res.hist, 90) / 1000,
		      (double)mc_hist_percentile(res.hist, 99) / 1000, (double)mc_hist_percentile(res.hist, 99.9) / 1000,
		      (double)mc_hist_max(res.hist) / 1000);
	for (size_t i = 0; i < res.n_responders; i++) {
		char *mname = mc_xasprintf("responder %s", res.responders[i].value);

		mc_buf_printf(&seen, "%s  %s: %lld (%.1f%%)", i == 0 ? "responders:" : "", res.responders[i].value,
			      (long long)res.responders[i].count,
			      res.requests > 0 ? 100.0 * (double)res.responders[i].count / (double)res.requests : 0.0);
		mc_case_add_measure(c, mname, (double)res.responders[i].count, NULL);
		free(mname);
	}
	if (res.n_responders > 0)
		mc_buf_puts(&seen, "\n");
	if (res.requests == 0)
		mc_buf_puts(&why, "no request finished");
	if ((v = cJSON_GetObjectItemCaseSensitive(ex, "max_error_rate")) != NULL) {
		mc_buf_printf(&expected, "error rate <= %.3f%%\n", 100 * v->valuedouble);
		if (err_rate > v->valuedouble && why.len == 0)
			mc_buf_printf(&why, "error rate %.3f%% above %.3f%% (%s)", 100 * err_rate, 100 * v->valuedouble,
				      res.first_error[0] != '\0' ? res.first_error : "see the response codes");
	}
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		double ms;

		if ((v = cJSON_GetObjectItemCaseSensitive(ex, bounds[i].key)) == NULL)
			continue;
		ms = (double)(bounds[i].pct >= 100 ? mc_hist_max(res.hist) : mc_hist_percentile(res.hist, bounds[i].pct)) /
		     1000;
		mc_buf_printf(&expected, "%s <= %g ms\n", bounds[i].label, v->valuedouble);
		if (ms > v->valuedouble && why.len == 0)
			mc_buf_printf(&why, "%s latency %.3f ms above %g ms", bounds[i].label, ms, v->valuedouble);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(ex, "min_rate")) != NULL) {
		mc_buf_printf(&expected, "at least %g req/s\n", v->valuedouble);
		if (res.rate_achieved < v->valuedouble && why.len == 0)
			mc_buf_printf(&why, "%.1f req/s, below %g", res.rate_achieved, v->valuedouble);
	}
	mc_case_add_measure(c, "requests", (double)res.requests, NULL);
	mc_case_add_measure(c, "rate", res.rate_achieved, "req/s");
	mc_case_add_measure(c, "error_rate", 100 * err_rate, "%");
	mc_case_add_measure(c, "p50", (double)mc_hist_percentile(res.hist, 50) / 1000, "ms");
	mc_case_add_measure(c, "p90", (double)mc_hist_percentile(res.hist, 90) / 1000, "ms");
	mc_case_add_measure(c, "p99", (double)mc_hist_percentile(res.hist, 99) / 1000, "ms");
	mc_case_add_measure(c, "max", (double)mc_hist_max(res.hist) / 1000, "ms");
	j = mc_load_result_json(&res);
	text = cJSON_Print(j);
	mc_http_evidence(ctx, c, "load.json", "the load's counts and latency histogram", text);
	free(text);
	cJSON_Delete(j);
	if (why.len > 0)
		mc_case_set(c, MC_RESULT_FAIL, "%s", why.data);
	else
		mc_case_set(c, MC_RESULT_PASS, NULL);
out:
	mc_case_set_expected(c, expected.data);
	mc_case_set_seen(c, seen.data);
	mc_buf_free(&expected);
	mc_buf_free(&seen);
	mc_buf_free(&why);
	mc_load_result_clear(&res);
}

const struct mc_check_kind mc_check_load = {
	.name = "load",
	.summary = "traffic at a rate or concurrency for a duration; expect error rate, percentiles and rate",
	.validate = load_validate,
	.run = load_run,
};
