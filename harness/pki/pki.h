/*
 * The PKI engine: certificate authorities in Istio's plug-in layout, workload
 * certificates, loading and fetching chains, and verifying a chain against a
 * root with the checks a mesh's trust depends on. It knows nothing of
 * clusters beyond their names. OpenSSL 3 API only.
 *
 * Errors follow util.h: 0 or a negative errno, message in err.
 */
#ifndef MC_PKI_H
#define MC_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

enum mc_key_type {
	MC_KEY_RSA4096, /* Istio's tools/certs default */
	MC_KEY_RSA2048,
	MC_KEY_EC256,
};

/* "rsa4096", "rsa2048", "ec256". Returns 0 or -EINVAL. */
int mc_key_type_parse(const char *s, enum mc_key_type *out);
const char *mc_key_type_name(enum mc_key_type k);

struct mc_ca_options {
	const char *trust_domain;  /* default "cluster.local" */
	enum mc_key_type key;      /* default MC_KEY_RSA4096 */
	const char *root_cn;       /* default "Root CA" */
	const char *root_org;      /* default "Istio" */
	const char *int_cn;        /* default "Intermediate CA" */
	const char *int_org;       /* default "Istio" */
	long root_days;            /* default 3650 */
	long int_days;             /* default 3650 */
};

/*
 * Creates a root CA and one intermediate CA per cluster under dir:
 *   dir/root-cert.pem, dir/root-key.pem (0600)
 *   dir/<cluster>/ca-cert.pem, ca-key.pem (0600), root-cert.pem,
 *   cert-chain.pem (= ca-cert + root)
 * with the profiles of Istio's tools/certs (FACTS.md §3). opts may be NULL
 * for all defaults. Refuses (-EEXIST) to overwrite an existing root key.
 */
int mc_pki_init(const char *dir, const char *const *clusters, size_t n_clusters,
		const struct mc_ca_options *opts, char *err, size_t errlen);

/*
 * Adds an intermediate CA for cluster, signed by the root of root_dir (its
 * root-cert.pem and root-key.pem, as mc_pki_init writes them), into out_dir
 * with the same files as a cluster folder of mc_pki_init. For rotating a
 * cluster's intermediate under the same root. Refuses (-EEXIST) to
 * overwrite a CA key. opts may be NULL (key type, names and days as
 * mc_pki_init's defaults).
 */
int mc_pki_add_intermediate(const char *root_dir, const char *cluster, const char *out_dir,
			    const struct mc_ca_options *opts, char *err, size_t errlen);

struct mc_issue_options {
	const char *spiffe;        /* required: spiffe://TD/ns/NS/sa/SA */
	long ttl_seconds;          /* default 24h; clamped to the signer's expiry */
	enum mc_key_type key;      /* default MC_KEY_RSA2048, as Istio's agent */
	bool key_set;              /* true when key was chosen (so 0 = RSA4096 can be asked for) */
	const char *const *dns;    /* optional extra DNS SANs */
	size_t n_dns;
};

/*
 * Issues a workload certificate from the CA in ca_dir (a cluster folder made
 * by mc_pki_init: ca-cert.pem, ca-key.pem, cert-chain.pem) into out_dir:
 *   cert.pem (leaf), key.pem (0600), cert-chain.pem (leaf + ca chain),
 *   root-cert.pem.
 * Profile (FACTS.md §3): empty subject, critical URI SAN, keyUsage critical
 * digitalSignature+keyEncipherment, EKU serverAuth+clientAuth, CA:FALSE
 * critical, NotBefore = now - 2 min, NotAfter = now + ttl clamped to the
 * signer's NotAfter.
 */
int mc_pki_issue(const char *ca_dir, const struct mc_issue_options *opts,
		 const char *out_dir, char *err, size_t errlen);

/* An ordered list of certificates, leaf first as sent by a peer. Opaque. */
struct mc_chain;

struct mc_chain *mc_chain_new(void);
void mc_chain_free(struct mc_chain *c);            /* NULL does nothing */
size_t mc_chain_count(const struct mc_chain *c);

/*
 * Loads every certificate of a PEM file. An empty file, a file with no
 * certificate, a truncated or corrupt PEM block gives -EINVAL and a message
 * naming the file and the line where the bad block starts.
 */
int mc_chain_load_pem(const char *path, struct mc_chain **out, char *err, size_t errlen);
/* The same from memory; name is used in messages. */
int mc_chain_parse_pem(const char *data, size_t len, const char *name,
		       struct mc_chain **out, char *err, size_t errlen);
/* Writes the chain as PEM (0644). */
int mc_chain_write_pem(const struct mc_chain *c, const char *path, char *err, size_t errlen);
/* PEM text of the whole chain; caller frees. */
char *mc_chain_to_pem(const struct mc_chain *c);

struct mc_fetch_options {
	const char *host;          /* address to connect to */
	int port;
	const char *sni;           /* server name to send; NULL sends none */
	const char *cert;          /* optional client certificate (PEM, may hold a chain) */
	const char *key;           /* its key */
	int timeout_ms;            /* connect + handshake; default 5000 */
};

/*
 * Connects with TLS and returns the chain the server sent, without verifying
 * it. The chain is obtained even when the handshake then fails because the
 * server demands a client certificate we do not have (the server's
 * Certificate message arrives first). -ECONNREFUSED, -ETIMEDOUT, -EPROTO (no
 * certificate received) with a message.
 */
int mc_chain_fetch(const struct mc_fetch_options *opts, struct mc_chain **out,
		   char *err, size_t errlen);

/* Facts about one certificate. Strings are owned by the struct. */
struct mc_cert_info {
	char *subject;             /* RFC 2253 one-line; "" when empty */
	char *issuer;
	char **sans;               /* "URI:spiffe://...", "DNS:...", "IP:..." */
	size_t n_sans;
	bool san_critical;
	time_t not_before;
	time_t not_after;
	char key_type[16];         /* "RSA", "EC", "ED25519" ... */
	int key_bits;
	char *curve;               /* EC curve name or NULL */
	bool is_ca;
	bool bc_critical;
	long pathlen;              /* -1 when absent */
	char *key_usage;           /* "digitalSignature, keyCertSign ..." or NULL */
	bool ku_critical;
	char *ext_key_usage;       /* "serverAuth, clientAuth" or NULL */
	char *serial;              /* hex */
	char fingerprint[96 + 1];  /* SHA-256, "AA:BB:..." */
	bool self_signed;
	char *spiffe;              /* the first spiffe:// URI SAN, or NULL */
};

int mc_cert_info_get(const struct mc_chain *c, size_t i, struct mc_cert_info *out,
		     char *err, size_t errlen);
void mc_cert_info_clear(struct mc_cert_info *info);
/* JSON object of the facts (times as ISO 8601). */
cJSON *mc_cert_info_json(const struct mc_cert_info *info);

struct mc_verify_options {
	const char *spiffe_pattern; /* glob over the leaf's SPIFFE ID; NULL skips the check */
	long min_validity;          /* seconds the leaf must still be valid; 0 skips */
	time_t now;                 /* 0 = the current time */
};

#define MC_VERIFY_MAX_CHECKS 16

/* One named check: chains_to_root, pathlen, leaf_not_ca, spiffe, lifetime, key_usage ... */
struct mc_verify_check {
	char name[32];
	bool ok;
	char detail[512];          /* what was expected and seen */
};

struct mc_verify_result {
	bool ok;                   /* every check passed */
	bool chains_to_root;
	char *verify_error;        /* OpenSSL's reason when the path did not verify, else NULL */
	struct mc_chain *path;     /* the verified path, leaf to root (NULL when it did not verify) */
	char root_fingerprint[96 + 1];   /* of the root the path ends at ("" if none) */
	char leaf_spiffe[512];
	struct mc_verify_check checks[MC_VERIFY_MAX_CHECKS];
	size_t n_checks;
};

/*
 * Verifies peer (leaf first; the rest are untrusted intermediates) against
 * the certificates in roots (trusted), and runs the checks. Returns 0 when
 * the evaluation ran, whatever its verdict (see res->ok); negative only when
 * it could not run (empty chain, OpenSSL failure).
 */
int mc_chain_verify(const struct mc_chain *peer, const struct mc_chain *roots,
		    const struct mc_verify_options *opts, struct mc_verify_result *res,
		    char *err, size_t errlen);
void mc_verify_result_clear(struct mc_verify_result *res);
/* JSON of a result: ok, chains_to_root, verify_error, root_fingerprint, checks[]. */
cJSON *mc_verify_result_json(const struct mc_verify_result *res);

/*
 * Additions (not used by every caller): direct access to a chain's
 * certificates for code that already works with OpenSSL, and the SPIFFE ID
 * check used by mc_pki_issue.
 */
struct x509_st;

/* The i-th certificate (an X509 *, still owned by the chain), or NULL. */
struct x509_st *mc_chain_get(const struct mc_chain *c, size_t i);
/* Appends x (a new reference is taken; the caller keeps its own). Returns 0 or -EINVAL. */
int mc_chain_add(struct mc_chain *c, struct x509_st *x);
/* Checks spiffe://<td>/ns/<ns>/sa/<sa> (no empty parts). Returns 0 or -EINVAL with a message. */
int mc_spiffe_validate(const char *id, char *err, size_t errlen);

#endif
