#include "qmtkit/cloud/profile.hpp"

#include <initializer_list>

namespace qmtkit::cloud {
namespace {

// Concatenates parts into buf (NUL-terminated); false when it does not fit.
bool compose(char* buf, std::size_t cap, std::initializer_list<std::string_view> parts,
             std::string_view& out) {
    std::size_t n = 0;
    for (std::string_view p : parts) {
        if (p.size() >= cap - n) return false;
        for (char c : p) buf[n++] = c;
    }
    buf[n] = '\0';
    out = std::string_view(buf, n);
    return true;
}

qmt::Result<void> fail(qmt::Error e) {
    return unexpected(qmt::ClientError{e, at::Cme::none, 0});
}

}  // namespace

qmt::Result<void> aliyun(const AliyunDevice& d, ProfileStore& out) {
    if (d.product_key.empty() || d.device_name.empty() || d.device_secret.empty())
        return fail(qmt::Error::field_empty);
    qmt::Session& s = out.session;
    s = qmt::Session{};
    if (!d.endpoint.empty()) {
        if (!compose(out.host, sizeof(out.host), {d.endpoint}, s.host))
            return fail(qmt::Error::host_too_long);
    } else if (!compose(out.host, sizeof(out.host),
                        {d.product_key, ".iot-as-mqtt.", d.region, ".aliyuncs.com"}, s.host)) {
        return fail(qmt::Error::host_too_long);
    }
    const bool own_id = !d.client_id.empty();
    if (!compose(
            out.client_id, sizeof(out.client_id),
            {own_id ? d.client_id : d.product_key, own_id ? "" : ".", own_id ? "" : d.device_name},
            s.client_id)) {
        return fail(qmt::Error::field_too_long);
    }
    s.port = d.port;
    s.use_aliauth = true;
    s.aliauth = qmt::AliAuth{d.product_key, d.device_name, d.device_secret};
    return {};
}

qmt::Result<void> tencent_token(const TencentTokenDevice& d, ProfileStore& out) {
    if (d.product_id.empty() || d.device_name.empty() || d.device_secret.empty())
        return fail(qmt::Error::field_empty);
    if (d.expire_days < 1 || d.expire_days > qmt::kMaxExpireDays)
        return fail(qmt::Error::expire_out_of_range);
    qmt::Session& s = out.session;
    s = qmt::Session{};
    if (!d.host.empty()) {
        if (!compose(out.host, sizeof(out.host), {d.host}, s.host))
            return fail(qmt::Error::host_too_long);
    } else if (!compose(out.host, sizeof(out.host), {d.product_id, ".iotcloud.tencentdevices.com"},
                        s.host)) {
        return fail(qmt::Error::host_too_long);
    }
    // Tencent's MQTT client ID is ${productId}${deviceName}.
    if (!compose(out.client_id, sizeof(out.client_id), {d.product_id, d.device_name},
                 s.client_id)) {
        return fail(qmt::Error::field_too_long);
    }
    s.port = d.port;
    s.use_tenauth = true;
    s.tenauth = qmt::TenAuth{d.product_id, d.device_name, d.device_secret, d.expire_days, d.url};
    return {};
}

qmt::Result<void> presigned(const PresignedDevice& d, ProfileStore& out) {
    if (d.host.empty()) return fail(qmt::Error::host_empty);
    if (d.client_id.empty()) return fail(qmt::Error::client_id_empty);
    if (!d.password.empty() && d.username.empty())
        return fail(qmt::Error::password_without_username);
    qmt::Session& s = out.session;
    s = qmt::Session{};
    if (!compose(out.host, sizeof(out.host), {d.host}, s.host))
        return fail(qmt::Error::host_too_long);
    if (!compose(out.client_id, sizeof(out.client_id), {d.client_id}, s.client_id))
        return fail(qmt::Error::field_too_long);
    s.port = d.port;
    s.username = d.username;
    s.password = d.password;
    return {};
}

}  // namespace qmtkit::cloud
