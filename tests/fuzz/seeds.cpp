#include "seeds.hpp"

#include <string_view>

#include "client_harness.hpp"
#include "engine_harness.hpp"
#include "program.hpp"

namespace qmtkit::fuzz {
namespace {

constexpr std::string_view kOk = "\r\nOK\r\n";

// ------------------------------------------------------------------ engine programs

class EngineScript {
  public:
    EngineScript(std::uint8_t header, std::uint8_t writer, bool echo, std::uint8_t chunk)
        : echo_(echo), chunk_(chunk) {
        b_.u8(header).u8(writer);
    }
    // Submits a chapter 6 command; with echo on, the module repeats its line first.
    EngineScript& cmd(EngineCmd c, std::uint8_t variant = 0, std::uint8_t plan = 0,
                      std::uint8_t extra = 0, bool echo_now = true) {
        b_.op(EngineOp::submit, c, variant, plan, extra);
        if (echo_ && echo_now) echo();
        return *this;
    }
    EngineScript& echo() {
        b_.op(EngineOp::feed_echo, 0, 0);
        return *this;
    }
    EngineScript& rx(std::string_view s) {
        b_.op(EngineOp::feed_raw).blob(s).u8(chunk_);
        return *this;
    }
    EngineScript& advance(unsigned ms) {
        for (; ms >= 1000; ms -= 1000) b_.op(EngineOp::advance_large, 0);
        for (; ms > 0; ms -= ms > 255 ? 255 : ms)
            b_.op(EngineOp::advance_small, ms > 255 ? 255 : ms);
        return *this;
    }
    EngineScript& poll() {
        b_.op(EngineOp::poll);
        return *this;
    }
    ProgramBuilder& raw() { return b_; }
    std::vector<std::uint8_t> bytes() const { return b_.bytes(); }

  private:
    ProgramBuilder b_;
    bool echo_;
    std::uint8_t chunk_;
};

constexpr std::uint8_t kMsg1 = 1 << 3;  // submit variant: msgID 1
constexpr std::uint8_t kMsg2 = 2 << 3;

// The whole of chapter 6, with the corrections test_chapter6.cpp documents.
std::vector<std::uint8_t> chapter6(bool echo, std::string_view prompt, std::uint8_t header,
                                   std::uint8_t writer, std::uint8_t chunk) {
    EngineScript s(header, writer, echo, chunk);
    s.cmd(EngineCmd::aliauth).rx(kOk);
    s.cmd(EngineCmd::open_test).rx("\r\n+QMTOPEN: (0),<host_name>,<port>\r\n\r\nOK\r\n");
    s.cmd(EngineCmd::open).rx(kOk);
    // The query waits until the +QMTOPEN result is in: it shares the prefix.
    s.cmd(EngineCmd::open_query, 0, 0, 0, /*echo_now=*/false);
    s.advance(1500).rx("\r\n+QMTOPEN: 0,0\r\n");
    if (echo) s.echo();
    s.rx("\r\n+QMTOPEN: 0,\"iot-as-mgtt.cn-shanghai.aliyuncs.com\",1883\r\n\r\nOK\r\n");
    s.cmd(EngineCmd::conn_test)
        .rx("\r\n+QMTCONN: (0),<clientID>,<username>,<password>\r\n\r\nOK\r\n");
    s.cmd(EngineCmd::conn).rx(kOk).advance(800).rx("\r\n+QMTCONN: 0,0,0\r\n");
    s.cmd(EngineCmd::sub_test)
        .rx("\r\n+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]\r\n\r\nOK\r\n");
    s.cmd(EngineCmd::sub, kMsg1).rx(kOk).advance(300).rx("\r\n+QMTSUB: 0,1,0,2\r\n");
    s.cmd(EngineCmd::sub, kMsg1).rx(kOk).advance(300).rx("\r\n+QMTSUB: 0,1,0,0\r\n");
    s.advance(2000).rx(
        "\r\n+QMTRECV: 0,0,\"topic/example\",\"This is the payload related to topic\"\r\n");
    s.cmd(EngineCmd::uns, kMsg2).rx(kOk).advance(300).rx("\r\n+QMTUNS: 0,2,0\r\n");
    s.cmd(EngineCmd::pub_test)
        .rx("\r\n+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)\r\n\r\nOK\r\n");
    s.cmd(EngineCmd::pub, 0, 0, 20).rx("\r\n" + std::string(prompt)).rx(kOk);
    s.advance(300).rx("\r\n+QMTPUB: 0,0,0\r\n");
    s.advance(2000).rx("\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n");
    s.advance(100).poll();
    s.cmd(EngineCmd::disc).rx(kOk).rx("\r\n+QMTDISC: 0,0\r\n");
    return s.bytes();
}

// Chapter 6's two-phase commands pipelined on the small engine: OKs first, results later and out
// of order, every result slot busy on the way.
std::vector<std::uint8_t> chapter6_pipelined() {
    EngineScript s(engine_header::tiny | engine_header::claim_recv | engine_header::stat_log, 0,
                   false, 0);
    s.cmd(EngineCmd::open).rx(kOk);
    s.cmd(EngineCmd::conn).rx(kOk);
    s.cmd(EngineCmd::sub, kMsg1);  // both slots busy: waits
    s.cmd(EngineCmd::pub, 0, 0, 20);
    s.advance(300).rx("\r\n+QMTCONN: 0,0,0\r\n").rx(kOk);
    s.rx("\r\n+QMTOPEN: 0,0\r\n").rx("\r\n> ").rx(kOk);
    s.rx("\r\n+QMTPUB: 0,0,0\r\n\r\n+QMTSUB: 0,1,0,2\r\n");
    s.cmd(EngineCmd::uns, kMsg2).rx(kOk).rx("\r\n+QMTUNS: 0,2,0\r\n");
    s.cmd(EngineCmd::disc).rx(kOk).rx("\r\n+QMTDISC: 0,0\r\n");
    return s.bytes();
}

// Chapter 6 until CONNECT, then the module restarts: everything outstanding is aborted.
std::vector<std::uint8_t> chapter6_reboot() {
    EngineScript s(
        engine_header::reboot_aborts | engine_header::stat_link_lost | engine_header::claim_recv, 0,
        false, 0);
    s.cmd(EngineCmd::aliauth).rx(kOk);
    s.cmd(EngineCmd::open).rx(kOk).rx("\r\n+QMTOPEN: 0,0\r\n");
    s.cmd(EngineCmd::conn).rx(kOk);
    s.cmd(EngineCmd::sub, kMsg1);
    s.rx("\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n");
    s.cmd(EngineCmd::at).rx(kOk);
    s.cmd(EngineCmd::open).rx(kOk).rx("\r\n+QMTSTAT: 0,1\r\n");
    return s.bytes();
}

// ------------------------------------------------------------------ client programs

class ClientScript {
  public:
    ClientScript(std::uint8_t header, std::uint8_t refill) { b_.u8(header).u8(refill); }
    ClientScript& rx(std::string_view s, std::uint8_t chunk = 0) {
        b_.op(ClientOp::feed_raw).blob(s).u8(chunk);
        return *this;
    }
    ClientScript& answer(int times = 1, std::uint8_t variant = 0) {
        for (int i = 0; i < times; ++i) b_.op(ClientOp::answer, variant);
        return *this;
    }
    ClientScript& advance(unsigned ms) {
        for (; ms >= 1000; ms -= 1000) b_.op(ClientOp::advance_large, 0);
        for (; ms > 0; ms -= ms > 255 ? 255 : ms)
            b_.op(ClientOp::advance_small, ms > 255 ? 255 : ms);
        return *this;
    }
    ClientScript& op(ClientOp o) {
        b_.op(o);
        return *this;
    }
    ClientScript& op(ClientOp o, std::uint8_t a) {
        b_.op(o, a);
        return *this;
    }
    ClientScript& op(ClientOp o, std::uint8_t a, std::uint8_t c) {
        b_.op(o, a, c);
        return *this;
    }
    std::vector<std::uint8_t> bytes() const { return b_.bytes(); }

  private:
    ProgramBuilder b_;
};

constexpr std::uint8_t kChapter6Session = 1 | (3 << client_header::pkt_timeout_shift);
constexpr std::uint8_t kSubscribeTopicExampleQos2 = 20;  // filter 20 % 5 = 0, QoS (20 >> 3) % 3

// Chapter 6 through the client: aliauth, the bring-up answered with the note's lines, the
// subscription, both +QMTRECV forms, a QoS 0 publish, then stop() (DISC, CLOSE).
std::vector<std::uint8_t> client_chapter6(bool echo) {
    ClientScript s(kChapter6Session, 0);
    s.op(ClientOp::subscribe, kSubscribeTopicExampleQos2);
    // AT, ATE0, AT+CMEE=1, the five AT+QMTCFG items and "aliauth": OK each.
    for (int i = 0; i < 9; ++i) {
        if (echo && i < 2) s.op(ClientOp::feed_echo, 0);  // echo stops with ATE0
        s.rx(kOk);
    }
    s.rx("\r\n+CGATT:1\r\n\r\nOK\r\n");
    s.rx(kOk).advance(1500).rx("\r\n+QMTOPEN: 0,0\r\n");
    s.rx(kOk).advance(800).rx("\r\n+QMTCONN: 0,0,0\r\n");
    s.rx(kOk).advance(300).rx("\r\n+QMTSUB: 0,1,0,2\r\n");
    s.advance(2000).rx(
        "\r\n+QMTRECV: 0,0,\"topic/example\",\"This is the payload related to topic\"\r\n");
    s.op(ClientOp::publish, 0, 20);  // QoS 0, text
    s.rx("\r\n> ").rx(kOk).advance(300).rx("\r\n+QMTPUB: 0,0,0\r\n");
    s.advance(2000).rx("\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n", 7);
    s.advance(100).op(ClientOp::poll);
    s.op(ClientOp::stop_start, 1);
    s.rx(kOk).rx("\r\n+QMTDISC: 0,0\r\n").rx(kOk).rx("\r\n+QMTCLOSE: 0,0\r\n");
    return s.bytes();
}

// Chapter 6's bring-up answered by the harness's module, then the five-message window kept full
// from on_published (`qmtkit pub -l`), results out of order.
std::vector<std::uint8_t> client_window() {
    ClientScript s(kChapter6Session, 0x1A);  // 10 publishes from on_published, QoS 1
    s.answer(14);
    for (int i = 0; i < 5; ++i) s.op(ClientOp::publish_qos1, 10);
    for (int i = 0; i < 5; ++i) s.answer(2);  // its '>', then OK after the payload
    for (int i : {2, 0, 2, 0, 0, 1, 0, 0}) s.op(ClientOp::release, i);
    for (int i = 0; i < 8; ++i) s.answer(2).op(ClientOp::release, 0);
    s.op(ClientOp::to_deadline);
    return s.bytes();
}

// Online, three QoS 1 publishes in flight, the link drops (+QMTSTAT: 0,1): re-sent after the
// reconnect; the first session's results arrive late.
std::vector<std::uint8_t> client_link_drop() {
    ClientScript s(kChapter6Session | client_header::fast_backoff, 0);
    s.answer(14);
    for (int i = 0; i < 3; ++i) s.op(ClientOp::publish_qos1, 30);
    s.answer(6);
    s.op(ClientOp::link_event, 0);
    s.advance(500).op(ClientOp::poll);
    s.answer(4).op(ClientOp::release, 0);
    s.answer(8).op(ClientOp::release, 0).op(ClientOp::release, 0).op(ClientOp::release, 0);
    s.advance(45000).op(ClientOp::poll);
    return s.bytes();
}

// Online, a publish out, the module restarts: aborted, bring-up again, sent again.
std::vector<std::uint8_t> client_reboot() {
    ClientScript s(kChapter6Session, 0x11);
    s.answer(14).op(ClientOp::publish_qos1, 5).answer(2);
    s.op(ClientOp::link_event, 7);
    s.advance(1000).op(ClientOp::poll);
    s.answer(20).op(ClientOp::release, 0).op(ClientOp::release, 0);
    return s.bytes();
}

// The Tencent token flow, a binary payload (fixed-length form) and a result that times out.
std::vector<std::uint8_t> client_tenauth_binary() {
    ClientScript s(2 | (1 << client_header::pkt_timeout_shift) | client_header::no_retries, 0);
    s.answer(16);
    s.op(ClientOp::publish, 1 | 8, 40);  // QoS 1, binary: fixed length
    s.answer(2);
    s.advance(5000).op(ClientOp::poll);
    s.answer(2, client_answer::result_now);
    return s.bytes();
}

}  // namespace

std::vector<Seed> engine_seeds() {
    using namespace engine_header;
    const std::uint8_t plain = claim_recv | stat_log;
    return {
        {"seed-ch6-echo-off-prompt-space.bin", chapter6(false, "> ", plain, 0, 0)},
        {"seed-ch6-echo-off-prompt-bare.bin", chapter6(false, ">", plain, 0, 0)},
        {"seed-ch6-echo-on-prompt-space.bin", chapter6(true, "> ", plain, 0, 0)},
        {"seed-ch6-echo-on-prompt-bare.bin", chapter6(true, ">", plain, 0, 0)},
        {"seed-ch6-tiny-chunked.bin",
         chapter6(false, "> ", tiny | claim_recv | stat_link_lost | reboot_aborts | quoting_bare, 5,
                  3)},
        {"seed-ch6-pipelined.bin", chapter6_pipelined()},
        {"seed-ch6-reboot.bin", chapter6_reboot()},
    };
}

std::vector<Seed> client_seeds() {
    return {
        {"seed-ch6-echo-off.bin", client_chapter6(false)},
        {"seed-ch6-echo-on.bin", client_chapter6(true)},
        {"seed-ch6-window.bin", client_window()},
        {"seed-ch6-link-drop.bin", client_link_drop()},
        {"seed-ch6-reboot.bin", client_reboot()},
        {"seed-tenauth-binary.bin", client_tenauth_binary()},
    };
}

}  // namespace qmtkit::fuzz
