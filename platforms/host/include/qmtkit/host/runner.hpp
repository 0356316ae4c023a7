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
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

    // The transport failed or closed (EOF, unplugged). The runner is stopped before the call.
    void set_error_handler(std::function<void(std::error_code)> h) { on_error_ = std::move(h); }
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

    std::shared_ptr<Transport> transport_;
    asio::any_io_executor executor_;
    asio::steady_timer timer_;
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
};

// One trace line as the CLI prints it: "AT> AT+QMTOPEN=0,\"h\",1883", "AT< OK", "AT! timeout ...".
std::string format_trace(at::TraceKind kind, std::string_view text);

}  // namespace qmtkit::host
