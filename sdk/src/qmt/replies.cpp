#include "qmtkit/qmt/replies.hpp"

#include "qmtkit/at/fields.hpp"
#include "qmtkit/qmt/errors.hpp"

namespace qmtkit::qmt {
namespace {

PacketResult packet_result(std::int32_t code) {
    return code == 0   ? PacketResult::acked
           : code == 1 ? PacketResult::retransmission
                       : PacketResult::failed;
}

// A code into an enum of 8 bits: one that does not fit is `unfit`, not what its low byte names
// (a cast read "+QMTSTAT: 0,257" as 1, "+QMTTENAUTH: 256" as ok).
template <class E>
E narrow_code(std::int32_t code, std::int32_t lo, std::int32_t hi, E unfit) {
    return code >= lo && code <= hi ? static_cast<E>(code) : unfit;
}

}  // namespace

namespace detail {
int read_ints(std::string_view line, std::string_view name, std::int32_t* out, int max) {
    at::FieldReader r(line);
    r.prefix(name);
    int n = 0;
    while (n < max && r.has_more()) {
        std::int32_t v = 0;
        r.integer(v);
        if (!r.ok()) break;
        out[n++] = v;
    }
    return r.ok() || n > 0 ? n : 0;
}

OpenReply open_reply(std::int32_t result) {
    OpenReply r;
    r.ok = true;
    r.code = result;
    // Only the note's -1..5: OpenResult is 8 bits, and 256 cast to it is 0, opened.
    r.result = narrow_code(result, -1, 5, OpenResult::failed);
    return r;
}

}  // namespace detail

using detail::read_ints;

PacketReply decode_packet(std::string_view line, std::string_view prefix) {
    std::int32_t v[4] = {0, 0, 0, -1};
    PacketReply r;
    const int n = read_ints(line, prefix, v, 4);
    // A <msgID> outside the note's 0..65535 answers no packet of ours: cast to 16 bits it would
    // be another packet's (70000 reads as 4464, -1 as 65535).
    if (n < 3 || v[1] < 0 || v[1] > 65535) return r;
    r.ok = true;
    r.msg_id = static_cast<std::uint16_t>(v[1]);
    r.code = v[2];
    r.result = packet_result(v[2]);
    r.value = n >= 4 ? v[3] : -1;
    return r;
}

OpenReply decode_open(std::string_view line) {
    std::int32_t v[2] = {0, 0};
    OpenReply r;
    // Fewer than two integers: the query's +QMTOPEN: 0,"host",port.
    if (read_ints(line, "+QMTOPEN", v, 2) < 2) return r;
    return detail::open_reply(v[1]);
}

ConnReply decode_conn(std::string_view line) {
    std::int32_t v[3] = {0, 0, -1};
    ConnReply r;
    const int n = read_ints(line, "+QMTCONN", v, 3);
    if (n < 2) return r;
    r.ok = true;
    r.code = v[1];
    r.result = packet_result(v[1]);
    r.ret = n >= 3 ? v[2] : -1;
    return r;
}

CloseReply decode_close(std::string_view line, std::string_view prefix) {
    std::int32_t v[2] = {0, 0};
    CloseReply r;
    if (read_ints(line, prefix, v, 2) < 2) return r;
    r.ok = true;
    r.result = v[1];
    return r;
}

TenAuthReply decode_tenauth(std::string_view line) {
    TenAuthReply r;
    at::FieldReader f(line);
    f.prefix("+QMTTENAUTH").integer(r.raw);
    if (!f.ok()) return r;
    r.ok = true;
    r.code = narrow_code(r.raw, 0, 255, static_cast<TenAuthResult>(255));
    if (r.raw == 0) {
        f.string(r.password);
        r.has_password = f.ok();
        if (!r.has_password) r.password = {};
    }
    return r;
}

AttachInfo decode_attach(std::string_view line) {
    std::int32_t v = -1;
    AttachInfo a;
    if (read_ints(line, "+CGATT", &v, 1) < 1) return a;
    a.ok = true;
    a.attached = v == 1;
    return a;
}

ConnStateInfo decode_conn_state(std::string_view line) {
    std::int32_t v[2] = {-1, -1};
    ConnStateInfo c;
    if (read_ints(line, "+QMTCONN", v, 2) < 2) return c;
    c.ok = true;
    c.state = v[1];
    return c;
}

StatUrc decode_stat(std::string_view line) {
    std::int32_t v[2] = {0, 0};
    StatUrc s;
    if (read_ints(line, "+QMTSTAT", v, 2) < 2) return s;
    s.ok = true;
    s.code = narrow_code(v[1], 0, 255, static_cast<StatCode>(255));  // 8..255: reserved
    return s;
}

Result<void> outcome_of(const OpenReply& r) {
    if (r.result == OpenResult::opened) return {};
    return failure(Error::open_failed, r.code);
}

Result<void> outcome_of(const ConnReply& r) {
    // ret_code 0 is "accepted" and -1 "none sent"; any other is a refusal, negative ones too
    // (they read as accepted while the test was ret <= 0).
    if (r.result == PacketResult::acked && (r.ret == 0 || r.ret == -1)) return {};
    if (r.result == PacketResult::acked) return failure(Error::connect_refused, r.ret);
    return failure(Error::connect_failed, r.code);
}

Result<void> outcome_of(const CloseReply& r) {
    if (r.result == 0) return {};
    return failure(Error::close_failed, r.result);
}

Result<void> outcome_of(const TenAuthReply& r) {
    if (r.raw == 0) return {};
    return failure(Error::tenauth_failed, r.raw);
}

Result<void> outcome_of(const PacketReply& r) {
    if (r.result == PacketResult::acked) return {};
    return failure(Error::packet_failed, r.code);
}

}  // namespace qmtkit::qmt
