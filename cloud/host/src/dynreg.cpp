// Dynamic registration (Aliyun one-product-one-secret, Tencent IoT Hub / Explorer) with
// OpenSSL (HMAC, SHA-256, AES-128-CBC, base64) and libcurl. Formats and sources:
// docs/dynamic-registration.md. Messages never contain the product secret or a device secret.
#include "qmtkit/cloud/dynreg.hpp"

#include "http.hpp"
#include "qmtkit/cloud/signing.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>

namespace qmtkit::cloud {
namespace {

using nlohmann::json;

constexpr std::size_t kAesBlock = 16;

DynregError error(DynregError::Kind kind, std::string message) {
    DynregError e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
}

std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

std::string trim_slash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// The transport / HTTP status part shared by both clouds; nullopt when the answer is a 2xx.
std::optional<DynregError> transport_error(const detail::HttpAnswer& a, const char* who) {
    if (a.curl_code != 0) {
        auto e = error(DynregError::Kind::transport,
                       std::string(who) + " registration request failed: " + a.error);
        e.curl_code = a.curl_code;
        return e;
    }
    if (a.status < 200 || a.status > 299) {
        auto e = error(
            DynregError::Kind::http_status,
            std::string(who) + " registration server answered HTTP " + std::to_string(a.status));
        e.http_status = a.status;
        return e;
    }
    return std::nullopt;
}

std::string string_or(const json& o, const char* key, std::string fallback = {}) {
    if (o.is_object() && o.contains(key) && o[key].is_string()) return o[key].get<std::string>();
    return fallback;
}

// EVP AES-128-CBC without padding over whole blocks.
std::optional<std::string> aes_cbc(bool encrypt, std::string_view product_secret,
                                   std::string_view in) {
    if (product_secret.size() < kAesBlock || in.size() % kAesBlock != 0) return std::nullopt;
    unsigned char key[kAesBlock], iv[kAesBlock];
    for (std::size_t i = 0; i < kAesBlock; ++i) {
        key[i] = static_cast<unsigned char>(product_secret[i]);
        iv[i] = '0';  // "偏移量为长度16的字符'0'"; the SDK: memset(iv, '0', 16)
    }
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        &EVP_CIPHER_CTX_free);
    if (!ctx ||
        EVP_CipherInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key, iv, encrypt ? 1 : 0) != 1)
        return std::nullopt;
    EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
    std::string out(in.size() + kAesBlock, '\0');
    int n = 0, tail = 0;
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    if (!in.empty() &&
        EVP_CipherUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(in.data()),
                         static_cast<int>(in.size())) != 1)
        return std::nullopt;
    if (EVP_CipherFinal_ex(ctx.get(), o + n, &tail) != 1) return std::nullopt;
    out.resize(static_cast<std::size_t>(n + tail));
    return out;
}

}  // namespace

// ------------------------------------------------------------------------------ Aliyun

std::string aliyun_dynreg_sign_content(std::string_view product_key, std::string_view device_name,
                                       std::string_view random) {
    std::string s;
    s.append("deviceName").append(device_name);
    s.append("productKey").append(product_key);
    s.append("random").append(random);
    return s;
}

std::string aliyun_dynreg_sign(std::string_view product_secret, std::string_view sign_content) {
    return hmac_hex(SignMethod::hmacsha256, product_secret, sign_content);
}

std::string aliyun_dynreg_body(std::string_view product_key, std::string_view device_name,
                               std::string_view random, std::string_view sign) {
    std::string b;
    b.append("productKey=").append(url_encode(product_key));
    b.append("&deviceName=").append(url_encode(device_name));
    b.append("&random=").append(url_encode(random));
    b.append("&sign=").append(url_encode(sign));
    b.append("&signMethod=hmacsha256");
    return b;
}

std::string aliyun_dynreg_default_url(std::string_view region) {
    return "https://iot-auth." + std::string(region) + ".aliyuncs.com";
}

DynregResult<AliyunRegistration> register_aliyun_device(const AliyunDynregRequest& r) {
    using K = DynregError::Kind;
    if (r.product_key.empty()) return error(K::bad_input, "Aliyun: product key is empty");
    if (r.device_name.empty()) return error(K::bad_input, "Aliyun: device name is empty");
    if (r.product_secret.empty()) return error(K::bad_input, "Aliyun: product secret is empty");
    if (r.base_url.empty() && r.region.empty())
        return error(K::bad_input, "Aliyun: region or base URL is required");
    const std::string random = r.random.empty() ? random_alnum(16) : r.random;
    const std::string sign = aliyun_dynreg_sign(
        r.product_secret, aliyun_dynreg_sign_content(r.product_key, r.device_name, random));
    const std::string url =
        trim_slash(r.base_url.empty() ? aliyun_dynreg_default_url(r.region) : r.base_url) +
        "/auth/register/device";
    const auto a = detail::http_post(
        url,
        {"Content-Type: application/x-www-form-urlencoded",
         "Accept: text/xml,text/javascript,text/html,application/json"},
        aliyun_dynreg_body(r.product_key, r.device_name, random, sign), r.timeout_ms);
    if (auto e = transport_error(a, "Aliyun")) return *e;

    const json j = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("code") || !j["code"].is_number_integer())
        return error(K::bad_answer, "Aliyun registration answer is not the documented JSON");
    const long long code = j["code"].get<long long>();
    if (code != 200) {
        DynregError e;
        e.kind = K::refused;
        e.http_status = a.status;
        e.cloud_code = std::to_string(code);
        e.cloud_message = string_or(j, "message");
        e.message = "Aliyun refused the registration of " + r.product_key + "/" + r.device_name +
                    ": code " + e.cloud_code +
                    (e.cloud_message.empty() ? "" : " (" + e.cloud_message + ")");
        return e;
    }
    const json d = j.contains("data") ? j["data"] : json();
    AliyunRegistration out;
    out.device_secret = string_or(d, "deviceSecret");
    if (out.device_secret.empty())
        return error(K::bad_answer, "Aliyun registration answer lacks data.deviceSecret");
    out.product_key = string_or(d, "productKey", r.product_key);
    out.device_name = string_or(d, "deviceName", r.device_name);
    if (out.product_key != r.product_key || out.device_name != r.device_name)
        return error(K::bad_answer, "Aliyun registration answer names another device (" +
                                        out.product_key + "/" + out.device_name + ")");
    return out;
}

// ----------------------------------------------------------------------------- Tencent

std::string tencent_dynreg_default_url() {
    return "https://ap-guangzhou.gateway.tencentdevices.com";
}

std::string tencent_dynreg_body(std::string_view product_id, std::string_view device_name) {
    json j = {{"ProductId", std::string(product_id)}, {"DeviceName", std::string(device_name)}};
    return j.dump();  // keys sorted: {"DeviceName":..,"ProductId":..}
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(digits[md[i] >> 4]);
        out.push_back(digits[md[i] & 0x0f]);
    }
    return out;
}

std::string tencent_dynreg_string_to_sign(std::string_view host, std::string_view uri,
                                          std::uint64_t timestamp, std::uint32_t nonce,
                                          std::string_view body) {
    std::string s;
    s.append("POST\n").append(host).append("\n").append(uri).append("\n");
    s.append("\n");  // CanonicalQueryString: always empty for POST
    s.append("hmacsha256\n");
    s.append(std::to_string(timestamp)).append("\n");
    s.append(std::to_string(nonce)).append("\n");
    s.append(sha256_hex(body));
    return s;
}

std::string tencent_dynreg_signature(std::string_view product_secret,
                                     std::string_view string_to_sign) {
    return hmac_base64(SignMethod::hmacsha256, product_secret, string_to_sign);
}

std::optional<std::string> tencent_dynreg_encrypt(std::string_view product_secret,
                                                  std::string_view plaintext) {
    std::string padded(plaintext);
    padded.append((kAesBlock - padded.size() % kAesBlock) % kAesBlock, '\0');
    auto c = aes_cbc(true, product_secret, padded);
    if (!c) return std::nullopt;
    return base64_encode(*c);
}

std::optional<std::string> tencent_dynreg_decrypt(std::string_view product_secret,
                                                  std::string_view payload_base64,
                                                  std::optional<std::size_t> len) {
    auto raw = base64_decode(payload_base64);
    if (!raw || raw->empty()) return std::nullopt;
    auto p = aes_cbc(false, product_secret, *raw);
    if (!p) return std::nullopt;
    if (len) {
        if (*len > p->size()) return std::nullopt;
        p->resize(*len);
        return p;
    }
    // No Len: zero padding (what the SDK's parser tolerates) or PKCS#7.
    const unsigned char last = static_cast<unsigned char>(p->back());
    if (last >= 1 && last <= kAesBlock && p->size() >= last &&
        p->find_first_not_of(static_cast<char>(last), p->size() - last) == std::string::npos) {
        p->resize(p->size() - last);
    } else {
        while (!p->empty() && p->back() == '\0') p->pop_back();
    }
    return p;
}

DynregResult<TencentRegistration> register_tencent_device(const TencentDynregRequest& r) {
    using K = DynregError::Kind;
    if (r.product_id.empty()) return error(K::bad_input, "Tencent: product id is empty");
    if (r.device_name.empty()) return error(K::bad_input, "Tencent: device name is empty");
    if (r.product_secret.size() < kAesBlock)
        return error(K::bad_input,
                     "Tencent: product secret is shorter than 16 characters (the first 16 are "
                     "the AES key of the answer)");
    const std::string base =
        trim_slash(r.base_url.empty() ? tencent_dynreg_default_url() : r.base_url);
    // CanonicalHost is the request's Host header: host[:port] of the URL. We send that Host
    // header explicitly so the signed and the sent value cannot differ.
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
    char* host = nullptr;
    char* port = nullptr;
    if (!u || curl_url_set(u.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK ||
        curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK)
        return error(K::bad_input, "Tencent: base URL " + base + " is not a URL");
    std::string canonical_host = host;
    curl_free(host);
    if (curl_url_get(u.get(), CURLUPART_PORT, &port, 0) == CURLUE_OK && port) {
        canonical_host += std::string(":") + port;
        curl_free(port);
    }

    const std::uint32_t nonce = r.nonce != 0 ? r.nonce : random_nonce31();
    const std::uint64_t ts = r.timestamp != 0 ? r.timestamp : now_unix();
    const std::string body = tencent_dynreg_body(r.product_id, r.device_name);
    const std::string sig = tencent_dynreg_signature(
        r.product_secret,
        tencent_dynreg_string_to_sign(canonical_host, kTencentDynregUri, ts, nonce, body));
    const auto a = detail::http_post(
        base + std::string(kTencentDynregUri),
        {"Content-Type: application/json; charset=utf-8", "Host: " + canonical_host,
         "X-TC-Algorithm: hmacsha256", "X-TC-Timestamp: " + std::to_string(ts),
         "X-TC-Nonce: " + std::to_string(nonce), "X-TC-Signature: " + sig},
        body, r.timeout_ms);
    if (auto e = transport_error(a, "Tencent")) return *e;

    const json j = json::parse(a.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("Response") || !j["Response"].is_object())
        return error(K::bad_answer, "Tencent registration answer is not the documented JSON");
    const json& resp = j["Response"];
    if (resp.contains("Error")) {
        DynregError e;
        e.kind = K::refused;
        e.http_status = a.status;
        e.cloud_code = string_or(resp["Error"], "Code", "?");
        e.cloud_message = string_or(resp["Error"], "Message");
        e.message = "Tencent refused the registration of " + r.product_id + "/" + r.device_name +
                    ": " + e.cloud_code +
                    (e.cloud_message.empty() ? "" : " (" + e.cloud_message + ")");
        return e;
    }
    const std::string payload = string_or(resp, "Payload");
    if (payload.empty()) return error(K::bad_answer, "Tencent registration answer lacks Payload");
    std::optional<std::size_t> len;
    if (resp.contains("Len") && resp["Len"].is_number_unsigned())
        len = resp["Len"].get<std::size_t>();
    const auto plain = tencent_dynreg_decrypt(r.product_secret, payload, len);
    const json p = plain ? json::parse(*plain, nullptr, false) : json();
    if (!plain || p.is_discarded() || !p.is_object())
        return error(K::bad_answer,
                     "Tencent registration Payload does not decrypt to JSON with this product "
                     "secret");
    if (!p.contains("encryptionType") || !p["encryptionType"].is_number_integer() ||
        p["encryptionType"].get<int>() != 2)
        return error(K::bad_answer,
                     "Tencent registration Payload is not for a key-authenticated (PSK) product "
                     "(encryptionType must be 2)");
    TencentRegistration out;
    out.product_id = r.product_id;
    out.device_name = r.device_name;
    out.device_psk = string_or(p, "psk");
    if (out.device_psk.empty() || !base64_decode(out.device_psk))
        return error(K::bad_answer, "Tencent registration Payload lacks a base64 psk");
    return out;
}

}  // namespace qmtkit::cloud
