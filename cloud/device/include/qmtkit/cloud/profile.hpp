// Cloud profiles for the device (firmware-safe: no heap, no exceptions, no OpenSSL). A profile
// is data: it fills a qmt::Session, and the flags it sets choose the sequence the supervisor
// runs (aliauth before OPEN, the token flow before CONNECT, or plain pre-signed credentials).
// Switching clouds is configuration, not code.
#pragma once

#include <cstdint>
#include <string_view>

#include "qmtkit/qmt/client.hpp"

namespace qmtkit::cloud {

// Aliyun IoT Platform, one device one secret: the module signs CONNECT itself
// (AT+QMTCFG="aliauth"), so the device secret never leaves the module's AT line.
struct AliyunDevice {
    std::string_view product_key;
    std::string_view device_name;
    std::string_view device_secret;
    std::string_view region = "cn-shanghai";
    std::string_view
        endpoint;  // an instance endpoint; empty: <pk>.iot-as-mqtt.<region>.aliyuncs.com
    std::uint16_t port = 1883;   // 1883, or 443
    std::string_view client_id;  // empty: "<productKey>.<deviceName>"
};

// Tencent IoT Suite token flow: the module fetches a token (AT+QMTTENAUTH) and connects with it.
struct TencentTokenDevice {
    std::string_view product_id;
    std::string_view device_name;
    std::string_view device_secret;
    std::uint8_t expire_days = 60;  // 1..60
    std::string_view url;           // empty: the module's default token URL
    std::string_view host;          // empty: <productId>.iotcloud.tencentdevices.com
    std::uint16_t port = 1883;
};

// Username and password computed on the host (`qmtkit sign`) and stored with the device, for
// firmware or modules without aliauth / QMTTENAUTH.
struct PresignedDevice {
    std::string_view host;
    std::uint16_t port = 1883;
    std::string_view client_id;
    std::string_view username;
    std::string_view password;
};

// Holds the strings a profile composes (host names, client IDs) and the resulting session.
// ClientCore::configure() copies what it needs, so a ProfileStore may be short-lived.
struct ProfileStore {
    char host[qmt::kMaxHost + 1] = {};
    char client_id[160] = {};
    qmt::Session session;
};

qmt::Result<void> aliyun(const AliyunDevice& d, ProfileStore& out);
qmt::Result<void> tencent_token(const TencentTokenDevice& d, ProfileStore& out);
qmt::Result<void> presigned(const PresignedDevice& d, ProfileStore& out);

}  // namespace qmtkit::cloud
