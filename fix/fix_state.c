/* Durable session numbers (fix_state.h). */
#include "fix_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mdm_err.h"

int fix_state_load(const char *path, struct fix_state *st)
{
	char buf[256];
	FILE *f;
	int found = 0, line = 0;

	st->next_out = 1;
	st->next_in = 1;
	f = fopen(path, "r");
	if (!f)
		return mdm_err_set(-errno, "%s: %s", path, strerror(errno));
	while (fgets(buf, sizeof(buf), f)) {
		uint64_t v;
		char key[32];

		line++;
		if (buf[0] == '#' || buf[0] == '\n')
			continue;
		if (sscanf(buf, "%31[a-z_]=%" SCNu64, key, &v) != 2 || v < 1) {
			fclose(f);
			return mdm_err_set(-EINVAL, "%s:%d: expected next_out=N or next_in=N (N >= 1)", path, line);
		}
		if (strcmp(key, "next_out") == 0)
			st->next_out = v, found |= 1;
		else if (strcmp(key, "next_in") == 0)
			st->next_in = v, found |= 2;
	}
	fclose(f);
	if (found != 3)
		return mdm_err_set(-EINVAL, "%s: next_out and next_in are both required", path);
	return 0;
}

int fix_state_save(const char *path, const struct fix_state *st)
{
	char tmp[4096], dir[4096], text[128];
	int fd, n, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return mdm_err_set(-ENAMETOOLONG, "%s: path too long", path);
	n = snprintf(text, sizeof(text), "# mdmesh-fix session numbers\nnext_out=%" PRIu64 "\nnext_in=%" PRIu64 "\n",
		     st->next_out, st->next_in);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return mdm_err_set(-errno, "%s: %s", tmp, strerror(errno));
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
		rc = mdm_err_set(errno ? -errno : -EIO, "%s: %s", tmp, strerror(errno ? errno : EIO));
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = mdm_err_set(-errno, "%s: rename: %s", path, strerror(errno));
	if (rc != 0)
		return rc;
	/* the rename itself is durable only once the directory is synced */
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mdm_err_set(-errno, "%s: %s", dir, strerror(errno));
	if (fsync(fd) != 0)
		rc = mdm_err_set(-errno, "%s: fsync: %s", dir, strerror(errno));
	close(fd);
	return rc;
}
