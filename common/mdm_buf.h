/* Growable byte buffer. It only grows (reused across calls), so steady-state
 * users stop allocating once it has reached its working size. */
#ifndef MDM_BUF_H
#define MDM_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct mdm_buf {
	char *data;  /* NUL-terminated when cap > 0 */
	size_t len;  /* bytes in use, excluding the terminator */
	size_t cap;  /* bytes allocated */
	int oom;     /* set once an append failed; appends are then no-ops */
};

#define MDM_BUF_INIT { NULL, 0, 0, 0 }

/* Ensure room for `extra` more bytes plus a terminator. 0 or -ENOMEM. */
int mdm_buf_reserve(struct mdm_buf *b, size_t extra);
/* Append bytes / a string / formatted text. 0 or -ENOMEM (also sets b->oom). */
int mdm_buf_append(struct mdm_buf *b, const void *p, size_t n);
int mdm_buf_puts(struct mdm_buf *b, const char *s);
int mdm_buf_putc(struct mdm_buf *b, char c);
int mdm_buf_printf(struct mdm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mdm_buf_vprintf(struct mdm_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Forget the contents, keep the memory. */
void mdm_buf_reset(struct mdm_buf *b);
/* Free the memory; the buffer may be reused afterwards. */
void mdm_buf_fini(struct mdm_buf *b);

#endif
