/*
 * Rollout waits and the reasons pods give for not being ready.
 */
#include "rollout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

const char *
mc_pod_trouble_name(enum mc_pod_trouble t)
{
	switch (t) {
	case MC_POD_IMAGE_PULL:
		return "image pull";
	case MC_POD_CRASH_LOOP:
		return "crash loop";
	case MC_POD_CONFIG:
		return "container config";
	case MC_POD_UNSCHEDULABLE:
		return "unschedulable";
	case MC_POD_NOT_INJECTED:
		return "not injected";
	case MC_POD_NOT_READY:
		return "not ready";
	}
	return "?";
}

static struct mc_pod_problem *
add(struct mc_pod_problems *pp, enum mc_pod_trouble t, const cJSON *pod, const char *container,
    const char *reason, const char *message)
{
	struct mc_pod_problem *p;

	pp->v = mc_xrealloc(pp->v, (pp->n + 1) * sizeof(*pp->v));
	p = &pp->v[pp->n++];
	memset(p, 0, sizeof(*p));
	p->trouble = t;
	p->pod = mc_xstrdup(mc_kube_obj_name(pod));
	p->namespace = mc_xstrdup(mc_kube_obj_namespace(pod));
	p->container = mc_xstrdup(container);
	p->reason = mc_xstrdup(reason);
	p->message = mc_xstrdup(message);
	p->last_exit = -1;
	return p;
}

static bool
one_of(const char *s, const char *const *set)
{
	for (; s != NULL && *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

/* Problems of the containers in one status array; returns how many. */
static size_t
scan_statuses(const cJSON *pod, const cJSON *statuses, struct mc_pod_problems *out)
{
	static const char *const pull[] = {
		"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
		"RegistryUnavailable", "SignatureValidationFailed", NULL,
	};
	static const char *const config[] = {
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError",
		"PreCreateHookError", "PostStartHookError", NULL,
	};
	const cJSON *cs;
	size_t n = 0;

	cJSON_ArrayForEach(cs, statuses) {
		const char *name = mc_kube_str(cs, "name");
		const char *reason = mc_kube_str(cs, "state.waiting.reason");
		const char *message = mc_kube_str(cs, "state.waiting.message");
		const cJSON *restarts = mc_kube_at(cs, "restartCount");
		const cJSON *last_exit = mc_kube_at(cs, "lastState.terminated.exitCode");
		struct mc_pod_problem *p;

		if (one_of(reason, pull)) {
			add(out, MC_POD_IMAGE_PULL, pod, name, reason, message);
		} else if (reason != NULL && strcmp(reason, "CrashLoopBackOff") == 0) {
			p = add(out, MC_POD_CRASH_LOOP, pod, name, reason, message);
			p->restarts = cJSON_IsNumber(restarts) ? (long)restarts->valuedouble : 0;
			p->last_exit = cJSON_IsNumber(last_exit) ? (long)last_exit->valuedouble : -1;
			p->last_reason = mc_xstrdup(mc_kube_str(cs, "lastState.terminated.reason"));
		} else if (one_of(reason, config)) {
			add(out, MC_POD_CONFIG, pod, name, reason, message);
		} else {
			continue;
		}
		n++;
	}
	return n;
}

static bool
has_container(const cJSON *list, const char *name)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, list) {
		const char *n = mc_kube_str(c, "name");

		if (n != NULL && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

static const cJSON *
condition(const cJSON *pod, const char *type)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, mc_kube_at(pod, "status.conditions")) {
		const char *t = mc_kube_str(c, "type");

		if (t != NULL && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static bool
is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

static void
scan_pod(const cJSON *pod, bool want_sidecar, struct mc_pod_problems *out)
{
	const char *phase = mc_kube_str(pod, "status.phase");
	const cJSON *sched = condition(pod, "PodScheduled"), *ready = condition(pod, "Ready");
	size_t found = 0;

	if (mc_kube_at(pod, "metadata.deletionTimestamp") != NULL ||
	    (phase != NULL && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)))
		return;
	if (sched != NULL && is(mc_kube_str(sched, "status"), "False")) {
		add(out, MC_POD_UNSCHEDULABLE, pod, NULL, mc_kube_str(sched, "reason"),
		    mc_kube_str(sched, "message"));
		found++;
	}
	found += scan_statuses(pod, mc_kube_at(pod, "status.initContainerStatuses"), out);
	found += scan_statuses(pod, mc_kube_at(pod, "status.containerStatuses"), out);
	/* Native sidecars (Kubernetes 1.28+) put istio-proxy among the init containers. */
	if (want_sidecar && !has_container(mc_kube_at(pod, "spec.containers"), "istio-proxy") &&
	    !has_container(mc_kube_at(pod, "spec.initContainers"), "istio-proxy")) {
		add(out, MC_POD_NOT_INJECTED, pod, NULL, NULL,
		    "no istio-proxy container: the namespace is not labelled for injection, or injection is off for this pod");
		found++;
	}
	if (found == 0 && ready != NULL && !is(mc_kube_str(ready, "status"), "True"))
		add(out, MC_POD_NOT_READY, pod, NULL, mc_kube_str(ready, "reason"), mc_kube_str(ready, "message"));
}

void
mc_pod_problems_scan(const cJSON *pods, bool want_sidecar, struct mc_pod_problems *out)
{
	const cJSON *items = mc_kube_items(pods), *pod;

	if (items == NULL) {
		const char *kind = mc_kube_str(pods, "kind");

		if (kind != NULL && strcmp(kind, "Pod") == 0)
			scan_pod(pods, want_sidecar, out);
		return;
	}
	cJSON_ArrayForEach(pod, items)
		scan_pod(pod, want_sidecar, out);
}

char *
mc_pod_problem_line(const struct mc_pod_problem *p)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	mc_buf_printf(&b, "%s/%s: %s", p->namespace != NULL ? p->namespace : "?",
		      p->pod != NULL ? p->pod : "?", mc_pod_trouble_name(p->trouble));
	if (p->container != NULL)
		mc_buf_printf(&b, ": container %s", p->container);
	if (p->trouble == MC_POD_CRASH_LOOP) {
		mc_buf_printf(&b, " restarted %ld time%s", p->restarts, p->restarts == 1 ? "" : "s");
		if (p->last_exit >= 0)
			mc_buf_printf(&b, ", last exit %ld%s%s%s", p->last_exit,
				      p->last_reason != NULL ? " (" : "",
				      p->last_reason != NULL ? p->last_reason : "",
				      p->last_reason != NULL ? ")" : "");
	}
	if (p->reason != NULL)
		mc_buf_printf(&b, ": %s", p->reason);
	if (p->message != NULL && p->trouble != MC_POD_CRASH_LOOP)
		mc_buf_printf(&b, ": %s", p->message);
	return mc_buf_steal(&b);
}

void
mc_pod_problems_clear(struct mc_pod_problems *pp)
{
	for (size_t i = 0; i < pp->n; i++) {
		free(pp->v[i].pod);
		free(pp->v[i].namespace);
		free(pp->v[i].container);
		free(pp->v[i].reason);
		free(pp->v[i].message);
		free(pp->v[i].last_reason);
	}
	free(pp->v);
	memset(pp, 0, sizeof(*pp));
}

static long
num(const cJSON *obj, const char *path, long def)
{
	const cJSON *v = mc_kube_at(obj, path);

	return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

/* A Deployment is rolled out when the controller saw its spec and all replicas are new, ready and available. */
static bool
deployment_done(const cJSON *d)
{
	long want = num(d, "spec.replicas", 1);

	return num(d, "status.observedGeneration", 0) >= num(d, "metadata.generation", 1) &&
	       num(d, "status.updatedReplicas", 0) >= want &&
	       num(d, "status.readyReplicas", 0) >= want &&
	       num(d, "status.availableReplicas", 0) >= want;
}

static void
sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int
pod_problems(const struct mc_kube *k, const struct mc_rollout_opts *o, struct mc_pod_problems *pp,
	     char *err, size_t errlen)
{
	const char *args[] = { "get", "pods", "-n", o->namespace, "-o", "json", NULL };
	cJSON *doc = NULL;
	int rc = mc_kube_json(k, o->context, args, &doc, err, errlen);

	if (rc == 0)
		mc_pod_problems_scan(doc, o->want_sidecar, pp);
	cJSON_Delete(doc);
	return rc;
}

static int
fail_with(const struct mc_rollout_opts *o, int code, const char *what, struct mc_pod_problems *pp,
	  struct mc_pod_problems *out, char *err, size_t errlen)
{
	struct mc_buf b;
	int rc;

	mc_buf_init(&b, 0);
	mc_buf_printf(&b, "%s: %s: %s", o->context, o->namespace, what);
	for (size_t i = 0; i < pp->n; i++) {
		char *line = mc_pod_problem_line(&pp->v[i]);

		mc_buf_printf(&b, "%s%s", i == 0 ? ": " : "; ", line);
		free(line);
	}
	rc = mc_err(err, errlen, code, "%s", b.data);
	mc_buf_free(&b);
	if (out != NULL)
		*out = *pp;
	else
		mc_pod_problems_clear(pp);
	return rc;
}

int
mc_kube_rollout_wait(const struct mc_kube *k, const struct mc_rollout_opts *o,
		     struct mc_pod_problems *problems, char *err, size_t errlen)
{
	const char *args[] = { "get", "deployments", "-n", o->namespace, "-o", "json", NULL };
	double deadline = mc_monotonic() + o->timeout_s;
	double poll = o->poll_s > 0 ? o->poll_s : 2.0;
	struct mc_pod_problems pp = { 0 };

	if (problems != NULL)
		memset(problems, 0, sizeof(*problems));
	for (;;) {
		size_t total = 0, waiting = 0;
		const cJSON *d;
		cJSON *doc = NULL;
		char *what;
		int rc;

		rc = mc_kube_json(k, o->context, args, &doc, err, errlen);
		if (rc != 0)
			return rc;
		cJSON_ArrayForEach(d, mc_kube_items(doc)) {
			total++;
			if (!deployment_done(d))
				waiting++;
		}
		cJSON_Delete(doc);

		/* A missing sidecar will not appear by waiting: say so at once. */
		if (o->want_sidecar || waiting > 0) {
			rc = pod_problems(k, o, &pp, err, errlen);
			if (rc != 0)
				return rc;
		}
		if (o->want_sidecar) {
			struct mc_pod_problems bare = { 0 };

			for (size_t i = 0; i < pp.n; i++) {
				if (pp.v[i].trouble != MC_POD_NOT_INJECTED)
					continue;
				bare.v = mc_xrealloc(bare.v, (bare.n + 1) * sizeof(*bare.v));
				bare.v[bare.n++] = pp.v[i];
				memset(&pp.v[i], 0, sizeof(pp.v[i]));
				pp.v[i].trouble = MC_POD_NOT_READY;
			}
			if (bare.n > 0) {
				mc_pod_problems_clear(&pp);
				return fail_with(o, EPROTO, "pods without the istio-proxy sidecar", &bare,
						 problems, err, errlen);
			}
		}
		if (waiting == 0) {
			mc_pod_problems_clear(&pp);
			return 0;
		}
		if (mc_monotonic() + poll > deadline) {
			what = mc_xasprintf("%zu of %zu Deployment%s not ready after %.0f s", waiting, total,
					    total == 1 ? "" : "s", o->timeout_s);
			rc = fail_with(o, ETIMEDOUT, what, &pp, problems, err, errlen);
			free(what);
			return rc;
		}
		mc_pod_problems_clear(&pp);
		sleep_s(poll);
	}
}
