#include <string>

#include "qmtkit/host/runner.hpp"

namespace qmtkit::host {

std::string format_trace(at::TraceKind kind, std::string_view text) {
    const char* tag = "AT? ";
    switch (kind) {
        case at::TraceKind::tx:
            tag = "AT> ";
            break;
        case at::TraceKind::rx:
            tag = "AT< ";
            break;
        case at::TraceKind::echo:
            tag = "AT< (echo) ";
            break;
        case at::TraceKind::prompt:
            tag = "AT< ";
            break;
        case at::TraceKind::payload:
            tag = "AT> (payload) ";
            break;
        case at::TraceKind::urc:
            tag = "AT< (urc) ";
            break;
        case at::TraceKind::claimed:
            tag = "AT< (claimed) ";
            break;
        case at::TraceKind::unclaimed:
            tag = "AT< (unclaimed) ";
            break;
        case at::TraceKind::timeout:
            tag = "AT! timeout ";
            break;
        case at::TraceKind::overflow:
            tag = "AT! overflow ";
            break;
        case at::TraceKind::settle:
            tag = "AT! settle ";
            break;
    }
    std::string out(tag);
    if (kind == at::TraceKind::prompt && text.empty()) text = ">";
    // Keep one trace event on one line: control bytes are shown escaped.
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (u < 0x20 || u == 0x7F) {
            static const char hex[] = "0123456789ABCDEF";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xF];
        } else
            out += c;
    }
    return out;
}

}  // namespace qmtkit::host
