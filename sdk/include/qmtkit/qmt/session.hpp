// What the supervisor needs to bring a session up, its validation (shared by configure() and
// the low-level setters), and the pool its strings are copied into.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

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

// The configured session, its strings copied into one pool sized by what they hold. The
// Tencent token's password, which comes later, goes after them.
class SessionStore {
  public:
    SessionStore(char* pool, std::size_t capacity) : pool_(pool), cap_(capacity) {}
    // Validated first; on any error nothing changes.
    Result<void> assign(const Session& s);
    // The token password of AT+QMTTENAUTH: it replaces the configured password.
    bool set_token(std::string_view password);

    const Session& session() const { return s_; }
    std::string_view tenauth_client_id() const { return ten_cid_; }  // "<product_id>@<name>"
    std::size_t used() const { return used_; }
    std::size_t capacity() const { return cap_; }

  private:
    std::string_view copy(std::string_view v);
    char* pool_;
    std::size_t cap_;
    std::size_t used_ = 0;
    std::size_t fixed_ = 0;  // bytes of the configured strings; the token goes after them
    Session s_{};
    std::string_view ten_cid_;
};

}  // namespace detail
}  // namespace qmtkit::qmt
