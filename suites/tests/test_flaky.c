/*
 * End-to-end tests of `run --retries`: the meshcheck binary runs a suite
 * whose `chain` case connects to a TLS server this test runs on 127.0.0.1.
 * The server presents a chain from a foreign root to its first client(s)
 * and the mesh's chain afterwards, so the case fails and then passes; the
 * three reports must call it flaky, never a clean pass. A case that can
 * never pass must fail with every attempt reported. MESHCHECK names the
 * binary.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/ssl.h>

#include "e2eutil.h"
#include "pki.h"

static const char *bin;

/* A TLS server that shows the foreign chain to its first bad_first connections, the mesh's after. */
struct flip_server {
	int fd, port;
	SSL_CTX *bad, *good;
	int bad_first;
	atomic_int conns;
	atomic_bool stop;
	pthread_t thread;
};

/* A server context presenting dir/cert-chain.pem with dir/key.pem. */
static SSL_CTX *
server_ctx(const char *dir)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char *chain = mc_xasprintf("%s/cert-chain.pem", dir), *key = mc_xasprintf("%s/key.pem", dir);

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_use_certificate_chain_file(ctx, chain), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
	free(chain);
	free(key);
	return ctx;
}

static void *
serve(void *arg)
{
	struct flip_server *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = {.fd = f->fd, .events = POLLIN};
		struct timeval tv = {.tv_sec = 5};
		SSL *ssl;
		int c, n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		c = accept(f->fd, NULL, NULL);
		if (c < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		n = atomic_fetch_add(&f->conns, 1) + 1;
		ssl = SSL_new(n <= f->bad_first ? f->bad : f->good);
		if (ssl != NULL && SSL_set_fd(ssl, c) == 1 && SSL_accept(ssl) == 1)
			SSL_shutdown(ssl);
		SSL_free(ssl);
		close(c);
	}
	return NULL;
}

static void
flip_start(struct flip_server *f, const char *bad_dir, const char *good_dir, int bad_first)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->bad = server_ctx(bad_dir);
	f->good = server_ctx(good_dir);
	f->bad_first = bad_first;
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(f->fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->fd, 16), 0);
	ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&sa, &len), 0);
	f->port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void
flip_stop(struct flip_server *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->fd);
	SSL_CTX_free(f->bad);
	SSL_CTX_free(f->good);
}

/* Two PKIs under dir: the mesh's (pki/, workload in good/) and a foreign one (foreign/, workload in bad/). */
static void
make_pkis(const char *dir)
{
	static const char *const clusters[] = {"c1"};
	static const char *const roots[] = {"pki", "foreign"}, *const leaves[] = {"good", "bad"};
	struct mc_ca_options ca = {.key = MC_KEY_EC256};
	struct mc_issue_options io = {.spiffe = "spiffe://cluster.local/ns/foo/sa/web", .key = MC_KEY_EC256,
				      .key_set = true, .ttl_seconds = 3600};
	char err[MC_ERRLEN];

	for (size_t i = 0; i < 2; i++) {
		char *root = mc_xasprintf("%s/%s", dir, roots[i]), *ca_dir = mc_xasprintf("%s/%s/c1", dir, roots[i]);
		char *leaf = mc_xasprintf("%s/%s", dir, leaves[i]);

		ck_assert_msg(mc_pki_init(root, clusters, 1, &ca, err, sizeof(err)) == 0, "%s", err);
		ck_assert_msg(mc_pki_issue(ca_dir, &io, leaf, err, sizeof(err)) == 0, "%s", err);
		free(root);
		free(ca_dir);
		free(leaf);
	}
}

/* Runs meshcheck with TMPDIR pointed at tmp (so run directories can be seen); returns its exit status. */
static int
mc_run(const char *tmp, char *const args[], char **out)
{
	char *argv[32];
	int n = 0, rc;

	argv[n++] = (char *)bin;
	for (int i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	setenv("TMPDIR", tmp, 1);
	rc = t_run(argv, out);
	unsetenv("TMPDIR");
	return rc;
}

/*
 * Runs `xmllint --xpath expr file`, or `xmllint --noout file` when expr is
 * NULL, and returns its output, failing the test when xmllint fails.
 */
static char *
xmllint(const char *expr, const char *file)
{
	char *argv[] = {"/usr/bin/xmllint", expr != NULL ? "--xpath" : "--noout", (char *)(expr != NULL ? expr : file),
			expr != NULL ? (char *)file : NULL, NULL};
	char *out = NULL;
	int rc;

	ck_assert_msg(access(argv[0], X_OK) == 0, "xmllint missing (install libxml2-utils)");
	rc = t_run(argv, &out);
	ck_assert_msg(rc == 0, "xmllint %s %s: exit %d: %s", expr != NULL ? expr : "--noout", file, rc, out);
	return out;
}

/* The number an XPath expression over file evaluates to. */
static long
xpath_num(const char *file, const char *expr)
{
	char *out = xmllint(expr, file);
	long n = strtol(out, NULL, 10);

	free(out);
	return n;
}

/* The suite: the flipping server's case, and optionally a chain that never verifies, and a plain pass. */
static char *
write_suite(const char *dir, int port, bool with_hopeless)
{
	char *text = mc_xasprintf(
		"{\"name\": \"flaky\", \"mesh\": {\"key\": \"ec256\"}, \"cases\": [\n"
		" {\"name\": \"server settles\", \"check\": \"chain\",\n"
		"  \"input\": {\"connect\": \"127.0.0.1:%d\", \"root\": \"%s/pki/root-cert.pem\"},\n"
		"  \"expect\": {\"spiffe\": \"spiffe://cluster.local/ns/foo/sa/web\"}},\n"
		" {\"name\": \"steady\", \"check\": \"chain\",\n"
		"  \"input\": {\"chain_file\": \"%s/good/cert-chain.pem\", \"root\": \"%s/pki/root-cert.pem\"}}%s\n"
		"]}\n",
		port, dir, dir, dir,
		with_hopeless ? ",\n {\"name\": \"foreign for good\", \"check\": \"chain\",\n"
				"  \"input\": {\"chain_file\": \"bad/cert-chain.pem\", \"root\": \"pki/root-cert.pem\"}}"
			      : "");
	char *path = t_write(dir, "flaky.json", text);

	free(text);
	return path;
}

/* Returns the case named name of the first suite of report.json. */
static cJSON *
json_case(cJSON *j, const char *name)
{
	cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0), "cases"))
		if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0)
			return c;
	ck_abort_msg("no case \"%s\" in report.json", name);
	return NULL;
}

/* Returns the HTML table row of the case named name (caller frees). */
static char *
html_row(const char *html, const char *name)
{
	char *needle = mc_xasprintf("\">%s</a></td>", name);
	const char *hit = strstr(html, needle), *start, *end;

	ck_assert_msg(hit != NULL, "no row for %s in report.html", name);
	for (start = hit; start > html && strncmp(start, "<tr", 3) != 0; start--)
		;
	end = strstr(hit, "</tr>");
	ck_assert_ptr_nonnull(end);
	free(needle);
	return strndup(start, (size_t)(end - start));
}

START_TEST(fails_once_then_passes_is_flaky_in_every_report)
{
	struct ws w;
	struct flip_server f;
	char *suite, *out = NULL, *html, *row, *v, *bad, *good;
	cJSON *j, *c, *a, *sum;
	int rc;

	ws_init(&w);
	make_pkis(w.tmp);
	bad = mc_xasprintf("%s/bad", w.tmp);
	good = mc_xasprintf("%s/good", w.tmp);
	flip_start(&f, bad, good, 1);
	suite = write_suite(w.tmp, f.port, false);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, "--retries", "2", NULL};

		rc = mc_run(w.runs, args, &out);
	}
	flip_stop(&f);
	ck_assert_msg(rc == 0, "exit %d (a flaky case passes), output:\n%s", rc, out);
	/* Two connections: the failed attempt and the passing one; no third. */
	ck_assert_int_eq(atomic_load(&f.conns), 2);
	ck_assert_msg(strstr(out, "RETRY flaky/server settles (") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "FLAKY flaky/server settles (") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "): passed on attempt 2 after 1 failed (fail: 127.0.0.1:") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "PASS  flaky/steady (") != NULL, "%s", out);

	/* JUnit: a pass with one flakyFailure holding the failed attempt, no failure anywhere. */
	free(xmllint(NULL, w.junit));
	ck_assert_int_eq(xpath_num(w.junit, "number(/testsuites/@failures)"), 0);
	ck_assert_int_eq(xpath_num(w.junit, "number(/testsuites/@errors)"), 0);
	ck_assert_int_eq(xpath_num(w.junit, "count(//failure | //error | //rerunFailure | //rerunError)"), 0);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='server settles']/flakyFailure[@type='chain'])"), 1);
	v = xmllint("string(//testcase[@name='server settles']/flakyFailure/@message)", w.junit);
	ck_assert_msg(strstr(v, "chains_to_root failed") != NULL, "flakyFailure message: %s", v);
	free(v);
	v = xmllint("string(//testcase[@name='server settles']/flakyFailure/stackTrace)", w.junit);
	ck_assert_msg(strncmp(v, "attempt 1 of 2: fail after ", 27) == 0, "%s", v);
	free(v);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='steady']/*[not(self::system-out)])"), 0);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='steady']/system-out[contains(., 'FLAKY')])"), 0);

	/* JSON: flaky, its two attempts, the summary counting it as passed and flaky. */
	j = read_json(w.json);
	sum = cJSON_GetObjectItem(j, "summary");
	ck_assert_int_eq(cJSON_GetObjectItem(sum, "passed")->valueint, 2);
	ck_assert_int_eq(cJSON_GetObjectItem(sum, "flaky")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(sum, "failed")->valueint, 0);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 0);
	c = json_case(j, "server settles");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "status")->valuestring, "pass");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(c, "flaky")));
	a = cJSON_GetObjectItem(c, "attempts");
	ck_assert_int_eq(cJSON_GetArraySize(a), 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "status")->valuestring, "fail");
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "reason")->valuestring,
				     "chains_to_root failed"));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "duration_s")));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "status")->valuestring, "pass");
	/* The first attempt's evidence (the foreign chain) is kept apart from the passing one's. */
	{
		cJSON *e;
		int kept = 0;

		cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "evidence")) {
			const char *label = cJSON_GetObjectItem(e, "label")->valuestring;
			char *p = mc_xasprintf("%s/%s", w.out_dir, cJSON_GetObjectItem(e, "path")->valuestring);

			ck_assert_msg(access(p, R_OK) == 0, "missing evidence %s", p);
			if (strncmp(label, "attempt 1: ", 11) == 0) {
				ck_assert_ptr_nonnull(strstr(p, "/evidence/flaky/server-settles@attempt-1/"));
				kept++;
			}
			free(p);
		}
		ck_assert_int_ge(kept, 1);
	}
	c = json_case(j, "steady");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(c, "flaky")));
	ck_assert_ptr_null(cJSON_GetObjectItem(c, "attempts"));
	cJSON_Delete(j);

	/* HTML: the row says PASS and FLAKY, the details list the failed attempt, the counts show it. */
	html = t_read(w.html);
	row = html_row(html, "server settles");
	ck_assert_ptr_nonnull(strstr(row, "<tr class=\"pass flaky\">"));
	ck_assert_ptr_nonnull(strstr(row, ">PASS</span> <span class=\"st flaky\">FLAKY</span>"));
	ck_assert_ptr_nonnull(strstr(row, "flaky: passed on attempt 2, after 1 failed"));
	free(row);
	row = html_row(html, "steady");
	ck_assert_ptr_null(strstr(row, "FLAKY"));
	free(row);
	ck_assert_ptr_nonnull(strstr(html, "Passed on attempt 2, after 1 failed attempt(s):"));
	ck_assert_ptr_nonnull(strstr(html, "<span class=\"st flaky\">FLAKY</span> 1 (passed, counted in PASS)"));
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: PASSED"));
	free(html);

	ck_assert_msg(count_entries(w.runs) == 0, "run directory left behind in %s", w.runs);
	free(out);
	free(suite);
	free(bad);
	free(good);
	ws_free(&w);
}
END_TEST

START_TEST(never_passes_fails_with_every_attempt)
{
	struct ws w;
	struct flip_server f;
	char *suite, *out = NULL, *html, *bad, *good;
	cJSON *j, *c;
	int rc;

	ws_init(&w);
	make_pkis(w.tmp);
	bad = mc_xasprintf("%s/bad", w.tmp);
	good = mc_xasprintf("%s/good", w.tmp);
	flip_start(&f, bad, good, 1);
	suite = write_suite(w.tmp, f.port, true);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, "--retries", "2", NULL};

		rc = mc_run(w.runs, args, &out);
	}
	flip_stop(&f);
	ck_assert_msg(rc == 1, "exit %d (expected 1), output:\n%s", rc, out);
	ck_assert_msg(strstr(out, "FAIL  flaky/foreign for good (") != NULL &&
		      strstr(out, "(no pass in 3 attempts)") != NULL, "%s", out);

	free(xmllint(NULL, w.junit));
	ck_assert_int_eq(xpath_num(w.junit, "number(/testsuites/@failures)"), 1);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='foreign for good']/failure)"), 1);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='foreign for good']/rerunFailure[@type='chain'])"), 2);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='foreign for good']/flakyFailure)"), 0);
	/* The failure comes first, then the reruns, as Surefire's schema orders them. */
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='foreign for good']/*[1][self::failure])"), 1);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='server settles']/flakyFailure)"), 1);

	j = read_json(w.json);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "flaky")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "failed")->valueint, 1);
	c = json_case(j, "foreign for good");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "status")->valuestring, "fail");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(c, "flaky")));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(c, "attempts")), 3);
	cJSON_Delete(j);

	html = t_read(w.html);
	ck_assert_ptr_nonnull(strstr(html, "No pass in 3 attempts:"));
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: FAILED"));
	free(html);
	free(out);
	free(suite);
	free(bad);
	free(good);
	ws_free(&w);
}
END_TEST

/* Without --retries the same server makes the case fail: the retry is what made it pass above. */
START_TEST(without_retries_the_first_failure_stands)
{
	struct ws w;
	struct flip_server f;
	char *suite, *out = NULL, *bad, *good;
	cJSON *j, *c;
	int rc;

	ws_init(&w);
	make_pkis(w.tmp);
	bad = mc_xasprintf("%s/bad", w.tmp);
	good = mc_xasprintf("%s/good", w.tmp);
	flip_start(&f, bad, good, 1);
	suite = write_suite(w.tmp, f.port, false);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	flip_stop(&f);
	ck_assert_msg(rc == 1, "exit %d (expected 1), output:\n%s", rc, out);
	ck_assert_int_eq(atomic_load(&f.conns), 1);
	ck_assert_ptr_null(strstr(out, "RETRY"));
	ck_assert_ptr_null(strstr(out, "FLAKY"));
	free(xmllint(NULL, w.junit));
	ck_assert_int_eq(xpath_num(w.junit, "count(//flakyFailure | //rerunFailure)"), 0);
	ck_assert_int_eq(xpath_num(w.junit, "count(//testcase[@name='server settles']/failure)"), 1);
	j = read_json(w.json);
	c = json_case(j, "server settles");
	ck_assert_str_eq(cJSON_GetObjectItem(c, "status")->valuestring, "fail");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(c, "flaky")));
	ck_assert_ptr_null(cJSON_GetObjectItem(c, "attempts"));
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "flaky")->valueint, 0);
	cJSON_Delete(j);
	free(out);
	free(suite);
	free(bad);
	free(good);
	ws_free(&w);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("flaky");
	TCase *tc = tcase_create("local");

	bin = getenv("MESHCHECK");
	if (bin == NULL || access(bin, X_OK) != 0) {
		printf("SKIP: MESHCHECK does not name the meshcheck binary\n");
		return 77;
	}
	/* A client that hangs up mid-handshake must not end the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fails_once_then_passes_is_flaky_in_every_report);
	tcase_add_test(tc, never_passes_fails_with_every_attempt);
	tcase_add_test(tc, without_retries_the_first_failure_stands);
	suite_add_tcase(s, tc);
	return t_main(s);
}
