// libFuzzer entry point of the credential image parser (qmtkit/image/credential_image.hpp) and
// its cloud profile sessions: whatever the bytes, parse_image() returns a typed error or an
// image whose every view lies inside the input, and session_from_image() never crashes.
// The input is copied to an exactly sized buffer so ASan sees any read past its end.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "qmtkit/cloud/image_session.hpp"

namespace {

void check_inside(std::string_view v, const std::uint8_t* begin, std::size_t n, const char* what) {
    if (v.empty()) return;
    const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
    if (p < begin || p + v.size() > begin + n) {
        std::fprintf(stderr, "image fuzz: %s points outside the image\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::uint8_t> bytes(data, data + size);
    const auto r = qmtkit::image::parse_image(bytes.data(), bytes.size());
    if (!r) {
        if (qmtkit::image::to_string(r.error().code) == "unknown image error") std::abort();
        return 0;
    }
    const auto& im = *r;
    if (im.size > size || im.size != qmtkit::image::kHeaderSize + im.tlv_length + 4) std::abort();
    for (std::string_view v :
         {im.host, im.product, im.device_name, im.secret, im.client_id, im.username, im.password,
          im.region, im.imei, im.token_url, im.sign_method})
        check_inside(v, bytes.data(), im.size, "a field");
    qmtkit::cloud::ProfileStore store;
    if (qmtkit::cloud::session_from_image(im, store)) {
        if (store.session.host.empty() || store.session.client_id.empty()) std::abort();
    }
    return 0;
}
