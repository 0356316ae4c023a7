// --variant bg95 / ec2x under virtual time: recv/mode (a length field, buffered receive with
// AT+QMTRECV), pdpcid, ssl, AT+QMTPUBEX; and the default (bc28) answers none of it.
#include "bc28sim/module.hpp"
#include "fake_network.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace bc28sim;
using bc28sim::test::FakeNetwork;

namespace {

std::string line(const std::string& s) {
    return "\r\n" + s + "\r\n";
}
const std::string kOk = line("OK");
std::string cme(int n) {
    return line("+CME ERROR: " + std::to_string(n));
}

struct Sim {
    FakeNetwork net;
    std::string out;
    std::unique_ptr<Module> m;

    explicit Sim(Variant v = Variant::bg95, Options o = {}) {
        o.variant = v;
        o.boot_ms = 100;
        o.unix_ms = [] { return std::uint64_t{1700000000123}; };
        m = std::make_unique<Module>(
            net, [this](std::string_view b) { out.append(b); }, std::move(o));
        cmd("ATE0");
        cmd("AT+CMEE=1");
    }
    std::string all(const std::string& bytes) {
        out.clear();
        m->feed(bytes);
        run();
        std::string s;
        s.swap(out);
        return s;
    }
    void run() {
        while (const auto d = m->next_deadline_us()) m->advance_us(*d);
    }
    std::string cmd(const std::string& l) { return all(l + "\r"); }
    std::string message(const std::string& topic, const std::string& payload, int qos = 0,
                        std::uint16_t id = 0) {
        out.clear();
        net.ev->net_message(id, topic, payload, qos, false);
        run();
        std::string s;
        s.swap(out);
        return s;
    }
    void connected() {
        ASSERT_EQ(cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883"), kOk + line("+QMTOPEN: 0,0"));
        ASSERT_EQ(cmd("AT+QMTCONN=0,\"dev\""), kOk + line("+QMTCONN: 0,0,0"));
    }
};

}  // namespace

TEST(Variant, Bc28AnswersNoneOfIt) {
    Sim s(Variant::bc28);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,1,1"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0,1"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0,1,2"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), cme(4));
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=?"), cme(4));
    EXPECT_EQ(s.cmd("AT+QMTCFG=?").find("recv/mode"), std::string::npos);
}

TEST(Variant, ConfigItemsSetAndQuery) {
    Sim s;
    const std::string t = s.cmd("AT+QMTCFG=?");
    EXPECT_NE(t.find("+QMTCFG: \"pdpcid\",(0),(1-16)\r\n"), std::string::npos) << t;
    EXPECT_NE(t.find("+QMTCFG: \"ssl\",(0),(0,1),(0-5)\r\n"), std::string::npos);
    EXPECT_NE(t.find("+QMTCFG: \"recv/mode\",(0),(0,1),(0,1)\r\n"), std::string::npos);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",0,0") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,0,1"), kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,1"), kOk);  // the length setting is kept
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",1,1") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,2"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0"), line("+QMTCFG: \"pdpcid\",1") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0,16"), kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0"), line("+QMTCFG: \"pdpcid\",16") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0,17"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0"), line("+QMTCFG: \"ssl\",0,0") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0,1,2"), kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0"), line("+QMTCFG: \"ssl\",1,2") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0,1,6"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",1,1"), cme(50));  // connect ID 0 only
    // Not kept across a reset, as every other setting.
    s.m->reboot();
    s.run();
    s.cmd("ATE0");
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",0,0") + kOk);
}

TEST(Variant, RecvModeZeroIsTheNotesUrcWithAnOptionalLength) {
    Sim s;
    s.connected();
    EXPECT_EQ(s.message("t/a", "hello, world"), line("+QMTRECV: 0,0,\"t/a\",hello, world"));
    s.cmd("AT+QMTCFG=\"recv/mode\",0,0,1");
    EXPECT_EQ(s.message("t/a", "hello, world", 1, 9),
              line("+QMTRECV: 0,9,\"t/a\",12,hello, world"));
}

TEST(Variant, BufferedReceiveNoticeThenRead) {
    Sim s;
    s.cmd("AT+QMTCFG=\"recv/mode\",0,1,1");
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTRECV=?"), line("+QMTRECV: (0),(0-4)") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,0,0,0,0,0") + kOk);
    EXPECT_EQ(s.message("t/a", "one", 1, 3), line("+QMTRECV: 0,0"));
    EXPECT_EQ(s.message("t/b", "two"), line("+QMTRECV: 0,1"));
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,1,1,0,0,0") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,1"), line("+QMTRECV: 0,0,\"t/b\",3,two") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,1"), kOk);  // read once
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,1,0,0,0,0") + kOk);
    EXPECT_EQ(s.message("t/c", "three"), line("+QMTRECV: 0,1"));  // the freed slot first
    EXPECT_EQ(s.cmd("AT+QMTRECV=0"),
              "\r\n+QMTRECV: 0,3,\"t/a\",3,one\r\n+QMTRECV: 0,0,\"t/c\",5,three\r\n" + kOk);
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,5"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTRECV=1,0"), cme(50));
    // Five slots: a sixth message while all are full is dropped.
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(s.message("t/f", std::to_string(i)), line("+QMTRECV: 0," + std::to_string(i)));
    }
    EXPECT_EQ(s.message("t/f", "lost"), "");
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,1,1,1,1,1") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,4"), line("+QMTRECV: 0,0,\"t/f\",1,4") + kOk);
}

TEST(Variant, PubexIsTheFixedLengthPublishWithItsOwnResult) {
    Sim s;
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=?"),
              line("+QMTPUBEX: (0),<msgid>,(0-2),(0,1),\"topic\",\"length\"") + kOk);
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,0,0,0,\"t/x\""), cme(50));  // the length is required
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,0,0,0,\"t/#\",2"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,0,0,0,\"t/x\",5"), "\r\n>");
    EXPECT_EQ(s.all("a\x1A\x1B\r\n"), kOk + line("+QMTPUBEX: 0,0,0"));
    ASSERT_EQ(s.net.pubs.size(), 1u);
    EXPECT_EQ(s.net.pubs[0].payload, "a\x1A\x1B\r\n");
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,4,1,1,\"t/x\",2"), "\r\n>");
    EXPECT_EQ(s.all("hi"), kOk + line("+QMTPUBEX: 0,4,0"));
    EXPECT_TRUE(s.net.pubs[1].retain);
    // AT+QMTPUB's results stay +QMTPUB.
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,5,1,0,\"t/x\",2"), "\r\n>");
    EXPECT_EQ(s.all("ok"), kOk + line("+QMTPUB: 0,5,0"));
}

TEST(Variant, PubexRetransmissionReportsArePubexLines) {
    Sim s;
    s.connected();
    s.cmd("AT+QMTCFG=\"timeout\",0,1,1,1");
    s.net.auto_ack = false;
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,8,1,0,\"t/x\",1"), "\r\n>");
    EXPECT_EQ(s.all("z"), kOk + line("+QMTPUBEX: 0,8,1,1") + line("+QMTPUBEX: 0,8,2"));
}

TEST(Variant, Ec2xIsTheSameFamily) {
    Sim s(Variant::ec2x);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,1"), kOk);
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,0,0,0,0,0") + kOk);
}
