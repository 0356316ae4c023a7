// Footprint probe: the AT engine and the client's low-level operations only (detail::Operations
// over its Context and SessionStore, no supervisor, outbox or subscriptions): what a firmware
// that sequences the commands itself would link. Client<> always links the whole client; this
// measures the layer beneath it. -DQMTKIT_PROBE_COMPACT=1: the engine of qmt::CompactConfig.
#include "probe_config.hpp"
#include "qmtkit/qmt/operations.hpp"

using namespace qmtkit;

namespace probe {

struct Replies final : qmt::Listener {
    void on_reply(std::uint32_t ticket, const qmt::Result<qmt::Reply>& r) override {
        keep(ticket + (r ? static_cast<unsigned>(r->op) : static_cast<unsigned>(r.error().code)));
    }
};

Uart uart;
Replies replies;
at::Engine<ClientConfig::Engine> engine(uart);
char strings[ClientConfig::session_bytes];
qmt::detail::Context ctx(engine, replies);
qmt::detail::SessionStore session(strings, sizeof(strings));
qmt::detail::Operations ops(ctx, session);

}  // namespace probe

int main() {
    using namespace probe;
    static constexpr std::string_view kFilters[] = {"dev/42/cmd"};
    static constexpr std::uint8_t kQos[] = {1};
    for (;;) {
        const Instant now = clock;
        ctx.now = now;
        switch (input % 8u) {
            case 0:
                keep(ops.open("broker.example", 1883).value_or(0u));
                break;
            case 1:
                keep(ops.connect("dev-42", "dev-42", "secret").value_or(0u));
                break;
            case 2:
                keep(ops.subscribe_many(static_cast<std::uint16_t>(input), kFilters, kQos, 1)
                         .value_or(0u));
                break;
            case 3:
                keep(ops.unsubscribe_many(static_cast<std::uint16_t>(input), kFilters, 1)
                         .value_or(0u));
                break;
            case 4:
                keep(ops.query_conn().value_or(0u));
                break;
            case 5:
                keep(ops.disconnect().value_or(0u));
                break;
            case 6:
                keep(ops.close().value_or(0u));
                break;
            default:
                keep(ops.set_keepalive(static_cast<std::uint16_t>(input)).value_or(0u));
                break;
        }
        std::uint8_t chunk[sizeof(rx)];
        engine.feed(chunk, take_rx(chunk), now);
        engine.poll(now);
        keep(engine.next_deadline());
    }
}
