/*
 * Unit tests of traffic/stats.c against known values (textbook tables, R's
 * binom.test examples, high-precision mpmath results) and against a
 * brute-force reference computed here.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "testutil.h"
#include "traffic/stats.h"

/* Asserts |got - want| <= rel * |want|. */
#define assert_rel(got, want, rel) do { \
	double g_ = (got), w_ = (want); \
	ck_assert_msg(fabs(g_ - w_) <= (rel) * fabs(w_), "%s = %.17g, want %.17g (rel %g)", \
		      #got, g_, w_, (double)(rel)); \
} while (0)

/* The definition, summed term by term in long double: the reference for small n. */
static double
binom_brute(int k, int n, double p)
{
	long double pk, s = 0.0L;
	long double pmf[201];

	for (int i = 0; i <= n; i++) {
		long double c = 1.0L;

		for (int j = 0; j < i; j++)
			c = c * (long double)(n - j) / (long double)(j + 1);
		pmf[i] = c * powl(p, i) * powl(1.0L - p, n - i);
	}
	pk = pmf[k];
	for (int i = 0; i <= n; i++)
		if (pmf[i] <= pk * (1.0L + 1e-7L))
			s += pmf[i];
	return s > 1.0L ? 1.0 : (double)s;
}

START_TEST(binom_known_values)
{
	assert_rel(mc_binom_test(7, 10, 0.5), 0.34375, 1e-12);
	assert_rel(mc_binom_test(3, 10, 0.5), 0.34375, 1e-12);
	/* 2 * 0.5^20 */
	assert_rel(mc_binom_test(0, 20, 0.5), 1.9073486328125e-6, 1e-12);
	assert_rel(mc_binom_test(20, 20, 0.5), 1.9073486328125e-6, 1e-12);
	ck_assert(mc_binom_test(50, 100, 0.5) == 1.0);
	/* R: binom.test(682, 925, p = 3/4) gives p-value = 0.3825. */
	assert_rel(mc_binom_test(682, 925, 0.75), 0.38249155957485168, 1e-9);
	/* mpmath, 40 digits. */
	assert_rel(mc_binom_test(2, 10, 0.3), 0.733172068, 1e-9);
	assert_rel(mc_binom_test(9, 20, 0.2), 0.0099817863207242994, 1e-9);
	ck_assert(mc_binom_test(0, 50, 0.01) == 1.0);
	ck_assert(mc_binom_test(0, 0, 0.3) == 1.0);
}
END_TEST

START_TEST(binom_matches_brute_force)
{
	static const double ps[] = { 0.5, 0.3, 0.1, 0.01, 0.9, 0.75, 1.0 / 3.0 };
	static const int ns[] = { 1, 2, 5, 10, 17, 50, 99, 200 };

	for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
		for (size_t b = 0; b < sizeof(ps) / sizeof(ps[0]); b++) {
			for (int k = 0; k <= ns[a]; k++) {
				double got = mc_binom_test(k, ns[a], ps[b]);
				double want = binom_brute(k, ns[a], ps[b]);

				ck_assert_msg(fabs(got - want) <= 1e-9 * want + 1e-300,
					      "binom_test(%d, %d, %g) = %.17g, want %.17g",
					      k, ns[a], ps[b], got, want);
			}
		}
	}
}
END_TEST

/* n up to 10^7 (reference values from mpmath, summed exactly). */
START_TEST(binom_large_n)
{
	double t0 = mc_monotonic();

	assert_rel(mc_binom_test(5005000, 10000000, 0.5), 0.0015671019056953985, 1e-6);
	assert_rel(mc_binom_test(4995000, 10000000, 0.5), 0.0015671019056953985, 1e-6);
	assert_rel(mc_binom_test(5003000, 10000000, 0.5), 0.057821285315837547, 1e-6);
	ck_assert(mc_binom_test(5000000, 10000000, 0.5) == 1.0);
	/* Asymmetric: the two tails start at different distances from the mode. */
	assert_rel(mc_binom_test(100600, 1000000, 0.1), 0.045680287388324596, 1e-6);
	assert_rel(mc_binom_test(99400, 1000000, 0.1), 0.045500157912844598, 1e-6);
	/* 31.6 standard deviations out: about 1e-218, tiny but not 0; and monotone. */
	ck_assert(mc_binom_test(5050000, 10000000, 0.5) > 0.0);
	assert_rel(mc_binom_test(5050000, 10000000, 0.5), 1.7988462425529139e-219, 1e-5);
	ck_assert(mc_binom_test(5020000, 10000000, 0.5) < mc_binom_test(5010000, 10000000, 0.5));
	/* Bisection and bounded tail sums: well under a second even unoptimized. */
	ck_assert_msg(mc_monotonic() - t0 < 5.0, "binom_test too slow: %.2fs", mc_monotonic() - t0);
}
END_TEST

START_TEST(binom_degenerate_and_invalid)
{
	ck_assert(mc_binom_test(0, 10, 0.0) == 1.0);
	ck_assert(mc_binom_test(1, 10, 0.0) == 0.0);
	ck_assert(mc_binom_test(10, 10, 1.0) == 1.0);
	ck_assert(mc_binom_test(9, 10, 1.0) == 0.0);
	ck_assert(isnan(mc_binom_test(11, 10, 0.5)));
	ck_assert(isnan(mc_binom_test(-1, 10, 0.5)));
	ck_assert(isnan(mc_binom_test(1, 10, 1.5)));
	ck_assert(isnan(mc_binom_test(1, 10, NAN)));
}
END_TEST

START_TEST(chi2_sf_known_values)
{
	/* Table critical values at 5%, and mpmath for the exact tails. */
	assert_rel(mc_chi2_sf(3.841, 1), 0.050013683763956699, 1e-10);
	assert_rel(mc_chi2_sf(5.991, 2), 0.050011615026579090, 1e-10);
	assert_rel(mc_chi2_sf(18.307, 10), 0.050000589091398120, 1e-10);
	assert_rel(mc_chi2_sf(124.342, 100), 0.050000715769971768, 1e-9);
	assert_rel(mc_chi2_sf(0.5, 3), 0.91889141165467586, 1e-10);
	assert_rel(mc_chi2_sf(0.001, 1), 0.97477287936996039, 1e-10);
	assert_rel(mc_chi2_sf(200, 1), 2.0884875837625448e-45, 1e-9);
	assert_rel(mc_chi2_sf(1000, 500), 1.2085183611329767e-35, 1e-8);
	for (int k = 1; k <= 50; k++) {
		ck_assert(mc_chi2_sf(0, k) == 1.0);
		ck_assert(mc_chi2_sf(-3, k) == 1.0);
		ck_assert(mc_chi2_sf(INFINITY, k) == 0.0);
	}
	ck_assert(isnan(mc_chi2_sf(1.0, 0)));
	ck_assert(isnan(mc_chi2_sf(NAN, 3)));
}
END_TEST

/* Closed forms: df 1 is erfc(sqrt(x/2)), df 2 is exp(-x/2); both branches of the gamma code. */
START_TEST(chi2_sf_closed_forms)
{
	for (double x = 0.01; x < 300.0; x *= 1.1) {
		assert_rel(mc_chi2_sf(x, 1), erfc(sqrt(x / 2.0)), 1e-10);
		assert_rel(mc_chi2_sf(x, 2), exp(-x / 2.0), 1e-10);
		/* df 4: exp(-x/2) (1 + x/2). */
		assert_rel(mc_chi2_sf(x, 4), exp(-x / 2.0) * (1.0 + x / 2.0), 1e-10);
	}
}
END_TEST

START_TEST(chi2_test_splits)
{
	const double half[] = { 0.5, 0.5 };
	const double thirds[] = { 1.0 / 3, 1.0 / 3, 1.0 / 3 };
	const double canary[] = { 90, 10 };     /* weights, normalized */
	const double only_a[] = { 1.0, 0.0 };
	int64_t all_one[] = { 200, 0 }, balanced[] = { 100, 100 }, near[] = { 101, 99 };
	int64_t tri[] = { 30, 40, 50 }, cn[] = { 880, 120 }, leak[] = { 10, 5 }, none[] = { 0, 0 };
	double chi2 = -1, p;
	int df = -1;

	/* Every request to one side of a 50/50 split. */
	p = mc_chi2_test(all_one, half, 2, &chi2, &df);
	ck_assert(p < 1e-40);
	ck_assert(p > 0.0);
	ck_assert_double_eq_tol(chi2, 200.0, 1e-9);
	ck_assert_int_eq(df, 1);

	p = mc_chi2_test(balanced, half, 2, &chi2, &df);
	ck_assert(p == 1.0);
	ck_assert(chi2 == 0.0);
	p = mc_chi2_test(near, half, 2, NULL, NULL);
	ck_assert(p > 0.8);
	assert_rel(p, erfc(sqrt(0.02 / 2.0)), 1e-10);

	/* chi2 = (100 + 0 + 100) / 40 = 5, df 2: p = exp(-2.5). */
	p = mc_chi2_test(tri, thirds, 3, &chi2, &df);
	ck_assert_double_eq_tol(chi2, 5.0, 1e-9);
	ck_assert_int_eq(df, 2);
	assert_rel(p, exp(-2.5), 1e-10);

	/* 90/10 as weights: expected 900/100, chi2 = 400/900 + 400/100. */
	p = mc_chi2_test(cn, canary, 2, &chi2, &df);
	ck_assert_double_eq_tol(chi2, 400.0 / 900 + 4.0, 1e-9);
	assert_rel(p, erfc(sqrt(chi2 / 2.0)), 1e-10);

	/* A request where the share is 0 is impossible under the hypothesis. */
	p = mc_chi2_test(leak, only_a, 2, &chi2, &df);
	ck_assert(p == 0.0);
	ck_assert(isinf(chi2));

	/* No requests: nothing contradicts the shares. */
	ck_assert(mc_chi2_test(none, half, 2, NULL, NULL) == 1.0);
	ck_assert(isnan(mc_chi2_test(balanced, half, 0, NULL, NULL)));
}
END_TEST

START_TEST(sample_size_formula)
{
	const double half[] = { 0.5, 0.5 }, skew[] = { 0.9, 0.1 };
	const double tri[] = { 0.25, 0.5, 0.25 }, one[] = { 1.0 };
	/* z = qnorm(1 - 0.001 / 4) = 3.4807564043462128 (mpmath): 302.89 -> 303. */
	const double z = 3.4807564043462128;

	ck_assert_int_eq(mc_sample_size(half, 2, 0.1, 0.001), (int64_t)ceil(z * z * 0.25 / 0.01));
	ck_assert_int_eq(mc_sample_size(half, 2, 0.1, 0.001), 303);
	/* z = 2.2414027276049454 for 1 - 0.05 / 4: 180.86 -> 181 (worst share 0.9 * 0.1). */
	ck_assert_int_eq(mc_sample_size(skew, 2, 0.05, 0.05), 181);
	/* z = 2.9351994688667059 for 1 - 0.01 / 6: 5384.6 -> 5385 (worst share 0.5). */
	ck_assert_int_eq(mc_sample_size(tri, 3, 0.02, 0.01), 5385);
	/* The floor of 10 per share. */
	ck_assert_int_eq(mc_sample_size(half, 2, 0.5, 0.05), 20);
	ck_assert_int_eq(mc_sample_size(one, 1, 0.01, 0.01), 10);
}
END_TEST

START_TEST(sample_size_is_monotone)
{
	const double half[] = { 0.5, 0.5 };
	static const double tols[] = { 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001 };
	static const double alphas[] = { 0.2, 0.05, 0.01, 0.001, 1e-6, 1e-12 };
	int64_t prev = 0, n;

	for (size_t i = 0; i < sizeof(tols) / sizeof(tols[0]); i++) {
		n = mc_sample_size(half, 2, tols[i], 0.001);
		ck_assert_msg(n > prev, "tolerance %g: %lld after %lld", tols[i], (long long)n, (long long)prev);
		prev = n;
	}
	prev = 0;
	for (size_t i = 0; i < sizeof(alphas) / sizeof(alphas[0]); i++) {
		n = mc_sample_size(half, 2, 0.05, alphas[i]);
		ck_assert_msg(n > prev, "alpha %g: %lld after %lld", alphas[i], (long long)n, (long long)prev);
		prev = n;
	}
	ck_assert_int_eq(mc_sample_size(half, 2, 0.0, 0.05), -EINVAL);
	ck_assert_int_eq(mc_sample_size(half, 2, 0.1, 0.0), -EINVAL);
	ck_assert_int_eq(mc_sample_size(half, 2, 0.1, 1.0), -EINVAL);
	ck_assert_int_eq(mc_sample_size(half, 0, 0.1, 0.05), -EINVAL);
	ck_assert_int_eq(mc_sample_size(half, 2, 1e-12, 1e-12), INT64_MAX);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, binom_known_values);
	tcase_add_test(tc, binom_matches_brute_force);
	tcase_add_test(tc, binom_large_n);
	tcase_add_test(tc, binom_degenerate_and_invalid);
	tcase_add_test(tc, chi2_sf_known_values);
	tcase_add_test(tc, chi2_sf_closed_forms);
	tcase_add_test(tc, chi2_test_splits);
	tcase_add_test(tc, sample_size_formula);
	tcase_add_test(tc, sample_size_is_monotone);
	suite_add_tcase(s, tc);
	return t_main(s);
}
