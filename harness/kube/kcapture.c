/*
 * Node captures through a privileged host-network pod and `kubectl exec
 * tcpdump`.
 */
#include "kcapture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clean.h"
#include "rollout.h"
#include "util.h"

struct mc_kube_capture {
	const struct mc_kube *k;
	char *context;
	char *ns;
	char *node;
	char *pod;
	char *path;                /* the pcap */
	int stderr_fd;             /* memfd holding kubectl's and tcpdump's standard error */
	pid_t pid;                 /* the kubectl exec child; 0 once reaped */
	int tail_ms;
	bool stopped;
};

static const char *
ctx_name(const char *context)
{
	return context != NULL ? context : "(current context)";
}

int
mc_kube_capture_filter(const char *ip, int port, char *out, size_t outlen, char *err, size_t errlen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char canon[INET6_ADDRSTRLEN];
	bool v6;
	int n;

	if (ip == NULL || *ip == '\0')
		return mc_err(err, errlen, EINVAL, "capture filter: no address given");
	if (port < 0 || port > 65535)
		return mc_err(err, errlen, EINVAL, "capture filter: port %d is out of range", port);
	if (inet_pton(AF_INET, ip, addr) == 1)
		v6 = false;
	else if (inet_pton(AF_INET6, ip, addr) == 1)
		v6 = true;
	else
		return mc_err(err, errlen, EINVAL, "capture filter: \"%s\" is not an IPv4 or IPv6 address", ip);
	inet_ntop(v6 ? AF_INET6 : AF_INET, addr, canon, sizeof(canon));
	if (port > 0)
		n = snprintf(out, outlen, "%shost %s and tcp port %d", v6 ? "ip6 " : "", canon, port);
	else
		n = snprintf(out, outlen, "%shost %s", v6 ? "ip6 " : "", canon);
	if (n < 0 || (size_t)n >= outlen)
		return mc_err(err, errlen, EINVAL, "capture filter: %zu bytes are not enough", outlen);
	return 0;
}

static int
check_opts(const struct mc_kube_capture_opts *o, char *err, size_t errlen)
{
	if (o->ns == NULL || *o->ns == '\0')
		return mc_err(err, errlen, EINVAL, "capture: no namespace given for the capture pod");
	if (o->node == NULL || *o->node == '\0')
		return mc_err(err, errlen, EINVAL, "capture: no node given");
	if (o->filter == NULL || *o->filter == '\0')
		return mc_err(err, errlen, EINVAL,
			      "capture: no filter given (a node sees every pod's traffic; name the workload's address and port)");
	if (o->run_id == NULL || !mc_kube_label_value_ok(o->run_id))
		return mc_err(err, errlen, EINVAL,
			      "capture: run id \"%s\" cannot be a label value (letters, digits, '-', '_', '.'; at most 63)",
			      o->run_id != NULL ? o->run_id : "");
	if (o->image != NULL && *o->image == '\0')
		return mc_err(err, errlen, EINVAL, "capture: empty image name");
	return 0;
}

cJSON *
mc_kube_capture_manifest(const struct mc_kube_capture_opts *o, const char *name, char *err, size_t errlen)
{
	cJSON *pod, *meta, *labels, *ann, *spec, *tol, *ctrs, *ctr, *cmd, *sc;
	char secs[32];

	if (check_opts(o, err, errlen) != 0)
		return NULL;
	if (name == NULL || *name == '\0')
		return mc_err(err, errlen, EINVAL, "capture: no pod name"), NULL;
	pod = cJSON_CreateObject();
	cJSON_AddStringToObject(pod, "apiVersion", "v1");
	cJSON_AddStringToObject(pod, "kind", "Pod");
	meta = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(meta, "name", name);
	cJSON_AddStringToObject(meta, "namespace", o->ns);
	labels = cJSON_AddObjectToObject(meta, "labels");
	cJSON_AddStringToObject(labels, MC_KUBE_RUN_LABEL, o->run_id);
	cJSON_AddStringToObject(labels, "app", MC_KUBE_CAPTURE_APP);
	/* Istio reads the label first; injectors before 1.10 only the annotation. */
	cJSON_AddStringToObject(labels, "sidecar.istio.io/inject", "false");
	ann = cJSON_AddObjectToObject(meta, "annotations");
	cJSON_AddStringToObject(ann, "sidecar.istio.io/inject", "false");

	spec = cJSON_AddObjectToObject(pod, "spec");
	/* nodeName skips the scheduler: the pod lands on that node or nowhere. */
	cJSON_AddStringToObject(spec, "nodeName", o->node);
	cJSON_AddBoolToObject(spec, "hostNetwork", true);
	cJSON_AddStringToObject(spec, "dnsPolicy", "ClusterFirstWithHostNet");
	cJSON_AddStringToObject(spec, "restartPolicy", "Never");
	cJSON_AddNumberToObject(spec, "terminationGracePeriodSeconds", 0);
	cJSON_AddBoolToObject(spec, "automountServiceAccountToken", false);
	/* One toleration without a key tolerates every taint (NoSchedule, NoExecute ...). */
	tol = cJSON_AddArrayToObject(spec, "tolerations");
	cJSON_AddItemToArray(tol, cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetArrayItem(tol, 0), "operator", "Exists");

	ctrs = cJSON_AddArrayToObject(spec, "containers");
	ctr = cJSON_CreateObject();
	cJSON_AddItemToArray(ctrs, ctr);
	cJSON_AddStringToObject(ctr, "name", MC_KUBE_CAPTURE_CONTAINER);
	cJSON_AddStringToObject(ctr, "image", o->image != NULL ? o->image : MC_KUBE_CAPTURE_IMAGE);
	cJSON_AddStringToObject(ctr, "imagePullPolicy", "IfNotPresent");
	snprintf(secs, sizeof(secs), "%d", MC_KUBE_CAPTURE_LIFETIME_S);
	cmd = cJSON_AddArrayToObject(ctr, "command");
	cJSON_AddItemToArray(cmd, cJSON_CreateString("sleep"));
	cJSON_AddItemToArray(cmd, cJSON_CreateString(secs));
	sc = cJSON_AddObjectToObject(ctr, "securityContext");
	cJSON_AddBoolToObject(sc, "privileged", true);
	return pod;
}

/* Skips s past the first occurrence of mark, if any. */
static const char *
after(const char *s, const char *mark)
{
	const char *p = strstr(s, mark);

	return p != NULL ? p + strlen(mark) : s;
}

bool
mc_kube_capture_denied(const char *text, char *reason, size_t reasonlen)
{
	char line[1024];
	const char *r;

	if (reasonlen > 0)
		reason[0] = '\0';
	if (text == NULL)
		return false;
	mc_kube_error_line(text, line, sizeof(line));
	if (strstr(text, "(Forbidden)") == NULL && strstr(line, " is forbidden: ") == NULL &&
	    strstr(line, "denied the request") == NULL)
		return false;
	r = line;
	/* Error from server (Forbidden): error when creating "STDIN": pods "x" is forbidden: REASON */
	if (strncmp(r, "Error from server (", 19) == 0)
		r = after(r, "): ");
	if (strncmp(r, "error when ", 11) == 0)
		r = after(r, "\": ");
	r = after(r, " is forbidden: ");
	snprintf(reason, reasonlen, "%s", r);
	return true;
}

/* Kubernetes' generateName alphabet: no vowels, no look-alike digits. */
static char *
pod_name(void)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char rnd[5];
	char suffix[sizeof(rnd) + 1];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		unsigned long x = (unsigned long)getpid() ^ (unsigned long)(mc_now() * 1e6);

		for (size_t i = 0; i < sizeof(rnd); i++, x >>= 6)
			rnd[i] = (unsigned char)x;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		suffix[i] = alpha[rnd[i] % (sizeof(alpha) - 1)];
	suffix[sizeof(rnd)] = '\0';
	return mc_xasprintf("%s%s", MC_KUBE_CAPTURE_PREFIX, suffix);
}

static void
sleep_ms(int ms)
{
	if (ms > 0)
		nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L }, NULL);
}

/* Best effort: the pod goes whatever happened before. */
static int
delete_pod(const struct mc_kube *k, const char *context, const char *ns, const char *pod,
	   char *err, size_t errlen)
{
	const char *args[] = { "delete", "pod", pod, "-n", ns, "--wait=false", "--ignore-not-found", NULL };
	struct mc_kube_result res;
	int rc = mc_kube_call(k, context, args, NULL, &res, err, errlen);

	mc_kube_result_clear(&res);
	return rc;
}

/* What kubectl and tcpdump wrote on standard error so far (caller frees). */
static char *
stderr_text(int fd)
{
	struct mc_buf b;
	char chunk[4096];
	off_t off = 0;
	ssize_t n;

	mc_buf_init(&b, 1 << 20);
	if (fd >= 0) {
		while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0) {
			if (mc_buf_append(&b, chunk, (size_t)n) != 0)
				break;
			off += n;
		}
	}
	return b.data != NULL ? mc_buf_steal(&b) : mc_xstrdup("");
}

/*
 * The line that says why tcpdump did not capture: tcpdump's own complaint
 * when there is one ("tcpdump: any: You don't have permission ..."), else
 * kubectl's error line.
 */
static void
exec_error_line(const char *text, char *line, size_t linelen)
{
	for (const char *p = text; *p != '\0'; ) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		if (n > 9 && strncmp(p, "tcpdump: ", 9) == 0 &&
		    !(n > 22 && strncmp(p, "tcpdump: listening on", 21) == 0) &&
		    !(n > 24 && strncmp(p, "tcpdump: data link type", 23) == 0) &&
		    !(n > 24 && strncmp(p, "tcpdump: verbose output", 23) == 0)) {
			snprintf(line, linelen, "%.*s", (int)n, p);
			return;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	mc_kube_error_line(text, line, linelen);
}

/* An errno and a message for an exec that produced no capture. */
static int
exec_failure(const struct mc_kube_capture *c, const char *image, const char *what, char *err, size_t errlen)
{
	char *text = stderr_text(c->stderr_fd);
	char line[768], reason[768];
	int rc;

	exec_error_line(text, line, sizeof(line));
	if (mc_kube_capture_denied(text, reason, sizeof(reason)))
		rc = mc_err(err, errlen, EPERM, "capture not permitted in %s: %s", ctx_name(c->context), reason);
	else if (strstr(text, "executable file not found") != NULL || strstr(text, "tcpdump: not found") != NULL)
		rc = mc_err(err, errlen, ENOENT, "%s: capture pod %s/%s: the image %s has no tcpdump: %s",
			    ctx_name(c->context), c->ns, c->pod, image != NULL ? image : "(its image)", line);
	else if (strstr(text, "tcpdump: ") != NULL &&
		 (strstr(line, "permission") != NULL || strstr(line, "not permitted") != NULL))
		rc = mc_err(err, errlen, EPERM, "capture not permitted in %s: %s", ctx_name(c->context), line);
	else
		rc = mc_err(err, errlen, EIO, "%s: capture pod %s/%s: %s%s%s", ctx_name(c->context), c->ns,
			    c->pod, what, line[0] != '\0' ? ": " : "", line);
	free(text);
	return rc;
}

static bool
container_running(const cJSON *pod)
{
	const cJSON *cs;

	cJSON_ArrayForEach(cs, mc_kube_at(pod, "status.containerStatuses")) {
		const char *name = mc_kube_str(cs, "name");

		if (name != NULL && strcmp(name, MC_KUBE_CAPTURE_CONTAINER) == 0)
			return cJSON_IsObject(mc_kube_at(cs, "state.running"));
	}
	return false;
}

/* Why the pod is not running, in the kubelet's words where it has any (caller frees). */
static char *
pod_state_text(const cJSON *pod, const char *node)
{
	const char *phase = mc_kube_str(pod, "status.phase");
	struct mc_pod_problems pp = { 0 };
	struct mc_buf b;

	mc_buf_init(&b, 0);
	mc_buf_printf(&b, "phase %s", phase != NULL ? phase : "unknown");
	mc_pod_problems_scan(pod, false, &pp);
	for (size_t i = 0; i < pp.n; i++) {
		char *line = mc_pod_problem_line(&pp.v[i]);

		mc_buf_printf(&b, "; %s", line);
		free(line);
	}
	if (pp.n == 0) {
		const char *reason = mc_kube_str(pod, "status.reason");
		const char *message = mc_kube_str(pod, "status.message");

		if (reason != NULL || message != NULL)
			mc_buf_printf(&b, "; %s%s%s", reason != NULL ? reason : "",
				      reason != NULL && message != NULL ? ": " : "", message != NULL ? message : "");
		else if (phase != NULL && strcmp(phase, "Pending") == 0 &&
			 mc_kube_at(pod, "status.conditions") == NULL)
			mc_buf_printf(&b, "; no kubelet has taken it (is %s a node of this cluster?)", node);
	}
	mc_pod_problems_clear(&pp);
	return mc_buf_steal(&b);
}

/* Waits until the capture container runs. */
static int
wait_running(struct mc_kube_capture *c, double deadline, int timeout_ms, char *err, size_t errlen)
{
	const char *args[] = { "get", "pod", c->pod, "-n", c->ns, "-o", "json", NULL };

	for (;;) {
		cJSON *pod = NULL;
		const char *phase, *waiting = NULL;
		const cJSON *cs;
		char *state;
		int rc;

		rc = mc_kube_json(c->k, c->context, args, &pod, err, errlen);
		if (rc != 0)
			return rc;
		if (container_running(pod)) {
			cJSON_Delete(pod);
			return 0;
		}
		phase = mc_kube_str(pod, "status.phase");
		cJSON_ArrayForEach(cs, mc_kube_at(pod, "status.containerStatuses"))
			if (waiting == NULL)
				waiting = mc_kube_str(cs, "state.waiting.reason");
		/* Ended, or an image that no wait will bring: say so now. */
		if ((phase != NULL && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)) ||
		    (waiting != NULL && (strcmp(waiting, "InvalidImageName") == 0 ||
					 strcmp(waiting, "ErrImageNeverPull") == 0))) {
			state = pod_state_text(pod, c->node);
			rc = mc_err(err, errlen, EIO, "%s: capture pod %s/%s on node %s cannot run: %s",
				    ctx_name(c->context), c->ns, c->pod, c->node, state);
			free(state);
			cJSON_Delete(pod);
			return rc;
		}
		if (mc_monotonic() >= deadline) {
			state = pod_state_text(pod, c->node);
			rc = mc_err(err, errlen, ETIMEDOUT,
				    "%s: capture pod %s/%s on node %s not running after %d s: %s",
				    ctx_name(c->context), c->ns, c->pod, c->node, (timeout_ms + 999) / 1000, state);
			free(state);
			cJSON_Delete(pod);
			return rc;
		}
		cJSON_Delete(pod);
		sleep_ms(500);
	}
}

/*
 * Waits until tcpdump writes: its pcap header (tcpdump -U flushes it at
 * once) or its "listening on" line. Fails when the exec ends first.
 */
static int
wait_tcpdump(struct mc_kube_capture *c, const char *image, double deadline, char *err, size_t errlen)
{
	for (;;) {
		struct stat st;
		int status;
		pid_t r;

		if (stat(c->path, &st) == 0 && st.st_size >= 24)
			return 0;
		{
			char *text = stderr_text(c->stderr_fd);
			bool listening = strstr(text, "listening on") != NULL;

			free(text);
			if (listening)
				return 0;
		}
		r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid) {
			char what[64];

			c->pid = 0;
			snprintf(what, sizeof(what), "kubectl exec ended (status %d) before tcpdump started",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			return exec_failure(c, image, what, err, errlen);
		}
		if (mc_monotonic() >= deadline)
			return mc_err(err, errlen, ETIMEDOUT, "%s: capture pod %s/%s: tcpdump did not start",
				      ctx_name(c->context), c->ns, c->pod);
		sleep_ms(20);
	}
}

static void
capture_release(struct mc_kube_capture *c)
{
	if (c->stderr_fd >= 0)
		close(c->stderr_fd);
	free(c->context);
	free(c->ns);
	free(c->node);
	free(c->pod);
	free(c->path);
	free(c);
}

static void
print_dry_run(const struct mc_kube *k, const struct mc_kube_capture_opts *o, const char *pod)
{
	FILE *f = k->dry_out != NULL ? k->dry_out : stdout;

	fprintf(f, "  Pod/%s in namespace %s: node %s, image %s, hostNetwork, privileged, %s=%s, "
		   "ends by itself after %d s\n",
		pod, o->ns, o->node, o->image != NULL ? o->image : MC_KUBE_CAPTURE_IMAGE,
		MC_KUBE_RUN_LABEL, o->run_id, MC_KUBE_CAPTURE_LIFETIME_S);
	fflush(f);
}

int
mc_kube_capture_start(const struct mc_kube *k, const struct mc_kube_capture_opts *o,
		      struct mc_kube_capture **out, char *err, size_t errlen)
{
	const char *apply[] = { "apply", "-f", "-", NULL };
	int timeout_ms = o->ready_timeout_ms > 0 ? o->ready_timeout_ms : MC_KUBE_CAPTURE_READY_MS;
	double start = mc_monotonic(), deadline = start + timeout_ms / 1000.0;
	char snap[16], edummy[MC_ERRLEN];
	struct mc_kube_result res;
	struct mc_kube_capture *c;
	cJSON *manifest;
	char *json;
	int rc, fd = -1;

	*out = NULL;
	if (!k->dry_run && (o->dir == NULL || *o->dir == '\0'))
		return mc_err(err, errlen, EINVAL, "capture: no folder given for the pcap");
	c = mc_xcalloc(1, sizeof(*c));
	c->k = k;
	c->stderr_fd = -1;
	c->context = mc_xstrdup(o->context);
	c->ns = mc_xstrdup(o->ns);
	c->node = mc_xstrdup(o->node);
	c->pod = pod_name();
	c->tail_ms = o->tail_ms == 0 ? MC_KUBE_CAPTURE_TAIL_MS : (o->tail_ms < 0 ? 0 : o->tail_ms);
	manifest = mc_kube_capture_manifest(o, c->pod, err, errlen);
	if (manifest == NULL) {
		capture_release(c);
		return -EINVAL;
	}
	json = cJSON_Print(manifest);
	cJSON_Delete(manifest);
	snprintf(snap, sizeof(snap), "%d", o->snaplen > 0 ? o->snaplen : MC_KUBE_CAPTURE_SNAPLEN);
	const char *exec[] = {
		"exec", "-n", c->ns, c->pod, "-c", MC_KUBE_CAPTURE_CONTAINER, "--",
		"tcpdump", "-i", "any", "-U", "-w", "-", "-s", snap, o->filter, NULL,
	};

	if (k->dry_run) {
		/* Printed, not run: the apply, what it would create, the exec. */
		rc = mc_kube_call(k, c->context, apply, json, &res, err, errlen);
		mc_kube_result_clear(&res);
		if (rc == 0) {
			pid_t none;

			print_dry_run(k, o, c->pod);
			rc = mc_kube_spawn(k, c->context, exec, -1, -1, &none, err, errlen);
		}
		if (rc == 0) {
			snprintf(err, errlen, "dry run: capture pod %s not created", c->pod);
			rc = MC_KUBE_CAPTURE_DRY_RUN;
		}
		free(json);
		capture_release(c);
		return rc;
	}

	rc = mc_mkdir_p(o->dir, 0755, err, errlen);
	if (rc == 0) {
		c->path = mc_xasprintf("%s/%s.pcap", o->dir, c->pod);
		fd = open(c->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			rc = mc_err(err, errlen, errno, "%s: %s", c->path, strerror(errno));
	}
	if (rc == 0) {
		c->stderr_fd = memfd_create("meshcheck-capture-stderr", MFD_CLOEXEC);
		if (c->stderr_fd < 0)
			rc = mc_err(err, errlen, errno, "capture: memfd_create: %s", strerror(errno));
	}
	if (rc != 0) {
		if (fd >= 0) {
			close(fd);
			unlink(c->path);
		}
		free(json);
		capture_release(c);
		return rc;
	}

	rc = mc_kube_call(k, c->context, apply, json, &res, err, errlen);
	free(json);
	if (rc != 0) {
		char reason[768];

		if (!res.timed_out && mc_kube_capture_denied(res.err, reason, sizeof(reason)))
			rc = mc_err(err, errlen, EPERM, "capture not permitted in %s: %s", ctx_name(c->context),
				    reason);
	}
	mc_kube_result_clear(&res);
	if (rc == 0)
		rc = wait_running(c, deadline, timeout_ms, err, errlen);
	if (rc == 0)
		rc = mc_kube_spawn(k, c->context, exec, fd, c->stderr_fd, &c->pid, err, errlen);
	close(fd);
	if (rc == 0) {
		/* The pod may have taken most of the time; tcpdump still gets a few seconds. */
		if (deadline < mc_monotonic() + 5.0)
			deadline = mc_monotonic() + 5.0;
		rc = wait_tcpdump(c, o->image != NULL ? o->image : MC_KUBE_CAPTURE_IMAGE, deadline, err, errlen);
	}
	if (rc != 0) {
		/* Nothing stays behind: no child, no pod, no empty pcap. */
		mc_kube_reap(c->pid, MC_KUBE_CAPTURE_REAP_MS);
		c->pid = 0;
		delete_pod(k, c->context, c->ns, c->pod, edummy, sizeof(edummy));
		unlink(c->path);
		capture_release(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
mc_kube_capture_stop(struct mc_kube_capture *c, struct mc_wire *w, char **pcap_path_out,
		     char *err, size_t errlen)
{
	char derr[MC_ERRLEN];
	struct stat st;
	int rc = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (pcap_path_out != NULL)
		*pcap_path_out = NULL;
	if (c->stopped)
		return mc_err(err, errlen, EALREADY, "capture %s: already stopped", c->pod);
	c->stopped = true;
	sleep_ms(c->tail_ms);
	mc_kube_reap(c->pid, MC_KUBE_CAPTURE_REAP_MS);
	c->pid = 0;

	if (stat(c->path, &st) != 0)
		rc = mc_err(err, errlen, errno, "%s: %s", c->path, strerror(errno));
	else if (st.st_size < 24)
		rc = exec_failure(c, NULL, "tcpdump produced no capture", err, errlen);
	else if (w != NULL)
		rc = mc_wire_read_file(w, c->path, NULL, err, errlen);
	if (pcap_path_out != NULL && rc != -ENOENT)
		*pcap_path_out = mc_xstrdup(c->path);

	if (delete_pod(c->k, c->context, c->ns, c->pod, derr, sizeof(derr)) != 0 && rc == 0)
		mc_err(err, errlen, 0, "capture pod %s/%s not deleted (it ends by itself within %d s): %s",
		       c->ns, c->pod, MC_KUBE_CAPTURE_LIFETIME_S, derr);
	return rc;
}

void
mc_kube_capture_free(struct mc_kube_capture *c)
{
	char derr[MC_ERRLEN];

	if (c == NULL)
		return;
	if (!c->stopped) {
		mc_kube_reap(c->pid, MC_KUBE_CAPTURE_REAP_MS);
		delete_pod(c->k, c->context, c->ns, c->pod, derr, sizeof(derr));
	}
	capture_release(c);
}

const char *
mc_kube_capture_pod(const struct mc_kube_capture *c)
{
	return c->pod;
}

const char *
mc_kube_capture_path(const struct mc_kube_capture *c)
{
	return c->path;
}
