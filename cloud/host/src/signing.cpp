// Host signing for Aliyun (one-device-one-secret) and Tencent IoT Hub (PSK), with OpenSSL.
// No hand-written crypto: HMAC via HMAC(), base64 via EVP_EncodeBlock / EVP_DecodeBlock,
// randomness via RAND_bytes. Error messages never contain a secret.
#include "qmtkit/cloud/signing.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace qmtkit::cloud {
namespace {

const EVP_MD* md_of(SignMethod m) {
    switch (m) {
        case SignMethod::hmacmd5:
            return EVP_md5();
        case SignMethod::hmacsha1:
            return EVP_sha1();
        case SignMethod::hmacsha256:
            return EVP_sha256();
    }
    return EVP_sha256();
}

std::string hmac_raw(SignMethod m, std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // A zero-length key needs a non-null pointer for OpenSSL.
    static const unsigned char empty = 0;
    const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
    const auto* d = data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());
    if (HMAC(md_of(m), k, static_cast<int>(key.size()), d, data.size(), out, &len) == nullptr) {
        throw std::runtime_error("HMAC failed");
    }
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string to_hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0x0f]);
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

template <class T>
std::optional<T> parse_uint(std::string_view s) {
    if (s.empty()) return std::nullopt;
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

std::string_view to_string(SignMethod m) {
    switch (m) {
        case SignMethod::hmacmd5:
            return "hmacmd5";
        case SignMethod::hmacsha1:
            return "hmacsha1";
        case SignMethod::hmacsha256:
            return "hmacsha256";
    }
    return "hmacsha256";
}

std::optional<SignMethod> parse_sign_method(std::string_view s) {
    for (auto m : {SignMethod::hmacmd5, SignMethod::hmacsha1, SignMethod::hmacsha256}) {
        if (iequals(s, to_string(m))) return m;
    }
    return std::nullopt;
}

std::string hmac_hex(SignMethod m, std::string_view key, std::string_view data) {
    return to_hex(hmac_raw(m, key, data));
}

std::string hmac_base64(SignMethod m, std::string_view key, std::string_view data) {
    return base64_encode(hmac_raw(m, key, data));
}

std::string base64_encode(std::string_view bytes) {
    if (bytes.empty()) return {};
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.empty()) return std::string{};
    // EVP_DecodeBlock wants a multiple of 4 and strips nothing but leading/trailing whitespace;
    // we are strict: standard alphabet, '=' padding only at the end, length multiple of 4.
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '=') {
            if (i < text.size() - 2) return std::nullopt;
            ++pad;
        } else if (pad != 0 || !(std::isalnum(c) || c == '+' || c == '/')) {
            return std::nullopt;
        }
    }
    std::string out(3 * (text.size() / 4), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts padding bytes as output; take them off.
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

std::string url_encode(std::string_view s) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 0x0f]);
        }
    }
    return out;
}

std::optional<std::string> url_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            auto hex = [](char h) -> int {
                if (h >= '0' && h <= '9') return h - '0';
                if (h >= 'a' && h <= 'f') return h - 'a' + 10;
                if (h >= 'A' && h <= 'F') return h - 'A' + 10;
                return -1;
            };
            int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_alnum(std::size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";  // 62
    std::string out;
    out.reserve(n);
    while (out.size() < n) {
        unsigned char buf[32];
        if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
        for (unsigned char b : buf) {
            if (b >= 248) continue;  // 248 = 4 * 62: rejection keeps the draw uniform
            out.push_back(alphabet[b % 62]);
            if (out.size() == n) break;
        }
    }
    return out;
}

std::uint32_t random_nonce31() {
    std::uint32_t nonce = 0;
    while (nonce == 0) {
        unsigned char b[4];
        if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
        nonce = (std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
                 b[3]) &
                0x7fffffffu;
    }
    return nonce;
}

// ---------------------------------------------------------------------------------- Aliyun

std::string aliyun_sign_content(std::string_view client_id, std::string_view device_name,
                                std::string_view product_key,
                                std::optional<std::uint64_t> timestamp_ms) {
    std::string s;
    s.append("clientId").append(client_id);
    s.append("deviceName").append(device_name);
    s.append("productKey").append(product_key);
    if (timestamp_ms) s.append("timestamp").append(std::to_string(*timestamp_ms));
    return s;
}

SignResult<MqttCredentials> sign_aliyun(const AliyunParams& p) {
    if (p.product_key.empty()) return SignError{"Aliyun: product key is empty"};
    if (p.device_name.empty()) return SignError{"Aliyun: device name is empty"};
    if (p.device_secret.empty()) return SignError{"Aliyun: device secret is empty"};
    if (p.secure_mode != 2 && p.secure_mode != 3)
        return SignError{"Aliyun: secure mode must be 2 (TLS) or 3 (TCP), got " +
                         std::to_string(p.secure_mode)};
    const std::string id = p.client_id.empty() ? p.product_key + "." + p.device_name : p.client_id;
    if (id.find_first_of("|,") != std::string::npos)
        return SignError{"Aliyun: client id must not contain '|' or ','"};
    if (p.endpoint.empty() && p.region.empty())
        return SignError{"Aliyun: region or endpoint is required"};

    MqttCredentials c;
    c.host = p.endpoint.empty() ? p.product_key + ".iot-as-mqtt." + p.region + ".aliyuncs.com"
                                : p.endpoint;
    c.port = p.port;
    c.client_id = id + "|securemode=" + std::to_string(p.secure_mode) +
                  ",signmethod=" + std::string(to_string(p.method));
    if (p.timestamp_ms) c.client_id += ",timestamp=" + std::to_string(*p.timestamp_ms);
    c.client_id += "|";
    c.username = p.device_name + "&" + p.product_key;
    c.password = hmac_hex(p.method, p.device_secret,
                          aliyun_sign_content(id, p.device_name, p.product_key, p.timestamp_ms));
    return c;
}

std::optional<AliyunClientId> parse_aliyun_client_id(std::string_view mqtt_client_id) {
    auto first = mqtt_client_id.find('|');
    if (first == std::string_view::npos || mqtt_client_id.size() < first + 2 ||
        mqtt_client_id.back() != '|')
        return std::nullopt;
    AliyunClientId out;
    out.id = std::string(mqtt_client_id.substr(0, first));
    if (out.id.empty()) return std::nullopt;
    std::string_view params = mqtt_client_id.substr(first + 1, mqtt_client_id.size() - first - 2);
    if (params.find('|') != std::string_view::npos) return std::nullopt;
    while (!params.empty()) {
        auto comma = params.find(',');
        std::string_view kv = params.substr(0, comma);
        params = comma == std::string_view::npos ? std::string_view{} : params.substr(comma + 1);
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
        if (k == "securemode") {
            auto n = parse_uint<int>(v);
            if (!n) return std::nullopt;
            out.secure_mode = *n;
        } else if (k == "signmethod") {
            out.method = parse_sign_method(v);
            if (!out.method) return std::nullopt;
        } else if (k == "timestamp") {
            out.timestamp_ms = parse_uint<std::uint64_t>(v);
            if (!out.timestamp_ms) return std::nullopt;
        }
        // Other keys (_v, _ss, lan, gw, ext, ...) are not signed; ignored as the cloud does.
    }
    return out;
}

// --------------------------------------------------------------------------------- Tencent

std::optional<std::string> tencent_password(std::string_view psk_base64, std::string_view username,
                                            SignMethod m) {
    if (m == SignMethod::hmacmd5) return std::nullopt;
    auto psk = base64_decode(psk_base64);
    if (!psk || psk->empty()) return std::nullopt;
    return hmac_hex(m, *psk, username) + ";" + std::string(to_string(m));
}

SignResult<MqttCredentials> sign_tencent(const TencentParams& p) {
    if (p.product_id.empty()) return SignError{"Tencent: product id is empty"};
    if (p.device_name.empty()) return SignError{"Tencent: device name is empty"};
    if (p.device_psk_base64.empty()) return SignError{"Tencent: device PSK is empty"};
    if (p.method == SignMethod::hmacmd5)
        return SignError{"Tencent: sign method must be hmacsha256 or hmacsha1"};
    if (p.conn_id.find(';') != std::string::npos)
        return SignError{"Tencent: conn id must not contain ';'"};

    MqttCredentials c;
    c.host = p.product_id + ".iotcloud.tencentdevices.com";
    c.port = p.port;
    c.client_id = p.product_id + p.device_name;
    const std::string conn = p.conn_id.empty() ? random_alnum(5) : p.conn_id;
    const std::uint64_t expiry = p.expiry_unix != 0 ? p.expiry_unix : now_unix() + 3600;
    c.username =
        c.client_id + ";" + std::to_string(p.sdkappid) + ";" + conn + ";" + std::to_string(expiry);
    auto pw = tencent_password(p.device_psk_base64, c.username, p.method);
    if (!pw) return SignError{"Tencent: device PSK is not valid base64"};
    c.password = std::move(*pw);
    return c;
}

std::optional<TencentUsername> parse_tencent_username(std::string_view username) {
    std::vector<std::string_view> parts;
    while (true) {
        auto semi = username.find(';');
        parts.push_back(username.substr(0, semi));
        if (semi == std::string_view::npos) break;
        username = username.substr(semi + 1);
    }
    if (parts.size() != 4 || parts[0].empty()) return std::nullopt;
    auto app = parse_uint<std::uint32_t>(parts[1]);
    auto exp = parse_uint<std::uint64_t>(parts[3]);
    if (!app || !exp) return std::nullopt;
    return TencentUsername{std::string(parts[0]), *app, std::string(parts[2]), *exp};
}

// ------------------------------------------------------------------------ IoT Suite token

std::string token_sign_content(std::string_view client_id, std::string_view device_name,
                               std::uint64_t expire_s, std::uint32_t nonce,
                               std::string_view product_id, std::uint64_t timestamp) {
    std::string s;
    s.append("clientId=").append(client_id);
    s.append("&deviceName=").append(device_name);
    s.append("&expire=").append(std::to_string(expire_s));
    s.append("&nonce=").append(std::to_string(nonce));
    s.append("&productId=").append(product_id);
    s.append("&timestamp=").append(std::to_string(timestamp));
    return s;
}

std::string token_signature(std::string_view device_secret, std::string_view sign_content) {
    return hmac_base64(SignMethod::hmacsha256, device_secret, sign_content);
}

std::string token_request_body(const TokenRequest& r) {
    const std::uint32_t nonce = r.nonce != 0 ? r.nonce : random_nonce31();
    const std::uint64_t ts = r.timestamp != 0 ? r.timestamp : now_unix();
    const std::uint64_t expire_s = std::uint64_t{r.expire_days} * 86400u;
    const std::string client_id =
        r.client_id.empty() ? r.product_id + "@" + r.device_name : r.client_id;
    const std::string sig = token_signature(
        r.device_secret,
        token_sign_content(client_id, r.device_name, expire_s, nonce, r.product_id, ts));
    std::string body;
    body.append("clientId=").append(url_encode(client_id));
    body.append("&deviceName=").append(url_encode(r.device_name));
    body.append("&expire=").append(std::to_string(expire_s));
    body.append("&nonce=").append(std::to_string(nonce));
    body.append("&productId=").append(url_encode(r.product_id));
    body.append("&timestamp=").append(std::to_string(ts));
    body.append("&signature=").append(url_encode(sig));
    return body;
}

}  // namespace qmtkit::cloud
