/*
 * Captures on a cluster node, for the wire checks of the kube target.
 *
 * Proving that mesh traffic is encrypted means looking at it where it
 * travels between nodes: on the node of the destination workload. For that
 * a capture pod is created on that node (spec.nodeName), in the host's
 * network namespace (hostNetwork: true) and privileged, whose container only
 * sleeps; tcpdump is then started in it through `kubectl exec` and writes a
 * pcap stream (`tcpdump -i any -U -w -`) that kubectl copies to a file in
 * the caller's evidence folder. Stopping ends the kubectl child by its PID,
 * feeds the file to the wire engine and deletes the pod.
 *
 * The pod (what mc_kube_capture_manifest builds, applied as JSON with
 * `kubectl apply -f -`):
 *   name       meshcheck-capture-<5 random characters>, in the caller's namespace
 *   labels     meshcheck.io/run=<run id> (so `meshcheck clean` finds leftovers),
 *              app=meshcheck-capture, sidecar.istio.io/inject=false
 *   annotation sidecar.istio.io/inject: "false" (older injectors read only that)
 *   spec       nodeName, hostNetwork, restartPolicy Never,
 *              terminationGracePeriodSeconds 0, a toleration of every taint,
 *              no service account token
 *   container  "tcpdump", the given image (MC_KUBE_CAPTURE_IMAGE by default),
 *              securityContext.privileged, command `sleep 3600`, so a pod
 *              that nobody deletes ends by itself within the hour
 *
 * A cluster may refuse such a pod: Pod Security admission ("violates
 * PodSecurity "baseline:latest": host namespaces (hostNetwork=true), ..."),
 * RBAC ("User "x" cannot create resource "pods" ..."), an admission webhook,
 * or RBAC on pods/exec. That is a normal outcome: -EPERM with the one line
 *   capture not permitted in <context>: <the cluster's reason>
 * which the wire check reports when it skips the case.
 *
 * The pod is deleted (`kubectl delete pod NAME --wait=false
 * --ignore-not-found`) on success and on every failure after the apply was
 * attempted, and by mc_kube_capture_free when the capture was not stopped.
 *
 * Errors follow util.h: 0 or a negative errno, message in err.
 */
#ifndef MC_KUBE_KCAPTURE_H
#define MC_KUBE_KCAPTURE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "kubectl.h"
#include "wire.h"

/* A small image that ships tcpdump. */
#define MC_KUBE_CAPTURE_IMAGE "nicolaka/netshoot:v0.13"
#define MC_KUBE_CAPTURE_PREFIX "meshcheck-capture-"
#define MC_KUBE_CAPTURE_APP "meshcheck-capture"
#define MC_KUBE_CAPTURE_CONTAINER "tcpdump"
/* What the capture container runs: it ends by itself after an hour. */
#define MC_KUBE_CAPTURE_LIFETIME_S 3600
#define MC_KUBE_CAPTURE_SNAPLEN 65535
#define MC_KUBE_CAPTURE_READY_MS 120000    /* image pull included */
#define MC_KUBE_CAPTURE_TAIL_MS 1000       /* wait for the last packets before stopping */
#define MC_KUBE_CAPTURE_REAP_MS 2000       /* SIGTERM to SIGKILL for the kubectl exec child */

/*
 * What mc_kube_capture_start returns in dry-run mode (struct mc_kube
 * dry_run): the apply and the exec were printed, nothing was created, *out
 * is NULL and there is nothing to stop. Positive, so it is never taken for
 * an errno.
 */
#define MC_KUBE_CAPTURE_DRY_RUN 1

struct mc_kube_capture_opts {
	const char *context;       /* kubectl context (NULL: the current one) */
	const char *ns;            /* namespace for the capture pod (required) */
	const char *node;          /* node to capture on (required) */
	const char *image;         /* NULL: MC_KUBE_CAPTURE_IMAGE */
	const char *run_id;        /* value of the meshcheck.io/run label (required) */
	const char *filter;        /* tcpdump filter, e.g. from mc_kube_capture_filter (required) */
	const char *dir;           /* evidence folder for the pcap (created when missing) */
	int snaplen;               /* 0: MC_KUBE_CAPTURE_SNAPLEN */
	int ready_timeout_ms;      /* pod Running and tcpdump started; 0: MC_KUBE_CAPTURE_READY_MS */
	int tail_ms;               /* wait before stopping; 0: MC_KUBE_CAPTURE_TAIL_MS, <0: none */
};

struct mc_kube_capture;

/*
 * A tcpdump filter for the traffic of one workload: "host 10.244.1.5 and
 * tcp port 8080", "ip6 host fd00:10:244::5 and tcp port 8080" (the address
 * in its canonical form), or without the port part when port is 0. The
 * address must be a literal IPv4 or IPv6 address. Returns 0 or -EINVAL
 * (bad address or port, or out too small) with a message.
 */
int mc_kube_capture_filter(const char *ip, int port, char *out, size_t outlen,
			   char *err, size_t errlen);

/*
 * The capture pod named name for o (see above). NULL with a message when a
 * required option is missing or the run id cannot be a label value. The
 * caller deletes it.
 */
cJSON *mc_kube_capture_manifest(const struct mc_kube_capture_opts *o, const char *name,
				char *err, size_t errlen);

/*
 * Whether kubectl's standard error says the cluster refused (Forbidden:
 * Pod Security, RBAC, an admission webhook). When it does, reason gets the
 * cluster's own reason without kubectl's prefixes, e.g.
 *   violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), ...
 *   User "x" cannot create resource "pods" in API group "" in the namespace "y"
 */
bool mc_kube_capture_denied(const char *stderr_text, char *reason, size_t reasonlen);

/*
 * Creates the capture pod, waits until it runs (polling `get pod -o json`;
 * on timeout the message gives the pod's phase and its containers' waiting
 * reasons in the kubelet's words), starts tcpdump through `kubectl exec`
 * with its output going to <dir>/<pod name>.pcap, and returns when tcpdump
 * has started writing (its pcap header or "listening on" is seen). k must
 * outlive the capture.
 *
 * Returns 0 with *out; MC_KUBE_CAPTURE_DRY_RUN in dry-run mode; -EPERM when
 * the cluster does not permit the capture (see above); -ETIMEDOUT when the
 * pod or tcpdump did not start in time; -ENOENT when the image has no
 * tcpdump; kubectl's errors otherwise. The pod is deleted on every failure.
 */
int mc_kube_capture_start(const struct mc_kube *k, const struct mc_kube_capture_opts *o,
			  struct mc_kube_capture **out, char *err, size_t errlen);

/*
 * Waits tail_ms for the last packets, ends the kubectl exec child by PID,
 * reads the pcap into w (when w is not NULL; a file cut inside its last
 * packet record is read up to there, as mc_wire_read_file does) and
 * deletes the pod. *pcap_path_out (when not NULL) gets the pcap's path
 * (caller frees), also on failure when the file exists.
 *
 * Returns 0, or a negative errno: -EIO when tcpdump produced no capture
 * (with what kubectl or tcpdump said), -EPERM when that was a refusal, the
 * wire engine's error when the file cannot be read. When the capture
 * succeeded but the pod could not be deleted, the return is still 0 and err
 * holds that warning (err is "" otherwise); the pod carries the run label
 * and ends by itself. Stopping twice gives -EALREADY.
 */
int mc_kube_capture_stop(struct mc_kube_capture *c, struct mc_wire *w, char **pcap_path_out,
			 char *err, size_t errlen);

/* Frees c; when it was not stopped, ends the child and deletes the pod first. NULL does nothing. */
void mc_kube_capture_free(struct mc_kube_capture *c);

/* The capture pod's name and the pcap's path, owned by c. */
const char *mc_kube_capture_pod(const struct mc_kube_capture *c);
const char *mc_kube_capture_path(const struct mc_kube_capture *c);

#endif
