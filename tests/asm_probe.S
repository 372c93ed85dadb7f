/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Code written in assembly, for test_symbolizer: assembled with -g, its
 * compile unit has a line table and an address range, and without a .type
 * directive gas gives it no function DIE.
 */
	.text
	.globl	sonde_asm_probe
sonde_asm_probe:
	xorl	%eax, %eax
	ret
	.section .note.GNU-stack, "", @progbits
