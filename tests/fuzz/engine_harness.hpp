// A fuzz harness over qmtkit::at::EngineCore: the input is a program (program.hpp) of submits,
// module bytes, clock steps, poll(), abandon() and abort_all(); the harness checks that every
// accepted command ends exactly once — result, error, timeout, abort or abandon — whatever the
// module sends, that nothing is ever left without a deadline, and that what reaches the Writer is
// each command line in turn and a payload only after its prompt.
#pragma once

#include <cstddef>
#include <cstdint>

#include "verdict.hpp"

namespace qmtkit::fuzz {

// Header: two bytes (EngineHeader flags, then the Writer's initial budget: 0 = unlimited,
// else bytes per write()). Then operations; an opcode byte is taken modulo kEngineOpCount.
enum class EngineOp : std::uint8_t {
    submit,         // template (EngineCmd), variant, plan, extra
    feed_token,     // dictionary index, chunking
    feed_raw,       // length, bytes, chunking
    feed_result,    // which recent command, result variant: its two-phase result / info line
    feed_prompt,    // form
    feed_echo,      // which recent command, echo the payload too?
    feed_final,     // OK / ERROR / +CME ERROR
    advance_small,  // ms
    advance_large,  // seconds
    poll,           //
    abandon,        // which command (or an unknown seq)
    abandon_all,    // two-phase only / everything: what a client does when its link drops
    abort_all,      //
    writer,         // budget and stall
    feed_urc,       // +QMTSTAT / REBOOT banner / +QMTRECV forms
    to_deadline,    // clock to next_deadline(), then poll()
    count
};
inline constexpr std::uint8_t kEngineOpCount = static_cast<std::uint8_t>(EngineOp::count);

namespace engine_header {
inline constexpr std::uint8_t tiny = 0x01;            // queue 3, 2 result slots, 160-byte lines
inline constexpr std::uint8_t stat_log = 0x02;        // a +QMTSTAT line handler
inline constexpr std::uint8_t stat_link_lost = 0x04;  // ... that abandons every two-phase command
inline constexpr std::uint8_t reboot_aborts = 0x08;   // REBOOT_CAUSE (bare) calls abort_all()
inline constexpr std::uint8_t claim_recv = 0x10;      // +QMTRECV claimed through parse_recv()
inline constexpr std::uint8_t quoting_bare = 0x20;
inline constexpr std::uint8_t quoting_quoted = 0x40;
inline constexpr std::uint8_t zero_byte_time = 0x80;  // set_byte_time_us(0)
}  // namespace engine_header

// What `submit` sends, by its first operand (modulo count). The chapter 6 commands carry the
// note's own arguments.
enum class EngineCmd : std::uint8_t {
    at,
    cgatt,
    ati,
    cfg_keepalive,
    aliauth,
    open_test,
    open,
    open_query,
    conn_test,
    conn,
    conn_query,
    sub_test,
    sub,
    uns,
    pub_test,
    pub,
    disc,
    close,
    tenauth,
    reboot,
    bad_argument,  // a quote inside a string: refused by submit()
    count
};

// Bits of submit's `plan` operand: how the handler answers.
namespace engine_plan {
inline constexpr std::uint8_t verdict_mask = 0x03;  // done / intermediate first / not_mine first /
                                                    // always not_mine
inline constexpr std::uint8_t end_shift = 2;        // 0,1 ctrl_z; 2 fixed; 3 cancel (ESC)
inline constexpr std::uint8_t timeouts = 0x10;      // short Timeouts{} from `extra`
inline constexpr std::uint8_t resubmit_final = 0x20;   // submit again from on_final
inline constexpr std::uint8_t binary = 0x40;           // payload with 0x1A / 0x1B / NUL / CR LF
inline constexpr std::uint8_t resubmit_result = 0x80;  // submit again from on_result
}  // namespace engine_plan

// Runs one program; the verdict of the first broken invariant, with the program's trace.
Verdict check_engine_case(const std::uint8_t* data, std::size_t size);
// The same; on a violation prints the report and aborts (the fuzzer's entry point).
void run_engine_case(const std::uint8_t* data, std::size_t size);
// Runs one program traced: the verdict carries the decoded program even when it passes.
Verdict trace_engine_case(const std::uint8_t* data, std::size_t size);

}  // namespace qmtkit::fuzz
