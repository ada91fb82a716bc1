/*
 * The load generator (see load.h).
 *
 * Each worker owns a multi handle driven by curl_multi_socket_action over
 * its own epoll set, and C_k easy handles ("slots") duplicated once from a
 * template configured by mc_probe_configure, so a request costs no handle
 * set-up: a finished handle is removed and re-added, and its connection
 * comes back from the multi's pool. Waits use ppoll on the epoll descriptor
 * when the next intended send time is less than a few milliseconds away,
 * because epoll_wait's millisecond timeout would make an open loop late.
 *
 * Workers share nothing but read-only options, an atomic count of requests
 * left (closed loop with a count) and relaxed atomic progress counters; each
 * has its own histogram, counters and responder table, merged at the end.
 */
#include "load.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_CONNECTIONS 10
#define DEFAULT_DURATION 10.0
#define DEFAULT_SLACK 0.001
#define DEFAULT_EXTRACT_MAX (64 * 1024)
#define DEFAULT_HIST_HIGHEST (60LL * 1000 * 1000)
#define MAX_CONNECTIONS 100000
#define MAX_THREADS 64
#define MAX_HEADER_VALUE 1024
#define EVENTS 64
/* Longest sleep between looks at the stop flag in threads a signal does not interrupt. */
#define STOP_POLL_US 50000
/* Below this, waits use ppoll's nanosecond timeout instead of epoll_wait's milliseconds. */
#define FINE_WAIT_US 3000

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
};

struct responder_slot {
	char value[MC_LOAD_MAX_VALUE];
	size_t len;
	int64_t count;
};

/* Read-only during the run, except the atomics. */
struct shared {
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
	curl_multi_add_handle(w->multi, s->easy);
}

/* Records a finished transfer and frees its slot. */
static void
finish(struct worker *w, struct slot *s, CURLcode rc, int64_t now)
{
	curl_multi_remove_handle(w->multi, s->easy);
	s->busy = false;
	w->free[w->nfree++] = s;
	if (!s->record) {
		w->warmup++;
		return;
	}
	if (rc == CURLE_OK) {
		long status = 0;
		curl_off_t size = 0;

		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(s->easy, CURLINFO_SIZE_DOWNLOAD_T, &size);
		w->bytes += (int64_t)size;
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
	} else {
		long os_errno = 0;
		enum mc_xfer_error e;

		curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &os_errno);
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
	}
	if (now > w->last_done)
		w->last_done = now;
	atomic_store_explicit(&w->p_requests, w->responses + w->errors, memory_order_relaxed);
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
	const struct shared *sh = workers[0].sh;
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
		curl_multi_remove_handle(w->multi, s->easy);
		s->busy = false;
		w->free[w->nfree++] = s;
		if (s->record)
			w->abandoned++;
	}
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

/* Creates a worker's multi handle, epoll set, slots and histogram. */
static int
worker_init(struct worker *w, struct shared *sh, int id, int nslots, char *err, size_t errlen)
{
	const struct mc_load_options *o = sh->o;

	w->sh = sh;
	w->id = id;
	w->epfd = -1;
	w->timer_at = -1;
	w->next_index = id;
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
	/* C connections means C connections, also with HTTP/2: one stream per connection at a time. */
	curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)nslots);
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
		struct slot *s = &w->slots[i];

		s->w = w;
		s->easy = curl_easy_duphandle(sh->tmpl);
		if (s->easy == NULL)
			return mc_err(err, errlen, ENOMEM, "curl_easy_duphandle failed");
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
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
		if (w->slots[i].busy)
			curl_multi_remove_handle(w->multi, w->slots[i].easy);
		curl_easy_cleanup(w->slots[i].easy);
		free(w->slots[i].buf);
	}
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->has_re)
		regfree(&w->re);
	mc_hist_free(w->hist);
	free(w->slots);
	free(w->free);
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

static int
check_options(const struct mc_load_options *o, char *err, size_t errlen)
{
	if (o->connections < 0 || o->connections > MAX_CONNECTIONS)
		return mc_err(err, errlen, EINVAL, "connections must be 1 to %d, not %d", MAX_CONNECTIONS, o->connections);
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
	int nconn, nthreads, started = 0, ret;
	int64_t bound = 0, last = 0;
	double duration;
	sigset_t block, old;

	memset(res, 0, sizeof(*res));
	memset(&sh, 0, sizeof(sh));
	ret = check_options(o, err, errlen);
	if (ret < 0)
		return ret;
	nconn = o->connections > 0 ? o->connections : DEFAULT_CONNECTIONS;
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
	atomic_init(&sh.remaining, o->count);
	atomic_init(&sh.abort, 0);
	sh.tmpl = curl_easy_init();
	if (sh.tmpl == NULL)
		return mc_err(err, errlen, ENOMEM, "curl_easy_init failed");
	/*
	 * libcurl before 8.0.0 fails every request that reuses an h2c
	 * prior-knowledge connection ("Error in the HTTP2 framing layer",
	 * curl issue #10634): there the only correct h2c load is one
	 * connection per request, and the result says so.
	 */
	cv = curl_version_info(CURLVERSION_NOW);
	if (req.version == MC_HTTP_H2C && !req.fresh && cv->version_num < 0x080000) {
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

		ret = worker_init(&workers[i], &sh, i, n, err, errlen);
		started = i + 1;
		if (ret < 0)
			goto out;
	}

	sh.t0 = now_us();
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
	res->threads = nthreads;
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
	res->hist = workers[0].hist;
	workers[0].hist = NULL;
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
}

cJSON *
mc_load_result_json(const struct mc_load_result *res)
{
	cJSON *j = cJSON_CreateObject(), *c, *e, *r;
	char key[32];

	cJSON_AddStringToObject(j, "mode", res->open_loop ? "open" : "closed");
	cJSON_AddNumberToObject(j, "connections", res->connections);
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
	return j;
}
