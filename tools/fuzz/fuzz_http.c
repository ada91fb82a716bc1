/*
 * Fuzz target: the load engine's HTTP/1.1 response parser (status line,
 * headers, Content-Length, chunked bodies, interim responses). The first
 * input byte sets how the rest is cut into reads, so headers and chunk
 * sizes get split at every position.
 */
#include <stddef.h>
#include <stdint.h>

#include "load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long status = 0;

	if (size < 1)
		return 0;
	(void)mc_load_parse_response(data + 1, size - 1, data[0] % 17, &status);
	return 0;
}
