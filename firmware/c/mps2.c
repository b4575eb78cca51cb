/* Start-up and I/O for QEMU's mps2-an386 (Cortex-M4F): the vector table, a reset handler
   that sets up .data and .bss, paints the stack and turns on the FPU, and semihosting for
   output and exit. */
#include <stdint.h>

#include "board.h"

extern uint32_t _data_start, _data_end, _data_load, _bss_start, _bss_end;
extern uint32_t _stack_limit, _stack_top;

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

#define STACK_PAINT 0xACE0BACEu

__attribute__((section(".isr_vector"), used)) static const void *const vectors[16] = {
    &_stack_top,   Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0,             0,             0,             0,             Fault_Handler,
    Fault_Handler, 0,             Fault_Handler, Fault_Handler,
};

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void board_write(const char *s) {
    semihost(0x04, s); /* SYS_WRITE0 */
}

void board_exit(int code) {
    /* SYS_EXIT: ADP_Stopped_ApplicationExit ends QEMU with 0, RunTimeErrorUnknown with 1. */
    semihost(0x18, (const void *)(uintptr_t)(code == 0 ? 0x20026 : 0x20023));
    for (;;) {
    }
}

size_t board_stack_used(void) {
    const uint32_t *p = &_stack_limit;
    while (p < &_stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((const char *)&_stack_top - (const char *)p);
}

void Fault_Handler(void) {
    board_write("fault\n");
    board_exit(2);
}

void Reset_Handler(void) {
    uint32_t *src = &_data_load, *dst = &_data_start;
    while (dst < &_data_end) {
        *dst++ = *src++;
    }
    for (dst = &_bss_start; dst < &_bss_end; dst++) {
        *dst = 0;
    }
    /* Paint the free stack, leaving the 256 bytes this handler may use. */
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = &_stack_limit; (uintptr_t)dst < sp - 256; dst++) {
        *dst = STACK_PAINT;
    }
    /* CP10 and CP11 full access: the FPU, before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
    board_exit(main());
}
