// Typed decoders of the module's answers, one per result or information line the client reads:
// each line is parsed once, into the note's enums. ok = false: the line is not of this shape
// (for results: another line with the same prefix, such as a query's answer).
#pragma once

#include <cstdint>
#include <string_view>

#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

// +QMTPUB / +QMTSUB / +QMTUNS: 0,<msgID>,<result>[,<value>] (value: retransmissions for PUB and
// SUB with result 1, granted QoS (or 128) for SUB with result 0). A msgID outside 0..65535 is
// not this reply.
struct PacketReply {
    bool ok = false;
    std::uint16_t msg_id = 0;
    PacketResult result = PacketResult::failed;  // any code but 0 and 1 is a failure
    std::int32_t code = 2;                       // <result> as sent
    std::int32_t value = -1;                     // -1: absent
};
PacketReply decode_packet(std::string_view line, std::string_view prefix);

// +QMTOPEN: 0,<result>
struct OpenReply {
    bool ok = false;
    OpenResult result = OpenResult::failed;  // a <result> the note does not list: failed
    std::int32_t code = -1;                  // <result> as sent
};
OpenReply decode_open(std::string_view line);

// +QMTCONN: 0,<result>[,<ret_code>]
struct ConnReply {
    bool ok = false;
    PacketResult result = PacketResult::failed;  // any code but 0 and 1 is a failure
    std::int32_t code = 2;                       // <result> as sent
    std::int32_t ret = -1;                       // a ConnectReturn when present
};
ConnReply decode_conn(std::string_view line);

// +QMTCLOSE: 0,<result> and +QMTDISC: 0,<result> (0 or -1)
struct CloseReply {
    bool ok = false;
    std::int32_t result = -1;
};
CloseReply decode_close(std::string_view line, std::string_view prefix);

// +QMTTENAUTH: <result_code>[,"<password>"]
struct TenAuthReply {
    bool ok = false;
    TenAuthResult code = TenAuthResult::ok;  // raw outside 0..255: 255 (unknown), never ok
    std::int32_t raw = 0;                    // the code as sent (the note's table may grow)
    bool has_password = false;               // code ok and a password field followed
    std::string_view password;               // valid while the line is
};
TenAuthReply decode_tenauth(std::string_view line);

// Information lines: +CGATT:<state> and +QMTCONN: 0,<state> (AT+QMTCONN?).
struct AttachInfo {
    bool ok = false;
    bool attached = false;
};
AttachInfo decode_attach(std::string_view line);
struct ConnStateInfo {
    bool ok = false;
    std::int32_t state = -1;  // a ConnState when 1..4
};
ConnStateInfo decode_conn_state(std::string_view line);

// URC +QMTSTAT: 0,<err_code>
struct StatUrc {
    bool ok = false;
    StatCode code = StatCode::link_down;  // <err_code> outside 0..255: 255 (reserved)
};
StatUrc decode_stat(std::string_view line);

// What each answer means as a Result: the one mapping of module answers to ClientError.
Result<void> outcome_of(const OpenReply& r);
Result<void> outcome_of(const ConnReply& r);
Result<void> outcome_of(const CloseReply& r);
Result<void> outcome_of(const TenAuthReply& r);
Result<void> outcome_of(const PacketReply& r);

namespace detail {
// "+NAME: a,b[,c...]" into up to `max` integers: how many were read (0: not this line). The
// decoders above are built on it; the bring-up script decodes its steps' lines with it directly.
int read_ints(std::string_view line, std::string_view name, std::int32_t* out, int max);
// The +QMTOPEN reply of a <result> (decode_open and the bring-up's result of AT+QMTOPEN).
OpenReply open_reply(std::int32_t result);
}  // namespace detail

}  // namespace qmtkit::qmt
