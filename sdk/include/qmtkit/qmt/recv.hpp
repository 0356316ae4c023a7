// +QMTRECV: 0,<msgID>,"<topic>",<payload> — framing for the engine's claim mechanism.
// A pure function of the bytes buffered so far, so it can be fuzzed on its own.
//
// The payload may hold commas, quotes, UTF-8 and CR LF, and the note shows it both quoted and
// bare. Where it ends:
//   - quoted: at a '"' followed by CR LF (the line end that closes the quote);
//   - bare: at the CR LF followed by the CR or LF that opens the next framed response
//     ("\r\n<line>\r\n"), or when the line goes quiet.
// A bare payload that itself holds "\r\n\r" or "\r\n\n" is cut there; nothing can tell it apart.
#pragma once

#include <cstdint>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/common/types.hpp"

namespace qmtkit::qmt {

enum class PayloadQuoting : std::uint8_t {
    detect,  // strip one pair of quotes when the payload starts and ends with '"'
    quoted,  // the module quotes payloads
    bare,    // the module sends payloads as they are
};

struct RecvMessage {
    std::uint16_t msg_id = 0;
    std::string_view topic;
    ByteView payload;
};

struct RecvParse {
    enum class Status : std::uint8_t { need_more, complete, malformed } status = Status::need_more;
    std::size_t consumed = 0;  // bytes of the buffer that belonged to this URC
    RecvMessage message;       // views into the buffer, valid while it is
};

RecvParse parse_recv(ByteView buffered, at::ClaimPhase phase,
                     PayloadQuoting quoting = PayloadQuoting::detect);

// The head of a +QMTRECV too long for the line buffer, `total` bytes up to its line end: what
// can be told of the message (its topic, and the payload's size).
struct RecvOverflow {
    bool header_ok = false;
    std::uint16_t msg_id = 0;
    std::string_view topic;
    std::size_t payload_size = 0;
};
RecvOverflow parse_recv_overflow(ByteView head, std::size_t total,
                                 PayloadQuoting quoting = PayloadQuoting::detect);

}  // namespace qmtkit::qmt
