/*
 * Running nginx as meshcheck's TLS servers (see nginx.h).
 */
#include "nginx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

const char *
mc_nginx_binary(void)
{
	static const char *const candidates[] = {"/usr/sbin/nginx", "/usr/local/sbin/nginx",
						 "/usr/bin/nginx", "/usr/local/nginx/sbin/nginx"};
	const char *env = getenv("MC_NGINX");

	if (env != NULL && *env != '\0')
		return access(env, X_OK) == 0 ? env : NULL;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/*
 * Appends s as the inside of a double-quoted nginx string. nginx has no
 * escape for '$' (variables) in every context, so characters that could
 * change the meaning of the configuration are replaced by '_'; the bodies are
 * ours, not user data, so this loses nothing that matters.
 */
static void
put_quoted(struct mc_buf *b, const char *s)
{
	mc_buf_puts(b, "\"");
	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == '"' || c == '\\' || c == '$' || (unsigned char)c < 0x20)
			c = c == '\n' ? ' ' : '_';
		mc_buf_append(b, &c, 1);
	}
	mc_buf_puts(b, "\"");
}

/* True when a path can be written into the configuration as a bare word. */
static bool
safe_word(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (strchr(" \t\n;{}\"'$\\#", *s) != NULL)
			return false;
	return true;
}

/* Appends s with the characters that mean something in a regular expression escaped. */
static void
put_regex_literal(struct mc_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (strchr(".+*?()[]{}|^$\\", *s) != NULL)
			mc_buf_puts(b, "\\");
		mc_buf_append(b, s, 1);
	}
}

/*
 * A map from "host|method|client-verify|uri" to the number of the first
 * route that matches (0: none), as one regular expression per route.
 */
static void
render_route_map(struct mc_buf *b, size_t si, const struct mc_tls_server *s)
{
	mc_buf_printf(b, "    map \"$host|$request_method|$ssl_client_verify|$uri\" $mc_route_%zu {\n"
			 "        default 0;\n", si);
	for (size_t r = 0; r < s->n_routes; r++) {
		const struct mc_route *rt = &s->routes[r];

		mc_buf_puts(b, "        \"~^");
		if (rt->host != NULL) {
			char *h = mc_xstrdup(rt->host);

			for (char *c = h; *c != '\0'; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
			put_regex_literal(b, h);
			free(h);
		} else {
			mc_buf_puts(b, "[^|]*");
		}
		mc_buf_puts(b, "\\|");
		if (rt->methods != NULL) {
			char *m = mc_xstrdup(rt->methods);

			for (char *c = m; *c != '\0'; c++)
				if (*c == ',')
					*c = '|';
			mc_buf_printf(b, "(%s)", m);
			free(m);
		} else {
			mc_buf_puts(b, "[^|]*");
		}
		mc_buf_puts(b, "\\|");
		mc_buf_puts(b, rt->client_cert == 1 ? "SUCCESS" : rt->client_cert == 0 ? "(?!SUCCESS)[^|]*" : "[^|]*");
		mc_buf_puts(b, "\\|");
		put_regex_literal(b, rt->path != NULL ? rt->path : "/");
		mc_buf_printf(b, "%s\" %zu;\n", rt->exact ? "$" : "", r + 1);
	}
	mc_buf_puts(b, "    }\n");
}

static void
render_routes(struct mc_buf *b, size_t si, const struct mc_tls_server *s)
{
	mc_buf_puts(b, "        location / {\n            default_type text/plain;\n");
	for (size_t r = 0; r < s->n_routes; r++) {
		const struct mc_route *rt = &s->routes[r];

		mc_buf_printf(b, "            if ($mc_route_%zu = %zu) {\n", si, r + 1);
		if (rt->header != NULL && strchr(rt->header, ':') != NULL) {
			const char *colon = strchr(rt->header, ':'), *v = colon + 1;
			char *name = mc_xasprintf("%.*s", (int)(colon - rt->header), rt->header);

			while (*v == ' ')
				v++;
			mc_buf_puts(b, "                add_header ");
			put_quoted(b, name);
			mc_buf_puts(b, " ");
			put_quoted(b, v);
			mc_buf_puts(b, " always;\n");
			free(name);
		}
		mc_buf_printf(b, "                return %d ", rt->status > 0 ? rt->status : 200);
		put_quoted(b, rt->body != NULL ? rt->body : "");
		mc_buf_puts(b, ";\n            }\n");
	}
	mc_buf_puts(b, "            return 404 \"\";\n        }\n");
}

static void
render_backends(struct mc_buf *b, size_t si, const struct mc_tls_server *s)
{
	mc_buf_printf(b, "        location / {\n            proxy_pass %s://mc_up_%zu;\n"
			 "            proxy_next_upstream off;\n"
			 "            proxy_set_header Connection \"\";\n"
			 "            proxy_http_version 1.1;\n",
		      s->backends_tls ? "https" : "http", si);
	if (s->backends_tls) {
		mc_buf_puts(b, "            proxy_ssl_verify off;\n");
		if (s->proxy_cert != NULL)
			mc_buf_printf(b, "            proxy_ssl_certificate %s;\n"
					 "            proxy_ssl_certificate_key %s;\n",
				      s->proxy_cert, s->proxy_key);
	}
	mc_buf_puts(b, "        }\n");
}

static char *
render_conf(const char *dir, const struct mc_tls_server *servers, size_t n)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	mc_buf_printf(&b,
		"# Written by meshcheck; this nginx belongs to the run that wrote it.\n"
		"daemon off;\n"
		"master_process on;\n"
		"worker_processes 1;\n"
		"pid %s/nginx.pid;\n"
		"error_log %s/error.log warn;\n"
		"events { worker_connections 512; }\n"
		"http {\n"
		"    access_log %s/access.log;\n"
		"    client_body_temp_path %s/tmp/body;\n"
		"    proxy_temp_path %s/tmp/proxy;\n"
		"    fastcgi_temp_path %s/tmp/fastcgi;\n"
		"    uwsgi_temp_path %s/tmp/uwsgi;\n"
		"    scgi_temp_path %s/tmp/scgi;\n"
		"    server_tokens off;\n",
		dir, dir, dir, dir, dir, dir, dir, dir);
	for (size_t i = 0; i < n; i++) {
		const struct mc_tls_server *s = &servers[i];

		if (s->n_routes > 0)
			render_route_map(&b, i, s);
		if (s->n_backends > 0) {
			/* random, not round robin: a split that is only right on average, as a mesh's is. */
			mc_buf_printf(&b, "    upstream mc_up_%zu {\n        random;\n", i);
			for (size_t k = 0; k < s->n_backends; k++) {
				const struct mc_backend *be = &s->backends[k];

				if (be->weight > 0)
					mc_buf_printf(&b, "        server %s:%d weight=%d;\n", be->addr, be->port,
						      be->weight);
				else
					mc_buf_printf(&b, "        server %s:%d down;\n", be->addr, be->port);
			}
			mc_buf_puts(&b, "    }\n");
		}
		if (s->plaintext) {
			mc_buf_printf(&b, "    # server %s (plaintext)\n    server {\n        listen %s:%d;\n",
				      s->name, s->addr, s->port);
			goto location;
		}
		mc_buf_printf(&b,
			"    # server %s\n"
			"    server {\n"
			"        listen %s:%d ssl http2;\n"
			"        ssl_certificate %s;\n"
			"        ssl_certificate_key %s;\n"
			"        ssl_protocols TLSv1.2 TLSv1.3;\n",
			s->name, s->addr, s->port, s->cert_chain, s->key);
		if (s->client_ca != NULL)
			mc_buf_printf(&b,
				"        ssl_client_certificate %s;\n"
				"        ssl_verify_client %s;\n"
				"        ssl_verify_depth 4;\n",
				s->client_ca, s->client_cert_optional ? "optional" : "on");
location:
		if (s->n_routes > 0) {
			render_routes(&b, i, s);
		} else if (s->n_backends > 0) {
			render_backends(&b, i, s);
		} else {
			mc_buf_puts(&b, "        location / {\n            default_type text/plain;\n            return 200 ");
			put_quoted(&b, s->body != NULL ? s->body : s->name);
			mc_buf_puts(&b, ";\n        }\n");
		}
		mc_buf_puts(&b, "    }\n");
	}
	mc_buf_puts(&b, "}\n");
	return mc_buf_steal(&b);
}

/* Returns true when a TCP connection to addr:port succeeds within 100 ms. */
bool
mc_tcp_port_open(const char *addr, int port)
{
	struct sockaddr_in sa = {0};
	struct pollfd pfd;
	int fd, rc, soerr = 0;
	socklen_t len = sizeof(soerr);
	bool ok = false;

	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return false;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc == 0) {
		ok = true;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 100) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
		    soerr == 0)
			ok = true;
	}
	close(fd);
	return ok;
}

/* Copies the last lines of nginx's error output into err, after prefix. */
static int
fail_with_log(const char *dir, char *err, size_t errlen, const char *prefix)
{
	char *path = mc_xasprintf("%s/error.log", dir);
	char *log = NULL;
	size_t len = 0;
	const char *tail;

	if (mc_file_read(path, 1 << 20, &log, &len, NULL, 0) < 0 || len == 0) {
		free(log);
		free(path);
		path = mc_xasprintf("%s/stderr.log", dir);
		log = NULL;
		len = 0;
		(void)mc_file_read(path, 1 << 20, &log, &len, NULL, 0);
	}
	tail = log != NULL ? log : "";
	/* Keep the last few hundred bytes: the fatal line is at the end. */
	if (len > 400)
		tail = log + len - 400;
	{
		char *copy = mc_xstrdup(tail);

		for (char *p = copy; *p != '\0'; p++)
			if (*p == '\n')
				*p = ' ';
		mc_err(err, errlen, EIO, "%s; nginx said: %s", prefix, copy[0] != '\0' ? copy : "(nothing)");
		free(copy);
	}
	free(log);
	free(path);
	return -EIO;
}

/* Waits for pid to exit for up to ms milliseconds; true when it was reaped. */
static bool
reap_within(pid_t pid, int ms)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

int
mc_nginx_start_conf(const char *dir, const char *text, const struct mc_listen *listens, size_t n, int timeout_ms,
		    struct mc_nginx **out, char *err, size_t errlen)
{
	const char *bin = mc_nginx_binary();
	struct mc_nginx *ng = NULL;
	char *conf = NULL, *tmpdir = NULL, *stderr_path = NULL;
	double deadline;
	pid_t parent;
	int rc = 0;

	*out = NULL;
	if (bin == NULL)
		return mc_err(err, errlen, ENOENT,
			      "nginx not found (install Debian's nginx-light and libnginx-mod-stream, or set MC_NGINX)");
	if (!safe_word(dir))
		return mc_err(err, errlen, EINVAL, "%s: directory name unusable in an nginx configuration", dir);
	tmpdir = mc_xasprintf("%s/tmp", dir);
	if ((rc = mc_mkdir_p(tmpdir, 0755, err, errlen)) < 0)
		goto out;
	conf = mc_xasprintf("%s/nginx.conf", dir);
	if ((rc = mc_file_write(conf, text, strlen(text), 0644, err, errlen)) < 0)
		goto out;
	stderr_path = mc_xasprintf("%s/stderr.log", dir);

	ng = mc_xcalloc(1, sizeof(*ng));
	ng->dir = mc_xstrdup(dir);
	ng->conf = conf;
	conf = NULL;
	parent = getpid();
	ng->pid = fork();
	if (ng->pid < 0) {
		rc = mc_err(err, errlen, errno, "fork: %s", strerror(errno));
		goto out;
	}
	if (ng->pid == 0) {
		char *errlog = mc_xasprintf("%s/error.log", dir);
		char *prefix = mc_xasprintf("%s/", dir);
		int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* Its own process group, so a terminal's ^C reaches us, and teardown
		 * can reach nginx's workers through the group if the master hangs. */
		setpgid(0, 0);
		/* If meshcheck dies without tearing down (SIGKILL), nginx goes too. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, "nginx", "-p", prefix, "-e", errlog, "-c", ng->conf, (char *)NULL);
		_exit(127);
	}
	setpgid(ng->pid, ng->pid);

	deadline = mc_monotonic() + (timeout_ms > 0 ? timeout_ms : 5000) / 1000.0;
	for (;;) {
		size_t up = 0;
		int status;

		if (waitpid(ng->pid, &status, WNOHANG) == ng->pid) {
			ng->pid = 0;
			rc = fail_with_log(dir, err, errlen, "nginx exited during start-up");
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			up += mc_tcp_port_open(listens[i].addr, listens[i].port);
		if (up == n)
			break;
		if (mc_monotonic() > deadline) {
			rc = fail_with_log(dir, err, errlen, "nginx did not start listening in time");
			goto out;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	*out = ng;
	ng = NULL;
out:
	if (ng != NULL)
		mc_nginx_stop(ng);
	free(conf);
	free(tmpdir);
	free(stderr_path);
	return rc;
}

int
mc_nginx_start(const char *dir, const struct mc_tls_server *servers, size_t n,
	       int timeout_ms, struct mc_nginx **out, char *err, size_t errlen)
{
	struct mc_listen *l;
	char *text;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct mc_tls_server *s = &servers[i];

		if (!safe_word(s->addr) || (!s->plaintext && (!safe_word(s->cert_chain) || !safe_word(s->key))) ||
		    (s->client_ca != NULL && !safe_word(s->client_ca)) || s->port <= 0 || s->port > 65535)
			return mc_err(err, errlen, EINVAL, "server %s: invalid address, port or file name",
				      s->name != NULL ? s->name : "?");
	}
	if (!safe_word(dir))
		return mc_err(err, errlen, EINVAL, "%s: directory name unusable in an nginx configuration", dir);
	l = mc_xcalloc(n + 1, sizeof(*l));
	for (size_t i = 0; i < n; i++) {
		l[i].addr = servers[i].addr;
		l[i].port = servers[i].port;
	}
	text = render_conf(dir, servers, n);
	rc = mc_nginx_start_conf(dir, text, l, n, timeout_ms, out, err, errlen);
	free(text);
	free(l);
	return rc;
}

void
mc_nginx_stop(struct mc_nginx *ng)
{
	if (ng == NULL)
		return;
	if (ng->pid > 0) {
		/* Fast shutdown first; the master waits for its workers. */
		kill(ng->pid, SIGTERM);
		if (!reap_within(ng->pid, 3000)) {
			kill(-ng->pid, SIGKILL);
			waitpid(ng->pid, NULL, 0);
		}
	}
	free(ng->dir);
	free(ng->conf);
	free(ng);
}
