/*
 * `meshcheck watch`: steady traffic on one or more URLs while a command
 * runs (an upgrade, a restart, a rollout), and a second-by-second account
 * of what failed and when.
 *
 * Each URL gets an open-loop load of the traffic engine at a fixed rate,
 * every request on a new connection so that a restarted server is noticed
 * by the next request, with the engine's timeline on: requests count in the
 * second of their intended send time, and every failed one (a transport
 * error or a status of 400 or more) is kept with its time and error. The
 * loads start together, each in its own thread (mc_load_run blocks); then
 * the command runs (fork and exec, no shell, its output passing through)
 * and, once it ended, the traffic goes on for --settle seconds before the
 * loads are stopped. Without a command the traffic runs for --duration.
 *
 * While it runs, one line per second: the second before last, merged over
 * the URLs (its answers have had a second to arrive; requests still
 * waiting show as pending). The summary and the JSON use the final
 * timelines, merged with mc_load_timeline_merge.
 *
 * Exit 0 when at most --max-failures requests failed and the command
 * succeeded, 1 otherwise, 2 on usage or environment errors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "hist.h"
#include "load.h"
#include "probe.h"
#include "util.h"

#define MAX_URLS 32
#define MAX_LIST 64
#define DEFAULT_RATE 20.0
#define MAX_RATE 100000.0
/* The loads of a run with a command last until stopped; this only bounds them. */
#define FOREVER_S (30.0 * 24 * 3600)
/* Slots per load: enough for rate x timeout requests waiting at once, within these bounds. */
#define MIN_SLOTS 4
#define MAX_SLOTS 4096
/* How often the main thread looks at the command, the signals and the loads. */
#define TICK_NS 20000000L
/* A command that outlives SIGTERM by this much gets SIGKILL. */
#define KILL_AFTER_S 5.0
/* Failures listed one by one in the summary. */
#define SHOW_FAILURES 10

extern char **environ;

static volatile sig_atomic_t watch_stop;      /* the loads' stop flag */
static volatile sig_atomic_t watch_signal;    /* SIGINT or SIGTERM received */

static void
on_signal(int sig)
{
	watch_signal = sig;
	watch_stop = 1;
}

/* One URL's load and what the main thread sees of it while it runs. */
struct wload {
	const char *url;
	struct mc_load_options o;
	struct mc_load_result res;
	pthread_t th;
	bool started;
	int rc;
	char err[MC_ERRLEN];
	atomic_bool done;
	/* The latest progress snapshot, guarded by live_lock. */
	struct mc_load_second *live;
	size_t n_live, cap_live;
	double live_elapsed;        /* seconds since the load's t = 0 when it was taken */
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static void
progress(const struct mc_load_progress *p, void *arg)
{
	struct wload *l = arg;

	pthread_mutex_lock(&live_lock);
	if (p->n_timeline > l->cap_live) {
		l->cap_live = p->n_timeline * 2;
		l->live = mc_xrealloc(l->live, l->cap_live * sizeof(*l->live));
	}
	if (p->n_timeline > 0)
		memcpy(l->live, p->timeline, p->n_timeline * sizeof(*l->live));
	l->n_live = p->n_timeline;
	l->live_elapsed = p->elapsed;
	pthread_mutex_unlock(&live_lock);
}

static void *
load_thread(void *arg)
{
	struct wload *l = arg;

	l->rc = mc_load_run(&l->o, &l->res, l->err, sizeof(l->err));
	atomic_store(&l->done, true);
	return NULL;
}


static bool
parse_dur(const char *name, const char *arg, double min, double *out)
{
	if (mc_seconds_parse(arg, out) < 0 || *out < min) {
		if (min > 0)
			fprintf(stderr, "meshcheck watch: %s takes a duration of at least %g ms such as 5s, 250ms or 1m, not \"%s\"\n",
				name, min * 1000, arg);
		else
			fprintf(stderr, "meshcheck watch: %s takes a duration such as 5s, 250ms or 1m, not \"%s\"\n", name, arg);
		return false;
	}
	return true;
}

static void
usage(void)
{
	printf("usage: meshcheck watch [OPTIONS] --url URL... -- COMMAND [ARGS...]\n"
	       "       meshcheck watch [OPTIONS] --url URL... --duration DUR\n\n"
	       "Sends steady traffic to each URL while COMMAND runs (an upgrade, a restart, a rollout)\n"
	       "and reports whether any request failed, and when. Each URL gets an open loop at --rate\n"
	       "requests/s, every request on a new connection, so a restarted server is noticed at once;\n"
	       "requests count in the second they were due, so an outage shows where it happened.\n"
	       "A request fails on a transport error (refused, reset, timeout, TLS, DNS) or a status\n"
	       "of 400 or more. COMMAND runs without a shell, its output passing through; when it ends\n"
	       "the traffic goes on for --settle, then stops. Without COMMAND, traffic runs for --duration\n"
	       "(useful while upgrading by hand).\n\n"
	       "While running, one line per second (the second before last, merged over the URLs):\n"
	       "  t=12s  sent 40  ok 38  failed 2  p99 3.1ms\n"
	       "then per URL and overall: sent, ok, failed, the rate achieved against the target and p99;\n"
	       "the command's exit status, start and end; every second with failures; the first failures.\n\n"
	       "options:\n"
	       "  --url URL             a URL to send GETs to (repeatable, at least one)\n"
	       "  -r, --rate R          requests/s for each URL (default 20)\n"
	       "  -d, --duration DUR    without a command: how long to watch (500ms, 30s, 5m)\n"
	       "  --settle DUR          traffic after the command ended (default 2s; keep it at least\n"
	       "                        --timeout, so requests sent during the command all finish)\n"
	       "  --timeout DUR         limit per request, connection included (default 2s)\n"
	       "  --max-failures K      failed requests allowed (default 0)\n"
	       "  --resolve H:P:ADDR    connect to ADDR for host H port P (no DNS; SNI stays H)\n"
	       "  -H, --header 'K: V'   extra request header (repeatable)\n"
	       "  --cacert FILE         trust these roots (PEM) instead of the system's\n"
	       "  -k, --insecure        do not verify the server's certificate or name\n"
	       "  --cert FILE           client certificate (PEM) for mutual TLS\n"
	       "  --key FILE            its key (default: in the certificate file)\n"
	       "  --http2               HTTP/2 over TLS (ALPN h2)\n"
	       "  --h2c                 HTTP/2 with prior knowledge, also over cleartext\n"
	       "  --json                one JSON document on stdout (timeline, failures, command);\n"
	       "                        the per-second lines go to stderr\n"
	       "  -h, --help            this help\n"
	       "\nCtrl-C (or SIGTERM) stops the traffic, sends SIGTERM to the command, waits for it and\n"
	       "still reports. Exit codes: 0 at most --max-failures failed requests and the command\n"
	       "exited 0, 1 more failures or the command failed (or was stopped), 2 usage or environment\n"
	       "error. Lines are coloured on a terminal unless NO_COLOR is set.\n");
}

static void
sleep_tick(void)
{
	struct timespec ts = {0, TICK_NS};

	nanosleep(&ts, NULL);       /* a signal may cut it short: the loop looks again */
}

/* Describes a wait status: "exit 0", "exit 3", "killed by signal 15". */
static void
describe_status(int status, char *out, size_t outlen)
{
	if (status < 0)
		snprintf(out, outlen, "status unknown");
	else if (WIFEXITED(status))
		snprintf(out, outlen, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, outlen, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, outlen, "status %d", status);
}

/* One per-second line. */
static void
print_second(FILE *f, bool color, size_t k, const struct mc_load_second *s)
{
	int64_t pending = s->sent - s->ok - s->failed;

	if (color && s->failed > 0)
		fputs("\033[31m", f);
	fprintf(f, "t=%zus  sent %lld  ok %lld  failed %lld", k, (long long)s->sent, (long long)s->ok,
		(long long)s->failed);
	if (s->ok + s->failed > 0 && s->p99_us > 0)
		fprintf(f, "  p99 %.1fms", (double)s->p99_us / 1000);
	if (pending > 0)
		fprintf(f, "  (%lld pending)", (long long)pending);
	if (color && s->failed > 0)
		fputs("\033[0m", f);
	fputc('\n', f);
	fflush(f);
}

/*
 * Prints the live lines that are due: second k once every load has been
 * past k + 2 (or has ended), so its answers had a second to come in. The
 * seconds of the loads add up by index (they started within milliseconds
 * of each other); p99 is the worst load's.
 */
static void
print_live(FILE *f, bool color, struct wload *loads, size_t n, size_t *next)
{
	for (;;) {
		struct mc_load_second m = {0};
		size_t k = *next;
		bool ready = true, any = false;

		pthread_mutex_lock(&live_lock);
		for (size_t i = 0; i < n; i++) {
			if (atomic_load(&loads[i].done)) {
				ready = false;  /* the final results print the rest */
				break;
			}
			if (loads[i].live_elapsed < (double)k + 2 || k >= loads[i].n_live) {
				ready = false;
				break;
			}
		}
		if (ready)
			for (size_t i = 0; i < n; i++) {
				const struct mc_load_second *s = &loads[i].live[k];

				m.sent += s->sent;
				m.ok += s->ok;
				m.failed += s->failed;
				if (s->p99_us > m.p99_us)
					m.p99_us = s->p99_us;
				any = true;
			}
		pthread_mutex_unlock(&live_lock);
		if (!ready || !any)
			return;
		print_second(f, color, k, &m);
		(*next)++;
	}
}

/* A failure of one URL, on the merged timeline's clock. */
struct wfail {
	double t;                   /* seconds since the merged t = 0 */
	size_t second;              /* the merged second it counts in */
	const char *url;
	const struct mc_load_failure *f;
};

static int
by_time(const void *a, const void *b)
{
	const struct wfail *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return strcmp(x->url, y->url);
}

/* "refused", "reset", ... or "status 503". */
static void
failure_kind(const struct mc_load_failure *f, char *out, size_t outlen)
{
	if (f->error != MC_XFER_OK)
		snprintf(out, outlen, "%s", mc_xfer_error_name(f->error));
	else
		snprintf(out, outlen, "status %ld", f->status);
}

/* "(refused 7, status 503 2)" for the failures of second k (sorted by time, so they are together). */
static void
second_breakdown(const struct wfail *fails, size_t nf, size_t k, int64_t failed, char *out, size_t outlen)
{
	char kinds[16][32];
	int64_t counts[16], known = 0;
	size_t nk = 0, len = 0;

	for (size_t i = 0; i < nf; i++) {
		char kind[32];
		size_t j;

		if (fails[i].second != k)
			continue;
		failure_kind(fails[i].f, kind, sizeof(kind));
		for (j = 0; j < nk; j++)
			if (strcmp(kinds[j], kind) == 0)
				break;
		if (j == nk) {
			if (nk == 16)
				continue;
			snprintf(kinds[nk], sizeof(kinds[nk]), "%s", kind);
			counts[nk++] = 0;
		}
		counts[j]++;
		known++;
	}
	out[0] = '\0';
	for (size_t j = 0; j < nk && len < outlen; j++)
		len += (size_t)snprintf(out + len, outlen - len, "%s%s %lld", j > 0 ? ", " : "", kinds[j],
					(long long)counts[j]);
	if (known < failed && len < outlen)
		snprintf(out + len, outlen - len, "%s%lld not kept", nk > 0 ? ", " : "", (long long)(failed - known));
}

/* Whether every load has reported its first second (or ended). */
static bool
baseline_done(struct wload *loads, size_t n)
{
	bool ok = true;

	pthread_mutex_lock(&live_lock);
	for (size_t i = 0; i < n; i++)
		if (!atomic_load(&loads[i].done) && loads[i].live_elapsed < 1)
			ok = false;
	pthread_mutex_unlock(&live_lock);
	return ok;
}

/*
 * Starts the command (no shell) with the default dispositions of the
 * signals watch catches and an empty signal mask; its output goes where
 * ours goes. The PID, or -1 with a message.
 */
static pid_t
spawn(char **cmd, char *err, size_t errlen)
{
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	pid_t pid;
	int e;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	e = posix_spawnp(&pid, cmd[0], NULL, &attr, cmd, environ);
	posix_spawnattr_destroy(&attr);
	if (e != 0) {
		snprintf(err, errlen, "cannot run %s: %s", cmd[0], strerror(e));
		return -1;
	}
	return pid;
}

static double
pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

int
mc_cmd_watch(int argc, char **argv)
{
	enum {
		OPT_URL = 256, OPT_SETTLE, OPT_TIMEOUT, OPT_MAX_FAILURES, OPT_RESOLVE, OPT_CACERT, OPT_CERT, OPT_KEY,
		OPT_HTTP2, OPT_H2C, OPT_JSON,
	};
	static const struct option longopts[] = {
		{"url", required_argument, NULL, OPT_URL},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"settle", required_argument, NULL, OPT_SETTLE},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"max-failures", required_argument, NULL, OPT_MAX_FAILURES},
		{"resolve", required_argument, NULL, OPT_RESOLVE},
		{"header", required_argument, NULL, 'H'},
		{"cacert", required_argument, NULL, OPT_CACERT},
		{"insecure", no_argument, NULL, 'k'},
		{"cert", required_argument, NULL, OPT_CERT},
		{"key", required_argument, NULL, OPT_KEY},
		{"http2", no_argument, NULL, OPT_HTTP2},
		{"h2c", no_argument, NULL, OPT_H2C},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *urls[MAX_URLS], *headers[MAX_LIST], *resolve[MAX_LIST];
	size_t n_urls = 0, n_headers = 0, n_resolve = 0;
	struct mc_probe_spec spec = {0};
	double rate = DEFAULT_RATE, duration = 0, settle = 2, timeout = 2;
	long long max_failures = 0;
	bool json = false, v2 = false, h2c = false, color;
	char **cmd = NULL, err[MC_ERRLEN];
	int opt_argc = argc, opt, ret = MC_EXIT_USAGE;
	struct wload *loads = NULL;
	struct sigaction sa, old_int, old_term;
	sigset_t block, old_mask;
	FILE *live_out;
	pid_t pid = -1;
	int status = 0;
	bool cmd_done = false, cmd_ok = false, cmd_spawned = false, interrupted = false, term_sent = false;
	bool load_error = false;
	double cmd_start = 0, cmd_end = 0, settle_until = 0, term_at = 0;
	size_t next_line = 0;

	/* Everything after the first "--" is the command. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			opt_argc = i;
			cmd = argv + i + 1;
			if (*cmd == NULL) {
				fprintf(stderr, "meshcheck watch: \"--\" must be followed by a command (see --help)\n");
				return MC_EXIT_USAGE;
			}
			break;
		}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(opt_argc, argv, "+:r:d:H:kh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage();
			return MC_EXIT_OK;
		case OPT_URL:
			if (n_urls == MAX_URLS) {
				fprintf(stderr, "meshcheck watch: at most %d --url\n", MAX_URLS);
				return MC_EXIT_USAGE;
			}
			urls[n_urls++] = optarg;
			break;
		case 'r': {
			char *end;

			rate = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(rate > 0) || rate > MAX_RATE) {
				fprintf(stderr,
					"meshcheck watch: -r/--rate takes requests per second above 0 (at most %.0f), not \"%s\"\n",
					MAX_RATE, optarg);
				return MC_EXIT_USAGE;
			}
			break;
		}
		case 'd':
			if (!parse_dur("-d/--duration", optarg, 0.001, &duration))
				return MC_EXIT_USAGE;
			break;
		case OPT_SETTLE:
			if (!parse_dur("--settle", optarg, 0, &settle))
				return MC_EXIT_USAGE;
			break;
		case OPT_TIMEOUT:
			if (!parse_dur("--timeout", optarg, 0.001, &timeout))
				return MC_EXIT_USAGE;
			break;
		case OPT_MAX_FAILURES: {
			char *end;

			errno = 0;
			max_failures = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || max_failures < 0) {
				fprintf(stderr, "meshcheck watch: --max-failures takes a whole number from 0, not \"%s\"\n",
					optarg);
				return MC_EXIT_USAGE;
			}
			break;
		}
		case 'H':
			if (n_headers == MAX_LIST) {
				fprintf(stderr, "meshcheck watch: at most %d headers\n", MAX_LIST);
				return MC_EXIT_USAGE;
			}
			if (strchr(optarg, ':') == NULL) {
				fprintf(stderr, "meshcheck watch: -H takes 'Name: value', not \"%s\"\n", optarg);
				return MC_EXIT_USAGE;
			}
			headers[n_headers++] = optarg;
			break;
		case OPT_RESOLVE:
			if (n_resolve == MAX_LIST) {
				fprintf(stderr, "meshcheck watch: at most %d --resolve entries\n", MAX_LIST);
				return MC_EXIT_USAGE;
			}
			resolve[n_resolve++] = optarg;
			break;
		case OPT_CACERT: spec.cacert = optarg; break;
		case 'k': spec.insecure = true; break;
		case OPT_CERT: spec.cert = optarg; break;
		case OPT_KEY: spec.key = optarg; break;
		case OPT_HTTP2: v2 = true; spec.version = MC_HTTP_2; break;
		case OPT_H2C: h2c = true; spec.version = MC_HTTP_H2C; break;
		case OPT_JSON: json = true; break;
		case ':':
			fprintf(stderr, "meshcheck watch: %s needs a value (see --help)\n", argv[optind - 1]);
			return MC_EXIT_USAGE;
		default:
			fprintf(stderr, "meshcheck watch: unknown option %s (see --help)\n", argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (optind < opt_argc) {
		fprintf(stderr, "meshcheck watch: unexpected argument \"%s\" (URLs go with --url, the command after --)\n",
			argv[optind]);
		return MC_EXIT_USAGE;
	}
	if (n_urls == 0) {
		fprintf(stderr, "meshcheck watch: give at least one --url (see --help)\n");
		return MC_EXIT_USAGE;
	}
	if (v2 && h2c) {
		fprintf(stderr, "meshcheck watch: --http2 and --h2c exclude each other\n");
		return MC_EXIT_USAGE;
	}
	if (cmd == NULL && duration == 0) {
		fprintf(stderr, "meshcheck watch: without a command (after --), give -d/--duration\n");
		return MC_EXIT_USAGE;
	}
	if (cmd != NULL && duration > 0) {
		fprintf(stderr, "meshcheck watch: -d/--duration is for runs without a command; with one, "
				"the traffic lasts as long as it and --settle\n");
		return MC_EXIT_USAGE;
	}
	cmd_ok = cmd == NULL;
	spec.headers = headers;
	spec.n_headers = n_headers;
	spec.resolve = resolve;
	spec.n_resolve = n_resolve;
	spec.fresh = true;
	spec.timeout_ms = (long)ceil(timeout * 1000);
	spec.connect_timeout_ms = spec.timeout_ms;
	for (size_t i = 0; i < n_urls; i++) {
		spec.url = urls[i];
		if (mc_probe_spec_check(&spec, err, sizeof(err)) < 0) {
			fprintf(stderr, "meshcheck watch: --url %s: %s\n", urls[i], err);
			return MC_EXIT_USAGE;
		}
	}

	/* The loads: all started, in threads that leave SIGINT and SIGTERM to this one. */
	watch_stop = 0;
	watch_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	color = !json && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	live_out = json ? stderr : stdout;
	if (json)
		color = isatty(STDERR_FILENO) && getenv("NO_COLOR") == NULL;
	loads = mc_xcalloc(n_urls, sizeof(*loads));
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	for (size_t i = 0; i < n_urls; i++) {
		struct wload *l = &loads[i];
		double slots = ceil(rate * (timeout + 0.5));

		l->url = urls[i];
		l->o.req = spec;
		l->o.req.url = urls[i];
		l->o.rate = rate;
		l->o.connections = slots < MIN_SLOTS ? MIN_SLOTS : slots > MAX_SLOTS ? MAX_SLOTS : (int)slots;
		l->o.threads = 1;
		l->o.duration = cmd != NULL ? FOREVER_S : duration;
		l->o.stop = &watch_stop;
		l->o.timeline = true;
		l->o.label = urls[i];
		l->o.progress = progress;
		l->o.progress_arg = l;
		atomic_init(&l->done, false);
		if (pthread_create(&l->th, NULL, load_thread, l) != 0) {
			fprintf(stderr, "meshcheck watch: cannot start a thread for %s\n", urls[i]);
			watch_stop = 1;
			load_error = true;
			break;
		}
		l->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

	/*
	 * The command, the signals, the live lines, until every load has
	 * ended and the command (if any) has been waited for. The command
	 * gets SIGTERM when the run is cut short (a signal, a load that could
	 * not run, loads that ended on their own), and SIGKILL if it is still
	 * there KILL_AFTER_S later.
	 */
	for (;;) {
		bool all_done = true;

		for (size_t i = 0; i < n_urls; i++)
			if (loads[i].started && !atomic_load(&loads[i].done))
				all_done = false;
		if (watch_signal && !interrupted) {
			interrupted = true;
			watch_stop = 1;
		}
		/* A load that ended with an error (it never sent anything) ends the run. */
		for (size_t i = 0; i < n_urls; i++)
			if (loads[i].started && atomic_load(&loads[i].done) && loads[i].rc < 0 && !load_error) {
				load_error = true;
				watch_stop = 1;
			}
		/* The command starts once every load has a second of traffic behind it: a baseline. */
		if (cmd != NULL && !cmd_spawned && !watch_stop && baseline_done(loads, n_urls)) {
			cmd_spawned = true;
			fflush(stdout);
			fflush(stderr);
			cmd_start = mc_now();
			pid = spawn(cmd, err, sizeof(err));
			if (pid < 0) {
				fprintf(stderr, "meshcheck watch: %s\n", err);
				watch_stop = 1;
				load_error = true;
			}
		}
		if (pid > 0 && !cmd_done) {
			pid_t r = waitpid(pid, &status, WNOHANG);

			if (r == pid) {
				cmd_done = true;
				cmd_end = mc_now();
				cmd_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
				settle_until = mc_monotonic() + settle;
			} else if (r < 0 && errno != EINTR) {
				cmd_done = true;    /* not ours to wait for any more: cannot happen but for a bug */
				cmd_end = mc_now();
				cmd_ok = false;
				status = -1;
			} else if ((interrupted || load_error || all_done) && !term_sent) {
				kill(pid, SIGTERM);
				term_sent = true;
				term_at = mc_monotonic();
			} else if (term_sent && term_at > 0 && mc_monotonic() - term_at > KILL_AFTER_S) {
				kill(pid, SIGKILL);
				term_at = 0;
			}
		}
		if (cmd_done && !watch_stop && mc_monotonic() >= settle_until)
			watch_stop = 1;
		if (!load_error)
			print_live(live_out, color, loads, n_urls, &next_line);
		if (all_done && (pid <= 0 || cmd_done))
			break;
		sleep_tick();
	}
	for (size_t i = 0; i < n_urls; i++)
		if (loads[i].started)
			pthread_join(loads[i].th, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);

	if (load_error) {
		for (size_t i = 0; i < n_urls; i++)
			if (loads[i].started && loads[i].rc < 0)
				fprintf(stderr, "meshcheck watch: %s: %s\n", loads[i].url, loads[i].err);
		ret = MC_EXIT_USAGE;
		goto out;
	}

	{
		struct mc_load_result **parts = mc_xcalloc(n_urls, sizeof(*parts));
		struct mc_load_second *tl = NULL;
		struct wfail *fails = NULL;
		struct mc_hist *all_hist = NULL;
		size_t n_tl = 0, nf = 0, failed_seconds = 0;
		int64_t sent = 0, ok = 0, failed = 0, dropped = 0, abandoned = 0, requests = 0;
		double base = 0, duration_max = 0;
		char cmd_status[96] = "";
		bool passed;

		for (size_t i = 0; i < n_urls; i++) {
			parts[i] = &loads[i].res;
			if (i == 0 || loads[i].res.start_unix < base)
				base = loads[i].res.start_unix;
		}
		mc_load_timeline_merge(parts, n_urls, &tl, &n_tl);
		for (size_t i = 0; i < n_urls; i++) {
			const struct mc_load_result *r = &loads[i].res;
			double off = r->start_unix - base;
			size_t shift = (size_t)llround(off);

			for (size_t k = 0; k < r->n_failures; k++) {
				fails = mc_xrealloc(fails, (nf + 1) * sizeof(*fails));
				fails[nf].t = r->failures[k].t + off;
				fails[nf].second = (size_t)floor(r->failures[k].t) + shift;
				fails[nf].url = loads[i].url;
				fails[nf].f = &r->failures[k];
				nf++;
			}
			dropped += r->failures_dropped;
			abandoned += r->abandoned;
			requests += r->requests;
			if (r->duration > duration_max)
				duration_max = r->duration;
			if (r->hist != NULL) {
				if (all_hist == NULL)
					all_hist = mc_hist_new(60LL * 1000 * 1000);
				mc_hist_merge(all_hist, r->hist);
			}
		}
		if (nf > 0)
			qsort(fails, nf, sizeof(*fails), by_time);
		for (size_t k = 0; k < n_tl; k++) {
			sent += tl[k].sent;
			ok += tl[k].ok;
			failed += tl[k].failed;
			if (tl[k].failed > 0)
				failed_seconds++;
		}
		if (pid > 0)
			describe_status(status, cmd_status, sizeof(cmd_status));
		passed = failed <= max_failures && cmd_ok;

		/* The seconds the live lines have not shown yet, from the final counts. */
		for (size_t k = next_line; k < n_tl; k++)
			print_second(live_out, color, k, &tl[k]);
		if (json) {
			cJSON *j = cJSON_CreateObject(), *a, *c;
			char *text;

			cJSON_AddNumberToObject(j, "rate", rate);
			cJSON_AddNumberToObject(j, "start_unix", base);
			a = cJSON_AddArrayToObject(j, "urls");
			for (size_t i = 0; i < n_urls; i++) {
				const struct mc_load_result *r = &loads[i].res;
				cJSON *u = cJSON_CreateObject();
				int64_t us = 0, uo = 0, uf = 0;

				for (size_t k = 0; k < r->n_timeline; k++) {
					us += r->timeline[k].sent;
					uo += r->timeline[k].ok;
					uf += r->timeline[k].failed;
				}
				cJSON_AddStringToObject(u, "url", loads[i].url);
				cJSON_AddNumberToObject(u, "sent", (double)us);
				cJSON_AddNumberToObject(u, "ok", (double)uo);
				cJSON_AddNumberToObject(u, "failed", (double)uf);
				cJSON_AddNumberToObject(u, "abandoned", (double)r->abandoned);
				cJSON_AddNumberToObject(u, "rate_target", r->rate_target);
				cJSON_AddNumberToObject(u, "rate_achieved", r->rate_achieved);
				cJSON_AddNumberToObject(u, "duration_s", r->duration);
				cJSON_AddNumberToObject(u, "p99_ms",
							r->hist != NULL ? (double)mc_hist_percentile(r->hist, 99) / 1000 : 0);
				cJSON_AddNumberToObject(u, "start_offset_s", r->start_unix - base);
				cJSON_AddNumberToObject(u, "failures_dropped", (double)r->failures_dropped);
				cJSON_AddItemToArray(a, u);
			}
			cJSON_AddNumberToObject(j, "sent", (double)sent);
			cJSON_AddNumberToObject(j, "ok", (double)ok);
			cJSON_AddNumberToObject(j, "failed", (double)failed);
			cJSON_AddNumberToObject(j, "max_failures", (double)max_failures);
			cJSON_AddNumberToObject(j, "p99_ms",
						all_hist != NULL ? (double)mc_hist_percentile(all_hist, 99) / 1000 : 0);
			a = cJSON_AddArrayToObject(j, "timeline");
			for (size_t k = 0; k < n_tl; k++)
				cJSON_AddItemToArray(a, mc_load_second_json(&tl[k], (double)k));
			a = cJSON_AddArrayToObject(j, "failures");
			for (size_t k = 0; k < nf; k++) {
				cJSON *f = mc_load_failure_json(fails[k].f);

				cJSON_ReplaceItemInObject(f, "t", cJSON_CreateNumber(round(fails[k].t * 1e6) / 1e6));
				cJSON_DeleteItemFromObject(f, "path");
				cJSON_AddStringToObject(f, "url", fails[k].url);
				cJSON_AddItemToArray(a, f);
			}
			cJSON_AddNumberToObject(j, "failures_dropped", (double)dropped);
			if (cmd != NULL) {
				c = cJSON_AddObjectToObject(j, "command");
				a = cJSON_AddArrayToObject(c, "argv");
				for (char **p = cmd; *p != NULL; p++)
					cJSON_AddItemToArray(a, cJSON_CreateString(*p));
				if (pid > 0 && status >= 0 && WIFEXITED(status))
					cJSON_AddNumberToObject(c, "exit_code", WEXITSTATUS(status));
				else
					cJSON_AddNullToObject(c, "exit_code");
				if (pid > 0 && status >= 0 && WIFSIGNALED(status))
					cJSON_AddNumberToObject(c, "signal", WTERMSIG(status));
				else
					cJSON_AddNullToObject(c, "signal");
				if (pid > 0) {
					cJSON_AddNumberToObject(c, "start", cmd_start - base);
					cJSON_AddNumberToObject(c, "end", cmd_end - base);
				} else {
					cJSON_AddNullToObject(c, "start");  /* stopped before it started */
					cJSON_AddNullToObject(c, "end");
				}
				cJSON_AddBoolToObject(c, "ok", cmd_ok);
			} else {
				cJSON_AddNullToObject(j, "command");
			}
			cJSON_AddBoolToObject(j, "interrupted", interrupted);
			cJSON_AddBoolToObject(j, "passed", passed);
			text = cJSON_Print(j);
			printf("%s\n", text);
			free(text);
			cJSON_Delete(j);
		} else {
			printf("\nwatch:     %zu URL(s) at %.1f req/s each, a new connection per request, HTTP %s\n", n_urls,
			       rate, mc_http_version_name(spec.version));
			if (cmd != NULL) {
				printf("command:  ");
				for (char **p = cmd; *p != NULL; p++)
					printf(" %s", *p);
				if (pid > 0)
					printf("\n           %s, ran from t=%.2fs to t=%.2fs (%.2f s)%s\n", cmd_status,
					       cmd_start - base, cmd_end - base, cmd_end - cmd_start,
					       term_sent ? ", stopped with SIGTERM" : "");
				else
					printf("\n           not started: stopped first\n");
			}
			if (interrupted)
				printf("stopped:   early, by a signal\n");
			for (size_t i = 0; i < n_urls + 1; i++) {
				const struct mc_load_result *r = i < n_urls ? &loads[i].res : NULL;
				int64_t us = 0, uo = 0, uf = 0;
				double achieved, target;
				const struct mc_hist *h;

				if (i == n_urls && n_urls == 1)
					break;
				if (r != NULL) {
					for (size_t k = 0; k < r->n_timeline; k++) {
						us += r->timeline[k].sent;
						uo += r->timeline[k].ok;
						uf += r->timeline[k].failed;
					}
					achieved = r->rate_achieved;
					target = r->rate_target;
					h = r->hist;
				} else {
					us = sent;
					uo = ok;
					uf = failed;
					achieved = duration_max > 0 ? (double)requests / duration_max : 0;
					target = rate * (double)n_urls;
					h = all_hist;
				}
				printf("%-10s %s\n", i == 0 ? "traffic:" : "", r != NULL ? loads[i].url : "overall");
				printf("             sent %lld  ok %lld  failed %lld  rate %.1f/s of %.1f (%.1f%%)",
				       (long long)us, (long long)uo, (long long)uf, achieved, target, pct(achieved, target));
				if (h != NULL && mc_hist_count(h) > 0)
					printf("  p99 %.1fms", (double)mc_hist_percentile(h, 99) / 1000);
				printf("\n");
			}
			if (abandoned > 0)
				printf("           %lld request(s) in flight when the traffic stopped (not counted)\n",
				       (long long)abandoned);
			if (failed_seconds > 0) {
				printf("failed seconds:\n");
				for (size_t k = 0; k < n_tl; k++) {
					char why[256];

					if (tl[k].failed == 0)
						continue;
					second_breakdown(fails, nf, k, tl[k].failed, why, sizeof(why));
					printf("  t=%zus: %lld failed (%s)\n", k, (long long)tl[k].failed, why);
				}
			}
			if (nf > 0) {
				printf("first failures:\n");
				for (size_t k = 0; k < nf && k < SHOW_FAILURES; k++) {
					char kind[32];

					failure_kind(fails[k].f, kind, sizeof(kind));
					printf("  t=%.3fs  %s  %s: %s\n", fails[k].t, fails[k].url, kind, fails[k].f->message);
				}
				if ((int64_t)nf + dropped > SHOW_FAILURES)
					printf("  ... %lld more\n", (long long)((int64_t)nf + dropped - SHOW_FAILURES));
			}
			if (passed)
				printf("result:    PASS: %lld failed request(s), at most %lld allowed%s\n", (long long)failed,
				       max_failures, cmd != NULL ? "; the command succeeded" : "");
			else if (failed > max_failures)
				printf("result:    FAIL: %lld failed request(s), at most %lld allowed%s\n", (long long)failed,
				       max_failures, cmd_ok ? "" : "; the command failed");
			else
				printf("result:    FAIL: the command failed (%s)\n", pid > 0 ? cmd_status : "not started");
		}
		ret = passed ? MC_EXIT_OK : MC_EXIT_FAIL;
		mc_hist_free(all_hist);
		free(fails);
		free(tl);
		free(parts);
	}
out:
	for (size_t i = 0; i < n_urls; i++) {
		if (loads != NULL) {
			mc_load_result_clear(&loads[i].res);
			free(loads[i].live);
		}
	}
	free(loads);
	return ret;
}
