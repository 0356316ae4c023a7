// libFuzzer entry point of the engine harness (the fuzz preset builds it with clang).
#include <cstddef>
#include <cstdint>

#include "engine_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    qmtkit::fuzz::run_engine_case(data, size);
    return 0;
}
