// What the application hands the client and hears back from it: publish options, reports, the
// Listener callbacks, the counters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/common/delegate.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

enum class PayloadForm : std::uint8_t {
    automatic,        // fixed length when the payload holds 0x1A, 0x1B or other non-text bytes
    fixed_length,     // always AT+QMTPUB=...,<len> (1..1024 bytes)
    variable_length,  // always Ctrl+Z-terminated (refused for payloads holding 0x1A / 0x1B)
};

struct PublishOptions {
    std::uint8_t qos = 1;
    bool retain = false;
    PayloadForm form = PayloadForm::automatic;
};

struct PublishReport {
    std::uint16_t msg_id = 0;
    std::uint8_t retransmissions = 0;  // highest count the module reported (timeout_notice = 1)
    std::uint8_t attempts = 1;         // times the client sent it (re-sent after a link drop)
};

struct SubscribeReport {
    std::uint16_t msg_id = 0;
    std::uint8_t granted_qos = 0;
};

struct Backoff {
    Millis initial = 1000;
    Millis max = 60000;
    std::uint8_t jitter_percent = 25;  // each wait is spread by +/- this much (at most 100)
    std::uint32_t seed = 0x9E3779B9u;  // jitter is pseudo-random from this seed: reproducible
};

// Low-level operations, for Listener::on_reply.
enum class Op : std::uint8_t {
    cfg,
    cfg_query,
    cfg_test,
    tenauth,
    tenauth_probe,
    tenauth_query,
    open,
    open_query,
    open_test,
    close,
    close_test,
    connect,
    conn_query,
    conn_test,
    disconnect,
    disc_test,
    subscribe,    // subscribe_many
    unsubscribe,  // unsubscribe_many
    sub_test,
    uns_test,
    pub_test,
};

struct Reply {
    Op op = Op::cfg;
    std::int32_t result = 0;  // the module's <result> / <state> / <result_code>
    std::int32_t value = -1;  // CONNACK ret_code, granted QoS, ... (-1: absent)
    std::string_view text;    // the information line of a query / test, or the token password
};

class Listener {
  public:
    virtual void on_link(LinkState /*state*/) {}
    // A bring-up step failed (OPEN refused, CONNECT refused, no attach, a command timed out);
    // the supervisor backs off and tries again. `during` is the state the step belonged to.
    virtual void on_bringup_error(LinkState /*during*/, const ClientError& /*error*/) {}
    virtual void on_stat(StatCode /*code*/) {}
    virtual void on_published(std::uint32_t /*ticket*/, const Result<PublishReport>& /*r*/) {}
    // Fires for each (re)subscription of a filter: after every reconnect, with the same ticket.
    virtual void on_subscribed(std::uint32_t /*ticket*/, const Result<SubscribeReport>& /*r*/) {}
    virtual void on_unsubscribed(std::uint32_t /*ticket*/, const Result<void>& /*r*/) {}
    // Messages no subscription handler took (filters registered without a handler included).
    virtual void on_message(const Message& /*m*/) {}
    // A message longer than the client can hold arrived and was skipped (ClientStats::dropped).
    virtual void on_message_dropped(const DroppedMessage& /*m*/) {}
    // Completion of a low-level operation (open, connect, queries, ...).
    virtual void on_reply(std::uint32_t /*ticket*/, const Result<Reply>& /*r*/) {}

  protected:
    ~Listener() = default;
};

using MessageHandler = Delegate<void(const Message&)>;

struct ClientStats {
    std::uint32_t published = 0;      // +QMTPUB result 0
    std::uint32_t resent = 0;         // publishes sent again after a link drop / failure
    std::uint32_t backpressure = 0;   // +CME ERROR: 159 answers
    std::uint32_t received = 0;       // +QMTRECV messages
    std::uint32_t malformed = 0;      // +QMTRECV that did not parse
    std::uint32_t dropped = 0;        // +QMTRECV longer than the client can hold (reported)
    std::uint32_t stats = 0;          // +QMTSTAT URCs
    std::uint32_t reboots = 0;        // module restarts seen
    std::uint32_t sessions = 0;       // times a CONNECT was accepted (the link came up)
    std::uint32_t max_in_flight = 0;  // most publishes awaiting their result at once
    std::uint32_t link_checks = 0;    // AT+QMTCONN? after CME 3 / a timeout while online
    std::uint32_t silent_drops = 0;   // links found down without a +QMTSTAT
    std::uint32_t late_results = 0;   // results of an earlier attempt while a re-send was out
};

}  // namespace qmtkit::qmt
