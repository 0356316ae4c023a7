// The credential image parser (qmtkit/image/credential_image.hpp) and its sessions
// (qmtkit/cloud/image_session.hpp): every corrupt form is a typed error, never a crash, never a
// read outside the bytes (each parse gets an exactly sized heap copy, so ASan sees overreads).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "fake_module.hpp"
#include "image_bytes.hpp"
#include "qmtkit/cloud/image_session.hpp"

using namespace qmtkit;
using image::ImageError;
using image::Tag;
using test::ImageBytes;

namespace {

// Parses an exactly sized heap copy of `b` (ASan sees any read past its end). The copy is gone
// on return: only the verdict, the error and the numbers may be used, not the views.
image::ImageResult parse(const std::vector<std::uint8_t>& b) {
    const std::vector<std::uint8_t> exact(b);
    return image::parse_image(exact.data(), exact.size());
}

ImageError error_of(const std::vector<std::uint8_t>& b) {
    const auto r = parse(b);
    EXPECT_FALSE(r.has_value());
    return r ? ImageError::profile_refused : r.error().code;
}

std::vector<std::pair<std::string, std::vector<std::uint8_t>>> valid_images() {
    auto padded = test::aliyun_image().bytes();
    padded.resize(padded.size() + 40, 0xFF);  // as read from a flash region
    return {{"aliyun", test::aliyun_image().bytes()},
            {"tencent-signed", test::tencent_signed_image().bytes()},
            {"token", test::token_image().bytes()},
            {"presigned", test::presigned_image().bytes()},
            {"aliyun+erased", padded}};
}

// ------------------------------------------------------------------------------- properties

TEST(CredentialImageProperty, EveryTruncationIsATypedError) {
    for (const auto& [name, full] : valid_images()) {
        ASSERT_TRUE(parse(full)) << name;
        const std::size_t size = parse(full)->size;
        for (std::size_t k = 0; k < full.size(); ++k) {
            const std::vector<std::uint8_t> cut(full.begin(), full.begin() + k);
            const auto r = parse(cut);
            if (k >= size) {
                EXPECT_TRUE(r) << name << " cut to " << k << " (only erased flash cut)";
            } else {
                ASSERT_FALSE(r) << name << " cut to " << k;
                EXPECT_LE(static_cast<int>(r.error().code),
                          static_cast<int>(ImageError::profile_refused));
            }
        }
    }
}

TEST(CredentialImageProperty, EverySingleByteChangeIsATypedError) {
    std::map<ImageError, int> seen;
    for (const auto& [name, full] : valid_images()) {
        for (std::size_t i = 0; i < full.size(); ++i) {
            for (int v = 0; v < 256; ++v) {
                if (v == full[i]) continue;
                auto b = full;
                b[i] = static_cast<std::uint8_t>(v);
                const auto r = parse(b);
                // CRC-32 detects every single-byte change of what it covers; the header's checks
                // and the erased-flash rule the rest.
                ASSERT_FALSE(r) << name << ": byte " << i << " = " << v;
                ++seen[r.error().code];
            }
        }
    }
    for (ImageError e :
         {ImageError::bad_magic, ImageError::bad_version, ImageError::bad_profile,
          ImageError::truncated, ImageError::crc_mismatch, ImageError::trailing_garbage})
        EXPECT_GT(seen[e], 0) << image::to_string(e);
}

// Changes that keep the CRC right reach the field checks: every byte of the TLV area set to
// every value, the CRC fixed. Each parse either succeeds or names a typed error.
TEST(CredentialImageProperty, EveryTlvByteWithTheCrcFixedNeverCrashes) {
    for (const auto& [name, full] : valid_images()) {
        const std::size_t size = parse(full)->size;
        for (std::size_t i = image::kHeaderSize; i + 4 < size; ++i) {
            for (int v = 0; v < 256; ++v) {
                std::vector<std::uint8_t> b(full.begin(), full.begin() + size);
                b[i] = static_cast<std::uint8_t>(v);
                test::fix_crc(b);
                const auto r = image::parse_image(b.data(), b.size());  // b: exactly sized
                if (r) {
                    cloud::ProfileStore store;
                    (void)cloud::session_from_image(*r, store);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------- valid images

TEST(CredentialImage, AliyunFieldsAreViewsIntoTheImage) {
    const auto b = test::aliyun_image().bytes();
    const auto r = image::parse_image(b.data(), b.size());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->profile, image::Profile::aliyun_aliauth);
    EXPECT_EQ(r->size, b.size());
    EXPECT_EQ(r->product, "a1demoPK001");
    EXPECT_EQ(r->device_name, "meter-0001");
    EXPECT_EQ(r->secret, "AliSecret-0123");
    EXPECT_EQ(r->imei, test::kTestImei);
    EXPECT_EQ(r->region, "cn-hangzhou");
    EXPECT_EQ(r->port, 1883);
    EXPECT_FALSE(r->has(Tag::host));
    // Zero-copy: the views point into b.
    EXPECT_GE(reinterpret_cast<const std::uint8_t*>(r->secret.data()), b.data());
    EXPECT_LT(reinterpret_cast<const std::uint8_t*>(r->secret.data()), b.data() + b.size());
}

TEST(CredentialImage, DefaultsWhenOptionalTagsAreAbsent) {
    const auto b = ImageBytes(3)
                       .str(Tag::product, "p")
                       .str(Tag::device_name, "d")
                       .str(Tag::secret, "s")
                       .str(Tag::imei, test::kTestImei)
                       .bytes();
    const auto r = parse(b);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->port, 1883);
    EXPECT_EQ(r->expire_days, 60);
    EXPECT_TRUE(r->token_url.empty());
}

TEST(CredentialImage, UnknownTagsAreSkipped) {
    const auto b = test::presigned_image().raw(0, {}).raw(99, {0xFF, 0}).bytes();
    const auto r = image::parse_image(b.data(), b.size());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->unknown_tags, 3);
    EXPECT_EQ(r->client_id, "dev-42");
}

// ------------------------------------------------------------------------- one per error

TEST(CredentialImageErrors, Truncated) {
    EXPECT_EQ(error_of({}), ImageError::truncated);
    EXPECT_EQ(error_of({'Q', 'M', 'T', 'K', 1, 1, 0}), ImageError::truncated);
    auto b = test::aliyun_image().bytes();
    b.pop_back();
    EXPECT_EQ(error_of(b), ImageError::truncated);
    b = test::aliyun_image().bytes();
    b[6] = 0xFF;  // L far past the end
    b[7] = 0xFF;
    EXPECT_EQ(error_of(b), ImageError::truncated);
    EXPECT_FALSE(image::parse_image(nullptr, 0));
}

TEST(CredentialImageErrors, BadMagicVersionProfile) {
    auto b = test::aliyun_image().bytes();
    b[0] = 'q';
    EXPECT_EQ(error_of(b), ImageError::bad_magic);
    EXPECT_EQ(error_of(test::aliyun_image().version(2).bytes()), ImageError::bad_version);
    EXPECT_EQ(error_of(ImageBytes(0).bytes()), ImageError::bad_profile);
    EXPECT_EQ(error_of(ImageBytes(5).bytes()), ImageError::bad_profile);
}

TEST(CredentialImageErrors, CrcMismatch) {
    auto b = test::aliyun_image().bytes();
    b[10] ^= 0x01;
    const auto r = parse(b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ImageError::crc_mismatch);
    EXPECT_EQ(r.error().offset, b.size() - 4);
    b = test::aliyun_image().bytes();
    b.back() ^= 0x80;
    EXPECT_EQ(error_of(b), ImageError::crc_mismatch);
}

TEST(CredentialImageErrors, TrailingBytesMustBeErasedFlash) {
    auto b = test::aliyun_image().bytes();
    b.insert(b.end(), {0xFF, 0xFF, 0xFF});
    EXPECT_TRUE(parse(b));
    b.push_back(0x00);
    const auto r = parse(b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ImageError::trailing_garbage);
    EXPECT_EQ(r.error().offset, b.size() - 1);
}

TEST(CredentialImageErrors, TlvPastTheEnd) {
    // A lone tag byte, and a length past the area's end.
    EXPECT_EQ(error_of(test::aliyun_image().tail({200}).bytes()), ImageError::tlv_past_end);
    const auto r = parse(test::aliyun_image().tail({200, 5, 1, 2}).bytes());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ImageError::tlv_past_end);
    EXPECT_EQ(r.error().tag, 200);
}

TEST(CredentialImageErrors, DuplicateTag) {
    const auto r = parse(test::aliyun_image().str(Tag::device_name, "again").bytes());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ImageError::duplicate_tag);
    EXPECT_EQ(r.error().tag, static_cast<std::uint8_t>(Tag::device_name));
}

TEST(CredentialImageErrors, TagNotForProfile) {
    // A PSK in a signed-on-host image: a secret the device has no use for.
    EXPECT_EQ(error_of(test::tencent_signed_image().str(Tag::secret, "cHNr").bytes()),
              ImageError::tag_not_for_profile);
    EXPECT_EQ(error_of(test::aliyun_image().str(Tag::password, "pw").bytes()),
              ImageError::tag_not_for_profile);
}

TEST(CredentialImageErrors, MissingRequiredTagPerProfile) {
    const auto r = parse(ImageBytes(1)
                             .str(Tag::product, "pk")
                             .str(Tag::device_name, "dn")
                             .str(Tag::imei, test::kTestImei)
                             .bytes());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ImageError::missing_tag);
    EXPECT_EQ(r.error().tag, static_cast<std::uint8_t>(Tag::secret));
    for (auto p : {image::Profile::aliyun_aliauth, image::Profile::tencent_signed,
                   image::Profile::tencent_token, image::Profile::presigned}) {
        EXPECT_EQ(error_of(ImageBytes(static_cast<std::uint8_t>(p)).bytes()),
                  ImageError::missing_tag);
        EXPECT_NE(image::required_tags(p) & image::bit(Tag::imei), 0);
        EXPECT_EQ(image::required_tags(p) & image::optional_tags(p), 0);
    }
    EXPECT_EQ(error_of(ImageBytes(4)
                           .str(Tag::host, "h")
                           .str(Tag::client_id, "c")
                           .str(Tag::username, "u")
                           .str(Tag::imei, test::kTestImei)
                           .bytes()),
              ImageError::missing_tag);
}

TEST(CredentialImageErrors, BadLength) {
    EXPECT_EQ(error_of(test::token_image().raw(static_cast<std::uint8_t>(Tag::port), {1}).bytes()),
              ImageError::duplicate_tag);  // the port is already there: duplicates come first
    EXPECT_EQ(error_of(test::aliyun_image().raw(static_cast<std::uint8_t>(Tag::host), {}).bytes()),
              ImageError::bad_length);
    EXPECT_EQ(error_of(ImageBytes(3)
                           .str(Tag::product, "p")
                           .str(Tag::device_name, "d")
                           .str(Tag::secret, "s")
                           .str(Tag::imei, test::kTestImei)
                           .raw(static_cast<std::uint8_t>(Tag::expire_days), {1, 0})
                           .bytes()),
              ImageError::bad_length);
    EXPECT_EQ(
        error_of(ImageBytes(4).raw(static_cast<std::uint8_t>(Tag::port), {0x5B, 0x07, 0}).bytes()),
        ImageError::bad_length);
}

TEST(CredentialImageErrors, BadText) {
    for (const char* s : {"a\"b", "a\rb", "a\nb", "tab\there", "\x7f"}) {
        EXPECT_EQ(error_of(ImageBytes(1).str(Tag::product, s).bytes()), ImageError::bad_text) << s;
    }
    const auto nul = ImageBytes(1).raw(static_cast<std::uint8_t>(Tag::secret), {'a', 0}).bytes();
    EXPECT_EQ(error_of(nul), ImageError::bad_text);
    // UTF-8 passes.
    EXPECT_TRUE(parse(ImageBytes(4)
                          .str(Tag::host, "h")
                          .str(Tag::client_id, "c")
                          .str(Tag::username, "\xe8\xae\xbe\xe5\xa4\x87")
                          .str(Tag::password, "p")
                          .str(Tag::imei, test::kTestImei)
                          .bytes()));
}

TEST(CredentialImageErrors, FieldValues) {
    EXPECT_EQ(error_of(ImageBytes(4).str(Tag::host, std::string(101, 'h')).bytes()),
              ImageError::host_too_long);
    EXPECT_EQ(error_of(ImageBytes(4).u16(Tag::port, 0).bytes()), ImageError::bad_port);
    for (const char* imei : {"49015420323751", "4901542032375180", "49015420323751x", ""})
        EXPECT_EQ(error_of(ImageBytes(4).str(Tag::imei, imei).bytes()), ImageError::bad_imei)
            << imei;
    EXPECT_EQ(error_of(ImageBytes(3).u8(Tag::expire_days, 0).bytes()), ImageError::bad_expire_days);
    EXPECT_EQ(error_of(ImageBytes(3).u8(Tag::expire_days, 61).bytes()),
              ImageError::bad_expire_days);
    EXPECT_EQ(error_of(ImageBytes(1).u8(Tag::secure_mode, 2).bytes()), ImageError::bad_secure_mode);
    EXPECT_EQ(error_of(ImageBytes(2).str(Tag::sign_method, "hmacmd5").bytes()),
              ImageError::bad_sign_method);
    EXPECT_EQ(error_of(ImageBytes(4).str(Tag::sign_method, "sha256").bytes()),
              ImageError::bad_sign_method);
    EXPECT_EQ(error_of(ImageBytes(3).str(Tag::token_url, "ftp://x").bytes()),
              ImageError::bad_token_url);
}

TEST(CredentialImageErrors, EveryErrorHasText) {
    for (int e = 0; e <= static_cast<int>(ImageError::profile_refused); ++e)
        EXPECT_NE(image::to_string(static_cast<ImageError>(e)), "unknown image error") << e;
}

// ------------------------------------------------------------------------------ sessions

struct Quiet final : qmt::Listener {};

std::vector<std::string> bring_up(const qmt::Session& s) {
    Instant now = 0;
    test::FakeModule module(now);
    Quiet quiet;
    qmt::Client<> client(module, quiet);
    EXPECT_TRUE(client.configure(s));
    EXPECT_TRUE(client.start(now));
    EXPECT_TRUE(test::run_until(client, module, now, 60000, [&] { return client.online(); }));
    return module.commands;
}

bool has(const std::vector<std::string>& cmds, const std::string& c) {
    return std::find(cmds.begin(), cmds.end(), c) != cmds.end();
}

TEST(CredentialImageSession, AliyunThroughAliauth) {
    const auto b = test::aliyun_image().bytes();
    cloud::ProfileStore store;
    ASSERT_TRUE(cloud::load_image(ByteView(b.data(), b.size()), store));
    EXPECT_EQ(store.session.host, "a1demoPK001.iot-as-mqtt.cn-hangzhou.aliyuncs.com");
    const auto cmds = bring_up(store.session);
    EXPECT_TRUE(
        has(cmds, "AT+QMTCFG=\"aliauth\",0,\"a1demoPK001\",\"meter-0001\",\"AliSecret-0123\""));
    EXPECT_EQ(cmds.back(), "AT+QMTCONN=0,\"a1demoPK001.meter-0001\"");
}

TEST(CredentialImageSession, TencentSignedIsPresigned) {
    const auto b = test::tencent_signed_image().bytes();
    cloud::ProfileStore store;
    ASSERT_TRUE(cloud::load_image(ByteView(b.data(), b.size()), store));
    EXPECT_FALSE(store.session.use_aliauth);
    EXPECT_FALSE(store.session.use_tenauth);
    const auto cmds = bring_up(store.session);
    EXPECT_TRUE(has(cmds, "AT+QMTOPEN=0,\"TENPID0001.iotcloud.tencentdevices.com\",1883"));
    EXPECT_EQ(cmds.back(),
              "AT+QMTCONN=0,\"TENPID0001gate01\",\"TENPID0001gate01;12010126;ABCDE;2000000000\","
              "\"935daa84d621a268;hmacsha256\"");
}

TEST(CredentialImageSession, TokenFlow) {
    const auto b = test::token_image().bytes();
    cloud::ProfileStore store;
    ASSERT_TRUE(cloud::load_image(ByteView(b.data(), b.size()), store));
    EXPECT_EQ(store.session.host, "127.0.0.1");
    EXPECT_EQ(store.session.port, 1884);
    const auto cmds = bring_up(store.session);
    EXPECT_TRUE(
        has(cmds,
            "AT+QMTTENAUTH=\"iotdemo01\",\"meter-3\",\"iotdemo01@meter-3\",\"SuiteSecret-1\","
            "7,\"http://127.0.0.1:8080/token\""));
    EXPECT_EQ(cmds.back(), "AT+QMTCONN=0,\"iotdemo01meter-3\"");
}

TEST(CredentialImageSession, Presigned) {
    const auto b = test::presigned_image().bytes();
    cloud::ProfileStore store;
    ASSERT_TRUE(cloud::load_image(ByteView(b.data(), b.size()), store));
    EXPECT_EQ(store.session.port, 8883);
    const auto cmds = bring_up(store.session);
    EXPECT_EQ(cmds.back(), "AT+QMTCONN=0,\"dev-42\",\"dev-42-user\",\"Pw-0042\"");
}

TEST(CredentialImageSession, ProfileRefusalIsTyped) {
    // 90 + ".iot-as-mqtt.cn-shanghai.aliyuncs.com" is longer than the module's 100 bytes.
    const auto b = ImageBytes(1)
                       .str(Tag::product, std::string(90, 'k'))
                       .str(Tag::device_name, "d")
                       .str(Tag::secret, "s")
                       .str(Tag::imei, test::kTestImei)
                       .bytes();
    cloud::ProfileStore store;
    const auto r = cloud::load_image(ByteView(b.data(), b.size()), store);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ImageError::profile_refused);
    EXPECT_EQ(r.error().detail, qmt::Error::host_too_long);
}

}  // namespace
