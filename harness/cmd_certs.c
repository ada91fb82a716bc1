/*
 * `meshcheck certs`: the PKI engine on the command line.
 *
 *   certs init     a root CA and one intermediate CA per cluster (Istio's plug-in layout)
 *   certs issue    a workload certificate from a cluster's CA
 *   certs verify   verify a chain (a file, or fetched from a TLS server) against a root
 *   certs inspect  the facts of every certificate in PEM files, without a verdict
 *
 * Exit codes: 0 ok, 1 a verify check failed, 2 usage, environment or input error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "pki.h"
#include "util.h"

#define MAX_CLUSTERS 64
#define MAX_DNS 32

/* ------------------------------------------------------------------------ */
/* Shared output                                                             */

static void
print_json(cJSON *doc)
{
	char *s = cJSON_Print(doc);

	if (s == NULL)
		abort();
	printf("%s\n", s);
	free(s);
}

/* Reports an error: always on stderr, and as a JSON document when --json was given. */
static int
fail(const char *sub, bool json, const char *msg)
{
	fprintf(stderr, "meshcheck certs %s: %s\n", sub, msg);
	if (json) {
		cJSON *doc = cJSON_CreateObject();

		cJSON_AddStringToObject(doc, "command", sub);
		cJSON_AddBoolToObject(doc, "ok", false);
		cJSON_AddStringToObject(doc, "error", msg);
		print_json(doc);
		cJSON_Delete(doc);
	}
	return MC_EXIT_USAGE;
}

static int
bad_option(const char *sub, int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "meshcheck certs %s: option %s needs a value\n", sub, opt);
	else
		fprintf(stderr, "meshcheck certs %s: unknown option %s\n", sub, opt);
	fprintf(stderr, "(see meshcheck certs %s --help)\n", sub);
	return MC_EXIT_USAGE;
}

static void
fmt_left(long s, char *out, size_t outlen)
{
	if (s < 0)
		snprintf(out, outlen, "EXPIRED");
	else if (s >= 86400)
		snprintf(out, outlen, "%ldd%ldh left", s / 86400, (s % 86400) / 3600);
	else if (s >= 3600)
		snprintf(out, outlen, "%ldh%02ldm left", s / 3600, (s % 3600) / 60);
	else
		snprintf(out, outlen, "%ldm%02lds left", s / 60, s % 60);
}

static const char *
role(const struct mc_cert_info *ci, size_t i)
{
	if (ci->self_signed)
		return "root CA (self-signed)";
	if (ci->is_ca)
		return "intermediate CA";
	return i == 0 ? "leaf" : "end-entity (not a CA)";
}

/* One certificate as a readable table. */
static void
print_cert(const struct mc_cert_info *ci, size_t i, const char *note)
{
	char nb[40], na[40], left[40];
	time_t now = time(NULL);

	mc_time_iso8601((double)ci->not_before, nb, sizeof(nb));
	mc_time_iso8601((double)ci->not_after, na, sizeof(na));
	if (now < ci->not_before)
		snprintf(left, sizeof(left), "NOT YET VALID");
	else
		fmt_left((long)(ci->not_after - now), left, sizeof(left));
	printf("[%zu] %s%s\n", i, role(ci, i), note != NULL ? note : "");
	printf("    subject        %s\n", ci->subject[0] != '\0' ? ci->subject : "(empty)");
	printf("    issuer         %s\n", ci->issuer[0] != '\0' ? ci->issuer : "(empty)");
	if (ci->n_sans == 0) {
		printf("    SANs           (none)\n");
	} else {
		for (size_t k = 0; k < ci->n_sans; k++)
			printf("    %-14s %s%s\n", k == 0 ? "SANs" : "", ci->sans[k],
			       k == ci->n_sans - 1 && ci->san_critical ? "  (critical)" : "");
	}
	printf("    validity       %s .. %s (%s)\n", nb, na, left);
	if (ci->curve != NULL)
		printf("    key            %s %d (%s)\n", ci->key_type, ci->key_bits, ci->curve);
	else
		printf("    key            %s %d\n", ci->key_type, ci->key_bits);
	if (ci->is_ca && ci->pathlen >= 0)
		printf("    constraints    CA:TRUE, pathlen:%ld%s\n", ci->pathlen, ci->bc_critical ? " (critical)" : "");
	else if (ci->is_ca)
		printf("    constraints    CA:TRUE, no pathlen%s\n", ci->bc_critical ? " (critical)" : "");
	else
		printf("    constraints    CA:FALSE%s\n", ci->bc_critical ? " (critical)" : "");
	printf("    key usage      %s%s\n", ci->key_usage != NULL ? ci->key_usage : "(none)",
	       ci->key_usage != NULL && ci->ku_critical ? " (critical)" : "");
	printf("    ext key usage  %s\n", ci->ext_key_usage != NULL ? ci->ext_key_usage : "(none)");
	printf("    serial         %s\n", ci->serial);
	printf("    sha256         %s\n", ci->fingerprint);
}

/* Prints every certificate of a chain (or adds them to arr when it is not NULL). */
static int
show_chain(const struct mc_chain *c, cJSON *arr, char *err, size_t errlen)
{
	for (size_t i = 0; i < mc_chain_count(c); i++) {
		struct mc_cert_info ci;
		int rc = mc_cert_info_get(c, i, &ci, err, errlen);

		if (rc < 0)
			return rc;
		if (arr != NULL)
			cJSON_AddItemToArray(arr, mc_cert_info_json(&ci));
		else
			print_cert(&ci, i, NULL);
		mc_cert_info_clear(&ci);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* init                                                                      */

static void
init_usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck certs init --out DIR --cluster NAME [--cluster NAME ...] [OPTIONS]\n"
		"\n"
		"Creates a root CA and one intermediate CA per cluster in Istio's plug-in CA\n"
		"layout (the profiles of Istio's tools/certs):\n"
		"  DIR/root-cert.pem, DIR/root-key.pem\n"
		"  DIR/<cluster>/ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem\n"
		"Keys are written 0600. An existing CA is never overwritten.\n"
		"\n"
		"options:\n"
		"  --out DIR             where to write (created if missing)\n"
		"  --cluster NAME        a cluster (repeatable; at least one)\n"
		"  --trust-domain TD     the mesh's trust domain (default cluster.local)\n"
		"  --key TYPE            rsa4096 (default, as Istio), rsa2048 or ec256\n"
		"  --root-cn CN          root CA common name (default \"Root CA\")\n"
		"  --root-org O          root CA organisation (default \"Istio\")\n"
		"  --int-cn CN           intermediate CA common name (default \"Intermediate CA\")\n"
		"  --int-org O           intermediate CA organisation (default \"Istio\")\n"
		"  --days N              CA lifetime in days (default 3650; intermediates end\n"
		"                        no later than the root)\n"
		"  -h, --help            this help\n");
}

static void
describe_file(const char *path, const char *what)
{
	struct mc_chain *c = NULL;
	struct mc_cert_info ci;
	char err[MC_ERRLEN], na[40];

	if (mc_chain_load_pem(path, &c, err, sizeof(err)) == 0 && mc_cert_info_get(c, 0, &ci, err, sizeof(err)) == 0) {
		mc_time_iso8601((double)ci.not_after, na, sizeof(na));
		printf("  %-40s %s \"%s\", %s %d, valid until %s\n", path, what, ci.subject, ci.key_type, ci.key_bits, na);
		mc_cert_info_clear(&ci);
	} else {
		printf("  %-40s %s\n", path, what);
	}
	mc_chain_free(c);
}

static int
certs_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"out", required_argument, NULL, 'o'},
		{"cluster", required_argument, NULL, 'c'},
		{"trust-domain", required_argument, NULL, 't'},
		{"key", required_argument, NULL, 'k'},
		{"root-cn", required_argument, NULL, 1},
		{"root-org", required_argument, NULL, 2},
		{"int-cn", required_argument, NULL, 3},
		{"int-org", required_argument, NULL, 4},
		{"days", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *clusters[MAX_CLUSTERS];
	size_t n = 0;
	const char *out = NULL;
	struct mc_ca_options o = {0};
	char err[MC_ERRLEN];
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'c':
			if (n == MAX_CLUSTERS)
				return fail("init", false, "too many clusters");
			clusters[n++] = optarg;
			break;
		case 't':
			o.trust_domain = optarg;
			break;
		case 'k':
			if (mc_key_type_parse(optarg, &o.key) < 0) {
				snprintf(err, sizeof(err), "--key %s: expected rsa4096, rsa2048 or ec256", optarg);
				return fail("init", false, err);
			}
			break;
		case 1:
			o.root_cn = optarg;
			break;
		case 2:
			o.root_org = optarg;
			break;
		case 3:
			o.int_cn = optarg;
			break;
		case 4:
			o.int_org = optarg;
			break;
		case 'd': {
			char *end;
			long d;

			errno = 0;
			d = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || d <= 0 || d > 36500) {
				snprintf(err, sizeof(err), "--days %s: expected a number of days from 1 to 36500", optarg);
				return fail("init", false, err);
			}
			o.root_days = o.int_days = d;
			break;
		}
		case 'h':
			init_usage(stdout);
			return MC_EXIT_OK;
		default:
			return bad_option("init", c, argv);
		}
	}
	if (optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument \"%s\" (see --help)", argv[optind]);
		return fail("init", false, err);
	}
	if (out == NULL || n == 0)
		return fail("init", false, "--out DIR and at least one --cluster NAME are required (see --help)");
	if (mc_pki_init(out, clusters, n, &o, err, sizeof(err)) < 0)
		return fail("init", false, err);

	printf("wrote a root CA and %zu intermediate CA(s) (%s keys) in %s:\n", n,
	       mc_key_type_name(o.key), out);
	{
		char *p = mc_xasprintf("%s/root-cert.pem", out);

		describe_file(p, "root CA");
		free(p);
		printf("  %-40s root CA key (0600)\n", (p = mc_xasprintf("%s/root-key.pem", out)));
		free(p);
	}
	for (size_t i = 0; i < n; i++) {
		char *p = mc_xasprintf("%s/%s/ca-cert.pem", out, clusters[i]);

		describe_file(p, "intermediate CA");
		free(p);
		printf("  %-40s intermediate CA key (0600)\n", (p = mc_xasprintf("%s/%s/ca-key.pem", out, clusters[i])));
		free(p);
		printf("  %-40s the root CA\n", (p = mc_xasprintf("%s/%s/root-cert.pem", out, clusters[i])));
		free(p);
		printf("  %-40s intermediate + root\n", (p = mc_xasprintf("%s/%s/cert-chain.pem", out, clusters[i])));
		free(p);
	}
	printf("\nIssue a workload certificate (trust domain %s):\n"
	       "  meshcheck certs issue --ca %s/%s --spiffe spiffe://%s/ns/NS/sa/SA --out DIR\n"
	       "Plug a cluster's CA into Istio:\n"
	       "  kubectl create secret generic cacerts -n istio-system \\\n"
	       "    --from-file=%s/%s/ca-cert.pem --from-file=%s/%s/ca-key.pem \\\n"
	       "    --from-file=%s/%s/root-cert.pem --from-file=%s/%s/cert-chain.pem\n",
	       o.trust_domain != NULL ? o.trust_domain : "cluster.local", out, clusters[0],
	       o.trust_domain != NULL ? o.trust_domain : "cluster.local", out, clusters[0], out, clusters[0], out,
	       clusters[0], out, clusters[0]);
	return MC_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* issue                                                                     */

static void
issue_usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck certs issue --ca DIR --spiffe spiffe://TD/ns/NS/sa/SA --out DIR [OPTIONS]\n"
		"\n"
		"Issues a workload certificate with Istio's profile (empty subject, critical URI\n"
		"SAN, keyUsage digitalSignature+keyEncipherment, EKU serverAuth+clientAuth,\n"
		"CA:FALSE, NotBefore now-2m) from a cluster CA made by `certs init`, and writes\n"
		"DIR/cert.pem, key.pem (0600), cert-chain.pem (leaf + CA chain), root-cert.pem.\n"
		"\n"
		"options:\n"
		"  --ca DIR              the cluster CA folder (ca-cert.pem, ca-key.pem, cert-chain.pem)\n"
		"  --spiffe ID           the workload identity, spiffe://TD/ns/NS/sa/SA\n"
		"  --out DIR             where to write (created if missing)\n"
		"  --ttl DURATION        lifetime, e.g. 24h (default), 90d, 1h30m; ends no later than the CA\n"
		"  --key TYPE            rsa2048 (default, as Istio's agent), rsa4096 or ec256\n"
		"  --dns NAME            an extra DNS SAN (repeatable)\n"
		"  -h, --help            this help\n");
}

static int
certs_issue(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"ca", required_argument, NULL, 'c'},
		{"spiffe", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},
		{"ttl", required_argument, NULL, 't'},
		{"key", required_argument, NULL, 'k'},
		{"dns", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *ca = NULL, *out = NULL, *dns[MAX_DNS];
	struct mc_issue_options o = {0};
	char err[MC_ERRLEN];
	char *p;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca = optarg;
			break;
		case 's':
			o.spiffe = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			if (mc_duration_parse(optarg, &o.ttl_seconds) < 0 || o.ttl_seconds <= 0) {
				snprintf(err, sizeof(err), "--ttl %s: expected a duration such as 24h, 90d or 1h30m", optarg);
				return fail("issue", false, err);
			}
			break;
		case 'k':
			if (mc_key_type_parse(optarg, &o.key) < 0) {
				snprintf(err, sizeof(err), "--key %s: expected rsa2048, rsa4096 or ec256", optarg);
				return fail("issue", false, err);
			}
			o.key_set = true;
			break;
		case 'd':
			if (o.n_dns == MAX_DNS)
				return fail("issue", false, "too many --dns names");
			dns[o.n_dns++] = optarg;
			break;
		case 'h':
			issue_usage(stdout);
			return MC_EXIT_OK;
		default:
			return bad_option("issue", c, argv);
		}
	}
	if (optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument \"%s\" (see --help)", argv[optind]);
		return fail("issue", false, err);
	}
	if (ca == NULL || o.spiffe == NULL || out == NULL)
		return fail("issue", false, "--ca DIR, --spiffe ID and --out DIR are required (see --help)");
	o.dns = dns;
	if (mc_pki_issue(ca, &o, out, err, sizeof(err)) < 0)
		return fail("issue", false, err);

	printf("issued %s (%s key) from %s:\n", o.spiffe, mc_key_type_name(o.key_set ? o.key : MC_KEY_RSA2048), ca);
	p = mc_xasprintf("%s/cert.pem", out);
	{
		struct mc_chain *ch = NULL;
		struct mc_cert_info ci;

		if (mc_chain_load_pem(p, &ch, err, sizeof(err)) == 0 && mc_cert_info_get(ch, 0, &ci, err, sizeof(err)) == 0) {
			char nb[40], na[40];
			long asked = o.ttl_seconds > 0 ? o.ttl_seconds : 86400;

			mc_time_iso8601((double)ci.not_before, nb, sizeof(nb));
			mc_time_iso8601((double)ci.not_after, na, sizeof(na));
			printf("  %-40s leaf, valid %s .. %s%s\n", p, nb, na,
			       ci.not_after < time(NULL) + asked - 5 ? " (clamped to the CA's expiry)" : "");
			mc_cert_info_clear(&ci);
		} else {
			printf("  %-40s leaf\n", p);
		}
		mc_chain_free(ch);
	}
	free(p);
	printf("  %-40s its key (0600)\n", (p = mc_xasprintf("%s/key.pem", out)));
	free(p);
	printf("  %-40s leaf + CA chain\n", (p = mc_xasprintf("%s/cert-chain.pem", out)));
	free(p);
	printf("  %-40s the root CA\n", (p = mc_xasprintf("%s/root-cert.pem", out)));
	free(p);
	return MC_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* verify                                                                    */

static void
verify_usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck certs verify --root ROOT.pem (--chain CHAIN.pem | --connect HOST:PORT) [OPTIONS]\n"
		"\n"
		"Builds and verifies the path from a leaf to the given root, shows every\n"
		"certificate (subject, issuer, SANs, validity, key, basic constraints,\n"
		"pathlen, SHA-256 fingerprint) and runs the checks: chains_to_root, pathlen,\n"
		"leaf_not_ca, spiffe, san_critical, lifetime, key_usage.\n"
		"With --connect the server's chain is captured during the TLS handshake, even\n"
		"when the server demands a client certificate we do not have.\n"
		"\n"
		"options:\n"
		"  --root FILE           trusted root certificate(s), PEM\n"
		"  --chain FILE          the chain to verify, leaf first (PEM)\n"
		"  --connect HOST:PORT   fetch the chain from a TLS server ([v6addr]:port for IPv6)\n"
		"  --sni NAME            server name to send with --connect\n"
		"  --cert FILE           client certificate (chain) to present with --connect\n"
		"  --key FILE            its private key\n"
		"  --timeout DURATION    connect + handshake limit (default 5s)\n"
		"  --expect-spiffe GLOB  the leaf's SPIFFE ID must match, e.g. 'spiffe://cluster.local/ns/*/sa/*'\n"
		"  --min-validity DUR    the leaf must stay valid at least this long, e.g. 7d\n"
		"  --save-chain FILE     write the chain as received (PEM)\n"
		"  --json                one JSON document on stdout\n"
		"  -h, --help            this help\n"
		"\n"
		"Exit codes: 0 every check passed, 1 a check failed, 2 usage, input or connection error.\n");
}

/* Splits HOST:PORT or [V6]:PORT. */
static int
split_host_port(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= hostlen || close == s + 1)
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || (size_t)(colon - s) >= hostlen)
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
		return -EINVAL;
	*port = (int)p;
	return 0;
}

static bool
chain_has(const struct mc_chain *c, const char *fp)
{
	for (size_t i = 0; i < mc_chain_count(c); i++) {
		struct mc_cert_info ci;
		bool same;

		if (mc_cert_info_get(c, i, &ci, NULL, 0) < 0)
			continue;
		same = strcmp(ci.fingerprint, fp) == 0;
		mc_cert_info_clear(&ci);
		if (same)
			return true;
	}
	return false;
}

static int
certs_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},
		{"chain", required_argument, NULL, 'c'},
		{"connect", required_argument, NULL, 'C'},
		{"sni", required_argument, NULL, 'n'},
		{"cert", required_argument, NULL, 'e'},
		{"key", required_argument, NULL, 'k'},
		{"timeout", required_argument, NULL, 'T'},
		{"expect-spiffe", required_argument, NULL, 's'},
		{"min-validity", required_argument, NULL, 'm'},
		{"save-chain", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *root = NULL, *chain_file = NULL, *connect = NULL, *save = NULL;
	struct mc_fetch_options fo = {0};
	struct mc_verify_options vo = {0};
	struct mc_verify_result res;
	struct mc_chain *roots = NULL, *peer = NULL;
	char err[MC_ERRLEN], host[256];
	bool json = false;
	long timeout = 5;
	int c, rc = MC_EXIT_USAGE;

	memset(&res, 0, sizeof(res));
	optind = 0;
	opterr = 0;
	/* --json first, so that errors in other options are reported in JSON too. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = true;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'c':
			chain_file = optarg;
			break;
		case 'C':
			connect = optarg;
			break;
		case 'n':
			fo.sni = optarg;
			break;
		case 'e':
			fo.cert = optarg;
			break;
		case 'k':
			fo.key = optarg;
			break;
		case 'T':
			if (mc_duration_parse(optarg, &timeout) < 0 || timeout <= 0 || timeout > 3600) {
				snprintf(err, sizeof(err), "--timeout %s: expected a duration such as 5s", optarg);
				return fail("verify", json, err);
			}
			break;
		case 's':
			vo.spiffe_pattern = optarg;
			break;
		case 'm':
			if (mc_duration_parse(optarg, &vo.min_validity) < 0) {
				snprintf(err, sizeof(err), "--min-validity %s: expected a duration such as 7d or 12h", optarg);
				return fail("verify", json, err);
			}
			break;
		case 'S':
			save = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			verify_usage(stdout);
			return MC_EXIT_OK;
		default:
			if (json)
				return fail("verify", json, "unknown option or missing value (see --help)");
			return bad_option("verify", c, argv);
		}
	}
	if (optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument \"%s\" (see --help)", argv[optind]);
		return fail("verify", json, err);
	}
	if (root == NULL)
		return fail("verify", json, "--root FILE is required (see --help)");
	if ((chain_file == NULL) == (connect == NULL))
		return fail("verify", json, "give exactly one of --chain FILE and --connect HOST:PORT");
	if (chain_file != NULL && (fo.sni != NULL || fo.cert != NULL || fo.key != NULL))
		return fail("verify", json, "--sni, --cert and --key go with --connect");
	if ((fo.cert == NULL) != (fo.key == NULL))
		return fail("verify", json, "--cert and --key go together");

	if (mc_chain_load_pem(root, &roots, err, sizeof(err)) < 0) {
		rc = fail("verify", json, err);
		goto out;
	}
	if (chain_file != NULL) {
		if (mc_chain_load_pem(chain_file, &peer, err, sizeof(err)) < 0) {
			rc = fail("verify", json, err);
			goto out;
		}
	} else {
		if (split_host_port(connect, host, sizeof(host), &fo.port) < 0) {
			snprintf(err, sizeof(err), "--connect %s: expected HOST:PORT (or [IPv6]:PORT)", connect);
			rc = fail("verify", json, err);
			goto out;
		}
		fo.host = host;
		fo.timeout_ms = (int)(timeout * 1000);
		if (mc_chain_fetch(&fo, &peer, err, sizeof(err)) < 0) {
			rc = fail("verify", json, err);
			goto out;
		}
	}
	if (save != NULL && mc_chain_write_pem(peer, save, err, sizeof(err)) < 0) {
		rc = fail("verify", json, err);
		goto out;
	}
	if (mc_chain_verify(peer, roots, &vo, &res, err, sizeof(err)) < 0) {
		rc = fail("verify", json, err);
		goto out;
	}
	rc = res.ok ? MC_EXIT_OK : MC_EXIT_FAIL;

	if (json) {
		cJSON *doc = cJSON_CreateObject(), *src = cJSON_AddObjectToObject(doc, "source");
		cJSON *sent = cJSON_AddArrayToObject(doc, "certificates");

		cJSON_AddStringToObject(doc, "command", "verify");
		cJSON_AddBoolToObject(doc, "ok", res.ok);
		cJSON_AddStringToObject(doc, "root", root);
		if (chain_file != NULL) {
			cJSON_AddStringToObject(src, "chain", chain_file);
		} else {
			cJSON_AddStringToObject(src, "connect", connect);
			if (fo.sni != NULL)
				cJSON_AddStringToObject(src, "sni", fo.sni);
			cJSON_AddBoolToObject(src, "client_cert", fo.cert != NULL);
		}
		if (save != NULL)
			cJSON_AddStringToObject(src, "saved_to", save);
		(void)show_chain(peer, sent, err, sizeof(err));
		if (res.path != NULL)
			(void)show_chain(res.path, cJSON_AddArrayToObject(doc, "path"), err, sizeof(err));
		else
			cJSON_AddNullToObject(doc, "path");
		cJSON_AddItemToObject(doc, "result", mc_verify_result_json(&res));
		print_json(doc);
		cJSON_Delete(doc);
		goto out;
	}

	if (chain_file != NULL)
		printf("chain %s: %zu certificate(s)\n", chain_file, mc_chain_count(peer));
	else
		printf("chain sent by %s%s%s%s: %zu certificate(s)\n", connect, fo.sni != NULL ? " (SNI " : "",
		       fo.sni != NULL ? fo.sni : "", fo.sni != NULL ? ")" : "", mc_chain_count(peer));
	if (save != NULL)
		printf("saved to %s\n", save);
	(void)show_chain(peer, NULL, err, sizeof(err));
	/* The root the path ends at, when the peer did not send it. */
	if (res.path != NULL && mc_chain_count(res.path) > 0) {
		size_t last = mc_chain_count(res.path) - 1;
		struct mc_cert_info ci;

		if (mc_cert_info_get(res.path, last, &ci, NULL, 0) == 0) {
			if (!chain_has(peer, ci.fingerprint))
				print_cert(&ci, last, " (from --root, not sent)");
			mc_cert_info_clear(&ci);
		}
	}
	printf("\nchecks:\n");
	{
		size_t failed = 0;

		for (size_t i = 0; i < res.n_checks; i++) {
			printf("  %s  %-15s %s\n", res.checks[i].ok ? "PASS" : "FAIL", res.checks[i].name,
			       res.checks[i].detail);
			if (!res.checks[i].ok)
				failed++;
		}
		if (res.ok)
			printf("\nresult: PASS (%zu checks)\n", res.n_checks);
		else
			printf("\nresult: FAIL (%zu of %zu checks failed)\n", failed, res.n_checks);
	}
out:
	mc_verify_result_clear(&res);
	mc_chain_free(roots);
	mc_chain_free(peer);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* inspect                                                                   */

static void
inspect_usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck certs inspect [--json] FILE...\n"
		"\n"
		"Shows every certificate in the PEM files: subject, issuer, SANs, validity,\n"
		"key, basic constraints, key usage, serial, SHA-256 fingerprint. No verdict.\n"
		"\n"
		"options:\n"
		"  --json                one JSON document on stdout\n"
		"  -h, --help            this help\n"
		"\n"
		"Exit codes: 0 every file read, 2 a file could not be read or is not valid PEM.\n");
}

static int
certs_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	cJSON *doc = NULL, *files = NULL;
	bool json = false;
	int c, rc = MC_EXIT_OK;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			inspect_usage(stdout);
			return MC_EXIT_OK;
		default:
			return bad_option("inspect", c, argv);
		}
	}
	if (optind >= argc)
		return fail("inspect", json, "give at least one FILE (see --help)");
	if (json) {
		doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "command", "inspect");
		files = cJSON_AddArrayToObject(doc, "files");
	}
	for (int i = optind; i < argc; i++) {
		struct mc_chain *ch = NULL;
		char err[MC_ERRLEN];

		if (mc_chain_load_pem(argv[i], &ch, err, sizeof(err)) < 0) {
			fprintf(stderr, "meshcheck certs inspect: %s\n", err);
			if (json) {
				cJSON *f = cJSON_CreateObject();

				cJSON_AddStringToObject(f, "file", argv[i]);
				cJSON_AddStringToObject(f, "error", err);
				cJSON_AddItemToArray(files, f);
			}
			rc = MC_EXIT_USAGE;
			continue;
		}
		if (json) {
			cJSON *f = cJSON_CreateObject();

			cJSON_AddStringToObject(f, "file", argv[i]);
			(void)show_chain(ch, cJSON_AddArrayToObject(f, "certificates"), err, sizeof(err));
			cJSON_AddItemToArray(files, f);
		} else {
			printf("%s%s: %zu certificate(s)\n", i > optind ? "\n" : "", argv[i], mc_chain_count(ch));
			(void)show_chain(ch, NULL, err, sizeof(err));
		}
		mc_chain_free(ch);
	}
	if (json) {
		cJSON_AddBoolToObject(doc, "ok", rc == MC_EXIT_OK);
		print_json(doc);
		cJSON_Delete(doc);
	}
	return rc;
}

/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
} subcommands[] = {
	{"init", "create a root CA and one intermediate CA per cluster (Istio plug-in layout)", certs_init},
	{"issue", "issue a workload certificate with a SPIFFE ID from a cluster CA", certs_issue},
	{"verify", "verify a chain (file or live TLS server) against a root, with checks", certs_verify},
	{"inspect", "show the facts of every certificate in PEM files", certs_inspect},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void
certs_usage(FILE *f)
{
	fprintf(f, "usage: meshcheck certs SUBCOMMAND [OPTIONS]\n\nsubcommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\n`meshcheck certs SUBCOMMAND --help` shows its options.\n"
		   "Exit codes: 0 ok, 1 a verify check failed, 2 usage, input or environment error.\n");
}

int
mc_cmd_certs(int argc, char **argv)
{
	if (argc < 2) {
		certs_usage(stderr);
		return MC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		certs_usage(stdout);
		return MC_EXIT_OK;
	}
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "meshcheck certs: unknown subcommand \"%s\" (see meshcheck certs --help)\n", argv[1]);
	return MC_EXIT_USAGE;
}
