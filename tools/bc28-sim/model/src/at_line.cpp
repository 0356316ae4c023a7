#include "bc28sim/at_line.hpp"

#include <cctype>
#include <climits>

namespace bc28sim {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::optional<long> Arg::as_int() const {
    if (kind != Kind::bare || text.empty()) return std::nullopt;
    std::size_t i = 0;
    bool neg = false;
    if (text[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= text.size() || text.size() - i > 9) return std::nullopt;  // no overflow games
    long v = 0;
    for (; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        v = v * 10 + (text[i] - '0');
    }
    return neg ? -v : v;
}

std::optional<std::vector<Arg>> split_args(std::string_view text) {
    std::vector<Arg> out;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (true) {
        // One value up to the next comma outside quotes.
        Arg a;
        while (i < n && (text[i] == ' ' || text[i] == '\t')) ++i;
        if (i < n && text[i] == '"') {
            const std::size_t close = text.find('"', i + 1);
            if (close == std::string_view::npos) return std::nullopt;
            a.kind = Arg::Kind::string;
            a.text = std::string(text.substr(i + 1, close - i - 1));
            i = close + 1;
            while (i < n && (text[i] == ' ' || text[i] == '\t')) ++i;
            if (i < n && text[i] != ',') return std::nullopt;  // junk after the closing quote
        } else {
            const std::size_t comma = text.find(',', i);
            const std::size_t end = comma == std::string_view::npos ? n : comma;
            const std::string_view tok = trim(text.substr(i, end - i));
            if (tok.find('"') != std::string_view::npos) return std::nullopt;
            a.kind = tok.empty() ? Arg::Kind::empty : Arg::Kind::bare;
            a.text = std::string(tok);
            i = end;
        }
        out.push_back(std::move(a));
        if (i >= n) break;
        ++i;  // the comma
    }
    return out;
}

ParseResult parse_command_line(std::string_view line) {
    ParseResult r;
    if (line.size() < 2 || std::toupper(static_cast<unsigned char>(line[0])) != 'A' ||
        std::toupper(static_cast<unsigned char>(line[1])) != 'T') {
        r.error = ParseError::not_at;
        return r;
    }
    std::string_view rest = line.substr(2);
    // Trailing blanks are tolerated, as terminals tend to add them.
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    CommandLine c;
    if (rest.empty() || rest[0] != '+') {
        // Basic command: letters and digits, with an optional '?' or '=?'.
        c.extended = false;
        std::size_t k = 0;
        while (k < rest.size() &&
               (std::isalnum(static_cast<unsigned char>(rest[k])) || rest[k] == '&'))
            ++k;
        c.name = upper(rest.substr(0, k));
        const std::string_view tail = rest.substr(k);
        if (tail.empty())
            c.form = Form::exec;
        else if (tail == "?")
            c.form = Form::query;
        else if (tail == "=?")
            c.form = Form::test;
        else {
            r.error = ParseError::syntax;
            return r;
        }
        r.cmd = std::move(c);
        return r;
    }
    c.extended = true;
    std::size_t k = 1;
    while (k < rest.size() && std::isalnum(static_cast<unsigned char>(rest[k]))) ++k;
    if (k == 1) {
        r.error = ParseError::syntax;
        return r;
    }
    c.name = "+" + upper(rest.substr(1, k - 1));
    const std::string_view tail = rest.substr(k);
    if (tail.empty()) {
        c.form = Form::exec;
    } else if (tail == "?") {
        c.form = Form::query;
    } else if (tail == "=?") {
        c.form = Form::test;
    } else if (tail[0] == '=') {
        c.form = Form::set;
        auto args = split_args(tail.substr(1));
        if (!args) {
            r.error = ParseError::syntax;
            return r;
        }
        c.args = std::move(*args);
    } else {
        r.error = ParseError::syntax;
        return r;
    }
    r.cmd = std::move(c);
    return r;
}

}  // namespace bc28sim
