#include "qmtkit/image/intel_hex.hpp"

#include <algorithm>
#include <map>

namespace qmtkit::image {
namespace {

constexpr char kDigits[] = "0123456789ABCDEF";

// ":" LL AAAA TT DD.. CC — the checksum makes the bytes sum to 0 (mod 256).
void record(std::string& out, std::uint8_t type, std::uint16_t addr, const std::uint8_t* d,
            std::size_t n) {
    std::uint8_t sum = 0;
    const auto put = [&](std::uint8_t b) {
        out += kDigits[b >> 4];
        out += kDigits[b & 0xF];
        sum = static_cast<std::uint8_t>(sum + b);
    };
    out += ':';
    put(static_cast<std::uint8_t>(n));
    put(static_cast<std::uint8_t>(addr >> 8));
    put(static_cast<std::uint8_t>(addr & 0xFF));
    put(type);
    for (std::size_t i = 0; i < n; ++i) put(d[i]);
    put(static_cast<std::uint8_t>(0x100 - sum));
    out += "\r\n";
}

void upper(std::string& out, std::uint32_t addr) {
    const std::uint8_t hi[2] = {static_cast<std::uint8_t>(addr >> 24),
                                static_cast<std::uint8_t>(addr >> 16)};
    record(out, 0x04, 0, hi, 2);
}

int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// The lines of `text` without their CR / LF, blank ones dropped; each with its 1-based number.
std::vector<std::pair<std::size_t, std::string_view>> lines(std::string_view text) {
    std::vector<std::pair<std::size_t, std::string_view>> out;
    std::size_t no = 0, at = 0;
    while (at < text.size()) {
        const std::size_t eol = std::min(text.find('\n', at), text.size());
        std::string_view l = text.substr(at, eol - at);
        ++no;
        while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t'))
            l.remove_suffix(1);
        if (!l.empty()) out.emplace_back(no, l);
        at = eol + 1;
    }
    return out;
}

}  // namespace

std::string to_intel_hex(const std::uint8_t* data, std::size_t n, std::uint32_t address) {
    if (n > 0 && n - 1 > 0xFFFFFFFFu - address)
        throw std::invalid_argument("Intel HEX: the data runs past the 4 GB address space");
    std::string out;
    std::uint32_t addr = address;
    if ((addr >> 16) != 0) upper(out, addr);
    for (std::size_t i = 0; i < n;) {
        // A record never crosses a 64 KB boundary: the next one starts with a new type 04.
        const std::size_t room = 0x10000u - (addr & 0xFFFFu);
        const std::size_t len = std::min<std::size_t>({16, n - i, room});
        record(out, 0x00, static_cast<std::uint16_t>(addr & 0xFFFF), data + i, len);
        i += len;
        addr += static_cast<std::uint32_t>(len);
        if (i < n && (addr & 0xFFFFu) == 0) upper(out, addr);
    }
    record(out, 0x01, 0, nullptr, 0);
    return out;
}

bool looks_like_intel_hex(std::string_view text) {
    const auto ls = lines(text);
    if (ls.empty()) return false;
    for (const auto& [no, l] : ls) {
        if (l[0] != ':' || l.size() < 11) return false;
        for (std::size_t i = 1; i < l.size(); ++i)
            if (nibble(l[i]) < 0) return false;
    }
    return true;
}

HexData from_intel_hex(std::string_view text) {
    std::map<std::uint32_t, std::uint8_t> bytes;
    std::uint32_t base = 0;
    bool eof = false;
    for (const auto& [no, l] : lines(text)) {
        const std::string where = "line " + std::to_string(no) + ": ";
        if (eof) throw HexError(where + "data after the end-of-file record");
        if (l[0] != ':' || l.size() < 11 || l.size() % 2 == 0)
            throw HexError(where + "not an Intel HEX record");
        std::vector<std::uint8_t> b;
        for (std::size_t i = 1; i + 1 < l.size(); i += 2) {
            const int hi = nibble(l[i]), lo = nibble(l[i + 1]);
            if (hi < 0 || lo < 0) throw HexError(where + "not a hex digit");
            b.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
        }
        if (b.size() != 5u + b[0]) throw HexError(where + "byte count does not match the record");
        std::uint8_t sum = 0;
        for (std::uint8_t x : b) sum = static_cast<std::uint8_t>(sum + x);
        if (sum != 0) throw HexError(where + "checksum mismatch");
        const std::uint32_t offset = (static_cast<std::uint32_t>(b[1]) << 8) | b[2];
        switch (b[3]) {
            case 0x00:
                for (std::size_t i = 0; i < b[0]; ++i) {
                    const std::uint32_t a = base + ((offset + i) & 0xFFFFu);
                    if (!bytes.emplace(a, b[4 + i]).second)
                        throw HexError(where + "address given twice");
                }
                break;
            case 0x01:
                eof = true;
                break;
            case 0x02:
            case 0x04:
                if (b[0] != 2) throw HexError(where + "bad extended address record");
                base = (static_cast<std::uint32_t>(b[4]) << 8 | b[5]) << (b[3] == 0x04 ? 16 : 4);
                break;
            case 0x03:
            case 0x05:
                break;  // start address: nothing to flash
            default:
                throw HexError(where + "unknown record type " + std::to_string(b[3]));
        }
    }
    if (!eof) throw HexError("no end-of-file record");
    HexData out;
    if (bytes.empty()) return out;
    out.address = bytes.begin()->first;
    for (const auto& [a, v] : bytes) {
        if (a != out.address + out.bytes.size())
            throw HexError("the data is not one contiguous run (a gap before address " +
                           std::to_string(a) + ")");
        out.bytes.push_back(v);
    }
    return out;
}

}  // namespace qmtkit::image
