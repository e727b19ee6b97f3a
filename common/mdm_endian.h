/* Unaligned big-endian loads from wire bytes (network order), for decoders
 * that take (const uint8_t *p, size_t len). Hot-path safe. */
#ifndef MDM_ENDIAN_H
#define MDM_ENDIAN_H

#include <stdint.h>

static inline uint16_t mdm_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t mdm_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
