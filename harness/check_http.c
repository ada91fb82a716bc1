/*
 * The request part shared by the HTTP check kinds (see check_http.h).
 */
#include "check_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_kind.h"
#include "suite.h"
#include "util.h"

static const char *const outcome_names[] = {"refused", "reset", "timeout", "tls", "dns", "other", NULL};

int
mc_http_validate(const cJSON *obj, bool server_optional, const char *where, char *err, size_t errlen)
{
	const char *s = NULL;
	const cJSON *arr = NULL, *e;
	enum mc_http_version hv;
	long l;
	int b, rc;

	if ((rc = mc_field_string(obj, "server", 0, where, &s, err, errlen)) < 0)
		return rc;
	{
		const char *from = NULL, *url = NULL;

		if ((rc = mc_field_string(obj, "from", 0, where, &from, err, errlen)) < 0 ||
		    (rc = mc_field_string(obj, "url", 0, where, &url, err, errlen)) < 0)
			return rc;
		if (from != NULL && s != NULL)
			return mc_err(err, errlen, EINVAL, "%s: give server or from, not both", where);
		if (from == NULL && s == NULL && !server_optional)
			return mc_err(err, errlen, EINVAL, "%s: missing required field \"server\" (or \"from\")", where);
		if (from != NULL && url == NULL && !server_optional)
			return mc_err(err, errlen, EINVAL, "%s: \"from\" needs \"url\" (the service as the app calls it)",
				      where);
		if (url != NULL && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
			return mc_err(err, errlen, EINVAL, "%s.url: \"%s\" is not an http:// or https:// URL", where, url);
		if (url != NULL && strpbrk(url, " \t\r\n") != NULL)
			return mc_err(err, errlen, EINVAL, "%s.url: \"%s\" holds spaces", where, url);
	}
	s = NULL;
	if ((rc = mc_field_string(obj, "path", 0, where, &s, err, errlen)) < 0)
		return rc;
	if (s != NULL && (*s != '/' || strpbrk(s, " \t\r\n") != NULL))
		return mc_err(err, errlen, EINVAL, "%s.path: \"%s\" must start with / and hold no spaces", where, s);
	s = NULL;
	if ((rc = mc_field_string(obj, "method", 0, where, &s, err, errlen)) < 0)
		return rc;
	if (s != NULL && (*s == '\0' || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s)))
		return mc_err(err, errlen, EINVAL, "%s.method: \"%s\" is not an HTTP method", where, s);
	s = NULL;
	if ((rc = mc_field_string(obj, "host", 0, where, &s, err, errlen)) < 0)
		return rc;
	if (s != NULL && (*s == '\0' || strpbrk(s, " \t\r\n/") != NULL))
		return mc_err(err, errlen, EINVAL, "%s.host: \"%s\" is not a host name", where, s);
	if ((rc = mc_field_strings(obj, "headers", 0, where, &arr, err, errlen)) < 0)
		return rc;
	if (arr != NULL && cJSON_GetArraySize(arr) > MC_HTTP_MAX_HEADERS)
		return mc_err(err, errlen, EINVAL, "%s.headers: at most %d", where, MC_HTTP_MAX_HEADERS);
	cJSON_ArrayForEach(e, arr) {
		const char *colon = strchr(e->valuestring, ':');

		if (colon == NULL || colon == e->valuestring || strpbrk(e->valuestring, "\r\n") != NULL)
			return mc_err(err, errlen, EINVAL, "%s.headers: expected \"Name: value\", got \"%s\"", where,
				      e->valuestring);
	}
	s = NULL;
	if ((rc = mc_field_string(obj, "body", 0, where, &s, err, errlen)) < 0 ||
	    (rc = mc_field_bool(obj, "client_cert", 0, where, &b, err, errlen)) < 0 ||
	    (rc = mc_field_duration(obj, "timeout", 0, where, &l, err, errlen)) < 0)
		return rc;
	s = NULL;
	if ((rc = mc_field_string(obj, "http", 0, where, &s, err, errlen)) < 0)
		return rc;
	if (s != NULL && mc_http_version_parse(s, &hv) < 0)
		return mc_err(err, errlen, EINVAL, "%s.http: expected \"1.1\", \"2\" or \"h2c\", got \"%s\"", where, s);
	return 0;
}

/* The value of key in obj, else in defaults. */
static const cJSON *
field(const cJSON *obj, const cJSON *defaults, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL && defaults != NULL)
		v = cJSON_GetObjectItemCaseSensitive(defaults, key);
	return v;
}

static const char *
str_field(const cJSON *obj, const cJSON *defaults, const char *key, const char *def)
{
	const cJSON *v = field(obj, defaults, key);

	return cJSON_IsString(v) ? v->valuestring : def;
}

int
mc_http_req_build(struct mc_target *t, const cJSON *obj, const cJSON *defaults, struct mc_http_req *r,
		  char *err, size_t errlen)
{
	const char *server = str_field(obj, defaults, "server", NULL);
	const char *from = str_field(obj, defaults, "from", NULL);
	const char *url = str_field(obj, defaults, "url", NULL);
	char outbound[300];
	const char *path = str_field(obj, defaults, "path", "/");
	const char *http = str_field(obj, defaults, "http", NULL);
	const cJSON *hdrs = field(obj, defaults, "headers"), *e, *cc, *to;
	const char *name;
	bool v6;
	long timeout = 5;
	int rc;

	memset(r, 0, sizeof(*r));
	if (from != NULL && cJSON_GetObjectItemCaseSensitive(obj, "server") == NULL) {
		snprintf(outbound, sizeof(outbound), "%s:outbound", from);
		server = outbound;
	}
	if (server == NULL)
		return mc_err(err, errlen, EINVAL, "no server named for the request");
	if ((rc = t->ops->endpoint(t, server, &r->ep, err, errlen)) < 0)
		return rc;
	/* The server's mesh name resolves to its address: the SNI is what the mesh would send. */
	name = r->ep.sni != NULL && !r->ep.plaintext ? r->ep.sni : "workload.meshcheck.test";
	v6 = strchr(r->ep.host, ':') != NULL;
	snprintf(r->url, sizeof(r->url), "%s://%s:%d%s", r->ep.plaintext ? "http" : "https", name, r->ep.port, path);
	snprintf(r->resolve, sizeof(r->resolve), "%s:%d:%s%s%s", name, r->ep.port, v6 ? "[" : "", r->ep.host,
		 v6 ? "]" : "");
	snprintf(r->target, sizeof(r->target), "%s (%s://%s:%d%s)", server, r->ep.plaintext ? "http" : "https",
		 r->ep.host, r->ep.port, path);
	if (url != NULL) {
		/* The URL as given; every connection goes to the endpoint (curl --connect-to). */
		snprintf(r->url, sizeof(r->url), "%s", url);
		snprintf(r->resolve, sizeof(r->resolve), "::%s%s%s:%d", v6 ? "[" : "", r->ep.host, v6 ? "]" : "",
			 r->ep.port);
		if (from != NULL)
			snprintf(r->target, sizeof(r->target), "%s -> %s", from, url);
		else
			snprintf(r->target, sizeof(r->target), "%s via %s (%s:%d)", url, server, r->ep.host, r->ep.port);
	}
	r->resolve_list[0] = r->resolve;
	r->spec.url = r->url;
	if (url != NULL) {
		r->spec.connect_to = r->resolve;
	} else {
		r->spec.resolve = r->resolve_list;
		r->spec.n_resolve = 1;
	}
	r->spec.method = str_field(obj, defaults, "method", NULL);
	r->spec.host = str_field(obj, defaults, "host", NULL);
	r->spec.body = str_field(obj, defaults, "body", NULL);
	cJSON_ArrayForEach(e, hdrs) {
		if (cJSON_IsString(e) && r->spec.n_headers < MC_HTTP_MAX_HEADERS)
			r->headers[r->spec.n_headers++] = e->valuestring;
	}
	r->spec.headers = r->headers;
	if (http != NULL)
		(void)mc_http_version_parse(http, &r->spec.version);
	if (strncmp(r->url, "https://", 8) == 0) {
		r->spec.cacert = r->ep.root;
		r->spec.any_name = true;
		r->spec.insecure = r->ep.root == NULL;
		cc = field(obj, defaults, "client_cert");
		if ((cc == NULL || cJSON_IsTrue(cc)) && r->ep.client_cert != NULL) {
			r->spec.cert = r->ep.client_cert;
			r->spec.key = r->ep.client_key;
		}
	}
	to = field(obj, defaults, "timeout");
	if (to != NULL) {
		if (cJSON_IsNumber(to))
			timeout = (long)to->valuedouble;
		else if (cJSON_IsString(to))
			(void)mc_duration_parse(to->valuestring, &timeout);
	}
	if (timeout < 1)
		timeout = 1;
	r->spec.timeout_ms = timeout * 1000;
	r->spec.connect_timeout_ms = timeout * 1000 < 3000 ? timeout * 1000 : 3000;
	return 0;
}

int
mc_http_send(struct mc_target *t, const struct mc_http_req *r, size_t count, struct mc_probe_result *res, char *err,
	     size_t errlen)
{
	int rc = 0;

	if (r->ep.via != NULL) {
		if (t->ops->send == NULL)
			return mc_err(err, errlen, ENOTSUP, "%s: the %s target cannot send to it", r->target,
				      t->ops->name);
		return t->ops->send(t, &r->ep, &r->spec, count, res, err, errlen);
	}
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = mc_probe_run(&r->spec, &res[i], err, errlen);
	return rc;
}

const char *
mc_http_outcome(const struct mc_probe_result *res, char *buf, size_t buflen)
{
	if (res->error != MC_XFER_OK)
		snprintf(buf, buflen, "%s", mc_xfer_error_name(res->error));
	else
		snprintf(buf, buflen, "%ld", res->status);
	return buf;
}

int
mc_http_outcome_validate(const cJSON *v, const char *where, char *err, size_t errlen)
{
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != (double)(int)v->valuedouble || v->valuedouble < 100 || v->valuedouble > 599)
			return mc_err(err, errlen, EINVAL, "%s: expected a status code 100..599", where);
		return 0;
	}
	if (cJSON_IsString(v))
		for (size_t i = 0; outcome_names[i] != NULL; i++)
			if (strcmp(v->valuestring, outcome_names[i]) == 0)
				return 0;
	return mc_err(err, errlen, EINVAL,
		      "%s: expected a status code or one of refused, reset, timeout, tls, dns, other", where);
}

bool
mc_http_outcome_matches(const cJSON *v, const struct mc_probe_result *res)
{
	if (cJSON_IsNumber(v))
		return res->error == MC_XFER_OK && res->status == (long)v->valuedouble;
	return cJSON_IsString(v) && res->error != MC_XFER_OK &&
	       strcmp(v->valuestring, mc_xfer_error_name(res->error)) == 0;
}

const char *
mc_http_outcome_text(const cJSON *v, char *buf, size_t buflen)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, buflen, "%d", (int)v->valuedouble);
	else
		snprintf(buf, buflen, "%s", cJSON_IsString(v) ? v->valuestring : "?");
	return buf;
}

void
mc_http_evidence(const struct mc_check_ctx *ctx, struct mc_case *c, const char *name, const char *label,
		 const char *text)
{
	char *full = NULL, *rel = mc_check_evidence_path(ctx, name, &full);
	char err[MC_ERRLEN];

	if (rel != NULL && mc_file_write(full, text, strlen(text), 0644, err, sizeof(err)) == 0)
		mc_case_add_evidence(c, label, rel);
	free(rel);
	free(full);
}
