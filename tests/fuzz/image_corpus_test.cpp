// The image fuzzer's seeds (corpus/image, written by `qmtkit image build` from docs/examples)
// stay valid images of each profile, so the fuzzer always starts from inside the format.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "qmtkit/cloud/image_session.hpp"

namespace {

namespace fs = std::filesystem;

TEST(ImageFuzzCorpus, EverySeedIsAValidImageAndEveryProfileHasOne) {
    std::set<int> profiles;
    for (const auto& e : fs::directory_iterator(fs::path(QMTKIT_FUZZ_DIR) / "corpus" / "image")) {
        std::ifstream f(e.path(), std::ios::binary);
        const std::vector<std::uint8_t> b(std::istreambuf_iterator<char>(f), {});
        qmtkit::cloud::ProfileStore store;
        const auto r = qmtkit::cloud::load_image(qmtkit::ByteView(b.data(), b.size()), store);
        ASSERT_TRUE(r.has_value()) << e.path() << ": " << qmtkit::image::to_string(r.error().code);
        profiles.insert(static_cast<int>(r->profile));
    }
    EXPECT_EQ(profiles, (std::set<int>{1, 2, 3, 4}));
}

}  // namespace
