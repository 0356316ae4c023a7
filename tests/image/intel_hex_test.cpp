// The Intel HEX writer and reader: a known-good example, the same output as binutils'
// `objcopy -I binary -O ihex` (less its start-address record), and objcopy reading ours back.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "process.hpp"
#include "qmtkit/image/intel_hex.hpp"

namespace qmtkit::image {
namespace {

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
    return b;
}

std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Checksums by hand: 0x10 + 0 + 0 + 0 + (0 + 1 + ... + 15 = 0x78) = 0x88 -> 0x78.
TEST(IntelHex, KnownGoodExample) {
    std::vector<std::uint8_t> b(20);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i);
    EXPECT_EQ(to_intel_hex(b.data(), b.size(), 0),
              ":10000000000102030405060708090A0B0C0D0E0F78\r\n"
              ":0400100010111213A6\r\n"
              ":00000001FF\r\n");
    // Above 64 KB: the extended linear address first; a record never crosses 64 KB.
    EXPECT_EQ(to_intel_hex(b.data(), 4, 0x003FFFFE),
              ":02000004003FBB\r\n"
              ":02FFFE00000100\r\n"
              ":020000040040BA\r\n"
              ":020000000203F9\r\n"
              ":00000001FF\r\n");
}

TEST(IntelHex, RoundTripThroughTheReader) {
    for (std::uint32_t addr : {0u, 0x1234u, 0x003FF000u, 0x0001FFF5u}) {
        const auto b = pattern(300);
        const auto back = from_intel_hex(to_intel_hex(b.data(), b.size(), addr));
        EXPECT_EQ(back.address, addr);
        EXPECT_EQ(back.bytes, b);
    }
}

TEST(IntelHex, ReaderRefusesMalformedFiles) {
    const auto b = pattern(40);
    const std::string good = to_intel_hex(b.data(), b.size(), 0x100);
    const auto refused = [](const std::string& text) -> std::string {
        try {
            from_intel_hex(text);
        } catch (const HexError& e) {
            return e.what();
        }
        return "accepted";
    };
    std::string bad_sum = good;
    bad_sum[9] = bad_sum[9] == '0' ? '1' : '0';
    EXPECT_EQ(refused(bad_sum), "line 1: checksum mismatch");
    EXPECT_EQ(refused(good.substr(0, good.rfind(":00000001FF"))), "no end-of-file record");
    EXPECT_EQ(refused(good + ":00000001FF\r\n"), "line 5: data after the end-of-file record");
    EXPECT_EQ(refused(":0100000000FF\r\n:01000500AA50\r\n:00000001FF\r\n").substr(0, 22),
              "the data is not one co");
    EXPECT_EQ(refused(":0G00000000\r\n"), "line 1: not a hex digit");
    EXPECT_TRUE(looks_like_intel_hex(good));
    EXPECT_FALSE(looks_like_intel_hex("QMTK\x01\x01"));
    EXPECT_EQ(from_intel_hex(":0100000000FF\n:00000001FF\n").bytes.size(), 1u);  // LF only
}

class IntelHexObjcopy : public ::testing::Test {
  protected:
    void SetUp() override {
        if (std::string(QMTKIT_OBJCOPY).empty() ||
            std::string(QMTKIT_OBJCOPY).find("NOTFOUND") != std::string::npos)
            GTEST_SKIP() << "objcopy (binutils) not found";
        dir_ = test::make_temp_dir("qmtkit-ihex-");
    }
    void TearDown() override {
        if (!dir_.empty()) test::remove_tree(dir_);
    }
    int objcopy(const std::string& args) {
        return std::system((std::string(QMTKIT_OBJCOPY) + " " + args).c_str());
    }
    std::string dir_;
};

TEST_F(IntelHexObjcopy, SameAsObjcopyLessItsStartAddress) {
    for (std::uint32_t addr : {0x00000000u, 0x00001234u, 0x003FF000u, 0x003FFFF5u}) {
        const auto b = pattern(4096);
        std::ofstream(dir_ + "/in.bin", std::ios::binary)
            .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
        std::ostringstream a;
        a << "0x" << std::hex << addr;
        ASSERT_EQ(objcopy("-I binary -O ihex --change-addresses " + a.str() + " " + dir_ +
                          "/in.bin " + dir_ + "/ref.hex"),
                  0);
        std::string ref;
        std::istringstream lines(read(dir_ + "/ref.hex"));
        for (std::string l; std::getline(lines, l);)
            if (l.rfind(":04000005", 0) != 0 && l.rfind(":04000003", 0) != 0) ref += l + "\n";
        EXPECT_EQ(to_intel_hex(b.data(), b.size(), addr), ref) << a.str();
    }
}

TEST_F(IntelHexObjcopy, ObjcopyReadsOursBackToTheSameBytes) {
    const auto b = pattern(1000);
    std::ofstream(dir_ + "/ours.hex", std::ios::binary)
        << to_intel_hex(b.data(), b.size(), 0x003FFE00u);
    ASSERT_EQ(objcopy("-I ihex -O binary " + dir_ + "/ours.hex " + dir_ + "/back.bin"), 0);
    EXPECT_EQ(read(dir_ + "/back.bin"), std::string(b.begin(), b.end()));
}

}  // namespace
}  // namespace qmtkit::image
