// Shared by the footprint probes: a UART that goes nowhere, inputs the compiler cannot predict
// and sinks it cannot drop, so every API a firmware calls is linked and nothing more.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmtkit/at/engine.hpp"

// sizeof(T) in the image's (not loaded) .qmtkit_sizes section, read back by the report.
#define QMTKIT_PROBE_SIZEOF(name, ...)                                                    \
    extern "C" __attribute__((used, section(".qmtkit_sizes"))) const std::uint32_t name = \
        sizeof(__VA_ARGS__)

// The sizes of the firmware variant (QMTKIT_TRACE 0) under names of their own: "<name>_fw".
#if QMTKIT_TRACE
#define QMTKIT_PROBE_NAME(name) qmtkit_sizeof_##name
#else
#define QMTKIT_PROBE_NAME(name) qmtkit_sizeof_##name##_fw
#endif

namespace probe {

inline volatile std::uint8_t rx[64];    // bytes "from the UART"
inline volatile std::uint32_t rx_len;   // how many of them
inline volatile std::uint32_t clock;    // milliseconds
inline volatile std::uint32_t input;    // any other input (a choice, a value)
inline volatile std::uint32_t sink;     // results go here
inline volatile std::uintptr_t sink_p;  // pointers / views go here

inline void keep(std::uint64_t v) {
    sink = static_cast<std::uint32_t>(v ^ (v >> 32));
}
inline void keep_text(const void* p, std::size_t n) {
    sink_p = reinterpret_cast<std::uintptr_t>(p);
    sink = static_cast<std::uint32_t>(n);
}

// Copies the volatile receive buffer, as a UART driver hands over a chunk.
inline std::size_t take_rx(std::uint8_t* out) {
    std::size_t n = rx_len;
    if (n > sizeof(rx)) n = sizeof(rx);
    for (std::size_t i = 0; i < n; ++i) out[i] = rx[i];
    return n;
}

struct Uart final : qmtkit::at::Writer {
    std::size_t write(const std::uint8_t* data, std::size_t size) override {
        keep_text(data, size);
        return input & 1u ? size : size / 2;
    }
};

}  // namespace probe
