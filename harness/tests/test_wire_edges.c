/*
 * Wire engine edge cases on hand-built packets: hellos split over segments,
 * retransmitted and out-of-order segments, a small snaplen, canaries split
 * across segments, every link type, IPv6, non-TCP noise, empty captures,
 * and the `pcap` command on broken files.
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <sys/stat.h>

#include "testutil.h"
#include "wire.h"

static const char *bin;

/* A packet under construction. */
struct pkt {
	uint8_t b[4096];
	size_t len;
};

static void
put(struct pkt *p, const void *d, size_t n)
{
	if (n == 0)
		return;
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void
put16(struct pkt *p, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(p, b, 2);
}

/*
 * An IPv4 or IPv6 TCP packet (no link header) from client port 40000 to
 * server port 443 (dir 0) or back (dir 1).
 */
static struct pkt
tcp(int v6, int dir, uint32_t seq, uint8_t flags, const void *payload, size_t n)
{
	static const uint8_t c4[4] = {127, 0, 0, 1}, s4[4] = {127, 11, 1, 1};
	static const uint8_t c6[16] = {[15] = 1}, s6[16] = {0xfd, [15] = 2};
	struct pkt p = {.len = 0};
	uint8_t th[20] = {0};
	uint16_t sport = dir == 0 ? 40000 : 443, dport = dir == 0 ? 443 : 40000;

	if (!v6) {
		uint8_t ih[20] = {0x45, 0};
		uint16_t total = (uint16_t)(20 + 20 + n);

		ih[2] = (uint8_t)(total >> 8);
		ih[3] = (uint8_t)total;
		ih[8] = 64;
		ih[9] = 6;
		memcpy(ih + 12, dir == 0 ? c4 : s4, 4);
		memcpy(ih + 16, dir == 0 ? s4 : c4, 4);
		put(&p, ih, 20);
	} else {
		uint8_t ih[40] = {0x60};

		ih[4] = (uint8_t)((20 + n) >> 8);
		ih[5] = (uint8_t)(20 + n);
		ih[6] = 6;
		ih[7] = 64;
		memcpy(ih + 8, dir == 0 ? c6 : s6, 16);
		memcpy(ih + 24, dir == 0 ? s6 : c6, 16);
		put(&p, ih, 40);
	}
	th[0] = (uint8_t)(sport >> 8);
	th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8);
	th[3] = (uint8_t)dport;
	th[4] = (uint8_t)(seq >> 24);
	th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8);
	th[7] = (uint8_t)seq;
	th[12] = 5 << 4;
	th[13] = flags;
	put(&p, th, 20);
	put(&p, payload, n);
	return p;
}

/* Wraps an IP packet in Ethernet. */
static struct pkt
eth(struct pkt ip)
{
	struct pkt p = {.len = 0};
	uint8_t h[14] = {0};

	h[12] = (ip.b[0] >> 4) == 6 ? 0x86 : 0x08;
	h[13] = (ip.b[0] >> 4) == 6 ? 0xdd : 0x00;
	put(&p, h, 14);
	put(&p, ip.b, ip.len);
	return p;
}

static void
feed(struct mc_wire *w, struct pkt p)
{
	mc_wire_packet(w, DLT_EN10MB, 1.0, p.b, (uint32_t)p.len, (uint32_t)p.len);
}

/* A ClientHello with SNI and ALPN, as one TLS record. */
static struct pkt
client_hello(const char *sni, const char *alpn_csv)
{
	struct pkt ext = {.len = 0}, body = {.len = 0}, rec = {.len = 0};
	uint8_t rnd[32] = {0};
	size_t sl = strlen(sni);
	struct pkt al = {.len = 0};
	char copy[128];

	/* server_name */
	put16(&ext, 0);
	put16(&ext, (uint16_t)(sl + 5));
	put16(&ext, (uint16_t)(sl + 3));
	put(&ext, "\0", 1);
	put16(&ext, (uint16_t)sl);
	put(&ext, sni, sl);
	/* ALPN */
	snprintf(copy, sizeof(copy), "%s", alpn_csv);
	for (char *t = strtok(copy, ","); t != NULL; t = strtok(NULL, ",")) {
		uint8_t l = (uint8_t)strlen(t);

		put(&al, &l, 1);
		put(&al, t, l);
	}
	put16(&ext, 16);
	put16(&ext, (uint16_t)(al.len + 2));
	put16(&ext, (uint16_t)al.len);
	put(&ext, al.b, al.len);
	/* body: version, random, session id, suites, compression, extensions */
	put16(&body, 0x0303);
	put(&body, rnd, 32);
	put(&body, "\0", 1);
	put16(&body, 2);
	put16(&body, 0x1301);
	put(&body, "\x01\x00", 2);
	put16(&body, (uint16_t)ext.len);
	put(&body, ext.b, ext.len);
	put(&rec, "\x16\x03\x01", 3);
	put16(&rec, (uint16_t)(body.len + 4));
	put(&rec, "\x01\x00", 2);
	put16(&rec, (uint16_t)body.len);
	put(&rec, body.b, body.len);
	return rec;
}

/* A ServerHello choosing version (via supported_versions when 0x0304) and optional ALPN. */
static struct pkt
server_hello(uint16_t version, const char *alpn)
{
	struct pkt ext = {.len = 0}, body = {.len = 0}, rec = {.len = 0};
	uint8_t rnd[32] = {0};

	if (version == 0x0304) {
		put16(&ext, 43);
		put16(&ext, 2);
		put16(&ext, 0x0304);
	}
	if (alpn != NULL) {
		uint8_t l = (uint8_t)strlen(alpn);

		put16(&ext, 16);
		put16(&ext, (uint16_t)(l + 3));
		put16(&ext, (uint16_t)(l + 1));
		put(&ext, &l, 1);
		put(&ext, alpn, l);
	}
	put16(&body, 0x0303);
	put(&body, rnd, 32);
	put(&body, "\0", 1);
	put16(&body, 0x1301);
	put(&body, "\0", 1);
	put16(&body, (uint16_t)ext.len);
	put(&body, ext.b, ext.len);
	put(&rec, "\x16\x03\x03", 3);
	put16(&rec, (uint16_t)(body.len + 4));
	put(&rec, "\x02\x00", 2);
	put16(&rec, (uint16_t)body.len);
	put(&rec, body.b, body.len);
	return rec;
}

static const uint8_t appdata[] = {0x17, 0x03, 0x03, 0x00, 0x04, 'a', 'b', 'c', 'd'};
#define SNI "outbound_.5000_._.helloworld.sample.svc.cluster.local"

/* A TLS flow: handshake, client hello split in `parts` segments, app data both ways. */
static void
tls_flow(struct mc_wire *w, int v6, uint16_t version, const char *alpn_sel, int parts)
{
	struct pkt ch = client_hello(SNI, "istio-peer-exchange,istio,h2");
	struct pkt sh = server_hello(version, alpn_sel);
	uint32_t cs = 1000, ss = 5000;
	size_t step = ch.len / (size_t)parts + 1;

	feed(w, eth(tcp(v6, 0, cs - 1, 0x02, NULL, 0)));
	feed(w, eth(tcp(v6, 1, ss - 1, 0x12, NULL, 0)));
	for (size_t off = 0; off < ch.len; off += step) {
		size_t n = ch.len - off < step ? ch.len - off : step;

		feed(w, eth(tcp(v6, 0, cs, 0x18, ch.b + off, n)));
		cs += (uint32_t)n;
	}
	feed(w, eth(tcp(v6, 1, ss, 0x18, sh.b, sh.len)));
	ss += (uint32_t)sh.len;
	feed(w, eth(tcp(v6, 1, ss, 0x18, appdata, sizeof(appdata))));
	feed(w, eth(tcp(v6, 0, cs, 0x18, appdata, sizeof(appdata))));
}

static struct mc_wire *
engine(const char *canary)
{
	const char *c[1] = {canary};
	struct mc_wire_options o = {.canaries = c, .n_canaries = canary != NULL ? 1 : 0};
	char err[MC_ERRLEN];
	struct mc_wire *w = mc_wire_new(&o, err, sizeof(err));

	ck_assert_msg(w != NULL, "%s", err);
	return w;
}

START_TEST(tls13_hello_split_over_three_segments)
{
	struct mc_wire *w = engine(NULL);
	struct mc_flow_view v;
	struct mc_wire_expect e = {.all_tls = true, .sni = "outbound_.*.cluster.local", .alpn = "*istio*"};
	struct mc_wire_verdict vd;

	tls_flow(w, 0, 0x0304, NULL, 3);
	ck_assert_uint_eq(mc_wire_flow_count(w), 1);
	mc_wire_flow_get(w, 0, &v);
	ck_assert_int_eq(v.cls, MC_FLOW_TLS);
	ck_assert_uint_eq(v.tls_version, 0x0304);
	ck_assert_str_eq(v.sni, SNI);
	ck_assert_str_eq(v.alpn_offered, "istio-peer-exchange,istio,h2");
	ck_assert_ptr_null(v.alpn_selected);
	ck_assert(v.tls_complete);
	ck_assert_str_eq(v.client, "127.0.0.1");
	ck_assert_uint_eq(v.server_port, 443);
	mc_wire_judge(w, &e, &vd);
	ck_assert_msg(vd.ok, "%s", vd.reason);
	mc_wire_free(w);
}
END_TEST

START_TEST(tls12_alpn_selected_and_ipv6)
{
	struct mc_wire *w = engine(NULL);
	struct mc_flow_view v;

	tls_flow(w, 1, 0x0303, "h2", 1);
	mc_wire_flow_get(w, 0, &v);
	ck_assert_int_eq(v.family, AF_INET6);
	ck_assert_str_eq(v.client, "::1");
	ck_assert_int_eq(v.cls, MC_FLOW_TLS);
	ck_assert_uint_eq(v.tls_version, 0x0303);
	ck_assert_str_eq(v.alpn_selected, "h2");
	mc_wire_free(w);
}
END_TEST

static const char req1[] = "GET /x HTTP/1.1\r\nHost: a\r\nX-Token: mccan";
static const char req2[] = "ary-0042\r\n\r\n";

START_TEST(canary_split_across_segments)
{
	struct mc_wire *w = engine("mccanary-0042");
	struct mc_flow_view v;
	struct mc_wire_expect e = {.all_tls = true, .no_canary = true};
	struct mc_wire_verdict vd;

	feed(w, eth(tcp(0, 0, 99, 0x02, NULL, 0)));
	feed(w, eth(tcp(0, 0, 100, 0x18, req1, strlen(req1))));
	feed(w, eth(tcp(0, 0, 100 + (uint32_t)strlen(req1), 0x18, req2, strlen(req2))));
	mc_wire_flow_get(w, 0, &v);
	ck_assert_int_eq(v.cls, MC_FLOW_HTTP1);
	ck_assert_uint_eq(v.canary_hits, 1);
	ck_assert_uint_eq(v.first_canary_packet, 3);
	ck_assert_ptr_nonnull(strstr(v.sample, "GET /x HTTP/1.1"));
	mc_wire_judge(w, &e, &vd);
	ck_assert(!vd.ok);
	ck_assert_msg(strstr(vd.reason, "canary seen in cleartext") != NULL, "%s", vd.reason);
	mc_wire_free(w);
}
END_TEST

/* mc_wire_json_print's text, and cJSON_Print's of mc_wire_json, for w with and without a verdict. */
static void
json_both_ways(struct mc_wire *w, const struct mc_wire_verdict *v)
{
	char *streamed = NULL, *whole;
	size_t len = 0;
	FILE *f = open_memstream(&streamed, &len);
	cJSON *j = mc_wire_json(w, v);

	ck_assert_ptr_nonnull(f);
	mc_wire_json_print(w, v, f);
	ck_assert_int_eq(fclose(f), 0);
	whole = cJSON_Print(j);
	ck_assert_msg(strcmp(streamed, whole) == 0, "streamed:\n%s\nwhole:\n%s", streamed, whole);
	cJSON_Delete(j);
	free(whole);
	free(streamed);
}

/*
 * `pcap --json` writes the document a flow at a time; it must be the very
 * text of the whole document printed by cJSON: no flows, flows of every
 * kind, a sample with quotes, backslashes, control bytes and bytes above
 * 127, a truncated packet, with and without a verdict.
 */
START_TEST(streamed_json_is_cjson_text)
{
	static const char odd[] = "GET /\"q\"\\x HTTP/1.1\r\nX-Bin: \x01\x7f\xc3\xa9\xff\t\r\n\r\n";
	struct mc_wire *w = engine("mccanary-0042");
	struct mc_wire_expect e = {.all_tls = true, .no_canary = true};
	struct mc_wire_verdict vd;

	mc_wire_judge(w, &e, &vd);
	json_both_ways(w, NULL);
	json_both_ways(w, &vd);
	tls_flow(w, 0, 0x0304, "istio", 2);
	tls_flow(w, 1, 0x0303, NULL, 1);
	feed(w, eth(tcp(0, 0, 99, 0x02, NULL, 0)));
	feed(w, eth(tcp(0, 0, 100, 0x18, req1, strlen(req1))));
	feed(w, eth(tcp(0, 0, 100 + (uint32_t)strlen(req1), 0x18, req2, strlen(req2))));
	{
		/* A flow of its own (another client port) carrying the odd bytes. */
		struct pkt p = eth(tcp(0, 0, 5000, 0x18, odd, sizeof(odd) - 1));

		p.b[14 + 20] = 0x9c;
		p.b[14 + 21] = 0x41;
		mc_wire_packet(w, DLT_EN10MB, 1.0, p.b, (uint32_t)p.len, (uint32_t)p.len + 100);
	}
	mc_wire_judge(w, &e, &vd);
	ck_assert(!vd.ok);
	{
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		mc_wire_json_print(w, &vd, f);
		fclose(f);
		ck_assert_msg(strstr(text, "\"client_port\":\t40001") != NULL && strstr(text, "\\\"q\\\"") != NULL,
			      "the odd flow is missing: %s", text);
		free(text);
	}
	json_both_ways(w, NULL);
	json_both_ways(w, &vd);
	mc_wire_free(w);
}
END_TEST

START_TEST(out_of_order_and_retransmitted)
{
	struct mc_wire *w = engine("mccanary-0042");
	struct mc_wire_stats st;
	struct mc_flow_view v;
	uint32_t s2 = 100 + (uint32_t)strlen(req1);

	feed(w, eth(tcp(0, 0, 99, 0x02, NULL, 0)));
	/* The second half first, then the first, then both again. */
	feed(w, eth(tcp(0, 0, s2, 0x18, req2, strlen(req2))));
	feed(w, eth(tcp(0, 0, 100, 0x18, req1, strlen(req1))));
	feed(w, eth(tcp(0, 0, 100, 0x18, req1, strlen(req1))));
	feed(w, eth(tcp(0, 0, s2, 0x18, req2, strlen(req2))));
	/* A retransmission overlapping old and new bytes: only the new tail counts. */
	feed(w, eth(tcp(0, 0, s2 + 4, 0x18, "y-0042\r\n\r\nmore", 14)));
	mc_wire_flow_get(w, 0, &v);
	mc_wire_stats_get(w, &st);
	ck_assert_int_eq(v.cls, MC_FLOW_HTTP1);
	ck_assert_uint_eq(v.canary_hits, 1);
	ck_assert_uint_eq(v.payload_bytes[0], strlen(req1) + strlen(req2) + 6);
	ck_assert_uint_eq(st.out_of_order, 1);
	ck_assert_uint_ge(st.retransmissions, 3);
	mc_wire_free(w);
}
END_TEST

START_TEST(snaplen_96)
{
	struct mc_wire *w = engine("mccanary-0042");
	struct pkt ch = client_hello(SNI, "h2"), big = {.len = 0};
	struct mc_wire_stats st;
	struct mc_flow_view v;
	struct pkt p;

	/* A TLS hello cut at 96 bytes: still TLS, never plaintext; nothing read past the cut. */
	p = eth(tcp(0, 0, 100, 0x18, ch.b, ch.len));
	mc_wire_packet(w, DLT_EN10MB, 1.0, p.b, 96, (uint32_t)p.len);
	/* A plaintext request whose canary lies beyond the cut must not be "found". */
	memset(big.b, 'a', 200);
	memcpy(big.b + 150, "mccanary-0042", 13);
	big.len = 200;
	p = eth(tcp(0, 1, 7, 0x18, big.b, big.len));
	p.b[14 + 16 + 1] = 99; /* to 127.99.0.1: a second flow */
	mc_wire_packet(w, DLT_EN10MB, 1.0, p.b, 96, (uint32_t)p.len);
	mc_wire_stats_get(w, &st);
	ck_assert_uint_eq(st.truncated, 2);
	mc_wire_flow_get(w, 0, &v);
	ck_assert_int_eq(v.cls, MC_FLOW_TLS);
	ck_assert_uint_eq(v.payload_bytes[0], 96 - 14 - 40);
	ck_assert_uint_eq(mc_wire_flow_count(w), 2);
	mc_wire_flow_get(w, 1, &v);
	ck_assert_uint_eq(v.canary_hits, 0);
	ck_assert_uint_eq(v.payload_bytes[0], 96 - 14 - 40);
	mc_wire_free(w);
}
END_TEST

START_TEST(noise_is_not_judged_and_empty_fails)
{
	struct mc_wire *w = engine(NULL);
	struct mc_wire_expect e = {.all_tls = true, .no_canary = true};
	struct mc_wire_verdict vd;
	struct mc_wire_stats st;
	struct pkt icmp = tcp(0, 0, 0, 0, "ping", 4), arp = {.len = 0};
	uint8_t ah[14] = {[12] = 0x08, [13] = 0x06};

	icmp.b[9] = 1; /* protocol ICMP */
	feed(w, eth(icmp));
	put(&arp, ah, 14);
	put(&arp, "\0\1\x08\0\6\4\0\1", 8);
	mc_wire_packet(w, DLT_EN10MB, 1.0, arp.b, (uint32_t)arp.len, (uint32_t)arp.len);
	mc_wire_judge(w, &e, &vd);
	ck_assert(!vd.ok);
	ck_assert_msg(strstr(vd.reason, "no traffic seen") != NULL, "%s", vd.reason);
	tls_flow(w, 0, 0x0304, NULL, 1);
	mc_wire_judge(w, &e, &vd);
	ck_assert_msg(vd.ok, "%s", vd.reason);
	mc_wire_stats_get(w, &st);
	ck_assert_uint_eq(st.icmp, 1);
	ck_assert_uint_eq(st.arp, 1);
	ck_assert_uint_eq(st.non_tcp, 2);
	mc_wire_free(w);
}
END_TEST

START_TEST(every_link_type)
{
	static const char h2c[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
	struct pkt ip = tcp(0, 0, 100, 0x18, h2c, sizeof(h2c) - 1);
	struct pkt frames[6];
	int types[6] = {DLT_EN10MB, DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_NULL, DLT_RAW};
	uint8_t vlan[18] = {[12] = 0x81, [13] = 0x00, [16] = 0x08, [17] = 0x00};
	uint8_t sll[16] = {[14] = 0x08, [15] = 0x00}, sll2[20] = {0x08, 0x00}, null[4] = {2, 0, 0, 0};

	frames[0] = eth(ip);
	frames[1].len = 0;
	put(&frames[1], vlan, 18);
	put(&frames[1], ip.b, ip.len);
	frames[2].len = 0;
	put(&frames[2], sll, 16);
	put(&frames[2], ip.b, ip.len);
	frames[3].len = 0;
	put(&frames[3], sll2, 20);
	put(&frames[3], ip.b, ip.len);
	frames[4].len = 0;
	put(&frames[4], null, 4);
	put(&frames[4], ip.b, ip.len);
	frames[5] = ip;
	for (int i = 0; i < 6; i++) {
		struct mc_wire *w = engine(NULL);
		struct mc_flow_view v;

		mc_wire_packet(w, types[i], 1.0, frames[i].b, (uint32_t)frames[i].len, (uint32_t)frames[i].len);
		ck_assert_msg(mc_wire_flow_count(w) == 1, "link type %d frame %d: no flow", types[i], i);
		mc_wire_flow_get(w, 0, &v);
		ck_assert_msg(v.cls == MC_FLOW_H2C, "frame %d: class %s", i, mc_flow_class_name(v.cls));
		mc_wire_free(w);
	}
}
END_TEST

/* Writes packets as a pcap file. */
static void
write_pcap(const char *path, struct pkt *p, size_t n)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path);

	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < n; i++) {
		struct pcap_pkthdr h = {.caplen = (bpf_u_int32)p[i].len, .len = (bpf_u_int32)p[i].len};

		pcap_dump((u_char *)d, &h, p[i].b);
	}
	pcap_dump_close(d);
	pcap_close(dead);
}

START_TEST(pcap_command_verdicts_and_bad_input)
{
	char *dir = t_tmpdir();
	char *plain = mc_xasprintf("%s/plain.pcap", dir), *tls = mc_xasprintf("%s/tls.pcap", dir);
	char *cut = mc_xasprintf("%s/cut.pcap", dir), *text = t_write(dir, "text.pcap", "hello, not a capture\n");
	struct pkt pp[2] = {eth(tcp(0, 0, 99, 0x02, NULL, 0)), eth(tcp(0, 0, 100, 0x18, req1, strlen(req1)))};
	struct pkt ch = client_hello(SNI, "h2"), tp[2] = {eth(tcp(0, 0, 99, 0x02, NULL, 0)), eth(tcp(0, 0, 100, 0x18, ch.b, ch.len))};
	char *data, *out = NULL;
	size_t len;

	write_pcap(plain, pp, 2);
	write_pcap(tls, tp, 2);
	data = t_read(plain);
	{
		char errbuf[MC_ERRLEN];
		char *full = NULL;

		ck_assert_int_eq(mc_file_read(plain, 1 << 20, &full, &len, errbuf, sizeof(errbuf)), 0);
		ck_assert_int_eq(mc_file_write(cut, full, 12, 0644, errbuf, sizeof(errbuf)), 0); /* header cut */
		free(full);
	}
	free(data);
	{
		char *a1[] = {(char *)bin, "pcap", plain, "--expect", "tls", NULL};
		char *a2[] = {(char *)bin, "pcap", tls, "--expect", "tls", "--sni", "outbound_.*", NULL};
		char *a3[] = {(char *)bin, "pcap", cut, NULL};
		char *a4[] = {(char *)bin, "pcap", text, NULL};
		char *a5[] = {(char *)bin, "pcap", plain, "--canary", "mccan", "--json", NULL};
		char *a6[] = {(char *)bin, "pcap", "/nonexistent.pcap", NULL};

		ck_assert_int_eq(t_run(a1, &out), 1);
		ck_assert_msg(strstr(out, "http1") != NULL && strstr(out, "FAIL") != NULL, "%s", out);
		free(out);
		ck_assert_int_eq(t_run(a2, &out), 0);
		ck_assert_msg(strstr(out, "verdict: PASS") != NULL, "%s", out);
		free(out);
		ck_assert_int_eq(t_run(a3, &out), 2);
		ck_assert_msg(strstr(out, "cut.pcap") != NULL, "%s", out);
		free(out);
		ck_assert_int_eq(t_run(a4, &out), 2);
		ck_assert_msg(strstr(out, "text.pcap") != NULL, "%s", out);
		free(out);
		ck_assert_int_eq(t_run(a5, &out), 1);
		ck_assert_msg(strstr(out, "\"canary_hits\":\t1") != NULL, "%s", out);
		free(out);
		ck_assert_int_eq(t_run(a6, &out), 2);
		free(out);
	}
	/* Garbage on standard input. */
	{
		char *cmd = mc_xasprintf("head -c 5000 /dev/urandom | %s pcap - >/dev/null 2>&1", bin);

		ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
		free(cmd);
	}
	mc_rm_rf(dir);
	free(dir);
	free(plain);
	free(tls);
	free(cut);
	free(text);
}
END_TEST

/*
 * Writes packets as a classic pcap file by hand, in either byte order and
 * with micro- or nanosecond timestamps; cut drops that many bytes from the
 * end (a file cut inside a record); bad_len, when non-zero, is written as
 * the last record's capture length.
 */
static void
write_classic(const char *path, bool swapped, bool nsec, struct pkt *p, size_t n, size_t cut, uint32_t bad_len)
{
	struct mc_buf b;
	char errbuf[MC_ERRLEN];
	uint32_t h32[6];
	uint16_t h16[2] = {2, 4};

#define SW32(v) (swapped ? __builtin_bswap32((uint32_t)(v)) : (uint32_t)(v))
#define SW16(v) (swapped ? __builtin_bswap16((uint16_t)(v)) : (uint16_t)(v))
	mc_buf_init(&b, 0);
	h32[0] = SW32(nsec ? 0xa1b23c4du : 0xa1b2c3d4u);
	mc_buf_append(&b, h32, 4);
	h16[0] = SW16(2);
	h16[1] = SW16(4);
	mc_buf_append(&b, h16, 4);
	h32[0] = 0;
	h32[1] = 0;
	h32[2] = SW32(65535);
	h32[3] = SW32(DLT_EN10MB);
	mc_buf_append(&b, h32, 16);
	for (size_t i = 0; i < n; i++) {
		uint32_t rh[4] = {SW32(1700000000 + i), SW32(nsec ? 250000000u : 250000u),
				  SW32(i + 1 == n && bad_len != 0 ? bad_len : p[i].len), SW32(p[i].len)};

		mc_buf_append(&b, rh, sizeof(rh));
		mc_buf_append(&b, p[i].b, p[i].len);
	}
#undef SW32
#undef SW16
	ck_assert_int_eq(mc_file_write(path, b.data, b.len - cut, 0644, errbuf, sizeof(errbuf)), 0);
	mc_buf_free(&b);
}

/*
 * Classic pcap files are read by meshcheck's own record reader; pipes and
 * pcapng by libpcap. Every byte order and timestamp precision must give
 * the same flows as libpcap does on the same bytes through a pipe, with a
 * filter too; a record cut short ends the read as truncated; an impossible
 * record length is an error naming the file.
 */
START_TEST(classic_reader_matches_libpcap)
{
	static const uint8_t icmp[28] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2, 8};
	char *dir = t_tmpdir();
	struct pkt ch = client_hello(SNI, "istio,h2");
	struct pkt pk[8];
	struct pkt ic = {.len = 0};
	size_t n = 0;

	put(&ic, icmp, sizeof(icmp));
	pk[n++] = eth(tcp(0, 0, 99, 0x02, NULL, 0));
	pk[n++] = eth(tcp(0, 1, 500, 0x12, NULL, 0));
	pk[n++] = eth(tcp(0, 0, 100, 0x18, ch.b, ch.len));
	pk[n++] = eth(ic);
	pk[n++] = eth(tcp(1, 0, 7, 0x02, NULL, 0));
	pk[n++] = eth(tcp(1, 0, 8, 0x18, req1, strlen(req1)));
	pk[n++] = eth(tcp(1, 0, 8 + (uint32_t)strlen(req1), 0x18, req2, strlen(req2)));
	for (int v = 0; v < 4; v++) {
		bool swapped = v & 1, nsec = v & 2;
		char *f = mc_xasprintf("%s/v%d.pcap", dir, v);
		const char *filters[] = {NULL, "ip and tcp port 443"};

		write_classic(f, swapped, nsec, pk, n, 0, 0);
		for (int k = 0; k < 2; k++) {
			char *c1, *c2, *o1, *o2, *flt = filters[k] ? mc_xasprintf(" -f '%s'", filters[k]) : mc_xstrdup("");

			/* Odd variants through the two-thread reader (forced: the files are small). */
			c1 = mc_xasprintf("MESHCHECK_WIRE_THREADS=%d %s pcap %s --canary mccanary-0042 --json%s > %s/a.json 2>&1",
					  v % 2 == 1 ? 2 : 1, bin, f, flt, dir);
			c2 = mc_xasprintf("cat %s | %s pcap - --canary mccanary-0042 --json%s > %s/b.json 2>&1", f, bin,
					  flt, dir);
			/* Unfiltered, the canary leaks in the plaintext flow: exit 1. */
			ck_assert_int_eq(WEXITSTATUS(system(c1)), (k == 0 ? 1 : 0));
			ck_assert_int_eq(WEXITSTATUS(system(c2)), (k == 0 ? 1 : 0));
			free(c1);
			free(c2);
			c1 = mc_xasprintf("%s/a.json", dir);
			c2 = mc_xasprintf("%s/b.json", dir);
			o1 = t_read(c1);
			o2 = t_read(c2);
			ck_assert_msg(k == 1 || strstr(o1, "\"canary_hits\":\t1") != NULL, "variant %d: %s", v, o1);
			ck_assert_msg(strstr(o1, "\"tls\"") != NULL && strstr(o1, SNI) != NULL, "variant %d: %s", v, o1);
			ck_assert_msg(strcmp(o1, o2) == 0, "variant %d filter %d: own reader\n%s\nlibpcap\n%s", v, k,
				      o1, o2);
			if (k == 1)
				ck_assert_msg(strstr(o1, "\"http1\"") == NULL, "filter ignored: %s", o1);
			free(o1);
			free(o2);
			free(c1);
			free(c2);
			free(flt);
		}
		free(f);
	}
	{
		char *cut = mc_xasprintf("%s/cut.pcap", dir), *bad = mc_xasprintf("%s/bad.pcap", dir);
		char *a1[] = {(char *)bin, "pcap", cut, "--json", NULL};
		char *a2[] = {(char *)bin, "pcap", bad, NULL};
		char *out = NULL;

		write_classic(cut, true, false, pk, n, 5, 0);
		write_classic(bad, false, false, pk, n, 0, 300000);
		for (int threads = 1; threads <= 2; threads++) {
			setenv("MESHCHECK_WIRE_THREADS", threads == 1 ? "1" : "2", 1);
			ck_assert_int_eq(t_run(a1, &out), 0);
			ck_assert_msg(strstr(out, "\"truncated_file\":\ttrue") != NULL, "%s", out);
			free(out);
			ck_assert_int_eq(t_run(a2, &out), 2);
			ck_assert_msg(strstr(out, "bad.pcap") != NULL && strstr(out, "capture length") != NULL, "%s",
				      out);
			free(out);
		}
		unsetenv("MESHCHECK_WIRE_THREADS");
		free(cut);
		free(bad);
	}
	mc_rm_rf(dir);
	free(dir);
}
END_TEST

/*
 * A large classic pcap file for the two-thread reader: n_flows flows, each
 * from its own client address and port (mix: TLS 1.3 with a ClientHello
 * split in two and application data records of 1400 bytes, or plaintext
 * HTTP/1.1 carrying CANARY split across two segments), interleaved, plus
 * jumbo records of up to 250 KB (unknown EtherType: counted, not decoded)
 * so that records straddle the reader's batches of every size. bad_at,
 * when non-zero, overwrites the capture length of the first record at or
 * after that byte with an impossible one and returns that record's offset;
 * cut drops bytes from the end (a file cut inside a record).
 */
#define CANARY "mccanary-7734"

static void
rec_write(FILE *f, uint32_t i, const uint8_t *d, uint32_t len, uint64_t *off)
{
	uint32_t rh[4] = {1700000000u + i / 1000, (i % 1000) * 1000u, len, len};

	ck_assert_int_eq(fwrite(rh, sizeof(rh), 1, f), 1);
	ck_assert_int_eq(fwrite(d, 1, len, f), len);
	*off += sizeof(rh) + len;
}

/* Re-addresses a flow's IPv4 Ethernet packet to client 10.0.x.y:port (dir 0 from the client). */
static struct pkt
flowify(struct pkt p, int dir, uint32_t id)
{
	uint8_t *ip = p.b + 14, *th = ip + 20;
	uint8_t *client = ip + (dir == 0 ? 12 : 16), *cport = th + (dir == 0 ? 0 : 2);
	uint16_t port = (uint16_t)(20000 + id % 40000);

	client[0] = 10;
	client[1] = (uint8_t)(id >> 16);
	client[2] = (uint8_t)(id >> 8);
	client[3] = (uint8_t)id;
	cport[0] = (uint8_t)(port >> 8);
	cport[1] = (uint8_t)port;
	return p;
}

static uint64_t
write_big(const char *path, uint32_t n_flows, uint64_t bad_at, size_t cut)
{
	FILE *f = fopen(path, "wb");
	static uint8_t jumbo[250000];
	uint32_t gh[6] = {0xa1b2c3d4u, 2 | 4u << 16, 0, 0, 262144, DLT_EN10MB};
	struct pkt ch = client_hello(SNI, "istio-peer-exchange,istio,h2"), sh = server_hello(0x0304, "istio");
	struct pkt data = {.len = 0};
	uint64_t off = 24, bad_off = 0;
	uint32_t rec = 0, half = (uint32_t)(ch.len / 2);
	static const char r1[] = "GET /items HTTP/1.1\r\nHost: sample\r\nX-Token: mccan", r2[] = "ary-7734\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	ck_assert_ptr_nonnull(f);
	memset(jumbo, 0xee, sizeof(jumbo));
	jumbo[12] = 0x88;  /* EtherType 0x88b5: local experimental, not IP */
	jumbo[13] = 0xb5;
	put(&data, "\x17\x03\x03\x05\x73", 5);   /* an application data record of 1395 bytes */
	memset(data.b + data.len, 0x5a, 1395);
	data.len += 1395;
	ck_assert_int_eq(fwrite(gh, sizeof(gh), 1, f), 1);
	/* Flows start in groups of 64 and their packets interleave within a group. */
	for (uint32_t g = 0; g < n_flows; g += 64) {
		for (int step = 0; step < 12; step++) {
			for (uint32_t id = g; id < g + 64 && id < n_flows; id++) {
				bool tls = id % 8 != 7;
				uint32_t cs = 1000, ss = 9000;
				struct pkt p = {.len = 0};
				int dir = 0;

				if (bad_at != 0 && bad_off == 0 && off >= bad_at)
					bad_off = off;
				switch (step) {
				case 0: p = eth(tcp(0, 0, cs - 1, 0x02, NULL, 0)); break;
				case 1: p = eth(tcp(0, 1, ss - 1, 0x12, NULL, 0)); dir = 1; break;
				case 2:
					p = tls ? eth(tcp(0, 0, cs, 0x18, ch.b, half)) : eth(tcp(0, 0, cs, 0x18, r1, strlen(r1)));
					break;
				case 3:
					p = tls ? eth(tcp(0, 0, cs + half, 0x18, ch.b + half, ch.len - half))
						: eth(tcp(0, 0, cs + (uint32_t)strlen(r1), 0x18, r2, strlen(r2)));
					break;
				case 4:
					p = tls ? eth(tcp(0, 1, ss, 0x18, sh.b, sh.len)) : eth(tcp(0, 1, ss, 0x18, resp, strlen(resp)));
					dir = 1;
					break;
				default:
					if (!tls)
						continue;
					/* application data, alternating directions, 1400 bytes each */
					dir = step % 2;
					p = eth(tcp(0, dir,
						    dir == 0 ? cs + (uint32_t)ch.len + (uint32_t)(step - 5) / 2 * 1400
							     : ss + (uint32_t)sh.len + (uint32_t)(step - 6) / 2 * 1400,
						    0x18, data.b, data.len));
					break;
				}
				p = flowify(p, dir, id);
				rec_write(f, rec++, p.b, (uint32_t)p.len, &off);
			}
			if (g % 1024 == 0 && step == 6)
				rec_write(f, rec++, jumbo, (uint32_t)(60000 + g % 190000), &off);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	if (bad_off != 0) {
		int fd = open(path, O_WRONLY);
		uint32_t bad = 300000;

		ck_assert_int_eq(pwrite(fd, &bad, 4, (off_t)bad_off + 8), 4);
		close(fd);
	}
	if (cut > 0)
		ck_assert_int_eq(truncate(path, (off_t)(off - cut)), 0);
	return bad_off;
}

/* Reads path in one thread (threads 1) or as the engine chooses (0), with the canary. */
static struct mc_wire *
read_with(const char *path, int threads, char *err, int *rc)
{
	struct mc_wire *w = engine(CANARY);

	if (threads == 1)
		setenv("MESHCHECK_WIRE_THREADS", "1", 1);
	else
		unsetenv("MESHCHECK_WIRE_THREADS");
	*rc = mc_wire_read_file(w, path, NULL, err, MC_ERRLEN);
	unsetenv("MESHCHECK_WIRE_THREADS");
	return w;
}

static char *
json_of(struct mc_wire *w)
{
	struct mc_wire_expect e = {.all_tls = true, .min_flows = 1};
	struct mc_wire_verdict v;
	cJSON *j;
	char *s;

	mc_wire_judge(w, &e, &v);
	j = mc_wire_json(w, &v);
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

/*
 * A file of at least 8 MB on a machine with two CPUs is read by two
 * threads (one reads the file, one decodes). Whole, cut inside a record,
 * and with an impossible record length deep inside, it must give exactly
 * what one thread gives: the same flows, classes, canary hits and
 * statistics, the same truncation, the same error at the same byte.
 */
START_TEST(two_thread_reader_matches_one_thread)
{
	char *dir = t_tmpdir(), *whole = mc_xasprintf("%s/whole.pcap", dir), *cut = mc_xasprintf("%s/cut.pcap", dir);
	char *bad = mc_xasprintf("%s/bad.pcap", dir), e1[MC_ERRLEN] = "", e2[MC_ERRLEN] = "", want[64];
	bool two = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	const uint32_t n_flows = 2000;
	struct mc_wire_stats st1, st2;
	uint64_t bad_off;
	struct stat sb;
	int rc1, rc2;

	write_big(whole, n_flows, 0, 0);
	ck_assert_int_eq(stat(whole, &sb), 0);
	ck_assert_msg(sb.st_size >= (8 << 20), "the test file is only %lld bytes", (long long)sb.st_size);
	for (int v = 0; v < 2; v++) {
		const char *path = v == 0 ? whole : cut;
		struct mc_wire *w1, *w2;
		char *j1, *j2;

		if (v == 1)
			write_big(cut, n_flows, 0, 7);
		w1 = read_with(path, 1, e1, &rc1);
		w2 = read_with(path, 0, e2, &rc2);
		ck_assert_msg(rc1 == 0 && rc2 == 0, "%s / %s", e1, e2);
		mc_wire_stats_get(w1, &st1);
		mc_wire_stats_get(w2, &st2);
		ck_assert_int_eq(st1.read_threads, 1);
		ck_assert_int_eq(st2.read_threads, two ? 2 : 1);
		ck_assert_uint_eq(st1.flows, n_flows);
		ck_assert_uint_eq(st2.flows, n_flows);
		ck_assert(st1.truncated_file == (v == 1) && st2.truncated_file == (v == 1));
		ck_assert_uint_eq(st1.packets, st2.packets);
		ck_assert_uint_eq(st1.bytes, st2.bytes);
		ck_assert_uint_eq(st1.non_tcp, st2.non_tcp);
		ck_assert_uint_gt(st2.non_tcp, 0);
		j1 = json_of(w1);
		j2 = json_of(w2);
		ck_assert_msg(strcmp(j1, j2) == 0, "%s: the two readers differ", path);
		/* Every eighth flow is plaintext with the canary split across two segments. */
		ck_assert_msg(strstr(j2, "\"canary_hits\":1") != NULL, "no canary found");
		ck_assert_msg(strstr(j2, "\"tls\"") != NULL && strstr(j2, "\"http1\"") != NULL, "classes missing");
		free(j1);
		free(j2);
		mc_wire_free(w1);
		mc_wire_free(w2);
	}
	bad_off = write_big(bad, n_flows, 9u << 20, 0);
	ck_assert_uint_gt(bad_off, 0);
	mc_wire_free(read_with(bad, 1, e1, &rc1));
	mc_wire_free(read_with(bad, 0, e2, &rc2));
	ck_assert_int_lt(rc1, 0);
	ck_assert_int_lt(rc2, 0);
	snprintf(want, sizeof(want), "the record at byte %llu ", (unsigned long long)bad_off);
	ck_assert_msg(strstr(e1, want) != NULL && strstr(e1, "bad.pcap") != NULL, "%s", e1);
	ck_assert_str_eq(e1, e2);
	mc_rm_rf(dir);
	free(whole);
	free(cut);
	free(bad);
	free(dir);
}
END_TEST

/* `capture --seconds` ends on time even when no packet arrives, and an empty capture fails the verdict. */
START_TEST(capture_stops_on_time)
{
	char *a[] = {(char *)bin, "capture", "-i", "lo", "-f", "tcp port 9 and host 127.254.254.254",
		     "--seconds", "1", "--expect", "tls", NULL};
	char *out = NULL;
	double t0;
	int rc;

	if (geteuid() != 0) {
		printf("SKIP: capture_stops_on_time needs root to capture\n");
		return;
	}
	t0 = mc_monotonic();
	rc = t_run(a, &out);
	ck_assert_msg(mc_monotonic() - t0 < 4.0, "capture took %.1fs", mc_monotonic() - t0);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "no traffic seen") != NULL, "%s", out);
	free(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("wire-edges");
	TCase *tc = tcase_create("edges");

	bin = getenv("MESHCHECK");
	/* The command-line cases run the binary many times, slowly under sanitizers. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tls13_hello_split_over_three_segments);
	tcase_add_test(tc, tls12_alpn_selected_and_ipv6);
	tcase_add_test(tc, canary_split_across_segments);
	tcase_add_test(tc, streamed_json_is_cjson_text);
	tcase_add_test(tc, out_of_order_and_retransmitted);
	tcase_add_test(tc, snaplen_96);
	tcase_add_test(tc, noise_is_not_judged_and_empty_fails);
	tcase_add_test(tc, every_link_type);
	tcase_add_test(tc, two_thread_reader_matches_one_thread);
	if (bin != NULL) {
		tcase_add_test(tc, pcap_command_verdicts_and_bad_input);
		tcase_add_test(tc, classic_reader_matches_libpcap);
		tcase_add_test(tc, capture_stops_on_time);
	}
	suite_add_tcase(s, tc);
	return t_main(s);
}
