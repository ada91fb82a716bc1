/*
 * End-to-end tests: the meshcheck binary runs whole suites against the local
 * target (real certificates, real nginx, real TLS) and the reports are read
 * back. MESHCHECK names the binary; MC_SOURCE_ROOT the source tree.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "nginx.h"
#include "e2eutil.h"

static const char *bin;

/* Runs meshcheck with TMPDIR pointed at tmp (so run directories can be seen). */
static int
mc_run(const char *tmp, char *const args[], char **out)
{
	char *argv[32];
	int n = 0, rc;
	char *old = getenv("TMPDIR") != NULL ? mc_xstrdup(getenv("TMPDIR")) : NULL;

	argv[n++] = (char *)bin;
	for (int i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	setenv("TMPDIR", tmp, 1);
	rc = t_run(argv, out);
	if (old != NULL)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
	return rc;
}

static int
xmllint_ok(const char *path)
{
	char *argv[] = {"/usr/bin/xmllint", "--noout", (char *)path, NULL};

	ck_assert_msg(access(argv[0], X_OK) == 0, "xmllint missing (install libxml2-utils)");
	return t_run(argv, NULL) == 0;
}

static char *
count_of(const char *xml, const char *needle)
{
	int n = 0;

	for (const char *p = xml; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return mc_xasprintf("%d", n);
}

static const char *const fast_suite =
	"{\"name\": \"fast\", \"mesh\": {\"clusters\": [\"c1\", \"c2\"], \"key\": \"ec256\"},\n"
	" \"servers\": [\n"
	"  {\"name\": \"a\", \"cluster\": \"c1\", \"namespace\": \"foo\", \"service_account\": \"httpbin\", \"require_client_cert\": true},\n"
	"  {\"name\": \"b\", \"cluster\": \"c2\", \"namespace\": \"foo\", \"service_account\": \"sleep\"},\n"
	"  {\"name\": \"rogue\", \"cluster\": \"c2\", \"namespace\": \"foo\", \"service_account\": \"sleep\", \"foreign_root\": true}],\n"
	" \"cases\": [\n"
	"  {\"name\": \"a verifies\", \"check\": \"chain\", \"input\": {\"server\": \"a\"},\n"
	"   \"expect\": {\"spiffe\": \"spiffe://cluster.local/ns/foo/sa/httpbin\", \"chain_length\": 3}},\n"
	"  {\"name\": \"shared root\", \"check\": \"chain\", \"input\": {\"servers\": [\"a\", \"b\"]},\n"
	"   \"expect\": {\"same_root\": true, \"distinct_intermediates\": true}},\n"
	"  {\"name\": \"rogue %s\", \"check\": \"chain\", \"input\": {\"server\": \"rogue\"},\n"
	"   \"expect\": {\"verify\": %s}},\n"
	"  {\"name\": \"b <wrong> & identity\", \"check\": \"chain\", \"input\": {\"server\": \"b\"},\n"
	"   \"expect\": {\"spiffe\": \"%s\"}}\n"
	" ]}\n";

START_TEST(trust_suite_passes)
{
	struct ws w;
	char *suite = mc_xasprintf("%s/suites/trust.json", MC_SOURCE_ROOT);
	char *out = NULL, *xml, *n;
	cJSON *j, *sum, *cases, *c;
	int rc;

	ws_init(&w);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
	ck_assert_msg(xmllint_ok(w.junit), "junit.xml is not well-formed");
	xml = t_read(w.junit);
	n = count_of(xml, "<testcase ");
	ck_assert_str_eq(n, "7");
	free(n);
	ck_assert_ptr_null(strstr(xml, "<failure"));
	ck_assert_ptr_null(strstr(xml, "<error"));
	j = read_json(w.json);
	sum = cJSON_GetObjectItem(j, "summary");
	ck_assert_int_eq(cJSON_GetObjectItem(sum, "total")->valueint, 7);
	ck_assert_int_eq(cJSON_GetObjectItem(sum, "passed")->valueint, 7);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 0);
	cases = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0), "cases");
	/* Every case recorded its evidence, and the files are there. */
	cJSON_ArrayForEach(c, cases) {
		cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "evidence"), 0);
		char *p;

		ck_assert_msg(ev != NULL, "case without evidence");
		p = mc_xasprintf("%s/%s", w.out_dir, cJSON_GetObjectItem(ev, "path")->valuestring);
		ck_assert_msg(access(p, R_OK) == 0, "missing evidence %s", p);
		free(p);
	}
	ck_assert_int_eq(access(w.html, R_OK), 0);
	/* Nothing left behind: the run directory is gone. */
	ck_assert_msg(count_entries(w.runs) == 0, "run directory left behind in %s", w.runs);
	cJSON_Delete(j);
	free(xml);
	free(out);
	ws_free(&w);
	free(suite);
}
END_TEST

START_TEST(failing_case_is_never_a_pass)
{
	struct ws w;
	char *text = mc_xasprintf(fast_suite, "wrongly trusted", "true", "spiffe://cluster.local/ns/foo/sa/httpbin");
	char *suite, *out = NULL, *xml, *h, *n;
	cJSON *j, *cases, *c;
	int rc, failed = 0;

	ws_init(&w);
	suite = t_write(w.tmp, "fast.json", text);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d (expected 1), output:\n%s", rc, out);
	ck_assert_msg(xmllint_ok(w.junit), "junit.xml is not well-formed");
	xml = t_read(w.junit);
	n = count_of(xml, "<failure ");
	ck_assert_msg(strcmp(n, "2") == 0, "expected 2 failures, got %s:\n%s", n, xml);
	free(n);
	ck_assert_ptr_nonnull(strstr(xml, "b &lt;wrong&gt; &amp; identity"));
	j = read_json(w.json);
	cases = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0), "cases");
	cJSON_ArrayForEach(c, cases) {
		const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
		const char *status = cJSON_GetObjectItem(c, "status")->valuestring;

		if (strncmp(name, "rogue", 5) == 0 || strncmp(name, "b <wrong>", 9) == 0) {
			ck_assert_msg(strcmp(status, "fail") == 0, "%s: %s", name, status);
			failed++;
		} else {
			ck_assert_msg(strcmp(status, "pass") == 0, "%s: %s (%s)", name, status,
				      cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason")));
		}
	}
	ck_assert_int_eq(failed, 2);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 1);
	h = t_read(w.html);
	ck_assert_ptr_null(strstr(h, "b <wrong>"));
	ck_assert_ptr_nonnull(strstr(h, "b &lt;wrong&gt; &amp; identity"));
	cJSON_Delete(j);
	free(h);
	free(xml);
	free(out);
	ws_free(&w);
	free(text);
	free(suite);
}
END_TEST

START_TEST(case_selection)
{
	struct ws w;
	char *text = mc_xasprintf(fast_suite, "rejected", "false", "spiffe://cluster.local/ns/foo/sa/sleep");
	char *suite, *out = NULL;
	cJSON *j;
	int rc;

	ws_init(&w);
	suite = t_write(w.tmp, "fast.json", text);
	char *args[] = {"run", "--suite", suite, "--out", w.out_dir, "--case", "^fast/(rogue|shared)", NULL};
	char *list[] = {"run", "--suite", suite, "--list", NULL};

	rc = mc_run(w.runs, args, &out);
	ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
	j = read_json(w.json);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "total")->valueint, 2);
	cJSON_Delete(j);
	free(out);
	rc = mc_run(w.runs, list, &out);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "fast/rogue rejected\tchain"));
	free(out);
	ws_free(&w);
	free(text);
	free(suite);
}
END_TEST

/* Each malformed suite: exit 2, a message naming file and position, reports saying why. */
START_TEST(malformed_suites_exit_2)
{
	static const struct {
		const char *text;
		const char *message;
	} bad[] = {
		{"{\n \"name\": \"x\",\n \"cases\": [ { \"name\": \"a\",, } ]\n}\n", "bad.json:3:"},
		{"{\"name\": \"x\", \"cases\": [{\"check\": \"chain\"}]}", "cases[0]: missing required field \"name\""},
		{"{\"name\": \"x\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": 7}}]}",
		 "input.server: expected a string, got a number"},
		{"{\"name\": \"x\", \"servers\": [{\"name\": \"s\"}], \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": \"s\"}}]}",
		 "servers[0]: missing required field \"cluster\""},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ws w;
		char *suite, *out = NULL, *xml;
		int rc;

		ws_init(&w);
		suite = t_write(w.tmp, "bad.json", bad[i].text);
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
		ck_assert_msg(rc == 2, "case %zu: exit %d, output:\n%s", i, rc, out);
		ck_assert_msg(strstr(out, bad[i].message) != NULL, "case %zu: message missing \"%s\" in:\n%s", i,
			      bad[i].message, out);
		ck_assert_msg(strstr(out, "bad.json") != NULL, "case %zu: file not named:\n%s", i, out);
		/* JUnit is written even so, with an error saying why. */
		ck_assert_msg(xmllint_ok(w.junit), "case %zu: junit not well-formed", i);
		xml = t_read(w.junit);
		ck_assert_msg(strstr(xml, "<error") != NULL, "case %zu: no error in junit:\n%s", i, xml);
		ck_assert_int_eq(count_entries(w.runs), 0);
		free(xml);
		free(out);
		ws_free(&w);
		free(suite);
	}
}
END_TEST

START_TEST(usage_errors_exit_2)
{
	char *tmp = t_tmpdir();
	char *a1[] = {"run", "--bogus", NULL};
	char *a2[] = {"run", "--case", "(", NULL};
	char *a3[] = {"nonsense", NULL};
	char *a4[] = {"run", "--target", "mars", NULL};
	char *a5[] = {"run", "--suite", "/nonexistent/s.json", "--out", tmp, NULL};
	char *a6[] = {"run", "--help", NULL};
	char *out = NULL;

	ck_assert_int_eq(mc_run(tmp, a1, &out), 2);
	ck_assert_ptr_nonnull(strstr(out, "--bogus"));
	free(out);
	ck_assert_int_eq(mc_run(tmp, a2, &out), 2);
	ck_assert_ptr_nonnull(strstr(out, "--case"));
	free(out);
	ck_assert_int_eq(mc_run(tmp, a3, &out), 2);
	free(out);
	ck_assert_int_eq(mc_run(tmp, a4, &out), 2);
	ck_assert_ptr_nonnull(strstr(out, "mars"));
	free(out);
	ck_assert_int_eq(mc_run(tmp, a5, &out), 2);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent/s.json"));
	free(out);
	ck_assert_int_eq(mc_run(tmp, a6, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "--suite"));
	free(out);
	mc_rm_rf(tmp);
	free(tmp);
}
END_TEST

/* SIGTERM in the middle of a run: processes stopped, run directory removed, reports written. */
START_TEST(interrupted_run_leaves_nothing)
{
	struct ws w;
	char *text = mc_xasprintf(fast_suite, "rejected", "false", "spiffe://cluster.local/ns/foo/sa/sleep");
	char *suite, *log;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0;

	ws_init(&w);
	suite = t_write(w.tmp, "fast.json", text);
	log = mc_xasprintf("%s/log", w.tmp);
	char *argv[] = {(char *)bin, "run", "--suite", suite, "--out", w.out_dir, NULL};

	setenv("TMPDIR", w.runs, 1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	unsetenv("TMPDIR");
	/* Wait until the target is being set up (the run directory exists), then stop it. */
	for (int i = 0; i < 500 && count_entries(w.runs) == 0; i++)
		usleep(2000);
	usleep(100000);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "meshcheck died of a signal");
	ck_assert_msg(WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 0,
		      "exit %d", WEXITSTATUS(status));
	ck_assert_msg(count_entries(w.runs) == 0, "run directory left behind");
	if (WEXITSTATUS(status) == 2)
		ck_assert(xmllint_ok(w.junit));
	ws_free(&w);
	free(text);
	free(suite);
	free(log);
}
END_TEST

/* `certs verify --connect` reads the chain from an nginx that demands a client certificate we do not send. */
START_TEST(certs_verify_connect_to_nginx_without_client_cert)
{
	char *tmp = t_tmpdir();
	char *pki = mc_xasprintf("%s/pki", tmp);
	char *wl = mc_xasprintf("%s/wl", tmp);
	char *ca = mc_xasprintf("%s/c1", pki);
	char *root = mc_xasprintf("%s/root-cert.pem", pki);
	char *chain = mc_xasprintf("%s/cert-chain.pem", wl);
	char *key = mc_xasprintf("%s/key.pem", wl);
	char *ngdir = mc_xasprintf("%s/nginx", tmp);
	char *a_init[] = {"certs", "init", "--out", pki, "--cluster", "c1", "--key", "ec256", NULL};
	char *a_issue[] = {"certs", "issue", "--ca", ca, "--spiffe", "spiffe://cluster.local/ns/foo/sa/httpbin",
			   "--out", wl, NULL};
	struct mc_tls_server srv = {.name = "httpbin", .addr = "127.0.0.1", .cert_chain = chain, .key = key,
				    .client_ca = root};
	struct mc_nginx *ng = NULL;
	char err[MC_ERRLEN], hostport[64], *out = NULL;
	int rc = -1;

	ck_assert_int_eq(mc_run(tmp, a_init, NULL), 0);
	ck_assert_int_eq(mc_run(tmp, a_issue, NULL), 0);
	/* Ports from a range the kernel does not hand out as ephemeral; retry on a clash. */
	for (int i = 0; i < 20 && rc != 0; i++) {
		srv.port = 20000 + (int)((getpid() * 7 + i * 131) % 10000);
		rc = mc_nginx_start(ngdir, &srv, 1, 5000, &ng, err, sizeof(err));
	}
	ck_assert_msg(rc == 0, "nginx: %s", err);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", srv.port);
	{
		char *a_verify[] = {"certs", "verify", "--root", root, "--connect", hostport,
				    "--expect-spiffe", "spiffe://cluster.local/ns/foo/sa/*", NULL};
		char *a_json[] = {"certs", "verify", "--root", root, "--connect", hostport, "--json", NULL};
		cJSON *j;

		rc = mc_run(tmp, a_verify, &out);
		ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
		ck_assert_ptr_nonnull(strstr(out, "3 certificate"));
		ck_assert_ptr_nonnull(strstr(out, "spiffe://cluster.local/ns/foo/sa/httpbin"));
		free(out);
		rc = mc_run(tmp, a_json, &out);
		ck_assert_int_eq(rc, 0);
		j = cJSON_Parse(out);
		ck_assert_msg(j != NULL, "not JSON: %s", out);
		cJSON_Delete(j);
		free(out);
	}
	mc_nginx_stop(ng);
	mc_rm_rf(tmp);
	free(tmp);
	free(pki);
	free(wl);
	free(ca);
	free(root);
	free(chain);
	free(key);
	free(ngdir);
}
END_TEST


/* Finds a case by name in a report.json and returns its status and reason. */
static const char *
case_status(cJSON *j, const char *name, const char **reason)
{
	cJSON *suite, *c;

	cJSON_ArrayForEach(suite, cJSON_GetObjectItem(j, "suites"))
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(suite, "cases"))
			if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0) {
				if (reason != NULL)
					*reason = cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason"));
				return cJSON_GetObjectItem(c, "status")->valuestring;
			}
	ck_abort_msg("no case %s in the report", name);
	return NULL;
}

/* The wire suite passes as root: TLS flows clean, the plaintext negative control caught. */
START_TEST(wire_suite_passes)
{
	struct ws w;
	char *suite = mc_xasprintf("%s/suites/wire.json", MC_SOURCE_ROOT);
	char *out = NULL, *pcap;
	const char *reason = NULL;
	cJSON *j;
	int rc;

	if (geteuid() != 0) {
		printf("SKIP: wire_suite_passes needs root to capture\n");
		free(suite);
		return;
	}
	ws_init(&w);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
	j = read_json(w.json);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "passed")->valueint, 3);
	ck_assert_str_eq(case_status(j, "negative control: plaintext workload leaks the canary", &reason), "pass");
	ck_assert_msg(reason != NULL && strstr(reason, "negative control failed as it must") != NULL, "%s", reason);
	/* The capture is kept as evidence and is a real pcap. */
	pcap = mc_xasprintf("%s/evidence/wire/mTLS-to-httpbin-carries-no-cleartext/capture.pcap", w.out_dir);
	ck_assert_msg(access(pcap, R_OK) == 0, "no capture evidence at %s", pcap);
	cJSON_Delete(j);
	free(pcap);
	free(out);
	ws_free(&w);
	free(suite);
}
END_TEST

/* The wire check must fail on a real plaintext flow, and a negative control that passes must fail the suite. */
START_TEST(wire_check_flags_plaintext)
{
	static const char *const text =
		"{\"name\": \"leak\", \"mesh\": {\"key\": \"ec256\"},\n"
		" \"servers\": [{\"name\": \"tls\", \"cluster\": \"c1\", \"namespace\": \"a\", \"service_account\": \"b\"},\n"
		"  {\"name\": \"plain\", \"cluster\": \"c2\", \"namespace\": \"a\", \"service_account\": \"c\", \"plaintext\": true}],\n"
		" \"cases\": [\n"
		"  {\"name\": \"plaintext must be caught\", \"check\": \"wire\", \"input\": {\"server\": \"plain\", \"requests\": 2}},\n"
		"  {\"name\": \"bogus control\", \"check\": \"wire\", \"expect_failure\": true, \"input\": {\"server\": \"tls\", \"requests\": 2}}\n"
		" ]}\n";
	struct ws w;
	char *suite, *out = NULL;
	const char *reason = NULL;
	cJSON *j;
	int rc;

	if (geteuid() != 0) {
		printf("SKIP: wire_check_flags_plaintext needs root to capture\n");
		return;
	}
	ws_init(&w);
	suite = t_write(w.tmp, "leak.json", text);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d (expected 1), output:\n%s", rc, out);
	j = read_json(w.json);
	ck_assert_str_eq(case_status(j, "plaintext must be caught", &reason), "fail");
	ck_assert_msg(reason != NULL && (strstr(reason, "http1") != NULL || strstr(reason, "canary") != NULL),
		      "reason does not name the leak: %s", reason);
	ck_assert_str_eq(case_status(j, "bogus control", &reason), "fail");
	ck_assert_msg(reason != NULL && strstr(reason, "negative control passed") != NULL, "%s", reason);
	cJSON_Delete(j);
	free(out);
	ws_free(&w);
	free(suite);
}
END_TEST

/* The traffic suite passes: probes, the policy matrix, the 50/50 split, the load; both negative controls caught. */
START_TEST(traffic_suite_passes)
{
	struct ws w;
	char *suite = mc_xasprintf("%s/suites/traffic.json", MC_SOURCE_ROOT);
	char *out = NULL, *ev;
	const char *reason = NULL;
	cJSON *j, *sj, *c;
	int rc, measured = 0;

	ws_init(&w);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
	j = read_json(w.json);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "passed")->valueint, 8);
	ck_assert_str_eq(case_status(j, "negative control: helloworld pinned to v1 is not a 50/50 split", &reason),
			 "pass");
	ck_assert_msg(reason != NULL && strstr(reason, "negative control failed as it must") != NULL &&
			      strstr(reason, "p = ") != NULL,
		      "%s", reason);
	ck_assert_str_eq(case_status(j, "negative control: a policy row expecting the wrong code", &reason), "pass");
	ck_assert_msg(reason != NULL && strstr(reason, "no route claimed open: expected 200, saw 404") != NULL, "%s",
		      reason);
	/* The split case reports its p-value and shares; the load case its percentiles. */
	cJSON_ArrayForEach(sj, cJSON_GetObjectItem(j, "suites"))
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(sj, "cases")) {
			cJSON *m;

			cJSON_ArrayForEach(m, cJSON_GetObjectItem(c, "measurements")) {
				const char *n = cJSON_GetObjectItem(m, "name")->valuestring;

				measured += strcmp(n, "p_value") == 0 || strcmp(n, "share v1") == 0 || strcmp(n, "p99") == 0;
			}
		}
	ck_assert_msg(measured >= 5, "measurements missing (%d found)", measured);
	ev = mc_xasprintf("%s/evidence/traffic/httpbin-authorization-policy-matrix/matrix.json", w.out_dir);
	ck_assert_msg(access(ev, R_OK) == 0, "no matrix evidence at %s", ev);
	free(ev);
	ev = mc_xasprintf("%s/evidence/traffic/helloworld-holds-200-req-s-for-2-s-without-errors/load.json", w.out_dir);
	{
		cJSON *lj = read_json(ev);

		ck_assert_msg(cJSON_GetObjectItem(cJSON_GetObjectItem(lj, "latency_us"), "buckets") != NULL,
			      "no histogram in the load evidence");
		cJSON_Delete(lj);
	}
	ck_assert_int_eq(count_entries(w.runs), 0);
	cJSON_Delete(j);
	free(ev);
	free(out);
	ws_free(&w);
	free(suite);
}
END_TEST

static const char *const traffic_servers =
	"\"mesh\": {\"key\": \"ec256\"},\n"
	" \"servers\": [\n"
	"  {\"name\": \"v1\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"hw\", \"body\": \"Hello version: v1\"},\n"
	"  {\"name\": \"v2\", \"cluster\": \"c2\", \"namespace\": \"s\", \"service_account\": \"hw\", \"body\": \"Hello version: v2\"},\n"
	"  {\"name\": \"even\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"hw\",\n"
	"   \"backends\": [{\"server\": \"v1\", \"weight\": 1}, {\"server\": \"v2\", \"weight\": 1}]},\n"
	"  {\"name\": \"seventy\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"hw\",\n"
	"   \"backends\": [{\"server\": \"v1\", \"weight\": 7}, {\"server\": \"v2\", \"weight\": 3}]},\n"
	"  {\"name\": \"pinned\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"hw\",\n"
	"   \"backends\": [{\"server\": \"v1\", \"weight\": 1}, {\"server\": \"v2\", \"weight\": 0}]},\n"
	"  {\"name\": \"gw\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"gw\",\n"
	"   \"routes\": [{\"path\": \"/deny\", \"status\": 403, \"body\": \"RBAC: access denied\"}, {\"path\": \"/ok\"}]}\n"
	" ],\n";

/*
 * The distribution check gives the right verdict every time at the sample
 * size it computes: 50/50 and 70/30 backends pass against their own shares,
 * 70/30 and 100/0 fail against 50/50. Five rounds of all four.
 */
START_TEST(distribution_verdicts_hold_every_round)
{
	static const char *const cases =
		" \"cases\": [\n"
		"  {\"name\": \"50/50 is 50/50\", \"check\": \"distribution\", \"input\": {\"server\": \"even\", \"extract\": \"version: (v[0-9])\"},\n"
		"   \"expect\": {\"shares\": {\"v1\": 0.5, \"v2\": 0.5}}},\n"
		"  {\"name\": \"70/30 is 70/30\", \"check\": \"distribution\", \"input\": {\"server\": \"seventy\", \"extract\": \"version: (v[0-9])\"},\n"
		"   \"expect\": {\"shares\": {\"v1\": 0.7, \"v2\": 0.3}}},\n"
		"  {\"name\": \"70/30 is not 50/50\", \"check\": \"distribution\", \"input\": {\"server\": \"seventy\", \"extract\": \"version: (v[0-9])\"},\n"
		"   \"expect\": {\"shares\": {\"v1\": 0.5, \"v2\": 0.5}}},\n"
		"  {\"name\": \"100/0 is not 50/50\", \"check\": \"distribution\", \"input\": {\"server\": \"pinned\", \"extract\": \"version: (v[0-9])\"},\n"
		"   \"expect\": {\"shares\": {\"v1\": 0.5, \"v2\": 0.5}}}\n"
		" ]}\n";
	struct ws w;
	char *text = mc_xasprintf("{\"name\": \"split\", %s%s", traffic_servers, cases), *suite;

	ws_init(&w);
	suite = t_write(w.tmp, "split.json", text);
	for (int round = 0; round < 5; round++) {
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, "-q", NULL};
		char *out = NULL;
		cJSON *j;
		int rc = mc_run(w.runs, args, &out);

		ck_assert_msg(rc == 1, "round %d: exit %d, output:\n%s", round, rc, out);
		j = read_json(w.json);
		ck_assert_msg(strcmp(case_status(j, "50/50 is 50/50", NULL), "pass") == 0, "round %d: 50/50 failed", round);
		ck_assert_msg(strcmp(case_status(j, "70/30 is 70/30", NULL), "pass") == 0, "round %d: 70/30 failed", round);
		ck_assert_msg(strcmp(case_status(j, "70/30 is not 50/50", NULL), "fail") == 0, "round %d: 70/30 passed as 50/50",
			      round);
		ck_assert_msg(strcmp(case_status(j, "100/0 is not 50/50", NULL), "fail") == 0, "round %d: 100/0 passed", round);
		cJSON_Delete(j);
		free(out);
	}
	ws_free(&w);
	free(suite);
	free(text);
}
END_TEST

/* Each HTTP check kind fails when its expectation does not hold, and says why. */
START_TEST(traffic_checks_fail_when_they_must)
{
	static const char *const cases =
		" \"cases\": [\n"
		"  {\"name\": \"wrong status\", \"check\": \"reach\", \"input\": {\"server\": \"gw\", \"path\": \"/deny\"},\n"
		"   \"expect\": {\"status\": 200}},\n"
		"  {\"name\": \"wrong body\", \"check\": \"reach\", \"input\": {\"server\": \"gw\", \"path\": \"/deny\"},\n"
		"   \"expect\": {\"status\": 403, \"body\": \"^allowed\"}},\n"
		"  {\"name\": \"refused is not 200\", \"check\": \"reach\", \"input\": {\"server\": \"v1\", \"http\": \"h2c\"},\n"
		"   \"expect\": {\"status\": \"refused\"}},\n"
		"  {\"name\": \"matrix row wrong\", \"check\": \"policy\", \"input\": {\"defaults\": {\"server\": \"gw\"}, \"rows\": [\n"
		"    {\"name\": \"deny\", \"path\": \"/deny\", \"expect\": 403}, {\"name\": \"open\", \"path\": \"/ok\", \"expect\": 404}]}},\n"
		"  {\"name\": \"impossible latency\", \"check\": \"load\", \"input\": {\"server\": \"v1\", \"requests\": 50, \"connections\": 2},\n"
		"   \"expect\": {\"p50_ms\": 0.0001}},\n"
		"  {\"name\": \"errors counted\", \"check\": \"load\", \"input\": {\"server\": \"gw\", \"path\": \"/deny\", \"requests\": 20},\n"
		"   \"expect\": {\"max_error_rate\": 0}},\n"
		"  {\"name\": \"control that passes\", \"check\": \"reach\", \"expect_failure\": true, \"input\": {\"server\": \"gw\", \"path\": \"/ok\"},\n"
		"   \"expect\": {\"status\": 200}}\n"
		" ]}\n";
	static const struct {
		const char *name;
		const char *reason;
	} want[] = {
		{"wrong status", "status 403, expected 200"},
		{"wrong body", "body does not match"},
		{"refused is not 200", "expected refused"},
		{"matrix row wrong", "open: expected 404, saw 200"},
		{"impossible latency", "p50 latency"},
		{"errors counted", "error rate 100.000%"},
		{"control that passes", "negative control passed"},
	};
	struct ws w;
	char *text = mc_xasprintf("{\"name\": \"fails\", %s%s", traffic_servers, cases), *suite, *out = NULL;
	cJSON *j;
	int rc;

	ws_init(&w);
	suite = t_write(w.tmp, "fails.json", text);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d, output:\n%s", rc, out);
	j = read_json(w.json);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *reason = NULL;

		ck_assert_msg(strcmp(case_status(j, want[i].name, &reason), "fail") == 0, "%s did not fail: %s",
			      want[i].name, reason != NULL ? reason : "(no reason)");
		ck_assert_msg(reason != NULL && strstr(reason, want[i].reason) != NULL, "%s: reason \"%s\" lacks \"%s\"",
			      want[i].name, reason, want[i].reason);
	}
	cJSON_Delete(j);
	free(out);
	ws_free(&w);
	free(suite);
	free(text);
}
END_TEST

/* Malformed traffic cases and servers are refused before anything starts, naming file and field. */
START_TEST(malformed_traffic_suites_exit_2)
{
	static const struct {
		const char *cases;
		const char *message;
	} bad[] = {
		{"[{\"name\": \"a\", \"check\": \"policy\", \"input\": {\"defaults\": {\"server\": \"gw\"}, \"rows\": [{\"path\": \"/\"}]}}]",
		 "input.rows[0].expect: required"},
		{"[{\"name\": \"a\", \"check\": \"policy\", \"input\": {\"rows\": [{\"server\": \"gw\", \"expect\": 999}]}}]",
		 "input.rows[0].expect: expected a status code"},
		{"[{\"name\": \"a\", \"check\": \"distribution\", \"input\": {\"server\": \"even\", \"extract\": \"(v\"},"
		 " \"expect\": {\"shares\": {\"v1\": 1}}}]",
		 "input.extract: bad regular expression"},
		{"[{\"name\": \"a\", \"check\": \"distribution\", \"input\": {\"server\": \"even\", \"extract\": \"(v)\"},"
		 " \"expect\": {\"shares\": {\"v1\": 0.5, \"v2\": 0.6}}}]",
		 "the shares add up to 1.1"},
		{"[{\"name\": \"a\", \"check\": \"reach\", \"input\": {\"server\": \"gw\", \"http\": \"3\"}, \"expect\": {\"status\": 200}}]",
		 "input.http: expected \"1.1\", \"2\" or \"h2c\""},
		{"[{\"name\": \"a\", \"check\": \"load\", \"input\": {\"server\": \"gw\", \"rate\": -5}, \"expect\": {\"p99_ms\": 5}}]",
		 "input.rate: expected an integer from 0"},
		{"[{\"name\": \"a\", \"check\": \"reach\", \"input\": {\"server\": \"gw\"}, \"expect\": {\"body\": \"x\"}}]",
		 "expect.status: required"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ws w;
		char *text = mc_xasprintf("{\"name\": \"bad\", %s \"cases\": %s}\n", traffic_servers, bad[i].cases);
		char *suite, *out = NULL;
		int rc;

		ws_init(&w);
		suite = t_write(w.tmp, "bad-traffic.json", text);
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		rc = mc_run(w.runs, args, &out);
		ck_assert_msg(rc == 2, "case %zu: exit %d, output:\n%s", i, rc, out);
		ck_assert_msg(strstr(out, bad[i].message) != NULL && strstr(out, "bad-traffic.json") != NULL,
			      "case %zu: message missing \"%s\" in:\n%s", i, bad[i].message, out);
		ck_assert_int_eq(count_entries(w.runs), 0);
		free(out);
		ws_free(&w);
		free(suite);
		free(text);
	}
	/* Server definitions: a backend defined after its balancer, a route path that is not a path. */
	{
		static const char *const srv[] = {
			"{\"name\": \"b\", \"servers\": [{\"name\": \"lb\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"x\","
			" \"backends\": [{\"server\": \"late\"}]}, {\"name\": \"late\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"y\"}],"
			" \"cases\": [{\"name\": \"a\", \"check\": \"reach\", \"input\": {\"server\": \"lb\"}, \"expect\": {\"status\": 200}}]}",
			"{\"name\": \"b\", \"servers\": [{\"name\": \"gw\", \"cluster\": \"c1\", \"namespace\": \"s\", \"service_account\": \"x\","
			" \"routes\": [{\"path\": \"no-slash\"}]}],"
			" \"cases\": [{\"name\": \"a\", \"check\": \"reach\", \"input\": {\"server\": \"gw\"}, \"expect\": {\"status\": 200}}]}",
		};
		static const char *const msg[] = {"servers[0].backends[0].server: \"late\" is not a server defined before",
						  "servers[0].routes[0].path: \"no-slash\" must start with /"};

		for (size_t i = 0; i < 2; i++) {
			struct ws w;
			char *suite, *out = NULL;
			int rc;

			ws_init(&w);
			suite = t_write(w.tmp, "bad-server.json", srv[i]);
			char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

			rc = mc_run(w.runs, args, &out);
			ck_assert_msg(rc == 2 && strstr(out, msg[i]) != NULL, "server case %zu: exit %d:\n%s", i, rc, out);
			free(out);
			ws_free(&w);
			free(suite);
		}
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("e2e");
	TCase *tc = tcase_create("local");

	bin = getenv("MESHCHECK");
	if (bin == NULL || access(bin, X_OK) != 0) {
		printf("SKIP: MESHCHECK does not name the meshcheck binary\n");
		return 77;
	}
	if (mc_nginx_binary() == NULL) {
		printf("SKIP: nginx not found (install nginx-light)\n");
		return 77;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, trust_suite_passes);
	tcase_add_test(tc, failing_case_is_never_a_pass);
	tcase_add_test(tc, case_selection);
	tcase_add_test(tc, malformed_suites_exit_2);
	tcase_add_test(tc, usage_errors_exit_2);
	tcase_add_test(tc, interrupted_run_leaves_nothing);
	tcase_add_test(tc, certs_verify_connect_to_nginx_without_client_cert);
	tcase_add_test(tc, wire_suite_passes);
	tcase_add_test(tc, wire_check_flags_plaintext);
	tcase_add_test(tc, traffic_suite_passes);
	tcase_add_test(tc, distribution_verdicts_hold_every_round);
	tcase_add_test(tc, traffic_checks_fail_when_they_must);
	tcase_add_test(tc, malformed_traffic_suites_exit_2);
	suite_add_tcase(s, tc);
	return t_main(s);
}
