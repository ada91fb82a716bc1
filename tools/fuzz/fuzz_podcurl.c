/*
 * Fuzz target: the reader of curl's output from a pod (kube target,
 * harness/kube/podcurl.c): headers, bodies and the marked result lines of
 * one to four requests. The first input byte sets the request count and
 * the body bound; the marker is fixed, and its text is seeded in the corpus.
 */
#include <stddef.h>
#include <stdint.h>

#include "podcurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char marker[] = "0123456789abcdef0123456789abcdef";
	struct mc_probe_result res[4] = {0};
	char err[256];
	size_t count;

	if (size < 1)
		return 0;
	count = 1 + (data[0] & 3);
	(void)mc_podcurl_parse((const char *)data + 1, size - 1, "curl: (7) Failed to connect", marker, count,
			       (data[0] & 4) ? 16 : 0, res, err, sizeof(err));
	for (size_t i = 0; i < count; i++)
		mc_probe_result_free(&res[i]);
	return 0;
}
