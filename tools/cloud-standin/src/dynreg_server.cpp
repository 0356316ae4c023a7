#include "dynreg_server.hpp"

#include "qmtkit/cloud/dynreg.hpp"
#include "qmtkit/cloud/signing.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace qmtkit::standin {
namespace cloud = qmtkit::cloud;
using nlohmann::json;

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::optional<std::uint64_t> unsigned_number(const std::string& s) {
    if (s.empty() || s.size() > 19 ||
        !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
        return std::nullopt;
    return std::stoull(s);
}

std::string request_id() {
    const std::string r = lower(cloud::random_alnum(32));
    return r.substr(0, 8) + "-" + r.substr(8, 4) + "-" + r.substr(12, 4) + "-" + r.substr(16, 4) +
           "-" + r.substr(20, 12);
}

// The registration rules shared by both clouds: known product, permitted name, not activated,
// re-registration policy (checked after the signature, as a forged request learns nothing).
enum class Gate { ok, no_device, activated, reregistered };

Gate gate(const DynregProduct& p, const std::string& cloud_name, const std::string& device,
          DynregState& state) {
    if (!p.permits(device)) return Gate::no_device;
    if (std::find(p.activated.begin(), p.activated.end(), device) != p.activated.end())
        return Gate::activated;
    if (!state.first(cloud_name, p.product, device) && !p.allow_reregister)
        return Gate::reregistered;
    return Gate::ok;
}

}  // namespace

const DynregProduct* find_product(const std::vector<DynregProduct>& products,
                                  const std::string& product) {
    auto it = std::find_if(products.begin(), products.end(),
                           [&](const DynregProduct& p) { return p.product == product; });
    return it == products.end() ? nullptr : &*it;
}

std::string dynreg_aliyun_secret(const std::string& key, const std::string& product_key,
                                 const std::string& device_name) {
    return cloud::hmac_hex(cloud::SignMethod::hmacsha256, key,
                           "aliyun-dynreg/" + product_key + "/" + device_name)
        .substr(0, 32);
}

std::string dynreg_tencent_psk(const std::string& key, const std::string& product_id,
                               const std::string& device_name) {
    const std::string mac = cloud::hmac_base64(cloud::SignMethod::hmacsha256, key,
                                               "tencent-dynreg/" + product_id + "/" + device_name);
    auto raw = cloud::base64_decode(mac);
    return cloud::base64_encode(raw->substr(0, 16));
}

bool DynregState::first(const std::string& cloud_name, const std::string& product,
                        const std::string& device) {
    std::lock_guard<std::mutex> lock(mu_);
    return done_.insert(cloud_name + "\n" + product + "\n" + device).second;
}

// ------------------------------------------------------------------------------ Aliyun

DynregAnswer register_aliyun(const Registry& reg, const std::map<std::string, std::string>& form,
                             DynregState& state) {
    DynregAnswer a;
    auto fail = [&](int code, std::string msg) {
        a.code = std::to_string(code);
        a.message = msg;
        a.body = json{{"code", code}, {"message", std::move(msg)}}.dump();
        return a;
    };
    auto field = [&](const char* k) {
        auto it = form.find(k);
        return it == form.end() ? std::string() : it->second;
    };
    a.product = field("productKey");
    a.device = field("deviceName");
    const std::string random = field("random"), sign = field("sign"),
                      method_name = field("signMethod");
    if (a.product.empty() || a.device.empty() || random.empty() || sign.empty() ||
        method_name.empty())
        return fail(460,
                    "request parameter error: productKey, deviceName, random, sign and "
                    "signMethod are required");
    const auto method = cloud::parse_sign_method(method_name);
    if (!method) return fail(460, "request parameter error: unsupported signMethod");
    const DynregProduct* p = find_product(reg.aliyun_products, a.product);
    if (!p) return fail(6250, "product not found or dynamic registration not enabled");
    const std::string expected = cloud::hmac_hex(
        *method, p->product_secret, cloud::aliyun_dynreg_sign_content(a.product, a.device, random));
    if (!cloud::constant_time_equal(expected, lower(sign)))
        return fail(401, "request auth error: sign mismatch");
    switch (gate(*p, "aliyun", a.device, state)) {
        case Gate::ok:
            break;
        case Gate::no_device:
            return fail(6100, "device not found (this product needs pre-registration)");
        case Gate::activated:
            return fail(403, "request forbidden: device already activated");
        case Gate::reregistered:
            return fail(403, "request forbidden: device already registered");
    }
    a.code = "200";
    a.message = "success";
    a.body = json{{"code", 200},
                  {"data",
                   {{"productKey", a.product},
                    {"deviceName", a.device},
                    {"deviceSecret", dynreg_aliyun_secret(reg.dynreg_key, a.product, a.device)}}},
                  {"message", "success"}}
                 .dump();
    return a;
}

// ----------------------------------------------------------------------------- Tencent

DynregAnswer register_tencent(const Registry& reg,
                              const std::map<std::string, std::string>& headers,
                              const std::string& body, std::uint64_t now, DynregState& state) {
    DynregAnswer a;
    const std::string rid = request_id();
    auto fail = [&](const char* code, std::string msg) {
        a.code = code;
        a.message = msg;
        a.body =
            json{{"Response",
                  {{"Error", {{"Code", code}, {"Message", std::move(msg)}}}, {"RequestId", rid}}}}
                .dump();
        return a;
    };
    auto header = [&](const char* k) {
        auto it = headers.find(k);
        return it == headers.end() ? std::string() : it->second;
    };
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ProductId") ||
        !j["ProductId"].is_string() || !j.contains("DeviceName") || !j["DeviceName"].is_string())
        return fail("InvalidParameterValue", "body must be JSON with ProductId and DeviceName");
    a.product = j["ProductId"].get<std::string>();
    a.device = j["DeviceName"].get<std::string>();
    const std::string host = header("host"), sig = header("x-tc-signature");
    const auto ts = unsigned_number(header("x-tc-timestamp"));
    const auto nonce = unsigned_number(header("x-tc-nonce"));
    if (a.product.empty() || a.device.empty() || host.empty() || sig.empty() || !ts || !nonce ||
        *nonce > 0xffffffffull)
        return fail("InvalidParameterValue",
                    "ProductId, DeviceName and the X-TC-Timestamp, X-TC-Nonce, X-TC-Signature "
                    "headers are required");
    if (lower(header("x-tc-algorithm")) != "hmacsha256")
        return fail("InvalidParameterValue", "X-TC-Algorithm must be hmacsha256");
    const DynregProduct* p = find_product(reg.tencent_products, a.product);
    if (!p) return fail("ResourceNotFound.ProductNotExist", "product not found");
    if (reg.dynreg_max_skew_s != 0) {
        const std::uint64_t skew = *ts > now ? *ts - now : now - *ts;
        if (skew > reg.dynreg_max_skew_s)
            return fail("AuthFailure.SignatureExpire", "X-TC-Timestamp outside the allowed window");
    }
    const std::string expected = cloud::tencent_dynreg_signature(
        p->product_secret,
        cloud::tencent_dynreg_string_to_sign(host, cloud::kTencentDynregUri, *ts,
                                             static_cast<std::uint32_t>(*nonce), body));
    if (!cloud::constant_time_equal(expected, sig))
        return fail("AuthFailure.SignatureFailure", "signature mismatch");
    switch (gate(*p, "tencent", a.device, state)) {
        case Gate::ok:
            break;
        case Gate::no_device:
            return fail("ResourceNotFound.DeviceNotExist",
                        "device not found (this product needs pre-created devices)");
        case Gate::activated:
            return fail("UnauthorizedOperation.DeviceHasActivated", "device already activated");
        case Gate::reregistered:
            return fail("UnauthorizedOperation.DeviceHasActivated", "device already registered");
    }
    const std::string plain = json{{"encryptionType", 2},
                                   {"psk", dynreg_tencent_psk(reg.dynreg_key, a.product, a.device)}}
                                  .dump();
    const auto payload = cloud::tencent_dynreg_encrypt(p->product_secret, plain);
    if (!payload) return fail("InternalError", "cannot encrypt the payload");
    a.code = "0";
    a.message = "success";
    a.body = json{{"Response", {{"Len", plain.size()}, {"Payload", *payload}, {"RequestId", rid}}}}
                 .dump();
    return a;
}

}  // namespace qmtkit::standin
