// One MQTT client of the module, a connect ID: the per-connection half of the model (its state,
// broker, operations in flight, AT+QMTCFG settings and receive buffer). The BC28 note has connect
// ID 0 only; the BG9x / EC2x modules of --variant take 0-5, each an independent connection on a
// network of its own (docs/emulator.md, "Other Quectel modules"). The UART, the AT parser, the
// faults and the output queue stay the Module's, shared by every link.
#pragma once

#include "bc28sim/network.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace bc28sim {

using Millis = std::int64_t;
using Micros = std::int64_t;

class Module;

// Connect IDs 0..kLinkCount-1 under a variant; the default (bc28) answers only 0.
inline constexpr int kLinkCount = 6;

struct Link {
    enum class State { closed, opening, opened, connecting, connected, disconnecting };
    enum class OpKind { pub, sub, uns, conn };

    struct Op {
        OpKind kind = OpKind::pub;
        int msg_id = 0;
        int qos = 0;
        int retries = 0;
        Micros deadline = 0;
    };

    // AT+QMTCFG items: each connect ID has its own (defaults: the note's).
    struct Cfg {
        int version = 4;
        int keepalive = 120;
        int clean = 1;
        int pkt_timeout = 10;
        int retry_times = 3;
        int timeout_notice = 0;
        Will will;
        bool aliauth = false;
        std::string ali_pk, ali_dn, ali_ds;
        // --variant items
        int recv_mode = 0;  // "recv/mode": 0 URC with the message, 1 buffered
        int recv_len = 0;   // 1: +QMTRECV carries the payload length
        int pdpcid = 1;
        int ssl = 0;
        int ssl_ctx = 0;
    };

    struct Slot {  // recv/mode 1: read with AT+QMTRECV=<id>,<recv_id>
        bool full = false;
        int msg_id = 0;
        std::string topic, payload;
    };

    // Attached to this link's Network: forwards its events to the Module with the link's id, so
    // Network / NetworkEvents keep the signatures they have with one connection.
    class Events final : public NetworkEvents {
      public:
        Module* module = nullptr;
        int id = 0;

        void net_open_result(int result) override;
        void net_connack(int return_code) override;
        void net_suback(OpId op, std::vector<int> granted_qos) override;
        void net_unsuback(OpId op) override;
        void net_published(OpId op) override;
        void net_message(std::uint16_t packet_id, std::string topic, std::string payload, int qos,
                         bool retain) override;
        void net_disconnected() override;
        void net_link_lost(int stat_code) override;
        void net_token(OpId op, int result_code, std::string username,
                       std::string password) override;
    };

    int id = 0;
    Network* net = nullptr;  // id 0: the constructor's; others: Options::network_for, on open
    State state = State::closed;
    std::string host;
    int port = 0;
    Micros open_deadline = 0;
    Micros disc_deadline = 0;
    std::map<OpId, Op> ops;
    std::uint32_t epoch = 0;      // bumped when the MQTT link closes: its stale work is dropped
    bool open_dns = false;        // AT+QMTOPEN named a host: a DNS round trip before the connect
    bool closed_by_disc = false;  // the network was closed by AT+QMTDISC, not opened since
    Cfg cfg;
    std::array<Slot, 5> slots;
    std::set<OpId> pubex_ops;  // publishes whose results are +QMTPUBEX
    Events events;

    int inflight_publishes() const;
    bool msg_id_in_flight(OpKind kind, int msg_id) const;
    // "+QMTOPEN: <id>," and so on: every result line and URC names its connect ID.
    std::string head(const char* name) const {
        return std::string(name) + ": " + std::to_string(id) + ",";
    }
};

}  // namespace bc28sim
