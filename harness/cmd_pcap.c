/*
 * `meshcheck pcap` and `meshcheck capture`: the wire engine on its own.
 * Both print the per-flow table (or JSON) and, when an expectation is
 * given, judge it: exit 0 when it holds, 1 when it fails, 2 on bad input,
 * usage or environment errors.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"
#include "wire.h"

#define MAX_TOKENS 16

/* Options shared by both commands. */
struct wire_opts {
	const char *bpf;
	const char *canaries[MAX_TOKENS];
	size_t n_canaries;
	bool expect_tls;
	const char *alpn;
	const char *sni;
	long min_flows;
	bool json;
	bool expect;                /* any expectation given */
};

/* Handles an option common to both commands; returns 1 if it was one, 0 if not, -1 on error. */
static int
common_opt(const char *cmd, int opt, const char *arg, struct wire_opts *o)
{
	char *end;

	switch (opt) {
	case 'f': o->bpf = arg; return 1;
	case 'C':
		if (o->n_canaries == MAX_TOKENS) {
			fprintf(stderr, "meshcheck %s: at most %d canaries\n", cmd, MAX_TOKENS);
			return -1;
		}
		o->canaries[o->n_canaries++] = arg;
		o->expect = true;
		return 1;
	case 'E':
		if (strcmp(arg, "tls") != 0) {
			fprintf(stderr, "meshcheck %s: --expect takes \"tls\", not \"%s\"\n", cmd, arg);
			return -1;
		}
		o->expect_tls = true;
		o->expect = true;
		return 1;
	case 'A': o->alpn = arg; o->expect = true; return 1;
	case 'S': o->sni = arg; o->expect = true; return 1;
	case 'M':
		o->min_flows = strtol(arg, &end, 10);
		if (*end != '\0' || o->min_flows < 0) {
			fprintf(stderr, "meshcheck %s: --min-flows takes a number, not \"%s\"\n", cmd, arg);
			return -1;
		}
		o->expect = true;
		return 1;
	case 'J': o->json = true; return 1;
	default: return 0;
	}
}

/* Prints the table or JSON and the verdict; returns the exit code. */
static int
report(struct mc_wire *w, const struct wire_opts *o)
{
	struct mc_wire_expect e = {0};
	struct mc_wire_verdict v;
	struct mc_wire_stats st;

	e.all_tls = o->expect_tls;
	e.no_canary = o->n_canaries > 0;
	e.alpn = o->alpn;
	e.sni = o->sni;
	e.min_flows = (size_t)o->min_flows;
	mc_wire_judge(w, &e, &v);
	mc_wire_stats_get(w, &st);
	if (o->json) {
		mc_wire_json_print(w, o->expect ? &v : NULL, stdout);
		putchar('\n');
	} else {
		mc_wire_flows_print(w, stdout);
		printf("\n%llu packet(s): %llu TCP in %zu flow(s), %llu other (ICMP %llu, ARP %llu, UDP %llu) not judged; "
		       "%llu truncated, %llu undecodable, %llu retransmitted, %llu out of order%s\n",
		       (unsigned long long)st.packets, (unsigned long long)st.tcp_packets, st.flows,
		       (unsigned long long)st.non_tcp, (unsigned long long)st.icmp, (unsigned long long)st.arp,
		       (unsigned long long)st.udp, (unsigned long long)st.truncated,
		       (unsigned long long)st.undecodable, (unsigned long long)st.retransmissions,
		       (unsigned long long)st.out_of_order, st.truncated_file ? "; the file ends inside a packet" : "");
		if (o->expect)
			printf("verdict: %s%s%s\n", v.ok ? "PASS" : "FAIL", v.ok ? "" : ": ", v.ok ? "" : v.reason);
	}
	return o->expect && !v.ok ? MC_EXIT_FAIL : MC_EXIT_OK;
}

static struct mc_wire *
engine(const char *cmd, const struct wire_opts *o)
{
	struct mc_wire_options wo = {0};
	char err[MC_ERRLEN];
	struct mc_wire *w;

	wo.canaries = o->canaries;
	wo.n_canaries = o->n_canaries;
	w = mc_wire_new(&wo, err, sizeof(err));
	if (w == NULL)
		fprintf(stderr, "meshcheck %s: %s\n", cmd, err);
	return w;
}

#define COMMON_LONGOPTS                                                                              \
	{"filter", required_argument, NULL, 'f'}, {"canary", required_argument, NULL, 'C'},          \
	{"expect", required_argument, NULL, 'E'}, {"alpn", required_argument, NULL, 'A'},           \
	{"sni", required_argument, NULL, 'S'},    {"min-flows", required_argument, NULL, 'M'},      \
	{"json", no_argument, NULL, 'J'},         {"help", no_argument, NULL, 'h'}

#define COMMON_HELP                                                                                  \
	"  -f, --filter BPF     only packets matching this filter\n"                                     \
	"  --expect tls         every flow must be TLS (empty flows are ignored)\n"                      \
	"  --canary TOKEN       the token must appear nowhere in cleartext (repeatable, 4-64 bytes)\n"   \
	"  --alpn GLOB          the ALPN (selected, else offered) of TLS flows must match\n"              \
	"  --sni GLOB           the SNI of TLS flows must match\n"                                        \
	"  --min-flows N        at least N non-empty flows (default 1 when judging)\n"                    \
	"  --json               one JSON document: stats, flows, verdict\n"                              \
	"  -h, --help           this help\n"                                                             \
	"\nExit codes: 0 the expectation holds (or none given), 1 it fails, 2 bad input or usage.\n"

int
mc_cmd_pcap(int argc, char **argv)
{
	static const struct option longopts[] = {COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	struct wire_opts o = {0};
	struct mc_wire *w;
	char err[MC_ERRLEN];
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("usage: meshcheck pcap FILE|- [OPTIONS]\n\n"
			       "Reads a pcap or pcapng capture (\"-\" for standard input), classifies every TCP\n"
			       "flow (tls with version, SNI and ALPN; http1; h2c; plaintext; empty), searches\n"
			       "for canary tokens in cleartext, and judges the expectation given.\n\noptions:\n"
			       COMMON_HELP);
			return MC_EXIT_OK;
		}
		rc = common_opt("pcap", opt, optarg, &o);
		if (rc < 0)
			return MC_EXIT_USAGE;
		if (rc == 0) {
			fprintf(stderr, "meshcheck pcap: unknown option or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "meshcheck pcap: give exactly one capture file, or - for standard input\n");
		return MC_EXIT_USAGE;
	}
	w = engine("pcap", &o);
	if (w == NULL)
		return MC_EXIT_USAGE;
	if (mc_wire_read_file(w, argv[optind], o.bpf, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck pcap: %s\n", err);
		mc_wire_free(w);
		return MC_EXIT_USAGE;
	}
	rc = report(w, &o);
	mc_wire_free(w);
	return rc;
}

static volatile sig_atomic_t capture_stop;

static void
on_signal(int sig)
{
	capture_stop = sig;
}

int
mc_cmd_capture(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{"interface", required_argument, NULL, 'i'}, {"seconds", required_argument, NULL, 's'},
		{"packets", required_argument, NULL, 'n'},   {"write", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	struct mc_capture_options co = {0};
	struct wire_opts o = {0};
	struct mc_capture *cap = NULL;
	struct sigaction sa, old_int, old_term;
	struct mc_wire *w;
	char err[MC_ERRLEN], *end;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+i:f:w:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("usage: meshcheck capture -i IFACE [OPTIONS]\n\n"
			       "Captures packets live (needs root or CAP_NET_RAW) until --seconds or --packets\n"
			       "or Ctrl-C, then prints every TCP flow's class and judges the expectation given.\n\n"
			       "options:\n"
			       "  -i, --interface IF   interface to capture on (lo, any, eth0 ...)\n"
			       "  --seconds N          stop after N seconds\n"
			       "  --packets N          stop after N packets\n"
			       "  -w, --write FILE     also write the packets to a pcap file (the evidence)\n"
			       COMMON_HELP);
			return MC_EXIT_OK;
		case 'i': co.iface = optarg; continue;
		case 'w': co.write_path = optarg; continue;
		case 's':
			co.seconds = strtod(optarg, &end);
			if (*end != '\0' || co.seconds <= 0) {
				fprintf(stderr, "meshcheck capture: --seconds takes a positive number, not \"%s\"\n", optarg);
				return MC_EXIT_USAGE;
			}
			continue;
		case 'n':
			co.max_packets = strtoull(optarg, &end, 10);
			if (*end != '\0' || co.max_packets == 0) {
				fprintf(stderr, "meshcheck capture: --packets takes a positive number, not \"%s\"\n", optarg);
				return MC_EXIT_USAGE;
			}
			continue;
		default:
			break;
		}
		rc = common_opt("capture", opt, optarg, &o);
		if (rc < 0)
			return MC_EXIT_USAGE;
		if (rc == 0) {
			fprintf(stderr, "meshcheck capture: unknown option or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return MC_EXIT_USAGE;
		}
	}
	if (co.iface == NULL || optind != argc) {
		fprintf(stderr, "meshcheck capture: %s (see --help)\n",
			co.iface == NULL ? "give the interface with -i" : "unexpected argument");
		return MC_EXIT_USAGE;
	}
	co.bpf = o.bpf;
	w = engine("capture", &o);
	if (w == NULL)
		return MC_EXIT_USAGE;
	if (mc_capture_start(w, &co, &cap, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck capture: %s\n", err);
		mc_wire_free(w);
		return MC_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	fprintf(stderr, "capturing on %s%s%s ...\n", co.iface, o.bpf != NULL ? " with filter " : "",
		o.bpf != NULL ? o.bpf : "");
	mc_capture_wait(cap, &capture_stop, err, sizeof(err));
	rc = mc_capture_stop(cap, err, sizeof(err));
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc < 0) {
		fprintf(stderr, "meshcheck capture: %s\n", err);
		mc_wire_free(w);
		return MC_EXIT_USAGE;
	}
	rc = report(w, &o);
	mc_wire_free(w);
	return rc;
}
