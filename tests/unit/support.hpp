// Test support for the core: a capturing writer, a recording handler and a virtual clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qmtkit/at/engine.hpp"

namespace qmtkit::test {

// Takes what the engine writes; `budget` limits bytes per write() to exercise partial writes.
struct CaptureWriter final : at::Writer {
    std::string out;
    std::size_t budget = SIZE_MAX;
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        const std::size_t k = n < budget ? n : budget;
        out.append(reinterpret_cast<const char*>(d), k);
        return k;
    }
    // Everything written since the last take().
    std::string take() {
        std::string s;
        s.swap(out);
        return s;
    }
};

struct Event {
    enum class Kind { info, final_ok, final_error, prompt, result, result_error } kind;
    std::uint32_t tag;
    std::string text;  // info/result line; error kind name; CME number for cme errors
    bool operator==(const Event& o) const {
        return kind == o.kind && tag == o.tag && text == o.text;
    }
};

inline std::string describe(const at::AtError& e) {
    std::string s(at::to_string(e.kind));
    if (e.kind == at::ErrorKind::cme) s += ":" + std::to_string(static_cast<unsigned>(e.cme));
    return s;
}

// Records every callback; answers prompts with `payload` (and `end`), results with `verdict`.
struct Recorder final : at::CommandHandler {
    std::vector<Event> events;
    std::string payload;
    at::Payload::End end = at::Payload::End::ctrl_z;
    at::ResultVerdict verdict = at::ResultVerdict::done;

    void on_info(const at::CommandRef& r, std::string_view line) override {
        events.push_back({Event::Kind::info, r.tag, std::string(line)});
    }
    at::Payload on_prompt(const at::CommandRef& r) override {
        events.push_back({Event::Kind::prompt, r.tag, r.prompt_late ? "late" : ""});
        return at::Payload{ByteView(payload), end};
    }
    void on_final(const at::CommandRef& r, const at::Outcome& o) override {
        if (o)
            events.push_back({Event::Kind::final_ok, r.tag, {}});
        else
            events.push_back({Event::Kind::final_error, r.tag, describe(o.error())});
    }
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override {
        events.push_back({Event::Kind::result, r.tag, std::string(line)});
        return verdict;
    }
    void on_result_error(const at::CommandRef& r, const at::AtError& e) override {
        events.push_back({Event::Kind::result_error, r.tag, describe(e)});
    }
};

}  // namespace qmtkit::test
