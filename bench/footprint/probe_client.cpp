// Footprint probe: the QMT client (with its engine) over a hand-filled Session: qmt::Client<>,
// or with -DQMTKIT_PROBE_COMPACT=1 qmt::Client<CompactConfig>. Also the RAM of its parts.
#include "probe_client.hpp"
#include "probe_config.hpp"

using namespace qmtkit;

namespace probe {
Uart uart;
App app;
qmt::Client<ClientConfig> client(uart, app);
}  // namespace probe

#if QMTKIT_PROBE_COMPACT
QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client_compact), qmt::Client<qmt::CompactConfig>);
QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client_compact_engine),
                    at::Engine<qmt::CompactConfig::Engine>);
#if QMTKIT_TRACE
QMTKIT_PROBE_PARTS(qmt::CompactConfig, compact);
#else
QMTKIT_PROBE_PARTS(qmt::CompactConfig, compact_fw);
#endif
#else
QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client), qmt::Client<>);
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_client_core, qmt::ClientCore);
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_client_engine, at::Engine<qmt::ClientConfig::Engine>);
#if QMTKIT_TRACE
QMTKIT_PROBE_PARTS(qmt::ClientConfig, default);
#else
QMTKIT_PROBE_PARTS(qmt::ClientConfig, default_fw);
#endif
#endif

int main() {
    probe::run(probe::client, probe::hand_filled_session());
}
