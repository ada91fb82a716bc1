/*
 * The kube target's foundation against a fake kubectl and istioctl
 * (tests/kube/fake-kubectl) that replay recorded cluster state and log every
 * command they receive, so the tests check both what meshcheck concludes and
 * exactly what it asked the clusters to do.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "kubectl.h"
#include "preflight.h"
#include "rollout.h"
#include "kubetest.h"
#include "testutil.h"

#ifndef KUBE_TESTDIR
#define KUBE_TESTDIR "harness/tests/kube"
#endif
#ifndef FIXTURES_DIR
#define FIXTURES_DIR "fixtures"
#endif

static char *tmp;
static char *logpath;

static void
setup(void)
{
	tmp = t_tmpdir();
	logpath = mc_xasprintf("%s/kube.log", tmp);
	kt_fake_tools(logpath);
}

static void
teardown(void)
{
	mc_rm_rf(tmp);
	free(tmp);
	free(logpath);
}

static void
kube(struct mc_kube *k)
{
	kt_kube(k);
}

/* The commands the fake tools received, one per line ("" when none). */
static char *
logged(void)
{
	return kt_logged(logpath);
}

static size_t
count_lines(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; *p != '\0'; ) {
		const char *e = strchr(p, '\n');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		char *line = mc_xasprintf("%.*s", (int)len, p);

		if (strstr(line, needle) != NULL)
			n++;
		free(line);
		p += len + (e != NULL);
	}
	return n;
}

/* The verb of a logged command: the first word after the tool and its global flags. */
static char *
verb_of_line(const char *line)
{
	char tool[32], w1[256], w2[256], w3[256], w4[256], w5[256];
	int n = sscanf(line, "%31s %255s %255s %255s %255s %255s", tool, w1, w2, w3, w4, w5);
	char *words[] = { w1, w2, w3, w4, w5 };

	for (int i = 0; i + 1 < n; i++) {
		if (strcmp(words[i], "--context") == 0 || strcmp(words[i], "--kubeconfig") == 0) {
			i++;
			continue;
		}
		return mc_xstrdup(words[i]);
	}
	return mc_xstrdup("");
}

/* No command in the log changes a cluster. */
static void
assert_read_only(const char *log)
{
	static const char *const verbs[] = {
		"apply", "create", "delete", "label", "annotate", "patch", "exec", "replace",
		"scale", "run", "cp", NULL,
	};

	for (const char *p = log; *p != '\0'; ) {
		const char *e = strchr(p, '\n');
		char *line = mc_xasprintf("%.*s", (int)(e != NULL ? e - p : (long)strlen(p)), p);
		char *verb = verb_of_line(line);

		for (size_t i = 0; verbs[i] != NULL; i++)
			ck_assert_msg(strcmp(verb, verbs[i]) != 0, "a mutating command was run: %s", line);
		free(verb);
		free(line);
		if (e == NULL)
			break;
		p = e + 1;
	}
}

static const struct mc_finding *
finding(const struct mc_preflight *p, const char *ctx, const char *check)
{
	const struct mc_finding *fi = mc_preflight_find(p, ctx, check);

	ck_assert_msg(fi != NULL, "no finding %s for %s", check, ctx != NULL ? ctx : "(all)");
	return fi;
}

static int
preflight(const char *const *contexts, size_t n, const char *revision, struct mc_preflight **out,
	  char *err, size_t errlen)
{
	struct mc_preflight_opts o = {
		.contexts = contexts, .n_contexts = n, .revision = revision, .capture = true,
	};
	struct mc_kube k;
	int rc;

	kube(&k);
	rc = mc_preflight_run(&k, &o, out, err, errlen);
	mc_preflight_free(NULL);
	mc_kube_clear(&k);
	return rc;
}

/* ---- kubectl runner ---- */

START_TEST(test_error_line)
{
	const char *klog =
		"E1123 09:41:07.118000   48213 memcache.go:265] \"Unhandled Error\" err=\"couldn't get current server API group list\"\n"
		"E1123 09:41:07.158113   48213 memcache.go:265] \"Unhandled Error\" err=\"couldn't get current server API group list\"\n"
		"Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout\n";
	char line[256];

	mc_kube_error_line(klog, line, sizeof(line));
	ck_assert_str_eq(line, "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout");
	ck_assert_int_eq(mc_kube_classify(klog), -EHOSTUNREACH);
	mc_kube_error_line("error: context \"x\" does not exist\n", line, sizeof(line));
	ck_assert_str_eq(line, "error: context \"x\" does not exist");
	ck_assert_int_eq(mc_kube_classify(line), -ENXIO);
	ck_assert_int_eq(mc_kube_classify("Error in configuration: context was not found for specified context: x"), -ENXIO);
	ck_assert_int_eq(mc_kube_classify("Error from server (Forbidden): pods is forbidden: User \"dev\" cannot list resource \"pods\""), -EACCES);
	ck_assert_int_eq(mc_kube_classify("Error from server (NotFound): configmaps \"istio-ca-root-cert\" not found"), -ENOENT);
	/* Only klog lines: the message part of the last one. */
	mc_kube_error_line("W0101 00:00:00.000000       1 warn.go:1] something odd\n", line, sizeof(line));
	ck_assert_str_eq(line, "something odd");
}
END_TEST

START_TEST(test_mutates)
{
	const char *get[] = { "get", "pods", "-o", "json", NULL };
	const char *status[] = { "rollout", "status", "deploy/x", NULL };
	const char *restart[] = { "rollout", "restart", "deploy/x", NULL };
	const char *apply[] = { "apply", "-f", "-", NULL };
	const char *del[] = { "delete", "ns", "x", NULL };
	const char *exec[] = { "exec", "-n", "x", "sleep", "--", "curl", NULL };
	const char *can[] = { "auth", "can-i", "create", "pods", NULL };

	ck_assert(!mc_kube_argv_mutates(get));
	ck_assert(!mc_kube_argv_mutates(status));
	ck_assert(!mc_kube_argv_mutates(can));
	ck_assert(mc_kube_argv_mutates(restart));
	ck_assert(mc_kube_argv_mutates(apply));
	ck_assert(mc_kube_argv_mutates(del));
	ck_assert(mc_kube_argv_mutates(exec));
}
END_TEST

START_TEST(test_call_context_and_kubeconfig)
{
	const char *args[] = { "get", "deploy", "-n", "istio-system", "-l", "app=istiod", "-o", "json", NULL };
	char err[MC_ERRLEN], *log;
	struct mc_kube k;
	cJSON *doc = NULL;

	ck_assert_int_eq(mc_kube_init(&k, "/home/ci/.kube/clusters.yaml", err, sizeof(err)), 0);
	ck_assert_int_eq(mc_kube_json(&k, "kind-c2", args, &doc, err, sizeof(err)), 0);
	ck_assert_int_eq(cJSON_GetArraySize(mc_kube_items(doc)), 2);
	ck_assert_str_eq(mc_kube_obj_label(cJSON_GetArrayItem(mc_kube_items(doc), 1), "istio.io/rev"), "1-24-2");
	cJSON_Delete(doc);
	log = logged();
	ck_assert_str_eq(log, "kubectl --kubeconfig /home/ci/.kube/clusters.yaml --context kind-c2 get deploy -n istio-system -l app=istiod -o json\n");
	free(log);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_call_errors_keep_kubectl_text)
{
	const char *version[] = { "version", "-o", "json", NULL };
	const char *get[] = { "get", "pods", "-o", "json", NULL };
	char err[MC_ERRLEN];
	struct mc_kube k;
	cJSON *doc = NULL;

	kube(&k);
	ck_assert_int_eq(mc_kube_json(&k, "nope", version, &doc, err, sizeof(err)), -ENXIO);
	ck_assert_str_eq(err, "nope: kubectl version -o json: error: context \"nope\" does not exist");
	ck_assert_int_eq(mc_kube_json(&k, "nope", get, &doc, err, sizeof(err)), -ENXIO);
	ck_assert_str_eq(err, "nope: kubectl get pods -o json: Error in configuration: context was not found for specified context: nope");
	ck_assert_int_eq(mc_kube_json(&k, "gke-unreachable", get, &doc, err, sizeof(err)), -EHOSTUNREACH);
	ck_assert_str_eq(err, "gke-unreachable: kubectl get pods -o json: Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout");
	ck_assert_ptr_null(doc);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_timeout_kills)
{
	const char *args[] = { "get", "pods", "-A", "-o", "json", NULL };
	char err[MC_ERRLEN];
	struct mc_kube_result res;
	struct mc_kube k;
	double t0;

	kube(&k);
	k.timeout_ms = 700;
	t0 = mc_monotonic();
	ck_assert_int_eq(mc_kube_exec(&k, "kind-hang", args, NULL, &res, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_msg(mc_monotonic() - t0 < 10.0, "not killed at the deadline");
	ck_assert(res.timed_out);
	ck_assert_int_eq(res.status, 128 + 9);
	ck_assert_msg(strstr(err, "kind-hang: kubectl get pods -A -o json: no answer within 1 s (killed)") != NULL, "%s", err);
	mc_kube_result_clear(&res);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_output_bounded)
{
	const char *args[] = { "get", "pods", "-A", "-o", "json", NULL };
	char err[MC_ERRLEN];
	struct mc_kube k;
	cJSON *doc = NULL;

	kube(&k);
	k.max_output = 1024;
	ck_assert_int_eq(mc_kube_json(&k, "kind-c1", args, &doc, err, sizeof(err)), -E2BIG);
	ck_assert_msg(strstr(err, "output larger than") != NULL, "%s", err);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_stdin_manifest)
{
	const char *args[] = { "apply", "-f", "-", NULL };
	const char *yaml =
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mc-sample\n---\n"
		"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: mc-gw\n  namespace: istio-system\n";
	char err[MC_ERRLEN];
	struct mc_kube_result res;
	struct mc_kube k;

	kube(&k);
	ck_assert_int_eq(mc_kube_call(&k, "kind-c1", args, yaml, &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.out, "namespace/mc-sample created\ngateway.networking.istio.io/mc-gw created\n");
	mc_kube_result_clear(&res);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_dry_run_prints)
{
	const char *apply[] = { "apply", "-f", "-", NULL };
	const char *del[] = { "delete", "namespaces", "mc-sample", NULL };
	const char *get[] = { "get", "namespaces", "-o", "json", NULL };
	const char *yaml =
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: mc-sample\n  labels:\n    istio-injection: enabled\n---\n"
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: helloworld-v1\n  namespace: mc-sample\nspec:\n  replicas: 1\n";
	char err[MC_ERRLEN], *text = NULL, *log;
	struct mc_kube_result res;
	struct mc_kube k;
	cJSON *doc = NULL;
	size_t len = 0;

	kube(&k);
	k.dry_run = true;
	k.dry_out = open_memstream(&text, &len);
	ck_assert_int_eq(mc_kube_call(&k, "kind-c1", apply, yaml, &res, err, sizeof(err)), 0);
	ck_assert(res.dry_run);
	mc_kube_result_clear(&res);
	ck_assert_int_eq(mc_kube_call(&k, "kind-c2", del, NULL, &res, err, sizeof(err)), 0);
	mc_kube_result_clear(&res);
	/* Reads still reach the cluster: a dry run shows what would happen to its real state. */
	ck_assert_int_eq(mc_kube_json(&k, "kind-c1", get, &doc, err, sizeof(err)), 0);
	cJSON_Delete(doc);
	fclose(k.dry_out);
	ck_assert_str_eq(text,
		"dry-run [kind-c1]: kubectl --context kind-c1 apply -f -\n"
		"  Namespace/mc-sample\n"
		"  Deployment/helloworld-v1 in namespace mc-sample\n"
		"dry-run [kind-c2]: kubectl --context kind-c2 delete namespaces mc-sample\n");
	log = logged();
	ck_assert_str_eq(log, "kubectl --context kind-c1 get namespaces -o json\n");
	free(log);
	free(text);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_missing_tools)
{
	char err[MC_ERRLEN];
	struct mc_kube k;
	struct mc_kube_result res;
	const char *args[] = { "remote-clusters", NULL };

	setenv("MC_KUBECTL", "/nonexistent/kubectl", 1);
	ck_assert_int_eq(mc_kube_init(&k, NULL, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "MC_KUBECTL=/nonexistent/kubectl") != NULL, "%s", err);
	setenv("MC_KUBECTL", KUBE_TESTDIR "/fake-kubectl", 1);
	setenv("MC_ISTIOCTL", "", 1);
	ck_assert_int_eq(mc_kube_init(&k, NULL, err, sizeof(err)), 0);
	ck_assert_ptr_null(k.istioctl);
	ck_assert_int_eq(mc_istioctl_call(&k, "kind-c1", args, &res, err, sizeof(err)), -ENOENT);
	mc_kube_result_clear(&res);
	mc_kube_clear(&k);
}
END_TEST

/* ---- preflight ---- */

START_TEST(test_preflight_healthy)
{
	const char *ctx[] = { "kind-c1", "kind-c2" };
	struct mc_preflight *p = NULL;
	char err[MC_ERRLEN] = "", *text = NULL, *log;
	size_t len = 0;
	FILE *f;

	ck_assert_msg(preflight(ctx, 2, NULL, &p, err, sizeof(err)) == 0, "%s", err);
	f = open_memstream(&text, &len);
	mc_preflight_print(p, f);
	fclose(f);
	ck_assert_int_eq(p->n_failed, 0);
	ck_assert_str_eq(p->clusters[0].server_version, "v1.31.4");
	ck_assert_str_eq(p->clusters[0].istio_version, "1.24.2");
	ck_assert_str_eq(p->clusters[0].revision, "default");
	/* kind-c2 is mid-upgrade: two revisions, the default tag on the older one. */
	ck_assert_int_eq(p->clusters[1].n_revisions, 2);
	ck_assert_str_eq(p->clusters[1].istio_version, "1.23.4");
	ck_assert_msg(strstr(finding(p, "kind-c2", "revision")->detail, "tag for revision 1-23-4") != NULL, "%s", text);
	ck_assert_int_eq(finding(p, NULL, "shared root")->state, MC_FINDING_OK);
	ck_assert_str_eq(p->shared_root,
		"57:38:63:8D:88:39:99:7C:4E:B9:2F:1D:AA:00:65:66:CD:8F:C5:52:CE:6F:D8:17:53:22:11:D9:88:00:F0:91");
	ck_assert_int_eq(finding(p, "kind-c1", "remote secrets")->state, MC_FINDING_OK);
	ck_assert(p->capture_allowed);
	ck_assert_msg(strstr(text, "ok   kind-c1: reachable: Kubernetes v1.31.4\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "ok   kind-c1: istiod: istiod ready (1/1), Istio 1.24.2, revision default\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "ok   all clusters: shared root: all 2 clusters trust CN=Root CA,O=Istio") != NULL, "%s", text);
	log = logged();
	assert_read_only(log);
	ck_assert_uint_eq(count_lines(log, "istioctl --context kind-c2 remote-clusters"), 1);
	ck_assert_uint_eq(count_lines(log, "kubectl --context kind-c1 auth can-i create namespaces"), 1);
	ck_assert_uint_eq(count_lines(log, "kubectl --context kind-c2 get configmap istio-ca-root-cert -n istio-system -o json"), 1);
	free(log);
	free(text);
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_unknown_context)
{
	const char *ctx[] = { "kind-c1", "kind-c9" };
	struct mc_preflight *p = NULL;
	const struct mc_finding *fi;
	char err[MC_ERRLEN], *log;

	ck_assert_int_eq(preflight(ctx, 2, NULL, &p, err, sizeof(err)), -ENXIO);
	ck_assert_str_eq(err, "preflight failed: 1 problem; first: FAIL kind-c9: reachable: error: context \"kind-c9\" does not exist");
	fi = finding(p, "kind-c9", "reachable");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	/* Nothing else is asked of a cluster that cannot be reached. */
	log = logged();
	ck_assert_uint_eq(count_lines(log, "--context kind-c9"), 1);
	assert_read_only(log);
	free(log);
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_unreachable)
{
	const char *ctx[] = { "gke-unreachable" };
	struct mc_preflight *p = NULL;
	char err[MC_ERRLEN], *log;

	ck_assert_int_eq(preflight(ctx, 1, NULL, &p, err, sizeof(err)), -EHOSTUNREACH);
	ck_assert_str_eq(finding(p, "gke-unreachable", "reachable")->detail,
			 "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout");
	ck_assert(!p->clusters[0].reachable);
	log = logged();
	ck_assert_str_eq(log, "kubectl --context gke-unreachable version -o json\n");
	free(log);
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_no_istiod)
{
	const char *ctx[] = { "kind-c1", "kind-noistio" };
	struct mc_preflight *p = NULL;
	const struct mc_finding *fi;
	char err[MC_ERRLEN], *log;

	ck_assert_int_eq(preflight(ctx, 2, NULL, &p, err, sizeof(err)), -ENOENT);
	fi = finding(p, "kind-noistio", "istiod");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	ck_assert_msg(strstr(fi->detail, "no istiod Deployment in istio-system") != NULL, "%s", fi->detail);
	ck_assert_msg(strstr(err, "FAIL kind-noistio: istiod: no istiod Deployment") != NULL, "%s", err);
	fi = finding(p, "kind-noistio", "root");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	ck_assert_msg(strstr(fi->detail, "istio-ca-root-cert not found") != NULL, "%s", fi->detail);
	fi = finding(p, "kind-noistio", "remote secrets");
	ck_assert_str_eq(fi->detail, "Error: no istiod pods found");
	log = logged();
	assert_read_only(log);
	free(log);
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_roots_differ)
{
	const char *ctx[] = { "kind-c1", "kind-other" };
	struct mc_preflight *p = NULL;
	const struct mc_finding *fi;
	char err[MC_ERRLEN];

	ck_assert_int_eq(preflight(ctx, 2, NULL, &p, err, sizeof(err)), -EPROTO);
	fi = finding(p, NULL, "shared root");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	ck_assert_msg(strstr(fi->detail, "the clusters do not share a root") != NULL, "%s", fi->detail);
	ck_assert_msg(strstr(fi->detail, "kind-c1 has CN=Root CA,O=Istio (SHA-256 57:38:63:8D") != NULL, "%s", fi->detail);
	ck_assert_msg(strstr(fi->detail, "kind-other has CN=Root CA,O=Istio (SHA-256 AB:DB:F0:03") != NULL, "%s", fi->detail);
	ck_assert_ptr_null(p->shared_root);
	/* Its remote secret for cluster1 is not synced either. */
	fi = finding(p, "kind-other", "remote secrets");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	ck_assert_str_eq(fi->detail, "not synced: cluster1 is timeout");
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_revision)
{
	const char *ctx[] = { "kind-c1", "kind-c2" };
	struct mc_preflight *p = NULL;
	const struct mc_finding *fi;
	char err[MC_ERRLEN];

	ck_assert_int_eq(preflight(ctx, 2, "1-24-2", &p, err, sizeof(err)), -ENOENT);
	fi = finding(p, "kind-c1", "revision");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	ck_assert_str_eq(fi->detail, "1-24-2: no istiod with istio.io/rev=1-24-2 and no revision tag 1-24-2 (revisions here: default)");
	fi = finding(p, "kind-c2", "revision");
	ck_assert_int_eq(fi->state, MC_FINDING_OK);
	ck_assert_str_eq(p->clusters[1].istio_version, "1.24.2");
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_permissions)
{
	const char *ctx[] = { "kind-restricted" };
	struct mc_preflight *p = NULL;
	const struct mc_finding *fi;
	char err[MC_ERRLEN];

	ck_assert_int_eq(preflight(ctx, 1, NULL, &p, err, sizeof(err)), -EACCES);
	fi = finding(p, "kind-restricted", "permissions");
	ck_assert_int_eq(fi->state, MC_FINDING_FAIL);
	ck_assert_str_eq(fi->detail, "may not create namespaces (each run creates its own namespaces)");
	/* Capture not permitted is a warning: the run goes on without wire cases. */
	fi = finding(p, "kind-restricted", "capture");
	ck_assert_int_eq(fi->state, MC_FINDING_WARN);
	ck_assert(!p->capture_allowed);
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_preflight_without_istioctl)
{
	const char *ctx[] = { "kind-c1", "kind-c2" };
	struct mc_preflight *p = NULL;
	char err[MC_ERRLEN], *log;

	setenv("MC_ISTIOCTL", "", 1);
	ck_assert_msg(preflight(ctx, 2, NULL, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(finding(p, "kind-c1", "remote secrets")->state, MC_FINDING_SKIP);
	log = logged();
	ck_assert_uint_eq(count_lines(log, "istioctl"), 0);
	free(log);
	mc_preflight_free(p);
}
END_TEST

START_TEST(test_image_tag)
{
	char *t;

	t = mc_kube_image_tag("docker.io/istio/pilot:1.24.2");
	ck_assert_str_eq(t, "1.24.2");
	free(t);
	t = mc_kube_image_tag("localhost:5000/istio/pilot:1.25.0-distroless");
	ck_assert_str_eq(t, "1.25.0-distroless");
	free(t);
	ck_assert_ptr_null(mc_kube_image_tag("localhost:5000/istio/pilot"));
	ck_assert_ptr_null(mc_kube_image_tag("gcr.io/istio-release/pilot@sha256:0123abcd"));
}
END_TEST

/* ---- clean ---- */

#define RUN "20261123-0914-a1b2"

static int
clean(const char *const *ctx, size_t n, const char *run, bool dry, struct mc_clean_stats *st,
      char **report, char *err, size_t errlen)
{
	struct mc_clean_opts o = { .contexts = ctx, .n_contexts = n, .run_id = run };
	struct mc_kube k;
	size_t len = 0;
	int rc;

	kube(&k);
	k.dry_run = dry;
	o.report = open_memstream(report, &len);
	k.dry_out = o.report;
	rc = mc_kube_clean(&k, &o, st, err, errlen);
	fclose(o.report);
	mc_kube_clear(&k);
	return rc;
}

/* The delete commands of the log, in order. */
static char *
deletes(const char *log)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	for (const char *p = log; *p != '\0'; ) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		char *line = mc_xasprintf("%.*s", (int)n, p);
		char *verb = verb_of_line(line);

		if (strcmp(verb, "delete") == 0)
			mc_buf_printf(&b, "%s\n", line);
		free(verb);
		free(line);
		p += n + (e != NULL);
	}
	return b.data != NULL ? mc_buf_steal(&b) : mc_xstrdup("");
}

static const char *const c1_all_deletes =
	"kubectl --context kind-c1 delete gateways.networking.istio.io mc-httpbin-gateway -n istio-system --ignore-not-found --wait=false\n"
	"kubectl --context kind-c1 delete pods mc-capture-kind-c1-worker -n default --ignore-not-found --wait=false\n"
	"kubectl --context kind-c1 delete secrets mc-httpbin-credential -n istio-system --ignore-not-found --wait=false\n"
	"kubectl --context kind-c1 delete namespaces mc-sample mc-foo --ignore-not-found --wait=false\n";

START_TEST(test_clean_every_run)
{
	const char *ctx[] = { "kind-c1" };
	struct mc_clean_stats st;
	char err[MC_ERRLEN], *report = NULL, *log, *del;

	ck_assert_msg(clean(ctx, 1, NULL, false, &st, &report, err, sizeof(err)) == 0, "%s", err);
	log = logged();
	del = deletes(log);
	ck_assert_str_eq(del, c1_all_deletes);
	/* Every list asked for the label. */
	ck_assert_uint_eq(count_lines(log, " get "), 13);
	ck_assert_uint_eq(count_lines(log, " get "), count_lines(log, "-l meshcheck.io/run "));
	ck_assert_uint_eq(st.deleted, 5);
	ck_assert_uint_eq(st.kept, 0);
	ck_assert_msg(strstr(report, "kind-c1: deleted gateways.networking.istio.io istio-system/mc-httpbin-gateway (run " RUN ")\n") != NULL, "%s", report);
	ck_assert_msg(strstr(report, "kind-c1: deleted namespace mc-foo (run 20261120-1702-c3d4)\n") != NULL, "%s", report);
	/* What lives in a deleted namespace goes with it and is not named twice. */
	ck_assert_msg(strstr(log, "delete authorizationpolicies") == NULL, "%s", log);
	free(del);
	free(log);
	free(report);
}
END_TEST

START_TEST(test_clean_one_run)
{
	const char *ctx[] = { "kind-c1" };
	struct mc_clean_stats st;
	char err[MC_ERRLEN], *report = NULL, *log, *del;

	ck_assert_msg(clean(ctx, 1, RUN, false, &st, &report, err, sizeof(err)) == 0, "%s", err);
	log = logged();
	del = deletes(log);
	ck_assert_str_eq(del,
		"kubectl --context kind-c1 delete gateways.networking.istio.io mc-httpbin-gateway -n istio-system --ignore-not-found --wait=false\n"
		"kubectl --context kind-c1 delete secrets mc-httpbin-credential -n istio-system --ignore-not-found --wait=false\n"
		"kubectl --context kind-c1 delete namespaces mc-sample --ignore-not-found --wait=false\n");
	ck_assert_uint_eq(count_lines(log, "get namespaces -l meshcheck.io/run=" RUN " -o json"), 1);
	ck_assert_uint_eq(st.deleted, 3);
	free(del);
	free(log);
	free(report);
}
END_TEST

/* An answer that ignores the selector must not widen what is deleted. */
START_TEST(test_clean_double_checks_label)
{
	const char *ctx[] = { "kind-c1" };
	struct mc_clean_stats st;
	char err[MC_ERRLEN], *report = NULL, *log, *del;

	setenv("FAKE_KUBE_NO_FILTER", "1", 1);
	ck_assert_msg(clean(ctx, 1, NULL, false, &st, &report, err, sizeof(err)) == 0, "%s", err);
	log = logged();
	del = deletes(log);
	ck_assert_str_eq(del, c1_all_deletes);
	ck_assert_uint_gt(st.kept, 10);
	ck_assert_msg(strstr(report, "kind-c1: kept peerauthentications.security.istio.io istio-system/default: listed, but it does not carry meshcheck.io/run\n") != NULL, "%s", report);
	ck_assert_msg(strstr(report, "kind-c1: kept namespace sample:") != NULL, "%s", report);
	ck_assert_msg(strstr(del, " sample ") == NULL && strstr(del, "sleep-868c754c4b-9dbzq") == NULL, "%s", del);
	free(del);
	free(log);
	free(report);
}
END_TEST

START_TEST(test_clean_protected_namespace)
{
	const char *ctx[] = { "kind-c2" };
	struct mc_clean_stats st;
	char err[MC_ERRLEN], *report = NULL, *log, *del;

	ck_assert_msg(clean(ctx, 1, NULL, false, &st, &report, err, sizeof(err)) == 0, "%s", err);
	log = logged();
	del = deletes(log);
	/* kind-c2's default namespace carries the label, and is kept all the same. */
	ck_assert_str_eq(del, "kubectl --context kind-c2 delete namespaces mc-bookinfo --ignore-not-found --wait=false\n");
	ck_assert_msg(strstr(report, "kind-c2: kept namespace default: it carries meshcheck.io/run=20261120-1702-c3d4, but clean never deletes") != NULL, "%s", report);
	ck_assert_uint_eq(st.kept, 1);
	free(del);
	free(log);
	free(report);
}
END_TEST

START_TEST(test_clean_dry_run)
{
	const char *ctx[] = { "kind-c1", "kind-c2" };
	struct mc_clean_stats st;
	char err[MC_ERRLEN], *report = NULL, *log;

	ck_assert_msg(clean(ctx, 2, NULL, true, &st, &report, err, sizeof(err)) == 0, "%s", err);
	log = logged();
	assert_read_only(log);
	ck_assert_uint_eq(st.deleted, 6);
	ck_assert_msg(strstr(report, "kind-c1: would delete namespace mc-sample (run " RUN ")\n") != NULL, "%s", report);
	ck_assert_msg(strstr(report, "dry-run [kind-c1]: kubectl --context kind-c1 delete namespaces mc-sample mc-foo --ignore-not-found --wait=false\n") != NULL, "%s", report);
	ck_assert_msg(strstr(report, "dry-run [kind-c2]: kubectl --context kind-c2 delete namespaces mc-bookinfo") != NULL, "%s", report);
	free(log);
	free(report);
}
END_TEST

START_TEST(test_clean_without_istio_and_unreachable)
{
	const char *ctx[] = { "gke-unreachable", "kind-noistio" };
	struct mc_clean_stats st;
	char err[MC_ERRLEN], *report = NULL, *log;

	/* The unreachable cluster fails; the other is still cleaned (and has nothing). */
	ck_assert_int_eq(clean(ctx, 2, NULL, false, &st, &report, err, sizeof(err)), -EHOSTUNREACH);
	ck_assert_str_eq(err, "gke-unreachable: kubectl get namespaces -l meshcheck.io/run -o json: Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout");
	ck_assert_msg(strstr(report, "kind-noistio: nothing carries meshcheck.io/run\n") != NULL, "%s", report);
	log = logged();
	assert_read_only(log);
	ck_assert_uint_eq(count_lines(log, "kind-noistio get gateways.networking.istio.io"), 1);
	free(log);
	free(report);
}
END_TEST

START_TEST(test_clean_bad_run_id)
{
	const char *ctx[] = { "kind-c1" };
	char err[MC_ERRLEN], *report = NULL, *log;

	ck_assert_int_eq(clean(ctx, 1, "x,app=sleep", false, NULL, &report, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "cannot be a label value") != NULL, "%s", err);
	log = logged();
	ck_assert_str_eq(log, "");
	ck_assert(mc_kube_label_value_ok(RUN));
	ck_assert(!mc_kube_label_value_ok("-x"));
	ck_assert(mc_kube_namespace_protected("kube-system"));
	ck_assert(mc_kube_namespace_protected("istio-system"));
	ck_assert(!mc_kube_namespace_protected("mc-sample"));
	free(log);
	free(report);
}
END_TEST

/* ---- rollout ---- */

static void
broken_pods(struct mc_pod_problems *pp)
{
	const char *args[] = { "get", "pods", "--all-namespaces", "-o", "json", NULL };
	char err[MC_ERRLEN];
	struct mc_kube k;
	cJSON *doc = NULL;

	kube(&k);
	ck_assert_msg(mc_kube_json(&k, "kind-broken", args, &doc, err, sizeof(err)) == 0, "%s", err);
	memset(pp, 0, sizeof(*pp));
	mc_pod_problems_scan(doc, true, pp);
	cJSON_Delete(doc);
	mc_kube_clear(&k);
}

static const struct mc_pod_problem *
problem_of(const struct mc_pod_problems *pp, const char *pod_prefix)
{
	for (size_t i = 0; i < pp->n; i++)
		if (strncmp(pp->v[i].pod, pod_prefix, strlen(pod_prefix)) == 0)
			return &pp->v[i];
	ck_abort_msg("no problem reported for %s", pod_prefix);
	return NULL;
}

START_TEST(test_pod_problems)
{
	struct mc_pod_problems pp;
	const struct mc_pod_problem *p;
	char *line;

	broken_pods(&pp);
	ck_assert_uint_eq(pp.n, 4);                      /* sleep is fine */
	p = problem_of(&pp, "helloworld-v1-");
	ck_assert_int_eq(p->trouble, MC_POD_IMAGE_PULL);
	ck_assert_str_eq(p->reason, "ImagePullBackOff");
	line = mc_pod_problem_line(p);
	ck_assert_str_eq(line, "mc-sample/helloworld-v1-5c8d7b4f9d-x7k2p: image pull: container helloworld: ImagePullBackOff: "
			 "Back-off pulling image \"registry.istio.io/release/examples-helloworld-v1:1.0\"");
	free(line);
	p = problem_of(&pp, "reviews-v2-");
	ck_assert_int_eq(p->trouble, MC_POD_CRASH_LOOP);
	line = mc_pod_problem_line(p);
	ck_assert_str_eq(line, "mc-bookinfo/reviews-v2-6f4995984d-4rq7m: crash loop: container reviews restarted 7 times, last exit 137 (OOMKilled): CrashLoopBackOff");
	free(line);
	p = problem_of(&pp, "details-v1-");
	ck_assert_int_eq(p->trouble, MC_POD_NOT_INJECTED);
	p = problem_of(&pp, "productpage-v1-");
	ck_assert_int_eq(p->trouble, MC_POD_UNSCHEDULABLE);
	ck_assert_str_eq(p->reason, "Unschedulable");
	ck_assert_msg(strstr(p->message, "1 Insufficient cpu") != NULL, "%s", p->message);
	mc_pod_problems_clear(&pp);
}
END_TEST

START_TEST(test_rollout_image_pull)
{
	struct mc_rollout_opts o = {
		.context = "kind-broken", .namespace = "mc-sample", .timeout_s = 0, .want_sidecar = true,
	};
	struct mc_pod_problems pp;
	char err[MC_ERRLEN], *log;
	struct mc_kube k;

	kube(&k);
	ck_assert_int_eq(mc_kube_rollout_wait(&k, &o, &pp, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_str_eq(err, "kind-broken: mc-sample: 1 of 2 Deployments not ready after 0 s: "
			 "mc-sample/helloworld-v1-5c8d7b4f9d-x7k2p: image pull: container helloworld: ImagePullBackOff: "
			 "Back-off pulling image \"registry.istio.io/release/examples-helloworld-v1:1.0\"");
	ck_assert_uint_eq(pp.n, 1);
	ck_assert_str_eq(pp.v[0].pod, "helloworld-v1-5c8d7b4f9d-x7k2p");
	log = logged();
	ck_assert_str_eq(log,
		"kubectl --context kind-broken get deployments -n mc-sample -o json\n"
		"kubectl --context kind-broken get pods -n mc-sample -o json\n");
	free(log);
	mc_pod_problems_clear(&pp);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_rollout_not_injected_fails_at_once)
{
	struct mc_rollout_opts o = {
		.context = "kind-broken", .namespace = "mc-bookinfo", .timeout_s = 30, .want_sidecar = true,
	};
	char err[MC_ERRLEN];
	struct mc_kube k;
	double t0 = mc_monotonic();

	kube(&k);
	ck_assert_int_eq(mc_kube_rollout_wait(&k, &o, NULL, err, sizeof(err)), -EPROTO);
	ck_assert_msg(mc_monotonic() - t0 < 10, "waited for something that cannot change");
	ck_assert_msg(strstr(err, "kind-broken: mc-bookinfo: pods without the istio-proxy sidecar: mc-bookinfo/details-v1-65cfcf56f9-8zrdt: not injected") != NULL, "%s", err);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_rollout_waits_then_times_out)
{
	struct mc_rollout_opts o = {
		.context = "kind-broken", .namespace = "mc-bookinfo", .timeout_s = 2.5, .poll_s = 0.2,
	};
	struct mc_pod_problems pp;
	char err[MC_ERRLEN], *log;
	struct mc_kube k;

	kube(&k);
	ck_assert_int_eq(mc_kube_rollout_wait(&k, &o, &pp, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_msg(strstr(err, "2 of 3 Deployments not ready after 2 s") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "crash loop") != NULL && strstr(err, "unschedulable") != NULL, "%s", err);
	/* Without want_sidecar a missing sidecar is no problem. */
	for (size_t i = 0; i < pp.n; i++)
		ck_assert_int_ne(pp.v[i].trouble, MC_POD_NOT_INJECTED);
	log = logged();
	ck_assert_uint_ge(count_lines(log, "get deployments -n mc-bookinfo"), 2);
	free(log);
	mc_pod_problems_clear(&pp);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_rollout_ready)
{
	struct mc_rollout_opts o = {
		.context = "kind-c1", .namespace = "mc-sample", .timeout_s = 5, .want_sidecar = true,
	};
	char err[MC_ERRLEN];
	struct mc_kube k;

	kube(&k);
	ck_assert_msg(mc_kube_rollout_wait(&k, &o, NULL, err, sizeof(err)) == 0, "%s", err);
	mc_kube_clear(&k);
}
END_TEST

/* ---- fixtures: YAML shape, and only the images and ports of the upstream samples ---- */


static const char *const allowed_images[] = {
	"registry.istio.io/release/examples-helloworld-v1:1.0",
	"registry.istio.io/release/examples-helloworld-v2:1.0",
	"docker.io/curlimages/curl:8.16.0",
	"docker.io/mccutchen/go-httpbin:v2.15.0",
	"registry.istio.io/release/examples-bookinfo-details-v1:1.20.3",
	"registry.istio.io/release/examples-bookinfo-ratings-v1:1.20.3",
	"registry.istio.io/release/examples-bookinfo-reviews-v1:1.20.3",
	"registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3",
	"registry.istio.io/release/examples-bookinfo-reviews-v3:1.20.3",
	"registry.istio.io/release/examples-bookinfo-productpage-v1:1.20.3",
	"registry.k8s.io/echoserver:1.10",
	NULL,
};

/* sleep 80, helloworld 5000, httpbin 8000 → 8080, bookinfo 9080, echoserver 8080, gateway 80 and 443. */
static const long allowed_ports[] = { 80, 443, 5000, 8000, 8080, 9080 };

static bool
image_allowed(const char *img)
{
	for (size_t i = 0; allowed_images[i] != NULL; i++)
		if (strcmp(img, allowed_images[i]) == 0)
			return true;
	return false;
}

static bool
port_allowed(long port)
{
	for (size_t i = 0; i < sizeof(allowed_ports) / sizeof(allowed_ports[0]); i++)
		if (port == allowed_ports[i])
			return true;
	return false;
}

/* The .yaml files of a folder, sorted, as "dir/name" (NULL-terminated; caller frees). */
static char **
yaml_files(const char *dir, size_t *n)
{
	struct dirent **ents = NULL;
	int m = scandir(dir, &ents, NULL, alphasort);
	char **out = mc_xcalloc((size_t)(m > 0 ? m : 0) + 1, sizeof(*out));

	ck_assert_msg(m >= 0, "cannot read %s", dir);
	*n = 0;
	for (int i = 0; i < m; i++) {
		size_t len = strlen(ents[i]->d_name);

		if (len > 5 && strcmp(ents[i]->d_name + len - 5, ".yaml") == 0)
			out[(*n)++] = mc_xasprintf("%s/%s", dir, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return out;
}

/*
 * A structural check that needs no YAML library: no tabs; documents
 * separated by "---"; each has apiVersion, kind and metadata.name, and the
 * run label; Namespaces are labelled for injection; every image and port is
 * one of the upstream samples'.
 */
static void
check_manifest(const char *path, size_t *n_docs)
{
	char *text = t_read(path), *save = NULL, *line;
	bool api = false, kind = false, name = false, run = false, in_meta = false, ns = false, inject = false;
	size_t lineno = 0, doc_line = 1;
	bool any = false;

	ck_assert_msg(strchr(text, '\t') == NULL, "%s: a tab (YAML indents with spaces)", path);
	for (line = strtok_r(text, "\n", &save); ; line = strtok_r(NULL, "\n", &save)) {
		bool end = line == NULL || strcmp(line, "---") == 0;
		long port;
		char img[256];

		lineno++;
		if (end) {
			if (any) {
				ck_assert_msg(api && kind && name, "%s:%zu: document without apiVersion, kind and metadata.name",
					      path, doc_line);
				ck_assert_msg(run, "%s:%zu: document without the meshcheck.io/run label", path, doc_line);
				ck_assert_msg(!ns || inject, "%s:%zu: Namespace not labelled istio-injection: enabled", path, doc_line);
				(*n_docs)++;
			}
			if (line == NULL)
				break;
			api = kind = name = run = in_meta = ns = inject = any = false;
			doc_line = lineno + 1;
			continue;
		}
		if (line[0] == '#' || line[strspn(line, " ")] == '\0')
			continue;
		any = true;
		if (strncmp(line, "apiVersion: ", 12) == 0)
			api = true;
		if (strncmp(line, "kind: ", 6) == 0) {
			kind = true;
			ns = strcmp(line, "kind: Namespace") == 0;
		}
		if (line[0] != ' ')
			in_meta = strcmp(line, "metadata:") == 0;
		else if (in_meta && strncmp(line, "  name: ", 8) == 0)
			name = true;
		if (in_meta && strcmp(line, "    meshcheck.io/run: \"${MESHCHECK_RUN}\"") == 0)
			run = true;
		if (in_meta && strcmp(line, "    istio-injection: enabled") == 0)
			inject = true;
		if (sscanf(line, " image: %255s", img) == 1)
			ck_assert_msg(image_allowed(img), "%s:%zu: image %s is not one of the upstream samples'",
				      path, lineno, img);
		if (sscanf(line, " - containerPort: %ld", &port) == 1 || sscanf(line, " containerPort: %ld", &port) == 1 ||
		    sscanf(line, " - port: %ld", &port) == 1 || sscanf(line, " port: %ld", &port) == 1 ||
		    sscanf(line, " targetPort: %ld", &port) == 1 || sscanf(line, " number: %ld", &port) == 1)
			ck_assert_msg(port_allowed(port), "%s:%zu: port %ld is not one of the upstream samples'",
				      path, lineno, port);
	}
	free(text);
}

START_TEST(test_fixtures_shape)
{
	static const char *const dirs[] = { FIXTURES_DIR "/kube", FIXTURES_DIR "/mesh" };
	size_t total = 0;

	for (size_t d = 0; d < 2; d++) {
		size_t n = 0, docs = 0;
		char **files = yaml_files(dirs[d], &n);

		ck_assert_msg(n > 0, "no manifests in %s", dirs[d]);
		for (size_t i = 0; i < n; i++) {
			check_manifest(files[i], &docs);
			free(files[i]);
		}
		free(files);
		total += docs;
	}
	ck_assert_uint_ge(total, 30);
}
END_TEST

/* The same files through a real YAML parser, when Python has PyYAML. */
START_TEST(test_fixtures_parse_as_yaml)
{
	static const char *const dirs[] = { FIXTURES_DIR "/kube", FIXTURES_DIR "/mesh" };
	const char *script =
		"import sys\n"
		"try:\n"
		"    import yaml\n"
		"except ImportError:\n"
		"    sys.exit(77)\n"
		"for f in sys.argv[1:]:\n"
		"    for d in yaml.safe_load_all(open(f)):\n"
		"        if d is None: continue\n"
		"        assert isinstance(d.get('apiVersion'), str) and isinstance(d.get('kind'), str), f\n"
		"        assert isinstance(d['metadata']['name'], str), f\n"
		"        assert d['metadata']['labels']['meshcheck.io/run'] == '${MESHCHECK_RUN}', f\n";
	char *argv[64] = { (char *)"/usr/bin/python3", (char *)"-c", (char *)script };
	size_t a = 3;
	char *out = NULL;
	int rc;

	if (access("/usr/bin/python3", X_OK) != 0)
		return;                 /* no Python: the structural check above stands alone */
	for (size_t d = 0; d < 2; d++) {
		size_t n = 0;
		char **files = yaml_files(dirs[d], &n);

		for (size_t i = 0; i < n && a + 1 < sizeof(argv) / sizeof(argv[0]); i++)
			argv[a++] = files[i];
		free(files);
	}
	argv[a] = NULL;
	rc = t_run(argv, &out);
	ck_assert_msg(rc == 0 || rc == 77, "YAML parse failed:\n%s", out);
	for (size_t i = 3; i < a; i++)
		free(argv[i]);
	free(out);
}
END_TEST

static Suite *
kube_suite(void)
{
	Suite *s = suite_create("kube");
	TCase *tc;

	tc = tcase_create("kubectl");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_error_line);
	tcase_add_test(tc, test_mutates);
	tcase_add_test(tc, test_call_context_and_kubeconfig);
	tcase_add_test(tc, test_call_errors_keep_kubectl_text);
	tcase_add_test(tc, test_timeout_kills);
	tcase_add_test(tc, test_output_bounded);
	tcase_add_test(tc, test_stdin_manifest);
	tcase_add_test(tc, test_dry_run_prints);
	tcase_add_test(tc, test_missing_tools);
	suite_add_tcase(s, tc);

	tc = tcase_create("preflight");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_preflight_healthy);
	tcase_add_test(tc, test_preflight_unknown_context);
	tcase_add_test(tc, test_preflight_unreachable);
	tcase_add_test(tc, test_preflight_no_istiod);
	tcase_add_test(tc, test_preflight_roots_differ);
	tcase_add_test(tc, test_preflight_revision);
	tcase_add_test(tc, test_preflight_permissions);
	tcase_add_test(tc, test_preflight_without_istioctl);
	tcase_add_test(tc, test_image_tag);
	suite_add_tcase(s, tc);

	tc = tcase_create("clean");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_clean_every_run);
	tcase_add_test(tc, test_clean_one_run);
	tcase_add_test(tc, test_clean_double_checks_label);
	tcase_add_test(tc, test_clean_protected_namespace);
	tcase_add_test(tc, test_clean_dry_run);
	tcase_add_test(tc, test_clean_without_istio_and_unreachable);
	tcase_add_test(tc, test_clean_bad_run_id);
	suite_add_tcase(s, tc);

	tc = tcase_create("rollout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pod_problems);
	tcase_add_test(tc, test_rollout_image_pull);
	tcase_add_test(tc, test_rollout_not_injected_fails_at_once);
	tcase_add_test(tc, test_rollout_waits_then_times_out);
	tcase_add_test(tc, test_rollout_ready);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixtures");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fixtures_shape);
	tcase_add_test(tc, test_fixtures_parse_as_yaml);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return t_main(kube_suite());
}
