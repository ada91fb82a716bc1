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

long
mc_json_seconds(const cJSON *obj, const char *key, long def)
{
	long l = def;

	(void)mc_field_duration(obj, key, 0, "", &l, NULL, 0);
	return l;
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

/*
 * A policy matrix (see suite.h) becomes one `policy` case per cell, named
 * "SOURCE -> DESTINATION", whose only row is the cell: the source's and
 * the destination's request fields merged, and the expected outcome. The
 * cases are added to the document as "cases", so they are validated and
 * reported like any other.
 */
static int
expand_matrix(cJSON *doc, const char *name, char *err, size_t errlen)
{
	static const char *const matrix_fields[] = {"mesh_config", "sources", "destinations", "cells", NULL};
	static const char *const cell_fields[] = {"source", "destination", "expect", "body", "group", "tags", NULL};
	const cJSON *m = get(doc, "matrix"), *sources, *dests, *cells, *cell, *x;
	cJSON *cases;
	char where[512];
	size_t i = 0;
	int rc;

	snprintf(where, sizeof(where), "%s: matrix", name);
	if ((rc = expect_object(m, where, "", err, errlen)) < 0 || (rc = mc_fields_known(m, matrix_fields, where, err, errlen)) < 0)
		return rc;
	sources = get(m, "sources");
	dests = get(m, "destinations");
	cells = get(m, "cells");
	if (!cJSON_IsObject(sources) || cJSON_GetArraySize(sources) == 0)
		return mc_err(err, errlen, EINVAL, "%s.sources: expected an object of name: request fields", where);
	if (!cJSON_IsObject(dests) || cJSON_GetArraySize(dests) == 0)
		return mc_err(err, errlen, EINVAL, "%s.destinations: expected an object of name: request fields", where);
	cJSON_ArrayForEach(x, sources)
		if (!cJSON_IsObject(x) || strstr(x->string, " -> ") != NULL || x->string[0] == '\0')
			return mc_err(err, errlen, EINVAL, "%s.sources.%s: expected an object (request fields), named without \" -> \"",
				      where, x->string);
	cJSON_ArrayForEach(x, dests)
		if (!cJSON_IsObject(x) || strstr(x->string, " -> ") != NULL || x->string[0] == '\0')
			return mc_err(err, errlen, EINVAL,
				      "%s.destinations.%s: expected an object (request fields), named without \" -> \"", where,
				      x->string);
	if (!cJSON_IsArray(cells) || cJSON_GetArraySize(cells) == 0)
		return mc_err(err, errlen, EINVAL, "%s.cells: expected a non-empty array of {\"source\", \"destination\", \"expect\"}",
			      where);
	cases = cJSON_CreateArray();
	cJSON_ArrayForEach(cell, cells) {
		char cw[600];
		const char *src = NULL, *dst = NULL, *group = NULL;
		const cJSON *s, *d, *tags = NULL;
		cJSON *c, *in, *defaults, *rows, *row;

		snprintf(cw, sizeof(cw), "%s.cells[%zu]", where, i++);
		if ((rc = expect_object(cell, cw, "", err, errlen)) < 0 ||
		    (rc = mc_fields_known(cell, cell_fields, cw, err, errlen)) < 0 ||
		    (rc = mc_field_string(cell, "source", 1, cw, &src, err, errlen)) < 0 ||
		    (rc = mc_field_string(cell, "destination", 1, cw, &dst, err, errlen)) < 0 ||
		    (rc = mc_field_string(cell, "group", 0, cw, &group, err, errlen)) < 0 ||
		    (rc = mc_field_strings(cell, "tags", 0, cw, &tags, err, errlen)) < 0)
			goto fail;
		if ((s = cJSON_GetObjectItemCaseSensitive(sources, src)) == NULL) {
			rc = mc_err(err, errlen, EINVAL, "%s.source: \"%s\" is not one of matrix.sources", cw, src);
			goto fail;
		}
		if ((d = cJSON_GetObjectItemCaseSensitive(dests, dst)) == NULL) {
			rc = mc_err(err, errlen, EINVAL, "%s.destination: \"%s\" is not one of matrix.destinations", cw, dst);
			goto fail;
		}
		if (get(cell, "expect") == NULL) {
			rc = mc_err(err, errlen, EINVAL, "%s: missing required field \"expect\" (a status or refused, reset, tls ...)",
				    cw);
			goto fail;
		}
		/* The request: the destination's fields, then the source's (who sends it, with what identity). */
		defaults = cJSON_Duplicate(d, 1);
		cJSON_ArrayForEach(x, s) {
			if (cJSON_GetObjectItemCaseSensitive(defaults, x->string) != NULL) {
				cJSON_Delete(defaults);
				rc = mc_err(err, errlen, EINVAL, "%s: source \"%s\" and destination \"%s\" both set \"%s\"", cw,
					    src, dst, x->string);
				goto fail;
			}
			cJSON_AddItemToObject(defaults, x->string, cJSON_Duplicate(x, 1));
		}
		/* A source in the mesh calls a URL; its "server" form would send from outside. */
		if (cJSON_GetObjectItemCaseSensitive(defaults, "from") != NULL &&
		    cJSON_GetObjectItemCaseSensitive(defaults, "server") != NULL) {
			cJSON_Delete(defaults);
			rc = mc_err(err, errlen, EINVAL,
				    "%s: source \"%s\" calls from inside the mesh (\"from\"), so destination \"%s\" needs a \"url\", "
				    "not a \"server\"",
				    cw, src, dst);
			goto fail;
		}
		c = cJSON_CreateObject();
		{
			char *cname = mc_xasprintf("%s -> %s", src, dst);

			cJSON_AddStringToObject(c, "name", cname);
			free(cname);
		}
		if (group != NULL || tags != NULL) {
			struct mc_buf b;

			mc_buf_init(&b, 4096);
			if (group != NULL)
				mc_buf_printf(&b, "group: %s", group);
			cJSON_ArrayForEach(x, tags) mc_buf_printf(&b, "%s%s", x == tags->child ? (b.len > 0 ? "; tags: " : "tags: ") : ", ",
								  x->valuestring);
			cJSON_AddStringToObject(c, "description", b.data);
			mc_buf_free(&b);
		}
		cJSON_AddStringToObject(c, "check", "policy");
		if (get(m, "mesh_config") != NULL)
			cJSON_AddItemToObject(c, "mesh_config", cJSON_Duplicate(get(m, "mesh_config"), 1));
		in = cJSON_AddObjectToObject(c, "input");
		cJSON_AddItemToObject(in, "defaults", defaults);
		rows = cJSON_AddArrayToObject(in, "rows");
		row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "name", dst);
		cJSON_AddItemToObject(row, "expect", cJSON_Duplicate(get(cell, "expect"), 1));
		if (get(cell, "body") != NULL)
			cJSON_AddItemToObject(row, "body", cJSON_Duplicate(get(cell, "body"), 1));
		cJSON_AddItemToArray(rows, row);
		cJSON_AddItemToArray(cases, c);
	}
	cJSON_AddItemToObject(doc, "cases", cases);
	return 0;
fail:
	cJSON_Delete(cases);
	return rc;
}

int
mc_suite_parse(const char *text, size_t len, const char *name, struct mc_suite_def **out,
	       char *err, size_t errlen)
{
	static const char *const top_fields[] = {"name", "description", "target", "mesh", "servers",
						 "cases", "matrix", NULL};
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
	if (get(def->json, "matrix") != NULL) {
		if (get(def->json, "cases") != NULL) {
			rc = mc_err(err, errlen, EINVAL, "%s: give \"matrix\" or \"cases\", not both", name);
			goto out;
		}
		if ((rc = expand_matrix(def->json, name, err, errlen)) < 0)
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
