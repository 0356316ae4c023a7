// libFuzzer entry point of the result-line decoders (recv_check.cpp): +QMTRECV framing in every
// claim phase and overflow, and the typed replies. A broken property is printed, then abort().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "decoder_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string broken = qmtkit::fuzz::check_recv_case(data, size);
    if (!broken.empty()) {
        std::fprintf(stderr, "recv fuzz: %s\n", broken.c_str());
        std::abort();
    }
    return 0;
}
