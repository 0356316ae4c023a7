#include "qmtkit/qmt/session.hpp"

#include <cstring>

#include "qmtkit/at/fields.hpp"
#include "qmtkit/qmt/errors.hpp"

namespace qmtkit::qmt {
namespace {

bool has_wildcard(std::string_view t) {
    return t.find('+') != std::string_view::npos || t.find('#') != std::string_view::npos;
}

// Topic filter rules (MQTT 3.1.1, 4.7.1): '#' alone in the last level, '+' alone in its level.
bool valid_filter(std::string_view f) {
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '#' && (i + 1 != f.size() || (i > 0 && f[i - 1] != '/'))) return false;
        if (f[i] == '+' && ((i > 0 && f[i - 1] != '/') || (i + 1 < f.size() && f[i + 1] != '/')))
            return false;
    }
    return true;
}

Result<void> check_topic_text(std::string_view t) {
    if (t.empty()) return failure(Error::topic_empty);
    if (t.size() > kMaxTopic) return failure(Error::topic_too_long);
    if (!at::is_at_safe(t)) return failure(Error::forbidden_char);
    return {};
}

// A string that travels quoted on the AT line and is kept by the client.
Result<void> check_field(std::string_view v) {
    if (!at::is_at_safe(v)) return failure(Error::forbidden_char);
    if (v.size() > kMaxField) return failure(Error::field_too_long);
    return {};
}

}  // namespace

Result<void> validate_topic(std::string_view topic) {
    if (auto r = check_topic_text(topic); !r) return r;
    if (has_wildcard(topic)) return failure(Error::topic_has_wildcard);
    return {};
}

Result<void> validate_filter(std::string_view filter) {
    if (auto r = check_topic_text(filter); !r) return r;
    if (!valid_filter(filter)) return failure(Error::bad_topic_filter);
    return {};
}

Result<void> validate(const Will& w) {
    if (w.topic.empty()) return failure(Error::will_topic_empty);
    if (w.topic.size() > kMaxTopic) return failure(Error::will_topic_too_long);
    if (has_wildcard(w.topic)) return failure(Error::topic_has_wildcard);
    if (w.message.size() > kMaxWillMessage) return failure(Error::will_message_too_long);
    if (w.qos > 2) return failure(Error::qos_out_of_range);
    if (!at::is_at_safe(w.topic) || !at::is_at_safe(w.message))
        return failure(Error::forbidden_char);
    return {};
}

Result<void> validate(const AliAuth& a) {
    if (a.product_key.empty() || a.device_name.empty() || a.device_secret.empty())
        return failure(Error::field_empty);
    for (std::string_view v : {a.product_key, a.device_name, a.device_secret}) {
        if (auto r = check_field(v); !r) return r;
    }
    return {};
}

Result<void> validate(const TenAuth& t) {
    if (t.product_id.empty() || t.device_name.empty() || t.device_secret.empty())
        return failure(Error::field_empty);
    if (t.expire_days < 1 || t.expire_days > kMaxExpireDays)
        return failure(Error::expire_out_of_range);
    for (std::string_view v : {t.product_id, t.device_name, t.device_secret, t.url}) {
        if (auto r = check_field(v); !r) return r;
    }
    // The client id the token is for, "<product_id>@<device_name>", is a field too.
    if (t.product_id.size() + 1 + t.device_name.size() > kMaxField)
        return failure(Error::field_too_long);
    return {};
}

Result<void> validate(const Settings& s) {
    if (s.version != 3 && s.version != 4) return failure(Error::version_out_of_range);
    if (s.keepalive_s > kMaxKeepalive) return failure(Error::keepalive_out_of_range);
    if (s.pkt_timeout_s < kMinPktTimeout || s.pkt_timeout_s > kMaxPktTimeout)
        return failure(Error::pkt_timeout_out_of_range);
    if (s.retry_times > kMaxRetryTimes) return failure(Error::retry_times_out_of_range);
    return {};
}

Result<void> validate(const Session& s) {
    if (s.host.empty()) return failure(Error::host_empty);
    if (s.host.size() > kMaxHost) return failure(Error::host_too_long);
    if (s.client_id.empty()) return failure(Error::client_id_empty);
    if (auto r = validate(s.settings); !r) return r;
    if (!s.password.empty() && s.username.empty() && !s.use_tenauth)
        return failure(Error::password_without_username);
    if (s.has_will) {
        if (auto r = validate(s.will); !r) return r;
    }
    if (s.use_aliauth) {
        if (auto r = validate(s.aliauth); !r) return r;
    }
    if (s.use_tenauth) {
        if (auto r = validate(s.tenauth); !r) return r;
    }
    for (std::string_view v : {s.host, s.client_id, s.username, s.password}) {
        if (auto r = check_field(v); !r) return r;
    }
    return {};
}

namespace detail {

std::string_view SessionStore::copy(std::string_view v) {
    if (v.empty()) return {};
    char* at = pool_ + used_;
    std::memcpy(at, v.data(), v.size());
    used_ += v.size();
    return std::string_view(at, v.size());
}

Result<void> SessionStore::assign(const Session& s) {
    if (auto r = validate(s); !r) return r;
    // What is kept: only the parts in use (an unused will or auth costs nothing).
    std::size_t need = s.host.size() + s.client_id.size() + s.username.size() + s.password.size();
    if (s.has_will) need += s.will.topic.size() + s.will.message.size();
    if (s.use_aliauth)
        need += s.aliauth.product_key.size() + s.aliauth.device_name.size() +
                s.aliauth.device_secret.size();
    if (s.use_tenauth)
        need += 2 * (s.tenauth.product_id.size() + s.tenauth.device_name.size()) + 1 +
                s.tenauth.device_secret.size() + s.tenauth.url.size();
    if (need > cap_) return failure(Error::field_too_long);

    used_ = 0;
    Session k = s;
    k.host = copy(s.host);
    k.client_id = copy(s.client_id);
    k.username = copy(s.username);
    k.password = copy(s.password);
    k.will = s.has_will ? Will{s.will.qos, s.will.retain, copy(s.will.topic), copy(s.will.message)}
                        : Will{};
    k.aliauth = s.use_aliauth ? AliAuth{copy(s.aliauth.product_key), copy(s.aliauth.device_name),
                                        copy(s.aliauth.device_secret)}
                              : AliAuth{};
    ten_cid_ = {};
    if (s.use_tenauth) {
        k.tenauth.product_id = copy(s.tenauth.product_id);
        k.tenauth.device_name = copy(s.tenauth.device_name);
        k.tenauth.device_secret = copy(s.tenauth.device_secret);
        k.tenauth.url = copy(s.tenauth.url);
        const std::size_t at = used_;
        copy(s.tenauth.product_id);
        pool_[used_++] = '@';
        copy(s.tenauth.device_name);
        ten_cid_ = std::string_view(pool_ + at, used_ - at);
    } else {
        k.tenauth = TenAuth{};
    }
    s_ = k;
    fixed_ = used_;
    return {};
}

bool SessionStore::set_token(std::string_view password) {
    if (password.size() > cap_ - fixed_ || !at::is_at_safe(password)) return false;
    used_ = fixed_;
    s_.password = copy(password);
    return true;
}

}  // namespace detail
}  // namespace qmtkit::qmt
