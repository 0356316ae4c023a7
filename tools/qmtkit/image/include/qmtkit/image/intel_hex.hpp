// Intel HEX for the credential image (flashers that take .hex): records of 16 data bytes, an
// extended linear address record (type 04) first when the address is above 64 KB and again
// at every 64 KB boundary, then the end-of-file record; CRLF line ends. The same output as
// `objcopy -I binary -O ihex --change-addresses A` without its start-address record.
// A dozen lines of code: no Debian library does just this (libsrecord-dev is a framework of
// many formats) and the CLI must not run an external tool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qmtkit::image {

std::string to_intel_hex(const std::uint8_t* data, std::size_t n, std::uint32_t address);

// A malformed file: "line N: <what>".
class HexError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct HexData {
    std::uint32_t address = 0;  // of the first byte
    std::vector<std::uint8_t> bytes;
};
// Data records (00) placed by types 04 / 02, up to the end-of-file record (01); start address
// records (03, 05) are ignored. The data must be one contiguous run.
HexData from_intel_hex(std::string_view text);

// The first non-blank byte is ':' and every line is a record: worth reading as Intel HEX.
bool looks_like_intel_hex(std::string_view text);

}  // namespace qmtkit::image
