// Small text helpers for tests that read a tool's output or a log.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace qmtkit::test {

// Occurrences of `what` in `text` (overlapping ones counted).
inline std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// The lines of `text`, without their '\n'.
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> v;
    std::size_t at = 0;
    while (at < text.size()) {
        auto nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        v.push_back(text.substr(at, nl - at));
        at = nl + 1;
    }
    return v;
}

}  // namespace qmtkit::test
