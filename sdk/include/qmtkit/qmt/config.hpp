// The client's memory, decided at compile time. Two documented configurations; a firmware may
// derive its own from either (docs/porting.md gives what each costs).
#pragma once

#include <cstddef>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

// The default: five 1 KB messages in flight (topics up to 32 B) with a little room behind
// them (queued readings), incoming payloads up to 1,024 B with topics up to 255 B, 8
// subscriptions.
struct ClientConfig {
    // The outbox pool: each message costs a 32-byte header + its topic + its payload, rounded up
    // to 8: 5 x (32 + 32 + 1,024) = 5,440, and 64 B more.
    static constexpr std::size_t outbox_bytes = 5504;
    static constexpr std::size_t window = kFlightWindow;  // publishes awaiting their result
    static constexpr std::size_t subscriptions = 8;
    static constexpr std::size_t filter_bytes = 384;  // every subscription filter, together
    // Client id, credentials, will, host, token; its unused end holds a low-level query's
    // information line (cut to fit).
    static constexpr std::size_t session_bytes = 640;
    struct Engine : at::EngineConfig {
        // +QMTRECV: 0,<id>,"<topic>","<payload>" CR LF: 27 B + a 255 B topic + 1,024 B (or a
        // longer payload with a short topic: 1,200 B does). Longer messages are reported
        // through Listener::on_message_dropped.
        static constexpr std::size_t line_capacity = 1344;
        // The lines of the queued commands: the window's AT+QMTPUBs (~45 B with a short topic,
        // ~290 B with a 255-byte one) and a bring-up step or a (un)subscribe, or a will at its
        // limits (541 B) behind a few low-level commands. A command that finds it full waits in
        // its part (retried when a command ends); a low-level one is refused with queue_full.
        static constexpr std::size_t command_pool = 832;
        // The window of publishes, a bring-up step and a (un)subscribe; more wait.
        static constexpr std::size_t queue_depth = 7;
        static constexpr std::size_t result_slots = 7;
        static constexpr std::size_t urc_handlers = 4;  // the client's three, and one spare
    };
};

// For an MCU with 20 KB of RAM: the full window of small readings (an outbox of about 1 KB: five
// 150-byte messages, or one of 900 B), incoming payloads up to 256 B (topics up to 64 B),
// 4 subscriptions. A 1 KB message does not fit the outbox: publish() says payload_too_long.
struct CompactConfig {
    static constexpr std::size_t outbox_bytes = 1024;
    static constexpr std::size_t window = kFlightWindow;
    static constexpr std::size_t subscriptions = 4;
    static constexpr std::size_t filter_bytes = 96;  // 4 filters of 24 B, or 2 Aliyun ones of 48
    // A realistic session with room to spare (tests/unit/test_client_memory_model.cpp): Aliyun
    // aliauth 134 B (host 47, client id 22, product key 11, device name 22, secret 32); Tencent
    // 221 B (host 38, client id 32, product id 10, device name 22, secret 44, and the token's
    // password, 75 B, after bring-up). A low-level query's line goes in what is left.
    static constexpr std::size_t session_bytes = 256;
    struct Engine : at::EngineConfig {
        static constexpr std::size_t line_capacity = 352;  // 27 + 64 + 256, rounded up
        static constexpr std::size_t queue_depth = 3;
        static constexpr std::size_t result_slots = 6;  // the window and a step (more wait)
        static constexpr std::size_t urc_handlers = 3;  // the client's +QMTSTAT, REBOOT, +QMTRECV
        // A trace line is cut after 64 B: the command and its first arguments (a PUB with a
        // 40 B topic whole); the payload is traced as "<n> bytes" anyway.
        static constexpr std::size_t trace_capacity = 64;
        // The queued commands' lines: the window's AT+QMTPUBs with short topics, or one PUB or
        // SUB with a topic up to 255 B (~290 B). Also the longest command line.
        static constexpr std::size_t command_pool = 320;
    };
};

}  // namespace qmtkit::qmt
