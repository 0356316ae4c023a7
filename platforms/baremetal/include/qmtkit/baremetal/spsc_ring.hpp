// A single-producer / single-consumer byte ring for an interrupt handler and the superloop: one
// side only pushes, the other only pops, so no lock and no interrupt masking is needed. The
// indices run free (wrap at 2^32) and N is a power of two, so full and empty are told apart
// without a spare slot. std::atomic<uint32_t> is a plain load / store with a barrier on a
// Cortex-M3 (lock-free, no libatomic).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace qmtkit::baremetal {

template <std::size_t N>
class SpscRing {
    static_assert(N >= 2 && (N & (N - 1)) == 0, "the capacity is a power of two");
    static_assert(N <= 0x8000u, "indices compared as 32-bit differences");

  public:
    static constexpr std::size_t capacity() { return N; }

    // ---- producer side
    bool push(std::uint8_t b) {
        const std::uint32_t h = head_.load(std::memory_order_relaxed);
        if (h - tail_.load(std::memory_order_acquire) == N) return false;
        buf_[h & (N - 1)] = b;
        head_.store(h + 1, std::memory_order_release);  // the byte is written before it counts
        return true;
    }
    // As many of `n` bytes as fit; returns how many.
    std::size_t push(const std::uint8_t* d, std::size_t n) {
        const std::uint32_t h = head_.load(std::memory_order_relaxed);
        const std::size_t room = N - (h - tail_.load(std::memory_order_acquire));
        if (n > room) n = room;
        for (std::size_t i = 0; i < n; ++i) buf_[(h + i) & (N - 1)] = d[i];
        head_.store(h + static_cast<std::uint32_t>(n), std::memory_order_release);
        return n;
    }
    bool full() const {
        return head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire) == N;
    }

    // ---- consumer side
    bool pop(std::uint8_t& b) {
        const std::uint32_t t = tail_.load(std::memory_order_relaxed);
        if (head_.load(std::memory_order_acquire) == t) return false;
        b = buf_[t & (N - 1)];
        tail_.store(t + 1, std::memory_order_release);  // the slot is read before it is freed
        return true;
    }
    // Up to `n` bytes; returns how many.
    std::size_t pop(std::uint8_t* d, std::size_t n) {
        const std::uint32_t t = tail_.load(std::memory_order_relaxed);
        const std::size_t have = head_.load(std::memory_order_acquire) - t;
        if (n > have) n = have;
        for (std::size_t i = 0; i < n; ++i) d[i] = buf_[(t + i) & (N - 1)];
        tail_.store(t + static_cast<std::uint32_t>(n), std::memory_order_release);
        return n;
    }
    bool empty() const {
        return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_relaxed);
    }

    // Either side (a snapshot).
    std::size_t size() const {
        return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
    }

  private:
    std::uint8_t buf_[N];
    std::atomic<std::uint32_t> head_{0};  // written by the producer only
    std::atomic<std::uint32_t> tail_{0};  // written by the consumer only
};

}  // namespace qmtkit::baremetal
