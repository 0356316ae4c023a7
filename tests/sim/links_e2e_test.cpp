// Connect IDs 0-5 end to end: bc28-sim --variant bg95 on a real pty, a real mosquitto. Each
// connect ID is its own MQTT client of the broker (its own MosquittoNetwork in the executable).
#include "broker.hpp"
#include "mqtt_client.hpp"
#include "sim_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using qmtkit::test::Broker;
using qmtkit::test::MqttClient;
using qmtkit::test::SimProcess;

namespace {

const std::string kOk = "\r\nOK\r\n";

SimProcess::Options bg95() {
    SimProcess::Options o;
    o.exe = BC28SIM_EXE;
    o.args = {"--variant", "bg95"};
    return o;
}

// Reads until a line starting with each prefix has arrived, in whatever order (results and URCs
// of two connections interleave); returns those lines, in the order they came.
std::vector<std::string> wait_lines(SimProcess& sim, const std::vector<std::string>& prefixes) {
    std::vector<std::string> found;
    sim.read_until(
        [&](std::string_view b) -> std::size_t {
            found.clear();
            std::vector<bool> seen(prefixes.size(), false);
            std::size_t last_end = 0, pos = 0;
            while (true) {
                const auto end = b.find("\r\n", pos);
                if (end == std::string_view::npos) return 0;
                const std::string l(b.substr(pos, end - pos));
                for (std::size_t i = 0; i < prefixes.size(); ++i) {
                    if (!seen[i] && l.rfind(prefixes[i], 0) == 0) {
                        seen[i] = true;
                        found.push_back(l);
                        last_end = end + 2;
                        break;
                    }
                }
                if (std::find(seen.begin(), seen.end(), false) == seen.end()) return last_end;
                pos = end + 2;
            }
        },
        5000ms);
    return found;
}

class LinksE2E : public ::testing::Test {
  protected:
    void SetUp() override { broker.start(); }

    // Open and connect `id` as MQTT client `client_id`.
    void bring_up(SimProcess& sim, int id, const std::string& client_id) {
        const std::string n = std::to_string(id);
        ASSERT_EQ(
            sim.command("AT+QMTOPEN=" + n + ",\"127.0.0.1\"," + std::to_string(broker.port())),
            kOk);
        ASSERT_EQ(sim.wait_line("+QMTOPEN:"), "+QMTOPEN: " + n + ",0");
        ASSERT_EQ(sim.command("AT+QMTCONN=" + n + ",\"" + client_id + "\""), kOk);
        ASSERT_EQ(sim.wait_line("+QMTCONN:"), "+QMTCONN: " + n + ",0,0");
    }
    void echo_off(SimProcess& sim) {
        const std::string e0 = sim.command("ATE0");
        ASSERT_TRUE(e0 == "ATE0\r" + kOk || e0 == kOk) << e0;
        ASSERT_EQ(sim.command("AT+CMEE=1"), kOk);
    }

    Broker broker;
};

}  // namespace

// Publish on 0, receive on 1: the broker routes between two of its clients.
TEST_F(LinksE2E, PublishOnIdZeroReachesASubscriptionOnIdOne) {
    SimProcess sim(bg95());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/links/#", 1));
    echo_off(sim);
    EXPECT_EQ(sim.command("AT+QMTOPEN=?"), "\r\n+QMTOPEN: (0-5),<host_name>,<port>\r\n" + kOk);
    bring_up(sim, 0, "links-dev0");
    bring_up(sim, 1, "links-dev1");
    EXPECT_EQ(sim.command("AT+QMTCONN?"), "\r\n+QMTCONN: 0,3\r\n+QMTCONN: 1,3\r\n" + kOk);

    ASSERT_EQ(sim.command("AT+QMTSUB=1,1,\"e2e/links/to1\",1"), kOk);
    ASSERT_EQ(sim.wait_line("+QMTSUB:"), "+QMTSUB: 1,1,0,1");
    ASSERT_EQ(sim.command("AT+QMTPUB=0,5,1,0,\"e2e/links/to1\""), "\r\n>");
    sim.send("hello one\x1A");
    EXPECT_EQ(sim.expect(kOk), kOk);
    const auto got = wait_lines(sim, {"+QMTPUB:", "+QMTRECV:"});
    ASSERT_EQ(got.size(), 2u);
    for (const auto& l : got) {
        if (l.rfind("+QMTPUB:", 0) == 0) {
            EXPECT_EQ(l, "+QMTPUB: 0,5,0");
        } else {
            EXPECT_TRUE(std::regex_match(
                l, std::regex(R"(\+QMTRECV: 1,[1-9][0-9]*,"e2e/links/to1",hello one)")))
                << l;
        }
    }
    // The watcher, a third client, gets what id 0 sent; and what id 1 sends.
    auto m0 = watcher.wait_message("e2e/links/to1");
    ASSERT_TRUE(m0);
    EXPECT_EQ(m0->payload, "hello one");
    ASSERT_EQ(sim.command("AT+QMTPUB=1,6,1,0,\"e2e/links/from1\""), "\r\n>");
    sim.send("from one\x1A");
    EXPECT_EQ(sim.expect(kOk), kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 1,6,0");
    auto m1 = watcher.wait_message("e2e/links/from1");
    ASSERT_TRUE(m1);
    EXPECT_EQ(m1->payload, "from one");
    // And what the watcher publishes to 1's filter reaches 1 only (0 has no subscription).
    ASSERT_TRUE(watcher.publish("e2e/links/to1", "from outside", 1));
    const std::string r = sim.wait_line("+QMTRECV:");
    EXPECT_TRUE(
        std::regex_match(r, std::regex(R"(\+QMTRECV: 1,[1-9][0-9]*,"e2e/links/to1",from outside)")))
        << r;
}

// Two sessions at the broker: dropping id 0 (the control channel's drop) publishes 0's will and
// not 1's, and 1 carries on.
TEST_F(LinksE2E, DroppingIdZeroLeavesIdOneConnected) {
    SimProcess sim(bg95());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("e2e/links/#", 1));
    echo_off(sim);
    ASSERT_EQ(sim.command("AT+QMTCFG=\"will\",0,1,1,0,\"e2e/links/will0\",\"zero gone\""), kOk);
    ASSERT_EQ(sim.command("AT+QMTCFG=\"will\",1,1,1,0,\"e2e/links/will1\",\"one gone\""), kOk);
    bring_up(sim, 0, "links-will0");
    bring_up(sim, 1, "links-will1");

    EXPECT_EQ(sim.control("drop"), "OK");
    EXPECT_EQ(sim.wait_line("+QMTSTAT:"), "+QMTSTAT: 0,7");
    auto w = watcher.wait_message("e2e/links/will0");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->payload, "zero gone");
    EXPECT_EQ(sim.command("AT+QMTCONN?"), "\r\n+QMTCONN: 1,3\r\n" + kOk);

    ASSERT_EQ(sim.command("AT+QMTPUB=1,2,1,0,\"e2e/links/alive\""), "\r\n>");
    sim.send("still here\x1A");
    EXPECT_EQ(sim.expect(kOk), kOk);
    EXPECT_EQ(sim.wait_line("+QMTPUB:"), "+QMTPUB: 1,2,0");
    auto a = watcher.wait_message("e2e/links/alive");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->payload, "still here");
    // 1's connection never ended, so the broker has not sent its will (queued messages are kept
    // in order: it would be there before "alive").
    EXPECT_FALSE(watcher.wait_message("e2e/links/will1", 0ms));
}
