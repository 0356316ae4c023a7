// qmtkit_image's writer: the image of a manifest device for each profile, read back by the
// core's parser; what it refuses (and that no refusal names a secret).
#include <gtest/gtest.h>

#include "qmtkit/cloud/image_session.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/image/writer.hpp"

namespace qmtkit::image {
namespace {

namespace mf = qmtkit::manifest;

const std::string kImei = "490154203237518";
const std::string kSecret = "Writer-Secret-77";

mf::Manifest manifest(mf::Cloud c) {
    mf::Manifest m;
    m.cloud = c;
    mf::Device d;
    d.product = c == mf::Cloud::aliyun ? "a1WriterPK1" : "WRITERPID1";
    d.device_name = "dev-1";
    d.imei = kImei;
    m.devices.push_back(d);
    m.token_url = "http://127.0.0.1:8080/token";
    m.expire_days = 5;
    return m;
}

CredentialImage parse_ok(const std::vector<std::uint8_t>& b) {
    auto r = parse_image(b.data(), b.size());
    EXPECT_TRUE(r.has_value()) << (r ? "" : describe(r.error()));
    return r ? *r : CredentialImage{};
}

std::string s(std::string_view v) {
    return std::string(v);
}

TEST(ImageWriter, AliyunIsAliauthWithTheSecret) {
    auto m = manifest(mf::Cloud::aliyun);
    m.region = "cn-beijing";
    const auto img = device_image(m, m.devices[0], kSecret, {kImei});
    EXPECT_EQ(img.profile, Profile::aliyun_aliauth);
    const auto c = parse_ok(img.bytes);
    EXPECT_EQ(s(c.product), "a1WriterPK1");
    EXPECT_EQ(s(c.device_name), "dev-1");
    EXPECT_EQ(s(c.secret), kSecret);
    EXPECT_EQ(s(c.region), "cn-beijing");
    EXPECT_EQ(s(c.imei), kImei);
    EXPECT_FALSE(c.has(Tag::host));
}

TEST(ImageWriter, AliyunSignedOnTheHostIsPresignedWithoutTheSecret) {
    auto m = manifest(mf::Cloud::aliyun);
    m.endpoint = "127.0.0.1";
    DeviceImageOptions o{kImei};
    o.sign_on_host = true;
    const auto img = device_image(m, m.devices[0], kSecret, o);
    EXPECT_EQ(img.profile, Profile::presigned);
    const auto c = parse_ok(img.bytes);
    EXPECT_FALSE(c.has(Tag::secret));
    EXPECT_EQ(s(c.host), "127.0.0.1");
    EXPECT_EQ(s(c.client_id), "a1WriterPK1.dev-1|securemode=3,signmethod=hmacsha256|");
    EXPECT_EQ(s(c.username), "dev-1&a1WriterPK1");
    cloud::AliyunParams p;
    p.product_key = "a1WriterPK1";
    p.device_name = "dev-1";
    p.device_secret = kSecret;
    EXPECT_EQ(s(c.password), std::get<cloud::MqttCredentials>(cloud::sign_aliyun(p)).password);
    const std::string all(img.bytes.begin(), img.bytes.end());
    EXPECT_EQ(all.find(kSecret), std::string::npos);
}

TEST(ImageWriter, TencentIsSignedUntilNowPlusExpiryAndHoldsNoPsk) {
    auto m = manifest(mf::Cloud::tencent);
    m.expiry_s = 86400 * 365;
    const std::string psk = cloud::base64_encode("tencent-psk-0001");
    DeviceImageOptions o{kImei};
    o.now_unix = 1700000000;
    const auto img = device_image(m, m.devices[0], psk, o);
    EXPECT_EQ(img.profile, Profile::tencent_signed);
    ASSERT_TRUE(img.expires_unix);
    EXPECT_EQ(*img.expires_unix, 1700000000u + 86400u * 365u);
    const auto c = parse_ok(img.bytes);
    EXPECT_EQ(s(c.host), "WRITERPID1.iotcloud.tencentdevices.com");
    EXPECT_EQ(s(c.client_id), "WRITERPID1dev-1");
    const auto user = cloud::parse_tencent_username(c.username);
    ASSERT_TRUE(user);
    EXPECT_EQ(user->expiry_unix, *img.expires_unix);
    EXPECT_EQ(s(c.password),
              *cloud::tencent_password(psk, c.username, cloud::SignMethod::hmacsha256));
    EXPECT_FALSE(c.has(Tag::secret));
    const std::string all(img.bytes.begin(), img.bytes.end());
    EXPECT_EQ(all.find(psk), std::string::npos);
}

TEST(ImageWriter, TokenFlowHoldsTheSecretAndTheUrl) {
    auto m = manifest(mf::Cloud::tencent_token);
    const auto img = device_image(m, m.devices[0], kSecret, {kImei});
    EXPECT_EQ(img.profile, Profile::tencent_token);
    const auto c = parse_ok(img.bytes);
    EXPECT_EQ(s(c.secret), kSecret);
    EXPECT_EQ(s(c.token_url), "http://127.0.0.1:8080/token");
    EXPECT_EQ(c.expire_days, 5);
}

TEST(ImageWriter, RefusalsNameNoSecret) {
    auto m = manifest(mf::Cloud::aliyun);
    const auto refused = [&](const mf::Manifest& mm, const std::string& secret,
                             const DeviceImageOptions& o) -> std::string {
        try {
            device_image(mm, mm.devices[0], secret, o);
        } catch (const ImageWriteError& e) {
            EXPECT_EQ(std::string(e.what()).find(secret), std::string::npos) << e.what();
            return e.what();
        }
        ADD_FAILURE() << "not refused";
        return {};
    };
    EXPECT_NE(refused(m, kSecret, {"490154203237519"}).find("Luhn"), std::string::npos);
    EXPECT_NE(refused(m, kSecret, {"356938035643809"}).find("not device dev-1's IMEI"),
              std::string::npos);
    EXPECT_NE(refused(m, "quote\"in-" + kSecret, {kImei})
                  .find("bad text: a control byte or '\"' (tag 5 secret"),
              std::string::npos);
    EXPECT_NE(refused(m, std::string(256, 'x'), {kImei}).find("at most 255"), std::string::npos);
    auto tls = m;
    tls.secure_mode = 2;
    EXPECT_NE(refused(tls, kSecret, {kImei}).find("TLS"), std::string::npos);
    auto longpk = m;
    longpk.devices[0].product = std::string(90, 'k');
    EXPECT_NE(refused(longpk, kSecret, {kImei})
                  .find("the cloud profile refused the fields: host is longer than 100 bytes"),
              std::string::npos);
    auto token = manifest(mf::Cloud::tencent_token);
    DeviceImageOptions on_host{kImei};
    on_host.sign_on_host = true;
    EXPECT_NE(refused(token, kSecret, on_host).find("fetches"), std::string::npos);
}

TEST(ImageWriter, EncodeChecksWithTheParser) {
    EXPECT_THROW(encode_image(Profile::presigned, {text(Tag::host, "h")}), ImageWriteError);
    const auto b =
        encode_image(Profile::presigned,
                     {text(Tag::host, "h"), text(Tag::client_id, "c"), text(Tag::username, "u"),
                      text(Tag::password, "p"), u16(Tag::port, 0x1234), text(Tag::imei, kImei)});
    ASSERT_GE(b.size(), 12u);
    EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "QMTK");
    EXPECT_EQ(parse_ok(b).port, 0x1234);
}

}  // namespace
}  // namespace qmtkit::image
