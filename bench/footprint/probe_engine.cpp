// Footprint probe: the AT engine alone, as a firmware that drives its own commands uses it
// (at::Engine<>, or with -DQMTKIT_PROBE_COMPACT=1 the engine of qmt::CompactConfig).
#include "probe_config.hpp"
#include "qmtkit/at/commands.hpp"

using namespace qmtkit;

namespace probe {

struct Handler final : at::CommandHandler {
    void on_info(const at::CommandRef& r, std::string_view line) override {
        keep_text(line.data(), line.size() + r.tag);
    }
    at::Payload on_prompt(const at::CommandRef& r) override {
        static const std::uint8_t kBody[] = {'2', '1', '.', '5'};
        return at::Payload{ByteView(kBody, sizeof(kBody)),
                           r.prompt_late ? at::Payload::End::fixed : at::Payload::End::ctrl_z};
    }
    void on_final(const at::CommandRef& r, const at::Outcome& o) override {
        keep(r.seq + (o ? 0u : static_cast<unsigned>(o.error().kind)));
    }
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override {
        keep_text(line.data(), line.size() + r.seq);
        return input & 2u ? at::ResultVerdict::done : at::ResultVerdict::intermediate;
    }
    void on_result_error(const at::CommandRef& r, const at::AtError& e) override {
        keep(r.seq + static_cast<unsigned>(e.cme));
    }
};

Uart uart;
Handler handler;
at::Engine<EngineConfig> engine(uart);

void on_stat(void*, std::string_view line) {
    keep_text(line.data(), line.size());
}
at::Claim on_recv(void*, ByteView b, at::ClaimPhase phase) {
    return phase == at::ClaimPhase::line_end ? at::Claim::done(b.size) : at::Claim::need_more();
}
void on_trace(void*, at::TraceKind k, std::string_view text) {
    keep_text(text.data(), text.size() + static_cast<unsigned>(k));
}

}  // namespace probe

#if QMTKIT_PROBE_COMPACT
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_engine_compact, at::Engine<probe::EngineConfig>);
#else
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_engine, at::Engine<>);
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_engine_core, at::EngineCore);
#endif

int main() {
    using namespace probe;
    engine.set_byte_time_us(input);
    engine.set_trace(at::TraceHook(nullptr, on_trace));
    engine.on_urc(at::cmd::urc_stat, at::UrcHandler(nullptr, on_stat));
    engine.on_urc_claim(at::cmd::urc_recv, at::ClaimHandler(nullptr, on_recv));
    for (;;) {
        const Instant now = clock;
        switch (input % 5u) {
            case 0:
                keep(engine.submit(at::cmd::at, &handler, 1).value_or(0u));
                break;
            case 1:
                keep(engine.submit(at::cmd::open, &handler, 2, 0, "broker.example", 1883)
                         .value_or(0u));
                break;
            case 2:
                keep(engine.submit(at::cmd::pub, &handler, 3, 0, input, 1, 0, "dev/telemetry")
                         .value_or(0u));
                break;
            case 3:
                keep(engine.abandon(input) + engine.on_wire(input));
                break;
            default:
                engine.abort_all();
                break;
        }
        std::uint8_t chunk[sizeof(rx)];
        engine.feed(chunk, take_rx(chunk), now);
        engine.poll(now);
        keep(engine.next_deadline());
        keep(engine.counters().unclaimed + engine.queued() + engine.idle() + engine.settling());
    }
}
