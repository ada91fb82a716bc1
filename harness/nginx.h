/*
 * Running nginx (from the distribution) as a TLS server for meshcheck's local
 * servers and tests. Each instance is one nginx master process started by us,
 * with its configuration, logs, pid file and temporary paths in its own
 * directory; mc_nginx_stop() stops that process by PID and waits for it.
 */
#ifndef MC_NGINX_H
#define MC_NGINX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mc_tls_server {
	const char *name;          /* used in the config comment and errors */
	const char *addr;          /* e.g. "127.11.1.1" */
	int port;
	const char *cert_chain;    /* PEM: leaf then intermediates (may include root) */
	const char *key;           /* PEM key, 0600 */
	const char *client_ca;     /* when set, a client certificate is required and verified against it */
	const char *body;          /* response body for every request; NULL = a default */
	bool plaintext;            /* plain HTTP, no TLS (cert_chain and key unused) */
};

struct mc_nginx {
	pid_t pid;
	char *dir;                 /* owned: config and logs live here */
	char *conf;                /* owned: path of nginx.conf */
};

/* Path of the nginx binary (MC_NGINX env, else nginx on PATH, else /usr/sbin/nginx); NULL if none. */
const char *mc_nginx_binary(void);

/*
 * Writes dir/nginx.conf for the servers, starts nginx in the foreground of a
 * child process (so its PID is ours), and waits up to timeout_ms until every
 * server accepts TCP connections. On failure nothing is left running and the
 * message includes nginx's own error output.
 */
int mc_nginx_start(const char *dir, const struct mc_tls_server *servers, size_t n,
		   int timeout_ms, struct mc_nginx **out, char *err, size_t errlen);

/* Stops the process (SIGQUIT, then SIGKILL after 3 s), reaps it, frees. NULL does nothing. */
void mc_nginx_stop(struct mc_nginx *ng);

#endif
