// Footprint probe: the QMT client configured from a credential image at boot, as a firmware
// does it (docs/image-format.md): the image parser, session_from_image() and the cloud profiles
// it dispatches to (Aliyun aliauth, Tencent token, pre-signed). Default configuration, or
// -DQMTKIT_PROBE_COMPACT=1 for qmt::CompactConfig.
#include "probe_client.hpp"
#include "probe_config.hpp"
#include "qmtkit/cloud/image_session.hpp"

using namespace qmtkit;

namespace probe {
Uart uart;
App app;
qmt::Client<ClientConfig> client(uart, app);
}  // namespace probe

QMTKIT_PROBE_SIZEOF(qmtkit_sizeof_image_fault, image::ImageFault);

int main() {
    // The flash region the flasher wrote: its bytes are unknown to the compiler.
    const ByteView region(reinterpret_cast<const std::uint8_t*>(image::kFlashAddress),
                          image::kFlashRegion);
    cloud::ProfileStore profile;
    probe::keep(cloud::load_image(region, profile).has_value());
    probe::run(probe::client, profile.session);
}
