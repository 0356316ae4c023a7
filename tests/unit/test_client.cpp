// The QMT client and its supervisor under virtual time, against the in-process FakeModule.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "fake_module.hpp"

using namespace qmtkit;
using namespace qmtkit::qmt;

namespace {

struct Events final : Listener {
    std::vector<LinkState> states;
    std::vector<StatCode> stats;
    std::map<std::uint32_t, Result<PublishReport>> published;
    std::vector<std::pair<std::string, std::string>> messages;
    std::vector<Result<SubscribeReport>> subscribed;
    std::vector<Result<Reply>> replies;
    void on_link(LinkState s) override { states.push_back(s); }
    void on_stat(StatCode c) override { stats.push_back(c); }
    void on_published(std::uint32_t t, const Result<PublishReport>& r) override {
        published.emplace(t, r);
    }
    void on_message(const Message& m) override {
        messages.emplace_back(std::string(m.topic), std::string(m.payload.as_text()));
    }
    void on_subscribed(std::uint32_t, const Result<SubscribeReport>& r) override {
        subscribed.push_back(r);
    }
    void on_reply(std::uint32_t, const Result<Reply>& r) override { replies.push_back(r); }
};

Session basic_session() {
    Session s;
    s.host = "broker.local";
    s.port = 1883;
    s.client_id = "dev-1";
    s.username = "user";
    s.password = "s3cret";
    return s;
}

struct ClientTest : ::testing::Test {
    Instant now = 0;
    test::FakeModule module{now};
    Events ev;
    Client<> client{module, ev};

    void bring_up(const Session& s = basic_session()) {
        ASSERT_TRUE(client.configure(s));
        ASSERT_TRUE(client.start(now));
        ASSERT_TRUE(run([&] { return client.online(); }, 30000)) << to_string(client.state());
    }
    template <class Done>
    bool run(Done done, Millis budget = 60000) {
        return test::run_until(client, module, now, now + budget, done);
    }
};

TEST_F(ClientTest, BringUpSendsTheNotesSequence) {
    Session s = basic_session();
    s.settings.keepalive_s = 60;
    s.settings.timeout_notice = true;
    bring_up(s);
    const std::vector<std::string> expected = {
        "AT",
        "ATE0",
        "AT+CMEE=1",
        "AT+QMTCFG=\"version\",0,4",
        "AT+QMTCFG=\"keepalive\",0,60",
        "AT+QMTCFG=\"session\",0,1",
        "AT+QMTCFG=\"timeout\",0,10,3,1",
        "AT+QMTCFG=\"will\",0,0",
        "AT+CGATT?",
        "AT+QMTOPEN=0,\"broker.local\",1883",
        "AT+QMTCONN=0,\"dev-1\",\"user\",\"s3cret\"",
    };
    EXPECT_EQ(module.commands, expected);
    EXPECT_EQ(ev.states.back(), LinkState::online);
    EXPECT_EQ(client.stats().sessions, 1u);
}

// Restoring subscriptions does not hold publishing back: the PUB goes out behind the SUB (so the
// broker still sees SUBSCRIBE first), before the SUBACK, and the first message costs the three
// round trips the protocol needs (OPEN, CONNECT, PUBLISH), not four.
TEST_F(ClientTest, FirstPublishDoesNotWaitForTheSubscriptionResults) {
    ASSERT_TRUE(client.configure(basic_session()));
    ASSERT_TRUE(client.subscribe("cmd/#", 1));
    ASSERT_TRUE(client.publish("t/x", ByteView(std::string_view("first")), {1}));
    module.network_delay = 1000;
    ASSERT_TRUE(client.start(now));
    ASSERT_TRUE(run([&] { return module.count("AT+QMTPUB=0,") == 1; }));
    EXPECT_EQ(client.state(), LinkState::subscribing);
    EXPECT_TRUE(ev.subscribed.empty()) << "the PUB waited for the SUBACK";
    const auto at = [&](std::string_view prefix) {
        return std::find_if(module.commands.begin(), module.commands.end(),
                            [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
    };
    EXPECT_LT(at("AT+QMTSUB=0,"), at("AT+QMTPUB=0,")) << "SUBSCRIBE must reach the broker first";
    ASSERT_TRUE(run([&] { return ev.published.size() == 1 && ev.subscribed.size() == 1; }));
    ASSERT_TRUE(ev.published.begin()->second);
    EXPECT_TRUE(client.online());
}

// A link that dies without +QMTSTAT while the session's SUB and PUBs are in flight: nothing is
// reported failed, the subscription is made again and the publish delivered on the next session.
TEST_F(ClientTest, SilentDropWithTheSubscriptionInFlightLosesNeither) {
    ASSERT_TRUE(client.configure(basic_session()));
    ASSERT_TRUE(client.subscribe("cmd/#", 1));
    ASSERT_TRUE(client.publish("t/x", ByteView(std::string_view("kept")), {1}));
    module.network_delay = 1000;
    ASSERT_TRUE(client.start(now));
    ASSERT_TRUE(run([&] { return module.count("AT+QMTPUB=0,") == 1; }));
    module.silent_drop();
    module.network_delay = 200;
    ASSERT_TRUE(run([&] { return ev.published.size() == 1 && ev.subscribed.size() == 1; }, 180000));
    ASSERT_TRUE(ev.subscribed[0]) << to_string(ev.subscribed[0].error().code);
    ASSERT_TRUE(ev.published.begin()->second)
        << to_string(ev.published.begin()->second.error().code);
    EXPECT_GE(module.count("AT+QMTSUB=0,"), 2);
}

TEST_F(ClientTest, WindowStaysFullButNeverExceedsFive) {
    bring_up();
    std::vector<std::uint32_t> tickets;
    int sent = 0;
    // Keep the outbox topped up, the way `qmtkit pub -l` does.
    ASSERT_TRUE(run([&] {
        while (sent < 40) {
            std::string p = "msg " + std::to_string(sent);
            auto r = client.publish("t/x", ByteView(p), {1});
            if (!r) break;
            tickets.push_back(*r);
            ++sent;
        }
        return ev.published.size() == 40;
    }));
    EXPECT_EQ(module.max_in_flight, 5u);
    EXPECT_EQ(module.busy_answers, 0);
    EXPECT_EQ(client.stats().max_in_flight, 5u);
    ASSERT_EQ(module.published.size(), 40u);
    for (int i = 0; i < 40; ++i)
        EXPECT_EQ(module.published[static_cast<std::size_t>(i)].payload,
                  "msg " + std::to_string(i));
    std::set<std::uint16_t> ids;
    for (auto& [t, r] : ev.published) {
        ASSERT_TRUE(r) << to_string(r.error().code);
        ids.insert(r->msg_id);
    }
    EXPECT_EQ(ids.size(), 40u);  // unique msgIDs
}

TEST_F(ClientTest, Cme159IsBackPressureNotFailure) {
    bring_up();
    module.window = 2;  // a module busier than the note promises
    for (int i = 0; i < 6; ++i)
        ASSERT_TRUE(client.publish("t", ByteView(std::string_view("p")), {1}));
    ASSERT_TRUE(run([&] { return ev.published.size() == 6; }));
    EXPECT_GT(module.busy_answers, 0);
    EXPECT_GT(client.stats().backpressure, 0u);
    for (auto& [t, r] : ev.published) EXPECT_TRUE(r);
    EXPECT_EQ(module.published.size(), 6u);
}

TEST_F(ClientTest, LinkDropResendsUnacknowledgedQos1InOrder) {
    bring_up();
    module.network_delay = 5000;  // results are slow: publishes are in flight when the link drops
    for (int i = 0; i < 5; ++i) {
        std::string p = "m" + std::to_string(i);
        ASSERT_TRUE(client.publish("t", ByteView(p), {1}));
    }
    ASSERT_TRUE(run([&] { return module.in_flight == 5; }));
    module.drop_link(1);
    module.network_delay = 200;
    ASSERT_TRUE(run([&] { return ev.published.size() == 5; }));
    ASSERT_EQ(ev.stats.size(), 1u);
    EXPECT_EQ(ev.stats[0], StatCode::closed_by_peer);
    ASSERT_EQ(module.published.size(), 5u);
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(module.published[static_cast<std::size_t>(i)].payload, "m" + std::to_string(i));
    EXPECT_EQ(client.stats().resent, 5u);
    EXPECT_EQ(client.stats().sessions, 2u);
    EXPECT_EQ(module.count("AT+QMTOPEN="), 2);
}

TEST_F(ClientTest, RebootReappliesEverySettingAndResends) {
    Session s = basic_session();
    s.has_will = true;
    s.will = Will{1, true, "dev/status", "offline"};
    bring_up(s);
    ASSERT_TRUE(client.subscribe("cmd/#", 1));
    ASSERT_TRUE(run([&] { return ev.subscribed.size() == 1; }));
    module.network_delay = 5000;
    ASSERT_TRUE(client.publish("t", ByteView(std::string_view("keep me")), {2}));
    ASSERT_TRUE(run([&] { return module.in_flight == 1; }));
    module.reboot();
    module.network_delay = 200;
    ASSERT_TRUE(run([&] { return ev.published.size() == 1 && client.online(); }));
    EXPECT_EQ(client.stats().reboots, 1u);
    EXPECT_EQ(module.count("AT+QMTCFG=\"will\",0,1,1,1,\"dev/status\",\"offline\""), 2);
    EXPECT_EQ(module.count("AT+QMTSUB=0,"), 2);  // resubscribed
    ASSERT_EQ(module.published.size(), 1u);
    EXPECT_EQ(module.published[0].payload, "keep me");
    EXPECT_EQ(module.published[0].qos, 2);
}

TEST_F(ClientTest, BinaryPayloadGoesFixedLength) {
    bring_up();
    std::string bin;
    for (int b = 0; b < 256; ++b) bin += static_cast<char>(b);
    ASSERT_TRUE(client.publish("bin", ByteView(bin), {1}));
    ASSERT_TRUE(client.publish("txt", ByteView(std::string_view("plain, text")), {0}));
    ASSERT_TRUE(run([&] { return ev.published.size() == 2; }));
    ASSERT_EQ(module.published.size(), 2u);
    EXPECT_TRUE(module.published[0].fixed);
    EXPECT_EQ(module.published[0].payload, bin);
    EXPECT_FALSE(module.published[1].fixed);
    EXPECT_EQ(module.published[1].msg_id, 0);  // QoS 0 uses msgID 0
    EXPECT_EQ(module.count("AT+QMTPUB=0,1,1,0,\"bin\",256"), 1);
}

TEST_F(ClientTest, IncomingMessagesDispatchByFilter) {
    bring_up();
    std::vector<std::string> cmds;
    auto on_cmd = [&](const Message& m) { cmds.emplace_back(m.payload.as_text()); };
    ASSERT_TRUE(client.subscribe("dev/+/cmd", 1, MessageHandler::from(on_cmd)));
    ASSERT_TRUE(run([&] { return ev.subscribed.size() == 1; }));
    ASSERT_TRUE(ev.subscribed[0]);
    EXPECT_EQ(ev.subscribed[0]->granted_qos, 1);
    module.emit(1, "\r\n+QMTRECV: 0,3,\"dev/7/cmd\",reboot, now \"please\"\r\nsecond line\r\n");
    module.emit(300, "\r\n+QMTRECV: 0,0,\"other/x\",\"quoted, payload\"\r\n");
    ASSERT_TRUE(run([&] { return client.stats().received == 2; }));
    ASSERT_EQ(cmds.size(), 1u);
    EXPECT_EQ(cmds[0], "reboot, now \"please\"\r\nsecond line");
    ASSERT_EQ(ev.messages.size(), 1u);
    EXPECT_EQ(ev.messages[0].first, "other/x");
    EXPECT_EQ(ev.messages[0].second, "quoted, payload");
}

TEST_F(ClientTest, RefusedConnectionBacksOffAndRetries) {
    module.conn_ret = 4;  // bad user name or password
    ASSERT_TRUE(client.configure(basic_session()));
    ASSERT_TRUE(client.start(now));
    ASSERT_TRUE(run([&] { return module.count("AT+QMTCONN=") >= 3; }, 120000));
    EXPECT_FALSE(client.online());
    // Backing off between attempts: the three CONNECTs are spread over seconds, not milliseconds.
    EXPECT_GE(now, 2000u);
    module.conn_ret = 0;
    ASSERT_TRUE(run([&] { return client.online(); }, 120000));
}

TEST_F(ClientTest, IdentifierOccupiedClosesThenReopens) {
    int opens = 0;
    module.intercept = [&](const std::string& cmd) {
        if (cmd.rfind("AT+QMTOPEN=", 0) == 0 && opens++ == 0) {
            module.line(10, "OK");
            module.line(50, "+QMTOPEN: 0,2");
            return true;
        }
        return false;
    };
    bring_up();
    EXPECT_EQ(module.count("AT+QMTCLOSE=0"), 1);
    EXPECT_EQ(module.count("AT+QMTOPEN="), 2);
}

TEST_F(ClientTest, TencentTokenFlowProbesSpellingAndUsesTheToken) {
    module.knows_tenauth_double_t = false;
    Session s = basic_session();
    s.username = "pid1dev1";
    s.password = {};
    s.use_tenauth = true;
    s.tenauth = TenAuth{"pid1", "dev1", "devsecret", 30, {}};
    bring_up(s);
    EXPECT_EQ(module.count("AT+QMTTENAUTH=?"), 1);
    EXPECT_EQ(module.count("AT+QMTENAUTH=?"), 0);
    EXPECT_EQ(module.count("AT+QMTENAUTH=\"pid1\",\"dev1\",\"pid1@dev1\",\"devsecret\",30"), 1);
    EXPECT_EQ(module.count("AT+QMTCONN=0,\"dev-1\",\"pid1dev1\",\"tok-123\""), 1);
}

TEST_F(ClientTest, StopDisconnectsAndCloses) {
    bring_up();
    client.stop();
    ASSERT_TRUE(run([&] { return client.state() == LinkState::stopped; }));
    EXPECT_EQ(module.count("AT+QMTDISC=0"), 1);
    EXPECT_EQ(module.count("AT+QMTCLOSE=0"), 1);
}

TEST_F(ClientTest, LowLevelRepliesAreTyped) {
    module.open_result = 4;
    ASSERT_TRUE(client.open("no.such.host", 1883));
    ASSERT_TRUE(run([&] { return ev.replies.size() == 1; }));
    ASSERT_FALSE(ev.replies[0]);
    EXPECT_EQ(ev.replies[0].error().code, Error::open_failed);
    EXPECT_EQ(ev.replies[0].error().value, static_cast<int>(OpenResult::dns_failed));
    module.conn_ret = 5;
    ASSERT_TRUE(client.connect("id"));
    ASSERT_TRUE(run([&] { return ev.replies.size() == 2; }));
    ASSERT_FALSE(ev.replies[1]);
    EXPECT_EQ(ev.replies[1].error().code, Error::connect_refused);
    EXPECT_EQ(ev.replies[1].error().value, static_cast<int>(ConnectReturn::not_authorized));
}

TEST(TopicMatch, WildcardsFollowMqtt311) {
    EXPECT_TRUE(topic_matches("a/+/c", "a/b/c"));
    EXPECT_FALSE(topic_matches("a/+/c", "a/b/d"));
    EXPECT_TRUE(topic_matches("a/#", "a"));
    EXPECT_TRUE(topic_matches("a/#", "a/b/c"));
    EXPECT_TRUE(topic_matches("#", "x/y"));
    EXPECT_FALSE(topic_matches("#", "$SYS/x"));
    EXPECT_TRUE(topic_matches("+/+", "a/"));
    EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
    EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
    EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
}

}  // namespace

namespace {
TEST_F(ClientTest, TokenWithoutUsernameLetsTheModuleSignConnect) {
    Session s = basic_session();
    s.username = {};
    s.password = {};
    s.use_tenauth = true;
    s.tenauth = TenAuth{"pid1", "dev1", "devsecret", 60, "http://127.0.0.1:8080/token"};
    bring_up(s);
    EXPECT_EQ(module.count("AT+QMTTENAUTH=\"pid1\",\"dev1\",\"pid1@dev1\",\"devsecret\",60,\"http:/"
                           "/127.0.0.1:8080/token\""),
              1);
    EXPECT_EQ(module.count("AT+QMTCONN=0,\"dev-1\""), 1);
    EXPECT_EQ(module.commands.back(), "AT+QMTCONN=0,\"dev-1\"");
}
}  // namespace

namespace {
TEST_F(ClientTest, LostAnswerIsProbedAndThePublishSentAgain) {
    bring_up();
    bool swallowed = false;
    module.intercept = [&](const std::string& cmd) {
        if (!swallowed && cmd.rfind("AT+QMTPUB=", 0) == 0) {
            swallowed = true;  // the module never answers this one: no prompt, no OK
            return true;
        }
        return false;
    };
    ASSERT_TRUE(client.publish("t", ByteView(std::string_view("again")), {1}));
    ASSERT_TRUE(run([&] { return ev.published.size() == 1; }));
    ASSERT_TRUE(ev.published.begin()->second);
    // The engine let the line settle (ESC, then its own probe); the supervisor asked for the
    // link once, was told "connected" and stayed online.
    EXPECT_EQ(module.count("AT+QMTCONN?"), 1);
    EXPECT_EQ(client.engine().counters().settles, 1u);
    EXPECT_EQ(client.stats().sessions, 1u);
    ASSERT_EQ(module.published.size(), 1u);
    EXPECT_EQ(module.published[0].payload, "again");
}

TEST_F(ClientTest, SilentModuleIsDetectedAndTheOutboxSurvives) {
    bring_up();
    bool dead = true;
    module.intercept = [&](const std::string&) { return dead; };  // answers nothing at all
    ASSERT_TRUE(client.publish("t", ByteView(std::string_view("kept")), {1}));
    ASSERT_TRUE(run([&] {
        return client.state() == LinkState::backing_off || client.state() == LinkState::syncing;
    }));
    EXPECT_FALSE(client.online());
    dead = false;  // the module comes back
    ASSERT_TRUE(run([&] { return ev.published.size() == 1; }, 120000));
    ASSERT_TRUE(ev.published.begin()->second);
    EXPECT_EQ(client.stats().sessions, 2u);
    ASSERT_EQ(module.published.size(), 1u);
    EXPECT_EQ(module.published[0].payload, "kept");
}

// An engine whose command pool holds one publish line at a time (and the bring-up's longest).
struct TightPoolConfig : ClientConfig {
    struct Engine : ClientConfig::Engine {
        static constexpr std::size_t command_pool = 96;
    };
};

struct CommandPool : ::testing::Test {
    Instant now = 0;
    test::FakeModule module{now};
    Events ev;
    Client<TightPoolConfig> client{module, ev};

    void SetUp() override {
        ASSERT_TRUE(client.configure(basic_session()));
        ASSERT_TRUE(client.start(now));
        ASSERT_TRUE(run([&] { return client.online(); }));
    }
    template <class Done>
    bool run(Done done) {
        return test::run_until(client, module, now, now + 30000, done);
    }
};

TEST_F(CommandPool, PublishStalledByAFullPoolIsSentLaterNotFailed) {
    // AT+QMTPUB=0,<id>,1,0,"<50-byte topic>" CR: 70 B; a second one does not fit behind it.
    const std::string topic(50, 't');
    for (int i = 0; i < 3; ++i) {
        const std::string p = "p" + std::to_string(i);
        ASSERT_TRUE(client.publish(topic, ByteView(std::string_view(p)), {1}));
    }
    // The engine refused the second submit (queue_full): the outbox keeps it queued.
    EXPECT_EQ(client.engine().queued(), 1u);
    EXPECT_EQ(client.in_flight(), 1u);
    EXPECT_EQ(client.outbox(), 3u);
    // Each is sent once the command before it has ended, none fails.
    ASSERT_TRUE(run([&] { return ev.published.size() == 3; }));
    for (auto& [t, r] : ev.published) EXPECT_TRUE(r) << to_string(r.error().code);
    ASSERT_EQ(module.published.size(), 3u);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(module.published[static_cast<std::size_t>(i)].payload, "p" + std::to_string(i));
    EXPECT_GE(module.max_in_flight, 2u);  // results still overlap: only the lines wait
}

TEST_F(CommandPool, PublishWhoseLineCanNeverFitFailsAndTheRestGoOn) {
    auto big = client.publish(std::string(100, 'b'), ByteView(std::string_view("x")), {1});
    ASSERT_TRUE(big);  // the outbox takes it; its command line is longer than the pool
    auto small = client.publish("t", ByteView(std::string_view("y")), {1});
    ASSERT_TRUE(small);
    ASSERT_TRUE(run([&] { return ev.published.size() == 2; }));
    ASSERT_FALSE(ev.published.at(*big));
    EXPECT_EQ(ev.published.at(*big).error().code, Error::field_too_long);
    EXPECT_TRUE(ev.published.at(*small));
    ASSERT_EQ(module.published.size(), 1u);
    EXPECT_EQ(module.published[0].payload, "y");
}
}  // namespace
