// Chapter 6 of the vendor note ("6.1. MQTT 操作举例") replayed byte for byte through the engine,
// with echo off and with echo on (ATE1), and with the '>' prompt with and without a trailing
// space. The command bytes the engine writes are compared with the note's command lines plus CR;
// the module's answers are framed "\r\n...\r\n". A handler parses every information and result
// line with FieldReader and the test checks the typed values.
//
// Where the note cannot be taken literally (and what the replay does instead):
//   - the AT+QMTCONN line is missing; it is reconstructed as AT+QMTCONN=0,"MQTT_TEST" (aliauth
//     configured, so <username> and <password> are omitted, as the note's comment says);
//   - AT+QMTDISC=0 shows only OK: the replay checks that the result is still awaited, then feeds
//     the reconstructed +QMTDISC: 0,0 (and a separate test lets it time out);
//   - "+QMTUNS: 0.2.0" is a typo of "+QMTUNS: 0,2,0": the replay uses the commas and a separate
//     test shows what the literal line does;
//   - the first +QMTRECV is printed with a space after the commas of its header; the replay
//     sends it without them (the literal line is covered by its own test);
//   - AT+QMTUNS=0,2, "topic/example" is sent exactly as printed (space included) through
//     submit_with(), since the note's command lines are the reference here.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/qmt/recv.hpp"
#include "support.hpp"

using namespace qmtkit;
using namespace qmtkit::at;

namespace {

constexpr std::string_view kProductKey = "oyjtmPl5a5j";
constexpr std::string_view kDeviceName = "MQTT_TEST";
constexpr std::string_view kDeviceSecret = "wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ";
constexpr std::string_view kHost = "iot-as-mqtt.cn-shanghai.aliyuncs.com";
const std::string kPayload = "这是测试数据, hello MQTT.";

enum Tag : std::uint32_t {
    kAliauth = 1,
    kOpenTest,
    kOpen,
    kOpenQuery,
    kConnTest,
    kConn,
    kSubTest,
    kSub1,
    kSub2,
    kUns,
    kPubTest,
    kPub,
    kDisc,
};

struct Message {
    int msg_id;
    std::string topic;
    std::string payload;
};

// Typed view of everything chapter 6 answers.
struct Chapter6Handler final : CommandHandler {
    std::vector<std::string> log;  // every callback, in order
    std::vector<std::string> parse_errors;
    std::string payload = kPayload;

    std::vector<std::string> open_test, conn_test, sub_test;  // the test forms' fields
    std::string pub_test_rest;
    int open_result = -99;
    std::string query_host;
    int query_port = -1;
    int conn_result = -99, conn_ret = -99;
    std::vector<std::vector<int>> sub_results;  // connect id, msgID, result, value
    std::vector<int> uns_result;
    std::vector<int> pub_result;
    std::vector<int> disc_result;
    std::vector<std::uint32_t> ok_tags;

    void fail(std::uint32_t tag, std::string_view line, FieldError e) {
        parse_errors.push_back(std::to_string(tag) + ": " + std::string(line) + " -> " +
                               std::string(to_string(e)));
    }
    std::vector<std::string> strings(std::uint32_t tag, std::string_view line,
                                     std::string_view prefix, int n) {
        FieldReader r(line);
        r.prefix(prefix);
        std::vector<std::string> out;
        for (int i = 0; i < n; ++i) {
            std::string_view f;
            r.string(f);
            out.emplace_back(f);
        }
        if (!r.ok()) fail(tag, line, r.error());
        return out;
    }
    std::vector<int> ints(std::uint32_t tag, std::string_view line, std::string_view prefix,
                          int n) {
        FieldReader r(line);
        r.prefix(prefix);
        std::vector<int> out;
        for (int i = 0; i < n; ++i) {
            std::int32_t v = 0;
            r.integer(v);
            out.push_back(v);
        }
        if (!r.ok() || r.has_more()) fail(tag, line, r.ok() ? FieldError::missing : r.error());
        return out;
    }

    void on_info(const CommandRef& ref, std::string_view line) override {
        log.push_back("info " + std::to_string(ref.tag) + " " + std::string(line));
        switch (ref.tag) {
            case kOpenTest:
                open_test = strings(ref.tag, line, "+QMTOPEN", 3);
                break;
            case kConnTest:
                conn_test = strings(ref.tag, line, "+QMTCONN", 4);
                break;
            case kSubTest:
                sub_test = strings(ref.tag, line, "+QMTSUB", 3);
                break;
            case kPubTest: {
                FieldReader r(line);
                std::string_view rest;
                r.prefix("+QMTPUB").rest(rest);
                if (!r.ok()) fail(ref.tag, line, r.error());
                pub_test_rest = std::string(rest);
                break;
            }
            case kOpenQuery: {
                FieldReader r(line);
                std::int32_t id = -1, port = -1;
                std::string_view host;
                r.prefix("+QMTOPEN").integer_in(id, 0, 0).string(host).integer_in(port, 0, 65535);
                if (!r.ok() || r.has_more()) fail(ref.tag, line, r.error());
                query_host = std::string(host);
                query_port = port;
                break;
            }
            default:
                fail(ref.tag, line, FieldError::wrong_prefix);
        }
    }
    Payload on_prompt(const CommandRef& ref) override {
        log.push_back("prompt " + std::to_string(ref.tag));
        return Payload{ByteView(payload), Payload::End::ctrl_z};
    }
    void on_final(const CommandRef& ref, const Outcome& o) override {
        log.push_back("final " + std::to_string(ref.tag) + " " +
                      (o ? std::string("OK") : test::describe(o.error())));
        if (o) ok_tags.push_back(ref.tag);
    }
    ResultVerdict on_result(const CommandRef& ref, std::string_view line) override {
        log.push_back("result " + std::to_string(ref.tag) + " " + std::string(line));
        switch (ref.tag) {
            case kOpen:
                open_result = ints(ref.tag, line, "+QMTOPEN", 2).at(1);
                break;
            case kConn: {
                const std::vector<int> v = ints(ref.tag, line, "+QMTCONN", 3);
                conn_result = v[1];
                conn_ret = v[2];
                break;
            }
            case kSub1:
            case kSub2:
                sub_results.push_back(ints(ref.tag, line, "+QMTSUB", 4));
                break;
            case kUns:
                uns_result = ints(ref.tag, line, "+QMTUNS", 3);
                break;
            case kPub:
                pub_result = ints(ref.tag, line, "+QMTPUB", 3);
                break;
            case kDisc:
                disc_result = ints(ref.tag, line, "+QMTDISC", 2);
                break;
            default:
                fail(ref.tag, line, FieldError::wrong_prefix);
        }
        return ResultVerdict::done;
    }
    void on_result_error(const CommandRef& ref, const AtError& e) override {
        log.push_back("result_error " + std::to_string(ref.tag) + " " + test::describe(e));
    }
};

struct Replay {
    bool echo;
    const char* prompt;  // what the module sends for the prompt, after "\r\n"
};

class Chapter6 : public ::testing::TestWithParam<Replay> {
  protected:
    test::CaptureWriter wire;
    Engine<> engine{wire};
    Chapter6Handler h;
    std::vector<Message> messages;
    std::vector<std::string> stats;
    Instant now = 5000;

    Chapter6() {
        engine.poll(now);
        EXPECT_TRUE(engine.on_urc_claim(cmd::urc_recv, ClaimHandler::from(claim_)));
        EXPECT_TRUE(engine.on_urc(cmd::urc_stat, UrcHandler::from(stat_)));
    }

    std::function<Claim(ByteView, ClaimPhase)> claim_ = [this](ByteView b, ClaimPhase phase) {
        const qmt::RecvParse p = qmt::parse_recv(b, phase);
        if (p.status == qmt::RecvParse::Status::need_more) return Claim::need_more();
        if (p.status == qmt::RecvParse::Status::complete) {
            messages.push_back({p.message.msg_id, std::string(p.message.topic),
                                std::string(p.message.payload.as_text())});
        }
        return Claim::done(p.consumed);
    };
    std::function<void(std::string_view)> stat_ = [this](std::string_view l) {
        stats.emplace_back(l);
    };

    void rx(std::string_view s) { engine.feed(s, now); }
    void advance(Millis ms) {
        now += ms;
        engine.poll(now);
    }
    // The module's echo of a command line (ATE1) or nothing (ATE0).
    void echo(std::string_view line) {
        if (GetParam().echo) rx(std::string(line) + "\r");
    }
    // The command went out as the note prints it, then the module echoes and answers.
    void exchange(std::string_view line, std::string_view answer) {
        EXPECT_EQ(wire.take(), std::string(line) + "\r");
        echo(line);
        rx(answer);
    }
};

TEST_P(Chapter6, WholeExampleByteForByte) {
    const bool echo_on = GetParam().echo;

    // //为阿里云配置阿里设备信息。
    ASSERT_TRUE(
        engine.submit(cmd::cfg_aliauth, &h, kAliauth, 0, kProductKey, kDeviceName, kDeviceSecret));
    exchange(
        "AT+QMTCFG=\"aliauth\",0,\"oyjtmPl5a5j\",\"MQTT_TEST\","
        "\"wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ\"",
        "\r\nOK\r\n");

    ASSERT_TRUE(engine.submit(cmd::open_test, &h, kOpenTest));
    exchange("AT+QMTOPEN=?", "\r\n+QMTOPEN: (0),<host_name>,<port>\r\n\r\nOK\r\n");

    // /开启 MQTT 客户端网络。
    ASSERT_TRUE(engine.submit(cmd::open, &h, kOpen, 0, kHost, 1883));
    exchange("AT+QMTOPEN=0,\"iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883", "\r\nOK\r\n");
    EXPECT_EQ(engine.awaiting_results(), 1u);
    // The query is submitted at once but held back: its answer shares the +QMTOPEN prefix.
    ASSERT_TRUE(engine.submit(cmd::open_query, &h, kOpenQuery));
    EXPECT_EQ(wire.out, "");
    advance(1500);
    rx("\r\n+QMTOPEN: 0,0\r\n");  // 成功打开 MQTT 客户端网络。
    EXPECT_EQ(h.open_result, 0);

    exchange("AT+QMTOPEN?",
             "\r\n+QMTOPEN: 0,\"iot-as-mgtt.cn-shanghai.aliyuncs.com\",1883\r\n\r\nOK\r\n");

    ASSERT_TRUE(engine.submit(cmd::conn_test, &h, kConnTest));
    exchange("AT+QMTCONN=?", "\r\n+QMTCONN: (0),<clientID>,<username>,<password>\r\n\r\nOK\r\n");

    // (reconstructed) aliauth configured: <username> and <password> omitted.
    ASSERT_TRUE(engine.submit(cmd::conn, &h, kConn, 0, kDeviceName));
    exchange("AT+QMTCONN=0,\"MQTT_TEST\"", "\r\nOK\r\n");
    advance(800);
    rx("\r\n+QMTCONN: 0,0,0\r\n");  // 已成功将客户端连接到 MQTT 服务器。

    ASSERT_TRUE(engine.submit(cmd::sub_test, &h, kSubTest));
    exchange("AT+QMTSUB=?",
             "\r\n+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]\r\n\r\nOK\r\n");

    ASSERT_TRUE(engine.submit(cmd::sub, &h, kSub1, 0, 1, "topic/example", 2));
    exchange("AT+QMTSUB=0,1,\"topic/example\",2", "\r\nOK\r\n");
    advance(300);
    rx("\r\n+QMTSUB: 0,1,0,2\r\n");

    ASSERT_TRUE(engine.submit(cmd::sub, &h, kSub2, 0, 1, "topic/pub", 0));
    exchange("AT+QMTSUB=0,1,\"topic/pub\",0", "\r\nOK\r\n");
    advance(300);
    rx("\r\n+QMTSUB: 0,1,0,0\r\n");

    // 若客户订阅了其他设备发布到服务器的相同主题,则模块会上报如下信息: (quoted payload)
    advance(2000);
    rx("\r\n+QMTRECV: 0,0,\"topic/example\",\"This is the payload related to topic\"\r\n");
    ASSERT_EQ(messages.size(), 1u);  // a quoted payload needs no idle wait

    // 退订主题。Sent exactly as printed, with the space after the second comma.
    ASSERT_TRUE(engine.submit_with(cmd::uns, &h, kUns, Timeouts{}, [](ArgWriter& w) {
        w.integer(0).integer(2).raw(" \"topic/example\"");
    }));
    exchange("AT+QMTUNS=0,2, \"topic/example\"", "\r\nOK\r\n");
    advance(300);
    rx("\r\n+QMTUNS: 0,2,0\r\n");

    ASSERT_TRUE(engine.submit(cmd::pub_test, &h, kPubTest));
    exchange("AT+QMTPUB=?",
             "\r\n+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)\r\n\r\nOK\r\n");

    // 发布消息。
    ASSERT_TRUE(engine.submit(cmd::pub, &h, kPub, 0, 0, 0, 0, "topic/pub"));
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,0,0,0,\"topic/pub\"\r");
    echo("AT+QMTPUB=0,0,0,0,\"topic/pub\"");
    rx(std::string("\r\n") + GetParam().prompt);
    // 输入数据 "这是测试数据, hello MQTT", then CTRL+Z.
    EXPECT_EQ(wire.take(), kPayload + "\x1A");
    if (echo_on) rx(kPayload);  // the module repeats what was typed after '>'
    rx("\r\nOK\r\n");
    advance(300);
    rx("\r\n+QMTPUB: 0,0,0\r\n");

    // The bare payload with a comma inside: nothing follows it, it ends when the line goes quiet.
    advance(2000);
    rx("\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n");
    EXPECT_EQ(messages.size(), 1u);
    EXPECT_EQ(engine.next_deadline(), now + EngineConfig::claim_idle);
    advance(EngineConfig::claim_idle);
    ASSERT_EQ(messages.size(), 2u);

    // 断开客户端与 MQTT 服务器的连接。The note shows only OK.
    ASSERT_TRUE(engine.submit(cmd::disc, &h, kDisc, 0));
    exchange("AT+QMTDISC=0", "\r\nOK\r\n");
    EXPECT_EQ(engine.awaiting_results(), 1u);
    rx("\r\n+QMTDISC: 0,0\r\n");  // (reconstructed)
    EXPECT_TRUE(engine.idle());
    EXPECT_EQ(wire.out, "");

    // ---- typed results
    EXPECT_TRUE(h.parse_errors.empty()) << ::testing::PrintToString(h.parse_errors);
    EXPECT_EQ(h.open_test, (std::vector<std::string>{"(0)", "<host_name>", "<port>"}));
    EXPECT_EQ(h.open_result, 0);
    EXPECT_EQ(h.query_host, "iot-as-mgtt.cn-shanghai.aliyuncs.com");  // sic: "mgtt" in the note
    EXPECT_EQ(h.query_port, 1883);
    EXPECT_EQ(h.conn_test,
              (std::vector<std::string>{"(0)", "<clientID>", "<username>", "<password>"}));
    EXPECT_EQ(h.conn_result, 0);
    EXPECT_EQ(h.conn_ret, 0);
    EXPECT_EQ(h.sub_test, (std::vector<std::string>{"(0)", "(1-65535)", "<topic>"}));
    EXPECT_EQ(h.sub_results, (std::vector<std::vector<int>>{{0, 1, 0, 2}, {0, 1, 0, 0}}));
    EXPECT_EQ(h.uns_result, (std::vector<int>{0, 2, 0}));
    EXPECT_EQ(h.pub_test_rest, "(0),(0-65535),(0-2),(0,1),<topic>,(1-1024)");
    EXPECT_EQ(h.pub_result, (std::vector<int>{0, 0, 0}));
    EXPECT_EQ(h.disc_result, (std::vector<int>{0, 0}));
    EXPECT_EQ(h.ok_tags,
              (std::vector<std::uint32_t>{kAliauth, kOpenTest, kOpen, kOpenQuery, kConnTest, kConn,
                                          kSubTest, kSub1, kSub2, kUns, kPubTest, kPub, kDisc}));
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].msg_id, 0);
    EXPECT_EQ(messages[0].topic, "topic/example");
    EXPECT_EQ(messages[0].payload, "This is the payload related to topic");
    EXPECT_EQ(messages[1].msg_id, 0);
    EXPECT_EQ(messages[1].topic, "topic/pub");
    EXPECT_EQ(messages[1].payload, kPayload);
    EXPECT_TRUE(stats.empty());

    // The exact order of callbacks.
    const std::vector<std::string> expected = {
        "final 1 OK",
        "info 2 +QMTOPEN: (0),<host_name>,<port>",
        "final 2 OK",
        "final 3 OK",
        "result 3 +QMTOPEN: 0,0",
        "info 4 +QMTOPEN: 0,\"iot-as-mgtt.cn-shanghai.aliyuncs.com\",1883",
        "final 4 OK",
        "info 5 +QMTCONN: (0),<clientID>,<username>,<password>",
        "final 5 OK",
        "final 6 OK",
        "result 6 +QMTCONN: 0,0,0",
        "info 7 +QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]",
        "final 7 OK",
        "final 8 OK",
        "result 8 +QMTSUB: 0,1,0,2",
        "final 9 OK",
        "result 9 +QMTSUB: 0,1,0,0",
        "final 10 OK",
        "result 10 +QMTUNS: 0,2,0",
        "info 11 +QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)",
        "final 11 OK",
        "prompt 12",
        "final 12 OK",
        "result 12 +QMTPUB: 0,0,0",
        "final 13 OK",
        "result 13 +QMTDISC: 0,0",
    };
    EXPECT_EQ(h.log, expected);

    const Counters& c = engine.counters();
    EXPECT_EQ(c.commands, 13u);
    EXPECT_EQ(c.claims, 2u);
    EXPECT_EQ(c.urcs, 2u);
    EXPECT_EQ(c.timeouts, 0u);
    EXPECT_EQ(c.result_timeouts, 0u);
    EXPECT_EQ(c.overflows, 0u);
    EXPECT_EQ(c.stray_finals, 0u);
    EXPECT_EQ(c.unclaimed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Replays, Chapter6,
                         ::testing::Values(Replay{false, "> "}, Replay{false, ">"},
                                           Replay{true, ">"}, Replay{true, "> "}),
                         [](const ::testing::TestParamInfo<Replay>& i) {
                             return std::string(i.param.echo ? "EchoOn" : "EchoOff") +
                                    (std::string_view(i.param.prompt) == "> " ? "PromptSpace"
                                                                              : "PromptBare");
                         });

// ---- the note's literal lines that the replay had to correct

struct Chapter6Literal : ::testing::Test {
    test::CaptureWriter wire;
    Engine<> engine{wire};
    test::Recorder rec;
    Instant now = 1000;
    Chapter6Literal() { engine.poll(now); }
    void rx(std::string_view s) { engine.feed(s, now); }
};

TEST_F(Chapter6Literal, RegularSubmitOfUnsubscribeHasNoSpace) {
    ASSERT_TRUE(engine.submit(cmd::uns, &rec, 1, 0, 2, "topic/example"));
    EXPECT_EQ(wire.take(), "AT+QMTUNS=0,2,\"topic/example\"\r");
}

TEST_F(Chapter6Literal, DottedUnsubscribeResultIsNotTakenForTheResult) {
    // "+QMTUNS: 0.2.0" as printed: not a well-formed result, so it is counted unclaimed and the
    // unsubscribe waits for its real result, then reports result_timeout.
    ASSERT_TRUE(engine.submit(cmd::uns, &rec, 1, 0, 2, "topic/example"));
    rx("\r\nOK\r\n\r\n+QMTUNS: 0.2.0\r\n");
    EXPECT_EQ(engine.counters().unclaimed, 1u);
    EXPECT_EQ(engine.awaiting_results(), 1u);
    EXPECT_EQ(engine.next_deadline(), now + cmd::kPacketResult);
    now = engine.next_deadline();
    engine.poll(now);
    ASSERT_EQ(rec.events.size(), 2u);
    EXPECT_EQ(rec.events[1], (test::Event{test::Event::Kind::result_error, 1, "result timeout"}));
}

TEST_F(Chapter6Literal, DisconnectWithOnlyOkTimesOutItsResult) {
    ASSERT_TRUE(engine.submit(cmd::disc, &rec, 1, 0));
    EXPECT_EQ(wire.take(), "AT+QMTDISC=0\r");
    rx("\r\nOK\r\n");
    EXPECT_EQ(engine.awaiting_results(), 1u);
    now += cmd::kQuick - 1;
    engine.poll(now);
    EXPECT_EQ(rec.events.size(), 1u);
    now += 1;
    engine.poll(now);
    ASSERT_EQ(rec.events.size(), 2u);
    EXPECT_EQ(rec.events[1], (test::Event{test::Event::Kind::result_error, 1, "result timeout"}));
    EXPECT_EQ(engine.counters().result_timeouts, 1u);
    EXPECT_TRUE(engine.idle());
}

TEST_F(Chapter6Literal, QuotedRecvWithSpacesAfterCommasThroughTheEngine) {
    std::vector<Message> got;
    auto claim = [&](ByteView b, ClaimPhase phase) {
        const qmt::RecvParse p = qmt::parse_recv(b, phase);
        if (p.status == qmt::RecvParse::Status::need_more) return Claim::need_more();
        if (p.status == qmt::RecvParse::Status::complete) {
            got.push_back({p.message.msg_id, std::string(p.message.topic),
                           std::string(p.message.payload.as_text())});
        }
        return Claim::done(p.consumed);
    };
    ASSERT_TRUE(engine.on_urc_claim(cmd::urc_recv, ClaimHandler::from(claim)));
    rx("\r\n+QMTRECV: 0,0, \"topic/example\", \"This is the payload related to topic\"\r\n");
    // Whatever happens to the line, the engine is not wedged.
    ASSERT_TRUE(engine.submit(cmd::at, &rec, 1));
    EXPECT_EQ(wire.take(), "AT\r");
    rx("\r\nOK\r\n");
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0].kind, test::Event::Kind::final_ok);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].topic, "topic/example");
    EXPECT_EQ(got[0].payload, "This is the payload related to topic");
}

// The payload echo after a "> " prompt with echo on: a payload that reads like a final result.
TEST_F(Chapter6Literal, PayloadEchoAfterPromptWithSpace) {
    rec.payload = "ERROR";
    ASSERT_TRUE(engine.submit(cmd::pub, &rec, 1, 0, 0, 0, 0, "topic/pub"));
    rx("AT+QMTPUB=0,0,0,0,\"topic/pub\"\r\r\n> ");
    EXPECT_EQ(wire.take(), "AT+QMTPUB=0,0,0,0,\"topic/pub\"\rERROR\x1A");
    rx("ERROR");  // the module repeats the payload
    rx("\r\nOK\r\n");
    rx("\r\n+QMTPUB: 0,0,0\r\n");
    const std::vector<test::Event> expected = {
        {test::Event::Kind::prompt, 1, {}},
        {test::Event::Kind::final_ok, 1, {}},
        {test::Event::Kind::result, 1, "+QMTPUB: 0,0,0"},
    };
    EXPECT_EQ(rec.events, expected);
    EXPECT_EQ(engine.counters().unclaimed, 0u);
    EXPECT_EQ(engine.counters().stray_finals, 0u);
}

}  // namespace
