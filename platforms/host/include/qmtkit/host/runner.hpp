// Drives the core (a qmt::ClientCore, or a bare at::EngineCore) from an asio::io_context.
//
// Received bytes are fed with steady_clock milliseconds; ONE steady_timer stays armed at the
// core's next_deadline() and is re-armed after every feed, poll and submit — the runner never
// busy-polls and starts no thread: it runs on whatever thread runs the io_context. Several
// runners (several ports) may share one io_context.
//
//   asio::io_context io;
//   auto port = open_transport(io, "/dev/ttyUSB0");
//   qmt::Client<> client(*port, listener);
//   Runner runner(port, *client);
//   runner.start();
//   runner.apply([&] { return client->start(Runner::now()); });
//   runner.apply([&] { return client->publish("t", payload, {1}); });  // submit + re-arm
//   io.run();
//
// A device that goes away (set_reopen): when the transport fails, or a serial device's node no
// longer names the device it has open (a USB modem that re-enumerates, a removed symlink), the
// runner closes it, tells the core its module is gone, and tries to open the same device again
// every ReopenPolicy::interval. Once it opens, the core is told it has a fresh module and runs
// bring-up again; the outbox (QoS >= 1 publishes not yet acknowledged) and the subscriptions are
// kept and go out after it. A device not back within ReopenPolicy::give_up ends the runner as a
// transport failure does without reopening (the error handler). See docs/host-and-cli.md.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/host/transport.hpp"

namespace qmtkit::qmt {
class ClientCore;
}

namespace qmtkit::host {

using TraceFn = std::function<void(at::TraceKind kind, std::string_view text)>;

struct ReopenPolicy {
    // How often the device is looked for while it is away, and how often an open serial
    // device's node is checked (Transport::check_present()).
    std::chrono::milliseconds interval{1000};
    // A device not back this long after it went away: the runner stops and reports the loss
    // through the error handler (gave_up() is then true).
    std::chrono::milliseconds give_up{60000};
};

enum class PortEvent : std::uint8_t {
    lost,      // the device went away (the code says why); the runner looks for it again
    reopened,  // it is open again; the core runs bring-up again
};

class Runner {
  public:
    using Clock = std::chrono::steady_clock;

    // The core's notion of time: steady_clock milliseconds.
    static Instant now();

    // Drives a bare engine.
    Runner(std::shared_ptr<Transport> transport, at::EngineCore& engine);
    // Drives a client (its engine included).
    Runner(std::shared_ptr<Transport> transport, qmt::ClientCore& client);
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    // Starts reading from the transport, sets the engine's byte time from the transport, and arms
    // the timer. Call on the io_context's thread (or before it runs).
    void start();
    // Closes the transport and cancels the timer. The core is left as it is.
    void stop();
    bool running() const { return started_ && !stopped_; }

    // Runs `f` (a submit, publish, subscribe, start, ...) with the core's clock brought up to date
    // before it (so the command's deadline counts from now) and the timer re-armed after it.
    // Returns what f returns. Call on the io_context's thread.
    template <class F>
    decltype(auto) apply(F&& f) {
        touch();
        if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
            std::forward<F>(f)();
            service();
        } else {
            decltype(auto) r = std::forward<F>(f)();
            service();
            return r;
        }
    }
    // From any thread: runs `f` through apply() on the io_context.
    template <class F>
    void post(F f) {
        asio::post(executor_,
                   [this, alive = std::weak_ptr<bool>(alive_), f = std::move(f)]() mutable {
                       if (alive.lock()) apply(std::move(f));
                   });
    }

    // poll(now) and re-arm: after anything changed the core outside apply().
    void kick() { service(); }

    // The transport failed or closed (EOF, unplugged) — with set_reopen(): the device did not
    // come back within ReopenPolicy::give_up, and the code is why it went away. The runner is
    // stopped before the call.
    void set_error_handler(std::function<void(std::error_code)> h) { on_error_ = std::move(h); }

    // Reopen the device when it goes away instead of stopping (a transport that is not
    // reopenable() still stops). Call before start().
    //
    // What the core is told, through its public API: when the device goes away,
    // qmt::ClientCore::transport_reset() (every command on the wire is aborted: QoS >= 1
    // publishes go back to the outbox, QoS 0 ones in flight fail, the link leaves online and
    // bring-up waits for the next poll; no bring-up error is reported for the aborted step),
    // then the core is frozen (no feed, no poll, its timer disarmed). When it is back:
    // transport_reset() again (what was submitted meanwhile went nowhere): bring-up from AT on,
    // as after a module reboot. A stopped client stays stopped; a bare engine sees abort_all().
    void set_reopen(const ReopenPolicy& policy);
    bool reopen_enabled() const { return reopen_on_; }
    // Every loss and every reopen, after the core was told (from inside the io_context).
    void set_port_observer(std::function<void(PortEvent, std::error_code)> fn) {
        on_port_ = std::move(fn);
    }
    // The device went away and is not open again (yet, or ever after gave_up()).
    bool port_down() const { return down_; }
    // The runner stopped because the device did not come back within give_up.
    bool gave_up() const { return gave_up_; }
    // Why the device last went away; why the last attempt to open it again failed.
    std::error_code lost_error() const { return lost_ec_; }
    std::error_code reopen_error() const { return reopen_ec_; }
    // When it last went away.
    Clock::time_point lost_at() const { return lost_at_; }
    const ReopenPolicy& reopen_policy() const { return reopen_; }
    std::uint64_t losses() const { return losses_; }
    std::uint64_t reopens() const { return reopens_; }
    std::uint64_t reopen_attempts() const { return reopen_attempts_; }
    // One line on the device while it is away, or after gave_up() (empty while it is open):
    //   "/dev/ttyUSB0 @ 9600: went away 3.2 s ago (closed by the other end) and is not back
    //    (opening it: No such file or directory)"
    //   "/dev/ttyUSB0 @ 9600: went away (No such file or directory) and did not come back
    //    within 60 s"
    // (the last attempt's error is added when it differs from why the device went away).
    std::string port_situation() const;
    // Every received chunk, after it was fed (for logging / tests).
    void set_receive_tap(Transport::ReceiveHandler h) { on_tap_ = std::move(h); }
    // The engine's trace (secrets already masked by the engine). Empty: trace off.
    void set_trace(TraceFn fn);

    Transport& transport() { return *transport_; }
    const std::shared_ptr<Transport>& transport_ptr() const { return transport_; }
    at::EngineCore& engine() { return *engine_; }

    // Introspection, for tests and diagnostics.
    bool timer_armed() const { return armed_; }
    Instant armed_deadline() const { return armed_at_; }
    std::uint64_t timer_wakeups() const { return wakeups_; }
    std::uint64_t polls() const { return polls_; }
    std::uint64_t feeds() const { return feeds_; }

  private:
    void on_receive(const std::uint8_t* data, std::size_t n);
    void on_transport_error(std::error_code ec);
    void touch();    // poll(now) without re-arming
    void service();  // poll(now), then re-arm
    void rearm(Instant now);
    void do_feed(const std::uint8_t* d, std::size_t n, Instant now);
    void do_poll(Instant now);
    Instant deadline() const;
    void on_trace(at::TraceKind kind, std::string_view text);
    void attach();  // handlers on the (re)opened transport, reading started
    void port_lost(std::error_code ec);
    void port_back();
    void try_reopen();
    void give_up();
    void arm_port_timer();
    void on_port_timer();
    void notify(PortEvent e, std::error_code ec);

    std::shared_ptr<Transport> transport_;
    asio::any_io_executor executor_;
    asio::steady_timer timer_;
    asio::steady_timer port_timer_;  // reopen attempts while away; presence checks while open
    at::EngineCore* engine_ = nullptr;
    qmt::ClientCore* client_ = nullptr;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::function<void(std::error_code)> on_error_;
    Transport::ReceiveHandler on_tap_;
    TraceFn trace_;
    bool started_ = false;
    bool stopped_ = false;
    bool armed_ = false;
    Instant armed_at_ = 0;
    std::uint64_t gen_ = 0;
    std::uint64_t wakeups_ = 0;
    std::uint64_t polls_ = 0;
    std::uint64_t feeds_ = 0;
    int depth_ = 0;  // inside feed/poll: re-entrant apply() leaves re-arming to the outer call

    ReopenPolicy reopen_{};
    bool reopen_on_ = false;
    bool down_ = false;  // the device went away: the core is frozen until it is back
    bool gave_up_ = false;
    bool attempting_ = false;  // a reopen() is under way (a TCP connect)
    Clock::time_point lost_at_{};
    std::error_code lost_ec_;
    std::error_code reopen_ec_;
    std::function<void(PortEvent, std::error_code)> on_port_;
    std::uint64_t port_gen_ = 0;
    std::uint64_t losses_ = 0;
    std::uint64_t reopens_ = 0;
    std::uint64_t reopen_attempts_ = 0;
};

// Why a device went away, in words: "closed by the other end" (EOF), "the name gives another
// device now" (Transport::check_present()), else the code's message.
std::string describe_port_error(std::error_code ec);

// One trace line as the CLI prints it: "AT> AT+QMTOPEN=0,\"h\",1883", "AT< OK", "AT! timeout ...".
std::string format_trace(at::TraceKind kind, std::string_view text);

}  // namespace qmtkit::host
