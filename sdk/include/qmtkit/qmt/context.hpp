// What the client's parts share: the engine, the listener, the counters, the time, the
// module's current timeout setting, tickets and msgIDs. Each part owns its own state; this is
// only what they all read or count.
#pragma once

#include <cstdint>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/listener.hpp"
#include "qmtkit/qmt/session.hpp"

namespace qmtkit::qmt::detail {

class Supervisor;
class Outbox;
class Subscriptions;

inline constexpr Instant kNever = ~Instant{0};

struct Context {
    Context(at::EngineCore& e, Listener& l) : engine(e), listener(l) {}

    Instant now = 0;  // first: no padding before it
    at::EngineCore& engine;
    Listener& listener;
    ClientStats stats{};
    Settings applied{};  // the module's "timeout" setting: result waits follow it
    std::uint32_t next_ticket = 1;
    // The parts, for the few things they ask of each other.
    Supervisor* supervisor = nullptr;
    Outbox* outbox = nullptr;
    Subscriptions* subscriptions = nullptr;

    std::uint32_t ticket() {
        const std::uint32_t t = next_ticket;
        next_ticket = next_ticket == 0xFFFFFFFFu ? 1u : next_ticket + 1u;
        return t;
    }
    // The module's whole retry budget for a packet (pkt_timeout x (retry_times + 1)) and a margin.
    Millis packet_wait() const;
    // 1..65535, unused by any publish of QoS >= 1 in the outbox and any subscribe on the wire.
    std::uint16_t new_msg_id();

  private:
    std::uint16_t next_msg_id_ = 1;
};

}  // namespace qmtkit::qmt::detail
