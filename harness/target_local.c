/*
 * The local target: a mesh on this machine, no cluster needed.
 *
 * For a suite it creates the mesh's PKI (one root, one intermediate per
 * cluster, Istio's plug-in layout), issues each server a workload
 * certificate with its SPIFFE identity, and runs each server as its own
 * nginx, listening with TLS on the server's loopback address: cluster C
 * (1-based), workload N gets 127.(10+C).1.N, on a port free at start-up, so
 * concurrent runs do not collide. A server marked "foreign_root" gets its
 * certificate from a separate PKI whose root the mesh does not trust.
 *
 * Suite sections read here:
 *   "mesh":    { "trust_domain": "cluster.local", "clusters": ["c1", "c2"],
 *                "key": "rsa4096" | "rsa2048" | "ec256" }
 *   "servers": [ { "name": "httpbin-c1", "cluster": "c1", "namespace": "foo",
 *                  "service_account": "httpbin", "service": "httpbin",
 *                  "require_client_cert": false, "foreign_root": false,
 *                  "plaintext": false } ]
 * A "plaintext" server speaks plain HTTP (a workload without a sidecar, or
 * with mTLS disabled): the negative control of wire checks.
 *
 * What a server answers:
 *   "body":    "Hello version: v1, instance: helloworld-v1-1"  (every request; default: its SPIFFE id)
 *   "routes":  [ { "host": "httpbin.example.com", "path": "/status/418", "exact": false,
 *                  "methods": ["GET"], "client_cert": true, "status": 418, "body": "...",
 *                  "header": "X-More-Info: ..." } ]   (first match answers; no match: 404, empty)
 *   "backends": [ { "server": "helloworld-v1", "weight": 1 } ]  (a balancer: each request goes to
 *                  a backend chosen at random by weight, 0 = never; backends are earlier servers)
 *   "request_client_cert": true  (ask for a client certificate without requiring it, so routes
 *                  can answer by whether a verified one came)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mesh_local.h"
#include "nginx.h"
#include "pki.h"
#include "target.h"
#include "util.h"

#define MAX_CLUSTERS 16
#define MAX_SERVERS 200

struct local_server {
	char *name;
	char *cluster;
	char *addr;
	int port;
	char *sni;
	char *spiffe;
	char *chain;
	char *key;
	bool plaintext;
	struct mc_nginx *nginx;
};

struct local_state {
	char *trust_domain;
	char *clusters[MAX_CLUSTERS];
	size_t n_clusters;
	char *root;                 /* mesh root PEM */
	char *client_cert;          /* the harness's own mesh identity */
	char *client_key;
	struct local_server *servers;
	size_t n_servers;
	struct mc_mesh *mesh;       /* when the suite names a topology */
};

#define MAX_ROUTES 64
#define MAX_BACKENDS 16

/* Characters allowed in route hosts and paths: they go into nginx's configuration. */
static bool
route_text_ok(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/:%@!&=+,") ==
	       strlen(s);
}

/* Validates a server's "routes" and "backends" (backends name earlier servers). */
static int
validate_answers(const struct mc_suite_def *def, const cJSON *s, const char *where, char *err, size_t errlen)
{
	static const char *const route_fields[] = {"host", "path", "exact", "methods", "client_cert", "status",
						   "body", "header", NULL};
	static const char *const backend_fields[] = {"server", "weight", NULL};
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", NULL};
	const cJSON *routes = cJSON_GetObjectItemCaseSensitive(s, "routes");
	const cJSON *backends = cJSON_GetObjectItemCaseSensitive(s, "backends");
	const cJSON *e, *m, *arr;
	char w[600];
	size_t i = 0;
	int rc, b, plain = -1;

	if (routes != NULL && backends != NULL)
		return mc_err(err, errlen, EINVAL, "%s: give routes or backends, not both", where);
	if (routes != NULL && (!cJSON_IsArray(routes) || cJSON_GetArraySize(routes) < 1 ||
			       cJSON_GetArraySize(routes) > MAX_ROUTES))
		return mc_err(err, errlen, EINVAL, "%s.routes: expected an array of 1 to %d routes", where, MAX_ROUTES);
	cJSON_ArrayForEach(e, routes) {
		const char *host = NULL, *path = NULL, *body = NULL, *header = NULL;
		long status = 200;

		arr = NULL;
		snprintf(w, sizeof(w), "%s.routes[%zu]", where, i++);
		if (!cJSON_IsObject(e))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(e, route_fields, w, err, errlen)) < 0 ||
		    (rc = mc_field_string(e, "host", 0, w, &host, err, errlen)) < 0 ||
		    (rc = mc_field_string(e, "path", 0, w, &path, err, errlen)) < 0 ||
		    (rc = mc_field_bool(e, "exact", 0, w, &b, err, errlen)) < 0 ||
		    (rc = mc_field_strings(e, "methods", 0, w, &arr, err, errlen)) < 0 ||
		    (rc = mc_field_bool(e, "client_cert", 0, w, &b, err, errlen)) < 0 ||
		    (rc = mc_field_int(e, "status", 0, w, 200, 599, &status, err, errlen)) < 0 ||
		    (rc = mc_field_string(e, "body", 0, w, &body, err, errlen)) < 0 ||
		    (rc = mc_field_string(e, "header", 0, w, &header, err, errlen)) < 0)
			return rc;
		if (host != NULL && (*host == '\0' || !route_text_ok(host)))
			return mc_err(err, errlen, EINVAL, "%s.host: \"%s\" has characters a host cannot have", w, host);
		if (path != NULL && (*path != '/' || !route_text_ok(path)))
			return mc_err(err, errlen, EINVAL, "%s.path: \"%s\" must start with / and hold only URL characters",
				      w, path);
		if (header != NULL && (strchr(header, ':') == NULL || header[0] == ':' ||
				       strcspn(header, " \t\r\n") < (size_t)(strchr(header, ':') - header)))
			return mc_err(err, errlen, EINVAL, "%s.header: expected \"Name: value\", got \"%s\"", w, header);
		cJSON_ArrayForEach(m, arr) {
			bool known = false;

			for (size_t k = 0; methods[k] != NULL; k++)
				known = known || strcmp(methods[k], m->valuestring) == 0;
			if (!known)
				return mc_err(err, errlen, EINVAL,
					      "%s.methods: \"%s\" is not one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS",
					      w, m->valuestring);
		}
	}
	if (backends == NULL)
		return 0;
	if (!cJSON_IsArray(backends) || cJSON_GetArraySize(backends) < 1 ||
	    cJSON_GetArraySize(backends) > MAX_BACKENDS)
		return mc_err(err, errlen, EINVAL, "%s.backends: expected an array of 1 to %d backends", where,
			      MAX_BACKENDS);
	i = 0;
	cJSON_ArrayForEach(e, backends) {
		const char *name = NULL;
		long weight = 1;
		bool found = false;

		snprintf(w, sizeof(w), "%s.backends[%zu]", where, i++);
		if (!cJSON_IsObject(e))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(e, backend_fields, w, err, errlen)) < 0 ||
		    (rc = mc_field_string(e, "server", 1, w, &name, err, errlen)) < 0 ||
		    (rc = mc_field_int(e, "weight", 0, w, 0, 1000, &weight, err, errlen)) < 0)
			return rc;
		for (const cJSON *o = def->servers->child; o != NULL && o != s; o = o->next) {
			const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name");

			if (!cJSON_IsString(on) || strcmp(on->valuestring, name) != 0)
				continue;
			found = true;
			if (plain < 0)
				plain = mc_json_bool(o, "plaintext", false);
			else if (plain != (int)mc_json_bool(o, "plaintext", false))
				return mc_err(err, errlen, EINVAL,
					      "%s.server: \"%s\": a balancer's backends must all be TLS or all plaintext",
					      w, name);
			break;
		}
		if (!found)
			return mc_err(err, errlen, EINVAL, "%s.server: \"%s\" is not a server defined before this one", w,
				      name);
	}
	return 0;
}

static int
local_validate(const struct mc_suite_def *def, char *err, size_t errlen)
{
	static const char *const mesh_fields[] = {"trust_domain", "clusters", "key", NULL};
	static const char *const server_fields[] = {"name", "cluster", "namespace", "service_account",
						    "service", "require_client_cert", "foreign_root", "plaintext",
						    "body", "routes", "backends", "request_client_cert", NULL};
	char where[512];
	const cJSON *clusters = NULL, *s, *e;
	const char *v = NULL;
	enum mc_key_type kt;
	size_t i = 0;
	int rc;

	if (def->mesh != NULL && cJSON_GetObjectItemCaseSensitive(def->mesh, "topology") != NULL)
		return mc_mesh_validate(def, err, errlen);
	snprintf(where, sizeof(where), "%s: mesh", def->file);
	if (def->mesh != NULL) {
		if ((rc = mc_fields_known(def->mesh, mesh_fields, where, err, errlen)) < 0 ||
		    (rc = mc_field_string(def->mesh, "trust_domain", 0, where, &v, err, errlen)) < 0 ||
		    (rc = mc_field_strings(def->mesh, "clusters", 0, where, &clusters, err, errlen)) < 0)
			return rc;
		v = NULL;
		if ((rc = mc_field_string(def->mesh, "key", 0, where, &v, err, errlen)) < 0)
			return rc;
		if (v != NULL && mc_key_type_parse(v, &kt) < 0)
			return mc_err(err, errlen, EINVAL, "%s.key: expected rsa4096, rsa2048 or ec256, got \"%s\"",
				      where, v);
		if (clusters != NULL && (cJSON_GetArraySize(clusters) < 1 ||
					 cJSON_GetArraySize(clusters) > MAX_CLUSTERS))
			return mc_err(err, errlen, EINVAL, "%s.clusters: expected 1 to %d cluster names", where,
				      MAX_CLUSTERS);
		cJSON_ArrayForEach(e, clusters) {
			const char *p = e->valuestring;

			if (*p == '\0' || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(p))
				return mc_err(err, errlen, EINVAL,
					      "%s.clusters: \"%s\" is not a valid cluster name (a-z, 0-9, -)", where, p);
		}
	}
	if (def->servers == NULL)
		return 0;
	if (cJSON_GetArraySize(def->servers) > MAX_SERVERS)
		return mc_err(err, errlen, EINVAL, "%s: servers: at most %d", def->file, MAX_SERVERS);
	cJSON_ArrayForEach(s, def->servers) {
		const char *name = NULL, *cluster = NULL, *ns = NULL, *sa = NULL, *svc = NULL;
		int b = 0;
		bool known = clusters == NULL;

		snprintf(where, sizeof(where), "%s: servers[%zu]", def->file, i++);
		if (!cJSON_IsObject(s))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", where);
		if ((rc = mc_fields_known(s, server_fields, where, err, errlen)) < 0 ||
		    (rc = mc_field_string(s, "name", 1, where, &name, err, errlen)) < 0 ||
		    (rc = mc_field_string(s, "cluster", 1, where, &cluster, err, errlen)) < 0 ||
		    (rc = mc_field_string(s, "namespace", 1, where, &ns, err, errlen)) < 0 ||
		    (rc = mc_field_string(s, "service_account", 1, where, &sa, err, errlen)) < 0 ||
		    (rc = mc_field_string(s, "service", 0, where, &svc, err, errlen)) < 0 ||
		    (rc = mc_field_bool(s, "require_client_cert", 0, where, &b, err, errlen)) < 0 ||
		    (rc = mc_field_bool(s, "foreign_root", 0, where, &b, err, errlen)) < 0 ||
		    (rc = mc_field_bool(s, "plaintext", 0, where, &b, err, errlen)) < 0 ||
		    (rc = mc_field_bool(s, "request_client_cert", 0, where, &b, err, errlen)) < 0 ||
		    (rc = mc_field_string(s, "body", 0, where, &v, err, errlen)) < 0 ||
		    (rc = validate_answers(def, s, where, err, errlen)) < 0)
			return rc;
		if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name))
			return mc_err(err, errlen, EINVAL, "%s.name: \"%s\" is not a valid server name (a-z, 0-9, -, _, .)",
				      where, name);
		if (*ns == '\0' || *sa == '\0' || strchr(ns, '/') != NULL || strchr(sa, '/') != NULL)
			return mc_err(err, errlen, EINVAL, "%s: namespace and service_account must be non-empty and without '/'",
				      where);
		cJSON_ArrayForEach(e, clusters)
			if (strcmp(e->valuestring, cluster) == 0)
				known = true;
		if (clusters == NULL)
			known = strcmp(cluster, "c1") == 0 || strcmp(cluster, "c2") == 0;
		if (!known)
			return mc_err(err, errlen, EINVAL, "%s.cluster: \"%s\" is not one of the mesh's clusters", where,
				      cluster);
		for (const cJSON *o = def->servers->child; o != s; o = o->next) {
			const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name");

			if (cJSON_IsString(on) && strcmp(on->valuestring, name) == 0)
				return mc_err(err, errlen, EINVAL, "%s.name: \"%s\" is used by an earlier server", where, name);
		}
	}
	return 0;
}

static int
local_init(struct mc_target *t, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	t->priv = mc_xcalloc(1, sizeof(struct local_state));
	return 0;
}

/* Asks the kernel for a free TCP port on addr. */
static int
free_port(const char *addr)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	sa.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int
cluster_index(const struct local_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_clusters; i++)
		if (strcmp(st->clusters[i], name) == 0)
			return (int)i;
	return -1;
}

/* Creates (once) the foreign PKI used for servers marked foreign_root. */
static int
foreign_ca(struct mc_target *t, const struct mc_ca_options *mesh_opts, char **ca_dir,
	   char *err, size_t errlen)
{
	static const char *const rogue[] = {"rogue"};
	struct mc_ca_options o = *mesh_opts;
	char *dir = mc_xasprintf("%s/pki-foreign", t->run_dir);
	int rc = 0;

	*ca_dir = mc_xasprintf("%s/rogue", dir);
	if (access(*ca_dir, F_OK) == 0)
		goto out;
	o.root_cn = "Foreign Root CA";
	o.root_org = "Not This Mesh";
	/* Its key type does not matter to the checks; EC keeps set-up fast. */
	o.key = MC_KEY_EC256;
	rc = mc_pki_init(dir, rogue, 1, &o, err, errlen);
out:
	free(dir);
	return rc;
}

static void
free_answers(struct mc_tls_server *srv)
{
	for (size_t i = 0; i < srv->n_routes; i++)
		free((char *)srv->routes[i].methods);
	free((void *)srv->routes);
	free((void *)srv->backends);
	srv->routes = NULL;
	srv->backends = NULL;
	srv->n_routes = 0;
	srv->n_backends = 0;
}

/* Fills srv's routes or backends from the server's definition s (validated). */
static int
server_answers(struct local_state *st, const cJSON *s, struct mc_tls_server *srv, char *err, size_t errlen)
{
	const cJSON *routes = cJSON_GetObjectItemCaseSensitive(s, "routes");
	const cJSON *backends = cJSON_GetObjectItemCaseSensitive(s, "backends");
	const cJSON *e;

	if (routes != NULL) {
		struct mc_route *r = mc_xcalloc((size_t)cJSON_GetArraySize(routes), sizeof(*r));

		srv->routes = r;
		cJSON_ArrayForEach(e, routes) {
			const cJSON *cc = cJSON_GetObjectItemCaseSensitive(e, "client_cert");
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "methods");

			r->host = mc_json_str(e, "host", NULL);
			r->path = mc_json_str(e, "path", "/");
			r->exact = mc_json_bool(e, "exact", false);
			r->client_cert = cJSON_IsBool(cc) ? cJSON_IsTrue(cc) : -1;
			r->status = (int)mc_json_int(e, "status", 200);
			r->body = mc_json_str(e, "body", NULL);
			r->header = mc_json_str(e, "header", NULL);
			if (cJSON_IsArray(m) && cJSON_GetArraySize(m) > 0) {
				/* Freed with the route table once nginx has started. */
				struct mc_buf b;
				const cJSON *x;

				mc_buf_init(&b, 4096);
				cJSON_ArrayForEach(x, m) mc_buf_printf(&b, "%s%s", b.len > 0 ? "," : "", x->valuestring);
				r->methods = mc_buf_steal(&b);
			}
			srv->n_routes++;
			r++;
		}
	}
	if (backends != NULL) {
		struct mc_backend *b = mc_xcalloc((size_t)cJSON_GetArraySize(backends), sizeof(*b));

		srv->backends = b;
		cJSON_ArrayForEach(e, backends) {
			const char *name = mc_json_str(e, "server", "");
			const struct local_server *be = NULL;

			for (size_t k = 0; k < st->n_servers; k++)
				if (strcmp(st->servers[k].name, name) == 0 && st->servers[k].nginx != NULL)
					be = &st->servers[k];
			if (be == NULL)
				return mc_err(err, errlen, EINVAL, "server %s: backend %s is not running", srv->name, name);
			b->addr = be->addr;
			b->port = be->port;
			b->weight = (int)mc_json_int(e, "weight", 1);
			srv->backends_tls = !be->plaintext;
			srv->n_backends++;
			b++;
		}
		srv->proxy_cert = st->client_cert;
		srv->proxy_key = st->client_key;
	}
	return 0;
}

static int
local_up(struct mc_target *t, const struct mc_suite_def *def, char *err, size_t errlen)
{
	static const char *const default_clusters[] = {"c1", "c2"};
	struct local_state *st = t->priv;
	struct mc_ca_options ca = {0};
	struct mc_issue_options io = {0};
	const cJSON *clusters = def->mesh != NULL ? cJSON_GetObjectItemCaseSensitive(def->mesh, "clusters") : NULL;
	const char *key = def->mesh != NULL ? mc_json_str(def->mesh, "key", NULL) : NULL;
	const char *cl[MAX_CLUSTERS];
	char *pki = NULL, *dir = NULL, *spiffe = NULL, *foreign = NULL;
	size_t per_cluster[MAX_CLUSTERS] = {0};
	const cJSON *s, *e;
	int rc = 0;

	if (def->mesh != NULL && cJSON_GetObjectItemCaseSensitive(def->mesh, "topology") != NULL)
		return mc_mesh_up(def, t->run_dir, &st->mesh, err, errlen);

	st->trust_domain = mc_xstrdup(def->mesh != NULL ? mc_json_str(def->mesh, "trust_domain", "cluster.local")
							 : "cluster.local");
	if (clusters != NULL) {
		cJSON_ArrayForEach(e, clusters)
			st->clusters[st->n_clusters++] = mc_xstrdup(e->valuestring);
	} else {
		for (size_t i = 0; i < 2; i++)
			st->clusters[st->n_clusters++] = mc_xstrdup(default_clusters[i]);
	}
	for (size_t i = 0; i < st->n_clusters; i++)
		cl[i] = st->clusters[i];

	ca.trust_domain = st->trust_domain;
	ca.key = MC_KEY_RSA4096;
	if (key != NULL)
		(void)mc_key_type_parse(key, &ca.key);
	pki = mc_xasprintf("%s/pki", t->run_dir);
	if ((rc = mc_pki_init(pki, cl, st->n_clusters, &ca, err, errlen)) < 0)
		goto out;
	st->root = mc_xasprintf("%s/root-cert.pem", pki);

	/* The harness's own identity, for servers that require a client certificate. */
	free(dir);
	dir = mc_xasprintf("%s/harness", t->run_dir);
	io.spiffe = spiffe = mc_xasprintf("spiffe://%s/ns/meshcheck/sa/harness", st->trust_domain);
	io.ttl_seconds = 86400;
	io.key = MC_KEY_EC256;
	io.key_set = true;
	{
		char *ca_dir = mc_xasprintf("%s/%s", pki, cl[0]);

		rc = mc_pki_issue(ca_dir, &io, dir, err, errlen);
		free(ca_dir);
		if (rc < 0)
			goto out;
	}
	st->client_cert = mc_xasprintf("%s/cert-chain.pem", dir);
	st->client_key = mc_xasprintf("%s/key.pem", dir);

	if (def->servers == NULL)
		goto out;
	st->servers = mc_xcalloc((size_t)cJSON_GetArraySize(def->servers) + 1, sizeof(*st->servers));
	cJSON_ArrayForEach(s, def->servers) {
		struct local_server *ls = &st->servers[st->n_servers];
		const char *ns = mc_json_str(s, "namespace", "default");
		const char *sa = mc_json_str(s, "service_account", "default");
		const char *svc = mc_json_str(s, "service", sa);
		int ci = cluster_index(st, mc_json_str(s, "cluster", ""));
		char *ca_dir;
		struct mc_tls_server srv = {0};

		if (ci < 0) {
			rc = mc_err(err, errlen, EINVAL, "server %s: unknown cluster", mc_json_str(s, "name", "?"));
			goto out;
		}
		st->n_servers++;
		ls->name = mc_xstrdup(mc_json_str(s, "name", "?"));
		ls->cluster = mc_xstrdup(st->clusters[ci]);
		ls->addr = mc_xasprintf("127.%d.1.%zu", 11 + ci, ++per_cluster[ci]);
		ls->spiffe = mc_xasprintf("spiffe://%s/ns/%s/sa/%s", st->trust_domain, ns, sa);
		ls->plaintext = mc_json_bool(s, "plaintext", false);
		if (mc_json_bool(s, "foreign_root", false)) {
			if ((rc = foreign_ca(t, &ca, &ca_dir, err, errlen)) < 0) {
				free(ca_dir);
				goto out;
			}
		} else {
			ca_dir = mc_xasprintf("%s/%s", pki, ls->cluster);
		}
		free(dir);
		dir = mc_xasprintf("%s/workloads/%s", t->run_dir, ls->name);
		io.spiffe = ls->spiffe;
		io.key = MC_KEY_EC256;
		io.key_set = key != NULL && strcmp(key, "ec256") == 0;
		rc = mc_pki_issue(ca_dir, &io, dir, err, errlen);
		free(ca_dir);
		if (rc < 0)
			goto out;
		ls->chain = mc_xasprintf("%s/cert-chain.pem", dir);
		ls->key = mc_xasprintf("%s/key.pem", dir);

		/* A port can be taken between the probe and nginx's bind: try a few. */
		for (int attempt = 0; attempt < 3; attempt++) {
			char *ngdir = mc_xasprintf("%s/nginx", dir);

			ls->port = free_port(ls->addr);
			if (ls->port < 0) {
				free(ngdir);
				rc = mc_err(err, errlen, EADDRNOTAVAIL, "server %s: cannot bind %s", ls->name, ls->addr);
				goto out;
			}
			free(ls->sni);
			ls->sni = mc_xasprintf("outbound_.%d_._.%s.%s.svc.%s", ls->port, svc, ns, st->trust_domain);
			srv.name = ls->name;
			srv.addr = ls->addr;
			srv.port = ls->port;
			srv.cert_chain = ls->chain;
			srv.key = ls->key;
			srv.client_ca = mc_json_bool(s, "require_client_cert", false) ||
						mc_json_bool(s, "request_client_cert", false)
					? st->root
					: NULL;
			srv.client_cert_optional = !mc_json_bool(s, "require_client_cert", false);
			srv.body = mc_json_str(s, "body", ls->spiffe);
			srv.plaintext = ls->plaintext;
			if ((rc = server_answers(st, s, &srv, err, errlen)) < 0) {
				free(ngdir);
				free_answers(&srv);
				break;
			}
			rc = mc_nginx_start(ngdir, &srv, 1, 5000, &ls->nginx, err, errlen);
			free(ngdir);
			free_answers(&srv);
			if (rc == 0 || strstr(err, "in use") == NULL)
				break;
		}
		if (rc < 0)
			goto out;
	}
out:
	free(pki);
	free(dir);
	free(spiffe);
	free(foreign);
	if (rc < 0)
		t->ops->down(t);
	return rc;
}

static int
local_endpoint(struct mc_target *t, const char *name, struct mc_endpoint *out, char *err, size_t errlen)
{
	struct local_state *st = t->priv;

	if (st->mesh != NULL)
		return mc_mesh_endpoint(st->mesh, name, out, err, errlen);
	for (size_t i = 0; i < st->n_servers; i++) {
		struct local_server *ls = &st->servers[i];

		if (strcmp(ls->name, name) != 0)
			continue;
		out->name = ls->name;
		out->cluster = ls->cluster;
		out->host = ls->addr;
		out->port = ls->port;
		out->sni = ls->sni;
		out->spiffe = ls->spiffe;
		out->client_cert = st->client_cert;
		out->client_key = st->client_key;
		out->plaintext = ls->plaintext;
		out->root = st->root;
		return 0;
	}
	return mc_err(err, errlen, ENOENT, "no server named \"%s\" in this suite", name);
}

static const char *
local_mesh_root(struct mc_target *t)
{
	struct local_state *st = t->priv;

	if (st->mesh != NULL)
		return mc_mesh_root(st->mesh);
	return st->root;
}

static void
local_logs(struct mc_target *t, const char *dir)
{
	struct local_state *st = t->priv;

	if (st == NULL)
		return;
	if (st->mesh != NULL)
		mc_mesh_logs(st->mesh, dir);
}

static void
local_down(struct mc_target *t)
{
	struct local_state *st = t->priv;

	if (st == NULL)
		return;
	mc_mesh_down(st->mesh);
	st->mesh = NULL;
	for (size_t i = 0; i < st->n_servers; i++) {
		mc_nginx_stop(st->servers[i].nginx);
		st->servers[i].nginx = NULL;
	}
}

static void
local_free_priv(struct mc_target *t)
{
	struct local_state *st = t->priv;

	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_servers; i++) {
		struct local_server *ls = &st->servers[i];

		free(ls->name);
		free(ls->cluster);
		free(ls->addr);
		free(ls->sni);
		free(ls->spiffe);
		free(ls->chain);
		free(ls->key);
	}
	free(st->servers);
	for (size_t i = 0; i < st->n_clusters; i++)
		free(st->clusters[i]);
	free(st->trust_domain);
	free(st->root);
	free(st->client_cert);
	free(st->client_key);
	free(st);
	t->priv = NULL;
}

static int
local_action(struct mc_target *t, const char *name, const char *target, char *err, size_t errlen)
{
	struct local_state *st = t->priv;

	if (st == NULL || st->mesh == NULL)
		return mc_err(err, errlen, ENOTSUP, "actions need a suite with a mesh topology (\"mesh\": {\"topology\": ...})");
	return mc_mesh_action(st->mesh, name, target, err, errlen);
}

const struct mc_target_ops mc_target_local = {
	.name = "local",
	.summary = "a mesh on this machine: PKI from the PKI engine, nginx TLS servers on 127.(10+C).1.N",
	.validate = local_validate,
	.init = local_init,
	.up = local_up,
	.endpoint = local_endpoint,
	.mesh_root = local_mesh_root,
	.logs = local_logs,
	.down = local_down,
	.free_priv = local_free_priv,
	.action = local_action,
};
