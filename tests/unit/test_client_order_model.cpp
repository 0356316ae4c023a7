// The order of first sending within a session, against the emulator's module model under virtual
// time: publishes reach the network in the order they were queued, also when one of them has to
// go again before anything of it was sent (found by the soak, tests/soak: seed 7, a '>' prompt
// 2.4 s late).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model_rig.hpp"

using namespace qmtkit;
using namespace qmtkit::qmt;

namespace {

struct Acks final : Listener {
    std::size_t ok = 0;
    std::size_t failed = 0;
    void on_published(std::uint32_t, const Result<PublishReport>& r) override {
        ++(r ? ok : failed);
    }
};

ByteView bv(const std::string& s) {
    return ByteView(std::string_view(s));
}

// The payloads as they first reached the broker, in order.
std::vector<std::string> first_sent(const bc28sim::test::FakeNetwork& net) {
    std::vector<std::string> out;
    for (const auto& p : net.pubs) {
        bool seen = false;
        for (const auto& o : out) seen = seen || o == p.payload;
        if (!seen) out.push_back(p.payload);
    }
    return out;
}

// m0's '>' comes later than the client waits for it: its command times out and is cancelled
// with ESC, nothing of m0 was sent. m1..m4 were already queued in the engine behind it (the
// window keeps 5 going); they must not overtake m0, which goes again first. Before the fix the
// broker saw m1, m2, m3, m4, m0.
TEST(PublishOrder, APromptTimeoutKeepsTheOrderOfFirstSending) {
    Acks acks;
    test::ModelRig<> rig(acks);
    ASSERT_TRUE(rig.bring_up());
    rig.module.delay_prompt(5000);
    std::vector<std::string> sent;
    for (int i = 0; i < 8; ++i) {
        sent.push_back("m" + std::to_string(i));
        ASSERT_TRUE(rig.client.publish("t/order", bv(sent.back()), {1}));
    }
    ASSERT_TRUE(rig.run_until([&] { return acks.ok + acks.failed == sent.size(); }));
    EXPECT_EQ(acks.failed, 0u);
    EXPECT_GE(rig.client.engine().counters().late_prompts, 1u);  // the fault did happen
    EXPECT_EQ(first_sent(rig.net), sent);
    // Only m0 went twice; what was taken back before it was written is not counted as sent.
    EXPECT_EQ(rig.client.stats().resent, 1u);
}

}  // namespace
