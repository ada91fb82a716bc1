/*
 * Certification bundles (see bundle.h): a manifest, SHA256SUMS, the reports
 * and the evidence in a POSIX ustar archive written here byte by byte, and
 * a reader that checks such an archive without trusting any of it.
 */
#include "bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "pki.h"
#include "util.h"

#define BLOCK 512
#define RECORD 10240                    /* ustar's default record: 20 blocks */
#define NAME_LEN 100
#define PREFIX_LEN 155
#define MAX_MEMBER_SIZE 077777777777ULL /* eleven octal digits */
#define MAX_META_SIZE (64u << 20)       /* manifest.json and SHA256SUMS are read whole */
#define MAX_ROOT_SIZE (4u << 20)
#define MAX_DEPTH 64
#define IO_CHUNK 65536

#define MANIFEST "manifest.json"
#define SUMS "SHA256SUMS"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

/* Streaming SHA-256; aborts on an OpenSSL failure, which only lack of memory causes. */
static EVP_MD_CTX *
sha_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort();
	return c;
}

static void
sha_update(EVP_MD_CTX *c, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(c, p, n) != 1)
		abort();
}

/* Finishes c into 64 lowercase hex digits and frees it. */
static void
sha_final(EVP_MD_CTX *c, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(c, md, &n) != 1 || n != 32)
		abort();
	EVP_MD_CTX_free(c);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
sha_mem(const void *p, size_t n, char hex[65])
{
	EVP_MD_CTX *c = sha_new();

	sha_update(c, p, n);
	sha_final(c, hex);
}

/* Length of the well-formed UTF-8 character at s (n bytes left), or 0. */
static size_t
utf8_char(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/*
 * A copy of s (n bytes) safe to show and to put in JSON: bytes that are not
 * well-formed UTF-8 become the text "\xNN"; with controls set, control
 * characters and backslashes do too (for names in one-line messages).
 */
static char *
clean_text(const char *s, size_t n, bool controls)
{
	const unsigned char *u = (const unsigned char *)s;
	struct mc_buf b;

	mc_buf_init(&b, 0);
	(void)mc_buf_append(&b, "", 0);
	for (size_t i = 0; i < n;) {
		size_t l = utf8_char(u + i, n - i);

		if (l == 0 || (controls && l == 1 && (u[i] < 0x20 || u[i] == 0x7f || u[i] == '\\'))) {
			(void)mc_buf_printf(&b, "\\x%02X", u[i]);
			i++;
			continue;
		}
		(void)mc_buf_append(&b, u + i, l);
		i += l;
	}
	return mc_buf_steal(&b);
}

static char *
clean_str(const char *s)
{
	return clean_text(s != NULL ? s : "", s != NULL ? strlen(s) : 0, false);
}

static void
add_str(cJSON *o, const char *key, const char *v)
{
	char *s = clean_str(v);

	cJSON_AddStringToObject(o, key, s);
	free(s);
}

static void
add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		add_str(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void
add_time(cJSON *o, const char *key, double t)
{
	char buf[32];

	mc_time_iso8601(isfinite(t) ? t : 0, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

static int
write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to n bytes at off; returns the count (short only at the end of the file) or -errno. */
static ssize_t
pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Opens rel (a relative path of '/'-separated components) beneath the
 * directory dirfd without following a symbolic link anywhere on the way,
 * and only when it is a regular file. Returns the descriptor or -errno.
 */
static int
open_beneath(int dirfd, const char *rel)
{
	char *copy = mc_xstrdup(rel), *p = copy, *slash;
	int fd = dirfd, next;
	struct stat st;

	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd != dirfd)
			close(fd);
		if (next < 0) {
			free(copy);
			return -errno;
		}
		fd = next;
		p = slash + 1;
	}
	/* O_NONBLOCK: a FIFO put in place of the file must not hang the bundle. */
	next = openat(fd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (next < 0)
		next = -errno;
	if (fd != dirfd)
		close(fd);
	free(copy);
	if (next >= 0 && (fstat(next, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(next);
		return -EINVAL;
	}
	return next;
}

/* Opens path (not following a link at its last component) when it is a regular file. */
static int
open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Reads the whole of fd (at most max bytes) into a NUL-terminated buffer. */
static int
read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	struct mc_buf b;
	char chunk[8192];

	mc_buf_init(&b, max);
	(void)mc_buf_append(&b, "", 0);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			mc_buf_free(&b);
			return -e;
		}
		if (r == 0)
			break;
		if (mc_buf_append(&b, chunk, (size_t)r) < 0) {
			mc_buf_free(&b);
			return -EFBIG;
		}
	}
	*outlen = b.len;
	*out = mc_buf_steal(&b);
	return 0;
}

/* Hashes fd from its current position to its end; sets the byte count. */
static int
hash_fd(int fd, char hex[65], uint64_t *size)
{
	EVP_MD_CTX *c = sha_new();
	char *buf = mc_xmalloc(IO_CHUNK);
	uint64_t n = 0;
	int rc = 0;

	for (;;) {
		ssize_t r = read(fd, buf, IO_CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		sha_update(c, buf, (size_t)r);
		n += (uint64_t)r;
	}
	free(buf);
	sha_final(c, hex);
	*size = n;
	return rc;
}

/*
 * Where a path goes in a ustar header: *prefix_len bytes in the prefix
 * field (0 when it fits the name field), the rest after the '/' in name;
 * the prefix is as long as it can be. Returns false when it fits neither
 * way.
 */
static bool
ustar_split(const char *path, size_t *prefix_len)
{
	size_t len = strlen(path);

	*prefix_len = 0;
	if (len == 0)
		return false;
	if (len <= NAME_LEN)
		return true;
	/* The last '/' that leaves at most 155 bytes before it, as GNU tar splits. */
	for (size_t i = len - 1 < PREFIX_LEN ? len - 1 : PREFIX_LEN; i > 0; i--) {
		if (path[i] == '/') {
			if (len - i - 1 > NAME_LEN || len - i - 1 == 0)
				return false;
			*prefix_len = i;
			return true;
		}
	}
	return false;
}

/* Whether a member name is one the archive may hold: relative, no "." or ".." or empty component. */
static const char *
name_problem(const char *name)
{
	const char *p = name;

	if (*name == '\0')
		return "empty name";
	if (*name == '/')
		return "absolute path";
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t l = slash != NULL ? (size_t)(slash - p) : strlen(p);

		if (l == 0)
			return "empty path component";
		if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return "\".\" or \"..\" component";
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			return "control character or backslash in the name";
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                    */

enum src_kind {
	SRC_MEM,       /* data in memory */
	SRC_PATH,      /* a report: a path, its last component not followed */
	SRC_BENEATH,   /* evidence: relative to out_dir, no link followed */
};

struct member {
	char *name;
	enum src_kind kind;
	char *src;               /* path for SRC_PATH and SRC_BENEATH */
	const char *data;        /* SRC_MEM */
	uint64_t size;
	char sha[65];
};

struct member_list {
	struct member *v;
	size_t n;
};

static struct member *
member_add(struct member_list *l, const char *name, enum src_kind kind, const char *src)
{
	struct member *m;

	l->v = mc_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	m = &l->v[l->n++];
	memset(m, 0, sizeof(*m));
	m->name = mc_xstrdup(name);
	m->kind = kind;
	m->src = mc_xstrdup(src);
	return m;
}

static void
member_list_free(struct member_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].src);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Checks that a name can be archived and listed; the message names it. */
static int
check_name(const char *name, char *err, size_t errlen)
{
	size_t pl;
	const char *why = name_problem(name);

	if (why != NULL) {
		char *shown = clean_text(name, strlen(name), true);
		int rc = mc_err(err, errlen, EINVAL, "%s: cannot be archived: %s", shown, why);

		free(shown);
		return rc;
	}
	for (size_t i = 0, n = strlen(name); i < n;) {
		size_t l = utf8_char((const unsigned char *)name + i, n - i);

		if (l == 0) {
			char *shown = clean_text(name, n, true);
			int rc = mc_err(err, errlen, EINVAL, "%s: cannot be archived: the name is not UTF-8", shown);

			free(shown);
			return rc;
		}
		i += l;
	}
	if (!ustar_split(name, &pl))
		return mc_err(err, errlen, ENAMETOOLONG,
			      "%s: path of %zu bytes does not fit a ustar header (at most 100 bytes, or up to 155 "
			      "and 100 on either side of a '/')", name, strlen(name));
	return 0;
}

struct walk {
	struct member_list *files;
	cJSON *skipped;
};

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->name, ((const struct member *)b)->name);
}

static void
skip_entry(struct walk *w, const char *rel, const char *why)
{
	cJSON *e = cJSON_CreateObject();

	add_str(e, "path", rel);
	add_str(e, "why", why);
	cJSON_AddItemToArray(w->skipped, e);
}

/* Collects the regular files under the directory fd (archive path rel); takes fd. */
static int
walk_dir(struct walk *w, int fd, const char *rel, int depth, char *err, size_t errlen)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (d == NULL) {
		rc = mc_err(err, errlen, errno, "%s: %s", rel, strerror(errno));
		close(fd);
		return rc;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		names = mc_xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = mc_xstrdup(e->d_name);
	}
	if (errno != 0)
		rc = mc_err(err, errlen, errno, "%s: %s", rel, strerror(errno));
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_cstr);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path = mc_xasprintf("%s/%s", rel, names[i]);
		struct stat st;

		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = mc_err(err, errlen, errno, "%s: %s", path, strerror(errno));
		} else if (S_ISREG(st.st_mode)) {
			if ((rc = check_name(path, err, errlen)) == 0)
				member_add(w->files, path, SRC_BENEATH, path);
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (depth >= MAX_DEPTH) {
				rc = mc_err(err, errlen, ELOOP, "%s: more than %d folders deep", path, MAX_DEPTH);
			} else if ((sub = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				rc = mc_err(err, errlen, errno, "%s: %s", path, strerror(errno));
			} else {
				rc = walk_dir(w, sub, path, depth + 1, err, errlen);
			}
		} else if (S_ISLNK(st.st_mode)) {
			skip_entry(w, path, "symbolic link (not followed)");
		} else {
			skip_entry(w, path, "not a regular file");
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The manifest                                                               */

/* The text after label in v up to one of stops, trimmed; NULL when absent or "?". */
static char *
part_after(const char *v, const char *label, const char *stops)
{
	const char *p = strstr(v, label);
	size_t l;

	if (p == NULL)
		return NULL;
	p += strlen(label);
	l = strcspn(p, stops);
	while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
		l--;
	if (l == 0 || (l == 1 && p[0] == '?'))
		return NULL;
	return mc_xasprintf("%.*s", (int)l, p);
}

/* Clusters from the run properties "context NAME" = "Kubernetes V, Istio V (revision R)". */
static cJSON *
clusters_json(const struct mc_run *run)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < run->n_props; i++) {
		const struct mc_property *p = &run->props[i];
		const char *v = p->value != NULL ? p->value : "";
		cJSON *c;
		char *k, *is, *rev;

		if (strncmp(p->name, "context ", 8) != 0 || p->name[8] == '\0')
			continue;
		c = cJSON_CreateObject();
		k = strncmp(v, "Kubernetes ", 11) == 0 ? part_after(v, "Kubernetes ", ",(") : NULL;
		is = part_after(v, "Istio ", ",(");
		rev = part_after(v, "(revision ", ")");
		add_str(c, "context", p->name + 8);
		add_str_or_null(c, "kubernetes", k);
		add_str_or_null(c, "istio", is);
		add_str_or_null(c, "revision", rev);
		add_str(c, "description", v);
		cJSON_AddItemToArray(a, c);
		free(k);
		free(is);
		free(rev);
	}
	return a;
}

/* Adds a root's entry: the PEM file's SHA-256 and each certificate's subject and fingerprint. */
static int
add_root(cJSON *roots, const char *path, const char *suite, const char *data, size_t len, char *err, size_t errlen)
{
	struct mc_chain *ch = NULL;
	cJSON *r, *certs;
	char hex[65];
	int rc;

	rc = mc_chain_parse_pem(data, len, path, &ch, err, errlen);
	if (rc < 0)
		return rc;
	sha_mem(data, len, hex);
	r = cJSON_CreateObject();
	add_str(r, "path", path);
	add_str_or_null(r, "suite", suite);
	cJSON_AddStringToObject(r, "sha256", hex);
	certs = cJSON_AddArrayToObject(r, "certificates");
	for (size_t i = 0; i < mc_chain_count(ch); i++) {
		struct mc_cert_info ci;
		cJSON *c;

		if ((rc = mc_cert_info_get(ch, i, &ci, err, errlen)) < 0) {
			cJSON_Delete(r);
			mc_chain_free(ch);
			return rc;
		}
		c = cJSON_CreateObject();
		add_str(c, "subject", ci.subject);
		cJSON_AddStringToObject(c, "sha256", ci.fingerprint);
		add_time(c, "not_after", (double)ci.not_after);
		cJSON_AddItemToArray(certs, c);
		mc_cert_info_clear(&ci);
	}
	mc_chain_free(ch);
	cJSON_AddItemToArray(roots, r);
	return 0;
}

/* The roots of info, then those of suite properties "mesh_root" (paths under out_dir). */
static int
roots_json(const struct mc_run *run, int outfd, const struct mc_bundle_info *info, cJSON **out, char *err,
	   size_t errlen)
{
	cJSON *roots = cJSON_CreateArray();
	int rc = 0;

	for (size_t i = 0; i < info->n_roots && rc == 0; i++) {
		char *data = NULL;
		size_t len = 0;

		rc = mc_file_read(info->roots[i], MAX_ROOT_SIZE, &data, &len, err, errlen);
		if (rc == 0)
			rc = add_root(roots, info->roots[i], NULL, data, len, err, errlen);
		free(data);
	}
	for (size_t i = 0; i < run->n_suites && rc == 0; i++) {
		const struct mc_suite *s = run->suites[i];

		for (size_t j = 0; j < s->n_props && rc == 0; j++) {
			const char *rel = s->props[j].value;
			char *data = NULL;
			size_t len = 0;
			int fd;

			if (strcmp(s->props[j].name, "mesh_root") != 0)
				continue;
			if (name_problem(rel) != NULL) {
				rc = mc_err(err, errlen, EINVAL, "suite %s: mesh_root \"%s\": not a path inside the report "
						   "folder", s->name, rel);
				break;
			}
			fd = open_beneath(outfd, rel);
			if (fd < 0) {
				rc = mc_err(err, errlen, -fd, "suite %s: mesh_root %s: %s", s->name, rel,
					    fd == -EINVAL ? "not a regular file" : strerror(-fd));
				break;
			}
			rc = read_fd(fd, MAX_ROOT_SIZE, &data, &len);
			close(fd);
			if (rc < 0)
				rc = mc_err(err, errlen, -rc, "suite %s: mesh_root %s: %s", s->name, rel, strerror(-rc));
			else
				rc = add_root(roots, rel, s->name, data, len, err, errlen);
			free(data);
		}
	}
	if (rc < 0) {
		cJSON_Delete(roots);
		return rc;
	}
	*out = roots;
	return 0;
}

/* The trust domain given, else the one every suite property "trust_domain" agrees on. */
static const char *
trust_domain(const struct mc_run *run, const struct mc_bundle_info *info)
{
	const char *td = NULL;

	if (info->trust_domain != NULL)
		return info->trust_domain;
	for (size_t i = 0; i < run->n_suites; i++)
		for (size_t j = 0; j < run->suites[i]->n_props; j++) {
			const struct mc_property *p = &run->suites[i]->props[j];

			if (strcmp(p->name, "trust_domain") != 0)
				continue;
			if (td != NULL && strcmp(td, p->value) != 0)
				return NULL;
			td = p->value;
		}
	return td;
}

static cJSON *
props_json(const struct mc_property *props, size_t n)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < n; i++) {
		char *k = clean_str(props[i].name);

		add_str(o, k, props[i].value);
		free(k);
	}
	return o;
}

static cJSON *
manifest_json(const struct mc_run *run, const struct mc_bundle_info *info, cJSON *roots,
	      const struct member_list *files, cJSON *skipped)
{
	cJSON *m = cJSON_CreateObject(), *r, *a, *k;
	struct mc_counts c = mc_run_counts(run);
	double d = run->end - run->start;

	if (run->aborted != NULL) {
		c.total++;
		c.errors++;
	}
	cJSON_AddStringToObject(m, "schema", MC_BUNDLE_SCHEMA);
	cJSON_AddStringToObject(m, "meshcheck_version", MC_VERSION);
	r = cJSON_AddObjectToObject(m, "run");
	add_str(r, "id", run->id);
	add_str(r, "target", run->target);
	add_str(r, "hostname", run->hostname);
	add_time(r, "start", run->start);
	add_time(r, "end", run->end);
	cJSON_AddNumberToObject(r, "duration_s", isfinite(d) ? round(d * 1000.0) / 1000.0 : 0);
	add_str_or_null(r, "aborted", run->aborted);
	cJSON_AddNumberToObject(r, "exit_code", mc_run_exit_code(run));
	cJSON_AddItemToObject(m, "properties", props_json(run->props, run->n_props));
	cJSON_AddItemToObject(m, "clusters", clusters_json(run));
	add_str_or_null(m, "trust_domain", trust_domain(run, info));
	cJSON_AddItemToObject(m, "roots", roots);
	a = cJSON_AddArrayToObject(m, "images");
	for (size_t i = 0; i < info->n_images; i++) {
		char *s = clean_str(info->images[i]);

		cJSON_AddItemToArray(a, cJSON_CreateString(s));
		free(s);
	}
	k = cJSON_AddObjectToObject(m, "summary");
	cJSON_AddNumberToObject(k, "total", (double)c.total);
	cJSON_AddNumberToObject(k, "passed", (double)c.passed);
	cJSON_AddNumberToObject(k, "failed", (double)c.failed);
	cJSON_AddNumberToObject(k, "skipped", (double)c.skipped);
	cJSON_AddNumberToObject(k, "errors", (double)c.errors);
	a = cJSON_AddArrayToObject(m, "suites");
	for (size_t i = 0; i < run->n_suites; i++) {
		const struct mc_suite *s = run->suites[i];
		cJSON *so = cJSON_CreateObject(), *cases;

		add_str(so, "name", s->name);
		add_str_or_null(so, "file", s->file);
		cJSON_AddItemToObject(so, "properties", props_json(s->props, s->n_props));
		cases = cJSON_AddArrayToObject(so, "cases");
		for (size_t j = 0; j < s->n_cases; j++) {
			const struct mc_case *cs = s->cases[j];
			cJSON *co = cJSON_CreateObject(), *ev;

			add_str(co, "name", cs->name);
			add_str(co, "check", cs->check != NULL ? cs->check : "");
			cJSON_AddStringToObject(co, "status", mc_status_name(cs->status));
			add_str_or_null(co, "reason", cs->reason);
			ev = cJSON_AddArrayToObject(co, "evidence");
			for (size_t e = 0; e < cs->n_evidence; e++) {
				char *p = clean_str(cs->evidence[e].path);

				cJSON_AddItemToArray(ev, cJSON_CreateString(p));
				free(p);
			}
			cJSON_AddItemToArray(cases, co);
		}
		cJSON_AddItemToArray(a, so);
	}
	a = cJSON_AddArrayToObject(m, "files");
	for (size_t i = 0; i < files->n; i++) {
		cJSON *f = cJSON_CreateObject();

		cJSON_AddStringToObject(f, "path", files->v[i].name);
		cJSON_AddStringToObject(f, "sha256", files->v[i].sha);
		cJSON_AddNumberToObject(f, "size", (double)files->v[i].size);
		cJSON_AddItemToArray(a, f);
	}
	cJSON_AddItemToObject(m, "skipped", skipped);
	return m;
}

/* ------------------------------------------------------------------------ */
/* The archive                                                                */

/* Writes v as width-1 zero-padded octal digits and a NUL. */
static void
octal_field(unsigned char *field, size_t width, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1), (unsigned long long)v);
	memcpy(field, tmp, width - 1);
	field[width - 1] = '\0';
}

static unsigned
header_sum(const unsigned char h[BLOCK])
{
	unsigned sum = 0;

	for (size_t i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? (unsigned)' ' : h[i];
	return sum;
}

/* A ustar header for a regular file (the name was checked with check_name). */
static void
ustar_header(unsigned char h[BLOCK], const char *name, uint64_t size, uint64_t mtime)
{
	size_t pl = 0, len = strlen(name);

	(void)ustar_split(name, &pl);
	memset(h, 0, BLOCK);
	if (pl == 0) {
		memcpy(h, name, len);
	} else {
		memcpy(h + 345, name, pl);
		memcpy(h, name + pl + 1, len - pl - 1);
	}
	octal_field(h + 100, 8, 0644);
	octal_field(h + 108, 8, 0);
	octal_field(h + 116, 8, 0);
	octal_field(h + 124, 12, size);
	octal_field(h + 136, 12, mtime);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	octal_field(h + 329, 8, 0);
	octal_field(h + 337, 8, 0);
	snprintf((char *)h + 148, 8, "%06o", header_sum(h));
	h[155] = ' ';
}

/* Copies a file member into the archive, checking it is still what was hashed. */
static int
copy_member(int out, int outfd, const struct member *m, char *err, size_t errlen)
{
	int fd = m->kind == SRC_PATH ? open_regular(m->src) : open_beneath(outfd, m->src);
	char *buf;
	EVP_MD_CTX *c;
	uint64_t left = m->size;
	char hex[65];
	struct stat st;
	int rc = 0;

	if (fd < 0)
		return mc_err(err, errlen, -fd, "%s: %s", m->src, fd == -EINVAL ? "not a regular file" : strerror(-fd));
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != m->size) {
		close(fd);
		return mc_err(err, errlen, EAGAIN, "%s: changed while the bundle was written", m->src);
	}
	buf = mc_xmalloc(IO_CHUNK);
	c = sha_new();
	while (left > 0 && rc == 0) {
		ssize_t r = read(fd, buf, left < IO_CHUNK ? (size_t)left : IO_CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = mc_err(err, errlen, errno, "%s: %s", m->src, strerror(errno));
		else if (r == 0)
			rc = mc_err(err, errlen, EAGAIN, "%s: changed while the bundle was written", m->src);
		else if ((rc = write_all(out, buf, (size_t)r)) < 0)
			rc = mc_err(err, errlen, -rc, "writing the archive: %s", strerror(-rc));
		else {
			sha_update(c, buf, (size_t)r);
			left -= (uint64_t)r;
		}
	}
	sha_final(c, hex);
	free(buf);
	close(fd);
	if (rc == 0 && strcmp(hex, m->sha) != 0)
		rc = mc_err(err, errlen, EAGAIN, "%s: changed while the bundle was written", m->src);
	return rc;
}

/* Writes the archive of members to path atomically. */
static int
write_tar(const char *path, int outfd, const struct member *v, size_t n, uint64_t mtime, char *err, size_t errlen)
{
	char *tmp = mc_xasprintf("%s.tmp.%ld", path, (long)getpid());
	static const unsigned char zeros[RECORD];
	unsigned char h[BLOCK];
	uint64_t total = 0;
	int fd, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = mc_err(err, errlen, errno, "%s: cannot create: %s", path, strerror(errno));
		free(tmp);
		return rc;
	}
	if (fchmod(fd, 0644) < 0)
		rc = mc_err(err, errlen, errno, "%s: chmod: %s", path, strerror(errno));
	for (size_t i = 0; i < n && rc == 0; i++) {
		size_t pad = (size_t)((BLOCK - v[i].size % BLOCK) % BLOCK);

		ustar_header(h, v[i].name, v[i].size, mtime);
		if ((rc = write_all(fd, h, BLOCK)) < 0) {
			rc = mc_err(err, errlen, -rc, "%s: write: %s", path, strerror(-rc));
			break;
		}
		if (v[i].kind == SRC_MEM) {
			if ((rc = write_all(fd, v[i].data, (size_t)v[i].size)) < 0)
				rc = mc_err(err, errlen, -rc, "%s: write: %s", path, strerror(-rc));
		} else {
			rc = copy_member(fd, outfd, &v[i], err, errlen);
		}
		if (rc == 0 && (rc = write_all(fd, zeros, pad)) < 0)
			rc = mc_err(err, errlen, -rc, "%s: write: %s", path, strerror(-rc));
		total += BLOCK + v[i].size + pad;
	}
	if (rc == 0) {
		/* Two zero blocks end the archive; zeros fill the last record. */
		size_t end = 2 * BLOCK + (size_t)((RECORD - (total + 2 * BLOCK) % RECORD) % RECORD);

		if ((rc = write_all(fd, zeros, end < sizeof(zeros) ? end : sizeof(zeros))) == 0 && end > sizeof(zeros))
			rc = write_all(fd, zeros, end - sizeof(zeros));
		if (rc < 0)
			rc = mc_err(err, errlen, -rc, "%s: write: %s", path, strerror(-rc));
	}
	if (close(fd) < 0 && rc == 0)
		rc = mc_err(err, errlen, errno, "%s: close: %s", path, strerror(errno));
	if (rc == 0 && rename(tmp, path) < 0)
		rc = mc_err(err, errlen, errno, "%s: rename: %s", path, strerror(errno));
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Hashes every file member (and records its size), refusing what the archive cannot hold. */
static int
hash_members(struct member_list *l, int outfd, char *err, size_t errlen)
{
	for (size_t i = 0; i < l->n; i++) {
		struct member *m = &l->v[i];
		int fd = m->kind == SRC_PATH ? open_regular(m->src) : open_beneath(outfd, m->src);
		int rc;

		if (fd < 0)
			return mc_err(err, errlen, -fd, "%s: %s", m->src,
				      fd == -EINVAL ? "not a regular file" : strerror(-fd));
		rc = hash_fd(fd, m->sha, &m->size);
		close(fd);
		if (rc < 0)
			return mc_err(err, errlen, -rc, "%s: %s", m->src, strerror(-rc));
		if (m->size > MAX_MEMBER_SIZE)
			return mc_err(err, errlen, EFBIG, "%s: %llu bytes, more than a ustar member can hold (8 GiB - 1)",
				      m->src, (unsigned long long)m->size);
	}
	return 0;
}

/* Collects the evidence folder's regular files (none when it is missing). */
static int
collect_evidence(int outfd, struct walk *w, char *err, size_t errlen)
{
	int fd = openat(outfd, "evidence", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t first = w->files->n;
	struct stat st;
	int rc;

	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return 0;
		if (fstatat(outfd, "evidence", &st, AT_SYMLINK_NOFOLLOW) == 0) {
			skip_entry(w, "evidence", S_ISLNK(st.st_mode) ? "symbolic link (not followed)" : "not a folder");
			return 0;
		}
		return mc_err(err, errlen, e, "evidence: %s", strerror(e));
	}
	rc = walk_dir(w, fd, "evidence", 1, err, errlen);
	if (rc == 0 && w->files->n - first > 1)
		qsort(w->files->v + first, w->files->n - first, sizeof(*w->files->v), cmp_member);
	return rc;
}

int
mc_bundle_write(const struct mc_run *run, const char *out_dir, const struct mc_bundle_info *info,
		char **bundle_path, char *err, size_t errlen)
{
	static const struct mc_bundle_info none;
	static const char *const report_names[] = {"junit.xml", "report.html", "report.json"};
	struct member_list files = {0}, all = {0};
	struct walk w = {.files = &files};
	cJSON *manifest = NULL, *roots = NULL;
	char *printed = NULL, *mtext = NULL, *sums = NULL, *tar_name = NULL, *p = NULL;
	struct mc_buf sb;
	double end;
	int outfd = -1, rc;

	*bundle_path = NULL;
	if (info == NULL)
		info = &none;
	if (run == NULL || run->id == NULL)
		return mc_err(err, errlen, EINVAL, "bundle: no run");
	tar_name = mc_xasprintf("meshcheck-%s.tar", run->id);
	if (run->id[0] == '\0' || strchr(run->id, '/') != NULL || name_problem(tar_name) != NULL) {
		rc = mc_err(err, errlen, EINVAL, "bundle: run id \"%s\" cannot name a file", run->id);
		free(tar_name);
		return rc;
	}
	w.skipped = cJSON_CreateArray();
	outfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (outfd < 0) {
		rc = mc_err(err, errlen, errno, "%s: %s", out_dir, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		const char *given = i == 0 ? info->junit : i == 1 ? info->html : info->json;
		char *src = given != NULL ? mc_xstrdup(given) : mc_xasprintf("%s/%s", out_dir, report_names[i]);

		member_add(&files, report_names[i], SRC_PATH, src);
		free(src);
	}
	if ((rc = collect_evidence(outfd, &w, err, errlen)) < 0 || (rc = hash_members(&files, outfd, err, errlen)) < 0 ||
	    (rc = roots_json(run, outfd, info, &roots, err, errlen)) < 0)
		goto out;

	manifest = manifest_json(run, info, roots, &files, w.skipped);
	w.skipped = NULL;
	printed = cJSON_Print(manifest);
	if (printed == NULL) {
		rc = mc_err(err, errlen, ENOMEM, "manifest.json: cannot serialise");
		goto out;
	}
	mtext = mc_xasprintf("%s\n", printed);

	/* The archive's order: manifest, sums, then the reports and evidence. */
	member_add(&all, MANIFEST, SRC_MEM, NULL)->data = mtext;
	all.v[0].size = strlen(mtext);
	sha_mem(mtext, strlen(mtext), all.v[0].sha);
	member_add(&all, SUMS, SRC_MEM, NULL);
	for (size_t i = 0; i < files.n; i++) {
		struct member *m = member_add(&all, files.v[i].name, files.v[i].kind, files.v[i].src);

		m->size = files.v[i].size;
		memcpy(m->sha, files.v[i].sha, sizeof(m->sha));
	}
	mc_buf_init(&sb, 0);
	(void)mc_buf_append(&sb, "", 0);
	for (size_t i = 0; i < all.n; i++)
		if (i != 1 && mc_buf_printf(&sb, "%s  %s\n", all.v[i].sha, all.v[i].name) < 0) {
			mc_buf_free(&sb);
			rc = mc_err(err, errlen, E2BIG, "SHA256SUMS: too many files");
			goto out;
		}
	sums = mc_buf_steal(&sb);
	all.v[1].data = sums;
	all.v[1].size = strlen(sums);
	sha_mem(sums, strlen(sums), all.v[1].sha);

	p = mc_xasprintf("%s/%s", out_dir, MANIFEST);
	rc = mc_file_write(p, mtext, strlen(mtext), 0644, err, errlen);
	free(p);
	p = NULL;
	if (rc < 0)
		goto out;
	p = mc_xasprintf("%s/%s", out_dir, SUMS);
	rc = mc_file_write(p, sums, strlen(sums), 0644, err, errlen);
	free(p);
	p = NULL;
	if (rc < 0)
		goto out;

	end = isfinite(run->end) && run->end > 0 ? floor(run->end) : 0;
	if (end > (double)MAX_MEMBER_SIZE)
		end = (double)MAX_MEMBER_SIZE;
	p = mc_xasprintf("%s/%s", out_dir, tar_name);
	rc = write_tar(p, outfd, all.v, all.n, (uint64_t)end, err, errlen);
	if (rc == 0) {
		*bundle_path = p;
		p = NULL;
	}
out:
	free(p);
	free(sums);
	free(mtext);
	if (printed != NULL)
		cJSON_free(printed);
	if (manifest != NULL)
		cJSON_Delete(manifest);
	else
		cJSON_Delete(roots);
	cJSON_Delete(w.skipped);
	member_list_free(&files);
	member_list_free(&all);
	free(tar_name);
	if (outfd >= 0)
		close(outfd);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Verifying                                                                  */

struct vmember {
	char *name;
	uint64_t off;            /* of its header */
	uint64_t size;
	char sha[65];
	bool in_sums, in_manifest;
	bool bad;                /* some list disagrees with it */
};

struct verifier {
	const char *path;
	FILE *report;
	struct mc_bundle_summary *sum;
	struct vmember *m;
	size_t n;
	char *manifest, *sums;   /* their data, NUL-terminated */
	size_t manifest_len, sums_len;
};

static void
vproblem(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records and prints one problem line. */
static void
vproblem(struct verifier *v, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = mc_xvasprintf(fmt, ap);
	va_end(ap);
	if (v->report != NULL) {
		fprintf(v->report, "%s\n", line);
		fflush(v->report);
	}
	v->sum->problems = mc_xrealloc(v->sum->problems, (v->sum->n_problems + 1) * sizeof(char *));
	v->sum->problems[v->sum->n_problems++] = line;
}

/* A structural problem: recorded, and returned as -EBADMSG with the same text in err. */
static int
vbroken(struct verifier *v, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
vbroken(struct verifier *v, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = mc_xvasprintf(fmt, ap);
	va_end(ap);
	vproblem(v, "%s", msg);
	mc_err(err, errlen, EBADMSG, "%s: %s", v->path, msg);
	free(msg);
	return -EBADMSG;
}

/* Parses an octal numeric field: optional leading spaces, digits, then only NULs or spaces. */
static bool
parse_octal(const unsigned char *f, size_t w, uint64_t *out)
{
	size_t i = 0;
	uint64_t val = 0;
	bool digits = false;

	while (i < w && f[i] == ' ')
		i++;
	for (; i < w && f[i] >= '0' && f[i] <= '7'; i++) {
		if (val >> 60)
			return false;
		val = val * 8 + (uint64_t)(f[i] - '0');
		digits = true;
	}
	for (; i < w; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return false;
	*out = val;
	return digits;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static struct vmember *
vfind(struct verifier *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->m[i].name, name) == 0)
			return &v->m[i];
	return NULL;
}

/* Reads the archive's structure, hashing each member; keeps manifest.json's and SHA256SUMS's data. */
static int
read_archive(struct verifier *v, int fd, uint64_t fsize, char *err, size_t errlen)
{
	unsigned char h[BLOCK];
	unsigned char *buf = NULL;
	uint64_t off = 0;
	int rc = 0;

	for (;;) {
		char name[NAME_LEN + 1 + PREFIX_LEN + 1], *shown;
		size_t nl, pl;
		uint64_t stored = 0, size = 0, field = 0, padded = 0;
		const char *why;
		struct vmember *m;
		ssize_t r;

		if (off == fsize) {
			rc = vbroken(v, err, errlen, "byte offset %llu: the archive ends without its end-of-archive blocks "
					     "(truncated%s%s)", (unsigned long long)off,
				     v->n > 0 ? " after " : "", v->n > 0 ? v->m[v->n - 1].name : "");
			break;
		}
		if (fsize - off < BLOCK) {
			rc = vbroken(v, err, errlen, "byte offset %llu: truncated header (%llu bytes left, a header has 512)",
				     (unsigned long long)off, (unsigned long long)(fsize - off));
			break;
		}
		if ((r = pread_full(fd, h, BLOCK, off)) != BLOCK) {
			rc = mc_err(err, errlen, r < 0 ? (int)-r : EIO, "%s: read at offset %llu: %s", v->path,
				    (unsigned long long)off, r < 0 ? strerror((int)-r) : "short read");
			break;
		}
		if (all_zero(h, BLOCK)) {
			/* The end: a second zero block, then nothing but zeros. */
			uint64_t at;

			if (fsize - off < 2 * BLOCK ||
			    pread_full(fd, h, BLOCK, off + BLOCK) != BLOCK || !all_zero(h, BLOCK)) {
				rc = vbroken(v, err, errlen, "byte offset %llu: a single zero block where the "
						     "end-of-archive needs two (truncated or damaged)", (unsigned long long)off);
				break;
			}
			if (buf == NULL)
				buf = mc_xmalloc(IO_CHUNK);
			for (at = off + 2 * BLOCK; at < fsize && rc == 0;) {
				size_t want = fsize - at < IO_CHUNK ? (size_t)(fsize - at) : IO_CHUNK;

				r = pread_full(fd, buf, want, at);
				if (r != (ssize_t)want) {
					rc = mc_err(err, errlen, EIO, "%s: read at offset %llu failed", v->path,
						    (unsigned long long)at);
					break;
				}
				for (size_t i = 0; i < want; i++)
					if (buf[i] != 0) {
						rc = vbroken(v, err, errlen, "byte offset %llu: data after the end of the "
								     "archive", (unsigned long long)(at + i));
						break;
					}
				at += want;
			}
			if (rc == 0 && fsize % BLOCK != 0)
				rc = vbroken(v, err, errlen, "the archive's size (%llu bytes) is not a multiple of 512",
					     (unsigned long long)fsize);
			break;
		}

		nl = strnlen((const char *)h, NAME_LEN);
		pl = strnlen((const char *)h + 345, PREFIX_LEN);
		if (pl > 0)
			snprintf(name, sizeof(name), "%.*s/%.*s", (int)pl, (const char *)h + 345, (int)nl, (const char *)h);
		else
			snprintf(name, sizeof(name), "%.*s", (int)nl, (const char *)h);
		shown = clean_text(name, strlen(name), true);

		if (!parse_octal(h + 148, 8, &stored) || stored != header_sum(h)) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: bad header checksum "
						     "(computed %06o)", shown, (unsigned long long)off, header_sum(h));
		} else if (memcmp(h + 257, "ustar", 6) != 0 || memcmp(h + 263, "00", 2) != 0) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: not a POSIX ustar header%s", shown,
				     (unsigned long long)off,
				     memcmp(h + 257, "ustar ", 6) == 0 ? " (GNU tar's format)" : "");
		} else if (h[156] != '0' && h[156] != '\0') {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: not a regular file (type '%c')",
				     shown, (unsigned long long)off, h[156] >= 0x20 && h[156] < 0x7f ? h[156] : '?');
		} else if (!parse_octal(h + 124, 12, &size)) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: malformed size field", shown,
				     (unsigned long long)off);
		} else if (!parse_octal(h + 100, 8, &field) || !parse_octal(h + 108, 8, &field) ||
			   !parse_octal(h + 116, 8, &field) || !parse_octal(h + 136, 12, &field)) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: malformed mode, uid, gid or mtime "
						     "field", shown, (unsigned long long)off);
		} else if ((why = name_problem(name)) != NULL) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: unsafe name: %s", shown,
				     (unsigned long long)off, why);
		} else if ((padded = size + (BLOCK - size % BLOCK) % BLOCK) > fsize - off - BLOCK) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: its %llu bytes of data run past "
						     "the end of the archive (%llu bytes)", shown, (unsigned long long)off,
				     (unsigned long long)size, (unsigned long long)fsize);
		} else if ((m = vfind(v, name)) != NULL) {
			rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: duplicate name (first at byte "
						     "offset %llu)", shown, (unsigned long long)off, (unsigned long long)m->off);
		}
		free(shown);
		if (rc < 0)
			break;

		v->m = mc_xrealloc(v->m, (v->n + 1) * sizeof(*v->m));
		m = &v->m[v->n++];
		memset(m, 0, sizeof(*m));
		m->name = mc_xstrdup(name);
		m->off = off;
		m->size = size;
		{
			bool meta = strcmp(name, MANIFEST) == 0 || strcmp(name, SUMS) == 0;
			char **keep = strcmp(name, MANIFEST) == 0 ? &v->manifest : &v->sums;
			EVP_MD_CTX *c = sha_new();
			uint64_t at = off + BLOCK, left = size;

			if (meta && size > MAX_META_SIZE) {
				sha_final(c, m->sha);
				rc = vbroken(v, err, errlen, "%s: header at byte offset %llu: larger than %u MiB",
					     name, (unsigned long long)off, MAX_META_SIZE >> 20);
				break;
			}
			if (meta) {
				*keep = mc_xmalloc((size_t)size + 1);
				(*keep)[size] = '\0';
				if (keep == &v->manifest)
					v->manifest_len = (size_t)size;
				else
					v->sums_len = (size_t)size;
			}
			if (buf == NULL)
				buf = mc_xmalloc(IO_CHUNK);
			while (left > 0) {
				size_t want = left < IO_CHUNK ? (size_t)left : IO_CHUNK;

				r = pread_full(fd, buf, want, at);
				if (r != (ssize_t)want) {
					rc = mc_err(err, errlen, EIO, "%s: read at offset %llu failed", v->path,
						    (unsigned long long)at);
					break;
				}
				sha_update(c, buf, want);
				if (meta)
					memcpy(*keep + (at - off - BLOCK), buf, want);
				at += want;
				left -= want;
			}
			sha_final(c, m->sha);
			if (rc < 0)
				break;
		}
		off += BLOCK + padded;
	}
	free(buf);
	return rc;
}

static bool
is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static void
lower64(const char *s, char out[65])
{
	for (int i = 0; i < 64; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	out[64] = '\0';
}

/* Every line of SHA256SUMS against the members, and every member against SHA256SUMS. */
static void
check_sums(struct verifier *v)
{
	const char *p = v->sums, *end = v->sums + v->sums_len;
	size_t line = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		char *path, *shown, hex[65];
		struct vmember *m;

		line++;
		if (len < 67 || !is_hex64(p) || p[64] != ' ' || (p[65] != ' ' && p[65] != '*') ||
		    memchr(p, '\0', len) != NULL) {
			char *bad = clean_text(p, len > 80 ? 80 : len, true);

			vproblem(v, SUMS " line %zu: not \"<sha256>  <path>\": %s", line, bad);
			free(bad);
			p += len + 1;
			continue;
		}
		lower64(p, hex);
		path = mc_xasprintf("%.*s", (int)(len - 66), p + 66);
		shown = clean_text(path, strlen(path), true);
		m = vfind(v, path);
		if (strcmp(path, SUMS) == 0)
			vproblem(v, SUMS " line %zu: lists " SUMS " itself", line);
		else if (m == NULL)
			vproblem(v, SUMS " line %zu: %s is listed but not in the archive", line, shown);
		else if (m->in_sums)
			vproblem(v, SUMS " line %zu: %s is listed twice", line, shown);
		else {
			m->in_sums = true;
			if (strcmp(m->sha, hex) != 0) {
				m->bad = true;
				vproblem(v, "%s: SHA-256 is %s, " SUMS " line %zu says %s", shown, m->sha, line, hex);
			}
		}
		free(shown);
		free(path);
		p += len + 1;
	}
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->m[i].name, SUMS) != 0 && !v->m[i].in_sums) {
			char *shown = clean_text(v->m[i].name, strlen(v->m[i].name), true);

			v->m[i].bad = true;
			vproblem(v, "%s: in the archive but not listed in " SUMS, shown);
			free(shown);
		}
}

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(i) ? i->valuestring : NULL;
}

static size_t
jcount(const cJSON *o, const char *key)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(i) && i->valuedouble >= 0 && i->valuedouble < 1e15 ? (size_t)i->valuedouble : 0;
}

/* The manifest's files against the members, and every member against the manifest. */
static void
check_manifest_files(struct verifier *v, const cJSON *files)
{
	const cJSON *f;
	size_t i = 0;

	if (!cJSON_IsArray(files)) {
		vproblem(v, MANIFEST ": no \"files\" list");
		return;
	}
	cJSON_ArrayForEach(f, files) {
		const char *path = jstr(f, "path"), *sha = jstr(f, "sha256");
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
		struct vmember *m;
		char *shown;

		if (path == NULL || sha == NULL || strlen(sha) != 64 || !is_hex64(sha) || !cJSON_IsNumber(size) ||
		    size->valuedouble < 0) {
			vproblem(v, MANIFEST ": files[%zu]: not {\"path\", \"sha256\", \"size\"}", i++);
			continue;
		}
		shown = clean_text(path, strlen(path), true);
		m = vfind(v, path);
		if (strcmp(path, MANIFEST) == 0 || strcmp(path, SUMS) == 0)
			vproblem(v, MANIFEST ": files[%zu]: lists %s, which it cannot", i, shown);
		else if (m == NULL)
			vproblem(v, MANIFEST ": files[%zu]: %s is listed but not in the archive", i, shown);
		else if (m->in_manifest)
			vproblem(v, MANIFEST ": files[%zu]: %s is listed twice", i, shown);
		else {
			char hex[65];

			m->in_manifest = true;
			lower64(sha, hex);
			if (strcmp(m->sha, hex) != 0) {
				m->bad = true;
				vproblem(v, "%s: SHA-256 is %s, " MANIFEST " says %s", shown, m->sha, hex);
			}
			if ((double)m->size != size->valuedouble) {
				m->bad = true;
				vproblem(v, "%s: %llu bytes, " MANIFEST " says %.0f", shown, (unsigned long long)m->size,
					 size->valuedouble);
			}
		}
		free(shown);
		i++;
	}
	for (size_t j = 0; j < v->n; j++) {
		const char *name = v->m[j].name;

		if (strcmp(name, MANIFEST) != 0 && strcmp(name, SUMS) != 0 && !v->m[j].in_manifest) {
			char *shown = clean_text(name, strlen(name), true);

			v->m[j].bad = true;
			vproblem(v, "%s: in the archive but not listed in " MANIFEST, shown);
			free(shown);
		}
	}
}

/* The manifest's facts into the summary. */
static void
read_facts(struct mc_bundle_summary *s, const cJSON *man)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(man, "run");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(man, "summary"), *e;

	s->schema = mc_xstrdup(jstr(man, "schema"));
	s->version = mc_xstrdup(jstr(man, "meshcheck_version"));
	s->trust_domain = mc_xstrdup(jstr(man, "trust_domain"));
	if (cJSON_IsObject(run)) {
		s->run_id = mc_xstrdup(jstr(run, "id"));
		s->target = mc_xstrdup(jstr(run, "target"));
		s->start = mc_xstrdup(jstr(run, "start"));
		s->end = mc_xstrdup(jstr(run, "end"));
	}
	if (cJSON_IsObject(k)) {
		s->total = jcount(k, "total");
		s->passed = jcount(k, "passed");
		s->failed = jcount(k, "failed");
		s->skipped = jcount(k, "skipped");
		s->errors = jcount(k, "errors");
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(man, "clusters")) {
		struct mc_bundle_cluster *c;

		if (!cJSON_IsObject(e) || jstr(e, "context") == NULL)
			continue;
		s->clusters = mc_xrealloc(s->clusters, (s->n_clusters + 1) * sizeof(*s->clusters));
		c = &s->clusters[s->n_clusters++];
		c->context = mc_xstrdup(jstr(e, "context"));
		c->kubernetes = mc_xstrdup(jstr(e, "kubernetes"));
		c->istio = mc_xstrdup(jstr(e, "istio"));
		c->revision = mc_xstrdup(jstr(e, "revision"));
		c->description = mc_xstrdup(jstr(e, "description"));
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(man, "roots")) {
		if (jstr(e, "sha256") == NULL)
			continue;
		s->root_fingerprints = mc_xrealloc(s->root_fingerprints, (s->n_roots + 1) * sizeof(char *));
		s->root_fingerprints[s->n_roots++] = mc_xstrdup(jstr(e, "sha256"));
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(man, "images")) {
		if (!cJSON_IsString(e))
			continue;
		s->images = mc_xrealloc(s->images, (s->n_images + 1) * sizeof(char *));
		s->images[s->n_images++] = mc_xstrdup(e->valuestring);
	}
}

void
mc_bundle_summary_clear(struct mc_bundle_summary *s)
{
	if (s == NULL)
		return;
	free(s->schema);
	free(s->version);
	free(s->run_id);
	free(s->target);
	free(s->start);
	free(s->end);
	free(s->trust_domain);
	for (size_t i = 0; i < s->n_clusters; i++) {
		free(s->clusters[i].context);
		free(s->clusters[i].kubernetes);
		free(s->clusters[i].istio);
		free(s->clusters[i].revision);
		free(s->clusters[i].description);
	}
	free(s->clusters);
	for (size_t i = 0; i < s->n_roots; i++)
		free(s->root_fingerprints[i]);
	free(s->root_fingerprints);
	mc_bundle_images_free(s->images, s->n_images);
	for (size_t i = 0; i < s->n_problems; i++)
		free(s->problems[i]);
	free(s->problems);
	memset(s, 0, sizeof(*s));
}

int
mc_bundle_verify(const char *path, FILE *report, struct mc_bundle_summary *out, char *err, size_t errlen)
{
	struct mc_bundle_summary local;
	struct verifier v = {.path = path, .report = report};
	struct stat st;
	cJSON *man = NULL;
	int fd, rc;

	if (out == NULL)
		out = &local;
	memset(out, 0, sizeof(*out));
	v.sum = out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_err(err, errlen, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mc_err(err, errlen, EINVAL, "%s: not a regular file", path);
	}
	rc = read_archive(&v, fd, (uint64_t)st.st_size, err, errlen);
	close(fd);
	if (rc < 0)
		goto out;
	out->members = v.n;
	if (vfind(&v, SUMS) == NULL || vfind(&v, MANIFEST) == NULL) {
		rc = vbroken(&v, err, errlen, "not a meshcheck bundle: no %s member",
			     vfind(&v, SUMS) == NULL ? SUMS : MANIFEST);
		goto out;
	}
	check_sums(&v);
	{
		const char *endp = NULL;

		man = cJSON_ParseWithLengthOpts(v.manifest, v.manifest_len, &endp, false);
		if (!cJSON_IsObject(man)) {
			vproblem(&v, MANIFEST ": not a JSON object (at byte %zu)",
				 endp != NULL && endp >= v.manifest ? (size_t)(endp - v.manifest) : (size_t)0);
			vfind(&v, MANIFEST)->bad = true;
		} else {
			const char *schema = jstr(man, "schema");

			if (schema == NULL || strcmp(schema, MC_BUNDLE_SCHEMA) != 0)
				vproblem(&v, MANIFEST ": schema is not " MC_BUNDLE_SCHEMA);
			check_manifest_files(&v, cJSON_GetObjectItemCaseSensitive(man, "files"));
			read_facts(out, man);
		}
	}
	for (size_t i = 0; i < v.n; i++)
		if (strcmp(v.m[i].name, SUMS) != 0 && !v.m[i].bad)
			out->verified++;
	rc = out->n_problems > 0 ? 1 : 0;
out:
	cJSON_Delete(man);
	for (size_t i = 0; i < v.n; i++)
		free(v.m[i].name);
	free(v.m);
	free(v.manifest);
	free(v.sums);
	if (out == &local)
		mc_bundle_summary_clear(&local);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Images named in Kubernetes manifests                                       */

/* The value of an "image:" line (list item or not), unquoted, without a comment; NULL if none. */
static char *
image_of_line(const char *line, size_t len)
{
	const char *p = line, *end = line + len, *q;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p >= 2 && p[0] == '-' && (p[1] == ' ' || p[1] == '\t')) {
		p += 2;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}
	if (end - p < 6 || memcmp(p, "image:", 6) != 0)
		return NULL;
	p += 6;
	if (p < end && *p != ' ' && *p != '\t')
		return NULL;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && (*p == '"' || *p == '\'')) {
		q = memchr(p + 1, *p, (size_t)(end - p - 1));
		if (q == NULL || q == p + 1)
			return NULL;
		return mc_xasprintf("%.*s", (int)(q - p - 1), p + 1);
	}
	for (q = p; q < end; q++)
		if (*q == '#' && (q == p || q[-1] == ' ' || q[-1] == '\t'))
			break;
	while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r'))
		q--;
	if (q == p || *p == '#' || *p == '|' || *p == '>')
		return NULL;
	return mc_xasprintf("%.*s", (int)(q - p), p);
}

int
mc_bundle_images_from_manifests(const char *dir, char ***images, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **files = NULL, **out = NULL;
	size_t nf = 0, no = 0;
	int rc = 0;

	*images = NULL;
	*n = 0;
	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (e->d_name[0] == '.' || !((l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) ||
					     (l > 4 && strcmp(e->d_name + l - 4, ".yml") == 0)))
			continue;
		files = mc_xrealloc(files, (nf + 1) * sizeof(*files));
		files[nf++] = mc_xasprintf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (nf > 1)
		qsort(files, nf, sizeof(*files), cmp_cstr);
	for (size_t i = 0; i < nf && rc == 0; i++) {
		char *text = NULL;
		size_t len = 0;
		const char *p, *end;

		rc = mc_file_read(files[i], 16u << 20, &text, &len, NULL, 0);
		if (rc < 0)
			break;
		for (p = text, end = text + len; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
			char *img = image_of_line(p, ll);
			bool seen = false;

			p += ll + 1;
			if (img == NULL)
				continue;
			for (size_t j = 0; j < no && !seen; j++)
				seen = strcmp(out[j], img) == 0;
			if (seen) {
				free(img);
				continue;
			}
			out = mc_xrealloc(out, (no + 1) * sizeof(*out));
			out[no++] = img;
		}
		free(text);
	}
	for (size_t i = 0; i < nf; i++)
		free(files[i]);
	free(files);
	if (rc < 0) {
		mc_bundle_images_free(out, no);
		return rc;
	}
	*images = out;
	*n = no;
	return 0;
}

void
mc_bundle_images_free(char **images, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(images[i]);
	free(images);
}
