/*
 * Probes: one HTTP request over libcurl with full control of what goes on
 * the wire (method, Host, name resolution, HTTP version, TLS material,
 * timeouts), and a result that says what came back: a status code or a
 * classified transport error, headers, body, timings, the negotiated
 * protocol and the peer's certificate chain.
 *
 * The same request description configures the load engine's handles
 * (mc_probe_configure), so a probe and a load send identical requests.
 *
 * Errors follow util.h: 0 or a negative errno, message in err. A transport
 * failure (refused, timeout, TLS ...) is not an error of mc_probe_run: it is
 * a result, classified in mc_probe_result.error.
 */
#ifndef MC_PROBE_H
#define MC_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

enum mc_http_version {
	MC_HTTP_1_1 = 0,           /* HTTP/1.1 (with TLS: ALPN offers http/1.1 only) */
	MC_HTTP_2,                 /* HTTP/2 over TLS via ALPN; plain http:// URLs stay HTTP/1.1 */
	MC_HTTP_H2C,               /* HTTP/2 with prior knowledge, also over cleartext (h2c) */
};

/* "1.1", "2", "h2c"; the parser also takes "http1.1", "http2", "h2". Returns 0 or -EINVAL. */
int mc_http_version_parse(const char *s, enum mc_http_version *out);
const char *mc_http_version_name(enum mc_http_version v);

/* Transport outcome of a request, when no HTTP response arrived. */
enum mc_xfer_error {
	MC_XFER_OK = 0,            /* a response (any status) arrived */
	MC_XFER_REFUSED,           /* connection refused */
	MC_XFER_RESET,             /* reset by the peer, or closed without a response */
	MC_XFER_TIMEOUT,           /* connect or total timeout */
	MC_XFER_TLS,               /* handshake, verification or TLS alert */
	MC_XFER_DNS,               /* name not resolved */
	MC_XFER_OTHER,
	MC_XFER_COUNT
};

/* "none", "refused", "reset", "timeout", "tls", "dns", "other". */
const char *mc_xfer_error_name(enum mc_xfer_error e);

/*
 * Classifies a finished transfer: its curl code, the OS errno curl saw
 * (CURLINFO_OS_ERRNO) and curl's message (may be NULL; TLS alerts that
 * arrive after the handshake are only recognisable from it).
 */
enum mc_xfer_error mc_xfer_error_classify(CURLcode rc, long os_errno, const char *message);

/*
 * What to send. Only url is required. Strings and arrays are borrowed: they
 * must outlive the call that takes the spec (for the load engine, the run).
 */
struct mc_probe_spec {
	const char *url;               /* http:// or https:// */
	const char *method;            /* NULL: GET, or POST when a body is given */
	const char *host;              /* Host header override (:authority with HTTP/2) */
	const char *const *resolve;    /* "HOST:PORT:ADDR" as curl --resolve, so names need no DNS */
	size_t n_resolve;
	const char *connect_to;        /* "HOST:PORT:ADDR:PORT2" as curl --connect-to: the URL stays, the socket goes there */
	const char *const *headers;    /* "Name: value" */
	size_t n_headers;
	const char *body;              /* request body, or NULL */
	size_t body_len;               /* 0 with a body: strlen(body) */
	enum mc_http_version version;
	const char *cacert;            /* PEM file of trusted roots; NULL: the system's */
	bool insecure;                 /* no verification of the server's chain or name */
	bool any_name;                 /* verify the chain but not the name (mesh certificates name a SPIFFE id) */
	const char *cert;              /* client certificate (PEM, may hold the chain) for mutual TLS */
	const char *key;               /* its key; NULL: in the cert file */
	long connect_timeout_ms;       /* 0: 5000 */
	long timeout_ms;               /* whole request; 0: 10000 */
	bool fresh;                    /* a new connection for every request, closed afterwards */
	size_t max_body;               /* probe only: bytes of body kept; 0: 1 MiB */
};

/*
 * Checks a spec before any traffic: the URL parses with an http or https
 * scheme, resolve entries have the HOST:PORT:ADDR form, headers have a
 * colon, and the TLS files are readable. Returns 0, -EINVAL or -ENOENT
 * (a file), with a message naming the bad field.
 */
int mc_probe_spec_check(const struct mc_probe_spec *spec, char *err, size_t errlen);

/* The lists a configured handle points to; free them after the handle. */
struct mc_probe_lists {
	struct curl_slist *headers;
	struct curl_slist *resolve;
	struct curl_slist *connect_to;
};

/*
 * Sets every option of spec on the easy handle h (URL, method, body,
 * headers, resolve, version, TLS, timeouts, no proxy, no signals). Does not
 * touch the write or header callbacks. The lists are filled and owned by the
 * caller, who frees them with mc_probe_lists_free once h is no longer used
 * (handles made with curl_easy_duphandle share them). Returns 0 or -EINVAL.
 */
int mc_probe_configure(CURL *h, const struct mc_probe_spec *spec, struct mc_probe_lists *lists,
		       char *err, size_t errlen);
void mc_probe_lists_free(struct mc_probe_lists *lists);

#define MC_PROBE_MAX_HEADERS (64 * 1024)

struct mc_probe_result {
	long status;                   /* HTTP status; 0 when error != MC_XFER_OK */
	enum mc_xfer_error error;
	int curl_code;                 /* CURLcode */
	char message[CURL_ERROR_SIZE]; /* curl's message; "" on success */
	char *headers;                 /* owned: the final response's header block, NUL-terminated */
	size_t headers_len;
	bool headers_truncated;        /* more than MC_PROBE_MAX_HEADERS */
	char *body;                    /* owned, NUL-terminated (may hold NULs inside) */
	size_t body_len;               /* bytes kept */
	int64_t body_bytes;            /* bytes received */
	bool body_truncated;
	/* Microseconds from the start of the request; 0 when not reached. */
	int64_t dns_us, connect_us, tls_us, first_byte_us, total_us;
	char http_version[8];          /* "1.0", "1.1", "2", "3"; "" when no response */
	char alpn[32];                 /* negotiated ALPN ("h2", "http/1.1"); "" without TLS or ALPN */
	bool tls;
	char *peer_chain_pem;          /* owned: the server's chain as sent, PEM; NULL without TLS */
	size_t n_peer_certs;
	char primary_ip[64];           /* the address connected to */
	long primary_port;
};

/*
 * Sends the request and fills *res (which the caller clears with
 * mc_probe_result_free, also after a failure). Returns 0 whenever the
 * request was attempted, whatever its outcome; -EINVAL or -ENOENT when the
 * spec is unusable (see mc_probe_spec_check), -ENOMEM when curl cannot start.
 */
int mc_probe_run(const struct mc_probe_spec *spec, struct mc_probe_result *res, char *err, size_t errlen);
void mc_probe_result_free(struct mc_probe_result *res);

/*
 * Finds a header of the header block (case-insensitive name, the last one
 * when repeated) and returns a pointer to its value inside the block, of
 * *len bytes without surrounding whitespace; NULL when absent.
 */
const char *mc_header_find(const char *block, size_t block_len, const char *name, size_t *len);

/*
 * JSON form: {"status", "error", "message", "http_version", "alpn", "tls",
 * "timings_us": {"dns", "connect", "tls", "first_byte", "total"},
 * "headers": ["Name: value", ...], "body", "body_bytes", "body_truncated",
 * "peer_chain_pem", "peer_certs", "primary_ip", "primary_port"}.
 */
cJSON *mc_probe_result_json(const struct mc_probe_result *res);

#endif
