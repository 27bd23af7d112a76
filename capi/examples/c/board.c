/*
 * Startup for QEMU mps2-an386 (Cortex-M4F): the vector table, a reset handler that
 * enables the FPU, copies .data, zeroes .bss, paints the stack, calls main() and exits
 * through semihosting with main's status; and semihosting output.
 */
#include <stdint.h>

#include "board.h"

int main(void);

/* From mps2-an386.ld. */
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];

#define STACK_PAINT 0xC5C5C5C5u

/* Semihosting operations (Arm "Semihosting for AArch32 and AArch64"). */
#define SYS_OPEN 0x01
#define SYS_WRITE 0x05
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN 0x20023

static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* The host's stdout: the special file ":tt" opened for writing (mode 4, "w"). SYS_WRITE
 * to it goes to QEMU's stdout, where SYS_WRITE0 would go to its console (stderr). */
static uint32_t host_stdout(void) {
    static uint32_t handle;
    static int opened;
    if (!opened) {
        static const char name[] = ":tt";
        const uint32_t args[3] = {(uint32_t)(uintptr_t)name, 4, sizeof name - 1};
        handle = semihost(SYS_OPEN, args);
        opened = 1;
    }
    return handle;
}

void print(const char *text) {
    uint32_t len = 0;
    while (text[len] != '\0') {
        len++;
    }
    const uint32_t args[3] = {host_stdout(), (uint32_t)(uintptr_t)text, len};
    semihost(SYS_WRITE, args);
}

void print_uint(uint32_t value) {
    char digits[11];
    char *p = &digits[sizeof digits - 1];
    *p = '\0';
    do {
        *--p = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    print(p);
}

void stack_paint(void) {
    /* Up to 64 bytes below the caller's stack pointer, clear of this function's frame. */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *word = __stack_bottom; word < sp - 16;) {
        *word++ = STACK_PAINT;
    }
}

uint32_t stack_used_bytes(void) {
    const uint32_t *word = __stack_bottom;
    while (word < __stack_top && *word == STACK_PAINT) {
        word++;
    }
    return (uint32_t)((const uint8_t *)__stack_top - (const uint8_t *)word);
}

/* On AArch32, SYS_EXIT takes the reason itself: QEMU exits 0 for ApplicationExit, 1
 * otherwise. */
static void __attribute__((noreturn)) semihost_exit(int status) {
    semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                             : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN));
    for (;;) {
    }
}

void Reset_Handler(void) __attribute__((noreturn));
void Reset_Handler(void) {
    /* CPACR: full access to CP10 and CP11 (the FPU) before any float instruction. */
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    stack_paint();
    semihost_exit(main());
}

/* Every fault and unexpected interrupt: report and exit with a failure. */
void Default_Handler(void) __attribute__((noreturn));
void Default_Handler(void) {
    print("error fault or unexpected interrupt\n");
    semihost_exit(1);
}

/* The Cortex-M vector table: initial stack pointer, then the exception handlers (the
 * example enables no interrupt, so the device vectors are left out). */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    Reset_Handler,
    Default_Handler, /* NMI */
    Default_Handler, /* HardFault */
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};
