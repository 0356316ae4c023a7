// The network behind the emulated module: what the module asks of it, and what comes back.
// The model calls Network from its own thread only and receives NetworkEvents on that same thread
// (adapters running a library on another thread post the events back first).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bc28sim {

using OpId = std::uint32_t;

struct Will {
    bool enabled = false;
    int qos = 0;
    bool retain = false;
    std::string topic;
    std::string message;
};

// One MQTT CONNECT, with the credentials already final (the model signs aliauth itself).
struct ConnectRequest {
    int version = 4;  // 3 = MQTT 3.1, 4 = MQTT 3.1.1
    int keepalive_s = 120;
    bool clean_session = true;
    Will will;
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;  // secret: never log
};

// AT+QMTTENAUTH: the Tencent IoT Suite token request the module makes.
struct TokenFetch {
    std::string url;
    std::string product_id;
    std::string device_name;
    std::string client_id;
    std::string device_secret;  // secret: never log
    unsigned expire_days = 60;
};

class NetworkEvents {
  public:
    virtual ~NetworkEvents() = default;
    // +QMTOPEN result: -1 failed, 0 opened, 3 PDP activation failed, 4 DNS failure, 5 network down.
    virtual void net_open_result(int result) = 0;
    // CONNACK return code (0 accepted, 1..5 refused).
    virtual void net_connack(int return_code) = 0;
    virtual void net_suback(OpId op, std::vector<int> granted_qos) = 0;
    virtual void net_unsuback(OpId op) = 0;
    // QoS 0 written, PUBACK (QoS 1) or PUBCOMP (QoS 2) received.
    virtual void net_published(OpId op) = 0;
    virtual void net_message(std::uint16_t packet_id, std::string topic, std::string payload,
                             int qos, bool retain) = 0;
    // After disconnect(): DISCONNECT sent and the socket closed.
    virtual void net_disconnected() = 0;
    // The connection ended without being asked to: the +QMTSTAT code to report (1 closed by peer,
    // 2 PINGREQ timeout, 3 CONNECT could not be sent, 4 no CONNACK, 7 link down, ...).
    virtual void net_link_lost(int stat_code) = 0;
    // Token fetched (result 0) or failed (1..6, the +QMTTENAUTH result codes).
    virtual void net_token(OpId op, int result_code, std::string username,
                           std::string password) = 0;
};

class Network {
  public:
    virtual ~Network() = default;
    virtual void attach(NetworkEvents* events) = 0;
    virtual void open(const std::string& host, std::uint16_t port) = 0;
    virtual void connect(const ConnectRequest& req) = 0;
    virtual void subscribe(OpId op, const std::vector<std::pair<std::string, int>>& topics) = 0;
    virtual void unsubscribe(OpId op, const std::vector<std::string>& topics) = 0;
    virtual void publish(OpId op, int qos, bool retain, const std::string& topic,
                         const std::string& payload) = 0;
    // The module's pkt_timeout expired for op and it retransmits (adapters may resend or ignore).
    virtual void retransmit(OpId /*op*/) {}
    // Graceful: DISCONNECT, then close the socket; answers net_disconnected().
    virtual void disconnect() = 0;
    // Abrupt: close the socket without DISCONNECT (the broker publishes the will). No event.
    virtual void close() = 0;
    virtual void fetch_token(OpId op, const TokenFetch& req) = 0;
    // The radio goes off when the module enters PSM and on when it wakes. While it is off the
    // adapter sends nothing (no PINGREQ: keep-alive stops) and delivers no events; what the
    // broker sends meanwhile waits (in the socket or at the broker) until the radio is on again.
    virtual void radio(bool /*on*/) {}
};

}  // namespace bc28sim
