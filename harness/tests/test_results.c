/*
 * Unit tests of the results model: counts, exit codes, ownership.
 */
#include "results.h"
#include "testutil.h"

START_TEST(counts_and_exit_code)
{
	struct mc_run *run = mc_run_new("r1", "local");
	struct mc_suite *s = mc_run_add_suite(run, "trust", "suites/trust.json");
	struct mc_case *a = mc_suite_add_case(s, "a", "chain");
	struct mc_case *b = mc_suite_add_case(s, "b", "chain");
	struct mc_case *c = mc_suite_add_case(s, "c", "chain");
	struct mc_counts k;

	/* A new case is an error until it is run: never a silent pass. */
	ck_assert_int_eq(a->status, MC_RESULT_ERROR);
	ck_assert_str_eq(a->reason, "not run");
	mc_case_set(a, MC_RESULT_PASS, NULL);
	ck_assert_ptr_null(a->reason);
	mc_case_set(b, MC_RESULT_SKIP, "needs %s", "CAP_NET_RAW");
	ck_assert_str_eq(b->reason, "needs CAP_NET_RAW");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	k = mc_run_counts(run);
	ck_assert_uint_eq(k.total, 3);
	ck_assert_uint_eq(k.passed, 2);
	ck_assert_uint_eq(k.skipped, 1);
	ck_assert_int_eq(mc_run_exit_code(run), 0);

	mc_case_set(c, MC_RESULT_FAIL, "expected %d, saw %d", 200, 403);
	ck_assert_int_eq(mc_run_exit_code(run), 1);
	k = mc_suite_counts(s);
	ck_assert_uint_eq(k.failed, 1);
	mc_case_set(c, MC_RESULT_ERROR, "could not connect");
	ck_assert_int_eq(mc_run_exit_code(run), 1);
	mc_run_free(run);
}
END_TEST

START_TEST(abort_keeps_first_reason)
{
	struct mc_run *run = mc_run_new("r2", "local");

	ck_assert_int_eq(mc_run_exit_code(run), 0);
	mc_run_abort(run, "bad suite %s", "x.json");
	mc_run_abort(run, "later consequence");
	ck_assert_str_eq(run->aborted, "bad suite x.json");
	ck_assert_int_eq(mc_run_exit_code(run), 2);
	mc_run_free(run);
	mc_run_free(NULL);
}
END_TEST

START_TEST(measures_evidence_props)
{
	struct mc_run *run = mc_run_new("r3", "local");
	struct mc_suite *s = mc_run_add_suite(run, "s", NULL);
	struct mc_case *c = mc_suite_add_case(s, "c", "chain");

	mc_case_add_measure(c, "latency p99", 0.012, "s");
	mc_case_add_measure(c, "certificates", 3, NULL);
	mc_case_add_evidence(c, "peer chain", "evidence/s/c/chain.pem");
	mc_case_set_expected(c, "expected text");
	mc_case_set_seen(c, "seen text");
	mc_case_set_seen(c, "seen again");
	mc_run_set_prop(run, "k", "v1");
	mc_run_set_prop(run, "k", "v2");
	mc_suite_set_prop(s, "target", "local");
	ck_assert_uint_eq(c->n_measures, 2);
	ck_assert_ptr_null(c->measures[1].unit);
	ck_assert_str_eq(c->evidence[0].path, "evidence/s/c/chain.pem");
	ck_assert_str_eq(c->seen, "seen again");
	ck_assert_uint_eq(run->n_props, 1);
	ck_assert_str_eq(run->props[0].value, "v2");
	ck_assert_str_eq(mc_status_name(MC_RESULT_SKIP), "skip");
	mc_run_free(run);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("results");
	TCase *tc = tcase_create("model");

	tcase_add_test(tc, counts_and_exit_code);
	tcase_add_test(tc, abort_keeps_first_reason);
	tcase_add_test(tc, measures_evidence_props);
	suite_add_tcase(s, tc);
	return t_main(s);
}
