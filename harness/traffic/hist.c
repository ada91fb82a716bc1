/*
 * HDR-style latency histogram.
 *
 * All counts live in one flat array, indexed by idx = (b << 10) + (v >> b)
 * where b = max(0, msb(v) - 10) is the bucket of v:
 *
 *   - bucket 0 holds 0..2047 at a resolution of 1 (idx 0..2047);
 *   - bucket b >= 1 holds [1024 << b, 2048 << b) in 1024 sub-buckets of
 *     width 2^b (idx (b + 1) * 1024 .. (b + 2) * 1024 - 1).
 *
 * The two cases share one formula, so recording is a clz, a shift and an
 * add. A sub-bucket of width 2^b only exists for values >= 1024 * 2^b, hence
 * the relative error of at most 1/1024. The array ends at the sub-bucket of
 * `highest`, so the memory is fixed at creation: about 8 KiB per power of
 * two of range (60 s in microseconds: 17,192 counters, 134 KiB).
 *
 * Values above `highest` are counted in the sub-bucket of `highest` and in
 * `clamped`; min and max keep the values as given (max is exact even for a
 * clamped value, so a report still shows how far off the worst request was).
 *
 * mean and stddev are computed from the sub-bucket midpoints rather than
 * from running sums: they are then a pure function of the counts, so they
 * survive merges and JSON round trips bit for bit, at a relative error of at
 * most 1/2048 (none at all below 2048).
 */
#include "hist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SUB_BITS 10                     /* 1024 sub-buckets per half bucket */
#define SUB_HALF ((int64_t)1 << SUB_BITS)

struct mc_hist {
	int64_t highest;
	int64_t count;          /* all recorded values, clamped ones included */
	int64_t clamped;
	int64_t min;            /* INT64_MAX while empty */
	int64_t max;            /* -1 while empty */
	size_t ncounts;
	int64_t counts[];
};

/* Index of the sub-bucket holding v (0 <= v). */
static inline size_t
index_of(int64_t v)
{
	/* The | keeps clz defined for 0 and folds 0..2047 into bucket 0. */
	int b = 63 - __builtin_clzll((unsigned long long)v | (unsigned long long)(2 * SUB_HALF - 1)) - SUB_BITS;

	return ((size_t)b << SUB_BITS) + (size_t)(v >> b);
}

/* Smallest value of sub-bucket idx. */
static int64_t
lowest_of(size_t idx)
{
	int b = idx < 2 * (size_t)SUB_HALF ? 0 : (int)(idx >> SUB_BITS) - 1;

	return (int64_t)(idx - ((size_t)b << SUB_BITS)) << b;
}

/* Largest value of sub-bucket idx (never overflows: the last one ends at INT64_MAX). */
static int64_t
highest_of(size_t idx)
{
	int b = idx < 2 * (size_t)SUB_HALF ? 0 : (int)(idx >> SUB_BITS) - 1;

	return lowest_of(idx) + (((int64_t)1 << b) - 1);
}

/*
 * Returns a histogram for values 0..highest, or NULL when highest < 1. The
 * caller frees it with mc_hist_free.
 */
struct mc_hist *
mc_hist_new(int64_t highest)
{
	struct mc_hist *h;
	size_t n;

	if (highest < 1)
		return NULL;
	n = index_of(highest) + 1;
	h = mc_xcalloc(1, sizeof(*h) + n * sizeof(h->counts[0]));
	h->highest = highest;
	h->ncounts = n;
	mc_hist_reset(h);
	return h;
}

void
mc_hist_free(struct mc_hist *h)
{
	free(h);
}

void
mc_hist_reset(struct mc_hist *h)
{
	memset(h->counts, 0, h->ncounts * sizeof(h->counts[0]));
	h->count = 0;
	h->clamped = 0;
	h->min = INT64_MAX;
	h->max = -1;
}

void
mc_hist_record_n(struct mc_hist *h, int64_t value, int64_t n)
{
	int64_t v;

	if (n <= 0)
		return;
	if (value < 0)
		value = 0;
	v = value;
	if (v > h->highest) {
		v = h->highest;
		h->clamped += n;
	}
	h->counts[index_of(v)] += n;
	h->count += n;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void
mc_hist_record(struct mc_hist *h, int64_t value)
{
	mc_hist_record_n(h, value, 1);
}

int
mc_hist_merge(struct mc_hist *dst, const struct mc_hist *src)
{
	/* Same highest, same array: sub-bucket i means the same range in both. */
	if (dst->highest != src->highest)
		return -EINVAL;
	for (size_t i = 0; i < src->ncounts; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->clamped += src->clamped;
	if (src->count > 0) {
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
	}
	return 0;
}

int64_t
mc_hist_count(const struct mc_hist *h)
{
	return h->count;
}

int64_t
mc_hist_clamped(const struct mc_hist *h)
{
	return h->clamped;
}

int64_t
mc_hist_min(const struct mc_hist *h)
{
	return h->count > 0 ? h->min : 0;
}

int64_t
mc_hist_max(const struct mc_hist *h)
{
	return h->count > 0 ? h->max : 0;
}

/* Midpoint of sub-bucket idx: the value itself for width 1. */
static double
midpoint_of(size_t idx)
{
	return ((double)lowest_of(idx) + (double)highest_of(idx)) / 2.0;
}

/* Mean of the bucket midpoints, weighted by count (see the top comment). */
double
mc_hist_mean(const struct mc_hist *h)
{
	double sum = 0.0;

	if (h->count == 0)
		return 0.0;
	for (size_t i = 0; i < h->ncounts; i++)
		if (h->counts[i] != 0)
			sum += midpoint_of(i) * (double)h->counts[i];
	return sum / (double)h->count;
}

/* Population standard deviation of the bucket midpoints (two passes, for accuracy). */
double
mc_hist_stddev(const struct mc_hist *h)
{
	double mean, d, sum = 0.0;

	if (h->count == 0)
		return 0.0;
	mean = mc_hist_mean(h);
	for (size_t i = 0; i < h->ncounts; i++) {
		if (h->counts[i] == 0)
			continue;
		d = midpoint_of(i) - mean;
		sum += d * d * (double)h->counts[i];
	}
	return sqrt(sum / (double)h->count);
}

/*
 * p outside 0..100 is clamped (NaN counts as 0); p = 0 means the smallest
 * value's sub-bucket. The rank is ceil(p / 100 * count), shaved by a relative
 * 1e-12 first so that e.g. 99.9% of 1000, which double arithmetic may put at
 * 999.0000000000001, gives rank 999 and not 1000.
 */
int64_t
mc_hist_percentile(const struct mc_hist *h, double p)
{
	double x;
	int64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (!(p > 0.0))
		p = 0.0;
	if (p > 100.0)
		p = 100.0;
	x = p * (double)h->count / 100.0;
	x = ceil(x - x * 1e-12);
	rank = x < 1.0 ? 1 : x >= (double)h->count ? h->count : (int64_t)x;
	for (size_t i = 0; i < h->ncounts; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			int64_t v = highest_of(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;  /* not reached: the counts add up to count */
}

size_t
mc_hist_memory(const struct mc_hist *h)
{
	return sizeof(*h) + h->ncounts * sizeof(h->counts[0]);
}

bool
mc_hist_next(const struct mc_hist *h, size_t *cursor, int64_t *lo, int64_t *hi, int64_t *n)
{
	for (size_t i = *cursor; i < h->ncounts; i++) {
		if (h->counts[i] == 0)
			continue;
		*lo = lowest_of(i);
		*hi = highest_of(i);
		*n = h->counts[i];
		*cursor = i + 1;
		return true;
	}
	*cursor = h->ncounts;
	return false;
}

/*
 * JSON numbers are doubles: values and counts are exact up to 2^53, which
 * is 285 years in microseconds. Besides the documented fields the object
 * carries "clamped", so that a merged report still knows about them.
 */
cJSON *
mc_hist_to_json(const struct mc_hist *h, const char *unit)
{
	static const struct {
		const char *key;
		double p;
	} pcts[] = { { "50", 50.0 }, { "90", 90.0 }, { "99", 99.0 }, { "99.9", 99.9 }, { "100", 100.0 } };
	cJSON *j = cJSON_CreateObject();
	cJSON *pj, *bj, *row;
	size_t cur = 0;
	int64_t lo, hi, n;

	if (j == NULL)
		abort();
	cJSON_AddStringToObject(j, "unit", unit != NULL ? unit : "");
	cJSON_AddNumberToObject(j, "highest", (double)h->highest);
	cJSON_AddNumberToObject(j, "count", (double)h->count);
	cJSON_AddNumberToObject(j, "clamped", (double)h->clamped);
	cJSON_AddNumberToObject(j, "min", (double)mc_hist_min(h));
	cJSON_AddNumberToObject(j, "max", (double)mc_hist_max(h));
	cJSON_AddNumberToObject(j, "mean", mc_hist_mean(h));
	cJSON_AddNumberToObject(j, "stddev", mc_hist_stddev(h));
	pj = cJSON_AddObjectToObject(j, "percentiles");
	for (size_t i = 0; pj != NULL && i < sizeof(pcts) / sizeof(pcts[0]); i++)
		cJSON_AddNumberToObject(pj, pcts[i].key, (double)mc_hist_percentile(h, pcts[i].p));
	bj = cJSON_AddArrayToObject(j, "buckets");
	if (pj == NULL || bj == NULL)
		abort();
	while (mc_hist_next(h, &cur, &lo, &hi, &n)) {
		row = cJSON_CreateArray();
		if (row == NULL)
			abort();
		cJSON_AddItemToArray(row, cJSON_CreateNumber((double)lo));
		cJSON_AddItemToArray(row, cJSON_CreateNumber((double)hi));
		cJSON_AddItemToArray(row, cJSON_CreateNumber((double)n));
		cJSON_AddItemToArray(bj, row);
	}
	return j;
}

/* Reads a JSON number that must be a whole number in 0..2^63. */
static int
json_int(const cJSON *item, const char *what, int64_t *out, char *err, size_t errlen)
{
	double d;

	if (item == NULL)
		return mc_err(err, errlen, EINVAL, "histogram JSON: missing \"%s\"", what);
	if (!cJSON_IsNumber(item))
		return mc_err(err, errlen, EINVAL, "histogram JSON: \"%s\" is not a number", what);
	d = item->valuedouble;
	if (!isfinite(d) || d != floor(d))
		return mc_err(err, errlen, EINVAL, "histogram JSON: \"%s\" is not a whole number", what);
	if (d < 0.0)
		return mc_err(err, errlen, EINVAL, "histogram JSON: \"%s\" is negative (%.17g)", what, d);
	if (d >= 9223372036854775808.0)
		return mc_err(err, errlen, ERANGE, "histogram JSON: \"%s\" is too large (%.17g)", what, d);
	*out = (int64_t)d;
	return 0;
}

/* Reads one [lo, hi, n] row and checks it is a sub-bucket of h; *idx gets its index. */
static int
json_bucket(const struct mc_hist *h, const cJSON *row, int i, size_t *idx, int64_t *n,
	    char *err, size_t errlen)
{
	char what[3][32];
	int64_t v[3];
	int rc;

	if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != 3)
		return mc_err(err, errlen, EINVAL, "histogram JSON: buckets[%d] is not a [lo, hi, n] array", i);
	for (int f = 0; f < 3; f++) {
		snprintf(what[f], sizeof(what[f]), "buckets[%d][%d]", i, f);
		rc = json_int(cJSON_GetArrayItem(row, f), what[f], &v[f], err, errlen);
		if (rc < 0)
			return rc;
	}
	if (v[0] > h->highest)
		return mc_err(err, errlen, ERANGE, "histogram JSON: buckets[%d] starts at %lld, above highest %lld",
			      i, (long long)v[0], (long long)h->highest);
	*idx = index_of(v[0]);
	/*
	 * lo is a few significant bits shifted left, so it is exact in a double;
	 * hi may not be (above 2^53), hence the comparison as doubles.
	 */
	if (lowest_of(*idx) != v[0] || (double)highest_of(*idx) != (double)v[1])
		return mc_err(err, errlen, EINVAL, "histogram JSON: buckets[%d] [%lld, %lld] is not a bucket of this layout",
			      i, (long long)v[0], (long long)v[1]);
	if (v[2] == 0)
		return mc_err(err, errlen, EINVAL, "histogram JSON: buckets[%d] is empty (only non-empty buckets are listed)", i);
	*n = v[2];
	return 0;
}

/*
 * Rebuilds a histogram from mc_hist_to_json's form. The counts come from
 * "buckets"; "count", "clamped" (optional, 0 when absent), "min" and "max" are
 * checked against them. "mean", "stddev", "percentiles" and "unit" are
 * derived data and are ignored.
 */
struct mc_hist *
mc_hist_from_json(const cJSON *j, char *err, size_t errlen)
{
	struct mc_hist *h = NULL;
	const cJSON *buckets, *row;
	int64_t highest, count, clamped = 0, min, max, n = 0, sum = 0;
	size_t idx = 0, first = 0, last = 0;
	int i = 0;

	if (!cJSON_IsObject(j)) {
		mc_err(err, errlen, EINVAL, "histogram JSON: not an object");
		return NULL;
	}
	if (json_int(cJSON_GetObjectItemCaseSensitive(j, "highest"), "highest", &highest, err, errlen) < 0 ||
	    json_int(cJSON_GetObjectItemCaseSensitive(j, "count"), "count", &count, err, errlen) < 0 ||
	    json_int(cJSON_GetObjectItemCaseSensitive(j, "min"), "min", &min, err, errlen) < 0 ||
	    json_int(cJSON_GetObjectItemCaseSensitive(j, "max"), "max", &max, err, errlen) < 0)
		return NULL;
	if (cJSON_GetObjectItemCaseSensitive(j, "clamped") != NULL &&
	    json_int(cJSON_GetObjectItemCaseSensitive(j, "clamped"), "clamped", &clamped, err, errlen) < 0)
		return NULL;
	if (highest < 1) {
		mc_err(err, errlen, EINVAL, "histogram JSON: \"highest\" must be at least 1");
		return NULL;
	}
	buckets = cJSON_GetObjectItemCaseSensitive(j, "buckets");
	if (buckets == NULL) {
		mc_err(err, errlen, EINVAL, "histogram JSON: missing \"buckets\"");
		return NULL;
	}
	if (!cJSON_IsArray(buckets)) {
		mc_err(err, errlen, EINVAL, "histogram JSON: \"buckets\" is not an array");
		return NULL;
	}

	h = mc_hist_new(highest);
	cJSON_ArrayForEach(row, buckets) {
		if (json_bucket(h, row, i, &idx, &n, err, errlen) < 0)
			goto bad;
		if (i > 0 && idx <= last) {
			mc_err(err, errlen, EINVAL, "histogram JSON: buckets[%d] is out of order (buckets must increase)", i);
			goto bad;
		}
		if (n > INT64_MAX - sum) {
			mc_err(err, errlen, ERANGE, "histogram JSON: bucket counts overflow");
			goto bad;
		}
		if (i == 0)
			first = idx;
		last = idx;
		h->counts[idx] = n;
		sum += n;
		i++;
	}
	if (sum != count) {
		mc_err(err, errlen, EINVAL, "histogram JSON: \"count\" is %lld but the buckets hold %lld",
		       (long long)count, (long long)sum);
		goto bad;
	}
	if (clamped > count) {
		mc_err(err, errlen, EINVAL, "histogram JSON: \"clamped\" (%lld) exceeds \"count\" (%lld)",
		       (long long)clamped, (long long)count);
		goto bad;
	}
	if (count > 0) {
		/* min and max must fall in the first and last buckets (clamped ones in highest's). */
		if (min > max || index_of(min < highest ? min : highest) != first ||
		    index_of(max < highest ? max : highest) != last) {
			mc_err(err, errlen, EINVAL, "histogram JSON: \"min\" %lld / \"max\" %lld do not match the buckets",
			       (long long)min, (long long)max);
			goto bad;
		}
		if ((clamped > 0) != (max > highest)) {
			mc_err(err, errlen, EINVAL, "histogram JSON: \"clamped\" is %lld but \"max\" %lld is %s highest %lld",
			       (long long)clamped, (long long)max, max > highest ? "above" : "within", (long long)highest);
			goto bad;
		}
		h->min = min;
		h->max = max;
	}
	h->count = count;
	h->clamped = clamped;
	return h;

bad:
	mc_hist_free(h);
	return NULL;
}
