// A blocking facade for tools and simple gateways: owns an io_context, a transport, a client and
// its runner; every call runs the io_context until its completion or its deadline (no sleeps, no
// hidden thread) and returns a typed result.
//
//   qmtkit::host::BlockingClient c("/dev/ttyUSB0", {9600});
//   qmt::Session s;  s.host = "broker.example";  s.client_id = "dev1";
//   c.start(s);
//   if (auto r = c.wait_online(30s); !r) { std::cerr << describe(r.error()); }
//   auto rep = c.publish("telemetry", ByteView("21.5"), {/*qos=*/1}, 30s);
//   c.subscribe("cmd/#", 1, 30s);
//   while (auto m = c.next_message(60s)) { ... m->topic, m->payload ... }
//   c.stop(5s);
//
// Not thread-safe: use one BlockingClient from one thread (several clients on several threads are
// fine: each owns its io_context).
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "qmtkit/common/expected.hpp"
#include "qmtkit/host/runner.hpp"
#include "qmtkit/host/transport.hpp"
#include "qmtkit/qmt/client.hpp"

namespace qmtkit::host {

enum class FailureKind : std::uint8_t {
    client,     // the core refused or the module answered an error: see Error::client
    deadline,   // the call's timeout passed first
    transport,  // the serial port / TCP stream failed or closed: see Error::detail
};

struct Error {
    FailureKind kind = FailureKind::client;
    qmt::ClientError client{};  // with FailureKind::client
    std::string detail;  // what else is known (last +QMTSTAT, transport error); never a secret
};

template <class T>
using Result = Expected<T, Error>;

// One line naming the cause: "connect_refused (CONNACK return code 5)", "timed out (...)".
std::string describe(const qmt::ClientError& e);
std::string describe(const Error& e);

struct ReceivedMessage {
    std::uint16_t msg_id = 0;
    std::string topic;
    std::string payload;  // raw bytes
};

// A message the module delivered that was longer than the client can hold: reported, not lost
// silently (qmt::Listener::on_message_dropped).
struct DroppedMessage {
    std::uint16_t msg_id = 0;
    std::string topic;  // empty when even the header did not fit
    std::size_t size = 0;
};

struct PublishDone {
    std::uint32_t ticket = 0;
    qmt::Result<qmt::PublishReport> result = qmt::PublishReport{};
};

class BlockingClient final : private qmt::Listener {
  public:
    using Duration = std::chrono::milliseconds;
    using ClientType = qmt::Client<qmt::ClientConfig>;

    // Opens the device ("/dev/ttyUSB0", "COM3", "tcp://127.0.0.1:5000"). Throws TransportError.
    explicit BlockingClient(const std::string& device, const SerialOptions& serial = {});
    ~BlockingClient();
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    // The AT exchange (secrets masked by the engine). Set before start() to see bring-up.
    void set_trace(TraceFn fn) { user_trace_ = std::move(fn); }
    void set_backoff(const qmt::Backoff& b) { client_->set_backoff(b); }
    // Called on every link-state change (from inside the calls below).
    void set_link_observer(std::function<void(qmt::LinkState)> fn) {
        link_observer_ = std::move(fn);
    }

    // A device that goes away and comes back (a USB modem that re-enumerates, an emulator
    // restarted on the same --link): instead of failing the calls, the runner reopens the device
    // every policy.interval and the supervisor brings the link up again; QoS >= 1 publishes not
    // yet acknowledged and the subscriptions are kept and go out after (Runner::set_reopen).
    // The calls keep waiting meanwhile, within their own timeouts; last_problem() and the
    // deadline errors say the device is away. A device not back within policy.give_up is a
    // transport failure ("<device>: went away (...) and did not come back within 60 s").
    // Off by default; call before start(). stop() while the device is away ends at once (a
    // transport error): there is no module to say DISCONNECT to.
    void set_reopen(const ReopenPolicy& policy = {});
    // Every loss and reopen of the device (from inside the calls).
    void set_port_observer(std::function<void(PortEvent, std::error_code)> fn) {
        port_observer_ = std::move(fn);
    }
    bool port_down() const { return runner_->port_down(); }
    // "<device>: went away (...)" while it is away.
    std::string port_situation() const { return runner_->port_situation(); }
    // Every failed bring-up step and every +QMTSTAT as it happens (from inside the calls): for
    // tools that report the first cause of a failed attempt, or stop on one that cannot heal.
    void set_bringup_observer(std::function<void(qmt::LinkState, const qmt::ClientError&)> fn) {
        bringup_observer_ = std::move(fn);
    }
    void set_stat_observer(std::function<void(qmt::StatCode)> fn) {
        stat_observer_ = std::move(fn);
    }

    // Journals QoS >= 1 publishes in `store` until acknowledged, and sends what it holds from an
    // earlier run first (qmt::OutboxStore; host::FileStore is one). Before start(); the store
    // must outlive the client.
    void set_store(qmt::OutboxStore* store) { client_->set_store(store); }

    // Configures the supervisor (strings copied) and starts bringing the link up; returns at once.
    Result<void> start(const qmt::Session& session);
    // Runs until the link is online.
    Result<void> wait_online(Duration timeout);

    // Queues a publish and waits for its +QMTPUB result (the supervisor re-sends QoS >= 1 across
    // link drops, so this may span a reconnect).
    Result<qmt::PublishReport> publish(std::string_view topic, ByteView payload,
                                       qmt::PublishOptions opts, Duration timeout);
    // Queues a publish and returns its ticket; its completion comes from next_published().
    // A full outbox is Error{client, Error::queue_full}: wait for a completion and try again.
    Result<std::uint32_t> publish_async(std::string_view topic, ByteView payload,
                                        qmt::PublishOptions opts = {});
    // The next publish completion (in completion order); nullopt after `timeout`.
    std::optional<PublishDone> next_published(Duration timeout);
    // Completions not yet taken by next_published().
    std::size_t completions_pending() const { return pub_order_.size(); }

    // Registers the filter (kept across reconnects) and waits for its +QMTSUB result.
    Result<qmt::SubscribeReport> subscribe(std::string_view filter, std::uint8_t qos,
                                           Duration timeout);
    // Registers the filter and returns at once; its first result from subscription(ticket).
    Result<std::uint32_t> subscribe_async(std::string_view filter, std::uint8_t qos);
    // The first +QMTSUB result of `ticket` (nullptr until it came); re-subscriptions keep it.
    const qmt::Result<qmt::SubscribeReport>* subscription(std::uint32_t ticket) const;
    // AT+QMTUNS (the filter is forgotten); its result from unsubscription(ticket).
    Result<std::uint32_t> unsubscribe_async(std::string_view filter);
    const qmt::Result<void>* unsubscription(std::uint32_t ticket) const;

    // The next received message; nullopt after `timeout` (or when the transport failed).
    // A zero timeout takes one only if it is already there.
    std::optional<ReceivedMessage> next_message(Duration timeout);
    std::size_t messages_pending() const { return messages_.size(); }
    // The next message that was too long for the client (topic and size only).
    std::optional<DroppedMessage> next_dropped(Duration timeout);
    std::size_t dropped_pending() const { return dropped_.size(); }

    // DISCONNECT + CLOSE, waiting until the supervisor reports stopped.
    Result<void> stop(Duration timeout);

    // Runs the io_context until `done()` holds (true) or `timeout` passes / the transport
    // failed (false).
    template <class Pred>
    bool run_until(Pred&& done, Duration timeout) {
        const auto deadline = Runner::Clock::now() + timeout;
        while (!done()) {
            if (transport_failed_ || !run_one_until(deadline)) return done();
        }
        return true;
    }
    // Runs what is ready (bytes that came, timers due) without waiting: for a caller busy with
    // other work (journaling a burst of input) so the module's answers are read before their
    // deadlines are judged.
    void run_ready() {
        if (io_.stopped()) io_.restart();
        io_.poll();
    }
    // Processes events for `timeout`.
    void run_for(Duration timeout) {
        run_until([] { return false; }, timeout);
    }

    qmt::LinkState state() const { return client_->state(); }
    // The last problem seen (a +QMTSTAT, a failed bring-up step, a transport error); empty if none.
    const std::string& last_problem() const { return last_problem_; }
    bool transport_failed() const { return transport_failed_; }
    // What failed, in one line naming the device ("" while nothing did).
    const std::string& transport_failure() const { return transport_error_; }

    asio::io_context& io() { return io_; }
    Runner& runner() { return *runner_; }
    qmt::ClientCore& core() { return *client_; }
    Transport& transport() { return *transport_; }

  private:
    // qmt::Listener
    void on_link(qmt::LinkState state) override;
    void on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) override;
    void on_stat(qmt::StatCode code) override;
    void on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) override;
    void on_subscribed(std::uint32_t ticket, const qmt::Result<qmt::SubscribeReport>& r) override;
    void on_message(const qmt::Message& m) override;
    void on_reply(std::uint32_t ticket, const qmt::Result<qmt::Reply>& r) override;
    void on_message_dropped(const qmt::DroppedMessage& m) override;
    void on_unsubscribed(std::uint32_t ticket, const qmt::Result<void>& r) override;

    bool run_one_until(Runner::Clock::time_point deadline);
    void on_trace(at::TraceKind kind, std::string_view text);
    Error deadline_error(const char* what) const;
    Error transport_error() const;
    Error abandon_port();  // stop() while the device is away

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::shared_ptr<Transport> transport_;
    std::unique_ptr<ClientType> client_;
    std::unique_ptr<Runner> runner_;
    std::function<void(qmt::LinkState)> link_observer_;
    std::function<void(PortEvent, std::error_code)> port_observer_;
    TraceFn user_trace_;
    std::function<void(qmt::LinkState, const qmt::ClientError&)> bringup_observer_;
    std::function<void(qmt::StatCode)> stat_observer_;

    std::map<std::uint32_t, qmt::Result<qmt::PublishReport>> published_;
    std::deque<std::uint32_t> pub_order_;
    std::map<std::uint32_t, qmt::Result<qmt::SubscribeReport>> subscribed_;
    std::map<std::uint32_t, qmt::Result<void>> unsubscribed_;
    std::deque<ReceivedMessage> messages_;
    std::deque<DroppedMessage> dropped_;
    std::string last_problem_;
    bool transport_failed_ = false;
    std::string transport_error_;
};

}  // namespace qmtkit::host
