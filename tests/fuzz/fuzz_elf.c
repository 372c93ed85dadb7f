/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzz target: the ELF reader. Binaries come from processes that may be
 * hostile (a container controls its own files, and sonde reads them as
 * root): symbols, program headers, sections and the build-ID note are all
 * read from the input through libelf, then looked up at a few offsets. The
 * same input also serves as a separate debug file of itself, its
 * .gnu_debuglink is read, and its MiniDebugInfo (.gnu_debugdata, xz) is
 * decompressed and read in turn.
 */
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (elf_version(EV_CURRENT) == EV_NONE)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libelf may write into an ELF_C_READ_MMAP image; give it a copy. */
	char *copy = malloc(size ? size : 1);
	struct elf_image img;
	Elf *e;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	e = elf_memory(copy, size);
	if (e) {
		memset(&img, 0, sizeof(img));
		if (elf_image__load(&img, e) == 0) {
			static const uint64_t offs[] = {0, 0x40, 0x1000, 0x1234, UINT64_MAX};
			const char *name;
			uint64_t sym_off;

			char link[256];
			uint32_t crc;

			for (int pass = 0; pass < 2; pass++) {
				for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
					if (elf_image__find(&img, offs[i], &name, &sym_off) == 0 &&
					    !name)
						abort();
				if (pass == 0 && elf_image__add_debug(&img, e))
					break;
			}
			if (elf_debuglink(e, link, sizeof(link), &crc) == 0 &&
			    (!link[0] || strchr(link, '/') || strlen(link) >= sizeof(link)))
				abort();
			elf_image__release(&img);
			/* Its MiniDebugInfo, decompressed and read as an ELF of its own. */
			if (elf_image__load(&img, e) == 0) {
				if (elf_image__add_minidebug(&img, e) == 0 && !img.has_symtab)
					abort();
				for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
					if (elf_image__find(&img, offs[i], &name, &sym_off) == 0 &&
					    !name)
						abort();
				elf_image__release(&img);
			}
		}
		elf_end(e);
	}
	free(copy);
	return 0;
}
