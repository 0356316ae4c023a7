// The cloud stand-in for tests: a real mosquitto (Broker) with libqmtkit_cloud_auth.so and a JSON
// device registry, plus qmtkit-token-server (the IoT Suite /token endpoint) on a free loopback
// port. Everything is stopped in the destructors. Readiness is awaited on events (a TCP connect
// succeeding, the token server's first stdout line), log lines with inotify — never by sleeping.
//
//   qmtkit::test::StandinRegistry reg;
//   reg.aliyun.push_back({"a1PK", "dev", "secret"});
//   reg.plain.push_back({"observer", "observer-pass"});
//   qmtkit::test::CloudStandin cloud(reg);          // or CloudStandin(raw_json_text)
//   auto obs = cloud.observer();                     // MqttClient logged in as plain[0]
//   SimProcess sim({.args = {"--token-url", cloud.token_url()}});
//   ... cloud.wait_broker_log("accepted aliyun client") ...
//
// Plugin and token server paths: Options, else $QMTKIT_CLOUD_AUTH_PLUGIN / $QMTKIT_TOKEN_SERVER,
// else this build's targets (when the harness was configured with the stand-in).
#pragma once

#include "broker.hpp"
#include "mqtt_client.hpp"
#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qmtkit::test {

// A device registry (docs/cloud-standin.md, "Registry format"), written as JSON by to_json().
struct StandinRegistry {
    struct Aliyun {
        std::string product_key, device_name, device_secret;
    };
    struct Tencent {
        std::string product_id, device_name, device_psk;  // PSK in base64
    };
    struct Suite {
        std::string product_id, device_name, device_secret;
    };
    struct Plain {
        std::string username, password;
    };
    std::vector<Aliyun> aliyun;
    std::vector<Tencent> tencent;
    std::vector<Suite> tencent_suite;
    std::vector<Plain> plain;
    std::string token_key;                 // "" = left out
    std::optional<long> token_max_skew_s;  // nullopt = the stand-in's default
    std::optional<long> token_max_expire_s;

    std::string to_json() const;
};

// JSON string literal (quotes included) with the escapes JSON needs.
std::string json_quote(const std::string& s);

// Waits until the file at `path` contains `needle` (inotify on its directory; the file may not
// exist yet). True when found, false after `timeout`.
bool wait_file_contains(const std::string& path, const std::string& needle,
                        std::chrono::milliseconds timeout);
std::string read_file(const std::string& path);

// qmtkit-token-server on a free loopback port.
class TokenServer {
  public:
    struct Options {
        std::string exe;                // "" = $QMTKIT_TOKEN_SERVER, else this build's
        std::string registry_path;      // required
        std::string dir;                // where its stderr log goes; "" = own temp dir
        std::vector<std::string> args;  // more options
    };
    using Ms = std::chrono::milliseconds;

    explicit TokenServer(Options opt, Ms timeout = Ms(10000));
    ~TokenServer();
    TokenServer(const TokenServer&) = delete;
    TokenServer& operator=(const TokenServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
    std::string log_path() const { return dir_ + "/token-server.log"; }
    std::string log() const { return read_file(log_path()); }
    bool wait_log(const std::string& needle, Ms timeout = Ms(5000)) const {
        return wait_file_contains(log_path(), needle, timeout);
    }
    Process& process() { return *proc_; }

  private:
    std::string dir_;
    bool own_dir_ = false;
    std::uint16_t port_ = 0;
    std::unique_ptr<Process> proc_;
};

// mosquitto + plugin + registry, and (optionally) the token server on the same registry.
class CloudStandin {
  public:
    struct Options {
        std::string plugin;        // "" = $QMTKIT_CLOUD_AUTH_PLUGIN, else this build's
        std::string token_server;  // "" = $QMTKIT_TOKEN_SERVER, else this build's
        bool start_token_server = true;
        Broker::Options broker;  // allow_anonymous is forced off: the plugin decides
    };
    using Ms = std::chrono::milliseconds;

    explicit CloudStandin(const StandinRegistry& registry);
    CloudStandin(const StandinRegistry& registry, Options opt);
    // A registry as JSON text (comments allowed, as the stand-in accepts).
    explicit CloudStandin(const std::string& registry_json);
    CloudStandin(const std::string& registry_json, Options opt);
    ~CloudStandin();
    CloudStandin(const CloudStandin&) = delete;
    CloudStandin& operator=(const CloudStandin&) = delete;

    Broker& broker() { return *broker_; }
    std::string host() const { return "127.0.0.1"; }
    std::uint16_t mqtt_port() const { return broker_->port(); }
    // Throws when started without the token server.
    std::string token_url() const;
    TokenServer& token_server();
    const std::string& registry_path() const { return registry_path_; }
    const std::string& dir() const { return dir_; }

    std::string broker_log() const { return broker_->log(); }
    std::string token_log() const { return token_ ? token_->log() : std::string(); }
    bool wait_broker_log(const std::string& needle, Ms timeout = Ms(5000)) const {
        return wait_file_contains(broker_->log_path(), needle, timeout);
    }
    bool wait_token_log(const std::string& needle, Ms timeout = Ms(5000)) const {
        return token_ && token_->wait_log(needle, timeout);
    }

    // A libmosquitto client logged in with username / password (nullopt: none sent); its
    // connack_rc() tells how the stand-in answered.
    std::unique_ptr<MqttClient> client(const std::string& client_id,
                                       const std::optional<std::string>& username,
                                       const std::optional<std::string>& password,
                                       Ms timeout = Ms(5000)) const;
    // A client logged in as the registry's first "plain" user; throws if refused.
    std::unique_ptr<MqttClient> observer(const std::string& client_id = "") const;

    static std::string default_plugin();
    static std::string default_token_server();

  private:
    void start(const std::string& registry_json, Options opt);

    std::string dir_;
    std::string registry_path_;
    std::optional<StandinRegistry::Plain> observer_;
    std::unique_ptr<TokenServer> token_;
    std::unique_ptr<Broker> broker_;
};

}  // namespace qmtkit::test
