// The client under the timing real modules produce (issue 8), against the in-process FakeModule:
// a late result while the re-send waits for its prompt, a prompt that never comes, and a link
// that dies without +QMTSTAT (CME 3, results that never come). Virtual time.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "fake_module.hpp"

using namespace qmtkit;
using namespace qmtkit::qmt;

namespace {

// Every AT+QMTPUB line on the wire with the payload bytes written after it (up to Ctrl-Z/ESC).
struct WirePub {
    std::string line;
    std::string payload;
    char end;  // 0x1A sent, 0x1B cancelled, 0 none yet
};
std::vector<WirePub> pubs_on_wire(const std::string& wire) {
    std::vector<WirePub> out;
    std::size_t i = 0;
    while ((i = wire.find("AT+QMTPUB=", i)) != std::string::npos) {
        const std::size_t cr = wire.find('\r', i);
        WirePub p{wire.substr(i, cr - i), {}, 0};
        std::size_t j = cr + 1;
        while (j < wire.size() && wire[j] != 0x1A && wire[j] != 0x1B &&
               wire.compare(j, 2, "AT") != 0)
            p.payload += wire[j++];
        if (j < wire.size() && (wire[j] == 0x1A || wire[j] == 0x1B)) p.end = wire[j];
        out.push_back(p);
        i = j;
    }
    return out;
}

struct Rec final : Listener {
    std::function<void(std::uint32_t)> published_hook;
    std::map<std::uint32_t, std::vector<Result<PublishReport>>> published;
    std::vector<ClientError> bringup_errors;
    // Per ticket: +1 for a success, +100 for an error.
    std::map<std::uint32_t, int> subscribed, unsubscribed;
    void on_published(std::uint32_t t, const Result<PublishReport>& r) override {
        published[t].push_back(r);
        if (published_hook) published_hook(t);
    }
    void on_subscribed(std::uint32_t t, const Result<SubscribeReport>& r) override {
        subscribed[t] += r ? 1 : 100;
    }
    void on_unsubscribed(std::uint32_t t, const Result<void>& r) override {
        unsubscribed[t] += r ? 1 : 100;
    }
    void on_bringup_error(LinkState, const ClientError& e) override { bringup_errors.push_back(e); }
};

Session session(std::uint8_t pkt_timeout_s = 10, std::uint8_t retries = 3) {
    Session s;
    s.host = "broker.local";
    s.client_id = "dev-1";
    s.settings.pkt_timeout_s = pkt_timeout_s;
    s.settings.retry_times = retries;
    return s;
}

struct ClientTiming : ::testing::Test {
    Instant now = 0;
    test::FakeModule module{now};
    Rec rec;
    Client<> client{module, rec};

    void bring_up(const Session& s) {
        ASSERT_TRUE(client.configure(s));
        ASSERT_TRUE(client.start(now));
        ASSERT_TRUE(run([&] { return client.online(); }, 30000));
    }
    template <class Done>
    bool run(Done done, Millis budget = 60000) {
        return test::run_until(client, module, now, now + budget, done);
    }
    static bool acked(const std::vector<Result<PublishReport>>& v) {
        return v.size() == 1 && v[0].has_value();
    }
};

ByteView text(const char* s) {
    return ByteView(std::string_view(s));
}

// Issue 8, finding 1, as the issue reproduces it.
TEST_F(ClientTiming, LateResultWhileTheResendWaitsForItsPromptNeverMovesAPayload) {
    bring_up(session(/*pkt_timeout_s=*/1, /*retries=*/0));  // result wait: 1 s x 1 + 2 s margin
    int pub_lines = 0;
    module.intercept = [&](const std::string& cmd) {
        if (cmd.rfind("AT+QMTPUB=", 0) != 0) return false;
        ++pub_lines;
        module.swallow_payload();
        if (pub_lines == 1) {  // "AAAA": '>' and OK, then its result is lost in the network
            module.emit(10, "\r\n>");
            module.line(20, "OK");
        } else if (pub_lines == 2) {  // the re-send: the first result arrives before its '>'
            module.line(5, "+QMTPUB: 0,1,0");
            module.emit(50, "\r\n>");
            module.line(60, "OK");
        } else {  // "BBBBBBBB" and anything else: the normal exchange
            const std::string id = cmd.substr(12, cmd.find(',', 12) - 12);
            module.emit(10, "\r\n>");
            module.line(20, "OK");
            module.line(100, "+QMTPUB: 0," + id + ",0");
        }
        return true;
    };
    std::uint32_t b = 0;
    auto a = client.publish("t/a", text("AAAA"), {1});
    ASSERT_TRUE(a);
    rec.published_hook = [&](std::uint32_t t) {
        if (t != *a || b != 0) return;
        auto r = client.publish("t/b", text("BBBBBBBB"), {1});  // as `qmtkit pub -l` does
        ASSERT_TRUE(r);
        b = *r;
    };
    ASSERT_TRUE(run([&] { return b != 0 && rec.published.count(b) > 0; }, 20000));
    EXPECT_TRUE(acked(rec.published[*a]));
    EXPECT_TRUE(acked(rec.published[b]));
    for (const WirePub& p : pubs_on_wire(module.wire)) {
        if (p.line.find("\"t/a\"") != std::string::npos)
            EXPECT_EQ(p.payload, p.end == 0x1B ? "" : "AAAA") << p.line;
        else
            EXPECT_EQ(p.payload, "BBBBBBBB") << p.line;
    }
    EXPECT_EQ(client.stats().late_results, 1u);
    EXPECT_EQ(client.outbox(), 0u);
}

TEST_F(ClientTiming, PromptThatNeverComesIsCancelledAndThePublishSentAgain) {
    bring_up(session());
    int pub_lines = 0;
    bool in_data_mode = false;
    bool command_in_data_mode = false;
    module.intercept = [&](const std::string& cmd) {
        if (in_data_mode) command_in_data_mode = true;
        if (cmd.rfind("AT+QMTPUB=", 0) != 0) return false;
        if (++pub_lines == 1) {
            // In data mode at once, the '>' lost: only ESC gets the module out (and it says OK).
            in_data_mode = true;
            module.swallow_payload();
            return true;
        }
        return false;
    };
    auto t = client.publish("t/a", text("hello"), {1});
    ASSERT_TRUE(t);
    // The engine's ESC after the prompt timeout: the module leaves data mode and answers OK.
    ASSERT_TRUE(run([&] { return module.wire.find('\x1B') != std::string::npos; }, 10000));
    in_data_mode = false;
    module.line(5, "OK");
    ASSERT_TRUE(run([&] { return rec.published.count(*t) > 0; }, 60000));
    EXPECT_TRUE(acked(rec.published[*t]));
    EXPECT_FALSE(command_in_data_mode);
    ASSERT_EQ(module.published.size(), 1u);
    EXPECT_EQ(module.published[0].payload, "hello");
}

// Issue 8, finding 3: the network detached without a +QMTSTAT; the module answers CME 3.
TEST_F(ClientTiming, CmeNotAllowedChecksTheLinkAndRecoversWithTheOutboxKept) {
    bring_up(session());
    module.silent_drop();
    module.intercept = [&](const std::string& cmd) {
        if (cmd.rfind("AT+QMTPUB=", 0) != 0 || module.connected) return false;
        module.line(10, "+CME ERROR: 3");
        return true;
    };
    std::vector<std::uint32_t> tickets;
    int next = 0;
    auto publish_next = [&] {
        const std::string payload = "m-" + std::to_string(next);
        auto t = client.publish("telemetry", ByteView(std::string_view(payload)), {1});
        if (!t) return false;  // the outbox (8) is full: again after the next completion
        tickets.push_back(*t);
        ++next;
        return true;
    };
    while (next < 20 && publish_next()) {
    }
    rec.published_hook = [&](std::uint32_t) {
        while (next < 20 && publish_next()) {
        }
    };
    ASSERT_TRUE(run([&] { return next == 20 && client.outbox() == 0; }, 120000));
    for (std::uint32_t t : tickets) EXPECT_TRUE(acked(rec.published[t])) << t;
    ASSERT_EQ(module.published.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(module.published[i].payload, "m-" + std::to_string(i));
    EXPECT_EQ(client.stats().silent_drops, 1u);
    ASSERT_FALSE(rec.bringup_errors.empty());
    EXPECT_EQ(rec.bringup_errors[0].code, Error::link_down);
    EXPECT_LE(module.count("AT+QMTPUB="), 20 + 5);  // one window of CME 3 answers, not 8 each
}

// A silent drop where the module still takes publishes and no result ever comes.
TEST_F(ClientTiming, ResultTimeoutChecksTheLinkAndNothingIsReportedFailed) {
    bring_up(session(/*pkt_timeout_s=*/1, /*retries=*/0));
    module.silent_drop();
    module.results_enabled = false;
    module.intercept = [&](const std::string& cmd) {
        if (cmd.rfind("AT+QMTCONN=", 0) == 0) module.results_enabled = true;  // back for real
        return false;
    };
    std::vector<std::uint32_t> tickets;
    for (int i = 0; i < 8; ++i) {
        auto t = client.publish("telemetry", text("x"), {1});
        ASSERT_TRUE(t);
        tickets.push_back(*t);
    }
    ASSERT_TRUE(run([&] { return client.outbox() == 0; }, 120000));
    for (std::uint32_t t : tickets) EXPECT_TRUE(acked(rec.published[t])) << t;
    EXPECT_GE(client.stats().link_checks, 1u);
    EXPECT_EQ(client.stats().silent_drops, 1u);
}

}  // namespace

namespace {
// Found by the client fuzzer: unsubscribing the only filter while its AT+QMTSUB of the bring-up
// is on the wire left the supervisor "subscribing" for good.
TEST_F(ClientTiming, UnsubscribeWhileSubscribingStillComesOnline) {
    ASSERT_TRUE(client.subscribe("cmd/#", 1));
    module.results_enabled = false;  // the SUBACK is slow: the bring-up waits in "subscribing"
    ASSERT_TRUE(client.configure(session()));
    ASSERT_TRUE(client.start(now));
    ASSERT_TRUE(run([&] { return client.state() == LinkState::subscribing; }, 30000));
    ASSERT_TRUE(client.unsubscribe("cmd/#"));
    ASSERT_TRUE(run([&] { return client.online(); }, 1000));
    auto t = client.publish("t", text("after"), {1});
    ASSERT_TRUE(t);
    module.results_enabled = true;
    ASSERT_TRUE(run([&] { return rec.published.count(*t) > 0; }, 60000));
    EXPECT_TRUE(acked(rec.published[*t]));
}

// The first SUB held unanswered, and everything queued behind it: the other SUB and five
// publishes, the engine's depth of 7.
struct HeldSub : ClientTiming {
    std::string held;

    void fill_queue_behind_held_sub() {
        module.intercept = [&](const std::string& cmd) {
            if (cmd.rfind("AT+QMTSUB=", 0) != 0 || !held.empty()) return false;
            held = cmd;
            return true;
        };
        ASSERT_TRUE(client.subscribe("a/b", 1));
        ASSERT_TRUE(client.subscribe("c/d", 0));
        for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.publish("t", text("x"), {1}));
        ASSERT_TRUE(client.configure(session()));
        ASSERT_TRUE(client.start(now));
        ASSERT_TRUE(run([&] { return !held.empty(); }, 30000));
        ASSERT_EQ(client.engine().queued(), ClientConfig::Engine::queue_depth);
    }
    void answer_held_sub() {
        const std::size_t at = std::string("AT+QMTSUB=0,").size();
        const std::string id = held.substr(at, held.find(',', at) - at);
        module.line(10, "OK");
        module.line(20, "+QMTSUB: 0," + id + ",0,1");
    }
};

// A subscription made while the engine's queue is full waits in the table. The host here polls
// only at next_deadline() and otherwise just feeds what arrives, as a host sleeping on the UART
// does: the SUB must still go out once the queue has room (found by the client harness, C6).
TEST_F(HeldSub, SubscriptionMadeWhileTheQueueIsFullGoesOutWhenThereIsRoom) {
    ASSERT_NO_FATAL_FAILURE(fill_queue_behind_held_sub());
    auto late = client.subscribe("e/f", 1);
    ASSERT_TRUE(late);
    answer_held_sub();  // from here on the host feeds, and polls only when due
    const Instant until = now + 60000;
    while (rec.subscribed.count(*late) == 0) {
        const Instant next = std::min(client.next_deadline(), module.next_due());
        ASSERT_NE(next, ~Instant{0}) << "nothing is due, yet e/f is not subscribed";
        ASSERT_LE(next, until);
        if (next > now) now = next;
        module.settle(now);
        module.deliver(client, now);
        if (client.next_deadline() <= now) client.poll(now);
    }
    EXPECT_EQ(rec.subscribed[*late], 1);
    EXPECT_EQ(module.count("AT+QMTSUB=0,"), 3);
    EXPECT_TRUE(run([&] { return client.online(); }));
}

// Unsubscribing a filter whose SUB is still queued frees its place in the engine's queue at once,
// with no line's end to say so: a subscription waiting for room takes it in the same call.
TEST_F(HeldSub, UnsubscribingAQueuedSubLetsAWaitingOneTakeItsPlace) {
    ASSERT_NO_FATAL_FAILURE(fill_queue_behind_held_sub());
    auto late = client.subscribe("e/f", 1);
    ASSERT_TRUE(late);
    auto gone = client.unsubscribe("c/d");  // still subscribing: nothing goes to the broker for it
    ASSERT_TRUE(gone);
    EXPECT_EQ(rec.unsubscribed[*gone], 1);
    // e/f's SUB is queued in c/d's place before anything more arrives from the module.
    EXPECT_EQ(client.engine().queued(), ClientConfig::Engine::queue_depth);
    answer_held_sub();
    ASSERT_TRUE(run([&] { return client.online() && rec.subscribed.count(*late) != 0; }));
    EXPECT_EQ(rec.subscribed[*late], 1);
    EXPECT_EQ(module.count("AT+QMTSUB=0,"), 2);  // a/b and e/f; c/d never went out
    for (const std::string& cmd : module.commands)
        EXPECT_EQ(cmd.find("\"c/d\""), std::string::npos);
}
}  // namespace

namespace {
// After a refused CONNECT the network is closed already: the clean-up's "+QMTCLOSE: 0,-1" is
// neither a second cause nor a second back-off.
TEST_F(ClientTiming, CloseOfAnAlreadyClosedNetworkIsNotASecondCause) {
    module.conn_ret = 5;
    module.intercept = [&](const std::string& cmd) {
        if (cmd != "AT+QMTCLOSE=0") return false;
        module.line(10, "OK");
        module.line(20, "+QMTCLOSE: 0,-1");
        return true;
    };
    std::vector<Instant> opens;
    ASSERT_TRUE(client.configure(session()));
    ASSERT_TRUE(client.start(now));
    ASSERT_TRUE(run([&] { return module.count("AT+QMTOPEN=") >= 2; }, 30000));
    ASSERT_FALSE(rec.bringup_errors.empty());
    EXPECT_EQ(rec.bringup_errors[0].code, Error::connect_refused);
    for (const ClientError& e : rec.bringup_errors) EXPECT_NE(e.code, Error::close_failed);
    EXPECT_EQ(rec.bringup_errors.size(), 1u);
}
}  // namespace

namespace {
struct DropRec final : Listener {
    std::vector<std::pair<std::string, std::size_t>> dropped;
    std::vector<std::pair<std::string, std::size_t>> messages;
    void on_message_dropped(const DroppedMessage& m) override {
        dropped.emplace_back(std::string(m.topic), m.size);
    }
    void on_message(const Message& m) override {
        messages.emplace_back(std::string(m.topic), m.payload.size);
    }
};

// A +QMTRECV longer than the engine's line buffer is skipped, but never silently: the listener
// is told its topic and size, and what follows it is parsed as usual.
TEST(ClientReceive, MessageLongerThanTheClientCanHoldIsReportedNotSilentlyDropped) {
    Instant now = 0;
    test::FakeModule module{now};
    DropRec rec;
    Client<> client{module, rec};
    Session s = session();
    s.recv_quoting = PayloadQuoting::quoted;
    ASSERT_TRUE(client.configure(s));
    ASSERT_TRUE(client.start(now));
    ASSERT_TRUE(test::run_until(client, module, now, 30000, [&] { return client.online(); }));
    const std::string big(3000, 'x');
    const std::string small = "fits";
    const std::string in = "\r\n+QMTRECV: 0,7,\"big/one\",\"" + big + "\"\r\n" +
                           "\r\n+QMTRECV: 0,8,\"small\",\"" + small + "\"\r\n";
    client.feed(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(), now);
    ASSERT_EQ(rec.dropped.size(), 1u);
    EXPECT_EQ(rec.dropped[0], (std::pair<std::string, std::size_t>{"big/one", 3000}));
    ASSERT_EQ(rec.messages.size(), 1u);
    EXPECT_EQ(rec.messages[0], (std::pair<std::string, std::size_t>{"small", 4}));
    EXPECT_EQ(client.stats().dropped, 1u);
    EXPECT_EQ(client.stats().received, 1u);
}
}  // namespace
