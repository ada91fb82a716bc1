/*
 * The wire engine: reads packets (live with libpcap, or pcap/pcapng files
 * and streams), tracks TCP flows in both directions, classifies each flow
 * (TLS with version, SNI and ALPN; plaintext HTTP/1; h2c; other plaintext;
 * empty) and searches every payload byte for canary tokens, across segment
 * boundaries. It knows nothing of clusters.
 *
 * Errors follow util.h: 0 or a negative errno, message in err.
 */
#ifndef MC_WIRE_H
#define MC_WIRE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

enum mc_flow_class {
	MC_FLOW_EMPTY,     /* no payload seen (handshake only, or filtered) */
	MC_FLOW_TLS,
	MC_FLOW_HTTP1,     /* plaintext HTTP/1.x request or response line */
	MC_FLOW_H2C,       /* cleartext HTTP/2 connection preface */
	MC_FLOW_PLAINTEXT, /* other cleartext payload */
};

/* "empty", "tls", "http1", "h2c", "plaintext". */
const char *mc_flow_class_name(enum mc_flow_class c);

struct mc_wire_options {
	const char *const *canaries;  /* byte strings to find in cleartext; may be NULL */
	const size_t *canary_lens;    /* their lengths (NULL: use strlen) */
	size_t n_canaries;            /* at most 16, each 4..64 bytes */
	size_t max_payload;           /* per direction, for classification; default 16 KiB */
};

struct mc_wire;

/* A new, empty engine; NULL opts for defaults. Returns NULL with err set on bad options. */
struct mc_wire *mc_wire_new(const struct mc_wire_options *opts, char *err, size_t errlen);
void mc_wire_free(struct mc_wire *w);       /* NULL does nothing */

/*
 * Feeds one captured packet: its libpcap link type (DLT_EN10MB,
 * DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, ...), capture
 * time in seconds, the captured bytes (caplen) and the original length.
 * Never fails: what it cannot decode is counted.
 */
void mc_wire_packet(struct mc_wire *w, int linktype, double ts, const uint8_t *data,
		    uint32_t caplen, uint32_t wirelen);

/*
 * Reads a pcap or pcapng file ("-" for standard input, or a pipe), with an
 * optional BPF filter. A file that is not a capture, or that is truncated in
 * its header, gives -EINVAL and a message naming the file; a capture cut off
 * in the middle of a packet record is read up to there and reported in the
 * stats (truncated_file = true), not as an error.
 */
int mc_wire_read_file(struct mc_wire *w, const char *path, const char *bpf, char *err, size_t errlen);

struct mc_capture_options {
	const char *iface;          /* "lo", "any", "eth0" ... */
	const char *bpf;            /* optional filter */
	int snaplen;                /* default 65535 */
	double seconds;             /* 0 = until stopped or max_packets */
	uint64_t max_packets;       /* 0 = no limit */
	const char *write_path;     /* optional: also write the packets to this pcap file */
};

struct mc_capture;

/*
 * Starts a live capture in a background thread feeding w. Without the
 * privilege to capture, returns -EPERM with a message saying that root or
 * CAP_NET_RAW is needed. The capture is ready (packets are being seen) when
 * this returns.
 */
int mc_capture_start(struct mc_wire *w, const struct mc_capture_options *opts,
		     struct mc_capture **out, char *err, size_t errlen);
/*
 * Waits until the capture ends by itself (seconds or max_packets) or, when
 * stop is non-NULL and becomes non-zero, stops it. Returns 0 or a negative
 * errno with err set.
 */
int mc_capture_wait(struct mc_capture *c, volatile sig_atomic_t *stop, char *err, size_t errlen);
/* Stops the capture after draining what the kernel holds (about 100 ms), joins the thread, frees. */
int mc_capture_stop(struct mc_capture *c, char *err, size_t errlen);

struct mc_wire_stats {
	uint64_t packets;           /* all packets fed */
	uint64_t bytes;             /* captured bytes */
	uint64_t tcp_packets;
	uint64_t non_tcp;           /* ICMP, ICMPv6, ARP, UDP, other: never part of a verdict */
	uint64_t icmp, arp, udp;
	uint64_t truncated;         /* packets whose caplen < wirelen */
	uint64_t undecodable;       /* unknown link type, broken headers */
	uint64_t retransmissions;
	uint64_t out_of_order;
	bool truncated_file;        /* the file ended inside a packet record */
	size_t flows;
	int read_threads;           /* threads that read a classic pcap file (1, or 2 for a large
	                               one), 0 when libpcap read the input */
};

void mc_wire_stats_get(const struct mc_wire *w, struct mc_wire_stats *out);

/* A read-only view of one flow; strings are owned by the engine. */
struct mc_flow_view {
	int family;                 /* AF_INET or AF_INET6 */
	char client[46];            /* the side that opened it (SYN), else the first sender */
	uint16_t client_port;
	char server[46];
	uint16_t server_port;
	enum mc_flow_class cls;
	uint64_t packets[2];        /* [0] client to server, [1] server to client */
	uint64_t payload_bytes[2];
	double first_ts, last_ts;
	uint16_t tls_version;       /* negotiated (supported_versions), else record version; 0 if not TLS */
	bool tls_complete;          /* handshake finished (application data or Finished seen both ways) */
	const char *sni;            /* NULL when none */
	const char *alpn_offered;   /* comma-separated, NULL when none */
	const char *alpn_selected;  /* NULL when none */
	uint64_t canary_hits;       /* cleartext canary occurrences in this flow */
	uint64_t first_canary_packet; /* packet number (1-based) of the first hit, 0 if none */
	const char *sample;         /* first cleartext bytes (printable, bounded to 64), NULL for TLS/empty */
};

size_t mc_wire_flow_count(const struct mc_wire *w);
/* Flows in order of first appearance; an index past the end gives a zeroed view. */
void mc_wire_flow_get(const struct mc_wire *w, size_t i, struct mc_flow_view *out);

/* Which flows a verdict is about: those with an endpoint matching (addr, port); empty = all. */
struct mc_flow_match {
	const char *addr;           /* textual address, NULL = any */
	uint16_t port;              /* 0 = any */
};

struct mc_wire_expect {
	const struct mc_flow_match *match;
	size_t n_match;
	bool all_tls;               /* every selected flow must be tls (empty flows are ignored) */
	const char *alpn;           /* glob the selected ALPN must match, NULL = any */
	const char *sni;            /* glob the SNI must match, NULL = any */
	bool no_canary;             /* no canary in cleartext in selected flows */
	size_t min_flows;           /* at least this many selected non-empty flows; 0 means 1 */
};

struct mc_wire_verdict {
	bool ok;
	char reason[512];           /* first failure, one line ("no traffic seen" when nothing matched) */
	size_t selected;            /* non-empty flows selected */
	size_t tls, plaintext;      /* of them */
	uint64_t canary_hits;
	size_t failing_flows;
};

/* Judges w's flows against e. Always fills v. */
void mc_wire_judge(const struct mc_wire *w, const struct mc_wire_expect *e, struct mc_wire_verdict *v);

/* The per-flow table as text (one line per flow; header line first). Caller frees. */
char *mc_wire_flows_text(const struct mc_wire *w);
/* The same table written line by line to out, without holding it in memory. */
void mc_wire_flows_print(const struct mc_wire *w, FILE *out);
/* {"stats": {...}, "flows": [...], "verdict": {...} (when v != NULL)}. Caller deletes. */
cJSON *mc_wire_json(const struct mc_wire *w, const struct mc_wire_verdict *v);
/*
 * The same document written to out as cJSON_Print writes it (no newline
 * after it), a flow at a time: memory stays that of one flow's object.
 */
void mc_wire_json_print(const struct mc_wire *w, const struct mc_wire_verdict *v, FILE *out);

#endif
