// Credential images for the parser's tests, written from the format's table (docs/image-format.md)
// independently of the host writer (tools/qmtkit/image), so each checks the other.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qmtkit/common/crc32.hpp"
#include "qmtkit/image/credential_image.hpp"

namespace qmtkit::test {

class ImageBytes {
  public:
    explicit ImageBytes(std::uint8_t profile) : profile_(profile) {}
    ImageBytes& raw(std::uint8_t tag, const std::vector<std::uint8_t>& v) {
        tlv_.push_back(tag);
        tlv_.push_back(static_cast<std::uint8_t>(v.size()));
        tlv_.insert(tlv_.end(), v.begin(), v.end());
        return *this;
    }
    ImageBytes& str(image::Tag t, const std::string& s) {
        return raw(static_cast<std::uint8_t>(t), std::vector<std::uint8_t>(s.begin(), s.end()));
    }
    ImageBytes& u8(image::Tag t, std::uint8_t v) { return raw(static_cast<std::uint8_t>(t), {v}); }
    ImageBytes& u16(image::Tag t, std::uint16_t v) {
        return raw(static_cast<std::uint8_t>(t),
                   {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)});
    }
    // Raw bytes appended to the TLV area (a TLV cut short, ...).
    ImageBytes& tail(const std::vector<std::uint8_t>& v) {
        tlv_.insert(tlv_.end(), v.begin(), v.end());
        return *this;
    }
    ImageBytes& version(std::uint8_t v) {
        version_ = v;
        return *this;
    }

    // Header, TLVs and a correct CRC.
    std::vector<std::uint8_t> bytes() const {
        std::vector<std::uint8_t> b = {'Q',
                                       'M',
                                       'T',
                                       'K',
                                       version_,
                                       profile_,
                                       static_cast<std::uint8_t>(tlv_.size() & 0xFF),
                                       static_cast<std::uint8_t>(tlv_.size() >> 8)};
        b.insert(b.end(), tlv_.begin(), tlv_.end());
        const std::uint32_t c = crc32(b.data(), b.size());
        for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(c >> (8 * i)));
        return b;
    }

  private:
    std::uint8_t profile_;
    std::uint8_t version_ = 1;
    std::vector<std::uint8_t> tlv_;
};

// Rewrites the CRC of an image whose bytes a test changed on purpose.
inline void fix_crc(std::vector<std::uint8_t>& b) {
    const std::size_t end = b.size() - 4;
    const std::uint32_t c = crc32(b.data(), end);
    for (std::size_t i = 0; i < 4; ++i) b[end + i] = static_cast<std::uint8_t>(c >> (8 * i));
}

inline const std::string kTestImei = "490154203237518";

// One valid image of each profile (the property test's subjects).
inline ImageBytes aliyun_image() {
    using image::Tag;
    ImageBytes b(1);
    b.str(Tag::product, "a1demoPK001")
        .str(Tag::device_name, "meter-0001")
        .str(Tag::secret, "AliSecret-0123")
        .str(Tag::imei, kTestImei)
        .str(Tag::region, "cn-hangzhou")
        .u16(Tag::port, 1883)
        .u8(Tag::secure_mode, 3);
    return b;
}
inline ImageBytes tencent_signed_image() {
    using image::Tag;
    ImageBytes b(2);
    b.str(Tag::host, "TENPID0001.iotcloud.tencentdevices.com")
        .str(Tag::product, "TENPID0001")
        .str(Tag::device_name, "gate01")
        .str(Tag::client_id, "TENPID0001gate01")
        .str(Tag::username, "TENPID0001gate01;12010126;ABCDE;2000000000")
        .str(Tag::password, "935daa84d621a268;hmacsha256")
        .str(Tag::imei, kTestImei)
        .str(Tag::sign_method, "hmacsha256");
    return b;
}
inline ImageBytes token_image() {
    using image::Tag;
    ImageBytes b(3);
    b.str(Tag::product, "iotdemo01")
        .str(Tag::device_name, "meter-3")
        .str(Tag::secret, "SuiteSecret-1")
        .str(Tag::imei, kTestImei)
        .str(Tag::token_url, "http://127.0.0.1:8080/token")
        .u8(Tag::expire_days, 7)
        .str(Tag::host, "127.0.0.1")
        .u16(Tag::port, 1884);
    return b;
}
inline ImageBytes presigned_image() {
    using image::Tag;
    ImageBytes b(4);
    b.str(Tag::host, "broker.example")
        .u16(Tag::port, 8883)
        .str(Tag::client_id, "dev-42")
        .str(Tag::username, "dev-42-user")
        .str(Tag::password, "Pw-0042")
        .str(Tag::imei, kTestImei)
        .raw(200, {1, 2, 3});  // an unknown tag of a later version: skipped
    return b;
}

}  // namespace qmtkit::test
