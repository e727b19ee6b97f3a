/* NATS connection settings -> mdm_bus_params. */
#include "mdm_bus_cfg.h"

#include "mdm_clock.h"

#include <string.h>

static const char *set(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* Advice for a refused login, in the config's own words. */
static const char *auth_hint(const struct mdm_nats_cfg *c)
{
	const char *scheme = c->url ? strstr(c->url, "://") : NULL;

	if (set(c->user) || set(c->password))
		return "check nats.user and nats.password / MDM_NATS_PASSWORD";
	if (set(c->token))
		return "check nats.token / MDM_NATS_TOKEN";
	if (set(c->nkey_seed))
		return "check nats.nkey_seed: its public key must be a user of the server";
	if (set(c->creds))
		return "check nats.creds";
	if (scheme && strchr(scheme, '@'))
		return "check the user:password in nats.url";
	return "the server wants nats.user + MDM_NATS_PASSWORD, nats.token, nats.nkey_seed or nats.creds";
}

static const char *tls_hint(const struct mdm_nats_cfg *c)
{
	if (!set(c->tls_ca))
		return "set nats.tls_ca to the CA that signed the server's certificate";
	if (!set(c->tls_cert))
		return "check nats.tls_ca, and nats.tls_cert + nats.tls_key if the server verifies clients";
	return "check nats.tls_ca, nats.tls_cert and nats.tls_key";
}

void mdm_nats_cfg_apply(const struct mdm_nats_cfg *c, struct mdm_bus_params *p)
{
	p->urls = c->url;
	p->user = set(c->user);
	p->password = set(c->password);
	p->token = set(c->token);
	p->nkey_seed_file = set(c->nkey_seed);
	p->nkey_public = NULL;
	p->creds_file = set(c->creds);
	p->tls_ca = set(c->tls_ca);
	p->tls_cert = set(c->tls_cert);
	p->tls_key = set(c->tls_key);
	p->inbox_prefix = set(c->inbox_prefix);
	/* 0 is "none" in the config but "the default" in the params: -1 says none.
	 * Rounded up: a sub-millisecond deadline must not become none. */
	p->write_deadline_ms =
		c->write_deadline_ns ? (int64_t)((c->write_deadline_ns + MDM_NS_PER_MS - 1) / MDM_NS_PER_MS) : -1;
	p->auth_hint = auth_hint(c);
	p->tls_hint = tls_hint(c);
}

/* The rows alone, for tools: a struct whose first (only) member is the
 * settings, so a pointer to them is a pointer to it. */
struct nats_only {
	struct mdm_nats_cfg nats;
};

static const struct mdm_cfg_field nats_schema[] = { MDM_NATS_CFG_SCHEMA(struct nats_only, nats) };

_Static_assert(sizeof(nats_schema) / sizeof(nats_schema[0]) == MDM_NATS_CFG_ROWS, "MDM_NATS_CFG_ROWS");

int mdm_nats_cfg_load_env(struct mdm_nats_cfg *c, const char *url)
{
	struct nats_only *n = (struct nats_only *)c;
	int rc = mdm_cfg_load_string(nats_schema, MDM_NATS_CFG_ROWS, n, "", 0, "<defaults>");

	if (rc == 0 && url)
		rc = mdm_cfg_set(nats_schema, MDM_NATS_CFG_ROWS, n, "nats.url", url, "--nats");
	if (rc != 0)
		mdm_cfg_free(nats_schema, MDM_NATS_CFG_ROWS, n);
	return rc;
}

void mdm_nats_cfg_free(struct mdm_nats_cfg *c)
{
	mdm_cfg_free(nats_schema, MDM_NATS_CFG_ROWS, (struct nats_only *)c);
}
