/*
 * Reading a workload's certificate chain from its sidecar (FACTS.md §3).
 *
 * Two sources, in order of preference:
 *
 *   istioctl proxy-config secret POD -n NS -o json
 *     Envoy's SDS secrets: dynamicActiveSecrets[] holds "default" (the
 *     workload chain in secret.tlsCertificate.certificateChain.inlineBytes,
 *     base64 of PEM, leaf first; the private key is redacted) and "ROOTCA"
 *     (secret.validationContext.trustedCa.inlineBytes). Gives PEM, which the
 *     caller verifies with the PKI engine (mc_chain_parse_pem,
 *     mc_chain_verify).
 *
 *   kubectl exec POD -n NS -c istio-proxy -- pilot-agent request GET certs
 *     Envoy's /certs admin page: certificates[].{ca_cert[], cert_chain[]},
 *     each with path, serial_number, subject_alt_names, days_until_expiration,
 *     valid_from and expiration_time. It has no PEM, so only these details
 *     come back (SPIFFE ID, serials, validity), and the chain cannot be
 *     verified against a root from it.
 *
 * Errors follow util.h: 0 or a negative errno, message in err. Malformed
 * input gives -EPROTO (not JSON, a field of the wrong type, bad base64, no
 * PEM certificate) or -ENOENT (a secret or field missing), with a message
 * naming what is wrong.
 */
#ifndef MC_KUBE_KCHAINS_H
#define MC_KUBE_KCHAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "kubectl.h"

/* What mc_kube_workload_chain returns in dry-run mode when reading needs `kubectl exec`. */
#define MC_KUBE_CHAIN_DRY_RUN 1

/* The details Envoy gives of one certificate. Strings are owned by the struct. */
struct mc_envoy_cert {
	char *path;                /* "<inline>" for SDS certificates */
	char *serial;              /* hex, as Envoy prints it */
	char **sans;               /* "URI:spiffe://...", "DNS:...", "IP:..." */
	size_t n_sans;
	long days_until_expiration; /* -1 when absent */
	time_t valid_from;         /* 0 when absent */
	time_t expiration_time;    /* 0 when absent */
};

struct mc_envoy_certs {
	struct mc_envoy_cert *chain;   /* cert_chain entries (Envoy lists the leaf), duplicates dropped */
	size_t n_chain;
	struct mc_envoy_cert *ca;      /* ca_cert entries (the trusted roots), duplicates dropped */
	size_t n_ca;
	char *spiffe;                  /* the first spiffe:// URI of the chain, or NULL */
};

void mc_envoy_certs_clear(struct mc_envoy_certs *c);

/*
 * Parses `istioctl proxy-config secret -o json`. *chain_pem gets the
 * "default" secret's chain (leaf first), *root_pem (when root_pem is not
 * NULL) the "ROOTCA" secret's roots; both NUL-terminated PEM the caller
 * frees. Both are required when asked for.
 */
int mc_kube_chain_from_istioctl(const char *json, size_t len, char **chain_pem, char **root_pem,
				char *err, size_t errlen);

/* Parses Envoy's /certs JSON. out must be cleared with mc_envoy_certs_clear in every case. */
int mc_kube_certs_from_envoy(const char *json, size_t len, struct mc_envoy_certs *out,
			     char *err, size_t errlen);

struct mc_kube_chain {
	const char *source;        /* "istioctl proxy-config secret" or "pilot-agent request GET certs" */
	bool have_pem;             /* chain_pem and root_pem are set (istioctl) */
	char *chain_pem;           /* leaf first */
	char *root_pem;
	struct mc_envoy_certs details; /* filled when !have_pem (pilot-agent) */
	char note[256];            /* when !have_pem: why only details are given */
};

/*
 * Reads the chain of POD's sidecar in NS through istioctl when it is
 * available (k->istioctl != NULL), else through pilot-agent in the
 * istio-proxy container (details only; see note). kubectl's and istioctl's
 * errors are passed on with their text. In dry-run mode the exec is printed,
 * not run, and MC_KUBE_CHAIN_DRY_RUN is returned with out empty. out must
 * be cleared with mc_kube_chain_clear in every case.
 */
int mc_kube_workload_chain(const struct mc_kube *k, const char *context, const char *ns,
			   const char *pod, struct mc_kube_chain *out, char *err, size_t errlen);
void mc_kube_chain_clear(struct mc_kube_chain *c);

#endif
