/* `mdmesh-loadgen`: deterministic feed generation. Dispatches to one
 * subcommand per file (loadgen_<name>.c); a new subcommand is one more row in
 * `commands`. */
#include <stdio.h>
#include <string.h>

#include "loadgen_cmds.h"

static const struct loadgen_cmd commands[] = {
	{ "synth", loadgen_synth, "deterministic ITCH 5.0 / MoldUDP64 session -> pcap (+ ground truth)" },
	{ "send", loadgen_send, "live MoldUDP64 multicast at a constant event rate (wrk2-style schedule)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: mdmesh-loadgen <command> [options]\n\n"
		   "mdmesh-loadgen makes NASDAQ TotalView-ITCH 5.0 feeds for tests and benchmarks.\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'mdmesh-loadgen <command> --help' describes a command's options.\n"
		   "  --help       this text\n  --version    print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("mdmesh-loadgen %s\n", MDM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	if (argv[1][0] == '-')
		fprintf(stderr, "mdmesh-loadgen: unknown option '%s' (try 'mdmesh-loadgen --help')\n", argv[1]);
	else
		fprintf(stderr, "mdmesh-loadgen: unknown command '%s' (try 'mdmesh-loadgen --help')\n", argv[1]);
	return 2;
}
