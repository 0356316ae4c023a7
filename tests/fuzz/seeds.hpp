// The seed corpus: the vendor note's chapter 6 transcript (tests/unit/test_chapter6.cpp) written
// as harness programs. make_seeds writes them under corpus/; the replay test checks that the
// committed files are what this code makes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qmtkit::fuzz {

struct Seed {
    std::string name;  // file name under corpus/<harness>/
    std::vector<std::uint8_t> bytes;
};

std::vector<Seed> engine_seeds();
std::vector<Seed> client_seeds();

}  // namespace qmtkit::fuzz
