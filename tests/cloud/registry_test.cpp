// The stand-in's registry parsing and CONNECT / token decisions, in-process (no broker).
#include "registry.hpp"

#include "qmtkit/cloud/signing.hpp"

#include <gtest/gtest.h>

using namespace qmtkit::standin;
namespace cloud = qmtkit::cloud;

namespace {
const char* const kReg = R"({
  // comments are allowed
  "aliyun": [{"product_key": "pk", "device_name": "dev", "device_secret": "sec"}],
  "tencent": [{"product_id": "PID", "device_name": "dn", "device_psk": "cHNrcHNrcHNr"}],
  "tencent_suite": [{"product_id": "p", "device_name": "d", "device_secret": "s"}],
  "plain": [{"username": "obs", "password": "pw"}],
  "token_key": "k", "token_max_skew_s": 0
})";
constexpr std::uint64_t kNow = 1700000000;
}  // namespace

TEST(CloudRegistry, ParseErrorsNameTheField) {
    EXPECT_NO_THROW(Registry::parse(kReg));
    try {
        Registry::parse(R"({"aliyun":[{"product_key":"pk","device_name":""}]})");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "aliyun[0]: \"device_name\" must be a non-empty string");
    }
    EXPECT_THROW(
        Registry::parse(R"({"tencent":[{"product_id":"a","device_name":"b","device_psk":"!!"}]})"),
        std::runtime_error);
    EXPECT_THROW(
        Registry::parse(
            R"({"tencent_suite":[{"product_id":"a","device_name":"b","device_secret":"c"}]})"),
        std::runtime_error);  // no token_key
    EXPECT_THROW(Registry::parse("[]"), std::runtime_error);
}

TEST(CloudRegistry, AliyunDecisions) {
    const auto reg = Registry::parse(kReg);
    cloud::AliyunParams p;
    p.product_key = "pk";
    p.device_name = "dev";
    p.device_secret = "sec";
    p.timestamp_ms = 123;
    auto c = std::get<cloud::MqttCredentials>(cloud::sign_aliyun(p));
    EXPECT_TRUE(authenticate(reg, c.client_id, c.username, c.password, kNow).ok);
    auto v = authenticate(reg, c.client_id, std::string("dev&other"), c.password, kNow);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.reason, "unknown device other/dev");
    v = authenticate(reg, "pk.dev|signmethod=hmacsha256|", c.username, c.password, kNow);
    EXPECT_EQ(v.reason, "securemode missing or not 2/3");
    v = authenticate(reg, c.client_id, c.username, std::nullopt, kNow);
    EXPECT_FALSE(v.ok);
}

TEST(CloudRegistry, TencentDecisions) {
    const auto reg = Registry::parse(kReg);
    cloud::TencentParams p;
    p.product_id = "PID";
    p.device_name = "dn";
    p.device_psk_base64 = "cHNrcHNrcHNr";
    p.expiry_unix = kNow + 1;
    auto c = std::get<cloud::MqttCredentials>(cloud::sign_tencent(p));
    EXPECT_TRUE(authenticate(reg, c.client_id, c.username, c.password, kNow).ok);
    auto v = authenticate(reg, c.client_id, c.username, c.password, kNow + 1);
    EXPECT_EQ(v.reason, "signature expired (expiry 1700000001)");
    auto bad_method = c.password.substr(0, c.password.find(';')) + ";hmacmd5";
    EXPECT_FALSE(authenticate(reg, c.client_id, c.username, bad_method, kNow).ok);
    EXPECT_FALSE(authenticate(reg, c.client_id, c.username, c.password.substr(0, 64), kNow).ok);
}

TEST(CloudRegistry, TokenIssueAndVerify) {
    const auto reg = Registry::parse(kReg);
    cloud::TokenRequest r;
    r.product_id = "p";
    r.device_name = "d";
    r.device_secret = "s";
    r.expire_days = 1;
    r.nonce = 7;
    r.timestamp = 5;  // skew unchecked in this registry
    auto form = parse_form(cloud::token_request_body(r));
    ASSERT_TRUE(form);
    EXPECT_EQ(form->at("clientId"), "p@d");
    auto a = issue_token(reg, *form, kNow);
    ASSERT_EQ(a.return_code, 0) << a.return_message;
    EXPECT_EQ(a.expire_s, 86400u);
    EXPECT_EQ(a.username.rfind("p@d;" + std::to_string(kNow + 86400) + ";", 0), 0u);
    EXPECT_NE(a.to_json().find("\"returnCode\":0"), std::string::npos);
    EXPECT_TRUE(authenticate(reg, "any", a.username, a.password, kNow).ok);
    EXPECT_EQ(authenticate(reg, "any", a.username, a.password, kNow + 86400).reason,
              "token expired");

    auto bad = *form;
    bad["signature"] = "AAAA";
    EXPECT_EQ(issue_token(reg, bad, kNow).return_code, 1003);
    bad = *form;
    bad.erase("nonce");
    EXPECT_EQ(issue_token(reg, bad, kNow).return_code, 1001);
    r.expire_days = 61;  // 61 days > token_max_expire_s (60 days): signed fine, refused
    EXPECT_EQ(issue_token(reg, *parse_form(cloud::token_request_body(r)), kNow).return_code, 1005);
    EXPECT_EQ(issue_token(reg, bad, kNow).to_json().find("data"), std::string::npos);
}

TEST(CloudRegistry, PlainAndUnmatched) {
    const auto reg = Registry::parse(kReg);
    EXPECT_TRUE(authenticate(reg, "x", std::string("obs"), std::string("pw"), kNow).ok);
    EXPECT_FALSE(authenticate(reg, "x", std::string("obs"), std::string("px"), kNow).ok);
    EXPECT_FALSE(authenticate(reg, "x", std::string("obs"), std::nullopt, kNow).ok);
    EXPECT_FALSE(authenticate(reg, "x", std::nullopt, std::nullopt, kNow).ok);
    auto v = authenticate(reg, "x", std::string("nobody"), std::string("pw"), kNow);
    EXPECT_EQ(v.reason, "username matches no scheme and no plain user");
}
