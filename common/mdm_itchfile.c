/* NASDAQ BinaryFILE reader and writer over zlib's gz* API, which reads a
 * plain file unchanged (gzip is recognised by its magic) and writes either. */
#include "mdm_itchfile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "mdm_err.h"
#include "mdm_mem.h"

/* Read window: any record (at most 2 + 65535 bytes) fits; large enough that
 * refills are rare. */
#define ITCHFILE_BUF (256u * 1024u)
#define ITCHFILE_PATH_MAX 512

struct mdm_itchfile {
	gzFile gz;
	struct mdm_itchfile_stats st;
	uint64_t base;      /* uncompressed offset of buf[0] */
	size_t pos, end;    /* unread bytes are buf[pos..end) */
	bool eof;           /* the stream has nothing more */
	bool started;
	char path[ITCHFILE_PATH_MAX];
	uint8_t buf[ITCHFILE_BUF];
};

size_t mdm_itchfile_type_len(uint8_t type)
{
	switch (type) {
#define ITCH_MSG(t, name, length, ...) \
	case t: return length;
#include "itch_msgs.def"
#undef ITCH_MSG
	default: return 0;
	}
}

int mdm_itchfile_open(struct mdm_itchfile **out, const char *path)
{
	struct mdm_itchfile *r;

	*out = NULL;
	r = mdm_calloc(1, sizeof(*r));
	if (!r)
		return mdm_err_set(-ENOMEM, "%s: out of memory", path);
	snprintf(r->path, sizeof(r->path), "%s", path);
	errno = 0;
	r->gz = gzopen(path, "rb");
	if (!r->gz) {
		int e = errno ? errno : ENOMEM;

		mdm_free(r);
		return mdm_err_set(-e, "%s: %s", path, strerror(e));
	}
	gzbuffer(r->gz, 128 * 1024);
	*out = r;
	return 0;
}

/* Make at least `need` unread bytes available, or as many as the file has.
 * 0, or -EIO on a read or gzip data error. A gzip stream cut short ends the
 * input (reported through stats.gzip_cut), like a plain file cut short. */
static int fill(struct mdm_itchfile *r, size_t need)
{
	if (r->end - r->pos >= need || r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->base += r->pos;
		r->end -= r->pos;
		r->pos = 0;
	}
	while (r->end < need && !r->eof) {
		int n = gzread(r->gz, r->buf + r->end, (unsigned)(sizeof(r->buf) - r->end));

		if (!r->started) {
			r->started = true;
			r->st.gzip = gzdirect(r->gz) == 0;
		}
		if (n > 0) {
			r->end += (size_t)n;
			continue;
		}
		{
			int zerr = Z_OK;
			const char *msg = gzerror(r->gz, &zerr);

			if (n < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
				if (zerr == Z_ERRNO)
					msg = strerror(errno);
				return mdm_err_set(-EIO, "%s: offset %" PRIu64 ": %s", r->path, r->base + r->end,
						   msg && *msg ? msg : "read error");
			}
			if (zerr == Z_BUF_ERROR)
				r->st.gzip_cut = true;
		}
		r->eof = true;
	}
	return 0;
}

static int truncated(struct mdm_itchfile *r, uint32_t want)
{
	r->st.truncated = true;
	r->st.truncated_offset = r->base + r->pos;
	r->st.truncated_have = (uint32_t)(r->end - r->pos);
	r->st.truncated_want = want;
	r->pos = r->end;
	return 0;
}

int mdm_itchfile_next(struct mdm_itchfile *r, const uint8_t **msg, size_t *len)
{
	size_t n;
	int rc = fill(r, 2);

	if (rc)
		return rc;
	if (r->end == r->pos)
		return 0;
	if (r->end - r->pos < 2)
		return truncated(r, 0);
	n = (size_t)r->buf[r->pos] << 8 | r->buf[r->pos + 1];
	if (n == 0) {
		/* RITCH-style: the type's fixed length stands in for the prefix */
		if ((rc = fill(r, 3)) != 0)
			return rc;
		if (r->end - r->pos < 3)
			return truncated(r, 0);
		n = mdm_itchfile_type_len(r->buf[r->pos + 2]);
		if (n == 0)
			return mdm_err_set(-EINVAL, "%s: offset %" PRIu64 ": zero length record of unknown type 0x%02x",
					   r->path, r->base + r->pos, r->buf[r->pos + 2]);
		r->st.zero_length++;
	}
	if ((rc = fill(r, 2 + n)) != 0)
		return rc;
	if (r->end - r->pos < 2 + n)
		return truncated(r, (uint32_t)(2 + n));
	*msg = r->buf + r->pos + 2;
	*len = n;
	r->pos += 2 + n;
	r->st.records++;
	r->st.bytes += 2 + n;
	return 1;
}

const struct mdm_itchfile_stats *mdm_itchfile_stats(const struct mdm_itchfile *r)
{
	return &r->st;
}

const char *mdm_itchfile_truncated_str(const struct mdm_itchfile *r, char *buf, size_t len)
{
	const struct mdm_itchfile_stats *s = &r->st;

	if (!s->truncated)
		snprintf(buf, len, "%s: complete", r->path);
	else if (s->truncated_want)
		snprintf(buf, len, "%s: truncated last record at offset %" PRIu64 " (%" PRIu32 " of %" PRIu32
			 " bytes)%s: ignored", r->path, s->truncated_offset, s->truncated_have, s->truncated_want,
			 s->gzip_cut ? ", gzip stream cut short" : "");
	else
		snprintf(buf, len, "%s: truncated last record at offset %" PRIu64 " (%" PRIu32
			 " bytes, length prefix incomplete)%s: ignored", r->path, s->truncated_offset,
			 s->truncated_have, s->gzip_cut ? ", gzip stream cut short" : "");
	return buf;
}

void mdm_itchfile_close(struct mdm_itchfile *r)
{
	if (!r)
		return;
	gzclose(r->gz);
	mdm_free(r);
}

/* ---- writer ---- */

struct mdm_itchfile_writer {
	gzFile gz;
	char path[ITCHFILE_PATH_MAX];
};

int mdm_itchfile_writer_open(struct mdm_itchfile_writer **out, const char *path, bool gzip)
{
	struct mdm_itchfile_writer *w;

	*out = NULL;
	w = mdm_calloc(1, sizeof(*w));
	if (!w)
		return mdm_err_set(-ENOMEM, "%s: out of memory", path);
	snprintf(w->path, sizeof(w->path), "%s", path);
	errno = 0;
	/* "T": transparent, i.e. a plain file through the same calls */
	w->gz = gzopen(path, gzip ? "wb6" : "wbT");
	if (!w->gz) {
		int e = errno ? errno : ENOMEM;

		mdm_free(w);
		return mdm_err_set(-e, "%s: %s", path, strerror(e));
	}
	*out = w;
	return 0;
}

int mdm_itchfile_write(struct mdm_itchfile_writer *w, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	int zerr;

	if (len == 0 || len > 65535)
		return mdm_err_set(-EINVAL, "%s: record of %zu bytes (1..65535)", w->path, len);
	if (gzwrite(w->gz, hdr, 2) != 2 || gzwrite(w->gz, msg, (unsigned)len) != (int)len)
		return mdm_err_set(-EIO, "%s: write: %s", w->path, gzerror(w->gz, &zerr));
	return 0;
}

int mdm_itchfile_writer_close(struct mdm_itchfile_writer *w)
{
	int rc = 0;

	if (!w)
		return 0;
	if (gzclose(w->gz) != Z_OK)
		rc = mdm_err_set(-EIO, "%s: write failed at close", w->path);
	mdm_free(w);
	return rc;
}
