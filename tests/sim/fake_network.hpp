// A scripted network for the module model: records what the module asked for and answers
// either at once (auto mode) or when the test says so.
#pragma once

#include "bc28sim/network.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bc28sim::test {

class FakeNetwork final : public Network {
  public:
    struct Published {
        OpId op;
        int qos;
        bool retain;
        std::string topic;
        std::string payload;
    };

    bool auto_ack = true;
    int open_result = 0;
    int connack_rc = 0;
    std::vector<int> granted;  // empty: grant what was asked

    NetworkEvents* ev = nullptr;
    std::vector<std::pair<std::string, std::uint16_t>> opens;
    std::vector<ConnectRequest> connects;
    std::vector<std::vector<std::pair<std::string, int>>> subs;
    std::vector<OpId> sub_ops;
    std::vector<OpId> uns_ops;
    std::vector<std::vector<std::string>> unsubs;
    std::vector<Published> pubs;
    std::vector<OpId> retransmits;
    std::vector<TokenFetch> token_fetches;
    std::vector<OpId> token_ops;
    int disconnects = 0;
    int closes = 0;
    bool radio_on = true;
    std::vector<bool> radio_changes;  // every radio(on) call, in order
    struct Incoming {
        std::uint16_t packet_id;
        std::string topic;
        std::string payload;
        int qos;
    };
    std::vector<Incoming> held;  // what the broker sent while the radio was off

    void attach(NetworkEvents* e) override { ev = e; }
    void open(const std::string& host, std::uint16_t port) override {
        opens.emplace_back(host, port);
        if (auto_ack) ev->net_open_result(open_result);
    }
    void connect(const ConnectRequest& req) override {
        connects.push_back(req);
        if (auto_ack) ev->net_connack(connack_rc);
    }
    void subscribe(OpId op, const std::vector<std::pair<std::string, int>>& topics) override {
        subs.push_back(topics);
        sub_ops.push_back(op);
        if (auto_ack) {
            std::vector<int> g = granted;
            if (g.empty()) {
                for (const auto& t : topics) g.push_back(t.second);
            }
            ev->net_suback(op, g);
        }
    }
    void unsubscribe(OpId op, const std::vector<std::string>& topics) override {
        unsubs.push_back(topics);
        uns_ops.push_back(op);
        if (auto_ack) ev->net_unsuback(op);
    }
    void publish(OpId op, int qos, bool retain, const std::string& topic,
                 const std::string& payload) override {
        pubs.push_back({op, qos, retain, topic, payload});
        if (auto_ack) ev->net_published(op);
    }
    void retransmit(OpId op) override { retransmits.push_back(op); }
    void disconnect() override {
        ++disconnects;
        if (auto_ack) ev->net_disconnected();
    }
    void close() override { ++closes; }
    void radio(bool on) override {
        radio_on = on;
        radio_changes.push_back(on);
        if (!on) return;
        auto h = std::move(held);
        held.clear();
        for (auto& m : h) ev->net_message(m.packet_id, m.topic, m.payload, m.qos, false);
    }
    // A message from the broker: delivered now, or when the radio is on again.
    void incoming(std::uint16_t packet_id, const std::string& topic, const std::string& payload,
                  int qos = 0) {
        if (!radio_on) {
            held.push_back({packet_id, topic, payload, qos});
            return;
        }
        ev->net_message(packet_id, topic, payload, qos, false);
    }
    void fetch_token(OpId op, const TokenFetch& req) override {
        token_fetches.push_back(req);
        token_ops.push_back(op);
    }
};

}  // namespace bc28sim::test
