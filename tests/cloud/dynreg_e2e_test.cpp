// Dynamic registration end to end: register_aliyun_device / register_tencent_device (libcurl)
// against the stand-in's registration endpoints (qmtkit-token-server, plain HTTP on 127.0.0.1),
// then the issued secret signs a CONNECT that the broker's plugin accepts and a message reaches
// an observer. A wrong product secret is refused with the cloud's code in words; neither the
// errors nor the stand-in's logs contain a product secret.
#include "cloud_standin.hpp"
#include "qmtkit/cloud/dynreg.hpp"
#include "qmtkit/cloud/signing.hpp"

#include <gtest/gtest.h>

#ifdef QMTKIT_HAVE_MANIFEST
#include "qmtkit/manifest/manifest.hpp"
#endif

#include <chrono>
#include <cstdlib>
#include <ctime>

using namespace qmtkit::cloud;
using namespace std::chrono_literals;
using Standin = qmtkit::test::CloudStandin;

namespace {

const char* const kAliSecret = "AliE2EProductSecret-0123456789ab";
const char* const kTcSecret = "TencentE2EProductSecret-xyz012";

const char* const kRegistry = R"({
  "aliyun_products": [
    { "product_key": "a1E2EDyn", "product_secret": "AliE2EProductSecret-0123456789ab" },
    { "product_key": "a1E2EPre", "product_secret": "AliE2EPreRegSecret-42", "devices": ["sn-0001"],
      "allow_reregister": false }
  ],
  "tencent_products": [
    { "product_id": "TCE2EDYN01", "product_secret": "TencentE2EProductSecret-xyz012" }
  ],
  "plain": [ { "username": "observer", "password": "observer-pass" } ],
  "dynreg_key": "E2EDynregKey-Standin"
})";

std::string base_url(Standin& s) {
    return "http://127.0.0.1:" + std::to_string(s.token_server().port());
}

template <class T>
T ok(const DynregResult<T>& r) {
    if (const auto* e = std::get_if<DynregError>(&r)) ADD_FAILURE() << e->message;
    return std::get<T>(r);
}

const DynregError& failed(const DynregResult<AliyunRegistration>& r) {
    EXPECT_TRUE(std::holds_alternative<DynregError>(r));
    return std::get<DynregError>(r);
}
const DynregError& failed(const DynregResult<TencentRegistration>& r) {
    EXPECT_TRUE(std::holds_alternative<DynregError>(r));
    return std::get<DynregError>(r);
}

// CONNECT with `c` (must be accepted) and publish `payload` on `topic`; the observer gets it.
void connect_and_publish(Standin& s, const MqttCredentials& c, const std::string& topic,
                         const std::string& payload) {
    auto obs = s.client("obs-dynreg", "observer", "observer-pass", 10s);
    ASSERT_EQ(obs->connack_rc(), 0);
    ASSERT_TRUE(obs->subscribe(topic, 1));
    auto dev = s.client(c.client_id, c.username, c.password, 10s);
    ASSERT_EQ(dev->connack_rc(), 0) << s.broker_log();
    ASSERT_TRUE(dev->publish(topic, payload, 1));
    const auto m = obs->wait_message(topic, 5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, payload);
}

class CloudDynregE2E : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        try {
            Standin::Options opt;
            opt.broker.extra_config.push_back("log_type all");
            standin_ = new Standin(std::string(kRegistry), opt);
        } catch (const std::exception& e) {
            start_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete standin_;
        standin_ = nullptr;
    }
    void SetUp() override { ASSERT_NE(standin_, nullptr) << start_error_; }

    AliyunDynregRequest aliyun(const std::string& pk, const std::string& dn,
                               const std::string& secret) {
        AliyunDynregRequest r;
        r.product_key = pk;
        r.device_name = dn;
        r.product_secret = secret;
        r.base_url = base_url(*standin_);
        return r;
    }
    TencentDynregRequest tencent(const std::string& dn, const std::string& secret) {
        TencentDynregRequest r;
        r.product_id = "TCE2EDYN01";
        r.device_name = dn;
        r.product_secret = secret;
        r.base_url = base_url(*standin_);
        return r;
    }
    static Standin* standin_;
    static std::string start_error_;
};
Standin* CloudDynregE2E::standin_ = nullptr;
std::string CloudDynregE2E::start_error_;

}  // namespace

TEST_F(CloudDynregE2E, AliyunRegisteredDeviceConnectsAndPublishes) {
    const auto reg = ok(register_aliyun_device(aliyun("a1E2EDyn", "meter-0100", kAliSecret)));
    EXPECT_EQ(reg.product_key, "a1E2EDyn");
    EXPECT_EQ(reg.device_name, "meter-0100");
    EXPECT_EQ(reg.device_secret.size(), 32u);

    AliyunParams p;
    p.product_key = reg.product_key;
    p.device_name = reg.device_name;
    p.device_secret = reg.device_secret;
    p.timestamp_ms = static_cast<std::uint64_t>(std::time(nullptr)) * 1000;
    connect_and_publish(*standin_, std::get<MqttCredentials>(sign_aliyun(p)),
                        "/a1E2EDyn/meter-0100/user/update", "21.5");
}

TEST_F(CloudDynregE2E, AliyunWrongProductSecretIsRefusedWithTheCloudsCode) {
    const auto r = register_aliyun_device(aliyun("a1E2EDyn", "meter-0101", "WrongProductSecret-1"));
    const DynregError& e = failed(r);
    EXPECT_EQ(e.kind, DynregError::Kind::refused);
    EXPECT_EQ(e.cloud_code, "401");
    EXPECT_NE(e.message.find("code 401 (request auth error: sign mismatch)"), std::string::npos)
        << e.message;
    EXPECT_EQ(e.message.find("WrongProductSecret-1"), std::string::npos);
}

TEST_F(CloudDynregE2E, AliyunPreRegistrationRules) {
    EXPECT_EQ(failed(register_aliyun_device(aliyun("a1E2EPre", "sn-9999", "AliE2EPreRegSecret-42")))
                  .cloud_code,
              "6100");
    EXPECT_EQ(failed(register_aliyun_device(aliyun("a1Nope", "sn-0001", "x"))).cloud_code, "6250");
    ok(register_aliyun_device(aliyun("a1E2EPre", "sn-0001", "AliE2EPreRegSecret-42")));
    EXPECT_EQ(failed(register_aliyun_device(aliyun("a1E2EPre", "sn-0001", "AliE2EPreRegSecret-42")))
                  .cloud_code,
              "403");
    // A name the product does not list cannot connect even with a guessed derivation.
    AliyunParams p;
    p.product_key = "a1E2EPre";
    p.device_name = "sn-9999";
    p.device_secret = "00000000000000000000000000000000";
    const auto c = std::get<MqttCredentials>(sign_aliyun(p));
    EXPECT_EQ(standin_->client(c.client_id, c.username, c.password, 10s)->connack_rc(), 5);
}

TEST_F(CloudDynregE2E, TencentRegisteredDeviceConnectsAndPublishes) {
    const auto reg = ok(register_tencent_device(tencent("gate-0001", kTcSecret)));
    EXPECT_TRUE(base64_decode(reg.device_psk));

    TencentParams t;
    t.product_id = reg.product_id;
    t.device_name = reg.device_name;
    t.device_psk_base64 = reg.device_psk;
    connect_and_publish(*standin_, std::get<MqttCredentials>(sign_tencent(t)),
                        "TCE2EDYN01/gate-0001/data", "{\"t\":21}");
}

TEST_F(CloudDynregE2E, TencentWrongProductSecretIsRefusedWithTheCloudsCode) {
    const auto r = register_tencent_device(tencent("gate-0002", "WrongProductSecret-16chars"));
    const DynregError& e = failed(r);
    EXPECT_EQ(e.kind, DynregError::Kind::refused);
    EXPECT_EQ(e.cloud_code, "AuthFailure.SignatureFailure");
    EXPECT_NE(e.message.find("AuthFailure.SignatureFailure (signature mismatch)"),
              std::string::npos)
        << e.message;
    EXPECT_EQ(e.message.find("WrongProductSecret"), std::string::npos);
}

TEST_F(CloudDynregE2E, TencentStaleTimestampIsRefused) {
    auto r = tencent("gate-0003", kTcSecret);
    r.timestamp = static_cast<std::uint64_t>(std::time(nullptr)) - 3600;
    EXPECT_EQ(failed(register_tencent_device(r)).cloud_code, "AuthFailure.SignatureExpire");
}

TEST_F(CloudDynregE2E, LogsNeverContainProductOrIssuedSecrets) {
    const auto a = ok(register_aliyun_device(aliyun("a1E2EDyn", "meter-0102", kAliSecret)));
    const auto t = ok(register_tencent_device(tencent("gate-0004", kTcSecret)));
    register_aliyun_device(aliyun("a1E2EDyn", "meter-0103", "WrongProductSecret-2"));
    ASSERT_TRUE(standin_->wait_token_log("/device/register TCE2EDYN01/gate-0004 -> 0"));
    const std::string logs = standin_->broker_log() + standin_->token_log();
    for (const std::string& s :
         {std::string(kAliSecret), std::string(kTcSecret), std::string("WrongProductSecret-2"),
          a.device_secret, t.device_psk, std::string("E2EDynregKey-Standin")})
        EXPECT_EQ(logs.find(s), std::string::npos) << "secret in the logs";
}

#ifdef QMTKIT_HAVE_MANIFEST
// What factory provisioning does with a dynamic-registration manifest: resolve the product
// secret, register every device, sign with the issued secret, connect.
TEST_F(CloudDynregE2E, ManifestDevicesRegisterAndConnect) {
    namespace mf = qmtkit::manifest;
    for (const std::string cloud : {"aliyun", "tencent"}) {
        const bool ali = cloud == "aliyun";
        const std::string text = std::string(R"({"cloud": ")") + cloud +
                                 R"(", "dynamic_registration": true,
  "product_secret_env": "QMTKIT_E2E_PRODUCT_SECRET", "registration_url": ")" +
                                 base_url(*standin_) + R"(",
  "devices": [{")" + (ali ? "product_key" : "product_id") +
                                 R"(": ")" + (ali ? "a1E2EDyn" : "TCE2EDYN01") +
                                 R"(", "device_name": "line-0001"}]})";
        const auto r = mf::parse_manifest(text, "line.json");
        ASSERT_TRUE(r.manifest) << (r.errors.empty() ? "" : r.errors[0].to_string());
        ::setenv("QMTKIT_E2E_PRODUCT_SECRET", ali ? kAliSecret : kTcSecret, 1);
        const auto ps = mf::resolve_product_secret(*r.manifest);
        ::unsetenv("QMTKIT_E2E_PRODUCT_SECRET");
        ASSERT_TRUE(ps.value) << ps.error->to_string();
        const auto& d = r.manifest->devices.at(0);
        const auto secret = mf::register_dynamic(*r.manifest, d, *ps.value, 10000);
        ASSERT_TRUE(std::holds_alternative<std::string>(secret))
            << std::get<DynregError>(secret).message;
        MqttCredentials c;
        if (ali) {
            AliyunParams p;
            p.product_key = d.product;
            p.device_name = d.device_name;
            p.device_secret = std::get<std::string>(secret);
            c = std::get<MqttCredentials>(sign_aliyun(p));
        } else {
            TencentParams p;
            p.product_id = d.product;
            p.device_name = d.device_name;
            p.device_psk_base64 = std::get<std::string>(secret);
            c = std::get<MqttCredentials>(sign_tencent(p));
        }
        EXPECT_EQ(standin_->client(c.client_id, c.username, c.password, 10s)->connack_rc(), 0)
            << cloud;
        // A wrong product secret: refused with the cloud's code, the secret not in the message.
        const auto bad = mf::register_dynamic(*r.manifest, d, "WrongProductSecret-CANARY", 10000);
        ASSERT_TRUE(std::holds_alternative<DynregError>(bad));
        EXPECT_EQ(std::get<DynregError>(bad).kind, DynregError::Kind::refused);
        EXPECT_EQ(std::get<DynregError>(bad).message.find("CANARY"), std::string::npos);
    }
}
#endif
