/*
 * Fuzz target: the suite parser (JSON syntax and every check kind's
 * validator). Any input must give either a suite or an error message.
 */
#include <stddef.h>
#include <stdint.h>

#include "suite.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_suite_def *def = NULL;
	char err[MC_ERRLEN];

	if (mc_suite_parse((const char *)data, size, "fuzz.json", &def, err, sizeof(err)) == 0)
		mc_suite_def_free(def);
	return 0;
}
