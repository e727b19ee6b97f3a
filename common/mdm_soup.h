/* SoupBinTCP 3.00 (NASDAQ's sequenced TCP transport), both sides: framing
 * of the byte stream into packets ([u16 BE length][type][payload], the length
 * counting type + payload), builders for every packet, the login fields, and
 * the client's session logic (login at a sequence number, implied sequence
 * numbers of Sequenced Data, heartbeats both ways, silence timeout, end of
 * session). Pure logic: no sockets, no clocks (times are passed in), no
 * allocation; one thread per object. Framing errors are counted by reason. */
#ifndef MDM_SOUP_H
#define MDM_SOUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDM_SOUP_HDR 3                 /* length 2 + type 1 */
#define MDM_SOUP_SESSION_LEN 10
#define MDM_SOUP_SEQ_LEN 20
#define MDM_SOUP_USER_LEN 6
#define MDM_SOUP_PASS_LEN 10
#define MDM_SOUP_LOGIN_REQ_LEN (1 + 6 + 10 + 10 + 20) /* 47, type included */
#define MDM_SOUP_LOGIN_ACC_LEN (1 + 10 + 20)          /* 31 */
#define MDM_SOUP_LOGIN_REJ_LEN 2
#define MDM_SOUP_MAX_LEN_DEFAULT 4096  /* largest packet length a peer may send us */
#define MDM_SOUP_HEARTBEAT_NS_DEFAULT 1000000000ull   /* send one after 1 s without sending */
#define MDM_SOUP_TIMEOUT_NS_DEFAULT 15000000000ull    /* a peer silent 15 s is gone */

/* Which side sent the stream being framed (the packet types differ). */
enum mdm_soup_dir { MDM_SOUP_FROM_SERVER = 0, MDM_SOUP_FROM_CLIENT = 1 };

/* Why a packet was not usable. Index a counter array by it. */
enum mdm_soup_reason {
	MDM_SOUP_OK = 0,
	MDM_SOUP_ZERO_LENGTH,   /* length 0: not even a type byte (skipped) */
	MDM_SOUP_UNKNOWN_TYPE,  /* a type this direction does not send (skipped) */
	MDM_SOUP_BAD_LENGTH,    /* a fixed-size type at another length, or empty data (skipped) */
	MDM_SOUP_BAD_FIELD,     /* a login field out of spec: sequence not numeric, reason unknown */
	MDM_SOUP_OVERSIZE,      /* length beyond the limit: the stream cannot be followed (fatal) */
	MDM_SOUP_UNEXPECTED,    /* a valid packet the session state does not allow (e.g. data before login) */
	MDM_SOUP_REASONS
};

/* One framed packet; payload points into the caller's buffer. */
struct mdm_soup_pkt {
	uint8_t type;
	const uint8_t *payload; /* after the type byte */
	size_t len;             /* payload bytes */
	uint8_t reason;         /* enum mdm_soup_reason: OK, or why it is to be skipped */
};

/* Frame the next packet of p[0..len). Returns the bytes it takes (> 0; the
 * packet in *out, with out->reason OK or a skippable reason), 0 when more
 * bytes are needed, or -MDM_SOUP_OVERSIZE when the length exceeds max_len
 * (0 = MDM_SOUP_MAX_LEN_DEFAULT): the connection must be dropped. */
int mdm_soup_frame(const uint8_t *p, size_t len, enum mdm_soup_dir dir, size_t max_len, struct mdm_soup_pkt *out);

/* "zero_length", "unknown_type", ... Never NULL. */
const char *mdm_soup_reason_str(int reason);

/* ---- builders: each writes a whole packet into out and returns its size ---- */

/* A packet of `type` with no payload beyond the header to follow: writes the
 * 3-byte header of a packet whose payload (payload_len bytes, <= 65534) the
 * caller sends right after it (S with a message, U, +). */
size_t mdm_soup_put_header(uint8_t out[MDM_SOUP_HDR], uint8_t type, size_t payload_len);

/* L: username, password right-padded; session right-padded (blank = current);
 * sequence left-padded ASCII (0 = most recent). out >= 2 + 47 bytes. */
size_t mdm_soup_put_login_request(uint8_t *out, const char *user, const char *password, const char *session,
				  uint64_t seq);

/* A: session right-padded, the next sequence number left-padded. out >= 2 + 31. */
size_t mdm_soup_put_login_accepted(uint8_t *out, const char *session, uint64_t next_seq);

/* J: reason 'A' (not authorized) or 'S' (session not available). out >= 4. */
size_t mdm_soup_put_login_rejected(uint8_t *out, char reason);

/* ---- fields ---- */

struct mdm_soup_login {
	char user[MDM_SOUP_USER_LEN + 1];     /* trimmed */
	char password[MDM_SOUP_PASS_LEN + 1];
	char session[MDM_SOUP_SESSION_LEN + 1]; /* trimmed; "" = current */
	uint64_t seq;                         /* 0 = most recent */
};

/* Fields of an L packet (reason OK). MDM_SOUP_OK or MDM_SOUP_BAD_FIELD. */
int mdm_soup_login_request_parse(const struct mdm_soup_pkt *pkt, struct mdm_soup_login *out);

/* Fields of an A packet. MDM_SOUP_OK or MDM_SOUP_BAD_FIELD. */
int mdm_soup_login_accepted_parse(const struct mdm_soup_pkt *pkt, char session[MDM_SOUP_SESSION_LEN + 1],
				  uint64_t *next_seq);

/* ---- the client's session logic ---- */

enum mdm_soup_state {
	MDM_SOUP_DOWN = 0,   /* no connection (or lost: reconnect and log in again) */
	MDM_SOUP_LOGGING_IN, /* connected, Login Request sent */
	MDM_SOUP_ACTIVE,     /* logged in: data flows */
	MDM_SOUP_ENDED,      /* End of Session received: the session is over */
};

/* What the caller must do after a packet or a tick. */
enum mdm_soup_action {
	MDM_SOUP_NONE = 0,
	MDM_SOUP_DELIVER,        /* a Sequenced Data message: deliver it with sequence number `seq` */
	MDM_SOUP_LOGGED_IN,      /* Login Accepted: session and next_seq are set */
	MDM_SOUP_SEND_HEARTBEAT, /* send a Client Heartbeat (R) */
	MDM_SOUP_DISCONNECT,     /* drop the connection (rejected, timed out, protocol error) */
	MDM_SOUP_END,            /* End of Session: send a Logout (O) and close, do not reconnect */
};

struct mdm_soup_client_stats {
	uint64_t logins, rejected, timeouts, disconnects;
	uint64_t messages, heartbeats_rx, heartbeats_tx, debug;
	uint64_t errors[MDM_SOUP_REASONS]; /* by enum mdm_soup_reason */
	char last_reject;                  /* 'A' or 'S' */
};

/* Fields read-only outside mdm_soup.c. */
struct mdm_soup_client {
	enum mdm_soup_state state;
	char session[MDM_SOUP_SESSION_LEN + 1]; /* requested, then the one accepted (kept across reconnects) */
	uint64_t next_seq;       /* sequence number of the next message expected (0 = most recent) */
	uint64_t heartbeat_ns, timeout_ns;
	uint64_t last_rx_ns, last_tx_ns;
	struct mdm_soup_client_stats st;
};

/* session: "" = current; next_seq: where to log in (1 = the start, 0 = most recent). */
void mdm_soup_client_init(struct mdm_soup_client *c, const char *session, uint64_t next_seq);

/* Connected: write the Login Request (for the session and sequence it
 * continues) into out (>= 2 + 47 bytes); returns its size. */
size_t mdm_soup_client_login(struct mdm_soup_client *c, const char *user, const char *password, uint64_t now_ns,
			     uint8_t *out);

/* A framed packet from the server. DELIVER sets *seq (the message is
 * pkt->payload[0..len)). */
enum mdm_soup_action mdm_soup_client_on_packet(struct mdm_soup_client *c, const struct mdm_soup_pkt *pkt,
					       uint64_t now_ns, uint64_t *seq);

/* Time passes: SEND_HEARTBEAT when nothing was sent for heartbeat_ns,
 * DISCONNECT when the server was silent for timeout_ns, else NONE. */
enum mdm_soup_action mdm_soup_client_tick(struct mdm_soup_client *c, uint64_t now_ns);

/* Something was sent (a heartbeat or any packet). */
void mdm_soup_client_sent(struct mdm_soup_client *c, uint64_t now_ns);

/* The connection is gone: state DOWN (unless ENDED); next_seq kept. */
void mdm_soup_client_lost(struct mdm_soup_client *c);

#endif
