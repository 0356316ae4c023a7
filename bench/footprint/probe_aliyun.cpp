// Footprint probe (c): the QMT client with the Aliyun device profile (cloud/device).
#include "probe_client.hpp"
#include "qmtkit/cloud/profile.hpp"

using namespace qmtkit;

namespace probe {
Uart uart;
App app;
qmt::Client<> client(uart, app);
}  // namespace probe

QMTKIT_PROBE_SIZEOF(QMTKIT_PROBE_NAME(client), qmt::Client<>);
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
