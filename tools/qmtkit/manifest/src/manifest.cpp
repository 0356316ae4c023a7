#include "qmtkit/manifest/manifest.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "json_pos.hpp"
#include "qmtkit/cloud/signing.hpp"

namespace qmtkit::manifest {

using detail::Member;
using detail::Node;

std::string Diagnostic::to_string() const {
    // Positions are 1-based; a diagnostic about the file as a whole (it cannot be read) has none.
    if (pos.line <= 0) return file + ": " + message;
    return file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col) + ": " + message;
}

std::string_view to_string(Cloud c) {
    switch (c) {
        case Cloud::aliyun:
            return "aliyun";
        case Cloud::tencent:
            return "tencent";
        case Cloud::tencent_token:
            return "tencent-token";
    }
    return "?";
}

bool imei_valid(std::string_view imei) {
    if (imei.size() != 15) return false;
    for (char c : imei)
        if (c < '0' || c > '9') return false;
    int sum = 0;
    for (int i = 0; i < 14; ++i) {
        int d = imei[static_cast<std::size_t>(i)] - '0';
        if (i % 2 == 1) {  // every second digit, counted from the left (positions 2, 4, ... 14)
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10 == imei[14] - '0';
}

namespace {

int luhn_digit(std::string_view first14) {
    int sum = 0;
    for (int i = 0; i < 14; ++i) {
        int d = first14[static_cast<std::size_t>(i)] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

std::string quoted(std::string_view key) {
    return "\"" + std::string(key) + "\"";
}

std::string at_line(Position p) {
    return "line " + std::to_string(p.line);
}

// Keys per cloud (device level). The secret keys are listed separately.
struct CloudKeys {
    const char* product_key;  // "product_key" or "product_id"
    const char* secret_base;  // "device_secret" or "device_psk"
    const char* secret_what;  // for messages
};

CloudKeys keys_for(Cloud c) {
    switch (c) {
        case Cloud::aliyun:
            return {"product_key", "device_secret", "device secret"};
        case Cloud::tencent:
            return {"product_id", "device_psk", "device PSK"};
        case Cloud::tencent_token:
            return {"product_id", "device_secret", "device secret"};
    }
    return {"product_key", "device_secret", "device secret"};
}

class Validator {
  public:
    explicit Validator(std::string file) : file_(std::move(file)) {}

    LoadResult run(std::string_view text) {
        LoadResult out;
        detail::ParseError pe;
        auto root = detail::parse_json(text, pe);
        if (!root) {
            error(pe.pos, pe.message);
            out.errors = std::move(errors_);
            return out;
        }
        Manifest m;
        m.file = file_;
        top(*root, m);
        std::stable_sort(
            errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
                return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.col < b.pos.col;
            });
        if (errors_.empty()) out.manifest = std::move(m);
        out.errors = std::move(errors_);
        return out;
    }

  private:
    void error(Position p, std::string msg) {
        errors_.push_back(Diagnostic{file_, p, std::move(msg)});
    }

    // The object's members by key; duplicate keys are errors (reported at the repeat).
    std::map<std::string, const Member*> index(const Node& obj) {
        std::map<std::string, const Member*> by_key;
        for (const auto& mem : obj.members) {
            auto [it, fresh] = by_key.emplace(mem.key, &mem);
            if (!fresh)
                error(mem.key_pos, "duplicate key " + quoted(mem.key) + " (first at " +
                                       at_line(it->second->key_pos) + ")");
        }
        return by_key;
    }

    bool expect_type(const Node& n, Node::Type t, std::string_view what) {
        if (n.type == t) return true;
        error(n.pos, quoted(what) + " must be " + std::string(detail::type_name(t)) + ", not " +
                         std::string(detail::type_name(n.type)));
        return false;
    }

    // A non-empty string without control characters. The value is never quoted in messages
    // (it may be a secret).
    std::optional<std::string> text(const Node& n, std::string_view what) {
        if (!expect_type(n, Node::Type::string, what)) return std::nullopt;
        if (n.text.empty()) {
            error(n.pos, quoted(what) + " must not be empty");
            return std::nullopt;
        }
        for (char c : n.text) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                error(n.pos, quoted(what) + " must not contain control characters");
                return std::nullopt;
            }
        }
        return n.text;
    }

    std::optional<std::uint64_t> integer(const Node& n, std::string_view what, std::uint64_t lo,
                                         std::uint64_t hi) {
        if (!expect_type(n, Node::Type::number, what)) return std::nullopt;
        const std::string& t = n.text;
        const bool plain = !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
        const bool negative =
            !t.empty() && t[0] == '-' && t.find_first_not_of("0123456789", 1) == std::string::npos;
        if (!plain && !negative) {
            error(n.pos, quoted(what) + " must be an integer");
            return std::nullopt;
        }
        std::uint64_t v = 0;
        bool overflow = negative;
        if (plain) {
            for (char c : t) {
                const auto d = static_cast<std::uint64_t>(c - '0');
                if (v > (UINT64_MAX - d) / 10) {
                    overflow = true;
                    break;
                }
                v = v * 10 + d;
            }
        }
        if (overflow || v < lo || v > hi) {
            error(n.pos, quoted(what) + " must be between " + std::to_string(lo) + " and " +
                             std::to_string(hi));
            return std::nullopt;
        }
        return v;
    }

    void top(const Node& root, Manifest& m) {
        if (root.type != Node::Type::object) {
            error(root.pos, "the manifest must be a JSON object, not " +
                                std::string(detail::type_name(root.type)));
            return;
        }
        auto keys = index(root);

        // The cloud first: it decides which other keys apply.
        std::optional<Cloud> cloud;
        if (auto it = keys.find("cloud"); it == keys.end()) {
            error(root.pos, "missing required key \"cloud\" (aliyun, tencent or tencent-token)");
        } else if (auto v = text(it->second->value, "cloud")) {
            if (*v == "aliyun")
                cloud = Cloud::aliyun;
            else if (*v == "tencent")
                cloud = Cloud::tencent;
            else if (*v == "tencent-token")
                cloud = Cloud::tencent_token;
            else
                error(it->second->value.pos, "\"cloud\" must be aliyun, tencent or tencent-token");
        }
        if (cloud) m.cloud = *cloud;

        static const std::map<std::string, std::set<Cloud>> applies = {
            {"$schema", {Cloud::aliyun, Cloud::tencent, Cloud::tencent_token}},
            {"description", {Cloud::aliyun, Cloud::tencent, Cloud::tencent_token}},
            {"cloud", {Cloud::aliyun, Cloud::tencent, Cloud::tencent_token}},
            {"devices", {Cloud::aliyun, Cloud::tencent, Cloud::tencent_token}},
            {"endpoint", {Cloud::aliyun, Cloud::tencent, Cloud::tencent_token}},
            {"port", {Cloud::aliyun, Cloud::tencent, Cloud::tencent_token}},
            {"region", {Cloud::aliyun}},
            {"secure_mode", {Cloud::aliyun}},
            {"sign_method", {Cloud::aliyun, Cloud::tencent}},
            {"sdkappid", {Cloud::tencent}},
            {"expiry_s", {Cloud::tencent}},
            {"token_url", {Cloud::tencent_token}},
            {"expire_days", {Cloud::tencent_token}},
            {"dynamic_registration", {Cloud::aliyun, Cloud::tencent}},
            {"product_secret", {Cloud::aliyun, Cloud::tencent}},
            {"product_secret_file", {Cloud::aliyun, Cloud::tencent}},
            {"product_secret_env", {Cloud::aliyun, Cloud::tencent}},
            {"registration_url", {Cloud::aliyun, Cloud::tencent}},
        };
        for (const auto& mem : root.members) {
            auto a = applies.find(mem.key);
            if (a == applies.end()) {
                error(mem.key_pos, "unknown key " + quoted(mem.key));
            } else if (cloud && !a->second.count(*cloud)) {
                std::string clouds;
                for (Cloud c : a->second)
                    clouds += (clouds.empty() ? "" : " or ") + std::string(to_string(c));
                error(mem.key_pos, quoted(mem.key) + " applies to cloud " + clouds + " only, not " +
                                       std::string(to_string(*cloud)));
            }
        }
        auto get = [&](const char* k) -> const Node* {
            auto it = keys.find(k);
            return it == keys.end() ? nullptr : &it->second->value;
        };

        if (const Node* n = get("$schema")) text(*n, "$schema");
        if (const Node* n = get("description")) expect_type(*n, Node::Type::string, "description");
        if (const Node* n = get("endpoint")) {
            if (auto v = text(*n, "endpoint")) {
                if (v->find("://") != std::string::npos ||
                    v->find_first_of(" /:") != std::string::npos)
                    error(n->pos,
                          "\"endpoint\" must be a host name only (give the port as \"port\")");
                else
                    m.endpoint = *v;
            }
        }
        if (const Node* n = get("port"))
            if (auto v = integer(*n, "port", 1, 65535)) m.port = static_cast<std::uint16_t>(*v);
        if (cloud == Cloud::aliyun) {
            if (const Node* n = get("region")) {
                if (auto v = text(*n, "region")) {
                    if (v->find_first_of(" ./:") != std::string::npos)
                        error(n->pos, "\"region\" must be a region id such as cn-shanghai");
                    else
                        m.region = *v;
                }
            }
            if (const Node* n = get("secure_mode")) {
                if (auto v = integer(*n, "secure_mode", 2, 3)) m.secure_mode = static_cast<int>(*v);
            }
            if (const Node* n = get("sign_method")) {
                if (auto v = text(*n, "sign_method")) {
                    if (*v != "hmacsha256" && *v != "hmacsha1" && *v != "hmacmd5")
                        error(n->pos, "\"sign_method\" must be hmacsha256, hmacsha1 or hmacmd5");
                    else
                        m.sign_method = *v;
                }
            }
        }
        if (cloud == Cloud::tencent) {
            if (const Node* n = get("sign_method")) {
                if (auto v = text(*n, "sign_method")) {
                    if (*v != "hmacsha256" && *v != "hmacsha1")
                        error(n->pos, "\"sign_method\" must be hmacsha256 or hmacsha1");
                    else
                        m.sign_method = *v;
                }
            }
            if (const Node* n = get("sdkappid"))
                if (auto v = integer(*n, "sdkappid", 1, UINT32_MAX))
                    m.sdkappid = static_cast<std::uint32_t>(*v);
            if (const Node* n = get("expiry_s"))
                if (auto v = integer(*n, "expiry_s", 60, 10ull * 366 * 86400)) m.expiry_s = *v;
        }
        if (cloud == Cloud::tencent_token) {
            if (const Node* n = get("token_url")) {
                if (auto v = text(*n, "token_url")) {
                    if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
                        error(n->pos, "\"token_url\" must be an http:// or https:// URL");
                    else
                        m.token_url = *v;
                }
            } else {
                error(root.pos, "missing required key \"token_url\" (cloud tencent-token)");
            }
            if (const Node* n = get("expire_days"))
                if (auto v = integer(*n, "expire_days", 1, 60))
                    m.expire_days = static_cast<unsigned>(*v);
        }

        if (cloud == Cloud::aliyun || cloud == Cloud::tencent) dynreg(root, keys, m);

        const Node* devices = get("devices");
        if (!devices) {
            error(root.pos, "missing required key \"devices\"");
            return;
        }
        if (!expect_type(*devices, Node::Type::array, "devices")) return;
        if (devices->items.empty()) {
            error(devices->pos, "\"devices\" must list at least one device");
            return;
        }
        if (!cloud) return;  // device keys depend on the cloud
        std::map<std::string, Position> seen_ids, seen_imeis;
        for (std::size_t i = 0; i < devices->items.size(); ++i)
            device(devices->items[i], i, *cloud, m, seen_ids, seen_imeis);
        if (m.dynamic_registration) one_product(*devices, *cloud, m);
    }

    // "dynamic_registration", the product secret and "registration_url" (aliyun, tencent).
    void dynreg(const Node& root, const std::map<std::string, const Member*>& keys, Manifest& m) {
        auto get = [&](const char* k) -> const Member* {
            auto it = keys.find(k);
            return it == keys.end() ? nullptr : it->second;
        };
        const Member* flag = get("dynamic_registration");
        if (flag && expect_type(flag->value, Node::Type::boolean, "dynamic_registration"))
            m.dynamic_registration = flag->value.boolean;
        if (const Member* in = get("product_secret"))
            error(in->key_pos,
                  "an inline \"product_secret\" is refused (it unlocks every device of the "
                  "product): give \"product_secret_file\" or \"product_secret_env\"");
        const Member* file = get("product_secret_file");
        const Member* env = get("product_secret_env");
        const Member* url = get("registration_url");
        if (!m.dynamic_registration) {
            for (const Member* k : {file, env, url})
                if (k) error(k->key_pos, quoted(k->key) + " needs \"dynamic_registration\": true");
            return;
        }
        if (file && env) {
            const Member* second = file->key_pos.line > env->key_pos.line ||
                                           (file->key_pos.line == env->key_pos.line &&
                                            file->key_pos.col > env->key_pos.col)
                                       ? file
                                       : env;
            const Member* first = second == file ? env : file;
            error(second->key_pos, quoted(second->key) + " conflicts with " + quoted(first->key) +
                                       " (" + at_line(first->key_pos) +
                                       "): give exactly one source of the product secret");
        } else if (!file && !env) {
            if (!get("product_secret"))
                error(root.pos,
                      "\"dynamic_registration\": true needs the product secret: give "
                      "\"product_secret_file\" or \"product_secret_env\"");
        }
        if (const Member* src = file ? file : env) {
            if (auto v = text(src->value, src->key)) {
                SecretRef ref;
                ref.kind = src == file ? SecretRef::Kind::file : SecretRef::Kind::env;
                ref.value = *v;
                ref.key = src->key;
                ref.pos = src->value.pos;
                if (ref.kind == SecretRef::Kind::env && !env_name(*v))
                    error(src->value.pos,
                          quoted(src->key) +
                              " must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
                m.product_secret = std::move(ref);
            }
        }
        if (url) {
            if (auto v = text(url->value, "registration_url")) {
                if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0)
                    error(url->value.pos,
                          "\"registration_url\" must be an http:// or https:// URL");
                else
                    m.registration_url = *v;
            }
        }
    }

    // A product secret belongs to one product: every device must be of it.
    void one_product(const Node& devices, Cloud cloud, const Manifest& m) {
        if (m.devices.empty()) return;
        const std::string& first = m.devices.front().product;
        const char* key = keys_for(cloud).product_key;
        for (const auto& d : m.devices) {
            if (d.product == first) continue;
            error(d.pos, "dynamic registration: device " + d.product + "/" + d.device_name +
                             " is of another product than " + first + " (one " + quoted(key) +
                             " per manifest: the product secret is per product)");
        }
        (void)devices;
    }

    static bool env_name(const std::string& v) {
        return !v.empty() && (std::isalpha(static_cast<unsigned char>(v[0])) || v[0] == '_') &&
               v.find_first_not_of(
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                   std::string::npos;
    }

    void device(const Node& n, std::size_t i, Cloud cloud, Manifest& m,
                std::map<std::string, Position>& seen_ids,
                std::map<std::string, Position>& seen_imeis) {
        const std::string where = "devices[" + std::to_string(i) + "]";
        if (n.type != Node::Type::object) {
            error(n.pos,
                  where + " must be an object, not " + std::string(detail::type_name(n.type)));
            return;
        }
        const std::size_t errors_before = errors_.size();
        auto keys = index(n);
        const CloudKeys ck = keys_for(cloud);
        const std::string sb = ck.secret_base;
        const std::set<std::string> secret_keys = {sb, sb + "_file", sb + "_env"};
        std::set<std::string> allowed = {ck.product_key, "device_name", "imei", "description"};
        allowed.insert(secret_keys.begin(), secret_keys.end());
        if (cloud == Cloud::aliyun) allowed.insert("client_id");

        for (const auto& mem : n.members) {
            if (allowed.count(mem.key)) continue;
            std::string hint;
            if (mem.key == "product_id" || mem.key == "product_key")
                hint = " (cloud " + std::string(to_string(cloud)) + " uses " +
                       quoted(ck.product_key) + ")";
            else if (mem.key.rfind("device_secret", 0) == 0 || mem.key.rfind("device_psk", 0) == 0)
                hint = " (cloud " + std::string(to_string(cloud)) + " takes its " + ck.secret_what +
                       " as " + quoted(sb) + ", " + quoted(sb + "_file") + " or " +
                       quoted(sb + "_env") + ")";
            else if (mem.key == "client_id")
                hint = " (only Aliyun devices choose their client id)";
            error(mem.key_pos, "unknown key " + quoted(mem.key) + " in " + where + hint);
        }

        Device d;
        d.pos = n.pos;
        auto field = [&](const std::string& k, std::string& out) {
            auto it = keys.find(k);
            if (it == keys.end()) {
                error(n.pos, where + ": missing required key " + quoted(k));
                return;
            }
            if (auto v = text(it->second->value, k)) out = *v;
        };
        field(ck.product_key, d.product);
        field("device_name", d.device_name);

        auto forbid = [&](const std::string& value, const Node& at, std::string_view key,
                          const char* chars, const char* why) {
            if (value.find_first_of(chars) != std::string::npos) {
                error(at.pos, quoted(key) + " must not contain " + why);
                return true;
            }
            return false;
        };
        if (cloud == Cloud::aliyun) {
            if (!d.product.empty() && forbid(d.product, keys[ck.product_key]->value, ck.product_key,
                                             "&|, ", "'&', '|', ',' or spaces"))
                d.product.clear();
            if (!d.device_name.empty() && forbid(d.device_name, keys["device_name"]->value,
                                                 "device_name", "&|, ", "'&', '|', ',' or spaces"))
                d.device_name.clear();
            if (auto it = keys.find("client_id"); it != keys.end()) {
                if (auto v = text(it->second->value, "client_id")) {
                    if (!forbid(*v, it->second->value, "client_id", "|,", "'|' or ','"))
                        d.client_id = *v;
                }
            }
        } else {
            if (!d.product.empty() && forbid(d.product, keys[ck.product_key]->value, ck.product_key,
                                             ";@ ", "';', '@' or spaces"))
                d.product.clear();
            if (!d.device_name.empty() && forbid(d.device_name, keys["device_name"]->value,
                                                 "device_name", ";@ ", "';', '@' or spaces"))
                d.device_name.clear();
        }

        // Exactly one secret source.
        const Member* secret = nullptr;
        for (const auto& mem : n.members) {
            if (!secret_keys.count(mem.key)) continue;
            if (secret && secret->key != mem.key) {
                error(mem.key_pos, quoted(mem.key) + " conflicts with " + quoted(secret->key) +
                                       " (" + at_line(secret->key_pos) +
                                       "): give exactly one source of the " + ck.secret_what);
                continue;
            }
            if (!secret) secret = &mem;
        }
        if (m.dynamic_registration) {
            for (const auto& mem : n.members)
                if (secret_keys.count(mem.key))
                    error(mem.key_pos, quoted(mem.key) +
                                           " must not be given with \"dynamic_registration\": "
                                           "the registration issues the " +
                                           ck.secret_what);
        } else if (!secret) {
            error(n.pos, where + ": missing the " + std::string(ck.secret_what) + ": give " +
                             quoted(sb) + ", " + quoted(sb + "_file") + " or " +
                             quoted(sb + "_env"));
        } else if (auto v = text(secret->value, secret->key)) {
            d.secret.value = *v;
            d.secret.key = secret->key;
            d.secret.pos = secret->value.pos;
            if (secret->key == sb + "_file") {
                d.secret.kind = SecretRef::Kind::file;
            } else if (secret->key == sb + "_env") {
                d.secret.kind = SecretRef::Kind::env;
                if (!env_name(*v))
                    error(secret->value.pos,
                          quoted(secret->key) +
                              " must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
            } else {
                d.secret.kind = SecretRef::Kind::inline_value;
                if (cloud == Cloud::tencent && !cloud::base64_decode(*v))
                    error(secret->value.pos,
                          "\"device_psk\" must be base64 (the PSK as the console shows it)");
            }
        }

        if (auto it = keys.find("imei"); it != keys.end()) {
            const Node& v = it->second->value;
            if (expect_type(v, Node::Type::string, "imei")) {
                const bool digits15 = v.text.size() == 15 &&
                                      v.text.find_first_not_of("0123456789") == std::string::npos;
                if (!digits15) {
                    error(v.pos, "\"imei\" must be 15 decimal digits");
                } else if (!imei_valid(v.text)) {
                    error(v.pos,
                          "\"imei\" has a wrong check digit (Luhn): the last digit should be " +
                              std::to_string(luhn_digit(v.text)));
                } else if (auto [s, fresh] = seen_imeis.emplace(v.text, v.pos); !fresh) {
                    error(v.pos, "\"imei\" " + v.text + " already used by another device (" +
                                     at_line(s->second) + ")");
                } else {
                    d.imei = v.text;
                }
            }
        }
        if (auto it = keys.find("description"); it != keys.end())
            expect_type(it->second->value, Node::Type::string, "description");

        if (!d.product.empty() && !d.device_name.empty()) {
            const std::string id = d.product + "/" + d.device_name;
            if (auto [s, fresh] = seen_ids.emplace(id, n.pos); !fresh)
                error(n.pos,
                      where + ": device " + id + " is already listed (" + at_line(s->second) + ")");
        }
        if (errors_.size() == errors_before) m.devices.push_back(std::move(d));
    }

    std::string file_;
    std::vector<Diagnostic> errors_;
};

std::string dir_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

LoadResult parse_manifest(std::string_view text, const std::string& file) {
    return Validator(file).run(text);
}

LoadResult load_manifest(const std::string& path) {
    std::string err;
    auto text = read_text_file(path, false, &err);
    if (!text) {
        LoadResult r;
        r.errors.push_back(Diagnostic{path, {0, 0}, "cannot read the manifest: " + err});
        return r;
    }
    return parse_manifest(*text, path);
}

namespace {

// A secret reference's value. `psk`: must be base64 (Tencent PSKs); `min_len`: at least that many
// characters (Tencent product secrets: the AES key). Diagnostics at the reference, no secret.
SecretValue resolve_ref(const Manifest& m, const SecretRef& ref, bool psk, std::size_t min_len,
                        const char* what) {
    SecretValue out;
    const auto fail = [&](std::string msg) {
        out.error = Diagnostic{m.file, ref.pos, std::move(msg)};
        return out;
    };
    auto check = [&](std::string v, const std::string& where) {
        if (psk && !cloud::base64_decode(v))
            return fail(quoted(ref.key) + ": " + where + " does not hold a base64 PSK");
        if (v.size() < min_len)
            return fail(quoted(ref.key) + ": " + where + " holds a " + what + " shorter than " +
                        std::to_string(min_len) + " characters");
        out.value = std::move(v);
        return out;
    };
    switch (ref.kind) {
        case SecretRef::Kind::inline_value:
            if (ref.value.size() < min_len)
                return fail(quoted(ref.key) + " is shorter than " + std::to_string(min_len) +
                            " characters");
            out.value = ref.value;
            return out;
        case SecretRef::Kind::file: {
            std::string path = ref.value;
            if (path[0] != '/') path = dir_of(m.file) + "/" + path;
            std::string err;
            auto v = read_text_file(path, true, &err);
            if (!v) return fail(quoted(ref.key) + ": cannot read " + path + ": " + err);
            if (v->empty()) return fail(quoted(ref.key) + ": " + path + " is empty");
            return check(std::move(*v), path);
        }
        case SecretRef::Kind::env: {
            const char* v = std::getenv(ref.value.c_str());
            if (!v)
                return fail(quoted(ref.key) + ": environment variable " + ref.value +
                            " is not set");
            if (!*v)
                return fail(quoted(ref.key) + ": environment variable " + ref.value + " is empty");
            return check(v, "environment variable " + ref.value);
        }
    }
    return out;
}

}  // namespace

SecretValue resolve_secret(const Manifest& m, const Device& d) {
    if (m.dynamic_registration) {
        SecretValue out;
        out.error = Diagnostic{m.file, d.pos,
                               "device " + d.product + "/" + d.device_name +
                                   " has no secret in the manifest: it comes from dynamic "
                                   "registration (see docs/dynamic-registration.md)"};
        return out;
    }
    return resolve_ref(m, d.secret, m.cloud == Cloud::tencent, 0, "device secret");
}

SecretValue resolve_product_secret(const Manifest& m) {
    if (!m.product_secret) {
        SecretValue out;
        out.error = Diagnostic{m.file, {0, 0}, "the manifest has no product secret"};
        return out;
    }
    return resolve_ref(m, *m.product_secret, false, m.cloud == Cloud::tencent ? 16 : 1,
                       "product secret");
}

cloud::DynregResult<std::string> register_dynamic(const Manifest& m, const Device& d,
                                                  const std::string& product_secret,
                                                  long timeout_ms) {
    if (!m.dynamic_registration || (m.cloud != Cloud::aliyun && m.cloud != Cloud::tencent)) {
        cloud::DynregError e;
        e.message = "the manifest does not use dynamic registration";
        return e;
    }
    if (m.cloud == Cloud::aliyun) {
        cloud::AliyunDynregRequest r;
        r.product_key = d.product;
        r.device_name = d.device_name;
        r.product_secret = product_secret;
        r.region = m.region;
        r.base_url = m.registration_url;
        r.timeout_ms = timeout_ms;
        auto res = cloud::register_aliyun_device(r);
        if (auto* e = std::get_if<cloud::DynregError>(&res)) return std::move(*e);
        return std::move(std::get<cloud::AliyunRegistration>(res).device_secret);
    }
    cloud::TencentDynregRequest r;
    r.product_id = d.product;
    r.device_name = d.device_name;
    r.product_secret = product_secret;
    r.base_url = m.registration_url;
    r.timeout_ms = timeout_ms;
    auto res = cloud::register_tencent_device(r);
    if (auto* e = std::get_if<cloud::DynregError>(&res)) return std::move(*e);
    return std::move(std::get<cloud::TencentRegistration>(res).device_psk);
}

std::vector<Diagnostic> check_secrets(const Manifest& m) {
    std::vector<Diagnostic> out;
    if (m.dynamic_registration) {
        auto s = resolve_product_secret(m);
        if (s.error) out.push_back(*s.error);
        return out;
    }
    for (const auto& d : m.devices) {
        auto s = resolve_secret(m, d);
        if (s.error) out.push_back(*s.error);
    }
    return out;
}

}  // namespace qmtkit::manifest
