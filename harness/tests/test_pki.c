/*
 * Unit tests of the PKI engine (harness/pki/pki.c). The generated files are
 * checked with OpenSSL directly and with the `openssl verify` command, never
 * with the engine under test; verification, PEM errors and fetch errors are
 * checked through the engine's API. No network beyond loopback sockets.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_msg(x != NULL, "%s: not a PEM certificate", path);
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_msg(k != NULL, "%s: not a PEM key", path);
	return k;
}

static char *
pathf(const char *dir, const char *name)
{
	return mc_xasprintf("%s/%s", dir, name);
}

static int
file_mode(const char *path)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
	return (int)(st.st_mode & 0777);
}

static time_t
tm_of(const ASN1_TIME *t)
{
	struct tm tm;

	ck_assert(ASN1_TIME_to_tm(t, &tm) == 1);
	return timegm(&tm);
}

/* The value of the first entry of nid in a name, or "" (static buffer). */
static const char *
name_entry(const X509_NAME *n, int nid)
{
	static char buf[256];

	buf[0] = '\0';
	if (X509_NAME_get_text_by_NID((X509_NAME *)n, nid, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	return buf;
}

static int
crit_of(const X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* basicConstraints: returns ca flag, sets pathlen (-1 absent). */
static int
bc_of(const X509 *x, long *pathlen)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	int ca;

	ck_assert_msg(bc != NULL, "no basicConstraints");
	ca = bc->ca ? 1 : 0;
	*pathlen = bc->pathlen != NULL ? ASN1_INTEGER_get(bc->pathlen) : -1;
	BASIC_CONSTRAINTS_free(bc);
	return ca;
}

static int
ku_bit(const X509 *x, int bit)
{
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	int v;

	ck_assert_msg(ku != NULL, "no keyUsage");
	v = ASN1_BIT_STRING_get_bit(ku, bit);
	ASN1_BIT_STRING_free(ku);
	return v;
}

static const ASN1_OCTET_STRING *
skid_of(X509 *x)
{
	return X509_get0_subject_key_id(x);
}

static const ASN1_OCTET_STRING *
akid_of(X509 *x)
{
	return X509_get0_authority_key_id(x);
}

/* Path of a program on PATH (caller frees), or NULL. */
static char *
which(const char *prog)
{
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *tok, *found = NULL;

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = mc_xstrdup(path);
	for (tok = strtok_r(copy, ":", &save); tok != NULL; tok = strtok_r(NULL, ":", &save)) {
		char *p = mc_xasprintf("%s/%s", tok, prog);

		if (access(p, X_OK) == 0) {
			found = p;
			break;
		}
		free(p);
	}
	free(copy);
	return found;
}

/* Runs `openssl verify -CAfile root [-untrusted mid] cert` and asserts "OK". */
static void
openssl_verify_ok(const char *root, const char *mid, const char *cert)
{
	char *openssl = which("openssl");
	char *out = NULL;
	int st;

	ck_assert_msg(openssl != NULL, "the openssl command is needed by this test (apt install openssl)");
	if (mid != NULL) {
		char *argv[] = {openssl, "verify", "-CAfile", (char *)root, "-untrusted", (char *)mid, (char *)cert, NULL};

		st = t_run(argv, &out);
	} else {
		char *argv[] = {openssl, "verify", "-CAfile", (char *)root, (char *)cert, NULL};

		st = t_run(argv, &out);
	}
	ck_assert_msg(st == 0 && strstr(out, ": OK") != NULL, "openssl verify %s: status %d: %s", cert, st, out);
	free(out);
	free(openssl);
}

static void
init_ec(const char *dir, const char *const *clusters, size_t n)
{
	struct mc_ca_options o = {0};
	char err[MC_ERRLEN];

	o.key = MC_KEY_EC256;
	ck_assert_msg(mc_pki_init(dir, clusters, n, &o, err, sizeof(err)) == 0, "%s", err);
}

static void
issue_ec(const char *ca_dir, const char *spiffe, long ttl, const char *out)
{
	struct mc_issue_options io = {0};
	char err[MC_ERRLEN];

	io.spiffe = spiffe;
	io.ttl_seconds = ttl;
	io.key = MC_KEY_EC256;
	io.key_set = true;
	ck_assert_msg(mc_pki_issue(ca_dir, &io, out, err, sizeof(err)) == 0, "%s", err);
}

static struct mc_chain *
load_chain(const char *path)
{
	struct mc_chain *c = NULL;
	char err[MC_ERRLEN];

	ck_assert_msg(mc_chain_load_pem(path, &c, err, sizeof(err)) == 0, "%s", err);
	return c;
}

static const struct mc_verify_check *
find_check(const struct mc_verify_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_checks; i++)
		if (strcmp(r->checks[i].name, name) == 0)
			return &r->checks[i];
	return NULL;
}

/* A standard set-up: EC root + c1, workload W in dir/w. */
struct fixture {
	char *dir, *root, *ca_dir, *w, *chain;
};

static void
fixture_up(struct fixture *f, long ttl)
{
	static const char *const cl[] = {"c1"};
	char *p;

	f->dir = t_tmpdir();
	init_ec(f->dir, cl, 1);
	f->root = pathf(f->dir, "root-cert.pem");
	f->ca_dir = pathf(f->dir, "c1");
	f->w = pathf(f->dir, "w");
	issue_ec(f->ca_dir, "spiffe://cluster.local/ns/foo/sa/bar", ttl, f->w);
	p = pathf(f->w, "cert-chain.pem");
	f->chain = p;
}

static void
fixture_down(struct fixture *f)
{
	mc_rm_rf(f->dir);
	free(f->dir);
	free(f->root);
	free(f->ca_dir);
	free(f->w);
	free(f->chain);
}

/* ------------------------------------------------------------------------ */
/* Key types                                                                 */

START_TEST(key_type_parse)
{
	enum mc_key_type k;

	ck_assert_int_eq(mc_key_type_parse("rsa4096", &k), 0);
	ck_assert_int_eq(k, MC_KEY_RSA4096);
	ck_assert_int_eq(mc_key_type_parse("rsa2048", &k), 0);
	ck_assert_int_eq(k, MC_KEY_RSA2048);
	ck_assert_int_eq(mc_key_type_parse("ec256", &k), 0);
	ck_assert_int_eq(k, MC_KEY_EC256);
	ck_assert_int_eq(mc_key_type_parse("rsa1024", &k), -EINVAL);
	ck_assert_int_eq(mc_key_type_parse("", &k), -EINVAL);
	ck_assert_str_eq(mc_key_type_name(MC_KEY_EC256), "ec256");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* init: the profiles of Istio's tools/certs, checked with OpenSSL           */

START_TEST(init_default_rsa4096_profile)
{
	static const char *const cl[] = {"c1", "c2"};
	char *dir = t_tmpdir(), err[MC_ERRLEN];
	char *rp = pathf(dir, "root-cert.pem"), *rk = pathf(dir, "root-key.pem");
	char *ip = pathf(dir, "c1/ca-cert.pem"), *ik = pathf(dir, "c1/ca-key.pem");
	char *chainp = pathf(dir, "c1/cert-chain.pem"), *croot = pathf(dir, "c2/root-cert.pem");
	X509 *root, *inter;
	EVP_PKEY *pk;
	long pl;
	time_t now = time(NULL);
	GENERAL_NAMES *gens;
	struct mc_chain *ch;

	ck_assert_msg(mc_pki_init(dir, cl, 2, NULL, err, sizeof(err)) == 0, "%s", err);

	root = load_cert(rp);
	pk = X509_get0_pubkey(root);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pk), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(pk), 4096);
	ck_assert_int_eq(X509_get_signature_nid(root), NID_sha256WithRSAEncryption);
	ck_assert_str_eq(name_entry(X509_get_subject_name(root), NID_organizationName), "Istio");
	ck_assert_str_eq(name_entry(X509_get_subject_name(root), NID_commonName), "Root CA");
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(root), X509_get_issuer_name(root)), 0);
	ck_assert_int_eq(X509_self_signed(root, 1), 1);
	ck_assert_int_eq(bc_of(root, &pl), 1);
	ck_assert_int_eq(pl, -1);
	ck_assert_int_eq(crit_of(root, NID_basic_constraints), 1);
	ck_assert_int_eq(crit_of(root, NID_key_usage), 1);
	ck_assert_int_eq(ku_bit(root, 0), 1); /* digitalSignature */
	ck_assert_int_eq(ku_bit(root, 1), 1); /* nonRepudiation */
	ck_assert_int_eq(ku_bit(root, 2), 1); /* keyEncipherment */
	ck_assert_int_eq(ku_bit(root, 5), 1); /* keyCertSign */
	ck_assert_int_eq(ku_bit(root, 6), 0); /* not cRLSign: Istio's profile */
	ck_assert_ptr_nonnull(skid_of(root));
	ck_assert_int_le(labs((long)(tm_of(X509_get0_notAfter(root)) - (now + 3650L * 86400))), 10);
	{
		const ASN1_INTEGER *s = X509_get0_serialNumber(root);
		BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);

		ck_assert(!BN_is_negative(bn) && !BN_is_zero(bn));
		ck_assert_int_le(BN_num_bits(bn), 128);
		ck_assert_int_ge(BN_num_bits(bn), 64); /* random, not a counter */
		BN_free(bn);
	}

	inter = load_cert(ip);
	ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(inter)), 4096);
	ck_assert_str_eq(name_entry(X509_get_subject_name(inter), NID_organizationName), "Istio");
	ck_assert_str_eq(name_entry(X509_get_subject_name(inter), NID_commonName), "Intermediate CA");
	ck_assert_str_eq(name_entry(X509_get_subject_name(inter), NID_localityName), "c1");
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(inter), X509_get_subject_name(root)), 0);
	ck_assert_int_eq(bc_of(inter, &pl), 1);
	ck_assert_int_eq(pl, 0);
	ck_assert_int_eq(crit_of(inter, NID_basic_constraints), 1);
	ck_assert_int_eq(crit_of(inter, NID_key_usage), 1);
	ck_assert_int_eq(ku_bit(inter, 0), 1);
	ck_assert_int_eq(ku_bit(inter, 1), 1);
	ck_assert_int_eq(ku_bit(inter, 2), 1);
	ck_assert_int_eq(ku_bit(inter, 5), 1);
	gens = X509_get_ext_d2i(inter, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(gens);
	ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 1);
	ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 0)->type, GEN_DNS);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens, 0)->d.dNSName),
			 "istiod.istio-system.svc");
	GENERAL_NAMES_free(gens);
	ck_assert_ptr_nonnull(skid_of(inter));
	ck_assert_ptr_nonnull(akid_of(inter));
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(akid_of(inter), skid_of(root)), 0);
	ck_assert_int_le(tm_of(X509_get0_notAfter(inter)), tm_of(X509_get0_notAfter(root)));
	pk = load_key(ik);
	ck_assert_int_eq(X509_check_private_key(inter, pk), 1);
	EVP_PKEY_free(pk);

	/* Keys are private; certificates are not. */
	ck_assert_int_eq(file_mode(rk), 0600);
	ck_assert_int_eq(file_mode(ik), 0600);
	ck_assert_int_eq(file_mode(rp), 0644);
	{
		char *k2 = pathf(dir, "c2/ca-key.pem");

		ck_assert_int_eq(file_mode(k2), 0600);
		free(k2);
	}

	/* cert-chain.pem = intermediate + root; every cluster folder has the root. */
	ch = load_chain(chainp);
	ck_assert_uint_eq(mc_chain_count(ch), 2);
	ck_assert_int_eq(X509_cmp(mc_chain_get(ch, 0), inter), 0);
	ck_assert_int_eq(X509_cmp(mc_chain_get(ch, 1), root), 0);
	mc_chain_free(ch);
	ch = load_chain(croot);
	ck_assert_int_eq(X509_cmp(mc_chain_get(ch, 0), root), 0);
	mc_chain_free(ch);

	openssl_verify_ok(rp, NULL, ip);

	/* A CA is never overwritten. */
	ck_assert_int_eq(mc_pki_init(dir, cl, 2, NULL, err, sizeof(err)), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "root-key.pem"));

	X509_free(root);
	X509_free(inter);
	mc_rm_rf(dir);
	free(dir);
	free(rp);
	free(rk);
	free(ip);
	free(ik);
	free(chainp);
	free(croot);
}
END_TEST

START_TEST(init_names_and_options)
{
	static const char *const cl[] = {"edge-1"};
	struct mc_ca_options o = {0};
	char *dir = t_tmpdir(), err[MC_ERRLEN];
	char *rp = pathf(dir, "root-cert.pem"), *ip = pathf(dir, "edge-1/ca-cert.pem");
	X509 *root, *inter;
	time_t now = time(NULL);

	o.key = MC_KEY_EC256;
	o.root_cn = "EMCO Root CA";
	o.root_org = "project-emco.io";
	o.int_cn = "EMCO Intermediate";
	o.int_org = "project-emco.io";
	o.root_days = 10;
	o.int_days = 30; /* longer than the root: clamped */
	ck_assert_msg(mc_pki_init(dir, cl, 1, &o, err, sizeof(err)) == 0, "%s", err);
	root = load_cert(rp);
	inter = load_cert(ip);
	ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(root)), EVP_PKEY_EC);
	ck_assert_int_eq(X509_get_signature_nid(inter), NID_ecdsa_with_SHA256);
	ck_assert_str_eq(name_entry(X509_get_subject_name(root), NID_commonName), "EMCO Root CA");
	ck_assert_str_eq(name_entry(X509_get_subject_name(root), NID_organizationName), "project-emco.io");
	ck_assert_str_eq(name_entry(X509_get_subject_name(inter), NID_commonName), "EMCO Intermediate");
	ck_assert_str_eq(name_entry(X509_get_subject_name(inter), NID_localityName), "edge-1");
	ck_assert_int_le(labs((long)(tm_of(X509_get0_notAfter(root)) - (now + 10 * 86400))), 10);
	ck_assert_int_eq(tm_of(X509_get0_notAfter(inter)), tm_of(X509_get0_notAfter(root)));
	openssl_verify_ok(rp, NULL, ip);
	X509_free(root);
	X509_free(inter);
	mc_rm_rf(dir);
	free(dir);
	free(rp);
	free(ip);
}
END_TEST

START_TEST(init_rejects_bad_input)
{
	static const char *const bad1[] = {"../x"};
	static const char *const bad2[] = {""};
	static const char *const dup[] = {"c1", "c1"};
	struct mc_ca_options o = {0};
	char *dir = t_tmpdir(), err[MC_ERRLEN];

	o.key = MC_KEY_EC256;
	ck_assert_int_eq(mc_pki_init(dir, bad1, 1, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cluster"));
	ck_assert_int_eq(mc_pki_init(dir, bad2, 1, &o, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(mc_pki_init(dir, dup, 2, &o, err, sizeof(err)), -EINVAL);
	o.trust_domain = "Bad Domain";
	ck_assert_int_eq(mc_pki_init(dir, dup, 1, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "trust domain"));
	mc_rm_rf(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* issue: Istio's workload profile                                           */

START_TEST(issue_workload_profile)
{
	static const char *const cl[] = {"c1"};
	char *dir = t_tmpdir();
	char *ca = pathf(dir, "c1"), *w = pathf(dir, "w");
	char *rp = pathf(dir, "root-cert.pem"), *ip = pathf(dir, "c1/ca-cert.pem");
	char *cp = pathf(w, "cert.pem"), *kp = pathf(w, "key.pem"), *chp = pathf(w, "cert-chain.pem");
	char *wroot = pathf(w, "root-cert.pem");
	X509 *leaf, *inter;
	GENERAL_NAMES *gens;
	EXTENDED_KEY_USAGE *eku;
	time_t now = time(NULL);
	int crit = -1;
	long pl;
	struct mc_chain *ch;

	init_ec(dir, cl, 1);
	issue_ec(ca, "spiffe://cluster.local/ns/foo/sa/bar", 3600, w);
	leaf = load_cert(cp);
	inter = load_cert(ip);

	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(leaf)), 0);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(inter)), 0);
	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	ck_assert_ptr_nonnull(gens);
	ck_assert_int_eq(crit, 1);
	ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 1);
	ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 0)->type, GEN_URI);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(gens, 0)->d.uniformResourceIdentifier),
			 "spiffe://cluster.local/ns/foo/sa/bar");
	GENERAL_NAMES_free(gens);
	ck_assert_int_eq(bc_of(leaf, &pl), 0);
	ck_assert_int_eq(crit_of(leaf, NID_basic_constraints), 1);
	ck_assert_int_eq(crit_of(leaf, NID_key_usage), 1);
	ck_assert_int_eq(ku_bit(leaf, 0), 1); /* digitalSignature */
	ck_assert_int_eq(ku_bit(leaf, 2), 1); /* keyEncipherment */
	ck_assert_int_eq(ku_bit(leaf, 1), 0);
	ck_assert_int_eq(ku_bit(leaf, 5), 0); /* never keyCertSign */
	eku = X509_get_ext_d2i(leaf, NID_ext_key_usage, NULL, NULL);
	ck_assert_ptr_nonnull(eku);
	ck_assert_int_eq(sk_ASN1_OBJECT_num(eku), 2);
	ck_assert_int_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_server_auth);
	ck_assert_int_eq(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 1)), NID_client_auth);
	EXTENDED_KEY_USAGE_free(eku);
	ck_assert_ptr_nonnull(akid_of(leaf));
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(akid_of(leaf), skid_of(inter)), 0);
	ck_assert_int_le(labs((long)(tm_of(X509_get0_notBefore(leaf)) - (now - 120))), 10);
	ck_assert_int_le(labs((long)(tm_of(X509_get0_notAfter(leaf)) - (now + 3600))), 10);
	ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_EC);
	{
		EVP_PKEY *k = load_key(kp);

		ck_assert_int_eq(X509_check_private_key(leaf, k), 1);
		EVP_PKEY_free(k);
	}
	ck_assert_int_eq(file_mode(kp), 0600);
	ck_assert_int_eq(file_mode(cp), 0644);

	/* cert-chain.pem: leaf, intermediate, root. */
	ch = load_chain(chp);
	ck_assert_uint_eq(mc_chain_count(ch), 3);
	ck_assert_int_eq(X509_cmp(mc_chain_get(ch, 0), leaf), 0);
	ck_assert_int_eq(X509_cmp(mc_chain_get(ch, 1), inter), 0);
	mc_chain_free(ch);
	ck_assert_int_eq(access(wroot, F_OK), 0);

	openssl_verify_ok(rp, ip, cp);

	X509_free(leaf);
	X509_free(inter);
	mc_rm_rf(dir);
	free(dir);
	free(ca);
	free(w);
	free(rp);
	free(ip);
	free(cp);
	free(kp);
	free(chp);
	free(wroot);
}
END_TEST

START_TEST(issue_default_key_is_rsa2048)
{
	static const char *const cl[] = {"c1"};
	struct mc_issue_options io = {0};
	char *dir = t_tmpdir(), err[MC_ERRLEN];
	char *ca = pathf(dir, "c1"), *w = pathf(dir, "w"), *cp = pathf(dir, "w/cert.pem");
	char *rp = pathf(dir, "root-cert.pem"), *ip = pathf(dir, "c1/ca-cert.pem");
	const char *dns[] = {"bar.foo.svc.cluster.local"};
	X509 *leaf;
	time_t now = time(NULL);

	init_ec(dir, cl, 1);
	io.spiffe = "spiffe://example.org/ns/default/sa/default";
	io.dns = dns;
	io.n_dns = 1;
	ck_assert_msg(mc_pki_issue(ca, &io, w, err, sizeof(err)) == 0, "%s", err);
	leaf = load_cert(cp);
	ck_assert_int_eq(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(X509_get0_pubkey(leaf)), 2048);
	/* Default TTL 24h. */
	ck_assert_int_le(labs((long)(tm_of(X509_get0_notAfter(leaf)) - (now + 86400))), 10);
	ck_assert_int_eq(X509_check_host(leaf, "bar.foo.svc.cluster.local", 0, 0, NULL), 1);
	openssl_verify_ok(rp, ip, cp);
	X509_free(leaf);
	mc_rm_rf(dir);
	free(dir);
	free(ca);
	free(w);
	free(cp);
	free(rp);
	free(ip);
}
END_TEST

START_TEST(issue_clamps_to_signer)
{
	static const char *const cl[] = {"c1"};
	struct mc_ca_options o = {0};
	char *dir = t_tmpdir(), err[MC_ERRLEN];
	char *ca = pathf(dir, "c1"), *w = pathf(dir, "w");
	char *cp = pathf(dir, "w/cert.pem"), *ip = pathf(dir, "c1/ca-cert.pem");
	X509 *leaf, *inter;

	o.key = MC_KEY_EC256;
	o.root_days = 2;
	o.int_days = 1;
	ck_assert_msg(mc_pki_init(dir, cl, 1, &o, err, sizeof(err)) == 0, "%s", err);
	issue_ec(ca, "spiffe://cluster.local/ns/a/sa/b", 90L * 86400, w);
	leaf = load_cert(cp);
	inter = load_cert(ip);
	ck_assert_int_eq(tm_of(X509_get0_notAfter(leaf)), tm_of(X509_get0_notAfter(inter)));
	X509_free(leaf);
	X509_free(inter);
	mc_rm_rf(dir);
	free(dir);
	free(ca);
	free(w);
	free(cp);
	free(ip);
}
END_TEST

START_TEST(issue_rejects_bad_spiffe)
{
	static const char *const cl[] = {"c1"};
	static const char *const bad[] = {
		"", "http://cluster.local/ns/a/sa/b", "spiffe://", "spiffe:///ns/a/sa/b", "spiffe://cluster.local",
		"spiffe://cluster.local/ns//sa/b", "spiffe://cluster.local/ns/a/sa/", "spiffe://cluster.local/ns/a",
		"spiffe://cluster.local/ns/a/b/c", "spiffe://Cluster Local/ns/a/sa/b", "spiffe://cluster.local/ns/a/sa/b/extra",
		"spiffe://cluster.local/ns/../sa/b",
	};
	struct mc_issue_options io = {0};
	char *dir = t_tmpdir(), err[MC_ERRLEN];
	char *ca = pathf(dir, "c1"), *w = pathf(dir, "w");

	init_ec(dir, cl, 1);
	io.key = MC_KEY_EC256;
	io.key_set = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		io.spiffe = bad[i];
		err[0] = '\0';
		ck_assert_msg(mc_pki_issue(ca, &io, w, err, sizeof(err)) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_msg(strstr(err, "SPIFFE") != NULL, "unclear message for \"%s\": %s", bad[i], err);
	}
	io.spiffe = NULL;
	ck_assert_int_eq(mc_pki_issue(ca, &io, w, err, sizeof(err)), -EINVAL);
	ck_assert_int_ne(access(w, F_OK), 0); /* nothing written */
	ck_assert_int_eq(mc_spiffe_validate("spiffe://td.example/ns/n-1/sa/s_2", err, sizeof(err)), 0);

	/* Not a CA folder. */
	io.spiffe = "spiffe://cluster.local/ns/a/sa/b";
	ck_assert_int_lt(mc_pki_issue(w, &io, w, err, sizeof(err)), 0);
	mc_rm_rf(dir);
	free(dir);
	free(ca);
	free(w);
}
END_TEST

/* A second intermediate under the same root (a CA rotation): new workload chains still verify to the root. */
START_TEST(add_intermediate_under_same_root)
{
	struct fixture f;
	struct mc_ca_options o = {.key = MC_KEY_EC256};
	struct mc_chain *peer, *roots, *old_ca, *new_ca;
	struct mc_verify_result r;
	char err[MC_ERRLEN], *nd, *nw, *chain, *p;

	fixture_up(&f, 86400);
	nd = pathf(f.dir, "c1-r1");
	nw = pathf(f.dir, "w2");
	ck_assert_msg(mc_pki_add_intermediate(f.dir, "c1", nd, &o, err, sizeof(err)) == 0, "%s", err);
	/* Not twice into the same folder, and never from a folder that is not a root's. */
	ck_assert_int_eq(mc_pki_add_intermediate(f.dir, "c1", nd, &o, err, sizeof(err)), -EEXIST);
	ck_assert_int_lt(mc_pki_add_intermediate(f.ca_dir, "c1", f.w, &o, err, sizeof(err)), 0);
	issue_ec(nd, "spiffe://cluster.local/ns/foo/sa/bar", 3600, nw);
	chain = pathf(nw, "cert-chain.pem");
	peer = load_chain(chain);
	roots = load_chain(f.root);
	ck_assert_msg(mc_chain_verify(peer, roots, NULL, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(r.ok && r.chains_to_root, "%s", r.verify_error ? r.verify_error : "?");
	mc_verify_result_clear(&r);
	/* A new intermediate: not the old one. */
	p = pathf(f.ca_dir, "ca-cert.pem");
	old_ca = load_chain(p);
	free(p);
	p = pathf(nd, "ca-cert.pem");
	new_ca = load_chain(p);
	free(p);
	ck_assert_int_ne(X509_cmp(mc_chain_get(old_ca, 0), mc_chain_get(new_ca, 0)), 0);
	mc_chain_free(old_ca);
	mc_chain_free(new_ca);
	mc_chain_free(peer);
	mc_chain_free(roots);
	free(chain);
	free(nd);
	free(nw);
	fixture_down(&f);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Verification                                                               */

START_TEST(verify_good_chain)
{
	struct fixture f;
	struct mc_chain *peer, *roots;
	struct mc_verify_options vo = {0};
	struct mc_verify_result r;
	char err[MC_ERRLEN];
	struct mc_cert_info ci;
	cJSON *j;

	fixture_up(&f, 86400);
	peer = load_chain(f.chain);
	roots = load_chain(f.root);
	vo.spiffe_pattern = "spiffe://cluster.local/ns/*/sa/*";
	vo.min_validity = 3600;
	ck_assert_msg(mc_chain_verify(peer, roots, &vo, &r, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < r.n_checks; i++)
		ck_assert_msg(r.checks[i].ok, "%s: %s", r.checks[i].name, r.checks[i].detail);
	ck_assert(r.ok);
	ck_assert(r.chains_to_root);
	ck_assert_ptr_null(r.verify_error);
	ck_assert_ptr_nonnull(r.path);
	ck_assert_uint_eq(mc_chain_count(r.path), 3);
	ck_assert_str_eq(r.leaf_spiffe, "spiffe://cluster.local/ns/foo/sa/bar");
	for (const char *const *n = (const char *const[]){"chains_to_root", "pathlen", "leaf_not_ca", "spiffe",
							   "san_critical", "lifetime", "key_usage", NULL};
	     *n != NULL; n++)
		ck_assert_msg(find_check(&r, *n) != NULL, "check %s missing", *n);
	ck_assert_ptr_nonnull(strstr(find_check(&r, "lifetime")->detail, "left"));

	/* The root fingerprint, computed here with OpenSSL. */
	{
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		char hex[8];

		ck_assert_int_eq(X509_digest(mc_chain_get(roots, 0), EVP_sha256(), md, &n), 1);
		snprintf(hex, sizeof(hex), "%02X:%02X", md[0], md[1]);
		ck_assert_int_eq(strncmp(r.root_fingerprint, hex, 5), 0);
		ck_assert_uint_eq(strlen(r.root_fingerprint), 95);
	}

	/* Facts of the leaf. */
	ck_assert_int_eq(mc_cert_info_get(peer, 0, &ci, err, sizeof(err)), 0);
	ck_assert_str_eq(ci.subject, "");
	ck_assert_str_eq(ci.spiffe, "spiffe://cluster.local/ns/foo/sa/bar");
	ck_assert_uint_eq(ci.n_sans, 1);
	ck_assert_str_eq(ci.sans[0], "URI:spiffe://cluster.local/ns/foo/sa/bar");
	ck_assert(ci.san_critical);
	ck_assert(!ci.is_ca);
	ck_assert(ci.bc_critical);
	ck_assert_str_eq(ci.key_type, "EC");
	ck_assert_int_eq(ci.key_bits, 256);
	ck_assert_str_eq(ci.curve, "P-256");
	ck_assert_str_eq(ci.key_usage, "digitalSignature, keyEncipherment");
	ck_assert_str_eq(ci.ext_key_usage, "serverAuth, clientAuth");
	ck_assert(!ci.self_signed);
	j = mc_cert_info_json(&ci);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(j, "sha256_fingerprint"));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "pathlen")));
	cJSON_Delete(j);
	mc_cert_info_clear(&ci);
	ck_assert_int_eq(mc_cert_info_get(peer, 1, &ci, err, sizeof(err)), 0);
	ck_assert(ci.is_ca);
	ck_assert_int_eq(ci.pathlen, 0);
	ck_assert_str_eq(ci.subject, "L=c1,CN=Intermediate CA,O=Istio");
	mc_cert_info_clear(&ci);
	ck_assert_int_eq(mc_cert_info_get(peer, 2, &ci, err, sizeof(err)), 0);
	ck_assert(ci.self_signed);
	ck_assert_int_eq(ci.pathlen, -1);
	mc_cert_info_clear(&ci);
	ck_assert_int_eq(mc_cert_info_get(peer, 3, &ci, err, sizeof(err)), -EINVAL);

	j = mc_verify_result_json(&r);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "checks")), (int)r.n_checks);
	cJSON_Delete(j);

	/* Without the root in the chain it still verifies (the root comes from roots). */
	mc_verify_result_clear(&r);
	mc_chain_free(peer);
	{
		char *ip = pathf(f.ca_dir, "ca-cert.pem"), *cp = pathf(f.w, "cert.pem");
		struct mc_chain *leaf = load_chain(cp), *inter = load_chain(ip);

		ck_assert_int_eq(mc_chain_add(leaf, mc_chain_get(inter, 0)), 0);
		ck_assert_int_eq(mc_chain_verify(leaf, roots, NULL, &r, err, sizeof(err)), 0);
		ck_assert(r.ok);
		ck_assert_uint_eq(mc_chain_count(r.path), 3);
		mc_verify_result_clear(&r);
		/* Leaf alone: the intermediate is missing. */
		mc_chain_free(leaf);
		leaf = load_chain(cp);
		ck_assert_int_eq(mc_chain_verify(leaf, roots, NULL, &r, err, sizeof(err)), 0);
		ck_assert(!r.ok);
		ck_assert(!r.chains_to_root);
		ck_assert_ptr_nonnull(r.verify_error);
		mc_verify_result_clear(&r);
		mc_chain_free(leaf);
		mc_chain_free(inter);
		free(ip);
		free(cp);
	}
	mc_chain_free(roots);
	fixture_down(&f);
}
END_TEST

START_TEST(verify_foreign_root_fails)
{
	static const char *const cl[] = {"rogue"};
	struct fixture f;
	char *other = t_tmpdir(), *orp = pathf(other, "root-cert.pem"), err[MC_ERRLEN];
	struct mc_chain *peer, *roots;
	struct mc_verify_result r;
	const struct mc_verify_check *c;

	fixture_up(&f, 86400);
	init_ec(other, cl, 1);
	peer = load_chain(f.chain);
	roots = load_chain(orp);
	ck_assert_int_eq(mc_chain_verify(peer, roots, NULL, &r, err, sizeof(err)), 0);
	ck_assert(!r.ok);
	ck_assert(!r.chains_to_root);
	ck_assert_ptr_null(r.path);
	ck_assert_ptr_nonnull(r.verify_error);
	ck_assert_str_eq(r.root_fingerprint, "");
	c = find_check(&r, "chains_to_root");
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->ok);
	ck_assert_ptr_nonnull(strstr(c->detail, "expected"));
	/* The other checks still ran over what was sent. */
	ck_assert(find_check(&r, "leaf_not_ca")->ok);
	ck_assert(find_check(&r, "lifetime")->ok);
	mc_verify_result_clear(&r);

	/* No roots at all: cannot run. */
	{
		struct mc_chain *empty = mc_chain_new();

		ck_assert_int_eq(mc_chain_verify(peer, empty, NULL, &r, err, sizeof(err)), -EINVAL);
		ck_assert_int_eq(mc_chain_verify(empty, roots, NULL, &r, err, sizeof(err)), -EINVAL);
		mc_chain_free(empty);
	}
	mc_chain_free(peer);
	mc_chain_free(roots);
	mc_rm_rf(other);
	free(other);
	free(orp);
	fixture_down(&f);
}
END_TEST

START_TEST(verify_spiffe_mismatch_fails)
{
	struct fixture f;
	struct mc_chain *peer, *roots;
	struct mc_verify_options vo = {0};
	struct mc_verify_result r;
	const struct mc_verify_check *c;
	char err[MC_ERRLEN];

	fixture_up(&f, 86400);
	peer = load_chain(f.chain);
	roots = load_chain(f.root);
	vo.spiffe_pattern = "spiffe://cluster.local/ns/other/sa/*";
	ck_assert_int_eq(mc_chain_verify(peer, roots, &vo, &r, err, sizeof(err)), 0);
	ck_assert(!r.ok);
	ck_assert(r.chains_to_root);
	c = find_check(&r, "spiffe");
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->ok);
	ck_assert_ptr_nonnull(strstr(c->detail, "spiffe://cluster.local/ns/other/sa/*"));
	ck_assert_ptr_nonnull(strstr(c->detail, "spiffe://cluster.local/ns/foo/sa/bar"));
	ck_assert(find_check(&r, "san_critical")->ok);
	mc_verify_result_clear(&r);
	mc_chain_free(peer);
	mc_chain_free(roots);
	fixture_down(&f);
}
END_TEST

START_TEST(verify_lifetime)
{
	struct fixture f;
	struct mc_chain *peer, *roots;
	struct mc_verify_options vo = {0};
	struct mc_verify_result r;
	const struct mc_verify_check *c;
	char err[MC_ERRLEN];

	fixture_up(&f, 3600);
	peer = load_chain(f.chain);
	roots = load_chain(f.root);

	/* 1h left, 7d wanted. */
	vo.min_validity = 7 * 86400;
	ck_assert_int_eq(mc_chain_verify(peer, roots, &vo, &r, err, sizeof(err)), 0);
	ck_assert(!r.ok);
	ck_assert(r.chains_to_root);
	c = find_check(&r, "lifetime");
	ck_assert(!c->ok);
	ck_assert_msg(strstr(c->detail, "left") != NULL && strstr(c->detail, "7d") != NULL, "%s", c->detail);
	mc_verify_result_clear(&r);

	/* Verified two hours from now: expired, and the path no longer verifies either. */
	vo.min_validity = 0;
	vo.now = time(NULL) + 7200;
	ck_assert_int_eq(mc_chain_verify(peer, roots, &vo, &r, err, sizeof(err)), 0);
	ck_assert(!r.ok);
	ck_assert(!find_check(&r, "lifetime")->ok);
	ck_assert_ptr_nonnull(strstr(find_check(&r, "lifetime")->detail, "expired"));
	ck_assert(!r.chains_to_root);
	mc_verify_result_clear(&r);
	mc_chain_free(peer);
	mc_chain_free(roots);
	fixture_down(&f);
}
END_TEST

START_TEST(verify_ca_as_leaf_fails)
{
	struct fixture f;
	struct mc_chain *peer, *roots;
	struct mc_verify_result r;
	char err[MC_ERRLEN], *p;

	fixture_up(&f, 3600);
	p = pathf(f.ca_dir, "cert-chain.pem");
	peer = load_chain(p);
	roots = load_chain(f.root);
	ck_assert_int_eq(mc_chain_verify(peer, roots, NULL, &r, err, sizeof(err)), 0);
	ck_assert(r.chains_to_root);
	ck_assert(!r.ok);
	ck_assert(!find_check(&r, "leaf_not_ca")->ok);
	ck_assert(!find_check(&r, "key_usage")->ok); /* no EKU on a CA */
	mc_verify_result_clear(&r);
	mc_chain_free(peer);
	mc_chain_free(roots);
	free(p);
	fixture_down(&f);
}
END_TEST

/* Signs a certificate with OpenSSL directly (not with the engine). */
static X509 *
raw_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const char *cn, const char *bc, const char *ku,
	 const char *eku, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	const char *exts[][2] = {{"basicConstraints", bc}, {"keyUsage", ku}, {"extendedKeyUsage", eku},
				 {"subjectKeyIdentifier", "hash"}, {"authorityKeyIdentifier", "keyid"},
				 {"subjectAltName", san}};

	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0x7fffffff) + 1);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, X509_get_subject_name(issuer));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		X509_EXTENSION *e;

		if (exts[i][1] == NULL)
			continue;
		e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
		ck_assert_msg(e != NULL, "extension %s", exts[i][0]);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	ck_assert_int_gt(X509_sign(x, issuer_key, EVP_sha256()), 0);
	X509_NAME_free(n);
	return x;
}

START_TEST(verify_pathlen_violation_fails)
{
	struct fixture f;
	char *ip = NULL, *ik = NULL, *bad = NULL, err[MC_ERRLEN];
	X509 *inter, *sub, *leaf;
	EVP_PKEY *inter_key, *sub_key, *leaf_key;
	struct mc_chain *peer, *roots;
	struct mc_verify_result r;
	struct mc_verify_options vo = {0};
	const struct mc_verify_check *c;
	FILE *out;

	fixture_up(&f, 3600);
	ip = pathf(f.ca_dir, "ca-cert.pem");
	ik = pathf(f.ca_dir, "ca-key.pem");
	inter = load_cert(ip);
	inter_key = load_key(ik);
	sub_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	/* The intermediate has pathlen:0, yet it signs another CA, which signs a leaf. */
	sub = raw_cert(sub_key, inter, inter_key, "Rogue Sub CA", "critical,CA:TRUE",
		       "critical,keyCertSign,digitalSignature", NULL, NULL);
	leaf = raw_cert(leaf_key, sub, sub_key, "leaf", "critical,CA:FALSE", "critical,digitalSignature",
			"serverAuth,clientAuth", "URI:spiffe://cluster.local/ns/x/sa/y");
	bad = pathf(f.dir, "bad-chain.pem");
	out = fopen(bad, "w");
	ck_assert_ptr_nonnull(out);
	PEM_write_X509(out, leaf);
	PEM_write_X509(out, sub);
	PEM_write_X509(out, inter);
	fclose(out);

	peer = load_chain(bad);
	roots = load_chain(f.root);
	vo.spiffe_pattern = "spiffe://cluster.local/*";
	ck_assert_int_eq(mc_chain_verify(peer, roots, &vo, &r, err, sizeof(err)), 0);
	ck_assert(!r.ok);
	c = find_check(&r, "pathlen");
	ck_assert_ptr_nonnull(c);
	ck_assert_msg(!c->ok, "pathlen passed: %s", c->detail);
	ck_assert_msg(strstr(c->detail, "pathlen:0") != NULL && strstr(c->detail, "Intermediate CA") != NULL, "%s",
		      c->detail);
	/* OpenSSL refuses the path as well. */
	ck_assert(!r.chains_to_root);
	ck_assert(find_check(&r, "spiffe")->ok);
	ck_assert(find_check(&r, "leaf_not_ca")->ok);
	mc_verify_result_clear(&r);

	mc_chain_free(peer);
	mc_chain_free(roots);
	X509_free(inter);
	X509_free(sub);
	X509_free(leaf);
	EVP_PKEY_free(inter_key);
	EVP_PKEY_free(sub_key);
	EVP_PKEY_free(leaf_key);
	free(ip);
	free(ik);
	free(bad);
	fixture_down(&f);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* PEM input                                                                 */

/* Loads text as dir/name and expects -EINVAL with "name:line:" in the message. */
static void
expect_bad_pem(const char *dir, const char *name, const char *text, int line, const char *words)
{
	char *p = t_write(dir, name, text);
	char err[MC_ERRLEN] = "", *want = mc_xasprintf("%s:%d:", p, line);
	struct mc_chain *c = (struct mc_chain *)1;

	ck_assert_int_eq(mc_chain_load_pem(p, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, want) != NULL, "%s: expected \"%s\" in: %s", name, want, err);
	ck_assert_msg(strstr(err, words) != NULL, "%s: expected \"%s\" in: %s", name, words, err);
	free(want);
	free(p);
}

START_TEST(pem_errors_name_file_and_line)
{
	struct fixture f;
	char *root_text, *text, *key_text, *kp;
	size_t n;

	fixture_up(&f, 3600);
	root_text = t_read(f.root);
	kp = pathf(f.w, "key.pem");
	key_text = t_read(kp);
	n = strlen(root_text);

	expect_bad_pem(f.dir, "empty.pem", "", 1, "empty");
	expect_bad_pem(f.dir, "blank.pem", "\n\n  \n", 1, "empty");
	expect_bad_pem(f.dir, "text.pem", "\nthis is not a certificate\n", 2, "not PEM");

	/* Truncated: the BEGIN line is line 3 (after a comment and a blank line). */
	text = mc_xasprintf("# root\n\n%.*s", (int)(n / 2), root_text);
	expect_bad_pem(f.dir, "trunc.pem", text, 3, "truncated PEM block (BEGIN CERTIFICATE without END)");
	free(text);

	/* A good certificate, then a truncated one, then another good one. */
	{
		size_t lines = 0;

		for (const char *q = root_text; *q != '\0'; q++)
			lines += *q == '\n';
		text = mc_xasprintf("%s%.*s%s", root_text, (int)(n / 2), root_text, root_text);
		expect_bad_pem(f.dir, "trunc2.pem", text, (int)lines + 1, "truncated");
		free(text);
	}

	/* Corrupt base64: an invalid character in the body. */
	text = mc_xstrdup(root_text);
	text[strchr(text, '\n') - text + 10] = '!';
	expect_bad_pem(f.dir, "b64.pem", text, 1, "corrupt base64");
	free(text);

	/* Corrupt base64: characters lost (bad length). */
	text = mc_xstrdup(root_text);
	{
		char *second = strchr(text, '\n') + 1;

		memmove(second + 5, second + 8, strlen(second + 8) + 1);
	}
	expect_bad_pem(f.dir, "b64len.pem", text, 1, "corrupt base64");
	free(text);

	/* Valid base64, invalid DER. */
	expect_bad_pem(f.dir, "der.pem",
		       "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n", 1,
		       "not a valid X.509");

	/* Mismatched END. */
	expect_bad_pem(f.dir, "mismatch.pem",
		       "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n", 1, "END PRIVATE KEY");

	/* Only a key: no certificate. */
	expect_bad_pem(f.dir, "key.pem", key_text, 1, "no certificate");

	free(root_text);
	free(key_text);
	free(kp);
	fixture_down(&f);
}
END_TEST

START_TEST(pem_skips_keys_and_text)
{
	struct fixture f;
	char *root_text, *kp, *key_text, *text, *p, err[MC_ERRLEN], *pem;
	struct mc_chain *c = NULL, *c2 = NULL;

	fixture_up(&f, 3600);
	root_text = t_read(f.root);
	kp = pathf(f.w, "key.pem");
	key_text = t_read(kp);
	text = mc_xasprintf("Certificate:\n    Data: something\n%s\r\n%s", key_text, root_text);
	ck_assert_int_eq(mc_chain_parse_pem(text, strlen(text), "mem", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(mc_chain_count(c), 1);

	/* Round trip through the writer. */
	p = pathf(f.dir, "out.pem");
	ck_assert_int_eq(mc_chain_write_pem(c, p, err, sizeof(err)), 0);
	ck_assert_int_eq(file_mode(p), 0644);
	c2 = load_chain(p);
	ck_assert_int_eq(X509_cmp(mc_chain_get(c, 0), mc_chain_get(c2, 0)), 0);
	pem = mc_chain_to_pem(c2);
	ck_assert_str_eq(pem, root_text);
	free(pem);
	mc_chain_free(c2);

	/* Too large. */
	{
		size_t big = (size_t)5 << 20;
		char *huge = mc_xmalloc(big);

		memset(huge, 'A', big);
		ck_assert_int_eq(mc_chain_parse_pem(huge, big, "huge.pem", &c2 /* unchanged on error */, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "huge.pem"));
		free(huge);
	}
	ck_assert_int_eq(mc_chain_load_pem("/nonexistent/x.pem", &c2, err, sizeof(err)), -ENOENT);
	mc_chain_free(c);
	mc_chain_free(NULL);
	free(root_text);
	free(key_text);
	free(kp);
	free(text);
	free(p);
	fixture_down(&f);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Fetch errors (loopback only, no TLS server needed)                          */

/* A listening socket on 127.0.0.1 with a free port. */
static int
listen_any(int *port)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

START_TEST(fetch_refused)
{
	struct mc_fetch_options fo = {0};
	struct mc_chain *c = NULL;
	char err[MC_ERRLEN];
	int port, fd = listen_any(&port);

	close(fd); /* nothing listens there now */
	fo.host = "127.0.0.1";
	fo.port = port;
	fo.timeout_ms = 2000;
	ck_assert_int_eq(mc_chain_fetch(&fo, &c, err, sizeof(err)), -ECONNREFUSED);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "refused"));
}
END_TEST

START_TEST(fetch_times_out)
{
	struct mc_fetch_options fo = {0};
	struct mc_chain *c = NULL;
	char err[MC_ERRLEN];
	int port, fd = listen_any(&port);
	double t0 = mc_monotonic();

	/* The kernel completes the TCP handshake; nobody ever answers the ClientHello. */
	fo.host = "127.0.0.1";
	fo.port = port;
	fo.timeout_ms = 300;
	ck_assert_int_eq(mc_chain_fetch(&fo, &c, err, sizeof(err)), -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(err, "timed out"));
	ck_assert(mc_monotonic() - t0 < 2.0);
	close(fd);
}
END_TEST

START_TEST(fetch_not_tls)
{
	struct mc_fetch_options fo = {0};
	struct mc_chain *c = NULL;
	char err[MC_ERRLEN];
	int port, fd = listen_any(&port);
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A plaintext HTTP server that answers anything with a 400 and closes. */
		static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		int cfd = accept(fd, NULL, NULL);
		char buf[512];

		if (cfd >= 0) {
			(void)read(cfd, buf, sizeof(buf));
			(void)write(cfd, resp, sizeof(resp) - 1);
			close(cfd);
		}
		_exit(0);
	}
	fo.host = "127.0.0.1";
	fo.port = port;
	fo.timeout_ms = 3000;
	ck_assert_int_eq(mc_chain_fetch(&fo, &c, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "TLS") != NULL, "%s", err);
	waitpid(pid, NULL, 0);
	close(fd);
}
END_TEST

START_TEST(fetch_rejects_bad_options)
{
	struct mc_fetch_options fo = {0};
	struct mc_chain *c = NULL;
	char err[MC_ERRLEN];

	ck_assert_int_eq(mc_chain_fetch(&fo, &c, err, sizeof(err)), -EINVAL);
	fo.host = "127.0.0.1";
	fo.port = 443;
	fo.cert = "/tmp/x.pem";
	ck_assert_int_eq(mc_chain_fetch(&fo, &c, err, sizeof(err)), -EINVAL);
	fo.key = "/nonexistent/key.pem";
	fo.cert = "/nonexistent/cert.pem";
	ck_assert_int_eq(mc_chain_fetch(&fo, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/cert.pem"));
}
END_TEST

static Suite *
pki_suite(void)
{
	Suite *s = suite_create("pki");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, key_type_parse);
	tcase_add_test(tc, init_default_rsa4096_profile);
	tcase_add_test(tc, init_names_and_options);
	tcase_add_test(tc, init_rejects_bad_input);
	tcase_add_test(tc, issue_workload_profile);
	tcase_add_test(tc, issue_default_key_is_rsa2048);
	tcase_add_test(tc, issue_clamps_to_signer);
	tcase_add_test(tc, issue_rejects_bad_spiffe);
	tcase_add_test(tc, add_intermediate_under_same_root);
	tcase_add_test(tc, verify_good_chain);
	tcase_add_test(tc, verify_foreign_root_fails);
	tcase_add_test(tc, verify_spiffe_mismatch_fails);
	tcase_add_test(tc, verify_lifetime);
	tcase_add_test(tc, verify_ca_as_leaf_fails);
	tcase_add_test(tc, verify_pathlen_violation_fails);
	tcase_add_test(tc, pem_errors_name_file_and_line);
	tcase_add_test(tc, pem_skips_keys_and_text);
	tcase_add_test(tc, fetch_refused);
	tcase_add_test(tc, fetch_times_out);
	tcase_add_test(tc, fetch_not_tls);
	tcase_add_test(tc, fetch_rejects_bad_options);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_main(pki_suite());
}
