/* EAL argv builder and init. */
#include "mdm_eal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "mdm_err.h"
#include "mdm_mem.h"

static int push(char **argv, int *argc, int max, const char *s)
{
	if (*argc >= max)
		return -E2BIG;
	argv[*argc] = mdm_strdup(s);
	if (!argv[*argc])
		return -ENOMEM;
	(*argc)++;
	return 0;
}

void mdm_eal_argv_free(char **argv, int argc)
{
	for (int i = 0; i < argc; i++)
		mdm_free(argv[i]);
}

int mdm_eal_build_argv(const struct mdm_eal_params *p, char **argv, int max)
{
	char tmp[256];
	int argc = 0, rc = 0;

#define PUSH(s)                                           \
	do {                                              \
		if ((rc = push(argv, &argc, max, (s))) != 0) \
			goto err;                         \
	} while (0)

	PUSH(p->prog ? p->prog : "mdmesh");
	if (p->file_prefix) {
		snprintf(tmp, sizeof(tmp), "--file-prefix=%s", p->file_prefix);
	} else {
		const char *base = strrchr(p->prog ? p->prog : "mdmesh", '/');

		snprintf(tmp, sizeof(tmp), "--file-prefix=%s-%d", base ? base + 1 : (p->prog ? p->prog : "mdmesh"),
			 (int)getpid());
	}
	PUSH(tmp);
	if (p->no_huge) {
		PUSH("--no-huge");
		PUSH("--no-shconf");
	}
	if (p->mem_mb) {
		snprintf(tmp, sizeof(tmp), "%u", p->mem_mb);
		PUSH("-m");
		PUSH(tmp);
	}
	if (p->lcores) {
		PUSH("--lcores");
		PUSH(p->lcores);
	} else {
		PUSH("-l");
		PUSH("0");
	}
	if (p->log_level) {
		snprintf(tmp, sizeof(tmp), "--log-level=%s", p->log_level);
		PUSH(tmp);
	}
	if (p->no_pci)
		PUSH("--no-pci");
	if (p->no_telemetry)
		PUSH("--no-telemetry");
	for (size_t i = 0; i < p->n_allow; i++) {
		PUSH("-a");
		PUSH(p->allow[i]);
	}
	for (size_t i = 0; i < p->n_vdevs; i++) {
		PUSH("--vdev");
		PUSH(p->vdevs[i]);
	}
	for (int i = 0; i < p->n_extra; i++)
		PUSH(p->extra[i]);
#undef PUSH
	return argc;
err:
	mdm_eal_argv_free(argv, argc);
	return rc;
}

int mdm_eal_init(const struct mdm_eal_params *p)
{
	char *argv[MDM_EAL_MAX_ARGS];
	char *copy[MDM_EAL_MAX_ARGS];
	int argc = mdm_eal_build_argv(p, argv, MDM_EAL_MAX_ARGS);
	int rc;

	if (argc < 0)
		return mdm_err_set(argc, "EAL arguments: %s", mdm_strerror(argc));
	/* rte_eal_init may permute argv; keep our pointers to free them. */
	memcpy(copy, argv, sizeof(char *) * (size_t)argc);
	rc = rte_eal_init(argc, copy);
	mdm_eal_argv_free(argv, argc);
	if (rc < 0)
		return mdm_err_set(-rte_errno, "rte_eal_init failed: %s", rte_strerror(rte_errno));
	for (size_t i = 0; i < p->n_vdevs; i++) {
		char name[128];
		uint16_t port;
		size_t n = strcspn(p->vdevs[i], ",");

		snprintf(name, sizeof(name), "%.*s", (int)n, p->vdevs[i]);
		if (strncmp(name, "net_", 4) == 0 && rte_eth_dev_get_port_by_name(name, &port) != 0)
			return mdm_err_set(-ENODEV, "vdev '%s' did not probe (check its arguments and files)",
					   p->vdevs[i]);
	}
	return 0;
}

void mdm_eal_fini(void)
{
	rte_eal_cleanup();
}
