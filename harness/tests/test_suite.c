/*
 * Unit tests of suite loading: every malformed input gets an error naming
 * the file and the JSON position or the field.
 */
#include <errno.h>

#include "check_kind.h"
#include "suite.h"
#include "testutil.h"

static const char *good =
	"{\n"
	"  \"name\": \"t\",\n"
	"  \"cases\": [\n"
	"    {\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": \"s1\"},\n"
	"     \"expect\": {\"verify\": true, \"min_validity\": \"1h\"}}\n"
	"  ]\n"
	"}\n";

/* Parses text as file "x.json" and returns the error message (static). */
static const char *
parse_err(const char *text)
{
	static char err[MC_ERRLEN];
	struct mc_suite_def *def = NULL;
	int rc;

	err[0] = '\0';
	rc = mc_suite_parse(text, strlen(text), "x.json", &def, err, sizeof(err));
	ck_assert_msg(rc == -EINVAL, "expected -EINVAL, got %d for: %s", rc, text);
	ck_assert_ptr_null(def);
	ck_assert_msg(strncmp(err, "x.json", 6) == 0, "message does not name the file: %s", err);
	return err;
}

START_TEST(good_suite_loads)
{
	struct mc_suite_def *def = NULL;
	char err[MC_ERRLEN] = "";

	ck_assert_int_eq(mc_suite_parse(good, strlen(good), "g.json", &def, err, sizeof(err)), 0);
	ck_assert_str_eq(def->name, "t");
	ck_assert_uint_eq(def->n_cases, 1);
	ck_assert_str_eq(def->cases[0].kind->name, "chain");
	ck_assert_ptr_nonnull(def->cases[0].input);
	mc_suite_def_free(def);
}
END_TEST

/* A policy matrix becomes one policy case per cell, named "SOURCE -> DESTINATION", with the matrix's mesh config. */
START_TEST(matrix_expands_to_policy_cases)
{
	static const char *text =
		"{\"name\": \"m\", \"matrix\": {\"mesh_config\": [\"authorizationpolicy-nip.yaml\"],\n"
		" \"sources\": {\"outside\": {\"client_cert\": false}, \"sleep@c1\": {\"from\": \"sleep@c1\"}},\n"
		" \"destinations\": {\"gw\": {\"server\": \"ingress@c1:nip\", \"host\": \"1.2.3.4\"},\n"
		"                   \"hello\": {\"url\": \"http://helloworld.sample:5000/hello\"}},\n"
		" \"cells\": [{\"source\": \"outside\", \"destination\": \"gw\", \"expect\": 403, \"group\": \"authz\", \"tags\": [\"a\", \"b\"]},\n"
		"           {\"source\": \"sleep@c1\", \"destination\": \"hello\", \"expect\": \"reset\"}]}}\n";
	struct mc_suite_def *def = NULL;
	char err[MC_ERRLEN] = "";
	const cJSON *d;

	ck_assert_msg(mc_suite_parse(text, strlen(text), "m.json", &def, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(def->n_cases, 2);
	ck_assert_str_eq(def->cases[0].name, "outside -> gw");
	ck_assert_str_eq(def->cases[0].kind->name, "policy");
	ck_assert_str_eq(def->cases[0].description, "group: authz; tags: a, b");
	ck_assert_int_eq(cJSON_GetArraySize(def->cases[0].mesh_config), 1);
	d = cJSON_GetObjectItem(def->cases[0].input, "defaults");
	ck_assert_str_eq(cJSON_GetObjectItem(d, "server")->valuestring, "ingress@c1:nip");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(d, "client_cert")));
	ck_assert_str_eq(def->cases[1].name, "sleep@c1 -> hello");
	d = cJSON_GetObjectItem(def->cases[1].input, "defaults");
	ck_assert_str_eq(cJSON_GetObjectItem(d, "from")->valuestring, "sleep@c1");
	mc_suite_def_free(def);
}
END_TEST

/* Malformed matrices: the message names the file and the cell. */
START_TEST(matrix_errors_name_the_cell)
{
	static const char *head =
		"{\"name\": \"m\", \"matrix\": {\"sources\": {\"out\": {}, \"in\": {\"from\": \"sleep@c1\"}},"
		" \"destinations\": {\"gw\": {\"server\": \"ingress@c1:nip\"}, \"u\": {\"url\": \"http://a.b:1/\"}}, \"cells\": [";
	static const struct {
		const char *cells, *want;
	} cases[] = {
		{"{\"source\": \"out\", \"destination\": \"gw\", \"expect\": 200}, {\"source\": \"nobody\", \"destination\": \"gw\", \"expect\": 200}",
		 "x.json: matrix.cells[1].source: \"nobody\" is not one of matrix.sources"},
		{"{\"source\": \"out\", \"destination\": \"nowhere\", \"expect\": 200}", "matrix.cells[0].destination: \"nowhere\""},
		{"{\"source\": \"out\", \"destination\": \"gw\"}", "matrix.cells[0]: missing required field \"expect\""},
		{"{\"source\": \"in\", \"destination\": \"gw\", \"expect\": 200}", "needs a \"url\""},
		{"{\"source\": \"out\", \"destination\": \"gw\", \"expect\": 200, \"colour\": 1}", "matrix.cells[0]"},
		{"{\"source\": \"out\", \"destination\": \"gw\", \"expect\": 999}", "100..599"},
		{"7", "matrix.cells[0]"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = mc_xasprintf("%s%s]}}", head, cases[i].cells);
		const char *e = parse_err(t);

		ck_assert_msg(strstr(e, cases[i].want) != NULL, "case %zu: %s", i, e);
		free(t);
	}
	ck_assert_ptr_nonnull(strstr(parse_err("{\"name\": \"m\", \"cases\": [], \"matrix\": {}}"), "not both"));
	ck_assert_ptr_nonnull(strstr(parse_err("{\"name\": \"m\", \"matrix\": {\"sources\": {}}}"), "matrix.sources"));
}
END_TEST

START_TEST(syntax_error_has_line_and_column)
{
	const char *e = parse_err("{\n  \"name\": \"t\",\n  \"cases\": [ {\"name\": \"a\" \"check\": 1} ]\n}\n");

	ck_assert_msg(strstr(e, "x.json:3:") != NULL, "no line: %s", e);
	ck_assert_ptr_nonnull(strstr(e, "JSON syntax error"));
	e = parse_err("{\"name\": \"t\", \"cases\": [");
	ck_assert_msg(strstr(e, "x.json:1:") != NULL, "no position: %s", e);
}
END_TEST

START_TEST(empty_and_binary_rejected)
{
	ck_assert_ptr_nonnull(strstr(parse_err(""), "empty"));
	ck_assert_ptr_nonnull(strstr(parse_err("[1, 2]"), "expected an object"));
	ck_assert_ptr_nonnull(strstr(parse_err("{\"name\": \"t\"} trailing"), "syntax"));
}
END_TEST

START_TEST(missing_fields_named)
{
	ck_assert_ptr_nonnull(strstr(parse_err("{\"cases\": []}"), "missing required field \"name\""));
	ck_assert_ptr_nonnull(strstr(parse_err("{\"name\": \"t\"}"), "missing required field \"cases\""));
	ck_assert_ptr_nonnull(strstr(parse_err("{\"name\": \"t\", \"cases\": []}"), "non-empty"));
	ck_assert_ptr_nonnull(strstr(parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\"}]}"),
				     "cases[0]: missing required field \"check\""));
}
END_TEST

START_TEST(wrong_types_named)
{
	const char *e;

	e = parse_err("{\"name\": 5, \"cases\": [1]}");
	ck_assert_msg(strstr(e, "name: expected a string, got a number") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\","
		      " \"input\": {\"server\": \"s\"}, \"expect\": {\"verify\": \"yes\"}}]}");
	ck_assert_msg(strstr(e, "cases[0] (\"a\").expect.verify: expected a boolean") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\","
		      " \"input\": {\"server\": \"s\"}, \"expect\": {\"min_validity\": \"soon\"}}]}");
	ck_assert_msg(strstr(e, "min_validity: expected a duration") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": []}]}");
	ck_assert_msg(strstr(e, "cases[0].input: expected an object, got an array") != NULL, "%s", e);
}
END_TEST

START_TEST(unknown_and_duplicate_names)
{
	const char *e;

	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"nope\"}]}");
	ck_assert_msg(strstr(e, "unknown check kind \"nope\" (known: chain") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"colour\": 1, \"cases\": [{\"name\": \"a\", \"check\": \"chain\"}]}");
	ck_assert_msg(strstr(e, "unknown field \"colour\"") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": \"s\"}},"
		      " {\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": \"s\"}}]}");
	ck_assert_msg(strstr(e, "cases[1].name: \"a\" is also the name of cases[0]") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": {}}]}");
	ck_assert_msg(strstr(e, "give exactly one of server") != NULL, "%s", e);
	e = parse_err("{\"name\": \"t\", \"cases\": [{\"name\": \"a\", \"check\": \"chain\", "
		      "\"input\": {\"server\": \"s\"}, \"expect\": {\"same_root\": true}}]}");
	ck_assert_msg(strstr(e, "two or more chains") != NULL, "%s", e);
}
END_TEST

START_TEST(load_names_missing_file)
{
	struct mc_suite_def *def = NULL;
	char err[MC_ERRLEN];

	ck_assert_int_lt(mc_suite_load("/nonexistent/suite.json", &def, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/suite.json"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("suite");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, good_suite_loads);
	tcase_add_test(tc, syntax_error_has_line_and_column);
	tcase_add_test(tc, empty_and_binary_rejected);
	tcase_add_test(tc, missing_fields_named);
	tcase_add_test(tc, wrong_types_named);
	tcase_add_test(tc, unknown_and_duplicate_names);
	tcase_add_test(tc, load_names_missing_file);
	tcase_add_test(tc, matrix_expands_to_policy_cases);
	tcase_add_test(tc, matrix_errors_name_the_cell);
	suite_add_tcase(s, tc);
	return t_main(s);
}
