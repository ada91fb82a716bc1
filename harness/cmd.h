/*
 * Subcommands of the meshcheck program: one entry each in the table in
 * main.c. Each takes argv with argv[0] = the subcommand's name and returns
 * the process exit code: 0 all passed, 1 some check failed, 2 usage or
 * environment error.
 */
#ifndef MC_CMD_H
#define MC_CMD_H

#define MC_EXIT_OK 0
#define MC_EXIT_FAIL 1
#define MC_EXIT_USAGE 2

struct mc_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int mc_cmd_run(int argc, char **argv);
int mc_cmd_certs(int argc, char **argv);
int mc_cmd_capture(int argc, char **argv);
int mc_cmd_pcap(int argc, char **argv);
int mc_cmd_load(int argc, char **argv);
int mc_cmd_watch(int argc, char **argv);
int mc_cmd_up(int argc, char **argv);
int mc_cmd_down(int argc, char **argv);
int mc_cmd_clean(int argc, char **argv);
int mc_cmd_diff(int argc, char **argv);
int mc_cmd_verify_bundle(int argc, char **argv);

#endif
