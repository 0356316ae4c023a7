#include "qmtkit/common/crc32.hpp"

namespace qmtkit {

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
    static constexpr std::uint32_t kNibble[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    const auto* p = static_cast<const std::uint8_t*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        crc = (crc >> 4) ^ kNibble[crc & 0xFu];
        crc = (crc >> 4) ^ kNibble[crc & 0xFu];
    }
    return crc;
}

}  // namespace qmtkit
