#include <ctime>
#include <variant>

#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/image/writer.hpp"

namespace qmtkit::image {
namespace {

namespace cl = qmtkit::cloud;
namespace mf = qmtkit::manifest;

const cl::MqttCredentials& signed_or_throw(const cl::SignResult<cl::MqttCredentials>& r) {
    if (const auto* e = std::get_if<cl::SignError>(&r))
        throw ImageWriteError("cannot sign: " + e->message);
    return std::get<cl::MqttCredentials>(r);
}

void add_presigned(std::vector<Field>& f, const cl::MqttCredentials& c) {
    f.push_back(text(Tag::host, c.host));
    f.push_back(u16(Tag::port, c.port));
    f.push_back(text(Tag::client_id, c.client_id));
    f.push_back(text(Tag::username, c.username));
    f.push_back(text(Tag::password, c.password));
}

}  // namespace

DeviceImage device_image(const mf::Manifest& m, const mf::Device& d, const std::string& secret,
                         const DeviceImageOptions& o) {
    if (!mf::imei_valid(o.imei))
        throw ImageWriteError("IMEI " + o.imei +
                              " is not 15 decimal digits ending in its Luhn check digit");
    if (d.imei && *d.imei != o.imei)
        throw ImageWriteError("IMEI " + o.imei + " is not device " + d.device_name +
                              "'s IMEI in the manifest (" + *d.imei + ")");
    const std::uint16_t port = m.port.value_or(1883);
    const std::string method = m.sign_method.empty() ? "hmacsha256" : m.sign_method;
    DeviceImage out;
    std::vector<Field> f;
    switch (m.cloud) {
        case mf::Cloud::aliyun:
            if (m.secure_mode != 3)
                throw ImageWriteError("secure_mode " + std::to_string(m.secure_mode) +
                                      " (TLS) cannot be used: the module's MQTT connection is "
                                      "plain TCP, secure_mode 3");
            if (!o.sign_on_host) {
                out.profile = Profile::aliyun_aliauth;
                f.push_back(text(Tag::product, d.product));
                f.push_back(text(Tag::device_name, d.device_name));
                f.push_back(text(Tag::secret, secret));
                if (!m.endpoint.empty()) f.push_back(text(Tag::host, m.endpoint));
                f.push_back(u16(Tag::port, port));
                if (!d.client_id.empty()) f.push_back(text(Tag::client_id, d.client_id));
                f.push_back(text(Tag::region, m.region));
                f.push_back(u8(Tag::secure_mode, 3));
            } else {
                out.profile = Profile::presigned;
                cl::AliyunParams p;
                p.product_key = d.product;
                p.device_name = d.device_name;
                p.device_secret = secret;
                p.client_id = d.client_id;
                p.method = *cl::parse_sign_method(method);
                p.region = m.region;
                p.endpoint = m.endpoint;
                p.port = port;
                add_presigned(f, signed_or_throw(cl::sign_aliyun(p)));
                f.push_back(text(Tag::product, d.product));
                f.push_back(text(Tag::device_name, d.device_name));
                f.push_back(text(Tag::sign_method, method));
            }
            break;
        case mf::Cloud::tencent: {
            out.profile = Profile::tencent_signed;
            const std::uint64_t now =
                o.now_unix != 0 ? o.now_unix : static_cast<std::uint64_t>(std::time(nullptr));
            cl::TencentParams p;
            p.product_id = d.product;
            p.device_name = d.device_name;
            p.device_psk_base64 = secret;
            p.expiry_unix = now + m.expiry_s;
            p.sdkappid = m.sdkappid;
            p.method = *cl::parse_sign_method(method);
            p.port = port;
            cl::MqttCredentials c = signed_or_throw(cl::sign_tencent(p));
            if (!m.endpoint.empty()) c.host = m.endpoint;
            add_presigned(f, c);
            f.push_back(text(Tag::product, d.product));
            f.push_back(text(Tag::device_name, d.device_name));
            f.push_back(text(Tag::sign_method, method));
            out.expires_unix = p.expiry_unix;
            break;
        }
        case mf::Cloud::tencent_token:
            if (o.sign_on_host)
                throw ImageWriteError(
                    "tencent-token devices cannot be signed on the host: a token expires, so the "
                    "module fetches it (profile 3)");
            out.profile = Profile::tencent_token;
            f.push_back(text(Tag::product, d.product));
            f.push_back(text(Tag::device_name, d.device_name));
            f.push_back(text(Tag::secret, secret));
            if (!m.endpoint.empty()) f.push_back(text(Tag::host, m.endpoint));
            f.push_back(u16(Tag::port, port));
            f.push_back(text(Tag::token_url, m.token_url));
            f.push_back(u8(Tag::expire_days, static_cast<std::uint8_t>(m.expire_days)));
            break;
    }
    f.push_back(text(Tag::imei, o.imei));
    out.bytes = encode_image(out.profile, f);
    return out;
}

}  // namespace qmtkit::image
