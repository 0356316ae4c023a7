// A plain MQTT client (libmosquitto, its own network thread) for checking what the broker sees.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>

struct mosquitto;
struct mosquitto_message;

namespace qmtkit::test {

class MqttClient {
  public:
    struct Message {
        std::string topic;
        std::string payload;
        int qos = 0;
        bool retain = false;
    };
    struct Options {
        std::string client_id;  // "" = generated
        int version = 4;        // 3 = MQTT 3.1, 4 = 3.1.1
        std::optional<std::string> username, password;
        bool clean_session = true;
        int keepalive = 30;
    };
    using Ms = std::chrono::milliseconds;

    // Connects and waits for the CONNACK; connack_rc() holds its return code (-1: no CONNACK).
    MqttClient(const std::string& host, std::uint16_t port, Options opt, Ms timeout = Ms(5000));
    MqttClient(const std::string& host, std::uint16_t port) : MqttClient(host, port, Options{}) {}
    ~MqttClient();
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    int connack_rc() const { return connack_rc_; }
    bool connected() const { return connack_rc_ == 0; }

    bool subscribe(const std::string& topic, int qos, Ms timeout = Ms(5000));  // waits for SUBACK
    bool publish(const std::string& topic, const std::string& payload, int qos = 0,
                 bool retain = false,
                 Ms timeout = Ms(5000));  // waits until the QoS flow completes
    // The next message matching `pred` (others stay queued); nullopt on timeout.
    std::optional<Message> wait_message(const std::function<bool(const Message&)>& pred,
                                        Ms timeout);
    std::optional<Message> wait_message(const std::string& topic, Ms timeout = Ms(5000));

  private:
    static void on_connect(mosquitto*, void*, int);
    static void on_publish(mosquitto*, void*, int);
    static void on_subscribe(mosquitto*, void*, int, int, const int*);
    static void on_message(mosquitto*, void*, const mosquitto_message*);

    mosquitto* m_ = nullptr;
    std::mutex mu_;
    std::condition_variable cv_;
    int connack_rc_ = -1;
    std::set<int> acked_;
    std::deque<Message> inbox_;
};

}  // namespace qmtkit::test
