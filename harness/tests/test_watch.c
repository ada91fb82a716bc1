/*
 * The load engine's timeline and `meshcheck watch`, against a server of
 * this test's own on 127.0.0.1 that goes down for a known window: its
 * listening socket and every connection are closed (new connections are
 * refused), then it listens again on the same port. The server notes the
 * wall-clock times at which it went down and came back, and the tests
 * check that the failures land in that window, second by second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "load.h"
#include "testutil.h"

#define ADDR "127.0.0.1"
/* Slack on failure times: the server's clock and the engine's are the same, but closing takes a moment. */
#define SLACK 0.05

static void
sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * --- a server that goes down for a window ---
 *
 * One thread polls the listener and the connections and answers every
 * request (head, then Content-Length bytes of body) with 200 "ok",
 * keep-alive. At down_at (wall clock) it goes down the way a server that
 * stops gracefully does (dsrv_go_down) and at up_at it listens again on the
 * same port.
 */
#define DSRV_CONNS 256
#define DSRV_BUF 4096

struct dsrv_conn {
	int fd;
	unsigned served;  /* requests answered on it */
	size_t len;
	char buf[DSRV_BUF];
};

struct dsrv {
	int lfd, port, wake[2];
	pthread_t thread;
	double down_at, up_at;      /* planned (mc_now() seconds); 0: never */
	double went_down, came_up;  /* when it happened */
	atomic_int requests;
	bool rebind_failed;
	struct dsrv_conn conns[DSRV_CONNS];
};

static const char dsrv_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* A socket listening on ADDR:port (0: any port; written back). */
static int
dsrv_listen(int *port)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)*port);
	inet_pton(AF_INET, ADDR, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
dsrv_close(struct dsrv_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->served = 0;
}

static void
dsrv_read(struct dsrv *s, struct dsrv_conn *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	size_t n;

	if (r <= 0) {
		dsrv_close(c);
		return;
	}
	c->len += (size_t)r;
	while ((n = t_http_request_len(c->buf, c->len)) > 0) {
		atomic_fetch_add(&s->requests, 1);
		c->served++;
		if (write(c->fd, dsrv_answer, sizeof(dsrv_answer) - 1) != (ssize_t)sizeof(dsrv_answer) - 1) {
			dsrv_close(c);
			return;
		}
		c->len -= n;
		memmove(c->buf, c->buf + n, c->len);
	}
	if (c->len == sizeof(c->buf))
		dsrv_close(c);
}

/* Accepts what the listener has queued. */
static void
dsrv_accept(struct dsrv *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i;

		if (fd < 0)
			return;
		for (i = 0; i < DSRV_CONNS && s->conns[i].fd >= 0; i++)
			;
		if (i < DSRV_CONNS)
			s->conns[i].fd = fd;
		else
			close(fd);
	}
}

/*
 * Goes down: takes the connections the listener has queued, stops
 * listening (from then on a connect is refused), answers what those
 * connections and the open ones have asked, and closes them; a new
 * connection gets up to 100 ms for its first request. Closing a listener
 * with connections in its queue, or a connection with a request unread,
 * resets them: a client would see a reset where an outage gives refusals.
 */
static void
dsrv_go_down(struct dsrv *s)
{
	double until;

	dsrv_accept(s);
	close(s->lfd);
	s->lfd = -1;
	s->went_down = mc_now();
	until = s->went_down + 0.1;
	for (;;) {
		struct pollfd p[DSRV_CONNS];
		int idx[DSRV_CONNS], n = 0;
		double left = until - mc_now();

		for (int i = 0; i < DSRV_CONNS; i++) {
			struct dsrv_conn *c = &s->conns[i];

			if (c->fd >= 0 && (c->served > 0 || left <= 0) && c->len == 0)
				dsrv_close(c);   /* answered (or out of time), nothing pending */
			else if (c->fd >= 0) {
				idx[n] = i;
				p[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
			}
		}
		if (n == 0)
			return;
		if (left <= 0) {
			for (int k = 0; k < n; k++)
				dsrv_close(&s->conns[idx[k]]);
			return;
		}
		if (poll(p, (nfds_t)n, (int)ceil(left * 1000)) < 0 && errno != EINTR)
			return;
		for (int k = 0; k < n; k++)
			if (p[k].revents != 0 && s->conns[idx[k]].fd == p[k].fd)
				dsrv_read(s, &s->conns[idx[k]]);
	}
}

static void *
dsrv_main(void *arg)
{
	struct dsrv *s = arg;

	for (;;) {
		struct pollfd p[DSRV_CONNS + 2];
		int idx[DSRV_CONNS + 2], n = 0, timeout = 1000;
		double now = mc_now();

		/* The window's edges first: they are what the tests measure against. */
		if (s->lfd >= 0 && s->down_at > 0 && now >= s->down_at && s->went_down == 0)
			dsrv_go_down(s);
		if (s->lfd < 0 && s->up_at > 0 && now >= s->up_at && s->came_up == 0) {
			int port = s->port;

			s->lfd = dsrv_listen(&port);
			s->came_up = mc_now();
			if (s->lfd < 0)
				s->rebind_failed = true;
		}
		if (s->went_down == 0 && s->down_at > 0)
			timeout = (int)ceil((s->down_at - now) * 1000);
		else if (s->came_up == 0 && s->up_at > 0)
			timeout = (int)ceil((s->up_at - now) * 1000);
		if (timeout > 1000)
			timeout = 1000;
		if (timeout < 0)
			timeout = 0;
		p[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		p[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};   /* -1 while down: ignored */
		for (int i = 0; i < DSRV_CONNS; i++)
			if (s->conns[i].fd >= 0) {
				idx[n] = i;
				p[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
			}
		if (poll(p, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents != 0)
			break;
		if (s->lfd >= 0 && (p[1].revents & POLLIN))
			dsrv_accept(s);
		for (int k = 2; k < n; k++)
			if (p[k].revents != 0 && s->conns[idx[k]].fd == p[k].fd)
				dsrv_read(s, &s->conns[idx[k]]);
	}
	for (int i = 0; i < DSRV_CONNS; i++)
		if (s->conns[i].fd >= 0)
			dsrv_close(&s->conns[i]);
	return NULL;
}

/* Starts a server that is down from down_at to up_at (mc_now() times; 0 0: never down). */
static struct dsrv *
dsrv_start(double down_at, double up_at)
{
	struct dsrv *s = mc_xcalloc(1, sizeof(*s));

	s->port = 0;
	s->lfd = dsrv_listen(&s->port);
	ck_assert_int_ge(s->lfd, 0);
	s->down_at = down_at;
	s->up_at = up_at;
	atomic_init(&s->requests, 0);
	for (int i = 0; i < DSRV_CONNS; i++)
		s->conns[i].fd = -1;
	ck_assert_int_eq(pipe2(s->wake, O_CLOEXEC), 0);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, dsrv_main, s), 0);
	return s;
}

static void
dsrv_stop(struct dsrv *s)
{
	ck_assert_int_eq(write(s->wake[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	if (s->lfd >= 0)
		close(s->lfd);
	free(s);
}

/* Length of [a, b) inside [lo, hi). */
static double
overlap(double a, double b, double lo, double hi)
{
	double x = fmax(a, lo), y = fmin(b, hi);

	return y > x ? y - x : 0;
}

/*
 * Checks a timeline against a down window [ws, we) (seconds since t = 0) at
 * rate r: every failure's t inside it within SLACK, each second's failed
 * count what its overlap with the window makes it (one request either way
 * at each edge), none outside; every whole second sent r within 1%.
 * Returns the largest distance of a failure outside the window and, in
 * *edge, the largest distance between the window's edges and the nearest
 * failure, for the report.
 */
static double
check_window(const char *what, const struct mc_load_result *r, double rate, double seconds, double ws, double we,
	     double *edge)
{
	double worst = 0, first = 1e9, last = -1e9;
	int64_t sent = 0, failed = 0;

	ck_assert_msg(r->n_timeline >= (size_t)seconds && r->n_timeline <= (size_t)seconds + 1, "%s: %zu seconds",
		      what, r->n_timeline);
	for (size_t i = 0; i < r->n_failures; i++) {
		const struct mc_load_failure *f = &r->failures[i];
		double out = f->t < ws ? ws - f->t : f->t > we ? f->t - we : 0;

		ck_assert_msg(out <= SLACK, "%s: failure at t=%.4f s outside the window %.4f..%.4f (%s: %s)", what, f->t, ws,
			      we, mc_xfer_error_name(f->error), f->message);
		if (out > worst)
			worst = out;
		if (f->t < first)
			first = f->t;
		if (f->t > last)
			last = f->t;
		ck_assert_msg(f->error != MC_XFER_OK && f->status == 0, "%s: a failure by status %ld", what, f->status);
	}
	for (size_t k = 0; k < r->n_timeline; k++) {
		const struct mc_load_second *s = &r->timeline[k];
		double want = rate * overlap((double)k, (double)k + 1, ws, we);

		printf("%s: t=%zus sent %lld ok %lld failed %lld (window share %.1f) p99 %.3f ms max %.3f ms\n", what, k,
		       (long long)s->sent, (long long)s->ok, (long long)s->failed, want, (double)s->p99_us / 1000,
		       (double)s->max_us / 1000);
		ck_assert_msg(s->ok + s->failed == s->sent, "%s: second %zu: %lld sent, %lld ok, %lld failed", what, k,
			      (long long)s->sent, (long long)s->ok, (long long)s->failed);
		if (overlap((double)k, (double)k + 1, ws - SLACK, we + SLACK) == 0)
			ck_assert_msg(s->failed == 0, "%s: second %zu is outside the window but has %lld failures", what, k,
				      (long long)s->failed);
		else
			ck_assert_msg(fabs((double)s->failed - want) <= 2 + rate * SLACK / 5,
				      "%s: second %zu: %lld failed, the window makes it %.1f", what, k, (long long)s->failed,
				      want);
		if ((double)k + 1 <= seconds)
			ck_assert_msg(llabs(s->sent - (int64_t)rate) <= (int64_t)ceil(rate / 100),
				      "%s: second %zu sent %lld, not %.0f", what, k, (long long)s->sent, rate);
		if (s->ok > 0)
			ck_assert_msg(s->p99_us > 0 && s->p99_us <= s->max_us, "%s: second %zu: p99 %lld, max %lld", what, k,
				      (long long)s->p99_us, (long long)s->max_us);
		sent += s->sent;
		failed += s->failed;
	}
	ck_assert_msg(fabs((double)sent - rate * seconds) <= rate * seconds / 100, "%s: %lld sent in %.0f s at %.0f/s",
		      what, (long long)sent, seconds, rate);
	ck_assert_int_eq(sent, r->requests);
	ck_assert_int_eq(failed, (int64_t)r->n_failures + r->failures_dropped);
	ck_assert_int_eq(failed, r->errors);
	*edge = fmax(fabs(first - ws), fabs(we - last));
	printf("%s: %lld sent (%.2f%% off the rate), %lld failed; failures at most %.1f ms outside the window, "
	       "first and last within %.1f ms of its edges\n",
	       what, (long long)sent, 100 * fabs((double)sent - rate * seconds) / (rate * seconds), (long long)failed,
	       worst * 1000, *edge * 1000);
	return worst;
}

struct run {
	struct mc_load_options o;
	struct mc_load_result r;
	pthread_t th;
	int rc;
	char err[MC_ERRLEN];
};

static void *
run_thread(void *arg)
{
	struct run *x = arg;

	x->rc = mc_load_run(&x->o, &x->r, x->err, sizeof(x->err));
	return NULL;
}

/* What the progress callback of the native load saw. */
static int snap_calls;
static int64_t snap_second0_sent = -1;
static size_t snap_max_seconds;

static void
on_progress(const struct mc_load_progress *p, void *arg)
{
	(void)arg;
	snap_calls++;
	if (p->n_timeline > snap_max_seconds)
		snap_max_seconds = p->n_timeline;
	if (p->elapsed >= 2 && p->n_timeline > 0 && snap_second0_sent < 0)
		snap_second0_sent = p->timeline[0].sent;
}

/*
 * Two open loops at 100/s for 4 s against one server that is down from
 * 1.3 s to 2.3 s: a keep-alive GET on the native HTTP/1.1 path (two
 * threads, so the timelines of two workers merge) and a POST on curl's
 * path (only 20 failures kept: the rest are counted). Both timelines
 * must put every failure in the window, and they merge.
 */
START_TEST(engine_timeline_window)
{
	struct run native = {0}, curl = {0};
	struct mc_load_result *parts[2] = {&native.r, &curl.r};
	struct mc_load_second *m = NULL;
	size_t nm = 0;
	double go = mc_now() + 0.2;
	struct dsrv *s = dsrv_start(go + 1.3, go + 2.3);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, s->port);
	double ws, we, edge_n, edge_c, worst_n, worst_c;
	cJSON *j, *a;

	native.o.req.url = url;
	native.o.rate = 100;
	native.o.duration = 4;
	native.o.connections = 4;
	native.o.threads = 2;
	native.o.timeline = true;
	native.o.label = "native";
	native.o.progress = on_progress;
	curl.o.req.url = url;
	curl.o.req.body = "ping";
	curl.o.rate = 100;
	curl.o.duration = 4;
	curl.o.connections = 4;
	curl.o.timeline = true;
	curl.o.max_failures = 20;
	curl.o.label = "curl";
	sleep_s(go - mc_now());
	ck_assert_int_eq(pthread_create(&native.th, NULL, run_thread, &native), 0);
	ck_assert_int_eq(pthread_create(&curl.th, NULL, run_thread, &curl), 0);
	pthread_join(native.th, NULL);
	pthread_join(curl.th, NULL);
	ck_assert_msg(native.rc == 0, "%s", native.err);
	ck_assert_msg(curl.rc == 0, "%s", curl.err);
	ck_assert_msg(!s->rebind_failed, "the server could not listen again on port %d", s->port);
	ck_assert_msg(s->went_down > 0 && s->came_up > 0, "the server never went down and up");
	ck_assert_msg(native.r.native, "the GET load did not take the native path");
	ck_assert_msg(!curl.r.native, "the POST load did not take curl's path");

	/* The native path: every failure kept, each in the window. */
	ws = s->went_down - native.r.start_unix;
	we = s->came_up - native.r.start_unix;
	printf("native: down from t=%.4f to t=%.4f s\n", ws, we);
	worst_n = check_window("native", &native.r, 100, 4, ws, we, &edge_n);
	ck_assert_int_eq(native.r.failures_dropped, 0);
	ck_assert_msg(native.r.n_failures >= 90 && native.r.n_failures <= 110, "%zu failures", native.r.n_failures);
	ck_assert_msg(edge_n <= 0.03, "native: the failures do not span the window (%.1f ms off)", edge_n * 1000);
	for (size_t i = 0; i < native.r.n_failures; i++)
		ck_assert_str_eq(native.r.failures[i].path, "native");

	/* curl's path: 20 kept, in completion order, the rest counted. */
	ws = s->went_down - curl.r.start_unix;
	we = s->came_up - curl.r.start_unix;
	printf("curl: down from t=%.4f to t=%.4f s\n", ws, we);
	worst_c = check_window("curl", &curl.r, 100, 4, ws, we, &edge_c);
	ck_assert_int_eq(curl.r.n_failures, 20);
	ck_assert_msg(curl.r.failures_dropped >= 70, "%lld dropped", (long long)curl.r.failures_dropped);
	for (size_t i = 1; i < curl.r.n_failures; i++)
		ck_assert_msg(curl.r.failures[i].t >= curl.r.failures[i - 1].t, "failures out of order at %zu", i);
	ck_assert_msg(fabs(curl.r.failures[0].t - ws) <= 0.03, "curl: first failure at %.4f, down at %.4f",
		      curl.r.failures[0].t, ws);
	printf("accuracy: failures at most %.1f ms (native) and %.1f ms (curl) outside the window\n", worst_n * 1000,
	       worst_c * 1000);

	/* The progress callback saw the merged seconds as they went. */
	ck_assert_int_ge(snap_calls, 3);
	ck_assert_msg(snap_second0_sent == 100, "second 0 in the live view: %lld sent", (long long)snap_second0_sent);
	ck_assert_uint_ge(snap_max_seconds, 3);

	/* Merged: the loads started together, so second k is the sum of both seconds k; p99 between the parts'. */
	ck_assert_int_eq(mc_load_timeline_merge(parts, 2, &m, &nm), 0);
	ck_assert_uint_eq(nm, native.r.n_timeline > curl.r.n_timeline ? native.r.n_timeline : curl.r.n_timeline);
	for (size_t k = 0; k < nm; k++) {
		const struct mc_load_second *a1 = k < native.r.n_timeline ? &native.r.timeline[k] : NULL;
		const struct mc_load_second *b1 = k < curl.r.n_timeline ? &curl.r.timeline[k] : NULL;
		int64_t lo = INT64_MAX, hi = 0;

		ck_assert_int_eq(m[k].sent, (a1 ? a1->sent : 0) + (b1 ? b1->sent : 0));
		ck_assert_int_eq(m[k].failed, (a1 ? a1->failed : 0) + (b1 ? b1->failed : 0));
		ck_assert_int_eq(m[k].ok, (a1 ? a1->ok : 0) + (b1 ? b1->ok : 0));
		for (int p = 0; p < 2; p++) {
			const struct mc_load_second *x = p == 0 ? a1 : b1;

			if (x == NULL || x->ok + x->failed == 0 || x->p99_us == 0)
				continue;
			lo = x->p99_us < lo ? x->p99_us : lo;
			hi = x->p99_us > hi ? x->p99_us : hi;
		}
		if (hi > 0)
			ck_assert_msg(m[k].p99_us >= lo && m[k].p99_us <= hi, "second %zu: merged p99 %lld not in %lld..%lld", k,
				      (long long)m[k].p99_us, (long long)lo, (long long)hi);
	}
	free(m);

	/* JSON. */
	j = mc_load_result_json(&curl.r);
	a = cJSON_GetObjectItem(j, "timeline");
	ck_assert_int_eq(cJSON_GetArraySize(a), (int)curl.r.n_timeline);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "t")->valueint, 1);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "p99_ms"));
	a = cJSON_GetObjectItem(j, "failures");
	ck_assert_int_eq(cJSON_GetArraySize(a), 20);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "path")->valuestring, "curl");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "error")->valuestring, "refused");
	ck_assert_int_eq((int64_t)cJSON_GetObjectItem(j, "failures_dropped")->valuedouble, curl.r.failures_dropped);
	ck_assert(cJSON_GetObjectItem(j, "start_unix")->valuedouble > 1e9);
	cJSON_Delete(j);

	mc_load_result_clear(&native.r);
	mc_load_result_clear(&curl.r);
	ck_assert_ptr_null(native.r.timeline);
	ck_assert_ptr_null(native.r.timeline_data);
	dsrv_stop(s);
	free(url);
}
END_TEST

/* Without the option, no timeline: nothing in the result, nothing in the JSON. */
START_TEST(engine_timeline_off)
{
	struct dsrv *s = dsrv_start(0, 0);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, s->port);
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char err[MC_ERRLEN];
	cJSON *j;

	o.req.url = url;
	o.rate = 100;
	o.duration = 0.3;
	o.connections = 2;
	ck_assert_msg(mc_load_run(&o, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.requests, 30);
	ck_assert_ptr_null(r.timeline);
	ck_assert_ptr_null(r.failures);
	ck_assert_ptr_null(r.timeline_data);
	ck_assert(r.start_unix == 0);
	j = mc_load_result_json(&r);
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "timeline"));
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "failures"));
	cJSON_Delete(j);
	mc_load_result_clear(&r);
	dsrv_stop(s);
	free(url);
}
END_TEST

/* Failures by status: above ok_status_max, with the status and no transport error. */
START_TEST(engine_timeline_status)
{
	struct dsrv *s = dsrv_start(0, 0);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, s->port);
	struct mc_load_options o = {0};
	struct mc_load_result r;
	char err[MC_ERRLEN];

	/* The server answers 200: with ok_status_max 199 every answer is a failure by status. */
	o.req.url = url;
	o.rate = 50;
	o.duration = 0.2;
	o.connections = 2;
	o.timeline = true;
	o.ok_status_max = 199;
	ck_assert_msg(mc_load_run(&o, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(r.n_timeline, 1);
	ck_assert_int_eq(r.timeline[0].sent, 10);
	ck_assert_int_eq(r.timeline[0].failed, 10);
	ck_assert_int_eq(r.n_failures, 10);
	ck_assert_int_eq(r.failures[0].error, MC_XFER_OK);
	ck_assert_int_eq(r.failures[0].status, 200);
	ck_assert_str_eq(r.failures[0].message, "HTTP status 200");
	ck_assert_ptr_null(r.failures[0].path);
	ck_assert(r.timeline[0].p99_us > 0);
	mc_load_result_clear(&r);
	o.ok_status_max = -1;
	ck_assert_int_eq(mc_load_run(&o, &r, err, sizeof(err)), -EINVAL);
	mc_load_result_clear(&r);
	dsrv_stop(s);
	free(url);
}
END_TEST

/* Merging timelines built by hand: aligned by start_unix, p99 the larger one's without latency counts. */
START_TEST(engine_timeline_merge_by_hand)
{
	struct mc_load_second a[2] = {{10, 9, 1, 1000, 2000}, {10, 10, 0, 3000, 3000}};
	struct mc_load_second b[2] = {{5, 5, 0, 5000, 6000}, {5, 4, 1, 100, 200}};
	struct mc_load_result ra = {0}, rb = {0}, rc = {0};
	struct mc_load_result *parts[3] = {&ra, &rb, &rc};
	struct mc_load_second *m;
	size_t n;

	ra.start_unix = 1000.0;
	ra.timeline = a;
	ra.n_timeline = 2;
	rb.start_unix = 1001.4;     /* one second later, to the nearest second */
	rb.timeline = b;
	rb.n_timeline = 2;
	ck_assert_int_eq(mc_load_timeline_merge(parts, 3, &m, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(m[0].sent, 10);
	ck_assert_int_eq(m[1].sent, 15);
	ck_assert_int_eq(m[1].ok, 15);
	ck_assert_int_eq(m[1].p99_us, 5000);
	ck_assert_int_eq(m[1].max_us, 6000);
	ck_assert_int_eq(m[2].failed, 1);
	ck_assert_int_eq(m[2].p99_us, 100);
	free(m);
	ck_assert_int_eq(mc_load_timeline_merge(parts + 2, 1, &m, &n), 0);
	ck_assert_ptr_null(m);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mc_load_timeline_merge(NULL, 1, &m, &n), -EINVAL);
}
END_TEST

/* --- meshcheck watch --- */

static char *
meshcheck(void)
{
	const char *m = getenv("MESHCHECK");

	ck_assert_msg(m != NULL && *m != '\0', "MESHCHECK is not set");
	return (char *)m;
}

struct proc {
	pid_t pid;
	char out[64], err[64];
};

/* Starts argv with stdout and stderr in two temporary files. */
static void
proc_start(struct proc *p, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int fo, fe;

	snprintf(p->out, sizeof(p->out), "/tmp/mcwatch-out-XXXXXX");
	snprintf(p->err, sizeof(p->err), "/tmp/mcwatch-err-XXXXXX");
	fo = mkstemp(p->out);
	fe = mkstemp(p->err);
	ck_assert(fo >= 0 && fe >= 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fo, 1);
	posix_spawn_file_actions_adddup2(&fa, fe, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	ck_assert_msg(posix_spawn(&p->pid, argv[0], &fa, NULL, argv, environ) == 0, "cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	close(fo);
	close(fe);
}

/* Waits (at most limit seconds, then kills it by PID) and returns the exit status; *out and *err the output. */
static int
proc_wait(struct proc *p, double limit, char **out, char **err)
{
	double until = mc_monotonic() + limit;
	int status = 0;
	pid_t r;

	while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && mc_monotonic() < until)
		sleep_s(0.02);
	if (r == 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &status, 0);
	}
	*out = t_read(p->out);
	*err = t_read(p->err);
	unlink(p->out);
	unlink(p->err);
	ck_assert_msg(r != 0, "still running after %.0f s; stdout: %s\nstderr: %s", limit, *out, *err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int
watch_run(char *const argv[], double limit, char **out, char **err)
{
	struct proc p;

	proc_start(&p, argv);
	return proc_wait(&p, limit, out, err);
}

/*
 * `watch --rate 50 -- sleep 4` while the server is down for 2 s: exit 1,
 * about 100 failures, all in the window, in the right seconds.
 */
START_TEST(watch_outage)
{
	double launch = mc_now();
	struct dsrv *s = dsrv_start(launch + 2.0, launch + 4.0);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, s->port);
	char *argv[] = {meshcheck(), "watch", "--rate", "50", "--url", url, "--json", "--", "sleep", "4", NULL};
	char *out, *err;
	cJSON *j, *tl, *fl, *c, *e;
	double start_unix, ws, we, worst = 0;
	int rc = watch_run(argv, 30, &out, &err), failed = 0;

	ck_assert_msg(!s->rebind_failed, "the server could not listen again");
	ck_assert_msg(rc == 1, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	start_unix = cJSON_GetObjectItem(j, "start_unix")->valuedouble;
	ws = s->went_down - start_unix;
	we = s->came_up - start_unix;
	printf("watch: t=0 %.3f s after the launch; the server was down from t=%.3f to t=%.3f s\n", start_unix - launch, ws,
	       we);
	failed = cJSON_GetObjectItem(j, "failed")->valueint;
	ck_assert_msg(failed >= 80 && failed <= 120, "%d failed requests for 2 s down at 50/s", failed);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "failures_dropped")->valueint, 0);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "passed")));
	fl = cJSON_GetObjectItem(j, "failures");
	ck_assert_int_eq(cJSON_GetArraySize(fl), failed);
	cJSON_ArrayForEach(e, fl)
	{
		double t = cJSON_GetObjectItem(e, "t")->valuedouble;
		double off = t < ws ? ws - t : t > we ? t - we : 0;

		ck_assert_msg(off <= 0.1, "failure at t=%.3f outside %.3f..%.3f", t, ws, we);
		worst = fmax(worst, off);
		ck_assert_str_eq(cJSON_GetObjectItem(e, "url")->valuestring, url);
		ck_assert_str_eq(cJSON_GetObjectItem(e, "error")->valuestring, "refused");
	}
	tl = cJSON_GetObjectItem(j, "timeline");
	for (int k = 0; k < cJSON_GetArraySize(tl); k++) {
		cJSON *sec = cJSON_GetArrayItem(tl, k);
		int f = cJSON_GetObjectItem(sec, "failed")->valueint;
		double want = 50 * overlap(k, k + 1, ws, we);

		ck_assert_int_eq(cJSON_GetObjectItem(sec, "t")->valueint, k);
		if (overlap(k, k + 1, ws - 0.1, we + 0.1) == 0)
			ck_assert_msg(f == 0, "second %d: %d failed outside the window", k, f);
		else
			ck_assert_msg(fabs(f - want) <= 3, "second %d: %d failed, the window makes it %.1f", k, f, want);
	}
	c = cJSON_GetObjectItem(j, "command");
	ck_assert_int_eq(cJSON_GetObjectItem(c, "exit_code")->valueint, 0);
	ck_assert_msg(fabs(cJSON_GetObjectItem(c, "end")->valuedouble - cJSON_GetObjectItem(c, "start")->valuedouble - 4) <
			      0.3,
		      "the command ran %.2f s", cJSON_GetObjectItem(c, "end")->valuedouble -
						     cJSON_GetObjectItem(c, "start")->valuedouble);
	ck_assert_msg(cJSON_GetObjectItem(c, "start")->valuedouble >= 0.9, "the command started at %.2f",
		      cJSON_GetObjectItem(c, "start")->valuedouble);
	/* One live line per second on stderr (not a terminal: plain). */
	ck_assert_msg(strstr(err, "t=0s  sent 50  ok 50  failed 0") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "\033[") == NULL, "escape codes in: %s", err);
	ck_assert_msg(strstr(err, "t=6s  sent") != NULL, "%s", err);
	printf("watch: %d failed (%.1f s at 50/s), at most %.0f ms outside the window\n", failed, failed / 50.0,
	       worst * 1000);
	cJSON_Delete(j);
	free(out);
	free(err);
	dsrv_stop(s);
	free(url);
}
END_TEST

/* Nothing fails: exit 0 and the human summary. A failing command: exit 1. Without a command: --duration. */
START_TEST(watch_clean)
{
	struct dsrv *s = dsrv_start(0, 0);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, s->port);
	char *ok[] = {meshcheck(), "watch", "--rate", "50", "--url", url, "--settle", "0.5s", "--", "sleep", "1", NULL};
	char *bad[] = {meshcheck(), "watch", "--url", url, "--settle", "0", "--", "sh", "-c", "echo out-of-command; exit 3",
		       NULL};
	char *dur[] = {meshcheck(), "watch", "-r", "40", "--url", url, "--url", url, "--duration", "1s", NULL};
	char *out, *err;
	int rc;

	rc = watch_run(ok, 20, &out, &err);
	ck_assert_msg(rc == 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(strstr(out, "t=0s  sent 50  ok 50  failed 0  p99 ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "t=1s  sent 50  ok 50  failed 0") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "failed 0  rate ") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "exit 0, ran from t=") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "result:    PASS") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "failed seconds") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "\033[") == NULL, "escape codes in: %s", out);
	free(out);
	free(err);

	rc = watch_run(bad, 20, &out, &err);
	ck_assert_msg(rc == 1, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(strstr(out, "out-of-command") != NULL, "the command's output did not pass through: %s", out);
	ck_assert_msg(strstr(out, "exit 3") != NULL && strstr(out, "the command failed") != NULL, "%s", out);
	free(out);
	free(err);

	rc = watch_run(dur, 20, &out, &err);
	ck_assert_msg(rc == 0, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
	ck_assert_msg(strstr(out, "t=0s  sent 80  ok 80  failed 0") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "overall") != NULL && strstr(out, "sent 80  ok 80  failed 0  rate ") != NULL, "%s",
		      out);
	free(out);
	free(err);
	dsrv_stop(s);
	free(url);
}
END_TEST

/* SIGINT: the traffic stops, the command gets SIGTERM and is waited for, the report still comes. */
START_TEST(watch_interrupt)
{
	struct dsrv *s = dsrv_start(0, 0);
	char *url = mc_xasprintf("http://%s:%d/", ADDR, s->port);
	char *argv[] = {meshcheck(), "watch", "--url", url, "--json", "--", "sleep", "30", NULL};
	struct proc p;
	char *out, *err;
	double t0 = mc_monotonic();
	cJSON *j, *c;
	int rc;

	proc_start(&p, argv);
	sleep_s(2);
	ck_assert_int_eq(kill(p.pid, SIGINT), 0);
	rc = proc_wait(&p, 10, &out, &err);
	ck_assert_msg(mc_monotonic() - t0 < 5, "took %.1f s to stop", mc_monotonic() - t0);
	ck_assert_msg(rc == 1, "exit %d\nstdout: %s\nstderr: %s", rc, out, err);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "interrupted")));
	c = cJSON_GetObjectItem(j, "command");
	ck_assert_int_eq(cJSON_GetObjectItem(c, "signal")->valueint, SIGTERM);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "failed")->valueint, 0);
	ck_assert_int_ge(cJSON_GetObjectItem(j, "ok")->valueint, 30);
	cJSON_Delete(j);
	free(out);
	free(err);
	dsrv_stop(s);
	free(url);
}
END_TEST

START_TEST(watch_usage)
{
	static const struct {
		const char *args[8];
		const char *message;
	} cases[] = {
		{{"--rate", "-5", "--url", "@url", "--", "true", NULL}, "-r/--rate takes requests per second above 0"},
		{{"--rate", "fast", "--url", "@url", "--", "true", NULL}, "not \"fast\""},
		{{"--", "true", NULL}, "give at least one --url"},
		{{"--url", "@url", "--bogus", "--", "true", NULL}, "unknown option --bogus"},
		{{"--url", "@url", NULL}, "give -d/--duration"},
		{{"--url", "@url", "--duration", "1s", "--", "true", NULL}, "-d/--duration is for runs without a command"},
		{{"--url", "@url", "--max-failures", "-1", "--", "true", NULL}, "--max-failures takes a whole number"},
		{{"--url", "@url", "--timeout", "0", "--", "true", NULL}, "--timeout takes a duration"},
		{{"--url", "@url", "--settle", "soon", "--", "true", NULL}, "--settle takes a duration"},
		{{"--url", "@url", "--http2", "--h2c", "--", "true", NULL}, "exclude each other"},
		{{"--url", "ftp://127.0.0.1/", "--", "true", NULL}, "--url ftp://127.0.0.1/"},
		{{"--url", "@url", "stray", "--", "true", NULL}, "unexpected argument \"stray\""},
		{{"--url", "@url", "--", NULL}, "must be followed by a command"},
		{{"--url", NULL}, "--url needs a value"},
	};
	char *url = mc_xasprintf("http://%s:%d/", ADDR, 9);
	char *help[] = {meshcheck(), "watch", "--help", NULL};
	char *out, *err;
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[12] = {meshcheck(), "watch"};
		int n = 2;

		for (int k = 0; cases[i].args[k] != NULL; k++)
			argv[n++] = strcmp(cases[i].args[k], "@url") == 0 ? url : (char *)cases[i].args[k];
		argv[n] = NULL;
		rc = watch_run(argv, 10, &out, &err);
		ck_assert_msg(rc == 2, "case %zu: exit %d: %s%s", i, rc, out, err);
		ck_assert_msg(strstr(err, cases[i].message) != NULL, "case %zu: %s", i, err);
		ck_assert_msg(out[0] == '\0', "case %zu printed: %s", i, out);
		free(out);
		free(err);
	}
	rc = watch_run(help, 10, &out, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "--max-failures K") != NULL && strstr(out, "-- COMMAND") != NULL, "%s", out);
	free(out);
	free(err);
	free(url);
}
END_TEST

static Suite *
watch_suite(void)
{
	Suite *s = suite_create("traffic-watch");
	TCase *engine = tcase_create("engine");
	TCase *cli = tcase_create("watch");

	tcase_set_timeout(engine, 60);
	tcase_add_test(engine, engine_timeline_window);
	tcase_add_test(engine, engine_timeline_off);
	tcase_add_test(engine, engine_timeline_status);
	tcase_add_test(engine, engine_timeline_merge_by_hand);
	suite_add_tcase(s, engine);
	tcase_set_timeout(cli, 60);
	tcase_add_test(cli, watch_outage);
	tcase_add_test(cli, watch_clean);
	tcase_add_test(cli, watch_interrupt);
	tcase_add_test(cli, watch_usage);
	suite_add_tcase(s, cli);
	return s;
}

int
main(void)
{
	return t_main(watch_suite());
}
