/* Did-you-mean: the edit distance behind "unknown key (did you mean X?)" in
 * config files and rules. Callers pick their own candidates and their own
 * "close enough" limit (a one-letter slip in a 3-letter word is another word).
 * Pure, thread-safe, not hot-path (O(la * lb), on the stack). */
#ifndef MDM_SUGGEST_H
#define MDM_SUGGEST_H

#include <stddef.h>

#define MDM_SUGGEST_LEN_MAX 255 /* longest word or candidate compared */

/* Optimal string alignment distance between a[0..la) and b[0..lb): Levenshtein
 * plus adjacent swaps, so "ulr" is one edit from "url" and "sahres" one from
 * "shares".
 * @return the number of edits; UINT_MAX when la or lb is above
 *         MDM_SUGGEST_LEN_MAX (no suggestion). */
unsigned mdm_suggest_distance(const char *a, size_t la, const char *b, size_t lb);

#endif
