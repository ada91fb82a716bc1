/*
 * Escaping for XML and HTML output (see report.h). Both walk the string
 * as UTF-8: well-formed characters that the format allows pass through,
 * markup characters become entities, and anything else (forbidden control
 * characters, noncharacters U+FFFE/U+FFFF, surrogates, overlong or broken
 * sequences) becomes the visible text "\xNN", one per byte, so a report
 * stays well-formed and still shows what was there.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "util.h"

/*
 * Returns the length of the well-formed UTF-8 character at p (1 to 4), or 0
 * when the byte at p must be escaped. Control characters other than tab,
 * newline and CR count as well-formed only when controls is true (JSON can
 * carry them, XML cannot); DEL follows the same rule. Noncharacters
 * U+FFFE/U+FFFF, UTF-16 surrogates, overlong forms, code points beyond
 * U+10FFFF and truncated sequences never do. The string is NUL-terminated,
 * and a NUL is never a continuation byte, so the checks stop at the first
 * byte that does not fit and never read past the terminator.
 */
static size_t
utf8_char(const unsigned char *p, bool controls)
{
	unsigned char c = p[0];

	if (c < 0x80) {
		if (controls || c == '\t' || c == '\n' || c == '\r')
			return 1;
		return (c < 0x20 || c == 0x7f) ? 0 : 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && p[1] >= 0xa0)
			return 0; /* UTF-16 surrogate */
		if (c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
			return 0; /* U+FFFE, U+FFFF */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && p[1] > 0x8f)
			return 0; /* beyond U+10FFFF */
		return 4;
	}
	return 0; /* a continuation byte on its own, 0xc0/0xc1 or 0xf5..0xff */
}

/* Appends the visible text "\xNN" for one byte that cannot be written as it is. */
static void
put_byte_escape(struct mc_buf *b, unsigned char byte)
{
	mc_buf_printf(b, "\\x%02X", byte);
}

char *
mc_utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct mc_buf b;

	/* No maximum: the input is already in memory and allocation aborts on exhaustion. */
	mc_buf_init(&b, SIZE_MAX);
	mc_buf_append(&b, "", 0);
	while (*p != '\0') {
		size_t n = utf8_char(p, true);

		if (n == 0) {
			put_byte_escape(&b, *p);
			p++;
		} else {
			mc_buf_append(&b, p, n);
			p += n;
		}
	}
	return mc_buf_steal(&b);
}

/*
 * Returns s escaped for XML (html false) or HTML (html true) text and
 * attribute values, as a new string the caller frees; NULL gives "". The
 * two differ only in the apostrophe: &apos; is XML, HTML 4 lacks it, so
 * HTML gets &#39;. CR is written as &#13; because a parser turns a raw CR
 * into a newline in text and into a space in attributes.
 */
static char *
escape(const char *s, bool html)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct mc_buf b;

	mc_buf_init(&b, SIZE_MAX);
	mc_buf_append(&b, "", 0);
	while (*p != '\0') {
		size_t n = utf8_char(p, false);

		if (n == 0) {
			put_byte_escape(&b, *p);
			p++;
			continue;
		}
		switch (*p) {
		case '&': mc_buf_puts(&b, "&amp;"); break;
		case '<': mc_buf_puts(&b, "&lt;"); break;
		case '>': mc_buf_puts(&b, "&gt;"); break;
		case '"': mc_buf_puts(&b, "&quot;"); break;
		case '\'': mc_buf_puts(&b, html ? "&#39;" : "&apos;"); break;
		case '\r': mc_buf_puts(&b, "&#13;"); break;
		default: mc_buf_append(&b, p, n); break;
		}
		p += n;
	}
	return mc_buf_steal(&b);
}

char *
mc_xml_escape(const char *s)
{
	return escape(s, false);
}

char *
mc_html_escape(const char *s)
{
	return escape(s, true);
}

/*
 * Flattens s to one line (see report.h). Leading and trailing whitespace
 * go, inner runs become one space. The cut is made before a byte that
 * starts a character, never before a continuation byte, so well-formed
 * UTF-8 stays well-formed; the result is at most max + 3 bytes plus "...".
 */
char *
mc_report_one_line(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct mc_buf b;
	bool space = false;

	mc_buf_init(&b, SIZE_MAX);
	mc_buf_append(&b, "", 0);
	for (; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
			space = b.len > 0;
			continue;
		}
		/* Three continuation bytes at most: a run of stray ones must not defeat the cut. */
		if (b.len >= max && ((*p & 0xc0) != 0x80 || b.len - max >= 3)) {
			mc_buf_puts(&b, "...");
			break;
		}
		if (space)
			mc_buf_append(&b, " ", 1);
		space = false;
		mc_buf_append(&b, p, 1);
	}
	return mc_buf_steal(&b);
}
