// Writing command arguments and reading response fields, both with a sticky first error (the
// first failure is kept and every later call is a no-op), so callers check once at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qmtkit::at {

enum class ArgError : std::uint8_t {
    none,
    too_long,        // the command line does not fit the engine's command buffer
    forbidden_char,  // a string holds '"', CR, LF or NUL: it would break or inject into the AT line
    too_many_args,
};

std::string_view to_string(ArgError e);

// True when s can travel inside a quoted AT string argument.
constexpr bool is_at_safe(std::string_view s) {
    for (char c : s) {
        if (c == '"' || c == '\r' || c == '\n' || c == '\0') return false;
    }
    return true;
}

// Appends comma-separated arguments to a caller-provided buffer and remembers where each one
// starts. With a `limit` above `capacity` it keeps measuring past the buffer without storing, so
// the engine can tell "longer than any command may be" (too_long) from "no room just now".
class ArgWriter {
  public:
    static constexpr std::size_t kMaxArgs = 16;

    ArgWriter(char* buf, std::size_t capacity) : ArgWriter(buf, capacity, capacity) {}
    ArgWriter(char* buf, std::size_t capacity, std::size_t limit)
        : buf_(buf), cap_(capacity < limit ? capacity : limit), limit_(limit) {}

    ArgWriter& integer(std::int64_t v);
    ArgWriter& quoted(std::string_view s);  // "s"; refuses '"', CR, LF, NUL
    // "<a><sep><b>" as one argument ("<product_id>@<device_name>"), nothing copied first.
    ArgWriter& quoted(std::string_view a, char sep, std::string_view b);
    ArgWriter& raw(std::string_view token);  // as is (a pre-formed token); same refusals

    ArgError error() const { return err_; }
    bool ok() const { return err_ == ArgError::none; }
    std::size_t size() const { return len_; }     // also counts bytes past the buffer
    bool stored() const { return len_ <= cap_; }  // every byte is in the buffer
    std::size_t arg_count() const { return count_; }
    std::uint16_t arg_start(std::size_t i) const { return starts_[i]; }
    std::uint16_t arg_end(std::size_t i) const { return ends_[i]; }
    const char* data() const { return buf_; }

    // Used by the engine to place the fixed head ("AT+QMTOPEN=") before the arguments.
    bool append_text(std::string_view s);

  private:
    bool begin_arg();
    void end_arg();
    bool put(char c);

    char* buf_;
    std::size_t cap_;    // bytes the buffer holds
    std::size_t limit_;  // bytes the text may have
    std::size_t len_ = 0;
    std::size_t count_ = 0;
    ArgError err_ = ArgError::none;
    std::uint16_t starts_[kMaxArgs] = {};
    std::uint16_t ends_[kMaxArgs] = {};
};

enum class FieldError : std::uint8_t {
    none,
    wrong_prefix,
    missing,  // fewer fields than asked for
    not_a_number,
    out_of_range,
    bad_quoting,
};

std::string_view to_string(FieldError e);

// Reads a response line such as `+QMTOPEN: 0,"host",1883` or `+CGATT:1`.
class FieldReader {
  public:
    explicit FieldReader(std::string_view line) : rest_(line) {}

    // Consumes `<name>:` and any spaces after the colon ("+CGATT:1" and "+QMTOPEN: 0,0" alike).
    FieldReader& prefix(std::string_view name);
    FieldReader& integer(std::int32_t& out);
    FieldReader& integer_in(std::int32_t& out, std::int32_t lo, std::int32_t hi);
    // A quoted string (quotes removed; the closing quote must be followed by ',' or the end) or a
    // bare field up to the next comma.
    FieldReader& string(std::string_view& out);
    // Everything left, unparsed.
    FieldReader& rest(std::string_view& out);

    bool has_more() const { return ok() && !rest_.empty(); }
    bool ok() const { return err_ == FieldError::none; }
    FieldError error() const { return err_; }

  private:
    bool next_field_start();
    std::string_view rest_;
    bool first_ = true;
    FieldError err_ = FieldError::none;
};

// "+CGATT:1" matches prefix "+CGATT"; so do "+CGATT: 1" and "+CGATT:" alone.
bool line_has_prefix(std::string_view line, std::string_view name);

}  // namespace qmtkit::at
