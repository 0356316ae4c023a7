// The UART between the superloop and the module, fed by interrupts: received bytes go into an
// SPSC ring from the RX interrupt, the engine's writes go into another that the TX interrupt
// drains. Nothing here waits: write() takes what fits (the engine retries the rest at its next
// poll), read() hands over what has arrived.
//
// Flow control: when the RX ring is full the RX interrupt leaves the byte in the UART and masks
// itself; the UART (or the line's hardware handshake, or QEMU's character backend) then holds
// further bytes back. read() re-pends the interrupt once it has made room, and the handler
// picks up where it stopped. No byte is dropped by the HAL.
//
// `Port` is what an OEM writes for their UART (docs/porting.md), all static:
//   rx_ready()    a received byte waits in the UART
//   rx_take()     read it (the UART's receive register)
//   rx_ack()      clear the RX interrupt flag; called before draining, since a UART that
//                 raises the flag again on the next byte must not have that raise cleared
//                 (nothing, where reading the register clears it)
//   rx_irq_off()  keep the RX interrupt from running, leaving the flag and the byte alone
//   rx_irq_on()   let it run again, and make it run now: the byte left behind may have no
//                 flag any more (NVIC set-pending; a level-triggered "RX not empty" needs none)
//   tx_ready()    the UART takes one more byte now
//   tx_put(b)     give it that byte
//   tx_ack()      clear the TX interrupt flag (nothing, where writing a byte clears it)
//   tx_irq_on()   the TX interrupt runs now (set pending, where it is an event) and whenever
//                 the UART can take a byte
//   tx_irq_off()  it does not run again until tx_irq_on(): the ring ran dry
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/baremetal/spsc_ring.hpp"

namespace qmtkit::baremetal {

template <class Port, std::size_t RxBytes, std::size_t TxBytes>
class UartLink final : public at::Writer {
  public:
    // ---- interrupt handlers (call from the UART's vectors)
    void on_rx_interrupt() {
        Port::rx_ack();
        while (Port::rx_ready()) {
            if (rx_.full()) {
                // The byte stays in the UART; read() re-pends once there is room.
                Port::rx_irq_off();
                rx_stalled_.store(true, std::memory_order_release);
                stalls_.store(stalls_.load(std::memory_order_relaxed) + 1,
                              std::memory_order_relaxed);
                return;
            }
            rx_.push(Port::rx_take());
        }
    }
    void on_tx_interrupt() {
        Port::tx_ack();
        while (Port::tx_ready()) {
            std::uint8_t b = 0;
            if (!tx_.pop(b)) {
                Port::tx_irq_off();  // write() turns it on again with the next bytes
                return;
            }
            Port::tx_put(b);
        }
    }

    // ---- superloop side
    // at::Writer: queues what fits, never waits for the UART. The TX interrupt does the rest,
    // also for the first byte (so the UART has one feeder only).
    std::size_t write(const std::uint8_t* data, std::size_t size) override {
        const std::size_t n = tx_.push(data, size);
        if (n != 0) Port::tx_irq_on();
        return n;
    }
    // What has arrived, up to `max` bytes.
    std::size_t read(std::uint8_t* out, std::size_t max) {
        const std::size_t n = rx_.pop(out, max);
        if (rx_stalled_.load(std::memory_order_acquire) && !rx_.full()) {
            // Cleared before re-pending: the handler may run (and stall again) at once.
            rx_stalled_.store(false, std::memory_order_relaxed);
            Port::rx_irq_on();
        }
        return n;
    }
    bool rx_empty() const { return rx_.empty(); }
    bool tx_empty() const { return tx_.empty(); }
    // Times the RX ring was full and the UART was made to hold a byte.
    std::uint32_t rx_stalls() const { return stalls_.load(std::memory_order_relaxed); }
    static constexpr std::size_t rx_capacity() { return RxBytes; }
    static constexpr std::size_t tx_capacity() { return TxBytes; }

  private:
    SpscRing<RxBytes> rx_;  // producer: RX interrupt; consumer: read()
    SpscRing<TxBytes> tx_;  // producer: write(); consumer: TX interrupt
    std::atomic<bool> rx_stalled_{false};
    std::atomic<std::uint32_t> stalls_{0};
};

}  // namespace qmtkit::baremetal
