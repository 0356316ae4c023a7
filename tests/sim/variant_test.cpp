// --variant bg95 / ec2x under virtual time: recv/mode (a length field, buffered receive with
// AT+QMTRECV), pdpcid, ssl, AT+QMTPUBEX; and the default (bc28) answers none of it.
#include "rig.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace bc28sim;
using namespace bc28sim::test;

namespace {

// The variant under test, echo off, numeric errors.
struct Sim : SettledSim {
    explicit Sim(Variant v = Variant::bg95, Options o = {}) : SettledSim(with_variant(v, o)) {
        cmd("ATE0");
        cmd("AT+CMEE=1");
    }
    static Options with_variant(Variant v, Options o) {
        o.variant = v;
        return o;
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
    EXPECT_NE(t.find("+QMTCFG: \"pdpcid\",(0-5),(1-16)\r\n"), std::string::npos) << t;
    EXPECT_NE(t.find("+QMTCFG: \"ssl\",(0-5),(0,1),(0-5)\r\n"), std::string::npos);
    EXPECT_NE(t.find("+QMTCFG: \"recv/mode\",(0-5),(0,1),(0,1)\r\n"), std::string::npos);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",0,0") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,0,1"), ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,1"), ok());  // the length setting is kept
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",1,1") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,2"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0"), line("+QMTCFG: \"pdpcid\",1") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0,16"), ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0"), line("+QMTCFG: \"pdpcid\",16") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"pdpcid\",0,17"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0"), line("+QMTCFG: \"ssl\",0,0") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0,1,2"), ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0"), line("+QMTCFG: \"ssl\",1,2") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",0,1,6"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"ssl\",6,1"), cme(50));  // connect IDs 0-5
    // Not kept across a reset, as every other setting.
    s.m->reboot();
    s.run();
    s.cmd("ATE0");
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",0,0") + ok());
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
    EXPECT_EQ(s.cmd("AT+QMTRECV=?"), line("+QMTRECV: (0-5),(0-4)") + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,0,0,0,0,0") + ok());
    EXPECT_EQ(s.message("t/a", "one", 1, 3), line("+QMTRECV: 0,0"));
    EXPECT_EQ(s.message("t/b", "two"), line("+QMTRECV: 0,1"));
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,1,1,0,0,0") + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,1"), line("+QMTRECV: 0,0,\"t/b\",3,two") + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,1"), ok());  // read once
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,1,0,0,0,0") + ok());
    EXPECT_EQ(s.message("t/c", "three"), line("+QMTRECV: 0,1"));  // the freed slot first
    EXPECT_EQ(s.cmd("AT+QMTRECV=0"),
              "\r\n+QMTRECV: 0,3,\"t/a\",3,one\r\n+QMTRECV: 0,0,\"t/c\",5,three\r\n" + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,5"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTRECV=6,0"), cme(50));
    // Five slots: a sixth message while all are full is dropped.
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(s.message("t/f", std::to_string(i)), line("+QMTRECV: 0," + std::to_string(i)));
    }
    EXPECT_EQ(s.message("t/f", "lost"), "");
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,1,1,1,1,1") + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,4"), line("+QMTRECV: 0,0,\"t/f\",1,4") + ok());
}

TEST(Variant, PubexIsTheFixedLengthPublishWithItsOwnResult) {
    Sim s;
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=?"),
              line("+QMTPUBEX: (0-5),<msgid>,(0-2),(0,1),\"topic\",\"length\"") + ok());
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,0,0,0,\"t/x\""), cme(50));  // the length is required
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,0,0,0,\"t/#\",2"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,0,0,0,\"t/x\",5"), "\r\n>");
    EXPECT_EQ(s.all("a\x1A\x1B\r\n"), ok() + line("+QMTPUBEX: 0,0,0"));
    ASSERT_EQ(s.net.pubs.size(), 1u);
    EXPECT_EQ(s.net.pubs[0].payload, "a\x1A\x1B\r\n");
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,4,1,1,\"t/x\",2"), "\r\n>");
    EXPECT_EQ(s.all("hi"), ok() + line("+QMTPUBEX: 0,4,0"));
    EXPECT_TRUE(s.net.pubs[1].retain);
    // AT+QMTPUB's results stay +QMTPUB.
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,5,1,0,\"t/x\",2"), "\r\n>");
    EXPECT_EQ(s.all("ok"), ok() + line("+QMTPUB: 0,5,0"));
}

TEST(Variant, PubexRetransmissionReportsArePubexLines) {
    Sim s;
    s.connected();
    s.cmd("AT+QMTCFG=\"timeout\",0,1,1,1");
    s.net.auto_ack = false;
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,8,1,0,\"t/x\",1"), "\r\n>");
    EXPECT_EQ(s.all("z"), ok() + line("+QMTPUBEX: 0,8,1,1") + line("+QMTPUBEX: 0,8,2"));
}

TEST(Variant, Ec2xIsTheSameFamily) {
    Sim s(Variant::ec2x);
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0,1"), ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV?"), line("+QMTRECV: 0,0,0,0,0,0") + ok());
}
