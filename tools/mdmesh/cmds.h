/* Subcommands of the `mdmesh` operator tool. Each takes the arguments after
 * its name (argv[0] is the subcommand name) and returns the process exit code:
 * 0 on success, 1 on a runtime error, 2 on a usage error. */
#ifndef MDMESH_CMDS_H
#define MDMESH_CMDS_H

struct mdmesh_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_decode(int argc, char **argv);
int cmd_hdr(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_refdata(int argc, char **argv);

/* Read all of `fd` into a fresh buffer (caller frees with mdm_free).
 * 0, -ENOMEM or -errno from read(2). */
int mdmesh_read_all(int fd, unsigned char **out, size_t *len);

#endif
