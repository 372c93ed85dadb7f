/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: the unwinder against a hostile stack copy. Every process
 * writes its own stack, and the daemon reads return addresses and saved
 * registers out of the copy and evaluates its binaries' CFI against them.
 *
 * Input: one byte choosing where the walk starts (a function of this binary
 * or of libc, so that its CFI is real), a 16-bit offset into it, 8 bytes of
 * bp, then the stack from sp up (at most SONDE_UCOPY_MAX). So that the
 * fuzzer can plant return addresses in real code without guessing a load
 * address, a stack word whose top byte is 0xa5 becomes this binary's text
 * plus its low 20 bits, and one whose top byte is 0xa6 libc's text plus
 * them. The frames must be at most max; a walk that reached the outermost
 * frame must report a top inside the copy, and a frame-pointer fallback walk
 * (the kernel's) is given too, made of the same words.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sonde_events.h"
#include "symbolizer.h"
#include "unwinder.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAKE_SP 0x7ffd00000000ull
#define MAX_OUT 64

/* The harness's state, made once: the caches are what a long-running daemon has. */
static struct symbolizer *sym;
static struct unwinder *uw;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sym = symbolizer__new(NULL);
	uw = sym ? unwinder__new(sym, NULL) : NULL;
	if (!uw)
		abort();
	symbolizer__begin(sym);
	return 0;
}

static uint64_t start_of(uint8_t which)
{
	switch (which % 4) {
	case 0:
		return (uint64_t)(uintptr_t)&LLVMFuzzerTestOneInput;
	case 1:
		return (uint64_t)(uintptr_t)&start_of;
	case 2:
		return (uint64_t)(uintptr_t)&memcpy;
	default:
		return (uint64_t)(uintptr_t)&qsort;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t self = (uint64_t)(uintptr_t)&LLVMFuzzerTestOneInput & ~0xfffffull;
	uint64_t libc = (uint64_t)(uintptr_t)&memcpy & ~0xfffffull;
	uint64_t out[MAX_OUT], fp[MAX_OUT], w;
	struct unwinder_result res;
	struct unwinder_input in;
	uint8_t *stack;
	size_t len, n, max, n_fp = 0;
	uint16_t off;

	if (!uw)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 11)
		return 0;
	len = size - 11;
	if (len > SONDE_UCOPY_MAX)
		len = SONDE_UCOPY_MAX;
	stack = malloc(len ? len : 1);
	if (!stack)
		return 0;
	memcpy(stack, data + 11, len);
	for (size_t i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, stack + i, 8);
		if (w >> 56 == 0xa5)
			w = self + (w & 0xfffff);
		else if (w >> 56 == 0xa6)
			w = libc + (w & 0xfffff);
		else
			continue;
		memcpy(stack + i, &w, 8);
		if (n_fp < MAX_OUT)
			fp[n_fp++] = w;
	}
	memcpy(&off, data + 1, sizeof(off));
	memset(&in, 0, sizeof(in));
	in.pid = (uint32_t)getpid();
	in.ip = start_of(data[0]) + (off & 0x3ff);
	in.sp = FAKE_SP;
	memcpy(&in.bp, data + 3, sizeof(in.bp));
	in.stack = stack;
	in.stack_len = len;
	in.fp_frames = fp;
	in.n_fp = n_fp;
	max = data[0] & 0x80 ? MAX_OUT : 1 + data[0] % 8u;
	n = unwinder__unwind(uw, &in, out, max, &res);
	if (n > max)
		abort();
	if (res.outermost && (res.top < in.sp || res.top > in.sp + len))
		abort();
	free(stack);
	return 0;
}
