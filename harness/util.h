/*
 * Small helpers shared by every part of meshcheck: error buffers, bounded
 * growable buffers, allocation, time and file helpers.
 *
 * Error contract (for all of meshcheck's library code): a function returns 0
 * on success or a negative errno value on failure, and writes a one-line,
 * human-readable message into an error buffer the caller owns (`err`,
 * `errlen`). The message names the file and position when the failure is
 * about input.
 */
#ifndef MC_UTIL_H
#define MC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define MC_ERRLEN 1024

/*
 * Formats a message into err (when err is not NULL) and returns -code_abs,
 * so that callers can write `return mc_err(err, errlen, EINVAL, "...")`.
 */
int mc_err(char *err, size_t errlen, int code_abs, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Allocation that aborts on exhaustion: a harness cannot go on without memory. */
void *mc_xmalloc(size_t n);
void *mc_xcalloc(size_t n, size_t size);
void *mc_xrealloc(void *p, size_t n);
char *mc_xstrdup(const char *s);        /* NULL in, NULL out. */
char *mc_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *mc_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * A growable byte buffer with a hard maximum (max == 0 means 64 MiB). The
 * data is always NUL-terminated so it can be used as a string.
 */
struct mc_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void mc_buf_init(struct mc_buf *b, size_t max);
/* Returns 0, or -E2BIG when the append would pass the maximum (nothing is appended). */
int mc_buf_append(struct mc_buf *b, const void *data, size_t n);
int mc_buf_puts(struct mc_buf *b, const char *s);
int mc_buf_printf(struct mc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *mc_buf_steal(struct mc_buf *b);
void mc_buf_free(struct mc_buf *b);

/* Wall-clock seconds since the epoch, with sub-second precision. */
double mc_now(void);
/* Monotonic seconds, for durations. */
double mc_monotonic(void);
/* Formats t (epoch seconds) as ISO 8601 UTC, e.g. 2026-11-22T10:40:29Z. */
void mc_time_iso8601(double t, char *out, size_t outlen);

/*
 * Parses a duration such as "90", "90s", "15m", "24h", "7d" or "1h30m" into
 * seconds. Returns 0 or -EINVAL.
 */
int mc_duration_parse(const char *s, long *seconds);
/* Seconds from what mc_duration_parse takes ("5s", "1m30s"), milliseconds ("250ms") or decimals ("0.5", "1.5s"); 0 or -EINVAL. */
int mc_seconds_parse(const char *s, double *out);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer the caller frees. */
int mc_file_read(const char *path, size_t max, char **out, size_t *outlen, char *err, size_t errlen);
/* Writes data to path with the given mode, atomically (temporary file then rename). */
int mc_file_write(const char *path, const void *data, size_t n, int mode, char *err, size_t errlen);
/* mkdir -p with the given mode for directories it creates. */
int mc_mkdir_p(const char *path, int mode, char *err, size_t errlen);
/* rm -rf; never follows symbolic links. Missing path is not an error. */
int mc_rm_rf(const char *path);

/* Shell-style glob match (fnmatch without flags). */
bool mc_glob_match(const char *pattern, const char *s);

#endif
