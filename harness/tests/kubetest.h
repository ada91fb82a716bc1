/*
 * What the kube tests share: the fake kubectl and istioctl
 * (harness/tests/kube/fake-kubectl) put in place of the real tools, a
 * kubectl runner aimed at them, and the log of the commands they received.
 */
#ifndef MC_KUBETEST_H
#define MC_KUBETEST_H

#include <stdlib.h>

#include "kubectl.h"
#include "testutil.h"

#ifndef KUBE_TESTDIR
#define KUBE_TESTDIR "harness/tests/kube"
#endif

/* The fake tools answer from the recorded clusters and log to logpath. */
static inline void
kt_fake_tools(const char *logpath)
{
	setenv("MC_KUBECTL", KUBE_TESTDIR "/fake-kubectl", 1);
	setenv("MC_ISTIOCTL", KUBE_TESTDIR "/fake-istioctl", 1);
	setenv("FAKE_KUBE_LOG", logpath, 1);
	unsetenv("FAKE_KUBE_NO_FILTER");
}

/* A kubectl runner for the fake tools, with a deadline tests can afford. */
static inline void
kt_kube(struct mc_kube *k)
{
	char err[MC_ERRLEN];

	ck_assert_msg(mc_kube_init(k, NULL, err, sizeof(err)) == 0, "%s", err);
	k->timeout_ms = 20000;
}

/* The commands the fake tools received, one per line ("" when none). */
static inline char *
kt_logged(const char *logpath)
{
	char *data = NULL;
	char err[MC_ERRLEN];

	if (mc_file_read(logpath, 1 << 20, &data, NULL, err, sizeof(err)) != 0)
		return mc_xstrdup("");
	return data;
}

#endif
