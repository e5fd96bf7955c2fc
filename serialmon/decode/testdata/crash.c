/* Crash-decoder fixture: a few functions in flash and IRAM, one inlined,
 * one that a crash report points into. Built with Debian's
 * gcc-xtensa-lx106; see README.md for the exact command. */

#include "fixture.h"

volatile int sink;

struct sensor {
	int id;
	int value;
};

static struct sensor table[2] = { { 1, 20 }, { 2, 21 } };

/* Always inlined into crash_here: the load that faults on a NULL sensor. */
static inline __attribute__((always_inline)) int read_value(const struct sensor *s)
{
	return s->value;
}

/* A crash (Exception 28, LoadProhibited) points into here. */
__attribute__((noinline)) int crash_here(const struct sensor *s)
{
	int v = read_value(s);
	sink = v;
	return v + 1;
}

__attribute__((noinline)) void loop_step(int n)
{
	const struct sensor *s = n > 1 ? 0 : &table[n];
	sink = crash_here(s);
	sink = scale(sink, n);
}

/* An interrupt handler in IRAM (0x40100000), like IRAM_ATTR code. */
__attribute__((section(".iram.text"), noinline)) void isr_handler(void)
{
	sink = sink + 1;
}

void app_entry(void)
{
	int i;

	for (i = 0; i < 4; i++) {
		loop_step(i);
		isr_handler();
	}
}
