// What a harness reports: the first invariant a case broke, which seq / ticket, and the decoded
// program up to that point. Violations are recorded, not thrown: the core is built without
// exceptions and a callback must return normally; the harness stops after the op that failed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qmtkit::fuzz {

struct Verdict {
    bool ok = true;
    std::string invariant;           // "E3 deadline-never", "C3 payload-under-its-line", ...
    std::string detail;              // which seq / ticket, and what happened
    std::vector<std::string> trace;  // the decoded program (filled by the traced re-run)

    // The report a person reads: the invariant, the detail, the last `tail` trace lines.
    std::string text(std::string_view harness, std::size_t tail = 80) const;
};

class Checker {
  public:
    explicit Checker(bool tracing) : tracing_(tracing) {}

    // Keeps the first violation only: what follows it is usually its consequence.
    void fail(std::string invariant, std::string detail);
    bool failed() const { return !verdict_.ok; }
    bool tracing() const { return tracing_; }
    // Appends a trace line; `make` runs only when tracing (the re-run of a failing case).
    template <class Make>
    void trace(Make&& make) {
        if (tracing_) verdict_.trace.push_back(make());
    }
    Verdict take() { return std::move(verdict_); }

  private:
    bool tracing_;
    Verdict verdict_;
};

// Bytes as a C-like string literal: printable ASCII as is, the rest escaped.
std::string printable(std::string_view bytes, std::size_t max = 120);
inline std::string printable(const std::uint8_t* d, std::size_t n, std::size_t max = 120) {
    return printable(std::string_view(reinterpret_cast<const char*>(d), n), max);
}

// Runs a case untraced (fast); a failing one again with the trace on. The harness is
// deterministic, so the replay fails the same way and says how.
template <class Harness>
Verdict check_case(const std::uint8_t* data, std::size_t size) {
    Verdict v = Harness(data, size, false).run();
    if (v.ok) return v;
    Verdict traced = Harness(data, size, true).run();
    if (traced.ok) {
        v.detail += " [the traced replay passed: the harness is not deterministic]";
        return v;
    }
    return traced;
}

// Prints the report to stderr and aborts: what a fuzzer entry point does with a violation.
[[noreturn]] void report_and_abort(std::string_view harness, const Verdict& v);

}  // namespace qmtkit::fuzz
