// An in-memory NOR flash for the FlashLog tests: erase sets a page to 0xFF, program only clears
// bits, and what a real part would refuse or corrupt is recorded as a violation (a 1 programmed
// over a 0, a misaligned program, a unit programmed twice with anything but zeros — ECC flash
// like STM32L4's allows only that). The power can be cut at the k-th write step (program or
// erase): that step reaches the flash torn as `tear` says, and every later call fails until
// power_on() (the "reboot").
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qmtkit/qmt/flash_log.hpp"

namespace qmtkit::test {

enum class Tear : std::uint8_t {
    nothing,       // the cut step writes nothing
    prefix,        // the bytes of half its units and the first half of the next unit's (an
                   // erase: the first half of the page)
    partial_unit,  // a program: half its units, and one more with only some of its bits cleared
};

class SimFlash final : public qmt::Flash {
  public:
    SimFlash(std::uint32_t page_size, std::uint32_t pages, std::uint32_t unit)
        : mem(static_cast<std::size_t>(page_size) * pages, 0xFF),
          page_(page_size),
          pages_(pages),
          unit_(unit),
          programmed_(mem.size() / unit, false) {}

    std::uint32_t page_size() const override { return page_; }
    std::uint32_t page_count() const override { return pages_; }
    std::uint32_t write_unit() const override { return unit_; }

    bool read(std::uint32_t addr, std::uint8_t* buf, std::size_t n) override {
        if (dead || !in_range(addr, n, "read")) return false;
        std::memcpy(buf, mem.data() + addr, n);
        ++reads;
        return true;
    }

    bool program(std::uint32_t addr, const std::uint8_t* data, std::size_t n) override {
        if (dead || refuse_programs) return false;
        if (!in_range(addr, n, "program")) return false;
        if (addr % unit_ != 0 || n % unit_ != 0) {
            violation("misaligned program at " + std::to_string(addr) + " +" + std::to_string(n));
            return false;
        }
        for (std::size_t u = 0; u < n; u += unit_) {
            if (!programmed_[(addr + u) / unit_]) continue;
            bool zeros = true;
            for (std::size_t i = 0; i < unit_; ++i) zeros = zeros && data[u + i] == 0;
            if (!zeros) violation("unit at " + std::to_string(addr + u) + " programmed twice");
        }
        for (std::size_t i = 0; i < n; ++i)
            if ((data[i] & ~mem[addr + i] & 0xFF) != 0)
                violation("0 -> 1 at " + std::to_string(addr + i));
        ++steps;
        std::size_t whole = n / unit_;
        std::size_t bytes = n;
        if (steps == cut_at) {
            dead = true;
            whole = tear == Tear::nothing ? 0 : whole / 2;
            bytes = whole * unit_ + (tear == Tear::prefix ? unit_ / 2 : 0);
        }
        apply(addr, data, bytes);
        if (dead && tear == Tear::partial_unit && whole * unit_ < n) {
            const std::size_t at = whole * unit_;
            for (std::size_t i = 0; i < unit_; ++i) {  // every other bit of the unit gets there
                const auto want = static_cast<std::uint8_t>(data[at + i] | 0x55);
                mem[addr + at + i] = static_cast<std::uint8_t>(mem[addr + at + i] & want);
            }
            programmed_[(addr + at) / unit_] = true;
        }
        return !dead;
    }

    bool erase(std::uint32_t page) override {
        if (dead) return false;
        if (page >= pages_) {
            violation("erase of page " + std::to_string(page));
            return false;
        }
        ++steps;
        ++erases;
        std::size_t n = page_;
        if (steps == cut_at) {
            dead = true;
            n = tear == Tear::nothing ? 0 : page_ / 2;
        }
        const std::size_t base = static_cast<std::size_t>(page) * page_;
        std::memset(mem.data() + base, 0xFF, n);
        for (std::size_t u = 0; u < n / unit_; ++u) programmed_[base / unit_ + u] = false;
        return !dead;
    }

    // The reboot: the flash keeps what it holds; the power is back.
    void power_on() {
        dead = false;
        cut_at = 0;
    }

    std::vector<std::uint8_t> mem;
    long steps = 0;   // program and erase calls that reached the flash
    long cut_at = 0;  // the step the power goes at (1-based); 0: never
    Tear tear = Tear::nothing;
    bool dead = false;
    bool refuse_programs = false;
    long reads = 0;
    long erases = 0;
    std::vector<std::string> violations;

  private:
    bool in_range(std::uint32_t addr, std::size_t n, const char* what) {
        if (addr <= mem.size() && n <= mem.size() - addr) return true;
        violation(std::string(what) + " out of range at " + std::to_string(addr));
        return false;
    }
    void apply(std::uint32_t addr, const std::uint8_t* data, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            mem[addr + i] = static_cast<std::uint8_t>(mem[addr + i] & data[i]);
        // A unit the write reached at all counts as programmed.
        for (std::size_t u = 0; u < n; u += unit_) programmed_[(addr + u) / unit_] = true;
    }
    void violation(std::string s) { violations.push_back(std::move(s)); }

    std::uint32_t page_;
    std::uint32_t pages_;
    std::uint32_t unit_;
    std::vector<bool> programmed_;
};

}  // namespace qmtkit::test
