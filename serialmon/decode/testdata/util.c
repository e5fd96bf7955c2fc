/* Second compilation unit of the crash-decoder fixture. */

#include "fixture.h"

static inline __attribute__((always_inline)) int clamp(int v)
{
	if (v > 1000)
		return 1000;
	return v;
}

/* Two levels of inlining: clamp into limit into scale. */
static inline __attribute__((always_inline)) int limit(int v)
{
	return clamp(v) - 1;
}

__attribute__((noinline)) int scale(int v, int n)
{
	int r = limit(v) << n;
	return r + n;
}
