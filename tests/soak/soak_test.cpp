// Soak: QoS 1 messages from the SDK client (qmt::Client<> + host::Runner on bc28-sim's pty, as a
// gateway runs it) through the emulator and a real mosquitto, while faults are injected at
// seeded random points: delay-prompt / delay-result (100 ms .. 5 s), drop 0 (silent), drop
// (+QMTSTAT 7), ping-timeout, reboot, garbage, split (bc28-sim control commands), and
// broker-restart (mosquitto stopped with SIGTERM, down 100 ms .. 3 s, started again on the same
// port). Every kind comes as often as the others, in a seeded order. Every payload carries its
// index. A subscriber on the broker (MessageLog, persistent session: clean_session false, QoS 1
// subscription; the broker persists to its temp dir, so what it had queued or in flight for the
// subscriber survives a restart, and the subscriber reconnects by itself) checks:
//   lost       messages handed to publish() that never arrived: must be 0
//   foreign    arrivals that are not byte for byte a payload handed to publish(), under the topic
//              it was published to: must be 0
//   duplicates arrivals beyond the first of a message (QoS 1 is at least once): counted only
//   order      order within a session. A session is one online period of the client (HostClient
//              counts them: State::sessions, +1 at each on_link(online)). A message belongs to
//              session s when it was handed to publish() while session s was online AND its
//              successful on_published came in the same session s: it was sent, and never had to
//              be sent again across a reconnect. (Messages handed while offline, or not
//              acknowledged before the link went — the re-sends of the next session — belong to
//              none.) For every session s, the first arrivals at the subscriber of its messages
//              must be in index order (= the order they were handed to publish()): each
//              arrival position greater than that of the previous message of s. Every pair of
//              consecutive messages of s whose first arrivals are the other way round is one
//              order violation: must be 0. (TCP and the broker keep the order of one connection;
//              the client must send in the order it was given, and a message it has to send
//              again within the session already arrived the first time.)
// The scan (order_violations) is tested on its own (SoakCheck.*), as is the subscriber across a
// broker restart (SoakHarness.*).
//
// Short version (registered in ctest, label e2e; 1,000 messages, 5 faults, about 15 s; seed 1
// draws a broker-restart):
//   ctest --test-dir build/dev -R 'Soak' --output-on-failure
// Long version (not in ctest; bench/soak.sh, run by ./dev.sh bench; --kinds drop,reboot,...
// restricts the fault kinds, --trace FILE writes the client's whole AT exchange):
//   build/dev/tests/soak/qmtkit_soak_tests --messages 10000 --faults 20 [--seed 7]
//   QMTKIT_SOAK_MESSAGES=10000 QMTKIT_SOAK_FAULTS=20 QMTKIT_SOAK_SEED=7
//   build/dev/tests/soak/qmtkit_soak_tests
// One summary line goes to stdout:
//   soak: seed=1 sent=1000/1000 acked=1000 failed=0 received=1004 lost=0 duplicates=4 foreign=0
//         order=0/985 faults=5 [reboot@41 broker-restart 1200@77 ...] sessions=6
//         log_reconnects=1 wall=15.2s
// (order=<violations>/<messages checked for order>.)
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "fixture.hpp"
#include "host_client.hpp"
#include "message_log.hpp"

namespace qmtkit::e2e {

struct SoakConfig {
    std::size_t messages = 1000;
    std::size_t faults = 5;
    std::uint32_t seed = 1;
    std::string trace_file;  // the whole AT exchange is written here at the end
    std::vector<std::string> kinds{"delay-prompt", "delay-result", "drop 0",
                                   "drop",         "ping-timeout", "reboot",
                                   "garbage",      "split",        "broker-restart"};
};
SoakConfig g_soak;

namespace {

using namespace std::chrono_literals;
using test::MessageLog;
using Clock = std::chrono::steady_clock;

std::string topic_of(std::size_t i) {
    return "soak/" + std::to_string(i % 3);
}

// Deterministic from (seed, index): text of varying length, and every tenth a binary payload
// (0x1A, 0x1B, NUL, CR LF: the fixed-length form of AT+QMTPUB).
std::string payload_of(std::uint32_t seed, std::size_t i) {
    std::string p = "s" + std::to_string(seed) + "#" + std::to_string(i) + ":";
    std::mt19937 rng(seed * 7919u + static_cast<std::uint32_t>(i));
    const std::size_t len = 8 + rng() % 200;
    if (i % 10 == 7) {
        for (std::size_t k = 0; k < len; ++k) p.push_back(static_cast<char>((k * 37 + i) & 0xFF));
        p += std::string("\x1A\x1B\0\r\n", 5);
    } else {
        static const char kAlpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 ,.-";
        for (std::size_t k = 0; k < len; ++k) p.push_back(kAlpha[rng() % (sizeof kAlpha - 1)]);
    }
    return p;
}

// The index a payload claims ("s<seed>#<i>:..."), if it is well formed.
std::optional<std::size_t> index_of(const std::string& payload, std::uint32_t seed) {
    const std::string head = "s" + std::to_string(seed) + "#";
    if (payload.rfind(head, 0) != 0) return std::nullopt;
    std::size_t i = head.size();
    std::size_t v = 0;
    bool any = false;
    while (i < payload.size() && payload[i] >= '0' && payload[i] <= '9') {
        v = v * 10 + static_cast<std::size_t>(payload[i] - '0');
        any = true;
        ++i;
    }
    if (!any || i >= payload.size() || payload[i] != ':') return std::nullopt;
    return v;
}

struct Fault {
    std::size_t at = 0;  // injected once this many publishes have completed
    std::string command;
};

std::vector<Fault> schedule(const SoakConfig& cfg) {
    std::mt19937 rng(cfg.seed);
    const std::vector<std::string>& kinds = cfg.kinds;
    // Every kind as often as the others (in a seeded order), at distinct seeded points.
    std::vector<std::string> picked;
    while (picked.size() < cfg.faults) {
        std::vector<std::string> round = kinds;
        std::shuffle(round.begin(), round.end(), rng);
        for (const auto& k : round) {
            if (picked.size() < cfg.faults) picked.push_back(k);
        }
    }
    const std::size_t lo = std::max<std::size_t>(1, cfg.messages / 20);
    const std::size_t hi = std::max(lo + 1, cfg.messages * 9 / 10);
    std::vector<std::size_t> points;
    for (std::size_t k = 0; k < cfg.faults; ++k) points.push_back(lo + rng() % (hi - lo));
    std::sort(points.begin(), points.end());
    std::vector<Fault> out;
    for (std::size_t k = 0; k < cfg.faults; ++k) {
        std::string cmd = picked[k];
        if (cmd == "delay-prompt" || cmd == "delay-result") {
            cmd += " " + std::to_string(100 + rng() % 4901);  // 100 ms .. 5 s
        } else if (cmd == "split") {
            cmd += " " + std::to_string(50 + rng() % 1451);
        } else if (cmd == "garbage") {
            cmd += " " + std::to_string(16 + rng() % 113);
        } else if (cmd == "broker-restart") {
            cmd += " " + std::to_string(100 + rng() % 2901);  // down 100 ms .. 3 s
        }
        out.push_back({points[k], cmd});
    }
    return out;
}

constexpr std::size_t kNever = static_cast<std::size_t>(-1);

struct OrderCheck {
    std::size_t checked = 0;     // messages that belong to a session (see the header) and arrived
    std::size_t violations = 0;  // consecutive pairs of one session whose first arrivals swapped
    std::string first;           // the first violation, for the failure message
};

// first_pos[i]: position of message i's first arrival at the subscriber (kNever: none);
// handed_in / acked_in: HostClient::State::feed_handed_in / feed_acked_in.
OrderCheck order_violations(const std::vector<std::size_t>& first_pos,
                            const std::vector<std::size_t>& handed_in,
                            const std::vector<std::size_t>& acked_in) {
    OrderCheck out;
    std::map<std::size_t, std::size_t> previous;  // session -> its last message so far
    const std::size_t n = std::min({first_pos.size(), handed_in.size(), acked_in.size()});
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t s = handed_in[i];
        if (s == 0 || acked_in[i] != s || first_pos[i] == kNever) continue;
        ++out.checked;
        const auto it = previous.find(s);
        if (it != previous.end() && first_pos[i] < first_pos[it->second]) {
            if (out.violations++ == 0) {
                out.first = "session " + std::to_string(s) + ": message " + std::to_string(i) +
                            " first arrived at " + std::to_string(first_pos[i]) +
                            ", before message " + std::to_string(it->second) + " (at " +
                            std::to_string(first_pos[it->second]) + ")";
            }
        }
        previous[s] = i;
    }
    return out;
}

TEST(SoakCheck, OrderKeptAcrossSessionsIsNoViolation) {
    // Session 1: 0, 1, 2; 3 handed in 1 but acknowledged in 2 (re-sent: belongs to none) and 4
    // handed while offline; session 2: 5, 6. The re-sends may come anywhere.
    const std::vector<std::size_t> pos{0, 1, 3, 2, 4, 5, 6};
    const std::vector<std::size_t> handed{1, 1, 1, 1, 0, 2, 2};
    const std::vector<std::size_t> acked{1, 1, 1, 2, 2, 2, 2};
    const OrderCheck c = order_violations(pos, handed, acked);
    EXPECT_EQ(c.violations, 0u) << c.first;
    EXPECT_EQ(c.checked, 5u);
}

TEST(SoakCheck, SwappedFirstArrivalsInOneSessionAreViolations) {
    // Session 1: message 1 first arrived after message 2; session 2: 4 before 3.
    const std::vector<std::size_t> pos{0, 5, 2, 9, 7, kNever};
    const std::vector<std::size_t> handed{1, 1, 1, 2, 2, 2};
    const std::vector<std::size_t> acked{1, 1, 1, 2, 2, 2};
    const OrderCheck c = order_violations(pos, handed, acked);
    EXPECT_EQ(c.violations, 2u);
    EXPECT_EQ(c.checked, 5u);  // 5 never arrived: lost, not out of order
    EXPECT_EQ(c.first, "session 1: message 2 first arrived at 2, before message 1 (at 5)");
}

TEST(Soak, Qos1ThroughRandomFaults) {
    const SoakConfig cfg = g_soak;
    const auto t0 = Clock::now();
    // Generous for a passing run (about 20 s + 10 ms a message + 3 s a fault); a stalled client
    // fails at the deadline instead of hanging.
    const auto deadline = t0 + 20s + std::chrono::milliseconds(40 * cfg.messages) +
                          std::chrono::seconds(6 * cfg.faults);

    // Persistence, so that a restart keeps what the broker acknowledged to the client but had
    // not yet delivered to the subscriber; no cap on what it queues for the subscriber while
    // that one reconnects (mosquitto drops QoS 1 messages past max_queued_messages, 1000).
    test::Broker::Options bo;
    bo.persistence = true;
    bo.extra_config = {"max_queued_messages 0"};
    test::Broker broker(bo);
    broker.start();
    Sim sim({"--rtt-ms", "20", "--boot-ms", "300"});
    MessageLog::Options lo;
    lo.filter = "soak/#";
    lo.persistent = true;
    lo.client_id = "soak-log-" + std::to_string(cfg.seed);
    MessageLog log(broker.host(), broker.port(), lo);
    HostClient c(sim.pty());
    if (!cfg.trace_file.empty()) c.set_trace_limit(static_cast<std::size_t>(-1));

    const std::string host = broker.host();
    const std::string id = "soak-" + std::to_string(cfg.seed);
    qmt::Session s;
    s.host = host;
    s.port = broker.port();
    s.client_id = id;
    s.settings.pkt_timeout_s = 1;  // the client waits 1 s x (1 + 1) + 2 s for a result
    s.settings.retry_times = 1;
    qmt::Backoff b;
    b.initial = 200;
    b.max = 2000;
    b.seed = cfg.seed;
    ASSERT_TRUE(c.start(s, b).has_value());
    ASSERT_TRUE(c.wait_online(30s)) << c.trace_tail();

    std::vector<HostClient::Pub> pubs;
    pubs.reserve(cfg.messages);
    for (std::size_t i = 0; i < cfg.messages; ++i)
        pubs.push_back({topic_of(i), payload_of(cfg.seed, i), 1});
    c.feed(std::move(pubs));

    auto left = [&] { return std::chrono::duration_cast<HostClient::Ms>(deadline - Clock::now()); };
    std::vector<std::string> injected;
    bool stalled = false;
    for (const Fault& f : schedule(cfg)) {
        const std::size_t at = f.at;
        if (!c.wait([at](const HostClient::State& st) { return st.feed_done >= at; }, left())) {
            stalled = true;
            break;
        }
        if (f.command.rfind("broker-restart ", 0) == 0) {
            // The outage is the fault's own length (as a delay fault's), not a wait for anything.
            const Ms down(std::stoul(f.command.substr(15)));
            broker.stop();
            std::this_thread::sleep_for(down);
            broker.start();
        } else {
            const std::string reply = sim.control(f.command);
            EXPECT_EQ(reply.rfind("OK", 0), 0u) << f.command << ": " << reply;
        }
        injected.push_back(f.command + "@" + std::to_string(at));
    }
    const std::size_t n = cfg.messages;
    if (!stalled) {
        stalled = !c.wait([n](const HostClient::State& st) { return st.feed_done >= n; }, left());
    }
    const HostClient::State st = c.state();

    // What the broker delivered: seen[i] counts arrivals of message i, checked byte for byte.
    std::vector<std::size_t> seen(n, 0);
    std::vector<std::size_t> first_pos(n, kNever);
    std::size_t cursor = 0, unique = 0, foreign = 0;
    std::string first_foreign;
    auto scan = [&](const std::vector<MessageLog::Entry>& all) {
        for (; cursor < all.size(); ++cursor) {
            const auto& e = all[cursor];
            const auto i = index_of(e.payload, cfg.seed);
            if (!i || *i >= n || e.payload != payload_of(cfg.seed, *i) || e.topic != topic_of(*i)) {
                if (foreign++ == 0) first_foreign = e.topic + " <- " + e.payload.substr(0, 60);
                continue;
            }
            if (seen[*i]++ == 0) {
                ++unique;
                first_pos[*i] = cursor;
            }
        }
        return unique == n;
    };
    log.wait(scan, stalled ? 5s : 30s);
    const std::size_t received = cursor - foreign;
    const OrderCheck order = order_violations(first_pos, st.feed_handed_in, st.feed_acked_in);
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

    std::ostringstream summary;
    summary << "soak: seed=" << cfg.seed << " sent=" << st.handed << "/" << n
            << " acked=" << (st.feed_done - st.feed_failed) << " failed=" << st.feed_failed
            << " received=" << received << " lost=" << (n - unique)
            << " duplicates=" << (received - unique) << " foreign=" << foreign
            << " order=" << order.violations << "/" << order.checked
            << " faults=" << injected.size() << " [";
    for (std::size_t k = 0; k < injected.size(); ++k) summary << (k ? " " : "") << injected[k];
    summary << "] sessions=" << st.sessions << " log_reconnects=" << (log.connects() - 1)
            << " wall=" << std::fixed << std::setprecision(1) << wall << "s"
            << (stalled ? " STALLED" : "");
    std::cout << summary.str() << std::endl;
    if (!cfg.trace_file.empty()) {
        std::ofstream(cfg.trace_file) << summary.str() << "\n"
                                      << c.trace_tail(static_cast<std::size_t>(-1));
    }

    std::string missing;
    for (std::size_t i = 0, shown = 0; i < n && shown < 10; ++i) {
        if (seen[i] == 0) {
            missing += " " + std::to_string(i);
            ++shown;
        }
    }
    std::string failed;
    for (std::size_t i = 0, shown = 0; i < st.feed_result.size() && shown < 3; ++i) {
        if (st.feed_result[i] && !st.feed_result[i]->ok) {
            failed += "\n  message " + std::to_string(i) + ": " + st.feed_result[i]->error;
            ++shown;
        }
    }
    EXPECT_FALSE(stalled) << "the client stopped completing publishes at " << st.feed_done << "/"
                          << n << "; emulator " << sim.control("status") << "\nclient trace:\n"
                          << c.trace_tail(40);
    EXPECT_EQ(unique, n) << (n - unique) << " message(s) lost, e.g." << missing;
    EXPECT_EQ(foreign, 0u) << "e.g. " << first_foreign;
    EXPECT_EQ(order.violations, 0u) << "order within a session broken, first: " << order.first;
    EXPECT_EQ(st.feed_failed, 0u) << "reported failed:" << failed;
}

}  // namespace
}  // namespace qmtkit::e2e

namespace {
bool take_number(const char* text, std::size_t& out) {
    if (text == nullptr || *text == '\0') return false;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (end == nullptr || *end != '\0') return false;
    out = static_cast<std::size_t>(v);
    return true;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(s);
    while (std::getline(in, item, ',')) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}
}  // namespace

// --messages N, --faults N, --seed N, --kinds a,b,... (or QMTKIT_SOAK_MESSAGES / _FAULTS / _SEED
// / _KINDS), --trace FILE; the rest is Google Test's.
int main(int argc, char** argv) {
    auto& cfg = qmtkit::e2e::g_soak;
    std::size_t v = 0;
    if (take_number(std::getenv("QMTKIT_SOAK_MESSAGES"), v)) cfg.messages = v;
    if (take_number(std::getenv("QMTKIT_SOAK_FAULTS"), v)) cfg.faults = v;
    if (take_number(std::getenv("QMTKIT_SOAK_SEED"), v)) cfg.seed = static_cast<std::uint32_t>(v);
    if (const char* k = std::getenv("QMTKIT_SOAK_KINDS"); k && *k) cfg.kinds = split_list(k);
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--kinds" && i + 1 < argc) {
            cfg.kinds = split_list(argv[++i]);
            continue;
        }
        if (a == "--trace" && i + 1 < argc) {
            cfg.trace_file = argv[++i];
            continue;
        }
        std::size_t* target = a == "--messages" ? &cfg.messages
                              : a == "--faults" ? &cfg.faults
                                                : nullptr;
        if (target == nullptr && a != "--seed") {
            rest.push_back(argv[i]);
            continue;
        }
        if (i + 1 >= argc || !take_number(argv[i + 1], v)) {
            std::cerr << a << " needs a number\n";
            return 2;
        }
        ++i;
        if (target != nullptr)
            *target = v;
        else
            cfg.seed = static_cast<std::uint32_t>(v);
    }
    if (cfg.messages == 0 || cfg.kinds.empty()) {
        std::cerr << "--messages must be at least 1 and --kinds name at least one fault\n";
        return 2;
    }
    int rest_argc = static_cast<int>(rest.size());
    rest.push_back(nullptr);  // argv[argc] is a null pointer, and gtest reads it
    ::testing::InitGoogleTest(&rest_argc, rest.data());
    return RUN_ALL_TESTS();
}
