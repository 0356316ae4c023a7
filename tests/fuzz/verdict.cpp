#include "verdict.hpp"

#include <cstdio>
#include <cstdlib>

namespace qmtkit::fuzz {

namespace {
// QMTKIT_FUZZ_IGNORE="E3,E4": invariants not to report, so that a long fuzzing run can look past
// a defect already known (the ids are the first word of the invariant names).
bool ignored(const std::string& invariant) {
    static const std::string list = [] {
        const char* e = std::getenv("QMTKIT_FUZZ_IGNORE");
        return e != nullptr ? "," + std::string(e) + "," : std::string();
    }();
    if (list.empty()) return false;
    return list.find("," + invariant.substr(0, invariant.find(' ')) + ",") != std::string::npos;
}
}  // namespace

void Checker::fail(std::string invariant, std::string detail) {
    if (failed() || ignored(invariant)) return;
    verdict_.ok = false;
    verdict_.invariant = std::move(invariant);
    verdict_.detail = std::move(detail);
    if (tracing_) verdict_.trace.push_back("!! VIOLATION " + verdict_.invariant);
}

std::string Verdict::text(std::string_view harness, std::size_t tail) const {
    std::string s;
    s += "==== qmtkit fuzz: invariant violated in the ";
    s += harness;
    s += " harness\n  invariant: ";
    s += invariant;
    s += "\n  detail:    ";
    s += detail;
    s += "\n";
    if (!trace.empty()) {
        const std::size_t from = trace.size() > tail ? trace.size() - tail : 0;
        s += "  program (" + std::to_string(trace.size()) + " steps";
        if (from > 0) s += ", last " + std::to_string(tail) + " shown";
        s += "):\n";
        for (std::size_t i = from; i < trace.size(); ++i) s += "    " + trace[i] + "\n";
    }
    return s;
}

std::string printable(std::string_view bytes, std::size_t max) {
    std::string s = "\"";
    static const char* hex = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == max) {
            s += "\"... (" + std::to_string(bytes.size()) + " bytes)";
            return s;
        }
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '\r') {
            s += "\\r";
        } else if (c == '\n') {
            s += "\\n";
        } else if (c == '"' || c == '\\') {
            s += '\\';
            s += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7F) {
            s += static_cast<char>(c);
        } else {
            s += "\\x";
            s += hex[c >> 4];
            s += hex[c & 15];
        }
    }
    return s + "\"";
}

void report_and_abort(std::string_view harness, const Verdict& v) {
    const std::string t = v.text(harness);
    std::fwrite(t.data(), 1, t.size(), stderr);
    std::fflush(stderr);
    std::abort();
}

}  // namespace qmtkit::fuzz
