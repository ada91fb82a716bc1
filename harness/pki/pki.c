/*
 * The PKI engine (see pki.h): CA hierarchies in Istio's plug-in layout,
 * workload certificates, PEM loading with precise errors, fetching a peer's
 * chain over TLS, certificate facts and chain verification.
 *
 * Only the OpenSSL 3 API is used: deprecated declarations are hidden below,
 * so a deprecated call does not compile.
 */
#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 30000
#endif

#include "pki.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "util.h"

#define PEM_MAX ((size_t)4 << 20)      /* largest PEM input accepted */
#define CHAIN_MAX 64                   /* most certificates in one chain */
#define WORKLOAD_BACKDATE 120          /* NotBefore = now - 2 min, as Istio */
#define DEFAULT_TTL 86400
#define DEFAULT_DAYS 3650
#define MAX_DAYS 36500

struct mc_chain {
	STACK_OF(X509) *certs;
};

/* Frees a stack and its certificates (OSSL_STACK_OF_X509_free is 3.2+). NULL does nothing. */
static void
stack_free(STACK_OF(X509) *sk)
{
	sk_X509_pop_free(sk, X509_free);
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

/*
 * Formats a message, appends OpenSSL's first queued reason (if any) and
 * empties OpenSSL's error queue. Returns -code like mc_err.
 */
static int ossl_err(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int
ossl_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	char msg[600], reason[256] = "";
	unsigned long e = ERR_get_error();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (reason[0] != '\0')
		return mc_err(err, errlen, code, "%s (OpenSSL: %s)", msg, reason);
	return mc_err(err, errlen, code, "%s", msg);
}

/* The first queued OpenSSL reason, or a fallback; empties the queue. */
static void
ossl_reason(char *out, size_t outlen, const char *fallback)
{
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, out, outlen);
	else
		snprintf(out, outlen, "%s", fallback);
	ERR_clear_error();
}

static int
asn1_to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

static void
iso_time(time_t t, char *out, size_t outlen)
{
	mc_time_iso8601((double)t, out, outlen);
}

/* A duration for people: "7d", "23h59m", "4m10s", "12s". */
static void
fmt_duration(long s, char *out, size_t outlen)
{
	const char *sign = s < 0 ? "-" : "";

	if (s < 0)
		s = -s;
	if (s >= 86400)
		snprintf(out, outlen, "%s%ldd%ldh", sign, s / 86400, (s % 86400) / 3600);
	else if (s >= 3600)
		snprintf(out, outlen, "%s%ldh%02ldm", sign, s / 3600, (s % 3600) / 60);
	else if (s >= 60)
		snprintf(out, outlen, "%s%ldm%02lds", sign, s / 60, s % 60);
	else
		snprintf(out, outlen, "%s%lds", sign, s);
}

/*
 * A printable copy of bytes from a certificate: control characters, bytes
 * above 0x7e and backslashes are escaped as \xNN, so a hostile certificate
 * cannot write to a terminal or a report. Caller frees.
 */
static char *
printable(const unsigned char *s, size_t n)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	mc_buf_append(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\')
			mc_buf_printf(&b, "\\x%02x", s[i]);
		else
			mc_buf_append(&b, &s[i], 1);
	}
	return mc_buf_steal(&b);
}

/* Returns the contents of a memory BIO as a NUL-terminated string (caller frees) and frees the BIO. */
static char *
bio_take_string(BIO *b)
{
	BUF_MEM *bm = NULL;
	char *s;

	BIO_get_mem_ptr(b, &bm);
	s = mc_xmalloc(bm->length + 1);
	if (bm->length > 0)
		memcpy(s, bm->data, bm->length);
	s[bm->length] = '\0';
	BIO_free(b);
	return s;
}

/* A name in RFC 2253 form ("CN=Root CA,O=Istio"); "" for an empty name. Caller frees. */
static char *
name_string(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b == NULL)
		abort();
	/* UTF-8 stays readable; control characters are still escaped. */
	if (name != NULL && X509_NAME_entry_count(name) > 0)
		X509_NAME_print_ex(b, name, 0, (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT);
	return bio_take_string(b);
}

static void
fingerprint(X509 *x, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t pos = 0;

	out[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1) {
		ERR_clear_error();
		return;
	}
	for (unsigned int i = 0; i < n && pos + 3 < outlen; i++)
		pos += (size_t)snprintf(out + pos, outlen - pos, i == 0 ? "%02X" : ":%02X", md[i]);
}

/* -1 when the extension is absent, else its critical flag. */
static int
ext_critical(const X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	if (i < 0)
		return -1;
	return X509_EXTENSION_get_critical(X509_get_ext(x, i)) ? 1 : 0;
}

static bool
x509_is_ca(const X509 *x, long *pathlen)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	bool ca = false;

	if (pathlen != NULL)
		*pathlen = -1;
	if (bc == NULL)
		return false;
	ca = bc->ca != 0;
	if (ca && pathlen != NULL && bc->pathlen != NULL)
		*pathlen = ASN1_INTEGER_get(bc->pathlen);
	BASIC_CONSTRAINTS_free(bc);
	return ca;
}

static bool
x509_self_issued(X509 *x)
{
	return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

/* The first spiffe:// URI SAN (printable copy, caller frees), or NULL. */
static char *
x509_spiffe(const X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char *out = NULL;

	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && out == NULL; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_IA5STRING *s;

		if (g->type != GEN_URI)
			continue;
		s = g->d.uniformResourceIdentifier;
		if (s->length >= 9 && memcmp(s->data, "spiffe://", 9) == 0)
			out = printable(s->data, (size_t)s->length);
	}
	GENERAL_NAMES_free(gens);
	return out;
}

static bool
x509_has_uri_san(const X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++)
		if (sk_GENERAL_NAME_value(gens, i)->type == GEN_URI)
			found = true;
	GENERAL_NAMES_free(gens);
	return found;
}

/* ------------------------------------------------------------------------ */
/* Key types                                                                 */

int
mc_key_type_parse(const char *s, enum mc_key_type *out)
{
	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "rsa4096") == 0)
		*out = MC_KEY_RSA4096;
	else if (strcmp(s, "rsa2048") == 0)
		*out = MC_KEY_RSA2048;
	else if (strcmp(s, "ec256") == 0)
		*out = MC_KEY_EC256;
	else
		return -EINVAL;
	return 0;
}

const char *
mc_key_type_name(enum mc_key_type k)
{
	switch (k) {
	case MC_KEY_RSA4096:
		return "rsa4096";
	case MC_KEY_RSA2048:
		return "rsa2048";
	case MC_KEY_EC256:
		return "ec256";
	}
	return "unknown";
}

static EVP_PKEY *
key_generate(enum mc_key_type k, char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;

	switch (k) {
	case MC_KEY_RSA4096:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case MC_KEY_RSA2048:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case MC_KEY_EC256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	}
	if (pk == NULL)
		ossl_err(err, errlen, EIO, "cannot generate a %s key", mc_key_type_name(k));
	return pk;
}

/*
 * Writes a private key as PKCS#8 PEM with mode 0600. The PEM text lives in a
 * secure-memory BIO and is wiped before it is freed.
 */
static int
key_write(const char *path, EVP_PKEY *pk, char *err, size_t errlen)
{
	BIO *b = BIO_new(BIO_s_secmem());
	BUF_MEM *bm = NULL;
	int rc;

	if (b == NULL || PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) {
		rc = ossl_err(err, errlen, EIO, "%s: cannot encode the private key", path);
		goto out;
	}
	BIO_get_mem_ptr(b, &bm);
	rc = mc_file_write(path, bm->data, bm->length, 0600, err, errlen);
	OPENSSL_cleanse(bm->data, bm->length);
out:
	BIO_free(b);
	return rc;
}

/* Reads a PEM private key; the file's bytes are wiped after parsing. */
static int
key_read(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	BIO *b;
	int rc;

	if ((rc = mc_file_read(path, 1 << 20, &data, &len, err, errlen)) < 0)
		return rc;
	b = BIO_new_mem_buf(data, (int)len);
	*out = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	OPENSSL_cleanse(data, len);
	free(data);
	if (*out == NULL)
		return ossl_err(err, errlen, EINVAL, "%s: not a PEM private key", path);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Chains                                                                    */

struct mc_chain *
mc_chain_new(void)
{
	struct mc_chain *c = mc_xcalloc(1, sizeof(*c));

	c->certs = sk_X509_new_null();
	if (c->certs == NULL)
		abort();
	return c;
}

void
mc_chain_free(struct mc_chain *c)
{
	if (c == NULL)
		return;
	stack_free(c->certs);
	free(c);
}

size_t
mc_chain_count(const struct mc_chain *c)
{
	return c == NULL ? 0 : (size_t)sk_X509_num(c->certs);
}

/* Appends x, taking ownership of the reference. */
static void
chain_push(struct mc_chain *c, X509 *x)
{
	if (sk_X509_push(c->certs, x) <= 0)
		abort();
}

/* A chain holding new references to the certificates of sk. */
static struct mc_chain *
chain_from_stack(STACK_OF(X509) *sk)
{
	struct mc_chain *c = mc_chain_new();

	for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (X509_up_ref(x) != 1)
			abort();
		chain_push(c, x);
	}
	return c;
}

static X509 *
chain_get(const struct mc_chain *c, size_t i)
{
	return sk_X509_value(c->certs, (int)i);
}

X509 *
mc_chain_get(const struct mc_chain *c, size_t i)
{
	if (c == NULL || i >= mc_chain_count(c))
		return NULL;
	return chain_get(c, i);
}

int
mc_chain_add(struct mc_chain *c, X509 *x)
{
	if (c == NULL || x == NULL || mc_chain_count(c) >= CHAIN_MAX || X509_up_ref(x) != 1)
		return -EINVAL;
	chain_push(c, x);
	return 0;
}

char *
mc_chain_to_pem(const struct mc_chain *c)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b == NULL)
		abort();
	for (size_t i = 0; i < mc_chain_count(c); i++)
		if (PEM_write_bio_X509(b, chain_get(c, i)) != 1)
			abort();
	return bio_take_string(b);
}

int
mc_chain_write_pem(const struct mc_chain *c, const char *path, char *err, size_t errlen)
{
	char *pem;
	int rc;

	if (mc_chain_count(c) == 0)
		return mc_err(err, errlen, EINVAL, "%s: no certificate to write", path);
	pem = mc_chain_to_pem(c);
	rc = mc_file_write(path, pem, strlen(pem), 0644, err, errlen);
	free(pem);
	return rc;
}

/* Trims ASCII white space on both ends of [*s, *e). */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/*
 * When [s, e) is "-----<word> LABEL-----", copies LABEL into label and
 * returns true.
 */
static bool
pem_marker(const char *s, const char *e, const char *word, char *label, size_t labellen)
{
	size_t wl = strlen(word), n = (size_t)(e - s);

	if (n < 10 + wl + 1 || memcmp(s, "-----", 5) != 0 || memcmp(s + 5, word, wl) != 0 ||
	    s[5 + wl] != ' ' || memcmp(e - 5, "-----", 5) != 0)
		return false;
	s += 5 + wl + 1;
	e -= 5;
	if ((size_t)(e - s) >= labellen)
		return false;
	for (const char *p = s; p < e; p++)
		if (!isprint((unsigned char)*p))
			return false;
	memcpy(label, s, (size_t)(e - s));
	label[e - s] = '\0';
	return true;
}

static bool
is_b64(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/' || c == '=';
}

static bool
is_cert_label(const char *label)
{
	return strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0 ||
	       strcmp(label, "TRUSTED CERTIFICATE") == 0;
}

/* Decodes one certificate block's base64 body into an X509. */
static int
pem_block_cert(const char *name, size_t line, const char *label, const struct mc_buf *b64, X509 **out,
	       char *err, size_t errlen)
{
	size_t n = b64->len, pad = 0;
	unsigned char *der = NULL;
	const unsigned char *p;
	int dl, rc = 0;
	X509 *x;

	if (n == 0)
		return mc_err(err, errlen, EINVAL, "%s:%zu: empty %s block", name, line, label);
	while (pad < n && b64->data[n - 1 - pad] == '=')
		pad++;
	if (n % 4 != 0 || pad > 2 || memchr(b64->data, '=', n - pad) != NULL)
		return mc_err(err, errlen, EINVAL, "%s:%zu: corrupt base64 in %s block (bad length or padding)",
			      name, line, label);
	der = mc_xmalloc(n / 4 * 3 + 1);
	dl = EVP_DecodeBlock(der, (const unsigned char *)b64->data, (int)n);
	if (dl < 0) {
		ERR_clear_error();
		rc = mc_err(err, errlen, EINVAL, "%s:%zu: corrupt base64 in %s block", name, line, label);
		goto out;
	}
	dl -= (int)pad;
	p = der;
	x = strcmp(label, "TRUSTED CERTIFICATE") == 0 ? d2i_X509_AUX(NULL, &p, dl) : d2i_X509(NULL, &p, dl);
	if (x == NULL) {
		rc = ossl_err(err, errlen, EINVAL, "%s:%zu: %s block is not a valid X.509 certificate (corrupt DER)",
			      name, line, label);
		goto out;
	}
	if (p != der + dl) {
		X509_free(x);
		rc = mc_err(err, errlen, EINVAL, "%s:%zu: %s block has %ld stray bytes after the certificate",
			    name, line, label, (long)(der + dl - p));
		goto out;
	}
	*out = x;
out:
	free(der);
	return rc;
}

int
mc_chain_parse_pem(const char *data, size_t len, const char *name, struct mc_chain **out, char *err,
		   size_t errlen)
{
	const char *p = data, *end = data + len;
	struct mc_chain *c = NULL;
	struct mc_buf b64;
	char label[64] = "", other[64] = "";
	size_t line = 0, start = 0, first_text = 0, other_line = 0;
	bool inside = false, any_block = false;
	int rc = 0;

	*out = NULL;
	if (name == NULL)
		name = "(input)";
	if (len > PEM_MAX)
		return mc_err(err, errlen, EINVAL, "%s: larger than %zu MiB, not a certificate file", name,
			      PEM_MAX >> 20);
	mc_buf_init(&b64, PEM_MAX);
	c = mc_chain_new();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl != NULL ? nl : end;
		char l2[64];

		line++;
		p = nl != NULL ? nl + 1 : end;
		trim(&s, &e);
		if (s == e)
			continue;
		if (first_text == 0)
			first_text = line;
		if (!inside) {
			/* Text outside blocks (openssl x509 -text output, bag attributes) is ignored. */
			if (pem_marker(s, e, "BEGIN", label, sizeof(label))) {
				inside = true;
				any_block = true;
				start = line;
				b64.len = 0;
			}
			continue;
		}
		if (pem_marker(s, e, "END", l2, sizeof(l2))) {
			X509 *x = NULL;

			if (strcmp(l2, label) != 0) {
				rc = mc_err(err, errlen, EINVAL, "%s:%zu: PEM block BEGIN %s ends with END %s (line %zu)",
					    name, start, label, l2, line);
				goto out;
			}
			inside = false;
			if (!is_cert_label(label)) {
				if (other[0] == '\0') {
					snprintf(other, sizeof(other), "%s", label);
					other_line = start;
				}
				continue;
			}
			if ((rc = pem_block_cert(name, start, label, &b64, &x, err, errlen)) < 0)
				goto out;
			if (mc_chain_count(c) >= CHAIN_MAX) {
				X509_free(x);
				rc = mc_err(err, errlen, EINVAL, "%s:%zu: more than %d certificates", name, start,
					    CHAIN_MAX);
				goto out;
			}
			chain_push(c, x);
			continue;
		}
		/* A block opened inside a block (maybe glued to a cut line): the first is truncated. */
		if (memmem(s, (size_t)(e - s), "-----BEGIN ", 11) != NULL)
			break;
		if (memchr(s, ':', (size_t)(e - s)) != NULL)
			continue; /* RFC 1421 header line (Proc-Type: ...) */
		if (!is_cert_label(label))
			continue;
		for (const char *q = s; q < e; q++) {
			if (!is_b64(*q)) {
				rc = mc_err(err, errlen, EINVAL,
					    "%s:%zu: corrupt base64 in %s block (character 0x%02x on line %zu)", name,
					    start, label, (unsigned char)*q, line);
				goto out;
			}
		}
		if (mc_buf_append(&b64, s, (size_t)(e - s)) < 0) {
			rc = mc_err(err, errlen, EINVAL, "%s:%zu: %s block too large", name, start, label);
			goto out;
		}
	}
	if (inside) {
		rc = mc_err(err, errlen, EINVAL, "%s:%zu: truncated PEM block (BEGIN %s without END)", name, start,
			    label);
		goto out;
	}
	if (mc_chain_count(c) == 0) {
		if (first_text == 0)
			rc = mc_err(err, errlen, EINVAL, "%s:1: empty file (no PEM data)", name);
		else if (!any_block)
			rc = mc_err(err, errlen, EINVAL, "%s:%zu: not PEM (no -----BEGIN line)%s", name, first_text,
				    len > 0 && (unsigned char)data[0] == 0x30 ? "; DER? convert with openssl x509 -inform der" : "");
		else
			rc = mc_err(err, errlen, EINVAL, "%s:%zu: no certificate in the file (first block is %s)", name,
				    other_line, other);
		goto out;
	}
	*out = c;
	c = NULL;
out:
	mc_buf_free(&b64);
	mc_chain_free(c);
	return rc;
}

int
mc_chain_load_pem(const char *path, struct mc_chain **out, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = mc_file_read(path, PEM_MAX, &data, &len, err, errlen);
	if (rc == -EFBIG)
		return mc_err(err, errlen, EINVAL, "%s: larger than %zu MiB, not a certificate file", path,
			      PEM_MAX >> 20);
	if (rc < 0)
		return rc;
	rc = mc_chain_parse_pem(data, len, path, out, err, errlen);
	free(data);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Issuing certificates                                                       */

/* What to put in a certificate. */
struct cert_req {
	EVP_PKEY *key;              /* the subject's key (public part used) */
	X509_NAME *subject;         /* NULL = empty subject */
	X509 *issuer;               /* NULL = self-signed */
	EVP_PKEY *issuer_key;       /* signs; the subject's own key when self-signed */
	time_t not_before, not_after;
	const char *bc, *ku, *eku;  /* openssl.cnf-style values, NULL to omit */
	bool skid, akid;
	const char *uri;            /* URI SAN or NULL */
	const char *const *dns;     /* DNS SANs */
	size_t n_dns;
	bool san_critical;
};

static int
add_ext_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static int
push_name(GENERAL_NAMES *gens, int type, const char *value)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (g == NULL || s == NULL || ASN1_STRING_set(s, value, -1) != 1) {
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(s);
		return -1;
	}
	GENERAL_NAME_set0_value(g, type, s);
	if (sk_GENERAL_NAME_push(gens, g) <= 0) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

/* SANs are built as structures, not config strings: the values are user input. */
static int
add_san(X509 *x, const struct cert_req *r)
{
	GENERAL_NAMES *gens;
	int rc = -1;

	if (r->uri == NULL && r->n_dns == 0)
		return 0;
	gens = GENERAL_NAMES_new();
	if (gens == NULL)
		return -1;
	if (r->uri != NULL && push_name(gens, GEN_URI, r->uri) < 0)
		goto out;
	for (size_t i = 0; i < r->n_dns; i++)
		if (push_name(gens, GEN_DNS, r->dns[i]) < 0)
			goto out;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, r->san_critical ? 1 : 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

/* A random, positive, non-zero 128-bit serial number. */
static int
set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int rc = -1;

	if (bn == NULL)
		return -1;
	do {
		if (BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
			goto out;
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
out:
	BN_free(bn);
	return rc;
}

static X509 *
cert_make(const struct cert_req *r, char *err, size_t errlen)
{
	X509 *x = X509_new();
	X509 *issuer;

	if (x == NULL)
		goto bad;
	issuer = r->issuer != NULL ? r->issuer : x;
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) < 0 ||
	    (r->subject != NULL && X509_set_subject_name(x, r->subject) != 1) ||
	    X509_set_issuer_name(x, r->issuer != NULL ? X509_get_subject_name(r->issuer) : r->subject) != 1 ||
	    ASN1_TIME_set(X509_getm_notBefore(x), r->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), r->not_after) == NULL || X509_set_pubkey(x, r->key) != 1)
		goto bad;
	if (r->bc != NULL && add_ext_conf(x, issuer, NID_basic_constraints, r->bc) < 0)
		goto bad;
	if (r->ku != NULL && add_ext_conf(x, issuer, NID_key_usage, r->ku) < 0)
		goto bad;
	if (r->eku != NULL && add_ext_conf(x, issuer, NID_ext_key_usage, r->eku) < 0)
		goto bad;
	if (r->skid && add_ext_conf(x, issuer, NID_subject_key_identifier, "hash") < 0)
		goto bad;
	/* keyid from the issuer's SKID; issuer name + serial only if it has none. */
	if (r->akid && add_ext_conf(x, issuer, NID_authority_key_identifier, "keyid,issuer") < 0)
		goto bad;
	if (add_san(x, r) < 0)
		goto bad;
	if (X509_sign(x, r->issuer_key, EVP_sha256()) <= 0)
		goto bad;
	return x;
bad:
	ossl_err(err, errlen, EIO, "cannot build the certificate");
	X509_free(x);
	return NULL;
}

static X509_NAME *
make_name(const char *o, const char *cn, const char *l)
{
	X509_NAME *n = X509_NAME_new();
	const char *fields[3][2] = {{"O", o}, {"CN", cn}, {"L", l}};

	if (n == NULL)
		abort();
	for (size_t i = 0; i < 3; i++) {
		if (fields[i][1] == NULL || fields[i][1][0] == '\0')
			continue;
		if (X509_NAME_add_entry_by_txt(n, fields[i][0], MBSTRING_UTF8,
					       (const unsigned char *)fields[i][1], -1, -1, 0) != 1) {
			X509_NAME_free(n);
			ERR_clear_error();
			return NULL;
		}
	}
	return n;
}

static char *
cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b == NULL || PEM_write_bio_X509(b, x) != 1)
		abort();
	return bio_take_string(b);
}

static int
write_text(const char *path, const char *text, char *err, size_t errlen)
{
	return mc_file_write(path, text, strlen(text), 0644, err, errlen);
}

/* A cluster name becomes a folder name: keep it to a safe alphabet. */
static int
check_cluster(const char *c, char *err, size_t errlen)
{
	size_t n = c != NULL ? strlen(c) : 0;

	if (n == 0 || n > 63 || strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
		return mc_err(err, errlen, EINVAL, "invalid cluster name \"%s\": 1 to 63 characters, not . or ..",
			      c != NULL ? c : "");
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)c[i]) && c[i] != '-' && c[i] != '_' && c[i] != '.')
			return mc_err(err, errlen, EINVAL,
				      "invalid cluster name \"%s\": use letters, digits, '-', '_' and '.'", c);
	return 0;
}

/* A SPIFFE trust domain: lowercase letters, digits, '.', '-', '_' (SPIFFE-ID spec). */
static bool
trust_domain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static bool
segment_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

int
mc_spiffe_validate(const char *id, char *err, size_t errlen)
{
	static const char form[] = "expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>";
	const char *td, *slash, *ns, *ns_end, *sa;

	if (id == NULL || *id == '\0')
		return mc_err(err, errlen, EINVAL, "no SPIFFE ID given (%s)", form);
	if (strlen(id) > 2048)
		return mc_err(err, errlen, EINVAL, "SPIFFE ID longer than 2048 characters");
	if (strncmp(id, "spiffe://", 9) != 0)
		return mc_err(err, errlen, EINVAL, "invalid SPIFFE ID \"%s\": %s (scheme must be spiffe://)", id, form);
	td = id + 9;
	slash = strchr(td, '/');
	if (slash == NULL || !trust_domain_ok(td, (size_t)(slash - td)))
		return mc_err(err, errlen, EINVAL,
			      "invalid SPIFFE ID \"%s\": %s (trust domain empty or not [a-z0-9._-])", id, form);
	if (strncmp(slash, "/ns/", 4) != 0)
		return mc_err(err, errlen, EINVAL, "invalid SPIFFE ID \"%s\": %s (path must start with /ns/)", id, form);
	ns = slash + 4;
	ns_end = strchr(ns, '/');
	if (ns_end == NULL || !segment_ok(ns, (size_t)(ns_end - ns)))
		return mc_err(err, errlen, EINVAL, "invalid SPIFFE ID \"%s\": %s (empty or invalid namespace)", id, form);
	if (strncmp(ns_end, "/sa/", 4) != 0)
		return mc_err(err, errlen, EINVAL, "invalid SPIFFE ID \"%s\": %s (missing /sa/ after the namespace)", id,
			      form);
	sa = ns_end + 4;
	if (!segment_ok(sa, strlen(sa)))
		return mc_err(err, errlen, EINVAL,
			      "invalid SPIFFE ID \"%s\": %s (empty or invalid service account)", id, form);
	return 0;
}

static bool
dns_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_' && s[i] != '*')
			return false;
	return true;
}

int
mc_pki_init(const char *dir, const char *const *clusters, size_t n_clusters, const struct mc_ca_options *opts,
	    char *err, size_t errlen)
{
	static const char ca_ku[] = "critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign";
	static const char *const istiod_dns[] = {"istiod.istio-system.svc"};
	struct mc_ca_options o = {0};
	EVP_PKEY *root_key = NULL, **int_keys = NULL;
	X509 *root = NULL, **ints = NULL;
	X509_NAME *name = NULL;
	char *path = NULL, *root_text = NULL;
	time_t now = time(NULL), root_na;
	int rc = 0;

	if (opts != NULL)
		o = *opts;
	if (o.trust_domain == NULL)
		o.trust_domain = "cluster.local";
	if (o.root_cn == NULL)
		o.root_cn = "Root CA";
	if (o.root_org == NULL)
		o.root_org = "Istio";
	if (o.int_cn == NULL)
		o.int_cn = "Intermediate CA";
	if (o.int_org == NULL)
		o.int_org = "Istio";
	if (o.root_days <= 0)
		o.root_days = DEFAULT_DAYS;
	if (o.int_days <= 0)
		o.int_days = DEFAULT_DAYS;
	if (o.root_days > MAX_DAYS || o.int_days > MAX_DAYS)
		return mc_err(err, errlen, EINVAL, "CA lifetime longer than %d days", MAX_DAYS);
	if (!trust_domain_ok(o.trust_domain, strlen(o.trust_domain)))
		return mc_err(err, errlen, EINVAL, "invalid trust domain \"%s\": use lowercase letters, digits, '.', '-', '_'",
			      o.trust_domain);
	if (dir == NULL || *dir == '\0')
		return mc_err(err, errlen, EINVAL, "no output folder given");
	if (o.root_cn[0] == '\0' && o.root_org[0] == '\0')
		return mc_err(err, errlen, EINVAL, "the root CA needs a CN or an O");
	for (size_t i = 0; i < n_clusters; i++) {
		if ((rc = check_cluster(clusters[i], err, errlen)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(clusters[i], clusters[j]) == 0)
				return mc_err(err, errlen, EINVAL, "cluster \"%s\" given twice", clusters[i]);
	}

	/* Never overwrite a CA: its key may already sign a running mesh. */
	path = mc_xasprintf("%s/root-key.pem", dir);
	if (access(path, F_OK) == 0) {
		rc = mc_err(err, errlen, EEXIST, "%s exists: refusing to overwrite a CA (choose another folder)", path);
		goto out;
	}
	for (size_t i = 0; i < n_clusters; i++) {
		free(path);
		path = mc_xasprintf("%s/%s/ca-key.pem", dir, clusters[i]);
		if (access(path, F_OK) == 0) {
			rc = mc_err(err, errlen, EEXIST, "%s exists: refusing to overwrite a CA (choose another folder)",
				    path);
			goto out;
		}
	}

	/* Everything is made in memory first, then written: the root key last. */
	if ((root_key = key_generate(o.key, err, errlen)) == NULL) {
		rc = -EIO;
		goto out;
	}
	if ((name = make_name(o.root_org, o.root_cn, NULL)) == NULL) {
		rc = mc_err(err, errlen, EINVAL, "invalid root CA name");
		goto out;
	}
	{
		struct cert_req r = {
			.key = root_key, .subject = name, .issuer = NULL, .issuer_key = root_key,
			.not_before = now, .not_after = now + o.root_days * 86400L,
			.bc = "critical,CA:TRUE", .ku = ca_ku, .skid = true,
		};

		if ((root = cert_make(&r, err, errlen)) == NULL) {
			rc = -EIO;
			goto out;
		}
	}
	X509_NAME_free(name);
	name = NULL;
	root_na = now + o.root_days * 86400L;
	int_keys = mc_xcalloc(n_clusters + 1, sizeof(*int_keys));
	ints = mc_xcalloc(n_clusters + 1, sizeof(*ints));
	for (size_t i = 0; i < n_clusters; i++) {
		time_t na = now + o.int_days * 86400L;
		struct cert_req r = {
			.issuer = root, .issuer_key = root_key, .not_before = now,
			.not_after = na < root_na ? na : root_na,
			.bc = "critical,CA:TRUE,pathlen:0", .ku = ca_ku, .skid = true, .akid = true,
			.dns = istiod_dns, .n_dns = 1,
		};

		if ((int_keys[i] = key_generate(o.key, err, errlen)) == NULL) {
			rc = -EIO;
			goto out;
		}
		if ((name = make_name(o.int_org, o.int_cn, clusters[i])) == NULL) {
			rc = mc_err(err, errlen, EINVAL, "invalid intermediate CA name");
			goto out;
		}
		r.key = int_keys[i];
		r.subject = name;
		if ((ints[i] = cert_make(&r, err, errlen)) == NULL) {
			rc = -EIO;
			goto out;
		}
		X509_NAME_free(name);
		name = NULL;
	}

	if ((rc = mc_mkdir_p(dir, 0755, err, errlen)) < 0)
		goto out;
	root_text = cert_pem(root);
	for (size_t i = 0; i < n_clusters; i++) {
		char *cdir = mc_xasprintf("%s/%s", dir, clusters[i]);
		char *ca = cert_pem(ints[i]);
		char *chain = mc_xasprintf("%s%s", ca, root_text);

		rc = mc_mkdir_p(cdir, 0755, err, errlen);
		if (rc == 0) {
			free(path);
			path = mc_xasprintf("%s/ca-cert.pem", cdir);
			rc = write_text(path, ca, err, errlen);
		}
		if (rc == 0) {
			free(path);
			path = mc_xasprintf("%s/ca-key.pem", cdir);
			rc = key_write(path, int_keys[i], err, errlen);
		}
		if (rc == 0) {
			free(path);
			path = mc_xasprintf("%s/root-cert.pem", cdir);
			rc = write_text(path, root_text, err, errlen);
		}
		if (rc == 0) {
			free(path);
			path = mc_xasprintf("%s/cert-chain.pem", cdir);
			rc = write_text(path, chain, err, errlen);
		}
		free(cdir);
		free(ca);
		free(chain);
		if (rc < 0)
			goto out;
	}
	free(path);
	path = mc_xasprintf("%s/root-cert.pem", dir);
	if ((rc = write_text(path, root_text, err, errlen)) < 0)
		goto out;
	free(path);
	path = mc_xasprintf("%s/root-key.pem", dir);
	rc = key_write(path, root_key, err, errlen);
out:
	/* EVP_PKEY_free wipes the key material it holds. */
	EVP_PKEY_free(root_key);
	X509_free(root);
	for (size_t i = 0; ints != NULL && i < n_clusters; i++) {
		EVP_PKEY_free(int_keys[i]);
		X509_free(ints[i]);
	}
	free(int_keys);
	free(ints);
	X509_NAME_free(name);
	free(path);
	free(root_text);
	return rc;
}

/* Loads the signer of ca_dir: ca-cert.pem + ca-key.pem, else root-cert.pem + root-key.pem. */
static int
load_signer(const char *ca_dir, X509 **cert, EVP_PKEY **key, char **chain_text, char **root_text,
	    char *err, size_t errlen)
{
	char *cp = mc_xasprintf("%s/ca-cert.pem", ca_dir);
	char *kp = mc_xasprintf("%s/ca-key.pem", ca_dir);
	char *chp = mc_xasprintf("%s/cert-chain.pem", ca_dir);
	char *rp = mc_xasprintf("%s/root-cert.pem", ca_dir);
	struct mc_chain *c = NULL, *chain = NULL, *root = NULL;
	int rc;

	if (access(cp, F_OK) != 0 && access(kp, F_OK) != 0) {
		/* The root folder itself can sign too. */
		free(cp);
		free(kp);
		cp = mc_xasprintf("%s/root-cert.pem", ca_dir);
		kp = mc_xasprintf("%s/root-key.pem", ca_dir);
		if (access(cp, F_OK) != 0) {
			rc = mc_err(err, errlen, ENOENT, "%s: no ca-cert.pem or root-cert.pem (not a CA folder)", ca_dir);
			goto out;
		}
	}
	if ((rc = mc_chain_load_pem(cp, &c, err, errlen)) < 0)
		goto out;
	if ((rc = key_read(kp, key, err, errlen)) < 0)
		goto out;
	*cert = chain_get(c, 0);
	X509_up_ref(*cert);
	if (X509_check_private_key(*cert, *key) != 1) {
		rc = ossl_err(err, errlen, EINVAL, "%s does not match the certificate in %s", kp, cp);
		goto out;
	}
	if (!x509_is_ca(*cert, NULL)) {
		rc = mc_err(err, errlen, EINVAL, "%s: not a CA certificate (basicConstraints CA:TRUE missing)", cp);
		goto out;
	}
	/* The chain above the leaf: cert-chain.pem, else the CA certificate (+ root). */
	if (access(chp, F_OK) == 0) {
		if ((rc = mc_chain_load_pem(chp, &chain, err, errlen)) < 0)
			goto out;
		*chain_text = mc_chain_to_pem(chain);
	} else {
		*chain_text = mc_chain_to_pem(c);
	}
	if (access(rp, F_OK) == 0) {
		if ((rc = mc_chain_load_pem(rp, &root, err, errlen)) < 0)
			goto out;
		*root_text = mc_chain_to_pem(root);
		if (access(chp, F_OK) != 0 && strcmp(cp, rp) != 0) {
			char *t = mc_xasprintf("%s%s", *chain_text, *root_text);

			free(*chain_text);
			*chain_text = t;
		}
	}
out:
	mc_chain_free(c);
	mc_chain_free(chain);
	mc_chain_free(root);
	free(cp);
	free(kp);
	free(chp);
	free(rp);
	return rc;
}

int
mc_pki_add_intermediate(const char *root_dir, const char *cluster, const char *out_dir,
			const struct mc_ca_options *opts, char *err, size_t errlen)
{
	static const char ca_ku[] = "critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign";
	static const char *const istiod_dns[] = {"istiod.istio-system.svc"};
	struct mc_ca_options o = opts != NULL ? *opts : (struct mc_ca_options){0};
	X509 *root = NULL, *ca = NULL;
	EVP_PKEY *root_key = NULL, *key = NULL;
	X509_NAME *name = NULL;
	char *chain_text = NULL, *root_text = NULL, *ca_text = NULL, *path = NULL, *t;
	time_t now = time(NULL), root_na, na;
	int rc;

	if (o.int_cn == NULL)
		o.int_cn = "Intermediate CA";
	if (o.int_org == NULL)
		o.int_org = "Istio";
	if (o.int_days <= 0)
		o.int_days = 3650;
	if ((rc = check_cluster(cluster, err, errlen)) < 0)
		return rc;
	path = mc_xasprintf("%s/ca-key.pem", out_dir);
	if (access(path, F_OK) == 0) {
		rc = mc_err(err, errlen, EEXIST, "%s exists: refusing to overwrite a CA (choose another folder)", path);
		goto out;
	}
	/* The root folder signs: its root-cert.pem and root-key.pem. */
	if ((rc = load_signer(root_dir, &root, &root_key, &chain_text, &root_text, err, errlen)) < 0)
		goto out;
	if (!x509_self_issued(root)) {
		rc = mc_err(err, errlen, EINVAL, "%s: not a root folder (root-cert.pem and root-key.pem)", root_dir);
		goto out;
	}
	if (asn1_to_time(X509_get0_notAfter(root), &root_na) < 0) {
		rc = mc_err(err, errlen, EINVAL, "%s: the root has an unreadable NotAfter", root_dir);
		goto out;
	}
	if ((key = key_generate(o.key, err, errlen)) == NULL) {
		rc = -EIO;
		goto out;
	}
	if ((name = make_name(o.int_org, o.int_cn, cluster)) == NULL) {
		rc = mc_err(err, errlen, EINVAL, "invalid intermediate CA name");
		goto out;
	}
	na = now + o.int_days * 86400L;
	{
		struct cert_req r = {
			.key = key, .subject = name, .issuer = root, .issuer_key = root_key, .not_before = now,
			.not_after = na < root_na ? na : root_na,
			.bc = "critical,CA:TRUE,pathlen:0", .ku = ca_ku, .skid = true, .akid = true,
			.dns = istiod_dns, .n_dns = 1,
		};

		if ((ca = cert_make(&r, err, errlen)) == NULL) {
			rc = -EIO;
			goto out;
		}
	}
	if ((rc = mc_mkdir_p(out_dir, 0755, err, errlen)) < 0)
		goto out;
	ca_text = cert_pem(ca);
	free(root_text);
	root_text = cert_pem(root);
	free(path);
	path = mc_xasprintf("%s/ca-cert.pem", out_dir);
	rc = write_text(path, ca_text, err, errlen);
	if (rc == 0) {
		free(path);
		path = mc_xasprintf("%s/root-cert.pem", out_dir);
		rc = write_text(path, root_text, err, errlen);
	}
	if (rc == 0) {
		free(path);
		path = mc_xasprintf("%s/cert-chain.pem", out_dir);
		t = mc_xasprintf("%s%s", ca_text, root_text);
		rc = write_text(path, t, err, errlen);
		free(t);
	}
	if (rc == 0) {
		free(path);
		path = mc_xasprintf("%s/ca-key.pem", out_dir);
		rc = key_write(path, key, err, errlen);
	}
out:
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(key);
	X509_free(root);
	X509_free(ca);
	X509_NAME_free(name);
	free(chain_text);
	free(root_text);
	free(ca_text);
	free(path);
	return rc;
}

int
mc_pki_issue(const char *ca_dir, const struct mc_issue_options *opts, const char *out_dir, char *err,
	     size_t errlen)
{
	X509 *signer = NULL, *leaf = NULL;
	EVP_PKEY *signer_key = NULL, *key = NULL;
	char *chain_text = NULL, *root_text = NULL, *leaf_text = NULL, *full = NULL, *path = NULL;
	enum mc_key_type kt = MC_KEY_RSA2048;
	long ttl = DEFAULT_TTL;
	time_t now = time(NULL), signer_na, na;
	char when[40];
	int rc;

	if (opts == NULL)
		return mc_err(err, errlen, EINVAL, "no issue options given");
	if ((rc = mc_spiffe_validate(opts->spiffe, err, errlen)) < 0)
		return rc;
	if (opts->ttl_seconds < 0)
		return mc_err(err, errlen, EINVAL, "negative certificate lifetime");
	if (opts->ttl_seconds > 0)
		ttl = opts->ttl_seconds;
	if (ttl > (long)MAX_DAYS * 86400)
		return mc_err(err, errlen, EINVAL, "certificate lifetime longer than %d days", MAX_DAYS);
	if (opts->key_set)
		kt = opts->key;
	for (size_t i = 0; i < opts->n_dns; i++)
		if (!dns_ok(opts->dns[i]))
			return mc_err(err, errlen, EINVAL, "invalid DNS name \"%s\"", opts->dns[i] != NULL ? opts->dns[i] : "");
	if (ca_dir == NULL || out_dir == NULL)
		return mc_err(err, errlen, EINVAL, "no CA or output folder given");

	if ((rc = load_signer(ca_dir, &signer, &signer_key, &chain_text, &root_text, err, errlen)) < 0)
		goto out;
	if (asn1_to_time(X509_get0_notAfter(signer), &signer_na) < 0) {
		rc = mc_err(err, errlen, EINVAL, "%s: the CA certificate has an unreadable NotAfter", ca_dir);
		goto out;
	}
	if (signer_na <= now) {
		iso_time(signer_na, when, sizeof(when));
		rc = mc_err(err, errlen, EINVAL, "%s: the CA certificate expired at %s", ca_dir, when);
		goto out;
	}
	na = now + ttl;
	if (na > signer_na)
		na = signer_na;
	if ((key = key_generate(kt, err, errlen)) == NULL) {
		rc = -EIO;
		goto out;
	}
	{
		struct cert_req r = {
			.key = key, .subject = NULL, .issuer = signer, .issuer_key = signer_key,
			.not_before = now - WORKLOAD_BACKDATE, .not_after = na,
			.bc = "critical,CA:FALSE", .ku = "critical,digitalSignature,keyEncipherment",
			.eku = "serverAuth,clientAuth", .akid = true,
			.uri = opts->spiffe, .dns = opts->dns, .n_dns = opts->n_dns,
			/* RFC 5280: with an empty subject the SAN extension is critical. */
			.san_critical = true,
		};

		if ((leaf = cert_make(&r, err, errlen)) == NULL) {
			rc = -EIO;
			goto out;
		}
	}
	leaf_text = cert_pem(leaf);
	full = mc_xasprintf("%s%s", leaf_text, chain_text);
	if ((rc = mc_mkdir_p(out_dir, 0755, err, errlen)) < 0)
		goto out;
	path = mc_xasprintf("%s/key.pem", out_dir);
	if ((rc = key_write(path, key, err, errlen)) < 0)
		goto out;
	free(path);
	path = mc_xasprintf("%s/cert.pem", out_dir);
	if ((rc = write_text(path, leaf_text, err, errlen)) < 0)
		goto out;
	free(path);
	path = mc_xasprintf("%s/cert-chain.pem", out_dir);
	if ((rc = write_text(path, full, err, errlen)) < 0)
		goto out;
	if (root_text != NULL) {
		free(path);
		path = mc_xasprintf("%s/root-cert.pem", out_dir);
		rc = write_text(path, root_text, err, errlen);
	}
out:
	X509_free(signer);
	X509_free(leaf);
	EVP_PKEY_free(signer_key);
	EVP_PKEY_free(key);
	free(chain_text);
	free(root_text);
	free(leaf_text);
	free(full);
	free(path);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Fetching a peer's chain                                                    */

struct capture {
	STACK_OF(X509) *chain;
};

/*
 * Accepts every certificate (this is capture, not verification) and keeps
 * the chain exactly as the server sent it, leaf first, at the first call:
 * the callback runs while the server's Certificate message is processed,
 * before a later client-certificate failure can end the handshake.
 */
static int
capture_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct capture *cap = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

	(void)ok;
	if (cap != NULL && cap->chain == NULL) {
		STACK_OF(X509) *u = X509_STORE_CTX_get0_untrusted(xs);
		X509 *leaf = X509_STORE_CTX_get0_cert(xs);

		if (u != NULL && sk_X509_num(u) > 0) {
			cap->chain = X509_chain_up_ref(u);
		} else if (leaf != NULL) {
			cap->chain = sk_X509_new_null();
			if (cap->chain != NULL && X509_up_ref(leaf) == 1 && sk_X509_push(cap->chain, leaf) <= 0)
				X509_free(leaf);
		}
	}
	return 1;
}

static int
remaining_ms(double deadline)
{
	double left = deadline - mc_monotonic();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/*
 * Connects one address before the deadline. Returns the connected
 * non-blocking socket, or -1 with *soerr set (ETIMEDOUT when time ran out).
 */
static int
connect_one(const struct addrinfo *ai, double deadline, int *soerr)
{
	socklen_t sl = sizeof(*soerr);
	struct pollfd pfd;
	int fd, pr;

	*soerr = 0;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		*soerr = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*soerr = errno;
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		pfd.revents = 0;
		pr = poll(&pfd, 1, remaining_ms(deadline));
	} while (pr < 0 && errno == EINTR);
	if (pr == 0)
		*soerr = ETIMEDOUT;
	else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, soerr, &sl) < 0)
		*soerr = errno;
out:
	if (*soerr == 0)
		return fd;
	close(fd);
	return -1;
}

/* Connects to host:port with a deadline; tries each address in turn. */
static int
tcp_connect(const char *host, int port, int timeout_ms, double deadline, int *fd_out, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char ps[16];
	int gai, rc = 0, soerr = EHOSTUNREACH;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", port);
	gai = getaddrinfo(host, ps, &hints, &res);
	if (gai != 0)
		return mc_err(err, errlen, EHOSTUNREACH, "%s: cannot resolve: %s", host, gai_strerror(gai));
	*fd_out = -1;
	for (const struct addrinfo *ai = res; ai != NULL && *fd_out < 0 && soerr != ETIMEDOUT; ai = ai->ai_next)
		*fd_out = connect_one(ai, deadline, &soerr);
	freeaddrinfo(res);
	if (*fd_out >= 0)
		return 0;
	if (soerr == ETIMEDOUT)
		rc = mc_err(err, errlen, ETIMEDOUT, "connect to %s:%d: timed out after %d ms", host, port, timeout_ms);
	else if (soerr == ECONNREFUSED)
		rc = mc_err(err, errlen, ECONNREFUSED, "connect to %s:%d: connection refused", host, port);
	else
		rc = mc_err(err, errlen, soerr, "connect to %s:%d: %s", host, port, strerror(soerr));
	return rc;
}

int
mc_chain_fetch(const struct mc_fetch_options *opts, struct mc_chain **out, char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	struct capture cap = {0};
	int timeout_ms, fd = -1, rc = 0, r;
	double deadline;
	char reason[300] = "";
	bool handshake_ok = false, timed_out = false;
	sigset_t pipe_set, old_set, pending;
	bool pipe_was_pending;

	*out = NULL;
	if (opts == NULL || opts->host == NULL || *opts->host == '\0' || opts->port <= 0 || opts->port > 65535)
		return mc_err(err, errlen, EINVAL, "fetch: a host and a port (1-65535) are required");
	if ((opts->cert == NULL) != (opts->key == NULL))
		return mc_err(err, errlen, EINVAL, "fetch: a client certificate needs its key, and a key its certificate");
	timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
	deadline = mc_monotonic() + timeout_ms / 1000.0;

	/* A peer that closes while we write must not kill the process with SIGPIPE. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		rc = ossl_err(err, errlen, EIO, "fetch: cannot create a TLS context");
		goto out;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* We capture, we do not trust: weak chains must still be seen (and judged by verify). */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, capture_cb);
	if (opts->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, opts->cert) != 1) {
			rc = ossl_err(err, errlen, EINVAL, "client certificate %s: cannot load", opts->cert);
			goto out;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, opts->key, SSL_FILETYPE_PEM) != 1) {
			rc = ossl_err(err, errlen, EINVAL, "client key %s: cannot load it, or it does not match %s",
				      opts->key, opts->cert);
			goto out;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			rc = ossl_err(err, errlen, EINVAL, "client key %s does not match %s", opts->key, opts->cert);
			goto out;
		}
	}
	if ((rc = tcp_connect(opts->host, opts->port, timeout_ms, deadline, &fd, err, errlen)) < 0)
		goto out;
	ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		rc = ossl_err(err, errlen, EIO, "fetch: cannot set up TLS");
		goto out;
	}
	SSL_set_app_data(ssl, &cap);
	if (opts->sni != NULL && *opts->sni != '\0' && SSL_set_tlsext_host_name(ssl, opts->sni) != 1) {
		rc = ossl_err(err, errlen, EINVAL, "fetch: invalid SNI \"%s\"", opts->sni);
		goto out;
	}
	for (;;) {
		int e, pr;
		struct pollfd pfd;

		ERR_clear_error();
		r = SSL_connect(ssl);
		if (r == 1) {
			handshake_ok = true;
			break;
		}
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			pfd.fd = fd;
			pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
			do {
				pfd.revents = 0;
				pr = poll(&pfd, 1, remaining_ms(deadline));
			} while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				timed_out = true;
				break;
			}
			if (pr < 0) {
				snprintf(reason, sizeof(reason), "poll: %s", strerror(errno));
				break;
			}
			continue;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(reason, sizeof(reason), "%s",
				 errno != 0 ? strerror(errno) : "connection closed by the peer during the handshake");
		else if (e == SSL_ERROR_ZERO_RETURN)
			snprintf(reason, sizeof(reason), "connection closed by the peer during the handshake");
		else
			ossl_reason(reason, sizeof(reason), "TLS handshake failed");
		break;
	}
	if (cap.chain == NULL || sk_X509_num(cap.chain) == 0) {
		/* The callback did not run (it always should): take what the session kept. */
		STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);

		stack_free(cap.chain);
		cap.chain = sk != NULL && sk_X509_num(sk) > 0 ? X509_chain_up_ref(sk) : NULL;
	}
	if (cap.chain != NULL && sk_X509_num(cap.chain) > 0) {
		/* Got it: a handshake that failed later (no client certificate) does not matter. */
		struct mc_chain *c = chain_from_stack(cap.chain);

		while (mc_chain_count(c) > CHAIN_MAX) {
			X509_free(sk_X509_pop(c->certs));
		}
		*out = c;
		rc = 0;
	} else if (timed_out) {
		rc = mc_err(err, errlen, ETIMEDOUT, "TLS handshake with %s:%d: timed out after %d ms", opts->host,
			    opts->port, timeout_ms);
	} else if (handshake_ok) {
		rc = mc_err(err, errlen, EPROTO, "%s:%d completed the TLS handshake without sending a certificate",
			    opts->host, opts->port);
	} else {
		rc = mc_err(err, errlen, EPROTO, "TLS handshake with %s:%d failed before a certificate arrived: %s",
			    opts->host, opts->port, reason);
	}
	if (handshake_ok)
		(void)SSL_shutdown(ssl); /* best effort close_notify; the socket is non-blocking */
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	stack_free(cap.chain);
	ERR_clear_error();
	if (!pipe_was_pending) {
		struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
		}
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Certificate facts                                                          */

static char *
general_name_string(const GENERAL_NAME *g)
{
	char ip[INET6_ADDRSTRLEN], *v, *s;

	switch (g->type) {
	case GEN_URI:
		v = printable(g->d.uniformResourceIdentifier->data, (size_t)g->d.uniformResourceIdentifier->length);
		s = mc_xasprintf("URI:%s", v);
		break;
	case GEN_DNS:
		v = printable(g->d.dNSName->data, (size_t)g->d.dNSName->length);
		s = mc_xasprintf("DNS:%s", v);
		break;
	case GEN_EMAIL:
		v = printable(g->d.rfc822Name->data, (size_t)g->d.rfc822Name->length);
		s = mc_xasprintf("email:%s", v);
		break;
	case GEN_IPADD:
		if (g->d.iPAddress->length == 4 && inet_ntop(AF_INET, g->d.iPAddress->data, ip, sizeof(ip)) != NULL)
			return mc_xasprintf("IP:%s", ip);
		if (g->d.iPAddress->length == 16 && inet_ntop(AF_INET6, g->d.iPAddress->data, ip, sizeof(ip)) != NULL)
			return mc_xasprintf("IP:%s", ip);
		return mc_xstrdup("IP:(invalid)");
	case GEN_DIRNAME:
		v = name_string(g->d.directoryName);
		s = mc_xasprintf("DirName:%s", v);
		break;
	case GEN_RID: {
		char oid[128];

		OBJ_obj2txt(oid, sizeof(oid), g->d.registeredID, 1);
		return mc_xasprintf("RID:%s", oid);
	}
	default:
		return mc_xstrdup("othername:(unsupported)");
	}
	free(v);
	return s;
}

static char *
key_usage_string(X509 *x)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
		{KU_DIGITAL_SIGNATURE, "digitalSignature"}, {KU_NON_REPUDIATION, "nonRepudiation"},
		{KU_KEY_ENCIPHERMENT, "keyEncipherment"},   {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
		{KU_KEY_AGREEMENT, "keyAgreement"},         {KU_KEY_CERT_SIGN, "keyCertSign"},
		{KU_CRL_SIGN, "cRLSign"},                   {KU_ENCIPHER_ONLY, "encipherOnly"},
		{KU_DECIPHER_ONLY, "decipherOnly"},
	};
	uint32_t ku;
	struct mc_buf b;

	if (ext_critical(x, NID_key_usage) < 0)
		return NULL;
	ku = X509_get_key_usage(x);
	mc_buf_init(&b, 0);
	mc_buf_append(&b, "", 0);
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (ku & bits[i].bit)
			mc_buf_printf(&b, "%s%s", b.len > 0 ? ", " : "", bits[i].name);
	return mc_buf_steal(&b);
}

static char *
eku_string(const X509 *x)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	struct mc_buf b;

	if (eku == NULL)
		return NULL;
	mc_buf_init(&b, 0);
	mc_buf_append(&b, "", 0);
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		char txt[128];

		if (nid != NID_undef)
			snprintf(txt, sizeof(txt), "%s", OBJ_nid2sn(nid));
		else
			OBJ_obj2txt(txt, sizeof(txt), o, 1);
		mc_buf_printf(&b, "%s%s", b.len > 0 ? ", " : "", txt);
	}
	EXTENDED_KEY_USAGE_free(eku);
	return mc_buf_steal(&b);
}

static void
key_facts(X509 *x, struct mc_cert_info *info)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const char *t;
	char group[64];
	size_t gl = 0;

	snprintf(info->key_type, sizeof(info->key_type), "unknown");
	if (pk == NULL) {
		ERR_clear_error();
		return;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		t = "RSA";
		break;
	case EVP_PKEY_RSA_PSS:
		t = "RSA-PSS";
		break;
	case EVP_PKEY_EC:
		t = "EC";
		break;
	case EVP_PKEY_ED25519:
		t = "ED25519";
		break;
	case EVP_PKEY_ED448:
		t = "ED448";
		break;
	case EVP_PKEY_DSA:
		t = "DSA";
		break;
	default:
		t = EVP_PKEY_get0_type_name(pk);
		break;
	}
	snprintf(info->key_type, sizeof(info->key_type), "%s", t != NULL ? t : "unknown");
	info->key_bits = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &gl) == 1) {
		const char *nist = EC_curve_nid2nist(OBJ_txt2nid(group));

		info->curve = mc_xstrdup(nist != NULL ? nist : group);
	}
	ERR_clear_error();
}

int
mc_cert_info_get(const struct mc_chain *c, size_t i, struct mc_cert_info *info, char *err, size_t errlen)
{
	GENERAL_NAMES *gens;
	ASN1_INTEGER *serial;
	BIGNUM *bn;
	X509 *x;
	int crit = -1;

	memset(info, 0, sizeof(*info));
	info->pathlen = -1;
	if (c == NULL || i >= mc_chain_count(c))
		return mc_err(err, errlen, EINVAL, "no certificate %zu in the chain", i);
	x = chain_get(c, i);
	info->subject = name_string(X509_get_subject_name(x));
	info->issuer = name_string(X509_get_issuer_name(x));
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	info->san_critical = crit == 1;
	if (gens != NULL) {
		int n = sk_GENERAL_NAME_num(gens);

		info->sans = mc_xcalloc((size_t)n + 1, sizeof(*info->sans));
		for (int k = 0; k < n; k++)
			info->sans[info->n_sans++] = general_name_string(sk_GENERAL_NAME_value(gens, k));
		GENERAL_NAMES_free(gens);
	}
	info->spiffe = x509_spiffe(x);
	(void)asn1_to_time(X509_get0_notBefore(x), &info->not_before);
	(void)asn1_to_time(X509_get0_notAfter(x), &info->not_after);
	key_facts(x, info);
	info->is_ca = x509_is_ca(x, &info->pathlen);
	info->bc_critical = ext_critical(x, NID_basic_constraints) == 1;
	info->key_usage = key_usage_string(x);
	info->ku_critical = ext_critical(x, NID_key_usage) == 1;
	info->ext_key_usage = eku_string(x);
	serial = (ASN1_INTEGER *)X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	if (bn != NULL) {
		char *hex = BN_bn2hex(bn);

		info->serial = mc_xstrdup(hex != NULL ? hex : "");
		OPENSSL_free(hex);
		BN_free(bn);
	} else {
		info->serial = mc_xstrdup("");
	}
	fingerprint(x, info->fingerprint, sizeof(info->fingerprint));
	info->self_signed = X509_self_signed(x, 1) == 1;
	ERR_clear_error();
	return 0;
}

void
mc_cert_info_clear(struct mc_cert_info *info)
{
	if (info == NULL)
		return;
	free(info->subject);
	free(info->issuer);
	for (size_t i = 0; i < info->n_sans; i++)
		free(info->sans[i]);
	free(info->sans);
	free(info->curve);
	free(info->key_usage);
	free(info->ext_key_usage);
	free(info->serial);
	free(info->spiffe);
	memset(info, 0, sizeof(*info));
	info->pathlen = -1;
}

static void
json_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *
mc_cert_info_json(const struct mc_cert_info *info)
{
	cJSON *o = cJSON_CreateObject(), *sans;
	char t[40];

	if (o == NULL)
		abort();
	cJSON_AddStringToObject(o, "subject", info->subject != NULL ? info->subject : "");
	cJSON_AddStringToObject(o, "issuer", info->issuer != NULL ? info->issuer : "");
	sans = cJSON_AddArrayToObject(o, "sans");
	for (size_t i = 0; i < info->n_sans; i++)
		cJSON_AddItemToArray(sans, cJSON_CreateString(info->sans[i]));
	cJSON_AddBoolToObject(o, "san_critical", info->san_critical);
	json_str_or_null(o, "spiffe", info->spiffe);
	iso_time(info->not_before, t, sizeof(t));
	cJSON_AddStringToObject(o, "not_before", t);
	iso_time(info->not_after, t, sizeof(t));
	cJSON_AddStringToObject(o, "not_after", t);
	cJSON_AddStringToObject(o, "key_type", info->key_type);
	cJSON_AddNumberToObject(o, "key_bits", info->key_bits);
	json_str_or_null(o, "curve", info->curve);
	cJSON_AddBoolToObject(o, "is_ca", info->is_ca);
	cJSON_AddBoolToObject(o, "basic_constraints_critical", info->bc_critical);
	if (info->pathlen >= 0)
		cJSON_AddNumberToObject(o, "pathlen", (double)info->pathlen);
	else
		cJSON_AddNullToObject(o, "pathlen");
	json_str_or_null(o, "key_usage", info->key_usage);
	cJSON_AddBoolToObject(o, "key_usage_critical", info->ku_critical);
	json_str_or_null(o, "ext_key_usage", info->ext_key_usage);
	cJSON_AddStringToObject(o, "serial", info->serial != NULL ? info->serial : "");
	cJSON_AddStringToObject(o, "sha256_fingerprint", info->fingerprint);
	cJSON_AddBoolToObject(o, "self_signed", info->self_signed);
	return o;
}

/* ------------------------------------------------------------------------ */
/* Verification                                                               */

struct verify_state {
	int n_errors;
	int first_error;
	int first_depth;
	char first_subject[256];
};

/* Records OpenSSL's verdicts and goes on, so the whole path can be examined. */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	struct verify_state *vs = X509_STORE_CTX_get_app_data(xs);

	if (!ok && vs != NULL) {
		if (vs->n_errors++ == 0) {
			X509 *cur = X509_STORE_CTX_get_current_cert(xs);
			char *s = cur != NULL ? name_string(X509_get_subject_name(cur)) : mc_xstrdup("?");

			vs->first_error = X509_STORE_CTX_get_error(xs);
			vs->first_depth = X509_STORE_CTX_get_error_depth(xs);
			snprintf(vs->first_subject, sizeof(vs->first_subject), "%s", s[0] != '\0' ? s : "(empty subject)");
			free(s);
		}
	}
	return 1;
}

static void add_check(struct mc_verify_result *res, const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void
add_check(struct mc_verify_result *res, const char *name, bool ok, const char *fmt, ...)
{
	struct mc_verify_check *c;
	va_list ap;

	if (res->n_checks >= MC_VERIFY_MAX_CHECKS)
		return;
	c = &res->checks[res->n_checks++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

/* A short label for a certificate in details: its subject, or its SPIFFE ID. */
static char *
cert_label(X509 *x)
{
	char *s = name_string(X509_get_subject_name(x));
	char *id;

	if (s[0] != '\0')
		return s;
	free(s);
	id = x509_spiffe(x);
	return id != NULL ? id : mc_xstrdup("(empty subject)");
}

static void
check_pathlen(struct mc_verify_result *res, STACK_OF(X509) *path)
{
	int n = sk_X509_num(path);
	struct mc_buf why, ok;

	mc_buf_init(&why, 4096);
	mc_buf_init(&ok, 4096);
	mc_buf_append(&why, "", 0);
	mc_buf_append(&ok, "", 0);
	for (int i = 1; i < n; i++) {
		X509 *x = sk_X509_value(path, i);
		char *label = cert_label(x);
		long pl = -1;
		int below = 0;

		/* Intermediates between x and the leaf; self-issued ones do not count (RFC 5280 4.2.1.9). */
		for (int j = 1; j < i; j++)
			if (!x509_self_issued(sk_X509_value(path, j)))
				below++;
		if (!x509_is_ca(x, &pl)) {
			mc_buf_printf(&why, "%s\"%s\" issued a certificate but is not a CA (no CA:TRUE)",
				      why.len > 0 ? "; " : "", label);
		} else if (pl >= 0 && below > pl) {
			mc_buf_printf(&why, "%s\"%s\" allows pathlen:%ld but has %d CA certificate(s) below it",
				      why.len > 0 ? "; " : "", label, pl, below);
		} else {
			if (pl >= 0)
				mc_buf_printf(&ok, "%s\"%s\" pathlen:%ld, %d CA below", ok.len > 0 ? "; " : "", label, pl,
					      below);
			else
				mc_buf_printf(&ok, "%s\"%s\" no limit, %d CA below", ok.len > 0 ? "; " : "", label, below);
		}
		free(label);
	}
	if (why.len > 0)
		add_check(res, "pathlen", false, "expected every CA to respect its pathlen; seen %s", why.data);
	else if (n <= 1)
		add_check(res, "pathlen", true, "no CA certificate in the path");
	else
		add_check(res, "pathlen", true, "every CA respects its pathlen: %s", ok.data);
	mc_buf_free(&why);
	mc_buf_free(&ok);
}

static void
check_key_usage(struct mc_verify_result *res, STACK_OF(X509) *path)
{
	X509 *leaf = sk_X509_value(path, 0);
	uint32_t ku = X509_get_key_usage(leaf), xku = X509_get_extended_key_usage(leaf);
	bool has_ku = ext_critical(leaf, NID_key_usage) >= 0, has_eku = ext_critical(leaf, NID_ext_key_usage) >= 0;
	struct mc_buf why;
	int n = sk_X509_num(path);

	mc_buf_init(&why, 4096);
	mc_buf_append(&why, "", 0);
	if (!has_ku)
		mc_buf_puts(&why, "leaf has no keyUsage");
	else if (!(ku & KU_DIGITAL_SIGNATURE))
		mc_buf_puts(&why, "leaf keyUsage lacks digitalSignature");
	if (!has_eku)
		mc_buf_printf(&why, "%sleaf has no extendedKeyUsage", why.len > 0 ? "; " : "");
	else if (!(xku & (XKU_SSL_SERVER | XKU_SSL_CLIENT)))
		mc_buf_printf(&why, "%sleaf extendedKeyUsage has neither serverAuth nor clientAuth",
			      why.len > 0 ? "; " : "");
	for (int i = 1; i < n; i++) {
		X509 *x = sk_X509_value(path, i);

		if (ext_critical(x, NID_key_usage) < 0 || !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
			char *label = cert_label(x);

			mc_buf_printf(&why, "%sCA \"%s\" lacks keyCertSign", why.len > 0 ? "; " : "", label);
			free(label);
		}
	}
	if (why.len > 0)
		add_check(res, "key_usage", false,
			  "expected leaf digitalSignature + serverAuth/clientAuth and keyCertSign on CAs; seen %s",
			  why.data);
	else
		add_check(res, "key_usage", true, "leaf: digitalSignature, %s%s%s; %d CA(s) with keyCertSign",
			  (xku & XKU_SSL_SERVER) ? "serverAuth" : "",
			  (xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT) ? "+" : "",
			  (xku & XKU_SSL_CLIENT) ? "clientAuth" : "", n - 1);
	mc_buf_free(&why);
}

static void
check_lifetime(struct mc_verify_result *res, X509 *leaf, time_t now, long min_validity)
{
	time_t nb = 0, na = 0;
	char a[40], b[40], left[32], want[32];

	if (asn1_to_time(X509_get0_notBefore(leaf), &nb) < 0 || asn1_to_time(X509_get0_notAfter(leaf), &na) < 0) {
		add_check(res, "lifetime", false, "leaf validity dates cannot be read");
		return;
	}
	iso_time(nb, a, sizeof(a));
	iso_time(na, b, sizeof(b));
	fmt_duration((long)(na - now), left, sizeof(left));
	fmt_duration(min_validity, want, sizeof(want));
	if (now < nb) {
		fmt_duration((long)(nb - now), left, sizeof(left));
		add_check(res, "lifetime", false, "expected a currently valid leaf; seen not valid before %s (in %s)", a, left);
	} else if (now > na) {
		fmt_duration((long)(now - na), left, sizeof(left));
		add_check(res, "lifetime", false, "expected a currently valid leaf; seen expired at %s (%s ago)", b, left);
	} else if (min_validity > 0 && na - now < min_validity) {
		add_check(res, "lifetime", false, "expected at least %s of validity left; seen %s left (until %s)", want,
			  left, b);
	} else if (min_validity > 0) {
		add_check(res, "lifetime", true, "valid %s to %s; %s left (at least %s required)", a, b, left, want);
	} else {
		add_check(res, "lifetime", true, "valid %s to %s; %s left", a, b, left);
	}
}

int
mc_chain_verify(const struct mc_chain *peer, const struct mc_chain *roots, const struct mc_verify_options *opts,
		struct mc_verify_result *res, char *err, size_t errlen)
{
	struct mc_verify_options o = {0};
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL, *built = NULL;
	struct verify_state vs = {0};
	X509 *leaf;
	char *spiffe = NULL, *subject = NULL;
	time_t now;
	int rc = 0, vr;

	memset(res, 0, sizeof(*res));
	if (opts != NULL)
		o = *opts;
	now = o.now != 0 ? o.now : time(NULL);
	if (mc_chain_count(peer) == 0)
		return mc_err(err, errlen, EINVAL, "no certificate to verify");
	if (mc_chain_count(roots) == 0)
		return mc_err(err, errlen, EINVAL, "no root certificate to verify against");
	leaf = chain_get(peer, 0);

	store = X509_STORE_new();
	untrusted = sk_X509_new_null();
	ctx = X509_STORE_CTX_new();
	if (store == NULL || untrusted == NULL || ctx == NULL) {
		rc = ossl_err(err, errlen, ENOMEM, "cannot set up verification");
		goto out;
	}
	for (size_t i = 0; i < mc_chain_count(roots); i++) {
		if (X509_STORE_add_cert(store, chain_get(roots, i)) != 1) {
			/* A root given twice is not an error. */
			ERR_clear_error();
		}
	}
	for (size_t i = 1; i < mc_chain_count(peer); i++)
		if (sk_X509_push(untrusted, chain_get(peer, i)) <= 0)
			abort();
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		rc = ossl_err(err, errlen, EIO, "cannot set up verification");
		goto out;
	}
	/* No purpose is set: workload certificates serve and connect, both are checked below. */
	if (o.now != 0)
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), o.now);
	X509_STORE_CTX_set_app_data(ctx, &vs);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	vr = X509_verify_cert(ctx);
	if (vr < 0) {
		rc = ossl_err(err, errlen, EIO, "verification could not run");
		goto out;
	}
	ERR_clear_error();
	built = X509_STORE_CTX_get1_chain(ctx);
	if (built == NULL || sk_X509_num(built) == 0) {
		stack_free(built);
		built = sk_X509_new_null();
		if (built == NULL || X509_up_ref(leaf) != 1 || sk_X509_push(built, leaf) <= 0)
			abort();
	}
	res->chains_to_root = vr == 1 && vs.n_errors == 0;

	/* chains_to_root */
	if (res->chains_to_root) {
		X509 *top = sk_X509_value(built, sk_X509_num(built) - 1);
		char *label = cert_label(top);

		fingerprint(top, res->root_fingerprint, sizeof(res->root_fingerprint));
		res->path = chain_from_stack(built);
		add_check(res, "chains_to_root", true, "path of %d certificate(s) ends at the given root \"%s\" (sha256 %s)",
			  sk_X509_num(built), label, res->root_fingerprint);
		free(label);
	} else {
		res->verify_error = mc_xasprintf("%s (at depth %d, \"%s\")",
						 X509_verify_cert_error_string(vs.n_errors > 0 ? vs.first_error
											    : X509_STORE_CTX_get_error(ctx)),
						 vs.first_depth, vs.first_subject);
		add_check(res, "chains_to_root", false, "expected a path to one of the %zu given root(s); seen %s",
			  mc_chain_count(roots), res->verify_error);
	}

	check_pathlen(res, built);

	/* leaf_not_ca */
	{
		long pl;
		bool ca = x509_is_ca(leaf, &pl);

		add_check(res, "leaf_not_ca", !ca, ca ? "expected an end-entity leaf (CA:FALSE); seen CA:TRUE"
						  : "leaf is not a CA (CA:FALSE or no basicConstraints)");
	}

	/* spiffe and san_critical */
	spiffe = x509_spiffe(leaf);
	if (spiffe != NULL)
		snprintf(res->leaf_spiffe, sizeof(res->leaf_spiffe), "%s", spiffe);
	subject = name_string(X509_get_subject_name(leaf));
	if (o.spiffe_pattern != NULL) {
		if (spiffe == NULL)
			add_check(res, "spiffe", false, "expected a SPIFFE ID matching %s; seen no spiffe:// URI SAN",
				  o.spiffe_pattern);
		else
			add_check(res, "spiffe", mc_glob_match(o.spiffe_pattern, spiffe),
				  "expected a SPIFFE ID matching %s; seen %s", o.spiffe_pattern, spiffe);
	}
	if (o.spiffe_pattern != NULL || subject[0] == '\0') {
		bool has_uri = x509_has_uri_san(leaf);
		int crit = ext_critical(leaf, NID_subject_alt_name);

		if (!has_uri)
			add_check(res, "san_critical", false, "expected a URI SAN (SPIFFE ID); seen %s",
				  crit < 0 ? "no subjectAltName" : "no URI in subjectAltName");
		else if (subject[0] == '\0' && crit != 1)
			add_check(res, "san_critical", false,
				  "expected a critical subjectAltName (the subject is empty, RFC 5280); seen non-critical");
		else
			add_check(res, "san_critical", true, "URI SAN present%s",
				  subject[0] == '\0' ? ", critical with an empty subject" : " (subject not empty)");
	}

	check_lifetime(res, leaf, now, o.min_validity);
	check_key_usage(res, built);

	res->ok = true;
	for (size_t i = 0; i < res->n_checks; i++)
		if (!res->checks[i].ok)
			res->ok = false;
out:
	free(spiffe);
	free(subject);
	stack_free(built);
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	if (rc < 0)
		mc_verify_result_clear(res);
	return rc;
}

void
mc_verify_result_clear(struct mc_verify_result *res)
{
	if (res == NULL)
		return;
	free(res->verify_error);
	mc_chain_free(res->path);
	memset(res, 0, sizeof(*res));
}

cJSON *
mc_verify_result_json(const struct mc_verify_result *res)
{
	cJSON *o = cJSON_CreateObject(), *checks;

	if (o == NULL)
		abort();
	cJSON_AddBoolToObject(o, "ok", res->ok);
	cJSON_AddBoolToObject(o, "chains_to_root", res->chains_to_root);
	json_str_or_null(o, "verify_error", res->verify_error);
	cJSON_AddStringToObject(o, "root_fingerprint", res->root_fingerprint);
	json_str_or_null(o, "leaf_spiffe", res->leaf_spiffe[0] != '\0' ? res->leaf_spiffe : NULL);
	checks = cJSON_AddArrayToObject(o, "checks");
	for (size_t i = 0; i < res->n_checks; i++) {
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "name", res->checks[i].name);
		cJSON_AddBoolToObject(c, "ok", res->checks[i].ok);
		cJSON_AddStringToObject(c, "detail", res->checks[i].detail);
		cJSON_AddItemToArray(checks, c);
	}
	return o;
}
