/*
 * Certification bundles: one file that says what was tested, on what, with
 * what result, and that can be checked later for tampering.
 *
 * A bundle is an uncompressed POSIX ustar archive, meshcheck-<run id>.tar,
 * holding regular files only, in this order:
 *
 *   manifest.json   what the run was (schema meshcheck.bundle/1, below)
 *   SHA256SUMS      "<sha256 hex>  <path>" for every other member
 *   junit.xml, report.html, report.json
 *   evidence/...    every regular file under the report directory's
 *                   evidence/ folder, sorted by path (bytewise)
 *
 * Every member has mode 0644, uid and gid 0, no user or group names, and
 * the run's end (whole seconds) as its mtime, so the same run and files
 * always give the same bytes. The archive ends with two zero blocks and is
 * padded with zeros to a multiple of 10240 bytes (ustar's default record).
 *
 * manifest.json (keys in this order):
 *   schema            "meshcheck.bundle/1"
 *   meshcheck_version the version that wrote the bundle
 *   run               {id, target, hostname, start, end (ISO 8601 UTC),
 *                      duration_s, aborted (null or why), exit_code}
 *   properties        every run property, name: value
 *   clusters          [{context, kubernetes, istio, revision, description}]
 *                     from the run properties "context NAME" whose value
 *                     reads "Kubernetes V, Istio V (revision R)"; a part
 *                     that cannot be read is null, description is the value
 *   trust_domain      as given, or null
 *   roots             [{path, suite, sha256 (of the PEM file),
 *                       certificates: [{subject, sha256 (of the DER,
 *                       "AA:BB:..."), not_after}]}]
 *   images            [image references], as given
 *   summary           {total, passed, failed, skipped, errors}; an aborted
 *                     run counts one more error, as the reports do
 *   suites            [{name, file, cases: [{name, check, status, reason}]}]
 *   files             [{path, sha256, size}] for every member other than
 *                     manifest.json and SHA256SUMS, in archive order
 *   skipped           [{path, why}] entries under evidence/ left out (not
 *                     regular files: symbolic links are never followed)
 */
#ifndef MC_BUNDLE_H
#define MC_BUNDLE_H

#include <stddef.h>
#include <stdio.h>

#include "results.h"

#define MC_BUNDLE_SCHEMA "meshcheck.bundle/1"

/* What the results model does not hold. Every field may be NULL / 0. */
struct mc_bundle_info {
	const char *trust_domain;      /* the mesh's trust domain */
	const char *const *roots;      /* PEM files of the mesh's trust roots; must exist when the bundle is written */
	size_t n_roots;
	const char *const *images;     /* container images the fixtures ran */
	size_t n_images;
	/* Where the reports are when not out_dir/junit.xml, report.html, report.json. */
	const char *junit;
	const char *html;
	const char *json;
};

/*
 * Writes out_dir/manifest.json, out_dir/SHA256SUMS and then
 * out_dir/meshcheck-<run id>.tar (each atomically), and sets *bundle_path
 * (caller frees) to the archive's path. The reports must already be
 * written. Besides the paths in info->roots, a suite property "mesh_root"
 * (a path relative to out_dir, e.g. evidence/<suite>/mesh-root.pem) names
 * a root to fingerprint too.
 *
 * Returns 0, or a negative errno with a message naming the file: a report
 * or root that cannot be read, a path that does not fit a ustar header (more
 * than 100 bytes that cannot be split at a '/' into 155 + 100), a path with
 * a newline or backslash (SHA256SUMS could not list it), a file of 8 GiB
 * or more, or one that changed while it was being archived.
 */
int mc_bundle_write(const struct mc_run *run, const char *out_dir, const struct mc_bundle_info *info,
		    char **bundle_path, char *err, size_t errlen);

/* What a verified bundle says about its run (from its manifest). */
struct mc_bundle_cluster {
	char *context;
	char *kubernetes;              /* NULL when unknown */
	char *istio;
	char *revision;
	char *description;             /* the property's whole value */
};

struct mc_bundle_summary {
	char *schema;
	char *version;                 /* meshcheck version that wrote it */
	char *run_id;
	char *target;
	char *start;                   /* ISO 8601 UTC */
	char *end;
	char *trust_domain;
	struct mc_bundle_cluster *clusters;
	size_t n_clusters;
	char **root_fingerprints;      /* sha256 of each root file */
	size_t n_roots;
	char **images;
	size_t n_images;
	size_t total, passed, failed, skipped, errors;
	size_t members;                /* members in the archive */
	size_t verified;               /* members whose SHA-256 matched every list naming them */
	char **problems;               /* one line each */
	size_t n_problems;
};

void mc_bundle_summary_clear(struct mc_bundle_summary *s);

/*
 * Reads the archive at path and checks it:
 *  - the archive itself: every header's checksum, magic ("ustar", "00"),
 *    type (regular files only), numeric fields, that each member's data
 *    lies inside the file, names that are relative with no "." or ".."
 *    component, no duplicate names, two zero blocks at the end and nothing
 *    but zeros after them;
 *  - the content: every member's SHA-256 against SHA256SUMS, and every
 *    member but manifest.json and SHA256SUMS against the manifest's files
 *    (SHA-256 and size); every member listed, every listed file present.
 *
 * Prints one line per problem to report (when not NULL) and records them
 * in out (when not NULL; cleared first, the caller clears it after), with
 * the manifest's facts.
 *
 * Returns 0 when everything verifies; 1 when the archive reads but its
 * content does not verify (a checksum, size or listing does not match, or
 * manifest.json or SHA256SUMS is not what they must be); a negative errno
 * when the file cannot be read, is not a well-formed archive or has no
 * manifest.json or SHA256SUMS (-EBADMSG), with err naming the file, the
 * member and the byte offset of its header.
 */
int mc_bundle_verify(const char *path, FILE *report, struct mc_bundle_summary *out, char *err, size_t errlen);

/*
 * Collects the values of "image:" lines of the YAML files (*.yaml, *.yml)
 * of dir, files in name order, each image once in the order first seen;
 * comments and quotes are dropped. Sets *images (caller frees with
 * mc_bundle_images_free) and *n. Returns 0 or a negative errno.
 */
int mc_bundle_images_from_manifests(const char *dir, char ***images, size_t *n);
void mc_bundle_images_free(char **images, size_t n);

#endif
