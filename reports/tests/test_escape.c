/*
 * Tests of the escaping the report writers use: markup characters, every
 * class of character XML 1.0 forbids, valid UTF-8 kept as it is, broken
 * UTF-8 shown as \xNN, one-line messages, and random bytes through
 * xmllint.
 */
#include <errno.h>

#include "report.h"
#include "xmltest.h"

/* Asserts that both escapers turn in into want (want_html for HTML when it differs). */
static void
expect_both(const char *in, const char *want, const char *want_html)
{
	char *x = mc_xml_escape(in), *h = mc_html_escape(in);

	ck_assert_msg(strcmp(x, want) == 0, "xml: got \"%s\", want \"%s\"", x, want);
	ck_assert_msg(strcmp(h, want_html != NULL ? want_html : want) == 0, "html: got \"%s\", want \"%s\"", h,
		      want_html != NULL ? want_html : want);
	free(x);
	free(h);
}

START_TEST(markup_and_quotes)
{
	expect_both("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&apos;", "a&lt;b&gt;&amp;&quot;c&#39;");
	expect_both("]]>", "]]&gt;", NULL);
	expect_both("&amp;", "&amp;amp;", NULL);
	expect_both(NULL, "", NULL);
	expect_both("", "", NULL);
}
END_TEST

START_TEST(c0_controls_and_del)
{
	for (int c = 1; c < 0x20; c++) {
		char in[4] = {'a', (char)c, 'z', '\0'};
		char want[16];

		if (c == '\t' || c == '\n')
			snprintf(want, sizeof(want), "a%cz", c);
		else if (c == '\r')
			snprintf(want, sizeof(want), "a&#13;z");
		else
			snprintf(want, sizeof(want), "a\\x%02Xz", c);
		expect_both(in, want, NULL);
	}
	expect_both("\x1b[31mred\x1b[0m", "\\x1B[31mred\\x1B[0m", NULL);
	expect_both("del\x7f", "del\\x7F", NULL);
}
END_TEST

START_TEST(noncharacters_and_surrogates)
{
	expect_both("\xef\xbf\xbe", "\\xEF\\xBF\\xBE", NULL); /* U+FFFE */
	expect_both("\xef\xbf\xbf", "\\xEF\\xBF\\xBF", NULL); /* U+FFFF */
	expect_both("\xed\xa0\x80", "\\xED\\xA0\\x80", NULL); /* U+D800 */
	expect_both("\xed\xbf\xbf", "\\xED\\xBF\\xBF", NULL); /* U+DFFF */
	/* A surrogate pair encoded as two 3-byte sequences (CESU-8) is not UTF-8 either. */
	expect_both("\xed\xa0\xbd\xed\xb8\x80", "\\xED\\xA0\\xBD\\xED\\xB8\\x80", NULL);
	/* Their neighbours are fine. */
	expect_both("\xed\x9f\xbf|\xee\x80\x80|\xef\xbf\xbd", "\xed\x9f\xbf|\xee\x80\x80|\xef\xbf\xbd", NULL);
}
END_TEST

START_TEST(invalid_utf8)
{
	expect_both("\x80", "\\x80", NULL);                           /* lone continuation */
	expect_both("a\xbf" "b", "a\\xBFb", NULL);
	expect_both("\xc0\xaf", "\\xC0\\xAF", NULL);                  /* overlong '/' */
	expect_both("\xc1\xbf", "\\xC1\\xBF", NULL);
	expect_both("\xe0\x80\xaf", "\\xE0\\x80\\xAF", NULL);          /* overlong, 3 bytes */
	expect_both("\xf0\x80\x80\xaf", "\\xF0\\x80\\x80\\xAF", NULL);  /* overlong, 4 bytes */
	expect_both("\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80", NULL);  /* beyond U+10FFFF */
	expect_both("\xf5\xf8\xfc\xfe\xff", "\\xF5\\xF8\\xFC\\xFE\\xFF", NULL);
	expect_both("\xff\xfe", "\\xFF\\xFE", NULL);                  /* a UTF-16 BOM */
	expect_both("\xe2\x82", "\\xE2\\x82", NULL);                  /* truncated at the end */
	expect_both("\xe2\x82" "A", "\\xE2\\x82A", NULL);             /* truncated before ASCII */
	expect_both("\xf0\x9f\x9a", "\\xF0\\x9F\\x9A", NULL);
	expect_both("\xc3<", "\\xC3&lt;", NULL);                      /* a markup byte is never swallowed */
}
END_TEST

START_TEST(valid_utf8_unchanged)
{
	static const char *const ok[] = {
		"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbd", "\xf0\x90\x80\x80",
		"\xf4\x8f\xbf\xbf",                              /* U+10FFFF */
		"\xef\xb7\x90",                                  /* U+FDD0: a noncharacter XML allows */
		"Gr\xc3\xbc\xc3\x9f" "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80",
		"\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", /* ZWJ emoji sequence */
		"tab\tnewline\n",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect_both(ok[i], ok[i], NULL);
}
END_TEST

START_TEST(utf8_sanitize_keeps_controls)
{
	char *s = mc_utf8_sanitize("a\x01\x1b\x7f\xff" "b \xf0\x9f\x9a\x80 \xed\xa0\x80 <&>");

	ck_assert_str_eq(s, "a\x01\x1b\x7f\\xFFb \xf0\x9f\x9a\x80 \\xED\\xA0\\x80 <&>");
	free(s);
	s = mc_utf8_sanitize(NULL);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(one_line)
{
	char *x;

	x = mc_report_one_line("  two\n lines\tand \r\n  spaces ", 100);
	ck_assert_str_eq(x, "two lines and spaces");
	free(x);
	x = mc_report_one_line("abcdefghij", 4);
	ck_assert_str_eq(x, "abcd...");
	free(x);
	x = mc_report_one_line("abcd", 4);
	ck_assert_str_eq(x, "abcd");
	free(x);
	/* The cut never splits a character. */
	x = mc_report_one_line("ab\xf0\x9f\x9a\x80" "cd", 3);
	ck_assert_str_eq(x, "ab\xf0\x9f\x9a\x80...");
	free(x);
	/* A run of stray continuation bytes is still cut. */
	x = mc_report_one_line("a\x80\x80\x80\x80\x80\x80\x80\x80", 1);
	ck_assert_uint_le(strlen(x), 1 + 3 + 3);
	free(x);
	x = mc_report_one_line(NULL, 10);
	ck_assert_str_eq(x, "");
	free(x);
}
END_TEST

/* A deterministic byte source (xorshift), so a failure can be reproduced. */
static unsigned char
next_byte(unsigned long *state)
{
	static const unsigned char interesting[] = {
		0x00, 0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x7f, '<', '>', '&', '"', '\'', ']', 0x80, 0xbf,
		0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xbe, 0xa0, 0x90, 0x8f, 0xf0, 0xf4, 0xf5, 0xff,
	};
	unsigned long x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	/* Half the bytes from the interesting set, half anything. */
	if ((x >> 8) & 1)
		return interesting[(x >> 16) % sizeof(interesting)];
	return (unsigned char)(x >> 24);
}

START_TEST(random_bytes_stay_well_formed)
{
	char *dir = t_tmpdir();
	char *path = mc_xasprintf("%s/random.xml", dir);
	unsigned long state = 0x9e3779b97f4a7c15UL;
	char err[MC_ERRLEN];
	struct mc_buf doc;

	mc_buf_init(&doc, 0);
	mc_buf_puts(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r>\n");
	for (int i = 0; i < 3000; i++) {
		unsigned char s[24];
		size_t n = next_byte(&state) % (sizeof(s) - 1);
		char *e;

		for (size_t j = 0; j < n; j++) {
			s[j] = next_byte(&state);
			if (s[j] == 0)
				s[j] = 0xc3;
		}
		s[n] = '\0';
		e = mc_xml_escape((const char *)s);
		/* The same text as an attribute and as element content. */
		mc_buf_printf(&doc, "<e a=\"%s\">%s</e>\n", e, e);
		free(e);
	}
	mc_buf_puts(&doc, "</r>\n");
	ck_assert_msg(mc_file_write(path, doc.data, doc.len, 0644, err, sizeof(err)) == 0, "%s", err);
	t_xml_wellformed(path);
	ck_assert_int_eq(t_xpath_num(path, "count(/r/e)"), 3000);
	mc_buf_free(&doc);
	mc_rm_rf(dir);
	free(dir);
	free(path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("escape");
	TCase *tc = tcase_create("escape");

	tcase_add_test(tc, markup_and_quotes);
	tcase_add_test(tc, c0_controls_and_del);
	tcase_add_test(tc, noncharacters_and_surrogates);
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, valid_utf8_unchanged);
	tcase_add_test(tc, utf8_sanitize_keeps_controls);
	tcase_add_test(tc, one_line);
	tcase_add_test(tc, random_bytes_stay_well_formed);
	suite_add_tcase(s, tc);
	return t_main(s);
}
