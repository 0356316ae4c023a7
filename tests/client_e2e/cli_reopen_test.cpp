// A serial port that goes away (issue 9): the device named by a stable path — bc28-sim's
// --link, as /dev/serial/by-id/... or /dev/ttyUSB0 name a USB modem — is removed and made again,
// or the emulator behind it is restarted on the same --link. `qmtkit pub` / `sub` and the
// blocking facade reopen it (the runner looks for it once a second), bring the link up again and
// deliver the outbox: no QoS >= 1 message lost, counted by a subscriber on the broker. A device
// that never comes back ends the run within --timeout with one line and exit 1.
//
// The link is removed for 2 s as input (a pause the test makes, not a wait for anything); every
// wait for the code under test is an event with a deadline.
#include <unistd.h>

#include <set>
#include <thread>

#include "cli_child.hpp"
#include "fixture.hpp"
#include "message_log.hpp"
#include "qmtkit/host/blocking_client.hpp"
#include "text.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::count_of;
using test::lines_of;

std::string numbered(int from, int to) {
    std::string s;
    for (int i = from; i <= to; ++i) s += std::to_string(i) + "\n";
    return s;
}

// Distinct payloads the broker delivered on `topic`.
std::set<std::string> payloads_on(const std::vector<test::MessageLog::Entry>& all,
                                  const std::string& topic) {
    std::set<std::string> s;
    for (const auto& e : all)
        if (e.topic == topic) s.insert(e.payload);
    return s;
}
std::set<std::string> payloads_on(const test::MessageLog& log, const std::string& topic) {
    return payloads_on(log.snapshot(), topic);
}

std::set<std::string> expected(int n) {
    std::set<std::string> s;
    for (int i = 1; i <= n; ++i) s.insert(std::to_string(i));
    return s;
}

class CliReopen : public ::testing::Test {
  protected:
    void SetUp() override {
        broker.start();
        dir = test::make_temp_dir("qmtkit-reopen-");
        link = dir + "/modem";
    }
    void TearDown() override {
        ::unlink(link.c_str());
        test::remove_tree(dir);
    }

    // bc28-sim behind `link`; 100 ms round trips keep publishes in flight when the link goes.
    std::unique_ptr<Sim> start_sim() const {
        return std::make_unique<Sim>(std::vector<std::string>{"--link", link, "--rtt-ms", "100"});
    }
    std::vector<std::string> cli(const std::string& tool, std::vector<std::string> more) const {
        std::vector<std::string> v{
            QMTKIT_EXE, tool,          "--device", link,
            "-h",       broker.host(), "-p",       std::to_string(broker.port())};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    }
    // Removes the link for `gone` (input), then makes it again to the same pty.
    void remove_link_for(std::chrono::milliseconds gone) const {
        char target[256] = {};
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        ASSERT_GT(n, 0) << "no link " << link;
        ASSERT_EQ(::unlink(link.c_str()), 0);
        std::this_thread::sleep_for(gone);  // the device is away this long: input, not a wait
        ASSERT_EQ(::symlink(target, link.c_str()), 0);
    }

    test::Broker broker;
    std::string dir;
    std::string link;
};

// seq 200 | qmtkit pub -q 1 -l while the device's name is removed for 2 s mid-run: pub notices,
// reopens it once it is back, and every line reaches the broker (at least once); exit 0.
TEST_F(CliReopen, PubDeliversEveryLineWhenTheDeviceIsRemovedFor2s) {
    test::MessageLog log(broker.host(), broker.port(), "reopen/#", 1);
    auto sim = start_sim();
    CliChild p(cli("pub", {"-t", "reopen/a", "-q", "1", "-l", "-d"}), /*stdin_pipe=*/true);
    ASSERT_TRUE(p.write_input(numbered(1, 200)));
    p.close_input();
    ASSERT_TRUE(log.wait([](const auto& all) { return all.size() >= 30; }, 30s)) << p.err();
    ASSERT_LT(payloads_on(log, "reopen/a").size(), 200u);  // mid-run
    remove_link_for(2s);
    ASSERT_TRUE(p.stderr_has(" reopened", 10s)) << p.err();
    EXPECT_EQ(count_of(p.err(), ": went away ("), 1u) << p.err();
    const auto st = p.wait(60s);
    ASSERT_TRUE(st.has_value()) << "still running; stderr:\n" << p.err();
    EXPECT_EQ(*st, 0) << p.err();
    EXPECT_TRUE(log.wait(
        [&](const auto& all) { return payloads_on(all, "reopen/a").size() == 200u; }, 10s));
    EXPECT_EQ(payloads_on(log, "reopen/a"), expected(200)) << p.err();
    EXPECT_GE(count_of(p.err(), "link online"), 2u) << p.err();  // brought up again
}

// The emulator is stopped mid-run (its pty closes, its --link goes) and started again on the
// same --link: a fresh module under the same name. pub reopens it, runs the whole bring-up, and
// every line reaches the broker; exit 0.
TEST_F(CliReopen, PubDeliversEveryLineWhenTheEmulatorIsRestartedOnTheSameLink) {
    test::MessageLog log(broker.host(), broker.port(), "reopen/#", 1);
    auto sim = start_sim();
    CliChild p(cli("pub", {"-t", "reopen/b", "-q", "1", "-l", "-d"}), /*stdin_pipe=*/true);
    ASSERT_TRUE(p.write_input(numbered(1, 200)));
    p.close_input();
    ASSERT_TRUE(log.wait([](const auto& all) { return all.size() >= 30; }, 30s)) << p.err();
    ASSERT_LT(payloads_on(log, "reopen/b").size(), 200u);
    sim.reset();  // SIGTERM: bc28-sim closes its pty and removes the link
    ASSERT_TRUE(p.stderr_has(": went away (", 10s)) << p.err();
    sim = start_sim();
    ASSERT_TRUE(p.stderr_has(" reopened", 10s)) << p.err();
    const auto st = p.wait(60s);
    ASSERT_TRUE(st.has_value()) << "still running; stderr:\n" << p.err();
    EXPECT_EQ(*st, 0) << p.err();
    EXPECT_TRUE(log.wait(
        [&](const auto& all) { return payloads_on(all, "reopen/b").size() == 200u; }, 10s));
    EXPECT_EQ(payloads_on(log, "reopen/b"), expected(200)) << p.err();
}

// sub with a persistent session (-c) while the device is away: it subscribes again after the
// reopen, and a QoS 1 message published during the outage is printed after it.
TEST_F(CliReopen, SubReceivesAgainAfterTheDeviceCameBack) {
    test::MqttClient peer(broker.host(), broker.port());
    auto sim = start_sim();
    CliChild p(cli("sub", {"-t", "reopen/s", "-q", "1", "-c", "-C", "2", "-d"}));
    ASSERT_TRUE(p.stderr_has("subscribed reopen/s", 30s)) << p.err();
    ASSERT_TRUE(peer.publish("reopen/s", "before", 1));
    ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "before") << p.err();

    sim.reset();
    ASSERT_TRUE(p.stderr_has(": went away (", 10s)) << p.err();
    ASSERT_TRUE(peer.publish("reopen/s", "during", 1));  // queued by the broker for the session
    sim = start_sim();
    ASSERT_TRUE(p.stderr_has(" reopened", 10s)) << p.err();
    ASSERT_EQ(p.stdout_line(30s).value_or("(none)"), "during") << p.err();
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << p.err();
    EXPECT_EQ(*st, 0) << p.err();
}

// A device that never comes back: pub (messages outstanding) and sub (waiting for messages,
// which has no other deadline) end within --timeout of the loss — one line on stderr naming the
// device, exit 1, never a hang.
TEST_F(CliReopen, DeviceThatNeverComesBackEndsWithinTheTimeout) {
    test::MessageLog log(broker.host(), broker.port(), "reopen/#", 1);
    {
        auto sim = start_sim();
        CliChild p(cli("pub", {"-t", "reopen/n", "-q", "1", "-l", "--timeout", "3"}),
                   /*stdin_pipe=*/true);
        ASSERT_TRUE(p.write_input(numbered(1, 200)));
        p.close_input();
        ASSERT_TRUE(log.wait([](const auto& all) { return all.size() >= 10; }, 30s)) << p.err();
        const auto gone = Clock::now();
        sim.reset();
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running 15 s after the device went; stderr:\n"
                                    << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_LT(Clock::now() - gone, 6s);
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << p.err();
        EXPECT_EQ(err[0].rfind("qmtkit pub: ", 0), 0u) << err[0];
        EXPECT_NE(err[0].find(link + " @ 9600: went away"), std::string::npos) << err[0];
        EXPECT_NE(err[0].find("message(s) acknowledged"), std::string::npos) << err[0];
    }
    {
        test::MqttClient peer(broker.host(), broker.port());
        auto sim = start_sim();
        CliChild p(cli("sub", {"-t", "reopen/m", "-q", "1", "--timeout", "2"}));
        // Subscribed once a retained message comes through.
        ASSERT_TRUE(peer.publish("reopen/m", "here", 1, /*retain=*/true));
        ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "here") << p.err();
        const auto gone = Clock::now();
        ASSERT_EQ(::unlink(link.c_str()), 0);  // the name goes; the emulator stays
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running 15 s after the device went; stderr:\n"
                                    << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_LT(Clock::now() - gone, 5s);
        EXPECT_GE(Clock::now() - gone, 2s);
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << p.err();
        EXPECT_EQ(err[0], "qmtkit sub: " + link +
                              " @ 9600: went away (No such file or directory) and did not "
                              "come back within 2 s")
            << err[0];
        ASSERT_TRUE(peer.publish("reopen/m", "", 1, /*retain=*/true));  // clear the retained one
    }
}

// The blocking facade with set_reopen(): 100 QoS 1 publishes pipelined through the outbox while
// the device's name is removed for 2 s; every completion is a success and every message reaches
// the broker.
TEST_F(CliReopen, FacadeDeliversTheOutboxAfterTheDeviceCameBack) {
    test::MessageLog log(broker.host(), broker.port(), "reopen/#", 1);
    auto sim = start_sim();
    host::BlockingClient c(link);
    host::ReopenPolicy policy;
    policy.give_up = 30s;
    c.set_reopen(policy);
    std::vector<host::PortEvent> events;
    c.set_port_observer([&](host::PortEvent e, std::error_code) { events.push_back(e); });
    qmt::Session s;
    const std::string host = broker.host();
    s.host = host;
    s.port = broker.port();
    s.client_id = "facade-reopen";
    ASSERT_TRUE(c.start(s).has_value());
    ASSERT_TRUE(c.wait_online(30s).has_value()) << c.last_problem();

    constexpr int kTotal = 100;
    int next = 1;
    int done = 0;
    bool removed = false;
    std::vector<std::string> payload_of(kTotal + 1);
    while (done < kTotal) {
        while (next <= kTotal) {
            payload_of[static_cast<std::size_t>(next)] = std::to_string(next);
            auto t = c.publish_async("reopen/f",
                                     ByteView(payload_of[static_cast<std::size_t>(next)]), {1});
            if (!t) {
                ASSERT_EQ(t.error().client.code, qmt::Error::queue_full)
                    << host::describe(t.error());
                break;
            }
            ++next;
        }
        auto d = c.next_published(60s);
        ASSERT_TRUE(d.has_value()) << "no completion; " << c.last_problem();
        ASSERT_TRUE(d->result.has_value()) << host::describe(d->result.error());
        ++done;
        if (done == 20 && !removed) {
            removed = true;
            char target[256] = {};
            ASSERT_GT(::readlink(link.c_str(), target, sizeof target - 1), 0);
            ASSERT_EQ(::unlink(link.c_str()), 0);
            ASSERT_TRUE(c.run_until([&] { return c.port_down(); }, 5s));
            EXPECT_FALSE(c.transport_failed());
            EXPECT_NE(c.last_problem().find("went away"), std::string::npos) << c.last_problem();
            c.run_for(2s);  // the device is away this long (input); the facade keeps running
            ASSERT_EQ(::symlink(target, link.c_str()), 0);
        }
    }
    EXPECT_EQ(events,
              (std::vector<host::PortEvent>{host::PortEvent::lost, host::PortEvent::reopened}));
    EXPECT_TRUE(log.wait(
        [&](const auto& all) { return payloads_on(all, "reopen/f").size() == kTotal; }, 10s));
    EXPECT_EQ(payloads_on(log, "reopen/f"), expected(kTotal));
    EXPECT_TRUE(c.stop(10s).has_value());
}

}  // namespace
}  // namespace qmtkit::e2e
