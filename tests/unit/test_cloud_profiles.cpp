// Cloud profiles fill a Session; the supervisor then runs the cloud's sequence.
#include <gtest/gtest.h>

#include "fake_module.hpp"
#include "qmtkit/cloud/profile.hpp"

using namespace qmtkit;

namespace {

struct Quiet final : qmt::Listener {};

cloud::AliyunDevice ali(std::string_view pk, std::string_view dn, std::string_view ds) {
    cloud::AliyunDevice d;
    d.product_key = pk;
    d.device_name = dn;
    d.device_secret = ds;
    return d;
}
cloud::TencentTokenDevice ten(std::string_view pid, std::string_view dn, std::string_view ds,
                              std::uint8_t days) {
    cloud::TencentTokenDevice d;
    d.product_id = pid;
    d.device_name = dn;
    d.device_secret = ds;
    d.expire_days = days;
    return d;
}
cloud::PresignedDevice pre(std::string_view host, std::string_view cid, std::string_view user,
                           std::string_view pw) {
    cloud::PresignedDevice d;
    d.host = host;
    d.client_id = cid;
    d.username = user;
    d.password = pw;
    return d;
}

template <class Setup>
std::vector<std::string> bring_up(const qmt::Session& s, Setup&& setup) {
    Instant now = 0;
    test::FakeModule module(now);
    setup(module);
    Quiet quiet;
    qmt::Client<> client(module, quiet);
    EXPECT_TRUE(client.configure(s));
    EXPECT_TRUE(client.start(now));
    EXPECT_TRUE(test::run_until(client, module, now, 60000, [&] { return client.online(); }));
    return module.commands;
}

TEST(CloudProfiles, AliyunUsesAliauthAndConnectsWithTheClientIdOnly) {
    cloud::ProfileStore store;
    // The note's chapter 6 device.
    ASSERT_TRUE(
        cloud::aliyun(ali("oyjtmPl5a5j", "MQTT_TEST", "wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"), store));
    EXPECT_EQ(store.session.host, "oyjtmPl5a5j.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_EQ(store.session.client_id, "oyjtmPl5a5j.MQTT_TEST");
    const auto cmds = bring_up(store.session, [](test::FakeModule&) {});
    auto has = [&](const std::string& c) {
        return std::find(cmds.begin(), cmds.end(), c) != cmds.end();
    };
    EXPECT_TRUE(
        has("AT+QMTCFG=\"aliauth\",0,\"oyjtmPl5a5j\",\"MQTT_TEST\","
            "\"wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ\""));
    EXPECT_TRUE(has("AT+QMTOPEN=0,\"oyjtmPl5a5j.iot-as-mqtt.cn-shanghai.aliyuncs.com\",1883"));
    EXPECT_EQ(cmds.back(), "AT+QMTCONN=0,\"oyjtmPl5a5j.MQTT_TEST\"");
}

TEST(CloudProfiles, AliyunInstanceEndpointAndOwnClientId) {
    cloud::ProfileStore store;
    cloud::AliyunDevice d = ali("pk", "dn", "ds");
    d.endpoint = "iot-06z00.mqtt.iothub.aliyuncs.com";
    d.client_id = "my-id";
    d.port = 443;
    ASSERT_TRUE(cloud::aliyun(d, store));
    EXPECT_EQ(store.session.host, "iot-06z00.mqtt.iothub.aliyuncs.com");
    EXPECT_EQ(store.session.client_id, "my-id");
    EXPECT_EQ(store.session.port, 443);
}

TEST(CloudProfiles, TencentTokenFlow) {
    cloud::ProfileStore store;
    cloud::TencentTokenDevice t = ten("ABCDEF1234", "dev01", "c2VjcmV0", 30);
    t.url = "http://127.0.0.1:9/token";
    ASSERT_TRUE(cloud::tencent_token(t, store));
    EXPECT_EQ(store.session.host, "ABCDEF1234.iotcloud.tencentdevices.com");
    EXPECT_EQ(store.session.client_id, "ABCDEF1234dev01");
    const auto cmds = bring_up(store.session, [](test::FakeModule&) {});
    auto has = [&](const std::string& c) {
        return std::find(cmds.begin(), cmds.end(), c) != cmds.end();
    };
    EXPECT_TRUE(
        has("AT+QMTTENAUTH=\"ABCDEF1234\",\"dev01\",\"ABCDEF1234@dev01\",\"c2VjcmV0\",30,\"http://"
            "127.0.0.1:9/token\""));
    EXPECT_EQ(cmds.back(), "AT+QMTCONN=0,\"ABCDEF1234dev01\"");
}

TEST(CloudProfiles, PresignedCredentialsGoIntoConnect) {
    cloud::ProfileStore store;
    ASSERT_TRUE(cloud::presigned(
        pre("127.0.0.1", "PIDdev", "PIDdev;12010126;ABCDE;1999999999", "abcd;hmacsha256"), store));
    const auto cmds = bring_up(store.session, [](test::FakeModule&) {});
    EXPECT_EQ(cmds.back(),
              "AT+QMTCONN=0,\"PIDdev\",\"PIDdev;12010126;ABCDE;1999999999\",\"abcd;hmacsha256\"");
}

TEST(CloudProfiles, BadProfilesAreRefused) {
    cloud::ProfileStore store;
    EXPECT_EQ(cloud::aliyun(ali("pk", "", "ds"), store).error().code, qmt::Error::field_empty);
    const std::string long_pk(90, 'k');
    EXPECT_EQ(cloud::aliyun(ali(long_pk, "dn", "ds"), store).error().code,
              qmt::Error::host_too_long);
    EXPECT_EQ(cloud::tencent_token(ten("p", "d", "s", 61), store).error().code,
              qmt::Error::expire_out_of_range);
    EXPECT_EQ(cloud::presigned(pre("h", "c", "", "pw"), store).error().code,
              qmt::Error::password_without_username);
    EXPECT_EQ(cloud::presigned(pre("", "c", "", ""), store).error().code, qmt::Error::host_empty);
}

}  // namespace
