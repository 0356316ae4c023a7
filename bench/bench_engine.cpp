// Throughput of the AT engine's feed() path, in virtual time, with a writer that drops bytes.
//   BM_RecvStream       +QMTRECV URCs with 1024-byte bare payloads claimed through qmt::parse_recv
//   BM_OkRoundTrip      AT -> OK, one command after another
//   BM_PublishPipeline  AT+QMTPUB, '>' prompt, payload, OK, and the +QMTPUB result 4 cycles later
//                       (5 publishes in flight, the note's window)
// Each reports heap_allocs_per_msg: the global allocations made inside the timed loop (every
// allocation function is replaced by a counting one), per message or command; the core makes none.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "count_allocations.hpp"
#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/recv.hpp"

using namespace qmtkit;
using namespace qmtkit::at;

namespace {

struct NullWriter final : Writer {
    std::uint64_t bytes = 0;
    std::size_t write(const std::uint8_t*, std::size_t n) override {
        bytes += n;
        return n;
    }
};

struct CountingHandler final : CommandHandler {
    std::uint64_t finals = 0, results = 0;
    ByteView payload;
    Payload on_prompt(const CommandRef&) override { return Payload{payload, Payload::End::ctrl_z}; }
    void on_final(const CommandRef&, const Outcome&) override { ++finals; }
    ResultVerdict on_result(const CommandRef&, std::string_view) override {
        ++results;
        return ResultVerdict::done;
    }
};

struct RecvSink {
    std::uint64_t messages = 0, payload_bytes = 0;
    Claim claim(ByteView b, ClaimPhase phase) {
        const qmt::RecvParse p = qmt::parse_recv(b, phase);
        if (p.status == qmt::RecvParse::Status::need_more) return Claim::need_more();
        if (p.status == qmt::RecvParse::Status::complete) {
            ++messages;
            payload_bytes += p.message.payload.size;
        }
        return Claim::done(p.consumed);
    }
};

// Heap allocations per item over the timed loop: what the core allocated (benchmark's own
// bookkeeping happens outside the loop).
void report_allocations(benchmark::State& state, std::size_t allocations, std::int64_t items) {
    const double n = static_cast<double>(allocations);
    state.counters["heap_allocs_per_msg"] = items > 0 ? n / static_cast<double>(items) : n;
}

void feed_chunked(EngineCore& e, const std::string& s, std::size_t chunk, Instant now) {
    for (std::size_t at = 0; at < s.size(); at += chunk) {
        const std::size_t n = s.size() - at < chunk ? s.size() - at : chunk;
        e.feed(reinterpret_cast<const std::uint8_t*>(s.data()) + at, n, now);
    }
}

void BM_RecvStream(benchmark::State& state) {
    const std::size_t chunk = static_cast<std::size_t>(state.range(0));
    std::string payload;
    for (std::size_t i = 0; i < 1024; ++i) payload.push_back(static_cast<char>(' ' + (i * 7) % 90));
    std::string stream;
    constexpr int kPerBatch = 16;
    for (int i = 0; i < kPerBatch; ++i) {
        stream +=
            "\r\n+QMTRECV: 0," + std::to_string(i + 1) + ",\"devices/42/cmd\"," + payload + "\r\n";
    }
    NullWriter w;
    Engine<> engine(w);
    RecvSink sink;
    engine.on_urc_claim(cmd::urc_recv, ClaimHandler::bind<&RecvSink::claim>(&sink));
    Instant now = 0;
    const std::size_t allocs_before = test::heap_allocations();
    for (auto _ : state) {
        feed_chunked(engine, stream, chunk, now);
        ++now;
    }
    const std::size_t allocs_after = test::heap_allocations();
    engine.feed("\r\n", now);  // ends the last message
    if (sink.messages != static_cast<std::uint64_t>(state.iterations()) * kPerBatch) {
        state.SkipWithError("messages lost");
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(stream.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kPerBatch);
    report_allocations(state, allocs_after - allocs_before, state.iterations() * kPerBatch);
}
BENCHMARK(BM_RecvStream)->Arg(1)->Arg(64)->Arg(4096);

void BM_OkRoundTrip(benchmark::State& state) {
    NullWriter w;
    Engine<> engine(w);
    CountingHandler h;
    Instant now = 0;
    static const char kOk[] = "\r\nOK\r\n";
    const std::size_t allocs_before = test::heap_allocations();
    for (auto _ : state) {
        engine.submit(cmd::at, &h, 0);
        engine.feed(reinterpret_cast<const std::uint8_t*>(kOk), sizeof(kOk) - 1, now);
        ++now;
    }
    const std::size_t allocs_after = test::heap_allocations();
    if (h.finals != static_cast<std::uint64_t>(state.iterations()))
        state.SkipWithError("finals lost");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    report_allocations(state, allocs_after - allocs_before, state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(sizeof(kOk) - 1 + 3));
}
BENCHMARK(BM_OkRoundTrip);

void BM_PublishPipeline(benchmark::State& state) {
    NullWriter w;
    Engine<> engine(w);
    CountingHandler h;
    static const char kPayload[] = "{\"temperature\":21.5,\"humidity\":40,\"battery\":3.61}";
    h.payload = ByteView(reinterpret_cast<const std::uint8_t*>(kPayload), sizeof(kPayload) - 1);
    Instant now = 0;
    std::uint32_t id = 0;
    std::uint32_t ring[4] = {};  // msgIDs of the publishes still in flight
    std::uint64_t cycle = 0;
    char result[40];
    std::uint64_t rx_bytes = 0;
    const std::size_t allocs_before = test::heap_allocations();
    for (auto _ : state) {
        id = id % 65535u + 1u;
        engine.submit(cmd::pub, &h, id, 0, id, 1, 0, "devices/42/telemetry");
        engine.feed("\r\n> ", now);
        engine.feed("\r\nOK\r\n", now);
        rx_bytes += 10;
        std::uint32_t& slot = ring[cycle++ % 4u];
        if (slot != 0u) {  // the result of the publish four cycles back
            const int n = std::snprintf(result, sizeof(result), "\r\n+QMTPUB: 0,%u,0\r\n", slot);
            engine.feed(std::string_view(result, static_cast<std::size_t>(n)), now);
            rx_bytes += static_cast<std::uint64_t>(n);
        }
        slot = id;
        ++now;
    }
    const std::size_t allocs_after = test::heap_allocations();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    report_allocations(state, allocs_after - allocs_before, state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(rx_bytes + w.bytes));
    if (h.finals != static_cast<std::uint64_t>(state.iterations()))
        state.SkipWithError("finals lost");
    state.counters["in_flight_at_end"] = static_cast<double>(engine.awaiting_results());
}
BENCHMARK(BM_PublishPipeline);

}  // namespace

BENCHMARK_MAIN();
