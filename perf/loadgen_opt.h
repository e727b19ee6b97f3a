/* Command-line values of mdmesh-loadgen's subcommands, spelled as in config
 * files: numbers go through mdm_cfg_parse_uint/_double/_duration, so
 * "--duration 250ms" and "publish.flush: 250ms" read the same way. Each
 * function prints one line "PROG: --OPT: reason" on stderr on failure and
 * returns -1 (a usage error); 0 and *out set otherwise. Not thread-safe
 * (stderr), start-up only. */
#ifndef LOADGEN_OPT_H
#define LOADGEN_OPT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* An unsigned integer (MDM_CFG_UINT spelling) in min..max. */
int loadgen_opt_uint(const char *prog, const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out);

/* A duration up to 1000000 s (MDM_CFG_DURATION spelling, but a plain number
 * counts seconds: "1.5" = "1500ms"), into ns; 0 only when zero_ok. */
int loadgen_opt_secs(const char *prog, const char *opt, const char *s, bool zero_ok, uint64_t *out_ns);

/* A fraction in 0..1 (MDM_CFG_DOUBLE spelling). */
int loadgen_opt_fraction(const char *prog, const char *opt, const char *s, double *out);

/* IPV4:PORT (mdm_addr_parse_v4). */
int loadgen_opt_addr(const char *prog, const char *opt, const char *s, struct sockaddr_in *out);

#endif
