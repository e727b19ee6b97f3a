/* `mdmesh-loadgen send`'s command line: --help text and argv -> struct
 * send_opts. Numbers are spelled as in config files (loadgen_opt.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen_itch.h"
#include "loadgen_opt.h"
#include "loadgen_send.h"
#include "mdm_clock.h"
#include "mdm_itchsrc.h"

void send_opts_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh-loadgen send --rate EVENTS_PER_S --duration S [options]\n"
		"       mdmesh-loadgen send --pcap FILE --rate EVENTS_PER_S [--duration S] [options]\n"
		"       mdmesh-loadgen send --from-itch FILE[.gz] (--speed X | --rate R) [--from HH:MM:SS]\n"
		"                           [--session NAME] [--pack-span S] [options]\n\n"
		"Multicasts a deterministic NASDAQ TotalView-ITCH 5.0 session in MoldUDP64 packets (or a\n"
		"capture's UDP payloads, in order) over a UDP socket, at a constant event rate.\n\n"
		"Schedule (wrk2-style): ITCH message k has the slot t0 + k/rate (inside a burst,\n"
		"at --burst-rate); a packet's intended send time is the slot of its last message.\n"
		"The sender sleeps until that time (never after a send); when it falls behind it\n"
		"sends at once, and counts packets sent more than 100 us late as behind schedule.\n\n"
		"Timestamps: every ITCH message's timestamp is rewritten to its packet's intended\n"
		"send time in ns since midnight US/Eastern, so the collector's exchange_ts_ns plus\n"
		"the session date is the intended send time (CLOCK_REALTIME): latency measured\n"
		"from it includes any delay of the sender itself (no coordinated omission).\n\n"
		"  --dst ADDR:PORT         destination group (default 233.54.12.111:26477)\n"
		"  --iface-addr ADDR       send from this local address (IP_MULTICAST_IF)\n"
		"  --iface NAME            send through this interface (SO_BINDTODEVICE)\n"
		"  --rate R                ITCH messages per second (required)\n"
		"  --duration S            seconds of schedule: rate x S messages (required\n"
		"                          without --pcap; with it, stops the capture early)\n"
		"  --symbols K             symbols, 1..65535 (default 100)\n"
		"  --seed S                random seed (default 1)\n"
		"  --session NAME          MoldUDP64 session (default %s)\n"
		"  --burst-rate R          messages per second inside bursts ...\n"
		"  --burst-every S         ... starting every S seconds (at S, 2S, ...) ...\n"
		"  --burst-length S        ... lasting S seconds (less than --burst-every)\n"
		"  --ttl N                 multicast TTL (default 1)\n"
		"  --pcap FILE             send this capture's UDP payloads instead of synthesizing\n"
		"  --from-itch FILE        send a NASDAQ BinaryFILE (gzip'd or plain, streamed: a whole\n"
		"                          day in constant memory), packed into MoldUDP64 packets as the\n"
		"                          exchange does (up to 1400 bytes and --pack-span of ITCH time\n"
		"                          each; sequence number = record number; session --session,\n"
		"                          default " MDM_ITCHSRC_SESSION_DEFAULT "). Its ITCH timestamps are kept as\n"
		"                          they are (trades and bars keep the day's times); a truncated\n"
		"                          last record is reported\n"
		"  --speed X               --from-itch: pace by the file's ITCH timestamps, X times\n"
		"                          as fast (1 = the original pacing; 0.5 = half speed)\n"
		"  --from HH:MM:SS         --from-itch: messages before this ITCH time are sent at once\n"
		"                          (so the receiver's book and symbols are complete); pacing\n"
		"                          (--speed or --rate) starts at the first message from then\n"
		"  --pack-span S           --from-itch: ITCH time one packet may span (default 1ms)\n"
		"  --stats-interval S      progress line on stderr every S seconds (default 1; 0 = off)\n"
		"  -h, --help              this text\n\n"
		"Numbers are spelled as in config files; a time S is seconds (1.5) or has a unit\n"
		"(250ms, 2s, 1m).\n\n"
		"Faults (for recovery tests):\n"
		"  --loss F                do not send a fraction F (0..1) of the data packets, chosen\n"
		"                          by --loss-seed (the same packets on every run)\n"
		"  --loss-seed N           seed of the --loss draw (default 1)\n"
		"  --drop-range A-B        do not send the packets holding any of sequence numbers\n"
		"                          A..B (repeatable, up to %d)\n"
		"  --rerequest ADDR:PORT   serve MoldUDP64 re-requests (20 bytes: session, first\n"
		"                          sequence, count) on this local UDP address, from the feed as\n"
		"                          sent (lost packets included): answers are downstream packets\n"
		"                          of at most %d bytes, whole messages, same session, unicast\n"
		"                          to the requester; after the feed, keep serving for\n"
		"                          --rerequest-linger seconds with a heartbeat every second\n"
		"  --rerequest-refuse A-B  never serve sequence numbers A..B (answers skip them),\n"
		"                          to provoke permanent gaps (repeatable, up to %d)\n"
		"  --rerequest-linger S    seconds to keep serving after the feed (default 3)\n\n"
		"SoupBinTCP 3.00 (the feed over TCP, as NASDAQ serves it):\n"
		"  --soup ADDR:PORT        also serve the feed as sent over SoupBinTCP on this local TCP\n"
		"                          address, one client at a time: login with a session (blank =\n"
		"                          current) and the sequence number wanted next (0 = most\n"
		"                          recent), every stored message from there as Sequenced Data,\n"
		"                          then the live tail; heartbeats both ways (1 s; a client\n"
		"                          silent 15 s is dropped); End of Session after the feed\n"
		"  --soup-user NAME        accept only this username (default: any)\n"
		"  --soup-password P       accept only this password (default: any)\n"
		"  --soup-drop-after N     close the first connection after N messages (a forced\n"
		"                          disconnect: the client must log in again at N + 1)\n"
		"  --soup-linger S         after the feed, wait up to S seconds for the client to take\n"
		"                          it all and get End of Session (default 30)\n\n"
		"SIGHUP ends the feed where it is, as if --duration were over (the re-request linger,\n"
		"heartbeats and a SoupBinTCP end of session follow); SIGINT/SIGTERM stop at once.\n"
		"Exit status: 0 when done or stopped by SIGINT/SIGTERM (a summary line either way),\n"
		"1 on a runtime error (socket, interface, sendmmsg), 2 on a usage error.\n",
		MDM_SYNTH_SESSION_DEFAULT, SEND_MAX_RANGES, SENDER_ANSWER_MAX, SEND_MAX_RANGES);
}

/* "A-B" with 1 <= A <= B into one of `max` range slots. */
static int parse_range(const char *opt, const char *s, struct sender_range *v, unsigned *n)
{
	char *end, *dash = strchr(s, '-');
	unsigned long long a, b;

	if (*n == SEND_MAX_RANGES) {
		fprintf(stderr, "%s: --%s given more than %d times\n", SEND_PROG, opt, SEND_MAX_RANGES);
		return -1;
	}
	errno = 0;
	if (!dash || *s < '0' || *s > '9' || dash[1] < '0' || dash[1] > '9')
		goto bad;
	a = strtoull(s, &end, 10);
	if (end != dash || errno)
		goto bad;
	b = strtoull(dash + 1, &end, 10);
	if (*end || errno || a == 0 || b < a)
		goto bad;
	v[*n].first = a;
	v[(*n)++].last = b;
	return 0;
bad:
	fprintf(stderr, "%s: --%s: '%s' is not a range A-B of sequence numbers (1 <= A <= B)\n", SEND_PROG, opt, s);
	return -1;
}

int send_opts_parse(int argc, char **argv, struct send_opts *o)
{
	enum { O_DST = 256, O_IFACE_ADDR, O_IFACE, O_RATE, O_DURATION, O_SYMBOLS, O_SEED, O_SESSION, O_BRATE,
	       O_BEVERY, O_BLEN, O_TTL, O_PCAP, O_STATS, O_LOSS, O_LOSS_SEED, O_DROP, O_RR, O_REFUSE, O_LINGER,
	       O_ITCH, O_SPEED, O_FROM, O_SPAN, O_SOUP, O_SOUP_USER, O_SOUP_PASS, O_SOUP_DROP, O_SOUP_LINGER };
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, O_DST },
		{ "iface-addr", required_argument, NULL, O_IFACE_ADDR },
		{ "iface", required_argument, NULL, O_IFACE },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "symbols", required_argument, NULL, O_SYMBOLS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "session", required_argument, NULL, O_SESSION },
		{ "burst-rate", required_argument, NULL, O_BRATE },
		{ "burst-every", required_argument, NULL, O_BEVERY },
		{ "burst-length", required_argument, NULL, O_BLEN },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "loss", required_argument, NULL, O_LOSS },
		{ "loss-seed", required_argument, NULL, O_LOSS_SEED },
		{ "drop-range", required_argument, NULL, O_DROP },
		{ "rerequest", required_argument, NULL, O_RR },
		{ "rerequest-refuse", required_argument, NULL, O_REFUSE },
		{ "rerequest-linger", required_argument, NULL, O_LINGER },
		{ "from-itch", required_argument, NULL, O_ITCH },
		{ "soup", required_argument, NULL, O_SOUP },
		{ "soup-user", required_argument, NULL, O_SOUP_USER },
		{ "soup-password", required_argument, NULL, O_SOUP_PASS },
		{ "soup-drop-after", required_argument, NULL, O_SOUP_DROP },
		{ "soup-linger", required_argument, NULL, O_SOUP_LINGER },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "from", required_argument, NULL, O_FROM },
		{ "pack-span", required_argument, NULL, O_SPAN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, n_burst;

	memset(o, 0, sizeof(*o));
	mdm_synth_params_init(&o->synth);
	o->dst.sin_family = AF_INET;
	o->dst.sin_addr.s_addr = htonl(MDM_SYNTH_DST_IP_DEFAULT);
	o->dst.sin_port = htons(MDM_SYNTH_DST_PORT_DEFAULT);
	o->ttl = 1;
	o->stats_interval_ns = MDM_NS_PER_S;
	o->loss_seed = 1;
	o->linger_ns = 3 * MDM_NS_PER_S;
	o->pack_span_ns = LOADGEN_ITCH_SPAN_NS_DEFAULT;
	o->soup_linger_ns = 30 * MDM_NS_PER_S;
	optind = 1;
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_DST:
			if (loadgen_opt_addr(SEND_PROG, "dst", optarg, &o->dst))
				return 2;
			break;
		case O_IFACE_ADDR:
			if (inet_pton(AF_INET, optarg, &o->iface_addr) != 1) {
				fprintf(stderr, "%s: --iface-addr: '%s' is not an IPv4 address\n", SEND_PROG, optarg);
				return 2;
			}
			o->has_iface_addr = true;
			break;
		case O_IFACE:
			if (*optarg == '\0' || strlen(optarg) >= IFNAMSIZ) {
				fprintf(stderr, "%s: --iface: '%s' is not an interface name\n", SEND_PROG, optarg);
				return 2;
			}
			o->iface = optarg;
			break;
		case O_RATE:
			if (loadgen_opt_uint(SEND_PROG, "rate", optarg, 1, 1000000000, &o->sched.rate))
				return 2;
			break;
		case O_DURATION:
			if (loadgen_opt_secs(SEND_PROG, "duration", optarg, false, &o->duration_ns))
				return 2;
			break;
		case O_SYMBOLS:
			if (loadgen_opt_uint(SEND_PROG, "symbols", optarg, 1, MDM_SYNTH_MAX_SYMBOLS, &v))
				return 2;
			o->synth.symbols = (uint32_t)v;
			o->synth_opt_set = true;
			break;
		case O_SEED:
			if (loadgen_opt_uint(SEND_PROG, "seed", optarg, 0, UINT64_MAX, &o->synth.seed))
				return 2;
			o->synth_opt_set = true;
			break;
		case O_SESSION:
			if (strlen(optarg) > 10) {
				fprintf(stderr, "%s: --session '%s' is longer than 10 characters\n", SEND_PROG, optarg);
				return 2;
			}
			snprintf(o->synth.session, sizeof(o->synth.session), "%s", optarg);
			o->session_set = true;
			break;
		case O_BRATE:
			if (loadgen_opt_uint(SEND_PROG, "burst-rate", optarg, 1, 1000000000, &o->sched.burst_rate))
				return 2;
			break;
		case O_BEVERY:
			if (loadgen_opt_secs(SEND_PROG, "burst-every", optarg, false, &o->sched.burst_every_ns))
				return 2;
			break;
		case O_BLEN:
			if (loadgen_opt_secs(SEND_PROG, "burst-length", optarg, false, &o->sched.burst_length_ns))
				return 2;
			break;
		case O_TTL:
			if (loadgen_opt_uint(SEND_PROG, "ttl", optarg, 0, 255, &v))
				return 2;
			o->ttl = (uint32_t)v;
			break;
		case O_PCAP: o->pcap = optarg; break;
		case O_ITCH: o->itch = optarg; break;
		case O_SOUP:
			if (loadgen_opt_addr(SEND_PROG, "soup", optarg, &o->soup_addr))
				return 2;
			o->soup_serve = true;
			break;
		case O_SOUP_USER:
			if (strlen(optarg) > 6) {
				fprintf(stderr, "%s: --soup-user '%s' is longer than 6 characters\n", SEND_PROG, optarg);
				return 2;
			}
			o->soup_user = optarg;
			break;
		case O_SOUP_PASS:
			if (strlen(optarg) > 10) {
				fprintf(stderr, "%s: --soup-password is longer than 10 characters\n", SEND_PROG);
				return 2;
			}
			o->soup_password = optarg;
			break;
		case O_SOUP_DROP:
			if (loadgen_opt_uint(SEND_PROG, "soup-drop-after", optarg, 1, UINT64_MAX, &o->soup_drop_after))
				return 2;
			break;
		case O_SOUP_LINGER:
			if (loadgen_opt_secs(SEND_PROG, "soup-linger", optarg, true, &o->soup_linger_ns))
				return 2;
			break;
		case O_SPEED: {
			char *end;

			errno = 0;
			o->speed = strtod(optarg, &end);
			if (*end || errno || !(o->speed >= 1e-6 && o->speed <= 1e6)) {
				fprintf(stderr, "%s: --speed: '%s' is not a factor in 0.000001..1000000\n", SEND_PROG,
					optarg);
				return 2;
			}
			break;
		}
		case O_FROM:
			if (loadgen_itch_parse_hms(SEND_PROG, "from", optarg, &o->from_ns))
				return 2;
			break;
		case O_SPAN:
			if (loadgen_opt_secs(SEND_PROG, "pack-span", optarg, true, &o->pack_span_ns))
				return 2;
			break;
		case O_STATS:
			if (loadgen_opt_secs(SEND_PROG, "stats-interval", optarg, true, &o->stats_interval_ns))
				return 2;
			break;
		case O_LOSS:
			if (loadgen_opt_fraction(SEND_PROG, "loss", optarg, &o->loss))
				return 2;
			break;
		case O_LOSS_SEED:
			if (loadgen_opt_uint(SEND_PROG, "loss-seed", optarg, 0, UINT64_MAX, &o->loss_seed))
				return 2;
			break;
		case O_DROP:
			if (parse_range("drop-range", optarg, o->drop, &o->n_drop))
				return 2;
			break;
		case O_RR:
			if (loadgen_opt_addr(SEND_PROG, "rerequest", optarg, &o->rr_addr))
				return 2;
			o->rr_serve = true;
			break;
		case O_REFUSE:
			if (parse_range("rerequest-refuse", optarg, o->refuse, &o->n_refuse))
				return 2;
			break;
		case O_LINGER:
			if (loadgen_opt_secs(SEND_PROG, "rerequest-linger", optarg, true, &o->linger_ns))
				return 2;
			break;
		case 'h': return -1;
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value\n", SEND_PROG, argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "%s: unknown option '%s' (try --help)\n", SEND_PROG, argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", SEND_PROG, argv[optind]);
		return 2;
	}
	if (o->itch) {
		if (o->pcap) {
			fprintf(stderr, "%s: give --pcap or --from-itch, not both\n", SEND_PROG);
			return 2;
		}
		if (!o->speed == !o->sched.rate) {
			fprintf(stderr, "%s: --from-itch needs one of --speed X or --rate R\n", SEND_PROG);
			return 2;
		}
		if (o->speed && o->sched.burst_rate) {
			fprintf(stderr, "%s: bursts shape a --rate schedule, not --speed\n", SEND_PROG);
			return 2;
		}
	} else if (o->speed || o->from_ns) {
		fprintf(stderr, "%s: --speed and --from replay a --from-itch file\n", SEND_PROG);
		return 2;
	}
	if (!o->sched.rate && !o->speed) {
		fprintf(stderr, "%s: --rate EVENTS_PER_S is required (try --help)\n", SEND_PROG);
		return 2;
	}
	if (!o->pcap && !o->itch && !o->duration_ns) {
		fprintf(stderr, "%s: --duration S is required without --pcap or --from-itch (try --help)\n", SEND_PROG);
		return 2;
	}
	if ((o->pcap || o->itch) && o->synth_opt_set) {
		fprintf(stderr, "%s: --symbols and --seed shape a synthesized feed, not a file\n", SEND_PROG);
		return 2;
	}
	if (o->pcap && o->session_set) {
		fprintf(stderr, "%s: --session names a synthesized or --from-itch feed; a capture has its own\n",
			SEND_PROG);
		return 2;
	}
	if (o->itch && !o->session_set)
		snprintf(o->synth.session, sizeof(o->synth.session), "%s", MDM_ITCHSRC_SESSION_DEFAULT);
	if (o->iface && o->has_iface_addr) {
		fprintf(stderr, "%s: give --iface or --iface-addr, not both\n", SEND_PROG);
		return 2;
	}
	n_burst = (o->sched.burst_rate != 0) + (o->sched.burst_every_ns != 0) + (o->sched.burst_length_ns != 0);
	if (n_burst != 0 && n_burst != 3) {
		fprintf(stderr, "%s: --burst-rate, --burst-every and --burst-length go together\n", SEND_PROG);
		return 2;
	}
	if (o->sched.burst_rate && o->sched.burst_length_ns >= o->sched.burst_every_ns) {
		fprintf(stderr, "%s: --burst-length must be shorter than --burst-every\n", SEND_PROG);
		return 2;
	}
	if ((o->soup_user || o->soup_password || o->soup_drop_after) && !o->soup_serve) {
		fprintf(stderr, "%s: --soup-user, --soup-password and --soup-drop-after need --soup ADDR:PORT\n",
			SEND_PROG);
		return 2;
	}
	if (o->n_refuse && !o->rr_serve) {
		fprintf(stderr, "%s: --rerequest-refuse needs --rerequest ADDR:PORT\n", SEND_PROG);
		return 2;
	}
	return 0;
}
