/*
 * Latency histogram in the HDR style: values (microseconds, or any unit the
 * caller picks) recorded with 3 significant digits of precision in a fixed
 * amount of memory decided at creation, from 1 to a highest trackable
 * value. Two histograms with the same range merge exactly, so several load
 * generators can be combined afterwards.
 *
 * Layout: bucket b covers [2^b * 1024, 2^(b+1) * 1024) at a resolution of
 * 2^b (buckets after the first keep only their upper half: 1024 to 2047
 * sub-buckets of width 2^b), so a recorded value is never off by more than
 * one part in 1024 (3 significant digits hold).
 */
#ifndef MC_HIST_H
#define MC_HIST_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct mc_hist;

/* highest: largest value that can be recorded exactly (larger ones are clamped and counted). */
struct mc_hist *mc_hist_new(int64_t highest);
void mc_hist_free(struct mc_hist *h);
void mc_hist_reset(struct mc_hist *h);

/* Records value (negative values count as 0; above highest: clamped, see mc_hist_clamped). */
void mc_hist_record(struct mc_hist *h, int64_t value);
void mc_hist_record_n(struct mc_hist *h, int64_t value, int64_t n);

/* Adds src's counts to dst. Returns 0, or -EINVAL when their ranges differ. */
int mc_hist_merge(struct mc_hist *dst, const struct mc_hist *src);

int64_t mc_hist_count(const struct mc_hist *h);
int64_t mc_hist_clamped(const struct mc_hist *h);  /* values recorded above highest */
int64_t mc_hist_min(const struct mc_hist *h);      /* 0 when empty */
int64_t mc_hist_max(const struct mc_hist *h);      /* exact largest recorded value; 0 when empty */
double mc_hist_mean(const struct mc_hist *h);
double mc_hist_stddev(const struct mc_hist *h);
/*
 * The value at percentile p (0..100): the highest value equivalent to the
 * bucket holding the ceil(p/100 * count)-th smallest value, capped at max.
 * 0 when empty.
 */
int64_t mc_hist_percentile(const struct mc_hist *h, double p);
/* Bytes of memory the histogram uses (fixed at creation). */
size_t mc_hist_memory(const struct mc_hist *h);

/*
 * Iterates the non-empty buckets in increasing order: *lo..*hi is the range
 * of values the bucket stands for, *n its count. Start with *cursor = 0;
 * returns false at the end.
 */
bool mc_hist_next(const struct mc_hist *h, size_t *cursor, int64_t *lo, int64_t *hi, int64_t *n);

/*
 * JSON form, for reports and for merging runs: {"unit": unit, "highest": H,
 * "count": N, "min", "max", "mean", "stddev", "percentiles": {"50": v, "90",
 * "99", "99.9", "100"}, "buckets": [[lo, hi, n], ...]} (non-empty buckets only).
 */
cJSON *mc_hist_to_json(const struct mc_hist *h, const char *unit);
/* Rebuilds a histogram from that form (exact for counts). NULL with err on bad input. */
struct mc_hist *mc_hist_from_json(const cJSON *j, char *err, size_t errlen);

#endif
