/*
 * meshcheck: certifies a service mesh. main() only finds the subcommand in
 * the table and calls it; everything else lives in the subcommands and the
 * harness library.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct mc_cmd commands[] = {
	{"run", "run suites against a target and write JUnit, HTML and JSON reports", mc_cmd_run},
	{"certs", "mesh PKI: create CAs, issue workload certificates, verify and inspect chains", mc_cmd_certs},
	{"capture", "capture packets live and classify every TCP flow (TLS, HTTP/1, h2c, plaintext)", mc_cmd_capture},
	{"pcap", "classify the flows of a pcap/pcapng file or stream and judge an expectation", mc_cmd_pcap},
	{"load", "send requests (closed or open loop) and report latency percentiles, codes and responders", mc_cmd_load},
	{"watch", "steady traffic while a command runs (an upgrade, a restart): which requests failed, and when",
	 mc_cmd_watch},
	{"up", "bring up the local multi-cluster mesh and keep it running; print its addresses", mc_cmd_up},
	{"down", "stop local meshes started by up", mc_cmd_down},
	{"clean", "delete what kube runs left in clusters (objects with meshcheck's run label, nothing else)",
	 mc_cmd_clean},
	{"verify-bundle", "check a bundle of run --certify: checksums, listings, what it certifies", mc_cmd_verify_bundle},
	{"diff", "compare two runs' report.json: verdicts, policy rows, shares and latencies", mc_cmd_diff},
	{"help", "show this help, or a command's help (help COMMAND)", cmd_help},
	{"version", "print the version", cmd_version},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: meshcheck COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`meshcheck COMMAND --help` shows a command's options.\n"
		   "Exit codes: 0 all passed, 1 some check failed, 2 usage or environment error.\n");
}

static const struct mc_cmd *
find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int
cmd_help(int argc, char **argv)
{
	const struct mc_cmd *c;
	char help[] = "--help";
	char *args[3];

	if (argc < 2) {
		usage(stdout);
		return MC_EXIT_OK;
	}
	c = find(argv[1]);
	if (c == NULL || c->run == cmd_help || c->run == cmd_version) {
		if (c == NULL) {
			fprintf(stderr, "meshcheck: unknown command \"%s\"\n", argv[1]);
			return MC_EXIT_USAGE;
		}
		usage(stdout);
		return MC_EXIT_OK;
	}
	args[0] = argv[1];
	args[1] = help;
	args[2] = NULL;
	return c->run(2, args);
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("meshcheck %s\n", MC_VERSION);
	return MC_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct mc_cmd *c;

	if (argc < 2) {
		usage(stderr);
		return MC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return MC_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	c = find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "meshcheck: unknown command \"%s\" (see meshcheck --help)\n", argv[1]);
		return MC_EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
