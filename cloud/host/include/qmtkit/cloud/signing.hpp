// Host-side cloud signing (OpenSSL for HMAC and base64, libcurl for the token request).
// Shared by `qmtkit sign`/`verify`, the emulator (it signs CONNECT as the module would) and the
// cloud stand-in (it verifies what the emulator or the host signed). Never logs a secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace qmtkit::cloud {

enum class SignMethod { hmacmd5, hmacsha1, hmacsha256 };

std::string_view to_string(SignMethod m);              // "hmacmd5" | "hmacsha1" | "hmacsha256"
std::optional<SignMethod> parse_sign_method(std::string_view s);  // case-insensitive

// Raw HMAC helpers.
std::string hmac_hex(SignMethod m, std::string_view key, std::string_view data);     // lower-case hex
std::string hmac_base64(SignMethod m, std::string_view key, std::string_view data);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // nullopt on malformed input
std::string url_encode(std::string_view s);                        // RFC 3986 unreserved kept

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
    std::string client_id;                     // empty: "<productKey>.<deviceName>"
    std::optional<std::uint64_t> timestamp_ms; // absent: no timestamp signed
    SignMethod method = SignMethod::hmacsha256;
    int secure_mode = 3;                       // 2 (TLS) or 3 (TCP)
    std::string region = "cn-shanghai";
    std::string endpoint;                      // overrides <pk>.iot-as-mqtt.<region>.aliyuncs.com
    std::uint16_t port = 1883;
};
SignResult<MqttCredentials> sign_aliyun(const AliyunParams& p);

// Tencent IoT Hub / Explorer (PSK).
struct TencentParams {
    std::string product_id;
    std::string device_name;
    std::string device_psk_base64;
    std::uint64_t expiry_unix = 0;   // 0: now + 1 hour
    std::string conn_id;             // empty: 5 random alphanumerics
    std::uint32_t sdkappid = 12010126;
    SignMethod method = SignMethod::hmacsha256;  // hmacsha256 or hmacsha1
    std::uint16_t port = 1883;
};
SignResult<MqttCredentials> sign_tencent(const TencentParams& p);

// Tencent IoT Suite token, the request the module makes for AT+QMTTENAUTH.
struct TokenRequest {
    std::string product_id;
    std::string device_name;
    std::string client_id;       // "<product_id>@<device_name>"
    std::string device_secret;
    unsigned expire_days = 60;   // AT side: days <= 60; wire: seconds
    std::uint32_t nonce = 0;     // 0: random
    std::uint64_t timestamp = 0; // Unix seconds; 0: now
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
    std::string message;   // never contains a secret
};
TokenOutcome fetch_token(const std::string& url, const TokenRequest& r, long timeout_ms = 195000);

}  // namespace qmtkit::cloud
