// The outbox's memory: one byte pool of variable-length records (header + topic + payload),
// used as a ring. Records are written at the head and reclaimed from the tail, in the order
// they were queued, so the ring order is the send order and a record never moves: the engine
// reads a payload in place while its command is on the wire. A record completed out of order
// leaves a hole that is reclaimed once every older record is done — a 1 KB message and a
// 20-byte one cost what they hold, not a fixed slot.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmtkit/at/engine.hpp"

namespace qmtkit::qmt::detail {

struct OutboxRecord {
    // pad: the unused end of the ring before a wrap. free: done, reclaimed once no command of
    // it is on the wire. acked: an earlier attempt's result came while the current attempt's
    // command is still on the wire; the record keeps its payload until that command has ended.
    enum class State : std::uint8_t { pad, free, queued, sending, awaiting, retry_wait, acked };
    Instant retry_at;
    std::uint32_t ticket;
    std::uint32_t engine_seq;  // the last command sent for it
    std::uint16_t size;        // bytes of the record, header included
    std::uint16_t msg_id;
    std::uint16_t topic_len;
    std::uint16_t payload_len;
    State state;
    std::uint8_t qos : 2;
    bool retain : 1;
    bool fixed : 1;
    bool stored : 1;  // journaled in the OutboxStore: released there on its final result
    std::uint8_t attempts;
    std::uint8_t retransmissions;
    std::uint8_t busy_retries;  // CME 159 answers in a row
    std::uint8_t failures;      // answers retrying may not heal, since the link last came up

    char* topic() { return reinterpret_cast<char*>(this + 1); }
    const char* topic() const { return reinterpret_cast<const char*>(this + 1); }
    std::uint8_t* payload() { return reinterpret_cast<std::uint8_t*>(topic() + topic_len); }
    const std::uint8_t* payload() const {
        return reinterpret_cast<const std::uint8_t*>(topic() + topic_len);
    }
};

class OutboxPool {
  public:
    static constexpr std::size_t kAlign = alignof(OutboxRecord);

    // capacity: below 64 KiB (Client<> checks it).
    OutboxPool(std::uint8_t* bytes, std::size_t capacity)
        : bytes_(bytes), cap_(static_cast<std::uint16_t>(capacity - capacity % kAlign)) {}

    static constexpr std::size_t record_size(std::size_t topic_len, std::size_t payload_len) {
        const std::size_t n = sizeof(OutboxRecord) + topic_len + payload_len;
        return (n + kAlign - 1) / kAlign * kAlign;
    }
    // Could a record of this size ever fit (with the pool empty)?
    bool fits(std::size_t topic_len, std::size_t payload_len) const {
        return record_size(topic_len, payload_len) <= cap_;
    }
    // A new record at the head (header zeroed but for size and state), or nullptr: no room now.
    OutboxRecord* allocate(std::size_t topic_len, std::size_t payload_len);
    // Advances the tail over done records whose command is off the wire.
    void reclaim(const at::EngineCore& engine);

    // Records oldest first (pads skipped; free ones included).
    OutboxRecord* first() { return used_ == 0 ? nullptr : skip_pad(tail_, used_); }
    OutboxRecord* next(OutboxRecord* r);
    const OutboxRecord* first() const { return const_cast<OutboxPool*>(this)->first(); }
    const OutboxRecord* next(const OutboxRecord* r) const {
        return const_cast<OutboxPool*>(this)->next(const_cast<OutboxRecord*>(r));
    }

    std::size_t used() const { return used_; }
    std::size_t capacity() const { return cap_; }

  private:
    // The pool is aligned for records and every record size is a multiple of kAlign.
    OutboxRecord* at(std::size_t off) {
        return static_cast<OutboxRecord*>(static_cast<void*>(bytes_ + off));
    }
    OutboxRecord* skip_pad(std::size_t off, std::size_t left);
    bool wrapped() const { return head_ < tail_ || (head_ == tail_ && used_ > 0); }
    // The ring's end from `off` on, when it is too short for a record header: skipped when the
    // ring wraps (no pad can be written there). 0 otherwise.
    std::size_t gap(std::size_t off) const {
        return off != 0 && cap_ - off < sizeof(OutboxRecord) ? cap_ - off : 0;
    }

    std::uint8_t* bytes_;
    std::uint16_t cap_;
    std::uint16_t head_ = 0;  // where the next record goes
    std::uint16_t tail_ = 0;  // the oldest record
    std::uint16_t used_ = 0;  // bytes from tail to head, pads included
};

}  // namespace qmtkit::qmt::detail
