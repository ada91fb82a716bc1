/*
 * The `continuity` check kind: traffic at a fixed rate on one or more paths
 * while an action runs (a gateway reload, a rolling restart, a CA rotation,
 * an upgrade command); expect at most K failed requests and bounded p99 in
 * each phase (before, during and after the action).
 *
 *   "input":  { "paths": [ request fields (see check_http.h), ... ],
 *               "rate": 20 (per path, requests/s), "before": "2s", "after": "2s",
 *               "fresh": true (a new connection per request),
 *               "action": { "local": "reload_gateway", "target": "ingress@c1" }
 *                       | { "command": ["istioctl", "upgrade", "-y"], "timeout": "600s" } }
 *   "expect": { "max_failed": 0, "p99_ms": 500 | { "before": 100, "during": 500, "after": 100 },
 *               "rate_tolerance": 0.05 }
 *
 * Traffic runs in the open loop of the traffic engine, so a slow action
 * cannot slow the sender and hide loss: each second's requests are counted
 * at their intended send time, and the rate held during the action is
 * reported (and judged against rate_tolerance). A failed request is a
 * transport error or a status of 500 or more; each is recorded with its
 * time, path and error. The timeline (per second: sent, ok, failed, p99)
 * with the action's start and end goes to the reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_http.h"
#include "check_kind.h"
#include "load.h"
#include "results.h"
#include "util.h"

#define MAX_PATHS 8
#define MAX_ARGS 64

static const char *const input_fields[] = {"paths", "rate", "before", "after", "fresh", "action", NULL};
static const char *const expect_fields[] = {"max_failed", "p99_ms", "rate_tolerance", NULL};
static const char *const action_fields[] = {"local", "target", "command", "timeout", NULL};
static const char *const phase_names[3] = {"before", "during", "after"};

static int
continuity_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(in, "paths"), *a, *p, *v;
	char w[600], pw[700];
	long l;
	int b, rc;
	size_t i = 0;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0 ||
	    (rc = mc_field_int(in, "rate", 0, w, 1, 10000, &l, err, errlen)) < 0 ||
	    (rc = mc_field_duration(in, "before", 0, w, &l, err, errlen)) < 0 ||
	    (rc = mc_field_duration(in, "after", 0, w, &l, err, errlen)) < 0 ||
	    (rc = mc_field_bool(in, "fresh", 0, w, &b, err, errlen)) < 0)
		return rc;
	if (!cJSON_IsArray(paths) || cJSON_GetArraySize(paths) < 1 || cJSON_GetArraySize(paths) > MAX_PATHS)
		return mc_err(err, errlen, EINVAL, "%s.paths: expected 1 to %d requests", w, MAX_PATHS);
	cJSON_ArrayForEach(p, paths) {
		static const char *const req_fields[] = {MC_HTTP_REQUEST_FIELDS, NULL};

		snprintf(pw, sizeof(pw), "%s.paths[%zu]", w, i++);
		if (!cJSON_IsObject(p))
			return mc_err(err, errlen, EINVAL, "%s: expected a request object", pw);
		if ((rc = mc_fields_known(p, req_fields, pw, err, errlen)) < 0 ||
		    (rc = mc_http_validate(p, false, pw, err, errlen)) < 0)
			return rc;
	}
	a = cJSON_GetObjectItemCaseSensitive(in, "action");
	snprintf(pw, sizeof(pw), "%s.action", w);
	if (!cJSON_IsObject(a))
		return mc_err(err, errlen, EINVAL, "%s: expected {\"local\": NAME, \"target\": ...} or {\"command\": [...]}",
			      pw);
	if ((rc = mc_fields_known(a, action_fields, pw, err, errlen)) < 0 ||
	    (rc = mc_field_duration(a, "timeout", 0, pw, &l, err, errlen)) < 0)
		return rc;
	{
		const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(a, "command");
		const char *local = NULL, *target = NULL;

		if ((rc = mc_field_string(a, "local", 0, pw, &local, err, errlen)) < 0 ||
		    (rc = mc_field_string(a, "target", 0, pw, &target, err, errlen)) < 0)
			return rc;
		if ((local != NULL) == (cmd != NULL))
			return mc_err(err, errlen, EINVAL, "%s: give \"local\" (an action of the target) or \"command\", one",
				      pw);
		if (cmd != NULL) {
			if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) < 1 || cJSON_GetArraySize(cmd) >= MAX_ARGS)
				return mc_err(err, errlen, EINVAL, "%s.command: expected [\"program\", \"arg\", ...]", pw);
			cJSON_ArrayForEach(v, cmd)
				if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
					return mc_err(err, errlen, EINVAL, "%s.command: every item is a non-empty string",
						      pw);
		}
	}
	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_fields_known(ex, expect_fields, w, err, errlen)) < 0 ||
	    (rc = mc_field_int(ex, "max_failed", 0, w, 0, 100000000, &l, err, errlen)) < 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(ex, "p99_ms");
	if (v != NULL && !(cJSON_IsNumber(v) && v->valuedouble > 0)) {
		const cJSON *x;

		if (!cJSON_IsObject(v))
			return mc_err(err, errlen, EINVAL, "%s.p99_ms: a number of ms, or {\"before\", \"during\", \"after\"}",
				      w);
		cJSON_ArrayForEach(x, v) {
			if (strcmp(x->string, "before") != 0 && strcmp(x->string, "during") != 0 &&
			    strcmp(x->string, "after") != 0)
				return mc_err(err, errlen, EINVAL, "%s.p99_ms.%s: phases are before, during and after", w,
					      x->string);
			if (!cJSON_IsNumber(x) || !(x->valuedouble > 0))
				return mc_err(err, errlen, EINVAL, "%s.p99_ms.%s: expected a number of ms above 0", w,
					      x->string);
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(ex, "rate_tolerance");
	if (v != NULL && !(cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1))
		return mc_err(err, errlen, EINVAL, "%s.rate_tolerance: a fraction above 0 and below 1", w);
	return 0;
}

struct path_run {
	struct mc_load_options o;
	struct mc_load_result res;
	char err[MC_ERRLEN];
	int rc;
	pthread_t th;
	bool started;
};

static void *
path_thread(void *arg)
{
	struct path_run *p = arg;

	p->rc = mc_load_run(&p->o, &p->res, p->err, sizeof(p->err));
	return NULL;
}

static void
sleep_until(double t, volatile sig_atomic_t *stop)
{
	while (mc_monotonic() < t && (stop == NULL || *stop == 0)) {
		double left = t - mc_monotonic();
		struct timespec ts = {0, (long)((left < 0.05 ? left : 0.05) * 1e9)};

		if (left <= 0)
			break;
		nanosleep(&ts, NULL);
	}
}

/* Runs a command (no shell) to its end or the timeout; its output goes to log. Returns its exit status, or -errno. */
static int
run_command(const cJSON *cmd, long timeout_s, const char *log, char *err, size_t errlen)
{
	char *argv[MAX_ARGS];
	const cJSON *v;
	int n = 0, status = 0;
	double deadline = mc_monotonic() + (double)timeout_s;
	pid_t pid;

	cJSON_ArrayForEach(v, cmd) argv[n++] = v->valuestring;
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return mc_err(err, errlen, errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = log != NULL ? open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;

		setpgid(0, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		struct timespec ts = {0, 20 * 1000 * 1000};

		if (r == pid)
			break;
		if (mc_monotonic() > deadline) {
			/* Only what this check started: its process group, by PID. */
			kill(-pid, SIGTERM);
			nanosleep(&(struct timespec){1, 0}, NULL);
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return mc_err(err, errlen, ETIMEDOUT, "%s: still running after %ld s, stopped", argv[0], timeout_s);
		}
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return mc_err(err, errlen, ENOENT, "%s: could not be run (see the action's output)", argv[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

struct phase {
	int64_t sent, ok, failed;
	double p99_ms;
	double seconds;
};

static void
continuity_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	const cJSON *in = ctx->def->input, *ex = ctx->def->expect, *paths = cJSON_GetObjectItemCaseSensitive(in, "paths");
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(in, "action"), *p;
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(action, "command");
	long rate = mc_json_int(in, "rate", 20), before = mc_json_seconds(in, "before", 2), after = mc_json_seconds(in, "after", 2);
	long timeout = mc_json_seconds(action, "timeout", 600), max_failed = mc_json_int(ex, "max_failed", 0);
	double tol = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ex, "rate_tolerance"))
			     ? cJSON_GetObjectItemCaseSensitive(ex, "rate_tolerance")->valuedouble
			     : 0.05;
	struct mc_http_req reqs[MAX_PATHS];
	struct path_run runs[MAX_PATHS];
	volatile sig_atomic_t stop = 0;
	size_t n = 0, n_points = 0, n_fail = 0;
	struct mc_timeline tl = {0};
	struct mc_timeline_mark marks[2];
	struct mc_timeline_point *pts = NULL;
	struct mc_timeline_failure *fails = NULL;
	struct phase ph[3] = {{0}};
	struct mc_buf expected, seen, why;
	char err[MC_ERRLEN] = "", aerr[MC_ERRLEN] = "", *log_full = NULL, *log_rel = NULL;
	double t0_mono, a_start = 0, a_end = 0, start_unix = 0;
	int arc = 0;
	int64_t total_failed = 0, total_sent = 0, dropped = 0;
	bool action_failed = false;

	memset(runs, 0, sizeof(runs));
	mc_buf_init(&expected, 1 << 16);
	mc_buf_init(&seen, 1 << 20);
	mc_buf_init(&why, 1 << 12);
	cJSON_ArrayForEach(p, paths) {
		if (mc_http_req_build(ctx->target, p, NULL, &reqs[n], err, sizeof(err)) < 0) {
			mc_case_set(c, MC_RESULT_ERROR, "%s", err);
			goto out;
		}
		if (reqs[n].ep.via != NULL) {
			mc_case_set(c, MC_RESULT_SKIP,
				    "%s: continuity traffic needs the harness's own engine; on the %s target, send it "
				    "north-south through an ingress gateway",
				    reqs[n].target, ctx->target->ops->name);
			goto out;
		}
		n++;
	}
	if (cmd == NULL && ctx->target->ops->action == NULL) {
		mc_case_set(c, MC_RESULT_SKIP, "the %s target has no built-in actions; use \"command\"",
			    ctx->target->ops->name);
		goto out;
	}
	mc_buf_printf(&expected, "%ld req/s on each of %zu path(s), open loop, %s; %ld s before the action, %ld s after\n",
		      rate, n, mc_json_bool(in, "fresh", true) ? "a new connection per request" : "kept-alive connections",
		      before, after);
	for (size_t i = 0; i < n; i++)
		mc_buf_printf(&expected, "  path %zu: %s\n", i + 1, reqs[i].target);
	if (cmd != NULL) {
		const cJSON *v;

		mc_buf_puts(&expected, "action: command");
		cJSON_ArrayForEach(v, cmd) mc_buf_printf(&expected, " %s", v->valuestring);
		mc_buf_printf(&expected, " (at most %ld s)\n", timeout);
	} else {
		mc_buf_printf(&expected, "action: %s %s\n", mc_json_str(action, "local", ""), mc_json_str(action, "target", ""));
	}
	mc_buf_printf(&expected, "at most %ld failed request(s); sending rate within %.1f%% of the target during the action\n",
		      max_failed, 100 * tol);

	/* Traffic on every path, all started together; it stops when told. */
	for (size_t i = 0; i < n; i++) {
		struct mc_load_options *o = &runs[i].o;

		reqs[i].spec.fresh = mc_json_bool(in, "fresh", true);
		o->req = reqs[i].spec;
		o->rate = (double)rate;
		/* Room for a second of latency at the rate: a slow phase must not hold requests back. */
		o->connections = rate > 16 ? (int)rate : 16;
		o->duration = (double)(before + after + timeout + 60);
		o->stop = &stop;
		o->timeline = true;
		o->ok_status_max = 499;
		o->label = reqs[i].target;
		if (pthread_create(&runs[i].th, NULL, path_thread, &runs[i]) == 0)
			runs[i].started = true;
	}
	t0_mono = mc_monotonic();
	sleep_until(t0_mono + (double)before, NULL);
	a_start = mc_monotonic() - t0_mono;
	if (cmd != NULL) {
		log_rel = mc_check_evidence_path(ctx, "action.log", &log_full);
		arc = run_command(cmd, timeout, log_full, aerr, sizeof(aerr));
		if (arc < 0 || arc != 0) {
			action_failed = true;
			if (arc > 0)
				snprintf(aerr, sizeof(aerr), "the command exited with status %d", arc);
		}
	} else {
		arc = ctx->target->ops->action(ctx->target, mc_json_str(action, "local", ""), mc_json_str(action, "target", ""),
					       aerr, sizeof(aerr));
		action_failed = arc < 0;
	}
	a_end = mc_monotonic() - t0_mono;
	sleep_until(mc_monotonic() + (double)after, NULL);
	stop = 1;
	for (size_t i = 0; i < n; i++)
		if (runs[i].started)
			pthread_join(runs[i].th, NULL);
	if (log_rel != NULL && log_full != NULL && access(log_full, F_OK) == 0)
		mc_case_add_evidence(c, "the action's output", log_rel);
	for (size_t i = 0; i < n; i++) {
		if (!runs[i].started || runs[i].rc < 0) {
			mc_case_set(c, MC_RESULT_ERROR, "traffic on %s: %s", reqs[i].target,
				    runs[i].started ? runs[i].err : "cannot start a thread");
			goto out;
		}
		if (start_unix == 0 || runs[i].res.start_unix < start_unix)
			start_unix = runs[i].res.start_unix;
	}

	/* One timeline over all paths, second by second from the earliest start. */
	for (size_t i = 0; i < n; i++) {
		const struct mc_load_result *r = &runs[i].res;
		size_t off = (size_t)llround(r->start_unix - start_unix);

		if (off + r->n_timeline > n_points) {
			pts = mc_xrealloc(pts, (off + r->n_timeline) * sizeof(*pts));
			for (size_t k = n_points; k < off + r->n_timeline; k++)
				pts[k] = (struct mc_timeline_point){.t = (double)k};
			n_points = off + r->n_timeline;
		}
		for (size_t k = 0; k < r->n_timeline; k++) {
			struct mc_timeline_point *q = &pts[off + k];
			double p99 = (double)r->timeline[k].p99_us / 1000.0;

			q->sent += r->timeline[k].sent;
			q->ok += r->timeline[k].ok;
			q->failed += r->timeline[k].failed;
			/* The worst path's p99 stands for the second: conservative. */
			q->p99_ms = p99 > q->p99_ms ? p99 : q->p99_ms;
		}
		dropped += r->failures_dropped;
		for (size_t k = 0; k < r->n_failures; k++) {
			char what[200];

			fails = mc_xrealloc(fails, (n_fail + 1) * sizeof(*fails));
			if (r->failures[k].error != MC_XFER_OK)
				snprintf(what, sizeof(what), "%s: %s", mc_xfer_error_name(r->failures[k].error),
					 r->failures[k].message);
			else
				snprintf(what, sizeof(what), "%ld", r->failures[k].status);
			fails[n_fail].t = r->failures[k].t + (r->start_unix - start_unix);
			fails[n_fail].path = (char *)reqs[i].target;
			fails[n_fail].what = mc_xstrdup(what);
			n_fail++;
		}
	}
	/* Failures in time order. */
	for (size_t i = 1; i < n_fail; i++)
		for (size_t j = i; j > 0 && fails[j].t < fails[j - 1].t; j--) {
			struct mc_timeline_failure x = fails[j];

			fails[j] = fails[j - 1];
			fails[j - 1] = x;
		}
	/* The phases: seconds wholly before the action, those it overlaps, those after. The timeline's t = 0 is about the monotonic t0. */
	for (size_t k = 0; k < n_points; k++) {
		double s = (double)k, e = s + 1;
		int which = e <= a_start ? 0 : s >= a_end ? 2 : 1;

		ph[which].sent += pts[k].sent;
		ph[which].ok += pts[k].ok;
		ph[which].failed += pts[k].failed;
		ph[which].seconds += 1;
		ph[which].p99_ms = pts[k].p99_ms > ph[which].p99_ms ? pts[k].p99_ms : ph[which].p99_ms;
		total_failed += pts[k].failed;
		total_sent += pts[k].sent;
	}
	marks[0] = (struct mc_timeline_mark){.t = a_start, .label = "action start"};
	marks[1] = (struct mc_timeline_mark){.t = a_end, .label = "action end"};
	tl.start_unix = start_unix;
	tl.points = pts;
	tl.n_points = n_points;
	tl.marks = marks;
	tl.n_marks = 2;
	tl.failures = fails;
	tl.n_failures = n_fail;
	tl.failures_dropped = dropped;
	mc_case_set_timeline(c, &tl);

	/* The rate held while the action ran: requests due in the seconds it overlaps, against the target. */
	{
		double want = ph[1].seconds * (double)rate * (double)n;
		double held = want > 0 ? (double)ph[1].sent / want : 1.0;
		const cJSON *pb = cJSON_GetObjectItemCaseSensitive(ex, "p99_ms");

		mc_buf_printf(&seen, "action: %.1f s to %.1f s%s%s\n", a_start, a_end, action_failed ? "; FAILED: " : "",
			      action_failed ? aerr : "");
		for (int i = 0; i < 3; i++)
			mc_buf_printf(&seen, "  %-6s %4.0f s: %lld sent, %lld ok, %lld failed, p99 %.1f ms\n", phase_names[i],
				      ph[i].seconds, (long long)ph[i].sent, (long long)ph[i].ok, (long long)ph[i].failed,
				      ph[i].p99_ms);
		mc_buf_printf(&seen, "rate during the action: %.2f%% of the target (%lld of %.0f requests due)\n",
			      100 * held, (long long)ph[1].sent, want);
		for (size_t i = 0; i < n_fail && i < 20; i++)
			mc_buf_printf(&seen, "  t=%.2fs %s: %s\n", fails[i].t, fails[i].path, fails[i].what);
		if (n_fail > 20 || dropped > 0)
			mc_buf_printf(&seen, "  and %lld more failed request(s)\n", (long long)(n_fail - 20 + dropped));
		mc_case_add_measure(c, "requests", (double)total_sent, NULL);
		mc_case_add_measure(c, "failed", (double)total_failed, NULL);
		mc_case_add_measure(c, "action_seconds", a_end - a_start, "s");
		mc_case_add_measure(c, "rate_during_action", 100 * held, "%");
		for (int i = 0; i < 3; i++) {
			char *name = mc_xasprintf("p99 %s", phase_names[i]);

			mc_case_add_measure(c, name, ph[i].p99_ms, "ms");
			free(name);
		}
		if (action_failed)
			mc_case_set(c, MC_RESULT_ERROR, "the action failed: %s", aerr);
		else if (total_failed > max_failed)
			mc_buf_printf(&why, "%lld request(s) failed (at most %ld allowed)", (long long)total_failed,
				      max_failed);
		if (!action_failed) {
			if (fabs(held - 1.0) > tol)
				mc_buf_printf(&why, "%sthe rate during the action was %.1f%% of the target (tolerance %.1f%%)",
					      why.len > 0 ? "; " : "", 100 * held, 100 * tol);
			for (int i = 0; i < 3; i++) {
				const cJSON *b = cJSON_IsNumber(pb) ? pb : cJSON_GetObjectItemCaseSensitive(pb, phase_names[i]);

				if (cJSON_IsNumber(b) && ph[i].seconds > 0 && ph[i].p99_ms > b->valuedouble)
					mc_buf_printf(&why, "%sp99 %s the action %.1f ms > %g ms", why.len > 0 ? "; " : "",
						      phase_names[i], ph[i].p99_ms, b->valuedouble);
			}
			if (why.len > 0)
				mc_case_set(c, MC_RESULT_FAIL, "%s", why.data);
			else
				mc_case_set(c, MC_RESULT_PASS, NULL);
		}
	}
	{
		cJSON *j = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(j, "paths");
		char *text;

		cJSON_AddNumberToObject(j, "action_start_s", a_start);
		cJSON_AddNumberToObject(j, "action_end_s", a_end);
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(a, mc_load_result_json(&runs[i].res));
		text = cJSON_Print(j);
		mc_http_evidence(ctx, c, "continuity.json", "each path's traffic: timeline, failures, latency", text);
		free(text);
		cJSON_Delete(j);
	}
out:
	stop = 1;
	mc_case_set_expected(c, expected.data);
	if (seen.len > 0)
		mc_case_set_seen(c, seen.data);
	for (size_t i = 0; i < n; i++)
		mc_load_result_clear(&runs[i].res);
	for (size_t i = 0; i < n_fail; i++)
		free(fails[i].what);
	free(fails);
	free(pts);
	free(log_full);
	free(log_rel);
	mc_buf_free(&expected);
	mc_buf_free(&seen);
	mc_buf_free(&why);
}

const struct mc_check_kind mc_check_continuity = {
	.name = "continuity",
	.summary = "traffic at a fixed rate while an action runs: at most K failed requests, bounded p99 per phase",
	.validate = continuity_validate,
	.run = continuity_run,
};
