/* `mdmesh nkey`: NATS nkey pairs without the nk tool (Debian has none).
 * `gen` makes a pair and writes the seed to a new 0600 file; `pub` prints the
 * public key of a seed file, which is what nats-server's config lists. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cmds.h"
#include "mdm_err.h"
#include "mdm_nkey.h"

static void nkey_usage(FILE *f)
{
	fprintf(f,
		"usage: mdmesh nkey gen [--type TYPE] --seed-file FILE\n"
		"       mdmesh nkey pub SEED_FILE\n\n"
		"NATS nkeys (Ed25519) in nk's format.\n"
		"  gen   make a key pair: the seed (SU...) goes to FILE, created with mode 0600 (an\n"
		"        existing file is never overwritten); the public key (U...) is printed\n"
		"  pub   print the public key of the seed in SEED_FILE (a seed file or a .creds file)\n\n"
		"  --type TYPE        user (default), account, operator, server, cluster\n"
		"  --seed-file FILE   where gen writes the seed\n\n"
		"The daemons take the seed file as nats.nkey_seed (or MDM_NATS_NKEY_SEED); the server's\n"
		"config lists the public key: authorization { users = [ { nkey: U... } ] }.\n"
		"example: mdmesh nkey gen --seed-file /etc/mdmesh/processor.nk\n");
}

static int parse_type(const char *s, enum mdm_nkey_type *t)
{
	static const struct {
		const char *name;
		enum mdm_nkey_type type;
	} types[] = {
		{ "user", MDM_NKEY_USER },         { "account", MDM_NKEY_ACCOUNT }, { "operator", MDM_NKEY_OPERATOR },
		{ "server", MDM_NKEY_SERVER },     { "cluster", MDM_NKEY_CLUSTER },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(s, types[i].name) == 0) {
			*t = types[i].type;
			return 0;
		}
	}
	return -EINVAL;
}

/* Write seed + "\n" to a new file only its owner can read. */
static int write_seed(const char *path, const char *seed)
{
	char line[MDM_NKEY_SEED_LEN + 2];
	size_t len = (size_t)snprintf(line, sizeof(line), "%s\n", seed);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return mdm_err_set(-errno, "%s: %s", path, strerror(errno));
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
		int err = errno ? errno : EIO;

		close(fd);
		unlink(path);
		return mdm_err_set(-err, "%s: %s", path, strerror(err));
	}
	if (close(fd) != 0)
		return mdm_err_set(-errno, "%s: %s", path, strerror(errno));
	return 0;
}

static int nkey_gen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "seed-file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum mdm_nkey_type type = MDM_NKEY_USER;
	const char *path = NULL;
	char seed[MDM_NKEY_SEED_LEN + 1], pub[MDM_NKEY_PUBLIC_LEN + 1];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_type(optarg, &type) != 0) {
				fprintf(stderr, "mdmesh nkey gen: --type '%s': user, account, operator, server or cluster\n",
					optarg);
				return 2;
			}
			break;
		case 'f': path = optarg; break;
		case 'h': nkey_usage(stdout); return 0;
		default: nkey_usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		fprintf(stderr, "mdmesh nkey gen: --seed-file FILE is required (the seed is never printed)\n");
		return 2;
	}
	rc = mdm_nkey_generate(type, seed, pub);
	if (rc == 0)
		rc = write_seed(path, seed);
	OPENSSL_cleanse(seed, sizeof(seed));
	if (rc != 0) {
		fprintf(stderr, "mdmesh nkey gen: %s\n", mdm_err_last());
		return 1;
	}
	printf("%s\n", pub);
	return 0;
}

int cmd_nkey(int argc, char **argv)
{
	char pub[MDM_NKEY_PUBLIC_LEN + 1];

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		nkey_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "gen") == 0)
		return nkey_gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "pub") == 0) {
		if (argc != 3) {
			fprintf(stderr, "mdmesh nkey pub: one SEED_FILE\n");
			return 2;
		}
		if (mdm_nkey_public_from_seed_file(argv[2], pub) != 0) {
			fprintf(stderr, "mdmesh nkey pub: %s\n", mdm_err_last());
			return 1;
		}
		printf("%s\n", pub);
		return 0;
	}
	fprintf(stderr, "mdmesh nkey: unknown command '%s' (gen or pub)\n", argv[1]);
	return 2;
}
