// The module model's UART (Options::baud) under virtual time: each byte takes 10 bits of time each
// way, so the figures below are exact: at 9600 baud a byte is 1041.67 us on the line.
#include "bc28sim/module.hpp"
#include "fake_network.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace bc28sim;
using bc28sim::test::FakeNetwork;

namespace {

struct Uart {
    FakeNetwork net;
    std::string out;
    std::unique_ptr<Module> m;

    explicit Uart(unsigned baud, Millis rtt_ms = 0) {
        Options o;
        o.baud = baud;
        o.rtt_ms = rtt_ms;
        o.proc_ms = 0;  // the line's own timing; the processing delay is timing_test.cpp's
        o.unix_ms = [] { return std::uint64_t{1700000000123}; };
        m = std::make_unique<Module>(
            net, [this](std::string_view b) { out.append(b); }, std::move(o));
    }
    std::string at_us(Micros t) {
        m->advance_us(t);
        std::string s;
        s.swap(out);
        return s;
    }
    // Everything the module has to say, and the time it was all out.
    Micros drain() {
        while (const auto d = m->next_deadline_us()) m->advance_us(*d);
        return m->now_us();
    }
    // ATE0 and a connected MQTT link, then a quiet line.
    void connected() {
        m->feed("ATE0\r");
        drain();
        m->feed("AT+QMTOPEN=0,\"10.0.0.1\",1883\r");
        drain();
        m->feed("AT+QMTCONN=0,\"dev\"\r");
        drain();
        ASSERT_NE(out.find("+QMTCONN: 0,0,0"), std::string::npos) << out;
        out.clear();
    }
};

}  // namespace

TEST(Uart, HundredBytesAt9600Take104Ms) {
    Uart u(9600);
    u.m->garbage(std::string(100, 'x'));
    EXPECT_EQ(u.at_us(1041), "");  // the first byte's tenth bit ends at 1041.67 us
    EXPECT_EQ(u.at_us(1042), "x");
    EXPECT_EQ(u.at_us(104166).size(), 98u);  // 100 x 10 bits / 9600 = 104.1667 ms
    EXPECT_EQ(u.at_us(104167), "x");
    EXPECT_FALSE(u.m->next_deadline_us());
    // The millisecond calls see the same clock, rounded up.
    Uart v(9600);
    v.m->garbage(std::string(100, 'x'));
    EXPECT_EQ(v.m->next_deadline(), 2);
    v.m->advance(104);
    EXPECT_EQ(v.out.size(), 99u);
    v.m->advance(105);
    EXPECT_EQ(v.out.size(), 100u);
}

TEST(Uart, HostBytesAreTakenWhenTheirLastBitIsIn) {
    Uart u(9600);
    u.m->feed("ATE0\r");
    const Micros t0 = u.drain();
    // 5 bytes in (5208.3 us), "ATE0\r" echoed byte by byte as each came in, then OK.
    EXPECT_EQ(t0, uart_done_us(4, 9600) + uart_done_us(6, 9600));
    u.out.clear();
    u.m->feed("AT\r");  // 3 bytes in: 3125 us; "\r\nOK\r\n" 6 bytes out: 6250 us
    EXPECT_EQ(u.at_us(t0 + 3124), "");
    EXPECT_EQ(u.m->uart_rx_pending(), 1u);
    EXPECT_EQ(u.at_us(t0 + 3125 + 6249), "\r\nOK\r");
    EXPECT_EQ(u.at_us(t0 + 3125 + 6250), "\n");
}

TEST(Uart, FullDuplexEachDirectionSerialOnItsOwn) {
    Uart u(9600);
    u.m->feed("ATE0\r");
    const Micros t0 = u.drain();
    u.out.clear();
    // 100 bytes going out while the host types a command: the command is taken at once (the
    // line in is free), its OK waits behind the 100 bytes on the line out.
    u.m->garbage(std::string(100, 'g'));
    u.m->feed("AT\r");
    EXPECT_EQ(u.at_us(t0 + 3125).size(), 3u);  // the line out is busy meanwhile
    EXPECT_EQ(u.m->uart_rx_pending(), 0u);
    EXPECT_EQ(u.drain(), t0 + uart_done_us(105, 9600));  // 106 bytes back to back
    EXPECT_EQ(u.out.substr(u.out.size() - 4), "OK\r\n");
}

TEST(Uart, PublishLeavesWhenItsTerminatorIsIn) {
    Uart u(115200, 200);
    u.connected();
    u.net.auto_ack = false;
    const Micros t0 = u.m->now_us();
    const std::string cmd = "AT+QMTPUB=0,1,1,0,\"t\"\r";  // 22 bytes
    u.m->feed(cmd);
    const Micros prompt_at = t0 + uart_done_us(21, 115200) + uart_done_us(2, 115200);
    EXPECT_EQ(u.at_us(prompt_at - 1), "\r\n");
    EXPECT_EQ(u.at_us(prompt_at), ">");
    EXPECT_TRUE(u.m->in_data_mode());
    u.m->feed(std::string(99, 'p') + "\x1A");  // 100 bytes: 8680.6 us
    const Micros in = prompt_at + uart_done_us(99, 115200);
    u.at_us(in - 1);
    EXPECT_TRUE(u.m->in_data_mode());
    u.at_us(in);
    EXPECT_FALSE(u.m->in_data_mode());
    // Half the round trip later the broker has it.
    u.at_us(in + 100'000 - 1);
    EXPECT_TRUE(u.net.pubs.empty());
    u.at_us(in + 100'000);
    ASSERT_EQ(u.net.pubs.size(), 1u);
    EXPECT_EQ(u.net.pubs[0].payload, std::string(99, 'p'));
    // The PUBACK half a round trip back, then "\r\n+QMTPUB: 0,1,0\r\n" (18 bytes) on the line.
    u.net.ev->net_published(u.net.pubs[0].op);
    const Micros result_at = in + 200'000 + uart_done_us(17, 115200);
    EXPECT_EQ(u.at_us(result_at - 1), "\r\n+QMTPUB: 0,1,0\r");
    EXPECT_EQ(u.at_us(result_at), "\n");
}

TEST(Uart, OffByDefaultBytesAreInstant) {
    FakeNetwork net;
    std::string out;
    Module m(net, [&](std::string_view b) { out.append(b); });
    EXPECT_EQ(m.options().baud, 0u);
    m.feed("AT\r");
    EXPECT_EQ(out, "AT\r\r\nOK\r\n");
    EXPECT_FALSE(m.next_deadline_us());
}

TEST(Uart, Qos0ResultOnceSentQos1AfterTheRoundTrip) {
    Uart u(0, 2000);
    u.connected();
    u.m->feed("AT+QMTPUB=0,0,0,0,\"t\"\r");
    u.m->feed("a\x1A");
    // "Sent": with an unlimited uplink, at once after the OK, not a round trip later.
    EXPECT_EQ(u.at_us(u.m->now_us()), "\r\n>\r\nOK\r\n\r\n+QMTPUB: 0,0,0\r\n");
    u.m->feed("AT+QMTPUB=0,1,1,0,\"t\"\r");
    u.m->feed("a\x1A");
    const Micros t = u.m->now_us();
    EXPECT_EQ(u.at_us(t), "\r\n>\r\nOK\r\n");
    EXPECT_EQ(u.at_us(t + 1'999'999), "");
    EXPECT_EQ(u.at_us(t + 2'000'000), "\r\n+QMTPUB: 0,1,0\r\n");
}
