// Everything the broker delivers on a filter, kept in arrival order, for checks over the whole
// history (loss, duplicates, foreign payloads) rather than one message at a time.
//
//   qmtkit::test::MessageLog log(broker.host(), broker.port(), "#");   // subscribed on return
//   ... the code under test publishes ...
//   log.wait([](const auto& all) { return all.size() >= 3; }, 10s);   // false on timeout
//   for (const auto& m : log.snapshot()) { ... m.topic, m.payload ... }
//
// A broker that goes away and comes back (Broker::restart()): libmosquitto's network thread
// reconnects (every second), and the log subscribes again whenever the broker has no session for
// it. For a log that must not miss what the broker held while it was down, use a persistent
// session with a broker that keeps it across the restart (Broker::Options::persistence):
//
//   MessageLog::Options o;
//   o.filter = "soak/#";
//   o.persistent = true;      // clean_session false, fixed client id, QoS 1 subscription
//   MessageLog log(broker.host(), broker.port(), o);
//
// libmosquitto with its own network thread; every member is safe to call from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace qmtkit::test {

class MessageLog {
  public:
    using Clock = std::chrono::steady_clock;
    using Ms = std::chrono::milliseconds;
    struct Entry {
        std::string topic;
        std::string payload;  // raw bytes
        int qos = 0;
        bool retain = false;
        Clock::time_point at;
    };
    using Predicate = std::function<bool(const std::vector<Entry>&)>;
    struct Options {
        std::string filter = "#";
        int qos = 1;
        // clean_session false: the broker queues QoS >= 1 messages for the log while it is away
        // (and keeps them across a restart if it persists).
        bool persistent = false;
        std::string client_id;  // "" = qmtkit-log-<n>
        Ms timeout = Ms(5000);
    };

    // Connects, subscribes `filter` at `qos` and waits for the SUBACK. Throws std::runtime_error
    // if that does not happen within `timeout`.
    MessageLog(const std::string& host, std::uint16_t port, const std::string& filter = "#",
               int qos = 1, Ms timeout = Ms(5000));
    MessageLog(const std::string& host, std::uint16_t port, const Options& opt);
    ~MessageLog();
    MessageLog(const MessageLog&) = delete;
    MessageLog& operator=(const MessageLog&) = delete;

    std::vector<Entry> snapshot() const;
    std::size_t size() const;
    // Waits until `pred` holds over everything received so far; false on timeout.
    bool wait(const Predicate& pred, Ms timeout) const;
    // Waits until a message with this topic and payload has arrived.
    bool wait_for(const std::string& topic, const std::string& payload, Ms timeout) const;
    // CONNACKs accepted so far (1 after the constructor; one more after each reconnect).
    std::size_t connects() const;
    // Waits until the log is connected again after its connects() was `seen`, and subscribed (the
    // SUBACK of its new subscription, when the broker kept no session).
    bool wait_reconnected(std::size_t seen, Ms timeout) const;

  private:
    void shutdown();
    static void on_connect(mosquitto*, void*, int, int flags);
    static void on_disconnect(mosquitto*, void*, int);
    static void on_subscribe(mosquitto*, void*, int, int, const int*);
    static void on_message(mosquitto*, void*, const mosquitto_message*);

    mosquitto* m_ = nullptr;
    Options opt_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    int connack_rc_ = -1;
    bool connected_ = false;
    std::size_t connects_ = 0;
    bool subscribed_ = false;
    std::vector<Entry> entries_;
};

}  // namespace qmtkit::test
