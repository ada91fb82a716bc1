/*
 * The load generator (see load.h).
 *
 * Each worker owns a multi handle driven by curl_multi_socket_action over
 * its own epoll set, and C_k x M easy handles ("slots": M streams on each of
 * its C_k connections, M = 1 unless HTTP/2 multiplexes) duplicated once
 * from a template configured by mc_probe_configure, so a request costs no
 * handle set-up: a finished handle is removed and re-added, and its
 * connection comes back from the multi's pool. Waits use ppoll on the
 * epoll descriptor when the next intended send time is less than a few
 * milliseconds away, because epoll_wait's millisecond timeout would make an
 * open loop late.
 *
 * A keep-alive GET over HTTP/1.1 (plain or TLS, one address, no
 * extraction) skips libcurl: see "the native HTTP/1.1 path" below. Its
 * slots are connections driven by edge-triggered epoll, and it reports
 * results and errors in curl's terms, so both paths count alike. A
 * keep-alive GET or HEAD over HTTP/2 (TLS with ALPN h2, or h2c with prior
 * knowledge) skips it too: see "the native HTTP/2 path", where a slot is
 * one stream of a connection framed by libnghttp2.
 *
 * Workers share nothing but read-only options, an atomic count of requests
 * left (closed loop with a count) and relaxed atomic progress counters; each
 * has its own histogram, counters and responder table, merged at the end.
 * With the timeline option each also keeps its seconds and failures (see
 * "the timeline" below), behind a mutex only when there are several
 * workers, because worker 0 reads them all for the progress callback.
 */
#include "load.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util.h"

#define DEFAULT_CONNECTIONS 10
#define DEFAULT_DURATION 10.0
#define DEFAULT_SLACK 0.001
#define DEFAULT_EXTRACT_MAX (64 * 1024)
#define DEFAULT_HIST_HIGHEST (60LL * 1000 * 1000)
#define MAX_CONNECTIONS 100000
#define MAX_STREAMS 1000
#define MAX_THREADS 64
#define MAX_HEADER_VALUE 1024
#define EVENTS 256
/* Receive buffer of a worker's native connections (one read takes a whole small response). */
#define RAW_RBUF (64 * 1024)
/*
 * HTTP/2 flow-control windows we grant, per stream and per connection
 * (2^30 - 1, as h2load's defaults): the server never waits for a
 * WINDOW_UPDATE, whatever the body sizes.
 */
#define H2_WINDOW ((1 << 30) - 1)
/* Frames gathered for one write on an HTTP/2 connection before it goes out. */
#define H2_OBUF (64 * 1024)
/* Longest sleep between looks at the stop flag in threads a signal does not interrupt. */
#define STOP_POLL_US 50000
/* Below this, waits use ppoll's nanosecond timeout instead of epoll_wait's milliseconds. */
#define FINE_WAIT_US 3000
/* Timeline defaults: a status above this fails a request; failed requests kept with their details. */
#define DEFAULT_OK_STATUS_MAX 399
#define DEFAULT_MAX_FAILURES 10000
/* Per-second latency counts: 2^TL_SUB_BITS sub-buckets per power of two (relative error at most 1/64). */
#define TL_SUB_BITS 6
#define TL_SUB_HALF ((int64_t)1 << TL_SUB_BITS)

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct worker;

/* One easy handle and the request it is running. */
struct slot {
	CURL *easy;
	struct worker *w;
	int64_t start_us;           /* intended send time (open loop) or actual start */
	bool record;
	bool busy;
	char *buf;                  /* extractor input: body prefix or the header's value */
	size_t len;
	size_t cap;
	char errbuf[CURL_ERROR_SIZE];
	/* Native HTTP/1.1 path: the slot is one connection. */
	int fd;                     /* -1: not connected */
	SSL *ssl;
	int state;                  /* RS_* while busy */
	bool reused;                /* the request went out on a kept-alive connection */
	bool retried;
	bool got_any;               /* a byte of the response arrived */
	bool keep;                  /* the connection may carry the next request */
	size_t sent;
	int64_t deadline;           /* the request's timeout */
	int64_t conn_deadline;      /* the connection's set-up timeout */
	long status;
	int body_mode;              /* BODY_* */
	int chunk_state;            /* CH_* */
	int64_t body_left;
	int64_t body_got;
	uint64_t chunk_left;
	char *hbuf;                 /* a header block that arrived in pieces */
	size_t hlen, hcap;
	/* Native HTTP/2 path: the slot is one stream of connection position pos. */
	int pos;
	struct h2conn *hc;          /* the connection carrying or about to carry the request; NULL: none */
	int32_t stream_id;          /* 0: not submitted yet */
};

/* Connection state of the native HTTP/2 path. */
enum {
	HC_CONNECTING = 1,
	HC_HANDSHAKE,
	HC_READY,                   /* the session exists: requests are submitted */
	HC_DEAD,                    /* closed; freed once no slot refers to it */
};

/*
 * One HTTP/2 connection. Position pos owns at most one connection that
 * takes new requests; a connection that may not (the server sent GOAWAY,
 * or it died) is detached from its position and lives on until the
 * streams it still carries are over.
 */
struct h2conn {
	struct worker *w;
	int pos;
	int state;                  /* HC_* */
	int fd;
	SSL *ssl;
	nghttp2_session *ng;
	int active;                 /* slots attached (waiting to be submitted, or streams in flight) */
	int in_use;                 /* > 0 while its events are handled: not freed then */
	bool detached;
	bool dirty;                 /* on the worker's list of connections with frames to write */
	int64_t conn_deadline;
	int64_t started;
	char *obuf;                 /* frames being written */
	size_t olen, ooff, ocap;
	struct h2conn *next_dirty;
	struct h2conn *prev, *next; /* all the worker's connections */
};

/* One second of a worker's timeline. */
struct tl_second {
	int64_t sent, ok, failed;
	int64_t max_us;
	int64_t n_lat;              /* latencies in counts */
	uint32_t *counts;           /* latency counts (see tl_index), grown to the largest index seen; NULL: none */
	uint32_t ncounts;
};

/* A failed request as a worker keeps it: when it finished, for the completion order across workers. */
struct tl_failure {
	int64_t done;
	struct mc_load_failure f;
};

/* What a result keeps of its timeline besides the public arrays. */
struct mc_load_timeline_data {
	char *label;                /* failures[].path points here */
	size_t n;                   /* seconds (the result's n_timeline) */
	uint32_t **counts;          /* per second: latency counts, or NULL */
	uint32_t *ncounts;
};

struct responder_slot {
	char value[MC_LOAD_MAX_VALUE];
	size_t len;
	int64_t count;
};

/* What the native paths send, and where. */
struct raw_target {
	bool on;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *host;                 /* the URL's host, without brackets */
	int port;
	bool host_is_ip;
	SSL_CTX *ctx;               /* https only */
	bool sni;
	bool verify_name;
	char *request;              /* the request's bytes */
	size_t request_len;
	int64_t timeout_us;
	int64_t connect_timeout_us;
	/* HTTP/2 instead of HTTP/1.1: the request as a header list, built once. */
	bool h2;
	nghttp2_nv *nva;
	size_t nvlen;
	char **strs;                /* the strings nva points to */
	size_t nstrs;
	nghttp2_session_callbacks *h2cbs;
};

/* Read-only during the run, except the atomics. */
struct shared {
	struct raw_target raw;
	const struct mc_load_options *o;
	CURL *tmpl;
	int nthreads;
	int64_t t0;                 /* run start */
	int64_t warm_end;           /* start of the recorded phase */
	int64_t end;                /* closed loop: no start at or after it; INT64_MAX: by count */
	double period_us;           /* open loop: intended interval */
	int64_t i_warm;             /* open loop: first recorded index */
	int64_t i_end;              /* open loop: one past the last index */
	int64_t open_stop;          /* open loop: intended time of i_end */
	int64_t slack_us;
	size_t extract_max;
	atomic_llong remaining;     /* closed loop with a count: recorded starts left */
	atomic_int abort;           /* set when the run cannot go on (a worker thread failed to start) */
	/* The timeline (o->timeline). */
	bool timeline;
	bool tl_locked;             /* several workers: each guards its timeline with its mutex */
	long ok_status_max;
	size_t max_failures;        /* per worker, and for the whole run */
	uint32_t tl_max_counts;     /* sub-buckets up to the histogram's highest value */
	int64_t tl_highest;
	/* Worker 0's merged view for the progress callback. */
	struct tl_second *snap_tl;  /* merge scratch: counts of the seconds being rebuilt */
	struct mc_load_second *snap;
	size_t n_snap, cap_snap;
};

struct worker {
	struct shared *sh;
	int id;
	pthread_t thread;
	CURLM *multi;
	int epfd;
	int64_t timer_at;           /* when curl wants CURL_SOCKET_TIMEOUT; -1: never */
	struct slot *slots;
	int nslots;
	struct slot **free;
	int nfree;
	bool intake_closed;         /* no more starts */
	int64_t closed_at;          /* when intake closed */
	int64_t next_index;         /* open loop: next global index (id + j * nthreads) */
	int64_t stopped_at;         /* when the stop flag was seen; 0: not */
	char *rbuf;                 /* native path: receive buffer */
	int64_t raw_next_check;     /* native path: earliest timeout of a request in flight */
	SSL_SESSION *tls_session;   /* native path: resumed by new connections */
	struct h2conn **h2pos;      /* native HTTP/2 path: the connection of each position, or NULL */
	int npos;
	struct h2conn *h2all;       /* every connection, detached ones included */
	struct h2conn *h2dirty;     /* connections with frames to write */
	int64_t h2now;              /* the time of the events being handled, for nghttp2's callbacks */
	bool has_re;
	regex_t re;
	/* Results. */
	struct mc_hist *hist;
	int64_t codes[MC_LOAD_MAX_CODE];
	int64_t codes_other;
	int64_t xfer_errors[MC_XFER_COUNT];
	int64_t responses, errors, warmup, late, unsent, abandoned, bytes;
	int64_t last_done;
	char first_error[256];
	struct responder_slot resp[MC_LOAD_MAX_RESPONDERS];
	size_t n_resp;
	int64_t resp_other, resp_unmatched;
	/* The timeline: index = second since warm_end. */
	struct tl_second *tl;
	size_t n_tl, cap_tl;
	struct tl_failure *fails;
	size_t n_fails, cap_fails;
	int64_t fails_dropped;
	size_t tl_dirty;            /* lowest second changed since the last progress snapshot; SIZE_MAX: none */
	bool tl_mutex_init;
	pthread_mutex_t tl_mutex;
	/* Progress, read by worker 0 while others run. */
	atomic_llong p_requests, p_errors, p_non2xx;
	int rc;
	char err[MC_ERRLEN];
};

/* Grows a slot's extractor buffer to hold need bytes plus a NUL, within the limit. */
static void
slot_keep(struct slot *s, const char *data, size_t len, size_t max)
{
	size_t room = max - s->len;

	if (len > room)
		len = room;
	if (len == 0)
		return;
	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap == 0 ? 1024 : s->cap;

		while (cap < s->len + len + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		s->buf = mc_xrealloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
}

static size_t
on_body_discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

static size_t
on_body_keep(char *data, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;

	slot_keep(s, data, size * n, s->w->sh->extract_max);
	return size * n;
}

/* Keeps the value of the named header of the final response. */
static size_t
on_header_keep(char *data, size_t size, size_t n, void *arg)
{
	struct slot *s = arg;
	const char *name = s->w->sh->o->extract_header;
	size_t len = size * n, nlen = strlen(name);

	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		s->len = 0;                 /* a new response (after 100 Continue) */
		if (s->buf != NULL)
			s->buf[0] = '\0';
	} else if (len > nlen && data[nlen] == ':' && strncasecmp(data, name, nlen) == 0) {
		const char *v = data + nlen + 1, *ve = data + len;

		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == '\r' || ve[-1] == '\n' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		s->len = 0;                 /* the last occurrence wins */
		slot_keep(s, v, (size_t)(ve - v), MAX_HEADER_VALUE);
		if (s->len == 0)
			slot_keep(s, "", 0, MAX_HEADER_VALUE);
	}
	return len;
}

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct worker *w = userp;
	struct epoll_event ev = {0};

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
	ev.data.fd = fd;
	if (socketp == NULL) {
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno == EEXIST)
			epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev);
		/* Any non-NULL pointer marks the descriptor as known to the epoll set. */
		curl_multi_assign(w->multi, fd, w);
	} else if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT) {
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
	return 0;
}

static int
on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct worker *w = userp;

	(void)multi;
	w->timer_at = timeout_ms < 0 ? -1 : now_us() + (int64_t)timeout_ms * 1000;
	return 0;
}

/* Counts the responder named by the extractor's match in s->buf. */
static void
extract(struct worker *w, struct slot *s)
{
	regmatch_t m[2];
	const char *v;
	size_t len;

	if (s->buf == NULL || regexec(&w->re, s->buf, 2, m, 0) != 0) {
		w->resp_unmatched++;
		return;
	}
	if (m[1].rm_so < 0)
		m[1] = m[0];                /* no group 1: the whole match names the responder */
	v = s->buf + m[1].rm_so;
	len = (size_t)(m[1].rm_eo - m[1].rm_so);
	if (len > MC_LOAD_MAX_VALUE - 1)
		len = MC_LOAD_MAX_VALUE - 1;
	for (size_t i = 0; i < w->n_resp; i++)
		if (w->resp[i].len == len && memcmp(w->resp[i].value, v, len) == 0) {
			w->resp[i].count++;
			return;
		}
	if (w->n_resp == MC_LOAD_MAX_RESPONDERS) {
		w->resp_other++;
		return;
	}
	memcpy(w->resp[w->n_resp].value, v, len);
	w->resp[w->n_resp].value[len] = '\0';
	w->resp[w->n_resp].len = len;
	w->resp[w->n_resp].count = 1;
	w->n_resp++;
}

/*
 * --- the timeline ---
 *
 * Each worker keeps an array of seconds (index: seconds since the start of
 * the recorded phase, of the request's intended or actual start time) with
 * sent, ok and failed counts, the largest latency and a small latency
 * histogram, and an array of failed requests (at most max_failures, the
 * rest counted). start() counts a request sent, complete() counts it ok or
 * failed; nothing else touches the timeline, so every path (curl, native
 * HTTP/1.1, native HTTP/2) fills it alike.
 *
 * The per-second histogram has the layout of hist.c with 64 sub-buckets
 * per power of two instead of 1024: a value is off by at most 1/64 (1.6%),
 * enough for a per-second p99. Its counts array is allocated when the
 * second's first latency arrives and grows only to the largest index seen,
 * so a second of millisecond latencies costs about 2 KiB and no second
 * more than about 5 KiB (60 s highest value); the counts stay mergeable
 * (same layout whatever the size), which mc_load_timeline_merge uses.
 */

/* Sub-bucket of value v (0 <= v): hist.c's formula with TL_SUB_BITS. */
static inline size_t
tl_index(int64_t v)
{
	int b = 63 - __builtin_clzll((unsigned long long)v | (unsigned long long)(2 * TL_SUB_HALF - 1)) - TL_SUB_BITS;

	return ((size_t)b << TL_SUB_BITS) + (size_t)(v >> b);
}

/* Largest value of sub-bucket idx. */
static int64_t
tl_highest_of(size_t idx)
{
	int b = idx < 2 * (size_t)TL_SUB_HALF ? 0 : (int)(idx >> TL_SUB_BITS) - 1;

	return ((int64_t)(idx - ((size_t)b << TL_SUB_BITS)) << b) + (((int64_t)1 << b) - 1);
}

/* The value at percentile p of n latencies in counts (as mc_hist_percentile: the bucket's top, capped at max). */
static int64_t
tl_percentile(const uint32_t *counts, size_t ncounts, int64_t n, int64_t max, double p)
{
	int64_t rank = (int64_t)ceil(p / 100 * (double)n - 1e-9), seen = 0;

	if (n <= 0 || counts == NULL)
		return 0;
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < ncounts; i++) {
		seen += counts[i];
		if (seen >= rank) {
			int64_t v = tl_highest_of(i);

			return v < max ? v : max;
		}
	}
	return max;
}

/* Adds src's latency counts to dst's, growing dst's array as needed. */
static void
tl_add_counts(uint32_t **dst, uint32_t *ndst, const uint32_t *src, uint32_t nsrc)
{
	if (src == NULL || nsrc == 0)
		return;
	if (*ndst < nsrc) {
		*dst = mc_xrealloc(*dst, nsrc * sizeof(**dst));
		memset(*dst + *ndst, 0, (nsrc - *ndst) * sizeof(**dst));
		*ndst = nsrc;
	}
	for (uint32_t i = 0; i < nsrc; i++)
		(*dst)[i] += src[i];
}

static inline void
tl_lock(struct worker *w)
{
	if (w->sh->tl_locked)
		pthread_mutex_lock(&w->tl_mutex);
}

static inline void
tl_unlock(struct worker *w)
{
	if (w->sh->tl_locked)
		pthread_mutex_unlock(&w->tl_mutex);
}

/* Second of start time t (microseconds, monotonic); before the recorded phase counts as second 0. */
static inline size_t
tl_second_of(const struct shared *sh, int64_t t)
{
	return t > sh->warm_end ? (size_t)((t - sh->warm_end) / 1000000) : 0;
}

/* The worker's second k, created (zeroed) with those before it. Called with the lock held. */
static struct tl_second *
tl_at(struct worker *w, size_t k)
{
	if (k >= w->n_tl) {
		if (k >= w->cap_tl) {
			size_t cap = w->cap_tl == 0 ? 16 : w->cap_tl;

			while (cap <= k)
				cap *= 2;
			w->tl = mc_xrealloc(w->tl, cap * sizeof(*w->tl));
			w->cap_tl = cap;
		}
		memset(w->tl + w->n_tl, 0, (k + 1 - w->n_tl) * sizeof(*w->tl));
		w->n_tl = k + 1;
	}
	if (k < w->tl_dirty)
		w->tl_dirty = k;
	return &w->tl[k];
}

/* A recorded request started at start_us. */
static void
tl_sent(struct worker *w, int64_t start_us)
{
	size_t k = tl_second_of(w->sh, start_us);

	tl_lock(w);
	tl_at(w, k)->sent++;
	tl_unlock(w);
}

/*
 * A recorded request finished at now: a response with status (response
 * true) or the transport error e with message msg.
 */
static void
tl_done(struct worker *w, const struct slot *s, bool response, long status, enum mc_xfer_error e, const char *msg,
	int64_t now)
{
	const struct shared *sh = w->sh;
	bool failed = !response || status > sh->ok_status_max;
	struct tl_second *t;

	tl_lock(w);
	t = tl_at(w, tl_second_of(sh, s->start_us));
	if (failed)
		t->failed++;
	else
		t->ok++;
	if (response) {
		int64_t lat = now - s->start_us, v = lat;
		size_t idx;

		if (v < 0)
			v = 0;
		if (v > sh->tl_highest)
			v = sh->tl_highest;
		idx = tl_index(v);
		if (idx >= t->ncounts) {
			/* Grown to a little past the index (not beyond the highest value's), so neighbours cost no realloc. */
			uint32_t n = (uint32_t)idx + 1 + TL_SUB_HALF / 2;

			if (n > sh->tl_max_counts)
				n = sh->tl_max_counts;
			t->counts = mc_xrealloc(t->counts, n * sizeof(*t->counts));
			memset(t->counts + t->ncounts, 0, (n - t->ncounts) * sizeof(*t->counts));
			t->ncounts = n;
		}
		t->counts[idx]++;
		t->n_lat++;
		if (lat > t->max_us)
			t->max_us = lat;
	}
	if (failed) {
		if (w->n_fails < sh->max_failures) {
			struct tl_failure *f;

			if (w->n_fails == w->cap_fails) {
				w->cap_fails = w->cap_fails == 0 ? 64 : w->cap_fails * 2;
				if (w->cap_fails > sh->max_failures)
					w->cap_fails = sh->max_failures;
				w->fails = mc_xrealloc(w->fails, w->cap_fails * sizeof(*w->fails));
			}
			f = &w->fails[w->n_fails++];
			f->done = now;
			f->f.t = s->start_us > sh->warm_end ? (double)(s->start_us - sh->warm_end) / 1e6 : 0;
			f->f.path = NULL;
			f->f.error = response ? MC_XFER_OK : e;
			f->f.status = response ? status : 0;
			if (response)
				snprintf(f->f.message, sizeof(f->f.message), "HTTP status %ld", status);
			else
				snprintf(f->f.message, sizeof(f->f.message), "%s", msg);
		} else {
			w->fails_dropped++;
		}
	}
	tl_unlock(w);
}

/*
 * Worker 0, for the progress callback: brings sh->snap up to date with
 * every worker's timeline. Only the seconds changed since the last call
 * are rebuilt (usually the last one or two).
 */
static void
tl_snapshot(struct worker *workers, int n)
{
	struct shared *sh = workers[0].sh;
	size_t from = SIZE_MAX, len = 0;

	for (int i = 0; i < n; i++) {
		tl_lock(&workers[i]);
		if (workers[i].tl_dirty < from)
			from = workers[i].tl_dirty;
		if (workers[i].n_tl > len)
			len = workers[i].n_tl;
	}
	if (len > sh->cap_snap) {
		size_t cap = sh->cap_snap == 0 ? 16 : sh->cap_snap;

		while (cap < len)
			cap *= 2;
		sh->snap = mc_xrealloc(sh->snap, cap * sizeof(*sh->snap));
		sh->snap_tl = mc_xrealloc(sh->snap_tl, cap * sizeof(*sh->snap_tl));
		memset(sh->snap_tl + sh->cap_snap, 0, (cap - sh->cap_snap) * sizeof(*sh->snap_tl));
		sh->cap_snap = cap;
	}
	if (len > sh->n_snap) {
		memset(sh->snap + sh->n_snap, 0, (len - sh->n_snap) * sizeof(*sh->snap));
		if (from > sh->n_snap)
			from = sh->n_snap;
		sh->n_snap = len;
	}
	for (size_t k = from; k < len; k++) {
		struct tl_second *m = &sh->snap_tl[k];
		struct mc_load_second *o = &sh->snap[k];

		m->sent = m->ok = m->failed = m->max_us = m->n_lat = 0;
		if (m->counts != NULL)
			memset(m->counts, 0, m->ncounts * sizeof(*m->counts));
		for (int i = 0; i < n; i++) {
			const struct tl_second *t;

			if (k >= workers[i].n_tl)
				continue;
			t = &workers[i].tl[k];
			m->sent += t->sent;
			m->ok += t->ok;
			m->failed += t->failed;
			m->n_lat += t->n_lat;
			if (t->max_us > m->max_us)
				m->max_us = t->max_us;
			tl_add_counts(&m->counts, &m->ncounts, t->counts, t->ncounts);
		}
		o->sent = m->sent;
		o->ok = m->ok;
		o->failed = m->failed;
		o->max_us = m->max_us;
		o->p99_us = tl_percentile(m->counts, m->ncounts, m->n_lat, m->max_us, 99);
	}
	for (int i = 0; i < n; i++) {
		workers[i].tl_dirty = SIZE_MAX;
		tl_unlock(&workers[i]);
	}
	/* Seconds wholly in the past will not change again but by late answers: their scratch counts can go. */
	for (size_t k = 0; k + 16 < from && k < len; k++)
		if (sh->snap_tl[k].counts != NULL) {
			free(sh->snap_tl[k].counts);
			sh->snap_tl[k].counts = NULL;
			sh->snap_tl[k].ncounts = 0;
		}
}

static void raw_start(struct worker *w, struct slot *s, int64_t now);
static void h2_start(struct worker *w, struct slot *s, int64_t now);

static void
start(struct worker *w, int64_t start_us, bool record)
{
	struct slot *s = w->free[--w->nfree];

	s->start_us = start_us;
	s->record = record;
	s->busy = true;
	s->len = 0;
	if (s->buf != NULL)
		s->buf[0] = '\0';
	s->errbuf[0] = '\0';
	if (w->sh->timeline && record)
		tl_sent(w, start_us);
	if (w->sh->raw.on && w->sh->raw.h2)
		h2_start(w, s, w->sh->o->rate > 0 ? now_us() : start_us);
	else if (w->sh->raw.on)
		raw_start(w, s, w->sh->o->rate > 0 ? now_us() : start_us);
	else
		curl_multi_add_handle(w->multi, s->easy);
}

/*
 * Records a finished request and frees its slot: rc CURLE_OK with the
 * status and body size, or a transport error with the OS errno and the
 * message in s->errbuf (curl's, or the native path's in curl's words).
 */
static void
complete(struct worker *w, struct slot *s, CURLcode rc, long status, int64_t size, long os_errno, int64_t now)
{
	s->busy = false;
	w->free[w->nfree++] = s;
	if (!s->record) {
		w->warmup++;
		return;
	}
	if (rc == CURLE_OK) {
		w->bytes += size;
		if (status >= 0 && status < MC_LOAD_MAX_CODE)
			w->codes[status]++;
		else
			w->codes_other++;
		w->responses++;
		mc_hist_record(w->hist, now - s->start_us);
		if (w->has_re)
			extract(w, s);
		if (status < 200 || status > 299)
			atomic_store_explicit(&w->p_non2xx, atomic_load_explicit(&w->p_non2xx, memory_order_relaxed) + 1,
					      memory_order_relaxed);
		if (w->sh->timeline)
			tl_done(w, s, true, status, MC_XFER_OK, NULL, now);
	} else {
		enum mc_xfer_error e;

		if (s->errbuf[0] == '\0')
			snprintf(s->errbuf, sizeof(s->errbuf), "%s", curl_easy_strerror(rc));
		e = mc_xfer_error_classify(rc, os_errno, s->errbuf);
		if (e == MC_XFER_OK)
			e = MC_XFER_OTHER;
		w->xfer_errors[e]++;
		w->errors++;
		if (w->first_error[0] == '\0')
			snprintf(w->first_error, sizeof(w->first_error), "%s: %.200s", mc_xfer_error_name(e), s->errbuf);
		atomic_store_explicit(&w->p_errors, w->errors, memory_order_relaxed);
		if (w->sh->timeline)
			tl_done(w, s, false, 0, e, s->errbuf, now);
	}
	if (now > w->last_done)
		w->last_done = now;
	atomic_store_explicit(&w->p_requests, w->responses + w->errors, memory_order_relaxed);
}

/* Records a transfer curl finished. */
static void
finish(struct worker *w, struct slot *s, CURLcode rc, int64_t now)
{
	long status = 0, os_errno = 0;
	curl_off_t size = 0;

	curl_multi_remove_handle(w->multi, s->easy);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(s->easy, CURLINFO_SIZE_DOWNLOAD_T, &size);
	} else {
		curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &os_errno);
	}
	complete(w, s, rc, status, (int64_t)size, os_errno, now);
}

static void raw_step(struct worker *w, struct slot *s, int64_t now);

/*
 * --- the native HTTP/1.1 path ---
 *
 * libcurl spends about 30 us of CPU on a keep-alive HTTP/1.1 request (a
 * liveness poll and a readiness poll per transfer, URL parsing, header
 * building, a dozen allocations), which makes the client, not the server,
 * the bottleneck of a load on a few cores. For the common case the engine
 * speaks HTTP/1.1 itself: the request bytes are built once (as curl would
 * word them), each connection is registered once with edge-triggered
 * epoll, and a request costs one send and one read. Responses are parsed
 * for the status, Content-Length, chunked encoding and Connection; a
 * kept-alive connection that died idle gets the request again once, on a
 * new connection, as curl does.
 */

/* Connection state of a native slot. */
enum {
	RS_CONNECTING = 1,
	RS_HANDSHAKE,
	RS_SEND,
	RS_HEAD,
	RS_BODY,
};

/* How the end of a response body is found. */
enum {
	BODY_NONE,
	BODY_LENGTH,
	BODY_CHUNKED,
	BODY_CLOSE,
};

/* Chunked decoding steps. */
enum {
	CH_SIZE,
	CH_EXT,
	CH_DATA,
	CH_DATA_END,
	CH_TRAILER,
	CH_TRAILER_LINE,
};

static void
raw_close(struct slot *s)
{
	if (s->ssl != NULL) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);           /* also leaves the epoll set */
		s->fd = -1;
	}
	s->hlen = 0;
}

/* Ends the request in flight with a transport error described like curl does. */
static void __attribute__((format(printf, 6, 7)))
raw_fail(struct worker *w, struct slot *s, int64_t now, CURLcode rc, long os_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	raw_close(s);
	complete(w, s, rc, 0, 0, os_errno, now);
}

/*
 * Opens a non-blocking TCP socket to the target, registered with the
 * worker's epoll set (tag: what its events point to), and starts
 * connecting. The descriptor, or -1 with curl's code, the errno and
 * curl's wording in errbuf.
 */
static int
raw_dial(struct worker *w, void *tag, char *errbuf, size_t errlen, CURLcode *rc, long *os_errno)
{
	const struct raw_target *t = &w->sh->raw;
	struct epoll_event ev = {0};
	int one = 1, fd, e;

	*rc = CURLE_COULDNT_CONNECT;
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*os_errno = errno;
		snprintf(errbuf, errlen, "Could not create a socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/*
	 * Edge-triggered, both directions, once for the connection's life:
	 * a request then costs no epoll_ctl, only its write and its read.
	 */
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = tag;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		e = errno;
		close(fd);
		*os_errno = e;
		snprintf(errbuf, errlen, "epoll_ctl: %s", strerror(e));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
		e = errno;
		close(fd);
		*os_errno = e;
		snprintf(errbuf, errlen, "Failed to connect to %s port %d after 0 ms: %s", t->host, t->port, strerror(e));
		return -1;
	}
	return fd;
}

/* Where a non-blocking connect stands: 1 connected, 0 still in progress, or minus the errno of its failure. */
static int
raw_connected(int fd)
{
	struct sockaddr_storage peer;
	socklen_t el, pl = sizeof(peer);
	int e = 0;

	el = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e != 0)
		return -e;
	/* Not connected yet and no error: the connect is still in progress. */
	return getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ? 0 : 1;
}

/* Starts a connection: TCP connect, then (https) the handshake. 0 or -1 after raw_fail. */
static int
raw_connect(struct worker *w, struct slot *s, int64_t now)
{
	const struct raw_target *t = &w->sh->raw;
	char msg[CURL_ERROR_SIZE];
	CURLcode rc;
	long e = 0;

	s->fd = raw_dial(w, s, msg, sizeof(msg), &rc, &e);
	if (s->fd < 0) {
		raw_fail(w, s, now, rc, e, "%s", msg);
		return -1;
	}
	s->conn_deadline = now + t->connect_timeout_us;
	if (s->conn_deadline < w->raw_next_check)
		w->raw_next_check = s->conn_deadline;
	s->reused = false;
	s->state = RS_CONNECTING;
	return 0;
}

/* Gives the request to a free slot; its connection is kept from the previous request when it can be. */
static void
raw_start(struct worker *w, struct slot *s, int64_t now)
{
	s->deadline = now + w->sh->raw.timeout_us;
	if (s->deadline < w->raw_next_check)
		w->raw_next_check = s->deadline;
	s->retried = false;
	s->got_any = false;
	s->sent = 0;
	s->hlen = 0;
	s->body_got = 0;
	if (s->fd < 0) {
		if (raw_connect(w, s, now) < 0)
			return;
	} else {
		s->reused = true;
		s->state = RS_SEND;
	}
	raw_step(w, s, now);
}

/*
 * A kept-alive connection died under a request that got no answer: the
 * server closed it while it was idle. Like curl, send the request once more
 * on a new connection. Returns true when it did.
 */
static bool
raw_retry(struct worker *w, struct slot *s, int64_t now)
{
	if (!s->reused || s->retried || s->got_any)
		return false;
	raw_close(s);
	s->retried = true;
	s->sent = 0;
	if (raw_connect(w, s, now) == 0)
		raw_step(w, s, now);
	return true;
}

/*
 * Reads into buf from a plain or TLS connection: bytes read, 0 at the end
 * of the stream, -1 when it would block, -2 on an error (errbuf set).
 */
static ssize_t
raw_read(int fd, SSL *ssl, char *buf, size_t cap, long *os_errno, char *errbuf, size_t errlen)
{
	ssize_t n;

	if (ssl == NULL) {
		n = read(fd, buf, cap);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			return -1;
		*os_errno = errno;
		snprintf(errbuf, errlen, "Recv failure: %s", strerror(errno));
		return -2;
	}
	n = SSL_read(ssl, buf, (int)(cap > INT_MAX ? INT_MAX : cap));
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, (int)n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		*os_errno = errno;
		snprintf(errbuf, errlen, "Recv failure: %s", strerror(errno));
		ERR_clear_error();
		return -2;
	default: {
		char msg[200];

		ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
		snprintf(errbuf, errlen, "OpenSSL SSL_read: %s", msg);
		ERR_clear_error();
		return -2;
	}
	}
}

/* Writes to a plain or TLS connection: bytes written, 0 when it would block, -1 on an error (errbuf set). */
static ssize_t
raw_write(int fd, SSL *ssl, const char *p, size_t len, long *os_errno, char *errbuf, size_t errlen)
{
	ssize_t n;

	if (ssl == NULL) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		*os_errno = errno;
		snprintf(errbuf, errlen, "Send failure: %s", strerror(errno));
		return -1;
	}
	n = SSL_write(ssl, p, (int)(len > INT_MAX ? INT_MAX : len));
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, (int)n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_SYSCALL:
		*os_errno = errno;
		break;
	default:
		*os_errno = 0;
		break;
	}
	snprintf(errbuf, errlen, "Send failure: %s", *os_errno != 0 ? strerror((int)*os_errno) : "TLS error");
	ERR_clear_error();
	return -1;
}

/* Writes what is left of the request: 1 all sent, 0 would block, -1 on an error (errbuf set). */
static int
raw_send(struct worker *w, struct slot *s, long *os_errno)
{
	const struct raw_target *t = &w->sh->raw;

	while (s->sent < t->request_len) {
		ssize_t n = raw_write(s->fd, s->ssl, t->request + s->sent, t->request_len - s->sent, os_errno,
				      s->errbuf, sizeof(s->errbuf));

		if (n <= 0)
			return (int)n;
		s->sent += (size_t)n;
	}
	return 1;
}

/*
 * Drives the TLS handshake of a connected socket (creating *sslp on the
 * first call): 1 done, 0 would block, -1 failed, with curl's code, the
 * errno and curl's wording in errbuf.
 */
static int
raw_tls_step(struct worker *w, SSL **sslp, int fd, char *errbuf, size_t errlen, CURLcode *rc, long *os_errno)
{
	const struct raw_target *t = &w->sh->raw;
	int n, e;

	if (*sslp == NULL) {
		*sslp = SSL_new(t->ctx);
		if (*sslp == NULL || SSL_set_fd(*sslp, fd) != 1) {
			*rc = CURLE_SSL_CONNECT_ERROR;
			*os_errno = 0;
			snprintf(errbuf, errlen, "SSL: cannot create a connection");
			return -1;
		}
		if (t->sni)
			SSL_set_tlsext_host_name(*sslp, t->host);
		if (t->verify_name) {
			if (t->host_is_ip)
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(*sslp), t->host);
			else
				SSL_set1_host(*sslp, t->host);
		}
		if (w->tls_session != NULL)
			SSL_set_session(*sslp, w->tls_session);
		SSL_set_connect_state(*sslp);
	}
	n = SSL_connect(*sslp);
	if (n == 1) {
		/* Resumption for the next connection of this worker, as curl's session cache does. */
		if (w->tls_session == NULL)
			w->tls_session = SSL_get1_session(*sslp);
		return 1;
	}
	e = SSL_get_error(*sslp, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	*os_errno = 0;
	if (SSL_get_verify_result(*sslp) != X509_V_OK) {
		long v = SSL_get_verify_result(*sslp);

		ERR_clear_error();
		*rc = CURLE_PEER_FAILED_VERIFICATION;
		snprintf(errbuf, errlen, "SSL certificate problem: %s", X509_verify_cert_error_string(v));
	} else if (e == SSL_ERROR_SYSCALL) {
		int en = errno;

		ERR_clear_error();
		*rc = CURLE_SSL_CONNECT_ERROR;
		*os_errno = en;
		snprintf(errbuf, errlen, "OpenSSL SSL_connect: %s in connection to %s:%d",
			 en != 0 ? strerror(en) : "connection closed", t->host, t->port);
	} else {
		char msg[200];

		ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
		ERR_clear_error();
		*rc = CURLE_SSL_CONNECT_ERROR;
		snprintf(errbuf, errlen, "OpenSSL SSL_connect: %s", msg);
	}
	return -1;
}

/* Drives the TLS handshake of a slot's connection: 1 done, 0 would block, -1 after raw_fail. */
static int
raw_handshake(struct worker *w, struct slot *s, int64_t now)
{
	char msg[CURL_ERROR_SIZE];
	CURLcode rc = CURLE_OK;
	long e = 0;
	int n = raw_tls_step(w, &s->ssl, s->fd, msg, sizeof(msg), &rc, &e);

	if (n < 0)
		raw_fail(w, s, now, rc, e, "%s", msg);
	return n;
}

/* Case-insensitive search of a token in a header value. */
static bool
has_token(const char *v, size_t len, const char *tok)
{
	size_t n = strlen(tok);

	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(v + i, tok, n) == 0)
			return true;
	return false;
}

/*
 * Parses a complete response header block (len bytes up to and including
 * its empty line). Returns 0, or -1 when it is not HTTP/1.x.
 */
static int
raw_parse_head(struct slot *s, const char *p, size_t len)
{
	const char *end = p + len, *line, *eol;
	bool http10, keepalive = false, close_conn = false, chunked = false;
	int64_t length = -1;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '0' || p[9] > '9' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
		return -1;
	http10 = p[7] == '0';
	s->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	line = memchr(p, '\n', len);
	for (line = line + 1; line < end; line = eol + 1) {
		const char *colon, *v, *ve;
		size_t nlen;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			break;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL)
			continue;
		nlen = (size_t)(colon - line);
		v = colon + 1;
		ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
			char *e;

			length = strtoll(v, &e, 10);
			if (e == v || length < 0)
				return -1;
		} else if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
			chunked = has_token(v, (size_t)(ve - v), "chunked");
		} else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
			close_conn = has_token(v, (size_t)(ve - v), "close");
			keepalive = has_token(v, (size_t)(ve - v), "keep-alive");
		}
	}
	s->keep = !close_conn && (!http10 || keepalive);
	s->body_got = 0;
	if (s->status == 204 || s->status == 304 || (s->status >= 100 && s->status < 200)) {
		s->body_mode = BODY_NONE;
	} else if (chunked) {
		s->body_mode = BODY_CHUNKED;
		s->chunk_state = CH_SIZE;
		s->chunk_left = 0;
	} else if (length >= 0) {
		s->body_mode = BODY_LENGTH;
		s->body_left = length;
	} else {
		s->body_mode = BODY_CLOSE;
		s->keep = false;
	}
	return 0;
}

/* Consumes body bytes: returns how many belong to this response; sets *done at its end. -1: bad chunking. */
static ssize_t
raw_body(struct slot *s, const char *p, size_t len, bool *done)
{
	size_t i = 0;

	switch (s->body_mode) {
	case BODY_NONE:
		*done = true;
		return 0;
	case BODY_CLOSE:
		s->body_got += (int64_t)len;
		return (ssize_t)len;
	case BODY_LENGTH: {
		size_t n = (uint64_t)s->body_left < len ? (size_t)s->body_left : len;

		s->body_left -= (int64_t)n;
		s->body_got += (int64_t)n;
		*done = s->body_left == 0;
		return (ssize_t)n;
	}
	}
	while (i < len) {
		char c = p[i];

		switch (s->chunk_state) {
		case CH_SIZE:
			i++;
			if (c >= '0' && c <= '9')
				s->chunk_left = s->chunk_left * 16 + (uint64_t)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				s->chunk_left = s->chunk_left * 16 + (uint64_t)((c | 0x20) - 'a' + 10);
			else if (c == ';' || c == ' ' || c == '\t' || c == '\r')
				s->chunk_state = CH_EXT;
			else if (c == '\n')
				s->chunk_state = s->chunk_left > 0 ? CH_DATA : CH_TRAILER;
			else
				return -1;
			if (s->chunk_left > ((uint64_t)1 << 56))
				return -1;
			break;
		case CH_EXT:
			i++;
			if (c == '\n')
				s->chunk_state = s->chunk_left > 0 ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t n = s->chunk_left < len - i ? (size_t)s->chunk_left : len - i;

			i += n;
			s->chunk_left -= n;
			s->body_got += (int64_t)n;
			if (s->chunk_left == 0)
				s->chunk_state = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
			i++;
			if (c == '\n')
				s->chunk_state = CH_SIZE;
			else if (c != '\r')
				return -1;
			break;
		case CH_TRAILER:
			i++;
			if (c == '\n') {
				*done = true;
				return (ssize_t)i;
			}
			if (c != '\r')
				s->chunk_state = CH_TRAILER_LINE;
			break;
		case CH_TRAILER_LINE:
			i++;
			if (c == '\n')
				s->chunk_state = CH_TRAILER;
			break;
		}
	}
	return (ssize_t)i;
}

/* End of the header block in p[0..len): offset past its empty line, or 0 when not there yet. */
static size_t
head_end(const char *p, size_t len, size_t from)
{
	const char *nl;

	while (from < len && (nl = memchr(p + from, '\n', len - from)) != NULL) {
		size_t i = (size_t)(nl - p) + 1;

		if (i < len && p[i] == '\n')
			return i + 1;
		if (i + 1 < len && p[i] == '\r' && p[i + 1] == '\n')
			return i + 2;
		from = i;
	}
	return 0;
}

/*
 * Feeds received bytes to the response parser. Returns 1 when the response
 * is complete, 0 when more is needed, -1 on a malformed response.
 */
static int
raw_consume(struct slot *s, const char *p, size_t len)
{
	while (len > 0) {
		bool done = false;
		ssize_t used;

		if (s->state == RS_HEAD) {
			size_t at, old = s->hlen;
			const char *h = p;
			size_t hl = len;

			if (old > 0) {
				/* The block arrived in pieces: gather it in the slot's buffer. */
				if (old + len > MC_PROBE_MAX_HEADERS)
					return -1;
				if (old + len > s->hcap) {
					s->hcap = old + len + 1024;
					s->hbuf = mc_xrealloc(s->hbuf, s->hcap);
				}
				memcpy(s->hbuf + old, p, len);
				s->hlen += len;
				h = s->hbuf;
				hl = s->hlen;
			}
			at = head_end(h, hl, old > 3 ? old - 3 : 0);
			if (at == 0) {
				if (old == 0) {
					if (len > MC_PROBE_MAX_HEADERS)
						return -1;
					if (len > s->hcap) {
						s->hcap = len + 1024;
						s->hbuf = mc_xrealloc(s->hbuf, s->hcap);
					}
					memcpy(s->hbuf, p, len);
					s->hlen = len;
				}
				return 0;
			}
			if (raw_parse_head(s, h, at) < 0)
				return -1;
			/* Bytes of p after the block. */
			used = (ssize_t)(at - old);
			s->hlen = 0;
			p += used;
			len -= (size_t)used;
			if (s->status >= 100 && s->status < 200) {
				if (s->status == 101)
					return -1;
				continue;       /* an interim response: the real one follows */
			}
			s->state = RS_BODY;
			if (s->body_mode == BODY_NONE || (s->body_mode == BODY_LENGTH && s->body_left == 0)) {
				/* Bytes after the response were not asked for: do not trust the connection. */
				if (len > 0)
					s->keep = false;
				return 1;
			}
			continue;
		}
		used = raw_body(s, p, len, &done);
		if (used < 0)
			return -1;
		if (done) {
			/* Bytes after the response were not asked for: do not trust the connection. */
			if ((size_t)used < len)
				s->keep = false;
			return 1;
		}
		p += used;
		len -= (size_t)used;
	}
	return 0;
}

/* Finishes a response: recorded, and the connection kept for the slot's next request or closed. */
static void
raw_done(struct worker *w, struct slot *s, int64_t now)
{
	if (!s->keep)
		raw_close(s);
	complete(w, s, CURLE_OK, s->status, s->body_got, 0, now);
}

/* Advances a busy slot as far as its socket allows. */
static void
raw_step(struct worker *w, struct slot *s, int64_t now)
{
	const struct raw_target *t = &w->sh->raw;
	long os_errno = 0;
	int rc;

	switch (s->state) {
	case RS_CONNECTING: {
		int e = raw_connected(s->fd);

		if (e == 0)
			return;
		if (e < 0) {
			raw_fail(w, s, now, CURLE_COULDNT_CONNECT, -e, "Failed to connect to %s port %d after %lld ms: %s",
				 t->host, t->port, (long long)((now - (s->conn_deadline - t->connect_timeout_us)) / 1000),
				 strerror(-e));
			return;
		}
		s->state = t->ctx != NULL ? RS_HANDSHAKE : RS_SEND;
		if (s->state == RS_SEND)
			break;
	}
		/* fall through */
	case RS_HANDSHAKE:
		s->state = RS_HANDSHAKE;
		rc = raw_handshake(w, s, now);
		if (rc <= 0)
			return;
		s->state = RS_SEND;
		break;
	default:
		break;
	}
	if (s->state == RS_SEND) {
		rc = raw_send(w, s, &os_errno);
		if (rc == 0)
			return;
		if (rc < 0) {
			if (!raw_retry(w, s, now))
				raw_fail(w, s, now, CURLE_SEND_ERROR, os_errno, "%s", s->errbuf);
			return;
		}
		s->state = RS_HEAD;
		s->hlen = 0;
		s->got_any = false;
		/*
		 * No read now: the answer cannot be there yet, and its arrival
		 * raises a fresh edge. Trying would cost a read per request that
		 * only returns EAGAIN.
		 */
		return;
	}
	for (;;) {
		ssize_t n = raw_read(s->fd, s->ssl, w->rbuf, RAW_RBUF, &os_errno, s->errbuf, sizeof(s->errbuf));

		if (n == -1)
			return;
		if (n == -2) {
			if (!raw_retry(w, s, now))
				raw_fail(w, s, now, CURLE_RECV_ERROR, os_errno, "%s", s->errbuf);
			return;
		}
		if (n == 0) {
			if (s->state == RS_BODY && s->body_mode == BODY_CLOSE) {
				raw_done(w, s, now);
			} else if (raw_retry(w, s, now)) {
				/* sent again on a new connection */
			} else if (!s->got_any) {
				raw_fail(w, s, now, CURLE_GOT_NOTHING, 0, "Empty reply from server");
			} else if (s->state == RS_BODY && s->body_mode == BODY_LENGTH) {
				raw_fail(w, s, now, CURLE_PARTIAL_FILE, 0, "transfer closed with %lld bytes remaining to read",
					 (long long)s->body_left);
			} else {
				raw_fail(w, s, now, CURLE_PARTIAL_FILE, 0, "transfer closed in the middle of the response");
			}
			return;
		}
		s->got_any = true;
		rc = raw_consume(s, w->rbuf, (size_t)n);
		if (rc < 0) {
			raw_fail(w, s, now, CURLE_WEIRD_SERVER_REPLY, 0, "Unsupported or malformed HTTP/1.1 response");
			return;
		}
		if (rc > 0) {
			raw_done(w, s, now);
			return;
		}
	}
}

/* An event on a native connection. */
static void
raw_event(struct worker *w, struct slot *s, uint32_t events, int64_t now)
{
	if (!s->busy) {
		char c;

		/*
		 * An idle kept-alive connection: a close or an error ends it, and
		 * so does data nobody asked for. A read edge with nothing to
		 * read is the tail of the last response's arrival: harmless.
		 */
		if (s->fd < 0)
			return;
		if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
		    ((events & EPOLLIN) && recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0))
			raw_close(s);
		return;
	}
	raw_step(w, s, now);
}

/* Ends the native requests whose connect or total time is up; sets the next time to look. */
static void
raw_timeouts(struct worker *w, int64_t now)
{
	const struct raw_target *t = &w->sh->raw;
	int64_t next = INT64_MAX;

	for (int i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
		bool connecting;

		if (!s->busy)
			continue;
		connecting = s->state == RS_CONNECTING || s->state == RS_HANDSHAKE;
		if (now >= s->deadline) {
			raw_fail(w, s, now, CURLE_OPERATION_TIMEDOUT, ETIMEDOUT,
				 "Operation timed out after %lld milliseconds with %lld bytes received",
				 (long long)(t->timeout_us / 1000), (long long)s->body_got);
			continue;
		}
		if (connecting && now >= s->conn_deadline) {
			raw_fail(w, s, now, CURLE_OPERATION_TIMEDOUT, ETIMEDOUT, "Connection timed out after %lld milliseconds",
				 (long long)(t->connect_timeout_us / 1000));
			continue;
		}
		if (s->deadline < next)
			next = s->deadline;
		if (connecting && s->conn_deadline < next)
			next = s->conn_deadline;
	}
	w->raw_next_check = next;
}

/*
 * --- the native HTTP/2 path ---
 *
 * libcurl 7.88 writes each stream's HEADERS with its own send and polls
 * between transfers, so one connection carrying 64 streams spends most of
 * its time in system calls. Here libnghttp2 does the framing and HPACK,
 * and the engine the I/O: the request's header list is built once, every
 * request a loop turn starts is submitted to its connection's session,
 * and then each connection with something to say writes all its pending
 * frames (HEADERS of new streams, WINDOW_UPDATE, SETTINGS and PING
 * acknowledgements) in one write; reads take whatever the socket holds.
 *
 * Connections are set up as the HTTP/1.1 path's (same TLS context
 * settings, verification, client certificate, SNI, resumption and
 * timeouts), with ALPN h2, or without TLS for h2c with prior knowledge.
 * Slot i is a stream of connection position i / M. Requests started while
 * their connection is being set up wait and go out with the session's
 * first flight. A stream the server refused (RST_STREAM REFUSED_STREAM, or
 * beyond the last stream of a GOAWAY) never reached the application: like
 * curl, the engine sends it once more, on a new connection when the old
 * one takes no more. Other resets and a connection lost under its streams
 * are errors in curl's terms.
 */

static void h2_flush(struct worker *w, struct h2conn *c, int64_t now);

/* Puts a connection on the worker's list of those with frames to write. */
static void
h2_dirty(struct worker *w, struct h2conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = w->h2dirty;
	w->h2dirty = c;
}

static void
h2_conn_close(struct h2conn *c)
{
	if (c->ng != NULL) {
		nghttp2_session_del(c->ng);
		c->ng = NULL;
	}
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);           /* also leaves the epoll set */
		c->fd = -1;
	}
	c->olen = c->ooff = 0;
	c->state = HC_DEAD;
}

static void
h2_conn_free(struct worker *w, struct h2conn *c)
{
	h2_conn_close(c);
	if (w->h2pos[c->pos] == c)
		w->h2pos[c->pos] = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->h2all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->obuf);
	free(c);
}

/* Frees a connection nothing needs any more: detached, no slot on it, not being handled, nothing to write. */
static void
h2_gc(struct worker *w, struct h2conn *c)
{
	if (c->detached && c->active == 0 && c->in_use == 0 && !c->dirty)
		h2_conn_free(w, c);
}

/* Takes a connection away from its position: it carries its streams to their end but no new ones. */
static void
h2_detach(struct worker *w, struct h2conn *c)
{
	if (w->h2pos[c->pos] == c)
		w->h2pos[c->pos] = NULL;
	c->detached = true;
	h2_gc(w, c);
}

/* Whether a connection takes new requests. */
static bool
h2_usable(const struct h2conn *c)
{
	return c->state != HC_DEAD && (c->ng == NULL || nghttp2_session_check_request_allowed(c->ng));
}

/* Unhooks a slot from its connection. */
static void
h2_release(struct worker *w, struct slot *s)
{
	struct h2conn *c = s->hc;

	s->hc = NULL;
	s->stream_id = 0;
	if (c != NULL) {
		c->active--;
		h2_gc(w, c);
	}
}

/* Ends a slot's request with a transport error described like curl does. */
static void __attribute__((format(printf, 6, 7)))
h2_fail(struct worker *w, struct slot *s, int64_t now, CURLcode rc, long os_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	h2_release(w, s);
	complete(w, s, rc, 0, 0, os_errno, now);
}

/* Hands a slot's request to its connection's session. */
static void
h2_submit(struct worker *w, struct h2conn *c, struct slot *s, int64_t now)
{
	const struct raw_target *t = &w->sh->raw;
	int32_t id = nghttp2_submit_request(c->ng, NULL, t->nva, t->nvlen, NULL, s);

	if (id < 0) {
		h2_fail(w, s, now, CURLE_SEND_ERROR, 0, "HTTP/2: cannot submit the request: %s", nghttp2_strerror(id));
		return;
	}
	s->stream_id = id;
	h2_dirty(w, c);
}

/* A new connection at position pos, connecting; NULL with the error in errbuf, rc and os_errno. */
static struct h2conn *
h2_conn_new(struct worker *w, int pos, int64_t now, char *errbuf, size_t errlen, CURLcode *rc, long *os_errno)
{
	const struct raw_target *t = &w->sh->raw;
	struct h2conn *c = mc_xcalloc(1, sizeof(*c));

	c->fd = raw_dial(w, c, errbuf, errlen, rc, os_errno);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	c->w = w;
	c->pos = pos;
	c->state = HC_CONNECTING;
	c->started = now;
	c->conn_deadline = now + t->connect_timeout_us;
	if (c->conn_deadline < w->raw_next_check)
		w->raw_next_check = c->conn_deadline;
	c->next = w->h2all;
	if (c->next != NULL)
		c->next->prev = c;
	w->h2all = c;
	w->h2pos[pos] = c;
	return c;
}

/* Puts a slot's request on its position's connection, opening one when there is none that takes it. */
static void
h2_attach(struct worker *w, struct slot *s, int64_t now)
{
	struct h2conn *c = w->h2pos[s->pos];

	if (c != NULL && !h2_usable(c)) {
		h2_detach(w, c);
		c = NULL;
	}
	if (c == NULL) {
		char msg[CURL_ERROR_SIZE];
		CURLcode rc = CURLE_COULDNT_CONNECT;
		long e = 0;

		c = h2_conn_new(w, s->pos, now, msg, sizeof(msg), &rc, &e);
		if (c == NULL) {
			h2_fail(w, s, now, rc, e, "%s", msg);
			return;
		}
	}
	s->hc = c;
	c->active++;
	s->reused = c->state == HC_READY;
	if (c->state == HC_READY)
		h2_submit(w, c, s, now);
}

static void
h2_start(struct worker *w, struct slot *s, int64_t now)
{
	s->deadline = now + w->sh->raw.timeout_us;
	if (s->deadline < w->raw_next_check)
		w->raw_next_check = s->deadline;
	s->retried = false;
	s->got_any = false;
	s->status = 0;
	s->body_got = 0;
	s->stream_id = 0;
	h2_attach(w, s, now);
}

/* Sends a request the server never processed once more, as curl does. */
static void
h2_retry(struct worker *w, struct slot *s, int64_t now)
{
	h2_release(w, s);
	s->retried = true;
	s->got_any = false;
	s->status = 0;
	s->body_got = 0;
	s->len = 0;
	if (s->buf != NULL)
		s->buf[0] = '\0';
	h2_attach(w, s, now);
}

/*
 * Ends a connection and every request on it: those sent on a kept-alive
 * connection that got no answer go once more on a new one (the server
 * closed it while they were on their way), the others fail with rc.
 */
static void __attribute__((format(printf, 6, 7)))
h2_conn_fail(struct worker *w, struct h2conn *c, int64_t now, CURLcode rc, long os_errno, const char *fmt, ...)
{
	int m = w->nslots / w->npos;
	char msg[CURL_ERROR_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->in_use++;
	h2_conn_close(c);
	for (int i = c->pos * m; i < (c->pos + 1) * m; i++) {
		struct slot *s = &w->slots[i];

		if (!s->busy || s->hc != c)
			continue;
		if (s->reused && !s->got_any && !s->retried)
			h2_retry(w, s, now);
		else
			h2_fail(w, s, now, rc, os_errno, "%s", msg);
	}
	c->in_use--;
	/* Nothing refers to it but its position, which replaces it at its next request. */
	h2_detach(w, c);
}

/* The busy slot of this connection's stream, or NULL (a stream given up on, or of a request retried elsewhere). */
static struct slot *
h2_slot(struct h2conn *c, int32_t id)
{
	struct slot *s = nghttp2_session_get_stream_user_data(c->ng, id);

	return s != NULL && s->busy && s->hc == c && s->stream_id == id ? s : NULL;
}

static int
h2_on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
	     const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
	struct h2conn *c = arg;
	const char *want = c->w->sh->o->extract_header;
	struct slot *s;

	(void)ng;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS || (s = h2_slot(c, frame->hd.stream_id)) == NULL)
		return 0;
	s->got_any = true;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		/* nghttp2 has checked that it is three digits. */
		s->status = valuelen == 3 ? (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0') : 0;
		/* A new response (after an interim one): its headers are the ones that count. */
		s->len = 0;
		if (s->buf != NULL)
			s->buf[0] = '\0';
	} else if (want != NULL && c->w->has_re && namelen == strlen(want) &&
		   strncasecmp((const char *)name, want, namelen) == 0) {
		s->len = 0;             /* the last occurrence wins */
		slot_keep(s, (const char *)value, valuelen, MAX_HEADER_VALUE);
	}
	return 0;
}

static int
h2_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *arg)
{
	struct h2conn *c = arg;
	struct slot *s = h2_slot(c, id);

	(void)ng;
	(void)flags;
	if (s == NULL)
		return 0;
	s->got_any = true;
	s->body_got += (int64_t)len;
	if (c->w->has_re && c->w->sh->o->extract_header == NULL)
		slot_keep(s, (const char *)data, len, c->w->sh->extract_max);
	return 0;
}

/* A request stream ended: its response, a retry, or an error. */
static void
h2_stream_end(struct worker *w, struct h2conn *c, struct slot *s, uint32_t code)
{
	int64_t now = w->h2now;
	int32_t id = s->stream_id;

	if (code == NGHTTP2_NO_ERROR && s->status >= 200) {
		h2_release(w, s);
		complete(w, s, CURLE_OK, s->status, s->body_got, 0, now);
	} else if (code == NGHTTP2_REFUSED_STREAM && !s->got_any && !s->retried) {
		h2_retry(w, s, now);
	} else if (code == NGHTTP2_NO_ERROR) {
		h2_fail(w, s, now, CURLE_GOT_NOTHING, 0, "HTTP/2 stream %d closed without a response", (int)id);
	} else {
		/* curl says "was not closed cleanly"; "reset" classifies it as what it is. */
		h2_fail(w, s, now, CURLE_RECV_ERROR, 0, "HTTP/2 stream %d was reset: %s (err %u)", (int)id,
			nghttp2_http2_strerror(code), code);
	}
	(void)c;
}

static int
h2_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *arg)
{
	struct h2conn *c = arg;
	struct slot *s = h2_slot(c, id);

	(void)ng;
	if (s != NULL)
		h2_stream_end(c->w, c, s, code);
	return 0;
}

/* A request whose HEADERS could not go out (the server sent GOAWAY meanwhile): it never reached the server. */
static int
h2_on_not_sent(nghttp2_session *ng, const nghttp2_frame *frame, int lib_error, void *arg)
{
	struct h2conn *c = arg;
	struct slot *s;

	(void)ng;
	(void)lib_error;
	if (frame->hd.type == NGHTTP2_HEADERS && (s = h2_slot(c, frame->hd.stream_id)) != NULL)
		h2_stream_end(c->w, c, s, NGHTTP2_REFUSED_STREAM);
	return 0;
}

/* The connection is up (and, with TLS, agreed to h2): its session starts and the waiting requests go out. */
static int
h2_ready(struct worker *w, struct h2conn *c, int64_t now)
{
	const nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
	};
	int m = w->nslots / w->npos;

	if (c->ssl != NULL) {
		const unsigned char *a = NULL;
		unsigned int alen = 0;

		SSL_get0_alpn_selected(c->ssl, &a, &alen);
		if (alen != 2 || memcmp(a, "h2", 2) != 0) {
			h2_conn_fail(w, c, now, CURLE_HTTP2, 0, "The server did not agree to HTTP/2 (ALPN %.*s)",
				     alen > 0 ? (int)alen : 4, alen > 0 ? (const char *)a : "none");
			return -1;
		}
	}
	if (nghttp2_session_client_new(&c->ng, w->sh->raw.h2cbs, c) != 0 ||
	    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, H2_WINDOW) != 0) {
		h2_conn_fail(w, c, now, CURLE_OUT_OF_MEMORY, 0, "HTTP/2: cannot start the session");
		return -1;
	}
	c->state = HC_READY;
	for (int i = c->pos * m; i < (c->pos + 1) * m; i++) {
		struct slot *s = &w->slots[i];

		if (s->busy && s->hc == c && s->stream_id == 0)
			h2_submit(w, c, s, now);
	}
	h2_dirty(w, c);
	return 0;
}

/* Reads all the socket holds into the session; its answers go out with the next flush. */
static void
h2_read(struct worker *w, struct h2conn *c, int64_t now)
{
	char msg[CURL_ERROR_SIZE];
	long e = 0;

	for (;;) {
		ssize_t n = raw_read(c->fd, c->ssl, w->rbuf, RAW_RBUF, &e, msg, sizeof(msg));
		ssize_t used;

		if (n == -1)
			break;
		if (n == -2) {
			h2_conn_fail(w, c, now, CURLE_RECV_ERROR, e, "%s", msg);
			return;
		}
		if (n == 0) {
			h2_conn_fail(w, c, now, CURLE_PARTIAL_FILE, 0,
				     "HTTP/2 stream was not closed cleanly before end of the underlying stream");
			return;
		}
		used = nghttp2_session_mem_recv(c->ng, (const uint8_t *)w->rbuf, (size_t)n);
		if (used < 0) {
			h2_conn_fail(w, c, now, CURLE_HTTP2, 0, "Error in the HTTP2 framing layer: %s",
				     nghttp2_strerror((int)used));
			return;
		}
	}
	if (nghttp2_session_want_write(c->ng))
		h2_dirty(w, c);
	else if (!nghttp2_session_want_read(c->ng))
		h2_conn_fail(w, c, now, CURLE_HTTP2, 0, "HTTP/2: the session ended");
}

/* Writes the connection's pending frames, gathered into as few writes as possible. */
static void
h2_flush(struct worker *w, struct h2conn *c, int64_t now)
{
	char msg[CURL_ERROR_SIZE];
	long e = 0;

	if (c->state != HC_READY)
		return;
	for (;;) {
		ssize_t n;

		if (c->ooff == c->olen) {
			c->olen = c->ooff = 0;
			while (c->olen < H2_OBUF) {
				const uint8_t *data;
				ssize_t len = nghttp2_session_mem_send(c->ng, &data);

				if (len < 0) {
					h2_conn_fail(w, c, now, CURLE_HTTP2, 0, "Error in the HTTP2 framing layer: %s",
						     nghttp2_strerror((int)len));
					return;
				}
				if (len == 0)
					break;
				if (c->olen + (size_t)len > c->ocap) {
					c->ocap = c->olen + (size_t)len + H2_OBUF;
					c->obuf = mc_xrealloc(c->obuf, c->ocap);
				}
				memcpy(c->obuf + c->olen, data, (size_t)len);
				c->olen += (size_t)len;
			}
			if (c->olen == 0)
				break;
		}
		/* A write that would block resumes at the next EPOLLOUT edge, with the same bytes. */
		n = raw_write(c->fd, c->ssl, c->obuf + c->ooff, c->olen - c->ooff, &e, msg, sizeof(msg));
		if (n == 0)
			return;
		if (n < 0) {
			h2_conn_fail(w, c, now, CURLE_SEND_ERROR, e, "%s", msg);
			return;
		}
		c->ooff += (size_t)n;
	}
	if (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng))
		h2_conn_fail(w, c, now, CURLE_HTTP2, 0, "HTTP/2: the session ended");
}

/* Writes what every connection of the worker has to say: once per loop turn, after its new requests. */
static void
h2_flush_all(struct worker *w, int64_t now)
{
	struct h2conn *c;

	w->h2now = now;             /* sending can end streams too (a GOAWAY met on the way) */
	while ((c = w->h2dirty) != NULL) {
		w->h2dirty = c->next_dirty;
		c->dirty = false;
		c->in_use++;
		h2_flush(w, c, now);
		c->in_use--;
		h2_gc(w, c);
	}
}

/* An event on an HTTP/2 connection. */
static void
h2_event(struct worker *w, struct h2conn *c, uint32_t events, int64_t now)
{
	const struct raw_target *t = &w->sh->raw;
	char msg[CURL_ERROR_SIZE];
	CURLcode rc = CURLE_OK;
	long e = 0;
	int r;

	c->in_use++;
	w->h2now = now;
	switch (c->state) {
	case HC_CONNECTING:
		r = raw_connected(c->fd);
		if (r == 0)
			break;
		if (r < 0) {
			h2_conn_fail(w, c, now, CURLE_COULDNT_CONNECT, -r, "Failed to connect to %s port %d after %lld ms: %s",
				     t->host, t->port, (long long)((now - c->started) / 1000), strerror(-r));
			break;
		}
		if (t->ctx == NULL) {
			if (h2_ready(w, c, now) == 0)
				h2_read(w, c, now);
			break;
		}
		c->state = HC_HANDSHAKE;
		/* fall through */
	case HC_HANDSHAKE:
		r = raw_tls_step(w, &c->ssl, c->fd, msg, sizeof(msg), &rc, &e);
		if (r < 0)
			h2_conn_fail(w, c, now, rc, e, "%s", msg);
		/* The server's first frames may have come with the end of the handshake: read them now. */
		else if (r > 0 && h2_ready(w, c, now) == 0)
			h2_read(w, c, now);
		break;
	case HC_READY:
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			h2_read(w, c, now);
		if (c->state == HC_READY && (events & EPOLLOUT) && c->ooff < c->olen)
			h2_dirty(w, c);
		break;
	default:
		break;
	}
	c->in_use--;
	h2_gc(w, c);
}

/* Ends the HTTP/2 requests whose time is up, and the connections whose set-up time is; sets the next time to look. */
static void
h2_timeouts(struct worker *w, int64_t now)
{
	const struct raw_target *t = &w->sh->raw;
	int64_t next = INT64_MAX;

	w->h2now = now;
	/* What this pass sets up meanwhile lowers it again; the minimum is taken at the end. */
	w->raw_next_check = INT64_MAX;
	for (int i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
		struct h2conn *c = s->hc;

		if (!s->busy)
			continue;
		if (now >= s->deadline) {
			if (c != NULL && c->ng != NULL && s->stream_id > 0) {
				/* Given up on: the server may stop working on it, and its late frames find no slot. */
				nghttp2_session_set_stream_user_data(c->ng, s->stream_id, NULL);
				nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, s->stream_id, NGHTTP2_CANCEL);
				h2_dirty(w, c);
			}
			h2_fail(w, s, now, CURLE_OPERATION_TIMEDOUT, ETIMEDOUT,
				"Operation timed out after %lld milliseconds with %lld bytes received",
				(long long)(t->timeout_us / 1000), (long long)s->body_got);
			continue;
		}
		if (s->deadline < next)
			next = s->deadline;
	}
	for (int p = 0; p < w->npos; p++) {
		struct h2conn *c = w->h2pos[p];

		if (c == NULL || (c->state != HC_CONNECTING && c->state != HC_HANDSHAKE))
			continue;
		if (now >= c->conn_deadline) {
			h2_conn_fail(w, c, now, CURLE_OPERATION_TIMEDOUT, ETIMEDOUT,
				     "Connection timed out after %lld milliseconds", (long long)(t->connect_timeout_us / 1000));
			continue;
		}
		if (c->conn_deadline < next)
			next = c->conn_deadline;
	}
	if (next < w->raw_next_check)
		w->raw_next_check = next;
}

/* Closes every connection, after a stop request or at the end. */
static void
h2_close_all(struct worker *w)
{
	while (w->h2all != NULL)
		h2_conn_free(w, w->h2all);
	w->h2dirty = NULL;
}

/* Fills sa from a numeric address (IPv6 in brackets or not); false when it is not one. */
static bool
numeric_addr(const char *a, size_t len, int port, struct sockaddr_storage *sa, socklen_t *salen)
{
	char buf[INET6_ADDRSTRLEN + 2];
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;

	if (len >= 2 && a[0] == '[' && a[len - 1] == ']') {
		a++;
		len -= 2;
	}
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, a, len);
	buf[len] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*salen = sizeof(*v4);
		return true;
	}
	if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*v6);
		return true;
	}
	return false;
}

/*
 * The one address of host:port: a --resolve entry, a literal, or a name
 * with a single address. False when curl's choice could differ (several
 * addresses, where curl races them; no address, which curl reports per
 * request): such loads stay on curl.
 */
static bool
raw_address(struct raw_target *t, const struct mc_probe_spec *req)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char port[16];
	bool ok;

	for (size_t i = 0; i < req->n_resolve; i++) {
		const char *e = req->resolve[i], *c1 = strchr(e, ':'), *c2, *a, *ae;

		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		if ((size_t)(c1 - e) != strlen(t->host) || strncasecmp(e, t->host, (size_t)(c1 - e)) != 0 ||
		    atoi(c1 + 1) != t->port)
			continue;
		a = c2 + 1;
		ae = strchr(a, ',');
		if (ae != NULL)
			return false;
		ae = a + strlen(a);
		return numeric_addr(a, (size_t)(ae - a), t->port, &t->addr, &t->addrlen);
	}
	if (t->host_is_ip)
		return numeric_addr(t->host, strlen(t->host), t->port, &t->addr, &t->addrlen);
	snprintf(port, sizeof(port), "%d", t->port);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(t->host, port, &hints, &ai) != 0)
		return false;
	ok = ai != NULL && ai->ai_next == NULL && ai->ai_addrlen <= sizeof(t->addr);
	if (ok) {
		memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
		t->addrlen = ai->ai_addrlen;
	}
	freeaddrinfo(ai);
	return ok;
}

/* The TLS context of the native path, set up as mc_probe_configure sets up curl's. NULL: leave it to curl. */
static SSL_CTX *
raw_tls(const struct mc_probe_spec *req, bool h2)
{
	/* What curl offers: h2 first when HTTP/2 is asked for. */
	static const unsigned char alpn1[] = "\x08http/1.1", alpn2[] = "\x02h2\x08http/1.1";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A server that closes without close_notify ends a response read to the end, as with curl. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	if (h2 ? SSL_CTX_set_alpn_protos(ctx, alpn2, sizeof(alpn2) - 1) != 0 :
		 SSL_CTX_set_alpn_protos(ctx, alpn1, sizeof(alpn1) - 1) != 0)
		goto fail;
	if (h2) {
		/*
		 * Many streams' answers arrive at once: let one read system
		 * call take several TLS records instead of one call each.
		 */
		SSL_CTX_set_read_ahead(ctx, 1);
		SSL_CTX_set_default_read_buffer_len(ctx, RAW_RBUF);
	}
	if (req->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (req->cacert != NULL ? SSL_CTX_load_verify_locations(ctx, req->cacert, NULL) != 1 :
					  SSL_CTX_set_default_verify_paths(ctx) != 1)
			goto fail;
	}
	if (req->cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, req->cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, req->key != NULL ? req->key : req->cert, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(ctx) != 1))
		goto fail;
	return ctx;
fail:
	/* curl reports the same problem on each request: let it. */
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* Whether a header of the list is named name. */
static bool
has_header(const struct mc_probe_spec *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->n_headers; i++)
		if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return true;
	return req->host != NULL && strcasecmp(name, "Host") == 0;
}

/* Keeps a string for the run's HTTP/2 header list. */
static uint8_t *
h2_str(struct raw_target *t, char *owned)
{
	t->strs = mc_xrealloc(t->strs, (t->nstrs + 1) * sizeof(*t->strs));
	t->strs[t->nstrs++] = owned;
	return (uint8_t *)owned;
}

/* Appends a header to the HTTP/2 header list; name and value are kept for the run, not copied per request. */
static void
h2_nv(struct raw_target *t, const char *name, size_t nlen, const char *value, size_t vlen)
{
	nghttp2_nv *nv = &t->nva[t->nvlen++];

	nv->name = h2_str(t, mc_xasprintf("%.*s", (int)nlen, name));
	for (size_t i = 0; i < nlen; i++)
		nv->name[i] = (uint8_t)tolower(nv->name[i]);
	nv->namelen = nlen;
	nv->value = h2_str(t, mc_xasprintf("%.*s", (int)vlen, value));
	nv->valuelen = vlen;
	nv->flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
}

/* Headers that HTTP/2 forbids (RFC 9113, 8.2.2): curl drops or rewrites them, so such loads stay on curl. */
static bool
h2_forbidden(const char *name, size_t len)
{
	static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
					    "upgrade", "te"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
			return true;
	return false;
}

/*
 * The request as an HTTP/2 header list, as curl sends it: the pseudo-
 * headers (:authority from Host), user-agent, accept, then the caller's
 * headers with lowercase names. False when a header needs curl's rules.
 */
static bool
h2_request(struct raw_target *t, const struct mc_probe_spec *req, const char *path, const char *query,
	   const char *host, const char *port, bool https)
{
	const char *method = req->method != NULL ? req->method : "GET", *authority = NULL;
	char *p, *a;
	size_t alen = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		const char *h = req->headers[i], *c = strchr(h, ':');

		if (h2_forbidden(h, (size_t)(c - h)))
			return false;
		if ((size_t)(c - h) == 4 && strncasecmp(h, "host", 4) == 0) {
			authority = c + 1 + strspn(c + 1, " \t");
			alen = strlen(authority);
		}
	}
	if (req->host != NULL) {
		authority = req->host;
		alen = strlen(authority);
	}
	t->nva = mc_xcalloc(6 + req->n_headers, sizeof(*t->nva));
	h2_nv(t, ":method", 7, method, strlen(method));
	p = mc_xasprintf("%s%s%s", path, query != NULL ? "?" : "", query != NULL ? query : "");
	h2_nv(t, ":path", 5, p, strlen(p));
	free(p);
	h2_nv(t, ":scheme", 7, https ? "https" : "http", https ? 5 : 4);
	if (authority != NULL) {
		h2_nv(t, ":authority", 10, authority, alen);
	} else {
		a = t->port == (https ? 443 : 80) ? mc_xstrdup(host) : mc_xasprintf("%s:%s", host, port);
		h2_nv(t, ":authority", 10, a, strlen(a));
		free(a);
	}
	if (!has_header(req, "User-Agent"))
		h2_nv(t, "user-agent", 10, "meshcheck/" MC_VERSION, strlen("meshcheck/" MC_VERSION));
	if (!has_header(req, "Accept"))
		h2_nv(t, "accept", 6, "*/*", 3);
	for (size_t i = 0; i < req->n_headers; i++) {
		const char *h = req->headers[i], *c = strchr(h, ':'), *v = c + 1 + strspn(c + 1, " \t");

		if ((size_t)(c - h) == 4 && strncasecmp(h, "host", 4) == 0)
			continue;
		h2_nv(t, h, (size_t)(c - h), v, strlen(v));
	}
	return true;
}

static int
h2_callbacks(struct raw_target *t)
{
	if (nghttp2_session_callbacks_new(&t->h2cbs) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_header_callback(t->h2cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(t->h2cbs, h2_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(t->h2cbs, h2_on_close);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(t->h2cbs, h2_on_not_sent);
	return 0;
}

/*
 * Decides whether a native path sends this load: a keep-alive request to a
 * single address without a body, without headers curl would rewrite and
 * without --connect-to; over HTTP/1.1 (plain or TLS) a GET without
 * response extraction, over HTTP/2 (TLS with ALPN, or h2c with prior
 * knowledge over plain http) a GET or HEAD with any extraction and any
 * number of streams. It then builds the request once, as curl would send
 * it. Anything else stays on curl. Returns 0 (t->on tells which) or
 * -ENOMEM.
 */
static int
raw_setup(struct shared *sh, const struct mc_probe_spec *req)
{
	const struct mc_load_options *o = sh->o;
	struct raw_target *t = &sh->raw;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
	unsigned char probe[sizeof(struct in6_addr)];
	bool https, h2, eligible = false;
	size_t hl;
	CURLU *u;
	FILE *f;

	h2 = req->version == MC_HTTP_2 || req->version == MC_HTTP_H2C;
	if (req->fresh || req->body != NULL || req->connect_to != NULL)
		return 0;
	if (!h2 && (o->extract != NULL || o->streams > 1 || (req->method != NULL && strcmp(req->method, "GET") != 0)))
		return 0;
	if (h2 && req->method != NULL && strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		return 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		const char *c = strchr(req->headers[i], ':');

		/* "Name:" (curl drops the header) or "Name;" (sent empty): curl's rules, curl's path. */
		if (c == NULL || c == req->headers[i] || c[strspn(c + 1, " \t") + 1] == '\0')
			return 0;
	}
	u = curl_url();
	if (u == NULL)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK || strchr(host, '%') != NULL)
		goto out;               /* credentials or a zone id: curl's business */
	https = strcmp(scheme, "https") == 0;
	/* HTTP/2 over plain http without prior knowledge is HTTP/1.1 for curl; h2c over https is curl's too. */
	if ((req->version == MC_HTTP_2 && !https) || (req->version == MC_HTTP_H2C && https))
		goto out;
	hl = strlen(host);
	t->host = hl >= 2 && host[0] == '[' ? mc_xasprintf("%.*s", (int)hl - 2, host + 1) : mc_xstrdup(host);
	t->port = atoi(port);
	t->host_is_ip = inet_pton(AF_INET, t->host, probe) == 1 || inet_pton(AF_INET6, t->host, probe) == 1;
	if (!raw_address(t, req))
		goto out;
	if (https) {
		t->ctx = raw_tls(req, h2);
		if (t->ctx == NULL)
			goto out;
		t->sni = !t->host_is_ip;
		t->verify_name = !req->insecure && !req->any_name;
	}
	t->timeout_us = (req->timeout_ms > 0 ? req->timeout_ms : 10000) * 1000LL;
	t->connect_timeout_us = (req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000) * 1000LL;
	if (t->connect_timeout_us > t->timeout_us)
		t->connect_timeout_us = t->timeout_us;
	if (h2) {
		t->h2 = true;
		if (!h2_request(t, req, path, query, host, port, https))
			goto out;
		if (h2_callbacks(t) < 0)
			goto out;
		eligible = true;
		goto out;
	}

	/* The request as curl 7.x/8.x words it: request line, Host, User-Agent, Accept, then the caller's headers. */
	f = open_memstream(&t->request, &t->request_len);
	if (f == NULL)
		goto out;
	fprintf(f, "GET %s%s%s HTTP/1.1\r\n", path, query != NULL ? "?" : "", query != NULL ? query : "");
	if (req->host != NULL)
		fprintf(f, "Host: %s\r\n", req->host);
	else if (!has_header(req, "Host"))
		fprintf(f, "Host: %s%s%s\r\n", host, t->port == (https ? 443 : 80) ? "" : ":",
			t->port == (https ? 443 : 80) ? "" : port);
	if (!has_header(req, "User-Agent"))
		fprintf(f, "User-Agent: meshcheck/" MC_VERSION "\r\n");
	if (!has_header(req, "Accept"))
		fprintf(f, "Accept: */*\r\n");
	for (size_t i = 0; i < req->n_headers; i++)
		fprintf(f, "%s\r\n", req->headers[i]);
	fprintf(f, "\r\n");
	eligible = fclose(f) == 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_url_cleanup(u);
	t->on = eligible;
	return 0;
}

static void
raw_free(struct raw_target *t)
{
	free(t->host);
	free(t->request);
	SSL_CTX_free(t->ctx);
	for (size_t i = 0; i < t->nstrs; i++)
		free(t->strs[i]);
	free(t->strs);
	free(t->nva);
	if (t->h2cbs != NULL)
		nghttp2_session_callbacks_del(t->h2cbs);
	memset(t, 0, sizeof(*t));
}

static void
reap(struct worker *w)
{
	CURLMsg *msg;
	int left;
	int64_t now = -1;

	while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
		struct slot *s = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		if (now < 0)
			now = now_us();
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		/* msg dies when finish() removes the handle; its result is passed by value. */
		finish(w, s, msg->data.result, now);
	}
}

/* Intended send time of open-loop index i. */
static int64_t
intended(const struct shared *sh, int64_t i)
{
	return sh->t0 + (int64_t)((double)i * sh->period_us);
}

/* Number of indices i in [a, b) with i = id (mod T). */
static int64_t
count_mod(int64_t a, int64_t b, int id, int T)
{
	int64_t first, n;

	if (b <= a)
		return 0;
	first = a + (((id - a) % T) + T) % T;
	if (first >= b)
		return 0;
	n = (b - 1 - first) / T + 1;
	return n;
}

/* Open loop: the due indices that will never start, counted when intake closes at time now. */
static void
count_unsent(struct worker *w, int64_t now)
{
	const struct shared *sh = w->sh;
	int64_t due_end = sh->i_end, a;

	if (now < sh->open_stop) {
		/* Stopped early: only indices whose time had come were due. */
		due_end = (int64_t)floor((double)(now - sh->t0) / sh->period_us) + 1;
		if (due_end > sh->i_end)
			due_end = sh->i_end;
	}
	a = w->next_index > sh->i_warm ? w->next_index : sh->i_warm;
	w->unsent += count_mod(a, due_end, w->id, sh->nthreads);
}

static void
start_due(struct worker *w, int64_t now)
{
	struct shared *sh = w->sh;
	const struct mc_load_options *o = sh->o;

	if (w->intake_closed)
		return;
	if (o->rate > 0) {
		while (w->next_index < sh->i_end) {
			int64_t t = intended(sh, w->next_index);
			bool record = w->next_index >= sh->i_warm;

			if (t > now)
				return;
			if (w->nfree == 0) {
				/* Due but no free connection: it waits (and will be late) unless the run is over. */
				if (now >= sh->open_stop)
					break;
				return;
			}
			if (record && now - t > sh->slack_us)
				w->late++;
			start(w, t, record);
			w->next_index += sh->nthreads;
		}
		count_unsent(w, now);
		w->intake_closed = true;
		w->closed_at = now;
		return;
	}
	while (w->nfree > 0) {
		bool record = now >= sh->warm_end;

		if (now >= sh->end ||
		    (record && o->count > 0 && atomic_fetch_sub(&sh->remaining, 1) <= 0)) {
			w->intake_closed = true;
			w->closed_at = now;
			return;
		}
		start(w, now, record);
	}
}

/* Sums the workers' progress counters and calls the callback. */
static void
report_progress(struct worker *workers, int n, int64_t now)
{
	struct shared *sh = workers[0].sh;
	struct mc_load_progress p = {0};
	double recorded;

	p.elapsed = (double)(now - sh->t0) / 1e6;
	p.warming_up = now < sh->warm_end;
	for (int i = 0; i < n; i++) {
		p.requests += atomic_load_explicit(&workers[i].p_requests, memory_order_relaxed);
		p.errors += atomic_load_explicit(&workers[i].p_errors, memory_order_relaxed);
		p.non_2xx += atomic_load_explicit(&workers[i].p_non2xx, memory_order_relaxed);
	}
	recorded = (double)(now - sh->warm_end) / 1e6;
	p.rate = recorded > 0 ? (double)p.requests / recorded : 0;
	if (sh->timeline) {
		tl_snapshot(workers, n);
		p.timeline = sh->snap;
		p.n_timeline = sh->n_snap;
	}
	sh->o->progress(&p, sh->o->progress_arg);
}

/* Waits for socket activity or until the time `until`, and lets curl act on what happened. */
static void
wait_and_act(struct worker *w, int64_t until)
{
	struct epoll_event evs[EVENTS];
	int64_t now = now_us(), wait = until - now;
	int n, running;

	if (w->timer_at >= 0 && w->timer_at < until)
		wait = w->timer_at - now;
	if (w->sh->raw.on && w->raw_next_check < now + wait)
		wait = w->raw_next_check - now;
	if (wait < 0)
		wait = 0;
	if (wait == 0 || wait >= FINE_WAIT_US) {
		n = epoll_wait(w->epfd, evs, EVENTS, (int)(wait / 1000));
	} else {
		struct pollfd pfd = {.fd = w->epfd, .events = POLLIN};
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait * 1000};

		n = ppoll(&pfd, 1, &ts, NULL);
		if (n > 0)
			n = epoll_wait(w->epfd, evs, EVENTS, 0);
	}
	if (w->sh->raw.on) {
		/* One clock read per batch: the batch's answers all arrived by then. */
		now = now_us();
		if (w->sh->raw.h2) {
			for (int i = 0; i < n; i++)
				h2_event(w, evs[i].data.ptr, evs[i].events, now);
			if (now >= w->raw_next_check)
				h2_timeouts(w, now);
			return;
		}
		for (int i = 0; i < n; i++)
			raw_event(w, evs[i].data.ptr, evs[i].events, now);
		if (now >= w->raw_next_check)
			raw_timeouts(w, now);
		return;
	}
	for (int i = 0; i < n; i++) {
		int flags = 0;

		if (evs[i].events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (evs[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(w->multi, evs[i].data.fd, flags, &running);
	}
	if (w->timer_at >= 0 && now_us() >= w->timer_at) {
		w->timer_at = -1;
		curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

/* Abandons the requests in flight after a stop request. */
static void
abandon(struct worker *w)
{
	for (int i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];

		if (!s->busy)
			continue;
		if (w->sh->raw.on && w->sh->raw.h2)
			s->hc = NULL;   /* its connection goes below */
		else if (w->sh->raw.on)
			raw_close(s);
		else
			curl_multi_remove_handle(w->multi, s->easy);
		s->busy = false;
		w->free[w->nfree++] = s;
		if (s->record)
			w->abandoned++;
	}
	if (w->h2pos != NULL)
		h2_close_all(w);
}

/* Runs one worker to the end; workers (all of them) only for worker 0's progress reports. */
static void
run_worker(struct worker *w, struct worker *workers, int n)
{
	const struct shared *sh = w->sh;
	const struct mc_load_options *o = sh->o;
	int64_t next_progress = sh->t0 + 1000000;

	for (;;) {
		int64_t now = now_us(), until;

		if ((o->stop != NULL && *o->stop) || atomic_load_explicit(&w->sh->abort, memory_order_relaxed)) {
			w->stopped_at = now;
			if (!w->intake_closed && o->rate > 0)
				count_unsent(w, now);
			w->intake_closed = true;
			abandon(w);
			break;
		}
		start_due(w, now);
		if (w->intake_closed && w->nfree == w->nslots)
			break;
		/* The turn's new requests and the answers to the server's frames, one write per connection. */
		if (w->h2dirty != NULL)
			h2_flush_all(w, now);
		if (w->id == 0 && o->progress != NULL && now >= next_progress) {
			report_progress(workers, n, now);
			while (next_progress <= now)
				next_progress += 1000000;
		}
		until = now + STOP_POLL_US;
		if (w->id == 0 && o->progress != NULL && next_progress < until)
			until = next_progress;
		if (o->rate > 0 && !w->intake_closed && w->nfree > 0 && w->next_index < sh->i_end) {
			int64_t t = intended(sh, w->next_index);

			if (t < until)
				until = t;
		}
		wait_and_act(w, until);
		reap(w);
	}
}

static void *
worker_thread(void *arg)
{
	struct worker *w = arg;

	run_worker(w, NULL, 0);
	return NULL;
}

/* Creates a worker's multi handle, epoll set, slots (nconn x streams) and histogram. */
static int
worker_init(struct worker *w, struct shared *sh, int id, int nconn, int streams, char *err, size_t errlen)
{
	const struct mc_load_options *o = sh->o;
	int nslots = nconn * streams;

	w->sh = sh;
	w->id = id;
	w->epfd = -1;
	w->timer_at = -1;
	w->next_index = id;
	w->raw_next_check = INT64_MAX;
	w->tl_dirty = SIZE_MAX;
	if (sh->tl_locked) {
		pthread_mutex_init(&w->tl_mutex, NULL);
		w->tl_mutex_init = true;
	}
	w->hist = mc_hist_new(o->hist_highest_us > 0 ? o->hist_highest_us : DEFAULT_HIST_HIGHEST);
	if (w->hist == NULL)
		return mc_err(err, errlen, ENOMEM, "cannot create the latency histogram");
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return mc_err(err, errlen, errno, "epoll_create1: %s", strerror(errno));
	w->multi = curl_multi_init();
	if (w->multi == NULL)
		return mc_err(err, errlen, ENOMEM, "curl_multi_init failed");
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	if (streams > 1) {
		/*
		 * C x M transfers on C connections: curl puts a transfer on an
		 * open connection with a free stream (at most M per
		 * connection), opens a new one while fewer than C exist, and
		 * otherwise queues it until a stream frees up.
		 */
		curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
		curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nconn);
		curl_multi_setopt(w->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)streams);
	} else {
		/* C connections means C connections, also with HTTP/2: one stream per connection at a time. */
		curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	}
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)nconn);
	if (o->extract != NULL) {
		int rc = regcomp(&w->re, o->extract, REG_EXTENDED);

		if (rc != 0) {
			char msg[256];

			regerror(rc, &w->re, msg, sizeof(msg));
			return mc_err(err, errlen, EINVAL, "bad --extract regex \"%s\": %s", o->extract, msg);
		}
		w->has_re = true;
	}
	w->slots = mc_xcalloc((size_t)nslots, sizeof(*w->slots));
	w->free = mc_xcalloc((size_t)nslots, sizeof(*w->free));
	w->nslots = nslots;
	for (int i = 0; i < nslots; i++) {
		w->slots[i].fd = -1;
		w->slots[i].pos = i / streams;
	}
	if (sh->raw.on)
		w->rbuf = mc_xmalloc(RAW_RBUF);
	if (sh->raw.on && sh->raw.h2) {
		w->h2pos = mc_xcalloc((size_t)nconn, sizeof(*w->h2pos));
		w->npos = nconn;
	}
	for (int i = 0; i < nslots; i++) {
		struct slot *s = &w->slots[i];

		s->w = w;
		if (sh->raw.on) {
			w->free[w->nfree++] = s;
			continue;
		}
		s->easy = curl_easy_duphandle(sh->tmpl);
		if (s->easy == NULL)
			return mc_err(err, errlen, ENOMEM, "curl_easy_duphandle failed");
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
		/* Wait for a connection that may multiplex rather than open one per stream at the start. */
		if (streams > 1)
			curl_easy_setopt(s->easy, CURLOPT_PIPEWAIT, 1L);
		if (o->extract != NULL && o->extract_header == NULL) {
			curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body_keep);
		} else {
			curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body_discard);
		}
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		if (o->extract != NULL && o->extract_header != NULL) {
			curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header_keep);
			curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
		}
		w->free[w->nfree++] = s;
	}
	return 0;
}

static void
worker_free(struct worker *w)
{
	for (int i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];

		if (s->easy != NULL) {
			if (s->busy)
				curl_multi_remove_handle(w->multi, s->easy);
			curl_easy_cleanup(s->easy);
		}
		raw_close(s);
		free(s->buf);
		free(s->hbuf);
	}
	if (w->h2pos != NULL)
		h2_close_all(w);
	free(w->h2pos);
	free(w->rbuf);
	SSL_SESSION_free(w->tls_session);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->has_re)
		regfree(&w->re);
	mc_hist_free(w->hist);
	free(w->slots);
	free(w->free);
	for (size_t k = 0; k < w->n_tl; k++)
		free(w->tl[k].counts);
	free(w->tl);
	free(w->fails);
	if (w->tl_mutex_init)
		pthread_mutex_destroy(&w->tl_mutex);
}

static int
by_count_desc(const void *a, const void *b)
{
	const struct mc_load_responder *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->value, y->value);
}

/* Adds worker w's results into res (whose histogram is worker 0's). */
static void
merge(struct mc_load_result *res, const struct worker *w)
{
	for (int c = 0; c < MC_LOAD_MAX_CODE; c++)
		res->codes[c] += w->codes[c];
	res->codes_other += w->codes_other;
	for (int e = 0; e < MC_XFER_COUNT; e++)
		res->xfer_errors[e] += w->xfer_errors[e];
	res->responses += w->responses;
	res->errors += w->errors;
	res->warmup_requests += w->warmup;
	res->late += w->late;
	res->unsent += w->unsent;
	res->abandoned += w->abandoned;
	res->bytes += w->bytes;
	if (res->first_error[0] == '\0' && w->first_error[0] != '\0')
		snprintf(res->first_error, sizeof(res->first_error), "%s", w->first_error);
	res->responders_other += w->resp_other;
	res->responders_unmatched += w->resp_unmatched;
	for (size_t i = 0; i < w->n_resp; i++) {
		size_t j;

		for (j = 0; j < res->n_responders; j++)
			if (strcmp(res->responders[j].value, w->resp[i].value) == 0)
				break;
		if (j < res->n_responders) {
			res->responders[j].count += w->resp[i].count;
		} else if (res->n_responders < MC_LOAD_MAX_RESPONDERS) {
			res->responders[res->n_responders].value = mc_xstrdup(w->resp[i].value);
			res->responders[res->n_responders].count = w->resp[i].count;
			res->n_responders++;
		} else {
			res->responders_other += w->resp[i].count;
		}
	}
}

/* Failed requests by completion time (then by start time, for a stable order between workers). */
static int
by_done(const void *a, const void *b)
{
	const struct tl_failure *x = a, *y = b;

	if (x->done != y->done)
		return x->done < y->done ? -1 : 1;
	if (x->f.t != y->f.t)
		return x->f.t < y->f.t ? -1 : 1;
	return 0;
}

/* Builds res's timeline, failures and timeline data from the workers'. */
static void
tl_result(struct mc_load_result *res, const struct shared *sh, const struct worker *workers, int n)
{
	struct mc_load_timeline_data *d = mc_xcalloc(1, sizeof(*d));
	struct tl_failure *all = NULL;
	size_t len = 0, nall = 0, keep;
	int64_t total = 0;

	d->label = mc_xstrdup(sh->o->label);
	for (int i = 0; i < n; i++) {
		if (workers[i].n_tl > len)
			len = workers[i].n_tl;
		nall += workers[i].n_fails;
		total += (int64_t)workers[i].n_fails + workers[i].fails_dropped;
	}
	d->n = len;
	if (len > 0) {
		res->timeline = mc_xcalloc(len, sizeof(*res->timeline));
		d->counts = mc_xcalloc(len, sizeof(*d->counts));
		d->ncounts = mc_xcalloc(len, sizeof(*d->ncounts));
	}
	for (size_t k = 0; k < len; k++) {
		struct mc_load_second *o = &res->timeline[k];
		int64_t nlat = 0;

		for (int i = 0; i < n; i++) {
			const struct tl_second *t;

			if (k >= workers[i].n_tl)
				continue;
			t = &workers[i].tl[k];
			o->sent += t->sent;
			o->ok += t->ok;
			o->failed += t->failed;
			nlat += t->n_lat;
			if (t->max_us > o->max_us)
				o->max_us = t->max_us;
			tl_add_counts(&d->counts[k], &d->ncounts[k], t->counts, t->ncounts);
		}
		o->p99_us = tl_percentile(d->counts[k], d->ncounts[k], nlat, o->max_us, 99);
	}
	res->n_timeline = len;
	if (nall > 0) {
		all = mc_xmalloc(nall * sizeof(*all));
		nall = 0;
		for (int i = 0; i < n; i++) {
			if (workers[i].n_fails > 0)
				memcpy(all + nall, workers[i].fails, workers[i].n_fails * sizeof(*all));
			nall += workers[i].n_fails;
		}
		qsort(all, nall, sizeof(*all), by_done);
		keep = nall < sh->max_failures ? nall : sh->max_failures;
		res->failures = mc_xcalloc(keep, sizeof(*res->failures));
		for (size_t j = 0; j < keep; j++) {
			res->failures[j] = all[j].f;
			res->failures[j].path = d->label;
		}
		res->n_failures = keep;
		free(all);
	}
	res->failures_dropped = total - (int64_t)res->n_failures;
	res->timeline_data = d;
}

static int
check_options(const struct mc_load_options *o, char *err, size_t errlen)
{
	if (o->connections < 0 || o->connections > MAX_CONNECTIONS)
		return mc_err(err, errlen, EINVAL, "connections must be 1 to %d, not %d", MAX_CONNECTIONS, o->connections);
	if (o->streams < 0 || o->streams > MAX_STREAMS)
		return mc_err(err, errlen, EINVAL, "streams must be 1 to %d, not %d", MAX_STREAMS, o->streams);
	if (o->streams > 1 && o->req.version == MC_HTTP_1_1)
		return mc_err(err, errlen, EINVAL, "several streams per connection need HTTP/2 (--http2 or --h2c)");
	if (o->streams > 1 && o->req.fresh)
		return mc_err(err, errlen, EINVAL, "several streams per connection exclude a new connection per request");
	if ((int64_t)(o->connections > 0 ? o->connections : DEFAULT_CONNECTIONS) * (o->streams > 0 ? o->streams : 1) >
	    MAX_CONNECTIONS)
		return mc_err(err, errlen, EINVAL, "connections x streams must be at most %d", MAX_CONNECTIONS);
	if (o->threads < 0 || o->threads > MAX_THREADS)
		return mc_err(err, errlen, EINVAL, "threads must be 1 to %d, not %d", MAX_THREADS, o->threads);
	if (!(o->rate >= 0) || !isfinite(o->rate) || o->rate > 1e7)
		return mc_err(err, errlen, EINVAL, "rate must be 0 (closed loop) to 10000000 requests/s");
	if (!(o->duration >= 0) || !(o->warmup >= 0) || !(o->late_slack >= 0) || !isfinite(o->duration) ||
	    !isfinite(o->warmup))
		return mc_err(err, errlen, EINVAL, "durations must be finite and not negative");
	if (o->count < 0)
		return mc_err(err, errlen, EINVAL, "the request count must not be negative");
	if (o->extract_header != NULL && o->extract == NULL)
		return mc_err(err, errlen, EINVAL, "--extract-header needs --extract REGEX");
	if (o->extract_header != NULL && (*o->extract_header == '\0' || strchr(o->extract_header, ':') != NULL))
		return mc_err(err, errlen, EINVAL, "bad header name \"%s\"", o->extract_header);
	if (o->ok_status_max < 0)
		return mc_err(err, errlen, EINVAL, "ok_status_max must not be negative");
	return 0;
}

int
mc_load_run(const struct mc_load_options *o, struct mc_load_result *res, char *err, size_t errlen)
{
	struct mc_probe_lists lists = {0};
	struct mc_probe_spec req = o->req;
	const curl_version_info_data *cv;
	struct shared sh;
	struct worker *workers = NULL;
	int nconn, nstreams, nthreads, started = 0, ret;
	int64_t bound = 0, last = 0;
	double duration;
	sigset_t block, old;

	memset(res, 0, sizeof(*res));
	memset(&sh, 0, sizeof(sh));
	ret = check_options(o, err, errlen);
	if (ret < 0)
		return ret;
	nconn = o->connections > 0 ? o->connections : DEFAULT_CONNECTIONS;
	nstreams = o->streams > 0 ? o->streams : 1;
	nthreads = o->threads > 0 ? o->threads : 1;
	if (nthreads > nconn)
		nthreads = nconn;
	duration = o->duration;
	if (duration == 0 && o->count == 0)
		duration = DEFAULT_DURATION;

	sh.o = o;
	sh.nthreads = nthreads;
	sh.slack_us = (int64_t)((o->late_slack > 0 ? o->late_slack : DEFAULT_SLACK) * 1e6);
	sh.extract_max = o->extract_max_body > 0 ? o->extract_max_body : DEFAULT_EXTRACT_MAX;
	sh.timeline = o->timeline;
	sh.tl_locked = o->timeline && nthreads > 1;
	sh.ok_status_max = o->ok_status_max > 0 ? o->ok_status_max : DEFAULT_OK_STATUS_MAX;
	sh.max_failures = o->max_failures > 0 ? o->max_failures : DEFAULT_MAX_FAILURES;
	sh.tl_highest = o->hist_highest_us > 0 ? o->hist_highest_us : DEFAULT_HIST_HIGHEST;
	sh.tl_max_counts = (uint32_t)tl_index(sh.tl_highest) + 1;
	atomic_init(&sh.remaining, o->count);
	atomic_init(&sh.abort, 0);
	sh.tmpl = curl_easy_init();
	if (sh.tmpl == NULL)
		return mc_err(err, errlen, ENOMEM, "curl_easy_init failed");
	ret = raw_setup(&sh, &req);
	if (ret < 0) {
		mc_err(err, errlen, ENOMEM, "out of memory preparing the request");
		goto out;
	}
	/*
	 * libcurl before 8.0.0 fails every request that reuses an h2c
	 * prior-knowledge connection ("Error in the HTTP2 framing layer",
	 * curl issue #10634): there the only correct h2c load on curl is
	 * one connection per request, and the result says so. The native
	 * HTTP/2 path has no such problem.
	 */
	cv = curl_version_info(CURLVERSION_NOW);
	if (!sh.raw.on && req.version == MC_HTTP_H2C && !req.fresh && cv->version_num < 0x080000) {
		if (nstreams > 1) {
			ret = mc_err(err, errlen, EINVAL,
				     "libcurl %s cannot reuse h2c connections (curl issue #10634): no streams over one connection",
				     cv->version);
			goto out;
		}
		req.fresh = true;
		snprintf(res->warning, sizeof(res->warning),
			 "libcurl %s cannot reuse h2c connections (curl issue #10634): a new connection per request",
			 cv->version);
	}
	ret = mc_probe_configure(sh.tmpl, &req, &lists, err, errlen);
	if (ret < 0)
		goto out;

	workers = mc_xcalloc((size_t)nthreads, sizeof(*workers));
	for (int i = 0; i < nthreads; i++) {
		/* Connections spread evenly; the first workers take the remainder. */
		int n = nconn / nthreads + (i < nconn % nthreads ? 1 : 0);

		ret = worker_init(&workers[i], &sh, i, n, nstreams, err, errlen);
		started = i + 1;
		if (ret < 0)
			goto out;
	}

	sh.t0 = now_us();
	{
		struct timespec rt;

		clock_gettime(CLOCK_REALTIME, &rt);
		res->start_unix = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9 + o->warmup;
	}
	sh.warm_end = sh.t0 + (int64_t)(o->warmup * 1e6);
	sh.end = duration > 0 ? sh.warm_end + (int64_t)(duration * 1e6) : INT64_MAX;
	if (o->rate > 0) {
		int64_t by_time = INT64_MAX;

		sh.period_us = 1e6 / o->rate;
		/* ceil with a little room, so that 0.1 s at 30/s is 3 requests, not 4 from rounding. */
		sh.i_warm = (int64_t)ceil(o->warmup * o->rate - 1e-9);
		if (duration > 0)
			by_time = (int64_t)ceil((o->warmup + duration) * o->rate - 1e-9);
		sh.i_end = o->count > 0 ? sh.i_warm + o->count : INT64_MAX;
		if (by_time < sh.i_end)
			sh.i_end = by_time;
		sh.open_stop = intended(&sh, sh.i_end);
	}

	/* Signals go to the calling thread (interrupting its wait), not to the helpers. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 1; i < nthreads; i++) {
		if (pthread_create(&workers[i].thread, NULL, worker_thread, &workers[i]) != 0) {
			/* A partial run would not be the load asked for: stop the threads already running. */
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			atomic_store(&sh.abort, 1);
			ret = mc_err(err, errlen, EAGAIN, "cannot start worker thread %d", i);
			for (int j = 1; j < i; j++)
				pthread_join(workers[j].thread, NULL);
			goto out;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	run_worker(&workers[0], workers, nthreads);
	for (int i = 1; i < nthreads; i++)
		pthread_join(workers[i].thread, NULL);

	res->open_loop = o->rate > 0;
	res->rate_target = o->rate;
	res->connections = nconn;
	res->streams = nstreams;
	res->threads = nthreads;
	res->native = sh.raw.on;
	res->responders = mc_xcalloc(MC_LOAD_MAX_RESPONDERS, sizeof(*res->responders));
	for (int i = 0; i < nthreads; i++) {
		merge(res, &workers[i]);
		if (i > 0)
			mc_hist_merge(workers[0].hist, workers[i].hist);
		if (workers[i].stopped_at > 0)
			res->stopped = true;
		if (workers[i].stopped_at > bound)
			bound = workers[i].stopped_at;
		if (workers[i].closed_at > bound)
			bound = workers[i].closed_at;
		if (workers[i].last_done > last)
			last = workers[i].last_done;
	}
	res->requests = res->responses + res->errors;
	if (sh.timeline)
		tl_result(res, &sh, workers, nthreads);
	else
		res->start_unix = 0;
	res->hist = workers[0].hist;
	workers[0].hist = NULL;
	if (res->n_responders > 1)
		qsort(res->responders, res->n_responders, sizeof(*res->responders), by_count_desc);
	/*
	 * The recorded phase lasts until the last recorded answer, and at
	 * least until starts stopped: for a closed loop by time, the first
	 * completion after the end; for an open loop, the nominal N / R.
	 */
	if (!res->stopped && o->rate > 0 && sh.open_stop > bound)
		bound = sh.open_stop;
	if (last > bound)
		bound = last;
	res->duration = bound > sh.warm_end ? (double)(bound - sh.warm_end) / 1e6 : 0;
	res->rate_achieved = res->duration > 0 ? (double)res->requests / res->duration : 0;
	ret = 0;
out:
	for (int i = 0; i < started; i++)
		worker_free(&workers[i]);
	free(workers);
	curl_easy_cleanup(sh.tmpl);
	mc_probe_lists_free(&lists);
	raw_free(&sh.raw);
	for (size_t k = 0; k < sh.cap_snap; k++)
		free(sh.snap_tl[k].counts);
	free(sh.snap_tl);
	free(sh.snap);
	return ret;
}

void
mc_load_result_clear(struct mc_load_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_responders; i++)
		free(res->responders[i].value);
	free(res->responders);
	mc_hist_free(res->hist);
	res->responders = NULL;
	res->n_responders = 0;
	res->hist = NULL;
	if (res->timeline_data != NULL) {
		struct mc_load_timeline_data *d = res->timeline_data;

		for (size_t k = 0; k < d->n; k++)
			free(d->counts[k]);
		free(d->counts);
		free(d->ncounts);
		free(d->label);
		free(d);
	}
	free(res->timeline);
	free(res->failures);
	res->timeline_data = NULL;
	res->timeline = NULL;
	res->n_timeline = 0;
	res->failures = NULL;
	res->n_failures = 0;
	res->failures_dropped = 0;
}

cJSON *
mc_load_result_json(const struct mc_load_result *res)
{
	cJSON *j = cJSON_CreateObject(), *c, *e, *r;
	char key[32];

	cJSON_AddStringToObject(j, "mode", res->open_loop ? "open" : "closed");
	cJSON_AddNumberToObject(j, "connections", res->connections);
	cJSON_AddNumberToObject(j, "streams", res->streams > 0 ? res->streams : 1);
	cJSON_AddNumberToObject(j, "threads", res->threads);
	cJSON_AddNumberToObject(j, "requests", (double)res->requests);
	cJSON_AddNumberToObject(j, "responses", (double)res->responses);
	cJSON_AddNumberToObject(j, "errors", (double)res->errors);
	cJSON_AddNumberToObject(j, "duration_s", res->duration);
	cJSON_AddNumberToObject(j, "rate_achieved", res->rate_achieved);
	cJSON_AddNumberToObject(j, "rate_target", res->rate_target);
	cJSON_AddNumberToObject(j, "late", (double)res->late);
	cJSON_AddNumberToObject(j, "unsent", (double)res->unsent);
	cJSON_AddNumberToObject(j, "abandoned", (double)res->abandoned);
	cJSON_AddNumberToObject(j, "warmup_requests", (double)res->warmup_requests);
	cJSON_AddNumberToObject(j, "bytes", (double)res->bytes);
	cJSON_AddBoolToObject(j, "stopped", res->stopped);
	if (res->warning[0] != '\0')
		cJSON_AddStringToObject(j, "warning", res->warning);
	else
		cJSON_AddNullToObject(j, "warning");
	c = cJSON_AddObjectToObject(j, "codes");
	for (int i = 0; i < MC_LOAD_MAX_CODE; i++)
		if (res->codes[i] > 0) {
			snprintf(key, sizeof(key), "%d", i);
			cJSON_AddNumberToObject(c, key, (double)res->codes[i]);
		}
	if (res->codes_other > 0)
		cJSON_AddNumberToObject(c, "other", (double)res->codes_other);
	e = cJSON_AddObjectToObject(j, "transport_errors");
	for (int i = 1; i < MC_XFER_COUNT; i++)
		if (res->xfer_errors[i] > 0)
			cJSON_AddNumberToObject(e, mc_xfer_error_name((enum mc_xfer_error)i), (double)res->xfer_errors[i]);
	if (res->first_error[0] != '\0')
		cJSON_AddStringToObject(j, "first_error", res->first_error);
	else
		cJSON_AddNullToObject(j, "first_error");
	r = cJSON_AddObjectToObject(j, "responders");
	for (size_t i = 0; i < res->n_responders; i++)
		cJSON_AddNumberToObject(r, res->responders[i].value, (double)res->responders[i].count);
	cJSON_AddNumberToObject(j, "responders_other", (double)res->responders_other);
	cJSON_AddNumberToObject(j, "responders_unmatched", (double)res->responders_unmatched);
	if (res->hist != NULL)
		cJSON_AddItemToObject(j, "latency_us", mc_hist_to_json(res->hist, "us"));
	if (res->timeline_data != NULL) {
		cJSON *tl, *fl;

		cJSON_AddNumberToObject(j, "start_unix", res->start_unix);
		tl = cJSON_AddArrayToObject(j, "timeline");
		for (size_t k = 0; k < res->n_timeline; k++)
			cJSON_AddItemToArray(tl, mc_load_second_json(&res->timeline[k], (double)k));
		fl = cJSON_AddArrayToObject(j, "failures");
		for (size_t k = 0; k < res->n_failures; k++)
			cJSON_AddItemToArray(fl, mc_load_failure_json(&res->failures[k]));
		cJSON_AddNumberToObject(j, "failures_dropped", (double)res->failures_dropped);
	}
	return j;
}

cJSON *
mc_load_second_json(const struct mc_load_second *sec, double t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "t", t);
	cJSON_AddNumberToObject(o, "sent", (double)sec->sent);
	cJSON_AddNumberToObject(o, "ok", (double)sec->ok);
	cJSON_AddNumberToObject(o, "failed", (double)sec->failed);
	cJSON_AddNumberToObject(o, "p99_ms", (double)sec->p99_us / 1000);
	cJSON_AddNumberToObject(o, "max_ms", (double)sec->max_us / 1000);
	return o;
}

cJSON *
mc_load_failure_json(const struct mc_load_failure *f)
{
	cJSON *o = cJSON_CreateObject();

	/* Milliseconds are what the timing is good for; more digits only add noise. */
	cJSON_AddNumberToObject(o, "t", round(f->t * 1e6) / 1e6);
	if (f->path != NULL)
		cJSON_AddStringToObject(o, "path", f->path);
	else
		cJSON_AddNullToObject(o, "path");
	if (f->error != MC_XFER_OK)
		cJSON_AddStringToObject(o, "error", mc_xfer_error_name(f->error));
	else
		cJSON_AddNullToObject(o, "error");
	cJSON_AddNumberToObject(o, "status", (double)f->status);
	cJSON_AddStringToObject(o, "message", f->message);
	return o;
}

int
mc_load_timeline_merge(struct mc_load_result *const *parts, size_t n, struct mc_load_second **out, size_t *n_out)
{
	struct mc_load_second *m;
	uint32_t **counts = NULL, *ncounts = NULL;
	int64_t *nlat = NULL;
	size_t *off, len = 0;
	double base = 0;
	bool have = false, exact = true;

	*out = NULL;
	*n_out = 0;
	if (n > 0 && parts == NULL)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (parts[i] == NULL || parts[i]->timeline == NULL || parts[i]->n_timeline == 0)
			continue;
		if (!have || parts[i]->start_unix < base)
			base = parts[i]->start_unix;
		have = true;
		if (parts[i]->timeline_data == NULL || parts[i]->timeline_data->n != parts[i]->n_timeline)
			exact = false;
	}
	if (!have)
		return 0;
	off = mc_xcalloc(n, sizeof(*off));
	for (size_t i = 0; i < n; i++) {
		if (parts[i] == NULL || parts[i]->timeline == NULL || parts[i]->n_timeline == 0)
			continue;
		off[i] = (size_t)llround(parts[i]->start_unix - base);
		if (off[i] + parts[i]->n_timeline > len)
			len = off[i] + parts[i]->n_timeline;
	}
	m = mc_xcalloc(len, sizeof(*m));
	if (exact) {
		counts = mc_xcalloc(len, sizeof(*counts));
		ncounts = mc_xcalloc(len, sizeof(*ncounts));
		nlat = mc_xcalloc(len, sizeof(*nlat));
	}
	for (size_t i = 0; i < n; i++) {
		const struct mc_load_result *r = parts[i];

		if (r == NULL || r->timeline == NULL || r->n_timeline == 0)
			continue;
		for (size_t k = 0; k < r->n_timeline; k++) {
			const struct mc_load_second *src = &r->timeline[k];
			struct mc_load_second *dst = &m[off[i] + k];

			dst->sent += src->sent;
			dst->ok += src->ok;
			dst->failed += src->failed;
			if (src->max_us > dst->max_us)
				dst->max_us = src->max_us;
			if (exact) {
				const struct mc_load_timeline_data *d = r->timeline_data;

				tl_add_counts(&counts[off[i] + k], &ncounts[off[i] + k], d->counts[k], d->ncounts[k]);
				for (uint32_t c = 0; c < d->ncounts[k]; c++)
					nlat[off[i] + k] += d->counts[k][c];
			} else if (src->p99_us > dst->p99_us) {
				dst->p99_us = src->p99_us;
			}
		}
	}
	if (exact) {
		for (size_t k = 0; k < len; k++) {
			m[k].p99_us = tl_percentile(counts[k], ncounts[k], nlat[k], m[k].max_us, 99);
			free(counts[k]);
		}
		free(counts);
		free(ncounts);
		free(nlat);
	}
	free(off);
	*out = m;
	*n_out = len;
	return 0;
}

int
mc_load_parse_response(const uint8_t *data, size_t len, size_t chunk, long *status)
{
	struct slot s;
	int rc = 0;

	memset(&s, 0, sizeof(s));
	s.fd = -1;
	s.state = RS_HEAD;
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (size_t off = 0; off < len && rc == 0;) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = raw_consume(&s, (const char *)data + off, n);
		off += n;
	}
	*status = s.status;
	free(s.hbuf);
	return rc;
}
