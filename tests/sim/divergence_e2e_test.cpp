// Issue 14's choices through the real path: the bc28-sim executable on a pty, its options as a
// user gives them, a real mosquitto. The model-level tests (divergence_test.cpp, timing_test.cpp,
// variant_test.cpp) pin every byte under virtual time; these check that the executable behaves
// the same with real I/O and a real broker, default and option. Times are only lower bounds
// (taken before the command is sent, so load can only lengthen them).
#include "broker.hpp"
#include "mqtt_client.hpp"
#include "sim_process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using qmtkit::test::Broker;
using qmtkit::test::MqttClient;
using qmtkit::test::SimProcess;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kOk = "\r\nOK\r\n";
std::string line(const std::string& s) {
    return "\r\n" + s + "\r\n";
}
std::string cme(int n) {
    return line("+CME ERROR: " + std::to_string(n));
}

class PtyDivergence : public ::testing::Test {
  protected:
    void SetUp() override { broker.start(); }

    SimProcess::Options opts(std::vector<std::string> args = {}) const {
        SimProcess::Options o;
        o.exe = BC28SIM_EXE;
        o.args = std::move(args);
        return o;
    }
    std::string open_cmd() const {
        return "AT+QMTOPEN=0,\"127.0.0.1\"," + std::to_string(broker.port());
    }
    // CMEE=1, then open and connect; echo stays as the caller left it.
    void up(SimProcess& sim, const std::string& client_id = "pty-dev") {
        ASSERT_NE(sim.command("AT+CMEE=1").find(kOk), std::string::npos);
        ASSERT_NE(sim.command(open_cmd()).find(kOk), std::string::npos);
        ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
        ASSERT_NE(sim.command("AT+QMTCONN=0,\"" + client_id + "\"").find(kOk), std::string::npos);
        ASSERT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,0");
    }

    Broker broker;
};

}  // namespace

// ------------------------------------------------------------------ divergences from the note

TEST_F(PtyDivergence, InvalidFilterIsRefusedAndTheLinkStaysUp) {
    SimProcess sim(opts());
    sim.command("ATE0");
    up(sim);
    EXPECT_EQ(sim.command("AT+QMTSUB=0,1,\"a/#/b\",0"), cme(50));
    EXPECT_EQ(sim.command("AT+QMTSUB=0,2,\"d/1\",0,\"x+\",1"), cme(50));  // one bad of two
    // The link is still the same session: a good filter is granted and delivers.
    EXPECT_EQ(sim.command("AT+QMTSUB=0,3,\"d/+\",1"), kOk);
    EXPECT_EQ(sim.wait_line("+QMTSUB:"), "+QMTSUB: 0,3,0,1");
    MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.publish("d/1", "still up", 1));
    const std::string recv = sim.wait_line("+QMTRECV:");  // the broker's msgID
    EXPECT_EQ(recv.rfind("+QMTRECV: 0,", 0), 0u) << recv;
    EXPECT_NE(recv.find(",\"d/1\",still up"), std::string::npos) << recv;
    EXPECT_EQ(sim.command("AT+QMTCONN?"), line("+QMTCONN: 0,3") + kOk);
    EXPECT_EQ(sim.pending().find("+QMTSTAT"), std::string::npos) << sim.pending();
}

TEST_F(PtyDivergence, OpenAnswersResultOneForAHostItCannotUse) {
    SimProcess sim(opts());
    sim.command("ATE0");
    sim.command("AT+CMEE=1");
    EXPECT_EQ(sim.command("AT+QMTOPEN=1,\"127.0.0.1\",1883"), cme(50));  // outside the table
    EXPECT_EQ(sim.command("AT+QMTOPEN=0,\"127.0.0.1\""), cme(50));       // port missing
    EXPECT_EQ(sim.command("AT+QMTOPEN=0,\"bad host\"," + std::to_string(broker.port())), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,1");
    EXPECT_EQ(sim.command("AT+QMTOPEN=0,\"1.2.3.256\",1883"), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,1");
    EXPECT_EQ(sim.command("AT+QMTOPEN?"), kOk);  // nothing open
    // The identifier is free: a real open follows.
    EXPECT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
}

TEST_F(PtyDivergence, EchoShowsOnlyThePayloadBytesKept) {
    SimProcess sim(opts());  // echo on, as after power-up
    up(sim);
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("pty/long", 0));
    const std::string cmd = "AT+QMTPUB=0,0,0,0,\"pty/long\"";
    ASSERT_EQ(sim.command(cmd), cmd + "\r\r\n>");
    sim.send(std::string(1024, 'k') + std::string(76, 'x') + "\x1A");
    const std::string echoed = sim.expect(kOk);
    EXPECT_EQ(echoed, std::string(1024, 'k') + kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,0,0");
    const auto m = watcher.wait_message("pty/long");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, std::string(1024, 'k'));
}

TEST_F(PtyDivergence, CloseAfterDiscFailsByDefault) {
    SimProcess sim(opts());
    sim.command("ATE0");
    up(sim);
    EXPECT_EQ(sim.command("AT+QMTDISC=0"), kOk);
    EXPECT_EQ(sim.wait_line("+QMTDISC:"), "+QMTDISC: 0,0");
    EXPECT_EQ(sim.command("AT+QMTCLOSE=0"), kOk);
    EXPECT_EQ(sim.wait_line("+QMTCLOSE:"), "+QMTCLOSE: 0,-1");
}

TEST_F(PtyDivergence, CloseAfterDiscSucceedsWithItsOption) {
    SimProcess sim(opts({"--close-after-disc-ok"}));
    sim.command("ATE0");
    up(sim);
    EXPECT_EQ(sim.command("AT+QMTDISC=0"), kOk);
    EXPECT_EQ(sim.wait_line("+QMTDISC:"), "+QMTDISC: 0,0");
    EXPECT_EQ(sim.command("AT+QMTCLOSE=0"), kOk);
    EXPECT_EQ(sim.wait_line("+QMTCLOSE:"), "+QMTCLOSE: 0,0");
    EXPECT_EQ(sim.command("AT+QMTCLOSE=0"), kOk);  // once per DISC
    EXPECT_EQ(sim.wait_line("+QMTCLOSE:"), "+QMTCLOSE: 0,-1");
}

TEST_F(PtyDivergence, EchoIsBackOnAfterARebootByDefault) {
    SimProcess sim(opts({"--boot-ms", "100"}));
    sim.command("ATE0");
    EXPECT_EQ(sim.command("AT"), kOk);
    sim.send_line("AT+NRB");
    sim.expect("Neul\r\nOK\r\n");
    EXPECT_EQ(sim.command("AT"), "AT\r" + kOk);
}

TEST_F(PtyDivergence, EchoSurvivesARebootWithItsOption) {
    SimProcess sim(opts({"--boot-ms", "100", "--reboot-keeps-echo"}));
    sim.command("ATE0");
    sim.send_line("AT+NRB");
    sim.expect("Neul\r\nOK\r\n");
    EXPECT_EQ(sim.command("AT"), kOk);
    // The fault's reboot keeps it too.
    EXPECT_EQ(sim.control("reboot"), "OK");
    sim.expect("Neul\r\nOK\r\n");
    EXPECT_EQ(sim.command("AT"), kOk);
}

TEST_F(PtyDivergence, Qos0WithAMsgIdIsSentByDefault) {
    SimProcess sim(opts());
    sim.command("ATE0");
    up(sim);
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("pty/q0", 0));
    ASSERT_EQ(sim.command("AT+QMTPUB=0,7,0,0,\"pty/q0\""), "\r\n>");
    sim.send("seven\x1A");
    sim.expect(kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,7,0");
    const auto m = watcher.wait_message("pty/q0");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "seven");
}

TEST_F(PtyDivergence, Qos0WithAMsgIdIsRefusedWhenStrict) {
    SimProcess sim(opts({"--strict-msgid"}));
    sim.command("ATE0");
    up(sim);
    EXPECT_EQ(sim.command("AT+QMTPUB=0,7,0,0,\"pty/q0\""), cme(50));
    EXPECT_EQ(sim.command("AT+QMTPUB=0,0,0,0,\"pty/q0\""), "\r\n>");  // 0 is still taken
    sim.send("zero\x1A");
    sim.expect(kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,0,0");
}

// ------------------------------------------------------------------ timing like a module's

// P + k x RTT after the command's CR (docs/emulator.md, "result = P + k x RTT"): lower bounds
// only, and the result never in the OK's burst.
TEST_F(PtyDivergence, ResultsComeAfterProcessingAndTheirRoundTrips) {
    constexpr auto kP = 100ms;
    constexpr auto kRtt = 300ms;
    SimProcess sim(opts({"--proc-ms", "100", "--rtt-ms", "300"}));
    sim.command("ATE0");
    sim.command("AT+CMEE=1");
    struct Step {
        std::string cmd, payload, prefix, result;
        int k;
    };
    const std::vector<Step> steps = {
        {open_cmd(), "", "+QMTOPEN:", "+QMTOPEN: 0,0", 1},
        {"AT+QMTCONN=0,\"timed\"", "", "+QMTCONN:", "+QMTCONN: 0,0,0", 1},
        {"AT+QMTSUB=0,1,\"t/timed\",1", "", "+QMTSUB:", "+QMTSUB: 0,1,0,1", 1},
        {"AT+QMTPUB=0,0,0,0,\"t/x\"", "q0\x1A", "+QMTPUB:", "+QMTPUB: 0,0,0", 0},
        {"AT+QMTPUB=0,2,2,0,\"t/x\"", "q2\x1A", "+QMTPUB:", "+QMTPUB: 0,2,0", 2},
        {"AT+QMTUNS=0,3,\"t/timed\"", "", "+QMTUNS:", "+QMTUNS: 0,3,0", 1},
        {"AT+QMTDISC=0", "", "+QMTDISC:", "+QMTDISC: 0,0", 1},
        {"AT+QMTCLOSE=0", "", "+QMTCLOSE:", "+QMTCLOSE: 0,-1", 0},
    };
    for (const Step& s : steps) {
        auto t0 = Clock::now();
        const std::string first = sim.command(s.cmd);
        if (!s.payload.empty()) {
            ASSERT_EQ(first, "\r\n>") << s.cmd;
            t0 = Clock::now();  // a publish's clock starts at its payload's end
            sim.send(s.payload);
            sim.expect(kOk);
        } else {
            ASSERT_EQ(first, kOk) << s.cmd;
        }
        EXPECT_EQ(sim.pending().find(s.prefix), std::string::npos)
            << s.cmd << ": the result came with the OK";
        EXPECT_EQ(sim.wait_line(s.prefix), s.result) << s.cmd;
        EXPECT_GE(Clock::now() - t0, kP + s.k * kRtt - 5ms) << s.cmd;
    }
}

TEST_F(PtyDivergence, TheLanPresetStillDelaysTwoPhaseResults) {
    SimProcess sim(opts({"--preset", "lan"}));
    sim.command("ATE0");
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_EQ(sim.pending().find("+QMTOPEN"), std::string::npos) << sim.pending();
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
}

// ------------------------------------------------------------------ another module's receive

TEST_F(PtyDivergence, Bg95ConfigBufferedReceiveAndPubexAgainstTheBroker) {
    SimProcess sim(opts({"--variant", "bg95"}));
    sim.command("ATE0");
    ASSERT_EQ(sim.command("AT+QMTCFG=\"recv/mode\",0,1,1"), kOk);
    // The other two items of the variant: remembered, and the broker still reached over TCP.
    ASSERT_EQ(sim.command("AT+QMTCFG=\"pdpcid\",0,3"), kOk);
    EXPECT_EQ(sim.command("AT+QMTCFG=\"pdpcid\",0"), line("+QMTCFG: \"pdpcid\",3") + kOk);
    ASSERT_EQ(sim.command("AT+QMTCFG=\"ssl\",0,1,2"), kOk);
    EXPECT_EQ(sim.command("AT+QMTCFG=\"ssl\",0"), line("+QMTCFG: \"ssl\",1,2") + kOk);
    up(sim, "bg95-dev");
    ASSERT_EQ(sim.command("AT+QMTSUB=0,1,\"bg/in\",1"), kOk);
    ASSERT_EQ(sim.wait_line("+QMTSUB:"), "+QMTSUB: 0,1,0,1");
    MqttClient peer(broker.host(), broker.port());
    ASSERT_TRUE(peer.subscribe("bg/out", 1));
    ASSERT_TRUE(peer.publish("bg/in", "first", 1));
    EXPECT_EQ(sim.wait_line("+QMTRECV:"), "+QMTRECV: 0,0");  // a notice, no payload
    ASSERT_TRUE(peer.publish("bg/in", "second", 0));
    EXPECT_EQ(sim.wait_line("+QMTRECV:"), "+QMTRECV: 0,1");
    EXPECT_EQ(sim.command("AT+QMTRECV?"), line("+QMTRECV: 0,1,1,0,0,0") + kOk);
    EXPECT_EQ(sim.command("AT+QMTRECV=0,1"), line("+QMTRECV: 0,0,\"bg/in\",6,second") + kOk);
    const std::string first = sim.command("AT+QMTRECV=0");
    EXPECT_NE(first.find(",\"bg/in\",5,first\r\n"), std::string::npos) << first;
    EXPECT_EQ(sim.command("AT+QMTRECV?"), line("+QMTRECV: 0,0,0,0,0,0") + kOk);

    const std::string bytes(
        "a\x1A"
        "b\x1B\r",
        5);
    ASSERT_EQ(sim.command("AT+QMTPUBEX=0,9,1,0,\"bg/out\",5"), "\r\n>");
    sim.send(bytes);
    sim.expect(kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUBEX:"), "+QMTPUBEX: 0,9,0");
    const auto m = peer.wait_message("bg/out");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, bytes);
}
