// The module model in-process: a fake network and virtual time. Byte-exact answers.
#include "bc28sim/at_line.hpp"
#include "bc28sim/module.hpp"
#include "fake_network.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace bc28sim;
using bc28sim::test::FakeNetwork;

namespace {

std::string ok() {
    return "\r\nOK\r\n";
}
std::string line(const std::string& s) {
    return "\r\n" + s + "\r\n";
}

struct Rig {
    FakeNetwork net;
    std::string out;
    std::unique_ptr<Module> m;
    Millis t = 0;

    explicit Rig(Options o = {}) {
        o.proc_ms = 0;  // byte-exact bursts; the processing delay is timing_test.cpp's
        if (!o.unix_ms) o.unix_ms = [] { return std::uint64_t{1700000000123}; };
        m = std::make_unique<Module>(
            net, [this](std::string_view b) { out.append(b); }, std::move(o));
    }
    // Sends "<line>\r" and returns everything the module wrote up to now.
    std::string cmd(const std::string& l) {
        m->feed(l + "\r");
        return take();
    }
    std::string raw(const std::string& bytes) {
        m->feed(bytes);
        return take();
    }
    std::string take() {
        std::string s;
        s.swap(out);
        return s;
    }
    std::string run(Millis ms) {
        t += ms;
        m->advance(t);
        return take();
    }
    // ATE0, AT+CMEE=1, open and connect.
    void connected() {
        cmd("ATE0");
        cmd("AT+CMEE=1");
        ASSERT_EQ(cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883"), ok() + line("+QMTOPEN: 0,0"));
        ASSERT_EQ(cmd("AT+QMTCONN=0,\"dev1\""), ok() + line("+QMTCONN: 0,0,0"));
    }
};

std::string cme(int n) {
    return line("+CME ERROR: " + std::to_string(n));
}

}  // namespace

// ------------------------------------------------------------------------------- the parser

TEST(AtLine, SplitsArgumentsOutsideQuotes) {
    auto r = parse_command_line("AT+QMTSUB=0,1,\"a,b\",2, \"c\" ,0");
    ASSERT_TRUE(r.cmd);
    EXPECT_EQ(r.cmd->name, "+QMTSUB");
    EXPECT_EQ(r.cmd->form, Form::set);
    ASSERT_EQ(r.cmd->args.size(), 6u);
    EXPECT_EQ(r.cmd->args[2].text, "a,b");
    EXPECT_TRUE(r.cmd->args[2].is_string());
    EXPECT_EQ(r.cmd->args[4].text, "c");
    EXPECT_EQ(r.cmd->args[5].as_int(), 0);
}

TEST(AtLine, FormsAndCase) {
    EXPECT_EQ(parse_command_line("at+qmtopen?").cmd->form, Form::query);
    EXPECT_EQ(parse_command_line("AT+QMTOPEN=?").cmd->form, Form::test);
    EXPECT_EQ(parse_command_line("AT+NRB").cmd->form, Form::exec);
    EXPECT_EQ(parse_command_line("ATE0").cmd->name, "E0");
    EXPECT_EQ(parse_command_line("XYZ").error, ParseError::not_at);
    EXPECT_EQ(parse_command_line("AT+QMTOPEN=0,\"host,1").error, ParseError::syntax);
    EXPECT_EQ(parse_command_line("AT+QMTOPEN=0,\"ho\"st\",1").error, ParseError::syntax);
}

TEST(AtLine, StrictIntegers) {
    auto a = split_args("12,-1,1x,\"3\",,");
    ASSERT_TRUE(a);
    EXPECT_EQ((*a)[0].as_int(), 12);
    EXPECT_EQ((*a)[1].as_int(), -1);
    EXPECT_FALSE((*a)[2].as_int());
    EXPECT_FALSE((*a)[3].as_int());  // a quoted number is a string
    EXPECT_TRUE((*a)[4].is_empty());
}

// ---------------------------------------------------------------------- echo, CMEE, bring-up

TEST(Model, EchoOnByDefaultThenOff) {
    Rig r;
    EXPECT_EQ(r.cmd("AT"), "AT\r" + ok());
    EXPECT_EQ(r.cmd("ATE0"), "ATE0\r" + ok());
    EXPECT_EQ(r.cmd("AT"), ok());
    EXPECT_EQ(r.cmd("ATE1"), ok());
    EXPECT_EQ(r.cmd("AT"), "AT\r" + ok());
    EXPECT_EQ(r.raw("AT\r\n"),
              "AT\r" + ok() + "\n");  // the LF is echoed as it arrives, then ignored
}

TEST(Model, CmeeSwitchesErrorForm) {
    Rig r;
    r.cmd("ATE0");
    EXPECT_EQ(r.cmd("AT+FOO"), line("ERROR"));
    EXPECT_EQ(r.cmd("AT+CMEE=1"), ok());
    EXPECT_EQ(r.cmd("AT+FOO"), cme(4));
    EXPECT_EQ(r.cmd("AT+CMEE?"), line("+CMEE:1") + ok());
    EXPECT_EQ(r.cmd("AT+CMEE=2"), cme(50));
    EXPECT_EQ(r.cmd("AT+CMEE=0"), ok());
    EXPECT_EQ(r.cmd("AT+QMTOPEN=1,\"h\",1"), line("ERROR"));
}

TEST(Model, BringUpCommandsUseBc28Format) {
    Options o;
    o.identity.imei = "861234567890123";
    o.identity.imsi = "460011234567891";
    o.identity.iccid = "89860412345678901234";
    Rig r(o);
    r.cmd("ATE0");
    EXPECT_EQ(r.cmd("ATI"), "\r\nQuectel\r\nBC28\r\nRevision:BC28JAR01A10\r\n" + ok());
    EXPECT_EQ(r.cmd("AT+CGSN=1"), line("+CGSN:861234567890123") + ok());
    EXPECT_EQ(r.cmd("AT+CIMI"), line("460011234567891") + ok());
    EXPECT_EQ(r.cmd("AT+NCCID"), line("+NCCID:89860412345678901234") + ok());
    EXPECT_EQ(r.cmd("AT+CGATT?"), line("+CGATT:1") + ok());
    EXPECT_EQ(r.cmd("AT+CEREG?"), line("+CEREG:0,1") + ok());
    EXPECT_EQ(r.cmd("AT+CSQ"), line("+CSQ:24,99") + ok());
    EXPECT_EQ(r.cmd("AT+CFUN?"), line("+CFUN:1") + ok());
    EXPECT_EQ(r.cmd("AT+CGATT=0"), ok());
    EXPECT_EQ(r.cmd("AT+CGATT?"), line("+CGATT:0") + ok());
    EXPECT_EQ(r.cmd("AT+CSQ"), line("+CSQ:99,99") + ok());
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",1883"), ok() + line("+QMTOPEN: 0,3"));
}

TEST(Model, RebootLosesEverySetting) {
    Options o;
    o.boot_ms = 500;
    Rig r(o);
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    r.cmd("AT+QMTCFG=\"keepalive\",0,30");
    r.cmd("AT+QMTCFG=\"will\",0,1,1,0,\"w\",\"gone\"");
    r.cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883");
    EXPECT_EQ(r.cmd("AT+NRB"), line("REBOOTING"));
    EXPECT_EQ(r.net.closes, 1);
    EXPECT_TRUE(r.m->rebooting());
    EXPECT_EQ(r.cmd("AT"), "");  // nobody listens while it reboots
    EXPECT_EQ(r.run(499), "");
    EXPECT_EQ(r.run(1), "\r\nREBOOT_CAUSE_APPLICATION_AT\r\nNeul\r\nOK\r\n");
    // Echo is back on, CMEE is back to 0, MQTT settings are defaults again.
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"keepalive\",0"),
              "AT+QMTCFG=\"keepalive\",0\r" + line("+QMTCFG: \"keepalive\",120") + ok());
    r.cmd("ATE0");
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0"), line("+QMTCFG: \"will\",0") + ok());
    EXPECT_EQ(r.cmd("AT+FOO"), line("ERROR"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
}

TEST(Model, UnexpectedRebootFault) {
    Options o;
    o.boot_ms = 100;
    Rig r(o);
    r.connected();
    r.m->reboot();
    EXPECT_EQ(r.run(100), "\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n");
    EXPECT_EQ(r.m->state_name(), "closed");
}

// ------------------------------------------------------------------------------- AT+QMTCFG

TEST(Model, QmtcfgTestForm) {
    Rig r;
    r.cmd("ATE0");
    EXPECT_EQ(r.cmd("AT+QMTCFG=?"),
              "\r\n+QMTCFG: \"version\",(0),(3,4)\r\n"
              "+QMTCFG: \"keepalive\",(0),(0-3600)\r\n"
              "+QMTCFG: \"session\",(0),(0,1)\r\n"
              "+QMTCFG: \"timeout\",(0),(1-60),(0-10),(0,1)\r\n"
              "+QMTCFG: \"will\",(0),(0,1),(0-2),(0,1),<will_topic>,<will_msg>\r\n"
              "+QMTCFG: \"aliauth\",(0),<productkey>,<devicename>,<devicesecret>\r\n" +
                  ok());
}

TEST(Model, QmtcfgSetAndQuery) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"version\",0"), line("+QMTCFG: \"version\",4") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"version\",0,3"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"VERSION\",0"), line("+QMTCFG: \"version\",3") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"keepalive\",0,0"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"keepalive\",0,3600"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"keepalive\",0"), line("+QMTCFG: \"keepalive\",3600") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"session\",0"), line("+QMTCFG: \"session\",1") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"session\",0,0"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"session\",0"), line("+QMTCFG: \"session\",0") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"timeout\",0"), line("+QMTCFG: \"timeout\",10,3,0") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"timeout\",0,5"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"timeout\",0"), line("+QMTCFG: \"timeout\",5,3,0") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"timeout\",0,60,10,1"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"timeout\",0"), line("+QMTCFG: \"timeout\",60,10,1") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"aliauth\",0"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"aliauth\",0,\"pk\",\"dn\",\"ds\""), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"aliauth\",0"),
              line("+QMTCFG: \"aliauth\",\"pk\",\"dn\",\"ds\"") + ok());
}

TEST(Model, QmtcfgValidation) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    const char* bad[] = {
        "AT+QMTCFG=\"version\",1",
        "AT+QMTCFG=\"version\",0,5",
        "AT+QMTCFG=\"version\",0,2",
        "AT+QMTCFG=\"version\",0,\"4\"",
        "AT+QMTCFG=\"keepalive\",0,3601",
        "AT+QMTCFG=\"keepalive\",0,-1",
        "AT+QMTCFG=\"session\",0,2",
        "AT+QMTCFG=\"timeout\",0,0",
        "AT+QMTCFG=\"timeout\",0,61",
        "AT+QMTCFG=\"timeout\",0,10,11",
        "AT+QMTCFG=\"timeout\",0,10,3,2",
        "AT+QMTCFG=\"timeout\",0,10,3,0,1",
        "AT+QMTCFG=\"nosuch\",0",
        "AT+QMTCFG=version,0",
        "AT+QMTCFG=\"aliauth\",0,\"pk\",\"dn\"",
        "AT+QMTCFG=\"aliauth\",0,\"pk\",\"dn\",\"\"",
        "AT+QMTCFG?",
        "AT+QMTCFG",
    };
    for (const char* b : bad) EXPECT_NE(r.cmd(b).find("+CME ERROR: "), std::string::npos) << b;
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"version\",0,5"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG?"), cme(4));
}

TEST(Model, WillIsAllOrNothing) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    const std::string t255(255, 't'), t256(256, 't'), m255(255, 'm'), m256(256, 'm');
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,1,0,\"t\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,0,1,0,\"t\",\"m\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,3,0,\"t\",\"m\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,1,2,\"t\",\"m\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,1,0,\"\",\"m\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,1,0,\"" + t256 + "\",\"m\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,1,0,\"t\",\"" + m256 + "\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,1,0,\"" + t255 + "\",\"" + m255 + "\""), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,1,2,1,\"dev/will\",\"\""), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0"),
              line("+QMTCFG: \"will\",1,2,1,\"dev/will\",\"\"") + ok());
    r.connected();
    ASSERT_EQ(r.net.connects.size(), 1u);
    EXPECT_TRUE(r.net.connects[0].will.enabled);
    EXPECT_EQ(r.net.connects[0].will.qos, 2);
    EXPECT_TRUE(r.net.connects[0].will.retain);
    EXPECT_EQ(r.net.connects[0].will.topic, "dev/will");
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0,0"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCFG=\"will\",0"), line("+QMTCFG: \"will\",0") + ok());
}

// ------------------------------------------------------------------- open / conn / disc / close

TEST(Model, OpenConnDiscCloseTestAndQueryForms) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    EXPECT_EQ(r.cmd("AT+QMTOPEN=?"), line("+QMTOPEN: (0),<host_name>,<port>") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCLOSE=?"), line("+QMTCLOSE: (0)") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCONN=?"), line("+QMTCONN: (0),<clientID>,<username>,<password>") + ok());
    EXPECT_EQ(r.cmd("AT+QMTDISC=?"), line("+QMTDISC: (0)") + ok());
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCONN?"), ok());
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"broker.example\",1883"), ok() + line("+QMTOPEN: 0,0"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), line("+QMTOPEN: 0,\"broker.example\",1883") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCONN?"), line("+QMTCONN: 0,1") + ok());
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"broker.example\",1883"), ok() + line("+QMTOPEN: 0,2"));
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\",\"u\",\"p\""), ok() + line("+QMTCONN: 0,0,0"));
    EXPECT_EQ(r.cmd("AT+QMTCONN?"), line("+QMTCONN: 0,3") + ok());
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\""), cme(3));
    ASSERT_EQ(r.net.connects.size(), 1u);
    EXPECT_EQ(r.net.connects[0].client_id, "c");
    EXPECT_EQ(r.net.connects[0].username, std::optional<std::string>("u"));
    EXPECT_EQ(r.net.connects[0].password, std::optional<std::string>("p"));
    EXPECT_EQ(r.net.connects[0].version, 4);
    EXPECT_EQ(r.net.connects[0].keepalive_s, 120);
    EXPECT_TRUE(r.net.connects[0].clean_session);
    EXPECT_EQ(r.cmd("AT+QMTDISC=0"), ok() + line("+QMTDISC: 0,0"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
    EXPECT_EQ(r.cmd("AT+QMTDISC=0"), ok() + line("+QMTDISC: 0,-1"));
    EXPECT_EQ(r.cmd("AT+QMTCLOSE=0"), ok() + line("+QMTCLOSE: 0,-1"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",1"), ok() + line("+QMTOPEN: 0,0"));
    EXPECT_EQ(r.cmd("AT+QMTCLOSE=0"), ok() + line("+QMTCLOSE: 0,0"));
    EXPECT_EQ(r.net.closes, 1);
}

TEST(Model, OpenValidationAndResults) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    // 100 bytes that make a host name (labels are at most 63: divergence_test.cpp, result 1)
    const std::string h100 = std::string(49, 'h') + "." + std::string(50, 'h'), h101(101, 'h');
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"" + h101 + "\",1883"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"\",1883"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",65536"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",-1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=1,\"h\",1883"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,h,1883"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTOPEN"), cme(4));
    r.net.open_result = 4;
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"" + h100 + "\",65535"), ok() + line("+QMTOPEN: 0,4"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
    r.net.open_result = -1;
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",1"), ok() + line("+QMTOPEN: 0,-1"));  // port 0: result 1
}

TEST(Model, OpenTimesOutAfter75Seconds) {
    Rig r;
    r.cmd("ATE0");
    r.net.auto_ack = false;
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",1"), ok());
    EXPECT_EQ(r.run(74999), "");
    EXPECT_EQ(r.run(1), line("+QMTOPEN: 0,-1"));
}

TEST(Model, ConnValidationAndState) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\""), cme(3));  // network not open
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCONN=1,\"c\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,c"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\",\"u\",\"p\",\"x\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTCONN=0"), cme(50));
}

TEST(Model, ConnackRefusedReportsRetCodeThenStat4) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    r.net.connack_rc = 5;
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\",\"u\",\"bad\""),
              ok() + line("+QMTCONN: 0,0,5") + line("+QMTSTAT: 0,4"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
}

TEST(Model, RefuseConnectFault) {
    Rig r;
    r.cmd("ATE0");
    r.m->refuse_open(true);
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",1"), ok() + line("+QMTOPEN: 0,-1"));
    r.m->refuse_open(false);
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    r.m->refuse_connect(3);
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\""), ok() + line("+QMTCONN: 0,0,3") + line("+QMTSTAT: 0,4"));
    EXPECT_TRUE(r.net.connects.empty());
}

TEST(Model, ConnackTimeoutRetransmitsThenFails) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+QMTCFG=\"timeout\",0,2,2,1");
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    r.net.auto_ack = false;
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\""), ok());
    EXPECT_EQ(r.cmd("AT+QMTCONN?"), line("+QMTCONN: 0,2") + ok());
    EXPECT_EQ(r.run(2000), line("+QMTCONN: 0,1"));
    EXPECT_EQ(r.run(2000), line("+QMTCONN: 0,1"));
    EXPECT_EQ(r.run(2000), line("+QMTCONN: 0,2") + line("+QMTSTAT: 0,4"));
    EXPECT_EQ(r.net.retransmits.size(), 2u);
}

TEST(Model, AliauthSignsConnect) {
    Options o;
    AliyunSignInput seen;
    o.sign_aliyun = [&seen](const AliyunSignInput& in) -> std::optional<SignedCredentials> {
        seen = in;
        return SignedCredentials{in.client_id + "|securemode=3,signmethod=hmacsha256,timestamp=" +
                                     std::to_string(in.timestamp_ms) + "|",
                                 in.device_name + "&" + in.product_key, "hexsig"};
    };
    Rig r(o);
    r.cmd("ATE0");
    r.cmd("AT+QMTCFG=\"aliauth\",0,\"pk1\",\"dn1\",\"secret1\"");
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"cid\""), ok() + line("+QMTCONN: 0,0,0"));
    EXPECT_EQ(seen.device_secret, "secret1");
    EXPECT_EQ(seen.timestamp_ms, 1700000000123u);
    ASSERT_EQ(r.net.connects.size(), 1u);
    EXPECT_EQ(r.net.connects[0].client_id,
              "cid|securemode=3,signmethod=hmacsha256,timestamp=1700000000123|");
    EXPECT_EQ(r.net.connects[0].username, std::optional<std::string>("dn1&pk1"));
    EXPECT_EQ(r.net.connects[0].password, std::optional<std::string>("hexsig"));
}

// -------------------------------------------------------------------------------- sub / uns

TEST(Model, SubscribeAndUnsubscribe) {
    Rig r;
    r.connected();
    EXPECT_EQ(r.cmd("AT+QMTSUB=?"),
              line("+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]") + ok());
    EXPECT_EQ(r.cmd("AT+QMTUNS=?"), line("+QMTUNS: (0),(1-65535),<topic>[,<topic>...]") + ok());
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"a\",1"), ok() + line("+QMTSUB: 0,1,0,1"));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,65535,\"a\",0,\"b\",2"), ok() + line("+QMTSUB: 0,65535,0,0,2"));
    ASSERT_EQ(r.net.subs.size(), 2u);
    EXPECT_EQ(r.net.subs[1][1].first, "b");
    r.net.granted = {128};
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,7,\"denied\",1"), ok() + line("+QMTSUB: 0,7,0,128"));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,2,\"a\",\"b\""), ok() + line("+QMTUNS: 0,2,0"));
    ASSERT_EQ(r.net.unsubs.size(), 1u);
    EXPECT_EQ(r.net.unsubs[0].size(), 2u);
}

TEST(Model, SubscribeValidation) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"a\",1"), cme(3));  // not connected
    r.connected();
    const std::string t255(255, 't'), t256(256, 't');
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,0,\"a\",1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,65536,\"a\",1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"a\",3"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"a\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"a\",1,\"b\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"\",1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"" + t256 + "\",1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,1,\"" + t255 + "\",1"), ok() + line("+QMTSUB: 0,1,0,1"));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,0,\"a\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,1,\"" + t256 + "\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTSUB?"), cme(4));
    // A msgID still in flight cannot be reused for the same kind of packet.
    r.net.auto_ack = false;
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,9,\"a\",1"), ok());
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,9,\"b\",1"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,9,\"b\""), ok());  // msgIDs of different packets are independent
}

TEST(Model, SubscribeRetransmissionReports) {
    Rig r;
    r.connected();
    r.cmd("AT+QMTCFG=\"timeout\",0,1,2,1");
    r.net.auto_ack = false;
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,4,\"a\",1"), ok());
    EXPECT_EQ(r.run(1000), line("+QMTSUB: 0,4,1,1"));
    EXPECT_EQ(r.run(1000), line("+QMTSUB: 0,4,1,2"));
    EXPECT_EQ(r.run(1000), line("+QMTSUB: 0,4,2"));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,5,\"a\""), ok());
    EXPECT_EQ(r.run(3000),
              line("+QMTUNS: 0,5,1") + line("+QMTUNS: 0,5,1") + line("+QMTUNS: 0,5,2"));
}

// ---------------------------------------------------------------------------------- publish

TEST(Model, PublishVariableLengthCtrlZ) {
    Rig r;
    r.connected();
    EXPECT_EQ(r.cmd("AT+QMTPUB=?"),
              line("+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)") + ok());
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,0,0,\"t/a\""), "\r\n>");
    EXPECT_TRUE(r.m->in_data_mode());
    EXPECT_EQ(r.raw("hello, \"world\"\r\n"), "");  // echo is off
    EXPECT_EQ(r.raw("\x1A"), ok() + line("+QMTPUB: 0,0,0"));
    ASSERT_EQ(r.net.pubs.size(), 1u);
    EXPECT_EQ(r.net.pubs[0].payload, "hello, \"world\"\r\n");
    EXPECT_EQ(r.net.pubs[0].topic, "t/a");
    EXPECT_EQ(r.net.pubs[0].qos, 0);
}

TEST(Model, PublishEscCancels) {
    Rig r;
    r.connected();
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,3,1,0,\"t\""), "\r\n>");
    EXPECT_EQ(r.raw("never\x1B"), ok());
    EXPECT_TRUE(r.net.pubs.empty());
    EXPECT_FALSE(r.m->in_data_mode());
    EXPECT_EQ(r.m->inflight_publishes(), 0);
}

TEST(Model, PublishFixedLengthCarriesCtrlZAndEsc) {
    Rig r;
    r.connected();
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,5,2,1,\"bin\",6"), "\r\n>");
    EXPECT_EQ(r.raw(std::string("a\x1A\x1B\0b", 5)), "");
    EXPECT_EQ(r.raw("c"), ok() + line("+QMTPUB: 0,5,0"));
    ASSERT_EQ(r.net.pubs.size(), 1u);
    EXPECT_EQ(r.net.pubs[0].payload, std::string("a\x1A\x1B\0bc", 6));
    EXPECT_EQ(r.net.pubs[0].qos, 2);
    EXPECT_TRUE(r.net.pubs[0].retain);
}

TEST(Model, PublishLfAfterCrIsNotPayload) {
    Rig r;
    r.connected();
    EXPECT_EQ(r.raw("AT+QMTPUB=0,1,1,0,\"t\",2\r\n"), "\r\n>");
    EXPECT_EQ(r.raw("xy"), ok() + line("+QMTPUB: 0,1,0"));
    EXPECT_EQ(r.net.pubs.at(0).payload, "xy");
}

TEST(Model, PublishEchoesPayloadWhenEchoIsOn) {
    Rig r;
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    r.cmd("AT+QMTCONN=0,\"c\"");
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,0,0,\"t\""), "AT+QMTPUB=0,0,0,0,\"t\"\r\r\n>");
    EXPECT_EQ(r.raw("abc\x1A"), "abc" + ok() + line("+QMTPUB: 0,0,0"));
}

TEST(Model, PublishOver1024BytesIsTruncated) {
    Rig r;
    r.connected();
    r.cmd("AT+QMTPUB=0,0,0,0,\"t\"");
    r.raw(std::string(1500, 'x') + "\x1A");
    EXPECT_EQ(r.net.pubs.at(0).payload.size(), 1024u);
}

TEST(Model, PublishValidation) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,0,0,\"t\""), cme(3));
    r.connected();
    // QoS 0 with a msgID other than 0: accepted unless strict (divergence_test.cpp)
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,1,0,\"t\""), cme(50));  // QoS 1 cannot use 0
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,65536,1,0,\"t\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,3,0,\"t\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,2,\"t\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"" + std::string(256, 't') + "\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\",0"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\",1025"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=1,1,1,0,\"t\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,65535,1,0,\"" + std::string(255, 't') + "\",1024"), "\r\n>");
    r.raw(std::string(1024, 'p'));
    EXPECT_EQ(r.net.pubs.at(0).payload.size(), 1024u);
}

TEST(Model, WindowOfFiveThenCme159) {
    Rig r;
    r.connected();
    r.net.auto_ack = false;
    for (int i = 1; i <= 5; ++i) {
        ASSERT_EQ(r.cmd("AT+QMTPUB=0," + std::to_string(i) + ",1,0,\"t\""), "\r\n>");
        ASSERT_EQ(r.raw("x\x1A"), ok());
    }
    EXPECT_EQ(r.m->inflight_publishes(), 5);
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,6,1,0,\"t\""), cme(159));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,0,0,\"t\""), cme(159));  // QoS 0 counts too while unsent
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,3,1,0,\"t\""), cme(159));
    r.net.ev->net_published(r.net.pubs[2].op);
    EXPECT_EQ(r.run(0), line("+QMTPUB: 0,3,0"));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,2,1,0,\"t\""), cme(50));  // msgID 2 still in flight
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,6,1,0,\"t\""), "\r\n>");
    EXPECT_EQ(r.raw("y\x1A"), ok());
    r.cmd("ATE1");
    r.cmd("AT+CMEE=0");
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,7,1,0,\"t\""), "AT+QMTPUB=0,7,1,0,\"t\"\r" + line("ERROR"));
}

TEST(Model, PublishRetransmissionNoticesAndFinalFailure) {
    Rig r;
    r.connected();
    r.cmd("AT+QMTCFG=\"timeout\",0,10,3,1");
    r.net.auto_ack = false;
    r.cmd("AT+QMTPUB=0,9,1,0,\"t\"");
    r.raw("p\x1A");
    EXPECT_EQ(r.run(9999), "");
    EXPECT_EQ(r.run(1), line("+QMTPUB: 0,9,1,1"));
    EXPECT_EQ(r.run(20000), line("+QMTPUB: 0,9,1,2") + line("+QMTPUB: 0,9,1,3"));
    EXPECT_EQ(r.run(10000), line("+QMTPUB: 0,9,2"));
    EXPECT_EQ(r.net.retransmits.size(), 3u);
    EXPECT_EQ(r.m->inflight_publishes(), 0);
}

TEST(Model, PublishRetransmissionSilentWithoutNotice) {
    Rig r;
    r.connected();
    r.cmd("AT+QMTCFG=\"timeout\",0,1,2");
    r.net.auto_ack = false;
    r.cmd("AT+QMTPUB=0,9,2,0,\"t\"");
    r.raw("p\x1A");
    EXPECT_EQ(r.run(2999), "");
    EXPECT_EQ(r.run(1), line("+QMTPUB: 0,9,2"));
}

TEST(Model, StallAcksFault) {
    Rig r;
    r.connected();
    r.cmd("AT+QMTCFG=\"timeout\",0,1,0,1");
    r.m->stall_acks(true);
    r.cmd("AT+QMTPUB=0,1,1,0,\"t\"");
    EXPECT_EQ(r.raw("p\x1A"), ok());
    EXPECT_EQ(r.run(1000), line("+QMTPUB: 0,1,2"));
}

// ----------------------------------------------------------------------- URCs and link loss

TEST(Model, RecvPayloadBareOrQuoted) {
    Rig r;
    r.connected();
    r.net.ev->net_message(0, "a/b", "x, \"y\"", 0, false);
    r.net.ev->net_message(17, "a/b", "z", 1, false);
    EXPECT_EQ(r.run(0), line("+QMTRECV: 0,0,\"a/b\",x, \"y\"") + line("+QMTRECV: 0,17,\"a/b\",z"));
    Options o;
    o.recv_quoted = true;
    Rig q(o);
    q.connected();
    q.net.ev->net_message(0, "a/b", "x", 0, false);
    EXPECT_EQ(q.run(0), line("+QMTRECV: 0,0,\"a/b\",\"x\""));
}

TEST(Model, UrcsWaitWhileThePayloadIsTyped) {
    Rig r;
    r.connected();
    r.cmd("AT+QMTPUB=0,0,0,0,\"t\"");
    r.net.ev->net_message(0, "in", "m", 0, false);
    EXPECT_EQ(r.run(0), "");
    EXPECT_EQ(r.raw("p\x1A"), ok() + line("+QMTRECV: 0,0,\"in\",m") + line("+QMTPUB: 0,0,0"));
}

TEST(Model, LinkLostRaisesStat) {
    Rig r;
    r.connected();
    r.net.auto_ack = false;
    r.cmd("AT+QMTPUB=0,1,1,0,\"t\"");
    r.raw("p\x1A");
    r.net.ev->net_link_lost(1);
    EXPECT_EQ(r.run(0), line("+QMTSTAT: 0,1"));
    EXPECT_EQ(r.m->inflight_publishes(), 0);  // in-flight work is discarded with the link
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
    EXPECT_EQ(r.run(100000), "");
}

TEST(Model, DetachDropsTheLinkAfterTheOk) {
    Rig r;
    r.connected();
    EXPECT_EQ(r.cmd("AT+CGATT=0"), ok() + line("+QMTSTAT: 0,7"));
    EXPECT_EQ(r.cmd("AT+CEREG?"), line("+CEREG:0,0") + ok());
    EXPECT_EQ(r.cmd("AT+CGATT=1"), ok());
}

TEST(Model, DropLinkAndPingTimeoutFaults) {
    Rig r;
    r.connected();
    r.m->drop_link(7);
    EXPECT_EQ(r.take(), line("+QMTSTAT: 0,7"));
    EXPECT_EQ(r.net.closes, 1);
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    r.cmd("AT+QMTCONN=0,\"c\"");
    r.m->ping_timeout();
    EXPECT_EQ(r.take(), line("+QMTSTAT: 0,2"));
}

// ------------------------------------------------------------------------------ AT+QMTTENAUTH

TEST(Model, TenauthBothSpellings) {
    Options o;
    o.token_url = "http://127.0.0.1:9/token";
    Rig r(o);
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    const std::string test =
        line("+QMTTENAUTH: <product_id>,<device_name>,<client_id>,<device_secret>,<expire>,<url>") +
        ok();
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=?"), test);
    EXPECT_EQ(r.cmd("AT+QMTENAUTH=?"), test);
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH?"), ok());
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d1\",\"s3cr3t\""), ok());
    ASSERT_EQ(r.net.token_fetches.size(), 1u);
    EXPECT_EQ(r.net.token_fetches[0].url, "http://127.0.0.1:9/token");
    EXPECT_EQ(r.net.token_fetches[0].expire_days, 60u);
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d1\",\"s3cr3t\""), cme(3));  // one at a time
    r.net.ev->net_token(r.net.token_ops[0], 0, "user1", "pw1");
    EXPECT_EQ(r.run(0), line("+QMTTENAUTH: 0,\"pw1\""));
    EXPECT_EQ(r.cmd("AT+QMTENAUTH?"), line("+QMTTENAUTH: pw1") + ok());
    EXPECT_EQ(r.cmd("AT+QMTENAUTH=\"P1\",\"d1\",\"P1@d1\",\"s\",7,\"http://x/t\""), ok());
    EXPECT_EQ(r.net.token_fetches[1].url, "http://x/t");
    EXPECT_EQ(r.net.token_fetches[1].expire_days, 7u);
    r.net.ev->net_token(r.net.token_ops[1], 6, {}, {});
    EXPECT_EQ(r.run(0), line("+QMTTENAUTH: 6"));
    // The token is what AT+QMTCONN uses when it is given no username / password.
    r.cmd("AT+QMTOPEN=0,\"h\",1");
    r.cmd("AT+QMTCONN=0,\"P1d1\"");
    EXPECT_EQ(r.net.connects.at(0).username, std::optional<std::string>("user1"));
    EXPECT_EQ(r.net.connects.at(0).password, std::optional<std::string>("pw1"));
}

TEST(Model, TenauthValidation) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d2\",\"s\""), cme(50));  // client_id rule
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d1\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d1\",\"s\",61"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d1\",\"s\",0"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH=\"P1\",\"d1\",\"P1@d1\",\"s\",60,url"), cme(50));
    EXPECT_EQ(r.cmd("AT+QMTTENAUTH"), cme(4));
}

// -------------------------------------------------------------------------- faults on replies

TEST(Model, SplitDelayAndUrcInReplyFaults) {
    Rig r;
    r.cmd("ATE0");
    r.m->split_next(200);
    EXPECT_EQ(r.cmd("AT+CGATT?"), "\r\n+CGATT:");
    EXPECT_EQ(r.cmd("AT"), "");  // waits behind the held half
    EXPECT_EQ(r.run(199), "");
    EXPECT_EQ(r.run(1), "1\r\n\r\nOK\r\n" + ok());
    r.m->delay_next(1000);
    EXPECT_EQ(r.cmd("AT"), "");
    EXPECT_EQ(r.run(1000), ok());
    r.m->urc_in_next_reply("+QMTSTAT: 0,1");
    EXPECT_EQ(r.cmd("AT+CSQ"), line("+CSQ:24,99") + line("+QMTSTAT: 0,1") + ok());
    r.m->garbage("\xff\x00zz");
    EXPECT_EQ(r.take(), "\xff\x00zz");
}

TEST(Model, DelayPromptHoldsOnlyThePrompt) {
    Rig r;
    r.connected();
    r.m->delay_prompt(600);
    // The command line is parsed at once: the module is in data mode before the '>' is seen, so
    // whatever the host sends now is payload.
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\""), "");
    EXPECT_TRUE(r.m->in_data_mode());
    EXPECT_EQ(r.raw("early"), "");
    EXPECT_EQ(r.run(599), "");
    EXPECT_EQ(r.run(1), "\r\n>");
    EXPECT_EQ(r.raw("\x1A"), ok() + line("+QMTPUB: 0,1,0"));
    EXPECT_EQ(r.net.pubs.at(0).payload, "early");

    // Everything written after the late '>' queues behind it (UART order).
    r.m->delay_prompt(300);
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,2,1,0,\"t\""), "");
    EXPECT_EQ(r.raw("p\x1A"), "");
    EXPECT_EQ(r.run(299), "");
    EXPECT_EQ(r.run(1), "\r\n>" + ok() + line("+QMTPUB: 0,2,0"));

    // ESC before the late '>' cancels as usual; its OK follows the '>'.
    r.m->delay_prompt(3000);
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,3,1,0,\"t\""), "");
    EXPECT_EQ(r.raw("\x1B"), "");
    EXPECT_FALSE(r.m->in_data_mode());
    EXPECT_EQ(r.cmd("AT"), "");  // behind the held '>' too
    EXPECT_EQ(r.run(3000), "\r\n>" + ok() + ok());
    EXPECT_EQ(r.net.pubs.size(), 2u);
    EXPECT_EQ(r.m->inflight_publishes(), 0);

    // One shot: the next prompt is on time; other replies are never affected.
    r.m->delay_prompt(500);
    EXPECT_EQ(r.cmd("AT+CSQ"), line("+CSQ:24,99") + ok());
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,4,1,0,\"t\""), "");
    EXPECT_EQ(r.run(500), "\r\n>");
    EXPECT_EQ(r.raw("q\x1A"), ok() + line("+QMTPUB: 0,4,0"));
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,5,1,0,\"t\""), "\r\n>");
    EXPECT_EQ(r.raw("\x1B"), ok());
}

TEST(Model, DelayResultHoldsTheResultLineNotTheBookkeeping) {
    Rig r;
    r.connected();
    ASSERT_EQ(r.cmd("AT+QMTCFG=\"timeout\",0,1,0"), ok());
    r.m->delay_result(4500);
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t/a\""), "\r\n>");
    EXPECT_EQ(r.raw("AAAA\x1A"), ok());
    EXPECT_EQ(r.m->inflight_publishes(), 0);  // PUBACK in: msgID 1 is free again
    EXPECT_EQ(r.run(3000), "");
    // A host that gave up after 3 s sends msgID 1 again: accepted, and its '>' queues behind
    // the late result line.
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t/a\""), "");
    EXPECT_TRUE(r.m->in_data_mode());
    EXPECT_EQ(r.run(1499), "");
    EXPECT_EQ(r.run(1), line("+QMTPUB: 0,1,0") + "\r\n>");
    EXPECT_EQ(r.raw("AAAA\x1A"), ok() + line("+QMTPUB: 0,1,0"));
    ASSERT_EQ(r.net.pubs.size(), 2u);

    // URCs are not results: a +QMTRECV / +QMTSTAT passes, the next result is the late one.
    r.m->delay_result(100);
    r.net.ev->net_message(0, "in", "m", 0, false);
    EXPECT_EQ(r.run(0), line("+QMTRECV: 0,0,\"in\",m"));
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,5,\"x\",1"), ok());
    EXPECT_EQ(r.run(99), "");
    EXPECT_EQ(r.run(1), line("+QMTSUB: 0,5,0,1"));
}

TEST(Model, DelayResultIsOneShotAndAppliesToEveryTwoPhaseCommand) {
    Rig r;
    r.cmd("ATE0");
    r.m->delay_result(200);
    r.m->urc("+QMTSTAT: 0,1");
    EXPECT_EQ(r.take(), line("+QMTSTAT: 0,1"));
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"h\",1"), ok());
    EXPECT_EQ(r.run(199), "");
    EXPECT_EQ(r.run(1), line("+QMTOPEN: 0,0"));
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"c\""), ok() + line("+QMTCONN: 0,0,0"));
    r.m->delay_result(50);
    EXPECT_EQ(r.cmd("AT+QMTDISC=0"), ok());
    EXPECT_EQ(r.run(50), line("+QMTDISC: 0,0"));
}

TEST(Model, RebootDropsHeldBackOutput) {
    Rig r;
    r.connected();
    r.m->delay_prompt(1500);
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\""), "");
    r.m->delay_result(1500);  // disarmed by the reboot
    r.m->reboot();
    EXPECT_EQ(r.run(2000), "\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n");
    r.connected();
    EXPECT_EQ(r.run(0), "");
}

TEST(Model, SilentDropLeavesTheModuleClosedAndAnswering) {
    Rig r;
    r.connected();
    r.net.auto_ack = false;
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\""), "\r\n>");
    EXPECT_EQ(r.raw("p\x1A"), ok());
    r.m->drop_link(0);  // the control channel's "drop 0": the network detached silently
    EXPECT_EQ(r.take(), "");
    EXPECT_EQ(r.net.closes, 1);
    EXPECT_EQ(r.m->state_name(), "closed");
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,2,1,0,\"t\""), cme(3));
    EXPECT_FALSE(r.m->in_data_mode());
    EXPECT_EQ(r.cmd("AT+QMTSUB=0,3,\"t\",1"), cme(3));
    EXPECT_EQ(r.cmd("AT+QMTUNS=0,4,\"t\""), cme(3));
    EXPECT_EQ(r.cmd("AT+QMTCONN?"), ok());  // no "+QMTCONN: 0,3"
    EXPECT_EQ(r.cmd("AT+QMTOPEN?"), ok());
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"dev1\""), cme(3));  // not opened
    EXPECT_EQ(r.run(100000), "");                       // the publish in flight is never reported
    r.net.auto_ack = true;
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883"), ok() + line("+QMTOPEN: 0,0"));
    EXPECT_EQ(r.cmd("AT+QMTCONN=0,\"dev1\""), ok() + line("+QMTCONN: 0,0,0"));
    EXPECT_EQ(r.cmd("AT+QMTCONN?"), line("+QMTCONN: 0,3") + ok());
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\""), "\r\n>");  // msgID 1 is free again
    EXPECT_EQ(r.raw("q\x1A"), ok() + line("+QMTPUB: 0,1,0"));
    EXPECT_EQ(r.net.opens.size(), 2u);
}

TEST(Model, EscAndStrayBytesOutsideDataMode) {
    Rig r;
    r.cmd("ATE0");
    r.cmd("AT+CMEE=1");
    // A lone ESC (a host cancelling a publish whose prompt never came) is ignored ...
    EXPECT_EQ(r.raw("\x1B"), "");
    EXPECT_EQ(r.cmd("AT"), ok());
    EXPECT_EQ(r.raw("\x1B\r"), "");  // ... also followed by CR: an empty line, no answer
    EXPECT_EQ(r.cmd("AT"), ok());
    // Control characters anywhere in a command line are ignored (V.250 5.2.2).
    EXPECT_EQ(r.cmd("\x1A\x1B"
                    "AT+C\x1BSQ"),
              line("+CSQ:24,99") + ok());
    // Characters before the AT prefix are not part of the command line (V.250 5.2.1).
    EXPECT_EQ(r.cmd("noise AT+CSQ"), line("+CSQ:24,99") + ok());
    EXPECT_EQ(r.cmd("zzat"), ok());
    // The payload of a publish the module refused, then the host's next command.
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,1,1,0,\"t\""), cme(3));
    EXPECT_EQ(r.raw("hello\x1A"), "");
    EXPECT_EQ(r.cmd("AT+CSQ"), line("+CSQ:24,99") + ok());
    // A line with no prefix at all is still an error.
    EXPECT_EQ(r.cmd("xyz"), cme(4));

    // With echo on, the ignored control characters are not echoed either.
    Rig e;
    EXPECT_EQ(e.raw("\x1B"
                    "AT\r"),
              "AT\r" + ok());
    EXPECT_EQ(e.raw("\x1B\r"), "\r");
}

TEST(Model, RttDelaysEveryExchange) {
    Options o;
    o.rtt_ms = 2000;
    Rig r(o);
    r.cmd("ATE0");
    EXPECT_EQ(r.cmd("AT+QMTOPEN=0,\"10.0.0.1\",1"), ok());  // a name adds a DNS round trip
    EXPECT_EQ(r.run(1999), "");
    EXPECT_EQ(r.run(1), line("+QMTOPEN: 0,0"));
}

TEST(Model, UplinkKbpsPacesPublishes) {
    Rig r;
    r.connected();
    r.m->set_uplink_kbps(8);               // one byte per millisecond
    r.cmd("AT+QMTPUB=0,0,0,0,\"t\",995");  // 995 + topic + 4 header bytes = 1000
    EXPECT_EQ(r.raw(std::string(995, 'x')), ok());
    EXPECT_EQ(r.run(999), "");
    EXPECT_EQ(r.run(1), line("+QMTPUB: 0,0,0"));
}

// ------------------------------------------------------------------ chapter 6, byte for byte

// The note's chapter 6 session, replayed with echo on (the module's default) and the module's
// framing. The note omits AT+QMTCONN's set line; "clientExample" stands in for it. The first
// +QMTRECV of the note shows a quoted payload: with bare payloads (the default) that is a
// payload whose own bytes are the quotes, so both examples of the note come out as printed.
TEST(Model, Chapter6TranscriptByteForByte) {
    Options o;
    o.sign_aliyun = [](const AliyunSignInput& in) -> std::optional<SignedCredentials> {
        return SignedCredentials{in.client_id, in.device_name + "&" + in.product_key, "x"};
    };
    Rig r(o);
    std::string got;
    auto send = [&](const std::string& l) { got += r.cmd(l); };
    send(
        "AT+QMTCFG=\"aliauth\",0,\"oyjtmPl5a5j\",\"MQTT_TEST\","
        "\"wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ\"");
    send("AT+QMTOPEN=?");
    send("AT+QMTOPEN=0,\"iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883");
    send("AT+QMTOPEN?");
    send("AT+QMTCONN=?");
    send("AT+QMTCONN=0,\"clientExample\"");
    send("AT+QMTSUB=?");
    send("AT+QMTSUB=0,1,\"topic/example\",2");
    send("AT+QMTSUB=0,1,\"topic/pub\",0");
    r.net.ev->net_message(0, "topic/example", "\"This is the payload related to topic\"", 0, false);
    got += r.run(0);
    send("AT+QMTUNS=0,2, \"topic/example\"");
    send("AT+QMTPUB=?");
    send("AT+QMTPUB=0,0,0,0,\"topic/pub\"");
    got += r.raw("这是测试数据, hello MQTT.\x1A");
    r.net.ev->net_message(0, "topic/pub", "这是测试数据, hello MQTT.", 0, false);
    got += r.run(0);
    send("AT+QMTDISC=0");

    const std::string expected =
        "AT+QMTCFG=\"aliauth\",0,\"oyjtmPl5a5j\",\"MQTT_TEST\","
        "\"wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ\"\r"
        "\r\nOK\r\n"
        "AT+QMTOPEN=?\r"
        "\r\n+QMTOPEN: (0),<host_name>,<port>\r\n"
        "\r\nOK\r\n"
        "AT+QMTOPEN=0,\"iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883\r"
        "\r\nOK\r\n"
        "\r\n+QMTOPEN: 0,0\r\n"
        "AT+QMTOPEN?\r"
        "\r\n+QMTOPEN: 0,\"iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883\r\n"
        "\r\nOK\r\n"
        "AT+QMTCONN=?\r"
        "\r\n+QMTCONN: (0),<clientID>,<username>,<password>\r\n"
        "\r\nOK\r\n"
        "AT+QMTCONN=0,\"clientExample\"\r"
        "\r\nOK\r\n"
        "\r\n+QMTCONN: 0,0,0\r\n"
        "AT+QMTSUB=?\r"
        "\r\n+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]\r\n"
        "\r\nOK\r\n"
        "AT+QMTSUB=0,1,\"topic/example\",2\r"
        "\r\nOK\r\n"
        "\r\n+QMTSUB: 0,1,0,2\r\n"
        "AT+QMTSUB=0,1,\"topic/pub\",0\r"
        "\r\nOK\r\n"
        "\r\n+QMTSUB: 0,1,0,0\r\n"
        "\r\n+QMTRECV: 0,0,\"topic/example\",\"This is the payload related to topic\"\r\n"
        "AT+QMTUNS=0,2, \"topic/example\"\r"
        "\r\nOK\r\n"
        "\r\n+QMTUNS: 0,2,0\r\n"
        "AT+QMTPUB=?\r"
        "\r\n+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)\r\n"
        "\r\nOK\r\n"
        "AT+QMTPUB=0,0,0,0,\"topic/pub\"\r"
        "\r\n>"
        "这是测试数据, hello MQTT."
        "\r\nOK\r\n"
        "\r\n+QMTPUB: 0,0,0\r\n"
        "\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n"
        "AT+QMTDISC=0\r"
        "\r\nOK\r\n"
        "\r\n+QMTDISC: 0,0\r\n";
    EXPECT_EQ(got, expected);
}
