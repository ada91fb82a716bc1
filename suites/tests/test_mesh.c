/*
 * End-to-end tests of the local multi-cluster mesh: the default suites run
 * against it and pass; a mesh broken on purpose (mTLS off, a foreign
 * intermediate, authorization dropped, a workload stopped) fails exactly
 * the cases that should notice; and whatever way a run ends (normally, on
 * SIGINT or SIGTERM in the middle of a suite, on a malformed topology),
 * no process, listening socket or run directory of it is left behind.
 *
 * Each run is watched while it goes: the address slot it claims (the
 * listening socket on 127.10.R.1:15999 that meshcheck itself holds) and
 * every process descended from it, so that afterwards the test can tell
 * that each of those processes is gone and no socket listens on
 * 127.10.R.x, 127.11.R.x or 127.12.R.x any more.
 *
 * MESHCHECK names the binary; MC_SOURCE_ROOT the source tree.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "nginx.h"
#include "e2eutil.h"

#define SLOT_PORT 15999
#define MAX_SLOTS 16
#define MAX_PROCS 1024
#define UNPRIVILEGED_UID 65534

static const char *bin;

static const char *const default_suites[] = {"multicluster", "security", "policy", "bookinfo", "load", "continuity"};

#define N_DEFAULT (sizeof(default_suites) / sizeof(default_suites[0]))

static char *
suite_path(const char *name)
{
	return mc_xasprintf("%s/suites/%s.json", MC_SOURCE_ROOT, name);
}

/* A case's status and reason in a report.json, by suite and case name (suite NULL: any). */
static const char *
case_status(cJSON *j, const char *suite, const char *name, const char **reason)
{
	cJSON *s, *c;

	cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "suites")) {
		if (suite != NULL && strcmp(cJSON_GetObjectItem(s, "name")->valuestring, suite) != 0)
			continue;
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(s, "cases"))
			if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0) {
				if (reason != NULL)
					*reason = cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason"));
				return cJSON_GetObjectItem(c, "status")->valuestring;
			}
	}
	ck_abort_msg("no case %s/%s in the report", suite != NULL ? suite : "*", name);
	return NULL;
}

/* ---- watching a run -------------------------------------------------------- */

struct proc {
	pid_t pid;
	unsigned long long start;   /* start time in clock ticks: tells a reused PID apart */
};

struct watch {
	pid_t pid;                  /* meshcheck */
	int status;
	bool exited;
	int slots[MAX_SLOTS];       /* address slots meshcheck held */
	size_t n_slots;
	struct proc procs[MAX_PROCS];   /* every descendant seen */
	size_t n_procs;
};

/* ppid and start time from /proc/PID/stat; false when the process is gone or a zombie. */
static bool
proc_stat(pid_t pid, pid_t *ppid, unsigned long long *start)
{
	char path[64], buf[1024], *p, state;
	FILE *f;
	size_t n;
	int pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return false;
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
	   priority nice num_threads itrealvalue starttime */
	if (sscanf(p + 2, "%c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &state,
		   &pp, start) != 3)
		return false;
	*ppid = pp;
	return state != 'Z' && state != 'X';
}

static bool
proc_alive(const struct proc *p)
{
	pid_t ppid;
	unsigned long long start;

	return proc_stat(p->pid, &ppid, &start) && start == p->start;
}

/* Adds every live descendant of w->pid to w->procs. */
static void
watch_procs(struct watch *w)
{
	static pid_t pid[8192], ppid[8192], set[MAX_PROCS];
	static unsigned long long start[8192];
	static bool in[8192];
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0, n_set = 0;
	bool grew = true;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL && n < 8192) {
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end != '\0' || v <= 0)
			continue;
		pid[n] = (pid_t)v;
		if (proc_stat(pid[n], &ppid[n], &start[n])) {
			in[n] = false;
			n++;
		}
	}
	closedir(d);
	set[n_set++] = w->pid;
	/* A pass per generation: meshcheck, nginx masters and apps, nginx workers. */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			bool parent_in = false;

			for (size_t k = 0; !in[i] && !parent_in && k < n_set; k++)
				parent_in = set[k] == ppid[i];
			if (!parent_in || n_set == MAX_PROCS)
				continue;
			in[i] = true;
			set[n_set++] = pid[i];
			grew = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool known = false;

		if (!in[i])
			continue;
		for (size_t k = 0; k < w->n_procs && !known; k++)
			known = w->procs[k].pid == pid[i] && w->procs[k].start == start[i];
		if (!known && w->n_procs < MAX_PROCS)
			w->procs[w->n_procs++] = (struct proc){pid[i], start[i]};
	}
}

/* Listening TCP sockets on IPv4: calls fn(addr, port, inode, arg) for each. */
static void
each_listener(void (*fn)(struct in_addr a, unsigned port, unsigned long inode, void *arg), void *arg)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned addr, port, state;
		unsigned long inode;
		struct in_addr a;

		if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X %*s %*s %*s %*u %*u %lu", &addr, &port, &state,
			   &inode) != 4 || state != 0x0A)
			continue;
		/* The kernel prints the address as it lies in memory, read as a host-order integer. */
		a.s_addr = addr;
		fn(a, port, inode, arg);
	}
	fclose(f);
}

struct slot_scan {
	struct watch *w;
	unsigned long inodes[256];  /* sockets meshcheck holds */
	size_t n_inodes;
};

static void
slot_cb(struct in_addr a, unsigned port, unsigned long inode, void *arg)
{
	struct slot_scan *s = arg;
	unsigned char *b = (unsigned char *)&a.s_addr;
	bool mine = false, known = false;

	if (port != SLOT_PORT || b[0] != 127 || b[1] != 10 || b[3] != 1)
		return;
	for (size_t i = 0; i < s->n_inodes && !mine; i++)
		mine = s->inodes[i] == inode;
	for (size_t i = 0; i < s->w->n_slots && !known; i++)
		known = s->w->slots[i] == b[2];
	if (mine && !known && s->w->n_slots < MAX_SLOTS)
		s->w->slots[s->w->n_slots++] = b[2];
}

/* Records the address slot meshcheck holds now, if any. */
static void
watch_slot(struct watch *w)
{
	struct slot_scan s = {.w = w};
	char path[64];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)w->pid);
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL && s.n_inodes < 256) {
		char link[400], target[64];
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &s.inodes[s.n_inodes]) == 1)
			s.n_inodes++;
	}
	closedir(d);
	if (s.n_inodes > 0)
		each_listener(slot_cb, &s);
}

/* One look at the run: its slot, its processes, whether it ended. */
static void
watch_poll(struct watch *w)
{
	if (w->exited)
		return;
	watch_slot(w);
	watch_procs(w);
	if (waitpid(w->pid, &w->status, WNOHANG) == w->pid)
		w->exited = true;
}

/* Starts meshcheck with args, TMPDIR = ws->runs, output into ws->log. */
static void
watch_start(struct watch *w, struct ws *ws, char *const args[], uid_t uid)
{
	char *argv[40];
	int n = 0;

	memset(w, 0, sizeof(*w));
	argv[n++] = (char *)bin;
	for (int i = 0; args[i] != NULL && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0) {
		int fd = open(ws->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			_exit(125);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		setenv("TMPDIR", ws->runs, 1);
		if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
			_exit(125);
		execv(bin, argv);
		_exit(126);
	}
}

/* Polls until cond(ws) holds or meshcheck exits; true when cond held first. */
static bool
watch_until(struct watch *w, struct ws *ws, bool (*cond)(struct ws *ws), double seconds)
{
	struct timespec ts = {0, 40 * 1000 * 1000};
	double deadline = mc_monotonic() + seconds;

	while (mc_monotonic() < deadline) {
		watch_poll(w);
		if (w->exited)
			return false;
		if (cond != NULL && cond(ws))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Waits for meshcheck to exit (watching all along); returns its exit status, or 128+signal. */
static int
watch_finish(struct watch *w, double seconds)
{
	(void)watch_until(w, NULL, NULL, seconds);
	if (!w->exited) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, &w->status, 0);
		w->exited = true;
		ck_abort_msg("meshcheck did not finish within %.0f s", seconds);
	}
	return WIFEXITED(w->status) ? WEXITSTATUS(w->status) : 128 + WTERMSIG(w->status);
}

static bool
log_has(struct ws *ws, const char *needle)
{
	char *text = NULL;
	bool found;

	if (mc_file_read(ws->log, 16 << 20, &text, NULL, NULL, 0) < 0)
		return false;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

static bool
target_ready(struct ws *ws)
{
	return log_has(ws, "target ready in");
}

static bool
case_reported(struct ws *ws)
{
	return log_has(ws, "\nPASS ") || log_has(ws, "\nFAIL ");
}

static bool
run_dir_exists(struct ws *ws)
{
	return count_entries(ws->runs) > 0;
}

/* ---- nothing left behind ------------------------------------------------- */

struct leftover {
	const struct watch *w;
	char found[1024];
};

static void
leftover_cb(struct in_addr a, unsigned port, unsigned long inode, void *arg)
{
	struct leftover *l = arg;
	unsigned char *b = (unsigned char *)&a.s_addr;
	size_t n = strlen(l->found);

	(void)inode;
	if (b[0] != 127 || b[1] < 10 || b[1] > 12)
		return;
	for (size_t i = 0; i < l->w->n_slots; i++)
		if (b[2] == l->w->slots[i] && n + 40 < sizeof(l->found))
			snprintf(l->found + n, sizeof(l->found) - n, " %s:%u", inet_ntoa(a), port);
}

/* A slot someone else claimed after us: its marker listens again. */
static void
reclaimed_cb(struct in_addr a, unsigned port, unsigned long inode, void *arg)
{
	int *slot = arg;
	unsigned char *b = (unsigned char *)&a.s_addr;

	(void)inode;
	if (port == SLOT_PORT && b[0] == 127 && b[1] == 10 && b[2] == *slot && b[3] == 1)
		*slot = -1;
}

/* The processes whose command line mentions needle (the run directories' parent, an address prefix). */
static void
cmdline_mentions(const char *needle, char *found, size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[4096];
		FILE *f;
		size_t n;

		if (strspn(e->d_name, "0123456789") != strlen(e->d_name) || atoi(e->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL && strlen(found) + n + 16 < len)
			snprintf(found + strlen(found), len - strlen(found), " [%s] %s", e->d_name, buf);
	}
	closedir(d);
}

/*
 * After the run: its run directory is gone, every process it started is
 * gone, and nothing listens on its address slot.
 */
static void
assert_nothing_left(const struct watch *w, struct ws *ws, const char *what)
{
	struct leftover l = {.w = w};
	char found[4096] = "";

	ck_assert_msg(count_entries(ws->runs) == 0, "%s: run directory left behind in %s", what, ws->runs);
	for (size_t i = 0; i < w->n_procs; i++)
		ck_assert_msg(!proc_alive(&w->procs[i]), "%s: process %d of the run is still alive", what,
			      (int)w->procs[i].pid);
	cmdline_mentions(ws->runs, found, sizeof(found));
	for (size_t i = 0; i < w->n_slots; i++) {
		char pfx[2][32];

		snprintf(pfx[0], sizeof(pfx[0]), "127.11.%d.", w->slots[i]);
		snprintf(pfx[1], sizeof(pfx[1]), "127.12.%d.", w->slots[i]);
		cmdline_mentions(pfx[0], found, sizeof(found));
		cmdline_mentions(pfx[1], found, sizeof(found));
	}
	ck_assert_msg(found[0] == '\0', "%s: processes of the run still alive:%s", what, found);
	each_listener(leftover_cb, &l);
	if (l.found[0] != '\0') {
		/* Unless another run has claimed the same slot since (its marker listens), ours leaked. */
		for (size_t i = 0; i < w->n_slots; i++) {
			int slot = w->slots[i];

			each_listener(reclaimed_cb, &slot);
			if (slot < 0) {
				printf("NOTE: %s: slot %d was claimed again by another run; its sockets not judged\n", what,
				       w->slots[i]);
				return;
			}
		}
	}
	ck_assert_msg(l.found[0] == '\0', "%s: still listening on the run's addresses:%s", what, l.found);
	printf("%s: %s", what, w->n_slots > 0 ? "slot" : "no slot");
	for (size_t i = 0; i < w->n_slots; i++)
		printf(" %d", w->slots[i]);
	printf(", %zu process(es) watched; all gone\n", w->n_procs);
}

/* ---- suites written by the tests ----------------------------------------- */

/* A copy of a case of a default suite, by name. */
static cJSON *
default_case(const char *suite, const char *name)
{
	char *path = suite_path(suite);
	cJSON *j = read_json(path), *c, *copy = NULL;

	cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases"))
		if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0)
			copy = cJSON_Duplicate(c, 1);
	ck_assert_msg(copy != NULL, "%s has no case \"%s\"", path, name);
	cJSON_Delete(j);
	free(path);
	return copy;
}

/*
 * Writes dir/NAME.json: a suite on the default topology with the overrides
 * in mesh_json (a JSON object's members, without braces) and copies of the
 * named default cases, given as "suite/case" strings, NULL-terminated.
 */
static char *
broken_suite(const char *dir, const char *name, const char *topology, const char *mesh_json,
	     const char *const cases[])
{
	char *mesh_text = mc_xasprintf("{\"topology\": \"%s\", %s}", topology, mesh_json);
	cJSON *s = cJSON_CreateObject(), *mesh = cJSON_Parse(mesh_text), *arr = cJSON_CreateArray();
	char *file = mc_xasprintf("%s.json", name), *text, *path;

	ck_assert_msg(mesh != NULL, "bad mesh overrides: %s", mesh_text);
	cJSON_AddStringToObject(s, "name", name);
	cJSON_AddStringToObject(s, "target", "local");
	cJSON_AddItemToObject(s, "mesh", mesh);
	for (size_t i = 0; cases[i] != NULL; i++) {
		const char *slash = strchr(cases[i], '/');
		char *suite = mc_xasprintf("%.*s", (int)(slash - cases[i]), cases[i]);

		cJSON_AddItemToArray(arr, default_case(suite, slash + 1));
		free(suite);
	}
	cJSON_AddItemToObject(s, "cases", arr);
	text = cJSON_Print(s);
	path = t_write(dir, file, text);
	cJSON_Delete(s);
	free(text);
	free(file);
	free(mesh_text);
	return path;
}

static bool
contains(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

/* ---- tests ----------------------------------------------------------------- */

/* A wire case run without the right to capture: skipped, saying why; never a pass. */
static void
assert_wire_skipped(const char *suite, const char *name, const char *status, const char *reason)
{
	ck_assert_msg(strcmp(status, "pass") != 0, "%s/%s passed without capturing", suite, name);
	ck_assert_msg(strcmp(status, "skip") == 0, "%s/%s: %s (%s)", suite, name, status, reason);
	ck_assert_msg(contains(reason, "root") || contains(reason, "CAP_NET_RAW"),
		      "%s/%s: the skip does not say it needs root or CAP_NET_RAW: %s", suite, name, reason);
}

/*
 * Checks a report of the default suites: every case listed in the suite
 * files is there, and passed (wire cases skipped, saying why, when the run
 * could not capture).
 */
static void
assert_default_report(cJSON *j, const char *out, bool can_capture, size_t n, const char *const names[])
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		char *path = suite_path(names[i]);
		cJSON *sj = read_json(path), *c;

		cJSON_ArrayForEach(c, cJSON_GetObjectItem(sj, "cases")) {
			const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
			const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(c, "check"));
			const char *reason = NULL, *status = case_status(j, names[i], name, &reason);

			total++;
			if (!can_capture && kind != NULL && strcmp(kind, "wire") == 0) {
				assert_wire_skipped(names[i], name, status, reason);
				continue;
			}
			ck_assert_msg(strcmp(status, "pass") == 0, "%s/%s: %s (%s)\noutput:\n%s", names[i], name, status,
				      reason != NULL ? reason : "no reason", out);
		}
		cJSON_Delete(sj);
		free(path);
	}
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "total")->valueint, (int)total);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 0);
}

/*
 * The run's certification bundle verifies; a copy with one byte of one
 * member changed (report.json's, inside the archive) does not.
 */
static void
assert_bundle_verifies_and_tamper_fails(struct ws *w, const char *run_id)
{
	char *bundle, *copy, *out = NULL, *data = NULL, *at;
	size_t len = 0;
	int rc;

	ck_assert_ptr_nonnull(run_id);
	bundle = mc_xasprintf("%s/meshcheck-%s.tar", w->out_dir, run_id);
	copy = mc_xasprintf("%s/tampered.tar", w->tmp);
	{
		char *args[] = {(char *)bin, "verify-bundle", bundle, NULL};

		rc = t_run(args, &out);
		ck_assert_msg(rc == 0, "verify-bundle: exit %d\n%s", rc, out);
		ck_assert_msg(strstr(out, "OK: ") != NULL, "%s", out);
		free(out);
	}
	ck_assert_int_eq(mc_file_read(bundle, 256u << 20, &data, &len, NULL, 0), 0);
	/* The first verdict in the archive's data flipped from pass to fail, as a forger would. */
	at = memmem(data, len, "\"pass\"", 6);
	ck_assert_msg(at != NULL, "no verdict found in the archive");
	memcpy(at + 1, "fail", 4);
	ck_assert_int_eq(mc_file_write(copy, data, len, 0644, NULL, 0), 0);
	{
		char *args[] = {(char *)bin, "verify-bundle", copy, NULL};

		rc = t_run(args, &out);
		ck_assert_msg(rc == 1, "a tampered bundle: exit %d\n%s", rc, out);
		free(out);
	}
	free(data);
	free(bundle);
	free(copy);
}

/* The default suites pass against the local mesh, and the run leaves nothing behind. */
START_TEST(default_suites_pass)
{
	struct ws w;
	struct watch wt;
	char *paths[N_DEFAULT], *args[2 * N_DEFAULT + 6], *out;
	int n = 0, rc, ready = 0;
	cJSON *j;

	ws_init(&w);
	args[n++] = "run";
	for (size_t i = 0; i < N_DEFAULT; i++) {
		paths[i] = suite_path(default_suites[i]);
		args[n++] = "--suite";
		args[n++] = paths[i];
	}
	args[n++] = "--out";
	args[n++] = w.out_dir;
	args[n++] = "--certify";
	args[n] = NULL;
	if (geteuid() != 0)
		printf("SKIP: default_suites_pass: not root, so the wire cases must be skipped rather than pass\n");
	watch_start(&wt, &w, args, 0);
	rc = watch_finish(&wt, 240);
	out = t_read(w.log);
	ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
	for (const char *p = out; (p = strstr(p, "local target ready in ")) != NULL; p++)
		ready++;
	ck_assert_msg(ready == (int)N_DEFAULT, "%d mesh(es) came up for %zu suites:\n%s", ready, N_DEFAULT, out);
	j = read_json(w.json);
	assert_default_report(j, out, geteuid() == 0, N_DEFAULT, default_suites);
	/* The watch saw the mesh: its slot and its processes (13 sidecars, 11 apps, 4 gateways at least). */
	ck_assert_msg(wt.n_slots >= 1, "no address slot seen");
	ck_assert_msg(wt.n_procs >= 28, "only %zu processes of the mesh seen", wt.n_procs);
	assert_nothing_left(&wt, &w, "normal run");
	assert_bundle_verifies_and_tamper_fails(&w, cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "run"), "id")));
	cJSON_Delete(j);
	free(out);
	for (size_t i = 0; i < N_DEFAULT; i++)
		free(paths[i]);
	ws_free(&w);
}
END_TEST

/*
 * The shipped policy matrix passes as it stands; with the gateway's host
 * rule widened (the authorization dropped), exactly the cells it decided
 * fail, and no other.
 */
START_TEST(policy_matrix_widened_rule_fails_exactly_its_cells)
{
	static const char *const affected[] = {"outside -> ingress c1, bare IP host", "outside -> ingress c1, routed host"};
	char *src = suite_path("policy-matrix");
	cJSON *doc = read_json(src), *j, *c;
	struct ws w;
	char *text, *path, *out = NULL;
	int rc, failed = 0, total = 0;

	ws_init(&w);
	/* As shipped: every cell passes. */
	{
		char *first = mc_xasprintf("%s/first", w.tmp);
		char *args[] = {(char *)bin, "run", "--suite", src, "--out", first, "-q", NULL};

		rc = t_run(args, &out);
		ck_assert_msg(rc == 0, "the shipped matrix: exit %d\n%s", rc, out);
		free(out);
		free(first);
	}
	cJSON_AddTrueToObject(cJSON_GetObjectItem(doc, "mesh"), "drop_authorization");
	text = cJSON_Print(doc);
	path = t_write(w.tmp, "widened.json", text);
	{
		char *args[] = {(char *)bin, "run", "--suite", path, "--out", w.out_dir, "-q", NULL};

		rc = t_run(args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d\n%s", rc, out);
	j = read_json(w.json);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0), "cases")) {
		const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
		const char *status = cJSON_GetObjectItem(c, "status")->valuestring;
		bool hit = strcmp(name, affected[0]) == 0 || strcmp(name, affected[1]) == 0;

		total++;
		ck_assert_msg(strcmp(status, hit ? "fail" : "pass") == 0, "%s: %s", name, status);
		failed += hit;
	}
	ck_assert_int_eq(failed, 2);
	ck_assert_int_ge(total, 10);
	/* The two runs' diff lists exactly those two cases and their two cells, and says it regressed. */
	{
		char *old_json = mc_xasprintf("%s/first/report.json", w.tmp);
		char *args[] = {(char *)bin, "diff", old_json, w.json, "--json", NULL};
		cJSON *d, *x;
		int nc = 0, ncell = 0;

		free(out);
		rc = t_run(args, &out);
		ck_assert_msg(rc == 1, "diff: exit %d\n%s", rc, out);
		d = cJSON_Parse(out);
		ck_assert_msg(d != NULL, "diff --json is not JSON:\n%s", out);
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(d, "cases")) {
			const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(x, "case"));

			ck_assert_msg(n != NULL && (strcmp(n, affected[0]) == 0 || strcmp(n, affected[1]) == 0), "case %s", n);
			nc++;
		}
		cJSON_ArrayForEach(x, cJSON_GetObjectItem(d, "cells")) {
			const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(x, "case"));

			ck_assert_msg(n != NULL && (strcmp(n, affected[0]) == 0 || strcmp(n, affected[1]) == 0), "cell of %s", n);
			ncell++;
		}
		ck_assert_int_eq(nc, 2);
		ck_assert_int_eq(ncell, 2);
		cJSON_Delete(d);
		free(old_json);
	}
	cJSON_Delete(j);
	cJSON_Delete(doc);
	free(text);
	free(path);
	free(out);
	free(src);
	ws_free(&w);
}
END_TEST

/*
 * Continuity with command actions: a command that succeeds while traffic
 * flows passes with its timeline in the report (the action's start and end
 * marked, about a second apart); a command that fails makes the case an
 * error; restarting echoserver's app loses requests, each listed with its
 * time inside the action's window.
 */
START_TEST(continuity_actions_and_timeline)
{
	static const char *const suite =
		"{\"name\": \"cont\", \"mesh\": {\"topology\": \"default\"}, \"cases\": [\n"
		" {\"name\": \"a command under traffic\", \"check\": \"continuity\",\n"
		"  \"input\": {\"paths\": [{\"from\": \"sleep@c1\", \"url\": \"http://helloworld.sample:5000/hello\"}],\n"
		"             \"rate\": 50, \"before\": \"1s\", \"after\": \"1s\", \"action\": {\"command\": [\"sleep\", \"1\"]}},\n"
		"  \"expect\": {\"max_failed\": 0, \"rate_tolerance\": 0.01}},\n"
		" {\"name\": \"a failing command\", \"check\": \"continuity\",\n"
		"  \"input\": {\"paths\": [{\"server\": \"ingress@c1:http\", \"path\": \"/\"}],\n"
		"             \"rate\": 20, \"before\": \"1s\", \"after\": \"1s\", \"action\": {\"command\": [\"false\"]}},\n"
		"  \"expect\": {\"max_failed\": 0}},\n"
		" {\"name\": \"echoserver restarted\", \"check\": \"continuity\",\n"
		"  \"input\": {\"paths\": [{\"from\": \"sleep@c1\", \"url\": \"http://echoserver.default:8080/\"}],\n"
		"             \"rate\": 100, \"before\": \"1s\", \"after\": \"1s\", \"action\": {\"local\": \"restart_app\", \"target\": \"echoserver@c1\"}},\n"
		"  \"expect\": {\"max_failed\": 0}}\n"
		"]}\n";
	struct ws w;
	char *path, *out = NULL;
	const char *why = NULL;
	cJSON *j, *c, *tl, *x;
	double a_start = -1, a_end = -1;
	int rc;

	ws_init(&w);
	path = t_write(w.tmp, "cont.json", suite);
	{
		char *args[] = {(char *)bin, "run", "--suite", path, "--out", w.out_dir, NULL};

		rc = t_run(args, &out);
	}
	ck_assert_msg(rc == 1, "exit %d:\n%s", rc, out);
	j = read_json(w.json);
	ck_assert_msg(strcmp(case_status(j, "cont", "a command under traffic", &why), "pass") == 0, "%s\n%s", why, out);
	ck_assert_str_eq(case_status(j, "cont", "a failing command", &why), "error");
	ck_assert_msg(contains(why, "exited with status 1"), "%s", why);
	ck_assert_str_eq(case_status(j, "cont", "echoserver restarted", &why), "fail");
	/* The passing case's timeline: seconds of traffic and the two marks, about a second apart. */
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0), "cases"), 0);
	tl = cJSON_GetObjectItem(c, "timeline");
	ck_assert_ptr_nonnull(tl);
	ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(tl, "points")), 3);
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(tl, "marks")) {
		const char *label = cJSON_GetObjectItem(x, "label")->valuestring;

		if (strcmp(label, "action start") == 0)
			a_start = cJSON_GetObjectItem(x, "t")->valuedouble;
		else if (strcmp(label, "action end") == 0)
			a_end = cJSON_GetObjectItem(x, "t")->valuedouble;
	}
	ck_assert_msg(a_start > 0.9 && a_start < 1.3 && a_end - a_start > 0.9 && a_end - a_start < 1.5,
		      "marks at %.2f and %.2f", a_start, a_end);
	/* The restart's failures: each listed, each inside the action's window (plus the time answers take). */
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0), "cases"), 2);
	tl = cJSON_GetObjectItem(c, "timeline");
	a_start = a_end = -1;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(tl, "marks")) {
		const char *label = cJSON_GetObjectItem(x, "label")->valuestring;

		if (strcmp(label, "action start") == 0)
			a_start = cJSON_GetObjectItem(x, "t")->valuedouble;
		else if (strcmp(label, "action end") == 0)
			a_end = cJSON_GetObjectItem(x, "t")->valuedouble;
	}
	ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(tl, "failures")), 1);
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(tl, "failures")) {
		double t = cJSON_GetObjectItem(x, "t")->valuedouble;

		ck_assert_msg(t >= a_start - 0.1 && t <= a_end + 0.1, "a failure at %.2f s, outside the action (%.2f-%.2f)",
			      t, a_start, a_end);
	}
	cJSON_Delete(j);
	free(out);
	free(path);
	ws_free(&w);
}
END_TEST

/*
 * Without the right to capture (run as nobody): the security suite's wire
 * cases are skipped, saying they need root or CAP_NET_RAW, and the
 * negative control among them is not turned into a pass.
 */
START_TEST(unprivileged_wire_cases_skip)
{
	static const char *const names[] = {"security"};
	struct ws w;
	struct watch wt;
	char *suite = suite_path("security"), *out;
	int rc;
	cJSON *j;

	if (geteuid() != 0) {
		printf("SKIP: unprivileged_wire_cases_skip: the default run already ran without root\n");
		free(suite);
		return;
	}
	ws_init(&w);
	ck_assert_int_eq(chown(w.tmp, UNPRIVILEGED_UID, UNPRIVILEGED_UID), 0);
	ck_assert_int_eq(chown(w.runs, UNPRIVILEGED_UID, UNPRIVILEGED_UID), 0);
	{
		char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

		watch_start(&wt, &w, args, UNPRIVILEGED_UID);
	}
	rc = watch_finish(&wt, 60);
	if (rc == 125 || rc == 126) {
		printf("SKIP: unprivileged_wire_cases_skip: meshcheck cannot run as uid %d here\n", UNPRIVILEGED_UID);
		free(suite);
		ws_free(&w);
		return;
	}
	out = t_read(w.log);
	ck_assert_msg(rc == 0, "exit %d, output:\n%s", rc, out);
	j = read_json(w.json);
	assert_default_report(j, out, false, 1, names);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "skipped")->valueint, 3);
	assert_nothing_left(&wt, &w, "unprivileged run");
	cJSON_Delete(j);
	free(out);
	free(suite);
	ws_free(&w);
}
END_TEST

/*
 * A mesh broken four ways, one suite each, in one run: each break fails
 * the case that must notice it, naming what it saw, while a case in the
 * same suite that the break does not touch still passes.
 */
START_TEST(broken_mesh_fails_the_right_cases)
{
	static const char *const mtls_cases[] = {
		"security/intra-cluster traffic is TLS with no cleartext canary",
		"multicluster/sleep in c1 reaches echoserver in c1",
		"security/STRICT refuses a plaintext client", NULL};
	static const char *const trust_cases[] = {
		"security/c2 workloads chain to the shared root with their identities",
		"security/each cluster has its own intermediate under one root",
		"security/c1 workloads chain to the shared root with their identities", NULL};
	static const char *const authz_cases[] = {
		"policy/nip.io authorization policy",
		"policy/ingress routes to echoserver",
		"policy/MUTUAL gateway: httpbin's teapot with a client certificate", NULL};
	static const char *const stopped_cases[] = {
		"multicluster/sleep in c1 reaches helloworld v1 and v2",
		"multicluster/sleep in c2 reaches echoserver in c1",
		"multicluster/sleep in c1 reaches echoserver in c1", NULL};
	struct ws w;
	struct watch wt;
	bool root = geteuid() == 0;
	char *topo = mc_xasprintf("%s/fixtures/local/topology.json", MC_SOURCE_ROOT);
	char *s_mtls, *s_trust, *s_authz, *s_stopped, *out;
	const char *reason = NULL, *st;
	cJSON *j;
	int rc;

	ws_init(&w);
	/* Two by "default", two by the topology's absolute path: both ways of naming it. */
	s_mtls = broken_suite(w.tmp, "broken-mtls", "default", "\"mtls\": {\"echoserver@c1\": \"DISABLE\"}", mtls_cases);
	s_trust = broken_suite(w.tmp, "broken-trust", topo, "\"foreign_intermediate\": \"c2\"", trust_cases);
	s_authz = broken_suite(w.tmp, "broken-authz", topo, "\"drop_authorization\": true", authz_cases);
	s_stopped = broken_suite(w.tmp, "broken-split", "default", "\"stopped\": [\"helloworld-v2@c2\"]",
				 stopped_cases);
	{
		char *args[] = {"run", "--suite", s_trust, "--suite", s_authz, "--suite", s_stopped, "--suite", s_mtls,
				"--out", w.out_dir, NULL};

		watch_start(&wt, &w, args, 0);
	}
	rc = watch_finish(&wt, 120);
	out = t_read(w.log);
	ck_assert_msg(rc == 1, "exit %d (expected 1), output:\n%s", rc, out);
	j = read_json(w.json);

	/* mTLS off on echoserver: its inbound is plain HTTP, the canary is on the wire. */
	st = case_status(j, "broken-mtls", "intra-cluster traffic is TLS with no cleartext canary", &reason);
	if (root) {
		ck_assert_msg(strcmp(st, "fail") == 0, "plaintext echoserver: wire case %s (%s)", st, reason);
		ck_assert_msg(contains(reason, "http1") || contains(reason, "canary"),
			      "the wire case's reason names neither the flow class nor the canary: %s", reason);
	} else {
		printf("SKIP: broken_mesh_fails_the_right_cases: not root, the mTLS break is not judged on the wire\n");
		assert_wire_skipped("broken-mtls", "intra-cluster traffic...", st, reason);
	}
	st = case_status(j, "broken-mtls", "sleep in c1 reaches echoserver in c1", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-mtls: echoserver unreachable: %s (%s)", st, reason);
	st = case_status(j, "broken-mtls", "STRICT refuses a plaintext client", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-mtls: helloworld-v1 is no longer STRICT: %s (%s)", st, reason);

	/* c2's intermediate from a root the mesh does not trust: c2's chains fail, c1's do not. */
	st = case_status(j, "broken-trust", "c2 workloads chain to the shared root with their identities", &reason);
	ck_assert_msg(strcmp(st, "fail") == 0, "foreign intermediate: c2 chains %s (%s)\n%s", st, reason, out);
	ck_assert_msg(contains(reason, "@c2") && contains(reason, "root"), "reason names no c2 workload: %s", reason);
	st = case_status(j, "broken-trust", "each cluster has its own intermediate under one root", &reason);
	ck_assert_msg(strcmp(st, "fail") == 0, "foreign intermediate: same_root across clusters %s (%s)\n%s", st, reason,
		      out);
	st = case_status(j, "broken-trust", "c1 workloads chain to the shared root with their identities", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-trust: c1 chains %s (%s)", st, reason);

	/* Authorization dropped: the bare IP host is no longer denied; the row is named, the allowed row is not. */
	st = case_status(j, "broken-authz", "nip.io authorization policy", &reason);
	ck_assert_msg(strcmp(st, "fail") == 0, "authorization dropped: policy case %s (%s)\n%s", st, reason, out);
	ck_assert_msg(contains(reason, "bare IP host denied"), "reason does not name the row: %s", reason);
	ck_assert_msg(!contains(reason, "nip.io host allowed"), "a row the break does not touch is blamed: %s", reason);
	st = case_status(j, "broken-authz", "ingress routes to echoserver", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-authz: routing %s (%s)", st, reason);
	st = case_status(j, "broken-authz", "MUTUAL gateway: httpbin's teapot with a client certificate", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-authz: MUTUAL gateway %s (%s)", st, reason);

	/* helloworld-v2 stopped: the 50/50 split is gone; other traffic across clusters still flows. */
	st = case_status(j, "broken-split", "sleep in c1 reaches helloworld v1 and v2", &reason);
	ck_assert_msg(strcmp(st, "fail") == 0, "v2 stopped: the split case %s (%s)", st, reason);
	ck_assert_ptr_nonnull(reason);
	st = case_status(j, "broken-split", "sleep in c2 reaches echoserver in c1", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-split: c2 to c1 %s (%s)", st, reason);
	st = case_status(j, "broken-split", "sleep in c1 reaches echoserver in c1", &reason);
	ck_assert_msg(strcmp(st, "pass") == 0, "broken-split: c1 to c1 %s (%s)", st, reason);

	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "failed")->valueint, root ? 5 : 4);
	assert_nothing_left(&wt, &w, "broken-mesh run");
	cJSON_Delete(j);
	free(out);
	free(s_mtls);
	free(s_trust);
	free(s_authz);
	free(s_stopped);
	free(topo);
	ws_free(&w);
}
END_TEST

/*
 * Stops a run with sig once cond holds, then checks: exit 2, reports
 * written and saying the run was interrupted, nothing left behind.
 */
static void
interrupt_run(const char *const suites[], bool (*cond)(struct ws *), double delay, int sig, const char *what)
{
	struct ws w;
	struct watch wt;
	char *paths[8], *args[24], *out;
	int n = 0, rc;
	size_t ns = 0;
	cJSON *j;

	ws_init(&w);
	args[n++] = "run";
	for (; suites[ns] != NULL; ns++) {
		paths[ns] = suite_path(suites[ns]);
		args[n++] = "--suite";
		args[n++] = paths[ns];
	}
	args[n++] = "--out";
	args[n++] = w.out_dir;
	args[n] = NULL;
	watch_start(&wt, &w, args, 0);
	if (!watch_until(&wt, &w, cond, 60)) {
		if (!wt.exited) {
			kill(wt.pid, SIGKILL);
			waitpid(wt.pid, NULL, 0);
		}
		out = t_read(w.log);
		ck_abort_msg("%s: the run ended (or hung) before it could be interrupted:\n%s", what, out);
	}
	if (delay > 0)
		(void)watch_until(&wt, &w, NULL, delay);
	ck_assert_msg(!wt.exited, "%s: the run ended before the signal", what);
	ck_assert_int_eq(kill(wt.pid, sig), 0);
	rc = watch_finish(&wt, 60);
	out = t_read(w.log);
	ck_assert_msg(rc == 2, "%s: exit %d (expected 2), output:\n%s", what, rc, out);
	ck_assert_msg(contains(out, "interrupted"), "%s: the output does not say the run was interrupted:\n%s", what,
		      out);
	j = read_json(w.json);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 2);
	ck_assert_int_eq(access(w.junit, R_OK), 0);
	ck_assert_msg(wt.n_slots >= 1, "%s: no address slot seen", what);
	assert_nothing_left(&wt, &w, what);
	cJSON_Delete(j);
	free(out);
	for (size_t i = 0; i < ns; i++)
		free(paths[i]);
	ws_free(&w);
}

/* SIGINT while the load case runs (0.5 s into its 3 s), with a suite still to come. */
START_TEST(sigint_mid_suite_leaves_nothing)
{
	static const char *const suites[] = {"load", "multicluster", NULL};

	interrupt_run(suites, target_ready, 0.5, SIGINT, "SIGINT during the load case");
}
END_TEST

/* SIGTERM right after the first case of the multicluster suite reported, the others still to run. */
START_TEST(sigterm_mid_suite_leaves_nothing)
{
	static const char *const suites[] = {"multicluster", "security", NULL};

	interrupt_run(suites, case_reported, 0, SIGTERM, "SIGTERM after the first case");
}
END_TEST

/* SIGTERM while the mesh is being built: the run directory exists, the mesh is not up yet. */
START_TEST(sigterm_during_setup_leaves_nothing)
{
	static const char *const suites[] = {"bookinfo", NULL};

	interrupt_run(suites, run_dir_exists, 0, SIGTERM, "SIGTERM during set-up");
}
END_TEST

/* A malformed mesh override or topology: exit 2 before anything starts, naming the file and the field. */
START_TEST(malformed_topology_exits_2)
{
	static const struct {
		const char *mesh;
		const char *file;       /* the file the message must name */
		const char *message;
	} bad[] = {
		{"{\"topology\": \"default\", \"mtls\": {\"x@c1\": \"BOGUS\"}}", "bad-mesh.json",
		 "mesh.mtls.x@c1: expected STRICT"},
		{"{\"topology\": \"default\", \"foreign_intermediate\": \"c9\"}", "bad-mesh.json",
		 "\"c9\" is not a cluster of the mesh"},
		{"{\"topology\": \"default\", \"stopped\": \"helloworld-v2@c2\"}", "bad-mesh.json", "mesh.stopped"},
		{"{\"topology\": \"default\", \"breakage\": true}", "bad-mesh.json", "breakage"},
		/* A missing topology file: the message names that file, where the suite pointed. */
		{"{\"topology\": \"no-such-topology.json\"}", "/no-such-topology.json", "No such file"},
		{"{\"topology\": {\"clusters\": [\"c1\"], \"workloads\": [], \"services\": []}}", "bad-mesh.json",
		 "mesh.topology.workloads"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ws w;
		struct watch wt;
		char *text, *suite, *out, *xml;
		int rc;

		ws_init(&w);
		text = mc_xasprintf("{\"name\": \"bad-mesh\", \"target\": \"local\", \"mesh\": %s,\n"
				    " \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": \"echoserver@c1\"},"
				    " \"expect\": {\"spiffe_as_issued\": true}}]}\n",
				    bad[i].mesh);
		suite = t_write(w.tmp, "bad-mesh.json", text);
		{
			char *args[] = {"run", "--suite", suite, "--out", w.out_dir, NULL};

			watch_start(&wt, &w, args, 0);
		}
		rc = watch_finish(&wt, 30);
		out = t_read(w.log);
		ck_assert_msg(rc == 2, "case %zu: exit %d, output:\n%s", i, rc, out);
		ck_assert_msg(contains(out, bad[i].file), "case %zu: %s is not named:\n%s", i, bad[i].file, out);
		ck_assert_msg(contains(out, bad[i].message), "case %zu: message missing \"%s\" in:\n%s", i,
			      bad[i].message, out);
		xml = t_read(w.junit);
		ck_assert_msg(contains(xml, "<error"), "case %zu: no error in junit:\n%s", i, xml);
		ck_assert_msg(wt.n_slots == 0, "case %zu: an address slot was claimed for an invalid suite", i);
		assert_nothing_left(&wt, &w, "malformed topology");
		free(xml);
		free(out);
		free(suite);
		free(text);
		ws_free(&w);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mesh");
	TCase *tc = tcase_create("local");
	char *fixture;

	bin = getenv("MESHCHECK");
	if (bin == NULL || access(bin, X_OK) != 0) {
		printf("SKIP: MESHCHECK does not name the meshcheck binary\n");
		return 77;
	}
	if (mc_nginx_binary() == NULL) {
		printf("SKIP: nginx not found (install nginx-light)\n");
		return 77;
	}
	if (access("/usr/lib/nginx/modules/ngx_stream_module.so", R_OK) != 0) {
		printf("SKIP: nginx's stream module missing (install libnginx-mod-stream)\n");
		return 77;
	}
	{
		const char *slash = strrchr(bin, '/');

		fixture = getenv("MC_FIXTURE") != NULL
				  ? mc_xstrdup(getenv("MC_FIXTURE"))
				  : mc_xasprintf("%.*s/fixtures/local/meshcheck-fixture",
						 slash != NULL ? (int)(slash - bin) : 1, slash != NULL ? bin : ".");
		if (access(fixture, X_OK) != 0) {
			printf("SKIP: %s missing (libmicrohttpd-dev not installed when meshcheck was built?)\n", fixture);
			free(fixture);
			return 77;
		}
		free(fixture);
	}
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, default_suites_pass);
	tcase_add_test(tc, unprivileged_wire_cases_skip);
	tcase_add_test(tc, broken_mesh_fails_the_right_cases);
	tcase_add_test(tc, continuity_actions_and_timeline);
	tcase_add_test(tc, policy_matrix_widened_rule_fails_exactly_its_cells);
	tcase_add_test(tc, sigint_mid_suite_leaves_nothing);
	tcase_add_test(tc, sigterm_mid_suite_leaves_nothing);
	tcase_add_test(tc, sigterm_during_setup_leaves_nothing);
	tcase_add_test(tc, malformed_topology_exits_2);
	suite_add_tcase(s, tc);
	return t_main(s);
}
