// `qmtkit sub` / `qmtkit pub` stopped with Ctrl+C or SIGTERM (issue 9, defect 7): both send
// AT+QMTDISC and AT+QMTCLOSE (the module is left closed, not pushing +QMTRECV to a UART nobody
// reads), within a bound even when the module does not answer, then exit 130 / 143; a second
// signal ends the process at once.
#include <signal.h>

#include <thread>

#include "cli_child.hpp"
#include "fixture.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

class CliSignal : public CliOnSim {
  protected:
    // The emulator saw DISC and CLOSE and reports its MQTT instance closed.
    static void expect_closed(Sim& sim) {
        const std::string log = sim.log();
        EXPECT_NE(log.find("cmd AT+QMTDISC set"), std::string::npos) << log;
        EXPECT_NE(log.find("cmd AT+QMTCLOSE set"), std::string::npos) << log;
        EXPECT_EQ(sim.control("status").rfind("OK state=closed ", 0), 0u) << sim.control("status");
    }
};

TEST_F(CliSignal, SubDisconnectsAndClosesOnSigintAndSigterm) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("sig/sub", "hello", 1, true));
    for (const int sig : {SIGINT, SIGTERM}) {
        Sim sim;
        CliChild p(args("sub", sim, {"-t", "sig/sub", "-q", "1"}));
        const auto line = p.stdout_line(20s);  // online and subscribed: the retained message
        ASSERT_EQ(line.value_or("(none)"), "hello") << p.err();
        EXPECT_EQ(sim.control("status").rfind("OK state=connected ", 0), 0u);
        p.signal(sig);
        const auto st = p.wait(10s);
        ASSERT_TRUE(st.has_value()) << "still running 10 s after signal " << sig;
        EXPECT_EQ(*st, 128 + sig) << p.err();
        EXPECT_LT(p.since_signal(), 3s);
        EXPECT_EQ(p.err(), "");
        expect_closed(sim);
    }
}

TEST_F(CliSignal, PubLinesDisconnectsAndClosesOnSigterm) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("sig/pub", 1));
    Sim sim;
    CliChild p(args("pub", sim, {"-t", "sig/pub", "-q", "1", "-l"}), /*stdin_pipe=*/true);
    ASSERT_TRUE(p.write_input("a\n"));
    auto m = watcher.wait_message("sig/pub", 20s);  // online, "a" at the broker
    ASSERT_TRUE(m.has_value()) << p.err();
    EXPECT_EQ(m->payload, "a");
    // The broker has it before the module has its PUBACK (half a round trip back, then the
    // result line after the module's processing): wait for "a" acknowledged to the client too.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (sim.control("status").find(" inflight=0 ") == std::string::npos &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(200ms);  // the +QMTPUB line read and handled by qmtkit pub
    p.signal(SIGTERM);                   // stdin still open: pub waits for more input
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << "still running 10 s after SIGTERM";
    EXPECT_EQ(*st, 143) << p.err();
    EXPECT_LT(p.since_signal(), 3s);
    EXPECT_EQ(p.err(), "");
    expect_closed(sim);
}

// A module that does not answer DISC / CLOSE (its replies held back 10 s): the stop is bounded.
TEST_F(CliSignal, StopIsBoundedWhenTheModuleDoesNotAnswer) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("sig/mute", "hello", 1, true));
    Sim sim;
    CliChild p(args("sub", sim, {"-t", "sig/mute", "--trace"}));
    ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "hello") << p.err();
    ASSERT_EQ(sim.control("delay 10000"), "OK");
    p.signal(SIGINT);
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << "still running 10 s after SIGINT";
    EXPECT_EQ(*st, 130);
    EXPECT_LT(p.since_signal(), 3500ms);  // qmtkit gives DISC + CLOSE 3 s
    EXPECT_NE(p.err().find("AT> AT+QMTDISC=0"), std::string::npos) << p.err();
}

// The second signal does not wait for the module: the process ends at once (before the CLOSE
// that would follow the unanswered DISC).
TEST_F(CliSignal, SecondSignalEndsAtOnce) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("sig/twice", "hello", 1, true));
    Sim sim;
    CliChild p(args("sub", sim, {"-t", "sig/twice", "--trace"}));
    ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "hello") << p.err();
    ASSERT_EQ(sim.control("delay 10000"), "OK");
    p.signal(SIGTERM);
    ASSERT_TRUE(p.stderr_has("AT> AT+QMTDISC=0", 5s)) << p.err();  // the first one is handled
    p.signal(SIGTERM);
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(*st, 143);
    EXPECT_LT(p.since_signal(), 1s);  // the bounded stop would take over 1.5 s here
    EXPECT_EQ(p.err().find("AT> AT+QMTCLOSE"), std::string::npos) << p.err();
}

}  // namespace
}  // namespace qmtkit::e2e
