// `qmtkit image build` / `qmtkit image inspect` as a real subprocess: build -> inspect round trip
// for each profile (.bin and Intel HEX), a corrupt or truncated image is one line naming the
// parser's error and exit status 2, usage errors, and no secret in any output.
#include <gtest/gtest.h>

#include "qmtkit/cloud/signing.hpp"
#include "support.hpp"

namespace qmtkit::cli_test {
namespace {

const std::string kImei = "490154203237518";
const std::string kAliSecret = "CliAliSecret-0042", kPskRaw = "CliTencentPsk-0042",
                  kSuiteSecret = "CliSuiteSecret-0042";

class CliImage : public ::testing::Test {
  protected:
    std::string manifest(const std::string& name, const std::string& json) {
        const std::string p = dir.file(name);
        write_file(p, json);
        return p;
    }
    std::string aliyun() {
        return manifest("aliyun.json", R"({"cloud": "aliyun", "devices": [
  {"product_key": "a1CliPK0001", "device_name": "ali-1", "device_secret": ")" +
                                           kAliSecret + R"(", "imei": ")" + kImei + R"("},
  {"product_key": "a1CliPK0001", "device_name": "ali-2", "device_secret_env": "NOT_SET_HERE"}]})");
    }
    std::string tencent() {
        return manifest("tencent.json", R"({"cloud": "tencent", "expiry_s": 31536000, "devices": [
  {"product_id": "CLIPID0001", "device_name": "ten-1", "device_psk": ")" +
                                            cloud::base64_encode(kPskRaw) + R"("}]})");
    }
    std::string token() {
        write_file(dir.file("suite.secret"), kSuiteSecret + "\n");
        return manifest("token.json",
                        R"({"cloud": "tencent-token", "token_url": "http://127.0.0.1:9/token",
  "expire_days": 3, "devices": [
  {"product_id": "clisuite", "device_name": "suite-1", "device_secret_file": "suite.secret"}]})");
    }
    static void expect_no_secret(const CliRun& r) {
        for (const std::string& s :
             {kAliSecret, kPskRaw, cloud::base64_encode(kPskRaw), kSuiteSecret})
            EXPECT_EQ(r.all().find(s), std::string::npos) << s << " in:\n" << r.all();
    }
    CliRun build(const std::string& m, const std::string& out, std::vector<std::string> more = {}) {
        std::vector<std::string> a{"image",  "build", "--manifest", m,
                                   "--imei", kImei,   "--out",      out};
        a.insert(a.end(), more.begin(), more.end());
        auto r = run_qmtkit(a);
        expect_no_secret(r);
        return r;
    }
    CliRun inspect(const std::string& file) {
        auto r = run_qmtkit({"image", "inspect", file});
        expect_no_secret(r);
        return r;
    }
    TempDir dir;
};

struct Case {
    std::string name;
    std::string manifest;
    std::vector<std::string> more;
    std::string profile;
    std::vector<std::string> lines;
};

TEST_F(CliImage, BuildThenInspectEachProfileBinAndHex) {
    const std::vector<Case> cases = {
        {"aliauth",
         aliyun(),
         {"--device-name", "ali-1"},
         "1 (Aliyun aliauth)",
         {"product         a1CliPK0001\n", "secret          ***\n",
          "broker          a1CliPK0001.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883\n"}},
        {"presigned",
         aliyun(),
         {"--sign-on-host"},
         "4 (pre-signed)",
         {"username        ali-1&a1CliPK0001\n", "password        ***\n",
          "sign_method     hmacsha256\n"}},
        {"tencent",
         tencent(),
         {"--device-name", "ten-1"},
         "2 (Tencent signed on the host)",
         {"client_id       CLIPID0001ten-1\n", "password        ***\n"}},
        {"token",
         token(),
         {"--device-name", "suite-1"},
         "3 (Tencent token flow)",
         {"secret          ***\n", "token_url       http://127.0.0.1:9/token\n",
          "expire_days     3\n"}},
    };
    for (const auto& c : cases) {
        for (const std::string ext : {".bin", ".hex"}) {
            const std::string out = dir.file(c.name + ext);
            const auto b = build(c.manifest, out, c.more);
            ASSERT_EQ(b.status, 0) << c.name << ext << ": " << b.err;
            EXPECT_NE(b.out.find("wrote " + out + ": profile " + c.profile), std::string::npos)
                << b.out;
            const auto r = inspect(out);
            ASSERT_EQ(r.status, 0) << c.name << ext << ": " << r.err;
            EXPECT_NE(r.out.find("profile         " + c.profile + "\n"), std::string::npos)
                << r.out;
            EXPECT_NE(r.out.find("imei            " + kImei + "\n"), std::string::npos) << r.out;
            EXPECT_NE(r.out.find(ext == ".hex" ? "(Intel HEX at 0x003FF000, " : "(binary, "),
                      std::string::npos)
                << r.out;
            for (const auto& l : c.lines) EXPECT_NE(r.out.find(l), std::string::npos) << l << r.out;
        }
    }
    // The signed username's lifetime is said when it is built.
    EXPECT_NE(build(tencent(), dir.file("t.bin"), {"--device-name", "ten-1"})
                  .out.find("the signed username expires at "),
              std::string::npos);
}

TEST_F(CliImage, HexAtAnotherAddressAndAFlashDumpWithErasedTail) {
    const auto b =
        build(aliyun(), dir.file("x.img"),
              {"--device-name", "ali-1", "--format", "hex", "--flash-address", "0x8000"});
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(slurp(dir.file("x.img")).rfind(":10800000514D544B", 0), 0u);
    EXPECT_NE(inspect(dir.file("x.img")).out.find("(Intel HEX at 0x00008000, "), std::string::npos);
    // The 4 KB region as read back from flash: the image, then 0xFF.
    ASSERT_EQ(build(aliyun(), dir.file("a.bin"), {"--device-name", "ali-1"}).status, 0);
    std::string region = slurp(dir.file("a.bin"));
    region.resize(4096, '\xFF');
    write_file(dir.file("region.bin"), region);
    EXPECT_EQ(inspect(dir.file("region.bin")).status, 0);
}

TEST_F(CliImage, CorruptOrTruncatedImageIsOneLineAndStatus2) {
    ASSERT_EQ(build(aliyun(), dir.file("a.bin"), {"--device-name", "ali-1"}).status, 0);
    const std::string good = slurp(dir.file("a.bin"));
    const auto check = [&](const std::string& name, const std::string& bytes,
                           const std::string& line) {
        write_file(dir.file(name), bytes);
        const auto r = inspect(dir.file(name));
        EXPECT_EQ(r.status, 2) << name;
        EXPECT_EQ(r.out, "") << name;
        EXPECT_EQ(r.err, "qmtkit image inspect: " + dir.file(name) + ": " + line + "\n") << name;
    };
    check("cut.bin", good.substr(0, good.size() - 1),
          "truncated: shorter than its header or its TLV length says (offset " +
              std::to_string(good.size() - 1) + ")");
    std::string flipped = good;
    flipped[20] = static_cast<char>(flipped[20] ^ 0x20);
    check("flip.bin", flipped,
          "CRC mismatch: the CRC-32 does not match the image (offset " +
              std::to_string(good.size() - 4) + ")");
    check("magic.bin", "QMTX" + good.substr(4),
          "bad magic: not a QMTK credential image (offset 3)");
    check("garbage.bin", good + std::string(1, '\0'),
          "trailing garbage: bytes after the CRC that are not erased flash (0xFF) (offset " +
              std::to_string(good.size()) + ")");
    check("empty.bin", "", "truncated: shorter than its header or its TLV length says (offset 0)");
    check("bad.hex", ":0100000000FF\r\n:00000001FE\r\n", "Intel HEX line 2: checksum mismatch");
    const auto missing = inspect(dir.file("nope.bin"));
    EXPECT_EQ(missing.status, 2);
    EXPECT_EQ(missing.err,
              "qmtkit image inspect: " + dir.file("nope.bin") + ": No such file or directory\n");
}

TEST_F(CliImage, BuildRefusalsAndUsageErrorsNameNoSecret) {
    const std::string m = aliyun();
    auto r = run_qmtkit({"image", "build", "--manifest", m, "--out", dir.file("o.bin")});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "Error: --imei (the module's IMEI, stored in the image) is required.\n");
    r = build(m, dir.file("o.bin"), {"--format", "bin", "--flash-address", "0x1000"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "Error: --flash-address is for --format hex (a .bin has no address).\n");
    r = build(m, dir.file("o.hex"), {"--flash-address", "0x1G"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("Invalid flash address given: 0x1G"), std::string::npos) << r.err;
    r = run_qmtkit({"image", "build", "--manifest", m, "--imei", "490154203237519", "--out",
                    dir.file("o.bin")});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("Invalid IMEI given: 490154203237519"), std::string::npos) << r.err;
    // ali-2 has no IMEI in the manifest; its secret's variable is not set: exit 2.
    r = build(m, dir.file("o.bin"), {"--device-name", "ali-2"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("NOT_SET_HERE"), std::string::npos) << r.err;
    r = build(m, dir.file("o.bin"), {"--device-name", "nobody"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "Error: No device named 'nobody' in " + m + ".\n");
    r = run_qmtkit({"image", "build", "--manifest", tencent(), "--imei", kImei, "--out",
                    dir.file("o.bin"), "--sign-on-host"});
    EXPECT_EQ(r.status, 1);
    expect_no_secret(r);
    // A secret the module's AT line cannot carry: refused by the parser's check, not quoted.
    const std::string q = manifest("q.json", R"({"cloud": "aliyun", "devices": [
  {"product_key": "pk", "device_name": "dn", "device_secret": "has\"quote-)" +
                                                 kAliSecret + R"("}]})");
    r = build(q, dir.file("o.bin"), {"--device-name", "dn"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err,
              "qmtkit image build: device dn of " + q +
                  ": the device would refuse this image: bad text: a control byte or '\"' (tag 5 "
                  "secret, offset 16)\n");
    r = run_qmtkit({"image"});
    EXPECT_EQ(r.err, "Error: An image subcommand is required: inspect or build.\n");
}

}  // namespace
}  // namespace qmtkit::cli_test
