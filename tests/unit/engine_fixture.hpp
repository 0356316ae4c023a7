// The fixture the engine tests share: an Engine<> under a virtual clock, writing to a
// CaptureWriter, its commands answered to a Recorder.
#pragma once

#include <gtest/gtest.h>

#include <string_view>

#include "qmtkit/at/commands.hpp"
#include "support.hpp"

namespace qmtkit::test {

template <class Config = at::EngineConfig>
struct BasicEngineFixture : ::testing::Test {
    CaptureWriter wire;
    at::Engine<Config> engine{wire};
    Recorder rec;
    Instant now = 1000;

    // round_deadlines: no time for bytes on the line, so deadlines are the declared ones.
    explicit BasicEngineFixture(bool round_deadlines = false) {
        if (round_deadlines) engine.set_byte_time_us(0);
        engine.poll(now);
    }
    void rx(std::string_view s) { engine.feed(s, now); }
    void advance(Millis ms) {
        now += ms;
        engine.poll(now);
    }
    // AT, its OK, and the Recorder saw it end.
    void at_round_trip(std::uint32_t tag) {
        ASSERT_TRUE(engine.submit(at::cmd::at, &rec, tag));
        ASSERT_EQ(wire.take(), "AT\r");
        rx("\r\nOK\r\n");
        ASSERT_FALSE(rec.events.empty());
        ASSERT_EQ(rec.events.back(), (Event{Event::Kind::final_ok, tag, {}}));
    }
};

using EngineFixture = BasicEngineFixture<>;

}  // namespace qmtkit::test
