/* Subcommand dispatch for the multi-command binaries (`mdmesh`,
 * `mdmesh-loadgen`): a table of commands, one row each, and one main that
 * handles --help/-h/help, --version/version, unknown commands and options.
 * Exit codes follow the tools' convention: 0 success, 1 runtime error, 2
 * usage error. Start-up only; not thread-safe (stdout/stderr). */
#ifndef MDM_CMD_H
#define MDM_CMD_H

#include <stddef.h>
#include <stdio.h>

/* One subcommand. `run` takes the arguments after the binary's name
 * (argv[0] is the subcommand's name) and returns the exit code. */
struct mdm_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* one line in the usage text */
};

struct mdm_cmd_table {
	const char *prog;          /* binary name, in usage and error lines */
	const char *about;         /* one line after the usage line */
	const struct mdm_cmd *cmds;
	size_t n;
};

/* Usage text: "usage: PROG <command> [options]", about, the commands with
 * their summaries, and the global options. */
void mdm_cmd_usage(const struct mdm_cmd_table *t, FILE *f);

/* Run the command argv[1] names and return its exit code. No command: the
 * usage on stderr, 2. --help/-h/help: the usage on stdout, 0. --version /
 * version: "PROG MDM_VERSION", 0. Anything else: "PROG: unknown option|command
 * 'X' (try 'PROG --help')" on stderr, 2. */
int mdm_cmd_main(const struct mdm_cmd_table *t, int argc, char **argv);

#endif
