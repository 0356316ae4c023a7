// Footprint probe (d): the QMT client in its compact configuration (qmt::CompactConfig, for an
// MCU with 20 KB of RAM), over a hand-filled Session.
#include "probe_client.hpp"

using namespace qmtkit;

namespace probe {
Uart uart;
App app;
qmt::Client<qmt::CompactConfig> client(uart, app);
}  // namespace probe

QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client_compact), qmt::Client<qmt::CompactConfig>);
QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client_compact_engine),
                    at::Engine<qmt::CompactConfig::Engine>);

int main() {
    probe::run(probe::client, probe::hand_filled_session());
}
