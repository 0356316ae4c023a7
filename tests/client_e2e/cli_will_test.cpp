// Wills (issue 9: --will-topic, --will-payload, --will-qos, --will-retain → AT+QMTCFG="will"),
// end to end: bc28-sim's `drop` fault closes its broker connection without DISCONNECT (as a
// module losing its bearer does), and mosquitto publishes the will to a subscriber, at its QoS,
// retained when asked. A run that ends cleanly (DISCONNECT) leaves no will behind.
#include "cli_child.hpp"
#include "fixture.hpp"
#include "message_log.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

using CliWill = CliOnSim;

TEST_F(CliWill, PublishedByTheBrokerAfterAnAbruptDrop) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("will/sub", 2));
    ASSERT_TRUE(watcher.publish("will/x", "ready", 1, true));
    Sim sim;
    CliChild p(args("sub", sim,
                    {"-t", "will/x", "--will-topic", "will/sub", "--will-payload", "sub went away",
                     "--will-qos", "1", "--will-retain", "--trace"}));
    ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "ready") << p.err();
    EXPECT_TRUE(p.stderr_has("AT> AT+QMTCFG=\"will\",0,1,1,1,\"will/sub\",\"sub went away\"", 5s));
    ASSERT_EQ(sim.control("drop"), "OK");
    const auto will = watcher.wait_message("will/sub", 20s);
    ASSERT_TRUE(will.has_value()) << "no will after the drop\n" << broker.log();
    EXPECT_EQ(will->payload, "sub went away");
    EXPECT_EQ(will->qos, 1);
    // Retained: a subscriber that comes later gets it too.
    test::MqttClient later(broker.host(), broker.port());
    ASSERT_TRUE(later.subscribe("will/sub", 2));
    const auto kept = later.wait_message("will/sub", 10s);
    ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(kept->payload, "sub went away");
    EXPECT_TRUE(kept->retain);
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait(10s).value_or(-1), 143) << p.err();
}

// pub with a will (no payload: an empty will) that ends with DISCONNECT: the broker drops the
// will. The marker published after pub exited arrives; nothing came before it.
TEST_F(CliWill, CleanExitLeavesNoWill) {
    test::MessageLog log(broker.host(), broker.port(), "will/#");
    Sim sim;
    const auto r = run_process(
        args("pub", sim, {"-t", "will/data", "-m", "x", "-q", "1", "--will-topic", "will/pub"}),
        60s, sim.dir());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(sim.log().find("cmd AT+QMTCFG set"), std::string::npos);
    test::MqttClient marker(broker.host(), broker.port());
    ASSERT_TRUE(marker.publish("will/pub", "marker", 1));
    ASSERT_TRUE(log.wait_for("will/pub", "marker", 10s));
    std::vector<std::string> seen;
    for (const auto& e : log.snapshot()) seen.push_back(e.topic + " " + e.payload);
    EXPECT_EQ(seen, (std::vector<std::string>{"will/data x", "will/pub marker"}));
}

}  // namespace
}  // namespace qmtkit::e2e
