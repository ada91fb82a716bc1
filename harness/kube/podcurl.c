/*
 * In-mesh requests sent by curl inside a client pod through kubectl exec:
 * the argument vector, the run, and the reading of curl's output.
 */
#include "podcurl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "util.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY (1u << 20)

/*
 * The loop of the sh form. Its arguments: the count, the body (may be
 * empty; fed to curl's --data-binary @- when the curl arguments ask for it),
 * then curl's arguments. User data only ever arrives as "$@" and "$b".
 */
static const char loop_script[] =
	"n=$1; b=$2; shift 2; i=0; "
	"while [ \"$i\" -lt \"$n\" ]; do printf %s \"$b\" | curl \"$@\"; i=$((i+1)); done";

/* The -w fields after the marker, in order; %{errormsg} last as it holds spaces. */
static const char write_fields[] =
	" %{http_code} %{exitcode} %{time_namelookup} %{time_connect} %{time_appconnect}"
	" %{time_starttransfer} %{time_total} %{http_version} %{remote_ip} %{remote_port}"
	" %{size_download} %{size_header} %{scheme} %{errormsg}\\n";
#define N_FIELDS 13            /* space-separated fields before the message */

static bool
marker_ok(const char *m)
{
	if (m == NULL || strlen(m) != MC_PODCURL_MARKER_LEN)
		return false;
	for (size_t i = 0; i < MC_PODCURL_MARKER_LEN; i++)
		if (!isxdigit((unsigned char)m[i]))
			return false;
	return true;
}

void
mc_podcurl_marker(char marker[MC_PODCURL_MARKER_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[MC_PODCURL_MARKER_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < sizeof(raw)) {
		/* No getrandom: time and pid still make a collision with a body hopeless. */
		uint64_t x = (uint64_t)(mc_now() * 1e9) ^ ((uint64_t)getpid() << 32);

		for (size_t i = 0; i < sizeof(raw); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			raw[i] = (unsigned char)x;
		}
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		marker[2 * i] = hex[raw[i] >> 4];
		marker[2 * i + 1] = hex[raw[i] & 15];
	}
	marker[MC_PODCURL_MARKER_LEN] = '\0';
}

static size_t
body_length(const struct mc_probe_spec *spec)
{
	return spec->body_len > 0 ? spec->body_len : strlen(spec->body);
}

static bool
is_head(const struct mc_probe_spec *spec)
{
	return spec->method != NULL && strcmp(spec->method, "HEAD") == 0;
}

static bool
is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0;
}

/* The sh form is needed for a series, and for a body curl would take for a file name. */
static bool
needs_sh(const struct mc_probe_spec *spec, size_t count)
{
	return count > 1 || (spec->body != NULL && body_length(spec) > 0 && spec->body[0] == '@');
}

static bool
arg_ok(const char *s)
{
	return s != NULL && *s != '\0';
}

int
mc_podcurl_check(const struct mc_pod_ref *pod, const struct mc_probe_spec *spec, size_t count,
		 char *err, size_t errlen)
{
	struct mc_probe_spec local;
	int rc;

	if (pod == NULL || !arg_ok(pod->pod))
		return mc_err(err, errlen, EINVAL, "no pod given to send the requests from");
	if (pod->ns != NULL && *pod->ns == '\0')
		return mc_err(err, errlen, EINVAL, "pod %s: empty namespace", pod->pod);
	if (pod->context != NULL && *pod->context == '\0')
		return mc_err(err, errlen, EINVAL, "pod %s: empty context", pod->pod);
	if (pod->container != NULL && *pod->container == '\0')
		return mc_err(err, errlen, EINVAL, "pod %s: empty container name", pod->pod);
	if (spec == NULL)
		return mc_err(err, errlen, EINVAL, "no request given");
	if (count < 1 || count > MC_PODCURL_MAX_COUNT)
		return mc_err(err, errlen, EINVAL, "%zu requests: between 1 and %d can be sent in one exec",
			      count, MC_PODCURL_MAX_COUNT);
	if (spec->cert != NULL || spec->key != NULL)
		return mc_err(err, errlen, ENOTSUP,
			      "a client certificate cannot be used from inside pod %s (the file is on this machine)",
			      pod->pod);
	/* The probe's own checks, without the TLS files, which the pod never sees. */
	local = *spec;
	local.cacert = NULL;
	rc = mc_probe_spec_check(&local, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < spec->n_headers; i++)
		if (spec->headers[i][0] == '@')
			return mc_err(err, errlen, EINVAL, "header \"%s\": a name cannot start with '@'",
				      spec->headers[i]);
	if (spec->body != NULL && memchr(spec->body, '\0', body_length(spec)) != NULL)
		return mc_err(err, errlen, EINVAL,
			      "the request body holds a NUL byte, which cannot be passed through kubectl exec");
	if (spec->body != NULL && is_head(spec))
		return mc_err(err, errlen, EINVAL, "a HEAD request cannot carry a body");
	return 0;
}

/* A growing NULL-terminated vector of owned strings. */
struct vec {
	char **v;
	size_t n, cap;
};

static void
push_owned(struct vec *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap > 0 ? a->cap * 2 : 64;
		a->v = mc_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void
push(struct vec *a, const char *s)
{
	push_owned(a, mc_xstrdup(s));
}

static char *
seconds(long ms)
{
	return mc_xasprintf("%ld.%03ld", ms / 1000, ms % 1000);
}

char **
mc_podcurl_argv(const struct mc_pod_ref *pod, const struct mc_probe_spec *spec, size_t count,
		const char *marker)
{
	long cto = spec != NULL && spec->connect_timeout_ms > 0 ? spec->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	long to = spec != NULL && spec->timeout_ms > 0 ? spec->timeout_ms : DEFAULT_TIMEOUT_MS;
	struct vec a = { 0 };
	bool sh;

	if (!marker_ok(marker) || mc_podcurl_check(pod, spec, count, NULL, 0) < 0)
		return NULL;
	sh = needs_sh(spec, count);

	push(&a, "exec");
	if (pod->ns != NULL) {
		push(&a, "-n");
		push(&a, pod->ns);
	}
	push(&a, pod->pod);
	if (pod->container != NULL) {
		push(&a, "-c");
		push(&a, pod->container);
	}
	push(&a, "--");
	if (sh) {
		push(&a, "sh");
		push(&a, "-c");
		push(&a, loop_script);
		push(&a, "sh");                       /* $0 */
		push_owned(&a, mc_xasprintf("%zu", count));
		if (spec->body != NULL)
			push_owned(&a, mc_xasprintf("%.*s", (int)body_length(spec), spec->body));
		else
			push(&a, "");
	} else {
		push(&a, "curl");
	}
	/* -q must come first: it keeps curl from reading a .curlrc. */
	push(&a, "-q");
	push(&a, "-s");
	push(&a, "-S");
	push(&a, "-g");
	push(&a, "--noproxy");
	push(&a, "*");
	push(&a, "-A");
	push(&a, "meshcheck/" MC_VERSION);
	push(&a, "-D");
	push(&a, "-");
	if (is_head(spec)) {
		push(&a, "-I");
		push(&a, "-o");
		push(&a, "/dev/null");
	} else {
		push(&a, "-o");
		push(&a, "-");
	}
	push(&a, "-w");
	push_owned(&a, mc_xasprintf("\\n%s%s", marker, write_fields));
	push(&a, "--connect-timeout");
	push_owned(&a, seconds(cto));
	push(&a, "-m");
	push_owned(&a, seconds(to));
	switch (spec->version) {
	case MC_HTTP_2:
		/* As libcurl's 2TLS: HTTP/2 through ALPN, plain http:// stays HTTP/1.1 (no Upgrade: h2c). */
		push(&a, is_https(spec->url) ? "--http2" : "--http1.1");
		break;
	case MC_HTTP_H2C:
		push(&a, "--http2-prior-knowledge");
		break;
	default:
		push(&a, "--http1.1");
		break;
	}
	if (spec->method != NULL && !is_head(spec) &&
	    (strcmp(spec->method, "GET") != 0 || spec->body != NULL)) {
		push(&a, "-X");
		push(&a, spec->method);
	}
	for (size_t i = 0; i < spec->n_headers; i++) {
		push(&a, "-H");
		push(&a, spec->headers[i]);
	}
	if (spec->host != NULL) {
		push(&a, "-H");
		push_owned(&a, mc_xasprintf("Host: %s", spec->host));
	}
	for (size_t i = 0; i < spec->n_resolve; i++) {
		push(&a, "--resolve");
		push(&a, spec->resolve[i]);
	}
	if (spec->connect_to != NULL) {
		push(&a, "--connect-to");
		push(&a, spec->connect_to);
	}
	if (spec->insecure || spec->any_name || spec->cacert != NULL)
		push(&a, "-k");
	if (spec->body != NULL) {
		push(&a, "--data-binary");
		if (sh)
			push(&a, "@-");
		else
			push_owned(&a, mc_xasprintf("%.*s", (int)body_length(spec), spec->body));
	}
	push(&a, "--url");
	push(&a, spec->url);
	return a.v;
}

void
mc_podcurl_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

enum mc_xfer_error
mc_podcurl_classify(int code, const char *message)
{
	const char *m = message != NULL ? message : "";
	long os_errno = 0;

	switch (code) {
	case 51:        /* the old number of a peer verification failure */
	case 53:        /* TLS engine not found */
	case 54:        /* TLS engine could not be set */
	case 66:        /* TLS engine could not be initialised */
		return MC_XFER_TLS;
	default:
		break;
	}
	/* curl in the pod does not report the OS errno; its message sometimes names it. */
	if (strcasestr(m, "refused") != NULL)
		os_errno = ECONNREFUSED;
	else if (strcasestr(m, "timed out") != NULL || strcasestr(m, "timeout was reached") != NULL)
		os_errno = ETIMEDOUT;
	else if (strcasestr(m, "reset") != NULL)
		os_errno = ECONNRESET;
	else if (strcasestr(m, "broken pipe") != NULL)
		os_errno = EPIPE;
	else if (strcasestr(m, "no route to host") != NULL || strcasestr(m, "unreachable") != NULL)
		os_errno = EHOSTUNREACH;
	else if (code == CURLE_COULDNT_CONNECT)
		os_errno = ECONNREFUSED;   /* curl 8 says only "Couldn't connect to server" */
	else if ((code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) && strstr(m, "alert") == NULL)
		os_errno = ECONNRESET;     /* the peer went away mid-exchange */
	return mc_xfer_error_classify((CURLcode)code, os_errno, message);
}

/* ---- reading the output ---- */

struct trailer {
	long http_code;
	int exitcode;
	int64_t t[5];              /* namelookup, connect, appconnect, starttransfer, total (us) */
	char version[8];
	char ip[64];
	long port;
	int64_t size_download;
	int64_t size_header;
	char scheme[16];
	const char *msg;
	size_t msg_len;
};

static bool
parse_int(const char *s, size_t n, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Seconds with up to six decimals ("0.001234") into microseconds. */
static bool
parse_seconds(const char *s, size_t n, int64_t *us)
{
	const char *dot = memchr(s, '.', n);
	size_t ni = dot != NULL ? (size_t)(dot - s) : n;
	int64_t whole, frac = 0;
	size_t nf;

	if (!parse_int(s, ni, INT64_MAX / 1000000 - 1, &whole))
		return false;
	if (dot != NULL) {
		nf = n - ni - 1;
		if (nf == 0 || nf > 9)
			return false;
		for (size_t i = 0; i < 6; i++) {
			char c = i < nf ? dot[1 + i] : '0';

			if (c < '0' || c > '9')
				return false;
			frac = frac * 10 + (c - '0');
		}
		for (size_t i = 6; i < nf; i++)
			if (dot[1 + i] < '0' || dot[1 + i] > '9')
				return false;
	}
	*us = whole * 1000000 + frac;
	return true;
}

static bool
copy_field(const char *s, size_t n, char *out, size_t outlen, const char *allowed)
{
	if (n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strchr(allowed, s[i]) == NULL || s[i] == '\0')
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* The result line after "<marker> ", n bytes without the newline. */
static bool
parse_trailer(const char *s, size_t n, struct trailer *t)
{
	const char *f[N_FIELDS];
	size_t fl[N_FIELDS], k = 0;
	const char *p = s, *end = s + n;
	int64_t v;

	memset(t, 0, sizeof(*t));
	while (k < N_FIELDS) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));

		if (sp == NULL) {
			/* Only the last field may end the line (an old curl without %{errormsg}). */
			if (k != N_FIELDS - 1)
				return false;
			sp = end;
		}
		f[k] = p;
		fl[k] = (size_t)(sp - p);
		k++;
		p = sp < end ? sp + 1 : end;
	}
	t->msg = p;
	t->msg_len = (size_t)(end - p);
	while (t->msg_len > 0 && (t->msg[t->msg_len - 1] == '\r' || t->msg[t->msg_len - 1] == ' '))
		t->msg_len--;

	if (fl[0] != 3 || !parse_int(f[0], 3, 999, &v))
		return false;
	t->http_code = (long)v;
	if (!parse_int(f[1], fl[1], 255, &v))
		return false;
	t->exitcode = (int)v;
	for (int i = 0; i < 5; i++)
		if (!parse_seconds(f[2 + i], fl[2 + i], &t->t[i]))
			return false;
	if (!copy_field(f[7], fl[7], t->version, sizeof(t->version), "0123456789."))
		return false;
	if (!copy_field(f[8], fl[8], t->ip, sizeof(t->ip), "0123456789abcdefABCDEF.:%[]"))
		return false;
	if (!parse_int(f[9], fl[9], 65535, &v))
		return false;
	t->port = (long)v;
	if (!parse_int(f[10], fl[10], INT64_MAX / 2, &t->size_download) ||
	    !parse_int(f[11], fl[11], INT64_MAX / 2, &t->size_header))
		return false;
	if (!copy_field(f[12], fl[12], t->scheme, sizeof(t->scheme),
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-"))
		return false;
	return true;
}

static char *
dup_bytes(const char *s, size_t n)
{
	char *d = mc_xmalloc(n + 1);

	if (n > 0)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Every result empty, with a message (what a result says when none came back). */
static void
results_init(struct mc_probe_result *res, size_t count, const char *message)
{
	for (size_t i = 0; i < count; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].error = MC_XFER_OTHER;
		res[i].curl_code = -1;
		snprintf(res[i].message, sizeof(res[i].message), "%s", message);
		res[i].headers = mc_xstrdup("");
		res[i].body = mc_xstrdup("");
	}
}

static const char *
find_line_end(const char *p, const char *end)
{
	const char *e = memchr(p, '\n', (size_t)(end - p));

	return e != NULL ? e : end;
}

/*
 * Where the header blocks of a segment end when the byte counts cannot be
 * trusted: blocks that start with a status line, each up to its empty line,
 * going on after an interim (1xx) response.
 */
static size_t
headers_by_structure(const char *s, size_t n)
{
	size_t at = 0;

	while (n - at >= 5 && memcmp(s + at, "HTTP/", 5) == 0) {
		const char *p = s + at, *end = s + n, *sp;
		bool interim;

		sp = memchr(p, ' ', (size_t)(end - p));
		interim = sp != NULL && end - sp > 1 && sp[1] == '1';
		/* Up to and including the first empty line. */
		for (;;) {
			const char *e = find_line_end(p, end);
			size_t len = (size_t)(e - p);

			p = e < end ? e + 1 : end;
			if (len == 0 || (len == 1 && e[-1] == '\r') || p == end)
				break;
		}
		at = (size_t)(p - s);
		if (!interim)
			break;
	}
	return at;
}

/* The last block of the header region: from the last line that starts with "HTTP/". */
static size_t
last_block_start(const char *h, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i + 5 <= n; ) {
		const char *e = memchr(h + i, '\n', n - i);

		if (memcmp(h + i, "HTTP/", 5) == 0)
			start = i;
		if (e == NULL)
			break;
		i = (size_t)(e - h) + 1;
	}
	return start;
}

static void
fill_result(struct mc_probe_result *r, const struct trailer *t, const char *seg, size_t seg_len,
	    size_t header_len, size_t max_body)
{
	size_t start = last_block_start(seg, header_len), hl = header_len - start;
	size_t bl = seg_len - header_len;

	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->curl_code = t->exitcode;
	if (t->exitcode != 0) {
		if (t->msg_len > 0)
			snprintf(r->message, sizeof(r->message), "%.*s", (int)t->msg_len, t->msg);
		else
			snprintf(r->message, sizeof(r->message), "%s", curl_easy_strerror((CURLcode)t->exitcode));
	}
	r->error = mc_podcurl_classify(t->exitcode, r->message);
	r->status = t->exitcode == 0 ? t->http_code : 0;
	if (hl > MC_PROBE_MAX_HEADERS) {
		hl = MC_PROBE_MAX_HEADERS;
		r->headers_truncated = true;
	}
	r->headers = dup_bytes(seg + start, hl);
	r->headers_len = hl;
	r->body_bytes = (int64_t)bl;
	if (bl > max_body) {
		bl = max_body;
		r->body_truncated = true;
	}
	r->body = dup_bytes(seg + header_len, bl);
	r->body_len = bl;
	r->dns_us = t->t[0];
	r->connect_us = t->t[1];
	r->tls_us = t->t[2];
	r->first_byte_us = t->t[3];
	r->total_us = t->t[4];
	if (header_len > 0 && strcmp(t->version, "0") != 0 && t->version[0] != '\0')
		snprintf(r->http_version, sizeof(r->http_version), "%s",
			 strcmp(t->version, "1") == 0 ? "1.0" : t->version);
	r->tls = strcasecmp(t->scheme, "https") == 0;
	if (r->tls && r->http_version[0] != '\0')
		snprintf(r->alpn, sizeof(r->alpn), "%s", strcmp(r->http_version, "2") == 0 ? "h2" : "http/1.1");
	snprintf(r->primary_ip, sizeof(r->primary_ip), "%s", t->ip);
	r->primary_port = t->port;
}

/* Shows a bit of bad output in a message: printable, on one line, cut to fit. */
static void
excerpt(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 32 && c < 127)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

/*
 * What standard error says when no result came back: kubectl's error line,
 * but rather than "command terminated with exit code N" alone, the line
 * before it that says why (e.g. the runtime's "executable file not found").
 */
static void
stderr_reason(const char *text, char *line, size_t linelen)
{
	mc_kube_error_line(text, line, linelen);
	if (text == NULL || strncmp(line, "command terminated", 18) != 0)
		return;
	for (const char *p = text; *p != '\0'; ) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		if (n > 0 && strncmp(p, "command terminated", 18) != 0) {
			char first[384], *both;

			excerpt(p, n, first, sizeof(first));
			both = mc_xasprintf("%s; %s", first, line);
			snprintf(line, linelen, "%s", both);
			free(both);
			return;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
}

int
mc_podcurl_parse(const char *out, size_t out_len, const char *err_text, const char *marker,
		 size_t count, size_t max_body, struct mc_probe_result *res, char *err, size_t errlen)
{
	char needle[MC_PODCURL_MARKER_LEN + 3];
	size_t nl, pos = 0, found = 0;
	char bad[160] = "";
	size_t bad_at = 0;

	if (count == 0)
		return mc_err(err, errlen, EINVAL, "no results to read");
	results_init(res, count, "no result: the output ended before this request's");
	if (!marker_ok(marker))
		return mc_err(err, errlen, EINVAL, "bad marker (want %d hex digits)", MC_PODCURL_MARKER_LEN);
	if (out == NULL)
		out_len = 0;
	if (max_body == 0)
		max_body = DEFAULT_MAX_BODY;
	nl = (size_t)snprintf(needle, sizeof(needle), "\n%s ", marker);

	while (found < count && pos <= out_len) {
		const char *q = out_len - pos >= nl ? memmem(out + pos, out_len - pos, needle, nl) : NULL;
		const char *pick = NULL, *pick_end = NULL;
		struct trailer t, pt;
		bool exact = false;

		/*
		 * The request ends at the first line carrying the marker whose
		 * byte counts match what precedes it; earlier ones are text
		 * inside the body (a later request's line never matches, as
		 * the lines between make the span longer). Should none match,
		 * the first well-formed line is taken, headers then found by
		 * their shape; the search for a match stops after a few
		 * candidates so bad output costs no more than good.
		 */
		for (int seen = 0; q != NULL && seen < 64; ) {
			const char *ts = q + nl, *te = find_line_end(ts, out + out_len);
			size_t seg = (size_t)(q - (out + pos));

			if (parse_trailer(ts, (size_t)(te - ts), &t)) {
				uint64_t want = (uint64_t)t.size_header + (uint64_t)t.size_download;

				if (seg == want) {
					pick = q;
					pick_end = te;
					pt = t;
					exact = true;
					break;
				}
				if (pick == NULL) {
					pick = q;
					pick_end = te;
					pt = t;
				}
				seen++;
			} else if (bad[0] == '\0') {
				excerpt(ts, (size_t)(te - ts), bad, sizeof(bad));
				bad_at = found;
			}
			q = memmem(q + 1, (size_t)(out + out_len - (q + 1)), needle, nl);
		}
		if (pick == NULL)
			break;
		{
			const char *seg = out + pos;
			size_t seg_len = (size_t)(pick - seg);
			size_t hl = exact ? (size_t)pt.size_header : headers_by_structure(seg, seg_len);

			fill_result(&res[found], &pt, seg, seg_len, hl, max_body);
		}
		bad[0] = '\0';    /* a bad line before a good one was text inside a body */
		found++;
		pos = (size_t)(pick_end - out) + 1;
	}
	if (found == count)
		return 0;
	if (found == 0 && bad[0] == '\0') {
		char line[512];

		stderr_reason(err_text, line, sizeof(line));
		return mc_err(err, errlen, EPROTO, "no results in the output (%zu bytes)%s%s", out_len,
			      line[0] != '\0' ? ": " : "", line);
	}
	if (bad[0] != '\0')
		return mc_err(err, errlen, EPROTO,
			      "%zu of %zu results; request %zu: malformed result line \"%s\" (curl in the pod must be 7.75 or later)",
			      found, count, bad_at + 1, bad);
	return mc_err(err, errlen, EPROTO, "%zu of %zu results: the output was cut short", found, count);
}

/* ---- running it ---- */

static const char *
or_default(const char *s, const char *dflt)
{
	return s != NULL ? s : dflt;
}

int
mc_podcurl_run(const struct mc_kube *k, const struct mc_pod_ref *pod,
	       const struct mc_probe_spec *spec, size_t count, struct mc_probe_result *res,
	       char *err, size_t errlen)
{
	char marker[MC_PODCURL_MARKER_LEN + 1];
	char perr[MC_ERRLEN], line[512];
	const char *ctx, *ns;
	struct mc_kube_result kr;
	struct mc_kube kk;
	long to, base, deadline;
	size_t max_body, per;
	char **argv;
	int rc;

	if (count > 0 && res != NULL)
		results_init(res, count, "not sent");
	rc = mc_podcurl_check(pod, spec, count, err, errlen);
	if (rc < 0)
		return rc;
	ctx = or_default(pod->context, "(current context)");
	ns = or_default(pod->ns, "(default namespace)");
	mc_podcurl_marker(marker);
	argv = mc_podcurl_argv(pod, spec, count, marker);
	if (argv == NULL)
		return mc_err(err, errlen, EINVAL, "%s: %s/%s: cannot build the command", ctx, ns, pod->pod);

	/* The exec lasts as long as its requests: widen the deadline and output bound to match. */
	kk = *k;
	to = spec->timeout_ms > 0 ? spec->timeout_ms : DEFAULT_TIMEOUT_MS;
	base = k->timeout_ms > 0 ? k->timeout_ms : MC_KUBE_TIMEOUT_MS;
	deadline = base + (long)count * (to + 500);
	kk.timeout_ms = deadline > INT32_MAX ? INT32_MAX : (int)deadline;
	max_body = spec->max_body > 0 ? spec->max_body : DEFAULT_MAX_BODY;
	per = max_body + MC_PROBE_MAX_HEADERS + 1024;
	if (kk.max_output == 0)
		kk.max_output = MC_KUBE_MAX_OUTPUT;
	if (per <= SIZE_MAX / count && per * count > kk.max_output)
		kk.max_output = per * count;

	rc = mc_kube_exec(&kk, pod->context, (const char *const *)argv, NULL, &kr, perr, sizeof(perr));
	mc_podcurl_argv_free(argv);
	if (rc == -ETIMEDOUT) {
		/* What arrived before the kill still counts. */
		for (size_t i = 0; i < count; i++)
			mc_probe_result_free(&res[i]);
		mc_podcurl_parse(kr.out, kr.out_len, kr.err, marker, count, max_body, res, NULL, 0);
		rc = mc_err(err, errlen, ETIMEDOUT, "%s: %s/%s: kubectl exec: no answer within %d s (killed)",
			    ctx, ns, pod->pod, (kk.timeout_ms + 999) / 1000);
		mc_kube_result_clear(&kr);
		return rc;
	}
	if (rc < 0) {
		rc = mc_err(err, errlen, -rc, "%s: %s/%s: %s", ctx, ns, pod->pod, perr);
		mc_kube_result_clear(&kr);
		return rc;
	}
	if (kr.dry_run) {
		for (size_t i = 0; i < count; i++)
			snprintf(res[i].message, sizeof(res[i].message), "dry run: not sent");
		mc_kube_result_clear(&kr);
		return 0;
	}
	for (size_t i = 0; i < count; i++)
		mc_probe_result_free(&res[i]);
	rc = mc_podcurl_parse(kr.out, kr.out_len, kr.err, marker, count, max_body, res, perr, sizeof(perr));
	if (rc < 0) {
		bool ran_in_pod = kr.status == 0 || strstr(kr.err, "command terminated with exit code") != NULL;
		bool none = res[0].curl_code < 0;

		if (!ran_in_pod && none) {
			/* kubectl's own failure: no pod, no context, no permission ... */
			mc_kube_error_line(kr.err, line, sizeof(line));
			if (line[0] == '\0')
				snprintf(line, sizeof(line), "kubectl exited with status %d and said nothing", kr.status);
			rc = mc_err(err, errlen, -mc_kube_classify(kr.err), "%s: %s/%s: %s", ctx, ns, pod->pod, line);
		} else if (kr.truncated) {
			rc = mc_err(err, errlen, EPROTO, "%s: %s/%s: output passed %zu bytes and was cut: %s",
				    ctx, ns, pod->pod, kk.max_output, perr);
		} else {
			rc = mc_err(err, errlen, EPROTO, "%s: %s/%s: %s", ctx, ns, pod->pod, perr);
		}
	}
	mc_kube_result_clear(&kr);
	return rc;
}
