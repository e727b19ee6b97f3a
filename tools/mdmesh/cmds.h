/* Subcommands of the `mdmesh` operator tool. Each takes the arguments after
 * its name (argv[0] is the subcommand name) and returns the process exit code:
 * 0 on success, 1 on a runtime error, 2 on a usage error. */
#ifndef MDMESH_CMDS_H
#define MDMESH_CMDS_H

#include <stddef.h>

int cmd_decode(int argc, char **argv);
int cmd_hdr(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_tail(int argc, char **argv);
int cmd_book(int argc, char **argv);
int cmd_refdata(int argc, char **argv);
int cmd_nkey(int argc, char **argv);
int cmd_pub(int argc, char **argv);

struct mdm_bus;

/* Connect to `url` (NULL: $MDM_NATS_URL or the default) as connection `name`,
 * with credentials and TLS settings from the environment, the daemons' names
 * for them (MDM_NATS_USER, MDM_NATS_PASSWORD, MDM_NATS_TOKEN,
 * MDM_NATS_NKEY_SEED, MDM_NATS_CREDS, MDM_NATS_TLS_CA, MDM_NATS_TLS_CERT,
 * MDM_NATS_TLS_KEY, MDM_NATS_INBOX_PREFIX). 0 and *out, or mdm_bus_create's
 * errors with detail via mdm_err_last(). */
int mdmesh_connect(const char *url, const char *name, struct mdm_bus **out);

/* Read all of `fd` into a fresh buffer (caller frees with mdm_free).
 * 0, -ENOMEM or -errno from read(2). */
int mdmesh_read_all(int fd, unsigned char **out, size_t *len);

#endif
