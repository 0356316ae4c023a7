// The SDK (blocking facade: runner + client + transport) against bc28-sim --variant bg95 / ec2x:
// the engine and client are BC28-first and must keep working when the emulator answers as a
// BG9x / EC2x module (docs/emulator.md, "Other Quectel modules"). The whole Facade / Cli suites
// run the same way with QMTKIT_SIM_ARGS="--variant bg95".
#include "fixture.hpp"
#include "qmtkit/host/blocking_client.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;
using host::BlockingClient;

class VariantE2E : public ::testing::TestWithParam<const char*> {
  protected:
    void SetUp() override { broker.start(); }
    test::Broker broker;
};

TEST_P(VariantE2E, PublishSubscribeAndReceive) {
    Sim sim({"--variant", GetParam(), "--rtt-ms", "20"});
    BlockingClient c(sim.pty());
    qmt::Session s;
    const std::string host = broker.host();
    s.host = host;
    s.port = broker.port();
    const std::string id = std::string("variant-") + GetParam();
    s.client_id = id;
    s.settings.pkt_timeout_s = 5;
    ASSERT_TRUE(c.start(s).has_value());
    auto online = c.wait_online(30s);
    ASSERT_TRUE(online.has_value()) << host::describe(online.error()) << sim.log();

    auto sub = c.subscribe("down/#", 1, 30s);
    ASSERT_TRUE(sub.has_value()) << host::describe(sub.error());
    EXPECT_EQ(sub->granted_qos, 1);

    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("up", 2));
    for (int qos = 0; qos <= 2; ++qos) {
        const std::string payload = std::string(GetParam()) + " qos" + std::to_string(qos);
        auto r = c.publish("up", ByteView(payload), {static_cast<std::uint8_t>(qos)}, 30s);
        ASSERT_TRUE(r.has_value()) << host::describe(r.error());
        auto m = peer.wait_message("up", 10s);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ(m->payload, payload);
        EXPECT_EQ(m->qos, qos);
    }

    ASSERT_TRUE(peer.publish("down/a", "to the device, with, commas", 1));
    auto m = c.next_message(20s);
    ASSERT_TRUE(m.has_value()) << sim.log();
    EXPECT_EQ(m->topic, "down/a");
    EXPECT_EQ(m->payload, "to the device, with, commas");

    EXPECT_TRUE(c.stop(10s).has_value());
    EXPECT_EQ(sim.control("status").rfind("OK state=closed ", 0), 0u) << sim.control("status");
}

INSTANTIATE_TEST_SUITE_P(Family, VariantE2E, ::testing::Values("bg95", "ec2x"));

}  // namespace
}  // namespace qmtkit::e2e
