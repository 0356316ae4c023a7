// The manifest validator (qmtkit_manifest): a catalogue of bad manifests, each with the exact
// LINE:COL of its diagnostic; the examples in docs/ validate (library, `qmtkit verify
// --check-only`, and docs/manifest.schema.json via python3-jsonschema when installed); secret
// references; IMEI check digits; no secret in any diagnostic.
#include <gtest/gtest.h>

#include <cstdlib>

#include "qmtkit/manifest/manifest.hpp"
#include "support.hpp"

namespace qmtkit::cli_test {
namespace {

using namespace qmtkit::manifest;

std::string positions(const LoadResult& r) {
    std::string s;
    for (const auto& d : r.errors) s += d.to_string() + "\n";
    return s;
}

struct Bad {
    const char* name;
    std::string text;
    std::string where;    // "LINE:COL" of the first diagnostic
    std::string message;  // substring of its message
    bool schema_rejects;  // docs/manifest.schema.json rejects it too (false: syntax, or a rule
                          // a schema cannot state: Luhn, uniqueness, base64 decoding)
};

const std::vector<Bad>& catalogue() {  // positions cross-checked with Python str.index()+1
    static const std::vector<Bad> cases = {
        // ---- JSON syntax
        {"trailing comma", R"({
  "cloud": "aliyun",
})",
         "3:1", "trailing comma before '}'", false},
        {"missing comma", R"({
  "cloud": "aliyun"
  "devices": []
})",
         "3:3", "expected ',' or '}' after an object member", false},
        {"unterminated string", R"({"cloud": "aliyun)", "1:11", "unterminated string", false},
        {"single quotes", R"({'cloud': 'aliyun'})", "1:2", "expected a key in double quotes",
         false},
        {"bad escape", R"({"cloud": "a\qb"})", "1:13", "invalid escape sequence", false},
        {"leading zero", R"({"port": 01})", "1:10", "leading zeros", false},
        {"content after the value", R"({"cloud": "aliyun"} x)", "1:21",
         "unexpected content after the JSON value", false},
        {"unterminated object", "{\n  \"cloud\": \"aliyun\",\n  \"devices\": [\n", "3:14",
         "unterminated array (no closing ']')", false},
        {"line break in string", "{\n  \"cloud\": \"ali\nyun\"}", "2:16",
         "line break inside a string", false},
        {"comment", "{\n  // no comments in JSON\n  \"cloud\": \"aliyun\"}", "2:3",
         "expected a key in double quotes", false},
        // ---- top level
        {"not an object", R"([1, 2])", "1:1", "the manifest must be a JSON object, not an array",
         true},
        {"missing cloud", R"({
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "1:1", "missing required key \"cloud\"", true},
        {"unknown cloud", R"({
  "cloud": "azure",
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:12", "\"cloud\" must be aliyun, tencent or tencent-token", true},
        {"unknown top-level key", R"({
  "cloud": "aliyun",
  "brokr": "x",
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "3:3", "unknown key \"brokr\"", true},
        {"key of another cloud", R"({
  "cloud": "tencent",
  "region": "cn-shanghai",
  "devices": [{"product_id": "P", "device_name": "dn", "device_psk": "Zm9v"}]
})",
         "3:3", "\"region\" applies to cloud aliyun only, not tencent", true},
        {"duplicate top-level key", R"({
  "cloud": "aliyun",
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}],
  "cloud": "aliyun"
})",
         "4:3", "duplicate key \"cloud\" (first at line 2)", false},
        {"port out of range", R"({
  "cloud": "aliyun", "port": 70000,
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:30", "\"port\" must be between 1 and 65535", true},
        {"port not an integer", R"({
  "cloud": "aliyun", "port": 1883.5,
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:30", "\"port\" must be an integer", true},
        {"port as a string", R"({
  "cloud": "aliyun", "port": "1883",
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:30", "\"port\" must be a number, not a string", true},
        {"endpoint with a port", R"({
  "cloud": "aliyun", "endpoint": "iot-06z00.mqtt.iothub.aliyuncs.com:1883",
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:34", "\"endpoint\" must be a host name only", true},
        {"secure mode", R"({
  "cloud": "aliyun", "secure_mode": 1,
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:37", "\"secure_mode\" must be between 2 and 3", true},
        {"tencent sign method", R"({
  "cloud": "tencent", "sign_method": "hmacmd5",
  "devices": [{"product_id": "P", "device_name": "dn", "device_psk": "Zm9v"}]
})",
         "2:38", "\"sign_method\" must be hmacsha256 or hmacsha1", true},
        {"token url missing", R"({
  "cloud": "tencent-token",
  "devices": [{"product_id": "P", "device_name": "dn", "device_secret": "s"}]
})",
         "1:1", "missing required key \"token_url\"", true},
        {"token url scheme", R"({
  "cloud": "tencent-token", "token_url": "ftp://example.com/token",
  "devices": [{"product_id": "P", "device_name": "dn", "device_secret": "s"}]
})",
         "2:42", "\"token_url\" must be an http:// or https:// URL", true},
        {"expire days", R"({
  "cloud": "tencent-token", "token_url": "http://127.0.0.1:8080/token", "expire_days": 61,
  "devices": [{"product_id": "P", "device_name": "dn", "device_secret": "s"}]
})",
         "2:88", "\"expire_days\" must be between 1 and 60", true},
        {"no devices key", R"({"cloud": "aliyun"})", "1:1", "missing required key \"devices\"",
         true},
        {"devices empty", R"({
  "cloud": "aliyun",
  "devices": [ ]
})",
         "3:14", "\"devices\" must list at least one device", true},
        {"devices not an array", R"({
  "cloud": "aliyun",
  "devices": {"product_key": "pk"}
})",
         "3:14", "\"devices\" must be an array, not an object", true},
        // ---- devices
        {"device not an object", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s"},
    "pk/dn2"
  ]
})",
         "5:5", "devices[1] must be an object, not a string", true},
        {"device without a name", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s"},
    {"product_key": "pk", "device_secret": "s"}
  ]
})",
         "5:5", "devices[1]: missing required key \"device_name\"", true},
        {"device without a secret", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn"}
  ]
})",
         "4:5",
         "devices[0]: missing the device secret: give \"device_secret\", \"device_secret_file\" or "
         "\"device_secret_env\"",
         true},
        {"two secret sources", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s",
     "device_secret_env": "DN_SECRET"}
  ]
})",
         "5:6", "\"device_secret_env\" conflicts with \"device_secret\" (line 4)", true},
        {"tencent key on an aliyun device", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_id": "pk", "device_name": "dn", "device_secret": "s"}
  ]
})",
         "4:6", "unknown key \"product_id\" in devices[0] (cloud aliyun uses \"product_key\")",
         true},
        {"secret key of another cloud", R"({
  "cloud": "tencent",
  "devices": [
    {"product_id": "P", "device_name": "dn", "device_secret": "Zm9v"}
  ]
})",
         "4:5", "missing the device PSK", true},
        {"psk not base64", R"({
  "cloud": "tencent",
  "devices": [
    {"product_id": "P", "device_name": "dn", "device_psk": "not base64!"}
  ]
})",
         "4:60", "\"device_psk\" must be base64", true},
        {"imei too short", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s", "imei": "49015420323751"}
  ]
})",
         "4:78", "\"imei\" must be 15 decimal digits", true},
        {"imei as a number", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s", "imei": 490154203237518}
  ]
})",
         "4:78", "\"imei\" must be a string, not a number", true},
        {"imei check digit", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s", "imei": "490154203237519"}
  ]
})",
         "4:78", "\"imei\" has a wrong check digit (Luhn): the last digit should be 8", false},
        {"duplicate imei", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "d1", "device_secret": "s", "imei": "490154203237518"},
    {"product_key": "pk", "device_name": "d2", "device_secret": "s", "imei": "490154203237518"}
  ]
})",
         "5:78", "\"imei\" 490154203237518 already used by another device (line 4)", false},
        {"duplicate device", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s"},
    {"product_key": "pk", "device_name": "dn", "device_secret_file": "dn.secret"}
  ]
})",
         "5:5", "devices[1]: device pk/dn is already listed (line 4)", false},
        {"duplicate key in a device", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_name": "dn2", "device_secret": "s"}
  ]
})",
         "4:48", "duplicate key \"device_name\" (first at line 4)", false},
        {"environment variable name", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret_env": "1-SECRET"}
  ]
})",
         "4:69", "\"device_secret_env\" must be an environment variable name", true},
        {"empty device name", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "", "device_secret": "s"}
  ]
})",
         "4:42", "\"device_name\" must not be empty", true},
        {"aliyun device name with '&'", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "a&b", "device_secret": "s"}
  ]
})",
         "4:42", "\"device_name\" must not contain '&', '|', ',' or spaces", true},
        {"client id with '|'", R"({
  "cloud": "aliyun",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s", "client_id": "a|b"}
  ]
})",
         "4:83", "\"client_id\" must not contain '|' or ','", true},
        {"client id on a tencent device", R"({
  "cloud": "tencent",
  "devices": [
    {"product_id": "P", "device_name": "dn", "device_psk": "Zm9v", "client_id": "x"}
  ]
})",
         "4:68",
         "unknown key \"client_id\" in devices[0] (only Aliyun devices choose their client id)",
         true},
        // ---- dynamic registration (docs/dynamic-registration.md)
        {"inline product secret", R"({
  "cloud": "aliyun", "dynamic_registration": true,
  "product_secret": "s",
  "devices": [{"product_key": "pk", "device_name": "dn"}]
})",
         "3:3", "an inline \"product_secret\" is refused", true},
        {"product secret without dynamic registration", R"({
  "cloud": "aliyun", "product_secret_env": "PS",
  "devices": [{"product_key": "pk", "device_name": "dn", "device_secret": "s"}]
})",
         "2:22", "\"product_secret_env\" needs \"dynamic_registration\": true", true},
        {"dynamic registration without the product secret", R"({
  "cloud": "tencent", "dynamic_registration": true,
  "devices": [{"product_id": "P", "device_name": "dn"}]
})",
         "1:1", "\"dynamic_registration\": true needs the product secret", true},
        {"two product secret sources", R"({
  "cloud": "aliyun", "dynamic_registration": true,
  "product_secret_file": "ps", "product_secret_env": "PS",
  "devices": [{"product_key": "pk", "device_name": "dn"}]
})",
         "3:32", "\"product_secret_env\" conflicts with \"product_secret_file\" (line 3)", true},
        {"device secret with dynamic registration", R"({
  "cloud": "aliyun", "dynamic_registration": true, "product_secret_env": "PS",
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s"}
  ]
})",
         "4:48", "\"device_secret\" must not be given with \"dynamic_registration\"", true},
        {"two products with dynamic registration", R"({
  "cloud": "aliyun", "dynamic_registration": true, "product_secret_env": "PS",
  "devices": [
    {"product_key": "pk", "device_name": "d1"},
    {"product_key": "pk2", "device_name": "d2"}
  ]
})",
         "5:5", "device pk2/d2 is of another product than pk", false},
        {"dynamic registration on tencent-token", R"({
  "cloud": "tencent-token", "token_url": "http://x/token", "dynamic_registration": true,
  "devices": [{"product_id": "P", "device_name": "dn", "device_secret": "s"}]
})",
         "2:60", "\"dynamic_registration\" applies to cloud aliyun or tencent only", true},
        {"registration url without scheme", R"({
  "cloud": "tencent", "dynamic_registration": true, "product_secret_env": "PS",
  "registration_url": "127.0.0.1:8080",
  "devices": [{"product_id": "P", "device_name": "dn"}]
})",
         "3:23", "\"registration_url\" must be an http:// or https:// URL", true},
        // ---- positions: characters, not bytes; tabs are one column; CRLF line ends
        {"columns count characters",
         "{\"description\": \"电表 – 三号楼\", \"cloud\": \"aws\",\n"
         " \"devices\": [{\"product_key\": \"pk\", \"device_name\": \"dn\", \"device_secret\": "
         "\"s\"}]}",
         "1:38", "\"cloud\" must be aliyun", true},
        {"tabs and CRLF",
         "{\r\n\t\"cloud\":\t\"aliyun\",\r\n\t\"devices\": [{\"product_key\": \"pk\", "
         "\"device_name\": 7,"
         " \"device_secret\": \"s\"}]\r\n}\r\n",
         "3:51", "\"device_name\" must be a string, not a number", true},
    };
    return cases;
}

TEST(CliCloudManifest, CatalogueOfBadManifestsWithExactPositions) {
    for (const auto& c : catalogue()) {
        const LoadResult r = parse_manifest(c.text, "m.json");
        EXPECT_FALSE(r.manifest) << c.name;
        ASSERT_FALSE(r.errors.empty()) << c.name;
        // The expected diagnostic, at exactly that position (others may accompany it).
        bool found = false;
        for (const auto& d : r.errors) {
            if (d.to_string().rfind("m.json:" + c.where + ": ", 0) == 0 &&
                d.message.find(c.message) != std::string::npos)
                found = true;
        }
        EXPECT_TRUE(found) << c.name << ": expected m.json:" << c.where << ": ..." << c.message
                           << "\n"
                           << positions(r);
    }
}

TEST(CliCloudManifest, EveryProblemIsReportedInDocumentOrder) {
    const LoadResult r = parse_manifest(R"({
  "cloud": "aliyun", "port": 0,
  "devices": [
    {"product_key": "pk", "device_name": "dn", "device_secret": "s", "imei": "123"},
    {"product_key": "pk", "device_secret": "s"},
    {"product_key": "pk", "device_name": "d3", "device_secret": "s", "colour": "red"}
  ]
})",
                                        "m.json");
    EXPECT_EQ(positions(r),
              "m.json:2:30: \"port\" must be between 1 and 65535\n"
              "m.json:4:78: \"imei\" must be 15 decimal digits\n"
              "m.json:5:5: devices[1]: missing required key \"device_name\"\n"
              "m.json:6:70: unknown key \"colour\" in devices[2]\n");
}

TEST(CliCloudManifest, ValidManifestModel) {
    const LoadResult r = parse_manifest(R"({
  "cloud": "aliyun", "region": "cn-beijing", "secure_mode": 2, "port": 443, "sign_method": "hmacsha1",
  "devices": [
    {"product_key": "pk", "device_name": "d1", "device_secret": "s1", "client_id": "SN1", "imei": "490154203237518"},
    {"product_key": "pk", "device_name": "d2", "device_secret_file": "secrets/d2"},
    {"product_key": "pk", "device_name": "d3", "device_secret_env": "D3_SECRET", "description": "spare"}
  ]
})",
                                        "/factory/line1.json");
    ASSERT_TRUE(r.manifest) << positions(r);
    const Manifest& m = *r.manifest;
    EXPECT_EQ(m.cloud, Cloud::aliyun);
    EXPECT_EQ(m.region, "cn-beijing");
    EXPECT_EQ(m.secure_mode, 2);
    EXPECT_EQ(m.port, 443);
    EXPECT_EQ(m.sign_method, "hmacsha1");
    ASSERT_EQ(m.devices.size(), 3u);
    EXPECT_EQ(m.devices[0].client_id, "SN1");
    EXPECT_EQ(m.devices[0].imei, "490154203237518");
    EXPECT_EQ(m.devices[1].secret.kind, SecretRef::Kind::file);
    EXPECT_EQ(m.devices[1].secret.value, "secrets/d2");
    EXPECT_EQ(m.devices[2].secret.kind, SecretRef::Kind::env);
    EXPECT_EQ(m.devices[2].pos.line, 6);
    EXPECT_EQ(m.devices[2].pos.col, 5);
}

TEST(CliCloudManifest, ImeiLuhn) {
    EXPECT_TRUE(imei_valid("490154203237518"));  // the IMEI example used on Wikipedia's "IMEI" page
    EXPECT_TRUE(imei_valid("356938035643809"));
    EXPECT_FALSE(imei_valid("490154203237519"));
    EXPECT_FALSE(imei_valid("49015420323751"));
    EXPECT_FALSE(imei_valid("49015420323751a"));
    EXPECT_TRUE(imei_valid("000000000000000"));
}

TEST(CliCloudManifest, SecretReferencesResolve) {
    TempDir d;
    write_file(d.file("d1.secret"), "file-secret\n");
    write_file(d.file("psk"), "Zm9vYmFy\r\n");
    write_file(d.file("bad-psk"), "!!!!\n");
    write_file(d.file("empty"), "\n");
    const std::string path = d.file("m.json");
    const LoadResult r = parse_manifest(R"({
  "cloud": "tencent",
  "devices": [
    {"product_id": "P", "device_name": "d1", "device_psk_file": "psk"},
    {"product_id": "P", "device_name": "d2", "device_psk_env": "QMTKIT_TEST_PSK_D2"},
    {"product_id": "P", "device_name": "d3", "device_psk_file": "missing"},
    {"product_id": "P", "device_name": "d4", "device_psk_env": "QMTKIT_TEST_PSK_UNSET"},
    {"product_id": "P", "device_name": "d5", "device_psk_file": "bad-psk"},
    {"product_id": "P", "device_name": "d6", "device_psk_file": "empty"}
  ]
})",
                                        path);
    ASSERT_TRUE(r.manifest) << positions(r);
    ::setenv("QMTKIT_TEST_PSK_D2", "Zm9vYmFyYmF6", 1);
    ::unsetenv("QMTKIT_TEST_PSK_UNSET");
    const Manifest& m = *r.manifest;
    EXPECT_EQ(resolve_secret(m, m.devices[0]).value,
              "Zm9vYmFy");  // relative to the manifest, CRLF stripped
    EXPECT_EQ(resolve_secret(m, m.devices[1]).value, "Zm9vYmFyYmF6");
    std::string all;
    for (const auto& e : check_secrets(m)) all += e.to_string() + "\n";
    EXPECT_EQ(
        all,
        path + ":6:65: \"device_psk_file\": cannot read " + d.path() +
            "/missing: No such file or directory\n" + path +
            ":7:64: \"device_psk_env\": environment variable QMTKIT_TEST_PSK_UNSET is not set\n" +
            path + ":8:65: \"device_psk_file\": " + d.path() +
            "/bad-psk does not hold a base64 PSK\n" + path +
            ":9:65: \"device_psk_file\": " + d.path() + "/empty is empty\n");
    ::unsetenv("QMTKIT_TEST_PSK_D2");
}

TEST(CliCloudManifest, NoSecretInAnyDiagnostic) {
    const std::string canary = "CANARYs3cr3tZZ9";
    const LoadResult r = parse_manifest(R"({
  "cloud": "tencent", "sdkappid": -1,
  "devices": [
    {"product_id": "P", "device_name": "d1", "device_psk": "CANARYs3cr3tZZ9!"},
    {"product_id": "P", "device_name": "d2", "device_psk": "CANARYs3cr3tZZ9!", "device_psk_env": "X"},
    {"product_id": "P", "device_name": "d3", "device_psk": "CANARYs3cr3tZZ9\u0001"},
    {"product_id": "P", "device_name": "d4", "device_psk": ["CANARYs3cr3tZZ9"]}
  ]
})",
                                        "m.json");
    ASSERT_GE(r.errors.size(), 5u) << positions(r);
    EXPECT_EQ(positions(r).find(canary), std::string::npos) << positions(r);
    // A syntax error inside the secret does not quote it either.
    const LoadResult s = parse_manifest(
        "{\"cloud\": \"aliyun\", \"devices\": [{\"device_secret\": \"CANARYs3cr3tZZ9\\x\"}]}",
        "m.json");
    ASSERT_EQ(s.errors.size(), 1u);
    EXPECT_EQ(s.errors[0].to_string().find(canary), std::string::npos) << positions(s);
}

// ---- the examples in docs/

const std::vector<std::string> kExamples = {"manifest-aliyun.json", "manifest-tencent.json",
                                            "manifest-tencent-token.json"};
// Dynamic registration: the product secret comes from $QMTKIT_PRODUCT_SECRET.
const std::vector<std::string> kDynregExamples = {"manifest-aliyun-dynreg.json",
                                                  "manifest-tencent-dynreg.json"};

TEST(CliCloudManifest, DynamicRegistrationModel) {
    TempDir d;
    write_file(d.file("product.secret"), "AliProductSecretCANARY77\n");
    const std::string path = d.file("m.json");
    const LoadResult r = parse_manifest(R"({
  "cloud": "aliyun", "dynamic_registration": true, "product_secret_file": "product.secret",
  "registration_url": "http://127.0.0.1:8080",
  "devices": [
    {"product_key": "pk", "device_name": "d1", "imei": "490154203237518"},
    {"product_key": "pk", "device_name": "d2"}
  ]
})",
                                        path);
    ASSERT_TRUE(r.manifest) << positions(r);
    const Manifest& m = *r.manifest;
    EXPECT_TRUE(m.dynamic_registration);
    ASSERT_TRUE(m.product_secret);
    EXPECT_EQ(m.product_secret->kind, SecretRef::Kind::file);
    EXPECT_EQ(m.product_secret->key, "product_secret_file");
    EXPECT_EQ(m.registration_url, "http://127.0.0.1:8080");
    ASSERT_EQ(m.devices.size(), 2u);
    EXPECT_EQ(m.devices[0].secret.key, "");
    EXPECT_EQ(resolve_product_secret(m).value, "AliProductSecretCANARY77");
    EXPECT_TRUE(check_secrets(m).empty());
    const auto none = resolve_secret(m, m.devices[1]);
    ASSERT_TRUE(none.error);
    EXPECT_EQ(none.error->to_string(),
              path +
                  ":6:5: device pk/d2 has no secret in the manifest: it comes from dynamic "
                  "registration (see docs/dynamic-registration.md)");

    // Tencent: the first 16 characters are the AES key of the answer.
    const LoadResult t = parse_manifest(R"({
  "cloud": "tencent", "dynamic_registration": true, "product_secret_env": "QMTKIT_TEST_PS",
  "devices": [{"product_id": "P", "device_name": "d1"}]
})",
                                        path);
    ASSERT_TRUE(t.manifest) << positions(t);
    ::setenv("QMTKIT_TEST_PS", "CANARY-short", 1);
    const auto errs = check_secrets(*t.manifest);
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_EQ(errs[0].to_string(),
              path +
                  ":2:75: \"product_secret_env\": environment variable QMTKIT_TEST_PS holds a "
                  "product secret shorter than 16 characters");
    ::setenv("QMTKIT_TEST_PS", "CANARY-long-enough-secret", 1);
    EXPECT_EQ(resolve_product_secret(*t.manifest).value, "CANARY-long-enough-secret");
    ::unsetenv("QMTKIT_TEST_PS");
    EXPECT_EQ(errs[0].to_string().find("CANARY"), std::string::npos);
}

TEST(CliCloudManifest, DynregExamplesValidate) {
    ::setenv("QMTKIT_PRODUCT_SECRET", "demoTencentProductSecret0123", 1);
    for (const auto& name : kDynregExamples) {
        const LoadResult r =
            load_manifest(std::string(QMTKIT_SOURCE_DIR) + "/docs/examples/" + name);
        ASSERT_TRUE(r.manifest) << positions(r);
        EXPECT_TRUE(r.manifest->dynamic_registration) << name;
        EXPECT_TRUE(check_secrets(*r.manifest).empty()) << name;
    }
    ::unsetenv("QMTKIT_PRODUCT_SECRET");
}

TEST(CliCloudManifest, DocsExamplesValidate) {
    for (const auto& name : kExamples) {
        const std::string path = std::string(QMTKIT_SOURCE_DIR) + "/docs/examples/" + name;
        const LoadResult r = load_manifest(path);
        EXPECT_TRUE(r.manifest) << positions(r);
        if (r.manifest) {
            EXPECT_TRUE(check_secrets(*r.manifest).empty()) << name;
        }
        const CliRun cli = run_qmtkit({"verify", "--manifest", path, "--check-only"});
        EXPECT_EQ(cli.status, 0) << cli.err;
        EXPECT_NE(cli.out.find(": ok ("), std::string::npos) << cli.out;
    }
}

TEST(CliCloudManifest, CheckOnlyPrintsFileLineColAndFails) {
    TempDir d;
    const std::string path = d.file("bad.json");
    write_file(path,
               "{\n  \"cloud\": \"aliyun\",\n  \"devices\": [{\"product_key\": \"pk\", "
               "\"device_name\": \"dn\"}]\n}\n");
    const CliRun r = run_qmtkit({"verify", "--manifest", path, "--check-only"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, path +
                         ":3:15: devices[0]: missing the device secret: give \"device_secret\", "
                         "\"device_secret_file\" or \"device_secret_env\"\n"
                         "qmtkit verify: " +
                         path + ": 1 error(s)\n");
    const CliRun missing =
        run_qmtkit({"verify", "--manifest", d.file("nope.json"), "--check-only"});
    EXPECT_EQ(missing.status, 2);
    // No position: the file was never read (positions are 1-based; there is no 0:0).
    EXPECT_NE(missing.err.find("nope.json: cannot read the manifest: No such file or directory"),
              std::string::npos)
        << missing.err;
}

// docs/manifest.schema.json agrees: the examples are valid, the catalogue entries it can express
// are invalid. Needs python3 with jsonschema >= 4 (Debian python3-jsonschema); skipped otherwise.
TEST(CliCloudManifest, JsonSchemaAgrees) {
    if (std::system(
            "python3 -c 'import jsonschema; jsonschema.Draft202012Validator' >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "python3-jsonschema (draft 2020-12) not installed";
    TempDir d;
    std::string script =
        "import json, sys, jsonschema\n"
        "v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))\n"
        "for p in sys.argv[2:]:\n"
        "    ok = not list(v.iter_errors(json.load(open(p))))\n"
        "    print(('valid ' if ok else 'invalid ') + p)\n";
    write_file(d.file("check.py"), script);
    std::string cmd =
        "python3 " + d.file("check.py") + " " + QMTKIT_SOURCE_DIR + "/docs/manifest.schema.json";
    std::string expected;
    std::vector<std::string> examples = kExamples;
    examples.insert(examples.end(), kDynregExamples.begin(), kDynregExamples.end());
    for (const auto& name : examples) {
        const std::string p = std::string(QMTKIT_SOURCE_DIR) + "/docs/examples/" + name;
        cmd += " " + p;
        expected += "valid " + p + "\n";
    }
    int i = 0;
    for (const auto& c : catalogue()) {
        if (!c.schema_rejects) continue;
        const std::string p = d.file("case" + std::to_string(i++) + ".json");
        write_file(p, c.text);
        cmd += " " + p;
        expected += "invalid " + p + "\n";
    }
    cmd += " > " + d.file("out") + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(d.file("out"));
    EXPECT_EQ(slurp(d.file("out")), expected);
}

}  // namespace
}  // namespace qmtkit::cli_test
