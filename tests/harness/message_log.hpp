// Everything the broker delivers on a filter, kept in arrival order, for checks over the whole
// history (loss, duplicates, foreign payloads) rather than one message at a time.
//
//   qmtkit::test::MessageLog log(broker.host(), broker.port(), "#");   // subscribed on return
//   ... the code under test publishes ...
//   log.wait([](const auto& all) { return all.size() >= 3; }, 10s);   // false on timeout
//   for (const auto& m : log.snapshot()) { ... m.topic, m.payload ... }
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

    // Connects, subscribes `filter` at `qos` and waits for the SUBACK. Throws std::runtime_error
    // if that does not happen within `timeout`.
    MessageLog(const std::string& host, std::uint16_t port, const std::string& filter = "#",
               int qos = 1, Ms timeout = Ms(5000));
    ~MessageLog();
    MessageLog(const MessageLog&) = delete;
    MessageLog& operator=(const MessageLog&) = delete;

    std::vector<Entry> snapshot() const;
    std::size_t size() const;
    // Waits until `pred` holds over everything received so far; false on timeout.
    bool wait(const Predicate& pred, Ms timeout) const;
    // Waits until a message with this topic and payload has arrived.
    bool wait_for(const std::string& topic, const std::string& payload, Ms timeout) const;

  private:
    void shutdown();
    static void on_connect(mosquitto*, void*, int);
    static void on_subscribe(mosquitto*, void*, int, int, const int*);
    static void on_message(mosquitto*, void*, const mosquitto_message*);

    mosquitto* m_ = nullptr;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    int connack_rc_ = -1;
    bool subscribed_ = false;
    std::vector<Entry> entries_;
};

}  // namespace qmtkit::test
