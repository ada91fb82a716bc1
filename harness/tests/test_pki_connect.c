/*
 * Integration tests of mc_chain_fetch against a real nginx (from the
 * distribution) serving a workload certificate from the engine's own CA and
 * demanding a client certificate. Exits 77 (skipped) when nginx is missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "nginx.h"
#include "pki.h"
#include "testutil.h"

#define ADDR "127.0.0.1"

static char *dir, *root, *client_chain, *client_key;
static struct mc_nginx *ng;
static int port;

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
	struct mc_issue_options io = {0};
	char err[MC_ERRLEN];

	io.spiffe = spiffe;
	io.key = MC_KEY_EC256;
	io.key_set = true;
	ck_assert_msg(mc_pki_issue(ca, &io, out, err, sizeof(err)) == 0, "%s", err);
}

/* One CA, a server identity behind nginx (client certificate required), a client identity. */
static void
setup(void)
{
	static const char *const cl[] = {"c1"};
	struct mc_ca_options o = {0};
	struct mc_tls_server srv = {0};
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

	srv.name = "helloworld";
	srv.addr = ADDR;
	srv.cert_chain = chain;
	srv.key = key;
	srv.client_ca = root;
	srv.body = "hello";
	/* The port can be taken between the probe and nginx's bind: try a few. */
	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		srv.port = port = free_port();
		rc = mc_nginx_start(ngdir, &srv, 1, 10000, &ng, err, sizeof(err));
	}
	ck_assert_msg(rc == 0, "nginx: %s", err);
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

static void
fetch_and_verify(const char *cert, const char *key, const char *sni)
{
	struct mc_fetch_options fo = {0};
	struct mc_verify_options vo = {0};
	struct mc_verify_result r;
	struct mc_chain *peer = NULL, *roots = NULL;
	struct mc_cert_info ci;
	char err[MC_ERRLEN];

	fo.host = ADDR;
	fo.port = port;
	fo.sni = sni;
	fo.cert = cert;
	fo.key = key;
	fo.timeout_ms = 5000;
	ck_assert_msg(mc_chain_fetch(&fo, &peer, err, sizeof(err)) == 0, "%s", err);
	/* nginx sends the whole cert-chain.pem: leaf, intermediate, root. */
	ck_assert_uint_eq(mc_chain_count(peer), 3);
	ck_assert_int_eq(mc_cert_info_get(peer, 0, &ci, err, sizeof(err)), 0);
	ck_assert_str_eq(ci.spiffe, "spiffe://cluster.local/ns/sample/sa/helloworld");
	mc_cert_info_clear(&ci);

	ck_assert_msg(mc_chain_load_pem(root, &roots, err, sizeof(err)) == 0, "%s", err);
	vo.spiffe_pattern = "spiffe://cluster.local/ns/sample/sa/*";
	vo.min_validity = 3600;
	ck_assert_int_eq(mc_chain_verify(peer, roots, &vo, &r, err, sizeof(err)), 0);
	for (size_t i = 0; i < r.n_checks; i++)
		ck_assert_msg(r.checks[i].ok, "%s: %s", r.checks[i].name, r.checks[i].detail);
	ck_assert(r.ok);
	mc_verify_result_clear(&r);
	mc_chain_free(roots);
	mc_chain_free(peer);
}

START_TEST(fetch_without_client_cert)
{
	/* The server demands a client certificate we do not have: the chain still arrives. */
	fetch_and_verify(NULL, NULL, NULL);
}
END_TEST

START_TEST(fetch_with_client_cert_and_sni)
{
	fetch_and_verify(client_chain, client_key, "outbound_.5000_._.helloworld.sample.svc.cluster.local");
}
END_TEST

START_TEST(fetch_with_mismatched_client_key)
{
	struct mc_fetch_options fo = {0};
	struct mc_chain *peer = NULL;
	char err[MC_ERRLEN], *other = mc_xasprintf("%s/server/key.pem", dir);

	fo.host = ADDR;
	fo.port = port;
	fo.cert = client_chain;
	fo.key = other;
	ck_assert_int_eq(mc_chain_fetch(&fo, &peer, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(peer);
	ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
	free(other);
}
END_TEST

/* Path of a program on PATH (caller frees), or NULL. */
static char *
which(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *tok, *found = NULL;

	copy = mc_xstrdup(path != NULL ? path : "/usr/bin:/bin");
	for (tok = strtok_r(copy, ":", &save); tok != NULL; tok = strtok_r(NULL, ":", &save)) {
		char *p = mc_xasprintf("%s/%s", tok, prog);

		if (access(p, X_OK) == 0) {
			found = p;
			break;
		}
		free(p);
	}
	free(copy);
	return found;
}

/*
 * Like Envoy, `openssl s_server -Verify` fails the handshake when the client
 * sends no certificate (nginx instead answers 400). The chain must still be
 * captured, with TLS 1.2 and with TLS 1.3.
 */
START_TEST(fetch_when_server_fails_handshake)
{
	static const char *const versions[] = {"-tls1_2", "-tls1_3"};
	char *openssl = which("openssl");
	char *leaf = mc_xasprintf("%s/server/cert.pem", dir), *key = mc_xasprintf("%s/server/key.pem", dir);
	char *chain = mc_xasprintf("%s/c1/cert-chain.pem", dir);

	if (openssl == NULL) {
		printf("SKIP: fetch_when_server_fails_handshake: the openssl command is missing\n");
		goto out;
	}
	for (size_t v = 0; v < 2; v++) {
		int p = free_port();
		char *accept = mc_xasprintf("%s:%d", ADDR, p);
		char *argv[] = {openssl, "s_server", "-quiet", "-accept", accept, "-cert", leaf, "-key", key,
				"-cert_chain", chain, "-CAfile", root, "-Verify", "2", "-verify_return_error",
				(char *)versions[v], NULL};
		struct mc_fetch_options fo = {0};
		struct mc_chain *peer = NULL;
		char err[MC_ERRLEN] = "";
		posix_spawn_file_actions_t fa;
		pid_t pid;
		int rc = -1;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		ck_assert_int_eq(posix_spawn(&pid, openssl, &fa, NULL, argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
		fo.host = ADDR;
		fo.port = p;
		fo.timeout_ms = 3000;
		/* Until s_server listens, connections are refused. */
		for (int i = 0; i < 100; i++) {
			rc = mc_chain_fetch(&fo, &peer, err, sizeof(err));
			if (rc != -ECONNREFUSED)
				break;
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		ck_assert_msg(rc == 0, "%s: %s", versions[v], err);
		ck_assert_uint_eq(mc_chain_count(peer), 3);
		mc_chain_free(peer);
		free(accept);
	}
out:
	free(openssl);
	free(leaf);
	free(key);
	free(chain);
}
END_TEST

static Suite *
connect_suite(void)
{
	Suite *s = suite_create("pki-connect");
	TCase *tc = tcase_create("nginx");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fetch_without_client_cert);
	tcase_add_test(tc, fetch_with_client_cert_and_sni);
	tcase_add_test(tc, fetch_with_mismatched_client_key);
	tcase_add_test(tc, fetch_when_server_fails_handshake);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	if (mc_nginx_binary() == NULL) {
		printf("SKIP: nginx not found (install nginx-light, or set MC_NGINX)\n");
		return 77;
	}
	return t_main(connect_suite());
}
