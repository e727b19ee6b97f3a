/* NATS connection settings -> mdm_bus_params. */
#include "mdm_bus_cfg.h"

static const char *set(const char *s)
{
	return s && s[0] ? s : NULL;
}

void mdm_nats_cfg_apply(const struct mdm_nats_cfg *c, struct mdm_bus_params *p)
{
	p->urls = c->url;
	p->user = set(c->user);
	p->password = set(c->password);
	p->token = set(c->token);
	p->creds_file = set(c->creds);
	p->tls_ca = set(c->tls_ca);
	p->tls_cert = set(c->tls_cert);
	p->tls_key = set(c->tls_key);
}
