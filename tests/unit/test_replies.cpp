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

TEST(Replies, OpenResultOutsideTheNotesRangeIsAFailureWithItsCode) {
    for (int code = -1; code <= 5; ++code) {
        const OpenReply r = decode_open("+QMTOPEN: 0," + std::to_string(code));
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(static_cast<int>(r.result), code);
        EXPECT_EQ(r.code, code);
    }
    // 256 and -256 are 0 in 8 bits: they read as "opened" and the bring-up went on to CONNECT.
    for (const char* line : {"+QMTOPEN: 0,256", "+QMTOPEN: 0,-256", "+QMTOPEN: 0,374836480"}) {
        const OpenReply r = decode_open(line);
        ASSERT_TRUE(r.ok) << line;
        EXPECT_EQ(r.result, OpenResult::failed) << line;
        const Result<void> o = outcome_of(r);
        ASSERT_FALSE(o.has_value()) << line;
        EXPECT_EQ(o.error().code, Error::open_failed);
        EXPECT_EQ(o.error().value, r.code);  // the module's own number, for the log
    }
    EXPECT_EQ(decode_open("+QMTOPEN: 0,256").code, 256);
}

TEST(Replies, StatCodeOutsideEightBitsIsReservedNotTheCodeOfItsLowByte) {
    EXPECT_EQ(decode_stat("+QMTSTAT: 0,1").code, StatCode::closed_by_peer);
    EXPECT_EQ(recommended_action(decode_stat("+QMTSTAT: 0,8").code), StatAction::wait_for_link);
    // 257 was 1 (reopen at once), 261 was 5 (a normal disconnect: nothing to do).
    for (const char* line : {"+QMTSTAT: 0,257", "+QMTSTAT: 0,261", "+QMTSTAT: 0,-251"}) {
        const StatUrc s = decode_stat(line);
        ASSERT_TRUE(s.ok) << line;
        EXPECT_EQ(static_cast<int>(s.code), 255) << line;
        EXPECT_EQ(recommended_action(s.code), StatAction::wait_for_link) << line;
    }
}

TEST(Replies, TenAuthCodeOutsideEightBitsIsNeverOk) {
    const TenAuthReply ok = decode_tenauth("+QMTTENAUTH: 0,\"pw\"");
    ASSERT_TRUE(ok.ok);
    EXPECT_EQ(ok.code, TenAuthResult::ok);
    EXPECT_EQ(ok.password, "pw");
    const TenAuthReply r = decode_tenauth("+QMTTENAUTH: 256");  // 0 in 8 bits
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.raw, 256);
    EXPECT_NE(r.code, TenAuthResult::ok);
    EXPECT_FALSE(outcome_of(r).has_value());
    EXPECT_EQ(decode_tenauth("+QMTTENAUTH: 6").code, TenAuthResult::timeout);
}

TEST(Replies, ConnectIsAcceptedOnlyWithReturnCodeZeroOrNone) {
    EXPECT_TRUE(outcome_of(decode_conn("+QMTCONN: 0,0,0")).has_value());
    EXPECT_TRUE(outcome_of(decode_conn("+QMTCONN: 0,0")).has_value());
    const Result<void> refused = outcome_of(decode_conn("+QMTCONN: 0,0,5"));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, Error::connect_refused);
    // A negative CONNACK code is no "accepted" (it was: the test was ret <= 0).
    const Result<void> negative = outcome_of(decode_conn("+QMTCONN: 0,0,-5"));
    ASSERT_FALSE(negative.has_value());
    EXPECT_EQ(negative.error().code, Error::connect_refused);
    EXPECT_EQ(negative.error().value, -5);
}

}  // namespace
