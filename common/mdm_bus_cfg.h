/* The NATS connection settings every daemon shares: one struct to embed in a
 * config, one block of schema rows (keys nats.url, nats.user, ...), one
 * conversion to mdm_bus_params, so the daemons cannot drift apart. */
#ifndef MDM_BUS_CFG_H
#define MDM_BUS_CFG_H

#include <stddef.h>

#include "mdm_bus.h"
#include "mdm_cfg.h"

struct mdm_nats_cfg {
	char *url;      /* comma-separated server URLs */
	char *user;
	char *password;
	char *token;
	char *creds;    /* JWT + nkey credentials file */
	char *tls_ca;   /* setting it enables TLS */
	char *tls_cert;
	char *tls_key;
};

/* Schema rows for a `struct mdm_nats_cfg member` inside config struct `type`. */
#define MDM_NATS_CFG_SCHEMA(type, member)                                                                      \
	{ "nats.url", MDM_CFG_STR, offsetof(type, member.url), "nats://127.0.0.1:4222", 0, 0, NULL,            \
	  "server URL(s), comma-separated for a cluster" },                                                    \
	{ "nats.user", MDM_CFG_STR, offsetof(type, member.user), "", 0, 0, NULL, "user name" },                \
	{ "nats.password", MDM_CFG_STR, offsetof(type, member.password), "", 0, 0, NULL,                        \
	  "password (prefer MDM_NATS_PASSWORD)" },                                                             \
	{ "nats.token", MDM_CFG_STR, offsetof(type, member.token), "", 0, 0, NULL,                              \
	  "token (prefer MDM_NATS_TOKEN)" },                                                                   \
	{ "nats.creds", MDM_CFG_STR, offsetof(type, member.creds), "", 0, 0, NULL,                              \
	  "credentials file (JWT + nkey)" },                                                                   \
	{ "nats.tls_ca", MDM_CFG_STR, offsetof(type, member.tls_ca), "", 0, 0, NULL,                            \
	  "CA certificate file: enables TLS" },                                                                \
	{ "nats.tls_cert", MDM_CFG_STR, offsetof(type, member.tls_cert), "", 0, 0, NULL, "client certificate file" }, \
	{ "nats.tls_key", MDM_CFG_STR, offsetof(type, member.tls_key), "", 0, 0, NULL, "client key file" }

/* Set the connection fields of `p` (urls, credentials, TLS) from `c`; empty
 * strings count as unset. The strings stay owned by `c`: keep it alive until
 * mdm_bus_create returned. Other fields of `p` are left as they are. */
void mdm_nats_cfg_apply(const struct mdm_nats_cfg *c, struct mdm_bus_params *p);

#endif
