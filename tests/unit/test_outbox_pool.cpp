// The outbox's byte pool: records cost what they hold, the ring wraps, holes are reclaimed in
// order, and a record whose command is on the wire is never reclaimed.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>
#include "qmtkit/qmt/client.hpp"

#include "support.hpp"

using namespace qmtkit;
using qmt::detail::OutboxPool;
using Rec = qmt::detail::OutboxRecord;

namespace {

static_assert(sizeof(Rec) == 32, "a record's header is 32 bytes");

struct Pool {
    explicit Pool(std::size_t n) : pool(bytes, n) {}
    test::CaptureWriter wire;
    test::Recorder handler;
    at::Engine<> engine{wire};
    alignas(Rec) std::uint8_t bytes[1024]{};
    OutboxPool pool;

    Rec* add(std::size_t topic, std::size_t payload, std::uint32_t ticket) {
        Rec* r = pool.allocate(topic, payload);
        if (r != nullptr) {
            r->state = Rec::State::queued;
            r->ticket = ticket;
            r->topic_len = static_cast<std::uint16_t>(topic);
            r->payload_len = static_cast<std::uint16_t>(payload);
        }
        return r;
    }
    std::vector<std::uint32_t> order() {
        std::vector<std::uint32_t> t;
        for (Rec* r = pool.first(); r != nullptr; r = pool.next(r))
            if (r->state != Rec::State::free) t.push_back(r->ticket);
        return t;
    }
    void done(Rec* r) {
        r->state = Rec::State::free;
        pool.reclaim(engine);
    }
};

TEST(OutboxPool, RecordsCostWhatTheyHold) {
    EXPECT_EQ(OutboxPool::record_size(1, 1), 40u);        // 32 + 2, rounded up to 8
    EXPECT_EQ(OutboxPool::record_size(10, 1014), 1056u);  // a 1 KB message
    Pool p(256);
    EXPECT_TRUE(p.pool.fits(200, 24));
    EXPECT_FALSE(p.pool.fits(200, 25));  // 257 > 256: could never fit
    for (std::uint32_t i = 1; i <= 6; ++i) ASSERT_NE(p.add(1, 1, i), nullptr) << i;
    EXPECT_EQ(p.add(1, 1, 7), nullptr);  // 6 x 40 = 240: 16 bytes left
    EXPECT_EQ(p.pool.used(), 240u);
}

// A gap at the end of the ring smaller than a record header can hold no pad record: it is
// skipped without one. (The client fuzzer found the pad's header written past the pool's end,
// into the memory after it, then walked as a queued record with ticket 0.)
TEST(OutboxPool, NoGapSmallerThanAHeaderIsLeftAtTheEnd) {
    Pool p(104);  // two 40-byte records leave 24 bytes: less than a 32-byte header
    Rec* a = p.add(1, 1, 1);
    Rec* b = p.add(1, 1, 2);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(p.pool.used(), 80u);
    p.done(a);
    ASSERT_NE(p.add(1, 1, 3), nullptr);  // wraps to the start, past the 24-byte gap
    EXPECT_EQ(p.pool.used(), 104u);
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{2, 3}));
    p.done(b);  // the tail moves past the gap
    EXPECT_EQ(p.pool.used(), 40u);
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{3}));
    for (std::size_t i = 104; i < sizeof p.bytes; ++i)
        ASSERT_EQ(p.bytes[i], 0) << "written past the pool's end at " << i;
}

TEST(OutboxPool, WrapsAroundInOrder) {
    Pool p(256);
    Rec* a = p.add(8, 56, 1);  // 96 bytes each
    Rec* b = p.add(8, 56, 2);
    ASSERT_TRUE(a && b);
    p.done(a);                 // tail moves to b
    Rec* c = p.add(8, 56, 3);  // 64 bytes at the end: padded, c goes to the start
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uint8_t*>(c), p.bytes);
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(p.pool.used(), 96u + 64u + 96u);
    p.done(b);  // over b and the pad: c is the tail now
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{3}));
    EXPECT_EQ(p.pool.used(), 96u);
    Rec* d = p.add(8, 56, 4);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{3, 4}));
    p.done(c);
    p.done(d);
    EXPECT_EQ(p.pool.used(), 0u);
    EXPECT_EQ(p.pool.first(), nullptr);
}

TEST(OutboxPool, HolesAreReclaimedWhenEverythingOlderIsDone) {
    Pool p(256);
    Rec* a = p.add(8, 56, 1);
    Rec* b = p.add(8, 56, 2);
    ASSERT_TRUE(a && b);
    p.done(b);  // out of order: a hole behind a
    EXPECT_EQ(p.pool.used(), 192u);
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{1}));
    EXPECT_EQ(p.add(8, 100, 3), nullptr);  // 144 bytes: only 64 at the end, none before a
    ASSERT_NE(p.add(8, 16, 4), nullptr);   // 56 bytes fit at the end
    p.done(a);                             // a, then the hole b left
    EXPECT_EQ(p.order(), (std::vector<std::uint32_t>{4}));
    EXPECT_NE(p.add(8, 100, 5), nullptr);  // now from the start
}

TEST(OutboxPool, ARecordOnTheWireIsNotReclaimed) {
    Pool p(256);
    Rec* a = p.add(8, 56, 1);
    ASSERT_NE(a, nullptr);
    // A publish whose prompt has not come: its payload is still to be written.
    auto seq = p.engine.submit(at::cmd::pub, &p.handler, 0, 0, 1, 1, 0, "topic");
    ASSERT_TRUE(seq);
    ASSERT_TRUE(p.engine.on_wire(*seq));
    a->engine_seq = *seq;
    p.done(a);
    EXPECT_EQ(p.pool.used(), 96u) << "reclaimed while its command was on the wire";
    std::memset(p.bytes + sizeof(Rec), 'x', 64);  // (the test's own write, not the pool's)
    p.engine.abort_all();
    p.pool.reclaim(p.engine);
    EXPECT_EQ(p.pool.used(), 0u);
}

TEST(OutboxPool, FullIsNullNotOverwrite) {
    Pool p(1024);
    std::uint32_t n = 0;
    while (p.add(20, 100, n + 1) != nullptr) ++n;
    EXPECT_EQ(n, 1024u / OutboxPool::record_size(20, 100));
    std::vector<std::uint32_t> want;
    for (std::uint32_t i = 1; i <= n; ++i) want.push_back(i);
    EXPECT_EQ(p.order(), want);
}

}  // namespace
