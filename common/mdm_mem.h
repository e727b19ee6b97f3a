/* All heap allocation in mdmesh goes through these wrappers: they account the
 * bytes in use (for stats and leak checks) and let tests and fuzzers inject
 * allocation failures so error paths really run. Thread-safe. */
#ifndef MDM_MEM_H
#define MDM_MEM_H

#include <stddef.h>
#include <stdint.h>

void *mdm_malloc(size_t size);
void *mdm_calloc(size_t nmemb, size_t size);
void *mdm_realloc(void *ptr, size_t size);
char *mdm_strdup(const char *s);
char *mdm_strndup(const char *s, size_t n);
void mdm_free(void *ptr);

/* Bytes currently allocated through mdm_* (approximate: headers excluded). */
uint64_t mdm_mem_used(void);

/* Write a zero to each 4 KiB page of [p, p + len): memory the kernel maps
 * lazily (DPDK's heap under --no-huge, a large malloc) is faulted in now, at
 * start-up, not on the first pass of the hot path. Only for memory whose
 * content does not matter yet (a ring's slots, zeroed tables). */
void mdm_prefault(void *p, size_t len);

/* Fault injection for tests: the n-th allocation from now (1 = the next one)
 * and every one after it fail, until mdm_mem_fail_reset(). n = 0 disables. */
void mdm_mem_fail_after(uint64_t n);
void mdm_mem_fail_reset(void);

#endif
