/*
 * The `policy` check kind: a matrix of requests, each row with the outcome
 * a policy must give it (200, 403 "RBAC: access denied", 404 no route, 418,
 * or a transport error such as a refused connection or a failed TLS
 * handshake). Every row is sent and reported; the case fails when any row
 * differs, and says which.
 *
 *   "input": { "defaults": { request fields (see check_http.h) },
 *              "rows": [ { "name": "deny-other-host", request fields...,
 *                          "expect": 403, "body": "REGEX" } ] }
 *
 * Evidence: every row's request, expected and seen outcome as JSON.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_http.h"
#include "check_kind.h"
#include "util.h"

#define MAX_ROWS 500

static const char *const input_fields[] = {"defaults", "rows", NULL};
static const char *const row_fields[] = {"name", "expect", "body", MC_HTTP_REQUEST_FIELDS, NULL};
static const char *const default_fields[] = {MC_HTTP_REQUEST_FIELDS, NULL};

static int
policy_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	const cJSON *defaults = cJSON_GetObjectItemCaseSensitive(in, "defaults");
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(in, "rows"), *r;
	bool default_server;
	char w[600];
	size_t i = 0;
	int rc;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0)
		return rc;
	if (cJSON_GetArraySize(ex) > 0)
		return mc_err(err, errlen, EINVAL, "%s.expect: a policy case has its expectations in input.rows", where);
	if (defaults != NULL) {
		snprintf(w, sizeof(w), "%s.input.defaults", where);
		if (!cJSON_IsObject(defaults))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(defaults, default_fields, w, err, errlen)) < 0 ||
		    (rc = mc_http_validate(defaults, true, w, err, errlen)) < 0)
			return rc;
	}
	default_server = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(defaults, "server")) ||
			 cJSON_IsString(cJSON_GetObjectItemCaseSensitive(defaults, "from"));
	if (!cJSON_IsArray(rows) || cJSON_GetArraySize(rows) < 1 || cJSON_GetArraySize(rows) > MAX_ROWS)
		return mc_err(err, errlen, EINVAL, "%s.input.rows: expected an array of 1 to %d rows", where, MAX_ROWS);
	cJSON_ArrayForEach(r, rows) {
		const char *name = NULL, *body = NULL;
		regex_t re;

		snprintf(w, sizeof(w), "%s.input.rows[%zu]", where, i++);
		if (!cJSON_IsObject(r))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(r, row_fields, w, err, errlen)) < 0 ||
		    (rc = mc_field_string(r, "name", 0, w, &name, err, errlen)) < 0 ||
		    (rc = mc_field_string(r, "body", 0, w, &body, err, errlen)) < 0 ||
		    (rc = mc_http_validate(r, default_server, w, err, errlen)) < 0)
			return rc;
		if (cJSON_GetObjectItemCaseSensitive(r, "expect") == NULL)
			return mc_err(err, errlen, EINVAL, "%s.expect: required (a status code or an error class)", w);
		snprintf(w, sizeof(w), "%s.input.rows[%zu].expect", where, i - 1);
		if ((rc = mc_http_outcome_validate(cJSON_GetObjectItemCaseSensitive(r, "expect"), w, err, errlen)) < 0)
			return rc;
		if (body != NULL) {
			if (regcomp(&re, body, REG_EXTENDED | REG_NOSUB) != 0)
				return mc_err(err, errlen, EINVAL, "%s.input.rows[%zu].body: bad regular expression \"%s\"",
					      where, i - 1, body);
			regfree(&re);
		}
	}
	return 0;
}

static bool
body_matches(const char *pattern, const struct mc_probe_result *res)
{
	regex_t re;
	bool hit;

	if (pattern == NULL)
		return true;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	hit = regexec(&re, res->body != NULL ? res->body : "", 0, NULL, 0) == 0;
	regfree(&re);
	return hit;
}

static void
policy_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	const cJSON *in = ctx->def->input, *defaults = cJSON_GetObjectItemCaseSensitive(in, "defaults"), *row;
	struct mc_buf expected, seen, why;
	cJSON *ev = cJSON_CreateArray();
	size_t i = 0, bad = 0, errors = 0;
	char *text;

	mc_buf_init(&expected, 1 << 20);
	mc_buf_init(&seen, 1 << 20);
	mc_buf_init(&why, 1 << 12);
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(in, "rows")) {
		const cJSON *want = cJSON_GetObjectItemCaseSensitive(row, "expect");
		const char *body = mc_json_str(row, "body", NULL);
		char name[64], a[64], b[64], err[MC_ERRLEN] = "";
		struct mc_http_req r;
		struct mc_probe_result res = {0};
		cJSON *e = cJSON_CreateObject();
		bool ok;

		snprintf(name, sizeof(name), "%s", mc_json_str(row, "name", ""));
		if (name[0] == '\0')
			snprintf(name, sizeof(name), "row %zu", i + 1);
		i++;
		cJSON_AddStringToObject(e, "row", name);
		cJSON_AddStringToObject(e, "expected", mc_http_outcome_text(want, a, sizeof(a)));
		if (mc_http_req_build(ctx->target, row, defaults, &r, err, sizeof(err)) < 0 ||
		    mc_http_send(ctx->target, &r, 1, &res, err, sizeof(err)) < 0) {
			errors++;
			mc_buf_printf(&seen, "%-28s error: %s\n", name, err);
			cJSON_AddStringToObject(e, "error", err);
			cJSON_AddItemToArray(ev, e);
			if (why.len == 0)
				mc_buf_printf(&why, "%s: %s", name, err);
			mc_probe_result_free(&res);
			continue;
		}
		ok = mc_http_outcome_matches(want, &res) && body_matches(body, &res);
		mc_http_outcome(&res, b, sizeof(b));
		mc_buf_printf(&expected, "%-28s %s %s%s%s%s -> %s%s%s%s\n", name,
			      r.spec.method != NULL ? r.spec.method : "GET", r.target,
			      r.spec.host != NULL ? " Host: " : "", r.spec.host != NULL ? r.spec.host : "",
			      r.spec.cert != NULL ? " (mesh identity)" : " (no client certificate)", a,
			      body != NULL ? " body /" : "", body != NULL ? body : "", body != NULL ? "/" : "");
		mc_buf_printf(&seen, "%-28s %s %s\n", name, b, ok ? "ok" : "DIFFERS");
		cJSON_AddStringToObject(e, "request", r.target);
		if (r.spec.host != NULL)
			cJSON_AddStringToObject(e, "host", r.spec.host);
		cJSON_AddStringToObject(e, "seen", b);
		cJSON_AddBoolToObject(e, "ok", ok);
		if (res.body != NULL) {
			/* The first 200 bytes are enough to tell "RBAC: access denied" from a page. */
			char *snip = mc_xasprintf("%.*s", (int)(res.body_len < 200 ? res.body_len : 200), res.body);

			cJSON_AddStringToObject(e, "body", snip);
			free(snip);
		}
		cJSON_AddItemToArray(ev, e);
		if (!ok) {
			bad++;
			mc_buf_printf(&why, "%s%s: expected %s, saw %s%s", why.len > 0 ? "; " : "", name, a, b,
				      mc_http_outcome_matches(want, &res) ? " (body differs)" : "");
		}
		mc_probe_result_free(&res);
	}
	mc_case_add_measure(c, "rows", (double)i, NULL);
	mc_case_add_measure(c, "rows_differing", (double)bad, NULL);
	text = cJSON_Print(ev);
	mc_http_evidence(ctx, c, "matrix.json", "every row: request, expected and seen outcome", text);
	free(text);
	cJSON_Delete(ev);
	if (errors > 0)
		mc_case_set(c, MC_RESULT_ERROR, "%zu of %zu row(s) could not be sent: %s", errors, i, why.data);
	else if (bad > 0)
		mc_case_set(c, MC_RESULT_FAIL, "%zu of %zu row(s) differ: %s", bad, i, why.data);
	else
		mc_case_set(c, MC_RESULT_PASS, NULL);
	mc_case_set_expected(c, expected.data);
	mc_case_set_seen(c, seen.data);
	mc_buf_free(&expected);
	mc_buf_free(&seen);
	mc_buf_free(&why);
}

const struct mc_check_kind mc_check_policy = {
	.name = "policy",
	.summary = "a matrix of requests, each with the status (or transport error) a policy must give it",
	.validate = policy_validate,
	.run = policy_run,
};
