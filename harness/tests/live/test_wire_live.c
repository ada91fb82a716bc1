/*
 * The wire engine against real traffic: libcurl talks to nginx on loopback
 * (TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2, mutual TLS, plaintext HTTP/1.1
 * carrying a canary, h2c with prior knowledge, IPv6 over ::1) while the
 * engine captures live on "lo" (and once on "any", cooked headers) and writes
 * the same packets to a pcap file. Each test checks the flow's class, TLS
 * version, SNI and ALPN against what the client sent, and that re-reading the
 * pcap file gives the same flows as the live capture.
 *
 * Needs root (or CAP_NET_RAW) and nginx; without them it prints "SKIP: ..."
 * and exits 77, which Meson counts as skipped. It only ever connects to
 * 127.0.0.1 and ::1.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "nginx.h"
#include "pki.h"
#include "testutil.h"
#include "wire.h"

#define HOST "helloworld.sample.svc.cluster.local"
#define CANARY "MESHCHECK-CANARY-7f3a9c51"

/* The servers of the one nginx instance every test talks to. */
enum srv {
	SRV_TLS,      /* 127.0.0.1, TLS 1.2 + 1.3, ALPN h2 and http/1.1 */
	SRV_MTLS,     /* 127.0.0.1, TLS, client certificate required */
	SRV_PLAIN,    /* 127.0.0.1, plaintext HTTP/1.1 */
	SRV_H2C,      /* 127.0.0.1, cleartext HTTP/2 (prior knowledge) */
	SRV_V6,       /* [::1], TLS */
	SRV_COUNT,
};

static char *dir;                   /* everything of the run: PKI, nginx, pcaps */
static char *root_pem, *client_chain, *client_key;
static int ports[SRV_COUNT];
static pid_t nginx_pid;
static bool have_v6;

/*
 * A port that was free a moment ago on addr (family af), from the kernel's
 * ephemeral range. Returns 0 when none can be bound (e.g. no ::1).
 */
static int
free_port(int af, const char *addr)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0), p = 0;

	if (fd < 0)
		return 0;
	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

		sa->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sa->sin_addr);
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

		sa->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &sa->sin6_addr);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 && getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		p = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return p;
}

/* True when a TCP connection to addr:port (family af) succeeds within 100 ms. */
static bool
port_open(int af, const char *addr, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	struct pollfd pfd;
	int fd, soerr = 0;
	socklen_t elen = sizeof(soerr);
	bool ok = false;

	if (af == AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;

		sa->sin_family = AF_INET;
		sa->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &sa->sin_addr);
		len = sizeof(*sa);
	} else {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;

		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &sa->sin6_addr);
		len = sizeof(*sa);
	}
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		ok = poll(&pfd, 1, 100) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == 0 &&
		     soerr == 0;
	}
	close(fd);
	return ok;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/* Issues a workload certificate (EC P-256) with the test host name as a DNS SAN. */
static void
issue(const char *ca, const char *spiffe, const char *out)
{
	static const char *const dns[] = {HOST};
	struct mc_issue_options io = {0};
	char err[MC_ERRLEN];

	io.spiffe = spiffe;
	io.key = MC_KEY_EC256;
	io.key_set = true;
	io.dns = dns;
	io.n_dns = 1;
	ck_assert_msg(mc_pki_issue(ca, &io, out, err, sizeof(err)) == 0, "%s", err);
}

/*
 * Writes ngdir/nginx.conf for the five servers on the ports in `ports`: the
 * configuration, logs, pid file and temporary paths all stay in ngdir.
 */
static void
write_conf(const char *ngdir, const char *chain, const char *key)
{
	char *path = mc_xasprintf("%s/nginx.conf", ngdir);
	char *tmp = mc_xasprintf("%s/tmp", ngdir);
	char err[MC_ERRLEN];
	struct mc_buf b;
	char *conf;

	mc_buf_init(&b, 0);
	mc_buf_printf(&b,
		"daemon off;\n"
		"master_process on;\n"
		"worker_processes 1;\n"
		"pid %s/nginx.pid;\n"
		"error_log %s/error.log warn;\n"
		"events { worker_connections 256; }\n"
		"http {\n"
		"    access_log %s/access.log;\n"
		"    client_body_temp_path %s/tmp/body;\n"
		"    proxy_temp_path %s/tmp/proxy;\n"
		"    fastcgi_temp_path %s/tmp/fastcgi;\n"
		"    uwsgi_temp_path %s/tmp/uwsgi;\n"
		"    scgi_temp_path %s/tmp/scgi;\n"
		"    server_tokens off;\n"
		"    default_type text/plain;\n"
		"    ssl_certificate %s;\n"
		"    ssl_certificate_key %s;\n"
		"    ssl_protocols TLSv1.2 TLSv1.3;\n",
		ngdir, ngdir, ngdir, ngdir, ngdir, ngdir, ngdir, ngdir, chain, key);
	mc_buf_printf(&b, "    server { listen 127.0.0.1:%d ssl http2; location / { return 200 \"hello tls\\n\"; } }\n",
		      ports[SRV_TLS]);
	mc_buf_printf(&b,
		"    server {\n"
		"        listen 127.0.0.1:%d ssl;\n"
		"        ssl_client_certificate %s;\n"
		"        ssl_verify_client on;\n"
		"        ssl_verify_depth 4;\n"
		"        location / { return 200 \"client $ssl_client_verify\\n\"; }\n"
		"    }\n",
		ports[SRV_MTLS], root_pem);
	mc_buf_printf(&b,
		"    server {\n"
		"        listen 127.0.0.1:%d;\n"
		"        location / { return 200 \"hello plain\\n\"; }\n"
		"        location /h2c-upstream { return 200 \"hello h2c\\n\"; }\n"
		"    }\n",
		ports[SRV_PLAIN]);
	/*
	 * `return` answers an HTTP/2 POST before its DATA frames arrive and then
	 * resets the stream, which curl reports as an error when it is slow (as
	 * under valgrind). Proxying makes nginx read the whole body first; the
	 * upstream connection is on another port, outside the test's filter.
	 */
	mc_buf_printf(&b,
		"    server {\n"
		"        listen 127.0.0.1:%d http2;\n"
		"        location / { proxy_pass http://127.0.0.1:%d/h2c-upstream; }\n"
		"    }\n",
		ports[SRV_H2C], ports[SRV_PLAIN]);
	if (have_v6)
		mc_buf_printf(&b, "    server { listen [::1]:%d ssl; location / { return 200 \"hello v6\\n\"; } }\n",
			      ports[SRV_V6]);
	mc_buf_puts(&b, "}\n");
	conf = mc_buf_steal(&b);
	ck_assert_msg(mc_mkdir_p(tmp, 0755, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(mc_file_write(path, conf, strlen(conf), 0644, err, sizeof(err)) == 0, "%s", err);
	free(conf);
	free(path);
	free(tmp);
}

/* Stops nginx by PID: SIGTERM, then SIGKILL to its process group after 3 s. */
static void
nginx_stop(void)
{
	if (nginx_pid <= 0)
		return;
	kill(nginx_pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(nginx_pid, NULL, WNOHANG) != 0)
			goto out;
		sleep_ms(10);
	}
	kill(-nginx_pid, SIGKILL);
	waitpid(nginx_pid, NULL, 0);
out:
	nginx_pid = 0;
}

/*
 * Starts nginx on ngdir/nginx.conf in its own process group and waits up to
 * 10 s until every server accepts connections. Returns false (nothing left
 * running) when it exits or does not listen in time, e.g. a port was taken.
 */
static bool
nginx_start(const char *ngdir)
{
	char *prefix = mc_xasprintf("%s/", ngdir), *errlog = mc_xasprintf("%s/error.log", ngdir);
	char *conf = mc_xasprintf("%s/nginx.conf", ngdir), *out = mc_xasprintf("%s/stderr.log", ngdir);
	pid_t parent = getpid();
	bool ok = false;

	nginx_pid = fork();
	ck_assert_int_ge(nginx_pid, 0);
	if (nginx_pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		setpgid(0, 0);
		/* Should the test die without teardown, nginx goes too. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(mc_nginx_binary(), "nginx", "-p", prefix, "-e", errlog, "-c", conf, (char *)NULL);
		_exit(127);
	}
	setpgid(nginx_pid, nginx_pid);
	for (int waited = 0; waited < 10000; waited += 20) {
		int up = 0;

		if (waitpid(nginx_pid, NULL, WNOHANG) == nginx_pid) {
			nginx_pid = 0;
			goto out;
		}
		for (int i = 0; i < SRV_COUNT; i++)
			up += i == SRV_V6 ? (!have_v6 || port_open(AF_INET6, "::1", ports[i]))
					  : port_open(AF_INET, "127.0.0.1", ports[i]);
		if (up == SRV_COUNT) {
			ok = true;
			goto out;
		}
		sleep_ms(20);
	}
	nginx_stop();
out:
	free(prefix);
	free(errlog);
	free(conf);
	free(out);
	return ok;
}

/* Once for the test case: a CA, server and client certificates, nginx. */
static void
servers_up(void)
{
	static const char *const cl[] = {"c1"};
	struct mc_ca_options o = {0};
	char err[MC_ERRLEN];
	char *ca, *sdir, *cdir, *chain, *key, *ngdir;
	bool started = false;

	dir = t_tmpdir();
	o.key = MC_KEY_EC256;
	ck_assert_msg(mc_pki_init(dir, cl, 1, &o, err, sizeof(err)) == 0, "%s", err);
	root_pem = mc_xasprintf("%s/root-cert.pem", dir);
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

	/* A port can be taken between the probe and nginx's bind: try a few times. */
	for (int attempt = 0; attempt < 3 && !started; attempt++) {
		for (int i = 0; i < SRV_COUNT; i++) {
			bool dup;

			do {
				ports[i] = i == SRV_V6 && have_v6 ? free_port(AF_INET6, "::1")
								  : free_port(AF_INET, "127.0.0.1");
				ck_assert_int_gt(ports[i], 0);
				dup = false;
				for (int j = 0; j < i; j++)
					dup |= ports[j] == ports[i];
			} while (dup);
		}
		write_conf(ngdir, chain, key);
		started = nginx_start(ngdir);
	}
	if (!started) {
		char *log = mc_xasprintf("%s/error.log", ngdir);
		char *text = NULL;

		(void)mc_file_read(log, 1 << 16, &text, NULL, NULL, 0);
		ck_abort_msg("nginx did not start: %s", text != NULL ? text : "(no error log)");
	}
	free(ca);
	free(sdir);
	free(cdir);
	free(chain);
	free(key);
	free(ngdir);
}

static void
servers_down(void)
{
	nginx_stop();
	if (dir != NULL)
		mc_rm_rf(dir);
	free(dir);
	free(root_pem);
	free(client_chain);
	free(client_key);
	dir = root_pem = client_chain = client_key = NULL;
}

/* One capture: the engine fed live, and the pcap file it wrote. */
struct live {
	struct mc_wire *w;
	struct mc_capture *cap;
	char *pcap;
};

static struct mc_wire *
engine_new(void)
{
	static const char *const canaries[] = {CANARY};
	struct mc_wire_options o = {0};
	char err[MC_ERRLEN];
	struct mc_wire *w;

	o.canaries = canaries;
	o.n_canaries = 1;
	w = mc_wire_new(&o, err, sizeof(err));
	ck_assert_msg(w != NULL, "mc_wire_new: %s", err);
	return w;
}

/* Starts capturing TCP traffic to or from port on iface, also into a pcap file. */
static void
live_begin(struct live *l, const char *iface, int port)
{
	static int seq;
	struct mc_capture_options co = {0};
	char err[MC_ERRLEN];
	char *bpf = mc_xasprintf("tcp port %d", port);
	int rc;

	l->w = engine_new();
	l->pcap = mc_xasprintf("%s/capture-%d-%d.pcap", dir, (int)getpid(), ++seq);
	co.iface = iface;
	co.bpf = bpf;
	co.write_path = l->pcap;
	rc = mc_capture_start(l->w, &co, &l->cap, err, sizeof(err));
	ck_assert_msg(rc == 0, "capture on %s: %s", iface, err);
	free(bpf);
}

/* Compares two flow views field by field; what fails is named. */
static void
same_flow(size_t i, const struct mc_flow_view *a, const struct mc_flow_view *b)
{
#define SAME_STR(f) ck_assert_msg((a->f == NULL && b->f == NULL) || \
	(a->f != NULL && b->f != NULL && strcmp(a->f, b->f) == 0), \
	"flow %zu: " #f " live '%s' file '%s'", i, a->f ? a->f : "(null)", b->f ? b->f : "(null)")
#define SAME_INT(f) ck_assert_msg(a->f == b->f, "flow %zu: " #f " live %llu file %llu", i, \
	(unsigned long long)a->f, (unsigned long long)b->f)
	SAME_INT(family);
	ck_assert_str_eq(a->client, b->client);
	ck_assert_str_eq(a->server, b->server);
	SAME_INT(client_port);
	SAME_INT(server_port);
	SAME_INT(cls);
	SAME_INT(packets[0]);
	SAME_INT(packets[1]);
	SAME_INT(payload_bytes[0]);
	SAME_INT(payload_bytes[1]);
	SAME_INT(tls_version);
	SAME_INT(tls_complete);
	SAME_INT(canary_hits);
	SAME_INT(first_canary_packet);
	SAME_STR(sni);
	SAME_STR(alpn_offered);
	SAME_STR(alpn_selected);
#undef SAME_STR
#undef SAME_INT
}

/*
 * Stops the capture, re-reads the pcap file it wrote into a second engine
 * and checks that both saw the same packets and flows. Returns the file's
 * engine in *file (caller frees).
 */
static void
live_end(struct live *l, struct mc_wire **file)
{
	struct mc_wire_stats ls, fs;
	char err[MC_ERRLEN];
	char *table;

	ck_assert_msg(mc_capture_stop(l->cap, err, sizeof(err)) == 0, "capture stop: %s", err);
	l->cap = NULL;
	*file = engine_new();
	ck_assert_msg(mc_wire_read_file(*file, l->pcap, NULL, err, sizeof(err)) == 0, "%s", err);
	mc_wire_stats_get(l->w, &ls);
	mc_wire_stats_get(*file, &fs);
	ck_assert_uint_gt(ls.packets, 0);
	ck_assert_uint_eq(ls.packets, fs.packets);
	ck_assert_uint_eq(ls.bytes, fs.bytes);
	ck_assert_uint_eq(ls.tcp_packets, fs.tcp_packets);
	ck_assert(!fs.truncated_file);
	/* The flow table goes to the test log as evidence. */
	table = mc_wire_flows_text(l->w);
	printf("capture %s:\n%s", l->pcap, table != NULL ? table : "(no table)\n");
	fflush(stdout);
	free(table);
	ck_assert_uint_eq(mc_wire_flow_count(l->w), mc_wire_flow_count(*file));
	for (size_t i = 0; i < mc_wire_flow_count(l->w); i++) {
		struct mc_flow_view a, b;

		mc_wire_flow_get(l->w, i, &a);
		mc_wire_flow_get(*file, i, &b);
		same_flow(i, &a, &b);
	}
}

static void
live_free(struct live *l, struct mc_wire *file)
{
	char err[MC_ERRLEN];

	if (l->cap != NULL)
		mc_capture_stop(l->cap, err, sizeof(err));
	mc_wire_free(l->w);
	mc_wire_free(file);
	if (l->pcap != NULL)
		unlink(l->pcap);
	free(l->pcap);
}

/*
 * The one non-empty flow whose server port is port; fails the test (with the
 * flow table) when there is not exactly one.
 */
static void
the_flow(const struct mc_wire *w, int port, struct mc_flow_view *out)
{
	size_t found = 0;

	for (size_t i = 0; i < mc_wire_flow_count(w); i++) {
		struct mc_flow_view v;

		mc_wire_flow_get(w, i, &v);
		if (v.server_port == port && v.cls != MC_FLOW_EMPTY) {
			*out = v;
			found++;
		}
	}
	if (found != 1) {
		char *table = mc_wire_flows_text(w);

		ck_abort_msg("%zu non-empty flows to port %d, expected 1:\n%s", found, port, table);
	}
}

/* What one request sends and how. */
struct req {
	const char *url;
	const char *resolve;     /* CURLOPT_RESOLVE entry, NULL for none */
	long sslversion;         /* CURLOPT_SSLVERSION, 0 = default */
	long httpversion;        /* CURLOPT_HTTP_VERSION */
	bool client_cert;        /* present the client certificate */
	bool canary;             /* POST with the canary in a header and in the body */
};

struct reply {
	long status;
	long httpversion;        /* CURLINFO_HTTP_VERSION */
	char body[256];
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t have = strlen(r->body), len = size * n;

	if (have + len < sizeof(r->body))
		memcpy(r->body + have, data, len), r->body[have + len] = '\0';
	return len;
}

/* Makes one request on a fresh connection (verifying the server against our root); fails the test on errors. */
static void
request(const struct req *q, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *resolve = NULL, *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	ck_assert_ptr_nonnull(c);
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, root_pem);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, q->httpversion);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (q->resolve != NULL) {
		resolve = curl_slist_append(NULL, q->resolve);
		curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	}
	if (q->sslversion != 0)
		curl_easy_setopt(c, CURLOPT_SSLVERSION, q->sslversion);
	if (q->client_cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, client_chain);
		curl_easy_setopt(c, CURLOPT_SSLKEY, client_key);
	}
	/* The canary rides in a header and in the body, in every mode. */
	headers = curl_slist_append(headers, "X-Canary: " CANARY);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (q->canary)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "token=" CANARY "&more=1");
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s: %s (%s)", q->url, curl_easy_strerror(rc), errbuf);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r->httpversion);
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	curl_slist_free_all(headers);
}

/* Every flow judged as the mesh's mTLS would be: all TLS, no canary in cleartext. */
static void
judge(const struct mc_wire *w, int port, struct mc_wire_verdict *v)
{
	struct mc_flow_match m = {"127.0.0.1", (uint16_t)port};
	struct mc_wire_expect e = {0};

	e.match = &m;
	e.n_match = 1;
	e.all_tls = true;
	e.no_canary = true;
	e.min_flows = 1;
	mc_wire_judge(w, &e, v);
}

/*
 * Runs one TLS request to the SRV_TLS server by name (SNI HOST) with the
 * given TLS and HTTP versions, and checks the captured flow: class tls,
 * the TLS version, SNI, ALPN offered (and selected when visible), complete
 * handshake, no canary, and a passing all-TLS verdict.
 */
static void
tls_case(long sslversion, uint16_t want_version, long httpversion, const char *want_alpn)
{
	struct live l = {0};
	struct mc_wire *file = NULL;
	struct mc_flow_view f;
	struct mc_wire_verdict v;
	struct reply r;
	struct req q = {0};
	int port = ports[SRV_TLS];
	char *url = mc_xasprintf("https://%s:%d/", HOST, port);
	char *resolve = mc_xasprintf("%s:%d:127.0.0.1", HOST, port);

	q.url = url;
	q.resolve = resolve;
	q.sslversion = sslversion;
	q.httpversion = httpversion;
	live_begin(&l, "lo", port);
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "hello tls\n");
	ck_assert_int_eq(r.httpversion, strcmp(want_alpn, "h2") == 0 ? CURL_HTTP_VERSION_2_0
								      : CURL_HTTP_VERSION_1_1);
	live_end(&l, &file);

	for (int pass = 0; pass < 2; pass++) {
		const struct mc_wire *w = pass == 0 ? l.w : file;

		the_flow(w, port, &f);
		ck_assert_str_eq(mc_flow_class_name(f.cls), "tls");
		ck_assert_int_eq(f.family, AF_INET);
		ck_assert_str_eq(f.server, "127.0.0.1");
		ck_assert_msg(f.tls_version == want_version, "TLS version 0x%04x, expected 0x%04x",
			      f.tls_version, want_version);
		ck_assert(f.tls_complete);
		ck_assert_ptr_nonnull(f.sni);
		ck_assert_str_eq(f.sni, HOST);
		ck_assert_ptr_nonnull(f.alpn_offered);
		ck_assert_msg(strstr(f.alpn_offered, want_alpn) != NULL, "ALPN offered '%s', expected %s",
			      f.alpn_offered, want_alpn);
		/* TLS 1.3 encrypts the server's ALPN choice (EncryptedExtensions). */
		if (want_version == 0x0303) {
			ck_assert_ptr_nonnull(f.alpn_selected);
			ck_assert_str_eq(f.alpn_selected, want_alpn);
		}
		/* The canary was sent in a header, but encrypted. */
		ck_assert_uint_eq(f.canary_hits, 0);
		ck_assert_ptr_null(f.sample);
		ck_assert_uint_gt(f.packets[0], 0);
		ck_assert_uint_gt(f.packets[1], 0);

		judge(w, port, &v);
		ck_assert_msg(v.ok, "verdict: %s", v.reason);
		ck_assert_uint_eq(v.selected, 1);
		ck_assert_uint_eq(v.tls, 1);
	}
	live_free(&l, file);
	free(url);
	free(resolve);
}

START_TEST(tls12_http11)
{
	tls_case(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2, 0x0303, CURL_HTTP_VERSION_1_1,
		 "http/1.1");
}
END_TEST

START_TEST(tls12_h2)
{
	tls_case(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2, 0x0303, CURL_HTTP_VERSION_2TLS, "h2");
}
END_TEST

START_TEST(tls13_http11)
{
	tls_case(CURL_SSLVERSION_TLSv1_3, 0x0304, CURL_HTTP_VERSION_1_1, "http/1.1");
}
END_TEST

START_TEST(tls13_h2)
{
	tls_case(CURL_SSLVERSION_TLSv1_3, 0x0304, CURL_HTTP_VERSION_2TLS, "h2");
}
END_TEST

/* Mutual TLS: nginx verifies our client certificate; the flow is TLS with a complete handshake. */
START_TEST(mutual_tls)
{
	struct live l = {0};
	struct mc_wire *file = NULL;
	struct mc_flow_view f;
	struct mc_wire_verdict v;
	struct reply r;
	struct req q = {0};
	int port = ports[SRV_MTLS];
	char *url = mc_xasprintf("https://%s:%d/", HOST, port);
	char *resolve = mc_xasprintf("%s:%d:127.0.0.1", HOST, port);

	q.url = url;
	q.resolve = resolve;
	q.httpversion = CURL_HTTP_VERSION_1_1;
	q.client_cert = true;
	live_begin(&l, "lo", port);
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "client SUCCESS\n");
	live_end(&l, &file);
	for (int pass = 0; pass < 2; pass++) {
		const struct mc_wire *w = pass == 0 ? l.w : file;

		the_flow(w, port, &f);
		ck_assert_str_eq(mc_flow_class_name(f.cls), "tls");
		ck_assert(f.tls_complete);
		ck_assert_uint_eq(f.tls_version, 0x0304);
		ck_assert_str_eq(f.sni, HOST);
		ck_assert_uint_eq(f.canary_hits, 0);
		judge(w, port, &v);
		ck_assert_msg(v.ok, "verdict: %s", v.reason);
	}
	live_free(&l, file);
	free(url);
	free(resolve);
}
END_TEST

/*
 * The negative control: plaintext HTTP/1.1 with the canary in a header and
 * the body is classified http1, the canary is found, and the mesh verdict
 * (all TLS, no canary) fails.
 */
START_TEST(plaintext_canary)
{
	struct live l = {0};
	struct mc_wire *file = NULL;
	struct mc_flow_view f;
	struct mc_wire_verdict v;
	struct reply r;
	struct req q = {0};
	int port = ports[SRV_PLAIN];
	char *url = mc_xasprintf("http://127.0.0.1:%d/submit", port);

	q.url = url;
	q.httpversion = CURL_HTTP_VERSION_1_1;
	q.canary = true;
	live_begin(&l, "lo", port);
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	live_end(&l, &file);
	for (int pass = 0; pass < 2; pass++) {
		const struct mc_wire *w = pass == 0 ? l.w : file;

		the_flow(w, port, &f);
		ck_assert_str_eq(mc_flow_class_name(f.cls), "http1");
		ck_assert_uint_eq(f.tls_version, 0);
		ck_assert_ptr_null(f.sni);
		/* Once in the X-Canary header, once in the body. */
		ck_assert_msg(f.canary_hits >= 2, "canary hits %llu", (unsigned long long)f.canary_hits);
		ck_assert_uint_gt(f.first_canary_packet, 0);
		ck_assert_ptr_nonnull(f.sample);
		ck_assert_msg(strncmp(f.sample, "POST /submit HTTP/1.1", 21) == 0, "sample '%s'", f.sample);

		judge(w, port, &v);
		ck_assert_msg(!v.ok, "the plaintext leak passed the all-TLS/no-canary verdict");
		ck_assert_uint_ge(v.canary_hits, 2);
		ck_assert_uint_eq(v.plaintext, 1);
		ck_assert_uint_ge(v.failing_flows, 1);
		ck_assert(v.reason[0] != '\0');
	}
	live_free(&l, file);
	free(url);
}
END_TEST

/* h2c with prior knowledge: the cleartext connection preface, and the canary in the body found. */
START_TEST(h2c_prior_knowledge)
{
	struct live l = {0};
	struct mc_wire *file = NULL;
	struct mc_flow_view f;
	struct mc_wire_verdict v;
	struct reply r;
	struct req q = {0};
	int port = ports[SRV_H2C];
	char *url = mc_xasprintf("http://127.0.0.1:%d/", port);

	q.url = url;
	q.httpversion = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	q.canary = true;
	live_begin(&l, "lo", port);
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.httpversion, CURL_HTTP_VERSION_2_0);
	ck_assert_str_eq(r.body, "hello h2c\n");
	live_end(&l, &file);
	for (int pass = 0; pass < 2; pass++) {
		const struct mc_wire *w = pass == 0 ? l.w : file;

		the_flow(w, port, &f);
		ck_assert_str_eq(mc_flow_class_name(f.cls), "h2c");
		ck_assert_uint_eq(f.tls_version, 0);
		/*
		 * The body goes out raw in a DATA frame; the X-Canary header value
		 * is HPACK Huffman-coded, so only the body's copy is in cleartext.
		 */
		ck_assert_msg(f.canary_hits >= 1, "canary hits %llu", (unsigned long long)f.canary_hits);
		judge(w, port, &v);
		ck_assert(!v.ok);
	}
	live_free(&l, file);
	free(url);
}
END_TEST

/* TLS over ::1 (nginx listen [::1]:PORT ssl), by name, so SNI is sent. */
START_TEST(ipv6_tls)
{
	struct live l = {0};
	struct mc_wire *file = NULL;
	struct mc_flow_view f;
	struct reply r;
	struct req q = {0};
	int port = ports[SRV_V6];
	char *url, *resolve;

	if (!have_v6) {
		printf("SKIP: ipv6_tls: ::1 is not configured on lo\n");
		return;
	}
	url = mc_xasprintf("https://%s:%d/", HOST, port);
	resolve = mc_xasprintf("%s:%d:[::1]", HOST, port);
	q.url = url;
	q.resolve = resolve;
	q.httpversion = CURL_HTTP_VERSION_1_1;
	live_begin(&l, "lo", port);
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "hello v6\n");
	live_end(&l, &file);
	for (int pass = 0; pass < 2; pass++) {
		const struct mc_wire *w = pass == 0 ? l.w : file;

		the_flow(w, port, &f);
		ck_assert_str_eq(mc_flow_class_name(f.cls), "tls");
		ck_assert_int_eq(f.family, AF_INET6);
		ck_assert_str_eq(f.server, "::1");
		ck_assert_str_eq(f.client, "::1");
		ck_assert_str_eq(f.sni, HOST);
		ck_assert(f.tls_complete);
		ck_assert_ptr_nonnull(f.alpn_offered);
		ck_assert(strstr(f.alpn_offered, "http/1.1") != NULL);
	}
	live_free(&l, file);
	free(url);
	free(resolve);
}
END_TEST

/* A capture on "any" (Linux cooked headers) sees the same TLS flow as on "lo". */
START_TEST(any_cooked)
{
	struct live l = {0};
	struct mc_wire *file = NULL;
	struct mc_flow_view f;
	struct mc_wire_verdict v;
	struct reply r;
	struct req q = {0};
	int port = ports[SRV_TLS];
	char *url = mc_xasprintf("https://%s:%d/", HOST, port);
	char *resolve = mc_xasprintf("%s:%d:127.0.0.1", HOST, port);

	q.url = url;
	q.resolve = resolve;
	q.httpversion = CURL_HTTP_VERSION_2TLS;
	live_begin(&l, "any", port);
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	live_end(&l, &file);
	for (int pass = 0; pass < 2; pass++) {
		const struct mc_wire *w = pass == 0 ? l.w : file;

		the_flow(w, port, &f);
		ck_assert_str_eq(mc_flow_class_name(f.cls), "tls");
		ck_assert_str_eq(f.sni, HOST);
		ck_assert_uint_eq(f.tls_version, 0x0304);
		ck_assert(f.tls_complete);
		ck_assert(strstr(f.alpn_offered, "h2") != NULL);
		judge(w, port, &v);
		ck_assert_msg(v.ok, "verdict: %s", v.reason);
	}
	live_free(&l, file);
	free(url);
	free(resolve);
}
END_TEST

static Suite *
live_suite(void)
{
	Suite *s = suite_create("wire-live");
	TCase *tc = tcase_create("loopback");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, servers_up, servers_down);
	tcase_add_test(tc, tls12_http11);
	tcase_add_test(tc, tls12_h2);
	tcase_add_test(tc, tls13_http11);
	tcase_add_test(tc, tls13_h2);
	tcase_add_test(tc, mutual_tls);
	tcase_add_test(tc, plaintext_canary);
	tcase_add_test(tc, h2c_prior_knowledge);
	tcase_add_test(tc, ipv6_tls);
	tcase_add_test(tc, any_cooked);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * Starts and stops a short live capture on "lo". Returns 0 when that works,
 * else the engine's negative errno with the reason in why (-EPERM: no
 * privilege, so the caller skips).
 */
static int
probe_capture(char *why, size_t whylen)
{
	struct mc_capture_options co = {0};
	struct mc_capture *cap = NULL;
	struct mc_wire *w = mc_wire_new(NULL, why, whylen);
	int rc;

	if (w == NULL)
		return -EINVAL;
	co.iface = "lo";
	co.bpf = "tcp port 9";
	rc = mc_capture_start(w, &co, &cap, why, whylen);
	if (rc == 0)
		rc = mc_capture_stop(cap, why, whylen);
	mc_wire_free(w);
	return rc;
}

int
main(void)
{
	char why[MC_ERRLEN] = "";
	int rc, fd;

	if (mc_nginx_binary() == NULL) {
		printf("SKIP: nginx not found (install nginx-light, or set MC_NGINX)\n");
		return 77;
	}
	rc = probe_capture(why, sizeof(why));
	if (rc == -EPERM || (rc < 0 && geteuid() != 0)) {
		printf("SKIP: cannot capture on lo (needs root or CAP_NET_RAW): %s\n", why);
		return 77;
	}
	if (rc < 0) {
		printf("ERROR: live capture on lo failed: %s\n", why);
		return 99;
	}
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_in6 sa = {0};

		sa.sin6_family = AF_INET6;
		sa.sin6_addr = in6addr_loopback;
		have_v6 = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = t_main(live_suite());
	curl_global_cleanup();
	return rc;
}
