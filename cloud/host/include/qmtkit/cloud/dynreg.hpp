// Dynamic registration on the host (factory PC): a device secret from a product secret.
//
//   Aliyun "one product, one secret" (pre-registration, HTTPS):
//     POST https://iot-auth.<region>.aliyuncs.com/auth/register/device  (form-urlencoded)
//   Tencent IoT Hub / IoT Explorer dynamic registration (PSK products):
//     POST https://ap-guangzhou.gateway.tencentdevices.com/device/register  (JSON, X-TC-* headers)
//
// Formats, signatures and sources: docs/dynamic-registration.md. OpenSSL for HMAC / SHA-256 /
// AES / base64, libcurl for HTTP. No error message ever contains the product secret or the
// issued device secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace qmtkit::cloud {

// Why a registration failed. `message` is the whole story in words (safe to print or log).
struct DynregError {
    enum class Kind {
        bad_input,    // refused before sending (empty field, product secret too short, bad URL)
        transport,    // libcurl failed (DNS, connect, TLS, timeout): curl_code set
        http_status,  // the server answered with a non-2xx HTTP status: http_status set
        refused,      // the cloud answered with its own error: cloud_code / cloud_message set
        bad_answer,   // 2xx but not the documented answer (not JSON, no secret, undecryptable)
    };
    Kind kind = Kind::bad_input;
    long http_status = 0;       // 0: no HTTP answer
    int curl_code = 0;          // CURLcode, 0: none
    std::string cloud_code;     // Aliyun: the numeric "code" as text; Tencent: Error.Code
    std::string cloud_message;  // Aliyun "message"; Tencent Error.Message
    std::string message;        // never contains a secret
};

template <class T>
using DynregResult = std::variant<T, DynregError>;

// ------------------------------------------------------------------------------ Aliyun

struct AliyunRegistration {
    std::string product_key;
    std::string device_name;
    std::string device_secret;
};

struct AliyunDynregRequest {
    std::string product_key;
    std::string device_name;
    std::string product_secret;
    std::string region = "cn-shanghai";
    std::string base_url;  // "" = https://iot-auth.<region>.aliyuncs.com; tests: http://127.0.0.1:N
    std::string random;    // "" = 16 random alphanumerics
    long timeout_ms = 15000;
};

// "deviceName<dn>productKey<pk>random<r>": the parameters sorted by name, name and value
// concatenated without separators (as the Link SDK's _calc_dynreg_sign).
std::string aliyun_dynreg_sign_content(std::string_view product_key, std::string_view device_name,
                                       std::string_view random);
// Lower-case hex HMAC-SHA256 keyed by the product secret (signMethod hmacsha256).
std::string aliyun_dynreg_sign(std::string_view product_secret, std::string_view sign_content);
// "productKey=..&deviceName=..&random=..&sign=..&signMethod=hmacsha256" (url-encoded values).
std::string aliyun_dynreg_body(std::string_view product_key, std::string_view device_name,
                               std::string_view random, std::string_view sign);
std::string aliyun_dynreg_default_url(
    std::string_view region);  // https://iot-auth.<r>.aliyuncs.com

// Answer {"code":200,"data":{"productKey","deviceName","deviceSecret"},"message":"success"}.
DynregResult<AliyunRegistration> register_aliyun_device(const AliyunDynregRequest& r);

// ----------------------------------------------------------------------------- Tencent

struct TencentRegistration {
    std::string product_id;
    std::string device_name;
    std::string device_psk;  // base64, as the console shows it (what sign_tencent takes)
};

struct TencentDynregRequest {
    std::string product_id;
    std::string device_name;
    std::string product_secret;   // at least 16 characters (the first 16 are the AES key)
    std::string base_url;         // "" = https://ap-guangzhou.gateway.tencentdevices.com
    std::uint64_t timestamp = 0;  // Unix seconds; 0 = now
    std::uint32_t nonce = 0;      // 0 = random (1..2^31-1)
    long timeout_ms = 15000;
};

inline constexpr std::string_view kTencentDynregUri = "/device/register";
std::string tencent_dynreg_default_url();

// {"DeviceName":"..","ProductId":".."} (the exact bytes that are hashed and sent).
std::string tencent_dynreg_body(std::string_view product_id, std::string_view device_name);
// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view data);
// "POST\n<host>\n<uri>\n\nhmacsha256\n<timestamp>\n<nonce>\n<sha256hex(body)>"
std::string tencent_dynreg_string_to_sign(std::string_view host, std::string_view uri,
                                          std::uint64_t timestamp, std::uint32_t nonce,
                                          std::string_view body);
// base64(HMAC-SHA256(productSecret, stringToSign)) — the X-TC-Signature header.
std::string tencent_dynreg_signature(std::string_view product_secret,
                                     std::string_view string_to_sign);

// The answer's Payload: base64(AES-128-CBC(key = first 16 bytes of the product secret,
// IV = sixteen '0' characters (0x30), plaintext JSON zero-padded to the block size)).
// nullopt: secret shorter than 16, bad base64, not a whole number of blocks.
std::optional<std::string> tencent_dynreg_encrypt(std::string_view product_secret,
                                                  std::string_view plaintext);
// Decrypts and cuts to `len` bytes (the answer's Len) or, without it, strips trailing zero /
// PKCS#7 padding. nullopt on malformed input (a wrong key yields garbage, not nullopt).
std::optional<std::string> tencent_dynreg_decrypt(std::string_view product_secret,
                                                  std::string_view payload_base64,
                                                  std::optional<std::size_t> len = std::nullopt);

// Answer {"Response":{"Len":N,"Payload":"..","RequestId":".."}} with the decrypted payload
// {"encryptionType":2,"psk":".."}; an error is {"Response":{"Error":{"Code","Message"},..}}.
DynregResult<TencentRegistration> register_tencent_device(const TencentDynregRequest& r);

}  // namespace qmtkit::cloud
