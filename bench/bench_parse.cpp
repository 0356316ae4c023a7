// Parse cost of the receive path: a realistic module stream (2 MiB by default) fed to a
// qmt::Client<> in chunks of N bytes (64, or 1: one byte at a time, as a UART interrupt would).
// bench/parse-cost.sh runs it under callgrind and divides the instructions spent inside
// at::EngineCore::feed() — the line framer, echo / prompt / payload-echo handling, final and
// result dispatch, the +QMTRECV claim with parse_recv() and the subscription dispatch, and what
// the client's handlers do in reaction — by the bytes fed.
//
// The stream is what a BC28 with echo on sends to a client that publishes QoS 1 readings through
// its five-message window and receives 1 KB commands: per publish the echoed command line, the
// "> " prompt, the echoed payload, OK and (three publishes later) +QMTPUB: 0,<id>,0; after every
// second publish a +QMTRECV with a 1024-byte JSON payload, quoted and bare in turn. The module
// here answers what the client actually writes, so every echo, prompt and result matches a real
// command (the run checks it: nothing unclaimed, nothing malformed, no timeout). It is
// deterministic: the same bytes every run and for every chunk size (--dump FILE records them).
// It also counts the heap allocations made inside the client's calls (feed, poll, publish; every
// global allocation function is replaced by a counting one) and fails if there is any.
//
//   qmtkit_bench_parse [--chunk N] [--bytes N] [--dump FILE]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

#include "count_allocations.hpp"
#include "qmtkit/qmt/client.hpp"

using namespace qmtkit;

namespace {

constexpr std::size_t kRecvPayload = 1024;
constexpr int kRecvEvery = 2;          // publishes between two incoming messages
constexpr std::size_t kResultLag = 3;  // a publish's result comes this many publishes later
constexpr const char* kTelemetry = "devices/42/telemetry";
constexpr const char* kCommands = "devices/42/cmd";

// The module: the client's writes are only collected during feed() (so the callgrind figure
// holds no emulator work); react() answers them between two feeds.
class Module final : public at::Writer {
  public:
    Module() {
        written_.reserve(1 << 16);
        out_.reserve(1 << 16);
        std::string json = "{\"cmd\":\"set\",\"target\":\"valve-3\",\"data\":\"";
        while (json.size() < kRecvPayload - 2) json += static_cast<char>('a' + json.size() % 26);
        json += "\"}";
        recv_payload_ = json;
    }

    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        written_.append(reinterpret_cast<const char*>(d), n);
        return n;
    }

    void react() {
        std::size_t i = 0;
        while (i < written_.size()) {
            if (data_mode_) {
                const std::size_t z = written_.find('\x1A', i);
                if (z == std::string::npos) {
                    payload_.append(written_, i, std::string::npos);
                    i = written_.size();
                    break;
                }
                payload_.append(written_, i, z - i);
                i = z + 1;
                end_publish();
                continue;
            }
            const std::size_t cr = written_.find('\r', i);
            if (cr == std::string::npos) break;
            command(written_.substr(i, cr - i));
            i = cr + 1;
        }
        written_.erase(0, i);
    }

    // The bytes not yet fed to the client.
    const char* pending() const { return out_.data() + out_off_; }
    std::size_t pending_size() const { return out_.size() - out_off_; }
    void consumed(std::size_t n, std::FILE* dump) {
        if (dump != nullptr) std::fwrite(pending(), 1, n, dump);
        out_off_ += n;
        if (out_off_ > (1u << 15)) {
            out_.erase(0, out_off_);
            out_off_ = 0;
        }
    }

    std::uint64_t published = 0, recv_quoted = 0, recv_bare = 0;

  private:
    void emit(const std::string& s) { out_ += s; }
    void ok() { emit("\r\nOK\r\n"); }

    static bool starts(const std::string& s, const char* p) {
        return s.compare(0, std::strlen(p), p) == 0;
    }
    // The integer after the n-th comma of a command line.
    static long field(const std::string& line, int n) {
        std::size_t at = line.find('=');
        for (int k = 0; k < n && at != std::string::npos; ++k) at = line.find(',', at + 1);
        return at == std::string::npos ? -1 : std::strtol(line.c_str() + at + 1, nullptr, 10);
    }

    void command(const std::string& line) {
        emit(line + "\r");  // echo on (the module was recorded that way; ATE0 is not obeyed)
        if (starts(line, "AT+CGATT?")) {
            emit("\r\n+CGATT:1\r\n");
            ok();
        } else if (starts(line, "AT+QMTOPEN=")) {
            ok();
            emit("\r\n+QMTOPEN: 0,0\r\n");
        } else if (starts(line, "AT+QMTCONN=")) {
            ok();
            emit("\r\n+QMTCONN: 0,0,0\r\n");
        } else if (starts(line, "AT+QMTSUB=")) {
            ok();
            emit("\r\n+QMTSUB: 0," + std::to_string(field(line, 1)) + ",0,1\r\n");
        } else if (starts(line, "AT+QMTPUB=")) {
            pub_id_ = field(line, 1);
            emit("\r\n> ");
            data_mode_ = true;
            payload_.clear();
        } else {
            ok();  // AT, ATE0, AT+CMEE=1, AT+QMTCFG=...
        }
    }

    void end_publish() {
        data_mode_ = false;
        emit(payload_);  // the payload echo
        ++published;
        if (published % kRecvEvery == 0) {
            // Before the OK: a bare payload ends only where a framed line ("\r\n...") follows
            // (an echo right after it would read as more payload; see docs/at-engine.md).
            const bool quoted = (published / kRecvEvery) % 2 == 0;
            recv_id_ = recv_id_ % 65535 + 1;
            std::string m =
                "\r\n+QMTRECV: 0," + std::to_string(recv_id_) + ",\"" + kCommands + "\",";
            m += quoted ? "\"" + recv_payload_ + "\"" : recv_payload_;
            emit(m + "\r\n");
            ++(quoted ? recv_quoted : recv_bare);
        }
        ok();
        results_.push_back(pub_id_);
        if (results_.size() > kResultLag) {
            emit("\r\n+QMTPUB: 0," + std::to_string(results_.front()) + ",0\r\n");
            results_.pop_front();
        }
    }

    std::string written_, out_, payload_, recv_payload_;
    std::size_t out_off_ = 0;
    bool data_mode_ = false;
    long pub_id_ = 0;
    long recv_id_ = 0;
    std::deque<long> results_;
};

struct App final : qmt::Listener {
    std::uint64_t acked = 0, failed = 0, messages = 0;
    void on_published(std::uint32_t, const qmt::Result<qmt::PublishReport>& r) override {
        ++(r ? acked : failed);
    }
    void on_message(const qmt::Message&) override { ++messages; }  // not expected: see handler
    void on_bringup_error(qmt::LinkState st, const qmt::ClientError& e) override {
        std::fprintf(stderr, "bring-up error in %d: %s (%d)\n", static_cast<int>(st),
                     std::string(qmt::to_string(e.code)).c_str(), static_cast<int>(e.value));
    }
};

struct Commands {
    std::uint64_t messages = 0, payload_bytes = 0;
    void on(const qmt::Message& m) {
        ++messages;
        payload_bytes += m.payload.size;
    }
};

// The measured call (parse-cost.sh reads EngineCore::feed's inclusive cost; this frame is the
// client's whole feed, for comparison).
// Heap allocations inside the client's calls; the bench's own module model may allocate.
std::size_t g_client_allocations = 0;
template <class Call>
auto counted(Call call) {
    const std::size_t before = test::heap_allocations();
    auto r = call();
    g_client_allocations += test::heap_allocations() - before;
    return r;
}

__attribute__((noinline)) void feed_chunk(qmt::ClientCore& c, const char* d, std::size_t n,
                                          Instant now) {
    counted([&] {
        c.feed(reinterpret_cast<const std::uint8_t*>(d), n, now);
        return 0;
    });
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t chunk = 64;
    std::size_t target = 2u << 20;
    const char* dump_path = nullptr;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--chunk" && i + 1 < argc) {
            chunk = std::strtoul(argv[++i], nullptr, 10);
        } else if (a == "--bytes" && i + 1 < argc) {
            target = std::strtoul(argv[++i], nullptr, 10);
        } else if (a == "--dump" && i + 1 < argc) {
            dump_path = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--chunk N] [--bytes N] [--dump FILE]\n", argv[0]);
            return 2;
        }
    }
    if (chunk == 0) chunk = 1;
    std::FILE* dump = dump_path != nullptr ? std::fopen(dump_path, "wb") : nullptr;
    if (dump_path != nullptr && dump == nullptr) {
        std::perror(dump_path);
        return 1;
    }

    static Module module;
    static App app;
    static Commands commands;
    static qmt::Client<> client(module, app);  // 28 KB: static storage, not the stack
    qmt::Session s;
    s.host = "broker.example";
    s.client_id = "bench-42";
    s.settings.pkt_timeout_s = 60;
    client.configure(s);
    client.subscribe(kCommands, 1, qmt::MessageHandler::bind<&Commands::on>(&commands));
    Instant now = 0;
    counted([&] {
        client.start(now);
        return 0;
    });

    static const char kReading[] = "{\"t\":21.5,\"rh\":40,\"bat\":3.61,\"fw\":\"1.2.0\",\"seq\":1}";
    std::uint64_t fed = 0, feeds = 0;
    Instant idle_since = 0;
    while (fed < target) {
        while (client.online() && client.outbox() < 8 && counted([&] {
                   return client.publish(kTelemetry, ByteView(std::string_view(kReading)), {1});
               })) {
        }
        module.react();
        if (module.pending_size() == 0) {
            // The module has nothing to say: the client must be waiting for time.
            if (now - idle_since > 600000) {
                std::fprintf(stderr, "bench_parse: stuck (state %d)\n",
                             static_cast<int>(client.state()));
                return 1;
            }
            ++now;
            counted([&] {
                client.poll(now);
                return 0;
            });
            continue;
        }
        idle_since = now;
        const std::size_t n = module.pending_size() < chunk ? module.pending_size() : chunk;
        feed_chunk(client, module.pending(), n, now);
        module.consumed(n, dump);
        fed += n;
        ++feeds;
        const Instant t = fed / 64;  // the line's pace: 64 bytes a millisecond, any chunking
        if (t > now) {
            now = t;
            counted([&] {
                client.poll(now);
                return 0;
            });
        }
    }
    // What the module said already goes in too, then a line end for a bare message still open.
    while (module.pending_size() > 0) {
        const std::size_t n = module.pending_size() < chunk ? module.pending_size() : chunk;
        feed_chunk(client, module.pending(), n, now);
        module.consumed(n, dump);
        fed += n;
        ++feeds;
    }
    feed_chunk(client, "\r\n", 2, now);
    fed += 2;
    ++feeds;
    if (dump != nullptr) {
        std::fwrite("\r\n", 1, 2, dump);
        std::fclose(dump);
    }

    const at::Counters& k = client.engine().counters();
    const qmt::ClientStats& st = client.stats();
    std::printf("bytes=%llu feeds=%llu chunk=%zu\n", static_cast<unsigned long long>(fed),
                static_cast<unsigned long long>(feeds), chunk);
    std::printf(
        "publishes=%llu acked=%llu failed=%llu | recv quoted=%llu bare=%llu delivered=%llu "
        "(%llu payload bytes) | unclaimed=%u stray=%u overflows=%u timeouts=%u "
        "result_timeouts=%u malformed=%u\n",
        static_cast<unsigned long long>(module.published),
        static_cast<unsigned long long>(app.acked), static_cast<unsigned long long>(app.failed),
        static_cast<unsigned long long>(module.recv_quoted),
        static_cast<unsigned long long>(module.recv_bare),
        static_cast<unsigned long long>(commands.messages),
        static_cast<unsigned long long>(commands.payload_bytes), k.unclaimed, k.stray_finals,
        k.overflows, k.timeouts, k.result_timeouts, st.malformed);
    std::printf("heap allocations in the client: %zu (%.3f per publish)\n", g_client_allocations,
                module.published > 0 ? static_cast<double>(g_client_allocations) /
                                           static_cast<double>(module.published)
                                     : 0.0);
    const bool clean =
        k.unclaimed == 0 && k.stray_finals == 0 && k.overflows == 0 && k.timeouts == 0 &&
        k.result_timeouts == 0 && st.malformed == 0 && app.failed == 0 && app.messages == 0 &&
        commands.messages == module.recv_quoted + module.recv_bare &&
        commands.payload_bytes == commands.messages * kRecvPayload && g_client_allocations == 0;
    if (!clean) {
        std::fprintf(stderr, "bench_parse: the stream was not parsed as the module meant it\n");
        return 1;
    }
    return 0;
}
