/*
 * Loading and validating suite files (see suite.h).
 */
#include "suite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_kind.h"
#include "util.h"

#define SUITE_MAX_BYTES (8u << 20)

static const char *
type_name(const cJSON *v)
{
	if (v == NULL)
		return "nothing";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "an unknown value";
}

/*
 * Looks up key case-sensitively (cJSON's default lookup ignores case, which
 * would accept "Name" for "name"); rejects a key given twice.
 */
static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int
mc_field_string(const cJSON *obj, const char *key, int required, const char *where,
		const char **out, char *err, size_t errlen)
{
	const cJSON *v = get(obj, key);

	if (v == NULL) {
		if (required)
			return mc_err(err, errlen, EINVAL, "%s: missing required field \"%s\"", where, key);
		return 0;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return mc_err(err, errlen, EINVAL, "%s.%s: expected a string, got %s", where, key, type_name(v));
	*out = v->valuestring;
	return 0;
}

int
mc_field_bool(const cJSON *obj, const char *key, int required, const char *where,
	      int *out, char *err, size_t errlen)
{
	const cJSON *v = get(obj, key);

	if (v == NULL) {
		if (required)
			return mc_err(err, errlen, EINVAL, "%s: missing required field \"%s\"", where, key);
		return 0;
	}
	if (!cJSON_IsBool(v))
		return mc_err(err, errlen, EINVAL, "%s.%s: expected a boolean (true or false), got %s",
			      where, key, type_name(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

int
mc_field_int(const cJSON *obj, const char *key, int required, const char *where,
	     long min, long max, long *out, char *err, size_t errlen)
{
	const cJSON *v = get(obj, key);
	double d;

	if (v == NULL) {
		if (required)
			return mc_err(err, errlen, EINVAL, "%s: missing required field \"%s\"", where, key);
		return 0;
	}
	if (!cJSON_IsNumber(v))
		return mc_err(err, errlen, EINVAL, "%s.%s: expected an integer, got %s", where, key, type_name(v));
	d = v->valuedouble;
	if (d < (double)min || d > (double)max || d != (double)(long)d)
		return mc_err(err, errlen, EINVAL, "%s.%s: expected an integer from %ld to %ld, got %g",
			      where, key, min, max, d);
	*out = (long)d;
	return 0;
}

int
mc_field_duration(const cJSON *obj, const char *key, int required, const char *where,
		  long *out, char *err, size_t errlen)
{
	const cJSON *v = get(obj, key);

	if (v == NULL) {
		if (required)
			return mc_err(err, errlen, EINVAL, "%s: missing required field \"%s\"", where, key);
		return 0;
	}
	if (cJSON_IsNumber(v))
		return mc_field_int(obj, key, required, where, 0, 100L * 365 * 86400, out, err, errlen);
	if (!cJSON_IsString(v) || mc_duration_parse(v->valuestring, out) < 0)
		return mc_err(err, errlen, EINVAL,
			      "%s.%s: expected a duration such as \"90s\", \"24h\" or \"7d\", got %s",
			      where, key, cJSON_IsString(v) ? v->valuestring : type_name(v));
	return 0;
}

int
mc_field_strings(const cJSON *obj, const char *key, int required, const char *where,
		 const cJSON **out, char *err, size_t errlen)
{
	const cJSON *v = get(obj, key), *e;
	int i = 0;

	if (v == NULL) {
		if (required)
			return mc_err(err, errlen, EINVAL, "%s: missing required field \"%s\"", where, key);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return mc_err(err, errlen, EINVAL, "%s.%s: expected an array of strings, got %s",
			      where, key, type_name(v));
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e))
			return mc_err(err, errlen, EINVAL, "%s.%s[%d]: expected a string, got %s",
				      where, key, i, type_name(e));
		i++;
	}
	*out = v;
	return 0;
}

const char *
mc_json_str(const cJSON *obj, const char *key, const char *def)
{
	const cJSON *v = get(obj, key);

	return cJSON_IsString(v) ? v->valuestring : def;
}

bool
mc_json_bool(const cJSON *obj, const char *key, bool def)
{
	const cJSON *v = get(obj, key);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

long
mc_json_int(const cJSON *obj, const char *key, long def)
{
	const cJSON *v = get(obj, key);

	return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

int
mc_fields_known(const cJSON *obj, const char *const *allowed, const char *where,
		char *err, size_t errlen)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, obj) {
		size_t i;
		const cJSON *f;

		for (i = 0; allowed[i] != NULL; i++)
			if (e->string != NULL && strcmp(e->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			struct mc_buf b;
			int rc;

			mc_buf_init(&b, 4096);
			for (i = 0; allowed[i] != NULL; i++)
				mc_buf_printf(&b, "%s%s", i > 0 ? ", " : "", allowed[i]);
			rc = mc_err(err, errlen, EINVAL, "%s: unknown field \"%s\" (known: %s)", where,
				    e->string != NULL ? e->string : "?", b.data != NULL ? b.data : "none");
			mc_buf_free(&b);
			return rc;
		}
		/* A key given twice is almost always a mistake; JSON leaves it undefined. */
		for (f = e->next; f != NULL; f = f->next)
			if (f->string != NULL && strcmp(f->string, e->string) == 0)
				return mc_err(err, errlen, EINVAL, "%s: field \"%s\" given twice", where, e->string);
	}
	return 0;
}

/* Converts a pointer into text to a 1-based line and column. */
static void
position(const char *text, const char *at, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int
expect_object(const cJSON *v, const char *where, const char *what, char *err, size_t errlen)
{
	if (!cJSON_IsObject(v))
		return mc_err(err, errlen, EINVAL, "%s%s: expected an object, got %s", where, what, type_name(v));
	return 0;
}

static int
validate_case(struct mc_suite_def *def, const cJSON *c, size_t index, char *err, size_t errlen)
{
	static const char *const case_fields[] = {"name", "description", "check", "input", "expect",
						  "expect_failure", "mesh_config", NULL};
	struct mc_case_def *cd = &def->cases[index];
	char where[512];
	const char *kind = NULL;
	const cJSON *input, *expect;
	int rc;

	snprintf(where, sizeof(where), "%s: cases[%zu]", def->file, index);
	if ((rc = expect_object(c, where, "", err, errlen)) < 0)
		return rc;
	if ((rc = mc_fields_known(c, case_fields, where, err, errlen)) < 0 ||
	    (rc = mc_field_string(c, "name", 1, where, &cd->name, err, errlen)) < 0 ||
	    (rc = mc_field_string(c, "description", 0, where, &cd->description, err, errlen)) < 0 ||
	    (rc = mc_field_string(c, "check", 1, where, &kind, err, errlen)) < 0 ||
	    (rc = mc_field_bool(c, "expect_failure", 0, where, &cd->expect_failure, err, errlen)) < 0 ||
	    (rc = mc_field_strings(c, "mesh_config", 0, where, &cd->mesh_config, err, errlen)) < 0)
		return rc;
	for (const cJSON *m = cd->mesh_config != NULL ? cd->mesh_config->child : NULL; m != NULL; m = m->next)
		if (strchr(m->valuestring, '/') != NULL || strlen(m->valuestring) < 6 ||
		    strcmp(m->valuestring + strlen(m->valuestring) - 5, ".yaml") != 0)
			return mc_err(err, errlen, EINVAL, "%s.mesh_config: \"%s\" is not a file name of fixtures/mesh (NAME.yaml)",
				      where, m->valuestring);
	if (cd->name[0] == '\0')
		return mc_err(err, errlen, EINVAL, "%s.name: must not be empty", where);
	for (size_t i = 0; i < index; i++)
		if (strcmp(def->cases[i].name, cd->name) == 0)
			return mc_err(err, errlen, EINVAL, "%s.name: \"%s\" is also the name of cases[%zu]",
				      where, cd->name, i);
	cd->kind = mc_check_find(kind);
	if (cd->kind == NULL) {
		struct mc_buf b;

		mc_buf_init(&b, 4096);
		for (size_t i = 0; mc_check_kinds[i] != NULL; i++)
			mc_buf_printf(&b, "%s%s", i > 0 ? ", " : "", mc_check_kinds[i]->name);
		rc = mc_err(err, errlen, EINVAL, "%s.check: unknown check kind \"%s\" (known: %s)", where,
			    kind, b.data);
		mc_buf_free(&b);
		return rc;
	}
	input = get(c, "input");
	expect = get(c, "expect");
	if (input != NULL && (rc = expect_object(input, where, ".input", err, errlen)) < 0)
		return rc;
	if (expect != NULL && (rc = expect_object(expect, where, ".expect", err, errlen)) < 0)
		return rc;
	/* Absent objects are given to the validator as empty ones. */
	if (input == NULL)
		cJSON_AddItemToObject((cJSON *)c, "input", (cJSON *)(input = cJSON_CreateObject()));
	if (expect == NULL)
		cJSON_AddItemToObject((cJSON *)c, "expect", (cJSON *)(expect = cJSON_CreateObject()));
	cd->input = input;
	cd->expect = expect;
	cd->index = index;
	snprintf(where, sizeof(where), "%s: cases[%zu] (\"%s\")", def->file, index, cd->name);
	return cd->kind->validate(input, expect, where, err, errlen);
}

int
mc_suite_parse(const char *text, size_t len, const char *name, struct mc_suite_def **out,
	       char *err, size_t errlen)
{
	static const char *const top_fields[] = {"name", "description", "target", "mesh", "servers",
						 "cases", NULL};
	struct mc_suite_def *def = mc_xcalloc(1, sizeof(*def));
	const char *end = NULL;
	const cJSON *cases, *c;
	char *copy = NULL;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	def->file = mc_xstrdup(name);
	if (len == 0 || memchr(text, '\0', len) != NULL) {
		rc = mc_err(err, errlen, EINVAL, "%s: %s", name,
			    len == 0 ? "empty file (expected a JSON object)" : "contains a NUL byte");
		goto out;
	}
	/* cJSON wants the terminating NUL inside the length to reject trailing garbage. */
	copy = mc_xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	def->json = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
	if (def->json == NULL) {
		size_t line, col;
		const char *at = end != NULL ? end : cJSON_GetErrorPtr();
		char near[24];
		size_t k = 0;

		if (at == NULL || at < copy || at > copy + len)
			at = copy + len;
		position(copy, at, &line, &col);
		/* Show a little of the text at the error, printable only. */
		for (const char *p = at; p < copy + len && k < 20 && *p != '\n'; p++)
			near[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		near[k] = '\0';
		rc = mc_err(err, errlen, EINVAL, "%s:%zu:%zu: JSON syntax error%s%s%s", name, line, col,
			    k > 0 ? " near \"" : " at end of line or file", near, k > 0 ? "\"" : "");
		goto out;
	}
	if ((rc = expect_object(def->json, name, "", err, errlen)) < 0 ||
	    (rc = mc_fields_known(def->json, top_fields, name, err, errlen)) < 0 ||
	    (rc = mc_field_string(def->json, "name", 1, name, &def->name, err, errlen)) < 0 ||
	    (rc = mc_field_string(def->json, "description", 0, name, &def->description, err, errlen)) < 0 ||
	    (rc = mc_field_string(def->json, "target", 0, name, &def->target, err, errlen)) < 0)
		goto out;
	if (def->name[0] == '\0') {
		rc = mc_err(err, errlen, EINVAL, "%s: name: must not be empty", name);
		goto out;
	}
	def->mesh = get(def->json, "mesh");
	if (def->mesh != NULL && (rc = expect_object(def->mesh, name, ": mesh", err, errlen)) < 0)
		goto out;
	def->servers = get(def->json, "servers");
	if (def->servers != NULL && !cJSON_IsArray(def->servers)) {
		rc = mc_err(err, errlen, EINVAL, "%s: servers: expected an array, got %s", name,
			    type_name(def->servers));
		goto out;
	}
	cases = get(def->json, "cases");
	if (cases == NULL) {
		rc = mc_err(err, errlen, EINVAL, "%s: missing required field \"cases\"", name);
		goto out;
	}
	if (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) == 0) {
		rc = mc_err(err, errlen, EINVAL, "%s: cases: expected a non-empty array, got %s", name,
			    cJSON_IsArray(cases) ? "an empty array" : type_name(cases));
		goto out;
	}
	def->n_cases = (size_t)cJSON_GetArraySize(cases);
	def->cases = mc_xcalloc(def->n_cases, sizeof(*def->cases));
	cJSON_ArrayForEach(c, cases) {
		if ((rc = validate_case(def, c, n, err, errlen)) < 0)
			goto out;
		n++;
	}
	*out = def;
	def = NULL;
out:
	free(copy);
	mc_suite_def_free(def);
	return rc;
}

int
mc_suite_load(const char *path, struct mc_suite_def **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = mc_file_read(path, SUITE_MAX_BYTES, &text, &len, err, errlen);
	if (rc == 0)
		rc = mc_suite_parse(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

void
mc_suite_def_free(struct mc_suite_def *def)
{
	if (def == NULL)
		return;
	cJSON_Delete(def->json);
	free(def->cases);
	free(def->file);
	free(def);
}
