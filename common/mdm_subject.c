/* Subject tokens from data (mdm_subject.h). Bytes are mapped one to one, so a
 * token is exactly as long as its value and a caller can size buffers from
 * the value alone. */
#include "mdm_subject.h"

size_t mdm_subject_token(char *out, size_t cap, const char *s, size_t len)
{
	size_t n;

	if (len == 0)
		s = "_", len = 1;
	if (cap == 0)
		return len;
	n = len < cap - 1 ? len : cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = mdm_subject_byte_ok((unsigned char)s[i]) ? s[i] : '_';
	out[n] = '\0';
	return len;
}
