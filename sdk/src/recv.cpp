#include "qmtkit/qmt/recv.hpp"

#include "qmtkit/common/text.hpp"

namespace qmtkit::qmt {
namespace {

constexpr std::string_view kPrefix = "+QMTRECV:";

struct Header {
    bool ok = false;
    std::uint16_t msg_id = 0;
    std::string_view topic;
    std::size_t payload_at = 0;
};

// Parses up to the start of the payload; fails if the bytes so far cannot be a header.
Header parse_header(std::string_view s) {
    Header h;
    if (!has_prefix(s, kPrefix)) return h;
    std::size_t i = kPrefix.size();
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size() || s[i] != '0') return h;  // <TCP_connectID> is always 0
    ++i;
    if (i >= s.size() || s[i] != ',') return h;
    ++i;
    while (i < s.size() && s[i] == ' ') ++i;  // the note prints "0,0, \"topic\", ..."
    std::uint32_t id = 0;
    const std::size_t digits = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - digits < 6) {
        id = id * 10u + static_cast<std::uint32_t>(s[i] - '0');
        ++i;
    }
    if (i == digits || id > 65535u || i >= s.size() || s[i] != ',') return h;
    ++i;
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size() || s[i] != '"') return h;
    const std::size_t topic_at = ++i;
    // The topic closes at the first '",'; topics cannot hold '"' on the AT line.
    while (i + 1 < s.size() && !(s[i] == '"' && s[i + 1] == ',')) {
        if (s[i] == '\r' || s[i] == '\n') return h;
        ++i;
    }
    if (i + 1 >= s.size()) return h;
    h.topic = sub_view(s, topic_at, i - topic_at);
    h.msg_id = static_cast<std::uint16_t>(id);
    h.payload_at = i + 2;
    h.ok = true;
    return h;
}

RecvParse complete(const Header& h, std::string_view s, std::size_t end, std::size_t consumed,
                   PayloadQuoting q) {
    RecvParse r;
    r.status = RecvParse::Status::complete;
    r.consumed = consumed;
    std::string_view p = sub_view(s, h.payload_at, end > h.payload_at ? end - h.payload_at : 0);
    if (q != PayloadQuoting::bare) {
        // A quoted payload may follow its comma after spaces, as the note prints it.
        std::size_t k = 0;
        while (k < p.size() && p[k] == ' ') ++k;
        const std::string_view rest = sub_view(p, k);
        if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"')
            p = sub_view(rest, 1, rest.size() - 2);
    }
    r.message.msg_id = h.msg_id;
    r.message.topic = h.topic;
    r.message.payload = ByteView(p);
    return r;
}

// End of content before a trailing line end ("\r\n" or "\n") at s[0, n).
std::size_t strip_eol(std::string_view s, std::size_t n) {
    if (n > 0 && s[n - 1] == '\n') --n;
    if (n > 0 && s[n - 1] == '\r') --n;
    return n;
}

}  // namespace

RecvOverflow parse_recv_overflow(ByteView head, std::size_t total, PayloadQuoting q) {
    const std::string_view s = head.as_text();
    const Header h = parse_header(s);
    RecvOverflow r;
    if (!h.ok) {
        r.payload_size = total;
        return r;
    }
    r.header_ok = true;
    r.msg_id = h.msg_id;
    r.topic = h.topic;
    std::size_t at = h.payload_at;
    if (q != PayloadQuoting::bare) {
        // A quoted payload: the spaces before it and its two quotes are framing, not payload.
        // An unquoted one keeps its leading spaces, as parse_recv() does.
        std::size_t k = at;
        while (k < s.size() && s[k] == ' ') ++k;
        if (k < s.size() && s[k] == '"' && total >= k + 2) at = k + 2;
    }
    r.payload_size = total > at ? total - at : 0;
    return r;
}

RecvParse parse_recv(ByteView buffered, at::ClaimPhase phase, PayloadQuoting q) {
    const std::string_view s = buffered.as_text();
    const Header h = parse_header(s);
    if (!h.ok) {
        // Not a header we understand: give the line back as one malformed unit at its end.
        const std::size_t lf = s.find('\n');
        if (lf != std::string_view::npos || phase == at::ClaimPhase::idle) {
            RecvParse r;
            r.status = RecvParse::Status::malformed;
            r.consumed = lf != std::string_view::npos ? lf + 1 : s.size();
            return r;
        }
        return RecvParse{};
    }
    switch (phase) {
        case at::ClaimPhase::line_end: {
            const std::size_t end = strip_eol(s, s.size());
            std::size_t open = h.payload_at;
            while (open < end && s[open] == ' ') ++open;
            const bool closes_quote = end > open + 1 && s[open] == '"' && s[end - 1] == '"';
            if (q != PayloadQuoting::bare && closes_quote) return complete(h, s, end, s.size(), q);
            return RecvParse{};  // bare: wait for the byte after the line end
        }
        case at::ClaimPhase::next_byte: {
            const char next = s.back();
            if (next == '\r' || next == '\n') {
                const std::size_t end = strip_eol(s, s.size() - 1);
                return complete(h, s, end, s.size() - 1, q);
            }
            return RecvParse{};
        }
        case at::ClaimPhase::idle:
            return complete(h, s, strip_eol(s, s.size()), s.size(), q);
    }
    return RecvParse{};
}

}  // namespace qmtkit::qmt
