/* NASDAQ BinaryFILE, the format of the historical ITCH files
 * (MMDDYYYY.NASDAQ_ITCH50.gz): records of [u16 big-endian length][message].
 * A streaming reader (gzip'd or plain, told apart by the gzip magic; constant
 * memory: a full day is never loaded) and a writer. zlib's gz* API does the
 * I/O. Not hot-path; one thread per reader or writer. */
#ifndef MDM_ITCHFILE_H
#define MDM_ITCHFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the reader has seen. Offsets are in the uncompressed stream. */
struct mdm_itchfile_stats {
	uint64_t records;      /* records returned */
	uint64_t bytes;        /* uncompressed bytes consumed by those records */
	uint64_t zero_length;  /* records with a 0 length prefix, read at their type's fixed length
				* (what some tools write, e.g. RITCH): accepted, and counted here */
	bool gzip;             /* the file is gzip'd (known after the first record) */
	/* A cut-off tail, reported and not fatal: the records before it were returned. */
	bool truncated;
	uint64_t truncated_offset; /* where the incomplete record starts */
	uint32_t truncated_have;   /* bytes of it present (length prefix included) */
	uint32_t truncated_want;   /* bytes it needed (0 when even the prefix is cut) */
	bool gzip_cut;             /* the gzip stream itself ends early ("unexpected end of file") */
};

struct mdm_itchfile;

/* Open `path` for reading (gzip'd or plain). 0, or -errno with
 * "PATH: reason" via mdm_err_set. */
int mdm_itchfile_open(struct mdm_itchfile **out, const char *path);

/* Next record: *msg (valid until the next call) and *len (0 only when a
 * zero-length record's type is unknown: never; that is an error).
 * Returns 1, 0 at the end of the file (check stats.truncated), or -errno with
 * "PATH: offset N: reason" via mdm_err_set (-EIO for a read or gzip data
 * error, -EINVAL for a zero-length record of unknown type). */
int mdm_itchfile_next(struct mdm_itchfile *r, const uint8_t **msg, size_t *len);

const struct mdm_itchfile_stats *mdm_itchfile_stats(const struct mdm_itchfile *r);

/* One line for the user about a truncated tail: "PATH: truncated last record
 * at offset N (H of W bytes): ignored", into buf. Returns buf. */
const char *mdm_itchfile_truncated_str(const struct mdm_itchfile *r, char *buf, size_t len);

/* Close; NULL-safe. */
void mdm_itchfile_close(struct mdm_itchfile *r);

/* ---- writer ---- */

struct mdm_itchfile_writer;

/* Create `path` (truncating it); gzip'd when `gzip`. 0 or -errno with detail. */
int mdm_itchfile_writer_open(struct mdm_itchfile_writer **out, const char *path, bool gzip);

/* Append one record. len 1..65535. 0, -EINVAL, or -EIO with detail. */
int mdm_itchfile_write(struct mdm_itchfile_writer *w, const uint8_t *msg, size_t len);

/* Flush and close; NULL-safe. 0, or -EIO when the data did not reach the file. */
int mdm_itchfile_writer_close(struct mdm_itchfile_writer *w);

/* The fixed wire length of ITCH 5.0 message type `type`, 0 when unknown. */
size_t mdm_itchfile_type_len(uint8_t type);

#endif
