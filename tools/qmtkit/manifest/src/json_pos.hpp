// A strict RFC 8259 JSON parser that keeps the position of every value and key, for the
// manifest validator's FILE:LINE:COL diagnostics (nlohmann/json 3.11's SAX interface reports no
// positions). Internal to qmtkit_manifest.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::manifest::detail {

struct Member;

struct Node {
    enum class Type { null_value, boolean, number, string, array, object };
    Type type = Type::null_value;
    Position pos;  // of the value's first character
    bool boolean = false;
    std::string text;             // string: the decoded value; number: the literal
    std::vector<Node> items;      // array
    std::vector<Member> members;  // object, in document order (duplicates kept)
};

struct Member {
    std::string key;
    Position key_pos;
    Node value;
};

struct ParseError {
    Position pos;
    std::string message;  // never quotes the document's content
};

// Parses one JSON value (surrounding whitespace allowed, a leading UTF-8 BOM skipped).
// Returns the root or the first syntax error.
std::optional<Node> parse_json(std::string_view text, ParseError& error);

std::string_view type_name(Node::Type t);

}  // namespace qmtkit::manifest::detail
