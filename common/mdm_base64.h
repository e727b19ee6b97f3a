/* Standard base64 (RFC 4648, with padding): HdrHistogram's text form and
 * protobuf bytes in JSON. */
#ifndef MDM_BASE64_H
#define MDM_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "mdm_buf.h"

/* Append the base64 of src[0..n) to out. 0 or -ENOMEM. */
int mdm_base64_encode(struct mdm_buf *out, const uint8_t *src, size_t n);

/* Append the bytes decoded from base64 text s[0..n) to out. Whitespace is
 * skipped; padding is optional. 0, -EINVAL (bad character or length), -ENOMEM. */
int mdm_base64_decode(struct mdm_buf *out, const char *s, size_t n);

#endif
