// The cloud stand-in's device registry and the CONNECT / token checks it drives.
// Shared by the mosquitto plugin (libqmtkit_cloud_auth.so) and the token server
// (qmtkit-token-server); kept free of mosquitto and HTTP so it can be unit-tested.
// Never puts a secret into a reason string.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qmtkit::standin {

struct AliyunDevice {
    std::string product_key, device_name, device_secret;
};
struct TencentDevice {                                // IoT Hub, PSK
    std::string product_id, device_name, device_psk;  // PSK base64, as the console shows it
};
struct SuiteDevice {  // IoT Suite token flow (AT+QMTTENAUTH)
    std::string product_id, device_name, device_secret;
};
struct PlainUser {  // test observers
    std::string username, password;
};
// A product registered per product (Aliyun one-product-one-secret, Tencent dynamic
// registration): devices get their secret from the registration endpoints, derived from
// Registry::dynreg_key, so the plugin accepts them without a per-device entry.
struct DynregProduct {
    std::string product;                 // Aliyun product_key / Tencent product_id
    std::string product_secret;          // Tencent: at least 16 characters (the AES key)
    std::vector<std::string> devices;    // pre-registered names; empty: any name (auto-create)
    std::vector<std::string> activated;  // already activated: registration refused
    bool allow_reregister = true;        // false: a second registration in this run is refused
    bool permits(const std::string& device_name) const;  // devices empty or listed
};

struct Registry {
    std::vector<AliyunDevice> aliyun;
    std::vector<TencentDevice> tencent;
    std::vector<SuiteDevice> tencent_suite;
    std::vector<PlainUser> plain;
    std::string token_key;                 // server key the token secrets are derived from
    std::uint64_t token_max_skew_s = 600;  // |request timestamp - now| allowed; 0: unchecked
    std::uint64_t token_max_expire_s = 60ull * 86400ull;
    std::vector<DynregProduct> aliyun_products;
    std::vector<DynregProduct> tencent_products;
    std::string dynreg_key;                 // server key the issued device secrets derive from
    std::uint64_t dynreg_max_skew_s = 300;  // Tencent X-TC-Timestamp window; 0: unchecked

    // Throws std::runtime_error with a line-free but field-precise message on bad input.
    static Registry load_file(const std::string& path);
    static Registry parse(const std::string& json_text);
};

struct Verdict {
    bool ok = false;
    std::string scheme;  // "aliyun" | "tencent" | "token" | "plain" | "" (none matched)
    std::string reason;  // why it was refused (no secret in it)
};

// Check a CONNECT as the clouds do. `now_unix` is the wall clock in seconds.
Verdict authenticate(const Registry& reg, const std::string& client_id,
                     const std::optional<std::string>& username,
                     const std::optional<std::string>& password, std::uint64_t now_unix);

// ---------------------------------------------------------------- token server side

// Tokens are stateless: username "<productId>@<deviceName>;<expiryUnix>;<salt>",
// password = hex(HMAC-SHA256(token_key, username)). The plugin re-derives the password.
std::string token_password(const std::string& token_key, const std::string& username);

struct TokenAnswer {
    int http_status = 200;
    int return_code = 0;  // 0 ok; non-zero: see docs/cloud-standin.md
    std::string return_message;
    std::string username, password;
    std::uint64_t expire_s = 0;
    std::string to_json() const;  // {"returnCode":..,"returnMessage":..,"data":{...}}
};

// Verify an IoT Suite token request (form body) and issue a token.
TokenAnswer issue_token(const Registry& reg, const std::map<std::string, std::string>& form,
                        std::uint64_t now_unix);

// Parse "a=b&c=d" with url-decoding; nullopt on malformed escapes.
std::optional<std::map<std::string, std::string>> parse_form(const std::string& body);

}  // namespace qmtkit::standin
