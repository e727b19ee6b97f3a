/* FIX framing and the zero-copy tag=value parser (fix_msg.h). One pass over
 * the bytes; the tag table is built from fix_tags.def at compile time. */
#include "fix_msg.h"

#include <errno.h>
#include <string.h>

#include "mdm_clock.h"

#define TAG_TABLE 1024 /* tags we read are all below this */

/* tag -> field index + 1 (0: a tag we skip) */
static const uint8_t tag_field[TAG_TABLE] = {
#define X(name, tag) [tag] = FIX_F_##name + 1,
#include "fix_tags.def"
#undef X
};

static const char *const reason_names[FIX_R_COUNT] = {
	"none",
#define X(name, label) label,
#include "fix_reasons.def"
#undef X
};

const char *fix_reason_name(int reason)
{
	if (reason < 0)
		reason = -reason;
	return reason < FIX_R_COUNT ? reason_names[reason] : "?";
}

static const char begin_prefix[] = "8=FIX";

/* 8=FIX...<SOH>9=<n><SOH>: the offset of the byte after 9='s SOH and n.
 * 0 when more bytes are needed, or -FIX_R_GARBAGE / -FIX_R_BAD_BODY_LENGTH. */
static int frame_header(const char *buf, size_t len, size_t *body_start, size_t *body_len)
{
	size_t n = len < 5 ? len : 5, i;

	*body_len = 0;
	if (memcmp(buf, begin_prefix, n) != 0)
		return -FIX_R_GARBAGE;
	for (i = 2; i < len && buf[i] != FIX_SOH; i++)
		if (i > 32)
			return -FIX_R_GARBAGE;
	if (i + 3 >= len)
		return 0;
	i++;
	if (buf[i] != '9' || buf[i + 1] != '=')
		return -FIX_R_BAD_BODY_LENGTH;
	for (i += 2; i < len && buf[i] != FIX_SOH; i++) {
		if (buf[i] < '0' || buf[i] > '9' || *body_len > 100000000)
			return -FIX_R_BAD_BODY_LENGTH;
		*body_len = *body_len * 10 + (size_t)(buf[i] - '0');
	}
	if (i >= len)
		return i > 24 ? -FIX_R_BAD_BODY_LENGTH : 0;
	if (buf[i - 1] == '=')
		return -FIX_R_BAD_BODY_LENGTH;
	*body_start = i + 1;
	return 1;
}

int fix_frame(const char *buf, size_t len, size_t max_len)
{
	size_t i, body_start = 0, body_len, total;
	unsigned sum = 0, want;
	int rc = frame_header(buf, len, &body_start, &body_len);

	if (rc <= 0)
		return rc;
	total = body_start + body_len + 7;
	if (total > max_len)
		return -FIX_R_OVERSIZED;
	if (len < total)
		return 0;
	if (memcmp(buf + body_start + body_len, "10=", 3) != 0 || buf[total - 1] != FIX_SOH)
		return -FIX_R_BAD_BODY_LENGTH;
	want = 0;
	for (i = total - 4; i < total - 1; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -FIX_R_BAD_CHECKSUM;
		want = want * 10 + (unsigned)(buf[i] - '0');
	}
	for (i = 0; i < body_start + body_len; i++)
		sum += (unsigned char)buf[i];
	if ((sum & 0xff) != want)
		return -FIX_R_BAD_CHECKSUM;
	return total > (size_t)INT32_MAX ? -FIX_R_OVERSIZED : (int)total;
}

size_t fix_frame_declared_len(const char *buf, size_t len)
{
	size_t body_start = 0, body_len;

	return frame_header(buf, len, &body_start, &body_len) > 0 ? body_start + body_len + 7 : 0;
}

size_t fix_resync(const char *buf, size_t len, size_t from)
{
	size_t i;

	for (i = from; i < len; i++) {
		size_t n = len - i < 5 ? len - i : 5;

		if (buf[i] == '8' && memcmp(buf + i, begin_prefix, n) == 0)
			return i; /* a match, or a prefix of one at the end */
	}
	return len;
}

int fix_parse(struct fix_msg *m, const char *buf, size_t len)
{
	static const enum fix_field required[] = { FIX_F_MSG_TYPE, FIX_F_SENDER_COMP_ID, FIX_F_TARGET_COMP_ID,
						   FIX_F_MSG_SEQ_NUM, FIX_F_SENDING_TIME };
	static const uint32_t first_tags[3] = { 8, 9, 35 };
	size_t i = 0;
	uint32_t index = 0, group_n = 0;
	int cur = -1;
	bool in_group = false;

	memset(m->f, 0, sizeof(m->f));
	m->n_parties = 0;
	m->bad_tag = 0;
	m->raw = buf;
	m->raw_len = (uint32_t)len;
	while (i < len) {
		uint32_t tag = 0;
		size_t v0;
		struct fix_view v;

		for (v0 = i; i < len && buf[i] >= '0' && buf[i] <= '9' && i - v0 < 9; i++)
			tag = tag * 10 + (uint32_t)(buf[i] - '0');
		if (i == v0 || i >= len || buf[i] != '=' || tag == 0)
			return -FIX_R_BAD_FIELD;
		v0 = ++i;
		while (i < len && buf[i] != FIX_SOH)
			i++;
		if (i >= len || i == v0) {
			m->bad_tag = tag;
			return -FIX_R_BAD_FIELD;
		}
		v.p = buf + v0;
		v.len = (uint32_t)(i - v0);
		i++;
		if (index < 3 && tag != first_tags[index]) {
			m->bad_tag = first_tags[index];
			return -FIX_R_BAD_FIELD;
		}
		index++;
		if (in_group) {
			if (tag == 448) {
				if (++cur >= (int)group_n) {
					m->bad_tag = 453;
					return -FIX_R_BAD_GROUP;
				}
				if (cur < FIX_PARTIES_MAX) {
					m->parties[cur] = (struct fix_party){ .id = v };
					m->n_parties = (uint32_t)cur + 1;
				}
				continue;
			}
			if (tag == 447 || tag == 452) {
				if (cur < 0) {
					m->bad_tag = 453;
					return -FIX_R_BAD_GROUP;
				}
				if (cur < FIX_PARTIES_MAX) {
					if (tag == 447)
						m->parties[cur].source = v;
					else
						m->parties[cur].role = v;
				}
				continue;
			}
			if (cur + 1 != (int)group_n) {
				m->bad_tag = 453;
				return -FIX_R_BAD_GROUP;
			}
			in_group = false;
		}
		if (tag == 453) {
			uint64_t n;

			if (fix_view_u64(v, &n) != 0 || n > 1000) {
				m->bad_tag = 453;
				return -FIX_R_BAD_GROUP;
			}
			group_n = (uint32_t)n;
			cur = -1;
			in_group = group_n > 0;
			continue;
		}
		if (tag < TAG_TABLE && tag_field[tag]) {
			enum fix_field f = (enum fix_field)(tag_field[tag] - 1);

			if (m->f[f].len) {
				m->bad_tag = tag;
				return -FIX_R_DUPLICATE_TAG;
			}
			m->f[f] = v;
		}
	}
	if (in_group) {
		m->bad_tag = 453;
		return -FIX_R_BAD_GROUP;
	}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!m->f[required[i]].len) {
			static const uint32_t tags[] = { 35, 49, 56, 34, 52 };

			m->bad_tag = tags[i];
			return -FIX_R_MISSING_TAG;
		}
	}
	return 0;
}

bool fix_view_eq(struct fix_view v, const char *s)
{
	size_t n = strlen(s);

	return v.len == n && (n == 0 || memcmp(v.p, s, n) == 0); /* an absent field is a NULL view */
}

int fix_view_u64(struct fix_view v, uint64_t *out)
{
	uint64_t x = 0;

	if (v.len == 0 || v.len > 18)
		return -EINVAL;
	for (uint32_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(v.p[i] - '0');
	}
	*out = x;
	return 0;
}

int fix_view_dec8(struct fix_view v, int64_t *out)
{
	const char *p = v.p, *end = v.p + v.len;
	bool neg = false, digits = false;
	int64_t x = 0;
	int frac = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		digits = true;
		if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *p - '0', &x))
			return -ERANGE;
	}
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			digits = true;
			if (frac == 8) {
				if (*p != '0')
					return -ERANGE;
				continue;
			}
			if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *p - '0', &x))
				return -ERANGE;
			frac++;
		}
	}
	if (!digits || p != end)
		return -EINVAL;
	for (; frac < 8; frac++)
		if (__builtin_mul_overflow(x, 10, &x))
			return -ERANGE;
	*out = neg ? -x : x;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits_at(const char *p, int n, unsigned *out)
{
	unsigned x = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		x = x * 10 + (unsigned)(p[i] - '0');
	}
	*out = x;
	return 0;
}

int fix_view_utc_ns(struct fix_view v, uint64_t *out_ns)
{
	unsigned y, mo, d, h, mi, s, frac = 0;
	uint64_t ns;
	int64_t days;

	if (v.len < 17 || v.len == 18 || v.len > 27)
		return -EINVAL;
	if (digits_at(v.p, 4, &y) || digits_at(v.p + 4, 2, &mo) || digits_at(v.p + 6, 2, &d) || v.p[8] != '-' ||
	    digits_at(v.p + 9, 2, &h) || v.p[11] != ':' || digits_at(v.p + 12, 2, &mi) || v.p[14] != ':' ||
	    digits_at(v.p + 15, 2, &s))
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -EINVAL;
	if (v.len > 17) {
		int n = (int)v.len - 18;

		if (v.p[17] != '.' || digits_at(v.p + 18, n, &frac))
			return -EINVAL;
		for (; n < 9; n++)
			frac *= 10;
	}
	days = days_from_civil(y, mo, d);
	ns = ((uint64_t)days * 86400 + h * 3600u + mi * 60u + s) * MDM_NS_PER_S + frac;
	*out_ns = ns;
	return 0;
}

int fix_utc_format(uint64_t ns, char *out)
{
	time_t t = (time_t)(ns / MDM_NS_PER_S);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* 21 bytes: the widths are fixed for years 1970..9999 */
	out[0] = (char)('0' + (tm.tm_year + 1900) / 1000 % 10);
	out[1] = (char)('0' + (tm.tm_year + 1900) / 100 % 10);
	out[2] = (char)('0' + (tm.tm_year + 1900) / 10 % 10);
	out[3] = (char)('0' + (tm.tm_year + 1900) % 10);
	out[4] = (char)('0' + (tm.tm_mon + 1) / 10);
	out[5] = (char)('0' + (tm.tm_mon + 1) % 10);
	out[6] = (char)('0' + tm.tm_mday / 10);
	out[7] = (char)('0' + tm.tm_mday % 10);
	out[8] = '-';
	out[9] = (char)('0' + tm.tm_hour / 10);
	out[10] = (char)('0' + tm.tm_hour % 10);
	out[11] = ':';
	out[12] = (char)('0' + tm.tm_min / 10);
	out[13] = (char)('0' + tm.tm_min % 10);
	out[14] = ':';
	out[15] = (char)('0' + tm.tm_sec / 10);
	out[16] = (char)('0' + tm.tm_sec % 10);
	out[17] = '.';
	{
		unsigned ms = (unsigned)(ns % MDM_NS_PER_S / MDM_NS_PER_MS);

		out[18] = (char)('0' + ms / 100);
		out[19] = (char)('0' + ms / 10 % 10);
		out[20] = (char)('0' + ms % 10);
	}
	out[21] = '\0';
	return 21;
}

int fix_dec8_format(int64_t v, char *out)
{
	char tmp[32];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	uint64_t ip = u / 100000000u, fp = u % 100000000u;
	int n = 0, k = 0;

	if (v < 0)
		out[n++] = '-';
	do {
		tmp[k++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	while (k)
		out[n++] = tmp[--k];
	if (fp) {
		int w = 8;

		while (fp % 10 == 0) {
			fp /= 10;
			w--;
		}
		out[n++] = '.';
		for (int i = w - 1; i >= 0; i--) {
			out[n + i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		n += w;
	}
	out[n] = '\0';
	return n;
}
