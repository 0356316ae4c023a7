// qmt::FlashLog over a simulated NOR flash: the basics on every write unit, a full store, corrupt
// and refused writes, and a scripted run (appends of every size, releases in and out of order,
// several wraps of the page ring with pending records moved forward) replayed with the power cut
// at every write step, each step torn three ways, and the store checked after the reboot.
#include <gtest/gtest.h>
#include <cstring>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "qmtkit/common/crc32.hpp"
#include "qmtkit/qmt/flash_log.hpp"
#include "sim_flash.hpp"
#include "store_contents.hpp"

using namespace qmtkit;
using qmt::FlashLog;
using qmt::StoreError;
using test::Contents;
using test::drain;
using test::Msg;
using test::SimFlash;
using test::Tear;

namespace {

std::uint32_t append_ok(FlashLog& log, const Msg& m) {
    auto r = log.append(m.stored());
    EXPECT_TRUE(r.has_value()) << (r ? "" : qmt::to_string(r.error()));
    return r ? r.value() : 0;
}

struct Rng {
    std::uint32_t s;
    std::uint32_t operator()() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return s;
    }
    std::uint32_t below(std::uint32_t n) { return (*this)() % n; }
};

Msg random_msg(Rng& rng) {
    Msg m;
    const std::uint32_t t = rng.below(20);
    const std::size_t tlen = t == 0 ? 255 : 1 + rng.below(40);
    for (std::size_t i = 0; i < tlen; ++i) m.topic += static_cast<char>('a' + rng.below(26));
    const std::uint32_t p = rng.below(16);
    const std::size_t plen = p == 0 ? 1024 : p == 1 ? 0 : p == 2 ? 1 : rng.below(300);
    for (std::size_t i = 0; i < plen; ++i) m.payload += static_cast<char>(rng.below(256));
    m.qos = static_cast<std::uint8_t>(1 + rng.below(2));
    m.retain = rng.below(5) == 0;
    m.fixed = rng.below(7) == 0;
    return m;
}

TEST(OutboxStore, ErrorsHaveNames) {
    EXPECT_EQ(qmt::to_string(StoreError::full), "the outbox store is full");
    EXPECT_FALSE(qmt::to_string(StoreError::io).empty());
    EXPECT_FALSE(qmt::to_string(StoreError::corrupt).empty());
}

TEST(Crc32, CheckValue) {
    EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
    EXPECT_EQ(crc32("", 0), 0u);
}

class FlashLogUnits : public ::testing::TestWithParam<std::uint32_t> {};

// Every kind of record round-trips, on every write unit, and across a remount.
TEST_P(FlashLogUnits, AppendNextReleaseAndRemount) {
    SimFlash f(2048, 4, GetParam());
    FlashLog log(f);
    ASSERT_TRUE(log.mount());
    EXPECT_EQ(log.pages_used(), 0u);
    qmt::StoredMessage out;
    char topic[256];
    std::uint8_t payload[1100];
    EXPECT_FALSE(log.next(0, out, topic, sizeof topic, payload, sizeof payload));

    const Msg a{"t", "", 1, false, false};
    const Msg b{std::string(255, 'x'), std::string(1024, '\x1a'), 2, true, true};
    const Msg c{"sensors/1", std::string("\x00\xff\x1b", 3), 1, true, false};
    Contents want;
    want[append_ok(log, a)] = a;
    want[append_ok(log, b)] = b;
    want[append_ok(log, c)] = c;
    EXPECT_EQ(want.begin()->first, 1u);
    EXPECT_EQ(drain(log), want);

    log.release(want.begin()->first + 1);  // b
    want.erase(want.begin()->first + 1);
    EXPECT_EQ(drain(log), want);

    FlashLog again(f);
    ASSERT_TRUE(again.mount());
    EXPECT_EQ(drain(again), want);
    EXPECT_EQ(append_ok(again, a), 4u);  // ids go on from where they were
    EXPECT_TRUE(f.violations.empty()) << f.violations.front();
}

// Many wraps of the ring with a few long-lived records: ids keep increasing, what is pending is
// there after any remount.
TEST_P(FlashLogUnits, WrapsTheRingManyTimes) {
    SimFlash f(1536, 3, GetParam());
    auto log = std::make_unique<FlashLog>(f);
    ASSERT_TRUE(log->mount());
    Rng rng{0x1234u + GetParam()};
    Contents want;
    std::uint32_t last = 0;
    for (int i = 0; i < 600; ++i) {
        Msg m = random_msg(rng);
        m.payload.resize(m.payload.size() % 200);
        if (m.topic.size() > 100) m.topic.resize(100);
        const std::uint32_t id = append_ok(*log, m);
        ASSERT_GT(id, last);
        last = id;
        want[id] = m;
        // Release all but every 50th, which stays until 120 appends later.
        for (auto it = want.begin(); it != want.end();) {
            const bool old = it->first + 120 < id;
            if (it->first != id && (it->first % 50 != 0 || old)) {
                log->release(it->first);
                it = want.erase(it);
            } else {
                ++it;
            }
        }
        if (i % 37 == 0) {
            log = std::make_unique<FlashLog>(f);
            ASSERT_TRUE(log->mount());
        }
        ASSERT_EQ(drain(*log), want) << "after append " << i;
    }
    EXPECT_GT(f.erases, 20);
    EXPECT_TRUE(f.violations.empty()) << f.violations.front();
}

INSTANTIATE_TEST_SUITE_P(WriteUnit, FlashLogUnits, ::testing::Values(1u, 2u, 4u, 8u, 16u));

// Ids keep increasing after every record was released and its page erased.
TEST(FlashLog, IdsIncreaseAfterEverythingWasErased) {
    SimFlash f(512, 2, 4);
    std::uint32_t last = 0;
    for (int boot = 0; boot < 5; ++boot) {
        FlashLog log(f);
        ASSERT_TRUE(log.mount());
        for (int i = 0; i < 30; ++i) {
            const std::uint32_t id = append_ok(log, Msg{"t", std::string(40, 'p')});
            ASSERT_GT(id, last);
            last = id;
            log.release(id);
        }
        EXPECT_TRUE(drain(log).empty());
    }
    EXPECT_GT(f.erases, 5);
}

// Full: the caller keeps the message, nothing is erased or written in vain, and room comes back
// with releases.
TEST(FlashLog, FullThenRoomAfterReleases) {
    SimFlash f(1024, 4, 8);
    FlashLog log(f);
    ASSERT_TRUE(log.mount());
    const Msg m{"full/test", std::string(200, 'f')};
    std::vector<std::uint32_t> ids;
    for (;;) {
        auto r = log.append(m.stored());
        if (!r) {
            ASSERT_EQ(r.error(), StoreError::full);
            break;
        }
        ids.push_back(r.value());
        ASSERT_LT(ids.size(), 100u);
    }
    EXPECT_GE(ids.size(), 9u);  // three of the four pages (one is the reserve), four records each
    const long steps = f.steps;
    EXPECT_EQ(log.append(m.stored()).error(), StoreError::full);
    EXPECT_EQ(f.steps, steps) << "a full store with nothing to reclaim writes nothing";
    EXPECT_EQ(drain(log).size(), ids.size());

    // Released out of order: the newest and one in the middle.
    log.release(ids.back());
    log.release(ids[1]);
    const std::uint32_t a = append_ok(log, m);
    const std::uint32_t b = append_ok(log, m);
    EXPECT_GT(a, ids.back());
    EXPECT_GT(b, a);
    EXPECT_EQ(log.append(m.stored()).error(), StoreError::full);
    FlashLog again(f);
    ASSERT_TRUE(again.mount());
    EXPECT_EQ(drain(again).size(), ids.size());
    EXPECT_TRUE(f.violations.empty()) << f.violations.front();
}

TEST(FlashLog, TooLargeOrUnmounted) {
    SimFlash f(512, 2, 4);
    FlashLog log(f);
    EXPECT_EQ(log.append(Msg{"t", "x"}.stored()).error(), StoreError::io);
    ASSERT_TRUE(log.mount());
    EXPECT_EQ(log.max_payload(1), 512u - 20 - 8 - 16 - 1);
    EXPECT_EQ(log.append(Msg{"t", std::string(log.max_payload(1) + 1, 'x')}.stored()).error(),
              StoreError::full);
    append_ok(log, Msg{"t", std::string(log.max_payload(1), 'x')});

    SimFlash one_page(512, 1, 4);
    FlashLog bad(one_page);
    EXPECT_FALSE(bad.mount());
    SimFlash odd_unit(512, 2, 3);
    FlashLog bad2(odd_unit);
    EXPECT_FALSE(bad2.mount());
}

// A record whose body went bad is reported once (counted), skipped, and the rest are intact.
TEST(FlashLog, CorruptRecordIsSkippedOnce) {
    SimFlash f(1024, 3, 4);
    Contents want;
    {
        FlashLog log(f);
        ASSERT_TRUE(log.mount());
        for (int i = 0; i < 3; ++i) {
            const Msg m{"c/" + std::to_string(i), "payload " + std::to_string(i)};
            want[append_ok(log, m)] = m;
        }
    }
    // Flip a 1 in the second record's payload to 0 (what bit rot on NOR looks like).
    const std::string needle = "payload 1";
    auto at = std::search(f.mem.begin(), f.mem.end(), needle.begin(), needle.end());
    ASSERT_NE(at, f.mem.end());
    *at = static_cast<std::uint8_t>(*at & 0xBF);  // 'p' -> '0'
    want.erase(2);
    FlashLog log(f);
    ASSERT_TRUE(log.mount());
    EXPECT_EQ(log.corrupt_records(), 1u);
    EXPECT_EQ(drain(log), want);
    FlashLog again(f);
    ASSERT_TRUE(again.mount());
    EXPECT_EQ(again.corrupt_records(), 0u);  // released the first time
    EXPECT_EQ(drain(again), want);
}

// The part refuses a program: io, and the store goes on in a fresh page afterwards.
TEST(FlashLog, RefusedProgramIsIoAndTheStoreGoesOn) {
    SimFlash f(1024, 4, 8);
    FlashLog log(f);
    ASSERT_TRUE(log.mount());
    Contents want;
    const Msg m{"io", "before"};
    want[append_ok(log, m)] = m;
    f.refuse_programs = true;
    EXPECT_EQ(log.append(m.stored()).error(), StoreError::io);
    f.refuse_programs = false;
    const Msg n{"io", "after"};
    want[append_ok(log, n)] = n;
    EXPECT_EQ(drain(log), want);
    FlashLog again(f);
    ASSERT_TRUE(again.mount());
    EXPECT_EQ(drain(again), want);
}

// A record that does not fit the caller's buffers is not copied: next() reports its sizes (the
// client asks for them first, then reads the record straight into its outbox), and the next
// record after it is reachable.
TEST(FlashLog, RecordLargerThanTheBuffersReportsItsSizes) {
    SimFlash f(2048, 2, 4);
    FlashLog log(f);
    ASSERT_TRUE(log.mount());
    const std::uint32_t big = append_ok(log, Msg{"big", std::string(1000, 'b')});
    const std::uint32_t small = append_ok(log, Msg{"small", "s"});
    qmt::StoredMessage out;
    char topic[16];
    std::uint8_t payload[16];
    std::memset(payload, 0x5A, sizeof payload);
    ASSERT_TRUE(log.next(0, out, topic, sizeof topic, payload, sizeof payload));
    EXPECT_EQ(out.id, big);
    EXPECT_EQ(out.topic_size, 3u);
    EXPECT_EQ(out.payload_size, 1000u);
    EXPECT_TRUE(out.topic.empty());
    EXPECT_EQ(out.payload.size, 0u);
    EXPECT_EQ(payload[0], 0x5A) << "copied into a buffer too small";
    ASSERT_TRUE(log.next(big, out, topic, sizeof topic, payload, sizeof payload));
    EXPECT_EQ(out.id, small);
    EXPECT_EQ(out.topic, "small");
    EXPECT_EQ(out.payload_size, 1u);
}

// --- Power cuts -------------------------------------------------------------------------------

struct Op {
    bool append = true;
    Msg msg;              // append
    std::size_t ref = 0;  // release: the index of the append op whose id is released
};

// Appends of varied sizes (0 and 1 KB payloads, 255-byte topics); releases mostly of the oldest,
// a quarter out of order, and every 11th record long-lived so the head page has pending records
// to move forward when it is reclaimed.
std::vector<Op> make_script(std::uint32_t seed, std::size_t count) {
    Rng rng{seed};
    std::vector<Op> ops;
    std::vector<std::size_t> pending;  // op indexes of appends not yet released
    std::size_t appends = 0;
    while (ops.size() < count) {
        const bool must_release = pending.size() >= 8;
        if (!must_release && (pending.size() < 2 || rng.below(100) < 55)) {
            Op op;
            op.msg = random_msg(rng);
            pending.push_back(ops.size());
            ops.push_back(op);
            ++appends;
            continue;
        }
        std::size_t pick = 0;
        if (rng.below(4) == 0) {
            pick = rng.below(static_cast<std::uint32_t>(pending.size()));
        } else {
            // The oldest that is not long-lived, unless a long-lived one is old enough.
            while (pick + 1 < pending.size() && pending[pick] % 11 == 0 &&
                   ops.size() - pending[pick] < 60)
                ++pick;
        }
        Op op;
        op.append = false;
        op.ref = pending[pick];
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(pick));
        ops.push_back(op);
    }
    return ops;
}

// What the application knows when the power goes.
struct Oracle {
    Contents durable;                  // append() returned these
    std::set<std::uint32_t> released;  // release() returned
    std::optional<Msg> append_cut;     // the append the power cut interrupted
    std::optional<std::uint32_t> release_cut;
    std::uint32_t max_id = 0;
};

// Runs the script until the power goes (or to its end); the ids it got, by op index.
Oracle run(FlashLog& log, SimFlash& f, const std::vector<Op>& ops) {
    Oracle o;
    std::vector<std::uint32_t> ids(ops.size(), 0);
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const Op& op = ops[i];
        if (op.append) {
            auto r = log.append(op.msg.stored());
            if (f.dead) {
                o.append_cut = op.msg;
                break;
            }
            if (r) {
                ids[i] = r.value();
                o.durable[r.value()] = op.msg;
                o.max_id = r.value();
            }
        } else if (ids[op.ref] != 0) {
            log.release(ids[op.ref]);
            if (f.dead) {
                o.release_cut = ids[op.ref];
                break;
            }
            o.released.insert(ids[op.ref]);
        }
    }
    return o;
}

// The store after the reboot, against what the application knew.
void check_recovered(const Contents& got, const Oracle& o, const std::string& where) {
    std::size_t extra = 0;
    for (const auto& [id, msg] : got) {
        auto it = o.durable.find(id);
        if (it == o.durable.end()) {
            // Only the interrupted append may show up, once, with an id after every other.
            ASSERT_TRUE(o.append_cut.has_value()) << where << ": id " << id << " never appended";
            EXPECT_EQ(msg, *o.append_cut) << where;
            EXPECT_GT(id, o.max_id) << where;
            EXPECT_EQ(++extra, 1u) << where;
            continue;
        }
        EXPECT_EQ(msg, it->second) << where << ": id " << id;
        EXPECT_TRUE(o.released.count(id) == 0) << where << ": id " << id << " was released";
    }
    for (const auto& [id, msg] : o.durable) {
        if (o.released.count(id) != 0 || o.release_cut == id) continue;
        EXPECT_TRUE(got.count(id) == 1) << where << ": pending id " << id << " lost";
    }
}

struct Geometry {
    std::uint32_t page;
    std::uint32_t pages;
    std::uint32_t unit;
};

class FlashLogPowerCut : public ::testing::TestWithParam<Geometry> {};

TEST_P(FlashLogPowerCut, AtEveryWriteStep) {
    const Geometry g = GetParam();
    const std::vector<Op> ops = make_script(0xC0FFEEu + g.unit, 400);

    // The run without a cut: how many write steps it has, and that it wraps the ring.
    SimFlash ref(g.page, g.pages, g.unit);
    long steps = 0;
    {
        FlashLog log(ref);
        ASSERT_TRUE(log.mount());
        const Oracle o = run(log, ref, ops);
        steps = ref.steps;
        check_recovered(drain(log), o, "no cut");
        ASSERT_GE(ref.erases, 3 * static_cast<long>(g.pages)) << "the script wraps the ring";
        ASSERT_TRUE(ref.violations.empty()) << ref.violations.front();
    }
    std::size_t cuts = 0;
    std::size_t release_cuts_resurrected = 0;
    std::size_t full_after_cut = 0;
    for (long k = 1; k <= steps; ++k) {
        for (Tear tear : {Tear::nothing, Tear::prefix, Tear::partial_unit}) {
            const std::string where = "cut at step " + std::to_string(k) + " of " +
                                      std::to_string(steps) + ", tear " +
                                      std::to_string(static_cast<int>(tear));
            SimFlash f(g.page, g.pages, g.unit);
            f.cut_at = k;
            f.tear = tear;
            Oracle o;
            {
                FlashLog log(f);
                ASSERT_TRUE(log.mount());
                o = run(log, f, ops);
                ASSERT_TRUE(f.dead) << where;
            }
            ++cuts;
            f.power_on();
            FlashLog log(f);
            ASSERT_TRUE(log.mount()) << where;
            Contents got = drain(log);
            check_recovered(got, o, where);
            if (o.release_cut && got.count(*o.release_cut) != 0) ++release_cuts_resurrected;

            // A second reboot finds the same; appending goes on with a higher id.
            FlashLog again(f);
            ASSERT_TRUE(again.mount()) << where;
            ASSERT_EQ(drain(again), got) << where;
            const Msg probe{"after/reboot", "probe"};
            auto id = again.append(probe.stored());
            if (!id && id.error() == StoreError::full) {
                // A reset while reclamation was moving a nearly all-pending head page forward
                // can leave no free page: room comes back as the oldest records are released
                // (a client re-sends them first).
                ++full_after_cut;
                for (const auto& rec : got) again.release(rec.first);
                got.clear();
                id = again.append(probe.stored());
            }
            ASSERT_TRUE(id.has_value()) << where;
            EXPECT_GT(id.value(), got.empty() ? o.max_id : std::max(o.max_id, got.rbegin()->first))
                << where;
            Contents with_probe = got;
            with_probe[id.value()] = probe;
            ASSERT_EQ(drain(again), with_probe) << where;
            FlashLog third(f);
            ASSERT_TRUE(third.mount()) << where;
            ASSERT_EQ(drain(third), with_probe) << where;
            ASSERT_TRUE(f.violations.empty()) << where << ": " << f.violations.front();
            if (::testing::Test::HasFailure()) return;
        }
    }
    EXPECT_EQ(cuts, static_cast<std::size_t>(3 * steps));
    EXPECT_GT(release_cuts_resurrected, 0u) << "an interrupted release leaves the record pending";
    std::printf(
        "[ power cuts ] %ld write steps x 3 tears = %zu cuts (page %u x %u, unit %u); "
        "%zu left the store full until releases\n",
        steps, cuts, g.page, g.pages, g.unit, full_after_cut);
}

INSTANTIATE_TEST_SUITE_P(Geometries, FlashLogPowerCut,
                         ::testing::Values(Geometry{2048, 5, 8}, Geometry{2048, 3, 4}),
                         [](const auto& p) {
                             return "page" + std::to_string(p.param.page) + "x" +
                                    std::to_string(p.param.pages) + "_unit" +
                                    std::to_string(p.param.unit);
                         });

}  // namespace
