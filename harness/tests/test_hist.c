/*
 * Unit tests of traffic/hist.c: bucket precision over the whole range,
 * percentiles, exact max, merging, JSON round trips and rejection of bad
 * JSON, fixed memory, clamping.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "testutil.h"
#include "traffic/hist.h"

#define SIXTY_S_US 60000000LL

/* A small deterministic generator (splitmix64), so failures reproduce. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A latency-like value: log-uniform over 1..max. */
static int64_t
rnd_latency(uint64_t *s, int64_t max)
{
	double u = (double)(rnd(s) >> 11) / 9007199254740992.0;

	return (int64_t)exp(u * log((double)max));
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Asserts that a and b hold the same buckets and the same summary. */
static void
assert_same(const struct mc_hist *a, const struct mc_hist *b)
{
	size_t ca = 0, cb = 0;
	int64_t la, ha, na, lb, hb, nb;
	bool ma, mb;
	static const double ps[] = { 0, 1, 10, 50, 90, 99, 99.9, 99.99, 100 };

	for (;;) {
		ma = mc_hist_next(a, &ca, &la, &ha, &na);
		mb = mc_hist_next(b, &cb, &lb, &hb, &nb);
		ck_assert(ma == mb);
		if (!ma)
			break;
		ck_assert_int_eq(la, lb);
		ck_assert_int_eq(ha, hb);
		ck_assert_int_eq(na, nb);
	}
	ck_assert_int_eq(mc_hist_count(a), mc_hist_count(b));
	ck_assert_int_eq(mc_hist_clamped(a), mc_hist_clamped(b));
	ck_assert_int_eq(mc_hist_min(a), mc_hist_min(b));
	ck_assert_int_eq(mc_hist_max(a), mc_hist_max(b));
	ck_assert(mc_hist_mean(a) == mc_hist_mean(b));
	ck_assert(mc_hist_stddev(a) == mc_hist_stddev(b));
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		ck_assert_int_eq(mc_hist_percentile(a, ps[i]), mc_hist_percentile(b, ps[i]));
}

/*
 * Records a sweep of values over 1..10^9 (every value up to 70,000, every
 * power of two and its neighbours, the 1024 * 2^b bucket edges, a geometric
 * sweep and random values), then walks the buckets and the sorted values
 * together: every value must fall in a bucket that contains it, every
 * bucket's count must be the number of values in its range (so no value
 * landed elsewhere), and the width must be at most value/1024 + 1.
 */
START_TEST(every_value_lands_in_a_tight_bucket)
{
	const int64_t top = 1000000000;
	struct mc_hist *h = mc_hist_new(top);
	size_t nv = 0, cap = 400000, cur = 0, vi = 0;
	int64_t *vals = mc_xmalloc(cap * sizeof(*vals));
	int64_t lo, hi, n, prev_hi = -1, buckets = 0;
	uint64_t seed = 42;

	for (int64_t v = 1; v <= 70000; v++)
		vals[nv++] = v;
	for (int s = 0; s < 30; s++) {
		for (int64_t d = -2; d <= 2; d++) {
			int64_t p2 = ((int64_t)1 << s) + d, edge = ((int64_t)1024 << s) + d;

			if (p2 >= 1 && p2 <= top)
				vals[nv++] = p2;
			if (edge >= 1 && edge <= top)
				vals[nv++] = edge;
		}
	}
	for (double v = 1.0; v <= (double)top; v = v * 1.0007 + 1.0)
		vals[nv++] = (int64_t)v;
	for (int i = 0; i < 100000; i++)
		vals[nv++] = 1 + (int64_t)(rnd(&seed) % (uint64_t)top);
	vals[nv++] = top;
	ck_assert_uint_le(nv, cap);
	for (size_t i = 0; i < nv; i++)
		mc_hist_record(h, vals[i]);
	qsort(vals, nv, sizeof(*vals), cmp_i64);

	while (mc_hist_next(h, &cur, &lo, &hi, &n)) {
		int64_t in = 0;

		buckets++;
		ck_assert_int_gt(lo, prev_hi);  /* increasing, disjoint */
		prev_hi = hi;
		ck_assert_msg(vi < nv && vals[vi] >= lo, "bucket [%lld, %lld] holds no recorded value",
			      (long long)lo, (long long)hi);
		while (vi < nv && vals[vi] <= hi) {
			ck_assert_msg(hi - lo + 1 <= vals[vi] / 1024 + 1,
				      "value %lld in bucket [%lld, %lld] of width %lld",
				      (long long)vals[vi], (long long)lo, (long long)hi, (long long)(hi - lo + 1));
			in++;
			vi++;
		}
		ck_assert_msg(in == n, "bucket [%lld, %lld] counts %lld, expected %lld",
			      (long long)lo, (long long)hi, (long long)n, (long long)in);
	}
	ck_assert_uint_eq(vi, nv);
	ck_assert_int_gt(buckets, 20000);	/* 2048 of width 1, 1024 per power of two after */
	ck_assert_int_eq(mc_hist_count(h), (int64_t)nv);
	ck_assert_int_eq(mc_hist_clamped(h), 0);
	free(vals);
	mc_hist_free(h);
}
END_TEST

/* The relative error stays below 1/1024 for single values across the full int64 range. */
START_TEST(single_values_report_exactly)
{
	struct mc_hist *h = mc_hist_new(INT64_MAX);
	int64_t lo, hi, n;
	size_t cur;

	for (int s = 0; s < 63; s++) {
		int64_t vs[] = { ((int64_t)1 << s), ((int64_t)1 << s) + ((int64_t)1 << s) / 3,
				 s == 62 ? INT64_MAX : ((int64_t)1 << (s + 1)) - 1 };

		for (size_t i = 0; i < 3; i++) {
			int64_t v = vs[i];

			mc_hist_reset(h);
			mc_hist_record(h, v);
			cur = 0;
			ck_assert(mc_hist_next(h, &cur, &lo, &hi, &n));
			ck_assert_int_le(lo, v);
			ck_assert_int_ge(hi, v);
			ck_assert_int_le(hi - lo, v / 1024);
			ck_assert_int_eq(n, 1);
			ck_assert(!mc_hist_next(h, &cur, &lo, &hi, &n));
			/* min, max and every percentile are exact for one value. */
			ck_assert_int_eq(mc_hist_min(h), v);
			ck_assert_int_eq(mc_hist_max(h), v);
			ck_assert_int_eq(mc_hist_percentile(h, 50), v);
			ck_assert_int_eq(mc_hist_percentile(h, 100), v);
		}
	}
	mc_hist_free(h);
}
END_TEST

START_TEST(percentiles_of_uniform_data)
{
	static const double ps[] = { 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100 };
	struct mc_hist *h = mc_hist_new(SIXTY_S_US);
	const int64_t N = 100000;

	for (int64_t v = N; v >= 1; v--)
		mc_hist_record(h, v);
	ck_assert_int_eq(mc_hist_count(h), N);
	ck_assert_int_eq(mc_hist_min(h), 1);
	ck_assert_int_eq(mc_hist_max(h), N);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		/* The exact percentile of 1..N is the rank itself. */
		int64_t want = (int64_t)llround(ps[i] / 100.0 * (double)N);
		int64_t got = mc_hist_percentile(h, ps[i]);

		ck_assert_msg(got >= want && (double)(got - want) <= 0.001 * (double)want,
			      "p%g = %lld, want %lld within 0.1%%", ps[i], (long long)got, (long long)want);
	}
	ck_assert_int_eq(mc_hist_percentile(h, 100), N);
	ck_assert_int_eq(mc_hist_percentile(h, 250), N);
	/* rank 1: the smallest value, which sits in a width-1 bucket. */
	ck_assert_int_eq(mc_hist_percentile(h, 0), 1);
	ck_assert_double_eq_tol(mc_hist_mean(h), 50000.5, 50000.5 * 0.001);
	/* Population stddev of 1..N: sqrt((N^2 - 1) / 12). */
	ck_assert_double_eq_tol(mc_hist_stddev(h), sqrt(((double)N * (double)N - 1) / 12.0), 28.9);
	mc_hist_free(h);
}
END_TEST

/* The 99.9th of 1000 values is the 999th, not the 1000th (floating point must not round it up). */
START_TEST(percentile_rank_is_not_rounded_up)
{
	struct mc_hist *h = mc_hist_new(SIXTY_S_US);

	for (int64_t v = 1; v <= 1000; v++)
		mc_hist_record(h, v);
	ck_assert_int_eq(mc_hist_percentile(h, 99.9), 999);
	ck_assert_int_eq(mc_hist_percentile(h, 50), 500);
	ck_assert_int_eq(mc_hist_percentile(h, 0.1), 1);
	ck_assert_int_eq(mc_hist_percentile(h, 0.11), 2);
	mc_hist_free(h);
}
END_TEST

START_TEST(max_and_min_are_exact)
{
	struct mc_hist *h = mc_hist_new(SIXTY_S_US);

	mc_hist_record(h, 123457);
	mc_hist_record(h, 54321987);
	mc_hist_record(h, 3000001);
	ck_assert_int_eq(mc_hist_min(h), 123457);
	ck_assert_int_eq(mc_hist_max(h), 54321987);
	/* The top bucket is 32768 wide, but the answer is capped at the exact max. */
	ck_assert_int_eq(mc_hist_percentile(h, 100), 54321987);
	ck_assert_int_eq(mc_hist_percentile(h, 99), 54321987);
	ck_assert_int_ge(mc_hist_percentile(h, 50), 3000001);
	ck_assert_int_le(mc_hist_percentile(h, 50), 3000001 + 3000001 / 1024);
	mc_hist_free(h);
}
END_TEST

START_TEST(empty_histogram)
{
	struct mc_hist *h = mc_hist_new(SIXTY_S_US), *r;
	char err[MC_ERRLEN] = "";
	int64_t lo, hi, n;
	size_t cur = 0;
	cJSON *j;

	ck_assert_ptr_null(mc_hist_new(0));
	ck_assert_ptr_null(mc_hist_new(-5));
	mc_hist_free(NULL);
	ck_assert_int_eq(mc_hist_count(h), 0);
	ck_assert_int_eq(mc_hist_min(h), 0);
	ck_assert_int_eq(mc_hist_max(h), 0);
	ck_assert_int_eq(mc_hist_percentile(h, 50), 0);
	ck_assert(mc_hist_mean(h) == 0.0);
	ck_assert(mc_hist_stddev(h) == 0.0);
	ck_assert(!mc_hist_next(h, &cur, &lo, &hi, &n));
	j = mc_hist_to_json(h, "us");
	r = mc_hist_from_json(j, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	assert_same(h, r);
	cJSON_Delete(j);
	mc_hist_free(r);
	/* A reset histogram is empty again. */
	mc_hist_record(h, 77);
	mc_hist_reset(h);
	ck_assert_int_eq(mc_hist_count(h), 0);
	ck_assert_int_eq(mc_hist_max(h), 0);
	cur = 0;
	ck_assert(!mc_hist_next(h, &cur, &lo, &hi, &n));
	mc_hist_free(h);
}
END_TEST

START_TEST(record_n_equals_repeated_records)
{
	struct mc_hist *a = mc_hist_new(SIXTY_S_US), *b = mc_hist_new(SIXTY_S_US);

	for (int i = 0; i < 5; i++)
		mc_hist_record(a, 4567);
	mc_hist_record(a, 0);
	mc_hist_record_n(b, 4567, 5);
	mc_hist_record_n(b, -3, 1);     /* negative counts as 0 */
	mc_hist_record_n(b, 99, 0);     /* ignored */
	mc_hist_record_n(b, 99, -4);    /* ignored */
	assert_same(a, b);
	ck_assert_int_eq(mc_hist_min(b), 0);
	ck_assert_int_eq(mc_hist_count(b), 6);
	mc_hist_free(a);
	mc_hist_free(b);
}
END_TEST

START_TEST(merge_of_halves_equals_whole)
{
	struct mc_hist *whole = mc_hist_new(SIXTY_S_US);
	struct mc_hist *a = mc_hist_new(SIXTY_S_US), *b = mc_hist_new(SIXTY_S_US);
	struct mc_hist *other = mc_hist_new(1000000);
	uint64_t seed = 7;

	for (int i = 0; i < 200000; i++) {
		int64_t v = rnd_latency(&seed, 2 * SIXTY_S_US);  /* some clamped */

		mc_hist_record(whole, v);
		mc_hist_record(i % 3 == 0 ? a : b, v);
	}
	ck_assert_int_gt(mc_hist_clamped(whole), 0);
	ck_assert_int_eq(mc_hist_merge(a, b), 0);
	assert_same(a, whole);
	/* Merging an empty histogram changes nothing. */
	mc_hist_reset(b);
	ck_assert_int_eq(mc_hist_merge(a, b), 0);
	assert_same(a, whole);
	/* Different ranges do not merge, and the destination is untouched. */
	mc_hist_record(other, 5);
	ck_assert_int_eq(mc_hist_merge(a, other), -EINVAL);
	assert_same(a, whole);
	mc_hist_free(whole);
	mc_hist_free(a);
	mc_hist_free(b);
	mc_hist_free(other);
}
END_TEST

START_TEST(json_round_trip)
{
	struct mc_hist *h = mc_hist_new(SIXTY_S_US), *r;
	char err[MC_ERRLEN] = "";
	uint64_t seed = 99;
	cJSON *j, *parsed, *p;
	char *text;

	for (int i = 0; i < 50000; i++)
		mc_hist_record(h, rnd_latency(&seed, 3 * SIXTY_S_US));
	j = mc_hist_to_json(h, "us");
	ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "unit")->valuestring, "us");
	ck_assert(cJSON_GetObjectItemCaseSensitive(j, "count")->valuedouble == 50000.0);
	ck_assert(cJSON_GetObjectItemCaseSensitive(j, "highest")->valuedouble == (double)SIXTY_S_US);
	ck_assert(cJSON_GetObjectItemCaseSensitive(j, "max")->valuedouble == (double)mc_hist_max(h));
	ck_assert(cJSON_GetObjectItemCaseSensitive(j, "mean")->valuedouble == mc_hist_mean(h));
	p = cJSON_GetObjectItemCaseSensitive(j, "percentiles");
	ck_assert(cJSON_GetObjectItemCaseSensitive(p, "50")->valuedouble == (double)mc_hist_percentile(h, 50));
	ck_assert(cJSON_GetObjectItemCaseSensitive(p, "99.9")->valuedouble == (double)mc_hist_percentile(h, 99.9));
	ck_assert(cJSON_GetObjectItemCaseSensitive(p, "100")->valuedouble == (double)mc_hist_percentile(h, 100));
	ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(p, "90"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(p, "99"));

	/* Through text, as a report file would go. */
	text = cJSON_PrintUnformatted(j);
	parsed = cJSON_Parse(text);
	ck_assert_ptr_nonnull(parsed);
	r = mc_hist_from_json(parsed, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	assert_same(h, r);
	ck_assert_uint_eq(mc_hist_memory(h), mc_hist_memory(r));
	/* The rebuilt histogram merges with the original. */
	ck_assert_int_eq(mc_hist_merge(r, h), 0);
	ck_assert_int_eq(mc_hist_count(r), 100000);
	free(text);
	cJSON_Delete(parsed);
	cJSON_Delete(j);
	mc_hist_free(r);
	mc_hist_free(h);
}
END_TEST

/* from_json on text must fail and its message must contain want. */
static void
assert_rejected(const char *text, const char *want)
{
	char err[MC_ERRLEN] = "";
	cJSON *j = cJSON_Parse(text);
	struct mc_hist *h;

	ck_assert_msg(j != NULL, "test JSON does not parse: %s", text);
	h = mc_hist_from_json(j, err, sizeof(err));
	ck_assert_msg(h == NULL, "accepted: %s", text);
	ck_assert_msg(strstr(err, want) != NULL, "for %s: message \"%s\" lacks \"%s\"", text, err, want);
	cJSON_Delete(j);
}

START_TEST(json_rejects_bad_input)
{
	char err[MC_ERRLEN] = "";
	struct mc_hist *h;
	cJSON *j;

	/* The reference: a valid object (2048 starts a width-2 bucket). */
	j = cJSON_Parse("{\"highest\":1000000,\"count\":3,\"min\":5,\"max\":2049,"
			"\"buckets\":[[5,5,2],[2048,2049,1]]}");
	h = mc_hist_from_json(j, err, sizeof(err));
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_eq(mc_hist_count(h), 3);
	ck_assert_int_eq(mc_hist_percentile(h, 50), 5);
	mc_hist_free(h);
	cJSON_Delete(j);
	ck_assert_ptr_null(mc_hist_from_json(NULL, err, sizeof(err)));

	assert_rejected("[1,2,3]", "not an object");
	assert_rejected("{\"count\":3,\"min\":5,\"max\":2049,\"buckets\":[[5,5,2],[2048,2049,1]]}",
			"missing \"highest\"");
	assert_rejected("{\"highest\":1000000,\"min\":5,\"max\":2049,\"buckets\":[[5,5,2],[2048,2049,1]]}",
			"missing \"count\"");
	assert_rejected("{\"highest\":1000000,\"count\":3,\"min\":5,\"max\":2049}", "missing \"buckets\"");
	assert_rejected("{\"highest\":1000000,\"count\":3,\"min\":5,\"max\":2049,\"buckets\":{}}",
			"not an array");
	assert_rejected("{\"highest\":0,\"count\":0,\"min\":0,\"max\":0,\"buckets\":[]}", "highest");
	assert_rejected("{\"highest\":\"big\",\"count\":0,\"min\":0,\"max\":0,\"buckets\":[]}", "not a number");
	/* Negative and fractional counts. */
	assert_rejected("{\"highest\":1000000,\"count\":1,\"min\":5,\"max\":2049,"
			"\"buckets\":[[5,5,2],[2048,2049,-1]]}", "negative");
	assert_rejected("{\"highest\":1000000,\"count\":-3,\"min\":5,\"max\":2049,"
			"\"buckets\":[[5,5,2],[2048,2049,1]]}", "negative");
	assert_rejected("{\"highest\":1000000,\"count\":2.5,\"min\":5,\"max\":2049,"
			"\"buckets\":[[5,5,1.5],[2048,2049,1]]}", "whole number");
	/* Buckets out of order, or repeated. */
	assert_rejected("{\"highest\":1000000,\"count\":3,\"min\":5,\"max\":2049,"
			"\"buckets\":[[2048,2049,1],[5,5,2]]}", "out of order");
	assert_rejected("{\"highest\":1000000,\"count\":3,\"min\":5,\"max\":5,"
			"\"buckets\":[[5,5,2],[5,5,1]]}", "out of order");
	/* Ranges that are not buckets of the layout, or beyond highest. */
	assert_rejected("{\"highest\":1000000,\"count\":1,\"min\":2049,\"max\":2049,"
			"\"buckets\":[[2049,2050,1]]}", "not a bucket");
	assert_rejected("{\"highest\":1000000,\"count\":1,\"min\":2048,\"max\":2048,"
			"\"buckets\":[[2048,2048,1]]}", "not a bucket");
	assert_rejected("{\"highest\":1000,\"count\":1,\"min\":2048,\"max\":2048,"
			"\"buckets\":[[2048,2049,1]]}", "above highest");
	assert_rejected("{\"highest\":1000000,\"count\":1,\"min\":5,\"max\":5,"
			"\"buckets\":[[5,5]]}", "[lo, hi, n]");
	assert_rejected("{\"highest\":1000000,\"count\":1,\"min\":5,\"max\":5,"
			"\"buckets\":[[5,5,0]]}", "empty");
	/* Totals and extremes that disagree with the buckets. */
	assert_rejected("{\"highest\":1000000,\"count\":4,\"min\":5,\"max\":2049,"
			"\"buckets\":[[5,5,2],[2048,2049,1]]}", "buckets hold 3");
	assert_rejected("{\"highest\":1000000,\"count\":3,\"min\":6,\"max\":2049,"
			"\"buckets\":[[5,5,2],[2048,2049,1]]}", "do not match");
	assert_rejected("{\"highest\":1000000,\"count\":3,\"min\":5,\"max\":4000,"
			"\"buckets\":[[5,5,2],[2048,2049,1]]}", "do not match");
	assert_rejected("{\"highest\":1000000,\"count\":3,\"clamped\":5,\"min\":5,\"max\":2049,"
			"\"buckets\":[[5,5,2],[2048,2049,1]]}", "exceeds");
	assert_rejected("{\"highest\":1000,\"count\":1,\"clamped\":1,\"min\":1000,\"max\":1000,"
			"\"buckets\":[[1000,1000,1]]}", "clamped");
}
END_TEST

START_TEST(memory_is_fixed_and_small)
{
	struct mc_hist *h = mc_hist_new(SIXTY_S_US);
	struct mc_hist *big = mc_hist_new(INT64_MAX);
	size_t before = mc_hist_memory(h);
	uint64_t seed = 1;

	ck_assert_uint_lt(before, 200 * 1024);
	ck_assert_uint_gt(before, 1024 * 8);    /* it does hold a counter per sub-bucket */
	/* 2^63 in 1024ths: still well under a megabyte. */
	ck_assert_uint_lt(mc_hist_memory(big), 512 * 1024);
	for (int i = 0; i < 1000000; i++)
		mc_hist_record(h, rnd_latency(&seed, 4 * SIXTY_S_US));
	ck_assert_uint_eq(mc_hist_memory(h), before);
	ck_assert_int_eq(mc_hist_count(h), 1000000);
	ck_assert_int_gt(mc_hist_clamped(h), 0);
	mc_hist_free(h);
	mc_hist_free(big);
}
END_TEST

START_TEST(clamping_is_counted)
{
	struct mc_hist *h = mc_hist_new(1000), *r;
	char err[MC_ERRLEN] = "";
	int64_t lo, hi, n;
	size_t cur = 0;
	cJSON *j;

	mc_hist_record(h, 500);
	mc_hist_record(h, 1000);        /* highest itself is not clamped */
	mc_hist_record(h, 1001);
	mc_hist_record_n(h, 5000000, 3);
	ck_assert_int_eq(mc_hist_count(h), 6);
	ck_assert_int_eq(mc_hist_clamped(h), 4);
	/* max stays the true value; the buckets hold the clamped ones at highest. */
	ck_assert_int_eq(mc_hist_max(h), 5000000);
	ck_assert_int_eq(mc_hist_percentile(h, 100), 1000);
	ck_assert(mc_hist_next(h, &cur, &lo, &hi, &n));
	ck_assert_int_eq(lo, 500);
	ck_assert_int_eq(n, 1);
	ck_assert(mc_hist_next(h, &cur, &lo, &hi, &n));
	ck_assert_int_eq(lo, 1000);
	ck_assert_int_eq(hi, 1000);
	ck_assert_int_eq(n, 5);
	ck_assert(!mc_hist_next(h, &cur, &lo, &hi, &n));
	/* The clamped count survives JSON. */
	j = mc_hist_to_json(h, "us");
	r = mc_hist_from_json(j, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	assert_same(h, r);
	cJSON_Delete(j);
	mc_hist_free(r);
	mc_hist_free(h);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("hist");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_value_lands_in_a_tight_bucket);
	tcase_add_test(tc, single_values_report_exactly);
	tcase_add_test(tc, percentiles_of_uniform_data);
	tcase_add_test(tc, percentile_rank_is_not_rounded_up);
	tcase_add_test(tc, max_and_min_are_exact);
	tcase_add_test(tc, empty_histogram);
	tcase_add_test(tc, record_n_equals_repeated_records);
	tcase_add_test(tc, merge_of_halves_equals_whole);
	tcase_add_test(tc, json_round_trip);
	tcase_add_test(tc, json_rejects_bad_input);
	tcase_add_test(tc, memory_is_fixed_and_small);
	tcase_add_test(tc, clamping_is_counted);
	suite_add_tcase(s, tc);
	return t_main(s);
}
