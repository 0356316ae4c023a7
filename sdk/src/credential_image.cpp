#include "qmtkit/image/credential_image.hpp"

#include <initializer_list>

#include "qmtkit/common/crc32.hpp"
#include "qmtkit/common/text.hpp"

namespace qmtkit::image {
namespace {

constexpr TagSet set(std::initializer_list<Tag> tags) {
    TagSet s = 0;
    for (Tag t : tags) s = static_cast<TagSet>(s | bit(t));
    return s;
}

std::uint16_t le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

Unexpected<ImageFault> fault(ImageError e, std::size_t offset, std::uint8_t tag = 0) {
    ImageFault f;
    f.code = e;
    f.tag = tag;
    f.offset = static_cast<std::uint16_t>(offset > 0xFFFFu ? 0xFFFFu : offset);
    return unexpected(f);
}

bool is_string(Tag t) {
    return t != Tag::port && t != Tag::expire_days && t != Tag::secure_mode;
}

// What goes on an AT command line: no control bytes, DEL or '"' (bytes >= 0x80 pass: UTF-8).
bool text_ok(std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F || c == '"') return false;
    }
    return true;
}

bool digits(std::string_view s) {
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

bool sign_method_ok(Profile p, std::string_view m) {
    if (m == "hmacsha256" || m == "hmacsha1") return true;
    return m == "hmacmd5" && p == Profile::presigned;  // Tencent signs with SHA only
}

// Stores a checked string field (the numeric tags are stored where they are checked).
void store(CredentialImage& im, Tag t, std::string_view s) {
    switch (t) {
        case Tag::host:
            im.host = s;
            break;
        case Tag::product:
            im.product = s;
            break;
        case Tag::device_name:
            im.device_name = s;
            break;
        case Tag::secret:
            im.secret = s;
            break;
        case Tag::client_id:
            im.client_id = s;
            break;
        case Tag::username:
            im.username = s;
            break;
        case Tag::password:
            im.password = s;
            break;
        case Tag::region:
            im.region = s;
            break;
        case Tag::imei:
            im.imei = s;
            break;
        case Tag::token_url:
            im.token_url = s;
            break;
        case Tag::sign_method:
            im.sign_method = s;
            break;
        case Tag::port:
        case Tag::expire_days:
        case Tag::secure_mode:
            break;
    }
}

// One known TLV's value, checked and stored. `at`: offset of its tag byte.
Expected<void, ImageFault> take(CredentialImage& im, Tag t, const std::uint8_t* v, std::size_t len,
                                std::size_t at) {
    const auto tag = static_cast<std::uint8_t>(t);
    if (!is_string(t)) {
        const std::size_t want = t == Tag::port ? 2 : 1;
        if (len != want) return fault(ImageError::bad_length, at, tag);
        if (t == Tag::port) {
            im.port = le16(v);
            if (im.port == 0) return fault(ImageError::bad_port, at, tag);
        } else if (t == Tag::expire_days) {
            im.expire_days = v[0];
            if (v[0] < 1 || v[0] > qmt::kMaxExpireDays)
                return fault(ImageError::bad_expire_days, at, tag);
        } else {
            im.secure_mode = v[0];
            if (v[0] != 3) return fault(ImageError::bad_secure_mode, at, tag);
        }
        return {};
    }
    const std::string_view s(reinterpret_cast<const char*>(v), len);
    if (t == Tag::imei) {
        if (len != kImei || !digits(s)) return fault(ImageError::bad_imei, at, tag);
    } else if (len == 0) {
        return fault(ImageError::bad_length, at, tag);
    }
    if (!text_ok(s)) return fault(ImageError::bad_text, at, tag);
    if (t == Tag::host && len > qmt::kMaxHost) return fault(ImageError::host_too_long, at, tag);
    if (t == Tag::sign_method && !sign_method_ok(im.profile, s))
        return fault(ImageError::bad_sign_method, at, tag);
    if (t == Tag::token_url && !has_prefix(s, "http://") && !has_prefix(s, "https://"))
        return fault(ImageError::bad_token_url, at, tag);
    store(im, t, s);
    return {};
}

}  // namespace

std::string_view to_string(Profile p) {
    switch (p) {
        case Profile::aliyun_aliauth:
            return "Aliyun aliauth";
        case Profile::tencent_signed:
            return "Tencent signed on the host";
        case Profile::tencent_token:
            return "Tencent token flow";
        case Profile::presigned:
            return "pre-signed";
    }
    return "unknown profile";
}

std::string_view to_string(Tag t) {
    switch (t) {
        case Tag::host:
            return "host";
        case Tag::port:
            return "port";
        case Tag::product:
            return "product";
        case Tag::device_name:
            return "device_name";
        case Tag::secret:
            return "secret";
        case Tag::client_id:
            return "client_id";
        case Tag::username:
            return "username";
        case Tag::password:
            return "password";
        case Tag::region:
            return "region";
        case Tag::imei:
            return "imei";
        case Tag::token_url:
            return "token_url";
        case Tag::expire_days:
            return "expire_days";
        case Tag::secure_mode:
            return "secure_mode";
        case Tag::sign_method:
            return "sign_method";
    }
    return "unknown tag";
}

std::string_view to_string(ImageError e) {
    switch (e) {
        case ImageError::truncated:
            return "truncated: shorter than its header or its TLV length says";
        case ImageError::bad_magic:
            return "bad magic: not a QMTK credential image";
        case ImageError::bad_version:
            return "bad version: not format version 1";
        case ImageError::bad_profile:
            return "bad profile: not 1..4";
        case ImageError::crc_mismatch:
            return "CRC mismatch: the CRC-32 does not match the image";
        case ImageError::trailing_garbage:
            return "trailing garbage: bytes after the CRC that are not erased flash (0xFF)";
        case ImageError::tlv_past_end:
            return "TLV past the end of the TLV area";
        case ImageError::duplicate_tag:
            return "duplicate tag";
        case ImageError::tag_not_for_profile:
            return "tag not used by this profile";
        case ImageError::missing_tag:
            return "missing a tag the profile requires";
        case ImageError::bad_length:
            return "bad length: wrong size for its tag, or empty";
        case ImageError::bad_text:
            return "bad text: a control byte or '\"'";
        case ImageError::host_too_long:
            return "host longer than 100 bytes";
        case ImageError::bad_port:
            return "bad port: 0";
        case ImageError::bad_imei:
            return "bad IMEI: not 15 digits";
        case ImageError::bad_expire_days:
            return "bad token lifetime: not 1..60 days";
        case ImageError::bad_secure_mode:
            return "bad secure mode: not 3 (TCP)";
        case ImageError::bad_sign_method:
            return "bad sign method";
        case ImageError::bad_token_url:
            return "bad token URL: not http:// or https://";
        case ImageError::profile_refused:
            return "the cloud profile refused the fields";
    }
    return "unknown image error";
}

TagSet required_tags(Profile p) {
    switch (p) {
        case Profile::aliyun_aliauth:
        case Profile::tencent_token:
            return set({Tag::product, Tag::device_name, Tag::secret, Tag::imei});
        case Profile::tencent_signed:
            return set({Tag::host, Tag::product, Tag::device_name, Tag::client_id, Tag::username,
                        Tag::password, Tag::imei});
        case Profile::presigned:
            return set({Tag::host, Tag::client_id, Tag::username, Tag::password, Tag::imei});
    }
    return 0;
}

TagSet optional_tags(Profile p) {
    switch (p) {
        case Profile::aliyun_aliauth:
            return set({Tag::host, Tag::port, Tag::client_id, Tag::region, Tag::secure_mode});
        case Profile::tencent_token:
            return set({Tag::host, Tag::port, Tag::token_url, Tag::expire_days});
        case Profile::tencent_signed:
            return set({Tag::port, Tag::sign_method});
        case Profile::presigned:
            return set({Tag::port, Tag::product, Tag::device_name, Tag::sign_method});
    }
    return 0;
}

ImageResult parse_image(const std::uint8_t* data, std::size_t n) {
    if (data == nullptr || n < kHeaderSize) return fault(ImageError::truncated, n);
    for (std::size_t i = 0; i < sizeof kMagic; ++i)
        if (data[i] != kMagic[i]) return fault(ImageError::bad_magic, i);
    if (data[4] != kFormatVersion) return fault(ImageError::bad_version, 4);
    if (data[5] < 1 || data[5] > 4) return fault(ImageError::bad_profile, 5);
    CredentialImage im;
    im.profile = static_cast<Profile>(data[5]);
    im.tlv_length = le16(data + 6);
    const std::size_t end = kHeaderSize + im.tlv_length;  // where the CRC starts
    if (n - kHeaderSize < im.tlv_length + kCrcSize) return fault(ImageError::truncated, n);
    im.size = end + kCrcSize;
    im.crc = le32(data + end);
    if (crc32(data, end) != im.crc) return fault(ImageError::crc_mismatch, end);
    for (std::size_t i = im.size; i < n; ++i)
        if (data[i] != kErased) return fault(ImageError::trailing_garbage, i);

    const TagSet allowed = required_tags(im.profile) | optional_tags(im.profile);
    std::size_t at = kHeaderSize;
    while (at < end) {
        if (end - at < 2) return fault(ImageError::tlv_past_end, at, data[at]);
        const std::uint8_t tag = data[at];
        const std::size_t len = data[at + 1];
        if (end - at - 2 < len) return fault(ImageError::tlv_past_end, at, tag);
        if (tag >= 1 && tag <= kLastKnownTag) {
            const auto t = static_cast<Tag>(tag);
            if (im.has(t)) return fault(ImageError::duplicate_tag, at, tag);
            if ((allowed & bit(t)) == 0) return fault(ImageError::tag_not_for_profile, at, tag);
            im.present = static_cast<TagSet>(im.present | bit(t));
            if (auto r = take(im, t, data + at + 2, len, at); !r) return unexpected(r.error());
        } else if (im.unknown_tags < 0xFF) {
            ++im.unknown_tags;
        }
        at += 2 + len;
    }
    const TagSet missing = required_tags(im.profile) & static_cast<TagSet>(~im.present);
    for (std::uint8_t t = 1; t <= kLastKnownTag; ++t)
        if ((missing & bit(static_cast<Tag>(t))) != 0)
            return fault(ImageError::missing_tag, kHeaderSize, t);
    return im;
}

}  // namespace qmtkit::image
