/*
 * The `wire` check kind: capture while traffic flows, then prove by content
 * that it was encrypted. Each case makes a fresh canary token, sends
 * requests carrying it (in the path, a header and the body) to the named
 * servers with a new connection each, captures the servers' traffic, and
 * judges the flows: all TLS (optionally ALPN/SNI patterns), the canary
 * nowhere in cleartext, at least as many flows as connections made (so a
 * capture that saw nothing cannot pass). Non-TCP noise never counts.
 *
 *   "input":  { "server": "NAME" | "servers": ["A", "B"], "requests": 10,
 *               "interface": "lo", "http2": false, "client_cert": true }
 *   "expect": { "all_tls": true, "no_canary": true, "alpn": "GLOB", "sni": "GLOB",
 *               "min_flows": N }
 *
 * A negative control (a plaintext server, "expect_failure": true) must be
 * seen leaking the canary, or the suite fails. Evidence: the capture (pcap),
 * the per-flow table and the verdict as JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "check_http.h"
#include "check_kind.h"
#include "target.h"
#include "util.h"
#include "wire.h"

#define MAX_SERVERS 16

static const char *const input_fields[] = {"server", "servers", "requests", "interface", "http2",
					   "client_cert", "from", "url", "capture", NULL};
static const char *const expect_fields[] = {"all_tls", "no_canary", "alpn", "sni", "min_flows", NULL};

static int
wire_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	char w[600];
	const char *s = NULL;
	const cJSON *arr = NULL;
	long l;
	int b, rc;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0 ||
	    (rc = mc_field_string(in, "server", 0, w, &s, err, errlen)) < 0 ||
	    (rc = mc_field_strings(in, "servers", 0, w, &arr, err, errlen)) < 0)
		return rc;
	if (cJSON_GetObjectItemCaseSensitive(in, "from") != NULL) {
		const char *from = NULL, *url = NULL;

		if (s != NULL || arr != NULL)
			return mc_err(err, errlen, EINVAL, "%s: with from, name the captured endpoints in capture", w);
		if ((rc = mc_field_string(in, "from", 1, w, &from, err, errlen)) < 0 ||
		    (rc = mc_field_string(in, "url", 1, w, &url, err, errlen)) < 0 ||
		    (rc = mc_field_strings(in, "capture", 1, w, &arr, err, errlen)) < 0)
			return rc;
		if (strncmp(url, "http://", 7) != 0)
			return mc_err(err, errlen, EINVAL, "%s.url: expected http://SERVICE:PORT/PATH, as the app calls it", w);
		s = NULL;
	} else if ((s != NULL) == (arr != NULL)) {
		return mc_err(err, errlen, EINVAL, "%s: give exactly one of server, servers (or from, url, capture)", w);
	}
	if (arr != NULL && (cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(arr) > MAX_SERVERS))
		return mc_err(err, errlen, EINVAL, "%s.%s: expected 1 to %d names", w,
			      cJSON_GetObjectItemCaseSensitive(in, "from") != NULL ? "capture" : "servers", MAX_SERVERS);
	if ((rc = mc_field_int(in, "requests", 0, w, 1, 1000, &l, err, errlen)) < 0 ||
	    (rc = mc_field_string(in, "interface", 0, w, &s, err, errlen)) < 0 ||
	    (rc = mc_field_bool(in, "http2", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_bool(in, "client_cert", 0, w, &b, err, errlen)) < 0)
		return rc;
	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_fields_known(ex, expect_fields, w, err, errlen)) < 0 ||
	    (rc = mc_field_bool(ex, "all_tls", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_bool(ex, "no_canary", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_string(ex, "alpn", 0, w, &s, err, errlen)) < 0 ||
	    (rc = mc_field_string(ex, "sni", 0, w, &s, err, errlen)) < 0 ||
	    (rc = mc_field_int(ex, "min_flows", 0, w, 0, 100000, &l, err, errlen)) < 0)
		return rc;
	return 0;
}

/* A fresh token that cannot occur by chance: "mccanary-" and 16 hex digits. */
static void
make_canary(char *out, size_t outlen)
{
	unsigned char r[8];
	char hex[17];

	if (RAND_bytes(r, sizeof(r)) != 1)
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(rand() & 0xff);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(out, outlen, "mccanary-%s", hex);
}

static size_t
discard(char *ptr, size_t size, size_t n, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * n;
}

/*
 * Sends one request carrying the canary to the endpoint on a new
 * connection. Returns the HTTP status, or -1 with the curl error in err.
 */
static long
send_one(const struct mc_endpoint *ep, const char *canary, bool http2, bool client_cert, size_t n,
	 char *err, size_t errlen)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL, *resolve = NULL;
	char url[512], header[128], body[128], res[512], errbuf[CURL_ERROR_SIZE] = "";
	const char *host = ep->sni != NULL && !ep->plaintext ? ep->sni : "workload.meshcheck.test";
	bool v6 = strchr(ep->host, ':') != NULL;
	long status = -1;
	CURLcode cc;

	if (h == NULL)
		return mc_err(err, errlen, ENOMEM, "curl_easy_init failed");
	/* The name resolves to the workload's address, so the SNI is the mesh's name for it. */
	snprintf(res, sizeof(res), "%s:%d:%s%s%s", host, ep->port, v6 ? "[" : "", ep->host, v6 ? "]" : "");
	resolve = curl_slist_append(NULL, res);
	snprintf(url, sizeof(url), "%s://%s:%d/canary/%s?n=%zu", ep->plaintext ? "http" : "https", host, ep->port,
		 canary, n);
	snprintf(header, sizeof(header), "X-Meshcheck-Canary: %s", canary);
	hdrs = curl_slist_append(NULL, header);
	snprintf(body, sizeof(body), "canary=%s", canary);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
	if (!ep->plaintext) {
		/* Mesh certificates name a SPIFFE identity, not a host: the chain is checked, the name is not. */
		if (ep->root != NULL)
			curl_easy_setopt(h, CURLOPT_CAINFO, ep->root);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		if (client_cert && ep->client_cert != NULL) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, ep->client_cert);
			curl_easy_setopt(h, CURLOPT_SSLKEY, ep->client_key);
		}
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		mc_err(err, errlen, EIO, "%s: %s", url, errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
	curl_slist_free_all(hdrs);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(h);
	return status;
}

/*
 * Sends one request carrying the canary as an app in workload from calls
 * url: through that workload's sidecar, which carries it across the mesh.
 * Returns the HTTP status, or -1 with the transport error in err.
 */
static long
send_from(const struct mc_check_ctx *ctx, const char *from, const char *url, const char *canary, size_t n,
	  char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject(), *hdrs = cJSON_CreateArray();
	char *full = mc_xasprintf("%s%scanary=%s&n=%zu", url, strchr(url, '?') != NULL ? "&" : "?", canary, n);
	char *hdr = mc_xasprintf("X-Meshcheck-Canary: %s", canary), *body = mc_xasprintf("canary=%s", canary);
	struct mc_http_req r;
	struct mc_probe_result res = {0};
	long status = -1;

	cJSON_AddStringToObject(o, "from", from);
	cJSON_AddStringToObject(o, "url", full);
	cJSON_AddItemToArray(hdrs, cJSON_CreateString(hdr));
	cJSON_AddItemToObject(o, "headers", hdrs);
	cJSON_AddStringToObject(o, "body", body);
	if (mc_http_req_build(ctx->target, o, NULL, &r, err, errlen) == 0 &&
	    mc_http_send(ctx->target, &r, 1, &res, err, errlen) == 0) {
		if (res.error == MC_XFER_OK)
			status = res.status;
		else
			mc_err(err, errlen, EIO, "%s: %s", full, res.message);
	}
	mc_probe_result_free(&res);
	cJSON_Delete(o);
	free(full);
	free(hdr);
	free(body);
	return status;
}

static void
wire_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	const cJSON *in = ctx->def->input, *ex = ctx->def->expect, *e;
	struct mc_endpoint eps[MAX_SERVERS];
	struct mc_flow_match match[MAX_SERVERS];
	const char *names[MAX_SERVERS];
	size_t n_eps = 0, ok = 0, sent = 0;
	long requests = mc_json_int(in, "requests", 10);
	const char *iface = mc_json_str(in, "interface", "lo");
	const char *from = mc_json_str(in, "from", NULL);
	struct mc_wire_options wo = {0};
	struct mc_capture_options co = {0};
	struct mc_wire_expect we = {0};
	struct mc_wire_verdict v;
	struct mc_wire *w = NULL;
	struct mc_capture *cap = NULL;
	void *tcap = NULL;
	bool remote = ctx->target->ops->capture_start != NULL && ctx->target->ops->capture_stop != NULL;
	struct mc_buf bpf, seen, expected;
	char canary[64], err[MC_ERRLEN] = "", first_err[MC_ERRLEN] = "";
	const char *canaries[1] = {canary};
	char *pcap_rel = NULL, *pcap_full = NULL, *table = NULL;
	int rc;

	mc_buf_init(&bpf, 1 << 16);
	mc_buf_init(&seen, 1 << 22);
	mc_buf_init(&expected, 1 << 16);
	if ((e = cJSON_GetObjectItemCaseSensitive(in, "capture")) != NULL ||
	    (e = cJSON_GetObjectItemCaseSensitive(in, "servers")) != NULL) {
		const cJSON *x;

		cJSON_ArrayForEach(x, e) names[n_eps++] = x->valuestring;
	} else {
		names[n_eps++] = mc_json_str(in, "server", "");
	}
	for (size_t i = 0; i < n_eps; i++) {
		memset(&eps[i], 0, sizeof(eps[i]));
		if (ctx->target->ops->endpoint(ctx->target, names[i], &eps[i], err, sizeof(err)) < 0) {
			mc_case_set(c, MC_RESULT_ERROR, "%s", err);
			goto out;
		}
		match[i].addr = eps[i].host;
		match[i].port = (uint16_t)eps[i].port;
		mc_buf_printf(&bpf, "%s(host %s and tcp port %d)", i > 0 ? " or " : "tcp and (", eps[i].host,
			      eps[i].port);
	}
	mc_buf_puts(&bpf, ")");

	make_canary(canary, sizeof(canary));
	wo.canaries = canaries;
	wo.n_canaries = 1;
	w = mc_wire_new(&wo, err, sizeof(err));
	if (w == NULL) {
		mc_case_set(c, MC_RESULT_ERROR, "wire engine: %s", err);
		goto out;
	}
	pcap_rel = mc_check_evidence_path(ctx, "capture.pcap", &pcap_full);
	co.iface = iface;
	co.bpf = bpf.data;
	co.write_path = pcap_full;
	if (remote) {
		/* The target captures where the servers' traffic passes (a node of a cluster). */
		char *dir = mc_xstrdup(pcap_full), *slash = strrchr(dir, '/');

		if (slash != NULL)
			*slash = '\0';
		(void)mc_mkdir_p(dir, 0755, NULL, 0);
		iface = "the servers' node";
		rc = ctx->target->ops->capture_start(ctx->target, names, n_eps, dir, &tcap, err, sizeof(err));
		free(dir);
	} else {
		rc = mc_capture_start(w, &co, &cap, err, sizeof(err));
	}
	if (rc == -EPERM) {
		mc_case_set(c, MC_RESULT_SKIP, "%s", err);
		goto out;
	}
	if (rc < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "capture on %s: %s", iface, err);
		goto out;
	}
	for (long r = 0; from != NULL && r < requests; r++) {
		long status = send_from(ctx, from, mc_json_str(in, "url", ""), canary, (size_t)r, err, sizeof(err));

		sent++;
		if (status > 0)
			ok++;
		else if (first_err[0] == '\0')
			snprintf(first_err, sizeof(first_err), "%s", err);
	}
	for (long r = 0; from == NULL && r < requests; r++) {
		for (size_t i = 0; i < n_eps; i++) {
			long status = send_one(&eps[i], canary, mc_json_bool(in, "http2", false),
					       mc_json_bool(in, "client_cert", true), (size_t)r, err, sizeof(err));

			sent++;
			if (status > 0)
				ok++;
			else if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err), "%s", err);
		}
	}
	if (remote) {
		char *got = NULL;

		rc = ctx->target->ops->capture_stop(ctx->target, tcap, w, &got, err, sizeof(err));
		tcap = NULL;
		if (got != NULL && strcmp(got, pcap_full) != 0 && rename(got, pcap_full) < 0)
			rc = rc < 0 ? rc : mc_err(err, sizeof(err), errno, "%s: %s", got, strerror(errno));
		free(got);
	} else {
		rc = mc_capture_stop(cap, err, sizeof(err));
		cap = NULL;
	}
	if (rc < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "capture on %s: %s", iface, err);
		goto out;
	}
	mc_case_add_evidence(c, "capture (pcap)", pcap_rel);

	we.match = match;
	we.n_match = n_eps;
	we.all_tls = mc_json_bool(ex, "all_tls", true);
	we.no_canary = mc_json_bool(ex, "no_canary", true);
	we.alpn = mc_json_str(ex, "alpn", NULL);
	we.sni = mc_json_str(ex, "sni", NULL);
	/* One connection per request: fewer flows means the capture missed traffic. */
	we.min_flows = (size_t)mc_json_int(ex, "min_flows", (long)ok);
	mc_wire_judge(w, &we, &v);

	mc_buf_printf(&expected, "traffic to %zu server(s) captured on %s (filter: %s)\n", n_eps, iface, bpf.data);
	if (we.all_tls)
		mc_buf_puts(&expected, "every flow is TLS\n");
	if (we.alpn != NULL)
		mc_buf_printf(&expected, "ALPN matches %s\n", we.alpn);
	if (we.sni != NULL)
		mc_buf_printf(&expected, "SNI matches %s\n", we.sni);
	if (we.no_canary)
		mc_buf_printf(&expected, "the canary %s appears nowhere in cleartext\n", canary);
	mc_buf_printf(&expected, "at least %zu flow(s) seen\n", we.min_flows > 0 ? we.min_flows : 1);
	table = mc_wire_flows_text(w);
	mc_buf_printf(&seen, "%zu request(s) sent, %zu answered%s%s\n", sent, ok, first_err[0] ? "; first error: " : "",
		      first_err);
	mc_buf_printf(&seen, "%zu flow(s) selected: %zu TLS, %zu plaintext; canary seen %llu time(s) in cleartext\n",
		      v.selected, v.tls, v.plaintext, (unsigned long long)v.canary_hits);
	mc_buf_printf(&seen, "verdict: %s%s%s\n\n%s", v.ok ? "ok" : "FAILED", v.ok ? "" : ": ", v.ok ? "" : v.reason,
		      table != NULL ? table : "");
	mc_case_set_expected(c, expected.data);
	mc_case_set_seen(c, seen.data);
	mc_case_add_measure(c, "flows", (double)v.selected, NULL);
	mc_case_add_measure(c, "canary hits", (double)v.canary_hits, NULL);
	{
		char *full = NULL, *rel = mc_check_evidence_path(ctx, "flows.json", &full);
		cJSON *j = mc_wire_json(w, &v);
		char *text = cJSON_Print(j);

		if (text != NULL && mc_file_write(full, text, strlen(text), 0644, NULL, 0) == 0)
			mc_case_add_evidence(c, "flows and verdict (JSON)", rel);
		cJSON_Delete(j);
		free(text);
		free(full);
		free(rel);
	}
	if (ok == 0)
		mc_case_set(c, MC_RESULT_ERROR, "no request was answered, so there was nothing to judge: %s", first_err);
	else if (v.ok)
		mc_case_set(c, MC_RESULT_PASS, NULL);
	else
		mc_case_set(c, MC_RESULT_FAIL, "%s", v.reason);
out:
	if (cap != NULL)
		mc_capture_stop(cap, NULL, 0);
	if (tcap != NULL) {
		char *got = NULL;

		(void)ctx->target->ops->capture_stop(ctx->target, tcap, w, &got, NULL, 0);
		free(got);
	}
	mc_wire_free(w);
	free(table);
	free(pcap_rel);
	free(pcap_full);
	mc_buf_free(&bpf);
	mc_buf_free(&seen);
	mc_buf_free(&expected);
}

const struct mc_check_kind mc_check_wire = {
	.name = "wire",
	.summary = "captured traffic between workloads is TLS and never carries the canary in cleartext",
	.validate = wire_validate,
	.run = wire_run,
};
