/* `mdmesh pub SUBJECT [DATA]`: one core NATS publish, confirmed by a round
 * trip, so an operator can check what a user may publish: a subject the
 * server's permissions refuse fails with the server's reason. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "mdm_bus.h"
#include "mdm_err.h"
#include "mdm_mem.h"

static void pub_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh pub [--nats URL] SUBJECT [DATA]\n\n"
		"Publishes one message on SUBJECT (core NATS: no JetStream ack) with DATA, or stdin when\n"
		"DATA is not given, and waits until the server has processed it. Exit status 1 when the\n"
		"server refuses it (the user's permissions) or cannot be reached.\n\n"
		"  --nats URL     server (default nats://127.0.0.1:4222, or $MDM_NATS_URL); credentials\n"
		"                 and TLS from MDM_NATS_USER, MDM_NATS_PASSWORD, MDM_NATS_NKEY_SEED,\n"
		"                 MDM_NATS_TLS_CA, ... (as the daemons' nats.* settings)\n"
		"  --timeout MS   how long to wait for the server (default 2000)\n\n"
		"example: MDM_NATS_USER=collector MDM_NATS_PASSWORD=... mdmesh pub trade.TEST x\n");
}

int cmd_pub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nats", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *subject;
	unsigned char *data = NULL;
	size_t len = 0;
	unsigned long timeout_ms = 2000;
	struct mdm_bus *bus = NULL;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': url = optarg; break;
		case 't':
			timeout_ms = strtoul(optarg, &end, 10);
			if (*end || end == optarg || timeout_ms == 0) {
				fprintf(stderr, "mdmesh pub: --timeout '%s': milliseconds > 0\n", optarg);
				return 2;
			}
			break;
		case 'h': pub_usage(stdout); return 0;
		default: pub_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 && optind != argc - 2) {
		pub_usage(stderr);
		return 2;
	}
	subject = argv[optind];
	if (optind == argc - 2) {
		data = (unsigned char *)mdm_strdup(argv[optind + 1]);
		len = data ? strlen((char *)data) : 0;
		rc = data ? 0 : -ENOMEM;
	} else {
		rc = mdmesh_read_all(STDIN_FILENO, &data, &len);
	}
	if (rc != 0) {
		fprintf(stderr, "mdmesh pub: reading the message: %s\n", mdm_strerror(rc));
		return 1;
	}
	mdm_err_clear();
	rc = mdmesh_connect(url, "mdmesh-pub", &bus);
	if (rc == 0)
		rc = mdm_bus_publish(bus, subject, data, len);
	if (rc == 0)
		rc = mdm_bus_flush(bus, timeout_ms);
	if (rc != 0)
		fprintf(stderr, "mdmesh pub: %s: %s\n", subject, mdm_err_last()[0] ? mdm_err_last() : mdm_strerror(rc));
	mdm_bus_destroy(bus);
	mdm_free(data);
	return rc == 0 ? 0 : 1;
}
