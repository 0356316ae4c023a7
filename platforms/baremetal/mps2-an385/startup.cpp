// Reset to main() on the MPS2-AN385 (Cortex-M3): the vector table, the stack painted for the
// high-water measurement, .data copied from flash, .bss zeroed, static constructors run. No
// CMSIS, no newlib start-up code (the image links with -nostartfiles).
#include <cstdint>

#include "stack_usage.hpp"

extern "C" {
extern std::uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _sstack[], _estack[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();

void Reset_Handler();
void qmtkit_runtime_init();

// Handlers the application may define; until then an interrupt with no handler stops here.
void Default_Handler() {
    for (;;) {
    }
}
void NMI_Handler() __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler() __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler() __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler() __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler() __attribute__((weak, alias("Default_Handler")));
void SVC_Handler() __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler() __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler() __attribute__((weak, alias("Default_Handler")));
void UART0RX_Handler() __attribute__((weak, alias("Default_Handler")));
void UART0TX_Handler() __attribute__((weak, alias("Default_Handler")));
}

using Vector = void (*)();

// 16 system vectors and the AN385's 32 interrupts (UART0 RX = IRQ 0, TX = IRQ 1).
__attribute__((section(".isr_vector"), used)) const Vector qmtkit_vectors[16 + 32] = {
    reinterpret_cast<Vector>(_estack),
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    SVC_Handler,
    Default_Handler,  // debug monitor
    nullptr,
    PendSV_Handler,
    SysTick_Handler,
    UART0RX_Handler,  // IRQ 0
    UART0TX_Handler,  // IRQ 1
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
    Default_Handler,
};

// Paints the stack in assembly, before any C++ code has pushed a word on it (a naked function
// takes basic asm only: the pattern is written out); then the C++ run-time, then main() (which
// C++ may not call itself).
static_assert(qmtkit::baremetal::stack_usage::kPaint == 0xA5A5A5A5u, "the pattern below");
extern "C" __attribute__((naked)) void Reset_Handler() {
    asm volatile(
        "ldr r0, =_sstack\n"
        "ldr r1, =_estack\n"
        "ldr r2, =0xA5A5A5A5\n"
        "1: cmp r0, r1\n"
        "bhs 2f\n"
        "str r2, [r0], #4\n"
        "b 1b\n"
        "2: bl qmtkit_runtime_init\n"
        "bl main\n"
        "3: b 3b\n"
        ".ltorg\n");
}

extern "C" void qmtkit_runtime_init() {
    const std::uint32_t* src = _sidata;
    for (std::uint32_t* dst = _sdata; dst < _edata;) *dst++ = *src++;
    for (std::uint32_t* dst = _sbss; dst < _ebss;) *dst++ = 0;
    for (Vector* f = __init_array_start; f < __init_array_end; ++f) (*f)();
}
