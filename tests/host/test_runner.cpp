// The runner: bytes fed with steady time, one timer at next_deadline(), no busy polling, several
// runners on one io_context. A bare at::EngineCore is driven (the client's runner path is the
// same code with ClientCore's feed/poll/next_deadline).
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/host/runner.hpp"
#include "support.hpp"

namespace qmtkit::host {
namespace {

using namespace std::chrono_literals;
using test::PtyModule;
using test::Recorder;
using test::run_until;

struct Port {
    explicit Port(asio::io_context& io)
        : module(io),
          transport(open_transport(io, module.slave_path())),
          engine(*transport),
          runner(transport, engine) {}
    PtyModule module;
    std::shared_ptr<Transport> transport;
    at::Engine<> engine;
    Runner runner;
    Recorder rec;
};

TEST(Runner, CommandAndAnswerOverPty) {
    asio::io_context io;
    Port p(io);
    std::vector<std::string> trace;
    p.runner.set_trace(
        [&](at::TraceKind k, std::string_view t) { trace.push_back(format_trace(k, t)); });
    p.runner.start();
    EXPECT_FALSE(p.runner.timer_armed());  // nothing to wait for

    auto seq = p.runner.apply([&] { return p.engine.submit(at::cmd::cmee, &p.rec, 7, 1); });
    ASSERT_TRUE(seq.has_value());
    EXPECT_TRUE(p.runner.timer_armed());  // armed at the command's deadline by apply()
    ASSERT_TRUE(run_until(io, [&] { return p.module.received == "AT+CMEE=1\r"; }));
    p.module.write("\r\nOK\r\n");
    ASSERT_TRUE(run_until(io, [&] { return !p.rec.events.empty(); }));
    EXPECT_EQ(p.rec.events, std::vector<std::string>{"final:7:ok"});
    EXPECT_FALSE(p.runner.timer_armed());  // disarmed once nothing is pending
    EXPECT_EQ(p.runner.timer_wakeups(), 0u);
    ASSERT_GE(trace.size(), 2u);
    EXPECT_EQ(trace.front(), "AT> AT+CMEE=1");
    EXPECT_EQ(trace.back(), "AT< OK");
}

TEST(Runner, UnansweredCommandTimesOutThroughTheTimer) {
    asio::io_context io;
    Port p(io);
    p.runner.start();
    const Instant t0 = Runner::now();
    ASSERT_TRUE(
        p.runner.apply([&] { return p.engine.submit(at::cmd::at, &p.rec, 1); }).has_value());
    const Instant armed = p.runner.armed_deadline();
    EXPECT_GE(armed, t0 + at::cmd::kQuick);
    EXPECT_LE(armed, Runner::now() + at::cmd::kQuick + 50);

    ASSERT_TRUE(run_until(
        io, [&] { return !p.rec.events.empty(); }, 3s));
    const Instant t1 = Runner::now();
    EXPECT_EQ(p.rec.events, std::vector<std::string>{"final:1:timeout"});
    EXPECT_GE(t1, t0 + at::cmd::kQuick);         // not early
    EXPECT_LT(t1, t0 + at::cmd::kQuick + 1000);  // and not much later
    // The line settles when the module's late OK comes (within the engine's settle time).
    EXPECT_TRUE(p.engine.settling());
    p.module.write("\r\nOK\r\n");
    ASSERT_TRUE(run_until(
        io, [&] { return !p.engine.settling(); }, 3s));
    // The timeout came from the one timer waking once, not from polling in a loop.
    EXPECT_EQ(p.runner.timer_wakeups(), 1u);
    EXPECT_LE(p.runner.polls(), 5u);
    EXPECT_FALSE(p.runner.timer_armed());
    EXPECT_EQ(p.engine.counters().timeouts, 1u);
}

TEST(Runner, ReArmsAfterEveryFeedAndSubmit) {
    asio::io_context io;
    Port p(io);
    p.runner.start();
    // Two commands queued: the second's deadline starts only when the first is answered.
    ASSERT_TRUE(
        p.runner.apply([&] { return p.engine.submit(at::cmd::at, &p.rec, 1); }).has_value());
    const Instant first = p.runner.armed_deadline();
    ASSERT_TRUE(
        p.runner.apply([&] { return p.engine.submit(at::cmd::echo_off, &p.rec, 2); }).has_value());
    EXPECT_EQ(p.runner.armed_deadline(), first);  // still the running command's deadline
    ASSERT_TRUE(run_until(io, [&] { return p.module.received == "AT\r"; }));
    p.module.write("\r\nOK\r\n");
    ASSERT_TRUE(run_until(io, [&] { return p.module.received == "AT\rATE0\r"; }));
    EXPECT_TRUE(p.runner.timer_armed());
    EXPECT_GE(p.runner.armed_deadline(), first);  // re-armed for ATE0 after the feed
    p.module.write("\r\nOK\r\n");
    ASSERT_TRUE(run_until(io, [&] { return p.rec.events.size() == 2; }));
    EXPECT_EQ(p.rec.events, (std::vector<std::string>{"final:1:ok", "final:2:ok"}));
    EXPECT_FALSE(p.runner.timer_armed());
    EXPECT_EQ(p.runner.timer_wakeups(), 0u);
}

TEST(Runner, PartialWritesResumeWhenTheTxBufferDrains) {
    asio::io_context io;
    Port p(io);
    p.transport->set_tx_capacity(8);  // far smaller than the command
    p.runner.start();
    const std::string host(90, 'h');
    ASSERT_TRUE(p.runner
                    .apply([&] {
                        return p.engine.submit(at::cmd::open, &p.rec, 3, 0, std::string_view(host),
                                               1883);
                    })
                    .has_value());
    const std::string expect = "AT+QMTOPEN=0,\"" + host + "\",1883\r";
    ASSERT_TRUE(run_until(io, [&] { return p.module.received.size() >= expect.size(); }));
    EXPECT_EQ(p.module.received, expect);
    EXPECT_EQ(p.runner.timer_wakeups(), 0u);  // resumed by the drain, not by a timer
}

TEST(Runner, TransportFailureStopsTheRunnerAndIsReported) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(
        io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto transport =
        open_transport(io, "tcp://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));
    asio::ip::tcp::socket peer(io);
    acceptor.accept(peer);
    at::Engine<> engine(*transport);
    Runner runner(transport, engine);
    std::error_code failure;
    runner.set_error_handler([&](std::error_code ec) { failure = ec; });
    runner.start();
    Recorder rec;
    ASSERT_TRUE(runner.apply([&] { return engine.submit(at::cmd::at, &rec, 1); }).has_value());
    peer.close();
    ASSERT_TRUE(run_until(io, [&] { return static_cast<bool>(failure); }));
    EXPECT_FALSE(runner.running());
    EXPECT_FALSE(runner.timer_armed());
}

TEST(Runner, SeveralRunnersShareOneIoContext) {
    asio::io_context io;
    constexpr int kPorts = 4;
    std::vector<std::unique_ptr<Port>> ports;
    for (int i = 0; i < kPorts; ++i) ports.push_back(std::make_unique<Port>(io));
    for (auto& p : ports) p->runner.start();
    for (int i = 0; i < kPorts; ++i) {
        auto& p = *ports[static_cast<std::size_t>(i)];
        ASSERT_TRUE(p.runner
                        .apply([&] {
                            return p.engine.submit(at::cmd::at, &p.rec,
                                                   static_cast<std::uint32_t>(i));
                        })
                        .has_value());
    }
    ASSERT_TRUE(run_until(io, [&] {
        for (auto& p : ports) {
            if (p->module.received != "AT\r") return false;
        }
        return true;
    }));
    // Ports answer in reverse order; port 1 never answers and must time out on its own.
    for (int i = kPorts - 1; i >= 0; --i) {
        if (i != 1) ports[static_cast<std::size_t>(i)]->module.write("\r\nOK\r\n");
    }
    ASSERT_TRUE(run_until(
        io,
        [&] {
            for (auto& p : ports) {
                if (p->rec.events.empty()) return false;
            }
            return true;
        },
        3s));
    for (int i = 0; i < kPorts; ++i) {
        auto& p = *ports[static_cast<std::size_t>(i)];
        const std::string want = "final:" + std::to_string(i) + (i == 1 ? ":timeout" : ":ok");
        EXPECT_EQ(p.rec.events, std::vector<std::string>{want}) << "port " << i;
        EXPECT_EQ(p.runner.timer_wakeups(), i == 1 ? 1u : 0u) << "port " << i;
    }
}

TEST(Runner, PostFromAnotherThreadRunsOnTheIoContext) {
    asio::io_context io;
    Port p(io);
    p.runner.start();
    std::thread other(
        [&] { p.runner.post([&] { (void)p.engine.submit(at::cmd::at, &p.rec, 9); }); });
    other.join();
    ASSERT_TRUE(run_until(io, [&] { return p.module.received == "AT\r"; }));
    EXPECT_TRUE(p.runner.timer_armed());
    p.module.write("\r\nOK\r\n");
    ASSERT_TRUE(run_until(io, [&] { return !p.rec.events.empty(); }));
    EXPECT_EQ(p.rec.events, std::vector<std::string>{"final:9:ok"});
}

TEST(Runner, DestroyedRunnerLeavesNoLiveHandlers) {
    asio::io_context io;
    auto p = std::make_unique<Port>(io);
    p->runner.start();
    ASSERT_TRUE(
        p->runner.apply([&] { return p->engine.submit(at::cmd::at, &p->rec, 1); }).has_value());
    p.reset();  // timer and transport handlers are pending
    io.poll();  // they complete as aborted without touching the destroyed runner
    SUCCEED();
}

}  // namespace
}  // namespace qmtkit::host
