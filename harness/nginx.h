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

/*
 * A route of a responder server: requests that match (Host, method, path,
 * whether a verified client certificate was presented) get a fixed answer.
 * Routes are tried in order; a request no route matches gets 404 with an
 * empty body, as a mesh gateway answers when it has no route.
 */
struct mc_route {
	const char *host;          /* exact Host (without port), NULL = any */
	const char *path;          /* path prefix; NULL = "/" */
	bool exact;                /* path must match exactly */
	const char *methods;       /* comma-separated, e.g. "GET,HEAD"; NULL = any */
	int client_cert;           /* -1 any; 1 only with a verified client certificate; 0 only without */
	int status;                /* 0 = 200 */
	const char *body;          /* NULL = empty */
	const char *header;        /* "Name: value" added to the answer, or NULL */
};

/* A backend of a balancing server (a TLS server gets the proxy's client certificate). */
struct mc_backend {
	const char *addr;
	int port;
	int weight;                /* 0: never chosen (the server is marked down) */
};

struct mc_tls_server {
	const char *name;          /* used in the config comment and errors */
	const char *addr;          /* e.g. "127.11.1.1" */
	int port;
	const char *cert_chain;    /* PEM: leaf then intermediates (may include root) */
	const char *key;           /* PEM key, 0600 */
	const char *client_ca;     /* when set, a client certificate is required and verified against it */
	const char *body;          /* response body for every request; NULL = a default */
	bool plaintext;            /* plain HTTP, no TLS (cert_chain and key unused) */
	bool client_cert_optional; /* with client_ca: ask for a client certificate, do not require it */
	const struct mc_route *routes; /* when set, answer by route (see mc_route) instead of body */
	size_t n_routes;
	const struct mc_backend *backends; /* when set, pass every request to one of these, chosen at random */
	size_t n_backends;
	bool backends_tls;         /* the backends speak TLS (mutual, with proxy_cert/proxy_key) */
	const char *proxy_cert;    /* client certificate chain presented to TLS backends */
	const char *proxy_key;
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

/* True when a TCP connection to addr:port (IPv4) succeeds within 100 ms. */
bool mc_tcp_port_open(const char *addr, int port);

/* An address nginx listens on, waited for at start-up. */
struct mc_listen {
	const char *addr;
	int port;
};

/*
 * Starts nginx with a configuration written by the caller (text, which
 * must use dir for its pid file, logs and temporary paths), and waits until
 * each of listens accepts TCP connections. Same guarantees as
 * mc_nginx_start.
 */
int mc_nginx_start_conf(const char *dir, const char *text, const struct mc_listen *listens, size_t n,
			int timeout_ms, struct mc_nginx **out, char *err, size_t errlen);

/* Stops the process (SIGQUIT, then SIGKILL after 3 s), reaps it, frees. NULL does nothing. */
void mc_nginx_stop(struct mc_nginx *ng);

#endif
