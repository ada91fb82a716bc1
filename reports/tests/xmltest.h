/*
 * Helpers for the report tests: checking XML with xmllint. xmllint is
 * required (CI installs libxml2-utils): when it is missing the test fails
 * saying so, because a report test that cannot check well-formedness must
 * not pass.
 */
#ifndef MC_XMLTEST_H
#define MC_XMLTEST_H

#include "testutil.h"

/* Returns the path of xmllint found on PATH (static storage); fails the test when there is none. */
static inline const char *
t_xmllint(void)
{
	static char found[4096];
	const char *path = getenv("PATH");
	char *dirs, *save = NULL;

	if (found[0] != '\0')
		return found;
	dirs = mc_xstrdup(path != NULL && *path != '\0' ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof(found), "%s/xmllint", *d != '\0' ? d : ".");
		if (access(found, X_OK) == 0)
			break;
		found[0] = '\0';
	}
	free(dirs);
	ck_assert_msg(found[0] != '\0', "xmllint not found on PATH: the report tests need it "
					 "(Debian/Ubuntu package libxml2-utils)");
	return found;
}

/* Fails the test, with xmllint's complaint, unless file is well-formed XML. */
static inline void
t_xml_wellformed(const char *file)
{
	char *argv[] = {(char *)t_xmllint(), "--noout", (char *)file, NULL};
	char *out = NULL;
	int rc = t_run(argv, &out);

	ck_assert_msg(rc == 0, "xmllint rejects %s (exit %d): %s", file, rc, out);
	free(out);
}

/* Returns what `xmllint --xpath expr file` prints, without the trailing newline (caller frees). */
static inline char *
t_xpath(const char *file, const char *expr)
{
	char *argv[] = {(char *)t_xmllint(), "--xpath", (char *)expr, (char *)file, NULL};
	char *out = NULL;
	int rc = t_run(argv, &out);
	size_t n;

	ck_assert_msg(rc == 0, "xmllint --xpath \"%s\" %s failed (exit %d): %s", expr, file, rc, out);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

/* Returns the number an XPath expression such as count(//testcase) evaluates to. */
static inline long
t_xpath_num(const char *file, const char *expr)
{
	char *out = t_xpath(file, expr), *end;
	long n = strtol(out, &end, 10);

	ck_assert_msg(end != out && *end == '\0', "xmllint --xpath \"%s\": not a number: %s", expr, out);
	free(out);
	return n;
}

#endif
