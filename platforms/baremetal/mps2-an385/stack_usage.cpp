#include "stack_usage.hpp"

extern "C" std::uint32_t _sstack[], _estack[], _sdata[], __ram_start[], __ram_end[];

namespace qmtkit::baremetal::stack_usage {

std::size_t size() {
    return static_cast<std::size_t>(_estack - _sstack) * sizeof(std::uint32_t);
}

std::size_t high_water() {
    const std::uint32_t* p = _sstack;
    while (p < _estack && *p == kPaint) ++p;
    return static_cast<std::size_t>(_estack - p) * sizeof(std::uint32_t);
}

std::size_t ram_total() {
    return static_cast<std::size_t>(_estack - __ram_start) * sizeof(std::uint32_t);
}

std::size_t ram_limit() {
    return static_cast<std::size_t>(__ram_end - __ram_start) * sizeof(std::uint32_t);
}

}  // namespace qmtkit::baremetal::stack_usage
