// libFuzzer entry point of the client harness (the fuzz preset builds it with clang).
#include <cstddef>
#include <cstdint>

#include "client_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    qmtkit::fuzz::run_client_case(data, size);
    return 0;
}
