/*
 * `meshcheck clean`: delete what meshcheck runs left in clusters, and only
 * that.
 *
 * Everything a run creates carries the label meshcheck.io/run=<run id>.
 * clean lists each kind it may have created with that label as selector
 * (`-l meshcheck.io/run` for every run, `-l meshcheck.io/run=ID` for one),
 * then checks the label again in each returned object before deleting it by
 * name, so an answer that ignored the selector cannot make it delete
 * anything else. Namespaces Kubernetes or Istio own (default, kube-*,
 * istio-*) are never deleted, labelled or not. Objects inside a namespace
 * being deleted go with it; the others (a Gateway or credential Secret in
 * istio-system, say) are deleted one by one, mesh config first.
 */
#ifndef MC_KUBE_CLEAN_H
#define MC_KUBE_CLEAN_H

#include <stddef.h>
#include <stdio.h>

#include "kubectl.h"

struct mc_clean_opts {
	const char *const *contexts;
	size_t n_contexts;
	const char *run_id;        /* NULL: objects of every run */
	FILE *report;              /* one line per object deleted or kept; stdout when NULL */
};

struct mc_clean_stats {
	size_t deleted;            /* objects deleted (or, in dry-run, that would be) */
	size_t kept;               /* listed but kept: label missing, or a protected namespace */
};

/*
 * Cleans every context. A context that cannot be reached does not stop
 * the others; the first error is returned at the end (-ENXIO, -EHOSTUNREACH
 * ...), with its message. In dry-run mode the deletions are printed, not run.
 */
int mc_kube_clean(const struct mc_kube *k, const struct mc_clean_opts *opts,
		  struct mc_clean_stats *stats, char *err, size_t errlen);

/* Whether s may be a label value (and so a run id): [A-Za-z0-9._-], 1 to 63 long, alphanumeric at both ends. */
bool mc_kube_label_value_ok(const char *s);

/* Namespaces clean never deletes: default, kube-*, istio-*. */
bool mc_kube_namespace_protected(const char *name);

#endif
