// `qmtkit pub` / `qmtkit sub` processes through bc28-sim and a real mosquitto.
#include <fstream>
#include <set>

#include "fixture.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        broker.start();
        dir = test::make_temp_dir("qmtkit-cli-");
    }
    void TearDown() override { test::remove_tree(dir); }

    std::vector<std::string> common(const Sim& sim) const {
        return {QMTKIT_EXE, "",
                "--device", sim.pty(),
                "-h",       broker.host(),
                "-p",       std::to_string(broker.port())};
    }
    std::vector<std::string> cmd(const std::string& sub, const Sim& sim,
                                 std::vector<std::string> more) const {
        auto v = common(sim);
        v[1] = sub;
        v.insert(v.end(), more.begin(), more.end());
        return v;
    }

    test::Broker broker;
    std::string dir;
};

class CliQos : public Cli, public ::testing::WithParamInterface<int> {};

// qmtkit pub (retained) then qmtkit sub receives it; a plain subscriber on the broker sees the
// publish at the requested QoS.
TEST_P(CliQos, PubThenSubRoundTrip) {
    const int qos = GetParam();
    const std::string topic = "rt/q" + std::to_string(qos);
    const std::string payload = "hello, \"world\" at qos " + std::to_string(qos);
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe(topic, 2));

    Sim pub_sim;
    auto pub = run_process(
        cmd("pub", pub_sim, {"-t", topic, "-m", payload, "-q", std::to_string(qos), "-r"}), 60s,
        dir);
    ASSERT_EQ(pub.status, 0) << pub.err << pub_sim.log();
    auto seen = watcher.wait_message(topic, 10s);
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->payload, payload);
    EXPECT_EQ(seen->qos, qos);

    Sim sub_sim;
    auto sub = run_process(
        cmd("sub", sub_sim, {"-t", topic, "-q", std::to_string(qos), "-C", "1", "-W", "30", "-v"}),
        60s, dir);
    ASSERT_EQ(sub.status, 0) << sub.err << sub_sim.log();
    ASSERT_EQ(sub.out.size(), 1u);
    EXPECT_EQ(sub.out[0], topic + " " + payload);
}
INSTANTIATE_TEST_SUITE_P(Qos, CliQos, ::testing::Values(0, 1, 2));

TEST_F(Cli, SubPrintsPayloadsOnlyWithoutVerboseAndTimesOutNonZero) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("a/x", "first", 1, true));
    ASSERT_TRUE(pubber.publish("b/y", "second", 1, true));
    Sim sim;
    auto sub = run_process(
        cmd("sub", sim, {"-t", "a/#", "-t", "b/+", "-q", "1", "-C", "2", "-W", "30"}), 60s, dir);
    ASSERT_EQ(sub.status, 0) << sub.err;
    std::multiset<std::string> got(sub.out.begin(), sub.out.end());
    EXPECT_EQ(got, (std::multiset<std::string>{"first", "second"}));

    // Nothing more to come: -W ends it, non-zero, one line naming the cause.
    auto idle = run_process(cmd("sub", sim, {"-t", "none/here", "-C", "1", "-W", "3"}), 30s, dir);
    EXPECT_NE(idle.status, 0);
    EXPECT_TRUE(idle.out.empty());
    EXPECT_NE(idle.err.find("timed out"), std::string::npos) << idle.err;
}

TEST_F(Cli, PubLinesFromStdinAllArriveInOrder) {
    constexpr int kLines = 200;
    {
        std::ofstream f(dir + "/lines.txt");
        for (int i = 1; i <= kLines; ++i) f << "line-" << i << "\n";
    }
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("lines", 1));
    Sim sim;
    std::string shell;
    for (const auto& a : cmd("pub", sim, {"-t", "lines", "-q", "1", "-l"})) shell += "'" + a + "' ";
    shell += "< '" + dir + "/lines.txt'";
    auto pub = run_process({"/bin/sh", "-c", shell}, 120s, dir);
    ASSERT_EQ(pub.status, 0) << pub.err;
    for (int i = 1; i <= kLines; ++i) {
        auto m = watcher.wait_message("lines", 10s);
        ASSERT_TRUE(m.has_value()) << "missing line " << i;
        EXPECT_EQ(m->payload, "line-" + std::to_string(i));
    }
}

TEST_F(Cli, PubFileWithEveryByteValue) {
    std::string payload;
    for (int i = 0; i < 1024; ++i) payload.push_back(static_cast<char>(i & 0xFF));
    {
        std::ofstream f(dir + "/blob.bin", std::ios::binary);
        f.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    }
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("blob", 1));
    Sim sim;
    auto pub =
        run_process(cmd("pub", sim, {"-t", "blob", "-q", "1", "-f", dir + "/blob.bin"}), 60s, dir);
    ASSERT_EQ(pub.status, 0) << pub.err;
    auto m = watcher.wait_message("blob", 10s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->payload, payload);
}

TEST_F(Cli, RefusedConnectFailsNamingTheCauseWithoutThePassword) {
    Sim sim({"--fault", "refuse-conn 5"});
    auto pub = run_process(cmd("pub", sim,
                               {"-t", "x", "-m", "y", "-q", "1", "-u", "user", "-P", "s3cret-pw",
                                "--timeout", "5", "--trace"}),
                           60s, dir);
    EXPECT_NE(pub.status, 0);
    EXPECT_EQ(pub.err.find("s3cret-pw"), std::string::npos);  // not even in --trace
    // The last line names the cause.
    const auto at = pub.err.rfind("qmtkit pub:");
    ASSERT_NE(at, std::string::npos) << pub.err;
    const auto last = pub.err.substr(at);
    EXPECT_EQ(last, "qmtkit pub: CONNECT refused: not authorized (CONNACK 5)\n");
}

TEST_F(Cli, UsageErrors) {
    Sim sim;
    EXPECT_NE(run_process(cmd("pub", sim, {"-t", "x"}), 20s, dir).status, 0);  // no message source
    EXPECT_NE(run_process(cmd("pub", sim, {"-t", "x", "-m", "y", "-q", "3"}), 20s, dir).status, 0);
    EXPECT_NE(run_process(cmd("pub", sim, {"-t", "x", "-m", "y", "-V", "5"}), 20s, dir).status, 0);
    auto help = run_process({QMTKIT_EXE, "pub", "--help"}, 20s, dir);
    EXPECT_EQ(help.status, 0);
    std::string all;
    for (auto& l : help.out) all += l + "\n";
    EXPECT_NE(all.find("-h,--host"), std::string::npos);
    EXPECT_NE(all.find("--protocol-version"), std::string::npos);
}

}  // namespace
}  // namespace qmtkit::e2e
