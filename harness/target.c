/*
 * Target registry and life cycle (see target.h).
 */
#include "target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

const struct mc_target_ops *const mc_targets[] = {
	&mc_target_local,
	&mc_target_kube,
	NULL,
};

/* Live targets, so that an interrupted run can tear all of them down. */
#define MAX_LIVE 8
static struct mc_target *live[MAX_LIVE];

const struct mc_target_ops *
mc_target_find(const char *name)
{
	for (size_t i = 0; mc_targets[i] != NULL; i++)
		if (strcmp(mc_targets[i]->name, name) == 0)
			return mc_targets[i];
	return NULL;
}

int
mc_target_new(const struct mc_target_ops *ops, const char *run_id, struct mc_target **out,
	      char *err, size_t errlen)
{
	const char *base = getenv("TMPDIR");
	struct mc_target *t;
	int rc;

	*out = NULL;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	t = mc_xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->run_id = mc_xstrdup(run_id);
	t->run_dir = mc_xasprintf("%s/meshcheck-%s", base, run_id);
	/* mkdir (not mkdir -p) for the last level: an existing directory means a collision. */
	if (mkdir(t->run_dir, 0700) < 0) {
		rc = mc_err(err, errlen, errno, "%s: cannot create run directory: %s", t->run_dir, strerror(errno));
		free(t->run_dir);
		t->run_dir = NULL;
		mc_target_free(t);
		return rc;
	}
	if (ops->init != NULL && (rc = ops->init(t, err, errlen)) < 0) {
		mc_target_free(t);
		return rc;
	}
	for (size_t i = 0; i < MAX_LIVE; i++) {
		if (live[i] == NULL) {
			live[i] = t;
			break;
		}
	}
	*out = t;
	return 0;
}

void
mc_target_free(struct mc_target *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < MAX_LIVE; i++)
		if (live[i] == t)
			live[i] = NULL;
	if (t->priv != NULL && t->ops->down != NULL)
		t->ops->down(t);
	if (t->ops->free_priv != NULL)
		t->ops->free_priv(t);
	if (t->run_dir != NULL && !t->keep)
		mc_rm_rf(t->run_dir);
	free(t->run_dir);
	free(t->run_id);
	free(t);
}

void
mc_target_down_all(void)
{
	for (size_t i = 0; i < MAX_LIVE; i++)
		if (live[i] != NULL)
			mc_target_free(live[i]);
}
