/*
 * `meshcheck verify-bundle FILE`: checks a certification bundle written by
 * `run --certify` (see bundle.h) and says what it certifies.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "cmd.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck verify-bundle FILE [--json]\n"
		"\n"
		"Checks a certification bundle (meshcheck-<run id>.tar, written by\n"
		"`meshcheck run --certify`): the archive's structure, every file's SHA-256\n"
		"against SHA256SUMS and against manifest.json, and that every file in the\n"
		"archive is listed and every listed file is in it. Then prints what the\n"
		"bundle certifies: the run, the target, the clusters and their versions,\n"
		"the roots and the results.\n"
		"\n"
		"options:\n"
		"  --json           print one JSON document instead\n"
		"  -h, --help       this help\n"
		"\n"
		"Exit codes: 0 the bundle verifies, 1 a checksum or listing does not match\n"
		"(the bundle was changed), 2 the file cannot be read or is not a\n"
		"well-formed bundle, or a usage error.\n");
}

static void
print_text(const char *path, int rc, const struct mc_bundle_summary *s, const char *err)
{
	if (rc < 0) {
		fprintf(stderr, "meshcheck verify-bundle: %s\n", err);
		return;
	}
	if (rc > 0) {
		for (size_t i = 0; i < s->n_problems; i++)
			printf("%s\n", s->problems[i]);
		printf("FAILED: %s does not verify: %zu problem%s, %zu of %zu files verified\n", path, s->n_problems,
		       s->n_problems == 1 ? "" : "s", s->verified, s->members > 0 ? s->members - 1 : 0);
		return;
	}
	printf("OK: %zu files verified\n", s->verified);
	printf("bundle:       %s\n", path);
	printf("run:          %s (target %s), meshcheck %s\n", s->run_id != NULL ? s->run_id : "?",
	       s->target != NULL ? s->target : "?", s->version != NULL ? s->version : "?");
	printf("time:         %s to %s\n", s->start != NULL ? s->start : "?", s->end != NULL ? s->end : "?");
	for (size_t i = 0; i < s->n_clusters; i++) {
		const struct mc_bundle_cluster *c = &s->clusters[i];

		printf("cluster:      %s: Kubernetes %s, Istio %s", c->context, c->kubernetes != NULL ? c->kubernetes : "?",
		       c->istio != NULL ? c->istio : "?");
		if (c->revision != NULL)
			printf(" (revision %s)", c->revision);
		printf("\n");
	}
	if (s->trust_domain != NULL)
		printf("trust domain: %s\n", s->trust_domain);
	for (size_t i = 0; i < s->n_roots; i++)
		printf("root:         sha256 %s\n", s->root_fingerprints[i]);
	if (s->n_images > 0)
		printf("images:       %zu\n", s->n_images);
	printf("results:      %zu passed, %zu failed, %zu skipped, %zu errors (%zu cases)\n", s->passed, s->failed,
	       s->skipped, s->errors, s->total);
}

static void
add_opt_str(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void
print_json(const char *path, int rc, int exit_code, const struct mc_bundle_summary *s, const char *err)
{
	cJSON *o = cJSON_CreateObject(), *r, *a, *k;
	char *text;

	cJSON_AddStringToObject(o, "file", path);
	cJSON_AddBoolToObject(o, "verified", rc == 0);
	cJSON_AddNumberToObject(o, "exit_code", exit_code);
	add_opt_str(o, "error", rc < 0 ? err : NULL);
	cJSON_AddNumberToObject(o, "members", (double)s->members);
	cJSON_AddNumberToObject(o, "files_verified", (double)s->verified);
	a = cJSON_AddArrayToObject(o, "problems");
	for (size_t i = 0; i < s->n_problems; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->problems[i]));
	add_opt_str(o, "schema", s->schema);
	add_opt_str(o, "meshcheck_version", s->version);
	r = cJSON_AddObjectToObject(o, "run");
	add_opt_str(r, "id", s->run_id);
	add_opt_str(r, "target", s->target);
	add_opt_str(r, "start", s->start);
	add_opt_str(r, "end", s->end);
	add_opt_str(o, "trust_domain", s->trust_domain);
	a = cJSON_AddArrayToObject(o, "clusters");
	for (size_t i = 0; i < s->n_clusters; i++) {
		cJSON *c = cJSON_CreateObject();

		add_opt_str(c, "context", s->clusters[i].context);
		add_opt_str(c, "kubernetes", s->clusters[i].kubernetes);
		add_opt_str(c, "istio", s->clusters[i].istio);
		add_opt_str(c, "revision", s->clusters[i].revision);
		cJSON_AddItemToArray(a, c);
	}
	a = cJSON_AddArrayToObject(o, "root_sha256");
	for (size_t i = 0; i < s->n_roots; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->root_fingerprints[i]));
	a = cJSON_AddArrayToObject(o, "images");
	for (size_t i = 0; i < s->n_images; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->images[i]));
	k = cJSON_AddObjectToObject(o, "summary");
	cJSON_AddNumberToObject(k, "total", (double)s->total);
	cJSON_AddNumberToObject(k, "passed", (double)s->passed);
	cJSON_AddNumberToObject(k, "failed", (double)s->failed);
	cJSON_AddNumberToObject(k, "skipped", (double)s->skipped);
	cJSON_AddNumberToObject(k, "errors", (double)s->errors);
	text = cJSON_Print(o);
	if (text != NULL)
		printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

int
mc_cmd_verify_bundle(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct mc_bundle_summary s;
	char err[MC_ERRLEN] = "";
	const char *path;
	bool json = false;
	int opt, rc, code;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'h': usage(stdout); return MC_EXIT_OK;
		default:
			fprintf(stderr, "meshcheck verify-bundle: unknown option: %s (see meshcheck verify-bundle --help)\n",
				argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "meshcheck verify-bundle: %s (see meshcheck verify-bundle --help)\n",
			optind == argc ? "expected the bundle FILE" : "expected one FILE");
		return MC_EXIT_USAGE;
	}
	path = argv[optind];
	rc = mc_bundle_verify(path, NULL, &s, err, sizeof(err));
	code = rc < 0 ? MC_EXIT_USAGE : rc > 0 ? MC_EXIT_FAIL : MC_EXIT_OK;
	if (json)
		print_json(path, rc, code, &s, err);
	else
		print_text(path, rc, &s, err);
	mc_bundle_summary_clear(&s);
	return code;
}
