// qmtkit-demo: the AT engine driving a scripted BC28 session (the note's chapter 6, then five
// publishes kept in flight at once). The module is a script of answers with network delays,
// run under virtual time; the trace shows the AT line as the engine sees it, secrets masked.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/recv.hpp"

using namespace qmtkit;

namespace {

// A module script: when a command line starting with `when` arrives, answer `now` at once and
// `later` after `delay_ms` (the network round trip).
struct Step {
    std::string when;
    std::string now;
    std::string later;
    Millis delay_ms;
};

class ScriptedModule final : public at::Writer {
  public:
    explicit ScriptedModule(std::vector<Step> steps) : steps_(std::move(steps)) {}
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i) {
            const char c = static_cast<char>(d[i]);
            if (in_payload_) {
                if (c == 0x1A) {
                    in_payload_ = false;
                    respond();
                }
                continue;
            }
            if (c == '\r') {
                line_done();
            } else {
                line_ += c;
            }
        }
        return n;
    }
    // Delivers what is due by `t` to the engine.
    void deliver(at::EngineCore& engine, Instant t) {
        while (!out_.empty() && out_.front().first <= t) {
            // Pop first: feeding may make the engine write, and the script answer, right away.
            const auto [at, bytes] = out_.front();
            out_.pop_front();
            engine.feed(bytes, at);
        }
    }
    Instant next_due() const { return out_.empty() ? ~Instant{0} : out_.front().first; }
    void set_time(Instant t) { now_ = t; }

  private:
    void line_done() {
        for (std::size_t i = 0; i < steps_.size(); ++i) {
            if (line_.rfind(steps_[i].when, 0) == 0) {
                current_ = steps_[i];
                steps_.erase(steps_.begin() + static_cast<long>(i));
                if (current_.now == ">") {
                    queue(now_ + 5, "\r\n> ");
                    in_payload_ = true;
                } else {
                    respond();
                }
                break;
            }
        }
        line_.clear();
    }
    void respond() {
        const std::string now = current_.now == ">" ? "\r\nOK\r\n" : current_.now;
        queue(now_ + 20, now);
        if (!current_.later.empty()) queue(now_ + 20 + current_.delay_ms, current_.later);
    }
    void queue(Instant at, std::string bytes) {
        auto it = out_.begin();
        while (it != out_.end() && it->first <= at) ++it;
        out_.insert(it, {at, std::move(bytes)});
    }
    std::vector<Step> steps_;
    Step current_;
    std::string line_;
    bool in_payload_ = false;
    Instant now_ = 0;
    std::deque<std::pair<Instant, std::string>> out_;
};

class App final : public at::CommandHandler {
  public:
    void on_info(const at::CommandRef&, std::string_view line) override {
        std::printf("            info   %.*s\n", static_cast<int>(line.size()), line.data());
    }
    at::Payload on_prompt(const at::CommandRef& r) override {
        payload_ = "reading " + std::to_string(r.tag) + ": 21.5 C, ok";
        return {ByteView(payload_), at::Payload::End::ctrl_z};
    }
    void on_final(const at::CommandRef& r, const at::Outcome& o) override {
        std::printf("  %6llu ms  final  %-12.*s %s\n", static_cast<unsigned long long>(now),
                    static_cast<int>(r.spec->name.size()), r.spec->name.data(),
                    o ? "OK" : std::string(at::to_string(o.error().kind)).c_str());
    }
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override {
        std::printf("  %6llu ms  result %.*s\n", static_cast<unsigned long long>(now),
                    static_cast<int>(line.size()), line.data());
        next_after(r.tag);
        return at::ResultVerdict::done;
    }
    // Each step waits for the result of the one before, as the module requires; only the
    // publishes overlap, five in flight.
    void next_after(std::uint32_t tag);
    at::EngineCore* engine = nullptr;
    Instant now = 0;
    int pub_results = 0;

  private:
    std::string payload_;
};

const char* kind_name(at::TraceKind k) {
    switch (k) {
        case at::TraceKind::tx:
            return "-->";
        case at::TraceKind::rx:
            return "<--";
        case at::TraceKind::echo:
            return "echo";
        case at::TraceKind::prompt:
            return "<-- >";
        case at::TraceKind::payload:
            return "--> payload";
        default:
            return "..";
    }
}

template <class R>
void must(const R& r, const char* what);

void App::next_after(std::uint32_t tag) {
    switch (tag) {
        case 3:
            must(engine->submit(at::cmd::conn, this, 4, 0, "MQTT_TEST"), "conn");
            break;
        case 4:
            must(engine->submit(at::cmd::sub, this, 5, 0, 1, "topic/example", 2), "sub");
            break;
        case 5:
            for (int id = 1; id <= 5; ++id) {
                must(engine->submit(at::cmd::pub, this, 10u + static_cast<unsigned>(id), 0, id, 1,
                                    0, "topic/pub"),
                     "pub");
            }
            break;
        default:
            if (tag > 10 && tag <= 15 && ++pub_results == 5)
                must(engine->submit(at::cmd::disc, this, 20, 0), "disc");
            break;
    }
}

// Capacities are compile-time settings: this session queues a dozen commands at once.
struct DemoConfig : at::EngineConfig {
    static constexpr std::size_t queue_depth = 16;
};

template <class R>
void must(const R& r, const char* what) {
    if (!r) {
        std::fprintf(stderr, "demo: %s refused: %s\n", what,
                     std::string(at::to_string(r.error().kind)).c_str());
        std::exit(1);
    }
}

}  // namespace

int main() {
    std::vector<Step> script = {
        {"AT+QMTCFG=\"aliauth\"", "\r\nOK\r\n", "", 0},
        {"AT+QMTOPEN=?", "\r\n+QMTOPEN: (0),<host_name>,<port>\r\n\r\nOK\r\n", "", 0},
        {"AT+QMTOPEN=0", "\r\nOK\r\n", "\r\n+QMTOPEN: 0,0\r\n", 1500},
        {"AT+QMTCONN=0", "\r\nOK\r\n", "\r\n+QMTCONN: 0,0,0\r\n", 1800},
        {"AT+QMTSUB=0,1", "\r\nOK\r\n",
         "\r\n+QMTSUB: 0,1,0,2\r\n\r\n+QMTRECV: 0,0,\"topic/example\",这是测试数据, hello "
         "MQTT.\r\n",
         1600},
    };
    for (int id = 1; id <= 5; ++id) {
        script.push_back({"AT+QMTPUB=0," + std::to_string(id) + ",1", ">",
                          "\r\n+QMTPUB: 0," + std::to_string(id) + ",0\r\n",
                          2000u + 100u * static_cast<Millis>(id)});
    }
    script.push_back({"AT+QMTDISC=0", "\r\nOK\r\n", "\r\n+QMTDISC: 0,0\r\n", 200});
    ScriptedModule module(script);
    at::Engine<DemoConfig> engine(module);
    App app;
    app.engine = &engine;

    auto trace = [&](at::TraceKind k, std::string_view t) {
        if (k == at::TraceKind::tx || k == at::TraceKind::rx || k == at::TraceKind::prompt ||
            k == at::TraceKind::payload) {
            std::printf("  %6llu ms  %-6s %.*s\n", static_cast<unsigned long long>(app.now),
                        kind_name(k), static_cast<int>(t.size()), t.data());
        }
    };
    engine.set_trace(at::TraceHook::from(trace));
    auto recv = [&](ByteView b, at::ClaimPhase phase) -> at::Claim {
        const qmt::RecvParse p = qmt::parse_recv(b, phase);
        if (p.status == qmt::RecvParse::Status::need_more) return at::Claim::need_more();
        if (p.status == qmt::RecvParse::Status::complete) {
            std::printf("            message on \"%.*s\": %.*s\n",
                        static_cast<int>(p.message.topic.size()), p.message.topic.data(),
                        static_cast<int>(p.message.payload.size),
                        reinterpret_cast<const char*>(p.message.payload.data));
        }
        return at::Claim::done(p.consumed);
    };
    engine.on_urc_claim(at::cmd::urc_recv, at::ClaimHandler::from(recv));

    std::puts(
        "qmtkit demo: the AT engine against a scripted BC28 (virtual time, secrets masked)\n");
    engine.poll(0);
    // The note's chapter 6 credentials; the secret never reaches the trace.
    must(engine.submit(at::cmd::cfg_aliauth, &app, 1, 0, "oyjtmPl5a5j", "MQTT_TEST",
                       "wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"),
         "aliauth");
    must(engine.submit(at::cmd::open_test, &app, 2), "open test");
    must(engine.submit(at::cmd::open, &app, 3, 0, "iot-as-mqtt.cn-shanghai.aliyuncs.com", 1883),
         "open");

    std::size_t most_awaited = 0;
    while (!engine.idle() || module.next_due() != ~Instant{0}) {
        const Instant next = std::min(engine.next_deadline(), module.next_due());
        if (next == ~Instant{0}) break;
        app.now = next;
        module.set_time(next);
        module.deliver(engine, next);
        engine.poll(next);
        most_awaited = std::max(most_awaited, engine.awaiting_results());
    }
    const at::Counters& c = engine.counters();
    std::printf(
        "\n%u commands, %u URCs (%u claimed), %u timeouts, %u unclaimed lines; finished at %llu "
        "ms\n",
        c.commands, c.urcs, c.claims, c.timeouts, c.unclaimed,
        static_cast<unsigned long long>(app.now));
    std::printf(
        "At most %zu results were awaited at once: the publishes overlapped instead of waiting\n"
        "for each acknowledgement in turn.\n",
        most_awaited);
    return c.timeouts == 0 && c.unclaimed == 0 ? 0 : 1;
}
