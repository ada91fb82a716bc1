/*
 * Shared helpers: errors, allocation, bounded buffers, time, files.
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
mc_err(char *err, size_t errlen, int code_abs, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code_abs > 0 ? -code_abs : code_abs == 0 ? -EINVAL : code_abs;
}

void *
mc_xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		abort();
	return p;
}

void *
mc_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		abort();
	return p;
}

void *
mc_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		abort();
	return q;
}

char *
mc_xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

char *
mc_xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

char *
mc_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = mc_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
mc_buf_init(struct mc_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max == 0 ? (size_t)64 << 20 : max;
}

int
mc_buf_append(struct mc_buf *b, const void *data, size_t n)
{
	size_t need;

	if (n > b->max || b->len > b->max - n)
		return -E2BIG;
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap == 0 ? 256 : b->cap;

		while (cap < need)
			cap *= 2;
		b->data = mc_xrealloc(b->data, cap);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
mc_buf_puts(struct mc_buf *b, const char *s)
{
	return mc_buf_append(b, s, strlen(s));
}

int
mc_buf_printf(struct mc_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	s = mc_xvasprintf(fmt, ap);
	va_end(ap);
	rc = mc_buf_append(b, s, strlen(s));
	free(s);
	return rc;
}

char *
mc_buf_steal(struct mc_buf *b)
{
	char *d = b->data;

	if (d == NULL)
		d = mc_xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void
mc_buf_free(struct mc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

double
mc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
mc_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
mc_time_iso8601(double t, char *out, size_t outlen)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (outlen > 0)
			out[0] = '\0';
	}
}

/*
 * Parses "<number><unit>" groups, units s, m, h, d (a bare number is
 * seconds). Rejects empty input, negative values, unknown units and overflow.
 */
int
mc_duration_parse(const char *s, long *seconds)
{
	long total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	while (*p != '\0') {
		char *end;
		long mult, v;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0)
			return -EINVAL;
		switch (*end) {
		case '\0':
			if (p != s)
				return -EINVAL; /* "1h30" is ambiguous */
			mult = 1;
			break;
		case 's': mult = 1; end++; break;
		case 'm': mult = 60; end++; break;
		case 'h': mult = 3600; end++; break;
		case 'd': mult = 86400; end++; break;
		default:
			return -EINVAL;
		}
		if (v > (LONG_MAX - total) / mult)
			return -EINVAL;
		total += v * mult;
		p = end;
	}
	*seconds = total;
	return 0;
}

int
mc_file_read(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct mc_buf b;
	char chunk[65536];
	FILE *f;
	int rc = 0;

	f = fopen(path, "rb");
	if (f == NULL)
		return mc_err(err, errlen, errno, "%s: %s", path, strerror(errno));
	mc_buf_init(&b, max);
	mc_buf_append(&b, "", 0);
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);

		if (n > 0 && mc_buf_append(&b, chunk, n) < 0) {
			rc = mc_err(err, errlen, EFBIG, "%s: larger than %zu bytes", path, b.max);
			goto out;
		}
		if (n < sizeof(chunk)) {
			if (ferror(f)) {
				rc = mc_err(err, errlen, EIO, "%s: read error: %s", path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	if (outlen != NULL)
		*outlen = b.len;
	*out = mc_buf_steal(&b);
out:
	fclose(f);
	if (rc < 0)
		mc_buf_free(&b);
	return rc;
}

int
mc_file_write(const char *path, const void *data, size_t n, int mode, char *err, size_t errlen)
{
	char *tmp = mc_xasprintf("%s.tmp.%ld", path, (long)getpid());
	const char *p = data;
	int fd, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = mc_err(err, errlen, errno, "%s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	/* The mode is applied explicitly: the umask must not widen or narrow it. */
	if (fchmod(fd, (mode_t)mode) < 0) {
		rc = mc_err(err, errlen, errno, "%s: chmod: %s", path, strerror(errno));
		goto out;
	}
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = mc_err(err, errlen, errno, "%s: write: %s", path, strerror(errno));
			goto out;
		}
		p += w;
		n -= (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = mc_err(err, errlen, errno, "%s: close: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		rc = mc_err(err, errlen, errno, "%s: rename: %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
mc_mkdir_p(const char *path, int mode, char *err, size_t errlen)
{
	char *p = mc_xstrdup(path);
	char *s;
	int rc = 0;

	for (s = p + 1; ; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			rc = mc_err(err, errlen, errno, "%s: cannot create directory: %s", p, strerror(errno));
			goto out;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	{
		struct stat st;

		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			rc = mc_err(err, errlen, ENOTDIR, "%s: not a directory", path);
	}
out:
	free(p);
	return rc;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
mc_rm_rf(const char *path)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	/* FTW_PHYS: symbolic links are removed, never followed. */
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

bool
mc_glob_match(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, 0) == 0;
}

int
mc_seconds_parse(const char *s, double *out)
{
	size_t n = strlen(s);
	long whole;
	char *end;
	double v;

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		v = strtod(s, &end);
		if (end != s + n - 2 || !(v >= 0) || !isfinite(v))
			return -EINVAL;
		*out = v / 1000;
		return 0;
	}
	if (mc_duration_parse(s, &whole) == 0) {
		*out = (double)whole;
		return 0;
	}
	v = strtod(s, &end);
	if (end == s || !(v >= 0) || !isfinite(v) || (*end != '\0' && strcmp(end, "s") != 0))
		return -EINVAL;
	*out = v;
	return 0;
}
