/*
 * Probes: one request over libcurl, classified (see probe.h).
 */
#include "probe.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_BODY (1024 * 1024)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
mc_http_version_parse(const char *s, enum mc_http_version *out)
{
	if (s == NULL)
		return -EINVAL;
	if (strcmp(s, "1.1") == 0 || strcasecmp(s, "http1.1") == 0 || strcasecmp(s, "http/1.1") == 0)
		*out = MC_HTTP_1_1;
	else if (strcmp(s, "2") == 0 || strcasecmp(s, "http2") == 0 || strcasecmp(s, "h2") == 0)
		*out = MC_HTTP_2;
	else if (strcasecmp(s, "h2c") == 0)
		*out = MC_HTTP_H2C;
	else
		return -EINVAL;
	return 0;
}

const char *
mc_http_version_name(enum mc_http_version v)
{
	switch (v) {
	case MC_HTTP_1_1: return "1.1";
	case MC_HTTP_2: return "2";
	case MC_HTTP_H2C: return "h2c";
	}
	return "?";
}

const char *
mc_xfer_error_name(enum mc_xfer_error e)
{
	static const char *const names[MC_XFER_COUNT] = {"none", "refused", "reset", "timeout",
							 "tls",  "dns",     "other"};

	return (unsigned)e < MC_XFER_COUNT ? names[e] : "other";
}

enum mc_xfer_error
mc_xfer_error_classify(CURLcode rc, long os_errno, const char *message)
{
	switch (rc) {
	case CURLE_OK:
		return MC_XFER_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return MC_XFER_DNS;
	case CURLE_OPERATION_TIMEDOUT:
		return MC_XFER_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			return MC_XFER_REFUSED;
		if (os_errno == ETIMEDOUT)
			return MC_XFER_TIMEOUT;
		if (os_errno == ECONNRESET)
			return MC_XFER_RESET;
		return MC_XFER_OTHER;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		/* A reset during the handshake is still the peer refusing us at the TLS layer. */
		return MC_XFER_TLS;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		if (os_errno == ECONNRESET || os_errno == EPIPE)
			return MC_XFER_RESET;
		/*
		 * With TLS 1.3 the server judges our certificate after the client
		 * considers the handshake done, so a rejection arrives as an alert
		 * on the first read; curl reports it only in its message.
		 */
		if (message != NULL && strstr(message, "alert") != NULL)
			return MC_XFER_TLS;
		if (message != NULL && strcasestr(message, "reset") != NULL)
			return MC_XFER_RESET;
		return MC_XFER_OTHER;
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2_STREAM:    /* RST_STREAM: the same class as the native HTTP/2 path gives it */
		return MC_XFER_RESET;
	default:
		return MC_XFER_OTHER;
	}
}

/*
 * A TLS file must be a regular file that can be opened and holds a PEM
 * block: access() alone passes a directory, and anything at all for root,
 * and the mistake would then show as a TLS error on every request.
 */
static bool
readable(const char *path)
{
	char head[8192];
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return false;
	}
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n <= 0)
		return false;
	head[n] = '\0';
	ok = strstr(head, "-----BEGIN ") != NULL;
	return ok;
}

int
mc_probe_spec_check(const struct mc_probe_spec *spec, char *err, size_t errlen)
{
	CURLU *u;
	char *scheme = NULL;
	CURLUcode uc;
	bool web;

	if (spec->url == NULL || *spec->url == '\0')
		return mc_err(err, errlen, EINVAL, "no URL given");
	pthread_once(&global_once, global_init);
	u = curl_url();
	if (u == NULL)
		return mc_err(err, errlen, ENOMEM, "curl_url failed");
	uc = curl_url_set(u, CURLUPART_URL, spec->url, 0);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	web = uc == CURLUE_OK && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_url_cleanup(u);
	if (uc != CURLUE_OK)
		return mc_err(err, errlen, EINVAL, "bad URL \"%s\": %s", spec->url, curl_url_strerror(uc));
	if (!web)
		return mc_err(err, errlen, EINVAL, "URL \"%s\": only http:// and https:// are supported", spec->url);
	for (size_t i = 0; i < spec->n_resolve; i++) {
		const char *r = spec->resolve[i], *c1 = strchr(r, ':'), *c2;
		char *end;
		long port;

		/* HOST:PORT:ADDR[,ADDR]; the address may be an IPv6 literal with colons. */
		c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
		if (c1 == NULL || c1 == r || c2 == NULL || c2[1] == '\0')
			return mc_err(err, errlen, EINVAL, "--resolve \"%s\": expected HOST:PORT:ADDR", r);
		port = strtol(c1 + 1, &end, 10);
		if (end != c2 || port < 1 || port > 65535)
			return mc_err(err, errlen, EINVAL, "--resolve \"%s\": bad port", r);
	}
	for (size_t i = 0; i < spec->n_headers; i++) {
		const char *h = spec->headers[i], *colon = strchr(h, ':');

		if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL)
			return mc_err(err, errlen, EINVAL, "header \"%s\": expected \"Name: value\" on one line", h);
	}
	if (spec->host != NULL && (*spec->host == '\0' || strpbrk(spec->host, "\r\n") != NULL))
		return mc_err(err, errlen, EINVAL, "bad Host override \"%s\"", spec->host);
	if (spec->method != NULL && (*spec->method == '\0' || strpbrk(spec->method, " \t\r\n") != NULL))
		return mc_err(err, errlen, EINVAL, "bad method \"%s\"", spec->method);
	if (spec->cacert != NULL && !readable(spec->cacert))
		return mc_err(err, errlen, ENOENT, "CA file %s: not a readable PEM file", spec->cacert);
	if (spec->cert != NULL && !readable(spec->cert))
		return mc_err(err, errlen, ENOENT, "client certificate %s: not a readable PEM file", spec->cert);
	if (spec->key != NULL && !readable(spec->key))
		return mc_err(err, errlen, ENOENT, "client key %s: not a readable PEM file", spec->key);
	if (spec->key != NULL && spec->cert == NULL)
		return mc_err(err, errlen, EINVAL, "a client key needs its certificate (--cert)");
	return 0;
}

void
mc_probe_lists_free(struct mc_probe_lists *lists)
{
	if (lists == NULL)
		return;
	curl_slist_free_all(lists->headers);
	curl_slist_free_all(lists->resolve);
	curl_slist_free_all(lists->connect_to);
	lists->headers = NULL;
	lists->resolve = NULL;
	lists->connect_to = NULL;
}

/* Appends to a list, failing only when curl cannot allocate. */
static int
list_add(struct curl_slist **list, const char *s)
{
	struct curl_slist *n = curl_slist_append(*list, s);

	if (n == NULL)
		return -ENOMEM;
	*list = n;
	return 0;
}

int
mc_probe_configure(CURL *h, const struct mc_probe_spec *spec, struct mc_probe_lists *lists,
		   char *err, size_t errlen)
{
	static const long versions[] = {
		[MC_HTTP_1_1] = CURL_HTTP_VERSION_1_1,
		[MC_HTTP_2] = CURL_HTTP_VERSION_2TLS,
		[MC_HTTP_H2C] = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
	};
	CURLcode rc = CURLE_OK;
	int ret;

	lists->headers = NULL;
	lists->resolve = NULL;
	lists->connect_to = NULL;
	ret = mc_probe_spec_check(spec, err, errlen);
	if (ret < 0)
		return ret;

	for (size_t i = 0; i < spec->n_headers; i++)
		if (list_add(&lists->headers, spec->headers[i]) < 0)
			goto nomem;
	if (spec->host != NULL) {
		char *line = mc_xasprintf("Host: %s", spec->host);

		ret = list_add(&lists->headers, line);
		free(line);
		if (ret < 0)
			goto nomem;
	}
	for (size_t i = 0; i < spec->n_resolve; i++)
		if (list_add(&lists->resolve, spec->resolve[i]) < 0)
			goto nomem;
	if (spec->connect_to != NULL && list_add(&lists->connect_to, spec->connect_to) < 0)
		goto nomem;

	/* Options whose failure would be a bug (bad constant) are folded into rc with |=. */
	rc |= curl_easy_setopt(h, CURLOPT_URL, spec->url);
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* A harness talks to the mesh directly: proxy variables in the environment must not reroute it. */
	rc |= curl_easy_setopt(h, CURLOPT_PROXY, "");
	rc |= curl_easy_setopt(h, CURLOPT_USERAGENT, "meshcheck/" MC_VERSION);
	rc |= curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION, versions[spec->version]);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			       spec->connect_timeout_ms > 0 ? spec->connect_timeout_ms : (long)DEFAULT_CONNECT_TIMEOUT_MS);
	rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			       spec->timeout_ms > 0 ? spec->timeout_ms : (long)DEFAULT_TIMEOUT_MS);
	if (lists->headers != NULL)
		rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, lists->headers);
	if (lists->resolve != NULL)
		rc |= curl_easy_setopt(h, CURLOPT_RESOLVE, lists->resolve);
	if (lists->connect_to != NULL)
		rc |= curl_easy_setopt(h, CURLOPT_CONNECT_TO, lists->connect_to);
	if (spec->body != NULL) {
		size_t n = spec->body_len > 0 ? spec->body_len : strlen(spec->body);

		/* Set the size first so COPYPOSTFIELDS copies exactly n bytes (NULs allowed). */
		rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		rc |= curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, spec->body);
	}
	if (spec->method != NULL) {
		if (strcmp(spec->method, "HEAD") == 0)
			rc |= curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		else if (strcmp(spec->method, "GET") != 0 || spec->body != NULL)
			rc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, spec->method);
	}
	if (spec->cacert != NULL)
		rc |= curl_easy_setopt(h, CURLOPT_CAINFO, spec->cacert);
	if (spec->insecure) {
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (spec->any_name) {
		rc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (spec->cert != NULL) {
		rc |= curl_easy_setopt(h, CURLOPT_SSLCERT, spec->cert);
		rc |= curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		rc |= curl_easy_setopt(h, CURLOPT_SSLKEY, spec->key != NULL ? spec->key : spec->cert);
	}
	if (spec->fresh) {
		rc |= curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		rc |= curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	}
	if (rc != CURLE_OK) {
		mc_probe_lists_free(lists);
		return mc_err(err, errlen, EINVAL, "libcurl refused an option (is it built with HTTP/2 and TLS?)");
	}
	return 0;
nomem:
	mc_probe_lists_free(lists);
	return mc_err(err, errlen, ENOMEM, "out of memory building the request");
}

/* State of one probe while curl runs it. */
struct probe_ctx {
	struct mc_probe_result *res;
	CURL *h;
	struct mc_buf headers;
	struct mc_buf body;
	size_t max_body;
	bool saw_headers;
};

/* Reads the ALPN the TLS library selected, while the connection is still ours. */
static void
grab_alpn(struct probe_ctx *ctx)
{
	struct curl_tlssessioninfo *ti = NULL;
	const unsigned char *alpn = NULL;
	unsigned int len = 0;

	if (curl_easy_getinfo(ctx->h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
	    ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
		return;
	SSL_get0_alpn_selected((SSL *)ti->internals, &alpn, &len);
	if (alpn != NULL && len > 0 && len < sizeof(ctx->res->alpn)) {
		memcpy(ctx->res->alpn, alpn, len);
		ctx->res->alpn[len] = '\0';
	}
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct probe_ctx *ctx = arg;
	size_t len = size * n;

	if (!ctx->saw_headers) {
		ctx->saw_headers = true;
		grab_alpn(ctx);
	}
	/* Each response (100 Continue, then the final one) starts with a status line: keep the last. */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		ctx->headers.len = 0;
		ctx->headers.data[0] = '\0';
		ctx->res->headers_truncated = false;
	}
	if (mc_buf_append(&ctx->headers, data, len) < 0)
		ctx->res->headers_truncated = true;
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct probe_ctx *ctx = arg;
	size_t len = size * n, room = ctx->max_body - ctx->body.len;

	ctx->res->body_bytes += (int64_t)len;
	if (len > room) {
		ctx->res->body_truncated = true;
		len = room;
	}
	if (len > 0)
		mc_buf_append(&ctx->body, data, len);
	return size * n;
}

/* Collects the PEM certificates curl gathered with CURLOPT_CERTINFO. */
static void
grab_chain(CURL *h, struct mc_probe_result *res)
{
	struct curl_certinfo *ci = NULL;
	struct mc_buf pem;

	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL || ci->num_of_certs <= 0)
		return;
	mc_buf_init(&pem, 0);
	for (int i = 0; i < ci->num_of_certs; i++)
		for (struct curl_slist *s = ci->certinfo[i]; s != NULL; s = s->next)
			if (strncmp(s->data, "Cert:", 5) == 0) {
				const char *p = s->data + 5;
				size_t len = strlen(p);

				mc_buf_append(&pem, p, len);
				if (len > 0 && p[len - 1] != '\n')
					mc_buf_append(&pem, "\n", 1);
				res->n_peer_certs++;
			}
	res->peer_chain_pem = mc_buf_steal(&pem);
}

static int64_t
info_us(CURL *h, CURLINFO what)
{
	curl_off_t v = 0;

	if (curl_easy_getinfo(h, what, &v) != CURLE_OK)
		return 0;
	return (int64_t)v;
}

int
mc_probe_run(const struct mc_probe_spec *spec, struct mc_probe_result *res, char *err, size_t errlen)
{
	struct mc_probe_lists lists = {0};
	struct probe_ctx ctx = {0};
	char *ip = NULL, *scheme = NULL;
	long httpver = 0, os_errno = 0;
	CURLcode rc;
	CURL *h;
	int ret;

	memset(res, 0, sizeof(*res));
	pthread_once(&global_once, global_init);
	h = curl_easy_init();
	if (h == NULL)
		return mc_err(err, errlen, ENOMEM, "curl_easy_init failed");
	ret = mc_probe_configure(h, spec, &lists, err, errlen);
	if (ret < 0)
		goto out;
	ctx.res = res;
	ctx.h = h;
	ctx.max_body = spec->max_body > 0 ? spec->max_body : DEFAULT_MAX_BODY;
	mc_buf_init(&ctx.headers, MC_PROBE_MAX_HEADERS);
	mc_buf_init(&ctx.body, ctx.max_body + 1);
	/* Both buffers must be strings even when nothing arrives. */
	mc_buf_append(&ctx.headers, "", 0);
	mc_buf_append(&ctx.body, "", 0);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, res->message);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &ctx);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);

	rc = curl_easy_perform(h);
	res->curl_code = (int)rc;
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	if (rc != CURLE_OK && res->message[0] == '\0')
		snprintf(res->message, sizeof(res->message), "%s", curl_easy_strerror(rc));
	res->error = mc_xfer_error_classify(rc, os_errno, res->message);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	else
		res->status = 0;

	res->headers_len = ctx.headers.len;
	res->headers = mc_buf_steal(&ctx.headers);
	res->body_len = ctx.body.len;
	res->body = mc_buf_steal(&ctx.body);
	res->dns_us = info_us(h, CURLINFO_NAMELOOKUP_TIME_T);
	res->connect_us = info_us(h, CURLINFO_CONNECT_TIME_T);
	res->tls_us = info_us(h, CURLINFO_APPCONNECT_TIME_T);
	res->first_byte_us = info_us(h, CURLINFO_STARTTRANSFER_TIME_T);
	res->total_us = info_us(h, CURLINFO_TOTAL_TIME_T);
	if (ctx.saw_headers) {
		curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &httpver);
		switch (httpver) {
		case CURL_HTTP_VERSION_1_0: strcpy(res->http_version, "1.0"); break;
		case CURL_HTTP_VERSION_1_1: strcpy(res->http_version, "1.1"); break;
		case CURL_HTTP_VERSION_2_0: strcpy(res->http_version, "2"); break;
		case CURL_HTTP_VERSION_3: strcpy(res->http_version, "3"); break;
		default: break;
		}
	}
	if (curl_easy_getinfo(h, CURLINFO_SCHEME, &scheme) == CURLE_OK && scheme != NULL)
		res->tls = strcasecmp(scheme, "https") == 0;
	/* Without the TLS pointer (another backend), ALPN follows from the version: curl always offers it. */
	if (res->tls && res->alpn[0] == '\0' && res->http_version[0] != '\0')
		snprintf(res->alpn, sizeof(res->alpn), "%s",
			 strcmp(res->http_version, "2") == 0 ? "h2" : "http/1.1");
	if (res->tls)
		grab_chain(h, res);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL)
		snprintf(res->primary_ip, sizeof(res->primary_ip), "%s", ip);
	curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &res->primary_port);
	ret = 0;
out:
	curl_easy_cleanup(h);
	mc_probe_lists_free(&lists);
	mc_buf_free(&ctx.headers);
	mc_buf_free(&ctx.body);
	return ret;
}

void
mc_probe_result_free(struct mc_probe_result *res)
{
	if (res == NULL)
		return;
	free(res->headers);
	free(res->body);
	free(res->peer_chain_pem);
	res->headers = NULL;
	res->body = NULL;
	res->peer_chain_pem = NULL;
}

const char *
mc_header_find(const char *block, size_t block_len, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = block, *end = block + block_len, *found = NULL;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;

		if ((size_t)(line_end - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1, *ve = line_end;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && isspace((unsigned char)ve[-1]))
				ve--;
			found = v;
			*len = (size_t)(ve - v);
		}
		p = line_end + 1;
	}
	return found;
}

cJSON *
mc_probe_result_json(const struct mc_probe_result *res)
{
	cJSON *j = cJSON_CreateObject(), *t, *hs;
	const char *p, *end;

	cJSON_AddNumberToObject(j, "status", (double)res->status);
	if (res->error == MC_XFER_OK)
		cJSON_AddNullToObject(j, "error");
	else
		cJSON_AddStringToObject(j, "error", mc_xfer_error_name(res->error));
	cJSON_AddStringToObject(j, "message", res->message);
	cJSON_AddStringToObject(j, "http_version", res->http_version);
	cJSON_AddStringToObject(j, "alpn", res->alpn);
	cJSON_AddBoolToObject(j, "tls", res->tls);
	t = cJSON_AddObjectToObject(j, "timings_us");
	cJSON_AddNumberToObject(t, "dns", (double)res->dns_us);
	cJSON_AddNumberToObject(t, "connect", (double)res->connect_us);
	cJSON_AddNumberToObject(t, "tls", (double)res->tls_us);
	cJSON_AddNumberToObject(t, "first_byte", (double)res->first_byte_us);
	cJSON_AddNumberToObject(t, "total", (double)res->total_us);
	hs = cJSON_AddArrayToObject(j, "headers");
	p = res->headers;
	end = p != NULL ? p + res->headers_len : NULL;
	while (p != NULL && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *le = eol != NULL ? eol : end;
		size_t n = (size_t)(le - p);
		char *line;

		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
			n--;
		if (n > 0) {
			line = mc_xmalloc(n + 1);
			memcpy(line, p, n);
			line[n] = '\0';
			cJSON_AddItemToArray(hs, cJSON_CreateString(line));
			free(line);
		}
		p = le + 1;
	}
	cJSON_AddBoolToObject(j, "headers_truncated", res->headers_truncated);
	cJSON_AddStringToObject(j, "body", res->body != NULL ? res->body : "");
	cJSON_AddNumberToObject(j, "body_bytes", (double)res->body_bytes);
	cJSON_AddBoolToObject(j, "body_truncated", res->body_truncated);
	if (res->peer_chain_pem != NULL)
		cJSON_AddStringToObject(j, "peer_chain_pem", res->peer_chain_pem);
	else
		cJSON_AddNullToObject(j, "peer_chain_pem");
	cJSON_AddNumberToObject(j, "peer_certs", (double)res->n_peer_certs);
	cJSON_AddStringToObject(j, "primary_ip", res->primary_ip);
	cJSON_AddNumberToObject(j, "primary_port", (double)res->primary_port);
	return j;
}
