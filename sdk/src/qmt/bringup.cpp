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
void aliauth(const SessionStore& s, ArgWriter& w) {
    const AliAuth a = s.aliauth();
    w.integer(0).quoted(a.product_key).quoted(a.device_name).quoted(a.device_secret);
}
void tenauth(const SessionStore& s, ArgWriter& w) {
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

bool without_aliauth(const SessionStore& s) {
    return !s.use_aliauth();
}
bool without_tenauth(const SessionStore& s) {
    return !s.use_tenauth();
}

bool attach_info(std::string_view line, std::int32_t& out) {
    const AttachInfo a = decode_attach(line);
    if (a.ok) out = a.attached ? 1 : 0;
    return a.ok;
}
bool conn_state_info(std::string_view line, std::int32_t& out) {
    const ConnStateInfo c = decode_conn_state(line);
    if (c.ok) out = c.state;
    return c.ok;
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
StepResult tenauth_result(std::string_view line) {
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

const Supervisor::StepSpec& Supervisor::spec_of(Step s) {
    using L = LinkState;
    namespace cmd = at::cmd;
    // clang-format off
    using S = StepSpec;
    static constexpr StepSpec kScript[] = {
        //  step                 state            command              args            on success           back off to
        S{Step::sync,          L::syncing,       &cmd::at,            nullptr,        Step::echo_off,      Step::sync}.with(Rule::probe),
        S{Step::echo_off,      L::configuring,   &cmd::echo_off,      nullptr,        Step::cmee,          Step::sync},
        S{Step::cmee,          L::configuring,   &cmd::cmee,          one,            Step::version,       Step::sync},
        S{Step::version,       L::configuring,   &cmd::cfg_version,   version,        Step::keepalive,     Step::sync},
        S{Step::keepalive,     L::configuring,   &cmd::cfg_keepalive, keepalive,      Step::session,       Step::sync},
        S{Step::session,       L::configuring,   &cmd::cfg_session,   clean_session,  Step::timeout,       Step::sync},
        S{Step::timeout,       L::configuring,   &cmd::cfg_timeout,   timeout,        Step::will,          Step::sync}.with(Rule::settings),
        S{Step::will,          L::configuring,   &cmd::cfg_will,      will,           Step::aliauth,       Step::sync},
        S{Step::aliauth,       L::configuring,   &cmd::cfg_aliauth,   aliauth,        Step::attach,        Step::sync}
            .skipped_if(without_aliauth, Step::attach),
        S{Step::attach,        L::attaching,     &cmd::attach_query,  nullptr,        Step::tenauth_probe, Step::sync}.with(Rule::poll)
            .reads(attach_info),
        S{Step::tenauth_probe, L::authorizing,   &cmd::tenauth_test,  nullptr,        Step::tenauth,       Step::sync}.with(Rule::spelling)
            .skipped_if(without_tenauth, Step::open).or_spelled(cmd::enauth_test),
        S{Step::tenauth,       L::authorizing,   &cmd::tenauth,       tenauth,        Step::open,          Step::sync}.keeps_state()
            .decodes(tenauth_result).or_spelled(cmd::enauth),
        S{Step::open,          L::opening,       &cmd::open,          open,           Step::connect,       Step::attach}.with(Rule::open)
            .decodes(open_result),
        S{Step::close_first,   L::opening,       &cmd::close,         zero,           Step::open,          Step::open}.with(Rule::close_first)
            .keeps_state().decodes(close_result),
        S{Step::connect,       L::connecting,    &cmd::conn,          connect,        Step::subscribe,     Step::close_first}.with(Rule::packet_wait)
            .decodes(conn_result),
        S{Step::subscribe,     L::subscribing,   nullptr,             nullptr,        Step::online,        Step::sync}
            .does(&Supervisor::enter_subscribe),
        S{Step::online,        L::online,        nullptr,             nullptr,        Step::online,        Step::sync}
            .does(&Supervisor::enter_online),
        S{Step::disconnect,    L::disconnecting, &cmd::disc,          zero,           Step::close,         Step::sync}.decodes(disc_result),
        S{Step::close,         L::disconnecting, &cmd::close,         zero,           Step::stopped,       Step::sync}.keeps_state()
            .decodes(close_result),
        S{Step::stopped,       L::stopped,       nullptr,             nullptr,        Step::stopped,       Step::stopped}
            .does(&Supervisor::enter_stopped),
        S{Step::check,         L::online,        &cmd::conn_query,    nullptr,        Step::check,         Step::sync}.with(Rule::check)
            .keeps_state().reads(conn_state_info),
    };
    // clang-format on
    static_assert(sizeof(kScript) / sizeof(kScript[0]) == static_cast<std::size_t>(Step::check) + 1,
                  "one row per step, in Step order");
    return kScript[static_cast<std::size_t>(s)];
}

}  // namespace qmtkit::qmt::detail
