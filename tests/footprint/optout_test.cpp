// The core built with QMTKIT_TENAUTH=0 and QMTKIT_ALIAUTH=0: a session that asks for the Tencent
// or Aliyun bring-up is refused (Error::not_built), nothing else changes.
#include <gtest/gtest.h>

#include <string>

#include "qmtkit/qmt/client.hpp"

using namespace qmtkit;

namespace {

static_assert(!QMTKIT_TENAUTH && !QMTKIT_ALIAUTH, "built with both opt-outs");

struct Wire final : at::Writer {
    std::string out;
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        out.append(reinterpret_cast<const char*>(d), n);
        return n;
    }
};
struct App final : qmt::Listener {};

qmt::Session plain() {
    qmt::Session s;
    s.host = "broker.example";
    s.client_id = "dev-42";
    return s;
}

TEST(OptOuts, TenauthAndAliauthSessionsAreRefusedNotBuilt) {
    Wire wire;
    App app;
    qmt::Client<qmt::CompactConfig> client(wire, app);
    qmt::Session ten = plain();
    ten.use_tenauth = true;
    ten.tenauth.product_id = "P";
    ten.tenauth.device_name = "d";
    ten.tenauth.device_secret = "s";
    auto r = client.configure(ten);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, qmt::Error::not_built);
    qmt::Session ali = plain();
    ali.use_aliauth = true;
    ali.aliauth = qmt::AliAuth{"pk", "dn", "secret"};
    r = client.configure(ali);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, qmt::Error::not_built);
    EXPECT_FALSE(client.start(0));  // nothing was configured
}

TEST(OptOuts, APlainSessionStillBringsUpFromAt) {
    Wire wire;
    App app;
    qmt::Client<qmt::CompactConfig> client(wire, app);
    ASSERT_TRUE(client.configure(plain()));
    ASSERT_TRUE(client.start(0));
    EXPECT_EQ(wire.out, "AT\r");
    // Every command answered OK (attached at once): the bring-up goes from the will straight to
    // the attach check and from there to OPEN, with no aliauth and no TENAUTH step between.
    std::string sent;
    Instant now = 0;
    for (int i = 0; i < 20 && wire.out.find("AT+QMTOPEN") == std::string::npos; ++i) {
        const std::string line = wire.out;
        sent += line;
        wire.out.clear();
        const char* answer = line.find("AT+CGATT?") != std::string::npos
                                 ? "\r\n+CGATT:1\r\n\r\nOK\r\n"
                                 : "\r\nOK\r\n";
        client.feed(reinterpret_cast<const std::uint8_t*>(answer), std::string(answer).size(),
                    now += 10);
        client.poll(now);
    }
    EXPECT_NE(wire.out.find("AT+QMTOPEN=0,\"broker.example\",1883"), std::string::npos) << sent;
    EXPECT_NE(sent.find("AT+QMTCFG=\"will\""), std::string::npos) << sent;
    EXPECT_EQ(sent.find("aliauth"), std::string::npos) << sent;
    EXPECT_EQ(sent.find("ENAUTH"), std::string::npos) << sent;
}

}  // namespace
