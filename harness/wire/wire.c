/*
 * The wire engine (see wire.h): packet decoding, the flow table, per-flow
 * stream reassembly, classification, canary search and verdicts.
 *
 * Memory: a tracked flow costs one struct flow (184 bytes) plus, only
 * while it is being classified, its reassembly buffers (at most max_payload
 * per direction), plus, only when canaries are set, a tail of the longest
 * canary's length per direction, plus held out-of-order segments until the
 * gap fills. SNI and ALPN strings are interned: flows that share them share
 * one copy.
 */
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAX_CANARIES 16
#define MAX_CANARY_LEN 64
#define MIN_CANARY_LEN 4
#define OOO_MAX_SEGMENTS 32
#define OOO_MAX_BYTES (256u << 10)
#define SAMPLE_LEN 64

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PREFAULT_BYTES (64u << 10)

/* A segment that arrived before the bytes in front of it. */
struct ooo_seg {
	uint32_t seq;
	uint32_t len;               /* bytes held (captured) */
	uint32_t full;              /* bytes the segment carried on the wire */
	uint8_t *data;
};

/* Canary search state of a flow (only when canaries are set). */
struct canary_state {
	uint64_t hits;              /* cleartext occurrences */
	uint64_t first_packet;      /* packet number of the first, 0 if none */
	uint8_t len[2];             /* bytes held in each direction's tail */
	uint8_t tail[];             /* 2 * canary_max: the last bytes of each direction */
};

/* State that lives only while a flow is being classified. */
struct classify {
	uint8_t *buf[2];
	uint32_t len[2];
	uint32_t cap[2];
	bool hello_done[2];         /* ClientHello (client dir) / ServerHello (server dir) parsed or given up */
	struct classify *next;      /* in the engine's pool of spare ones */
};

/* Spare classification states kept for reuse, and the largest buffer a spare one keeps. */
#define CL_POOL_MAX 64
#define CL_POOL_KEEP 4096

struct flow {
	uint8_t addr[2][16];        /* [0] the client side, [1] the server side */
	uint16_t port[2];
	uint8_t family;             /* 4 or 6 */
	uint8_t cls;                /* enum mc_flow_class */
	bool decided;               /* class known */
	bool done;                  /* classification finished: buffers freed */
	bool seq_set[2];
	bool gap[2];                /* bytes were lost in this direction (truncation) */
	bool appdata[2];            /* TLS application data seen in this direction */
	uint8_t n_ooo[2];
	uint8_t rec_hdr_len[2];     /* TLS record tracker: header bytes collected */
	uint8_t rec_hdr[2][5];
	uint16_t tls_version;
	uint32_t rec_left[2];
	uint32_t next_seq[2];
	uint32_t sni, alpn_offered, alpn_selected;   /* interned string ids, 0 = none */
	uint64_t packets[2];
	uint64_t payload[2];
	double first_ts, last_ts;
	struct classify *cl;        /* NULL once done */
	struct canary_state *can;   /* NULL without canaries */
	struct ooo_seg *ooo[2];     /* held segments, NULL when none */
	char *sample;               /* first cleartext bytes, printable */
};

/* A flow's size is the engine's memory per flow: keep it from growing unnoticed. */
_Static_assert(sizeof(struct flow) <= 184, "struct flow grew past 184 bytes");

struct mc_wire {
	uint8_t canary[MAX_CANARIES][MAX_CANARY_LEN];
	size_t canary_len[MAX_CANARIES];
	size_t n_canaries;
	size_t canary_max;          /* longest canary */
	size_t max_payload;
	struct flow *flows;
	size_t n_flows, cap_flows;
	size_t flows_mapped;        /* flows[0 .. flows_mapped) lie in pages already mapped in */
	uint64_t *table;            /* open addressing: key hash << 32 | flow index + 1; 0 = empty */
	size_t table_size;          /* a power of two */
	char **strings;             /* interned strings; id = index + 1 */
	size_t n_strings, cap_strings;
	uint64_t *str_table;        /* open addressing over strings: hash << 32 | id, 0 = empty */
	size_t str_table_size;      /* a power of two */
	struct mc_wire_stats st;
	uint64_t packet_no;
	uint8_t *scratch;           /* max_payload bytes for gathering handshake messages */
	struct classify *cl_pool;   /* spare classification states (CL_POOL_MAX at most) */
	size_t n_cl_pool;
};

const char *
mc_flow_class_name(enum mc_flow_class c)
{
	switch (c) {
	case MC_FLOW_EMPTY: return "empty";
	case MC_FLOW_TLS: return "tls";
	case MC_FLOW_HTTP1: return "http1";
	case MC_FLOW_H2C: return "h2c";
	case MC_FLOW_PLAINTEXT: return "plaintext";
	}
	return "unknown";
}

/*
 * Maps in, with one system call, the whole pages of [p, p + len) that the
 * engine is about to fill. Where a page fault is dear (virtual machines
 * that shadow page tables pay tens of microseconds per fault), taking them
 * one by one as the flow table grows costs more than classifying its
 * flows. Best effort: on a kernel without MADV_POPULATE_WRITE the pages
 * simply fault in as they are touched.
 */
static void
prefault(void *p, size_t len)
{
	static long page;
	uintptr_t a, e;

	if (page == 0)
		page = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
	a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	e = ((uintptr_t)p + len) & ~((uintptr_t)page - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

struct mc_wire *
mc_wire_new(const struct mc_wire_options *opts, char *err, size_t errlen)
{
	struct mc_wire *w;

	if (opts != NULL && opts->n_canaries > MAX_CANARIES) {
		mc_err(err, errlen, EINVAL, "at most %d canaries", MAX_CANARIES);
		return NULL;
	}
	w = mc_xcalloc(1, sizeof(*w));
	w->max_payload = opts != NULL && opts->max_payload > 0 ? opts->max_payload : 16384;
	if (w->max_payload > (1u << 20))
		w->max_payload = 1u << 20;
	for (size_t i = 0; opts != NULL && i < opts->n_canaries; i++) {
		size_t len = opts->canary_lens != NULL ? opts->canary_lens[i] : strlen(opts->canaries[i]);

		if (len < MIN_CANARY_LEN || len > MAX_CANARY_LEN) {
			mc_err(err, errlen, EINVAL, "canary %zu: length %zu, expected %d to %d bytes", i + 1, len,
			       MIN_CANARY_LEN, MAX_CANARY_LEN);
			free(w);
			return NULL;
		}
		memcpy(w->canary[i], opts->canaries[i], len);
		w->canary_len[i] = len;
		if (len > w->canary_max)
			w->canary_max = len;
	}
	w->n_canaries = opts != NULL ? opts->n_canaries : 0;
	w->scratch = mc_xmalloc(w->max_payload);
	w->table_size = 1024;
	w->table = mc_xcalloc(w->table_size, sizeof(*w->table));
	prefault(w->table, w->table_size * sizeof(*w->table));
	return w;
}

static void
flow_release(struct flow *f)
{
	if (f->cl != NULL) {
		free(f->cl->buf[0]);
		free(f->cl->buf[1]);
		free(f->cl);
		f->cl = NULL;
	}
	for (int d = 0; d < 2; d++) {
		for (size_t i = 0; i < f->n_ooo[d]; i++)
			free(f->ooo[d][i].data);
		free(f->ooo[d]);
		f->ooo[d] = NULL;
		f->n_ooo[d] = 0;
	}
}

void
mc_wire_free(struct mc_wire *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n_flows; i++) {
		flow_release(&w->flows[i]);
		free(w->flows[i].can);
		free(w->flows[i].sample);
	}
	for (size_t i = 0; i < w->n_strings; i++)
		free(w->strings[i]);
	free(w->strings);
	free(w->str_table);
	free(w->flows);
	free(w->table);
	free(w->scratch);
	while (w->cl_pool != NULL) {
		struct classify *cl = w->cl_pool;

		w->cl_pool = cl->next;
		free(cl->buf[0]);
		free(cl->buf[1]);
		free(cl);
	}
	free(w);
}

/* A 64-bit finaliser (murmur3's): every input bit moves every output bit. */
static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* A string's hash, eight bytes at a time (SNIs and ALPN lists run to tens of bytes). */
static uint32_t
str_hash(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, v;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&v, s, 8);
		h = (h ^ v) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	if (len > 0) {
		v = 0;
		memcpy(&v, s, len);
		h = (h ^ v) * 0xff51afd7ed558ccdull;
	}
	h = mix64(h);
	return (uint32_t)h;
}

static void
str_table_grow(struct mc_wire *w)
{
	size_t size = w->str_table_size == 0 ? 64 : w->str_table_size * 2;
	uint64_t *t = mc_xcalloc(size, sizeof(*t));

	for (size_t i = 0; i < w->str_table_size; i++) {
		size_t j;

		if (w->str_table[i] == 0)
			continue;
		j = (size_t)(w->str_table[i] >> 32) & (size - 1);
		while (t[j] != 0)
			j = (j + 1) & (size - 1);
		t[j] = w->str_table[i];
	}
	free(w->str_table);
	w->str_table = t;
	w->str_table_size = size;
}

/*
 * Returns the id of s (len bytes), adding it once; a hash lookup, so
 * hostile captures stay linear. Slots keep the hash beside the id: a
 * probe compares text only when the hashes agree.
 */
static uint32_t
intern(struct mc_wire *w, const char *s, size_t len)
{
	uint32_t h;
	size_t j;

	if ((w->n_strings + 1) * 2 > w->str_table_size)
		str_table_grow(w);
	h = str_hash(s, len);
	j = h & (w->str_table_size - 1);
	while (w->str_table[j] != 0) {
		uint32_t id = (uint32_t)w->str_table[j];
		const char *t = w->strings[id - 1];

		if ((uint32_t)(w->str_table[j] >> 32) == h && strncmp(t, s, len) == 0 && t[len] == '\0')
			return id;
		j = (j + 1) & (w->str_table_size - 1);
	}
	if (w->n_strings == w->cap_strings) {
		w->cap_strings = w->cap_strings == 0 ? 16 : w->cap_strings * 2;
		w->strings = mc_xrealloc(w->strings, w->cap_strings * sizeof(*w->strings));
	}
	w->strings[w->n_strings] = mc_xmalloc(len + 1);
	memcpy(w->strings[w->n_strings], s, len);
	w->strings[w->n_strings][len] = '\0';
	w->str_table[j] = (uint64_t)h << 32 | (uint32_t)++w->n_strings;
	return (uint32_t)w->n_strings;
}

static const char *
string_of(const struct mc_wire *w, uint32_t id)
{
	return id == 0 || id > w->n_strings ? NULL : w->strings[id - 1];
}

/* One endpoint (address of alen bytes, port) folded into 64 bits. */
static inline uint64_t
endpoint_hash(const uint8_t *a, uint16_t port, size_t alen)
{
	uint32_t w[4];

	if (alen == 4) {
		memcpy(w, a, 4);
		return mix64((uint64_t)w[0] << 16 | port);
	}
	memcpy(w, a, 16);
	return mix64(((uint64_t)w[0] << 32 | w[1]) ^ mix64((uint64_t)w[2] << 32 | w[3]) ^ ((uint64_t)port << 48));
}

/*
 * The hash of an endpoint pair: both endpoints are hashed apart and then
 * summed, so both directions of a flow hash alike. Word-wide, not a byte
 * at a time: it runs for every packet.
 */
static uint32_t
key_hash(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb, size_t alen)
{
	uint64_t h = endpoint_hash(a, pa, alen) + endpoint_hash(b, pb, alen);

	return (uint32_t)(h ^ (h >> 32));
}

/*
 * Each table slot keeps the key's hash beside the flow's index, so a probe
 * that meets another flow is rejected without reading that flow (a cache
 * miss), and growing the table needs no flow either. The table is grown at
 * 70% load: probes are cheap when they stay inside the table.
 */
static void
table_grow(struct mc_wire *w)
{
	size_t size = w->table_size * 2;
	uint64_t *t = mc_xcalloc(size, sizeof(*t));

	/* Every page of a table 70% full is touched: map them all at once. */
	prefault(t, size * sizeof(*t));
	for (size_t i = 0; i < w->table_size; i++) {
		size_t j;

		if (w->table[i] == 0)
			continue;
		j = (size_t)(w->table[i] >> 32) & (size - 1);
		while (t[j] != 0)
			j = (j + 1) & (size - 1);
		t[j] = w->table[i];
	}
	free(w->table);
	w->table = t;
	w->table_size = size;
}

/*
 * Finds the flow between (src, sport) and (dst, dport), creating it when
 * create is set. *dir is 0 when the packet goes client to server.
 */
static struct flow *
flow_lookup(struct mc_wire *w, uint8_t family, const uint8_t *src, uint16_t sport, const uint8_t *dst,
	    uint16_t dport, bool synack, int *dir)
{
	size_t alen = family == 4 ? 4 : 16;
	size_t mask = w->table_size - 1;
	uint32_t h = key_hash(src, sport, dst, dport, alen);
	size_t j = h & mask;
	struct flow *f;

	for (; w->table[j] != 0; j = (j + 1) & mask) {
		if ((uint32_t)(w->table[j] >> 32) != h)
			continue;
		f = &w->flows[(uint32_t)w->table[j] - 1];
		if (f->family != family)
			continue;
		if (f->port[0] == sport && f->port[1] == dport && memcmp(f->addr[0], src, alen) == 0 &&
		    memcmp(f->addr[1], dst, alen) == 0) {
			*dir = 0;
			return f;
		}
		if (f->port[0] == dport && f->port[1] == sport && memcmp(f->addr[0], dst, alen) == 0 &&
		    memcmp(f->addr[1], src, alen) == 0) {
			*dir = 1;
			return f;
		}
	}
	if (w->n_flows == w->cap_flows) {
		w->cap_flows = w->cap_flows == 0 ? 256 : w->cap_flows * 2;
		w->flows = mc_xrealloc(w->flows, w->cap_flows * sizeof(*w->flows));
		w->flows_mapped = w->n_flows;
	}
	f = &w->flows[w->n_flows];
	/* The array's pages are mapped a stretch ahead of the flows that fill them. */
	if (w->n_flows >= w->flows_mapped) {
		size_t ahead = (w->cap_flows - w->n_flows) * sizeof(*f);

		ahead = ahead < PREFAULT_BYTES ? ahead : PREFAULT_BYTES;
		prefault(f, ahead);
		w->flows_mapped = w->n_flows + ahead / sizeof(*f);
	}
	memset(f, 0, sizeof(*f));
	f->family = family;
	/*
	 * The first sender is taken for the client, except that a SYN-ACK comes
	 * from the server (a capture that missed the SYN).
	 */
	memcpy(f->addr[synack], src, alen);
	memcpy(f->addr[!synack], dst, alen);
	f->port[synack] = sport;
	f->port[!synack] = dport;
	f->cls = MC_FLOW_EMPTY;
	if (w->n_canaries > 0)
		f->can = mc_xcalloc(1, sizeof(*f->can) + 2 * w->canary_max);
	w->table[j] = (uint64_t)h << 32 | (uint32_t)(++w->n_flows);
	w->st.flows = w->n_flows;
	if (w->n_flows * 10 > w->table_size * 7)
		table_grow(w);
	*dir = synack ? 1 : 0;
	return &w->flows[w->n_flows - 1];
}

/* ---- TLS hello parsing ------------------------------------------------- */

static uint32_t
be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t
be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/*
 * Gathers the handshake bytes at the start of a TLS stream (the fragments
 * of consecutive handshake records) into out. Returns their length.
 */
static size_t
handshake_bytes(const uint8_t *buf, size_t len, uint8_t *out, size_t outmax)
{
	size_t off = 0, n = 0;

	while (off + 5 <= len && buf[off] == 22) {
		size_t rl = be16(buf + off + 3);
		size_t take = rl;

		if (off + 5 + rl > len)
			take = len - off - 5;
		if (n + take > outmax)
			take = outmax - n;
		memcpy(out + n, buf + off + 5, take);
		n += take;
		if (take < rl)
			break;
		off += 5 + rl;
	}
	return n;
}

/* Joins an ALPN protocol list (2-byte length, then 1-byte-length names) with commas. */
static uint32_t
alpn_list(struct mc_wire *w, const uint8_t *p, size_t len)
{
	char out[512];
	size_t n = 0;

	if (len < 2 || be16(p) + 2 > len)
		return 0;
	len = be16(p) + 2;
	for (size_t off = 2; off < len;) {
		size_t l = p[off];

		if (off + 1 + l > len)
			break;
		if (n > 0 && n < sizeof(out) - 1)
			out[n++] = ',';
		for (size_t i = 0; i < l && n < sizeof(out) - 1; i++) {
			uint8_t c = p[off + 1 + i];

			out[n++] = (c >= 0x20 && c < 0x7f && c != ',') ? (char)c : '?';
		}
		off += 1 + l;
	}
	return n > 0 ? intern(w, out, n) : 0;
}

/*
 * Parses a complete ClientHello (type 1) or ServerHello (type 2) message and
 * records SNI, ALPN and version. Returns true when the message was complete
 * (parsed or found broken), false when more bytes are needed.
 */
static bool
parse_hello(struct mc_wire *w, struct flow *f, const uint8_t *m, size_t len, int type)
{
	size_t mlen, off, ext_end;

	if (len < 4)
		return false;
	if (m[0] != type)
		return true; /* not the expected message: give up on it */
	mlen = be24(m + 1);
	if (len < 4 + mlen)
		return len >= w->max_payload; /* wait for the rest, unless it can never fit */
	m += 4;
	len = mlen;
	if (len < 2 + 32 + 1)
		return true;
	if (type == 2 && f->tls_version == 0)
		f->tls_version = (uint16_t)be16(m);
	off = 2 + 32;
	off += 1 + m[off];                               /* session id */
	if (type == 1) {
		if (off + 2 > len)
			return true;
		off += 2 + be16(m + off);                /* cipher suites */
		if (off + 1 > len)
			return true;
		off += 1 + m[off];                       /* compression methods */
	} else {
		off += 2 + 1;                            /* cipher suite, compression */
	}
	if (off + 2 > len)
		return true;
	ext_end = off + 2 + be16(m + off);
	if (ext_end > len)
		ext_end = len;
	off += 2;
	while (off + 4 <= ext_end) {
		uint32_t et = be16(m + off), el = be16(m + off + 2);
		const uint8_t *e = m + off + 4;

		if (off + 4 + el > ext_end)
			break;
		if (et == 0 && type == 1 && el >= 5) {
			/* server_name: list length, then type 0 (host_name), 2-byte length, name */
			size_t nl = be16(e + 3);

			if (e[2] == 0 && 5 + nl <= el) {
				char name[256];
				size_t k = 0;

				for (size_t i = 0; i < nl && k < sizeof(name); i++)
					name[k++] = (e[5 + i] >= 0x20 && e[5 + i] < 0x7f) ? (char)e[5 + i] : '?';
				f->sni = intern(w, name, k);
			}
		} else if (et == 16) {
			if (type == 1)
				f->alpn_offered = alpn_list(w, e, el);
			else
				f->alpn_selected = alpn_list(w, e, el);
		} else if (et == 43 && type == 2 && el == 2) {
			/* supported_versions in a ServerHello: the version chosen. */
			f->tls_version = (uint16_t)be16(e);
		}
		off += 4 + el;
	}
	return true;
}

/* ---- classification ----------------------------------------------------- */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static bool
is_token_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/*
 * Decides the class from the first bytes of a direction. Returns -1 when
 * more bytes are needed.
 */
static int
decide(const uint8_t *b, size_t len, bool final)
{
	size_t i;

	if (len == 0)
		return -1;
	if (b[0] == 22) {
		if (len < 3)
			return final ? MC_FLOW_PLAINTEXT : -1;
		if (b[1] == 3 && b[2] <= 4)
			return MC_FLOW_TLS;
		return MC_FLOW_PLAINTEXT;
	}
	if (len < sizeof(h2_preface) - 1 ? memcmp(b, h2_preface, len) == 0 : memcmp(b, h2_preface, sizeof(h2_preface) - 1) == 0) {
		if (len >= sizeof(h2_preface) - 1)
			return MC_FLOW_H2C;
		if (!final)
			return -1;
	}
	if (len >= 5 && memcmp(b, "HTTP/", 5) == 0)
		return (len >= 7 && b[5] == '1' && b[6] == '.') ? MC_FLOW_HTTP1 : MC_FLOW_PLAINTEXT;
	/* A request line: METHOD SP target SP HTTP/1.x CRLF */
	for (i = 0; i < len && i < 16 && is_token_char(b[i]); i++)
		;
	if (i == 0 || i == 16)
		return (i == 0 && len < 5 && !final && memcmp("HTTP/", b, len) == 0) ? -1 : MC_FLOW_PLAINTEXT;
	if (i == len)
		return final ? MC_FLOW_PLAINTEXT : -1;
	if (b[i] != ' ')
		return MC_FLOW_PLAINTEXT;
	for (size_t j = i + 1; j + 1 < len && j < 8192; j++) {
		if (b[j] == '\r' || b[j] == '\n') {
			if (j >= 9 && memcmp(b + j - 9, " HTTP/1.", 8) == 0)
				return MC_FLOW_HTTP1;
			return MC_FLOW_PLAINTEXT;
		}
	}
	return (final || len >= 8192) ? MC_FLOW_PLAINTEXT : -1;
}

static void
set_sample(struct flow *f, const uint8_t *b, size_t len)
{
	size_t n = len < SAMPLE_LEN ? len : SAMPLE_LEN;

	if (f->sample != NULL || n == 0)
		return;
	f->sample = mc_xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		f->sample[i] = (b[i] >= 0x20 && b[i] < 0x7f) ? (char)b[i] : '.';
	f->sample[n] = '\0';
}

/*
 * A classification state for a flow that starts one: a spare one when the
 * pool has it (flows start and finish classifying by the thousand, and
 * reusing their buffers spares the allocator), else a new one.
 */
static struct classify *
classify_get(struct mc_wire *w)
{
	struct classify *cl = w->cl_pool;

	if (cl == NULL)
		return mc_xcalloc(1, sizeof(*cl));
	w->cl_pool = cl->next;
	w->n_cl_pool--;
	cl->next = NULL;
	cl->len[0] = cl->len[1] = 0;
	cl->hello_done[0] = cl->hello_done[1] = false;
	return cl;
}

/* Classification is over: its buffers go (to the pool when small), the verdict stays. */
static void
finish_classification(struct mc_wire *w, struct flow *f)
{
	struct classify *cl = f->cl;

	f->cl = NULL;
	f->done = true;
	if (cl == NULL)
		return;
	if (w->n_cl_pool < CL_POOL_MAX && cl->cap[0] <= CL_POOL_KEEP && cl->cap[1] <= CL_POOL_KEEP) {
		cl->next = w->cl_pool;
		w->cl_pool = cl;
		w->n_cl_pool++;
		return;
	}
	free(cl->buf[0]);
	free(cl->buf[1]);
	free(cl);
}

static void
classify_step(struct mc_wire *w, struct flow *f, bool final)
{
	struct classify *cl = f->cl;
	int first;

	if (cl == NULL)
		return;
	first = cl->len[0] > 0 ? 0 : 1;
	if (!f->decided) {
		int c = decide(cl->buf[first], cl->len[first], final || cl->len[first] >= w->max_payload ||
							      f->gap[first]);

		if (c < 0)
			return;
		f->cls = (uint8_t)c;
		f->decided = true;
		if (c != MC_FLOW_TLS) {
			set_sample(f, cl->buf[first], cl->len[first]);
			finish_classification(w, f);
			return;
		}
	}
	for (int d = 0; d < 2; d++) {
		size_t n;

		if (cl->hello_done[d] || cl->len[d] == 0)
			continue;
		if (cl->buf[d][0] != 22) {
			cl->hello_done[d] = true;
			continue;
		}
		n = handshake_bytes(cl->buf[d], cl->len[d], w->scratch, w->max_payload);
		if (parse_hello(w, f, w->scratch, n, d == 0 ? 1 : 2) || cl->len[d] >= w->max_payload || f->gap[d])
			cl->hello_done[d] = true;
	}
	if ((cl->hello_done[0] && cl->hello_done[1]) || final)
		finish_classification(w, f);
}

/* Follows TLS record boundaries to notice application data in each direction. */
static void
track_records(struct flow *f, int d, const uint8_t *p, size_t n)
{
	if (f->decided && f->cls != MC_FLOW_TLS)
		return;
	while (n > 0) {
		if (f->rec_left[d] > 0) {
			size_t skip = n < f->rec_left[d] ? n : f->rec_left[d];

			if (f->rec_left[d] == UINT32_MAX)
				return; /* lost track: garbage or a gap */
			f->rec_left[d] -= (uint32_t)skip;
			p += skip;
			n -= skip;
			continue;
		}
		while (n > 0 && f->rec_hdr_len[d] < 5) {
			f->rec_hdr[d][f->rec_hdr_len[d]++] = *p++;
			n--;
		}
		if (f->rec_hdr_len[d] < 5)
			return;
		f->rec_hdr_len[d] = 0;
		if (f->rec_hdr[d][0] < 20 || f->rec_hdr[d][0] > 24 || f->rec_hdr[d][1] != 3) {
			f->rec_left[d] = UINT32_MAX;
			return;
		}
		if (f->rec_hdr[d][0] == 23)
			f->appdata[d] = true;
		f->rec_left[d] = be16(f->rec_hdr[d] + 3);
	}
}

/* Counts canary occurrences in p and across the boundary with what came before. */
static void
canary_scan(struct mc_wire *w, struct flow *f, int d, const uint8_t *p, size_t n)
{
	size_t keep = w->canary_max - 1;
	uint8_t *tail = f->can->tail + (size_t)d * w->canary_max;
	uint8_t *tlen = &f->can->len[d];
	uint8_t win[2 * MAX_CANARY_LEN];
	size_t head = n < keep ? n : keep, wl;
	uint64_t hits = 0;

	memcpy(win, tail, *tlen);
	memcpy(win + *tlen, p, head);
	wl = *tlen + head;
	for (size_t c = 0; c < w->n_canaries; c++) {
		size_t cl = w->canary_len[c];
		const uint8_t *q = p, *end = p + n;

		for (size_t pos = 0; pos < *tlen; pos++)
			if (pos + cl <= wl && pos + cl > *tlen && memcmp(win + pos, w->canary[c], cl) == 0)
				hits++;
		while (q + cl <= end) {
			const uint8_t *hit = memmem(q, (size_t)(end - q), w->canary[c], cl);

			if (hit == NULL)
				break;
			hits++;
			q = hit + cl;
		}
	}
	if (n >= keep) {
		memcpy(tail, p + n - keep, keep);
		*tlen = (uint8_t)keep;
	} else {
		size_t total = *tlen + n, drop = total > keep ? total - keep : 0;

		memmove(tail, tail + drop, *tlen - drop);
		memcpy(tail + *tlen - drop, p, n);
		*tlen = (uint8_t)(total - drop);
	}
	if (hits > 0) {
		if (f->can->hits == 0)
			f->can->first_packet = w->packet_no;
		f->can->hits += hits;
	}
}

/* Hands in-order stream bytes of direction d to the trackers. */
static void
deliver(struct mc_wire *w, struct flow *f, int d, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	f->payload[d] += n;
	track_records(f, d, p, n);
	if (!f->done) {
		struct classify *cl = f->cl;
		size_t room, take;

		if (cl == NULL)
			cl = f->cl = classify_get(w);
		room = w->max_payload - cl->len[d];
		take = n < room ? n : room;
		if (take > 0) {
			if (cl->len[d] + take > cl->cap[d]) {
				size_t cap = cl->cap[d] == 0 ? 2048 : cl->cap[d];

				while (cap < cl->len[d] + take)
					cap *= 2;
				if (cap > w->max_payload)
					cap = w->max_payload;
				cl->buf[d] = mc_xrealloc(cl->buf[d], cap);
				cl->cap[d] = (uint32_t)cap;
			}
			memcpy(cl->buf[d] + cl->len[d], p, take);
			cl->len[d] += (uint32_t)take;
		}
		classify_step(w, f, false);
	}
	if (w->n_canaries > 0)
		canary_scan(w, f, d, p, n);
}

/* Bytes of direction d were lost: nothing may be joined across the hole. */
static void
lose(struct mc_wire *w, struct flow *f, int d)
{
	f->gap[d] = true;
	if (f->can != NULL)
		f->can->len[d] = 0;
	if (f->rec_left[d] != UINT32_MAX && f->decided && f->cls == MC_FLOW_TLS)
		f->rec_left[d] = UINT32_MAX;
	if (!f->done)
		classify_step(w, f, false);
}

/* Accepts an in-order segment of which caplen of full bytes were captured. */
static void
accept_segment(struct mc_wire *w, struct flow *f, int d, const uint8_t *p, uint32_t caplen, uint32_t full)
{
	deliver(w, f, d, p, caplen);
	if (caplen < full)
		lose(w, f, d);
	f->next_seq[d] += full;
}

/* Delivers held segments that have become in order. */
static void
drain(struct mc_wire *w, struct flow *f, int d)
{
	bool progress = true;

	while (progress && f->n_ooo[d] > 0) {
		progress = false;
		for (size_t i = 0; i < f->n_ooo[d]; i++) {
			struct ooo_seg *s = &f->ooo[d][i];
			int32_t off = (int32_t)(s->seq - f->next_seq[d]);

			if (off > 0)
				continue;
			if ((uint32_t)-off < s->full) {
				uint32_t skip = (uint32_t)-off;
				uint32_t cap = skip < s->len ? s->len - skip : 0;

				if (skip > 0)
					w->st.retransmissions++;
				accept_segment(w, f, d, s->data + (skip < s->len ? skip : s->len), cap, s->full - skip);
			} else {
				w->st.retransmissions++;
			}
			free(s->data);
			f->ooo[d][i] = f->ooo[d][--f->n_ooo[d]];
			progress = true;
			break;
		}
	}
	if (f->n_ooo[d] == 0) {
		free(f->ooo[d]);
		f->ooo[d] = NULL;
	}
}

static void
hold(struct mc_wire *w, struct flow *f, int d, uint32_t seq, const uint8_t *p, uint32_t caplen, uint32_t full)
{
	struct ooo_seg *s;

	w->st.out_of_order++;
	if (f->n_ooo[d] >= OOO_MAX_SEGMENTS)
		return; /* too much missing: these bytes count as lost when the stream moves past them */
	if (f->ooo[d] == NULL)
		f->ooo[d] = mc_xcalloc(OOO_MAX_SEGMENTS, sizeof(*f->ooo[d]));
	s = &f->ooo[d][f->n_ooo[d]++];
	s->seq = seq;
	s->len = caplen;
	s->full = full;
	s->data = mc_xmalloc(caplen > 0 ? caplen : 1);
	memcpy(s->data, p, caplen);
}

/* Flushes held segments in sequence order, across the holes in front of them (end of input). */
static void
flush_held(struct mc_wire *w, struct flow *f, int d)
{
	while (f->n_ooo[d] > 0) {
		size_t best = 0;

		for (size_t i = 1; i < f->n_ooo[d]; i++)
			if ((int32_t)(f->ooo[d][i].seq - f->ooo[d][best].seq) < 0)
				best = i;
		lose(w, f, d);
		f->next_seq[d] = f->ooo[d][best].seq;
		drain(w, f, d);
	}
}

static void
tcp_segment(struct mc_wire *w, struct flow *f, int d, uint32_t seq, uint8_t flags, const uint8_t *p,
	    uint32_t caplen, uint32_t full)
{
	int32_t off;

	if (flags & 0x02) {            /* SYN */
		f->next_seq[d] = seq + 1;
		f->seq_set[d] = true;
		if (full == 0)
			return;
		seq++;
	}
	if (full == 0)
		return;
	if (!f->seq_set[d]) {
		f->next_seq[d] = seq;
		f->seq_set[d] = true;
	}
	off = (int32_t)(seq - f->next_seq[d]);
	if (off > 0) {
		hold(w, f, d, seq, p, caplen, full);
		return;
	}
	if (off < 0) {
		uint32_t dup = (uint32_t)-off;

		w->st.retransmissions++;
		if (dup >= full)
			return;
		p += dup < caplen ? dup : caplen;
		caplen = dup < caplen ? caplen - dup : 0;
		full -= dup;
	}
	accept_segment(w, f, d, p, caplen, full);
	if (f->n_ooo[d] > 0)
		drain(w, f, d);
}

/* ---- packets ------------------------------------------------------------ */

/* Decodes a TCP segment inside an IP packet of which len bytes were captured. */
static void
tcp_packet(struct mc_wire *w, uint8_t family, const uint8_t *src, const uint8_t *dst, const uint8_t *t,
	   uint32_t caplen, uint32_t ip_payload_len, double ts)
{
	uint32_t hl, full, cap;
	uint16_t sport, dport;
	struct flow *f;
	int d;

	if (caplen < 20 || ip_payload_len < 20) {
		w->st.undecodable++;
		return;
	}
	hl = (uint32_t)(t[12] >> 4) * 4;
	if (hl < 20 || hl > ip_payload_len) {
		w->st.undecodable++;
		return;
	}
	w->st.tcp_packets++;
	sport = (uint16_t)be16(t);
	dport = (uint16_t)be16(t + 2);
	f = flow_lookup(w, family, src, sport, dst, dport, (t[13] & 0x12) == 0x12, &d);
	if (f->packets[0] + f->packets[1] == 0)
		f->first_ts = ts;
	f->last_ts = ts;
	f->packets[d]++;
	full = ip_payload_len - hl;
	cap = caplen > hl ? caplen - hl : 0;
	if (cap > full)
		cap = full;
	if (caplen < hl) {
		/* The header itself was cut: the payload is unknown, a hole. */
		if (full > 0 && f->seq_set[d])
			lose(w, f, d);
		return;
	}
	tcp_segment(w, f, d, (uint32_t)be16(t + 4) << 16 | be16(t + 6), t[13], t + hl, cap, full);
}

static void
ip_packet(struct mc_wire *w, const uint8_t *p, uint32_t caplen, double ts)
{
	if (caplen < 1) {
		w->st.undecodable++;
		return;
	}
	if ((p[0] >> 4) == 4) {
		uint32_t ihl, total;

		if (caplen < 20) {
			w->st.undecodable++;
			return;
		}
		ihl = (uint32_t)(p[0] & 0x0f) * 4;
		total = be16(p + 2);
		if (ihl < 20 || total < ihl) {
			w->st.undecodable++;
			return;
		}
		if ((be16(p + 6) & 0x3fff) != 0) {
			w->st.undecodable++; /* fragments are not reassembled */
			return;
		}
		switch (p[9]) {
		case 6:
			if (caplen < ihl) {
				w->st.undecodable++;
				return;
			}
			tcp_packet(w, 4, p + 12, p + 16, p + ihl, (caplen < total ? caplen : total) - ihl, total - ihl, ts);
			return;
		case 1: w->st.icmp++; break;
		case 17: w->st.udp++; break;
		default: break;
		}
		w->st.non_tcp++;
		return;
	}
	if ((p[0] >> 4) == 6) {
		uint32_t plen, off = 40;
		uint8_t nh;

		if (caplen < 40) {
			w->st.undecodable++;
			return;
		}
		plen = be16(p + 4);
		nh = p[6];
		for (;;) {
			if (nh == 0 || nh == 43 || nh == 60) {
				if (off + 8 > caplen) {
					w->st.undecodable++;
					return;
				}
				nh = p[off];
				off += 8u + (uint32_t)p[off + 1] * 8u;
				continue;
			}
			if (nh == 44) {
				w->st.undecodable++; /* fragment */
				return;
			}
			break;
		}
		if (off - 40 > plen) {
			w->st.undecodable++;
			return;
		}
		if (nh == 6) {
			uint32_t end = 40 + plen;

			if (off > caplen) {
				w->st.undecodable++;
				return;
			}
			tcp_packet(w, 6, p + 8, p + 24, p + off, (caplen < end ? caplen : end) - off, end - off, ts);
			return;
		}
		if (nh == 58)
			w->st.icmp++;
		else if (nh == 17)
			w->st.udp++;
		w->st.non_tcp++;
		return;
	}
	w->st.undecodable++;
}

/* Handles an ethertype-style protocol number at p. */
static void
ether_payload(struct mc_wire *w, uint32_t type, const uint8_t *p, uint32_t caplen, double ts)
{
	while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && caplen >= 4) {
		type = be16(p + 2);
		p += 4;
		caplen -= 4;
	}
	if (type == 0x0800 || type == 0x86dd) {
		ip_packet(w, p, caplen, ts);
	} else if (type == 0x0806) {
		w->st.arp++;
		w->st.non_tcp++;
	} else {
		w->st.non_tcp++;
	}
}

void
mc_wire_packet(struct mc_wire *w, int linktype, double ts, const uint8_t *data, uint32_t caplen,
	       uint32_t wirelen)
{
	w->packet_no++;
	w->st.packets++;
	w->st.bytes += caplen;
	if (caplen < wirelen)
		w->st.truncated++;
	switch (linktype) {
	case DLT_EN10MB:
		if (caplen < 14)
			break;
		ether_payload(w, be16(data + 12), data + 14, caplen - 14, ts);
		return;
	case DLT_LINUX_SLL:
		if (caplen < 16)
			break;
		ether_payload(w, be16(data + 14), data + 16, caplen - 16, ts);
		return;
	case DLT_LINUX_SLL2:
		if (caplen < 20)
			break;
		ether_payload(w, be16(data), data + 20, caplen - 20, ts);
		return;
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t fam;

		if (caplen < 4)
			break;
		/* DLT_NULL is in the capturing host's byte order; both orders are tried. */
		fam = linktype == DLT_LOOP ? (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | be16(data + 2)
					   : (data[0] != 0 ? data[0] : data[3]);
		if (fam == 2 || fam == 24 || fam == 28 || fam == 30 || fam == 10)
			ip_packet(w, data + 4, caplen - 4, ts);
		else
			w->st.non_tcp++;
		return;
	}
	case DLT_RAW:
	case 101:
	case LINKTYPE_IPV4:
	case LINKTYPE_IPV6:
		ip_packet(w, data, caplen, ts);
		return;
	default:
		break;
	}
	w->st.undecodable++;
}

/* End of input: classify what is still pending and flush held segments. */
static void
settle(struct mc_wire *w)
{
	for (size_t i = 0; i < w->n_flows; i++) {
		struct flow *f = &w->flows[i];

		for (int d = 0; d < 2; d++)
			if (f->n_ooo[d] > 0)
				flush_held(w, f, d);
		if (!f->done) {
			if (f->cl != NULL)
				classify_step(w, f, true);
			if (!f->done && f->cl != NULL && !f->decided) {
				int first = f->cl->len[0] > 0 ? 0 : 1;
				int c = decide(f->cl->buf[first], f->cl->len[first], true);

				if (c >= 0) {
					f->cls = (uint8_t)c;
					f->decided = true;
					if (c != MC_FLOW_TLS)
						set_sample(f, f->cl->buf[first], f->cl->len[first]);
				}
			}
			finish_classification(w, f);
		}
	}
}

/* ---- reading and capturing ---------------------------------------------- */

static int
apply_filter(pcap_t *p, const char *bpf, const char *what, char *err, size_t errlen)
{
	struct bpf_program prog;
	int rc = 0;

	if (bpf == NULL || *bpf == '\0')
		return 0;
	if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0)
		return mc_err(err, errlen, EINVAL, "%s: bad filter \"%s\": %s", what, bpf, pcap_geterr(p));
	if (pcap_setfilter(p, &prog) < 0)
		rc = mc_err(err, errlen, EINVAL, "%s: cannot set filter: %s", what, pcap_geterr(p));
	pcap_freecode(&prog);
	return rc;
}

/*
 * Classic pcap files are read by meshcheck's own record reader: read()s of
 * a chunk at a time into one buffer that stays in the CPU cache, and the
 * records decoded in place. libpcap instead copies each record through
 * stdio into its own buffer; a memory map pays a TLB miss every few
 * packets; a reader thread on the other core costs more in cache traffic
 * than it saves (all measured with tools/bench/wire-bench). libpcap has
 * already checked the file header and gives the link type and the filter.
 */
#define READ_CHUNK (128u << 10)
#define MAX_RECORD (256u << 10)   /* libpcap's own limit on a record's capture length */

static uint32_t
swap32(uint32_t v, bool swapped)
{
	return swapped ? __builtin_bswap32(v) : v;
}

/*
 * The flow hash of a plain Ethernet/IPv4 TCP packet (the bulk of any
 * capture), so that the reader can prefetch its flow's table slot and flow
 * while the packets before it are decoded; false for anything else.
 */
static bool
packet_hash(int lt, const uint8_t *d, uint32_t caplen, uint32_t *h)
{
	uint32_t ihl;

	if (lt != DLT_EN10MB || caplen < 14 + 20 + 4 || be16(d + 12) != 0x0800)
		return false;
	d += 14;
	ihl = (uint32_t)(d[0] & 0x0f) * 4;
	if ((d[0] >> 4) != 4 || d[9] != 6 || ihl < 20 || caplen < 14 + ihl + 4)
		return false;
	*h = key_hash(d + 12, (uint16_t)be16(d + ihl), d + 16, (uint16_t)be16(d + ihl + 2), 4);
	return true;
}

/* Prefetch, stage 1: the table slot a hash points at. */
static void
prefetch_slot(const struct mc_wire *w, uint32_t h)
{
	__builtin_prefetch(&w->table[h & (w->table_size - 1)]);
}

/* Prefetch, stage 2: the flow in that slot (prefetched a packet earlier), when it is the one. */
static void
prefetch_flow(const struct mc_wire *w, uint32_t h)
{
	uint64_t e = w->table[h & (w->table_size - 1)];

	if (e != 0 && (uint32_t)(e >> 32) == h)
		__builtin_prefetch(&w->flows[(uint32_t)e - 1]);
}

/*
 * Classic pcap files are read in batches of whole records. A feeder reads
 * the file into a batch's buffer, walks the record headers to find where
 * the last whole record ends, and carries the partial record after it into
 * the next batch. The decoder hands every record of a batch to the engine.
 *
 * On a large file with a second CPU the two run in separate threads over
 * a ring of batches: the kernel's copy of the file into memory (about half
 * of the time) then overlaps the decoding. Otherwise one thread feeds and
 * decodes one batch at a time.
 */
enum batch_end {
	BATCH_MORE,                 /* more batches follow */
	BATCH_EOF,                  /* the file ended after this batch's records */
	BATCH_TRUNCATED,            /* ... in the middle of a record */
	BATCH_BIG_RECORD,           /* the record at bad_off has an impossible capture length */
	BATCH_READ_ERROR            /* read() failed with error */
};

struct batch {
	uint8_t *buf;               /* the feeder's cap bytes */
	uint32_t *rec;              /* offsets of the whole records in buf */
	size_t n_rec;
	enum batch_end end;
	uint32_t bad_caplen;
	uint64_t bad_off;
	int error;
	_Atomic int state;          /* enum batch_state: the ring's hand-over */
};

struct feeder {
	int fd;
	bool swapped;
	bool eof;
	uint64_t off;               /* file offset of the next batch's first byte */
	uint64_t left;              /* bytes not read yet, of the file's size when it was opened */
	uint8_t *carry;             /* the partial record the last batch ended with */
	size_t carry_len;
	size_t chunk;               /* bytes to gather per batch, and to ask read() for at most */
	size_t cap;                 /* a batch's buffer: a chunk and the largest record */
};

#define RING_BATCHES 4
#define PIPE_CHUNK (256u << 10)         /* per batch in the pipeline (READ_CHUNK in one thread) */
#define PIPELINE_MIN_BYTES (8u << 20)   /* smaller files are read in one thread */
#define RECORD_PREFETCH 8               /* records ahead whose first lines are prefetched */

/*
 * A batch's buffer has room for a chunk and the largest record (a small
 * file's batches are only as large as the file), but only a chunk and a
 * typical record's worth is mapped in ahead; the record offsets are mapped
 * in as they are written (a few per kilobyte of capture), so that the ring
 * costs little memory.
 */
static void
batch_init(struct batch *b, size_t chunk, size_t cap)
{
	size_t recs = cap / 16 + 1;

	b->buf = mc_xmalloc(cap);
	b->rec = mc_xmalloc(recs * sizeof(*b->rec));
	prefault(b->buf, chunk + 4096 < cap ? chunk + 4096 : cap);
	atomic_init(&b->state, 0);
}

static void
batch_free(struct batch *b)
{
	free(b->buf);
	free(b->rec);
}

/* Fills b with the next whole records of the file (and says how the file goes on). */
static void
feed(struct feeder *fe, struct batch *b)
{
	size_t len = fe->carry_len, pos = 0;

	memcpy(b->buf, fe->carry, len);
	b->n_rec = 0;
	b->end = BATCH_MORE;
	for (;;) {
		size_t want;
		ssize_t n;

		while (len - pos >= 16) {
			uint32_t caplen;

			memcpy(&caplen, b->buf + pos + 8, 4);
			caplen = swap32(caplen, fe->swapped);
			if (caplen > MAX_RECORD) {
				b->end = BATCH_BIG_RECORD;
				b->bad_caplen = caplen;
				b->bad_off = fe->off + pos;
				goto done;
			}
			if (len - pos < 16 + (size_t)caplen)
				break;
			b->rec[b->n_rec++] = (uint32_t)pos;
			pos += 16 + (size_t)caplen;
		}
		if (fe->eof) {
			b->end = len > pos ? BATCH_TRUNCATED : BATCH_EOF;
			goto done;
		}
		if (b->n_rec > 0 && len >= fe->chunk)
			goto done;
		want = fe->cap - len < fe->chunk ? fe->cap - len : fe->chunk;
		if (want > fe->left)
			want = (size_t)fe->left;
		n = 0;
		if (want > 0)
			do
				n = read(fe->fd, b->buf + len, want);
			while (n < 0 && errno == EINTR);
		if (n < 0) {
			b->end = BATCH_READ_ERROR;
			b->error = errno;
			goto done;
		}
		if (n == 0)
			fe->eof = true;
		len += (size_t)n;
		fe->left -= (uint64_t)n;
	}
done:
	fe->carry_len = len - pos;
	memcpy(fe->carry, b->buf + pos, fe->carry_len);
	fe->off += pos;
}

/* Hands a batch's records to the engine. */
static void
decode(struct mc_wire *w, const struct batch *b, int lt, bool swapped, bool nsec, const struct bpf_program *filter)
{
	uint32_t h1 = 0;
	bool have_h1 = false;

	for (size_t i = 0; i < b->n_rec; i++) {
		const uint8_t *r = b->buf + b->rec[i];
		struct pcap_pkthdr ph;
		uint32_t hdr[4];

		if (i + RECORD_PREFETCH < b->n_rec) {
			const uint8_t *ahead = b->buf + b->rec[i + RECORD_PREFETCH];

			__builtin_prefetch(ahead);
			__builtin_prefetch(ahead + 64);
		}
		/* Two records ahead: its flow's slot; one ahead: its flow. */
		if (have_h1)
			prefetch_flow(w, h1);
		have_h1 = false;
		if (i + 2 < b->n_rec) {
			const uint8_t *r2 = b->buf + b->rec[i + 2];
			uint32_t c2, h2;

			memcpy(&c2, r2 + 8, 4);
			if (packet_hash(lt, r2 + 16, swap32(c2, swapped), &h2)) {
				prefetch_slot(w, h2);
				h1 = h2;
				have_h1 = true;
			}
		}
		memcpy(hdr, r, sizeof(hdr));
		ph.ts.tv_sec = (time_t)swap32(hdr[0], swapped);
		ph.ts.tv_usec = (suseconds_t)swap32(hdr[1], swapped);
		ph.caplen = swap32(hdr[2], swapped);
		ph.len = swap32(hdr[3], swapped);
		if (filter == NULL || pcap_offline_filter(filter, &ph, r + 16) != 0)
			mc_wire_packet(w, lt, (double)ph.ts.tv_sec + (double)ph.ts.tv_usec / (nsec ? 1e9 : 1e6),
				       r + 16, ph.caplen, ph.len);
	}
}

/* How a batch's end reads as the outcome of the whole read: 1 go on, 0 done, -1 error. */
static int
batch_outcome(struct mc_wire *w, const struct batch *b, const char *name, char *err, size_t errlen)
{
	switch (b->end) {
	case BATCH_MORE:
		return 1;
	case BATCH_EOF:
		return 0;
	case BATCH_TRUNCATED:
		w->st.truncated_file = true;
		return 0;
	case BATCH_BIG_RECORD:
		return mc_err(err, errlen, EIO,
			      "%s: after %llu packet(s): the record at byte %llu has a capture length of %u, more "
			      "than any capture allows (%u)",
			      name, (unsigned long long)w->st.packets, (unsigned long long)b->bad_off, b->bad_caplen,
			      MAX_RECORD);
	case BATCH_READ_ERROR:
	default:
		return mc_err(err, errlen, EIO, "%s: after %llu packet(s): %s", name,
			      (unsigned long long)w->st.packets, strerror(b->error));
	}
}

/*
 * The ring's hand-over. A batch is FREE (the feeder's to fill) or FULL
 * (the decoder's); a side that finds it the other way spins briefly, then
 * marks that it sleeps (the _WAIT states) and sleeps on a futex, which
 * the other side's hand-over wakes. Without a sleeper a hand-over is one
 * atomic exchange.
 */
enum batch_state { BATCH_FREE, BATCH_FULL, BATCH_FREE_WAIT, BATCH_FULL_WAIT };

#define SPINS 2000

/* A hint to the CPU that this is a spin-wait. */
static inline void
spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void
futex_wait(_Atomic int *a, int v)
{
	syscall(SYS_futex, (int *)a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void
futex_wake(_Atomic int *a)
{
	syscall(SYS_futex, (int *)a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Waits until the batch is in state want (FREE or FULL), or want_wait:
 * the same with the other side asleep on it, to be woken by the hand-over.
 * other_wait is the sleeping form of the state this side waits out.
 */
static void
batch_wait(struct batch *b, int want, int want_wait, int other_wait)
{
	for (int i = 0;; i++) {
		int s = atomic_load_explicit(&b->state, memory_order_acquire);

		if (s == want || s == want_wait)
			return;
		if (i < SPINS) {
			spin_pause();
			continue;
		}
		if (s == other_wait || atomic_compare_exchange_strong(&b->state, &s, other_wait))
			futex_wait(&b->state, other_wait);
	}
}

static void
batch_hand_over(struct batch *b, int to, int to_wait_by_other)
{
	if (atomic_exchange_explicit(&b->state, to, memory_order_acq_rel) == to_wait_by_other)
		futex_wake(&b->state);
}

struct pipeline {
	struct feeder fe;
	struct batch ring[RING_BATCHES];
};

/*
 * The feeder thread: fills the ring's batches in turn until the file ends
 * or fails. The decoder reads batches until the one that says so, so the
 * feeder has returned by the time the decoder is done.
 */
static void *
feeder_main(void *arg)
{
	struct pipeline *pl = arg;

	for (size_t i = 0;; i++) {
		struct batch *b = &pl->ring[i % RING_BATCHES];
		enum batch_end end;

		batch_wait(b, BATCH_FREE, BATCH_FREE_WAIT, BATCH_FULL_WAIT);
		feed(&pl->fe, b);
		end = b->end;   /* read before the batch is the decoder's */
		batch_hand_over(b, BATCH_FULL, BATCH_FREE_WAIT);
		if (end != BATCH_MORE)
			return NULL;
	}
}

/*
 * Two threads for a large file on a machine with a second CPU.
 * MESHCHECK_WIRE_THREADS=1 keeps the reading in one thread and =2 always
 * takes two (so that tests and fuzzing reach the pipeline with small files).
 */
static bool
pipeline_worthwhile(uint64_t size)
{
	const char *env = getenv("MESHCHECK_WIRE_THREADS");

	if (env != NULL && strcmp(env, "1") == 0)
		return false;
	if (env != NULL && strcmp(env, "2") == 0)
		return true;
	return size >= PIPELINE_MIN_BYTES && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

/* Reads a classic pcap file of size bytes whose magic number classic_pcap() read. */
static int
read_classic(struct mc_wire *w, pcap_t *p, int fd, uint64_t size, uint32_t magic, const struct bpf_program *filter,
	     const char *name, char *err, size_t errlen)
{
	struct pipeline *pl;
	pthread_t th;
	bool swapped = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
	bool nsec = magic == 0xa1b23c4du || magic == 0x4d3cb2a1u, threaded;
	int lt = pcap_datalink(p), rc = 1, n_batches;

	if (lseek(fd, 24, SEEK_SET) < 0)
		return mc_err(err, errlen, EIO, "%s: cannot seek: %s", name, strerror(errno));
	pl = mc_xcalloc(1, sizeof(*pl));
	threaded = pipeline_worthwhile(size);
	n_batches = threaded ? RING_BATCHES : 1;
	pl->fe = (struct feeder){.fd = fd, .swapped = swapped, .off = 24, .left = size - 24,
				 .chunk = threaded ? PIPE_CHUNK : READ_CHUNK};
	pl->fe.cap = pl->fe.chunk + MAX_RECORD + 16;
	/* A small file needs no more than itself: every batch then holds all of it. */
	if (pl->fe.cap > pl->fe.left + 16)
		pl->fe.cap = (size_t)pl->fe.left + 16;
	pl->fe.carry = mc_xmalloc(pl->fe.cap);
	for (int i = 0; i < n_batches; i++)
		batch_init(&pl->ring[i], pl->fe.chunk, pl->fe.cap);
	if (threaded && pthread_create(&th, NULL, feeder_main, pl) != 0)
		threaded = false;
	w->st.read_threads = threaded ? 2 : 1;
	for (size_t i = 0; rc > 0; i++) {
		struct batch *b = &pl->ring[threaded ? i % RING_BATCHES : 0];

		if (threaded)
			batch_wait(b, BATCH_FULL, BATCH_FULL_WAIT, BATCH_FREE_WAIT);
		else
			feed(&pl->fe, b);
		decode(w, b, lt, swapped, nsec, filter);
		rc = batch_outcome(w, b, name, err, errlen);
		if (threaded)
			batch_hand_over(b, BATCH_FREE, BATCH_FULL_WAIT);
	}
	if (threaded)
		pthread_join(th, NULL);
	for (int i = 0; i < n_batches; i++)
		batch_free(&pl->ring[i]);
	free(pl->fe.carry);
	free(pl);
	return rc < 0 ? rc : 0;
}

/*
 * A regular file in the classic pcap format (either byte order, micro- or
 * nanoseconds)? Gives its size and magic number.
 */
static bool
classic_pcap(int fd, uint64_t *size, uint32_t *magic)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < 24)
		return false;
	if (pread(fd, magic, 4, 0) != 4)
		return false;
	*size = (uint64_t)sb.st_size;
	return *magic == 0xa1b2c3d4u || *magic == 0xd4c3b2a1u || *magic == 0xa1b23c4du || *magic == 0x4d3cb2a1u;
}

int
mc_wire_read_file(struct mc_wire *w, const char *path, const char *bpf, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
	struct pcap_pkthdr *h;
	struct bpf_program prog;
	const u_char *data;
	bool have_prog = false;
	uint64_t size = 0;
	uint32_t magic = 0;
	pcap_t *p;
	int lt, rc = 0, r, fd = -1;

	if (strcmp(path, "-") == 0)
		p = pcap_fopen_offline(stdin, ebuf);
	else
		p = pcap_open_offline(path, ebuf);
	if (p == NULL)
		return mc_err(err, errlen, EINVAL, "%s: not a readable pcap or pcapng capture (%s)", name, ebuf);
	if (strcmp(path, "-") != 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && classic_pcap(fd, &size, &magic)) {
		if (bpf != NULL && *bpf != '\0') {
			if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
				rc = mc_err(err, errlen, EINVAL, "%s: bad filter \"%s\": %s", name, bpf,
					    pcap_geterr(p));
				goto out;
			}
			have_prog = true;
		}
		rc = read_classic(w, p, fd, size, magic, have_prog ? &prog : NULL, name, err, errlen);
		if (have_prog)
			pcap_freecode(&prog);
		settle(w);
		goto out;
	}
	if ((rc = apply_filter(p, bpf, name, err, errlen)) < 0)
		goto out;
	lt = pcap_datalink(p);
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		mc_wire_packet(w, lt, (double)h->ts.tv_sec + (double)h->ts.tv_usec / 1e6, data, h->caplen, h->len);
		/* pcapng files may change link type per interface. */
		lt = pcap_datalink(p);
	}
	if (r == PCAP_ERROR) {
		/* libpcap reports a file cut inside a record as an error: keep what was read. */
		if (strstr(pcap_geterr(p), "truncated") != NULL)
			w->st.truncated_file = true;
		else
			rc = mc_err(err, errlen, EIO, "%s: after %llu packet(s): %s", name,
				    (unsigned long long)w->st.packets, pcap_geterr(p));
	}
	settle(w);
out:
	if (fd >= 0)
		close(fd);
	pcap_close(p);
	return rc;
}

struct mc_capture {
	struct mc_wire *w;
	pcap_t *p;
	pcap_dumper_t *dump;
	pthread_t thread;
	bool started;
	volatile int stop;
	volatile int finished;
	double deadline;            /* monotonic; 0 = none */
	uint64_t max_packets;
	int linktype;
	char error[256];
};

static void
on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	struct mc_capture *c = (struct mc_capture *)user;

	mc_wire_packet(c->w, c->linktype, (double)h->ts.tv_sec + (double)h->ts.tv_usec / 1e6, data, h->caplen,
		       h->len);
	if (c->dump != NULL)
		pcap_dump((u_char *)c->dump, h, data);
	if (c->max_packets > 0 && c->w->st.packets >= c->max_packets)
		c->stop = 1;
}

/*
 * The capture thread. The handle is non-blocking and the thread polls it
 * with a 100 ms timeout, so a stop request or the deadline is noticed even
 * when no packet arrives (libpcap's own read timeout is not reliable for
 * that in immediate mode).
 */
static void *
capture_loop(void *arg)
{
	struct mc_capture *c = arg;
	int fd = pcap_get_selectable_fd(c->p);

	while (!c->stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r;

		if (fd >= 0 && poll(&pfd, 1, 100) < 0 && errno != EINTR) {
			snprintf(c->error, sizeof(c->error), "poll: %s", strerror(errno));
			break;
		}
		r = pcap_dispatch(c->p, 256, on_packet, (u_char *)c);

		if (r == PCAP_ERROR) {
			snprintf(c->error, sizeof(c->error), "%s", pcap_geterr(c->p));
			break;
		}
		if (r == PCAP_ERROR_BREAK)
			break;
		if (c->deadline > 0 && mc_monotonic() >= c->deadline)
			break;
	}
	c->finished = 1;
	return NULL;
}

int
mc_capture_start(struct mc_wire *w, const struct mc_capture_options *o, struct mc_capture **out,
		 char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct mc_capture *c;
	int rc = 0, r;

	*out = NULL;
	c = mc_xcalloc(1, sizeof(*c));
	c->w = w;
	c->max_packets = o->max_packets;
	c->p = pcap_create(o->iface, ebuf);
	if (c->p == NULL) {
		rc = mc_err(err, errlen, ENODEV, "%s: %s", o->iface, ebuf);
		goto out;
	}
	pcap_set_snaplen(c->p, o->snaplen > 0 ? o->snaplen : 65535);
	pcap_set_immediate_mode(c->p, 1);
	pcap_set_timeout(c->p, 100);
	pcap_set_buffer_size(c->p, 8 << 20);
	r = pcap_activate(c->p);
	if (r == PCAP_ERROR_PERM_DENIED || (r < 0 && strstr(pcap_geterr(c->p), "ermission") != NULL)) {
		rc = mc_err(err, errlen, EPERM, "capturing on %s needs root or CAP_NET_RAW (%s)", o->iface,
			    pcap_geterr(c->p));
		goto out;
	}
	if (r == PCAP_ERROR_NO_SUCH_DEVICE) {
		rc = mc_err(err, errlen, ENODEV, "%s: no such interface", o->iface);
		goto out;
	}
	if (r < 0) {
		rc = mc_err(err, errlen, EIO, "%s: %s", o->iface, pcap_geterr(c->p));
		goto out;
	}
	if ((rc = apply_filter(c->p, o->bpf, o->iface, err, errlen)) < 0)
		goto out;
	if (pcap_setnonblock(c->p, 1, ebuf) < 0) {
		rc = mc_err(err, errlen, EIO, "%s: %s", o->iface, ebuf);
		goto out;
	}
	c->linktype = pcap_datalink(c->p);
	if (o->write_path != NULL) {
		c->dump = pcap_dump_open(c->p, o->write_path);
		if (c->dump == NULL) {
			rc = mc_err(err, errlen, EIO, "%s: %s", o->write_path, pcap_geterr(c->p));
			goto out;
		}
	}
	if (o->seconds > 0)
		c->deadline = mc_monotonic() + o->seconds;
	if (pthread_create(&c->thread, NULL, capture_loop, c) != 0) {
		rc = mc_err(err, errlen, EAGAIN, "cannot start the capture thread");
		goto out;
	}
	c->started = true;
	*out = c;
	c = NULL;
out:
	if (c != NULL) {
		if (c->dump != NULL)
			pcap_dump_close(c->dump);
		if (c->p != NULL)
			pcap_close(c->p);
		free(c);
	}
	return rc;
}

int
mc_capture_wait(struct mc_capture *c, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	while (!c->finished && (stop == NULL || *stop == 0)) {
		struct timespec ts = {0, 20 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	return 0;
}

int
mc_capture_stop(struct mc_capture *c, char *err, size_t errlen)
{
	int rc = 0;

	if (c == NULL)
		return 0;
	if (c->started) {
		/* What the kernel still holds arrives within the 100 ms read timeout. */
		if (!c->finished) {
			struct timespec ts = {0, 150 * 1000 * 1000};

			nanosleep(&ts, NULL);
		}
		c->stop = 1;
		pcap_breakloop(c->p);
		pthread_join(c->thread, NULL);
	}
	if (c->error[0] != '\0')
		rc = mc_err(err, errlen, EIO, "capture: %s", c->error);
	if (c->dump != NULL)
		pcap_dump_close(c->dump);
	pcap_close(c->p);
	settle(c->w);
	free(c);
	return rc;
}

/* ---- results ------------------------------------------------------------ */

void
mc_wire_stats_get(const struct mc_wire *w, struct mc_wire_stats *out)
{
	*out = w->st;
	out->flows = w->n_flows;
}

size_t
mc_wire_flow_count(const struct mc_wire *w)
{
	return w->n_flows;
}

/* Dotted-quad text (inet_ntop's output, without its cost per flow). */
static void
ipv4_text(const uint8_t *a, char *out)
{
	char *o = out;

	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = i < 3 ? '.' : '\0';
	}
}

void
mc_wire_flow_get(const struct mc_wire *w, size_t i, struct mc_flow_view *v)
{
	const struct flow *f;
	int af;

	memset(v, 0, sizeof(*v));
	if (i >= w->n_flows)
		return; /* out of range: an empty view */
	f = &w->flows[i];
	af = f->family == 4 ? AF_INET : AF_INET6;
	v->family = af;
	if (af == AF_INET) {
		ipv4_text(f->addr[0], v->client);
		ipv4_text(f->addr[1], v->server);
	} else {
		inet_ntop(af, f->addr[0], v->client, sizeof(v->client));
		inet_ntop(af, f->addr[1], v->server, sizeof(v->server));
	}
	v->client_port = f->port[0];
	v->server_port = f->port[1];
	v->cls = f->payload[0] + f->payload[1] == 0 ? MC_FLOW_EMPTY : (enum mc_flow_class)f->cls;
	if (v->cls == MC_FLOW_EMPTY && f->payload[0] + f->payload[1] > 0)
		v->cls = MC_FLOW_PLAINTEXT;
	for (int d = 0; d < 2; d++) {
		v->packets[d] = f->packets[d];
		v->payload_bytes[d] = f->payload[d];
	}
	v->first_ts = f->first_ts;
	v->last_ts = f->last_ts;
	if (v->cls == MC_FLOW_TLS) {
		v->tls_version = f->tls_version;
		v->tls_complete = f->appdata[0] && f->appdata[1];
		v->sni = string_of(w, f->sni);
		v->alpn_offered = string_of(w, f->alpn_offered);
		v->alpn_selected = string_of(w, f->alpn_selected);
	}
	if (f->can != NULL) {
		v->canary_hits = f->can->hits;
		v->first_canary_packet = f->can->first_packet;
	}
	v->sample = v->cls == MC_FLOW_TLS ? NULL : f->sample;
}

static const char *
version_name(uint16_t v)
{
	switch (v) {
	case 0x0300: return "SSLv3";
	case 0x0301: return "TLSv1.0";
	case 0x0302: return "TLSv1.1";
	case 0x0303: return "TLSv1.2";
	case 0x0304: return "TLSv1.3";
	case 0: return "-";
	}
	return "TLS?";
}

static bool
matches(const struct mc_flow_view *v, const struct mc_wire_expect *e)
{
	if (e->n_match == 0)
		return true;
	for (size_t i = 0; i < e->n_match; i++) {
		const struct mc_flow_match *m = &e->match[i];
		bool c = (m->addr == NULL || strcmp(m->addr, v->client) == 0) &&
			 (m->port == 0 || m->port == v->client_port);
		bool s = (m->addr == NULL || strcmp(m->addr, v->server) == 0) &&
			 (m->port == 0 || m->port == v->server_port);

		if (c || s)
			return true;
	}
	return false;
}

void
mc_wire_judge(const struct mc_wire *w, const struct mc_wire_expect *e, struct mc_wire_verdict *v)
{
	size_t need = e->min_flows > 0 ? e->min_flows : 1;

	memset(v, 0, sizeof(*v));
	settle((struct mc_wire *)w);
	for (size_t i = 0; i < w->n_flows; i++) {
		struct mc_flow_view f;
		char why[400] = "";

		mc_wire_flow_get(w, i, &f);
		if (!matches(&f, e) || f.cls == MC_FLOW_EMPTY)
			continue;
		v->selected++;
		if (f.cls == MC_FLOW_TLS)
			v->tls++;
		else
			v->plaintext++;
		v->canary_hits += f.canary_hits;
		if (e->no_canary && f.canary_hits > 0)
			snprintf(why, sizeof(why), "canary seen in cleartext %llu time(s) in %s flow %s:%u -> %s:%u (first at packet %llu)",
				 (unsigned long long)f.canary_hits, mc_flow_class_name(f.cls), f.client, f.client_port,
				 f.server, f.server_port, (unsigned long long)f.first_canary_packet);
		else if (e->all_tls && f.cls != MC_FLOW_TLS)
			snprintf(why, sizeof(why), "%s flow %s:%u -> %s:%u is not TLS (starts \"%.40s\")",
				 mc_flow_class_name(f.cls), f.client, f.client_port, f.server, f.server_port,
				 f.sample != NULL ? f.sample : "");
		else if (f.cls == MC_FLOW_TLS && e->sni != NULL && !mc_glob_match(e->sni, f.sni != NULL ? f.sni : ""))
			snprintf(why, sizeof(why), "TLS flow %s:%u -> %s:%u has SNI \"%s\", expected %s", f.client,
				 f.client_port, f.server, f.server_port, f.sni != NULL ? f.sni : "(none)", e->sni);
		else if (f.cls == MC_FLOW_TLS && e->alpn != NULL &&
			 !mc_glob_match(e->alpn, f.alpn_selected != NULL ? f.alpn_selected
								  : f.alpn_offered != NULL ? f.alpn_offered : ""))
			snprintf(why, sizeof(why), "TLS flow %s:%u -> %s:%u has ALPN \"%s\", expected %s", f.client,
				 f.client_port, f.server, f.server_port,
				 f.alpn_selected != NULL ? f.alpn_selected : f.alpn_offered != NULL ? f.alpn_offered : "(none)",
				 e->alpn);
		if (why[0] != '\0') {
			if (v->failing_flows == 0)
				snprintf(v->reason, sizeof(v->reason), "%s", why);
			v->failing_flows++;
		}
	}
	if (v->failing_flows == 0 && v->selected < need) {
		if (v->selected == 0)
			snprintf(v->reason, sizeof(v->reason), "no traffic seen (expected at least %zu flow(s))", need);
		else
			snprintf(v->reason, sizeof(v->reason), "only %zu flow(s) seen, expected at least %zu",
				 v->selected, need);
		v->ok = false;
		return;
	}
	v->ok = v->failing_flows == 0;
}

/*
 * The table is built by hand rather than with printf: a capture can hold
 * hundreds of thousands of flows and formatting dominated printing them.
 * Columns are padded to their width and never cut; a line never passes
 * LINE_MAX_LEN (a longer field is cut at the end of the line).
 */
#define LINE_MAX_LEN 2048

struct line {
	char b[LINE_MAX_LEN];
	size_t n;
};

static void
put_str(struct line *l, const char *s, size_t width)
{
	size_t len = strlen(s);

	if (len > LINE_MAX_LEN - 64 - l->n)
		len = LINE_MAX_LEN - 64 - l->n;
	memcpy(l->b + l->n, s, len);
	l->n += len;
	while (len++ < width)
		l->b[l->n++] = ' ';
	l->b[l->n++] = ' ';
}

static void
put_u64(struct line *l, uint64_t v, size_t width)
{
	char d[24];
	size_t k = 0;

	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (size_t i = k; i < width; i++)
		l->b[l->n++] = ' ';
	while (k > 0)
		l->b[l->n++] = d[--k];
	l->b[l->n++] = ' ';
}

static void
put_endpoint(struct line *l, int family, const char *addr, uint16_t port)
{
	char t[64];
	size_t n = 0, a = strlen(addr);

	if (family == AF_INET6)
		t[n++] = '[';
	memcpy(t + n, addr, a);
	n += a;
	if (family == AF_INET6)
		t[n++] = ']';
	t[n++] = ':';
	n += (size_t)snprintf(t + n, sizeof(t) - n, "%u", port);
	put_str(l, t, 22);
}

/* Writes one flow's table line (or the header when v is NULL). */
static void
flow_line(FILE *out, const struct mc_flow_view *v)
{
	struct line l;
	char alpn[600];

	l.n = 0;
	if (v == NULL) {
		fprintf(out, "%-22s %-22s %-9s %-7s %-4s %-40s %-28s %8s %10s %6s %s\n", "client", "server",
			"class", "version", "done", "sni", "alpn (offered / selected)", "packets", "bytes", "canary",
			"sample");
		return;
	}
	put_endpoint(&l, v->family, v->client, v->client_port);
	put_endpoint(&l, v->family, v->server, v->server_port);
	put_str(&l, mc_flow_class_name(v->cls), 9);
	put_str(&l, version_name(v->tls_version), 7);
	put_str(&l, v->cls == MC_FLOW_TLS ? (v->tls_complete ? "yes" : "no") : "-", 4);
	put_str(&l, v->sni != NULL ? v->sni : "-", 40);
	if (v->cls == MC_FLOW_TLS)
		snprintf(alpn, sizeof(alpn), "%s / %s", v->alpn_offered != NULL ? v->alpn_offered : "-",
			 v->alpn_selected != NULL ? v->alpn_selected : "-");
	put_str(&l, v->cls == MC_FLOW_TLS ? alpn : "-", 28);
	put_u64(&l, v->packets[0] + v->packets[1], 8);
	put_u64(&l, v->payload_bytes[0] + v->payload_bytes[1], 10);
	put_u64(&l, v->canary_hits, 6);
	if (v->sample != NULL)
		put_str(&l, v->sample, 0);
	l.n--;                      /* the separator after the last column */
	l.b[l.n++] = '\n';
	fwrite(l.b, 1, l.n, out);
}

void
mc_wire_flows_print(const struct mc_wire *w, FILE *out)
{
	settle((struct mc_wire *)w);
	flow_line(out, NULL);
	for (size_t i = 0; i < w->n_flows; i++) {
		struct mc_flow_view v;

		mc_wire_flow_get(w, i, &v);
		flow_line(out, &v);
	}
}

char *
mc_wire_flows_text(const struct mc_wire *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		abort();
	mc_wire_flows_print(w, f);
	fclose(f);
	return text;
}

static cJSON *
stats_json(const struct mc_wire *w)
{
	cJSON *st = cJSON_CreateObject();

	cJSON_AddNumberToObject(st, "packets", (double)w->st.packets);
	cJSON_AddNumberToObject(st, "bytes", (double)w->st.bytes);
	cJSON_AddNumberToObject(st, "tcp_packets", (double)w->st.tcp_packets);
	cJSON_AddNumberToObject(st, "non_tcp", (double)w->st.non_tcp);
	cJSON_AddNumberToObject(st, "icmp", (double)w->st.icmp);
	cJSON_AddNumberToObject(st, "arp", (double)w->st.arp);
	cJSON_AddNumberToObject(st, "udp", (double)w->st.udp);
	cJSON_AddNumberToObject(st, "truncated", (double)w->st.truncated);
	cJSON_AddNumberToObject(st, "undecodable", (double)w->st.undecodable);
	cJSON_AddNumberToObject(st, "retransmissions", (double)w->st.retransmissions);
	cJSON_AddNumberToObject(st, "out_of_order", (double)w->st.out_of_order);
	cJSON_AddBoolToObject(st, "truncated_file", w->st.truncated_file);
	cJSON_AddNumberToObject(st, "flows", (double)w->n_flows);
	return st;
}

static cJSON *
flow_json(const struct mc_wire *w, size_t i)
{
	struct mc_flow_view f;
	cJSON *j = cJSON_CreateObject();

	mc_wire_flow_get(w, i, &f);
	cJSON_AddStringToObject(j, "client", f.client);
	cJSON_AddNumberToObject(j, "client_port", f.client_port);
	cJSON_AddStringToObject(j, "server", f.server);
	cJSON_AddNumberToObject(j, "server_port", f.server_port);
	cJSON_AddStringToObject(j, "class", mc_flow_class_name(f.cls));
	if (f.cls == MC_FLOW_TLS) {
		cJSON_AddStringToObject(j, "tls_version", version_name(f.tls_version));
		cJSON_AddBoolToObject(j, "tls_complete", f.tls_complete);
		if (f.sni != NULL)
			cJSON_AddStringToObject(j, "sni", f.sni);
		if (f.alpn_offered != NULL)
			cJSON_AddStringToObject(j, "alpn_offered", f.alpn_offered);
		if (f.alpn_selected != NULL)
			cJSON_AddStringToObject(j, "alpn_selected", f.alpn_selected);
	}
	cJSON_AddNumberToObject(j, "packets_to_server", (double)f.packets[0]);
	cJSON_AddNumberToObject(j, "packets_to_client", (double)f.packets[1]);
	cJSON_AddNumberToObject(j, "bytes_to_server", (double)f.payload_bytes[0]);
	cJSON_AddNumberToObject(j, "bytes_to_client", (double)f.payload_bytes[1]);
	cJSON_AddNumberToObject(j, "canary_hits", (double)f.canary_hits);
	if (f.first_canary_packet > 0)
		cJSON_AddNumberToObject(j, "first_canary_packet", (double)f.first_canary_packet);
	if (f.sample != NULL)
		cJSON_AddStringToObject(j, "sample", f.sample);
	return j;
}

static cJSON *
verdict_json(const struct mc_wire_verdict *v)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddBoolToObject(j, "ok", v->ok);
	cJSON_AddStringToObject(j, "reason", v->reason);
	cJSON_AddNumberToObject(j, "selected", (double)v->selected);
	cJSON_AddNumberToObject(j, "tls", (double)v->tls);
	cJSON_AddNumberToObject(j, "plaintext", (double)v->plaintext);
	cJSON_AddNumberToObject(j, "canary_hits", (double)v->canary_hits);
	return j;
}

cJSON *
mc_wire_json(const struct mc_wire *w, const struct mc_wire_verdict *v)
{
	cJSON *o = cJSON_CreateObject(), *flows;

	settle((struct mc_wire *)w);
	cJSON_AddItemToObject(o, "stats", stats_json(w));
	flows = cJSON_AddArrayToObject(o, "flows");
	for (size_t i = 0; i < w->n_flows; i++)
		cJSON_AddItemToArray(flows, flow_json(w, i));
	if (v != NULL)
		cJSON_AddItemToObject(o, "verdict", verdict_json(v));
	return o;
}

/*
 * Writes j (then frees it) as cJSON_Print would inside a document, depth
 * levels down: cJSON's formatted output indents with one tab a level, and
 * no string it writes holds a raw newline, so each newline gets depth more
 * tabs.
 */
static void
put_nested(cJSON *j, int depth, FILE *out)
{
	char *text = cJSON_Print(j);

	for (const char *p = text, *nl; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			fputs(p, out);
			break;
		}
		fwrite(p, 1, (size_t)(nl - p) + 1, out);
		for (int d = 0; d < depth; d++)
			putc('\t', out);
	}
	free(text);
	cJSON_Delete(j);
}

void
mc_wire_json_print(const struct mc_wire *w, const struct mc_wire_verdict *v, FILE *out)
{
	settle((struct mc_wire *)w);
	fputs("{\n\t\"stats\":\t", out);
	put_nested(stats_json(w), 1, out);
	fputs(",\n\t\"flows\":\t[", out);
	for (size_t i = 0; i < w->n_flows; i++) {
		if (i > 0)
			fputs(", ", out);
		put_nested(flow_json(w, i), 2, out);
	}
	putc(']', out);
	if (v != NULL) {
		fputs(",\n\t\"verdict\":\t", out);
		put_nested(verdict_json(v), 1, out);
	}
	fputs("\n}", out);
}
