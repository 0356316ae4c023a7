#include "json_pos.hpp"

#include <cstdint>

namespace qmtkit::manifest::detail {
namespace {

constexpr int kMaxDepth = 64;

class Parser {
  public:
    Parser(std::string_view text, ParseError& err) : s_(text), err_(err) {}

    std::optional<Node> run() {
        if (s_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;  // BOM: not a character of the document
        skip_ws();
        Node root;
        if (!value(root, 0)) return std::nullopt;
        skip_ws();
        if (i_ < s_.size()) return fail("unexpected content after the JSON value");
        return root;
    }

  private:
    Position here() const { return {line_, col_}; }

    // Advances one byte; a new character starts at every byte that is not a UTF-8 continuation.
    void advance() {
        const unsigned char c = static_cast<unsigned char>(s_[i_]);
        ++i_;
        if (c == '\n') {
            ++line_;
            col_ = 1;
        } else if (i_ >= s_.size() || (static_cast<unsigned char>(s_[i_]) & 0xC0) != 0x80) {
            ++col_;
        }
    }

    bool at_end() const { return i_ >= s_.size(); }
    char peek() const { return s_[i_]; }

    std::nullopt_t fail(const std::string& msg) { return fail_at(here(), msg); }
    std::nullopt_t fail_at(Position p, const std::string& msg) {
        if (err_.message.empty()) {
            err_.pos = p;
            err_.message = msg;
        }
        return std::nullopt;
    }

    void skip_ws() {
        while (!at_end()) {
            const char c = peek();
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            advance();
        }
    }

    static std::string describe_char(char c) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7F) return "a non-printable or non-ASCII character";
        if (c == '\'') return "\"'\" (JSON strings use double quotes)";
        return std::string("'") + c + "'";
    }

    bool value(Node& n, int depth) {
        if (depth > kMaxDepth) return fail("nesting deeper than 64 levels"), false;
        if (at_end()) return fail("unexpected end of input, expected a value"), false;
        n.pos = here();
        const char c = peek();
        switch (c) {
            case '{':
                return object(n, depth);
            case '[':
                return array(n, depth);
            case '"':
                n.type = Node::Type::string;
                return string(n.text);
            case 't':
                return literal(n, "true", Node::Type::boolean, true);
            case 'f':
                return literal(n, "false", Node::Type::boolean, false);
            case 'n':
                return literal(n, "null", Node::Type::null_value, false);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number(n);
                return fail("expected a value, got " + describe_char(c)), false;
        }
    }

    bool literal(Node& n, std::string_view word, Node::Type t, bool b) {
        if (s_.substr(i_, word.size()) != word)
            return fail("invalid literal (expected true, false or null)"), false;
        for (std::size_t k = 0; k < word.size(); ++k) advance();
        n.type = t;
        n.boolean = b;
        return true;
    }

    bool digits() {
        if (at_end() || peek() < '0' || peek() > '9') return false;
        while (!at_end() && peek() >= '0' && peek() <= '9') advance();
        return true;
    }

    bool number(Node& n) {
        const std::size_t start = i_;
        if (peek() == '-') advance();
        if (at_end()) return fail("incomplete number"), false;
        if (peek() == '0') {
            advance();
            if (!at_end() && peek() >= '0' && peek() <= '9')
                return fail_at(n.pos, "numbers must not have leading zeros"), false;
        } else if (!digits()) {
            return fail("incomplete number"), false;
        }
        if (!at_end() && peek() == '.') {
            advance();
            if (!digits()) return fail("expected a digit after the decimal point"), false;
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            advance();
            if (!at_end() && (peek() == '+' || peek() == '-')) advance();
            if (!digits()) return fail("expected a digit in the exponent"), false;
        }
        n.type = Node::Type::number;
        n.text = std::string(s_.substr(start, i_ - start));
        return true;
    }

    static void put_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(std::uint32_t& v) {
        v = 0;
        for (int k = 0; k < 4; ++k) {
            if (at_end()) return false;
            const char c = peek();
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                return false;
            v = v * 16 + static_cast<std::uint32_t>(d);
            advance();
        }
        return true;
    }

    bool string(std::string& out) {
        const Position open = here();
        advance();  // opening quote
        out.clear();
        for (;;) {
            if (at_end()) return fail_at(open, "unterminated string"), false;
            const char c = peek();
            if (c == '"') {
                advance();
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return fail(c == '\n' ? "unterminated string (line break inside a string)"
                                      : "control character inside a string (escape it)"),
                       false;
            }
            if (c != '\\') {
                out += c;
                advance();
                continue;
            }
            const Position esc = here();
            advance();
            if (at_end()) return fail_at(open, "unterminated string"), false;
            const char e = peek();
            advance();
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    std::uint32_t cp;
                    if (!hex4(cp))
                        return fail_at(esc, "invalid \\u escape (4 hex digits expected)"), false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        std::uint32_t lo;
                        if (s_.substr(i_, 2) != "\\u")
                            return fail_at(esc, "unpaired UTF-16 surrogate in \\u escape"), false;
                        advance();
                        advance();
                        if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
                            return fail_at(esc, "unpaired UTF-16 surrogate in \\u escape"), false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return fail_at(esc, "unpaired UTF-16 surrogate in \\u escape"), false;
                    }
                    put_utf8(out, cp);
                    break;
                }
                default:
                    return fail_at(esc, "invalid escape sequence in string"), false;
            }
        }
    }

    bool array(Node& n, int depth) {
        n.type = Node::Type::array;
        advance();  // [
        skip_ws();
        if (!at_end() && peek() == ']') {
            advance();
            return true;
        }
        for (;;) {
            skip_ws();
            if (at_end()) return fail_at(n.pos, "unterminated array (no closing ']')"), false;
            if (peek() == ']') return fail("trailing comma before ']'"), false;
            Node item;
            if (!value(item, depth + 1)) return false;
            n.items.push_back(std::move(item));
            skip_ws();
            if (at_end()) return fail_at(n.pos, "unterminated array (no closing ']')"), false;
            if (peek() == ',') {
                advance();
                continue;
            }
            if (peek() == ']') {
                advance();
                return true;
            }
            return fail("expected ',' or ']' after an array element, got " + describe_char(peek())),
                   false;
        }
    }

    bool object(Node& n, int depth) {
        n.type = Node::Type::object;
        advance();  // {
        skip_ws();
        if (!at_end() && peek() == '}') {
            advance();
            return true;
        }
        for (;;) {
            skip_ws();
            if (at_end()) return fail_at(n.pos, "unterminated object (no closing '}')"), false;
            if (peek() == '}') return fail("trailing comma before '}'"), false;
            if (peek() != '"')
                return fail("expected a key in double quotes, got " + describe_char(peek())), false;
            Member m;
            m.key_pos = here();
            if (!string(m.key)) return false;
            skip_ws();
            if (at_end() || peek() != ':') {
                if (at_end()) return fail_at(n.pos, "unterminated object (no closing '}')"), false;
                return fail("expected ':' after the key, got " + describe_char(peek())), false;
            }
            advance();
            skip_ws();
            if (!value(m.value, depth + 1)) return false;
            n.members.push_back(std::move(m));
            skip_ws();
            if (at_end()) return fail_at(n.pos, "unterminated object (no closing '}')"), false;
            if (peek() == ',') {
                advance();
                continue;
            }
            if (peek() == '}') {
                advance();
                return true;
            }
            return fail("expected ',' or '}' after an object member, got " + describe_char(peek())),
                   false;
        }
    }

    std::string_view s_;
    ParseError& err_;
    std::size_t i_ = 0;
    int line_ = 1;
    int col_ = 1;
};

}  // namespace

std::optional<Node> parse_json(std::string_view text, ParseError& error) {
    error = ParseError{};
    return Parser(text, error).run();
}

std::string_view type_name(Node::Type t) {
    switch (t) {
        case Node::Type::null_value:
            return "null";
        case Node::Type::boolean:
            return "a boolean";
        case Node::Type::number:
            return "a number";
        case Node::Type::string:
            return "a string";
        case Node::Type::array:
            return "an array";
        case Node::Type::object:
            return "an object";
    }
    return "?";
}

}  // namespace qmtkit::manifest::detail
