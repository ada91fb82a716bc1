/*
 * Tests of the runner with the local target: negative controls are inverted
 * both ways, a target that cannot be set up turns its cases into errors
 * naming why, and a stop request aborts the run. Chains come from PEM files
 * made with the PKI engine, so no server is needed except where said.
 */
#include <errno.h>
#include <signal.h>

#include "pki.h"
#include "runner.h"
#include "testutil.h"

static struct mc_suite_def *
parse(const char *text)
{
	struct mc_suite_def *def = NULL;
	char err[MC_ERRLEN];

	ck_assert_msg(mc_suite_parse(text, strlen(text), "t.json", &def, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(mc_target_local.validate(def, err, sizeof(err)), 0);
	return def;
}

/* A CA and a workload chain in dir; returns the chain's path. */
static char *
make_chain(const char *dir)
{
	static const char *const clusters[] = {"c1"};
	struct mc_ca_options ca = {.key = MC_KEY_EC256};
	struct mc_issue_options io = {.spiffe = "spiffe://cluster.local/ns/a/sa/b", .key = MC_KEY_EC256,
				      .key_set = true, .ttl_seconds = 3600};
	char *pki = mc_xasprintf("%s/pki", dir), *ca_dir = mc_xasprintf("%s/pki/c1", dir);
	char *wl = mc_xasprintf("%s/wl", dir);
	char err[MC_ERRLEN];

	ck_assert_msg(mc_pki_init(pki, clusters, 1, &ca, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(mc_pki_issue(ca_dir, &io, wl, err, sizeof(err)) == 0, "%s", err);
	free(pki);
	free(ca_dir);
	free(wl);
	return mc_xasprintf("%s/wl/cert-chain.pem", dir);
}

static struct mc_run *
run_suite(struct mc_suite_def *def, const char *out_dir, volatile sig_atomic_t *stop)
{
	struct mc_runner_options o = {.out_dir = out_dir, .stop = stop};
	struct mc_run *run = mc_run_new("test", "local");
	char err[MC_ERRLEN];

	ck_assert_int_eq(mc_runner_run(run, &def, 1, &o, err, sizeof(err)), 0);
	return run;
}

START_TEST(negative_control_is_inverted)
{
	char *dir = t_tmpdir();
	char *chain = make_chain(dir);
	char *text = mc_xasprintf(
		"{\"name\": \"n\", \"mesh\": {\"key\": \"ec256\"}, \"cases\": [\n"
		" {\"name\": \"good chain, wrongly a control\", \"check\": \"chain\", \"expect_failure\": true,\n"
		"  \"input\": {\"chain_file\": \"%s\", \"root\": \"%s/pki/root-cert.pem\"}},\n"
		" {\"name\": \"foreign root caught\", \"check\": \"chain\", \"expect_failure\": true,\n"
		"  \"input\": {\"chain_file\": \"%s\"}},\n"
		" {\"name\": \"plain pass\", \"check\": \"chain\",\n"
		"  \"input\": {\"chain_file\": \"%s\", \"root\": \"%s/pki/root-cert.pem\"}}]}",
		chain, dir, chain, chain, dir);
	struct mc_suite_def *def = parse(text);
	struct mc_run *run = run_suite(def, dir, NULL);
	struct mc_suite *s = run->suites[0];

	ck_assert_uint_eq(s->n_cases, 3);
	/* A control whose check passes is a failure of the suite. */
	ck_assert_int_eq(s->cases[0]->status, MC_RESULT_FAIL);
	ck_assert_ptr_nonnull(strstr(s->cases[0]->reason, "negative control passed"));
	ck_assert_ptr_nonnull(strstr(s->cases[0]->expected, "NEGATIVE CONTROL"));
	/* The chain does not verify to the (separate) mesh root: the control passes. */
	ck_assert_int_eq(s->cases[1]->status, MC_RESULT_PASS);
	ck_assert_ptr_nonnull(strstr(s->cases[1]->reason, "negative control failed as it must"));
	ck_assert_int_eq(s->cases[2]->status, MC_RESULT_PASS);
	ck_assert_int_eq(mc_run_exit_code(run), 1);
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
	free(chain);
	free(text);
}
END_TEST

START_TEST(setup_failure_makes_errors)
{
	char *dir = t_tmpdir();
	const char *text =
		"{\"name\": \"s\", \"mesh\": {\"key\": \"ec256\"},\n"
		" \"servers\": [{\"name\": \"x\", \"cluster\": \"c1\", \"namespace\": \"a\", \"service_account\": \"b\"}],\n"
		" \"cases\": [{\"name\": \"a\", \"check\": \"chain\", \"input\": {\"server\": \"x\"}},\n"
		"            {\"name\": \"b\", \"check\": \"chain\", \"input\": {\"server\": \"x\"}}]}";
	struct mc_suite_def *def = parse(text);
	struct mc_run *run;
	struct mc_suite *s;

	setenv("MC_NGINX", "/nonexistent/nginx", 1);
	run = run_suite(def, dir, NULL);
	unsetenv("MC_NGINX");
	s = run->suites[0];
	ck_assert_uint_eq(s->n_cases, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(s->cases[i]->status, MC_RESULT_ERROR);
		ck_assert_msg(strstr(s->cases[i]->reason, "target setup failed") != NULL &&
			      strstr(s->cases[i]->reason, "nginx") != NULL, "%s", s->cases[i]->reason);
	}
	ck_assert_int_eq(mc_run_exit_code(run), 1);
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(stop_request_aborts)
{
	char *dir = t_tmpdir();
	char *chain = make_chain(dir);
	char *text = mc_xasprintf("{\"name\": \"s\", \"mesh\": {\"key\": \"ec256\"}, \"cases\": [\n"
				  " {\"name\": \"a\", \"check\": \"chain\", \"input\": {\"chain_file\": \"%s\"}}]}",
				  chain);
	struct mc_suite_def *def = parse(text);
	volatile sig_atomic_t stop = SIGTERM;
	struct mc_run *run = run_suite(def, dir, &stop);

	ck_assert_ptr_nonnull(run->aborted);
	ck_assert_int_eq(mc_run_exit_code(run), 2);
	ck_assert_uint_eq(mc_run_counts(run).total, 0);
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
	free(chain);
	free(text);
}
END_TEST

START_TEST(selection_regex)
{
	char err[MC_ERRLEN];

	ck_assert(mc_runner_selected(NULL, "trust", "anything"));
	ck_assert(mc_runner_selected("^trust/c1", "trust", "c1 chain"));
	ck_assert(!mc_runner_selected("^trust/c1", "trust", "c2 chain"));
	ck_assert(mc_runner_selected("chain$", "wire", "c2 chain"));
	ck_assert_int_eq(mc_runner_check_regex("(", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--case"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("runner");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, negative_control_is_inverted);
	tcase_add_test(tc, setup_failure_makes_errors);
	tcase_add_test(tc, stop_request_aborts);
	tcase_add_test(tc, selection_regex);
	suite_add_tcase(s, tc);
	return t_main(s);
}
