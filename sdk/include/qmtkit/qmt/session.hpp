// What the supervisor needs to bring a session up, its validation (shared by configure() and
// the low-level setters), and the pool its strings are copied into.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/common/build.hpp"
#include "qmtkit/qmt/recv.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

// The longest session string (client id, a credential, a URL): 255 bytes.
inline constexpr std::size_t kMaxField = 255;

struct Will {
    std::uint8_t qos = 0;
    bool retain = false;
    std::string_view topic;
    std::string_view message;
};

// AT+QMTCFG items the supervisor applies after every module (re)start.
struct Settings {
    std::uint8_t version = 4;  // 3 = MQTT 3.1, 4 = MQTT 3.1.1
    std::uint16_t keepalive_s = 120;
    bool clean_session = true;
    std::uint8_t pkt_timeout_s = 10;
    std::uint8_t retry_times = 3;
    bool timeout_notice = false;
};

struct AliAuth {
    std::string_view product_key;
    std::string_view device_name;
    std::string_view device_secret;
};

struct TenAuth {
    std::string_view product_id;
    std::string_view device_name;
    std::string_view device_secret;
    std::uint8_t expire_days = 60;
    std::string_view url;  // empty: the module's default
};

// Everything the supervisor needs to bring a session up.
struct Session {
    std::string_view host;
    std::uint16_t port = 1883;
    std::string_view client_id;
    std::string_view username;  // empty with aliauth: the module signs
    std::string_view password;
    Settings settings;
    bool has_will = false;
    Will will;
    bool use_aliauth = false;
    AliAuth aliauth;
    bool use_tenauth = false;  // the token's password is used for CONNECT
    TenAuth tenauth;
    PayloadQuoting recv_quoting = PayloadQuoting::detect;
};

// Each check refuses what the module would refuse or what would break the AT line.
Result<void> validate_topic(std::string_view topic);    // to publish to: no wildcards
Result<void> validate_filter(std::string_view filter);  // MQTT 3.1.1 filter rules
Result<void> validate(const Will& w);
Result<void> validate(const AliAuth& a);
Result<void> validate(const TenAuth& t);
Result<void> validate(const Settings& s);
Result<void> validate(const Session& s);

namespace detail {

// The configured session, its strings copied into one pool sized by what they hold (the
// Tencent client id "<product_id>@<device_name>" is written from its two parts, not kept). The
// Tencent token's password, which comes later, goes after them. Only the strings' lengths are
// kept (16-bit; they follow each other in the pool in Field order) and the scalar settings:
// a Session of views would cost 140 B more of the client's RAM.
class SessionStore {
  public:
    SessionStore(char* pool, std::size_t capacity)
        : pool_(pool),
          cap_(static_cast<std::uint16_t>(capacity)),
          has_will_(false),
          will_retain_(false),
          use_aliauth_(false),
          use_tenauth_(false),
          token_(false) {}
    // Validated first; on any error nothing changes.
    Result<void> assign(const Session& s);
    // The token password of AT+QMTTENAUTH: it replaces the configured password.
    bool set_token(std::string_view password);

    // The configured session (views into the pool, valid until the next assign()).
    const Settings& settings() const { return settings_; }
    std::string_view host() const { return field(Field::host); }
    std::uint16_t port() const { return port_; }
    std::string_view client_id() const { return field(Field::client_id); }
    std::string_view username() const { return field(Field::username); }
    std::string_view password() const {  // the token's, once set_token() took one
        return token_ ? std::string_view(pool_ + fixed_, used_ - fixed_) : field(Field::password);
    }
    bool has_will() const { return has_will_; }
    Will will() const;
    // Constant false when compiled out: the compiler drops what only they lead to.
    bool use_aliauth() const { return QMTKIT_ALIAUTH && use_aliauth_; }
    AliAuth aliauth() const;
    bool use_tenauth() const { return QMTKIT_TENAUTH && use_tenauth_; }
    TenAuth tenauth() const;
    std::size_t used() const { return used_; }
    std::size_t capacity() const { return cap_; }
    // The pool's unused end: the low-level operations keep a query's answer there, cut to fit.
    char* spare() const { return pool_ + used_; }
    std::size_t spare_bytes() const { return cap_ - used_; }

  private:
    // The strings, in pool order.
    enum class Field : std::uint8_t {
        host,
        client_id,
        username,
        password,
        will_topic,
        will_message,
        ali_product_key,
        ali_device_name,
        ali_device_secret,
        ten_product_id,
        ten_device_name,
        ten_device_secret,
        ten_url,
        count,
    };
    static constexpr std::size_t kFields = static_cast<std::size_t>(Field::count);
    std::string_view field(Field f) const;
    void copy(Field f, std::string_view v);

    char* pool_;
    std::uint16_t cap_;
    std::uint16_t used_ = 0;
    std::uint16_t fixed_ = 0;  // bytes of the configured strings; the token goes after them
    std::uint16_t len_[kFields]{};
    std::uint16_t port_ = 1883;
    Settings settings_{};
    std::uint8_t will_qos_ = 0;
    std::uint8_t expire_days_ = 60;
    PayloadQuoting quoting_ = PayloadQuoting::detect;
    bool has_will_ : 1;
    bool will_retain_ : 1;
    bool use_aliauth_ : 1;
    bool use_tenauth_ : 1;
    bool token_ : 1;  // password() is the token's
};

}  // namespace detail
}  // namespace qmtkit::qmt
