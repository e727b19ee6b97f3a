#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "book_check.h"

#define MAX_LEVELS 1024

void book_assert_same(const struct book *a, const struct book *b, unsigned locates)
{
	static struct book_level_info x[MAX_LEVELS], y[MAX_LEVELS];
	uint64_t cur = 0;
	struct book_view v, w;

	assert_int_equal(book_stats(a)->orders, book_stats(b)->orders);
	assert_int_equal(book_stats(a)->levels, book_stats(b)->levels);
	while (book_next_order(a, &cur, &v)) {
		assert_true(book_order(b, v.ref, &w));
		assert_int_equal(w.price, v.price);
		assert_int_equal(w.shares, v.shares);
		assert_int_equal(w.side, v.side);
		assert_int_equal(w.locate, v.locate);
	}
	for (unsigned l = 0; l < locates; l++) {
		for (int side = 0; side < 2; side++) {
			unsigned n = book_levels(a, (uint16_t)l, side ? 'S' : 'B', x, MAX_LEVELS);

			assert_int_equal(book_levels(b, (uint16_t)l, side ? 'S' : 'B', y, MAX_LEVELS), n);
			assert_memory_equal(x, y, n * sizeof(x[0]));
		}
	}
}
