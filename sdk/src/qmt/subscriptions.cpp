#include "qmtkit/qmt/subscriptions.hpp"

#include <cstring>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/recv.hpp"
#include "qmtkit/qmt/replies.hpp"
#include "qmtkit/qmt/supervisor.hpp"

namespace qmtkit::qmt::detail {
namespace {
constexpr std::int32_t kSubackFailure = 128;
}

Subscriptions::Subscriptions(Context& ctx, Subscription* table, std::size_t count, char* filters,
                             std::size_t filter_bytes)
    : ctx_(ctx),
      uns_(ctx),
      table_(table),
      filters_(filters),
      count_(static_cast<std::uint16_t>(count)),
      filter_cap_(static_cast<std::uint16_t>(filter_bytes)) {
    for (std::size_t i = 0; i < count_; ++i) table_[i].state = Subscription::State::free;
}

Subscription* Subscriptions::find(std::string_view f) {
    for (std::size_t i = 0; i < count_; ++i) {
        if (table_[i].state != Subscription::State::free && filter(table_[i]) == f)
            return &table_[i];
    }
    return nullptr;
}

Subscription* Subscriptions::find_seq(std::uint32_t seq) {
    for (std::size_t i = 0; i < count_; ++i) {
        if (table_[i].state != Subscription::State::free && table_[i].engine_seq == seq)
            return &table_[i];
    }
    return nullptr;
}

Result<std::uint32_t> Subscriptions::subscribe(std::string_view f, std::uint8_t qos,
                                               MessageHandler h) {
    if (auto r = validate_filter(f); !r) return failure<std::uint32_t>(r);
    if (qos > 2) return failure<std::uint32_t>(Error::qos_out_of_range);
    Subscription* s = find(f);
    if (s == nullptr) {
        for (std::size_t i = 0; i < count_ && s == nullptr; ++i) {
            if (table_[i].state == Subscription::State::free) s = &table_[i];
        }
        if (s == nullptr || f.size() > static_cast<std::size_t>(filter_cap_ - filter_used_))
            return failure<std::uint32_t>(Error::queue_full);
        // The filter's text goes at the end of the pool (release() keeps it packed).
        std::memcpy(filters_ + filter_used_, f.data(), f.size());
        s->filter_at = static_cast<std::uint16_t>(filter_used_);
        s->filter_len = static_cast<std::uint16_t>(f.size());
        filter_used_ = static_cast<std::uint16_t>(filter_used_ + f.size());
    } else if (s->state == Subscription::State::sending) {
        ctx_.engine.abandon(s->engine_seq);
    }
    s->ticket = ctx_.ticket();
    s->qos = qos;
    s->handler = h;
    s->state = Subscription::State::pending;
    pump();
    return s->ticket;
}

// Frees an entry and closes the gap its filter leaves: the text of a filter is written into the
// command when it is submitted, so nothing on the wire points into the pool.
void Subscriptions::release(Subscription& s) {
    const std::size_t at = s.filter_at, len = s.filter_len;
    std::memmove(filters_ + at, filters_ + at + len, filter_used_ - at - len);
    filter_used_ = static_cast<std::uint16_t>(filter_used_ - len);
    for (std::size_t i = 0; i < count_; ++i) {
        if (table_[i].state != Subscription::State::free && table_[i].filter_at > at)
            table_[i].filter_at = static_cast<std::uint16_t>(table_[i].filter_at - len);
    }
    s.state = Subscription::State::free;
    s.filter_len = 0;
}

Result<std::uint32_t> Subscriptions::unsubscribe(std::string_view f) {
    if (auto r = validate_filter(f); !r) return failure<std::uint32_t>(r);
    const std::uint32_t ticket = ctx_.ticket();
    if (Subscription* s = find(f)) {
        if (s->state == Subscription::State::sending) ctx_.engine.abandon(s->engine_seq);
        release(*s);
        // The bring-up may have been waiting for just this subscription.
        if (settled()) ctx_.supervisor->subscriptions_settled();
    }
    if (!ctx_.supervisor->online()) {
        ctx_.listener.on_unsubscribed(ticket, Result<void>{});  // nothing to tell the broker now
        pump();  // an abandoned SUB made room in the queue: no line's end will say so
        return ticket;
    }
    const std::uint16_t id = ctx_.new_msg_id();
    auto r =
        ctx_.engine.submit_with(at::cmd::uns, &uns_, ticket, at::Timeouts{0, ctx_.packet_wait()},
                                [&](at::ArgWriter& w) { w.integer(0).integer(id).quoted(f); });
    pump();  // behind the UNS, in what room is left
    if (!r) return unexpected(to_client_error(r.error()));
    return ticket;
}

void Subscriptions::resubscribe_all() {
    for (std::size_t i = 0; i < count_; ++i) {
        if (table_[i].state != Subscription::State::free)
            table_[i].state = Subscription::State::pending;
    }
}

void Subscriptions::pump() {
    const LinkState st = ctx_.supervisor->state();
    if (st != LinkState::online && st != LinkState::subscribing) return;
    if (ctx_.supervisor->checking_link()) return;  // sent once the module has answered
    for (std::size_t i = 0; i < count_; ++i) {
        Subscription& s = table_[i];
        if (s.state != Subscription::State::pending) continue;
        s.msg_id = ctx_.new_msg_id();
        auto r = ctx_.engine.submit_with(at::cmd::sub, this, 0, at::Timeouts{0, ctx_.packet_wait()},
                                         [&](at::ArgWriter& w) {
                                             w.integer(0).integer(s.msg_id);
                                             w.quoted(filter(s)).integer(s.qos);
                                         });
        if (!r) {
            // Room comes when a command ends (feed() and poll() pump then) or is abandoned
            // (unsubscribe() pumps then).
            if (r.error().kind == at::ErrorKind::queue_full) return;
            refused(s, to_client_error(r.error()));  // it would never fit: pending forever
            continue;
        }
        s.engine_seq = *r;
        s.state = Subscription::State::sending;
    }
}

bool Subscriptions::settled() const {
    for (std::size_t i = 0; i < count_; ++i) {
        const auto st = table_[i].state;
        if (st == Subscription::State::pending || st == Subscription::State::sending) return false;
    }
    return true;
}

void Subscriptions::link_lost() {
    for (std::size_t i = 0; i < count_; ++i) {
        Subscription& s = table_[i];
        if (s.state == Subscription::State::sending) {
            ctx_.engine.abandon(s.engine_seq);
            s.state = Subscription::State::pending;
        }
    }
}

bool Subscriptions::uses_msg_id(std::uint16_t id) const {
    for (std::size_t i = 0; i < count_; ++i) {
        if (table_[i].state == Subscription::State::sending && table_[i].msg_id == id) return true;
    }
    return false;
}

void Subscriptions::refused(Subscription& s, const ClientError& e) {
    s.state = Subscription::State::refused;
    ctx_.listener.on_subscribed(s.ticket, unexpected(e));
    if (settled()) ctx_.supervisor->subscriptions_settled();
}

void Subscriptions::on_final(const at::CommandRef& r, const at::Outcome& o) {
    Subscription* s = find_seq(r.seq);
    if (s == nullptr || s->state != Subscription::State::sending || o) return;
    if (o.error().kind == at::ErrorKind::aborted) {
        s->state = Subscription::State::pending;  // a reboot or a new port: sent again
        return;
    }
    if (o.error().kind == at::ErrorKind::timeout) {
        s->state = Subscription::State::pending;  // sent again once the module answers
        return ctx_.supervisor->check_link();
    }
    const ClientError e = to_client_error(o.error());
    if (e.code == Error::cme && e.cme == at::Cme::operation_not_allowed) {
        // The module has no MQTT connection (a link that died without +QMTSTAT): nothing was
        // sent, the broker refused nothing. Subscribed again once the link is back.
        s->state = Subscription::State::pending;
        return ctx_.supervisor->check_link();
    }
    refused(*s, e);
}

at::ResultVerdict Subscriptions::on_result(const at::CommandRef& r, std::string_view line) {
    const PacketReply d = decode_packet(line, at::cmd::sub.result);
    if (!d.ok) return at::ResultVerdict::not_mine;
    if (d.result == PacketResult::retransmission) return at::ResultVerdict::intermediate;
    Subscription* s = find_seq(r.seq);
    if (s == nullptr) return at::ResultVerdict::done;
    // MQTT 3.1.1 (3.9.3) grants QoS 0..2 or fails with 128; anything else is no grant either.
    if (d.result == PacketResult::acked && d.value >= 0 && d.value <= 2) {
        s->state = Subscription::State::active;
        ctx_.listener.on_subscribed(s->ticket,
                                    SubscribeReport{s->msg_id, static_cast<std::uint8_t>(d.value)});
        if (settled()) ctx_.supervisor->subscriptions_settled();
    } else if (d.result == PacketResult::acked) {
        refused(*s,
                client_error(Error::subscription_refused, d.value < 0 ? kSubackFailure : d.value));
    } else {
        refused(*s, outcome_of(d).error());
    }
    return at::ResultVerdict::done;
}

void Subscriptions::on_result_error(const at::CommandRef& r, const at::AtError& e) {
    Subscription* s = find_seq(r.seq);
    if (s == nullptr) return;
    if (e.kind == at::ErrorKind::aborted) {
        s->state = Subscription::State::pending;
        return;
    }
    if (e.kind == at::ErrorKind::result_timeout) {
        // No +QMTSUB within the packet wait: the link may have died without +QMTSTAT. Not a
        // refusal: ask the module, and subscribe again (on this link or the next).
        s->state = Subscription::State::pending;
        return ctx_.supervisor->check_link();
    }
    refused(*s, to_client_error(e));
}

void Subscriptions::Unsubscribes::on_final(const at::CommandRef& r, const at::Outcome& o) {
    if (!o) ctx.listener.on_unsubscribed(r.tag, unexpected(to_client_error(o.error())));
}

at::ResultVerdict Subscriptions::Unsubscribes::on_result(const at::CommandRef& r,
                                                         std::string_view line) {
    const PacketReply d = decode_packet(line, at::cmd::uns.result);
    if (!d.ok) return at::ResultVerdict::not_mine;
    if (d.result == PacketResult::retransmission) return at::ResultVerdict::intermediate;
    ctx.listener.on_unsubscribed(r.tag, outcome_of(d));
    return at::ResultVerdict::done;
}

void Subscriptions::Unsubscribes::on_result_error(const at::CommandRef& r, const at::AtError& e) {
    ctx.listener.on_unsubscribed(r.tag, unexpected(to_client_error(e)));
}

// ---------------------------------------------------------------- receiving

void Subscriptions::dispatch(const Message& m) {
    bool taken = false;
    for (std::size_t i = 0; i < count_; ++i) {
        const Subscription& s = table_[i];
        if (s.state == Subscription::State::free || !s.handler) continue;
        if (topic_matches(filter(s), m.topic)) {
            s.handler(m);
            taken = true;
        }
    }
    if (!taken) ctx_.listener.on_message(m);
}

at::Claim Subscriptions::on_recv(ByteView b, at::ClaimPhase phase) {
    const RecvParse p = parse_recv(b, phase, quoting_);
    switch (p.status) {
        case RecvParse::Status::need_more:
            return at::Claim::need_more();
        case RecvParse::Status::malformed:
            ++ctx_.stats.malformed;
            return at::Claim::done(p.consumed);
        case RecvParse::Status::complete:
            ++ctx_.stats.received;
            dispatch(Message{p.message.msg_id, p.message.topic, p.message.payload});
            return at::Claim::done(p.consumed);
    }
    return at::Claim::done(b.size);
}

void Subscriptions::on_recv_overflow(ByteView head, std::size_t total) {
    const RecvOverflow o = parse_recv_overflow(head, total, quoting_);
    ++ctx_.stats.dropped;
    ctx_.listener.on_message_dropped(DroppedMessage{o.msg_id, o.topic, o.payload_size});
}

}  // namespace qmtkit::qmt::detail
