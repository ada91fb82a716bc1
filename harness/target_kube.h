/*
 * The kube target: the suites' topology (fixtures/local/topology.json)
 * deployed on real clusters named by kubeconfig contexts, the first context
 * playing the topology's first cluster, and so on. Everything goes through
 * kubectl (harness/kube/kubectl.h); see README.md, "Running against real
 * clusters".
 *
 * One deployment serves the whole run: the first suite that names the
 * topology deploys it (namespaces, fixtures, mesh config, in every cluster;
 * then waits for the rollouts), later suites reuse it, and
 * mc_target_kube_finish() deletes it by the run label at the end of the run
 * (also after SIGINT/SIGTERM) unless --keep.
 *
 * Endpoints (the names the local target knows, where they make sense):
 *   "W@C:outbound"  requests run in W's pod with curl (kubectl exec), as the
 *                   app calls a service: URLs name services as
 *                   "svc.ns"; the namespace prefix is added
 *   "W@C"           requests run in W's pod from its istio-proxy container
 *                   to the app on 127.0.0.1 (the workload's own answer)
 *   "ingress@C[:LISTENER]"  the ingress gateway's external address (its
 *                   Service's load balancer, or --ingress), port 80, or 443
 *                   for a TLS listener; requests go from the harness
 * Suites with local "servers", or with broken-mesh overrides, are local
 * only: their cases are skipped here, with the reason.
 */
#ifndef MC_TARGET_KUBE_H
#define MC_TARGET_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kubectl.h"
#include "target.h"

#define MC_KUBE_MAX_CONTEXTS 8
#define MC_KUBE_DEFAULT_NS_PREFIX "mc-"
#define MC_KUBE_DEFAULT_GATEWAY_NS "istio-system"

struct mc_kube_target_opts {
	const char *contexts[MC_KUBE_MAX_CONTEXTS];
	size_t n_contexts;
	const char *revision;          /* NULL: istio-injection=enabled */
	const char *ns_prefix;         /* NULL: MC_KUBE_DEFAULT_NS_PREFIX */
	const char *gateway_ns;        /* NULL: MC_KUBE_DEFAULT_GATEWAY_NS */
	const char *capture_image;     /* NULL: the capture module's default */
	const char *ingress[MC_KUBE_MAX_CONTEXTS]; /* per context "HOST:PORT" (NULL: from the gateway's Service) */
	const char *fixtures_dir;      /* NULL: the source tree's fixtures/ */
	double rollout_timeout_s;      /* 0: 300 */
	bool keep;                     /* leave everything in place at the end */
	bool capture_allowed;          /* preflight found the capture pod may be created */
};

/*
 * Sets what the kube target works with; k is borrowed for the whole run.
 * Called by `run --target kube` before the runner starts.
 */
void mc_target_kube_configure(const struct mc_kube *k, const struct mc_kube_target_opts *o);

/*
 * Deletes what the run created in every cluster (by the run label, through
 * mc_kube_clean) unless keep, and forgets the deployment. Returns 0 or the
 * first error. Safe to call when nothing was deployed.
 */
int mc_target_kube_finish(FILE *report, char *err, size_t errlen);

/*
 * The kubectl commands a deployment would run, with the rendered
 * manifests, written to out: `run --target kube --dry-run`. Needs no
 * cluster. Returns 0 or -errno (a suite's topology or a manifest could not
 * be read).
 */
int mc_target_kube_plan(const struct mc_suite_def *def, const char *run_id, FILE *out, char *err, size_t errlen);

/*
 * Renders a manifest: the placeholders ${MESHCHECK_RUN},
 * ${MESHCHECK_NS_PREFIX} and ${MESHCHECK_GATEWAY_NS} are replaced, and with
 * a revision the label "istio-injection: enabled" becomes
 * "istio.io/rev: REV". An unknown ${MESHCHECK_...} placeholder is an error
 * naming the file and line. Exposed for tests.
 */
int mc_kube_manifest_render(const char *text, const char *file, const char *run_id, const char *ns_prefix,
		   const char *gateway_ns, const char *revision, char **out, char *err, size_t errlen);

/*
 * The documents of a multi-document manifest that are of a kind and a
 * name (metadata.name) the predicate keeps, joined again with "---".
 * Only the layout meshcheck's own manifests use is understood: documents
 * separated by "---" lines, top-level "kind:" and a "metadata:" block
 * whose "name:" is indented by two spaces. Exposed for tests.
 */
typedef bool (*mc_kube_doc_pred)(const char *kind, const char *name, const char *ns, void *arg);
char *mc_kube_select_docs(const char *text, mc_kube_doc_pred keep, void *arg, size_t *n_kept);

#endif
