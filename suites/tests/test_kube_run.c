/*
 * Whole `meshcheck run --target kube` runs against the fake kubectl and
 * istioctl (harness/tests/kube), which replay recorded cluster state and
 * log every command: run-c1 and run-c2 are two clusters as they stand once
 * the default topology is deployed under the run id t-kube-1 (see
 * harness/tests/kube/derive-run-state). The tests check the commands
 * issued (contexts, namespaces, labels, cleanup), the verdicts, and the
 * failure paths. No Kubernetes API server can run here, so this is the
 * kube target's end-to-end test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "e2eutil.h"
#include "kubetest.h"
#include "nginx.h"

static const char *bin;

struct kws {
	struct ws w;
	char *log;                 /* the fake tools' command log */
	char *suite;
};

static void
kws_init(struct kws *k)
{
	ws_init(&k->w);
	k->log = mc_xasprintf("%s/kube.log", k->w.tmp);
	k->suite = NULL;
	kt_fake_tools(k->log);
	setenv("FAKE_KUBE_STATE", k->w.tmp, 1);
	unsetenv("FAKE_KUBE_DIR");
	unsetenv("FAKE_KUBE_SLOW_EXEC");
}

static void
kws_free(struct kws *k)
{
	ws_free(&k->w);
	free(k->log);
	free(k->suite);
}

/* Runs meshcheck with TMPDIR in the workspace; argv without the binary. */
static int
run_mc(struct kws *k, char *const args[], char **out)
{
	char *argv[48];
	int n = 0, rc;

	argv[n++] = (char *)bin;
	for (int i = 0; args[i] != NULL && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	setenv("TMPDIR", k->w.runs, 1);
	rc = t_run(argv, out);
	unsetenv("TMPDIR");
	return rc;
}

static char *
logged(const struct kws *k)
{
	char *data = NULL;

	if (mc_file_read(k->log, 8 << 20, &data, NULL, NULL, 0) != 0)
		return mc_xstrdup("");
	return data;
}

/* Lines of text holding every one of the needles (NULL-terminated). */
static int
lines_with(const char *text, const char *const *needles)
{
	int n = 0;

	for (const char *p = text; *p != '\0';) {
		const char *e = strchr(p, '\n');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		char *line = mc_xasprintf("%.*s", (int)len, p);
		bool all = true;

		for (size_t i = 0; needles[i] != NULL && all; i++)
			all = strstr(line, needles[i]) != NULL;
		n += all;
		free(line);
		p += len + (e != NULL);
	}
	return n;
}

static const char *
case_status(cJSON *report, const char *name, const char **reason)
{
	const cJSON *s, *c;

	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(report, "suites"))
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(s, "cases")) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");

			if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
				const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "reason");

				if (reason != NULL)
					*reason = cJSON_IsString(r) ? r->valuestring : "";
				return cJSON_GetObjectItemCaseSensitive(c, "status")->valuestring;
			}
		}
	ck_abort_msg("case \"%s\" not in the report", name);
	return NULL;
}

/* The suite the whole-run tests use: one case of each kind the kube target runs. */
static const char *const kube_suite =
	"{\"name\": \"kube\", \"mesh\": {\"topology\": \"default\"},\n"
	" \"cases\": [\n"
	"  {\"name\": \"sleep in c1 reaches helloworld\", \"check\": \"reach\",\n"
	"   \"input\": {\"from\": \"sleep@c1\", \"url\": \"http://helloworld.sample:5000/hello\"},\n"
	"   \"expect\": {\"status\": 200, \"body\": \"Hello version: v[12]\"}},\n"
	"  {\"name\": \"sleep in c2 sees both versions\", \"check\": \"distribution\",\n"
	"   \"input\": {\"from\": \"sleep@c2\", \"url\": \"http://helloworld.sample:5000/hello\",\n"
	"              \"extract\": \"Hello version: (v[0-9]+)\", \"requests\": 20},\n"
	"   \"expect\": {\"shares\": {\"v1\": 0.5, \"v2\": 0.5}, \"tolerance\": 0.3}},\n"
	"  {\"name\": \"a wrong status fails\", \"check\": \"reach\",\n"
	"   \"input\": {\"from\": \"sleep@c1\", \"url\": \"http://helloworld.sample:5000/hello\"},\n"
	"   \"expect\": {\"status\": 503}},\n"
	"  {\"name\": \"nip.io policy applied for the case\", \"check\": \"reach\",\n"
	"   \"mesh_config\": [\"authorizationpolicy-nip.yaml\"],\n"
	"   \"input\": {\"from\": \"sleep@c1\", \"url\": \"http://helloworld.sample:5000/hello\"},\n"
	"   \"expect\": {\"status\": 200}},\n"
	"  {\"name\": \"ingress without an address\", \"check\": \"reach\",\n"
	"   \"input\": {\"server\": \"ingress@c1:http\", \"path\": \"/\"},\n"
	"   \"expect\": {\"status\": 200}},\n"
	"  {\"name\": \"sleep to echoserver is TLS on the node\", \"check\": \"wire\",\n"
	"   \"input\": {\"from\": \"sleep@c1\", \"url\": \"http://echoserver.default:8080/\", \"requests\": 3,\n"
	"              \"capture\": [\"echoserver@c1\"]}},\n"
	"  {\"name\": \"echoserver's chain is read from its sidecar\", \"check\": \"chain\",\n"
	"   \"input\": {\"server\": \"echoserver@c1\"}, \"expect\": {\"verify\": true}},\n"
	"  {\"name\": \"in-mesh load is local only\", \"check\": \"load\",\n"
	"   \"input\": {\"from\": \"sleep@c1\", \"url\": \"http://helloworld.sample:5000/hello\", \"requests\": 10},\n"
	"   \"expect\": {\"max_error_rate\": 0}}\n"
	" ]}\n";

static char *
write_suite(struct kws *k, const char *text)
{
	char *p = mc_xasprintf("%s/kube-suite.json", k->w.tmp);

	ck_assert_int_eq(mc_file_write(p, text, strlen(text), 0644, NULL, 0), 0);
	return p;
}

/* --dry-run prints each cluster's objects and calls no kubectl at all. */
START_TEST(dry_run_touches_no_cluster)
{
	struct kws k;
	char *out = NULL, *log, *c1, *c2;
	char *args[] = {"run", "--target", "kube", "--context", "run-c1", "--context", "run-c2", "--dry-run",
			"--suite", MC_SOURCE_ROOT "/suites/multicluster.json", "--out", NULL, NULL};
	int rc;

	kws_init(&k);
	args[11] = k.w.out_dir;
	rc = run_mc(&k, args, &out);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	log = logged(&k);
	ck_assert_msg(log[0] == '\0', "dry run called the tools:\n%s", log);
	c1 = strstr(out, "context run-c1");
	c2 = strstr(out, "context run-c2");
	ck_assert_msg(c1 != NULL && c2 != NULL && c1 < c2, "no per-context blocks:\n%s", out);
	/* helloworld v1 goes to the first cluster, v2 to the second; sleep to both. */
	ck_assert_ptr_nonnull(strstr(c1, "name: helloworld-v1"));
	ck_assert_msg(strstr(c1, "name: helloworld-v1") < c2, "v1 not in c1's block");
	ck_assert_ptr_null(strstr(c2, "name: helloworld-v1"));
	ck_assert_ptr_nonnull(strstr(c2, "name: helloworld-v2"));
	ck_assert_msg(strstr(c1, "name: helloworld-v2") == NULL || strstr(c1, "name: helloworld-v2") > c2,
		      "v2 in c1's block");
	ck_assert_ptr_nonnull(strstr(c2, "name: productpage-v1"));
	/* The MUTUAL listener (c2 only): its Gateway and a credential Secret made for the run. */
	ck_assert_ptr_nonnull(strstr(c2, "name: httpbin-mutual"));
	ck_assert_msg(strstr(c1, "name: httpbin-mutual") == NULL || strstr(c1, "name: httpbin-mutual") > c2,
		      "the MUTUAL gateway in c1");
	ck_assert_ptr_nonnull(strstr(c2, "Secret istio-system/mc-httpbin-credential"));
	ck_assert_msg(strstr(out, "${MESHCHECK") == NULL, "a placeholder was left:\n%s", out);
	ck_assert_ptr_nonnull(strstr(out, "namespace: mc-sample"));
	ck_assert_ptr_nonnull(strstr(out, "meshcheck.io/run: \""));
	ck_assert_msg(access(k.w.json, F_OK) != 0, "a dry run wrote reports");
	free(log);
	free(out);
	kws_free(&k);
}
END_TEST

/* --revision swaps the injection label for the revision's. */
START_TEST(dry_run_with_revision)
{
	struct kws k;
	char *out = NULL;
	char *args[] = {"run", "--target", "kube", "--context", "run-c1", "--context", "run-c2", "--dry-run",
			"--revision", "1-24-2", "--namespace-prefix", "qa-", "--suite",
			MC_SOURCE_ROOT "/suites/multicluster.json", NULL};
	int rc;

	kws_init(&k);
	rc = run_mc(&k, args, &out);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	ck_assert_ptr_nonnull(strstr(out, "istio.io/rev: \"1-24-2\""));
	ck_assert_ptr_null(strstr(out, "    istio-injection: enabled"));
	ck_assert_ptr_nonnull(strstr(out, "namespace: qa-sample"));
	ck_assert_ptr_null(strstr(out, "namespace: mc-sample"));
	free(out);
	kws_free(&k);
}
END_TEST

/* A free TCP port on 127.0.0.1 (bound and released). */
static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/*
 * North-south: with --ingress, reach and load cases go from the harness to
 * that address with the traffic engine (here a real nginx on loopback
 * standing in for the ingress gateway: a route to "/" and 404 elsewhere).
 */
START_TEST(north_south_through_ingress)
{
	static const struct mc_route routes[] = {
		{.path = "/", .exact = true, .client_cert = -1, .body = "Hostname: echoserver-6b7d9f8c4-q2w8x\n"},
	};
	struct kws k;
	struct mc_tls_server srv = {.name = "ingress", .addr = "127.0.0.1", .plaintext = true, .routes = routes,
				    .n_routes = 1};
	struct mc_nginx *ng = NULL;
	char err[MC_ERRLEN], *dir, *ingress, *out = NULL, *log;
	const char *why = NULL;
	const char *exec_any[] = {" exec ", "-- curl", NULL};
	cJSON *j;
	int rc;

	if (mc_nginx_binary() == NULL)
		return; /* nginx missing: the other tests still cover the kube target */
	kws_init(&k);
	dir = mc_xasprintf("%s/ingress", k.w.tmp);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	srv.port = free_port();
	ck_assert_msg(mc_nginx_start(dir, &srv, 1, 5000, &ng, err, sizeof(err)) == 0, "%s", err);
	ingress = mc_xasprintf("c1=127.0.0.1:%d", srv.port);
	k.suite = write_suite(&k,
		"{\"name\": \"ns\", \"mesh\": {\"topology\": \"default\"}, \"cases\": [\n"
		" {\"name\": \"ingress routes to echoserver\", \"check\": \"reach\",\n"
		"  \"input\": {\"server\": \"ingress@c1:http\", \"path\": \"/\"},\n"
		"  \"expect\": {\"status\": 200, \"body\": \"Hostname: echoserver\"}},\n"
		" {\"name\": \"no route is 404\", \"check\": \"reach\",\n"
		"  \"input\": {\"server\": \"ingress@c1:http\", \"path\": \"/nothing\"},\n"
		"  \"expect\": {\"status\": 404}},\n"
		" {\"name\": \"load through the ingress\", \"check\": \"load\",\n"
		"  \"input\": {\"server\": \"ingress@c1:http\", \"path\": \"/\", \"rate\": 100, \"duration\": \"1s\"},\n"
		"  \"expect\": {\"max_error_rate\": 0}}]}\n");
	{
		char *args[] = {"run", "--target", "kube", "--context", "run-c1", "--context", "run-c2", "--run-id",
				"t-kube-1", "--ingress", ingress, "--suite", k.suite, "--out", k.w.out_dir, NULL};

		rc = run_mc(&k, args, &out);
	}
	mc_nginx_stop(ng);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	j = read_json(k.w.json);
	ck_assert_str_eq(case_status(j, "ingress routes to echoserver", &why), "pass");
	ck_assert_str_eq(case_status(j, "no route is 404", &why), "pass");
	ck_assert_str_eq(case_status(j, "load through the ingress", &why), "pass");
	log = logged(&k);
	ck_assert_msg(lines_with(log, exec_any) == 0, "north-south requests went through a pod:\n%s", log);
	cJSON_Delete(j);
	free(log);
	free(out);
	free(ingress);
	free(dir);
	kws_free(&k);
}
END_TEST

/* A whole run: deploy, requests from the sleep pods, a case's mesh config, cleanup by label. */
START_TEST(whole_run_through_kubectl)
{
	struct kws k;
	char *out = NULL, *log;
	const char *why = NULL;
	cJSON *j;
	int rc;

	kws_init(&k);
	k.suite = write_suite(&k, kube_suite);
	{
		char *args[] = {"run", "--target", "kube", "--context", "run-c1", "--context", "run-c2",
				"--run-id", "t-kube-1", "--rollout-timeout", "10", "--suite", k.suite,
				"--out", k.w.out_dir, NULL};

		rc = run_mc(&k, args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d (a wrong status and an ingress without address must fail):\n%s", rc, out);
	log = logged(&k);
	j = read_json(k.w.json);
	ck_assert_str_eq(case_status(j, "sleep in c1 reaches helloworld", &why), "pass");
	ck_assert_msg(strcmp(case_status(j, "sleep in c2 sees both versions", &why), "pass") == 0, "%s", why);
	ck_assert_str_eq(case_status(j, "a wrong status fails", &why), "fail");
	ck_assert_msg(strstr(why, "503") != NULL, "%s", why);
	ck_assert_str_eq(case_status(j, "nip.io policy applied for the case", &why), "pass");
	ck_assert_str_eq(case_status(j, "ingress without an address", &why), "error");
	ck_assert_msg(strstr(why, "--ingress") != NULL, "%s", why);
	ck_assert_str_eq(case_status(j, "in-mesh load is local only", &why), "skip");
	ck_assert_msg(strcmp(case_status(j, "sleep to echoserver is TLS on the node", &why), "pass") == 0, "%s", why);
	ck_assert_msg(strcmp(case_status(j, "echoserver's chain is read from its sidecar", &why), "pass") == 0, "%s", why);
	{
		/* The capture pod on echoserver's node, tcpdump filtered on its pod, the pod removed after. */
		const char *cap_apply[] = {"--context run-c1", " apply -f -", NULL};
		const char *tcpdump[] = {"--context run-c1", " exec ", "meshcheck-capture-", "tcpdump", "10.10.1.32", NULL};
		const char *cap_del[] = {"--context run-c1", " delete pod ", "meshcheck-capture-", NULL};
		const char *secret[] = {"istioctl --context run-c1 proxy-config secret", "echoserver-", NULL};

		(void)cap_apply;
		ck_assert_msg(lines_with(log, tcpdump) == 1, "no tcpdump on the node:\n%s", log);
		ck_assert_msg(lines_with(log, cap_del) >= 1, "the capture pod was not deleted:\n%s", log);
		ck_assert_msg(lines_with(log, secret) == 1, "the chain was not read with istioctl:\n%s", log);
	}

	/* Preflight read before anything was applied. */
	{
		const char *apply[] = {"--context run-c1", " apply -f -", NULL};
		const char *apply2[] = {"--context run-c2", " apply -f -", NULL};
		const char *exec1[] = {"--context run-c1", " exec ", "sleep-6eabb4fe29-f137f", "-c sleep", " curl", NULL};
		const char *exec2[] = {"--context run-c2", " exec ", "sleep-0334573f34-bf166", NULL};
		const char *del_ns[] = {"--context run-c1", "delete", "mc-sample", NULL};
		const char *del_ap[] = {" delete -f -", NULL};
		char *first_apply = strstr(log, " apply -f -"), *version = strstr(log, " version");

		ck_assert_msg(version != NULL && first_apply != NULL && version < first_apply,
			      "preflight did not come first:\n%s", log);
		/* Fixtures in each cluster (one apply), and the case's policy in each. */
		/* Fixtures, the case's policy and the capture pod. */
		ck_assert_msg(lines_with(log, apply) == 3, "applies in run-c1:\n%s", log);
		/* Fixtures, the case's policy, and the MUTUAL listener's credential Secret. */
		ck_assert_msg(lines_with(log, apply2) == 3, "applies in run-c2:\n%s", log);
		ck_assert_msg(lines_with(log, del_ap) == 2, "the case's mesh config was not removed:\n%s", log);
		ck_assert_msg(lines_with(log, exec1) >= 3, "requests from sleep in c1:\n%s", log);
		ck_assert_msg(lines_with(log, exec2) >= 1, "requests from sleep in c2:\n%s", log);
		ck_assert_msg(lines_with(log, del_ns) == 1, "no cleanup of the run's namespaces:\n%s", log);
	}
	cJSON_Delete(j);
	free(log);
	free(out);
	kws_free(&k);
}
END_TEST

/* A cluster whose Pod Security refuses the capture pod: the wire case is skipped with the reason. */
START_TEST(capture_not_permitted_skips)
{
	struct kws k;
	char *out = NULL;
	const char *why = NULL;
	cJSON *j;
	int rc;

	kws_init(&k);
	k.suite = write_suite(&k, kube_suite);
	{
		char *args[] = {"run", "--target", "kube", "--context", "run-psa", "--context", "run-c2", "--run-id",
				"t-kube-1", "--case", "TLS on the node", "--suite", k.suite, "--out", k.w.out_dir, NULL};

		rc = run_mc(&k, args, &out);
	}
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	j = read_json(k.w.json);
	ck_assert_str_eq(case_status(j, "sleep to echoserver is TLS on the node", &why), "skip");
	ck_assert_msg(strstr(why, "capture not permitted") != NULL && strstr(why, "PodSecurity") != NULL, "%s", why);
	cJSON_Delete(j);
	free(out);
	kws_free(&k);
}
END_TEST

/* A fixture that cannot pull its image: every case errors, naming the pod and the reason; cleanup runs. */
START_TEST(image_pull_failure_names_the_pod)
{
	struct kws k;
	char *out = NULL, *log;
	const char *why = NULL;
	const char *del[] = {"--context run-broken", "delete", NULL};
	cJSON *j;
	int rc;

	kws_init(&k);
	k.suite = write_suite(&k, kube_suite);
	{
		char *args[] = {"run", "--target", "kube", "--context", "run-broken", "--context", "run-c2", "--run-id",
				"t-kube-1", "--rollout-timeout", "1", "--case", "reaches helloworld", "--suite", k.suite,
				"--out", k.w.out_dir, NULL};

		rc = run_mc(&k, args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d:\n%s", rc, out);
	j = read_json(k.w.json);
	ck_assert_str_eq(case_status(j, "sleep in c1 reaches helloworld", &why), "error");
	ck_assert_msg(strstr(why, "helloworld-v1-5c8d7b4f9d-x7k2p") != NULL && strstr(why, "ImagePullBackOff") != NULL,
		      "%s", why);
	log = logged(&k);
	ck_assert_msg(lines_with(log, del) >= 1 , "no cleanup:\n%s", log);
	cJSON_Delete(j);
	free(log);
	free(out);
	kws_free(&k);
}
END_TEST

/* SIGTERM in the middle of a case: the run stops, and the cleanup still deletes the run's namespaces. */
START_TEST(interrupted_run_still_cleans_up)
{
	struct kws k;
	char *log = NULL;
	const char *exec1[] = {" exec ", "-c sleep", NULL};
	const char *del_ns[] = {"--context run-c2", "delete", "mc-sample", NULL};
	pid_t pid;
	int status = 0;

	kws_init(&k);
	k.suite = write_suite(&k, kube_suite);
	setenv("FAKE_KUBE_SLOW_EXEC", "2", 1);
	setenv("TMPDIR", k.w.runs, 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "run", "--target", "kube", "--context", "run-c1", "--context", "run-c2", "--run-id",
		      "t-kube-1", "--suite", k.suite, "--out", k.w.out_dir, (char *)NULL);
		_exit(127);
	}
	/* Wait for the first request to be under way, then interrupt. */
	for (int i = 0; i < 300; i++) {
		free(log);
		log = logged(&k);
		if (lines_with(log, exec1) > 0)
			break;
		usleep(50 * 1000);
	}
	ck_assert_msg(lines_with(log, exec1) > 0, "no request started:\n%s", log);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	unsetenv("FAKE_KUBE_SLOW_EXEC");
	unsetenv("TMPDIR");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status %d", status);
	free(log);
	log = logged(&k);
	ck_assert_msg(lines_with(log, del_ns) == 1, "no cleanup after SIGTERM:\n%s", log);
	ck_assert_msg(count_entries(k.w.runs) == 0, "a run directory was left");
	free(log);
	kws_free(&k);
}
END_TEST

/* A context that does not exist, an API server that does not answer, a cluster without istiod: preflight fails, exit 2, with the reason; nothing is changed. */
START_TEST(failed_preflight_creates_nothing)
{
	static const char *const cases[][2] = {
		{"nowhere", "context \"nowhere\" does not exist"},
		{"gke-unreachable", "Unable to connect to the server"},
		{"kind-noistio", "no istiod"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kws k;
		char *out = NULL, *log;
		int rc;

		kws_init(&k);
		{
			char *args[] = {"run", "--target", "kube", "--context", "run-c1", "--context", (char *)cases[i][0],
					"--suite", MC_SOURCE_ROOT "/suites/multicluster.json", "--out", k.w.out_dir, NULL};

			rc = run_mc(&k, args, &out);
		}
		ck_assert_msg(rc == 2, "%s: exit %d:\n%s", cases[i][0], rc, out);
		ck_assert_msg(strstr(out, cases[i][1]) != NULL && strstr(out, "nothing was created") != NULL, "%s:\n%s",
			      cases[i][0], out);
		log = logged(&k);
		ck_assert_msg(strstr(log, " apply ") == NULL && strstr(log, " delete ") == NULL &&
				      strstr(log, " label ") == NULL,
			      "%s: something was changed:\n%s", cases[i][0], log);
		free(log);
		free(out);
		kws_free(&k);
	}
}
END_TEST

/* Options that go with the kube target only, and kube without contexts, are usage errors. */
START_TEST(bad_options_exit_2)
{
	static const char *const cases[][8] = {
		{"run", "--context", "c1", NULL},
		{"run", "--target", "kube", NULL},
		{"run", "--target", "kube", "--context", "a", "--namespace-prefix", "Bad_", NULL},
		{"run", "--target", "kube", "--context", "a", "--ingress", "c3=1.2.3.4:80", NULL},
		{"run", "--target", "kube", "--context", "a", "--rollout-timeout", "-1", NULL},
		{"run", "--run-id", "-bad", NULL},
		{"clean", NULL},
		{"clean", "--context", "a", "--run", "no spaces", NULL},
	};
	struct kws k;

	kws_init(&k);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *args[8] = {0}, *out = NULL;
		int rc;

		for (size_t a = 0; cases[i][a] != NULL; a++)
			args[a] = (char *)cases[i][a];
		rc = run_mc(&k, args, &out);
		ck_assert_msg(rc == 2, "case %zu: exit %d:\n%s", i, rc, out);
		ck_assert_msg(strstr(out, "meshcheck") != NULL, "case %zu: no message:\n%s", i, out);
		free(out);
	}
	kws_free(&k);
}
END_TEST

/* `clean` deletes by the run label and says what it deleted. */
START_TEST(clean_deletes_by_label)
{
	struct kws k;
	char *out = NULL, *log;
	char *args[] = {"clean", "--context", "run-c1", "--run", "t-kube-1", NULL};
	const char *del[] = {"--context run-c1", "delete", "namespace", NULL};
	int rc;

	kws_init(&k);
	rc = run_mc(&k, args, &out);
	ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
	ck_assert_msg(strstr(out, "deleted") != NULL, "%s", out);
	log = logged(&k);
	ck_assert_msg(lines_with(log, del) >= 1, "%s", log);
	ck_assert_msg(strstr(log, "delete namespace default") == NULL && strstr(log, "delete namespace sample ") == NULL,
		      "deleted what meshcheck did not create:\n%s", log);
	free(log);
	free(out);
	kws_free(&k);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kube-run");
	TCase *tc = tcase_create("kube");
	SRunner *sr;
	int failed;

	bin = getenv("MESHCHECK");
	if (bin == NULL) {
		fprintf(stderr, "MESHCHECK is not set\n");
		return 1;
	}
	if (access("/usr/bin/python3", X_OK) != 0) {
		fprintf(stderr, "python3 missing: the fake kubectl cannot run\n");
		return 77;
	}
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, dry_run_touches_no_cluster);
	tcase_add_test(tc, dry_run_with_revision);
	tcase_add_test(tc, whole_run_through_kubectl);
	tcase_add_test(tc, north_south_through_ingress);
	tcase_add_test(tc, capture_not_permitted_skips);
	tcase_add_test(tc, image_pull_failure_names_the_pod);
	tcase_add_test(tc, interrupted_run_still_cleans_up);
	tcase_add_test(tc, failed_preflight_creates_nothing);
	tcase_add_test(tc, bad_options_exit_2);
	tcase_add_test(tc, clean_deletes_by_label);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
