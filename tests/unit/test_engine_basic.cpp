// Basic behaviour of the AT engine over scripted exchanges, under a virtual clock.
#include <gtest/gtest.h>

#include "engine_fixture.hpp"

using namespace qmtkit;
using namespace qmtkit::at;
using test::Event;
using K = test::Event::Kind;

namespace {

using EngineTest = test::EngineFixture;

TEST_F(EngineTest, SimpleCommandGetsOk) {
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 1));
    EXPECT_EQ(wire.take(), "AT\r");
    rx("\r\nOK\r\n");
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0], (Event{K::final_ok, 1, {}}));
    EXPECT_TRUE(engine.idle());
}

TEST_F(EngineTest, InfoLinesWithAndWithoutSpaceAfterColon) {
    ASSERT_TRUE(engine.submit(cmd::attach_query, &rec, 7));
    EXPECT_EQ(wire.take(), "AT+CGATT?\r");
    rx("\r\n+CGATT:1\r\n\r\nOK\r\n");
    ASSERT_EQ(rec.events.size(), 2u);
    EXPECT_EQ(rec.events[0], (Event{K::info, 7, "+CGATT:1"}));
    ASSERT_TRUE(engine.submit(cmd::open_query, &rec, 8));
    rx("\r\n+QMTOPEN: 0,\"h\",1883\r\n\r\nOK\r\n");
    EXPECT_EQ(rec.events[2], (Event{K::info, 8, "+QMTOPEN: 0,\"h\",1883"}));
}

TEST_F(EngineTest, OneCommandOnTheWireAtATime) {
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 1));
    ASSERT_TRUE(engine.submit(cmd::echo_off, &rec, 2));
    EXPECT_EQ(wire.take(), "AT\r");
    rx("\r\nOK\r\n");
    EXPECT_EQ(wire.take(), "ATE0\r");
}

TEST_F(EngineTest, ArgumentsAreQuotedAndCheckedBeforeAnyByteIsWritten) {
    ASSERT_TRUE(engine.submit(cmd::open, &rec, 1, 0, "broker.local", 1883));
    EXPECT_EQ(wire.take(), "AT+QMTOPEN=0,\"broker.local\",1883\r");
    for (const char* bad : {"a\"b", "a\rb", "a\nb"}) {
        auto r = engine.submit(cmd::conn, &rec, 2, 0, bad);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, ErrorKind::bad_argument);
        EXPECT_EQ(r.error().arg, ArgError::forbidden_char);
    }
    std::string nul("a\0b", 3);
    auto r = engine.submit(cmd::conn, &rec, 2, 0, std::string_view(nul));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().arg, ArgError::forbidden_char);
    EXPECT_EQ(wire.take(), "");
    EXPECT_EQ(engine.queued(), 1u);
}

TEST_F(EngineTest, TwoPhaseResultIsCorrelatedWhileOtherCommandsRun) {
    ASSERT_TRUE(engine.submit(cmd::open, &rec, 1, 0, "h", 1883));
    wire.take();
    rx("\r\nOK\r\n");
    ASSERT_TRUE(engine.submit(cmd::attach_query, &rec, 2));
    EXPECT_EQ(wire.take(), "AT+CGATT?\r");
    rx("\r\n+CGATT:1\r\n\r\nOK\r\n\r\n+QMTOPEN: 0,0\r\n");
    ASSERT_EQ(rec.events.size(), 4u);
    EXPECT_EQ(rec.events[3], (Event{K::result, 1, "+QMTOPEN: 0,0"}));
    EXPECT_TRUE(engine.idle());
}

TEST_F(EngineTest, CmeErrorsAreTypedNumericAndVerbose) {
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 1));
    rx("\r\n+CME ERROR: 159\r\n");
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 2));
    rx("\r\n+CME ERROR: incorrect parameters\r\n");
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 3));
    rx("\r\nERROR\r\n");
    EXPECT_EQ(rec.events[0].text, "+CME ERROR:159");
    EXPECT_EQ(rec.events[1].text, "+CME ERROR:50");
    EXPECT_EQ(rec.events[2].text, "ERROR");
    EXPECT_EQ(cme_name(Cme::uplink_busy), "uplink busy/flow control");
}

TEST_F(EngineTest, TimeoutLetsTheLineSettleThenTheNextCommandRuns) {
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 1));
    ASSERT_TRUE(engine.submit(cmd::echo_off, &rec, 2));
    wire.take();
    engine.poll(now + 100);
    EXPECT_TRUE(rec.events.empty());
    now = engine.next_deadline();
    engine.poll(now);
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0], (Event{K::final_error, 1, "timeout"}));
    // The late OK of command 1 must not be taken for command 2's: nothing goes out until it came.
    EXPECT_EQ(wire.take(), "");
    EXPECT_TRUE(engine.settling());
    rx("\r\nOK\r\n");
    EXPECT_EQ(wire.take(), "ATE0\r");
    EXPECT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(engine.counters().timeouts, 1u);
    EXPECT_EQ(engine.counters().settles, 1u);
}

TEST_F(EngineTest, PromptTakesPayloadEndedByCtrlZ) {
    rec.payload = "hello, MQTT";
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 5, 0, 0, 0, 0, "topic/pub"));
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,0,0,0,\"topic/pub\"\r");
    rx("\r\n> ");
    EXPECT_EQ(wire.take(), "hello, MQTT\x1A");
    rx("\r\nOK\r\n\r\n+QMTPUB: 0,0,0\r\n");
    ASSERT_EQ(rec.events.size(), 3u);
    EXPECT_EQ(rec.events[2], (Event{K::result, 5, "+QMTPUB: 0,0,0"}));
}

TEST_F(EngineTest, ClaimedUrcTakesPayloadWithCrLfInside) {
    std::string got;
    auto claim = [&](ByteView b, ClaimPhase phase) -> Claim {
        std::string_view s = b.as_text();
        if (phase == ClaimPhase::next_byte && (s.back() == '\r' || s.back() == '\n')) {
            got.assign(s.substr(0, s.size() - 1));
            return Claim::done(s.size() - 1);
        }
        return Claim::need_more();
    };
    ASSERT_TRUE(engine.on_urc_claim("+QMTRECV", ClaimHandler::from(claim)));
    rx("\r\n+QMTRECV: 0,0,\"t\",a,b\r\nc\"d\r\n\r\nOK\r\n");
    EXPECT_EQ(got, "+QMTRECV: 0,0,\"t\",a,b\r\nc\"d\r\n");
    EXPECT_EQ(engine.counters().claims, 1u);
    EXPECT_EQ(engine.counters().stray_finals, 1u);  // the OK after it was still parsed
}

TEST_F(EngineTest, TraceMasksSecrets) {
    std::vector<std::string> trace;
    auto hook = [&](TraceKind, std::string_view t) { trace.emplace_back(t); };
    engine.set_trace(TraceHook::from(hook));
    ASSERT_TRUE(engine.submit(cmd::cfg_aliauth, &rec, 1, 0, "pk1", "dn1", "S3CRET-ds"));
    rx("AT+QMTCFG=\"aliauth\",0,\"pk1\",\"dn1\",\"S3CRET-ds\"\r\r\nOK\r\n");
    ASSERT_TRUE(engine.submit(cmd::conn, &rec, 2, 0, "cid", "user", "P4SSWORD"));
    rx("\r\nOK\r\n");
    ASSERT_TRUE(engine.submit(cmd::tenauth_query, &rec, 3));
    rx("\r\n+QMTTENAUTH: T0KEN\r\n\r\nOK\r\n");
    std::string all;
    for (auto& t : trace) all += t + "\n";
    EXPECT_EQ(all.find("S3CRET"), std::string::npos) << all;
    EXPECT_EQ(all.find("P4SSWORD"), std::string::npos) << all;
    EXPECT_EQ(all.find("T0KEN"), std::string::npos) << all;
    EXPECT_NE(all.find("AT+QMTCFG=\"aliauth\",0,\"pk1\",\"dn1\",\"***\""), std::string::npos)
        << all;
}

}  // namespace
