// The CLI's link to the module: a host::BlockingClient (io_context, transport, qmt::Client,
// runner) plus the policy a command-line run needs on top of it:
//
//  - the cause of a failed bring-up, in words: the FIRST problem of the attempt (a refused
//    CONNECT), not what the clean-up after it reported (the "+QMTCLOSE: 0,-1" of closing a
//    network the refusal already closed);
//  - whether that cause can heal by retrying. The supervisor retries everything; the CLI stops at
//    once on CONNACK 1, 2, 4, 5 and +QMTOPEN 1, 4 (fatal()), on a second +QMTTENAUTH result 3
//    in a row, and gives transient causes (+QMTOPEN -1, 3, 5, CONNACK 3, ping timeouts, ...)
//    until --timeout;
//  - SIGINT / SIGTERM: the first makes every wait return (signal()), so the tool can send
//    DISCONNECT and CLOSE before it exits; a second one ends the process at once.
//
// Every wait runs the io_context until its predicate holds, its timeout passes, or the run is to
// end (ended(): a signal, a fatal cause, the transport gone). No threads, no sleeps.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
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

class Link final {
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
    void set_debug(const std::string& tool) { debug_tool_ = tool; }
    // Catches SIGINT and SIGTERM (unless ignored when the process started): see signal().
    void catch_signals();
    // A device that goes away (a USB modem re-enumerating, the emulator restarted on the same
    // --link): the runner looks for it once a second and the supervisor brings the link up again
    // once it is back, the outbox kept; not back within `give_up` (the tool's --timeout) ends
    // the run (transport_failed(), "<device>: went away (...) and did not come back within
    // N s"). Waits keep going meanwhile; situation() names the device while it is away.
    void set_reopen(Duration give_up);
    bool port_down() const { return bc_.port_down(); }

    // --spool: journal QoS >= 1 messages (before start(); the store outlives the Link).
    void set_store(qmt::OutboxStore* store) { bc_.set_store(store); }

    // Configures the supervisor (strings copied) and starts bringing the link up.
    qmt::Result<void> start(const qmt::Session& session);

    qmt::Result<std::uint32_t> publish(std::string_view topic, ByteView payload,
                                       qmt::PublishOptions opts);
    std::size_t published_pending() const { return bc_.completions_pending(); }
    std::optional<host::PublishDone> take_published() { return bc_.next_published(Duration{0}); }

    qmt::Result<std::uint32_t> subscribe(std::string_view filter, std::uint8_t qos);
    // The first +QMTSUB result of `ticket`, once it came.
    const qmt::Result<qmt::SubscribeReport>* subscribed(std::uint32_t ticket) const {
        return bc_.subscription(ticket);
    }
    std::size_t messages_pending() const { return bc_.messages_pending(); }
    std::optional<host::ReceivedMessage> take_message() { return bc_.next_message(Duration{0}); }
    // Messages the module delivered that were longer than the client can hold (never printed).
    std::size_t dropped_pending() const { return bc_.dropped_pending(); }
    std::optional<host::DroppedMessage> take_dropped() { return bc_.next_dropped(Duration{0}); }

    // AT+QMTUNS now (call it online); its result through unsubscribed(ticket).
    qmt::Result<std::uint32_t> unsubscribe(std::string_view filter);
    const qmt::Result<void>* unsubscribed(std::uint32_t ticket) const {
        return bc_.unsubscription(ticket);
    }

    // Runs the io_context until `done()` holds (true), or `timeout` passes or ended() (false).
    template <class Pred>
    bool run_until(Pred&& done, Duration timeout) {
        bc_.run_until([&] { return done() || ended(); }, timeout);
        return done();
    }
    void run_ready() { bc_.run_ready(); }
    // The run is to end: a signal came, the bring-up failed for good, or the transport is gone.
    bool ended() const { return signal_ != 0 || !fatal_.empty() || bc_.transport_failed(); }

    // DISCONNECT (when connected) and CLOSE, within `timeout` (it ignores signal() and fatal());
    // true when the supervisor reported stopped.
    bool stop(Duration timeout);

    qmt::LinkState state() const { return bc_.state(); }
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
    bool transport_failed() const { return bc_.transport_failed(); }
    const std::string& transport_error() const { return bc_.transport_failure(); }

    asio::io_context& io() { return bc_.io(); }

  private:
    void on_link(qmt::LinkState state);
    void on_bringup_error(qmt::LinkState during, const qmt::ClientError& e);
    void on_stat(qmt::StatCode code);
    void on_port(host::PortEvent e, std::error_code ec);
    void note_cause(const std::string& what);
    void debug(const std::string& what) const;

    host::BlockingClient bc_;
    asio::signal_set signals_;

    std::string debug_tool_;  // "" : -d off
    qmt::LinkState prev_state_ = qmt::LinkState::stopped;
    bool stopping_ = false;
    int signal_ = 0;
    int tenauth_refusals_ = 0;  // +QMTTENAUTH result 3 in a row
    std::string fatal_;
    std::string attempt_cause_;
    std::string last_cause_;
};

// Opens o.device at o.baud / o.flow with --trace, -d and the signals set up (not started).
// Throws host::TransportError.
std::unique_ptr<Link> open_link(const CommonOptions& o, const std::string& tool);

}  // namespace qmtkit::cli
