/*
 * What the end-to-end tests share: a workspace per test (a temporary
 * folder, the TMPDIR given to meshcheck so run directories can be seen, the
 * report paths) and readers for what a run leaves.
 */
#ifndef MC_E2EUTIL_H
#define MC_E2EUTIL_H

#include <dirent.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "testutil.h"

/* Counts entries of dir (0 when it does not exist). */
static inline int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A test's own folders and the report paths inside them. */
struct ws {
	char *tmp;      /* removed by ws_free */
	char *runs;     /* TMPDIR given to meshcheck: run directories appear here */
	char *out_dir;
	char *junit;
	char *json;
	char *html;
	char *log;      /* for meshcheck's output when a test keeps it */
};

static inline void
ws_init(struct ws *w)
{
	w->tmp = t_tmpdir();
	w->runs = mc_xasprintf("%s/runs", w->tmp);
	w->out_dir = mc_xasprintf("%s/out", w->tmp);
	w->junit = mc_xasprintf("%s/junit.xml", w->out_dir);
	w->json = mc_xasprintf("%s/report.json", w->out_dir);
	w->html = mc_xasprintf("%s/report.html", w->out_dir);
	w->log = mc_xasprintf("%s/log", w->tmp);
	ck_assert_int_eq(mkdir(w->runs, 0700), 0);
}

static inline void
ws_free(struct ws *w)
{
	mc_rm_rf(w->tmp);
	free(w->tmp);
	free(w->runs);
	free(w->out_dir);
	free(w->junit);
	free(w->json);
	free(w->html);
	free(w->log);
}

static inline cJSON *
read_json(const char *path)
{
	char *text = t_read(path);
	cJSON *j = cJSON_Parse(text);

	ck_assert_msg(j != NULL, "%s is not JSON", path);
	free(text);
	return j;
}

#endif
