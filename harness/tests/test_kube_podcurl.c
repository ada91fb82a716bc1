/*
 * In-mesh requests sent by curl inside a pod (kube/podcurl): the exact
 * kubectl argument vectors, the reading of curl's output as real curl wrote
 * it (tests/kube/recorded/podcurl, see its README), bad and cut output, and
 * runs through the fake kubectl, checking the results and the command it
 * was given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubectl.h"
#include "podcurl.h"
#include "kubetest.h"
#include "testutil.h"

#ifndef KUBE_TESTDIR
#define KUBE_TESTDIR "harness/tests/kube"
#endif
#define REC KUBE_TESTDIR "/recorded/podcurl/"
#define MARKER "5f0c3a9e8b7d4c21a6e9f30b2d8c7e14"
#define UA "meshcheck/" MC_VERSION
#define WFMT "\\n" MARKER " %{http_code} %{exitcode} %{time_namelookup} %{time_connect}" \
	" %{time_appconnect} %{time_starttransfer} %{time_total} %{http_version} %{remote_ip}" \
	" %{remote_port} %{size_download} %{size_header} %{scheme} %{errormsg}\\n"
#define LOOP "n=$1; b=$2; shift 2; i=0; while [ \"$i\" -lt \"$n\" ]; do printf %s \"$b\" | curl \"$@\"; " \
	"i=$((i+1)); done"
#define SLEEP1 "sleep-868c754c4b-9dbzq"

static char *tmp;
static char *logpath;

static void
setup(void)
{
	tmp = t_tmpdir();
	logpath = mc_xasprintf("%s/kube.log", tmp);
	setenv("MC_KUBECTL", KUBE_TESTDIR "/fake-kubectl", 1);
	setenv("MC_ISTIOCTL", "", 1);
	setenv("FAKE_KUBE_LOG", logpath, 1);
	unsetenv("FAKE_KUBE_DIR");
}

static void
teardown(void)
{
	mc_rm_rf(tmp);
	free(tmp);
	free(logpath);
	unsetenv("FAKE_KUBE_DIR");
}

static void
assert_argv(char **got, const char *const *want)
{
	size_t i;

	ck_assert_ptr_nonnull(got);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(got[i] != NULL, "argv ends at %zu, wanted \"%s\"", i, want[i]);
		ck_assert_msg(strcmp(got[i], want[i]) == 0, "argv[%zu]: \"%s\", wanted \"%s\"", i, got[i], want[i]);
	}
	ck_assert_msg(got[i] == NULL, "argv goes on at %zu with \"%s\"", i, got[i]);
}

/* ---- the command ---- */

START_TEST(test_argv_single_get)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello" };
	const char *want[] = {
		"exec", "-n", "sample", SLEEP1, "-c", "sleep", "--",
		"curl", "-q", "-s", "-S", "-g", "--noproxy", "*", "-A", UA, "-D", "-", "-o", "-",
		"-w", WFMT, "--connect-timeout", "5.000", "-m", "10.000", "--http1.1",
		"--url", "http://helloworld.sample:5000/hello", NULL,
	};
	char **argv = mc_podcurl_argv(&pod, &spec, 1, MARKER);

	assert_argv(argv, want);
	mc_podcurl_argv_free(argv);
}
END_TEST

START_TEST(test_argv_loop_with_everything)
{
	const char *headers[] = { "X-Canary: 7c1f", "Content-Type: text/plain" };
	const char *resolve[] = { "httpbin.sample:8443:10.96.91.7" };
	struct mc_pod_ref pod = { NULL, NULL, "sleep-x", NULL };
	struct mc_probe_spec spec = {
		.url = "https://httpbin.sample:8443/post", .method = "PUT", .host = "httpbin.example.com",
		.headers = headers, .n_headers = 2, .resolve = resolve, .n_resolve = 1,
		.connect_to = "httpbin.sample:8443:10.96.91.8:8443",
		.body = "it's \"quoted\" $(not run) `nor this`\n", .version = MC_HTTP_2,
		.cacert = "/nonexistent/root.pem", .connect_timeout_ms = 1500, .timeout_ms = 2250,
	};
	const char *want[] = {
		"exec", "sleep-x", "--",
		"sh", "-c", LOOP, "sh", "10", "it's \"quoted\" $(not run) `nor this`\n",
		"-q", "-s", "-S", "-g", "--noproxy", "*", "-A", UA, "-D", "-", "-o", "-",
		"-w", WFMT, "--connect-timeout", "1.500", "-m", "2.250", "--http2", "-X", "PUT",
		"-H", "X-Canary: 7c1f", "-H", "Content-Type: text/plain", "-H", "Host: httpbin.example.com",
		"--resolve", "httpbin.sample:8443:10.96.91.7",
		"--connect-to", "httpbin.sample:8443:10.96.91.8:8443", "-k",
		"--data-binary", "@-", "--url", "https://httpbin.sample:8443/post", NULL,
	};
	char **argv = mc_podcurl_argv(&pod, &spec, 10, MARKER);

	assert_argv(argv, want);
	mc_podcurl_argv_free(argv);
}
END_TEST

START_TEST(test_argv_variants)
{
	struct mc_pod_ref pod = { "c", "ns", "p", "sleep" };
	struct mc_probe_spec head = { .url = "http://a.b/", .method = "HEAD" };
	struct mc_probe_spec post = { .url = "http://a.b/", .body = "x=1", .version = MC_HTTP_2 };
	struct mc_probe_spec at = { .url = "http://a.b/", .body = "@/etc/passwd", .method = "POST" };
	struct mc_probe_spec h2c = { .url = "http://a.b/", .version = MC_HTTP_H2C, .any_name = true };
	struct mc_probe_spec get_body = { .url = "http://a.b/", .method = "GET", .body = "q" };
	const char *want_head[] = {
		"exec", "-n", "ns", "p", "-c", "sleep", "--", "curl", "-q", "-s", "-S", "-g", "--noproxy", "*",
		"-A", UA, "-D", "-", "-I", "-o", "/dev/null", "-w", WFMT, "--connect-timeout", "5.000",
		"-m", "10.000", "--http1.1", "--url", "http://a.b/", NULL,
	};
	/* --http2 on plain http would ask for an h2c upgrade; the local probe stays on HTTP/1.1. */
	const char *want_post[] = {
		"exec", "-n", "ns", "p", "-c", "sleep", "--", "curl", "-q", "-s", "-S", "-g", "--noproxy", "*",
		"-A", UA, "-D", "-", "-o", "-", "-w", WFMT, "--connect-timeout", "5.000",
		"-m", "10.000", "--http1.1", "--data-binary", "x=1", "--url", "http://a.b/", NULL,
	};
	/* A body curl would read as a file name goes through sh and stdin, even for one request. */
	const char *want_at[] = {
		"exec", "-n", "ns", "p", "-c", "sleep", "--", "sh", "-c", LOOP, "sh", "1", "@/etc/passwd",
		"-q", "-s", "-S", "-g", "--noproxy", "*",
		"-A", UA, "-D", "-", "-o", "-", "-w", WFMT, "--connect-timeout", "5.000",
		"-m", "10.000", "--http1.1", "-X", "POST", "--data-binary", "@-", "--url", "http://a.b/", NULL,
	};
	const char *want_h2c[] = {
		"exec", "-n", "ns", "p", "-c", "sleep", "--", "curl", "-q", "-s", "-S", "-g", "--noproxy", "*",
		"-A", UA, "-D", "-", "-o", "-", "-w", WFMT, "--connect-timeout", "5.000",
		"-m", "10.000", "--http2-prior-knowledge", "-k", "--url", "http://a.b/", NULL,
	};
	const char *want_get_body[] = {
		"exec", "-n", "ns", "p", "-c", "sleep", "--", "curl", "-q", "-s", "-S", "-g", "--noproxy", "*",
		"-A", UA, "-D", "-", "-o", "-", "-w", WFMT, "--connect-timeout", "5.000",
		"-m", "10.000", "--http1.1", "-X", "GET", "--data-binary", "q", "--url", "http://a.b/", NULL,
	};
	char **argv;

	argv = mc_podcurl_argv(&pod, &head, 1, MARKER);
	assert_argv(argv, want_head);
	mc_podcurl_argv_free(argv);
	argv = mc_podcurl_argv(&pod, &post, 1, MARKER);
	assert_argv(argv, want_post);
	mc_podcurl_argv_free(argv);
	argv = mc_podcurl_argv(&pod, &at, 1, MARKER);
	assert_argv(argv, want_at);
	mc_podcurl_argv_free(argv);
	argv = mc_podcurl_argv(&pod, &h2c, 1, MARKER);
	assert_argv(argv, want_h2c);
	mc_podcurl_argv_free(argv);
	argv = mc_podcurl_argv(&pod, &get_body, 1, MARKER);
	assert_argv(argv, want_get_body);
	mc_podcurl_argv_free(argv);
}
END_TEST

START_TEST(test_argv_refusals)
{
	const char *at_header[] = { "@/etc/hosts: x" };
	struct mc_pod_ref pod = { "c", "ns", "p", "sleep" };
	struct mc_pod_ref nopod = { "c", "ns", NULL, "sleep" };
	struct mc_probe_spec ok = { .url = "http://a.b/" };
	struct mc_probe_spec cert = { .url = "https://a.b/", .cert = "/x/cert.pem" };
	struct mc_probe_spec nul = { .url = "http://a.b/", .body = "a\0b", .body_len = 3 };
	struct mc_probe_spec ftp = { .url = "ftp://a.b/" };
	struct mc_probe_spec hdr = { .url = "http://a.b/", .headers = at_header, .n_headers = 1 };
	struct mc_probe_spec headbody = { .url = "http://a.b/", .method = "HEAD", .body = "x" };
	char err[MC_ERRLEN];

	ck_assert_int_eq(mc_podcurl_check(&pod, &ok, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(mc_podcurl_check(&pod, &cert, 1, err, sizeof(err)), -ENOTSUP);
	ck_assert_msg(strstr(err, "client certificate") != NULL, "%s", err);
	ck_assert_int_eq(mc_podcurl_check(&pod, &nul, 1, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "NUL") != NULL, "%s", err);
	ck_assert_int_eq(mc_podcurl_check(&pod, &ftp, 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_podcurl_check(&pod, &hdr, 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_podcurl_check(&pod, &headbody, 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_podcurl_check(&nopod, &ok, 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_podcurl_check(&pod, &ok, 0, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_podcurl_check(&pod, &ok, MC_PODCURL_MAX_COUNT + 1, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(mc_podcurl_argv(&pod, &cert, 1, MARKER));
	ck_assert_ptr_null(mc_podcurl_argv(&pod, &ok, 1, "not-a-marker"));
	ck_assert_ptr_null(mc_podcurl_argv(&pod, &ok, 1, MARKER "0"));
	ck_assert_ptr_null(mc_podcurl_argv(&pod, &ok, 1, "5f0c3a9e8b7d4c21a6e9f30b2d8c7e1z"));
}
END_TEST

START_TEST(test_marker)
{
	char a[MC_PODCURL_MARKER_LEN + 1], b[MC_PODCURL_MARKER_LEN + 1];

	mc_podcurl_marker(a);
	mc_podcurl_marker(b);
	ck_assert_uint_eq(strlen(a), MC_PODCURL_MARKER_LEN);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), MC_PODCURL_MARKER_LEN);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_classify)
{
	ck_assert_int_eq(mc_podcurl_classify(0, ""), MC_XFER_OK);
	ck_assert_int_eq(mc_podcurl_classify(6, "Could not resolve host: nope.sample"), MC_XFER_DNS);
	ck_assert_int_eq(mc_podcurl_classify(7, "Failed to connect to a port 1 after 0 ms: Couldn't connect to server"),
			 MC_XFER_REFUSED);
	ck_assert_int_eq(mc_podcurl_classify(7, "Failed to connect to a port 1 after 0 ms: Connection refused"),
			 MC_XFER_REFUSED);
	ck_assert_int_eq(mc_podcurl_classify(7, NULL), MC_XFER_REFUSED);
	ck_assert_int_eq(mc_podcurl_classify(7, "Failed to connect to a port 1 after 5001 ms: Connection timed out"),
			 MC_XFER_TIMEOUT);
	ck_assert_int_eq(mc_podcurl_classify(7, "Failed to connect to a port 1 after 3 ms: No route to host"),
			 MC_XFER_OTHER);
	ck_assert_int_eq(mc_podcurl_classify(28, "Operation timed out after 2001 milliseconds with 0 bytes received"),
			 MC_XFER_TIMEOUT);
	for (int c = 0; c < 100; c++) {
		static const int tls[] = { 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91 };
		bool is_tls = false;

		for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
			is_tls |= tls[i] == c;
		if (is_tls)
			ck_assert_msg(mc_podcurl_classify(c, "") == MC_XFER_TLS, "curl code %d", c);
		else
			ck_assert_msg(mc_podcurl_classify(c, "") != MC_XFER_TLS, "curl code %d", c);
	}
	ck_assert_int_eq(mc_podcurl_classify(52, "Empty reply from server"), MC_XFER_RESET);
	ck_assert_int_eq(mc_podcurl_classify(56, "Recv failure: Connection reset by peer"), MC_XFER_RESET);
	ck_assert_int_eq(mc_podcurl_classify(56, "Failure when receiving data from the peer"), MC_XFER_RESET);
	ck_assert_int_eq(mc_podcurl_classify(56, "OpenSSL SSL_read: OpenSSL/3.5.1: error:0A00045C:SSL routines::"
					     "tlsv13 alert certificate required, errno 0"), MC_XFER_TLS);
	ck_assert_int_eq(mc_podcurl_classify(18, "end of response with 3096 bytes missing"), MC_XFER_RESET);
	ck_assert_int_eq(mc_podcurl_classify(92, "HTTP/2 stream 1 was reset"), MC_XFER_RESET);
	ck_assert_int_eq(mc_podcurl_classify(3, "URL rejected: Malformed input to a URL function"), MC_XFER_OTHER);
	ck_assert_int_eq(mc_podcurl_classify(47, "Maximum (50) redirects followed"), MC_XFER_OTHER);
}
END_TEST

/* ---- reading recorded output ---- */

struct rec {
	char *out, *err;
	size_t out_len;
};

static struct rec
load(const char *name)
{
	char *p = mc_xasprintf(REC "%s.out", name), *e = mc_xasprintf(REC "%s.err", name);
	char errbuf[MC_ERRLEN];
	struct rec r = { 0 };

	ck_assert_msg(mc_file_read(p, 1 << 20, &r.out, &r.out_len, errbuf, sizeof(errbuf)) == 0, "%s", errbuf);
	if (access(e, R_OK) == 0)
		r.err = t_read(e);
	free(p);
	free(e);
	return r;
}

static void
rec_free(struct rec *r)
{
	free(r->out);
	free(r->err);
}

static void
results_free(struct mc_probe_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mc_probe_result_free(&res[i]);
}

/* Parses a recording of one request into *res (caller frees). */
static void
parse1(const char *name, struct mc_probe_result *res)
{
	struct rec r = load(name);
	char err[MC_ERRLEN];

	ck_assert_msg(mc_podcurl_parse(r.out, r.out_len, r.err, MARKER, 1, 0, res, err, sizeof(err)) == 0,
		      "%s: %s", name, err);
	rec_free(&r);
}

static void
assert_header(const struct mc_probe_result *res, const char *name, const char *value)
{
	size_t n = 0;
	const char *v = mc_header_find(res->headers, res->headers_len, name, &n);

	ck_assert_msg(v != NULL, "no header %s in:\n%s", name, res->headers);
	ck_assert_msg(n == strlen(value) && strncmp(v, value, n) == 0, "%s: \"%.*s\", wanted \"%s\"",
		      name, (int)n, v, value);
}

START_TEST(test_parse_hello)
{
	struct mc_probe_result res;

	parse1("hello-v1", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_int_eq(res.error, MC_XFER_OK);
	ck_assert_int_eq(res.curl_code, 0);
	ck_assert_str_eq(res.message, "");
	ck_assert_str_eq(res.headers,
			 "HTTP/1.1 200 OK\r\nserver: envoy\r\ndate: Mon, 23 Nov 2026 13:28:47 GMT\r\n"
			 "content-type: text/html; charset=utf-8\r\ncontent-length: 59\r\n"
			 "x-envoy-upstream-service-time: 104\r\n\r\n");
	ck_assert_uint_eq(res.headers_len, 167);
	ck_assert_str_eq(res.body, "Hello version: v1, instance: helloworld-v1-5b87d8f6c-xk2ld\n");
	ck_assert_uint_eq(res.body_len, 59);
	ck_assert_int_eq(res.body_bytes, 59);
	ck_assert(!res.body_truncated && !res.headers_truncated);
	ck_assert_int_eq(res.dns_us, 45);
	ck_assert_int_eq(res.connect_us, 214);
	ck_assert_int_eq(res.tls_us, 0);
	ck_assert_int_eq(res.first_byte_us, 2984);
	ck_assert_int_eq(res.total_us, 3115);
	ck_assert_str_eq(res.http_version, "1.1");
	ck_assert(!res.tls);
	ck_assert_str_eq(res.alpn, "");
	ck_assert_ptr_null(res.peer_chain_pem);
	ck_assert_str_eq(res.primary_ip, "10.96.183.42");
	ck_assert_int_eq(res.primary_port, 5000);
	mc_probe_result_free(&res);

	parse1("hello-v2", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.body, "Hello version: v2, instance: helloworld-v2-7f46498c69-9qv4m\n");
	mc_probe_result_free(&res);
}
END_TEST

START_TEST(test_parse_policy_answers)
{
	struct mc_probe_result res;

	parse1("rbac-403", &res);
	ck_assert_int_eq(res.status, 403);
	ck_assert_int_eq(res.error, MC_XFER_OK);
	ck_assert_str_eq(res.body, "RBAC: access denied");
	ck_assert_int_eq(res.body_bytes, 19);
	assert_header(&res, "content-type", "text/plain");
	mc_probe_result_free(&res);

	parse1("nr-404", &res);
	ck_assert_int_eq(res.status, 404);
	ck_assert_str_eq(res.body, "");
	ck_assert_uint_eq(res.body_len, 0);
	ck_assert_int_eq(res.body_bytes, 0);
	assert_header(&res, "server", "istio-envoy");
	assert_header(&res, "content-length", "0");
	ck_assert_str_eq(res.primary_ip, "10.96.7.201");
	ck_assert_int_eq(res.primary_port, 80);
	mc_probe_result_free(&res);

	parse1("teapot-418", &res);
	ck_assert_int_eq(res.status, 418);
	ck_assert_str_eq(res.body, "I'm a teapot!");
	assert_header(&res, "x-more-info", "http://tools.ietf.org/html/rfc2324");
	ck_assert(strncmp(res.headers, "HTTP/1.1 418 I'm a teapot\r\n", 27) == 0);
	mc_probe_result_free(&res);

	parse1("unavailable-503", &res);
	ck_assert_int_eq(res.status, 503);
	ck_assert_int_eq(res.error, MC_XFER_OK);
	ck_assert_str_eq(res.body, "no healthy upstream");
	mc_probe_result_free(&res);
}
END_TEST

START_TEST(test_parse_echoes)
{
	struct mc_probe_result res;

	parse1("headers-xfcc", &res);
	ck_assert_int_eq(res.status, 200);
	assert_header(&res, "content-type", "application/json; charset=utf-8");
	ck_assert_msg(strstr(res.body, "\"X-Forwarded-Client-Cert\":[\"By=spiffe://cluster.local/ns/sample/sa/httpbin;") != NULL,
		      "%s", res.body);
	ck_assert(strstr(res.body, "URI=spiffe://cluster.local/ns/sample/sa/sleep\"]") != NULL);
	ck_assert(strstr(res.body, "\"User-Agent\":[\"" UA "\"]") != NULL);
	ck_assert_uint_eq(res.body_len, strlen(res.body));
	mc_probe_result_free(&res);

	/* A chunked body: curl writes it decoded. */
	parse1("echoserver", &res);
	ck_assert_int_eq(res.status, 200);
	assert_header(&res, "transfer-encoding", "chunked");
	ck_assert(strncmp(res.body, "\n\nHostname: echoserver-6b5d8c9f7-2xkqp\n", 39) == 0);
	ck_assert(strstr(res.body, "\tx-forwarded-client-cert=By=spiffe://cluster.local/ns/sample/sa/default;") != NULL);
	ck_assert(strstr(res.body, "Request Body:\n\t-no body in request-\n\n") != NULL);
	ck_assert_int_eq(res.body_bytes, (int64_t)res.body_len);
	mc_probe_result_free(&res);
}
END_TEST

START_TEST(test_parse_transport_errors)
{
	struct mc_probe_result res;

	parse1("refused-7", &res);
	ck_assert_int_eq(res.status, 0);
	ck_assert_int_eq(res.error, MC_XFER_REFUSED);
	ck_assert_int_eq(res.curl_code, 7);
	ck_assert_str_eq(res.message, "Failed to connect to helloworld.sample port 5001 after 0 ms: Couldn't connect to server");
	ck_assert_str_eq(res.headers, "");
	ck_assert_str_eq(res.body, "");
	ck_assert_str_eq(res.http_version, "");
	ck_assert_str_eq(res.primary_ip, "");
	ck_assert_int_eq(res.primary_port, 0);
	ck_assert_int_eq(res.total_us, 201);
	mc_probe_result_free(&res);

	parse1("timeout-28", &res);
	ck_assert_int_eq(res.error, MC_XFER_TIMEOUT);
	ck_assert_int_eq(res.curl_code, 28);
	ck_assert_str_eq(res.message, "Operation timed out after 2001 milliseconds with 0 bytes received");
	ck_assert_int_eq(res.total_us, 2001568);
	ck_assert_int_eq(res.connect_us, 562);
	ck_assert_int_eq(res.first_byte_us, 0);
	mc_probe_result_free(&res);

	parse1("tls-35", &res);
	ck_assert_int_eq(res.error, MC_XFER_TLS);
	ck_assert_int_eq(res.curl_code, 35);
	ck_assert(res.tls);
	ck_assert_str_eq(res.alpn, "");
	ck_assert(strstr(res.message, "alert handshake failure") != NULL);
	ck_assert_int_eq(res.primary_port, 8443);
	mc_probe_result_free(&res);

	/* TLS 1.3: the server refuses the missing client certificate after the handshake. */
	parse1("tls-alert-56", &res);
	ck_assert_int_eq(res.error, MC_XFER_TLS);
	ck_assert_int_eq(res.curl_code, 56);
	ck_assert(strstr(res.message, "tlsv13 alert certificate required") != NULL);
	ck_assert_int_eq(res.tls_us, 5670);
	mc_probe_result_free(&res);

	parse1("reset-56", &res);
	ck_assert_int_eq(res.error, MC_XFER_RESET);
	ck_assert_int_eq(res.curl_code, 56);
	ck_assert_str_eq(res.message, "Recv failure: Connection reset by peer");
	mc_probe_result_free(&res);

	parse1("dns-6", &res);
	ck_assert_int_eq(res.error, MC_XFER_DNS);
	ck_assert_int_eq(res.curl_code, 6);
	ck_assert_str_eq(res.message, "Could not resolve host: nope.sample");
	ck_assert_int_eq(res.dns_us, 4012);
	mc_probe_result_free(&res);

	/* Reset after the headers and 1000 of 4096 bytes: no status, as the local probe, but what came is kept. */
	parse1("partial-56", &res);
	ck_assert_int_eq(res.status, 0);
	ck_assert_int_eq(res.error, MC_XFER_RESET);
	ck_assert(strncmp(res.headers, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert_str_eq(res.http_version, "1.1");
	ck_assert_uint_eq(res.body_len, 1000);
	ck_assert_int_eq(res.body_bytes, 1000);
	ck_assert_uint_eq(strspn(res.body, "x"), 1000);
	mc_probe_result_free(&res);
}
END_TEST

START_TEST(test_parse_shapes)
{
	struct mc_probe_result res;

	/* 100 Continue, then the response: the last block is kept. */
	parse1("continue-100", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert(strncmp(res.headers, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert(strstr(res.headers, "100 Continue") == NULL);
	ck_assert_str_eq(res.body, "{\"bytes\": 21}\n");
	mc_probe_result_free(&res);

	parse1("head", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.body, "");
	assert_header(&res, "content-length", "59");
	mc_probe_result_free(&res);

	parse1("h2-200", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.http_version, "2");
	ck_assert(res.tls);
	ck_assert_str_eq(res.alpn, "h2");
	ck_assert(strncmp(res.headers, "HTTP/2 200 \r\n", 13) == 0);
	ck_assert_str_eq(res.body, "Hello version: v2, instance: helloworld-v2-7f46498c69-9qv4m\n");
	ck_assert_int_eq(res.tls_us, 10898);
	mc_probe_result_free(&res);

	/* The body quotes result lines with the very marker, and has no final newline. */
	parse1("marker-in-body", &res);
	ck_assert_int_eq(res.status, 200);
	ck_assert_uint_eq(res.body_len, 271);
	ck_assert(strncmp(res.body, "Quoting a result line:\n" MARKER " 200 0 ", 56) == 0);
	ck_assert(strstr(res.body, MARKER " 999 zero\n") != NULL);
	ck_assert_uint_eq(strlen(res.body), 271);
	ck_assert(strcmp(res.body + 271 - 18, "(no final newline)") == 0);
	ck_assert_int_eq(res.total_us, 1733);
	mc_probe_result_free(&res);
}
END_TEST

START_TEST(test_parse_max_body)
{
	struct rec r = load("hello-v1");
	struct mc_probe_result res;
	char err[MC_ERRLEN];

	ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len, NULL, MARKER, 1, 10, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.body, "Hello vers");
	ck_assert_uint_eq(res.body_len, 10);
	ck_assert_int_eq(res.body_bytes, 59);
	ck_assert(res.body_truncated);
	mc_probe_result_free(&res);
	rec_free(&r);
}
END_TEST

START_TEST(test_parse_loops)
{
	struct rec r = load("loop-10");
	struct mc_probe_result res[10];
	char err[MC_ERRLEN];
	int v1 = 0, v2 = 0;

	ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len, r.err, MARKER, 10, 0, res, err, sizeof(err)), 0);
	for (int i = 0; i < 10; i++) {
		const char *want = i % 2 == 0 ? "Hello version: v2, instance: helloworld-v2-7f46498c69-9qv4m\n"
					      : "Hello version: v1, instance: helloworld-v1-5b87d8f6c-xk2ld\n";

		ck_assert_int_eq(res[i].status, 200);
		ck_assert_int_eq(res[i].error, MC_XFER_OK);
		ck_assert_str_eq(res[i].body, want);
		ck_assert(strncmp(res[i].headers, "HTTP/1.1 200 OK\r\n", 17) == 0);
		ck_assert_int_gt(res[i].total_us, 0);
		v1 += strstr(res[i].body, "v1") != NULL;
		v2 += strstr(res[i].body, "v2") != NULL;
	}
	ck_assert_int_eq(v1, 5);
	ck_assert_int_eq(v2, 5);
	results_free(res, 10);

	/* Asking for fewer reads the first ones; asking for more says what is missing. */
	ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len, r.err, MARKER, 3, 0, res, err, sizeof(err)), 0);
	results_free(res, 3);
	{
		struct mc_probe_result more[11];

		ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len, r.err, MARKER, 11, 0, more, err, sizeof(err)), -EPROTO);
		ck_assert_msg(strstr(err, "10 of 11 results") != NULL, "%s", err);
		ck_assert_int_eq(more[9].status, 200);
		ck_assert_int_eq(more[10].status, 0);
		ck_assert_int_eq(more[10].error, MC_XFER_OTHER);
		ck_assert(strstr(more[10].message, "no result") != NULL);
		results_free(more, 11);
	}
	rec_free(&r);

	r = load("loop-3-refused");
	ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len, r.err, MARKER, 3, 0, res, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(res[i].error, MC_XFER_REFUSED);
		ck_assert_int_eq(res[i].curl_code, 7);
		ck_assert_str_eq(res[i].body, "");
	}
	results_free(res, 3);
	rec_free(&r);
}
END_TEST

START_TEST(test_parse_cut_output)
{
	struct rec r = load("loop-10");
	struct mc_probe_result res[10];
	char err[MC_ERRLEN];
	const char *seventh = r.out;

	/* kubectl killed in the middle of the seventh request's body. */
	for (int i = 0; i < 6; i++)
		seventh = strstr(seventh, "\n" MARKER " ") + 1;
	seventh = strstr(seventh, "Hello version") + 5;
	ck_assert_int_eq(mc_podcurl_parse(r.out, (size_t)(seventh - r.out), NULL, MARKER, 10, 0, res, err, sizeof(err)),
			 -EPROTO);
	ck_assert_msg(strstr(err, "6 of 10 results") != NULL && strstr(err, "cut short") != NULL, "%s", err);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(res[i].status, 200);
	for (int i = 6; i < 10; i++) {
		ck_assert_int_eq(res[i].status, 0);
		ck_assert_int_eq(res[i].error, MC_XFER_OTHER);
		ck_assert_str_eq(res[i].body, "");
	}
	results_free(res, 10);

	/* No final newline is fine. */
	ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len - 1, NULL, MARKER, 10, 0, res, err, sizeof(err)), 0);
	ck_assert_int_eq(res[9].status, 200);
	results_free(res, 10);
	rec_free(&r);

	/* Every cut of one response: an error or a result, never a crash or an overread. */
	r = load("continue-100");
	for (size_t n = 0; n <= r.out_len; n++) {
		char *copy = mc_xmalloc(n + 1);
		int rc;

		memcpy(copy, r.out, n);
		rc = mc_podcurl_parse(copy, n, NULL, MARKER, 1, 0, res, err, sizeof(err));
		ck_assert_msg(rc == 0 || rc == -EPROTO, "cut at %zu: %d", n, rc);
		if (n + 30 < r.out_len)
			ck_assert_msg(rc == -EPROTO, "cut at %zu read as a result", n);
		if (rc == 0)
			ck_assert_int_eq(res[0].status, 200);
		results_free(res, 1);
		free(copy);
	}
	rec_free(&r);
}
END_TEST

START_TEST(test_parse_bad_output)
{
	struct mc_probe_result res[2];
	char err[MC_ERRLEN];
	const char *old_curl = "\n" MARKER " 200  0.000045 0.000214 0.000000 0.002984 0.003115 1.1 10.0.0.1 80 5 0 HTTP \n";
	const char *oci = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"curl\": "
			  "executable file not found in $PATH: unknown\ncommand terminated with exit code 126\n";

	ck_assert_int_eq(mc_podcurl_parse("hello\n", 6, NULL, MARKER, 1, 0, res, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "no results in the output (6 bytes)") != NULL, "%s", err);
	results_free(res, 1);

	ck_assert_int_eq(mc_podcurl_parse("", 0, oci, MARKER, 1, 0, res, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "executable file not found in $PATH") != NULL &&
		      strstr(err, "command terminated with exit code 126") != NULL, "%s", err);
	results_free(res, 1);

	ck_assert_int_eq(mc_podcurl_parse(NULL, 0, NULL, MARKER, 2, 0, res, err, sizeof(err)), -EPROTO);
	results_free(res, 2);

	ck_assert_int_eq(mc_podcurl_parse(old_curl, strlen(old_curl), NULL, MARKER, 1, 0, res, err, sizeof(err)),
			 -EPROTO);
	ck_assert_msg(strstr(err, "malformed result line") != NULL && strstr(err, "7.75") != NULL, "%s", err);
	results_free(res, 1);

	ck_assert_int_eq(mc_podcurl_parse("x", 1, NULL, "short", 1, 0, res, err, sizeof(err)), -EINVAL);
	results_free(res, 1);

	/* Another marker is not ours. */
	{
		struct rec r = load("hello-v1");

		ck_assert_int_eq(mc_podcurl_parse(r.out, r.out_len, NULL, "0123456789abcdef0123456789abcdef", 1, 0,
						  res, err, sizeof(err)), -EPROTO);
		results_free(res, 1);
		rec_free(&r);
	}
}
END_TEST

/* Byte counts that do not fit (a curl that counts differently): headers are then found by their shape. */
START_TEST(test_parse_by_structure)
{
	const char *out =
		"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Type: text/plain\nX-A: b\n\nbody\nmore"
		"\n" MARKER " 200 0 0.000001 0.000002 0.000000 0.000003 0.000004 1.1 10.0.0.1 80 0 0 HTTP \n";
	struct mc_probe_result res;
	char err[MC_ERRLEN];

	ck_assert_int_eq(mc_podcurl_parse(out, strlen(out), NULL, MARKER, 1, 0, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.headers, "HTTP/1.1 200 OK\nContent-Type: text/plain\nX-A: b\n\n");
	ck_assert_str_eq(res.body, "body\nmore");
	assert_header(&res, "x-a", "b");
	mc_probe_result_free(&res);
}
END_TEST

/* Random damage to real output: always an answer, never a crash (run under the sanitizers too). */
START_TEST(test_parse_mangled)
{
	struct rec r = load("loop-10");
	struct mc_probe_result res[10];
	char err[MC_ERRLEN];
	uint64_t x = 0x9e3779b97f4a7c15u;

	for (int round = 0; round < 3000; round++) {
		char *copy = mc_xmalloc(r.out_len + 1);
		size_t n = r.out_len;
		int rc;

		memcpy(copy, r.out, n);
		for (int k = 0; k < 1 + round % 8; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			switch (x % 4) {
			case 0: copy[(x >> 8) % n] = (char)(x >> 40); break;            /* a byte */
			case 1: copy[(x >> 8) % n] = ' '; break;                        /* a field split */
			case 2: copy[(x >> 8) % n] = '\n'; break;                       /* a line split */
			default: n = (size_t)((x >> 8) % n) + 1; break;                 /* a cut */
			}
		}
		rc = mc_podcurl_parse(copy, n, NULL, MARKER, 10, 0, res, err, sizeof(err));
		ck_assert_msg(rc == 0 || rc == -EPROTO, "round %d: %d", round, rc);
		for (int i = 0; i < 10; i++) {
			ck_assert_ptr_nonnull(res[i].headers);
			ck_assert_ptr_nonnull(res[i].body);
			ck_assert_uint_le(res[i].body_len, n);
		}
		results_free(res, 10);
		free(copy);
	}
	rec_free(&r);
}
END_TEST

/* ---- through the fake kubectl ---- */

static void
kube(struct mc_kube *k)
{
	kt_kube(k);
}

static char *
logged(void)
{
	return kt_logged(logpath);
}

/* The log with each marker replaced by MARKER, so lines can be compared whole. */
static char *
logged_fixed(void)
{
	char *log = logged();

	for (char *p = strstr(log, "'\\n"); p != NULL; p = strstr(p + 1, "'\\n"))
		if (strspn(p + 3, "0123456789abcdef") >= MC_PODCURL_MARKER_LEN)
			memcpy(p + 3, MARKER, MC_PODCURL_MARKER_LEN);
	return log;
}

#define WQ "'\\n" MARKER " %{http_code} %{exitcode} %{time_namelookup} %{time_connect}" \
	" %{time_appconnect} %{time_starttransfer} %{time_total} %{http_version} %{remote_ip}" \
	" %{remote_port} %{size_download} %{size_header} %{scheme} %{errormsg}\\n'"

START_TEST(test_run_single)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello" };
	struct mc_probe_result res;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	kube(&k);
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.status, 200);
	ck_assert_str_eq(res.body, "Hello version: v1, instance: helloworld-v1-5b87d8f6c-xk2ld\n");
	assert_header(&res, "server", "envoy");
	ck_assert_str_eq(res.http_version, "1.1");
	ck_assert_int_eq(res.first_byte_us, 105100);
	ck_assert_str_eq(res.primary_ip, "10.96.183.42");
	mc_probe_result_free(&res);

	log = logged_fixed();
	ck_assert_str_eq(log,
			 "kubectl --context kind-c1 exec -n sample " SLEEP1 " -c sleep -- curl -q -s -S -g "
			 "--noproxy '*' -A " UA " -D - -o - -w " WQ " --connect-timeout 5.000 -m 10.000 "
			 "--http1.1 --url http://helloworld.sample:5000/hello\n");
	free(log);

	/* The next call gets the next recorded answer: v2 from the other cluster. */
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(res.body, "Hello version: v2, instance: helloworld-v2-7f46498c69-9qv4m\n");
	mc_probe_result_free(&res);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_run_loop)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello", .timeout_ms = 3000 };
	struct mc_probe_result res[10];
	struct mc_kube k;
	char err[MC_ERRLEN];
	int v1 = 0, v2 = 0;
	char *log;

	kube(&k);
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 10, res, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(res[i].status, 200);
		v1 += strstr(res[i].body, "version: v1") != NULL;
		v2 += strstr(res[i].body, "version: v2") != NULL;
		ck_assert(strstr(res[i].body, i % 2 == 0 ? "v1" : "v2") != NULL);
	}
	ck_assert_int_eq(v1, 5);
	ck_assert_int_eq(v2, 5);
	results_free(res, 10);
	log = logged_fixed();
	ck_assert_str_eq(log,
			 "kubectl --context kind-c1 exec -n sample " SLEEP1 " -c sleep -- sh -c "
			 "'n=$1; b=$2; shift 2; i=0; while [ \"$i\" -lt \"$n\" ]; do printf %s \"$b\" | curl \"$@\"; "
			 "i=$((i+1)); done' sh 10 '' -q -s -S -g --noproxy '*' -A " UA " -D - -o - -w " WQ
			 " --connect-timeout 5.000 -m 3.000 --http1.1 --url http://helloworld.sample:5000/hello\n");
	free(log);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_run_outcomes)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { 0 };
	struct mc_probe_result res[3];
	struct mc_kube k;
	char err[MC_ERRLEN];

	kube(&k);
	/* curl fails, so kubectl exits 7: still a result, not an error of the run. */
	spec.url = "http://helloworld.sample:5001/hello";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].error, MC_XFER_REFUSED);
	ck_assert_int_eq(res[0].curl_code, 7);
	ck_assert(strstr(res[0].message, "Couldn't connect to server") != NULL);
	results_free(res, 1);

	spec.url = "http://helloworld.sample:5001/hello";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 3, res, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(res[i].error, MC_XFER_REFUSED);
	results_free(res, 3);

	spec.url = "http://httpbin.sample:8000/delay/10";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].error, MC_XFER_TIMEOUT);
	ck_assert_int_eq(res[0].total_us, 2002117);
	results_free(res, 1);

	spec.url = "https://httpbin.sample:8443/get";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].error, MC_XFER_TLS);
	ck_assert(res[0].tls);
	results_free(res, 1);

	spec.url = "http://httpbin-strict.sample:8000/get";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].error, MC_XFER_RESET);
	results_free(res, 1);

	spec.url = "http://nope.sample:5000/";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].error, MC_XFER_DNS);
	ck_assert_str_eq(res[0].message, "Could not resolve host: nope.sample");
	results_free(res, 1);

	spec.url = "http://httpbin.sample:8000/deny";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].status, 403);
	ck_assert_str_eq(res[0].body, "RBAC: access denied");
	results_free(res, 1);

	spec.url = "http://istio-ingressgateway.istio-system/nothing";
	spec.host = "nr.example.com";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].status, 404);
	ck_assert_uint_eq(res[0].body_len, 0);
	results_free(res, 1);

	spec.host = NULL;
	spec.url = "http://httpbin.sample:8000/status/418";
	spec.method = "HEAD";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].status, 418);
	ck_assert_str_eq(res[0].body, "");
	results_free(res, 1);

	spec.method = NULL;
	spec.url = "http://productpage.bookinfo:9080/productpage";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].status, 503);
	ck_assert_str_eq(res[0].body, "no healthy upstream");
	results_free(res, 1);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_run_kubectl_failures)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", "sleep-gone", "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello" };
	struct mc_probe_result res[2];
	struct mc_kube k;
	char err[MC_ERRLEN];

	kube(&k);
	ck_assert_int_eq(mc_podcurl_run(&k, &pod, &spec, 2, res, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "kind-c1: sample/sleep-gone: Error from server (NotFound): pods \"sleep-gone\" not found");
	ck_assert_int_eq(res[0].error, MC_XFER_OTHER);
	results_free(res, 2);

	/* kind-c2 has no sleep pod recorded. */
	pod.context = "kind-c2";
	pod.pod = SLEEP1;
	ck_assert_int_eq(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strncmp(err, "kind-c2: sample/" SLEEP1 ": ", 16 + strlen(SLEEP1) + 2) == 0, "%s", err);
	results_free(res, 1);

	pod.context = "kind-nope";
	ck_assert_int_eq(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)), -ENXIO);
	ck_assert_str_eq(err, "kind-nope: sample/" SLEEP1 ": error: context \"kind-nope\" does not exist");
	results_free(res, 1);

	pod.context = "kind-c1";
	pod.container = "nope";
	ck_assert_int_lt(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "kind-c1: sample/" SLEEP1 ": ") == err && strstr(err, "container not found") != NULL,
		      "%s", err);
	results_free(res, 1);

	/* A client certificate is refused before anything runs. */
	pod.container = "sleep";
	spec.cert = "/x/cert.pem";
	ck_assert_int_eq(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)), -ENOTSUP);
	results_free(res, 1);
	{
		char *log = logged();

		ck_assert_int_eq(strstr(log, "cert.pem") == NULL, 1);
		free(log);
	}
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_run_timeout)
{
	struct mc_pod_ref pod = { "kind-hang", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello", .timeout_ms = 100 };
	struct mc_probe_result res[2];
	struct mc_kube k;
	char err[MC_ERRLEN];
	double t0;

	kube(&k);
	k.timeout_ms = 300;          /* the exec's deadline: 300 ms + 2 x (100 + 500) ms */
	t0 = mc_monotonic();
	ck_assert_int_eq(mc_podcurl_run(&k, &pod, &spec, 2, res, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_msg(mc_monotonic() - t0 < 10.0, "not killed at the deadline");
	ck_assert_str_eq(err, "kind-hang: sample/" SLEEP1 ": kubectl exec: no answer within 2 s (killed)");
	ck_assert_int_eq(res[1].error, MC_XFER_OTHER);
	results_free(res, 2);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_run_dry)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello" };
	struct mc_probe_result res[2];
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *path = mc_xasprintf("%s/dry.txt", tmp), *text, *log;

	kube(&k);
	k.dry_run = true;
	k.dry_out = fopen(path, "w");
	ck_assert_ptr_nonnull(k.dry_out);
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 2, res, err, sizeof(err)) == 0, "%s", err);
	fclose(k.dry_out);
	k.dry_out = NULL;
	ck_assert_str_eq(res[0].message, "dry run: not sent");
	ck_assert_int_eq(res[1].status, 0);
	results_free(res, 2);
	text = t_read(path);
	{
		const char *want = "dry-run [kind-c1]: kubectl --context kind-c1 exec -n sample " SLEEP1
				   " -c sleep -- sh -c ";

		ck_assert_msg(strncmp(text, want, strlen(want)) == 0, "%s", text);
	}
	free(text);
	log = logged();
	ck_assert_str_eq(log, "");
	free(log);
	free(path);
	mc_kube_clear(&k);
}
END_TEST

/* kind-c2's recorded answers, with a sleep pod added in a recorded folder of the test's own. */
START_TEST(test_run_second_cluster)
{
	struct mc_pod_ref pod = { "kind-c2", "sample", "sleep-5d8c9f7b6-r4t2x", "sleep" };
	struct mc_probe_spec spec = { .url = "http://helloworld.sample:5000/hello" };
	const char *pods =
		"{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"metadata\": {\"name\": "
		"\"sleep-5d8c9f7b6-r4t2x\", \"namespace\": \"sample\", \"labels\": {\"app\": \"sleep\"}}, "
		"\"spec\": {\"containers\": [{\"name\": \"sleep\"}, {\"name\": \"istio-proxy\"}]}}]}\n";
	char *dir = mc_xasprintf("%s/recorded", tmp), *cdir = mc_xasprintf("%s/kind-c2", dir);
	char *link = mc_xasprintf("%s/curl.json", cdir), *p;
	struct mc_probe_result res[4];
	struct mc_kube k;
	char err[MC_ERRLEN];

	ck_assert_int_eq(mc_mkdir_p(cdir, 0755, err, sizeof(err)), 0);
	p = t_write(cdir, "pods.json", pods);
	free(p);
	ck_assert_int_eq(symlink(KUBE_TESTDIR "/recorded/kind-c2/curl.json", link), 0);
	setenv("FAKE_KUBE_DIR", dir, 1);

	kube(&k);
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 4, res, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(res[i].status, 200);
		ck_assert(strstr(res[i].body, i % 2 == 0 ? "version: v2" : "version: v1") != NULL);
		ck_assert_str_eq(res[i].primary_ip, "10.96.27.133");
	}
	results_free(res, 4);

	spec.url = "http://httpbin.sample:8000/headers";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].status, 200);
	ck_assert(strstr(res[0].body, "URI=spiffe://cluster.local/ns/sample/sa/sleep") != NULL);
	results_free(res, 1);

	spec.url = "http://echoserver.sample:8080/";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert(strstr(res[0].body, "Hostname: echoserver-") != NULL);
	results_free(res, 1);

	spec.url = "http://productpage.bookinfo:9080/productpage";
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res[0].status, 503);
	results_free(res, 1);
	mc_kube_clear(&k);
	free(dir);
	free(cdir);
	free(link);
}
END_TEST

/* A body curl would take for a file name travels through sh and printf, intact. */
START_TEST(test_run_at_body)
{
	struct mc_pod_ref pod = { "kind-c1", "sample", SLEEP1, "sleep" };
	struct mc_probe_spec spec = { .url = "http://httpbin.sample:8000/headers", .method = "POST",
				      .body = "@/etc/passwd" };
	struct mc_probe_result res;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	kube(&k);
	ck_assert_msg(mc_podcurl_run(&k, &pod, &spec, 1, &res, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(res.status, 200);
	mc_probe_result_free(&res);
	log = logged_fixed();
	ck_assert_msg(strstr(log, "done' sh 1 @/etc/passwd -q -s -S ") != NULL, "%s", log);
	ck_assert_msg(strstr(log, " -X POST --data-binary @- --url http://httpbin.sample:8000/headers\n") != NULL,
		      "%s", log);
	free(log);
	mc_kube_clear(&k);
}
END_TEST

static Suite *
podcurl_suite(void)
{
	Suite *s = suite_create("kube-podcurl");
	TCase *tc;

	tc = tcase_create("command");
	tcase_add_test(tc, test_argv_single_get);
	tcase_add_test(tc, test_argv_loop_with_everything);
	tcase_add_test(tc, test_argv_variants);
	tcase_add_test(tc, test_argv_refusals);
	tcase_add_test(tc, test_marker);
	tcase_add_test(tc, test_classify);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parse_hello);
	tcase_add_test(tc, test_parse_policy_answers);
	tcase_add_test(tc, test_parse_echoes);
	tcase_add_test(tc, test_parse_transport_errors);
	tcase_add_test(tc, test_parse_shapes);
	tcase_add_test(tc, test_parse_max_body);
	tcase_add_test(tc, test_parse_loops);
	tcase_add_test(tc, test_parse_cut_output);
	tcase_add_test(tc, test_parse_bad_output);
	tcase_add_test(tc, test_parse_by_structure);
	tcase_add_test(tc, test_parse_mangled);
	suite_add_tcase(s, tc);

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_single);
	tcase_add_test(tc, test_run_loop);
	tcase_add_test(tc, test_run_outcomes);
	tcase_add_test(tc, test_run_kubectl_failures);
	tcase_add_test(tc, test_run_timeout);
	tcase_add_test(tc, test_run_dry);
	tcase_add_test(tc, test_run_second_cluster);
	tcase_add_test(tc, test_run_at_body);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_main(podcurl_suite());
}
