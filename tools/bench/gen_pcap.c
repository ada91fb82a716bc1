/*
 * gen_pcap: writes a synthetic Ethernet pcap file for the wire benchmark.
 *
 *   gen_pcap -o FILE -b BYTES -f FLOWS -a AVG [-w WINDOW] [-s SLICE_FILE -S SLICE_BYTES]
 *            [-r SEED] [-n NAMES]
 *
 * Writes TCP flows until the file holds at least BYTES bytes, aiming at
 * FLOWS flows whose packets average AVG bytes on the wire (Ethernet frame
 * length). WINDOW flows are open at once and their packets interleave, as
 * on a busy node. Each TLS flow (to port 443) is a TCP handshake, a TLS 1.3
 * ClientHello with an Istio-style SNI (one of NAMES
 * services, default 1000) and ALPN, the server's flight
 * (ServerHello, ChangeCipherSpec, encrypted handshake), the client's
 * Finished, application-data records both ways, then FIN/ACK. One flow in
 * 50 is plaintext HTTP/1.1 to port 80 instead, and about one packet in 2,000
 * is an ICMP echo or an ARP request (noise that must never matter).
 *
 * With -s, the first SLICE_BYTES of the capture (whole packet records) are
 * also written to SLICE_FILE, for tools too slow to read the whole file.
 *
 * Prints one line on stdout: flows=N tls=N http=N packets=N bytes=N
 * avg_frame=N noise=N. Exit 0, or 1 with a message on errors.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAME 1514
#define MSS 1448
#define MAX_APP_MEAN 1150   /* so that around() stays below the MSS */

/* Stages of a flow, in order; each emits one packet. */
enum stage {
	ST_SYN,
	ST_SYNACK,
	ST_ACK,
	ST_HELLO,      /* ClientHello, or the HTTP request */
	ST_FLIGHT,     /* server flight, or the HTTP response */
	ST_FINISHED,   /* client CCS + Finished (TLS only) */
	ST_DATA,       /* application data, alternating directions */
	ST_FIN1,
	ST_FIN2,
	ST_LASTACK,
	ST_DONE,
};

struct flow {
	uint32_t cip, sip;
	uint16_t cport, sport;
	uint32_t cseq, sseq;
	enum stage st;
	int data_left;
	int is_http;
	uint32_t id;
};

struct gen {
	FILE *out, *slice;
	uint64_t slice_max, slice_written;
	uint64_t written, packets, frame_bytes, noise, flows, tls, http;
	double ts;
	uint64_t rng;
	int app_mean;            /* mean application-data payload */
	int data_packets;        /* per TLS flow */
	uint32_t names;          /* distinct service names (SNIs) */
	uint8_t frame[MAX_FRAME];
};

static uint32_t
rnd(struct gen *g)
{
	/* xorshift64*: fast and reproducible; quality does not matter here. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)((g->rng * 2685821657736338717ULL) >> 32);
}

static void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Writes n bytes to the capture (and the slice while it has room); exits on I/O errors. */
static void
emit(struct gen *g, const void *data, size_t n)
{
	if (fwrite(data, 1, n, g->out) != n) {
		fprintf(stderr, "gen_pcap: write: %s\n", strerror(errno));
		exit(1);
	}
	g->written += n;
}

/* Appends one packet record of len bytes from g->frame, with the next timestamp. */
static void
record(struct gen *g, size_t len)
{
	uint8_t hdr[16];
	uint32_t sec, usec;

	g->ts += 0.000007 + (rnd(g) % 16) * 0.000001;
	sec = (uint32_t)g->ts;
	usec = (uint32_t)((g->ts - sec) * 1e6);
	put_le32(hdr, sec);
	put_le32(hdr + 4, usec);
	put_le32(hdr + 8, (uint32_t)len);
	put_le32(hdr + 12, (uint32_t)len);
	emit(g, hdr, sizeof(hdr));
	emit(g, g->frame, len);
	if (g->slice != NULL && g->slice_written + sizeof(hdr) + len <= g->slice_max) {
		if (fwrite(hdr, 1, sizeof(hdr), g->slice) != sizeof(hdr) ||
		    fwrite(g->frame, 1, len, g->slice) != len) {
			fprintf(stderr, "gen_pcap: write slice: %s\n", strerror(errno));
			exit(1);
		}
		g->slice_written += sizeof(hdr) + len;
	}
	g->packets++;
	g->frame_bytes += len;
}

static void
ip_checksum(uint8_t *ip)
{
	uint32_t sum = 0;

	ip[10] = ip[11] = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, ~sum & 0xffff);
}

/* Ethernet + IPv4 header for protocol proto and l4len bytes after it; returns the IPv4 header. */
static uint8_t *
eth_ip(struct gen *g, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len)
{
	uint8_t *f = g->frame, *ip = f + 14;

	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint32_t)(20 + l4len));
	put16(ip + 4, rnd(g) & 0xffff);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	ip_checksum(ip);
	return ip;
}

/*
 * One TCP segment of flow f in direction dir (0 client to server) with the
 * given flags and payload (len bytes, may be NULL to fill with pseudo-random
 * bytes, as ciphertext). Advances the sequence numbers.
 */
static void
segment(struct gen *g, struct flow *f, int dir, uint8_t flags, const uint8_t *payload, size_t len)
{
	uint8_t *tcp;
	uint32_t *seq = dir == 0 ? &f->cseq : &f->sseq, *ack = dir == 0 ? &f->sseq : &f->cseq;

	if (len > MSS)
		len = MSS;
	eth_ip(g, dir == 0 ? f->cip : f->sip, dir == 0 ? f->sip : f->cip, 6, 20 + len);
	tcp = g->frame + 34;
	put16(tcp, dir == 0 ? f->cport : f->sport);
	put16(tcp + 2, dir == 0 ? f->sport : f->cport);
	put32(tcp + 4, *seq);
	put32(tcp + 8, (flags & 0x10) ? *ack : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (payload != NULL) {
		memcpy(tcp + 20, payload, len);
	} else {
		for (size_t i = 0; i < len; i += 4) {
			uint32_t r = rnd(g);

			memcpy(tcp + 20 + i, &r, len - i < 4 ? len - i : 4);
		}
	}
	*seq += (uint32_t)len + ((flags & 0x03) ? 1 : 0);
	record(g, 54 + len);
}

/* Appends a TLS extension (type, body) to p; returns the bytes written. */
static size_t
ext(uint8_t *p, uint16_t type, const uint8_t *body, size_t n)
{
	put16(p, type);
	put16(p + 2, (uint32_t)n);
	memcpy(p + 4, body, n);
	return 4 + n;
}

/* A TLS 1.3 ClientHello record with SNI and ALPN (istio-peer-exchange, istio, h2); returns its length. */
static size_t
client_hello(struct gen *g, struct flow *f, uint8_t *buf)
{
	static const uint8_t alpn[] = {0, 29, 19, 'i', 's', 't', 'i', 'o', '-', 'p', 'e', 'e', 'r', '-', 'e', 'x', 'c',
				       'h', 'a', 'n', 'g', 'e', 5, 'i', 's', 't', 'i', 'o', 2, 'h', '2'};
	static const uint8_t versions[] = {4, 0x03, 0x04, 0x03, 0x03};
	static const uint8_t groups[] = {0, 4, 0x00, 0x1d, 0x00, 0x17};
	static const uint8_t sigalgs[] = {0, 8, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03};
	static const uint8_t suites[] = {0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30};
	uint8_t body[512], tmp[160];
	char name[128];
	size_t n = 0, e, nl;
	uint8_t *extlen;

	uint32_t k = f->id % g->names;

	nl = (size_t)snprintf(name, sizeof(name), "outbound_.%u_._.svc-%u.ns-%u.svc.cluster.local",
			      f->sport, k, k % 31);
	put16(body, 0x0303);
	n = 2;
	for (int i = 0; i < 32; i++)
		body[n++] = (uint8_t)rnd(g);
	body[n++] = 32;
	for (int i = 0; i < 32; i++)
		body[n++] = (uint8_t)rnd(g);
	put16(body + n, sizeof(suites));
	memcpy(body + n + 2, suites, sizeof(suites));
	n += 2 + sizeof(suites);
	body[n++] = 1;
	body[n++] = 0;
	extlen = body + n;
	n += 2;
	e = n;
	/* server_name: list length, type host_name, name length, name. */
	put16(tmp, (uint32_t)(nl + 3));
	tmp[2] = 0;
	put16(tmp + 3, (uint32_t)nl);
	memcpy(tmp + 5, name, nl);
	n += ext(body + n, 0, tmp, nl + 5);
	n += ext(body + n, 16, alpn, sizeof(alpn));
	n += ext(body + n, 43, versions, sizeof(versions));
	n += ext(body + n, 10, groups, sizeof(groups));
	n += ext(body + n, 13, sigalgs, sizeof(sigalgs));
	put16(tmp, 36);
	put16(tmp + 2, 0x001d);
	put16(tmp + 4, 32);
	for (int i = 0; i < 32; i++)
		tmp[6 + i] = (uint8_t)rnd(g);
	n += ext(body + n, 51, tmp, 38);
	put16(extlen, (uint32_t)(n - e));

	buf[0] = 22;
	put16(buf + 1, 0x0301);
	put16(buf + 3, (uint32_t)(n + 4));
	buf[5] = 1;
	buf[6] = 0;
	put16(buf + 7, (uint32_t)n);
	memcpy(buf + 9, body, n);
	return 9 + n;
}

/*
 * The server's first flight: ServerHello (TLS 1.3 via supported_versions,
 * x25519 key share), ChangeCipherSpec, and an application-data record of
 * enc bytes standing for the encrypted handshake. Returns its length.
 */
static size_t
server_flight(struct gen *g, uint8_t *buf, size_t enc)
{
	uint8_t *p = buf + 9;
	size_t n;

	put16(p, 0x0303);
	p += 2;
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)rnd(g);
	*p++ = 32;
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)rnd(g);
	put16(p, 0x1301);
	p += 2;
	*p++ = 0;
	put16(p, 46);
	p += 2;
	memcpy(p, "\x00\x2b\x00\x02\x03\x04\x00\x33\x00\x24\x00\x1d\x00\x20", 14);
	p += 14;
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)rnd(g);
	n = (size_t)(p - (buf + 9));
	buf[0] = 22;
	put16(buf + 1, 0x0303);
	put16(buf + 3, (uint32_t)(n + 4));
	buf[5] = 2;
	buf[6] = 0;
	put16(buf + 7, (uint32_t)n);
	n += 9;
	memcpy(buf + n, "\x14\x03\x03\x00\x01\x01", 6);
	n += 6;
	buf[n] = 23;
	put16(buf + n + 1, 0x0303);
	put16(buf + n + 3, (uint32_t)enc);
	for (size_t i = 0; i < enc; i++)
		buf[n + 5 + i] = (uint8_t)rnd(g);
	return n + 5 + enc;
}

/* An application-data record header followed by ciphertext, len bytes in all. */
static size_t
app_record(struct gen *g, uint8_t *buf, size_t len)
{
	if (len < 6)
		len = 6;
	buf[0] = 23;
	put16(buf + 1, 0x0303);
	put16(buf + 3, (uint32_t)(len - 5));
	for (size_t i = 5; i < len; i++)
		buf[i] = (uint8_t)rnd(g);
	return len;
}

/* One noise packet: an ICMP echo request or an ARP who-has. */
static void
noise(struct gen *g)
{
	if (rnd(g) & 1) {
		uint8_t *icmp;

		eth_ip(g, 0x0a000001, 0x0a000002 + (rnd(g) & 0xff), 1, 64);
		icmp = g->frame + 34;
		memset(icmp, 0, 64);
		icmp[0] = 8;
		put16(icmp + 6, (uint32_t)g->noise & 0xffff);
		{
			uint32_t sum = 0;

			for (int i = 0; i < 64; i += 2)
				sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			put16(icmp + 2, ~sum & 0xffff);
		}
		record(g, 34 + 64);
	} else {
		uint8_t *f = g->frame;

		memcpy(f, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x08\x06", 14);
		memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		memcpy(f + 22, "\x02\x00\x00\x00\x00\x01\x0a\x00\x00\x01", 10);
		memset(f + 32, 0, 6);
		put32(f + 38, 0x0a000002 + (rnd(g) & 0xff));
		memset(f + 42, 0, 18);
		record(g, 60);
	}
	g->noise++;
}

/* A payload size around mean (uniform in [3*mean/4, 5*mean/4]), clamped to 1..MSS. */
static size_t
around(struct gen *g, int mean)
{
	int lo = mean - mean / 4, v = lo + (int)(rnd(g) % (uint32_t)(mean / 2 + 1));

	return (size_t)(v < 1 ? 1 : v > MSS ? MSS : v);
}

/* Emits the next packet of flow f and advances its stage. */
static void
step(struct gen *g, struct flow *f)
{
	uint8_t buf[2048];
	size_t n;

	switch (f->st) {
	case ST_SYN:
		segment(g, f, 0, 0x02, NULL, 0);
		break;
	case ST_SYNACK:
		segment(g, f, 1, 0x12, NULL, 0);
		break;
	case ST_ACK:
		segment(g, f, 0, 0x10, NULL, 0);
		break;
	case ST_HELLO:
		if (f->is_http) {
			n = (size_t)snprintf((char *)buf, sizeof(buf),
					     "GET /api/v1/items/%u HTTP/1.1\r\nHost: svc-%u.ns.svc.cluster.local\r\n"
					     "User-Agent: bench\r\nAccept: */*\r\n\r\n", f->id, f->id % 997);
		} else {
			n = client_hello(g, f, buf);
		}
		segment(g, f, 0, 0x18, buf, n);
		break;
	case ST_FLIGHT:
		if (f->is_http) {
			n = (size_t)snprintf((char *)buf, sizeof(buf),
					     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
			segment(g, f, 1, 0x18, buf, n);
			f->st = ST_FIN1;
			return;
		}
		n = server_flight(g, buf, around(g, g->app_mean));
		segment(g, f, 1, 0x18, buf, n);
		break;
	case ST_FINISHED:
		memcpy(buf, "\x14\x03\x03\x00\x01\x01", 6);
		n = 6 + app_record(g, buf + 6, 58);
		segment(g, f, 0, 0x18, buf, n);
		break;
	case ST_DATA:
		n = app_record(g, buf, around(g, g->app_mean));
		segment(g, f, (f->data_left & 1) ? 1 : 0, 0x18, buf, n);
		if (--f->data_left > 0)
			return;
		break;
	case ST_FIN1:
		segment(g, f, 0, 0x11, NULL, 0);
		break;
	case ST_FIN2:
		segment(g, f, 1, 0x11, NULL, 0);
		break;
	case ST_LASTACK:
		segment(g, f, 0, 0x10, NULL, 0);
		break;
	case ST_DONE:
		return;
	}
	f->st++;
}

/* (Re)starts slot f as flow number id. */
static void
flow_init(struct gen *g, struct flow *f, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	/* One client address per flow (10.0.0.1 up), servers in 10.255.0.0/24. */
	f->cip = 0x0a000001u + id % 0x00fe0000u;
	f->sip = 0x0aff0000u | (id % 200 + 1);
	f->cport = (uint16_t)(20000 + id % 40000);
	f->is_http = id % 50 == 49;
	f->sport = f->is_http ? 80 : 443;
	f->cseq = rnd(g);
	f->sseq = rnd(g);
	f->data_left = g->data_packets;
	f->st = ST_SYN;
	if (f->is_http)
		g->http++;
	else
		g->tls++;
	g->flows++;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen_pcap -o FILE -b BYTES -f FLOWS -a AVG [-w WINDOW] "
			"[-s SLICE_FILE -S SLICE_BYTES] [-r SEED] [-n NAMES]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct gen g;
	struct flow *win;
	const char *path = NULL, *slice = NULL;
	uint64_t bytes = 0, flows = 0, slice_bytes = 0, seed = 1;
	int avg = 0, window = 256, opt, hs_pkts, hs_bytes, per_flow;
	uint32_t next_id = 0, names = 1000;
	uint8_t ghdr[24];

	while ((opt = getopt(argc, argv, "o:b:f:a:w:s:S:r:n:")) != -1) {
		switch (opt) {
		case 'o': path = optarg; break;
		case 'b': bytes = strtoull(optarg, NULL, 10); break;
		case 'f': flows = strtoull(optarg, NULL, 10); break;
		case 'a': avg = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 's': slice = optarg; break;
		case 'S': slice_bytes = strtoull(optarg, NULL, 10); break;
		case 'r': seed = strtoull(optarg, NULL, 10); break;
		case 'n': names = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (path == NULL || bytes == 0 || flows == 0 || avg < 64 || avg > MAX_FRAME || window < 1 || names < 1)
		usage();

	memset(&g, 0, sizeof(g));
	g.names = names;
	g.rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	g.ts = 1795000000.0;
	/*
	 * Size the flows: each TLS flow has 10 fixed packets (SYN, SYN-ACK, ACK,
	 * ClientHello ~330 B, server flight ~160 B + one record, Finished ~123 B,
	 * FIN, FIN, ACK) plus data packets; choose how many data packets and
	 * their mean payload so the file reaches BYTES with about FLOWS flows at
	 * an average frame of AVG bytes.
	 */
	per_flow = (int)((double)bytes / (double)flows / (avg + 16));
	hs_pkts = 9;
	hs_bytes = 54 * 6 + 330 + 123 + 214;
	g.data_packets = per_flow - hs_pkts - 1;
	if (g.data_packets < 1)
		g.data_packets = 1;
	/*
	 * The server flight carries one data-sized record too, so it counts as
	 * a data packet. Large averages need more data packets per flow (so
	 * fewer flows) than FLOWS allows, since a payload cannot pass the MSS.
	 */
	for (;;) {
		g.app_mean = (int)(((double)avg * (hs_pkts + g.data_packets + 1) - hs_bytes) /
				   (g.data_packets + 1)) - 54;
		if (g.app_mean <= MAX_APP_MEAN)
			break;
		g.data_packets++;
	}
	if (g.app_mean < 16)
		g.app_mean = 16;

	g.out = fopen(path, "wb");
	if (g.out == NULL) {
		fprintf(stderr, "gen_pcap: %s: %s\n", path, strerror(errno));
		return 1;
	}
	setvbuf(g.out, NULL, _IOFBF, 1 << 20);
	put_le32(ghdr, 0xa1b2c3d4);
	ghdr[4] = 2;
	ghdr[5] = 0;
	ghdr[6] = 4;
	ghdr[7] = 0;
	memset(ghdr + 8, 0, 8);
	put_le32(ghdr + 16, 65535);
	put_le32(ghdr + 20, 1);  /* DLT_EN10MB */
	emit(&g, ghdr, sizeof(ghdr));
	if (slice != NULL) {
		g.slice = fopen(slice, "wb");
		if (g.slice == NULL || fwrite(ghdr, 1, sizeof(ghdr), g.slice) != sizeof(ghdr)) {
			fprintf(stderr, "gen_pcap: %s: %s\n", slice, strerror(errno));
			return 1;
		}
		g.slice_max = slice_bytes;
		g.slice_written = sizeof(ghdr);
	}

	win = calloc((size_t)window, sizeof(*win));
	if (win == NULL)
		return 1;
	for (int i = 0; i < window; i++)
		flow_init(&g, &win[i], next_id++);
	/* Round-robin over the open flows; a finished slot takes the next flow. */
	while (g.written < bytes) {
		for (int i = 0; i < window && g.written < bytes; i++) {
			if (win[i].st == ST_DONE)
				flow_init(&g, &win[i], next_id++);
			step(&g, &win[i]);
			if (rnd(&g) % 2000 == 0)
				noise(&g);
		}
	}
	/* Close the flows still open, so every flow in the file is whole. */
	for (int i = 0; i < window; i++)
		while (win[i].st != ST_DONE)
			step(&g, &win[i]);
	free(win);
	if (fclose(g.out) != 0 || (g.slice != NULL && fclose(g.slice) != 0)) {
		fprintf(stderr, "gen_pcap: close: %s\n", strerror(errno));
		return 1;
	}
	printf("flows=%llu tls=%llu http=%llu packets=%llu bytes=%llu avg_frame=%llu noise=%llu\n",
	       (unsigned long long)g.flows, (unsigned long long)g.tls, (unsigned long long)g.http,
	       (unsigned long long)g.packets, (unsigned long long)g.written,
	       (unsigned long long)(g.frame_bytes / (g.packets ? g.packets : 1)), (unsigned long long)g.noise);
	return 0;
}
