// Footprint probe: the QMT client with the Aliyun device profile (cloud/device), in the default
// configuration or (-DQMTKIT_PROBE_COMPACT=1) qmt::CompactConfig.
#include "probe_client.hpp"
#include "probe_config.hpp"
#include "qmtkit/cloud/profile.hpp"

using namespace qmtkit;

namespace probe {
Uart uart;
App app;
qmt::Client<ClientConfig> client(uart, app);
}  // namespace probe

#if QMTKIT_PROBE_COMPACT
QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client_compact), qmt::Client<qmt::CompactConfig>);
#else
QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client), qmt::Client<>);
#endif
QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_profile_store, cloud::ProfileStore);

int main() {
    cloud::AliyunDevice device;
    device.product_key = "a1PK";
    device.device_name = "dev-42";
    device.device_secret = "device-secret";
    cloud::ProfileStore profile;  // short-lived: configure() copies what it needs
    probe::keep(cloud::aliyun(device, profile).has_value());
    probe::run(probe::client, profile.session);
}
