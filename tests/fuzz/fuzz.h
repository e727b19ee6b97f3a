/* The prologue every fuzz target shares: the libFuzzer entry point (each
 * fuzz_<parser>.c defines it; replay_main.c or libFuzzer calls it) and the
 * invariant check, which aborts in every build type (assert would vanish
 * under NDEBUG) so libFuzzer and the ctest replay both report a crash. */
#ifndef MDM_FUZZ_H
#define MDM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)         \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#endif
