// Issue 3, "both cloud auth paths with right and wrong credentials": raw AT lines over bc28-sim's
// pty (no SDK), a real mosquitto with the cloud stand-in's auth plugin and registry, and the
// stand-in's token server as the module's token URL. What the broker accepted or refused is read
// from its log and from a plain subscriber logged in as a registry "plain" user.
//
// Expected bytes come from docs/emulator.md (aliauth signing, +QMTCONN / +QMTSTAT on a refused
// CONNACK, +QMTTENAUTH results) and docs/cloud-standin.md (how a CONNECT is judged, tokens,
// CONNACK 5 on refusal, token server returnCodes).
#include <cstdlib>

#include "qmtkit/cloud/signing.hpp"
#include "stack.hpp"

namespace qmtkit::cloud_e2e {
namespace {

std::string printable(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string q(const std::string& s) {
    return "\"" + s + "\"";
}

class CloudAtE2E : public StackTest {
  protected:
    void SetUp() override {
        StackTest::SetUp();
        if (HasFatalFailure()) return;
        start(cloud().token_url());
    }

    void start(const std::string& token_url) {
        sim_ = start_sim(true, token_url);
        at("ATE0");
        at("AT+CMEE=1");
    }

    // A command that must answer OK; returns everything received up to it.
    std::string at(const std::string& line) {
        const std::string r = sim_->command(line);
        EXPECT_NE(r.find("\r\nOK\r\n"), std::string::npos)
            << line << " answered \"" << printable(r) << "\"";
        return r;
    }

    void open_broker() {
        at("AT+QMTOPEN=0,\"127.0.0.1\"," + std::to_string(cloud().mqtt_port()));
        EXPECT_EQ(sim_->wait_line("+QMTOPEN:"), "+QMTOPEN: 0,0");
    }

    // AT+QMTCONN with the client ID only (the module supplies the credentials); its result line.
    std::string connect(const std::string& client_id) {
        at("AT+QMTCONN=0," + q(client_id));
        return sim_->wait_line("+QMTCONN:", 10s);
    }

    // QMT publish, QoS 1, variable length ended by Ctrl+Z; expects +QMTPUB: 0,<id>,0.
    void publish(int msg_id, const std::string& topic, const std::string& payload) {
        const std::string r =
            sim_->command("AT+QMTPUB=0," + std::to_string(msg_id) + ",1,0," + q(topic));
        ASSERT_NE(r.find("\r\n>"), std::string::npos) << "no prompt: \"" << printable(r) << "\"";
        sim_->send(payload + "\x1A");
        sim_->expect("\r\nOK\r\n");
        EXPECT_EQ(sim_->wait_line("+QMTPUB:", 10s), "+QMTPUB: 0," + std::to_string(msg_id) + ",0");
    }

    // A subscription on the module, then a message from the observer arrives as +QMTRECV.
    void receive_from(test::MqttClient& observer, const std::string& topic,
                      const std::string& payload) {
        at("AT+QMTSUB=0,1," + q(topic) + ",1");
        EXPECT_EQ(sim_->wait_line("+QMTSUB:", 10s), "+QMTSUB: 0,1,0,1");
        ASSERT_TRUE(observer.publish(topic, payload, 1));
        const std::string line = sim_->wait_line("+QMTRECV:", 10s);
        EXPECT_EQ(line.substr(line.find(',', line.find(',') + 1)), "," + q(topic) + "," + payload)
            << line;
    }

    // The module must not log a secret (docs/emulator.md: "it is never logged").
    void expect_no_secret_in_sim_log(const std::vector<std::string>& extra = {}) {
        const std::string log = sim_->log();
        auto secrets = device_secrets();
        secrets.insert(secrets.end(), extra.begin(), extra.end());
        for (const auto& s : secrets)
            EXPECT_EQ(log.find(s), std::string::npos) << "bc28-sim's log holds a secret";
    }

    std::unique_ptr<test::SimProcess> sim_;
};

// ------------------------------------------------------------------------------ Aliyun aliauth

TEST_F(CloudAtE2E, AliyunRightSecretConnectsAndMessagesPass) {
    auto observer = cloud().observer("obs-at-ali");
    const std::string up = "/" + kAliPk + "/" + kAliDn + "/user/update";
    ASSERT_TRUE(observer->subscribe(up, 1));

    at("AT+QMTCFG=\"aliauth\",0," + q(kAliPk) + "," + q(kAliDn) + "," + q(kAliSecret));
    open_broker();
    const std::string client_id = "sim-at-ali-1";
    EXPECT_EQ(connect(client_id), "+QMTCONN: 0,0,0");

    // What the broker was sent: the module's own signing (docs/emulator.md), accepted by the
    // stand-in's Aliyun check.
    ASSERT_TRUE(cloud().wait_broker_log("accepted aliyun client '" + client_id + "|"))
        << "the broker did not accept an Aliyun-signed CONNECT for " << client_id << ":\n"
        << cloud().broker_log();
    const std::string log = cloud().broker_log();
    const auto mqtt_id = find_group(log, "accepted aliyun client '(" + client_id + "\\|[^']*)'");
    ASSERT_TRUE(mqtt_id);
    const auto ts = find_group(
        *mqtt_id, "^" + client_id + "\\|securemode=3,signmethod=hmacsha256,timestamp=([0-9]+)\\|$");
    ASSERT_TRUE(ts) << "MQTT clientId on the wire: " << *mqtt_id;
    const auto ts_ms = std::strtoull(ts->c_str(), nullptr, 10);
    EXPECT_NEAR(static_cast<double>(ts_ms) / 1000.0, static_cast<double>(now_unix()), 120.0)
        << "timestamp is not the wall clock in ms: " << *ts;
    EXPECT_EQ(logged_username(log, *mqtt_id), kAliDn + "&" + kAliPk);

    publish(1, up, "{\"temp\":21.5}");
    const auto m = observer->wait_message(up, 10s);
    ASSERT_TRUE(m) << "the observer got nothing";
    EXPECT_EQ(m->payload, "{\"temp\":21.5}");

    receive_from(*observer, "/" + kAliPk + "/" + kAliDn + "/user/get", "cmd-42");
    expect_no_secret_in_sim_log();
}

TEST_F(CloudAtE2E, AliyunWrongSecretIsConnack5ThenStat4) {
    at("AT+QMTCFG=\"aliauth\",0," + q(kAliPk) + "," + q(kAliDn) + "," + q(kWrongSecret));
    open_broker();
    EXPECT_EQ(connect("sim-at-ali-2"), "+QMTCONN: 0,0,5");  // the stand-in's refusal: CONNACK 5
    EXPECT_EQ(sim_->wait_line("+QMTSTAT:", 10s), "+QMTSTAT: 0,4");
    EXPECT_TRUE(cloud().wait_broker_log(
        "refused client 'sim-at-ali-2|securemode=3,signmethod=hmacsha256,timestamp="))
        << cloud().broker_log();
    EXPECT_TRUE(cloud().wait_broker_log("username '" + kAliDn + "&" + kAliPk +
                                        "': aliyun: signature mismatch for " + kAliPk + "/" +
                                        kAliDn))
        << cloud().broker_log();
    // The link is closed: a new CONNECT needs a new AT+QMTOPEN.
    EXPECT_EQ(sim_->command("AT+QMTCONN=0,\"sim-at-ali-2\"").find("+CME ERROR: 3"), 2u);
    expect_no_secret_in_sim_log();
}

// ------------------------------------------------------------------------ Tencent token flow

std::string tenauth_cmd(const std::string& secret, const std::string& url = "") {
    std::string c = "AT+QMTTENAUTH=" + q(kSuitePid) + "," + q(kSuiteDn) + "," +
                    q(kSuitePid + "@" + kSuiteDn) + "," + q(secret) + ",1";
    if (!url.empty()) c += "," + q(url);
    return c;
}

TEST_F(CloudAtE2E, TencentTokenRightSecretConnectsAndMessagesPass) {
    auto observer = cloud().observer("obs-at-ten");
    const std::string up = kSuitePid + "/" + kSuiteDn + "/event";
    ASSERT_TRUE(observer->subscribe(up, 1));

    at(tenauth_cmd(kSuiteSecret));
    const std::string result = sim_->wait_line("+QMTTENAUTH:", 10s);
    const auto password = find_group(result, "^\\+QMTTENAUTH: 0,\"([0-9a-f]{64})\"$");
    ASSERT_TRUE(password) << "token result: " << result
                          << "\ntoken server: " << cloud().token_log();
    EXPECT_TRUE(cloud().wait_token_log("POST /token " + kSuitePid + "/" + kSuiteDn + " -> 0"));
    // The query form gives the password unquoted (as the note).
    EXPECT_NE(at("AT+QMTTENAUTH?").find("\r\n+QMTTENAUTH: " + *password + "\r\n"),
              std::string::npos);

    open_broker();
    const std::string client_id = kSuitePid + kSuiteDn;
    EXPECT_EQ(connect(client_id), "+QMTCONN: 0,0,0");
    ASSERT_TRUE(cloud().wait_broker_log("accepted token client '" + client_id + "'"))
        << cloud().broker_log();
    // CONNECT carried the token: username = data.id (<pid>@<dn>;<expiry>;<salt>), password =
    // data.secret = HMAC-SHA256(token_key, username), the one +QMTTENAUTH reported.
    const auto user = logged_username(cloud().broker_log(), client_id);
    ASSERT_TRUE(user) << cloud().broker_log();
    const auto expiry =
        find_group(*user, "^" + kSuitePid + "@" + kSuiteDn + ";([0-9]+);[0-9A-Za-z]{8}$");
    ASSERT_TRUE(expiry) << "token username on the wire: " << *user;
    EXPECT_NEAR(static_cast<double>(std::strtoull(expiry->c_str(), nullptr, 10)),
                static_cast<double>(now_unix() + 86400), 120.0)
        << "1 day on the AT line is 86400 s";
    EXPECT_EQ(cloud::hmac_hex(cloud::SignMethod::hmacsha256, kTokenKey, *user), *password);

    publish(1, up, "token says hi");
    const auto m = observer->wait_message(up, 10s);
    ASSERT_TRUE(m) << "the observer got nothing";
    EXPECT_EQ(m->payload, "token says hi");

    receive_from(*observer, kSuitePid + "/" + kSuiteDn + "/control", "on");
    expect_no_secret_in_sim_log({*password});
}

TEST_F(CloudAtE2E, TencentTokenWrongSecretIsResult3AndConnectWithoutTokenIsRefused) {
    at(tenauth_cmd(kWrongSecret));
    // The token server answers returnCode 1003 (signature mismatch): result 3, HTTP packet error.
    EXPECT_EQ(sim_->wait_line("+QMTTENAUTH:", 10s), "+QMTTENAUTH: 3");
    EXPECT_TRUE(cloud().wait_token_log("POST /token " + kSuitePid + "/" + kSuiteDn + " -> 1003"))
        << cloud().token_log();
    // No token is held.
    EXPECT_EQ(at("AT+QMTTENAUTH?").find("+QMTTENAUTH:"), std::string::npos);

    // CONNECT with the client ID only carries no username: the stand-in refuses it.
    open_broker();
    const std::string client_id = kSuitePid + kSuiteDn;
    EXPECT_EQ(connect(client_id), "+QMTCONN: 0,0,5");
    EXPECT_EQ(sim_->wait_line("+QMTSTAT:", 10s), "+QMTSTAT: 0,4");
    EXPECT_TRUE(cloud().wait_broker_log("refused client '" + client_id + "' username '(none)'"))
        << cloud().broker_log();
    expect_no_secret_in_sim_log();
}

TEST_F(CloudAtE2E, TencentTokenDefaultExpireIsSixtyDaysAndAccepted) {
    // <expire> left out: the module's default, 60 days = 5184000 s on the wire, the longest the
    // stand-in issues (token_max_expire_s).
    at("AT+QMTTENAUTH=" + q(kSuitePid) + "," + q(kSuiteDn) + "," + q(kSuitePid + "@" + kSuiteDn) +
       "," + q(kSuiteSecret));
    const std::string result = sim_->wait_line("+QMTTENAUTH:", 10s);
    ASSERT_EQ(result.rfind("+QMTTENAUTH: 0,\"", 0), 0u) << result << "\n" << cloud().token_log();
    open_broker();
    const std::string client_id = "sim-at-ten-60d";
    EXPECT_EQ(connect(client_id), "+QMTCONN: 0,0,0");
    ASSERT_TRUE(cloud().wait_broker_log("accepted token client '" + client_id + "'"))
        << cloud().broker_log();
    const auto user = logged_username(cloud().broker_log(), client_id);
    ASSERT_TRUE(user);
    const auto expiry = find_group(*user, ";([0-9]+);");
    ASSERT_TRUE(expiry) << *user;
    EXPECT_NEAR(static_cast<double>(std::strtoull(expiry->c_str(), nullptr, 10)),
                static_cast<double>(now_unix() + 60 * 86400), 120.0);
}

TEST_F(CloudAtE2E, TencentTokenUrlArgumentOverridesTheDefault) {
    // A module whose default token URL leads nowhere: result 2 (connection refused) ...
    sim_.reset();
    start("http://127.0.0.1:" + std::to_string(test::free_loopback_port()) + "/token");
    at(tenauth_cmd(kSuiteSecret));
    EXPECT_EQ(sim_->wait_line("+QMTTENAUTH:", 10s), "+QMTTENAUTH: 2");
    // ... and the <url> argument reaches the stand-in.
    at(tenauth_cmd(kSuiteSecret, cloud().token_url()));
    EXPECT_EQ(sim_->wait_line("+QMTTENAUTH:", 10s).rfind("+QMTTENAUTH: 0,\"", 0), 0u);
    open_broker();
    EXPECT_EQ(connect(kSuitePid + kSuiteDn), "+QMTCONN: 0,0,0");
}

}  // namespace
}  // namespace qmtkit::cloud_e2e
