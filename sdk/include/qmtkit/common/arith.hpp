// 64-bit arithmetic a 32-bit MCU does without a runtime helper.
#pragma once

#include <cstdint>

namespace qmtkit {

struct DivResult {
    std::uint64_t quot;
    std::uint32_t rem;
};

// u / d and u % d for a divisor below 65536, with 32-bit divisions only: long division in base
// 2^16, where every partial dividend stays below d * 2^16. On a Cortex-M a 64-bit `/` or `%`
// links libgcc's __aeabi_uldivmod (about 750 B of flash); this is a few instructions.
constexpr DivResult div_small(std::uint64_t u, std::uint16_t d) {
    std::uint64_t q = 0;
    std::uint32_t r = 0;
    for (int shift = 48; shift >= 0; shift -= 16) {
        const std::uint32_t cur = (r << 16) | static_cast<std::uint32_t>((u >> shift) & 0xFFFFu);
        q |= static_cast<std::uint64_t>(cur / d) << shift;
        r = cur % d;
    }
    return DivResult{q, r};
}

}  // namespace qmtkit
