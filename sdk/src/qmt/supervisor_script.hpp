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
    poll,         // AT+CGATT?: again each second until attached
    spelling,     // AT+QMTTENAUTH=?: failing, the note's other spelling is the module's
    open,         // result 2 (identifier occupied): close first; a timeout: from AT
    close_first,  // "+QMTCLOSE: 0,-1" (nothing to close): open at once
    packet_wait,  // the result waits the module's whole retry budget (CONNECT)
    check,        // AT+QMTCONN?: connected carries on, anything else is a silent drop
};

struct Supervisor::StepSpec {
    using Args = void (*)(const SessionStore&, at::ArgWriter&);
    using Info = bool (*)(std::string_view line, std::int32_t& out);
    using Decode = StepResult (*)(std::string_view line);
    using Skip = bool (*)(const SessionStore&);
    using Action = void (Supervisor::*)();

    constexpr StepSpec(Step s, LinkState l, const at::CommandSpec* c, Args a, Step ok, Step err)
        : step(s), state(l), command(c), args(a), on_ok(ok), on_error(err) {}

    Step step;
    LinkState state;                 // announced when the step starts
    const at::CommandSpec* command;  // nullptr: the step is an action, nothing is sent
    Args args;
    Step on_ok;
    Step on_error;  // where the back-off resumes
    Rule rule = Rule::plain;
    bool announce = true;  // false: the step keeps the state it was entered in
    Skip skip = nullptr;   // true: go to skip_to instead
    Step skip_to = Step::sync;
    Info info = nullptr;                           // decodes the command's information line
    Decode result = nullptr;                       // decodes the two-phase result line
    const at::CommandSpec* alt_command = nullptr;  // the note's other spelling
    Action action = nullptr;

    constexpr StepSpec with(Rule r) const {
        StepSpec s = *this;
        s.rule = r;
        return s;
    }
    constexpr StepSpec keeps_state() const {
        StepSpec s = *this;
        s.announce = false;
        return s;
    }
    constexpr StepSpec skipped_if(Skip f, Step to) const {
        StepSpec s = *this;
        s.skip = f;
        s.skip_to = to;
        return s;
    }
    constexpr StepSpec reads(Info f) const {
        StepSpec s = *this;
        s.info = f;
        return s;
    }
    constexpr StepSpec decodes(Decode f) const {
        StepSpec s = *this;
        s.result = f;
        return s;
    }
    constexpr StepSpec or_spelled(const at::CommandSpec& c) const {
        StepSpec s = *this;
        s.alt_command = &c;
        return s;
    }
    constexpr StepSpec does(Action a) const {
        StepSpec s = *this;
        s.action = a;
        return s;
    }
};

}  // namespace qmtkit::qmt::detail
