/*
 * Helpers for meshcheck's Check tests: temporary folders and running
 * programs. Header-only so each test binary stays one file plus this.
 */
#ifndef MC_TESTUTIL_H
#define MC_TESTUTIL_H

#include <check.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

/* A fresh temporary folder; the caller removes it with mc_rm_rf and frees. */
static inline char *
t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = mc_xasprintf("%s/mctest-XXXXXX", base != NULL && *base != '\0' ? base : "/tmp");

	ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp failed");
	return tmpl;
}

/* Writes text to dir/name and returns the path (caller frees). */
static inline char *
t_write(const char *dir, const char *name, const char *text)
{
	char *p = mc_xasprintf("%s/%s", dir, name);
	char err[MC_ERRLEN];

	ck_assert_msg(mc_file_write(p, text, strlen(text), 0644, err, sizeof(err)) == 0, "%s", err);
	return p;
}

/* Reads a whole file (caller frees); fails the test when it cannot. */
static inline char *
t_read(const char *path)
{
	char err[MC_ERRLEN];
	char *data = NULL;

	ck_assert_msg(mc_file_read(path, 64 << 20, &data, NULL, err, sizeof(err)) == 0, "%s", err);
	return data;
}

/*
 * Runs argv (argv[0] a path) with stdout and stderr captured into *out
 * (caller frees, may be NULL), and returns the exit status (128+signal if
 * killed).
 */
static inline int
t_run(char *const argv[], char **out)
{
	char tmpl[] = "/tmp/mcout-XXXXXX";
	int fd = mkstemp(tmpl), status = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	ck_assert_msg(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0, "cannot run %s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(fd);
	if (out != NULL)
		*out = t_read(tmpl);
	unlink(tmpl);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs a Check suite and returns the process exit code (0 when all passed). */
static inline int
t_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

/* Length of the first complete HTTP/1 request in buf (head and Content-Length body), or 0 when more must arrive. */
static inline size_t
t_http_request_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *p;
	size_t head, body = 0;

	if (end == NULL)
		return 0;
	head = (size_t)(end - buf) + 4;
	for (p = buf; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (strncasecmp(p, "Content-Length:", 15) == 0)
			body = strtoul(p + 15, NULL, 10);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return len >= head + body ? head + body : 0;
}

#endif
