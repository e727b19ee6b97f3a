/* BinaryFILE <-> the loadgen's sessions and pcaps. */
#include "loadgen_itch.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdm_err.h"
#include "mdm_et.h"
#include "mdm_itchfile.h"
#include "mdm_itchsrc.h"
#include "mdm_pcap.h"

bool loadgen_itch_gz_name(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

/* Write the message blocks of one MoldUDP64 data packet whose first sequence
 * number is seq, skipping those already written (*next is the next one due). */
static int write_blocks(struct mdm_itchfile_writer *w, const uint8_t *p, uint32_t len, uint64_t seq,
			uint64_t *next, uint64_t *records)
{
	uint32_t off = 20, count = (uint32_t)p[18] << 8 | p[19];

	for (uint32_t i = 0; i < count && off + 2 <= len; i++, seq++) {
		uint32_t n = (uint32_t)p[off] << 8 | p[off + 1];
		int rc;

		if (off + 2 + n > len)
			break;
		if (seq >= *next && n > 0) {
			if ((rc = mdm_itchfile_write(w, p + off + 2, n)) != 0)
				return rc;
			*next = seq + 1;
			(*records)++;
		}
		off += 2 + n;
	}
	return 0;
}

int loadgen_itch_write_synth(const struct mdm_synth_params *p, const char *path, uint64_t *records)
{
	struct mdm_itchfile_writer *w = NULL;
	struct mdm_synth *s = NULL;
	struct mdm_synth_packet pkt;
	struct mdm_synth_params q = *p;
	uint64_t next = 0;
	int rc, rc2;

	*records = 0;
	q.truth_path = NULL; /* the pcap run writes it */
	rc = mdm_synth_create(&s, &q);
	if (rc == 0)
		rc = mdm_itchfile_writer_open(&w, path, loadgen_itch_gz_name(path));
	while (rc == 0 && (rc = mdm_synth_next(s, &pkt)) == 1) {
		rc = 0;
		if (pkt.kind == MDM_SYNTH_PKT_DATA && !pkt.frame && pkt.len >= 20)
			rc = write_blocks(w, pkt.payload, pkt.len, pkt.seq, &next, records);
	}
	rc2 = mdm_itchfile_writer_close(w);
	mdm_synth_destroy(s);
	return rc ? rc : rc2;
}

uint32_t loadgen_itch_date_of(const char *path)
{
	const char *b = strrchr(path, '/');
	uint32_t mm, dd, yyyy, date;

	b = b ? b + 1 : path;
	for (int i = 0; i < 8; i++)
		if (!isdigit((unsigned char)b[i]))
			return 0;
	if (isdigit((unsigned char)b[8]))
		return 0;
	mm = (uint32_t)(b[0] - '0') * 10 + (uint32_t)(b[1] - '0');
	dd = (uint32_t)(b[2] - '0') * 10 + (uint32_t)(b[3] - '0');
	yyyy = (uint32_t)strtoul((char[5]){ b[4], b[5], b[6], b[7], 0 }, NULL, 10);
	date = yyyy * 10000 + mm * 100 + dd;
	return mdm_et_date_valid(date) ? date : 0;
}

int loadgen_itch_parse_hms(const char *prog, const char *opt, const char *s, uint64_t *out_ns)
{
	unsigned h, m, sec;
	char tail;

	if (sscanf(s, "%2u:%2u:%2u%c", &h, &m, &sec, &tail) != 3 || h > 23 || m > 59 || sec > 59) {
		fprintf(stderr, "%s: --%s: '%s' is not a time HH:MM:SS\n", prog, opt, s);
		return -1;
	}
	*out_ns = ((uint64_t)h * 3600 + m * 60 + sec) * 1000000000ull;
	return 0;
}

int loadgen_itch_to_pcap(const char *in, const struct mdm_synth_params *p, uint32_t date, uint64_t span_ns,
			 const char *out, struct loadgen_itch_pcap_stats *st)
{
	struct mdm_itchsrc_params sp = { .path = in, .session = p->session, .max_payload = MDM_SYNTH_PAYLOAD_MAX,
					 .max_span_ns = span_ns };
	struct mdm_itchsrc *src = NULL;
	struct mdm_itchsrc_packet pkt;
	struct mdm_pcap_writer *w = NULL;
	uint64_t midnight = 0;
	int rc, rc2;

	memset(st, 0, sizeof(*st));
	rc = mdm_et_midnight_ns(date, &midnight);
	if (rc)
		return mdm_err_set(rc, "date %u is not a valid date", date);
	rc = mdm_itchsrc_open(&src, &sp);
	if (rc == 0)
		rc = mdm_pcap_writer_open(&w, out, NULL);
	while (rc == 0 && (rc = mdm_itchsrc_next(src, &pkt)) == 1) {
		rc = mdm_pcap_write_udp(w, midnight + pkt.last_ts_ns, p->src_ip, p->dst_ip, p->src_port, p->dst_port,
					pkt.payload, pkt.len);
		st->packets++;
		if (pkt.len > st->max_packet)
			st->max_packet = pkt.len;
	}
	rc2 = mdm_pcap_writer_close(w);
	if (src) {
		const struct mdm_itchfile_stats *fs = mdm_itchfile_stats(mdm_itchsrc_file(src));
		char line[512];

		st->records = fs->records;
		st->truncated = fs->truncated;
		if (fs->truncated)
			fprintf(stderr, "mdmesh-loadgen: %s\n",
				mdm_itchfile_truncated_str(mdm_itchsrc_file(src), line, sizeof(line)));
	}
	mdm_itchsrc_close(src);
	return rc ? rc : rc2;
}
