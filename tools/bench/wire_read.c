/*
 * wire_read: the wire engine alone, without the command's table output.
 * Reads a capture into a fresh engine with mc_wire_read_file and prints
 * "flows=N packets=N bytes=N threads=N", so the benchmark can tell the engine's own
 * time and memory per flow from the cost of printing the per-flow table.
 * Exit 0, or 2 with the engine's message.
 *
 *   wire_read FILE
 */
#include <stdio.h>

#include "wire.h"

int
main(int argc, char **argv)
{
	char err[1024];
	struct mc_wire_stats st;
	struct mc_wire *w;

	if (argc != 2) {
		fprintf(stderr, "usage: wire_read FILE\n");
		return 2;
	}
	w = mc_wire_new(NULL, err, sizeof(err));
	if (w == NULL || mc_wire_read_file(w, argv[1], NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "wire_read: %s\n", err);
		mc_wire_free(w);
		return 2;
	}
	mc_wire_stats_get(w, &st);
	printf("flows=%zu packets=%llu bytes=%llu threads=%d\n", st.flows, (unsigned long long)st.packets,
	       (unsigned long long)st.bytes, st.read_threads);
	mc_wire_free(w);
	return 0;
}
