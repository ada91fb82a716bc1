/*
 * Statistics for judging traffic splits: the exact binomial test, Pearson's
 * chi-square test (through the regularized incomplete gamma function) and
 * the sample size a distribution case needs.
 *
 * Invalid arguments (negative counts, k > n, probabilities outside 0..1,
 * NaN) give NaN from the p-value functions and -EINVAL from mc_sample_size,
 * so that a caller cannot mistake them for a verdict.
 */
#include "stats.h"

#include <errno.h>
#include <math.h>

/* Ties in the binomial test: P(i) counts as "as likely" up to this factor. */
#define BINOM_REL_TIE 1e-7

/* Tail sums stop once a term no longer moves the sum. */
#define TAIL_EPS 1e-17

/*
 * log P(X = i) for X ~ Binomial(n, p), 0 < p < 1. The two lgamma terms of the
 * denominator are added first so that P(i) and P(n - i) come out bit for bit
 * equal when p = 0.5.
 */
static double
binom_logpmf(int64_t i, int64_t n, double p)
{
	double di = (double)i, dn = (double)n;

	return lgamma(dn + 1.0) - (lgamma(di + 1.0) + lgamma(dn - di + 1.0)) +
		di * log(p) + (dn - di) * log1p(-p);
}

/*
 * Sum of P(j) for j = i, i - 1, ..., 0 (dir < 0) or j = i, ..., n (dir > 0),
 * as log. Going away from the mode, the terms shrink ever faster (the ratio
 * of neighbours decreases), so the sum stops once a term is below TAIL_EPS of
 * the running sum: what is left is smaller than that term times a geometric
 * series of ratio below 1/2 after a few steps. Terms are kept relative to
 * P(i) to avoid underflow; about 9 standard deviations of steps at most.
 */
static double
binom_logtail(int64_t i, int64_t n, double p, int dir)
{
	double q = 1.0 - p, term = 1.0, sum = 1.0;
	int64_t j = i;

	for (;;) {
		if (dir < 0) {
			if (j == 0)
				break;
			/* P(j-1) / P(j) = j q / ((n - j + 1) p) */
			term *= ((double)j * q) / ((double)(n - j + 1) * p);
			j--;
		} else {
			if (j == n)
				break;
			/* P(j+1) / P(j) = (n - j) p / ((j + 1) q) */
			term *= ((double)(n - j) * p) / ((double)(j + 1) * q);
			j++;
		}
		sum += term;
		if (term < TAIL_EPS * sum)
			break;
	}
	return binom_logpmf(i, n, p) + log(sum);
}

/*
 * The p-value sums P(i) over {i : P(i) <= P(k) (1 + 1e-7)}. The pmf rises up
 * to the mode m and falls after it, so that set is [0, a] with a <= m plus
 * [b, n] with b > m: a and b are found by bisection (a few dozen lgamma
 * calls), and the two tails are summed outwards from them. This keeps
 * n = 10^7 fast; log-space keeps it from underflowing.
 */
double
mc_binom_test(int64_t k, int64_t n, double p)
{
	double thresh, logp = -INFINITY;
	int64_t m, lo, hi, a, b;

	if (n < 0 || k < 0 || k > n || !(p >= 0.0 && p <= 1.0))
		return NAN;
	if (n == 0)
		return 1.0;
	/* Degenerate distributions: one outcome has all the mass. */
	if (p == 0.0)
		return k == 0 ? 1.0 : 0.0;
	if (p == 1.0)
		return k == n ? 1.0 : 0.0;

	thresh = binom_logpmf(k, n, p) + log1p(BINOM_REL_TIE);
	m = (int64_t)floor(((double)n + 1.0) * p);
	if (m > n)
		m = n;

	/* a: last i in [0, m] with logpmf(i) <= thresh (-1 if none). */
	lo = 0;
	hi = m;
	a = -1;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (binom_logpmf(mid, n, p) <= thresh) {
			a = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	/* b: first i in [m + 1, n] with logpmf(i) <= thresh (n + 1 if none). */
	lo = m + 1;
	hi = n;
	b = n + 1;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (binom_logpmf(mid, n, p) <= thresh) {
			b = mid;
			hi = mid - 1;
		} else {
			lo = mid + 1;
		}
	}

	if (a >= 0)
		logp = binom_logtail(a, n, p, -1);
	if (b <= n) {
		double lu = binom_logtail(b, n, p, +1);

		/* log(exp(logp) + exp(lu)) without overflow or needless underflow. */
		if (logp == -INFINITY)
			logp = lu;
		else if (lu > logp)
			logp = lu + log1p(exp(logp - lu));
		else
			logp = logp + log1p(exp(lu - logp));
	}
	return logp >= 0.0 ? 1.0 : exp(logp);
}

/*
 * Regularized lower incomplete gamma P(a, x) by its series, for x < a + 1
 * where it converges quickly:
 *   P(a, x) = e^-x x^a / Gamma(a) * sum_n x^n / (a (a+1) ... (a+n)).
 */
static double
gamma_p_series(double a, double x)
{
	double ap = a, del = 1.0 / a, sum = del;

	for (int n = 0; n < 10000; n++) {
		ap += 1.0;
		del *= x / ap;
		sum += del;
		if (fabs(del) < fabs(sum) * 1e-16)
			break;
	}
	return sum * exp(-x + a * log(x) - lgamma(a));
}

/*
 * Regularized upper incomplete gamma Q(a, x) by its continued fraction, for
 * x >= a + 1, evaluated with the modified Lentz method:
 *   Q(a, x) = e^-x x^a / Gamma(a) * 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)).
 */
static double
gamma_q_contfrac(double a, double x)
{
	const double tiny = 1e-300;
	double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, f = d;

	for (int i = 1; i < 10000; i++) {
		double an = -i * (i - a), delta;

		b += 2.0;
		d = an * d + b;
		if (fabs(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		delta = d * c;
		f *= delta;
		if (fabs(delta - 1.0) < 1e-16)
			break;
	}
	return exp(-x + a * log(x) - lgamma(a)) * f;
}

/* Q(a, x) = 1 - P(a, x), from whichever expansion converges there. */
static double
gamma_q(double a, double x)
{
	if (x <= 0.0)
		return 1.0;
	if (x < a + 1.0)
		return 1.0 - gamma_p_series(a, x);
	return gamma_q_contfrac(a, x);
}

double
mc_chi2_sf(double x, int df)
{
	if (df < 1 || isnan(x))
		return NAN;
	if (x <= 0.0)
		return 1.0;
	if (isinf(x))
		return 0.0;
	return gamma_q(df / 2.0, x / 2.0);
}

/*
 * Categories with a share of 0 and no observations take no part (they add
 * nothing to the statistic and no degree of freedom). The shares are
 * normalized by their sum, so weights such as 90/10 work as well.
 */
double
mc_chi2_test(const int64_t *observed, const double *shares, size_t k, double *chi2, int *df)
{
	double total = 0.0, ssum = 0.0, stat = 0.0;
	int cats = 0;

	if (chi2 != NULL)
		*chi2 = NAN;
	if (df != NULL)
		*df = 0;
	for (size_t i = 0; i < k; i++) {
		if (observed[i] < 0 || !(shares[i] >= 0.0) || isinf(shares[i]))
			return NAN;
		total += (double)observed[i];
		ssum += shares[i];
	}
	if (k == 0 || !(ssum > 0.0))
		return NAN;
	for (size_t i = 0; i < k; i++) {
		double e = total * shares[i] / ssum, d;

		if (shares[i] == 0.0) {
			if (observed[i] > 0) {
				/* Impossible under the hypothesis: rejected outright. */
				if (chi2 != NULL)
					*chi2 = INFINITY;
				if (df != NULL)
					*df = cats > 0 ? cats - 1 : 0;
				return 0.0;
			}
			continue;
		}
		cats++;
		if (e > 0.0) {
			d = (double)observed[i] - e;
			stat += d * d / e;
		}
	}
	if (chi2 != NULL)
		*chi2 = stat;
	if (df != NULL)
		*df = cats - 1;
	/* No requests, or a single possible category: nothing can contradict the shares. */
	if (total == 0.0 || cats < 2)
		return 1.0;
	return mc_chi2_sf(stat, cats - 1);
}

/*
 * Standard normal quantile, Acklam's rational approximation (relative error
 * 1.15e-9) refined by one Halley step on erfc, which brings it to about
 * machine precision. 0 < p < 1.
 */
static double
norm_quantile(double p)
{
	static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
				    1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
				    6.680131188771972e+01, -1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
				    -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
				    3.754408661907416e+00 };
	const double plow = 0.02425;
	double q, r, x, e, u;

	if (p < plow) {
		q = sqrt(-2.0 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	} else if (p <= 1.0 - plow) {
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
			(((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
	} else {
		q = sqrt(-2.0 * log1p(-p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
			((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	}
	/* Halley step: e is the error in probability, u = e / pdf(x). */
	e = 0.5 * erfc(-x / sqrt(2.0)) - p;
	u = e * sqrt(2.0 * 3.14159265358979323846) * exp(x * x / 2.0);
	return x - u / (1.0 + x * u / 2.0);
}

/*
 * For a share s, the observed fraction over n requests has standard error
 * sqrt(s (1 - s) / n); requiring z * that <= tolerance gives
 * n = z^2 s (1 - s) / tolerance^2, with z the two-sided normal quantile at
 * alpha / k (Bonferroni: every one of the k shares must hold at once). The
 * worst share is the one closest to 1/2. Returns -EINVAL on bad arguments,
 * INT64_MAX when the answer does not fit.
 */
int64_t
mc_sample_size(const double *shares, size_t k, double tolerance, double alpha)
{
	double worst = 0.0, z, n, floor_n = 10.0 * (double)k;

	if (k == 0 || !(tolerance > 0.0) || !(alpha > 0.0 && alpha < 1.0))
		return -EINVAL;
	for (size_t i = 0; i < k; i++) {
		double s = shares[i];

		if (!(s >= 0.0 && s <= 1.0))
			return -EINVAL;
		if (s * (1.0 - s) > worst)
			worst = s * (1.0 - s);
	}
	/* The upper quantile 1 - alpha/2k, computed from the lower tail for precision. */
	z = -norm_quantile(alpha / (2.0 * (double)k));
	n = ceil(z * z * worst / (tolerance * tolerance));
	if (n < floor_n)
		n = floor_n;
	if (!(n < 9223372036854775807.0))
		return INT64_MAX;
	return (int64_t)n;
}
