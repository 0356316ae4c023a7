// The CLI's link to the module: an io_context, a transport, a qmt::Client and its runner, as
// host::BlockingClient has them, plus what a command-line run needs and the facade does not
// give:
//
//  - the cause of a failed bring-up, in words: the FIRST problem of the attempt (a refused
//    CONNECT), not what the clean-up after it reported (the "+QMTCLOSE: 0,-1" of closing a
//    network the refusal already closed);
//  - whether that cause can heal by retrying. The supervisor retries everything; the CLI stops at
//    once on CONNACK 1, 2, 4, 5 and +QMTOPEN 1, 4 (fatal()), and gives transient causes
//    (+QMTOPEN -1, 3, 5, CONNACK 3, ping timeouts, ...) until --timeout;
//  - SIGINT / SIGTERM: the first makes every wait return (signal()), so the tool can send
//    DISCONNECT and CLOSE before it exits; a second one ends the process at once.
//
// Every wait runs the io_context until its predicate holds, its timeout passes, or the run is to
// end (ended(): a signal, a fatal cause, the transport gone). No threads, no sleeps.
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

#include "common.hpp"
#include "qmtkit/host/blocking_client.hpp"
#include "qmtkit/host/runner.hpp"
#include "qmtkit/host/transport.hpp"
#include "qmtkit/qmt/client.hpp"

namespace qmtkit::cli {

// "CONNECT refused: bad user name or password (CONNACK 4)", "OPEN failed: failed to parse the
// domain name (+QMTOPEN result 4)", ...: a bring-up error as the CLI reports it.
std::string describe_cause(qmt::LinkState during, const qmt::ClientError& e);
// CONNACK 1, 2, 4, 5 and +QMTOPEN 1, 4: the same session gets the same answer however often it is
// tried.
bool cannot_heal(const qmt::ClientError& e);

class Link final : private qmt::Listener {
  public:
    using Clock = host::Runner::Clock;
    using Duration = std::chrono::milliseconds;

    // Opens the device ("/dev/ttyUSB0", "tcp://127.0.0.1:5000"). Throws host::TransportError.
    Link(const std::string& device, const host::SerialOptions& serial);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // The AT exchange on stderr (secrets masked by the engine).
    void set_trace(bool on);
    // -d: "qmtkit <tool>: link <state>" and every bring-up problem as it happens, on stderr.
    void set_debug(const std::string& tool);
    // Catches SIGINT and SIGTERM (unless ignored when the process started): see signal().
    void catch_signals();
    // A device that goes away (a USB modem re-enumerating, the emulator restarted on the same
    // --link): the runner looks for it once a second and the supervisor brings the link up again
    // once it is back, the outbox kept; not back within `give_up` (the tool's --timeout) ends
    // the run (transport_failed(), "<device>: went away (...) and did not come back within
    // N s"). Waits keep going meanwhile; situation() names the device while it is away.
    void set_reopen(Duration give_up);
    // The device went away and is not back (yet).
    bool port_down() const { return runner_->port_down(); }

    // Configures the supervisor (strings copied) and starts bringing the link up.
    qmt::Result<void> start(const qmt::Session& session);

    qmt::Result<std::uint32_t> publish(std::string_view topic, ByteView payload,
                                       qmt::PublishOptions opts);
    struct Published {
        std::uint32_t ticket = 0;
        qmt::Result<qmt::PublishReport> result = qmt::PublishReport{};
    };
    std::size_t published_pending() const { return published_.size(); }
    std::optional<Published> take_published();

    qmt::Result<std::uint32_t> subscribe(std::string_view filter, std::uint8_t qos);
    // The first +QMTSUB result of `ticket`, once it came.
    const qmt::Result<qmt::SubscribeReport>* subscribed(std::uint32_t ticket) const;

    std::size_t messages_pending() const { return messages_.size(); }
    std::optional<host::ReceivedMessage> take_message();
    // Messages the module delivered that were longer than the client can hold (never printed).
    struct Dropped {
        std::uint16_t msg_id = 0;
        std::string topic;  // empty when even the header did not fit
        std::size_t size = 0;
    };
    std::size_t dropped_pending() const { return dropped_.size(); }
    std::optional<Dropped> take_dropped();

    // AT+QMTUNS now (call it online); its result through unsubscribed(ticket).
    qmt::Result<std::uint32_t> unsubscribe(std::string_view filter);
    const qmt::Result<void>* unsubscribed(std::uint32_t ticket) const;

    // Runs the io_context until `done()` holds (true), or `timeout` passes or ended() (false).
    template <class Pred>
    bool run_until(Pred&& done, Duration timeout) {
        const auto deadline = Clock::now() + timeout;
        while (!done()) {
            if (ended() || !run_one_until(deadline)) return done();
        }
        return true;
    }
    // The run is to end: a signal came, the bring-up failed for good, or the transport is gone.
    bool ended() const { return signal_ != 0 || !fatal_.empty() || transport_failed_; }

    // DISCONNECT (when connected) and CLOSE, within `timeout` (it ignores signal() and fatal());
    // true when the supervisor reported stopped.
    bool stop(Duration timeout);

    qmt::LinkState state() const { return client_->state(); }
    int signal() const { return signal_; }
    // A cause retrying cannot heal ("" while there is none).
    const std::string& fatal() const { return fatal_; }
    // Why the link is not (yet) online: the first problem of the current bring-up attempt, or of
    // the last failed one ("" when nothing went wrong).
    const std::string& cause() const {
        return attempt_cause_.empty() ? last_cause_ : attempt_cause_;
    }
    // "link <state>" and, when known, "; <cause>": for timeout messages.
    std::string situation() const;
    bool transport_failed() const { return transport_failed_; }
    const std::string& transport_error() const { return transport_error_; }

    asio::io_context& io() { return io_; }

  private:
    // qmt::Listener
    void on_link(qmt::LinkState state) override;
    void on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) override;
    void on_stat(qmt::StatCode code) override;
    void on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) override;
    void on_subscribed(std::uint32_t ticket, const qmt::Result<qmt::SubscribeReport>& r) override;
    void on_message(const qmt::Message& m) override;
    void on_message_dropped(const qmt::DroppedMessage& m) override;
    void on_unsubscribed(std::uint32_t ticket, const qmt::Result<void>& r) override;

    bool run_one_until(Clock::time_point deadline);
    void on_port(host::PortEvent e, std::error_code ec);
    void note_cause(const std::string& what);
    void debug(const std::string& what) const;

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    asio::signal_set signals_;
    std::shared_ptr<host::Transport> transport_;
    std::unique_ptr<qmt::Client<>> client_;
    std::unique_ptr<host::Runner> runner_;

    std::string debug_tool_;  // "" : -d off
    std::deque<Published> published_;
    std::map<std::uint32_t, qmt::Result<qmt::SubscribeReport>> subscribed_;
    std::deque<host::ReceivedMessage> messages_;
    std::deque<Dropped> dropped_;
    std::map<std::uint32_t, qmt::Result<void>> unsubscribed_;

    qmt::LinkState prev_state_ = qmt::LinkState::stopped;
    bool stopping_ = false;
    int signal_ = 0;
    std::string fatal_;
    std::string attempt_cause_;
    std::string last_cause_;
    bool transport_failed_ = false;
    std::string transport_error_;
};

// Opens o.device at o.baud / o.flow with --trace, -d and the signals set up (not started).
// Throws host::TransportError.
std::unique_ptr<Link> open_link(const CommonOptions& o, const std::string& tool);

}  // namespace qmtkit::cli
