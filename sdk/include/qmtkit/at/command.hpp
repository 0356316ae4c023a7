// A command is declared, not hand-parsed: its name, form, what lines belong to it, how long each
// phase may take and which of its arguments and answer fields are secrets. The engine does the
// rest.
#pragma once

#include <cstdint>
#include <string_view>

#include "qmtkit/common/types.hpp"

namespace qmtkit::at {

enum class Form : std::uint8_t {
    exec,   // AT+CMD
    test,   // AT+CMD=?
    query,  // AT+CMD?
    set,    // AT+CMD=<args>
};

// Information-line prefix meaning "every line that is not a final result or a URC" (ATI, AT+CIMI).
inline constexpr std::string_view kAnyLine = "*";

struct CommandSpec {
    // Largest members first: 52 bytes of flash a command, not 60 (every command the client
    // sends is one of these in .rodata).
    std::string_view name;          // text after "AT": "+QMTOPEN", "E0", "" for a bare "AT"
    std::string_view head;          // fixed leading argument, e.g. "\"aliauth\"" (it is argument 0)
    std::string_view info;          // prefix of this command's information lines; empty: none
    std::string_view result;        // two-phase: prefix of the later result line; empty: none
    Millis timeout = 300;           // until the final result (OK / ERROR / +CME ERROR)
    Millis result_timeout = 0;      // from OK until the result line
    Millis prompt_timeout = 0;      // from the command line until '>' (0: `timeout`)
    std::uint16_t secret_args = 0;  // bit i set: argument i never reaches a trace
    // Bit i set: field i of this command's information and result lines never reaches a trace;
    // the highest such field takes the rest of the line with it (a secret may hold a comma).
    std::uint16_t secret_fields = 0;
    Form form = Form::exec;
    std::uint8_t result_keys = 0;  // leading arguments the result line repeats ("0,<msgID>" = 2)
    bool prompt = false;           // a '>' prompt asks for a payload

    constexpr bool two_phase() const { return !result.empty(); }
};

}  // namespace qmtkit::at
