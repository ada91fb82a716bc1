/*
 * The `reach` check kind: one request to a server, with full detail; the
 * answer must have the expected status (or transport error), headers and
 * body.
 *
 *   "input":  request fields (see check_http.h)
 *   "expect": { "status": 200 | "refused" | "tls" | ..., "headers": { "Name": "REGEX" },
 *               "body": "REGEX", "body_not": "REGEX", "http_version": "2" }
 *
 * Patterns are POSIX extended regular expressions, searched (not anchored).
 * Evidence: the whole result (status, headers, body, timings, peer chain)
 * as JSON.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_http.h"
#include "check_kind.h"
#include "util.h"

static const char *const input_fields[] = {MC_HTTP_REQUEST_FIELDS, NULL};
static const char *const expect_fields[] = {"status", "headers", "body", "body_not", "http_version", NULL};

/* Compiles pattern to check it; a message names where. */
static int
regex_ok(const char *pattern, const char *where, char *err, size_t errlen)
{
	regex_t re;
	char msg[256];
	int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);

	if (rc == 0) {
		regfree(&re);
		return 0;
	}
	regerror(rc, &re, msg, sizeof(msg));
	return mc_err(err, errlen, EINVAL, "%s: bad regular expression \"%s\": %s", where, pattern, msg);
}

static bool
regex_search(const char *pattern, const char *text)
{
	regex_t re;
	bool hit;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	hit = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return hit;
}

static int
reach_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	char w[600];
	const cJSON *v, *h;
	const char *s = NULL;
	int rc;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0 ||
	    (rc = mc_http_validate(in, false, w, err, errlen)) < 0)
		return rc;
	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_fields_known(ex, expect_fields, w, err, errlen)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(ex, "status")) == NULL)
		return mc_err(err, errlen, EINVAL, "%s.status: required", w);
	snprintf(w, sizeof(w), "%s.expect.status", where);
	if ((rc = mc_http_outcome_validate(v, w, err, errlen)) < 0)
		return rc;
	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_field_string(ex, "body", 0, w, &s, err, errlen)) < 0 ||
	    (s != NULL && (rc = regex_ok(s, w, err, errlen)) < 0))
		return rc;
	s = NULL;
	if ((rc = mc_field_string(ex, "body_not", 0, w, &s, err, errlen)) < 0 ||
	    (s != NULL && (rc = regex_ok(s, w, err, errlen)) < 0))
		return rc;
	s = NULL;
	if ((rc = mc_field_string(ex, "http_version", 0, w, &s, err, errlen)) < 0)
		return rc;
	h = cJSON_GetObjectItemCaseSensitive(ex, "headers");
	if (h != NULL && !cJSON_IsObject(h))
		return mc_err(err, errlen, EINVAL, "%s.headers: expected an object of header name to pattern", w);
	cJSON_ArrayForEach(v, h) {
		snprintf(w, sizeof(w), "%s.expect.headers.%s", where, v->string);
		if (!cJSON_IsString(v))
			return mc_err(err, errlen, EINVAL, "%s: expected a pattern (string)", w);
		if ((rc = regex_ok(v->valuestring, w, err, errlen)) < 0)
			return rc;
	}
	return 0;
}

static void
reach_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	const cJSON *ex = ctx->def->expect, *want = cJSON_GetObjectItemCaseSensitive(ex, "status"), *h;
	const char *body_re = mc_json_str(ex, "body", NULL), *hv = mc_json_str(ex, "http_version", NULL);
	const char *body_not = mc_json_str(ex, "body_not", NULL);
	struct mc_http_req r;
	struct mc_probe_result res = {0};
	struct mc_buf expected, seen, why;
	char err[MC_ERRLEN] = "", a[64], b[64];
	cJSON *j;
	char *text;

	mc_buf_init(&expected, 1 << 16);
	mc_buf_init(&seen, 1 << 20);
	mc_buf_init(&why, 1 << 12);
	if (mc_http_req_build(ctx->target, ctx->def->input, NULL, &r, err, sizeof(err)) < 0 ||
	    mc_http_send(ctx->target, &r, 1, &res, err, sizeof(err)) < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "%s", err);
		goto out;
	}
	mc_buf_printf(&expected, "%s %s\nstatus: %s\n", r.spec.method != NULL ? r.spec.method : "GET", r.target,
		      mc_http_outcome_text(want, a, sizeof(a)));
	mc_buf_printf(&seen, "status: %s%s%s\n", mc_http_outcome(&res, b, sizeof(b)),
		      res.error != MC_XFER_OK ? " — " : "", res.error != MC_XFER_OK ? res.message : "");
	if (!mc_http_outcome_matches(want, &res))
		mc_buf_printf(&why, "status %s, expected %s", b, a);
	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(ex, "headers")) {
		size_t vlen = 0;
		const char *v = res.headers != NULL ? mc_header_find(res.headers, res.headers_len, h->string, &vlen)
						    : NULL;
		char *val = v != NULL ? mc_xasprintf("%.*s", (int)vlen, v) : NULL;

		mc_buf_printf(&expected, "header %s: /%s/\n", h->string, h->valuestring);
		mc_buf_printf(&seen, "header %s: %s\n", h->string, val != NULL ? val : "(absent)");
		if ((val == NULL || !regex_search(h->valuestring, val)) && why.len == 0)
			mc_buf_printf(&why, "header %s %s /%s/", h->string, val == NULL ? "absent, expected" : "does not match",
				      h->valuestring);
		free(val);
	}
	if (body_re != NULL || body_not != NULL)
		mc_buf_printf(&seen, "body (%lld bytes): %.*s\n", (long long)res.body_bytes,
			      (int)(res.body_len < 400 ? res.body_len : 400), res.body != NULL ? res.body : "");
	if (body_re != NULL) {
		mc_buf_printf(&expected, "body: /%s/\n", body_re);
		if (!regex_search(body_re, res.body != NULL ? res.body : "") && why.len == 0)
			mc_buf_printf(&why, "body does not match /%s/", body_re);
	}
	if (body_not != NULL) {
		mc_buf_printf(&expected, "body without /%s/\n", body_not);
		if (regex_search(body_not, res.body != NULL ? res.body : "") && why.len == 0)
			mc_buf_printf(&why, "body matches /%s/, which it must not", body_not);
	}
	if (hv != NULL) {
		mc_buf_printf(&expected, "HTTP version: %s\n", hv);
		mc_buf_printf(&seen, "HTTP version: %s\n", res.http_version[0] != '\0' ? res.http_version : "-");
		if (strcmp(hv, res.http_version) != 0 && why.len == 0)
			mc_buf_printf(&why, "HTTP version %s, expected %s",
				      res.http_version[0] != '\0' ? res.http_version : "none", hv);
	}
	mc_case_add_measure(c, "total", (double)res.total_us / 1000.0, "ms");
	if (res.error == MC_XFER_OK)
		mc_case_add_measure(c, "status", (double)res.status, NULL);
	j = mc_probe_result_json(&res);
	text = cJSON_Print(j);
	mc_http_evidence(ctx, c, "response.json", "the response (status, headers, body, timings)", text);
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
	mc_probe_result_free(&res);
}

const struct mc_check_kind mc_check_reach = {
	.name = "reach",
	.summary = "one request; expect a status (or transport error), headers and body",
	.validate = reach_validate,
	.run = reach_run,
};
