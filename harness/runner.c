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

/* True for the outcomes a retry may change. */
static bool
retryable(enum mc_status s)
{
	return s == MC_RESULT_FAIL || s == MC_RESULT_ERROR;
}

static void
progress(const struct mc_runner_options *o, const struct mc_suite *s, const struct mc_case *c)
{
	static const char *const colors[] = {"\033[32m", "\033[31m", "\033[33m", "\033[35m"};
	static const char *const labels[] = {"PASS ", "FAIL ", "SKIP ", "ERROR"};
	const char *color = c->flaky ? "\033[36m" : colors[c->status];
	const char *label = c->flaky ? "FLAKY" : labels[c->status];

	if (o->progress == NULL)
		return;
	fprintf(o->progress, "%s%s%s %s/%s (%.2fs)", o->color ? color : "", label, o->color ? "\033[0m" : "",
		s->name, c->name, c->duration);
	if (c->flaky) {
		const struct mc_attempt *last_failed = NULL;
		size_t failed = 0;

		for (size_t i = 0; i + 1 < c->n_attempts; i++) {
			if (retryable(c->attempts[i].status)) {
				failed++;
				last_failed = &c->attempts[i];
			}
		}
		fprintf(o->progress, ": passed on attempt %zu after %zu failed", c->n_attempts, failed);
		if (last_failed != NULL)
			fprintf(o->progress, " (%s: %s)", mc_status_name(last_failed->status),
				last_failed->reason != NULL ? last_failed->reason : "");
	} else if (c->status != MC_RESULT_PASS && c->reason != NULL) {
		fprintf(o->progress, ": %s", c->reason);
		if (c->n_attempts > 1)
			fprintf(o->progress, " (no pass in %zu attempts)", c->n_attempts);
	}
	fputc('\n', o->progress);
	fflush(o->progress);
}

/* Says that attempt n of max failed and the case runs again. */
static void
progress_retry(const struct mc_runner_options *o, const struct mc_suite *s, const struct mc_case *c, int n,
	       int max, double duration)
{
	if (o->progress == NULL)
		return;
	fprintf(o->progress, "%sRETRY%s %s/%s (%.2fs): attempt %d of %d: %s: %s\n", o->color ? "\033[36m" : "",
		o->color ? "\033[0m" : "", s->name, c->name, duration, n, max, mc_status_name(c->status),
		c->reason != NULL ? c->reason : "");
	fflush(o->progress);
}

static bool
stopped(const struct mc_runner_options *o)
{
	return o->stop != NULL && *o->stop != 0;
}

/* Evidence entries of earlier attempts, added back to the case after its last attempt. */
struct kept_evidence {
	char **label, **path;
	size_t n;
};

/*
 * Before attempt n + 1: moves the case's evidence folder (out_dir/ed) to
 * "ed@attempt-n", so the next attempt starts empty and the earlier files
 * stay, and keeps the case's evidence entries pointing there, labelled
 * "attempt n: ". When the folder cannot be moved, its entries are dropped:
 * the next attempt may overwrite the files they name.
 */
static void
set_aside_evidence(const struct mc_runner_options *o, const char *ed, struct mc_case *c, int n,
		   struct kept_evidence *kept)
{
	char *from = mc_xasprintf("%s/%s", o->out_dir, ed);
	char *rel = mc_xasprintf("%s@attempt-%d", ed, n);
	char *to = mc_xasprintf("%s/%s", o->out_dir, rel);
	size_t edlen = strlen(ed);
	bool moved;

	(void)mc_rm_rf(to);
	moved = rename(from, to) == 0 || errno == ENOENT;
	for (size_t i = 0; moved && i < c->n_evidence; i++) {
		const char *label = c->evidence[i].label != NULL ? c->evidence[i].label : "";
		const char *path = c->evidence[i].path != NULL ? c->evidence[i].path : "";

		kept->label = mc_xrealloc(kept->label, (kept->n + 1) * sizeof(*kept->label));
		kept->path = mc_xrealloc(kept->path, (kept->n + 1) * sizeof(*kept->path));
		kept->label[kept->n] = mc_xasprintf("attempt %d: %s", n, label);
		if (strncmp(path, ed, edlen) == 0 && path[edlen] == '/')
			kept->path[kept->n] = mc_xasprintf("%s%s", rel, path + edlen);
		else
			kept->path[kept->n] = mc_xstrdup(path);
		kept->n++;
	}
	free(from);
	free(rel);
	free(to);
}

/* Adds the kept entries to the case (after its own) and frees them. */
static void
restore_evidence(struct mc_case *c, struct kept_evidence *kept)
{
	for (size_t i = 0; i < kept->n; i++) {
		mc_case_add_evidence(c, kept->label[i], kept->path[i]);
		free(kept->label[i]);
		free(kept->path[i]);
	}
	free(kept->label);
	free(kept->path);
	memset(kept, 0, sizeof(*kept));
}

/* Runs the case's check once: the target's per-case configuration around it, a negative control inverted. */
static void
run_once(const struct mc_target_ops *ops, struct mc_target *t, const struct mc_check_ctx *ctx, struct mc_case *c)
{
	char cerr[MC_ERRLEN];

	if (ops->case_begin != NULL && ops->case_begin(t, ctx->def, cerr, sizeof(cerr)) < 0)
		mc_case_set(c, MC_RESULT_ERROR, "mesh config for the case: %s", cerr);
	else
		ctx->def->kind->run(ctx, c);
	if (ops->case_end != NULL)
		ops->case_end(t, ctx->def);
	if (ctx->def->expect_failure)
		invert(c);
}

/*
 * Runs a case until it passes, is skipped, or has had 1 + o->retries
 * attempts (see mc_runner_run), printing a line before each retry.
 */
static void
run_case(const struct mc_runner_options *o, const struct mc_target_ops *ops, struct mc_target *t,
	 const struct mc_check_ctx *ctx, const struct mc_suite *s, struct mc_case *c)
{
	int max = 1 + (o->retries < 0 ? 0 : o->retries > MC_RUNNER_MAX_RETRIES ? MC_RUNNER_MAX_RETRIES : o->retries);
	struct kept_evidence kept = {0};
	double total = 0;

	for (int n = 1;; n++) {
		double a0 = mc_monotonic(), d;

		if (n > 1) {
			set_aside_evidence(o, ctx->evidence_dir, c, n - 1, &kept);
			mc_case_clear_outcome(c);
		}
		run_once(ops, t, ctx, c);
		d = mc_monotonic() - a0;
		total += d;
		mc_case_add_attempt(c, c->status, c->reason, d);
		if (!retryable(c->status) || n >= max || stopped(o))
			break;
		progress_retry(o, s, c, n, max, d);
	}
	c->duration = total;
	if (c->n_attempts == 1) {
		mc_case_clear_attempts(c);
	} else if (c->status == MC_RESULT_PASS) {
		c->flaky = true;
	} else if (c->status == MC_RESULT_SKIP) {
		/* A retry that could not run does not turn the failure before it into a skip. */
		const struct mc_attempt *prev = &c->attempts[c->n_attempts - 2];
		char *skip = c->reason != NULL ? mc_xstrdup(c->reason) : NULL;

		mc_case_set(c, prev->status, "%s (attempt %zu was skipped: %s)",
			    prev->reason != NULL ? prev->reason : "", c->n_attempts, skip != NULL ? skip : "");
		free(skip);
	}
	restore_evidence(c, &kept);
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
		char *case_slug, *ed;

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
		ed = mc_xasprintf("evidence/%s/%s", suite_slug, case_slug);
		ctx.evidence_dir = ed;
		run_case(o, ops, t, &ctx, s, c);
		free(ed);
		free(case_slug);
		progress(o, s, c);
	}
	/* The mesh root goes with the target too: a copy stays as evidence (certification bundles fingerprint it). */
	if (t != NULL && rc == 0 && ops->mesh_root != NULL && ops->mesh_root(t) != NULL) {
		char *rel = mc_xasprintf("evidence/%s/mesh-root.pem", suite_slug);
		char *dir = mc_xasprintf("%s/evidence/%s", o->out_dir, suite_slug);
		char *dst = mc_xasprintf("%s/%s", o->out_dir, rel), *pem = NULL;
		size_t len = 0;

		if (mc_file_read(ops->mesh_root(t), 1 << 20, &pem, &len, NULL, 0) == 0 &&
		    mc_mkdir_p(dir, 0755, NULL, 0) == 0 && mc_file_write(dst, pem, len, 0644, NULL, 0) == 0)
			mc_suite_set_prop(s, "mesh_root", rel);
		free(pem);
		free(dst);
		free(dir);
		free(rel);
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
