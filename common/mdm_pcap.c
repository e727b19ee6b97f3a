/* Capture file I/O without libpcap. The reader is one record parser over a
 * "source" that is either the caller's memory (frames are views into it) or
 * a stdio stream behind a window buffer that holds at least one record. The
 * writer emits classic pcap with hand-built Ethernet/IPv4/UDP headers (the
 * frame parser that reads them back is mdm_frame.c). */
#include "mdm_pcap.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "mdm_endian.h"
#include "mdm_err.h"
#include "mdm_mem.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16

#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_IDB 1u
#define PCAPNG_OPB 2u /* obsolete Packet Block: still written by old tools */
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define PCAPNG_BOM 0x1a2b3c4du

#define OPT_ENDOFOPT 0
#define OPT_IF_TSRESOL 9
#define OPT_IF_TSOFFSET 14

#define WIN_MIN (256u << 10) /* file-mode window: amortises fread calls */
#define NAME_MAX_LEN 200

/* One pcapng interface (IDB) of the current section. */
struct pcapng_if {
	uint16_t linktype;
	uint32_t snaplen;
	uint8_t tsresol;     /* raw if_tsresol: bit 7 = power of 2, else power of 10 */
	int64_t tsoffset_s;  /* if_tsoffset, seconds added to every timestamp */
};

struct mdm_pcap_reader {
	char name[NAME_MAX_LEN + 1]; /* path, or "<memory>": prefix of error details */
	/* source: memory ... */
	const uint8_t *mem;
	size_t mem_len;
	/* ... or file, read through a window holding file bytes [win_off, win_off + win_len) */
	FILE *f;
	uint8_t *win;
	size_t win_cap, win_len;
	uint64_t win_off;
	bool f_eof;

	uint64_t pos; /* file offset of the next record/block */
	enum mdm_pcap_format format;
	bool be;      /* current file/section is big-endian */
	/* classic pcap */
	uint16_t linktype;
	bool ts_ns;
	/* pcapng: interfaces of the current section */
	struct pcapng_if *ifs;
	uint32_t n_ifs, cap_ifs;
	struct mdm_pcap_reader_stats st;
};

static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[1] << 8 | p[0]); }
static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint16_t rd16(const struct mdm_pcap_reader *r, const uint8_t *p) { return r->be ? mdm_be16(p) : le16(p); }
static inline uint32_t rd32(const struct mdm_pcap_reader *r, const uint8_t *p) { return r->be ? mdm_be32(p) : le32(p); }

/* Make file bytes [off, off + n) addressable. Returns how many of them exist
 * (< n only at end of input), *p pointing at the first, or a negative errno.
 * Reads only move forward, so the window keeps just the tail it still needs. */
static ssize_t src_get(struct mdm_pcap_reader *r, uint64_t off, size_t n, const uint8_t **p)
{
	size_t have;

	if (r->mem) {
		if (off >= r->mem_len) {
			*p = r->mem + r->mem_len;
			return 0;
		}
		*p = r->mem + off;
		return (ssize_t)(r->mem_len - off < n ? r->mem_len - off : n);
	}
	if (off < r->win_off || off > r->win_off + r->win_len) {
		/* Only after a rewind: restart the window at `off`. */
		if (fseeko(r->f, (off_t)off, SEEK_SET) != 0)
			return -errno;
		r->win_off = off;
		r->win_len = 0;
		r->f_eof = false;
	}
	have = (size_t)(r->win_off + r->win_len - off);
	if (have < n && !r->f_eof) {
		size_t keep_from = (size_t)(off - r->win_off);

		memmove(r->win, r->win + keep_from, have);
		r->win_off = off;
		r->win_len = have;
		if (n > r->win_cap) {
			size_t cap = r->win_cap;
			uint8_t *nw;

			while (cap < n)
				cap *= 2;
			nw = mdm_realloc(r->win, cap);
			if (!nw)
				return -ENOMEM;
			r->win = nw;
			r->win_cap = cap;
		}
		while (r->win_len < n && !r->f_eof) {
			size_t got = fread(r->win + r->win_len, 1, r->win_cap - r->win_len, r->f);

			r->win_len += got;
			if (got == 0) {
				if (ferror(r->f))
					return -EIO;
				r->f_eof = true;
			}
		}
		have = r->win_len;
	}
	*p = r->win + (off - r->win_off);
	return (ssize_t)(have < n ? have : n);
}

static int corrupt(struct mdm_pcap_reader *r, const char *what, uint64_t off)
{
	return mdm_err_set(-EBADMSG, "%s: %s at offset %llu", r->name, what, (unsigned long long)off);
}

static int io_error(struct mdm_pcap_reader *r, ssize_t rc)
{
	return mdm_err_set((int)rc, "%s: %s", r->name, mdm_strerror((int)rc));
}

/* Reads the file header (classic) or checks that the file starts with an SHB
 * (pcapng; the SHB itself is parsed by the block loop). */
static int read_header(struct mdm_pcap_reader *r)
{
	const uint8_t *p;
	ssize_t n = src_get(r, 0, PCAP_FILE_HDR, &p);
	uint32_t magic_le;

	if (n < 0)
		return io_error(r, n);
	r->pos = 0;
	r->n_ifs = 0;
	memset(&r->st, 0, sizeof(r->st));
	if (n < 4)
		return mdm_err_set(-EINVAL, "%s: not a pcap or pcapng file (%zd bytes)", r->name, n);
	magic_le = le32(p);
	if (magic_le == PCAPNG_SHB) {
		r->format = MDM_PCAP_FORMAT_PCAPNG;
		return 0;
	}
	if (magic_le == PCAP_MAGIC_US || magic_le == PCAP_MAGIC_NS) {
		r->be = false;
	} else if (mdm_be32(p) == PCAP_MAGIC_US || mdm_be32(p) == PCAP_MAGIC_NS) {
		r->be = true;
	} else {
		return mdm_err_set(-EINVAL, "%s: not a pcap or pcapng file (magic 0x%08x)", r->name, mdm_be32(p));
	}
	r->ts_ns = rd32(r, p) == PCAP_MAGIC_NS;
	r->format = r->ts_ns ? MDM_PCAP_FORMAT_PCAP_NS : MDM_PCAP_FORMAT_PCAP_US;
	if (n < PCAP_FILE_HDR)
		return corrupt(r, "truncated file header", 0);
	/* The upper bits of the link-type word carry FCS information. */
	r->linktype = (uint16_t)(rd32(r, p + 20) & 0xffff);
	r->pos = PCAP_FILE_HDR;
	r->st.sections = 1;
	return 0;
}

static int reader_alloc(struct mdm_pcap_reader **out, const char *name)
{
	struct mdm_pcap_reader *r = mdm_calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	snprintf(r->name, sizeof(r->name), "%s", name);
	*out = r;
	return 0;
}

int mdm_pcap_reader_open(struct mdm_pcap_reader **out, const char *path)
{
	struct mdm_pcap_reader *r;
	int rc;

	*out = NULL;
	rc = reader_alloc(&r, path);
	if (rc)
		return rc;
	r->f = fopen(path, "rb");
	if (!r->f) {
		int e = errno;

		rc = mdm_err_set(-e, "%s: %s", path, strerror(e));
		goto err;
	}
	r->win_cap = WIN_MIN;
	r->win = mdm_malloc(r->win_cap);
	if (!r->win) {
		rc = -ENOMEM;
		goto err;
	}
	rc = read_header(r);
	if (rc)
		goto err;
	*out = r;
	return 0;
err:
	mdm_pcap_reader_close(r);
	return rc;
}

int mdm_pcap_reader_open_mem(struct mdm_pcap_reader **out, const void *buf, size_t len)
{
	/* A non-NULL pointer marks memory mode even for an empty buffer. */
	static const uint8_t empty[1];
	struct mdm_pcap_reader *r;
	int rc;

	*out = NULL;
	rc = reader_alloc(&r, "<memory>");
	if (rc)
		return rc;
	r->mem = buf && len ? buf : empty;
	r->mem_len = buf ? len : 0;
	rc = read_header(r);
	if (rc) {
		mdm_pcap_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int mdm_pcap_reader_rewind(struct mdm_pcap_reader *r)
{
	return read_header(r);
}

enum mdm_pcap_format mdm_pcap_reader_format(const struct mdm_pcap_reader *r)
{
	return r->format;
}

void mdm_pcap_reader_stats(const struct mdm_pcap_reader *r, struct mdm_pcap_reader_stats *out)
{
	*out = r->st;
}

void mdm_pcap_reader_close(struct mdm_pcap_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	mdm_free(r->win);
	mdm_free(r->ifs);
	mdm_free(r);
}

static int next_classic(struct mdm_pcap_reader *r, struct mdm_pcap_frame *fr)
{
	const uint8_t *h, *d;
	ssize_t n = src_get(r, r->pos, PCAP_REC_HDR, &h);
	uint32_t sec, frac, caplen, origlen;

	if (n < 0)
		return io_error(r, n);
	if (n == 0)
		return 0;
	if (n < PCAP_REC_HDR)
		return corrupt(r, "truncated record header", r->pos);
	sec = rd32(r, h);
	frac = rd32(r, h + 4);
	caplen = rd32(r, h + 8);
	origlen = rd32(r, h + 12);
	if (caplen > MDM_PCAP_MAX_RECORD)
		return corrupt(r, "record length too large", r->pos);
	/* src_get may move the window: fetch the data only after the header is parsed. */
	n = src_get(r, r->pos + PCAP_REC_HDR, caplen, &d);
	if (n < 0)
		return io_error(r, n);
	if ((size_t)n < caplen)
		return corrupt(r, "truncated record", r->pos);
	fr->ts_ns = (uint64_t)sec * 1000000000u + (r->ts_ns ? frac : (uint64_t)frac * 1000u);
	fr->data = d;
	fr->caplen = caplen;
	fr->origlen = origlen < caplen ? caplen : origlen;
	fr->linktype = r->linktype;
	fr->ifindex = 0;
	fr->offset = r->pos;
	r->pos += PCAP_REC_HDR + caplen;
	return 1;
}

/* pcapng timestamp units -> ns since the epoch, per the interface's if_tsresol. */
static uint64_t ng_ts_ns(const struct pcapng_if *ifc, uint64_t ts)
{
	static const uint64_t pow10[] = {
		1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
		10000000000u, 100000000000u, 1000000000000u, 10000000000000u, 100000000000000u,
		1000000000000000u, 10000000000000000u, 100000000000000000u, 1000000000000000000u,
		10000000000000000000u,
	};
	unsigned e = ifc->tsresol & 0x7f;
	uint64_t ns;

	if (ifc->tsresol & 0x80)
		ns = (uint64_t)(((unsigned __int128)ts * 1000000000u) >> e);
	else if (e <= 9)
		ns = ts * pow10[9 - e];
	else
		ns = ts / pow10[e - 9];
	return ns + (uint64_t)ifc->tsoffset_s * 1000000000u;
}

static int ng_shb(struct mdm_pcap_reader *r, const uint8_t *b, uint32_t blen)
{
	if (blen < 28)
		return corrupt(r, "section header block too short", r->pos);
	if (rd16(r, b + 12) != 1)
		return corrupt(r, "unsupported pcapng major version", r->pos);
	r->n_ifs = 0; /* interface ids restart in every section */
	r->st.sections++;
	return 0;
}

static int ng_idb(struct mdm_pcap_reader *r, const uint8_t *b, uint32_t blen)
{
	struct pcapng_if ifc = { .tsresol = 6 };
	uint32_t o;

	if (blen < 20)
		return corrupt(r, "interface description block too short", r->pos);
	ifc.linktype = rd16(r, b + 8);
	ifc.snaplen = rd32(r, b + 12);
	for (o = 16; o + 4 <= blen - 4;) {
		uint16_t code = rd16(r, b + o), len = rd16(r, b + o + 2);
		uint32_t padded = (len + 3u) & ~3u;

		if (code == OPT_ENDOFOPT)
			break;
		if (o + 4 + padded > blen - 4)
			return corrupt(r, "interface option overruns its block", r->pos);
		if (code == OPT_IF_TSRESOL && len == 1) {
			ifc.tsresol = b[o + 4];
			if ((ifc.tsresol & 0x80) ? (ifc.tsresol & 0x7f) > 63 : ifc.tsresol > 19)
				return corrupt(r, "unsupported if_tsresol", r->pos);
		} else if (code == OPT_IF_TSOFFSET && len == 8) {
			uint64_t v = r->be ? (uint64_t)mdm_be32(b + o + 4) << 32 | mdm_be32(b + o + 8)
					   : (uint64_t)le32(b + o + 8) << 32 | le32(b + o + 4);
			ifc.tsoffset_s = (int64_t)v;
		}
		o += 4 + padded;
	}
	if (r->n_ifs == r->cap_ifs) {
		uint32_t cap = r->cap_ifs ? r->cap_ifs * 2 : 4;
		struct pcapng_if *n = mdm_realloc(r->ifs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->ifs = n;
		r->cap_ifs = cap;
	}
	r->ifs[r->n_ifs++] = ifc;
	return 0;
}

static int next_ng(struct mdm_pcap_reader *r, struct mdm_pcap_frame *fr)
{
	for (;;) {
		const uint8_t *b;
		ssize_t n = src_get(r, r->pos, 12, &b);
		uint32_t type, blen, ifid, caplen, origlen;
		const struct pcapng_if *ifc;
		uint64_t ts;
		int rc;

		if (n < 0)
			return io_error(r, n);
		if (n == 0)
			return 0;
		if (n < 8)
			return corrupt(r, "truncated block header", r->pos);
		type = le32(b); /* the SHB type is a byte-order palindrome */
		if (type == PCAPNG_SHB) {
			if (n < 12)
				return corrupt(r, "truncated section header block", r->pos);
			if (le32(b + 8) == PCAPNG_BOM)
				r->be = false;
			else if (mdm_be32(b + 8) == PCAPNG_BOM)
				r->be = true;
			else
				return corrupt(r, "bad byte-order magic", r->pos);
		} else if (r->st.sections == 0) {
			return corrupt(r, "block before the first section header", r->pos);
		}
		type = rd32(r, b);
		blen = rd32(r, b + 4);
		if (blen < 12 || blen % 4 != 0 || blen > MDM_PCAP_MAX_RECORD)
			return corrupt(r, "bad block length", r->pos);
		n = src_get(r, r->pos, blen, &b);
		if (n < 0)
			return io_error(r, n);
		if ((size_t)n < blen)
			return corrupt(r, "truncated block", r->pos);
		if (rd32(r, b + blen - 4) != blen)
			return corrupt(r, "block length trailer mismatch", r->pos);

		switch (type) {
		case PCAPNG_SHB:
			rc = ng_shb(r, b, blen);
			if (rc)
				return rc;
			break;
		case PCAPNG_IDB:
			rc = ng_idb(r, b, blen);
			if (rc)
				return rc;
			break;
		case PCAPNG_EPB:
		case PCAPNG_OPB:
			if (blen < 32)
				return corrupt(r, "packet block too short", r->pos);
			ifid = type == PCAPNG_EPB ? rd32(r, b + 8) : rd16(r, b + 8);
			ts = (uint64_t)rd32(r, b + 12) << 32 | rd32(r, b + 16);
			caplen = rd32(r, b + 20);
			origlen = rd32(r, b + 24);
			if (ifid >= r->n_ifs)
				return corrupt(r, "packet for an undeclared interface", r->pos);
			if (caplen > blen - 32)
				return corrupt(r, "captured length overruns its block", r->pos);
			ifc = &r->ifs[ifid];
			fr->ts_ns = ng_ts_ns(ifc, ts);
			fr->data = b + 28;
			fr->caplen = caplen;
			fr->origlen = origlen < caplen ? caplen : origlen;
			fr->linktype = ifc->linktype;
			fr->ifindex = ifid;
			fr->offset = r->pos;
			r->pos += blen;
			return 1;
		case PCAPNG_SPB:
			if (blen < 16)
				return corrupt(r, "simple packet block too short", r->pos);
			if (r->n_ifs == 0)
				return corrupt(r, "simple packet block without an interface", r->pos);
			ifc = &r->ifs[0];
			origlen = rd32(r, b + 8);
			/* The SPB has no captured length: it is the smallest of the
			 * original length, the interface snaplen and the room in the block. */
			caplen = blen - 16;
			if (origlen < caplen)
				caplen = origlen;
			if (ifc->snaplen && ifc->snaplen < caplen)
				caplen = ifc->snaplen;
			fr->ts_ns = 0; /* an SPB carries no timestamp */
			fr->data = b + 12;
			fr->caplen = caplen;
			fr->origlen = origlen < caplen ? caplen : origlen;
			fr->linktype = ifc->linktype;
			fr->ifindex = 0;
			fr->offset = r->pos;
			r->pos += blen;
			return 1;
		default:
			r->st.skipped_blocks++;
			break;
		}
		r->pos += blen;
	}
}

int mdm_pcap_next(struct mdm_pcap_reader *r, struct mdm_pcap_frame *frame)
{
	int rc = r->format == MDM_PCAP_FORMAT_PCAPNG ? next_ng(r, frame) : next_classic(r, frame);

	if (rc == 1) {
		r->st.frames++;
		if (frame->caplen < frame->origlen)
			r->st.cut_frames++;
	}
	return rc;
}

/* ---- writer ---- */

#define ETH_HDR 14
#define VLAN_TAG 4
#define IP_HDR 20
#define UDP_HDR 8
#define UDP_MAX_PAYLOAD 65507 /* 65535 - IPv4 header - UDP header */
#define FRAME_MAX (ETH_HDR + VLAN_TAG + IP_HDR + UDP_HDR + UDP_MAX_PAYLOAD)

struct mdm_pcap_writer {
	FILE *f;
	char *stdio_buf;
	uint8_t *frame; /* FRAME_MAX bytes: one frame is assembled here */
	char *path;
	bool ts_us;
	uint32_t snaplen;
	bool vlan;
	uint16_t vlan_id;
	uint8_t ttl;
	uint16_t ip_id;
	uint64_t count;
	int err; /* first write error, reported again by close */
};

static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static int w_write(struct mdm_pcap_writer *w, const void *p, size_t n)
{
	if (w->err)
		return w->err;
	if (fwrite(p, 1, n, w->f) != n) {
		int e = errno ? -errno : -EIO;

		w->err = mdm_err_set(e, "%s: %s", w->path, mdm_strerror(e));
	}
	return w->err;
}

int mdm_pcap_writer_open(struct mdm_pcap_writer **out, const char *path,
			 const struct mdm_pcap_writer_params *params)
{
	static const struct mdm_pcap_writer_params defaults = { 0 };
	const struct mdm_pcap_writer_params *pp = params ? params : &defaults;
	size_t bufsz = pp->buffer_bytes ? pp->buffer_bytes : (1u << 20);
	struct mdm_pcap_writer *w;
	uint8_t hdr[PCAP_FILE_HDR];
	int rc;

	*out = NULL;
	if (pp->vlan && pp->vlan_id > 4095)
		return mdm_err_set(-EINVAL, "%s: VLAN id %u out of range 0..4095", path, pp->vlan_id);
	w = mdm_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ts_us = pp->ts_us;
	w->snaplen = pp->snaplen ? pp->snaplen : 65535;
	w->vlan = pp->vlan;
	w->vlan_id = pp->vlan_id;
	w->ttl = pp->ttl ? pp->ttl : 32;
	w->path = mdm_strdup(path);
	w->frame = mdm_malloc(FRAME_MAX);
	w->stdio_buf = mdm_malloc(bufsz);
	if (!w->path || !w->frame || !w->stdio_buf) {
		rc = -ENOMEM;
		goto err;
	}
	w->f = fopen(path, "wb");
	if (!w->f) {
		int e = errno;

		rc = mdm_err_set(-e, "%s: %s", path, strerror(e));
		goto err;
	}
	setvbuf(w->f, w->stdio_buf, _IOFBF, bufsz);
	put_le32(hdr, w->ts_us ? PCAP_MAGIC_US : PCAP_MAGIC_NS);
	put_le16(hdr + 4, 2);
	put_le16(hdr + 6, 4);
	put_le32(hdr + 8, 0);  /* thiszone: timestamps are UTC */
	put_le32(hdr + 12, 0); /* sigfigs */
	put_le32(hdr + 16, w->snaplen);
	put_le32(hdr + 20, MDM_PCAP_LINKTYPE_ETHERNET);
	rc = w_write(w, hdr, sizeof(hdr));
	if (rc)
		goto err;
	*out = w;
	return 0;
err:
	mdm_pcap_writer_close(w);
	return rc;
}

int mdm_pcap_write_frame(struct mdm_pcap_writer *w, uint64_t ts_ns, const void *frame, size_t len)
{
	uint8_t rec[PCAP_REC_HDR];
	uint32_t caplen;
	uint64_t sec = ts_ns / 1000000000u, frac = ts_ns % 1000000000u;

	if (len > MDM_PCAP_MAX_RECORD)
		return mdm_err_set(-EMSGSIZE, "%s: frame of %zu bytes is too large", w->path, len);
	caplen = len < w->snaplen ? (uint32_t)len : w->snaplen;
	put_le32(rec, (uint32_t)sec);
	put_le32(rec + 4, (uint32_t)(w->ts_us ? frac / 1000u : frac));
	put_le32(rec + 8, caplen);
	put_le32(rec + 12, (uint32_t)len);
	if (w_write(w, rec, sizeof(rec)) || w_write(w, frame, caplen))
		return w->err;
	w->count++;
	return 0;
}

int mdm_pcap_write_udp(struct mdm_pcap_writer *w, uint64_t ts_ns, uint32_t src, uint32_t dst,
		       uint16_t sport, uint16_t dport, const void *payload, size_t len)
{
	uint8_t *f = w->frame, *ip;
	size_t off = 12;

	if (len > UDP_MAX_PAYLOAD)
		return mdm_err_set(-EMSGSIZE, "%s: UDP payload of %zu bytes exceeds %u", w->path, len,
				   UDP_MAX_PAYLOAD);
	if ((dst >> 28) == 0xe) { /* 224.0.0.0/4: RFC 1112 multicast MAC */
		f[0] = 0x01; f[1] = 0x00; f[2] = 0x5e;
		f[3] = (uint8_t)((dst >> 16) & 0x7f); f[4] = (uint8_t)(dst >> 8); f[5] = (uint8_t)dst;
	} else {
		f[0] = 0x02; f[1] = 0x00;
		put_be32(f + 2, dst);
	}
	f[6] = 0x02; f[7] = 0x00;
	put_be32(f + 8, src);
	if (w->vlan) {
		put_be16(f + off, 0x8100);
		put_be16(f + off + 2, w->vlan_id);
		off += VLAN_TAG;
	}
	put_be16(f + off, 0x0800);
	off += 2;

	ip = f + off;
	ip[0] = 0x45; /* version 4, IHL 5 */
	ip[1] = 0;
	put_be16(ip + 2, (uint16_t)(IP_HDR + UDP_HDR + len));
	put_be16(ip + 4, ++w->ip_id); /* wraps; only fragments need it unique */
	put_be16(ip + 6, 0x4000); /* DF: the writer never fragments */
	ip[8] = w->ttl;
	ip[9] = 17;
	put_be16(ip + 10, 0);
	put_be32(ip + 12, src);
	put_be32(ip + 16, dst);
	put_be16(ip + 10, mdm_pcap_inet_csum(ip, IP_HDR));

	put_be16(ip + IP_HDR, sport);
	put_be16(ip + IP_HDR + 2, dport);
	put_be16(ip + IP_HDR + 4, (uint16_t)(UDP_HDR + len));
	put_be16(ip + IP_HDR + 6, 0); /* no UDP checksum (legal over IPv4) */
	if (len)
		memcpy(ip + IP_HDR + UDP_HDR, payload, len);
	return mdm_pcap_write_frame(w, ts_ns, f, off + IP_HDR + UDP_HDR + len);
}

uint64_t mdm_pcap_writer_count(const struct mdm_pcap_writer *w)
{
	return w->count;
}

int mdm_pcap_writer_close(struct mdm_pcap_writer *w)
{
	int rc;

	if (!w)
		return 0;
	rc = w->err;
	if (w->f) {
		if (fclose(w->f) != 0 && rc == 0) {
			int e = errno;

			rc = mdm_err_set(-e, "%s: %s", w->path, strerror(e));
		}
	}
	mdm_free(w->stdio_buf);
	mdm_free(w->frame);
	mdm_free(w->path);
	mdm_free(w);
	return rc;
}
