/*
 * The local multi-cluster mesh: the seeds' fixtures as processes on this
 * machine, each behind a sidecar (nginx) that speaks mutual TLS with a
 * workload certificate, with an ingress and an east-west gateway per
 * cluster. The local target builds it when a suite's "mesh" names a
 * topology (fixtures/local/topology.json is the default).
 *
 * Addresses: every run claims a slot R (2..250) so that concurrent runs
 * never share an address; cluster C (1-based), workload N gets
 * 127.(10+C).R.N, the ingress gateway 127.(10+C).R.240 and the east-west
 * gateway 127.(10+C).R.241. Ports are Istio's: a workload's sidecar
 * listens on its service port (inbound) and on 15001 (outbound, plain
 * HTTP routed by Host, as an app in the pod would call it); the app on
 * 18080; east-west gateways on 15443.
 *
 * Endpoint names for checks:
 *   "W@C"            the workload's inbound (TLS, its mesh identity)
 *   "W@C:plain"      the same port in plaintext (a client without a sidecar)
 *   "W@C:outbound"   its sidecar's outbound listener (plain HTTP; send Host = a service)
 *   "ingress@C" or "ingress@C:LISTENER", "eastwest@C"
 */
#ifndef MC_MESH_LOCAL_H
#define MC_MESH_LOCAL_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "target.h"

struct mc_mesh;

/* Path of the default topology file. */
const char *mc_mesh_default_topology(void);

/*
 * Validates a suite's "mesh" section that names a topology ("topology":
 * "default" | a path relative to the suite file | an inline object, plus
 * overrides: "mtls": {"W@C": "STRICT|PERMISSIVE|DISABLE"}, "stopped":
 * ["W@C"], "foreign_intermediate": "C", "drop_authorization": true).
 */
int mc_mesh_validate(const struct mc_suite_def *def, char *err, size_t errlen);

/*
 * The topology a suite names (validated), as JSON: "clusters", "workloads",
 * "services", "gateways" as in fixtures/local/topology.json. The kube
 * target deploys the same topology. Caller deletes *out.
 */
int mc_mesh_topology(const struct mc_suite_def *def, cJSON **out, char *err, size_t errlen);
/* Builds and starts the mesh in run_dir. On failure nothing is left running. */
int mc_mesh_up(const struct mc_suite_def *def, const char *run_dir, struct mc_mesh **out, char *err,
	       size_t errlen);

int mc_mesh_endpoint(struct mc_mesh *m, const char *name, struct mc_endpoint *out, char *err, size_t errlen);
const char *mc_mesh_root(struct mc_mesh *m);

/* Prints the addresses of gateways and workloads. */
void mc_mesh_describe(struct mc_mesh *m, FILE *out);

/* Copies every sidecar's, gateway's and app's logs into dir (evidence). */
void mc_mesh_logs(struct mc_mesh *m, const char *dir);

/*
 * Acts on the running mesh while traffic flows (continuity checks):
 *   reload_gateway   "ingress@C" | "eastwest@C" | "all": a graceful reload
 *   restart_sidecars "W@C" | "svc.ns" | "all": one proxy after the other,
 *                    each replacing all its workers gracefully (nginx reload)
 *   restart_app      "W@C": the app is stopped (SIGTERM) and started again
 *   kill_app         "W@C": the app is killed (SIGKILL) and stays down
 *   rotate_ca        "C": a new intermediate for cluster C under the same
 *                    root, new certificates for its proxies, all proxies
 *                    reloaded so that no caller loses its identity
 */
int mc_mesh_action(struct mc_mesh *m, const char *action, const char *target, char *err, size_t errlen);
/* Stops every process by PID, frees. NULL does nothing. */
void mc_mesh_down(struct mc_mesh *m);

#endif
