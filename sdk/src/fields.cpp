#include "qmtkit/at/fields.hpp"

#include <cstring>

#include "qmtkit/common/arith.hpp"
#include "qmtkit/common/text.hpp"

namespace qmtkit::at {

std::string_view to_string(ArgError e) {
    switch (e) {
        case ArgError::none:
            return "none";
        case ArgError::too_long:
            return "command line too long";
        case ArgError::forbidden_char:
            return "string holds a quote, CR, LF or NUL";
        case ArgError::too_many_args:
            return "too many arguments";
    }
    return "?";
}

std::string_view to_string(FieldError e) {
    switch (e) {
        case FieldError::none:
            return "none";
        case FieldError::wrong_prefix:
            return "wrong prefix";
        case FieldError::missing:
            return "field missing";
        case FieldError::not_a_number:
            return "not a number";
        case FieldError::out_of_range:
            return "number out of range";
        case FieldError::bad_quoting:
            return "bad quoting";
    }
    return "?";
}

bool ArgWriter::put(char c) {
    if (len_ >= limit_) {
        err_ = ArgError::too_long;
        return false;
    }
    if (len_ < cap_) buf_[len_] = c;
    ++len_;
    return true;
}

bool ArgWriter::append_text(std::string_view s) {
    if (err_ != ArgError::none) return false;
    if (s.size() > limit_ - len_) {
        err_ = ArgError::too_long;
        return false;
    }
    if (len_ < cap_) {
        const std::size_t room = cap_ - len_;
        std::memcpy(buf_ + len_, s.data(), s.size() < room ? s.size() : room);
    }
    len_ += s.size();
    return true;
}

bool ArgWriter::begin_arg() {
    if (err_ != ArgError::none) return false;
    if (count_ >= kMaxArgs) {
        err_ = ArgError::too_many_args;
        return false;
    }
    if (count_ > 0 && !put(',')) return false;
    starts_[count_] = static_cast<std::uint16_t>(len_);
    return true;
}

void ArgWriter::end_arg() {
    if (err_ != ArgError::none) return;
    ends_[count_] = static_cast<std::uint16_t>(len_);
    ++count_;
}

ArgWriter& ArgWriter::integer(std::int64_t v) {
    if (!begin_arg()) return *this;
    char tmp[24];
    std::size_t n = 0;
    const bool neg = v < 0;
    // Negate in unsigned arithmetic so INT64_MIN is safe.
    std::uint64_t u = neg ? (~static_cast<std::uint64_t>(v) + 1u) : static_cast<std::uint64_t>(v);
    // No 64-bit division (a runtime helper on a 32-bit MCU): div_small() while the value needs
    // more than 32 bits, then plain 32-bit division.
    while (u > 0xFFFFFFFFu) {
        const DivResult d = div_small(u, 10);
        tmp[n++] = static_cast<char>('0' + d.rem);
        u = d.quot;
    }
    auto w = static_cast<std::uint32_t>(u);
    do {
        tmp[n++] = static_cast<char>('0' + w % 10u);
        w /= 10u;
    } while (w != 0u);
    if (neg && !put('-')) return *this;
    while (n > 0) {
        if (!put(tmp[--n])) return *this;
    }
    end_arg();
    return *this;
}

ArgWriter& ArgWriter::quoted(std::string_view s) {
    if (err_ != ArgError::none) return *this;
    if (!is_at_safe(s)) {
        err_ = ArgError::forbidden_char;
        return *this;
    }
    if (!begin_arg()) return *this;
    if (put('"') && append_text(s) && put('"')) end_arg();
    return *this;
}

ArgWriter& ArgWriter::quoted(std::string_view a, char sep, std::string_view b) {
    if (err_ != ArgError::none) return *this;
    const char s[1] = {sep};
    if (!is_at_safe(a) || !is_at_safe(b) || !is_at_safe(std::string_view(s, 1))) {
        err_ = ArgError::forbidden_char;
        return *this;
    }
    if (!begin_arg()) return *this;
    if (put('"') && append_text(a) && put(sep) && append_text(b) && put('"')) end_arg();
    return *this;
}

ArgWriter& ArgWriter::raw(std::string_view token) {
    if (err_ != ArgError::none) return *this;
    for (char c : token) {
        if (c == '\r' || c == '\n' || c == '\0') {
            err_ = ArgError::forbidden_char;
            return *this;
        }
    }
    if (!begin_arg()) return *this;
    if (append_text(token)) end_arg();
    return *this;
}

bool line_has_prefix(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || !has_prefix(line, name)) return false;
    return line[name.size()] == ':';
}

FieldReader& FieldReader::prefix(std::string_view name) {
    if (!ok()) return *this;
    if (!line_has_prefix(rest_, name)) {
        err_ = FieldError::wrong_prefix;
        return *this;
    }
    rest_.remove_prefix(name.size() + 1);
    while (!rest_.empty() && rest_.front() == ' ') rest_.remove_prefix(1);
    first_ = true;
    return *this;
}

bool FieldReader::next_field_start() {
    if (!ok()) return false;
    if (!first_) {
        if (rest_.empty() || rest_.front() != ',') {
            err_ = FieldError::missing;
            return false;
        }
        rest_.remove_prefix(1);
    } else if (rest_.empty()) {
        err_ = FieldError::missing;
        return false;
    }
    first_ = false;
    return true;
}

FieldReader& FieldReader::integer(std::int32_t& out) {
    return integer_in(out, INT32_MIN, INT32_MAX);
}

FieldReader& FieldReader::integer_in(std::int32_t& out, std::int32_t lo, std::int32_t hi) {
    if (!next_field_start()) return *this;
    std::size_t i = 0;
    bool neg = false;
    if (i < rest_.size() && (rest_[i] == '-' || rest_[i] == '+')) {
        neg = rest_[i] == '-';
        ++i;
    }
    const std::size_t digits_from = i;
    std::int64_t v = 0;
    while (i < rest_.size() && rest_[i] >= '0' && rest_[i] <= '9') {
        v = v * 10 + (rest_[i] - '0');
        if (v > 0xFFFFFFFFll) {
            err_ = FieldError::out_of_range;
            return *this;
        }
        ++i;
    }
    if (i == digits_from || (i < rest_.size() && rest_[i] != ',')) {
        err_ = FieldError::not_a_number;
        return *this;
    }
    if (neg) v = -v;
    if (v < lo || v > hi) {
        err_ = FieldError::out_of_range;
        return *this;
    }
    out = static_cast<std::int32_t>(v);
    rest_.remove_prefix(i);
    return *this;
}

FieldReader& FieldReader::string(std::string_view& out) {
    if (!next_field_start()) return *this;
    if (!rest_.empty() && rest_.front() == '"') {
        // The closing quote is the first one followed by ',' or the end of the line.
        for (std::size_t i = 1; i < rest_.size(); ++i) {
            if (rest_[i] == '"' && (i + 1 == rest_.size() || rest_[i + 1] == ',')) {
                out = sub_view(rest_, 1, i - 1);
                rest_.remove_prefix(i + 1);
                return *this;
            }
        }
        err_ = FieldError::bad_quoting;
        return *this;
    }
    const std::size_t comma = rest_.find(',');
    out = sub_view(rest_, 0, comma);
    rest_.remove_prefix(comma == std::string_view::npos ? rest_.size() : comma);
    return *this;
}

FieldReader& FieldReader::rest(std::string_view& out) {
    if (!next_field_start()) return *this;
    out = rest_;
    rest_ = {};
    return *this;
}

}  // namespace qmtkit::at
