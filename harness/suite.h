/*
 * Suite definitions: JSON files in suites/ that users read and edit.
 *
 *   {
 *     "name": "trust",
 *     "description": "...",                        optional
 *     "target": "local",                           optional; the target it was written for
 *     "mesh":    { ... },                          optional; read by the target
 *     "servers": [ { ... } ],                      optional; read by the target
 *     "cases": [
 *       { "name": "...", "check": "chain", "input": { ... }, "expect": { ... },
 *         "description": "...", "expect_failure": false }
 *     ]
 *   }
 *
 * A case with "expect_failure": true is a negative control: it passes only
 * when its check fails (a leak that must be caught, a chain that must be
 * rejected), and fails, saying so, when the check passes.
 *
 * Loading validates the whole file, including every case's input and
 * expectation (through its check kind), before anything runs, so a typo is
 * reported at once with the file and the JSON position or field path.
 */
#ifndef MC_SUITE_H
#define MC_SUITE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct mc_check_kind;

struct mc_case_def {
	const char *name;          /* points into json */
	const char *description;   /* may be NULL */
	const struct mc_check_kind *kind;
	const cJSON *input;        /* object; may be empty */
	const cJSON *expect;       /* object; may be empty */
	size_t index;              /* position in "cases" */
	int expect_failure;        /* a negative control: passes only when the check fails */
	const cJSON *mesh_config;  /* array of fixtures/mesh file names the kube target applies for the case; may be NULL */
};

struct mc_suite_def {
	char *file;                /* as given */
	const char *name;
	const char *description;
	const char *target;        /* NULL when not stated */
	const cJSON *mesh;         /* NULL when absent */
	const cJSON *servers;      /* NULL when absent */
	struct mc_case_def *cases;
	size_t n_cases;
	cJSON *json;               /* owned: the parsed document */
};

/*
 * Loads and validates a suite file. On error returns -EINVAL (or the errno
 * of a read failure) with a message such as
 *   "suites/x.json:12:5: JSON syntax error" or
 *   "suites/x.json: cases[2].expect.verify: expected a boolean".
 */
int mc_suite_load(const char *path, struct mc_suite_def **out, char *err, size_t errlen);
/* The same from memory; name stands for the file in messages. */
int mc_suite_parse(const char *text, size_t len, const char *name, struct mc_suite_def **out,
		   char *err, size_t errlen);
void mc_suite_def_free(struct mc_suite_def *def);

/*
 * Field helpers for check kinds' validators: each looks up key in obj,
 * checks its type, and on a mismatch writes "<where>.<key>: expected ..." to
 * err and returns -EINVAL. A missing optional field leaves *out unchanged and
 * returns 0; a missing required field is an error.
 */
int mc_field_string(const cJSON *obj, const char *key, int required, const char *where,
		    const char **out, char *err, size_t errlen);
int mc_field_bool(const cJSON *obj, const char *key, int required, const char *where,
		  int *out, char *err, size_t errlen);
int mc_field_int(const cJSON *obj, const char *key, int required, const char *where,
		 long min, long max, long *out, char *err, size_t errlen);
/* A duration string ("7d", "1h30m") or a number of seconds. */
int mc_field_duration(const cJSON *obj, const char *key, int required, const char *where,
		      long *out, char *err, size_t errlen);
/* An array of strings; *out points at the array (NULL when absent). */
int mc_field_strings(const cJSON *obj, const char *key, int required, const char *where,
		     const cJSON **out, char *err, size_t errlen);
/*
 * Reading already-validated fields: the value of key in obj when it has the
 * right type, else def.
 */
const char *mc_json_str(const cJSON *obj, const char *key, const char *def);
bool mc_json_bool(const cJSON *obj, const char *key, bool def);
long mc_json_int(const cJSON *obj, const char *key, long def);
/* A duration field ("3s", "1m", or a number of seconds) in seconds, else def. */
long mc_json_seconds(const cJSON *obj, const char *key, long def);

/* Rejects keys of obj that are not in allowed (NULL-terminated): catches typos. */
int mc_fields_known(const cJSON *obj, const char *const *allowed, const char *where,
		    char *err, size_t errlen);

#endif
