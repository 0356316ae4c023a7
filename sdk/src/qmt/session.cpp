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
    if (!at::is_utf8(t)) return failure(Error::not_utf8);
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
    if (!at::is_utf8(w.topic)) return failure(Error::not_utf8);  // the message is binary
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
        if (!QMTKIT_ALIAUTH) return failure(Error::not_built);
        if (auto r = validate(s.aliauth); !r) return r;
    }
    if (s.use_tenauth) {
        if (!QMTKIT_TENAUTH) return failure(Error::not_built);
        if (auto r = validate(s.tenauth); !r) return r;
    }
    for (std::string_view v : {s.host, s.client_id, s.username, s.password}) {
        if (auto r = check_field(v); !r) return r;
    }
    // MQTT strings; the password is binary data (MQTT 3.1.1, 3.1.3.5).
    if (!at::is_utf8(s.client_id) || !at::is_utf8(s.username)) return failure(Error::not_utf8);
    return {};
}

namespace detail {

std::string_view SessionStore::field(Field f) const {
    std::size_t at = 0;
    const auto n = static_cast<std::size_t>(f);
    for (std::size_t i = 0; i < n; ++i) at += len_[i];
    return len_[n] == 0 ? std::string_view{} : std::string_view(pool_ + at, len_[n]);
}

void SessionStore::copy(Field f, std::string_view v) {
    if (!v.empty()) std::memcpy(pool_ + used_, v.data(), v.size());  // an empty view may be null
    used_ = static_cast<std::uint16_t>(used_ + v.size());
    len_[static_cast<std::size_t>(f)] = static_cast<std::uint16_t>(v.size());
}

Will SessionStore::will() const {
    if (!has_will_) return Will{};
    return Will{will_qos_, will_retain_, field(Field::will_topic), field(Field::will_message)};
}

AliAuth SessionStore::aliauth() const {
    return AliAuth{field(Field::ali_product_key), field(Field::ali_device_name),
                   field(Field::ali_device_secret)};
}

TenAuth SessionStore::tenauth() const {
    TenAuth t;
    t.product_id = field(Field::ten_product_id);
    t.device_name = field(Field::ten_device_name);
    t.device_secret = field(Field::ten_device_secret);
    t.expire_days = expire_days_;
    t.url = field(Field::ten_url);
    return t;
}

Result<void> SessionStore::assign(const Session& s) {
    if (auto r = validate(s); !r) return r;
    // What is kept: only the parts in use (an unused will or auth costs nothing).
    std::size_t need = s.host.size() + s.client_id.size() + s.username.size() + s.password.size();
    if (s.has_will) need += s.will.topic.size() + s.will.message.size();
    if (QMTKIT_ALIAUTH && s.use_aliauth)
        need += s.aliauth.product_key.size() + s.aliauth.device_name.size() +
                s.aliauth.device_secret.size();
    if (QMTKIT_TENAUTH && s.use_tenauth)
        need += s.tenauth.product_id.size() + s.tenauth.device_name.size() +
                s.tenauth.device_secret.size() + s.tenauth.url.size();
    if (need > cap_) return failure(Error::field_too_long);

    used_ = 0;
    for (std::uint16_t& n : len_) n = 0;
    copy(Field::host, s.host);
    copy(Field::client_id, s.client_id);
    copy(Field::username, s.username);
    copy(Field::password, s.password);
    if (s.has_will) {
        copy(Field::will_topic, s.will.topic);
        copy(Field::will_message, s.will.message);
    }
    if (QMTKIT_ALIAUTH && s.use_aliauth) {
        copy(Field::ali_product_key, s.aliauth.product_key);
        copy(Field::ali_device_name, s.aliauth.device_name);
        copy(Field::ali_device_secret, s.aliauth.device_secret);
    }
    if (QMTKIT_TENAUTH && s.use_tenauth) {
        copy(Field::ten_product_id, s.tenauth.product_id);
        copy(Field::ten_device_name, s.tenauth.device_name);
        copy(Field::ten_device_secret, s.tenauth.device_secret);
        copy(Field::ten_url, s.tenauth.url);
    }
    port_ = s.port;
    settings_ = s.settings;
    will_qos_ = s.has_will ? s.will.qos : std::uint8_t{0};
    will_retain_ = s.has_will && s.will.retain;
    has_will_ = s.has_will;
    use_aliauth_ = s.use_aliauth;
    use_tenauth_ = s.use_tenauth;
    expire_days_ = QMTKIT_TENAUTH && s.use_tenauth ? s.tenauth.expire_days : std::uint8_t{60};
    quoting_ = s.recv_quoting;
    token_ = false;
    fixed_ = used_;
    return {};
}

bool SessionStore::set_token(std::string_view password) {
    if (password.size() > static_cast<std::size_t>(cap_ - fixed_) || !at::is_at_safe(password))
        return false;
    used_ = fixed_;
    if (!password.empty()) std::memcpy(pool_ + used_, password.data(), password.size());
    used_ = static_cast<std::uint16_t>(used_ + password.size());
    token_ = true;
    return true;
}

}  // namespace detail
}  // namespace qmtkit::qmt
