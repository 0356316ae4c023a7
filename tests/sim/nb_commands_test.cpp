// The NB-IoT bring-up commands of the BC35-G/BC28/BC95 R2.0 AT manual, in-process: every form,
// byte-exact, parameter errors, and what AT+NRB keeps (the NV settings) or resets.
#include "nb_rig.hpp"

#include <gtest/gtest.h>

using namespace bc28sim;
using namespace bc28sim::test;

TEST(NbCommands, SevenThatDriversSendAnswerOk) {
    // The RT-Thread at_device BC28 driver's bring-up: each of these used to answer ERROR.
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+QREGSWT=2"), ok());
    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT,FALSE"), ok());
    EXPECT_EQ(r.cmd("AT+NSONMI=2"), ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS=0,5"), ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=0"), ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0,100.64.0.2") + ok());
    EXPECT_EQ(r.cmd("AT+CFUN=0"), ok());
    EXPECT_EQ(r.cmd("AT+NBAND=8"), ok());
}

TEST(NbCommands, Qregswt) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+QREGSWT?"), line("+QREGSWT:1") + ok());
    EXPECT_EQ(r.cmd("AT+QREGSWT=?"), line("+QREGSWT:(0-2)") + ok());
    EXPECT_EQ(r.cmd("AT+QREGSWT=2"), ok());
    EXPECT_EQ(r.cmd("AT+QREGSWT?"), line("+QREGSWT:2") + ok());
    EXPECT_EQ(r.cmd("AT+QREGSWT=3"), cme(50));
    EXPECT_EQ(r.cmd("AT+QREGSWT=\"1\""), cme(50));
    EXPECT_EQ(r.cmd("AT+QREGSWT"), cme(50));
    EXPECT_EQ(r.cmd("AT+QREGSWT?"), line("+QREGSWT:2") + ok());
}

TEST(NbCommands, NconfigQueryTestAndSet) {
    NbRig r;
    r.quiet();
    const std::string q = r.cmd("AT+NCONFIG?");
    EXPECT_EQ(q.rfind("\r\n+NCONFIG:AUTOCONNECT,TRUE\r\n+NCONFIG:CR_0354_0338_SCRAMBLING,TRUE\r\n"
                      "+NCONFIG:CR_0859_SI_AVOID,TRUE\r\n",
                      0),
              0u)
        << q;
    EXPECT_NE(q.find("\r\n+NCONFIG:PCO_IE_TYPE,EPCO\r\n\r\nOK\r\n"), std::string::npos) << q;
    EXPECT_NE(q.find("+NCONFIG:BARRING_RELEASE_DELAY,64\r\n"), std::string::npos);
    const std::string t = r.cmd("AT+NCONFIG=?");
    EXPECT_EQ(t.rfind("\r\n+NCONFIG:(AUTOCONNECT,(FALSE,TRUE)),(CR_0354_0338_SCRAMBLING,(FALSE,"
                      "TRUE)),",
                      0),
              0u)
        << t;
    EXPECT_NE(t.find(",(BARRING_RELEASE_DELAY,(0-1800)),"), std::string::npos) << t;
    EXPECT_NE(t.find(",(PCO_IE_TYPE,(PCO,EPCO))\r\n\r\nOK\r\n"), std::string::npos) << t;

    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT,FALSE"), ok());
    EXPECT_EQ(r.cmd("AT+NCONFIG=CELL_RESELECTION,false"), ok());  // values in any case
    EXPECT_EQ(r.cmd("AT+NCONFIG=BARRING_RELEASE_DELAY,10"), ok());
    EXPECT_EQ(r.cmd("AT+NCONFIG=\"PCO_IE_TYPE\",\"PCO\""), ok());
    const std::string q2 = r.cmd("AT+NCONFIG?");
    EXPECT_EQ(q2.rfind("\r\n+NCONFIG:AUTOCONNECT,FALSE\r\n", 0), 0u) << q2;
    EXPECT_NE(q2.find("+NCONFIG:CELL_RESELECTION,FALSE\r\n"), std::string::npos) << q2;
    EXPECT_NE(q2.find("+NCONFIG:BARRING_RELEASE_DELAY,10\r\n"), std::string::npos) << q2;
    EXPECT_NE(q2.find("+NCONFIG:PCO_IE_TYPE,PCO\r\n"), std::string::npos) << q2;

    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT,MAYBE"), cme(50));
    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT"), cme(50));
    EXPECT_EQ(r.cmd("AT+NCONFIG=NO_SUCH_ITEM,TRUE"), cme(50));
    EXPECT_EQ(r.cmd("AT+NCONFIG=BARRING_RELEASE_DELAY,1801"), cme(50));
    EXPECT_EQ(r.cmd("AT+NCONFIG=RELEASE_VERSION,15"), cme(50));
    EXPECT_EQ(r.cmd("AT+NCONFIG"), cme(50));
}

TEST(NbCommands, Nband) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+NBAND?"), line("+NBAND:1,3,5,8,20,28") + ok());
    EXPECT_EQ(r.cmd("AT+NBAND=?"), line("+NBAND:(1,3,5,8,20,28)") + ok());
    EXPECT_EQ(r.cmd("AT+NBAND=8"), cme(3));  // bands change at minimum functionality only
    EXPECT_EQ(r.cmd("AT+CFUN=0"), ok());
    EXPECT_EQ(r.cmd("AT+NBAND=8"), ok());
    EXPECT_EQ(r.cmd("AT+NBAND?"), line("+NBAND:8") + ok());
    EXPECT_EQ(r.cmd("AT+NBAND=5,8"), ok());
    EXPECT_EQ(r.cmd("AT+NBAND?"), line("+NBAND:5,8") + ok());
    EXPECT_EQ(r.cmd("AT+NBAND=7"), cme(50));    // not a BC28 band
    EXPECT_EQ(r.cmd("AT+NBAND=8,8"), cme(50));  // twice
    EXPECT_EQ(r.cmd("AT+NBAND=\"8\""), cme(50));
    EXPECT_EQ(r.cmd("AT+NBAND="), cme(50));
    EXPECT_EQ(r.cmd("AT+NBAND?"), line("+NBAND:5,8") + ok());
}

TEST(NbCommands, Nsonmi) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+NSONMI?"), line("+NSONMI:1") + ok());
    EXPECT_EQ(r.cmd("AT+NSONMI=?"), line("+NSONMI:(0,1,2,3)") + ok());
    EXPECT_EQ(r.cmd("AT+NSONMI=2"), ok());
    EXPECT_EQ(r.cmd("AT+NSONMI?"), line("+NSONMI:2") + ok());
    EXPECT_EQ(r.cmd("AT+NSONMI=4"), cme(50));
}

TEST(NbCommands, Cedrxs) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CEDRXS?"), ok());  // disabled: nothing to list
    EXPECT_EQ(r.cmd("AT+CEDRXS=?"), line("+CEDRXS:(0,1,2,3),(5),(\"0000\"-\"1111\")") + ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS=1,5,\"0010\""), ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS?"), line("+CEDRXS:5,\"0010\"") + ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS=0,5"), ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS?"), ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS=2,5"), ok());  // the value set before is kept
    EXPECT_EQ(r.cmd("AT+CEDRXS?"), line("+CEDRXS:5,\"0010\"") + ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS=3"), ok());  // disable and discard
    EXPECT_EQ(r.cmd("AT+CEDRXS=1"), ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS?"), line("+CEDRXS:5,\"0101\"") + ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS=4,5"), cme(50));
    EXPECT_EQ(r.cmd("AT+CEDRXS=1,4"), cme(50));  // AcT-type 5 (NB-S1) only
    EXPECT_EQ(r.cmd("AT+CEDRXS=1,5,\"012\""), cme(50));
    EXPECT_EQ(r.cmd("AT+CEDRXS=1,5,\"00100\""), cme(50));
}

TEST(NbCommands, CpsmsAndNpsmrForms) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:0,,,01000011,01000011") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=?"),
              line("+CPSMS:(0,1,2),,,(00000000-11111111),(00000000-11111111)") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,01000111,00100010"), ok());  // bare, as the manual writes
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:1,,,01000111,00100010") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,\"00000110\",\"00000101\""), ok());  // quoted, as 27.007
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:1,,,00000110,00000101") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=0"), ok());  // off, the timers kept
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:0,,,00000110,00000101") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=1"), ok());
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:1,,,00000110,00000101") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=2"), ok());  // off and discarded
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:0,,,01000011,01000011") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,00000110"), ok());
    EXPECT_EQ(r.cmd("AT+CPSMS="), ok());  // everything omitted: off, defaults
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:0,,,01000011,01000011") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS=3"), cme(50));
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,0100001,01000011"), cme(50));   // 7 bits
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,01000011,01000012"), cme(50));  // not binary
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,01000011,01000011,1"), cme(50));
    EXPECT_EQ(r.cmd("AT+CPSMS"), cme(50));

    EXPECT_EQ(r.cmd("AT+NPSMR?"), line("+NPSMR:0") + ok());
    EXPECT_EQ(r.cmd("AT+NPSMR=?"), line("+NPSMR:(0,1)") + ok());
    EXPECT_EQ(r.cmd("AT+NPSMR=1"), ok());
    EXPECT_EQ(r.cmd("AT+NPSMR?"), line("+NPSMR:1,0") + ok());  // <mode> 0: normal
    EXPECT_EQ(r.cmd("AT+NPSMR=2"), cme(50));
}

TEST(NbCommands, CgpaddrOnceAttached) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CGPADDR=?"), line("+CGPADDR:(0)") + ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0,100.64.0.2") + ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR=0"), line("+CGPADDR:0,100.64.0.2") + ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR=1"), cme(50));
    EXPECT_EQ(r.cmd("AT+CGATT=0"), ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0") + ok());  // no address while detached
    EXPECT_EQ(r.cmd("AT+CGATT=1"), ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0,100.64.0.2") + ok());
    EXPECT_EQ(r.cmd("AT+CFUN=0"), ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0") + ok());
}

TEST(NbCommands, CgmrAndCgsn) {
    Options o = NbRig::instant();
    o.identity.imei = "861234567890123";
    NbRig r(o);
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CGMR"),
              "\r\nSSB,V150R100C10B200SP1\r\nSECURITY_A,V150R100C20B300SP7\r\n"
              "PROTOCOL_A,V150R100C20B300SP7\r\nAPPLICATION_A,V150R100C20B300SP7\r\n"
              "SECURITY_B,V150R100C20B300SP7\r\nRADIO,Hi2115_RF7\r\n" +
                  ok());
    EXPECT_EQ(r.cmd("AT+CGMR=?"), ok());
    EXPECT_EQ(r.cmd("AT+CGMR?"), cme(4));
    EXPECT_EQ(r.cmd("AT+CGSN=1"), line("+CGSN:861234567890123") + ok());
    EXPECT_EQ(r.cmd("AT+CGSN=0"), line("+CGSN:861234567890123") + ok());
    EXPECT_EQ(r.cmd("AT+CGSN"), line("+CGSN:861234567890123") + ok());
    EXPECT_EQ(r.cmd("AT+CGSN=2"), line("+CGSN:8612345678901201") + ok());  // IMEISV
    EXPECT_EQ(r.cmd("AT+CGSN=3"), line("+CGSN:01") + ok());                // SVN
    EXPECT_EQ(r.cmd("AT+CGSN=?"), line("+CGSN:(0,1,2,3)") + ok());
    EXPECT_EQ(r.cmd("AT+CGSN=4"), cme(50));
    EXPECT_EQ(r.cmd("AT+CGSN?"), cme(4));
}

// RT-Thread's at_client counts every CR LF-terminated line of a response, the empty one after
// the echo or the leading CR LF included, and at_device_bc28.c reads the IMEI from line 2
// ("+CGSN:%s"). That is where it is, with echo on (after AT+NRB) and off.
TEST(NbCommands, CgsnImeiIsOnLineTwoWithEchoOnOrOff) {
    NbRig r;
    auto lines = [](const std::string& s) {
        std::vector<std::string> v;
        std::size_t start = 0;
        for (std::size_t i = 1; i < s.size(); ++i) {
            if (s[i] == '\n' && s[i - 1] == '\r') {
                v.push_back(s.substr(start, i + 1 - start));
                start = i + 1;
            }
        }
        return v;
    };
    const auto echoed = lines(r.cmd("AT+CGSN=1"));
    ASSERT_GE(echoed.size(), 2u);
    EXPECT_EQ(echoed[0], "AT+CGSN=1\r\r\n");
    EXPECT_EQ(echoed[1], "+CGSN:866971030000001\r\n");
    r.cmd("ATE0");
    const auto quiet = lines(r.cmd("AT+CGSN=1"));
    ASSERT_GE(quiet.size(), 2u);
    EXPECT_EQ(quiet[0], "\r\n");
    EXPECT_EQ(quiet[1], "+CGSN:866971030000001\r\n");
}

TEST(NbCommands, Nuestats) {
    Options o = NbRig::instant();
    o.csq = 20;
    NbRig r(o);
    r.quiet();
    const std::string s = r.cmd("AT+NUESTATS");
    EXPECT_EQ(s.rfind("\r\nSignal power:-730\r\nTotal power:-670\r\nTX power:-1\r\n", 0), 0u) << s;
    EXPECT_NE(s.find("\r\nCell ID:27447298\r\nECL:0\r\nSNR:128\r\nEARFCN:3736\r\nPCI:11\r\n"
                     "RSRQ:-108\r\nOPERATOR MODE:4\r\nCURRENT BAND:1\r\n\r\nOK\r\n"),
              std::string::npos)
        << s;
    const std::string radio = r.cmd("AT+NUESTATS=RADIO");
    EXPECT_EQ(radio.rfind("\r\nNUESTATS:RADIO,Signal power,-730\r\n", 0), 0u) << radio;
    EXPECT_EQ(r.cmd("AT+NUESTATS=?"), line("+NUESTATS:(RADIO,CELL,BLER,THP,APPSMEM,ALL)") + ok());
    EXPECT_EQ(r.cmd("AT+NUESTATS=CELL"), cme(4));  // a type the emulator does not model
    EXPECT_EQ(r.cmd("AT+NUESTATS=FOO"), cme(50));
    EXPECT_EQ(r.cmd("AT+CFUN=0"), ok());
    EXPECT_EQ(r.cmd("AT+NUESTATS").rfind("\r\nSignal power:-32768\r\n", 0), 0u);
}

TEST(NbCommands, CpinAndNatspeed) {
    NbRig r;
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CPIN?"), line("+CPIN:READY") + ok());
    EXPECT_EQ(r.cmd("AT+NATSPEED?"), line("+NATSPEED:9600,0,1,0,0") + ok());
    EXPECT_EQ(r.cmd("AT+CFUN=0"), ok());
    EXPECT_EQ(r.cmd("AT+CPIN?"), cme(3));
}

TEST(NbCommands, NrbKeepsTheNvSettingsAndResetsTheRest) {
    Options o = NbRig::instant();
    o.boot_ms = 100;
    NbRig r(o);
    r.quiet();
    r.cmd("AT+QREGSWT=2");
    r.cmd("AT+NCONFIG=CELL_RESELECTION,FALSE");
    r.cmd("AT+CFUN=0");
    r.cmd("AT+NBAND=8");
    r.cmd("AT+CFUN=1");
    r.cmd("AT+NSONMI=2");
    r.cmd("AT+NPSMR=1");
    r.cmd("AT+CEDRXS=1,5,\"0011\"");
    r.cmd("AT+CPSMS=1,,,00100100,00000101");
    r.reboot_now();
    r.quiet();
    // NV: the manual's AT+NCONFIG, AT+NBAND, AT+QREGSWT; PSM and eDRX requests too.
    EXPECT_EQ(r.cmd("AT+QREGSWT?"), line("+QREGSWT:2") + ok());
    EXPECT_NE(r.cmd("AT+NCONFIG?").find("+NCONFIG:CELL_RESELECTION,FALSE\r\n"), std::string::npos);
    EXPECT_EQ(r.cmd("AT+NBAND?"), line("+NBAND:8") + ok());
    EXPECT_EQ(r.cmd("AT+CEDRXS?"), line("+CEDRXS:5,\"0011\"") + ok());
    EXPECT_EQ(r.cmd("AT+CPSMS?"), line("+CPSMS:1,,,00100100,00000101") + ok());
    // RAM: back to the defaults.
    EXPECT_EQ(r.cmd("AT+NSONMI?"), line("+NSONMI:1") + ok());
    EXPECT_EQ(r.cmd("AT+NPSMR?"), line("+NPSMR:0") + ok());
}

TEST(NbCommands, AutoconnectFalseBootsAtMinimumFunctionality) {
    Options o = NbRig::instant();
    o.boot_ms = 100;
    NbRig r(o);
    r.quiet();
    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT,FALSE"), ok());
    // Takes effect at the next boot: still attached now.
    EXPECT_EQ(r.cmd("AT+CGATT?"), line("+CGATT:1") + ok());
    r.reboot_now();
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CFUN?"), line("+CFUN:0") + ok());
    EXPECT_EQ(r.cmd("AT+CGATT?"), line("+CGATT:0") + ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0") + ok());
    EXPECT_EQ(r.cmd("AT+CIMI"), cme(3));
    // The manual's manual-attach sequence.
    EXPECT_EQ(r.cmd("AT+NBAND=8"), ok());
    EXPECT_EQ(r.cmd("AT+CFUN=1"), ok());
    EXPECT_EQ(r.cmd("AT+CGATT=1"), ok());
    EXPECT_EQ(r.cmd("AT+CGATT?"), line("+CGATT:1") + ok());
    EXPECT_EQ(r.cmd("AT+CEREG?"), line("+CEREG:0,1") + ok());
    EXPECT_EQ(r.cmd("AT+CGPADDR"), line("+CGPADDR:0,100.64.0.2") + ok());
    // AUTOCONNECT back on: the next boot attaches by itself.
    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT,TRUE"), ok());
    r.reboot_now();
    r.quiet();
    EXPECT_EQ(r.cmd("AT+CGATT?"), line("+CGATT:1") + ok());
}

TEST(NbCommands, ErrorsFollowCmee) {
    NbRig r;
    r.cmd("ATE0");
    EXPECT_EQ(r.cmd("AT+QREGSWT=9"), line("ERROR"));
    EXPECT_EQ(r.cmd("AT+NCONFIG=AUTOCONNECT,1"), line("ERROR"));
    EXPECT_EQ(r.cmd("AT+CMEE=1"), ok());
    EXPECT_EQ(r.cmd("AT+QREGSWT=9"), cme(50));
}
