// The engine's command pool (queued lines share one FIFO of bytes), reset_rx(), and the receive
// side's bulk and one-byte paths giving the same run.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "qmtkit/qmt/recv.hpp"

using namespace qmtkit;
using namespace qmtkit::at;
using test::Event;
using K = test::Event::Kind;

namespace {

// A pool that holds six "AT+CGATT?\r" (10 bytes each) and a line up to 40 bytes.
struct SmallPool : EngineConfig {
    static constexpr std::size_t command_capacity = 40;
    static constexpr std::size_t command_pool = 64;
    static constexpr std::size_t queue_depth = 10;
};
using PoolTest = test::BasicEngineFixture<SmallPool>;

std::string ok() {
    return "\r\nOK\r\n";
}

TEST_F(PoolTest, FullPoolRefusesWithQueueFullBeforeAnythingIsWritten) {
    for (std::uint32_t tag = 1; tag <= 6; ++tag)
        ASSERT_TRUE(engine.submit(cmd::attach_query, &rec, tag));
    EXPECT_EQ(wire.take(), "AT+CGATT?\r");
    auto r = engine.submit(cmd::attach_query, &rec, 7);  // 60 of 64 bytes taken
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::queue_full);
    EXPECT_EQ(engine.queued(), 6u);                // the queue had slots; the pool had no room
    EXPECT_TRUE(engine.submit(cmd::at, &rec, 8));  // 3 bytes still fit
    EXPECT_EQ(wire.take(), "");
    // Each OK frees the head's line; the rest go out intact and in order.
    std::string sent;
    for (int i = 0; i < 7; ++i) {
        rx(ok());
        sent += wire.take();
    }
    EXPECT_EQ(sent, "AT+CGATT?\rAT+CGATT?\rAT+CGATT?\rAT+CGATT?\rAT+CGATT?\rAT\r");
    EXPECT_TRUE(engine.idle());
    ASSERT_EQ(rec.events.size(), 7u);
    EXPECT_EQ(rec.events.back(), (Event{K::final_ok, 8, {}}));
}

TEST_F(PoolTest, TooLongForAnyPoolIsABadArgumentEvenWhenThePoolIsBusy) {
    ASSERT_TRUE(engine.submit(cmd::attach_query, &rec, 1));
    ASSERT_TRUE(engine.submit(cmd::attach_query, &rec, 2));
    // 39 bytes + CR = command_capacity: fits an empty pool, so only "no room now" while busy.
    const std::string host(39 - std::string("AT+QMTOPEN=0,\"\",1").size(), 'h');
    ASSERT_EQ(std::string("AT+QMTOPEN=0,\"" + host + "\",1").size(), 39u);
    auto busy = engine.submit(cmd::open, &rec, 3, 0, std::string_view(host), 1);
    ASSERT_TRUE(busy);  // 20 + 40 <= 64
    auto full = engine.submit(cmd::open, &rec, 4, 0, std::string_view(host), 1);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().kind, ErrorKind::queue_full);
    auto too_long = engine.submit(cmd::open, &rec, 5, 0, std::string_view(host + "h"), 1);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().kind, ErrorKind::bad_argument);
    EXPECT_EQ(too_long.error().arg, ArgError::too_long);
    wire.take();
    rx(ok());
    rx(ok());
    EXPECT_EQ(wire.take(), "AT+CGATT?\rAT+QMTOPEN=0,\"" + host + "\",1\r");
}

TEST_F(PoolTest, LinesOfEveryLengthCycleThroughThePool) {
    // Lines of 16..40 bytes, up to four queued at a time, many times round the pool: every line
    // comes out as it went in.
    std::mt19937 rng(7);
    std::vector<std::string> expected, queued_lines;
    std::string sent;
    std::uint32_t tag = 0;
    for (int round = 0; round < 400; ++round) {
        while (queued_lines.size() < 4) {
            const std::size_t host_len = 1 + rng() % 22;  // line 18..39 bytes
            const std::string host(host_len, static_cast<char>('a' + round % 26));
            const std::string line = "AT+QMTOPEN=0,\"" + host + "\",1\r";
            auto r = engine.submit(cmd::open, nullptr, ++tag, 0, std::string_view(host), 1);
            if (!r) {
                ASSERT_EQ(r.error().kind, ErrorKind::queue_full);
                break;
            }
            queued_lines.push_back(line);
        }
        ASSERT_FALSE(queued_lines.empty());
        sent += wire.take();
        expected.push_back(queued_lines.front());
        queued_lines.erase(queued_lines.begin());
        rx("\r\nERROR\r\n");  // frees the line and its result slot at once
    }
    sent += wire.take();
    std::string want;
    for (const std::string& l : expected) want += l;
    EXPECT_EQ(sent.substr(0, want.size()), want);
}

TEST_F(PoolTest, AbandonInTheMiddleKeepsTheLaterLinesIntact) {
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 1));
    auto mid = engine.submit(cmd::open, &rec, 2, 0, "middle.example", 1883);
    ASSERT_TRUE(mid);
    ASSERT_TRUE(engine.submit(cmd::attach_query, &rec, 3));
    ASSERT_TRUE(engine.submit(cmd::echo_off, &rec, 4));
    EXPECT_TRUE(engine.abandon(mid.value()));
    EXPECT_EQ(engine.queued(), 3u);
    // The freed bytes are room again.
    ASSERT_TRUE(engine.submit(cmd::open, &rec, 5, 0, "later.example", 1883));
    std::string sent = wire.take();
    for (int i = 0; i < 4; ++i) {
        rx(ok());
        sent += wire.take();
    }
    EXPECT_EQ(sent, "AT\rAT+CGATT?\rATE0\rAT+QMTOPEN=0,\"later.example\",1883\r");
}

TEST(EnginePool, DefaultConfigHoldsTheClientsLongestLines) {
    // A QoS 1 publish with a 255-byte topic and a SUB as long as command_capacity allows.
    test::CaptureWriter wire;
    Engine<> engine(wire);
    const std::string topic(255, 't');
    ASSERT_TRUE(engine.submit(cmd::pub, nullptr, 1, 0, 1, 1, 0, std::string_view(topic)));
    ASSERT_TRUE(engine.submit(cmd::pub, nullptr, 2, 0, 2, 1, 0, std::string_view(topic)));
    ASSERT_TRUE(engine.submit(cmd::pub, nullptr, 3, 0, 3, 1, 0, std::string_view(topic)));
    auto sub = engine.submit_with(cmd::sub, nullptr, 4, Timeouts{}, [&](ArgWriter& w) {
        w.integer(0).integer(4);
        for (int i = 0; i < 2; ++i) w.quoted(topic).integer(1);
    });
    ASSERT_FALSE(sub);  // 3 x 290 B queued: no room for 540 B more
    EXPECT_EQ(sub.error().kind, ErrorKind::queue_full);
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,1,1,0,\"" + topic + "\"\r");
}

// ------------------------------------------------------------------------------- reset_rx()

using ResetRx = test::EngineFixture;

TEST_F(ResetRx, HalfALineOfTheOldPortDoesNotPrefixTheNewOne) {
    std::vector<std::string> stats;
    auto on_stat = [&](std::string_view l) { stats.emplace_back(l); };
    ASSERT_TRUE(engine.on_urc(cmd::urc_stat, UrcHandler::from(on_stat)));
    rx("\r\nGARB");
    engine.reset_rx();
    rx("+QMTSTAT: 0,1\r\n");
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_EQ(stats[0], "+QMTSTAT: 0,1");
    EXPECT_EQ(engine.counters().unclaimed, 0u);
}

TEST_F(ResetRx, AHalfClaimIsDroppedAndNoLongerAwaitsIdle) {
    std::vector<std::string> claimed;
    auto claim = [&](ByteView b, ClaimPhase phase) {
        const qmt::RecvParse p = qmt::parse_recv(b, phase);
        if (p.status == qmt::RecvParse::Status::need_more) return Claim::need_more();
        claimed.emplace_back(b.as_text().substr(0, p.consumed));
        return Claim::done(p.consumed);
    };
    ASSERT_TRUE(engine.on_urc_claim(cmd::urc_recv, ClaimHandler::from(claim)));
    rx("\r\n+QMTRECV: 0,0,\"t\",\"half");
    EXPECT_NE(engine.next_deadline(), ~Instant{0});  // the claim's idle time runs
    engine.reset_rx();
    EXPECT_EQ(engine.next_deadline(), ~Instant{0});
    advance(1000);
    EXPECT_TRUE(claimed.empty());
    rx("\r\n+QMTRECV: 0,0,\"t\",\"whole\"\r\n");
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0], "+QMTRECV: 0,0,\"t\",\"whole\"\r\n");
    at_round_trip(9);
}

TEST_F(ResetRx, APayloadEchoInProgressIsForgotten) {
    rec.payload = "OK\r\nOK";  // an echo that would swallow lines of the new port
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 1, 1, 0, "t"));
    rx(wire.take());  // echo on
    rx("\r\n> ");
    EXPECT_EQ(wire.take(), "OK\r\nOK\x1A");
    rx("OK");  // the first bytes of its echo, then the port goes
    engine.reset_rx();
    rx("\r\nOK\r\n");  // on the new port: the command's final result, not echo
    ASSERT_FALSE(rec.events.empty());
    EXPECT_EQ(rec.events.back(), (Event{K::final_ok, 1, {}}));
}

// ---------------------------------------------------------- bulk and one-byte paths agree

// A module stream shaped like the bench's: echoed publishes with long payloads, prompts, OKs,
// results, 1 KB +QMTRECVs quoted and bare, an overlong line and a URC between them.
struct Stream {
    std::vector<std::string> log;
    void transcript(const std::string& chunking, std::mt19937* rng) {
        test::CaptureWriter wire;
        Engine<> engine(wire);
        test::Recorder rec;
        rec.payload = std::string(300, 'p') + "\r\n+QMTSTAT";
        Instant now = 1;
        auto on_stat = [&](std::string_view l) { log.push_back("urc " + std::string(l)); };
        engine.on_urc(cmd::urc_stat, UrcHandler::from(on_stat));
        auto claim = [&](ByteView b, ClaimPhase phase) {
            const qmt::RecvParse p = qmt::parse_recv(b, phase);
            if (p.status == qmt::RecvParse::Status::need_more) return Claim::need_more();
            log.push_back("recv " + std::to_string(p.consumed) + " " +
                          std::string(p.message.payload.as_text().substr(0, 8)));
            return Claim::done(p.consumed);
        };
        engine.on_urc_claim(cmd::urc_recv, ClaimHandler::from(claim));
        auto feed = [&](const std::string& s) {
            std::size_t at = 0;
            while (at < s.size()) {
                std::size_t n = s.size() - at;
                if (chunking == "bytes") n = 1;
                if (chunking == "64" && n > 64) n = 64;
                if (chunking == "random") n = std::min<std::size_t>(n, 1 + (*rng)() % 40);
                engine.feed(reinterpret_cast<const std::uint8_t*>(s.data()) + at, n, now);
                at += n;
            }
        };
        const std::string body(1000, 'b');
        for (std::uint32_t i = 1; i <= 12; ++i) {
            if (!engine.submit(cmd::pub, &rec, i, 0, i, 1, 0, "devices/42/telemetry")) break;
            feed(wire.take());  // echo
            feed("\r\n> ");
            feed(rec.payload);  // payload echo
            wire.take();
            if (i % 3 == 0)
                feed("\r\n+QMTRECV: 0," + std::to_string(i) + ",\"in\",\"" + body + "\"\r\n");
            if (i % 3 == 1)
                feed("\r\n+QMTRECV: 0," + std::to_string(i) + ",\"in\"," + body + "\r\n");
            if (i % 4 == 0) feed("\r\n" + std::string(1500, 'x') + "\r\n");
            feed("\r\nOK\r\n\r\n+QMTSTAT: 0," + std::to_string(i) + "\r\n");
            feed("\r\n+QMTPUB: 0," + std::to_string(i) + ",0\r\n");
        }
        const Counters& c = engine.counters();
        for (const Event& e : rec.events)
            log.push_back(std::to_string(static_cast<int>(e.kind)) + " " + std::to_string(e.tag) +
                          " " + e.text);
        log.push_back("overflows=" + std::to_string(c.overflows) + " unclaimed=" +
                      std::to_string(c.unclaimed) + " claims=" + std::to_string(c.claims) +
                      " resyncs=" + std::to_string(c.resyncs) + " urcs=" + std::to_string(c.urcs));
    }
};

TEST(EngineChunking, BulkAndOneByteAtATimeGiveTheSameRun) {
    Stream whole, bytes, sixty_four, random;
    whole.transcript("whole", nullptr);
    bytes.transcript("bytes", nullptr);
    sixty_four.transcript("64", nullptr);
    std::mt19937 rng(11);
    random.transcript("random", &rng);
    ASSERT_GT(whole.log.size(), 40u);
    EXPECT_EQ(bytes.log, whole.log);
    EXPECT_EQ(sixty_four.log, whole.log);
    EXPECT_EQ(random.log, whole.log);
    EXPECT_NE(whole.log.back().find("overflows=3 unclaimed=0 claims=8"), std::string::npos)
        << whole.log.back();
}

}  // namespace
