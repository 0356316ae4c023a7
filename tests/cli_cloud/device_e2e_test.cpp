// `qmtkit pub|sub --manifest FILE --device-name NAME | --imei N` end to end (issue 9, "A device
// of a manifest, through its cloud profile"): qmtkit and bc28-sim as subprocesses against the
// cloud stand-in (mosquitto + libqmtkit_cloud_auth.so + qmtkit-token-server). Each profile with
// a right and a wrong secret: Aliyun signed by the module (AT+QMTCFG="aliauth") and on the host
// (--sign-on-host), Tencent PSK signed on the host, the Tencent token fetched by the module
// (AT+QMTTENAUTH) and on the host. And passwords from --pw-file / $QMTKIT_PASSWORD against a
// stand-in user. No secret appears in any output, --trace and -d included.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdio>

#include "cloud_standin.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "sim_process.hpp"
#include "support.hpp"
#include "text.hpp"

namespace qmtkit::cli_test {
namespace {

using namespace std::chrono_literals;

const std::string kWrong = "CANARY-wrong-secret-31";
const std::string kAliOk = "AliSecret-ok-0001", kAliBad = "AliSecret-bad-0002";
const std::string kTenOk = "TenPsk-ok-0001", kTenBad = "TenPsk-bad-0002";
const std::string kSuiteOk = "SuiteSecret-ok-1", kSuiteBad = "SuiteSecret-bad-2";
const std::string kObserverPass = "ObserverPass-9", kUserPass = "PwUser-Secret-5";

test::StandinRegistry registry() {
    test::StandinRegistry r;
    r.aliyun = {{"a1DevPK0001", "ali-ok", kAliOk}, {"a1DevPK0001", "ali-bad", kAliBad}};
    r.tencent = {{"TENDEVPID1", "ten-ok", cloud::base64_encode(kTenOk)},
                 {"TENDEVPID1", "ten-bad", cloud::base64_encode(kTenBad)}};
    r.tencent_suite = {{"suitedev", "suite-ok", kSuiteOk}, {"suitedev", "suite-bad", kSuiteBad}};
    r.plain = {{"observer", kObserverPass}, {"pw-user", kUserPass}};
    r.token_key = "cli-device-test-token-key";
    return r;
}

class CliCloudDevice : public ::testing::Test {
  protected:
    CliCloudDevice() : cloud(registry()) {
        test::SimProcess::Options o;
        o.exe = BC28SIM_EXE;
        o.open_pty = false;
        sim = std::make_unique<test::SimProcess>(o);
        observer = cloud.observer();
        EXPECT_TRUE(observer->subscribe("#", 1));
    }

    std::string broker() const { return cloud.host() + ":" + std::to_string(cloud.mqtt_port()); }
    // Manifests whose "-ok" device has the right secret and "-bad" a wrong one.
    std::string manifest() const {
        const std::string p = dir.file("manifest.json");
        write_file(p, R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "a1DevPK0001", "device_name": "ali-ok", "device_secret": ")" +
                          kAliOk + R"(", "imei": "490154203237518"},
    {"product_key": "a1DevPK0001", "device_name": "ali-bad", "device_secret": ")" +
                          kWrong + R"("}
  ]
})");
        return p;
    }
    std::string tencent_manifest() const {
        const std::string p = dir.file("tencent.json");
        write_file(p, R"({
  "cloud": "tencent",
  "devices": [
    {"product_id": "TENDEVPID1", "device_name": "ten-ok", "device_psk": ")" +
                          cloud::base64_encode(kTenOk) + R"("},
    {"product_id": "TENDEVPID1", "device_name": "ten-bad", "device_psk": ")" +
                          cloud::base64_encode(kWrong) + R"("}
  ]
})");
        return p;
    }
    std::string token_manifest() const {
        const std::string p = dir.file("token.json");
        write_file(p, R"({
  "cloud": "tencent-token",
  "token_url": ")" + cloud.token_url() +
                          R"(",
  "expire_days": 1,
  "devices": [
    {"product_id": "suitedev", "device_name": "suite-ok", "device_secret_file": "ok.secret"},
    {"product_id": "suitedev", "device_name": "suite-bad", "device_secret": ")" +
                          kWrong + R"("}
  ]
})");
        write_file(dir.file("ok.secret"), kSuiteOk + "\n");
        return p;
    }

    // qmtkit <tool> through the emulator, with --broker pointing at the stand-in.
    CliRun run(const std::string& tool, const std::string& m, std::vector<std::string> more,
               const std::map<std::string, std::string>& env = {}) const {
        std::vector<std::string> a{tool, "--device", sim->pty_path(), "--manifest",
                                   m,    "--broker", broker()};
        a.insert(a.end(), more.begin(), more.end());
        return run_qmtkit(a, env, 60s);
    }
    CliRun pub(const std::string& m, const std::string& device,
               std::vector<std::string> more = {}) {
        std::vector<std::string> a{"--device-name",        device, "-t", "dev/" + device, "-m",
                                   "hello from " + device, "-q",   "1"};
        a.insert(a.end(), more.begin(), more.end());
        return run("pub", m, a);
    }
    // The message the device published reached the broker.
    void expect_delivered(const std::string& device) {
        const auto msg = observer->wait_message("dev/" + device, 10s);
        ASSERT_TRUE(msg.has_value()) << device;
        EXPECT_EQ(msg->payload, "hello from " + device);
    }
    static void expect_no_secret(const CliRun& r) {
        for (const std::string& s :
             {kWrong, kAliOk, kAliBad, kTenOk, kTenBad, cloud::base64_encode(kTenOk),
              cloud::base64_encode(kWrong), kSuiteOk, kSuiteBad, kObserverPass, kUserPass})
            EXPECT_EQ(r.all().find(s), std::string::npos) << s << " in:\n" << r.all();
    }

    test::CloudStandin cloud;
    TempDir dir;
    std::unique_ptr<test::SimProcess> sim;
    std::unique_ptr<test::MqttClient> observer;
};

TEST_F(CliCloudDevice, AliyunSignedByTheModule) {
    const std::string m = manifest();
    const CliRun ok = pub(m, "ali-ok", {"--trace", "-d"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_NE(ok.err.find("AT> AT+QMTCFG=\"aliauth\",0,\"a1DevPK0001\",\"ali-ok\",\"***\""),
              std::string::npos)
        << ok.err;
    expect_delivered("ali-ok");
    expect_no_secret(ok);
    const CliRun bad = pub(m, "ali-bad");
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.err, "qmtkit pub: CONNECT refused: not authorized (CONNACK 5)\n");
    expect_no_secret(bad);
}

TEST_F(CliCloudDevice, AliyunSignedOnTheHost) {
    const std::string m = manifest();
    const CliRun ok = pub(m, "ali-ok", {"--sign-on-host", "--trace"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(ok.err.find("aliauth"), std::string::npos) << "the secret went to the module";
    EXPECT_NE(ok.err.find("AT> AT+QMTCONN=0,\"a1DevPK0001.ali-ok|securemode=3,signmethod="
                          "hmacsha256|\",\"ali-ok&a1DevPK0001\",\"***\""),
              std::string::npos)
        << ok.err;
    expect_delivered("ali-ok");
    expect_no_secret(ok);
    const CliRun bad = pub(m, "ali-bad", {"--sign-on-host"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.err, "qmtkit pub: CONNECT refused: not authorized (CONNACK 5)\n");
}

TEST_F(CliCloudDevice, TencentSignedOnTheHost) {
    const std::string m = tencent_manifest();
    const CliRun ok = pub(m, "ten-ok", {"--trace", "-d"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_NE(ok.err.find("AT> AT+QMTCONN=0,\"TENDEVPID1ten-ok\",\"TENDEVPID1ten-ok;12010126;"),
              std::string::npos)
        << ok.err;
    expect_delivered("ten-ok");
    expect_no_secret(ok);
    const CliRun bad = pub(m, "ten-bad");
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(bad.err, "qmtkit pub: CONNECT refused: not authorized (CONNACK 5)\n");
    expect_no_secret(bad);
}

// The module fetches the token (AT+QMTTENAUTH with the manifest's token_url). A refused token
// request (+QMTTENAUTH: 3, any HTTP answer but 200) may be a server's bad moment: tried once
// more, and the same answer again ends the run at once, however long --timeout is.
TEST_F(CliCloudDevice, TencentTokenFetchedByTheModule) {
    const std::string m = token_manifest();
    const CliRun ok = pub(m, "suite-ok", {"--trace", "-d"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_NE(ok.err.find("AT> AT+QMTTENAUTH=\"suitedev\",\"suite-ok\",\"suitedev@suite-ok\","
                          "\"***\",1,\"" +
                          cloud.token_url() + "\""),
              std::string::npos)
        << ok.err;
    expect_delivered("suite-ok");
    expect_no_secret(ok);
    const CliRun bad = pub(m, "suite-bad", {"--timeout", "120", "--trace"});
    EXPECT_EQ(bad.status, 1);
    const std::string last =
        "qmtkit pub: token request failed: +QMTTENAUTH result 3 (HTTP packet error)\n";
    EXPECT_TRUE(bad.err.size() > last.size() &&
                bad.err.compare(bad.err.size() - last.size(), last.size(), last) == 0)
        << bad.err;
    EXPECT_EQ(test::count_of(bad.err, "AT> AT+QMTTENAUTH=\""), 2u) << bad.err;
    expect_no_secret(bad);
}

// --sign-on-host: the host fetches the token and the module connects with it; a refused request
// ends the run before the port is opened.
TEST_F(CliCloudDevice, TencentTokenFetchedOnTheHost) {
    const std::string m = token_manifest();
    const CliRun ok = pub(m, "suite-ok", {"--sign-on-host", "--trace"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(ok.err.find("QMTTENAUTH"), std::string::npos) << ok.err;
    expect_delivered("suite-ok");
    expect_no_secret(ok);
    const std::string before = sim->log();
    const CliRun bad = pub(m, "suite-bad", {"--sign-on-host"});
    EXPECT_EQ(bad.status, 1);
    EXPECT_EQ(
        bad.err.rfind(
            "qmtkit pub: token request failed: +QMTTENAUTH result 3 (HTTP packet error): ", 0),
        0u)
        << bad.err;
    EXPECT_EQ(sim->log(), before) << "the module was sent commands";
    expect_no_secret(bad);
}

// sub picks its device by IMEI, and --token-url overrides the manifest's.
TEST_F(CliCloudDevice, SubByImeiAndTokenUrlOverride) {
    ASSERT_TRUE(observer->publish("dev/retained", "for ali-ok", 1, true));
    const CliRun s = run("sub", manifest(),
                         {"--imei", "490154203237518", "-t", "dev/retained", "-C", "1", "-q", "1"});
    EXPECT_EQ(s.status, 0) << s.err;
    EXPECT_EQ(s.out, "for ali-ok\n");
    const std::string m = token_manifest();
    const CliRun t = pub(m, "suite-ok",
                         {"--token-url", "http://127.0.0.1:1/token", "--timeout", "2", "--trace"});
    EXPECT_EQ(t.status, 1);
    EXPECT_NE(t.err.find(",\"http://127.0.0.1:1/token\""), std::string::npos) << t.err;
    EXPECT_NE(t.err.find("token request failed: +QMTTENAUTH result 2"), std::string::npos) << t.err;
}

// The manifest or the device cannot be used: said before the port is opened.
TEST_F(CliCloudDevice, ManifestProblems) {
    const std::string before = sim->log();
    const std::string bad_json = dir.file("bad.json");
    write_file(bad_json, "{\n  \"cloud\": \"aliyun\",\n  \"devices\": []\n}\n");
    CliRun r = run("pub", bad_json, {"--device-name", "x", "-t", "t", "-m", "m"});
    EXPECT_EQ(r.status, 2);
    // One line: the diagnostic itself (verify lists them all, with a summary).
    EXPECT_EQ(r.err.rfind(bad_json + ":3:", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    r = run("pub", manifest(), {"--device-name", "nope", "-t", "t", "-m", "m"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "Error: No device named 'nope' in " + dir.file("manifest.json") + ".\n");
    r = run("sub", manifest(), {"--device-name", "ali-ok", "-t", "t", "--token-url", "http://x/"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "Error: --token-url is for tencent-token devices; " +
                         dir.file("manifest.json") + " is aliyun.\n");
    const std::string m = token_manifest();
    std::remove(dir.file("ok.secret").c_str());
    r = run("pub", m, {"--device-name", "suite-ok", "-t", "t", "-m", "m"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(m + ":6:"), std::string::npos) << r.err;
    EXPECT_EQ(sim->log(), before) << "the module was sent commands";
}

// Passwords kept out of `ps`: --pw-file (one trailing newline ignored, not two) and
// $QMTKIT_PASSWORD, against a stand-in user; never in any output.
TEST_F(CliCloudDevice, PasswordFromFileOrEnvironment) {
    const auto pub_as = [&](std::vector<std::string> more,
                            const std::map<std::string, std::string>& env = {}) {
        std::vector<std::string> a{"pub",
                                   "--device",
                                   sim->pty_path(),
                                   "-h",
                                   cloud.host(),
                                   "-p",
                                   std::to_string(cloud.mqtt_port()),
                                   "-u",
                                   "pw-user",
                                   "-t",
                                   "dev/pw",
                                   "-m",
                                   "hello from pw",
                                   "-q",
                                   "1",
                                   "--trace",
                                   "-d"};
        a.insert(a.end(), more.begin(), more.end());
        return run_qmtkit(a, env, 60s);
    };
    write_file(dir.file("pw"), kUserPass + "\n");
    CliRun r = pub_as({"--pw-file", dir.file("pw")});
    EXPECT_EQ(r.status, 0) << r.err;
    expect_delivered("pw");
    expect_no_secret(r);
    r = pub_as({}, {{"QMTKIT_PASSWORD", kUserPass}});
    EXPECT_EQ(r.status, 0) << r.err;
    expect_delivered("pw");
    expect_no_secret(r);
    // A second newline stays: the password would hold a line feed.
    write_file(dir.file("pw2"), kUserPass + "\n\n");
    r = pub_as({"--pw-file", dir.file("pw2")});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err,
              "Error: Invalid password (--pw-file): it holds a line feed, which an AT command "
              "line cannot carry.\n");
    // A wrong one is refused by the broker.
    r = pub_as({"--timeout", "10"}, {{"QMTKIT_PASSWORD", kWrong}});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("qmtkit pub: CONNECT refused: not authorized (CONNACK 5)\n"),
              std::string::npos)
        << r.err;
    expect_no_secret(r);
}

}  // namespace
}  // namespace qmtkit::cli_test
