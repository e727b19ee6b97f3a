/* The synthesizer is checked from the outside: its pcap is read back with
 * mdm_pcap, MoldUDP64 is parsed here, and every message is compared field by
 * field with the truth file using this test's own copy of the ITCH 5.0 table
 * (ITCH_FACTS.md section 2), so an offset slip in synth.c fails here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mdm_err.h"
#include "mdm_pcap.h"
#include "synth.h"

/* ---- the spec, again ---- */

struct tf {
	const char *name;
	uint8_t off, size;
	char kind; /* 'a' alpha, 'u' unsigned */
};

struct tt {
	char type;
	uint8_t len;
	struct tf f[15];
};

static const struct tt spec[] = {
	{ 'S', 12, { { "event_code", 11, 1, 'a' } } },
	{ 'R', 39, { { "stock", 11, 8, 'a' }, { "market_category", 19, 1, 'a' },
		     { "financial_status_indicator", 20, 1, 'a' }, { "round_lot_size", 21, 4, 'u' },
		     { "round_lots_only", 25, 1, 'a' }, { "issue_classification", 26, 1, 'a' },
		     { "issue_sub_type", 27, 2, 'a' }, { "authenticity", 29, 1, 'a' },
		     { "short_sale_threshold_indicator", 30, 1, 'a' }, { "ipo_flag", 31, 1, 'a' },
		     { "luld_reference_price_tier", 32, 1, 'a' }, { "etp_flag", 33, 1, 'a' },
		     { "etp_leverage_factor", 34, 4, 'u' }, { "inverse_indicator", 38, 1, 'a' } } },
	{ 'H', 25, { { "stock", 11, 8, 'a' }, { "trading_state", 19, 1, 'a' }, { "reserved", 20, 1, 'a' },
		     { "reason", 21, 4, 'a' } } },
	{ 'Y', 20, { { "stock", 11, 8, 'a' }, { "reg_sho_action", 19, 1, 'a' } } },
	{ 'L', 26, { { "mpid", 11, 4, 'a' }, { "stock", 15, 8, 'a' }, { "primary_market_maker", 23, 1, 'a' },
		     { "market_maker_mode", 24, 1, 'a' }, { "market_participant_state", 25, 1, 'a' } } },
	{ 'V', 35, { { "level1", 11, 8, 'u' }, { "level2", 19, 8, 'u' }, { "level3", 27, 8, 'u' } } },
	{ 'W', 12, { { "breached_level", 11, 1, 'a' } } },
	{ 'K', 28, { { "stock", 11, 8, 'a' }, { "ipo_quotation_release_time", 19, 4, 'u' },
		     { "ipo_quotation_release_qualifier", 23, 1, 'a' }, { "ipo_price", 24, 4, 'u' } } },
	{ 'J', 35, { { "stock", 11, 8, 'a' }, { "auction_collar_reference_price", 19, 4, 'u' },
		     { "upper_auction_collar_price", 23, 4, 'u' }, { "lower_auction_collar_price", 27, 4, 'u' },
		     { "auction_collar_extension", 31, 4, 'u' } } },
	{ 'h', 21, { { "stock", 11, 8, 'a' }, { "market_code", 19, 1, 'a' },
		     { "operational_halt_action", 20, 1, 'a' } } },
	{ 'A', 36, { { "order_reference_number", 11, 8, 'u' }, { "buy_sell_indicator", 19, 1, 'a' },
		     { "shares", 20, 4, 'u' }, { "stock", 24, 8, 'a' }, { "price", 32, 4, 'u' } } },
	{ 'F', 40, { { "order_reference_number", 11, 8, 'u' }, { "buy_sell_indicator", 19, 1, 'a' },
		     { "shares", 20, 4, 'u' }, { "stock", 24, 8, 'a' }, { "price", 32, 4, 'u' },
		     { "attribution", 36, 4, 'a' } } },
	{ 'E', 31, { { "order_reference_number", 11, 8, 'u' }, { "executed_shares", 19, 4, 'u' },
		     { "match_number", 23, 8, 'u' } } },
	{ 'C', 36, { { "order_reference_number", 11, 8, 'u' }, { "executed_shares", 19, 4, 'u' },
		     { "match_number", 23, 8, 'u' }, { "printable", 31, 1, 'a' }, { "execution_price", 32, 4, 'u' } } },
	{ 'X', 23, { { "order_reference_number", 11, 8, 'u' }, { "cancelled_shares", 19, 4, 'u' } } },
	{ 'D', 19, { { "order_reference_number", 11, 8, 'u' } } },
	{ 'U', 35, { { "original_order_reference_number", 11, 8, 'u' }, { "new_order_reference_number", 19, 8, 'u' },
		     { "shares", 27, 4, 'u' }, { "price", 31, 4, 'u' } } },
	{ 'P', 44, { { "order_reference_number", 11, 8, 'u' }, { "buy_sell_indicator", 19, 1, 'a' },
		     { "shares", 20, 4, 'u' }, { "stock", 24, 8, 'a' }, { "price", 32, 4, 'u' },
		     { "match_number", 36, 8, 'u' } } },
	{ 'Q', 40, { { "shares", 11, 8, 'u' }, { "stock", 19, 8, 'a' }, { "cross_price", 27, 4, 'u' },
		     { "match_number", 31, 8, 'u' }, { "cross_type", 39, 1, 'a' } } },
	{ 'B', 19, { { "match_number", 11, 8, 'u' } } },
	{ 'I', 50, { { "paired_shares", 11, 8, 'u' }, { "imbalance_shares", 19, 8, 'u' },
		     { "imbalance_direction", 27, 1, 'a' }, { "stock", 28, 8, 'a' }, { "far_price", 36, 4, 'u' },
		     { "near_price", 40, 4, 'u' }, { "current_reference_price", 44, 4, 'u' },
		     { "cross_type", 48, 1, 'a' }, { "price_variation_indicator", 49, 1, 'a' } } },
	{ 'N', 20, { { "stock", 11, 8, 'a' }, { "interest_flag", 19, 1, 'a' } } },
	{ 'O', 48, { { "stock", 11, 8, 'a' }, { "open_eligibility_status", 19, 1, 'a' },
		     { "minimum_allowable_price", 20, 4, 'u' }, { "maximum_allowable_price", 24, 4, 'u' },
		     { "near_execution_price", 28, 4, 'u' }, { "near_execution_time", 32, 8, 'u' },
		     { "lower_price_range_collar", 40, 4, 'u' }, { "upper_price_range_collar", 44, 4, 'u' } } },
};
#define N_TYPES (sizeof(spec) / sizeof(spec[0]))

static const struct tt *spec_of(uint8_t type)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if ((uint8_t)spec[i].type == type)
			return &spec[i];
	return NULL;
}

static int n_fields(const struct tt *t)
{
	int k = 0;

	while (k < 15 && t->f[k].name)
		k++;
	return k;
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/* ---- temp files ---- */

static char tmpdir[256];

static int setup_dir(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_synth.XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(const char *name)
{
	static char buf[4][300];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
	return buf[k];
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* ---- a capture, read back ---- */

struct cpkt {
	const uint8_t *p;
	uint32_t len;
	uint32_t dst_ip;
	uint64_t ts;
	bool valid;     /* well-formed MoldUDP64 whose blocks all have their type's length */
	uint64_t seq;
	uint16_t count;
};

struct capture {
	uint8_t *buf; /* the payloads, copied back to back */
	size_t len;
	struct cpkt *pk;
	size_t n;
};

static bool mold_valid(const uint8_t *p, uint32_t len, uint64_t *seq, uint16_t *count)
{
	uint32_t off = 20;

	if (len < 20)
		return false;
	*seq = be(p + 10, 8);
	*count = (uint16_t)be(p + 18, 2);
	for (unsigned i = 0; i < *count; i++) {
		const struct tt *t;
		uint32_t bl;

		if (off + 2 > len)
			return false;
		bl = (uint32_t)be(p + off, 2);
		if (bl == 0 || off + 2 + bl > len)
			return false;
		t = spec_of(p[off + 2]);
		if (!t || t->len != bl)
			return false;
		off += 2 + bl;
	}
	return off == len;
}

static void capture_load(struct capture *c, const char *path)
{
	struct mdm_pcap_reader *r;
	struct mdm_pcap_frame fr;
	size_t cap = 1024, used = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	c->buf = slurp(path, &c->len); /* the payloads take less room than the file */
	c->pk = malloc(cap * sizeof(*c->pk));
	assert_int_equal(mdm_pcap_reader_open(&r, path), 0);
	while ((rc = mdm_pcap_next(r, &fr)) == 1) {
		struct mdm_pcap_udp u;
		struct cpkt *k;

		assert_int_equal(mdm_pcap_parse_udp(&fr, &u), MDM_PCAP_UDP_OK);
		assert_int_equal(u.dst_port, MDM_SYNTH_DST_PORT_DEFAULT);
		if (c->n == cap) {
			cap *= 2;
			c->pk = realloc(c->pk, cap * sizeof(*c->pk));
		}
		k = &c->pk[c->n++];
		memcpy(c->buf + used, u.payload, u.payload_len);
		k->p = c->buf + used;
		used += u.payload_len;
		k->len = u.payload_len;
		k->dst_ip = u.dst_ip;
		k->ts = fr.ts_ns;
		k->valid = mold_valid(u.payload, u.payload_len, &k->seq, &k->count);
	}
	assert_int_equal(rc, 0);
	mdm_pcap_reader_close(r);
}

static void capture_free(struct capture *c)
{
	free(c->pk);
	free(c->buf);
}

/* Message bytes by sequence number (first copy seen), from valid packets. */
struct wire {
	uint64_t first;      /* sequence number of index 0 */
	uint64_t n;
	const uint8_t **msg;
	uint8_t *copies;     /* valid packets that carried this seq */
};

static void wire_index(struct wire *w, const struct capture *c, uint64_t first, uint64_t n)
{
	w->first = first;
	w->n = n;
	w->msg = calloc(n, sizeof(*w->msg));
	w->copies = calloc(n, 1);
	for (size_t i = 0; i < c->n; i++) {
		const struct cpkt *k = &c->pk[i];
		uint32_t off = 20;

		if (!k->valid)
			continue;
		for (unsigned m = 0; m < k->count; m++) {
			uint64_t s = k->seq + m;

			assert_true(s >= first && s - first < n);
			if (!w->msg[s - first])
				w->msg[s - first] = k->p + off + 2;
			else
				assert_memory_equal(w->msg[s - first], k->p + off + 2, be(k->p + off, 2));
			w->copies[s - first]++;
			off += 2 + (uint32_t)be(k->p + off, 2);
		}
	}
}

static void wire_free(struct wire *w)
{
	free(w->msg);
	free(w->copies);
}

/* ---- truth lines: flat JSON objects ---- */

struct kv {
	char key[48];
	char str[32];
	uint64_t num;
	char kind; /* 's', 'n', 'b' */
};

struct tline {
	struct kv kv[32];
	int n;
};

static void parse_line(const char *s, struct tline *t)
{
	t->n = 0;
	assert_int_equal(*s++, '{');
	while (*s != '}') {
		struct kv *kv = &t->kv[t->n++];
		size_t i = 0;

		assert_true(t->n <= 32);
		assert_int_equal(*s++, '"');
		while (*s != '"')
			kv->key[i++] = *s++;
		kv->key[i] = '\0';
		s++;
		assert_int_equal(*s++, ':');
		if (*s == '"') {
			s++;
			for (i = 0; *s != '"'; i++) {
				assert_true(*s != '\\' && i < sizeof(kv->str) - 1);
				kv->str[i] = *s++;
			}
			kv->str[i] = '\0';
			s++;
			kv->kind = 's';
		} else if (strncmp(s, "true", 4) == 0) {
			kv->kind = 'b';
			kv->num = 1;
			s += 4;
		} else {
			char *end;

			assert_true(*s >= '0' && *s <= '9');
			kv->num = strtoull(s, &end, 10);
			kv->kind = 'n';
			s = end;
		}
		if (*s == ',')
			s++;
	}
	assert_int_equal(s[1], '\0');
}

static const struct kv *get(const struct tline *t, const char *key)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->kv[i].key, key) == 0)
			return &t->kv[i];
	return NULL;
}

static uint64_t num(const struct tline *t, const char *key)
{
	const struct kv *kv = get(t, key);

	if (!kv || kv->kind != 'n')
		fail_msg("truth lacks number '%s'", key);
	return kv->num;
}

static const char *str(const struct tline *t, const char *key)
{
	const struct kv *kv = get(t, key);

	if (!kv || kv->kind != 's')
		fail_msg("truth lacks string '%s'", key);
	return kv->str;
}

/* Iterate the truth file; cb is called with each parsed line. */
struct truth_reader {
	FILE *f;
	char *line;
	size_t cap;
};

static bool truth_next(struct truth_reader *tr, struct tline *t)
{
	ssize_t n = getline(&tr->line, &tr->cap, tr->f);

	if (n <= 0)
		return false;
	assert_int_equal(tr->line[n - 1], '\n');
	tr->line[n - 1] = '\0';
	parse_line(tr->line, t);
	return true;
}

/* Compare one truth line with the wire bytes of its message. */
static void check_fields(const struct tline *t, const uint8_t *m, char syms[][9], const char *session)
{
	const struct tt *tt = spec_of((uint8_t)str(t, "type")[0]);
	int extra = (get(t, "dropped") ? 1 : 0) + (get(t, "line_lost") ? 1 : 0);
	uint16_t loc;

	assert_non_null(tt);
	assert_int_equal(strlen(str(t, "type")), 1);
	assert_string_equal(str(t, "session"), session);
	assert_int_equal(t->n, 7 + n_fields(tt) + extra);
	loc = (uint16_t)num(t, "stock_locate");
	assert_string_equal(str(t, "symbol"), loc ? syms[loc] : "");
	if (!m)
		return;
	assert_int_equal(m[0], (uint8_t)tt->type);
	assert_int_equal(be(m + 1, 2), loc);
	assert_int_equal(be(m + 3, 2), num(t, "tracking_number"));
	assert_int_equal(be(m + 5, 6), num(t, "timestamp"));
	for (int k = 0; k < 15 && tt->f[k].name; k++) {
		const struct tf *f = &tt->f[k];

		if (f->kind == 'u') {
			if (be(m + f->off, f->size) != num(t, f->name))
				fail_msg("seq %llu %c.%s: wire %llu truth %llu", (unsigned long long)num(t, "seq"),
					 tt->type, f->name, (unsigned long long)be(m + f->off, f->size),
					 (unsigned long long)num(t, f->name));
		} else {
			char w[9];
			unsigned n = f->size;

			memcpy(w, m + f->off, n);
			while (n > 0 && w[n - 1] == ' ')
				n--;
			w[n] = '\0';
			if (strcmp(w, str(t, f->name)) != 0)
				fail_msg("seq %llu %c.%s: wire '%s' truth '%s'", (unsigned long long)num(t, "seq"),
					 tt->type, f->name, w, str(t, f->name));
		}
	}
}

/* ---- running the synthesizer ---- */

static void synth(const struct mdm_synth_params *p, const char *out, bool merge, struct mdm_synth_stats *st)
{
	int rc = mdm_synth_write_pcap(p, out, merge, st);

	if (rc)
		fail_msg("synth failed: %d %s", rc, mdm_err_last());
}

static bool files_equal(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = slurp(a, &la), *y = slurp(b, &lb);
	bool eq = la == lb && memcmp(x, y, la) == 0;

	free(x);
	free(y);
	return eq;
}

/* ---- tests ---- */

/* The table above must cover every byte of every type exactly once. */
static void test_spec_table_is_complete(void **state)
{
	for (size_t i = 0; i < N_TYPES; i++) {
		uint8_t seen[64] = { 0 };

		for (int k = 0; k < 15 && spec[i].f[k].name; k++)
			for (unsigned b = 0; b < spec[i].f[k].size; b++)
				seen[spec[i].f[k].off + b]++;
		for (unsigned b = 11; b < spec[i].len; b++)
			if (seen[b] != 1)
				fail_msg("type %c byte %u covered %u times", spec[i].type, b, seen[b]);
	}
	assert_int_equal(N_TYPES, 23);
}

static void test_determinism(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth_stats st;

	mdm_synth_params_init(&p);
	p.messages = 20000;
	p.symbols = 50;
	p.seed = 7;
	p.truth_path = tpath("d1.jsonl");
	synth(&p, tpath("d1.pcap"), false, &st);
	p.truth_path = tpath("d2.jsonl");
	synth(&p, tpath("d2.pcap"), false, &st);
	assert_true(files_equal(tpath("d1.pcap"), tpath("d2.pcap")));
	assert_true(files_equal(tpath("d1.jsonl"), tpath("d2.jsonl")));
	/* The truth file does not change a byte of the capture. */
	p.truth_path = NULL;
	synth(&p, tpath("d3.pcap"), false, &st);
	assert_true(files_equal(tpath("d1.pcap"), tpath("d3.pcap")));
	/* Fault options do not change the messages either (their own stream). */
	p.dup_every = 5;
	synth(&p, tpath("d4.pcap"), false, &st);
	assert_false(files_equal(tpath("d1.pcap"), tpath("d4.pcap")));
	p.dup_every = 0;
	p.seed = 8;
	synth(&p, tpath("d5.pcap"), false, &st);
	assert_false(files_equal(tpath("d1.pcap"), tpath("d5.pcap")));
}

/* Default run: 100,000 messages. Every type, contiguous sequence numbers,
 * packet sizes, batching, timestamps, truth = wire, live orders only. */
static void test_default_session(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth_stats st;
	struct capture c;
	struct wire w;
	struct truth_reader tr = { 0 };
	struct tline t;
	uint64_t by_type[256] = { 0 }, next_seq = 1, prev_pkt_ts = 0, prev_msg_ts = 0, n_lines = 0;
	uint64_t dir_pkts = 0, dir_full = 0;
	char (*syms)[9] = calloc(65536, sizeof(*syms));
	char sys_events[8] = { 0 };
	int n_sys = 0;

	mdm_synth_params_init(&p);
	assert_int_equal(p.messages, 100000);
	p.truth_path = tpath("default.jsonl");
	synth(&p, tpath("default.pcap"), false, &st);
	capture_load(&c, tpath("default.pcap"));
	assert_int_equal(c.n, st.packets);
	assert_int_equal(st.messages, 100000);

	for (size_t i = 0; i < c.n; i++) {
		const struct cpkt *k = &c.pk[i];
		uint32_t off = 20;
		bool dir = false, other = false;

		assert_true(k->valid);
		assert_true(k->len <= MDM_SYNTH_PAYLOAD_MAX);
		assert_memory_equal(k->p, "MDMESH0001", 10);
		assert_int_equal(k->dst_ip, MDM_SYNTH_DST_IP_DEFAULT);
		assert_int_equal(k->seq, next_seq); /* contiguous across packets */
		assert_true(k->count >= 1);
		next_seq += k->count;
		assert_true(k->ts >= prev_pkt_ts && k->ts >= MDM_SYNTH_EPOCH_NS);
		prev_pkt_ts = k->ts;
		/* pcap time = epoch + index of the packet's last message / rate */
		assert_int_equal(k->ts, MDM_SYNTH_EPOCH_NS + (k->seq + k->count - 2) * 1000u);
		for (unsigned m = 0; m < k->count; m++) {
			const uint8_t *msg = k->p + off + 2;
			uint64_t ts = be(msg + 5, 6);

			by_type[msg[0]]++;
			assert_true(ts >= prev_msg_ts);
			prev_msg_ts = ts;
			if (msg[0] == 'R')
				dir = true;
			else
				other = true;
			if (msg[0] == 'S')
				sys_events[n_sys++] = (char)msg[11];
			off += 2 + (uint32_t)be(k->p + off, 2);
		}
		assert_false(dir && other); /* the directory has packets of its own */
		if (dir) {
			dir_pkts++;
			dir_full += k->len + 41 > MDM_SYNTH_PAYLOAD_MAX; /* no room for one more R */
		}
	}
	assert_int_equal(next_seq, 100001);
	assert_string_equal(sys_events, "OSQMEC");
	assert_int_equal(c.pk[0].p[22], 'S');
	assert_true(dir_pkts >= 3 && dir_full >= dir_pkts - 1); /* 100 R in 33+33+33+1 */
	/* mean batch ~4 */
	assert_true(100000.0 / (double)c.n > 3.3 && 100000.0 / (double)c.n < 4.7);
	for (size_t i = 0; i < N_TYPES; i++) {
		if (by_type[(uint8_t)spec[i].type] == 0)
			fail_msg("type %c missing from 100k messages", spec[i].type);
		assert_int_equal(by_type[(uint8_t)spec[i].type], st.by_type[(uint8_t)spec[i].type]);
	}
	/* The mix of section 5: adds ~44 %, deletes ~40 %, replaces ~9 %. */
	assert_true(by_type['A'] + by_type['F'] > 42000 && by_type['A'] + by_type['F'] < 46000);
	assert_true(by_type['D'] > 38000 && by_type['D'] < 42000);
	assert_true(by_type['U'] > 8000 && by_type['U'] < 10000);
	assert_int_equal(by_type['R'], 100);
	assert_int_equal(by_type['V'], 1);

	/* Truth = wire, field by field. */
	wire_index(&w, &c, 1, 100000);
	tr.f = fopen(p.truth_path, "r");
	assert_non_null(tr.f);
	while (truth_next(&tr, &t)) {
		uint64_t seq = num(&t, "seq");

		assert_int_equal(seq, n_lines + 1);
		assert_null(get(&t, "dropped"));
		if (str(&t, "type")[0] == 'R')
			snprintf(syms[num(&t, "stock_locate")], 9, "%s", str(&t, "stock"));
		check_fields(&t, w.msg[seq - 1], syms, "MDMESH0001");
		n_lines++;
	}
	assert_int_equal(n_lines, 100000);
	assert_int_equal(st.truth_lines, 100000);
	fclose(tr.f);
	free(tr.line);
	wire_free(&w);
	capture_free(&c);
	free(syms);
}

/* Every E/C/X/D/U references a live order with enough shares; adds and
 * replacements use fresh reference numbers; the symbol is the order's. */
static void test_truth_orders_are_live(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth_stats st;
	struct truth_reader tr = { 0 };
	struct tline t;
	uint64_t n_ops = 0, full_exec = 0, partial_exec = 0;
	/* refs are dense from 1: index by ref */
	uint32_t *shares = calloc(200001, sizeof(*shares));
	uint16_t *locate = calloc(200001, sizeof(*locate));
	bool *used = calloc(200001, sizeof(*used));

	mdm_synth_params_init(&p);
	p.truth_path = tpath("orders.jsonl");
	p.seed = 99;
	synth(&p, tpath("orders.pcap"), false, &st);
	tr.f = fopen(p.truth_path, "r");
	assert_non_null(tr.f);
	while (truth_next(&tr, &t)) {
		char ty = str(&t, "type")[0];
		uint64_t ref, n;

		switch (ty) {
		case 'A':
		case 'F':
			ref = num(&t, "order_reference_number");
			assert_true(ref > 0 && ref <= 200000 && !used[ref]);
			used[ref] = true;
			shares[ref] = (uint32_t)num(&t, "shares");
			locate[ref] = (uint16_t)num(&t, "stock_locate");
			assert_string_equal(str(&t, "stock"), str(&t, "symbol"));
			assert_true(shares[ref] > 0 && num(&t, "price") > 0);
			break;
		case 'E':
		case 'C':
		case 'X':
		case 'D':
		case 'U':
			n_ops++;
			ref = num(&t, ty == 'U' ? "original_order_reference_number" : "order_reference_number");
			if (ref == 0 || ref > 200000 || shares[ref] == 0)
				fail_msg("seq %llu %c references order %llu that is not live",
					 (unsigned long long)num(&t, "seq"), ty, (unsigned long long)ref);
			assert_int_equal(num(&t, "stock_locate"), locate[ref]);
			if (ty == 'D') {
				shares[ref] = 0;
			} else if (ty == 'U') {
				uint64_t nref = num(&t, "new_order_reference_number");

				assert_true(nref <= 200000 && !used[nref]);
				used[nref] = true;
				shares[nref] = (uint32_t)num(&t, "shares");
				locate[nref] = locate[ref];
				shares[ref] = 0;
				assert_true(shares[nref] > 0 && num(&t, "price") > 0);
			} else {
				n = num(&t, ty == 'X' ? "cancelled_shares" : "executed_shares");
				assert_true(n >= 1 && n <= shares[ref]);
				if (ty == 'X')
					assert_true(n < shares[ref]); /* a cancel is partial */
				if (ty != 'X' && n == shares[ref])
					full_exec++;
				else if (ty != 'X')
					partial_exec++;
				shares[ref] -= (uint32_t)n;
				if (ty == 'C') {
					const char *pr = str(&t, "printable");

					assert_true(strcmp(pr, "Y") == 0 || strcmp(pr, "N") == 0);
					assert_true(num(&t, "execution_price") > 0);
				}
			}
			break;
		case 'P':
			assert_int_equal(num(&t, "order_reference_number"), 0);
			assert_string_equal(str(&t, "buy_sell_indicator"), "B");
			break;
		case 'S':
		case 'V':
		case 'W':
			assert_int_equal(num(&t, "stock_locate"), 0);
			assert_string_equal(str(&t, "symbol"), "");
			break;
		default:
			assert_true(num(&t, "stock_locate") > 0);
			break;
		}
	}
	assert_true(n_ops > 45000);
	assert_true(full_exec > 100 && partial_exec > 100);
	fclose(tr.f);
	free(tr.line);
	free(shares);
	free(locate);
	free(used);
}

/* Gaps, duplicates and malformed packets are exactly what the truth and the
 * stats say. */
static void test_faults(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth_stats st;
	struct capture c;
	struct wire w;
	struct truth_reader tr = { 0 };
	struct tline t;
	uint64_t mal = 0, dups = 0, data = 0, dropped_lines = 0, kinds[MDM_SYNTH_MAL_KINDS] = { 0 };
	uint64_t last_data_end = 0, expect_dropped_pkts = 0, expect_dup_pkts = 0;
	char (*syms)[9] = calloc(65536, sizeof(*syms));
	const struct cpkt *prev = NULL;

	mdm_synth_params_init(&p);
	p.messages = 30000;
	p.symbols = 40;
	p.gap_every = 50;
	p.dup_every = 30;
	p.malformed = 0.05;
	p.start_seq = 1000;
	snprintf(p.session, sizeof(p.session), "ABC");
	p.truth_path = tpath("faults.jsonl");
	synth(&p, tpath("faults.pcap"), false, &st);
	capture_load(&c, tpath("faults.pcap"));
	for (uint64_t k = 1; k <= st.packets; k++) {
		expect_dropped_pkts += k % 50 == 0;
		expect_dup_pkts += k % 30 == 0 && k % 50 != 0;
	}
	assert_int_equal(st.dropped_packets, expect_dropped_pkts);
	assert_int_equal(st.duplicated, expect_dup_pkts);
	assert_true(st.malformed > 7 * 5);

	for (size_t i = 0; i < c.n; i++) {
		const struct cpkt *k = &c.pk[i];

		if (k->valid && prev && prev->valid && prev->len == k->len && memcmp(prev->p, k->p, k->len) == 0) {
			dups++;
		} else if (k->valid) {
			assert_memory_equal(k->p, "ABC       ", 10);
			assert_true(k->seq > last_data_end); /* forward only; gaps allowed */
			last_data_end = k->seq + k->count - 1;
			data++;
		} else {
			/* Malformed: right after a real packet, never a new sequence number. */
			mal++;
			assert_non_null(prev);
			assert_true(prev->valid);
			if (k->len < 20) {
				uint8_t hdr[20] = "ABC       ";
				uint64_t last = prev->seq + prev->count - 1;

				for (int b = 0; b < 8; b++)
					hdr[10 + b] = (uint8_t)(last >> (56 - 8 * b));
				hdr[18] = 0;
				hdr[19] = 1;
				kinds[MDM_SYNTH_MAL_SHORT_HEADER]++;
				assert_memory_equal(k->p, hdr, k->len); /* a cut-off header of the same session */
			} else {
				uint32_t bl = (uint32_t)be(k->p + 20, 2);
				const struct tt *tt = k->len >= 23 ? spec_of(k->p[22]) : NULL;

				assert_memory_equal(k->p, "ABC       ", 10);
				assert_int_equal(be(k->p + 10, 8), prev->seq + prev->count - 1);
				if (be(k->p + 18, 2) == 3)
					kinds[MDM_SYNTH_MAL_COUNT_OVERRUN]++;
				else if (bl == 0)
					kinds[MDM_SYNTH_MAL_ZERO_BLOCK]++;
				else if (22 + bl > k->len)
					kinds[MDM_SYNTH_MAL_BLOCK_OVERRUN]++;
				else if (k->p[22] == 'z')
					kinds[MDM_SYNTH_MAL_UNKNOWN_TYPE]++;
				else if (tt && bl < tt->len)
					kinds[MDM_SYNTH_MAL_TRUNCATED_MSG]++;
				else if (tt && bl > tt->len)
					kinds[MDM_SYNTH_MAL_WRONG_LENGTH]++;
				else
					fail_msg("malformed packet %zu of no known kind", i);
			}
		}
		prev = k;
	}
	assert_int_equal(mal, st.malformed);
	assert_int_equal(dups, st.duplicated);
	assert_int_equal(data, st.packets - st.dropped_packets);
	assert_int_equal(c.n, data + dups + mal);
	for (int k = 0; k < MDM_SYNTH_MAL_KINDS; k++) {
		assert_int_equal(kinds[k], st.malformed_by_kind[k]);
		if (kinds[k] == 0)
			fail_msg("no malformed packet of kind %s", mdm_synth_malformed_str(k));
	}

	/* The truth: every sequence number once; dropped exactly where the
	 * capture has no copy; duplicated packets seen twice. */
	wire_index(&w, &c, 1000, 30000);
	tr.f = fopen(p.truth_path, "r");
	assert_non_null(tr.f);
	for (uint64_t seq = 1000; truth_next(&tr, &t); seq++) {
		bool dropped = get(&t, "dropped") != NULL;

		assert_int_equal(num(&t, "seq"), seq);
		assert_null(get(&t, "line_lost"));
		if (str(&t, "type")[0] == 'R')
			snprintf(syms[num(&t, "stock_locate")], 9, "%s", str(&t, "stock"));
		assert_int_equal(dropped, w.copies[seq - 1000] == 0);
		assert_true(w.copies[seq - 1000] <= 2);
		dropped_lines += dropped;
		check_fields(&t, w.msg[seq - 1000], syms, "ABC");
	}
	assert_int_equal(dropped_lines, st.dropped_messages);
	assert_true(dropped_lines > 0);
	fclose(tr.f);
	free(tr.line);
	wire_free(&w);
	capture_free(&c);
	free(syms);
}

/* Two lines: split files (feed.a.pcap / feed.b.pcap) and merged; a message
 * is "dropped" only when lost on both, "line_lost" when lost on one. */
static void test_two_lines(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth_stats st, st2;
	struct capture a, b, m;
	struct wire wa, wb, wm;
	struct truth_reader tr = { 0 };
	struct tline t;
	uint64_t both = 0, only_a = 0, only_b = 0, ma = 0, mb = 0;

	mdm_synth_params_init(&p);
	p.messages = 40000;
	p.symbols = 30;
	p.lines = 2;
	p.line_loss = 0.05;
	p.truth_path = tpath("ab.jsonl");
	synth(&p, tpath("ab.pcap"), false, &st);
	capture_load(&a, tpath("ab.a.pcap"));
	capture_load(&b, tpath("ab.b.pcap"));
	assert_int_equal(a.n, st.frames[0]);
	assert_int_equal(b.n, st.frames[1]);
	assert_int_equal(a.n, st.packets - st.line_lost[0]);
	for (size_t i = 0; i < a.n; i++)
		assert_int_equal(a.pk[i].dst_ip, MDM_SYNTH_DST_IP_DEFAULT);
	for (size_t i = 0; i < b.n; i++)
		assert_int_equal(b.pk[i].dst_ip, MDM_SYNTH_DST_IP_DEFAULT + 1);
	wire_index(&wa, &a, 1, 40000);
	wire_index(&wb, &b, 1, 40000);
	tr.f = fopen(p.truth_path, "r");
	assert_non_null(tr.f);
	for (uint64_t seq = 1; truth_next(&tr, &t); seq++) {
		bool in_a = wa.copies[seq - 1] > 0, in_b = wb.copies[seq - 1] > 0;
		const struct kv *ll = get(&t, "line_lost");

		assert_int_equal(get(&t, "dropped") != NULL, !in_a && !in_b);
		if (in_a != in_b) {
			assert_non_null(ll);
			assert_string_equal(ll->str, in_a ? "b" : "a");
		} else {
			assert_null(ll);
		}
		both += !in_a && !in_b;
		only_a += in_a && !in_b;
		only_b += !in_a && in_b;
	}
	assert_int_equal(both, st.dropped_messages);
	assert_true(both > 0 && only_a > 0 && only_b > 0); /* 5 % each: ~0.25 % on both */
	assert_true(st.dropped_packets < st.line_lost[0] / 5);
	fclose(tr.f);
	free(tr.line);

	/* Merged: the same packets, both groups in one file. */
	p.truth_path = NULL;
	synth(&p, tpath("merged.pcap"), true, &st2);
	capture_load(&m, tpath("merged.pcap"));
	assert_int_equal(m.n, a.n + b.n);
	assert_int_equal(st2.dropped_packets, st.dropped_packets);
	wire_index(&wm, &m, 1, 40000);
	for (size_t i = 0; i < m.n; i++) {
		ma += m.pk[i].dst_ip == MDM_SYNTH_DST_IP_DEFAULT;
		mb += m.pk[i].dst_ip == MDM_SYNTH_DST_IP_DEFAULT + 1;
	}
	assert_int_equal(ma, a.n);
	assert_int_equal(mb, b.n);
	for (uint64_t i = 0; i < 40000; i++)
		assert_int_equal(wm.copies[i], wa.copies[i] + wb.copies[i]);
	wire_free(&wa);
	wire_free(&wb);
	wire_free(&wm);
	capture_free(&a);
	capture_free(&b);
	capture_free(&m);
}

/* A slow rate spreads the order phase over the trading day, and the pcap
 * clock follows the rate. */
static void test_rate_and_timestamps(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth_stats st;
	struct capture c;
	uint64_t last_itch = 0;

	mdm_synth_params_init(&p);
	p.messages = 5000;
	p.symbols = 10;
	p.rate = 1000;
	synth(&p, tpath("slow.pcap"), false, &st);
	capture_load(&c, tpath("slow.pcap"));
	for (size_t i = 0; i < c.n; i++) {
		const struct cpkt *k = &c.pk[i];
		uint32_t off = 20;

		assert_int_equal(k->ts, MDM_SYNTH_EPOCH_NS + (k->seq + k->count - 2) * 1000000u);
		for (unsigned j = 0; j < k->count; j++) {
			const uint8_t *msg = k->p + off + 2;
			uint64_t ts = be(msg + 5, 6);

			if (msg[0] != 'S' && k->seq + j > 40 && ts > 34200000000000ull)
				assert_true(ts > last_itch); /* strictly increasing in the order phase */
			last_itch = ts;
			off += 2 + (uint32_t)be(k->p + off, 2);
		}
	}
	/* the last message is S C at 20:05 */
	assert_int_equal(last_itch, 72300000000000ull);
	capture_free(&c);

	/* one message per second for a million messages cannot fit 09:30-16:00:
	 * the order phase is squeezed into the day instead */
	p.messages = 30000;
	p.rate = 1;
	synth(&p, tpath("squeezed.pcap"), false, &st);
	capture_load(&c, tpath("squeezed.pcap"));
	assert_int_equal(c.pk[c.n - 1].ts, MDM_SYNTH_EPOCH_NS + 29999ull * 1000000000u);
	last_itch = 0;
	for (size_t i = 0; i < c.n; i++) {
		const struct cpkt *k = &c.pk[i];
		uint32_t off = 20;

		for (unsigned j = 0; j < k->count; j++) {
			const uint8_t *msg = k->p + off + 2;

			if (k->seq + j > 40 && msg[0] != 'S' && be(msg + 5, 6) > last_itch)
				last_itch = be(msg + 5, 6);
			off += 2 + (uint32_t)be(k->p + off, 2);
		}
	}
	/* the order phase ends late in the day, but before S M at 16:00 */
	assert_true(last_itch > 55000000000000ull && last_itch < 57600000000000ull);
	capture_free(&c);
}

static void test_bad_params(void **state)
{
	struct mdm_synth_params p;
	struct mdm_synth *s = (struct mdm_synth *)1;

	mdm_synth_params_init(&p);
	p.messages = 150;
	assert_int_equal(mdm_synth_create(&s, &p), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(mdm_err_last(), "--messages 150 is too small for 100 symbols"));

	mdm_synth_params_init(&p);
	p.symbols = 0;
	assert_int_equal(mdm_synth_create(&s, &p), -EINVAL);
	assert_non_null(strstr(mdm_err_last(), "--symbols"));

	mdm_synth_params_init(&p);
	snprintf(p.session, sizeof(p.session), "a-b");
	assert_int_equal(mdm_synth_create(&s, &p), -EINVAL);
	assert_non_null(strstr(mdm_err_last(), "alphanumeric"));

	mdm_synth_params_init(&p);
	p.rate = 0;
	assert_int_equal(mdm_synth_create(&s, &p), -EINVAL);

	mdm_synth_params_init(&p);
	p.lines = 3;
	assert_int_equal(mdm_synth_create(&s, &p), -EINVAL);

	mdm_synth_params_init(&p);
	p.truth_path = tpath("no/such/dir/t.jsonl");
	assert_int_equal(mdm_synth_create(&s, &p), -ENOENT);
	assert_non_null(strstr(mdm_err_last(), "t.jsonl"));

	/* the smallest session that fits is accepted, with every phase */
	mdm_synth_params_init(&p);
	p.symbols = 1;
	p.messages = 1000;
	assert_int_equal(mdm_synth_create(&s, &p), 0);
	{
		struct mdm_synth_packet pk;
		uint64_t n = 0;
		int rc;

		while ((rc = mdm_synth_next(s, &pk)) == 1)
			n += pk.count;
		assert_int_equal(rc, 0);
		assert_int_equal(n, 1000);
		assert_int_equal(mdm_synth_stats(s)->by_type['R'], 1);
		assert_int_equal(mdm_synth_stats(s)->by_type['W'], 1);
	}
	mdm_synth_destroy(s);
	mdm_synth_destroy(NULL);
}

static void test_line_path(void **state)
{
	char buf[64];

	assert_int_equal(mdm_synth_line_path(buf, sizeof(buf), "feed.pcap", 0), 0);
	assert_string_equal(buf, "feed.a.pcap");
	assert_int_equal(mdm_synth_line_path(buf, sizeof(buf), "/tmp/x.y/feed.pcap", 1), 0);
	assert_string_equal(buf, "/tmp/x.y/feed.b.pcap");
	assert_int_equal(mdm_synth_line_path(buf, sizeof(buf), "/tmp/x.y/feed", 1), 0);
	assert_string_equal(buf, "/tmp/x.y/feed.b");
	assert_int_equal(mdm_synth_line_path(buf, sizeof(buf), "/tmp/.feed", 0), 0);
	assert_string_equal(buf, "/tmp/.feed.a");
	assert_int_equal(mdm_synth_line_path(buf, 8, "feed.pcap", 0), -ENAMETOOLONG);
	assert_string_equal(mdm_synth_malformed_str(MDM_SYNTH_MAL_ZERO_BLOCK), "zero_block");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_table_is_complete),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_default_session),
		cmocka_unit_test(test_truth_orders_are_live),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_two_lines),
		cmocka_unit_test(test_rate_and_timestamps),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_line_path),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
