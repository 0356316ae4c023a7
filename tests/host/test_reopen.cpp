// The runner's reopen loop (Runner::set_reopen): a device that goes away — its name removed (a
// USB modem re-enumerating), its other end closed (the module's pty gone) — is closed, looked for
// again every interval, and reopened under the same name; the core is frozen meanwhile and told
// it has a fresh module afterwards; a device that never comes back ends the runner within the
// limit. The test owns the pseudo-terminals and the symlink that names them, and plays the
// module on the master side. Events and deadlines only: the link is removed and made again as
// input, never slept on.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/host/runner.hpp"
#include "qmtkit/qmt/client.hpp"
#include "support.hpp"

namespace qmtkit::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::open_raw_pty;
using test::PtyModule;
using test::RawPty;
using test::Recorder;
using test::run_until;

// A temporary directory holding the symlink "modem": the device's stable name.
class DeviceName {
  public:
    DeviceName() {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/qmtkit-reopen-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        path_ = dir_ + "/modem";
    }
    ~DeviceName() {
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    const std::string& path() const { return path_; }
    // The name now gives `target` (a pty's slave path).
    void point_at(const std::string& target) {
        ::unlink(path_.c_str());
        if (::symlink(target.c_str(), path_.c_str()) != 0)
            throw std::runtime_error("symlink failed");
    }
    void remove() { ::unlink(path_.c_str()); }

  private:
    std::string dir_;
    std::string path_;
};

struct PortEvents {
    std::vector<PortEvent> events;
    std::vector<std::error_code> codes;
    std::size_t count(PortEvent e) const {
        std::size_t n = 0;
        for (const auto x : events) n += x == e ? 1 : 0;
        return n;
    }
    auto observer() {
        return [this](PortEvent e, std::error_code ec) {
            events.push_back(e);
            codes.push_back(ec);
        };
    }
};

constexpr ReopenPolicy kFast{std::chrono::milliseconds(100), std::chrono::milliseconds(10000)};

// A bare engine on a pty named by a symlink.
struct NamedPort {
    explicit NamedPort(asio::io_context& io, ReopenPolicy policy = kFast)
        : module(std::make_unique<PtyModule>(io)) {
        name.point_at(module->slave_path());
        transport = open_transport(io, name.path());
        engine = std::make_unique<at::Engine<>>(*transport);
        runner = std::make_unique<Runner>(transport, *engine);
        runner->set_reopen(policy);
        runner->set_port_observer(port.observer());
        runner->set_error_handler([this](std::error_code ec) {
            ++failures;
            failure = ec;
        });
        runner->start();
    }
    // Sends AT (tag) and answers OK from the module; true when the engine saw it.
    bool exchange(asio::io_context& io, std::uint32_t tag) {
        const std::size_t before = module->received.size();
        if (!runner->apply([&] { return engine->submit(at::cmd::at, &rec, tag); }).has_value())
            return false;
        if (!run_until(io, [&] { return module->received.size() >= before + 3; })) return false;
        if (module->received.substr(before) != "AT\r") return false;
        module->write("\r\nOK\r\n");
        const std::string want = "final:" + std::to_string(tag) + ":ok";
        return run_until(io, [&] { return rec.has(want); });
    }

    DeviceName name;
    std::unique_ptr<PtyModule> module;
    std::shared_ptr<Transport> transport;
    std::unique_ptr<at::Engine<>> engine;
    std::unique_ptr<Runner> runner;
    PortEvents port;
    Recorder rec;
    int failures = 0;
    std::error_code failure;
};

// The name goes away while the descriptor still works (a pty's does; a re-enumerated USB node is
// replaced): the periodic check notices within about one interval, the port is closed, and it is
// opened again, under the name, once the name is back — the same pty, a fresh descriptor.
TEST(RunnerReopen, RemovedNameIsNoticedAndTheDeviceOpenedAgainWhenItIsBack) {
    asio::io_context io;
    NamedPort p(io);
    ASSERT_TRUE(p.exchange(io, 1));

    const auto removed = Clock::now();
    p.name.remove();
    ASSERT_TRUE(run_until(
        io, [&] { return p.port.count(PortEvent::lost) == 1; }, 3s));
    EXPECT_LT(Clock::now() - removed, 3 * kFast.interval + 500ms);
    EXPECT_TRUE(p.runner->port_down());
    EXPECT_TRUE(p.runner->running());  // looking for it, not stopped
    EXPECT_FALSE(p.transport->is_open());
    EXPECT_EQ(p.port.codes[0].value(), ENOENT) << p.port.codes[0].message();
    EXPECT_EQ(p.runner->port_situation().rfind(p.name.path() + " @ 9600: went away ", 0), 0u)
        << p.runner->port_situation();

    // A command submitted while the device is away goes nowhere: it fails as aborted once the
    // device is back (the core is told its module may be a fresh one), never on a timeout.
    ASSERT_TRUE(p.runner->apply([&] { return p.engine->submit(at::cmd::at, &p.rec, 2); }));
    // Attempts keep failing while the name is missing, and the frozen engine is never polled.
    const auto polls = p.runner->polls();
    ASSERT_TRUE(run_until(
        io, [&] { return p.runner->reopen_attempts() >= 2; }, 3s));
    EXPECT_EQ(p.runner->polls(), polls);
    EXPECT_EQ(p.runner->reopen_error().value(), ENOENT) << p.runner->reopen_error().message();
    EXPECT_FALSE(p.rec.has("final:2:timeout"));

    const auto back = Clock::now();
    p.name.point_at(p.module->slave_path());
    ASSERT_TRUE(run_until(
        io, [&] { return p.port.count(PortEvent::reopened) == 1; }, 3s));
    EXPECT_LT(Clock::now() - back, 3 * kFast.interval + 500ms);
    EXPECT_FALSE(p.runner->port_down());
    EXPECT_TRUE(p.transport->is_open());
    EXPECT_TRUE(p.rec.has("final:2:aborted"));
    EXPECT_TRUE(p.runner->port_situation().empty());
    // Nothing of the outage reached the module; the line works again.
    EXPECT_EQ(p.module->received, "AT\r");
    ASSERT_TRUE(p.exchange(io, 3));
    EXPECT_EQ(p.runner->losses(), 1u);
    EXPECT_EQ(p.runner->reopens(), 1u);
    EXPECT_EQ(p.failures, 0);
}

// The device itself dies (the module's end of the pty closes: the read fails at once) and a new
// one appears under the same name later (an emulator restarted on the same --link).
TEST(RunnerReopen, DeadDeviceIsReplacedByANewOneUnderTheSameName) {
    asio::io_context io;
    NamedPort p(io);
    ASSERT_TRUE(p.exchange(io, 1));

    p.name.remove();  // as bc28-sim does when it exits
    p.module.reset();
    ASSERT_TRUE(run_until(
        io, [&] { return p.port.count(PortEvent::lost) == 1; }, 3s));
    EXPECT_TRUE(p.runner->port_down());

    p.module = std::make_unique<PtyModule>(io);
    p.name.point_at(p.module->slave_path());
    ASSERT_TRUE(run_until(
        io, [&] { return p.port.count(PortEvent::reopened) == 1; }, 3s));
    ASSERT_TRUE(p.exchange(io, 2));  // on the new pty
    EXPECT_EQ(p.failures, 0);
}

// Never back: the runner stops within the limit (plus at most one interval), reports the loss
// once through the error handler, and looks no more.
TEST(RunnerReopen, DeviceThatNeverComesBackEndsWithinTheLimit) {
    asio::io_context io;
    const ReopenPolicy policy{std::chrono::milliseconds(100), std::chrono::milliseconds(700)};
    NamedPort p(io, policy);
    ASSERT_TRUE(p.exchange(io, 1));
    p.name.remove();
    p.module.reset();
    ASSERT_TRUE(run_until(
        io, [&] { return p.port.count(PortEvent::lost) == 1; }, 3s));
    const auto lost = p.runner->lost_at();
    ASSERT_TRUE(run_until(
        io, [&] { return p.failures > 0; }, 5s));
    const auto took = Clock::now() - lost;
    EXPECT_GE(took, policy.give_up);
    EXPECT_LT(took, policy.give_up + policy.interval + 400ms);
    EXPECT_EQ(p.failures, 1);
    EXPECT_TRUE(p.runner->gave_up());
    EXPECT_FALSE(p.runner->running());
    EXPECT_EQ(p.failure, p.runner->lost_error());
    // Gone by the read failing or by the name missing, whichever the runner saw first; the
    // attempts since failed as the name is missing.
    const auto missing = std::make_error_code(std::errc::no_such_file_or_directory);
    EXPECT_EQ(p.runner->reopen_error().value(), ENOENT) << p.runner->reopen_error().message();
    EXPECT_EQ(p.runner->port_situation(), p.name.path() + " @ 9600: went away (" +
                                              describe_port_error(p.failure) +
                                              ") and did not come back within 0.7 s" +
                                              (p.failure.message() == missing.message()
                                                   ? ""
                                                   : " (opening it: " + missing.message() + ")"));
    const auto attempts = p.runner->reopen_attempts();
    EXPECT_GE(attempts, 5u);       // about one an interval
    p.name.point_at("/dev/null");  // something to open, were anyone still looking
    io.poll();
    EXPECT_EQ(p.runner->reopen_attempts(), attempts);
    EXPECT_EQ(p.port.count(PortEvent::reopened), 0u);
}

// A pty's own name (/dev/pts/N) is not looked for again: the number goes to the next pty anyone
// makes. Its loss is the plain transport failure, as without set_reopen().
TEST(RunnerReopen, APtysOwnNameIsNotReopened) {
    asio::io_context io;
    auto module = std::make_unique<PtyModule>(io);
    auto transport = open_transport(io, module->slave_path());
    EXPECT_FALSE(transport->reopenable());
    at::Engine<> engine(*transport);
    Runner runner(transport, engine);
    runner.set_reopen(kFast);
    PortEvents port;
    runner.set_port_observer(port.observer());
    int failures = 0;
    runner.set_error_handler([&](std::error_code) { ++failures; });
    runner.start();
    module.reset();
    ASSERT_TRUE(run_until(
        io, [&] { return failures > 0; }, 3s));
    EXPECT_FALSE(runner.running());
    EXPECT_FALSE(runner.gave_up());
    EXPECT_TRUE(port.events.empty());
}

// A TCP device (a terminal server, the emulator's --tcp) whose peer closes: connected again, to
// the same endpoint, asynchronously.
TEST(RunnerReopen, TcpDeviceIsConnectedAgain) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(
        io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto transport =
        open_transport(io, "tcp://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));
    EXPECT_TRUE(transport->reopenable());
    asio::ip::tcp::socket peer(io);
    acceptor.accept(peer);
    at::Engine<> engine(*transport);
    Runner runner(transport, engine);
    runner.set_reopen(kFast);
    PortEvents port;
    runner.set_port_observer(port.observer());
    runner.start();

    asio::ip::tcp::socket second(io);
    bool accepted = false;
    acceptor.async_accept(second, [&](std::error_code ec) { accepted = !ec; });
    peer.close();
    ASSERT_TRUE(run_until(
        io, [&] { return port.count(PortEvent::lost) == 1; }, 3s));
    EXPECT_EQ(port.codes[0], asio::error::eof);
    ASSERT_TRUE(run_until(
        io, [&] { return port.count(PortEvent::reopened) == 1; }, 3s));
    ASSERT_TRUE(run_until(
        io, [&] { return accepted; }, 3s));

    Recorder rec;
    ASSERT_TRUE(runner.apply([&] { return engine.submit(at::cmd::at, &rec, 4); }).has_value());
    char buf[16];
    std::size_t got = 0;
    second.async_read_some(asio::buffer(buf), [&](std::error_code, std::size_t n) { got = n; });
    ASSERT_TRUE(run_until(io, [&] { return got > 0; }));
    EXPECT_EQ(std::string(buf, got), "AT\r");
    asio::write(second, asio::buffer(std::string("\r\nOK\r\n")));
    ASSERT_TRUE(run_until(io, [&] { return rec.has("final:4:ok"); }));
    runner.stop();
    io.poll();
}

// ---------------------------------------------------------------- with the client

// Just enough of a BC28 on the master side of a pty to bring a session up and take publishes:
// every command gets its OK and result at once; publish results only while `ack` holds.
class ScriptedModule {
  public:
    explicit ScriptedModule(asio::io_context& io) : master_(io) {
        const RawPty p = open_raw_pty();
        slave_fd_ = p.slave;
        slave_path_ = p.slave_path;
        master_.assign(p.master);
        read_next();
    }
    ~ScriptedModule() {
        std::error_code ignored;
        master_.close(ignored);
        if (slave_fd_ >= 0) ::close(slave_fd_);
    }
    const std::string& slave_path() const { return slave_path_; }

    bool ack = true;
    std::vector<std::string> commands;
    std::vector<std::string> payloads;  // every publish payload received, re-sends included
    int count(const std::string& prefix) const {
        int n = 0;
        for (const auto& c : commands) n += c.rfind(prefix, 0) == 0 ? 1 : 0;
        return n;
    }

  private:
    void read_next() {
        master_.async_read_some(asio::buffer(buf_), [this](std::error_code ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            for (std::size_t i = 0; i < n; ++i) byte(buf_[i]);
            if (!ec) read_next();
        });
    }
    void send(const std::string& s) {
        std::error_code ignored;
        asio::write(master_, asio::buffer(s), ignored);
    }
    void line(const std::string& l) { send("\r\n" + l + "\r\n"); }
    void byte(char c) {
        if (in_payload_) {
            if (c == 0x1A) {
                in_payload_ = false;
                payloads.push_back(payload_);
                payload_.clear();
                line("OK");
                if (ack) line("+QMTPUB: 0," + pub_id_ + ",0");
                return;
            }
            payload_ += c;
            return;
        }
        if (c == '\n') return;
        if (c != '\r') {
            line_ += c;
            return;
        }
        std::string cmd;
        cmd.swap(line_);
        if (!cmd.empty()) command(cmd);
    }
    void command(const std::string& cmd) {
        commands.push_back(cmd);
        auto starts = [&](const char* p) { return cmd.rfind(p, 0) == 0; };
        if (starts("AT+QMTPUB=0,")) {
            const auto from = std::string("AT+QMTPUB=0,").size();
            pub_id_ = cmd.substr(from, cmd.find(',', from) - from);
            in_payload_ = true;
            return send("\r\n>");
        }
        if (cmd == "AT+CGATT?") {
            line("+CGATT:1");
            return line("OK");
        }
        line("OK");
        if (starts("AT+QMTOPEN=")) line("+QMTOPEN: 0,0");
        if (starts("AT+QMTCONN=")) line("+QMTCONN: 0,0,0");
        if (starts("AT+QMTDISC=")) line("+QMTDISC: 0,0");
        if (starts("AT+QMTCLOSE=")) line("+QMTCLOSE: 0,0");
    }

    asio::posix::stream_descriptor master_;
    int slave_fd_ = -1;
    std::string slave_path_;
    char buf_[512];
    std::string line_;
    bool in_payload_ = false;
    std::string payload_;
    std::string pub_id_;
};

struct Events final : qmt::Listener {
    std::vector<qmt::LinkState> states;
    std::vector<qmt::ClientError> bringup_errors;
    int acked = 0;
    int failed = 0;
    void on_link(qmt::LinkState s) override { states.push_back(s); }
    void on_bringup_error(qmt::LinkState, const qmt::ClientError& e) override {
        bringup_errors.push_back(e);
    }
    void on_published(std::uint32_t, const qmt::Result<qmt::PublishReport>& r) override {
        (r ? acked : failed) += 1;
    }
};

// The client side of a device that goes away with three QoS 1 publishes in flight (sent, no
// result yet): the link leaves online at once and the publishes go back to the outbox; nothing
// churns while the device is away (no timeouts, no back-off, no polls); once it is back, bring-up
// runs again from AT and the three are sent again and acknowledged. None lost, none failed.
TEST(RunnerReopen, ClientKeepsItsOutboxAndBringsTheLinkUpAgain) {
    asio::io_context io;
    DeviceName name;
    ScriptedModule module(io);
    name.point_at(module.slave_path());
    auto transport = open_transport(io, name.path());
    Events ev;
    qmt::Client<> client(*transport, ev);
    Runner runner(transport, client);
    runner.set_reopen(kFast);
    PortEvents port;
    runner.set_port_observer(port.observer());
    runner.start();
    qmt::Session s;
    s.host = "broker.example";
    s.client_id = "reopen-1";
    ASSERT_TRUE(client.configure(s));
    ASSERT_TRUE(runner.apply([&] { return client.start(Runner::now()); }));
    ASSERT_TRUE(run_until(io, [&] { return client.online(); }));
    EXPECT_EQ(module.count("AT+QMTCONN="), 1);

    module.ack = false;
    for (const char* m : {"one", "two", "three"})
        ASSERT_TRUE(runner.apply([&] { return client.publish("t", ByteView(m), {1}); }));
    ASSERT_TRUE(run_until(io, [&] { return module.payloads.size() == 3; }));
    ASSERT_TRUE(run_until(io, [&] { return client.in_flight() == 3; }));

    name.remove();
    ASSERT_TRUE(run_until(
        io, [&] { return port.count(PortEvent::lost) == 1; }, 3s));
    EXPECT_FALSE(client.online());
    EXPECT_EQ(client.outbox(), 3u);
    EXPECT_EQ(client.in_flight(), 0u);
    EXPECT_EQ(ev.acked + ev.failed, 0);
    // The step on the wire at the loss (if any) was aborted; nothing else went wrong.
    for (const auto& e : ev.bringup_errors) EXPECT_EQ(e.code, qmt::Error::aborted);
    const auto errors = ev.bringup_errors.size();
    EXPECT_LE(errors, 1u);
    const auto polls = runner.polls();
    ASSERT_TRUE(run_until(
        io, [&] { return runner.reopen_attempts() >= 3; }, 3s));
    EXPECT_EQ(runner.polls(), polls);
    EXPECT_EQ(ev.bringup_errors.size(), errors);
    EXPECT_NE(ev.states.back(), qmt::LinkState::backing_off);

    module.ack = true;
    name.point_at(module.slave_path());
    ASSERT_TRUE(run_until(
        io, [&] { return port.count(PortEvent::reopened) == 1; }, 3s));
    ASSERT_TRUE(run_until(
        io, [&] { return ev.acked == 3; }, 5s));
    EXPECT_EQ(ev.failed, 0);
    EXPECT_EQ(client.outbox(), 0u);
    EXPECT_EQ(module.count("AT+QMTCONN="), 2);  // brought up again
    EXPECT_GE(module.count("ATE0"), 2);         // from the start: the module may be a fresh one
    EXPECT_EQ(client.stats().resent, 3u);
    EXPECT_EQ(module.payloads,
              (std::vector<std::string>{"one", "two", "three", "one", "two", "three"}));
    EXPECT_EQ(ev.bringup_errors.size(), errors);
}

}  // namespace
}  // namespace qmtkit::host
