// `qmtkit sign` as a subprocess: its output equals the published / documented vectors pinned in
// tests/cloud/signing_test.cpp (same inputs, same sources) and the library (sign_aliyun,
// sign_tencent); secrets from a file or the environment; a secret never in any output or error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <ctime>
#include <set>

#include "qmtkit/cloud/signing.hpp"
#include "support.hpp"

namespace qmtkit::cli_test {
namespace {

using namespace qmtkit::cloud;
using nlohmann::json;

MqttCredentials ok(SignResult<MqttCredentials> r) {
    if (auto* e = std::get_if<SignError>(&r)) ADD_FAILURE() << e->message;
    return std::get<MqttCredentials>(r);
}

// Runs `qmtkit sign ... --json`, checks it is exactly one JSON object with the five keys.
json sign_json(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), "sign");
    args.push_back("--json");
    const CliRun r = run_qmtkit(args, env);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    json j = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out;
    if (!j.is_object()) return json::object();
    std::set<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
    EXPECT_EQ(keys, (std::set<std::string>{"host", "port", "client_id", "username", "password"}));
    return j;
}

void expect_same(const json& j, const MqttCredentials& c) {
    EXPECT_EQ(j.value("host", ""), c.host);
    EXPECT_EQ(j.value("port", 0), c.port);
    EXPECT_EQ(j.value("client_id", ""), c.client_id);
    EXPECT_EQ(j.value("username", ""), c.username);
    EXPECT_EQ(j.value("password", ""), c.password);
}

// ------------------------------------------------------------------------------- Aliyun

// Aliyun IoT Platform documentation, "Establish MQTT connections over TCP"
// (https://help.aliyun.com/document_detail/73742.html, English:
// https://www.alibabacloud.com/help/doc-detail/73742.htm): clientId=12345, deviceName=device,
// productKey=pk, timestamp=789, signmethod=hmacsha1, deviceSecret=secret →
// FAFD82A3D602B37FB0FA8B7892F24A477F851A14 (printed upper-case there; SDKs emit lower-case).
// Same vector as tests/cloud CloudAliyun.DocumentationExampleHmacSha1.
TEST(CliCloudSign, AliyunDocumentationExample) {
    const json j = sign_json({"aliyun", "--product-key", "pk", "--device-name", "device",
                              "--device-secret", "secret", "--client-id", "12345", "--timestamp",
                              "789", "--sign-method", "hmacsha1"});
    EXPECT_EQ(j.value("client_id", ""), "12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
    EXPECT_EQ(j.value("username", ""), "device&pk");
    EXPECT_EQ(j.value("password", ""), "fafd82a3d602b37fb0fa8b7892f24a477f851a14");
    EXPECT_EQ(j.value("host", ""), "pk.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_EQ(j.value("port", 0), 1883);
    AliyunParams p;
    p.product_key = "pk";
    p.device_name = "device";
    p.device_secret = "secret";
    p.client_id = "12345";
    p.timestamp_ms = 789;
    p.method = SignMethod::hmacsha1;
    expect_same(j, ok(sign_aliyun(p)));
}

// Aliyun IoT developer community article "基于开源MQTT自主接入阿里云IoT平台" (wongxmig, mirrored at
// https://553668.com/manong/261125.html), section "2. 三元组接入示例" → b2488041…; same vector as
// tests/cloud CloudAliyun.CommunityExampleHmacSha1.
TEST(CliCloudSign, AliyunCommunityExample) {
    const json j =
        sign_json({"aliyun", "--product-key", "a14Xib5kdYd", "--device-name", "light1983432",
                   "--device-secret", "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq", "--client-id",
                   "SN1928339", "--timestamp", "1539421321846", "--sign-method", "hmacsha1"});
    EXPECT_EQ(j.value("client_id", ""),
              "SN1928339|securemode=3,signmethod=hmacsha1,timestamp=1539421321846|");
    EXPECT_EQ(j.value("username", ""), "light1983432&a14Xib5kdYd");
    EXPECT_EQ(j.value("password", ""), "b2488041f64f425016b467ee1c94959ebd592ad1");
}

// No --timestamp: nothing signed or put in the clientId; no --client-id: "<pk>.<dn>" (Aliyun doc
// 73742; Link SDK dev_sign_mqtt.c DEVICEID_FMT "%s.%s"). Same inputs as
// tests/cloud CloudAliyun.NoTimestampDefaultClientIdSha256.
TEST(CliCloudSign, AliyunNoTimestampDefaultClientIdRegion) {
    const json j = sign_json({"aliyun", "--product-key", "a1pC3rpU4xF", "--device-name", "Lock_1",
                              "--device-secret", "cba236e94094a0399060a9fe355bef88", "--region",
                              "cn-beijing"});
    EXPECT_EQ(j.value("client_id", ""), "a1pC3rpU4xF.Lock_1|securemode=3,signmethod=hmacsha256|");
    EXPECT_EQ(j.value("host", ""), "a1pC3rpU4xF.iot-as-mqtt.cn-beijing.aliyuncs.com");
    EXPECT_EQ(j.value("password", ""),
              hmac_hex(SignMethod::hmacsha256, "cba236e94094a0399060a9fe355bef88",
                       "clientIda1pC3rpU4xF.Lock_1deviceNameLock_1productKeya1pC3rpU4xF"));
    AliyunParams p;
    p.product_key = "a1pC3rpU4xF";
    p.device_name = "Lock_1";
    p.device_secret = "cba236e94094a0399060a9fe355bef88";
    p.region = "cn-beijing";
    expect_same(j, ok(sign_aliyun(p)));
}

// hmacmd5, securemode 2, an instance endpoint and port (tests/cloud
// CloudAliyun.Md5EndpointSecureMode2).
TEST(CliCloudSign, AliyunMd5EndpointSecureMode2) {
    const json j = sign_json({"aliyun", "--product-key", "pk", "--device-name", "device",
                              "--device-secret", "secret", "--client-id", "12345", "--timestamp",
                              "789", "--sign-method", "hmacmd5", "--secure-mode", "2", "--endpoint",
                              "iot-06z00.mqtt.iothub.aliyuncs.com", "--port", "443"});
    EXPECT_EQ(j.value("client_id", ""), "12345|securemode=2,signmethod=hmacmd5,timestamp=789|");
    EXPECT_EQ(j.value("host", ""), "iot-06z00.mqtt.iothub.aliyuncs.com");
    EXPECT_EQ(j.value("port", 0), 443);
    EXPECT_EQ(j.value("password", ""),
              hmac_hex(SignMethod::hmacmd5, "secret",
                       "clientId12345deviceNamedeviceproductKeypktimestamp789"));
}

// docs/cloud-standin.md worked example (tests/cloud CloudDocsWorkedExample.Aliyun).
TEST(CliCloudSign, AliyunDocsWorkedExample) {
    const json j = sign_json({"aliyun", "--product-key", "a1demoPK001", "--device-name",
                              "meter-0001", "--device-secret", "0123456789abcdef0123456789abcdef",
                              "--timestamp", "1700000000000"});
    EXPECT_EQ(j.value("client_id", ""),
              "a1demoPK001.meter-0001|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|");
    EXPECT_EQ(j.value("password", ""),
              "fe8ac37db84a1c42200d2cc3ea416546b169a2a0b63cb73d4aabf57619bac9d1");
}

// The device of the Quectel MQTT application note's chapter 6 example (AT+QMTCFG="aliauth",0,
// "oyjtmPl5a5j","MQTT_TEST","wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"; tests/unit/test_chapter6.cpp)
// signed on the host; the MAC is the openssl CLI's:
//   printf '%s'
//   'clientIdoyjtmPl5a5j.MQTT_TESTdeviceNameMQTT_TESTproductKeyoyjtmPl5a5jtimestamp1577836800000' |
//     openssl dgst -sha256 -hmac wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ
// (docs/signing.md prints this output.)
TEST(CliCloudSign, AliyunChapter6Device) {
    const json j = sign_json({"aliyun", "--product-key", "oyjtmPl5a5j", "--device-name",
                              "MQTT_TEST", "--device-secret", "wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ",
                              "--timestamp", "1577836800000"});
    EXPECT_EQ(j, json::parse(R"({
      "host": "oyjtmPl5a5j.iot-as-mqtt.cn-shanghai.aliyuncs.com",
      "port": 1883,
      "client_id": "oyjtmPl5a5j.MQTT_TEST|securemode=3,signmethod=hmacsha256,timestamp=1577836800000|",
      "username": "MQTT_TEST&oyjtmPl5a5j",
      "password": "3554f1a8c7fa787e995d35aa7ba6f448df921413175711a70d0ff652c17da206"
    })"));
}

TEST(CliCloudSign, TableWithoutJson) {
    const CliRun r = run_qmtkit(
        {"sign", "aliyun", "--product-key", "a1demoPK001", "--device-name", "meter-0001",
         "--device-secret", "0123456789abcdef0123456789abcdef", "--timestamp", "1700000000000"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "host       a1demoPK001.iot-as-mqtt.cn-shanghai.aliyuncs.com\n"
              "port       1883\n"
              "client_id  "
              "a1demoPK001.meter-0001|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|\n"
              "username   meter-0001&a1demoPK001\n"
              "password   fe8ac37db84a1c42200d2cc3ea416546b169a2a0b63cb73d4aabf57619bac9d1\n");
}

// ------------------------------------------------------------------------------ Tencent

// Tencent Cloud IoT Hub "Device Connection Through MQTT over TCP"
// (https://www.tencentcloud.com/document/product/1105/41824): username
// ${productId}${deviceName};${sdkappid};${connid};${expiry}, password
// hex(HMAC(base64decode(psk), username));hmacsha256. Same inputs and openssl-computed MAC as
// tests/cloud CloudTencent.DocumentedFormat.
TEST(CliCloudSign, TencentDocumentedFormat) {
    const json j = sign_json({"tencent", "--product-id", "1A17RZR3XX", "--device-name",
                              "gate_dev01", "--device-psk", "Zm9vYmFyYmF6cXV4MTIzNA==", "--expiry",
                              "1700000000", "--conn-id", "ABCDE"});
    EXPECT_EQ(j.value("client_id", ""), "1A17RZR3XXgate_dev01");
    EXPECT_EQ(j.value("username", ""), "1A17RZR3XXgate_dev01;12010126;ABCDE;1700000000");
    EXPECT_EQ(j.value("host", ""), "1A17RZR3XX.iotcloud.tencentdevices.com");
    EXPECT_EQ(j.value("password", ""),
              "935daa84d621a26853e2d098ffd8e4b61b813387e3e189478bfcbbe535962aec;hmacsha256");
    TencentParams p;
    p.product_id = "1A17RZR3XX";
    p.device_name = "gate_dev01";
    p.device_psk_base64 = "Zm9vYmFyYmF6cXV4MTIzNA==";
    p.expiry_unix = 1700000000;
    p.conn_id = "ABCDE";
    expect_same(j, ok(sign_tencent(p)));
}

// docs/cloud-standin.md worked example (tests/cloud CloudDocsWorkedExample.Tencent).
TEST(CliCloudSign, TencentDocsWorkedExample) {
    const json j = sign_json({"tencent", "--product-id", "DEMOPID001", "--device-name",
                              "meter-0002", "--device-psk", "MDEyMzQ1Njc4OWFiY2RlZg==", "--conn-id",
                              "Ab3Xy", "--expiry", "1893456000"});
    EXPECT_EQ(j.value("username", ""), "DEMOPID001meter-0002;12010126;Ab3Xy;1893456000");
    EXPECT_EQ(j.value("password", ""),
              "c0a3ffe0bd41e64ab86e287ca6a703864a004e22db87749f6f7ea619b138695c;hmacsha256");
}

// hmacsha1, another sdkappid, random conn id and the default expiry (now + 1 hour); ids from the
// tencentyun/qcloud_iot_mqtt_sign readme (tests/cloud CloudTencent.Sha1RandomConnIdDefaultExpiry).
TEST(CliCloudSign, TencentSha1RandomConnIdDefaultExpiry) {
    const std::string psk = base64_encode("0123456789abcdef");
    const auto before = static_cast<std::uint64_t>(std::time(nullptr));
    const json j =
        sign_json({"tencent", "--product-id", "L4WG9V9M2M", "--device-name", "TEST2",
                   "--device-psk", psk, "--sign-method", "hmacsha1", "--sdkappid", "21010406"});
    const auto after = static_cast<std::uint64_t>(std::time(nullptr));
    auto u = parse_tencent_username(j.value("username", ""));
    ASSERT_TRUE(u);
    EXPECT_EQ(u->client_id, "L4WG9V9M2MTEST2");
    EXPECT_EQ(u->sdkappid, 21010406u);
    EXPECT_EQ(u->conn_id.size(), 5u);
    EXPECT_GE(u->expiry_unix, before + 3600);
    EXPECT_LE(u->expiry_unix, after + 3600);
    EXPECT_EQ(j.value("password", ""),
              *tencent_password(psk, j.value("username", ""), SignMethod::hmacsha1));
}

// ------------------------------------------------------------------ secrets: file and env

const std::vector<std::string> kAliyunDoc = {"sign",          "aliyun", "--product-key", "pk",
                                             "--device-name", "device", "--client-id",   "12345",
                                             "--timestamp",   "789",    "--sign-method", "hmacsha1",
                                             "--json"};
const std::string kAliyunDocPassword = "fafd82a3d602b37fb0fa8b7892f24a477f851a14";

std::vector<std::string> plus(std::vector<std::string> v, const std::vector<std::string>& more) {
    v.insert(v.end(), more.begin(), more.end());
    return v;
}

std::string password_of(const CliRun& r) {
    json j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("password", "") : "";
}

TEST(CliCloudSecrets, FromFileStripsOneTrailingNewline) {
    TempDir d;
    for (const std::string content : {"secret", "secret\n", "secret\r\n"}) {
        write_file(d.file("s"), content);
        const CliRun r = run_qmtkit(plus(kAliyunDoc, {"--device-secret-file", d.file("s")}));
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(password_of(r), kAliyunDocPassword);
    }
    // Only one newline goes: "secret\n\n" signs "secret\n".
    write_file(d.file("s"), "secret\n\n");
    const CliRun two = run_qmtkit(plus(kAliyunDoc, {"--device-secret-file", d.file("s")}));
    EXPECT_EQ(two.status, 0);
    EXPECT_EQ(password_of(two), hmac_hex(SignMethod::hmacsha1, "secret\n",
                                         "clientId12345deviceNamedeviceproductKeypktimestamp789"));
}

TEST(CliCloudSecrets, FromEnvironment) {
    const CliRun r = run_qmtkit(kAliyunDoc, {{"QMTKIT_DEVICE_SECRET", "secret"}});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(password_of(r), kAliyunDocPassword);

    TempDir d;
    write_file(d.file("psk"), "Zm9vYmFyYmF6cXV4MTIzNA==\n");
    const std::vector<std::string> tencent = {
        "sign",     "tencent",    "--product-id", "1A17RZR3XX", "--device-name", "gate_dev01",
        "--expiry", "1700000000", "--conn-id",    "ABCDE",      "--json"};
    const std::string expected =
        "935daa84d621a26853e2d098ffd8e4b61b813387e3e189478bfcbbe535962aec;hmacsha256";
    EXPECT_EQ(password_of(run_qmtkit(tencent, {{"QMTKIT_DEVICE_PSK", "Zm9vYmFyYmF6cXV4MTIzNA=="}})),
              expected);
    EXPECT_EQ(password_of(run_qmtkit(plus(tencent, {"--device-psk-file", d.file("psk")}))),
              expected);
    // The PSK variable is not the secret variable.
    const CliRun wrong_var =
        run_qmtkit(tencent, {{"QMTKIT_DEVICE_SECRET", "Zm9vYmFyYmF6cXV4MTIzNA=="}});
    EXPECT_NE(wrong_var.status, 0);
    EXPECT_NE(wrong_var.err.find("QMTKIT_DEVICE_PSK"), std::string::npos) << wrong_var.err;
}

TEST(CliCloudSecrets, ExactlyOneSource) {
    TempDir d;
    write_file(d.file("s"), "secret\n");
    struct Case {
        std::vector<std::string> extra;
        std::map<std::string, std::string> env;
        std::string expect;  // in stderr
    };
    const std::vector<Case> cases = {
        {{},
         {},
         "the device secret is required: give --device-secret, --device-secret-file FILE or set "
         "QMTKIT_DEVICE_SECRET"},
        {{"--device-secret", "secret"},
         {{"QMTKIT_DEVICE_SECRET", "secret"}},
         "give the device secret exactly one way, got --device-secret, $QMTKIT_DEVICE_SECRET"},
        {{"--device-secret", "secret", "--device-secret-file", d.file("s")},
         {},
         "give the device secret exactly one way, got --device-secret, --device-secret-file"},
        {{"--device-secret-file", d.file("s")},
         {{"QMTKIT_DEVICE_SECRET", "secret"}},
         "give the device secret exactly one way, got --device-secret-file, $QMTKIT_DEVICE_SECRET"},
        {{}, {{"QMTKIT_DEVICE_SECRET", ""}}, "$QMTKIT_DEVICE_SECRET is empty"},
    };
    for (const auto& c : cases) {
        const CliRun r = run_qmtkit(plus(kAliyunDoc, c.extra), c.env);
        EXPECT_EQ(r.status, 1);
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err, "qmtkit sign aliyun: " + c.expect + "\n");
    }
    // A secret file that cannot be read is no input (66), the others above failures (1).
    const CliRun missing =
        run_qmtkit(plus(kAliyunDoc, {"--device-secret-file", d.file("missing")}));
    EXPECT_EQ(missing.status, 66);
    EXPECT_EQ(missing.err, "qmtkit sign aliyun: cannot read --device-secret-file " +
                               d.file("missing") + ": No such file or directory\n");
    write_file(d.file("empty"), "\n");
    const CliRun empty = run_qmtkit(plus(kAliyunDoc, {"--device-secret-file", d.file("empty")}));
    EXPECT_EQ(empty.err,
              "qmtkit sign aliyun: --device-secret-file " + d.file("empty") + " is empty\n");
}

// Every failure path of `qmtkit sign`, run with a recognisable secret: it appears in no output
// and no error message. Success paths print only the password derived from it.
TEST(CliCloudSecrets, NeverInOutputOrErrors) {
    const std::string canary = "CANARYs3cr3tZZ9";
    const std::string psk_canary = base64_encode(canary);  // "Q0FOQVJZczNjcjN0Wlo5"
    TempDir d;
    write_file(d.file("secret"), canary + "\n");
    write_file(d.file("bad-psk"), canary + "!!\n");
    const std::vector<std::string> ali = {"sign", "aliyun",        "--product-key",
                                          "pk",   "--device-name", "dn"};
    const std::vector<std::string> ten = {"sign", "tencent",       "--product-id",
                                          "PID",  "--device-name", "dn"};
    const std::vector<std::string> tok = {"sign", "tencent-token", "--product-id",
                                          "PID",  "--device-name", "dn"};
    struct Case {
        std::vector<std::string> args;
        std::map<std::string, std::string> env;
    };
    const std::vector<Case> failing = {
        {plus(ali, {"--device-secret", canary, "--sign-method", "hmacsha512"}), {}},
        {plus(ali, {"--device-secret", canary, "--secure-mode", "1"}), {}},
        {plus(ali, {"--device-secret", canary, "--client-id", "a|b"}), {}},
        {plus(ali, {"--device-secret", canary, "--region", "cn-beijing", "--endpoint", "h"}), {}},
        {plus(ali, {"--device-secret", canary, "--no-such-option"}), {}},
        {plus(ali, {"--device-secret", canary, "--device-secret", canary}), {}},
        {plus(ali, {"--device-secret", canary, "extra-positional"}), {}},
        {plus(ali, {"--device-secret", canary, "--port", "70000"}), {}},
        {plus(ali, {"--device-secret", canary}), {{"QMTKIT_DEVICE_SECRET", canary}}},
        {plus(ali, {"--device-secret-file", d.file("secret")}), {{"QMTKIT_DEVICE_SECRET", canary}}},
        {{"sign", "aliyun", "--device-name", "dn", "--device-secret", canary}, {}},
        {{"sign", "aliyun", "--product-key", "", "--device-name", "dn", "--device-secret", canary},
         {}},
        {plus(ten, {"--device-psk", canary + "!!"}), {}},
        {plus(ten, {"--device-psk-file", d.file("bad-psk")}), {}},
        {plus(ten, {}), {{"QMTKIT_DEVICE_PSK", canary + "!!"}}},
        {plus(ten, {"--device-psk", psk_canary, "--sign-method", "hmacmd5"}), {}},
        {plus(ten, {"--device-psk", psk_canary, "--conn-id", "a;b"}), {}},
        {plus(ten, {"--device-psk", psk_canary}), {{"QMTKIT_DEVICE_PSK", psk_canary}}},
        {plus(tok, {"--device-secret", canary, "--url", "http://127.0.0.1:1/token"}), {}},
        {plus(tok, {"--device-secret", canary, "--url", "http://127.0.0.1:1/token", "--expire-days",
                    "61"}),
         {}},
        {plus(tok, {"--url", "http://no-such-host.invalid/token"}),
         {{"QMTKIT_DEVICE_SECRET", canary}}},
        {plus(tok, {"--device-secret", canary}), {}},  // --url missing
    };
    for (const auto& c : failing) {
        const CliRun r = run_qmtkit(c.args, c.env);
        std::string cmd;
        for (const auto& a : c.args) cmd += a + " ";
        EXPECT_NE(r.status, 0) << cmd;
        EXPECT_FALSE(r.err.empty()) << cmd;
        EXPECT_EQ(r.all().find(canary), std::string::npos) << cmd << "\n" << r.all();
        EXPECT_EQ(r.all().find(psk_canary), std::string::npos) << cmd << "\n" << r.all();
    }
    const std::vector<Case> succeeding = {
        {plus(ali, {"--device-secret", canary}), {}},
        {plus(ali, {"--device-secret-file", d.file("secret"), "--json"}), {}},
        {plus(ali, {}), {{"QMTKIT_DEVICE_SECRET", canary}}},
        {plus(ten, {"--device-psk", psk_canary, "--json"}), {}},
        {plus(ten, {}), {{"QMTKIT_DEVICE_PSK", psk_canary}}},
    };
    for (const auto& c : succeeding) {
        const CliRun r = run_qmtkit(c.args, c.env);
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.all().find(canary), std::string::npos) << r.all();
        EXPECT_EQ(r.all().find(psk_canary), std::string::npos) << r.all();
    }
}

TEST(CliCloudSign, TokenFailuresNameTheResultCode) {
    const std::vector<std::string> tok = {
        "sign", "tencent-token", "--product-id", "PID", "--device-name", "dn", "--device-secret",
        "s"};
    // Loopback port 1: nothing listens → connection refused → result 2 (docs/cloud-standin.md).
    const CliRun refused = run_qmtkit(plus(tok, {"--url", "http://127.0.0.1:1/token"}));
    EXPECT_EQ(refused.status, 1);
    EXPECT_NE(refused.err.find("+QMTTENAUTH result 2 (socket init failure)"), std::string::npos)
        << refused.err;
    // RFC 6761: ".invalid" never resolves → result 1.
    const CliRun dns = run_qmtkit(plus(tok, {"--url", "http://no-such-host.invalid/token"}));
    EXPECT_EQ(dns.status, 1);
    EXPECT_NE(dns.err.find("+QMTTENAUTH result 1 (DNS failure)"), std::string::npos) << dns.err;
    // expire outside 1..60 days: a usage error, refused before anything is sent (no result code:
    // there was no request).
    const CliRun days =
        run_qmtkit(plus(tok, {"--url", "http://127.0.0.1:1/token", "--expire-days", "61"}));
    EXPECT_EQ(days.status, 1);
    EXPECT_EQ(days.err, "Error: Invalid expire days given: 61 (--expire-days takes 1 to 60).\n");
}

}  // namespace
}  // namespace qmtkit::cli_test
