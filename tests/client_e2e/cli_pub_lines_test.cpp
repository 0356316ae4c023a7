// `qmtkit pub -l` (and the other message sources) when things go wrong: the CLI must always end,
// with the right exit status and one line naming the cause, and never lose or crash on input.
// The test plays the input generator: qmtkit's stdin is a pipe the test writes (or a file).
#include <thread>

#include "cli_child.hpp"
#include "fixture.hpp"
#include "text.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::count_of;
using test::lines_of;

std::string numbered(const std::string& prefix, int from, int to) {
    std::string s;
    for (int i = from; i <= to; ++i) s += prefix + std::to_string(i) + "\n";
    return s;
}

class CliPub : public ::testing::Test {
  protected:
    void SetUp() override {
        broker.start();
        dir = test::make_temp_dir("qmtkit-cli-pub-");
    }
    void TearDown() override { test::remove_tree(dir); }

    std::vector<std::string> pub(const std::string& device, std::uint16_t port,
                                 std::vector<std::string> more) const {
        std::vector<std::string> v{QMTKIT_EXE, "pub",         "--device", device,
                                   "-h",       broker.host(), "-p",       std::to_string(port)};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    }

    test::Broker broker;
    std::string dir;
};

// The module's OPEN fails (nothing listens on the broker port): --timeout ends the run with one
// line, whether the stdin reader is waiting for room in its queue (100 lines, more than it reads
// ahead) or waiting for input that never comes (stdin left open: bring-up is still bounded).
TEST_F(CliPub, LinesGiveUpAfterTheTimeoutWhenTheBrokerIsUnreachable) {
    Sim sim;
    const std::uint16_t dead_port = test::free_loopback_port();
    const auto args = pub(sim.pty(), dead_port, {"-t", "t", "-l", "--timeout", "3"});
    {
        CliChild p(args, true);
        ASSERT_TRUE(p.write_input(numbered("m-", 1, 100)));  // seq -f m-%g 1 100 |
        p.close_input();
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running after 15 s; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_LT(p.run_time(), 8s);
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << p.err();
        EXPECT_EQ(err[0].rfind("qmtkit pub: timed out after 0 of ", 0), 0u) << err[0];
        EXPECT_NE(err[0].find("QMTOPEN"), std::string::npos) << err[0];
    }
    {
        CliChild p(args, true);  // stdin open, nothing written
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running after 15 s; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_LT(p.run_time(), 8s);
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << p.err();
        EXPECT_EQ(err[0].rfind("qmtkit pub: timed out after 0 of 0 ", 0), 0u) << err[0];
    }
}

// A line longer than the module sends is reported once, by its line number, and skipped; the lines
// around it are delivered (in order: the long line never went out); the exit status says
// something was not sent. Three runs: the old reader crashed about one run in four.
TEST_F(CliPub, LinesSkipATooLongLineAndDeliverTheRest) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("mix/#", 1));
    Sim sim;
    for (int run = 0; run < 3; ++run) {
        const std::string topic = "mix/" + std::to_string(run);
        CliChild p(pub(sim.pty(), broker.port(), {"-t", topic, "-l", "-q", "1"}), true);
        // Line 2 is empty (skipped, not a message), line 3 is 1025 bytes.
        ASSERT_TRUE(p.write_input("one\n\n" + std::string(1025, 'x') + "\nthree\n"));
        p.close_input();
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running after 15 s; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_EQ(count_of(p.err(), "line 3"), 1u) << p.err();
        EXPECT_NE(p.err().find("longer than 1024"), std::string::npos) << p.err();
        EXPECT_EQ(p.err().find("xxxxxxxx"), std::string::npos);  // never the payload itself
        auto first = watcher.wait_message(topic, 10s);
        ASSERT_TRUE(first.has_value()) << p.err();
        EXPECT_EQ(first->payload, "one");
        auto second = watcher.wait_message(topic, 10s);
        ASSERT_TRUE(second.has_value()) << "\"three\" never arrived; stderr:\n" << p.err();
        EXPECT_EQ(second->payload, "three");
    }
}

// The emulator goes away mid-stream (seq 300 |, the reader's queue full): pub ends promptly,
// non-zero, with one line naming the device.
TEST_F(CliPub, LinesEndWhenTheModuleGoesAway) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("gone", 1));
    auto sim = std::make_unique<Sim>(std::vector<std::string>{"--rtt-ms", "100"});
    const std::string pty = sim->pty();
    CliChild p(pub(pty, broker.port(), {"-t", "gone", "-q", "1", "-l"}), true);
    ASSERT_TRUE(p.write_input(numbered("", 1, 300)));
    p.close_input();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(watcher.wait_message("gone", 10s)) << i;
    sim.reset();  // bc28-sim exits: the pty's other end closes
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << "still running 10 s after the module went away; stderr:\n"
                                << p.err();
    EXPECT_EQ(*st, 1) << p.err();
    const auto err = lines_of(p.err());
    ASSERT_EQ(err.size(), 1u) << p.err();
    EXPECT_EQ(err[0].rfind("qmtkit pub: ", 0), 0u) << err[0];
    EXPECT_NE(err[0].find(pty), std::string::npos) << err[0];
}

// A pause in the input longer than --timeout is not a timeout: --timeout bounds the wait for
// messages already read, never the wait for stdin.
TEST_F(CliPub, LinesWaitForQuietStdinWithoutTimingOut) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("quiet", 1));
    Sim sim;
    CliChild p(pub(sim.pty(), broker.port(), {"-t", "quiet", "-l", "-q", "1", "--timeout", "2"}),
               true);
    ASSERT_TRUE(p.write_input("a\n"));
    auto a = watcher.wait_message("quiet", 10s);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->payload, "a");
    std::this_thread::sleep_for(4s);  // the input generator pauses: twice --timeout
    const bool wrote_b = p.write_input("b\n");
    p.close_input();
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << p.err();
    EXPECT_TRUE(wrote_b) << "pub stopped reading stdin: " << p.err();
    ASSERT_EQ(*st, 0) << p.err();
    EXPECT_EQ(p.err(), "");
    auto b = watcher.wait_message("quiet", 10s);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->payload, "b");
}

// -f naming something that cannot be read: one line with the file and the reason, exit 1.
// -n: an empty (null) message, as mosquitto_pub sends one: the variable-length form with a bare
// Ctrl+Z; a subscriber on the broker gets a zero-length message. The fixed-length form cannot
// carry one (its <len> is 1..1024) and is refused before the port is touched.
TEST_F(CliPub, NullMessageIsDeliveredEmpty) {
    Sim sim;
    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("null/t", 1));
    CliChild r(pub(sim.pty(), broker.port(), {"-t", "null/t", "-n", "-q", "1"}));
    EXPECT_EQ(r.wait(30s), 0) << r.err();
    auto m = peer.wait_message("null/t", 10s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->payload, "");
    const std::string before = sim.log();
    CliChild fixed(pub(sim.pty(), broker.port(), {"-t", "null/t", "-n", "--form", "fixed"}));
    EXPECT_EQ(fixed.wait(10s), 1);
    EXPECT_EQ(fixed.err(),
              "Error: -n sends an empty message in the variable-length form: the fixed-length "
              "form takes 1..1024 bytes (--form fixed).\n");
    EXPECT_EQ(sim.log(), before);
}

TEST_F(CliPub, FileThatCannotBeReadFailsNamingTheReason) {
    Sim sim;
    auto d = run_process(pub(sim.pty(), broker.port(), {"-t", "f", "-f", dir}), 20s, dir);
    EXPECT_EQ(d.status, 66);  // no input
    EXPECT_EQ(d.err, "qmtkit pub: cannot read " + dir + ": Is a directory\n");
    const std::string missing = dir + "/missing.bin";
    auto m = run_process(pub(sim.pty(), broker.port(), {"-t", "f", "-f", missing}), 20s, dir);
    EXPECT_EQ(m.status, 66);
    EXPECT_EQ(m.err, "qmtkit pub: cannot read " + missing + ": No such file or directory\n");
}

// stdin that cannot be read (a directory redirected with <) is an error, not an empty input.
TEST_F(CliPub, StdinThatCannotBeReadFailsNamingTheReason) {
    Sim sim;
    for (const char* mode : {"-l", "-s"}) {
        CliChild p(pub(sim.pty(), broker.port(), {"-t", "f", mode, "--timeout", "5"}), false, dir);
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << mode << ": still running; stderr:\n" << p.err();
        EXPECT_EQ(*st, 66) << mode;  // no input, found before the device is opened
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << mode << ": " << p.err();
        EXPECT_EQ(err[0], "qmtkit pub: cannot read stdin: Is a directory")
            << mode << ": " << err[0];
    }
}

// The backstop: an exception from any subcommand (here nlohmann::json refusing a non-UTF-8 string
// in `sign --json`) is one line and exit 1, not an abort.
TEST_F(CliPub, NoExceptionEscapesMain) {
    const std::string not_utf8 = std::string("a\xff") + "b";
    auto r = run_process({QMTKIT_EXE, "sign", "aliyun", "--product-key", not_utf8, "--device-name",
                          "dn", "--device-secret", "s", "--json"},
                         20s, dir);
    EXPECT_EQ(r.status, 1);
    const auto err = lines_of(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_EQ(err[0].rfind("qmtkit sign: ", 0), 0u) << err[0];
}

}  // namespace
}  // namespace qmtkit::e2e
