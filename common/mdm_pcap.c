/* Capture file I/O over libpcap. The reader adds what our callers need on top
 * of pcap_next_ex(): nanosecond timestamps whatever the file's resolution,
 * LINKTYPE_* values, errors that name the file and the frame and stay put.
 * What libpcap refuses is refused here with its reason: a pcapng file whose
 * interfaces differ in link type, or whose sections differ in byte order.
 * The writer builds the Ethernet/IPv4/UDP headers (the frame parser that reads
 * them back is mdm_frame.c) and lets pcap_dump() write the records; write
 * errors are taken from the stream, which pcap_dump() does not check.
 *
 * Speed: `mdmesh feed bench` (before its timed passes) and `mdmesh-loadgen
 * send --pcap` read through here. Reading and parsing every frame of
 * `mdmesh-loadgen synth --messages 1000000 --symbols 5000 --seed 3` (248,547
 * frames, 50 MB, page cache) took 8-13 ms of CPU with the hand-written reader
 * this replaced and 14-21 ms with libpcap (about 80 ns a frame: two freads
 * and a copy each). Sending the same capture with `loadgen send --pcap` costs
 * 13-18 us a packet, so the reader is not what limits either command. */
#include "mdm_pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_mem.h"

/* stdio buffer of a file reader: with the default 4 KiB (a read(2) every
 * twenty frames) reading took 1.4x the CPU. The stream is the reader's alone,
 * so stdio's per-call locking is turned off too (15% of the read time). */
#define READ_BUF (256u << 10)

struct mdm_pcap_reader {
	pcap_t *p;
	char *stdio_buf;   /* NULL for memory */
	uint16_t linktype; /* MDM_PCAP_LINKTYPE_* of every frame: libpcap allows one per file */
	uint64_t frames;
	int err;           /* sticky: 0 or the error returned again by every later call */
	char why[PCAP_ERRBUF_SIZE];
	char name[];       /* path or "<memory>", prefix of error details */
};

/* Takes `f` (closed on failure). */
static int reader_open(struct mdm_pcap_reader **out, const char *name, FILE *f, bool file)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	struct mdm_pcap_reader *r = mdm_calloc(1, sizeof(*r) + strlen(name) + 1);
	int dlt;

	if (r && file && (r->stdio_buf = mdm_malloc(READ_BUF)))
		setvbuf(f, r->stdio_buf, _IOFBF, READ_BUF);
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	if (!r || (file && !r->stdio_buf)) {
		fclose(f);
		mdm_free(r);
		return -ENOMEM;
	}
	strcpy(r->name, name);
	r->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!r->p) {
		fclose(f);
		mdm_free(r->stdio_buf);
		mdm_free(r);
		return mdm_err_set(-EINVAL, "%s: %s", name, eb);
	}
	/* libpcap maps LINKTYPE_RAW (101) to the platform's DLT_RAW; the frame
	 * parser speaks LINKTYPE_* values, which are the DLTs for the others. */
	dlt = pcap_datalink(r->p);
	r->linktype = (uint16_t)(dlt == DLT_RAW ? MDM_PCAP_LINKTYPE_RAW : dlt);
	*out = r;
	return 0;
}

int mdm_pcap_reader_open(struct mdm_pcap_reader **out, const char *path)
{
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		int e = errno;

		return mdm_err_set(-e, "%s: %s", path, strerror(e));
	}
	return reader_open(out, path, f, true);
}

int mdm_pcap_reader_open_mem(struct mdm_pcap_reader **out, const void *buf, size_t len)
{
	FILE *f;

	*out = NULL;
	/* fmemopen allocates a buffer of its own for NULL, and refuses size 0 */
	if (!buf || !len)
		return mdm_err_set(-EINVAL, "<memory>: empty capture");
	f = fmemopen((void *)buf, len, "rb"); /* read-only: never written through */
	if (!f)
		return errno == ENOMEM ? -ENOMEM : mdm_err_set(-errno, "<memory>: %s", strerror(errno));
	return reader_open(out, "<memory>", f, false);
}

int mdm_pcap_next(struct mdm_pcap_reader *r, struct mdm_pcap_frame *fr)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;

	if (!r->err) {
		rc = pcap_next_ex(r->p, &h, &d);
		if (rc == 1) {
			/* tv_usec holds nanoseconds: the file was opened with NANO precision */
			fr->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
			fr->data = d;
			fr->caplen = h->caplen;
			fr->origlen = h->len < h->caplen ? h->caplen : h->len;
			fr->linktype = r->linktype;
			r->frames++;
			return 1;
		}
		if (rc == PCAP_ERROR_BREAK) /* end of file */
			return 0;
		r->err = -EBADMSG;
		snprintf(r->why, sizeof(r->why), "%s", pcap_geterr(r->p));
	}
	return mdm_err_set(r->err, "%s: %s (frame %llu)", r->name, r->why, (unsigned long long)r->frames + 1);
}

void mdm_pcap_reader_close(struct mdm_pcap_reader *r)
{
	if (!r)
		return;
	pcap_close(r->p); /* closes the stream too */
	mdm_free(r->stdio_buf);
	mdm_free(r);
}

/* ---- writer ---- */

#define ETH_HDR 14
#define VLAN_TAG 4
#define IP_HDR 20
#define UDP_HDR 8
#define UDP_MAX_PAYLOAD 65507 /* 65535 - IPv4 header - UDP header */
#define FRAME_MAX (ETH_HDR + VLAN_TAG + IP_HDR + UDP_HDR + UDP_MAX_PAYLOAD)
#define STDIO_BUF (1u << 20)

struct mdm_pcap_writer {
	pcap_t *dead;     /* only carries link type, snaplen and resolution */
	pcap_dumper_t *d; /* the stream */
	char *stdio_buf;
	uint8_t *frame;   /* FRAME_MAX bytes: one frame is assembled here */
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

static int w_error(struct mdm_pcap_writer *w)
{
	int e = errno ? -errno : -EIO;

	if (!w->err)
		w->err = mdm_err_set(e, "%s: %s", w->path, mdm_strerror(e));
	return w->err;
}

int mdm_pcap_writer_open(struct mdm_pcap_writer **out, const char *path,
			 const struct mdm_pcap_writer_params *params)
{
	static const struct mdm_pcap_writer_params defaults = { 0 };
	const struct mdm_pcap_writer_params *pp = params ? params : &defaults;
	struct mdm_pcap_writer *w;
	FILE *f;
	int rc;

	*out = NULL;
	if (pp->vlan && pp->vlan_id > 4095)
		return mdm_err_set(-EINVAL, "%s: VLAN id %u out of range 0..4095", path, pp->vlan_id);
	if (pp->snaplen > MDM_PCAP_MAX_SNAPLEN)
		return mdm_err_set(-EINVAL, "%s: snaplen %u above libpcap's %u", path, pp->snaplen,
				   MDM_PCAP_MAX_SNAPLEN);
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
	w->stdio_buf = mdm_malloc(STDIO_BUF);
	w->dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)w->snaplen,
						       w->ts_us ? PCAP_TSTAMP_PRECISION_MICRO
								: PCAP_TSTAMP_PRECISION_NANO);
	if (!w->path || !w->frame || !w->stdio_buf || !w->dead) {
		rc = -ENOMEM;
		goto err;
	}
	f = fopen(path, "wb");
	if (!f) {
		int e = errno;

		rc = mdm_err_set(-e, "%s: %s", path, strerror(e));
		goto err;
	}
	setvbuf(f, w->stdio_buf, _IOFBF, STDIO_BUF);
	/* Writes the header. Ethernet is always supported, so the only failure
	 * is that write, after which libpcap has closed `f` itself. */
	w->d = pcap_dump_fopen(w->dead, f);
	if (!w->d) {
		rc = mdm_err_set(-EIO, "%s: %s", path, pcap_geterr(w->dead));
		goto err;
	}
	*out = w;
	return 0;
err:
	mdm_pcap_writer_close(w);
	return rc;
}

int mdm_pcap_write_frame(struct mdm_pcap_writer *w, uint64_t ts_ns, const void *frame, size_t len)
{
	struct pcap_pkthdr h;

	if (w->err)
		return w->err;
	if (len > UINT32_MAX)
		return mdm_err_set(-EMSGSIZE, "%s: frame of %zu bytes is too large", w->path, len);
	h.ts.tv_sec = (time_t)(ts_ns / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(w->ts_us ? ts_ns % 1000000000u / 1000u : ts_ns % 1000000000u);
	h.caplen = len < w->snaplen ? (uint32_t)len : w->snaplen;
	h.len = (uint32_t)len;
	errno = 0;
	pcap_dump((u_char *)w->d, &h, frame);
	if (ferror(pcap_dump_file(w->d)))
		return w_error(w);
	w->count++;
	return 0;
}

static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
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
	if (w->d) {
		errno = 0;
		/* pcap_dump_close() ignores fclose's result: flush first to see it */
		if (pcap_dump_flush(w->d) != 0 || ferror(pcap_dump_file(w->d)))
			w_error(w);
		pcap_dump_close(w->d);
	}
	rc = w->err;
	if (w->dead)
		pcap_close(w->dead);
	mdm_free(w->stdio_buf);
	mdm_free(w->frame);
	mdm_free(w->path);
	mdm_free(w);
	return rc;
}
