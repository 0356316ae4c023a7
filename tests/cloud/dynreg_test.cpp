// Dynamic registration, host side (cloud/host/include/qmtkit/cloud/dynreg.hpp): the signed
// strings as the sources define them, the signatures and the payload cipher against the openssl
// command line (an independent implementation), and failures that never name a secret.
// Sources: docs/dynamic-registration.md.
#include "qmtkit/cloud/dynreg.hpp"
#include "openssl_cli.hpp"
#include "qmtkit/cloud/signing.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

using namespace qmtkit::cloud;

using qmtkit::test::after_eq;
using qmtkit::test::hex;
using qmtkit::test::run;
using Temp = qmtkit::test::TempFile;

// ------------------------------------------------------------------------------ Aliyun

TEST(CloudDynregAliyun, SignContentIsSortedNamesAndValuesWithoutSeparators) {
    // Link SDK dynreg.c: "deviceName%sproductKey%srandom%s".
    EXPECT_EQ(aliyun_dynreg_sign_content("a1PK", "dev-1", "8Ygb7ULYh53B6OA"),
              "deviceNamedev-1productKeya1PKrandom8Ygb7ULYh53B6OA");
}

TEST(CloudDynregAliyun, SignIsLowerHexHmacSha256OfTheProductSecretAsTheOpensslCli) {
    const std::string content = aliyun_dynreg_sign_content("a1PK", "dev-1", "8Ygb7ULYh53B6OA");
    Temp in(content);
    EXPECT_EQ(aliyun_dynreg_sign("ProductSecret0123", content),
              after_eq(run("openssl dgst -sha256 -hmac ProductSecret0123 < " + in.path)));
    EXPECT_EQ(aliyun_dynreg_sign("ProductSecret0123", content).size(), 64u);
}

TEST(CloudDynregAliyun, BodyIsTheSdkFormWithHmacSha256) {
    EXPECT_EQ(aliyun_dynreg_body("a1PK", "dev 1", "r", "abc"),
              "productKey=a1PK&deviceName=dev%201&random=r&sign=abc&signMethod=hmacsha256");
    EXPECT_EQ(aliyun_dynreg_default_url("cn-shanghai"),
              "https://iot-auth.cn-shanghai.aliyuncs.com");
}

TEST(CloudDynregAliyun, BadInputIsRefusedBeforeSending) {
    AliyunDynregRequest r;
    r.product_key = "a1PK";
    r.device_name = "dev";
    auto res = register_aliyun_device(r);
    ASSERT_TRUE(std::holds_alternative<DynregError>(res));
    EXPECT_EQ(std::get<DynregError>(res).kind, DynregError::Kind::bad_input);
    EXPECT_NE(std::get<DynregError>(res).message.find("product secret is empty"),
              std::string::npos);
}

TEST(CloudDynregAliyun, TransportFailureNamesNoSecret) {
    AliyunDynregRequest r;
    r.product_key = "a1PK";
    r.device_name = "dev";
    r.product_secret = "SecretThatMustNotLeak42";
    r.base_url = "http://127.0.0.1:1";  // nothing listens on port 1
    r.timeout_ms = 3000;
    auto res = register_aliyun_device(r);
    ASSERT_TRUE(std::holds_alternative<DynregError>(res));
    const auto& e = std::get<DynregError>(res);
    EXPECT_EQ(e.kind, DynregError::Kind::transport);
    EXPECT_NE(e.curl_code, 0);
    EXPECT_EQ(e.message.find("SecretThatMustNotLeak42"), std::string::npos) << e.message;
}

// ----------------------------------------------------------------------------- Tencent

TEST(CloudDynregTencent, BodyIsJsonWithProductIdAndDeviceName) {
    EXPECT_EQ(tencent_dynreg_body("ASJGX", "xyz"), R"({"DeviceName":"xyz","ProductId":"ASJGX"})");
}

TEST(CloudDynregTencent, StringToSignHasTheDocumentedEightLines) {
    // Signature Algorithm (tencentcloud.com/document/product/1105/41501): method, host, URI,
    // empty query string, algorithm, timestamp, nonce, lower-case hex SHA-256 of the body.
    const std::string body = R"({"DeviceName":"xyz","ProductId":"ASJGX"})";
    Temp in(body);
    const std::string body_hash = after_eq(run("openssl dgst -sha256 < " + in.path));
    EXPECT_EQ(sha256_hex(body), body_hash);
    EXPECT_EQ(tencent_dynreg_string_to_sign("ap-guangzhou.gateway.tencentdevices.com",
                                            "/device/register", 1551178065, 5456, body),
              "POST\nap-guangzhou.gateway.tencentdevices.com\n/device/register\n\nhmacsha256\n"
              "1551178065\n5456\n" +
                  body_hash);
}

TEST(CloudDynregTencent, SignatureIsBase64HmacSha256AsTheOpensslCli) {
    const std::string sts = tencent_dynreg_string_to_sign("h", "/device/register", 1, 2, "{}");
    Temp in(sts);
    EXPECT_EQ(tencent_dynreg_signature("ProductSecret-16+", sts),
              run("openssl dgst -sha256 -hmac ProductSecret-16+ -binary < " + in.path +
                  " | openssl base64 -A"));
}

TEST(CloudDynregTencent, PayloadCipherIsAes128CbcWithZeroCharIvAsTheOpensslCli) {
    // Key: the first 16 bytes of the product secret; IV: sixteen '0' characters (0x30).
    const std::string secret = "abcdefghijklmnopEXTRA";
    const std::string plain = R"({"encryptionType":2,"psk":"MDEyMzQ1Njc4OWFiY2RlZg=="})";
    const auto payload = tencent_dynreg_encrypt(secret, plain);
    ASSERT_TRUE(payload);
    Temp enc(*payload);
    const std::string cli =
        run("openssl base64 -d -A < " + enc.path + " | openssl enc -d -aes-128-cbc -nopad -K " +
            hex("abcdefghijklmnop") + " -iv " + hex("0000000000000000") +
            " | od -An -v -tx1 | tr -d ' \\n'");
    std::string padded = plain;
    padded.append((16 - padded.size() % 16) % 16, '\0');
    EXPECT_EQ(cli, hex(padded));
    EXPECT_EQ(tencent_dynreg_decrypt(secret, *payload, plain.size()), plain);
    EXPECT_EQ(tencent_dynreg_decrypt(secret, *payload), plain);  // zero padding stripped
}

TEST(CloudDynregTencent, DecryptsPkcs7PaddedPayloadsOfTheOpensslCli) {
    const std::string plain = R"({"encryptionType":2,"psk":"abc="})";
    Temp in(plain);
    const std::string b64 = run("openssl enc -aes-128-cbc -K " + hex("0123456789abcdef") + " -iv " +
                                hex("0000000000000000") + " < " + in.path + " | openssl base64 -A");
    EXPECT_EQ(tencent_dynreg_decrypt("0123456789abcdef", b64), plain);
}

TEST(CloudDynregTencent, RoundTripsRandomPlaintexts) {
    std::mt19937 g(7);
    for (int i = 0; i < 50; ++i) {
        std::string p(static_cast<std::size_t>(g() % 90 + 1), 'x');
        for (auto& c : p) c = static_cast<char>('!' + g() % 90);
        const auto e = tencent_dynreg_encrypt("K-0123456789abcdef", p);
        ASSERT_TRUE(e);
        EXPECT_EQ(tencent_dynreg_decrypt("K-0123456789abcdef", *e, p.size()), p);
    }
}

TEST(CloudDynregTencent, MalformedPayloadsAndShortSecretsAreRefused) {
    EXPECT_FALSE(tencent_dynreg_encrypt("short", "x"));
    EXPECT_FALSE(tencent_dynreg_decrypt("0123456789abcdef", "not base64!"));
    EXPECT_FALSE(
        tencent_dynreg_decrypt("0123456789abcdef", base64_encode("12345")));  // not a block
    TencentDynregRequest r;
    r.product_id = "PID";
    r.device_name = "dev";
    r.product_secret = "fifteen-chars!!";
    auto res = register_tencent_device(r);
    ASSERT_TRUE(std::holds_alternative<DynregError>(res));
    EXPECT_EQ(std::get<DynregError>(res).kind, DynregError::Kind::bad_input);
    EXPECT_EQ(std::get<DynregError>(res).message.find("fifteen-chars!!"), std::string::npos);
}
