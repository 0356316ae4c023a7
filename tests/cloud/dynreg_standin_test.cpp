// The stand-in's dynamic registration decisions, in-process (tools/cloud-standin/src/
// dynreg_server.hpp): right signatures issue the derived secret that authenticate() accepts;
// wrong signatures, unknown products, names that are not pre-registered, activated devices and
// forbidden re-registrations get the cloud's codes; no answer or message holds a secret except
// the issued one in a success body.
#include "dynreg_server.hpp"
#include "qmtkit/cloud/dynreg.hpp"
#include "qmtkit/cloud/signing.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace qmtkit::standin;
namespace cloud = qmtkit::cloud;
using nlohmann::json;

namespace {

constexpr std::uint64_t kNow = 1700000000;

const char* const kRegistry = R"({
  "aliyun_products": [
    { "product_key": "a1DynPK", "product_secret": "AliProductSecret0123456789abcdef" },
    { "product_key": "a1PreReg", "product_secret": "AliPreRegSecret", "devices": ["sn-1", "sn-2"],
      "activated": ["sn-2"], "allow_reregister": false }
  ],
  "tencent_products": [
    { "product_id": "TCDYN00001", "product_secret": "TencentProductSecret-0123456789" },
    { "product_id": "TCPRE00001", "product_secret": "TencentPreRegSecret!", "devices": ["m-1"],
      "allow_reregister": false }
  ],
  "dynreg_key": "StandinDynregKey"
})";

std::map<std::string, std::string> aliyun_form(const std::string& pk, const std::string& dn,
                                               const std::string& product_secret) {
    const std::string random = "8Ygb7ULYh53B6OA";
    return {{"productKey", pk},
            {"deviceName", dn},
            {"random", random},
            {"signMethod", "hmacsha256"},
            {"sign", cloud::aliyun_dynreg_sign(product_secret,
                                               cloud::aliyun_dynreg_sign_content(pk, dn, random))}};
}

struct TencentCall {
    std::map<std::string, std::string> headers;
    std::string body;
};
TencentCall tencent_call(const std::string& pid, const std::string& dn,
                         const std::string& product_secret, std::uint64_t ts = kNow) {
    TencentCall c;
    c.body = cloud::tencent_dynreg_body(pid, dn);
    const std::string host = "127.0.0.1:8080";
    c.headers = {{"host", host},
                 {"x-tc-algorithm", "hmacsha256"},
                 {"x-tc-timestamp", std::to_string(ts)},
                 {"x-tc-nonce", "5456"},
                 {"x-tc-signature",
                  cloud::tencent_dynreg_signature(
                      product_secret, cloud::tencent_dynreg_string_to_sign(
                                          host, cloud::kTencentDynregUri, ts, 5456, c.body))}};
    return c;
}

}  // namespace

TEST(CloudStandinDynreg, RegistryRequiresTheKeyAndLongTencentSecrets) {
    EXPECT_THROW(
        Registry::parse(R"({"aliyun_products":[{"product_key":"p","product_secret":"s"}]})"),
        std::runtime_error);
    EXPECT_THROW(
        Registry::parse(
            R"({"dynreg_key":"k","tencent_products":[{"product_id":"p","product_secret":"short"}]})"),
        std::runtime_error);
    EXPECT_NO_THROW(Registry::parse(kRegistry));
}

TEST(CloudStandinDynreg, AliyunRightSignatureIssuesTheSecretThePluginAccepts) {
    const auto reg = Registry::parse(kRegistry);
    DynregState st;
    const auto a = register_aliyun(
        reg, aliyun_form("a1DynPK", "any-1", "AliProductSecret0123456789abcdef"), st);
    ASSERT_EQ(a.code, "200") << a.message;
    const json j = json::parse(a.body);
    EXPECT_EQ(j["code"], 200);
    EXPECT_EQ(j["data"]["productKey"], "a1DynPK");
    EXPECT_EQ(j["data"]["deviceName"], "any-1");
    const std::string secret = j["data"]["deviceSecret"];
    EXPECT_EQ(secret, dynreg_aliyun_secret("StandinDynregKey", "a1DynPK", "any-1"));
    EXPECT_EQ(secret.size(), 32u);

    cloud::AliyunParams p;
    p.product_key = "a1DynPK";
    p.device_name = "any-1";
    p.device_secret = secret;
    const auto c = std::get<cloud::MqttCredentials>(cloud::sign_aliyun(p));
    EXPECT_TRUE(authenticate(reg, c.client_id, c.username, c.password, kNow).ok);
    p.device_secret = "not-the-issued-one";
    const auto bad = std::get<cloud::MqttCredentials>(cloud::sign_aliyun(p));
    EXPECT_FALSE(authenticate(reg, bad.client_id, bad.username, bad.password, kNow).ok);
}

TEST(CloudStandinDynreg, AliyunRefusalsCarryTheCloudsCodes) {
    const auto reg = Registry::parse(kRegistry);
    DynregState st;
    auto code = [&](const std::map<std::string, std::string>& f) {
        return register_aliyun(reg, f, st).code;
    };
    EXPECT_EQ(code(aliyun_form("a1DynPK", "d", "WrongProductSecret")), "401");
    EXPECT_EQ(code(aliyun_form("a1Unknown", "d", "x")), "6250");
    EXPECT_EQ(code(aliyun_form("a1PreReg", "sn-9", "AliPreRegSecret")), "6100");
    EXPECT_EQ(code(aliyun_form("a1PreReg", "sn-2", "AliPreRegSecret")), "403");  // activated
    EXPECT_EQ(code(aliyun_form("a1PreReg", "sn-1", "AliPreRegSecret")), "200");
    EXPECT_EQ(code(aliyun_form("a1PreReg", "sn-1", "AliPreRegSecret")), "403");  // once only
    auto f = aliyun_form("a1DynPK", "d", "AliProductSecret0123456789abcdef");
    f.erase("random");
    EXPECT_EQ(code(f), "460");
    const auto a = register_aliyun(reg, aliyun_form("a1DynPK", "d", "WrongProductSecret"), st);
    EXPECT_EQ(a.body.find("AliProductSecret"), std::string::npos);
    EXPECT_EQ(a.message.find("WrongProductSecret"), std::string::npos);
}

TEST(CloudStandinDynreg, TencentRightSignatureIssuesAPskThePluginAccepts) {
    const auto reg = Registry::parse(kRegistry);
    DynregState st;
    const auto call = tencent_call("TCDYN00001", "dev-7", "TencentProductSecret-0123456789");
    const auto a = register_tencent(reg, call.headers, call.body, kNow, st);
    ASSERT_EQ(a.code, "0") << a.message;
    const json j = json::parse(a.body);
    const std::string payload = j["Response"]["Payload"];
    const auto plain = cloud::tencent_dynreg_decrypt("TencentProductSecret-0123456789", payload,
                                                     j["Response"]["Len"].get<std::size_t>());
    ASSERT_TRUE(plain);
    const json p = json::parse(*plain);
    EXPECT_EQ(p["encryptionType"], 2);
    const std::string psk = p["psk"];
    EXPECT_EQ(psk, dynreg_tencent_psk("StandinDynregKey", "TCDYN00001", "dev-7"));
    EXPECT_EQ(cloud::base64_decode(psk)->size(), 16u);

    cloud::TencentParams t;
    t.product_id = "TCDYN00001";
    t.device_name = "dev-7";
    t.device_psk_base64 = psk;
    t.expiry_unix = kNow + 60;
    const auto c = std::get<cloud::MqttCredentials>(cloud::sign_tencent(t));
    EXPECT_TRUE(authenticate(reg, c.client_id, c.username, c.password, kNow).ok);
}

TEST(CloudStandinDynreg, TencentRefusalsCarryTheCloudsCodes) {
    const auto reg = Registry::parse(kRegistry);
    DynregState st;
    auto code = [&](const TencentCall& c, std::uint64_t now = kNow) {
        return register_tencent(reg, c.headers, c.body, now, st).code;
    };
    EXPECT_EQ(code(tencent_call("TCDYN00001", "d", "WrongProductSecret-0123")),
              "AuthFailure.SignatureFailure");
    EXPECT_EQ(code(tencent_call("TCDYN00001", "d", "TencentProductSecret-0123456789"), kNow + 3600),
              "AuthFailure.SignatureExpire");
    EXPECT_EQ(code(tencent_call("TCNOPE0001", "d", "x")), "ResourceNotFound.ProductNotExist");
    EXPECT_EQ(code(tencent_call("TCPRE00001", "m-2", "TencentPreRegSecret!")),
              "ResourceNotFound.DeviceNotExist");
    EXPECT_EQ(code(tencent_call("TCPRE00001", "m-1", "TencentPreRegSecret!")), "0");
    EXPECT_EQ(code(tencent_call("TCPRE00001", "m-1", "TencentPreRegSecret!")),
              "UnauthorizedOperation.DeviceHasActivated");
    auto c = tencent_call("TCDYN00001", "d", "TencentProductSecret-0123456789");
    c.body = R"({"DeviceName":"other","ProductId":"TCDYN00001"})";  // body changed after signing
    EXPECT_EQ(code(c), "AuthFailure.SignatureFailure");
    c.headers.erase("x-tc-nonce");
    EXPECT_EQ(code(c), "InvalidParameterValue");
}
