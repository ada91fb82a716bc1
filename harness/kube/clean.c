/*
 * Deleting by the run label, and by nothing else.
 */
#include "clean.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* What a run may create, in the order it is removed: mesh config first, namespaces last. */
static const struct {
	const char *resource;
	bool istio;                /* absent from clusters without Istio's CRDs */
} kinds[] = {
	{ "virtualservices.networking.istio.io", true },
	{ "gateways.networking.istio.io", true },
	{ "destinationrules.networking.istio.io", true },
	{ "serviceentries.networking.istio.io", true },
	{ "authorizationpolicies.security.istio.io", true },
	{ "peerauthentications.security.istio.io", true },
	{ "pods", false },
	{ "deployments.apps", false },
	{ "services", false },
	{ "serviceaccounts", false },
	{ "secrets", false },
	{ "configmaps", false },
};

bool
mc_kube_label_value_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool
mc_kube_namespace_protected(const char *name)
{
	return strcmp(name, "default") == 0 || strncmp(name, "kube-", 5) == 0 ||
	       strncmp(name, "istio-", 6) == 0;
}

struct names {
	char **v;
	size_t n;
};

static void
names_add(struct names *ns, const char *s)
{
	ns->v = mc_xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n++] = mc_xstrdup(s);
}

static bool
names_has(const struct names *ns, const char *s)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			return true;
	return false;
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

struct clean {
	const struct mc_kube *k;
	const char *context;
	const char *run_id;
	char *selector;
	FILE *report;
	struct mc_clean_stats *stats;
};

/* The object carries the label (with the run's value when one run is cleaned). */
static bool
labelled(const struct clean *c, const cJSON *obj, const char **value)
{
	*value = mc_kube_obj_label(obj, MC_KUBE_RUN_LABEL);
	if (*value == NULL)
		return false;
	return c->run_id == NULL || strcmp(*value, c->run_id) == 0;
}

static int
list(const struct clean *c, const char *resource, bool namespaced, cJSON **doc,
     char *err, size_t errlen)
{
	const char *args[] = { "get", resource, "-l", c->selector, "-o", "json", NULL, NULL };

	if (namespaced) {
		args[4] = "--all-namespaces";
		args[5] = "-o";
		args[6] = "json";
	}
	return mc_kube_json(c->k, c->context, args, doc, err, errlen);
}

/* Deletes names (all of one resource, in one namespace or cluster-scoped) by name. */
static int
delete_names(const struct clean *c, const char *resource, const char *ns, const struct names *names,
	     char *err, size_t errlen)
{
	const char **args = mc_xcalloc(names->n + 8, sizeof(*args));
	struct mc_kube_result res;
	size_t a = 0;
	int rc;

	args[a++] = "delete";
	args[a++] = resource;
	for (size_t i = 0; i < names->n; i++)
		args[a++] = names->v[i];
	if (ns != NULL) {
		args[a++] = "-n";
		args[a++] = ns;
	}
	/* Gone already is fine; waiting for finalizers is not clean's business. */
	args[a++] = "--ignore-not-found";
	args[a++] = "--wait=false";
	args[a] = NULL;
	rc = mc_kube_call(c->k, c->context, args, NULL, &res, err, errlen);
	mc_kube_result_clear(&res);
	free(args);
	return rc;
}

static void
report_deleted(const struct clean *c, const char *resource, const char *ns, const char *name,
	       const char *run)
{
	fprintf(c->report, "%s: %s %s %s%s%s (run %s)\n", c->context,
		c->k->dry_run ? "would delete" : "deleted", resource,
		ns != NULL ? ns : "", ns != NULL ? "/" : "", name, run);
	c->stats->deleted++;
}

static int
clean_context(const struct clean *c, char *err, size_t errlen)
{
	struct names doomed = { 0 };
	const cJSON *it;
	cJSON *doc = NULL;
	size_t before = c->stats->deleted;
	int rc;

	/* Namespaces first, so objects inside the doomed ones are left to go with them. */
	rc = list(c, "namespaces", false, &doc, err, errlen);
	if (rc != 0)
		return rc;
	cJSON_ArrayForEach(it, mc_kube_items(doc)) {
		const char *name = mc_kube_obj_name(it), *run;

		if (name == NULL)
			continue;
		if (!labelled(c, it, &run)) {
			fprintf(c->report, "%s: kept namespace %s: listed, but it does not carry %s%s%s\n",
				c->context, name, MC_KUBE_RUN_LABEL, c->run_id != NULL ? "=" : "",
				c->run_id != NULL ? c->run_id : "");
			c->stats->kept++;
		} else if (mc_kube_namespace_protected(name)) {
			fprintf(c->report, "%s: kept namespace %s: it carries %s=%s, but clean never deletes default, kube-* or istio-* namespaces\n",
				c->context, name, MC_KUBE_RUN_LABEL, run);
			c->stats->kept++;
		} else {
			names_add(&doomed, name);
		}
	}

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && rc == 0; i++) {
		struct names by_ns = { 0 };   /* pairs: namespace, name */
		cJSON *objs = NULL;

		rc = list(c, kinds[i].resource, true, &objs, err, errlen);
		if (rc == -ENOENT && kinds[i].istio) {
			rc = 0;           /* no Istio here: nothing of that kind to clean */
			continue;
		}
		if (rc != 0)
			break;
		cJSON_ArrayForEach(it, mc_kube_items(objs)) {
			const char *name = mc_kube_obj_name(it), *ns = mc_kube_obj_namespace(it), *run;

			if (name == NULL || ns == NULL)
				continue;
			if (!labelled(c, it, &run)) {
				fprintf(c->report, "%s: kept %s %s/%s: listed, but it does not carry %s%s%s\n",
					c->context, kinds[i].resource, ns, name, MC_KUBE_RUN_LABEL,
					c->run_id != NULL ? "=" : "", c->run_id != NULL ? c->run_id : "");
				c->stats->kept++;
				continue;
			}
			if (names_has(&doomed, ns))
				continue;
			names_add(&by_ns, ns);
			names_add(&by_ns, name);
			report_deleted(c, kinds[i].resource, ns, name, run);
		}
		/* One delete per namespace, naming each object. */
		for (size_t a = 0; a < by_ns.n && rc == 0; a += 2) {
			struct names batch = { 0 };

			if (by_ns.v[a] == NULL)
				continue;
			for (size_t b = a; b < by_ns.n; b += 2) {
				if (by_ns.v[b] != NULL && strcmp(by_ns.v[b], by_ns.v[a]) == 0) {
					names_add(&batch, by_ns.v[b + 1]);
					if (b != a) {
						free(by_ns.v[b]);
						by_ns.v[b] = NULL;
					}
				}
			}
			rc = delete_names(c, kinds[i].resource, by_ns.v[a], &batch, err, errlen);
			names_free(&batch);
		}
		names_free(&by_ns);
		cJSON_Delete(objs);
	}

	if (rc == 0 && doomed.n > 0) {
		cJSON_ArrayForEach(it, mc_kube_items(doc)) {
			const char *name = mc_kube_obj_name(it), *run = mc_kube_obj_label(it, MC_KUBE_RUN_LABEL);

			if (name != NULL && names_has(&doomed, name))
				report_deleted(c, "namespace", NULL, name, run);
		}
		rc = delete_names(c, "namespaces", NULL, &doomed, err, errlen);
	}
	if (rc == 0 && c->stats->deleted == before)
		fprintf(c->report, "%s: nothing carries %s%s%s\n", c->context, MC_KUBE_RUN_LABEL,
			c->run_id != NULL ? "=" : "", c->run_id != NULL ? c->run_id : "");
	names_free(&doomed);
	cJSON_Delete(doc);
	return rc;
}

int
mc_kube_clean(const struct mc_kube *k, const struct mc_clean_opts *opts,
	      struct mc_clean_stats *stats, char *err, size_t errlen)
{
	struct mc_clean_stats local;
	struct clean c = { .k = k, .run_id = opts->run_id };
	char cerr[MC_ERRLEN];
	int first = 0;

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (opts->n_contexts == 0)
		return mc_err(err, errlen, EINVAL, "clean needs at least one --context");
	if (opts->run_id != NULL && !mc_kube_label_value_ok(opts->run_id))
		return mc_err(err, errlen, EINVAL,
			      "run id \"%s\" cannot be a label value (letters, digits, '-', '_', '.'; at most 63)",
			      opts->run_id);
	c.selector = opts->run_id != NULL ? mc_xasprintf("%s=%s", MC_KUBE_RUN_LABEL, opts->run_id)
					  : mc_xstrdup(MC_KUBE_RUN_LABEL);
	c.report = opts->report != NULL ? opts->report : stdout;
	c.stats = stats;
	for (size_t i = 0; i < opts->n_contexts; i++) {
		int rc;

		c.context = opts->contexts[i];
		rc = clean_context(&c, cerr, sizeof(cerr));
		if (rc != 0) {
			fprintf(c.report, "%s: not cleaned: %s\n", c.context, cerr);
			if (first == 0) {
				first = rc;
				mc_err(err, errlen, -rc, "%s", cerr);
			}
		}
	}
	fflush(c.report);
	free(c.selector);
	return first;
}
