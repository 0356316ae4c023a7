// The UartLink port for the MPS2-AN385's UART0: an Arm CMSDK APB UART at 0x40004000, RX on
// IRQ 0 (vector 16), TX on IRQ 1 (vector 17), a one-byte buffer each way (Cortex-M System
// Design Kit TRM, "APB UART"). What an OEM writes for their own UART has this shape.
#pragma once

#include <cstdint>

#include "cortex_m3.hpp"

namespace qmtkit::baremetal::mps2 {

inline constexpr std::uint32_t kCpuHz = 25000000;  // the AN385's system clock (and QEMU's)

struct CmsdkUart0 {
    static constexpr std::uintptr_t kBase = 0x40004000u;
    static constexpr unsigned kRxIrq = 0, kTxIrq = 1;
    // Registers and their bits.
    static volatile std::uint32_t& data() { return cortex_m3::word(kBase + 0x00); }
    static volatile std::uint32_t& state() { return cortex_m3::word(kBase + 0x04); }
    static volatile std::uint32_t& ctrl() { return cortex_m3::word(kBase + 0x08); }
    static volatile std::uint32_t& intstatus() { return cortex_m3::word(kBase + 0x0C); }
    static volatile std::uint32_t& bauddiv() { return cortex_m3::word(kBase + 0x10); }
    static constexpr std::uint32_t kTxFull = 1u << 0, kRxFull = 1u << 1;  // STATE
    static constexpr std::uint32_t kTxInt = 1u << 0, kRxInt = 1u << 1;    // INTSTATUS
    static constexpr std::uint32_t kTxEn = 1u << 0, kRxEn = 1u << 1,      // CTRL
        kTxIntEn = 1u << 2, kRxIntEn = 1u << 3;

    // 8N1 at `baud`; both interrupts enabled in the UART, RX in the NVIC (TX once there is
    // something to send).
    static void init(std::uint32_t baud) {
        bauddiv() = kCpuHz / baud;  // 16 at least (the UART ignores lower divisors)
        ctrl() = kTxEn | kRxEn | kTxIntEn | kRxIntEn;
        cortex_m3::irq_enable(kRxIrq);
    }

    // ---- UartLink's port (qmtkit/baremetal/uart_link.hpp)
    static bool rx_ready() { return (state() & kRxFull) != 0; }
    static std::uint8_t rx_take() { return static_cast<std::uint8_t>(data()); }
    // Write-one-to-clear, before DATA is read: reading DATA lets the next byte in, which sets
    // the flag again; clearing after the read would lose that byte's interrupt.
    static void rx_ack() { intstatus() = kRxInt; }
    static void rx_irq_off() { cortex_m3::irq_disable(kRxIrq); }
    // The flag was cleared before the byte left behind: pended by hand.
    static void rx_irq_on() {
        cortex_m3::irq_pend(kRxIrq);
        cortex_m3::irq_enable(kRxIrq);
    }
    static bool tx_ready() { return (state() & kTxFull) == 0; }
    static void tx_put(std::uint8_t b) { data() = b; }
    static void tx_ack() { intstatus() = kTxInt; }
    // The TX interrupt is an event (a byte went out): an idle UART raises none, so it is pended.
    static void tx_irq_on() {
        cortex_m3::irq_pend(kTxIrq);
        cortex_m3::irq_enable(kTxIrq);
    }
    static void tx_irq_off() { cortex_m3::irq_disable(kTxIrq); }
};

}  // namespace qmtkit::baremetal::mps2
