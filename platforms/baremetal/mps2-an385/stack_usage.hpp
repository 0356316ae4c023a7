// Stack high-water by painting: the start-up code fills the whole stack with kPaint before
// anything runs on it; the deepest word no longer holding kPaint is as far as the stack went.
// The linker script gives the stack a region of its own (_sstack .. _estack).
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmtkit::baremetal::stack_usage {

inline constexpr std::uint32_t kPaint = 0xA5A5A5A5u;

std::size_t size();        // bytes reserved for the stack
std::size_t high_water();  // bytes of it ever used (a word that happened to hold kPaint aside)
std::size_t ram_total();   // .data + .bss + the stack: everything the image takes of RAM
std::size_t ram_limit();   // the RAM region of the linker script

}  // namespace qmtkit::baremetal::stack_usage
