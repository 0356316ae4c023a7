// `qmtkit image inspect FILE` and `qmtkit image build ...`: the device credential image
// (docs/image-format.md) that flashers write to the last 4 KB of code memory. inspect reads a
// .bin or an Intel HEX file (detected by content) through the firmware's own parser and prints
// its fields with every secret as "***"; a corrupt image is one line naming the parser's error
// and exit status 2. build makes the image of one manifest device (qmtkit_image, the writer
// factory provisioning uses too). No secret appears in any output or error message.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common.hpp"
#include "qmtkit/cloud/image_session.hpp"
#include "qmtkit/image/intel_hex.hpp"
#include "qmtkit/image/writer.hpp"
#include "qmtkit/manifest/manifest.hpp"
#include "session.hpp"

// 0 in the Windows build: inspect only; build needs the manifest library (OpenSSL).
#ifndef QMTKIT_CLI_CLOUD
#define QMTKIT_CLI_CLOUD 1
#endif

namespace qmtkit::cli {
namespace {

namespace im = qmtkit::image;
namespace mf = qmtkit::manifest;

std::string hex32(std::uint32_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << std::uppercase << std::setw(8) << std::setfill('0') << v;
    return s.str();
}

// ---------------------------------------------------------------------------- inspect

struct InspectOpts {
    std::string file;
};

bool is_secret(im::Tag t) {
    return t == im::Tag::secret || t == im::Tag::password;
}

std::string field_value(const im::CredentialImage& c, im::Tag t) {
    if (is_secret(t)) return "***";
    switch (t) {
        case im::Tag::host:
            return std::string(c.host);
        case im::Tag::port:
            return std::to_string(c.port);
        case im::Tag::product:
            return std::string(c.product);
        case im::Tag::device_name:
            return std::string(c.device_name);
        case im::Tag::client_id:
            return std::string(c.client_id);
        case im::Tag::username:
            return std::string(c.username);
        case im::Tag::region:
            return std::string(c.region);
        case im::Tag::imei:
            return std::string(c.imei);
        case im::Tag::token_url:
            return std::string(c.token_url);
        case im::Tag::expire_days:
            return std::to_string(c.expire_days);
        case im::Tag::secure_mode:
            return std::to_string(c.secure_mode);
        case im::Tag::sign_method:
            return std::string(c.sign_method);
        case im::Tag::secret:
        case im::Tag::password:
            break;
    }
    return "***";
}

int run_inspect(const InspectOpts& o) {
    const std::string tool = "image inspect";
    std::string why;
    const auto content = mf::read_text_file(o.file, false, &why);
    if (!content) {
        fail(tool, o.file + ": " + why);
        return kExitBadImage;
    }
    std::vector<std::uint8_t> bytes(content->begin(), content->end());
    std::string form = "binary";
    if (im::looks_like_intel_hex(*content)) {
        try {
            auto hex = im::from_intel_hex(*content);
            form = "Intel HEX at " + hex32(hex.address);
            bytes = std::move(hex.bytes);
        } catch (const im::HexError& e) {
            fail(tool, o.file + ": Intel HEX " + e.what());
            return kExitBadImage;
        }
    }
    cloud::ProfileStore store;
    const auto r = cloud::load_image(ByteView(bytes.data(), bytes.size()), store);
    if (!r) {
        fail(tool, o.file + ": " + im::describe(r.error()));
        return kExitBadImage;
    }
    const im::CredentialImage& c = *r;
    const auto row = [](const std::string& k, const std::string& v) {
        std::cout << std::left << std::setw(16) << k << v << '\n';
    };
    row("file", o.file + " (" + form + ", " + std::to_string(bytes.size()) + " bytes)");
    row("format", "QMTK version " + std::to_string(im::kFormatVersion));
    row("profile", std::to_string(static_cast<int>(c.profile)) + " (" +
                       std::string(im::to_string(c.profile)) + ")");
    row("size", std::to_string(c.size) + " bytes (TLV area " + std::to_string(c.tlv_length) +
                    "), CRC-32 " + hex32(c.crc) + " ok");
    for (std::uint8_t t = 1; t <= im::kLastKnownTag; ++t) {
        const auto tag = static_cast<im::Tag>(t);
        if (c.has(tag)) row(std::string(im::to_string(tag)), field_value(c, tag));
    }
    if (c.unknown_tags != 0) row("unknown tags", std::to_string(c.unknown_tags) + " (skipped)");
    // What the firmware brings up with it (host and client id as its profile composes them).
    const qmt::Session& s = store.session;
    row("broker", std::string(s.host) + ":" + std::to_string(s.port));
    row("mqtt client id", std::string(s.client_id));
    std::cout.flush();
    return kExitOk;
}

// ------------------------------------------------------------------------------ build

struct BuildOpts {
    std::string manifest, device_name, imei, out, format, address_text;
    bool sign_on_host = false;
    CLI::Option *manifest_opt = nullptr, *name_opt = nullptr, *imei_opt = nullptr,
                *out_opt = nullptr, *format_opt = nullptr, *address_opt = nullptr;
};

#if QMTKIT_CLI_CLOUD
bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// "0x003FF000" or decimal; the image's 4 KB must fit below 4 GB.
std::uint32_t parse_address(const std::string& text) {
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const std::string digits = hex ? text.substr(2) : text;
    const std::string allowed = "0 to 0xFFFFF000 (decimal or 0x hex)";
    bool ok = !digits.empty() && digits.size() <= 10;
    std::uint64_t v = 0;
    for (char ch : digits) {
        const int d = ch >= '0' && ch <= '9'   ? ch - '0'
                      : !hex                   ? -1
                      : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                      : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                               : -1;
        if (d < 0) ok = false;
        v = v * (hex ? 16 : 10) + static_cast<std::uint64_t>(d < 0 ? 0 : d);
    }
    if (!ok || v > 0xFFFFF000u)
        throw UsageError("Invalid flash address given: " + text + " (--flash-address takes " +
                         allowed + ").");
    return static_cast<std::uint32_t>(v);
}

// The device: by --device-name (narrowed by --imei when names repeat) or by --imei.
const mf::Device& pick(const BuildOpts& o, const mf::Manifest& m) {
    std::vector<const mf::Device*> found;
    for (const auto& d : m.devices) {
        if (given(o.name_opt) ? d.device_name == o.device_name : d.imei && *d.imei == o.imei)
            found.push_back(&d);
    }
    if (found.size() > 1) {
        std::vector<const mf::Device*> narrowed;
        for (const auto* d : found)
            if (d->imei && *d->imei == o.imei) narrowed.push_back(d);
        found = narrowed;
    }
    if (found.size() == 1) return *found.front();
    if (!given(o.name_opt))
        throw UsageError("No device with IMEI " + o.imei + " in " + o.manifest +
                         " (give --device-name).");
    if (found.empty())
        throw UsageError("No device named '" + o.device_name + "' in " + o.manifest + ".");
    throw UsageError(std::to_string(found.size()) + " devices named '" + o.device_name + "' in " +
                     o.manifest + " and none with IMEI " + o.imei + ".");
}

std::string utc(std::uint64_t unix_s) {
    const auto t = static_cast<std::time_t>(unix_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::ostringstream s;
    s << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return s.str();
}

int run_build(const BuildOpts& o) {
    const std::string tool = "image build";
    require(o.manifest_opt, "--manifest");
    require(o.imei_opt, "--imei (the module's IMEI, stored in the image)");
    require(o.out_opt, "--out");
    if (!mf::imei_valid(o.imei))
        throw UsageError("Invalid IMEI given: " + o.imei +
                         " (--imei takes 15 decimal digits ending in their Luhn check digit).");
    std::string format = o.format;
    if (!given(o.format_opt)) format = ends_with(o.out, ".hex") ? "hex" : "bin";
    format = parse_choice(format, "format", "--format", {"bin", "hex"});
    if (given(o.address_opt) && format != "hex")
        throw UsageError("--flash-address is for --format hex (a .bin has no address).");
    const std::uint32_t address =
        given(o.address_opt) ? parse_address(o.address_text) : im::kFlashAddress;

    auto loaded = mf::load_manifest(o.manifest);
    if (!loaded.manifest) {
        print_diagnostics(tool, o.manifest, loaded.errors, true);
        return kExitManifest;
    }
    const mf::Manifest& m = *loaded.manifest;
    const mf::Device& d = pick(o, m);
    if (o.sign_on_host && m.cloud != mf::Cloud::aliyun)
        throw UsageError("--sign-on-host is for aliyun devices; " + o.manifest + " is " +
                         std::string(mf::to_string(m.cloud)) +
                         (m.cloud == mf::Cloud::tencent ? " (always signed on the host)."
                                                        : " (the module fetches its token)."));
    auto secret = mf::resolve_secret(m, d);
    if (!secret.value) {
        print_diagnostics(tool, o.manifest, {*secret.error}, true);
        return kExitManifest;
    }
    im::DeviceImageOptions opts;
    opts.imei = o.imei;
    opts.sign_on_host = o.sign_on_host;
    im::DeviceImage img;
    try {
        img = im::device_image(m, d, *secret.value, opts);
    } catch (const im::ImageWriteError& e) {
        return fail(tool, "device " + d.device_name + " of " + o.manifest + ": " + e.what());
    }
    const std::string data = format == "hex"
                                 ? im::to_intel_hex(img.bytes.data(), img.bytes.size(), address)
                                 : std::string(img.bytes.begin(), img.bytes.end());
    {
        errno = 0;
        std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
        const int open_errno = out ? 0 : errno;
        out << data;
        out.close();
        if (!out)
            return fail(tool, "cannot write " + o.out +
                                  (open_errno != 0 ? ": " + std::string(std::strerror(open_errno))
                                                   : std::string()));
    }
    std::cout << "wrote " << o.out << ": profile " << static_cast<int>(img.profile) << " ("
              << im::to_string(img.profile) << "), device " << d.device_name << ", IMEI " << o.imei
              << ", " << img.bytes.size() << " bytes"
              << (format == "hex" ? ", Intel HEX at " + hex32(address) : std::string(", binary"))
              << '\n';
    if (img.expires_unix)
        std::cout << "the signed username expires at " << utc(*img.expires_unix)
                  << " (the manifest's expiry_s: " << m.expiry_s << " s)\n";
    std::cout.flush();
    return kExitOk;
}
#else
int run_build(const BuildOpts&) {
    return unavailable("image build",
                       "it reads manifests and signs with OpenSSL (the manifest library)");
}
#endif

}  // namespace

Command add_image(CLI::App& root) {
    auto* image = root.add_subcommand(
        "image", "The device credential image (docs/image-format.md): inspect one, or build one");
    image->set_help_flag("--help", "Print this help message and exit");
    image->footer(kExitStatusHelp);
    image->require_subcommand(0, 1);
    image->allow_extras();

    auto in = std::make_shared<InspectOpts>();
    auto* inspect = image->add_subcommand(
        "inspect", "Print an image's fields (.bin or Intel HEX; secrets as ***)");
    inspect->set_help_flag("--help", "Print this help message and exit");
    inspect->footer(kExitStatusHelp);
    inspect->allow_extras();
    auto* file_opt = inspect->add_option("file", in->file, "The image (.bin or .hex)");

    auto b = std::make_shared<BuildOpts>();
    auto* build = image->add_subcommand(
        "build", "Write the credential image of one device of a manifest (.bin or Intel HEX)");
    build->set_help_flag("--help", "Print this help message and exit");
    build->footer(kExitStatusHelp);
    build->allow_extras();
    b->manifest_opt = build->add_option(
        "--manifest", b->manifest, "The device manifest (docs/manifest.schema.json; required)");
    b->name_opt = build->add_option("--device-name", b->device_name,
                                    "The device (default: the one whose imei is --imei)");
    b->imei_opt = build->add_option("--imei", b->imei,
                                    "The module's IMEI, stored in the image (15 digits; required)");
    b->out_opt = build->add_option("--out", b->out, "The file to write (required)");
    b->format_opt = build->add_option(
        "--format", b->format, "bin or hex (default: hex when --out ends in .hex, else bin)");
    b->address_opt = build
                         ->add_option("--flash-address", b->address_text,
                                      "Intel HEX: where the image goes (default 0x003FF000, the "
                                      "last 4 KB of 4 MB)")
                         ->type_name("ADDR");
    build->add_flag(
        "--sign-on-host", b->sign_on_host,
        "aliyun: sign here (profile 4, pre-signed) instead of by the module (profile 1)");

    return {image, [=]() -> int {
                if (inspect->parsed()) {
                    require(file_opt, "An image file");
                    return run_inspect(*in);
                }
                if (build->parsed()) return run_build(*b);
                return kExitUsage;
            }};
}

}  // namespace qmtkit::cli
