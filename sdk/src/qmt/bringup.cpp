// The bring-up script: one row per step, in the spirit of Zephyr's modem_chat scripts — the
// command, the LinkState it belongs to, how its arguments are written and its answer decoded,
// and where success and failure lead. The machine that runs it is in supervisor.cpp.
#include "qmtkit/at/commands.hpp"
#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/replies.hpp"
#include "qmtkit/qmt/supervisor.hpp"
#include "supervisor_script.hpp"

namespace qmtkit::qmt::detail {
namespace {

using at::ArgWriter;
using Args = void (*)(const SessionStore&, ArgWriter&);

const Settings& settings(const SessionStore& s) {
    return s.settings();
}

void one(const SessionStore&, ArgWriter& w) {
    w.integer(1);
}
void zero(const SessionStore&, ArgWriter& w) {
    w.integer(0);
}
void version(const SessionStore& s, ArgWriter& w) {
    w.integer(0).integer(settings(s).version);
}
void keepalive(const SessionStore& s, ArgWriter& w) {
    w.integer(0).integer(settings(s).keepalive_s);
}
void clean_session(const SessionStore& s, ArgWriter& w) {
    w.integer(0).integer(settings(s).clean_session ? 1 : 0);
}
void timeout(const SessionStore& s, ArgWriter& w) {
    const Settings& t = settings(s);
    w.integer(0).integer(t.pkt_timeout_s).integer(t.retry_times).integer(t.timeout_notice ? 1 : 0);
}
void will(const SessionStore& s, ArgWriter& w) {
    if (!s.has_will()) {
        w.integer(0).integer(0);
        return;
    }
    const Will k = s.will();
    w.integer(0).integer(1).integer(k.qos).integer(k.retain ? 1 : 0);
    w.quoted(k.topic).quoted(k.message);
}
[[maybe_unused]] void aliauth(const SessionStore& s, ArgWriter& w) {
    const AliAuth a = s.aliauth();
    w.integer(0).quoted(a.product_key).quoted(a.device_name).quoted(a.device_secret);
}
[[maybe_unused]] void tenauth(const SessionStore& s, ArgWriter& w) {
    const TenAuth t = s.tenauth();
    w.quoted(t.product_id).quoted(t.device_name).quoted(t.product_id, '@', t.device_name);
    w.quoted(t.device_secret).integer(t.expire_days);
    if (!t.url.empty()) w.quoted(t.url);
}
void open(const SessionStore& s, ArgWriter& w) {
    w.integer(0).quoted(s.host()).integer(s.port());
}
void connect(const SessionStore& s, ArgWriter& w) {
    w.integer(0).quoted(s.client_id());
    // After aliauth, or a token with no username configured, the module supplies the
    // credentials itself: CONNECT names the client only.
    const std::string_view username = s.username();
    if (username.empty()) return;
    w.quoted(username);
    const std::string_view password = s.password();
    if (!password.empty()) w.quoted(password);
}

StepResult open_result(std::string_view line) {
    const OpenReply r = decode_open(line);
    if (!r.ok) return {at::ResultVerdict::not_mine};
    return {at::ResultVerdict::done, outcome_of(r)};
}
StepResult close_result(std::string_view line) {
    const CloseReply r = decode_close(line, "+QMTCLOSE");
    if (!r.ok) return {at::ResultVerdict::not_mine};
    return {at::ResultVerdict::done, outcome_of(r)};
}
StepResult disc_result(std::string_view line) {
    const CloseReply r = decode_close(line, "+QMTDISC");
    if (!r.ok) return {at::ResultVerdict::not_mine};
    return {at::ResultVerdict::done, outcome_of(r)};
}
StepResult conn_result(std::string_view line) {
    const ConnReply r = decode_conn(line);
    if (!r.ok) return {at::ResultVerdict::not_mine};
    if (r.result == PacketResult::retransmission) return {at::ResultVerdict::intermediate};
    return {at::ResultVerdict::done, outcome_of(r)};
}
[[maybe_unused]] StepResult tenauth_result(std::string_view line) {
    const TenAuthReply r = decode_tenauth(line);
    if (!r.ok) return {at::ResultVerdict::not_mine};
    StepResult s{at::ResultVerdict::done, outcome_of(r)};
    if (s.outcome) {
        // +QMTTENAUTH: 0,"<password>": the token becomes the CONNECT password.
        if (r.has_password) {
            s.has_token = true;
            s.token = r.password;
        } else
            s.outcome = failure(Error::malformed_reply);
    }
    return s;
}

}  // namespace

bool read_info(Rule rule, std::string_view line, std::int32_t& out) {
    if (rule == Rule::poll) {
        const AttachInfo a = decode_attach(line);
        if (a.ok) out = a.attached ? 1 : 0;
        return a.ok;
    }
    if (rule == Rule::check) {
        const ConnStateInfo c = decode_conn_state(line);
        if (c.ok) out = c.state;
        return c.ok;
    }
    return false;
}

const at::CommandSpec& other_spelling(const at::CommandSpec& c) {
    if (!QMTKIT_TENAUTH) return c;
    return &c == &at::cmd::tenauth ? at::cmd::enauth : at::cmd::enauth_test;
}

template <std::size_t N>
constexpr bool in_step_order(const Supervisor::StepSpec (&rows)[N]) {
    for (std::size_t i = 0; i < N; ++i) {
        if (static_cast<std::size_t>(rows[i].step) != i) return false;
    }
    return true;
}

const Supervisor::StepSpec& Supervisor::spec_of(Step s) {
    using L = LinkState;
    using R = Rule;
    namespace cmd = at::cmd;
    constexpr std::uint8_t kKeep = kKeepsState;
    // Compiled out, the steps stay (always skipped: use_tenauth() is constant false) and reach
    // nothing; AT stands in for their commands, never sent.
    constexpr StepSpec::Args kAliauth = QMTKIT_ALIAUTH ? aliauth : nullptr;
    constexpr StepSpec::Args kTenauth = QMTKIT_TENAUTH ? tenauth : nullptr;
    constexpr StepSpec::Decode kTenauthResult = QMTKIT_TENAUTH ? tenauth_result : nullptr;
    constexpr const at::CommandSpec* kTenauthTest = QMTKIT_TENAUTH ? &cmd::tenauth_test : &cmd::at;
    constexpr const at::CommandSpec* kTenauthCmd = QMTKIT_TENAUTH ? &cmd::tenauth : &cmd::at;
    // clang-format off
    static constexpr StepSpec kScript[] = {
        // step               state            on success           back off to        rule           flags                         skip to       command              args           result
        {Step::sync,          L::syncing,      Step::echo_off,      Step::sync,        R::probe,      0,                            Step::sync,   &cmd::at,            nullptr,       nullptr},
        {Step::echo_off,      L::configuring,  Step::cmee,          Step::sync,        R::plain,      0,                            Step::sync,   &cmd::echo_off,      nullptr,       nullptr},
        {Step::cmee,          L::configuring,  Step::version,       Step::sync,        R::plain,      0,                            Step::sync,   &cmd::cmee,          one,           nullptr},
        {Step::version,       L::configuring,  Step::keepalive,     Step::sync,        R::plain,      0,                            Step::sync,   &cmd::cfg_version,   version,       nullptr},
        {Step::keepalive,     L::configuring,  Step::session,       Step::sync,        R::plain,      0,                            Step::sync,   &cmd::cfg_keepalive, keepalive,     nullptr},
        {Step::session,       L::configuring,  Step::timeout,       Step::sync,        R::plain,      0,                            Step::sync,   &cmd::cfg_session,   clean_session, nullptr},
        {Step::timeout,       L::configuring,  Step::will,          Step::sync,        R::settings,   0,                            Step::sync,   &cmd::cfg_timeout,   timeout,       nullptr},
        {Step::will,          L::configuring,  Step::aliauth,       Step::sync,        R::plain,      0,                            Step::sync,   &cmd::cfg_will,      will,          nullptr},
        {Step::aliauth,       L::configuring,  Step::attach,        Step::sync,        R::plain,      kSkipNoAliauth,               Step::attach, &cmd::cfg_aliauth,   kAliauth,      nullptr},
        {Step::attach,        L::attaching,    Step::tenauth_probe, Step::sync,        R::poll,       0,                            Step::sync,   &cmd::attach_query,  nullptr,       nullptr},
        {Step::tenauth_probe, L::authorizing,  Step::tenauth,       Step::sync,        R::spelling,   kSkipNoTenauth | kAltSpelling, Step::open,  kTenauthTest,        nullptr,       nullptr},
        {Step::tenauth,       L::authorizing,  Step::open,          Step::sync,        R::plain,      kKeep | kSkipNoTenauth | kAltSpelling, Step::open, kTenauthCmd,         kTenauth,      kTenauthResult},
        {Step::open,          L::opening,      Step::connect,       Step::attach,      R::open,       0,                            Step::sync,   &cmd::open,          open,          open_result},
        {Step::close_first,   L::opening,      Step::open,          Step::open,        R::close_first, kKeep,                       Step::sync,   &cmd::close,         zero,          close_result},
        {Step::connect,       L::connecting,   Step::subscribe,     Step::close_first, R::packet_wait, 0,                           Step::sync,   &cmd::conn,          connect,       conn_result},
        {Step::subscribe,     L::subscribing,  Step::online,        Step::sync,        R::subscribe,  0,                            Step::sync,   nullptr,             nullptr,       nullptr},
        {Step::online,        L::online,       Step::online,        Step::sync,        R::online,     0,                            Step::sync,   nullptr,             nullptr,       nullptr},
        {Step::disconnect,    L::disconnecting, Step::close,        Step::sync,        R::plain,      0,                            Step::sync,   &cmd::disc,          zero,          disc_result},
        {Step::close,         L::disconnecting, Step::stopped,      Step::sync,        R::plain,      kKeep,                        Step::sync,   &cmd::close,         zero,          close_result},
        {Step::stopped,       L::stopped,      Step::stopped,       Step::stopped,     R::stopped,    0,                            Step::sync,   nullptr,             nullptr,       nullptr},
        {Step::check,         L::online,       Step::check,         Step::sync,        R::check,      kKeep,                        Step::sync,   &cmd::conn_query,    nullptr,       nullptr},
    };
    // clang-format on
    static_assert(sizeof(kScript) / sizeof(kScript[0]) == static_cast<std::size_t>(Step::check) + 1,
                  "one row per step");
    static_assert(in_step_order(kScript), "rows in Step order");
    return kScript[static_cast<std::size_t>(s)];
}

}  // namespace qmtkit::qmt::detail
