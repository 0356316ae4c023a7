// A fuzz harness over the whole client: qmt::Client<> with a Writer that parses every command
// line and payload it writes, a Listener that records completions, and a program
// (program.hpp) of publishes — also from inside on_published(), as `qmtkit pub -l` does —
// module answers, clock steps and polls. The key check: every payload written is the payload
// handed to publish() for the topic on the command line above it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "verdict.hpp"

namespace qmtkit::fuzz {

// Header: two bytes (ClientHeader flags; then the number of publishes on_published() makes,
// low nibble, and their QoS, high nibble % 3). Then operations; an opcode byte is taken modulo
// kClientOpCount.
enum class ClientOp : std::uint8_t {
    publish,          // flags (QoS (& 3) % 3, retain 4, binary 8, form (>> 4) % 3), length
    publish_qos1,     // length: QoS 1, text
    answer,           // variant: the module answers the latest command line as the note says
    release,          // which held-back result (+QMTPUB/+QMTSUB/...), keep a copy?
    feed_pub_result,  // which recent AT+QMTPUB line, result: +QMTPUB: 0,<its msgID>,<r>[,<n>]
    feed_token,       // dictionary index, chunking
    feed_raw,         // length, bytes, chunking
    advance_small,    // ms
    advance_large,    // seconds
    poll,             //
    refill,           // publishes to make from on_published(), their QoS
    subscribe,        // filter, QoS, or unsubscribe
    feed_echo,        // the module echoes the latest line (ATE1)
    stop_start,       //
    link_event,       // +QMTSTAT: 0,<code> / REBOOT_CAUSE banner
    to_deadline,      // clock to next_deadline(), then poll()
    count
};
inline constexpr std::uint8_t kClientOpCount = static_cast<std::uint8_t>(ClientOp::count);

namespace client_header {
inline constexpr std::uint8_t session_mask = 0x03;  // basic / aliauth (chapter 6) / tenauth / will
inline constexpr std::uint8_t timeout_notice = 0x04;
inline constexpr std::uint8_t fast_backoff = 0x08;    // 50 ms doubling to 400 ms
inline constexpr std::uint8_t pkt_timeout_shift = 4;  // 2 bits: 1, 2, 5, 10 s
inline constexpr std::uint8_t no_retries = 0x40;      // retry_times 0 (else 3)
inline constexpr std::uint8_t quoting_bare = 0x80;
}  // namespace client_header

// Bits of answer's variant (its low 3 bits: 0-4 answer as the note does, 5 ERROR,
// 6 +CME ERROR: 159 (| 8: 3), 7 silence).
namespace client_answer {
inline constexpr std::uint8_t bare_prompt = 0x08;   // ">" instead of "> "
inline constexpr std::uint8_t result_now = 0x10;    // the two-phase result right after OK
inline constexpr std::uint8_t result_later = 0x20;  // held back (released by `release`)
}  // namespace client_answer

Verdict check_client_case(const std::uint8_t* data, std::size_t size);
void run_client_case(const std::uint8_t* data, std::size_t size);
// Runs one program traced: the verdict carries the decoded program even when it passes.
Verdict trace_client_case(const std::uint8_t* data, std::size_t size);

}  // namespace qmtkit::fuzz
