/*
 * The `distribution` check kind: N requests, each on a new connection (so
 * keep-alive cannot pin traffic to one backend), the responder of each
 * taken from the answer by a regular expression; the split must match the
 * expected shares.
 *
 *   "input":  request fields (see check_http.h), "extract": "Hello version: (v[0-9]+)",
 *             "extract_header": NAME, "requests": N, "connections": 4
 *   "expect": { "shares": { "v1": 0.5, "v2": 0.5 }, "tolerance": 0.1, "alpha": 1e-6 }
 *
 * Judging without flaking: N is computed from the tolerance (each share
 * within +-tolerance with probability 1 - alpha) unless given. The split
 * is tested against the shares (exact binomial test for two responders,
 * Pearson's chi-square otherwise) and the case fails when the difference
 * is both significant (p < alpha) and larger than the tolerance: a healthy
 * split fails about never, a 100/0 split always. A responder that is not
 * expected, a response the pattern does not match, or a failed request
 * fails the case. The p-value is reported.
 */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_http.h"
#include "check_kind.h"
#include "hist.h"
#include "load.h"
#include "stats.h"
#include "util.h"

#define MAX_SHARES 32

static const char *const input_fields[] = {MC_HTTP_REQUEST_FIELDS, "extract", "extract_header", "requests",
					   "connections", NULL};
static const char *const expect_fields[] = {"shares", "tolerance", "alpha", NULL};

static double
num(const cJSON *obj, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static int
distribution_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	const cJSON *shares = cJSON_GetObjectItemCaseSensitive(ex, "shares"), *s, *v;
	const char *re = NULL, *hdr = NULL;
	regex_t r;
	char w[600];
	double sum = 0;
	long l;
	int rc;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0 ||
	    (rc = mc_http_validate(in, false, w, err, errlen)) < 0 ||
	    (rc = mc_field_string(in, "extract", 1, w, &re, err, errlen)) < 0 ||
	    (rc = mc_field_string(in, "extract_header", 0, w, &hdr, err, errlen)) < 0 ||
	    (rc = mc_field_int(in, "requests", 0, w, 10, 1000000, &l, err, errlen)) < 0 ||
	    (rc = mc_field_int(in, "connections", 0, w, 1, 256, &l, err, errlen)) < 0)
		return rc;
	if (regcomp(&r, re, REG_EXTENDED) != 0)
		return mc_err(err, errlen, EINVAL, "%s.extract: bad regular expression \"%s\"", w, re);
	regfree(&r);
	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_fields_known(ex, expect_fields, w, err, errlen)) < 0)
		return rc;
	if (!cJSON_IsObject(shares) || cJSON_GetArraySize(shares) < 1 || cJSON_GetArraySize(shares) > MAX_SHARES)
		return mc_err(err, errlen, EINVAL, "%s.shares: expected an object of 1 to %d responder: share pairs", w,
			      MAX_SHARES);
	cJSON_ArrayForEach(s, shares) {
		if (!cJSON_IsNumber(s) || !(s->valuedouble >= 0) || s->valuedouble > 1)
			return mc_err(err, errlen, EINVAL, "%s.shares.%s: expected a share from 0 to 1", w, s->string);
		sum += s->valuedouble;
	}
	if (fabs(sum - 1.0) > 0.001)
		return mc_err(err, errlen, EINVAL, "%s.shares: the shares add up to %g, not 1", w, sum);
	if ((v = cJSON_GetObjectItemCaseSensitive(ex, "tolerance")) != NULL &&
	    (!cJSON_IsNumber(v) || !(v->valuedouble > 0.001) || v->valuedouble >= 0.5))
		return mc_err(err, errlen, EINVAL, "%s.tolerance: expected a number above 0.001 and below 0.5", w);
	if ((v = cJSON_GetObjectItemCaseSensitive(ex, "alpha")) != NULL &&
	    (!cJSON_IsNumber(v) || !(v->valuedouble >= 1e-9) || v->valuedouble > 0.2))
		return mc_err(err, errlen, EINVAL, "%s.alpha: expected a significance from 1e-9 to 0.2", w);
	return 0;
}

/* Counts a responder value into res (the load engine's form). */
static void
count_responder(struct mc_load_result *res, const char *v, size_t len)
{
	for (size_t i = 0; i < res->n_responders; i++)
		if (strlen(res->responders[i].value) == len && memcmp(res->responders[i].value, v, len) == 0) {
			res->responders[i].count++;
			return;
		}
	if (res->n_responders == MC_LOAD_MAX_RESPONDERS) {
		res->responders_other++;
		return;
	}
	res->responders = mc_xrealloc(res->responders, (res->n_responders + 1) * sizeof(*res->responders));
	res->responders[res->n_responders].value = mc_xasprintf("%.*s", (int)len, v);
	res->responders[res->n_responders++].count = 1;
}

/*
 * The requests of an endpoint only the target reaches (the kube target
 * runs them with curl in a pod), tallied as the load engine tallies its
 * own: codes, errors, responders by the same regular expression, latency.
 */
static int
send_via(const struct mc_check_ctx *ctx, const struct mc_http_req *r, const struct mc_load_options *o,
	 struct mc_load_result *res, char *err, size_t errlen)
{
	size_t n = (size_t)o->count;
	struct mc_probe_result *pr = mc_xcalloc(n, sizeof(*pr));
	regex_t re;
	double t0 = mc_monotonic();
	int rc;

	memset(res, 0, sizeof(*res));
	if (regcomp(&re, o->extract != NULL ? o->extract : "", REG_EXTENDED) != 0) {
		free(pr);
		return mc_err(err, errlen, EINVAL, "extract: not a regular expression");
	}
	res->hist = mc_hist_new(3600LL * 1000000);
	rc = mc_http_send(ctx->target, r, n, pr, err, errlen);
	for (size_t i = 0; i < n && rc == 0; i++) {
		regmatch_t m[2];
		const char *text = pr[i].body;
		size_t hl = 0;

		res->requests++;
		if (pr[i].error != MC_XFER_OK) {
			res->errors++;
			res->xfer_errors[pr[i].error]++;
			if (res->first_error[0] == '\0')
				snprintf(res->first_error, sizeof(res->first_error), "%s", pr[i].message);
			continue;
		}
		res->responses++;
		res->bytes += pr[i].body_bytes;
		if (pr[i].status >= 0 && pr[i].status < MC_LOAD_MAX_CODE)
			res->codes[pr[i].status]++;
		else
			res->codes_other++;
		mc_hist_record(res->hist, pr[i].total_us > 0 ? pr[i].total_us : 1);
		if (o->extract_header != NULL && pr[i].headers != NULL)
			text = mc_header_find(pr[i].headers, pr[i].headers_len, o->extract_header, &hl);
		if (text != NULL && o->extract_header != NULL) {
			char *v = mc_xasprintf("%.*s", (int)hl, text);

			if (regexec(&re, v, 2, m, 0) == 0 && m[1].rm_so >= 0)
				count_responder(res, v + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
			else
				res->responders_unmatched++;
			free(v);
		} else if (text != NULL && regexec(&re, text, 2, m, 0) == 0 && m[1].rm_so >= 0) {
			count_responder(res, text + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
		} else {
			res->responders_unmatched++;
		}
	}
	/* Most frequent first, as the engine reports them. */
	for (size_t i = 1; i < res->n_responders; i++)
		for (size_t j = i; j > 0 && res->responders[j].count > res->responders[j - 1].count; j--) {
			struct mc_load_responder x = res->responders[j];

			res->responders[j] = res->responders[j - 1];
			res->responders[j - 1] = x;
		}
	res->connections = 1;
	res->duration = mc_monotonic() - t0;
	res->rate_achieved = res->duration > 0 ? (double)res->requests / res->duration : 0;
	for (size_t i = 0; i < n; i++)
		mc_probe_result_free(&pr[i]);
	free(pr);
	regfree(&re);
	return rc;
}

static void
distribution_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	const cJSON *in = ctx->def->input, *ex = ctx->def->expect;
	const cJSON *shares_j = cJSON_GetObjectItemCaseSensitive(ex, "shares"), *s;
	double tol = num(ex, "tolerance", 0.1), alpha = num(ex, "alpha", 1e-6);
	double shares[MAX_SHARES + 1], maxdev = 0, p, chi2 = 0;
	int64_t observed[MAX_SHARES + 1] = {0}, n, matched = 0;
	const char *names[MAX_SHARES + 1];
	size_t k = 0;
	int df = 0;
	struct mc_http_req r;
	struct mc_load_options o = {0};
	struct mc_load_result res = {0};
	struct mc_buf expected, seen;
	char err[MC_ERRLEN] = "", *text;
	cJSON *j;

	mc_buf_init(&expected, 1 << 16);
	mc_buf_init(&seen, 1 << 16);
	cJSON_ArrayForEach(s, shares_j) {
		names[k] = s->string;
		shares[k++] = s->valuedouble;
	}
	n = mc_json_int(in, "requests", 0);
	if (n == 0)
		n = mc_sample_size(shares, k, tol, alpha);
	if (mc_http_req_build(ctx->target, in, NULL, &r, err, sizeof(err)) < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "%s", err);
		goto out;
	}
	r.spec.fresh = true;
	o.req = r.spec;
	o.connections = (int)mc_json_int(in, "connections", 4);
	o.count = n;
	o.duration = 120; /* a bound: a stalled server cannot hold the run */
	o.extract = mc_json_str(in, "extract", NULL);
	o.extract_header = mc_json_str(in, "extract_header", NULL);
	mc_buf_printf(&expected, "%lld requests to %s, each on a new connection; responder = /%s/%s%s\n",
		      (long long)n, r.target, o.extract, o.extract_header != NULL ? " in header " : " in the body",
		      o.extract_header != NULL ? o.extract_header : "");
	for (size_t i = 0; i < k; i++)
		mc_buf_printf(&expected, "  %-20s %5.1f%%\n", names[i], 100 * shares[i]);
	mc_buf_printf(&expected, "within +-%.1f%% (or not significant at alpha = %g); no other responder, no failure\n",
		      100 * tol, alpha);
	if ((r.ep.via != NULL ? send_via(ctx, &r, &o, &res, err, sizeof(err)) : mc_load_run(&o, &res, err, sizeof(err))) <
	    0) {
		mc_case_set(c, MC_RESULT_ERROR, "%s", err);
		goto out;
	}
	/* Unexpected responders and unmatched answers make one more category, expected at share 0. */
	for (size_t i = 0; i < res.n_responders; i++) {
		size_t x = k;

		for (size_t q = 0; q < k; q++)
			if (strcmp(names[q], res.responders[i].value) == 0)
				x = q;
		observed[x] += res.responders[i].count;
	}
	observed[k] += res.responders_other + res.responders_unmatched;
	shares[k] = 0;
	for (size_t i = 0; i <= k; i++)
		matched += observed[i];
	for (size_t i = 0; i <= k && matched > 0; i++) {
		double d = fabs((double)observed[i] / (double)matched - shares[i]);

		maxdev = d > maxdev ? d : maxdev;
	}
	if (k == 2 && observed[2] == 0) {
		p = mc_binom_test(observed[0], matched, shares[0]);
		df = 1;
	} else {
		p = mc_chi2_test(observed, shares, observed[k] > 0 ? k + 1 : k, &chi2, &df);
	}
	mc_buf_printf(&seen, "%lld requests, %lld answered, %lld failed; %.0f req/s\n", (long long)res.requests,
		      (long long)res.responses, (long long)res.errors, res.rate_achieved);
	for (size_t i = 0; i < k; i++)
		mc_buf_printf(&seen, "  %-20s %5.1f%% (%lld)\n", names[i],
			      matched > 0 ? 100.0 * (double)observed[i] / (double)matched : 0.0, (long long)observed[i]);
	for (size_t i = 0; i < res.n_responders; i++) {
		bool known = false;

		for (size_t q = 0; q < k; q++)
			known = known || strcmp(names[q], res.responders[i].value) == 0;
		if (!known)
			mc_buf_printf(&seen, "  %-20s %5.1f%% (%lld) NOT EXPECTED\n", res.responders[i].value,
				      100.0 * (double)res.responders[i].count / (double)(matched > 0 ? matched : 1),
				      (long long)res.responders[i].count);
	}
	if (res.responders_unmatched > 0)
		mc_buf_printf(&seen, "  %lld answer(s) the pattern did not match\n", (long long)res.responders_unmatched);
	mc_buf_printf(&seen, "largest difference %.1f%%; %s p = %.3g\n", 100 * maxdev,
		      df == 1 && k == 2 && observed[2] == 0 ? "binomial test" : "chi-square test", p);
	mc_case_add_measure(c, "requests", (double)res.requests, NULL);
	mc_case_add_measure(c, "p_value", p, NULL);
	mc_case_add_measure(c, "max_difference", 100 * maxdev, "%");
	for (size_t i = 0; i < k; i++) {
		char *mname = mc_xasprintf("share %s", names[i]);

		mc_case_add_measure(c, mname, matched > 0 ? 100.0 * (double)observed[i] / (double)matched : 0, "%");
		free(mname);
	}
	j = mc_load_result_json(&res);
	cJSON_AddNumberToObject(j, "p_value", p);
	cJSON_AddNumberToObject(j, "max_difference", maxdev);
	text = cJSON_Print(j);
	mc_http_evidence(ctx, c, "distribution.json", "the requests' outcomes, responders and latencies", text);
	free(text);
	cJSON_Delete(j);
	if (res.codes[200] != res.requests) {
		int64_t bad = res.requests - res.codes[200];

		mc_case_set(c, MC_RESULT_FAIL, "%lld of %lld request(s) did not get a 200 (%s)", (long long)bad,
			    (long long)res.requests, res.first_error[0] != '\0' ? res.first_error : "see the response codes");
	} else if (res.requests < n) {
		mc_case_set(c, MC_RESULT_FAIL, "only %lld of %lld requests finished in time", (long long)res.requests,
			    (long long)n);
	} else if (observed[k] > 0) {
		mc_case_set(c, MC_RESULT_FAIL, "%lld answer(s) from responders that are not expected (or unmatched)",
			    (long long)observed[k]);
	} else if (p < alpha && maxdev > tol) {
		mc_case_set(c, MC_RESULT_FAIL, "the split differs from the expected shares by %.1f%% (p = %.3g < %g)",
			    100 * maxdev, p, alpha);
	} else {
		mc_case_set(c, MC_RESULT_PASS, NULL);
	}
out:
	mc_case_set_expected(c, expected.data);
	mc_case_set_seen(c, seen.data);
	mc_buf_free(&expected);
	mc_buf_free(&seen);
	mc_load_result_clear(&res);
}

const struct mc_check_kind mc_check_distribution = {
	.name = "distribution",
	.summary = "N requests on fresh connections; the responders' split must match the expected shares",
	.validate = distribution_validate,
	.run = distribution_run,
};
