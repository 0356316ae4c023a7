// The device manifest: which cloud, which broker, and per device the identity and the secret
// (inline, from a file or from an environment variable). Read by `qmtkit verify` and, later, by
// factory provisioning. JSON; the schema is docs/manifest.schema.json, the format
// docs/signing.md ("The manifest").
//
// The validator reports every problem it finds as FILE:LINE:COL (1-based; columns count
// characters, a tab is one) pointing at the offending value, at an unknown or duplicate key,
// or at the '{' of an object that lacks a required key. It never puts a secret's value into a
// message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qmtkit/cloud/dynreg.hpp"

namespace qmtkit::manifest {

struct Position {
    int line = 0;  // 1-based; 0: unknown
    int col = 0;   // 1-based, in characters
};

struct Diagnostic {
    std::string file;
    Position pos;
    std::string message;
    std::string to_string() const;  // "FILE:LINE:COL: message"; "FILE: message" without a position
};

enum class Cloud { aliyun, tencent, tencent_token };
std::string_view to_string(Cloud c);  // "aliyun" | "tencent" | "tencent-token"

// Where a device's secret (Aliyun / IoT Suite device secret, Tencent PSK) comes from.
struct SecretRef {
    enum class Kind { inline_value, file, env };
    Kind kind = Kind::inline_value;
    std::string value;  // the secret itself, a path (as written), or a variable name
    std::string key;    // the manifest key it was given with ("device_secret_file", ...)
    Position pos;       // of the value
};

struct Device {
    std::string product;  // Aliyun product_key, Tencent product_id
    std::string device_name;
    SecretRef secret;       // device secret (aliyun, tencent-token) or PSK (tencent); with
                            // dynamic registration: empty (key ""), the registration issues it
    std::string client_id;  // Aliyun only; empty: "<productKey>.<deviceName>"
    std::optional<std::string> imei;
    Position pos;  // of the device's '{'
};

struct Manifest {
    std::string file;  // as given to load_manifest (diagnostics, relative *_file)
    Cloud cloud = Cloud::aliyun;
    std::string region = "cn-shanghai";  // aliyun
    std::string endpoint;               // broker host override; empty: the cloud's host per product
    std::optional<std::uint16_t> port;  // empty: 1883
    std::string sign_method;            // empty: hmacsha256 (aliyun, tencent)
    int secure_mode = 3;                // aliyun: 3 (TCP) or 2 (TLS)
    std::uint32_t sdkappid = 12010126;  // tencent
    std::uint64_t expiry_s = 3600;      // tencent: lifetime of the signed username
    std::string token_url;              // tencent-token (required there)
    unsigned expire_days = 60;          // tencent-token: 1..60
    // Dynamic registration (aliyun, tencent; docs/dynamic-registration.md): one product secret
    // (product_secret_file / product_secret_env) instead of device secrets; every device is of
    // the same product and lists no secret.
    bool dynamic_registration = false;
    std::optional<SecretRef> product_secret;  // set iff dynamic_registration
    std::string registration_url;  // base URL override (http[s]://host[:port]); empty: the cloud's
    std::vector<Device> devices;
};

struct LoadResult {
    std::optional<Manifest> manifest;  // set when there are no errors
    std::vector<Diagnostic> errors;
};

// Parses and validates `text`; `file` names it in diagnostics and anchors relative *_file paths.
LoadResult parse_manifest(std::string_view text, const std::string& file);
// Reads the file first (an unreadable file is one diagnostic without a position).
LoadResult load_manifest(const std::string& path);

// The secret's value: inline, the file's content with one trailing newline ("\n" or "\r\n")
// removed (a relative path is relative to the manifest's directory), or the environment
// variable's value. On failure a diagnostic at the reference (no secret in it).
struct SecretValue {
    std::optional<std::string> value;
    std::optional<Diagnostic> error;
};
// With dynamic registration a device has no secret here: an error that says so.
SecretValue resolve_secret(const Manifest& m, const Device& d);
// The product secret of a dynamic-registration manifest (file / environment as above; Tencent:
// at least 16 characters). An error without a position when the manifest has none.
SecretValue resolve_product_secret(const Manifest& m);

// Every device's secret resolves, and (tencent) decodes as base64; with dynamic registration
// the product secret resolves instead. Diagnostics in device order.
std::vector<Diagnostic> check_secrets(const Manifest& m);

// Dynamic registration of one device of a dynamic-registration manifest with its resolved
// product secret: Aliyun register_aliyun_device (region, registration_url), Tencent
// register_tencent_device (registration_url). The value is the device secret (Aliyun) or the
// base64 PSK (Tencent) that sign_aliyun / sign_tencent take. bad_input when the manifest is not
// a dynamic-registration one. No secret in any error.
cloud::DynregResult<std::string> register_dynamic(const Manifest& m, const Device& d,
                                                  const std::string& product_secret,
                                                  long timeout_ms = 15000);

// 15 decimal digits whose last is the Luhn check digit of the first 14.
bool imei_valid(std::string_view imei);

// Reads a whole file; strips one trailing newline when asked. nullopt + errno text on failure,
// or "it is larger than N bytes" for a file longer than `max_bytes` (reading stops there: a
// /dev/zero or an endless pipe given as a file ends instead of filling the memory).
inline constexpr std::size_t kMaxTextFile = std::size_t{16} << 20;  // 16 MiB
std::optional<std::string> read_text_file(const std::string& path, bool strip_one_newline,
                                          std::string* error, std::size_t max_bytes = kMaxTextFile);

}  // namespace qmtkit::manifest
