#include "qmtkit/cloud/image_session.hpp"
#include "qmtkit/common/crc32.hpp"
#include "qmtkit/image/writer.hpp"

namespace qmtkit::image {

Field text(Tag t, std::string value) {
    return {t, std::move(value)};
}
Field u8(Tag t, std::uint8_t v) {
    return {t, std::string(1, static_cast<char>(v))};
}
Field u16(Tag t, std::uint16_t v) {
    return {t, std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}};
}

std::string describe(const ImageFault& f) {
    std::string s(to_string(f.code));
    if (f.code == ImageError::profile_refused) s += ": " + std::string(qmt::to_string(f.detail));
    s += " (";
    if (f.tag != 0) {
        s += "tag " + std::to_string(f.tag);
        if (f.tag <= kLastKnownTag) s += " " + std::string(to_string(static_cast<Tag>(f.tag)));
        s += ", ";
    }
    return s + "offset " + std::to_string(f.offset) + ")";
}

std::vector<std::uint8_t> encode_image(Profile p, const std::vector<Field>& fields) {
    std::vector<std::uint8_t> b = {
        kMagic[0], kMagic[1], kMagic[2], kMagic[3], kFormatVersion, static_cast<std::uint8_t>(p),
        0,         0};
    for (const Field& f : fields) {
        if (f.value.size() > 255)
            throw ImageWriteError(std::string(to_string(f.tag)) + " is " +
                                  std::to_string(f.value.size()) +
                                  " bytes; an image field holds at most 255");
        b.push_back(static_cast<std::uint8_t>(f.tag));
        b.push_back(static_cast<std::uint8_t>(f.value.size()));
        b.insert(b.end(), f.value.begin(), f.value.end());
    }
    const std::size_t tlv = b.size() - kHeaderSize;
    if (tlv + kHeaderSize + kCrcSize > kFlashRegion)
        throw ImageWriteError("the image is larger than its 4 KB flash region");
    b[6] = static_cast<std::uint8_t>(tlv & 0xFF);
    b[7] = static_cast<std::uint8_t>(tlv >> 8);
    const std::uint32_t c = crc32(b.data(), b.size());
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(c >> (8 * i)));

    // The firmware's own checks, so that nothing it would refuse leaves the host.
    cloud::ProfileStore store;
    const auto r = cloud::load_image(ByteView(b.data(), b.size()), store);
    if (!r) throw ImageWriteError("the device would refuse this image: " + describe(r.error()));
    return b;
}

}  // namespace qmtkit::image
