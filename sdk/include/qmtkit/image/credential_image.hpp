// The device credential image, format version 1 (docs/image-format.md): what a flasher writes
// to the last 4 KB of code memory and the firmware reads at boot. Little-endian:
//
//   0 "QMTK" | 4 version = 1 | 5 profile | 6 L (u16) | 8 L bytes of TLVs | 8+L CRC-32 (u32)
//
// parse_image() checks bounds, CRC, every field and the tags the profile needs, and returns
// views into the caller's bytes (no copy, no heap): the image must outlive them. It never reads
// outside [data, data + n), whatever the bytes are; every corrupt form is a typed ImageFault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/common/expected.hpp"
#include "qmtkit/common/types.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::image {

inline constexpr std::uint8_t kMagic[4] = {'Q', 'M', 'T', 'K'};
inline constexpr std::uint8_t kFormatVersion = 1;
inline constexpr std::size_t kHeaderSize = 8;
inline constexpr std::size_t kCrcSize = 4;
inline constexpr std::size_t kImei = 15;                     // ASCII digits
inline constexpr std::uint8_t kErased = 0xFF;                // flash after the CRC, if any
inline constexpr std::uint32_t kFlashAddress = 0x003FF000u;  // last 4 KB of 4 MB (convention)
inline constexpr std::size_t kFlashRegion = 4096;

enum class Profile : std::uint8_t {
    aliyun_aliauth = 1,  // the module signs (AT+QMTCFG="aliauth"): holds the device secret
    tencent_signed = 2,  // signed on the host when the image was built: user + password
    tencent_token = 3,   // the module fetches a token (AT+QMTTENAUTH): holds the device secret
    presigned = 4,       // client id / user / password computed on the host
};
std::string_view to_string(Profile p);  // "Aliyun aliauth", ...

enum class Tag : std::uint8_t {
    host = 1,
    port = 2,     // u16
    product = 3,  // Aliyun product key / Tencent product id
    device_name = 4,
    secret = 5,  // device secret (Aliyun, IoT Suite) / PSK
    client_id = 6,
    username = 7,
    password = 8,
    region = 9,
    imei = 10,  // 15 ASCII digits
    token_url = 11,
    expire_days = 12,  // u8, 1..60
    secure_mode = 13,  // u8: 3 (TCP) only in version 1
    sign_method = 14,  // ASCII
};
inline constexpr std::uint8_t kLastKnownTag = 14;
std::string_view to_string(Tag t);  // "host", "port", ...

// One bit per known tag (bit t).
using TagSet = std::uint16_t;
constexpr TagSet bit(Tag t) {
    return static_cast<TagSet>(1u << static_cast<unsigned>(t));
}
// The tags a profile must have, and those it may have besides. A known tag outside both is
// refused (tag_not_for_profile): e.g. a PSK in a signed-on-host image would be a secret the
// device has no use for. Unknown tags (> kLastKnownTag) are skipped.
TagSet required_tags(Profile p);
TagSet optional_tags(Profile p);

enum class ImageError : std::uint8_t {
    truncated,            // shorter than the header, or than 8 + L + 4
    bad_magic,            // not "QMTK"
    bad_version,          // not format version 1
    bad_profile,          // not 1..4
    crc_mismatch,         // the CRC-32 does not match bytes 0 .. 8+L-1
    trailing_garbage,     // bytes after the CRC that are not erased flash (0xFF)
    tlv_past_end,         // a TLV's header or value runs past the TLV area
    duplicate_tag,        // a known tag given twice
    tag_not_for_profile,  // a known tag this profile does not use
    missing_tag,          // a tag the profile requires is absent
    bad_length,           // a fixed-size field of the wrong size, or an empty string
    bad_text,             // a control byte or '"' (it could not go on an AT command line)
    host_too_long,        // > 100 bytes (the module's limit)
    bad_port,             // 0
    bad_imei,             // not 15 ASCII digits
    bad_expire_days,      // not 1..60
    bad_secure_mode,      // not 3 (the module's MQTT connection is plain TCP)
    bad_sign_method,      // not one the profile's cloud signs with
    bad_token_url,        // not http:// or https://
    profile_refused,      // the cloud profile refused the fields (ImageFault::detail)
};
std::string_view to_string(ImageError e);

struct ImageFault {
    ImageError code = ImageError::truncated;
    std::uint8_t tag = 0;                         // the tag concerned, 0: none
    std::uint16_t offset = 0;                     // byte offset in the image where it was found
    qmt::Error detail = qmt::Error::field_empty;  // with profile_refused
};

// A parsed image: views into the bytes given to parse_image().
struct CredentialImage {
    Profile profile = Profile::presigned;
    std::uint16_t tlv_length = 0;
    std::uint32_t crc = 0;
    std::size_t size = 0;  // 8 + L + 4
    TagSet present = 0;
    std::uint8_t unknown_tags = 0;  // skipped (saturates at 255)
    std::string_view host, product, device_name, secret, client_id, username, password, region,
        imei, token_url, sign_method;
    std::uint16_t port = 1883;      // default when absent
    std::uint8_t expire_days = 60;  // default when absent
    std::uint8_t secure_mode = 3;   // default when absent
    bool has(Tag t) const { return (present & bit(t)) != 0; }
};

using ImageResult = Expected<CredentialImage, ImageFault>;

// `data` is the image, possibly followed by erased flash (0xFF) up to `n` (a whole flash region
// may be passed); anything else after the CRC is trailing_garbage.
ImageResult parse_image(const std::uint8_t* data, std::size_t n);
inline ImageResult parse_image(ByteView bytes) {
    return parse_image(bytes.data, bytes.size);
}

}  // namespace qmtkit::image
