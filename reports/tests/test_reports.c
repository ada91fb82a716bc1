/*
 * Tests of the report writers: escaping, structure, hostile strings (checked
 * with xmllint and by reading the output back), failures never shown as
 * passes, aborted runs, unwritable paths.
 */
#include <errno.h>

#include <cjson/cJSON.h>

#include "report.h"
#include "testutil.h"

/* Strings a report must survive: markup, CDATA end, quotes, controls, bad UTF-8, non-ASCII. */
#define HOSTILE "<script>alert(1)</script> & ]]> \"q\" 'a' \x01\x1b[31m\x7f \xff\xfe Gr\xc3\xbc\xc3\x9f" \
		"e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80 \xed\xa0\x80 \xef\xbf\xbf end"

static const char *xmllint = "/usr/bin/xmllint";

START_TEST(escape_markup_and_quotes)
{
	char *x = mc_xml_escape("a<b>&\"c'");
	char *h = mc_html_escape("a<b>&\"c'");

	ck_assert_str_eq(x, "a&lt;b&gt;&amp;&quot;c&apos;");
	ck_assert_str_eq(h, "a&lt;b&gt;&amp;&quot;c&#39;");
	free(x);
	free(h);
	x = mc_xml_escape(NULL);
	ck_assert_str_eq(x, "");
	free(x);
}
END_TEST

START_TEST(escape_forbidden_characters)
{
	char *x;

	/* C0 controls except tab and newline; CR kept exact as a reference. */
	x = mc_xml_escape("a\x01" "b\tc\nd\re\x1f\x7f");
	ck_assert_str_eq(x, "a\\x01b\tc\nd&#13;e\\x1F\\x7F");
	free(x);
	/* Broken UTF-8: a lone continuation byte, a truncated sequence, 0xFF, overlong '/'. */
	x = mc_xml_escape("\x80 \xc3 \xff \xc0\xaf \xe0\x80\xaf");
	ck_assert_str_eq(x, "\\x80 \\xC3 \\xFF \\xC0\\xAF \\xE0\\x80\\xAF");
	free(x);
	/* Surrogate U+D800 and noncharacters U+FFFE/U+FFFF. */
	x = mc_xml_escape("\xed\xa0\x80|\xef\xbf\xbe|\xef\xbf\xbf");
	ck_assert_str_eq(x, "\\xED\\xA0\\x80|\\xEF\\xBF\\xBE|\\xEF\\xBF\\xBF");
	free(x);
	/* Beyond U+10FFFF. */
	x = mc_xml_escape("\xf4\x90\x80\x80");
	ck_assert_str_eq(x, "\\xF4\\x90\\x80\\x80");
	free(x);
}
END_TEST

START_TEST(escape_keeps_valid_utf8)
{
	const char *ok = "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80 \xef\xbf\xbd";
	char *x = mc_xml_escape(ok), *s = mc_utf8_sanitize("a\x01\xff" "b");

	ck_assert_str_eq(x, ok);
	ck_assert_str_eq(s, "a\x01\\xFFb");
	free(x);
	free(s);
	x = mc_report_one_line("  two\n lines\tand   spaces ", 100);
	ck_assert_str_eq(x, "two lines and spaces");
	free(x);
	x = mc_report_one_line("abcdefghij", 4);
	ck_assert_str_eq(x, "abcd...");
	free(x);
}
END_TEST

/* A run with every outcome and hostile strings in every field. */
static struct mc_run *
hostile_run(void)
{
	struct mc_run *run = mc_run_new("run-" HOSTILE, "local");
	struct mc_suite *s = mc_run_add_suite(run, "suite " HOSTILE, "suites/" HOSTILE ".json");
	struct mc_case *c;

	mc_run_set_prop(run, "prop " HOSTILE, "value " HOSTILE);
	mc_suite_set_prop(s, "description", HOSTILE);
	c = mc_suite_add_case(s, "pass " HOSTILE, "chain");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	mc_case_set_seen(c, "seen " HOSTILE);
	mc_case_add_measure(c, "m " HOSTILE, 1.5, "s");
	c = mc_suite_add_case(s, "fail " HOSTILE, "chain");
	mc_case_set(c, MC_RESULT_FAIL, "reason line one " HOSTILE "\nline two");
	mc_case_set_expected(c, "expected " HOSTILE);
	mc_case_set_seen(c, "seen " HOSTILE);
	mc_case_add_evidence(c, "label " HOSTILE, "evidence/" HOSTILE ".pem");
	mc_case_add_evidence(c, "bad link", "javascript:alert(1)");
	c = mc_suite_add_case(s, "skip " HOSTILE, "chain");
	mc_case_set(c, MC_RESULT_SKIP, "skip reason " HOSTILE);
	c = mc_suite_add_case(s, "error " HOSTILE, "chain");
	mc_case_set(c, MC_RESULT_ERROR, "error reason " HOSTILE);
	s = mc_run_add_suite(run, "second", NULL);
	c = mc_suite_add_case(s, "ok", "chain");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	run->end = run->start + 2;
	return run;
}

/* xmllint --xpath EXPR FILE, as a number. */
static int
xpath_count(const char *file, const char *expr)
{
	char *argv[] = {(char *)xmllint, "--xpath", (char *)expr, (char *)file, NULL};
	char *out = NULL;
	int rc = t_run(argv, &out), n;

	ck_assert_msg(rc == 0, "xmllint --xpath %s failed: %s", expr, out);
	n = atoi(out);
	free(out);
	return n;
}

START_TEST(junit_hostile_strings_stay_well_formed)
{
	struct mc_run *run = hostile_run();
	char *dir = t_tmpdir();
	char *path = mc_xasprintf("%s/junit.xml", dir);
	char err[MC_ERRLEN];
	char *argv[] = {(char *)xmllint, "--noout", path, NULL};
	char *out = NULL, *xml;

	ck_assert_msg(access(xmllint, X_OK) == 0, "xmllint is required (Debian package libxml2-utils)");
	ck_assert_int_eq(mc_report_write_junit(run, path, err, sizeof(err)), 0);
	ck_assert_msg(t_run(argv, &out) == 0, "xmllint rejects junit.xml: %s", out);
	free(out);
	ck_assert_int_eq(xpath_count(path, "count(/testsuites/testsuite)"), 2);
	ck_assert_int_eq(xpath_count(path, "count(//testcase)"), 5);
	ck_assert_int_eq(xpath_count(path, "count(//testcase/failure)"), 1);
	ck_assert_int_eq(xpath_count(path, "count(//testcase/error)"), 1);
	ck_assert_int_eq(xpath_count(path, "count(//testcase/skipped)"), 1);
	/* Run facts (id, version, target, one property) in each suite, plus suite 1's file and description. */
	ck_assert_int_eq(xpath_count(path, "count(//testsuite/properties/property)"), 4 + 2 + 4);
	ck_assert_int_eq(xpath_count(path, "number(/testsuites/@failures)"), 1);
	ck_assert_int_eq(xpath_count(path, "number(/testsuites/testsuite[1]/@tests)"), 4);
	/* The failure message is one line; the body has expected, seen and evidence. */
	ck_assert_int_eq(xpath_count(path, "count(//failure[contains(@message, 'line two')])"), 1);
	ck_assert_int_eq(xpath_count(path, "count(//failure[contains(., 'expected:') and contains(., 'evidence:')])"), 1);
	ck_assert_int_eq(xpath_count(path, "count(//testcase[starts-with(@name, 'fail <script>')])"), 1);
	xml = t_read(path);
	ck_assert_ptr_null(strstr(xml, "<script>"));
	ck_assert_ptr_nonnull(strstr(xml, "&lt;script&gt;"));
	ck_assert_ptr_nonnull(strstr(xml, "]]&gt;"));
	ck_assert_ptr_nonnull(strstr(xml, "\\x01\\x1B[31m\\x7F \\xFF\\xFE"));
	ck_assert_ptr_nonnull(strstr(xml, "Gr\xc3\xbc\xc3\x9f" "e"));
	ck_assert_ptr_nonnull(strstr(xml, "\xf0\x9f\x9a\x80"));
	free(xml);
	mc_run_free(run);
	mc_rm_rf(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(html_hostile_strings_are_text)
{
	struct mc_run *run = hostile_run();
	char *html = mc_report_html_text(run);

	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_null(strstr(html, "href=\"javascript"));
	ck_assert_ptr_nonnull(strstr(html, "fail &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; &quot;q&quot; &#39;a&#39;"));
	ck_assert_ptr_nonnull(strstr(html, "\\x01\\x1B[31m"));
	/* Outcomes as words, so colour is never the only signal. */
	ck_assert_ptr_nonnull(strstr(html, "class=\"st fail\">FAIL</span>"));
	ck_assert_ptr_nonnull(strstr(html, "class=\"st error\">ERROR</span>"));
	ck_assert_ptr_nonnull(strstr(html, "class=\"st skip\">SKIP</span>"));
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: FAILED"));
	/* Self-contained: nothing fetched from elsewhere. */
	ck_assert_ptr_null(strstr(html, "src=\"http"));
	ck_assert_ptr_null(strstr(html, "<link"));
	free(html);
	mc_run_free(run);
}
END_TEST

START_TEST(json_round_trips)
{
	struct mc_run *run = hostile_run();
	char *dir = t_tmpdir();
	char *path = mc_xasprintf("%s/report.json", dir);
	char err[MC_ERRLEN];
	char *text, *want;
	cJSON *j, *s0, *cases, *c1;

	ck_assert_int_eq(mc_report_write_json(run, path, err, sizeof(err)), 0);
	text = t_read(path);
	j = cJSON_Parse(text);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "schema")->valuestring, "meshcheck.report/1");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "failed")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "total")->valueint, 5);
	s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "suites"), 0);
	cases = cJSON_GetObjectItem(s0, "cases");
	c1 = cJSON_GetArrayItem(cases, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(c1, "status")->valuestring, "fail");
	/* Valid text, controls included, comes back exactly; broken bytes as \xNN. */
	want = mc_utf8_sanitize("expected " HOSTILE);
	ck_assert_str_eq(cJSON_GetObjectItem(c1, "expected")->valuestring, want);
	ck_assert_ptr_nonnull(strstr(want, "\x01\x1b[31m"));
	ck_assert_ptr_nonnull(strstr(want, "\\xFF\\xFE"));
	free(want);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cases, 2), "status")->valuestring, "skip");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cases, 3), "status")->valuestring, "error");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "run"), "aborted")));
	cJSON_Delete(j);
	free(text);
	mc_run_free(run);
	mc_rm_rf(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(aborted_run_reports_error)
{
	struct mc_run *run = mc_run_new("r", "local");
	char *dir = t_tmpdir();
	char *path = mc_xasprintf("%s/junit.xml", dir);
	char err[MC_ERRLEN];
	char *argv[] = {(char *)xmllint, "--noout", path, NULL};
	char *html;
	cJSON *j;

	mc_run_abort(run, "suites/x.json:3:7: JSON syntax error near \"<&>\"");
	ck_assert_int_eq(mc_report_write_junit(run, path, err, sizeof(err)), 0);
	ck_assert_int_eq(t_run(argv, NULL), 0);
	ck_assert_int_eq(xpath_count(path, "count(//testcase[@name='run']/error[@type='aborted'])"), 1);
	ck_assert_int_eq(xpath_count(path, "number(/testsuites/@errors)"), 1);
	html = mc_report_html_text(run);
	ck_assert_ptr_nonnull(strstr(html, "The run stopped early"));
	ck_assert_ptr_nonnull(strstr(html, "near &quot;&lt;&amp;&gt;&quot;"));
	free(html);
	j = mc_report_json(run);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "run"), "aborted")->valuestring,
			 "suites/x.json:3:7: JSON syntax error near \"<&>\"");
	cJSON_Delete(j);
	mc_run_free(run);
	mc_rm_rf(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(unwritable_path_is_an_error)
{
	struct mc_run *run = mc_run_new("r", "local");
	char err[MC_ERRLEN] = "";

	ck_assert_int_lt(mc_report_write_junit(run, "/nonexistent/dir/junit.xml", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/junit.xml"));
	ck_assert_int_lt(mc_report_write_html(run, "/nonexistent/dir/r.html", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/r.html"));
	ck_assert_int_lt(mc_report_write_json(run, "/nonexistent/dir/r.json", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/r.json"));
	mc_run_free(run);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reports");
	TCase *tc = tcase_create("writers");

	tcase_add_test(tc, escape_markup_and_quotes);
	tcase_add_test(tc, escape_forbidden_characters);
	tcase_add_test(tc, escape_keeps_valid_utf8);
	tcase_add_test(tc, junit_hostile_strings_stay_well_formed);
	tcase_add_test(tc, html_hostile_strings_are_text);
	tcase_add_test(tc, json_round_trips);
	tcase_add_test(tc, aborted_run_reports_error);
	tcase_add_test(tc, unwritable_path_is_an_error);
	suite_add_tcase(s, tc);
	return t_main(s);
}
