// qmt::parse_recv on its own: the framing of +QMTRECV, driven the way the engine drives a claim
// handler (line_end after each LF, next_byte for the byte after an LF, idle when the line is
// quiet).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "qmtkit/qmt/recv.hpp"

using namespace qmtkit;
using qmt::PayloadQuoting;
using qmt::RecvParse;
using Status = qmt::RecvParse::Status;

namespace {

struct Outcome {
    Status status = Status::need_more;
    std::size_t consumed = 0;  // bytes of the stream that belonged to the URC
    int msg_id = -1;
    std::string topic;
    std::string payload;
    at::ClaimPhase phase = at::ClaimPhase::idle;  // the phase that ended it
};

RecvParse call(std::string_view buffered, at::ClaimPhase phase, PayloadQuoting q) {
    return qmt::parse_recv(ByteView(buffered), phase, q);
}

// Feeds `stream` byte by byte as the engine does and stops at the first non-need_more answer;
// at the end of the stream the line goes quiet (idle) unless `idle_at_end` is false.
Outcome drive(std::string_view stream, PayloadQuoting q, bool idle_at_end = true) {
    Outcome o;
    bool after_lf = false;
    for (std::size_t n = 1; n <= stream.size(); ++n) {
        const std::string_view buf = stream.substr(0, n);
        const char b = buf.back();
        RecvParse r;
        at::ClaimPhase phase = at::ClaimPhase::line_end;
        if (after_lf) {
            after_lf = false;
            phase = at::ClaimPhase::next_byte;
            r = call(buf, phase, q);
            if (r.status == Status::need_more && b == '\n') {
                after_lf = true;
                phase = at::ClaimPhase::line_end;
                r = call(buf, phase, q);
            }
        } else if (b == '\n') {
            after_lf = true;
            r = call(buf, phase, q);
        } else {
            continue;
        }
        if (r.status != Status::need_more) {
            o.status = r.status;
            o.consumed = r.consumed;
            o.phase = phase;
            if (r.status == Status::complete) {
                o.msg_id = r.message.msg_id;
                o.topic = std::string(r.message.topic);
                o.payload = std::string(r.message.payload.as_text());
            }
            return o;
        }
    }
    if (!idle_at_end) return o;
    const RecvParse r = call(stream, at::ClaimPhase::idle, q);
    o.status = r.status;
    o.consumed = r.consumed;
    o.phase = at::ClaimPhase::idle;
    if (r.status == Status::complete) {
        o.msg_id = r.message.msg_id;
        o.topic = std::string(r.message.topic);
        o.payload = std::string(r.message.payload.as_text());
    }
    return o;
}

constexpr PayloadQuoting kAllModes[] = {PayloadQuoting::detect, PayloadQuoting::quoted,
                                        PayloadQuoting::bare};

TEST(ParseRecv, QuotedPayloadEndsAtTheQuoteBeforeCrLfInQuotedAndDetectModes) {
    const std::string urc =
        "+QMTRECV: 0,7,\"topic/example\",\"This is the payload related to topic\"\r\n";
    for (PayloadQuoting q : {PayloadQuoting::detect, PayloadQuoting::quoted}) {
        const Outcome o = drive(urc + "\r\nOK\r\n", q);
        EXPECT_EQ(o.status, Status::complete);
        EXPECT_EQ(o.phase, at::ClaimPhase::line_end);  // no need to wait for the next byte
        EXPECT_EQ(o.consumed, urc.size());
        EXPECT_EQ(o.msg_id, 7);
        EXPECT_EQ(o.topic, "topic/example");
        EXPECT_EQ(o.payload, "This is the payload related to topic");
    }
}

TEST(ParseRecv, BareModeKeepsTheQuotesAndWaitsForTheNextByte) {
    const std::string urc = "+QMTRECV: 0,7,\"t\",\"quoted\"\r\n";
    const Outcome o = drive(urc + "\r\nOK\r\n", PayloadQuoting::bare);
    EXPECT_EQ(o.status, Status::complete);
    EXPECT_EQ(o.phase, at::ClaimPhase::next_byte);
    EXPECT_EQ(o.consumed, urc.size());  // the CR of the next response is left to the engine
    EXPECT_EQ(o.payload, "\"quoted\"");
}

TEST(ParseRecv, BarePayloadWithCommasQuotesAndUtf8RunsToTheFramedLineEnd) {
    const std::string payload = "这是测试数据, hello \"MQTT\", a,b,,c";
    const std::string urc = "+QMTRECV: 0,0,\"topic/pub\"," + payload + "\r\n";
    for (PayloadQuoting q : kAllModes) {
        const Outcome o = drive(urc + "\r\nOK\r\n", q);
        EXPECT_EQ(o.status, Status::complete);
        EXPECT_EQ(o.consumed, urc.size());
        EXPECT_EQ(o.msg_id, 0);
        EXPECT_EQ(o.topic, "topic/pub");
        EXPECT_EQ(o.payload, payload);
    }
}

TEST(ParseRecv, PayloadWithQuoteCommaQuoteInside) {
    const std::string urc = "+QMTRECV: 0,3,\"t\",\"a\",\"b\"\r\n";
    for (PayloadQuoting q : {PayloadQuoting::detect, PayloadQuoting::quoted}) {
        const Outcome o = drive(urc + "\r\nOK\r\n", q);
        EXPECT_EQ(o.status, Status::complete);
        EXPECT_EQ(o.payload, "a\",\"b");
        EXPECT_EQ(o.topic, "t");
    }
    const Outcome bare = drive(urc + "\r\nOK\r\n", PayloadQuoting::bare);
    EXPECT_EQ(bare.payload, "\"a\",\"b\"");
}

TEST(ParseRecv, BarePayloadWithCrLfInsideIsKeptWhole) {
    const std::string payload = "line1\r\nline2, \"x\"\r\nline3";
    const std::string urc = "+QMTRECV: 0,9,\"t\"," + payload + "\r\n";
    for (PayloadQuoting q : kAllModes) {
        const Outcome o = drive(urc + "\r\n+QMTSTAT: 0,1\r\n", q);
        EXPECT_EQ(o.status, Status::complete) << static_cast<int>(q);
        EXPECT_EQ(o.consumed, urc.size());
        EXPECT_EQ(o.payload, payload);
    }
}

TEST(ParseRecv, QuoteBeforeCrLfInsideAPayload) {
    // A payload holding `"` CR LF: bare mode keeps it whole; quoted mode ends the URC at that
    // quote, as the header documents (the rest is a separate, unrelated line for the engine).
    const std::string payload = "\"ab\"\r\ncd\"";
    const std::string urc = "+QMTRECV: 0,2,\"t\"," + payload + "\r\n";
    const Outcome bare = drive(urc + "\r\nOK\r\n", PayloadQuoting::bare);
    EXPECT_EQ(bare.status, Status::complete);
    EXPECT_EQ(bare.consumed, urc.size());
    EXPECT_EQ(bare.payload, payload);
    const Outcome quoted = drive(urc + "\r\nOK\r\n", PayloadQuoting::quoted);
    EXPECT_EQ(quoted.status, Status::complete);
    EXPECT_EQ(quoted.consumed, std::string("+QMTRECV: 0,2,\"t\",\"ab\"\r\n").size());
    EXPECT_EQ(quoted.payload, "ab");
}

std::string every_byte_payload(std::size_t n, std::uint8_t start) {
    std::string p;
    for (std::size_t i = 0; i < n; ++i)
        p.push_back(static_cast<char>(static_cast<std::uint8_t>(start + i)));
    return p;
}

TEST(ParseRecv, KiloBytePayloadOfEveryByteValue) {
    // 1024 bytes cycling through 0..255: holds NUL, 0x1A, 0x1B, ',' and '"', lone CR and LF, but
    // no CR LF followed by CR or LF (that would be the framing of the next response).
    for (std::uint8_t start :
         {std::uint8_t{0}, std::uint8_t{100}, std::uint8_t{200}}) {  // never ends in CR/LF
        const std::string payload = every_byte_payload(1024, start);
        const std::string urc = "+QMTRECV: 0,65535,\"t/bin\"," + payload + "\r\n";
        for (PayloadQuoting q : {PayloadQuoting::bare, PayloadQuoting::detect}) {
            const Outcome o = drive(urc + "\r\nOK\r\n", q);
            ASSERT_EQ(o.status, Status::complete);
            EXPECT_EQ(o.consumed, urc.size());
            EXPECT_EQ(o.msg_id, 65535);
            EXPECT_TRUE(o.payload == payload) << "start " << int(start);
        }
        const std::string quoted = "+QMTRECV: 0,1,\"t/bin\",\"" + payload + "\"\r\n";
        const Outcome o = drive(quoted + "\r\nOK\r\n", PayloadQuoting::quoted);
        ASSERT_EQ(o.status, Status::complete);
        EXPECT_EQ(o.consumed, quoted.size());
        EXPECT_TRUE(o.payload == payload) << "start " << int(start);
    }
}

TEST(ParseRecv, SpacesAfterTheColonAreOptional) {
    for (const char* urc :
         {"+QMTRECV:0,1,\"t\",p\r\n", "+QMTRECV: 0,1,\"t\",p\r\n", "+QMTRECV:   0,1,\"t\",p\r\n"}) {
        const Outcome o = drive(std::string(urc) + "\r\n", PayloadQuoting::detect);
        EXPECT_EQ(o.status, Status::complete) << urc;
        EXPECT_EQ(o.payload, "p");
    }
}

TEST(ParseRecv, MalformedHeadersAreGivenBackUpToTheLineEnd) {
    for (const char* line : {
             "+QMTRECV: 1,1,\"t\",p\r\n",        // connect id is always 0
             "+QMTRECV: 0,65536,\"t\",p\r\n",    // msgID > 65535
             "+QMTRECV: 0,9999999,\"t\",p\r\n",  // too many digits
             "+QMTRECV: 0,1,t,p\r\n",            // topic not quoted
             "+QMTRECV: 0,1,\"t\r\n",            // topic never closed on the line
             "+QMTRECV: 0,,\"t\",p\r\n",         // no msgID
             "+QMTRECVX: 0,1,\"t\",p\r\n",       // another prefix
         }) {
        for (PayloadQuoting q : kAllModes) {
            const Outcome o = drive(std::string(line) + "\r\nOK\r\n", q);
            EXPECT_EQ(o.status, Status::malformed) << line;
            EXPECT_EQ(o.consumed, std::string(line).size()) << line;
        }
    }
}

TEST(ParseRecv, AtIdleTheHandlerTakesWhatItHas) {
    // A bare payload that is the last thing on the line: nothing follows, the line goes quiet.
    const std::string urc = "+QMTRECV: 0,4,\"t\",last words\r\n";
    const Outcome o = drive(urc, PayloadQuoting::detect);
    EXPECT_EQ(o.status, Status::complete);
    EXPECT_EQ(o.phase, at::ClaimPhase::idle);
    EXPECT_EQ(o.consumed, urc.size());
    EXPECT_EQ(o.payload, "last words");
    // Without a line end at all.
    const Outcome cut = drive("+QMTRECV: 0,4,\"t\",no end", PayloadQuoting::bare);
    EXPECT_EQ(cut.status, Status::complete);
    EXPECT_EQ(cut.payload, "no end");
    // A header that never completed is malformed at idle, and all of it is consumed.
    const Outcome partial = drive("+QMTRECV: 0,4,\"to", PayloadQuoting::detect);
    EXPECT_EQ(partial.status, Status::malformed);
    EXPECT_EQ(partial.consumed, std::string("+QMTRECV: 0,4,\"to").size());
    // Before idle, an incomplete header is need_more.
    EXPECT_EQ(call("+QMTRECV: 0,4,\"to", at::ClaimPhase::line_end, PayloadQuoting::detect).status,
              Status::need_more);
}

TEST(ParseRecv, EmptyPayloads) {
    const Outcome quoted = drive("+QMTRECV: 0,1,\"t\",\"\"\r\n\r\nOK\r\n", PayloadQuoting::detect);
    EXPECT_EQ(quoted.status, Status::complete);
    EXPECT_EQ(quoted.payload, "");
    const Outcome bare = drive("+QMTRECV: 0,1,\"t\",\r\n\r\nOK\r\n", PayloadQuoting::bare);
    EXPECT_EQ(bare.status, Status::complete);
    EXPECT_EQ(bare.payload, "");
}

TEST(ParseRecv, NoteLiteralQuotedRecvWithSpacesAfterCommas) {
    // Chapter 6 prints the first +QMTRECV with a space after each comma of the header.
    const std::string urc =
        "+QMTRECV: 0,0, \"topic/example\", \"This is the payload related to topic\"\r\n";
    const Outcome o = drive(urc + "\r\nOK\r\n", PayloadQuoting::detect);
    EXPECT_EQ(o.consumed, urc.size());
    EXPECT_EQ(o.topic, "topic/example");
    EXPECT_EQ(o.payload, "This is the payload related to topic");
}

TEST(ParseRecvOverflow, PayloadSizeCountsWhatParseRecvWouldDeliver) {
    // The head of a line too long for the engine: the same header, and the size of the payload
    // parse_recv() would have given (found by qmtkit_recv_fuzz, R6; regressions/recv-overflow-*).
    struct Case {
        std::string payload;  // as on the line
        std::size_t size;     // as delivered in detect mode
    };
    for (const Case& c : {Case{"\"abc\"", 3}, Case{" \"abc\"", 3}, Case{"abc", 3}, Case{"  abc", 5},
                          Case{"  \"", 3}}) {
        const std::string line = "+QMTRECV: 0,7,\"t/x\"," + c.payload;
        const qmt::RecvOverflow o =
            qmt::parse_recv_overflow(ByteView(line), line.size(), PayloadQuoting::detect);
        ASSERT_TRUE(o.header_ok) << line;
        EXPECT_EQ(o.msg_id, 7);
        EXPECT_EQ(o.topic, "t/x");
        EXPECT_EQ(o.payload_size, c.size) << line;
        EXPECT_EQ(call(line, at::ClaimPhase::idle, PayloadQuoting::detect).message.payload.size,
                  c.size)
            << line;
    }
    // Only the head is kept: the rest is counted.
    const std::string head = "+QMTRECV: 0,7,\"t/x\",  ab";
    EXPECT_EQ(qmt::parse_recv_overflow(ByteView(head), head.size() + 1000, PayloadQuoting::detect)
                  .payload_size,
              1004u);
}

}  // namespace
