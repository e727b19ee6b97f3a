/* One way for every subcommand to reach NATS, with the daemons' credential
 * settings taken from the environment (MDM_NATS_USER, MDM_NATS_PASSWORD,
 * MDM_NATS_NKEY_SEED, MDM_NATS_TLS_CA, ...), so a secured server needs no
 * secret on the command line. */
#include "cmds.h"
#include "mdm_bus_cfg.h"

int mdmesh_connect(const char *url, const char *name, struct mdm_bus **out)
{
	struct mdm_nats_cfg c = { 0 };
	struct mdm_bus_params bp;
	int rc;

	*out = NULL;
	rc = mdm_nats_cfg_load_env(&c, url);
	if (rc != 0)
		return rc;
	mdm_bus_params_init(&bp);
	mdm_nats_cfg_apply(&c, &bp);
	bp.name = name;
	bp.max_reconnect = 5;
	rc = mdm_bus_create(out, &bp);
	mdm_nats_cfg_free(&c);
	return rc;
}
