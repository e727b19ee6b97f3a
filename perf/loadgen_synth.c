/* `mdmesh-loadgen synth`: command line -> struct mdm_synth_params -> pcap
 * file(s), ground truth, and a one-line summary on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen_cmds.h"
#include "loadgen_itch.h"
#include "loadgen_opt.h"
#include "mdm_buf.h"
#include "mdm_err.h"
#include "mdm_et.h"
#include "mdm_itchsrc.h"
#include "synth.h"

/* Message types in the order of the spec's table, for the summary. */
static const char prog[] = "mdmesh-loadgen synth";
static const char spec_types[] = "SRHYLVWKJhAFECXDUPQBINO";

static void synth_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh-loadgen synth --out FILE.pcap [--itch-out FILE[.gz]] [options]\n"
		"       mdmesh-loadgen synth --from-itch FILE[.gz] --out FILE.pcap [--session NAME]\n"
		"                            [--date YYYYMMDD] [--pack-span S] [--dst/--src ADDR:PORT]\n\n"
		"Writes a deterministic NASDAQ TotalView-ITCH 5.0 session in MoldUDP64 packets\n"
		"(Ethernet/IPv4/UDP, pcap with ns timestamps). The same seed gives the same bytes.\n\n"
		"  -o, --out FILE        pcap to write (required unless --itch-out is given)\n"
		"      --itch-out FILE   also (or only) write the session as a NASDAQ BinaryFILE\n"
		"                        ([u16 length][message]..., gzip'd when FILE ends in .gz):\n"
		"                        the messages of the data packets, once each, in sequence\n"
		"                        order (a packet dropped on every line is missing there too)\n"
		"      --from-itch FILE  instead of synthesizing, pack this BinaryFILE (e.g. a NASDAQ\n"
		"                        day, 01302019.NASDAQ_ITCH50.gz; streamed) into MoldUDP64\n"
		"                        packets as the exchange does: consecutive messages share a\n"
		"                        packet up to 1400 bytes and --pack-span of ITCH time;\n"
		"                        sequence number = record number from 1, session --session\n"
		"                        (default " MDM_ITCHSRC_SESSION_DEFAULT "); pcap time = the date's midnight\n"
		"                        US/Eastern + the packet's last ITCH timestamp\n"
		"      --date YYYYMMDD   --from-itch: trading date (default: from a MMDDYYYY file name,\n"
		"                        else 20260105)\n"
		"      --pack-span S     --from-itch: ITCH time one packet may span (default 1ms;\n"
		"                        0 = fill to the size limit)\n"
		"  -n, --messages N      ITCH messages in the session (default 100000)\n"
		"  -k, --symbols K       symbols, 1..65535 (default 100)\n"
		"  -s, --seed S          random seed (default 1)\n"
		"      --rate R          messages per second of pcap time (default 1000000)\n"
		"      --session NAME    MoldUDP64 session, 1..10 alphanumerics (default %s)\n"
		"      --start-seq N     first sequence number (default 1)\n"
		"      --gap-every M     drop every M-th packet (a real gap; the truth marks it)\n"
		"      --dup-every M     send every M-th packet twice\n"
		"      --malformed F     after each packet, with chance F, add one malformed\n"
		"                        packet on line A (kinds in turn; it takes no sequence\n"
		"                        number: it repeats the last one sent)\n"
		"      --bad-messages F  before each message, with chance F (< 1), add one\n"
		"                        undecodable ITCH message that takes its own sequence\n"
		"                        number (kinds in turn: unknown type, shorter and longer\n"
		"                        than its type); a receiver delivers the number, counts\n"
		"                        the message by reason and publishes nothing for it\n"
		"      --hostile F       after each packet, with chance F, add one hostile frame\n"
		"                        on line A (kinds in turn, see --hostile-kinds)\n"
		"      --hostile-kinds L comma-separated kinds (default all): block_header_truncated,\n"
		"                        oversize, random_payload, udp_length_cut (the UDP payload\n"
		"                        reaches the feed, framing rejects it); ip_length_long,\n"
		"                        udp_length_long, udp_length_short, ip_fragment,\n"
		"                        random_frame (no IPv4/UDP datagram), jumbo_frame (9000 B,\n"
		"                        beyond an mbuf), other_port (to the feed's port + 1)\n"
		"      --expect FILE     counts by kind and what a receiver must count for them,\n"
		"                        as JSON keyed like mdmesh-collector's metrics (expect.*)\n"
		"      --lines 1|2       2 = A and B lines: A to --dst, B to the next group up\n"
		"                        (233.54.12.112 by default), from 10.77.0.1 / 10.77.0.2;\n"
		"                        written to FILE.a.pcap and FILE.b.pcap (feed.pcap ->\n"
		"                        feed.a.pcap, feed.b.pcap), or with --merge-lines to FILE\n"
		"      --merge-lines     with --lines 2: both lines in one file\n"
		"      --line-loss F     independent drop chance per line (default 0.01 with\n"
		"                        --lines 2, else 0); lost on every line = a real gap\n"
		"      --truth FILE      ground truth: one JSON object per message as sent\n"
		"      --dst ADDR:PORT   destination (default 233.54.12.111:26477)\n"
		"      --src ADDR:PORT   source of line A (default 10.77.0.1:50000)\n"
		"  -h, --help            this text\n\n"
		"Truth lines have session, seq, type, stock_locate, tracking_number, timestamp,\n"
		"symbol, then the type's fields by their spec names; \"dropped\":true when the\n"
		"message was sent on no line, \"line_lost\":\"a\"|\"b\" when lost on one line only.\n"
		"A bad message's line has session, seq, bad (its kind), type_byte and length.\n",
		MDM_SYNTH_SESSION_DEFAULT);
}

static int parse_addr(const char *opt, const char *s, uint32_t *ip, uint16_t *port)
{
	struct sockaddr_in sa;

	if (loadgen_opt_addr(prog, opt, s, &sa) != 0)
		return -1;
	*ip = ntohl(sa.sin_addr.s_addr);
	*port = ntohs(sa.sin_port);
	return 0;
}

static void print_summary(const char *out, const struct mdm_synth_params *p, bool merge,
			  const struct mdm_synth_stats *st)
{
	struct mdm_buf b = MDM_BUF_INIT;

	mdm_buf_printf(&b, "mdmesh-loadgen synth: %" PRIu64 " packets, %" PRIu64 " messages [", st->packets,
		       st->messages);
	for (const char *t = spec_types; *t; t++)
		mdm_buf_printf(&b, "%s%c:%" PRIu64, t == spec_types ? "" : " ", *t, st->by_type[(uint8_t)*t]);
	mdm_buf_printf(&b, "], dropped %" PRIu64 " packets (%" PRIu64 " messages), duplicated %" PRIu64
		       ", malformed %" PRIu64, st->dropped_packets, st->dropped_messages, st->duplicated,
		       st->malformed);
	if (p->bad_messages > 0)
		mdm_buf_printf(&b, ", bad messages %" PRIu64, st->bad_messages);
	if (p->hostile > 0)
		mdm_buf_printf(&b, ", hostile %" PRIu64, st->hostile);
	if (p->lines > 1)
		mdm_buf_printf(&b, ", line loss a:%" PRIu64 " b:%" PRIu64 ", frames a:%" PRIu64 " b:%" PRIu64 " -> %s%s",
			       st->line_lost[0], st->line_lost[1], st->frames[0], st->frames[1], out,
			       merge ? "" : " as .a/.b");
	else
		mdm_buf_printf(&b, ", frames %" PRIu64 " -> %s", st->frames[0], out);
	if (p->truth_path)
		mdm_buf_printf(&b, ", truth %" PRIu64 " lines -> %s", st->truth_lines, p->truth_path);
	fprintf(stderr, "%s\n", b.oom ? "mdmesh-loadgen synth: done" : b.data);
	mdm_buf_fini(&b);
}

/* `synth --from-itch`: a BinaryFILE into a pcap, nothing synthesized. */
static int synth_from_itch(const char *in, const char *out, struct mdm_synth_params *p, bool session_set,
			   uint32_t date, uint64_t span_ns, bool shaped)
{
	struct loadgen_itch_pcap_stats st;
	int rc;

	if (!out) {
		fprintf(stderr, "mdmesh-loadgen synth: --from-itch needs --out FILE.pcap\n");
		return 2;
	}
	if (shaped) {
		fprintf(stderr, "mdmesh-loadgen synth: --from-itch packs a file as it is: the fault, line, truth "
				"and --itch-out options shape a synthesized session\n");
		return 2;
	}
	if (!session_set)
		snprintf(p->session, sizeof(p->session), "%s", MDM_ITCHSRC_SESSION_DEFAULT);
	if (!date)
		date = loadgen_itch_date_of(in);
	if (!date)
		date = LOADGEN_ITCH_DATE_DEFAULT;
	mdm_err_clear();
	rc = loadgen_itch_to_pcap(in, p, date, span_ns, out, &st);
	if (rc) {
		fprintf(stderr, "mdmesh-loadgen synth: %s\n", *mdm_err_last() ? mdm_err_last() : mdm_strerror(rc));
		return 1;
	}
	fprintf(stderr, "mdmesh-loadgen synth: %s: %" PRIu64 " records in %" PRIu64 " packets (largest %" PRIu64
		" bytes), date %u%s -> %s\n", in, st.records, st.packets, st.max_packet, date,
		st.truncated ? ", last record truncated" : "", out);
	return 0;
}

int loadgen_synth(int argc, char **argv)
{
	enum { O_RATE = 256, O_SESSION, O_START_SEQ, O_GAP, O_DUP, O_MALFORMED, O_LINES, O_MERGE,
	       O_LINE_LOSS, O_TRUTH, O_DST, O_SRC, O_BAD, O_HOSTILE, O_HOSTILE_KINDS, O_EXPECT, O_ITCH_OUT,
	       O_FROM_ITCH, O_DATE, O_SPAN };
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "messages", required_argument, NULL, 'n' },
		{ "symbols", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, O_RATE },
		{ "session", required_argument, NULL, O_SESSION },
		{ "start-seq", required_argument, NULL, O_START_SEQ },
		{ "gap-every", required_argument, NULL, O_GAP },
		{ "dup-every", required_argument, NULL, O_DUP },
		{ "malformed", required_argument, NULL, O_MALFORMED },
		{ "bad-messages", required_argument, NULL, O_BAD },
		{ "hostile", required_argument, NULL, O_HOSTILE },
		{ "hostile-kinds", required_argument, NULL, O_HOSTILE_KINDS },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "lines", required_argument, NULL, O_LINES },
		{ "merge-lines", no_argument, NULL, O_MERGE },
		{ "line-loss", required_argument, NULL, O_LINE_LOSS },
		{ "truth", required_argument, NULL, O_TRUTH },
		{ "dst", required_argument, NULL, O_DST },
		{ "src", required_argument, NULL, O_SRC },
		{ "itch-out", required_argument, NULL, O_ITCH_OUT },
		{ "from-itch", required_argument, NULL, O_FROM_ITCH },
		{ "date", required_argument, NULL, O_DATE },
		{ "pack-span", required_argument, NULL, O_SPAN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mdm_synth_params p;
	struct mdm_synth_stats st;
	const char *out = NULL, *expect = NULL, *itch_out = NULL, *from_itch = NULL;
	bool merge = false, loss_set = false, session_set = false, shaped = false;
	uint64_t v, span_ns = LOADGEN_ITCH_SPAN_NS_DEFAULT;
	uint32_t date = 0;
	int c, rc;

	mdm_synth_params_init(&p);
	optind = 1;
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":o:n:k:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'n':
			if (loadgen_opt_uint(prog, "messages", optarg, 1, UINT64_MAX / 2, &p.messages))
				return 2;
			break;
		case 'k':
			if (loadgen_opt_uint(prog, "symbols", optarg, 1, MDM_SYNTH_MAX_SYMBOLS, &v))
				return 2;
			p.symbols = (uint32_t)v;
			break;
		case 's':
			if (loadgen_opt_uint(prog, "seed", optarg, 0, UINT64_MAX, &p.seed))
				return 2;
			break;
		case O_RATE:
			if (loadgen_opt_uint(prog, "rate", optarg, 1, 1000000000, &p.rate))
				return 2;
			break;
		case O_SESSION:
			if (strlen(optarg) > 10) {
				fprintf(stderr, "mdmesh-loadgen synth: --session '%s' is longer than 10 characters\n",
					optarg);
				return 2;
			}
			snprintf(p.session, sizeof(p.session), "%s", optarg);
			session_set = true;
			break;
		case O_START_SEQ:
			if (loadgen_opt_uint(prog, "start-seq", optarg, 1, UINT64_MAX / 2, &p.start_seq))
				return 2;
			break;
		case O_GAP:
			if (loadgen_opt_uint(prog, "gap-every", optarg, 1, UINT64_MAX, &p.gap_every))
				return 2;
			break;
		case O_DUP:
			if (loadgen_opt_uint(prog, "dup-every", optarg, 1, UINT64_MAX, &p.dup_every))
				return 2;
			break;
		case O_MALFORMED:
			if (loadgen_opt_fraction(prog, "malformed", optarg, &p.malformed))
				return 2;
			break;
		case O_BAD:
			if (loadgen_opt_fraction(prog, "bad-messages", optarg, &p.bad_messages))
				return 2;
			if (p.bad_messages >= 1) {
				fprintf(stderr, "mdmesh-loadgen synth: --bad-messages must be below 1 (every slot bad "
						"would never reach a real message)\n");
				return 2;
			}
			break;
		case O_HOSTILE:
			if (loadgen_opt_fraction(prog, "hostile", optarg, &p.hostile))
				return 2;
			break;
		case O_HOSTILE_KINDS:
			if (mdm_synth_hostile_kinds_parse(optarg, &p.hostile_kinds)) {
				fprintf(stderr, "mdmesh-loadgen synth: %s\n", mdm_err_last());
				return 2;
			}
			break;
		case O_EXPECT: expect = optarg; break;
		case O_LINES:
			if (loadgen_opt_uint(prog, "lines", optarg, 1, MDM_SYNTH_MAX_LINES, &v))
				return 2;
			p.lines = (unsigned)v;
			break;
		case O_MERGE: merge = true; break;
		case O_LINE_LOSS:
			if (loadgen_opt_fraction(prog, "line-loss", optarg, &p.line_loss))
				return 2;
			loss_set = true;
			break;
		case O_TRUTH: p.truth_path = optarg; break;
		case O_ITCH_OUT: itch_out = optarg; break;
		case O_FROM_ITCH: from_itch = optarg; break;
		case O_DATE:
			if (loadgen_opt_uint(prog, "date", optarg, 19700101, 99991231, &v))
				return 2;
			if (!mdm_et_date_valid((uint32_t)v)) {
				fprintf(stderr, "mdmesh-loadgen synth: --date '%s' is not a date YYYYMMDD\n", optarg);
				return 2;
			}
			date = (uint32_t)v;
			break;
		case O_SPAN:
			if (loadgen_opt_secs(prog, "pack-span", optarg, true, &span_ns))
				return 2;
			break;
		case O_DST:
			if (parse_addr("dst", optarg, &p.dst_ip, &p.dst_port))
				return 2;
			break;
		case O_SRC:
			if (parse_addr("src", optarg, &p.src_ip, &p.src_port))
				return 2;
			break;
		case 'h':
			synth_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "mdmesh-loadgen synth: option '%s' needs a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "mdmesh-loadgen synth: unknown option '%s' (try --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mdmesh-loadgen synth: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	shaped = p.gap_every || p.dup_every || p.malformed > 0 || p.bad_messages > 0 || p.hostile > 0 ||
		 p.lines > 1 || p.truth_path || expect || itch_out;
	if (from_itch)
		return synth_from_itch(from_itch, out, &p, session_set, date, span_ns, shaped);
	if (!out && !itch_out) {
		fprintf(stderr, "mdmesh-loadgen synth: --out FILE is required (try --help)\n");
		return 2;
	}
	if (merge && p.lines < 2) {
		fprintf(stderr, "mdmesh-loadgen synth: --merge-lines needs --lines 2\n");
		return 2;
	}
	if (!loss_set && p.lines > 1)
		p.line_loss = MDM_SYNTH_LINE_LOSS_DEFAULT;

	mdm_err_clear();
	if (itch_out) {
		uint64_t records;

		rc = loadgen_itch_write_synth(&p, itch_out, &records);
		if (rc == 0)
			fprintf(stderr, "mdmesh-loadgen synth: %" PRIu64 " records -> %s\n", records, itch_out);
		if (rc == 0 && !out)
			return 0;
	} else {
		rc = 0;
	}
	if (rc == 0)
		rc = mdm_synth_write_pcap(&p, out, merge, &st);
	if (rc) {
		const char *why = mdm_err_last();

		fprintf(stderr, "mdmesh-loadgen synth: %s\n", *why ? why : mdm_strerror(rc));
		return rc == -EINVAL ? 2 : 1;
	}
	if (expect && (rc = mdm_synth_stats_write_json(&st, expect)) != 0) {
		fprintf(stderr, "mdmesh-loadgen synth: %s\n", mdm_err_last());
		return 1;
	}
	print_summary(out, &p, merge, &st);
	return 0;
}
