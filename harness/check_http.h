/*
 * What the HTTP check kinds (reach, policy, distribution, load) share: the
 * request part of a case's input, validated when the suite loads, and
 * turned into a probe spec aimed at a server of the target.
 *
 *   { "server": "NAME", "path": "/hello", "method": "GET", "host": "x.example.com",
 *     "headers": ["X-A: b"], "body": "...", "http": "1.1" | "2" | "h2c",
 *     "client_cert": true, "timeout": "5s" }
 *   or, from inside the mesh, as an app in a workload calls a service:
 *   { "from": "sleep@c1", "url": "http://helloworld.sample:5000/hello" }
 *   (the request goes to the workload's sidecar, outbound; "url" with
 *   "server" sends that URL to the server, e.g. a Host such as
 *   "http://10.0.0.1.nip.io/" to a gateway)
 *
 * The URL's host is the server's mesh name (its SNI) resolved to its
 * address, so no DNS is involved; "host" overrides the Host header only.
 * TLS is verified against the mesh root (the chain, not the name: mesh
 * certificates name a SPIFFE identity). "client_cert" (default true)
 * presents the harness's mesh identity when the target has one.
 */
#ifndef MC_CHECK_HTTP_H
#define MC_CHECK_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "probe.h"
#include "target.h"

/* The request fields, for a kind's list of known fields. */
#define MC_HTTP_REQUEST_FIELDS \
	"server", "from", "url", "path", "method", "host", "headers", "body", "http", "client_cert", "timeout"

/* Validates the request fields of obj (server required unless server_optional). */
int mc_http_validate(const cJSON *obj, bool server_optional, const char *where, char *err, size_t errlen);

#define MC_HTTP_MAX_HEADERS 32

/* A request ready to send: the spec and the storage it points into. */
struct mc_http_req {
	struct mc_probe_spec spec;
	struct mc_endpoint ep;
	char url[1200];
	char resolve[700];
	const char *resolve_list[1];
	const char *headers[MC_HTTP_MAX_HEADERS];
	char target[600];          /* "server (https://host:port/path)" for messages */
};

/*
 * Builds the request described by obj (fields missing from obj are taken
 * from defaults, which may be NULL) against target t. Strings point into
 * obj and defaults: they must outlive the request.
 */
int mc_http_req_build(struct mc_target *t, const cJSON *obj, const cJSON *defaults, struct mc_http_req *r,
		      char *err, size_t errlen);

/*
 * Sends count copies of the request: through the target when only it can
 * reach the endpoint (the kube target runs curl in a pod), else from the
 * harness. res[0..count-1] are filled; the caller frees each with
 * mc_probe_result_free, also after a failure. Returns 0 when sent, whatever
 * the outcomes.
 */
int mc_http_send(struct mc_target *t, const struct mc_http_req *r, size_t count, struct mc_probe_result *res,
		 char *err, size_t errlen);

/* "200", or the transport error class ("refused", "tls" ...) of a probe result. */
const char *mc_http_outcome(const struct mc_probe_result *res, char *buf, size_t buflen);

/*
 * Parses an expected outcome: a status code (number, 100..599) or a
 * transport error class name. Returns 0 or -EINVAL with a message.
 */
int mc_http_outcome_validate(const cJSON *v, const char *where, char *err, size_t errlen);
/* True when res has the outcome v (validated). */
bool mc_http_outcome_matches(const cJSON *v, const struct mc_probe_result *res);
/* The outcome v as text ("403", "refused"). */
const char *mc_http_outcome_text(const cJSON *v, char *buf, size_t buflen);

/* Writes text to the case's evidence file name and adds it with label. */
struct mc_check_ctx;
struct mc_case;
void mc_http_evidence(const struct mc_check_ctx *ctx, struct mc_case *c, const char *name, const char *label,
		      const char *text);

#endif
