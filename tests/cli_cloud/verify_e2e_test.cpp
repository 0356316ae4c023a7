// End to end: `qmtkit verify` and `qmtkit sign` as subprocesses against the cloud stand-in (a real
// mosquitto with libqmtkit_cloud_auth.so and qmtkit-token-server, tests/harness/cloud_standin.hpp).
// A manifest with exactly one wrong secret names exactly that device, with CONNACK 5 (or the
// token flow's result code), and exits non-zero; an all-good manifest exits 0.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cloud_standin.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "support.hpp"

namespace qmtkit::cli_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kWrong = "CANARYwrongSecret77";  // a recognisable wrong secret
const std::string kPskWrong = cloud::base64_encode(kWrong);

test::StandinRegistry registry() {
    test::StandinRegistry r;
    r.aliyun = {{"a1VerifyPK1", "dev-a1", "ali-secret-0001"},
                {"a1VerifyPK1", "dev-a2", "ali-secret-0002"},
                {"a1VerifyPK1", "dev-a3", "ali-secret-0003"}};
    r.tencent = {{"PIDVERIFY1", "dev-t1", cloud::base64_encode("tencent-psk-0001")},
                 {"PIDVERIFY1", "dev-t2", cloud::base64_encode("tencent-psk-0002")}};
    r.tencent_suite = {{"suite-pid", "dev-s1", "suite-secret-0001"},
                       {"suite-pid", "dev-s2", "suite-secret-0002"}};
    r.plain = {{"observer", "observer-pass"}};
    r.token_key = "cli-cloud-test-token-key";
    return r;
}

class CliCloudVerify : public ::testing::Test {
  protected:
    CliCloudVerify() : cloud(registry()) {}

    std::string broker() const { return cloud.host() + ":" + std::to_string(cloud.mqtt_port()); }
    std::string manifest(const std::string& text) const {
        const std::string p = dir.file("manifest.json");
        write_file(p, text);
        return p;
    }
    // Every secret the registry knows, and the wrong one: none may appear in any output.
    static void expect_no_secret(const CliRun& r) {
        for (const std::string& s :
             {std::string("ali-secret-000"), std::string("tencent-psk-000"),
              cloud::base64_encode("tencent-psk-0001"), cloud::base64_encode("tencent-psk-0002"),
              std::string("suite-secret-000"), kWrong, kPskWrong}) {
            EXPECT_EQ(r.all().find(s), std::string::npos) << s << " in:\n" << r.all();
        }
    }
    static json report(const CliRun& r) {
        json j = json::parse(r.out, nullptr, false);
        EXPECT_TRUE(j.is_array()) << r.out << r.err;
        return j.is_array() ? j : json::array();
    }

    test::CloudStandin cloud;
    TempDir dir;
};

TEST_F(CliCloudVerify, AliyunOneWrongSecretIsNamedWithConnack5) {
    const std::string m = manifest(R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "a1VerifyPK1", "device_name": "dev-a1", "device_secret": "ali-secret-0001"},
    {"product_key": "a1VerifyPK1", "device_name": "dev-a2", "device_secret": ")" +
                                   kWrong + R"("},
    {"product_key": "a1VerifyPK1", "device_name": "dev-a3", "device_secret": "ali-secret-0003"}
  ]
})");
    const CliRun r =
        run_qmtkit({"verify", "--manifest", m, "--broker", broker(), "--json", "--timeout", "10"});
    EXPECT_EQ(r.status, 1) << r.err;
    const json j = report(r);
    ASSERT_EQ(j.size(), 3u) << r.out;
    std::vector<std::string> failed;
    for (const auto& d : j) {
        EXPECT_EQ(d.at("cloud"), "aliyun");
        if (!d.at("ok").get<bool>()) failed.push_back(d.at("device").get<std::string>());
    }
    EXPECT_EQ(failed, std::vector<std::string>{"dev-a2"});
    EXPECT_EQ(j[0].at("connack"), 0);
    EXPECT_EQ(j[1].at("connack"), 5);
    EXPECT_NE(j[1].at("message").get<std::string>().find("not authorized"), std::string::npos)
        << j[1];
    EXPECT_EQ(j[2].at("connack"), 0);
    EXPECT_TRUE(cloud.wait_broker_log("dev-a2"));  // the stand-in refused that very device
    expect_no_secret(r);
}

TEST_F(CliCloudVerify, AliyunAllGoodFromInlineFileAndEnvExitsZero) {
    write_file(dir.file("dev-a2.secret"), "ali-secret-0002\n");
    // No --broker: the manifest's endpoint and port point at the stand-in.
    const std::string m = manifest(R"({
  "cloud": "aliyun", "endpoint": "127.0.0.1", "port": )" +
                                   std::to_string(cloud.mqtt_port()) + R"(,
  "sign_method": "hmacsha1",
  "devices": [
    {"product_key": "a1VerifyPK1", "device_name": "dev-a1", "device_secret": "ali-secret-0001", "imei": "490154203237518"},
    {"product_key": "a1VerifyPK1", "device_name": "dev-a2", "device_secret_file": "dev-a2.secret", "client_id": "SN0002"},
    {"product_key": "a1VerifyPK1", "device_name": "dev-a3", "device_secret_env": "DEV_A3_SECRET"}
  ]
})");
    const CliRun r =
        run_qmtkit({"verify", "--manifest", m}, {{"DEV_A3_SECRET", "ali-secret-0003"}});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("3 of 3 device(s) connected\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("dev-a2"), std::string::npos);
    EXPECT_EQ(r.err, "");
    expect_no_secret(r);
    // The same manifest without the variable: that device fails, naming the reference.
    const CliRun unset = run_qmtkit({"verify", "--manifest", m, "--json"});
    EXPECT_EQ(unset.status, 1);
    const json j = report(unset);
    ASSERT_EQ(j.size(), 3u);
    EXPECT_TRUE(j[2].at("connack").is_null());
    EXPECT_NE(j[2].at("message").get<std::string>().find(
                  ":7:82: \"device_secret_env\": environment variable "
                  "DEV_A3_SECRET is not set"),
              std::string::npos)
        << j[2];
}

TEST_F(CliCloudVerify, TencentOneWrongPskIsNamedWithConnack5) {
    const std::string m = manifest(R"({
  "cloud": "tencent",
  "devices": [
    {"product_id": "PIDVERIFY1", "device_name": "dev-t1", "device_psk": ")" +
                                   kPskWrong + R"("},
    {"product_id": "PIDVERIFY1", "device_name": "dev-t2", "device_psk_env": "DEV_T2_PSK"}
  ]
})");
    const CliRun r = run_qmtkit({"verify", "--manifest", m, "--broker", broker(), "--json"},
                                {{"DEV_T2_PSK", cloud::base64_encode("tencent-psk-0002")}});
    EXPECT_EQ(r.status, 1) << r.err;
    const json j = report(r);
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0].at("device"), "dev-t1");
    EXPECT_EQ(j[0].at("ok"), false);
    EXPECT_EQ(j[0].at("connack"), 5);
    EXPECT_EQ(j[1].at("ok"), true);
    EXPECT_EQ(j[1].at("connack"), 0);
    expect_no_secret(r);
}

TEST_F(CliCloudVerify, TencentAllGoodExitsZero) {
    const std::string m = manifest(R"({
  "cloud": "tencent", "sign_method": "hmacsha1", "expiry_s": 600,
  "devices": [
    {"product_id": "PIDVERIFY1", "device_name": "dev-t1", "device_psk": ")" +
                                   cloud::base64_encode("tencent-psk-0001") + R"("},
    {"product_id": "PIDVERIFY1", "device_name": "dev-t2", "device_psk": ")" +
                                   cloud::base64_encode("tencent-psk-0002") + R"("}
  ]
})");
    const CliRun r = run_qmtkit({"verify", "--manifest", m, "--broker", broker()});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("2 of 2 device(s) connected\n"), std::string::npos) << r.out;
    expect_no_secret(r);
}

TEST_F(CliCloudVerify, TokenFlowAllGoodThenOneWrongSecret) {
    const std::string good = manifest(R"({
  "cloud": "tencent-token", "token_url": ")" +
                                      cloud.token_url() + R"(", "expire_days": 1,
  "devices": [
    {"product_id": "suite-pid", "device_name": "dev-s1", "device_secret": "suite-secret-0001"},
    {"product_id": "suite-pid", "device_name": "dev-s2", "device_secret": "suite-secret-0002"}
  ]
})");
    const CliRun ok = run_qmtkit({"verify", "--manifest", good, "--broker", broker(), "--json"});
    EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
    for (const auto& d : report(ok)) EXPECT_EQ(d.at("connack"), 0) << d;

    // The token URL in the manifest is a dead one; --token-url overrides it.
    const std::string bad = manifest(R"({
  "cloud": "tencent-token", "token_url": "http://127.0.0.1:1/token",
  "devices": [
    {"product_id": "suite-pid", "device_name": "dev-s1", "device_secret": "suite-secret-0001"},
    {"product_id": "suite-pid", "device_name": "dev-s2", "device_secret": ")" +
                                     kWrong + R"("}
  ]
})");
    const CliRun r = run_qmtkit({"verify", "--manifest", bad, "--broker", broker(), "--token-url",
                                 cloud.token_url(), "--json"});
    EXPECT_EQ(r.status, 1);
    const json j = report(r);
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0].at("ok"), true);
    EXPECT_EQ(j[1].at("device"), "dev-s2");
    EXPECT_EQ(j[1].at("ok"), false);
    EXPECT_TRUE(j[1].at("connack").is_null());
    EXPECT_NE(
        j[1].at("message").get<std::string>().find("+QMTTENAUTH result 3 (HTTP packet error)"),
        std::string::npos)
        << j[1];
    expect_no_secret(r);
}

TEST_F(CliCloudVerify, NoBrokerListeningFailsWithoutConnack) {
    const std::string m = manifest(R"({
  "cloud": "aliyun",
  "devices": [{"product_key": "a1VerifyPK1", "device_name": "dev-a1", "device_secret": "ali-secret-0001"}]
})");
    const std::string dead = "127.0.0.1:" + std::to_string(test::free_loopback_port());
    const CliRun r =
        run_qmtkit({"verify", "--manifest", m, "--broker", dead, "--json", "--timeout", "5"});
    EXPECT_EQ(r.status, 1);
    const json j = report(r);
    ASSERT_EQ(j.size(), 1u);
    EXPECT_TRUE(j[0].at("connack").is_null());
    EXPECT_NE(j[0].at("message").get<std::string>().find(dead), std::string::npos) << j[0];
    const CliRun table =
        run_qmtkit({"verify", "--manifest", m, "--broker", dead, "--timeout", "5"});
    EXPECT_EQ(table.status, 1);
    EXPECT_NE(table.out.find("0 of 1 device(s) connected, 1 failed"), std::string::npos)
        << table.out;
}

// `qmtkit sign` output is what the stand-in accepts: connect with it.
TEST_F(CliCloudVerify, SignOutputsConnect) {
    const CliRun a = run_qmtkit({"sign", "aliyun", "--product-key", "a1VerifyPK1", "--device-name",
                                 "dev-a1", "--json", "--timestamp", "1700000000000"},
                                {{"QMTKIT_DEVICE_SECRET", "ali-secret-0001"}});
    ASSERT_EQ(a.status, 0) << a.err;
    json ja = json::parse(a.out);
    auto ca =
        cloud.client(ja.at("client_id").get<std::string>(), ja.at("username").get<std::string>(),
                     ja.at("password").get<std::string>());
    EXPECT_EQ(ca->connack_rc(), 0);

    const CliRun t =
        run_qmtkit({"sign", "tencent", "--product-id", "PIDVERIFY1", "--device-name", "dev-t2",
                    "--json", "--device-psk", cloud::base64_encode("tencent-psk-0002")});
    ASSERT_EQ(t.status, 0) << t.err;
    json jt = json::parse(t.out);
    auto ct =
        cloud.client(jt.at("client_id").get<std::string>(), jt.at("username").get<std::string>(),
                     jt.at("password").get<std::string>());
    EXPECT_EQ(ct->connack_rc(), 0);
}

TEST_F(CliCloudVerify, SignTencentTokenAgainstTheTokenServer) {
    const CliRun r = run_qmtkit({"sign", "tencent-token", "--product-id", "suite-pid",
                                 "--device-name", "dev-s1", "--device-secret-file", "/dev/stdin",
                                 "--url", cloud.token_url(), "--json", "--expire-days", "2"});
    // /dev/stdin is /dev/null for the child: an empty file, refused before any request.
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;

    write_file(dir.file("s1"), "suite-secret-0001\n");
    const CliRun ok = run_qmtkit({"sign", "tencent-token", "--product-id", "suite-pid",
                                  "--device-name", "dev-s1", "--device-secret-file", dir.file("s1"),
                                  "--url", cloud.token_url(), "--json", "--expire-days", "2"});
    ASSERT_EQ(ok.status, 0) << ok.err;
    const json j = json::parse(ok.out);
    EXPECT_EQ(j.at("client_id"), "suite-piddev-s1");
    EXPECT_EQ(j.at("host"), "suite-pid.iotcloud.tencentdevices.com");
    EXPECT_EQ(j.at("expire_s"), 2 * 86400);
    EXPECT_EQ(j.at("username").get<std::string>().rfind("suite-pid@dev-s1;", 0), 0u) << j;
    EXPECT_EQ(j.at("password").get<std::string>().size(), 64u);
    auto c = cloud.client(j.at("client_id").get<std::string>(), j.at("username").get<std::string>(),
                          j.at("password").get<std::string>());
    EXPECT_EQ(c->connack_rc(), 0);

    const CliRun wrong = run_qmtkit({"sign", "tencent-token", "--product-id", "suite-pid",
                                     "--device-name", "dev-s1", "--url", cloud.token_url()},
                                    {{"QMTKIT_DEVICE_SECRET", kWrong}});
    EXPECT_EQ(wrong.status, 1);
    EXPECT_EQ(wrong.out, "");
    EXPECT_NE(wrong.err.find("qmtkit sign tencent-token: token request failed: +QMTTENAUTH result "
                             "3 (HTTP packet error)"),
              std::string::npos)
        << wrong.err;
    EXPECT_EQ(wrong.all().find(kWrong), std::string::npos) << wrong.all();

    const CliRun unknown =
        run_qmtkit({"sign", "tencent-token", "--product-id", "suite-pid", "--device-name", "nobody",
                    "--device-secret", kWrong, "--url", cloud.token_url()});
    EXPECT_EQ(unknown.status, 1);
    EXPECT_NE(unknown.err.find("+QMTTENAUTH result 3"), std::string::npos) << unknown.err;
    EXPECT_EQ(unknown.all().find(kWrong), std::string::npos) << unknown.all();
}

}  // namespace
}  // namespace qmtkit::cli_test
