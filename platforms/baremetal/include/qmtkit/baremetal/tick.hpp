// The millisecond clock the core is given (`poll(now)`): a 32-bit counter the tick interrupt
// increments (one word: read atomically on a 32-bit MCU), widened to the core's 64-bit Instant
// in the superloop, so it does not wrap after 49 days.
#pragma once

#include <atomic>
#include <cstdint>

#include "qmtkit/common/types.hpp"

namespace qmtkit::baremetal {

class MillisecondTick {
  public:
    // From the 1 ms interrupt (SysTick, or any timer).
    void on_tick() {
        ms_.store(ms_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    // From the superloop only (it keeps the high word), at least once every 49 days.
    Instant now() {
        const std::uint32_t low = ms_.load(std::memory_order_relaxed);
        if (low < last_low_) high_ += 1ull << 32;
        last_low_ = low;
        return high_ + low;
    }

  private:
    std::atomic<std::uint32_t> ms_{0};
    std::uint32_t last_low_ = 0;
    Instant high_ = 0;
};

}  // namespace qmtkit::baremetal
