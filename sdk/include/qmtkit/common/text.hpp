// Pieces of a string_view that cannot throw. std::string_view::substr() and compare(pos, n, s)
// check `pos` and throw std::out_of_range; in a firmware image built with -fno-exceptions that
// check still links std::__throw_out_of_range_fmt, abort() and, through newlib's abort, malloc
// (about 1 KB of flash and 112 B of RAM on a Cortex-M3: bench/footprint.sh shows it). The core
// uses these instead: the same result wherever substr() would not throw, clamped where it would.
#pragma once

#include <cstddef>
#include <string_view>

namespace qmtkit {

// s.substr(pos, n) without the throw: a `pos` past the end gives the empty view at the end.
constexpr std::string_view sub_view(std::string_view s, std::size_t pos,
                                    std::size_t n = std::string_view::npos) {
    if (pos > s.size()) pos = s.size();
    const std::size_t left = s.size() - pos;
    return std::string_view(s.data() + pos, n < left ? n : left);
}

// s.compare(0, p.size(), p) == 0 (C++20's starts_with) without the throw.
constexpr bool has_prefix(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && std::string_view(s.data(), p.size()) == p;
}

}  // namespace qmtkit
