/* NASDAQ BinaryFILE in `mdmesh-loadgen`: a synthesized session written as a
 * BinaryFILE (`synth --itch-out`, so tests can make one), a BinaryFILE packed
 * into a pcap (`synth --from-itch`), and the helpers `send --from-itch` uses. */
#ifndef LOADGEN_ITCH_H
#define LOADGEN_ITCH_H

#include <stdbool.h>
#include <stdint.h>

#include "synth.h"

/* A live or pcap replay packs messages at most this far apart (ITCH time) into
 * one packet by default: an exchange sends what it has, it does not hold a
 * message back for a later one. */
#define LOADGEN_ITCH_SPAN_NS_DEFAULT 1000000ull /* 1 ms */
#define LOADGEN_ITCH_DATE_DEFAULT 20260105     /* the synthesizer's date (MDM_SYNTH_EPOCH_NS) */

/* Whether a path names a gzip'd file (ends in ".gz"). */
bool loadgen_itch_gz_name(const char *path);

/* Write the session `p` describes as a BinaryFILE at `path` (gzip'd when its
 * name ends in .gz): the messages of the data packets handed out, once each,
 * in sequence order (a packet lost on every line is missing from it, as from
 * the pcap). *records = records written. 0 or -errno with detail. */
int loadgen_itch_write_synth(const struct mdm_synth_params *p, const char *path, uint64_t *records);

/* The trading date of a NASDAQ file name ("01302019.NASDAQ_ITCH50.gz" ->
 * 20190130), or 0 when the base name does not start with MMDDYYYY. */
uint32_t loadgen_itch_date_of(const char *path);

/* "HH:MM:SS" -> ns since midnight. 0, or -1 after a one-line message. */
int loadgen_itch_parse_hms(const char *prog, const char *opt, const char *s, uint64_t *out_ns);

struct loadgen_itch_pcap_stats {
	uint64_t records, packets, max_packet;
	bool truncated;
};

/* BinaryFILE `in` -> pcap `out`: packets of at most MDM_SYNTH_PAYLOAD_MAX
 * bytes and span_ns of ITCH time, session p->session, from p->src_ip:port to
 * p->dst_ip:port, each stamped with the trading date `date` (YYYYMMDD)
 * midnight US/Eastern + its last message's ITCH timestamp. A truncated last
 * record is reported on stderr. 0 or -errno with detail. */
int loadgen_itch_to_pcap(const char *in, const struct mdm_synth_params *p, uint32_t date, uint64_t span_ns,
			 const char *out, struct loadgen_itch_pcap_stats *st);

#endif
