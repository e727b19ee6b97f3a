/* SoupBinTCP 3.00 framing, packets and client session logic (layouts as
 * summarised in RECOVERY_FACTS.md). */
#include "mdm_soup.h"

#include <stdio.h>
#include <string.h>

static const char *const reason_names[MDM_SOUP_REASONS] = {
	"ok", "zero_length", "unknown_type", "bad_length", "bad_field", "oversize", "unexpected",
};

const char *mdm_soup_reason_str(int reason)
{
	return reason >= 0 && reason < MDM_SOUP_REASONS ? reason_names[reason] : "unknown";
}

/* The length a type must have in this direction: > 0 exact, -1 any >= 1
 * (text or data), -2 data (>= 2: a message after the type), 0 not a type. */
static int type_len(uint8_t type, enum mdm_soup_dir dir)
{
	if (type == '+')
		return -1;
	if (dir == MDM_SOUP_FROM_SERVER) {
		switch (type) {
		case 'A': return MDM_SOUP_LOGIN_ACC_LEN;
		case 'J': return MDM_SOUP_LOGIN_REJ_LEN;
		case 'S': return -2;
		case 'H':
		case 'Z': return 1;
		default: return 0;
		}
	}
	switch (type) {
	case 'L': return MDM_SOUP_LOGIN_REQ_LEN;
	case 'U': return -2;
	case 'R':
	case 'O': return 1;
	default: return 0;
	}
}

int mdm_soup_frame(const uint8_t *p, size_t len, enum mdm_soup_dir dir, size_t max_len, struct mdm_soup_pkt *out)
{
	size_t n;
	int want;

	if (len < 2)
		return 0;
	n = (size_t)p[0] << 8 | p[1];
	if (max_len == 0)
		max_len = MDM_SOUP_MAX_LEN_DEFAULT;
	if (n > max_len)
		return -MDM_SOUP_OVERSIZE;
	if (n == 0) {
		out->type = 0;
		out->payload = p + 2;
		out->len = 0;
		out->reason = MDM_SOUP_ZERO_LENGTH;
		return 2;
	}
	if (len < 2 + n)
		return 0;
	out->type = p[2];
	out->payload = p + 3;
	out->len = n - 1;
	want = type_len(p[2], dir);
	if (want == 0)
		out->reason = MDM_SOUP_UNKNOWN_TYPE;
	else if ((want > 0 && (size_t)want != n) || (want == -2 && n < 2))
		out->reason = MDM_SOUP_BAD_LENGTH;
	else
		out->reason = MDM_SOUP_OK;
	return (int)(2 + n);
}

size_t mdm_soup_put_header(uint8_t out[MDM_SOUP_HDR], uint8_t type, size_t payload_len)
{
	size_t n = payload_len + 1;

	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	out[2] = type;
	return MDM_SOUP_HDR;
}

static void put_alpha(uint8_t *out, const char *s, size_t width)
{
	size_t n = s ? strnlen(s, width) : 0;

	memset(out, ' ', width);
	memcpy(out, s, n);
}

static void put_numeric(uint8_t *out, uint64_t v)
{
	char tmp[MDM_SOUP_SEQ_LEN + 1];

	snprintf(tmp, sizeof(tmp), "%20llu", (unsigned long long)v);
	memcpy(out, tmp, MDM_SOUP_SEQ_LEN);
}

size_t mdm_soup_put_login_request(uint8_t *out, const char *user, const char *password, const char *session,
				  uint64_t seq)
{
	mdm_soup_put_header(out, 'L', MDM_SOUP_LOGIN_REQ_LEN - 1);
	put_alpha(out + 3, user, MDM_SOUP_USER_LEN);
	put_alpha(out + 9, password, MDM_SOUP_PASS_LEN);
	put_alpha(out + 19, session, MDM_SOUP_SESSION_LEN);
	put_numeric(out + 29, seq);
	return 2 + MDM_SOUP_LOGIN_REQ_LEN;
}

size_t mdm_soup_put_login_accepted(uint8_t *out, const char *session, uint64_t next_seq)
{
	mdm_soup_put_header(out, 'A', MDM_SOUP_LOGIN_ACC_LEN - 1);
	put_alpha(out + 3, session, MDM_SOUP_SESSION_LEN);
	put_numeric(out + 13, next_seq);
	return 2 + MDM_SOUP_LOGIN_ACC_LEN;
}

size_t mdm_soup_put_login_rejected(uint8_t *out, char reason)
{
	mdm_soup_put_header(out, 'J', 1);
	out[3] = (uint8_t)reason;
	return 2 + MDM_SOUP_LOGIN_REJ_LEN;
}

/* Trim right padding (spaces) into a NUL-terminated string. */
static void get_alpha(char *out, const uint8_t *p, size_t width)
{
	size_t n = width;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Left-padded (spaces) ASCII digits; blank = 0. */
static int get_numeric(const uint8_t *p, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < MDM_SOUP_SEQ_LEN && p[i] == ' ')
		i++;
	for (; i < MDM_SOUP_SEQ_LEN; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return MDM_SOUP_BAD_FIELD;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return MDM_SOUP_OK;
}

int mdm_soup_login_request_parse(const struct mdm_soup_pkt *pkt, struct mdm_soup_login *out)
{
	if (pkt->type != 'L' || pkt->len != MDM_SOUP_LOGIN_REQ_LEN - 1)
		return MDM_SOUP_BAD_FIELD;
	get_alpha(out->user, pkt->payload, MDM_SOUP_USER_LEN);
	get_alpha(out->password, pkt->payload + 6, MDM_SOUP_PASS_LEN);
	get_alpha(out->session, pkt->payload + 16, MDM_SOUP_SESSION_LEN);
	return get_numeric(pkt->payload + 26, &out->seq);
}

int mdm_soup_login_accepted_parse(const struct mdm_soup_pkt *pkt, char session[MDM_SOUP_SESSION_LEN + 1],
				  uint64_t *next_seq)
{
	if (pkt->type != 'A' || pkt->len != MDM_SOUP_LOGIN_ACC_LEN - 1)
		return MDM_SOUP_BAD_FIELD;
	get_alpha(session, pkt->payload, MDM_SOUP_SESSION_LEN);
	if (session[0] == '\0')
		return MDM_SOUP_BAD_FIELD;
	return get_numeric(pkt->payload + 10, next_seq);
}

/* ---- client session ---- */

void mdm_soup_client_init(struct mdm_soup_client *c, const char *session, uint64_t next_seq)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->session, sizeof(c->session), "%s", session ? session : "");
	c->next_seq = next_seq;
	c->heartbeat_ns = MDM_SOUP_HEARTBEAT_NS_DEFAULT;
	c->timeout_ns = MDM_SOUP_TIMEOUT_NS_DEFAULT;
}

size_t mdm_soup_client_login(struct mdm_soup_client *c, const char *user, const char *password, uint64_t now_ns,
			     uint8_t *out)
{
	c->state = MDM_SOUP_LOGGING_IN;
	c->last_rx_ns = now_ns; /* the timeout runs from the login */
	c->last_tx_ns = now_ns;
	return mdm_soup_put_login_request(out, user, password, c->session, c->next_seq);
}

static enum mdm_soup_action protocol_error(struct mdm_soup_client *c, int reason)
{
	c->st.errors[reason]++;
	return MDM_SOUP_DISCONNECT;
}

enum mdm_soup_action mdm_soup_client_on_packet(struct mdm_soup_client *c, const struct mdm_soup_pkt *pkt,
					       uint64_t now_ns, uint64_t *seq)
{
	char session[MDM_SOUP_SESSION_LEN + 1];
	uint64_t next;

	c->last_rx_ns = now_ns;
	if (pkt->reason != MDM_SOUP_OK) {
		c->st.errors[pkt->reason]++;
		/* a login answer that cannot be read leaves the session unknown */
		return c->state == MDM_SOUP_LOGGING_IN && (pkt->type == 'A' || pkt->type == 'J') ? MDM_SOUP_DISCONNECT
												 : MDM_SOUP_NONE;
	}
	switch (pkt->type) {
	case '+':
		c->st.debug++;
		return MDM_SOUP_NONE;
	case 'H':
		c->st.heartbeats_rx++;
		return MDM_SOUP_NONE;
	case 'A':
		if (c->state != MDM_SOUP_LOGGING_IN)
			return protocol_error(c, MDM_SOUP_UNEXPECTED);
		if (mdm_soup_login_accepted_parse(pkt, session, &next) != MDM_SOUP_OK || next == 0)
			return protocol_error(c, MDM_SOUP_BAD_FIELD);
		/* a session change restarts the numbering: take the server's word */
		memcpy(c->session, session, sizeof(session));
		c->next_seq = next;
		c->state = MDM_SOUP_ACTIVE;
		c->st.logins++;
		return MDM_SOUP_LOGGED_IN;
	case 'J':
		if (c->state != MDM_SOUP_LOGGING_IN)
			return protocol_error(c, MDM_SOUP_UNEXPECTED);
		if (pkt->payload[0] != 'A' && pkt->payload[0] != 'S')
			c->st.errors[MDM_SOUP_BAD_FIELD]++;
		c->st.rejected++;
		c->st.last_reject = (char)pkt->payload[0];
		return MDM_SOUP_DISCONNECT;
	case 'S':
		if (c->state != MDM_SOUP_ACTIVE)
			return protocol_error(c, MDM_SOUP_UNEXPECTED);
		*seq = c->next_seq++;
		c->st.messages++;
		return MDM_SOUP_DELIVER;
	case 'Z':
		if (c->state != MDM_SOUP_ACTIVE)
			return protocol_error(c, MDM_SOUP_UNEXPECTED);
		c->state = MDM_SOUP_ENDED;
		return MDM_SOUP_END;
	default:
		return protocol_error(c, MDM_SOUP_UNKNOWN_TYPE);
	}
}

enum mdm_soup_action mdm_soup_client_tick(struct mdm_soup_client *c, uint64_t now_ns)
{
	if (c->state != MDM_SOUP_LOGGING_IN && c->state != MDM_SOUP_ACTIVE)
		return MDM_SOUP_NONE;
	if (now_ns - c->last_rx_ns >= c->timeout_ns) {
		c->st.timeouts++;
		return MDM_SOUP_DISCONNECT;
	}
	if (c->state == MDM_SOUP_ACTIVE && now_ns - c->last_tx_ns >= c->heartbeat_ns) {
		c->st.heartbeats_tx++;
		return MDM_SOUP_SEND_HEARTBEAT;
	}
	return MDM_SOUP_NONE;
}

void mdm_soup_client_sent(struct mdm_soup_client *c, uint64_t now_ns)
{
	c->last_tx_ns = now_ns;
}

void mdm_soup_client_lost(struct mdm_soup_client *c)
{
	if (c->state == MDM_SOUP_ENDED)
		return;
	if (c->state != MDM_SOUP_DOWN)
		c->st.disconnects++;
	c->state = MDM_SOUP_DOWN;
}
