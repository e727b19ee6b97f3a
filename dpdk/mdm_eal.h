/* EAL start-up from typed parameters (config + CLI), so operators never hand-
 * write EAL argv and tests get the no-hugepage/no-PCI set-up of DPDK_NOTES.md.
 * The only code that calls rte_eal_init/rte_eal_cleanup. */
#ifndef MDM_EAL_H
#define MDM_EAL_H

#include <stdbool.h>
#include <stddef.h>

#define MDM_EAL_MAX_ARGS 64

struct mdm_eal_params {
	const char *prog;             /* argv[0] passed to EAL */
	const char *file_prefix;      /* NULL: "<prog>-<pid>" so processes never collide */
	bool no_huge;                 /* --no-huge --no-shconf (CI, laptops) */
	unsigned mem_mb;              /* -m; 0 = EAL default */
	const char *lcores;           /* --lcores value, e.g. "0@(0,1),1@1"; NULL = "-l 0" */
	const char *log_level;        /* --log-level, e.g. "*:warning"; NULL = EAL default */
	bool no_pci;                  /* --no-pci: vdev-only runs */
	bool no_telemetry;            /* --no-telemetry */
	const char *const *vdevs;     /* --vdev values */
	size_t n_vdevs;
	const char *const *allow;     /* -a PCI allow-list */
	size_t n_allow;
	char *const *extra;           /* verbatim args (after `--` on the command line) */
	int n_extra;
};

/* Build the EAL argv into argv[0..max) from p; strings are allocated with
 * mdm_strdup (free with mdm_eal_argv_free). Returns argc, or -E2BIG / -ENOMEM. */
int mdm_eal_build_argv(const struct mdm_eal_params *p, char **argv, int max);
void mdm_eal_argv_free(char **argv, int argc);

/* rte_eal_init with the built argv. Once per process (EAL's rule). Returns 0
 * or a negative errno with detail via mdm_err_last(). Also checks that every
 * requested vdev probed (a failed vdev probe does not fail rte_eal_init). */
int mdm_eal_init(const struct mdm_eal_params *p);

/* rte_eal_cleanup. Call once, from the main thread, after lcores stopped. */
void mdm_eal_fini(void);

#endif
