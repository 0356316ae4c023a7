// Host-side cloud signing (OpenSSL for HMAC and base64, libcurl for the token request).
// Shared by `qmtkit sign`/`verify`, the emulator (it signs CONNECT as the module would) and the
// cloud stand-in (it verifies what the emulator or the host signed). Never logs a secret.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace qmtkit::cloud {

enum class SignMethod { hmacmd5, hmacsha1, hmacsha256 };

std::string_view to_string(SignMethod m);  // "hmacmd5" | "hmacsha1" | "hmacsha256"
std::optional<SignMethod> parse_sign_method(std::string_view s);  // case-insensitive

// Raw HMAC helpers.
std::string hmac_hex(SignMethod m, std::string_view key, std::string_view data);  // lower-case hex
std::string hmac_base64(SignMethod m, std::string_view key, std::string_view data);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // nullopt on malformed input
std::string url_encode(std::string_view s);                       // RFC 3986 unreserved kept

// What a device presents in CONNECT.
struct MqttCredentials {
    std::string host;
    std::uint16_t port = 1883;
    std::string client_id;  // the full MQTT clientId (Aliyun: with its "|...|" part)
    std::string username;
    std::string password;
};

struct SignError {
    std::string message;  // never contains a secret
};

template <class T>
using SignResult = std::variant<T, SignError>;

// Aliyun one-device-one-secret.
struct AliyunParams {
    std::string product_key;
    std::string device_name;
    std::string device_secret;
    std::string client_id;                      // empty: "<productKey>.<deviceName>"
    std::optional<std::uint64_t> timestamp_ms;  // absent: no timestamp signed
    SignMethod method = SignMethod::hmacsha256;
    int secure_mode = 3;  // 2 (TLS) or 3 (TCP)
    std::string region = "cn-shanghai";
    std::string endpoint;  // overrides <pk>.iot-as-mqtt.<region>.aliyuncs.com
    std::uint16_t port = 1883;
};
SignResult<MqttCredentials> sign_aliyun(const AliyunParams& p);

// Tencent IoT Hub / Explorer (PSK).
struct TencentParams {
    std::string product_id;
    std::string device_name;
    std::string device_psk_base64;
    std::uint64_t expiry_unix = 0;  // 0: now + 1 hour
    std::string conn_id;            // empty: 5 random alphanumerics
    std::uint32_t sdkappid = 12010126;
    SignMethod method = SignMethod::hmacsha256;  // hmacsha256 or hmacsha1
    std::uint16_t port = 1883;
};
SignResult<MqttCredentials> sign_tencent(const TencentParams& p);

// Tencent IoT Suite token, the request the module makes for AT+QMTTENAUTH.
struct TokenRequest {
    std::string product_id;
    std::string device_name;
    std::string client_id;  // "<product_id>@<device_name>"
    std::string device_secret;
    unsigned expire_days = 60;    // AT side: days <= 60; wire: seconds
    std::uint32_t nonce = 0;      // 0: random
    std::uint64_t timestamp = 0;  // Unix seconds; 0: now
};
// "clientId=..&deviceName=..&expire=..&nonce=..&productId=..&timestamp=..&signature=.."
std::string token_request_body(const TokenRequest& r);

struct Token {
    std::string username;  // data.id
    std::string password;  // data.secret
    std::uint64_t expire_s = 0;
};
// Result codes as +QMTTENAUTH reports them: 0 ok, 1 DNS, 2 socket init, 3 HTTP packet error,
// 4 socket send error, 5 HTTP parse error, 6 timeout.
struct TokenOutcome {
    int result_code = 0;
    std::optional<Token> token;
    std::string message;  // never contains a secret
};
// `cancel` (may be null): set from another thread, the request ends within about a second.
TokenOutcome fetch_token(const std::string& url, const TokenRequest& r, long timeout_ms = 195000,
                         const std::atomic<bool>* cancel = nullptr);

// ---- Added for verification (cloud stand-in) and reuse; the declarations above are unchanged.
// ----

// Constant-time comparison (for signatures); lengths are not secret.
bool constant_time_equal(std::string_view a, std::string_view b);

// Random alphanumerics [A-Za-z0-9] from OpenSSL's RAND_bytes.
std::string random_alnum(std::size_t n);
// A random nonce in 1..2^31-1 from RAND_bytes (token request, Tencent registration).
std::uint32_t random_nonce31();

// Aliyun: the string the password signs, "clientId<id>deviceName<dn>productKey<pk>[timestamp<ms>]"
// (parameters sorted by name, concatenated name+value without separators).
std::string aliyun_sign_content(std::string_view client_id, std::string_view device_name,
                                std::string_view product_key,
                                std::optional<std::uint64_t> timestamp_ms);

// Aliyun: the parts of an MQTT clientId "<id>|k=v,k=v,...|". Unknown keys are kept out
// (the cloud ignores them). nullopt when the "|...|" part is missing or malformed.
struct AliyunClientId {
    std::string id;                    // before the first '|'
    int secure_mode = -1;              // -1: absent
    std::optional<SignMethod> method;  // absent: not given (the cloud then refuses)
    std::optional<std::uint64_t> timestamp_ms;
};
std::optional<AliyunClientId> parse_aliyun_client_id(std::string_view mqtt_client_id);

// Tencent IoT Hub: "${clientId};${sdkappid};${connid};${expiry}".
struct TencentUsername {
    std::string client_id;
    std::uint32_t sdkappid = 0;
    std::string conn_id;
    std::uint64_t expiry_unix = 0;
};
std::optional<TencentUsername> parse_tencent_username(std::string_view username);
// "hex(HMAC(psk, username));hmacsha256|hmacsha1" with the decoded PSK; nullopt on a bad PSK or
// a method other than hmacsha1/hmacsha256.
std::optional<std::string> tencent_password(std::string_view psk_base64, std::string_view username,
                                            SignMethod m);

// Token request: the string the signature signs (values raw, not url-encoded) with the
// expiry already in seconds, and the signature itself (base64, not url-encoded).
std::string token_sign_content(std::string_view client_id, std::string_view device_name,
                               std::uint64_t expire_s, std::uint32_t nonce,
                               std::string_view product_id, std::uint64_t timestamp);
std::string token_signature(std::string_view device_secret, std::string_view sign_content);
// Decode "a=b&c=d" (application/x-www-form-urlencoded; '+' is a space). nullopt on bad escapes.
std::optional<std::string> url_decode(std::string_view s);

}  // namespace qmtkit::cloud
