// Unit tests of the host signing library (qmtkit::cloud_host) with published vectors, and
// property tests against the `openssl` command line over random inputs.
#include "qmtkit/cloud/signing.hpp"
#include "openssl_cli.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

using namespace qmtkit::cloud;
using qmtkit::test::after_eq;
using qmtkit::test::hex;
using qmtkit::test::run;
using qmtkit::test::TempFile;

namespace {

template <class T>
T ok(const SignResult<T>& r) {
    if (const auto* e = std::get_if<SignError>(&r)) ADD_FAILURE() << e->message;
    return std::get<T>(r);
}

std::string unhex(std::string_view h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

}  // namespace

// ---------------------------------------------------------------------- raw primitives

// RFC 2202 "Test Cases for HMAC-MD5 and HMAC-SHA-1", test cases 1 and 2.
TEST(CloudHmac, Rfc2202Md5AndSha1) {
    const std::string key1(16, '\x0b');
    EXPECT_EQ(hmac_hex(SignMethod::hmacmd5, key1, "Hi There"), "9294727a3638bb1c13f48ef8158bfc9d");
    EXPECT_EQ(hmac_hex(SignMethod::hmacmd5, "Jefe", "what do ya want for nothing?"),
              "750c783e6ab0b503eaa86e310a5db738");
    const std::string key2(20, '\x0b');
    EXPECT_EQ(hmac_hex(SignMethod::hmacsha1, key2, "Hi There"),
              "b617318655057264e28bc0b6fb378c8ef146be00");
    EXPECT_EQ(hmac_hex(SignMethod::hmacsha1, "Jefe", "what do ya want for nothing?"),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

// RFC 4231 "Identifiers and Test Vectors for HMAC-SHA-224, -256, -384, -512", cases 1 and 2.
TEST(CloudHmac, Rfc4231Sha256) {
    EXPECT_EQ(hmac_hex(SignMethod::hmacsha256, std::string(20, '\x0b'), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hmac_hex(SignMethod::hmacsha256, "Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Base64 of the same MAC (RFC 4648 alphabet).
    EXPECT_EQ(
        hmac_base64(SignMethod::hmacsha256, "Jefe", "what do ya want for nothing?"),
        base64_encode(unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")));
}

// RFC 4648 section 10 test vectors.
TEST(CloudBase64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> v[] = {{"", ""},
                                                     {"f", "Zg=="},
                                                     {"fo", "Zm8="},
                                                     {"foo", "Zm9v"},
                                                     {"foob", "Zm9vYg=="},
                                                     {"fooba", "Zm9vYmE="},
                                                     {"foobar", "Zm9vYmFy"}};
    for (auto [plain, enc] : v) {
        EXPECT_EQ(base64_encode(plain), enc);
        auto d = base64_decode(enc);
        ASSERT_TRUE(d) << enc;
        EXPECT_EQ(*d, plain);
    }
}

TEST(CloudBase64, RejectsMalformed) {
    EXPECT_FALSE(base64_decode("Zm9"));       // not a multiple of 4
    EXPECT_FALSE(base64_decode("Zm=v"));      // padding in the middle
    EXPECT_FALSE(base64_decode("Zm9v!A=="));  // outside the alphabet
    EXPECT_FALSE(base64_decode("Z==="));      // three pad characters
    EXPECT_FALSE(base64_decode("Zm9v\n"));
}

TEST(CloudUrl, EncodeDecode) {
    EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(url_encode("a+b/c=d@e f"), "a%2Bb%2Fc%3Dd%40e%20f");
    EXPECT_EQ(*url_decode("a%2Bb%2fc%3Dd%40e+f"), "a+b/c=d@e f");
    EXPECT_FALSE(url_decode("%2"));
    EXPECT_FALSE(url_decode("%zz"));
}

TEST(CloudSignMethod, ParseCaseInsensitive) {
    EXPECT_EQ(parse_sign_method("HmacSHA256"), SignMethod::hmacsha256);
    EXPECT_EQ(parse_sign_method("hmacsha1"), SignMethod::hmacsha1);
    EXPECT_EQ(parse_sign_method("hmacmd5"), SignMethod::hmacmd5);
    EXPECT_FALSE(parse_sign_method("sha256"));
    EXPECT_EQ(to_string(SignMethod::hmacmd5), "hmacmd5");
}

TEST(CloudRandom, AlnumAndConstantTimeEqual) {
    auto a = random_alnum(5), b = random_alnum(64);
    EXPECT_EQ(a.size(), 5u);
    EXPECT_EQ(b.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
              std::string::npos);
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

// ---------------------------------------------------------------------------- Aliyun

// Aliyun IoT Platform documentation, "MQTT-TCP connection" / "Establish MQTT connections over
// TCP" (https://help.aliyun.com/document_detail/73742.html, English:
// https://www.alibabacloud.com/help/doc-detail/73742.htm), example: clientId=12345,
// deviceName=device, productKey=pk, timestamp=789, signmethod=hmacsha1, deviceSecret=secret,
// password = FAFD82A3D602B37FB0FA8B7892F24A477F851A14 (the doc prints it upper-case; the
// cloud compares case-insensitively, the SDKs emit lower-case).
TEST(CloudAliyun, DocumentationExampleHmacSha1) {
    AliyunParams p;
    p.product_key = "pk";
    p.device_name = "device";
    p.device_secret = "secret";
    p.client_id = "12345";
    p.timestamp_ms = 789;
    p.method = SignMethod::hmacsha1;
    p.secure_mode = 3;
    const auto c = ok(sign_aliyun(p));
    EXPECT_EQ(c.client_id, "12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
    EXPECT_EQ(c.username, "device&pk");
    EXPECT_EQ(c.password, "fafd82a3d602b37fb0fa8b7892f24a477f851a14");
    EXPECT_EQ(c.host, "pk.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_EQ(c.port, 1883);
}

// Aliyun IoT developer community article "基于开源MQTT自主接入阿里云IoT平台" (wongxmig, mirrored at
// https://553668.com/manong/261125.html), section "2. 三元组接入示例": productKey a14Xib5kdYd,
// deviceName light1983432, deviceSecret oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq, clientId SN1928339,
// timestamp 1539421321846, hmacsha1 → b2488041f64f425016b467ee1c94959ebd592ad1.
TEST(CloudAliyun, CommunityExampleHmacSha1) {
    AliyunParams p;
    p.product_key = "a14Xib5kdYd";
    p.device_name = "light1983432";
    p.device_secret = "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq";
    p.client_id = "SN1928339";
    p.timestamp_ms = 1539421321846ull;
    p.method = SignMethod::hmacsha1;
    const auto c = ok(sign_aliyun(p));
    EXPECT_EQ(c.client_id, "SN1928339|securemode=3,signmethod=hmacsha1,timestamp=1539421321846|");
    EXPECT_EQ(c.username, "light1983432&a14Xib5kdYd");
    EXPECT_EQ(c.password, "b2488041f64f425016b467ee1c94959ebd592ad1");
    EXPECT_EQ(aliyun_sign_content("SN1928339", "light1983432", "a14Xib5kdYd", 1539421321846ull),
              "clientIdSN1928339deviceNamelight1983432productKeya14Xib5kdYdtimestamp1539421321846");
}

// Without a timestamp the "timestamp" pair is neither in the clientId nor signed (Aliyun doc
// 73742: "timestamp ... optional"); default clientId is "<pk>.<dn>" as in the Link SDK
// (aiot_mqtt_sign / dev_sign_mqtt.c: DEVICEID_FMT "%s.%s").
TEST(CloudAliyun, NoTimestampDefaultClientIdSha256) {
    AliyunParams p;
    p.product_key = "a1pC3rpU4xF";
    p.device_name = "Lock_1";
    p.device_secret = "cba236e94094a0399060a9fe355bef88";
    p.region = "cn-beijing";
    const auto c = ok(sign_aliyun(p));
    EXPECT_EQ(c.client_id, "a1pC3rpU4xF.Lock_1|securemode=3,signmethod=hmacsha256|");
    EXPECT_EQ(c.host, "a1pC3rpU4xF.iot-as-mqtt.cn-beijing.aliyuncs.com");
    EXPECT_EQ(c.password,
              hmac_hex(SignMethod::hmacsha256, p.device_secret,
                       "clientIda1pC3rpU4xF.Lock_1deviceNameLock_1productKeya1pC3rpU4xF"));
    EXPECT_EQ(c.password.size(), 64u);
}

TEST(CloudAliyun, Md5EndpointSecureMode2) {
    AliyunParams p;
    p.product_key = "pk";
    p.device_name = "device";
    p.device_secret = "secret";
    p.client_id = "12345";
    p.timestamp_ms = 789;
    p.method = SignMethod::hmacmd5;
    p.secure_mode = 2;
    p.endpoint = "iot-06z00.mqtt.iothub.aliyuncs.com";
    p.port = 443;
    const auto c = ok(sign_aliyun(p));
    EXPECT_EQ(c.client_id, "12345|securemode=2,signmethod=hmacmd5,timestamp=789|");
    EXPECT_EQ(c.host, "iot-06z00.mqtt.iothub.aliyuncs.com");
    EXPECT_EQ(c.port, 443);
    EXPECT_EQ(c.password.size(), 32u);
}

TEST(CloudAliyun, RejectsBadInput) {
    AliyunParams p;
    p.product_key = "pk";
    p.device_name = "dn";
    p.device_secret = "s";
    p.secure_mode = 1;
    EXPECT_TRUE(std::holds_alternative<SignError>(sign_aliyun(p)));
    p.secure_mode = 3;
    p.client_id = "a|b";
    EXPECT_TRUE(std::holds_alternative<SignError>(sign_aliyun(p)));
    p.client_id.clear();
    p.device_secret = "TopSecretValue";
    p.device_name.clear();
    auto r = sign_aliyun(p);
    ASSERT_TRUE(std::holds_alternative<SignError>(r));
    EXPECT_EQ(std::get<SignError>(r).message.find("TopSecretValue"), std::string::npos);
}

TEST(CloudAliyun, ParseClientId) {
    auto a = parse_aliyun_client_id("12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->id, "12345");
    EXPECT_EQ(a->secure_mode, 3);
    EXPECT_EQ(a->method, SignMethod::hmacsha1);
    EXPECT_EQ(a->timestamp_ms, 789u);
    // Link SDK order with extra unsigned keys (dev_sign_mqtt.c MQTT_CLINETID_KV).
    auto b = parse_aliyun_client_id(
        "pk.dn|timestamp=2524608000000,_v=paho-c-1.0.0,securemode=3,signmethod=hmacsha256,lan=C|");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->id, "pk.dn");
    EXPECT_EQ(b->timestamp_ms, 2524608000000ull);
    EXPECT_EQ(b->method, SignMethod::hmacsha256);
    auto c = parse_aliyun_client_id("x|securemode=3,signmethod=hmacsha256|");
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->timestamp_ms);
    EXPECT_FALSE(parse_aliyun_client_id("plain-client"));
    EXPECT_FALSE(parse_aliyun_client_id("x|securemode=3"));
    EXPECT_FALSE(parse_aliyun_client_id("x|signmethod=sha999|"));
    EXPECT_FALSE(parse_aliyun_client_id("|securemode=3|"));
}

// --------------------------------------------------------------------------- Tencent

// Tencent Cloud IoT Hub documentation "设备基于 TCP 的 MQTT 接入" / "Device Connection Through MQTT
// over TCP" (https://www.tencentcloud.com/document/product/1105/41824): clientId
// ${productId}${deviceName}; username ${productId}${deviceName};${sdkappid};${connid};${expiry}
// with sdkappid fixed to 12010126; raw_key = base64decode(psk); token = HMAC-SHA1|SHA256(raw_key,
// username); password "${token};hmacsha1|hmacsha256". The doc prints no full vector, so the
// expected MAC here is the `openssl` CLI's:
//   printf '%s' '1A17RZR3XXgate_dev01;12010126;ABCDE;1700000000' |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf '%s' 'Zm9vYmFyYmF6cXV4MTIzNA==' |
//     openssl base64 -d -A | xxd -p)
TEST(CloudTencent, DocumentedFormat) {
    TencentParams p;
    p.product_id = "1A17RZR3XX";   // product id used as example in the Tencent doc above
    p.device_name = "gate_dev01";  // device name used as example in the doc's English version
    p.device_psk_base64 = "Zm9vYmFyYmF6cXV4MTIzNA==";  // base64("foobarbazqux1234")
    p.expiry_unix = 1700000000;
    p.conn_id = "ABCDE";
    const auto c = ok(sign_tencent(p));
    EXPECT_EQ(c.client_id, "1A17RZR3XXgate_dev01");
    EXPECT_EQ(c.username, "1A17RZR3XXgate_dev01;12010126;ABCDE;1700000000");
    EXPECT_EQ(c.host, "1A17RZR3XX.iotcloud.tencentdevices.com");
    EXPECT_EQ(c.password,
              hmac_hex(SignMethod::hmacsha256, "foobarbazqux1234", c.username) + ";hmacsha256");
    EXPECT_EQ(c.password,
              "935daa84d621a26853e2d098ffd8e4b61b813387e3e189478bfcbbe535962aec;hmacsha256");
}

TEST(CloudTencent, Sha1RandomConnIdDefaultExpiry) {
    TencentParams p;
    p.product_id = "L4WG9V9M2M";  // qcloud_iot_mqtt_sign readme example ids
    p.device_name = "TEST2";
    p.device_psk_base64 = base64_encode("0123456789abcdef");
    p.method = SignMethod::hmacsha1;
    p.sdkappid = 21010406;
    const auto c = ok(sign_tencent(p));
    auto u = parse_tencent_username(c.username);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->client_id, "L4WG9V9M2MTEST2");
    EXPECT_EQ(u->sdkappid, 21010406u);
    EXPECT_EQ(u->conn_id.size(), 5u);
    const auto now = static_cast<std::uint64_t>(::time(nullptr));
    EXPECT_GE(u->expiry_unix, now + 3500);
    EXPECT_LE(u->expiry_unix, now + 3700);
    EXPECT_EQ(c.password.substr(40), ";hmacsha1");
    EXPECT_EQ(c.password, *tencent_password(p.device_psk_base64, c.username, SignMethod::hmacsha1));
}

TEST(CloudTencent, RejectsBadInput) {
    TencentParams p;
    p.product_id = "P";
    p.device_name = "D";
    p.device_psk_base64 = "not base64!";
    auto r = sign_tencent(p);
    ASSERT_TRUE(std::holds_alternative<SignError>(r));
    EXPECT_EQ(std::get<SignError>(r).message.find("not base64!"), std::string::npos);
    p.device_psk_base64 = "Zm9v";
    p.method = SignMethod::hmacmd5;
    EXPECT_TRUE(std::holds_alternative<SignError>(sign_tencent(p)));
    EXPECT_FALSE(parse_tencent_username("a;b;c"));
    EXPECT_FALSE(parse_tencent_username("a;12;c;x"));
    EXPECT_TRUE(parse_tencent_username("a;12;;5"));
}

// ---------------------------------------------------------------------- token request

// Wire format of the IoT Suite token request (issue 3 / 5; Tencent IoT Suite "设备获取 token"):
// fields in alphabetical order, signature = base64(HMAC-SHA256(secret, the same string without
// the signature)), url-encoded.
TEST(CloudToken, RequestBody) {
    TokenRequest r;
    r.product_id = "iot-6xzr8ap8";
    r.device_name = "dev001";
    r.client_id = "iot-6xzr8ap8@dev001";
    r.device_secret = "s3cr3t";
    r.expire_days = 1;
    r.nonce = 12345;
    r.timestamp = 1700000000;
    const std::string content =
        "clientId=iot-6xzr8ap8@dev001&deviceName=dev001&expire=86400&nonce=12345"
        "&productId=iot-6xzr8ap8&timestamp=1700000000";
    EXPECT_EQ(
        token_sign_content(r.client_id, r.device_name, 86400, 12345, r.product_id, 1700000000),
        content);
    const std::string sig = hmac_base64(SignMethod::hmacsha256, "s3cr3t", content);
    EXPECT_EQ(token_request_body(r),
              "clientId=iot-6xzr8ap8%40dev001&deviceName=dev001&expire=86400&nonce=12345"
              "&productId=iot-6xzr8ap8&timestamp=1700000000&signature=" +
                  url_encode(sig));
    // Random nonce and current timestamp when left 0; client id defaults to pid@dn.
    r.nonce = 0;
    r.timestamp = 0;
    r.client_id.clear();
    const auto body = token_request_body(r);
    EXPECT_NE(body.find("clientId=iot-6xzr8ap8%40dev001&"), std::string::npos);
    EXPECT_EQ(body.find("nonce=0&"), std::string::npos);
    EXPECT_EQ(body.find("s3cr3t"), std::string::npos);
}

TEST(CloudToken, DnsFailureAndRefusedAreMapped) {
    TokenRequest r;
    r.product_id = "p";
    r.device_name = "d";
    r.device_secret = "s";
    // RFC 6761: ".invalid" never resolves.
    auto dns = fetch_token("http://no-such-host.invalid/token", r, 5000);
    EXPECT_EQ(dns.result_code, 1) << dns.message;
    // Port 1 on loopback: nothing listens → connection refused → socket init failure.
    auto refused = fetch_token("http://127.0.0.1:1/token", r, 5000);
    EXPECT_EQ(refused.result_code, 2) << refused.message;
    EXPECT_FALSE(refused.token);
    r.expire_days = 61;
    EXPECT_NE(fetch_token("http://127.0.0.1:1/token", r, 5000).result_code, 0);
}

// A cancelled request ends at libcurl's progress check, not at its timeout: bc28-sim cancels its
// helpers so it can join them. The server accepts the connection (the kernel does, from its
// backlog) and never answers: uncancelled, this would be the timeout (result 6).
TEST(CloudToken, CancelledRequestIsAbortedNotTimedOut) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    TokenRequest r;
    r.product_id = "p";
    r.device_name = "d";
    r.device_secret = "s3cr3t";
    const std::atomic<bool> cancel{true};
    const auto out = fetch_token("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/token",
                                 r, 3000, &cancel);
    ::close(fd);
    EXPECT_NE(out.result_code, 0);
    EXPECT_NE(out.result_code, 6) << out.message;
    EXPECT_NE(out.message.find("aborted"), std::string::npos) << out.message;
    EXPECT_EQ(out.message.find("s3cr3t"), std::string::npos);
}

// ------------------------------------------------------------ properties vs openssl CLI

namespace {

std::string random_bytes(std::mt19937& g, std::size_t lo, std::size_t hi) {
    std::uniform_int_distribution<std::size_t> len(lo, hi);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(len(g), '\0');
    for (auto& c : s) c = static_cast<char>(byte(g));
    return s;
}

}  // namespace

TEST(CloudProperty, HmacMatchesOpensslCli) {
    std::mt19937 g(20240601u);
    const std::pair<SignMethod, const char*> algos[] = {{SignMethod::hmacmd5, "md5"},
                                                        {SignMethod::hmacsha1, "sha1"},
                                                        {SignMethod::hmacsha256, "sha256"}};
    for (int i = 0; i < 12; ++i) {
        const std::string key = random_bytes(g, 1, 100);  // past the 64-byte block size too
        const std::string data = random_bytes(g, 0, 300);
        TempFile in(data);
        for (auto [m, name] : algos) {
            const auto cli =
                after_eq(run(std::string("openssl dgst -") + name +
                             " -mac HMAC -macopt hexkey:" + hex(key) + " < " + in.path));
            EXPECT_EQ(hmac_hex(m, key, data), cli) << name << " iteration " << i;
        }
    }
}

TEST(CloudProperty, HmacWithTextKeyMatchesOpensslHmacOption) {
    // The form the task names: `openssl dgst -sha256 -hmac KEY`.
    std::mt19937 g(7u);
    std::uniform_int_distribution<int> alnum(0, 61);
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 8; ++i) {
        std::string key(static_cast<std::size_t>(8 + i * 5), 'x');
        for (auto& c : key) c = a[alnum(g)];
        const std::string data = random_bytes(g, 1, 200);
        TempFile in(data);
        EXPECT_EQ(hmac_hex(SignMethod::hmacsha256, key, data),
                  after_eq(run("openssl dgst -sha256 -hmac " + key + " < " + in.path)));
    }
}

TEST(CloudProperty, Base64MatchesOpensslCli) {
    std::mt19937 g(99u);
    for (int i = 0; i < 12; ++i) {
        const std::string data = random_bytes(g, 0, 40);  // openssl base64 wraps at 64 columns
        TempFile in(data);
        const std::string cli = run("openssl base64 -A < " + in.path);
        EXPECT_EQ(base64_encode(data), cli);
        TempFile enc(cli);
        const std::string back = run("openssl base64 -d -A < " + enc.path);
        auto ours = base64_decode(cli);
        ASSERT_TRUE(ours);
        EXPECT_EQ(*ours, data);
        EXPECT_EQ(back, data.substr(0, back.size()));  // run() trims trailing CR/LF bytes
    }
}

TEST(CloudProperty, TencentPasswordMatchesOpensslCli) {
    std::mt19937 g(31337u);
    for (int i = 0; i < 6; ++i) {
        const std::string psk = random_bytes(g, 16, 32);
        TencentParams p;
        p.product_id = "PID" + std::to_string(i);
        p.device_name = "dev" + std::to_string(i);
        p.device_psk_base64 = base64_encode(psk);
        p.expiry_unix = 1700000000u + static_cast<unsigned>(i);
        const auto c = ok(sign_tencent(p));
        TempFile in(c.username);
        const auto cli = after_eq(
            run("openssl dgst -sha256 -mac HMAC -macopt hexkey:" + hex(psk) + " < " + in.path));
        EXPECT_EQ(c.password, cli + ";hmacsha256");
    }
}

TEST(CloudProperty, TokenSignatureMatchesOpensslCli) {
    TokenRequest r;
    r.product_id = "prod";
    r.device_name = "dev";
    r.client_id = "prod@dev";
    r.device_secret = "abcdEFGH1234";
    r.expire_days = 60;
    r.nonce = 42;
    r.timestamp = 1712345678;
    const std::string content =
        token_sign_content("prod@dev", "dev", 60u * 86400u, 42, "prod", 1712345678);
    TempFile in(content);
    const auto cli = run("openssl dgst -sha256 -hmac abcdEFGH1234 -binary < " + in.path +
                         " | openssl base64 -A");
    EXPECT_EQ(token_signature(r.device_secret, content), cli);
    EXPECT_NE(token_request_body(r).find("&signature=" + url_encode(cli)), std::string::npos);
}

// ------------------------------------------------ docs/cloud-standin.md worked examples
// The values printed in the docs are the library's output for the example registry's devices
// (tools/cloud-standin/example-registry.json); they were cross-checked with the openssl CLI.
TEST(CloudDocsWorkedExample, Aliyun) {
    AliyunParams p;
    p.product_key = "a1demoPK001";
    p.device_name = "meter-0001";
    p.device_secret = "0123456789abcdef0123456789abcdef";
    p.timestamp_ms = 1700000000000ull;
    const auto c = ok(sign_aliyun(p));
    EXPECT_EQ(c.host, "a1demoPK001.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_EQ(c.client_id,
              "a1demoPK001.meter-0001|securemode=3,signmethod=hmacsha256,timestamp=1700000000000|");
    EXPECT_EQ(c.username, "meter-0001&a1demoPK001");
    EXPECT_EQ(c.password, "fe8ac37db84a1c42200d2cc3ea416546b169a2a0b63cb73d4aabf57619bac9d1");
}

TEST(CloudDocsWorkedExample, Tencent) {
    TencentParams p;
    p.product_id = "DEMOPID001";
    p.device_name = "meter-0002";
    p.device_psk_base64 = "MDEyMzQ1Njc4OWFiY2RlZg==";
    p.conn_id = "Ab3Xy";
    p.expiry_unix = 1893456000;
    const auto c = ok(sign_tencent(p));
    EXPECT_EQ(c.host, "DEMOPID001.iotcloud.tencentdevices.com");
    EXPECT_EQ(c.client_id, "DEMOPID001meter-0002");
    EXPECT_EQ(c.username, "DEMOPID001meter-0002;12010126;Ab3Xy;1893456000");
    EXPECT_EQ(c.password,
              "c0a3ffe0bd41e64ab86e287ca6a703864a004e22db87749f6f7ea619b138695c;hmacsha256");
}

TEST(CloudDocsWorkedExample, TokenRequest) {
    TokenRequest r;
    r.product_id = "iot-demo001";
    r.device_name = "meter-0003";
    r.client_id = "iot-demo001@meter-0003";
    r.device_secret = "suite-secret-0003";
    r.expire_days = 1;
    r.nonce = 12345;
    r.timestamp = 1700000000;
    EXPECT_EQ(token_request_body(r),
              "clientId=iot-demo001%40meter-0003&deviceName=meter-0003&expire=86400&nonce=12345"
              "&productId=iot-demo001&timestamp=1700000000"
              "&signature=uxmH5hYzGnrryhRjan6ewPH81CVZBCU84A5RlgA1V90%3D");
    EXPECT_EQ(hmac_hex(SignMethod::hmacsha256, "change-me-token-server-key",
                       "iot-demo001@meter-0003;1700086400;K7pQ2mZx"),
              "f5a10d36f1e872ba9c33ff653e98e93ae151b89e3d0ba4f82a6112e0e2e3fcd1");
}
