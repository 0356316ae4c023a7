// libFuzzer entry point of the manifest validator and its JSON parser (manifest_check.cpp). A
// broken property is printed, then abort(); leaks and UB are ASan's and UBSan's to report.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "decoder_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string broken = qmtkit::fuzz::check_manifest_case(data, size);
    if (!broken.empty()) {
        std::fprintf(stderr, "manifest fuzz: %s\n", broken.c_str());
        std::abort();
    }
    return 0;
}
