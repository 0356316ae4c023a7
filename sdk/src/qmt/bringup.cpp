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
using detail::read_ints;
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
    std::int32_t v[2] = {-1, -1};
    if (rule == Rule::poll) {  // +CGATT:<state> (decode_attach)
        if (read_ints(line, "+CGATT", v, 1) < 1) return false;
        out = v[0] == 1 ? 1 : 0;
        return true;
    }
    // +QMTCONN: 0,<state> (decode_conn_state)
    if (rule != Rule::check || read_ints(line, "+QMTCONN", v, 2) < 2) return false;
    out = v[1];
    return true;
}

StepResult decode_result(Reply kind, std::string_view line) {
    using V = at::ResultVerdict;
    if (kind == Reply::none) return {};
    if (QMTKIT_TENAUTH && kind == Reply::tenauth) return tenauth_result(line);
    // "+QMTOPEN: 0,<result>", "+QMTCLOSE / +QMTDISC: 0,<result>", "+QMTCONN: 0,<result>[,<ret>]":
    // the shapes of decode_open / decode_close / decode_conn, read once for all of them.
    static constexpr std::string_view kPrefix[] = {"", "+QMTOPEN", "+QMTCLOSE", "+QMTDISC",
                                                   "+QMTCONN"};
    std::int32_t v[3] = {0, 0, -1};
    if (kind > Reply::conn || read_ints(line, kPrefix[static_cast<int>(kind)], v, 3) < 2)
        return {V::not_mine};
    switch (kind) {
        case Reply::open:
            return {V::done, outcome_of(detail::open_reply(v[1]))};
        case Reply::conn: {
            if (v[1] == 1) return {V::intermediate};  // a retransmission report
            ConnReply r;
            r.ok = true;
            r.result = v[1] == 0 ? PacketResult::acked : PacketResult::failed;
            r.code = v[1];
            r.ret = v[2];  // -1 when absent
            return {V::done, outcome_of(r)};
        }
        default:  // close, disc
            return {V::done, outcome_of(CloseReply{true, v[1]})};
    }
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
    constexpr const at::CommandSpec* kTenauthTest = QMTKIT_TENAUTH ? &cmd::tenauth_test : &cmd::at;
    constexpr const at::CommandSpec* kTenauthCmd = QMTKIT_TENAUTH ? &cmd::tenauth : &cmd::at;
    // clang-format off
    static constexpr StepSpec kScript[] = {
        // step               state             on success           back off to        rule            flags                                  skip to       result          command              args
        {Step::sync,          L::syncing,       Step::echo_off,      Step::sync,        R::probe,       0,                                     Step::sync,   Reply::none,    &cmd::at,            nullptr},
        {Step::echo_off,      L::configuring,   Step::cmee,          Step::sync,        R::plain,       0,                                     Step::sync,   Reply::none,    &cmd::echo_off,      nullptr},
        {Step::cmee,          L::configuring,   Step::version,       Step::sync,        R::plain,       0,                                     Step::sync,   Reply::none,    &cmd::cmee,          one},
        {Step::version,       L::configuring,   Step::keepalive,     Step::sync,        R::plain,       0,                                     Step::sync,   Reply::none,    &cmd::cfg_version,   version},
        {Step::keepalive,     L::configuring,   Step::session,       Step::sync,        R::plain,       0,                                     Step::sync,   Reply::none,    &cmd::cfg_keepalive, keepalive},
        {Step::session,       L::configuring,   Step::timeout,       Step::sync,        R::plain,       0,                                     Step::sync,   Reply::none,    &cmd::cfg_session,   clean_session},
        {Step::timeout,       L::configuring,   Step::will,          Step::sync,        R::settings,    0,                                     Step::sync,   Reply::none,    &cmd::cfg_timeout,   timeout},
        {Step::will,          L::configuring,   Step::aliauth,       Step::sync,        R::plain,       0,                                     Step::sync,   Reply::none,    &cmd::cfg_will,      will},
        {Step::aliauth,       L::configuring,   Step::attach,        Step::sync,        R::plain,       kSkipNoAliauth,                        Step::attach, Reply::none,    &cmd::cfg_aliauth,   kAliauth},
        {Step::attach,        L::attaching,     Step::tenauth_probe, Step::sync,        R::poll,        0,                                     Step::sync,   Reply::none,    &cmd::attach_query,  nullptr},
        {Step::tenauth_probe, L::authorizing,   Step::tenauth,       Step::sync,        R::spelling,    kSkipNoTenauth | kAltSpelling,         Step::open,   Reply::none,    kTenauthTest,        nullptr},
        {Step::tenauth,       L::authorizing,   Step::open,          Step::sync,        R::plain,       kKeep | kSkipNoTenauth | kAltSpelling, Step::open,   Reply::tenauth, kTenauthCmd,         kTenauth},
        {Step::open,          L::opening,       Step::connect,       Step::attach,      R::open,        0,                                     Step::sync,   Reply::open,    &cmd::open,          open},
        {Step::close_first,   L::opening,       Step::open,          Step::open,        R::close_first, kKeep,                                 Step::sync,   Reply::close,   &cmd::close,         zero},
        {Step::connect,       L::connecting,    Step::subscribe,     Step::close_first, R::packet_wait, 0,                                     Step::sync,   Reply::conn,    &cmd::conn,          connect},
        {Step::subscribe,     L::subscribing,   Step::online,        Step::sync,        R::subscribe,   0,                                     Step::sync,   Reply::none,    nullptr,             nullptr},
        {Step::online,        L::online,        Step::online,        Step::sync,        R::online,      0,                                     Step::sync,   Reply::none,    nullptr,             nullptr},
        {Step::disconnect,    L::disconnecting, Step::close,         Step::sync,        R::plain,       0,                                     Step::sync,   Reply::disc,    &cmd::disc,          zero},
        {Step::close,         L::disconnecting, Step::stopped,       Step::sync,        R::plain,       kKeep,                                 Step::sync,   Reply::close,   &cmd::close,         zero},
        {Step::stopped,       L::stopped,       Step::stopped,       Step::stopped,     R::stopped,     0,                                     Step::sync,   Reply::none,    nullptr,             nullptr},
        {Step::check,         L::online,        Step::check,         Step::sync,        R::check,       kKeep,                                 Step::sync,   Reply::none,    &cmd::conn_query,    nullptr},
    };
    // clang-format on
    static_assert(sizeof(kScript) / sizeof(kScript[0]) == static_cast<std::size_t>(Step::check) + 1,
                  "one row per step");
    static_assert(in_step_order(kScript), "rows in Step order");
    return kScript[static_cast<std::size_t>(s)];
}

}  // namespace qmtkit::qmt::detail
