// The decoder fuzzers' checks (recv_check.cpp, manifest_check.cpp) inside the normal test run
// (label unit; the asan preset runs them again): every seed of corpus/recv and corpus/manifest,
// every saved recv-*.bin / manifest-*.bin regression, and a few thousand mutations of the seeds
// (fixed seeds), so a dev build exercises the same properties the fuzz preset does.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "decoder_checks.hpp"

namespace {

namespace fs = std::filesystem;
using qmtkit::fuzz::check_recv_case;

const fs::path kFuzzDir = QMTKIT_FUZZ_DIR;

std::vector<std::uint8_t> read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// corpus/<harness>/* (seeds) or regressions/<harness>-*.bin, sorted.
std::vector<fs::path> files(const std::string& harness, bool regressions) {
    const fs::path dir = regressions ? kFuzzDir / "regressions" : kFuzzDir / "corpus" / harness;
    std::vector<fs::path> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (!e.is_regular_file() || name.front() == '.') continue;
        if (regressions && (name.rfind(harness + "-", 0) != 0 || e.path().extension() != ".bin"))
            continue;
        out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

using Check = std::string (*)(const std::uint8_t*, std::size_t);

void replay(const std::string& harness, Check check, std::size_t min_seeds) {
    const std::vector<fs::path> seeds = files(harness, false);
    EXPECT_GE(seeds.size(), min_seeds) << "corpus/" << harness << " lost its seeds";
    for (bool regressions : {false, true}) {
        for (const fs::path& p : regressions ? files(harness, true) : seeds) {
            const std::vector<std::uint8_t> b = read_file(p);
            EXPECT_EQ(check(b.data(), b.size()), "") << p.string();
        }
    }
}

// Seeds mutated as a fuzzer would (bytes changed, runs inserted from other seeds, cut short).
void mutations(const std::string& harness, Check check, std::uint32_t seed, int n) {
    std::vector<std::vector<std::uint8_t>> seeds;
    for (const fs::path& p : files(harness, false)) seeds.push_back(read_file(p));
    ASSERT_FALSE(seeds.empty());
    std::mt19937 rng(seed);
    const auto pick = [&](std::size_t k) {
        return std::uniform_int_distribution<std::size_t>(0, k - 1)(rng);
    };
    int failures = 0;
    for (int i = 0; i < n && failures < 3; ++i) {
        std::vector<std::uint8_t> p = seeds[pick(seeds.size())];
        for (std::size_t e = 1 + pick(6); e > 0 && !p.empty(); --e) {
            const std::size_t at = pick(p.size());
            switch (pick(4)) {
                case 0:
                    p[at] = static_cast<std::uint8_t>(pick(256));
                    break;
                case 1: {
                    const auto& o = seeds[pick(seeds.size())];
                    const std::size_t from = pick(o.size());
                    const std::size_t len = std::min(o.size() - from, 1 + pick(24));
                    p.insert(p.begin() + static_cast<std::ptrdiff_t>(at),
                             o.begin() + static_cast<std::ptrdiff_t>(from),
                             o.begin() + static_cast<std::ptrdiff_t>(from + len));
                    break;
                }
                case 2:
                    p.erase(p.begin() + static_cast<std::ptrdiff_t>(at),
                            p.begin() +
                                static_cast<std::ptrdiff_t>(std::min(p.size(), at + 1 + pick(8))));
                    break;
                default:
                    p.resize(at + 1);
                    break;
            }
        }
        const std::string broken = check(p.data(), p.size());
        if (broken.empty()) continue;
        ++failures;
        ADD_FAILURE() << harness << " mutation " << i << ": " << broken;
    }
}

TEST(RecvFuzzCorpus, SeedsAndRegressionsKeepEveryProperty) {
    replay("recv", &check_recv_case, 8);
}

TEST(RecvFuzzCorpus, MutatedSeedsKeepEveryProperty) {
    mutations("recv", &check_recv_case, 0x4ECF, 4000);
}

#ifdef QMTKIT_FUZZ_MANIFEST
TEST(ManifestFuzzCorpus, SeedsAndRegressionsKeepEveryProperty) {
    replay("manifest", &qmtkit::fuzz::check_manifest_case, 5);
}

TEST(ManifestFuzzCorpus, MutatedSeedsKeepEveryProperty) {
    mutations("manifest", &qmtkit::fuzz::check_manifest_case, 0x3A41F, 2000);
}
#endif

}  // namespace
