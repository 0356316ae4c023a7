// One row of the bring-up script (private to the supervisor: bringup.cpp and supervisor.cpp).
#pragma once

#include "qmtkit/at/command.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/supervisor.hpp"

namespace qmtkit::qmt::detail {

// A decoded result line of a step's two-phase command.
struct StepResult {
    StepResult(at::ResultVerdict v = at::ResultVerdict::done, Result<void> o = {})
        : verdict(v), outcome(o) {}
    at::ResultVerdict verdict;
    Result<void> outcome;
    bool has_token = false;  // the Tencent token's password, to keep
    std::string_view token;
};

// What is special about a step beyond "success: on_ok, failure: back off to on_error".
enum class Rule : std::uint8_t {
    plain,
    probe,        // AT: a few tries half a second apart before backing off
    settings,     // the module's "timeout" now is the session's: result waits follow it
    poll,         // AT+CGATT?: again each second until attached (reads +CGATT)
    spelling,     // AT+QMTTENAUTH=?: failing, the note's other spelling is the module's
    open,         // result 2 (identifier occupied): close first; a timeout: from AT
    close_first,  // "+QMTCLOSE: 0,-1" (nothing to close): open at once
    packet_wait,  // the result waits the module's whole retry budget (CONNECT)
    check,        // AT+QMTCONN?: connected carries on, anything else is a silent drop (reads it)
    subscribe,    // no command: the subscriptions are redone, then online
    online,       // no command: the session is up
    stopped,      // no command: stopping is done
};

// Flags of a row. A row is 16 bytes, not 44: — the rare parts (a skip, the other spelling, the
// information line to read, the action of a step that sends nothing) are a bit or the Rule.
enum : std::uint8_t {
    kKeepsState = 1,     // the step keeps the state it was entered in
    kSkipNoAliauth = 2,  // skipped (to skip_to) without aliauth in the session
    kSkipNoTenauth = 4,  // skipped (to skip_to) without tenauth in the session
    kAltSpelling = 8,    // AT+QMTENAUTH instead, once the module is known to spell it so
};

// The two-phase result line a step's command answers with, decoded by decode_result().
enum class Reply : std::uint8_t { none, open, close, disc, conn, tenauth };

struct Supervisor::StepSpec {
    using Args = void (*)(const SessionStore&, at::ArgWriter&);

    Step step;        // the row's own step (rows are in Step order)
    LinkState state;  // announced when the step starts
    Step on_ok;
    Step on_error;  // where the back-off resumes
    Rule rule;
    std::uint8_t flags;
    Step skip_to;
    Reply reply;                     // its two-phase result line
    const at::CommandSpec* command;  // nullptr: the step is an action (its Rule), nothing is sent
    Args args;
};

// The information line of a Rule::poll (+CGATT) or Rule::check (+QMTCONN) step, into `out`.
bool read_info(Rule rule, std::string_view line, std::int32_t& out);
// A step's result line: not_mine (another line with this prefix), intermediate or done.
StepResult decode_result(Reply kind, std::string_view line);
// AT+QMTENAUTH for AT+QMTTENAUTH (a row with kAltSpelling).
const at::CommandSpec& other_spelling(const at::CommandSpec& c);

}  // namespace qmtkit::qmt::detail
