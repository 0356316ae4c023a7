// The AT+QMT client: every command of the note typed and validated, publishes pipelined through
// the module's five-message window, incoming messages dispatched by topic filter, and a
// supervisor that brings the link up, recovers per +QMTSTAT and re-sends what the link lost.
//
//   qmtkit::qmt::Client<> client(uart, listener);
//   client.configure(session);            // validated and copied: the caller's strings may go
//   client.start(now);
//   client.subscribe("cmd/#", 1, on_command);
//   client.publish("telemetry", payload, {/*qos=*/1});
//   ... client.feed(bytes, n, now);  client.poll(now);
//
// ClientCore is a facade over four parts, each with its own state and command handler
// (docs/client.md): the Supervisor (bring-up, recovery, back-off), the Outbox (the record pool
// and the flight window), Subscriptions (filters and dispatch) and Operations (low-level).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/config.hpp"
#include "qmtkit/qmt/context.hpp"
#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/listener.hpp"
#include "qmtkit/qmt/operations.hpp"
#include "qmtkit/qmt/outbox.hpp"
#include "qmtkit/qmt/outbox_store.hpp"
#include "qmtkit/qmt/recv.hpp"
#include "qmtkit/qmt/session.hpp"
#include "qmtkit/qmt/subscriptions.hpp"
#include "qmtkit/qmt/supervisor.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

namespace detail {
// Where a Client's storage is (the Client owns it; ClientCore works over it).
struct ClientStorage {
    std::uint8_t* outbox;
    std::size_t outbox_bytes;
    std::size_t window;
    Subscription* subs;
    std::size_t sub_count;
    char* filters;
    std::size_t filter_bytes;
    char* strings;
    std::size_t string_bytes;
};
}  // namespace detail

class ClientCore {
  public:
    ClientCore(at::EngineCore& engine, Listener& listener, const detail::ClientStorage& storage);
    ClientCore(const ClientCore&) = delete;
    ClientCore& operator=(const ClientCore&) = delete;

    // ---- supervisor
    // Validates the session and copies every string; nothing is sent.
    Result<void> configure(const Session& s);
    void set_backoff(const Backoff& b) { supervisor_.set_backoff(b); }
    // Journals QoS >= 1 publishes in `store` (before start(); nullptr: none). start() then loads
    // what it still holds from a previous run before new messages.
    void set_store(OutboxStore* store) { outbox_.set_store(store); }
    // Brings the link up and keeps it up until stop().
    Result<void> start(Instant now);
    // DISCONNECT, CLOSE, then stopped. Queued publishes stay in the outbox.
    void stop() { supervisor_.stop(); }
    // The serial port was reopened (or replaced, or went away): every command on the wire is
    // gone, so it is aborted; the outbox and the subscriptions stay, and bring-up runs again
    // from AT at the next poll(). No bring-up error is reported for the aborted step. While
    // stopped it only aborts what was on the wire.
    void transport_reset(Instant now);
    LinkState state() const { return supervisor_.state(); }
    bool online() const { return supervisor_.online(); }

    // ---- application
    // Queues a publish (payload and topic copied). QoS >= 1 publishes survive link drops and
    // module reboots and are sent again, in order, until acknowledged. An empty payload goes in
    // variable-length form.
    Result<std::uint32_t> publish(std::string_view topic, ByteView payload, PublishOptions o = {});
    // Registers a filter (kept across reconnects); subscribed now if online, else on bring-up.
    Result<std::uint32_t> subscribe(std::string_view filter, std::uint8_t qos,
                                    MessageHandler h = {});
    Result<std::uint32_t> unsubscribe(std::string_view filter) {
        return subscriptions_.unsubscribe(filter);
    }
    std::size_t outbox() const { return outbox_.count(); }         // not yet acknowledged
    std::size_t in_flight() const { return outbox_.in_flight(); }  // awaiting +QMTPUB

    // ---- low-level commands (manual mode, tools, tests); completion via Listener::on_reply.
    Result<std::uint32_t> open(std::string_view host, std::uint16_t port) {
        return ops().open(host, port);
    }
    Result<std::uint32_t> close() { return ops().close(); }
    Result<std::uint32_t> connect(std::string_view client_id, std::string_view username = {},
                                  std::string_view password = {}) {
        return ops().connect(client_id, username, password);
    }
    Result<std::uint32_t> disconnect() { return ops().disconnect(); }
    Result<std::uint32_t> set_version(std::uint8_t vsn) { return ops().set_version(vsn); }
    Result<std::uint32_t> set_keepalive(std::uint16_t s) { return ops().set_keepalive(s); }
    Result<std::uint32_t> set_session(bool clean) { return ops().set_session(clean); }
    Result<std::uint32_t> set_timeout(std::uint8_t pkt_timeout_s, std::uint8_t retry_times,
                                      bool notice) {
        return ops().set_timeout(pkt_timeout_s, retry_times, notice);
    }
    Result<std::uint32_t> set_will(const Will* will) {
        return ops().set_will(will);
    }  // nullptr: none
    Result<std::uint32_t> set_aliauth(const AliAuth& a) { return ops().set_aliauth(a); }
    Result<std::uint32_t> tenauth(const TenAuth& t) {
        return ops().tenauth(t, supervisor_.tenauth_alt_spelling());
    }
    // "version" | "keepalive" | "session" | "timeout" | "will" | "aliauth": the query form.
    Result<std::uint32_t> query_cfg(std::string_view item) { return ops().query_cfg(item); }
    Result<std::uint32_t> query_open() { return ops().query_open(); }
    Result<std::uint32_t> query_conn() { return ops().query_conn(); }
    Result<std::uint32_t> query_tenauth() {
        return ops().query_tenauth(supervisor_.tenauth_alt_spelling());
    }
    Result<std::uint32_t> test(Op which) {  // cfg_test, open_test, ..., pub_test
        return ops().test(which, supervisor_.tenauth_alt_spelling());
    }
    // A subscribe / unsubscribe of several filters in one command (msgID 1..65535).
    Result<std::uint32_t> subscribe_many(std::uint16_t msg_id, const std::string_view* filters,
                                         const std::uint8_t* qos, std::size_t n) {
        return ops().subscribe_many(msg_id, filters, qos, n);
    }
    Result<std::uint32_t> unsubscribe_many(std::uint16_t msg_id, const std::string_view* filters,
                                           std::size_t n) {
        return ops().unsubscribe_many(msg_id, filters, n);
    }

    // ---- I/O and time
    void feed(const std::uint8_t* data, std::size_t n, Instant now);
    void poll(Instant now);
    Instant next_deadline() const;
    at::EngineCore& engine() { return ctx_.engine; }
    const ClientStats& stats() const { return ctx_.stats; }

  private:
    // The 8-byte-aligned parts first, the 16-bit and byte members last: no padding between.
    detail::Context ctx_;
    detail::Supervisor supervisor_;  // holds a reference to session_, constructed after it
    detail::SessionStore session_;
    detail::Outbox outbox_;
    detail::Subscriptions subscriptions_;
    // The low-level operations' handler is constructed at the first low-level call, so a
    // firmware that never makes one links neither its vtable nor what that reaches. It keeps a
    // query's information line in the session pool's unused end: no buffer of its own.
    detail::Operations& ops() {
        if (!ops_ready_) {
            new (ops_storage_) detail::Operations(ctx_, session_);
            ops_ready_ = true;
        }
        return *std::launder(static_cast<detail::Operations*>(static_cast<void*>(ops_storage_)));
    }
    alignas(detail::Operations) unsigned char ops_storage_[sizeof(detail::Operations)];
    bool ops_ready_ = false;
    bool configured_ = false;
};

namespace detail {
// Storage of a Client, a base so it exists before ClientCore is constructed over it.
template <class Config>
struct ClientStore {
    explicit ClientStore(at::Writer& writer) : store_engine_(writer) {}
    ClientStorage storage() {
        return ClientStorage{outbox_,
                             Config::outbox_bytes,
                             Config::window,
                             subs_,
                             Config::subscriptions,
                             filters_,
                             Config::filter_bytes,
                             strings_,
                             Config::session_bytes};
    }
    at::Engine<typename Config::Engine> store_engine_;
    alignas(OutboxRecord) std::uint8_t outbox_[Config::outbox_bytes]{};
    Subscription subs_[Config::subscriptions]{};
    char filters_[Config::filter_bytes]{};
    char strings_[Config::session_bytes]{};
};
}  // namespace detail

// A client with all its storage inside: every capacity a compile-time setting, no heap.
template <class Config = ClientConfig>
class Client final : private detail::ClientStore<Config>, public ClientCore {
    // ClientCore is usable only through Client<>, which owns its storage.
  public:
    Client(at::Writer& writer, Listener& listener)
        : detail::ClientStore<Config>(writer),
          ClientCore(this->store_engine_, listener, detail::ClientStore<Config>::storage()) {}
    static_assert(Config::window >= 1 && Config::window <= kFlightWindow,
                  "the module allows 1..5 in flight");
    static_assert(Config::outbox_bytes >= 2 * sizeof(detail::OutboxRecord) &&
                      Config::outbox_bytes <= 0xFFF8u,
                  "an outbox of two records or more, below 64 KiB (16-bit record sizes)");
    static_assert(Config::filter_bytes <= 0xFFFFu, "filter offsets are 16-bit");
    static_assert(Config::session_bytes <= 0xFFFFu && Config::subscriptions <= 0xFFFFu,
                  "session and subscription capacities are 16-bit");
};

}  // namespace qmtkit::qmt
