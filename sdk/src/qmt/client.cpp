// ClientCore: the parts put together, the engine's URCs routed to them, and the I/O entry points.
#include "qmtkit/qmt/client.hpp"

#include <cstring>

namespace qmtkit::qmt {
namespace detail {

constexpr Millis kResultMargin = 2000;  // on top of the module's own retry budget

Millis Context::packet_wait() const {
    return static_cast<Millis>(applied.pkt_timeout_s) * 1000u * (applied.retry_times + 1u) +
           kResultMargin;
}

std::uint16_t Context::new_msg_id() {
    for (std::uint32_t tries = 0; tries < 65535u; ++tries) {
        const std::uint16_t id = next_msg_id_;
        next_msg_id_ = static_cast<std::uint16_t>(id == 65535u ? 1u : id + 1u);
        if (!outbox->uses_msg_id(id) && !subscriptions->uses_msg_id(id)) return id;
    }
    return 1;  // unreachable: fewer messages than ids
}

}  // namespace detail

ClientCore::ClientCore(at::EngineCore& engine, Listener& listener, const detail::ClientStorage& st)
    : ctx_(engine, listener),
      supervisor_(ctx_, session_),
      session_(st.strings, st.string_bytes),
      outbox_(ctx_, st.outbox, st.outbox_bytes, st.window),
      subscriptions_(ctx_, st.subs, st.sub_count, st.filters, st.filter_bytes) {
    ctx_.supervisor = &supervisor_;
    ctx_.outbox = &outbox_;
    ctx_.subscriptions = &subscriptions_;
    engine.on_urc(at::cmd::urc_stat,
                  at::UrcHandler::bind<&detail::Supervisor::on_stat>(&supervisor_));
    engine.on_urc("REBOOT_CAUSE",
                  at::UrcHandler::bind<&detail::Supervisor::on_reboot>(&supervisor_),
                  /*bare=*/true);
    engine.on_urc_claim(
        at::cmd::urc_recv, at::ClaimHandler::bind<&detail::Subscriptions::on_recv>(&subscriptions_),
        at::ClaimOverflowHandler::bind<&detail::Subscriptions::on_recv_overflow>(&subscriptions_));
}

Result<void> ClientCore::configure(const Session& s) {
    if (auto r = session_.assign(s); !r) return r;
    ctx_.applied = s.settings;
    subscriptions_.set_quoting(s.recv_quoting);
    configured_ = true;
    return {};
}

Result<void> ClientCore::start(Instant now) {
    if (!configured_) return failure(Error::not_running);
    ctx_.now = now;
    supervisor_.start();
    outbox_.pump();  // what a store holds is loaded now, before anything new
    return {};
}

void ClientCore::transport_reset(Instant now) {
    ctx_.now = now;
    ctx_.engine.reset_rx();  // half a line from the old port must not prefix the new one's
    supervisor_.transport_reset();
}

Result<std::uint32_t> ClientCore::publish(std::string_view topic, ByteView payload,
                                          PublishOptions o) {
    return outbox_.publish(topic, payload, o);
}

Result<std::uint32_t> ClientCore::subscribe(std::string_view filter, std::uint8_t qos,
                                            MessageHandler h) {
    return subscriptions_.subscribe(filter, qos, h);
}

void ClientCore::feed(const std::uint8_t* data, std::size_t n, Instant now) {
    ctx_.now = now;
    ctx_.engine.feed(data, n, now);
    // Commands end and results come only with a line's end (the rest happens in poll()): a full
    // queue has room then, so pump what waits for it, subscriptions first as in poll(). A UART
    // fed byte by byte costs a memchr per byte, not a walk of the tables.
    if (n == 1 ? data[0] == '\n' : n > 1 && std::memchr(data, '\n', n) != nullptr) {
        subscriptions_.pump();
        outbox_.pump();
    }
}

void ClientCore::poll(Instant now) {
    ctx_.now = now;
    ctx_.engine.poll(now);
    supervisor_.poll();
    subscriptions_.pump();
    outbox_.pump();
}

Instant ClientCore::next_deadline() const {
    Instant t = ctx_.engine.next_deadline();
    if (supervisor_.wake_at() < t) t = supervisor_.wake_at();
    return outbox_.next_deadline(t);
}

}  // namespace qmtkit::qmt
