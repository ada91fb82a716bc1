/*
 * Tests of the report writers: hostile strings in every field (JUnit
 * checked with xmllint, HTML checked to be text, JSON read back), every
 * outcome shown as what it is, aborted and empty runs, unwritable paths.
 * Each test writes into its own temporary directory and removes it.
 */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "report.h"
#include "xmltest.h"

/* Valid UTF-8 a report must survive: markup, CDATA end, quotes, controls, whitespace, non-ASCII. */
#define HOSTILE_VALID "<script>alert(1)</script> & ]]> \"q\" 'a' \x01\x1b[31m\x7f\t\r\n " \
		      "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80 end"
/* The same plus bytes that are not UTF-8: invalid bytes, a surrogate, U+FFFF, an overlong form. */
#define HOSTILE HOSTILE_VALID " \xff\xfe \xed\xa0\x80 \xef\xbf\xbf \xc0\xaf tail"

/* A temporary directory and the paths of the three reports in it. */
struct out {
	char *dir, *junit, *html, *json;
};

/* Creates a fresh temporary directory for one test's reports. */
static struct out
out_new(void)
{
	struct out o;

	o.dir = t_tmpdir();
	o.junit = mc_xasprintf("%s/junit.xml", o.dir);
	o.html = mc_xasprintf("%s/report.html", o.dir);
	o.json = mc_xasprintf("%s/report.json", o.dir);
	return o;
}

/* Removes the directory and everything in it. */
static void
out_free(struct out *o)
{
	ck_assert_int_eq(mc_rm_rf(o->dir), 0);
	free(o->dir);
	free(o->junit);
	free(o->html);
	free(o->json);
}

/* Writes all three reports, failing the test with the writer's message on error. */
static void
write_all(const struct mc_run *run, const struct out *o)
{
	char err[MC_ERRLEN] = "";

	ck_assert_msg(mc_report_write_junit(run, o->junit, err, sizeof(err)) == 0, "junit: %s", err);
	ck_assert_msg(mc_report_write_html(run, o->html, err, sizeof(err)) == 0, "html: %s", err);
	ck_assert_msg(mc_report_write_json(run, o->json, err, sizeof(err)) == 0, "json: %s", err);
}

/* Reads and parses report.json (caller deletes). */
static cJSON *
read_json(const char *path)
{
	char *text = t_read(path);
	cJSON *j = cJSON_Parse(text);

	ck_assert_msg(j != NULL, "%s does not parse as JSON near: %.40s", path,
		      cJSON_GetErrorPtr() != NULL ? cJSON_GetErrorPtr() : "?");
	free(text);
	return j;
}

/* Returns the member key of o, failing the test when it is missing. */
static cJSON *
jget(const cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	ck_assert_msg(v != NULL, "JSON member \"%s\" missing", key);
	return v;
}

/* Returns the string member key of o, failing the test when it is not a string. */
static const char *
jstr(const cJSON *o, const char *key)
{
	cJSON *v = jget(o, key);

	ck_assert_msg(cJSON_IsString(v), "JSON member \"%s\" is not a string", key);
	return v->valuestring;
}

/* Returns the number member key of o as an integer. */
static long
jnum(const cJSON *o, const char *key)
{
	cJSON *v = jget(o, key);

	ck_assert_msg(cJSON_IsNumber(v), "JSON member \"%s\" is not a number", key);
	return (long)v->valuedouble;
}

/* Asserts a JSON summary object holds these counts. */
static void
expect_summary(const cJSON *s, long total, long passed, long failed, long skipped, long errors)
{
	ck_assert_int_eq(jnum(s, "total"), total);
	ck_assert_int_eq(jnum(s, "passed"), passed);
	ck_assert_int_eq(jnum(s, "failed"), failed);
	ck_assert_int_eq(jnum(s, "skipped"), skipped);
	ck_assert_int_eq(jnum(s, "errors"), errors);
}

/* Returns the <tr> of the HTML table row whose text contains needle (caller frees). */
static char *
html_row(const char *html, const char *needle)
{
	const char *hit = strstr(html, needle), *start, *end;

	ck_assert_msg(hit != NULL, "\"%s\" not in the HTML", needle);
	for (start = hit; start > html && strncmp(start, "<tr", 3) != 0; start--)
		;
	end = strstr(hit, "</tr>");
	ck_assert_ptr_nonnull(end);
	return strndup(start, (size_t)(end - start));
}

/* A run with every outcome and hostile strings in every field. */
static struct mc_run *
hostile_run(void)
{
	struct mc_run *run = mc_run_new("run-" HOSTILE, "local");
	struct mc_suite *su = mc_run_add_suite(run, "suite " HOSTILE, "suites/" HOSTILE ".json");
	struct mc_case *c;

	mc_run_set_prop(run, "prop " HOSTILE, "value " HOSTILE);
	mc_suite_set_prop(su, "description", HOSTILE);
	c = mc_suite_add_case(su, "pass " HOSTILE, "chain");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	mc_case_set_seen(c, "seen " HOSTILE);
	mc_case_add_measure(c, "m " HOSTILE, 1.5, "s " HOSTILE);
	c = mc_suite_add_case(su, "fail " HOSTILE, "chain " HOSTILE);
	mc_case_set(c, MC_RESULT_FAIL, "reason line one %s\nline two", HOSTILE);
	mc_case_set_expected(c, "expected " HOSTILE);
	mc_case_set_seen(c, "seen " HOSTILE);
	mc_case_add_evidence(c, "label " HOSTILE, "evidence/" HOSTILE ".pem");
	mc_case_add_evidence(c, "bad link", "javascript:alert(1)");
	mc_case_add_evidence(c, "outside", "../../etc/passwd");
	c = mc_suite_add_case(su, "skip " HOSTILE, "wire");
	mc_case_set(c, MC_RESULT_SKIP, "skip reason %s", HOSTILE);
	c = mc_suite_add_case(su, "error " HOSTILE, "reach");
	mc_case_set(c, MC_RESULT_ERROR, "error reason %s", HOSTILE);
	su = mc_run_add_suite(run, "second", NULL);
	c = mc_suite_add_case(su, "ok", "chain");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	run->end = run->start + 2;
	return run;
}

START_TEST(junit_hostile_strings_stay_well_formed)
{
	struct mc_run *run = hostile_run();
	struct out o = out_new();
	char *xml, *msg;

	write_all(run, &o);
	t_xml_wellformed(o.junit);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(/testsuites/testsuite)"), 2);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase)"), 5);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase/failure)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase/error)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase/skipped)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@tests)"), 5);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@failures)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@errors)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@skipped)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/testsuite[1]/@tests)"), 4);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/testsuite[2]/@tests)"), 1);
	/* Run facts (id, version, target, one property) in each suite, plus suite 1's file and description. */
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testsuite/properties/property)"), 4 + 2 + 4);
	/* Names and classnames come back as text, markup and all. */
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[starts-with(@name, "
					      "'fail <script>alert(1)</script> & ]]> \"q\"')])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[starts-with(@classname, 'suite <script>')])"), 4);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//skipped[starts-with(@message, "
					      "'skip reason <script>alert(1)</script> & ]]>')])"), 1);
	/* The failure message is one line; the body has expected, seen and evidence. */
	msg = t_xpath(o.junit, "string(//failure/@message)");
	ck_assert_ptr_null(strchr(msg, '\n'));
	ck_assert_ptr_null(strchr(msg, '\t'));
	ck_assert_ptr_nonnull(strstr(msg, "line two"));
	free(msg);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//failure[contains(., 'expected:') and contains(., 'seen:') "
					      "and contains(., 'evidence:') and contains(., 'javascript:alert(1)')])"),
			 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//failure[starts-with(@type, 'chain <script>')])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//error[@type='reach'])"), 1);
	xml = t_read(o.junit);
	ck_assert_ptr_null(strstr(xml, "<script>"));
	ck_assert_ptr_null(strstr(xml, "<![CDATA["));
	ck_assert_ptr_nonnull(strstr(xml, "&lt;script&gt;"));
	ck_assert_ptr_nonnull(strstr(xml, "]]&gt;"));
	ck_assert_ptr_nonnull(strstr(xml, "\\x01\\x1B[31m\\x7F"));
	ck_assert_ptr_nonnull(strstr(xml, "\\xFF\\xFE \\xED\\xA0\\x80 \\xEF\\xBF\\xBF \\xC0\\xAF"));
	ck_assert_ptr_nonnull(strstr(xml, "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80"));
	free(xml);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(html_hostile_strings_are_text)
{
	struct mc_run *run = hostile_run();
	struct out o = out_new();
	char *html;

	write_all(run, &o);
	html = t_read(o.html);
	ck_assert_ptr_null(strstr(html, "<script"));
	/* Rows carry the status as a class too: only the badges may be coloured by it. */
	ck_assert_ptr_null(strstr(html, "}.pass{"));
	ck_assert_ptr_null(strstr(html, "}.fail{"));
	ck_assert_ptr_nonnull(strstr(html, ".st.pass{"));
	ck_assert_ptr_nonnull(strstr(html, "fail &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; "
					   "&quot;q&quot; &#39;a&#39; \\x01\\x1B[31m\\x7F"));
	ck_assert_ptr_nonnull(strstr(html, "\\xFF\\xFE \\xED\\xA0\\x80 \\xEF\\xBF\\xBF \\xC0\\xAF"));
	ck_assert_ptr_nonnull(strstr(html, "Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80"));
	/* Evidence: a relative link, percent-encoded; schemes and "../" are text, never links. */
	ck_assert_ptr_nonnull(strstr(html, "<a href=\"evidence/%3Cscript%3Ealert%281%29%3C/script%3E%20%26%20"));
	ck_assert_ptr_null(strstr(html, "href=\"javascript"));
	ck_assert_ptr_nonnull(strstr(html, "<code>javascript:alert(1)</code>"));
	ck_assert_ptr_null(strstr(html, "href=\"../"));
	ck_assert_ptr_nonnull(strstr(html, "<code>../../etc/passwd</code>"));
	/* Self-contained: nothing fetched, nothing run. */
	ck_assert_ptr_null(strstr(html, "http://"));
	ck_assert_ptr_null(strstr(html, "https://"));
	ck_assert_ptr_null(strstr(html, " src="));
	ck_assert_ptr_null(strstr(html, "<link"));
	ck_assert_ptr_null(strstr(html, "@import"));
	ck_assert_ptr_null(strstr(html, "url("));
	ck_assert_ptr_nonnull(strstr(html, "<style>"));
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(json_round_trips)
{
	struct mc_run *run = hostile_run();
	struct out o = out_new();
	char *text, *want, *clean;
	cJSON *j, *r, *s0, *c1, *e0;

	write_all(run, &o);
	/* The file is valid UTF-8: sanitising changes nothing. */
	text = t_read(o.json);
	clean = mc_utf8_sanitize(text);
	ck_assert_str_eq(clean, text);
	free(clean);
	free(text);
	j = read_json(o.json);
	ck_assert_str_eq(jstr(j, "schema"), "meshcheck.report/1");
	ck_assert_int_eq(jnum(j, "exit_code"), 1);
	expect_summary(jget(j, "summary"), 5, 2, 1, 1, 1);
	r = jget(j, "run");
	ck_assert(cJSON_IsNull(jget(r, "aborted")));
	ck_assert_str_eq(jstr(r, "target"), "local");
	ck_assert_int_eq(jnum(r, "duration_s"), 2);
	ck_assert_int_eq(cJSON_GetArraySize(jget(j, "suites")), 2);
	s0 = cJSON_GetArrayItem(jget(j, "suites"), 0);
	expect_summary(jget(s0, "summary"), 4, 1, 1, 1, 1);
	c1 = cJSON_GetArrayItem(jget(s0, "cases"), 1);
	ck_assert_str_eq(jstr(c1, "status"), "fail");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(s0, "cases"), 0), "status"), "pass");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(s0, "cases"), 2), "status"), "skip");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(s0, "cases"), 3), "status"), "error");
	/* Valid text, controls and markup included, comes back byte for byte ... */
	ck_assert_ptr_nonnull(strstr(jstr(c1, "expected"), "expected " HOSTILE_VALID " "));
	ck_assert_ptr_nonnull(strstr(jstr(c1, "seen"), "seen " HOSTILE_VALID " "));
	ck_assert_ptr_nonnull(strstr(jstr(c1, "name"), "fail " HOSTILE_VALID " "));
	ck_assert_ptr_nonnull(strstr(jstr(s0, "name"), "suite " HOSTILE_VALID " "));
	ck_assert_ptr_nonnull(strstr(jstr(c1, "reason"), "reason line one " HOSTILE_VALID " "));
	ck_assert_ptr_nonnull(strstr(jstr(c1, "reason"), "\nline two"));
	/* ... and the whole string equals the input with only the non-UTF-8 bytes as \xNN. */
	want = mc_utf8_sanitize("expected " HOSTILE);
	ck_assert_str_eq(jstr(c1, "expected"), want);
	ck_assert_ptr_nonnull(strstr(want, "\\xFF\\xFE \\xED\\xA0\\x80 \\xEF\\xBF\\xBF \\xC0\\xAF tail"));
	free(want);
	e0 = cJSON_GetArrayItem(jget(c1, "evidence"), 0);
	want = mc_utf8_sanitize("label " HOSTILE);
	ck_assert_str_eq(jstr(e0, "label"), want);
	free(want);
	want = mc_utf8_sanitize("evidence/" HOSTILE ".pem");
	ck_assert_str_eq(jstr(e0, "path"), want);
	free(want);
	want = mc_utf8_sanitize("prop " HOSTILE);
	clean = mc_utf8_sanitize("value " HOSTILE);
	ck_assert_str_eq(jstr(jget(r, "properties"), want), clean);
	free(want);
	free(clean);
	want = mc_utf8_sanitize("m " HOSTILE);
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(cJSON_GetArrayItem(jget(s0, "cases"), 0), "measurements"), 0),
			      "name"), want);
	free(want);
	ck_assert(cJSON_IsNull(jget(cJSON_GetArrayItem(jget(s0, "cases"), 0), "reason")));
	cJSON_Delete(j);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(outcomes_never_lie)
{
	struct mc_run *run = mc_run_new("r1", "local");
	struct mc_suite *s = mc_run_add_suite(run, "trust", "suites/trust.json");
	struct out o = out_new();
	struct mc_case *c;
	char *html, *row, *v;
	cJSON *j, *cases;

	c = mc_suite_add_case(s, "case-pass", "chain");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c = mc_suite_add_case(s, "case-fail", "chain");
	mc_case_set(c, MC_RESULT_FAIL, "root mismatch");
	mc_case_set_expected(c, "root CN=meshcheck root");
	mc_case_set_seen(c, "root CN=other");
	mc_case_add_evidence(c, "peer chain (PEM)", "evidence/trust/chain.pem");
	c = mc_suite_add_case(s, "case-skip", "wire");
	mc_case_set(c, MC_RESULT_SKIP, "capture needs CAP_NET_RAW");
	c = mc_suite_add_case(s, "case-error", "reach");
	mc_case_set(c, MC_RESULT_ERROR, "connect: refused");
	c = mc_suite_add_case(s, "case-nan", "load");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c->duration = NAN;
	s->duration = -1;
	write_all(run, &o);

	t_xml_wellformed(o.junit);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='case-fail' and @classname='trust']"
					      "/failure[@message='root mismatch' and @type='chain'])"), 1);
	v = t_xpath(o.junit, "string(//testcase[@name='case-fail']/failure)");
	ck_assert_str_eq(v, "root mismatch\n\nexpected:\nroot CN=meshcheck root\n\nseen:\nroot CN=other\n\n"
			    "evidence:\n  peer chain (PEM): evidence/trust/chain.pem\n");
	free(v);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='case-skip']/skipped"
					      "[@message='capture needs CAP_NET_RAW'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='case-error']/error"
					      "[@message='connect: refused' and @type='reach'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='case-pass']/*)"), 0);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='case-nan' and @time='0.000'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testsuite[@time='0.000'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//property[@name='suite.file' and @value='suites/trust.json'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//property[@name='meshcheck.run_id' and @value='r1'])"), 1);

	j = read_json(o.json);
	cases = jget(cJSON_GetArrayItem(jget(j, "suites"), 0), "cases");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(cases, 0), "status"), "pass");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(cases, 1), "status"), "fail");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(cases, 1), "reason"), "root mismatch");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(cases, 2), "status"), "skip");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(cases, 2), "reason"), "capture needs CAP_NET_RAW");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(cases, 3), "status"), "error");
	ck_assert_int_eq(jnum(j, "exit_code"), 1);
	expect_summary(jget(j, "summary"), 5, 2, 1, 1, 1);
	cJSON_Delete(j);

	html = t_read(o.html);
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: FAILED"));
	row = html_row(html, ">case-fail<");
	ck_assert_ptr_nonnull(strstr(row, "<tr class=\"fail\">"));
	ck_assert_ptr_nonnull(strstr(row, ">FAIL</span>"));
	ck_assert_ptr_nonnull(strstr(row, "root mismatch"));
	ck_assert_ptr_null(strstr(row, "PASS"));
	free(row);
	row = html_row(html, ">case-skip<");
	ck_assert_ptr_nonnull(strstr(row, ">SKIP</span>"));
	ck_assert_ptr_nonnull(strstr(row, "capture needs CAP_NET_RAW"));
	free(row);
	row = html_row(html, ">case-error<");
	ck_assert_ptr_nonnull(strstr(row, ">ERROR</span>"));
	ck_assert_ptr_null(strstr(row, "PASS"));
	free(row);
	row = html_row(html, ">case-pass<");
	ck_assert_ptr_nonnull(strstr(row, ">PASS</span>"));
	free(row);
	/* The failure's details are open and show expected, seen and the evidence link. */
	ck_assert_ptr_nonnull(strstr(html, "<details id=\"s0c1\" open>"));
	ck_assert_ptr_nonnull(strstr(html, "<pre>root CN=meshcheck root</pre>"));
	ck_assert_ptr_nonnull(strstr(html, "<pre>root CN=other</pre>"));
	ck_assert_ptr_nonnull(strstr(html, "<a href=\"evidence/trust/chain.pem\">evidence/trust/chain.pem</a>"));
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(aborted_run_keeps_what_ran)
{
	struct mc_run *run = mc_run_new("r2", "kube");
	struct mc_suite *s = mc_run_add_suite(run, "reach", NULL);
	struct out o = out_new();
	struct mc_case *c;
	char *html, *v;
	cJSON *j;

	c = mc_suite_add_case(s, "a", "reach");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c = mc_suite_add_case(s, "b", "reach");
	mc_case_set(c, MC_RESULT_FAIL, "got 503");
	mc_run_abort(run, "interrupted (SIGINT)\nafter case b");
	write_all(run, &o);

	t_xml_wellformed(o.junit);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(/testsuites/testsuite)"), 2);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase)"), 3);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(/testsuites/testsuite[2][@name='meshcheck' and @tests='1' "
					      "and @errors='1']/testcase[@name='run']/error[@type='aborted'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//error[@message='interrupted (SIGINT) after case b'])"), 1);
	v = t_xpath(o.junit, "string(//testcase[@name='run']/error)");
	ck_assert_str_eq(v, "interrupted (SIGINT)\nafter case b\n");
	free(v);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@tests)"), 3);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@failures)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@errors)"), 1);

	j = read_json(o.json);
	ck_assert_str_eq(jstr(jget(j, "run"), "aborted"), "interrupted (SIGINT)\nafter case b");
	ck_assert_int_eq(jnum(j, "exit_code"), 2);
	expect_summary(jget(j, "summary"), 3, 1, 1, 0, 1);
	ck_assert_int_eq(cJSON_GetArraySize(jget(j, "suites")), 1);
	expect_summary(jget(cJSON_GetArrayItem(jget(j, "suites"), 0), "summary"), 2, 1, 1, 0, 0);
	cJSON_Delete(j);

	html = t_read(o.html);
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: ABORTED"));
	ck_assert_ptr_nonnull(strstr(html, "The run stopped early:</strong> interrupted (SIGINT)\nafter case b"));
	ck_assert_ptr_nonnull(strstr(html, ">ERROR</span> 1</span>"));
	ck_assert_ptr_nonnull(strstr(html, ">b<"));
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(aborted_before_any_suite)
{
	struct mc_run *run = mc_run_new("r3", "local");
	struct out o = out_new();
	char *html;
	cJSON *j;

	mc_run_abort(run, "suites/x.json:3:7: JSON syntax error near \"<&>\" ]]>");
	write_all(run, &o);
	t_xml_wellformed(o.junit);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='run']/error[@type='aborted' and "
					      "@message='suites/x.json:3:7: JSON syntax error near \"<&>\" ]]>'])"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@errors)"), 1);
	html = t_read(o.html);
	ck_assert_ptr_nonnull(strstr(html, "The run stopped early"));
	ck_assert_ptr_nonnull(strstr(html, "near &quot;&lt;&amp;&gt;&quot; ]]&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "No suite ran."));
	free(html);
	j = read_json(o.json);
	ck_assert_int_eq(jnum(j, "exit_code"), 2);
	ck_assert_str_eq(jstr(jget(j, "run"), "aborted"), "suites/x.json:3:7: JSON syntax error near \"<&>\" ]]>");
	expect_summary(jget(j, "summary"), 1, 0, 0, 0, 1);
	ck_assert_int_eq(cJSON_GetArraySize(jget(j, "suites")), 0);
	cJSON_Delete(j);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(empty_run)
{
	struct mc_run *run = mc_run_new("r4", "local");
	struct out o = out_new();
	char *html;
	cJSON *j;

	write_all(run, &o);
	t_xml_wellformed(o.junit);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(/testsuites)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testsuite)"), 0);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@tests)"), 0);
	html = t_read(o.html);
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: NO CASES RAN"));
	ck_assert_ptr_null(strstr(html, "PASSED"));
	free(html);
	j = read_json(o.json);
	expect_summary(jget(j, "summary"), 0, 0, 0, 0, 0);
	ck_assert(cJSON_IsArray(jget(j, "suites")));
	ck_assert_int_eq(cJSON_GetArraySize(jget(j, "suites")), 0);
	cJSON_Delete(j);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(missing_directory_is_an_error)
{
	struct mc_run *run = mc_run_new("r5", "local");
	char *dir = t_tmpdir();
	char *junit = mc_xasprintf("%s/missing/junit.xml", dir);
	char *html = mc_xasprintf("%s/missing/report.html", dir);
	char *json = mc_xasprintf("%s/missing/report.json", dir);
	char err[MC_ERRLEN] = "";
	struct stat st;

	ck_assert_int_eq(mc_report_write_junit(run, junit, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, junit) != NULL, "message does not name the path: %s", err);
	err[0] = '\0';
	ck_assert_int_eq(mc_report_write_html(run, html, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, html) != NULL, "message does not name the path: %s", err);
	err[0] = '\0';
	ck_assert_int_eq(mc_report_write_json(run, json, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, json) != NULL, "message does not name the path: %s", err);
	ck_assert_int_ne(stat(junit, &st), 0);
	mc_run_free(run);
	ck_assert_int_eq(mc_rm_rf(dir), 0);
	free(dir);
	free(junit);
	free(html);
	free(json);
}
END_TEST

/*
 * Timelines. A continuity-style case: 40 requests a second for n seconds,
 * 37 failed in seconds 12 to 14 and 1 in second 20, the action marked at
 * 10.0 and 14.2 s, a third mark with a hostile label, and 38 listed
 * failures (the second one with a hostile path and what) plus 5 dropped.
 */
#define TL_START 1767261600.0 /* 2026-01-01T10:00:00Z */
#define TL_FAILED_AT(i) ((i) == 12 ? 12 : (i) == 13 ? 13 : (i) == 14 ? 12 : (i) == 20 ? 1 : 0)
#define TL_HOSTILE_PATH "sleep@c1 -> http://x.sample/" HOSTILE
#define TL_NORMAL_PATH "sleep@c1 -> http://helloworld.sample:5000/hello"

static void
add_timeline(struct mc_case *c, size_t n, size_t n_failures)
{
	struct mc_timeline tl = {.start_unix = TL_START, .n_points = n, .failures_dropped = 5};
	struct mc_timeline_mark marks[] = {
		{10.0, "action start"}, {14.2, "action end"}, {16.5, "hostile " HOSTILE}};
	struct mc_timeline_point *pts = mc_xcalloc(n, sizeof(*pts));
	struct mc_timeline_failure *f = mc_xcalloc(n_failures, sizeof(*f));

	for (size_t i = 0; i < n; i++) {
		pts[i].t = (double)i;
		pts[i].sent = 40;
		pts[i].failed = TL_FAILED_AT(i);
		pts[i].ok = 40 - pts[i].failed;
		pts[i].p99_ms = pts[i].failed > 0 ? 250 : i == 3 ? 3.1 : 2.0 + 0.1 * (double)(i % 5);
	}
	for (size_t i = 0; i < n_failures; i++) {
		f[i].t = 12.31 + 0.05 * (double)i;
		f[i].path = i == 1 ? TL_HOSTILE_PATH : TL_NORMAL_PATH;
		f[i].what = i == 1 ? "503 " HOSTILE : "reset";
	}
	tl.points = pts;
	tl.marks = marks;
	tl.n_marks = 3;
	tl.failures = f;
	tl.n_failures = n_failures;
	mc_case_set_timeline(c, &tl);
	free(pts);
	free(f);
}

/* A run with a failed case and a passing one, both with a timeline of n seconds, and one without. */
static struct mc_run *
timeline_run(size_t n, size_t n_failures)
{
	struct mc_run *run = mc_run_new("tl", "local");
	struct mc_suite *s = mc_run_add_suite(run, "continuity", "suites/continuity.json");
	struct mc_case *c;

	c = mc_suite_add_case(s, "reload", "continuity");
	mc_case_set(c, MC_RESULT_FAIL, "38 failed requests during the action (at most 0)");
	mc_case_set_seen(c, "during: 38 failed");
	add_timeline(c, n, n_failures);
	c = mc_suite_add_case(s, "steady", "continuity");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	add_timeline(c, n, n_failures);
	c = mc_suite_add_case(s, "plain", "reach");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	run->end = run->start + 40;
	return run;
}

/* Returns the SVG charts of the page, in order, each as a string (caller frees them and the array). */
static char **
svg_charts(const char *html, size_t *n)
{
	char **out = NULL;

	*n = 0;
	for (const char *p = html; (p = strstr(p, "<svg class=\"tl\"")) != NULL;) {
		const char *end = strstr(p, "</svg>");

		ck_assert_ptr_nonnull(end);
		out = mc_xrealloc(out, (*n + 1) * sizeof(*out));
		out[(*n)++] = strndup(p, (size_t)(end + 6 - p));
		p = end;
	}
	return out;
}

/*
 * Fails unless the page refers to nothing outside itself: no element or
 * attribute that fetches, and a URL only ever as text (a failed request's
 * path), never as an attribute value or in CSS.
 */
static void
expect_self_contained(const char *html)
{
	static const char *const banned[] = {" src=", "<link", "@import", "url(", "xlink:href", "<script", "<img",
					     "<iframe", "<object", "<embed", "<use", "<image", "<foreignObject", NULL};

	for (size_t i = 0; banned[i] != NULL; i++)
		ck_assert_msg(strstr(html, banned[i]) == NULL, "the page holds %s", banned[i]);
	for (const char *p = html; (p = strstr(p, "://")) != NULL; p += 3) {
		const char *s = p;

		while (s > html && ((s[-1] >= 'a' && s[-1] <= 'z') || (s[-1] >= 'A' && s[-1] <= 'Z')))
			s--;
		ck_assert_msg(s > html && s[-1] != '"' && s[-1] != '\'' && s[-1] != '(' && s[-1] != '=',
			      "a URL as a reference: %.60s", s - 1);
	}
}

START_TEST(timeline_model_copies_deeply)
{
	struct mc_run *run = mc_run_new("m", "local");
	struct mc_suite *s = mc_run_add_suite(run, "s", NULL);
	struct mc_case *c = mc_suite_add_case(s, "c", "continuity");
	char label[] = "action start", path[] = "a -> b", what[] = "reset";
	struct mc_timeline_point pts[2] = {{0, 10, 9, 1, 2.5}, {1, 10, 10, 0, 1.5}};
	struct mc_timeline_mark mark = {1.5, label};
	struct mc_timeline_mark nolabel = {2.5, NULL};
	struct mc_timeline_failure fail = {0.25, path, what};
	struct mc_timeline tl = {.start_unix = 100, .points = pts, .n_points = 2, .marks = &mark, .n_marks = 1,
				 .failures = &fail, .n_failures = 1, .failures_dropped = 7};

	ck_assert_ptr_null(c->timeline);
	mc_case_set_timeline(c, &tl);
	/* The case holds its own copy: changing the caller's data changes nothing. */
	label[0] = 'X';
	path[0] = 'X';
	what[0] = 'X';
	pts[0].sent = 99;
	ck_assert_ptr_nonnull(c->timeline);
	ck_assert_ptr_ne(c->timeline, &tl);
	ck_assert_ptr_ne(c->timeline->points, pts);
	ck_assert_uint_eq(c->timeline->n_points, 2);
	ck_assert_int_eq(c->timeline->points[0].sent, 10);
	ck_assert_int_eq(c->timeline->points[1].ok, 10);
	ck_assert_str_eq(c->timeline->marks[0].label, "action start");
	ck_assert_str_eq(c->timeline->failures[0].path, "a -> b");
	ck_assert_str_eq(c->timeline->failures[0].what, "reset");
	ck_assert_int_eq(c->timeline->failures_dropped, 7);
	ck_assert(c->timeline->start_unix == 100);
	/* Setting again replaces; the case's own timeline may be passed back in. */
	tl.marks = &nolabel;
	tl.n_failures = 0;
	mc_case_set_timeline(c, &tl);
	ck_assert_ptr_null(c->timeline->marks[0].label);
	ck_assert_uint_eq(c->timeline->n_failures, 0);
	ck_assert_ptr_null(c->timeline->failures);
	mc_case_set_timeline(c, c->timeline);
	ck_assert_uint_eq(c->timeline->n_points, 2);
	ck_assert(c->timeline->marks[0].t == 2.5);
	mc_case_set_timeline(c, NULL);
	ck_assert_ptr_null(c->timeline);
	/* An empty timeline is kept, with nothing in it. */
	mc_case_set_timeline(c, &(struct mc_timeline){.start_unix = 5});
	ck_assert_ptr_nonnull(c->timeline);
	ck_assert_uint_eq(c->timeline->n_points + c->timeline->n_marks + c->timeline->n_failures, 0);
	mc_run_free(run);
}
END_TEST

START_TEST(timeline_json_round_trips)
{
	struct mc_run *run = timeline_run(30, 38);
	struct out o = out_new();
	cJSON *j, *cases, *tl, *a, *e;
	char *text, *clean, *want;

	write_all(run, &o);
	text = t_read(o.json);
	clean = mc_utf8_sanitize(text);
	ck_assert_str_eq(clean, text);
	free(clean);
	free(text);
	j = read_json(o.json);
	cases = jget(cJSON_GetArrayItem(jget(j, "suites"), 0), "cases");
	/* Only cases with a timeline have the key. */
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cases, 2), "timeline"));
	ck_assert(cJSON_IsObject(jget(cJSON_GetArrayItem(cases, 1), "timeline")));
	tl = jget(cJSON_GetArrayItem(cases, 0), "timeline");
	ck_assert_str_eq(jstr(tl, "start"), "2026-01-01T10:00:00Z");
	ck_assert_int_eq(jnum(tl, "failures_dropped"), 5);
	a = jget(tl, "points");
	ck_assert_int_eq(cJSON_GetArraySize(a), 30);
	for (int i = 0; i < 30; i++) {
		e = cJSON_GetArrayItem(a, i);
		ck_assert_int_eq(jnum(e, "t"), i);
		ck_assert_int_eq(jnum(e, "sent"), 40);
		ck_assert_int_eq(jnum(e, "failed"), TL_FAILED_AT(i));
		ck_assert_int_eq(jnum(e, "ok"), 40 - TL_FAILED_AT(i));
		ck_assert(cJSON_IsNumber(jget(e, "p99_ms")));
	}
	ck_assert_double_eq_tol(jget(cJSON_GetArrayItem(a, 3), "p99_ms")->valuedouble, 3.1, 1e-9);
	a = jget(tl, "marks");
	ck_assert_int_eq(cJSON_GetArraySize(a), 3);
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(a, 0), "label"), "action start");
	ck_assert_double_eq_tol(jget(cJSON_GetArrayItem(a, 1), "t")->valuedouble, 14.2, 1e-9);
	/* Hostile strings come back exactly, only the bytes that are not UTF-8 as \xNN. */
	want = mc_utf8_sanitize("hostile " HOSTILE);
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(a, 2), "label"), want);
	ck_assert_ptr_nonnull(strstr(want, "hostile " HOSTILE_VALID " \\xFF\\xFE"));
	free(want);
	a = jget(tl, "failures");
	ck_assert_int_eq(cJSON_GetArraySize(a), 38);
	e = cJSON_GetArrayItem(a, 0);
	ck_assert_double_eq_tol(jget(e, "t")->valuedouble, 12.31, 1e-9);
	ck_assert_str_eq(jstr(e, "path"), TL_NORMAL_PATH);
	ck_assert_str_eq(jstr(e, "what"), "reset");
	e = cJSON_GetArrayItem(a, 1);
	want = mc_utf8_sanitize(TL_HOSTILE_PATH);
	ck_assert_str_eq(jstr(e, "path"), want);
	free(want);
	want = mc_utf8_sanitize("503 " HOSTILE);
	ck_assert_str_eq(jstr(e, "what"), want);
	free(want);
	cJSON_Delete(j);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

/* The number of times needle occurs in hay[0..len). */
static size_t
count_in(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)) != NULL && (size_t)(p - hay) + nl <= len; p += nl)
		n++;
	return n;
}

/*
 * Checks the bars of one chart of timeline_run: one group per point, in
 * order, titled with its second, each with its ok rect, and a failed rect
 * exactly in the seconds that had failures.
 */
static void
expect_bars(const char *svg, size_t n)
{
	size_t k = 0;

	for (const char *p = svg; (p = strstr(p, "<g class=\"bar\">")) != NULL; k++) {
		const char *end = strstr(p, "</g>");
		char *bar, want[64];

		ck_assert_ptr_nonnull(end);
		bar = strndup(p, (size_t)(end - p));
		snprintf(want, sizeof(want), "<title>t=%zus: 40 sent, %d failed, p99 ", k, TL_FAILED_AT(k));
		ck_assert_msg(strstr(bar, want) != NULL, "bar %zu is not titled \"%s\": %s", k, want, bar);
		ck_assert_msg((strstr(bar, "class=\"failed\"") != NULL) == (TL_FAILED_AT(k) > 0),
			      "bar %zu: a failed rect %s", k, TL_FAILED_AT(k) > 0 ? "missing" : "where nothing failed");
		ck_assert_msg(strstr(bar, "class=\"ok\"") != NULL, "bar %zu has no ok rect", k);
		free(bar);
		p = end;
	}
	ck_assert_uint_eq(k, n);
}

START_TEST(timeline_html_chart)
{
	struct mc_run *run = timeline_run(30, 38);
	struct out o = out_new();
	char *html, *file, *v, **svgs;
	const char *table, *table_end;
	size_t n;

	write_all(run, &o);
	html = t_read(o.html);
	expect_self_contained(html);
	/* One chart per case with a timeline. */
	svgs = svg_charts(html, &n);
	ck_assert_uint_eq(n, 2);
	file = t_write(o.dir, "chart.svg", svgs[0]);
	t_xml_wellformed(file);
	ck_assert_int_eq(t_xpath_num(file, "count(/svg//g[@class='bar'])"), 30);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar']/rect[@class='ok'])"), 30);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar']/rect[@class='failed'])"), 4);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'][rect[@class='failed']]"
					   "[starts-with(title, 't=12s:') or starts-with(title, 't=13s:') or "
					   "starts-with(title, 't=14s:') or starts-with(title, 't=20s:')])"), 4);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'][title='t=3s: 40 sent, 0 failed, p99 3.1 ms'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'][title='t=13s: 40 sent, 13 failed, p99 250 ms'])"), 1);
	expect_bars(svgs[0], 30);
	/* The marks: a dashed line each, labelled; the hostile label is text. */
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='mark']/line[@class='markline'])"), 3);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='mark'][text='action start'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='mark'][text='action end']"
					   "[title='action end at t=14.2s'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='mark']/text[starts-with(., "
					   "'hostile <script>alert(1)</script> & ]]>')])"), 1);
	ck_assert_ptr_nonnull(strstr(svgs[0], ">hostile &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; &quot;...</text>"));
	/* The p99 line on its own scale with its maximum labelled, titled axes with ticks, a legend in words. */
	ck_assert_int_eq(t_xpath_num(file, "count(//path[@class='p99' and starts-with(@d, 'M') and contains(@d, ' L')])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[.='p99 max 250 ms'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[.='p99 latency (ms)'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[.='requests per second'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[.='seconds from 2026-01-01T10:00:00Z'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[@text-anchor='middle' and .='10'])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[starts-with(., 'failed requests')])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[starts-with(., 'ok requests')])"), 1);
	v = t_xpath(file, "substring-before(substring-after(/svg/@viewBox, '0 0 '), ' ')");
	ck_assert_str_eq(v, "960");
	free(v);
	free(file);
	/* The same in words under the chart. */
	ck_assert_ptr_nonnull(strstr(html, "30 s from 2026-01-01T10:00:00Z: 1200 sent, 1162 ok, 38 failed; "
					   "p99 at most 250 ms."));
	ck_assert_ptr_nonnull(strstr(html, "Marks: action start at t=10.0 s; action end at t=14.2 s; "
					   "hostile &lt;script&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "Failed seconds (4): t=12-14s: 37 failed; t=20s: 1 failed.</p>"));
	ck_assert_ptr_nonnull(strstr(html, "<tr><td class=\"num\">12.31</td><td><code>sleep@c1 -&gt; "
					   "http://helloworld.sample:5000/hello</code></td><td>reset</td></tr>"));
	ck_assert_ptr_nonnull(strstr(html, "<td><code>sleep@c1 -&gt; http://x.sample/&lt;script&gt;alert(1)"));
	ck_assert_ptr_nonnull(strstr(html, "<td>503 &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt;"));
	ck_assert_ptr_nonnull(strstr(html, "\\xFF\\xFE \\xED\\xA0\\x80 \\xEF\\xBF\\xBF \\xC0\\xAF tail</code>"));
	/* 20 of the 38 failures listed; the other 18 and the 5 dropped as a count. */
	table = strstr(html, "<table class=\"tlfail\">");
	ck_assert_ptr_nonnull(table);
	table_end = strstr(table, "</table>");
	ck_assert_ptr_nonnull(table_end);
	ck_assert_uint_eq(count_in(table, (size_t)(table_end - table), "<tr><td class=\"num\">"), 20);
	ck_assert_ptr_nonnull(strstr(table_end, "And 23 more failed request(s) not listed."));
	ck_assert_ptr_null(strstr(html, "<script"));
	for (size_t i = 0; i < n; i++)
		free(svgs[i]);
	free(svgs);
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(timeline_html_long_stays_small)
{
	struct mc_run *run = timeline_run(600, 1000);
	struct out o = out_new();
	char *html, *file, **svgs;
	size_t n;

	/* Failures every 7th second from 100 on, on top of timeline_run's. */
	for (size_t i = 100; i < 600; i += 7) {
		run->suites[0]->cases[0]->timeline->points[i].failed = 3;
		run->suites[0]->cases[0]->timeline->points[i].ok = 37;
	}
	write_all(run, &o);
	html = t_read(o.html);
	expect_self_contained(html);
	svgs = svg_charts(html, &n);
	ck_assert_uint_eq(n, 2);
	/* Two 600-second charts and their text: well under half a megabyte, each chart under 150 kB. */
	ck_assert_msg(strlen(html) < 400 * 1024, "page of %zu bytes", strlen(html));
	ck_assert_msg(strlen(svgs[0]) < 150 * 1024, "chart of %zu bytes", strlen(svgs[0]));
	file = t_write(o.dir, "long.svg", svgs[0]);
	t_xml_wellformed(file);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'])"), 600);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar']/rect[@class='failed'])"), 4 + 72);
	ck_assert_int_eq(t_xpath_num(file, "count(//line[@class='axis'])"), 2 + 1 + 7);
	ck_assert_int_eq(t_xpath_num(file, "count(/svg[@width='960'])"), 1);
	/* The failed seconds are listed up to 20 spans, then counted. */
	ck_assert_ptr_nonnull(strstr(html, "Failed seconds (76): t=12-14s: 37 failed; t=20s: 1 failed; t=100s: 3 failed;"));
	ck_assert_ptr_nonnull(strstr(html, "; and 54 more.</p>"));
	ck_assert_ptr_nonnull(strstr(html, "And 985 more failed request(s) not listed."));
	free(file);
	for (size_t i = 0; i < n; i++)
		free(svgs[i]);
	free(svgs);
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(timeline_html_longer_groups_seconds)
{
	struct mc_run *run = timeline_run(3000, 10);
	struct out o = out_new();
	char *html, *file, **svgs;
	size_t n;

	write_all(run, &o);
	html = t_read(o.html);
	svgs = svg_charts(html, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_msg(strlen(svgs[0]) < 150 * 1024, "chart of %zu bytes", strlen(svgs[0]));
	file = t_write(o.dir, "longer.svg", svgs[0]);
	t_xml_wellformed(file);
	/* 3000 seconds in bars of 5: 600 bars, the failed ones where the failed seconds fall. */
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'])"), 600);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'][1][starts-with(title, 't=0-4s: 200 sent, 0 failed')])"), 1);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'][rect[@class='failed']])"), 2);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'][rect[@class='failed']]"
					   "[starts-with(title, 't=10-14s: 200 sent, 37 failed, p99 250 ms') or "
					   "starts-with(title, 't=20-24s: 200 sent, 1 failed, p99 250 ms')])"), 2);
	ck_assert_int_eq(t_xpath_num(file, "count(//text[.='requests per second, mean of 5 s a bar'])"), 1);
	/* The text still lists every failed second. */
	ck_assert_ptr_nonnull(strstr(html, "Failed seconds (4): t=12-14s: 37 failed; t=20s: 1 failed.</p>"));
	free(file);
	for (size_t i = 0; i < n; i++)
		free(svgs[i]);
	free(svgs);
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(timeline_junit_failure_text)
{
	static const char want[] =
		"38 failed requests during the action (at most 0)\n\nseen:\nduring: 38 failed\n\n"
		"timeline: 1200 sent, 38 failed in 30 s from 2026-01-01T10:00:00Z, p99 at most 250.0 ms\n"
		"failed seconds: t=12-14s: 37 failed, t=20s: 1 failed\n"
		"marks: action start t=10.0s, action end t=14.2s, hostile <script>alert(1)</script> & ]]> "
		"\"q\" 'a' \\x01\\x1B[31m\\x7F ";
	struct mc_run *run = timeline_run(30, 38);
	struct out o = out_new();
	char *xml, *v;

	write_all(run, &o);
	t_xml_wellformed(o.junit);
	/* The message stays the reason; the body gains the summary after what was seen. */
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='reload']/failure"
					      "[@message='38 failed requests during the action (at most 0)'])"), 1);
	v = t_xpath(o.junit, "string(//testcase[@name='reload']/failure)");
	ck_assert_msg(strncmp(v, want, strlen(want)) == 0, "failure text: %s", v);
	ck_assert_ptr_nonnull(strstr(v, " t=16.5s\nfirst failures:\n"
					"  t=12.31s sleep@c1 -> http://helloworld.sample:5000/hello: reset\n"
					"  t=12.36s sleep@c1 -> http://x.sample/<script>alert(1)</script> & ]]> \"q\""));
	ck_assert_ptr_nonnull(strstr(v, "\n  t=12.51s " TL_NORMAL_PATH ": reset\n  and 38 more\n"));
	ck_assert_ptr_null(strstr(v, "12.56s"));
	free(v);
	/* A passing case with a timeline is unchanged: nothing but its (empty) element. */
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='steady']/*)"), 0);
	xml = t_read(o.junit);
	ck_assert_ptr_null(strstr(xml, "<script>"));
	ck_assert_ptr_nonnull(strstr(xml, "hostile &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; &quot;q&quot;"));
	ck_assert_ptr_nonnull(strstr(xml, "http://x.sample/&lt;script&gt;"));
	free(xml);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(timeline_junit_text_is_bounded)
{
	struct mc_run *run = timeline_run(600, 1000);
	struct mc_timeline *tl = run->suites[0]->cases[0]->timeline;
	struct out o = out_new();
	char *v, *longer = mc_xcalloc(1, 20001);

	/* Failures in every other second, long hostile paths and labels. */
	for (size_t i = 0; i < 600; i += 2)
		tl->points[i].failed = 1;
	memset(longer, 'x', 20000);
	memcpy(longer, HOSTILE, strlen(HOSTILE));
	for (size_t i = 0; i < tl->n_failures; i++) {
		free(tl->failures[i].path);
		tl->failures[i].path = mc_xstrdup(longer);
	}
	free(tl->marks[2].label);
	tl->marks[2].label = mc_xstrdup(longer);
	write_all(run, &o);
	t_xml_wellformed(o.junit);
	v = t_xpath(o.junit, "string(//testcase[@name='reload']/failure)");
	ck_assert_msg(strlen(v) < 2500, "failure text of %zu bytes", strlen(v));
	/* 300 even seconds, 12 to 14 as one span: 299 spans, 10 listed. */
	ck_assert_ptr_nonnull(strstr(v, ", and 289 more\n"));
	ck_assert_ptr_nonnull(strstr(v, "  and 1000 more\n"));
	free(v);
	free(longer);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

/* Odd values: NULL strings, times that are not finite, negative counts, marks without points. */
START_TEST(timeline_odd_values_stay_well_formed)
{
	struct mc_run *run = mc_run_new("odd", "local");
	struct mc_suite *s = mc_run_add_suite(run, "s", NULL);
	struct mc_case *c = mc_suite_add_case(s, "odd", "continuity");
	struct mc_timeline_point pts[3] = {{NAN, 5, -1, 2, NAN}, {INFINITY, -3, 0, 0, INFINITY}, {2, 0, 0, 0, 0}};
	struct mc_timeline_mark marks[2] = {{NAN, NULL}, {-5, "before"}};
	struct mc_timeline_failure fail = {NAN, NULL, NULL};
	struct mc_timeline tl = {.start_unix = NAN, .points = pts, .n_points = 3, .marks = marks, .n_marks = 2,
				 .failures = &fail, .n_failures = 1, .failures_dropped = -4};
	struct out o = out_new();
	char *html, *file, **svgs;
	size_t n;
	cJSON *j, *t;

	mc_case_set(c, MC_RESULT_FAIL, "odd");
	mc_case_set_timeline(c, &tl);
	c = mc_suite_add_case(s, "marks only", "continuity");
	mc_case_set(c, MC_RESULT_FAIL, "no traffic");
	tl.n_points = 0;
	mc_case_set_timeline(c, &tl);
	write_all(run, &o);
	t_xml_wellformed(o.junit);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//failure[contains(., 'failed seconds: t=0s: 2 failed')])"), 1);
	html = t_read(o.html);
	expect_self_contained(html);
	ck_assert_ptr_null(strstr(html, "nan"));
	ck_assert_ptr_null(strstr(html, "inf"));
	svgs = svg_charts(html, &n);
	ck_assert_uint_eq(n, 1);
	file = t_write(o.dir, "odd.svg", svgs[0]);
	t_xml_wellformed(file);
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='bar'])"), 3);
	/* A mark at a time that is not finite is listed (at t=?) but not drawn. */
	ck_assert_int_eq(t_xpath_num(file, "count(//g[@class='mark'])"), 1);
	ck_assert_ptr_nonnull(strstr(html, "Failed seconds (1): t=0s: 2 failed.</p>"));
	ck_assert_ptr_nonnull(strstr(html, "Marks:  at t=? s; before at t=-5.0 s.</p>"));
	free(file);
	free(svgs[0]);
	free(svgs);
	free(html);
	j = read_json(o.json);
	t = jget(cJSON_GetArrayItem(jget(cJSON_GetArrayItem(jget(j, "suites"), 0), "cases"), 0), "timeline");
	ck_assert(cJSON_IsNull(jget(cJSON_GetArrayItem(jget(t, "points"), 0), "t")));
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(t, "marks"), 0), "label"), "");
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(t, "failures"), 0), "path"), "");
	cJSON_Delete(j);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

/*
 * A run with retried cases: "flaky" failed once (with hostile text) then
 * passed; "flaky-err" errored, failed, then passed; "always" failed all
 * three attempts; "always-err" failed, then errored; "plain" passed at once.
 */
static struct mc_run *
flaky_run(void)
{
	struct mc_run *run = mc_run_new("f1", "local");
	struct mc_suite *s = mc_run_add_suite(run, "mesh", "suites/mesh.json");
	struct mc_case *c;

	c = mc_suite_add_case(s, "flaky", "reach");
	mc_case_add_attempt(c, MC_RESULT_FAIL, "expected 200, saw 503 " HOSTILE_VALID, 0.1);
	mc_case_add_attempt(c, MC_RESULT_PASS, NULL, 0.2);
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c->flaky = true;
	c->duration = 0.3;
	c = mc_suite_add_case(s, "flaky-err", "reach");
	mc_case_add_attempt(c, MC_RESULT_ERROR, "connect: refused", 0.01);
	mc_case_add_attempt(c, MC_RESULT_FAIL, "expected 200, saw 502", 0.02);
	mc_case_add_attempt(c, MC_RESULT_PASS, NULL, 0.03);
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c->flaky = true;
	c->duration = 0.06;
	c = mc_suite_add_case(s, "always", "chain");
	mc_case_add_attempt(c, MC_RESULT_FAIL, "r1", 1);
	mc_case_add_attempt(c, MC_RESULT_FAIL, "r2", 2);
	mc_case_add_attempt(c, MC_RESULT_FAIL, "r3", 3);
	mc_case_set(c, MC_RESULT_FAIL, "r3");
	c->duration = 6;
	c = mc_suite_add_case(s, "always-err", "chain");
	mc_case_add_attempt(c, MC_RESULT_FAIL, "f1", 0.5);
	mc_case_add_attempt(c, MC_RESULT_ERROR, "e2", 0.5);
	mc_case_set(c, MC_RESULT_ERROR, "e2");
	c->duration = 1;
	c = mc_suite_add_case(s, "plain", "chain");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	run->end = run->start + 8;
	return run;
}

START_TEST(junit_flaky_as_surefire_writes_reruns)
{
	struct mc_run *run = flaky_run();
	struct out o = out_new();
	char *v;

	write_all(run, &o);
	t_xml_wellformed(o.junit);
	/* Flaky cases are passes: the counts hold one failure (always) and one error (always-err). */
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@tests)"), 5);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@failures)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/@errors)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "number(/testsuites/testsuite/@failures)"), 1);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='flaky' or @name='flaky-err']"
					      "/*[self::failure or self::error or self::rerunFailure or self::rerunError])"), 0);
	/*
	 * One flakyFailure per failed attempt, its text in stackTrace; the pass adds nothing else.
	 * (xmllint writes the carriage return of the text back as a character reference.)
	 */
	v = t_xpath(o.junit, "//testcase[@name='flaky']");
	ck_assert_str_eq(v,
		"<testcase classname=\"mesh\" name=\"flaky\" time=\"0.300\">\n"
		"      <flakyFailure message=\"expected 200, saw 503 &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; "
		"&quot;q&quot; 'a' \\x01\\x1B[31m\\x7F Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
		"\xf0\x9f\x9a\x80 end\" type=\"reach\"><stackTrace>attempt 1 of 2: fail after 0.100 s\n"
		"expected 200, saw 503 &lt;script&gt;alert(1)&lt;/script&gt; &amp; ]]&gt; \"q\" 'a' "
		"\\x01\\x1B[31m\\x7F\t&#13;\n Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
		"\xf0\x9f\x9a\x80 end\n</stackTrace></flakyFailure>\n"
		"      <system-out>FLAKY: passed on attempt 2, after 1 failed\n</system-out>\n"
		"    </testcase>");
	free(v);
	/* An errored attempt is a flakyError, after the flakyFailures as the schema orders them. */
	v = t_xpath(o.junit, "//testcase[@name='flaky-err']");
	ck_assert_str_eq(v,
		"<testcase classname=\"mesh\" name=\"flaky-err\" time=\"0.060\">\n"
		"      <flakyFailure message=\"expected 200, saw 502\" type=\"reach\"><stackTrace>attempt 2 of 3: "
		"fail after 0.020 s\nexpected 200, saw 502\n</stackTrace></flakyFailure>\n"
		"      <flakyError message=\"connect: refused\" type=\"reach\"><stackTrace>attempt 1 of 3: "
		"error after 0.010 s\nconnect: refused\n</stackTrace></flakyError>\n"
		"      <system-out>FLAKY: passed on attempt 3, after 2 failed\n</system-out>\n"
		"    </testcase>");
	free(v);
	/* Failed every attempt: the failure (the last attempt's) lists them; the earlier ones are reruns. */
	v = t_xpath(o.junit, "//testcase[@name='always']");
	ck_assert_str_eq(v,
		"<testcase classname=\"mesh\" name=\"always\" time=\"6.000\">\n"
		"      <failure message=\"r3\" type=\"chain\">r3\n\nattempts (3, none passed):\n"
		"  1. fail after 1.000 s: r1\n  2. fail after 2.000 s: r2\n  3. fail after 3.000 s: r3\n</failure>\n"
		"      <rerunFailure message=\"r1\" type=\"chain\"><stackTrace>attempt 1 of 3: fail after 1.000 s\n"
		"r1\n</stackTrace></rerunFailure>\n"
		"      <rerunFailure message=\"r2\" type=\"chain\"><stackTrace>attempt 2 of 3: fail after 2.000 s\n"
		"r2\n</stackTrace></rerunFailure>\n"
		"    </testcase>");
	free(v);
	/* Ended in an error: rerunFailure comes before error, as the schema orders them. */
	v = t_xpath(o.junit, "//testcase[@name='always-err']");
	ck_assert_str_eq(v,
		"<testcase classname=\"mesh\" name=\"always-err\" time=\"1.000\">\n"
		"      <rerunFailure message=\"f1\" type=\"chain\"><stackTrace>attempt 1 of 2: fail after 0.500 s\n"
		"f1\n</stackTrace></rerunFailure>\n"
		"      <error message=\"e2\" type=\"chain\">e2\n\nattempts (2, none passed):\n"
		"  1. fail after 0.500 s: f1\n  2. error after 0.500 s: e2\n</error>\n"
		"    </testcase>");
	free(v);
	ck_assert_int_eq(t_xpath_num(o.junit, "count(//testcase[@name='plain']/*)"), 0);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(json_flaky_and_attempts)
{
	struct mc_run *run = flaky_run();
	struct out o = out_new();
	cJSON *j, *cases, *c, *a, *e;
	char *want;

	write_all(run, &o);
	j = read_json(o.json);
	expect_summary(jget(j, "summary"), 5, 3, 1, 0, 1);
	ck_assert_int_eq(jnum(jget(j, "summary"), "flaky"), 2);
	ck_assert_int_eq(jnum(jget(cJSON_GetArrayItem(jget(j, "suites"), 0), "summary"), "flaky"), 2);
	cases = jget(cJSON_GetArrayItem(jget(j, "suites"), 0), "cases");
	c = cJSON_GetArrayItem(cases, 0);
	ck_assert_str_eq(jstr(c, "status"), "pass");
	ck_assert(cJSON_IsTrue(jget(c, "flaky")));
	ck_assert(cJSON_IsNull(jget(c, "reason")));
	a = jget(c, "attempts");
	ck_assert_int_eq(cJSON_GetArraySize(a), 2);
	e = cJSON_GetArrayItem(a, 0);
	ck_assert_str_eq(jstr(e, "status"), "fail");
	want = mc_utf8_sanitize("expected 200, saw 503 " HOSTILE_VALID);
	ck_assert_str_eq(jstr(e, "reason"), want);
	free(want);
	ck_assert_double_eq_tol(jget(e, "duration_s")->valuedouble, 0.1, 1e-9);
	e = cJSON_GetArrayItem(a, 1);
	ck_assert_str_eq(jstr(e, "status"), "pass");
	ck_assert(cJSON_IsNull(jget(e, "reason")));
	ck_assert_double_eq_tol(jget(e, "duration_s")->valuedouble, 0.2, 1e-9);
	c = cJSON_GetArrayItem(cases, 1);
	ck_assert(cJSON_IsTrue(jget(c, "flaky")));
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(c, "attempts"), 0), "status"), "error");
	c = cJSON_GetArrayItem(cases, 2);
	ck_assert_str_eq(jstr(c, "status"), "fail");
	ck_assert(cJSON_IsFalse(jget(c, "flaky")));
	ck_assert_int_eq(cJSON_GetArraySize(jget(c, "attempts")), 3);
	ck_assert_str_eq(jstr(cJSON_GetArrayItem(jget(c, "attempts"), 1), "reason"), "r2");
	/* A case run once: flaky false and no attempts. */
	c = cJSON_GetArrayItem(cases, 4);
	ck_assert(cJSON_IsFalse(jget(c, "flaky")));
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "attempts"));
	cJSON_Delete(j);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

START_TEST(html_flaky_is_marked)
{
	struct mc_run *run = flaky_run();
	struct out o = out_new();
	char *html, *row, *d, *end;

	write_all(run, &o);
	html = t_read(o.html);
	/* No failure among the final outcomes of the flaky cases, but the run failed for "always". */
	ck_assert_ptr_nonnull(strstr(html, "meshcheck run: FAILED"));
	/* The label has its own colour and says FLAKY in words. */
	ck_assert_ptr_nonnull(strstr(html, ".st.flaky{background:"));
	ck_assert_ptr_nonnull(strstr(html, "<span><span class=\"st flaky\">FLAKY</span> 2 (passed, counted in PASS)</span>"));
	ck_assert_ptr_nonnull(strstr(html, "<span class=\"st pass\">PASS</span> 3</span>"));
	ck_assert_ptr_nonnull(strstr(html, "<div class=\"flakynote\"><span class=\"st flaky\">FLAKY</span> "
					   "<strong>2 case(s) passed only on a retry.</strong>"));
	ck_assert_ptr_nonnull(strstr(html, "<span>3 passed</span><span>2 flaky</span><span>1 failed</span>"));
	ck_assert_ptr_nonnull(strstr(html, "aria-label=\"3 passed (2 of them flaky), 1 failed, 0 skipped, 1 errors\""));
	row = html_row(html, ">flaky<");
	ck_assert_ptr_nonnull(strstr(row, "<tr class=\"pass flaky\">"));
	ck_assert_ptr_nonnull(strstr(row, "<span class=\"st pass\">PASS</span> <span class=\"st flaky\">FLAKY</span>"));
	ck_assert_ptr_nonnull(strstr(row, "flaky: passed on attempt 2, after 1 failed (last: fail: expected 200, saw 503 "
					  "&lt;script&gt;"));
	free(row);
	row = html_row(html, ">always<");
	ck_assert_ptr_nonnull(strstr(row, "<tr class=\"fail\">"));
	ck_assert_ptr_null(strstr(row, "FLAKY"));
	ck_assert_ptr_nonnull(strstr(row, "r3 (no pass in 3 attempts)"));
	free(row);
	row = html_row(html, ">plain<");
	ck_assert_ptr_null(strstr(row, "FLAKY"));
	free(row);
	/* The flaky case's details are open and list its attempts. */
	d = strstr(html, "<details id=\"s0c0\" open><summary><span class=\"st pass\">PASS</span> "
			 "<span class=\"st flaky\">FLAKY</span> flaky</summary>");
	ck_assert_ptr_nonnull(d);
	end = strstr(d, "</details>");
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	ck_assert_ptr_nonnull(strstr(d, "Passed on attempt 2, after 1 failed attempt(s):"));
	ck_assert_ptr_nonnull(strstr(d, "<tr><td class=\"num\">1</td><td><span class=\"st fail\">FAIL</span></td>"
					"<td class=\"num\">0.10 s</td><td>expected 200, saw 503 &lt;script&gt;alert(1)"));
	ck_assert_ptr_nonnull(strstr(d, "<tr><td class=\"num\">2</td><td><span class=\"st pass\">PASS</span></td>"
					"<td class=\"num\">0.20 s</td><td></td></tr>"));
	*end = '<';
	ck_assert_ptr_nonnull(strstr(html, "No pass in 3 attempts:"));
	ck_assert_ptr_nonnull(strstr(html, "<details id=\"s0c4\">"));
	ck_assert_ptr_null(strstr(html, "<script"));
	expect_self_contained(html);
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

/* A run without flaky cases shows a zero count and no note. */
START_TEST(html_no_flaky_note_without_flaky)
{
	struct mc_run *run = hostile_run();
	struct out o = out_new();
	char *html;

	write_all(run, &o);
	html = t_read(o.html);
	ck_assert_ptr_nonnull(strstr(html, "<span class=\"st flaky\">FLAKY</span> 0 (passed, counted in PASS)"));
	ck_assert_ptr_null(strstr(html, "class=\"flakynote\""));
	ck_assert_ptr_null(strstr(html, "tr class=\"pass flaky\""));
	free(html);
	mc_run_free(run);
	out_free(&o);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reports");
	TCase *tc = tcase_create("writers");

	tcase_add_test(tc, junit_hostile_strings_stay_well_formed);
	tcase_add_test(tc, html_hostile_strings_are_text);
	tcase_add_test(tc, json_round_trips);
	tcase_add_test(tc, outcomes_never_lie);
	tcase_add_test(tc, aborted_run_keeps_what_ran);
	tcase_add_test(tc, aborted_before_any_suite);
	tcase_add_test(tc, empty_run);
	tcase_add_test(tc, missing_directory_is_an_error);
	tcase_add_test(tc, timeline_model_copies_deeply);
	tcase_add_test(tc, timeline_json_round_trips);
	tcase_add_test(tc, timeline_html_chart);
	tcase_add_test(tc, timeline_html_long_stays_small);
	tcase_add_test(tc, timeline_html_longer_groups_seconds);
	tcase_add_test(tc, timeline_junit_failure_text);
	tcase_add_test(tc, timeline_junit_text_is_bounded);
	tcase_add_test(tc, timeline_odd_values_stay_well_formed);
	tcase_add_test(tc, junit_flaky_as_surefire_writes_reruns);
	tcase_add_test(tc, json_flaky_and_attempts);
	tcase_add_test(tc, html_flaky_is_marked);
	tcase_add_test(tc, html_no_flaky_note_without_flaky);
	suite_add_tcase(s, tc);
	return t_main(s);
}
