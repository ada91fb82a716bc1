/*
 * Running kubectl (and istioctl, when present) for the kube target.
 *
 * kubectl owns everything that touches an API server (authentication through
 * exec plugins, OIDC, client certificates), so meshcheck never speaks to a
 * cluster itself: it runs kubectl as a child process with an argv array
 * (never through a shell), always with --context and, when given,
 * --kubeconfig, under a deadline after which the child is killed by PID.
 * Output is captured up to a bound; JSON output is parsed with cJSON.
 *
 * Errors become one line that keeps kubectl's own words, prefixed with the
 * context and the command, e.g.
 *   c1: kubectl get deployments: error: context "c1" does not exist
 *   c2: kubectl version: Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout
 *
 * In dry-run mode the mutating verbs (apply, create, delete, label, annotate,
 * patch, replace, scale, run, exec, cp, rollout restart) are printed with
 * their context instead of being run; reads still run, so a dry run shows
 * what would be created against the clusters' real state.
 */
#ifndef MC_KUBECTL_H
#define MC_KUBECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

/* The label every object a run creates carries; its value is the run id. */
#define MC_KUBE_RUN_LABEL "meshcheck.io/run"

#define MC_KUBE_TIMEOUT_MS 30000
#define MC_KUBE_MAX_OUTPUT (32u << 20)

struct mc_kube {
	char *kubectl;             /* path of kubectl */
	char *istioctl;            /* path of istioctl, or NULL when not found */
	char *kubeconfig;          /* --kubeconfig, or NULL for kubectl's default */
	int timeout_ms;            /* per call; MC_KUBE_TIMEOUT_MS when 0 */
	size_t max_output;         /* per stream; MC_KUBE_MAX_OUTPUT when 0 */
	bool dry_run;
	FILE *dry_out;             /* where dry-run lines go; stdout when NULL */
};

/* What one call produced. Strings are NUL-terminated, owned by the result. */
struct mc_kube_result {
	int status;                /* exit status; 128+signal when killed */
	bool timed_out;            /* killed at the deadline */
	bool truncated;            /* output passed max_output and was cut */
	bool dry_run;              /* printed, not run */
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
};

/*
 * Finds the tools: kubectl from $MC_KUBECTL or PATH (required: -ENOENT with
 * a message when missing), istioctl from $MC_ISTIOCTL or PATH (optional:
 * NULL when missing; MC_ISTIOCTL set to "" disables it). kubeconfig may be
 * NULL.
 */
int mc_kube_init(struct mc_kube *k, const char *kubeconfig, char *err, size_t errlen);
void mc_kube_clear(struct mc_kube *k);

/* Whether kubectl arguments (after the global flags) change a cluster. */
bool mc_kube_argv_mutates(const char *const *args);

/*
 * Runs `kubectl [--kubeconfig F] --context CTX ARGS...` (args is
 * NULL-terminated; context may be NULL to use the current context), feeding
 * in (may be NULL) on standard input. Returns 0 when the child ran to the
 * end, whatever its exit status (the caller reads res->status), and a
 * negative errno when it could not be run or was killed at the deadline
 * (-ETIMEDOUT), with a message. The result must be cleared in every case.
 */
int mc_kube_exec(const struct mc_kube *k, const char *context, const char *const *args,
		 const char *in, struct mc_kube_result *res, char *err, size_t errlen);
/* The same for istioctl; -ENOENT when it is not available. */
int mc_istioctl_exec(const struct mc_kube *k, const char *context, const char *const *args,
		     const char *in, struct mc_kube_result *res, char *err, size_t errlen);
void mc_kube_result_clear(struct mc_kube_result *res);

/*
 * Runs kubectl and requires exit status 0. On failure the error code is
 * mc_kube_classify()'s and the message is one line naming the context and
 * the command and keeping kubectl's text.
 */
int mc_kube_call(const struct mc_kube *k, const char *context, const char *const *args,
		 const char *in, struct mc_kube_result *res, char *err, size_t errlen);
int mc_istioctl_call(const struct mc_kube *k, const char *context, const char *const *args,
		     struct mc_kube_result *res, char *err, size_t errlen);

/*
 * Runs kubectl (args must ask for -o json) and parses standard output.
 * *out is the parsed document (caller deletes). In dry-run mode a mutating
 * call yields an empty object.
 */
int mc_kube_json(const struct mc_kube *k, const char *context, const char *const *args,
		 cJSON **out, char *err, size_t errlen);
int mc_istioctl_json(const struct mc_kube *k, const char *context, const char *const *args,
		     cJSON **out, char *err, size_t errlen);

/*
 * The line of kubectl's standard error that says what went wrong: the
 * first line starting "error:", "Error from server", "Unable to connect",
 * "Error in configuration" or "error when", else the last line that is not
 * a klog line (E0123 12:00:00.000000 ...). Copied into line (collapsed to
 * one line).
 */
void mc_kube_error_line(const char *stderr_text, char *line, size_t linelen);

/*
 * An errno for a failed call, from the error text:
 *   -ENXIO        unknown context ("context ... does not exist", "context was not found")
 *   -EHOSTUNREACH the API server cannot be reached ("Unable to connect to the server")
 *   -EACCES       forbidden or unauthorized
 *   -ENOENT       "(NotFound)" or "doesn't have a resource type"
 *   -ETIMEDOUT    killed at the deadline (decided by the caller)
 *   -EIO          anything else
 */
int mc_kube_classify(const char *stderr_text);

/* Shell-quoted one-line rendering of a command, for messages and dry-run (caller frees). */
char *mc_kube_render(const char *tool, const struct mc_kube *k, const char *context,
		     const char *const *args);

/*
 * Reading kubectl objects. mc_kube_at follows a dotted path of object keys
 * ("status.readyReplicas"); keys holding dots (labels) need
 * mc_kube_obj_label.
 */
const cJSON *mc_kube_at(const cJSON *obj, const char *dotted);
const char *mc_kube_str(const cJSON *obj, const char *dotted);
/* metadata.name, metadata.namespace, a label (NULL when absent). */
const char *mc_kube_obj_name(const cJSON *obj);
const char *mc_kube_obj_namespace(const cJSON *obj);
const char *mc_kube_obj_label(const cJSON *obj, const char *key);
/* The items array of a List, or NULL. */
const cJSON *mc_kube_items(const cJSON *list);

/*
 * Long-running children (a capture streaming through `kubectl exec`).
 *
 * mc_kube_spawn starts `kubectl [--kubeconfig F] --context CTX ARGS...`
 * without waiting for it: standard input is /dev/null, standard output goes
 * to out_fd and standard error to err_fd (either may be -1 for /dev/null;
 * the caller keeps its own descriptors). *pid is the child's, to be given
 * to mc_kube_reap, which is the only way to end it. In dry-run mode a
 * mutating command is printed, nothing runs and *pid is 0. Returns 0 or a
 * negative errno with a message.
 *
 * mc_kube_reap ends one child by its PID: when it is still running it gets
 * SIGTERM, then SIGKILL after timeout_ms; then it is waited for. Since the
 * child is not waited for before that, its PID cannot have been reused by
 * another process. Returns the exit status (128+signal when killed by one),
 * 0 for pid 0 (dry run), or a negative errno (-ECHILD: not a child of ours).
 */
int mc_kube_spawn(const struct mc_kube *k, const char *context, const char *const *args,
		  int out_fd, int err_fd, pid_t *pid, char *err, size_t errlen);
int mc_kube_reap(pid_t pid, int timeout_ms);

#endif
