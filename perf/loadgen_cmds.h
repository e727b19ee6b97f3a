/* Subcommands of `mdmesh-loadgen`. Each takes the arguments after its name
 * (argv[0] is the subcommand name) and returns the process exit code: 0 on
 * success, 1 on a runtime error, 2 on a usage error. */
#ifndef LOADGEN_CMDS_H
#define LOADGEN_CMDS_H

int loadgen_synth(int argc, char **argv);
int loadgen_send(int argc, char **argv);
int loadgen_fix(int argc, char **argv);

#endif
