#include "session.hpp"

#include <algorithm>
#include <ctime>
#include <iostream>
#include <vector>

#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/manifest/manifest.hpp"

// 0 in the Windows build: no manifest library, no host signing (no OpenSSL, no libcurl).
#ifndef QMTKIT_CLI_CLOUD
#define QMTKIT_CLI_CLOUD 1
#endif

namespace qmtkit::cli {
#if QMTKIT_CLI_CLOUD
namespace {

namespace cl = qmtkit::cloud;
namespace mf = qmtkit::manifest;

// The one device of `m` that --device-name / --imei names (UsageError otherwise).
const mf::Device& pick_device(const CommonOptions& o, const mf::Manifest& m) {
    std::vector<const mf::Device*> found;
    for (const auto& d : m.devices) {
        const bool match =
            !o.imei.empty() ? d.imei && *d.imei == o.imei : d.device_name == o.device_name;
        if (match) found.push_back(&d);
    }
    if (found.empty()) {
        throw UsageError(!o.imei.empty()
                             ? "No device with IMEI " + o.imei + " in " + o.manifest + "."
                             : "No device named '" + o.device_name + "' in " + o.manifest + ".");
    }
    if (found.size() > 1) {
        std::vector<std::string> products;
        for (const auto* d : found) products.push_back(d->product);
        throw UsageError(std::to_string(found.size()) + " devices named '" + o.device_name +
                         "' in " + o.manifest + " (products " + one_of(products) +
                         "): give --imei instead.");
    }
    return *found.front();
}

std::string token_failure(const cl::TokenOutcome& out) {
    return "token request failed: +QMTTENAUTH result " + std::to_string(out.result_code) + " (" +
           std::string(qmt::to_string(static_cast<qmt::TenAuthResult>(out.result_code))) +
           "): " + out.message;
}

}  // namespace

void print_diagnostics(const std::string& tool, const std::string& file,
                       const std::vector<mf::Diagnostic>& errors, bool one_line) {
    std::cout.flush();
    if (one_line && !errors.empty()) {
        std::cerr << errors.front().to_string();
        if (errors.size() > 1)
            std::cerr << " (and " << errors.size() - 1
                      << " more error(s): qmtkit verify --manifest " << file
                      << " --check-only lists them)";
        std::cerr << std::endl;
        return;
    }
    for (const auto& d : errors) std::cerr << d.to_string() << '\n';
    std::cerr << "qmtkit " << tool << ": " << file << ": " << errors.size() << " error(s)"
              << std::endl;
}

#endif  // QMTKIT_CLI_CLOUD

std::unique_ptr<RunSession> make_run_session(const CommonOptions& o, const std::string& tool,
                                             const std::string& id_prefix, int& status) {
    auto rs = std::make_unique<RunSession>();
    status = kExitOk;
    if (!given(o.manifest_opt)) {
        rs->client_id_ = client_id_for(o, id_prefix);
        rs->session_ = make_session(o, rs->client_id_);
        return rs;
    }
#if !QMTKIT_CLI_CLOUD
    status = unavailable(tool,
                         "--manifest (the manifest library signs with OpenSSL and fetches "
                         "with libcurl); give -h, -p, -i, -u and the password");
    return nullptr;
#else

    auto loaded = mf::load_manifest(o.manifest);
    if (!loaded.manifest) {
        print_diagnostics(tool, o.manifest, loaded.errors, true);
        status = kExitManifest;
        return nullptr;
    }
    const mf::Manifest& m = *loaded.manifest;
    const mf::Device& d = pick_device(o, m);
    const std::string cloud_name(mf::to_string(m.cloud));
    if (given(o.token_url_opt) && m.cloud != mf::Cloud::tencent_token)
        throw UsageError("--token-url is for tencent-token devices; " + o.manifest + " is " +
                         cloud_name + ".");
    const std::string who = "device " + d.device_name + " of " + o.manifest;
    if (m.cloud == mf::Cloud::aliyun && m.secure_mode != 3) {
        status = fail(tool, who + ": secure_mode " + std::to_string(m.secure_mode) +
                                " (TLS) cannot be used: the module's MQTT connection "
                                "(AT+QMTOPEN) is plain TCP, secure_mode 3");
        return nullptr;
    }
    auto secret = mf::resolve_secret(m, d);
    if (!secret.value) {
        print_diagnostics(tool, o.manifest, {*secret.error}, true);
        status = kExitManifest;
        return nullptr;
    }
    rs->product_ = d.product;
    rs->device_name_ = d.device_name;
    rs->secret_ = std::move(*secret.value);
    rs->url_ = given(o.token_url_opt) ? o.token_url : m.token_url;
    const std::uint16_t port = m.port.value_or(1883);
    const bool on_host = o.sign_on_host || m.cloud == mf::Cloud::tencent;
    qmt::Session& s = rs->session_;

    // Credentials computed here: the module gets host, client id, username and password.
    const auto presigned = [&](const cl::MqttCredentials& c) {
        rs->host_ = c.host;
        rs->client_id_ = c.client_id;
        rs->username_ = c.username;
        rs->password_ = c.password;
        s = qmt::Session{};
        s.host = rs->host_;
        s.port = c.port;
        s.client_id = rs->client_id_;
        s.username = rs->username_;
        s.password = rs->password_;
    };
    const auto signing_failed = [&](const cl::SignError& e) {
        status = fail(tool, who + ": cannot sign: " + e.message);
        return nullptr;
    };
    std::string how;
    if (m.cloud == mf::Cloud::aliyun && !on_host) {
        cl::AliyunDevice a;
        a.product_key = rs->product_;
        a.device_name = rs->device_name_;
        a.device_secret = rs->secret_;
        a.region = m.region;
        a.endpoint = m.endpoint;
        a.port = port;
        a.client_id = d.client_id;
        if (auto r = cl::aliyun(a, rs->profile_); !r) {
            status = fail(tool, who + ": " + std::string(qmt::to_string(r.error().code)));
            return nullptr;
        }
        s = rs->profile_.session;
        how = "signed by the module (AT+QMTCFG=\"aliauth\")";
    } else if (m.cloud == mf::Cloud::aliyun) {
        cl::AliyunParams p;
        p.product_key = rs->product_;
        p.device_name = rs->device_name_;
        p.device_secret = rs->secret_;
        p.client_id = d.client_id;
        if (!m.sign_method.empty()) p.method = *cl::parse_sign_method(m.sign_method);
        p.secure_mode = m.secure_mode;
        p.region = m.region;
        p.endpoint = m.endpoint;
        p.port = port;
        auto r = cl::sign_aliyun(p);
        if (auto* e = std::get_if<cl::SignError>(&r)) return signing_failed(*e);
        presigned(std::get<cl::MqttCredentials>(r));
        how = "signed on the host";
    } else if (m.cloud == mf::Cloud::tencent) {
        cl::TencentParams p;
        p.product_id = rs->product_;
        p.device_name = rs->device_name_;
        p.device_psk_base64 = rs->secret_;
        p.expiry_unix = static_cast<std::uint64_t>(std::time(nullptr)) + m.expiry_s;
        p.sdkappid = m.sdkappid;
        if (!m.sign_method.empty()) p.method = *cl::parse_sign_method(m.sign_method);
        p.port = port;
        auto r = cl::sign_tencent(p);
        if (auto* e = std::get_if<cl::SignError>(&r)) return signing_failed(*e);
        auto c = std::get<cl::MqttCredentials>(std::move(r));
        if (!m.endpoint.empty()) c.host = m.endpoint;
        presigned(c);
        how = "signed on the host";
    } else if (!on_host) {
        cl::TencentTokenDevice t;
        t.product_id = rs->product_;
        t.device_name = rs->device_name_;
        t.device_secret = rs->secret_;
        t.expire_days = static_cast<std::uint8_t>(m.expire_days);
        t.url = rs->url_;
        t.host = m.endpoint;
        t.port = port;
        if (auto r = cl::tencent_token(t, rs->profile_); !r) {
            status = fail(tool, who + ": " + std::string(qmt::to_string(r.error().code)));
            return nullptr;
        }
        s = rs->profile_.session;
        how = "token fetched by the module (AT+QMTTENAUTH)";
    } else {
        cl::TokenRequest r;
        r.product_id = rs->product_;
        r.device_name = rs->device_name_;
        r.client_id = rs->product_ + "@" + rs->device_name_;
        r.device_secret = rs->secret_;
        r.expire_days = m.expire_days;
        const long timeout_ms = static_cast<long>(std::min(o.timeout_s * 1000.0, 195000.0) + 0.5);
        const auto out = cl::fetch_token(rs->url_, r, std::max(timeout_ms, 1L));
        if (out.result_code != 0 || !out.token) {
            status = fail(tool, token_failure(out));
            return nullptr;
        }
        cl::MqttCredentials c;
        c.host = m.endpoint.empty() ? rs->product_ + ".iotcloud.tencentdevices.com" : m.endpoint;
        c.port = port;
        c.client_id = rs->product_ + rs->device_name_;
        c.username = out.token->username;
        c.password = out.token->password;
        presigned(c);
        how = "token fetched on the host";
    }
    if (!o.broker_host.empty()) {
        rs->host_ = o.broker_host;
        s.host = rs->host_;
        if (o.broker_port) s.port = *o.broker_port;
    }
    apply_settings(o, s);
    if (o.debug) {
        std::cout.flush();
        std::cerr << "qmtkit " << tool << ": " << who << " (" << cloud_name << "), " << how
                  << ", broker " << s.host << ":" << s.port << std::endl;
    }
    return rs;
#endif
}

}  // namespace qmtkit::cli
