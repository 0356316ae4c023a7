#include "qmtkit/cloud/image_session.hpp"

namespace qmtkit::cloud {

Expected<void, image::ImageFault> session_from_image(const image::CredentialImage& im,
                                                     ProfileStore& out) {
    qmt::Result<void> r;
    switch (im.profile) {
        case image::Profile::aliyun_aliauth: {
            AliyunDevice d;
            d.product_key = im.product;
            d.device_name = im.device_name;
            d.device_secret = im.secret;
            if (im.has(image::Tag::region)) d.region = im.region;
            d.endpoint = im.host;
            d.port = im.port;
            d.client_id = im.client_id;
            r = aliyun(d, out);
            break;
        }
        case image::Profile::tencent_token: {
            TencentTokenDevice d;
            d.product_id = im.product;
            d.device_name = im.device_name;
            d.device_secret = im.secret;
            d.expire_days = im.expire_days;
            d.url = im.token_url;
            d.host = im.host;
            d.port = im.port;
            r = tencent_token(d, out);
            break;
        }
        case image::Profile::tencent_signed:
        case image::Profile::presigned: {
            PresignedDevice d;
            d.host = im.host;
            d.port = im.port;
            d.client_id = im.client_id;
            d.username = im.username;
            d.password = im.password;
            r = presigned(d, out);
            break;
        }
    }
    if (!r) {
        image::ImageFault f;
        f.code = image::ImageError::profile_refused;
        f.detail = r.error().code;
        return unexpected(f);
    }
    return {};
}

image::ImageResult load_image(ByteView bytes, ProfileStore& out) {
    auto im = image::parse_image(bytes);
    if (!im) return im;
    if (auto r = session_from_image(*im, out); !r) return unexpected(r.error());
    return im;
}

}  // namespace qmtkit::cloud
