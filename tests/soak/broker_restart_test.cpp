// The soak's subscriber across a broker restart (Broker::restart, MessageLog reconnecting):
// what a persistent broker queued for a persistent log survives the restart, and a log without
// a session at the broker subscribes again when it reconnects.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "broker.hpp"
#include "message_log.hpp"
#include "mqtt_client.hpp"

namespace {

using namespace std::chrono_literals;
using qmtkit::test::Broker;
using qmtkit::test::MessageLog;
using qmtkit::test::MqttClient;
using Entries = std::vector<MessageLog::Entry>;

bool has(const Entries& all, const std::string& payload) {
    for (const auto& e : all) {
        if (e.payload == payload) return true;
    }
    return false;
}

MessageLog::Options persistent_log() {
    MessageLog::Options o;
    o.filter = "r/#";
    o.persistent = true;
    o.client_id = "restart-log";
    return o;
}

// Queued for the log while it is away, before and after the restart: both come when it is back.
// Without persistence (or with a clean session) the broker forgets the log's subscription at
// the restart, and neither arrives.
TEST(SoakHarness, PersistentLogGetsWhatTheBrokerQueuedAcrossARestart) {
    Broker::Options bo;
    bo.persistence = true;
    Broker broker(bo);
    broker.start();
    { MessageLog away(broker.host(), broker.port(), persistent_log()); }  // session, then gone
    {
        MqttClient pub(broker.host(), broker.port());
        ASSERT_TRUE(pub.publish("r/1", "before", 1));
    }
    const auto before = broker.port();
    broker.restart();
    ASSERT_EQ(broker.port(), before);
    {
        MqttClient pub(broker.host(), broker.port());
        ASSERT_TRUE(pub.publish("r/2", "after", 1));
    }
    MessageLog log(broker.host(), broker.port(), persistent_log());
    EXPECT_TRUE(
        log.wait([](const Entries& all) { return has(all, "before") && has(all, "after"); }, 10s))
        << log.size() << " message(s)\n"
        << broker.log();
}

// A log the broker keeps no session for subscribes again once it has reconnected.
TEST(SoakHarness, LogSubscribesAgainAfterARestart) {
    Broker broker;  // no persistence: the subscription is gone with the broker
    broker.start();
    MessageLog log(broker.host(), broker.port(), "r/#");
    ASSERT_EQ(log.connects(), 1u);
    broker.restart();
    ASSERT_TRUE(log.wait_reconnected(1, 15s)) << broker.log();
    MqttClient pub(broker.host(), broker.port());
    ASSERT_TRUE(pub.publish("r/x", "again", 1));
    EXPECT_TRUE(log.wait_for("r/x", "again", 10s)) << broker.log();
}

}  // namespace
