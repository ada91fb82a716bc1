/*
 * Escaping for XML and HTML output (see report.h). Both walk the string
 * as UTF-8: well-formed characters that the format allows pass through,
 * markup characters become entities, and anything else (forbidden control
 * characters, noncharacters U+FFFE/U+FFFF, surrogates, overlong or broken
 * sequences) becomes the visible text "\xNN", one per byte, so a report
 * stays well-formed and still shows what was there.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "util.h"

/*
 * Returns the length of the well-formed UTF-8 character at p (1 to 4), or 0
 * when the byte at p must be escaped. Control characters other than tab,
 * newline and CR count as well-formed only when controls is true (JSON can
 * carry them, XML cannot); noncharacters and surrogates never do.
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
	return 0;
}

static size_t
allowed_char(const unsigned char *p)
{
	return utf8_char(p, false);
}

char *
mc_utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct mc_buf b;

	mc_buf_init(&b, 0);
	mc_buf_append(&b, "", 0);
	while (*p != '\0') {
		size_t n = utf8_char(p, true);

		if (n == 0) {
			mc_buf_printf(&b, "\\x%02X", *p);
			p++;
		} else {
			mc_buf_append(&b, p, n);
			p += n;
		}
	}
	return mc_buf_steal(&b);
}

static char *
escape(const char *s, bool html)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	struct mc_buf b;

	mc_buf_init(&b, 0);
	mc_buf_append(&b, "", 0);
	while (*p != '\0') {
		size_t n = allowed_char(p);

		if (n == 0) {
			mc_buf_printf(&b, "\\x%02X", *p);
			p++;
			continue;
		}
		switch (*p) {
		case '&': mc_buf_puts(&b, "&amp;"); break;
		case '<': mc_buf_puts(&b, "&lt;"); break;
		case '>': mc_buf_puts(&b, "&gt;"); break;
		case '"': mc_buf_puts(&b, "&quot;"); break;
		case '\'': mc_buf_puts(&b, html ? "&#39;" : "&apos;"); break;
		/* Attribute values would turn raw CR into a space: keep them exact. */
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

char *
mc_report_one_line(const char *s, size_t max)
{
	struct mc_buf b;
	const char *p = s != NULL ? s : "";
	bool space = false;

	mc_buf_init(&b, 0);
	mc_buf_append(&b, "", 0);
	for (; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
			space = b.len > 0;
			continue;
		}
		if (b.len >= max) {
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
