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

/*
 * Checks mc_hist_percentile(h, p) against the exact answer, the sorted
 * sample at rank. hist.h promises the highest value of that sample's
 * sub-bucket, capped at the exact max; a sub-bucket of width 2^b only holds
 * values >= 1024 * 2^b, so the answer is never below the sample and above
 * it by less than sample/1024 (and exact below 2048, where sub-buckets are
 * one wide).
 */
static void
assert_rank(const struct mc_hist *h, const int64_t *sorted, int64_t n, double p, int64_t rank)
{
	int64_t want = sorted[rank - 1], got = mc_hist_percentile(h, p), lo, hi, cnt, top_of = -1;
	size_t cur = 0;

	ck_assert_msg(got >= want && got - want <= want / 1024,
		      "p%g (rank %lld) = %lld, exact %lld: off by more than 1/1024", p, (long long)rank,
		      (long long)got, (long long)want);
	if (want < 2048)
		ck_assert_msg(got == want, "p%g = %lld, exact %lld", p, (long long)got, (long long)want);
	/* The exact promise: the top of want's sub-bucket, or the max if that is lower. */
	while (top_of < 0 && mc_hist_next(h, &cur, &lo, &hi, &cnt))
		if (lo <= want && want <= hi)
			top_of = hi < sorted[n - 1] ? hi : sorted[n - 1];
	ck_assert_msg(got == top_of, "p%g = %lld, the sub-bucket of %lld ends at %lld", p, (long long)got,
		      (long long)want, (long long)top_of);
}

/*
 * Percentiles of latency-like data against the exact answer. 100,000
 * samples: log-uniform over 1 us .. 10 s, one in eight a copy of an earlier
 * sample, and a plateau of 2,000 copies of 250 ms, recorded in a shuffled
 * order; the exact p-th percentile is the sorted sample at rank
 * ceil(p/100 * n), computed here in integers.
 */
START_TEST(percentiles_match_exact_ranks)
{
	/* Percentiles in millionths, so that the ranks are exact integers. */
	static const int64_t ppm[] = {0, 1000, 500000, 750000, 900000, 990000, 999000, 999900, 999990, 1000000};
	const int64_t n = 100000, top = 10000000, plateau = 250000;
	struct mc_hist *h = mc_hist_new(SIXTY_S_US);
	int64_t *vals = mc_xmalloc((size_t)n * sizeof(*vals));
	int64_t *sorted = mc_xmalloc((size_t)n * sizeof(*sorted));
	int64_t first = -1, last = -1;
	double exact_mean = 0;
	uint64_t seed = 2024;

	for (int64_t i = 0; i < n; i++) {
		if (i >= 1000 && i < 3000)
			vals[i] = plateau;
		else if (i > 0 && rnd(&seed) % 8 == 0)
			vals[i] = vals[rnd(&seed) % (uint64_t)i];
		else
			vals[i] = rnd_latency(&seed, top);
	}
	/* Fisher-Yates, so that the plateau and the copies arrive spread out. */
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)(rnd(&seed) % (uint64_t)(i + 1)), t = vals[i];

		vals[i] = vals[j];
		vals[j] = t;
	}
	for (int64_t i = 0; i < n; i++) {
		mc_hist_record(h, vals[i]);
		exact_mean += (double)vals[i];
	}
	exact_mean /= (double)n;
	memcpy(sorted, vals, (size_t)n * sizeof(*sorted));
	qsort(sorted, (size_t)n, sizeof(*sorted), cmp_i64);
	ck_assert_int_eq(mc_hist_count(h), n);
	ck_assert_int_eq(mc_hist_clamped(h), 0);
	ck_assert_int_eq(mc_hist_min(h), sorted[0]);
	ck_assert_int_eq(mc_hist_max(h), sorted[n - 1]);
	ck_assert_int_ge(sorted[n - 1], top / 2);     /* the spread does reach seconds */
	ck_assert_int_le(sorted[0], 2);

	for (size_t i = 0; i < sizeof(ppm) / sizeof(ppm[0]); i++) {
		int64_t rank = (ppm[i] * n + 999999) / 1000000;

		assert_rank(h, sorted, n, (double)ppm[i] / 10000.0, rank < 1 ? 1 : rank);
	}
	/* Ranks on the plateau, and on both of its edges, where duplicates meet distinct values. */
	for (int64_t i = 0; i < n; i++)
		if (sorted[i] == plateau) {
			if (first < 0)
				first = i;
			last = i;
		}
	ck_assert_int_ge(last - first + 1, 2000);
	{
		/* Ranks are 1-based: first + 1 is the plateau's first rank, last + 1 its last. */
		const int64_t ranks[] = {first, first + 1, (first + last) / 2 + 1, last + 1, last + 2};

		for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++)
			assert_rank(h, sorted, n, (double)ranks[i] * 100.0 / (double)n, ranks[i]);
	}
	/* Mean from sub-bucket midpoints: within half a sub-bucket, 1/2048 (hist.c). */
	ck_assert_msg(fabs(mc_hist_mean(h) - exact_mean) <= exact_mean / 2048, "mean %f, exact %f", mc_hist_mean(h),
		      exact_mean);
	free(vals);
	free(sorted);
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
	tcase_add_test(tc, percentiles_match_exact_ranks);
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
