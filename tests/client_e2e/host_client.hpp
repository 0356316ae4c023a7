// The SDK client as a gateway runs it — qmt::Client<> driven by host::Runner over a serial
// transport (bc28-sim's pty) — on its own io_context thread, with the test's own Listener: the
// test can act inside callbacks (publish from on_published, as `qmtkit pub -l` keeps its window
// full), wait for listener events with deadlines, and keep an outbox full from a list of
// messages (the feeder), while it injects faults and watches the broker from its own thread.
//
//   HostClient c(sim.pty());
//   ASSERT_TRUE(c.start(session, backoff));
//   ASSERT_TRUE(c.wait_online(30s));
//   auto t = c.call([&](qmt::ClientCore& core) { return core.publish("t", ByteView("x"), {1}); });
//   c.wait([&](const HostClient::State& s) { return s.done.count(*t) != 0; }, 10s);
//
// Every access to the core runs on the io thread (call() posts and waits); listener events are
// recorded in State under a mutex and announced on a condition variable.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "qmtkit/host/blocking_client.hpp"
#include "qmtkit/host/runner.hpp"
#include "qmtkit/host/transport.hpp"
#include "qmtkit/qmt/client.hpp"

namespace qmtkit::e2e {

class HostClient final : private qmt::Listener {
  public:
    using Clock = std::chrono::steady_clock;
    using Ms = std::chrono::milliseconds;
    using Core = qmt::ClientCore;

    struct Outcome {
        bool ok = false;
        std::string error;  // host::describe() of the failure
        std::uint16_t msg_id = 0;
        std::uint8_t attempts = 0;
    };
    struct Pub {
        std::string topic;
        std::string payload;
        std::uint8_t qos = 1;
    };
    // What the listener saw. Read it only inside wait() predicates or through state().
    struct State {
        qmt::LinkState link = qmt::LinkState::stopped;
        std::size_t sessions = 0;               // times the link came online
        std::vector<int> stats;                 // +QMTSTAT codes, in order
        std::map<std::uint32_t, Outcome> done;  // ticket -> on_published outcome
        // The feeder: messages handed to feed(), by index.
        std::vector<Pub> feed;
        std::size_t handed = 0;  // feed[0 .. handed) went to publish()
        std::map<std::uint32_t, std::size_t> feed_ticket;
        std::vector<std::optional<Outcome>> feed_result;
        std::size_t feed_done = 0;
        std::size_t feed_failed = 0;
        // By feed index: the session (value of `sessions`) it went to publish() in, 0 when the
        // link was not online then; and the session its successful on_published came in (0 until
        // then).
        std::vector<std::size_t> feed_handed_in;
        std::vector<std::size_t> feed_acked_in;
        std::string transport_error;
    };
    using PublishedHook =
        std::function<void(Core&, std::uint32_t ticket, const qmt::Result<qmt::PublishReport>&)>;

    explicit HostClient(const std::string& device)
        : work_(asio::make_work_guard(io_)),
          transport_(host::open_transport(io_, device)),
          client_(std::make_unique<qmt::Client<>>(*transport_, static_cast<qmt::Listener&>(*this))),
          runner_(std::make_unique<host::Runner>(transport_, static_cast<Core&>(*client_))),
          t0_(Clock::now()) {
        runner_->set_trace([this](at::TraceKind k, std::string_view t) { on_trace(k, t); });
        runner_->set_error_handler([this](std::error_code ec) {
            std::lock_guard<std::mutex> lk(mu_);
            st_.transport_error = ec.message();
            cv_.notify_all();
        });
        runner_->start();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~HostClient() {
        std::promise<void> stopped;
        asio::post(io_, [this, &stopped] {
            runner_->stop();
            stopped.set_value();
        });
        stopped.get_future().wait_for(std::chrono::seconds(5));
        work_.reset();
        io_.stop();
        thread_.join();
    }
    HostClient(const HostClient&) = delete;
    HostClient& operator=(const HostClient&) = delete;

    // Runs f(core) on the io thread (clock brought up to date, timer re-armed after) and returns
    // what it returns.
    template <class F>
    auto call(F&& f) -> std::invoke_result_t<F&, Core&> {
        using R = std::invoke_result_t<F&, Core&>;
        std::packaged_task<R()> task(
            [this, &f]() -> R { return runner_->apply([&]() -> R { return f(core()); }); });
        auto fut = task.get_future();
        asio::post(io_, [&task] { task(); });
        return fut.get();
    }

    // Set before start(): runs on the io thread inside on_published, before the feeder refills.
    void set_published_hook(PublishedHook h) { hook_ = std::move(h); }

    qmt::Result<void> start(const qmt::Session& s, const qmt::Backoff& b) {
        return call([&](Core& c) -> qmt::Result<void> {
            c.set_backoff(b);
            if (auto r = c.configure(s); !r) return r;
            return c.start(host::Runner::now());
        });
    }

    // Waits until pred(state) holds; false on timeout.
    bool wait(const std::function<bool(const State&)>& pred, Ms timeout) {
        std::unique_lock<std::mutex> lk(mu_);
        return cv_.wait_for(lk, timeout, [&] { return pred(st_); });
    }
    bool wait_online(Ms timeout) {
        return wait([](const State& s) { return s.link == qmt::LinkState::online; }, timeout);
    }
    State state() {
        std::lock_guard<std::mutex> lk(mu_);
        return st_;
    }

    // Queues messages for the feeder: they go to publish() in order as the outbox has room.
    void feed(std::vector<Pub> pubs) {
        call([&](Core& c) {
            {
                std::lock_guard<std::mutex> lk(mu_);
                for (auto& p : pubs) st_.feed.push_back(std::move(p));
                st_.feed_result.resize(st_.feed.size());
                st_.feed_handed_in.resize(st_.feed.size(), 0);
                st_.feed_acked_in.resize(st_.feed.size(), 0);
            }
            pump_feed(c);
        });
    }

    qmt::ClientStats stats() {
        return call([](Core& c) { return c.stats(); });
    }
    std::size_t in_flight() {
        return call([](Core& c) { return c.in_flight(); });
    }

    // How many lines of the AT exchange are kept (default 4000; the oldest go first).
    void set_trace_limit(std::size_t lines) {
        std::lock_guard<std::mutex> lk(trace_mu_);
        trace_limit_ = lines;
    }

    // The last lines of the AT exchange (ms since construction), for failure messages.
    std::string trace_tail(std::size_t lines = 60) {
        std::lock_guard<std::mutex> lk(trace_mu_);
        std::string out;
        const std::size_t from = trace_.size() > lines ? trace_.size() - lines : 0;
        for (std::size_t i = from; i < trace_.size(); ++i) out += trace_[i] + "\n";
        return out;
    }

  private:
    Core& core() { return *client_; }

    void pump_feed(Core& c) {
        for (;;) {
            Pub p;
            std::size_t idx = 0;
            {
                std::lock_guard<std::mutex> lk(mu_);
                if (st_.handed >= st_.feed.size()) return;
                idx = st_.handed;
                p = st_.feed[idx];
            }
            qmt::PublishOptions o;
            o.qos = p.qos;
            auto r = c.publish(p.topic, ByteView(p.payload), o);
            std::lock_guard<std::mutex> lk(mu_);
            if (!r && r.error().code == qmt::Error::queue_full) return;
            ++st_.handed;
            st_.feed_handed_in[idx] = st_.link == qmt::LinkState::online ? st_.sessions : 0;
            if (r) {
                st_.feed_ticket[*r] = idx;
            } else {
                st_.feed_result[idx] = Outcome{false, "refused: " + host::describe(r.error())};
                ++st_.feed_done;
                ++st_.feed_failed;
                cv_.notify_all();
            }
        }
    }

    void on_link(qmt::LinkState s) override {
        std::lock_guard<std::mutex> lk(mu_);
        st_.link = s;
        if (s == qmt::LinkState::online) ++st_.sessions;
        cv_.notify_all();
    }
    void on_stat(qmt::StatCode code) override {
        std::lock_guard<std::mutex> lk(mu_);
        st_.stats.push_back(static_cast<int>(code));
        cv_.notify_all();
    }
    void on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) override {
        {
            std::lock_guard<std::mutex> lk(mu_);
            Outcome o;
            o.ok = r.has_value();
            if (r) {
                o.msg_id = r->msg_id;
                o.attempts = r->attempts;
            } else {
                o.error = host::describe(r.error());
            }
            st_.done[ticket] = o;
            const auto it = st_.feed_ticket.find(ticket);
            if (it != st_.feed_ticket.end()) {
                st_.feed_result[it->second] = o;
                if (o.ok) st_.feed_acked_in[it->second] = st_.sessions;
                ++st_.feed_done;
                if (!o.ok) ++st_.feed_failed;
                st_.feed_ticket.erase(it);
            }
            cv_.notify_all();
        }
        trace_line("published ticket " + std::to_string(ticket) +
                   (r ? " ok" : " FAILED: " + host::describe(r.error())));
        if (hook_) hook_(core(), ticket, r);
        pump_feed(core());
    }

    void on_trace(at::TraceKind k, std::string_view t) { trace_line(host::format_trace(k, t)); }
    void trace_line(const std::string& s) {
        const auto ms = std::chrono::duration_cast<Ms>(Clock::now() - t0_).count();
        std::lock_guard<std::mutex> lk(trace_mu_);
        trace_.push_back("[" + std::to_string(ms) + "] " + s);
        if (trace_.size() > trace_limit_) trace_.pop_front();
    }

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::shared_ptr<host::Transport> transport_;
    std::unique_ptr<qmt::Client<>> client_;
    std::unique_ptr<host::Runner> runner_;
    Clock::time_point t0_;
    PublishedHook hook_;
    std::mutex mu_;
    std::condition_variable cv_;
    State st_;
    std::mutex trace_mu_;
    std::deque<std::string> trace_;
    std::size_t trace_limit_ = 4000;
    std::thread thread_;
};

}  // namespace qmtkit::e2e
