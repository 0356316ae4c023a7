#include "qmtkit/qmt/outbox_pool.hpp"

#include <cstring>
#include <new>

namespace qmtkit::qmt::detail {

OutboxRecord* OutboxPool::allocate(std::size_t topic_len, std::size_t payload_len) {
    const std::size_t n = record_size(topic_len, payload_len);
    if (used_ == 0) head_ = tail_ = 0;  // empty: the whole pool is one run
    std::size_t at = head_;
    if (!wrapped()) {
        const std::size_t to_end = cap_ - head_;
        if (n > to_end) {
            // Not at the end: at the start, before the tail, with the end padded.
            if (n > tail_) return nullptr;
            // A gap too small for a header is left without one: the walks know it (gap()).
            if (to_end >= sizeof(OutboxRecord)) {
                OutboxRecord* pad = new (bytes_ + head_) OutboxRecord{};
                pad->size = static_cast<std::uint16_t>(to_end);
                pad->state = OutboxRecord::State::pad;
            }
            used_ = static_cast<std::uint16_t>(used_ + to_end);
            at = 0;
        }
    } else if (n > static_cast<std::size_t>(tail_ - head_)) {
        return nullptr;
    }
    OutboxRecord* r = new (bytes_ + at) OutboxRecord{};
    r->size = static_cast<std::uint16_t>(n);
    r->state = OutboxRecord::State::free;
    head_ = static_cast<std::uint16_t>(at + n == cap_ ? 0 : at + n);
    used_ = static_cast<std::uint16_t>(used_ + n);
    return r;
}

void OutboxPool::reclaim(const at::EngineCore& engine) {
    while (used_ > 0) {
        if (const std::size_t g = gap(tail_); g > 0) {
            used_ = static_cast<std::uint16_t>(used_ - g);
            tail_ = 0;
            continue;
        }
        OutboxRecord* r = at(tail_);
        const bool done = r->state == OutboxRecord::State::pad ||
                          (r->state == OutboxRecord::State::free && !engine.on_wire(r->engine_seq));
        if (!done) return;
        used_ = static_cast<std::uint16_t>(used_ - r->size);
        tail_ = static_cast<std::uint16_t>(tail_ + r->size);
        if (tail_ == cap_) tail_ = 0;
    }
    head_ = tail_ = 0;
}

OutboxRecord* OutboxPool::skip_pad(std::size_t off, std::size_t left) {
    while (left > 0) {
        if (const std::size_t g = gap(off); g > 0) {
            left -= g;
            off = 0;
            continue;
        }
        OutboxRecord* r = at(off);
        if (r->state != OutboxRecord::State::pad) return r;
        left -= r->size;
        off = 0;  // a pad always runs to the end of the pool
    }
    return nullptr;
}

OutboxRecord* OutboxPool::next(OutboxRecord* r) {
    const std::size_t off = static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(r) - bytes_);
    // Bytes from the tail to the end of r: what is left after it.
    const std::size_t upto = (off >= tail_ ? off - tail_ : cap_ - tail_ + off) + r->size;
    if (upto >= used_) return nullptr;
    const std::size_t nxt = off + r->size == cap_ ? 0 : off + r->size;
    return skip_pad(nxt, used_ - upto);
}

}  // namespace qmtkit::qmt::detail
