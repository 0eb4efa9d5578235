/*
 * main.c - entry point of the `netcoord` executable: dispatches the first
 * argument to a subcommand. Each subcommand lives in its own file with a
 * header declaring `int nc_cmd_<name>(int argc, char **argv)`; add a row
 * to the table below to add one.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/agent.h"
#include "cmd/cli.h"
#include "cmd/fleet_sim.h"
#include "cmd/sim.h"
#include "agent/agent.h"

/* `netcoord version`: the version the build was made from (CMake's). */
static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("netcoord v%s\n", NC_AGENT_VERSION);
	return 0;
}

/* One subcommand. */
struct cmd {
	/* Name on the command line. */
	const char *name;
	/* One-line description for the usage text. */
	const char *help;
	/* Handler: argv[0] is the subcommand name. */
	int (*run)(int argc, char **argv);
};

static const struct cmd cmds[] = {
	{"sim", "run the coordinate accuracy simulator on an RTT matrix",
	 nc_cmd_sim},
	{"agent", "run a gossip agent (joins serf 0.9.4 clusters)",
	 nc_cmd_agent},
	{"fleet-sim", "N agents in virtual time: the capacity table",
	 nc_cmd_fleet_sim},
	{"members", NULL, nc_cmd_cli},
	{"rtt", NULL, nc_cmd_cli},
	{"nearest", NULL, nc_cmd_cli},
	{"failover", NULL, nc_cmd_cli},
	{"join", NULL, nc_cmd_cli},
	{"leave", NULL, nc_cmd_cli},
	{"reload", NULL, nc_cmd_cli},
	{"keygen", NULL, nc_cmd_cli},
	{"keys", NULL, nc_cmd_cli},
	{"event", NULL, nc_cmd_cli},
	{"reachability", NULL, nc_cmd_cli},
	{"version", "print the version", cmd_version},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: netcoord <command> [flags]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *help = cmds[i].help;
		if (help == NULL) /* client subcommands: text in cli.c */
			help = nc_cli_command_help(cmds[i].name);
		fprintf(f, "  %-12s %s\n", cmds[i].name, help);
	}
	nc_cli_usage_common(f);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "netcoord: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
