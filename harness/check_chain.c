/*
 * The `chain` check kind: a peer's certificate chain verifies to the
 * expected root, with the expected identity and lifetime; and, across
 * several peers, one shared root with distinct intermediates.
 *
 *   "input":  { "server": "NAME" | "servers": ["A", "B"] |
 *               "connect": "HOST:PORT" | "chain_file": "F.pem" | "chain_files": [...],
 *               "sni": "NAME", "client_cert": false,
 *               "root": "mesh" | "PATH.pem" }
 *   "expect": { "verify": true, "spiffe": "GLOB", "spiffe_as_issued": false,
 *               "min_validity": "1h", "chain_length": 3,
 *               "same_root": true, "distinct_intermediates": true }
 *
 * With "verify": false the case passes only when the chain does NOT verify
 * to the root (a foreign-root peer must be rejected); the other
 * expectations then do not apply. Evidence: each peer's chain as PEM.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_kind.h"
#include "pki.h"
#include "target.h"
#include "util.h"

#define MAX_SOURCES 32

static const char *const input_fields[] = {"server", "servers", "connect", "chain_file", "chain_files",
					   "sni", "client_cert", "root", NULL};
static const char *const expect_fields[] = {"verify", "spiffe", "spiffe_as_issued", "min_validity",
					    "chain_length", "same_root", "distinct_intermediates", NULL};

/* Splits "HOST:PORT" ("[v6]:PORT" too); returns 0 or -EINVAL. */
static int
split_host_port(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;
	size_t hl;

	if (colon == NULL || colon == s)
		return -EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[' && hl > 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= hostlen)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

static int
chain_validate(const cJSON *in, const cJSON *ex, const char *where, char *err, size_t errlen)
{
	char w[600];
	const char *s = NULL;
	const cJSON *arr = NULL;
	int b = 0, sources = 0, multi = 0, rc;
	long l = 0;

	snprintf(w, sizeof(w), "%s.input", where);
	if ((rc = mc_fields_known(in, input_fields, w, err, errlen)) < 0)
		return rc;
	s = NULL;
	if ((rc = mc_field_string(in, "server", 0, w, &s, err, errlen)) < 0)
		return rc;
	sources += s != NULL;
	arr = NULL;
	if ((rc = mc_field_strings(in, "servers", 0, w, &arr, err, errlen)) < 0)
		return rc;
	if (arr != NULL) {
		sources++;
		multi = cJSON_GetArraySize(arr);
		if (multi < 1 || multi > MAX_SOURCES)
			return mc_err(err, errlen, EINVAL, "%s.servers: expected 1 to %d names", w, MAX_SOURCES);
	}
	s = NULL;
	if ((rc = mc_field_string(in, "connect", 0, w, &s, err, errlen)) < 0)
		return rc;
	if (s != NULL) {
		char host[256];
		int port;

		sources++;
		if (split_host_port(s, host, sizeof(host), &port) < 0)
			return mc_err(err, errlen, EINVAL, "%s.connect: expected HOST:PORT, got \"%s\"", w, s);
	}
	s = NULL;
	if ((rc = mc_field_string(in, "chain_file", 0, w, &s, err, errlen)) < 0)
		return rc;
	sources += s != NULL;
	arr = NULL;
	if ((rc = mc_field_strings(in, "chain_files", 0, w, &arr, err, errlen)) < 0)
		return rc;
	if (arr != NULL) {
		sources++;
		multi = cJSON_GetArraySize(arr);
		if (multi < 1 || multi > MAX_SOURCES)
			return mc_err(err, errlen, EINVAL, "%s.chain_files: expected 1 to %d files", w, MAX_SOURCES);
	}
	if (sources != 1)
		return mc_err(err, errlen, EINVAL,
			      "%s: give exactly one of server, servers, connect, chain_file, chain_files (got %d)",
			      w, sources);
	if ((rc = mc_field_string(in, "sni", 0, w, &s, err, errlen)) < 0 ||
	    (rc = mc_field_bool(in, "client_cert", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_string(in, "root", 0, w, &s, err, errlen)) < 0)
		return rc;

	snprintf(w, sizeof(w), "%s.expect", where);
	if ((rc = mc_fields_known(ex, expect_fields, w, err, errlen)) < 0 ||
	    (rc = mc_field_bool(ex, "verify", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_string(ex, "spiffe", 0, w, &s, err, errlen)) < 0 ||
	    (rc = mc_field_bool(ex, "spiffe_as_issued", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_duration(ex, "min_validity", 0, w, &l, err, errlen)) < 0 ||
	    (rc = mc_field_int(ex, "chain_length", 0, w, 1, 16, &l, err, errlen)) < 0 ||
	    (rc = mc_field_bool(ex, "same_root", 0, w, &b, err, errlen)) < 0 ||
	    (rc = mc_field_bool(ex, "distinct_intermediates", 0, w, &b, err, errlen)) < 0)
		return rc;
	b = 0;
	if ((mc_field_bool(ex, "same_root", 0, w, &b, NULL, 0) == 0 && b) ||
	    (b = 0, mc_field_bool(ex, "distinct_intermediates", 0, w, &b, NULL, 0) == 0 && b)) {
		if (multi < 2)
			return mc_err(err, errlen, EINVAL,
				      "%s: same_root and distinct_intermediates need two or more chains (input.servers or input.chain_files)",
				      w);
	}
	return 0;
}

/* One chain under examination. */
struct source {
	char *label;                /* server name, HOST:PORT or file */
	char *issued_spiffe;        /* from the target, when known */
	struct mc_chain *chain;
	struct mc_verify_result vr;
	bool verified_ran;
	char *error;                /* could not be obtained or evaluated */
	char *evidence;             /* relative path of the saved PEM */
	char int_fp[97];            /* fingerprint of the certificate above the leaf, "" if none */
};

/* Resolves a path given in a suite relative to the suite file's folder. */
static char *
suite_relative(const struct mc_check_ctx *ctx, const char *path)
{
	char *copy, *dir, *full;

	if (path[0] == '/')
		return mc_xstrdup(path);
	copy = mc_xstrdup(ctx->suite->file);
	dir = dirname(copy);
	full = mc_xasprintf("%s/%s", dir, path);
	free(copy);
	return full;
}

static void
obtain(const struct mc_check_ctx *ctx, struct source *src, const char *server, const char *connect,
       const char *file)
{
	char err[MC_ERRLEN] = "";
	int rc;

	if (file != NULL) {
		char *p = suite_relative(ctx, file);

		src->label = mc_xstrdup(file);
		rc = mc_chain_load_pem(p, &src->chain, err, sizeof(err));
		free(p);
	} else {
		struct mc_fetch_options fo = {0};
		struct mc_endpoint ep = {0};
		char host[256];
		int port = 0;

		if (server != NULL) {
			src->label = mc_xstrdup(server);
			rc = ctx->target->ops->endpoint(ctx->target, server, &ep, err, sizeof(err));
			if (rc < 0)
				goto out;
			if (ep.via != NULL) {
				/* Only the target reaches it (a pod on a cluster): the target reads its chain. */
				char *pem = NULL, *root = NULL;

				if (ctx->target->ops->chain == NULL)
					rc = mc_err(err, sizeof(err), ENOTSUP, "%s: the %s target cannot read its chain",
						    server, ctx->target->ops->name);
				else if ((rc = ctx->target->ops->chain(ctx->target, server, &pem, &root, err,
									sizeof(err))) == 0)
					rc = mc_chain_parse_pem(pem, strlen(pem), server, &src->chain, err, sizeof(err));
				src->issued_spiffe = mc_xstrdup(ep.spiffe);
				free(pem);
				free(root);
				goto out;
			}
			snprintf(host, sizeof(host), "%s", ep.host);
			port = ep.port;
			fo.sni = ep.sni;
			src->issued_spiffe = mc_xstrdup(ep.spiffe);
		} else {
			src->label = mc_xstrdup(connect);
			(void)split_host_port(connect, host, sizeof(host), &port);
		}
		fo.host = host;
		fo.port = port;
		fo.sni = mc_json_str(ctx->def->input, "sni", fo.sni);
		if (mc_json_bool(ctx->def->input, "client_cert", false)) {
			fo.cert = ep.client_cert;
			fo.key = ep.client_key;
		}
		fo.timeout_ms = 5000;
		rc = mc_chain_fetch(&fo, &src->chain, err, sizeof(err));
	}
out:
	if (rc < 0)
		src->error = mc_xstrdup(err);
}

static void
save_evidence(const struct mc_check_ctx *ctx, struct mc_case *c, struct source *src, size_t i)
{
	char err[MC_ERRLEN];
	char *name = mc_xasprintf("chain-%zu-%s.pem", i + 1, src->label);
	char *full = NULL;
	char *rel = mc_check_evidence_path(ctx, name, &full);

	if (mc_chain_write_pem(src->chain, full, err, sizeof(err)) == 0) {
		char *label = mc_xasprintf("peer chain of %s (PEM)", src->label);

		mc_case_add_evidence(c, label, rel);
		src->evidence = rel;
		rel = NULL;
		free(label);
	}
	free(rel);
	free(full);
	free(name);
}

static void
describe(struct mc_buf *seen, struct source *src, const struct mc_chain *shown)
{
	mc_buf_printf(seen, "%s:", src->label);
	if (src->error != NULL) {
		mc_buf_printf(seen, " error: %s\n", src->error);
		return;
	}
	mc_buf_printf(seen, " %zu certificate(s) sent; %s", mc_chain_count(src->chain),
		      src->vr.chains_to_root ? "verifies to the root" : "does NOT verify to the root");
	if (!src->vr.chains_to_root && src->vr.verify_error != NULL)
		mc_buf_printf(seen, " (%s)", src->vr.verify_error);
	mc_buf_puts(seen, "\n");
	for (size_t i = 0; i < mc_chain_count(shown); i++) {
		struct mc_cert_info ci;

		if (mc_cert_info_get(shown, i, &ci, NULL, 0) < 0)
			continue;
		mc_buf_printf(seen, "  [%zu] subject \"%s\" issuer \"%s\"%s%s sha256 %.23s...\n", i, ci.subject,
			      ci.issuer, ci.spiffe != NULL ? " " : "", ci.spiffe != NULL ? ci.spiffe : "",
			      ci.fingerprint);
		mc_cert_info_clear(&ci);
	}
	for (size_t i = 0; i < src->vr.n_checks; i++)
		mc_buf_printf(seen, "  check %s: %s%s%s\n", src->vr.checks[i].name, src->vr.checks[i].ok ? "ok" : "FAILED",
			      src->vr.checks[i].detail[0] != '\0' ? " - " : "", src->vr.checks[i].detail);
	if (src->vr.root_fingerprint[0] != '\0')
		mc_buf_printf(seen, "  root sha256 %s\n", src->vr.root_fingerprint);
}

/* Records one unmet expectation; the first becomes the case's reason. */
static void
miss(struct mc_buf *why, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
miss(struct mc_buf *why, size_t *n, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = mc_xvasprintf(fmt, ap);
	va_end(ap);
	if (*n == 0)
		mc_buf_puts(why, s);
	(*n)++;
	free(s);
}

static void
chain_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	const cJSON *in = ctx->def->input, *ex = ctx->def->expect;
	struct source src[MAX_SOURCES];
	size_t n = 0, misses = 0;
	struct mc_buf expected, seen, why;
	struct mc_chain *roots = NULL;
	const char *root = mc_json_str(in, "root", "mesh");
	const char *spiffe = mc_json_str(ex, "spiffe", NULL);
	bool want_verify = mc_json_bool(ex, "verify", true);
	bool as_issued = mc_json_bool(ex, "spiffe_as_issued", false);
	bool same_root = mc_json_bool(ex, "same_root", false);
	bool distinct = mc_json_bool(ex, "distinct_intermediates", false);
	long min_validity = 0, chain_length = 0;
	char err[MC_ERRLEN] = "";
	char *root_path = NULL;
	const cJSON *e;

	memset(src, 0, sizeof(src));
	mc_buf_init(&expected, 1 << 16);
	mc_buf_init(&seen, 1 << 20);
	mc_buf_init(&why, 4096);
	(void)mc_field_duration(ex, "min_validity", 0, "", &min_validity, NULL, 0);
	(void)mc_field_int(ex, "chain_length", 0, "", 1, 16, &chain_length, NULL, 0);

	/* The trust anchor. */
	if (strcmp(root, "mesh") == 0) {
		const char *p = ctx->target->ops->mesh_root != NULL ? ctx->target->ops->mesh_root(ctx->target) : NULL;

		if (p == NULL) {
			mc_case_set(c, MC_RESULT_ERROR, "root \"mesh\": the %s target has no mesh root",
				    ctx->target->ops->name);
			goto out;
		}
		root_path = mc_xstrdup(p);
	} else {
		root_path = suite_relative(ctx, root);
	}
	if (mc_chain_load_pem(root_path, &roots, err, sizeof(err)) < 0) {
		mc_case_set(c, MC_RESULT_ERROR, "cannot load the root: %s", err);
		goto out;
	}

	/* The chains. */
	if ((e = cJSON_GetObjectItemCaseSensitive(in, "servers")) != NULL) {
		const cJSON *x;

		cJSON_ArrayForEach(x, e) obtain(ctx, &src[n++], x->valuestring, NULL, NULL);
	} else if ((e = cJSON_GetObjectItemCaseSensitive(in, "chain_files")) != NULL) {
		const cJSON *x;

		cJSON_ArrayForEach(x, e) obtain(ctx, &src[n++], NULL, NULL, x->valuestring);
	} else {
		obtain(ctx, &src[n++], mc_json_str(in, "server", NULL), mc_json_str(in, "connect", NULL),
		       mc_json_str(in, "chain_file", NULL));
	}

	/* What is expected, in words. */
	mc_buf_printf(&expected, "every chain %s the root %s\n",
		      want_verify ? "verifies to" : "is REJECTED by (does not verify to)",
		      strcmp(root, "mesh") == 0 ? "of the mesh" : root);
	if (want_verify) {
		mc_buf_puts(&expected, "path length constraints respected; leaf is not a CA; key usage fits\n");
		if (spiffe != NULL)
			mc_buf_printf(&expected, "leaf SPIFFE ID matches %s\n", spiffe);
		if (as_issued)
			mc_buf_puts(&expected, "leaf SPIFFE ID is the one the workload was issued\n");
		if (min_validity > 0)
			mc_buf_printf(&expected, "leaf valid for at least %lds more\n", min_validity);
		if (chain_length > 0)
			mc_buf_printf(&expected, "%ld certificates sent\n", chain_length);
		if (same_root)
			mc_buf_puts(&expected, "all chains end at one root\n");
		if (distinct)
			mc_buf_puts(&expected, "each chain has its own intermediate\n");
	}

	for (size_t i = 0; i < n; i++) {
		struct mc_verify_options vo = {0};

		if (src[i].error != NULL) {
			miss(&why, &misses, "%s: %s", src[i].label, src[i].error);
			continue;
		}
		save_evidence(ctx, c, &src[i], i);
		vo.spiffe_pattern = want_verify ? spiffe : NULL;
		vo.min_validity = want_verify ? min_validity : 0;
		if (mc_chain_verify(src[i].chain, roots, &vo, &src[i].vr, err, sizeof(err)) < 0) {
			src[i].error = mc_xstrdup(err);
			miss(&why, &misses, "%s: %s", src[i].label, err);
			continue;
		}
		src[i].verified_ran = true;
		if (mc_chain_count(src[i].chain) > 1) {
			struct mc_cert_info ci;

			if (mc_cert_info_get(src[i].chain, 1, &ci, NULL, 0) == 0) {
				snprintf(src[i].int_fp, sizeof(src[i].int_fp), "%s", ci.fingerprint);
				mc_cert_info_clear(&ci);
			}
		}
		mc_case_add_measure(c, "certificates sent", (double)mc_chain_count(src[i].chain), NULL);
		if (!want_verify) {
			if (src[i].vr.chains_to_root)
				miss(&why, &misses, "%s: chain verifies to the root, but it must be rejected",
				     src[i].label);
			continue;
		}
		if (!src[i].vr.ok) {
			for (size_t k = 0; k < src[i].vr.n_checks; k++)
				if (!src[i].vr.checks[k].ok)
					miss(&why, &misses, "%s: check %s failed: %s", src[i].label,
					     src[i].vr.checks[k].name, src[i].vr.checks[k].detail);
			if (misses == 0)
				miss(&why, &misses, "%s: chain does not verify to the root: %s", src[i].label,
				     src[i].vr.verify_error != NULL ? src[i].vr.verify_error : "unknown reason");
		}
		if (as_issued && src[i].issued_spiffe != NULL &&
		    strcmp(src[i].issued_spiffe, src[i].vr.leaf_spiffe) != 0)
			miss(&why, &misses, "%s: leaf SPIFFE ID is \"%s\", issued \"%s\"", src[i].label,
			     src[i].vr.leaf_spiffe, src[i].issued_spiffe);
		if (chain_length > 0 && (long)mc_chain_count(src[i].chain) != chain_length)
			miss(&why, &misses, "%s: %zu certificates sent, expected %ld", src[i].label,
			     mc_chain_count(src[i].chain), chain_length);
	}
	if (want_verify && (same_root || distinct)) {
		for (size_t i = 0; i < n; i++) {
			for (size_t j = i + 1; j < n; j++) {
				if (!src[i].verified_ran || !src[j].verified_ran)
					continue;
				if (same_root && strcmp(src[i].vr.root_fingerprint, src[j].vr.root_fingerprint) != 0)
					miss(&why, &misses, "%s and %s end at different roots (%.23s... vs %.23s...)",
					     src[i].label, src[j].label, src[i].vr.root_fingerprint[0] ? src[i].vr.root_fingerprint : "none",
					     src[j].vr.root_fingerprint[0] ? src[j].vr.root_fingerprint : "none");
				if (distinct && (src[i].int_fp[0] == '\0' || strcmp(src[i].int_fp, src[j].int_fp) == 0))
					miss(&why, &misses, "%s and %s share the intermediate %.23s...", src[i].label,
					     src[j].label, src[i].int_fp[0] ? src[i].int_fp : "(none sent)");
			}
		}
	}

	for (size_t i = 0; i < n; i++)
		describe(&seen, &src[i], src[i].vr.path != NULL ? src[i].vr.path : src[i].chain);
	mc_case_set_expected(c, expected.data);
	mc_case_set_seen(c, seen.data);
	if (misses == 0) {
		mc_case_set(c, MC_RESULT_PASS, NULL);
	} else {
		/* A chain that could not be obtained fails the case too: the peer had to serve one. */
		if (misses > 1)
			mc_case_set(c, MC_RESULT_FAIL, "%s (and %zu more)", why.data, misses - 1);
		else
			mc_case_set(c, MC_RESULT_FAIL, "%s", why.data);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(src[i].label);
		free(src[i].issued_spiffe);
		free(src[i].error);
		free(src[i].evidence);
		mc_chain_free(src[i].chain);
		mc_verify_result_clear(&src[i].vr);
	}
	mc_chain_free(roots);
	free(root_path);
	mc_buf_free(&expected);
	mc_buf_free(&seen);
	mc_buf_free(&why);
}

const struct mc_check_kind mc_check_chain = {
	.name = "chain",
	.summary = "a peer's certificate chain verifies to the expected root, with identity and lifetime",
	.validate = chain_validate,
	.run = chain_run,
};

