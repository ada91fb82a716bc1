/*
 * The table of check kinds (see check.h). One entry per kind; each kind
 * lives in its own check_<kind>.c.
 */
#include <string.h>

#include "check_kind.h"

const struct mc_check_kind *const mc_check_kinds[] = {
	&mc_check_chain,
	&mc_check_wire,
	&mc_check_reach,
	&mc_check_policy,
	&mc_check_distribution,
	&mc_check_load,
	&mc_check_continuity,
	NULL,
};

const struct mc_check_kind *
mc_check_find(const char *name)
{
	for (size_t i = 0; mc_check_kinds[i] != NULL; i++)
		if (strcmp(mc_check_kinds[i]->name, name) == 0)
			return mc_check_kinds[i];
	return NULL;
}
