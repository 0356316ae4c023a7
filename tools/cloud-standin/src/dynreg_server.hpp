// The stand-in's dynamic registration endpoints (served by qmtkit-token-server):
//   POST /auth/register/device   Aliyun one-product-one-secret (form body)
//   POST /device/register        Tencent IoT Hub / Explorer (JSON body, X-TC-* headers)
// They check the signature as the clouds do (docs/dynamic-registration.md) and issue a device
// secret derived from Registry::dynreg_key, which the mosquitto plugin re-derives. Free of HTTP
// so it can be unit-tested. No secret in any message or log line.
#pragma once

#include "registry.hpp"

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace qmtkit::standin {

const DynregProduct* find_product(const std::vector<DynregProduct>& products,
                                  const std::string& product);

// The issued secrets: Aliyun 32 hex characters, Tencent base64 of 16 bytes (a console-style PSK).
std::string dynreg_aliyun_secret(const std::string& key, const std::string& product_key,
                                 const std::string& device_name);
std::string dynreg_tencent_psk(const std::string& key, const std::string& product_id,
                               const std::string& device_name);

// Registrations made during this run (allow_reregister: false refuses a second one).
class DynregState {
  public:
    // True the first time for this cloud/product/device.
    bool first(const std::string& cloud, const std::string& product, const std::string& device);

  private:
    std::mutex mu_;
    std::set<std::string> done_;
};

struct DynregAnswer {
    int http_status = 200;
    std::string body;     // JSON, the cloud's documented shape
    std::string code;     // "200" / "0" on success; the error code otherwise
    std::string message;  // for the log; never a secret
    std::string product, device;
};

// Aliyun: form fields productKey, deviceName, random, sign, signMethod.
DynregAnswer register_aliyun(const Registry& reg, const std::map<std::string, std::string>& form,
                             DynregState& state);

// Tencent: `headers` holds host, x-tc-algorithm, x-tc-timestamp, x-tc-nonce, x-tc-signature
// (names lower-case); `body` is the raw JSON body as received.
DynregAnswer register_tencent(const Registry& reg,
                              const std::map<std::string, std::string>& headers,
                              const std::string& body, std::uint64_t now_unix, DynregState& state);

}  // namespace qmtkit::standin
