/*
 * The local multi-cluster mesh (see mesh_local.h).
 *
 * What runs, per workload: the fixture app (fixtures/local, plain HTTP on
 * its own address, port 18080) and a sidecar nginx in front of it:
 *   inbound   on the service port: STRICT = TLS that requires a client
 *             certificate from the mesh root; PERMISSIVE = a stream server
 *             that sends TLS to the TLS listener (15006) and plaintext
 *             straight to the app; DISABLE = plain HTTP. The caller's
 *             identity reaches the app in X-Forwarded-Client-Cert
 *             (By=<own id>;URI=<caller id>), found from the client
 *             certificate's fingerprint: the target issued every
 *             certificate, so it knows each one's SPIFFE id.
 *   outbound  on 15001, plain HTTP routed by Host (the service names a
 *             pod's app would use), originating mutual TLS with the
 *             workload's certificate and Istio's SNI
 *             outbound_.<port>_._.<svc>.<ns>.svc.<td>. A service's
 *             endpoints in this cluster are dialled directly; those in
 *             another cluster through that cluster's east-west gateway,
 *             weighted by how many endpoints each holds; each request on
 *             a new connection and to an endpoint chosen at random, so the
 *             split between clusters is the mesh's, not keep-alive's.
 * Per cluster: an ingress gateway (HTTP listeners routing by host and path
 * prefix like a VirtualService, 404 with an empty body without a route,
 * "allow_hosts" answering 403 "RBAC: access denied" like an
 * AuthorizationPolicy, and MUTUAL TLS listeners with their own CA like
 * seed 002's httpbin-credential), and an east-west gateway passing TLS
 * through by SNI (AUTO_PASSTHROUGH on 15443), so the handshake between
 * clusters is end to end.
 */
#include "mesh_local.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "nginx.h"
#include "pki.h"
#include "suite.h"
#include "util.h"

#define MAX_CLUSTERS 8
#define MAX_WORKLOADS 64
#define MAX_SERVICES 64
#define MAX_GATEWAYS 16
#define MAX_LISTENERS 8
#define MAX_ROUTES 16
#define MAX_UPSTREAMS 8
#define APP_PORT 18080
#define OUTBOUND_PORT 15001
#define PERMISSIVE_TLS_PORT 15006
#define STREAM_MODULE "/usr/lib/nginx/modules/ngx_stream_module.so"

enum mtls { MTLS_STRICT, MTLS_PERMISSIVE, MTLS_DISABLE };

static const char *const mtls_names[] = {"STRICT", "PERMISSIVE", "DISABLE"};

struct workload {
	char *name, *ns, *sa, *app, *version, *service;
	int ci;                     /* cluster index */
	int port;                   /* service port; 0 = no inbound (a client such as sleep) */
	enum mtls mode;
	bool stopped;               /* declared but not started (a broken mesh) */
	char *up_name[MAX_UPSTREAMS], *up_host[MAX_UPSTREAMS];
	size_t n_up;
	char addr[32];
	char *id;                   /* name@cluster */
	char *spiffe, *chain, *key, *dir;
	char fp[41];                /* SHA-1 of the leaf, as nginx's $ssl_client_fingerprint */
	char old_fp[41];            /* the leaf before a CA rotation ("" if none): still known as this caller */
	struct mc_nginx *sidecar;
	pid_t app_pid;
};

struct service {
	char *name, *ns;
	int port;
	bool declared[MAX_CLUSTERS];
};

struct route {
	char *hosts[8];
	size_t n_hosts;
	char *prefix;
	int svc;                    /* index into services */
};

struct listener {
	char *name;
	int port;
	bool mutual;
	char *server_name;
	struct route routes[MAX_ROUTES];
	size_t n_routes;
	char *allow[8];             /* host globs; none = no authorization rule */
	size_t n_allow;
};

struct gateway {
	char *name;
	int ci;
	bool eastwest;
	int port;                   /* east-west */
	struct listener l[MAX_LISTENERS];
	size_t n_l;
	char addr[32];
	char *id, *spiffe, *chain, *key, *dir;
	char fp[41];
	char old_fp[41];
	struct mc_nginx *ng;
};

struct mc_mesh {
	char *td;
	char *clusters[MAX_CLUSTERS];
	size_t n_clusters;
	struct workload w[MAX_WORKLOADS];
	size_t n_w;
	struct service s[MAX_SERVICES];
	size_t n_s;
	struct gateway g[MAX_GATEWAYS];
	size_t n_g;
	int slot;
	int slot_fd;                /* a bound socket holding the address slot for this run */
	char *dir;
	char *root;                 /* mesh root PEM path */
	int rotations;              /* intermediates rotated so far (folder names) */
	char *harness_chain, *harness_key;
	char harness_fp[41];
	char *cred_root, *cred_chain, *cred_key;          /* MUTUAL gateway server credential */
	char *client_chain, *client_key;                  /* a client of that credential's CA */
};

/* ---- topology ------------------------------------------------------------ */

const char *
mc_mesh_default_topology(void)
{
	return MC_SOURCE_ROOT "/fixtures/local/topology.json";
}

/* Loads the topology a suite names: "default", a path (relative to the suite file) or an object. */
static int
load_topology(const struct mc_suite_def *def, cJSON **out, char **name, char *err, size_t errlen)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(def->mesh, "topology");
	char *path, *text = NULL;
	size_t len;
	int rc;

	*out = NULL;
	*name = NULL;
	if (cJSON_IsObject(t)) {
		*out = cJSON_Duplicate(t, 1);
		*name = mc_xasprintf("%s: mesh.topology", def->file);
		return 0;
	}
	if (!cJSON_IsString(t))
		return mc_err(err, errlen, EINVAL, "%s: mesh.topology: expected \"default\", a file or an object",
			      def->file);
	if (strcmp(t->valuestring, "default") == 0) {
		path = mc_xstrdup(mc_mesh_default_topology());
	} else if (t->valuestring[0] == '/') {
		path = mc_xstrdup(t->valuestring);
	} else {
		const char *slash = strrchr(def->file, '/');

		path = slash != NULL ? mc_xasprintf("%.*s/%s", (int)(slash - def->file), def->file, t->valuestring)
				     : mc_xstrdup(t->valuestring);
	}
	if ((rc = mc_file_read(path, 1 << 20, &text, &len, err, errlen)) < 0) {
		char why[MC_ERRLEN];

		snprintf(why, sizeof(why), "%s", err);
		rc = mc_err(err, errlen, -rc, "%s: mesh.topology: %s", def->file, why);
		free(path);
		return rc;
	}
	*out = cJSON_ParseWithLength(text, len);
	if (*out == NULL) {
		/* Line and column of the syntax error, as suites report theirs. */
		const char *at = cJSON_GetErrorPtr();
		int line = 1, col = 1;

		for (const char *p = text; at != NULL && p < at && *p != '\0'; p++) {
			if (*p == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		rc = mc_err(err, errlen, EINVAL, "%s:%d:%d: JSON syntax error", path, line, col);
		free(text);
		free(path);
		return rc;
	}
	free(text);
	*name = path;
	return 0;
}

static int
cluster_of(const cJSON *clusters, const char *name)
{
	int i = 0;
	const cJSON *c;

	cJSON_ArrayForEach(c, clusters) {
		if (cJSON_IsString(c) && strcmp(c->valuestring, name) == 0)
			return i;
		i++;
	}
	return -1;
}

static bool
name_ok(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(s);
}

static int
mode_parse(const char *s, enum mtls *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, mtls_names[i]) == 0) {
			*out = (enum mtls)i;
			return 0;
		}
	return -EINVAL;
}

/* Finds "name.ns" (or "name.ns:port") among the services. */
static int
service_index(const cJSON *services, const char *ref)
{
	char buf[256];
	const cJSON *s;
	char *dot, *colon;
	int i = 0;

	snprintf(buf, sizeof(buf), "%s", ref);
	if ((colon = strchr(buf, ':')) != NULL)
		*colon = '\0';
	if ((dot = strchr(buf, '.')) == NULL)
		return -1;
	*dot = '\0';
	cJSON_ArrayForEach(s, services) {
		if (strcmp(mc_json_str(s, "name", ""), buf) == 0 && strcmp(mc_json_str(s, "namespace", ""), dot + 1) == 0)
			return i;
		i++;
	}
	return -1;
}

/* Validates a topology document; where names it in messages. */
static int
topology_validate(const cJSON *t, const char *where, char *err, size_t errlen)
{
	static const char *const top[] = {"description", "trust_domain", "clusters", "workloads", "services",
					  "gateways", NULL};
	static const char *const wf[] = {"name", "cluster", "namespace", "service_account", "app", "version",
					 "service", "port", "mtls", "upstreams", NULL};
	static const char *const sf[] = {"name", "namespace", "port", "clusters", NULL};
	static const char *const gf[] = {"name", "cluster", "kind", "port", "listeners", NULL};
	static const char *const lf[] = {"name", "port", "tls", "credential", "server_name", "routes", "allow_hosts",
					 NULL};
	static const char *const rf[] = {"hosts", "prefix", "service", NULL};
	static const char *const apps[] = {"echoserver", "helloworld", "httpbin", "productpage", "details",
					   "reviews", "ratings", NULL};
	const cJSON *clusters = cJSON_GetObjectItemCaseSensitive(t, "clusters"), *x, *y, *z;
	const cJSON *services = cJSON_GetObjectItemCaseSensitive(t, "services");
	const char *s = NULL;
	char w[512];
	size_t i = 0;
	long l;
	int rc;

	if (!cJSON_IsObject(t))
		return mc_err(err, errlen, EINVAL, "%s: expected an object", where);
	if ((rc = mc_fields_known(t, top, where, err, errlen)) < 0 ||
	    (rc = mc_field_string(t, "trust_domain", 0, where, &s, err, errlen)) < 0 ||
	    (rc = mc_field_strings(t, "clusters", 1, where, &clusters, err, errlen)) < 0)
		return rc;
	if (cJSON_GetArraySize(clusters) < 1 || cJSON_GetArraySize(clusters) > MAX_CLUSTERS)
		return mc_err(err, errlen, EINVAL, "%s.clusters: 1 to %d clusters", where, MAX_CLUSTERS);
	cJSON_ArrayForEach(x, clusters)
		if (!name_ok(x->valuestring) || strchr(x->valuestring, '.') != NULL)
			return mc_err(err, errlen, EINVAL, "%s.clusters: \"%s\" is not a cluster name (a-z, 0-9, -)",
				      where, x->valuestring);
	if (!cJSON_IsArray(services) || cJSON_GetArraySize(services) > MAX_SERVICES)
		return mc_err(err, errlen, EINVAL, "%s.services: expected an array of at most %d services", where,
			      MAX_SERVICES);
	cJSON_ArrayForEach(x, services) {
		const cJSON *cl = NULL;

		snprintf(w, sizeof(w), "%s.services[%zu]", where, i++);
		if (!cJSON_IsObject(x))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(x, sf, w, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "name", 1, w, &s, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "namespace", 1, w, &s, err, errlen)) < 0 ||
		    (rc = mc_field_int(x, "port", 1, w, 1024, 65535, &l, err, errlen)) < 0 ||
		    (rc = mc_field_strings(x, "clusters", 1, w, &cl, err, errlen)) < 0)
			return rc;
		cJSON_ArrayForEach(y, cl)
			if (cluster_of(clusters, y->valuestring) < 0)
				return mc_err(err, errlen, EINVAL, "%s.clusters: \"%s\" is not a cluster of the mesh", w,
					      y->valuestring);
	}
	y = cJSON_GetObjectItemCaseSensitive(t, "workloads");
	if (!cJSON_IsArray(y) || cJSON_GetArraySize(y) < 1 || cJSON_GetArraySize(y) > MAX_WORKLOADS)
		return mc_err(err, errlen, EINVAL, "%s.workloads: expected an array of 1 to %d workloads", where,
			      MAX_WORKLOADS);
	i = 0;
	cJSON_ArrayForEach(x, y) {
		const char *name = NULL, *cluster = NULL, *app = NULL, *svc = NULL, *mode = NULL, *ns = NULL;
		const cJSON *ups;
		enum mtls m;
		bool known = false;
		long port = 0;

		snprintf(w, sizeof(w), "%s.workloads[%zu]", where, i++);
		if (!cJSON_IsObject(x))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(x, wf, w, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "name", 1, w, &name, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "cluster", 1, w, &cluster, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "namespace", 1, w, &ns, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "service_account", 1, w, &s, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "app", 0, w, &app, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "version", 0, w, &s, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "service", 0, w, &svc, err, errlen)) < 0 ||
		    (rc = mc_field_int(x, "port", 0, w, 1024, 65535, &port, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "mtls", 0, w, &mode, err, errlen)) < 0)
			return rc;
		if (!name_ok(name))
			return mc_err(err, errlen, EINVAL, "%s.name: \"%s\" is not a workload name (a-z, 0-9, -, .)", w,
				      name);
		if (cluster_of(clusters, cluster) < 0)
			return mc_err(err, errlen, EINVAL, "%s.cluster: \"%s\" is not a cluster of the mesh", w, cluster);
		if (app != NULL) {
			for (size_t k = 0; apps[k] != NULL; k++)
				known = known || strcmp(apps[k], app) == 0;
			if (!known)
				return mc_err(err, errlen, EINVAL,
					      "%s.app: \"%s\" is not a fixture (echoserver, helloworld, httpbin, productpage, "
					      "details, reviews, ratings)", w, app);
			if (svc == NULL || port == 0)
				return mc_err(err, errlen, EINVAL, "%s: a workload with an app needs service and port", w);
		}
		if (svc != NULL) {
			char *ref = mc_xasprintf("%s.%s", svc, ns);
			int si = service_index(services, ref);

			free(ref);
			if (si < 0)
				return mc_err(err, errlen, EINVAL, "%s.service: \"%s\" is not among the services of namespace %s",
					      w, svc, ns);
		}
		if (mode != NULL && mode_parse(mode, &m) < 0)
			return mc_err(err, errlen, EINVAL, "%s.mtls: expected STRICT, PERMISSIVE or DISABLE", w);
		ups = cJSON_GetObjectItemCaseSensitive(x, "upstreams");
		if (ups != NULL && (!cJSON_IsObject(ups) || cJSON_GetArraySize(ups) > MAX_UPSTREAMS))
			return mc_err(err, errlen, EINVAL, "%s.upstreams: expected an object of at most %d name: host:port",
				      w, MAX_UPSTREAMS);
		cJSON_ArrayForEach(z, ups)
			if (!cJSON_IsString(z) || service_index(services, z->valuestring) < 0)
				return mc_err(err, errlen, EINVAL, "%s.upstreams.%s: expected a service as \"name.namespace:port\"",
					      w, z->string);
		for (const cJSON *o = y->child; o != x; o = o->next)
			if (strcmp(mc_json_str(o, "name", ""), name) == 0 &&
			    strcmp(mc_json_str(o, "cluster", ""), cluster) == 0)
				return mc_err(err, errlen, EINVAL, "%s: %s@%s is defined twice", w, name, cluster);
	}
	y = cJSON_GetObjectItemCaseSensitive(t, "gateways");
	if (y != NULL && (!cJSON_IsArray(y) || cJSON_GetArraySize(y) > MAX_GATEWAYS))
		return mc_err(err, errlen, EINVAL, "%s.gateways: expected an array of at most %d", where, MAX_GATEWAYS);
	i = 0;
	cJSON_ArrayForEach(x, y) {
		const char *kind = NULL, *cluster = NULL, *name = NULL;
		const cJSON *ls = cJSON_GetObjectItemCaseSensitive(x, "listeners"), *lz;
		size_t li = 0;

		snprintf(w, sizeof(w), "%s.gateways[%zu]", where, i++);
		if (!cJSON_IsObject(x))
			return mc_err(err, errlen, EINVAL, "%s: expected an object", w);
		if ((rc = mc_fields_known(x, gf, w, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "name", 1, w, &name, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "cluster", 1, w, &cluster, err, errlen)) < 0 ||
		    (rc = mc_field_string(x, "kind", 1, w, &kind, err, errlen)) < 0 ||
		    (rc = mc_field_int(x, "port", 0, w, 1024, 65535, &l, err, errlen)) < 0)
			return rc;
		if (cluster_of(clusters, cluster) < 0)
			return mc_err(err, errlen, EINVAL, "%s.cluster: \"%s\" is not a cluster of the mesh", w, cluster);
		if (strcmp(kind, "ingress") != 0 && strcmp(kind, "eastwest") != 0)
			return mc_err(err, errlen, EINVAL, "%s.kind: expected \"ingress\" or \"eastwest\"", w);
		if (strcmp(kind, "ingress") == 0 && (!cJSON_IsArray(ls) || cJSON_GetArraySize(ls) < 1 ||
						     cJSON_GetArraySize(ls) > MAX_LISTENERS))
			return mc_err(err, errlen, EINVAL, "%s.listeners: an ingress needs 1 to %d listeners", w,
				      MAX_LISTENERS);
		cJSON_ArrayForEach(lz, ls) {
			char lw[600];
			const char *tls = NULL, *cred = NULL, *ln = NULL;
			const cJSON *routes = cJSON_GetObjectItemCaseSensitive(lz, "routes"), *r, *allow = NULL;
			size_t ri = 0;

			snprintf(lw, sizeof(lw), "%s.listeners[%zu]", w, li++);
			if ((rc = mc_fields_known(lz, lf, lw, err, errlen)) < 0 ||
			    (rc = mc_field_string(lz, "name", 1, lw, &ln, err, errlen)) < 0 ||
			    (rc = mc_field_int(lz, "port", 1, lw, 1024, 65535, &l, err, errlen)) < 0 ||
			    (rc = mc_field_string(lz, "tls", 0, lw, &tls, err, errlen)) < 0 ||
			    (rc = mc_field_string(lz, "credential", 0, lw, &cred, err, errlen)) < 0 ||
			    (rc = mc_field_string(lz, "server_name", 0, lw, &s, err, errlen)) < 0 ||
			    (rc = mc_field_strings(lz, "allow_hosts", 0, lw, &allow, err, errlen)) < 0)
				return rc;
			if (tls != NULL && strcmp(tls, "MUTUAL") != 0)
				return mc_err(err, errlen, EINVAL, "%s.tls: only \"MUTUAL\" is supported", lw);
			if (!cJSON_IsArray(routes) || cJSON_GetArraySize(routes) > MAX_ROUTES)
				return mc_err(err, errlen, EINVAL, "%s.routes: expected an array of at most %d routes", lw,
					      MAX_ROUTES);
			cJSON_ArrayForEach(r, routes) {
				char rw[700];
				const cJSON *hosts = NULL;
				const char *prefix = NULL, *svc = NULL;

				snprintf(rw, sizeof(rw), "%s.routes[%zu]", lw, ri++);
				if ((rc = mc_fields_known(r, rf, rw, err, errlen)) < 0 ||
				    (rc = mc_field_strings(r, "hosts", 1, rw, &hosts, err, errlen)) < 0 ||
				    (rc = mc_field_string(r, "prefix", 1, rw, &prefix, err, errlen)) < 0 ||
				    (rc = mc_field_string(r, "service", 1, rw, &svc, err, errlen)) < 0)
					return rc;
				if (*prefix != '/' || strpbrk(prefix, " \t;{}\"'$\\") != NULL)
					return mc_err(err, errlen, EINVAL, "%s.prefix: \"%s\" is not a path prefix", rw, prefix);
				if (service_index(services, svc) < 0)
					return mc_err(err, errlen, EINVAL, "%s.service: \"%s\" is not a service (name.namespace)",
						      rw, svc);
				if (cJSON_GetArraySize(hosts) < 1 || cJSON_GetArraySize(hosts) > 8)
					return mc_err(err, errlen, EINVAL, "%s.hosts: 1 to 8 hosts", rw);
				cJSON_ArrayForEach(z, hosts)
					if (strpbrk(z->valuestring, " \t;{}\"'$\\/") != NULL || *z->valuestring == '\0')
						return mc_err(err, errlen, EINVAL, "%s.hosts: \"%s\" is not a host", rw,
							      z->valuestring);
			}
			cJSON_ArrayForEach(z, allow)
				if (strpbrk(z->valuestring, " \t;{}\"'$\\/") != NULL || *z->valuestring == '\0')
					return mc_err(err, errlen, EINVAL, "%s.allow_hosts: \"%s\" is not a host glob", lw,
						      z->valuestring);
		}
	}
	return 0;
}

/* True when id ("name@cluster") names a workload of topology t. */
static bool
workload_exists(const cJSON *t, const char *id)
{
	const cJSON *w;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(t, "workloads")) {
		char *wid = mc_xasprintf("%s@%s", mc_json_str(w, "name", ""), mc_json_str(w, "cluster", ""));
		bool same = strcmp(wid, id) == 0;

		free(wid);
		if (same)
			return true;
	}
	return false;
}

int
mc_mesh_validate(const struct mc_suite_def *def, char *err, size_t errlen)
{
	static const char *const mesh_fields[] = {"topology", "key", "mtls", "stopped", "foreign_intermediate",
						  "drop_authorization", NULL};
	const cJSON *mtls = cJSON_GetObjectItemCaseSensitive(def->mesh, "mtls"), *x, *stopped = NULL;
	char where[512], *name = NULL;
	const char *fi = NULL, *key = NULL;
	enum mc_key_type kt;
	cJSON *t = NULL;
	int rc, b;

	snprintf(where, sizeof(where), "%s: mesh", def->file);
	if ((rc = mc_fields_known(def->mesh, mesh_fields, where, err, errlen)) < 0 ||
	    (rc = mc_field_string(def->mesh, "key", 0, where, &key, err, errlen)) < 0 ||
	    (rc = mc_field_strings(def->mesh, "stopped", 0, where, &stopped, err, errlen)) < 0 ||
	    (rc = mc_field_string(def->mesh, "foreign_intermediate", 0, where, &fi, err, errlen)) < 0 ||
	    (rc = mc_field_bool(def->mesh, "drop_authorization", 0, where, &b, err, errlen)) < 0)
		return rc;
	if (key != NULL && mc_key_type_parse(key, &kt) < 0)
		return mc_err(err, errlen, EINVAL, "%s.key: expected rsa4096, rsa2048 or ec256", where);
	if (def->servers != NULL)
		return mc_err(err, errlen, EINVAL, "%s: a suite with a mesh topology has no \"servers\"", def->file);
	if ((rc = load_topology(def, &t, &name, err, errlen)) < 0)
		return rc;
	if ((rc = topology_validate(t, name, err, errlen)) < 0)
		goto out;
	if (mtls != NULL && !cJSON_IsObject(mtls)) {
		rc = mc_err(err, errlen, EINVAL, "%s.mtls: expected an object of \"workload@cluster\": mode", where);
		goto out;
	}
	cJSON_ArrayForEach(x, mtls) {
		enum mtls m;

		if (!cJSON_IsString(x) || mode_parse(x->valuestring, &m) < 0) {
			rc = mc_err(err, errlen, EINVAL, "%s.mtls.%s: expected STRICT, PERMISSIVE or DISABLE", where,
				    x->string);
			goto out;
		}
		if (!workload_exists(t, x->string)) {
			rc = mc_err(err, errlen, EINVAL, "%s.mtls: \"%s\" is not a workload of the topology (name@cluster)",
				    where, x->string);
			goto out;
		}
	}
	cJSON_ArrayForEach(x, stopped)
		if (!workload_exists(t, x->valuestring)) {
			rc = mc_err(err, errlen, EINVAL, "%s.stopped: \"%s\" is not a workload of the topology (name@cluster)",
				    where, x->valuestring);
			goto out;
		}
	if (fi != NULL && cluster_of(cJSON_GetObjectItemCaseSensitive(t, "clusters"), fi) < 0)
		rc = mc_err(err, errlen, EINVAL, "%s.foreign_intermediate: \"%s\" is not a cluster of the mesh", where, fi);
out:
	cJSON_Delete(t);
	free(name);
	return rc;
}

int
mc_mesh_topology(const struct mc_suite_def *def, cJSON **out, char *err, size_t errlen)
{
	char *name = NULL;
	int rc;

	*out = NULL;
	if ((rc = load_topology(def, out, &name, err, errlen)) < 0)
		return rc;
	if ((rc = topology_validate(*out, name, err, errlen)) < 0) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	free(name);
	return rc;
}

/* ---- building ------------------------------------------------------------- */

/* SHA-1 of the first certificate in a PEM file, lowercase hex (nginx's $ssl_client_fingerprint). */
static int
fingerprint(const char *pem, char out[41], char *err, size_t errlen)
{
	FILE *f = fopen(pem, "r");
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	X509 *x;

	if (f == NULL)
		return mc_err(err, errlen, errno, "%s: %s", pem, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL || X509_digest(x, EVP_sha1(), md, &n) != 1) {
		X509_free(x);
		return mc_err(err, errlen, EINVAL, "%s: cannot read the certificate", pem);
	}
	for (unsigned int i = 0; i < n && i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	X509_free(x);
	return 0;
}

/*
 * Claims an address slot for this run: a listening socket on the slot's
 * marker address that concurrent runs cannot bind as well. Slots are tried
 * from a random start.
 */
static int
claim_slot(struct mc_mesh *m, char *err, size_t errlen)
{
	int start = 2 + (int)((unsigned)getpid() * 2654435761u % 249u);

	for (int k = 0; k < 249; k++) {
		int slot = 2 + (start - 2 + k) % 249;
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(15999)};
		char addr[32];
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return mc_err(err, errlen, errno, "socket: %s", strerror(errno));
		snprintf(addr, sizeof(addr), "127.10.%d.1", slot);
		inet_pton(AF_INET, addr, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0) {
			m->slot = slot;
			m->slot_fd = fd;
			return 0;
		}
		close(fd);
	}
	return mc_err(err, errlen, EADDRINUSE, "no free address slot on 127.10.0.0/16 (are 249 runs going?)");
}

static char *
xstr(const cJSON *o, const char *k, const char *def)
{
	const char *v = mc_json_str(o, k, def);

	return v != NULL ? mc_xstrdup(v) : NULL;
}

static int
build_model(struct mc_mesh *m, const cJSON *t, const cJSON *mesh)
{
	const cJSON *x, *y;
	int per_cluster[MAX_CLUSTERS] = {0};

	m->td = xstr(t, "trust_domain", "cluster.local");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(t, "clusters"))
		m->clusters[m->n_clusters++] = mc_xstrdup(x->valuestring);
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(t, "services")) {
		struct service *s = &m->s[m->n_s++];

		s->name = xstr(x, "name", "");
		s->ns = xstr(x, "namespace", "");
		s->port = (int)mc_json_int(x, "port", 0);
		cJSON_ArrayForEach(y, cJSON_GetObjectItemCaseSensitive(x, "clusters"))
			s->declared[cluster_of(cJSON_GetObjectItemCaseSensitive(t, "clusters"), y->valuestring)] = true;
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(t, "workloads")) {
		struct workload *w = &m->w[m->n_w++];
		const cJSON *mode;

		w->name = xstr(x, "name", "");
		w->ns = xstr(x, "namespace", "");
		w->sa = xstr(x, "service_account", "");
		w->app = xstr(x, "app", NULL);
		w->version = xstr(x, "version", "v1");
		w->service = xstr(x, "service", NULL);
		w->port = (int)mc_json_int(x, "port", 0);
		w->ci = cluster_of(cJSON_GetObjectItemCaseSensitive(t, "clusters"), mc_json_str(x, "cluster", ""));
		w->id = mc_xasprintf("%s@%s", w->name, m->clusters[w->ci]);
		w->mode = MTLS_STRICT;
		if (mc_json_str(x, "mtls", NULL) != NULL)
			(void)mode_parse(mc_json_str(x, "mtls", NULL), &w->mode);
		mode = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(mesh, "mtls"), w->id);
		if (cJSON_IsString(mode))
			(void)mode_parse(mode->valuestring, &w->mode);
		cJSON_ArrayForEach(y, cJSON_GetObjectItemCaseSensitive(mesh, "stopped"))
			if (strcmp(y->valuestring, w->id) == 0)
				w->stopped = true;
		cJSON_ArrayForEach(y, cJSON_GetObjectItemCaseSensitive(x, "upstreams")) {
			w->up_name[w->n_up] = mc_xstrdup(y->string);
			w->up_host[w->n_up++] = mc_xstrdup(y->valuestring);
		}
		snprintf(w->addr, sizeof(w->addr), "127.%d.%d.%d", 11 + w->ci, m->slot, ++per_cluster[w->ci]);
		w->spiffe = mc_xasprintf("spiffe://%s/ns/%s/sa/%s", m->td, w->ns, w->sa);
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(t, "gateways")) {
		struct gateway *g = &m->g[m->n_g++];

		g->name = xstr(x, "name", "");
		g->ci = cluster_of(cJSON_GetObjectItemCaseSensitive(t, "clusters"), mc_json_str(x, "cluster", ""));
		g->eastwest = strcmp(mc_json_str(x, "kind", ""), "eastwest") == 0;
		g->port = (int)mc_json_int(x, "port", 15443);
		g->id = mc_xasprintf("%s@%s", g->name, m->clusters[g->ci]);
		snprintf(g->addr, sizeof(g->addr), "127.%d.%d.%d", 11 + g->ci, m->slot, g->eastwest ? 241 : 240);
		g->spiffe = mc_xasprintf("spiffe://%s/ns/istio-system/sa/%s", m->td,
					 g->eastwest ? "istio-eastwestgateway-service-account"
						     : "istio-ingressgateway-service-account");
		cJSON_ArrayForEach(y, cJSON_GetObjectItemCaseSensitive(x, "listeners")) {
			struct listener *l = &g->l[g->n_l++];
			const cJSON *r, *h;

			l->name = xstr(y, "name", "");
			l->port = (int)mc_json_int(y, "port", 0);
			l->mutual = mc_json_str(y, "tls", NULL) != NULL;
			l->server_name = xstr(y, "server_name", NULL);
			if (!mc_json_bool(mesh, "drop_authorization", false))
				cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(y, "allow_hosts"))
					if (l->n_allow < 8)
						l->allow[l->n_allow++] = mc_xstrdup(h->valuestring);
			cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(y, "routes")) {
				struct route *rt = &l->routes[l->n_routes++];

				rt->prefix = xstr(r, "prefix", "/");
				rt->svc = service_index(cJSON_GetObjectItemCaseSensitive(t, "services"),
							mc_json_str(r, "service", ""));
				cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(r, "hosts"))
					rt->hosts[rt->n_hosts++] = mc_xstrdup(h->valuestring);
			}
		}
	}
	return 0;
}

/* ---- configuration ---------------------------------------------------------- */

static void
conf_head(struct mc_buf *b, const char *dir, bool stream)
{
	if (stream)
		mc_buf_printf(b, "load_module %s;\n", STREAM_MODULE);
	mc_buf_printf(b,
		      "# Written by meshcheck for one run of the local mesh.\n"
		      "daemon off;\nmaster_process on;\nworker_processes 1;\n"
		      "pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
		      "events { worker_connections 2048; }\n",
		      dir, dir);
}

static void
http_head(struct mc_buf *b, const char *dir)
{
	mc_buf_printf(b,
		      "http {\n"
		      "    access_log %s/access.log;\n"
		      "    client_body_temp_path %s/tmp/body;\n    proxy_temp_path %s/tmp/proxy;\n"
		      "    fastcgi_temp_path %s/tmp/fastcgi;\n    uwsgi_temp_path %s/tmp/uwsgi;\n"
		      "    scgi_temp_path %s/tmp/scgi;\n"
		      "    server_tokens off;\n    default_type text/plain;\n"
		      "    map_hash_bucket_size 128;\n    server_names_hash_bucket_size 128;\n",
		      dir, dir, dir, dir, dir, dir);
}

/* The SNI a mesh client sends for a service (Istio's outbound cluster name). */
static char *
service_sni(const struct mc_mesh *m, const struct service *s)
{
	return mc_xasprintf("outbound_.%d_._.%s.%s.svc.%s", s->port, s->name, s->ns, m->td);
}

static const struct gateway *
eastwest_of(const struct mc_mesh *m, int ci)
{
	for (size_t i = 0; i < m->n_g; i++)
		if (m->g[i].eastwest && m->g[i].ci == ci)
			return &m->g[i];
	return NULL;
}

/*
 * Upstreams for service si as seen from cluster ci: a TLS group (local
 * endpoints that speak TLS, other clusters' endpoints through their
 * east-west gateways) and a plain group (local DISABLE endpoints). Returns
 * the number of servers written into each.
 */
static void
service_upstreams(struct mc_buf *b, const struct mc_mesh *m, size_t si, int ci, const char *tag, int *n_tls,
		  int *n_plain)
{
	const struct service *s = &m->s[si];
	int remote[MAX_CLUSTERS] = {0};
	struct mc_buf tls, plain;

	mc_buf_init(&tls, 0);
	mc_buf_init(&plain, 0);
	*n_tls = 0;
	*n_plain = 0;
	for (size_t i = 0; i < m->n_w; i++) {
		const struct workload *w = &m->w[i];

		/* A stopped workload is scaled to zero: it is no endpoint at all. */
		if (w->service == NULL || strcmp(w->service, s->name) != 0 || strcmp(w->ns, s->ns) != 0 || w->stopped)
			continue;
		if (w->ci != ci) {
			remote[w->ci]++;
			continue;
		}
		if (w->mode == MTLS_DISABLE) {
			mc_buf_printf(&plain, "        server %s:%d;\n", w->addr, s->port);
			(*n_plain)++;
		} else {
			mc_buf_printf(&tls, "        server %s:%d;\n", w->addr, s->port);
			(*n_tls)++;
		}
	}
	for (size_t c = 0; c < m->n_clusters; c++) {
		const struct gateway *ew = eastwest_of(m, (int)c);

		if (remote[c] == 0 || ew == NULL)
			continue;
		mc_buf_printf(&tls, "        server %s:%d weight=%d;\n", ew->addr, ew->port, remote[c]);
		(*n_tls)++;
	}
	if (*n_tls > 0)
		mc_buf_printf(b, "    upstream mc_%s_tls {\n        random;\n%s    }\n", tag, tls.data);
	if (*n_plain > 0)
		mc_buf_printf(b, "    upstream mc_%s_plain {\n        random;\n%s    }\n", tag, plain.data);
	mc_buf_free(&tls);
	mc_buf_free(&plain);
}

/* A location body that sends the request to service si, originating mutual TLS as identity (chain, key). */
static void
proxy_to_service(struct mc_buf *b, const struct mc_mesh *m, size_t si, const char *tag, int n_tls, int n_plain,
		 const char *chain, const char *key, const char *bind, const char *indent)
{
	char *sni = service_sni(m, &m->s[si]);

	if (n_tls == 0 && n_plain == 0) {
		mc_buf_printf(b, "%sreturn 503 \"no healthy upstream\";\n", indent);
		free(sni);
		return;
	}
	if (n_tls > 0 && n_plain > 0)
		mc_buf_printf(b, "%sproxy_pass $mc_%s_pick;\n", indent, tag);
	else
		mc_buf_printf(b, "%sproxy_pass %s://mc_%s_%s;\n", indent, n_tls > 0 ? "https" : "http", tag,
			      n_tls > 0 ? "tls" : "plain");
	/* Connections leave from the workload's own address, so a capture can tell who sent a flow. */
	mc_buf_printf(b, "%sproxy_bind %s;\n", indent, bind);
	mc_buf_printf(b,
		      "%sproxy_set_header Host $http_host;\n"
		      "%sproxy_http_version 1.1;\n"
		      "%sproxy_set_header Connection \"\";\n"
		      "%sproxy_next_upstream off;\n"
		      "%sproxy_ssl_certificate %s;\n"
		      "%sproxy_ssl_certificate_key %s;\n"
		      "%sproxy_ssl_server_name on;\n"
		      "%sproxy_ssl_name %s;\n"
		      "%sproxy_ssl_session_reuse off;\n",
		      indent, indent, indent, indent, indent, chain, indent, key, indent, indent, sni, indent);
	free(sni);
}

/* Mixed TLS/plain endpoints: pick a group per request in proportion to its endpoints. */
static void
mixed_pick(struct mc_buf *b, const char *tag, int n_tls, int n_plain)
{
	if (n_tls == 0 || n_plain == 0)
		return;
	mc_buf_printf(b, "    split_clients \"$request_id\" $mc_%s_pick {\n        %.2f%% https://mc_%s_tls;\n"
			 "        * http://mc_%s_plain;\n    }\n",
		      tag, 100.0 * n_tls / (n_tls + n_plain), tag, tag);
}

/* Every identity the mesh issued, by fingerprint, so a sidecar can name its caller. */
static void
caller_map(struct mc_buf *b, const struct mc_mesh *m)
{
	mc_buf_puts(b, "    map $ssl_client_fingerprint $mc_caller {\n        default \"\";\n");
	for (size_t i = 0; i < m->n_w; i++) {
		mc_buf_printf(b, "        %s \"%s\";\n", m->w[i].fp, m->w[i].spiffe);
		if (m->w[i].old_fp[0] != '\0' && strcmp(m->w[i].old_fp, m->w[i].fp) != 0)
			mc_buf_printf(b, "        %s \"%s\";\n", m->w[i].old_fp, m->w[i].spiffe);
	}
	for (size_t i = 0; i < m->n_g; i++) {
		mc_buf_printf(b, "        %s \"%s\";\n", m->g[i].fp, m->g[i].spiffe);
		if (m->g[i].old_fp[0] != '\0' && strcmp(m->g[i].old_fp, m->g[i].fp) != 0)
			mc_buf_printf(b, "        %s \"%s\";\n", m->g[i].old_fp, m->g[i].spiffe);
	}
	mc_buf_printf(b, "        %s \"spiffe://%s/ns/meshcheck/sa/harness\";\n    }\n", m->harness_fp, m->td);
}

static void
server_names(struct mc_buf *b, const struct mc_mesh *m, const struct service *s)
{
	mc_buf_printf(b, "        server_name %s %s.%s %s.%s.svc %s.%s.svc.%s;\n", s->name, s->name, s->ns, s->name,
		      s->ns, s->name, s->ns, m->td);
}

static char *
sidecar_conf(const struct mc_mesh *m, const struct workload *w, const char *dir)
{
	struct mc_buf b;
	bool stream = w->port > 0 && w->app != NULL && w->mode != MTLS_DISABLE;

	mc_buf_init(&b, 0);
	conf_head(&b, dir, stream);
	http_head(&b, dir);
	caller_map(&b, m);
	if (w->port > 0 && w->app != NULL) {
		int tls_port = w->mode == MTLS_DISABLE ? w->port : PERMISSIVE_TLS_PORT;

		mc_buf_printf(&b, "    # inbound (%s)\n    server {\n", mtls_names[w->mode]);
		if (w->mode == MTLS_DISABLE)
			mc_buf_printf(&b, "        listen %s:%d;\n", w->addr, w->port);
		else
			mc_buf_printf(&b,
				      "        listen %s:%d ssl http2;\n"
				      "        ssl_certificate %s;\n        ssl_certificate_key %s;\n"
				      "        ssl_protocols TLSv1.2 TLSv1.3;\n"
				      "        ssl_client_certificate %s;\n        ssl_verify_client on;\n"
				      "        ssl_verify_depth 4;\n",
				      w->addr, tls_port, w->chain, w->key, m->root);
		mc_buf_printf(&b,
			      "        location / {\n"
			      "            proxy_pass http://%s:%d;\n"
			      "            proxy_bind %s;\n"
			      "            proxy_http_version 1.1;\n"
			      "            proxy_set_header Connection \"\";\n"
			      "            proxy_set_header Host $http_host;\n",
			      w->addr, APP_PORT, w->addr);
		if (w->mode != MTLS_DISABLE)
			mc_buf_printf(&b, "            proxy_set_header X-Forwarded-Client-Cert \"By=%s;URI=$mc_caller\";\n",
				      w->spiffe);
		mc_buf_puts(&b, "        }\n    }\n");
	}
	/* outbound: one server block per service declared in this cluster */
	for (size_t si = 0; si < m->n_s; si++) {
		const struct service *s = &m->s[si];
		char tag[48];
		int nt, np;

		if (!s->declared[w->ci])
			continue;
		snprintf(tag, sizeof(tag), "s%zu", si);
		service_upstreams(&b, m, si, w->ci, tag, &nt, &np);
		mixed_pick(&b, tag, nt, np);
		mc_buf_printf(&b, "    server {\n        listen %s:%d;\n", w->addr, OUTBOUND_PORT);
		server_names(&b, m, s);
		mc_buf_puts(&b, "        location / {\n");
		proxy_to_service(&b, m, si, tag, nt, np, w->chain, w->key, w->addr, "            ");
		mc_buf_puts(&b, "        }\n    }\n");
	}
	mc_buf_printf(&b, "    server {\n        listen %s:%d default_server;\n"
			  "        location / { return 503 \"no such service in cluster %s\\n\"; }\n    }\n}\n",
		      w->addr, OUTBOUND_PORT, m->clusters[w->ci]);
	/*
	 * Inbound port: TLS goes to the TLS listener; plaintext goes straight
	 * to the app under PERMISSIVE and is dropped under STRICT (the client
	 * sees the connection closed without an answer, as with Istio).
	 */
	if (stream) {
		char plain[64];

		if (w->mode == MTLS_PERMISSIVE)
			snprintf(plain, sizeof(plain), "%s:%d", w->addr, APP_PORT);
		else
			snprintf(plain, sizeof(plain), "mc_drop");
		mc_buf_printf(&b,
			      "stream {\n"
			      "    upstream mc_drop {\n        server 127.0.0.1:9 down;\n    }\n"
			      "    map $ssl_preread_protocol $mc_in {\n        \"\" %s;\n        default %s:%d;\n    }\n"
			      "    server {\n        listen %s:%d;\n        ssl_preread on;\n        proxy_pass $mc_in;\n"
			      "        proxy_bind %s;\n    }\n}\n",
			      plain, w->addr, PERMISSIVE_TLS_PORT, w->addr, w->port, w->addr);
	}
	return mc_buf_steal(&b);
}

static char *
eastwest_conf(const struct mc_mesh *m, const struct gateway *g, const char *dir)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	conf_head(&b, dir, true);
	mc_buf_puts(&b, "stream {\n    map_hash_bucket_size 128;\n"
			 "    map $ssl_preread_server_name $mc_ew {\n        default mc_none;\n");
	for (size_t si = 0; si < m->n_s; si++) {
		char *sni = service_sni(m, &m->s[si]);

		mc_buf_printf(&b, "        %s mc_s%zu;\n", sni, si);
		free(sni);
	}
	mc_buf_puts(&b, "    }\n    upstream mc_none {\n        server 127.0.0.1:9 down;\n    }\n");
	for (size_t si = 0; si < m->n_s; si++) {
		bool any = false;

		mc_buf_printf(&b, "    upstream mc_s%zu {\n        random;\n", si);
		for (size_t i = 0; i < m->n_w; i++) {
			const struct workload *w = &m->w[i];

			if (w->ci != g->ci || w->service == NULL || strcmp(w->service, m->s[si].name) != 0 ||
			    strcmp(w->ns, m->s[si].ns) != 0 || w->mode == MTLS_DISABLE || w->stopped)
				continue;
			mc_buf_printf(&b, "        server %s:%d;\n", w->addr, w->port);
			any = true;
		}
		if (!any)
			mc_buf_puts(&b, "        server 127.0.0.1:9 down;\n");
		mc_buf_puts(&b, "    }\n");
	}
	mc_buf_printf(&b, "    server {\n        listen %s:%d;\n        ssl_preread on;\n        proxy_pass $mc_ew;\n"
			  "        proxy_bind %s;\n    }\n}\n",
		      g->addr, g->port, g->addr);
	return mc_buf_steal(&b);
}

/* nginx's regular expression for a host glob ("*.nip.io"). */
static void
host_regex(struct mc_buf *b, const char *glob)
{
	mc_buf_puts(b, "\"~*^");
	for (const char *p = glob; *p != '\0'; p++) {
		if (*p == '*')
			mc_buf_puts(b, "[^:]*");
		else if (strchr(".+?()[]{}|^$\\", *p) != NULL)
			mc_buf_printf(b, "\\%c", *p);
		else
			mc_buf_append(b, p, 1);
	}
	mc_buf_puts(b, "(:[0-9]+)?$\"");
}

/* A 404 with an empty body, as Envoy answers without a route (nginx would send its error page). */
#define EMPTY_404 "        error_page 404 =404 @mc_empty;\n        location @mc_empty { return 200 \"\"; }\n"

/* The HTTP routing of one ingress listener, on addr:port (plain HTTP). */
static void
ingress_listener(struct mc_buf *b, const struct mc_mesh *m, const struct gateway *g, size_t li, const char *addr,
		 int port)
{
	const struct listener *l = &g->l[li];
	bool has_default = false, root_routed;

	if (l->n_allow > 0) {
		mc_buf_printf(b, "    map $http_host $mc_allow_%zu {\n        default 0;\n", li);
		for (size_t i = 0; i < l->n_allow; i++) {
			mc_buf_puts(b, "        ");
			host_regex(b, l->allow[i]);
			mc_buf_puts(b, " 1;\n");
		}
		mc_buf_puts(b, "    }\n");
	}
	/* One server block per distinct host list; "*" routes go to the default server. */
	for (size_t r = 0; r < l->n_routes; r++) {
		const struct route *rt = &l->routes[r];
		bool star = false, seen = false;

		for (size_t h = 0; h < rt->n_hosts; h++)
			star = star || strcmp(rt->hosts[h], "*") == 0;
		for (size_t q = 0; q < r; q++) {
			const struct route *o = &l->routes[q];
			bool same = o->n_hosts == rt->n_hosts;

			for (size_t h = 0; same && h < rt->n_hosts; h++)
				same = strcmp(o->hosts[h], rt->hosts[h]) == 0;
			seen = seen || same;
		}
		if (seen)
			continue;
		mc_buf_printf(b, "    server {\n        listen %s:%d%s;\n", addr, port, star ? " default_server" : "");
		has_default = has_default || star;
		if (!star) {
			mc_buf_puts(b, "        server_name");
			for (size_t h = 0; h < rt->n_hosts; h++)
				mc_buf_printf(b, " %s", rt->hosts[h]);
			mc_buf_puts(b, ";\n");
		}
		if (l->n_allow > 0)
			mc_buf_printf(b, "        if ($mc_allow_%zu = 0) { return 403 \"RBAC: access denied\"; }\n", li);
		root_routed = false;
		for (size_t q = r; q < l->n_routes; q++) {
			const struct route *o = &l->routes[q];
			bool same = o->n_hosts == rt->n_hosts;
			char tag[48];
			int nt, np;

			for (size_t h = 0; same && h < rt->n_hosts; h++)
				same = strcmp(o->hosts[h], rt->hosts[h]) == 0;
			if (!same)
				continue;
			snprintf(tag, sizeof(tag), "l%zur%zu", li, q);
			root_routed = root_routed || strcmp(o->prefix, "/") == 0;
			mc_buf_printf(b, "        location %s {\n", o->prefix);
			proxy_to_service(b, m, (size_t)o->svc, tag, 1, 0, g->chain, g->key, g->addr, "            ");
			mc_buf_puts(b, "        }\n");
			(void)nt;
			(void)np;
		}
		mc_buf_puts(b, EMPTY_404);
		if (!root_routed)
			mc_buf_puts(b, "        location / { return 404; }\n");
		mc_buf_puts(b, "    }\n");
	}
	if (!has_default) {
		mc_buf_printf(b, "    server {\n        listen %s:%d default_server;\n", addr, port);
		if (l->n_allow > 0)
			mc_buf_printf(b, "        if ($mc_allow_%zu = 0) { return 403 \"RBAC: access denied\"; }\n", li);
		mc_buf_puts(b, EMPTY_404);
		mc_buf_puts(b, "        location / { return 404; }\n    }\n");
	}
}

static char *
ingress_conf(const struct mc_mesh *m, const struct gateway *g, const char *dir)
{
	struct mc_buf b;
	bool stream = false;

	for (size_t li = 0; li < g->n_l; li++)
		stream = stream || g->l[li].mutual;
	mc_buf_init(&b, 0);
	conf_head(&b, dir, stream);
	http_head(&b, dir);
	/* The upstreams every route may use, as seen from the gateway's cluster. */
	for (size_t li = 0; li < g->n_l; li++)
		for (size_t r = 0; r < g->l[li].n_routes; r++) {
			char tag[48];
			int nt, np;

			snprintf(tag, sizeof(tag), "l%zur%zu", li, r);
			service_upstreams(&b, m, (size_t)g->l[li].routes[r].svc, g->ci, tag, &nt, &np);
			if (nt == 0) /* no TLS endpoint: an empty group answers 502, as Envoy's 503 */
				mc_buf_printf(&b, "    upstream mc_%s_tls {\n        server 127.0.0.1:9 down;\n    }\n", tag);
		}
	for (size_t li = 0; li < g->n_l; li++) {
		const struct listener *l = &g->l[li];

		if (l->mutual)
			/* TLS is terminated by the stream server below; HTTP comes in here, on the next port up. */
			ingress_listener(&b, m, g, li, g->addr, l->port + 10000);
		else
			ingress_listener(&b, m, g, li, g->addr, l->port);
	}
	mc_buf_puts(&b, "}\n");
	if (stream) {
		mc_buf_puts(&b, "stream {\n");
		for (size_t li = 0; li < g->n_l; li++) {
			const struct listener *l = &g->l[li];

			if (!l->mutual)
				continue;
			/* MUTUAL: a client without a certificate from the credential's CA fails the handshake. */
			mc_buf_printf(&b,
				      "    server {\n        listen %s:%d ssl;\n"
				      "        ssl_certificate %s;\n        ssl_certificate_key %s;\n"
				      "        ssl_client_certificate %s;\n        ssl_verify_client on;\n"
				      "        ssl_protocols TLSv1.2 TLSv1.3;\n"
				      "        proxy_pass %s:%d;\n        proxy_bind %s;\n    }\n",
				      g->addr, l->port, m->cred_chain, m->cred_key, m->cred_root, g->addr, l->port + 10000,
				      g->addr);
		}
		mc_buf_puts(&b, "}\n");
	}
	return mc_buf_steal(&b);
}

/* ---- processes ----------------------------------------------------------- */

static const char *
fixture_binary(void)
{
	static char path[PATH_MAX + 64];
	const char *env = getenv("MC_FIXTURE");
	char self[PATH_MAX];
	ssize_t n;

	if (env != NULL && *env != '\0')
		return access(env, X_OK) == 0 ? env : NULL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return NULL;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(path, sizeof(path), "%s/fixtures/local/meshcheck-fixture", self);
	if (access(path, X_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/meshcheck-fixture", self);
	if (access(path, X_OK) == 0)
		return path;
	return NULL;
}

/* Starts argv with its output in log, in its own process group, dying with us. */
static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);
	return pid;
}

static void
stop_pid(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		nanosleep(&ts, NULL);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int
start_app(struct mc_mesh *m, struct workload *w, const char *bin, char *err, size_t errlen)
{
	char *argv[48], listen_arg[64], connect_to[64], *log = mc_xasprintf("%s/app.log", w->dir);
	char *instance = mc_xasprintf("%s-%s", w->name, m->clusters[w->ci]);
	char *ups[MAX_UPSTREAMS];
	int n = 0;

	snprintf(listen_arg, sizeof(listen_arg), "%s:%d", w->addr, APP_PORT);
	snprintf(connect_to, sizeof(connect_to), "%s:%d", w->addr, OUTBOUND_PORT);
	argv[n++] = (char *)bin;
	argv[n++] = "--role";
	argv[n++] = w->app;
	argv[n++] = "--listen";
	argv[n++] = listen_arg;
	argv[n++] = "--version";
	argv[n++] = w->version;
	argv[n++] = "--instance";
	argv[n++] = instance;
	argv[n++] = "--cluster";
	argv[n++] = m->clusters[w->ci];
	argv[n++] = "--workload";
	argv[n++] = w->name;
	argv[n++] = "--namespace";
	argv[n++] = w->ns;
	for (size_t i = 0; i < w->n_up; i++) {
		ups[i] = mc_xasprintf("%s=http://%s", w->up_name[i], w->up_host[i]);
		argv[n++] = "--upstream";
		argv[n++] = ups[i];
	}
	if (w->n_up > 0) {
		argv[n++] = "--connect-to";
		argv[n++] = connect_to;
	}
	argv[n] = NULL;
	w->app_pid = spawn(argv, log);
	for (size_t i = 0; i < w->n_up; i++)
		free(ups[i]);
	free(log);
	free(instance);
	if (w->app_pid < 0)
		return mc_err(err, errlen, errno, "%s: cannot start the app: %s", w->id, strerror(errno));
	return 0;
}

/* ---- up and down --------------------------------------------------------- */

static int
issue(const char *ca_dir, const char *spiffe, const char *const *dns, size_t n_dns, const char *dir, char **chain,
      char **key, char fp[41], char *err, size_t errlen)
{
	struct mc_issue_options io = {.spiffe = spiffe, .ttl_seconds = 86400, .key = MC_KEY_EC256, .key_set = true,
				      .dns = dns, .n_dns = n_dns};
	int rc;

	if ((rc = mc_pki_issue(ca_dir, &io, dir, err, errlen)) < 0)
		return rc;
	*chain = mc_xasprintf("%s/cert-chain.pem", dir);
	*key = mc_xasprintf("%s/key.pem", dir);
	return fp != NULL ? fingerprint(*chain, fp, err, errlen) : 0;
}

/* Fails with the process's own words when a sidecar, gateway or app exited during start-up. */
static int
check_alive(struct mc_mesh *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->n_w + m->n_g; i++) {
		struct workload *w = i < m->n_w ? &m->w[i] : NULL;
		struct mc_nginx *ng = w != NULL ? w->sidecar : m->g[i - m->n_w].ng;
		const char *id = w != NULL ? w->id : m->g[i - m->n_w].id;
		char *log = NULL, *p = NULL;
		size_t len = 0;

		if (ng != NULL && ng->pid > 0 && waitpid(ng->pid, NULL, WNOHANG) == ng->pid) {
			ng->pid = 0;
			p = mc_xasprintf("%s/error.log", ng->dir);
		} else if (w != NULL && w->app_pid > 0 && waitpid(w->app_pid, NULL, WNOHANG) == w->app_pid) {
			w->app_pid = 0;
			p = mc_xasprintf("%s/app.log", w->dir);
		}
		if (p == NULL)
			continue;
		(void)mc_file_read(p, 1 << 16, &log, &len, NULL, 0);
		while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
			log[--len] = '\0';
		mc_err(err, errlen, EIO, "%s exited during start-up (%s): %s", id, p,
		       log != NULL ? (len > 600 ? log + len - 600 : log) : "no output");
		free(log);
		free(p);
		return -EIO;
	}
	return 0;
}

int
mc_mesh_up(const struct mc_suite_def *def, const char *run_dir, struct mc_mesh **out, char *err, size_t errlen)
{
	struct mc_mesh *m = mc_xcalloc(1, sizeof(*m));
	struct mc_ca_options ca = {0};
	const char *fi = mc_json_str(def->mesh, "foreign_intermediate", NULL);
	const char *key = mc_json_str(def->mesh, "key", "ec256");
	const char *cl[MAX_CLUSTERS], *bin;
	struct mc_listen *wait = NULL;
	size_t n_wait = 0;
	char *pki = NULL, *name = NULL, *text = NULL;
	cJSON *t = NULL;
	double deadline;
	int rc;

	*out = NULL;
	m->slot_fd = -1;
	m->dir = mc_xasprintf("%s/mesh", run_dir);
	if (access(STREAM_MODULE, R_OK) != 0) {
		rc = mc_err(err, errlen, ENOENT, "%s missing: install Debian's libnginx-mod-stream", STREAM_MODULE);
		goto out;
	}
	if (mc_nginx_binary() == NULL) {
		rc = mc_err(err, errlen, ENOENT, "nginx not found (install Debian's nginx-light and libnginx-mod-stream)");
		goto out;
	}
	if ((bin = fixture_binary()) == NULL) {
		rc = mc_err(err, errlen, ENOENT,
			    "meshcheck-fixture not found beside meshcheck (build it with ninja, or set MC_FIXTURE)");
		goto out;
	}
	if ((rc = load_topology(def, &t, &name, err, errlen)) < 0 || (rc = claim_slot(m, err, errlen)) < 0)
		goto out;
	build_model(m, t, def->mesh);
	if ((rc = mc_mkdir_p(m->dir, 0700, err, errlen)) < 0)
		goto out;

	/* PKI: the mesh root and one intermediate per cluster; keys as the suite asks (EC by default: fast). */
	ca.trust_domain = m->td;
	ca.key = MC_KEY_EC256;
	(void)mc_key_type_parse(key, &ca.key);
	for (size_t i = 0; i < m->n_clusters; i++)
		cl[i] = m->clusters[i];
	pki = mc_xasprintf("%s/pki", m->dir);
	if ((rc = mc_pki_init(pki, cl, m->n_clusters, &ca, err, errlen)) < 0)
		goto out;
	m->root = mc_xasprintf("%s/root-cert.pem", pki);
	{
		char *hd = mc_xasprintf("%s/harness", m->dir), *ca_dir = mc_xasprintf("%s/%s", pki, cl[0]);
		char *id = mc_xasprintf("spiffe://%s/ns/meshcheck/sa/harness", m->td);

		rc = issue(ca_dir, id, NULL, 0, hd, &m->harness_chain, &m->harness_key, m->harness_fp, err, errlen);
		free(hd);
		free(ca_dir);
		free(id);
		if (rc < 0)
			goto out;
	}
	/* A cluster whose intermediate comes from a root the mesh does not trust (a broken mesh). */
	if (fi != NULL) {
		char *fdir = mc_xasprintf("%s/pki-foreign", m->dir);
		struct mc_ca_options fca = ca;
		const char *fcl[1] = {fi};

		fca.root_cn = "Foreign Root CA";
		rc = mc_pki_init(fdir, fcl, 1, &fca, err, errlen);
		free(fdir);
		if (rc < 0)
			goto out;
	}
	/* The MUTUAL gateway's credential: its own CA, a server certificate and a client of that CA. */
	{
		char *cdir = mc_xasprintf("%s/credential", m->dir), *ca_dir = mc_xasprintf("%s/example", cdir);
		struct mc_ca_options cca = {.trust_domain = "example.com", .key = MC_KEY_EC256, .root_cn = "example.com"};
		const char *ecl[1] = {"example"};
		const char *sdns[1] = {"httpbin.example.com"}, *cdns[1] = {"client.example.com"};
		char *sd = mc_xasprintf("%s/server", cdir), *cd = mc_xasprintf("%s/client", cdir);

		rc = mc_pki_init(cdir, ecl, 1, &cca, err, errlen);
		if (rc == 0)
			rc = issue(ca_dir, "spiffe://example.com/ns/istio-system/sa/httpbin-credential", sdns, 1, sd,
				   &m->cred_chain, &m->cred_key, NULL, err, errlen);
		if (rc == 0)
			rc = issue(ca_dir, "spiffe://example.com/ns/client/sa/client", cdns, 1, cd, &m->client_chain,
				   &m->client_key, NULL, err, errlen);
		m->cred_root = mc_xasprintf("%s/root-cert.pem", cdir);
		free(cdir);
		free(ca_dir);
		free(sd);
		free(cd);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < m->n_w; i++) {
		struct workload *w = &m->w[i];
		char *ca_dir = fi != NULL && strcmp(fi, m->clusters[w->ci]) == 0
				       ? mc_xasprintf("%s/pki-foreign/%s", m->dir, fi)
				       : mc_xasprintf("%s/%s", pki, m->clusters[w->ci]);

		w->dir = mc_xasprintf("%s/%s", m->dir, w->id);
		rc = issue(ca_dir, w->spiffe, NULL, 0, w->dir, &w->chain, &w->key, w->fp, err, errlen);
		free(ca_dir);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < m->n_g; i++) {
		struct gateway *g = &m->g[i];
		char *ca_dir = mc_xasprintf("%s/%s", pki, m->clusters[g->ci]);

		g->dir = mc_xasprintf("%s/%s", m->dir, g->id);
		rc = issue(ca_dir, g->spiffe, NULL, 0, g->dir, &g->chain, &g->key, g->fp, err, errlen);
		free(ca_dir);
		if (rc < 0)
			goto out;
	}

	/* Start everything without waiting, then wait for every listener at once. */
	wait = mc_xcalloc(4 * (m->n_w + m->n_g * MAX_LISTENERS) + 4, sizeof(*wait));
	for (size_t i = 0; i < m->n_w; i++) {
		struct workload *w = &m->w[i];
		char *sd;

		if (w->stopped)
			continue;
		if (w->app != NULL) {
			if ((rc = start_app(m, w, bin, err, errlen)) < 0)
				goto out;
			wait[n_wait++] = (struct mc_listen){w->addr, APP_PORT};
			wait[n_wait++] = (struct mc_listen){w->addr, w->port};
		}
		wait[n_wait++] = (struct mc_listen){w->addr, OUTBOUND_PORT};
		sd = mc_xasprintf("%s/sidecar", w->dir);
		text = sidecar_conf(m, w, sd);
		rc = mc_nginx_start_conf(sd, text, NULL, 0, 0, &w->sidecar, err, errlen);
		free(sd);
		free(text);
		text = NULL;
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < m->n_g; i++) {
		struct gateway *g = &m->g[i];
		char *gd = mc_xasprintf("%s/nginx", g->dir);

		text = g->eastwest ? eastwest_conf(m, g, gd) : ingress_conf(m, g, gd);
		rc = mc_nginx_start_conf(gd, text, NULL, 0, 0, &g->ng, err, errlen);
		free(gd);
		free(text);
		text = NULL;
		if (rc < 0)
			goto out;
		if (g->eastwest)
			wait[n_wait++] = (struct mc_listen){g->addr, g->port};
		for (size_t li = 0; li < g->n_l; li++)
			wait[n_wait++] = (struct mc_listen){g->addr, g->l[li].port};
	}
	deadline = mc_monotonic() + 10.0;
	for (size_t i = 0; i < n_wait;) {
		struct timespec ts = {0, 5 * 1000 * 1000};

		if (mc_tcp_port_open(wait[i].addr, wait[i].port)) {
			i++;
			continue;
		}
		if ((rc = check_alive(m, err, errlen)) < 0)
			goto out;
		if (mc_monotonic() > deadline) {
			char *log = NULL;
			size_t len;

			/* Name what failed, with the end of its error log. */
			for (size_t k = 0; k < m->n_w; k++)
				if (strcmp(m->w[k].addr, wait[i].addr) == 0) {
					char *p = mc_xasprintf("%s/%s", m->w[k].dir,
							       wait[i].port == APP_PORT ? "app.log" : "sidecar/error.log");

					(void)mc_file_read(p, 1 << 16, &log, &len, NULL, 0);
					free(p);
				}
			rc = mc_err(err, errlen, ETIMEDOUT, "%s:%d did not start listening within 10 s%s%s",
				    wait[i].addr, wait[i].port, log != NULL ? ": " : "",
				    log != NULL ? (len > 400 ? log + len - 400 : log) : "");
			free(log);
			goto out;
		}
		nanosleep(&ts, NULL);
	}
	*out = m;
	m = NULL;
out:
	free(wait);
	free(pki);
	free(name);
	cJSON_Delete(t);
	if (m != NULL)
		mc_mesh_down(m);
	return rc;
}

int
mc_mesh_endpoint(struct mc_mesh *m, const char *name, struct mc_endpoint *out, char *err, size_t errlen)
{
	char buf[256], *colon;

	snprintf(buf, sizeof(buf), "%s", name);
	colon = strchr(buf, ':');
	if (colon != NULL)
		*colon++ = '\0';
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < m->n_w; i++) {
		struct workload *w = &m->w[i];

		if (strcmp(w->id, buf) != 0)
			continue;
		out->name = w->id;
		out->cluster = m->clusters[w->ci];
		out->host = w->addr;
		out->spiffe = w->spiffe;
		out->root = m->root;
		if (colon != NULL && strcmp(colon, "outbound") == 0) {
			out->port = OUTBOUND_PORT;
			out->plaintext = true;
			return 0;
		}
		if (colon != NULL && strcmp(colon, "plain") == 0 && w->port > 0) {
			/* The inbound port spoken to in plaintext: a client without a sidecar. */
			out->port = w->port;
			out->plaintext = true;
			return 0;
		}
		if (colon != NULL || w->port == 0)
			return mc_err(err, errlen, ENOENT, "%s: %s has no %s listener", name, w->id,
				      colon != NULL ? colon : "inbound");
		out->port = w->port;
		out->plaintext = w->mode == MTLS_DISABLE;
		out->client_cert = m->harness_chain;
		out->client_key = m->harness_key;
		for (size_t si = 0; si < m->n_s; si++)
			if (w->service != NULL && strcmp(m->s[si].name, w->service) == 0 && strcmp(m->s[si].ns, w->ns) == 0) {
				static __thread char sni[300];
				char *s = service_sni(m, &m->s[si]);

				snprintf(sni, sizeof(sni), "%s", s);
				free(s);
				out->sni = sni;
			}
		return 0;
	}
	for (size_t i = 0; i < m->n_g; i++) {
		struct gateway *g = &m->g[i];

		if (strcmp(g->id, buf) != 0)
			continue;
		out->name = g->id;
		out->cluster = m->clusters[g->ci];
		out->host = g->addr;
		out->spiffe = g->spiffe;
		if (g->eastwest) {
			out->port = g->port;
			out->root = m->root;
			out->client_cert = m->harness_chain;
			out->client_key = m->harness_key;
			return 0;
		}
		for (size_t li = 0; li < g->n_l; li++) {
			struct listener *l = &g->l[li];

			if (colon != NULL ? strcmp(l->name, colon) != 0 : li != 0)
				continue;
			out->port = l->port;
			out->plaintext = !l->mutual;
			if (l->mutual) {
				out->root = m->cred_root;
				out->sni = l->server_name;
				out->client_cert = m->client_chain;
				out->client_key = m->client_key;
			}
			return 0;
		}
		return mc_err(err, errlen, ENOENT, "%s: %s has no listener named \"%s\"", name, g->id, colon);
	}
	return mc_err(err, errlen, ENOENT, "no workload or gateway \"%s\" in the mesh (names are name@cluster)", name);
}

const char *
mc_mesh_root(struct mc_mesh *m)
{
	return m != NULL ? m->root : NULL;
}

void
mc_mesh_describe(struct mc_mesh *m, FILE *f)
{
	for (size_t i = 0; i < m->n_g; i++) {
		const struct gateway *g = &m->g[i];

		if (g->eastwest) {
			fprintf(f, "  %-24s %s:%d (TLS passthrough by SNI)\n", g->id, g->addr, g->port);
			continue;
		}
		for (size_t li = 0; li < g->n_l; li++)
			fprintf(f, "  %-24s %s:%d (%s%s)\n", g->id, g->addr, g->l[li].port, g->l[li].name,
				g->l[li].mutual ? ", MUTUAL TLS" : ", HTTP");
	}
	for (size_t i = 0; i < m->n_w; i++) {
		const struct workload *w = &m->w[i];

		fprintf(f, "  %-24s %s  outbound :%d", w->id, w->addr, OUTBOUND_PORT);
		if (w->port > 0)
			fprintf(f, "  inbound :%d (%s)", w->port, mtls_names[w->mode]);
		fprintf(f, "  %s%s\n", w->spiffe, w->stopped ? "  [stopped]" : "");
	}
}

/* Copies src into dir/name when it exists (the last 4 MiB at most). */
static void
copy_log(const char *src, const char *dir, const char *name)
{
	char *data = NULL, *dst;
	size_t len = 0;
	FILE *f = fopen(src, "r");

	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (4L << 20))
		fseek(f, -(4L << 20), SEEK_END);
	else
		fseek(f, 0, SEEK_SET);
	data = mc_xmalloc((4u << 20) + 1);
	len = fread(data, 1, 4u << 20, f);
	fclose(f);
	dst = mc_xasprintf("%s/%s", dir, name);
	(void)mc_file_write(dst, data, len, 0644, NULL, 0);
	free(dst);
	free(data);
}

void
mc_mesh_logs(struct mc_mesh *m, const char *dir)
{
	static const char *const files[] = {"error.log", "access.log"};

	for (size_t i = 0; i < m->n_w + m->n_g; i++) {
		const char *id = i < m->n_w ? m->w[i].id : m->g[i - m->n_w].id;
		const char *wd = i < m->n_w ? m->w[i].dir : m->g[i - m->n_w].dir;
		const char *ngsub = i < m->n_w ? "sidecar" : "nginx";

		if (wd == NULL)
			continue;
		for (size_t k = 0; k < 2; k++) {
			char *src = mc_xasprintf("%s/%s/%s", wd, ngsub, files[k]);
			char *name = mc_xasprintf("%s.%s%s", id, i < m->n_w ? "sidecar-" : "", files[k]);

			copy_log(src, dir, name);
			free(src);
			free(name);
		}
		if (i < m->n_w && m->w[i].app != NULL) {
			char *src = mc_xasprintf("%s/app.log", wd), *name = mc_xasprintf("%s.app.log", id);

			copy_log(src, dir, name);
			free(src);
			free(name);
		}
	}
}

/* ---- actions (continuity checks) ------------------------------------------ */

/* Asks an nginx to reload (re-read its configuration, replace its workers gracefully) and gives it time to. */
static int
nginx_reload(struct mc_nginx *ng, const char *what, char *err, size_t errlen)
{
	struct timespec ts = {0, 300 * 1000 * 1000};

	if (ng == NULL || ng->pid <= 0 || kill(ng->pid, SIGHUP) < 0)
		return mc_err(err, errlen, ESRCH, "%s: its proxy is not running", what);
	nanosleep(&ts, NULL);
	return 0;
}

/* Rewrites a proxy's configuration (its nginx.conf) from the model, as up wrote it. */
static int
rewrite_conf(const struct mc_mesh *m, const struct workload *w, const struct gateway *g, char *err, size_t errlen)
{
	struct mc_nginx *ng = w != NULL ? w->sidecar : g->ng;
	char *text, *tmp;
	int rc;

	if (ng == NULL)
		return 0;
	text = w != NULL ? sidecar_conf(m, w, ng->dir) : g->eastwest ? eastwest_conf(m, g, ng->dir)
								   : ingress_conf(m, g, ng->dir);
	tmp = mc_xasprintf("%s.new", ng->conf);
	rc = mc_file_write(tmp, text, strlen(text), 0600, err, errlen);
	if (rc == 0 && rename(tmp, ng->conf) < 0)
		rc = mc_err(err, errlen, errno, "%s: %s", ng->conf, strerror(errno));
	free(tmp);
	free(text);
	return rc;
}

/* Every proxy gets its configuration rewritten, then all re-read it at once (each gracefully). */
static int
rewrite_and_reload_all(const struct mc_mesh *m, char *err, size_t errlen)
{
	struct timespec ts = {0, 500 * 1000 * 1000};
	int rc = 0;

	for (size_t i = 0; i < m->n_w && rc == 0; i++)
		if (m->w[i].sidecar != NULL)
			rc = rewrite_conf(m, &m->w[i], NULL, err, errlen);
	for (size_t i = 0; i < m->n_g && rc == 0; i++)
		rc = rewrite_conf(m, NULL, &m->g[i], err, errlen);
	for (size_t i = 0; i < m->n_w && rc == 0; i++)
		if (m->w[i].sidecar != NULL && m->w[i].sidecar->pid > 0 && kill(m->w[i].sidecar->pid, SIGHUP) < 0)
			rc = mc_err(err, errlen, ESRCH, "%s: its proxy is not running", m->w[i].id);
	for (size_t i = 0; i < m->n_g && rc == 0; i++)
		if (m->g[i].ng != NULL && m->g[i].ng->pid > 0 && kill(m->g[i].ng->pid, SIGHUP) < 0)
			rc = mc_err(err, errlen, ESRCH, "%s: its proxy is not running", m->g[i].id);
	if (rc == 0)
		nanosleep(&ts, NULL);
	return rc;
}

/*
 * Rotates cluster ci's intermediate CA under the same root and re-issues
 * the certificates of its workloads and gateways while traffic flows:
 * first every proxy learns the new certificates' fingerprints (callers keep
 * their identity whichever certificate they present), then the proxies of
 * the cluster switch to the new certificates. Each step is a graceful
 * reload: connections in flight finish on the old workers.
 */
static int
rotate_ca(struct mc_mesh *m, int ci, char *err, size_t errlen)
{
	char *pki = mc_xstrdup(m->root), *slash = strrchr(pki, '/'), *ca_dir;
	struct mc_ca_options o = {.trust_domain = m->td, .key = MC_KEY_EC256};
	char *chains[MAX_WORKLOADS + MAX_GATEWAYS], *keys[MAX_WORKLOADS + MAX_GATEWAYS];
	char fps[MAX_WORKLOADS + MAX_GATEWAYS][41];
	size_t n = m->n_w + m->n_g;
	int rc;

	if (slash != NULL)
		*slash = '\0';
	m->rotations++;
	ca_dir = mc_xasprintf("%s/%s-r%d", pki, m->clusters[ci], m->rotations);
	memset(chains, 0, sizeof(chains));
	memset(keys, 0, sizeof(keys));
	rc = mc_pki_add_intermediate(pki, m->clusters[ci], ca_dir, &o, err, errlen);
	/* New certificates for the cluster's proxies, beside the old ones. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct workload *w = i < m->n_w ? &m->w[i] : NULL;
		struct gateway *g = i < m->n_w ? NULL : &m->g[i - m->n_w];
		char *dir;

		if ((w != NULL ? w->ci : g->ci) != ci)
			continue;
		dir = mc_xasprintf("%s-r%d", w != NULL ? w->dir : g->dir, m->rotations);
		rc = issue(ca_dir, w != NULL ? w->spiffe : g->spiffe, NULL, 0, dir, &chains[i], &keys[i], fps[i], err,
			   errlen);
		free(dir);
	}
	/* Step 1: every proxy knows both fingerprints of each rotated proxy. */
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *fp = i < m->n_w ? m->w[i].fp : m->g[i - m->n_w].fp;
		char *old = i < m->n_w ? m->w[i].old_fp : m->g[i - m->n_w].old_fp;

		if (chains[i] == NULL)
			continue;
		memcpy(old, fp, 41);
		memcpy(fp, fps[i], 41);
	}
	if (rc == 0)
		rc = rewrite_and_reload_all(m, err, errlen);
	/* Step 2: the rotated proxies present their new certificates. */
	for (size_t i = 0; i < n; i++) {
		char **chain = i < m->n_w ? &m->w[i].chain : &m->g[i - m->n_w].chain;
		char **key = i < m->n_w ? &m->w[i].key : &m->g[i - m->n_w].key;

		if (chains[i] == NULL)
			continue;
		if (rc == 0) {
			free(*chain);
			free(*key);
			*chain = chains[i];
			*key = keys[i];
		} else {
			free(chains[i]);
			free(keys[i]);
		}
	}
	if (rc == 0)
		rc = rewrite_and_reload_all(m, err, errlen);
	free(ca_dir);
	free(pki);
	return rc;
}

/* The workload named id ("name@cluster"), or NULL. */
static struct workload *
workload_by_id(struct mc_mesh *m, const char *id)
{
	for (size_t i = 0; i < m->n_w; i++)
		if (strcmp(m->w[i].id, id) == 0)
			return &m->w[i];
	return NULL;
}

int
mc_mesh_action(struct mc_mesh *m, const char *action, const char *target, char *err, size_t errlen)
{
	struct workload *w;
	int rc = 0, n = 0;

	if (target == NULL)
		target = "";
	if (strcmp(action, "reload_gateway") == 0) {
		for (size_t i = 0; i < m->n_g && rc == 0; i++)
			if (strcmp(target, "all") == 0 || strcmp(m->g[i].id, target) == 0) {
				rc = nginx_reload(m->g[i].ng, m->g[i].id, err, errlen);
				n++;
			}
		if (rc == 0 && n == 0)
			rc = mc_err(err, errlen, ENOENT, "reload_gateway: no gateway \"%s\" (ingress@C, eastwest@C or all)",
				    target);
		return rc;
	}
	if (strcmp(action, "restart_sidecars") == 0) {
		/* One after the other, as a rolling restart goes: every worker of each proxy is replaced. */
		for (size_t i = 0; i < m->n_w && rc == 0; i++) {
			w = &m->w[i];
			if (w->sidecar == NULL ||
			    !(strcmp(target, "all") == 0 || strcmp(w->id, target) == 0 ||
			      (w->service != NULL && strncmp(target, w->service, strlen(w->service)) == 0 &&
			       target[strlen(w->service)] == '.' && strcmp(target + strlen(w->service) + 1, w->ns) == 0)))
				continue;
			rc = nginx_reload(w->sidecar, w->id, err, errlen);
			n++;
		}
		if (rc == 0 && n == 0)
			rc = mc_err(err, errlen, ENOENT,
				    "restart_sidecars: no workload \"%s\" (W@C, a service as svc.ns, or all)", target);
		return rc;
	}
	if (strcmp(action, "restart_app") == 0 || strcmp(action, "kill_app") == 0) {
		if ((w = workload_by_id(m, target)) == NULL || w->app == NULL || w->app_pid <= 0)
			return mc_err(err, errlen, ENOENT, "%s: no running app \"%s\" (W@C)", action, target);
		if (strcmp(action, "kill_app") == 0) {
			/* Ungraceful: requests in flight and every later one fail. */
			kill(-w->app_pid, SIGKILL);
			waitpid(w->app_pid, NULL, 0);
			w->app_pid = -1;
			return 0;
		}
		stop_pid(w->app_pid);
		w->app_pid = -1;
		if ((rc = start_app(m, w, fixture_binary(), err, errlen)) < 0)
			return rc;
		for (int i = 0; i < 500 && !mc_tcp_port_open(w->addr, APP_PORT); i++) {
			struct timespec ts = {0, 10 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
		return 0;
	}
	if (strcmp(action, "rotate_ca") == 0) {
		for (size_t c = 0; c < m->n_clusters; c++)
			if (strcmp(m->clusters[c], target) == 0)
				return rotate_ca(m, (int)c, err, errlen);
		return mc_err(err, errlen, ENOENT, "rotate_ca: no cluster \"%s\"", target);
	}
	return mc_err(err, errlen, EINVAL,
		      "unknown action \"%s\" (reload_gateway, restart_sidecars, restart_app, kill_app, rotate_ca)", action);
}

void
mc_mesh_down(struct mc_mesh *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_g; i++) {
		struct gateway *g = &m->g[i];

		mc_nginx_stop(g->ng);
		for (size_t li = 0; li < g->n_l; li++) {
			struct listener *l = &g->l[li];

			for (size_t r = 0; r < l->n_routes; r++) {
				for (size_t h = 0; h < l->routes[r].n_hosts; h++)
					free(l->routes[r].hosts[h]);
				free(l->routes[r].prefix);
			}
			for (size_t a = 0; a < l->n_allow; a++)
				free(l->allow[a]);
			free(l->name);
			free(l->server_name);
		}
		free(g->name);
		free(g->id);
		free(g->spiffe);
		free(g->chain);
		free(g->key);
		free(g->dir);
	}
	for (size_t i = 0; i < m->n_w; i++) {
		struct workload *w = &m->w[i];

		mc_nginx_stop(w->sidecar);
		stop_pid(w->app_pid);
		for (size_t u = 0; u < w->n_up; u++) {
			free(w->up_name[u]);
			free(w->up_host[u]);
		}
		free(w->name);
		free(w->ns);
		free(w->sa);
		free(w->app);
		free(w->version);
		free(w->service);
		free(w->id);
		free(w->spiffe);
		free(w->chain);
		free(w->key);
		free(w->dir);
	}
	for (size_t i = 0; i < m->n_s; i++) {
		free(m->s[i].name);
		free(m->s[i].ns);
	}
	for (size_t i = 0; i < m->n_clusters; i++)
		free(m->clusters[i]);
	if (m->slot_fd >= 0)
		close(m->slot_fd);
	free(m->td);
	free(m->dir);
	free(m->root);
	free(m->harness_chain);
	free(m->harness_key);
	free(m->cred_root);
	free(m->cred_chain);
	free(m->cred_key);
	free(m->client_chain);
	free(m->client_key);
	free(m);
}
