// Prints what a harness program does, step by step, and its verdict:
//   qmtkit_fuzz_explain engine|client <file>
// for reading a seed, a regression or a crash a fuzzer found.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "client_harness.hpp"
#include "engine_harness.hpp"

int main(int argc, char** argv) {
    const std::string h = argc == 3 ? argv[1] : "";
    if (h != "engine" && h != "client") {
        std::fprintf(stderr, "usage: %s engine|client <file>\n", argv[0]);
        return 2;
    }
    std::ifstream f(argv[2], std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(f), {}};
    const qmtkit::fuzz::Verdict v =
        h == "engine" ? qmtkit::fuzz::trace_engine_case(bytes.data(), bytes.size())
                      : qmtkit::fuzz::trace_client_case(bytes.data(), bytes.size());
    for (const std::string& line : v.trace) std::printf("%s\n", line.c_str());
    if (v.ok) {
        std::printf("-- every invariant holds\n");
        return 0;
    }
    std::printf("%s", v.text(h, 0).c_str());
    return 1;
}
