/*
 * Waiting for the fixtures to roll out, and saying why a pod is not ready.
 *
 * When a Deployment does not become ready in time, what a user needs is the
 * pod and the reason in the kubelet's own words: an image that cannot be
 * pulled (ImagePullBackOff, with "Back-off pulling image ..."), a container
 * in a crash loop (with its restarts and last exit), a pod that cannot be
 * scheduled, or a pod without the istio-proxy sidecar (its namespace is not
 * labelled for injection, or injection is off for it), which would make
 * every mesh verdict about it meaningless.
 */
#ifndef MC_KUBE_ROLLOUT_H
#define MC_KUBE_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "kubectl.h"

enum mc_pod_trouble {
	MC_POD_IMAGE_PULL,         /* ImagePullBackOff, ErrImagePull, InvalidImageName ... */
	MC_POD_CRASH_LOOP,         /* CrashLoopBackOff */
	MC_POD_CONFIG,             /* CreateContainerConfigError, CreateContainerError, RunContainerError */
	MC_POD_UNSCHEDULABLE,      /* PodScheduled=False, reason Unschedulable */
	MC_POD_NOT_INJECTED,       /* no istio-proxy container */
	MC_POD_NOT_READY,          /* none of the above, but Ready=False */
};

struct mc_pod_problem {
	enum mc_pod_trouble trouble;
	char *pod;
	char *namespace;
	char *container;           /* NULL when about the pod as a whole */
	char *reason;              /* the kubelet's or scheduler's reason, or NULL */
	char *message;             /* its message, or NULL */
	long restarts;
	long last_exit;            /* exit code of the last termination, -1 when none */
	char *last_reason;         /* reason of the last termination (OOMKilled, Error), or NULL */
};

struct mc_pod_problems {
	struct mc_pod_problem *v;
	size_t n;
};

/* "image pull", "crash loop", ... */
const char *mc_pod_trouble_name(enum mc_pod_trouble t);

/*
 * Adds the problems of every pod in a `kubectl get pods -o json` List (or a
 * single Pod). Terminating and finished pods are left out. want_sidecar:
 * a pod without an istio-proxy container (or native sidecar init
 * container) is a problem.
 */
void mc_pod_problems_scan(const cJSON *pods, bool want_sidecar, struct mc_pod_problems *out);
/*
 * One line, e.g.
 *   mc-sample/helloworld-v1-5c8d7b4f9d-x7k2p: image pull: container helloworld:
 *   ImagePullBackOff: Back-off pulling image "registry.istio.io/..."
 */
char *mc_pod_problem_line(const struct mc_pod_problem *p);
void mc_pod_problems_clear(struct mc_pod_problems *pp);

struct mc_rollout_opts {
	const char *context;
	const char *namespace;
	double timeout_s;          /* 0: look once */
	double poll_s;             /* between looks; 2 s when 0 */
	bool want_sidecar;         /* every pod must have istio-proxy */
};

/*
 * Waits until every Deployment in the namespace has all its replicas
 * updated, ready and available. Returns 0; or -ETIMEDOUT when time ran out,
 * -EPROTO at once when a pod has no sidecar (that will not fix itself),
 * with the pods' problems in *problems (when not NULL; caller clears) and
 * in err, e.g. "kind-c1: mc-sample: 1 of 2 Deployments not ready after
 * 120 s: mc-sample/helloworld-v1-...: image pull: ...". kubectl errors are
 * passed on.
 */
int mc_kube_rollout_wait(const struct mc_kube *k, const struct mc_rollout_opts *opts,
			 struct mc_pod_problems *problems, char *err, size_t errlen);

#endif
