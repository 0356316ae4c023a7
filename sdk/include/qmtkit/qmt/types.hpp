// The note's concepts as types: limits, result codes, link states, typed errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/at/cme.hpp"
#include "qmtkit/common/expected.hpp"
#include "qmtkit/common/types.hpp"

namespace qmtkit::qmt {

// Limits of the note (chapter 3.2).
inline constexpr std::size_t kMaxHost = 100;
inline constexpr std::size_t kMaxTopic = 255;
inline constexpr std::size_t kMaxWillMessage = 255;
inline constexpr std::size_t kMaxPayload = 1024;
inline constexpr std::uint16_t kMaxKeepalive = 3600;
inline constexpr std::uint8_t kMinPktTimeout = 1, kMaxPktTimeout = 60;
inline constexpr std::uint8_t kMaxRetryTimes = 10;
inline constexpr std::uint8_t kMaxExpireDays = 60;
inline constexpr std::size_t kFlightWindow = 5;  // "飞行窗口的最大数量(5)"

enum class Error : std::uint8_t {
    // Refused before a byte is sent.
    forbidden_char,  // '"', CR, LF or NUL in a string: it would break the AT line
    host_empty,
    host_too_long,  // > 100 bytes
    topic_empty,
    topic_too_long,      // > 255 bytes
    topic_has_wildcard,  // '+' or '#' in a topic to publish to
    bad_topic_filter,    // '#' not last, or a wildcard sharing a level
    will_topic_empty,
    will_topic_too_long,
    will_message_too_long,       // > 255 bytes
    payload_empty,               // fixed-length form asked for an empty payload (len 1..1024)
    payload_too_long,            // > 1024 bytes, or more than the outbox could ever hold
    payload_needs_fixed_length,  // variable length asked for a payload holding 0x1A / 0x1B
    keepalive_out_of_range,      // 0..3600 s
    pkt_timeout_out_of_range,    // 1..60 s
    retry_times_out_of_range,    // 0..10
    qos_out_of_range,            // 0..2
    msg_id_out_of_range,         // 1..65535 (0 only, and always, for QoS 0 publishes)
    version_out_of_range,        // 3 (MQTT 3.1) or 4 (MQTT 3.1.1)
    expire_out_of_range,         // 1..60 days
    client_id_empty,
    field_empty,     // a required credential field is empty
    field_too_long,  // longer than the client's credential capacity
    no_topics,
    too_many_topics,
    password_without_username,
    not_utf8,  // a topic, filter, client ID or user name that is not UTF-8 (MQTT 3.1.1, 1.5.3)
    // Local conditions.
    queue_full,   // the bounded publish / subscription / command queue is full
    not_running,  // the supervisor is stopped
    // What the module answered.
    module_error,          // ERROR
    cme,                   // +CME ERROR: see ClientError::cme
    timeout,               // no final result in time
    result_timeout,        // OK, then no result line in time
    aborted,               // module rebooted or link reset before the command completed
    open_failed,           // +QMTOPEN result != 0 (ClientError::value)
    connect_failed,        // +QMTCONN result 2: CONNECT not sent
    connect_refused,       // CONNACK return code != 0 (ClientError::value)
    packet_failed,         // +QMTSUB/UNS/PUB result 2
    subscription_refused,  // SUBACK 128
    tenauth_failed,        // +QMTTENAUTH result != 0 (ClientError::value)
    close_failed,          // +QMTCLOSE / +QMTDISC result -1
    link_down,             // AT+QMTCONN? reports no connection (ClientError::value: its state)
    malformed_reply,       // a reply line that does not parse
    store_failed,          // the OutboxStore could not journal the message (StoreError::io)
    not_built,  // configure(): aliauth / tenauth compiled out (QMTKIT_ALIAUTH / QMTKIT_TENAUTH 0)
};

std::string_view to_string(Error e);

struct ClientError {
    Error code = Error::module_error;
    at::Cme cme = at::Cme::none;  // with Error::cme
    std::int32_t value = 0;       // the module's result or return code, where there is one
};

template <class T>
using Result = Expected<T, ClientError>;

// +QMTOPEN <result>.
enum class OpenResult : std::int8_t {
    failed = -1,
    opened = 0,
    wrong_parameter = 1,
    identifier_occupied = 2,
    pdp_activation_failed = 3,
    dns_failed = 4,
    network_disconnected = 5,
};
// CONNACK return code in +QMTCONN: 0,<result>,<ret_code>.
enum class ConnectReturn : std::uint8_t {
    accepted = 0,
    bad_protocol_version = 1,
    identifier_rejected = 2,
    server_unavailable = 3,
    bad_credentials = 4,
    not_authorized = 5,
};
// <result> of +QMTCONN / +QMTSUB / +QMTUNS / +QMTPUB.
enum class PacketResult : std::uint8_t { acked = 0, retransmission = 1, failed = 2 };
// <state> of AT+QMTCONN?.
enum class ConnState : std::uint8_t {
    initializing = 1,
    connecting = 2,
    connected = 3,
    disconnecting = 4
};
// +QMTTENAUTH <result_code>.
enum class TenAuthResult : std::uint8_t {
    ok = 0,
    dns_failed = 1,
    socket_init_failed = 2,
    http_packet_error = 3,
    socket_send_error = 4,
    http_parse_error = 5,
    timeout = 6,
};

// +QMTSTAT <err_code> (chapter 4, table 3) and what the note says to do about it.
enum class StatCode : std::uint8_t {
    closed_by_peer = 1,
    ping_failed = 2,
    connect_failed = 3,
    connack_failed = 4,
    disconnected = 5,  // after our DISCONNECT: normal
    send_failed = 6,
    link_down = 7,
};
enum class StatAction : std::uint8_t {
    reopen,                           // 1: AT+QMTOPEN again
    reactivate_pdp_and_reopen,        // 2: check attach, then reopen
    check_credentials_and_reconnect,  // 3, 4
    none,                             // 5: normal
    check_data_and_reopen,            // 6
    wait_for_link,                    // 7, and 8..255 (reserved)
};
StatAction recommended_action(StatCode c);
std::string_view to_string(StatCode c);
std::string_view to_string(TenAuthResult r);  // the note's wording: "DNS failure", ...

// Where the supervisor is. Applications see these through Listener::on_link.
enum class LinkState : std::uint8_t {
    stopped,
    syncing,      // AT until OK
    configuring,  // ATE0, CMEE, QMTCFG ...
    attaching,    // waiting for +CGATT:1
    authorizing,  // AT+QMTTENAUTH token flow
    opening,      // AT+QMTOPEN
    connecting,   // AT+QMTCONN
    subscribing,  // (re)subscribing every registered filter
    online,
    backing_off,    // waiting before the next attempt
    disconnecting,  // stop(): DISC + CLOSE
};
std::string_view to_string(LinkState s);

struct Message {
    std::uint16_t msg_id = 0;
    std::string_view topic;
    ByteView payload;
};

// A message the module delivered that is longer than the client can hold (its +QMTRECV did not
// fit the engine's line buffer): never silently lost, always reported.
struct DroppedMessage {
    std::uint16_t msg_id = 0;
    std::string_view topic;  // empty when even the header did not fit
    std::size_t size = 0;    // payload bytes as the module sent them (quotes not counted)
};

// MQTT topic-filter matching with '+' and '#'.
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace qmtkit::qmt
