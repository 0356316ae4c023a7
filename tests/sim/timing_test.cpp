// When two-phase results come, under the model's virtual clock: processing delay + k x RTT after
// the command's CR (docs/emulator.md, "Timing"), k the network exchanges of the command.
#include "bc28sim/module.hpp"
#include "fake_network.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace bc28sim;
using bc28sim::test::FakeNetwork;

namespace {

constexpr Micros kMs = 1000;

struct Clock {
    FakeNetwork net;
    std::string out;
    std::unique_ptr<Module> m;

    explicit Clock(Options o = {}) {
        o.unix_ms = [] { return std::uint64_t{1700000000123}; };
        m = std::make_unique<Module>(
            net, [this](std::string_view b) { out.append(b); }, std::move(o));
        m->feed("ATE0\r");
        settle();
    }
    void settle() {
        while (const auto d = m->next_deadline_us()) m->advance_us(*d);
        out.clear();
    }
    // Feeds `bytes` now and returns how long after it the first line starting with `prefix`
    // was written (-1: never). What was written with the bytes themselves is in `burst`.
    Micros until(const std::string& bytes, const std::string& prefix) {
        out.clear();
        const Micros t0 = m->now_us();
        m->feed(bytes);
        burst = out;
        for (;;) {
            if (out.find("\r\n" + prefix) != std::string::npos) return m->now_us() - t0;
            const auto d = m->next_deadline_us();
            if (!d) return -1;
            m->advance_us(*d);
        }
    }
    void open(const std::string& host = "10.0.0.1") {
        ASSERT_GE(until("AT+QMTOPEN=0,\"" + host + "\",1883\r", "+QMTOPEN: 0,0"), 0);
        settle();
    }
    void connect() {
        open();
        ASSERT_GE(until("AT+QMTCONN=0,\"dev\"\r", "+QMTCONN: 0,0,0"), 0);
        settle();
    }
    std::string burst;
};

Options with(Millis rtt, Millis proc = 20) {
    Options o;
    o.rtt_ms = rtt;
    o.proc_ms = proc;
    return o;
}

}  // namespace

TEST(Timing, DefaultsKeepEveryResultOutOfTheOksBurst) {
    Options o;
    EXPECT_EQ(o.proc_ms, 20);
    EXPECT_EQ(o.rtt_ms, 0);
    Clock c;
    EXPECT_EQ(c.until("AT+QMTOPEN=0,\"10.0.0.1\",1883\r", "+QMTOPEN: 0,0"), 20 * kMs);
    EXPECT_EQ(c.burst, "\r\nOK\r\n");
    EXPECT_EQ(c.until("AT+QMTOPEN=0,\"10.0.0.1\",1883\r", "+QMTOPEN: 0,2"), 20 * kMs);
    EXPECT_EQ(c.burst, "\r\nOK\r\n");
    EXPECT_EQ(c.until("AT+QMTCONN=0,\"dev\"\r", "+QMTCONN: 0,0,0"), 20 * kMs);
    EXPECT_EQ(c.burst, "\r\nOK\r\n");
    EXPECT_EQ(c.until("AT+QMTSUB=0,1,\"a\",1\r", "+QMTSUB: 0,1,0,1"), 20 * kMs);
    EXPECT_EQ(c.until("AT+QMTUNS=0,2,\"a\"\r", "+QMTUNS: 0,2,0"), 20 * kMs);
    c.until("AT+QMTPUB=0,0,0,0,\"t\"\r", ">");
    EXPECT_EQ(c.until("x\x1A", "+QMTPUB: 0,0,0"), 20 * kMs);
    EXPECT_EQ(c.burst, "\r\nOK\r\n");
    EXPECT_EQ(c.until("AT+QMTDISC=0\r", "+QMTDISC: 0,0"), 20 * kMs);
    EXPECT_EQ(c.until("AT+QMTDISC=0\r", "+QMTDISC: 0,-1"), 20 * kMs);
    EXPECT_EQ(c.until("AT+QMTCLOSE=0\r", "+QMTCLOSE: 0,-1"), 20 * kMs);
    EXPECT_EQ(c.burst, "\r\nOK\r\n");
}

TEST(Timing, ProcZeroIsTheOldSameBurst) {
    Clock c(with(0, 0));
    EXPECT_EQ(c.until("AT+QMTOPEN=0,\"10.0.0.1\",1883\r", "+QMTOPEN: 0,0"), 0);
    EXPECT_EQ(c.burst, "\r\nOK\r\n\r\n+QMTOPEN: 0,0\r\n");
}

// The table of docs/emulator.md, at the RTTs where the issue saw 150 ms and 1800 ms.
class TimingTable : public ::testing::TestWithParam<Millis> {};

TEST_P(TimingTable, ResultIsProcPlusExchangesTimesRtt) {
    const Millis rtt = GetParam();
    const Millis proc = 20;
    auto expect = [&](int k) { return (proc + k * rtt) * kMs; };
    {
        Clock c(with(rtt));
        EXPECT_EQ(c.until("AT+QMTOPEN=0,\"10.0.0.1\",1883\r", "+QMTOPEN:"), expect(1));  // TCP
        EXPECT_EQ(c.until("AT+QMTCONN=0,\"dev\"\r", "+QMTCONN:"), expect(1));            // CONNACK
        EXPECT_EQ(c.until("AT+QMTSUB=0,1,\"a\",1,\"b\",2\r", "+QMTSUB:"), expect(1));
        EXPECT_EQ(c.until("AT+QMTUNS=0,2,\"a\",\"b\"\r", "+QMTUNS:"), expect(1));
        c.until("AT+QMTPUB=0,0,0,0,\"t\"\r", ">");
        EXPECT_EQ(c.until("q0\x1A", "+QMTPUB:"), expect(0));  // "sent": no ack
        c.until("AT+QMTPUB=0,5,1,0,\"t\"\r", ">");
        EXPECT_EQ(c.until("q1\x1A", "+QMTPUB:"), expect(1));  // PUBACK
        c.until("AT+QMTPUB=0,6,2,0,\"t\",2\r", ">");
        EXPECT_EQ(c.until("q2", "+QMTPUB:"), expect(2));  // PUBREC, then PUBCOMP
        EXPECT_EQ(c.until("AT+QMTDISC=0\r", "+QMTDISC: 0,0"), expect(1));
        EXPECT_EQ(c.until("AT+QMTCLOSE=0\r", "+QMTCLOSE: 0,-1"), expect(0));
    }
    {
        Clock c(with(rtt));
        // A host name: the DNS query is a round trip of its own before the TCP connect.
        EXPECT_EQ(c.until("AT+QMTOPEN=0,\"broker.example\",1883\r", "+QMTOPEN: 0,0"), expect(2));
        EXPECT_EQ(c.until("AT+QMTCLOSE=0\r", "+QMTCLOSE: 0,0"), expect(0));
        c.net.open_result = 4;  // the name does not resolve: only the DNS exchange happened
        EXPECT_EQ(c.until("AT+QMTOPEN=0,\"nowhere.example\",1883\r", "+QMTOPEN: 0,4"), expect(1));
        c.net.open_result = -1;  // refused: DNS, then the SYN answered by a reset
        EXPECT_EQ(c.until("AT+QMTOPEN=0,\"closed.example\",1883\r", "+QMTOPEN: 0,-1"), expect(2));
    }
}

INSTANTIATE_TEST_SUITE_P(Rtt, TimingTable, ::testing::Values<Millis>(0, 300, 2000));

TEST(Timing, TenauthCountsConnectAndRequestPlusDns) {
    for (const Millis rtt : {300, 2000}) {
        for (const bool named : {false, true}) {
            Clock c(with(rtt));
            const std::string url = named ? "http://token.example/t" : "http://10.0.0.9:8080/t";
            c.out.clear();
            const Micros t0 = c.m->now_us();
            c.m->feed("AT+QMTTENAUTH=\"p\",\"d\",\"p@d\",\"s\",1,\"" + url + "\"\r");
            // The request leaves after the processing delay and half a round trip; the network
            // answers at once here.
            while (c.net.token_ops.empty()) c.m->advance_us(*c.m->next_deadline_us());
            EXPECT_EQ(c.m->now_us() - t0, (20 + rtt / 2) * kMs);
            c.net.ev->net_token(c.net.token_ops.back(), 0, "u", "pw");
            while (c.out.find("+QMTTENAUTH: 0,") == std::string::npos)
                c.m->advance_us(*c.m->next_deadline_us());
            EXPECT_EQ(c.m->now_us() - t0, (20 + (named ? 3 : 2) * rtt) * kMs) << url;
        }
    }
}

TEST(Timing, TheBrokerSeesThePacketAfterProcAndHalfTheRoundTrip) {
    Clock c(with(300));
    c.connect();
    c.net.auto_ack = false;
    const Micros t0 = c.m->now_us();
    c.m->feed("AT+QMTSUB=0,1,\"a\",1\r");
    c.m->advance_us(t0 + 169 * kMs);
    EXPECT_TRUE(c.net.subs.empty());
    c.m->advance_us(t0 + 170 * kMs);
    ASSERT_EQ(c.net.subs.size(), 1u);
    // A broker that takes 40 ms of its own: the result is that much later, nothing more.
    c.m->advance_us(t0 + 210 * kMs);
    c.net.ev->net_suback(c.net.sub_ops.back(), {1});
    c.out.clear();
    c.m->advance_us(t0 + 359 * kMs);
    EXPECT_EQ(c.out, "");
    c.m->advance_us(t0 + 360 * kMs);
    EXPECT_EQ(c.out, "\r\n+QMTSUB: 0,1,0,1\r\n");
}

TEST(Timing, ProcAndRttChangeAtRunTime) {
    Clock c(with(0, 0));
    c.m->set_proc(50);
    c.m->set_rtt(100);
    EXPECT_EQ(c.until("AT+QMTOPEN=0,\"10.0.0.1\",1883\r", "+QMTOPEN: 0,0"), 150 * kMs);
}

TEST(Timing, UartAddsTheLineTimeOfTheResult) {
    Options o = with(300);
    o.baud = 9600;
    Clock c(o);
    // The CR is in when its last bit is: 32 bytes of command at 9600 baud.
    const std::string cmd = "AT+QMTOPEN=0,\"10.0.0.1\",1883\r";
    const Micros cr_in = uart_done_us(cmd.size() - 1, 9600);
    const std::string result = "\r\n+QMTOPEN: 0,0\r\n";
    // The result starts on an idle line proc + RTT after the CR and is through a line time later.
    const Micros expect = cr_in + 320 * kMs + uart_done_us(result.size() - 1, 9600);
    EXPECT_EQ(c.until(cmd, "+QMTOPEN: 0,0\r\n"), expect);
}
