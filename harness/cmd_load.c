/*
 * `meshcheck load`: the load generator on its own. Sends one request again
 * and again (closed loop, or open loop at a fixed rate), then prints a human
 * summary or JSON. Exit 0 when the run took place, whatever the responses
 * were (refused connections are results); 2 on usage or environment errors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "hist.h"
#include "load.h"
#include "probe.h"
#include "util.h"

#define MAX_LIST 64

static volatile sig_atomic_t load_stop;

static void
on_signal(int sig)
{
	load_stop = sig;
}


static void
progress(const struct mc_load_progress *p, void *arg)
{
	(void)arg;
	fprintf(stderr, "\r%6.0fs  %s%lld requests  %.1f req/s  %lld errors  %lld non-2xx   ", p->elapsed,
		p->warming_up ? "(warm-up) " : "", (long long)p->requests, p->rate, (long long)p->errors,
		(long long)p->non_2xx);
	fflush(stderr);
}

static double
pct(int64_t part, int64_t whole)
{
	return whole > 0 ? 100.0 * (double)part / (double)whole : 0;
}

static void
summary(const struct mc_load_options *o, const struct mc_load_result *r)
{
	const char *method = o->req.method != NULL ? o->req.method : o->req.body != NULL ? "POST" : "GET";
	bool first;

	printf("load:        %s %s, %s loop, %d connection(s)", method, o->req.url, r->open_loop ? "open" : "closed",
	       r->connections);
	if (r->streams > 1)
		printf(" x %d streams", r->streams);
	printf(", %d thread(s), HTTP %s%s\n", r->threads, mc_http_version_name(o->req.version),
	       o->req.fresh ? ", a new connection per request" : "");
	printf("requests:    %lld in %.2f s = %.1f req/s", (long long)r->requests, r->duration, r->rate_achieved);
	if (r->open_loop)
		printf(" (target %.1f req/s)\n", r->rate_target);
	else
		printf(" (closed loop)\n");
	if (r->open_loop)
		printf("schedule:    %lld late (more than %.1f ms after the intended time), %lld unsent (all connections busy)\n",
		       (long long)r->late, (o->late_slack > 0 ? o->late_slack : 0.001) * 1000, (long long)r->unsent);
	if (r->warmup_requests > 0)
		printf("warm-up:     %lld request(s) not recorded\n", (long long)r->warmup_requests);
	if (r->hist != NULL && mc_hist_count(r->hist) > 0) {
		const struct mc_hist *h = r->hist;

		printf("latency ms:  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f%s)\n",
		       (double)mc_hist_percentile(h, 50) / 1000, (double)mc_hist_percentile(h, 90) / 1000,
		       (double)mc_hist_percentile(h, 99) / 1000, (double)mc_hist_percentile(h, 99.9) / 1000,
		       (double)mc_hist_max(h) / 1000, mc_hist_mean(h) / 1000,
		       r->open_loop ? ", from the intended send times" : "");
	}
	printf("codes:       ");
	first = true;
	for (int c = 0; c < MC_LOAD_MAX_CODE; c++)
		if (r->codes[c] > 0) {
			printf("%s%d: %lld (%.2f%%)", first ? "" : ", ", c, (long long)r->codes[c], pct(r->codes[c], r->requests));
			first = false;
		}
	if (r->codes_other > 0) {
		printf("%sother: %lld", first ? "" : ", ", (long long)r->codes_other);
		first = false;
	}
	printf("%s\n", first ? "none" : "");
	printf("errors:      ");
	first = true;
	for (int e = 1; e < MC_XFER_COUNT; e++)
		if (r->xfer_errors[e] > 0) {
			printf("%s%s: %lld (%.2f%%)", first ? "" : ", ", mc_xfer_error_name((enum mc_xfer_error)e),
			       (long long)r->xfer_errors[e], pct(r->xfer_errors[e], r->requests));
			first = false;
		}
	printf("%s\n", first ? "none" : "");
	if (r->first_error[0] != '\0')
		printf("first error: %s\n", r->first_error);
	if (o->extract != NULL) {
		printf("responders:  ");
		for (size_t i = 0; i < r->n_responders; i++)
			printf("%s%s: %lld (%.1f%%)", i > 0 ? ", " : "", r->responders[i].value,
			       (long long)r->responders[i].count, pct(r->responders[i].count, r->responses));
		if (r->responders_other > 0)
			printf("%sother: %lld (%.1f%%)", r->n_responders > 0 ? ", " : "", (long long)r->responders_other,
			       pct(r->responders_other, r->responses));
		if (r->responders_unmatched > 0)
			printf("%sunmatched: %lld (%.1f%%)", r->n_responders + (size_t)(r->responders_other > 0) > 0 ? ", " : "",
			       (long long)r->responders_unmatched, pct(r->responders_unmatched, r->responses));
		printf("\n");
	}
	if (r->stopped)
		printf("stopped:     early, on request; %lld request(s) in flight abandoned\n", (long long)r->abandoned);
}

static void
usage(void)
{
	printf("usage: meshcheck load URL [OPTIONS]\n\n"
	       "Sends the request again and again over libcurl and reports the rate, latency\n"
	       "percentiles, status codes, transport errors and (with --extract) which responder\n"
	       "answered. Closed loop by default: every connection sends its next request as soon as\n"
	       "the previous one is answered. With --rate, an open loop: request i is due at\n"
	       "start + i/R and its latency counts from that time, so a stalled server cannot hide.\n\n"
	       "options:\n"
	       "  -c, --connections N   concurrent connections (default 10)\n"
	       "  --streams M           HTTP/2: M concurrent requests on each connection (default 1)\n"
	       "  -d, --duration DUR    recorded time after the warm-up (default 10s; 500ms, 1.5s, 1m)\n"
	       "  -n, --requests N      stop after N recorded requests (with -d: whichever comes first)\n"
	       "  -r, --rate R          open loop at R requests/s\n"
	       "  --late-slack DUR      open loop: a request is late when sent later than this (default 1ms)\n"
	       "  --warmup DUR          send but do not record for this long first (default 0)\n"
	       "  -t, --threads N       worker threads, each with its own connections (default 1)\n"
	       "  --fresh               a new connection for every request (TLS handshake each time)\n"
	       "  --http2               HTTP/2 over TLS (ALPN h2)\n"
	       "  --h2c                 HTTP/2 with prior knowledge, also over cleartext\n"
	       "  --cacert FILE         trust these roots (PEM) instead of the system's\n"
	       "  -k, --insecure        do not verify the server's certificate or name\n"
	       "  --cert FILE           client certificate (PEM) for mutual TLS\n"
	       "  --key FILE            its key (default: in the certificate file)\n"
	       "  --resolve H:P:ADDR    connect to ADDR for host H port P (no DNS; SNI stays H)\n"
	       "  -H, --header 'K: V'   extra request header (repeatable; 'Host: x' overrides Host)\n"
	       "  -X, --request METHOD  request method (default GET, or POST with --data)\n"
	       "  --data BODY           request body\n"
	       "  --extract REGEX       POSIX extended regex over the body; group 1 names the responder\n"
	       "  --extract-header NAME apply --extract to this response header instead\n"
	       "  --timeout DUR         limit per request (default 5s)\n"
	       "  --connect-timeout DUR limit per connection set-up (default 5s, at most --timeout)\n"
	       "  --json                one JSON document instead of the summary\n"
	       "  -h, --help            this help\n"
	       "\nCtrl-C stops early and still prints the results. Exit codes: 0 the run took place\n"
	       "(failed requests are results), 2 usage or environment error.\n");
}

/* Parses a whole number within [lo, hi] for option name; false with a message if it is not one. */
static bool
parse_int(const char *name, const char *arg, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "meshcheck load: %s takes a whole number from %lld to %lld, not \"%s\"\n", name, lo, hi, arg);
		return false;
	}
	*out = v;
	return true;
}

static bool
parse_dur(const char *name, const char *arg, double *out)
{
	if (mc_seconds_parse(arg, out) < 0) {
		fprintf(stderr, "meshcheck load: %s takes a duration such as 5s, 250ms or 1m, not \"%s\"\n", name, arg);
		return false;
	}
	return true;
}

int
mc_cmd_load(int argc, char **argv)
{
	enum {
		OPT_WARMUP = 256, OPT_FRESH, OPT_HTTP2, OPT_H2C, OPT_CACERT, OPT_CERT, OPT_KEY, OPT_RESOLVE,
		OPT_DATA, OPT_EXTRACT, OPT_EXTRACT_HEADER, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_JSON, OPT_SLACK,
		OPT_STREAMS,
	};
	static const struct option longopts[] = {
		{"connections", required_argument, NULL, 'c'},
		{"streams", required_argument, NULL, OPT_STREAMS},
		{"duration", required_argument, NULL, 'd'},
		{"requests", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"threads", required_argument, NULL, 't'},
		{"header", required_argument, NULL, 'H'},
		{"request", required_argument, NULL, 'X'},
		{"insecure", no_argument, NULL, 'k'},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"late-slack", required_argument, NULL, OPT_SLACK},
		{"fresh", no_argument, NULL, OPT_FRESH},
		{"http2", no_argument, NULL, OPT_HTTP2},
		{"h2c", no_argument, NULL, OPT_H2C},
		{"cacert", required_argument, NULL, OPT_CACERT},
		{"cert", required_argument, NULL, OPT_CERT},
		{"key", required_argument, NULL, OPT_KEY},
		{"resolve", required_argument, NULL, OPT_RESOLVE},
		{"data", required_argument, NULL, OPT_DATA},
		{"extract", required_argument, NULL, OPT_EXTRACT},
		{"extract-header", required_argument, NULL, OPT_EXTRACT_HEADER},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *headers[MAX_LIST], *resolve[MAX_LIST];
	struct mc_load_options o = {0};
	struct mc_load_result r;
	struct sigaction sa, old_int, old_term;
	double timeout = 5, connect_timeout = 5, d;
	bool json = false, v2 = false, h2c = false;
	char err[MC_ERRLEN];
	long long v;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:d:n:r:t:H:X:kh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage();
			return MC_EXIT_OK;
		case 'c':
			if (!parse_int("-c/--connections", optarg, 1, 100000, &v))
				return MC_EXIT_USAGE;
			o.connections = (int)v;
			break;
		case OPT_STREAMS:
			if (!parse_int("--streams", optarg, 1, 1000, &v))
				return MC_EXIT_USAGE;
			o.streams = (int)v;
			break;
		case 'n':
			if (!parse_int("-n/--requests", optarg, 1, (long long)1 << 50, &v))
				return MC_EXIT_USAGE;
			o.count = v;
			break;
		case 't':
			if (!parse_int("-t/--threads", optarg, 1, 64, &v))
				return MC_EXIT_USAGE;
			o.threads = (int)v;
			break;
		case 'd':
			if (!parse_dur("-d/--duration", optarg, &o.duration))
				return MC_EXIT_USAGE;
			if (o.duration <= 0) {
				fprintf(stderr, "meshcheck load: -d/--duration must be more than 0\n");
				return MC_EXIT_USAGE;
			}
			break;
		case 'r': {
			char *end;

			o.rate = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(o.rate > 0) || o.rate > 1e7) {
				fprintf(stderr, "meshcheck load: -r/--rate takes requests per second above 0, not \"%s\"\n",
					optarg);
				return MC_EXIT_USAGE;
			}
			break;
		}
		case 'H':
			if (o.req.n_headers == MAX_LIST) {
				fprintf(stderr, "meshcheck load: at most %d headers\n", MAX_LIST);
				return MC_EXIT_USAGE;
			}
			if (strchr(optarg, ':') == NULL) {
				fprintf(stderr, "meshcheck load: -H takes 'Name: value', not \"%s\"\n", optarg);
				return MC_EXIT_USAGE;
			}
			headers[o.req.n_headers++] = optarg;
			break;
		case 'X': o.req.method = optarg; break;
		case 'k': o.req.insecure = true; break;
		case OPT_WARMUP:
			if (!parse_dur("--warmup", optarg, &o.warmup))
				return MC_EXIT_USAGE;
			break;
		case OPT_SLACK:
			if (!parse_dur("--late-slack", optarg, &o.late_slack))
				return MC_EXIT_USAGE;
			break;
		case OPT_FRESH: o.req.fresh = true; break;
		case OPT_HTTP2: v2 = true; o.req.version = MC_HTTP_2; break;
		case OPT_H2C: h2c = true; o.req.version = MC_HTTP_H2C; break;
		case OPT_CACERT: o.req.cacert = optarg; break;
		case OPT_CERT: o.req.cert = optarg; break;
		case OPT_KEY: o.req.key = optarg; break;
		case OPT_RESOLVE:
			if (o.req.n_resolve == MAX_LIST) {
				fprintf(stderr, "meshcheck load: at most %d --resolve entries\n", MAX_LIST);
				return MC_EXIT_USAGE;
			}
			resolve[o.req.n_resolve++] = optarg;
			break;
		case OPT_DATA: o.req.body = optarg; break;
		case OPT_EXTRACT: o.extract = optarg; break;
		case OPT_EXTRACT_HEADER: o.extract_header = optarg; break;
		case OPT_TIMEOUT:
		case OPT_CONNECT_TIMEOUT:
			if (!parse_dur(opt == OPT_TIMEOUT ? "--timeout" : "--connect-timeout", optarg, &d))
				return MC_EXIT_USAGE;
			if (d < 0.001) {
				fprintf(stderr, "meshcheck load: %s must be at least 1ms\n",
					opt == OPT_TIMEOUT ? "--timeout" : "--connect-timeout");
				return MC_EXIT_USAGE;
			}
			*(opt == OPT_TIMEOUT ? &timeout : &connect_timeout) = d;
			break;
		case OPT_JSON: json = true; break;
		case ':':
			fprintf(stderr, "meshcheck load: %s needs a value (see --help)\n", argv[optind - 1]);
			return MC_EXIT_USAGE;
		default:
			fprintf(stderr, "meshcheck load: unknown option %s (see --help)\n", argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "meshcheck load: give exactly one URL (see --help)\n");
		return MC_EXIT_USAGE;
	}
	if (v2 && h2c) {
		fprintf(stderr, "meshcheck load: --http2 and --h2c exclude each other\n");
		return MC_EXIT_USAGE;
	}
	if (o.streams > 1 && !v2 && !h2c) {
		fprintf(stderr, "meshcheck load: --streams needs --http2 or --h2c\n");
		return MC_EXIT_USAGE;
	}
	if (o.streams > 1 && o.req.fresh) {
		fprintf(stderr, "meshcheck load: --streams and --fresh exclude each other\n");
		return MC_EXIT_USAGE;
	}
	o.req.url = argv[optind];
	o.req.headers = headers;
	o.req.resolve = resolve;
	o.req.timeout_ms = (long)(timeout * 1000);
	o.req.connect_timeout_ms = (long)(fmin(connect_timeout, timeout) * 1000);
	if (isatty(STDERR_FILENO))
		o.progress = progress;
	o.stop = &load_stop;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = mc_load_run(&o, &r, err, sizeof(err));
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (o.progress != NULL)
		fprintf(stderr, "\r%78s\r", "");
	if (rc < 0) {
		fprintf(stderr, "meshcheck load: %s\n", err);
		mc_load_result_clear(&r);
		return MC_EXIT_USAGE;
	}
	if (r.warning[0] != '\0')
		fprintf(stderr, "meshcheck load: warning: %s\n", r.warning);
	if (json) {
		cJSON *j = mc_load_result_json(&r);
		char *text;

		cJSON_AddStringToObject(j, "url", o.req.url);
		text = cJSON_Print(j);
		printf("%s\n", text);
		free(text);
		cJSON_Delete(j);
	} else {
		summary(&o, &r);
	}
	mc_load_result_clear(&r);
	return MC_EXIT_OK;
}
