// Vocabulary shared by every layer of the core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qmtkit {

// A point in time in milliseconds, from whatever monotonic clock the platform has. The core
// never reads a clock: every entry point that needs time takes it as an argument.
using Instant = std::uint64_t;
// A duration in milliseconds.
using Millis = std::uint32_t;

struct ByteView {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;

    constexpr ByteView() = default;
    constexpr ByteView(const std::uint8_t* d, std::size_t n) : data(d), size(n) {}
    ByteView(std::string_view s)  // NOLINT: text is bytes
        : data(reinterpret_cast<const std::uint8_t*>(s.data())), size(s.size()) {}
    constexpr bool empty() const { return size == 0; }
    std::string_view as_text() const { return {reinterpret_cast<const char*>(data), size}; }
};

}  // namespace qmtkit
