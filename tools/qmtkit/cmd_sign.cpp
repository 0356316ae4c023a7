// `qmtkit sign aliyun | tencent | tencent-token`: the MQTT credentials a device presents, computed
// on the host with qmtkit::cloud_host exactly as the module / the public SDKs compute them
// (docs/signing.md). Secrets come from an option, a file or an environment variable and never
// appear in any output other than the password they sign, nor in an error message.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/manifest/manifest.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::cli {
namespace {

namespace cl = qmtkit::cloud;

// One secret given as --X, --X-file or $ENV: exactly one of them.
struct SecretOption {
    std::string what;  // "device secret"
    std::string flag;  // "--device-secret"
    std::string env;   // "QMTKIT_DEVICE_SECRET"
    std::string value;
    std::string file;
    CLI::Option* value_opt = nullptr;
    CLI::Option* file_opt = nullptr;

    void add(CLI::App& app, const std::string& help) {
        value_opt = app.add_option(flag, value,
                                   help + " (visible in shell history and `ps`: prefer " + flag +
                                       "-file or $" + env + ")");
        file_opt = app.add_option(
            flag + "-file", file,
            "Read the " + what + " from this file (one trailing newline is ignored)");
    }

    // The secret, or nullopt with `err` set (never containing the secret).
    std::optional<std::string> resolve(std::string& err) const {
        const char* env_value = std::getenv(env.c_str());
        const int sources = (value_opt->count() > 0 ? 1 : 0) + (file_opt->count() > 0 ? 1 : 0) +
                            (env_value != nullptr ? 1 : 0);
        if (sources == 0) {
            err = "the " + what + " is required: give " + flag + ", " + flag +
                  "-file FILE or set " + env;
            return std::nullopt;
        }
        if (sources > 1) {
            std::string given;
            if (value_opt->count()) given += flag;
            if (file_opt->count()) given += std::string(given.empty() ? "" : ", ") + flag + "-file";
            if (env_value) given += std::string(given.empty() ? "" : ", ") + "$" + env;
            err = "give the " + what + " exactly one way, got " + given;
            return std::nullopt;
        }
        std::string s;
        if (value_opt->count()) {
            s = value;
        } else if (file_opt->count()) {
            std::string why;
            auto v = manifest::read_text_file(file, true, &why);
            if (!v) {
                err = "cannot read " + flag + "-file " + file + ": " + why;
                return std::nullopt;
            }
            s = std::move(*v);
            if (s.empty()) {
                err = flag + "-file " + file + " is empty";
                return std::nullopt;
            }
        } else {
            s = env_value;
            if (s.empty()) {
                err = "$" + env + " is empty";
                return std::nullopt;
            }
        }
        if (s.empty()) {
            err = "the " + what + " is empty";
            return std::nullopt;
        }
        return s;
    }
};

struct Output {
    bool json = false;
};

void print(const cl::MqttCredentials& c, const Output& o,
           std::optional<std::uint64_t> expire_s = std::nullopt) {
    if (o.json) {
        nlohmann::ordered_json j;
        j["host"] = c.host;
        j["port"] = c.port;
        j["client_id"] = c.client_id;
        j["username"] = c.username;
        j["password"] = c.password;
        if (expire_s) j["expire_s"] = *expire_s;
        std::cout << j.dump(2) << std::endl;
        return;
    }
    std::cout << "host       " << c.host << '\n'
              << "port       " << c.port << '\n'
              << "client_id  " << c.client_id << '\n'
              << "username   " << c.username << '\n'
              << "password   " << c.password << '\n';
    if (expire_s) std::cout << "expire_s   " << *expire_s << '\n';
    std::cout.flush();
}

// The note's +QMTTENAUTH wording for a result code.
std::string token_code_name(int code) {
    return std::string(qmtkit::qmt::to_string(static_cast<qmtkit::qmt::TenAuthResult>(code)));
}

// ------------------------------------------------------------------------------ aliyun

struct AliyunOpts {
    std::string product_key, device_name, client_id, region = "cn-shanghai", endpoint;
    std::uint64_t timestamp = 0;
    CLI::Option* timestamp_opt = nullptr;
    std::string method = "hmacsha256";
    int secure_mode = 3;
    unsigned port = 1883;
    SecretOption secret{"device secret", "--device-secret", "QMTKIT_DEVICE_SECRET", {}, {}, nullptr,
                        nullptr};
    Output out;
};

int run_aliyun(const AliyunOpts& o) {
    const std::string tool = "sign aliyun";
    std::string err;
    auto secret = o.secret.resolve(err);
    if (!secret) return fail(tool, err);
    cl::AliyunParams p;
    p.product_key = o.product_key;
    p.device_name = o.device_name;
    p.device_secret = *secret;
    p.client_id = o.client_id;
    if (o.timestamp_opt->count()) p.timestamp_ms = o.timestamp;
    p.method = *cl::parse_sign_method(o.method);
    p.secure_mode = o.secure_mode;
    p.region = o.region;
    p.endpoint = o.endpoint;
    p.port = static_cast<std::uint16_t>(o.port);
    auto r = cl::sign_aliyun(p);
    if (auto* e = std::get_if<cl::SignError>(&r)) return fail(tool, e->message);
    print(std::get<cl::MqttCredentials>(r), o.out);
    return 0;
}

CLI::App* add_aliyun(CLI::App& sign, AliyunOpts& o) {
    auto* app = sign.add_subcommand(
        "aliyun", "Aliyun IoT Platform, one device one secret (what AT+QMTCFG=\"aliauth\" signs)");
    app->set_help_flag("--help", "Print this help message and exit");
    app->add_option("--product-key", o.product_key, "ProductKey")->required();
    app->add_option("--device-name", o.device_name, "DeviceName")->required();
    o.secret.add(*app, "DeviceSecret");
    app->add_option("--client-id", o.client_id,
                    "The id before '|' (default: <productKey>.<deviceName>)");
    o.timestamp_opt = app->add_option(
        "--timestamp", o.timestamp,
        "Milliseconds since the epoch, signed and put in the clientId (default: none)");
    app->add_option("--sign-method", o.method, "hmacsha256, hmacsha1 or hmacmd5")
        ->capture_default_str()
        ->check(CLI::IsMember({"hmacsha256", "hmacsha1", "hmacmd5"}));
    app->add_option("--secure-mode", o.secure_mode, "3: TCP, 2: TLS")
        ->capture_default_str()
        ->check(CLI::IsMember({2, 3}));
    auto* region =
        app->add_option("--region", o.region,
                        "Region id of the default host <pk>.iot-as-mqtt.<region>.aliyuncs.com")
            ->capture_default_str();
    auto* endpoint =
        app->add_option("--endpoint", o.endpoint, "Broker host instead (an instance endpoint)");
    region->excludes(endpoint);
    app->add_option("--port", o.port, "Broker port")
        ->capture_default_str()
        ->check(CLI::Range(1u, 65535u));
    app->add_flag("--json", o.out.json,
                  "One JSON object: host, port, client_id, username, password");
    return app;
}

// ----------------------------------------------------------------------------- tencent

struct TencentOpts {
    std::string product_id, device_name, conn_id, method = "hmacsha256", endpoint;
    std::uint64_t expiry = 0;
    std::uint32_t sdkappid = 12010126;
    unsigned port = 1883;
    SecretOption psk{"device PSK", "--device-psk", "QMTKIT_DEVICE_PSK", {}, {}, nullptr, nullptr};
    Output out;
};

int run_tencent(const TencentOpts& o) {
    const std::string tool = "sign tencent";
    std::string err;
    auto psk = o.psk.resolve(err);
    if (!psk) return fail(tool, err);
    cl::TencentParams p;
    p.product_id = o.product_id;
    p.device_name = o.device_name;
    p.device_psk_base64 = *psk;
    p.expiry_unix = o.expiry;
    p.conn_id = o.conn_id;
    p.sdkappid = o.sdkappid;
    p.method = *cl::parse_sign_method(o.method);
    p.port = static_cast<std::uint16_t>(o.port);
    auto r = cl::sign_tencent(p);
    if (auto* e = std::get_if<cl::SignError>(&r)) return fail(tool, e->message);
    auto c = std::get<cl::MqttCredentials>(std::move(r));
    if (!o.endpoint.empty()) c.host = o.endpoint;
    print(c, o.out);
    return 0;
}

CLI::App* add_tencent(CLI::App& sign, TencentOpts& o) {
    auto* app = sign.add_subcommand(
        "tencent", "Tencent IoT Hub / IoT Explorer, PSK (username with expiry, HMAC password)");
    app->set_help_flag("--help", "Print this help message and exit");
    app->add_option("--product-id", o.product_id, "ProductId")->required();
    app->add_option("--device-name", o.device_name, "DeviceName")->required();
    o.psk.add(*app, "Device PSK, base64 as the console shows it");
    app->add_option("--expiry", o.expiry,
                    "Unix seconds the signature expires at (default: now + 1 hour)");
    app->add_option("--conn-id", o.conn_id, "Connection id (default: 5 random alphanumerics)");
    app->add_option("--sdkappid", o.sdkappid, "sdkappid")->capture_default_str();
    app->add_option("--sign-method", o.method, "hmacsha256 or hmacsha1")
        ->capture_default_str()
        ->check(CLI::IsMember({"hmacsha256", "hmacsha1"}));
    app->add_option("--endpoint", o.endpoint,
                    "Broker host (default: <productId>.iotcloud.tencentdevices.com)");
    app->add_option("--port", o.port, "Broker port")
        ->capture_default_str()
        ->check(CLI::Range(1u, 65535u));
    app->add_flag("--json", o.out.json,
                  "One JSON object: host, port, client_id, username, password");
    return app;
}

// ----------------------------------------------------------------------- tencent-token

struct TokenOpts {
    std::string product_id, device_name, url, endpoint;
    unsigned expire_days = 60;
    unsigned port = 1883;
    double timeout_s = 30;
    SecretOption secret{"device secret", "--device-secret", "QMTKIT_DEVICE_SECRET", {}, {}, nullptr,
                        nullptr};
    Output out;
};

int run_token(const TokenOpts& o) {
    const std::string tool = "sign tencent-token";
    std::string err;
    auto secret = o.secret.resolve(err);
    if (!secret) return fail(tool, err);
    cl::TokenRequest r;
    r.product_id = o.product_id;
    r.device_name = o.device_name;
    r.client_id = o.product_id + "@" + o.device_name;
    r.device_secret = *secret;
    r.expire_days = o.expire_days;
    const auto outcome = cl::fetch_token(o.url, r, static_cast<long>(seconds(o.timeout_s).count()));
    if (outcome.result_code != 0 || !outcome.token) {
        return fail(tool, "token request failed: +QMTTENAUTH result " +
                              std::to_string(outcome.result_code) + " (" +
                              token_code_name(outcome.result_code) + "): " + outcome.message);
    }
    cl::MqttCredentials c;
    c.host = o.endpoint.empty() ? o.product_id + ".iotcloud.tencentdevices.com" : o.endpoint;
    c.port = static_cast<std::uint16_t>(o.port);
    c.client_id = o.product_id + o.device_name;  // as the module connects after AT+QMTTENAUTH
    c.username = outcome.token->username;
    c.password = outcome.token->password;
    print(c, o.out, outcome.token->expire_s);
    return 0;
}

CLI::App* add_token(CLI::App& sign, TokenOpts& o) {
    auto* app = sign.add_subcommand(
        "tencent-token",
        "Tencent IoT Suite: fetch a token as AT+QMTTENAUTH does and print the credentials");
    app->set_help_flag("--help", "Print this help message and exit");
    app->add_option("--product-id", o.product_id, "ProductId")->required();
    app->add_option("--device-name", o.device_name, "DeviceName")->required();
    o.secret.add(*app, "Device secret");
    app->add_option("--expire-days", o.expire_days, "Token lifetime in days, 1..60")
        ->capture_default_str();
    app->add_option("--url", o.url, "Token endpoint (http:// or https://)")->required();
    app->add_option("--timeout", o.timeout_s, "Give up after this many seconds (result code 6)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app->add_option("--endpoint", o.endpoint,
                    "Broker host (default: <productId>.iotcloud.tencentdevices.com)");
    app->add_option("--port", o.port, "Broker port")
        ->capture_default_str()
        ->check(CLI::Range(1u, 65535u));
    app->add_flag("--json", o.out.json,
                  "One JSON object: host, port, client_id, username, password, expire_s");
    return app;
}

}  // namespace

Command add_sign(CLI::App& root) {
    auto* sign = root.add_subcommand(
        "sign", "Compute a device's MQTT credentials for Aliyun or Tencent on the host");
    sign->set_help_flag("--help", "Print this help message and exit");
    sign->require_subcommand(1);
    auto aliyun = std::make_shared<AliyunOpts>();
    auto tencent = std::make_shared<TencentOpts>();
    auto token = std::make_shared<TokenOpts>();
    auto* a = add_aliyun(*sign, *aliyun);
    auto* t = add_tencent(*sign, *tencent);
    auto* k = add_token(*sign, *token);
    return {sign, [=]() -> int {
                if (a->parsed()) return run_aliyun(*aliyun);
                if (t->parsed()) return run_tencent(*tencent);
                if (k->parsed()) return run_token(*token);
                return 1;
            }};
}

}  // namespace qmtkit::cli
