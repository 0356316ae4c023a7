// `qmtkit sign` / `qmtkit verify` command lines that are wrong (issue 9, defects 9, 10, 11 and 14):
// one line in mosquitto_pub's words naming the option, exit status 1, nothing computed or sent;
// an identity field that would break the credentials it goes into is refused by its own name.
#include <gtest/gtest.h>

#include "support.hpp"

namespace qmtkit::cli_test {
namespace {

struct Case {
    std::vector<std::string> args;
    std::string err;  // the whole of stderr
};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

void expect_usage_error(const Case& c) {
    std::string cmd;
    for (const auto& a : c.args) cmd += a + " ";
    const CliRun r = run_qmtkit(c.args);
    EXPECT_EQ(r.status, 1) << cmd;
    EXPECT_EQ(r.err, c.err) << cmd;
    EXPECT_EQ(r.out, "") << cmd;
}

const std::vector<std::string> kAli = {"sign",          "aliyun", "--product-key",   "pk",
                                       "--device-name", "dn",     "--device-secret", "s"};
const std::vector<std::string> kTen = {"sign",          "tencent", "--product-id", "PID",
                                       "--device-name", "dn",      "--device-psk", "c2VjcmV0"};
// --url names a port nothing listens on: had a request been sent, the answer would be result 2.
const std::vector<std::string> kTok = {"sign",
                                       "tencent-token",
                                       "--product-id",
                                       "PID",
                                       "--device-name",
                                       "dn",
                                       "--url",
                                       "http://127.0.0.1:1/token",
                                       "--device-secret",
                                       "s"};

// Defect 9: a negative timestamp is not signed as 18446744073709551615; defect 10: no 309-digit
// bounds, the option and its range in words.
TEST(CliCloudUsage, NumbersOutOfRangeAreRefusedByName) {
    const std::string ts =
        " (--timestamp takes milliseconds since the epoch, 0 to "
        "9999999999999).\n";
    std::vector<Case> cases;
    for (const char* v : {"-1", "abc", "1e3", "99999999999999"})
        cases.push_back({plus(kAli, {"--timestamp", v}),
                         "Error: Invalid timestamp given: " + std::string(v) + ts});
    cases.push_back(
        {plus(kAli, {"--port", "0"}), "Error: Invalid port given: 0 (--port takes 1 to 65535).\n"});
    cases.push_back({plus(kAli, {"--secure-mode", "1"}),
                     "Error: Invalid secure mode given: 1 (--secure-mode takes 2 or 3).\n"});
    cases.push_back({plus(kAli, {"--sign-method", "hmacsha512"}),
                     "Error: Invalid sign method given: hmacsha512 (--sign-method takes "
                     "hmacsha256, hmacsha1 or hmacmd5).\n"});
    cases.push_back({plus(kTen, {"--expiry", "-1"}),
                     "Error: Invalid expiry given: -1 (--expiry takes Unix seconds, 1 to "
                     "9999999999).\n"});
    cases.push_back({plus(kTen, {"--sdkappid", "x"}),
                     "Error: Invalid sdkappid given: x (--sdkappid takes 0 to 4294967295).\n"});
    cases.push_back({plus(kTen, {"--sign-method", "hmacmd5"}),
                     "Error: Invalid sign method given: hmacmd5 (--sign-method takes hmacsha256 "
                     "or hmacsha1).\n"});
    // Defect 14: refused before anything is sent (not "+QMTTENAUTH result 3").
    for (const char* d : {"61", "0", "-5"})
        cases.push_back({plus(kTok, {"--expire-days", d}),
                         "Error: Invalid expire days given: " + std::string(d) +
                             " (--expire-days takes 1 to 60).\n"});
    cases.push_back({plus(kTok, {"--timeout", "1e10"}),
                     "Error: Invalid timeout given: 1e10 (--timeout takes 0.001 to 1000000 "
                     "seconds).\n"});
    cases.push_back({{"verify", "--manifest", "m.json", "--timeout", "nan"},
                     "Error: Invalid timeout given: nan (--timeout takes 0.001 to 1000000 "
                     "seconds).\n"});
    cases.push_back(
        {plus(kAli, {"--no-such-option"}), "Error: Unknown option '--no-such-option'.\n"});
    cases.push_back({plus(kAli, {"extra"}), "Error: Unexpected argument 'extra'.\n"});
    cases.push_back(
        {{"sign"}, "Error: A sign subcommand is required: aliyun, tencent or tencent-token.\n"});
    cases.push_back({{"sign", "azure"},
                     "Error: Unknown sign subcommand 'azure' (aliyun, tencent or "
                     "tencent-token).\n"});
    cases.push_back({{"sign", "aliyun", "--device-name", "dn", "--device-secret", "s"},
                     "Error: --product-key is required.\n"});
    for (const auto& c : cases) expect_usage_error(c);

    const CliRun good = run_qmtkit(plus(kAli, {"--timestamp", "1700000000000"}));
    EXPECT_EQ(good.status, 0) << good.err;
    EXPECT_NE(good.out.find("timestamp=1700000000000|"), std::string::npos) << good.out;
}

// Defect 11: the field at fault is named — not the client id for a product key, and a Tencent
// product id with ';' (which would split the username) is refused like a conn id with one.
TEST(CliCloudUsage, IdentityFieldsAreCheckedByName) {
    const std::vector<std::string> ali = {"sign", "aliyun", "--device-secret", "s"};
    const std::vector<std::string> ten = {"sign", "tencent", "--device-psk", "c2VjcmV0"};
    const std::string ali_id = ", which the Aliyun clientId uses as a separator.\n";
    const std::string ali_user = ", which the Aliyun username uses as a separator.\n";
    const std::string ten_user = ", which the Tencent username uses as a separator.\n";
    const std::vector<Case> cases = {
        {plus(ali, {"--product-key", "P|K", "--device-name", "dn"}),
         "Error: Invalid product key (--product-key): it holds '|'" + ali_id},
        {plus(ali, {"--product-key", "pk", "--device-name", "d,n"}),
         "Error: Invalid device name (--device-name): it holds ','" + ali_id},
        {plus(ali, {"--product-key", "pk", "--device-name", "d&n"}),
         "Error: Invalid device name (--device-name): it holds '&'" + ali_user},
        {plus(ali, {"--product-key", "pk", "--device-name", "dn", "--client-id", "a|b"}),
         "Error: Invalid client id (--client-id): it holds '|'" + ali_id},
        {plus(ali, {"--product-key", "p\"k", "--device-name", "dn"}),
         "Error: Invalid product key (--product-key): it holds a double quote, which an AT "
         "command line cannot carry.\n"},
        {plus(ali, {"--product-key", "", "--device-name", "dn"}),
         "Error: Invalid product key (--product-key): it is empty.\n"},
        {plus(ten, {"--product-id", "P;D", "--device-name", "dn"}),
         "Error: Invalid product id (--product-id): it holds ';'" + ten_user},
        {plus(ten, {"--product-id", "PID", "--device-name", "d;n"}),
         "Error: Invalid device name (--device-name): it holds ';'" + ten_user},
        {plus(ten, {"--product-id", "PID", "--device-name", "dn", "--conn-id", "a;b"}),
         "Error: Invalid conn id (--conn-id): it holds ';'" + ten_user},
    };
    for (const auto& c : cases) expect_usage_error(c);
}

// Defect 14: a manifest that cannot be read has no position (positions are 1-based): no "0:0".
TEST(CliCloudUsage, UnreadableManifestHasNoPosition) {
    TempDir d;
    const std::string path = d.file("missing.json");
    const CliRun r = run_qmtkit({"verify", "--manifest", path});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
    // One line: nothing to list, so no summary either.
    EXPECT_EQ(r.err, path + ": cannot read the manifest: No such file or directory\n");
}

}  // namespace
}  // namespace qmtkit::cli_test
