/*
 * The runner (see runner.h).
 */
#include "runner.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_kind.h"
#include "util.h"

int
mc_runner_check_regex(const char *regex, char *err, size_t errlen)
{
	regex_t re;
	int rc;

	if (regex == NULL)
		return 0;
	rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[256];

		regerror(rc, &re, msg, sizeof(msg));
		return mc_err(err, errlen, EINVAL, "--case \"%s\": %s", regex, msg);
	}
	regfree(&re);
	return 0;
}

bool
mc_runner_selected(const char *regex, const char *suite, const char *name)
{
	regex_t re;
	char *full;
	bool hit;

	if (regex == NULL)
		return true;
	if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	full = mc_xasprintf("%s/%s", suite, name);
	hit = regexec(&re, full, 0, NULL, 0) == 0;
	free(full);
	regfree(&re);
	return hit;
}

/* A file-name-safe form of a name: [A-Za-z0-9._-], others become '-'. */
static char *
slug(const char *s)
{
	char *d = mc_xstrdup(s);

	for (char *p = d; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			*p = '-';
	if (d[0] == '.' || d[0] == '\0') {
		char *e = mc_xasprintf("_%s", d);

		free(d);
		d = e;
	}
	return d;
}

char *
mc_check_evidence_path(const struct mc_check_ctx *ctx, const char *name, char **full)
{
	char *dir = mc_xasprintf("%s/%s", ctx->out_dir, ctx->evidence_dir);
	char *sname = slug(name);
	char *rel = mc_xasprintf("%s/%s", ctx->evidence_dir, sname);

	(void)mc_mkdir_p(dir, 0755, NULL, 0);
	if (full != NULL)
		*full = mc_xasprintf("%s/%s", ctx->out_dir, rel);
	free(dir);
	free(sname);
	return rel;
}

/*
 * Turns the outcome of a negative control around: the check failing is what
 * the case wants. An error stays an error (nothing was shown either way), a
 * skip stays a skip.
 */
static void
invert(struct mc_case *c)
{
	char *reason = c->reason != NULL ? mc_xstrdup(c->reason) : NULL;
	char *expected = mc_xasprintf("NEGATIVE CONTROL: the check below must FAIL.\n%s",
				      c->expected != NULL ? c->expected : "");

	mc_case_set_expected(c, expected);
	if (c->status == MC_RESULT_FAIL)
		mc_case_set(c, MC_RESULT_PASS, "negative control failed as it must: %s", reason);
	else if (c->status == MC_RESULT_PASS)
		mc_case_set(c, MC_RESULT_FAIL,
			    "negative control passed, so the check cannot tell a bad case from a good one");
	free(reason);
	free(expected);
}

static void
progress(const struct mc_runner_options *o, const struct mc_suite *s, const struct mc_case *c)
{
	static const char *const colors[] = {"\033[32m", "\033[31m", "\033[33m", "\033[35m"};
	static const char *const labels[] = {"PASS ", "FAIL ", "SKIP ", "ERROR"};

	if (o->progress == NULL)
		return;
	fprintf(o->progress, "%s%s%s %s/%s (%.2fs)", o->color ? colors[c->status] : "", labels[c->status],
		o->color ? "\033[0m" : "", s->name, c->name, c->duration);
	if (c->status != MC_RESULT_PASS && c->reason != NULL)
		fprintf(o->progress, ": %s", c->reason);
	fputc('\n', o->progress);
	fflush(o->progress);
}

static bool
stopped(const struct mc_runner_options *o)
{
	return o->stop != NULL && *o->stop != 0;
}

/* Runs one suite's selected cases; returns false when a stop was requested. */
static bool
run_suite(struct mc_run *run, const struct mc_suite_def *def, const struct mc_runner_options *o)
{
	const struct mc_target_ops *ops = o->target != NULL ? o->target : &mc_target_local;
	struct mc_target *t = NULL;
	struct mc_suite *s;
	char err[MC_ERRLEN] = "";
	char *suite_slug = slug(def->name);
	double t0 = mc_monotonic();
	size_t selected = 0;
	int rc;
	bool go_on = true;

	for (size_t i = 0; i < def->n_cases; i++)
		selected += mc_runner_selected(o->case_regex, def->name, def->cases[i].name);
	if (selected == 0) {
		free(suite_slug);
		return true;
	}
	s = mc_run_add_suite(run, def->name, def->file);
	if (def->description != NULL)
		mc_suite_set_prop(s, "description", def->description);

	rc = mc_target_new(ops, run->id, &t, err, sizeof(err));
	if (rc == 0) {
		t->keep = o->keep;
		if (o->progress != NULL) {
			fprintf(o->progress, "setting up %s target for suite %s\n", ops->name, def->name);
			fflush(o->progress);
		}
		rc = ops->up(t, def, err, sizeof(err));
		if (rc == 0 && o->progress != NULL) {
			fprintf(o->progress, "%s target ready in %.1fs\n", ops->name, mc_monotonic() - t0);
			fflush(o->progress);
		}
	}
	if (rc == 0 && stopped(o)) {
		rc = -EINTR;
		snprintf(err, sizeof(err), "interrupted");
	}
	for (size_t i = 0; i < def->n_cases; i++) {
		const struct mc_case_def *cd = &def->cases[i];
		struct mc_check_ctx ctx;
		struct mc_case *c;
		char *case_slug;
		char cerr[MC_ERRLEN];
		double c0;

		if (!mc_runner_selected(o->case_regex, def->name, cd->name))
			continue;
		if (stopped(o)) {
			go_on = false;
			break;
		}
		c = mc_suite_add_case(s, cd->name, cd->kind->name);
		if (rc == -ENOTSUP) {
			/* The suite cannot apply to this target (a local-only suite on kube, say). */
			mc_case_set(c, MC_RESULT_SKIP, "not on the %s target: %s", ops->name, err);
			progress(o, s, c);
			continue;
		}
		if (rc < 0) {
			mc_case_set(c, MC_RESULT_ERROR, "not run: %s target setup failed: %s", ops->name, err);
			progress(o, s, c);
			continue;
		}
		case_slug = slug(cd->name);
		ctx.suite = def;
		ctx.def = cd;
		ctx.target = t;
		ctx.out_dir = o->out_dir;
		ctx.evidence_dir = NULL;
		{
			char *ed = mc_xasprintf("evidence/%s/%s", suite_slug, case_slug);

			ctx.evidence_dir = ed;
			c0 = mc_monotonic();
			if (ops->case_begin != NULL && ops->case_begin(t, cd, cerr, sizeof(cerr)) < 0)
				mc_case_set(c, MC_RESULT_ERROR, "mesh config for the case: %s", cerr);
			else
				cd->kind->run(&ctx, c);
			if (ops->case_end != NULL)
				ops->case_end(t, cd);
			c->duration = mc_monotonic() - c0;
			if (cd->expect_failure)
				invert(c);
			free(ed);
		}
		free(case_slug);
		progress(o, s, c);
	}
	/* The run directory goes with the target; its logs stay beside the reports. */
	if (t != NULL && ops->logs != NULL && rc == 0) {
		char *rel = mc_xasprintf("evidence/%s/logs", suite_slug);
		char *dir = mc_xasprintf("%s/%s", o->out_dir, rel);

		if (mc_mkdir_p(dir, 0755, NULL, 0) == 0) {
			ops->logs(t, dir);
			mc_suite_set_prop(s, "logs", rel);
		}
		free(rel);
		free(dir);
	}
	mc_target_free(t);
	s->duration = mc_monotonic() - t0;
	free(suite_slug);
	return go_on && !stopped(o);
}

int
mc_runner_run(struct mc_run *run, struct mc_suite_def *const *suites, size_t n_suites,
	      const struct mc_runner_options *opts, char *err, size_t errlen)
{
	int rc;

	if ((rc = mc_runner_check_regex(opts->case_regex, err, errlen)) < 0) {
		mc_run_abort(run, "%s", err);
		return rc;
	}
	for (size_t i = 0; i < n_suites; i++) {
		if (!run_suite(run, suites[i], opts)) {
			mc_run_abort(run, "run interrupted by a signal; cases after the last one listed were not run");
			break;
		}
	}
	run->end = mc_now();
	return 0;
}
