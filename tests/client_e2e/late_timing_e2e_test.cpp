// Late answers and a silent link loss, end to end: the SDK client (qmt::Client<> + host::Runner,
// as a gateway runs it) on bc28-sim's pty, a real mosquitto, and a subscriber on '#' that sees
// every message the broker delivers. The reference's "Where the note is silent on timing":
//   - a +QMTPUB result may arrive after the host's own timeout, even while a re-send of the same
//     msgID waits for its prompt: a late result must not change what a later command carries;
//   - the '>' prompt may come late: the module is in data mode before it, so a host that gives
//     up must cancel with ESC and let the module settle; nothing of an AT line may become a
//     payload;
//   - a link can die without +QMTSTAT: commands then answer +CME ERROR: 3, and the client must
//     find out, reconnect and deliver every QoS 1 message.
// Faults come from the emulator's control socket (delay-result, delay-prompt, drop 0; see
// docs/emulator.md). Synchronisation is by events with deadlines only.
#include <atomic>
#include <set>
#include <utility>

#include "fixture.hpp"
#include "host_client.hpp"
#include "message_log.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;
using test::MessageLog;
using Entries = std::vector<MessageLog::Entry>;
using Sent = std::set<std::pair<std::string, std::string>>;  // (topic, payload)

constexpr std::uint32_t kRefused = 0xFFFFFFFFu;

std::string printable(const std::string& s, std::size_t max = 80) {
    std::string out;
    for (const char ch : s.substr(0, max)) {
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u >= 0x7F) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02X", u);
            out += b;
        } else {
            out += ch;
        }
    }
    if (s.size() > max) out += "...";
    return out;
}

std::string tail(const std::string& s, std::size_t n) {
    return s.size() > n ? "..." + s.substr(s.size() - n) : s;
}

std::size_t count(const Entries& all, const std::string& topic, const std::string& payload) {
    std::size_t n = 0;
    for (const auto& e : all) n += (e.topic == topic && e.payload == payload) ? 1u : 0u;
    return n;
}

// Every message at the broker is one that was handed to publish(), under its topic; nothing that
// looks like an AT command line ever became a payload.
void expect_only_sent(const Entries& all, const Sent& sent) {
    for (const auto& e : all) {
        EXPECT_EQ(e.payload.rfind("AT+", 0), std::string::npos)
            << "an AT command line reached the broker as a payload on " << e.topic << ": "
            << printable(e.payload);
        EXPECT_TRUE(sent.count({e.topic, e.payload}) != 0)
            << "foreign message at the broker: topic " << e.topic << ", payload "
            << printable(e.payload);
    }
}

std::string broker_dump(const Entries& all) {
    std::string s = std::to_string(all.size()) + " message(s) at the broker:";
    for (const auto& e : all) s += "\n  " + e.topic + " <- " + printable(e.payload);
    return s;
}

class LateTiming : public ::testing::Test {
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
    static std::string diag(HostClient& c, Sim& sim) {
        return "\nemulator: " + sim.control("status") + "\nclient trace (tail):\n" +
               c.trace_tail() + "emulator log (tail):\n" + tail(sim.log(), 3000);
    }
    static std::vector<HostClient::Pub> pubs(const std::string& topic, const std::string& stem,
                                             int from, int to) {
        std::vector<HostClient::Pub> v;
        for (int i = from; i < to; ++i) v.push_back({topic, stem + std::to_string(i), 1});
        return v;
    }
    static Sent sent_of(const HostClient::State& st) {
        Sent s;
        for (const auto& p : st.feed) s.insert({p.topic, p.payload});
        return s;
    }
    static bool feed_done(HostClient& c, std::size_t n, HostClient::Ms timeout) {
        return c.wait([n](const HostClient::State& s) { return s.feed_done >= n; }, timeout);
    }
    static std::string first_failure(const HostClient::State& st) {
        for (std::size_t i = 0; i < st.feed_result.size(); ++i) {
            if (st.feed_result[i] && !st.feed_result[i]->ok)
                return "message " + std::to_string(i) + ": " + st.feed_result[i]->error;
        }
        return "none";
    }
    // Waits until every fed message (topic, payload) has reached the broker at least once.
    static bool all_delivered(const MessageLog& log, const HostClient::State& st,
                              HostClient::Ms timeout) {
        const Sent want = sent_of(st);
        return log.wait(
            [&](const Entries& all) {
                Sent seen;
                for (const auto& e : all) seen.insert({e.topic, e.payload});
                for (const auto& w : want) {
                    if (seen.count(w) == 0) return false;
                }
                return true;
            },
            timeout);
    }

    test::Broker broker;
    std::string id_, host_;
};

// pkt_timeout 1 s, retry_times 0: the client waits 1 s x (0 + 1) + 2 s for a +QMTPUB result
// (ClientCore's pkt_result_timeout), then sends msgID N again. The module took the PUBACK at once
// and accepts the re-send, but its result line for the first attempt is 4.5 s late, and the
// re-send's '>' queues behind it. The late "+QMTPUB: 0,N,0" completes the publish; the
// application's next publish (from on_published, as `qmtkit pub -l` does) must not end up under
// the command line of the re-send that is still waiting for its prompt.
TEST_F(LateTiming, LateResultWhileTheResendWaitsForItsPrompt) {
    Sim sim;
    HostClient c(sim.pty());
    MessageLog log(broker.host(), broker.port(), "#");
    std::atomic<std::uint32_t> ticket_a{0};
    std::atomic<std::uint32_t> ticket_b{0};
    c.set_published_hook(
        [&](HostClient::Core& core, std::uint32_t t, const qmt::Result<qmt::PublishReport>& r) {
            if (t != ticket_a.load() || !r || ticket_b.load() != 0) return;
            auto b = core.publish("t/b", ByteView("BBBBBBBB"), {1});
            ticket_b = b ? *b : kRefused;
        });
    qmt::Session s = session("late-result");
    s.settings.pkt_timeout_s = 1;
    s.settings.retry_times = 0;
    ASSERT_TRUE(c.start(s, fast_backoff()).has_value());
    ASSERT_TRUE(c.wait_online(30s)) << diag(c, sim);

    ASSERT_EQ(sim.control("delay-result 4500"), "OK");
    const auto a = c.call([&](HostClient::Core& core) {
        auto r = core.publish("t/a", ByteView("AAAA"), {1});
        if (r) ticket_a = *r;
        return r;
    });
    ASSERT_TRUE(a.has_value());
    const bool both = c.wait(
        [&](const HostClient::State& st) {
            const std::uint32_t b = ticket_b.load();
            return st.done.count(*a) != 0 && b != 0 && (b == kRefused || st.done.count(b) != 0);
        },
        30s);
    ASSERT_TRUE(both) << "both publishes should complete" << diag(c, sim);
    ASSERT_NE(ticket_b.load(), kRefused);
    const HostClient::State st = c.state();
    EXPECT_TRUE(st.done.at(*a).ok) << st.done.at(*a).error;
    EXPECT_TRUE(st.done.at(ticket_b.load()).ok) << st.done.at(ticket_b.load()).error;
    EXPECT_TRUE(log.wait_for("t/b", "BBBBBBBB", 10s)) << broker_dump(log.snapshot());

    // A fence: published after both completed, so anything the two produced is at the broker
    // before it (one connection, in order).
    ASSERT_TRUE(c.call([](HostClient::Core& core) {
                     return core.publish("t/fence", ByteView("fence"), {1});
                 }).has_value());
    ASSERT_TRUE(log.wait_for("t/fence", "fence", 15s))
        << broker_dump(log.snapshot()) << diag(c, sim);
    const Entries all = log.snapshot();
    EXPECT_GE(count(all, "t/a", "AAAA"), 1u) << broker_dump(all);
    EXPECT_EQ(count(all, "t/a", "BBBBBBBB"), 0u)
        << "the second publish's payload went out under the first one's topic\n"
        << broker_dump(all) << diag(c, sim);
    EXPECT_GE(count(all, "t/b", "BBBBBBBB"), 1u) << broker_dump(all);
    expect_only_sent(all, {{"t/a", "AAAA"}, {"t/b", "BBBBBBBB"}, {"t/fence", "fence"}});
}

// A '>' 600 ms late (more than the 300 ms the note allows a plain answer): the publish is
// delivered with its own payload, nothing of a later command line becomes a payload, and the
// client keeps publishing.
TEST_F(LateTiming, LatePromptIsWaitedOutAndNothingLeaksIntoAPayload) {
    Sim sim;
    HostClient c(sim.pty());
    MessageLog log(broker.host(), broker.port(), "#");
    ASSERT_TRUE(c.start(session("late-prompt"), fast_backoff()).has_value());
    ASSERT_TRUE(c.wait_online(30s)) << diag(c, sim);

    ASSERT_EQ(sim.control("delay-prompt 600"), "OK");
    c.feed(pubs("t/p", "late-prompt-", 0, 1));
    const bool first = feed_done(c, 1, 20s);
    if (first) {
        c.feed(pubs("t/p", "after-", 1, 6));
        EXPECT_TRUE(feed_done(c, 6, 30s))
            << "the 5 publishes after the late prompt did not all complete" << diag(c, sim);
    } else {
        ADD_FAILURE() << "the publish behind a 600 ms prompt never completed" << diag(c, sim);
    }
    const HostClient::State st = c.state();
    EXPECT_EQ(st.feed_failed, 0u) << first_failure(st);
    if (first) {
        EXPECT_TRUE(all_delivered(log, st, 15s)) << broker_dump(log.snapshot());
    }
    const Entries all = log.snapshot();
    expect_only_sent(all, sent_of(st));
    if (first) {
        EXPECT_EQ(count(all, "t/p", "late-prompt-0"), 1u) << broker_dump(all);
    }
}

// A '>' 3 s late, longer than any sane prompt wait: whatever the client does (wait, or give up
// and cancel with ESC), the module is not left in data mode, every QoS 1 message is delivered
// and nothing reaches the broker that was not handed to publish().
TEST_F(LateTiming, PromptLaterThanAnyPromptWaitLeavesNoDataMode) {
    Sim sim;
    HostClient c(sim.pty());
    MessageLog log(broker.host(), broker.port(), "#");
    ASSERT_TRUE(c.start(session("slow-prompt"), fast_backoff()).has_value());
    ASSERT_TRUE(c.wait_online(30s)) << diag(c, sim);

    ASSERT_EQ(sim.control("delay-prompt 3000"), "OK");
    c.feed(pubs("t/q", "slow-prompt-", 0, 6));
    const bool all_done = feed_done(c, 6, 40s);
    EXPECT_TRUE(all_done) << "not every publish completed" << diag(c, sim);
    const HostClient::State st = c.state();
    EXPECT_EQ(st.feed_failed, 0u) << first_failure(st);
    if (all_done) {
        EXPECT_TRUE(all_delivered(log, st, 15s)) << broker_dump(log.snapshot());
    }
    const std::string status = sim.control("status");
    EXPECT_NE(status.find("data_mode=0"), std::string::npos)
        << "the module was left in data mode: " << status << diag(c, sim);
    expect_only_sent(log.snapshot(), sent_of(st));
}

// The link dies without +QMTSTAT (drop 0): AT+QMTPUB answers +CME ERROR: 3 from then on. The
// client must tell a dead link from a refused message, reconnect, and deliver all 20 QoS 1
// messages without reporting any of them failed.
TEST_F(LateTiming, SilentDropIsDetectedAndNoQos1MessageIsLost) {
    Sim sim({"--rtt-ms", "20"});
    HostClient c(sim.pty());
    MessageLog log(broker.host(), broker.port(), "#");
    qmt::Session s = session("silent-drop");
    s.settings.pkt_timeout_s = 2;
    s.settings.retry_times = 1;
    ASSERT_TRUE(c.start(s, fast_backoff()).has_value());
    ASSERT_TRUE(c.wait_online(30s)) << diag(c, sim);

    ASSERT_EQ(sim.control("drop 0"), "OK");
    ASSERT_EQ(sim.control("status"), "OK state=closed inflight=0 data_mode=0");
    c.feed(pubs("t/s", "silent-", 0, 20));
    const bool all_done = feed_done(c, 20, 60s);
    EXPECT_TRUE(all_done) << "not every publish completed" << diag(c, sim);
    const HostClient::State st = c.state();
    EXPECT_EQ(st.feed_failed, 0u) << st.feed_failed << " of 20 reported failed; first "
                                  << first_failure(st) << diag(c, sim);
    EXPECT_TRUE(all_delivered(log, st, 15s)) << broker_dump(log.snapshot());
    EXPECT_GE(st.sessions, 2u) << "the client never reconnected";
    expect_only_sent(log.snapshot(), sent_of(st));
}

}  // namespace
}  // namespace qmtkit::e2e
