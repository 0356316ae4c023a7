// A credential image (qmtkit/image/credential_image.hpp) to the session of its cloud profile:
//
//   1 Aliyun aliauth    -> cloud::aliyun         (the module signs with the device secret)
//   2 Tencent signed    -> cloud::presigned      (user / password signed on the host when the
//                                                 image was built: the device has no HMAC and no
//                                                 trusted clock, and the PSK never leaves the host)
//   3 Tencent token     -> cloud::tencent_token  (the module fetches the token)
//   4 pre-signed        -> cloud::presigned
//
// The session's strings are views into the image and into `out`: both must outlive
// ClientCore::configure() (which copies them).
#pragma once

#include "qmtkit/cloud/profile.hpp"
#include "qmtkit/image/credential_image.hpp"

namespace qmtkit::cloud {

// image::ImageError::profile_refused (with the profile's qmt::Error as detail) when the profile
// cannot compose the session (e.g. a composed host longer than the module's 100 bytes).
Expected<void, image::ImageFault> session_from_image(const image::CredentialImage& im,
                                                     ProfileStore& out);

// parse_image() then session_from_image(): what a firmware calls at boot on its flash region.
image::ImageResult load_image(ByteView bytes, ProfileStore& out);

}  // namespace qmtkit::cloud
