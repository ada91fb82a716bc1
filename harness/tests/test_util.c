/*
 * Unit tests of util.c: durations, bounded buffers, files, globbing.
 */
#include <errno.h>
#include <sys/stat.h>

#include "testutil.h"

START_TEST(duration_parses_units)
{
	long s = 0;

	ck_assert_int_eq(mc_duration_parse("90", &s), 0);
	ck_assert_int_eq(s, 90);
	ck_assert_int_eq(mc_duration_parse("90s", &s), 0);
	ck_assert_int_eq(s, 90);
	ck_assert_int_eq(mc_duration_parse("15m", &s), 0);
	ck_assert_int_eq(s, 900);
	ck_assert_int_eq(mc_duration_parse("24h", &s), 0);
	ck_assert_int_eq(s, 86400);
	ck_assert_int_eq(mc_duration_parse("7d", &s), 0);
	ck_assert_int_eq(s, 7 * 86400);
	ck_assert_int_eq(mc_duration_parse("1h30m", &s), 0);
	ck_assert_int_eq(s, 5400);
}
END_TEST

START_TEST(duration_rejects_garbage)
{
	long s = 42;

	ck_assert_int_eq(mc_duration_parse("", &s), -EINVAL);
	ck_assert_int_eq(mc_duration_parse("h", &s), -EINVAL);
	ck_assert_int_eq(mc_duration_parse("-5s", &s), -EINVAL);
	ck_assert_int_eq(mc_duration_parse("5x", &s), -EINVAL);
	ck_assert_int_eq(mc_duration_parse("1h30", &s), -EINVAL);
	ck_assert_int_eq(mc_duration_parse("99999999999999999999d", &s), -EINVAL);
	ck_assert_int_eq(s, 42);
}
END_TEST

START_TEST(buf_respects_maximum)
{
	struct mc_buf b;

	mc_buf_init(&b, 8);
	ck_assert_int_eq(mc_buf_puts(&b, "12345678"), 0);
	ck_assert_int_eq(mc_buf_puts(&b, "9"), -E2BIG);
	ck_assert_str_eq(b.data, "12345678");
	ck_assert_uint_eq(b.len, 8);
	mc_buf_free(&b);
	mc_buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(mc_buf_printf(&b, "%d,", i), 0);
	ck_assert_uint_eq(strlen(b.data), b.len);
	mc_buf_free(&b);
}
END_TEST

START_TEST(file_write_is_atomic_with_mode)
{
	char *dir = t_tmpdir();
	char *p = mc_xasprintf("%s/a/b/key.pem", dir);
	char *sub = mc_xasprintf("%s/a/b", dir);
	char err[MC_ERRLEN];
	struct stat st;
	char *data;

	ck_assert_int_eq(mc_mkdir_p(sub, 0755, err, sizeof(err)), 0);
	umask(0);
	ck_assert_int_eq(mc_file_write(p, "secret", 6, 0600, err, sizeof(err)), 0);
	umask(022);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	data = t_read(p);
	ck_assert_str_eq(data, "secret");
	free(data);
	/* A failing read names the file. */
	ck_assert_int_lt(mc_file_read("/nonexistent/x.json", 100, &data, NULL, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.json"));
	ck_assert_int_eq(mc_rm_rf(dir), 0);
	ck_assert_int_ne(access(dir, F_OK), 0);
	free(p);
	free(sub);
	free(dir);
}
END_TEST

START_TEST(rm_rf_does_not_follow_links)
{
	char *dir = t_tmpdir();
	char *keep = t_tmpdir();
	char *kept = t_write(keep, "kept", "x");
	char *link = mc_xasprintf("%s/link", dir);

	ck_assert_int_eq(symlink(keep, link), 0);
	ck_assert_int_eq(mc_rm_rf(dir), 0);
	ck_assert_int_eq(access(kept, F_OK), 0);
	mc_rm_rf(keep);
	free(kept);
	free(link);
	free(dir);
	free(keep);
}
END_TEST

START_TEST(glob_matches_spiffe_patterns)
{
	ck_assert(mc_glob_match("spiffe://cluster.local/ns/*/sa/httpbin", "spiffe://cluster.local/ns/foo/sa/httpbin"));
	ck_assert(!mc_glob_match("spiffe://cluster.local/ns/*/sa/httpbin", "spiffe://cluster.local/ns/foo/sa/sleep"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_test(tc, duration_parses_units);
	tcase_add_test(tc, duration_rejects_garbage);
	tcase_add_test(tc, buf_respects_maximum);
	tcase_add_test(tc, file_write_is_atomic_with_mode);
	tcase_add_test(tc, rm_rf_does_not_follow_links);
	tcase_add_test(tc, glob_matches_spiffe_patterns);
	suite_add_tcase(s, tc);
	return t_main(s);
}
