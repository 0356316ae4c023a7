// Connect IDs 0-5 under --variant, virtual time: each ID a connection of its own on its own fake
// network (Options::network_for), its own session, window, msgIDs, settings and receive buffer;
// and the default variant (bc28) still has ID 0 only.
#include "rig.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

using namespace bc28sim;
using namespace bc28sim::test;

namespace {

// A module whose connect ID i runs on nets[i] (0: the constructor's network, the others handed
// out by network_for), echo off, numeric errors.
struct Links : ModuleRig {
    std::array<FakeNetwork, kLinkCount> nets;
    std::vector<int> asked;  // the ids network_for was called for, in order

    explicit Links(Variant v = Variant::bg95, bool factory = true) {
        Options o;
        o.variant = v;
        o.boot_ms = 100;
        o.unix_ms = fixed_unix_ms;
        if (factory) {
            o.network_for = [this](int id) -> Network& {
                asked.push_back(id);
                return nets.at(static_cast<std::size_t>(id));
            };
        }
        m = std::make_unique<Module>(
            nets[0], [this](std::string_view b) { out.append(b); }, std::move(o));
        cmd("ATE0");
        cmd("AT+CMEE=1");
    }
    ~Links() { m.reset(); }
    FakeNetwork& net(int id) { return nets.at(static_cast<std::size_t>(id)); }
    // With acks held back: what 100 ms bring (run() would wait out every retransmission).
    std::string brief(const std::string& bytes) {
        out.clear();
        m->feed(bytes);
        step();
        return take();
    }
    std::string qcmd(const std::string& l) { return brief(l + "\r"); }
    void step() { m->advance(m->now() + 100); }
    // A message from the broker on connect ID `id`, and what the module writes for it.
    std::string message(int id, const std::string& topic, const std::string& payload, int qos = 0,
                        std::uint16_t packet_id = 0) {
        out.clear();
        net(id).ev->net_message(packet_id, topic, payload, qos, false);
        run();
        return take();
    }
    // Open and connect `id` with client id "c<id>", on host h<id>.example, port 1880 + id.
    void connect(int id) {
        const std::string n = std::to_string(id);
        ASSERT_EQ(cmd("AT+QMTOPEN=" + n + ",\"h" + n + ".example\"," + std::to_string(1880 + id)),
                  ok() + line("+QMTOPEN: " + n + ",0"));
        ASSERT_EQ(cmd("AT+QMTCONN=" + n + ",\"c" + n + "\""),
                  ok() + line("+QMTCONN: " + n + ",0,0"));
    }
};

}  // namespace

TEST(Links, Bc28HasConnectIdZeroOnly) {
    Links s(Variant::bc28);
    EXPECT_EQ(s.cmd("AT+QMTOPEN=?"), line("+QMTOPEN: (0),<host_name>,<port>") + ok());
    EXPECT_EQ(s.cmd("AT+QMTPUB=?"),
              line("+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)") + ok());
    EXPECT_NE(s.cmd("AT+QMTCFG=?").find("+QMTCFG: \"version\",(0),(3,4)\r\n"), std::string::npos);
    EXPECT_EQ(s.cmd("AT+QMTOPEN=1,\"127.0.0.1\",1883"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",1,30"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCLOSE=1"), cme(50));
    s.connect(0);
    EXPECT_EQ(s.cmd("AT+QMTCONN=1,\"c1\""), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTSUB=1,1,\"t\",0"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTPUB=1,0,0,0,\"t\""), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTDISC=1"), cme(50));
    EXPECT_TRUE(s.asked.empty());  // no other network is ever asked for
}

TEST(Links, VariantTestFormsListZeroToFive) {
    Links s;
    EXPECT_EQ(s.cmd("AT+QMTOPEN=?"), line("+QMTOPEN: (0-5),<host_name>,<port>") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCLOSE=?"), line("+QMTCLOSE: (0-5)") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCONN=?"),
              line("+QMTCONN: (0-5),<clientID>,<username>,<password>") + ok());
    EXPECT_EQ(s.cmd("AT+QMTDISC=?"), line("+QMTDISC: (0-5)") + ok());
    EXPECT_EQ(s.cmd("AT+QMTSUB=?"),
              line("+QMTSUB: (0-5),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]") + ok());
    EXPECT_EQ(s.cmd("AT+QMTUNS=?"), line("+QMTUNS: (0-5),(1-65535),<topic>[,<topic>...]") + ok());
    EXPECT_EQ(s.cmd("AT+QMTPUB=?"),
              line("+QMTPUB: (0-5),(0-65535),(0-2),(0,1),<topic>,(1-1024)") + ok());
    const std::string cfg = s.cmd("AT+QMTCFG=?");
    EXPECT_NE(cfg.find("+QMTCFG: \"will\",(0-5),(0,1)"), std::string::npos) << cfg;
    EXPECT_EQ(cfg.find("(0),"), std::string::npos) << cfg;
    EXPECT_EQ(s.cmd("AT+QMTOPEN=6,\"127.0.0.1\",1883"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",6,30"), cme(50));
    EXPECT_EQ(s.cmd("AT+QMTOPEN=-1,\"127.0.0.1\",1883"), cme(50));
}

TEST(Links, ThreeIdsOpenAndConnectEachOnItsOwnNetwork) {
    Links s;
    s.connect(0);
    s.connect(2);
    s.connect(5);
    EXPECT_EQ(s.asked, (std::vector<int>{2, 5}));  // id 0 keeps the constructor's network
    for (const int id : {0, 2, 5}) {
        const auto& n = s.net(id);
        ASSERT_EQ(n.opens.size(), 1u) << id;
        EXPECT_EQ(n.opens[0].first, "h" + std::to_string(id) + ".example");
        EXPECT_EQ(n.opens[0].second, 1880 + id);
        ASSERT_EQ(n.connects.size(), 1u) << id;
        EXPECT_EQ(n.connects[0].client_id, "c" + std::to_string(id));
    }
    EXPECT_TRUE(s.net(1).opens.empty());
    EXPECT_EQ(s.net(1).ev, nullptr);
    EXPECT_EQ(s.cmd("AT+QMTOPEN?"),
              "\r\n+QMTOPEN: 0,\"h0.example\",1880\r\n"
              "+QMTOPEN: 2,\"h2.example\",1882\r\n"
              "+QMTOPEN: 5,\"h5.example\",1885\r\n" +
                  ok());
    EXPECT_EQ(s.cmd("AT+QMTCONN?"),
              "\r\n+QMTCONN: 0,3\r\n+QMTCONN: 2,3\r\n+QMTCONN: 5,3\r\n" + ok());
    // An id already open is occupied; the others are not.
    EXPECT_EQ(s.cmd("AT+QMTOPEN=2,\"h.example\",1"), ok() + line("+QMTOPEN: 2,2"));
    EXPECT_EQ(s.cmd("AT+QMTCONN=1,\"c1\""), cme(3));  // not open
    // Disconnect and close on the id named, and on no other.
    EXPECT_EQ(s.cmd("AT+QMTDISC=2"), ok() + line("+QMTDISC: 2,0"));
    EXPECT_EQ(s.net(2).disconnects, 1);
    EXPECT_EQ(s.net(0).disconnects + s.net(5).disconnects, 0);
    EXPECT_EQ(s.cmd("AT+QMTCLOSE=5"), ok() + line("+QMTCLOSE: 5,0"));
    EXPECT_EQ(s.net(5).closes, 1);
    EXPECT_EQ(s.net(0).closes, 0);
    EXPECT_EQ(s.cmd("AT+QMTCONN?"), line("+QMTCONN: 0,3") + ok());
    // A closed id opens again on the network it was given.
    EXPECT_EQ(s.cmd("AT+QMTOPEN=5,\"h5.example\",1885"), ok() + line("+QMTOPEN: 5,0"));
    EXPECT_EQ(s.asked, (std::vector<int>{2, 5}));
    EXPECT_EQ(s.net(5).opens.size(), 2u);
}

TEST(Links, SameMsgIdOnTwoIdsDoesNotInterfere) {
    Links s;
    s.connect(0);
    s.connect(1);
    s.net(0).auto_ack = false;
    s.net(1).auto_ack = false;
    EXPECT_EQ(s.qcmd("AT+QMTPUB=0,7,1,0,\"t/a\""), "\r\n>");
    EXPECT_EQ(s.brief("zero\x1A"), ok());
    EXPECT_EQ(s.qcmd("AT+QMTPUB=0,7,1,0,\"t/a\""), cme(50));  // in flight on 0
    EXPECT_EQ(s.qcmd("AT+QMTPUB=1,7,1,0,\"t/b\""), "\r\n>");  // free on 1
    EXPECT_EQ(s.brief("one\x1A"), ok());
    ASSERT_EQ(s.net(0).pubs.size(), 1u);
    ASSERT_EQ(s.net(1).pubs.size(), 1u);
    EXPECT_EQ(s.net(0).pubs[0].payload, "zero");
    EXPECT_EQ(s.net(1).pubs[0].payload, "one");
    EXPECT_EQ(s.m->inflight_publishes(0), 1);
    EXPECT_EQ(s.m->inflight_publishes(1), 1);
    // The PUBACK on 1 completes 1's msgID 7 only.
    s.out.clear();
    s.net(1).ev->net_published(s.net(1).pubs[0].op);
    s.step();
    EXPECT_EQ(s.take(), line("+QMTPUB: 1,7,0"));
    EXPECT_EQ(s.m->inflight_publishes(0), 1);
    EXPECT_EQ(s.m->inflight_publishes(1), 0);
    // 0's op id reported on 1's network is not 1's: nothing happens.
    s.net(1).ev->net_published(s.net(0).pubs[0].op);
    s.step();
    EXPECT_EQ(s.take(), "");
    s.net(0).ev->net_published(s.net(0).pubs[0].op);
    s.step();
    EXPECT_EQ(s.take(), line("+QMTPUB: 0,7,0"));
    // Subscriptions too: the same msgID on both, each SUBACK to its own id.
    EXPECT_EQ(s.qcmd("AT+QMTSUB=0,3,\"s/0\",1"), ok());
    EXPECT_EQ(s.qcmd("AT+QMTSUB=1,3,\"s/1\",2"), ok());
    ASSERT_EQ(s.net(0).subs.size(), 1u);
    ASSERT_EQ(s.net(1).subs.size(), 1u);
    EXPECT_EQ(s.net(1).subs[0][0].first, "s/1");
    s.net(1).ev->net_suback(s.net(1).sub_ops[0], {2});
    s.step();
    EXPECT_EQ(s.take(), line("+QMTSUB: 1,3,0,2"));
    s.net(0).ev->net_suback(s.net(0).sub_ops[0], {1});
    s.step();
    EXPECT_EQ(s.take(), line("+QMTSUB: 0,3,0,1"));
}

TEST(Links, PublishWindowOfFiveIsCountedPerId) {
    Links s;
    s.connect(0);
    s.connect(4);
    s.net(0).auto_ack = false;
    s.net(4).auto_ack = false;
    for (const int id : {0, 4}) {
        const std::string n = std::to_string(id);
        for (int mid = 1; mid <= 5; ++mid) {
            ASSERT_EQ(s.qcmd("AT+QMTPUB=" + n + "," + std::to_string(mid) + ",1,0,\"t\""), "\r\n>");
            ASSERT_EQ(s.brief("x\x1A"), ok());
        }
        EXPECT_EQ(s.qcmd("AT+QMTPUB=" + n + ",6,1,0,\"t\""), cme(159)) << id;
    }
    EXPECT_EQ(s.m->inflight_publishes(0), 5);
    EXPECT_EQ(s.m->inflight_publishes(4), 5);
    // One ack on 4 opens 4's window, not 0's.
    s.net(4).ev->net_published(s.net(4).pubs[0].op);
    s.step();
    EXPECT_EQ(s.take(), line("+QMTPUB: 4,1,0"));
    EXPECT_EQ(s.qcmd("AT+QMTPUB=0,6,1,0,\"t\""), cme(159));
    EXPECT_EQ(s.qcmd("AT+QMTPUB=4,6,1,0,\"t\""), "\r\n>");
    EXPECT_EQ(s.brief("y\x1A"), ok());
}

TEST(Links, RetransmissionsAndTimeoutsNameTheirId) {
    Links s;
    s.cmd("AT+QMTCFG=\"timeout\",3,1,1,1");  // id 3 only: 1 s, one retry, notices on
    s.connect(0);
    s.connect(3);
    s.net(0).auto_ack = false;
    s.net(3).auto_ack = false;
    EXPECT_EQ(s.qcmd("AT+QMTPUB=0,8,1,0,\"t\""), "\r\n>");
    EXPECT_EQ(s.brief("a\x1A"), ok());
    EXPECT_EQ(s.qcmd("AT+QMTPUB=3,8,1,0,\"t\""), "\r\n>");
    // Id 3 gives up after 2 s; id 0 (10 s, three retries, no notice) is still waiting.
    EXPECT_EQ(s.m->inflight_publishes(0), 1);
    s.out.clear();
    s.m->feed("b\x1A");
    s.m->advance(s.m->now() + 2500);
    EXPECT_EQ(s.take(), ok() + line("+QMTPUB: 3,8,1,1") + line("+QMTPUB: 3,8,2"));
    EXPECT_EQ(s.net(3).retransmits.size(), 1u);
    EXPECT_TRUE(s.net(0).retransmits.empty());
    EXPECT_EQ(s.m->inflight_publishes(0), 1);
}

TEST(Links, StatOnOneIdLeavesTheOthersOnline) {
    Links s;
    s.connect(0);
    s.connect(1);
    s.connect(2);
    s.out.clear();
    s.net(1).ev->net_link_lost(1);  // the broker closed 1's connection
    s.run();
    EXPECT_EQ(s.take(), line("+QMTSTAT: 1,1"));
    EXPECT_EQ(s.m->state_name(0), "connected");
    EXPECT_EQ(s.m->state_name(1), "closed");
    EXPECT_EQ(s.m->state_name(2), "connected");
    EXPECT_EQ(s.cmd("AT+QMTPUB=1,0,0,0,\"t\""), cme(3));
    EXPECT_EQ(s.cmd("AT+QMTPUB=2,0,0,0,\"t\""), "\r\n>");
    EXPECT_EQ(s.all("still\x1A"), ok() + line("+QMTPUB: 2,0,0"));
    // The fault API: drop_link with an id; without one it is id 0, as on the control channel.
    s.m->drop_link(7, 2);
    s.run();
    EXPECT_EQ(s.take(), line("+QMTSTAT: 2,7"));
    EXPECT_EQ(s.net(2).closes, 1);
    EXPECT_EQ(s.net(0).closes, 0);
    EXPECT_EQ(s.m->state_name(0), "connected");
    s.m->ping_timeout();
    s.run();
    EXPECT_EQ(s.take(), line("+QMTSTAT: 0,2"));
    EXPECT_EQ(s.net(0).closes, 1);
    // 1 comes back on its own while the others are down.
    s.connect(1);
    EXPECT_EQ(s.cmd("AT+QMTCONN?"), line("+QMTCONN: 1,3") + ok());
}

TEST(Links, BearerDownDropsEveryOpenId) {
    Links s;
    s.connect(0);
    s.connect(3);
    EXPECT_EQ(s.cmd("AT+CGATT=0"), ok() + line("+QMTSTAT: 0,7") + line("+QMTSTAT: 3,7"));
    EXPECT_EQ(s.net(0).closes, 1);
    EXPECT_EQ(s.net(3).closes, 1);
}

TEST(Links, MessageOnIdTwoComesOutWithItsId) {
    Links s;
    s.connect(0);
    s.connect(2);
    EXPECT_EQ(s.message(2, "t/a", "hello"), line("+QMTRECV: 2,0,\"t/a\",hello"));
    EXPECT_EQ(s.message(2, "t/a", "again", 1, 12), line("+QMTRECV: 2,12,\"t/a\",again"));
    EXPECT_EQ(s.message(0, "t/z", "zero"), line("+QMTRECV: 0,0,\"t/z\",zero"));
    // A message on a link that is not connected is not delivered.
    EXPECT_EQ(s.cmd("AT+QMTDISC=2"), ok() + line("+QMTDISC: 2,0"));
    EXPECT_EQ(s.message(2, "t/a", "late"), "");
}

TEST(Links, SettingsArePerId) {
    Links s;
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",1,30"), ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"will\",2,1,1,0,\"w/2\",\"bye\""), ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",1"), line("+QMTCFG: \"keepalive\",30") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",0"), line("+QMTCFG: \"keepalive\",120") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"will\",0"), line("+QMTCFG: \"will\",0") + ok());
    s.connect(0);
    s.connect(1);
    s.connect(2);
    EXPECT_EQ(s.net(0).connects[0].keepalive_s, 120);
    EXPECT_EQ(s.net(1).connects[0].keepalive_s, 30);
    EXPECT_FALSE(s.net(0).connects[0].will.enabled);
    EXPECT_FALSE(s.net(1).connects[0].will.enabled);
    EXPECT_TRUE(s.net(2).connects[0].will.enabled);
    EXPECT_EQ(s.net(2).connects[0].will.topic, "w/2");
}

TEST(Links, BufferedReceiveIsPerId) {
    Links s;
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",1,1"), ok());  // id 1 buffered; 0 stays mode 0
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",1"), line("+QMTCFG: \"recv/mode\",1,0") + ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"recv/mode\",0"), line("+QMTCFG: \"recv/mode\",0,0") + ok());
    s.connect(0);
    s.connect(1);
    EXPECT_EQ(s.message(0, "t/a", "one"), line("+QMTRECV: 0,0,\"t/a\",one"));
    EXPECT_EQ(s.message(1, "t/b", "two"), line("+QMTRECV: 1,0"));
    EXPECT_EQ(s.message(1, "t/c", "three", 1, 5), line("+QMTRECV: 1,1"));
    EXPECT_EQ(s.cmd("AT+QMTRECV?"),
              "\r\n+QMTRECV: 0,0,0,0,0,0\r\n+QMTRECV: 1,1,1,0,0,0\r\n" + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=0,0"), ok());  // 0's slot 0 is empty: 1's message is 1's
    EXPECT_EQ(s.cmd("AT+QMTRECV=1,0"), line("+QMTRECV: 1,0,\"t/b\",two") + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=1"), line("+QMTRECV: 1,5,\"t/c\",three") + ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=1"), ok());
    EXPECT_EQ(s.cmd("AT+QMTRECV=6"), cme(50));
}

TEST(Links, PubexOnIdThree) {
    Links s;
    s.connect(3);
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=?"),
              line("+QMTPUBEX: (0-5),<msgid>,(0-2),(0,1),\"topic\",\"length\"") + ok());
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=0,4,1,0,\"t/x\",2"), cme(3));  // 0 is not connected
    EXPECT_EQ(s.cmd("AT+QMTPUBEX=3,4,1,0,\"t/x\",2"), "\r\n>");
    EXPECT_EQ(s.all("hi"), ok() + line("+QMTPUBEX: 3,4,0"));
    ASSERT_EQ(s.net(3).pubs.size(), 1u);
    EXPECT_EQ(s.net(3).pubs[0].payload, "hi");
    EXPECT_EQ(s.net(3).pubs[0].qos, 1);
    EXPECT_TRUE(s.net(0).pubs.empty());
}

TEST(Links, RebootClosesEveryIdAndForgetsTheirSettings) {
    Links s;
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",4,30"), ok());
    s.connect(0);
    s.connect(1);
    s.connect(4);
    s.out.clear();
    s.m->reboot();
    s.run();
    const std::string boot = s.take();
    EXPECT_EQ(boot.find("+QMTSTAT"), std::string::npos) << boot;  // a reset reports nothing
    for (const int id : {0, 1, 4}) {
        EXPECT_EQ(s.net(id).closes, 1) << id;
        EXPECT_EQ(s.m->state_name(id), "closed") << id;
    }
    s.cmd("ATE0");
    s.cmd("AT+CMEE=1");
    EXPECT_EQ(s.cmd("AT+QMTCONN?"), ok());
    EXPECT_EQ(s.cmd("AT+QMTCFG=\"keepalive\",4"), line("+QMTCFG: \"keepalive\",120") + ok());
    // What the networks report for the old connections is stale.
    s.net(1).ev->net_message(0, "t", "old", 0, false);
    s.run();
    EXPECT_EQ(s.take(), "");
    // AT+NRB does the same.
    s.connect(1);
    EXPECT_EQ(s.cmd("AT+NRB").find("REBOOTING"), 2u);
    EXPECT_EQ(s.net(1).closes, 2);
    EXPECT_EQ(s.m->state_name(1), "closed");
}

TEST(Links, WithoutANetworkFactoryOtherIdsCannotOpen) {
    Links s(Variant::bg95, false);
    EXPECT_EQ(s.cmd("AT+QMTOPEN=1,\"127.0.0.1\",1883"), ok() + line("+QMTOPEN: 1,-1"));
    EXPECT_EQ(s.m->state_name(1), "closed");
    s.connect(0);  // id 0 is the constructor's network, as ever
}
