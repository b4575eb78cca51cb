/* What the example needs from its board: a line of text out, an exit code, and how deep the
   stack went. mps2.c implements it for QEMU's mps2-an386; on a real board, write these over
   your UART or RTT and your reset. */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>

/* Writes a NUL-terminated string to the host. */
void board_write(const char *s);
/* Ends the run: 0 for success. */
void board_exit(int code) __attribute__((noreturn));
/* Bytes of stack used at the deepest point so far (the stack is painted at reset). */
size_t board_stack_used(void);

#endif
