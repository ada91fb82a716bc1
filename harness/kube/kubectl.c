/*
 * kubectl and istioctl as child processes: argv arrays, a deadline per call,
 * bounded capture of both streams, one-line errors in kubectl's own words.
 */
#include "kubectl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

static char *
find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	const char *p, *end;

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? mc_xstrdup(name) : NULL;
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		struct stat st;
		char *cand;

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		/* An empty entry means the current directory, as for the shell. */
		if (end == p)
			cand = mc_xasprintf("./%s", name);
		else
			cand = mc_xasprintf("%.*s/%s", (int)(end - p), p, name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (*end == '\0')
			break;
	}
	return NULL;
}

int
mc_kube_init(struct mc_kube *k, const char *kubeconfig, char *err, size_t errlen)
{
	const char *env;

	memset(k, 0, sizeof(*k));
	env = getenv("MC_KUBECTL");
	if (env != NULL && *env != '\0') {
		k->kubectl = find_in_path(env);
		if (k->kubectl == NULL)
			return mc_err(err, errlen, ENOENT, "MC_KUBECTL=%s: not an executable file", env);
	} else {
		k->kubectl = find_in_path("kubectl");
		if (k->kubectl == NULL)
			return mc_err(err, errlen, ENOENT,
				      "kubectl not found on PATH (the kube target drives clusters through kubectl; set MC_KUBECTL to its path)");
	}
	/* istioctl is optional: an empty MC_ISTIOCTL says "do without". */
	env = getenv("MC_ISTIOCTL");
	if (env != NULL)
		k->istioctl = *env != '\0' ? find_in_path(env) : NULL;
	else
		k->istioctl = find_in_path("istioctl");
	k->kubeconfig = mc_xstrdup(kubeconfig);
	return 0;
}

void
mc_kube_clear(struct mc_kube *k)
{
	free(k->kubectl);
	free(k->istioctl);
	free(k->kubeconfig);
	memset(k, 0, sizeof(*k));
}

void
mc_kube_result_clear(struct mc_kube_result *res)
{
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

/* The verb: the first argument that is not a flag (flags here never take a separate value before it). */
static const char *
verb_of(const char *const *args, size_t *at)
{
	for (size_t i = 0; args[i] != NULL; i++) {
		if (args[i][0] != '-') {
			if (at != NULL)
				*at = i;
			return args[i];
		}
	}
	return NULL;
}

bool
mc_kube_argv_mutates(const char *const *args)
{
	static const char *const verbs[] = {
		"apply", "create", "delete", "label", "annotate", "patch", "replace", "scale",
		"run", "exec", "cp", "edit", "set", "taint", "drain", "cordon", "uncordon", "expose",
		"autoscale", "attach", NULL,
	};
	size_t at = 0;
	const char *verb = verb_of(args, &at);

	if (verb == NULL)
		return false;
	for (size_t i = 0; verbs[i] != NULL; i++)
		if (strcmp(verb, verbs[i]) == 0)
			return true;
	/* `rollout restart|undo|pause|resume` change things; `rollout status|history` only read. */
	if (strcmp(verb, "rollout") == 0) {
		const char *sub = args[at + 1];

		return sub == NULL || (strcmp(sub, "status") != 0 && strcmp(sub, "history") != 0);
	}
	return false;
}

static bool
shell_safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+", *s) == NULL)
			return false;
	return true;
}

static void
put_word(struct mc_buf *b, const char *w)
{
	if (b->len > 0)
		mc_buf_puts(b, " ");
	if (shell_safe(w)) {
		mc_buf_puts(b, w);
		return;
	}
	mc_buf_puts(b, "'");
	for (; *w != '\0'; w++) {
		if (*w == '\'')
			mc_buf_puts(b, "'\\''");
		else if (*w == '\n')
			mc_buf_puts(b, "\\n");
		else
			mc_buf_append(b, w, 1);
	}
	mc_buf_puts(b, "'");
}

char *
mc_kube_render(const char *tool, const struct mc_kube *k, const char *context,
	       const char *const *args)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	put_word(&b, tool);
	if (k != NULL && k->kubeconfig != NULL) {
		put_word(&b, "--kubeconfig");
		put_word(&b, k->kubeconfig);
	}
	if (context != NULL) {
		put_word(&b, "--context");
		put_word(&b, context);
	}
	for (size_t i = 0; args[i] != NULL; i++)
		put_word(&b, args[i]);
	return mc_buf_steal(&b);
}

/* A short name for messages: the tool and its arguments, without the global flags. */
static char *
short_command(const char *tool, const char *const *args)
{
	return mc_kube_render(tool, NULL, NULL, args);
}

static bool
is_klog_line(const char *s, size_t n)
{
	/* klog: a severity letter, MMDD, a space, hh:mm:ss.uuuuuu */
	return n > 22 && strchr("IWEF", s[0]) != NULL && s[1] >= '0' && s[1] <= '9' &&
	       s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9' &&
	       s[4] >= '0' && s[4] <= '9' && s[5] == ' ' && s[8] == ':';
}

static bool
starts(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && strncmp(s, prefix, pl) == 0;
}

void
mc_kube_error_line(const char *text, char *line, size_t linelen)
{
	static const char *const marks[] = {
		"error:", "Error from server", "Unable to connect to the server",
		"Error in configuration", "error when", "Error:", NULL,
	};
	const char *best = NULL, *last = NULL;
	size_t best_n = 0, last_n = 0, o = 0;

	if (linelen == 0)
		return;
	line[0] = '\0';
	if (text == NULL)
		return;
	for (const char *p = text; *p != '\0'; ) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
		size_t s = 0;

		while (s < n && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r'))
			s++;
		while (n > s && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
			n--;
		if (n > s) {
			for (size_t m = 0; best == NULL && marks[m] != NULL; m++) {
				if (starts(p + s, n - s, marks[m])) {
					best = p + s;
					best_n = n - s;
				}
			}
			if (!is_klog_line(p + s, n - s)) {
				last = p + s;
				last_n = n - s;
			} else if (last == NULL) {
				/* Only klog lines so far: keep the message part after "] ". */
				const char *br = memchr(p + s, ']', n - s);

				if (br != NULL && (size_t)(br - p) + 2 < n) {
					last = br + 2;
					last_n = (size_t)(p + n - last);
				}
			}
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	if (best == NULL) {
		best = last;
		best_n = last_n;
	}
	for (size_t i = 0; best != NULL && i < best_n && o + 1 < linelen; i++)
		line[o++] = best[i] == '\t' ? ' ' : best[i];
	line[o] = '\0';
}

int
mc_kube_classify(const char *text)
{
	if (text == NULL)
		return -EIO;
	if ((strstr(text, "context \"") != NULL && strstr(text, "\" does not exist") != NULL) ||
	    strstr(text, "context was not found for specified context") != NULL)
		return -ENXIO;
	if (strstr(text, "Unable to connect to the server") != NULL ||
	    strstr(text, "connection refused") != NULL || strstr(text, "no such host") != NULL)
		return -EHOSTUNREACH;
	if (strstr(text, "(Forbidden)") != NULL || strstr(text, "(Unauthorized)") != NULL ||
	    strstr(text, "You must be logged in to the server") != NULL)
		return -EACCES;
	if (strstr(text, "(NotFound)") != NULL || strstr(text, "doesn't have a resource type") != NULL)
		return -ENOENT;
	return -EIO;
}

/*
 * Dry run: says where and what, and for manifests on standard input one
 * line per object, so a reader sees what would be created in which context.
 */
static void
dry_print(const struct mc_kube *k, const char *tool, const char *context,
	  const char *const *args, const char *in)
{
	FILE *f = k->dry_out != NULL ? k->dry_out : stdout;
	char *cmd = mc_kube_render(tool, k, context, args);
	const char *p = in;

	fprintf(f, "dry-run [%s]: %s\n", context != NULL ? context : "(current context)", cmd);
	free(cmd);
	while (p != NULL && *p != '\0') {
		char kind[128] = "", name[256] = "", ns[256] = "";
		bool in_meta = false;

		/* One document: up to a "---" line. */
		while (*p != '\0') {
			const char *e = strchr(p, '\n');
			size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

			if (n >= 3 && strncmp(p, "---", 3) == 0) {
				p = e != NULL ? e + 1 : p + n;
				break;
			}
			if (n > 5 && strncmp(p, "kind:", 5) == 0)
				sscanf(p + 5, " %127[^ \n#]", kind);
			if (n >= 9 && strncmp(p, "metadata:", 9) == 0)
				in_meta = true;
			else if (n > 0 && p[0] != ' ' && p[0] != '#')
				in_meta = false;
			if (in_meta && n > 8 && strncmp(p, "  name:", 7) == 0 && name[0] == '\0')
				sscanf(p + 7, " %255[^ \n#]", name);
			if (in_meta && n > 13 && strncmp(p, "  namespace:", 12) == 0 && ns[0] == '\0')
				sscanf(p + 12, " %255[^ \n#]", ns);
			p = e != NULL ? e + 1 : p + n;
		}
		if (kind[0] != '\0')
			fprintf(f, "  %s/%s%s%s\n", kind, name, ns[0] != '\0' ? " in namespace " : "", ns);
	}
	fflush(f);
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int
read_into(int fd, struct mc_buf *b, bool *truncated)
{
	char chunk[16384];
	ssize_t r = read(fd, chunk, sizeof(chunk));

	if (r > 0) {
		if (!*truncated && mc_buf_append(b, chunk, (size_t)r) != 0)
			*truncated = true;       /* keep draining so the child is never blocked */
		return 1;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 1;
	return 0;                                /* EOF or error: stop watching */
}

/* TOOL [--kubeconfig F] [--context CTX] ARGS..., NULL-terminated; the strings are borrowed (caller frees the array). */
static char **
tool_argv(const char *tool, const struct mc_kube *k, const char *context, const char *const *args)
{
	size_t nargs = 0, ai = 0;
	char **argv;

	while (args[nargs] != NULL)
		nargs++;
	argv = mc_xcalloc(nargs + 6, sizeof(*argv));
	argv[ai++] = (char *)tool;
	if (k->kubeconfig != NULL) {
		argv[ai++] = (char *)"--kubeconfig";
		argv[ai++] = k->kubeconfig;
	}
	if (context != NULL) {
		argv[ai++] = (char *)"--context";
		argv[ai++] = (char *)context;
	}
	for (size_t i = 0; i < nargs; i++)
		argv[ai++] = (char *)args[i];
	argv[ai] = NULL;
	return argv;
}

static int
run_tool(const struct mc_kube *k, const char *tool_path, const char *tool_name,
	 const char *context, const char *const *args, const char *in,
	 struct mc_kube_result *res, char *err, size_t errlen)
{
	size_t in_len = in != NULL ? strlen(in) : 0, in_off = 0;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	int timeout_ms = k->timeout_ms > 0 ? k->timeout_ms : MC_KUBE_TIMEOUT_MS;
	size_t max = k->max_output > 0 ? k->max_output : MC_KUBE_MAX_OUTPUT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	struct mc_buf ob, eb;
	double deadline;
	char **argv;
	pid_t pid;
	int rc, status = 0;

	memset(res, 0, sizeof(*res));
	if (k->dry_run && mc_kube_argv_mutates(args)) {
		dry_print(k, tool_name, context, args, in);
		res->dry_run = true;
		res->out = mc_xstrdup("");
		res->err = mc_xstrdup("");
		return 0;
	}

	argv = tool_argv(tool_path, k, context, args);

	if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		rc = mc_err(err, errlen, errno, "%s: pipe: %s", tool_name, strerror(errno));
		goto out_fds;
	}
	/*
	 * Standard input is a socket pair rather than a pipe so that writing
	 * to a child that has exited gives EPIPE (MSG_NOSIGNAL), not a
	 * SIGPIPE that would kill the harness.
	 */
	if (in != NULL && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) != 0) {
		rc = mc_err(err, errlen, errno, "%s: socketpair: %s", tool_name, strerror(errno));
		goto out_fds;
	}

	posix_spawn_file_actions_init(&fa);
	if (in != NULL)
		posix_spawn_file_actions_adddup2(&fa, inp[1], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	/* The child starts with default signal handling whatever the harness set up. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, tool_path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		rc = mc_err(err, errlen, rc, "%s: cannot run %s: %s", tool_name, tool_path, strerror(rc));
		goto out_fds;
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	if (in != NULL) {
		close(inp[1]);
		inp[1] = -1;
		set_nonblock(inp[0]);
		if (in_len == 0)
			shutdown(inp[0], SHUT_WR);
	}
	set_nonblock(outp[0]);
	set_nonblock(errp[0]);

	mc_buf_init(&ob, max + 1);
	mc_buf_init(&eb, max + 1);
	deadline = mc_monotonic() + timeout_ms / 1000.0;
	for (;;) {
		struct pollfd pf[3];
		int n = 0, left;

		if (outp[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		if (errp[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		if (inp[0] >= 0 && in_off < in_len)
			pf[n++] = (struct pollfd){ .fd = inp[0], .events = POLLOUT };
		if (n == 0)
			break;
		left = (int)((deadline - mc_monotonic()) * 1000.0);
		if (left <= 0) {
			res->timed_out = true;
			break;
		}
		if (poll(pf, (nfds_t)n, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (pf[i].revents == 0)
				continue;
			if (pf[i].fd == outp[0] && read_into(outp[0], &ob, &res->truncated) == 0) {
				close(outp[0]);
				outp[0] = -1;
			} else if (pf[i].fd == errp[0] && read_into(errp[0], &eb, &res->truncated) == 0) {
				close(errp[0]);
				errp[0] = -1;
			} else if (pf[i].fd == inp[0]) {
				ssize_t w = send(inp[0], in + in_off, in_len - in_off, MSG_NOSIGNAL | MSG_DONTWAIT);

				if (w > 0)
					in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
					/* Done, or the child stopped reading: either way, end of input. */
					shutdown(inp[0], SHUT_WR);
					in_off = in_len;
				}
			}
		}
	}
	if (res->timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	res->out_len = ob.len;
	res->out = ob.data != NULL ? mc_buf_steal(&ob) : mc_xstrdup("");
	res->err_len = eb.len;
	res->err = eb.data != NULL ? mc_buf_steal(&eb) : mc_xstrdup("");
	mc_buf_free(&ob);
	mc_buf_free(&eb);
	if (res->timed_out) {
		char *cmd = short_command(tool_name, args);

		rc = mc_err(err, errlen, ETIMEDOUT, "%s: %s: no answer within %d s (killed)",
			    context != NULL ? context : "(current context)", cmd, (timeout_ms + 999) / 1000);
		free(cmd);
	} else {
		rc = 0;
	}
out_fds:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (inp[i] >= 0)
			close(inp[i]);
	}
	free(argv);
	return rc;
}

int
mc_kube_exec(const struct mc_kube *k, const char *context, const char *const *args,
	     const char *in, struct mc_kube_result *res, char *err, size_t errlen)
{
	return run_tool(k, k->kubectl, "kubectl", context, args, in, res, err, errlen);
}

int
mc_istioctl_exec(const struct mc_kube *k, const char *context, const char *const *args,
		 const char *in, struct mc_kube_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	if (k->istioctl == NULL)
		return mc_err(err, errlen, ENOENT, "istioctl not found on PATH");
	return run_tool(k, k->istioctl, "istioctl", context, args, in, res, err, errlen);
}

static int
require_success(const char *tool, const char *context, const char *const *args,
		const struct mc_kube_result *res, char *err, size_t errlen)
{
	char line[512];
	char *cmd;
	int rc;

	if (res->status == 0)
		return 0;
	cmd = short_command(tool, args);
	mc_kube_error_line(res->err, line, sizeof(line));
	if (line[0] == '\0')
		snprintf(line, sizeof(line), "exited with status %d and said nothing", res->status);
	rc = mc_err(err, errlen, -mc_kube_classify(res->err), "%s: %s: %s",
		    context != NULL ? context : "(current context)", cmd, line);
	free(cmd);
	return rc;
}

int
mc_kube_call(const struct mc_kube *k, const char *context, const char *const *args,
	     const char *in, struct mc_kube_result *res, char *err, size_t errlen)
{
	int rc = mc_kube_exec(k, context, args, in, res, err, errlen);

	return rc != 0 ? rc : require_success("kubectl", context, args, res, err, errlen);
}

int
mc_istioctl_call(const struct mc_kube *k, const char *context, const char *const *args,
		 struct mc_kube_result *res, char *err, size_t errlen)
{
	int rc = mc_istioctl_exec(k, context, args, NULL, res, err, errlen);

	return rc != 0 ? rc : require_success("istioctl", context, args, res, err, errlen);
}

static int
parse_json(const char *tool, const char *context, const char *const *args,
	   const struct mc_kube_result *res, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;
	char *cmd;
	int rc;

	if (res->dry_run) {
		*out = cJSON_CreateObject();
		return 0;
	}
	cmd = short_command(tool, args);
	if (res->truncated) {
		rc = mc_err(err, errlen, E2BIG, "%s: %s: output larger than the %zu bytes allowed",
			    context != NULL ? context : "(current context)", cmd, res->out_len);
		free(cmd);
		return rc;
	}
	*out = cJSON_ParseWithLengthOpts(res->out, res->out_len, &end, 0);
	if (*out == NULL) {
		size_t at = end != NULL && end >= res->out ? (size_t)(end - res->out) : 0;

		rc = mc_err(err, errlen, EPROTO, "%s: %s: output is not JSON (byte %zu of %zu)",
			    context != NULL ? context : "(current context)", cmd, at, res->out_len);
		free(cmd);
		return rc;
	}
	free(cmd);
	return 0;
}

int
mc_kube_json(const struct mc_kube *k, const char *context, const char *const *args,
	     cJSON **out, char *err, size_t errlen)
{
	struct mc_kube_result res;
	int rc;

	*out = NULL;
	rc = mc_kube_call(k, context, args, NULL, &res, err, errlen);
	if (rc == 0)
		rc = parse_json("kubectl", context, args, &res, out, err, errlen);
	mc_kube_result_clear(&res);
	return rc;
}

int
mc_istioctl_json(const struct mc_kube *k, const char *context, const char *const *args,
		 cJSON **out, char *err, size_t errlen)
{
	struct mc_kube_result res;
	int rc;

	*out = NULL;
	rc = mc_istioctl_call(k, context, args, &res, err, errlen);
	if (rc == 0)
		rc = parse_json("istioctl", context, args, &res, out, err, errlen);
	mc_kube_result_clear(&res);
	return rc;
}

const cJSON *
mc_kube_at(const cJSON *obj, const char *dotted)
{
	char key[128];

	while (obj != NULL && *dotted != '\0') {
		size_t n = strcspn(dotted, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, dotted, n);
		key[n] = '\0';
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
		dotted += n;
		if (*dotted == '.')
			dotted++;
	}
	return obj;
}

const char *
mc_kube_str(const cJSON *obj, const char *dotted)
{
	const cJSON *v = mc_kube_at(obj, dotted);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *
mc_kube_obj_name(const cJSON *obj)
{
	return mc_kube_str(obj, "metadata.name");
}

const char *
mc_kube_obj_namespace(const cJSON *obj)
{
	return mc_kube_str(obj, "metadata.namespace");
}

const char *
mc_kube_obj_label(const cJSON *obj, const char *key)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *
mc_kube_items(const cJSON *list)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");

	return cJSON_IsArray(items) ? items : NULL;
}

int
mc_kube_spawn(const struct mc_kube *k, const char *context, const char *const *args,
	      int out_fd, int err_fd, pid_t *pid, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	char **argv;
	int rc;

	*pid = 0;
	if (k->dry_run && mc_kube_argv_mutates(args)) {
		dry_print(k, "kubectl", context, args, NULL);
		return 0;
	}
	argv = tool_argv(k->kubectl, k, context, args);

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	/* As for the short calls: default signal handling and no blocked signals in the child. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, k->kubectl, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(argv);
	if (rc != 0) {
		*pid = 0;
		return mc_err(err, errlen, rc, "kubectl: cannot run %s: %s", k->kubectl, strerror(rc));
	}
	return 0;
}

/* Waits up to ms for pid to end; true when it was reaped (status in *status). */
static bool
reap_within(pid_t pid, int ms, int *status, int *error)
{
	double deadline = mc_monotonic() + ms / 1000.0;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR) {
			*error = errno;
			return false;
		}
		if (mc_monotonic() >= deadline)
			return false;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

int
mc_kube_reap(pid_t pid, int timeout_ms)
{
	int status = 0, error = 0;

	if (pid <= 0)
		return 0;
	if (!reap_within(pid, 0, &status, &error)) {
		if (error != 0)
			return -error;
		kill(pid, SIGTERM);
		if (!reap_within(pid, timeout_ms > 0 ? timeout_ms : 0, &status, &error)) {
			if (error != 0)
				return -error;
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0) {
				if (errno != EINTR)
					return -errno;
			}
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
