/* Replays every file of a corpus directory through LLVMFuzzerTestOneInput,
 * so fuzz targets run under ctest with any compiler. An empty or unreadable
 * directory fails: a replay that ran nothing must not pass. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "mdm_mem.h"

static int replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got;
	FILE *f;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	f = fopen(path, "rb");
	if (!f)
		return -1;
	buf = mdm_malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fclose(f);
		return -1;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (got != (size_t)st.st_size) {
		mdm_free(buf);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, got);
	mdm_free(buf);
	return 1;
}

int main(int argc, char **argv)
{
	struct dirent *e;
	unsigned files = 0;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		int rc;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		rc = replay_file(path);
		if (rc < 0) {
			fprintf(stderr, "%s: cannot read\n", path);
			closedir(d);
			return 1;
		}
		files += (unsigned)rc;
	}
	closedir(d);
	printf("replayed %u file(s) from %s\n", files, argv[1]);
	return files ? 0 : 1;
}
