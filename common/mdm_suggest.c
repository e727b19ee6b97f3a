/* Did-you-mean edit distance, shared by the config loader and the rules compiler. */
#include "mdm_suggest.h"

#include <limits.h>

unsigned mdm_suggest_distance(const char *a, size_t la, const char *b, size_t lb)
{
	/* Three rows: the swap case looks two rows back. */
	unsigned rows[3][MDM_SUGGEST_LEN_MAX + 1];
	unsigned *pp = rows[0], *p = rows[1], *c = rows[2];

	if (la > MDM_SUGGEST_LEN_MAX || lb > MDM_SUGGEST_LEN_MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= lb; j++)
		p[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		c[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1], d = p[j] + 1;

			if (c[j - 1] + 1 < d)
				d = c[j - 1] + 1;
			if (p[j - 1] + cost < d)
				d = p[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			c[j] = d;
		}
		unsigned *t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[lb];
}
