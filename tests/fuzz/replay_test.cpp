// The fuzz harnesses inside the normal test run (label unit; the asan preset runs it again under
// ASan + UBSan): every seed, every saved regression, and a few thousand pseudo-random programs
// (fixed seeds) are checked for the invariants of engine_harness.cpp and client_harness.cpp.
// A failing random program is written to fuzz-failures/ in the working directory, to be kept
// under tests/fuzz/regressions/ once understood.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "client_harness.hpp"
#include "engine_harness.hpp"
#include "seeds.hpp"

using namespace qmtkit::fuzz;
namespace fs = std::filesystem;

namespace {

const fs::path kFuzzDir = QMTKIT_FUZZ_DIR;

using CheckFn = Verdict (*)(const std::uint8_t*, std::size_t);

CheckFn check_of(const std::string& harness) {
    return harness == "engine" ? &check_engine_case : &check_client_case;
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}

struct Case {
    std::string harness;  // "engine" / "client"
    fs::path file;
};

// corpus/<harness>/* and regressions/<harness>-*.bin, sorted.
std::vector<Case> cases(bool regressions) {
    std::vector<Case> out;
    for (const char* h : {"engine", "client"}) {
        const fs::path dir = regressions ? kFuzzDir / "regressions" : kFuzzDir / "corpus" / h;
        if (!fs::is_directory(dir)) continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir)) {
            const std::string name = e.path().filename().string();
            if (!e.is_regular_file() || name.front() == '.' || name.size() < 5 ||
                name.substr(name.size() - 4) != ".bin")
                continue;
            if (regressions && name.rfind(std::string(h) + "-", 0) != 0) continue;
            files.push_back(e.path());
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) out.push_back({h, f});
    }
    return out;
}

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.harness << " " << c.file.string();
}

std::string test_name(const ::testing::TestParamInfo<Case>& i) {
    std::string n = i.param.harness + "_" + i.param.file.stem().string();
    for (char& c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return n;
}

class Replay : public ::testing::TestWithParam<Case> {};

TEST_P(Replay, KeepsEveryInvariant) {
    const std::vector<std::uint8_t> bytes = read_file(GetParam().file);
    const Verdict v = check_of(GetParam().harness)(bytes.data(), bytes.size());
    EXPECT_TRUE(v.ok) << GetParam().file.string() << "\n" << v.text(GetParam().harness);
}

INSTANTIATE_TEST_SUITE_P(Corpus, Replay, ::testing::ValuesIn(cases(false)), test_name);
INSTANTIATE_TEST_SUITE_P(Regressions, Replay, ::testing::ValuesIn(cases(true)), test_name);

TEST(FuzzSeeds, CommittedCorpusIsWhatTheGeneratorMakes) {
    for (const char* h : {"engine", "client"}) {
        const std::vector<Seed> seeds =
            std::string(h) == "engine" ? engine_seeds() : client_seeds();
        for (const Seed& s : seeds) {
            const fs::path p = kFuzzDir / "corpus" / h / s.name;
            EXPECT_EQ(read_file(p), s.bytes)
                << p.string() << " is stale: run qmtkit_fuzz_seeds tests/fuzz/corpus";
        }
    }
}

// Random programs: mostly seeds mutated the way a fuzzer does (byte flips, inserted and deleted
// runs, spliced seeds), some plain random bytes.
std::vector<std::uint8_t> program(std::mt19937& rng, const std::vector<Seed>& seeds) {
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    auto byte = [&]() { return static_cast<std::uint8_t>(pick(256)); };
    std::vector<std::uint8_t> p;
    if (pick(8) == 0) {
        p.resize(2 + pick(300));
        for (auto& b : p) b = byte();
        return p;
    }
    p = seeds[pick(seeds.size())].bytes;
    const std::size_t edits = 1 + pick(8);
    for (std::size_t k = 0; k < edits && !p.empty(); ++k) {
        switch (pick(5)) {
            case 0:
                p[pick(p.size())] = byte();
                break;
            case 1: {
                const std::size_t at = pick(p.size() + 1);
                std::vector<std::uint8_t> run(1 + pick(12));
                for (auto& b : run) b = byte();
                p.insert(p.begin() + static_cast<std::ptrdiff_t>(at), run.begin(), run.end());
                break;
            }
            case 2: {
                const std::size_t at = pick(p.size());
                const std::size_t n = std::min(p.size() - at, 1 + pick(16));
                p.erase(p.begin() + static_cast<std::ptrdiff_t>(at),
                        p.begin() + static_cast<std::ptrdiff_t>(at + n));
                break;
            }
            case 3: {  // splice: the tail of another seed
                const auto& o = seeds[pick(seeds.size())].bytes;
                const std::size_t at = pick(p.size());
                const std::size_t from = 2 + pick(o.size() - 2);
                p.resize(at);
                p.insert(p.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
                break;
            }
            default:
                p.resize(pick(p.size()) + 1);
                break;
        }
    }
    return p;
}

void random_programs(const std::string& harness, std::uint32_t seed, int n) {
    const std::vector<Seed> seeds = harness == "engine" ? engine_seeds() : client_seeds();
    std::mt19937 rng(seed);
    std::map<std::string, int> broken;  // invariant -> programs that broke it
    int failures = 0;
    for (int i = 0; i < n; ++i) {
        const std::vector<std::uint8_t> p = program(rng, seeds);
        const Verdict v = check_of(harness)(p.data(), p.size());
        if (v.ok) continue;
        ++failures;
        if (broken[v.invariant]++ > 0) continue;
        // The first program for each broken invariant: reported and kept.
        fs::create_directories("fuzz-failures");
        const fs::path out = fs::absolute(fs::path("fuzz-failures") /
                                          (harness + "-random-" + std::to_string(i) + ".bin"));
        std::ofstream(out, std::ios::binary)
            .write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
        ADD_FAILURE() << "program " << i << " (saved as " << out.string() << ")\n"
                      << v.text(harness, 40);
    }
    std::string summary;
    for (const auto& [inv, count] : broken) summary += "\n  " + inv + ": " + std::to_string(count);
    EXPECT_EQ(failures, 0) << failures << " of " << n << " " << harness
                           << " programs broke an invariant:" << summary;
}

TEST(FuzzRandomPrograms, Engine) {
    random_programs("engine", 0x51A7E, 10000);
}

TEST(FuzzRandomPrograms, Client) {
    random_programs("client", 0xC11E7, 5000);
}

}  // namespace
