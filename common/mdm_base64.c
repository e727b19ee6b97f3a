/* Base64 with a 256-entry reverse table; invalid input is rejected, never
 * guessed at. */
#include "mdm_base64.h"

#include <errno.h>

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int mdm_base64_encode(struct mdm_buf *out, const uint8_t *src, size_t n)
{
	size_t i;

	if (mdm_buf_reserve(out, (n + 2) / 3 * 4) != 0)
		return -ENOMEM;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		char q[4] = { enc_tab[v >> 18], enc_tab[(v >> 12) & 63], enc_tab[(v >> 6) & 63], enc_tab[v & 63] };

		mdm_buf_append(out, q, 4);
	}
	if (i < n) {
		uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
		char q[4] = { enc_tab[v >> 18], enc_tab[(v >> 12) & 63],
			      i + 1 < n ? enc_tab[(v >> 6) & 63] : '=', '=' };

		mdm_buf_append(out, q, 4);
	}
	return out->oom ? -ENOMEM : 0;
}

static int dec_char(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int mdm_base64_decode(struct mdm_buf *out, const char *s, size_t n)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t i, chars = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -EINVAL; /* data after padding */
		v = dec_char(c);
		if (v < 0)
			return -EINVAL;
		chars++;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (mdm_buf_putc(out, (char)((acc >> bits) & 0xff)) != 0)
				return -ENOMEM;
		}
	}
	if (chars % 4 == 1 || pad > 2)
		return -EINVAL;
	return 0;
}
