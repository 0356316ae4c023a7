#include "qmtkit/qmt/operations.hpp"

#include <cstring>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/replies.hpp"

namespace qmtkit::qmt::detail {
namespace cmd = at::cmd;

template <class Fn>
Result<std::uint32_t> Operations::submit(const at::CommandSpec& spec, Op op, at::Timeouts t,
                                         Fn&& args) {
    auto r = ctx_.engine.submit_with(spec, this, static_cast<std::uint32_t>(op), t, args);
    if (!r) return unexpected(to_client_error(r.error()));
    return *r;  // the engine's sequence number is the ticket
}

void Operations::keep(std::string_view text) {
    const std::size_t room = session_.spare_bytes();
    len_ = text.size() < room ? text.size() : room;
    if (len_ > 0) std::memcpy(session_.spare(), text.data(), len_);
}

std::string_view Operations::kept() const {
    // A configure() since keep() may have taken some of the room: never past the pool's end.
    const std::size_t room = session_.spare_bytes();
    return std::string_view(session_.spare(), len_ < room ? len_ : room);
}

Result<std::uint32_t> Operations::open(std::string_view host, std::uint16_t port) {
    if (host.empty()) return failure<std::uint32_t>(Error::host_empty);
    if (host.size() > kMaxHost) return failure<std::uint32_t>(Error::host_too_long);
    return submit(cmd::open, Op::open, {},
                  [&](at::ArgWriter& w) { w.integer(0).quoted(host).integer(port); });
}

Result<std::uint32_t> Operations::close() {
    return submit(cmd::close, Op::close, {}, [](at::ArgWriter& w) { w.integer(0); });
}

Result<std::uint32_t> Operations::connect(std::string_view client_id, std::string_view username,
                                          std::string_view password) {
    if (client_id.empty()) return failure<std::uint32_t>(Error::client_id_empty);
    if (!password.empty() && username.empty())
        return failure<std::uint32_t>(Error::password_without_username);
    if (!at::is_utf8(client_id) || !at::is_utf8(username))
        return failure<std::uint32_t>(Error::not_utf8);
    return submit(cmd::conn, Op::connect, {0, ctx_.packet_wait()}, [&](at::ArgWriter& w) {
        w.integer(0).quoted(client_id);
        if (!username.empty()) w.quoted(username);
        if (!password.empty()) w.quoted(password);
    });
}

Result<std::uint32_t> Operations::disconnect() {
    return submit(cmd::disc, Op::disconnect, {}, [](at::ArgWriter& w) { w.integer(0); });
}

Result<std::uint32_t> Operations::set_version(std::uint8_t vsn) {
    Settings s = ctx_.applied;
    s.version = vsn;
    if (auto r = validate(s); !r) return failure<std::uint32_t>(r);
    return submit(cmd::cfg_version, Op::cfg, {},
                  [&](at::ArgWriter& w) { w.integer(0).integer(vsn); });
}

Result<std::uint32_t> Operations::set_keepalive(std::uint16_t seconds) {
    Settings s = ctx_.applied;
    s.keepalive_s = seconds;
    if (auto r = validate(s); !r) return failure<std::uint32_t>(r);
    return submit(cmd::cfg_keepalive, Op::cfg, {},
                  [&](at::ArgWriter& w) { w.integer(0).integer(seconds); });
}

Result<std::uint32_t> Operations::set_session(bool clean) {
    return submit(cmd::cfg_session, Op::cfg, {},
                  [&](at::ArgWriter& w) { w.integer(0).integer(clean ? 1 : 0); });
}

Result<std::uint32_t> Operations::set_timeout(std::uint8_t pkt_timeout_s, std::uint8_t retry_times,
                                              bool notice) {
    Settings s = ctx_.applied;
    s.pkt_timeout_s = pkt_timeout_s;
    s.retry_times = retry_times;
    if (auto r = validate(s); !r) return failure<std::uint32_t>(r);
    auto r = submit(cmd::cfg_timeout, Op::cfg, {}, [&](at::ArgWriter& w) {
        w.integer(0).integer(pkt_timeout_s).integer(retry_times).integer(notice ? 1 : 0);
    });
    if (r) {
        ctx_.applied.pkt_timeout_s = pkt_timeout_s;  // result waits follow it
        ctx_.applied.retry_times = retry_times;
        ctx_.applied.timeout_notice = notice;
    }
    return r;
}

Result<std::uint32_t> Operations::set_will(const Will* will) {
    if (will == nullptr)
        return submit(cmd::cfg_will, Op::cfg, {},
                      [](at::ArgWriter& w) { w.integer(0).integer(0); });
    if (auto r = validate(*will); !r) return failure<std::uint32_t>(r);
    return submit(cmd::cfg_will, Op::cfg, {}, [&](at::ArgWriter& w) {
        w.integer(0).integer(1).integer(will->qos).integer(will->retain ? 1 : 0);
        w.quoted(will->topic).quoted(will->message);
    });
}

Result<std::uint32_t> Operations::set_aliauth(const AliAuth& a) {
    if (auto r = validate(a); !r) return failure<std::uint32_t>(r);
    return submit(cmd::cfg_aliauth, Op::cfg, {}, [&](at::ArgWriter& w) {
        w.integer(0).quoted(a.product_key).quoted(a.device_name).quoted(a.device_secret);
    });
}

Result<std::uint32_t> Operations::tenauth(const TenAuth& t, bool alt_spelling) {
    if (auto r = validate(t); !r) return failure<std::uint32_t>(r);
    return submit(alt_spelling ? cmd::enauth : cmd::tenauth, Op::tenauth, {},
                  [&](at::ArgWriter& w) {
                      // The client id: "<product_id>@<device_name>", its length checked by
                      // validate().
                      w.quoted(t.product_id).quoted(t.device_name);
                      w.quoted(t.product_id, '@', t.device_name);
                      w.quoted(t.device_secret).integer(t.expire_days);
                      if (!t.url.empty()) w.quoted(t.url);
                  });
}

Result<std::uint32_t> Operations::query_cfg(std::string_view item) {
    struct Item {
        std::string_view name;
        const at::CommandSpec* spec;
    };
    static constexpr Item kItems[] = {
        {"version", &cmd::cfg_version}, {"keepalive", &cmd::cfg_keepalive},
        {"session", &cmd::cfg_session}, {"timeout", &cmd::cfg_timeout},
        {"will", &cmd::cfg_will},       {"aliauth", &cmd::cfg_aliauth},
    };
    for (const Item& i : kItems) {
        if (i.name == item)
            return submit(*i.spec, Op::cfg_query, {}, [](at::ArgWriter& w) { w.integer(0); });
    }
    return failure<std::uint32_t>(Error::field_empty);
}

Result<std::uint32_t> Operations::query_open() {
    return submit(cmd::open_query, Op::open_query, {}, [](at::ArgWriter&) {});
}

Result<std::uint32_t> Operations::query_conn() {
    return submit(cmd::conn_query, Op::conn_query, {}, [](at::ArgWriter&) {});
}

Result<std::uint32_t> Operations::query_tenauth(bool alt_spelling) {
    return submit(alt_spelling ? cmd::enauth_query : cmd::tenauth_query, Op::tenauth_query, {},
                  [](at::ArgWriter&) {});
}

Result<std::uint32_t> Operations::test(Op which, bool alt_spelling) {
    struct Entry {
        Op op;
        const at::CommandSpec* spec;
    };
    static constexpr Entry kTests[] = {
        {Op::cfg_test, &cmd::cfg_test},     {Op::open_test, &cmd::open_test},
        {Op::close_test, &cmd::close_test}, {Op::conn_test, &cmd::conn_test},
        {Op::disc_test, &cmd::disc_test},   {Op::sub_test, &cmd::sub_test},
        {Op::uns_test, &cmd::uns_test},     {Op::pub_test, &cmd::pub_test},
    };
    const at::CommandSpec* spec = nullptr;
    if (which == Op::tenauth_probe) spec = alt_spelling ? &cmd::enauth_test : &cmd::tenauth_test;
    for (const Entry& e : kTests) {
        if (e.op == which) spec = e.spec;
    }
    if (spec == nullptr) return failure<std::uint32_t>(Error::field_empty);
    return submit(*spec, which, {}, [](at::ArgWriter&) {});
}

Result<std::uint32_t> Operations::subscribe_many(std::uint16_t msg_id,
                                                 const std::string_view* filters,
                                                 const std::uint8_t* qos, std::size_t n) {
    if (n == 0) return failure<std::uint32_t>(Error::no_topics);
    if (n > 7) return failure<std::uint32_t>(Error::too_many_topics);  // 0,msgID + 2 each <= 16
    if (msg_id == 0) return failure<std::uint32_t>(Error::msg_id_out_of_range);
    for (std::size_t i = 0; i < n; ++i) {
        if (auto r = validate_filter(filters[i]); !r) return failure<std::uint32_t>(r);
        if (qos[i] > 2) return failure<std::uint32_t>(Error::qos_out_of_range);
    }
    return submit(cmd::sub, Op::subscribe, {0, ctx_.packet_wait()}, [&](at::ArgWriter& w) {
        w.integer(0).integer(msg_id);
        for (std::size_t i = 0; i < n; ++i) w.quoted(filters[i]).integer(qos[i]);
    });
}

Result<std::uint32_t> Operations::unsubscribe_many(std::uint16_t msg_id,
                                                   const std::string_view* filters, std::size_t n) {
    if (n == 0) return failure<std::uint32_t>(Error::no_topics);
    if (n > 14) return failure<std::uint32_t>(Error::too_many_topics);
    if (msg_id == 0) return failure<std::uint32_t>(Error::msg_id_out_of_range);
    for (std::size_t i = 0; i < n; ++i) {
        if (auto r = validate_filter(filters[i]); !r) return failure<std::uint32_t>(r);
    }
    return submit(cmd::uns, Op::unsubscribe, {0, ctx_.packet_wait()}, [&](at::ArgWriter& w) {
        w.integer(0).integer(msg_id);
        for (std::size_t i = 0; i < n; ++i) w.quoted(filters[i]);
    });
}

// ---------------------------------------------------------------- the engine's reports

void Operations::on_info(const at::CommandRef&, std::string_view line) {
    // Keep the first line (queries answer one); more are rare and only for test forms.
    if (len_ == 0) keep(line);
}

void Operations::on_final(const at::CommandRef& r, const at::Outcome& o) {
    if (!o) {
        len_ = 0;
        ctx_.listener.on_reply(r.seq, unexpected(to_client_error(o.error())));
        return;
    }
    if (r.spec->two_phase()) return;
    Reply reply;
    reply.op = static_cast<Op>(r.tag);
    reply.text = kept();
    ctx_.listener.on_reply(r.seq, reply);
    len_ = 0;
}

namespace {
// A two-phase result decoded by its command's decoder: the Reply, or what went wrong.
struct Decoded {
    at::ResultVerdict verdict = at::ResultVerdict::not_mine;
    Result<void> outcome{};
    std::int32_t result = 0;
    std::int32_t value = -1;
    std::string_view token;
};

Decoded decode(Op op, std::string_view line) {
    Decoded d;
    switch (op) {
        case Op::open: {
            const OpenReply r = decode_open(line);
            if (!r.ok) return d;
            d.result = static_cast<std::int32_t>(r.result);
            d.outcome = outcome_of(r);
            break;
        }
        case Op::connect: {
            const ConnReply r = decode_conn(line);
            if (!r.ok) return d;
            if (r.result == PacketResult::retransmission) {
                d.verdict = at::ResultVerdict::intermediate;
                return d;
            }
            d.result = r.code;
            d.value = r.ret;
            d.outcome = outcome_of(r);
            break;
        }
        case Op::close:
        case Op::disconnect: {
            const CloseReply r = decode_close(line, op == Op::close ? "+QMTCLOSE" : "+QMTDISC");
            if (!r.ok) return d;
            d.result = r.result;
            d.outcome = outcome_of(r);
            break;
        }
        case Op::tenauth: {
            const TenAuthReply r = decode_tenauth(line);
            if (!r.ok) return d;
            d.result = r.raw;
            d.outcome = outcome_of(r);
            d.token = r.password;
            break;
        }
        default: {  // subscribe_many / unsubscribe_many
            const PacketReply r =
                decode_packet(line, op == Op::subscribe ? cmd::sub.result : cmd::uns.result);
            if (!r.ok) return d;
            d.result = r.code;
            d.value = r.value;
            d.outcome = outcome_of(r);
            break;
        }
    }
    d.verdict = at::ResultVerdict::done;
    return d;
}
}  // namespace

at::ResultVerdict Operations::on_result(const at::CommandRef& r, std::string_view line) {
    const Op op = static_cast<Op>(r.tag);
    const Decoded d = decode(op, line);
    if (d.verdict != at::ResultVerdict::done) return d.verdict;
    if (d.outcome) {
        Reply reply;
        reply.op = op;
        reply.result = d.result;
        reply.value = d.value;
        reply.text = d.token;  // the token's password (the line is valid during the callback)
        ctx_.listener.on_reply(r.seq, reply);
    } else {
        ctx_.listener.on_reply(r.seq, unexpected(d.outcome.error()));
    }
    len_ = 0;
    return d.verdict;
}

void Operations::on_result_error(const at::CommandRef& r, const at::AtError& e) {
    ctx_.listener.on_reply(r.seq, unexpected(to_client_error(e)));
}

}  // namespace qmtkit::qmt::detail
