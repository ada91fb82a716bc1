/*
 * Tests of the runner with the local target: negative controls are inverted
 * both ways, a target that cannot be set up turns its cases into errors
 * naming why, and a stop request aborts the run. Chains come from PEM files
 * made with the PKI engine, so no server is needed except where said.
 * Retries run cases through a scripted check kind whose outcome changes
 * from one attempt to the next.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "check_kind.h"

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

/*
 * A check kind for the retry tests. The case's name scripts its outcomes,
 * one per attempt: "fail,pass" fails the first time and passes the second
 * (the last word repeats). Each attempt writes its number to the evidence
 * file attempt.txt, and adds one measurement, expected and seen text.
 */
#define SCRIPTED_MAX 16
static int scripted_calls[SCRIPTED_MAX];
static volatile sig_atomic_t *scripted_stop; /* set on the first call when not NULL */

static void
scripted_run(const struct mc_check_ctx *ctx, struct mc_case *c)
{
	size_t idx = ctx->def->index;
	int n = scripted_calls[idx]++;
	char *script = mc_xstrdup(ctx->def->name), *save = NULL, *word = NULL, *full = NULL, *rel, *num;
	char err[MC_ERRLEN];

	ck_assert_uint_lt(idx, SCRIPTED_MAX);
	for (char *w = strtok_r(script, ",", &save); w != NULL && n >= 0; w = strtok_r(NULL, ",", &save), n--)
		word = w;
	num = mc_xasprintf("%d", scripted_calls[idx]);
	rel = mc_check_evidence_path(ctx, "attempt.txt", &full);
	ck_assert_int_eq(mc_file_write(full, num, strlen(num), 0644, err, sizeof(err)), 0);
	mc_case_add_evidence(c, "attempt number", rel);
	mc_case_add_measure(c, "attempt", scripted_calls[idx], NULL);
	mc_case_set_expected(c, "a pass");
	mc_case_set_seen(c, word);
	if (strcmp(word, "pass") == 0)
		mc_case_set(c, MC_RESULT_PASS, NULL);
	else if (strcmp(word, "fail") == 0)
		mc_case_set(c, MC_RESULT_FAIL, "scripted failure %s", num);
	else if (strcmp(word, "skip") == 0)
		mc_case_set(c, MC_RESULT_SKIP, "scripted skip %s", num);
	else
		mc_case_set(c, MC_RESULT_ERROR, "scripted error %s", num);
	if (scripted_stop != NULL)
		*scripted_stop = SIGINT;
	free(script);
	free(rel);
	free(full);
	free(num);
}

static const struct mc_check_kind scripted_kind = {
	.name = "scripted", .summary = "outcomes from the case name", .run = scripted_run,
};

/*
 * A suite of the named cases (a name starting with "!" is a negative
 * control), all run by the scripted kind. Returns the parsed suite; *text
 * keeps its JSON (caller frees both).
 */
static struct mc_suite_def *
scripted_suite(const char *const *names, size_t n, char **text)
{
	struct mc_buf b;
	struct mc_suite_def *def;

	mc_buf_init(&b, SIZE_MAX);
	mc_buf_puts(&b, "{\"name\": \"r\", \"mesh\": {\"key\": \"ec256\"}, \"cases\": [");
	for (size_t i = 0; i < n; i++)
		mc_buf_printf(&b, "%s{\"name\": \"%s\", \"check\": \"chain\", \"expect_failure\": %s, "
				  "\"input\": {\"chain_file\": \"unused.pem\"}}",
			      i > 0 ? ", " : "", names[i][0] == '!' ? names[i] + 1 : names[i],
			      names[i][0] == '!' ? "true" : "false");
	mc_buf_puts(&b, "]}");
	*text = mc_buf_steal(&b);
	def = parse(*text);
	for (size_t i = 0; i < def->n_cases; i++)
		def->cases[i].kind = &scripted_kind;
	memset(scripted_calls, 0, sizeof(scripted_calls));
	scripted_stop = NULL;
	return def;
}

/* Runs def with retries, progress lines into *progress_out (caller frees). */
static struct mc_run *
run_retries(struct mc_suite_def *def, const char *out_dir, int retries, volatile sig_atomic_t *stop,
	    char **progress_out)
{
	size_t len = 0;
	FILE *f = open_memstream(progress_out, &len);
	struct mc_runner_options o = {.out_dir = out_dir, .retries = retries, .progress = f, .stop = stop};
	struct mc_run *run = mc_run_new("test", "local");
	char err[MC_ERRLEN];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(mc_runner_run(run, &def, 1, &o, err, sizeof(err)), 0);
	fclose(f);
	return run;
}

/* The number of attempts of c that failed or errored. */
static size_t
failed_attempts(const struct mc_case *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_attempts; i++)
		n += c->attempts[i].status == MC_RESULT_FAIL || c->attempts[i].status == MC_RESULT_ERROR;
	return n;
}

START_TEST(retry_fail_then_pass_is_flaky)
{
	static const char *const names[] = {"fail,pass", "fail", "pass", "error,pass"};
	char *dir = t_tmpdir(), *text, *progress, *p, *data;
	struct mc_suite_def *def = scripted_suite(names, 4, &text);
	struct mc_run *run = run_retries(def, dir, 2, NULL, &progress);
	struct mc_suite *s = run->suites[0];
	struct mc_case *c;
	struct mc_counts k;

	ck_assert_uint_eq(s->n_cases, 4);
	/* Failed once, then passed: PASS and flaky, with the failed attempt kept. */
	c = s->cases[0];
	ck_assert_int_eq(scripted_calls[0], 2);
	ck_assert_int_eq(c->status, MC_RESULT_PASS);
	ck_assert(c->flaky);
	ck_assert_ptr_null(c->reason);
	ck_assert_uint_eq(c->n_attempts, 2);
	ck_assert_uint_eq(failed_attempts(c), 1);
	ck_assert_int_eq(c->attempts[0].status, MC_RESULT_FAIL);
	ck_assert_str_eq(c->attempts[0].reason, "scripted failure 1");
	ck_assert_int_eq(c->attempts[1].status, MC_RESULT_PASS);
	ck_assert_ptr_null(c->attempts[1].reason);
	ck_assert(c->attempts[0].duration >= 0 && c->attempts[1].duration >= 0);
	ck_assert_double_eq_tol(c->duration, c->attempts[0].duration + c->attempts[1].duration, 1e-9);
	/* What the case shows is the passing attempt's, not both stacked. */
	ck_assert_uint_eq(c->n_measures, 1);
	ck_assert_double_eq(c->measures[0].value, 2);
	ck_assert_str_eq(c->seen, "pass");
	/* The failed attempt's evidence is kept beside the case's, labelled. */
	ck_assert_uint_eq(c->n_evidence, 2);
	ck_assert_str_eq(c->evidence[0].label, "attempt number");
	ck_assert_str_eq(c->evidence[0].path, "evidence/r/fail-pass/attempt.txt");
	ck_assert_str_eq(c->evidence[1].label, "attempt 1: attempt number");
	ck_assert_str_eq(c->evidence[1].path, "evidence/r/fail-pass@attempt-1/attempt.txt");
	p = mc_xasprintf("%s/%s", dir, c->evidence[0].path);
	data = t_read(p);
	ck_assert_str_eq(data, "2");
	free(data);
	free(p);
	p = mc_xasprintf("%s/%s", dir, c->evidence[1].path);
	data = t_read(p);
	ck_assert_str_eq(data, "1");
	free(data);
	free(p);

	/* Never passes: FAIL, all three attempts kept, not flaky. */
	c = s->cases[1];
	ck_assert_int_eq(scripted_calls[1], 3);
	ck_assert_int_eq(c->status, MC_RESULT_FAIL);
	ck_assert(!c->flaky);
	ck_assert_uint_eq(c->n_attempts, 3);
	ck_assert_uint_eq(failed_attempts(c), 3);
	ck_assert_str_eq(c->reason, "scripted failure 3");
	for (size_t i = 0; i < 3; i++) {
		char want[32];

		snprintf(want, sizeof(want), "scripted failure %zu", i + 1);
		ck_assert_int_eq(c->attempts[i].status, MC_RESULT_FAIL);
		ck_assert_str_eq(c->attempts[i].reason, want);
	}
	ck_assert_uint_eq(c->n_evidence, 3);
	ck_assert_str_eq(c->evidence[2].path, "evidence/r/fail@attempt-2/attempt.txt");

	/* A plain pass runs once and keeps no attempts. */
	c = s->cases[2];
	ck_assert_int_eq(scripted_calls[2], 1);
	ck_assert_int_eq(c->status, MC_RESULT_PASS);
	ck_assert(!c->flaky);
	ck_assert_uint_eq(c->n_attempts, 0);

	/* An error is retried like a failure. */
	c = s->cases[3];
	ck_assert_int_eq(c->status, MC_RESULT_PASS);
	ck_assert(c->flaky);
	ck_assert_int_eq(c->attempts[0].status, MC_RESULT_ERROR);

	k = mc_run_counts(run);
	ck_assert_uint_eq(k.total, 4);
	ck_assert_uint_eq(k.passed, 3);
	ck_assert_uint_eq(k.flaky, 2);
	ck_assert_uint_eq(k.failed, 1);
	ck_assert_int_eq(mc_run_exit_code(run), 1);

	/* Progress: a RETRY line per retry, FLAKY for the flaky cases, the attempts for the failure. */
	ck_assert_msg(strstr(progress, "RETRY r/fail,pass (") != NULL &&
		      strstr(progress, "): attempt 1 of 3: fail: scripted failure 1\n") != NULL, "%s", progress);
	ck_assert_msg(strstr(progress, "\nFLAKY r/fail,pass (") != NULL &&
		      strstr(progress, "): passed on attempt 2 after 1 failed (fail: scripted failure 1)\n") != NULL,
		      "%s", progress);
	ck_assert_msg(strstr(progress, "\nFAIL  r/fail (") != NULL &&
		      strstr(progress, "): scripted failure 3 (no pass in 3 attempts)\n") != NULL, "%s", progress);
	ck_assert_msg(strstr(progress, "\nPASS  r/pass (") != NULL, "%s", progress);
	ck_assert_msg(strstr(progress, "\nFLAKY r/error,pass (") != NULL, "%s", progress);
	ck_assert_ptr_null(strstr(progress, "RETRY r/pass "));
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
	free(text);
	free(progress);
}
END_TEST

START_TEST(retry_never_for_skip_or_without_retries)
{
	static const char *const names[] = {"skip,pass", "fail,skip", "error,error,pass"};
	char *dir = t_tmpdir(), *text, *progress;
	struct mc_suite_def *def = scripted_suite(names, 3, &text);
	struct mc_run *run = run_retries(def, dir, 1, NULL, &progress);
	struct mc_suite *s = run->suites[0];

	/* SKIP is never retried. */
	ck_assert_int_eq(scripted_calls[0], 1);
	ck_assert_int_eq(s->cases[0]->status, MC_RESULT_SKIP);
	ck_assert_uint_eq(s->cases[0]->n_attempts, 0);
	/* A retry that is skipped does not hide the failure before it. */
	ck_assert_int_eq(scripted_calls[1], 2);
	ck_assert_int_eq(s->cases[1]->status, MC_RESULT_FAIL);
	ck_assert(!s->cases[1]->flaky);
	ck_assert_str_eq(s->cases[1]->reason, "scripted failure 1 (attempt 2 was skipped: scripted skip 2)");
	ck_assert_uint_eq(s->cases[1]->n_attempts, 2);
	ck_assert_int_eq(s->cases[1]->attempts[1].status, MC_RESULT_SKIP);
	/* retries=1: two attempts at most. */
	ck_assert_int_eq(scripted_calls[2], 2);
	ck_assert_int_eq(s->cases[2]->status, MC_RESULT_ERROR);
	ck_assert_uint_eq(s->cases[2]->n_attempts, 2);
	ck_assert_int_eq(mc_run_exit_code(run), 1);
	mc_run_free(run);
	mc_suite_def_free(def);
	free(text);
	free(progress);

	/* Without retries a failing case runs once and keeps no attempts. */
	def = scripted_suite(names + 2, 1, &text);
	run = run_retries(def, dir, 0, NULL, &progress);
	ck_assert_int_eq(scripted_calls[0], 1);
	ck_assert_int_eq(run->suites[0]->cases[0]->status, MC_RESULT_ERROR);
	ck_assert_uint_eq(run->suites[0]->cases[0]->n_attempts, 0);
	ck_assert_ptr_null(strstr(progress, "RETRY"));
	ck_assert_uint_eq(mc_run_counts(run).flaky, 0);
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
	free(text);
	free(progress);
}
END_TEST

START_TEST(retry_judges_negative_controls_after_inversion)
{
	/* A control passes when its check fails. */
	static const char *const names[] = {"!fail", "!pass,fail", "!pass", "!error,fail"};
	char *dir = t_tmpdir(), *text, *progress;
	struct mc_suite_def *def = scripted_suite(names, 4, &text);
	struct mc_run *run = run_retries(def, dir, 2, NULL, &progress);
	struct mc_suite *s = run->suites[0];

	/* The check failed at once: the control passed, nothing to retry. */
	ck_assert_int_eq(scripted_calls[0], 1);
	ck_assert_int_eq(s->cases[0]->status, MC_RESULT_PASS);
	ck_assert(!s->cases[0]->flaky);
	ck_assert_uint_eq(s->cases[0]->n_attempts, 0);
	ck_assert_ptr_nonnull(strstr(s->cases[0]->reason, "negative control failed as it must"));
	/* The check passed (the control failed), then failed: a flaky control. */
	ck_assert_int_eq(scripted_calls[1], 2);
	ck_assert_int_eq(s->cases[1]->status, MC_RESULT_PASS);
	ck_assert(s->cases[1]->flaky);
	ck_assert_int_eq(s->cases[1]->attempts[0].status, MC_RESULT_FAIL);
	ck_assert_ptr_nonnull(strstr(s->cases[1]->attempts[0].reason, "negative control passed"));
	/* The expectation is marked once, not once per attempt. */
	ck_assert_ptr_nonnull(strstr(s->cases[1]->expected, "NEGATIVE CONTROL"));
	ck_assert_ptr_null(strstr(strstr(s->cases[1]->expected, "NEGATIVE CONTROL") + 1, "NEGATIVE CONTROL"));
	/* The check always passes: the control fails every attempt. */
	ck_assert_int_eq(scripted_calls[2], 3);
	ck_assert_int_eq(s->cases[2]->status, MC_RESULT_FAIL);
	ck_assert_uint_eq(s->cases[2]->n_attempts, 3);
	/* An error stays an error after inversion, so it is retried. */
	ck_assert_int_eq(scripted_calls[3], 2);
	ck_assert_int_eq(s->cases[3]->status, MC_RESULT_PASS);
	ck_assert(s->cases[3]->flaky);
	ck_assert_int_eq(s->cases[3]->attempts[0].status, MC_RESULT_ERROR);
	ck_assert_uint_eq(mc_run_counts(run).flaky, 2);
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
	free(text);
	free(progress);
}
END_TEST

START_TEST(retry_stops_on_a_stop_request)
{
	static const char *const names[] = {"fail,pass", "pass"};
	char *dir = t_tmpdir(), *text, *progress;
	struct mc_suite_def *def = scripted_suite(names, 2, &text);
	volatile sig_atomic_t stop = 0;
	struct mc_run *run;

	scripted_stop = &stop;
	run = run_retries(def, dir, 2, &stop, &progress);
	/* The stop came during the first attempt: no retry, no further case. */
	ck_assert_int_eq(scripted_calls[0], 1);
	ck_assert_int_eq(scripted_calls[1], 0);
	ck_assert_uint_eq(run->suites[0]->n_cases, 1);
	ck_assert_int_eq(run->suites[0]->cases[0]->status, MC_RESULT_FAIL);
	ck_assert_uint_eq(run->suites[0]->cases[0]->n_attempts, 0);
	ck_assert_ptr_nonnull(run->aborted);
	ck_assert_int_eq(mc_run_exit_code(run), 2);
	scripted_stop = NULL;
	mc_run_free(run);
	mc_suite_def_free(def);
	mc_rm_rf(dir);
	free(dir);
	free(text);
	free(progress);
}
END_TEST

START_TEST(case_outcome_cleared_for_a_retry)
{
	struct mc_run *run = mc_run_new("m", "local");
	struct mc_suite *s = mc_run_add_suite(run, "s", NULL);
	struct mc_case *c = mc_suite_add_case(s, "c", "chain");
	struct mc_timeline tl = {.start_unix = 1};

	mc_case_set(c, MC_RESULT_FAIL, "bad");
	mc_case_set_expected(c, "e");
	mc_case_set_seen(c, "s");
	mc_case_add_measure(c, "m", 1, "ms");
	mc_case_add_evidence(c, "l", "p");
	mc_case_set_timeline(c, &tl);
	mc_case_add_attempt(c, MC_RESULT_FAIL, "bad", 0.5);
	c->duration = 0.5;
	mc_case_clear_outcome(c);
	ck_assert_int_eq(c->status, MC_RESULT_ERROR);
	ck_assert_str_eq(c->reason, "not run");
	ck_assert_ptr_null(c->expected);
	ck_assert_ptr_null(c->seen);
	ck_assert_uint_eq(c->n_measures, 0);
	ck_assert_uint_eq(c->n_evidence, 0);
	ck_assert_ptr_null(c->timeline);
	/* What belongs to the case as a whole stays. */
	ck_assert_str_eq(c->name, "c");
	ck_assert_uint_eq(c->n_attempts, 1);
	ck_assert_str_eq(c->attempts[0].reason, "bad");
	ck_assert_double_eq(c->duration, 0.5);
	mc_case_add_attempt(c, MC_RESULT_PASS, NULL, 0.25);
	mc_case_set(c, MC_RESULT_PASS, NULL);
	c->flaky = true;
	ck_assert_uint_eq(mc_suite_counts(s).flaky, 1);
	ck_assert_uint_eq(mc_suite_counts(s).passed, 1);
	mc_case_clear_attempts(c);
	ck_assert(!c->flaky);
	ck_assert_uint_eq(c->n_attempts, 0);
	mc_case_add_attempt(c, MC_RESULT_FAIL, "freed with the run", 1);
	mc_run_free(run);
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
	tcase_add_test(tc, retry_fail_then_pass_is_flaky);
	tcase_add_test(tc, retry_never_for_skip_or_without_retries);
	tcase_add_test(tc, retry_judges_negative_controls_after_inversion);
	tcase_add_test(tc, retry_stops_on_a_stop_request);
	tcase_add_test(tc, case_outcome_cleared_for_a_retry);
	suite_add_tcase(s, tc);
	return t_main(s);
}
