// `qmtkit sign aliyun | tencent | tencent-token`: the MQTT credentials a device presents, computed
// on the host with qmtkit::cloud_host exactly as the module / the public SDKs compute them
// (docs/signing.md). Secrets come from an option, a file or an environment variable and never
// appear in any output other than the password they sign, nor in an error message. The command
// line is checked first (numbers with their ranges, identity fields by name: a separator of the
// clientId or username they go into is refused), then the secret is read.
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
    mutable bool unreadable = false;  // resolve() failed reading the file: kExitNoInput

    void add(CLI::App& app, const std::string& help) {
        value_opt = app.add_option(flag, value,
                                   help + " (visible in shell history and `ps`: prefer " + flag +
                                       "-file or $" + env + ")");
        file_opt = app.add_option(
            flag + "-file", file,
            "Read the " + what + " from this file (one trailing newline is ignored)");
    }

    // The exit status of a resolve() that failed: no input (66) for a file that cannot be read.
    int failure_status() const { return unreadable ? kExitNoInput : kExitFailed; }

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
            auto v = manifest::read_text_file(file, true, &why, 4096);
            if (!v) {
                err = "cannot read " + flag + "-file " + file + ": " + why;
                unreadable = true;
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
    std::string timestamp_text;
    std::string method = "hmacsha256";
    std::string secure_mode_text = "3";
    std::string port_text = "1883";
    CLI::Option *pk_opt = nullptr, *dn_opt = nullptr, *id_opt = nullptr, *ts_opt = nullptr,
                *region_opt = nullptr, *endpoint_opt = nullptr;
    SecretOption secret{"device secret", "--device-secret", "QMTKIT_DEVICE_SECRET", {}, {}, nullptr,
                        nullptr};
    Output out;
};

// An Aliyun identity field: it goes into the clientId ("<pk>.<dn>|securemode=...|") and the
// username ("<dn>&<pk>").
void check_aliyun_field(const std::string& v, const std::string& what, const std::string& option,
                        bool in_username) {
    check_field(v, what, option, 1, kMaxCredential);
    check_separators(v, what, option, "|,", "the Aliyun clientId");
    if (in_username) check_separators(v, what, option, "&", "the Aliyun username");
}

int run_aliyun(const AliyunOpts& o) {
    const std::string tool = "sign aliyun";
    require(o.pk_opt, "--product-key");
    require(o.dn_opt, "--device-name");
    check_aliyun_field(o.product_key, "product key", "--product-key", true);
    check_aliyun_field(o.device_name, "device name", "--device-name", true);
    if (given(o.id_opt)) check_aliyun_field(o.client_id, "client id", "--client-id", false);
    cl::AliyunParams p;
    if (given(o.ts_opt)) {
        p.timestamp_ms =
            parse_uint(o.timestamp_text, "timestamp", "--timestamp", 0, 9999999999999ull,
                       "milliseconds since the epoch, 0 to 9999999999999");
    }
    p.method = *cl::parse_sign_method(parse_choice(o.method, "sign method", "--sign-method",
                                                   {"hmacsha256", "hmacsha1", "hmacmd5"}));
    p.secure_mode = static_cast<int>(
        parse_uint(o.secure_mode_text, "secure mode", "--secure-mode", 2, 3, "2 or 3"));
    if (given(o.region_opt) && given(o.endpoint_opt))
        throw UsageError("Give only one of --region and --endpoint.");
    p.port = static_cast<std::uint16_t>(parse_uint(o.port_text, "port", "--port", 1, 65535));

    std::string err;
    auto secret = o.secret.resolve(err);
    if (!secret) {
        fail(tool, err);
        return o.secret.failure_status();
    }
    p.product_key = o.product_key;
    p.device_name = o.device_name;
    p.device_secret = *secret;
    p.client_id = o.client_id;
    p.region = o.region;
    p.endpoint = o.endpoint;
    auto r = cl::sign_aliyun(p);
    if (auto* e = std::get_if<cl::SignError>(&r)) return fail(tool, e->message);
    print(std::get<cl::MqttCredentials>(r), o.out);
    return kExitOk;
}

CLI::App* add_aliyun(CLI::App& sign, AliyunOpts& o) {
    auto* app = sign.add_subcommand(
        "aliyun", "Aliyun IoT Platform, one device one secret (what AT+QMTCFG=\"aliauth\" signs)");
    app->set_help_flag("--help", "Print this help message and exit");
    app->footer(kExitStatusHelp);
    app->allow_extras();
    o.pk_opt = app->add_option("--product-key", o.product_key, "ProductKey (required)");
    o.dn_opt = app->add_option("--device-name", o.device_name, "DeviceName (required)");
    o.secret.add(*app, "DeviceSecret");
    o.id_opt = app->add_option("--client-id", o.client_id,
                               "The id before '|' (default: <productKey>.<deviceName>)");
    o.ts_opt = app->add_option("--timestamp", o.timestamp_text,
                               "Milliseconds since the epoch (0..9999999999999), signed and put "
                               "in the clientId (default: none)")
                   ->type_name("MS");
    app->add_option("--sign-method", o.method, "hmacsha256, hmacsha1 or hmacmd5")
        ->capture_default_str();
    app->add_option("--secure-mode", o.secure_mode_text, "3: TCP, 2: TLS")->capture_default_str();
    o.region_opt =
        app->add_option("--region", o.region,
                        "Region id of the default host <pk>.iot-as-mqtt.<region>.aliyuncs.com")
            ->capture_default_str();
    o.endpoint_opt =
        app->add_option("--endpoint", o.endpoint, "Broker host instead (an instance endpoint)");
    app->add_option("--port", o.port_text, "Broker port (1..65535)")
        ->capture_default_str()
        ->type_name("N");
    app->add_flag("--json", o.out.json,
                  "One JSON object: host, port, client_id, username, password");
    return app;
}

// ----------------------------------------------------------------------------- tencent

struct TencentOpts {
    std::string product_id, device_name, conn_id, method = "hmacsha256", endpoint;
    std::string expiry_text;
    std::string sdkappid_text = "12010126";
    std::string port_text = "1883";
    CLI::Option *pid_opt = nullptr, *dn_opt = nullptr, *conn_opt = nullptr, *expiry_opt = nullptr;
    SecretOption psk{"device PSK", "--device-psk", "QMTKIT_DEVICE_PSK", {}, {}, nullptr, nullptr};
    Output out;
};

// A Tencent identity field: the username is "<pid><dn>;<sdkappid>;<connid>;<expiry>".
void check_tencent_field(const std::string& v, const std::string& what, const std::string& option) {
    check_field(v, what, option, 1, kMaxCredential);
    check_separators(v, what, option, ";", "the Tencent username");
}

int run_tencent(const TencentOpts& o) {
    const std::string tool = "sign tencent";
    require(o.pid_opt, "--product-id");
    require(o.dn_opt, "--device-name");
    check_tencent_field(o.product_id, "product id", "--product-id");
    check_tencent_field(o.device_name, "device name", "--device-name");
    if (given(o.conn_opt)) check_tencent_field(o.conn_id, "conn id", "--conn-id");
    cl::TencentParams p;
    if (given(o.expiry_opt)) {
        p.expiry_unix = parse_uint(o.expiry_text, "expiry", "--expiry", 1, 9999999999ull,
                                   "Unix seconds, 1 to 9999999999");
    }
    p.sdkappid = static_cast<std::uint32_t>(
        parse_uint(o.sdkappid_text, "sdkappid", "--sdkappid", 0, 4294967295u));
    p.method = *cl::parse_sign_method(
        parse_choice(o.method, "sign method", "--sign-method", {"hmacsha256", "hmacsha1"}));
    p.port = static_cast<std::uint16_t>(parse_uint(o.port_text, "port", "--port", 1, 65535));

    std::string err;
    auto psk = o.psk.resolve(err);
    if (!psk) {
        fail(tool, err);
        return o.psk.failure_status();
    }
    p.product_id = o.product_id;
    p.device_name = o.device_name;
    p.device_psk_base64 = *psk;
    p.conn_id = o.conn_id;
    auto r = cl::sign_tencent(p);
    if (auto* e = std::get_if<cl::SignError>(&r)) return fail(tool, e->message);
    auto c = std::get<cl::MqttCredentials>(std::move(r));
    if (!o.endpoint.empty()) c.host = o.endpoint;
    print(c, o.out);
    return kExitOk;
}

CLI::App* add_tencent(CLI::App& sign, TencentOpts& o) {
    auto* app = sign.add_subcommand(
        "tencent", "Tencent IoT Hub / IoT Explorer, PSK (username with expiry, HMAC password)");
    app->set_help_flag("--help", "Print this help message and exit");
    app->footer(kExitStatusHelp);
    app->allow_extras();
    o.pid_opt = app->add_option("--product-id", o.product_id, "ProductId (required)");
    o.dn_opt = app->add_option("--device-name", o.device_name, "DeviceName (required)");
    o.psk.add(*app, "Device PSK, base64 as the console shows it");
    o.expiry_opt = app->add_option("--expiry", o.expiry_text,
                                   "Unix seconds the signature expires at (default: now + 1 hour)")
                       ->type_name("SECONDS");
    o.conn_opt =
        app->add_option("--conn-id", o.conn_id, "Connection id (default: 5 random alphanumerics)");
    app->add_option("--sdkappid", o.sdkappid_text, "sdkappid")->capture_default_str();
    app->add_option("--sign-method", o.method, "hmacsha256 or hmacsha1")->capture_default_str();
    app->add_option("--endpoint", o.endpoint,
                    "Broker host (default: <productId>.iotcloud.tencentdevices.com)");
    app->add_option("--port", o.port_text, "Broker port (1..65535)")
        ->capture_default_str()
        ->type_name("N");
    app->add_flag("--json", o.out.json,
                  "One JSON object: host, port, client_id, username, password");
    return app;
}

// ----------------------------------------------------------------------- tencent-token

struct TokenOpts {
    std::string product_id, device_name, url, endpoint;
    std::string expire_days_text = "60";
    std::string port_text = "1883";
    std::string timeout_text = "30";
    CLI::Option *pid_opt = nullptr, *dn_opt = nullptr, *url_opt = nullptr;
    SecretOption secret{"device secret", "--device-secret", "QMTKIT_DEVICE_SECRET", {}, {}, nullptr,
                        nullptr};
    Output out;
};

int run_token(const TokenOpts& o) {
    const std::string tool = "sign tencent-token";
    require(o.pid_opt, "--product-id");
    require(o.dn_opt, "--device-name");
    require(o.url_opt, "--url");
    check_field(o.product_id, "product id", "--product-id", 1, kMaxCredential);
    check_field(o.device_name, "device name", "--device-name", 1, kMaxCredential);
    cl::TokenRequest r;
    // Refused here, before a request: the module refuses it too (AT+QMTTENAUTH expire 1..60).
    r.expire_days = static_cast<unsigned>(
        parse_uint(o.expire_days_text, "expire days", "--expire-days", 1, qmt::kMaxExpireDays));
    const double timeout_s = parse_seconds(o.timeout_text, "timeout", "--timeout");
    const auto port =
        static_cast<std::uint16_t>(parse_uint(o.port_text, "port", "--port", 1, 65535));

    std::string err;
    auto secret = o.secret.resolve(err);
    if (!secret) {
        fail(tool, err);
        return o.secret.failure_status();
    }
    r.product_id = o.product_id;
    r.device_name = o.device_name;
    r.client_id = o.product_id + "@" + o.device_name;
    r.device_secret = *secret;
    const auto outcome = cl::fetch_token(o.url, r, static_cast<long>(seconds(timeout_s).count()));
    if (outcome.result_code != 0 || !outcome.token) {
        return fail(tool, "token request failed: +QMTTENAUTH result " +
                              std::to_string(outcome.result_code) + " (" +
                              token_code_name(outcome.result_code) + "): " + outcome.message);
    }
    cl::MqttCredentials c;
    c.host = o.endpoint.empty() ? o.product_id + ".iotcloud.tencentdevices.com" : o.endpoint;
    c.port = port;
    c.client_id = o.product_id + o.device_name;  // as the module connects after AT+QMTTENAUTH
    c.username = outcome.token->username;
    c.password = outcome.token->password;
    print(c, o.out, outcome.token->expire_s);
    return kExitOk;
}

CLI::App* add_token(CLI::App& sign, TokenOpts& o) {
    auto* app = sign.add_subcommand(
        "tencent-token",
        "Tencent IoT Suite: fetch a token as AT+QMTTENAUTH does and print the credentials");
    app->set_help_flag("--help", "Print this help message and exit");
    app->footer(kExitStatusHelp);
    app->allow_extras();
    o.pid_opt = app->add_option("--product-id", o.product_id, "ProductId (required)");
    o.dn_opt = app->add_option("--device-name", o.device_name, "DeviceName (required)");
    o.secret.add(*app, "Device secret");
    app->add_option("--expire-days", o.expire_days_text, "Token lifetime in days, 1..60")
        ->capture_default_str()
        ->type_name("DAYS");
    o.url_opt = app->add_option("--url", o.url, "Token endpoint (http:// or https://; required)");
    app->add_option("--timeout", o.timeout_text,
                    "Give up after this many seconds, 0.001..1000000 (result code 6)")
        ->capture_default_str()
        ->type_name("SECONDS");
    app->add_option("--endpoint", o.endpoint,
                    "Broker host (default: <productId>.iotcloud.tencentdevices.com)");
    app->add_option("--port", o.port_text, "Broker port (1..65535)")
        ->capture_default_str()
        ->type_name("N");
    app->add_flag("--json", o.out.json,
                  "One JSON object: host, port, client_id, username, password, expire_s");
    return app;
}

}  // namespace

Command add_sign(CLI::App& root) {
    auto* sign = root.add_subcommand(
        "sign", "Compute a device's MQTT credentials for Aliyun or Tencent on the host");
    sign->set_help_flag("--help", "Print this help message and exit");
    sign->footer(kExitStatusHelp);
    sign->require_subcommand(0, 1);
    sign->allow_extras();
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
                return kExitUsage;
            }};
}

}  // namespace qmtkit::cli
