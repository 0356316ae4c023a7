// A real mosquitto broker on a free loopback port, for tests. Always killed in the destructor.
//
//   qmtkit::test::Broker b;
//   b.add_plugin("/path/libstandin.so", {{"registry", "/tmp/reg.json"}});  // optional
//   b.start();                 // config written, port picked, waits until it accepts connections
//   ... b.host(), b.port() ...
//   b.stop(); b.start();       // same port again (a broker outage)
//   b.restart();               // the same: stop (SIGTERM, mosquitto saves its database), start
//
// With Options::persistence the broker keeps sessions, subscriptions and queued QoS >= 1
// messages in dir()/mosquitto.db across stop() / start() (written when it stops on SIGTERM; a
// kill() loses what changed since the last autosave).
#pragma once

#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qmtkit::test {

class Broker {
  public:
    struct Options {
        std::string mosquitto;  // "" = $MOSQUITTO or /usr/sbin/mosquitto
        bool allow_anonymous = true;
        std::uint16_t port = 0;                 // 0 = pick a free loopback port
        std::vector<std::string> extra_config;  // more lines for mosquitto.conf
        bool persistence = false;               // persistence true, location dir()
    };

    Broker();
    explicit Broker(Options opt);
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // Loads a mosquitto 2.0 plugin with `plugin_opt_<key> <value>` lines. Call before start().
    Broker& add_plugin(const std::string& so_path,
                       const std::map<std::string, std::string>& options = {});
    Broker& add_config(const std::string& line);

    // Writes the config, starts mosquitto and waits until it accepts TCP connections. Throws
    // (with the broker's log) if it does not come up within `timeout`.
    void start(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    void stop();  // SIGTERM (then SIGKILL); the port is kept for a later start()
    void kill();  // SIGKILL: the broker vanishes without closing anything gracefully
    // stop() then start(timeout) on the same port: a broker restart.
    void restart(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    bool running();

    std::string host() const { return "127.0.0.1"; }
    std::uint16_t port() const { return port_; }
    const std::string& dir() const { return dir_; }
    std::string config_path() const { return dir_ + "/mosquitto.conf"; }
    std::string log_path() const { return dir_ + "/mosquitto.log"; }
    std::string log() const;

  private:
    void write_config() const;

    Options opt_;
    std::string dir_;
    std::uint16_t port_ = 0;
    std::vector<std::string> plugin_lines_;
    std::vector<std::string> extra_;
    std::unique_ptr<Process> proc_;
};

// Waits until a TCP connect to host:port succeeds.
bool wait_for_port(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace qmtkit::test
