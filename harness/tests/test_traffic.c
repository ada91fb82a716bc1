/*
 * Integration tests of the traffic engine's probe and load generator, and of
 * `meshcheck load`, against a real nginx (from the distribution) on
 * loopback: a TLS server with a certificate from the PKI engine, the same
 * demanding a client certificate, and a plaintext server. Exits 77
 * (skipped) when nginx is missing. Only 127.0.0.1 is used; every load is
 * bounded in requests and time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "load.h"
#include "nginx.h"
#include "pki.h"
#include "probe.h"
#include "testutil.h"

#define ADDR "127.0.0.1"
#define NAME "hello.mesh.test"
#define BODY "Hello version: v1, instance: a"

static char *dir, *root, *client_chain, *client_key;
static struct mc_nginx *ng;
static int port_tls, port_mtls, port_plain;
static char resolve_tls[128], resolve_mtls[128];

/* A port that was free a moment ago on ADDR. */
static int
free_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	ck_assert_int_ge(fd, 0);
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static void
issue(const char *ca, const char *spiffe, const char *out)
{
	static const char *const dns[] = {NAME};
	struct mc_issue_options io = {0};
	char err[MC_ERRLEN];

	io.spiffe = spiffe;
	io.key = MC_KEY_EC256;
	io.key_set = true;
	io.dns = dns;
	io.n_dns = 1;
	ck_assert_msg(mc_pki_issue(ca, &io, out, err, sizeof(err)) == 0, "%s", err);
}

/* Once for the whole suite: a CA, server and client identities, one nginx with three servers. */
static void
setup(void)
{
	static const char *const cl[] = {"c1"};
	struct mc_ca_options o = {0};
	struct mc_tls_server srv[3] = {{0}};
	char err[MC_ERRLEN];
	char *ca, *sdir, *cdir, *chain, *key, *ngdir;
	int rc = -1;

	dir = t_tmpdir();
	o.key = MC_KEY_EC256;
	ck_assert_msg(mc_pki_init(dir, cl, 1, &o, err, sizeof(err)) == 0, "%s", err);
	root = mc_xasprintf("%s/root-cert.pem", dir);
	ca = mc_xasprintf("%s/c1", dir);
	sdir = mc_xasprintf("%s/server", dir);
	cdir = mc_xasprintf("%s/client", dir);
	issue(ca, "spiffe://cluster.local/ns/sample/sa/helloworld", sdir);
	issue(ca, "spiffe://cluster.local/ns/meshcheck/sa/harness", cdir);
	client_chain = mc_xasprintf("%s/cert-chain.pem", cdir);
	client_key = mc_xasprintf("%s/key.pem", cdir);
	chain = mc_xasprintf("%s/cert-chain.pem", sdir);
	key = mc_xasprintf("%s/key.pem", sdir);
	ngdir = mc_xasprintf("%s/nginx", dir);

	for (int i = 0; i < 3; i++) {
		srv[i].addr = ADDR;
		srv[i].cert_chain = chain;
		srv[i].key = key;
		srv[i].body = BODY;
	}
	srv[0].name = "tls";
	srv[1].name = "mtls";
	srv[1].client_ca = root;
	srv[2].name = "plain";
	srv[2].plaintext = true;
	/* A port can be taken between the probe and nginx's bind: try a few times. */
	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		srv[0].port = port_tls = free_port();
		srv[1].port = port_mtls = free_port();
		srv[2].port = port_plain = free_port();
		if (port_tls == port_mtls || port_mtls == port_plain || port_tls == port_plain)
			continue;
		rc = mc_nginx_start(ngdir, srv, 3, 10000, &ng, err, sizeof(err));
	}
	ck_assert_msg(rc == 0, "nginx: %s", err);
	snprintf(resolve_tls, sizeof(resolve_tls), "%s:%d:%s", NAME, port_tls, ADDR);
	snprintf(resolve_mtls, sizeof(resolve_mtls), "%s:%d:%s", NAME, port_mtls, ADDR);
	free(ca);
	free(sdir);
	free(cdir);
	free(chain);
	free(key);
	free(ngdir);
}

static void
teardown(void)
{
	mc_nginx_stop(ng);
	ng = NULL;
	mc_rm_rf(dir);
	free(dir);
	free(root);
	free(client_chain);
	free(client_key);
}

/* The verified TLS request: https://NAME:port/ resolved to ADDR, trusting our root. */
static char *
tls_spec(struct mc_probe_spec *s, int port, const char **resolve)
{
	char *url = mc_xasprintf("https://%s:%d/", NAME, port);

	memset(s, 0, sizeof(*s));
	s->url = url;
	s->resolve = resolve;
	s->n_resolve = 1;
	s->cacert = root;
	s->timeout_ms = 5000;
	return url;
}

static void
probe_ok(const struct mc_probe_spec *s, struct mc_probe_result *r)
{
	char err[MC_ERRLEN];

	ck_assert_msg(mc_probe_run(s, r, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(probe_tls_http11)
{
	const char *resolve[] = {resolve_tls};
	struct mc_probe_spec s;
	struct mc_probe_result r;
	char *url = tls_spec(&s, port_tls, resolve);
	const char *ct;
	size_t ctlen = 0;
	cJSON *j;

	probe_ok(&s, &r);
	ck_assert_msg(r.error == MC_XFER_OK, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, BODY);
	ck_assert_uint_eq(r.body_len, strlen(BODY));
	ck_assert(!r.body_truncated);
	ck_assert_str_eq(r.http_version, "1.1");
	ck_assert_str_eq(r.alpn, "http/1.1");
	ck_assert(r.tls);
	ck_assert_str_eq(r.primary_ip, ADDR);
	ck_assert_int_eq(r.primary_port, port_tls);
	/* nginx sends its whole cert-chain.pem: leaf, intermediate, root. */
	ck_assert_uint_eq(r.n_peer_certs, 3);
	ck_assert_ptr_nonnull(strstr(r.peer_chain_pem, "-----BEGIN CERTIFICATE-----"));
	/* Timings are cumulative from the start. */
	ck_assert_int_gt(r.connect_us, 0);
	ck_assert_int_ge(r.tls_us, r.connect_us);
	ck_assert_int_ge(r.first_byte_us, r.tls_us);
	ck_assert_int_ge(r.total_us, r.first_byte_us);
	ct = mc_header_find(r.headers, r.headers_len, "content-type", &ctlen);
	ck_assert_ptr_nonnull(ct);
	ck_assert_int_eq(strncmp(ct, "text/plain", ctlen), 0);
	ck_assert_uint_eq(ctlen, strlen("text/plain"));

	j = mc_probe_result_json(&r);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "status")->valueint, 200);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
	ck_assert_str_eq(cJSON_GetObjectItem(j, "alpn")->valuestring, "http/1.1");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "body")->valuestring, BODY);
	ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(j, "headers")), 2);
	cJSON_Delete(j);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

START_TEST(probe_tls_http2)
{
	const char *resolve[] = {resolve_tls};
	struct mc_probe_spec s;
	struct mc_probe_result r;
	char *url = tls_spec(&s, port_tls, resolve);

	s.version = MC_HTTP_2;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s", r.message);
	ck_assert_str_eq(r.http_version, "2");
	ck_assert_str_eq(r.alpn, "h2");
	ck_assert_str_eq(r.body, BODY);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

/* The certificate names NAME only: by address the name check fails, unless verification is off. */
START_TEST(probe_tls_name_mismatch)
{
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	char *url = mc_xasprintf("https://%s:%d/", ADDR, port_tls);

	s.url = url;
	s.cacert = root;
	probe_ok(&s, &r);
	ck_assert_int_eq(r.error, MC_XFER_TLS);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.message, "certificate") != NULL || strstr(r.message, "SSL") != NULL, "%s", r.message);
	mc_probe_result_free(&r);

	s.cacert = NULL;
	s.insecure = true;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s", r.message);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

/* Without our root, the chain does not verify against the system's roots. */
START_TEST(probe_tls_untrusted)
{
	const char *resolve[] = {resolve_tls};
	struct mc_probe_spec s;
	struct mc_probe_result r;
	char *url = tls_spec(&s, port_tls, resolve);

	s.cacert = NULL;
	probe_ok(&s, &r);
	ck_assert_int_eq(r.error, MC_XFER_TLS);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

/* nginx completes the handshake without a client certificate and answers 400 (FACTS.md §7). */
START_TEST(probe_mtls)
{
	const char *resolve[] = {resolve_mtls};
	struct mc_probe_spec s;
	struct mc_probe_result r;
	char *url = tls_spec(&s, port_mtls, resolve);

	probe_ok(&s, &r);
	ck_assert_msg(r.error == MC_XFER_OK, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_int_eq(r.status, 400);
	mc_probe_result_free(&r);

	s.cert = client_chain;
	s.key = client_key;
	probe_ok(&s, &r);
	ck_assert_msg(r.error == MC_XFER_OK, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, BODY);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

START_TEST(probe_refused)
{
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	char *url = mc_xasprintf("http://%s:%d/", ADDR, free_port());

	s.url = url;
	probe_ok(&s, &r);
	ck_assert_int_eq(r.error, MC_XFER_REFUSED);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.http_version, "");
	ck_assert(r.message[0] != '\0');
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

/* A socket that listens but never accepts: the kernel completes the handshake, nobody answers. */
START_TEST(probe_timeout)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *url;

	sa.sin_family = AF_INET;
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	url = mc_xasprintf("http://%s:%d/", ADDR, ntohs(sa.sin_port));
	s.url = url;
	s.timeout_ms = 300;
	probe_ok(&s, &r);
	ck_assert_int_eq(r.error, MC_XFER_TIMEOUT);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_ge(r.total_us, 250000);
	ck_assert_int_lt(r.total_us, 3000000);
	mc_probe_result_free(&r);
	close(fd);
	free(url);
}
END_TEST

/* A made-up name on the plaintext server, with Host, method, body and extra headers. */
START_TEST(probe_resolve_and_request_options)
{
	char resolve_plain[128];
	const char *resolve[] = {resolve_plain};
	const char *headers[] = {"X-Meshcheck: 1"};
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	char *url = mc_xasprintf("http://made-up.mesh.test:%d/hello", port_plain);

	snprintf(resolve_plain, sizeof(resolve_plain), "made-up.mesh.test:%d:%s", port_plain, ADDR);
	s.url = url;
	s.resolve = resolve;
	s.n_resolve = 1;
	s.headers = headers;
	s.n_headers = 1;
	s.host = "helloworld.sample.svc.cluster.local";
	s.max_body = 5;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s", r.message);
	ck_assert_str_eq(r.primary_ip, ADDR);
	ck_assert(!r.tls);
	ck_assert_str_eq(r.alpn, "");
	ck_assert_ptr_null(r.peer_chain_pem);
	/* Bounded body: five bytes kept, the rest counted. */
	ck_assert_str_eq(r.body, "Hello");
	ck_assert(r.body_truncated);
	ck_assert_int_eq(r.body_bytes, (int64_t)strlen(BODY));
	mc_probe_result_free(&r);

	/* nginx's `return` answers every method; a POST with a body still gets 200. */
	s.body = "ping";
	s.max_body = 0;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s", r.message);
	ck_assert_str_eq(r.body, BODY);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

START_TEST(probe_bad_spec)
{
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	const char *resolve[] = {"no-port"};
	char err[MC_ERRLEN];

	s.url = "ftp://127.0.0.1/";
	ck_assert_int_eq(mc_probe_run(&s, &r, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "http"));
	mc_probe_result_free(&r);
	s.url = "http://127.0.0.1:1/";
	s.resolve = resolve;
	s.n_resolve = 1;
	ck_assert_int_eq(mc_probe_run(&s, &r, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no-port"));
	mc_probe_result_free(&r);
	s.n_resolve = 0;
	s.cacert = "/nonexistent/ca.pem";
	ck_assert_int_eq(mc_probe_run(&s, &r, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.pem"));
	mc_probe_result_free(&r);
}
END_TEST

/* The classes that need a misbehaving peer to provoke, checked on curl's codes directly. */
START_TEST(classify_codes)
{
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_OK, 0, NULL), MC_XFER_OK);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_COULDNT_CONNECT, ECONNREFUSED, NULL), MC_XFER_REFUSED);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_COULDNT_CONNECT, ETIMEDOUT, NULL), MC_XFER_TIMEOUT);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_COULDNT_CONNECT, ENETUNREACH, NULL), MC_XFER_OTHER);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_RECV_ERROR, ECONNRESET, NULL), MC_XFER_RESET);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_GOT_NOTHING, 0, NULL), MC_XFER_RESET);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_RECV_ERROR, 0,
						"OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert "
						"certificate required, errno 0"),
			 MC_XFER_TLS);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_PEER_FAILED_VERIFICATION, 0, NULL), MC_XFER_TLS);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_COULDNT_RESOLVE_HOST, 0, NULL), MC_XFER_DNS);
	ck_assert_int_eq(mc_xfer_error_classify(CURLE_OPERATION_TIMEDOUT, 0, NULL), MC_XFER_TIMEOUT);
	ck_assert_str_eq(mc_xfer_error_name(MC_XFER_REFUSED), "refused");
	ck_assert_str_eq(mc_xfer_error_name(MC_XFER_OK), "none");
}
END_TEST

static void
load_ok(const struct mc_load_options *o, struct mc_load_result *r)
{
	char err[MC_ERRLEN];

	ck_assert_msg(mc_load_run(o, r, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(load_closed_count)
{
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);

	o.req.url = url;
	o.connections = 10;
	o.count = 2000;
	o.duration = 60;              /* a bound in case something hangs; the count ends it */
	load_ok(&o, &r);
	ck_assert_int_eq(r.requests, 2000);
	ck_assert_int_eq(r.responses, 2000);
	ck_assert_int_eq(r.codes[200], 2000);
	ck_assert_int_eq(r.errors, 0);
	ck_assert_int_eq(mc_hist_count(r.hist), 2000);
	ck_assert_int_eq(r.bytes, 2000 * (int64_t)strlen(BODY));
	ck_assert(!r.open_loop);
	ck_assert(r.rate_achieved > 0);
	ck_assert(r.duration > 0 && r.duration < 30);
	ck_assert_int_gt(mc_hist_percentile(r.hist, 50), 0);
	mc_load_result_clear(&r);

	/* Two threads share the count exactly. */
	o.threads = 2;
	load_ok(&o, &r);
	ck_assert_int_eq(r.requests, 2000);
	ck_assert_int_eq(r.codes[200], 2000);
	ck_assert_int_eq(r.threads, 2);
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

START_TEST(load_open_rate)
{
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);
	cJSON *j;

	o.req.url = url;
	o.connections = 10;
	o.rate = 200;
	o.duration = 2;
	load_ok(&o, &r);
	ck_assert(r.open_loop);
	ck_assert_msg(r.requests >= 392 && r.requests <= 408, "%lld requests", (long long)r.requests);
	ck_assert_int_eq(r.codes[200], r.requests);
	ck_assert_int_eq(r.unsent, 0);
	ck_assert_msg(fabs(r.rate_achieved - 200) <= 4, "achieved %.1f req/s", r.rate_achieved);
	ck_assert_msg(fabs(r.duration - 2) < 0.1, "duration %.3f s", r.duration);
	ck_assert(r.rate_target == 200);
	/* A request a few milliseconds late now and then is scheduling noise; most must be on time. */
	ck_assert_msg(r.late < r.requests / 10, "%lld late", (long long)r.late);
	j = mc_load_result_json(&r);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "open");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "requests")->valueint, (int)r.requests);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "codes"), "200")->valueint, (int)r.requests);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "latency_us"), "count")->valueint,
			 (int)r.requests);
	cJSON_Delete(j);
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

/* One connection at 1000/s for a server answering in well under 1 ms: nothing unsent. At 2 connections
 * and a hanging server (timeout test socket), everything due after the slots fill is unsent. */
START_TEST(load_open_unsent)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	struct mc_load_options o = {0};
	struct mc_load_result r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *url;

	sa.sin_family = AF_INET;
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	url = mc_xasprintf("http://%s:%d/", ADDR, ntohs(sa.sin_port));
	o.req.url = url;
	o.req.timeout_ms = 2000;
	o.connections = 2;
	o.rate = 100;
	o.duration = 1;
	load_ok(&o, &r);
	/* 100 due in the second; two went out and timed out after it, the other 98 never could. */
	ck_assert_int_eq(r.requests, 2);
	ck_assert_int_eq(r.xfer_errors[MC_XFER_TIMEOUT], 2);
	ck_assert_int_eq(r.unsent, 98);
	mc_load_result_clear(&r);
	close(fd);
	free(url);
}
END_TEST

START_TEST(load_extract_body_h2)
{
	const char *resolve[] = {resolve_tls};
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = tls_spec(&o.req, port_tls, resolve);

	o.req.version = MC_HTTP_2;
	o.connections = 4;
	o.count = 300;
	o.duration = 60;
	o.extract = "Hello version: (v[0-9]+)";
	load_ok(&o, &r);
	ck_assert_int_eq(r.codes[200], 300);
	ck_assert_uint_eq(r.n_responders, 1);
	ck_assert_str_eq(r.responders[0].value, "v1");
	ck_assert_int_eq(r.responders[0].count, 300);
	ck_assert_int_eq(r.responders_unmatched, 0);
	mc_load_result_clear(&r);

	/* Over a header, without a group: the whole match counts. */
	o.extract = "text/[a-z]+";
	o.extract_header = "Content-Type";
	load_ok(&o, &r);
	ck_assert_uint_eq(r.n_responders, 1);
	ck_assert_str_eq(r.responders[0].value, "text/plain");
	ck_assert_int_eq(r.responders[0].count, 300);
	mc_load_result_clear(&r);

	/* A regex that never matches counts every response as unmatched. */
	o.extract = "version: (v9)";
	o.extract_header = NULL;
	load_ok(&o, &r);
	ck_assert_uint_eq(r.n_responders, 0);
	ck_assert_int_eq(r.responders_unmatched, 300);
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

/* A fresh mTLS connection (full handshake) per request; without the client certificate: 400s. */
START_TEST(load_mtls_fresh)
{
	const char *resolve[] = {resolve_mtls};
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = tls_spec(&o.req, port_mtls, resolve);

	o.req.cert = client_chain;
	o.req.key = client_key;
	o.req.fresh = true;
	o.connections = 2;
	o.count = 50;
	o.duration = 60;
	load_ok(&o, &r);
	ck_assert_int_eq(r.codes[200], 50);
	mc_load_result_clear(&r);
	o.req.cert = o.req.key = NULL;
	load_ok(&o, &r);
	ck_assert_int_eq(r.codes[400], 50);
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

START_TEST(load_refused)
{
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = mc_xasprintf("http://%s:%d/", ADDR, free_port());

	o.req.url = url;
	o.connections = 3;
	o.count = 20;
	o.duration = 30;
	load_ok(&o, &r);
	ck_assert_int_eq(r.requests, 20);
	ck_assert_int_eq(r.errors, 20);
	ck_assert_int_eq(r.xfer_errors[MC_XFER_REFUSED], 20);
	ck_assert_int_eq(r.responses, 0);
	ck_assert_ptr_nonnull(strstr(r.first_error, "refused"));
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

static volatile sig_atomic_t stop_flag;
static int progress_calls;

static void
stop_after_progress(const struct mc_load_progress *p, void *arg)
{
	(void)arg;
	progress_calls++;
	if (p->elapsed >= 1 && !p->warming_up)
		stop_flag = 1;
}

/* Warm-up requests are not recorded; a stop request ends a 30 s run at once, results intact. */
START_TEST(load_warmup_and_stop)
{
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);
	double t0;

	o.req.url = url;
	o.connections = 2;
	o.warmup = 0.3;
	o.duration = 30;
	o.progress = stop_after_progress;
	o.stop = &stop_flag;
	t0 = mc_monotonic();
	load_ok(&o, &r);
	ck_assert_msg(mc_monotonic() - t0 < 5, "the stop flag was not obeyed");
	ck_assert(r.stopped);
	ck_assert_int_ge(progress_calls, 1);
	ck_assert_int_gt(r.warmup_requests, 0);
	ck_assert_int_gt(r.requests, 0);
	ck_assert_int_eq(r.codes[200], r.requests);
	ck_assert_int_eq(mc_hist_count(r.hist), r.requests);
	ck_assert(r.duration > 0.5 && r.duration < 4);
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

START_TEST(load_bad_options)
{
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char err[MC_ERRLEN];

	o.req.url = "http://127.0.0.1:1/";
	o.extract = "(unclosed";
	ck_assert_int_eq(mc_load_run(&o, &r, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "regex"));
	mc_load_result_clear(&r);
	o.extract = NULL;
	o.rate = -1;
	ck_assert_int_eq(mc_load_run(&o, &r, err, sizeof(err)), -EINVAL);
	mc_load_result_clear(&r);
}
END_TEST

static char *
meshcheck(void)
{
	const char *m = getenv("MESHCHECK");

	ck_assert_msg(m != NULL && *m != '\0', "MESHCHECK is not set");
	return (char *)m;
}

START_TEST(cli_json)
{
	char *url = mc_xasprintf("https://%s:%d/", NAME, port_tls);
	char *argv[] = {meshcheck(), "load", url, "-n", "500", "-c", "4", "--http2", "--cacert", root,
			"--resolve", resolve_tls, "--extract", "instance: ([a-z]+)", "--json", NULL};
	char *out = NULL;
	cJSON *j, *c;
	int rc = t_run(argv, &out);

	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "requests")->valueint, 500);
	c = cJSON_GetObjectItem(j, "codes");
	ck_assert_int_eq(cJSON_GetObjectItem(c, "200")->valueint, 500);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "responders"), "a")->valueint, 500);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "closed");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "latency_us"), "count")->valueint, 500);
	cJSON_Delete(j);
	free(out);
	free(url);
}
END_TEST

START_TEST(cli_summary_and_refused)
{
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);
	char *bad = mc_xasprintf("http://%s:%d/", ADDR, free_port());
	char *argv[] = {meshcheck(), "load", url, "-r", "100", "-d", "500ms", "-c", "2", NULL};
	char *argv2[] = {meshcheck(), "load", bad, "-n", "5", "-c", "1", NULL};
	char *out = NULL;
	int rc = t_run(argv, &out);

	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "200: 50 (100.00%)") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "target 100.0 req/s") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "latency ms:  p50") != NULL, "%s", out);
	free(out);
	/* Refused connections are results, not a usage error. */
	rc = t_run(argv2, &out);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "refused: 5 (100.00%)") != NULL, "%s", out);
	free(out);
	free(url);
	free(bad);
}
END_TEST

START_TEST(cli_usage_errors)
{
	static const struct {
		const char *args[4];
		const char *message;
	} cases[] = {
		{{"--bogus", NULL}, "unknown option --bogus"},
		{{"-c", "zero", NULL}, "-c/--connections takes a whole number"},
		{{"-d", "soon", NULL}, "-d/--duration takes a duration"},
		{{"--rate", "-5", NULL}, "-r/--rate"},
		{{"--cacert", "/nonexistent/ca.pem", NULL}, "CA file /nonexistent/ca.pem"},
		{{"--http2", "--h2c", NULL}, "exclude each other"},
		{{"--extract", "(x", NULL}, "bad --extract regex"},
		{{"-n", NULL}, "-n needs a value"},
	};
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[8] = {meshcheck(), "load", url};
		char *out = NULL;
		int n = 3, rc;

		for (int k = 0; cases[i].args[k] != NULL; k++)
			argv[n++] = (char *)cases[i].args[k];
		argv[n] = NULL;
		rc = t_run(argv, &out);
		ck_assert_msg(rc == 2, "case %zu: exit %d: %s", i, rc, out);
		ck_assert_msg(strstr(out, cases[i].message) != NULL, "case %zu: %s", i, out);
		free(out);
	}
	free(url);
}
END_TEST

static Suite *
traffic_suite(void)
{
	Suite *s = suite_create("traffic-live");
	TCase *probe = tcase_create("probe");
	TCase *load = tcase_create("load");
	TCase *cli = tcase_create("cli");

	/* One nginx for the whole suite: the fixture runs in the parent, forked tests inherit it. */
	tcase_set_timeout(probe, 60);
	tcase_add_unchecked_fixture(probe, setup, NULL);
	tcase_add_test(probe, probe_tls_http11);
	tcase_add_test(probe, probe_tls_http2);
	tcase_add_test(probe, probe_tls_name_mismatch);
	tcase_add_test(probe, probe_tls_untrusted);
	tcase_add_test(probe, probe_mtls);
	tcase_add_test(probe, probe_refused);
	tcase_add_test(probe, probe_timeout);
	tcase_add_test(probe, probe_resolve_and_request_options);
	tcase_add_test(probe, probe_bad_spec);
	tcase_add_test(probe, classify_codes);
	suite_add_tcase(s, probe);

	tcase_set_timeout(load, 60);
	tcase_add_test(load, load_closed_count);
	tcase_add_test(load, load_open_rate);
	tcase_add_test(load, load_open_unsent);
	tcase_add_test(load, load_extract_body_h2);
	tcase_add_test(load, load_mtls_fresh);
	tcase_add_test(load, load_refused);
	tcase_add_test(load, load_warmup_and_stop);
	tcase_add_test(load, load_bad_options);
	suite_add_tcase(s, load);

	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, cli_json);
	tcase_add_test(cli, cli_summary_and_refused);
	tcase_add_test(cli, cli_usage_errors);
	tcase_add_unchecked_fixture(cli, NULL, teardown);
	suite_add_tcase(s, cli);
	return s;
}

int
main(void)
{
	if (mc_nginx_binary() == NULL) {
		printf("SKIP: nginx not found (install nginx-light, or set MC_NGINX)\n");
		return 77;
	}
	return t_main(traffic_suite());
}
