/*
 * Fuzz target: the PEM chain parser and the certificate facts reader.
 */
#include <stddef.h>
#include <stdint.h>

#include "pki.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_chain *c = NULL;
	char err[MC_ERRLEN];

	if (mc_chain_parse_pem((const char *)data, size, "fuzz.pem", &c, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < mc_chain_count(c); i++) {
			struct mc_cert_info ci;

			if (mc_cert_info_get(c, i, &ci, err, sizeof(err)) == 0)
				mc_cert_info_clear(&ci);
		}
		mc_chain_free(c);
	}
	return 0;
}
