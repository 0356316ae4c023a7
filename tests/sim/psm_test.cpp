// Power saving mode under virtual time: T3324 after the last activity the module enters PSM
// (radio off: no keep-alive, nothing delivered), a host byte or the periodic TAU wakes it.
#include "nb_rig.hpp"

#include <gtest/gtest.h>

using namespace bc28sim;
using namespace bc28sim::test;

namespace {

// ATE0, CMEE=1, NPSMR=1, then PSM on with these timers; the last command is at t = 0.
void psm_on(NbRig& r, const std::string& t3412, const std::string& t3324) {
    r.quiet();
    r.cmd("AT+NPSMR=1");
    ASSERT_EQ(r.cmd("AT+CPSMS=1,,," + t3412 + "," + t3324), ok());
}

void connect(NbRig& r) {
    ASSERT_EQ(r.cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883"), ok() + line("+QMTOPEN: 0,0"));
    ASSERT_EQ(r.cmd("AT+QMTCONN=0,\"dev1\""), ok() + line("+QMTCONN: 0,0,0"));
}

}  // namespace

TEST(Psm, OffByDefault) {
    NbRig r;
    r.quiet();
    r.cmd("AT+NPSMR=1");
    EXPECT_EQ(r.run(100LL * 3600 * 1000), "");
    EXPECT_FALSE(r.m->psm_asleep());
    EXPECT_TRUE(r.net.radio_changes.empty());
}

TEST(Psm, EntersExactlyT3324AfterTheLastCommand) {
    NbRig r;
    psm_on(r, "01000011", "00000101");  // T3412 30 h, T3324 5 x 2 s = 10 s
    EXPECT_EQ(r.m->next_deadline(), 10000);
    EXPECT_EQ(r.run_to(9999), "");
    EXPECT_FALSE(r.m->psm_asleep());
    EXPECT_EQ(r.run_to(10000), line("+NPSMR:1"));
    EXPECT_TRUE(r.m->psm_asleep());
    EXPECT_EQ(r.net.radio_changes, std::vector<bool>{false});
    EXPECT_FALSE(r.net.radio_on);
}

TEST(Psm, HostCommandWakesItAndTheTimerRestarts) {
    NbRig r;
    psm_on(r, "01000011", "00000101");
    r.run_to(10000);
    r.run_to(50000);
    // The first byte wakes it: +NPSMR:0 comes before the command's own answer.
    EXPECT_EQ(r.cmd("AT"), line("+NPSMR:0") + ok());
    EXPECT_FALSE(r.m->psm_asleep());
    EXPECT_EQ(r.net.radio_changes, (std::vector<bool>{false, true}));
    EXPECT_EQ(r.run_to(59999), "");
    EXPECT_EQ(r.run_to(60000), line("+NPSMR:1"));
}

TEST(Psm, AQueryWakesItToo) {
    NbRig r;
    psm_on(r, "01000011", "00000001");  // 2 s
    EXPECT_EQ(r.run_to(2000), line("+NPSMR:1"));
    EXPECT_EQ(r.cmd("AT+NPSMR?"), line("+NPSMR:0") + line("+NPSMR:1,0") + ok());
}

TEST(Psm, ActivityRestartsT3324) {
    NbRig r;
    psm_on(r, "01000011", "00000101");  // 10 s
    connect(r);                         // at t = 0
    r.run_to(6000);
    EXPECT_EQ(r.cmd("AT+CSQ"), line("+CSQ:24,99") + ok());  // host activity at 6 s
    EXPECT_EQ(r.run_to(15999), "");
    r.net.incoming(0, "t/in", "hello");  // network activity at 15.999 s
    EXPECT_EQ(r.run_to(15999), line("+QMTRECV: 0,0,\"t/in\",hello"));
    EXPECT_EQ(r.run_to(25998), "");
    EXPECT_EQ(r.run_to(25999), line("+NPSMR:1"));
    // A publish: the packet leaving is activity too.
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,0,0,\"t/out\""), line("+NPSMR:0") + "\r\n>");
    EXPECT_EQ(r.run_to(30000), "");
    EXPECT_EQ(r.raw_ctrl_z(), ok() + line("+QMTPUB: 0,0,0"));
    EXPECT_EQ(r.run_to(39999), "");
    EXPECT_EQ(r.run_to(40000), line("+NPSMR:1"));
}

TEST(Psm, NothingIsDeliveredWhileAsleep) {
    NbRig r;
    psm_on(r, "01000011", "00000001");
    connect(r);
    EXPECT_EQ(r.run_to(2000), line("+NPSMR:1"));
    r.net.incoming(0, "t/in", "while asleep");
    EXPECT_EQ(r.run_to(60000), "");
    EXPECT_EQ(r.net.held.size(), 1u);
    // Woken by the host: the held message arrives once the radio is on again.
    EXPECT_EQ(r.cmd("AT"), line("+NPSMR:0") + ok() + line("+QMTRECV: 0,0,\"t/in\",while asleep"));
    EXPECT_TRUE(r.net.held.empty());
}

TEST(Psm, PeriodicTauWakesItForT3324) {
    NbRig r;
    psm_on(r, "10100001", "00000001");  // T3412 1 min, T3324 2 s
    EXPECT_EQ(r.run_to(2000), line("+NPSMR:1"));
    EXPECT_EQ(r.run_to(59999), "");
    EXPECT_EQ(r.run_to(60000), line("+NPSMR:0"));
    EXPECT_EQ(r.run_to(61999), "");
    EXPECT_EQ(r.run_to(62000), line("+NPSMR:1"));
    EXPECT_EQ(r.run_to(122000), line("+NPSMR:0") + line("+NPSMR:1"));
    EXPECT_EQ(r.net.radio_changes, (std::vector<bool>{false, true, false, true, false}));
}

TEST(Psm, T3324ZeroSleepsRightAfterTheAnswer) {
    NbRig r;
    r.quiet();
    r.cmd("AT+NPSMR=1");
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,01000011,00000000"), ok() + line("+NPSMR:1"));
    EXPECT_EQ(r.cmd("AT"), line("+NPSMR:0") + ok() + line("+NPSMR:1"));
}

TEST(Psm, NeverWithT3324DeactivatedOrDetached) {
    NbRig r;
    psm_on(r, "01000011", "11100000");  // T3324 deactivated
    EXPECT_EQ(r.run(3600 * 1000), "");
    EXPECT_EQ(r.cmd("AT+CPSMS=1,,,01000011,00000001"), ok());
    EXPECT_EQ(r.cmd("AT+CGATT=0"), ok());
    EXPECT_EQ(r.run(3600 * 1000), "");
    EXPECT_EQ(r.cmd("AT+CGATT=1"), ok());
    EXPECT_EQ(r.run(2000), line("+NPSMR:1"));
    EXPECT_EQ(r.cmd("AT+CPSMS=0"), line("+NPSMR:0") + ok());
    EXPECT_EQ(r.run(3600 * 1000), "");
}

TEST(Psm, WithoutNpsmrItSleepsSilently) {
    NbRig r;
    r.quiet();
    r.cmd("AT+CPSMS=1,,,01000011,00000001");
    EXPECT_EQ(r.run_to(2000), "");
    EXPECT_TRUE(r.m->psm_asleep());
    EXPECT_EQ(r.cmd("AT"), ok());
    EXPECT_FALSE(r.m->psm_asleep());
}

TEST(Psm, NotWhileTheHostTypesAPayload) {
    NbRig r;
    psm_on(r, "01000011", "00000001");
    connect(r);
    EXPECT_EQ(r.cmd("AT+QMTPUB=0,0,0,0,\"t/out\""), "\r\n>");
    EXPECT_EQ(r.run_to(30000), "");  // in data mode: awake
    EXPECT_FALSE(r.m->psm_asleep());
    EXPECT_EQ(r.raw_ctrl_z(), ok() + line("+QMTPUB: 0,0,0"));
    EXPECT_EQ(r.run_to(32000), line("+NPSMR:1"));
}

TEST(Psm, SettingsSurviveNrbAndARebootWakesTheRadio) {
    Options o = NbRig::instant();
    o.boot_ms = 100;
    NbRig r(o);
    psm_on(r, "01000011", "00000001");
    r.run_to(2000);
    ASSERT_TRUE(r.m->psm_asleep());
    r.m->reboot();  // an unexpected reset while asleep
    EXPECT_FALSE(r.m->psm_asleep());
    EXPECT_TRUE(r.net.radio_on);
    r.run(100);
    r.take();
    // CPSMS is kept (NV), NPSMR is not: it sleeps again, silently, 2 s after the boot.
    EXPECT_EQ(r.run(2000), "");
    EXPECT_TRUE(r.m->psm_asleep());
}
