// The client as a firmware uses it (docs/client.md): configure, start, subscribe, publish, feed,
// poll, sleep until next_deadline(); the Listener's callbacks all observed.
#pragma once

#include "probe.hpp"
#include "qmtkit/qmt/client.hpp"

namespace probe {

struct App final : qmtkit::qmt::Listener {
    void on_link(qmtkit::qmt::LinkState s) override { keep(static_cast<unsigned>(s)); }
    void on_bringup_error(qmtkit::qmt::LinkState s, const qmtkit::qmt::ClientError& e) override {
        keep(static_cast<unsigned>(s) + static_cast<unsigned>(e.code));
    }
    void on_stat(qmtkit::qmt::StatCode c) override { keep(static_cast<unsigned>(c)); }
    void on_published(std::uint32_t ticket,
                      const qmtkit::qmt::Result<qmtkit::qmt::PublishReport>& r) override {
        keep(ticket + (r ? r->attempts : static_cast<unsigned>(r.error().code)));
    }
    void on_subscribed(std::uint32_t ticket,
                       const qmtkit::qmt::Result<qmtkit::qmt::SubscribeReport>& r) override {
        keep(ticket + (r ? r->granted_qos : 9u));
    }
    void on_unsubscribed(std::uint32_t ticket, const qmtkit::qmt::Result<void>& r) override {
        keep(ticket + (r ? 0u : 1u));
    }
    void on_message(const qmtkit::qmt::Message& m) override {
        keep_text(m.payload.data, m.payload.size + m.topic.size());
    }
    void on_message_dropped(const qmtkit::qmt::DroppedMessage& m) override { keep(m.size); }
};

inline void on_command(void*, const qmtkit::qmt::Message& m) {
    keep_text(m.payload.data, m.payload.size);
}

// The session of the probes that do not use a cloud profile.
inline qmtkit::qmt::Session hand_filled_session() {
    qmtkit::qmt::Session s;
    s.host = "broker.example";
    s.client_id = "dev-42";
    s.username = "dev-42";
    s.password = "secret";
    return s;
}

// Runs a client over `session` forever.
template <class Client>
[[noreturn]] void run(Client& client, const qmtkit::qmt::Session& session) {
    using namespace qmtkit;
    keep(client.configure(session).has_value());
    client.set_backoff(qmt::Backoff{});
    keep(client.start(clock).has_value());
    keep(client.subscribe("dev/42/cmd", 1, qmt::MessageHandler(nullptr, on_command)).value_or(0u));
    static const char kReading[] = "{\"t\":21.5,\"rh\":40}";
    for (;;) {
        const Instant now = clock;
        switch (input % 4u) {
            case 0:
                keep(client
                         .publish("dev/42/telemetry", ByteView(std::string_view(kReading)),
                                  qmt::PublishOptions{static_cast<std::uint8_t>(input & 1u)})
                         .value_or(0u));
                break;
            case 1:
                keep(client.unsubscribe("dev/42/cmd").value_or(0u));
                break;
            case 2:
                client.stop();
                break;
            default:
                break;
        }
        std::uint8_t chunk[sizeof(rx)];
        client.feed(chunk, take_rx(chunk), now);
        client.poll(now);
        keep(client.next_deadline());
        keep(client.outbox() + client.in_flight() + client.stats().dropped +
             static_cast<unsigned>(client.state()));
    }
}

}  // namespace probe
