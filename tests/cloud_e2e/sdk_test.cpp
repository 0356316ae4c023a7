// Issue 5, "end to end through bc28-sim and the cloud stand-in": the device-side profiles
// (cloud::aliyun, cloud::tencent_token) fill a qmt::Session, the host facade (BlockingClient:
// core client + runner + serial transport) brings the link up through bc28-sim's pty, and the
// broker is a real mosquitto with the stand-in's auth plugin. Right credentials: online, messages
// pass both ways with a plain observer. Wrong credentials: never online, and the facade names the
// cause (CONNACK return code 5, or the +QMTTENAUTH result) without ever showing a secret.
#include <fstream>
#include <regex>

#include "qmtkit/cloud/profile.hpp"
#include "qmtkit/host/blocking_client.hpp"
#include "stack.hpp"

namespace qmtkit::cloud_e2e {
namespace {

using host::BlockingClient;

const char* kind_name(at::TraceKind k) {
    switch (k) {
        case at::TraceKind::tx:
            return "tx";
        case at::TraceKind::rx:
            return "rx";
        case at::TraceKind::echo:
            return "echo";
        case at::TraceKind::prompt:
            return "prompt";
        case at::TraceKind::payload:
            return "payload";
        case at::TraceKind::urc:
            return "urc";
        case at::TraceKind::claimed:
            return "claimed";
        case at::TraceKind::unclaimed:
            return "unclaimed";
        case at::TraceKind::timeout:
            return "timeout";
        case at::TraceKind::overflow:
            return "overflow";
        case at::TraceKind::settle:
            return "settle";
    }
    return "?";
}

// A BlockingClient on a fresh bc28-sim, with its trace and link states recorded.
class Device {
  public:
    explicit Device(std::unique_ptr<test::SimProcess> sim)
        : sim_(std::move(sim)), client_(sim_->pty_path()) {
        client_.set_trace([this](at::TraceKind k, std::string_view t) {
            trace_.push_back(std::string(kind_name(k)) + " " + std::string(t));
        });
        client_.set_link_observer([this](qmt::LinkState s) {
            if (s == qmt::LinkState::online) ever_online_ = true;
        });
        qmt::Backoff b;
        b.initial = 100;
        b.max = 400;
        client_.set_backoff(b);
    }

    BlockingClient& client() { return client_; }
    test::SimProcess& sim() { return *sim_; }
    bool ever_online() const { return ever_online_; }

    std::string trace() const {
        std::string all;
        for (const auto& l : trace_) all += l + "\n";
        return all;
    }
    // Trace lines of this kind starting with `prefix`.
    std::size_t count(const std::string& kind_and_prefix) const {
        std::size_t n = 0;
        for (const auto& l : trace_) n += l.rfind(kind_and_prefix, 0) == 0 ? 1 : 0;
        return n;
    }
    // Runs the client until `n` received lines start with `prefix` (bounded by `timeout`).
    bool run_until_rx(const std::string& prefix, std::size_t n, Ms timeout) {
        return client_.run_until([&] { return count("rx " + prefix) >= n; }, timeout);
    }

    // Neither the trace, nor the last problem, nor `more` holds any of `secrets`.
    void expect_no_secret(const std::vector<std::string>& secrets,
                          const std::string& more = "") const {
        const std::string all = trace() + "\n" + client_.last_problem() + "\n" + more;
        for (const auto& s : secrets) {
            EXPECT_EQ(all.find(s), std::string::npos)
                << "a secret leaked into the trace / messages:\n"
                << all;
        }
    }

  private:
    std::unique_ptr<test::SimProcess> sim_;
    BlockingClient client_;
    std::vector<std::string> trace_;
    bool ever_online_ = false;
};

class CloudSdkE2E : public StackTest {
  protected:
    // The profiles' string_views point into these.
    std::string host_ = "127.0.0.1";
    std::string pk_ = kAliPk, dn_ = kAliDn, pid_ = kSuitePid, sdn_ = kSuiteDn;

    cloud::ProfileStore aliyun_profile(const std::string& secret) {
        cloud::AliyunDevice d;
        d.product_key = pk_;
        d.device_name = dn_;
        d.device_secret = secret;
        d.endpoint = host_;  // an instance endpoint: the local stand-in
        d.port = cloud().mqtt_port();
        cloud::ProfileStore store;
        const auto r = cloud::aliyun(d, store);
        EXPECT_TRUE(r.has_value());
        return store;
    }

    cloud::ProfileStore tencent_profile(const std::string& secret) {
        cloud::TencentTokenDevice d;
        d.product_id = pid_;
        d.device_name = sdn_;
        d.device_secret = secret;
        d.expire_days = 1;
        d.host = host_;  // url left empty: the module's default (bc28-sim --token-url)
        d.port = cloud().mqtt_port();
        cloud::ProfileStore store;
        const auto r = cloud::tencent_token(d, store);
        EXPECT_TRUE(r.has_value());
        return store;
    }

    // Online, then: a subscription receives what the observer publishes, a publish reaches it.
    void exchange(Device& dev, const std::string& up, const std::string& down) {
        auto& c = dev.client();
        auto observer = cloud().observer();
        ASSERT_TRUE(observer->subscribe(up, 1));

        auto sub = c.subscribe(down, 1, 10s);
        ASSERT_TRUE(sub.has_value()) << host::describe(sub.error());
        EXPECT_EQ(sub->granted_qos, 1);
        ASSERT_TRUE(observer->publish(down, "set interval=60", 1));
        const auto in = c.next_message(10s);
        ASSERT_TRUE(in.has_value()) << c.last_problem();
        EXPECT_EQ(in->topic, down);
        EXPECT_EQ(in->payload, "set interval=60");

        const std::string payload = "{\"temp\":21.5,\"ok\":true}";
        auto rep = c.publish(up, ByteView(payload), {1}, 10s);
        ASSERT_TRUE(rep.has_value()) << host::describe(rep.error());
        const auto m = observer->wait_message(up, 10s);
        ASSERT_TRUE(m.has_value()) << "the observer got nothing";
        EXPECT_EQ(m->payload, payload);
        EXPECT_TRUE(c.stop(10s).has_value());
    }
};

// The engine masks secret AT arguments as "***"; no 64-hex token password may be traced either.
void expect_no_token_password(const Device& dev) {
    static const std::regex hex64("[0-9a-f]{64}");
    EXPECT_FALSE(std::regex_search(dev.trace(), hex64)) << "a token password reached the trace:\n"
                                                        << dev.trace();
}

// ------------------------------------------------------------------------------ Aliyun

TEST_F(CloudSdkE2E, AliyunProfileRightSecretOnlineAndMessagesPass) {
    Device dev(start_sim(false));
    auto store = aliyun_profile(kAliSecret);
    ASSERT_TRUE(dev.client().start(store.session).has_value());
    auto online = dev.client().wait_online(15s);
    ASSERT_TRUE(online.has_value()) << host::describe(online.error()) << "\n"
                                    << dev.trace() << dev.sim().log();

    // The module signed CONNECT for "<pk>.<dn>" and the stand-in accepted it.
    EXPECT_TRUE(cloud().wait_broker_log("accepted aliyun client '" + kAliPk + "." + kAliDn +
                                        "|securemode=3,signmethod=hmacsha256,timestamp="))
        << cloud().broker_log();
    EXPECT_EQ(dev.count("tx AT+QMTCFG=\"aliauth\",0,\"" + kAliPk + "\",\"" + kAliDn + "\",\"***\""),
              1u)
        << dev.trace();
    exchange(dev, "/" + kAliPk + "/" + kAliDn + "/user/update",
             "/" + kAliPk + "/" + kAliDn + "/user/get");
    dev.expect_no_secret(device_secrets());
}

TEST_F(CloudSdkE2E, AliyunProfileWrongSecretNeverOnlineConnack5) {
    Device dev(start_sim(false));
    auto store = aliyun_profile(kWrongSecret);
    ASSERT_TRUE(dev.client().start(store.session).has_value());
    // Two refused attempts (the supervisor backs off and tries again), none of them online.
    ASSERT_TRUE(dev.run_until_rx("+QMTCONN: 0,0,5", 2, 15s))
        << "no second refused CONNECT; last problem: " << dev.client().last_problem() << "\n"
        << dev.trace();
    EXPECT_FALSE(dev.ever_online());
    EXPECT_NE(dev.client().state(), qmt::LinkState::online);
    EXPECT_NE(dev.client().last_problem().find("refused the connection (CONNACK return code 5)"),
              std::string::npos)
        << dev.client().last_problem();
    const auto r = dev.client().wait_online(1ms);
    ASSERT_FALSE(r.has_value());
    const std::string why = host::describe(r.error());
    EXPECT_NE(why.find("CONNACK return code 5"), std::string::npos) << why;
    EXPECT_TRUE(cloud().wait_broker_log("username '" + kAliDn + "&" + kAliPk +
                                        "': aliyun: signature mismatch"))
        << cloud().broker_log();
    dev.expect_no_secret(device_secrets(), why);
}

// ---------------------------------------------------------------------- Tencent token flow

TEST_F(CloudSdkE2E, TencentTokenProfileRightSecretOnlineAndMessagesPass) {
    Device dev(start_sim(false));
    auto store = tencent_profile(kSuiteSecret);
    ASSERT_TRUE(dev.client().start(store.session).has_value());
    auto online = dev.client().wait_online(15s);
    ASSERT_TRUE(online.has_value()) << host::describe(online.error()) << "\n"
                                    << dev.trace() << dev.sim().log();

    const std::string client_id = kSuitePid + kSuiteDn;  // ${productId}${deviceName}
    EXPECT_TRUE(cloud().wait_token_log("POST /token " + kSuitePid + "/" + kSuiteDn + " -> 0"))
        << cloud().token_log();
    EXPECT_TRUE(cloud().wait_broker_log("accepted token client '" + client_id + "'"))
        << cloud().broker_log();
    // CONNECT named the client only; the module added the token.
    EXPECT_EQ(dev.count("tx AT+QMTCONN=0,\"" + client_id + "\""), 1u) << dev.trace();
    exchange(dev, kSuitePid + "/" + kSuiteDn + "/event", kSuitePid + "/" + kSuiteDn + "/control");
    dev.expect_no_secret(device_secrets());
    expect_no_token_password(dev);
}

TEST_F(CloudSdkE2E, TencentTokenProfileWrongSecretNeverOnlineTenauthResult3) {
    Device dev(start_sim(false));
    auto store = tencent_profile(kWrongSecret);
    ASSERT_TRUE(dev.client().start(store.session).has_value());
    ASSERT_TRUE(dev.run_until_rx("+QMTTENAUTH: 3", 2, 15s))
        << "no second refused token; last problem: " << dev.client().last_problem() << "\n"
        << dev.trace();
    EXPECT_FALSE(dev.ever_online());
    // Without a token the supervisor never opens a connection.
    EXPECT_EQ(dev.count("tx AT+QMTOPEN="), 0u) << dev.trace();
    EXPECT_EQ(dev.count("tx AT+QMTCONN="), 0u) << dev.trace();
    EXPECT_NE(dev.client().last_problem().find("Tencent token failed (+QMTTENAUTH result 3)"),
              std::string::npos)
        << dev.client().last_problem();
    const auto r = dev.client().wait_online(1ms);
    ASSERT_FALSE(r.has_value());
    const std::string why = host::describe(r.error());
    EXPECT_NE(why.find("+QMTTENAUTH result 3"), std::string::npos) << why;
    EXPECT_TRUE(cloud().wait_token_log("POST /token " + kSuitePid + "/" + kSuiteDn + " -> 1003"))
        << cloud().token_log();
    dev.expect_no_secret(device_secrets(), why);
}

TEST_F(CloudSdkE2E, TencentTokenTheBrokerRejectsIsConnack5) {
    // A token server whose key the broker does not share (a rotated or foreign key): the token
    // is issued (+QMTTENAUTH: 0) but the broker refuses CONNECT with it.
    const std::string foreign_key = "NotTheBrokersTokenKey-1";
    const std::string reg = cloud().dir() + "/foreign-registry.json";
    {
        std::ofstream f(reg);
        f << registry(foreign_key).to_json();
    }
    test::TokenServer::Options to;
    to.registry_path = reg;
    test::TokenServer foreign(to);

    Device dev(start_sim(false, foreign.url()));
    auto store = tencent_profile(kSuiteSecret);
    ASSERT_TRUE(dev.client().start(store.session).has_value());
    ASSERT_TRUE(dev.run_until_rx("+QMTCONN: 0,0,5", 2, 15s))
        << "no second refused CONNECT; last problem: " << dev.client().last_problem() << "\n"
        << dev.trace();
    EXPECT_FALSE(dev.ever_online());
    EXPECT_GE(dev.count("rx +QMTTENAUTH: 0,"), 1u) << dev.trace();
    EXPECT_NE(dev.client().last_problem().find("refused the connection (CONNACK return code 5)"),
              std::string::npos)
        << dev.client().last_problem();
    EXPECT_TRUE(cloud().wait_broker_log("refused client '" + kSuitePid + kSuiteDn + "' username '" +
                                        kSuitePid + "@" + kSuiteDn + ";"))
        << cloud().broker_log();
    auto secrets = device_secrets();
    secrets.push_back(foreign_key);
    dev.expect_no_secret(secrets);
    expect_no_token_password(dev);
}

}  // namespace
}  // namespace qmtkit::cloud_e2e
