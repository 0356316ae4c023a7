// The host side of the credential image (docs/image-format.md): TLV encoding, and the image of
// one device of a manifest (`qmtkit image build`; factory provisioning calls the same). Every
// image is checked with the firmware's own parser (and its cloud profile) before it is
// returned: an image the device would refuse is never written.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "qmtkit/image/credential_image.hpp"
#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::image {

// Why an image cannot be made. Never holds a secret.
class ImageWriteError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct Field {
    Tag tag;
    std::string value;  // raw bytes: text as is, port little-endian, a day count one byte
};
Field text(Tag t, std::string value);
Field u8(Tag t, std::uint8_t v);
Field u16(Tag t, std::uint16_t v);

// Header, the fields in order, CRC-32; then parse_image() and session_from_image() on it.
std::vector<std::uint8_t> encode_image(Profile p, const std::vector<Field>& fields);

// "ImageError description (tag name, offset N)": one line, no field value.
std::string describe(const ImageFault& f);

struct DeviceImageOptions {
    std::string imei;            // 15 digits with the Luhn check digit
    bool sign_on_host = false;   // aliyun: sign here (profile 4) instead of aliauth (profile 1)
    std::uint64_t now_unix = 0;  // tencent: the signed username expires at now + expiry_s; 0: now
};

struct DeviceImage {
    std::vector<std::uint8_t> bytes;
    Profile profile = Profile::presigned;
    std::optional<std::uint64_t> expires_unix;  // tencent: when the signed username expires
};

// The image of `d` (a device of `m`) with its resolved `secret`:
//   aliyun         profile 1 (the module signs), or 4 with sign_on_host (signed here, no
//                  timestamp: the password does not expire)
//   tencent        profile 2: signed here, valid until now + expiry_s; the PSK stays here
//   tencent-token  profile 3 (the module fetches its token; sign_on_host refused)
// The IMEI must match the device's "imei" in the manifest, when it has one.
DeviceImage device_image(const manifest::Manifest& m, const manifest::Device& d,
                         const std::string& secret, const DeviceImageOptions& o);

}  // namespace qmtkit::image
