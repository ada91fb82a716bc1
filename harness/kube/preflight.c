/*
 * Preflight of the kube target. Reads only: every call here is a get,
 * version, auth can-i or istioctl remote-clusters.
 */
#include "preflight.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "util.h"

static const char *const state_words[] = {
	[MC_FINDING_OK] = "ok",
	[MC_FINDING_WARN] = "warn",
	[MC_FINDING_SKIP] = "skip",
	[MC_FINDING_FAIL] = "FAIL",
};

static void add(struct mc_preflight *p, enum mc_finding_state st, int code, const char *context,
		const char *check, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
add(struct mc_preflight *p, enum mc_finding_state st, int code, const char *context,
    const char *check, const char *fmt, ...)
{
	struct mc_finding *fi;
	va_list ap;

	p->findings = mc_xrealloc(p->findings, (p->n_findings + 1) * sizeof(*p->findings));
	fi = &p->findings[p->n_findings++];
	memset(fi, 0, sizeof(*fi));
	fi->state = st;
	fi->code = st == MC_FINDING_FAIL ? (code != 0 ? code : -EIO) : 0;
	fi->context = mc_xstrdup(context);
	fi->check = mc_xstrdup(check);
	va_start(ap, fmt);
	fi->detail = mc_xvasprintf(fmt, ap);
	va_end(ap);
	if (st == MC_FINDING_FAIL)
		p->n_failed++;
}

/*
 * A kubectl error message carries "<context>: <command>: " in front; the
 * finding already names the context and the check, so keep kubectl's words.
 */
static const char *
kubectl_words(const char *msg, const char *context)
{
	size_t cl = strlen(context);
	const char *p;

	if (strncmp(msg, context, cl) != 0 || strncmp(msg + cl, ": ", 2) != 0)
		return msg;
	p = strstr(msg + cl + 2, ": ");
	return p != NULL ? p + 2 : msg;
}

char *
mc_kube_image_tag(const char *image)
{
	const char *slash, *colon;

	if (image == NULL || strchr(image, '@') != NULL)
		return NULL;
	/* The tag follows the last ':' after the last '/' (a registry may carry a port). */
	slash = strrchr(image, '/');
	colon = strrchr(slash != NULL ? slash : image, ':');
	if (colon == NULL || colon[1] == '\0')
		return NULL;
	return mc_xstrdup(colon + 1);
}

static void
add_revision(struct mc_kube_cluster *c, const char *rev)
{
	for (size_t i = 0; i < c->n_revisions; i++)
		if (strcmp(c->revisions[i], rev) == 0)
			return;
	c->revisions = mc_xrealloc(c->revisions, (c->n_revisions + 1) * sizeof(*c->revisions));
	c->revisions[c->n_revisions++] = mc_xstrdup(rev);
}

static char *
join_revisions(const struct mc_kube_cluster *c)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	for (size_t i = 0; i < c->n_revisions; i++)
		mc_buf_printf(&b, "%s%s", i > 0 ? ", " : "", c->revisions[i]);
	if (b.len == 0)
		mc_buf_puts(&b, "none");
	return mc_buf_steal(&b);
}

static bool
check_reachable(const struct mc_kube *k, struct mc_preflight *p, struct mc_kube_cluster *c)
{
	static const char *const args[] = { "version", "-o", "json", NULL };
	char err[MC_ERRLEN];
	cJSON *doc = NULL;
	const char *v;
	int rc;

	rc = mc_kube_json(k, c->context, args, &doc, err, sizeof(err));
	if (rc != 0) {
		add(p, MC_FINDING_FAIL, rc, c->context, "reachable", "%s", kubectl_words(err, c->context));
		return false;
	}
	v = mc_kube_str(doc, "serverVersion.gitVersion");
	if (v == NULL) {
		add(p, MC_FINDING_FAIL, -EPROTO, c->context, "reachable",
		    "`kubectl version -o json` gave no serverVersion");
		cJSON_Delete(doc);
		return false;
	}
	c->reachable = true;
	c->server_version = mc_xstrdup(v);
	add(p, MC_FINDING_OK, 0, c->context, "reachable", "Kubernetes %s", v);
	cJSON_Delete(doc);
	return true;
}

/* A revision tag (istioctl tag set) is a MutatingWebhookConfiguration labelled istio.io/tag=TAG. */
static const char *
tag_target(const struct mc_kube *k, const char *context, const char *tag, cJSON **doc,
	   char *err, size_t errlen)
{
	char *sel = mc_xasprintf("istio.io/tag=%s", tag);
	const char *args[] = { "get", "mutatingwebhookconfigurations", "-l", sel, "-o", "json", NULL };
	const cJSON *items, *it;
	int rc;

	rc = mc_kube_json(k, context, args, doc, err, errlen);
	free(sel);
	if (rc != 0)
		return NULL;
	items = mc_kube_items(*doc);
	cJSON_ArrayForEach(it, items) {
		const char *rev = mc_kube_obj_label(it, "istio.io/rev");

		if (rev != NULL)
			return rev;
	}
	return NULL;
}

static void
check_istiod(const struct mc_kube *k, struct mc_preflight *p, struct mc_kube_cluster *c,
	     const char *want)
{
	static const char *const args[] = {
		"get", "deployments", "-n", "istio-system", "-l", "app=istiod", "-o", "json", NULL,
	};
	struct { char *name, *rev, *version; long ready, replicas; } *ds = NULL;
	size_t n = 0, n_ready = 0;
	const char *target = want;
	char err[MC_ERRLEN];
	cJSON *doc = NULL, *tags = NULL;
	const cJSON *it;
	char *revs;
	int rc;

	rc = mc_kube_json(k, c->context, args, &doc, err, sizeof(err));
	if (rc != 0) {
		add(p, MC_FINDING_FAIL, rc, c->context, "istiod", "%s", kubectl_words(err, c->context));
		return;
	}
	cJSON_ArrayForEach(it, mc_kube_items(doc)) {
		const cJSON *cs = mc_kube_at(it, "spec.template.spec.containers"), *ct;
		const char *image = NULL, *rev = mc_kube_obj_label(it, "istio.io/rev");
		const cJSON *ready = mc_kube_at(it, "status.readyReplicas");
		const cJSON *repl = mc_kube_at(it, "spec.replicas");

		cJSON_ArrayForEach(ct, cs) {
			const char *name = mc_kube_str(ct, "name");

			if (image == NULL || (name != NULL && strcmp(name, "discovery") == 0))
				image = mc_kube_str(ct, "image");
		}
		ds = mc_xrealloc(ds, (n + 1) * sizeof(*ds));
		ds[n].name = mc_xstrdup(mc_kube_obj_name(it));
		ds[n].rev = mc_xstrdup(rev != NULL ? rev : "default");
		ds[n].version = mc_kube_image_tag(image);
		ds[n].ready = cJSON_IsNumber(ready) ? (long)ready->valuedouble : 0;
		ds[n].replicas = cJSON_IsNumber(repl) ? (long)repl->valuedouble : 1;
		if (ds[n].ready > 0)
			n_ready++;
		add_revision(c, ds[n].rev);
		n++;
	}
	cJSON_Delete(doc);
	if (n == 0) {
		add(p, MC_FINDING_FAIL, -ENOENT, c->context, "istiod",
		    "no istiod Deployment in istio-system (label app=istiod): Istio is not installed in this cluster");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (ds[i].ready > 0)
			add(p, MC_FINDING_OK, 0, c->context, "istiod", "%s ready (%ld/%ld), Istio %s, revision %s",
			    ds[i].name, ds[i].ready, ds[i].replicas,
			    ds[i].version != NULL ? ds[i].version : "of unknown version", ds[i].rev);
		else
			add(p, n_ready > 0 ? MC_FINDING_WARN : MC_FINDING_FAIL, -EAGAIN, c->context, "istiod",
			    "%s not ready (0/%ld replicas), revision %s", ds[i].name, ds[i].replicas, ds[i].rev);
	}

	/* The revision the run injects with: a revision, or a tag pointing at one. */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ds[i].rev, want) == 0) {
			c->revision = mc_xstrdup(want);
			c->istio_version = mc_xstrdup(ds[i].version);
			add(p, MC_FINDING_OK, 0, c->context, "revision", "%s: %s (Istio %s)", want, ds[i].name,
			    ds[i].version != NULL ? ds[i].version : "?");
			goto out;
		}
	}
	target = tag_target(k, c->context, want, &tags, err, sizeof(err));
	revs = join_revisions(c);
	if (target == NULL) {
		add(p, MC_FINDING_FAIL, -ENOENT, c->context, "revision",
		    "%s: no istiod with istio.io/rev=%s and no revision tag %s (revisions here: %s)%s",
		    want, want, want, revs,
		    strcmp(want, "default") == 0 ? "; pass --revision to inject with one of them" : "");
	} else {
		size_t i;

		for (i = 0; i < n && strcmp(ds[i].rev, target) != 0; i++)
			;
		if (i == n) {
			add(p, MC_FINDING_FAIL, -ENOENT, c->context, "revision",
			    "%s: tag points at revision %s, which has no istiod (revisions here: %s)",
			    want, target, revs);
		} else {
			c->revision = mc_xstrdup(want);
			c->istio_version = mc_xstrdup(ds[i].version);
			add(p, MC_FINDING_OK, 0, c->context, "revision", "%s: tag for revision %s, %s (Istio %s)",
			    want, target, ds[i].name, ds[i].version != NULL ? ds[i].version : "?");
		}
	}
	free(revs);
out:
	cJSON_Delete(tags);
	for (size_t i = 0; i < n; i++) {
		free(ds[i].name);
		free(ds[i].rev);
		free(ds[i].version);
	}
	free(ds);
}

static void
check_root(const struct mc_kube *k, struct mc_preflight *p, struct mc_kube_cluster *c)
{
	static const char *const args[] = {
		"get", "configmap", "istio-ca-root-cert", "-n", "istio-system", "-o", "json", NULL,
	};
	struct mc_chain *chain = NULL;
	char err[MC_ERRLEN], *where;
	cJSON *doc = NULL;
	const cJSON *data;
	const char *pem;
	int rc;

	rc = mc_kube_json(k, c->context, args, &doc, err, sizeof(err));
	if (rc == -ENOENT) {
		add(p, MC_FINDING_FAIL, rc, c->context, "root",
		    "ConfigMap istio-system/istio-ca-root-cert not found (istiod publishes the mesh root there)");
		return;
	}
	if (rc != 0) {
		add(p, MC_FINDING_FAIL, rc, c->context, "root", "%s", kubectl_words(err, c->context));
		return;
	}
	/* The key holds a dot, so it is read directly rather than by path. */
	data = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "data"), "root-cert.pem");
	pem = cJSON_IsString(data) ? data->valuestring : NULL;
	if (pem == NULL) {
		add(p, MC_FINDING_FAIL, -ENOENT, c->context, "root",
		    "ConfigMap istio-system/istio-ca-root-cert has no key root-cert.pem");
		goto out;
	}
	where = mc_xasprintf("%s: istio-system/istio-ca-root-cert root-cert.pem", c->context);
	rc = mc_chain_parse_pem(pem, strlen(pem), where, &chain, err, sizeof(err));
	free(where);
	if (rc != 0) {
		add(p, MC_FINDING_FAIL, rc, c->context, "root", "%s", err);
		goto out;
	}
	for (size_t i = 0; i < mc_chain_count(chain); i++) {
		struct mc_cert_info info;

		if (mc_cert_info_get(chain, i, &info, err, sizeof(err)) != 0)
			continue;
		c->root_fingerprints = mc_xrealloc(c->root_fingerprints,
						   (c->n_roots + 1) * sizeof(*c->root_fingerprints));
		c->root_fingerprints[c->n_roots++] = mc_xstrdup(info.fingerprint);
		if (c->root_subject == NULL)
			c->root_subject = mc_xstrdup(info.subject);
		mc_cert_info_clear(&info);
	}
	if (c->n_roots == 0)
		add(p, MC_FINDING_FAIL, -EPROTO, c->context, "root", "root-cert.pem holds no readable certificate");
	else
		add(p, MC_FINDING_OK, 0, c->context, "root", "%s, SHA-256 %s%s", c->root_subject,
		    c->root_fingerprints[0], c->n_roots > 1 ? " (and more roots)" : "");
out:
	mc_chain_free(chain);
	cJSON_Delete(doc);
}

/*
 * `istioctl remote-clusters`:
 *   NAME         SECRET                                        STATUS     ISTIOD
 *   cluster1                                                   synced     istiod-...
 *   cluster2     istio-system/istio-remote-secret-cluster2     synced     istiod-...
 * The local cluster's row has no secret, so it has one column less.
 */
static void
check_remote_secrets(const struct mc_kube *k, struct mc_preflight *p, struct mc_kube_cluster *c,
		     size_t n_contexts)
{
	static const char *const args[] = { "remote-clusters", NULL };
	struct mc_kube_result res;
	char err[MC_ERRLEN];
	struct mc_buf bad;
	size_t remote = 0, rows = 0;
	bool header = false;
	char *line, *save = NULL;
	int rc;

	if (k->istioctl == NULL) {
		add(p, MC_FINDING_SKIP, 0, c->context, "remote secrets", "istioctl is not on PATH; not checked");
		return;
	}
	rc = mc_istioctl_call(k, c->context, args, &res, err, sizeof(err));
	if (rc != 0) {
		add(p, MC_FINDING_FAIL, rc, c->context, "remote secrets", "%s", kubectl_words(err, c->context));
		mc_kube_result_clear(&res);
		return;
	}
	mc_buf_init(&bad, 4096);
	for (line = strtok_r(res.out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char f[4][256];
		int nf = sscanf(line, "%255s %255s %255s %255s", f[0], f[1], f[2], f[3]);
		const char *name = f[0], *status;

		if (nf >= 2 && strcmp(f[0], "NAME") == 0 && strcmp(f[1], "SECRET") == 0) {
			header = true;
			continue;
		}
		if (nf < 3)
			continue;
		rows++;
		if (nf == 4) {
			remote++;
			status = f[2];
		} else {
			status = f[1];
		}
		if (strcmp(status, "synced") != 0)
			mc_buf_printf(&bad, "%s%s is %s", bad.len > 0 ? ", " : "", name, status);
	}
	if (!header)
		add(p, MC_FINDING_WARN, 0, c->context, "remote secrets",
		    "cannot read `istioctl remote-clusters` output (no NAME SECRET header)");
	else if (bad.len > 0)
		add(p, MC_FINDING_FAIL, -EPROTO, c->context, "remote secrets", "not synced: %s", bad.data);
	else if (remote + 1 < n_contexts)
		add(p, MC_FINDING_FAIL, -ENOENT, c->context, "remote secrets",
		    "%zu remote secret(s) for %zu clusters (create them with istioctl create-remote-secret)",
		    remote, n_contexts);
	else
		add(p, MC_FINDING_OK, 0, c->context, "remote secrets", "%zu cluster(s) known, all synced", rows);
	mc_buf_free(&bad);
	mc_kube_result_clear(&res);
}

/* `kubectl auth can-i`: exit 0 and "yes", or exit 1 and "no"; anything else is an error. */
static int
can_i(const struct mc_kube *k, const char *context, const char *const *args, bool *allowed,
      char *err, size_t errlen)
{
	struct mc_kube_result res;
	int rc = mc_kube_exec(k, context, args, NULL, &res, err, errlen);

	if (rc == 0) {
		if (res.status == 0 && strncmp(res.out, "yes", 3) == 0) {
			*allowed = true;
		} else if (res.status == 1 && strncmp(res.out, "no", 2) == 0) {
			*allowed = false;
		} else {
			char line[512], *cmd = mc_kube_render("kubectl", NULL, NULL, args);

			mc_kube_error_line(res.err, line, sizeof(line));
			rc = mc_err(err, errlen, -mc_kube_classify(res.err), "%s: %s: %s", context, cmd,
				    line[0] != '\0' ? line : "neither yes nor no");
			free(cmd);
		}
	}
	mc_kube_result_clear(&res);
	return rc;
}

static void
check_permissions(const struct mc_kube *k, struct mc_preflight *p, struct mc_kube_cluster *c,
		  bool capture)
{
	static const struct {
		const char *what;
		const char *why;
		const char *const args[8];
	} need[] = {
		{ "create namespaces", "each run creates its own namespaces",
		  { "auth", "can-i", "create", "namespaces", NULL } },
		{ "create deployments", "the fixtures are Deployments",
		  { "auth", "can-i", "create", "deployments.apps", "--all-namespaces", NULL } },
		{ "create pods/exec", "in-mesh requests run curl in the sleep pod",
		  { "auth", "can-i", "create", "pods", "--subresource=exec", "--all-namespaces", NULL } },
	};
	static const char *const pod_args[] = {
		"auth", "can-i", "create", "pods", "--all-namespaces", NULL,
	};
	struct mc_buf denied;
	char err[MC_ERRLEN];
	bool allowed = false;
	int rc;

	mc_buf_init(&denied, 4096);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		rc = can_i(k, c->context, need[i].args, &allowed, err, sizeof(err));
		if (rc != 0) {
			add(p, MC_FINDING_FAIL, rc, c->context, "permissions", "%s",
			    kubectl_words(err, c->context));
			mc_buf_free(&denied);
			return;
		}
		if (!allowed)
			mc_buf_printf(&denied, "%smay not %s (%s)", denied.len > 0 ? "; " : "",
				      need[i].what, need[i].why);
	}
	if (denied.len > 0)
		add(p, MC_FINDING_FAIL, -EACCES, c->context, "permissions", "%s", denied.data);
	else
		add(p, MC_FINDING_OK, 0, c->context, "permissions",
		    "may create namespaces, deployments and pods/exec");
	mc_buf_free(&denied);

	if (!capture) {
		c->capture_allowed = false;
		return;
	}
	/*
	 * The capture pod is privileged and on the host network. RBAC can only
	 * say whether pods may be created; whether a privileged pod is admitted
	 * is Pod Security's decision, made on the capture namespace's labels,
	 * which meshcheck sets when it creates that namespace.
	 */
	rc = can_i(k, c->context, pod_args, &allowed, err, sizeof(err));
	if (rc != 0) {
		add(p, MC_FINDING_WARN, 0, c->context, "capture", "%s; wire cases will be skipped",
		    kubectl_words(err, c->context));
		return;
	}
	c->capture_allowed = allowed;
	if (allowed)
		add(p, MC_FINDING_OK, 0, c->context, "capture",
		    "may create pods (the privileged host-network capture pod runs in a namespace labelled pod-security.kubernetes.io/enforce=privileged)");
	else
		add(p, MC_FINDING_WARN, 0, c->context, "capture",
		    "may not create pods: wire cases (node captures) will be skipped");
}

static void
check_shared_root(struct mc_preflight *p)
{
	const struct mc_kube_cluster *first = NULL;
	size_t with_root = 0;
	struct mc_buf b;

	for (size_t i = 0; i < p->n_clusters; i++) {
		if (p->clusters[i].n_roots > 0) {
			with_root++;
			if (first == NULL)
				first = &p->clusters[i];
		}
	}
	if (with_root < 2 || with_root < p->n_clusters)
		return;        /* a missing root is already a failure of its own */
	/* A fingerprint of the first cluster that every other cluster also trusts. */
	for (size_t r = 0; r < first->n_roots; r++) {
		const char *fp = first->root_fingerprints[r];
		bool everywhere = true;

		for (size_t i = 0; i < p->n_clusters && everywhere; i++) {
			bool found = false;

			for (size_t j = 0; j < p->clusters[i].n_roots && !found; j++)
				found = strcmp(p->clusters[i].root_fingerprints[j], fp) == 0;
			everywhere = found;
		}
		if (everywhere) {
			p->shared_root = mc_xstrdup(fp);
			add(p, MC_FINDING_OK, 0, NULL, "shared root", "all %zu clusters trust %s (SHA-256 %s)",
			    p->n_clusters, first->root_subject, fp);
			return;
		}
	}
	mc_buf_init(&b, 0);
	for (size_t i = 0; i < p->n_clusters; i++)
		mc_buf_printf(&b, "%s%s has %s (SHA-256 %s)", i > 0 ? ", " : "", p->clusters[i].context,
			      p->clusters[i].root_subject, p->clusters[i].root_fingerprints[0]);
	add(p, MC_FINDING_FAIL, -EPROTO, NULL, "shared root",
	    "the clusters do not share a root: %s; plug in one root (meshcheck certs init, cacerts)", b.data);
	mc_buf_free(&b);
}

int
mc_preflight_run(const struct mc_kube *k, const struct mc_preflight_opts *opts,
		 struct mc_preflight **out, char *err, size_t errlen)
{
	const char *want = opts->revision != NULL ? opts->revision : "default";
	struct mc_preflight *p = mc_xcalloc(1, sizeof(*p));

	*out = p;
	if (opts->n_contexts == 0)
		return mc_err(err, errlen, EINVAL, "the kube target needs at least one --context");
	p->clusters = mc_xcalloc(opts->n_contexts, sizeof(*p->clusters));
	p->n_clusters = opts->n_contexts;
	p->capture_allowed = opts->capture;
	for (size_t i = 0; i < opts->n_contexts; i++) {
		struct mc_kube_cluster *c = &p->clusters[i];

		c->context = mc_xstrdup(opts->contexts[i]);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(opts->contexts[j], c->context) == 0) {
				add(p, MC_FINDING_FAIL, -EINVAL, c->context, "reachable",
				    "context given twice: each --context must name a different cluster");
				break;
			}
		}
		/* An unreachable cluster answers nothing else: one finding says why. */
		if (!check_reachable(k, p, c))
			continue;
		check_istiod(k, p, c, want);
		check_root(k, p, c);
		if (opts->n_contexts > 1)
			check_remote_secrets(k, p, c, opts->n_contexts);
		check_permissions(k, p, c, opts->capture);
		if (!c->capture_allowed)
			p->capture_allowed = false;
	}
	check_shared_root(p);
	if (p->n_failed > 0) {
		for (size_t i = 0; i < p->n_findings; i++) {
			if (p->findings[i].state == MC_FINDING_FAIL) {
				char *line = mc_finding_line(&p->findings[i]);
				int rc = mc_err(err, errlen, -p->findings[i].code,
						"preflight failed: %zu problem%s; first: %s", p->n_failed,
						p->n_failed == 1 ? "" : "s", line);

				free(line);
				return rc;
			}
		}
	}
	return 0;
}

char *
mc_finding_line(const struct mc_finding *fi)
{
	return mc_xasprintf("%-4s %s: %s: %s", state_words[fi->state],
			    fi->context != NULL ? fi->context : "all clusters", fi->check, fi->detail);
}

void
mc_preflight_print(const struct mc_preflight *p, FILE *f)
{
	for (size_t i = 0; i < p->n_findings; i++) {
		char *line = mc_finding_line(&p->findings[i]);

		fprintf(f, "%s\n", line);
		free(line);
	}
}

const struct mc_finding *
mc_preflight_find(const struct mc_preflight *p, const char *context, const char *check)
{
	for (size_t i = 0; i < p->n_findings; i++) {
		const struct mc_finding *fi = &p->findings[i];

		if (strcmp(fi->check, check) != 0)
			continue;
		if ((context == NULL) != (fi->context == NULL))
			continue;
		if (context == NULL || strcmp(context, fi->context) == 0)
			return fi;
	}
	return NULL;
}

void
mc_preflight_free(struct mc_preflight *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_findings; i++) {
		free(p->findings[i].context);
		free(p->findings[i].check);
		free(p->findings[i].detail);
	}
	for (size_t i = 0; i < p->n_clusters; i++) {
		struct mc_kube_cluster *c = &p->clusters[i];

		free(c->context);
		free(c->server_version);
		free(c->istio_version);
		free(c->revision);
		for (size_t j = 0; j < c->n_revisions; j++)
			free(c->revisions[j]);
		free(c->revisions);
		for (size_t j = 0; j < c->n_roots; j++)
			free(c->root_fingerprints[j]);
		free(c->root_fingerprints);
		free(c->root_subject);
	}
	free(p->findings);
	free(p->clusters);
	free(p->shared_root);
	free(p);
}
