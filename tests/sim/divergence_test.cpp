// Where bc28-sim used to diverge from what the note supports (issue 14), under virtual time:
// invalid topic filters, +QMTOPEN result 1, echo past 1,024 payload bytes, AT+QMTCLOSE after
// AT+QMTDISC, echo after AT+NRB, a non-zero msgID with QoS 0. docs/emulator.md gives each
// choice and the section of the note behind it.
#include "rig.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace bc28sim;
using namespace bc28sim::test;

namespace {

using Sim = SettledSim;

}  // namespace

// ------------------------------------------------------------------ invalid topic filters

TEST(Divergence, InvalidFilterIsAParameterErrorNotADeadLink) {
    Sim s;
    s.connected();
    for (const char* bad : {"a/#/b", "a#", "#/a", "a/b#", "a+", "+a/b", "a/+b", "a/\xC3"}) {
        EXPECT_EQ(s.cmd(std::string("AT+QMTSUB=0,1,\"") + bad + "\",0"), cme(50)) << bad;
        EXPECT_EQ(s.cmd(std::string("AT+QMTUNS=0,1,\"") + bad + "\""), cme(50)) << bad;
    }
    // One bad filter among good ones refuses the whole command.
    EXPECT_EQ(s.cmd("AT+QMTSUB=0,1,\"a/b\",0,\"a/#/b\",1"), cme(50));
    EXPECT_TRUE(s.net.subs.empty());
    EXPECT_TRUE(s.net.unsubs.empty());
    EXPECT_EQ(s.m->state_name(), "connected");
    for (const char* good : {"a/+/b", "#", "+", "a/#", "/", "+/+", "a//b", "主题/+"}) {
        EXPECT_EQ(s.cmd(std::string("AT+QMTSUB=0,1,\"") + good + "\",1"),
                  ok() + line("+QMTSUB: 0,1,0,1"))
            << good;
    }
}

TEST(Divergence, WildcardsInATopicNameAreAParameterError) {
    Sim s;
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,0,0,0,\"a/+\""), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,1,1,0,\"a/#\",3"), cme(50));
    EXPECT_FALSE(s.m->in_data_mode());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"will\",0,1,0,0,\"w/#\",\"gone\""), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"will\",0,1,0,0,\"w/+/x\",\"gone\""), cme(50));
    EXPECT_EQ(s.m->state_name(), "connected");
    EXPECT_TRUE(s.net.pubs.empty());
}

// ------------------------------------------------------------------- +QMTOPEN result 1

TEST(Divergence, OpenResultOneForUnusableValuesCme50ForMalformedOnes) {
    Sim s;
    s.cmd("ATE0");
    s.cmd("AT+CMEE=1");
    // Outside what the note's parameter table allows, or not the command's form: refused.
    EXPECT_EQ(s.cmd("AT+QMTOPEN=1,\"h\",1883"), cme(50));  // connectID is always 0
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"\",1883"), cme(50));   // no host
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"" + std::string(101, 'h') + "\",1883"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"h\",65536"), cme(50));     // port range 0-65535
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"h\",\"1883\""), cme(50));  // a quoted number
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"h\""), cme(50));           // port missing
    // Within the table, but nothing the module can open: OK, then result 1, no network used.
    for (const char* host : {"bad host", "1.2.3.256", "-x.example", "a..b", "x_y:1"}) {
        EXPECT_EQ(s.cmd(std::string("AT+QMTOPEN=0,\"") + host + "\",1883"),
                  ok() + line("+QMTOPEN: 0,1"))
            << host;
    }
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"10.0.0.1\",0"), ok() + line("+QMTOPEN: 0,1"));  // port 0
    EXPECT_TRUE(s.net.opens.empty());
    EXPECT_EQ(s.cmd("AT+QMTOPEN?"), ok());  // still closed
    EXPECT_EQ(s.cmd("AT+QMTOPEN=0,\"broker-1.example\",1883"), ok() + line("+QMTOPEN: 0,0"));
}

// ------------------------------------------------------------ echo of a payload past 1,024

TEST(Divergence, EchoStopsWhereThePayloadIsCut) {
    Sim s;
    s.cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883");
    s.cmd("AT+QMTCONN=0,\"dev\"");
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,0,0,0,\"t\""), "AT+QMTPUB=0,0,0,0,\"t\"\r\r\n>");
    const std::string typed = std::string(1024, 'k') + std::string(76, 'x');
    EXPECT_EQ(s.all(typed + "\x1A"),
              std::string(1024, 'k') + ok() + line("+QMTPUB: 0,0,0"));  // the x's are dropped
    ASSERT_EQ(s.net.pubs.size(), 1u);
    EXPECT_EQ(s.net.pubs[0].payload, std::string(1024, 'k'));
}

// --------------------------------------------------------------- AT+QMTCLOSE after DISC

TEST(Divergence, CloseAfterDiscFailsByDefault) {
    Sim s;
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTDISC=0"), ok() + line("+QMTDISC: 0,0"));
    EXPECT_EQ(s.cmd("AT+QMTCLOSE=0"), ok() + line("+QMTCLOSE: 0,-1"));  // nothing left to close
}

TEST(Divergence, CloseAfterDiscSucceedsWhenAsked) {
    Options o;
    o.close_after_disc_ok = true;
    Sim s(o);
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTDISC=0"), ok() + line("+QMTDISC: 0,0"));
    EXPECT_EQ(s.cmd("AT+QMTCLOSE=0"), ok() + line("+QMTCLOSE: 0,0"));
    EXPECT_EQ(s.cmd("AT+QMTCLOSE=0"), ok() + line("+QMTCLOSE: 0,-1"));  // once only
    EXPECT_EQ(s.net.disconnects, 1);
    // A network that was never opened is still a failure to close.
    Sim fresh(o);
    fresh.cmd("ATE0");
    EXPECT_EQ(fresh.cmd("AT+QMTCLOSE=0"), ok() + line("+QMTCLOSE: 0,-1"));
}

// ------------------------------------------------------------------- echo after AT+NRB

TEST(Divergence, EchoIsOnAgainAfterARebootByDefault) {
    Sim s;
    s.cmd("ATE0");
    EXPECT_EQ(s.cmd("AT+NRB"),
              line("REBOOTING") + line("REBOOT_CAUSE_APPLICATION_AT") + "Neul\r\nOK\r\n");
    EXPECT_EQ(s.cmd("AT"), "AT\r" + ok());
}

TEST(Divergence, EchoCanSurviveAReboot) {
    Options o;
    o.reboot_keeps_echo = true;
    Sim s(o);
    s.cmd("ATE0");
    s.cmd("AT+CMEE=1");
    s.cmd("AT+NRB");
    EXPECT_EQ(s.cmd("AT"), ok());
    EXPECT_EQ(s.cmd("AT+FOO"), line("ERROR"));  // only the echo is kept
    s.m->reboot();
    while (const auto d = s.m->next_deadline_us()) s.m->advance_us(*d);
    EXPECT_EQ(s.cmd("AT"), ok());
    s.cmd("ATE1");
    s.m->reboot();
    while (const auto d = s.m->next_deadline_us()) s.m->advance_us(*d);
    EXPECT_EQ(s.cmd("AT"), "AT\r" + ok());
}

// -------------------------------------------------------- a non-zero msgID with QoS 0

TEST(Divergence, Qos0WithANonZeroMsgIdIsAcceptedByDefault) {
    Sim s;
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,7,0,0,\"t\""), "\r\n>");
    EXPECT_EQ(s.all("x\x1A"), ok() + line("+QMTPUB: 0,7,0"));  // the id comes back as given
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,7,0,0,\"t\""), "\r\n>");      // QoS 0 holds no id
    EXPECT_EQ(s.all("y\x1A"), ok() + line("+QMTPUB: 0,7,0"));
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,0,1,0,\"t\""), cme(50));  // QoS 1 and 2 never take 0
    ASSERT_EQ(s.net.pubs.size(), 2u);
    EXPECT_EQ(s.net.pubs[0].qos, 0);
}

TEST(Divergence, Qos0WithANonZeroMsgIdIsRefusedWhenStrict) {
    Options o;
    o.strict_pub_msgid = true;
    Sim s(o);
    s.connected();
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,7,0,0,\"t\""), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,0,1,0,\"t\""), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTPUB=0,0,0,0,\"t\""), "\r\n>");
}
