/*
 * The load generator: many copies of one request (a mc_probe_spec) over
 * libcurl's multi interface, in a closed loop (C connections, each sending
 * its next request as soon as the previous one finished) or an open loop (a
 * constant rate, latency measured from each request's intended send time so
 * that a slow server cannot hide its stalls: no coordinated omission).
 * With HTTP/2, each connection can carry M concurrent streams (C x M
 * requests in flight), as h2load -c C -m M does. Keep-alive GETs (HTTP/1.1
 * and HTTP/2) and HEADs (HTTP/2) to one address go through the engine's
 * own clients rather than libcurl, with the same results and error
 * classes (load.c says which loads qualify).
 *
 * Results: a latency histogram (microseconds), counts per HTTP status and
 * per transport error class, late and unsent requests of the open loop, and
 * optionally which responder answered (a regex over the body or a header).
 * With the timeline option, also per-second counts and latency of the
 * recorded phase and a record of every failed request (time, error,
 * status, message), so that a failure can be placed in time, e.g. against
 * a restart that ran meanwhile.
 *
 * Errors follow util.h: 0 or a negative errno, message in err. Transport
 * failures of single requests are results, never errors of the run.
 */
#ifndef MC_LOAD_H
#define MC_LOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hist.h"
#include "probe.h"

#define MC_LOAD_MAX_CODE 600        /* codes[] covers 0..599; others count in codes_other */
#define MC_LOAD_MAX_RESPONDERS 64   /* distinct extracted values kept; the rest count as other */
#define MC_LOAD_MAX_VALUE 128       /* bytes of an extracted value kept */

/*
 * One second of the timeline. Requests belong to the second of their
 * intended send time in the open loop (so a stall shows where it happened,
 * not when the late answers came) and of their actual start in a closed
 * loop. sent counts requests started; ok and failed those that finished
 * (sent - ok - failed are still in flight, or were abandoned by a stop).
 * p99_us and max_us are the latency of the second's responses (any
 * status, as the run's histogram counts them); 0 without responses.
 */
struct mc_load_second {
	int64_t sent, ok, failed;
	int64_t p99_us;
	int64_t max_us;
};

/* A failed request: a transport error, or a status above ok_status_max. */
struct mc_load_failure {
	double t;                   /* seconds from t = 0 to the request's intended (open loop) or actual start */
	const char *path;           /* the options' label (a copy the result owns), or NULL */
	enum mc_xfer_error error;   /* MC_XFER_OK for a failure by status */
	long status;                /* 0 for a transport error */
	char message[160];          /* curl's (or the native path's) message, or "HTTP status N" */
};

/* Counts so far, for a progress display. */
struct mc_load_progress {
	double elapsed;             /* seconds since the start, warm-up included */
	bool warming_up;
	int64_t requests;           /* recorded requests finished (responses and errors) */
	int64_t errors;             /* of which transport errors */
	int64_t non_2xx;            /* of which responses outside 200..299 */
	double rate;                /* recorded requests per second so far */
	/*
	 * With the timeline option: the seconds so far, merged over the
	 * worker threads (index = second). Valid during the call only. The
	 * latest seconds may still change as their answers arrive.
	 */
	const struct mc_load_second *timeline;
	size_t n_timeline;
};

struct mc_load_options {
	struct mc_probe_spec req;   /* the request (req.fresh: a new connection per request) */
	int connections;            /* C: connections; default 10 */
	int streams;                /* M: concurrent requests per connection (HTTP/2 multiplexing); default 1 */
	int threads;                /* worker threads, each with its own multi handle; default 1 */
	double rate;                /* requests per second; 0: closed loop */
	double duration;            /* seconds recorded after the warm-up; 0: by count, or 10 s */
	int64_t count;              /* stop after this many recorded requests; 0: by duration */
	double warmup;              /* seconds whose requests are sent but not recorded */
	double late_slack;          /* open loop: later than this after the intended time is late; 0: 1 ms */
	const char *extract;        /* POSIX extended regex; group 1 (or the whole match) names the responder */
	const char *extract_header; /* apply it to this response header instead of the body */
	size_t extract_max_body;    /* body bytes searched; 0: 64 KiB */
	int64_t hist_highest_us;    /* 0: 60 s */
	/* Called about once a second from the thread that called mc_load_run. */
	void (*progress)(const struct mc_load_progress *p, void *arg);
	void *progress_arg;
	/* When it becomes non-zero the run stops: in-flight requests are abandoned, not recorded. */
	volatile sig_atomic_t *stop;
	/*
	 * The timeline: per-second counts and latency, and every failed
	 * request with its details (see mc_load_second, mc_load_failure).
	 * Without it the engine pays nothing for them beyond a test per
	 * request. Memory: a latency histogram per second at 1/64 resolution,
	 * allocated with the second's first answer and grown only to its
	 * largest latency (about 2 KiB for millisecond latencies, at most
	 * about 5 KiB with the 60 s default highest value), and at most
	 * max_failures records of about 190 bytes per worker thread.
	 */
	bool timeline;              /* keep per-second counts and every failed request */
	long ok_status_max;         /* a status above this is a failed request for the timeline; 0: 399 */
	size_t max_failures;        /* failed requests kept with their details; 0: 10000 (the rest are counted) */
	const char *label;          /* names this load's path in failure records (may be NULL) */
};

/* Per-second latency counts a result keeps for mc_load_timeline_merge (opaque). */
struct mc_load_timeline_data;

struct mc_load_responder {
	char *value;                /* owned */
	int64_t count;
};

struct mc_load_result {
	bool open_loop;
	double rate_target;         /* 0 in a closed loop */
	int connections;
	int streams;
	int threads;
	double duration;            /* seconds of the recorded phase (to the last recorded completion) */
	double rate_achieved;       /* requests / duration */
	int64_t requests;           /* recorded requests finished: responses + errors */
	int64_t responses;
	int64_t errors;
	int64_t warmup_requests;    /* finished during the warm-up, not recorded */
	int64_t late;               /* open loop: started more than late_slack after the intended time */
	int64_t unsent;             /* open loop: due before the end but never started (all slots busy) */
	int64_t abandoned;          /* in flight when a stop request ended the run */
	int64_t bytes;              /* response body bytes of recorded requests */
	bool stopped;               /* ended by the stop flag */
	bool native;                /* sent by the engine's own HTTP/1.1 or HTTP/2 client, not libcurl */
	char warning[256];          /* how the run differs from what was asked, or "" */
	int64_t codes[MC_LOAD_MAX_CODE];
	int64_t codes_other;
	int64_t xfer_errors[MC_XFER_COUNT]; /* index MC_XFER_OK unused */
	char first_error[256];      /* curl's message for the first transport error seen */
	struct mc_load_responder *responders; /* by decreasing count */
	size_t n_responders;
	int64_t responders_other;   /* values beyond MC_LOAD_MAX_RESPONDERS */
	int64_t responders_unmatched; /* responses where the regex did not match */
	struct mc_hist *hist;       /* owned: latency in microseconds of recorded requests */
	/* With the timeline option (all owned; NULL and 0 without it). */
	double start_unix;                  /* wall-clock time (epoch seconds) of t = 0, the start of the recorded phase */
	struct mc_load_second *timeline;    /* one per second of the recorded phase, index = second */
	size_t n_timeline;
	struct mc_load_failure *failures;   /* in completion order */
	size_t n_failures;
	int64_t failures_dropped;           /* beyond max_failures */
	struct mc_load_timeline_data *timeline_data; /* each second's latency counts and the label; set whenever
						       the timeline was on */
};

/*
 * Runs the load and fills *res (cleared first; free with
 * mc_load_result_clear, also after a failure). Returns 0 when the run took
 * place, even if every request failed; -EINVAL (bad options or spec, bad
 * regex), -ENOENT (an unreadable TLS file) or -ENOMEM before any traffic.
 */
int mc_load_run(const struct mc_load_options *o, struct mc_load_result *res, char *err, size_t errlen);
void mc_load_result_clear(struct mc_load_result *res);

/*
 * JSON form: {"mode": "closed"|"open", "connections", "streams", "threads",
 * "requests", "responses", "errors", "duration_s", "rate_achieved",
 * "rate_target", "late", "unsent", "abandoned", "warmup_requests", "bytes",
 * "stopped", "warning" (string or null), "codes": {"200": n, ...}, "transport_errors": {"refused": n,
 * ...}, "first_error", "responders": {"v1": n, ...}, "responders_other",
 * "responders_unmatched", "latency_us": histogram (see hist.h)}, and with
 * the timeline: "start_unix", "timeline": [{"t": 0, "sent", "ok", "failed",
 * "p99_ms", "max_ms"}, ...], "failures": [{"t", "path", "error" (a class
 * name, or null for a failure by status), "status", "message"}, ...],
 * "failures_dropped".
 */
cJSON *mc_load_result_json(const struct mc_load_result *res);

/*
 * Merges the timelines of several loads started together into one (*out,
 * the caller frees it; *n_out seconds; NULL and 0 when no part has a
 * timeline). Second 0 is the earliest start_unix; each part's seconds are
 * shifted by its start_unix minus that one, rounded to the nearest
 * second. sent, ok and failed add up, max_us is the largest; p99_us comes
 * from the merged latency counts of the second (the parts keep them, at a
 * resolution of 1/64: within 1.6%), or, for a part that lacks them (built
 * by hand), is the largest of the parts' p99 for that second. Parts
 * without a timeline are skipped. Returns 0, or -EINVAL when parts is NULL
 * with n > 0.
 */
int mc_load_timeline_merge(struct mc_load_result *const *parts, size_t n, struct mc_load_second **out, size_t *n_out);

/* One element of the JSON timeline (second t) and of the failures, as in mc_load_result_json. */
cJSON *mc_load_second_json(const struct mc_load_second *sec, double t);
cJSON *mc_load_failure_json(const struct mc_load_failure *f);

/*
 * Runs bytes of a server's answer through the native HTTP/1.1 path's
 * response parser, in pieces of chunk bytes (0: at once), as they would
 * arrive from the socket: 1 when a whole response was read, 0 when more is
 * needed, -1 when it is malformed. For the fuzz target and tests.
 */
int mc_load_parse_response(const uint8_t *data, size_t len, size_t chunk, long *status);

#endif
