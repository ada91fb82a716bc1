/*
 * Statistics for judging traffic: how many requests a distribution case
 * needs, and how likely the split it saw is under the expected shares.
 */
#ifndef MC_STATS_H
#define MC_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Two-sided exact binomial test: the probability, under Binomial(n, p), of
 * an outcome at most as likely as k (the sum over all i with P(i) <= P(k),
 * with a small relative tolerance for ties). 1.0 when n == 0.
 */
double mc_binom_test(int64_t k, int64_t n, double p);

/*
 * Pearson's chi-square goodness-of-fit test of observed counts against
 * expected shares (which sum to 1; a share of 0 with a non-zero count gives
 * p = 0). Returns the p-value, writing the statistic to *chi2 and the degrees
 * of freedom to *df when not NULL.
 */
double mc_chi2_test(const int64_t *observed, const double *shares, size_t k, double *chi2, int *df);

/* Upper tail of the chi-square distribution with df degrees of freedom: P(X >= x). */
double mc_chi2_sf(double x, int df);

/*
 * Requests needed so that each share's observed fraction lies within
 * +-tolerance of the expected share with probability 1 - alpha (normal
 * approximation with a Bonferroni correction over k shares, worst share).
 * At least 10 * k. E.g. shares 0.5/0.5, tolerance 0.1, alpha 0.001 -> about 300.
 */
int64_t mc_sample_size(const double *shares, size_t k, double tolerance, double alpha);

#endif
