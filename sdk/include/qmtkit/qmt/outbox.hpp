// The outbox and the flight window: publishes queued in the record pool, up to `window` of them
// awaiting their +QMTPUB result at once, re-sent after a link drop (QoS >= 1) and journaled in
// an OutboxStore when one is set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/context.hpp"
#include "qmtkit/qmt/outbox_pool.hpp"
#include "qmtkit/qmt/outbox_store.hpp"

namespace qmtkit::qmt::detail {

class Outbox final : public at::CommandHandler {
  public:
    Outbox(Context& ctx, std::uint8_t* pool, std::size_t pool_bytes, std::size_t window)
        : ctx_(ctx),
          pool_(pool, pool_bytes),
          store_unread_(false),
          may_pause_(false),
          window_(static_cast<std::uint8_t>(window)) {}

    Result<std::uint32_t> publish(std::string_view topic, ByteView payload, PublishOptions o);
    // Sends what the window has room for (online only); loads stored records as room frees.
    void pump();
    // The link is gone: what was on the wire goes back to the queue (QoS 0: reported aborted).
    void link_lost();

    // From now on QoS >= 1 publishes are journaled; what the store still holds from a previous
    // run is loaded first, in order, as room frees.
    void set_store(OutboxStore* store);

    std::size_t count() const;      // not yet acknowledged (in RAM, and in the store)
    std::size_t in_flight() const;  // awaiting their +QMTPUB result
    bool uses_msg_id(std::uint16_t id) const;
    Instant next_deadline(Instant before) const;
    const OutboxPool& pool() const { return pool_; }

  private:
    using Record = OutboxRecord;
    at::Payload on_prompt(const at::CommandRef& r) override;
    void on_final(const at::CommandRef& r, const at::Outcome& o) override;
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override;
    void on_result_error(const at::CommandRef& r, const at::AtError& e) override;

    Record* find(std::uint32_t seq);
    bool can_send() const;
    bool send(Record& r);
    void finish(Record& r, const Result<PublishReport>& result);
    void requeue(Record& r, const ClientError& e);
    void take_back_after(Record& r);
    void failed(Record& r, const ClientError& e);
    void load_stored();
    Record* enqueue(std::uint32_t ticket, const StoredMessage& m);
    Record* fill(Record* r, std::uint32_t ticket, const StoredMessage& m);
    void reclaim();
    void set_state(Record& r, Record::State s);

    Context& ctx_;
    OutboxPool pool_;
    OutboxStore* store_ = nullptr;
    std::uint32_t last_loaded_ = 0;  // the newest store record loaded into RAM
    std::uint32_t first_new_ = 0;    // the first record journaled in this run (0: none yet)
    std::uint32_t waiting_ = 0;      // journaled in this run, not loaded yet
    // Four bytes, as before the counters: Client<CompactConfig> stays within 3 KB.
    bool store_unread_ : 1;       // the store may still hold records of a previous run
    mutable bool may_pause_ : 1;  // a record may wait out a retry pause (next_deadline() clears)
    std::uint8_t walking_ = 0;    // >0: iterating the pool; reclaiming waits (records stay)
    std::uint8_t window_;         // 1..kFlightWindow
    std::uint8_t flying_ = 0;     // records sent and not answered (<= window_)
};

}  // namespace qmtkit::qmt::detail
