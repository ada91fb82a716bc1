/*
 * Certification bundles: a run with cases of every status, evidence files
 * (binary, empty, a long path, and things that must be left out: symbolic
 * links and a FIFO), the real report writers and a real mesh root; then the
 * bundle is verified, read by the system's tar and sha256sum, compared
 * with GNU tar's own ustar output, and damaged in every way we can think of.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "pki.h"
#include "report.h"
#include "results.h"
#include "testutil.h"

#ifndef FIXTURES_DIR
#define FIXTURES_DIR "fixtures"
#endif

#define RUN_ID "20260101T000000-abc123"
#define RUN_START 1767225600.25 /* 2026-01-01T00:00:00Z */
#define LONG_DIR_A "a-folder-whose-name-is-long-enough-to-need-the-ustar-prefix-field"
#define LONG_DIR_B "and-another-one-beneath-it-also-quite-long"
#define LONG_REL "evidence/multicluster/" LONG_DIR_A "/" LONG_DIR_B "/capture.pcap"

static const char *bin;   /* the meshcheck binary, from MESHCHECK */
static char *tmp;         /* per test */
static char *out;         /* tmp/out: the report folder */
static char *root_pem;    /* tmp/pki/root-cert.pem */

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static void
t_mkdirs(const char *dir, const char *rel)
{
	char *p = mc_xasprintf("%s/%s", dir, rel);
	char err[MC_ERRLEN];

	ck_assert_msg(mc_mkdir_p(p, 0755, err, sizeof(err)) == 0, "%s", err);
	free(p);
}

static void
t_write_bytes(const char *path, const void *data, size_t n)
{
	char err[MC_ERRLEN];

	ck_assert_msg(mc_file_write(path, data, n, 0644, err, sizeof(err)) == 0, "%s", err);
}

static char *
t_read_len(const char *path, size_t *len)
{
	char err[MC_ERRLEN];
	char *data = NULL;

	ck_assert_msg(mc_file_read(path, 256u << 20, &data, len, err, sizeof(err)) == 0, "%s", err);
	return data;
}

/* Runs a shell command line; its output (stdout and stderr) in *outp when not NULL. */
static int
sh(char **outp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
sh(char **outp, const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = mc_xvasprintf(fmt, ap);
	va_end(ap);
	{
		char *argv[] = {(char *)"/bin/sh", (char *)"-c", cmd, NULL};

		rc = t_run(argv, outp);
	}
	free(cmd);
	return rc;
}

/* The members of a ustar archive (as the test reads it): name, header offset, size. */
struct tmem {
	char name[260];
	size_t off, size;
};

static size_t
t_members(const unsigned char *tar, size_t len, struct tmem *m, size_t max)
{
	size_t n = 0, off = 0;

	while (off + 512 <= len && n < max) {
		const unsigned char *h = tar + off;
		char prefix[156] = "", name[101] = "";

		if (h[0] == '\0')
			break;
		memcpy(name, h, 100);
		memcpy(prefix, h + 345, 155);
		if (prefix[0] != '\0')
			snprintf(m[n].name, sizeof(m[n].name), "%s/%s", prefix, name);
		else
			snprintf(m[n].name, sizeof(m[n].name), "%s", name);
		m[n].off = off;
		m[n].size = (size_t)strtoull((const char *)h + 124, NULL, 8);
		off += 512 + (m[n].size + 511) / 512 * 512;
		n++;
	}
	return n;
}

static const struct tmem *
t_member(const struct tmem *m, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return &m[i];
	ck_abort_msg("no member %s", name);
	return NULL;
}

static void
t_fix_sum(unsigned char *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

static bool
has_problem(const struct mc_bundle_summary *s, const char *a, const char *b)
{
	for (size_t i = 0; i < s->n_problems; i++)
		if (strstr(s->problems[i], a) != NULL && (b == NULL || strstr(s->problems[i], b) != NULL))
			return true;
	return false;
}

static char *
problems_text(const struct mc_bundle_summary *s)
{
	struct mc_buf b;

	mc_buf_init(&b, 0);
	(void)mc_buf_append(&b, "", 0);
	for (size_t i = 0; i < s->n_problems; i++)
		(void)mc_buf_printf(&b, "%s\n", s->problems[i]);
	return mc_buf_steal(&b);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                    */

static struct mc_run *
make_run(void)
{
	struct mc_run *run = mc_run_new(RUN_ID, "kube");
	struct mc_suite *s;
	struct mc_case *c;

	run->start = RUN_START;
	run->end = RUN_START + 83.7;
	mc_run_set_prop(run, "openssl", "OpenSSL 3.0.15 3 Sep 2024");
	mc_run_set_prop(run, "context c1", "Kubernetes v1.31.4, Istio 1.24.2 (revision default)");
	mc_run_set_prop(run, "context c2", "Kubernetes v1.30.2, Istio 1.24.2");

	s = mc_run_add_suite(run, "multicluster", "suites/multicluster.json");
	s->start = RUN_START + 1;
	c = mc_suite_add_case(s, "sleep reaches echoserver", "reach");
	mc_case_set(c, MC_RESULT_PASS, NULL);
	mc_case_add_evidence(c, "response", "evidence/multicluster/sleep-reaches-echoserver/response.txt");
	c = mc_suite_add_case(s, "helloworld split 50/50", "distribution");
	mc_case_set(c, MC_RESULT_FAIL, "v2 got 31%% of 200 requests (p = 0.0001)");
	mc_case_add_evidence(c, "responses", "evidence/multicluster/split/bytes.bin");
	mc_case_add_evidence(c, "capture", LONG_REL);
	c = mc_suite_add_case(s, "identity seen by httpbin", "http");
	mc_case_set(c, MC_RESULT_SKIP, "no capture permission");

	s = mc_run_add_suite(run, "security", "suites/security.json");
	mc_suite_set_prop(s, "mesh_root", "evidence/security/mesh-root.pem");
	c = mc_suite_add_case(s, "chains verify", "chain");
	mc_case_set(c, MC_RESULT_ERROR, "target setup failed: \xff not UTF-8");
	return run;
}

/* Writes the evidence, the reports and a mesh root for run into out. */
static void
make_out(const struct mc_run *run)
{
	const char *clusters[] = {"c1"};
	struct mc_ca_options o = {.key = MC_KEY_EC256};
	unsigned char bytes[10240];
	char err[MC_ERRLEN], *p, *pki, *pem;

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 7);
	t_mkdirs(out, "evidence/multicluster/sleep-reaches-echoserver");
	t_mkdirs(out, "evidence/multicluster/split");
	t_mkdirs(out, "evidence/multicluster/" LONG_DIR_A "/" LONG_DIR_B);
	t_mkdirs(out, "evidence/security");
	free(t_write(out, "evidence/multicluster/sleep-reaches-echoserver/response.txt",
		     "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nHostname: echoserver-1\n"));
	p = mc_xasprintf("%s/evidence/multicluster/split/bytes.bin", out);
	t_write_bytes(p, bytes, sizeof(bytes));
	free(p);
	p = mc_xasprintf("%s/evidence/multicluster/split/odd.bin", out);
	t_write_bytes(p, bytes, 513);
	free(p);
	p = mc_xasprintf("%s/%s", out, LONG_REL);
	t_write_bytes(p, bytes + 3, 777);
	free(p);
	free(t_write(out, "evidence/security/empty.txt", ""));

	/* What must stay out: links (to a file and a folder outside) and a FIFO. */
	p = mc_xasprintf("%s/evidence/multicluster/passwd", out);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	free(p);
	p = mc_xasprintf("%s/evidence/multicluster/etc", out);
	ck_assert_int_eq(symlink("/etc", p), 0);
	free(p);
	p = mc_xasprintf("%s/evidence/security/fifo", out);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	free(p);

	pki = mc_xasprintf("%s/pki", tmp);
	ck_assert_msg(mc_pki_init(pki, clusters, 1, &o, err, sizeof(err)) == 0, "%s", err);
	root_pem = mc_xasprintf("%s/root-cert.pem", pki);
	pem = t_read(root_pem);
	free(t_write(out, "evidence/security/mesh-root.pem", pem));
	free(pem);
	free(pki);

	p = mc_xasprintf("%s/junit.xml", out);
	ck_assert_msg(mc_report_write_junit(run, p, err, sizeof(err)) == 0, "%s", err);
	free(p);
	p = mc_xasprintf("%s/report.html", out);
	ck_assert_msg(mc_report_write_html(run, p, err, sizeof(err)) == 0, "%s", err);
	free(p);
	p = mc_xasprintf("%s/report.json", out);
	ck_assert_msg(mc_report_write_json(run, p, err, sizeof(err)) == 0, "%s", err);
	free(p);
}

/* Writes the whole fixture and its bundle; returns the bundle's path. */
static char *
make_bundle(void)
{
	struct mc_run *run = make_run();
	const char *roots[1];
	const char *images[] = {"registry.k8s.io/echoserver:1.10", "docker.io/curlimages/curl:8.16.0"};
	struct mc_bundle_info info = {.trust_domain = "cluster.local", .roots = roots, .n_roots = 1,
				      .images = images, .n_images = 2};
	char err[MC_ERRLEN] = "", *path = NULL;

	make_out(run);
	roots[0] = root_pem;
	ck_assert_msg(mc_bundle_write(run, out, &info, &path, err, sizeof(err)) == 0, "%s", err);
	mc_run_free(run);
	return path;
}

static void
setup(void)
{
	tmp = t_tmpdir();
	out = mc_xasprintf("%s/out", tmp);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	root_pem = NULL;
}

static void
teardown(void)
{
	mc_rm_rf(tmp);
	free(tmp);
	free(out);
	free(root_pem);
}

/* The archive's members in order, as the test expects them. */
static const char *const expected_names[] = {
	"manifest.json",
	"SHA256SUMS",
	"junit.xml",
	"report.html",
	"report.json",
	"evidence/multicluster/" LONG_DIR_A "/" LONG_DIR_B "/capture.pcap",
	"evidence/multicluster/sleep-reaches-echoserver/response.txt",
	"evidence/multicluster/split/bytes.bin",
	"evidence/multicluster/split/odd.bin",
	"evidence/security/empty.txt",
	"evidence/security/mesh-root.pem",
};
#define N_EXPECTED (sizeof(expected_names) / sizeof(expected_names[0]))

/* ------------------------------------------------------------------------ */
/* Writing and verifying                                                      */

START_TEST(write_then_verify)
{
	char *path = make_bundle(), *want = mc_xasprintf("%s/meshcheck-" RUN_ID ".tar", out);
	struct mc_bundle_summary s;
	char err[MC_ERRLEN] = "";
	int rc;

	ck_assert_str_eq(path, want);
	rc = mc_bundle_verify(path, NULL, &s, err, sizeof(err));
	{
		char *pt = problems_text(&s);

		ck_assert_msg(rc == 0, "rc %d: %s\n%s", rc, err, pt);
		free(pt);
	}
	ck_assert_str_eq(s.schema, MC_BUNDLE_SCHEMA);
	ck_assert_str_eq(s.version, MC_VERSION);
	ck_assert_str_eq(s.run_id, RUN_ID);
	ck_assert_str_eq(s.target, "kube");
	ck_assert_str_eq(s.start, "2026-01-01T00:00:00Z");
	ck_assert_str_eq(s.end, "2026-01-01T00:01:23Z");
	ck_assert_str_eq(s.trust_domain, "cluster.local");
	ck_assert_uint_eq(s.n_clusters, 2);
	ck_assert_str_eq(s.clusters[0].context, "c1");
	ck_assert_str_eq(s.clusters[0].kubernetes, "v1.31.4");
	ck_assert_str_eq(s.clusters[0].istio, "1.24.2");
	ck_assert_str_eq(s.clusters[0].revision, "default");
	ck_assert_str_eq(s.clusters[1].context, "c2");
	ck_assert_str_eq(s.clusters[1].kubernetes, "v1.30.2");
	ck_assert_str_eq(s.clusters[1].istio, "1.24.2");
	ck_assert_ptr_null(s.clusters[1].revision);
	ck_assert_uint_eq(s.n_roots, 2);
	ck_assert_str_eq(s.root_fingerprints[0], s.root_fingerprints[1]);
	ck_assert_uint_eq(s.n_images, 2);
	ck_assert_uint_eq(s.total, 4);
	ck_assert_uint_eq(s.passed, 1);
	ck_assert_uint_eq(s.failed, 1);
	ck_assert_uint_eq(s.skipped, 1);
	ck_assert_uint_eq(s.errors, 1);
	ck_assert_uint_eq(s.members, N_EXPECTED);
	ck_assert_uint_eq(s.verified, N_EXPECTED - 1);
	ck_assert_uint_eq(s.n_problems, 0);
	mc_bundle_summary_clear(&s);
	free(want);
	free(path);
}
END_TEST

START_TEST(manifest_contents)
{
	char *path = make_bundle(), *mp = mc_xasprintf("%s/manifest.json", out), *text = t_read(mp);
	cJSON *m = cJSON_Parse(text), *e, *roots, *files, *skipped, *suites;
	char *o = NULL;
	size_t i = 0;

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "schema")->valuestring, MC_BUNDLE_SCHEMA);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "meshcheck_version")->valuestring, MC_VERSION);
	e = cJSON_GetObjectItem(m, "run");
	ck_assert_str_eq(cJSON_GetObjectItem(e, "id")->valuestring, RUN_ID);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "start")->valuestring, "2026-01-01T00:00:00Z");
	ck_assert_int_eq(cJSON_GetObjectItem(e, "exit_code")->valueint, 1);
	/* Every run property, as it is. */
	e = cJSON_GetObjectItem(m, "properties");
	ck_assert_int_eq(cJSON_GetArraySize(e), 3);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "context c1")->valuestring,
			 "Kubernetes v1.31.4, Istio 1.24.2 (revision default)");
	ck_assert_str_eq(cJSON_GetObjectItem(e, "openssl")->valuestring, "OpenSSL 3.0.15 3 Sep 2024");
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "clusters"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "description")->valuestring,
			 "Kubernetes v1.31.4, Istio 1.24.2 (revision default)");

	/* Roots: the PEM file's SHA-256 as sha256sum computes it, and the certificate's fingerprint. */
	roots = cJSON_GetObjectItem(m, "roots");
	ck_assert_int_eq(cJSON_GetArraySize(roots), 2);
	ck_assert_int_eq(sh(&o, "sha256sum '%s'", root_pem), 0);
	ck_assert_msg(strncmp(o, cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 0), "sha256")->valuestring, 64) == 0,
		      "%s", o);
	free(o);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 0), "path")->valuestring, root_pem);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 0), "suite")));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 1), "suite")->valuestring, "security");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 1), "path")->valuestring,
			 "evidence/security/mesh-root.pem");
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(roots, 0), "certificates"), 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(strlen(cJSON_GetObjectItem(e, "sha256")->valuestring), 95);
	ck_assert_ptr_nonnull(strstr(cJSON_GetObjectItem(e, "subject")->valuestring, "Root CA"));

	ck_assert_str_eq(cJSON_GetObjectItem(m, "trust_domain")->valuestring, "cluster.local");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "images")), 2);
	e = cJSON_GetObjectItem(m, "summary");
	ck_assert_int_eq(cJSON_GetObjectItem(e, "total")->valueint, 4);
	ck_assert_int_eq(cJSON_GetObjectItem(e, "errors")->valueint, 1);

	/* Suites and cases with their verdicts; bytes that are not UTF-8 are shown, not copied. */
	suites = cJSON_GetObjectItem(m, "suites");
	ck_assert_int_eq(cJSON_GetArraySize(suites), 2);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(suites, 0), "cases"), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "name")->valuestring, "helloworld split 50/50");
	ck_assert_str_eq(cJSON_GetObjectItem(e, "status")->valuestring, "fail");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(e, "evidence")), 2);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(suites, 1), "cases"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "status")->valuestring, "error");
	ck_assert_str_eq(cJSON_GetObjectItem(e, "reason")->valuestring, "target setup failed: \\xFF not UTF-8");

	/* files: everything but the manifest and SHA256SUMS, in archive order. */
	files = cJSON_GetObjectItem(m, "files");
	ck_assert_int_eq(cJSON_GetArraySize(files), (int)N_EXPECTED - 2);
	cJSON_ArrayForEach(e, files) {
		ck_assert_str_eq(cJSON_GetObjectItem(e, "path")->valuestring, expected_names[i + 2]);
		i++;
	}
	e = cJSON_GetArrayItem(files, 5);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "path")->valuestring, "evidence/multicluster/split/bytes.bin");
	ck_assert_int_eq(cJSON_GetObjectItem(e, "size")->valueint, 10240);
	e = cJSON_GetArrayItem(files, 7);
	ck_assert_int_eq(cJSON_GetObjectItem(e, "size")->valueint, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "sha256")->valuestring,
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* The links and the FIFO are listed as left out. */
	skipped = cJSON_GetObjectItem(m, "skipped");
	ck_assert_int_eq(cJSON_GetArraySize(skipped), 3);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(skipped, 0), "path")->valuestring,
			 "evidence/multicluster/etc");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(skipped, 0), "why")->valuestring,
			 "symbolic link (not followed)");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(skipped, 2), "path")->valuestring,
			 "evidence/security/fifo");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(skipped, 2), "why")->valuestring,
			 "not a regular file");

	/* SHA256SUMS beside it, in sha256sum's format, checks out in the report folder. */
	ck_assert_msg(sh(&o, "cd '%s' && sha256sum -c --strict SHA256SUMS", out) == 0, "%s", o);
	ck_assert_ptr_nonnull(strstr(o, "manifest.json: OK"));
	free(o);

	cJSON_Delete(m);
	free(text);
	free(mp);
	free(path);
}
END_TEST

START_TEST(same_run_same_bytes)
{
	char *path = make_bundle(), *copy = mc_xasprintf("%s/first.tar", tmp), *a, *b;
	struct mc_run *run = make_run();
	const char *roots[] = {root_pem};
	const char *images[] = {"registry.k8s.io/echoserver:1.10", "docker.io/curlimages/curl:8.16.0"};
	struct mc_bundle_info info = {.trust_domain = "cluster.local", .roots = roots, .n_roots = 1,
				      .images = images, .n_images = 2};
	char err[MC_ERRLEN], *path2 = NULL;
	size_t la, lb;

	ck_assert_int_eq(rename(path, copy), 0);
	sleep(1);
	ck_assert_msg(mc_bundle_write(run, out, &info, &path2, err, sizeof(err)) == 0, "%s", err);
	a = t_read_len(copy, &la);
	b = t_read_len(path2, &lb);
	ck_assert_uint_eq(la, lb);
	ck_assert_uint_eq(la % 10240, 0);
	ck_assert(memcmp(a, b, la) == 0);
	free(a);
	free(b);
	free(path2);
	free(copy);
	free(path);
	mc_run_free(run);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The system's tar                                                           */

START_TEST(system_tar_reads_it)
{
	char *path = make_bundle(), *o = NULL, *x = mc_xasprintf("%s/x", tmp);
	struct mc_buf want;
	const char *line;
	size_t i = 0;

	ck_assert_msg(sh(&o, "tar -tf '%s'", path) == 0, "%s", o);
	mc_buf_init(&want, 0);
	for (i = 0; i < N_EXPECTED; i++)
		(void)mc_buf_printf(&want, "%s\n", expected_names[i]);
	ck_assert_str_eq(o, want.data);
	mc_buf_free(&want);
	free(o);

	/* Mode 0644, uid/gid 0, mtime the run's end (in whole seconds), every member. */
	ck_assert_msg(sh(&o, "TZ=UTC tar --numeric-owner --full-time -tvf '%s'", path) == 0, "%s", o);
	for (line = o, i = 0; *line != '\0'; i++) {
		const char *nl = strchr(line, '\n');

		ck_assert_msg(strncmp(line, "-rw-r--r-- 0/0 ", 15) == 0, "%.*s", (int)(nl - line), line);
		ck_assert_msg(strstr(line, "2026-01-01 00:01:23") != NULL && strstr(line, "2026-01-01 00:01:23") < nl,
			      "%.*s", (int)(nl - line), line);
		line = nl + 1;
	}
	ck_assert_uint_eq(i, N_EXPECTED);
	free(o);

	/* Extracted, every file is byte for byte what was bundled, and SHA256SUMS checks out. */
	ck_assert_int_eq(mkdir(x, 0755), 0);
	ck_assert_msg(sh(&o, "tar -xf '%s' -C '%s'", path, x) == 0, "%s", o);
	free(o);
	for (i = 0; i < N_EXPECTED; i++) {
		char *pa = mc_xasprintf("%s/%s", x, expected_names[i]), *pb = mc_xasprintf("%s/%s", out, expected_names[i]);
		size_t la, lb;
		char *a = t_read_len(pa, &la), *b = t_read_len(pb, &lb);

		ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs", expected_names[i]);
		free(a);
		free(b);
		free(pa);
		free(pb);
	}
	ck_assert_msg(sh(&o, "cd '%s' && sha256sum -c --strict SHA256SUMS", x) == 0, "%s", o);
	ck_assert_ptr_nonnull(strstr(o, "evidence/security/empty.txt: OK"));
	free(o);
	ck_assert_msg(sh(&o, "cd '%s' && sha256sum -c --strict SHA256SUMS | grep -c ': OK$'", x) == 0, "%s", o);
	ck_assert_int_eq(atoi(o), (int)N_EXPECTED - 1);
	free(o);
	free(x);
	free(path);
}
END_TEST

/* GNU tar, told to write POSIX ustar with the same owner, mode and time, writes the same bytes. */
START_TEST(same_bytes_as_gnu_tar_ustar)
{
	char *path = make_bundle(), *o = NULL, *x = mc_xasprintf("%s/x", tmp), *ref = mc_xasprintf("%s/ref.tar", tmp);
	struct mc_buf names;
	size_t la, lb;
	char *a, *b;

	if (sh(&o, "tar --version | head -1 | grep -q 'GNU tar'") != 0) {
		free(o);
		free(x);
		free(ref);
		free(path);
		return;
	}
	free(o);
	ck_assert_int_eq(mkdir(x, 0755), 0);
	ck_assert_msg(sh(&o, "tar -xf '%s' -C '%s'", path, x) == 0, "%s", o);
	free(o);
	mc_buf_init(&names, 0);
	for (size_t i = 0; i < N_EXPECTED; i++)
		(void)mc_buf_printf(&names, " '%s'", expected_names[i]);
	ck_assert_msg(sh(&o, "cd '%s' && tar --format=ustar --numeric-owner --owner=0 --group=0 --mode=0644 "
			     "--mtime=@%.0f -cf '%s'%s", x, floor(RUN_START + 83.7), ref, names.data) == 0, "%s", o);
	free(o);
	mc_buf_free(&names);
	a = t_read_len(path, &la);
	b = t_read_len(ref, &lb);
	ck_assert_uint_eq(la, lb);
	for (size_t i = 0; i < la; i++)
		ck_assert_msg(a[i] == b[i], "first difference at byte %zu (block %zu, byte %zu of it)", i, i / 512,
			      i % 512);
	free(a);
	free(b);
	free(ref);
	free(x);
	free(path);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Damage                                                                     */

/* Writes data to tmp/damaged.tar and verifies it; returns the result with *s filled. */
static int
verify_bytes(const void *data, size_t len, struct mc_bundle_summary *s, char *err, size_t errlen)
{
	char *p = mc_xasprintf("%s/damaged.tar", tmp);
	int rc;

	t_write_bytes(p, data, len);
	rc = mc_bundle_verify(p, NULL, s, err, errlen);
	free(p);
	return rc;
}

START_TEST(flipped_bytes_are_named)
{
	char *path = make_bundle();
	size_t len, n;
	unsigned char *orig = (unsigned char *)t_read_len(path, &len), *d = mc_xmalloc(len);
	struct tmem m[32];
	const struct tmem *t;
	struct mc_bundle_summary s;
	char err[MC_ERRLEN];
	int rc;

	n = t_members(orig, len, m, 32);
	ck_assert_uint_eq(n, N_EXPECTED);

	/* A byte of an evidence file's data. */
	memcpy(d, orig, len);
	t = t_member(m, n, "evidence/multicluster/split/bytes.bin");
	d[t->off + 512 + 4000] ^= 0x01;
	rc = verify_bytes(d, len, &s, err, sizeof(err));
	ck_assert_int_eq(rc, 1);
	ck_assert(has_problem(&s, "evidence/multicluster/split/bytes.bin: SHA-256 is", "SHA256SUMS line 7"));
	ck_assert(has_problem(&s, "evidence/multicluster/split/bytes.bin: SHA-256 is", "manifest.json says"));
	ck_assert_uint_eq(s.n_problems, 2);
	ck_assert_uint_eq(s.verified, N_EXPECTED - 2);
	mc_bundle_summary_clear(&s);

	/* The long name's member, split over prefix and name. */
	memcpy(d, orig, len);
	t = t_member(m, n, LONG_REL);
	d[t->off + 512] ^= 0x80;
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, LONG_REL ": SHA-256 is", NULL));
	mc_bundle_summary_clear(&s);

	/* A byte of manifest.json that keeps it valid JSON (the target "kube" becomes "kubf"). */
	memcpy(d, orig, len);
	t = t_member(m, n, "manifest.json");
	{
		char *at = memmem(d + t->off + 512, t->size, "\"target\":\t\"kube\"", 16);

		ck_assert_ptr_nonnull(at);
		at[14] = 'f';
	}
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, "manifest.json: SHA-256 is", "SHA256SUMS line 1"));
	ck_assert_uint_eq(s.n_problems, 1);
	ck_assert_str_eq(s.target, "kubf");
	mc_bundle_summary_clear(&s);

	/* A byte that breaks its JSON. */
	memcpy(d, orig, len);
	d[t->off + 512] = '[';
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, "manifest.json: SHA-256 is", NULL));
	ck_assert(has_problem(&s, "manifest.json: not a JSON object", NULL));
	mc_bundle_summary_clear(&s);

	/* A hex digit of SHA256SUMS (its third line: junit.xml). */
	memcpy(d, orig, len);
	t = t_member(m, n, "SHA256SUMS");
	{
		/* Line 2 is junit.xml's (SHA256SUMS does not list itself). */
		char *l2 = memmem(d + t->off + 512, t->size, "  junit.xml\n", 12);

		ck_assert_ptr_nonnull(l2);
		l2 -= 10;
		*l2 = *l2 == '0' ? '1' : '0';
	}
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, "junit.xml: SHA-256 is", "SHA256SUMS line 2 says"));
	ck_assert_uint_eq(s.n_problems, 1);
	mc_bundle_summary_clear(&s);

	/* The path of a SHA256SUMS line. */
	memcpy(d, orig, len);
	{
		char *p = memmem(d + t->off + 512, t->size, "  report.html\n", 14);

		ck_assert_ptr_nonnull(p);
		p[9] = 'x';
	}
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, "SHA256SUMS line 3: report.xtml is listed but not in the archive", NULL));
	ck_assert(has_problem(&s, "report.html: in the archive but not listed in SHA256SUMS", NULL));
	mc_bundle_summary_clear(&s);

	/* The separator of a SHA256SUMS line. */
	memcpy(d, orig, len);
	d[t->off + 512 + 64] = '-';
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, "SHA256SUMS line 1: not \"<sha256>  <path>\"", NULL));
	ck_assert(has_problem(&s, "manifest.json: in the archive but not listed in SHA256SUMS", NULL));
	mc_bundle_summary_clear(&s);

	free(d);
	free(orig);
	free(path);
}
END_TEST

START_TEST(renamed_added_and_duplicate_members)
{
	char *path = make_bundle(), *o = NULL;
	size_t len, n;
	unsigned char *orig = (unsigned char *)t_read_len(path, &len), *d = mc_xmalloc(len + 4096);
	struct tmem m[32];
	const struct tmem *t;
	struct mc_bundle_summary s;
	char err[MC_ERRLEN];

	n = t_members(orig, len, m, 32);
	t = t_member(m, n, "junit.xml");

	/* Renamed, with the header's checksum made right again: the lists no longer match. */
	memcpy(d, orig, len);
	d[t->off + 8] = 'm';
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), 1);
	ck_assert(has_problem(&s, "junit.xmm: in the archive but not listed in SHA256SUMS", NULL));
	ck_assert(has_problem(&s, "junit.xmm: in the archive but not listed in manifest.json", NULL));
	ck_assert(has_problem(&s, "SHA256SUMS line 2: junit.xml is listed but not in the archive", NULL));
	ck_assert(has_problem(&s, "manifest.json: files[0]: junit.xml is listed but not in the archive", NULL));
	mc_bundle_summary_clear(&s);

	/* Renamed without fixing the checksum: the header is damaged. */
	memcpy(d, orig, len);
	d[t->off + 8] = 'm';
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "junit.xmm: header at byte offset") != NULL && strstr(err, "bad header checksum"), "%s",
		      err);
	{
		char *off = mc_xasprintf("offset %zu:", t->off);

		ck_assert_msg(strstr(err, off) != NULL, "%s", err);
		free(off);
	}
	mc_bundle_summary_clear(&s);

	/* Renamed to an existing name. */
	memcpy(d, orig, len);
	t = t_member(m, n, "report.json");
	memcpy(d + t->off, "report.html", 11);
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "report.html: header at byte offset") && strstr(err, "duplicate name"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* Names that climb out or are absolute. */
	memcpy(d, orig, len);
	t = t_member(m, n, "junit.xml");
	memcpy(d + t->off, "../ju.xml", 9);
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "../ju.xml: header at byte offset") && strstr(err, "unsafe name"), "%s", err);
	mc_bundle_summary_clear(&s);
	memcpy(d, orig, len);
	memcpy(d + t->off, "/junit.xm", 9);
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "/junit.xm: header at byte offset") && strstr(err, "absolute path"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* A member added by the system's tar (in ustar format) that no list names. */
	{
		char *copy = mc_xasprintf("%s/added.tar", tmp);

		t_write_bytes(copy, orig, len);
		free(t_write(tmp, "extra.txt", "not certified\n"));
		ck_assert_msg(sh(&o, "tar --format=ustar -rf '%s' -C '%s' extra.txt", copy, tmp) == 0, "%s", o);
		free(o);
		ck_assert_int_eq(mc_bundle_verify(copy, NULL, &s, err, sizeof(err)), 1);
		ck_assert(has_problem(&s, "extra.txt: in the archive but not listed in SHA256SUMS", NULL));
		ck_assert(has_problem(&s, "extra.txt: in the archive but not listed in manifest.json", NULL));
		ck_assert_uint_eq(s.n_problems, 2);
		mc_bundle_summary_clear(&s);

		/* The same name twice. */
		t_write_bytes(copy, orig, len);
		ck_assert_msg(sh(&o, "cd '%s' && tar --format=ustar -rf '%s' report.json", out, copy) == 0, "%s", o);
		free(o);
		ck_assert_int_eq(mc_bundle_verify(copy, NULL, &s, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(strstr(err, "report.json: header at byte offset") && strstr(err, "duplicate name"), "%s",
			      err);
		mc_bundle_summary_clear(&s);
		free(copy);
	}

	/* A member added by hand in place of the end-of-archive blocks. */
	{
		size_t end = m[n - 1].off + 512 + (m[n - 1].size + 511) / 512 * 512;

		memcpy(d, orig, len);
		memset(d + end, 0, 512);
		memcpy(d + end, d + t->off, 512);       /* junit.xml's header, renamed, size 3 */
		memcpy(d + end, "evidence/zz.txt", 16);
		snprintf((char *)d + end + 124, 12, "%011o", 3u);
		t_fix_sum(d + end);
		memset(d + end + 512, 0, 3 * 512);
		memcpy(d + end + 512, "hi\n", 3);
		ck_assert_int_eq(verify_bytes(d, end + 4 * 512, &s, err, sizeof(err)), 1);
		ck_assert(has_problem(&s, "evidence/zz.txt: in the archive but not listed in SHA256SUMS", NULL));
		mc_bundle_summary_clear(&s);
	}
	free(d);
	free(orig);
	free(path);
}
END_TEST

START_TEST(structural_damage)
{
	char *path = make_bundle();
	size_t len, n, end;
	unsigned char *orig = (unsigned char *)t_read_len(path, &len), *d = mc_xmalloc(len + 1024);
	struct tmem m[32];
	const struct tmem *t;
	struct mc_bundle_summary s;
	char err[MC_ERRLEN];

	n = t_members(orig, len, m, 32);
	end = m[n - 1].off + 512 + (m[n - 1].size + 511) / 512 * 512;

	/* Truncated in the middle of a member's data. */
	t = t_member(m, n, "evidence/multicluster/split/bytes.bin");
	ck_assert_int_eq(verify_bytes(orig, t->off + 512 + 5000, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "evidence/multicluster/split/bytes.bin: header at byte offset") &&
			      strstr(err, "run past the end of the archive"), "%s", err);
	ck_assert_uint_eq(s.n_problems, 1);
	mc_bundle_summary_clear(&s);

	/* Truncated in a header. */
	ck_assert_int_eq(verify_bytes(orig, t->off + 100, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "truncated header"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* Truncated just after the last member, and inside the end blocks. */
	ck_assert_int_eq(verify_bytes(orig, end, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "without its end-of-archive blocks (truncated after evidence/security/mesh-root.pem)"),
		      "%s", err);
	mc_bundle_summary_clear(&s);
	ck_assert_int_eq(verify_bytes(orig, end + 512, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "a single zero block"), "%s", err);
	mc_bundle_summary_clear(&s);
	/* Cut inside the record padding: still whole (the end blocks are there). */
	ck_assert_int_eq(verify_bytes(orig, end + 1024, &s, err, sizeof(err)), 0);
	mc_bundle_summary_clear(&s);
	ck_assert_int_eq(verify_bytes(orig, end + 1100, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "not a multiple of 512"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* Something after the end. */
	memcpy(d, orig, len);
	d[len - 1] = 'x';
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "data after the end of the archive"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* A size that runs past the end. */
	memcpy(d, orig, len);
	t = t_member(m, n, "evidence/security/empty.txt");
	snprintf((char *)d + t->off + 124, 12, "%011o", 01000000u);
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "evidence/security/empty.txt: header at byte offset") &&
			      strstr(err, "262144 bytes of data run past the end"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* A size field that is not a number. */
	memcpy(d, orig, len);
	memcpy(d + t->off + 124, "0000000x000", 11);
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "malformed size field"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* GNU's magic, a link instead of a file. */
	memcpy(d, orig, len);
	memcpy(d + t->off + 257, "ustar  ", 8);
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "not a POSIX ustar header (GNU tar's format)"), "%s", err);
	mc_bundle_summary_clear(&s);
	memcpy(d, orig, len);
	d[t->off + 156] = '2';
	t_fix_sum(d + t->off);
	ck_assert_int_eq(verify_bytes(d, len, &s, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "not a regular file (type '2')"), "%s", err);
	mc_bundle_summary_clear(&s);

	/* Not an archive at all, empty, missing, a folder. */
	ck_assert_int_eq(verify_bytes("hello\n", 6, &s, err, sizeof(err)), -EBADMSG);
	mc_bundle_summary_clear(&s);
	ck_assert_int_eq(verify_bytes("", 0, &s, err, sizeof(err)), -EBADMSG);
	mc_bundle_summary_clear(&s);
	{
		char *p = mc_xasprintf("%s/none.tar", tmp);

		ck_assert_int_eq(mc_bundle_verify(p, NULL, &s, err, sizeof(err)), -ENOENT);
		ck_assert_msg(strstr(err, "none.tar") != NULL, "%s", err);
		mc_bundle_summary_clear(&s);
		free(p);
	}
	ck_assert_int_eq(mc_bundle_verify(tmp, NULL, &s, err, sizeof(err)), -EINVAL);
	mc_bundle_summary_clear(&s);

	/* A well-formed archive that is not a bundle. */
	{
		char *o = NULL, *p = mc_xasprintf("%s/plain.tar", tmp);

		ck_assert_msg(sh(&o, "cd '%s' && tar --format=ustar -cf '%s' junit.xml", out, p) == 0, "%s", o);
		free(o);
		ck_assert_int_eq(mc_bundle_verify(p, NULL, &s, err, sizeof(err)), -EBADMSG);
		ck_assert_msg(strstr(err, "not a meshcheck bundle: no SHA256SUMS member"), "%s", err);
		mc_bundle_summary_clear(&s);
		free(p);
	}
	free(d);
	free(orig);
	free(path);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* What the writer refuses, and edge cases                                    */

START_TEST(refuses_what_does_not_fit)
{
	struct mc_run *run = mc_run_new("r-1", "local");
	char err[MC_ERRLEN], *path = NULL, *p, *o = NULL;
	char comp[102];
	int rc;

	/* No reports yet. */
	rc = mc_bundle_write(run, out, NULL, &path, err, sizeof(err));
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_msg(strstr(err, "/junit.xml") != NULL, "%s", err);
	ck_assert_ptr_null(path);

	free(t_write(out, "junit.xml", "<testsuites/>\n"));
	free(t_write(out, "report.html", "<html></html>\n"));
	free(t_write(out, "report.json", "{}\n"));

	/* A name component of 101 bytes cannot be split. */
	memset(comp, 'n', 101);
	comp[101] = '\0';
	p = mc_xasprintf("evidence/s/%s", comp);
	t_mkdirs(out, "evidence/s");
	free(t_write(out, p, "x"));
	rc = mc_bundle_write(run, out, NULL, &path, err, sizeof(err));
	ck_assert_int_eq(rc, -ENAMETOOLONG);
	ck_assert_msg(strstr(err, p) != NULL && strstr(err, "does not fit a ustar header"), "%s", err);
	ck_assert_ptr_null(path);
	free(p);
	mc_rm_rf(out);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	free(t_write(out, "junit.xml", "<testsuites/>\n"));
	free(t_write(out, "report.html", "<html></html>\n"));
	free(t_write(out, "report.json", "{}\n"));

	/* A prefix that would need more than 155 bytes. */
	memset(comp, 'd', 80);
	comp[80] = '\0';
	p = mc_xasprintf("evidence/%s/%s/%.60s", comp, comp, comp);
	{
		char *dir = mc_xasprintf("evidence/%s/%s", comp, comp);

		t_mkdirs(out, dir);
		free(dir);
	}
	free(t_write(out, p, "x"));
	ck_assert_int_eq(mc_bundle_write(run, out, NULL, &path, err, sizeof(err)), -ENAMETOOLONG);
	free(p);
	mc_rm_rf(out);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	free(t_write(out, "junit.xml", "<testsuites/>\n"));
	free(t_write(out, "report.html", "<html></html>\n"));
	free(t_write(out, "report.json", "{}\n"));

	/* A newline in a name (SHA256SUMS could not list it). */
	t_mkdirs(out, "evidence");
	free(t_write(out, "evidence/a\nb", "x"));
	ck_assert_int_eq(mc_bundle_write(run, out, NULL, &path, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "evidence/a\\x0Ab: cannot be archived") != NULL, "%s", err);
	p = mc_xasprintf("%s/evidence/a\nb", out);
	unlink(p);
	free(p);

	/* A root that cannot be read, or is not PEM. */
	{
		const char *roots[] = {"/nonexistent/root.pem"};
		struct mc_bundle_info info = {.roots = roots, .n_roots = 1};

		ck_assert_int_eq(mc_bundle_write(run, out, &info, &path, err, sizeof(err)), -ENOENT);
		ck_assert_msg(strstr(err, "/nonexistent/root.pem") != NULL, "%s", err);
		roots[0] = p = mc_xasprintf("%s/junit.xml", out);
		ck_assert_int_eq(mc_bundle_write(run, out, &info, &path, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "junit.xml") != NULL, "%s", err);
		free(p);
	}
	/* A suite's mesh_root that leaves the folder. */
	{
		struct mc_suite *s = mc_run_add_suite(run, "s", NULL);

		mc_suite_set_prop(s, "mesh_root", "../root.pem");
		ck_assert_int_eq(mc_bundle_write(run, out, NULL, &path, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "mesh_root \"../root.pem\"") != NULL, "%s", err);
		mc_suite_set_prop(s, "mesh_root", "evidence/missing.pem");
		ck_assert_int_eq(mc_bundle_write(run, out, NULL, &path, err, sizeof(err)), -ENOENT);
		mc_suite_set_prop(s, "mesh_root", "");
	}
	/* Nothing half-written was left behind. */
	ck_assert_int_eq(sh(&o, "ls -A '%s' | grep -c -e '\\.tar' -e '\\.tmp'", out), 1);
	free(o);

	/* A run id that cannot name a file. */
	free(run->id);
	run->id = mc_xstrdup("../x");
	ck_assert_int_eq(mc_bundle_write(run, out, NULL, &path, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "run id") != NULL, "%s", err);
	mc_run_free(run);
}
END_TEST

START_TEST(minimal_run_and_linked_evidence_folder)
{
	struct mc_run *run = mc_run_new("r-2", "local");
	struct mc_bundle_summary s;
	char err[MC_ERRLEN], *path = NULL, *p, *o = NULL;

	run->start = RUN_START;
	run->end = RUN_START + 1;
	mc_run_abort(run, "interrupted by signal 2");
	p = mc_xasprintf("%s/junit.xml", out);
	ck_assert_msg(mc_report_write_junit(run, p, err, sizeof(err)) == 0, "%s", err);
	free(p);
	/* Reports elsewhere, as run --junit/--html/--json put them. */
	p = mc_xasprintf("%s/elsewhere.html", tmp);
	ck_assert_msg(mc_report_write_html(run, p, err, sizeof(err)) == 0, "%s", err);
	free(p);
	p = mc_xasprintf("%s/report.json", out);
	ck_assert_msg(mc_report_write_json(run, p, err, sizeof(err)) == 0, "%s", err);
	free(p);
	/* The evidence folder itself a link out of the report folder: not followed. */
	p = mc_xasprintf("%s/evidence", out);
	ck_assert_int_eq(symlink("/etc", p), 0);
	free(p);
	{
		char *html = mc_xasprintf("%s/elsewhere.html", tmp);
		struct mc_bundle_info info = {.html = html};

		ck_assert_msg(mc_bundle_write(run, out, &info, &path, err, sizeof(err)) == 0, "%s", err);
		free(html);
	}
	ck_assert_int_eq(mc_bundle_verify(path, NULL, &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.members, 5);
	ck_assert_uint_eq(s.n_clusters, 0);
	ck_assert_uint_eq(s.n_roots, 0);
	ck_assert_ptr_null(s.trust_domain);
	/* The abort counts as an error, as in the reports. */
	ck_assert_uint_eq(s.total, 1);
	ck_assert_uint_eq(s.errors, 1);
	mc_bundle_summary_clear(&s);
	ck_assert_msg(sh(&o, "tar -xOf '%s' manifest.json", path) == 0, "%s", o);
	ck_assert_ptr_nonnull(strstr(o, "\"path\":\t\"evidence\""));
	ck_assert_ptr_nonnull(strstr(o, "symbolic link (not followed)"));
	ck_assert_ptr_nonnull(strstr(o, "\"aborted\":\t\"interrupted by signal 2\""));
	free(o);
	ck_assert_msg(sh(&o, "tar -xOf '%s' report.html | cmp - '%s/elsewhere.html'", path, tmp) == 0, "%s", o);
	free(o);
	free(path);
	mc_run_free(run);
}
END_TEST

START_TEST(images_from_manifests)
{
	char **img = NULL;
	size_t n = 0;
	bool echo = false, curl = false;
	char *d = mc_xasprintf("%s/yaml", tmp);

	ck_assert_int_eq(mc_bundle_images_from_manifests(FIXTURES_DIR "/kube", &img, &n), 0);
	ck_assert_uint_ge(n, 5);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strchr(img[i], ' ') == NULL && strchr(img[i], '#') == NULL, "%s", img[i]);
		ck_assert_msg(strstr(img[i], "nginx") == NULL, "%s", img[i]); /* from a comment */
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(img[i], img[j]);
		echo |= strcmp(img[i], "registry.k8s.io/echoserver:1.10") == 0;
		curl |= strcmp(img[i], "docker.io/curlimages/curl:8.16.0") == 0;
	}
	ck_assert(echo && curl);
	mc_bundle_images_free(img, n);

	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(t_write(d, "b.yaml", "spec:\n  containers:\n  - name: a\n    image: \"quay.io/x/a:1\"  # pinned\n"
				      "    imagePullPolicy: IfNotPresent\n  - image: 'b:2'\n"
				      "#  image: commented:0\n    image: c:3 # trailing\n    image:\n"));
	free(t_write(d, "a.yml", "image: c:3\r\n  - image: z@sha256:0123\n"));
	free(t_write(d, "c.txt", "image: not-yaml:1\n"));
	ck_assert_int_eq(mc_bundle_images_from_manifests(d, &img, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(img[0], "c:3");
	ck_assert_str_eq(img[1], "z@sha256:0123");
	ck_assert_str_eq(img[2], "quay.io/x/a:1");
	ck_assert_str_eq(img[3], "b:2");
	mc_bundle_images_free(img, n);

	ck_assert_int_eq(mc_bundle_images_from_manifests("/nonexistent", &img, &n), -ENOENT);
	ck_assert_ptr_null(img);
	free(d);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The command                                                                */

START_TEST(cli_exit_codes)
{
	char *path = make_bundle(), *o = NULL, *damaged = mc_xasprintf("%s/damaged.tar", tmp);
	size_t len, n;
	unsigned char *d = (unsigned char *)t_read_len(path, &len);
	struct tmem m[32];
	cJSON *j;

	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", path, NULL};

		ck_assert_msg(t_run(argv, &o) == 0, "%s", o);
		ck_assert_msg(strncmp(o, "OK: 10 files verified\n", 22) == 0, "%s", o);
		ck_assert_msg(strstr(o, "run:          " RUN_ID " (target kube), meshcheck " MC_VERSION "\n"), "%s", o);
		ck_assert_msg(strstr(o, "time:         2026-01-01T00:00:00Z to 2026-01-01T00:01:23Z\n"), "%s", o);
		ck_assert_msg(strstr(o, "cluster:      c1: Kubernetes v1.31.4, Istio 1.24.2 (revision default)\n"), "%s", o);
		ck_assert_msg(strstr(o, "cluster:      c2: Kubernetes v1.30.2, Istio 1.24.2\n"), "%s", o);
		ck_assert_msg(strstr(o, "trust domain: cluster.local\n"), "%s", o);
		ck_assert_msg(strstr(o, "results:      1 passed, 1 failed, 1 skipped, 1 errors (4 cases)\n"), "%s", o);
		free(o);
	}
	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", path, (char *)"--json", NULL};

		ck_assert_msg(t_run(argv, &o) == 0, "%s", o);
		j = cJSON_Parse(o);
		ck_assert_msg(j != NULL, "%s", o);
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "verified")));
		ck_assert_int_eq(cJSON_GetObjectItem(j, "files_verified")->valueint, 10);
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "run"), "id")->valuestring, RUN_ID);
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "clusters"), 0),
						     "kubernetes")->valuestring, "v1.31.4");
		ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "summary"), "failed")->valueint, 1);
		cJSON_Delete(j);
		free(o);
	}

	/* Tampered: exit 1, the member named. */
	n = t_members(d, len, m, 32);
	d[t_member(m, n, "evidence/security/mesh-root.pem")->off + 512 + 40] ^= 0x20;
	t_write_bytes(damaged, d, len);
	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", damaged, NULL};

		ck_assert_int_eq(t_run(argv, &o), 1);
		ck_assert_msg(strstr(o, "evidence/security/mesh-root.pem: SHA-256 is ") != NULL, "%s", o);
		ck_assert_msg(strstr(o, "FAILED: ") != NULL && strstr(o, "2 problems, 9 of 10 files verified"), "%s", o);
		ck_assert_msg(strstr(o, "OK:") == NULL, "%s", o);
		free(o);
	}
	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", (char *)"--json", damaged, NULL};

		ck_assert_int_eq(t_run(argv, &o), 1);
		j = cJSON_Parse(o);
		ck_assert_msg(j != NULL, "%s", o);
		ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "verified")));
		ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "problems")), 2);
		cJSON_Delete(j);
		free(o);
	}

	/* Structural damage or an unreadable file: exit 2. */
	t_write_bytes(damaged, d, len / 2);
	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", damaged, NULL};

		ck_assert_int_eq(t_run(argv, &o), 2);
		ck_assert_msg(strstr(o, "meshcheck verify-bundle: ") && strstr(o, "header at byte offset"), "%s", o);
		free(o);
	}
	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", (char *)"/nonexistent.tar", NULL};

		ck_assert_int_eq(t_run(argv, &o), 2);
		ck_assert_msg(strstr(o, "/nonexistent.tar: No such file"), "%s", o);
		free(o);
	}
	{
		char *argv[] = {(char *)bin, (char *)"verify-bundle", (char *)"--json", (char *)"/nonexistent.tar", NULL};

		ck_assert_int_eq(t_run(argv, &o), 2);
		j = cJSON_Parse(o);
		ck_assert_msg(j != NULL, "%s", o);
		ck_assert_int_eq(cJSON_GetObjectItem(j, "exit_code")->valueint, 2);
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
		cJSON_Delete(j);
		free(o);
	}

	/* Usage. */
	{
		char *a0[] = {(char *)bin, (char *)"verify-bundle", NULL};
		char *a1[] = {(char *)bin, (char *)"verify-bundle", path, path, NULL};
		char *a2[] = {(char *)bin, (char *)"verify-bundle", (char *)"--bogus", path, NULL};
		char *a3[] = {(char *)bin, (char *)"verify-bundle", (char *)"--help", NULL};
		char *a4[] = {(char *)bin, (char *)"help", (char *)"verify-bundle", NULL};

		ck_assert_int_eq(t_run(a0, &o), 2);
		ck_assert_msg(strstr(o, "expected the bundle FILE"), "%s", o);
		free(o);
		ck_assert_int_eq(t_run(a1, &o), 2);
		free(o);
		ck_assert_int_eq(t_run(a2, &o), 2);
		ck_assert_msg(strstr(o, "--bogus"), "%s", o);
		free(o);
		ck_assert_int_eq(t_run(a3, &o), 0);
		ck_assert_msg(strstr(o, "usage: meshcheck verify-bundle FILE [--json]"), "%s", o);
		free(o);
		ck_assert_int_eq(t_run(a4, &o), 0);
		ck_assert_msg(strstr(o, "usage: meshcheck verify-bundle"), "%s", o);
		free(o);
	}
	free(d);
	free(damaged);
	free(path);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("bundle");

	bin = getenv("MESHCHECK");
	/* Each test makes a mesh root (EC keys: quick) and runs tar; slower under sanitizers. */
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_then_verify);
	tcase_add_test(tc, manifest_contents);
	tcase_add_test(tc, same_run_same_bytes);
	tcase_add_test(tc, system_tar_reads_it);
	tcase_add_test(tc, same_bytes_as_gnu_tar_ustar);
	tcase_add_test(tc, flipped_bytes_are_named);
	tcase_add_test(tc, renamed_added_and_duplicate_members);
	tcase_add_test(tc, structural_damage);
	tcase_add_test(tc, refuses_what_does_not_fit);
	tcase_add_test(tc, minimal_run_and_linked_evidence_folder);
	tcase_add_test(tc, images_from_manifests);
	if (bin != NULL)
		tcase_add_test(tc, cli_exit_codes);
	suite_add_tcase(s, tc);
	return t_main(s);
}
