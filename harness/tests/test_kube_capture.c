/*
 * Node captures and workload chains of the kube target, against the fake
 * kubectl and istioctl (tests/kube/fake-kubectl): the capture pod's
 * manifest, the tcpdump filter, a whole capture whose pcap (recorded from a
 * real capture of curl against nginx over TLS on loopback) is streamed by
 * the fake as `tcpdump -U -w -` does, the refusals a cluster can give, the
 * pod's deletion on every path, dry runs, and both ways of reading a
 * sidecar's chain.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kcapture.h"
#include "kchains.h"
#include "kubectl.h"
#include "pki.h"
#include "kubetest.h"
#include "testutil.h"
#include "wire.h"

#ifndef KUBE_TESTDIR
#define KUBE_TESTDIR "harness/tests/kube"
#endif
#define RECORDED KUBE_TESTDIR "/recorded"

/* What the recorded capture holds: curl against nginx on 127.0.0.1:8443, three connections. */
#define REC_FILTER "host 127.0.0.1 and tcp port 8443"
#define REC_CANARY "MC-CANARY-5e1f0a2b"
#define SLEEP_POD "sleep-7656cf8794-k4lnm"

static char *tmp;
static char *logpath;
static char *evidence;

static void
setup(void)
{
	tmp = t_tmpdir();
	logpath = mc_xasprintf("%s/kube.log", tmp);
	evidence = mc_xasprintf("%s/evidence", tmp);
	kt_fake_tools(logpath);
	setenv("FAKE_KUBE_STATE", tmp, 1);
	unsetenv("FAKE_KUBE_POD_WAITING");
	unsetenv("FAKE_KUBE_PCAP_BYTES");
}

static void
teardown(void)
{
	mc_rm_rf(tmp);
	free(tmp);
	free(logpath);
	free(evidence);
}

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

static size_t
count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static struct mc_kube_capture_opts
opts(const char *context)
{
	return (struct mc_kube_capture_opts){
		.context = context,
		.ns = "meshcheck-system",
		.node = "kind-c1-worker",
		.run_id = "r20261123-0915",
		.filter = REC_FILTER,
		.dir = evidence,
		.ready_timeout_ms = 20000,
		.tail_ms = 200,
	};
}

/* Files in the evidence folder (0 when it does not exist). */
static size_t
evidence_files(void)
{
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", NULL, NULL };
	char *cmd = mc_xasprintf("ls -A '%s' 2>/dev/null | wc -l", evidence);
	char *out = NULL;
	size_t n;

	argv[2] = cmd;
	ck_assert_int_eq(t_run(argv, &out), 0);
	n = (size_t)strtoul(out, NULL, 10);
	free(out);
	free(cmd);
	return n;
}

/* ---- the capture pod and the filter ---------------------------------- */

static void
assert_filter_compiles(const char *filter)
{
	pcap_t *p = pcap_open_dead(DLT_LINUX_SLL2, 65535);
	struct bpf_program prog;

	ck_assert_ptr_nonnull(p);
	ck_assert_msg(pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) == 0, "%s: %s", filter,
		      pcap_geterr(p));
	pcap_freecode(&prog);
	pcap_close(p);
}

START_TEST(test_filter)
{
	char f[128], err[MC_ERRLEN];

	ck_assert_int_eq(mc_kube_capture_filter("10.244.1.5", 8080, f, sizeof(f), err, sizeof(err)), 0);
	ck_assert_str_eq(f, "host 10.244.1.5 and tcp port 8080");
	assert_filter_compiles(f);
	ck_assert_int_eq(mc_kube_capture_filter("10.244.1.5", 0, f, sizeof(f), err, sizeof(err)), 0);
	ck_assert_str_eq(f, "host 10.244.1.5");
	/* IPv6, written in its canonical form. */
	ck_assert_int_eq(mc_kube_capture_filter("fd00:10:244:0:0:0:0:5", 9080, f, sizeof(f), err, sizeof(err)), 0);
	ck_assert_str_eq(f, "ip6 host fd00:10:244::5 and tcp port 9080");
	assert_filter_compiles(f);
	ck_assert_int_eq(mc_kube_capture_filter("::1", 15008, f, sizeof(f), err, sizeof(err)), 0);
	ck_assert_str_eq(f, "ip6 host ::1 and tcp port 15008");
	assert_filter_compiles(f);

	ck_assert_int_eq(mc_kube_capture_filter("10.244.1", 80, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "\"10.244.1\" is not an IPv4 or IPv6 address"));
	ck_assert_int_eq(mc_kube_capture_filter("10.0.0.1 or host 10.0.0.2", 80, f, sizeof(f), err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(mc_kube_capture_filter("httpbin", 80, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_kube_capture_filter("fe80::1%eth0", 80, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_kube_capture_filter("", 80, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_kube_capture_filter(NULL, 80, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_kube_capture_filter("10.0.0.1", 65536, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "port 65536"));
	ck_assert_int_eq(mc_kube_capture_filter("10.0.0.1", -1, f, sizeof(f), err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_kube_capture_filter("10.244.1.5", 8080, f, 10, err, sizeof(err)), -EINVAL);
}
END_TEST

static const cJSON *
at(const cJSON *o, const char *path)
{
	const cJSON *v = mc_kube_at(o, path);

	ck_assert_msg(v != NULL, "manifest has no %s", path);
	return v;
}

START_TEST(test_manifest)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	char err[MC_ERRLEN];
	const cJSON *c, *cmd, *tol;
	cJSON *m = mc_kube_capture_manifest(&o, "meshcheck-capture-x7k2p", err, sizeof(err));

	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_str_eq(mc_kube_str(m, "apiVersion"), "v1");
	ck_assert_str_eq(mc_kube_str(m, "kind"), "Pod");
	ck_assert_str_eq(mc_kube_obj_name(m), "meshcheck-capture-x7k2p");
	ck_assert_str_eq(mc_kube_obj_namespace(m), "meshcheck-system");
	ck_assert_str_eq(mc_kube_obj_label(m, MC_KUBE_RUN_LABEL), "r20261123-0915");
	ck_assert_str_eq(mc_kube_obj_label(m, "app"), "meshcheck-capture");
	ck_assert_str_eq(mc_kube_obj_label(m, "sidecar.istio.io/inject"), "false");
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				 at(m, "metadata.annotations"), "sidecar.istio.io/inject")), "false");
	ck_assert_str_eq(mc_kube_str(m, "spec.nodeName"), "kind-c1-worker");
	ck_assert(cJSON_IsTrue(at(m, "spec.hostNetwork")));
	ck_assert_int_eq((int)at(m, "spec.terminationGracePeriodSeconds")->valuedouble, 0);
	ck_assert_str_eq(mc_kube_str(m, "spec.restartPolicy"), "Never");
	tol = at(m, "spec.tolerations");
	ck_assert_int_eq(cJSON_GetArraySize(tol), 1);
	ck_assert_str_eq(mc_kube_str(cJSON_GetArrayItem(tol, 0), "operator"), "Exists");
	ck_assert_ptr_null(mc_kube_at(cJSON_GetArrayItem(tol, 0), "key"));
	ck_assert_ptr_null(mc_kube_at(cJSON_GetArrayItem(tol, 0), "effect"));

	ck_assert_int_eq(cJSON_GetArraySize(at(m, "spec.containers")), 1);
	c = cJSON_GetArrayItem(at(m, "spec.containers"), 0);
	ck_assert_str_eq(mc_kube_str(c, "name"), "tcpdump");
	ck_assert_str_eq(mc_kube_str(c, "image"), MC_KUBE_CAPTURE_IMAGE);
	ck_assert_str_eq(mc_kube_str(c, "image"), "nicolaka/netshoot:v0.13");
	ck_assert(cJSON_IsTrue(at(c, "securityContext.privileged")));
	cmd = at(c, "command");
	ck_assert_int_eq(cJSON_GetArraySize(cmd), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(cmd, 0)->valuestring, "sleep");
	ck_assert_str_eq(cJSON_GetArrayItem(cmd, 1)->valuestring, "3600");
	cJSON_Delete(m);

	o.image = "registry.example.com/tools/tcpdump:4.99";
	m = mc_kube_capture_manifest(&o, "meshcheck-capture-b2c4d", err, sizeof(err));
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(mc_kube_str(cJSON_GetArrayItem(at(m, "spec.containers"), 0), "image"),
			 "registry.example.com/tools/tcpdump:4.99");
	cJSON_Delete(m);

	/* What a capture cannot do without. */
	o = opts("kind-c1");
	o.node = NULL;
	ck_assert_ptr_null(mc_kube_capture_manifest(&o, "meshcheck-capture-x", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no node"));
	o = opts("kind-c1");
	o.run_id = "not a label value";
	ck_assert_ptr_null(mc_kube_capture_manifest(&o, "meshcheck-capture-x", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot be a label value"));
	o = opts("kind-c1");
	o.filter = "";
	ck_assert_ptr_null(mc_kube_capture_manifest(&o, "meshcheck-capture-x", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no filter"));
	o = opts("kind-c1");
	o.ns = NULL;
	ck_assert_ptr_null(mc_kube_capture_manifest(&o, "meshcheck-capture-x", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no namespace"));
}
END_TEST

START_TEST(test_denied)
{
	char reason[512];

	ck_assert(mc_kube_capture_denied(
		"Error from server (Forbidden): error when creating \"STDIN\": pods \"meshcheck-capture-x\" is "
		"forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true), privileged "
		"(container \"tcpdump\" must not set securityContext.privileged=true)\n",
		reason, sizeof(reason)));
	ck_assert_str_eq(reason, "violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true), "
				 "privileged (container \"tcpdump\" must not set securityContext.privileged=true)");
	ck_assert(mc_kube_capture_denied(
		"Error from server (Forbidden): pods is forbidden: User \"x\" cannot create resource \"pods\" in API "
		"group \"\" in the namespace \"y\"\n",
		reason, sizeof(reason)));
	ck_assert_str_eq(reason, "User \"x\" cannot create resource \"pods\" in API group \"\" in the namespace \"y\"");
	/* RBAC on exec, as kubectl exec says it. */
	ck_assert(mc_kube_capture_denied(
		"Error from server (Forbidden): pods \"meshcheck-capture-x\" is forbidden: User \"dev\" cannot create "
		"resource \"pods/exec\" in API group \"\" in the namespace \"meshcheck-system\"\n",
		reason, sizeof(reason)));
	ck_assert_str_eq(reason, "User \"dev\" cannot create resource \"pods/exec\" in API group \"\" in the "
				 "namespace \"meshcheck-system\"");
	ck_assert(mc_kube_capture_denied(
		"Error from server (Forbidden): error when creating \"STDIN\": admission webhook "
		"\"validation.gatekeeper.sh\" denied the request: [psp-host-network] hostNetwork is not allowed\n",
		reason, sizeof(reason)));
	ck_assert_str_eq(reason, "admission webhook \"validation.gatekeeper.sh\" denied the request: "
				 "[psp-host-network] hostNetwork is not allowed");

	ck_assert(!mc_kube_capture_denied("Error from server (NotFound): namespaces \"x\" not found\n",
					  reason, sizeof(reason)));
	ck_assert_str_eq(reason, "");
	ck_assert(!mc_kube_capture_denied("Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout\n",
					  reason, sizeof(reason)));
	ck_assert(!mc_kube_capture_denied(NULL, reason, sizeof(reason)));
}
END_TEST

/* ---- whole captures through the fake ---------------------------------- */

START_TEST(test_capture_full)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	const char *canaries[] = { REC_CANARY };
	struct mc_wire_options wo = { .canaries = canaries, .n_canaries = 1 };
	struct mc_flow_match match = { .addr = "127.0.0.1", .port = 8443 };
	struct mc_wire_expect ex = { .match = &match, .n_match = 1, .all_tls = true, .no_canary = true,
				     .min_flows = 3 };
	struct mc_wire_verdict v;
	struct mc_wire_stats st;
	struct mc_kube_capture *c = NULL;
	struct mc_kube k;
	struct mc_wire *w;
	char err[MC_ERRLEN], line[512];
	char *path = NULL, *log, *pod, *state;
	size_t tls = 0;
	int rc;

	kube(&k);
	rc = mc_kube_capture_start(&k, &o, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_nonnull(c);
	pod = mc_xstrdup(mc_kube_capture_pod(c));
	ck_assert_int_eq(strncmp(pod, "meshcheck-capture-", 18), 0);
	ck_assert_uint_eq(strlen(pod), 18 + 5);
	/* The pod exists (in the fake's state) while the capture runs. */
	state = mc_xasprintf("%s/kind-c1/meshcheck-system/pod-%s.json", tmp, pod);
	ck_assert_int_eq(access(state, F_OK), 0);

	w = mc_wire_new(&wo, err, sizeof(err));
	ck_assert_ptr_nonnull(w);
	rc = mc_kube_capture_stop(c, w, &path, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(err, "");
	ck_assert_ptr_nonnull(path);
	ck_assert_str_eq(path, mc_kube_capture_path(c));
	snprintf(line, sizeof(line), "%s/%s.pcap", evidence, pod);
	ck_assert_str_eq(path, line);
	ck_assert_int_eq(access(path, R_OK), 0);
	ck_assert_int_eq(mc_kube_capture_stop(c, w, NULL, err, sizeof(err)), -EALREADY);
	mc_kube_capture_free(c);

	/* The recorded connections, all TLS, the canary nowhere in clear. */
	mc_wire_stats_get(w, &st);
	ck_assert(!st.truncated_file);
	ck_assert_uint_ge(mc_wire_flow_count(w), 3);
	for (size_t i = 0; i < mc_wire_flow_count(w); i++) {
		struct mc_flow_view f;

		mc_wire_flow_get(w, i, &f);
		ck_assert_int_eq(f.server_port, 8443);
		if (f.cls == MC_FLOW_TLS)
			tls++;
	}
	ck_assert_uint_eq(tls, 3);
	mc_wire_judge(w, &ex, &v);
	ck_assert_msg(v.ok, "%s", v.reason);
	ck_assert_uint_eq(v.tls, 3);
	ck_assert_uint_eq(v.canary_hits, 0);
	mc_wire_free(w);

	/* What was asked of the cluster, in order; the pod is gone. */
	log = logged();
	snprintf(line, sizeof(line), "kubectl --context kind-c1 apply -f -\n");
	ck_assert_ptr_nonnull(strstr(log, line));
	snprintf(line, sizeof(line), "kubectl --context kind-c1 get pod %s -n meshcheck-system -o json\n", pod);
	ck_assert_ptr_nonnull(strstr(log, line));
	snprintf(line, sizeof(line),
		 "kubectl --context kind-c1 exec -n meshcheck-system %s -c tcpdump -- tcpdump -i any -U -w - -s 65535 "
		 "'host 127.0.0.1 and tcp port 8443'\n", pod);
	ck_assert_msg(strstr(log, line) != NULL, "no exec line in:\n%s", log);
	snprintf(line, sizeof(line),
		 "kubectl --context kind-c1 delete pod %s -n meshcheck-system --wait=false --ignore-not-found\n", pod);
	ck_assert_ptr_nonnull(strstr(log, line));
	ck_assert_uint_eq(count(log, " delete pod "), 1);
	ck_assert(strstr(log, "apply") < strstr(log, " get pod "));
	ck_assert(strstr(log, " get pod ") < strstr(log, " exec "));
	ck_assert(strstr(log, " exec ") < strstr(log, " delete pod "));
	ck_assert_int_ne(access(state, F_OK), 0);

	free(log);
	free(state);
	free(pod);
	free(path);
	mc_kube_clear(&k);
}
END_TEST

/* tcpdump killed inside a packet record: the file is read up to there. */
START_TEST(test_capture_cut_short)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	struct mc_kube_capture *c = NULL;
	struct mc_wire_stats st;
	struct stat sb;
	struct mc_kube k;
	struct mc_wire *w;
	char err[MC_ERRLEN], bytes[32];
	int rc;

	ck_assert_int_eq(stat(RECORDED "/kind-c1/capture.pcap", &sb), 0);
	snprintf(bytes, sizeof(bytes), "%lld", (long long)sb.st_size - 7);
	setenv("FAKE_KUBE_PCAP_BYTES", bytes, 1);
	kube(&k);
	rc = mc_kube_capture_start(&k, &o, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	w = mc_wire_new(NULL, err, sizeof(err));
	rc = mc_kube_capture_stop(c, w, NULL, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	mc_wire_stats_get(w, &st);
	ck_assert(st.truncated_file);
	ck_assert_uint_ge(mc_wire_flow_count(w), 3);
	mc_wire_free(w);
	mc_kube_capture_free(c);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_capture_pod_security)
{
	struct mc_kube_capture_opts o = opts("kind-psa");
	struct mc_kube_capture *c = (struct mc_kube_capture *)&o;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	kube(&k);
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), -EPERM);
	ck_assert_ptr_null(c);
	ck_assert_msg(strncmp(err, "capture not permitted in kind-psa: violates PodSecurity \"baseline:latest\": "
				   "host namespaces (hostNetwork=true), privileged (container \"tcpdump\" must not "
				   "set securityContext.privileged=true)", 200) == 0 && strchr(err, '\n') == NULL,
		      "%s", err);
	log = logged();
	ck_assert_uint_eq(count(log, "kubectl --context kind-psa apply -f -"), 1);
	ck_assert_uint_eq(count(log, " exec "), 0);
	ck_assert_uint_eq(count(log, " get pod "), 0);
	/* Deleted all the same (an apply that timed out may have created it), and no empty pcap left. */
	ck_assert_uint_eq(count(log, "kubectl --context kind-psa delete pod meshcheck-capture-"), 1);
	ck_assert_uint_eq(evidence_files(), 0);
	free(log);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_capture_pod_not_running)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	struct mc_kube_capture *c = NULL;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	setenv("FAKE_KUBE_POD_WAITING",
	       "ImagePullBackOff: Back-off pulling image \"nicolaka/netshoot:v0.13\"", 1);
	o.ready_timeout_ms = 1200;
	kube(&k);
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "kind-c1: capture pod meshcheck-system/meshcheck-capture-") == err, "%s", err);
	ck_assert_msg(strstr(err, "on node kind-c1-worker not running after 2 s: phase Pending") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "image pull: container tcpdump: ImagePullBackOff: Back-off pulling image "
				  "\"nicolaka/netshoot:v0.13\"") != NULL, "%s", err);
	log = logged();
	ck_assert_uint_ge(count(log, " get pod meshcheck-capture-"), 2);
	ck_assert_uint_eq(count(log, " exec "), 0);
	ck_assert_uint_eq(count(log, "kubectl --context kind-c1 delete pod meshcheck-capture-"), 1);
	ck_assert_uint_eq(evidence_files(), 0);
	free(log);
	mc_kube_clear(&k);
}
END_TEST

/* The exec ends before tcpdump writes anything (here: no recording for kind-c2). */
START_TEST(test_capture_exec_fails)
{
	struct mc_kube_capture_opts o = opts("kind-c2");
	struct mc_kube_capture *c = NULL;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	kube(&k);
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), -EIO);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "kubectl exec ended (status 1) before tcpdump started") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "no recorded/kind-c2/capture.pcap") != NULL, "%s", err);
	log = logged();
	ck_assert_uint_eq(count(log, " exec -n meshcheck-system meshcheck-capture-"), 1);
	ck_assert_uint_eq(count(log, "kubectl --context kind-c2 delete pod meshcheck-capture-"), 1);
	ck_assert_uint_eq(evidence_files(), 0);
	free(log);

	/* An unknown context fails at the apply, kubectl's words kept; the delete is still tried. */
	o = opts("kind-nope");
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), -ENXIO);
	ck_assert_msg(strstr(err, "context \"kind-nope\" does not exist") != NULL, "%s", err);
	log = logged();
	ck_assert_uint_eq(count(log, "kubectl --context kind-nope delete pod meshcheck-capture-"), 1);
	free(log);
	mc_kube_clear(&k);
}
END_TEST

/* A capture given up without stop still ends its child and deletes its pod. */
START_TEST(test_capture_free_cleans)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	struct mc_kube_capture *c = NULL;
	struct mc_kube k;
	char err[MC_ERRLEN], line[256];
	char *log, *state;

	kube(&k);
	ck_assert_msg(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)) == 0, "%s", err);
	state = mc_xasprintf("%s/kind-c1/meshcheck-system/pod-%s.json", tmp, mc_kube_capture_pod(c));
	snprintf(line, sizeof(line), "kubectl --context kind-c1 delete pod %s -n meshcheck-system", mc_kube_capture_pod(c));
	mc_kube_capture_free(c);
	log = logged();
	ck_assert_uint_eq(count(log, line), 1);
	ck_assert_int_ne(access(state, F_OK), 0);
	/* The child was waited for: no child of ours is left. */
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	free(log);
	free(state);
	mc_kube_capture_free(NULL);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_capture_dry_run)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	struct mc_kube_capture *c = (struct mc_kube_capture *)&o;
	char *outpath = mc_xasprintf("%s/dry.txt", tmp);
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *out, *log;

	kube(&k);
	k.dry_run = true;
	k.dry_out = fopen(outpath, "w");
	ck_assert_ptr_nonnull(k.dry_out);
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), MC_KUBE_CAPTURE_DRY_RUN);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "dry run: capture pod meshcheck-capture-"));
	fclose(k.dry_out);
	k.dry_out = NULL;
	out = t_read(outpath);
	ck_assert_msg(strstr(out, "dry-run [kind-c1]: kubectl --context kind-c1 apply -f -\n") == out, "%s", out);
	ck_assert_msg(strstr(out, "  Pod/meshcheck-capture-") != NULL, "%s", out);
	ck_assert_msg(strstr(out, " in namespace meshcheck-system: node kind-c1-worker, image nicolaka/netshoot:v0.13, "
				  "hostNetwork, privileged, meshcheck.io/run=r20261123-0915") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "dry-run [kind-c1]: kubectl --context kind-c1 exec -n meshcheck-system "
				  "meshcheck-capture-") != NULL, "%s", out);
	ck_assert_msg(strstr(out, " -c tcpdump -- tcpdump -i any -U -w - -s 65535 'host 127.0.0.1 and tcp port 8443'\n")
		      != NULL, "%s", out);
	/* Nothing ran, nothing was written. */
	log = logged();
	ck_assert_str_eq(log, "");
	ck_assert_int_ne(access(evidence, F_OK), 0);
	free(log);
	free(out);
	free(outpath);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_capture_bad_opts)
{
	struct mc_kube_capture_opts o = opts("kind-c1");
	struct mc_kube_capture *c = NULL;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	kube(&k);
	o.filter = NULL;
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), -EINVAL);
	o = opts("kind-c1");
	o.dir = NULL;
	ck_assert_int_eq(mc_kube_capture_start(&k, &o, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no folder"));
	ck_assert_ptr_null(c);
	log = logged();
	ck_assert_str_eq(log, "");
	free(log);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_spawn_reap)
{
	const char *args[] = { "exec", "-n", "meshcheck-system", "meshcheck-capture-zz9zz", "-c", "tcpdump", "--",
			       "tcpdump", "-i", "any", "-U", "-w", "-", REC_FILTER, NULL };
	const char *apply[] = { "apply", "-f", "-", NULL };
	struct mc_kube_result res;
	struct mc_kube k;
	char err[MC_ERRLEN];
	pid_t pid = 0;

	kube(&k);
	ck_assert_int_eq(mc_kube_call(&k, "kind-c1", apply,
				      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"meshcheck-capture-zz9zz\","
				      "\"namespace\":\"meshcheck-system\"},\"spec\":{\"containers\":[{\"name\":\"tcpdump\"}]}}",
				      &res, err, sizeof(err)), 0);
	ck_assert_str_eq(res.out, "pod/meshcheck-capture-zz9zz created\n");
	mc_kube_result_clear(&res);
	/* A child that runs until told to stop: SIGTERM ends it. */
	ck_assert_msg(mc_kube_spawn(&k, "kind-c1", args, -1, -1, &pid, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_gt(pid, 0);
	usleep(300 * 1000);
	ck_assert_int_eq(mc_kube_reap(pid, 5000), 128 + SIGTERM);
	/* Reaped: not ours any more. */
	ck_assert_int_eq(mc_kube_reap(pid, 100), -ECHILD);
	ck_assert_int_eq(mc_kube_reap(0, 100), 0);
	/* A child that already ended gives its exit status. */
	ck_assert_int_eq(mc_kube_spawn(&k, "kind-nope", apply, -1, -1, &pid, err, sizeof(err)), 0);
	usleep(300 * 1000);
	ck_assert_int_eq(mc_kube_reap(pid, 100), 1);
	/* Dry run: printed, nothing started. */
	k.dry_run = true;
	k.dry_out = fopen("/dev/null", "w");
	ck_assert_int_eq(mc_kube_spawn(&k, "kind-c1", args, -1, -1, &pid, err, sizeof(err)), 0);
	ck_assert_int_eq(pid, 0);
	fclose(k.dry_out);
	mc_kube_clear(&k);
}
END_TEST

/* ---- workload chains --------------------------------------------------- */

static char *
recorded(const char *name, size_t *len)
{
	char *path = mc_xasprintf("%s/%s", RECORDED, name);
	char *data = t_read(path);

	free(path);
	*len = strlen(data);
	return data;
}

START_TEST(test_chain_istioctl_recorded)
{
	struct mc_verify_options vo = { .spiffe_pattern = "spiffe://cluster.local/ns/mc-sample/sa/*" };
	struct mc_chain *chain = NULL, *roots = NULL;
	struct mc_verify_result vr;
	struct mc_cert_info info;
	char err[MC_ERRLEN];
	char *chain_pem, *root_pem, *json;
	size_t len;
	int rc;

	json = recorded("kind-c1/istioctl-proxy-config-secret.json", &len);
	rc = mc_kube_chain_from_istioctl(json, len, &chain_pem, &root_pem, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(count(chain_pem, "-----BEGIN CERTIFICATE-----"), 3);
	ck_assert_uint_eq(count(root_pem, "-----BEGIN CERTIFICATE-----"), 1);

	/* The PKI engine verifies the recorded chain against the recorded root. */
	ck_assert_int_eq(mc_chain_parse_pem(chain_pem, strlen(chain_pem), "default", &chain, err, sizeof(err)), 0);
	ck_assert_int_eq(mc_chain_parse_pem(root_pem, strlen(root_pem), "ROOTCA", &roots, err, sizeof(err)), 0);
	ck_assert_uint_eq(mc_chain_count(chain), 3);
	ck_assert_int_eq(mc_cert_info_get(chain, 0, &info, err, sizeof(err)), 0);
	ck_assert_str_eq(info.spiffe, "spiffe://cluster.local/ns/mc-sample/sa/sleep");
	ck_assert_str_eq(info.subject, "");
	/* Inside the leaf's day of validity, as when it was recorded. */
	vo.now = info.not_before + 3600;
	mc_cert_info_clear(&info);
	ck_assert_int_eq(mc_chain_verify(chain, roots, &vo, &vr, err, sizeof(err)), 0);
	ck_assert_msg(vr.chains_to_root, "%s", vr.verify_error != NULL ? vr.verify_error : "?");
	ck_assert_str_eq(vr.leaf_spiffe, "spiffe://cluster.local/ns/mc-sample/sa/sleep");
	for (size_t i = 0; i < vr.n_checks; i++)
		ck_assert_msg(vr.checks[i].ok, "%s: %s", vr.checks[i].name, vr.checks[i].detail);
	ck_assert(vr.ok);
	mc_verify_result_clear(&vr);
	mc_chain_free(chain);
	mc_chain_free(roots);
	free(chain_pem);
	free(root_pem);

	/* The root is optional to ask for. */
	ck_assert_int_eq(mc_kube_chain_from_istioctl(json, len, &chain_pem, NULL, err, sizeof(err)), 0);
	free(chain_pem);
	free(json);
}
END_TEST

/* Runs the istioctl parser on the recorded document after edit() changed it. */
static int
istioctl_edited(void (*edit)(cJSON *), char **chain, char **root, char *err, size_t errlen)
{
	size_t len;
	char *json = recorded("kind-c1/istioctl-proxy-config-secret.json", &len);
	cJSON *doc = cJSON_Parse(json);
	char *text;
	int rc;

	ck_assert_ptr_nonnull(doc);
	edit(doc);
	text = cJSON_PrintUnformatted(doc);
	rc = mc_kube_chain_from_istioctl(text, strlen(text), chain, root, err, errlen);
	if (rc != 0) {
		ck_assert_ptr_null(*chain);
		if (root != NULL)
			ck_assert_ptr_null(*root);
	}
	free(text);
	free(json);
	cJSON_Delete(doc);
	return rc;
}

static cJSON *
secret_at(cJSON *doc, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "dynamicActiveSecrets"), i);
}

static void
drop_default(cJSON *doc)
{
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(doc, "dynamicActiveSecrets"), 0);
}

static void
default_warming(cJSON *doc)
{
	cJSON *s = cJSON_DetachItemFromArray(cJSON_GetObjectItem(doc, "dynamicActiveSecrets"), 0);

	cJSON_AddItemToObject(doc, "dynamicWarmingSecrets", cJSON_CreateArray());
	cJSON_AddItemToArray(cJSON_GetObjectItem(doc, "dynamicWarmingSecrets"), s);
}

static void
drop_root(cJSON *doc)
{
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(doc, "dynamicActiveSecrets"), 1);
}

static void
drop_tls_certificate(cJSON *doc)
{
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(secret_at(doc, 0), "secret"), "tlsCertificate");
}

static void
set_chain(cJSON *doc, cJSON *value)
{
	cJSON *cc = (cJSON *)mc_kube_at(secret_at(doc, 0), "secret.tlsCertificate.certificateChain");

	cJSON_ReplaceItemInObject(cc, "inlineBytes", value);
}

static void
chain_bad_base64(cJSON *doc)
{
	set_chain(doc, cJSON_CreateString("LS0tLS1CRUdJTi@@CRVJUSUZJQ0FURS0tLS0t"));
}

static void
chain_not_pem(cJSON *doc)
{
	set_chain(doc, cJSON_CreateString("aGVsbG8sIHdvcmxkCg=="));   /* "hello, world\n" */
}

static void
chain_number(cJSON *doc)
{
	set_chain(doc, cJSON_CreateNumber(42));
}

static void
chain_as_file(cJSON *doc)
{
	cJSON *cc = (cJSON *)mc_kube_at(secret_at(doc, 0), "secret.tlsCertificate.certificateChain");

	cJSON_DeleteItemFromObject(cc, "inlineBytes");
	cJSON_AddStringToObject(cc, "filename", "/etc/certs/cert-chain.pem");
}

static void
secrets_not_array(cJSON *doc)
{
	cJSON_ReplaceItemInObject(doc, "dynamicActiveSecrets", cJSON_CreateObject());
}

START_TEST(test_chain_istioctl_malformed)
{
	char err[MC_ERRLEN];
	char *chain = (char *)"x", *root = (char *)"x";
	size_t len;
	char *json;

	ck_assert_int_eq(mc_kube_chain_from_istioctl("not json", 8, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "istioctl proxy-config secret: output is not JSON (byte 0 of 8)");
	ck_assert_ptr_null(chain);
	ck_assert_int_eq(mc_kube_chain_from_istioctl("", 0, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "empty output"));
	ck_assert_int_eq(mc_kube_chain_from_istioctl("[]", 2, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	ck_assert_int_eq(mc_kube_chain_from_istioctl("{}", 2, &chain, &root, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no dynamicActiveSecrets"));
	/* Cut in the middle, as a killed istioctl would leave it. */
	json = recorded("kind-c1/istioctl-proxy-config-secret.json", &len);
	ck_assert_int_eq(mc_kube_chain_from_istioctl(json, len / 2, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "is not JSON"));
	free(json);

	ck_assert_int_eq(istioctl_edited(secrets_not_array, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "istioctl proxy-config secret: dynamicActiveSecrets is not an array");
	ck_assert_int_eq(istioctl_edited(drop_default, &chain, &root, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "istioctl proxy-config secret: no \"default\" secret in dynamicActiveSecrets (it has: \"ROOTCA\")");
	ck_assert_int_eq(istioctl_edited(default_warming, &chain, &root, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "secret \"default\" is still warming"));
	ck_assert_int_eq(istioctl_edited(drop_root, &chain, &root, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "istioctl proxy-config secret: no \"ROOTCA\" secret in dynamicActiveSecrets (it has: \"default\")");
	ck_assert_int_eq(istioctl_edited(drop_root, &chain, NULL, err, sizeof(err)), 0);
	free(chain);
	ck_assert_int_eq(istioctl_edited(drop_tls_certificate, &chain, &root, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "istioctl proxy-config secret: secret \"default\" has no secret.tlsCertificate");
	ck_assert_int_eq(istioctl_edited(chain_bad_base64, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_str_eq(err, "istioctl proxy-config secret: secret \"default\": "
			      "secret.tlsCertificate.certificateChain.inlineBytes is not valid base64 (at character 14 of 37)");
	ck_assert_int_eq(istioctl_edited(chain_not_pem, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "does not decode to PEM certificates"));
	ck_assert_int_eq(istioctl_edited(chain_number, &chain, &root, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "inlineBytes is not a string"));
	ck_assert_int_eq(istioctl_edited(chain_as_file, &chain, &root, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "names the file /etc/certs/cert-chain.pem, not inline bytes"));
}
END_TEST

START_TEST(test_certs_envoy_recorded)
{
	struct mc_envoy_certs ec;
	char err[MC_ERRLEN];
	size_t len;
	char *json = recorded("kind-c1/pilot-agent-certs.json", &len);

	ck_assert_msg(mc_kube_certs_from_envoy(json, len, &ec, err, sizeof(err)) == 0, "%s", err);
	/* Four TLS contexts, one leaf and one root. */
	ck_assert_uint_eq(ec.n_chain, 1);
	ck_assert_uint_eq(ec.n_ca, 1);
	ck_assert_str_eq(ec.spiffe, "spiffe://cluster.local/ns/mc-sample/sa/sleep");
	ck_assert_str_eq(ec.chain[0].path, "<inline>");
	ck_assert_str_eq(ec.chain[0].serial, "1bfdf4ef2613d689cdf6ca4ef379b1ae");
	ck_assert_uint_eq(ec.chain[0].n_sans, 1);
	ck_assert_str_eq(ec.chain[0].sans[0], "URI:spiffe://cluster.local/ns/mc-sample/sa/sleep");
	ck_assert_int_eq(ec.chain[0].days_until_expiration, 0);
	ck_assert_int_eq((long long)ec.chain[0].valid_from, 1795435758LL);        /* 2026-11-23T12:09:18Z */
	ck_assert_int_eq((long long)ec.chain[0].expiration_time, 1795522158LL);   /* 2026-11-24T12:09:18Z */
	ck_assert_str_eq(ec.ca[0].serial, "7fdedcf216d2641e");
	ck_assert_uint_eq(ec.ca[0].n_sans, 0);
	ck_assert_int_eq(ec.ca[0].days_until_expiration, 3649);
	ck_assert_int_eq((long long)(ec.ca[0].expiration_time - ec.ca[0].valid_from), 3650LL * 86400);
	mc_envoy_certs_clear(&ec);
	free(json);
}
END_TEST

static int
envoy(const char *json, char *err, size_t errlen)
{
	struct mc_envoy_certs ec;
	int rc = mc_kube_certs_from_envoy(json, strlen(json), &ec, err, errlen);

	mc_envoy_certs_clear(&ec);
	return rc;
}

START_TEST(test_certs_envoy_malformed)
{
	char err[MC_ERRLEN];
	size_t len;
	char *json;

	ck_assert_int_eq(envoy("<html>404</html>", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "pilot-agent request GET certs: output is not JSON"));
	ck_assert_int_eq(envoy("{}", err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "pilot-agent request GET certs: no \"certificates\" in the output");
	ck_assert_int_eq(envoy("{\"certificates\": {}}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "\"certificates\" is not an array"));
	ck_assert_int_eq(envoy("{\"certificates\": []}", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no workload certificate (cert_chain is empty in all 0 entries)"));
	ck_assert_int_eq(envoy("{\"certificates\": [{\"ca_cert\": [], \"cert_chain\": []}]}", err, sizeof(err)), -ENOENT);
	ck_assert_int_eq(envoy("{\"certificates\": [7]}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "certificates[0] is not an object"));
	ck_assert_int_eq(envoy("{\"certificates\": [{\"cert_chain\": {}}]}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "certificates[0].cert_chain is not an array"));
	ck_assert_int_eq(envoy("{\"certificates\": [{\"cert_chain\": [{\"path\": \"<inline>\"}]}]}", err, sizeof(err)),
			 -ENOENT);
	ck_assert_str_eq(err, "pilot-agent request GET certs: certificates[0].cert_chain[0] has no serial_number");
	ck_assert_int_eq(envoy("{\"certificates\": [{\"cert_chain\": [{\"serial_number\": \"01\", "
			       "\"valid_from\": \"yesterday\"}]}]}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "certificates[0].cert_chain[0].valid_from is not an RFC 3339 time"));
	ck_assert_int_eq(envoy("{\"certificates\": [{\"cert_chain\": [{\"serial_number\": \"01\", "
			       "\"days_until_expiration\": \"soon\"}]}]}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "days_until_expiration \"soon\" is not a count of days"));
	ck_assert_int_eq(envoy("{\"certificates\": [{\"cert_chain\": [{\"serial_number\": \"01\", "
			       "\"subject_alt_names\": [{\"email\": \"a@b\"}]}]}]}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "subject_alt_names has an entry without uri, dns or ip_address"));
	ck_assert_int_eq(envoy("{\"certificates\": [{\"ca_cert\": [{\"serial_number\": 12}], \"cert_chain\": "
			       "[{\"serial_number\": \"01\"}]}]}", err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "certificates[0].ca_cert[0].serial_number is not a non-empty string"));

	/* Minimal but whole: a leaf with a DNS SAN and times with fractions and offsets. */
	{
		struct mc_envoy_certs ec;
		const char *j = "{\"certificates\": [{\"cert_chain\": [{\"serial_number\": \"0a\", "
				"\"subject_alt_names\": [{\"dns\": \"web.example\"}, {\"ip_address\": \"10.0.0.1\"}], "
				"\"days_until_expiration\": 5, \"valid_from\": \"2026-11-23T12:09:18.250Z\", "
				"\"expiration_time\": \"2026-11-24T14:09:18+02:00\"}]}]}";

		ck_assert_msg(mc_kube_certs_from_envoy(j, strlen(j), &ec, err, sizeof(err)) == 0, "%s", err);
		ck_assert_ptr_null(ec.spiffe);
		ck_assert_str_eq(ec.chain[0].sans[0], "DNS:web.example");
		ck_assert_str_eq(ec.chain[0].sans[1], "IP:10.0.0.1");
		ck_assert_int_eq(ec.chain[0].days_until_expiration, 5);
		ck_assert_int_eq((long long)ec.chain[0].valid_from, 1795435758LL);
		ck_assert_int_eq((long long)ec.chain[0].expiration_time, 1795522158LL);
		ck_assert_ptr_null(ec.chain[0].path);
		mc_envoy_certs_clear(&ec);
	}

	json = recorded("kind-c1/pilot-agent-certs.json", &len);
	json[len / 3] = '\0';
	ck_assert_int_eq(envoy(json, err, sizeof(err)), -EPROTO);
	free(json);
}
END_TEST

START_TEST(test_workload_chain_istioctl)
{
	struct mc_kube_chain ch;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;

	kube(&k);
	ck_assert_ptr_nonnull(k.istioctl);
	ck_assert_msg(mc_kube_workload_chain(&k, "kind-c1", "mc-sample", SLEEP_POD, &ch, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert(ch.have_pem);
	ck_assert_str_eq(ch.source, "istioctl proxy-config secret");
	ck_assert_uint_eq(count(ch.chain_pem, "BEGIN CERTIFICATE"), 3);
	ck_assert_uint_eq(count(ch.root_pem, "BEGIN CERTIFICATE"), 1);
	mc_kube_chain_clear(&ch);
	log = logged();
	ck_assert_uint_eq(count(log, "istioctl --context kind-c1 proxy-config secret " SLEEP_POD " -n mc-sample -o json\n"), 1);
	ck_assert_uint_eq(count(log, "kubectl"), 0);
	free(log);

	/* No recording for kind-c2: istioctl's own words, with the context. */
	ck_assert_int_lt(mc_kube_workload_chain(&k, "kind-c2", "mc-sample", SLEEP_POD, &ch, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "kind-c2: istioctl proxy-config secret") == err, "%s", err);
	ck_assert_msg(strstr(err, "pods \"" SLEEP_POD "\" not found") != NULL, "%s", err);
	mc_kube_chain_clear(&ch);
	mc_kube_clear(&k);
}
END_TEST

START_TEST(test_workload_chain_pilot_agent)
{
	struct mc_kube_chain ch;
	struct mc_kube k;
	char err[MC_ERRLEN];
	char *log;
	FILE *dry;

	setenv("MC_ISTIOCTL", "", 1);
	kube(&k);
	ck_assert_ptr_null(k.istioctl);
	ck_assert_msg(mc_kube_workload_chain(&k, "kind-c1", "mc-sample", SLEEP_POD, &ch, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert(!ch.have_pem);
	ck_assert_ptr_null(ch.chain_pem);
	ck_assert_str_eq(ch.source, "pilot-agent request GET certs");
	ck_assert_str_eq(ch.details.spiffe, "spiffe://cluster.local/ns/mc-sample/sa/sleep");
	ck_assert_uint_eq(ch.details.n_chain, 1);
	ck_assert_ptr_nonnull(strstr(ch.note, "no PEM"));
	mc_kube_chain_clear(&ch);
	log = logged();
	ck_assert_uint_eq(count(log, "kubectl --context kind-c1 exec " SLEEP_POD
				     " -n mc-sample -c istio-proxy -- pilot-agent request GET certs\n"), 1);
	free(log);

	/* A pod that does not exist: kubectl's words. */
	ck_assert_int_eq(mc_kube_workload_chain(&k, "kind-c1", "mc-sample", "sleep-gone", &ch, err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(err, "kind-c1: kubectl exec sleep-gone") == err, "%s", err);
	ck_assert_msg(strstr(err, "Error from server (NotFound): pods \"sleep-gone\" not found") != NULL, "%s", err);
	mc_kube_chain_clear(&ch);
	ck_assert_int_eq(mc_kube_workload_chain(&k, "kind-c1", "", SLEEP_POD, &ch, err, sizeof(err)), -EINVAL);
	mc_kube_chain_clear(&ch);

	/* Dry run: exec is printed, not run. */
	dry = fopen("/dev/null", "w");
	k.dry_run = true;
	k.dry_out = dry;
	ck_assert_int_eq(mc_kube_workload_chain(&k, "kind-c1", "mc-sample", SLEEP_POD, &ch, err, sizeof(err)),
			 MC_KUBE_CHAIN_DRY_RUN);
	ck_assert(!ch.have_pem);
	mc_kube_chain_clear(&ch);
	fclose(dry);
	mc_kube_clear(&k);
}
END_TEST

static Suite *
capture_suite(void)
{
	Suite *s = suite_create("kube-capture");
	TCase *tc;

	tc = tcase_create("pod");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_manifest);
	tcase_add_test(tc, test_denied);
	suite_add_tcase(s, tc);

	tc = tcase_create("capture");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_capture_full);
	tcase_add_test(tc, test_capture_cut_short);
	tcase_add_test(tc, test_capture_pod_security);
	tcase_add_test(tc, test_capture_pod_not_running);
	tcase_add_test(tc, test_capture_exec_fails);
	tcase_add_test(tc, test_capture_free_cleans);
	tcase_add_test(tc, test_capture_dry_run);
	tcase_add_test(tc, test_capture_bad_opts);
	tcase_add_test(tc, test_spawn_reap);
	suite_add_tcase(s, tc);

	tc = tcase_create("chains");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chain_istioctl_recorded);
	tcase_add_test(tc, test_chain_istioctl_malformed);
	tcase_add_test(tc, test_certs_envoy_recorded);
	tcase_add_test(tc, test_certs_envoy_malformed);
	tcase_add_test(tc, test_workload_chain_istioctl);
	tcase_add_test(tc, test_workload_chain_pilot_agent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_main(capture_suite());
}
