/*
 * Fuzz target: the packet decoder, flow reassembly and classification. The
 * first input byte picks a link type; the rest is a series of packets, each
 * a 2-byte big-endian length then that many bytes (the last may be cut
 * short, like a small snaplen).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <pcap/pcap.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int linktypes[] = {DLT_EN10MB, DLT_LINUX_SLL, 276, DLT_NULL, DLT_LOOP, DLT_RAW, 228, 229};
	static const char *const canaries[] = {"mccanary-0123", "secret"};
	struct mc_wire_options o = {.canaries = canaries, .n_canaries = 2, .max_payload = 4096};
	struct mc_wire_expect e = {.all_tls = true, .no_canary = true, .sni = "*.local", .alpn = "*h2*"};
	struct mc_wire_verdict v;
	struct mc_wire *w;
	size_t off = 1;
	int lt;
	char *text;
	cJSON *j;

	if (size < 1)
		return 0;
	lt = linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
	w = mc_wire_new(&o, NULL, 0);
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		size_t cap;

		off += 2;
		cap = len < size - off ? len : size - off;
		mc_wire_packet(w, lt, (double)off, data + off, (uint32_t)cap, (uint32_t)len);
		off += cap;
	}
	mc_wire_judge(w, &e, &v);
	text = mc_wire_flows_text(w);
	free(text);
	j = mc_wire_json(w, &v);
	cJSON_Delete(j);
	mc_wire_free(w);
	return 0;
}
