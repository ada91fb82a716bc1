/*
 * A main() for fuzz targets built without libFuzzer: runs the target once
 * on each file named on the command line (a corpus replay), so the targets
 * keep building and their corpora keep passing in every build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char err[MC_ERRLEN];
		char *data = NULL;
		size_t len = 0;

		if (mc_file_read(argv[i], 16 << 20, &data, &len, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)data, len);
		free(data);
	}
	printf("replayed %d input(s)\n", argc - 1);
	return 0;
}
