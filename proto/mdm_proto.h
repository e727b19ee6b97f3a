/* Lookup of the mdmesh.v1 message descriptors by name, for tools that take a
 * message type on the command line (`mdmesh decode --type Trade`). */
#ifndef MDM_PROTO_H
#define MDM_PROTO_H

#include <stddef.h>

#include "mdmesh/v1/events.pb-c.h"
#include "mdmesh/v1/execution.pb-c.h"

/* Descriptor for "Trade", "mdmesh.v1.Trade" or "trade" (case-insensitive);
 * NULL when unknown. */
const ProtobufCMessageDescriptor *mdm_proto_find(const char *name);

/* The i-th top-level message descriptor (for listing names); NULL past the end. */
const ProtobufCMessageDescriptor *mdm_proto_at(size_t i);

#endif
