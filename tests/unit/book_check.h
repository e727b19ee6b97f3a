/* A cmocka check shared by the tests of the book's copies (checkpoint,
 * replica): two books hold the same orders, levels and lists. */
#ifndef BOOK_CHECK_H
#define BOOK_CHECK_H

#include "book.h"

/* Same live orders (price, shares, side, locate), same gauges, and the same
 * level lists on both sides of every locate below `locates`. */
void book_assert_same(const struct book *a, const struct book *b, unsigned locates);

#endif
