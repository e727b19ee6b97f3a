/* Any protobuf-c message → one JSON object, driven by its descriptor. Used by
 * `mdmesh decode` (the `nats sub --translate` filter) and `mdmesh tail`.
 * Field names are the .proto names. Integers are JSON numbers (not strings as
 * in proto3's canonical JSON): market data values fit, and jq users expect
 * numbers. Enums print their short name; bytes print as base64; of a oneof only
 * the set member is printed; proto3 scalars are always printed. */
#ifndef MDM_PBJSON_H
#define MDM_PBJSON_H

#include <protobuf-c/protobuf-c.h>

#include "mdm_json.h"

/* Write `msg` as a JSON object (a value at the writer's current position). */
void mdm_pbjson_write(struct mdm_json *j, const ProtobufCMessage *msg);

#endif
