// The few Cortex-M3 core registers the port touches (ARMv7-M ARM, B3.4 NVIC and B3.3 SysTick),
// without CMSIS: the reference port depends on nothing but the compiler.
#pragma once

#include <cstdint>

namespace qmtkit::baremetal::cortex_m3 {

inline volatile std::uint32_t& word(std::uintptr_t address) {
    return *reinterpret_cast<volatile std::uint32_t*>(address);
}

// NVIC: one bit per external interrupt (0..31 here) in set-enable, clear-enable, set-pending.
inline void irq_enable(unsigned irq) {
    word(0xE000E100u) = 1u << irq;
}
inline void irq_disable(unsigned irq) {
    word(0xE000E180u) = 1u << irq;
    asm volatile("dsb\n isb" ::: "memory");  // masked before the next instruction runs
}
inline void irq_pend(unsigned irq) {
    word(0xE000E200u) = 1u << irq;
}

// SysTick from the processor clock, an interrupt every `cycles`.
inline void systick_start(std::uint32_t cycles) {
    word(0xE000E014u) = cycles - 1;  // RVR
    word(0xE000E018u) = 0;           // CVR: start from the top
    word(0xE000E010u) = 0x7;         // CSR: enable, interrupt, processor clock
}

// Sleeps until an interrupt unless `busy` says there is work: tested with interrupts off, and
// WFI wakes on an interrupt that became pending meanwhile, so no wake-up is lost.
template <class Busy>
inline void sleep_unless(Busy busy) {
    asm volatile("cpsid i" ::: "memory");
    if (!busy()) asm volatile("dsb\n wfi" ::: "memory");
    asm volatile("cpsie i" ::: "memory");
}

}  // namespace qmtkit::baremetal::cortex_m3
