// Throughput against the module's five-message window, deterministic: the core client and the
// emulator's module model (tools/bc28-sim/model) in one process under a virtual clock, the
// network acknowledging after the model's RTT. For each window size and RTT it reports the
// virtual time 200 QoS 1 publishes take (counters: virtual_ms, one_at_a_time_ms, speedup), and
// Google Benchmark's own timing gives the host CPU cost of driving them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "bc28sim/module.hpp"
#include "fake_network.hpp"
#include "qmtkit/qmt/client.hpp"

using namespace qmtkit;

namespace {

template <std::size_t W>
struct WindowConfig : qmt::ClientConfig {
    static constexpr std::size_t window = W;
    static constexpr std::size_t outbox_bytes = 16 * 64;  // 16 small readings
};

struct Quiet final : qmt::Listener {
    std::uint32_t published = 0;
    void on_published(std::uint32_t, const qmt::Result<qmt::PublishReport>& r) override {
        published += r ? 1u : 0u;
    }
};

// The module's UART as seen by the client: bytes the client writes go into the model.
struct ToModule final : at::Writer {
    bc28sim::Module* module = nullptr;
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        module->feed(std::string_view(reinterpret_cast<const char*>(d), n));
        return n;
    }
};

template <std::size_t W>
void BM_Window(benchmark::State& state) {
    const auto rtt = static_cast<std::uint32_t>(state.range(0));
    constexpr std::uint32_t kMessages = 200;
    std::uint64_t virtual_ms = 0;
    for (auto _ : state) {
        bc28sim::test::FakeNetwork net;
        std::string from_module;
        bc28sim::Options opt;
        opt.rtt_ms = rtt;
        opt.proc_ms = 0;  // as the figures in docs/performance were taken
        bc28sim::Module module(
            net, [&](std::string_view b) { from_module.append(b); }, opt);
        ToModule uart;
        uart.module = &module;
        Quiet app;
        qmt::Client<WindowConfig<W>> client(uart, app);
        qmt::Session s;
        s.host = "fd00::";  // an address (no DNS round trip), as long as the old "broker"
        s.client_id = "bench";
        s.settings.pkt_timeout_s = 60;
        client.configure(s);
        Instant now = 0;
        client.start(now);
        auto step = [&] {
            std::string bytes;
            bytes.swap(from_module);
            if (!bytes.empty())
                client.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), now);
            client.poll(now);
            module.advance(now);
            const auto md = module.next_deadline();
            const Instant next = std::min<Instant>(client.next_deadline(), md ? *md : ~Instant{0});
            if (from_module.empty()) now = std::max(now + 1, next == ~Instant{0} ? now + 1 : next);
        };
        while (!client.online() && now < 600000) step();
        const Instant t0 = now;
        std::uint32_t queued = 0;
        while (app.published < kMessages && now < t0 + 3600000) {
            while (queued < kMessages &&
                   client.publish("bench/window", ByteView(std::string_view("21.5 C")), {1}))
                ++queued;
            step();
        }
        virtual_ms = now - t0;
        if (app.published != kMessages) state.SkipWithError("not every publish was acknowledged");
    }
    state.counters["window"] = static_cast<double>(W);
    state.counters["virtual_ms"] = static_cast<double>(virtual_ms);
    state.counters["one_at_a_time_ms"] = static_cast<double>(kMessages) * rtt;
    state.counters["speedup"] =
        virtual_ms > 0 ? static_cast<double>(kMessages) * rtt / static_cast<double>(virtual_ms) : 0;
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kMessages);
}

BENCHMARK_TEMPLATE(BM_Window, 1)->Arg(200)->Arg(2000)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Window, 5)->Arg(200)->Arg(2000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
