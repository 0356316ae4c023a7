// bc28sim::Network on libmosquitto: one real MQTT 3.1 / 3.1.1 connection per AT+QMTCONN.
//
// Single-threaded with the model: libmosquitto's loop is driven by poll() from the executable's
// event loop (no library thread, so no automatic reconnects). The two blocking jobs, the
// AT+QMTOPEN reachability probe and the AT+QMTTENAUTH token request, run on helper threads and
// hand their results back through `post`.
#pragma once

#include "bc28sim/network.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace bc28sim {

class MosquittoNetwork final : public Network {
  public:
    using Post = std::function<void(std::function<void()>)>;  // run on the model's thread
    using Log = std::function<void(const std::string&)>;

    MosquittoNetwork(Post post, Log log, long token_timeout_ms);
    ~MosquittoNetwork() override;
    MosquittoNetwork(const MosquittoNetwork&) = delete;
    MosquittoNetwork& operator=(const MosquittoNetwork&) = delete;

    // Network
    void attach(NetworkEvents* events) override { ev_ = events; }
    void open(const std::string& host, std::uint16_t port) override;
    void connect(const ConnectRequest& req) override;
    void subscribe(OpId op, const std::vector<std::pair<std::string, int>>& topics) override;
    void unsubscribe(OpId op, const std::vector<std::string>& topics) override;
    void publish(OpId op, int qos, bool retain, const std::string& topic,
                 const std::string& payload) override;
    void disconnect() override;
    void close() override;
    void fetch_token(OpId op, const TokenFetch& req) override;
    // PSM: while off, poll() leaves the socket alone (no PINGREQ, nothing read).
    void radio(bool on) override { radio_on_ = on; }

    // Drive libmosquitto (network I/O, keep-alive). Call often while active() is true; does
    // nothing while the radio is off.
    void poll();
    bool active() const { return conn_ != nullptr; }

  private:
    struct Conn;
    static void on_connect(mosquitto*, void*, int);
    static void on_disconnect(mosquitto*, void*, int);
    static void on_publish(mosquitto*, void*, int);
    static void on_subscribe(mosquitto*, void*, int, int, const int*);
    static void on_unsubscribe(mosquitto*, void*, int);
    static void on_message(mosquitto*, void*, const mosquitto_message*);
    void lost(int stat_code);
    void finished();
    void destroy_conn();
    // Runs `job` on a helper thread. The job holds only its own data (no `this`) and ends soon
    // once `cancelled` is set; what it returns runs on the model's thread with the network,
    // unless the network has gone by then. The destructor cancels and joins every helper.
    using Completion = std::function<void(MosquittoNetwork&)>;
    void spawn(std::function<Completion(const std::atomic<bool>& cancelled)> job);

    Post post_;
    Log log_;
    long token_timeout_ms_;
    NetworkEvents* ev_ = nullptr;
    std::string host_;
    std::uint16_t port_ = 0;
    std::uint32_t open_gen_ = 0;
    std::unique_ptr<Conn> conn_;
    std::uint32_t conn_gen_ = 0;
    bool radio_on_ = true;
    std::shared_ptr<std::atomic<bool>> alive_;
    // Shared with every helper thread: how a finished job reaches the network, if it is still
    // there, and the flag that tells a running job to stop.
    struct Gate {
        std::mutex mu;
        MosquittoNetwork* self = nullptr;  // null once the network is destroyed
        Post post;
        std::atomic<bool> cancelled{false};
    };
    std::shared_ptr<Gate> gate_;
    std::mutex threads_mu_;
    struct Worker {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::vector<Worker> threads_;
};

}  // namespace bc28sim
