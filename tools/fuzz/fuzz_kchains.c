/*
 * Fuzz target: the readers of a workload's certificates on the kube target
 * (harness/kube/kchains.c): `istioctl proxy-config secret -o json` (JSON,
 * base64 PEM) when the first byte is even, Envoy's /certs JSON otherwise.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kchains.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		char *chain = NULL, *root = NULL;

		(void)mc_kube_chain_from_istioctl((const char *)data + 1, size - 1, &chain, &root, err, sizeof(err));
		free(chain);
		free(root);
	} else {
		struct mc_envoy_certs c = {0};

		(void)mc_kube_certs_from_envoy((const char *)data + 1, size - 1, &c, err, sizeof(err));
		mc_envoy_certs_clear(&c);
	}
	return 0;
}
