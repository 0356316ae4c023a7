// The typed result-line decoders (qmtkit/qmt/replies.hpp) on lines a module should not send but
// a noisy line can carry: numbers outside the note's ranges are never read as valid ones
// (found by qmtkit_recv_fuzz; tests/fuzz/regressions/recv-*.bin).
#include <gtest/gtest.h>

#include <string>

#include "qmtkit/qmt/replies.hpp"

namespace {

using namespace qmtkit::qmt;

TEST(Replies, PacketReplyOfTheNoteDecodes) {
    const PacketReply r = decode_packet("+QMTSUB: 0,1,0,2", "+QMTSUB");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.msg_id, 1);
    EXPECT_EQ(r.result, PacketResult::acked);
    EXPECT_EQ(r.value, 2);
    const PacketReply top = decode_packet("+QMTPUB: 0,65535,1,3", "+QMTPUB");
    ASSERT_TRUE(top.ok);
    EXPECT_EQ(top.msg_id, 65535);
    EXPECT_EQ(top.result, PacketResult::retransmission);
}

TEST(Replies, PacketReplyWithAMsgIdOutsideTheNotesRangeIsNoReply) {
    // Cast to 16 bits these were msgID 4464 and 65535: another packet's answer.
    EXPECT_FALSE(decode_packet("+QMTPUB: 0,70000,0", "+QMTPUB").ok);
    EXPECT_FALSE(decode_packet("+QMTSUB: 0,-1,0,1", "+QMTSUB").ok);
    EXPECT_FALSE(decode_packet("+QMTUNS: 0,65536,0", "+QMTUNS").ok);
}

}  // namespace
