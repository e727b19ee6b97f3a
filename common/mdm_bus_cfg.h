/* The NATS connection settings every daemon shares: one struct to embed in a
 * config, one block of schema rows (keys nats.url, nats.user, ...), one
 * conversion to mdm_bus_params, so the daemons cannot drift apart. Secrets
 * (nats.password, nats.token) are best given by environment (MDM_NATS_PASSWORD,
 * MDM_NATS_TOKEN) or kept in files (nats.nkey_seed, nats.creds); either way
 * they never reach a log line, --print-config (shown as ***) or stats. */
#ifndef MDM_BUS_CFG_H
#define MDM_BUS_CFG_H

#include <stddef.h>

#include "mdm_bus.h"
#include "mdm_cfg.h"

struct mdm_nats_cfg {
	char *url;          /* comma-separated server URLs */
	char *user;
	char *password;
	char *token;
	char *nkey_seed;    /* file holding a user nkey seed; the public key is derived from it */
	char *creds;        /* JWT + nkey credentials file */
	char *tls_ca;       /* setting it enables TLS */
	char *tls_cert;
	char *tls_key;
	char *inbox_prefix; /* reply subjects <prefix>.<id>; empty = _INBOX */
	uint64_t write_deadline_ns; /* a write to the server blocked this long fails; 0 = never */
};

/* Schema rows for a `struct mdm_nats_cfg member` inside config struct `type`. */
#define MDM_NATS_CFG_SCHEMA(type, member)                                                                      \
	{ "nats.url", MDM_CFG_STR, offsetof(type, member.url), "nats://127.0.0.1:4222", 0, 0, NULL,            \
	  "server URL(s), comma-separated for a cluster; tls://host:port asks for TLS" },                      \
	{ "nats.user", MDM_CFG_STR, offsetof(type, member.user), "", 0, 0, NULL,                               \
	  "user name (with nats.password); one kind of credentials at most" },                                 \
	{ "nats.password", MDM_CFG_STR, offsetof(type, member.password), "", 0, 0, NULL,                        \
	  "password (prefer MDM_NATS_PASSWORD in the environment)" },                                          \
	{ "nats.token", MDM_CFG_STR, offsetof(type, member.token), "", 0, 0, NULL,                              \
	  "token (prefer MDM_NATS_TOKEN in the environment)" },                                                \
	{ "nats.nkey_seed", MDM_CFG_STR, offsetof(type, member.nkey_seed), "", 0, 0, NULL,                      \
	  "file holding a user nkey seed (SU...; `mdmesh nkey gen` makes one); the public key is derived" },   \
	{ "nats.creds", MDM_CFG_STR, offsetof(type, member.creds), "", 0, 0, NULL,                              \
	  "credentials file (JWT + nkey, from nsc)" },                                                         \
	{ "nats.tls_ca", MDM_CFG_STR, offsetof(type, member.tls_ca), "", 0, 0, NULL,                            \
	  "CA certificate file the server's certificate must chain to: enables TLS" },                        \
	{ "nats.tls_cert", MDM_CFG_STR, offsetof(type, member.tls_cert), "", 0, 0, NULL,                        \
	  "client certificate file, for servers with tls { verify: true }" },                                  \
	{ "nats.tls_key", MDM_CFG_STR, offsetof(type, member.tls_key), "", 0, 0, NULL, "its private key file" }, \
	{ "nats.inbox_prefix", MDM_CFG_STR, offsetof(type, member.inbox_prefix), "", 0, 0, NULL,                \
	  "reply subjects <prefix>.<id> (empty = _INBOX): lets the server limit each user to its own inboxes" }, \
	{ "nats.write_deadline", MDM_CFG_DURATION, offsetof(type, member.write_deadline_ns), "2s", 0, 600e9,     \
	  NULL,                                                                                                \
	  "a write the server does not take in for this long (stalled server, full TCP window) fails: the "     \
	  "connection is dropped and re-established, unacked publishes resent; 0 = none (a stalled server "    \
	  "then blocks every publish, the stats and the shutdown)" }

/* Number of rows MDM_NATS_CFG_SCHEMA expands to. */
#define MDM_NATS_CFG_ROWS 11

/* Set the connection fields of `p` (urls, credentials, TLS, inbox prefix, write deadline, and
 * hints naming the settings to check when the server refuses them) from `c`;
 * empty strings count as unset. The strings stay owned by `c`: keep it alive
 * until mdm_bus_create returned. Other fields of `p` are left as they are. */
void mdm_nats_cfg_apply(const struct mdm_nats_cfg *c, struct mdm_bus_params *p);

/* For tools without a config file: defaults, then the environment
 * (MDM_NATS_URL, MDM_NATS_USER, MDM_NATS_PASSWORD, MDM_NATS_NKEY_SEED, ...),
 * then `url` when not NULL (a --nats flag). `c` must be zeroed or freed.
 * 0, or -EINVAL/-ENOMEM with detail via mdm_err_last() ("env MDM_X: ..."). */
int mdm_nats_cfg_load_env(struct mdm_nats_cfg *c, const char *url);

/* Free what mdm_nats_cfg_load_env allocated. */
void mdm_nats_cfg_free(struct mdm_nats_cfg *c);

#endif
