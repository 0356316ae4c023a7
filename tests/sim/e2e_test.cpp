// bc28-sim end to end: the real executable on a real pty, a real mosquitto, raw AT lines, and a
// plain MQTT client watching the broker. Every wait is "read until this arrives, with a deadline".
#include "broker.hpp"
#include "mqtt_client.hpp"
#include "process.hpp"
#include "sim_process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <thread>

using namespace std::chrono_literals;
using qmtkit::test::Broker;
using qmtkit::test::MqttClient;
using qmtkit::test::SimProcess;

namespace {

const std::string kOk = "\r\nOK\r\n";
std::string line(const std::string& s) {
    return "\r\n" + s + "\r\n";
}

SimProcess::Options sim_opts(std::vector<std::string> args = {}) {
    SimProcess::Options o;
    o.exe = BC28SIM_EXE;
    o.args = std::move(args);
    return o;
}

class E2E : public ::testing::Test {
  protected:
    void SetUp() override { broker.start(); }

    // ATE0, CMEE=1, open and connect to the test broker.
    void bring_up(SimProcess& sim, const std::string& client_id = "sim-dev") {
        const std::string e0 = sim.command("ATE0");  // echoed unless echo is off already
        ASSERT_TRUE(e0 == "ATE0\r" + kOk || e0 == kOk) << e0;
        ASSERT_EQ(sim.command("AT+CMEE=1"), kOk);
        ASSERT_EQ(sim.command(open_cmd()), kOk);
        ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
        ASSERT_EQ(sim.command("AT+QMTCONN=0,\"" + client_id + "\""), kOk);
        ASSERT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,0");
    }
    std::string open_cmd() const {
        return "AT+QMTOPEN=0,\"127.0.0.1\"," + std::to_string(broker.port());
    }

    Broker broker;
};

}  // namespace

TEST_F(E2E, BringUpCommandsOverThePty) {
    SimProcess sim(sim_opts({"--imei", "861111111111111", "--imsi", "460002222222222", "--iccid",
                             "89860333333333333333"}));
    EXPECT_EQ(sim.command("AT"), "AT\r" + kOk);  // echo on until ATE0
    EXPECT_EQ(sim.command("ATE0"), "ATE0\r" + kOk);
    EXPECT_EQ(sim.command("AT"), kOk);
    EXPECT_EQ(sim.command("ATI"), "\r\nQuectel\r\nBC28\r\nRevision:BC28JAR01A10\r\n" + kOk);
    EXPECT_EQ(sim.command("AT+CGSN=1"), line("+CGSN:861111111111111") + kOk);
    EXPECT_EQ(sim.command("AT+CIMI"), line("460002222222222") + kOk);
    EXPECT_EQ(sim.command("AT+NCCID"), line("+NCCID:89860333333333333333") + kOk);
    EXPECT_EQ(sim.command("AT+CGATT?"), line("+CGATT:1") + kOk);
    EXPECT_EQ(sim.command("AT+CEREG?"), line("+CEREG:0,1") + kOk);
    EXPECT_EQ(sim.command("AT+CSQ"), line("+CSQ:24,99") + kOk);
    EXPECT_EQ(sim.command("AT+CFUN?"), line("+CFUN:1") + kOk);
    EXPECT_EQ(sim.command("AT+NOSUCH"), line("ERROR"));
    EXPECT_EQ(sim.command("AT+CMEE=1"), kOk);
    EXPECT_EQ(sim.command("AT+NOSUCH"), line("+CME ERROR: 4"));
}

// Every AT+QMT command and form of the note, through the pty, against a real broker.
TEST_F(E2E, EveryQmtCommandAndForm) {
    SimProcess sim(sim_opts());
    sim.command("ATE0");
    sim.command("AT+CMEE=1");
    const std::string port = std::to_string(broker.port());
    struct Step {
        std::string cmd;
        std::string reply;        // through the final result
        std::string result = {};  // a later result line, if any
    };
    const std::vector<Step> steps = {
        {"AT+QMTCFG=?",
         "\r\n+QMTCFG: \"version\",(0),(3,4)\r\n+QMTCFG: \"keepalive\",(0),(0-3600)\r\n"
         "+QMTCFG: \"session\",(0),(0,1)\r\n+QMTCFG: \"timeout\",(0),(1-60),(0-10),(0,1)\r\n"
         "+QMTCFG: \"will\",(0),(0,1),(0-2),(0,1),<will_topic>,<will_msg>\r\n"
         "+QMTCFG: \"aliauth\",(0),<productkey>,<devicename>,<devicesecret>\r\n" +
             kOk},
        {"AT+QMTCFG=\"version\",0", line("+QMTCFG: \"version\",4") + kOk},
        {"AT+QMTCFG=\"version\",0,4", kOk},
        {"AT+QMTCFG=\"version\",0,5", line("+CME ERROR: 50")},
        {"AT+QMTCFG=\"keepalive\",0", line("+QMTCFG: \"keepalive\",120") + kOk},
        {"AT+QMTCFG=\"keepalive\",0,60", kOk},
        {"AT+QMTCFG=\"keepalive\",0,3601", line("+CME ERROR: 50")},
        {"AT+QMTCFG=\"session\",0", line("+QMTCFG: \"session\",1") + kOk},
        {"AT+QMTCFG=\"session\",0,1", kOk},
        {"AT+QMTCFG=\"timeout\",0", line("+QMTCFG: \"timeout\",10,3,0") + kOk},
        {"AT+QMTCFG=\"timeout\",0,10,3,1", kOk},
        {"AT+QMTCFG=\"timeout\",0,61", line("+CME ERROR: 50")},
        {"AT+QMTCFG=\"will\",0", line("+QMTCFG: \"will\",0") + kOk},
        {"AT+QMTCFG=\"will\",0,1,1,0,\"e2e/will\",\"bye\"", kOk},
        {"AT+QMTCFG=\"will\",0,1,1,0", line("+CME ERROR: 50")},
        {"AT+QMTCFG=\"will\",0", line("+QMTCFG: \"will\",1,1,0,\"e2e/will\",\"bye\"") + kOk},
        {"AT+QMTCFG=\"will\",0,0", kOk},
        {"AT+QMTCFG=\"aliauth\",0", kOk},
        {"AT+QMTTENAUTH=?",
         line(
             "+QMTTENAUTH: <product_id>,<device_name>,<client_id>,<device_secret>,<expire>,<url>") +
             kOk},
        {"AT+QMTENAUTH=?",
         line(
             "+QMTTENAUTH: <product_id>,<device_name>,<client_id>,<device_secret>,<expire>,<url>") +
             kOk},
        {"AT+QMTTENAUTH?", kOk},
        {"AT+QMTENAUTH?", kOk},
        {"AT+QMTTENAUTH=\"P\",\"d\",\"P@x\",\"s\"", line("+CME ERROR: 50")},
        {"AT+QMTOPEN=?", line("+QMTOPEN: (0),<host_name>,<port>") + kOk},
        {"AT+QMTOPEN?", kOk},
        {"AT+QMTCONN=?", line("+QMTCONN: (0),<clientID>,<username>,<password>") + kOk},
        {"AT+QMTCONN?", kOk},
        {"AT+QMTCONN=0,\"x\"", line("+CME ERROR: 3")},
        {"AT+QMTDISC=?", line("+QMTDISC: (0)") + kOk},
        {"AT+QMTCLOSE=?", line("+QMTCLOSE: (0)") + kOk},
        {"AT+QMTSUB=?", line("+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]") + kOk},
        {"AT+QMTUNS=?", line("+QMTUNS: (0),(1-65535),<topic>[,<topic>...]") + kOk},
        {"AT+QMTPUB=?", line("+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)") + kOk},
        {"AT+QMTOPEN=0,\"127.0.0.1\"," + port, kOk, "+QMTOPEN: 0,0"},
        {"AT+QMTOPEN?", line("+QMTOPEN: 0,\"127.0.0.1\"," + port) + kOk},
        {"AT+QMTOPEN=0,\"127.0.0.1\"," + port, kOk, "+QMTOPEN: 0,2"},
        {"AT+QMTCONN?", line("+QMTCONN: 0,1") + kOk},
        {"AT+QMTCONN=0,\"e2e-forms\",\"user\",\"pass\"", kOk, "+QMTCONN: 0,0,0"},
        {"AT+QMTCONN?", line("+QMTCONN: 0,3") + kOk},
        {"AT+QMTSUB=0,1,\"e2e/a\",0,\"e2e/b\",1", kOk, "+QMTSUB: 0,1,0,0,1"},
        {"AT+QMTSUB=0,0,\"e2e/a\",0", line("+CME ERROR: 50")},
        {"AT+QMTUNS=0,2,\"e2e/a\",\"e2e/b\"", kOk, "+QMTUNS: 0,2,0"},
        {"AT+QMTUNS=0,65536,\"e2e/a\"", line("+CME ERROR: 50")},
        {"AT+QMTPUB=0,0,1,0,\"e2e/a\"", line("+CME ERROR: 50")},  // QoS 1 needs a msgID
        {"AT+QMTDISC=0", kOk, "+QMTDISC: 0,0"},
        {"AT+QMTOPEN?", kOk},
        {"AT+QMTOPEN=0,\"127.0.0.1\"," + port, kOk, "+QMTOPEN: 0,0"},
        {"AT+QMTCLOSE=0", kOk, "+QMTCLOSE: 0,0"},
        {"AT+QMTCLOSE=0", kOk, "+QMTCLOSE: 0,-1"},
    };
    for (const auto& s : steps) {
        EXPECT_EQ(sim.command(s.cmd), s.reply) << s.cmd;
        if (!s.result.empty()) {
            EXPECT_EQ(sim.wait_line(s.result.substr(0, s.result.find(' '))), s.result) << s.cmd;
        }
    }
}

// The note's chapter 6 session through the pty against mosquitto (the broker address is the test
// broker's; the payloads the module receives are published by a plain MQTT client).
TEST_F(E2E, Chapter6TranscriptReplays) {
    SimProcess sim(sim_opts());
    MqttClient other(broker.host(), broker.port());
    ASSERT_TRUE(other.connected());
    const std::string host = "127.0.0.1", port = std::to_string(broker.port());
    std::string got;
    auto cmd = [&](const std::string& l) { got += sim.command(l); };
    auto result = [&](const std::string& prefix) {
        got += "\r\n" + sim.wait_line(prefix) + "\r\n";
    };

    cmd("AT+QMTCFG=\"aliauth\",0,\"oyjtmPl5a5j\",\"MQTT_TEST\","
        "\"wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ\"");
    cmd("AT+QMTOPEN=?");
    cmd("AT+QMTOPEN=0,\"" + host + "\"," + port);
    result("+QMTOPEN:");
    cmd("AT+QMTOPEN?");
    cmd("AT+QMTCONN=?");
    cmd("AT+QMTCONN=0,\"clientExample\"");
    result("+QMTCONN:");
    cmd("AT+QMTSUB=?");
    cmd("AT+QMTSUB=0,1,\"topic/example\",2");
    result("+QMTSUB:");
    cmd("AT+QMTSUB=0,1,\"topic/pub\",0");
    result("+QMTSUB:");
    ASSERT_TRUE(other.publish("topic/example", "\"This is the payload related to topic\"", 0));
    result("+QMTRECV:");
    cmd("AT+QMTUNS=0,2, \"topic/example\"");
    result("+QMTUNS:");
    cmd("AT+QMTPUB=?");
    cmd("AT+QMTPUB=0,0,0,0,\"topic/pub\"");
    sim.send("这是测试数据, hello MQTT.\x1A");
    got += sim.expect(kOk);
    result("+QMTPUB:");
    result("+QMTRECV:");
    cmd("AT+QMTDISC=0");
    result("+QMTDISC:");

    const std::string expected =
        "AT+QMTCFG=\"aliauth\",0,\"oyjtmPl5a5j\",\"MQTT_TEST\","
        "\"wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ\"\r"
        "\r\nOK\r\n"
        "AT+QMTOPEN=?\r\r\n+QMTOPEN: (0),<host_name>,<port>\r\n\r\nOK\r\n"
        "AT+QMTOPEN=0,\"" +
        host + "\"," + port +
        "\r\r\nOK\r\n\r\n+QMTOPEN: 0,0\r\n"
        "AT+QMTOPEN?\r\r\n+QMTOPEN: 0,\"" +
        host + "\"," + port +
        "\r\n\r\nOK\r\n"
        "AT+QMTCONN=?\r\r\n+QMTCONN: (0),<clientID>,<username>,<password>\r\n\r\nOK\r\n"
        "AT+QMTCONN=0,\"clientExample\"\r\r\nOK\r\n\r\n+QMTCONN: 0,0,0\r\n"
        "AT+QMTSUB=?\r\r\n+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]\r\n\r\nOK\r\n"
        "AT+QMTSUB=0,1,\"topic/example\",2\r\r\nOK\r\n\r\n+QMTSUB: 0,1,0,2\r\n"
        "AT+QMTSUB=0,1,\"topic/pub\",0\r\r\nOK\r\n\r\n+QMTSUB: 0,1,0,0\r\n"
        "\r\n+QMTRECV: 0,0,\"topic/example\",\"This is the payload related to topic\"\r\n"
        "AT+QMTUNS=0,2, \"topic/example\"\r\r\nOK\r\n\r\n+QMTUNS: 0,2,0\r\n"
        "AT+QMTPUB=?\r\r\n+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)\r\n\r\nOK\r\n"
        "AT+QMTPUB=0,0,0,0,\"topic/pub\"\r\r\n>这是测试数据, hello MQTT.\r\nOK\r\n"
        "\r\n+QMTPUB: 0,0,0\r\n"
        "\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n"
        "AT+QMTDISC=0\r\r\nOK\r\n\r\n+QMTDISC: 0,0\r\n";
    EXPECT_EQ(got, expected);
    // The module signed CONNECT with aliauth: the broker saw the Aliyun client id and username.
    const std::string log = broker.log();
    EXPECT_NE(log.find("clientExample|securemode=3,signmethod=hmacsha256,timestamp="),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("u'MQTT_TEST&oyjtmPl5a5j'"), std::string::npos) << log;
    // ... and the device secret never reached the emulator's log.
    EXPECT_EQ(sim.log().find("wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"), std::string::npos);
}

TEST_F(E2E, Qos2FlowBothWays) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/up", 2));
    ASSERT_EQ(sim.command("AT+QMTSUB=0,1,\"e2e/down\",2"), kOk);
    ASSERT_EQ(sim.wait_line("+QMTSUB:"), "+QMTSUB: 0,1,0,2");

    ASSERT_EQ(sim.command("AT+QMTPUB=0,7,2,0,\"e2e/up\""), "\r\n>");
    sim.send("exactly once\x1A");
    EXPECT_EQ(sim.expect(kOk), kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,7,0");  // after PUBREC/PUBREL/PUBCOMP
    auto m = watcher.wait_message("e2e/up");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "exactly once");
    EXPECT_EQ(m->qos, 2);

    ASSERT_TRUE(watcher.publish("e2e/down", "to the module", 2));
    const std::string recv = sim.wait_line("+QMTRECV:");
    EXPECT_TRUE(
        std::regex_match(recv, std::regex(R"(\+QMTRECV: 0,[1-9][0-9]*,"e2e/down",to the module)")))
        << recv;
}

TEST_F(E2E, RetainedMessageReachesLaterSubscriber) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    ASSERT_EQ(sim.command("AT+QMTPUB=0,3,1,1,\"e2e/retained\""), "\r\n>");
    sim.send("kept\x1A");
    sim.expect(kOk);
    ASSERT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,3,0");
    MqttClient later(broker.host(), broker.port());
    ASSERT_TRUE(later.subscribe("e2e/retained", 1));
    auto m = later.wait_message("e2e/retained");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "kept");
    EXPECT_TRUE(m->retain);
}

TEST_F(E2E, WillOnAbruptLinkDrop) {
    SimProcess sim(sim_opts());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/will", 1));
    sim.command("ATE0");
    ASSERT_EQ(sim.command("AT+QMTCFG=\"will\",0,1,1,0,\"e2e/will\",\"module gone\""), kOk);
    ASSERT_EQ(sim.command("AT+QMTCFG=\"keepalive\",0,30"), kOk);
    bring_up(sim, "will-dev");
    EXPECT_EQ(sim.control("drop"), "OK");
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,7");
    auto m = watcher.wait_message("e2e/will");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "module gone");
    EXPECT_EQ(sim.command("AT+QMTOPEN?"), kOk);  // the network is closed
}

TEST_F(E2E, NoWillAfterGracefulDisconnect) {
    SimProcess sim(sim_opts());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/will2", 1));
    sim.command("ATE0");
    sim.command("AT+QMTCFG=\"will\",0,1,1,0,\"e2e/will2\",\"should not\"");
    bring_up(sim, "will-dev2");
    ASSERT_EQ(sim.command("AT+QMTDISC=0"), kOk);
    ASSERT_EQ(sim.wait_line("+QMTDISC:"), "+QMTDISC: 0,0");
    // A marker published after the disconnect arrives first if no will was sent.
    ASSERT_TRUE(watcher.publish("e2e/will2", "marker", 1));
    auto m = watcher.wait_message("e2e/will2");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "marker");
}

TEST_F(E2E, BrokerStoppedRaisesStat1) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    broker.stop();
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,1");
    EXPECT_EQ(sim.command("AT+QMTCONN?"), kOk);
    // Reopening while the broker is down fails; once it is back the module gets through again.
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,-1");
    broker.start();
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
}

TEST_F(E2E, SixthPublishInFlightAnswersCme159) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    ASSERT_EQ(sim.control("stall-acks on"), "OK");  // the broker's acks never reach the module
    for (int i = 1; i <= 5; ++i) {
        ASSERT_EQ(sim.command("AT+QMTPUB=0," + std::to_string(i) + ",1,0,\"e2e/win\""), "\r\n>")
            << i;
        sim.send("m\x1A");
        ASSERT_EQ(sim.expect(kOk), kOk);
    }
    EXPECT_EQ(sim.command("AT+QMTPUB=0,6,1,0,\"e2e/win\""), line("+CME ERROR: 159"));
    EXPECT_EQ(sim.control("status"), "OK state=connected inflight=5 data_mode=0");
    ASSERT_EQ(sim.command("AT+CMEE=0"), kOk);
    EXPECT_EQ(sim.command("AT+QMTPUB=0,6,1,0,\"e2e/win\""), line("ERROR"));
}

TEST_F(E2E, RetransmissionNoticesThenFailure) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    ASSERT_EQ(sim.command("AT+QMTCFG=\"timeout\",0,1,2,1"), kOk);
    ASSERT_EQ(sim.control("stall-acks on"), "OK");
    ASSERT_EQ(sim.command("AT+QMTPUB=0,9,1,0,\"e2e/rt\""), "\r\n>");
    sim.send("r\x1A");
    sim.expect(kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:", 3000ms), "+QMTPUB: 0,9,1,1");
    EXPECT_EQ(sim.wait_line("+QMTPUB:", 3000ms), "+QMTPUB: 0,9,1,2");
    EXPECT_EQ(sim.wait_line("+QMTPUB:", 3000ms), "+QMTPUB: 0,9,2");
}

TEST_F(E2E, FixedLengthPublishCarriesCtrlZAndEsc) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/bin", 1));
    const std::string payload(
        "a\x1A"
        "b\x1B"
        "c\0d\r\n",
        9);
    ASSERT_EQ(sim.command("AT+QMTPUB=0,11,1,0,\"e2e/bin\"," + std::to_string(payload.size())),
              "\r\n>");
    sim.send(payload);
    EXPECT_EQ(sim.expect(kOk), kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,11,0");
    auto m = watcher.wait_message("e2e/bin");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, payload);

    // Variable length: ESC cancels, nothing reaches the broker; Ctrl+Z sends.
    ASSERT_EQ(sim.command("AT+QMTPUB=0,12,1,0,\"e2e/bin\""), "\r\n>");
    sim.send("cancelled\x1B");
    EXPECT_EQ(sim.expect(kOk), kOk);
    ASSERT_EQ(sim.command("AT+QMTPUB=0,13,1,0,\"e2e/bin\""), "\r\n>");
    sim.send("sent\x1A");
    EXPECT_EQ(sim.expect(kOk), kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,13,0");
    m = watcher.wait_message("e2e/bin");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "sent");
}

TEST_F(E2E, RecvQuotedOption) {
    SimProcess sim(sim_opts({"--recv-quoted", "--prompt-space"}));
    bring_up(sim);
    ASSERT_EQ(sim.command("AT+QMTSUB=0,1,\"e2e/q\",0"), kOk);
    sim.wait_line("+QMTSUB:");
    MqttClient other(broker.host(), broker.port());
    ASSERT_TRUE(other.publish("e2e/q", "hi", 0));
    EXPECT_EQ(sim.wait_line("+QMTRECV:"), "+QMTRECV: 0,0,\"e2e/q\",\"hi\"");
    EXPECT_EQ(sim.command("AT+QMTPUB=0,0,0,0,\"e2e/q\""), "\r\n> ");
    sim.send("\x1B");
    sim.expect(kOk);
}

TEST_F(E2E, RealConnackRefusal) {
    Broker::Options bo;
    bo.allow_anonymous = false;
    Broker strict(bo);
    strict.start();
    SimProcess sim(sim_opts());
    sim.command("ATE0");
    ASSERT_EQ(sim.command("AT+QMTOPEN=0,\"127.0.0.1\"," + std::to_string(strict.port())), kOk);
    ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_EQ(sim.command("AT+QMTCONN=0,\"anon\""), kOk);
    EXPECT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,5");
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,4");
}

TEST_F(E2E, Mqtt31ClientIdLimit) {
    SimProcess sim(sim_opts());
    sim.command("ATE0");
    ASSERT_EQ(sim.command("AT+QMTCFG=\"version\",0,3"), kOk);
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_EQ(sim.command("AT+QMTCONN=0,\"v31-ok\""), kOk);
    EXPECT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,0");
    EXPECT_NE(broker.log().find("as v31-ok (p1,"), std::string::npos) << broker.log();
}

TEST_F(E2E, FaultsFromCommandLineAndControl) {
    SimProcess sim(sim_opts({"--fault", "refuse-conn 5", "--boot-ms", "200"}));
    sim.command("ATE0");
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_EQ(sim.command("AT+QMTCONN=0,\"refused\""), kOk);
    EXPECT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,5");
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,4");
    EXPECT_EQ(sim.control("refuse-conn off"), "OK");
    EXPECT_EQ(sim.control("refuse-open on"), "OK");
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,-1");
    EXPECT_EQ(sim.control("refuse-open off"), "OK");

    // A URC in the middle of a reply, a split reply, a delayed reply, garbage.
    EXPECT_EQ(sim.control("urc-in-reply +QMTSTAT: 0,1"), "OK");
    EXPECT_EQ(sim.command("AT+CSQ"), line("+CSQ:24,99") + line("+QMTSTAT: 0,1") + kOk);
    EXPECT_EQ(sim.control("split 150"), "OK");
    EXPECT_EQ(sim.command("AT+CGATT?"), line("+CGATT:1") + kOk);
    EXPECT_EQ(sim.control("delay 200"), "OK");
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(sim.command("AT"), kOk);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 190ms);
    EXPECT_EQ(sim.control("garbage-hex FF00FE"), "OK");
    EXPECT_EQ(sim.expect(std::string("\xFF\x00\xFE", 3)), std::string("\xFF\x00\xFE", 3));
    EXPECT_EQ(sim.control("bogus"), "ERR unknown command (try help)");

    // Reboot: banner, and every setting is gone (echo is back on).
    ASSERT_EQ(sim.command("AT+QMTCFG=\"keepalive\",0,30"), kOk);
    EXPECT_EQ(sim.control("reboot"), "OK");
    EXPECT_EQ(sim.expect("\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n"),
              "\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n");
    EXPECT_EQ(sim.command("AT+QMTCFG=\"keepalive\",0"),
              "AT+QMTCFG=\"keepalive\",0\r" + line("+QMTCFG: \"keepalive\",120") + kOk);
    EXPECT_EQ(sim.command("AT+NRB"), "AT+NRB\r" + line("REBOOTING") +
                                         line("REBOOT_CAUSE_APPLICATION_AT") + "Neul\r\nOK\r\n");
}

TEST_F(E2E, LatePromptAndLateResultFaults) {
    SimProcess sim(sim_opts());
    bring_up(sim, "late-dev");
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/late", 1));
    EXPECT_NE(sim.control("help").find("delay-prompt <ms> | delay-result <ms>"), std::string::npos);
    EXPECT_EQ(sim.control("delay-prompt abc"), "ERR milliseconds expected");

    EXPECT_EQ(sim.control("delay-prompt 400"), "OK");
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(sim.command("AT+QMTPUB=0,1,1,0,\"e2e/late\""), "\r\n>");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 390ms);
    EXPECT_EQ(sim.control("status"), "OK state=connected inflight=0 data_mode=1");

    EXPECT_EQ(sim.control("delay-result 400"), "OK");
    sim.send("late\x1A");
    EXPECT_EQ(sim.expect(kOk), kOk);
    t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 0,1,0");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 350ms);
    auto m = watcher.wait_message("e2e/late");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "late");
    EXPECT_EQ(sim.control("status"), "OK state=connected inflight=0 data_mode=0");
}

TEST_F(E2E, SilentDropThenCme3AndReopen) {
    SimProcess sim(sim_opts());
    bring_up(sim, "silent-dev");
    EXPECT_EQ(sim.control("drop 0"), "OK");
    EXPECT_EQ(sim.command("AT+QMTPUB=0,1,1,0,\"e2e/silent\""), line("+CME ERROR: 3"));
    EXPECT_EQ(sim.command("AT+QMTSUB=0,2,\"e2e/silent\",1"), line("+CME ERROR: 3"));
    EXPECT_EQ(sim.command("AT+QMTCONN?"), kOk);
    EXPECT_EQ(sim.control("status"), "OK state=closed inflight=0 data_mode=0");
    // A stray ESC and the refused publish's payload do not spoil the next command line.
    sim.send("payload\x1A\x1B");
    EXPECT_EQ(sim.command("AT"), kOk);
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_EQ(sim.command("AT+QMTCONN=0,\"silent-dev\""), kOk);
    EXPECT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,0");
}

TEST_F(E2E, PingTimeoutFault) {
    SimProcess sim(sim_opts());
    bring_up(sim);
    EXPECT_EQ(sim.control("ping-timeout"), "OK");
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,2");
}

TEST_F(E2E, RttDelaysNetworkResults) {
    SimProcess sim(sim_opts({"--rtt-ms", "400"}));
    sim.command("ATE0");
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms);  // OK comes at once
    EXPECT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 390ms);  // the model's clock counts whole ms
}

TEST_F(E2E, BaudPacesTheSerialLine) {
    SimProcess sim(sim_opts({"--baud", "9600"}));
    sim.command("ATE0");
    const auto t0 = std::chrono::steady_clock::now();
    const std::string reply = sim.command("AT+QMTCFG=?");  // ~330 bytes: ~345 ms at 9600 8N1
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, std::chrono::milliseconds(reply.size() * 10 * 1000 / 9600 - 40));
}

TEST_F(E2E, TcpTerminalServer) {
    SimProcess::Options o = sim_opts();
    o.tcp = true;
    SimProcess tcp_sim(o);
    ASSERT_NE(tcp_sim.tcp_port(), 0);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(tcp_sim.tcp_port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::write(fd, "AT+CGSN=1\r", 10), 10);
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.find("\r\nOK\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) == 1) {
            char b[256];
            const ssize_t n = ::read(fd, b, sizeof b);
            if (n <= 0) break;
            got.append(b, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    EXPECT_EQ(got, "AT+CGSN=1\r\r\n+CGSN:866971030000001\r\n\r\nOK\r\n");
}

// A one-shot HTTP server standing in for the IoT Suite token endpoint.
namespace {
class OneShotHttp {
  public:
    explicit OneShotHttp(std::string response) : response_(std::move(response)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        ::listen(fd_, 1);
        thread_ = std::thread([this] { serve(); });
    }
    ~OneShotHttp() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::uint16_t port() const { return port_; }
    std::string request() {
        std::lock_guard<std::mutex> lk(mu_);
        return request_;
    }

  private:
    void serve() {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string req;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 100) != 1) continue;
            char b[2048];
            const ssize_t n = ::read(c, b, sizeof b);
            if (n <= 0) break;
            req.append(b, static_cast<std::size_t>(n));
            const auto hdr_end = req.find("\r\n\r\n");
            if (hdr_end == std::string::npos) continue;
            const auto cl = req.find("Content-Length: ");
            const std::size_t body = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
            if (req.size() >= hdr_end + 4 + body) break;
        }
        {
            std::lock_guard<std::mutex> lk(mu_);
            request_ = req;
        }
        const std::string out =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(response_.size()) + "\r\nConnection: close\r\n\r\n" + response_;
        (void)!::write(c, out.data(), out.size());
        ::close(c);
    }
    std::string response_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::string request_;
};
}  // namespace

TEST_F(E2E, TenauthFetchesTokenOverHttp) {
    OneShotHttp http(
        R"({"returnCode":0,"data":{"id":"tok-user","secret":"tok-pass","expire":86400}})");
    SimProcess sim(
        sim_opts({"--token-url", "http://127.0.0.1:" + std::to_string(http.port()) + "/token"}));
    sim.command("ATE0");
    ASSERT_EQ(sim.command("AT+QMTTENAUTH=\"PROD1\",\"dev1\",\"PROD1@dev1\",\"ZGV2aWNlc2VjcmV0\",1"),
              kOk);
    EXPECT_EQ(sim.wait_line("+QMTTENAUTH:", 10s), "+QMTTENAUTH: 0,\"tok-pass\"");
    EXPECT_EQ(sim.command("AT+QMTENAUTH?"), line("+QMTTENAUTH: tok-pass") + kOk);
    const std::string req = http.request();
    EXPECT_NE(req.find("POST /token"), std::string::npos) << req;
    EXPECT_NE(req.find("clientId=PROD1%40dev1"), std::string::npos) << req;
    EXPECT_NE(req.find("expire=86400"), std::string::npos) << req;
    EXPECT_NE(req.find("signature="), std::string::npos) << req;
    EXPECT_EQ(req.find("ZGV2aWNlc2VjcmV0"), std::string::npos);  // the secret is not sent
    // The token is used by AT+QMTCONN without username/password: the broker saw the token user.
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_EQ(sim.command("AT+QMTCONN=0,\"PROD1dev1\""), kOk);
    ASSERT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: 0,0,0");
    EXPECT_NE(broker.log().find("u'tok-user'"), std::string::npos) << broker.log();
    const std::string log = sim.log();
    EXPECT_EQ(log.find("ZGV2aWNlc2VjcmV0"), std::string::npos);
    EXPECT_EQ(log.find("tok-pass"), std::string::npos) << log;
}

TEST_F(E2E, TenauthFailureMapsToResultCode) {
    const auto closed = qmtkit::test::free_loopback_port();  // nothing listens there
    SimProcess sim(sim_opts());
    sim.command("ATE0");
    ASSERT_EQ(sim.command("AT+QMTTENAUTH=\"P\",\"d\",\"P@d\",\"c2VjcmV0\",60,\"http://127.0.0.1:" +
                          std::to_string(closed) + "/token\""),
              kOk);
    // Connection refused is a socket initialisation failure (cloud/host's mapping,
    // docs/emulator.md).
    EXPECT_EQ(sim.wait_line("+QMTTENAUTH:", 10s), "+QMTTENAUTH: 2");
}

TEST_F(E2E, ConnectWithBrokerGoneRaisesStat3) {
    SimProcess sim(sim_opts());
    sim.command("ATE0");
    ASSERT_EQ(sim.command(open_cmd()), kOk);
    ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    broker.stop();
    ASSERT_EQ(sim.command("AT+QMTCONN=0,\"late\""), kOk);
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,3");
}
