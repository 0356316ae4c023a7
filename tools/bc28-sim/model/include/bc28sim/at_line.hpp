// The module's own reading of an AT command line. Deliberately independent of sdk/: the SDK
// writes commands and reads answers, this reads commands and writes answers, so a misreading of
// the note in one shows up as a failure against the other.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bc28sim {

enum class Form { exec, query, test, set };

struct Arg {
    enum class Kind { empty, string, bare };
    Kind kind = Kind::empty;
    std::string text;  // unquoted text for strings, trimmed token for bare values

    bool is_string() const { return kind == Kind::string; }
    bool is_empty() const { return kind == Kind::empty; }
    // Strict decimal integer (optional '-'); nullopt for strings, empty or non-numeric tokens.
    std::optional<long> as_int() const;
};

struct CommandLine {
    bool extended = false;  // AT+NAME...; false for basic commands (ATE0, ATI, AT)
    std::string name;       // upper-case; "+QMTOPEN", or "E0", "I", "" for plain AT
    Form form = Form::exec;
    std::vector<Arg> args;  // set form only
};

enum class ParseError { not_at, syntax };

struct ParseResult {
    std::optional<CommandLine> cmd;
    std::optional<ParseError> error;
};

// `line` is what came before <CR>, without it.
ParseResult parse_command_line(std::string_view line);

// Arguments after '=': split on commas outside quotes; spaces around values are ignored.
// nullopt on an unterminated quote or a stray quote inside a value.
std::optional<std::vector<Arg>> split_args(std::string_view text);

}  // namespace bc28sim
