// The client's memory configurations against the emulator's module model, in-process under
// virtual time: CompactConfig end to end, an empty payload, a transport reset, an OutboxStore.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "model_rig.hpp"

using namespace qmtkit;
using namespace qmtkit::qmt;

namespace {

struct Rec final : Listener {
    std::vector<std::pair<std::uint32_t, bool>> published;  // ticket, ok
    std::vector<Error> bringup_errors;
    std::vector<std::string> messages;
    std::vector<std::size_t> dropped;
    int subscribed = 0;
    void on_published(std::uint32_t t, const Result<PublishReport>& r) override {
        published.emplace_back(t, r.has_value());
    }
    void on_bringup_error(LinkState, const ClientError& e) override {
        bringup_errors.push_back(e.code);
    }
    void on_subscribed(std::uint32_t, const Result<SubscribeReport>& r) override {
        subscribed += r ? 1 : 0;
    }
    void on_message(const Message& m) override { messages.emplace_back(m.payload.as_text()); }
    void on_message_dropped(const DroppedMessage& m) override { dropped.push_back(m.size); }
    std::size_t acked() const {
        std::size_t n = 0;
        for (const auto& p : published) n += p.second ? 1u : 0u;
        return n;
    }
};

ByteView bv(const std::string& s) {
    return ByteView(std::string_view(s));
}

TEST(CompactConfig, EndToEndWithTheModuleModel) {
    Rec rec;
    bc28sim::Options opt;
    opt.rtt_ms = 200;  // acknowledgements take a while: the window fills
    test::ModelRig<CompactConfig> rig(rec, opt);
    ASSERT_TRUE(rig.bring_up());
    ASSERT_TRUE(rig.client.subscribe("cmd/#", 1));
    ASSERT_TRUE(rig.run_until([&] { return rec.subscribed == 1; }));

    // 1 KB does not fit a 1 KB outbox with its header: refused up front, nothing written.
    const std::string kilo(1024, 'k');
    auto big = rig.client.publish("t/big", bv(kilo));
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code, Error::payload_too_long);

    // 30 readings of 120 B: the outbox holds a few at a time, refusing the rest as queue_full
    // until room frees; every one is delivered, in order, through the full window.
    const std::string reading(120, 'r');
    std::size_t queued = 0;
    bool saw_full = false;
    ASSERT_TRUE(rig.run_until([&] {
        while (queued < 30) {
            auto r = rig.client.publish("dev/telemetry", bv(reading), {1});
            if (!r) {
                EXPECT_EQ(r.error().code, Error::queue_full);
                saw_full = true;
                break;
            }
            ++queued;
        }
        return rec.acked() == 30;
    }));
    EXPECT_TRUE(saw_full);
    EXPECT_EQ(rig.client.stats().max_in_flight, 5u);
    ASSERT_EQ(rig.net.pubs.size(), 30u);
    EXPECT_EQ(rig.client.outbox(), 0u);

    // Incoming: 256 B fits the compact line buffer; 600 B is reported dropped, never lost.
    rig.net.ev->net_message(1, "cmd/a", std::string(256, 'a'), 1, false);
    rig.net.ev->net_message(2, "cmd/b", std::string(600, 'b'), 1, false);
    rig.net.ev->net_message(3, "cmd/c", "small", 1, false);
    ASSERT_TRUE(
        rig.run_until([&] { return rec.messages.size() + rec.dropped.size() == 3; }, 10000));
    ASSERT_EQ(rec.messages.size(), 2u);
    EXPECT_EQ(rec.messages[0], std::string(256, 'a'));
    EXPECT_EQ(rec.messages[1], "small");
    EXPECT_EQ(rec.dropped, (std::vector<std::size_t>{600}));
}

// CompactConfig::session_bytes holds a realistic cloud session, the Tencent token included, and
// every string reads back as configured.
TEST(CompactConfig, SessionPoolHoldsRealisticAliyunAndTencentSessions) {
    char pool[CompactConfig::session_bytes];
    detail::SessionStore store(pool, sizeof(pool));

    Session ali;
    ali.host = "a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com";  // 47 B
    ali.port = 1883;
    ali.client_id = "greenhouse-sensor-0001";
    ali.use_aliauth = true;
    ali.aliauth.product_key = "a1B2c3D4e5F";
    ali.aliauth.device_name = "greenhouse-sensor-0001";
    ali.aliauth.device_secret = "4fK9sQ2mZx7Lp0Vb8Nw3Rt6Yh1Jd5Gc2";  // 32 B
    ASSERT_TRUE(store.assign(ali));
    EXPECT_EQ(store.host(), ali.host);
    EXPECT_EQ(store.client_id(), ali.client_id);
    EXPECT_TRUE(store.use_aliauth());
    EXPECT_EQ(store.aliauth().product_key, ali.aliauth.product_key);
    EXPECT_EQ(store.aliauth().device_name, ali.aliauth.device_name);
    EXPECT_EQ(store.aliauth().device_secret, ali.aliauth.device_secret);
    EXPECT_FALSE(store.use_tenauth());
    EXPECT_GE(store.spare_bytes(), 64u);  // room left for a low-level query's line

    Session ten;
    ten.host = "ABCDE12345.iotcloud.tencentdevices.com";  // 38 B
    ten.port = 1883;
    ten.client_id = "ABCDE12345greenhouse-sensor-0001";
    ten.use_tenauth = true;
    ten.tenauth.product_id = "ABCDE12345";
    ten.tenauth.device_name = "greenhouse-sensor-0001";
    ten.tenauth.device_secret = "dGhpcy1pcy1hLTMyLWJ5dGUtZGV2aWNlLXNlY3JldCE=";  // 44 B
    ten.tenauth.expire_days = 30;
    ASSERT_TRUE(store.assign(ten));
    EXPECT_FALSE(store.use_aliauth());
    EXPECT_EQ(store.host(), ten.host);
    EXPECT_EQ(store.client_id(), ten.client_id);
    EXPECT_EQ(store.tenauth().product_id, ten.tenauth.product_id);
    EXPECT_EQ(store.tenauth().device_name, ten.tenauth.device_name);
    EXPECT_EQ(store.tenauth().device_secret, ten.tenauth.device_secret);
    EXPECT_EQ(store.tenauth().expire_days, 30);
    // The token's password, HMAC-SHA256 in hex and its method: 75 B.
    const std::string token = std::string(64, 'a') + ";hmacsha256";
    ASSERT_TRUE(store.set_token(token));
    EXPECT_EQ(store.password(), token);
    EXPECT_EQ(store.host(), ten.host);  // the token goes after the strings
    EXPECT_EQ(store.tenauth().device_secret, ten.tenauth.device_secret);

    // And through the client.
    struct Quiet final : Listener {
    } quiet;
    struct Sink final : at::Writer {
        std::size_t write(const std::uint8_t*, std::size_t n) override { return n; }
    } sink;
    Client<CompactConfig> client(sink, quiet);
    EXPECT_TRUE(client.configure(ali));
    EXPECT_TRUE(client.configure(ten));
}

TEST(EmptyPayload, GoesInVariableLengthForm) {
    Rec rec;
    test::ModelRig<> rig(rec);
    ASSERT_TRUE(rig.bring_up());
    auto t = rig.client.publish("t/empty", ByteView{}, {1});
    ASSERT_TRUE(t);
    ASSERT_TRUE(rig.run_until([&] { return rec.acked() == 1; }));
    ASSERT_EQ(rig.net.pubs.size(), 1u);
    EXPECT_EQ(rig.net.pubs[0].payload, "");
    auto fixed = rig.client.publish("t/empty", ByteView{}, {1, false, PayloadForm::fixed_length});
    ASSERT_FALSE(fixed);
    EXPECT_EQ(fixed.error().code, Error::payload_empty);
}

TEST(TransportReset, AbortsTheWireKeepsTheOutboxAndReportsNoAbortedStep) {
    Rec rec;
    test::ModelRig<> rig(rec);
    ASSERT_TRUE(rig.bring_up());
    rig.net.auto_ack = false;  // the broker sits on them: three in flight
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(rig.client.publish("t", bv("m"), {1}));
    ASSERT_TRUE(rig.run_until([&] { return rig.net.pubs.size() == 3; }, 10000))
        << rig.client.in_flight() << " " << rig.client.outbox() << " " << rig.net.pubs.size();
    rig.net.auto_ack = true;
    const auto sessions = rig.client.stats().sessions;

    // The old port died in the middle of a +QMTRECV: its half must not prefix the new port's
    // bytes (a claim that swallowed them would build a bogus message or a malformed one).
    const std::string half = "\r\n+QMTRECV: 0,5,\"cmd/x\",\"half a pay";
    rig.client.feed(reinterpret_cast<const std::uint8_t*>(half.data()), half.size(), rig.now);
    rig.client.transport_reset(rig.now);  // the port was reopened
    EXPECT_EQ(rig.client.state(), LinkState::syncing);
    EXPECT_EQ(rig.client.outbox(), 3u);
    ASSERT_TRUE(rig.run_until([&] { return rec.acked() == 3; }))
        << to_string(rig.client.state()) << " errors " << rec.bringup_errors.size() << " first "
        << (rec.bringup_errors.empty() ? "-" : to_string(rec.bringup_errors[0])) << " published "
        << rec.published.size() << " net " << rig.net.pubs.size();
    EXPECT_EQ(rig.client.stats().sessions, sessions + 1);
    for (Error e : rec.bringup_errors) EXPECT_NE(e, Error::aborted);
    EXPECT_TRUE(rec.messages.empty());
    EXPECT_TRUE(rec.dropped.empty());
    EXPECT_EQ(rig.client.stats().malformed, 0u);
}

// An OutboxStore in memory, for the tests: records by id, optionally bounded.
struct MemStore final : OutboxStore {
    struct Record {
        std::uint8_t qos;
        bool retain, fixed;
        std::string topic, payload;
    };
    std::map<std::uint32_t, Record> records;
    std::uint32_t next_id = 1;
    std::size_t max = 1000;
    std::vector<std::uint32_t> released;

    Expected<std::uint32_t, StoreError> append(const StoredMessage& m) override {
        if (records.size() >= max) return unexpected(StoreError::full);
        records[next_id] = {m.qos, m.retain, m.fixed, std::string(m.topic),
                            std::string(m.payload.as_text())};
        return next_id++;
    }
    void release(std::uint32_t id) override {
        released.push_back(id);
        records.erase(id);
    }
    bool next(std::uint32_t after, StoredMessage& out, char* topic_buf, std::size_t topic_cap,
              std::uint8_t* payload_buf, std::size_t payload_cap) override {
        auto it = records.upper_bound(after);
        if (it == records.end()) return false;
        const Record& r = it->second;
        out.id = it->first;
        out.qos = r.qos;
        out.retain = r.retain;
        out.fixed = r.fixed;
        out.topic_size = r.topic.size();
        out.payload_size = r.payload.size();
        if (r.topic.size() > topic_cap || r.payload.size() > payload_cap) {
            out.topic = {};  // sizes only: nothing copied
            out.payload = {};
            return true;
        }
        std::memcpy(topic_buf, r.topic.data(), r.topic.size());
        std::memcpy(payload_buf, r.payload.data(), r.payload.size());
        out.topic = std::string_view(topic_buf, r.topic.size());
        out.payload = ByteView(payload_buf, r.payload.size());
        return true;
    }
};

TEST(OutboxStoreHook, WhatAPreviousRunLeftIsSentFirstInOrder) {
    MemStore store;
    StoredMessage a;
    a.topic = "t/old";
    a.payload = ByteView(std::string_view("one"));
    ASSERT_TRUE(store.append(a));
    a.payload = ByteView(std::string_view("two"));
    ASSERT_TRUE(store.append(a));

    Rec rec;
    test::ModelRig<> rig(rec);
    rig.client.set_store(&store);
    ASSERT_TRUE(rig.client.configure(test::ModelRig<>::session()));
    auto fresh = rig.client.publish("t/new", bv("three"), {1});  // before start(): behind them
    ASSERT_TRUE(fresh);
    EXPECT_EQ(*fresh, 3u);
    ASSERT_TRUE(rig.client.start(rig.now));
    ASSERT_TRUE(rig.run_until([&] { return rec.acked() == 3; }));
    ASSERT_EQ(rig.net.pubs.size(), 3u);
    EXPECT_EQ(rig.net.pubs[0].payload, "one");
    EXPECT_EQ(rig.net.pubs[1].payload, "two");
    EXPECT_EQ(rig.net.pubs[2].payload, "three");
    EXPECT_EQ(rec.published[0].first, 1u);  // the store's ids are the tickets
    EXPECT_EQ(rec.published[1].first, 2u);
    EXPECT_EQ(rec.published[2].first, 3u);
    EXPECT_TRUE(store.records.empty());
    EXPECT_EQ(store.released, (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST(OutboxStoreHook, MessagesWaitInTheStoreWhileTheOutboxIsFull) {
    MemStore store;
    Rec rec;
    test::ModelRig<CompactConfig> rig(rec);
    rig.client.set_store(&store);
    ASSERT_TRUE(rig.bring_up());
    rig.net.auto_ack = false;
    // 300 B each: three fill the compact outbox; the rest are accepted into the store.
    std::vector<std::uint32_t> tickets;
    for (int i = 0; i < 12; ++i) {
        auto t = rig.client.publish("t", bv(std::string(300, static_cast<char>('a' + i))), {1});
        ASSERT_TRUE(t) << i;
        tickets.push_back(*t);
    }
    EXPECT_EQ(rig.client.outbox(), 12u);
    auto q0 = rig.client.publish("t", bv(std::string(900, 'z')), {0});  // QoS 0: RAM only
    ASSERT_FALSE(q0);
    EXPECT_EQ(q0.error().code, Error::queue_full);
    EXPECT_EQ(store.records.size(), 12u);
    rig.net.auto_ack = true;
    // The broker acknowledges what it held; then everything flows.
    for (const auto& p : std::vector<bc28sim::test::FakeNetwork::Published>(rig.net.pubs))
        rig.net.ev->net_published(p.op);
    ASSERT_TRUE(rig.run_until([&] { return rec.acked() == 12; }));
    ASSERT_EQ(rig.net.pubs.size(), 12u);
    for (int i = 0; i < 12; ++i)
        EXPECT_EQ(rig.net.pubs[static_cast<std::size_t>(i)].payload[0], 'a' + i) << i;
    for (int i = 0; i < 12; ++i)
        EXPECT_EQ(rec.published[static_cast<std::size_t>(i)].first,
                  tickets[static_cast<std::size_t>(i)]);
    EXPECT_TRUE(store.records.empty());

    store.max = 0;  // a full store: the message stays with the caller
    auto full = rig.client.publish("t", bv("x"), {1});
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code, Error::queue_full);
    EXPECT_TRUE(rig.client.publish("t", bv("x"), {0}));  // QoS 0 never touches the store
}

}  // namespace
