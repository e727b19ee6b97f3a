/* Name → descriptor table over every message of mdmesh/v1/events.proto and
 * execution.proto. */
#include "mdm_proto.h"

#include <strings.h>

static const ProtobufCMessageDescriptor *const all[] = {
	&mdmesh__v1__market_event__descriptor,
	&mdmesh__v1__event_batch__descriptor,
	&mdmesh__v1__trade__descriptor,
	&mdmesh__v1__bar__descriptor,
	&mdmesh__v1__alert__descriptor,
	&mdmesh__v1__dead_letter__descriptor,
	&mdmesh__v1__audit_record__descriptor,
	&mdmesh__v1__event_header__descriptor,
	&mdmesh__v1__order_state__descriptor,
	&mdmesh__v1__execution__descriptor,
	&mdmesh__v1__bbo__descriptor,
	&mdmesh__v1__depth__descriptor,
	&mdmesh__v1__level__descriptor,
};

const ProtobufCMessageDescriptor *mdm_proto_find(const char *name)
{
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcasecmp(name, all[i]->name) == 0 || strcasecmp(name, all[i]->short_name) == 0)
			return all[i];
	}
	return NULL;
}

const ProtobufCMessageDescriptor *mdm_proto_at(size_t i)
{
	return i < sizeof(all) / sizeof(all[0]) ? all[i] : NULL;
}
