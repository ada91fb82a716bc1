/*
 * `meshcheck up` and `meshcheck down`: keep a local mesh running for
 * exploration. `up` builds the mesh in a supervisor process of its own
 * (the parent of every nginx and fixture it starts, so they die with it),
 * prints the addresses of gateways and workloads and returns; the
 * supervisor waits for SIGTERM or SIGINT, then stops every process by PID
 * and removes the run directory. `down` finds the supervisors that `up`
 * started (each run directory holds up.pid) and stops them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "cmd.h"
#include "mesh_local.h"
#include "suite.h"
#include "util.h"

static void
up_usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck up [--topology FILE] [--mtls WORKLOAD@CLUSTER=MODE]... [--stop WORKLOAD@CLUSTER]...\n"
		"                    [--key ec256|rsa2048|rsa4096]\n"
		"\n"
		"Brings up the local multi-cluster mesh (default: fixtures/local/topology.json)\n"
		"and keeps it running in the background until `meshcheck down`; prints the\n"
		"addresses of its gateways and workloads. Its state lives in\n"
		"$TMPDIR/meshcheck-<id> (mode 0700).\n"
		"\n"
		"options:\n"
		"  --topology FILE     a topology file (see README); default: the built-in one\n"
		"  --mtls W@C=MODE     a workload's PeerAuthentication: STRICT, PERMISSIVE or DISABLE\n"
		"  --stop W@C          declare a workload but do not start it\n"
		"  --key TYPE          key type of the mesh CAs (default ec256)\n"
		"  -h, --help          this help\n");
}

static void
down_usage(FILE *f)
{
	fprintf(f,
		"usage: meshcheck down [ID]...\n"
		"\n"
		"Stops meshes started by `meshcheck up` (all of them, or those whose id is\n"
		"given), by the PID of their supervisor, and waits until their run\n"
		"directories are gone.\n");
}

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

static char *
base_dir(void)
{
	const char *t = getenv("TMPDIR");

	return mc_xstrdup(t != NULL && *t != '\0' ? t : "/tmp");
}

/* The supervisor: brings the mesh up, reports through fd, waits for a stop signal. */
static int
supervise(const struct mc_suite_def *def, const char *run_dir, int fd)
{
	struct mc_mesh *m = NULL;
	char err[MC_ERRLEN] = "", *pidfile = mc_xasprintf("%s/up.pid", run_dir), *text = NULL;
	struct sigaction sa = {0};
	sigset_t none;
	size_t len = 0;
	FILE *mem;
	int rc;

	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	rc = mc_mesh_up(def, run_dir, &m, err, sizeof(err));
	if (rc < 0) {
		dprintf(fd, "E%s\n", err);
		mc_rm_rf(run_dir);
		free(pidfile);
		return MC_EXIT_USAGE;
	}
	{
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

		(void)mc_file_write(pidfile, pid, (size_t)n, 0600, NULL, 0);
	}
	mem = open_memstream(&text, &len);
	mc_mesh_describe(m, mem);
	fclose(mem);
	dprintf(fd, "O%s", text);
	free(text);
	close(fd);
	sigemptyset(&none);
	while (stop_signal == 0)
		sigsuspend(&none);
	mc_mesh_down(m);
	mc_rm_rf(run_dir);
	free(pidfile);
	return MC_EXIT_OK;
}

int
mc_cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{"topology", required_argument, NULL, 't'}, {"mtls", required_argument, NULL, 'm'},
		{"stop", required_argument, NULL, 's'},     {"key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	cJSON *mesh = cJSON_CreateObject(), *mtls = cJSON_CreateObject(), *stopped = cJSON_CreateArray();
	struct mc_suite_def def = {.file = "options", .name = "up"};
	char err[MC_ERRLEN], id[64], *base = NULL, *run_dir = NULL, buf[16384];
	const char *topology = "default";
	unsigned char r[3] = {0};
	int c, p[2], rc = MC_EXIT_USAGE;
	ssize_t n, got = 0;
	pid_t pid;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			topology = optarg;
			break;
		case 'm': {
			char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg) {
				fprintf(stderr, "meshcheck up: --mtls %s: expected WORKLOAD@CLUSTER=MODE\n", optarg);
				goto out;
			}
			*eq = '\0';
			cJSON_AddStringToObject(mtls, optarg, eq + 1);
			break;
		}
		case 's':
			cJSON_AddItemToArray(stopped, cJSON_CreateString(optarg));
			break;
		case 'k':
			cJSON_AddStringToObject(mesh, "key", optarg);
			break;
		case 'h':
			up_usage(stdout);
			rc = MC_EXIT_OK;
			goto out;
		case ':':
			fprintf(stderr, "meshcheck up: %s needs a value\n", argv[optind - 1]);
			goto out;
		default:
			fprintf(stderr, "meshcheck up: unknown option %s (see meshcheck up --help)\n", argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshcheck up: unexpected argument %s\n", argv[optind]);
		goto out;
	}
	if (strcmp(topology, "default") != 0 && topology[0] != '/') {
		/* Relative to the current directory, as a user types it. */
		char cwd[4096];

		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			fprintf(stderr, "meshcheck up: cannot read the current directory\n");
			goto out;
		}
		cJSON_AddItemToObject(mesh, "topology", cJSON_CreateString(topology));
		def.file = mc_xasprintf("%s/up", cwd);
	} else {
		cJSON_AddStringToObject(mesh, "topology", topology);
	}
	cJSON_AddItemToObject(mesh, "mtls", mtls);
	cJSON_AddItemToObject(mesh, "stopped", stopped);
	mtls = stopped = NULL;
	def.mesh = mesh;
	if (mc_mesh_validate(&def, err, sizeof(err)) < 0) {
		fprintf(stderr, "meshcheck up: %s\n", err);
		goto out;
	}
	if (RAND_bytes(r, sizeof(r)) != 1) {
		r[0] = (unsigned char)getpid();
		r[1] = (unsigned char)time(NULL);
	}
	snprintf(id, sizeof(id), "up-%02x%02x%02x", r[0], r[1], r[2]);
	base = base_dir();
	run_dir = mc_xasprintf("%s/meshcheck-%s", base, id);
	if (mkdir(run_dir, 0700) < 0) {
		fprintf(stderr, "meshcheck up: %s: %s\n", run_dir, strerror(errno));
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "meshcheck up: pipe: %s\n", strerror(errno));
		mc_rm_rf(run_dir);
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "meshcheck up: fork: %s\n", strerror(errno));
		mc_rm_rf(run_dir);
		goto out;
	}
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);

		close(p[0]);
		setsid();
		if (dn >= 0) {
			dup2(dn, 0);
			dup2(dn, 1);
			dup2(dn, 2);
		}
		_exit(supervise(&def, run_dir, p[1]));
	}
	close(p[1]);
	while (got < (ssize_t)sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	buf[got] = '\0';
	if (got > 0 && buf[0] == 'O') {
		printf("local mesh %s is up (supervisor PID %d; state in %s)\n%s"
		       "stop it with: meshcheck down %s\n",
		       id, (int)pid, run_dir, buf + 1, id);
		rc = MC_EXIT_OK;
	} else {
		fprintf(stderr, "meshcheck up: %s", got > 1 ? buf + 1 : "the supervisor exited without a word\n");
		waitpid(pid, NULL, 0);
	}
out:
	cJSON_Delete(mesh);
	cJSON_Delete(mtls);
	cJSON_Delete(stopped);
	if (def.file != NULL && strcmp(def.file, "options") != 0)
		free((char *)def.file);
	free(base);
	free(run_dir);
	return rc;
}

/* True when pid runs meshcheck (so a recycled PID is never signalled). */
static bool
is_meshcheck(pid_t pid)
{
	char path[64], cmd[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	return n > 0 && strstr(cmd, "meshcheck") != NULL;
}

int
mc_cmd_down(int argc, char **argv)
{
	char *base = base_dir();
	DIR *d;
	struct dirent *e;
	int stopped = 0, rc = MC_EXIT_OK;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		down_usage(stdout);
		free(base);
		return MC_EXIT_OK;
	}
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-') {
			fprintf(stderr, "meshcheck down: unknown option %s (see meshcheck down --help)\n", argv[i]);
			free(base);
			return MC_EXIT_USAGE;
		}
	d = opendir(base);
	if (d == NULL) {
		fprintf(stderr, "meshcheck down: %s: %s\n", base, strerror(errno));
		free(base);
		return MC_EXIT_USAGE;
	}
	while ((e = readdir(d)) != NULL) {
		char *dir, *pidfile, *text = NULL;
		size_t len;
		bool wanted = argc <= 1;
		long pid;

		if (strncmp(e->d_name, "meshcheck-up-", 13) != 0)
			continue;
		for (int i = 1; i < argc; i++)
			wanted = wanted || strcmp(argv[i], e->d_name + 10) == 0;
		if (!wanted)
			continue;
		dir = mc_xasprintf("%s/%s", base, e->d_name);
		pidfile = mc_xasprintf("%s/up.pid", dir);
		if (mc_file_read(pidfile, 64, &text, &len, NULL, 0) == 0 && (pid = strtol(text, NULL, 10)) > 1 &&
		    is_meshcheck((pid_t)pid) && kill((pid_t)pid, SIGTERM) == 0) {
			struct stat sb;

			/* The supervisor stops everything and removes its directory. */
			for (int t = 0; t < 1000 && stat(dir, &sb) == 0; t++) {
				struct timespec ts = {0, 10 * 1000 * 1000};

				nanosleep(&ts, NULL);
			}
			if (stat(dir, &sb) == 0) {
				fprintf(stderr, "meshcheck down: %s did not stop within 10 s (PID %ld)\n", e->d_name + 10, pid);
				rc = MC_EXIT_FAIL;
			} else {
				printf("stopped %s (PID %ld)\n", e->d_name + 10, pid);
				stopped++;
			}
		} else {
			struct stat sb;

			/* No live supervisor: it was killed (its processes died with it), or it is still starting. */
			if (stat(dir, &sb) == 0 && sb.st_mtime < time(NULL) - 30) {
				mc_rm_rf(dir);
				printf("removed the stale state of %s\n", e->d_name + 10);
				stopped++;
			}
		}
		free(text);
		free(pidfile);
		free(dir);
	}
	closedir(d);
	if (stopped == 0)
		printf("no local mesh started by meshcheck up is running\n");
	free(base);
	return rc;
}
