/*
 * libcurl, loaded on first use.
 *
 * libcurl pulls in some thirty shared libraries (SSH, LDAP, Kerberos,
 * GnuTLS, IDN, ...), and mapping and relocating them is most of the
 * start-up of a process that links it: about 11 ms of a 23 ms start on a
 * machine whose page faults are slow. Most commands (pcap, capture, certs,
 * diff, verify-bundle) send no HTTP at all. So meshcheck does not link
 * libcurl: this file defines the libcurl functions the harness calls, and
 * the first call of any of them loads libcurl.so.4 with dlopen and
 * resolves them all. Every call after that is one indirect call.
 *
 * The three variadic functions pass their one argument on by type: for
 * curl_easy_setopt and curl_multi_setopt the option's number says it
 * (CURLOPTTYPE_*), and curl_easy_getinfo's argument is always a pointer.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* The exit code of an error that is not a verdict (MC_EXIT_USAGE in cmd.h). */
#define EXIT_NO_CURL 2

/* curl.h wraps these in function-like macros; here they are defined. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt

#define CURL_LIBRARY "libcurl.so.4"

#define CURL_FUNCTIONS(X)                                                                                   \
	X(curl_global_init)                                                                                 \
	X(curl_global_cleanup)                                                                              \
	X(curl_version_info)                                                                                \
	X(curl_easy_init)                                                                                   \
	X(curl_easy_setopt)                                                                                 \
	X(curl_easy_perform)                                                                                \
	X(curl_easy_cleanup)                                                                                \
	X(curl_easy_getinfo)                                                                                \
	X(curl_easy_duphandle)                                                                              \
	X(curl_easy_strerror)                                                                               \
	X(curl_slist_append)                                                                                \
	X(curl_slist_free_all)                                                                              \
	X(curl_free)                                                                                        \
	X(curl_multi_init)                                                                                  \
	X(curl_multi_add_handle)                                                                            \
	X(curl_multi_remove_handle)                                                                         \
	X(curl_multi_cleanup)                                                                               \
	X(curl_multi_info_read)                                                                             \
	X(curl_multi_socket_action)                                                                         \
	X(curl_multi_setopt)                                                                                \
	X(curl_multi_assign)                                                                                \
	X(curl_url)                                                                                         \
	X(curl_url_cleanup)                                                                                 \
	X(curl_url_get)                                                                                     \
	X(curl_url_set)                                                                                     \
	X(curl_url_strerror)

#define POINTER(name) __typeof__(name) *name;
static struct {
	CURL_FUNCTIONS(POINTER)
} lib;
#undef POINTER

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static atomic_bool loaded;

static void
load(void)
{
	void *h = dlopen(CURL_LIBRARY, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		fprintf(stderr, "meshcheck: cannot load %s, which sending HTTP requests needs: %s\n", CURL_LIBRARY,
			dlerror());
		exit(EXIT_NO_CURL);
	}
#define RESOLVE(name)                                                                                       \
	if ((*(void **)&lib.name = dlsym(h, #name)) == NULL) {                                              \
		fprintf(stderr, "meshcheck: %s has no %s: libcurl 7.80 or newer is needed\n", CURL_LIBRARY,  \
			#name);                                                                             \
		exit(EXIT_NO_CURL);                                                                        \
	}
	CURL_FUNCTIONS(RESOLVE)
#undef RESOLVE
	atomic_store(&loaded, true);
}

/*
 * rc = fn(handle, opt, the variadic argument in ap), read as the type the
 * option's number gives: CURLOPTTYPE_LONG, _FUNCTIONPOINT or _OFF_T, else a
 * data pointer (OBJECTPOINT: strings, lists, callbacks' data; BLOB).
 */
#define PASS_OPTION(rc, fn, handle, opt, ap)                                                                \
	switch (((opt) / 10000) * 10000) {                                                                  \
	case CURLOPTTYPE_LONG:                                                                              \
		rc = fn(handle, opt, va_arg(ap, long));                                                     \
		break;                                                                                      \
	case CURLOPTTYPE_FUNCTIONPOINT:                                                                     \
		rc = fn(handle, opt, va_arg(ap, void (*)(void)));                                           \
		break;                                                                                      \
	case CURLOPTTYPE_OFF_T:                                                                             \
		rc = fn(handle, opt, va_arg(ap, curl_off_t));                                               \
		break;                                                                                      \
	default:                                                                                            \
		rc = fn(handle, opt, va_arg(ap, void *));                                                   \
		break;                                                                                      \
	}

static inline void
need(void)
{
	pthread_once(&load_once, load);
}

CURLcode
curl_global_init(long flags)
{
	need();
	return lib.curl_global_init(flags);
}

/* Nothing to clean up in a library that was never loaded (and no reason to load it now). */
void
curl_global_cleanup(void)
{
	if (atomic_load(&loaded))
		lib.curl_global_cleanup();
}

curl_version_info_data *
curl_version_info(CURLversion v)
{
	need();
	return lib.curl_version_info(v);
}

CURL *
curl_easy_init(void)
{
	need();
	return lib.curl_easy_init();
}

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc;

	need();
	va_start(ap, opt);
	PASS_OPTION(rc, lib.curl_easy_setopt, h, opt, ap);
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *h)
{
	need();
	return lib.curl_easy_perform(h);
}

void
curl_easy_cleanup(CURL *h)
{
	if (h != NULL) {
		need();
		lib.curl_easy_cleanup(h);
	}
}

CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	need();
	va_start(ap, info);
	rc = lib.curl_easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURL *
curl_easy_duphandle(CURL *h)
{
	need();
	return lib.curl_easy_duphandle(h);
}

const char *
curl_easy_strerror(CURLcode c)
{
	need();
	return lib.curl_easy_strerror(c);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	need();
	return lib.curl_slist_append(l, s);
}

void
curl_slist_free_all(struct curl_slist *l)
{
	if (l != NULL) {
		need();
		lib.curl_slist_free_all(l);
	}
}

void
curl_free(void *p)
{
	if (p != NULL) {
		need();
		lib.curl_free(p);
	}
}

CURLM *
curl_multi_init(void)
{
	need();
	return lib.curl_multi_init();
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
	need();
	return lib.curl_multi_add_handle(m, h);
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
	need();
	return lib.curl_multi_remove_handle(m, h);
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	need();
	return lib.curl_multi_cleanup(m);
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	need();
	return lib.curl_multi_info_read(m, left);
}

CURLMcode
curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running)
{
	need();
	return lib.curl_multi_socket_action(m, s, ev, running);
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	va_list ap;
	CURLMcode rc;

	need();
	va_start(ap, opt);
	PASS_OPTION(rc, lib.curl_multi_setopt, m, opt, ap);
	va_end(ap);
	return rc;
}

CURLMcode
curl_multi_assign(CURLM *m, curl_socket_t s, void *p)
{
	need();
	return lib.curl_multi_assign(m, s, p);
}

CURLU *
curl_url(void)
{
	need();
	return lib.curl_url();
}

void
curl_url_cleanup(CURLU *u)
{
	if (u != NULL) {
		need();
		lib.curl_url_cleanup(u);
	}
}

/* libcurl 8 made the handle const (meson.build finds out which it is). */
#ifdef MC_CURL_URL_GET_CONST
#define URL_GET_HANDLE const CURLU
#else
#define URL_GET_HANDLE CURLU
#endif

CURLUcode
curl_url_get(URL_GET_HANDLE *u, CURLUPart what, char **part, unsigned int flags)
{
	need();
	return lib.curl_url_get(u, what, part, flags);
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	need();
	return lib.curl_url_set(u, what, part, flags);
}

const char *
curl_url_strerror(CURLUcode c)
{
	need();
	return lib.curl_url_strerror(c);
}
