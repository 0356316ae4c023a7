// The client's memory, decided at compile time. Two documented configurations; a firmware may
// derive its own from either (docs/porting.md gives what each costs).
#pragma once

#include <cstddef>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

// The default: five 1 KB messages in flight with room for queued ones behind them, incoming
// payloads up to 1,024 B (with topics up to 255 B), 8 subscriptions.
struct ClientConfig {
    // The outbox pool: each message costs a 32-byte header + its topic + its payload.
    static constexpr std::size_t outbox_bytes = 6144;
    static constexpr std::size_t window = kFlightWindow;  // publishes awaiting their result
    static constexpr std::size_t subscriptions = 8;
    static constexpr std::size_t filter_bytes = 384;   // every subscription filter, together
    static constexpr std::size_t session_bytes = 640;  // client id, credentials, will, host, token
    static constexpr std::size_t reply_bytes = 160;    // a low-level query's information line
    struct Engine : at::EngineConfig {
        // +QMTRECV: 0,<id>,"<topic>","<payload>" CR LF: 27 B + a 255 B topic + 1,024 B. Longer
        // messages are reported through Listener::on_message_dropped.
        static constexpr std::size_t line_capacity = 1344;
        // A window of publishes, a bring-up step, a (un)subscribe and a few low-level commands.
        static constexpr std::size_t queue_depth = 8;
        static constexpr std::size_t result_slots = 8;
    };
};

// For an MCU with 20 KB of RAM: the full window of small readings (an outbox of about 1 KB: five
// 150-byte messages, or one of 900 B), incoming payloads up to 256 B (topics up to 64 B),
// 4 subscriptions. A 1 KB message does not fit the outbox: publish() says payload_too_long.
struct CompactConfig {
    static constexpr std::size_t outbox_bytes = 1024;
    static constexpr std::size_t window = kFlightWindow;
    static constexpr std::size_t subscriptions = 4;
    static constexpr std::size_t filter_bytes = 96;
    static constexpr std::size_t session_bytes = 256;
    static constexpr std::size_t reply_bytes = 64;
    struct Engine : at::EngineConfig {
        static constexpr std::size_t line_capacity = 352;  // 27 + 64 + 256, rounded up
        static constexpr std::size_t queue_depth = 3;
        static constexpr std::size_t result_slots = 6;  // the window and a step (more wait)
        static constexpr std::size_t urc_handlers = 3;  // the client's +QMTSTAT, REBOOT, +QMTRECV
        static constexpr std::size_t trace_capacity = 96;
        // Until the engine's command pool: a PUB or SUB with a topic up to 255 B.
        static constexpr std::size_t command_capacity = 320;
    };
};

}  // namespace qmtkit::qmt
