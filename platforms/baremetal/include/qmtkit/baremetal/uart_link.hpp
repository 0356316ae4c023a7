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
//   rx_ready()      a received byte waits in the UART
//   rx_take()       read it (the UART's receive register)
//   rx_ack()        clear the RX interrupt flag (called before draining: a UART that raises
//                   the flag again on the next byte must not have that raise cleared)
//   rx_irq_mask()   disable the RX interrupt (NVIC), leaving the flag and the byte alone
//   rx_irq_repend() enable it again and set it pending (its flag was cleared before draining)
//   tx_ready()      the UART takes one more byte now
//   tx_put(b)       give it that byte
//   tx_ack()        clear the TX interrupt flag
//   tx_irq_mask() / tx_irq_unmask()   keep the TX interrupt out while the superloop starts a
//                   transmission (so it and the handler never both feed the UART)
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
                Port::rx_irq_mask();
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
        feed_uart();
    }

    // ---- superloop side
    // at::Writer: queues what fits, never waits for the UART.
    std::size_t write(const std::uint8_t* data, std::size_t size) override {
        const std::size_t n = tx_.push(data, size);
        if (n != 0) {
            Port::tx_irq_mask();
            if (!tx_busy_) feed_uart();  // idle: no TX interrupt would come to start it
            Port::tx_irq_unmask();
        }
        return n;
    }
    // What has arrived, up to `max` bytes.
    std::size_t read(std::uint8_t* out, std::size_t max) {
        const std::size_t n = rx_.pop(out, max);
        if (rx_stalled_.load(std::memory_order_acquire) && !rx_.full()) {
            // Cleared before re-pending: the handler may run (and stall again) at once.
            rx_stalled_.store(false, std::memory_order_relaxed);
            Port::rx_irq_repend();
        }
        return n;
    }
    bool rx_empty() const { return rx_.empty(); }
    bool tx_idle() const { return !tx_busy_; }
    // Times the RX ring was full and the UART was made to hold a byte.
    std::uint32_t rx_stalls() const { return stalls_.load(std::memory_order_relaxed); }
    static constexpr std::size_t rx_capacity() { return RxBytes; }
    static constexpr std::size_t tx_capacity() { return TxBytes; }

  private:
    // From the TX handler, or from write() with the TX interrupt masked: one feeder at a time.
    void feed_uart() {
        while (Port::tx_ready()) {
            std::uint8_t b = 0;
            if (!tx_.pop(b)) {
                tx_busy_ = false;
                return;
            }
            Port::tx_put(b);
            tx_busy_ = true;  // a byte is out: its TX interrupt will call again
        }
    }

    SpscRing<RxBytes> rx_;  // producer: RX interrupt; consumer: read()
    SpscRing<TxBytes> tx_;  // producer: write(); consumer: TX interrupt (or write(), masked)
    std::atomic<bool> rx_stalled_{false};
    std::atomic<std::uint32_t> stalls_{0};
    volatile bool tx_busy_ = false;  // changed only with the TX interrupt masked, or in it
};

}  // namespace qmtkit::baremetal
