// Properties of the manifest validator (qmtkit/manifest/manifest.hpp) and its position-keeping
// JSON parser (json_pos.hpp), whatever the document:
//
//   M1 verdict            a manifest or diagnostics, never both, never neither
//   M2 diag-position      every diagnostic names the file and a LINE:COL inside the document
//                         (1-based, columns in characters: a UTF-8 sequence is one, a leading BOM
//                         none; the end of the input is one past its last character)
//   M3 diag-syntax        a document json_pos refuses gets exactly that one diagnostic
//   M4 diag-at-token      in a document that parses, every diagnostic points at a value, a key
//                         or an object's '{' (the header's contract), and they come in document
//                         order
//   M5 node-position      every value's position is its first character, every key's its quote
//   M6 json-agrees        json_pos accepts what nlohmann/json accepts (UTF-8 input within its
//                         64 levels), and both read the same values
//   M7 manifest-valid     a loaded manifest keeps the documented constraints (docs/signing.md,
//                         docs/manifest.schema.json) and holds what the document says
//   M8 no-secret          no diagnostic quotes an inline secret (one with a non-ASCII byte)
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decoder_checks.hpp"
#include "json_pos.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/manifest/manifest.hpp"
#include "verdict.hpp"

namespace qmtkit::fuzz {
namespace {

using manifest::Position;
using manifest::detail::Member;
using manifest::detail::Node;

constexpr const char* kFile = "fuzz.json";

std::string at(Position p) {
    return std::to_string(p.line) + ":" + std::to_string(p.col);
}

bool continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The byte a LINE:COL names, by the header's rule, or -1 when there is no such place; the end
// of the input (one past its last character) is a place.
long long offset_of(std::string_view s, Position p) {
    if (p.line < 1 || p.col < 1) return -1;
    std::size_t off = s.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    for (int line = 1; line < p.line; ++line) {
        const std::size_t lf = s.find('\n', off);
        if (lf == std::string_view::npos) return -1;
        off = lf + 1;
    }
    for (int col = 1; col < p.col; ++col) {
        if (off >= s.size() || s[off] == '\n') return -1;
        ++off;
        while (off < s.size() && continuation(s[off])) ++off;
    }
    return static_cast<long long>(off);
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
        }
        i += n + 1;
    }
    return true;
}

class ManifestChecks {
  public:
    explicit ManifestChecks(std::string_view text) : s_(text) {}

    std::string run() {
        manifest::detail::ParseError pe;
        const std::optional<Node> root = manifest::detail::parse_json(s_, pe);
        if (root) walk(*root);
        if (!failed()) differential(root, pe);
        const manifest::LoadResult r = manifest::parse_manifest(s_, kFile);
        if (!failed()) verdict(r, root, pe);
        if (!failed() && r.manifest) loaded(*r.manifest, *root);
        if (!failed() && root) secrets(r, *root);
        const Verdict v = checker_.take();
        return v.ok ? std::string() : v.invariant + ": " + v.detail;
    }

  private:
    // Through Checker, so QMTKIT_FUZZ_IGNORE="M6" looks past a known defect in a long run.
    bool failed() const { return checker_.failed(); }
    void fail(const char* id, const std::string& what) { checker_.fail(id, what); }

    char at_pos(Position p) const {
        const long long o = offset_of(s_, p);
        return o < 0 || static_cast<std::size_t>(o) >= s_.size() ? '\0'
                                                                 : s_[static_cast<std::size_t>(o)];
    }

    // M5, and the positions M4 allows.
    void walk(const Node& n) {
        static constexpr char kFirst[] = {'n', 't', '0', '"', '[', '{'};
        const char c = at_pos(n.pos);
        bool ok = c == kFirst[static_cast<int>(n.type)];
        if (n.type == Node::Type::boolean) ok = c == (n.boolean ? 't' : 'f');
        if (n.type == Node::Type::number) ok = c == '-' || (c >= '0' && c <= '9');
        if (!ok)
            return fail("M5 node-position", std::string(manifest::detail::type_name(n.type)) +
                                                " at " + at(n.pos) + " starts with " +
                                                printable(std::string_view(&c, 1)));
        tokens_.insert({n.pos.line, n.pos.col});
        for (const Node& i : n.items) walk(i);
        for (const Member& m : n.members) {
            if (at_pos(m.key_pos) != '"')
                return fail("M5 node-position",
                            "key " + printable(m.key, 40) + " at " + at(m.key_pos));
            tokens_.insert({m.key_pos.line, m.key_pos.col});
            walk(m.value);
        }
    }

    // M6: the same document through nlohmann/json.
    void differential(const std::optional<Node>& root, const manifest::detail::ParseError& pe) {
        if (!valid_utf8(s_)) return;  // json_pos does not check UTF-8; nlohmann refuses bad UTF-8
        // nlohmann's lexer takes a NUL byte for the end of the input (json_pos: an error).
        if (s_.find('\0') != std::string_view::npos) return;
        if (!root && pe.message.rfind("nesting deeper", 0) == 0) return;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(s_.begin(), s_.end());
        } catch (const nlohmann::json::out_of_range&) {
            return;  // a number beyond double: nlohmann's limit, not JSON's
        } catch (const nlohmann::json::exception&) {
            if (root) fail("M6 json-agrees", "json_pos accepts what nlohmann/json refuses");
            return;
        }
        if (!root)
            return fail("M6 json-agrees", "json_pos refuses (" + at(pe.pos) + ": " + pe.message +
                                              ") what nlohmann/json accepts");
        same(*root, j, "$");
    }

    void same(const Node& n, const nlohmann::json& j, const std::string& path) {
        if (failed()) return;
        const auto differ = [&](const std::string& what) {
            fail("M6 json-agrees", path + " at " + at(n.pos) + ": " + what);
        };
        switch (n.type) {
            case Node::Type::null_value:
                if (!j.is_null()) differ("null vs " + std::string(j.type_name()));
                return;
            case Node::Type::boolean:
                if (!j.is_boolean() || j.get<bool>() != n.boolean) differ("boolean");
                return;
            case Node::Type::number:
                if (!j.is_number() || j.get<double>() != std::strtod(n.text.c_str(), nullptr))
                    differ("number " + n.text);
                return;
            case Node::Type::string:
                if (!j.is_string() || j.get_ref<const std::string&>() != n.text)
                    differ("string " + printable(n.text, 40));
                return;
            case Node::Type::array:
                if (!j.is_array() || j.size() != n.items.size()) return differ("array");
                for (std::size_t i = 0; i < n.items.size(); ++i)
                    same(n.items[i], j[i], path + "[" + std::to_string(i) + "]");
                return;
            case Node::Type::object: {
                if (!j.is_object()) return differ("object");
                // nlohmann keeps the last of duplicate keys.
                std::set<std::string> keys;
                for (const Member& m : n.members) keys.insert(m.key);
                if (keys.size() != j.size())
                    return differ("object of " + std::to_string(j.size()) + " keys");
                for (auto it = n.members.rbegin(); it != n.members.rend(); ++it) {
                    if (!keys.erase(it->key)) continue;
                    const auto f = j.find(it->key);
                    if (f == j.end()) return differ("key " + printable(it->key, 40) + " missing");
                    same(it->value, *f, path + "." + printable(it->key, 40));
                }
                return;
            }
        }
    }

    // M1-M4.
    void verdict(const manifest::LoadResult& r, const std::optional<Node>& root,
                 const manifest::detail::ParseError& pe) {
        if (r.manifest.has_value() == !r.errors.empty())
            return fail("M1 verdict", std::to_string(r.errors.size()) + " diagnostics and " +
                                          (r.manifest ? "a" : "no") + " manifest");
        for (const manifest::Diagnostic& d : r.errors) {
            if (d.file != kFile || offset_of(s_, d.pos) < 0)
                return fail("M2 diag-position", d.to_string() + " names no place in the " +
                                                    std::to_string(s_.size()) + "-byte document");
        }
        if (!root) {
            if (r.errors.size() != 1 || r.errors[0].pos.line != pe.pos.line ||
                r.errors[0].pos.col != pe.pos.col || r.errors[0].message != pe.message)
                fail("M3 diag-syntax", "json_pos says " + at(pe.pos) + ": " + pe.message +
                                           "; the validator " + std::to_string(r.errors.size()) +
                                           " diagnostics, the first " +
                                           (r.errors.empty() ? "none" : r.errors[0].to_string()));
            return;
        }
        for (std::size_t i = 0; i < r.errors.size(); ++i) {
            const manifest::Diagnostic& d = r.errors[i];
            if (!tokens_.count({d.pos.line, d.pos.col}))
                return fail("M4 diag-at-token", d.to_string() + " points at no value or key");
            if (i > 0) {
                const Position p = r.errors[i - 1].pos;
                if (p.line > d.pos.line || (p.line == d.pos.line && p.col > d.pos.col))
                    return fail("M4 diag-at-token", d.to_string() + " after " + at(p));
            }
        }
    }

    // The members of the object at `pos`, by key (the last of duplicates, as the validator would
    // have refused them anyway).
    const Node* object_at(const Node& n, Position pos) const {
        if (n.type == Node::Type::object && n.pos.line == pos.line && n.pos.col == pos.col)
            return &n;
        for (const Node& i : n.items)
            if (const Node* f = object_at(i, pos)) return f;
        for (const Member& m : n.members)
            if (const Node* f = object_at(m.value, pos)) return f;
        return nullptr;
    }
    static const Node* member(const Node& obj, std::string_view key) {
        const Node* v = nullptr;
        for (const Member& m : obj.members)
            if (m.key == key) v = &m.value;
        return v;
    }
    static bool has_control(const std::string& v) {
        for (char c : v)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
        return false;
    }
    static bool http_url(const std::string& v) {
        return v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0;
    }
    static bool env_name(const std::string& v) {
        if (v.empty() || (v[0] >= '0' && v[0] <= '9')) return false;
        for (char c : v)
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_'))
                return false;
        return true;
    }

    // M7.
    void loaded(const manifest::Manifest& m, const Node& root) {
        using manifest::Cloud;
        const auto bad = [&](const std::string& what) { fail("M7 manifest-valid", what); };
        const Node* cloud = member(root, "cloud");
        const std::string_view want =
            cloud && cloud->type == Node::Type::string ? std::string_view(cloud->text) : "";
        if (m.file != kFile || manifest::to_string(m.cloud) != want)
            return bad("cloud " + std::string(manifest::to_string(m.cloud)) + " from " +
                       printable(want));
        if (m.devices.empty()) return bad("no devices");
        if (m.port && *m.port == 0) return bad("port 0");
        if (!m.endpoint.empty() &&
            (m.endpoint.find_first_of(" /:") != std::string::npos || has_control(m.endpoint)))
            return bad("endpoint " + printable(m.endpoint, 40));
        if (m.cloud == Cloud::aliyun) {
            if (m.secure_mode != 2 && m.secure_mode != 3) return bad("secure_mode");
            if (m.region.empty() || m.region.find_first_of(" ./:") != std::string::npos ||
                has_control(m.region))
                return bad("region " + printable(m.region, 40));
            if (!m.sign_method.empty() && m.sign_method != "hmacsha256" &&
                m.sign_method != "hmacsha1" && m.sign_method != "hmacmd5")
                return bad("aliyun sign_method " + printable(m.sign_method, 40));
        }
        if (m.cloud == Cloud::tencent) {
            if (!m.sign_method.empty() && m.sign_method != "hmacsha256" &&
                m.sign_method != "hmacsha1")
                return bad("tencent sign_method " + printable(m.sign_method, 40));
            if (m.sdkappid == 0 || m.expiry_s < 60 || m.expiry_s > 10ull * 366 * 86400)
                return bad("sdkappid or expiry_s");
        }
        if (m.cloud == Cloud::tencent_token) {
            if (!http_url(m.token_url) || has_control(m.token_url)) return bad("token_url");
            if (m.expire_days < 1 || m.expire_days > 60) return bad("expire_days");
            if (m.dynamic_registration) return bad("dynamic registration for tencent-token");
        }
        if (m.dynamic_registration != m.product_secret.has_value())
            return bad("product secret without dynreg or the reverse");
        if (!m.dynamic_registration && !m.registration_url.empty())
            return bad("registration_url without dynreg");
        if (!m.registration_url.empty() && !http_url(m.registration_url))
            return bad("registration_url");
        if (m.product_secret) {
            const manifest::SecretRef& p = *m.product_secret;
            if (p.value.empty() || p.kind == manifest::SecretRef::Kind::inline_value ||
                (p.kind == manifest::SecretRef::Kind::env && !env_name(p.value)))
                return bad("product secret " + p.key);
        }
        const Keys k = keys_of(m.cloud);
        std::set<std::string> ids, imeis;
        for (const manifest::Device& d : m.devices) {
            const std::string who = "device at " + at(d.pos);
            const Node* obj = object_at(root, d.pos);
            if (!obj) return bad(who + ": no object there");
            const Node* product = member(*obj, k.product);
            const Node* name = member(*obj, "device_name");
            if (!product || product->text != d.product || !name || name->text != d.device_name)
                return bad(who + ": product or device_name is not the document's");
            if (d.product.empty() || d.device_name.empty() || has_control(d.product) ||
                has_control(d.device_name) ||
                d.product.find_first_of(k.forbidden) != std::string::npos ||
                d.device_name.find_first_of(k.forbidden) != std::string::npos)
                return bad(who + ": product or device_name breaks the cloud's rules");
            if (!d.client_id.empty() &&
                (m.cloud != Cloud::aliyun || d.client_id.find_first_of("|,") != std::string::npos))
                return bad(who + ": client_id");
            if (!ids.insert(d.product + "/" + d.device_name).second)
                return bad(who + ": listed twice");
            if (d.imei && (!manifest::imei_valid(*d.imei) || !imeis.insert(*d.imei).second))
                return bad(who + ": imei " + *d.imei);
            if (m.dynamic_registration) {
                if (!d.secret.key.empty() || !d.secret.value.empty())
                    return bad(who + ": a secret with dynreg");
                if (d.product != m.devices.front().product)
                    return bad(who + ": another product with dynreg");
                continue;
            }
            const std::string base = k.secret;
            const manifest::SecretRef& sr = d.secret;
            const Node* given = member(*obj, sr.key);
            const auto want_kind = sr.key == base + "_file" ? manifest::SecretRef::Kind::file
                                   : sr.key == base + "_env"
                                       ? manifest::SecretRef::Kind::env
                                       : manifest::SecretRef::Kind::inline_value;
            if ((sr.key != base && sr.key != base + "_file" && sr.key != base + "_env") || !given ||
                given->type != Node::Type::string || given->text != sr.value ||
                given->pos.line != sr.pos.line || given->pos.col != sr.pos.col ||
                sr.kind != want_kind)
                return bad(who + ": secret reference " + sr.key + " is not the document's");
            if (sr.value.empty() || has_control(sr.value)) return bad(who + ": empty secret");
            if (sr.kind == manifest::SecretRef::Kind::env && !env_name(sr.value))
                return bad(who + ": env name");
            if (sr.kind == manifest::SecretRef::Kind::inline_value && m.cloud == Cloud::tencent &&
                !cloud::base64_decode(sr.value))
                return bad(who + ": a PSK that is not base64");
        }
    }

    // M8: an inline secret is quoted by no diagnostic. Only secrets a message cannot hold by
    // chance count: the messages' own words are ASCII, so a secret with a non-ASCII byte, found
    // nowhere else in the document (keys, product names and IMEIs are quoted), and long enough.
    void secrets(const manifest::LoadResult& r, const Node& root) {
        std::vector<std::string> all;
        std::vector<const Node*> secret;
        collect(root, all, secret);
        for (const Node* n : secret) {
            const std::string& v = n->text;
            bool ascii = true;
            for (char c : v) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
            if (v.size() < 8 || ascii) continue;
            int elsewhere = 0;
            for (const std::string& o : all) elsewhere += o.find(v) != std::string::npos ? 1 : 0;
            if (elsewhere > 1) continue;  // itself, and another
            for (const manifest::Diagnostic& d : r.errors)
                if (d.message.find(v) != std::string::npos && !by_chance(*n, v))
                    return fail("M8 no-secret", d.to_string() + " quotes a secret");
        }
    }
    // Whether the diagnostics hold v with the secret changed in the document (each non-ASCII
    // byte of its value to another): then v came from other values and the message's words
    // (a product key's tail, then "/d is alread..."), not from the secret. A value written with
    // escapes cannot be changed in place: it counts as quoted.
    bool by_chance(const Node& n, const std::string& v) const {
        const long long o = offset_of(s_, n.pos);
        if (o < 0) return false;
        const auto at = static_cast<std::size_t>(o) + 1;  // past the opening quote
        if (at + v.size() >= s_.size() || s_.compare(at, v.size(), v) != 0 ||
            s_[at + v.size()] != '"')
            return false;
        std::string changed(s_);
        for (std::size_t i = 0; i < v.size(); ++i) {
            const auto b = static_cast<unsigned char>(v[i]);
            if (b >= 0x80) changed[at + i] = static_cast<char>(b ^ 0x01);
        }
        const manifest::LoadResult again = manifest::parse_manifest(changed, kFile);
        for (const manifest::Diagnostic& d : again.errors)
            if (d.message.find(v) != std::string::npos) return true;
        return false;
    }
    static void collect(const Node& n, std::vector<std::string>& all,
                        std::vector<const Node*>& secret) {
        if (n.type == Node::Type::string || n.type == Node::Type::number) all.push_back(n.text);
        for (const Node& i : n.items) collect(i, all, secret);
        for (const Member& m : n.members) {
            all.push_back(m.key);
            if (m.value.type == Node::Type::string &&
                (m.key == "device_secret" || m.key == "device_psk" || m.key == "product_secret"))
                secret.push_back(&m.value);
            collect(m.value, all, secret);
        }
    }

    struct Keys {
        const char* product;
        const char* secret;
        const char* forbidden;
    };
    static Keys keys_of(manifest::Cloud c) {
        if (c == manifest::Cloud::aliyun) return {"product_key", "device_secret", "&|, "};
        if (c == manifest::Cloud::tencent) return {"product_id", "device_psk", ";@ "};
        return {"product_id", "device_secret", ";@ "};
    }

    std::string_view s_;
    Checker checker_{false};
    std::set<std::pair<int, int>> tokens_;  // positions of every value and key
};

}  // namespace

std::string check_manifest_case(const std::uint8_t* data, std::size_t size) {
    // An exactly sized copy: ASan sees any read past the end.
    const std::vector<char> bytes(data, data + size);
    return ManifestChecks(std::string_view(bytes.data(), bytes.size())).run();
}

}  // namespace qmtkit::fuzz
