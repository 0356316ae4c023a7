// End-to-end tests of the cloud stand-in: a real mosquitto 2.0 (/usr/sbin/mosquitto) with
// libqmtkit_cloud_auth.so and qmtkit-token-server (tests/harness/cloud_standin.hpp), clients
// through libmosquitto using credentials from sign_aliyun / sign_tencent / fetch_token.
//
// CONNACK on refusal: mosquitto 2.0 answers a plugin's MOSQ_ERR_AUTH with return code 5
// "not authorized" for MQTT 3.1.1 (see docs/cloud-standin.md).
#include "cloud_standin.hpp"
#include "qmtkit/cloud/signing.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>

using namespace qmtkit::cloud;
using namespace std::chrono_literals;
using qmtkit::test::MqttClient;
using Standin = qmtkit::test::CloudStandin;

namespace {

constexpr int kAccepted = 0;
constexpr int kNotAuthorized = 5;

const char* const kRegistry = R"({
  "aliyun": [
    { "product_key": "a1TestPK01", "device_name": "dev-ali", "device_secret": "AliDeviceSecret0123456789abcdef" }
  ],
  "tencent": [
    { "product_id": "TCPID00001", "device_name": "dev-tc", "device_psk": "VGVuY2VudFBza0J5dGVzMTY=" }
  ],
  "tencent_suite": [
    { "product_id": "iot-suite01", "device_name": "dev-suite", "device_secret": "SuiteDeviceSecret42" }
  ],
  "plain": [ { "username": "observer", "password": "observer-pass" } ],
  "token_key": "TokenServerKey-xyz"
})";

std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::time(nullptr));
}

template <class T>
T ok(const SignResult<T>& r) {
    if (const auto* e = std::get_if<SignError>(&r)) ADD_FAILURE() << e->message;
    return std::get<T>(r);
}

AliyunParams aliyun_device() {
    AliyunParams p;
    p.product_key = "a1TestPK01";
    p.device_name = "dev-ali";
    p.device_secret = "AliDeviceSecret0123456789abcdef";
    return p;
}

TencentParams tencent_device() {
    TencentParams p;
    p.product_id = "TCPID00001";
    p.device_name = "dev-tc";
    p.device_psk_base64 = "VGVuY2VudFBza0J5dGVzMTY=";
    return p;
}

TokenRequest suite_device() {
    TokenRequest r;
    r.product_id = "iot-suite01";
    r.device_name = "dev-suite";
    r.client_id = "iot-suite01@dev-suite";
    r.device_secret = "SuiteDeviceSecret42";
    r.expire_days = 1;
    return r;
}

// CONNECT and the CONNACK return code (-1: none within the timeout).
int connect_as(Standin& s, const std::string& client_id, const std::optional<std::string>& user,
               const std::optional<std::string>& pass) {
    return s.client(client_id, user, pass, 10s)->connack_rc();
}

int connect_with(Standin& s, const MqttCredentials& c) {
    return connect_as(s, c.client_id, c.username, c.password);
}

// A client that must be accepted (messages are exchanged with it).
std::unique_ptr<MqttClient> accepted(Standin& s, const std::string& client_id,
                                     const std::string& user, const std::string& pass) {
    auto c = s.client(client_id, user, pass, 10s);
    EXPECT_EQ(c->connack_rc(), kAccepted) << client_id << "\n" << s.broker_log();
    return c;
}

class CloudStandinE2E : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        try {
            Standin::Options opt;
            opt.broker.extra_config.push_back(
                "log_type all");  // LogsNeverContainSecrets reads every level
            standin_ = new Standin(kRegistry, opt);
        } catch (const std::exception& e) {
            start_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete standin_;
        standin_ = nullptr;
    }
    // A stand-in that does not start fails every test (a suite-level error would only skip).
    void SetUp() override { ASSERT_NE(standin_, nullptr) << start_error_; }
    static Standin* standin_;
    static std::string start_error_;
};
Standin* CloudStandinE2E::standin_ = nullptr;
std::string CloudStandinE2E::start_error_;

}  // namespace

// ------------------------------------------------------------------------------ Aliyun

TEST_F(CloudStandinE2E, AliyunSignedConnectsWithEveryMethod) {
    for (auto m : {SignMethod::hmacsha256, SignMethod::hmacsha1, SignMethod::hmacmd5}) {
        auto p = aliyun_device();
        p.method = m;
        p.timestamp_ms = now_unix() * 1000;
        EXPECT_EQ(connect_with(*standin_, ok(sign_aliyun(p))), kAccepted) << to_string(m);
    }
}

TEST_F(CloudStandinE2E, AliyunWithoutTimestampAndCustomClientIdConnects) {
    auto p = aliyun_device();
    p.client_id = "SN-0001";
    p.secure_mode = 2;
    EXPECT_EQ(connect_with(*standin_, ok(sign_aliyun(p))), kAccepted);
}

TEST_F(CloudStandinE2E, AliyunUpperCaseHexPasswordAccepted) {
    auto c = ok(sign_aliyun(aliyun_device()));
    for (auto& ch : c.password)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_EQ(connect_with(*standin_, c), kAccepted);
}

TEST_F(CloudStandinE2E, AliyunWrongSecretRefused) {
    auto p = aliyun_device();
    p.device_secret = "NotTheRightSecret";
    EXPECT_EQ(connect_with(*standin_, ok(sign_aliyun(p))), kNotAuthorized);
    EXPECT_TRUE(standin_->wait_broker_log("aliyun: signature mismatch for a1TestPK01/dev-ali"))
        << standin_->broker_log();
}

TEST_F(CloudStandinE2E, AliyunTamperedClientIdRefused) {
    auto c = ok(sign_aliyun(aliyun_device()));
    c.client_id = "a1TestPK01.other|securemode=3,signmethod=hmacsha256|";
    EXPECT_EQ(connect_with(*standin_, c), kNotAuthorized);
}

TEST_F(CloudStandinE2E, AliyunUnknownDeviceRefused) {
    auto p = aliyun_device();
    p.device_name = "no-such-device";
    EXPECT_EQ(connect_with(*standin_, ok(sign_aliyun(p))), kNotAuthorized);
    EXPECT_TRUE(standin_->wait_broker_log("unknown device a1TestPK01/no-such-device"));
}

// ----------------------------------------------------------------------------- Tencent

TEST_F(CloudStandinE2E, TencentSignedConnectsSha256AndSha1) {
    for (auto m : {SignMethod::hmacsha256, SignMethod::hmacsha1}) {
        auto p = tencent_device();
        p.method = m;
        EXPECT_EQ(connect_with(*standin_, ok(sign_tencent(p))), kAccepted) << to_string(m);
    }
}

TEST_F(CloudStandinE2E, TencentExpiredRefused) {
    auto p = tencent_device();
    p.expiry_unix = now_unix() - 10;
    EXPECT_EQ(connect_with(*standin_, ok(sign_tencent(p))), kNotAuthorized);
    EXPECT_TRUE(standin_->wait_broker_log("tencent: signature expired"));
}

TEST_F(CloudStandinE2E, TencentWrongPskRefused) {
    auto p = tencent_device();
    p.device_psk_base64 = base64_encode("a-different-psk!");
    EXPECT_EQ(connect_with(*standin_, ok(sign_tencent(p))), kNotAuthorized);
}

TEST_F(CloudStandinE2E, TencentUnknownDeviceRefused) {
    auto p = tencent_device();
    p.device_name = "ghost";
    EXPECT_EQ(connect_with(*standin_, ok(sign_tencent(p))), kNotAuthorized);
}

TEST_F(CloudStandinE2E, TencentClientIdMustMatchUsername) {
    auto c = ok(sign_tencent(tencent_device()));
    c.client_id = "TCPID00001someone-else";
    EXPECT_EQ(connect_with(*standin_, c), kNotAuthorized);
}

// ------------------------------------------------------------------- IoT Suite tokens

TEST_F(CloudStandinE2E, TokenFetchedThenConnects) {
    const auto r = suite_device();
    const auto out = fetch_token(standin_->token_url(), r, 10000);
    ASSERT_EQ(out.result_code, 0) << out.message;
    ASSERT_TRUE(out.token);
    EXPECT_EQ(out.token->expire_s, 86400u);
    EXPECT_EQ(out.token->username.rfind("iot-suite01@dev-suite;", 0), 0u);
    EXPECT_EQ(connect_as(*standin_, r.client_id, out.token->username, out.token->password),
              kAccepted);
}

TEST_F(CloudStandinE2E, TokenWrongSecretIsHttpPacketError) {
    auto r = suite_device();
    r.device_secret = "wrong";
    const auto out = fetch_token(standin_->token_url(), r, 10000);
    EXPECT_EQ(out.result_code, 3);  // returnCode != 0 → 3 HTTP packet error
    EXPECT_FALSE(out.token);
    EXPECT_NE(out.message.find("1003"), std::string::npos) << out.message;
    EXPECT_EQ(out.message.find("wrong"), std::string::npos);
}

TEST_F(CloudStandinE2E, TokenUnknownDeviceRefusedByServer) {
    auto r = suite_device();
    r.device_name = "ghost";
    r.client_id = "iot-suite01@ghost";
    const auto out = fetch_token(standin_->token_url(), r, 10000);
    EXPECT_EQ(out.result_code, 3);
    EXPECT_NE(out.message.find("1002"), std::string::npos) << out.message;
}

TEST_F(CloudStandinE2E, TokenStaleTimestampRefused) {
    auto r = suite_device();
    r.timestamp = now_unix() - 3600;  // registry default window: 600 s
    const auto out = fetch_token(standin_->token_url(), r, 10000);
    EXPECT_EQ(out.result_code, 3);
    EXPECT_NE(out.message.find("1004"), std::string::npos) << out.message;
}

TEST_F(CloudStandinE2E, ForgedTokenRefusedByBroker) {
    const auto out = fetch_token(standin_->token_url(), suite_device(), 10000);
    ASSERT_EQ(out.result_code, 0) << out.message;
    // Same username, password from another key.
    EXPECT_EQ(connect_as(*standin_, "iot-suite01@dev-suite", out.token->username,
                         hmac_hex(SignMethod::hmacsha256, "guess", out.token->username)),
              kNotAuthorized);
    // Extended expiry, original password: the HMAC no longer matches.
    auto u = out.token->username;
    u.replace(u.find(';') + 1, 1, "9");
    EXPECT_EQ(connect_as(*standin_, "iot-suite01@dev-suite", u, out.token->password),
              kNotAuthorized);
}

TEST_F(CloudStandinE2E, ExpiredTokenRefused) {
    // A token whose expiry is in the past, minted with the right key (as if issued long ago).
    const std::string user =
        "iot-suite01@dev-suite;" + std::to_string(now_unix() - 1) + ";AAAAAAAA";
    EXPECT_EQ(connect_as(*standin_, "iot-suite01@dev-suite", user,
                         hmac_hex(SignMethod::hmacsha256, "TokenServerKey-xyz", user)),
              kNotAuthorized);
    EXPECT_TRUE(standin_->wait_broker_log("token: token expired"));
}

// ------------------------------------------------------------------- plain and others

TEST_F(CloudStandinE2E, PlainObserverAndAnonymous) {
    EXPECT_EQ(
        connect_as(*standin_, "observer-1", std::string("observer"), std::string("observer-pass")),
        kAccepted);
    EXPECT_EQ(connect_as(*standin_, "observer-2", std::string("observer"), std::string("nope")),
              kNotAuthorized);
    EXPECT_EQ(connect_as(*standin_, "anonymous-1", std::nullopt, std::nullopt), kNotAuthorized);
    EXPECT_EQ(connect_as(*standin_, "stranger", std::string("someone"), std::string("pw")),
              kNotAuthorized);
}

TEST_F(CloudStandinE2E, MessagesPassBetweenSignedDevicesAndObserver) {
    auto observer = accepted(*standin_, "observer-msg", "observer", "observer-pass");
    ASSERT_TRUE(observer->subscribe("/a1TestPK01/dev-ali/user/update", 1));
    ASSERT_TRUE(observer->subscribe("TCPID00001/dev-tc/event", 1));

    const auto ac = ok(sign_aliyun(aliyun_device()));
    auto ali = accepted(*standin_, ac.client_id, ac.username, ac.password);
    ASSERT_TRUE(ali->connected());
    ASSERT_TRUE(ali->publish("/a1TestPK01/dev-ali/user/update", "{\"temp\":21.5}", 1));
    auto m = observer->wait_message("/a1TestPK01/dev-ali/user/update", 10s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "{\"temp\":21.5}");

    const auto tc = ok(sign_tencent(tencent_device()));
    auto ten = accepted(*standin_, tc.client_id, tc.username, tc.password);
    ASSERT_TRUE(ten->connected());
    ASSERT_TRUE(ten->publish("TCPID00001/dev-tc/event", "hello", 1));
    m = observer->wait_message("TCPID00001/dev-tc/event", 10s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "hello");

    // And downstream: observer → device.
    ASSERT_TRUE(ali->subscribe("/a1TestPK01/dev-ali/user/get", 1));
    ASSERT_TRUE(observer->publish("/a1TestPK01/dev-ali/user/get", "cmd", 1));
    m = ali->wait_message("/a1TestPK01/dev-ali/user/get", 10s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "cmd");
}

TEST_F(CloudStandinE2E, LogsNeverContainSecrets) {
    // Drive one refusal per scheme so the refusal paths have logged something.
    auto p = aliyun_device();
    p.device_secret = "WrongAliSecretZZZ";
    EXPECT_EQ(connect_with(*standin_, ok(sign_aliyun(p))), kNotAuthorized);
    const auto good = ok(sign_aliyun(aliyun_device()));
    EXPECT_EQ(connect_with(*standin_, good), kAccepted);
    auto r = suite_device();
    const auto tok = fetch_token(standin_->token_url(), r, 10000);
    ASSERT_EQ(tok.result_code, 0);
    ASSERT_TRUE(standin_->wait_broker_log("accepted aliyun client"));
    const std::string logs = standin_->broker_log() + standin_->token_log();
    for (const std::string& secret :
         {std::string("AliDeviceSecret0123456789abcdef"), std::string("VGVuY2VudFBza0J5dGVzMTY="),
          std::string("SuiteDeviceSecret42"), std::string("TokenServerKey-xyz"),
          std::string("observer-pass"), good.password, tok.token->password}) {
        EXPECT_EQ(logs.find(secret), std::string::npos) << "secret leaked into the logs";
    }
}
