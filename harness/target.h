/*
 * Targets are where fixtures run: one interface, a table of functions, with
 * one implementation per kind of place: local (this machine) and kube
 * (real clusters through kubectl).
 *
 * Life of a target for one suite: mc_target_new() → up (deploy what the
 * suite's "mesh" and "servers" sections ask for) → checks ask it for
 * endpoints and trust roots → mc_target_free() tears everything down: every
 * process it started is stopped by PID and its run directory removed.
 */
#ifndef MC_TARGET_H
#define MC_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "probe.h"
#include "suite.h"

/* Where a named server can be reached. Strings owned by the target. */
struct mc_endpoint {
	const char *name;
	const char *cluster;
	const char *host;          /* address to connect to */
	int port;
	const char *sni;           /* server name to send, or NULL */
	const char *spiffe;        /* the identity it was given, or NULL */
	const char *client_cert;   /* a mesh client certificate (PEM chain) the harness may present */
	const char *client_key;
	bool plaintext;            /* plain HTTP rather than TLS */
	const char *root;          /* PEM of the root its certificate chains to (mesh root), or NULL */
	const char *via;           /* set when only the target can send to it (ops->send), opaque to checks */
};

struct mc_target;
struct mc_wire;

struct mc_target_ops {
	const char *name;
	const char *summary;
	/* Validates the suite's "mesh" and "servers" sections at load time. */
	int (*validate)(const struct mc_suite_def *def, char *err, size_t errlen);
	/* Allocates the target's private state in t->priv. */
	int (*init)(struct mc_target *t, char *err, size_t errlen);
	/* Deploys what the suite needs; on failure leaves nothing running. */
	int (*up)(struct mc_target *t, const struct mc_suite_def *def, char *err, size_t errlen);
	/* Resolves a server named in the suite. */
	int (*endpoint)(struct mc_target *t, const char *name, struct mc_endpoint *out,
			char *err, size_t errlen);
	/* Path of the PEM file holding the mesh's trusted root(s), or NULL if none. */
	const char *(*mesh_root)(struct mc_target *t);
	/* Copies the logs of what it runs (proxies, apps) into dir, as evidence; may be NULL. */
	void (*logs)(struct mc_target *t, const char *dir);
	/* Stops everything started and removes the run directory. Idempotent. */
	void (*down)(struct mc_target *t);
	/*
	 * Optional, for targets whose endpoints the harness cannot reach
	 * (ep->via set): sends count requests as spec says, from where the
	 * endpoint says, and fills res[0..count-1]. Returns 0 when they were
	 * sent, whatever the outcomes; -errno when they could not be.
	 */
	int (*send)(struct mc_target *t, const struct mc_endpoint *ep, const struct mc_probe_spec *spec, size_t count,
		    struct mc_probe_result *res, char *err, size_t errlen);
	/*
	 * Optional: the certificate chain a server presents (PEM, leaf first)
	 * and the root it must verify to (PEM), read by the target where the
	 * harness cannot connect to the server.
	 */
	int (*chain)(struct mc_target *t, const char *server, char **chain_pem, char **root_pem, char *err,
		     size_t errlen);
	/*
	 * Optional: a capture where the named servers' traffic passes (instead
	 * of loopback), its pcap kept in dir. -EPERM: not permitted here (the
	 * case is skipped with err as the reason).
	 */
	int (*capture_start)(struct mc_target *t, const char *const *servers, size_t n, const char *dir, void **handle,
			     char *err, size_t errlen);
	/* Stops it and feeds what was captured to w; *pcap is the evidence file (caller frees). */
	int (*capture_stop)(struct mc_target *t, void *handle, struct mc_wire *w, char **pcap, char *err,
			    size_t errlen);
	/*
	 * Optional: a built-in action on what the target runs, while traffic
	 * flows (continuity checks): "reload_gateway", "restart_sidecars",
	 * "restart_app", "kill_app", "rotate_ca" on the local target.
	 */
	int (*action)(struct mc_target *t, const char *name, const char *target, char *err, size_t errlen);
	/* Optional: called around each case (mesh config the case names). */
	int (*case_begin)(struct mc_target *t, const struct mc_case_def *cd, char *err, size_t errlen);
	void (*case_end)(struct mc_target *t, const struct mc_case_def *cd);
	void (*free_priv)(struct mc_target *t);
};

struct mc_target {
	const struct mc_target_ops *ops;
	char *run_id;
	char *run_dir;             /* all state of the run; removed by down unless keep */
	int keep;                  /* keep the run directory (for debugging) */
	void *priv;
};

extern const struct mc_target_ops mc_target_local;
extern const struct mc_target_ops mc_target_kube;
extern const struct mc_target_ops *const mc_targets[];
const struct mc_target_ops *mc_target_find(const char *name);

/*
 * Creates a target of the given kind with its run directory
 * (<base>/meshcheck-<run_id>, mode 0700; base = $TMPDIR or /tmp).
 */
int mc_target_new(const struct mc_target_ops *ops, const char *run_id, struct mc_target **out,
		  char *err, size_t errlen);
/* Tears down (ops->down) and frees. NULL does nothing. */
void mc_target_free(struct mc_target *t);

/*
 * Tears down every live target; safe to call from a signal handler's
 * aftermath (not from the handler itself). Used by `run` on SIGINT/SIGTERM.
 */
void mc_target_down_all(void);

#endif
