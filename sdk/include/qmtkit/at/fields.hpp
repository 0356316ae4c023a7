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

// Where s stops being well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF): the offset of the first bad sequence's first byte, or npos. MQTT strings
// (topics, filters, client id, user name; MQTT 3.1.1 1.5.3) must be UTF-8: a broker closes the
// connection on anything else, so the client refuses it before it reaches the module.
constexpr std::size_t utf8_error_at(std::string_view s) {
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        unsigned lo = 0x80, hi = 0xBF;  // the second byte's range
        if (c < 0x80) {
            len = 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        }
        bool ok = len != 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k) {
            const unsigned b = static_cast<unsigned char>(s[i + k]);
            ok = k == 1 ? b >= lo && b <= hi : b >= 0x80 && b <= 0xBF;
        }
        if (!ok) return i;
        i += len;
    }
    return std::string_view::npos;
}
constexpr bool is_utf8(std::string_view s) {
    return utf8_error_at(s) == std::string_view::npos;
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
