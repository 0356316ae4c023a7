// The engine under the timing real modules produce (issue 8): a prompt that comes late or never,
// a final result after its command timed out, a result before its command's payload, and
// abandon() outside feed()/poll(). Virtual time; every case is a transcript.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_fixture.hpp"

using namespace qmtkit;
using namespace qmtkit::at;
using test::Event;
using K = test::Event::Kind;

namespace {

constexpr Instant kNever = ~Instant{0};

struct Timing : test::EngineFixture {
    Timing() : test::EngineFixture(/*round_deadlines=*/true) {}
};

// ------------------------------------------------------------------------------ late prompt

TEST_F(Timing, PromptLaterThanTheQuickTimeoutIsStillServed) {
    rec.payload = "hello";
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a"));
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 2));
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,7,1,0,\"t/a\"\r");
    advance(600);  // bc28-sim's "delay 600": twice the note's 300 ms
    EXPECT_TRUE(rec.events.empty());
    EXPECT_EQ(wire.take(), "");  // nothing else may go: the module may be in data mode
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "hello\x1A");
    rx("\r\nOK\r\n");
    EXPECT_EQ(wire.take(), "AT\r");
    rx("\r\nOK\r\n\r\n+QMTPUB: 0,7,0\r\n");
    EXPECT_EQ(rec.events, (std::vector<Event>{{K::prompt, 1, {}},
                                              {K::final_ok, 1, {}},
                                              {K::final_ok, 2, {}},
                                              {K::result, 1, "+QMTPUB: 0,7,0"}}));
}

TEST_F(Timing, PromptThatNeverComesIsCancelledWithEscAndTheLineSettlesFirst) {
    rec.payload = "hello";
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a"));
    ASSERT_TRUE(engine.submit(cmd::sub, &rec, 2, 0, 8, "t/b", 1));
    wire.take();
    EXPECT_EQ(engine.next_deadline(), now + cmd::kPrompt);
    advance(cmd::kPrompt - 1);
    EXPECT_EQ(wire.take(), "");
    advance(1);
    // Asked for a payload it could write blind; a Ctrl-Z one it cannot: the command times out.
    EXPECT_EQ(rec.events,
              (std::vector<Event>{{K::prompt, 1, "late"}, {K::final_error, 1, "timeout"}}));
    // ESC leaves data mode; the next command waits for the module to say so.
    EXPECT_EQ(wire.take(), "\x1B");
    advance(100);
    EXPECT_EQ(wire.take(), "");
    // bc28-sim with "delay 3000": the late prompt, then the OK its ESC earned.
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "");
    rx("\r\nOK\r\n");
    EXPECT_EQ(wire.take(), "AT+QMTSUB=0,8,\"t/b\",1\r");
    EXPECT_EQ(rec.events.size(), 2u);  // the pub ended once, its payload never went out
    EXPECT_EQ(engine.counters().late_prompts, 1u);
}

TEST_F(Timing, PromptAfterTheEscWithoutAnOkGetsAnotherEscNeverACommand) {
    rec.payload = "hello";
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a"));
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 2));
    wire.take();
    advance(cmd::kPrompt);
    EXPECT_EQ(wire.take(), "\x1B");
    // The module was still parsing and lost the ESC; now it shows '>' and waits for data.
    rx("\r\n> ");
    advance(EngineConfig::settle_ms);
    EXPECT_EQ(wire.take(), "\x1B");
    rx("\r\nOK\r\n");
    EXPECT_EQ(wire.take(), "AT\r");
}

TEST_F(Timing, SilentModuleIsProbedThenTheEngineGivesUpSettling) {
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a"));
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 2));
    wire.take();
    advance(cmd::kPrompt);
    EXPECT_EQ(wire.take(), "\x1B");
    std::string probes;
    for (int i = 0; i < EngineConfig::settle_probes; ++i) {
        advance(EngineConfig::settle_ms);
        probes += wire.take();
    }
    EXPECT_EQ(probes, "AT\rAT\rAT\r");
    advance(EngineConfig::settle_ms);
    EXPECT_EQ(wire.take(), "AT\r");  // command 2 itself: the engine went on
    EXPECT_EQ(engine.counters().settle_failures, 1u);
    advance(cmd::kQuick);
    EXPECT_EQ(rec.events.back(), (Event{K::final_error, 2, "timeout"}));
}

TEST_F(Timing, FixedLengthPayloadIsWrittenBlindWhenThePromptIsLate) {
    rec.payload = std::string("\x00\x1A\x1B\x01", 4);
    rec.end = Payload::End::fixed;
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a", 4));
    wire.take();
    advance(cmd::kPrompt);
    // No ESC can leave fixed-length data mode (it would be payload): the module waits for
    // exactly these 4 bytes whether or not it showed the prompt.
    EXPECT_EQ(wire.take(), std::string("\x00\x1A\x1B\x01", 4));
    rx("\r\n>");  // the late prompt is not a second request
    EXPECT_EQ(wire.take(), "");
    rx("\r\nOK\r\n\r\n+QMTPUB: 0,7,0\r\n");
    EXPECT_EQ(rec.events,
              (std::vector<Event>{
                  {K::prompt, 1, "late"}, {K::final_ok, 1, {}}, {K::result, 1, "+QMTPUB: 0,7,0"}}));
}

// ------------------------------------------------------------------------ late final results

TEST_F(Timing, LateOkOfATimedOutCommandIsNotTakenByTheNext) {
    ASSERT_TRUE(engine.submit(cmd::cfg_version, &rec, 1, 0, 4));
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 2, 0, 7, 1, 0, "t/a"));
    rec.payload = "hello";
    wire.take();
    advance(cmd::kQuick);
    EXPECT_EQ(rec.events[0], (Event{K::final_error, 1, "timeout"}));
    EXPECT_EQ(wire.take(), "");
    rx("\r\nOK\r\n");  // command 1's, 100 ms late
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,7,1,0,\"t/a\"\r");
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "hello\x1A");
}

TEST_F(Timing, OkBeforeThePromptIsStrayAndThePromptIsStillServed) {
    rec.payload = "hello";
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a"));
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 2));
    wire.take();
    // An OK that overtakes the '>' belongs to an earlier command: taking it as this one's
    // final would send command 2 into the module's data mode as payload.
    rx("\r\nOK\r\n");
    EXPECT_TRUE(rec.events.empty());
    EXPECT_EQ(wire.take(), "");
    EXPECT_EQ(engine.counters().stray_finals, 1u);
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "hello\x1A");
    rx("\r\nOK\r\n");
    EXPECT_EQ(wire.take(), "AT\r");
}

TEST_F(Timing, ErrorBeforeThePromptIsTheCommandsOwn) {
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a"));
    wire.take();
    rx("\r\n+CME ERROR: 159\r\n");
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0], (Event{K::final_error, 1, "+CME ERROR:159"}));
}

// ----------------------------------------------------------- a result before its own payload

struct FlagRecorder final : CommandHandler {
    std::vector<std::string> log;
    void on_final(const CommandRef& r, const Outcome& o) override {
        log.push_back("final " + std::to_string(r.tag) + (o ? " OK" : " error"));
    }
    Payload on_prompt(const CommandRef& r) override {
        log.push_back("prompt " + std::to_string(r.tag));
        return Payload{ByteView(std::string_view("p")), Payload::End::ctrl_z};
    }
    ResultVerdict on_result(const CommandRef& r, std::string_view line) override {
        log.push_back("result " + std::to_string(r.tag) + (r.before_payload ? " early " : " ") +
                      std::string(line));
        return r.before_payload ? ResultVerdict::intermediate : ResultVerdict::done;
    }
};

TEST_F(Timing, AResultBeforeThePayloadIsMarkedAsAnEarlierAttempts) {
    FlagRecorder h;
    ASSERT_TRUE(engine.submit(cmd::pub, &h, 1, 0, 7, 1, 0, "t/a"));
    wire.take();
    rx("\r\n+QMTPUB: 0,7,0\r\n");  // the first attempt's result, long after its timeout
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "p\x1A");
    rx("\r\nOK\r\n\r\n+QMTPUB: 0,7,0\r\n");
    EXPECT_EQ(h.log, (std::vector<std::string>{"result 1 early +QMTPUB: 0,7,0", "prompt 1",
                                               "final 1 OK", "result 1 +QMTPUB: 0,7,0"}));
}

// ------------------------------------------------------------------------------ abandon()

TEST_F(Timing, AbandonOutsideFeedAndPollRestartsTheQueue) {
    // Fill every result slot with an acknowledged SUB, then queue one more.
    std::vector<std::uint32_t> seqs;
    for (std::size_t i = 0; i < EngineConfig::result_slots; ++i) {
        auto r = engine.submit(cmd::sub, &rec, 1, 0, static_cast<int>(i + 1), "t", 1);
        ASSERT_TRUE(r);
        seqs.push_back(*r);
        wire.take();
        rx("\r\nOK\r\n");
    }
    ASSERT_TRUE(engine.submit(cmd::sub, &rec, 2, 0, 99, "u", 1));
    EXPECT_EQ(wire.take(), "");  // back-pressure: every slot awaits a result
    // The link dropped: the owner forgets its commands, from neither feed() nor poll().
    for (std::uint32_t seq : seqs) ASSERT_TRUE(engine.abandon(seq));
    EXPECT_EQ(wire.take(), "AT+QMTSUB=0,99,\"u\",1\r");
    EXPECT_NE(engine.next_deadline(), kNever);
}

TEST_F(Timing, NextDeadlineIsNeverNeverWhileWorkIsQueuedOrAwaited) {
    for (std::size_t i = 0; i < EngineConfig::result_slots; ++i) {
        ASSERT_TRUE(engine.submit(cmd::sub, &rec, 1, 0, static_cast<int>(i + 1), "t", 1));
        rx("\r\nOK\r\n");
        EXPECT_NE(engine.next_deadline(), kNever);
    }
    ASSERT_TRUE(engine.submit(cmd::sub, &rec, 2, 0, 99, "u", 1));
    wire.take();
    // A host that only ever sleeps until next_deadline() sees every command end.
    for (int i = 0; i < 1000 && !engine.idle(); ++i) {
        const Instant t = engine.next_deadline();
        ASSERT_NE(t, kNever) << "queued " << engine.queued();
        now = t > now ? t : now;
        engine.poll(now);
    }
    EXPECT_TRUE(engine.idle());
    std::size_t ended = 0;
    for (const Event& e : rec.events) {
        ended += e.kind == K::result_error || e.kind == K::final_error ? 1u : 0u;
    }
    EXPECT_EQ(ended, EngineConfig::result_slots + 1);
}

TEST_F(Timing, OnWireHoldsUntilTheFinalEvenAfterAbandon) {
    rec.payload = "hello";
    auto seq = engine.submit(cmd::pub, &rec, 1, 0, 7, 1, 0, "t/a");
    ASSERT_TRUE(seq);
    EXPECT_TRUE(engine.on_wire(*seq));
    ASSERT_TRUE(engine.abandon(*seq));
    EXPECT_TRUE(engine.on_wire(*seq));  // its bytes still go out: their storage must stay
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,7,1,0,\"t/a\"\r\x1B");  // nobody to ask: cancelled
    rx("\r\nOK\r\n");
    EXPECT_FALSE(engine.on_wire(*seq));
    EXPECT_TRUE(rec.events.empty());
}

}  // namespace

namespace {
// Found by the engine fuzzer: a reboot banner handled inside feed() aborted everything, and the
// command its owner submitted again from on_final(aborted) went out at once — so a '>' later in
// the same chunk, sent before the module could have seen that command, was taken as its prompt.
struct Resubmitter final : CommandHandler {
    EngineCore* engine = nullptr;
    std::vector<std::string> log;
    void on_final(const CommandRef& r, const Outcome& o) override {
        log.push_back("final " + std::to_string(r.tag) + (o ? " OK" : " error"));
        if (!o && r.tag == 1) {
            EXPECT_TRUE(engine->submit(cmd::pub, this, 2, 0, 9, 1, 0, "t/new"));
        }
    }
    Payload on_prompt(const CommandRef& r) override {
        log.push_back("prompt " + std::to_string(r.tag));
        return Payload{ByteView(std::string_view("new")), Payload::End::ctrl_z};
    }
    void on_reboot(std::string_view) { engine->abort_all(); }
};

TEST_F(Timing, BytesOfTheSameChunkAreNotRepliesToACommandWrittenWhileReadingIt) {
    Resubmitter h;
    h.engine = &engine;
    ASSERT_TRUE(engine.on_urc("REBOOT_CAUSE", UrcHandler::bind<&Resubmitter::on_reboot>(&h), true));
    ASSERT_TRUE(engine.submit(cmd::pub, &h, 1, 0, 7, 1, 0, "t/old"));
    wire.take();
    rx("\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\n>");
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,9,1,0,\"t/new\"\r");  // after the chunk, and no payload
    EXPECT_EQ(h.log, (std::vector<std::string>{"final 1 error"}));
    rx("\r\n>");
    EXPECT_EQ(wire.take(), "new\x1A");
}
}  // namespace
