/* `mdmesh decode`: one protobuf message on stdin -> one JSON line on stdout.
 * Shaped for `nats sub SUBJ --translate 'mdmesh decode'`, which runs it once per
 * message with the payload on stdin. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cmds.h"
#include "mdm_err.h"
#include "mdm_json.h"
#include "mdm_mem.h"
#include "mdm_pbjson.h"
#include "mdm_proto.h"

static void decode_usage(FILE *f)
{
	fprintf(f, "usage: mdmesh decode [--type NAME] < message.bin\n\n"
		   "Reads one protobuf message from stdin and prints it as one JSON line.\n"
		   "  -t, --type NAME   message type (default MarketEvent); one of:");
	for (size_t i = 0; mdm_proto_at(i); i++)
		fprintf(f, " %s", mdm_proto_at(i)->short_name);
	fprintf(f, "\n  -h, --help        this text\n\n"
		   "example: nats sub 'md.itch.*.AAPL' --translate 'mdmesh decode'\n");
}

int cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const ProtobufCMessageDescriptor *desc = &mdmesh__v1__market_event__descriptor;
	struct mdm_buf out = MDM_BUF_INIT;
	struct mdm_json j;
	ProtobufCMessage *msg;
	unsigned char *in;
	size_t len;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			desc = mdm_proto_find(optarg);
			if (!desc) {
				fprintf(stderr, "mdmesh decode: unknown message type '%s' (see --help)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			decode_usage(stdout);
			return 0;
		default:
			decode_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mdmesh decode: unexpected argument '%s' (the message is read from stdin)\n",
			argv[optind]);
		return 2;
	}
	rc = mdmesh_read_all(STDIN_FILENO, &in, &len);
	if (rc != 0) {
		fprintf(stderr, "mdmesh decode: cannot read stdin: %s\n", mdm_strerror(rc));
		return 1;
	}
	msg = protobuf_c_message_unpack(desc, NULL, len, in);
	if (!msg) {
		fprintf(stderr, "mdmesh decode: stdin (%zu bytes) is not a valid %s\n", len, desc->name);
		mdm_free(in);
		return 1;
	}
	mdm_json_init(&j, &out);
	mdm_pbjson_write(&j, msg);
	rc = mdm_json_status(&j);
	if (rc == 0)
		printf("%s\n", out.data);
	protobuf_c_message_free_unpacked(msg, NULL);
	mdm_buf_fini(&out);
	mdm_free(in);
	if (rc != 0) {
		fprintf(stderr, "mdmesh decode: out of memory\n");
		return 1;
	}
	return 0;
}
