// Arm semihosting (the debugger's, or QEMU's with -semihosting-config enable=on): text to the
// host's console and the exit status, the example firmware's only way to report.
#pragma once

#include <cstdint>
#include <string_view>

namespace qmtkit::baremetal::semihosting {

void write(std::string_view text);  // SYS_WRITE to ":tt": the host's stdout
// SYS_EXIT_EXTENDED (semihosting 2.0; QEMU has it for A32 / T32): ApplicationExit with `code`
// as the host's exit status. Does not return.
[[noreturn]] void exit(std::uint32_t code);

// One output line, built without printf (no heap, no locale, a few hundred bytes of flash).
class Line {
  public:
    Line& operator<<(std::string_view s);
    Line& operator<<(std::uint32_t v);
    // Written with a newline; a line longer than the buffer is cut (and ends in "...").
    void emit();

  private:
    char buf_[120];
    std::uint8_t len_ = 0;
    bool cut_ = false;
};

}  // namespace qmtkit::baremetal::semihosting
