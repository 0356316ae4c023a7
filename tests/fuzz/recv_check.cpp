// Properties of the SDK's pure decoders of module output, checked against an oracle written
// from the note (chapter 4's result codes, QMT-AT-REFERENCE.md) rather than from the code:
//
//   R1 recv-consumed     every parse_recv() answer consumes no more than it was given; a complete
//                        one takes the whole buffer at line_end and idle, all but the offered
//                        byte at next_byte; a malformed one ends at a line end (or, idle, at the
//                        end) and is never empty
//   R2 recv-span         a message's topic and payload lie inside the consumed bytes, topic first,
//                        the topic with no CR or LF
//   R3 recv-header       msgID and topic are the ones written in the header
//   R4 recv-round-trip   the message written again as the module writes it parses back to the
//                        same message, consuming exactly that line
//   R5 recv-standalone   the message is the one its own consumed bytes give at idle: what follows
//                        a URC decides where it ends, never what it holds
//   R6 recv-overflow     parse_recv_overflow() on a line's head agrees with parse_recv() on it
//                        (header, msgID, topic; the payload's size when the head is the line)
//   R7 reply-fields      each typed reply (replies.hpp) holds the integers the line holds; a line
//                        of fewer fields is not that reply
//   R8 reply-outcome     outcome_of() succeeds exactly when the note's code means success: an
//                        out-of-range code never reads as a valid one
//   R9 reply-round-trip  a decoded reply written again canonically decodes to the same reply
//   R10 bringup-agrees   the bring-up's decode_result() / read_info() (supervisor_script.hpp)
//                        answer as the public decoders do for the same line
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "decoder_checks.hpp"
#include "qmtkit/common/build.hpp"
#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/recv.hpp"
#include "qmtkit/qmt/replies.hpp"
#include "supervisor_script.hpp"
#include "verdict.hpp"

namespace qmtkit::fuzz {
namespace {

using qmt::PayloadQuoting;
using qmt::RecvParse;
using Status = RecvParse::Status;
using at::ClaimPhase;

const char* phase_name(ClaimPhase p) {
    return p == ClaimPhase::line_end    ? "line_end"
           : p == ClaimPhase::next_byte ? "next_byte"
                                        : "idle";
}

const char* quoting_name(PayloadQuoting q) {
    return q == PayloadQuoting::bare ? "bare" : q == PayloadQuoting::quoted ? "quoted" : "detect";
}

std::string num(long long v) {
    return std::to_string(v);
}

// The first broken property; later ones are usually its consequences. Through Checker, so
// QMTKIT_FUZZ_IGNORE="R7,R8" looks past known ones in a long run.
class Report {
  public:
    void fail(const char* id, const std::string& what) { checker_.fail(id, what); }
    bool failed() const { return checker_.failed(); }
    std::string take() {
        const Verdict v = checker_.take();
        return v.ok ? std::string() : v.invariant + ": " + v.detail;
    }

  private:
    Checker checker_{false};
};

bool inside(const void* p, std::size_t n, std::string_view buf, std::size_t limit) {
    if (n == 0) return true;
    const auto* b = reinterpret_cast<const char*>(p);
    return b >= buf.data() && b + n <= buf.data() + limit;
}

// ------------------------------------------------------------------ +QMTRECV

struct Message {
    int msg_id = -1;
    std::string topic;
    std::string payload;
    bool operator==(const Message& o) const {
        return msg_id == o.msg_id && topic == o.topic && payload == o.payload;
    }
};

std::string describe(const Message& m) {
    return "msgID " + num(m.msg_id) + " topic " + printable(m.topic, 60) + " payload " +
           printable(m.payload, 60);
}

struct Outcome {
    Status status = Status::need_more;
    std::size_t consumed = 0;
    ClaimPhase phase = ClaimPhase::idle;
    Message message;
};

// The header as the note writes it: "+QMTRECV:" spaces "0," spaces <msgID> "," spaces '"'; the
// topic then runs to the first '",'. Only asked about a header parse_recv() accepted.
bool oracle_header(std::string_view s, long long& id, std::string_view& topic) {
    constexpr std::string_view kPrefix = "+QMTRECV:";
    if (s.substr(0, kPrefix.size()) != kPrefix) return false;
    std::size_t i = kPrefix.size();
    while (i < s.size() && s[i] == ' ') ++i;
    if (s.substr(i, 2) != "0,") return false;
    i += 2;
    while (i < s.size() && s[i] == ' ') ++i;
    id = 0;
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && id <= 1000000)
        id = id * 10 + (s[i++] - '0');
    if (i == from || i >= s.size() || s[i] != ',') return false;
    ++i;
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size() || s[i] != '"') return false;
    const std::size_t close = s.find("\",", i + 1);
    if (close == std::string_view::npos) return false;
    topic = s.substr(i + 1, close - i - 1);
    return true;
}

class RecvDriver {
  public:
    RecvDriver(PayloadQuoting q, Report& rep) : q_(q), rep_(rep) {}

    // One call, as the engine makes it, with the per-call properties R1-R3 and R5.
    RecvParse call(std::string_view buf, ClaimPhase phase) {
        const RecvParse r = qmt::parse_recv(ByteView(buf), phase, q_);
        // Built only for a report: this runs for every LF of every input.
        const auto where = [&] {
            return std::string(" (") + phase_name(phase) + ", " + quoting_name(q_) + ", " +
                   num(static_cast<long long>(buf.size())) + " bytes " + printable(buf, 80) + ")";
        };
        if (r.consumed > buf.size())
            rep_.fail("R1 recv-consumed", "consumed " + num(static_cast<long long>(r.consumed)) +
                                              " of " + num(static_cast<long long>(buf.size())) +
                                              where());
        if (r.status == Status::malformed) {
            const bool at_eol = r.consumed > 0 && buf[r.consumed - 1] == '\n';
            if (!at_eol && !(phase == ClaimPhase::idle && r.consumed == buf.size()))
                rep_.fail("R1 recv-consumed",
                          "a malformed URC that does not end at a line end" + where());
            if (r.consumed == 0)
                rep_.fail("R1 recv-consumed", "a malformed URC of no bytes" + where());
        }
        if (r.status != Status::complete) return r;
        const std::size_t want_min = phase == ClaimPhase::next_byte ? buf.size() - 1 : buf.size();
        if (r.consumed < want_min)
            rep_.fail("R1 recv-consumed", "a complete URC left " +
                                              num(static_cast<long long>(buf.size() - r.consumed)) +
                                              " bytes" + where());
        const qmt::RecvMessage& m = r.message;
        if (!inside(m.topic.data(), m.topic.size(), buf, r.consumed) ||
            !inside(m.payload.data, m.payload.size, buf, r.consumed))
            rep_.fail("R2 recv-span", "topic or payload outside the consumed bytes" + where());
        if (m.topic.find_first_of("\r\n") != std::string_view::npos)
            rep_.fail("R2 recv-span", "a topic holding CR or LF" + where());
        if (!m.topic.empty() && m.payload.size > 0 &&
            reinterpret_cast<const char*>(m.payload.data) < m.topic.data() + m.topic.size())
            rep_.fail("R2 recv-span", "the payload starts before the topic ends" + where());
        long long id = -1;
        std::string_view topic;
        if (!oracle_header(buf, id, topic) || id != m.msg_id || topic != m.topic ||
            (!topic.empty() && topic.data() != m.topic.data()))
            rep_.fail("R3 recv-header", "parsed msgID " + num(m.msg_id) + " topic " +
                                            printable(m.topic, 60) + ", the header says msgID " +
                                            num(id) + " topic " + printable(topic, 60) + where());
        // R5: the URC's own bytes, offered at idle, give the same message.
        const std::string_view own = buf.substr(0, r.consumed);
        const RecvParse alone = qmt::parse_recv(ByteView(own), ClaimPhase::idle, q_);
        if (alone.status != Status::complete || alone.message.msg_id != m.msg_id ||
            alone.message.topic != m.topic ||
            alone.message.payload.as_text() != m.payload.as_text())
            rep_.fail("R5 recv-standalone",
                      "its consumed bytes alone give " +
                          std::string(alone.status == Status::complete ? "another message"
                                                                       : "no message") +
                          where());
        return r;
    }

    // The stream as the engine offers it to a claim: the buffer so far at each LF (line_end), at
    // the byte after an LF (next_byte; line_end again if that byte is an LF), and at idle once
    // the stream is over.
    Outcome drive(std::string_view stream) {
        Outcome o;
        bool after_lf = false;
        for (std::size_t n = 1; n <= stream.size() && !rep_.failed(); ++n) {
            const std::string_view buf = stream.substr(0, n);
            const char b = buf.back();
            RecvParse r;
            ClaimPhase phase = ClaimPhase::line_end;
            if (after_lf) {
                after_lf = false;
                phase = ClaimPhase::next_byte;
                r = call(buf, phase);
                if (r.status == Status::need_more && b == '\n') {
                    after_lf = true;
                    phase = ClaimPhase::line_end;
                    r = call(buf, phase);
                }
            } else if (b == '\n') {
                after_lf = true;
                r = call(buf, phase);
            } else {
                continue;
            }
            if (r.status != Status::need_more) return outcome(r, phase);
        }
        return outcome(call(stream, ClaimPhase::idle), ClaimPhase::idle);
    }

  private:
    static Outcome outcome(const RecvParse& r, ClaimPhase phase) {
        Outcome o;
        o.status = r.status;
        o.consumed = r.consumed;
        o.phase = phase;
        if (r.status == Status::complete) {
            o.message.msg_id = r.message.msg_id;
            o.message.topic = std::string(r.message.topic);
            o.message.payload = std::string(r.message.payload.as_text());
        }
        return o;
    }

    PayloadQuoting q_;
    Report& rep_;
};

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

// R4: the message as the module writes it (recv.hpp's framing), followed by the next response.
// Quoted (quoted and detect mode) unless the payload holds what ends a quoted payload early
// ('"' before a line end) or the framing of the next response (a line end followed by CR or LF);
// bare unless it holds that framing or ends in LF. Those are the header's documented limits.
void round_trip(const Message& m, PayloadQuoting q, Report& rep) {
    const std::string& p = m.payload;
    if (contains(p, "\n\r") || contains(p, "\n\n")) return;
    std::string line = "+QMTRECV: 0," + num(m.msg_id) + ",\"" + m.topic + "\",";
    if (q == PayloadQuoting::bare) {
        if (!p.empty() && p.back() == '\n') return;
        line += p;
    } else {
        if (contains(p, "\"\n") || contains(p, "\"\r\n")) return;
        line += "\"" + p + "\"";
    }
    line += "\r\n";
    Report inner;
    const Outcome o = RecvDriver(q, inner).drive(line + "\r\nOK\r\n");
    if (inner.failed()) return rep.fail("R4 recv-round-trip", "its own line broke " + inner.take());
    if (o.status != Status::complete || o.consumed != line.size() || !(o.message == m))
        rep.fail("R4 recv-round-trip",
                 describe(m) + " written as " + printable(line, 120) + " (" + quoting_name(q) +
                     ") parses to " +
                     (o.status == Status::complete ? describe(o.message) : "no message") +
                     ", consuming " + num(static_cast<long long>(o.consumed)) + " of " +
                     num(static_cast<long long>(line.size())));
}

// R6: the engine keeps the first `cap` bytes of a line too long for it and counts the line up to
// its first CR or LF.
void check_overflow(std::string_view line, std::size_t cap, PayloadQuoting q, Report& rep) {
    const std::size_t total = std::min(line.find_first_of("\r\n"), line.size());
    const std::string_view head = line.substr(0, std::min(total, cap));
    const qmt::RecvOverflow o = qmt::parse_recv_overflow(ByteView(head), total, q);
    const RecvParse r = qmt::parse_recv(ByteView(head), ClaimPhase::idle, q);
    const auto where = [&] {
        return std::string(" (") + quoting_name(q) + ", head " +
               num(static_cast<long long>(head.size())) + " of " +
               num(static_cast<long long>(total)) + ": " + printable(head, 80) + ")";
    };
    if (o.header_ok != (r.status == Status::complete))
        return rep.fail("R6 recv-overflow", std::string("header_ok ") + (o.header_ok ? "1" : "0") +
                                                " but parse_recv says the header is " +
                                                (r.status == Status::complete ? "good" : "bad") +
                                                where());
    if (o.payload_size > total)
        return rep.fail("R6 recv-overflow", "a payload larger than the line" + where());
    if (!o.header_ok) {
        if (!o.topic.empty()) rep.fail("R6 recv-overflow", "no header, yet a topic" + where());
        return;
    }
    if (!inside(o.topic.data(), o.topic.size(), head, head.size()) ||
        o.msg_id != r.message.msg_id || o.topic != r.message.topic)
        return rep.fail("R6 recv-overflow", "msgID or topic differ from parse_recv's" + where());
    if (head.size() != total) return;
    // The whole line is there: the size is that of the payload parse_recv finds in it, as long
    // as a payload that opens with a quote also closes with one (the overflow head cannot see
    // the close; it assumes it).
    long long id = 0;
    std::string_view topic;
    if (!oracle_header(head, id, topic)) return rep.fail("R3 recv-header", "no header" + where());
    const std::string_view after =
        head.substr(static_cast<std::size_t>(topic.data() - head.data()) + topic.size() + 2);
    const std::size_t sp = std::min(after.find_first_not_of(' '), after.size());
    const std::string_view rest = after.substr(sp);
    const bool half_quoted = q != PayloadQuoting::bare && !rest.empty() && rest.front() == '"' &&
                             (rest.size() < 2 || rest.back() != '"');
    if (!half_quoted && o.payload_size != r.message.payload.size)
        rep.fail("R6 recv-overflow", "payload_size " + num(static_cast<long long>(o.payload_size)) +
                                         ", the payload is " +
                                         num(static_cast<long long>(r.message.payload.size)) +
                                         " bytes" + where());
}

// ------------------------------------------------------------------ result lines

// The line's fields after "<name>:" and any spaces, as the note writes them: comma separated,
// integers an optional sign and decimal digits. `ints` counts the leading fields that are
// 32-bit integers, as a reader of "<name>: a,b,c" stops at the first that is not.
struct Fields {
    bool named = false;
    std::vector<std::string_view> raw;
    std::vector<long long> ints;
};

Fields fields_of(std::string_view line, std::string_view name) {
    Fields f;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
        line[name.size()] != ':')
        return f;
    f.named = true;
    std::string_view rest = line.substr(name.size() + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) return f;
    for (;;) {
        const std::size_t comma = rest.find(',');
        f.raw.push_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    for (std::string_view t : f.raw) {
        std::size_t i = t.size() > 0 && (t[0] == '+' || t[0] == '-') ? 1 : 0;
        if (i == t.size()) break;
        unsigned long long mag = 0;
        bool ok = true;
        for (std::size_t k = i; k < t.size() && ok; ++k) {
            if (t[k] < '0' || t[k] > '9')
                ok = false;
            else if ((mag = mag * 10 + static_cast<unsigned>(t[k] - '0')) > 0xFFFFFFFFull)
                ok = false;
        }
        const long long v =
            t[0] == '-' ? -static_cast<long long>(mag) : static_cast<long long>(mag);
        if (!ok || v < INT32_MIN || v > INT32_MAX) break;
        f.ints.push_back(v);
    }
    return f;
}

std::string outcome_text(const qmt::Result<void>& r) {
    if (r) return "success";
    return std::string(qmt::to_string(r.error().code)) + " (" + num(r.error().value) + ")";
}

bool same_outcome(const qmt::Result<void>& a, const qmt::Result<void>& b) {
    if (a.has_value() != b.has_value()) return false;
    return a.has_value() ||
           (a.error().code == b.error().code && a.error().value == b.error().value);
}

// The action chapter 4's table gives each +QMTSTAT code; 8 and up are reserved and, like
// anything the table does not name, mean "wait for the link" (types.hpp).
qmt::StatAction note_action(long long code) {
    using A = qmt::StatAction;
    switch (code) {
        case 1:
            return A::reopen;
        case 2:
            return A::reactivate_pdp_and_reopen;
        case 3:
        case 4:
            return A::check_credentials_and_reconnect;
        case 5:
            return A::none;
        case 6:
            return A::check_data_and_reopen;
        default:
            return A::wait_for_link;
    }
}

class LineChecks {
  public:
    LineChecks(std::string_view line, Report& rep) : line_(line), rep_(rep) {}

    void run() {
        for (const char* p : {"+QMTPUB", "+QMTSUB", "+QMTUNS"}) packet(p);
        open();
        conn();
        for (const char* p : {"+QMTCLOSE", "+QMTDISC"}) close(p);
        stat();
        tenauth();
        info();
    }

  private:
    void fail(const char* id, const std::string& what) {
        rep_.fail(id, what + " (line " + printable(line_, 100) + ")");
    }

    void packet(const char* name) {
        const qmt::PacketReply r = qmt::decode_packet(line_, name);
        const Fields f = fields_of(line_, name);
        // A reply of three integers or more, its <msgID> one the note allows.
        const bool reply = f.ints.size() >= 3 && f.ints[1] >= 0 && f.ints[1] <= 65535;
        if (r.ok != reply)
            return fail("R7 reply-fields",
                        std::string(name) + " ok " + num(r.ok) + " with " +
                            num(static_cast<long long>(f.ints.size())) + " integer fields" +
                            (f.ints.size() >= 2 ? ", <msgID> " + num(f.ints[1]) : "") +
                            " (the note: 0..65535)");
        if (!r.ok) return;
        if (r.msg_id != f.ints[1])
            return fail("R7 reply-fields", std::string(name) + " msgID " + num(r.msg_id) +
                                               " from <msgID> " + num(f.ints[1]) +
                                               " (the note: 0..65535)");
        const long long value = f.ints.size() >= 4 ? f.ints[3] : -1;
        if (r.code != f.ints[2] || r.value != value)
            return fail("R7 reply-fields",
                        std::string(name) + " result/value " + num(r.code) + "/" + num(r.value));
        const auto want = f.ints[2] == 0   ? qmt::PacketResult::acked
                          : f.ints[2] == 1 ? qmt::PacketResult::retransmission
                                           : qmt::PacketResult::failed;
        if (r.result != want)
            return fail("R7 reply-fields", std::string(name) + " result does not follow <result>");
        if (qmt::outcome_of(r).has_value() != (f.ints[2] == 0))
            return fail("R8 reply-outcome",
                        std::string(name) + " outcome " + outcome_text(qmt::outcome_of(r)));
        std::string again = std::string(name) + ": 0," + num(r.msg_id) + "," + num(r.code);
        if (r.value != -1) again += "," + num(r.value);
        const qmt::PacketReply b = qmt::decode_packet(again, name);
        if (!b.ok || b.msg_id != r.msg_id || b.code != r.code || b.value != r.value ||
            b.result != r.result)
            fail("R9 reply-round-trip", std::string(name) + " written again as " + again);
    }

    void open() {
        const qmt::OpenReply r = qmt::decode_open(line_);
        const Fields f = fields_of(line_, "+QMTOPEN");
        if (r.ok != (f.ints.size() >= 2))
            return fail("R7 reply-fields", "+QMTOPEN ok " + num(r.ok));
        bring_up(qmt::detail::Reply::open, r.ok, r.ok ? qmt::outcome_of(r) : qmt::Result<void>{});
        if (!r.ok) return;
        const long long code = f.ints[1];
        if (code >= -1 && code <= 5 && static_cast<long long>(r.result) != code)
            return fail("R7 reply-fields", "+QMTOPEN result " + num(static_cast<int>(r.result)));
        if (qmt::outcome_of(r).has_value() != (code == 0))
            return fail("R8 reply-outcome", "+QMTOPEN result " + num(code) + " reads as " +
                                                outcome_text(qmt::outcome_of(r)));
        const std::string again = "+QMTOPEN: 0," + num(static_cast<int>(r.result));
        const qmt::OpenReply b = qmt::decode_open(again);
        if (!b.ok || b.result != r.result) fail("R9 reply-round-trip", "+QMTOPEN as " + again);
    }

    void conn() {
        const qmt::ConnReply r = qmt::decode_conn(line_);
        const Fields f = fields_of(line_, "+QMTCONN");
        if (r.ok != (f.ints.size() >= 2))
            return fail("R7 reply-fields", "+QMTCONN ok " + num(r.ok));
        // The bring-up reads <result> 1 as a retransmission report, not the answer.
        if (r.ok && f.ints[1] == 1) {
            if (qmt::detail::decode_result(qmt::detail::Reply::conn, line_).verdict !=
                at::ResultVerdict::intermediate)
                return fail("R10 bringup-agrees", "CONNECT step: result 1 is not intermediate");
        } else {
            bring_up(qmt::detail::Reply::conn, r.ok,
                     r.ok ? qmt::outcome_of(r) : qmt::Result<void>{});
        }
        if (!r.ok) return;
        const long long ret = f.ints.size() >= 3 ? f.ints[2] : -1;
        if (r.code != f.ints[1] || r.ret != ret)
            return fail("R7 reply-fields",
                        "+QMTCONN result/ret_code " + num(r.code) + "/" + num(r.ret));
        // Success: CONNECT sent and acknowledged (0) and a CONNACK return code of 0 ("accepted"),
        // or none (-1 is the decoder's "absent").
        const bool accepted = f.ints[1] == 0 && (ret == 0 || ret == -1);
        if (qmt::outcome_of(r).has_value() != accepted)
            return fail("R8 reply-outcome", "+QMTCONN " + num(f.ints[1]) + "," + num(ret) +
                                                " reads as " + outcome_text(qmt::outcome_of(r)));
        std::string again = "+QMTCONN: 0," + num(r.code);
        if (r.ret != -1) again += "," + num(r.ret);
        const qmt::ConnReply b = qmt::decode_conn(again);
        if (!b.ok || b.code != r.code || b.ret != r.ret || b.result != r.result)
            fail("R9 reply-round-trip", "+QMTCONN as " + again);
    }

    void close(const char* name) {
        const qmt::CloseReply r = qmt::decode_close(line_, name);
        const Fields f = fields_of(line_, name);
        if (r.ok != (f.ints.size() >= 2)) return fail("R7 reply-fields", std::string(name) + " ok");
        const auto kind = std::string_view(name) == "+QMTCLOSE" ? qmt::detail::Reply::close
                                                                : qmt::detail::Reply::disc;
        bring_up(kind, r.ok, r.ok ? qmt::outcome_of(r) : qmt::Result<void>{});
        if (!r.ok) return;
        if (r.result != f.ints[1]) return fail("R7 reply-fields", std::string(name) + " result");
        if (qmt::outcome_of(r).has_value() != (f.ints[1] == 0))
            return fail("R8 reply-outcome",
                        std::string(name) + " " + outcome_text(qmt::outcome_of(r)));
        const std::string again = std::string(name) + ": 0," + num(r.result);
        const qmt::CloseReply b = qmt::decode_close(again, name);
        if (!b.ok || b.result != r.result)
            fail("R9 reply-round-trip", std::string(name) + " as " + again);
    }

    void stat() {
        const qmt::StatUrc r = qmt::decode_stat(line_);
        const Fields f = fields_of(line_, "+QMTSTAT");
        if (r.ok != (f.ints.size() >= 2)) return fail("R7 reply-fields", "+QMTSTAT ok");
        if (!r.ok) return;
        const long long code = f.ints[1];
        if (code >= 1 && code <= 7 && static_cast<long long>(r.code) != code)
            return fail("R7 reply-fields", "+QMTSTAT code " + num(static_cast<int>(r.code)));
        if (qmt::recommended_action(r.code) != note_action(code))
            return fail("R8 reply-outcome", "+QMTSTAT " + num(code) + " decoded as code " +
                                                num(static_cast<int>(r.code)) +
                                                ", whose action is not the note's for " +
                                                num(code));
        const std::string again = "+QMTSTAT: 0," + num(static_cast<int>(r.code));
        const qmt::StatUrc b = qmt::decode_stat(again);
        if (!b.ok || b.code != r.code) fail("R9 reply-round-trip", "+QMTSTAT as " + again);
    }

    void tenauth() {
        const qmt::TenAuthReply r = qmt::decode_tenauth(line_);
        const Fields f = fields_of(line_, "+QMTTENAUTH");
        if (r.ok != !f.ints.empty()) return fail("R7 reply-fields", "+QMTTENAUTH ok");
        if (!r.ok) {
            bring_up(qmt::detail::Reply::tenauth, false, {});
            return;
        }
        if (r.raw != f.ints[0]) return fail("R7 reply-fields", "+QMTTENAUTH code " + num(r.raw));
        if ((r.code == qmt::TenAuthResult::ok) != (f.ints[0] == 0))
            return fail("R8 reply-outcome", "+QMTTENAUTH " + num(f.ints[0]) + " has code " +
                                                num(static_cast<int>(r.code)));
        if (qmt::outcome_of(r).has_value() != (f.ints[0] == 0))
            return fail("R8 reply-outcome", "+QMTTENAUTH " + outcome_text(qmt::outcome_of(r)));
        // The password: the second field, quoted (to the first '"' that ends the field) or bare.
        std::string_view pw;
        bool has_pw = false;
        if (f.ints[0] == 0 && f.raw.size() >= 2) {
            const std::size_t at = static_cast<std::size_t>(f.raw[1].data() - line_.data());
            const std::string_view from = line_.substr(at);
            if (from.empty() || from.front() != '"') {
                has_pw = true;
                pw = f.raw[1];
            } else {
                for (std::size_t i = 1; i < from.size(); ++i) {
                    if (from[i] == '"' && (i + 1 == from.size() || from[i + 1] == ',')) {
                        has_pw = true;
                        pw = from.substr(1, i - 1);
                        break;
                    }
                }
            }
        }
        if (r.has_password != has_pw || r.password != pw ||
            (has_pw && !pw.empty() &&
             !inside(r.password.data(), r.password.size(), line_, line_.size())))
            return fail("R7 reply-fields", "+QMTTENAUTH password " + printable(r.password, 40) +
                                               ", the line's is " + printable(pw, 40));
        // The bring-up keeps the password as the token; a success without one is malformed.
        qmt::Result<void> want = qmt::outcome_of(r);
        if (want && !r.has_password) want = qmt::failure(qmt::Error::malformed_reply);
        const qmt::detail::StepResult s =
            qmt::detail::decode_result(qmt::detail::Reply::tenauth, line_);
        if (QMTKIT_TENAUTH &&
            (s.verdict != at::ResultVerdict::done || !same_outcome(s.outcome, want) ||
             s.has_token != (want.has_value() && r.has_password) ||
             (s.has_token && s.token != r.password)))
            return fail("R10 bringup-agrees",
                        "tenauth step " + outcome_text(s.outcome) + ", want " + outcome_text(want));
        std::string again = "+QMTTENAUTH: " + num(r.raw);
        if (r.has_password) again += ",\"" + std::string(r.password) + "\"";
        const qmt::TenAuthReply b = qmt::decode_tenauth(again);
        if (!b.ok || b.raw != r.raw || b.has_password != r.has_password || b.password != r.password)
            fail("R9 reply-round-trip", "+QMTTENAUTH as " + printable(again, 80));
    }

    void info() {
        const qmt::AttachInfo a = qmt::decode_attach(line_);
        const Fields g = fields_of(line_, "+CGATT");
        if (a.ok != !g.ints.empty() || (a.ok && a.attached != (g.ints[0] == 1)))
            return fail("R7 reply-fields",
                        "+CGATT ok " + num(a.ok) + " attached " + num(a.attached));
        std::int32_t v = -7;
        const bool poll = qmt::detail::read_info(qmt::detail::Rule::poll, line_, v);
        if (poll != a.ok || (poll && v != (a.attached ? 1 : 0)))
            return fail("R10 bringup-agrees", "read_info(poll) " + num(poll) + " " + num(v));
        const qmt::ConnStateInfo c = qmt::decode_conn_state(line_);
        const Fields f = fields_of(line_, "+QMTCONN");
        if (c.ok != (f.ints.size() >= 2) || (c.ok && c.state != f.ints[1]))
            return fail("R7 reply-fields", "+QMTCONN state " + num(c.state));
        v = -7;
        const bool check = qmt::detail::read_info(qmt::detail::Rule::check, line_, v);
        if (check != c.ok || (check && v != c.state))
            return fail("R10 bringup-agrees", "read_info(check) " + num(check) + " " + num(v));
    }

    // The bring-up step's decode_result() against the public decoder's answer.
    void bring_up(qmt::detail::Reply kind, bool ok, const qmt::Result<void>& want) {
        if (kind == qmt::detail::Reply::tenauth) {  // only the not-this-line case comes here
            if (!QMTKIT_TENAUTH) return;            // compiled out: the step is never run
            const auto s = qmt::detail::decode_result(kind, line_);
            if (s.verdict != at::ResultVerdict::not_mine)
                fail("R10 bringup-agrees", "tenauth step takes a line decode_tenauth refuses");
            return;
        }
        const qmt::detail::StepResult s = qmt::detail::decode_result(kind, line_);
        const bool mine = s.verdict != at::ResultVerdict::not_mine;
        if (mine != ok)
            return fail("R10 bringup-agrees", "step reply " + num(static_cast<int>(kind)) +
                                                  (mine ? " takes" : " refuses") + " the line");
        if (ok && (s.verdict != at::ResultVerdict::done || !same_outcome(s.outcome, want)))
            fail("R10 bringup-agrees", "step reply " + num(static_cast<int>(kind)) + " outcome " +
                                           outcome_text(s.outcome) + ", the decoder's " +
                                           outcome_text(want));
    }

    std::string_view line_;
    Report& rep_;
};

}  // namespace

std::string check_recv_case(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return {};
    const PayloadQuoting q = (data[0] & 3) == 1   ? PayloadQuoting::quoted
                             : (data[0] & 3) == 2 ? PayloadQuoting::bare
                                                  : PayloadQuoting::detect;
    const std::size_t cap = 8 + static_cast<std::size_t>(data[0] >> 2) * 4;
    // An exactly sized copy: ASan sees any read past the end.
    const std::vector<char> bytes(data + 1, data + size);
    const std::string_view stream(bytes.data(), bytes.size());
    Report rep;

    // +QMTRECV claims start where a line starts with the prefix (the engine's URC match); the
    // first line is claimed whatever it holds (malformed answers are checked too). At most 16.
    int claims = 0;
    for (std::size_t at = 0; at <= stream.size() && claims < 16 && !rep.failed();) {
        const std::string_view from = stream.substr(at);
        // (Never an empty buffer: the engine claims from the prefix's first byte on.)
        if (!from.empty() && (at == 0 || from.substr(0, 9) == "+QMTRECV:")) {
            ++claims;
            RecvDriver d(q, rep);
            const Outcome o = d.drive(from);
            if (o.status == Status::complete && !rep.failed()) round_trip(o.message, q, rep);
            check_overflow(from, cap, q, rep);
        }
        const std::size_t lf = from.find('\n');
        if (lf == std::string_view::npos) break;
        at += lf + 1;
    }

    // Every line (without its CR LF) through the result decoders.
    for (std::size_t at = 0; at < stream.size() && !rep.failed();) {
        std::size_t lf = stream.find('\n', at);
        if (lf == std::string_view::npos) lf = stream.size();
        std::string_view line = stream.substr(at, lf - at);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        LineChecks(line, rep).run();
        at = lf + 1;
    }
    return rep.take();
}

}  // namespace qmtkit::fuzz
