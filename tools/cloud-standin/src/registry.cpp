#include "registry.hpp"

#include "dynreg_server.hpp"

#include "qmtkit/cloud/signing.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace qmtkit::standin {
namespace cloud = qmtkit::cloud;
using nlohmann::json;

namespace {

std::string str_field(const json& o, const char* key, const std::string& where) {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string() ||
        o[key].get<std::string>().empty())
        throw std::runtime_error(where + ": \"" + key + "\" must be a non-empty string");
    return o[key].get<std::string>();
}

const json& array_field(const json& root, const char* key) {
    static const json empty = json::array();
    if (!root.contains(key)) return empty;
    if (!root[key].is_array())
        throw std::runtime_error(std::string("\"") + key + "\" must be an array");
    return root[key];
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

Verdict refuse(std::string scheme, std::string reason) {
    return Verdict{false, std::move(scheme), std::move(reason)};
}
Verdict accept(std::string scheme) {
    return Verdict{true, std::move(scheme), {}};
}

Verdict check_aliyun(const Registry& reg, const cloud::AliyunClientId& cid,
                     const std::optional<std::string>& username,
                     const std::optional<std::string>& password) {
    if (!username || !password) return refuse("aliyun", "username and password are required");
    const auto amp = username->find('&');
    if (amp == std::string::npos) return refuse("aliyun", "username is not deviceName&productKey");
    const std::string dn = username->substr(0, amp), pk = username->substr(amp + 1);
    if (cid.secure_mode != 2 && cid.secure_mode != 3)
        return refuse("aliyun", "securemode missing or not 2/3");
    if (!cid.method) return refuse("aliyun", "signmethod missing");
    auto it = std::find_if(reg.aliyun.begin(), reg.aliyun.end(), [&](const AliyunDevice& d) {
        return d.product_key == pk && d.device_name == dn;
    });
    std::string secret;
    if (it != reg.aliyun.end()) {
        secret = it->device_secret;
    } else if (const DynregProduct* p = find_product(reg.aliyun_products, pk);
               p && p->permits(dn) && !reg.dynreg_key.empty()) {
        secret = dynreg_aliyun_secret(reg.dynreg_key, pk, dn);  // what registration issued
    } else {
        return refuse("aliyun", "unknown device " + pk + "/" + dn);
    }
    const std::string expected = cloud::hmac_hex(
        *cid.method, secret, cloud::aliyun_sign_content(cid.id, dn, pk, cid.timestamp_ms));
    // The cloud compares the hex case-insensitively (its docs print upper-case examples).
    if (!cloud::constant_time_equal(expected, lower(*password)))
        return refuse("aliyun", "signature mismatch for " + pk + "/" + dn);
    return accept("aliyun");
}

Verdict check_tencent(const Registry& reg, const std::string& client_id,
                      const cloud::TencentUsername& u, const std::string& username,
                      const std::optional<std::string>& password, std::uint64_t now) {
    if (!password) return refuse("tencent", "password is required");
    if (u.client_id != client_id)
        return refuse("tencent", "username does not start with the clientId");
    auto it = std::find_if(reg.tencent.begin(), reg.tencent.end(), [&](const TencentDevice& d) {
        return d.product_id + d.device_name == client_id;
    });
    std::string psk;
    if (it != reg.tencent.end()) {
        psk = it->device_psk;
    } else if (!reg.dynreg_key.empty()) {
        // clientId = productId + deviceName: the product is a prefix of it.
        for (const auto& p : reg.tencent_products) {
            if (client_id.size() > p.product.size() && client_id.rfind(p.product, 0) == 0 &&
                p.permits(client_id.substr(p.product.size()))) {
                psk = dynreg_tencent_psk(reg.dynreg_key, p.product,
                                         client_id.substr(p.product.size()));
                break;
            }
        }
    }
    if (psk.empty()) return refuse("tencent", "unknown device " + client_id);
    if (u.expiry_unix <= now)
        return refuse("tencent",
                      "signature expired (expiry " + std::to_string(u.expiry_unix) + ")");
    const auto semi = password->rfind(';');
    if (semi == std::string::npos) return refuse("tencent", "password lacks ;hmacsha256|hmacsha1");
    auto m = cloud::parse_sign_method(password->substr(semi + 1));
    if (!m || *m == cloud::SignMethod::hmacmd5)
        return refuse("tencent", "password sign method is not hmacsha256/hmacsha1");
    auto expected = cloud::tencent_password(psk, username, *m);
    if (!expected) return refuse("tencent", "registry PSK for " + client_id + " is not base64");
    const std::string got = lower(password->substr(0, semi)) + password->substr(semi);
    if (!cloud::constant_time_equal(lower(*expected), lower(got)))
        return refuse("tencent", "signature mismatch for " + client_id);
    return accept("tencent");
}

// "<pid>@<dn>;<expiry>;<salt>"
struct TokenUser {
    std::string product_id, device_name;
    std::uint64_t expiry = 0;
};
std::optional<TokenUser> parse_token_username(const std::string& u) {
    const auto s1 = u.find(';');
    if (s1 == std::string::npos) return std::nullopt;
    const auto s2 = u.find(';', s1 + 1);
    if (s2 == std::string::npos || u.find(';', s2 + 1) != std::string::npos) return std::nullopt;
    const std::string cid = u.substr(0, s1), exp = u.substr(s1 + 1, s2 - s1 - 1);
    const auto at = cid.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == cid.size()) return std::nullopt;
    if (exp.empty() || exp.size() > 19 ||
        !std::all_of(exp.begin(), exp.end(), [](unsigned char c) { return std::isdigit(c); }))
        return std::nullopt;
    return TokenUser{cid.substr(0, at), cid.substr(at + 1), std::stoull(exp)};
}

Verdict check_token(const Registry& reg, const TokenUser& t, const std::string& username,
                    const std::optional<std::string>& password, std::uint64_t now) {
    if (!password) return refuse("token", "password is required");
    if (reg.token_key.empty()) return refuse("token", "registry has no token_key");
    auto it =
        std::find_if(reg.tencent_suite.begin(), reg.tencent_suite.end(), [&](const SuiteDevice& d) {
            return d.product_id == t.product_id && d.device_name == t.device_name;
        });
    if (it == reg.tencent_suite.end())
        return refuse("token", "unknown device " + t.product_id + "/" + t.device_name);
    if (t.expiry <= now) return refuse("token", "token expired");
    if (!cloud::constant_time_equal(token_password(reg.token_key, username), lower(*password)))
        return refuse("token", "token secret mismatch");
    return accept("token");
}

std::vector<std::string> name_list(const json& o, const char* key, const std::string& where) {
    std::vector<std::string> out;
    if (!o.contains(key)) return out;
    if (!o[key].is_array()) throw std::runtime_error(where + ": \"" + key + "\" must be an array");
    for (const auto& n : o[key]) {
        if (!n.is_string() || n.get<std::string>().empty())
            throw std::runtime_error(where + ": \"" + key + "\" must list non-empty strings");
        out.push_back(n.get<std::string>());
    }
    return out;
}

std::vector<DynregProduct> parse_products(const json& root, const char* section, const char* id_key,
                                          std::size_t min_secret) {
    std::vector<DynregProduct> out;
    std::size_t i = 0;
    for (const auto& p : array_field(root, section)) {
        const std::string w = std::string(section) + "[" + std::to_string(i++) + "]";
        DynregProduct d;
        d.product = str_field(p, id_key, w);
        d.product_secret = str_field(p, "product_secret", w);
        if (d.product_secret.size() < min_secret)
            throw std::runtime_error(w + ": \"product_secret\" must have at least " +
                                     std::to_string(min_secret) + " characters");
        d.devices = name_list(p, "devices", w);
        d.activated = name_list(p, "activated", w);
        if (p.contains("allow_reregister")) {
            if (!p["allow_reregister"].is_boolean())
                throw std::runtime_error(w + ": \"allow_reregister\" must be true or false");
            d.allow_reregister = p["allow_reregister"].get<bool>();
        }
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace

bool DynregProduct::permits(const std::string& device_name) const {
    return devices.empty() ||
           std::find(devices.begin(), devices.end(), device_name) != devices.end();
}

Registry Registry::parse(const std::string& text) {
    json root = json::parse(text, nullptr, false, /*ignore_comments=*/true);
    if (root.is_discarded() || !root.is_object())
        throw std::runtime_error("registry is not a JSON object");
    Registry r;
    std::size_t i = 0;
    for (const auto& d : array_field(root, "aliyun")) {
        const std::string w = "aliyun[" + std::to_string(i++) + "]";
        r.aliyun.push_back({str_field(d, "product_key", w), str_field(d, "device_name", w),
                            str_field(d, "device_secret", w)});
    }
    i = 0;
    for (const auto& d : array_field(root, "tencent")) {
        const std::string w = "tencent[" + std::to_string(i++) + "]";
        TencentDevice t{str_field(d, "product_id", w), str_field(d, "device_name", w),
                        str_field(d, "device_psk", w)};
        auto psk = cloud::base64_decode(t.device_psk);
        if (!psk || psk->empty()) throw std::runtime_error(w + ": \"device_psk\" is not base64");
        r.tencent.push_back(std::move(t));
    }
    i = 0;
    for (const auto& d : array_field(root, "tencent_suite")) {
        const std::string w = "tencent_suite[" + std::to_string(i++) + "]";
        r.tencent_suite.push_back({str_field(d, "product_id", w), str_field(d, "device_name", w),
                                   str_field(d, "device_secret", w)});
    }
    i = 0;
    for (const auto& d : array_field(root, "plain")) {
        const std::string w = "plain[" + std::to_string(i++) + "]";
        r.plain.push_back({str_field(d, "username", w), str_field(d, "password", w)});
    }
    if (root.contains("token_key")) r.token_key = str_field(root, "token_key", "registry");
    if (!r.tencent_suite.empty() && r.token_key.empty())
        throw std::runtime_error("registry: \"token_key\" is required with \"tencent_suite\"");
    auto num = [&](const char* key, std::uint64_t& out) {
        if (!root.contains(key)) return;
        if (!root[key].is_number_unsigned())
            throw std::runtime_error(std::string("registry: \"") + key +
                                     "\" must be a non-negative integer");
        out = root[key].get<std::uint64_t>();
    };
    num("token_max_skew_s", r.token_max_skew_s);
    num("token_max_expire_s", r.token_max_expire_s);
    num("dynreg_max_skew_s", r.dynreg_max_skew_s);
    r.aliyun_products = parse_products(root, "aliyun_products", "product_key", 1);
    r.tencent_products = parse_products(root, "tencent_products", "product_id", 16);
    if (root.contains("dynreg_key")) r.dynreg_key = str_field(root, "dynreg_key", "registry");
    if ((!r.aliyun_products.empty() || !r.tencent_products.empty()) && r.dynreg_key.empty())
        throw std::runtime_error(
            "registry: \"dynreg_key\" is required with \"aliyun_products\" / \"tencent_products\"");
    return r;
}

Registry Registry::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open registry " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str());
}

Verdict authenticate(const Registry& reg, const std::string& client_id,
                     const std::optional<std::string>& username,
                     const std::optional<std::string>& password, std::uint64_t now) {
    // Plain observers first: an exact username from the registry.
    if (username) {
        for (const auto& p : reg.plain) {
            if (p.username != *username) continue;
            if (password && cloud::constant_time_equal(p.password, *password))
                return accept("plain");
            return refuse("plain", "wrong password for plain user " + p.username);
        }
    }
    if (client_id.find('|') != std::string::npos) {
        auto cid = cloud::parse_aliyun_client_id(client_id);
        if (!cid) return refuse("aliyun", "malformed |...| part in clientId");
        return check_aliyun(reg, *cid, username, password);
    }
    if (!username) return refuse("", "no username (anonymous CONNECT refused)");
    if (auto u = cloud::parse_tencent_username(*username))
        return check_tencent(reg, client_id, *u, *username, password, now);
    if (auto t = parse_token_username(*username))
        return check_token(reg, *t, *username, password, now);
    return refuse("", "username matches no scheme and no plain user");
}

std::string token_password(const std::string& token_key, const std::string& username) {
    return cloud::hmac_hex(cloud::SignMethod::hmacsha256, token_key, username);
}

std::string TokenAnswer::to_json() const {
    json j;
    j["returnCode"] = return_code;
    j["returnMessage"] = return_message;
    if (return_code == 0) {
        j["data"] = {{"id", username}, {"secret", password}, {"expire", expire_s}};
    }
    return j.dump();
}

std::optional<std::map<std::string, std::string>> parse_form(const std::string& body) {
    std::map<std::string, std::string> out;
    std::size_t pos = 0;
    while (pos <= body.size()) {
        auto amp = body.find('&', pos);
        if (amp == std::string::npos) amp = body.size();
        const std::string kv = body.substr(pos, amp - pos);
        pos = amp + 1;
        if (kv.empty()) {
            if (amp == body.size()) break;
            continue;
        }
        const auto eq = kv.find('=');
        auto k = cloud::url_decode(kv.substr(0, eq));
        auto v = cloud::url_decode(eq == std::string::npos ? std::string{} : kv.substr(eq + 1));
        if (!k || !v) return std::nullopt;
        out[*k] = *v;
        if (amp == body.size()) break;
    }
    return out;
}

TokenAnswer issue_token(const Registry& reg, const std::map<std::string, std::string>& form,
                        std::uint64_t now) {
    TokenAnswer a;
    auto fail = [&](int code, std::string msg) {
        a.return_code = code;
        a.return_message = std::move(msg);
        return a;
    };
    for (const char* k :
         {"clientId", "deviceName", "expire", "nonce", "productId", "timestamp", "signature"}) {
        auto it = form.find(k);
        if (it == form.end() || it->second.empty())
            return fail(1001, std::string("missing parameter ") + k);
    }
    auto num = [](const std::string& s) -> std::optional<std::uint64_t> {
        if (s.empty() || s.size() > 19 ||
            !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
            return std::nullopt;
        return std::stoull(s);
    };
    const auto expire = num(form.at("expire")), nonce = num(form.at("nonce")),
               ts = num(form.at("timestamp"));
    if (!expire || !nonce || !ts || *nonce > 0xffffffffull)
        return fail(1001, "expire, nonce and timestamp must be unsigned integers");
    const std::string& pid = form.at("productId");
    const std::string& dn = form.at("deviceName");
    const std::string& cid = form.at("clientId");
    if (cid != pid + "@" + dn) return fail(1001, "clientId must be <productId>@<deviceName>");
    if (reg.token_key.empty()) return fail(1006, "token server has no token_key");
    auto it = std::find_if(
        reg.tencent_suite.begin(), reg.tencent_suite.end(),
        [&](const SuiteDevice& d) { return d.product_id == pid && d.device_name == dn; });
    if (it == reg.tencent_suite.end()) return fail(1002, "unknown device " + pid + "/" + dn);
    const std::string expected = cloud::token_signature(
        it->device_secret,
        cloud::token_sign_content(cid, dn, *expire, static_cast<std::uint32_t>(*nonce), pid, *ts));
    if (!cloud::constant_time_equal(expected, form.at("signature")))
        return fail(1003, "signature mismatch");
    if (reg.token_max_skew_s != 0) {
        const std::uint64_t skew = *ts > now ? *ts - now : now - *ts;
        if (skew > reg.token_max_skew_s) return fail(1004, "timestamp outside the allowed window");
    }
    if (*expire == 0 || *expire > reg.token_max_expire_s)
        return fail(1005,
                    "expire out of range (1.." + std::to_string(reg.token_max_expire_s) + " s)");
    a.username = cid + ";" + std::to_string(now + *expire) + ";" + cloud::random_alnum(8);
    a.password = token_password(reg.token_key, a.username);
    a.expire_s = *expire;
    a.return_message = "success";
    return a;
}

}  // namespace qmtkit::standin
