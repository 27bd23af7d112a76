/* The board side of the example: startup for QEMU mps2-an386 (board.c) and output
 * through Arm semihosting (QEMU: -semihosting-config enable=on,target=native). */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

/* Writes a NUL-terminated string to the host's stdout. */
void print(const char *text);
/* Writes `value` in decimal. */
void print_uint(uint32_t value);
/* Fills the free stack below the caller with a pattern (done at reset). */
void stack_paint(void);
/* Bytes of stack used since the last stack_paint(): the deepest overwritten word. */
uint32_t stack_used_bytes(void);

#endif
