// The blocking facade (runner + client + transport) through bc28-sim and mosquitto: binary
// payloads, 500 QoS 1 messages with the window kept full, recovery from injected faults with no
// QoS 1 message lost.
#include <cctype>
#include <set>

#include "fixture.hpp"
#include "qmtkit/host/blocking_client.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;
using host::BlockingClient;

class Facade : public ::testing::Test {
  protected:
    void SetUp() override { broker.start(); }

    qmt::Session session(const std::string& id) {
        id_ = id;
        host_ = broker.host();
        qmt::Session s;
        s.host = host_;
        s.port = broker.port();
        s.client_id = id_;
        s.settings.pkt_timeout_s = 5;
        s.settings.retry_times = 2;
        return s;
    }
    static qmt::Backoff fast_backoff() {
        qmt::Backoff b;
        b.initial = 200;
        b.max = 2000;
        return b;
    }

    test::Broker broker;
    std::string id_, host_;
};

TEST_F(Facade, PublishSubscribeAndReceive) {
    Sim sim;
    BlockingClient c(sim.pty());
    ASSERT_TRUE(c.start(session("facade-1")).has_value());
    auto online = c.wait_online(30s);
    ASSERT_TRUE(online.has_value()) << host::describe(online.error()) << sim.log();

    auto sub = c.subscribe("down/#", 1, 30s);
    ASSERT_TRUE(sub.has_value()) << host::describe(sub.error());
    EXPECT_EQ(sub->granted_qos, 1);

    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("up", 2));
    for (int qos = 0; qos <= 2; ++qos) {
        const std::string payload = "qos" + std::to_string(qos);
        auto r = c.publish("up", ByteView(payload), {static_cast<std::uint8_t>(qos)}, 30s);
        ASSERT_TRUE(r.has_value()) << host::describe(r.error());
        auto m = peer.wait_message("up", 10s);
        ASSERT_TRUE(m.has_value());
        EXPECT_EQ(m->payload, payload);
        EXPECT_EQ(m->qos, qos);
    }

    ASSERT_TRUE(peer.publish("down/a", "to the device, with, commas", 1));
    auto m = c.next_message(20s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->topic, "down/a");
    EXPECT_EQ(m->payload, "to the device, with, commas");
    EXPECT_FALSE(c.next_message(200ms).has_value());

    EXPECT_TRUE(c.stop(10s).has_value());
}

// What a tool builds on: asynchronous subscribe / unsubscribe with their results kept by ticket,
// messages too long for the client reported (topic and size), never handed over cut.
TEST_F(Facade, AsyncSubscriptionsAndDroppedMessages) {
    Sim sim;
    BlockingClient c(sim.pty());
    ASSERT_TRUE(c.start(session("facade-async")).has_value());
    ASSERT_TRUE(c.wait_online(30s).has_value()) << sim.log();
    auto t = c.subscribe_async("big/#", 1);
    ASSERT_TRUE(t.has_value()) << host::describe(t.error());
    EXPECT_EQ(c.subscription(*t), nullptr);
    ASSERT_TRUE(c.run_until([&] { return c.subscription(*t) != nullptr; }, 20s));
    ASSERT_TRUE(c.subscription(*t)->has_value());
    EXPECT_EQ(c.subscription(*t)->value().granted_qos, 1);

    test::MqttClient peer(broker.host(), broker.port());
    const std::string big(3000, 'x');  // the module delivers it; the client cannot hold it
    ASSERT_TRUE(peer.publish("big/one", big, 1));
    ASSERT_TRUE(peer.publish("big/two", "small", 1));
    auto m = c.next_message(20s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->topic, "big/two");
    EXPECT_EQ(m->payload, "small");
    auto d = c.next_dropped(5s);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->topic, "big/one");
    EXPECT_EQ(d->size, big.size());
    EXPECT_EQ(c.dropped_pending(), 0u);

    auto u = c.unsubscribe_async("big/#");
    ASSERT_TRUE(u.has_value()) << host::describe(u.error());
    ASSERT_TRUE(c.run_until([&] { return c.unsubscription(*u) != nullptr; }, 20s));
    EXPECT_TRUE(c.unsubscription(*u)->has_value());
    EXPECT_TRUE(c.stop(10s).has_value());
}

// The first cause of a failed bring-up reaches an observer as it happens, typed.
TEST_F(Facade, BringupObserverSeesTheRefusal) {
    Sim sim({"--fault", "refuse-conn 4"});
    BlockingClient c(sim.pty());
    std::vector<qmt::ClientError> seen;
    c.set_bringup_observer([&](qmt::LinkState, const qmt::ClientError& e) { seen.push_back(e); });
    c.set_backoff(fast_backoff());
    qmt::Session s = session("facade-refused");
    s.username = "observer";
    s.password = "WRONG";
    ASSERT_TRUE(c.start(s).has_value());
    ASSERT_TRUE(c.run_until([&] { return !seen.empty(); }, 20s)) << sim.log();
    EXPECT_EQ(seen.front().code, qmt::Error::connect_refused);
    EXPECT_EQ(seen.front().value, static_cast<int>(qmt::ConnectReturn::bad_credentials));
    EXPECT_FALSE(c.wait_online(1s).has_value());
}

TEST_F(Facade, PayloadWithEveryByteValue) {
    Sim sim;
    BlockingClient c(sim.pty());
    ASSERT_TRUE(c.start(session("facade-bin")).has_value());
    ASSERT_TRUE(c.wait_online(30s).has_value());
    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("bin", 1));
    std::string payload;
    for (int i = 0; i < 1024; ++i) payload.push_back(static_cast<char>((i * 7 + 0x1A) & 0xFF));
    ASSERT_NE(payload.find('\x1A'), std::string::npos);
    ASSERT_NE(payload.find('\x1B'), std::string::npos);
    auto r = c.publish("bin", ByteView(payload), {1}, 30s);
    ASSERT_TRUE(r.has_value()) << host::describe(r.error());
    auto m = peer.wait_message("bin", 10s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->payload, payload);
}

// Publishes `n` QoS 1 messages keeping the outbox full; returns when all completed (or fails).
void publish_many(BlockingClient& c, int n,
                  const std::function<void(int completed)>& on_progress = {}) {
    int sent = 0;
    int done = 0;
    while (done < n) {
        while (sent < n) {
            const std::string p = "m-" + std::to_string(sent);
            auto t = c.publish_async("many", ByteView(p), {1});
            if (!t) {
                ASSERT_EQ(t.error().client.code, qmt::Error::queue_full)
                    << host::describe(t.error());
                break;
            }
            ++sent;
        }
        auto d = c.next_published(60s);
        ASSERT_TRUE(d.has_value()) << "stalled at " << done << "/" << n << ": " << c.last_problem();
        ASSERT_TRUE(d->result.has_value()) << host::describe(d->result.error());
        ++done;
        if (on_progress) on_progress(done);
    }
}

void expect_all_arrived(test::MqttClient& peer, int n) {
    std::set<std::string> want;
    for (int i = 0; i < n; ++i) want.insert("m-" + std::to_string(i));
    while (!want.empty()) {
        auto m = peer.wait_message("many", 15s);
        ASSERT_TRUE(m.has_value())
            << want.size() << " QoS 1 message(s) lost, e.g. " << *want.begin();
        want.erase(m->payload);  // duplicates (at-least-once) are fine
    }
}

TEST_F(Facade, FiveHundredQos1WithTheWindowFull) {
    Sim sim({"--rtt-ms", "20"});
    BlockingClient c(sim.pty());
    ASSERT_TRUE(c.start(session("facade-500")).has_value());
    ASSERT_TRUE(c.wait_online(30s).has_value());
    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("many", 1));
    publish_many(c, 500);
    EXPECT_EQ(c.core().stats().max_in_flight, 5u);  // the window was kept full ...
    EXPECT_EQ(c.core().stats().backpressure, 0u);   // ... and never over-filled (no CME 159)
    EXPECT_EQ(c.core().stats().published, 500u);
    expect_all_arrived(peer, 500);
}

class FacadeFault : public Facade, public ::testing::WithParamInterface<const char*> {};

TEST_P(FacadeFault, RecoversWithoutLosingQos1) {
    Sim sim({"--rtt-ms", "20", "--boot-ms", "300"});
    BlockingClient c(sim.pty());
    c.set_backoff(fast_backoff());
    ASSERT_TRUE(c.start(session(std::string("facade-fault"))).has_value());
    ASSERT_TRUE(c.wait_online(30s).has_value());
    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("many", 1));
    const std::string fault = GetParam();
    publish_many(c, 120, [&](int done) {
        if (done == 40) {
            EXPECT_EQ(sim.control(fault).rfind("OK", 0), 0u) << fault;
        }
    });
    expect_all_arrived(peer, 120);
    EXPECT_GE(c.core().stats().sessions, 1u);
}
INSTANTIATE_TEST_SUITE_P(Faults, FacadeFault,
                         ::testing::Values("drop", "drop 1", "drop 7", "ping-timeout", "reboot",
                                           "garbage 64"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                             std::string n = p.param;
                             for (auto& ch : n) {
                                 if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                             }
                             return n;
                         });

TEST_F(Facade, TcpDeviceWorksToo) {
    Sim sim({"--tcp", "0"});
    BlockingClient c("tcp://127.0.0.1:" + std::to_string(sim.tcp_port()));
    ASSERT_TRUE(c.start(session("facade-tcp")).has_value());
    auto online = c.wait_online(30s);
    ASSERT_TRUE(online.has_value()) << host::describe(online.error());
    test::MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("tcp", 1));
    auto r = c.publish("tcp", ByteView("over tcp"), {1}, 30s);
    ASSERT_TRUE(r.has_value()) << host::describe(r.error());
    auto m = peer.wait_message("tcp", 10s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->payload, "over tcp");
}

}  // namespace
}  // namespace qmtkit::e2e
