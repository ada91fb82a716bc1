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
	suite_add_tcase(s, tc);
	return t_main(s);
}
