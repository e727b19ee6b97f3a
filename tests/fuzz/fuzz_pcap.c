/* Fuzz target: bytes are a capture file (classic pcap in either byte order
 * and resolution, or pcapng), read through the libpcap adapter the way
 * `mdmesh feed dump` and `mdmesh-loadgen send --pcap` read a file they are
 * given, then each frame through the UDP frame parser. Invariants: the reader
 * ends cleanly or with -EBADMSG and stays there; every frame has caplen <=
 * origlen and fits libpcap's snaplen; the parser's payload lies inside the
 * frame. Reads are bounded so a loop shows as a failure, not a hang. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "mdm_pcap.h"

/* a frame takes at least a 16-byte record header (pcapng blocks more) */
#define FUZZ_MAX_FRAMES(size) ((size) / 16 + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mdm_pcap_reader *r = NULL;
	struct mdm_pcap_frame f;
	uint64_t frames = 0;
	int rc;

	if (mdm_pcap_reader_open_mem(&r, data, size) != 0) {
		FUZZ_CHECK(r == NULL);
		return 0;
	}
	while ((rc = mdm_pcap_next(r, &f)) == 1) {
		struct mdm_pcap_udp u;
		int pr;

		FUZZ_CHECK(++frames <= FUZZ_MAX_FRAMES(size));
		FUZZ_CHECK(f.caplen <= size && f.caplen <= f.origlen && f.caplen <= MDM_PCAP_MAX_SNAPLEN);
		pr = mdm_pcap_parse_udp(&f, &u);
		FUZZ_CHECK(pr >= 0 && pr < MDM_PCAP_UDP_NREASONS);
		if (pr == MDM_PCAP_UDP_OK)
			FUZZ_CHECK(u.payload >= f.data && u.payload + u.payload_len <= f.data + f.caplen);
	}
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc < 0) /* after an error the reader stays there */
		FUZZ_CHECK(mdm_pcap_next(r, &f) == rc);
	mdm_pcap_reader_close(r);
	return 0;
}
