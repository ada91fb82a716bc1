/*
 * Integration tests of the traffic engine's probe and load generator, and of
 * `meshcheck load`, against a real nginx (from the distribution) on
 * loopback: a TLS server with a certificate from the PKI engine, the same
 * demanding a client certificate, a TLS server whose certificate has
 * expired, and a plaintext server. What nginx cannot be made to do (reset a
 * connection, stall once, show the request as it arrived) a small server on
 * a thread of the test does. Exits 77 (skipped) when nginx is missing. Only
 * 127.0.0.1 is used; every load is bounded in requests and time.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

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
static int port_tls, port_mtls, port_plain, port_expired;
static char resolve_tls[128], resolve_mtls[128], resolve_expired[128];
/* From this time on (time(NULL)) the "expired" server's certificate is past its NotAfter. */
static time_t expired_from;

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

/* A socket listening on ADDR at a port the kernel picks (written to *port). */
static int
listen_any(int backlog, int *port)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Whether something accepts TCP connections on ADDR:port. */
static bool
port_open(int port)
{
	struct sockaddr_in sa = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * A scripted HTTP/1.1 server on a thread of the test process. One thread
 * polls the listener and every connection, so a stall (a sleep in that
 * thread) stops the whole server at once, as a garbage-collection pause
 * does: that is the stall a closed loop hides. Requests are read whole
 * (head, then Content-Length bytes of body) before the mode acts on them.
 */
enum tsrv_mode {
	TSRV_OK,        /* 200 "ok", keep-alive; request number stall_at is answered stall_ms late */
	TSRV_RESET,     /* reads the request, closes with SO_LINGER {1, 0}: the kernel sends RST */
	TSRV_CLOSE,     /* reads the request, closes normally (FIN) without a word */
};

#define TSRV_CONNS 32
#define TSRV_BUF 8192

struct tsrv_conn {
	int fd;
	size_t len;
	char buf[TSRV_BUF];
};

struct tsrv {
	enum tsrv_mode mode;
	int stall_at;           /* 1-based request number to stall on; 0: never */
	int stall_ms;
	int lfd, port, wake[2];
	pthread_t thread;
	atomic_int requests;    /* complete requests read */
	pthread_mutex_t lock;   /* guards last */
	char last[TSRV_BUF];    /* the latest request as it arrived, head and body */
	size_t last_len;
	struct tsrv_conn conns[TSRV_CONNS];
};

static const char tsrv_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static void
tsrv_drop(struct tsrv_conn *c, bool reset)
{
	if (reset) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void
tsrv_read(struct tsrv *s, struct tsrv_conn *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	size_t n;

	if (r <= 0) {
		tsrv_drop(c, false);
		return;
	}
	c->len += (size_t)r;
	while ((n = t_http_request_len(c->buf, c->len)) > 0) {
		int seq = atomic_fetch_add(&s->requests, 1) + 1;

		pthread_mutex_lock(&s->lock);
		memcpy(s->last, c->buf, n);
		s->last_len = n;
		pthread_mutex_unlock(&s->lock);
		if (s->mode != TSRV_OK) {
			tsrv_drop(c, s->mode == TSRV_RESET);
			return;
		}
		if (seq == s->stall_at)
			sleep_ms(s->stall_ms);
		if (write(c->fd, tsrv_answer, sizeof(tsrv_answer) - 1) != (ssize_t)sizeof(tsrv_answer) - 1) {
			tsrv_drop(c, false);
			return;
		}
		c->len -= n;
		memmove(c->buf, c->buf + n, c->len);
	}
	if (c->len == sizeof(c->buf))
		tsrv_drop(c, false);    /* a request larger than we keep: not ours */
}

static void *
tsrv_main(void *arg)
{
	struct tsrv *s = arg;

	for (;;) {
		struct pollfd p[TSRV_CONNS + 2];
		int idx[TSRV_CONNS + 2], n = 0;

		p[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		p[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		for (int i = 0; i < TSRV_CONNS; i++)
			if (s->conns[i].fd >= 0) {
				idx[n] = i;
				p[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
			}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents != 0)
			break;
		if (p[1].revents & POLLIN) {
			int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC), i;

			for (i = 0; fd >= 0 && i < TSRV_CONNS && s->conns[i].fd >= 0; i++)
				;
			if (fd >= 0 && i < TSRV_CONNS)
				s->conns[i].fd = fd;
			else if (fd >= 0)
				close(fd);
		}
		for (int k = 2; k < n; k++)
			if (p[k].revents != 0 && s->conns[idx[k]].fd == p[k].fd)
				tsrv_read(s, &s->conns[idx[k]]);
	}
	for (int i = 0; i < TSRV_CONNS; i++)
		if (s->conns[i].fd >= 0)
			tsrv_drop(&s->conns[i], false);
	return NULL;
}

/* Starts a server in mode on a fresh port; stall_at 0 never stalls. Stop it with tsrv_stop. */
static struct tsrv *
tsrv_start(enum tsrv_mode mode, int stall_at, int stall_ms)
{
	struct tsrv *s = mc_xcalloc(1, sizeof(*s));

	s->mode = mode;
	s->stall_at = stall_at;
	s->stall_ms = stall_ms;
	s->lfd = listen_any(64, &s->port);
	atomic_init(&s->requests, 0);
	pthread_mutex_init(&s->lock, NULL);
	for (int i = 0; i < TSRV_CONNS; i++)
		s->conns[i].fd = -1;
	ck_assert_int_eq(pipe2(s->wake, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, tsrv_main, s), 0);
	return s;
}

/* Stops the thread, closes every socket it had and frees s. */
static void
tsrv_stop(struct tsrv *s)
{
	ck_assert_int_eq(write(s->wake[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->lfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The latest request the server read, NUL-terminated (caller frees); *len its length. */
static char *
tsrv_last(struct tsrv *s, size_t *len)
{
	char *copy;

	pthread_mutex_lock(&s->lock);
	copy = mc_xmalloc(s->last_len + 1);
	memcpy(copy, s->last, s->last_len);
	copy[s->last_len] = '\0';
	*len = s->last_len;
	pthread_mutex_unlock(&s->lock);
	return copy;
}

static void
issue(const char *ca, const char *spiffe, long ttl_seconds, const char *out)
{
	static const char *const dns[] = {NAME};
	struct mc_issue_options io = {0};
	char err[MC_ERRLEN];

	io.spiffe = spiffe;
	io.ttl_seconds = ttl_seconds;
	io.key = MC_KEY_EC256;
	io.key_set = true;
	io.dns = dns;
	io.n_dns = 1;
	ck_assert_msg(mc_pki_issue(ca, &io, out, err, sizeof(err)) == 0, "%s", err);
}

/* Once for the whole suite: a CA, server and client identities, one nginx with four servers. */
static void
setup(void)
{
	static const char *const cl[] = {"c1"};
	struct mc_ca_options o = {0};
	struct mc_tls_server srv[4] = {{0}};
	int *ports[4] = {&port_tls, &port_mtls, &port_plain, &port_expired};
	char err[MC_ERRLEN];
	char *ca, *sdir, *cdir, *edir, *chain, *key, *echain, *ekey, *ngdir;
	int rc = -1;

	dir = t_tmpdir();
	o.key = MC_KEY_EC256;
	ck_assert_msg(mc_pki_init(dir, cl, 1, &o, err, sizeof(err)) == 0, "%s", err);
	root = mc_xasprintf("%s/root-cert.pem", dir);
	ca = mc_xasprintf("%s/c1", dir);
	sdir = mc_xasprintf("%s/server", dir);
	cdir = mc_xasprintf("%s/client", dir);
	edir = mc_xasprintf("%s/expired", dir);
	/*
	 * The PKI engine backdates NotBefore but takes no NotAfter in the past:
	 * the shortest lifetime it issues is one second. Issued first, it has
	 * expired by the time the probe tests reach it (OpenSSL calls a
	 * certificate expired once the clock is past NotAfter <= now + 1).
	 */
	issue(ca, "spiffe://cluster.local/ns/sample/sa/expired", 1, edir);
	expired_from = time(NULL) + 2;
	issue(ca, "spiffe://cluster.local/ns/sample/sa/helloworld", 0, sdir);
	issue(ca, "spiffe://cluster.local/ns/meshcheck/sa/harness", 0, cdir);
	client_chain = mc_xasprintf("%s/cert-chain.pem", cdir);
	client_key = mc_xasprintf("%s/key.pem", cdir);
	chain = mc_xasprintf("%s/cert-chain.pem", sdir);
	key = mc_xasprintf("%s/key.pem", sdir);
	echain = mc_xasprintf("%s/cert-chain.pem", edir);
	ekey = mc_xasprintf("%s/key.pem", edir);
	ngdir = mc_xasprintf("%s/nginx", dir);

	for (int i = 0; i < 4; i++) {
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
	srv[3].name = "expired";
	srv[3].cert_chain = echain;
	srv[3].key = ekey;
	/* A port can be taken between the probe and nginx's bind: try a few times. */
	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		bool distinct = true;

		for (int i = 0; i < 4; i++) {
			srv[i].port = *ports[i] = free_port();
			for (int k = 0; k < i; k++)
				distinct = distinct && srv[k].port != srv[i].port;
		}
		if (!distinct)
			continue;
		rc = mc_nginx_start(ngdir, srv, 4, 10000, &ng, err, sizeof(err));
	}
	ck_assert_msg(rc == 0, "nginx: %s", err);
	snprintf(resolve_tls, sizeof(resolve_tls), "%s:%d:%s", NAME, port_tls, ADDR);
	snprintf(resolve_mtls, sizeof(resolve_mtls), "%s:%d:%s", NAME, port_mtls, ADDR);
	snprintf(resolve_expired, sizeof(resolve_expired), "%s:%d:%s", NAME, port_expired, ADDR);
	free(ca);
	free(sdir);
	free(cdir);
	free(edir);
	free(chain);
	free(key);
	free(echain);
	free(ekey);
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

	/* any_name skips the name but still verifies the chain: fine with our root, not without. */
	s.insecure = false;
	s.any_name = true;
	s.cacert = root;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s: %s", mc_xfer_error_name(r.error), r.message);
	mc_probe_result_free(&r);
	s.cacert = NULL;
	probe_ok(&s, &r);
	ck_assert_int_eq(r.error, MC_XFER_TLS);
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

/* The classification table on curl's codes directly (probe_reset and the TLS probes provoke the classes live). */
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

/*
 * A peer that reads the request and aborts the connection (RST, from
 * SO_LINGER {1, 0}) is a reset; so is one that closes without answering
 * (FIN), which probe.h counts as "closed without a response".
 */
START_TEST(probe_reset)
{
	static const enum tsrv_mode modes[] = {TSRV_RESET, TSRV_CLOSE};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct tsrv *srv = tsrv_start(modes[i], 0, 0);
		char *url = mc_xasprintf("http://%s:%d/", ADDR, srv->port);
		struct mc_probe_spec s = {0};
		struct mc_probe_result r;

		s.url = url;
		s.timeout_ms = 5000;
		probe_ok(&s, &r);
		ck_assert_msg(r.error == MC_XFER_RESET, "mode %zu: %s: %s", i, mc_xfer_error_name(r.error), r.message);
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.http_version, "");
		if (modes[i] == TSRV_RESET)
			ck_assert_msg(strcasestr(r.message, "reset") != NULL, "%s", r.message);
		/* The request went out whole: the peer acted on it, it did not refuse the connection. */
		ck_assert_int_gt(r.connect_us, 0);
		ck_assert_int_eq(atomic_load(&srv->requests), 1);
		ck_assert_int_lt(r.total_us, 2000000);
		mc_probe_result_free(&r);
		tsrv_stop(srv);
		free(url);
	}
}
END_TEST

/*
 * A listener whose accept queue is full: Linux drops further SYNs without
 * an answer, so a connect hangs as towards a black-holed address, yet on
 * loopback. The connect timeout ends it long before the total timeout.
 */
START_TEST(probe_connect_timeout)
{
	struct sockaddr_in sa = {0};
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	int port, lfd = listen_any(0, &port), fill[3];
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port);

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	/* Backlog 0 queues one connection; the others only make sure the queue is full. */
	for (int i = 0; i < 3; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fill[i], 0);
		connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	sleep_ms(50);
	s.url = url;
	s.connect_timeout_ms = 300;
	s.timeout_ms = 10000;
	probe_ok(&s, &r);
	ck_assert_msg(r.error == MC_XFER_TIMEOUT, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.connect_us, 0);      /* never connected */
	ck_assert_msg(strcasestr(r.message, "connect") != NULL, "%s", r.message);
	ck_assert_msg(r.total_us >= 250000 && r.total_us < 2500000, "gave up after %lld us", (long long)r.total_us);
	mc_probe_result_free(&r);
	for (int i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
	free(url);
}
END_TEST

/* A certificate past its NotAfter fails verification as such; without verification the server answers. */
START_TEST(probe_tls_expired)
{
	const char *resolve[] = {resolve_expired};
	struct mc_probe_spec s;
	struct mc_probe_result r;
	char *url = tls_spec(&s, port_expired, resolve);

	while (time(NULL) < expired_from)
		sleep_ms(100);
	probe_ok(&s, &r);
	ck_assert_msg(r.error == MC_XFER_TLS, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.message, "expired") != NULL, "%s", r.message);
	mc_probe_result_free(&r);
	s.insecure = true;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s: %s", mc_xfer_error_name(r.error), r.message);
	mc_probe_result_free(&r);
	free(url);
}
END_TEST

/* Occurrences of "\r\n<name>:" in a request head, case-insensitive. */
static int
header_count(const char *req, const char *name)
{
	char *needle = mc_xasprintf("\r\n%s:", name);
	int n = 0;

	for (const char *p = strcasestr(req, needle); p != NULL; p = strcasestr(p + 1, needle))
		n++;
	free(needle);
	return n;
}

/* Sends s to srv and returns the request as srv read it (caller frees). */
static char *
probe_to(struct tsrv *srv, const struct mc_probe_spec *s, size_t *len)
{
	struct mc_probe_result r;

	probe_ok(s, &r);
	ck_assert_msg(r.status == 200, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_str_eq(r.body, "ok");
	ck_assert_str_eq(r.http_version, "1.1");
	ck_assert_str_eq(r.primary_ip, ADDR);
	ck_assert_int_eq(r.primary_port, srv->port);
	mc_probe_result_free(&r);
	return tsrv_last(srv, len);
}

/*
 * What the probe puts on the wire, read back by the scripted server: the
 * method, the request target, the Host override (replacing curl's, not
 * added to it), extra headers and a body with a NUL inside, over HTTP/1.1
 * to a made-up name that only --resolve knows.
 */
START_TEST(probe_request_on_the_wire)
{
	static const char body[] = "a\0b=c";
	struct tsrv *srv = tsrv_start(TSRV_OK, 0, 0);
	char resolve_wire[128], host_line[128];
	const char *resolve[] = {resolve_wire};
	const char *headers[] = {"X-One: 1", "X-Two: two words"};
	struct mc_probe_spec s = {0};
	char *url = mc_xasprintf("http://wire.mesh.test:%d/echo?x=1", srv->port), *req;
	size_t len;

	snprintf(resolve_wire, sizeof(resolve_wire), "wire.mesh.test:%d:%s", srv->port, ADDR);
	s.url = url;
	s.resolve = resolve;
	s.n_resolve = 1;
	s.method = "PUT";
	s.host = "override.mesh.test";
	s.headers = headers;
	s.n_headers = 2;
	s.body = body;
	s.body_len = sizeof(body) - 1;
	s.version = MC_HTTP_1_1;
	s.timeout_ms = 5000;
	req = probe_to(srv, &s, &len);
	ck_assert_msg(strncmp(req, "PUT /echo?x=1 HTTP/1.1\r\n", 24) == 0, "%s", req);
	ck_assert_msg(strstr(req, "\r\nHost: override.mesh.test\r\n") != NULL, "%s", req);
	ck_assert_int_eq(header_count(req, "Host"), 1);
	ck_assert_msg(strstr(req, "\r\nX-One: 1\r\n") != NULL, "%s", req);
	ck_assert_msg(strstr(req, "\r\nX-Two: two words\r\n") != NULL, "%s", req);
	ck_assert_msg(strstr(req, "\r\nContent-Length: 5\r\n") != NULL, "%s", req);
	ck_assert_uint_ge(len, 5);
	ck_assert_int_eq(memcmp(req + len - 5, body, 5), 0);
	free(req);

	/* Nothing set: a GET without a body, Host from the URL. */
	s.method = NULL;
	s.host = NULL;
	s.n_headers = 0;
	s.body = NULL;
	s.body_len = 0;
	req = probe_to(srv, &s, &len);
	snprintf(host_line, sizeof(host_line), "\r\nHost: wire.mesh.test:%d\r\n", srv->port);
	ck_assert_msg(strncmp(req, "GET /echo?x=1 HTTP/1.1\r\n", 24) == 0, "%s", req);
	ck_assert_msg(strstr(req, host_line) != NULL, "%s", req);
	ck_assert_int_eq(header_count(req, "Content-Length"), 0);
	ck_assert_int_eq(header_count(req, "X-One"), 0);
	ck_assert_msg(len >= 4 && strcmp(req + len - 4, "\r\n\r\n") == 0, "%s", req);
	free(req);

	/* A body without a method is a POST; a method without a body sends none. */
	s.body = "ping";
	req = probe_to(srv, &s, &len);
	ck_assert_msg(strncmp(req, "POST /echo?x=1 HTTP/1.1\r\n", 25) == 0, "%s", req);
	ck_assert_msg(strstr(req, "\r\nContent-Length: 4\r\n") != NULL, "%s", req);
	ck_assert_msg(len >= 4 && strcmp(req + len - 4, "ping") == 0, "%s", req);
	free(req);
	s.body = NULL;
	s.method = "DELETE";
	req = probe_to(srv, &s, &len);
	ck_assert_msg(strncmp(req, "DELETE /echo?x=1 HTTP/1.1\r\n", 27) == 0, "%s", req);
	ck_assert_int_eq(header_count(req, "Content-Length"), 0);
	free(req);
	ck_assert_int_eq(atomic_load(&srv->requests), 4);
	tsrv_stop(srv);
	free(url);
}
END_TEST

/*
 * nginx with one cleartext HTTP/2 server (h2c with prior knowledge), which
 * mc_nginx_start does not write: its plaintext servers speak HTTP/1.1. The
 * process is forked here, so it is ours, and mc_nginx_stop stops it by PID.
 */
static struct mc_nginx *
h2c_nginx_start(const char *d, int *port)
{
	char *conf = mc_xasprintf("%s/nginx.conf", d), *prefix = mc_xasprintf("%s/", d);
	char *errlog = mc_xasprintf("%s/error.log", d), *out = mc_xasprintf("%s/stderr.log", d);
	char *tmp = mc_xasprintf("%s/tmp", d);
	const char *bin = mc_nginx_binary();
	struct mc_nginx *n = NULL;
	char err[MC_ERRLEN];
	pid_t parent = getpid();

	ck_assert_ptr_nonnull(bin);
	ck_assert_msg(mc_mkdir_p(tmp, 0755, err, sizeof(err)) == 0, "%s", err);
	/* A port can be taken between the probe and nginx's bind: try a few times. */
	for (int attempt = 0; attempt < 3 && n == NULL; attempt++) {
		char *text;
		double deadline;
		pid_t pid;
		bool up = false;

		*port = free_port();
		text = mc_xasprintf("daemon off;\n"
				    "master_process on;\n"
				    "worker_processes 1;\n"
				    "pid %s/nginx.pid;\n"
				    "error_log %s warn;\n"
				    "events { worker_connections 64; }\n"
				    "http {\n"
				    "    access_log off;\n"
				    "    client_body_temp_path %s/body;\n"
				    "    proxy_temp_path %s/proxy;\n"
				    "    fastcgi_temp_path %s/fastcgi;\n"
				    "    uwsgi_temp_path %s/uwsgi;\n"
				    "    scgi_temp_path %s/scgi;\n"
				    "    server {\n"
				    "        listen %s:%d http2;\n"
				    "        location / { default_type text/plain; return 200 \"h2c ok\"; }\n"
				    "    }\n"
				    "}\n",
				    d, errlog, tmp, tmp, tmp, tmp, tmp, ADDR, *port);
		ck_assert_msg(mc_file_write(conf, text, strlen(text), 0644, err, sizeof(err)) == 0, "%s", err);
		free(text);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			setpgid(0, 0);
			/* If the test process dies without stopping it, nginx goes too. */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(127);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl(bin, "nginx", "-p", prefix, "-e", errlog, "-c", conf, (char *)NULL);
			_exit(127);
		}
		setpgid(pid, pid);
		deadline = mc_monotonic() + 5;
		while (!up && mc_monotonic() < deadline) {
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				pid = 0;
				break;
			}
			up = port_open(*port);
			if (!up)
				sleep_ms(20);
		}
		if (up) {
			n = mc_xcalloc(1, sizeof(*n));
			n->pid = pid;
			n->dir = mc_xstrdup(d);
			n->conf = mc_xstrdup(conf);
		} else if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	if (n == NULL) {
		char *log = NULL;

		mc_file_read(out, 1 << 16, &log, NULL, err, sizeof(err));
		ck_abort_msg("nginx with an h2c server did not start: %s", log != NULL ? log : err);
	}
	free(conf);
	free(prefix);
	free(errlog);
	free(out);
	free(tmp);
	return n;
}

/*
 * HTTP/2 with prior knowledge on cleartext: one probe, then short loads.
 * A GET goes through the native HTTP/2 path, which reuses its
 * connections; a POST stays on libcurl, which before 8.0 cannot reuse such
 * a connection, and the engine then opens one per request and says so in
 * the result's warning.
 */
START_TEST(probe_h2c)
{
	char *d = t_tmpdir();
	int port;
	struct mc_nginx *h2 = h2c_nginx_start(d, &port);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port);
	struct mc_probe_spec s = {0};
	struct mc_probe_result r;
	struct mc_load_options o = {0};
	struct mc_load_result lr;

	s.url = url;
	s.version = MC_HTTP_H2C;
	s.timeout_ms = 5000;
	probe_ok(&s, &r);
	ck_assert_msg(r.status == 200, "%s: %s", mc_xfer_error_name(r.error), r.message);
	ck_assert_str_eq(r.http_version, "2");
	ck_assert_str_eq(r.body, "h2c ok");
	ck_assert(!r.tls);
	ck_assert_str_eq(r.alpn, "");
	mc_probe_result_free(&r);

	/* Kept-alive h2c connections carry the load natively, with several streams each. */
	o.req = s;
	o.connections = 2;
	o.streams = 8;
	o.count = 200;
	o.duration = 30;
	load_ok(&o, &lr);
	ck_assert(lr.native);
	ck_assert_msg(lr.codes[200] == 200, "%lld x 200, first error %s", (long long)lr.codes[200], lr.first_error);
	ck_assert_int_eq(lr.bytes, 200 * 6);
	ck_assert_str_eq(lr.warning, "");
	mc_load_result_clear(&lr);

	/* A POST stays on curl, which cannot reuse h2c connections before 8.0 and then says so. */
	o.req.method = "POST";
	o.req.body = "x";
	o.streams = 1;
	o.count = 20;
	load_ok(&o, &lr);
	ck_assert(!lr.native);
	ck_assert_msg(lr.requests == 20 && lr.errors == 0, "%lld errors, first %s", (long long)lr.errors, lr.first_error);
	if (curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
		ck_assert_msg(strstr(lr.warning, "h2c") != NULL, "warning \"%s\"", lr.warning);
	mc_load_result_clear(&lr);
	mc_nginx_stop(h2);
	mc_rm_rf(d);
	free(d);
	free(url);
}
END_TEST

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

/*
 * An nginx of its own for the native HTTP/2 path: TLS with HTTP/2, the
 * suite's server certificate, a responder header on every answer and 404
 * under /missing. nginx's default keepalive_requests (1000) stays: past it
 * nginx sends GOAWAY, and the streams it did not take must go again on a
 * new connection, not count as errors.
 */
static struct mc_nginx *
h2_nginx_start(const char *d, int *port)
{
	char *chain = mc_xasprintf("%s/server/cert-chain.pem", dir), *key = mc_xasprintf("%s/server/key.pem", dir);
	struct mc_nginx *n = NULL;
	char err[MC_ERRLEN];
	int rc = -1;

	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		struct mc_listen l = {ADDR, free_port()};
		char *text = mc_xasprintf("daemon off;\n"
					  "worker_processes 1;\n"
					  "pid %s/nginx.pid;\n"
					  "error_log %s/error.log warn;\n"
					  "events { worker_connections 256; }\n"
					  "http {\n"
					  "    access_log off;\n"
					  "    client_body_temp_path %s/tmp;\n"
					  "    proxy_temp_path %s/tmp;\n"
					  "    fastcgi_temp_path %s/tmp;\n"
					  "    uwsgi_temp_path %s/tmp;\n"
					  "    scgi_temp_path %s/tmp;\n"
					  "    server {\n"
					  "        listen %s:%d ssl http2;\n"
					  "        ssl_certificate %s;\n"
					  "        ssl_certificate_key %s;\n"
					  "        default_type text/plain;\n"
					  "        add_header X-Responder pod-b always;\n"
					  "        location / { return 200 \"" BODY "\"; }\n"
					  "        location /missing { return 404 \"gone\"; }\n"
					  "    }\n"
					  "}\n",
					  d, d, d, d, d, d, d, ADDR, l.port, chain, key);

		*port = l.port;
		rc = mc_nginx_start_conf(d, text, &l, 1, 10000, &n, err, sizeof(err));
		free(text);
	}
	ck_assert_msg(rc == 0, "nginx: %s", err);
	free(chain);
	free(key);
	return n;
}

/*
 * HTTP/2 over TLS with several streams per connection goes through the
 * native path: exactly N answers for -n N (well past nginx's 1000 requests
 * per connection), responders from a header, a 404 counted as such, HEAD,
 * the open loop's accounting, and a refused port classified as curl would.
 */
START_TEST(load_h2_native)
{
	const char *resolve[1];
	char *d = t_tmpdir(), *tmp = mc_xasprintf("%s/tmp", d), *url, *missing, *refused, rs[128];
	char err[MC_ERRLEN];
	struct mc_load_options o = {0};
	struct mc_load_result r;
	struct mc_nginx *h2;
	int port;

	ck_assert_msg(mc_mkdir_p(tmp, 0755, err, sizeof(err)) == 0, "%s", err);
	h2 = h2_nginx_start(d, &port);
	snprintf(rs, sizeof(rs), "%s:%d:%s", NAME, port, ADDR);
	resolve[0] = rs;
	url = tls_spec(&o.req, port, resolve);
	o.req.version = MC_HTTP_2;
	o.connections = 2;
	o.streams = 16;
	o.count = 2500;
	o.duration = 60;              /* a bound in case something hangs; the count ends it */
	o.extract = "pod-([a-z]+)";
	o.extract_header = "X-Responder";
	load_ok(&o, &r);
	ck_assert(r.native);
	ck_assert_msg(r.codes[200] == 2500 && r.requests == 2500 && r.errors == 0,
		      "%lld x 200 of %lld, first error %s", (long long)r.codes[200], (long long)r.requests, r.first_error);
	ck_assert_int_eq(mc_hist_count(r.hist), 2500);
	ck_assert_int_eq(r.bytes, 2500 * (int64_t)strlen(BODY));
	ck_assert_int_eq(r.streams, 16);
	ck_assert_uint_eq(r.n_responders, 1);
	ck_assert_str_eq(r.responders[0].value, "b");
	ck_assert_int_eq(r.responders[0].count, 2500);
	ck_assert_int_eq(r.responders_unmatched, 0);
	mc_load_result_clear(&r);

	/* From the body instead, on one connection with more streams than nginx allows at once (128). */
	o.connections = 1;
	o.streams = 200;
	o.count = 1000;
	o.extract = "instance: ([a-z]+)";
	o.extract_header = NULL;
	load_ok(&o, &r);
	ck_assert(r.native);
	ck_assert_msg(r.codes[200] == 1000 && r.errors == 0, "%lld x 200, first error %s", (long long)r.codes[200],
		      r.first_error);
	ck_assert_uint_eq(r.n_responders, 1);
	ck_assert_str_eq(r.responders[0].value, "a");
	ck_assert_int_eq(r.responders[0].count, 1000);
	mc_load_result_clear(&r);

	/* A 404 is an answer, counted under its code. */
	free(url);
	url = NULL;
	missing = mc_xasprintf("https://%s:%d/missing", NAME, port);
	o.req.url = missing;
	o.connections = 1;
	o.streams = 8;
	o.count = 100;
	o.extract = NULL;
	load_ok(&o, &r);
	ck_assert(r.native);
	ck_assert_int_eq(r.codes[404], 100);
	ck_assert_int_eq(r.responses, 100);
	ck_assert_int_eq(r.errors, 0);
	ck_assert_int_eq(r.bytes, 100 * 4);
	mc_load_result_clear(&r);

	/* HEAD: the same answers without bodies. */
	o.req.method = "HEAD";
	load_ok(&o, &r);
	ck_assert(r.native);
	ck_assert_int_eq(r.codes[404], 100);
	ck_assert_int_eq(r.bytes, 0);
	mc_load_result_clear(&r);
	o.req.method = NULL;

	/* The open loop: every intended request sent, none unsent. */
	o.count = 0;
	o.rate = 400;
	o.duration = 1;
	load_ok(&o, &r);
	ck_assert(r.native && r.open_loop);
	ck_assert_msg(r.requests >= 396 && r.requests <= 404, "%lld requests", (long long)r.requests);
	ck_assert_int_eq(r.codes[404], r.requests);
	ck_assert_int_eq(r.unsent, 0);
	mc_load_result_clear(&r);
	o.rate = 0;
	o.duration = 60;

	/* Nobody listening: every request is refused, as curl reports it. */
	snprintf(rs, sizeof(rs), "%s:%d:%s", NAME, port = free_port(), ADDR);
	refused = mc_xasprintf("https://%s:%d/", NAME, port);
	o.req.url = refused;
	o.connections = 2;
	o.streams = 8;
	o.count = 40;
	load_ok(&o, &r);
	ck_assert(r.native);
	ck_assert_int_eq(r.requests, 40);
	ck_assert_int_eq(r.errors, 40);
	ck_assert_int_eq(r.xfer_errors[MC_XFER_REFUSED], 40);
	ck_assert_msg(strncmp(r.first_error, "refused: ", 9) == 0, "%s", r.first_error);
	mc_load_result_clear(&r);

	mc_nginx_stop(h2);
	mc_rm_rf(d);
	free(d);
	free(tmp);
	free(missing);
	free(refused);
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

/* The load engine classifies each reset as the probe does. */
START_TEST(load_reset)
{
	struct tsrv *srv = tsrv_start(TSRV_RESET, 0, 0);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, srv->port);
	struct mc_load_options o = {0};
	struct mc_load_result r;

	o.req.url = url;
	o.req.timeout_ms = 5000;
	o.connections = 2;
	o.count = 20;
	o.duration = 30;
	load_ok(&o, &r);
	ck_assert_int_eq(r.requests, 20);
	ck_assert_int_eq(r.responses, 0);
	ck_assert_msg(r.xfer_errors[MC_XFER_RESET] == 20, "%lld resets, first error %s",
		      (long long)r.xfer_errors[MC_XFER_RESET], r.first_error);
	ck_assert_msg(strncmp(r.first_error, "reset: ", 7) == 0, "%s", r.first_error);
	mc_load_result_clear(&r);
	tsrv_stop(srv);
	free(url);
}
END_TEST

/* Recorded latencies of at least min_us (whole buckets, so to within 1/1024). */
static int64_t
count_at_least(const struct mc_hist *h, int64_t min_us)
{
	int64_t lo, hi, n, sum = 0;
	size_t cur = 0;

	while (mc_hist_next(h, &cur, &lo, &hi, &n))
		if (lo >= min_us)
			sum += n;
	return sum;
}

/*
 * Coordinated omission. The scripted server answers at once except for one
 * 500 ms stall of the whole server on its 200th request. At 200 req/s the
 * open loop keeps to its schedule: the ~100 requests due during the stall
 * wait for it, and their latency, counted from the intended send time as
 * wrk2 and vegeta count it, shows the wait (from ~500 ms down to 0). So
 * well over 1% of the 600 samples exceed 250 ms and p99 does too. A closed
 * loop with one connection simply does not send while it waits: the stall
 * is a single slow sample and p99 stays small. Only the max agrees.
 */
START_TEST(load_open_no_coordinated_omission)
{
	struct tsrv *srv = tsrv_start(TSRV_OK, 200, 500);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, srv->port);
	struct mc_load_options o = {0};
	struct mc_load_result r;
	int64_t p99, max;

	o.req.url = url;
	o.req.timeout_ms = 5000;
	o.connections = 4;
	o.rate = 200;
	o.duration = 3;
	load_ok(&o, &r);
	ck_assert_int_ge(atomic_load(&srv->requests), 200);    /* the stall did happen */
	tsrv_stop(srv);
	p99 = mc_hist_percentile(r.hist, 99);
	max = mc_hist_max(r.hist);
	printf("open loop: %lld requests, %lld late, p50 %lld us, p99 %lld us, max %lld us, %lld >= 250 ms\n",
	       (long long)r.requests, (long long)r.late, (long long)mc_hist_percentile(r.hist, 50), (long long)p99,
	       (long long)max, (long long)count_at_least(r.hist, 250000));
	ck_assert_int_eq(r.requests, 600);
	ck_assert_int_eq(r.codes[200], 600);
	ck_assert_int_eq(r.unsent, 0);
	ck_assert_msg(p99 >= 250000, "open loop p99 %lld us hides the stall", (long long)p99);
	ck_assert_msg(max >= 450000, "open loop max %lld us", (long long)max);
	/* Those due in the first half of the stall all waited at least 250 ms. */
	ck_assert_int_ge(count_at_least(r.hist, 250000), 40);
	ck_assert_int_ge(r.late, 50);
	mc_load_result_clear(&r);

	srv = tsrv_start(TSRV_OK, 200, 500);
	free(url);
	url = mc_xasprintf("http://%s:%d/", ADDR, srv->port);
	o.req.url = url;
	o.connections = 1;
	o.rate = 0;
	o.count = 600;
	o.duration = 30;
	load_ok(&o, &r);
	tsrv_stop(srv);
	p99 = mc_hist_percentile(r.hist, 99);
	max = mc_hist_max(r.hist);
	printf("closed loop: %lld requests, p50 %lld us, p99 %lld us, max %lld us, %lld >= 250 ms\n",
	       (long long)r.requests, (long long)mc_hist_percentile(r.hist, 50), (long long)p99, (long long)max,
	       (long long)count_at_least(r.hist, 250000));
	ck_assert_int_eq(r.requests, 600);
	ck_assert_int_eq(r.codes[200], 600);
	ck_assert_msg(max >= 450000, "closed loop max %lld us", (long long)max);
	ck_assert_msg(p99 < 100000, "closed loop p99 %lld us", (long long)p99);
	ck_assert_int_eq(count_at_least(r.hist, 250000), 1);
	mc_load_result_clear(&r);
	free(url);
}
END_TEST

/* The open loop's schedule against nginx: 1,000 req/s for 2 s is 2,000 requests at 1,000 req/s, within 1%. */
START_TEST(load_open_rate_accuracy)
{
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);

	o.req.url = url;
	o.connections = 10;
	o.rate = 1000;
	o.duration = 2;
	load_ok(&o, &r);
	printf("open loop at 1000/s: %lld requests in %.4f s = %.2f req/s, %lld late, %lld unsent\n",
	       (long long)r.requests, r.duration, r.rate_achieved, (long long)r.late, (long long)r.unsent);
	ck_assert_msg(r.requests >= 1980 && r.requests <= 2020, "%lld requests", (long long)r.requests);
	ck_assert_int_eq(r.codes[200], r.requests);
	ck_assert_msg(fabs(r.rate_achieved - 1000) <= 10, "achieved %.2f req/s", r.rate_achieved);
	mc_load_result_clear(&r);
	free(url);
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

/* Entries of folder d other than . and .. */
static int
entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((e = readdir(dp)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

/*
 * Bad input exits 2 before any traffic, with a message that names what was
 * wrong (the option and the value given), and leaves nothing behind: the
 * command runs in an empty working folder with TMPDIR another empty one,
 * and both are still empty afterwards. "@url" stands for a good URL and
 * "@cert" for a real client certificate.
 */
START_TEST(cli_usage_errors)
{
	static const struct {
		const char *args[6];
		const char *message;
	} cases[] = {
		{{"@url", "--bogus", NULL}, "unknown option --bogus"},
		{{"@url", "-Z", NULL}, "unknown option -Z"},
		{{"@url", "-c", "zero", NULL}, "-c/--connections takes a whole number from 1 to 100000, not \"zero\""},
		{{"@url", "-c", "4x", NULL}, "-c/--connections takes a whole number from 1 to 100000, not \"4x\""},
		{{"@url", "--connections", "", NULL}, "-c/--connections takes a whole number"},
		{{"@url", "-d", "soon", NULL}, "-d/--duration takes a duration"},
		{{"@url", "--rate", "-5", NULL}, "-r/--rate takes requests per second above 0, not \"-5\""},
		{{"@url", "-r", "-0.5", NULL}, "-r/--rate takes requests per second above 0, not \"-0.5\""},
		{{"@url", "--cacert", "/nonexistent/ca.pem", NULL}, "CA file /nonexistent/ca.pem"},
		{{"@url", "--cert", "/nonexistent/client.pem", NULL}, "client certificate /nonexistent/client.pem"},
		{{"@url", "--cert", "@cert", "--key", "/nonexistent/key.pem", NULL}, "client key /nonexistent/key.pem"},
		{{"@url", "--http2", "--h2c", NULL}, "exclude each other"},
		{{"@url", "--extract", "(x", NULL}, "bad --extract regex \"(x\""},
		{{"@url", "--extract", "[z-a]", NULL}, "bad --extract regex \"[z-a]\""},
		{{"@url", "--extract", "a{2,1}", NULL}, "bad --extract regex \"a{2,1}\""},
		{{"@url", "-n", NULL}, "-n needs a value"},
		{{"http://exa mple.test/", NULL}, "bad URL \"http://exa mple.test/\""},
		{{"http://[::1/", NULL}, "bad URL \"http://[::1/\""},
		{{"http://127.0.0.1:99999/", NULL}, "bad URL \"http://127.0.0.1:99999/\""},
		{{"ftp://127.0.0.1/", NULL}, "URL \"ftp://127.0.0.1/\": only http:// and https://"},
		{{"127.0.0.1 80", NULL}, "bad URL \"127.0.0.1 80\""},
		{{NULL}, "give exactly one URL"},
	};
	char *url = mc_xasprintf("http://%s:%d/", ADDR, port_plain);
	char *cwd = t_tmpdir(), *tmp = t_tmpdir();

	/* Forked test: the folder and the environment are this test's own. */
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(setenv("TMPDIR", tmp, 1), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[10] = {meshcheck(), "load"};
		char *out = NULL;
		int n = 2, rc;

		for (int k = 0; cases[i].args[k] != NULL; k++) {
			const char *a = cases[i].args[k];

			argv[n++] = strcmp(a, "@url") == 0 ? url : strcmp(a, "@cert") == 0 ? client_chain : (char *)a;
		}
		argv[n] = NULL;
		rc = t_run(argv, &out);
		ck_assert_msg(rc == 2, "case %zu: exit %d: %s", i, rc, out);
		ck_assert_msg(strstr(out, cases[i].message) != NULL, "case %zu: %s", i, out);
		ck_assert_msg(strstr(out, "requests:") == NULL, "case %zu ran: %s", i, out);
		free(out);
		ck_assert_msg(entries(cwd) == 0 && entries(tmp) == 0, "case %zu left a file behind", i);
	}
	mc_rm_rf(cwd);
	mc_rm_rf(tmp);
	free(cwd);
	free(tmp);
	free(url);
}
END_TEST

/*
 * A certificate file that cannot be read. Root reads any file whatever its
 * mode, so the case every user hits is a path that is not a file (here a
 * folder, which open() accepts and read() refuses); for other users a
 * mode-000 file is tried too. The command must refuse it as it refuses a
 * missing file (exit 2, the path named), not run and count TLS errors.
 */
START_TEST(cli_unreadable_cert)
{
	char *url = mc_xasprintf("https://%s:%d/", NAME, port_mtls);
	char *d = t_tmpdir(), *locked = t_write(d, "locked.pem", "-----BEGIN CERTIFICATE-----\n");
	const char *paths[2] = {d, locked};
	size_t npaths = geteuid() == 0 ? 1 : 2;
	char *out[2] = {NULL, NULL};
	int rc[2];

	ck_assert_int_eq(chmod(locked, 0), 0);
	if (npaths == 1)
		printf("cli_unreadable_cert: running as root, mode 000 does not stop reads: only a folder is tried\n");
	for (size_t i = 0; i < npaths; i++) {
		char *argv[] = {meshcheck(), "load", url, "-n", "2", "-c", "1", "--cacert", root, "--resolve",
				resolve_mtls, "--cert", (char *)paths[i], "--key", client_key, NULL};

		rc[i] = t_run(argv, &out[i]);
	}
	/* Judged after the clean-up, so that a failure leaves nothing behind either. */
	mc_rm_rf(d);
	for (size_t i = 0; i < npaths; i++) {
		ck_assert_msg(rc[i] == 2, "--cert %s: exit %d: %s", paths[i], rc[i], out[i]);
		ck_assert_msg(strstr(out[i], paths[i]) != NULL, "--cert %s: %s", paths[i], out[i]);
		free(out[i]);
	}
	free(d);
	free(locked);
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
	tcase_add_test(probe, probe_reset);
	tcase_add_test(probe, probe_connect_timeout);
	tcase_add_test(probe, probe_request_on_the_wire);
	tcase_add_test(probe, probe_h2c);
	/* Last of the probes, so that it waits a second at most for the one-second certificate to expire. */
	tcase_add_test(probe, probe_tls_expired);
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
	tcase_add_test(load, load_reset);
	tcase_add_test(load, load_open_no_coordinated_omission);
	tcase_add_test(load, load_open_rate_accuracy);
	tcase_add_test(load, load_h2_native);
	suite_add_tcase(s, load);

	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, cli_json);
	tcase_add_test(cli, cli_summary_and_refused);
	tcase_add_test(cli, cli_usage_errors);
	tcase_add_test(cli, cli_unreadable_cert);
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
