/*
 * Preflight of the kube target: what must hold before anything is created.
 *
 * For each context: the API server answers (`kubectl version`), istiod runs
 * (its version from the image tag, its revisions from `istio.io/rev`), the
 * revision meshcheck will inject with exists (a revision or a revision tag),
 * the mesh root is published (ConfigMap istio-system/istio-ca-root-cert),
 * remote secrets are synced (`istioctl remote-clusters`, when istioctl is
 * there), and the permissions a run needs (`kubectl auth can-i`). Across
 * contexts: every cluster trusts one root, compared by SHA-256 fingerprint.
 *
 * Each finding is one line: ok, warn (the run goes on, some cases will be
 * skipped), skip (not checked, and why) or FAIL (the run must not start).
 * Preflight only reads: it creates nothing, also in its failure paths.
 */
#ifndef MC_KUBE_PREFLIGHT_H
#define MC_KUBE_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kubectl.h"

enum mc_finding_state {
	MC_FINDING_OK,
	MC_FINDING_WARN,
	MC_FINDING_SKIP,
	MC_FINDING_FAIL,
};

struct mc_finding {
	enum mc_finding_state state;
	char *context;             /* NULL for a finding across clusters */
	char *check;               /* "reachable", "istiod", "revision", "root", "shared root",
				      "remote secrets", "permissions", "capture" */
	char *detail;
	int code;                  /* negative errno behind a FAIL, else 0 */
};

/* What preflight learnt about one cluster; strings NULL when unknown. */
struct mc_kube_cluster {
	char *context;
	char *server_version;      /* "v1.31.4" */
	char *istio_version;       /* of the revision the run injects with */
	char *revision;            /* that revision ("default", "1-24-2", ...) */
	char **revisions;          /* every istiod revision found */
	size_t n_revisions;
	char **root_fingerprints;  /* of every certificate in root-cert.pem */
	size_t n_roots;
	char *root_subject;        /* of the first */
	bool reachable;
	bool capture_allowed;      /* may create the capture pod */
};

struct mc_preflight {
	struct mc_finding *findings;
	size_t n_findings;
	struct mc_kube_cluster *clusters;
	size_t n_clusters;
	size_t n_failed;
	bool capture_allowed;      /* in every cluster */
	char *shared_root;         /* fingerprint trusted by every cluster, or NULL */
};

struct mc_preflight_opts {
	const char *const *contexts;
	size_t n_contexts;
	const char *revision;      /* NULL: the default revision (istio-injection=enabled) */
	bool capture;              /* the run has wire cases: check the capture pod may be created */
};

/*
 * Runs every check. Returns 0 when nothing failed; otherwise the code of
 * the first failure (-ENXIO unknown context, -EHOSTUNREACH unreachable,
 * -ENOENT no istiod or no root, -EACCES permission, -EPROTO roots differ)
 * with "preflight failed: N problem(s); first: <line>" in err. *out is set
 * in both cases (caller frees), so every finding can be printed.
 */
int mc_preflight_run(const struct mc_kube *k, const struct mc_preflight_opts *opts,
		     struct mc_preflight **out, char *err, size_t errlen);
/* One line per finding, e.g. "FAIL kind-c2: istiod: no istiod Deployment in istio-system ...". */
void mc_preflight_print(const struct mc_preflight *p, FILE *f);
/* The line of one finding (caller frees). */
char *mc_finding_line(const struct mc_finding *fi);
/* The first finding of a check for a context (context NULL: across clusters), or NULL. */
const struct mc_finding *mc_preflight_find(const struct mc_preflight *p, const char *context,
					   const char *check);
void mc_preflight_free(struct mc_preflight *p);

/* The version in an image reference: "docker.io/istio/pilot:1.24.2-distroless" → "1.24.2-distroless"; NULL for digests or no tag (caller frees). */
char *mc_kube_image_tag(const char *image);

#endif
