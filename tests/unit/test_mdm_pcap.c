#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mdm_err.h"
#include "mdm_mem.h"
#include "mdm_pcap.h"

#define GROUP 0xe9360c6fu /* 233.54.12.111 */
#define SRC 0x0a4d0001u   /* 10.77.0.1 */
#define TS0 1767623400123456789ull

static char tmpdir[256];

static int setup_dir(void **state)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_mdm_pcap.XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	assert_non_null(f);
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

static void spit(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Payloads of the round-trip tests: empty, tiny (Ethernet-padded), odd, full. */
static const size_t sizes[] = { 0, 2, 333, 1400 };

static void fill_payload(uint8_t *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + salt);
}

/* Write one datagram per entry of sizes[] at TS0 + i*1001 ns. */
static void write_sample(const char *path, const struct mdm_pcap_writer_params *wp)
{
	struct mdm_pcap_writer *w;
	uint8_t payload[1400];

	assert_int_equal(mdm_pcap_writer_open(&w, path, wp), 0);
	for (unsigned i = 0; i < 4; i++) {
		fill_payload(payload, sizes[i], i);
		assert_int_equal(mdm_pcap_write_udp(w, TS0 + i * 1001u, SRC + i, GROUP + i, (uint16_t)(50000 + i),
						    26477, payload, sizes[i]),
				 0);
	}
	assert_int_equal(mdm_pcap_writer_count(w), 4);
	assert_int_equal(mdm_pcap_writer_close(w), 0);
}

/* Read the sample back through `r` and check every field. */
static void check_sample(struct mdm_pcap_reader *r, bool us, bool vlan)
{
	struct mdm_pcap_frame fr;
	struct mdm_pcap_udp u;
	uint8_t payload[1400];
	unsigned l2 = vlan ? 18 : 14;

	for (unsigned i = 0; i < 4; i++) {
		uint64_t ts = TS0 + i * 1001u;
		const uint8_t *ip;

		assert_int_equal(mdm_pcap_next(r, &fr), 1);
		assert_int_equal(fr.ts_ns, us ? ts / 1000 * 1000 : ts);
		assert_int_equal(fr.linktype, MDM_PCAP_LINKTYPE_ETHERNET);
		/* Ethernet pads short frames to 60 bytes; the writer does not, so
		 * the frame is exactly the headers plus the payload. */
		assert_int_equal(fr.caplen, l2 + 20 + 8 + sizes[i]);
		assert_int_equal(fr.origlen, fr.caplen);
		/* multicast MAC: 01:00:5e + low 23 bits of 233.54.12.(111+i) */
		assert_int_equal(fr.data[0], 0x01);
		assert_int_equal(fr.data[1], 0x00);
		assert_int_equal(fr.data[2], 0x5e);
		assert_int_equal(fr.data[3], 0x36);
		assert_int_equal(fr.data[4], 0x0c);
		assert_int_equal(fr.data[5], 0x6f + i);
		ip = fr.data + l2;
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(mdm_pcap_inet_csum(ip, 20), 0); /* header checksum verifies */
		assert_int_not_equal(be16(ip + 10), 0);
		assert_int_equal(be16(ip + 2), 28 + sizes[i]);

		assert_int_equal(mdm_pcap_parse_udp(&fr, &u), MDM_PCAP_UDP_OK);
		assert_int_equal(u.src_ip, SRC + i);
		assert_int_equal(u.dst_ip, GROUP + i);
		assert_int_equal(u.src_port, 50000 + i);
		assert_int_equal(u.dst_port, 26477);
		assert_int_equal(u.n_vlans, vlan ? 1 : 0);
		assert_int_equal(u.vlan_id, vlan ? 100 : 0);
		assert_int_equal(u.payload_len, sizes[i]);
		fill_payload(payload, sizes[i], i);
		if (sizes[i])
			assert_memory_equal(u.payload, payload, sizes[i]);
	}
	assert_int_equal(mdm_pcap_next(r, &fr), 0);
	assert_int_equal(mdm_pcap_next(r, &fr), 0); /* EOF is sticky */
}

static void test_roundtrip_ns_file_and_mem(void **state)
{
	char path[300];
	struct mdm_pcap_reader *r;
	uint8_t *buf;
	size_t len;

	path_of(path, sizeof(path), "ns.pcap");
	write_sample(path, NULL);
	buf = slurp(path, &len);
	/* magic 0xa1b23c4d written little-endian, snaplen 65535, linktype 1 */
	assert_memory_equal(buf, "\x4d\x3c\xb2\xa1\x02\x00\x04\x00", 8);
	assert_int_equal(buf[20], 1);

	assert_int_equal(mdm_pcap_reader_open(&r, path), 0);
	check_sample(r, false, false);
	mdm_pcap_reader_close(r);

	assert_int_equal(mdm_pcap_reader_open_mem(&r, buf, len), 0);
	check_sample(r, false, false);
	mdm_pcap_reader_close(r);
	free(buf);
}

static void test_roundtrip_us(void **state)
{
	struct mdm_pcap_writer_params wp = { .ts_us = true };
	char path[300];
	struct mdm_pcap_reader *r;
	uint8_t *buf;
	size_t len;

	path_of(path, sizeof(path), "us.pcap");
	write_sample(path, &wp);
	buf = slurp(path, &len);
	assert_memory_equal(buf, "\xd4\xc3\xb2\xa1", 4);
	/* first record: seconds, then microseconds (not nanoseconds) */
	assert_int_equal(buf[24] | buf[25] << 8 | buf[26] << 16 | (uint32_t)buf[27] << 24, TS0 / 1000000000u);
	assert_int_equal(buf[28] | buf[29] << 8 | buf[30] << 16 | (uint32_t)buf[31] << 24,
			 TS0 % 1000000000u / 1000u);
	assert_int_equal(mdm_pcap_reader_open_mem(&r, buf, len), 0);
	check_sample(r, true, false);
	mdm_pcap_reader_close(r);
	free(buf);
}

static void test_roundtrip_vlan(void **state)
{
	struct mdm_pcap_writer_params wp = { .vlan = true, .vlan_id = 100 };
	char path[300];
	struct mdm_pcap_reader *r;
	uint8_t *buf;
	size_t len;

	path_of(path, sizeof(path), "vlan.pcap");
	write_sample(path, &wp);
	buf = slurp(path, &len);
	assert_int_equal(mdm_pcap_reader_open_mem(&r, buf, len), 0);
	check_sample(r, false, true);
	mdm_pcap_reader_close(r);
	/* the tag itself: TPID 0x8100, VID 100, then IPv4 */
	assert_memory_equal(buf + 24 + 16 + 12, "\x81\x00\x00\x64\x08\x00", 6);
	free(buf);

	wp.vlan_id = 4096;
	{
		struct mdm_pcap_writer *w;

		assert_int_equal(mdm_pcap_writer_open(&w, path, &wp), -EINVAL);
		assert_null(w);
	}
}

/* RFC 1071 checksum on a well-known header (Wikipedia "IPv4 header checksum"). */
static void test_inet_csum(void **state)
{
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	assert_int_equal(mdm_pcap_inet_csum(h, 20), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(mdm_pcap_inet_csum(h, 20), 0);
	assert_int_equal(mdm_pcap_inet_csum("\x01", 1), 0xfeff); /* odd length pads with zero */
}

/* ---- hand-built captures ---- */

struct fb {
	uint8_t b[8192];
	size_t n;
	bool be;
};

static void fb_u8(struct fb *f, uint8_t v) { f->b[f->n++] = v; }
static void fb_u16(struct fb *f, uint16_t v)
{
	if (f->be) { fb_u8(f, (uint8_t)(v >> 8)); fb_u8(f, (uint8_t)v); }
	else { fb_u8(f, (uint8_t)v); fb_u8(f, (uint8_t)(v >> 8)); }
}
static void fb_u32(struct fb *f, uint32_t v)
{
	if (f->be) { fb_u16(f, (uint16_t)(v >> 16)); fb_u16(f, (uint16_t)v); }
	else { fb_u16(f, (uint16_t)v); fb_u16(f, (uint16_t)(v >> 16)); }
}
static void fb_bytes(struct fb *f, const void *p, size_t n, bool pad4)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
	while (pad4 && f->n % 4)
		fb_u8(f, 0);
}
static void fb_patch32(struct fb *f, size_t at, uint32_t v)
{
	size_t save = f->n;

	f->n = at;
	fb_u32(f, v);
	f->n = save;
}
static size_t ng_begin(struct fb *f, uint32_t type)
{
	size_t at = f->n;

	fb_u32(f, type);
	fb_u32(f, 0);
	return at;
}
static void ng_end(struct fb *f, size_t at)
{
	uint32_t len = (uint32_t)(f->n - at + 4);

	fb_u32(f, len);
	fb_patch32(f, at + 4, len);
}
static void ng_shb(struct fb *f)
{
	size_t at = ng_begin(f, 0x0a0d0d0a);

	fb_u32(f, 0x1a2b3c4d);
	fb_u16(f, 1);
	fb_u16(f, 0);
	fb_u32(f, 0xffffffff); /* section length unknown (-1) */
	fb_u32(f, 0xffffffff);
	ng_end(f, at);
}
static void ng_idb(struct fb *f, uint16_t linktype, int tsresol)
{
	size_t at = ng_begin(f, 1);

	fb_u16(f, linktype);
	fb_u16(f, 0);
	fb_u32(f, 0);
	if (tsresol >= 0) {
		fb_u16(f, 9);
		fb_u16(f, 1);
		fb_u8(f, (uint8_t)tsresol);
		fb_u8(f, 0); fb_u8(f, 0); fb_u8(f, 0);
		fb_u16(f, 0); /* opt_endofopt */
		fb_u16(f, 0);
	}
	ng_end(f, at);
}
static void ng_epb(struct fb *f, uint32_t ifid, uint64_t ts, const uint8_t *d, uint32_t len)
{
	size_t at = ng_begin(f, 6);

	fb_u32(f, ifid);
	fb_u32(f, (uint32_t)(ts >> 32));
	fb_u32(f, (uint32_t)ts);
	fb_u32(f, len);
	fb_u32(f, len);
	fb_bytes(f, d, len, true);
	ng_end(f, at);
}

/* One UDP datagram as an Ethernet frame, made by the writer. */
static size_t make_frame(uint8_t *out, size_t payload_len)
{
	char path[300];
	uint8_t payload[64];
	struct mdm_pcap_writer *w;
	uint8_t *buf;
	size_t len, n;

	path_of(path, sizeof(path), "one.pcap");
	fill_payload(payload, payload_len, 9);
	assert_int_equal(mdm_pcap_writer_open(&w, path, NULL), 0);
	assert_int_equal(mdm_pcap_write_udp(w, 1, SRC, GROUP, 50000, 26477, payload, payload_len), 0);
	assert_int_equal(mdm_pcap_writer_close(w), 0);
	buf = slurp(path, &len);
	n = len - 40;
	memcpy(out, buf + 40, n);
	free(buf);
	return n;
}

static void build_pcapng(struct fb *f, bool be, const uint8_t *eth, size_t eth_len)
{
	size_t at;

	memset(f, 0, sizeof(*f));
	f->be = be;
	ng_shb(f);
	ng_idb(f, MDM_PCAP_LINKTYPE_ETHERNET, 9);  /* if 0: ns */
	ng_idb(f, MDM_PCAP_LINKTYPE_ETHERNET, -1); /* if 1: default µs */
	at = ng_begin(f, 0x00000bad);              /* unknown block: skipped */
	fb_u32(f, 0xdeadbeef);
	ng_end(f, at);
	ng_epb(f, 0, TS0, eth, (uint32_t)eth_len);
	ng_epb(f, 1, TS0 / 1000, eth, (uint32_t)eth_len);
	at = ng_begin(f, 3);                       /* SPB on interface 0, no timestamp */
	fb_u32(f, (uint32_t)eth_len);
	fb_bytes(f, eth, eth_len, true);
	ng_end(f, at);
	/* A second section, 2^-20 s resolution. */
	ng_shb(f);
	ng_idb(f, MDM_PCAP_LINKTYPE_ETHERNET, 0x80 | 20);
	ng_epb(f, 0, (5ull << 20) | (1u << 19), eth, (uint32_t)eth_len); /* 5.5 s */
}

static void test_pcapng_both_orders(void **state)
{
	uint8_t eth[128];
	size_t eth_len = make_frame(eth, 10);
	static const uint64_t want_ts[] = { TS0, TS0 / 1000 * 1000, 0, 5500000000ull };

	for (int be = 0; be < 2; be++) {
		struct fb f;
		struct mdm_pcap_reader *r;
		struct mdm_pcap_frame fr;
		struct mdm_pcap_udp u;

		build_pcapng(&f, be, eth, eth_len);
		assert_int_equal(mdm_pcap_reader_open_mem(&r, f.b, f.n), 0);
		for (unsigned i = 0; i < 4; i++) {
			assert_int_equal(mdm_pcap_next(r, &fr), 1);
			assert_int_equal(fr.ts_ns, want_ts[i]);
			assert_int_equal(fr.linktype, MDM_PCAP_LINKTYPE_ETHERNET);
			assert_int_equal(mdm_pcap_parse_udp(&fr, &u), MDM_PCAP_UDP_OK);
			assert_int_equal(u.dst_ip, GROUP);
			assert_int_equal(u.dst_port, 26477);
			assert_int_equal(u.payload_len, 10);
		}
		assert_int_equal(mdm_pcap_next(r, &fr), 0);
		mdm_pcap_reader_close(r);
	}
}

/* LINKTYPE_RAW comes back as 101 (libpcap calls it DLT_RAW, 12 or 14 by
 * platform). What libpcap cannot represent is refused with its reason: one
 * file, one link type, one byte order. */
static void test_pcapng_linktypes(void **state)
{
	uint8_t eth[128];
	size_t eth_len = make_frame(eth, 10);
	struct mdm_pcap_reader *r;
	struct mdm_pcap_frame fr;
	struct mdm_pcap_udp u;
	struct fb f;

	memset(&f, 0, sizeof(f));
	ng_shb(&f);
	ng_idb(&f, MDM_PCAP_LINKTYPE_RAW, -1);
	ng_epb(&f, 0, TS0 / 1000, eth + 14, (uint32_t)(eth_len - 14));
	assert_int_equal(mdm_pcap_reader_open_mem(&r, f.b, f.n), 0);
	assert_int_equal(mdm_pcap_next(r, &fr), 1);
	assert_int_equal(fr.linktype, MDM_PCAP_LINKTYPE_RAW);
	assert_int_equal(mdm_pcap_parse_udp(&fr, &u), MDM_PCAP_UDP_OK);
	assert_int_equal(u.payload_len, 10);
	assert_int_equal(mdm_pcap_next(r, &fr), 0);
	mdm_pcap_reader_close(r);

	/* a second interface of another link type */
	memset(&f, 0, sizeof(f));
	ng_shb(&f);
	ng_idb(&f, MDM_PCAP_LINKTYPE_ETHERNET, 9);
	ng_epb(&f, 0, TS0, eth, (uint32_t)eth_len);
	ng_idb(&f, MDM_PCAP_LINKTYPE_RAW, -1);
	ng_epb(&f, 1, TS0 / 1000, eth + 14, (uint32_t)(eth_len - 14));
	assert_int_equal(mdm_pcap_reader_open_mem(&r, f.b, f.n), 0);
	assert_int_equal(mdm_pcap_next(r, &fr), 1);
	mdm_err_clear();
	assert_int_equal(mdm_pcap_next(r, &fr), -EBADMSG);
	assert_string_equal(mdm_err_last(), "<memory>: an interface has a type 101 different from the type "
					    "of the first interface (frame 2)");
	mdm_pcap_reader_close(r);

	/* a second section in the other byte order */
	memset(&f, 0, sizeof(f));
	ng_shb(&f);
	ng_idb(&f, MDM_PCAP_LINKTYPE_ETHERNET, 9);
	ng_epb(&f, 0, TS0, eth, (uint32_t)eth_len);
	f.be = true;
	ng_shb(&f);
	ng_idb(&f, MDM_PCAP_LINKTYPE_ETHERNET, 9);
	ng_epb(&f, 0, TS0, eth, (uint32_t)eth_len);
	assert_int_equal(mdm_pcap_reader_open_mem(&r, f.b, f.n), 0);
	assert_int_equal(mdm_pcap_next(r, &fr), 1);
	mdm_err_clear();
	assert_int_equal(mdm_pcap_next(r, &fr), -EBADMSG);
	/* libpcap reads the new section's block length in the old order */
	assert_string_equal(mdm_err_last(), "<memory>: pcapng block size 469762048 > maximum 16777216 (frame 2)");
	mdm_pcap_reader_close(r);
}
/* Classic pcap written big-endian (as by a SPARC tcpdump), µs and ns. */
static void test_classic_big_endian(void **state)
{
	uint8_t eth[128];
	size_t eth_len = make_frame(eth, 3);

	for (int ns = 0; ns < 2; ns++) {
		struct fb f = { .be = true };
		struct mdm_pcap_reader *r;
		struct mdm_pcap_frame fr;
		struct mdm_pcap_udp u;

		fb_u32(&f, ns ? 0xa1b23c4d : 0xa1b2c3d4);
		fb_u16(&f, 2);
		fb_u16(&f, 4);
		fb_u32(&f, 0);
		fb_u32(&f, 0);
		fb_u32(&f, 262144);
		fb_u32(&f, 1);
		fb_u32(&f, 1767623400);
		fb_u32(&f, ns ? 123456789 : 123456);
		fb_u32(&f, (uint32_t)eth_len);
		fb_u32(&f, (uint32_t)eth_len + 100); /* snaplen cut it */
		fb_bytes(&f, eth, eth_len, false);
		assert_int_equal(mdm_pcap_reader_open_mem(&r, f.b, f.n), 0);
		assert_int_equal(mdm_pcap_next(r, &fr), 1);
		assert_int_equal(fr.ts_ns, ns ? 1767623400123456789ull : 1767623400123456000ull);
		assert_int_equal(fr.caplen, eth_len);
		assert_int_equal(fr.origlen, eth_len + 100);
		assert_int_equal(mdm_pcap_parse_udp(&fr, &u), MDM_PCAP_UDP_OK);
		assert_int_equal(u.payload_len, 3);
		assert_int_equal(mdm_pcap_next(r, &fr), 0);
		mdm_pcap_reader_close(r);
	}
}

/* ---- corrupt files: rejected with a reason, never read past the buffer ---- */

static void test_corrupt_files(void **state)
{
	uint8_t eth[128], *good;
	size_t eth_len = make_frame(eth, 10), good_len;
	char path[300];
	struct fb ng;
	static struct {
		const char *name;
		int open_rc;  /* expected from open */
		int next_rc;  /* expected from the first failing next (after `frames` good ones) */
		unsigned frames;
		const char *detail;
	} cases[] = {
		{ "empty", -EINVAL, 0, 0, "empty capture" },
		{ "bad magic", -EINVAL, 0, 0, "unknown file format" },
		{ "short file header", -EINVAL, 0, 0, "truncated dump file; tried to read 24 file header bytes, only got 16" },
		{ "cut record header", 0, -EBADMSG, 1, "truncated dump file; tried to read 16 header bytes, only got 10 (frame 2)" },
		{ "cut record data", 0, -EBADMSG, 3, "tried to read 1442 captured bytes, only got 1441 (frame 4)" },
		{ "huge caplen", 0, -EBADMSG, 0, "invalid packet capture length 2147483647, bigger than snaplen of 65535 (frame 1)" },
		{ "pcapng cut block", 0, -EBADMSG, 3, "truncated pcapng dump file; tried to read 76 bytes, only got 73 (frame 4)" },
		{ "pcapng bad block length", 0, -EBADMSG, 0, "has a length of 13 that is not a multiple of 4 (frame 1)" },
		{ "pcapng trailer mismatch", 0, -EBADMSG, 0, "length in header and trailer don't match (frame 1)" },
		{ "pcapng undeclared interface", 0, -EBADMSG, 0, "no Interface Description Block for that interface (frame 1)" },
		{ "pcapng bad byte order", -EINVAL, 0, 0, "unknown file format" },
	};

	path_of(path, sizeof(path), "good.pcap");
	write_sample(path, NULL);
	good = slurp(path, &good_len);
	build_pcapng(&ng, false, eth, eth_len);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Each input is a fresh heap copy of exactly its length, so ASan
		 * catches any read past its end. */
		uint8_t *in = malloc(8192);
		size_t n = 0, epb_at = 28 + 32 + 20 + 16; /* SHB, IDB(ns), IDB(µs), unknown */
		struct mdm_pcap_reader *r = NULL;
		struct mdm_pcap_frame fr;
		int rc = 0;

		assert_non_null(in);
		switch (i) {
		case 0: n = 0; break;
		case 1: memcpy(in, "GIF89a-not-a-pcap-file-xx", 25); n = 25; break;
		case 2: memcpy(in, good, 20); n = 20; break;
		case 3: n = 24 + 16 + 14 + 20 + 8 + 0 + 10; memcpy(in, good, n); break;
		case 4: n = good_len - 1; memcpy(in, good, n); break;
		case 5: n = good_len; memcpy(in, good, n); in[32] = 0xff; in[33] = 0xff; in[34] = 0xff; in[35] = 0x7f; break;
		case 6: n = ng.n - 3; memcpy(in, ng.b, n); break;
		case 7: n = ng.n; memcpy(in, ng.b, n); in[epb_at + 4] = 13; break;
		case 8: n = ng.n; memcpy(in, ng.b, n); in[epb_at + 4] += 4; break;
		case 9: n = ng.n; memcpy(in, ng.b, n); in[epb_at + 8] = 7; break;
		default: n = ng.n; memcpy(in, ng.b, n); in[8] = 0x11; break;
		}
		in = realloc(in, n ? n : 1);
		mdm_err_clear();
		rc = mdm_pcap_reader_open_mem(&r, n ? in : NULL, n);
		if (cases[i].open_rc) {
			assert_int_equal(rc, cases[i].open_rc);
			assert_null(r);
		} else {
			assert_int_equal(rc, 0);
			for (unsigned k = 0; k < cases[i].frames; k++)
				assert_int_equal(mdm_pcap_next(r, &fr), 1);
			rc = mdm_pcap_next(r, &fr);
			assert_int_equal(rc, cases[i].next_rc);
			assert_int_equal(mdm_pcap_next(r, &fr), cases[i].next_rc); /* stays at the bad record */
		}
		if (!strstr(mdm_err_last(), cases[i].detail))
			fail_msg("case '%s': detail '%s' lacks '%s'", cases[i].name, mdm_err_last(), cases[i].detail);
		assert_non_null(strstr(mdm_err_last(), "<memory>: "));
		mdm_pcap_reader_close(r);
		free(in);
	}

	/* The file reader names the file and the frame: the 4th is cut. */
	{
		struct mdm_pcap_reader *r;
		struct mdm_pcap_frame fr;
		char want[400];

		path_of(path, sizeof(path), "cut.pcap");
		spit(path, good, good_len - 5);
		assert_int_equal(mdm_pcap_reader_open(&r, path), 0);
		for (int k = 0; k < 3; k++)
			assert_int_equal(mdm_pcap_next(r, &fr), 1);
		assert_int_equal(mdm_pcap_next(r, &fr), -EBADMSG);
		snprintf(want, sizeof(want), "%s: truncated", path);
		assert_memory_equal(mdm_err_last(), want, strlen(want));
		assert_non_null(strstr(mdm_err_last(), "(frame 4)"));
		mdm_pcap_reader_close(r);

		/* an empty file; a directory */
		path_of(path, sizeof(path), "empty.pcap");
		spit(path, "", 0);
		assert_int_equal(mdm_pcap_reader_open(&r, path), -EINVAL);
		snprintf(want, sizeof(want), "%s: truncated dump file", path);
		assert_memory_equal(mdm_err_last(), want, strlen(want));
		assert_int_equal(mdm_pcap_reader_open(&r, tmpdir), -EINVAL);
		snprintf(want, sizeof(want), "%s: error reading dump file: Is a directory", tmpdir);
		assert_string_equal(mdm_err_last(), want);
	}
	free(good);
}
static void test_open_errors(void **state)
{
	struct mdm_pcap_reader *r = (struct mdm_pcap_reader *)1;
	struct mdm_pcap_writer *w = (struct mdm_pcap_writer *)1;
	char path[300];

	path_of(path, sizeof(path), "no/such/dir/x.pcap");
	assert_int_equal(mdm_pcap_reader_open(&r, path), -ENOENT);
	assert_null(r);
	assert_non_null(strstr(mdm_err_last(), "x.pcap"));
	assert_int_equal(mdm_pcap_writer_open(&w, path, NULL), -ENOENT);
	assert_null(w);
	assert_non_null(strstr(mdm_err_last(), "x.pcap"));
	mdm_pcap_reader_close(NULL);
	assert_int_equal(mdm_pcap_writer_close(NULL), 0);

	/* A full disk shows at the latest when the writer is closed. */
	if (access("/dev/full", W_OK) == 0) {
		uint8_t payload[1400] = { 0 };
		int rc = 0;

		assert_int_equal(mdm_pcap_writer_open(&w, "/dev/full", NULL), 0);
		for (int i = 0; i < 2000 && rc == 0; i++)
			rc = mdm_pcap_write_udp(w, 0, SRC, GROUP, 1, 2, payload, sizeof(payload));
		rc = mdm_pcap_writer_close(w);
		assert_int_equal(rc, -ENOSPC);
	}
}

static void test_alloc_failures(void **state)
{
	uint64_t before = mdm_mem_used();
	struct mdm_pcap_reader *r;
	struct mdm_pcap_writer *w;
	char path[300];

	path_of(path, sizeof(path), "alloc.pcap");
	write_sample(path, NULL);
	for (uint64_t n = 1; n <= 4; n++) {
		mdm_mem_fail_after(n);
		int rc = mdm_pcap_writer_open(&w, path, NULL);

		mdm_mem_fail_reset();
		if (rc == 0)
			mdm_pcap_writer_close(w);
		else
			assert_int_equal(rc, -ENOMEM);
		mdm_mem_fail_after(n);
		rc = mdm_pcap_reader_open(&r, path);
		mdm_mem_fail_reset();
		if (rc == 0)
			mdm_pcap_reader_close(r);
		else
			assert_int_equal(rc, -ENOMEM);
		assert_int_equal(mdm_mem_used(), before);
	}
	mdm_mem_fail_after(1);
	assert_int_equal(mdm_pcap_writer_open(&w, path, NULL), -ENOMEM);
	assert_int_equal(mdm_pcap_reader_open(&r, path), -ENOMEM);
	mdm_pcap_reader_close(NULL);
	mdm_mem_fail_reset();
	assert_int_equal(mdm_mem_used(), before);
}

/* Records up to libpcap's largest snaplen come back whole; a longer frame is
 * cut to the snaplen, with its length on the wire kept. */
static void test_file_reader_large_record(void **state)
{
	enum { HUGE = 600000 };
	static const struct {
		uint64_t ts;
		size_t off, caplen, origlen; /* frame + off, origlen bytes written */
	} rec[] = {
		{ 10, 0, 100, 100 },
		{ 20, 0, 200000, 200000 },
		{ 30, 1, 100, 100 },
		{ 40, 0, MDM_PCAP_MAX_SNAPLEN, HUGE },
	};
	struct mdm_pcap_writer_params wp = { .snaplen = MDM_PCAP_MAX_SNAPLEN + 1 };
	uint8_t *frame = malloc(HUGE);
	struct mdm_pcap_writer *w;
	struct mdm_pcap_reader *r;
	struct mdm_pcap_frame fr;
	char path[300];

	assert_non_null(frame);
	for (size_t i = 0; i < HUGE; i++)
		frame[i] = (uint8_t)(i * 13);
	path_of(path, sizeof(path), "big.pcap");
	assert_int_equal(mdm_pcap_writer_open(&w, path, &wp), -EINVAL);
	wp.snaplen = MDM_PCAP_MAX_SNAPLEN;
	assert_int_equal(mdm_pcap_writer_open(&w, path, &wp), 0);
	for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
		assert_int_equal(mdm_pcap_write_frame(w, rec[i].ts, frame + rec[i].off, rec[i].origlen), 0);
	assert_int_equal(mdm_pcap_writer_close(w), 0);
	assert_int_equal(mdm_pcap_reader_open(&r, path), 0);
	for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++) {
		assert_int_equal(mdm_pcap_next(r, &fr), 1);
		assert_int_equal(fr.ts_ns, rec[i].ts);
		assert_int_equal(fr.caplen, rec[i].caplen);
		assert_int_equal(fr.origlen, rec[i].origlen);
		assert_memory_equal(fr.data, frame + rec[i].off, rec[i].caplen);
	}
	assert_int_equal(mdm_pcap_next(r, &fr), 0);
	mdm_pcap_reader_close(r);
	free(frame);
}

/* ---- the UDP parser on frames that are not (complete) IPv4/UDP ---- */

static void test_parse_reasons(void **state)
{
	uint8_t base[128];
	size_t base_len = make_frame(base, 10); /* 14 + 20 + 8 + 10 = 52 bytes */
	enum { MAXF = 160 };
	static const struct {
		const char *name;
		int reason;
	} cases[] = {
		{ "udp", MDM_PCAP_UDP_OK },
		{ "arp", MDM_PCAP_UDP_NOT_IPV4 },
		{ "ipv6", MDM_PCAP_UDP_NOT_IPV4 },
		{ "tcp", MDM_PCAP_UDP_NOT_UDP },
		{ "first fragment (MF)", MDM_PCAP_UDP_FRAGMENT },
		{ "later fragment", MDM_PCAP_UDP_FRAGMENT },
		{ "short ethernet", MDM_PCAP_UDP_TRUNC_L2 },
		{ "cut inside ip header", MDM_PCAP_UDP_TRUNC_IP },
		{ "cut by snaplen", MDM_PCAP_UDP_TRUNC_IP },
		{ "ihl 4", MDM_PCAP_UDP_BAD_IP },
		{ "version 5", MDM_PCAP_UDP_BAD_IP },
		{ "udp length > ip payload", MDM_PCAP_UDP_TRUNC_UDP },
		{ "udp length 7", MDM_PCAP_UDP_BAD_UDP },
		{ "ip total too small for udp", MDM_PCAP_UDP_TRUNC_UDP },
		{ "three vlan tags", MDM_PCAP_UDP_NOT_IPV4 },
		{ "cut inside vlan tag", MDM_PCAP_UDP_TRUNC_L2 },
		{ "unknown linktype", MDM_PCAP_UDP_LINKTYPE },
		{ "ip options (ihl 6) + padding", MDM_PCAP_UDP_OK },
		{ "qinq", MDM_PCAP_UDP_OK },
		{ "linux sll", MDM_PCAP_UDP_OK },
		{ "raw ipv4", MDM_PCAP_UDP_OK },
		{ "raw ipv6", MDM_PCAP_UDP_NOT_IPV4 },
	};
	uint64_t counts[MDM_PCAP_UDP_NREASONS] = { 0 };
	const size_t n_cases = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < n_cases; i++) {
		uint8_t *f = malloc(MAXF); /* exact-size copy below: ASan sees overreads */
		size_t n = base_len;
		uint16_t linktype = MDM_PCAP_LINKTYPE_ETHERNET;
		struct mdm_pcap_frame fr = { 0 };
		struct mdm_pcap_udp u = { 0 };
		int rc;

		assert_non_null(f);
		memcpy(f, base, base_len);
		switch (i) {
		case 1: f[12] = 0x08; f[13] = 0x06; break;
		case 2: f[12] = 0x86; f[13] = 0xdd; break;
		case 3: f[14 + 9] = 6; break;
		case 4: f[14 + 6] = 0x20; break;
		case 5: f[14 + 6] = 0x00; f[14 + 7] = 0xb9; break;
		case 6: n = 13; break;
		case 7: n = 14 + 19; break;
		case 8: n = base_len - 1; break;
		case 9: f[14] = 0x44; break;
		case 10: f[14] = 0x55; break;
		case 11: f[14 + 20 + 5] = 19; break;
		case 12: f[14 + 20 + 5] = 7; break;
		case 13: f[14 + 3] = 27; break;
		case 14:
			memmove(f + 24, f + 12, base_len - 12);
			memcpy(f + 12, "\x88\xa8\x00\x01\x81\x00\x00\x02\x81\x00\x00\x03", 12);
			n = base_len + 12;
			break;
		case 15: memcpy(f + 12, "\x81\x00\x00", 3); n = 15; break;
		case 16: linktype = 147; break;
		case 17:
			/* one 4-byte option (NOP x4) and Ethernet padding after the datagram */
			memmove(f + 38, f + 34, base_len - 34);
			memcpy(f + 34, "\x01\x01\x01\x01", 4);
			f[14] = 0x46;
			f[14 + 3] = 20 + 4 + 8 + 10;
			f[14 + 10] = f[14 + 11] = 0;
			n = base_len + 4 + 6;
			memset(f + base_len + 4, 0xee, 6);
			break;
		case 18:
			memmove(f + 20, f + 12, base_len - 12);
			memcpy(f + 12, "\x88\xa8\x00\x07\x81\x00\x0f\xff", 8);
			n = base_len + 8;
			break;
		case 19:
			/* SLL: 16-byte pseudo header, protocol at 14 */
			memmove(f + 16, f + 14, base_len - 14);
			memset(f, 0, 14);
			f[14] = 0x08;
			f[15] = 0x00;
			linktype = MDM_PCAP_LINKTYPE_LINUX_SLL;
			n = base_len + 2;
			break;
		case 20:
			memmove(f, f + 14, base_len - 14);
			n = base_len - 14;
			linktype = MDM_PCAP_LINKTYPE_RAW;
			break;
		case 21:
			memmove(f, f + 14, base_len - 14);
			f[0] = 0x60;
			n = base_len - 14;
			linktype = MDM_PCAP_LINKTYPE_RAW;
			break;
		default: break;
		}
		f = realloc(f, n);
		fr.data = f;
		fr.caplen = (uint32_t)n;
		fr.origlen = (uint32_t)n;
		fr.linktype = linktype;
		rc = mdm_pcap_parse_udp(&fr, &u);
		if (rc != cases[i].reason)
			fail_msg("case '%s': got %s, want %s", cases[i].name, mdm_pcap_udp_reason_str(rc),
				 mdm_pcap_udp_reason_str(cases[i].reason));
		counts[rc]++;
		if (rc == MDM_PCAP_UDP_OK) {
			assert_int_equal(u.payload_len, 10);
			assert_int_equal(u.src_ip, SRC);
			assert_int_equal(u.dst_ip, GROUP);
			assert_int_equal(u.dst_port, 26477);
			assert_int_equal(u.payload[0], 9);
			assert_int_equal(u.n_vlans, i == 18 ? 2 : 0);
			assert_int_equal(u.vlan_id, i == 18 ? 0xfff : 0);
		}
		free(f);
	}
	assert_int_equal(counts[MDM_PCAP_UDP_OK], 5);
	assert_int_equal(counts[MDM_PCAP_UDP_NOT_IPV4], 4);
	assert_int_equal(counts[MDM_PCAP_UDP_FRAGMENT], 2);
	assert_int_equal(counts[MDM_PCAP_UDP_TRUNC_IP], 2);
	assert_string_equal(mdm_pcap_udp_reason_str(MDM_PCAP_UDP_FRAGMENT), "fragment");
	assert_string_equal(mdm_pcap_udp_reason_str(99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_ns_file_and_mem),
		cmocka_unit_test(test_roundtrip_us),
		cmocka_unit_test(test_roundtrip_vlan),
		cmocka_unit_test(test_inet_csum),
		cmocka_unit_test(test_pcapng_both_orders),
		cmocka_unit_test(test_pcapng_linktypes),
		cmocka_unit_test(test_classic_big_endian),
		cmocka_unit_test(test_corrupt_files),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_file_reader_large_record),
		cmocka_unit_test(test_parse_reasons),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
