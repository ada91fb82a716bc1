/*
 * In-mesh requests on the kube target: curl run inside a client pod (the
 * sleep/curl sample, image curlimages/curl) through `kubectl exec`.
 *
 * meshcheck cannot open sockets inside a cluster's mesh, so a request
 * "from sleep@c1 to http://helloworld.sample:5000/hello" becomes
 *   kubectl --context c1 exec -n sample sleep-868c754c4b-9dbzq -c sleep -- curl -q -s -S ... --url URL
 * and curl's output is read back into the struct mc_probe_result the local
 * probes fill, so the check kinds judge both targets alike.
 *
 * Nothing goes through a local shell. One request runs curl directly; a
 * series (count > 1, for distribution checks) runs a fixed sh loop in the
 * pod with the curl arguments as positional parameters, so no user data is
 * ever part of a script's text:
 *   ... -- sh -c 'n=$1; b=$2; shift 2; ...; curl "$@" ...' sh COUNT BODY CURL-ARGS...
 * Every request is its own curl process, hence its own connection.
 *
 * curl writes the response headers (-D -), the body (-o -) and then, through
 * -w, one result line that starts with a fresh random marker of 32 hex
 * digits and carries the status, curl's exit code, the timings, the HTTP
 * version, the peer, the byte counts and curl's error message:
 *   \n<marker> %{http_code} %{exitcode} %{time_namelookup} %{time_connect}
 *   %{time_appconnect} %{time_starttransfer} %{time_total} %{http_version}
 *   %{remote_ip} %{remote_port} %{size_download} %{size_header} %{scheme} %{errormsg}\n
 * (one line; %{exitcode} and %{errormsg} need curl 7.75 or later). The byte
 * counts delimit headers and body exactly, so a body holding marker-like
 * text, or no final newline, does not confuse the reader.
 *
 * How the request description (struct mc_probe_spec) maps to curl:
 *   url             --url URL (never taken for an option)
 *   method          -X METHOD; HEAD is -I (curl would otherwise wait for a body)
 *   host, headers   -H 'Name: value' (the headers first, then Host, as the local probe);
 *                   a header may not start with '@' (curl would read a file)
 *   body            --data-binary BODY; a body starting with '@' (a file for curl)
 *                   goes through the sh form, fed to --data-binary @- by printf;
 *                   a body with a NUL byte cannot be an argument: -EINVAL
 *   version         --http1.1, --http2 (https only: plain http stays HTTP/1.1 as
 *                   with the local probe), --http2-prior-knowledge (h2c)
 *   timeouts        --connect-timeout and -m in seconds with three decimals
 *                   (defaults 5 s and 10 s, as the local probe)
 *   resolve         --resolve, one per entry; connect_to: --connect-to
 *   insecure        -k
 *   cacert,any_name the roots are a file on this machine that the pod cannot read,
 *                   and curl cannot verify a chain while ignoring the name: both
 *                   turn verification off in the pod (-k). Chains are judged
 *                   from this machine by the `chain` checks, not through here.
 *   cert, key       refused (-ENOTSUP): a client certificate would have to be
 *                   copied into the pod; in-mesh mutual TLS is the sidecar's job
 *   fresh           always (one curl process per request)
 *   max_body        body bytes kept per result (0: 1 MiB); curl still reads all
 * plus -q (no .curlrc), -g (no URL globbing, as libcurl), --noproxy '*' and
 * the local probe's User-Agent.
 *
 * What a result holds: as the local probe, except that the peer's chain is
 * not available (peer_chain_pem NULL, n_peer_certs 0), the ALPN follows from
 * the HTTP version, and the transport error is classified from curl's exit
 * code and message alone (mc_podcurl_classify), since curl in the pod does
 * not report the OS errno.
 */
#ifndef MC_KUBE_PODCURL_H
#define MC_KUBE_PODCURL_H

#include <stddef.h>

#include "kubectl.h"
#include "probe.h"

/* Which container of which pod sends the requests. Strings are borrowed. */
struct mc_pod_ref {
	const char *context;       /* kubectl context; NULL: the current one */
	const char *ns;            /* namespace; NULL: the context's default */
	const char *pod;           /* pod name (required) */
	const char *container;     /* e.g. "sleep"; NULL: the pod's default container */
};

#define MC_PODCURL_MARKER_LEN 32       /* hex digits */
#define MC_PODCURL_MAX_COUNT 10000     /* requests in one exec */

/*
 * Whether the pod reference, the spec and count can be sent from a pod (see
 * above; the URL, headers and resolve entries are checked as by
 * mc_probe_spec_check, the TLS files are not looked at). Returns 0,
 * -EINVAL or -ENOTSUP with a message naming the field.
 */
int mc_podcurl_check(const struct mc_pod_ref *pod, const struct mc_probe_spec *spec, size_t count,
		     char *err, size_t errlen);

/*
 * The kubectl arguments that send count requests from the pod with the
 * given marker (MC_PODCURL_MARKER_LEN hex digits): "exec", the namespace,
 * pod and container, "--", then curl or the sh loop, NULL-terminated. The
 * context is not part of it (mc_kube_exec adds --context and --kubeconfig).
 * NULL when mc_podcurl_check fails or the marker is not 32 hex digits.
 * Free with mc_podcurl_argv_free.
 */
char **mc_podcurl_argv(const struct mc_pod_ref *pod, const struct mc_probe_spec *spec, size_t count,
		       const char *marker);
void mc_podcurl_argv_free(char **argv);

/* A fresh random marker: MC_PODCURL_MARKER_LEN hex digits and a NUL. */
void mc_podcurl_marker(char marker[MC_PODCURL_MARKER_LEN + 1]);

/*
 * The class of a curl exit code, with curl's message for the cases the code
 * alone does not settle (the pod's curl reports no OS errno): 6 dns; 7
 * refused (curl 8 says only "Couldn't connect to server"), but timeout,
 * reset or other when the message names a timeout, a reset or an
 * unreachable host; 28 timeout; 35, 51,
 * 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91 tls; 52, 18, 92 reset;
 * 55 and 56 reset, or tls when the message names a TLS alert; others other.
 * Otherwise as mc_xfer_error_classify.
 */
enum mc_xfer_error mc_podcurl_classify(int curl_code, const char *message);

/*
 * Reads the output of an exec that sent count requests with marker: out
 * (out_len bytes, need not be NUL-terminated) is what the pod wrote on
 * standard output, err_text (may be NULL) what it wrote on standard error,
 * used only to explain output without results. Fills res[0..count-1]
 * (which need no initialisation; the caller frees each with
 * mc_probe_result_free whatever the return): status (0 unless curl exited
 * 0, as the local probe), error class, curl_code and message, the last
 * header block (after any 1xx), the body (at most max_body bytes, 0: 1 MiB),
 * body_bytes, timings in microseconds, http_version, tls, alpn,
 * primary_ip and primary_port.
 * Returns 0 when all count results were found, else -EPROTO with a message
 * saying how many were found and what was wrong (no results, a malformed
 * result line, output cut short); the results found are still filled and
 * the others say "no result" (error other).
 */
int mc_podcurl_parse(const char *out, size_t out_len, const char *err_text, const char *marker,
		     size_t count, size_t max_body, struct mc_probe_result *res,
		     char *err, size_t errlen);

/*
 * Sends count requests (1 to MC_PODCURL_MAX_COUNT) described by spec from
 * the pod and fills res[0..count-1] (no initialisation needed; the caller
 * frees each with mc_probe_result_free whatever the return). The kubectl
 * deadline is k's (MC_KUBE_TIMEOUT_MS when 0) plus count times the request
 * timeout and half a second; the output limit grows with count and max_body.
 * Returns 0 when the exec ran and every result came back, whatever the HTTP
 * outcomes. When kubectl itself failed: its errno (mc_kube_classify: -ENXIO
 * unknown context, -ENOENT pod not found, -EACCES forbidden, -EHOSTUNREACH,
 * -EIO; -ETIMEDOUT when killed at the deadline) with one line naming the
 * context and pod and keeping kubectl's words, e.g.
 *   kind-c1: sample/sleep-x: Error from server (NotFound): pods "sleep-x" not found
 * -EPROTO when the exec ran but results are missing (curl absent or too old
 * in the container, output cut at the limit); -EINVAL/-ENOTSUP from
 * mc_podcurl_check. In dry-run mode the command is printed and every result
 * is "dry run: not sent" (error other), returning 0.
 */
int mc_podcurl_run(const struct mc_kube *k, const struct mc_pod_ref *pod,
		   const struct mc_probe_spec *spec, size_t count, struct mc_probe_result *res,
		   char *err, size_t errlen);

#endif
