/*
 * The kube target (see target_kube.h): deploy the topology on real
 * clusters through kubectl, resolve endpoints to pods and gateways, send
 * in-mesh requests from pods, apply a case's mesh config, and delete it all
 * by the run label.
 */
#include "target_kube.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "clean.h"
#include "kcapture.h"
#include "kchains.h"
#include "mesh_local.h"
#include "pki.h"
#include "podcurl.h"
#include "rollout.h"
#include "util.h"

#define MAX_PODS 128
#define MAX_NAMESPACES 32

/* A pod of a topology workload, found after the rollout. */
struct kpod {
	size_t ci;                 /* cluster index (= context index) */
	char *workload;            /* the Deployment's name, the topology workload's */
	char *ns;                  /* with the prefix */
	char *name;
	char *ip;
	char *node;
	char *container;           /* the app's container (the first that is not istio-proxy) */
	int port;                  /* its first containerPort (0: unknown) */
	char *via;                 /* "ci/ns/pod/container/mode" handed out in endpoints */
	char *via_local;
};

struct kcluster {
	char *name;                /* the topology's ("c1") */
	const char *context;
	char *ingress_host;        /* NULL: unknown */
	int ingress_http, ingress_https;
};

/* The run's deployment, shared by every suite's target. */
static struct {
	bool configured;
	const struct mc_kube *k;
	struct mc_kube_target_opts o;
	char *run_id;
	char *dir;                 /* the run's local state: root.pem */
	bool attempted;            /* a deployment was tried (finish must clean) */
	bool deployed;
	int deploy_rc;
	char deploy_err[MC_ERRLEN];
	cJSON *topology;
	char *trust_domain;
	struct kcluster clusters[MC_KUBE_MAX_CONTEXTS];
	size_t n_clusters;
	struct kpod pods[MAX_PODS];
	size_t n_pods;
	char *root_path;
	char *cred_root;           /* the MUTUAL listener's CA (made for the run) */
	char *client_chain, *client_key; /* a client certificate of that CA */
} K;

/* What a target of one suite holds: endpoint strings it handed out. */
struct kube_priv {
	char *strs[64];
	size_t n_strs;
	char *applied[16];         /* rendered mesh config applied for the current case, per cluster joined */
	size_t n_applied;
};

static const char *
fixtures_dir(void)
{
	return K.o.fixtures_dir != NULL ? K.o.fixtures_dir : MC_SOURCE_ROOT "/fixtures";
}

static const char *
ns_prefix(void)
{
	return K.o.ns_prefix != NULL ? K.o.ns_prefix : MC_KUBE_DEFAULT_NS_PREFIX;
}

static const char *
gateway_ns(void)
{
	return K.o.gateway_ns != NULL ? K.o.gateway_ns : MC_KUBE_DEFAULT_GATEWAY_NS;
}

void
mc_target_kube_configure(const struct mc_kube *k, const struct mc_kube_target_opts *o)
{
	K.k = k;
	K.o = *o;
	K.configured = true;
}

/* ---- manifests ------------------------------------------------------------ */

int
mc_kube_manifest_render(const char *text, const char *file, const char *run_id, const char *ns_prefix_,
			const char *gateway_ns_, const char *revision, char **out, char *err, size_t errlen)
{
	struct mc_buf b;
	int line = 1;

	*out = NULL;
	mc_buf_init(&b, 0);
	for (const char *p = text; *p != '\0';) {
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p, '}');
			size_t n = end != NULL ? (size_t)(end - p - 2) : 0;

			if (end != NULL && n == 13 && memcmp(p + 2, "MESHCHECK_RUN", 13) == 0) {
				mc_buf_puts(&b, run_id);
			} else if (end != NULL && n == 19 && memcmp(p + 2, "MESHCHECK_NS_PREFIX", 19) == 0) {
				mc_buf_puts(&b, ns_prefix_);
			} else if (end != NULL && n == 20 && memcmp(p + 2, "MESHCHECK_GATEWAY_NS", 20) == 0) {
				mc_buf_puts(&b, gateway_ns_);
			} else {
				int len = end != NULL && end - p < 60 && memchr(p, '\n', (size_t)(end - p)) == NULL
						  ? (int)(end - p + 1)
						  : 2;

				mc_buf_free(&b);
				return mc_err(err, errlen, EINVAL, "%s:%d: unknown placeholder \"%.*s\"", file, line, len, p);
			}
			p = end + 1;
			continue;
		}
		/* With a revision, injection is asked for by revision label instead. */
		if (revision != NULL && (p == text || p[-1] == '\n')) {
			const char *q = p;

			while (*q == ' ')
				q++;
			if (strncmp(q, "istio-injection: enabled", 24) == 0 && (q[24] == '\n' || q[24] == '\0')) {
				mc_buf_append(&b, p, (size_t)(q - p));
				mc_buf_printf(&b, "istio.io/rev: \"%s\"", revision);
				p = q + 24;
				continue;
			}
		}
		if (*p == '\n')
			line++;
		mc_buf_append(&b, p, 1);
		p++;
	}
	*out = mc_buf_steal(&b);
	if (*out == NULL)
		*out = mc_xstrdup("");
	return 0;
}

/* The value of a "key: value" line (indent spaces deep), copied without quotes. */
static char *
yaml_value(const char *line, const char *eol, int indent, const char *key)
{
	size_t kl = strlen(key);
	const char *v;

	for (int i = 0; i < indent; i++)
		if (line[i] != ' ')
			return NULL;
	line += indent;
	if (line[0] == ' ' || (size_t)(eol - line) <= kl || strncmp(line, key, kl) != 0 || line[kl] != ':')
		return NULL;
	v = line + kl + 1;
	while (v < eol && *v == ' ')
		v++;
	while (eol > v && (eol[-1] == ' ' || eol[-1] == '\r'))
		eol--;
	if (eol - v >= 2 && (*v == '"' || *v == '\'') && eol[-1] == *v) {
		v++;
		eol--;
	}
	return mc_xasprintf("%.*s", (int)(eol - v), v);
}

char *
mc_kube_select_docs(const char *text, mc_kube_doc_pred keep, void *arg, size_t *n_kept)
{
	struct mc_buf out;
	const char *doc = text;

	mc_buf_init(&out, 0);
	*n_kept = 0;
	while (doc != NULL && *doc != '\0') {
		const char *end = doc, *next = NULL;
		char *kind = NULL, *name = NULL, *ns = NULL;
		bool in_meta = false, any = false;

		/* The document runs to the next "---" line. */
		for (const char *l = doc; *l != '\0';) {
			const char *eol = strchr(l, '\n');

			if (eol == NULL)
				eol = l + strlen(l);
			if (l != doc && strncmp(l, "---", 3) == 0 && (l + 3 == eol || l[3] == ' ' || l[3] == '\r')) {
				end = l;
				next = *eol == '\n' ? eol + 1 : eol;
				break;
			}
			if (l[0] != '#' && l[0] != '\n' && !(l == doc && strncmp(l, "---", 3) == 0))
				any = true;
			if (l[0] != ' ' && l[0] != '#' && l[0] != '\n')
				in_meta = strncmp(l, "metadata:", 9) == 0;
			if (kind == NULL)
				kind = yaml_value(l, eol, 0, "kind");
			if (in_meta && name == NULL)
				name = yaml_value(l, eol, 2, "name");
			if (in_meta && ns == NULL)
				ns = yaml_value(l, eol, 2, "namespace");
			end = eol;
			l = *eol == '\n' ? eol + 1 : eol;
		}
		if (any && kind != NULL && name != NULL && keep(kind, name, ns != NULL ? ns : "", arg)) {
			const char *s = doc;

			if (strncmp(s, "---", 3) == 0)
				s = strchr(s, '\n') != NULL ? strchr(s, '\n') + 1 : s + strlen(s);
			if (*n_kept > 0)
				mc_buf_puts(&out, "---\n");
			mc_buf_append(&out, s, (size_t)(end - s));
			if (end > s && end[-1] != '\n')
				mc_buf_puts(&out, "\n");
			(*n_kept)++;
		}
		free(kind);
		free(name);
		free(ns);
		doc = next;
	}
	{
		char *s = mc_buf_steal(&out);

		return s != NULL ? s : mc_xstrdup("");
	}
}

/* ---- the topology --------------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
cluster_index(const char *name)
{
	for (size_t i = 0; i < K.n_clusters; i++)
		if (strcmp(K.clusters[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Whether a topology service (name, ns) is declared in cluster c. */
static bool
service_in(const cJSON *topo, const char *name, const char *ns, const char *c)
{
	const cJSON *s, *x;

	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(topo, "services")) {
		if (jstr(s, "name") == NULL || strcmp(jstr(s, "name"), name) != 0 || jstr(s, "namespace") == NULL ||
		    strcmp(jstr(s, "namespace"), ns) != 0)
			continue;
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s, "clusters"))
			if (cJSON_IsString(x) && strcmp(x->valuestring, c) == 0)
				return true;
	}
	return false;
}

struct select_arg {
	const cJSON *topo;
	const char *cluster;
	const char *prefix;
};

/* The objects of the fixtures one cluster gets: its workloads, their accounts, the services it declares. */
static bool
keep_for_cluster(const char *kind, const char *name, const char *ns, void *arg)
{
	const struct select_arg *a = arg;
	size_t pl = strlen(a->prefix);
	const char *bare = strncmp(ns, a->prefix, pl) == 0 ? ns + pl : ns;
	const cJSON *w;
	bool ns_used = false;

	if (strcmp(kind, "Namespace") == 0)
		return true;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(a->topo, "workloads")) {
		const char *wc = jstr(w, "cluster"), *wns = jstr(w, "namespace"), *wn = jstr(w, "name");

		if (wc == NULL || wns == NULL || wn == NULL || strcmp(wc, a->cluster) != 0 || strcmp(wns, bare) != 0)
			continue;
		ns_used = true;
		if (strcmp(kind, "Deployment") == 0 && strcmp(wn, name) == 0)
			return true;
		if (strcmp(kind, "ServiceAccount") == 0 && jstr(w, "service_account") != NULL &&
		    strcmp(jstr(w, "service_account"), name) == 0)
			return true;
		if (strcmp(kind, "Service") == 0 && jstr(w, "service") == NULL && strcmp(wn, name) == 0)
			return true; /* a client's own Service (sleep) */
	}
	if (strcmp(kind, "Service") == 0)
		return service_in(a->topo, name, bare, a->cluster);
	if (strcmp(kind, "Deployment") == 0 || strcmp(kind, "ServiceAccount") == 0)
		return false;
	return ns_used;
}

static bool
keep_all(const char *kind, const char *name, const char *ns, void *arg)
{
	(void)kind;
	(void)name;
	(void)ns;
	(void)arg;
	return true;
}

/* Files of fixtures/kube deployed, in order (namespaces first). */
static const char *const kube_files[] = {"namespaces.yaml", "sleep.yaml", "echoserver.yaml", "helloworld.yaml",
					 "httpbin.yaml", "bookinfo.yaml", NULL};
/* Mesh config applied with the fixtures, for the whole run; the others only for the cases that name them. */
static const char *const mesh_files[] = {"gateway.yaml", "virtualservice-helloworld-split.yaml",
					 "peerauthentication-strict.yaml", "gateway-mutual.yaml", NULL};

/* Whether cluster c has an ingress listener in MUTUAL TLS (seed 002's httpbin-credential). */
static bool
has_mutual(const cJSON *topo, const char *c)
{
	const cJSON *g, *l;

	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(topo, "gateways")) {
		const cJSON *gc = cJSON_GetObjectItemCaseSensitive(g, "cluster");

		if (!cJSON_IsString(gc) || strcmp(gc->valuestring, c) != 0)
			continue;
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(g, "listeners")) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "tls");

			if (cJSON_IsString(t) && strcmp(t->valuestring, "MUTUAL") == 0)
				return true;
		}
	}
	return false;
}

/* Reads and renders fixtures/<sub>/<file>. */
static int
read_rendered(const char *sub, const char *file, const char *run_id, char **out, char *err, size_t errlen)
{
	char *path = mc_xasprintf("%s/%s/%s", fixtures_dir(), sub, file), *text = NULL;
	size_t len;
	int rc;

	*out = NULL;
	rc = mc_file_read(path, 4u << 20, &text, &len, err, errlen);
	if (rc == 0)
		rc = mc_kube_manifest_render(text, path, run_id, ns_prefix(), gateway_ns(), K.o.revision, out, err,
					     errlen);
	free(text);
	free(path);
	return rc;
}

/* Everything cluster `cluster` gets, as one multi-document manifest. */
static int
cluster_manifest(const cJSON *topo, const char *cluster, const char *run_id, char **out, char *err, size_t errlen)
{
	struct select_arg a = {topo, cluster, ns_prefix()};
	struct mc_buf b;
	int rc = 0;

	mc_buf_init(&b, 0);
	for (size_t i = 0; kube_files[i] != NULL && rc == 0; i++) {
		char *r = NULL, *sel;
		size_t n = 0;

		if ((rc = read_rendered("kube", kube_files[i], run_id, &r, err, errlen)) < 0)
			break;
		sel = mc_kube_select_docs(r, keep_for_cluster, &a, &n);
		if (n > 0)
			mc_buf_printf(&b, "%s%s", b.len > 0 ? "---\n" : "", sel);
		free(sel);
		free(r);
	}
	for (size_t i = 0; mesh_files[i] != NULL && rc == 0; i++) {
		char *r = NULL, *sel;
		size_t n = 0;

		/* The MUTUAL listener's Gateway only where the topology has one. */
		if (strcmp(mesh_files[i], "gateway-mutual.yaml") == 0 && !has_mutual(topo, cluster))
			continue;
		if ((rc = read_rendered("mesh", mesh_files[i], run_id, &r, err, errlen)) < 0)
			break;
		sel = mc_kube_select_docs(r, keep_all, NULL, &n);
		if (n > 0)
			mc_buf_printf(&b, "%s%s", b.len > 0 ? "---\n" : "", sel);
		free(sel);
		free(r);
	}
	if (rc < 0) {
		mc_buf_free(&b);
		return rc;
	}
	*out = mc_buf_steal(&b);
	if (*out == NULL)
		*out = mc_xstrdup("");
	return 0;
}

/* The namespaces (prefixed) of the workloads of cluster c. */
static size_t
cluster_namespaces(const cJSON *topo, const char *c, char **out, size_t max)
{
	const cJSON *w;
	size_t n = 0;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(topo, "workloads")) {
		char *ns;
		bool seen = false;

		if (jstr(w, "cluster") == NULL || strcmp(jstr(w, "cluster"), c) != 0 || jstr(w, "namespace") == NULL)
			continue;
		ns = mc_xasprintf("%s%s", ns_prefix(), jstr(w, "namespace"));
		for (size_t i = 0; i < n && !seen; i++)
			seen = strcmp(out[i], ns) == 0;
		if (seen || n == max)
			free(ns);
		else
			out[n++] = ns;
	}
	return n;
}

int
mc_target_kube_plan(const struct mc_suite_def *def, const char *run_id, FILE *out, char *err, size_t errlen)
{
	cJSON *topo = NULL, *c;
	size_t i = 0;
	int rc;

	if ((rc = mc_mesh_topology(def, &topo, err, errlen)) < 0)
		return rc;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(topo, "clusters")) {
		const char *ctx = i < K.o.n_contexts ? K.o.contexts[i] : NULL;
		char *m = NULL;

		if (ctx == NULL) {
			rc = mc_err(err, errlen, EINVAL, "the topology has cluster %s but only %zu --context given",
				    c->valuestring, K.o.n_contexts);
			break;
		}
		if ((rc = cluster_manifest(topo, c->valuestring, run_id, &m, err, errlen)) < 0)
			break;
		fprintf(out, "# cluster %s = context %s: kubectl%s%s --context %s apply -f - <<'EOF'\n%sEOF\n",
			c->valuestring, ctx, K.k != NULL && K.k->kubeconfig != NULL ? " --kubeconfig " : "",
			K.k != NULL && K.k->kubeconfig != NULL ? K.k->kubeconfig : "", ctx, m);
		if (has_mutual(topo, c->valuestring))
			fprintf(out, "# and in %s: Secret %s/%shttpbin-credential (tls.crt, tls.key, ca.crt from a CA made "
				     "for the run), labelled %s=%s\n",
				ctx, gateway_ns(), ns_prefix(), MC_KUBE_RUN_LABEL, run_id);
		free(m);
		i++;
	}
	cJSON_Delete(topo);
	return rc;
}

/* ---- deployment ----------------------------------------------------------- */

static void
pod_clear(struct kpod *p)
{
	free(p->workload);
	free(p->ns);
	free(p->name);
	free(p->ip);
	free(p->node);
	free(p->container);
	free(p->via);
	free(p->via_local);
	memset(p, 0, sizeof(*p));
}

/* The Deployment a pod belongs to: its name without the ReplicaSet hash and the pod suffix. */
static char *
pod_deployment(const char *pod)
{
	const char *last = strrchr(pod, '-'), *prev;

	if (last == NULL || last == pod)
		return NULL;
	for (prev = last - 1; prev > pod && *prev != '-'; prev--)
		;
	if (prev == pod)
		return NULL;
	return mc_xasprintf("%.*s", (int)(prev - pod), pod);
}

/* Finds the run's pods in cluster ci. */
static int
discover_pods(size_t ci, char *err, size_t errlen)
{
	char sel[128];
	const char *args[] = {"get", "pods", "-A", "-l", sel, "-o", "json", NULL};
	cJSON *list = NULL;
	const cJSON *p;
	int rc;

	snprintf(sel, sizeof(sel), "%s=%s", MC_KUBE_RUN_LABEL, K.run_id);
	if ((rc = mc_kube_json(K.k, K.clusters[ci].context, args, &list, err, errlen)) < 0)
		return rc;
	cJSON_ArrayForEach(p, mc_kube_items(list)) {
		const char *name = mc_kube_obj_name(p), *ns = mc_kube_obj_namespace(p);
		const char *phase = mc_kube_str(p, "status.phase"), *ip = mc_kube_str(p, "status.podIP");
		const cJSON *c;
		char *dep;

		if (name == NULL || ns == NULL || phase == NULL || strcmp(phase, "Running") != 0 ||
		    mc_kube_at(p, "metadata.deletionTimestamp") != NULL || K.n_pods == MAX_PODS)
			continue;
		if ((dep = pod_deployment(name)) == NULL)
			continue;
		struct kpod *kp = &K.pods[K.n_pods++];

		kp->ci = ci;
		kp->workload = dep;
		kp->ns = mc_xstrdup(ns);
		kp->name = mc_xstrdup(name);
		kp->ip = mc_xstrdup(ip != NULL ? ip : "");
		kp->node = mc_xstrdup(mc_kube_str(p, "spec.nodeName") != NULL ? mc_kube_str(p, "spec.nodeName") : "");
		cJSON_ArrayForEach(c, mc_kube_at(p, "spec.containers")) {
			const char *cn = jstr(c, "name");

			if (cn != NULL && strcmp(cn, "istio-proxy") != 0) {
				const cJSON *cp = cJSON_GetObjectItemCaseSensitive(
					cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "ports"), 0), "containerPort");

				kp->container = mc_xstrdup(cn);
				kp->port = cJSON_IsNumber(cp) ? cp->valueint : 0;
				break;
			}
		}
		if (kp->container == NULL)
			kp->container = mc_xstrdup(kp->workload);
		kp->via = mc_xasprintf("%zu/%s/%s/%s/outbound", ci, kp->ns, kp->name, kp->container);
		kp->via_local = mc_xasprintf("%zu/%s/%s/istio-proxy/local", ci, kp->ns, kp->name);
	}
	cJSON_Delete(list);
	return 0;
}

/* The ingress gateway's external address in cluster ci (or --ingress). */
static void
discover_ingress(size_t ci)
{
	struct kcluster *c = &K.clusters[ci];
	const char *args[] = {"get", "service", "istio-ingressgateway", "-n", gateway_ns(), "-o", "json", NULL};
	char err[MC_ERRLEN];
	cJSON *svc = NULL;
	const cJSON *pt;

	c->ingress_http = 80;
	c->ingress_https = 443;
	if (K.o.ingress[ci] != NULL) {
		const char *colon = strrchr(K.o.ingress[ci], ':');

		c->ingress_host = mc_xasprintf("%.*s", (int)(colon - K.o.ingress[ci]), K.o.ingress[ci]);
		c->ingress_http = atoi(colon + 1);
		return;
	}
	if (mc_kube_json(K.k, c->context, args, &svc, err, sizeof(err)) < 0)
		return;
	{
		const cJSON *lb = cJSON_GetArrayItem(mc_kube_at(svc, "status.loadBalancer.ingress"), 0);
		const char *h = lb != NULL ? (jstr(lb, "ip") != NULL ? jstr(lb, "ip") : jstr(lb, "hostname")) : NULL;

		if (h != NULL)
			c->ingress_host = mc_xstrdup(h);
	}
	cJSON_ArrayForEach(pt, mc_kube_at(svc, "spec.ports")) {
		const char *n = jstr(pt, "name");
		const cJSON *port = cJSON_GetObjectItemCaseSensitive(pt, "port");

		if (n == NULL || !cJSON_IsNumber(port))
			continue;
		if (strcmp(n, "http2") == 0 || strcmp(n, "http") == 0)
			c->ingress_http = port->valueint;
		else if (strcmp(n, "https") == 0)
			c->ingress_https = port->valueint;
	}
	cJSON_Delete(svc);
}

/* The mesh root, from the first cluster's istio-ca-root-cert ConfigMap, into the run's directory. */
static int
fetch_root(char *err, size_t errlen)
{
	char ns[256];
	const char *args[] = {"get", "configmap", "istio-ca-root-cert", "-n", ns, "-o", "json", NULL};
	cJSON *cm = NULL;
	const char *pem;
	int rc;

	snprintf(ns, sizeof(ns), "%ssample", ns_prefix());
	if ((rc = mc_kube_json(K.k, K.clusters[0].context, args, &cm, err, errlen)) < 0)
		return rc;
	pem = cJSON_IsObject(mc_kube_at(cm, "data")) ? jstr(mc_kube_at(cm, "data"), "root-cert.pem") : NULL;
	if (pem == NULL) {
		cJSON_Delete(cm);
		return mc_err(err, errlen, ENOENT, "%s: ConfigMap %s/istio-ca-root-cert has no root-cert.pem",
			      K.clusters[0].context, ns);
	}
	K.root_path = mc_xasprintf("%s/root-cert.pem", K.dir);
	rc = mc_file_write(K.root_path, pem, strlen(pem), 0644, err, errlen);
	cJSON_Delete(cm);
	return rc;
}

/* Base64 of a file's bytes (caller frees), for a Secret's data. */
static int
file_base64(const char *path, char **out, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = mc_file_read(path, 1 << 20, &data, &len, err, errlen)) < 0)
		return rc;
	*out = mc_xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)*out, (const unsigned char *)data, (int)len);
	free(data);
	return 0;
}

/*
 * The MUTUAL listener's credential: a CA made for the run, a server
 * certificate for its host and a client certificate the harness presents,
 * as the local target makes them; the Secret (labelled with the run) is
 * applied in the gateway's namespace of every cluster that has the listener.
 */
static int
make_credential(const cJSON *topo, char *err, size_t errlen)
{
	char *cdir = mc_xasprintf("%s/credential", K.dir), *ca = mc_xasprintf("%s/example", cdir);
	char *sd = mc_xasprintf("%s/server", cdir), *cd = mc_xasprintf("%s/client", cdir);
	struct mc_ca_options cca = {.trust_domain = "example.com", .key = MC_KEY_EC256, .root_cn = "example.com"};
	const char *ecl[1] = {"example"};
	const char *sdns[1] = {"httpbin.example.com"}, *cdns[1] = {"client.example.com"};
	struct mc_issue_options so = {.spiffe = "spiffe://example.com/ns/istio-system/sa/httpbin-credential",
				      .ttl_seconds = 86400, .key = MC_KEY_EC256, .key_set = true, .dns = sdns,
				      .n_dns = 1};
	struct mc_issue_options co = {.spiffe = "spiffe://example.com/ns/client/sa/client", .ttl_seconds = 86400,
				      .key = MC_KEY_EC256, .key_set = true, .dns = cdns, .n_dns = 1};
	char *crt = NULL, *key = NULL, *cacrt = NULL, *path;
	int rc;

	rc = mc_pki_init(cdir, ecl, 1, &cca, err, errlen);
	if (rc == 0)
		rc = mc_pki_issue(ca, &so, sd, err, errlen);
	if (rc == 0)
		rc = mc_pki_issue(ca, &co, cd, err, errlen);
	K.cred_root = mc_xasprintf("%s/root-cert.pem", cdir);
	K.client_chain = mc_xasprintf("%s/cert-chain.pem", cd);
	K.client_key = mc_xasprintf("%s/key.pem", cd);
	if (rc == 0) {
		path = mc_xasprintf("%s/cert-chain.pem", sd);
		rc = file_base64(path, &crt, err, errlen);
		free(path);
	}
	if (rc == 0) {
		path = mc_xasprintf("%s/key.pem", sd);
		rc = file_base64(path, &key, err, errlen);
		free(path);
	}
	if (rc == 0)
		rc = file_base64(K.cred_root, &cacrt, err, errlen);
	for (size_t i = 0; i < K.n_clusters && rc == 0; i++) {
		const char *args[] = {"apply", "-f", "-", NULL};
		struct mc_kube_result res = {0};
		char *m;

		if (!has_mutual(topo, K.clusters[i].name))
			continue;
		m = mc_xasprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %shttpbin-credential\n"
				 "  namespace: %s\n  labels:\n    %s: \"%s\"\ntype: Opaque\ndata:\n"
				 "  tls.crt: %s\n  tls.key: %s\n  ca.crt: %s\n",
				 ns_prefix(), gateway_ns(), MC_KUBE_RUN_LABEL, K.run_id, crt, key, cacrt);
		rc = mc_kube_call(K.k, K.clusters[i].context, args, m, &res, err, errlen);
		mc_kube_result_clear(&res);
		free(m);
	}
	free(crt);
	free(key);
	free(cacrt);
	free(cdir);
	free(ca);
	free(sd);
	free(cd);
	return rc;
}

static int
deploy(const cJSON *topo, char *err, size_t errlen)
{
	const cJSON *c;
	const char *base = getenv("TMPDIR");
	double timeout = K.o.rollout_timeout_s > 0 ? K.o.rollout_timeout_s : 300;
	int rc = 0;

	K.n_clusters = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(topo, "clusters")) {
		if (K.n_clusters == K.o.n_contexts)
			return mc_err(err, errlen, EINVAL,
				      "the topology has cluster %s but only %zu --context given (one per cluster, in order)",
				      c->valuestring, K.o.n_contexts);
		K.clusters[K.n_clusters].name = mc_xstrdup(c->valuestring);
		K.clusters[K.n_clusters].context = K.o.contexts[K.n_clusters];
		K.n_clusters++;
	}
	K.trust_domain = mc_xstrdup(jstr(topo, "trust_domain") != NULL ? jstr(topo, "trust_domain") : "cluster.local");
	K.dir = mc_xasprintf("%s/meshcheck-kube-%s", base != NULL && *base != '\0' ? base : "/tmp", K.run_id);
	if (mkdir(K.dir, 0700) < 0 && errno != EEXIST)
		return mc_err(err, errlen, errno, "%s: %s", K.dir, strerror(errno));
	K.attempted = true;
	/* Every cluster gets its objects first; then the rollouts are awaited, all clusters at once in effect. */
	for (size_t i = 0; i < K.n_clusters && rc == 0; i++) {
		const char *args[] = {"apply", "-f", "-", NULL};
		struct mc_kube_result res = {0};
		char *m = NULL;

		if ((rc = cluster_manifest(topo, K.clusters[i].name, K.run_id, &m, err, errlen)) < 0)
			break;
		rc = mc_kube_call(K.k, K.clusters[i].context, args, m, &res, err, errlen);
		mc_kube_result_clear(&res);
		free(m);
	}
	if (rc == 0)
		rc = make_credential(topo, err, errlen);
	if (rc < 0 || K.k->dry_run)
		return rc;
	for (size_t i = 0; i < K.n_clusters && rc == 0; i++) {
		char *nss[MAX_NAMESPACES];
		size_t n = cluster_namespaces(topo, K.clusters[i].name, nss, MAX_NAMESPACES);

		for (size_t j = 0; j < n; j++) {
			struct mc_rollout_opts ro = {.context = K.clusters[i].context, .namespace = nss[j],
						     .timeout_s = timeout, .want_sidecar = true};

			if (rc == 0)
				rc = mc_kube_rollout_wait(K.k, &ro, NULL, err, errlen);
			free(nss[j]);
		}
	}
	for (size_t i = 0; i < K.n_clusters && rc == 0; i++) {
		rc = discover_pods(i, err, errlen);
		discover_ingress(i);
	}
	if (rc == 0)
		rc = fetch_root(err, errlen);
	return rc;
}

/* ---- the target operations -------------------------------------------------- */

static int
kube_validate(const struct mc_suite_def *def, char *err, size_t errlen)
{
	/* The suite is checked as the local target would; whether it can run here is decided at up. */
	if (def->mesh != NULL && cJSON_GetObjectItemCaseSensitive(def->mesh, "topology") != NULL)
		return mc_mesh_validate(def, err, errlen);
	return 0;
}

static int
kube_init(struct mc_target *t, char *err, size_t errlen)
{
	if (!K.configured || K.k == NULL)
		return mc_err(err, errlen, EINVAL, "the kube target needs --context (see meshcheck run --help)");
	t->priv = mc_xcalloc(1, sizeof(struct kube_priv));
	return 0;
}

static int
kube_up(struct mc_target *t, const struct mc_suite_def *def, char *err, size_t errlen)
{
	static const char *const local_only[] = {"mtls", "stopped", "foreign_intermediate", "drop_authorization",
						 NULL};
	cJSON *topo = NULL;
	int rc;

	if (def->mesh == NULL || cJSON_GetObjectItemCaseSensitive(def->mesh, "topology") == NULL)
		return mc_err(err, errlen, ENOTSUP,
			      "suite %s runs on the local target only: its servers are processes meshcheck starts",
			      def->name);
	for (size_t i = 0; local_only[i] != NULL; i++)
		if (cJSON_GetObjectItemCaseSensitive(def->mesh, local_only[i]) != NULL)
			return mc_err(err, errlen, ENOTSUP,
				      "suite %s runs on the local target only: it breaks the mesh on purpose (mesh.%s)",
				      def->name, local_only[i]);
	if ((rc = mc_mesh_topology(def, &topo, err, errlen)) < 0)
		return rc;
	if (K.attempted) {
		bool same = cJSON_Compare(topo, K.topology, 1);

		cJSON_Delete(topo);
		if (!same)
			return mc_err(err, errlen, ENOTSUP,
				      "suite %s names another topology than the one deployed for this run", def->name);
		if (K.deploy_rc < 0)
			return mc_err(err, errlen, -K.deploy_rc, "%s", K.deploy_err);
		return 0;
	}
	K.run_id = mc_xstrdup(t->run_id);
	K.topology = topo;
	K.deploy_rc = deploy(topo, K.deploy_err, sizeof(K.deploy_err));
	K.deployed = K.deploy_rc == 0;
	if (K.deploy_rc < 0)
		return mc_err(err, errlen, -K.deploy_rc, "%s", K.deploy_err);
	return 0;
}

static const char *
keep_str(struct mc_target *t, char *s)
{
	struct kube_priv *p = t->priv;

	if (p->n_strs == sizeof(p->strs) / sizeof(p->strs[0])) {
		free(p->strs[0]);
		memmove(p->strs, p->strs + 1, (p->n_strs - 1) * sizeof(p->strs[0]));
		p->n_strs--;
	}
	p->strs[p->n_strs++] = s;
	return s;
}

static const cJSON *
workload_of(const char *name, const char *cluster)
{
	const cJSON *w;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(K.topology, "workloads"))
		if (jstr(w, "name") != NULL && strcmp(jstr(w, "name"), name) == 0 && jstr(w, "cluster") != NULL &&
		    strcmp(jstr(w, "cluster"), cluster) == 0)
			return w;
	return NULL;
}

static const struct kpod *
pod_of(const char *workload, size_t ci)
{
	for (size_t i = 0; i < K.n_pods; i++)
		if (K.pods[i].ci == ci && strcmp(K.pods[i].workload, workload) == 0)
			return &K.pods[i];
	return NULL;
}

static int
kube_endpoint(struct mc_target *t, const char *name, struct mc_endpoint *out, char *err, size_t errlen)
{
	char w[128], c[64], q[64] = "";
	const char *at = strchr(name, '@'), *colon;
	int ci;

	memset(out, 0, sizeof(*out));
	if (at == NULL || at == name || (size_t)(at - name) >= sizeof(w))
		return mc_err(err, errlen, EINVAL, "\"%s\": expected a server as name@cluster", name);
	snprintf(w, sizeof(w), "%.*s", (int)(at - name), name);
	colon = strchr(at + 1, ':');
	snprintf(c, sizeof(c), "%.*s", colon != NULL ? (int)(colon - at - 1) : (int)strlen(at + 1), at + 1);
	if (colon != NULL)
		snprintf(q, sizeof(q), "%s", colon + 1);
	if ((ci = cluster_index(c)) < 0)
		return mc_err(err, errlen, ENOENT, "\"%s\": no cluster %s in this run", name, c);
	out->name = name;
	out->cluster = K.clusters[ci].name;
	out->root = K.root_path;
	if (strcmp(w, "ingress") == 0) {
		const cJSON *g, *l;
		bool tls = false;

		if (K.clusters[ci].ingress_host == NULL)
			return mc_err(err, errlen, ENOENT,
				      "\"%s\": the ingress gateway of %s (%s/istio-ingressgateway) has no external "
				      "address; give --ingress %s=HOST:PORT",
				      name, K.clusters[ci].context, gateway_ns(), c);
		cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(K.topology, "gateways")) {
			if (jstr(g, "kind") == NULL || strcmp(jstr(g, "kind"), "ingress") != 0 ||
			    jstr(g, "cluster") == NULL || strcmp(jstr(g, "cluster"), c) != 0)
				continue;
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(g, "listeners"))
				if (q[0] != '\0' && jstr(l, "name") != NULL && strcmp(jstr(l, "name"), q) == 0) {
					tls = jstr(l, "tls") != NULL;
					out->sni = jstr(l, "server_name");
					if (tls && strcmp(jstr(l, "tls"), "MUTUAL") == 0) {
						/* The gateway's own CA, and a client certificate of it. */
						out->root = K.cred_root;
						out->client_cert = K.client_chain;
						out->client_key = K.client_key;
					}
				}
		}
		out->host = K.clusters[ci].ingress_host;
		out->port = tls ? K.clusters[ci].ingress_https : K.clusters[ci].ingress_http;
		out->plaintext = !tls;
		return 0;
	}
	{
		const cJSON *wl = workload_of(w, c);
		const struct kpod *p;
		const cJSON *port;

		if (wl == NULL)
			return mc_err(err, errlen, ENOENT, "\"%s\": no workload %s in cluster %s of the topology", name, w, c);
		if ((p = pod_of(w, (size_t)ci)) == NULL)
			return mc_err(err, errlen, ENOENT, "\"%s\": no running pod of %s in %s", name, w,
				      K.clusters[ci].context);
		if (q[0] != '\0' && strcmp(q, "outbound") != 0)
			return mc_err(err, errlen, ENOTSUP, "\"%s\": the kube target has no \"%s\" endpoint", name, q);
		port = cJSON_GetObjectItemCaseSensitive(wl, "port");
		out->spiffe = keep_str(t, mc_xasprintf("spiffe://%s/ns/%s/sa/%s", K.trust_domain, p->ns,
						       jstr(wl, "service_account") != NULL ? jstr(wl, "service_account")
											     : "default"));
		/* The app answers on the pod's address; the request leaves from the pod itself. */
		out->plaintext = true;
		out->host = p->ip[0] != '\0' ? p->ip : "127.0.0.1";
		/* The pod's own port: a Service may map its port to another (httpbin: 8000 to 8080). */
		out->port = p->port > 0 ? p->port : cJSON_IsNumber(port) ? port->valueint : 80;
		out->via = q[0] != '\0' ? p->via : p->via_local;
		return 0;
	}
}

/* The namespace prefix put in front of "svc.ns" in a URL's host, as the topology names services. */
static char *
prefixed_url(const char *url)
{
	const char *h = strstr(url, "://"), *end, *dot;
	const cJSON *s;

	if (h == NULL)
		return mc_xstrdup(url);
	h += 3;
	end = h + strcspn(h, ":/?#");
	dot = memchr(h, '.', (size_t)(end - h));
	if (dot == NULL)
		return mc_xstrdup(url);
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(K.topology, "services")) {
		const char *n = jstr(s, "name"), *ns = jstr(s, "namespace");
		size_t nl = n != NULL ? strlen(n) : 0, nsl = ns != NULL ? strlen(ns) : 0;

		if (n == NULL || ns == NULL || (size_t)(dot - h) != nl || strncmp(h, n, nl) != 0 ||
		    strncmp(dot + 1, ns, nsl) != 0 || (dot + 1 + nsl != end && dot[1 + nsl] != '.'))
			continue;
		return mc_xasprintf("%.*s%s%s", (int)(dot + 1 - url), url, ns_prefix(), dot + 1);
	}
	return mc_xstrdup(url);
}

static int
kube_send(struct mc_target *t, const struct mc_endpoint *ep, const struct mc_probe_spec *spec, size_t count,
	  struct mc_probe_result *res, char *err, size_t errlen)
{
	char ns[256], pod[256], ctr[128], mode[16];
	unsigned long ci;
	struct mc_probe_spec s = *spec;
	struct mc_pod_ref ref;
	char *url = NULL;
	int rc;

	(void)t;
	if (ep->via == NULL || sscanf(ep->via, "%lu/%255[^/]/%255[^/]/%127[^/]/%15s", &ci, ns, pod, ctr, mode) != 5 ||
	    ci >= K.n_clusters)
		return mc_err(err, errlen, EINVAL, "%s: not an endpoint of the kube target", ep->name);
	ref.context = K.clusters[ci].context;
	ref.ns = ns;
	ref.pod = pod;
	ref.container = ctr;
	/* In the pod, names resolve through the cluster's DNS and the sidecar: no address override. */
	if (strcmp(mode, "outbound") == 0) {
		url = prefixed_url(spec->url);
		s.url = url;
		s.connect_to = NULL;
	}
	s.cacert = NULL;
	s.cert = NULL;
	s.key = NULL;
	rc = mc_podcurl_run(K.k, &ref, &s, count, res, err, errlen);
	free(url);
	return rc;
}

/* The pod behind an endpoint kube_endpoint handed out (a workload's), or NULL. */
static const struct kpod *
pod_of_endpoint(const struct mc_endpoint *ep)
{
	for (size_t i = 0; ep->via != NULL && i < K.n_pods; i++)
		if (ep->via == K.pods[i].via || ep->via == K.pods[i].via_local)
			return &K.pods[i];
	return NULL;
}

static int
kube_chain(struct mc_target *t, const char *server, char **chain_pem, char **root_pem, char *err, size_t errlen)
{
	struct mc_endpoint ep;
	const struct kpod *p = NULL;
	int rc;

	*chain_pem = NULL;
	*root_pem = NULL;
	if ((rc = kube_endpoint(t, server, &ep, err, errlen)) < 0)
		return rc;
	if ((p = pod_of_endpoint(&ep)) == NULL)
		return mc_err(err, errlen, ENOTSUP, "%s: the kube target reads chains of workloads only", server);
	{
		struct mc_kube_chain kc;

		memset(&kc, 0, sizeof(kc));
		rc = mc_kube_workload_chain(K.k, K.clusters[p->ci].context, p->ns, p->name, &kc, err, errlen);
		if (rc == 0 && !kc.have_pem)
			rc = mc_err(err, errlen, ENOTSUP, "%s: %s", server, kc.note);
		else if (rc == MC_KUBE_CHAIN_DRY_RUN)
			rc = mc_err(err, errlen, ENOTSUP, "%s: dry run", server);
		if (rc == 0) {
			*chain_pem = kc.chain_pem;
			*root_pem = kc.root_pem;
			kc.chain_pem = NULL;
			kc.root_pem = NULL;
		}
		mc_kube_chain_clear(&kc);
		return rc;
	}
}

static int
kube_capture_start(struct mc_target *t, const char *const *servers, size_t n, const char *dir, void **handle,
		   char *err, size_t errlen)
{
	struct mc_buf filter;
	const struct kpod *first = NULL;
	struct mc_kube_capture *cap = NULL;
	int rc = 0;

	*handle = NULL;
	if (!K.o.capture_allowed)
		return mc_err(err, errlen, EPERM, "capture not permitted: preflight found the capture pod may not be "
						  "created (see the preflight lines)");
	mc_buf_init(&filter, 0);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct mc_endpoint ep;
		const struct kpod *p;

		if ((rc = kube_endpoint(t, servers[i], &ep, err, errlen)) < 0)
			break;
		if ((p = pod_of_endpoint(&ep)) == NULL || p->ip[0] == '\0') {
			rc = mc_err(err, errlen, ENOTSUP, "%s: captures follow workloads only", servers[i]);
			break;
		}
		if (first == NULL)
			first = p;
		else if (p->ci != first->ci || strcmp(p->node, first->node) != 0) {
			rc = mc_err(err, errlen, ENOTSUP, "%s: captured servers must share one node (%s)", servers[i],
				    first->node);
			break;
		}
		mc_buf_printf(&filter, "%s(host %s and tcp port %d)", filter.len > 0 ? " or " : "", p->ip, ep.port);
	}
	if (rc == 0 && first == NULL)
		rc = mc_err(err, errlen, EINVAL, "no server to capture");
	if (rc == 0) {
		struct mc_kube_capture_opts o = {
			.context = K.clusters[first->ci].context,
			.ns = first->ns,
			.node = first->node,
			.image = K.o.capture_image,
			.run_id = K.run_id,
			.filter = filter.data,
			.dir = dir,
		};

		rc = mc_kube_capture_start(K.k, &o, &cap, err, errlen);
		if (rc == 0)
			*handle = cap;
	}
	mc_buf_free(&filter);
	return rc;
}

static int
kube_capture_stop(struct mc_target *t, void *handle, struct mc_wire *w, char **pcap, char *err, size_t errlen)
{
	int rc;

	(void)t;
	rc = mc_kube_capture_stop(handle, w, pcap, err, errlen);
	mc_kube_capture_free(handle);
	return rc;
}

/* The rendered mesh config a case names, as one manifest. */
static int
case_manifest(const struct mc_case_def *cd, char **out, char *err, size_t errlen)
{
	struct mc_buf b;
	const cJSON *f;
	int rc = 0;

	mc_buf_init(&b, 0);
	cJSON_ArrayForEach(f, cd->mesh_config) {
		char *r = NULL;

		if ((rc = read_rendered("mesh", f->valuestring, K.run_id, &r, err, errlen)) < 0)
			break;
		mc_buf_printf(&b, "%s%s", b.len > 0 ? "---\n" : "", r);
		free(r);
	}
	if (rc < 0) {
		mc_buf_free(&b);
		return rc;
	}
	*out = mc_buf_steal(&b);
	return 0;
}

static int
kube_case_begin(struct mc_target *t, const struct mc_case_def *cd, char *err, size_t errlen)
{
	struct kube_priv *p = t->priv;
	const char *args[] = {"apply", "-f", "-", NULL};
	char *m = NULL;
	int rc;

	if (cd->mesh_config == NULL || cJSON_GetArraySize(cd->mesh_config) == 0)
		return 0;
	if ((rc = case_manifest(cd, &m, err, errlen)) < 0)
		return rc;
	for (size_t i = 0; i < K.n_clusters && rc == 0; i++) {
		struct mc_kube_result res = {0};

		rc = mc_kube_call(K.k, K.clusters[i].context, args, m, &res, err, errlen);
		mc_kube_result_clear(&res);
	}
	p->applied[p->n_applied++] = m;
	/* Istio pushes config to the proxies within a second or two; the case waits for it. */
	if (rc == 0 && !K.k->dry_run)
		sleep(3);
	return rc;
}

static void
kube_case_end(struct mc_target *t, const struct mc_case_def *cd)
{
	struct kube_priv *p = t->priv;
	const char *args[] = {"delete", "-f", "-", "--ignore-not-found", "--wait=false", NULL};
	char err[MC_ERRLEN];

	(void)cd;
	for (size_t j = 0; j < p->n_applied; j++) {
		for (size_t i = 0; i < K.n_clusters; i++) {
			struct mc_kube_result res = {0};

			(void)mc_kube_call(K.k, K.clusters[i].context, args, p->applied[j], &res, err, sizeof(err));
			mc_kube_result_clear(&res);
		}
		free(p->applied[j]);
	}
	p->n_applied = 0;
}

static const char *
kube_mesh_root(struct mc_target *t)
{
	(void)t;
	return K.root_path;
}

static void
kube_down(struct mc_target *t)
{
	struct kube_priv *p = t->priv;

	if (p == NULL)
		return;
	if (p->n_applied > 0)
		kube_case_end(t, NULL);
}

static void
kube_free_priv(struct mc_target *t)
{
	struct kube_priv *p = t->priv;

	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_strs; i++)
		free(p->strs[i]);
	free(p);
	t->priv = NULL;
}

int
mc_target_kube_finish(FILE *report, char *err, size_t errlen)
{
	int rc = 0;

	if (K.attempted && !K.o.keep && K.k != NULL && K.run_id != NULL) {
		struct mc_clean_opts co = {.contexts = K.o.contexts, .n_contexts = K.o.n_contexts, .run_id = K.run_id,
					   .report = report};
		struct mc_clean_stats st = {0};

		rc = mc_kube_clean(K.k, &co, &st, err, errlen);
	}
	for (size_t i = 0; i < K.n_pods; i++)
		pod_clear(&K.pods[i]);
	for (size_t i = 0; i < K.n_clusters; i++) {
		free(K.clusters[i].name);
		free(K.clusters[i].ingress_host);
	}
	if (K.dir != NULL)
		mc_rm_rf(K.dir);
	free(K.dir);
	free(K.root_path);
	free(K.cred_root);
	free(K.client_chain);
	free(K.client_key);
	free(K.run_id);
	free(K.trust_domain);
	cJSON_Delete(K.topology);
	{
		const struct mc_kube *k = K.k;
		struct mc_kube_target_opts o = K.o;
		bool configured = K.configured;

		memset(&K, 0, sizeof(K));
		K.k = k;
		K.o = o;
		K.configured = configured;
	}
	return rc;
}

const struct mc_target_ops mc_target_kube = {
	.name = "kube",
	.summary = "real clusters through kubectl (--context per cluster)",
	.validate = kube_validate,
	.init = kube_init,
	.up = kube_up,
	.endpoint = kube_endpoint,
	.mesh_root = kube_mesh_root,
	.logs = NULL,
	.down = kube_down,
	.free_priv = kube_free_priv,
	.send = kube_send,
	.chain = kube_chain,
	.capture_start = kube_capture_start,
	.capture_stop = kube_capture_stop,
	.case_begin = kube_case_begin,
	.case_end = kube_case_end,
};
