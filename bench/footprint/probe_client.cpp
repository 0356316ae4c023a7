// Footprint probe (b): the QMT client (with its engine) over a hand-filled Session.
#include "probe_client.hpp"

using namespace qmtkit;

namespace probe {
Uart uart;
App app;
qmt::Client<> client(uart, app);
}  // namespace probe

QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_client, qmt::Client<>);
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_client_core, qmt::ClientCore);
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_client_engine, at::Engine<qmt::ClientConfig::Engine>);

int main() {
    probe::run(probe::client, probe::hand_filled_session());
}
