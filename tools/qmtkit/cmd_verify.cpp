// `qmtkit verify --manifest FILE`: for every device of the manifest, sign its credentials on the
// host (qmtkit::cloud_host; the token flow fetches a token first) and CONNECT with libmosquitto
// (MQTT 3.1.1), then report each CONNACK. `--check-only` validates the manifest (and that every
// secret reference resolves) without connecting. Secrets never appear in the output.
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <mosquitto.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/manifest/manifest.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::cli {
namespace {

namespace cl = qmtkit::cloud;
namespace mf = qmtkit::manifest;
using Clock = std::chrono::steady_clock;

struct VerifyOpts {
    std::string manifest;
    std::string broker;
    std::string token_url;
    bool tls = false;
    std::string cafile;
    bool insecure = false;
    bool json = false;
    bool check_only = false;
    std::string timeout_text = "10";
    CLI::Option* manifest_opt = nullptr;
};

struct DeviceReport {
    std::string product;
    std::string device;
    std::string cloud;
    int connack = -1;  // -1: no CONNACK
    bool ok = false;
    std::string message;
};

struct Endpoint {
    std::string host;
    std::optional<std::uint16_t> port;
};

std::optional<Endpoint> parse_broker(const std::string& s, std::string& err) {
    Endpoint e;
    std::string port;
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos) {
            err = "--broker: missing ']' in " + s;
            return std::nullopt;
        }
        e.host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') {
                err = "--broker must be HOST:PORT, got " + s;
                return std::nullopt;
            }
            port = s.substr(close + 2);
        }
    } else {
        const auto colon = s.rfind(':');
        e.host = s.substr(0, colon);
        if (colon != std::string::npos) port = s.substr(colon + 1);
    }
    if (e.host.empty()) {
        err = "--broker must be HOST:PORT, got " + s;
        return std::nullopt;
    }
    if (!port.empty() || s.back() == ':') {
        char* end = nullptr;
        errno = 0;
        const unsigned long v = std::strtoul(port.c_str(), &end, 10);
        if (port.empty() || *end != '\0' || errno != 0 || v == 0 || v > 65535) {
            err = "--broker: port must be 1..65535, got '" + port + "'";
            return std::nullopt;
        }
        e.port = static_cast<std::uint16_t>(v);
    }
    return e;
}

std::string connack_text(int rc) {
    switch (rc) {
        case 0:
            return "connection accepted";
        case 1:
            return "refused: unacceptable protocol version";
        case 2:
            return "refused: identifier rejected (client id)";
        case 3:
            return "refused: server unavailable";
        case 4:
            return "refused: bad user name or password (credentials refused: wrong secret, unknown "
                   "device or expired signature)";
        case 5:
            return "refused: not authorized (credentials refused: wrong secret, unknown device or "
                   "expired signature)";
    }
    return "refused: CONNACK return code " + std::to_string(rc);
}

// The note's +QMTTENAUTH wording for a result code.
std::string token_code_name(int code) {
    return std::string(qmtkit::qmt::to_string(static_cast<qmtkit::qmt::TenAuthResult>(code)));
}

std::string mosq_error(int rc) {
    if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
    return mosquitto_strerror(rc);
}

struct ConnectState {
    int connack = -1;
    bool done = false;
};

struct TlsOpts {
    bool on = false;
    std::string cafile;
    bool insecure = false;
};

// One MQTT 3.1.1 CONNECT; the CONNACK code, or -1 with `message` saying why there was none.
int mqtt_connect(const cl::MqttCredentials& c, const TlsOpts& tls,
                 std::chrono::milliseconds timeout, std::string& message) {
    ConnectState st;
    mosquitto* m = mosquitto_new(c.client_id.c_str(), true, &st);
    if (!m) {
        message = "mosquitto_new failed: " + std::string(std::strerror(errno));
        return -1;
    }
    struct Guard {
        mosquitto* m;
        ~Guard() { mosquitto_destroy(m); }
    } guard{m};
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(m, [](mosquitto*, void* obj, int rc) {
        auto* s = static_cast<ConnectState*>(obj);
        s->connack = rc;
        s->done = true;
    });
    if (int rc = mosquitto_username_pw_set(m, c.username.c_str(), c.password.c_str());
        rc != MOSQ_ERR_SUCCESS) {
        message = "cannot set the credentials: " + mosq_error(rc);
        return -1;
    }
    if (tls.on) {
        const char* cafile = tls.cafile.empty() ? nullptr : tls.cafile.c_str();
        const char* capath = tls.cafile.empty() ? "/etc/ssl/certs" : nullptr;
        if (int rc = mosquitto_tls_set(m, cafile, capath, nullptr, nullptr, nullptr);
            rc != MOSQ_ERR_SUCCESS) {
            message = "TLS set-up failed: " + mosq_error(rc);
            return -1;
        }
        if (tls.insecure) mosquitto_tls_insecure_set(m, true);
    }
    const auto deadline = Clock::now() + timeout;
    if (int rc = mosquitto_connect_async(m, c.host.c_str(), c.port, 30); rc != MOSQ_ERR_SUCCESS) {
        message =
            "cannot connect to " + c.host + ":" + std::to_string(c.port) + ": " + mosq_error(rc);
        return -1;
    }
    while (!st.done) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            message = "no CONNACK from " + c.host + ":" + std::to_string(c.port) + " within " +
                      std::to_string(timeout.count() / 1000.0).substr(0, 4) + " s";
            return -1;
        }
        const int rc =
            mosquitto_loop(m, static_cast<int>(std::min<long long>(left.count(), 1000)), 1);
        if (rc != MOSQ_ERR_SUCCESS && !st.done) {
            message = "connection to " + c.host + ":" + std::to_string(c.port) +
                      " failed before CONNACK: " + mosq_error(rc);
            return -1;
        }
    }
    if (st.connack == 0) {
        mosquitto_disconnect(m);
        mosquitto_loop(m, 50, 1);
    }
    message = connack_text(st.connack);
    return st.connack;
}

// Signs (or fetches a token) for one device. nullopt with `message` on failure.
std::optional<cl::MqttCredentials> credentials(const mf::Manifest& m, const mf::Device& d,
                                               const std::string& secret,
                                               const std::string& token_url, std::string& message) {
    switch (m.cloud) {
        case mf::Cloud::aliyun: {
            cl::AliyunParams p;
            p.product_key = d.product;
            p.device_name = d.device_name;
            p.device_secret = secret;
            p.client_id = d.client_id;
            if (!m.sign_method.empty()) p.method = *cl::parse_sign_method(m.sign_method);
            p.secure_mode = m.secure_mode;
            p.region = m.region;
            p.endpoint = m.endpoint;
            p.port = m.port.value_or(1883);
            auto r = cl::sign_aliyun(p);
            if (auto* e = std::get_if<cl::SignError>(&r)) {
                message = e->message;
                return std::nullopt;
            }
            return std::get<cl::MqttCredentials>(std::move(r));
        }
        case mf::Cloud::tencent: {
            cl::TencentParams p;
            p.product_id = d.product;
            p.device_name = d.device_name;
            p.device_psk_base64 = secret;
            p.expiry_unix = static_cast<std::uint64_t>(std::time(nullptr)) + m.expiry_s;
            p.sdkappid = m.sdkappid;
            if (!m.sign_method.empty()) p.method = *cl::parse_sign_method(m.sign_method);
            p.port = m.port.value_or(1883);
            auto r = cl::sign_tencent(p);
            if (auto* e = std::get_if<cl::SignError>(&r)) {
                message = e->message;
                return std::nullopt;
            }
            auto c = std::get<cl::MqttCredentials>(std::move(r));
            if (!m.endpoint.empty()) c.host = m.endpoint;
            return c;
        }
        case mf::Cloud::tencent_token: {
            cl::TokenRequest r;
            r.product_id = d.product;
            r.device_name = d.device_name;
            r.client_id = d.product + "@" + d.device_name;
            r.device_secret = secret;
            r.expire_days = m.expire_days;
            const auto out = cl::fetch_token(token_url, r, 30000);
            if (out.result_code != 0 || !out.token) {
                message = "token request failed: +QMTTENAUTH result " +
                          std::to_string(out.result_code) + " (" +
                          token_code_name(out.result_code) + "): " + out.message;
                return std::nullopt;
            }
            cl::MqttCredentials c;
            c.host = m.endpoint.empty() ? d.product + ".iotcloud.tencentdevices.com" : m.endpoint;
            c.port = m.port.value_or(1883);
            c.client_id = d.product + d.device_name;
            c.username = out.token->username;
            c.password = out.token->password;
            return c;
        }
    }
    message = "unknown cloud";
    return std::nullopt;
}

void print_table(const std::vector<DeviceReport>& reports) {
    std::size_t wp = 7, wd = 6, wc = 5;
    for (const auto& r : reports) {
        wp = std::max(wp, r.product.size());
        wd = std::max(wd, r.device.size());
        wc = std::max(wc, r.cloud.size());
    }
    std::ostringstream out;
    out << std::left << std::setw(static_cast<int>(wp)) << "PRODUCT"
        << "  " << std::setw(static_cast<int>(wd)) << "DEVICE"
        << "  " << std::setw(static_cast<int>(wc)) << "CLOUD"
        << "  CONNACK  RESULT  MESSAGE\n";
    for (const auto& r : reports) {
        out << std::setw(static_cast<int>(wp)) << r.product << "  "
            << std::setw(static_cast<int>(wd)) << r.device << "  "
            << std::setw(static_cast<int>(wc)) << r.cloud << "  " << std::setw(7)
            << (r.connack < 0 ? std::string("-") : std::to_string(r.connack)) << "  "
            << std::setw(6) << (r.ok ? "ok" : "FAIL") << "  " << r.message << '\n';
    }
    std::size_t failed = 0;
    for (const auto& r : reports) failed += r.ok ? 0 : 1;
    out << reports.size() - failed << " of " << reports.size() << " device(s) connected";
    if (failed) out << ", " << failed << " failed";
    out << '\n';
    std::cout << out.str() << std::flush;
}

void print_json(const std::vector<DeviceReport>& reports) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& r : reports) {
        nlohmann::ordered_json j;
        j["device"] = r.device;
        j["product"] = r.product;
        j["cloud"] = r.cloud;
        j["connack"] =
            r.connack < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.connack);
        j["ok"] = r.ok;
        j["message"] = r.message;
        arr.push_back(std::move(j));
    }
    std::cout << arr.dump(2) << std::endl;
}

int run_verify(const VerifyOpts& o) {
    const std::string tool = "verify";
    require(o.manifest_opt, "--manifest");
    const double timeout_s = parse_seconds(o.timeout_text, "timeout", "--timeout");
    auto loaded = mf::load_manifest(o.manifest);
    if (!loaded.manifest) {
        std::cout.flush();
        // A manifest that cannot be read at all is one line (there is nothing to list).
        if (loaded.errors.size() == 1 && loaded.errors.front().pos.line == 0) {
            std::cerr << loaded.errors.front().to_string() << std::endl;
            return kExitManifest;
        }
        for (const auto& d : loaded.errors) std::cerr << d.to_string() << '\n';
        std::cerr << "qmtkit verify: " << o.manifest << ": " << loaded.errors.size() << " error(s)"
                  << std::endl;
        return kExitManifest;
    }
    const mf::Manifest& m = *loaded.manifest;
    if (o.check_only) {
        auto errs = mf::check_secrets(m);
        if (!errs.empty()) {
            for (const auto& d : errs) std::cerr << d.to_string() << '\n';
            std::cerr << "qmtkit verify: " << o.manifest << ": " << errs.size() << " error(s)"
                      << std::endl;
            return kExitManifest;
        }
        std::cout << o.manifest << ": ok (" << mf::to_string(m.cloud) << ", " << m.devices.size()
                  << " device(s))" << std::endl;
        return 0;
    }

    std::optional<Endpoint> broker;
    if (!o.broker.empty()) {
        std::string err;
        broker = parse_broker(o.broker, err);
        if (!broker) return fail(tool, err);
    }
    const std::string token_url = o.token_url.empty() ? m.token_url : o.token_url;
    if (!o.cafile.empty()) {
        // Said once, naming the file, before any device is tried (libmosquitto would only say
        // "Invalid function arguments provided" for each device).
        std::string why;
        if (!mf::read_text_file(o.cafile, false, &why)) {
            fail(tool, "cannot read the CA file (--cafile) " + o.cafile + ": " + why);
            return kExitNoInput;
        }
    }
    TlsOpts tls{o.tls, o.cafile, o.insecure};
    static const int lib_init = mosquitto_lib_init();
    (void)lib_init;

    std::vector<DeviceReport> reports;
    for (const auto& d : m.devices) {
        DeviceReport r;
        r.product = d.product;
        r.device = d.device_name;
        r.cloud = std::string(mf::to_string(m.cloud));
        auto secret = mf::resolve_secret(m, d);
        if (!secret.value) {
            r.message = secret.error->to_string();
            reports.push_back(std::move(r));
            continue;
        }
        auto creds = credentials(m, d, *secret.value, token_url, r.message);
        if (!creds) {
            reports.push_back(std::move(r));
            continue;
        }
        if (broker) {
            creds->host = broker->host;
            if (broker->port) creds->port = *broker->port;
        }
        r.connack = mqtt_connect(*creds, tls, seconds(timeout_s), r.message);
        r.ok = r.connack == 0;
        reports.push_back(std::move(r));
    }
    if (o.json)
        print_json(reports);
    else
        print_table(reports);
    for (const auto& r : reports)
        if (!r.ok) return kExitFailed;
    return kExitOk;
}

}  // namespace

Command add_verify(CLI::App& root) {
    auto o = std::make_shared<VerifyOpts>();
    auto* app = root.add_subcommand(
        "verify",
        "Sign each device of a manifest on the host and CONNECT (libmosquitto): "
        "report the CONNACK per device; non-zero exit if any fails");
    app->set_help_flag("--help", "Print this help message and exit");
    app->footer(kExitStatusHelp);
    app->allow_extras();
    o->manifest_opt = app->add_option("--manifest", o->manifest,
                                      "The device manifest (JSON, docs/manifest.schema.json; "
                                      "required)");
    app->add_option("--broker", o->broker,
                    "HOST:PORT to connect to instead of the manifest's broker / region endpoint");
    app->add_option("--token-url", o->token_url,
                    "Token endpoint instead of the manifest's token_url (tencent-token)");
    auto* tls =
        app->add_flag("--tls", o->tls, "Connect with TLS (system CA certificates unless --cafile)");
    app->add_option("--cafile", o->cafile, "CA certificate(s) in PEM to verify the broker with")
        ->needs(tls);
    app->add_flag("--insecure", o->insecure, "With --tls: do not check the broker's host name")
        ->needs(tls);
    app->add_flag("--json", o->json,
                  "A JSON array of {device, product, cloud, connack, ok, message}");
    app->add_flag("--check-only", o->check_only,
                  "Only validate the manifest and its secret references (FILE:LINE:COL errors); no "
                  "connection");
    app->add_option("--timeout", o->timeout_text,
                    "Seconds to wait for each device's CONNACK (0.001..1000000)")
        ->capture_default_str()
        ->type_name("SECONDS");
    return {app, [o]() { return run_verify(*o); }};
}

}  // namespace qmtkit::cli
