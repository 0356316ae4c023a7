#include "semihosting.hpp"

#include <cstddef>

namespace qmtkit::baremetal::semihosting {
namespace {

constexpr std::uint32_t kSysOpen = 0x01, kSysWrite = 0x05, kSysExitExtended = 0x20;
constexpr std::uint32_t kModeWrite = 4;  // fopen "w": ":tt" opened so is the host's stdout
constexpr std::uint32_t kApplicationExit = 0x20026;  // ADP_Stopped_ApplicationExit

std::uint32_t call(std::uint32_t op, const void* arg) {
    std::uint32_t ret = 0;
    // The operation in r0, its argument block in r1, the answer back in r0.
    asm volatile("mov r0, %1\n mov r1, %2\n bkpt 0xAB\n mov %0, r0"
                 : "=r"(ret)
                 : "r"(op), "r"(arg)
                 : "r0", "r1", "memory");
    return ret;
}

}  // namespace

void write(std::string_view text) {
    // SYS_WRITE0 goes to QEMU's stderr; the special file ":tt" opened for writing is stdout.
    static std::int32_t out = -1;
    if (out < 0) {
        const std::uint32_t open[3] = {reinterpret_cast<std::uintptr_t>(":tt"), kModeWrite, 3};
        out = static_cast<std::int32_t>(call(kSysOpen, open));
        if (out < 0) return;
    }
    const std::uint32_t block[3] = {static_cast<std::uint32_t>(out),
                                    reinterpret_cast<std::uintptr_t>(text.data()),
                                    static_cast<std::uint32_t>(text.size())};
    call(kSysWrite, block);  // answers the bytes not written: nothing to do about them here
}

void exit(std::uint32_t code) {
    const std::uint32_t block[2] = {kApplicationExit, code};
    call(kSysExitExtended, block);
    for (;;) {
    }
}

Line& Line::operator<<(std::string_view s) {
    for (char c : s) {
        if (len_ == sizeof buf_) {
            cut_ = true;
            break;
        }
        buf_[len_++] = c;
    }
    return *this;
}

Line& Line::operator<<(std::uint32_t v) {
    char digits[10];
    std::size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    char out[10];
    for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    return *this << std::string_view(out, n);
}

void Line::emit() {
    write(std::string_view(buf_, len_));
    write(cut_ ? "...\n" : "\n");
    len_ = 0;
    cut_ = false;
}

}  // namespace qmtkit::baremetal::semihosting
