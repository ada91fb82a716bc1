/*
 * Fuzz target: reading a capture file. The input is the whole file; it is
 * handed to the engine through a memory-backed file, so classic pcap goes
 * through meshcheck's own record reader and anything else through libpcap.
 * Odd-sized inputs are read by the two-thread reader, even-sized by one
 * thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const canaries[] = {"mccanary-0123"};
	struct mc_wire_options o = {.canaries = canaries, .n_canaries = 1, .max_payload = 4096};
	struct mc_wire_expect e = {.all_tls = true, .no_canary = true};
	struct mc_wire_verdict v;
	struct mc_wire *w;
	char path[64], err[256];
	int fd = memfd_create("fuzz-pcap", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	setenv("MESHCHECK_WIRE_THREADS", size % 2 == 1 ? "2" : "1", 1);
	w = mc_wire_new(&o, NULL, 0);
	if (mc_wire_read_file(w, path, (size % 3 == 0) ? "tcp" : NULL, err, sizeof(err)) == 0) {
		mc_wire_judge(w, &e, &v);
		free(mc_wire_flows_text(w));
	}
	mc_wire_free(w);
	close(fd);
	return 0;
}
