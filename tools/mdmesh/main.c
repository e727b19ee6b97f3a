/* `mdmesh`: operator tool. Dispatches to one subcommand per file (cmd_*.c). */
#include <errno.h>
#include <unistd.h>

#include "cmds.h"
#include "mdm_cmd.h"
#include "mdm_log.h"
#include "mdm_mem.h"

static const struct mdm_cmd commands[] = {
	{ "decode", cmd_decode, "protobuf message on stdin -> one JSON line (for nats sub --translate)" },
	{ "feed", cmd_feed, "run a capture through the collector's decode chain: dump as JSON, or bench" },
	{ "tail", cmd_tail, "subscribe (live, or replay the stream) and print events as JSON lines" },
	{ "book", cmd_book, "a symbol's current book (DEPTH) or BBO in one read, as a ladder; --follow applies live views" },
	{ "hdr", cmd_hdr, "HdrHistogram: encode values, decode base64 or .hlog files, report logs" },
	{ "refdata", cmd_refdata, "reference data in KV bucket refdata: load a CSV file, get, list" },
	{ "pub", cmd_pub, "publish one message (core NATS) and confirm the server took it: checks permissions" },
	{ "nkey", cmd_nkey, "NATS nkey pairs: gen (seed to a 0600 file, public key printed), pub SEED_FILE" },
};

static const struct mdm_cmd_table table = {
	"mdmesh", "mdmesh is the operator tool of the mdmesh market-data mesh.", commands,
	sizeof(commands) / sizeof(commands[0]),
};

int mdmesh_read_all(int fd, unsigned char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	unsigned char *buf = mdm_malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			nb = mdm_realloc(buf, cap * 2);
			if (!nb) {
				mdm_free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r == 0)
			break;
		if (r < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			mdm_free(buf);
			return -err;
		}
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

int main(int argc, char **argv)
{
	/* the commands report through their own output; the library's progress
	 * lines (connected, stream updated) are for the daemons' logs */
	mdm_log_set_level(MDM_LOG_WARN);
	return mdm_cmd_main(&table, argc, argv);
}
