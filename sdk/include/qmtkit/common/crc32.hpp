// CRC-32 (IEEE 802.3, reflected 0xEDB88320; "123456789" -> 0xCBF43926), as the outbox stores
// check their records. Nibble-table form: 64 bytes of table instead of 1 KB, two steps a byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmtkit {

constexpr std::uint32_t kCrc32Init = 0xFFFFFFFFu;

// Folds `n` bytes into a running CRC started at kCrc32Init; crc32_final() gives the value.
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);
constexpr std::uint32_t crc32_final(std::uint32_t crc) { return crc ^ 0xFFFFFFFFu; }

inline std::uint32_t crc32(const void* data, std::size_t n) {
    return crc32_final(crc32_update(kCrc32Init, data, n));
}

}  // namespace qmtkit
