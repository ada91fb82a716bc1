/*
 * Workload chains from istioctl's SDS dump or Envoy's /certs page.
 */
#include "kchains.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

#define SRC_ISTIOCTL "istioctl proxy-config secret"
#define SRC_ENVOY "pilot-agent request GET certs"

/* Parses a whole JSON document; -EPROTO naming the source and the byte where it broke. */
static int
parse_doc(const char *json, size_t len, const char *what, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;

	*out = NULL;
	if (json == NULL || len == 0)
		return mc_err(err, errlen, EPROTO, "%s: empty output", what);
	*out = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (*out == NULL) {
		size_t at = end != NULL && end >= json ? (size_t)(end - json) : 0;

		return mc_err(err, errlen, EPROTO, "%s: output is not JSON (byte %zu of %zu)", what, at, len);
	}
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return mc_err(err, errlen, EPROTO, "%s: output is not a JSON object", what);
	}
	return 0;
}

/*
 * Follows a dotted path of keys; when a key is missing, *missing gets the
 * path up to and including it (in buf).
 */
static const cJSON *
walk(const cJSON *obj, const char *dotted, char *buf, size_t buflen, const char **missing)
{
	const char *p = dotted;

	*missing = NULL;
	while (*p != '\0') {
		size_t n = strcspn(p, ".");
		char key[64];

		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		obj = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
		if (obj == NULL) {
			snprintf(buf, buflen, "%.*s", (int)(p + n - dotted), dotted);
			*missing = buf;
			return NULL;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return obj;
}

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')     /* protobuf's JSON accepts both alphabets */
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/*
 * Decodes base64 (standard or URL alphabet, padding optional, line breaks
 * ignored). Returns the NUL-terminated bytes, or NULL with *bad_at set to
 * the offending character's position.
 */
static char *
b64_decode(const char *s, size_t *outlen, size_t *bad_at)
{
	size_t n = strlen(s), o = 0, pad = 0;
	char *out = mc_xmalloc(n / 4 * 3 + 4);
	unsigned acc = 0, bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v;

		if (ch == '\n' || ch == '\r')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		v = b64_value(ch);
		if (v < 0 || pad > 0) {
			*bad_at = i;
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* Leftover bits must be the zero padding of the last group; one lone character is never valid. */
	if (bits >= 6 || pad > 2 || (acc & ((1u << bits) - 1)) != 0) {
		*bad_at = n;
		free(out);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* The names of the secrets in an array, for messages ("default, ROOTCA"). */
static void
secret_names(const cJSON *arr, char *buf, size_t buflen)
{
	const cJSON *s;
	size_t o = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(s, arr) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
		int w = snprintf(buf + o, buflen - o, "%s\"%s\"", o > 0 ? ", " : "", name != NULL ? name : "?");

		if (w < 0 || (size_t)w >= buflen - o)
			break;
		o += (size_t)w;
	}
}

static const cJSON *
find_secret(const cJSON *arr, const char *name)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, arr) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return s;
	}
	return NULL;
}

/* One secret's PEM: the base64 at path, decoded and checked to hold certificates. */
static int
secret_pem(const cJSON *doc, const char *name, const char *path, char **out, char *err, size_t errlen)
{
	const cJSON *active = cJSON_GetObjectItemCaseSensitive(doc, "dynamicActiveSecrets");
	const cJSON *secret, *v, *parent;
	char where[160], names[256], ppath[160];
	const char *missing;
	size_t len = 0, bad = 0;
	char *pem;

	*out = NULL;
	secret = find_secret(active, name);
	if (secret == NULL) {
		const cJSON *warming = cJSON_GetObjectItemCaseSensitive(doc, "dynamicWarmingSecrets");

		if (find_secret(warming, name) != NULL)
			return mc_err(err, errlen, ENOENT,
				      "%s: secret \"%s\" is still warming (Envoy has not received it yet)",
				      SRC_ISTIOCTL, name);
		secret_names(active, names, sizeof(names));
		return mc_err(err, errlen, ENOENT, "%s: no \"%s\" secret in dynamicActiveSecrets (it has: %s)",
			      SRC_ISTIOCTL, name, names[0] != '\0' ? names : "nothing");
	}
	v = walk(secret, path, where, sizeof(where), &missing);
	if (v == NULL) {
		/* A secret given as a file path instead of inline bytes: certificates mounted in the pod. */
		snprintf(ppath, sizeof(ppath), "%.*s", (int)(strrchr(path, '.') - path), path);
		parent = walk(secret, ppath, names, sizeof(names), &missing);
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(parent, "filename")))
			return mc_err(err, errlen, ENOENT,
				      "%s: secret \"%s\": %s names the file %s, not inline bytes (certificates mounted in the pod are not readable this way)",
				      SRC_ISTIOCTL, name, ppath,
				      cJSON_GetObjectItemCaseSensitive(parent, "filename")->valuestring);
		return mc_err(err, errlen, ENOENT, "%s: secret \"%s\" has no %s", SRC_ISTIOCTL, name, where);
	}
	if (!cJSON_IsString(v))
		return mc_err(err, errlen, EPROTO, "%s: secret \"%s\": %s is not a string", SRC_ISTIOCTL, name, path);
	if (*v->valuestring == '\0')
		return mc_err(err, errlen, ENOENT, "%s: secret \"%s\": %s is empty", SRC_ISTIOCTL, name, path);
	pem = b64_decode(v->valuestring, &len, &bad);
	if (pem == NULL)
		return mc_err(err, errlen, EPROTO, "%s: secret \"%s\": %s is not valid base64 (at character %zu of %zu)",
			      SRC_ISTIOCTL, name, path, bad, strlen(v->valuestring));
	if (strlen(pem) != len || strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL) {
		free(pem);
		return mc_err(err, errlen, EPROTO, "%s: secret \"%s\": %s does not decode to PEM certificates",
			      SRC_ISTIOCTL, name, path);
	}
	*out = pem;
	return 0;
}

int
mc_kube_chain_from_istioctl(const char *json, size_t len, char **chain_pem, char **root_pem,
			    char *err, size_t errlen)
{
	const cJSON *active;
	cJSON *doc;
	int rc;

	*chain_pem = NULL;
	if (root_pem != NULL)
		*root_pem = NULL;
	rc = parse_doc(json, len, SRC_ISTIOCTL, &doc, err, errlen);
	if (rc != 0)
		return rc;
	active = cJSON_GetObjectItemCaseSensitive(doc, "dynamicActiveSecrets");
	if (active == NULL)
		rc = mc_err(err, errlen, ENOENT, "%s: no dynamicActiveSecrets (the sidecar has no SDS secrets yet)",
			    SRC_ISTIOCTL);
	else if (!cJSON_IsArray(active))
		rc = mc_err(err, errlen, EPROTO, "%s: dynamicActiveSecrets is not an array", SRC_ISTIOCTL);
	if (rc == 0)
		rc = secret_pem(doc, "default", "secret.tlsCertificate.certificateChain.inlineBytes", chain_pem,
				err, errlen);
	if (rc == 0 && root_pem != NULL)
		rc = secret_pem(doc, "ROOTCA", "secret.validationContext.trustedCa.inlineBytes", root_pem,
				err, errlen);
	if (rc != 0) {
		free(*chain_pem);
		*chain_pem = NULL;
	}
	cJSON_Delete(doc);
	return rc;
}

static void
cert_clear(struct mc_envoy_cert *c)
{
	free(c->path);
	free(c->serial);
	for (size_t i = 0; i < c->n_sans; i++)
		free(c->sans[i]);
	free(c->sans);
	memset(c, 0, sizeof(*c));
}

void
mc_envoy_certs_clear(struct mc_envoy_certs *c)
{
	for (size_t i = 0; i < c->n_chain; i++)
		cert_clear(&c->chain[i]);
	for (size_t i = 0; i < c->n_ca; i++)
		cert_clear(&c->ca[i]);
	free(c->chain);
	free(c->ca);
	free(c->spiffe);
	memset(c, 0, sizeof(*c));
}

/* RFC 3339 as protobuf's JSON writes Timestamps: 2026-11-23T12:09:18Z, fractions and offsets allowed. */
static int
parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int used = 0, oh = 0, om = 0;
	char sign;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &used) != 6 || used == 0)
		return -1;
	s += used;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
		*out = t;
		return 0;
	}
	if (sscanf(s, "%c%2d:%2d", &sign, &oh, &om) == 3 && (sign == '+' || sign == '-')) {
		*out = t - (sign == '+' ? 1 : -1) * (time_t)(oh * 3600 + om * 60);
		return 0;
	}
	return -1;
}

static int
parse_cert(const cJSON *j, const char *where, struct mc_envoy_cert *c, char *err, size_t errlen)
{
	const cJSON *v, *san;

	memset(c, 0, sizeof(*c));
	c->days_until_expiration = -1;
	if (!cJSON_IsObject(j))
		return mc_err(err, errlen, EPROTO, "%s: %s is not an object", SRC_ENVOY, where);
	v = cJSON_GetObjectItemCaseSensitive(j, "serial_number");
	if (v == NULL)
		return mc_err(err, errlen, ENOENT, "%s: %s has no serial_number", SRC_ENVOY, where);
	if (!cJSON_IsString(v) || *v->valuestring == '\0')
		return mc_err(err, errlen, EPROTO, "%s: %s.serial_number is not a non-empty string", SRC_ENVOY, where);
	c->serial = mc_xstrdup(v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(j, "path");
	if (v != NULL && !cJSON_IsString(v))
		return mc_err(err, errlen, EPROTO, "%s: %s.path is not a string", SRC_ENVOY, where);
	c->path = mc_xstrdup(cJSON_GetStringValue(v));

	/* uint64 is a string in protobuf's JSON; a number is accepted too. */
	v = cJSON_GetObjectItemCaseSensitive(j, "days_until_expiration");
	if (cJSON_IsString(v)) {
		char *end;

		errno = 0;
		c->days_until_expiration = strtol(v->valuestring, &end, 10);
		if (errno != 0 || end == v->valuestring || *end != '\0' || c->days_until_expiration < 0)
			return mc_err(err, errlen, EPROTO, "%s: %s.days_until_expiration \"%s\" is not a count of days",
				      SRC_ENVOY, where, v->valuestring);
	} else if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
		c->days_until_expiration = (long)v->valuedouble;
	} else if (v != NULL) {
		return mc_err(err, errlen, EPROTO, "%s: %s.days_until_expiration is not a count of days", SRC_ENVOY, where);
	}

	for (int i = 0; i < 2; i++) {
		const char *key = i == 0 ? "valid_from" : "expiration_time";
		time_t *dst = i == 0 ? &c->valid_from : &c->expiration_time;

		v = cJSON_GetObjectItemCaseSensitive(j, key);
		if (v == NULL)
			continue;
		if (!cJSON_IsString(v) || parse_time(v->valuestring, dst) != 0)
			return mc_err(err, errlen, EPROTO, "%s: %s.%s is not an RFC 3339 time", SRC_ENVOY, where, key);
	}

	v = cJSON_GetObjectItemCaseSensitive(j, "subject_alt_names");
	if (v != NULL && !cJSON_IsArray(v))
		return mc_err(err, errlen, EPROTO, "%s: %s.subject_alt_names is not an array", SRC_ENVOY, where);
	cJSON_ArrayForEach(san, v) {
		static const char *const kinds[][2] = { { "uri", "URI:" }, { "dns", "DNS:" }, { "ip_address", "IP:" } };
		const char *text = NULL, *prefix = NULL;

		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && text == NULL; k++) {
			text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(san, kinds[k][0]));
			prefix = kinds[k][1];
		}
		if (text == NULL)
			return mc_err(err, errlen, EPROTO, "%s: %s.subject_alt_names has an entry without uri, dns or ip_address",
				      SRC_ENVOY, where);
		c->sans = mc_xrealloc(c->sans, (c->n_sans + 1) * sizeof(*c->sans));
		c->sans[c->n_sans++] = mc_xasprintf("%s%s", prefix, text);
	}
	return 0;
}

static bool
same_cert(const struct mc_envoy_cert *a, const struct mc_envoy_cert *b)
{
	return strcmp(a->serial, b->serial) == 0 && a->expiration_time == b->expiration_time;
}

/* Adds the entries of one array, dropping certificates already listed (Envoy repeats them per TLS context). */
static int
add_certs(const cJSON *arr, const char *where, struct mc_envoy_cert **v, size_t *n, char *err, size_t errlen)
{
	const cJSON *j;
	size_t i = 0;

	if (arr == NULL)
		return 0;
	if (!cJSON_IsArray(arr))
		return mc_err(err, errlen, EPROTO, "%s: %s is not an array", SRC_ENVOY, where);
	cJSON_ArrayForEach(j, arr) {
		struct mc_envoy_cert c;
		char at[96];
		bool dup = false;
		int rc;

		snprintf(at, sizeof(at), "%s[%zu]", where, i++);
		rc = parse_cert(j, at, &c, err, errlen);
		if (rc != 0) {
			cert_clear(&c);
			return rc;
		}
		for (size_t k = 0; k < *n && !dup; k++)
			dup = same_cert(&(*v)[k], &c);
		if (dup) {
			cert_clear(&c);
			continue;
		}
		*v = mc_xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = c;
	}
	return 0;
}

int
mc_kube_certs_from_envoy(const char *json, size_t len, struct mc_envoy_certs *out, char *err, size_t errlen)
{
	const cJSON *certs, *entry;
	cJSON *doc;
	size_t i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = parse_doc(json, len, SRC_ENVOY, &doc, err, errlen);
	if (rc != 0)
		return rc;
	certs = cJSON_GetObjectItemCaseSensitive(doc, "certificates");
	if (certs == NULL)
		rc = mc_err(err, errlen, ENOENT, "%s: no \"certificates\" in the output", SRC_ENVOY);
	else if (!cJSON_IsArray(certs))
		rc = mc_err(err, errlen, EPROTO, "%s: \"certificates\" is not an array", SRC_ENVOY);
	if (rc == 0) {
		cJSON_ArrayForEach(entry, certs) {
			char where[64];

			if (!cJSON_IsObject(entry)) {
				rc = mc_err(err, errlen, EPROTO, "%s: certificates[%zu] is not an object", SRC_ENVOY, i);
				break;
			}
			snprintf(where, sizeof(where), "certificates[%zu].cert_chain", i);
			rc = add_certs(cJSON_GetObjectItemCaseSensitive(entry, "cert_chain"), where, &out->chain,
				       &out->n_chain, err, errlen);
			if (rc != 0)
				break;
			snprintf(where, sizeof(where), "certificates[%zu].ca_cert", i);
			rc = add_certs(cJSON_GetObjectItemCaseSensitive(entry, "ca_cert"), where, &out->ca,
				       &out->n_ca, err, errlen);
			if (rc != 0)
				break;
			i++;
		}
	}
	if (rc == 0 && out->n_chain == 0)
		rc = mc_err(err, errlen, ENOENT, "%s: no workload certificate (cert_chain is empty in all %zu entries)",
			    SRC_ENVOY, i);
	for (size_t c = 0; rc == 0 && c < out->n_chain && out->spiffe == NULL; c++)
		for (size_t s = 0; s < out->chain[c].n_sans && out->spiffe == NULL; s++)
			if (strncmp(out->chain[c].sans[s], "URI:spiffe://", 13) == 0)
				out->spiffe = mc_xstrdup(out->chain[c].sans[s] + 4);
	cJSON_Delete(doc);
	return rc;
}

void
mc_kube_chain_clear(struct mc_kube_chain *c)
{
	free(c->chain_pem);
	free(c->root_pem);
	mc_envoy_certs_clear(&c->details);
	memset(c, 0, sizeof(*c));
}

int
mc_kube_workload_chain(const struct mc_kube *k, const char *context, const char *ns, const char *pod,
		       struct mc_kube_chain *out, char *err, size_t errlen)
{
	struct mc_kube_result res;
	char where[512];
	int rc;

	memset(out, 0, sizeof(*out));
	if (ns == NULL || *ns == '\0' || pod == NULL || *pod == '\0')
		return mc_err(err, errlen, EINVAL, "workload chain: namespace and pod are required");
	snprintf(where, sizeof(where), "%s: %s/%s", context != NULL ? context : "(current context)", ns, pod);
	if (k->istioctl != NULL) {
		const char *args[] = { "proxy-config", "secret", pod, "-n", ns, "-o", "json", NULL };

		out->source = SRC_ISTIOCTL;
		rc = mc_istioctl_call(k, context, args, &res, err, errlen);
		if (rc == 0)
			rc = mc_kube_chain_from_istioctl(res.out, res.out_len, &out->chain_pem, &out->root_pem,
							 err, errlen);
		mc_kube_result_clear(&res);
		if (rc != 0) {
			char *msg = mc_xstrdup(err);

			/* kubectl-style messages already name the context; parse errors get it here. */
			if (strncmp(msg, SRC_ISTIOCTL, strlen(SRC_ISTIOCTL)) == 0)
				mc_err(err, errlen, -rc, "%s: %s", where, msg);
			free(msg);
			return rc;
		}
		out->have_pem = true;
		return 0;
	}

	const char *args[] = {
		"exec", pod, "-n", ns, "-c", "istio-proxy", "--", "pilot-agent", "request", "GET", "certs", NULL,
	};

	out->source = SRC_ENVOY;
	rc = mc_kube_call(k, context, args, NULL, &res, err, errlen);
	if (rc == 0 && res.dry_run) {
		mc_kube_result_clear(&res);
		snprintf(err, errlen, "dry run: the chain of %s was not read", where);
		return MC_KUBE_CHAIN_DRY_RUN;
	}
	if (rc == 0)
		rc = mc_kube_certs_from_envoy(res.out, res.out_len, &out->details, err, errlen);
	mc_kube_result_clear(&res);
	if (rc != 0) {
		char *msg = mc_xstrdup(err);

		if (strncmp(msg, SRC_ENVOY, strlen(SRC_ENVOY)) == 0)
			mc_err(err, errlen, -rc, "%s: %s", where, msg);
		free(msg);
		return rc;
	}
	snprintf(out->note, sizeof(out->note),
		 "istioctl is not available and Envoy's /certs has no PEM: certificate details only "
		 "(SPIFFE ID, serials, validity), the chain cannot be verified against a root");
	return 0;
}
