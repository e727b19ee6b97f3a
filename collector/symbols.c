/* Locate -> symbol table: a flat array of 65536 NUL-terminated names. */
#include "symbols.h"

#include <errno.h>
#include <string.h>

#include "mdm_mem.h"

/* R message: stock at offset 11 (itch_msgs.def, stock_directory). */
#define SYMBOLS_R_STOCK_OFF 11

struct symbols {
	struct symbols_stats stats;
	/* name[locate]: "" = unknown. 9 bytes per entry keeps the table at
	 * 576 KiB; the entry is read with the rest of the event anyway. */
	char name[SYMBOLS_LOCATES][SYMBOLS_LEN + 1];
};

int symbols_create(struct symbols **out)
{
	if (!out)
		return -EINVAL;
	*out = mdm_calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void symbols_destroy(struct symbols *s)
{
	mdm_free(s);
}

bool symbols_set(struct symbols *s, uint16_t locate, const uint8_t *stock)
{
	char *dst = s->name[locate];
	size_t n = SYMBOLS_LEN;

	while (n > 0 && stock[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n; i++) {
		if (stock[i] < 0x21 || stock[i] > 0x7e)
			n = 0;
	}
	if (n == 0) {
		s->stats.rejected++;
		return false;
	}
	if (dst[0] == '\0')
		s->stats.known++;
	else if (strncmp(dst, (const char *)stock, n) != 0 || dst[n] != '\0')
		s->stats.redefined++;
	memcpy(dst, stock, n);
	dst[n] = '\0';
	s->stats.set++;
	return true;
}

bool symbols_apply(struct symbols *s, const struct itch_msg *m)
{
	if (m->type != 'R')
		return false;
	return symbols_set(s, m->stock_locate, m->p + SYMBOLS_R_STOCK_OFF);
}

const char *symbols_get(struct symbols *s, uint16_t locate)
{
	const char *name = s->name[locate];

	if (__builtin_expect(name[0] == '\0', 0))
		s->stats.unknown++;
	return name;
}

const char *symbols_peek(const struct symbols *s, uint16_t locate)
{
	return s->name[locate];
}

void symbols_reset(struct symbols *s)
{
	memset(s->name, 0, sizeof(s->name));
	s->stats.known = 0;
}

const struct symbols_stats *symbols_stats(const struct symbols *s)
{
	return &s->stats;
}
