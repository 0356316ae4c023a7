#include "common.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "qmtkit/host/transport.hpp"

#include "qmtkit/at/fields.hpp"
#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::cli {

const char* const kExitStatusHelp =
    "Exit status:\n"
    "  0    success\n"
    "  1    failure, with one line on stderr naming the cause: a message, subscription or\n"
    "       device failed (sub: a message too long for the client was dropped), the link did\n"
    "       not come up (a cause retrying cannot heal at once, others after --timeout), the\n"
    "       device went away; or a usage error (\"Error: ...\", nothing was sent), as\n"
    "       mosquitto_pub\n"
    "  2    verify, image build, and pub / sub with --manifest: the manifest is invalid or\n"
    "       cannot be read, or a device's secret cannot be resolved (FILE:LINE:COL: ... lines;\n"
    "       pub / sub: one line); image inspect: the image is corrupt, truncated or cannot be\n"
    "       read (one line); pub -f / -s: the message is empty or over 1024 bytes (one line)\n"
    "  66   a file the command line names cannot be read (pub -f, pub / sub --pw-file,\n"
    "       sign --device-secret-file / --device-psk-file, verify --cafile) or stdin (pub -l,\n"
    "       -s); nothing was sent (one line)\n"
    "  69   not available in this build: the Windows build has no sign, verify, image build,\n"
    "       ledger, provision or pub / sub --manifest (one line)\n"
    "  74   pub / sub: the device (--device) cannot be opened: it does not exist, is not a\n"
    "       terminal, permission denied, a tcp:// device refuses; nothing was sent (one line)\n"
    "  130  stopped by SIGINT (Ctrl+C); pub and sub send DISCONNECT and CLOSE first (at most\n"
    "       3 s; a second signal ends at once)\n"
    "  143  stopped by SIGTERM, as SIGINT\n";

// ----------------------------------------------------------------------------- usage errors

namespace {

std::string invalid(const std::string& what, const std::string& text, const std::string& option,
                    const std::string& allowed) {
    // An empty value shown as '' (not "given:  (").
    return "Invalid " + what + " given: " + (text.empty() ? "''" : text) + " (" + option +
           " takes " + allowed + ").";
}

}  // namespace

std::string one_of(const std::vector<std::string>& choices) {
    std::string s;
    for (std::size_t i = 0; i < choices.size(); ++i) {
        if (i > 0) s += i + 1 == choices.size() ? " or " : ", ";
        s += choices[i];
    }
    return s;
}

std::uint64_t parse_uint(const std::string& text, const std::string& what,
                         const std::string& option, std::uint64_t lo, std::uint64_t hi,
                         const std::string& allowed) {
    const std::string range =
        allowed.empty() ? std::to_string(lo) + " to " + std::to_string(hi) : allowed;
    bool ok = !text.empty() && text.size() <= 20;
    for (const char ch : text) ok = ok && ch >= '0' && ch <= '9';
    std::uint64_t v = 0;
    if (ok) {
        errno = 0;
        char* end = nullptr;
        const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
        ok = errno == 0 && *end == '\0';
        v = n;
    }
    if (!ok || v < lo || v > hi) throw UsageError(invalid(what, text, option, range));
    return v;
}

std::uint64_t parse_size(const std::string& text, const std::string& what,
                         const std::string& option, std::uint64_t lo, std::uint64_t hi) {
    const std::string range =
        std::to_string(lo) + " to " + std::to_string(hi) + " bytes (K, M, G: binary multiples)";
    std::string digits = text;
    unsigned shift = 0;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'K':
                shift = 10;
                break;
            case 'M':
                shift = 20;
                break;
            case 'G':
                shift = 30;
                break;
            default:
                break;
        }
        if (shift != 0) digits.pop_back();
    }
    std::uint64_t v = 0;
    try {
        v = parse_uint(digits, what, option, 0, hi >> shift, range);
    } catch (const UsageError&) {
        throw UsageError(invalid(what, text, option, range));
    }
    v <<= shift;
    if (v < lo || v > hi) throw UsageError(invalid(what, text, option, range));
    return v;
}

double parse_seconds(const std::string& text, const std::string& what, const std::string& option) {
    const std::string range =
        format_seconds(kMinSeconds) + " to " + format_seconds(kMaxSeconds) + " seconds";
    // Decimal notation only: digits, one '.', an exponent. strtod would also take "inf", "nan",
    // hex floats and leading spaces.
    bool ok = !text.empty();
    for (const char ch : text) {
        ok = ok && ((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' ||
                    ch == '-');
    }
    double v = 0;
    if (ok) {
        char* end = nullptr;
        v = std::strtod(text.c_str(), &end);
        ok = *end == '\0' && std::isfinite(v);
    }
    if (!ok || v < kMinSeconds || v > kMaxSeconds)
        throw UsageError(invalid(what, text, option, range));
    return v;
}

std::string parse_choice(const std::string& text, const std::string& what,
                         const std::string& option, const std::vector<std::string>& choices) {
    for (const auto& c : choices)
        if (c == text) return c;
    throw UsageError(invalid(what, text, option, one_of(choices)));
}

void check_field(std::string_view value, const std::string& what, const std::string& option,
                 std::size_t min, std::size_t max) {
    const std::string head = "Invalid " + what + " (" + option + "): ";
    if (value.empty() && min > 0) throw UsageError(head + "it is empty.");
    if (value.size() < min)
        throw UsageError(head + std::to_string(value.size()) + " bytes; at least " +
                         std::to_string(min) + ".");
    if (value.size() > max)
        throw UsageError(head + std::to_string(value.size()) + " bytes; at most " +
                         std::to_string(max) + ".");
    for (const char ch : value) {
        const char* name = ch == '"'    ? "a double quote"
                           : ch == '\r' ? "a carriage return"
                           : ch == '\n' ? "a line feed"
                           : ch == '\0' ? "a NUL byte"
                                        : nullptr;
        if (name != nullptr)
            throw UsageError(head + "it holds " + name +
                             ", which an AT command line cannot carry.");
    }
}

void check_utf8(std::string_view value, const std::string& what, const std::string& option) {
    // The SDK's own check (RFC 3629), so the CLI refuses exactly what the client would.
    if (const std::size_t at = qmtkit::at::utf8_error_at(value); at != std::string_view::npos)
        throw UsageError("Invalid " + what + " (" + option + "): it is not valid UTF-8 (byte " +
                         std::to_string(at + 1) + ").");
}

void check_separators(std::string_view value, const std::string& what, const std::string& option,
                      std::string_view separators, const std::string& role) {
    const auto at = value.find_first_of(separators);
    if (at == std::string_view::npos) return;
    throw UsageError("Invalid " + what + " (" + option + "): it holds '" +
                     std::string(1, value[at]) + "', which " + role + " uses as a separator.");
}

void require(const CLI::Option* o, const std::string& name) {
    if (!given(o)) throw UsageError(name + " is required.");
}

// ------------------------------------------------------------------------- common options

void add_common_options(CLI::App& app, CommonOptions& o) {
    app.set_help_flag("--help", "Print this help message and exit");
    app.footer(kExitStatusHelp);
    o.device_opt = app.add_option("--device", o.device,
                                  "The module's serial device (/dev/ttyUSB0, COM3) or "
                                  "tcp://HOST:PORT (a terminal server, the emulator's TCP mode); "
                                  "required")
                       ->type_name("PATH")
                       ->group("Module");
    app.add_option("--baud", o.baud_text, "Serial baud rate (8N1), 50..4000000; ignored for tcp://")
        ->capture_default_str()
        ->type_name("N")
        ->group("Module");
    app.add_option("--flow", o.flow, "Serial flow control: none or hardware (RTS/CTS)")
        ->capture_default_str()
        ->type_name("none|hardware")
        ->group("Module");
    app.add_flag("--trace", o.trace,
                 "Print the AT exchange on stderr (passwords and secrets are masked)")
        ->group("Module");
    app.add_flag("-d,--debug", o.debug,
                 "Report link states and bring-up problems on stderr (never credentials)")
        ->group("Module");
    app.add_option("--timeout", o.timeout_text,
                   "Give up (exit 1, naming the cause) when nothing progresses for this many "
                   "seconds (0.001..1000000); a cause retrying cannot heal (a refused CONNECT, "
                   "a host name that does not resolve) ends the run at once")
        ->capture_default_str()
        ->type_name("SECONDS")
        ->group("Module");

    o.host_opt = app.add_option("-h,--host", o.host,
                                "Broker host name or IP as given to AT+QMTOPEN (1..100 bytes); "
                                "required unless --manifest")
                     ->type_name("HOST")
                     ->group("Broker");
    o.port_opt = app.add_option("-p,--port", o.port_text, "Broker port (1..65535)")
                     ->capture_default_str()
                     ->type_name("N")
                     ->group("Broker");
    o.id_opt = app.add_option("-i,--id", o.client_id,
                              "MQTT client id, 1..255 bytes (default: qmtkit-<tool>-<random>)")
                   ->type_name("ID")
                   ->group("Broker");
    o.username_opt =
        app.add_option("-u,--username", o.username, "MQTT user name (at most 255 bytes)")
            ->type_name("USER")
            ->group("Broker");
    o.password_opt = app.add_option("-P,--pw", o.password,
                                    "MQTT password, at most 255 bytes (never printed, masked in "
                                    "--trace; visible in `ps` and shell history: prefer --pw-file "
                                    "or $QMTKIT_PASSWORD)")
                         ->type_name("PASSWORD")
                         ->group("Broker");
    o.pw_file_opt = app.add_option("--pw-file", o.pw_file,
                                   "Read the MQTT password from FILE (one trailing newline is "
                                   "ignored). Or set $QMTKIT_PASSWORD. Give the password exactly "
                                   "one way: -P, --pw-file or $QMTKIT_PASSWORD")
                        ->type_name("FILE")
                        ->group("Broker");
    app.add_option("-k,--keepalive", o.keepalive_text, "Keep-alive in seconds (0..3600, 0 = off)")
        ->capture_default_str()
        ->type_name("SECONDS")
        ->group("Broker");
    app.add_option("-V,--protocol-version", o.protocol, "MQTT protocol version: 31 or 311")
        ->capture_default_str()
        ->type_name("31|311")
        ->group("Broker");
    app.add_flag("-c,--disable-clean-session", o.disable_clean_session,
                 "Keep the session on the broker (clean_session = 0)")
        ->group("Broker");
    app.add_option("--pkt-timeout", o.pkt_timeout_text,
                   "The module's packet timeout in seconds (AT+QMTCFG=\"timeout\", 1..60)")
        ->capture_default_str()
        ->type_name("SECONDS")
        ->group("Broker");
    app.add_option("--retry", o.retry_text, "The module's retransmissions per packet (0..10)")
        ->capture_default_str()
        ->type_name("N")
        ->group("Broker");

    o.will_topic_opt =
        app.add_option("--will-topic", o.will_topic,
                       "Topic of the will the broker publishes when the link ends without "
                       "DISCONNECT (AT+QMTCFG=\"will\"; 1..255 bytes, no wildcards)")
            ->type_name("TOPIC")
            ->group("Will");
    o.will_payload_opt =
        app.add_option("--will-payload", o.will_payload,
                       "Payload of the will, 0..255 bytes (default: empty); needs --will-topic")
            ->type_name("PAYLOAD")
            ->group("Will");
    o.will_qos_opt =
        app.add_option("--will-qos", o.will_qos_text, "QoS of the will: 0, 1 or 2 (default 0)")
            ->type_name("0|1|2")
            ->group("Will");
    o.will_retain_opt =
        app.add_flag("--will-retain", o.will_retain, "Make the will a retained message")
            ->group("Will");

    o.manifest_opt =
        app.add_option("--manifest", o.manifest,
                       "Take the broker, client id and credentials of one device of this manifest "
                       "(docs/manifest.schema.json) and bring the module up through its cloud "
                       "profile: aliyun signed by the module (AT+QMTCFG=\"aliauth\"), tencent "
                       "signed on the host, tencent-token through AT+QMTTENAUTH; instead of -h, "
                       "-p, -i, -u and the password")
            ->type_name("FILE")
            ->group("Cloud device");
    o.device_name_opt = app.add_option("--device-name", o.device_name,
                                       "The device of --manifest, by its device_name")
                            ->type_name("NAME")
                            ->group("Cloud device");
    o.imei_opt = app.add_option("--imei", o.imei, "The device of --manifest, by its imei")
                     ->type_name("IMEI")
                     ->group("Cloud device");
    o.sign_on_host_opt =
        app.add_flag("--sign-on-host", o.sign_on_host,
                     "Compute the credentials on the host instead of in the module: aliyun "
                     "signed here (the secret never goes to the module), tencent-token fetched "
                     "here; tencent (PSK) is always signed on the host")
            ->group("Cloud device");
    o.broker_opt = app.add_option("--broker", o.broker,
                                  "HOST[:PORT] instead of the manifest's broker (as verify)")
                       ->type_name("HOST:PORT")
                       ->group("Cloud device");
    o.token_url_opt =
        app.add_option("--token-url", o.token_url,
                       "Token endpoint instead of the manifest's token_url (tencent-token)")
            ->type_name("URL")
            ->group("Cloud device");
}

// --broker HOST or HOST:PORT ([v6]:PORT).
void parse_broker(const std::string& s, std::string& host_out,
                  std::optional<std::uint16_t>& port_out) {
    const std::string bad =
        "Invalid broker given: " + s + " (--broker takes HOST or HOST:PORT, the port 1 to 65535).";
    std::string host = s, port;
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find(']');
        if (close == std::string::npos) throw UsageError(bad);
        host = s.substr(1, close - 1);
        if (close + 1 < s.size()) {
            if (s[close + 1] != ':') throw UsageError(bad);
            port = s.substr(close + 2);
            if (port.empty()) throw UsageError(bad);
        }
    } else if (const auto colon = s.rfind(':'); colon != std::string::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (port.empty()) throw UsageError(bad);
    }
    if (host.empty()) throw UsageError(bad);
    check_field(host, "broker host", "--broker", 1, qmt::kMaxHost);
    host_out = host;
    if (!port.empty()) {
        try {
            port_out = static_cast<std::uint16_t>(parse_uint(port, "", "", 1, 65535));
        } catch (const UsageError&) {
            throw UsageError(bad);
        }
    }
}

namespace {

// "a", "a and b", "a, b and c".
std::string all_of(const std::vector<std::string>& items) {
    std::string s;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) s += i + 1 == items.size() ? " and " : ", ";
        s += items[i];
    }
    return s;
}

// Exactly one of -P, --pw-file and $QMTKIT_PASSWORD (or none); the password read.
void check_password_source(CommonOptions& o) {
    const char* env = std::getenv(kPasswordEnv);
    std::vector<std::string> sources;
    if (given(o.password_opt)) sources.push_back("-P");
    if (given(o.pw_file_opt)) sources.push_back("--pw-file");
    if (env != nullptr) sources.push_back(std::string("$") + kPasswordEnv);
    if (sources.size() > 1)
        throw UsageError("Give the password one way only: " + all_of(sources) +
                         (sources.size() == 2 ? " are both given." : " are all given."));
    if (sources.empty()) return;
    o.password_source = sources.front();
    if (given(o.pw_file_opt)) {
        std::string why;
        // A password is at most 255 bytes: a bigger file is refused (after a few KiB, not
        // after reading all of a /dev/zero).
        auto v = manifest::read_text_file(o.pw_file, true, &why, 4096);
        if (!v)
            throw CommandFailure(kExitNoInput, "cannot read the password file (--pw-file) " +
                                                   o.pw_file + ": " + why);
        o.password = std::move(*v);
    } else if (env != nullptr) {
        o.password = env;
    }
    check_field(o.password, "password", o.password_source, given(o.password_opt) ? 0 : 1,
                kMaxCredential);
}

void check_will(CommonOptions& o) {
    if (!given(o.will_topic_opt)) {
        if (given(o.will_payload_opt))
            throw UsageError("A will payload (--will-payload) needs a will topic (--will-topic).");
        if (given(o.will_qos_opt))
            throw UsageError("A will QoS (--will-qos) needs a will topic (--will-topic).");
        if (given(o.will_retain_opt))
            throw UsageError("--will-retain needs a will topic (--will-topic).");
        return;
    }
    check_field(o.will_topic, "will topic", "--will-topic", 1, qmt::kMaxTopic);
    check_utf8(o.will_topic, "will topic", "--will-topic");
    if (o.will_topic.find_first_of("+#") != std::string::npos)
        throw UsageError("Invalid will topic '" + o.will_topic + "', does it contain '+' or '#'?");
    check_field(o.will_payload, "will payload", "--will-payload", 0, qmt::kMaxWillMessage);
    o.will_qos = static_cast<std::uint8_t>(
        parse_uint(o.will_qos_text, "will QoS", "--will-qos", 0, 2, one_of({"0", "1", "2"})));
    o.has_will = true;
}

void check_broker(CommonOptions& o) {
    parse_broker(o.broker, o.broker_host, o.broker_port);
}

// --manifest and the options that go with it (or, without it, that none of them was given).
void check_device_options(CommonOptions& o) {
    struct Named {
        const CLI::Option* opt;
        const char* name;
        const char* why;
    };
    if (!given(o.manifest_opt)) {
        for (const Named& n :
             {Named{o.device_name_opt, "--device-name", ""}, Named{o.imei_opt, "--imei", ""},
              Named{o.sign_on_host_opt, "--sign-on-host", ""}, Named{o.broker_opt, "--broker", ""},
              Named{o.token_url_opt, "--token-url", ""}})
            if (given(n.opt)) throw UsageError(std::string(n.name) + " needs --manifest.");
        return;
    }
    const char* broker = "the broker is the device's (override it with --broker HOST:PORT)";
    const char* creds = "the credentials are the device's";
    for (const Named& n : {Named{o.host_opt, "-h", broker}, Named{o.port_opt, "-p", broker},
                           Named{o.id_opt, "-i", "the client id is the device's"},
                           Named{o.username_opt, "-u", creds}, Named{o.password_opt, "-P", creds},
                           Named{o.pw_file_opt, "--pw-file", creds}})
        if (given(n.opt))
            throw UsageError(std::string(n.name) + " cannot be used with --manifest: " + n.why +
                             ".");
    if (std::getenv(kPasswordEnv) != nullptr)
        throw UsageError(std::string("$") + kPasswordEnv +
                         " is set, but --manifest takes the device's credentials: unset it.");
    check_field(o.manifest, "manifest", "--manifest", 1, 4096);
    if (given(o.device_name_opt) == given(o.imei_opt))
        throw UsageError(given(o.imei_opt)
                             ? "Give --device-name or --imei, not both."
                             : "--manifest needs the device: give --device-name NAME or --imei N.");
    if (given(o.device_name_opt))
        check_field(o.device_name, "device name", "--device-name", 1, 255);
    if (given(o.imei_opt)) {
        bool digits = o.imei.size() == 15;
        for (const char c : o.imei) digits = digits && c >= '0' && c <= '9';
        if (!digits)
            throw UsageError("Invalid IMEI given: " + o.imei +
                             " (--imei takes 15 decimal digits).");
    }
    if (given(o.broker_opt)) check_broker(o);
    if (given(o.token_url_opt)) check_field(o.token_url, "token URL", "--token-url", 1, 255);
}

}  // namespace

void check_common(CommonOptions& o) {
    require(o.device_opt, "--device");
    if (o.device.empty()) throw UsageError("Invalid device (--device): it is empty.");
    if (o.device.compare(0, 6, "tcp://") == 0) {
        std::string tcp_host;
        std::uint16_t tcp_port = 0;
        if (!host::parse_tcp_spec(o.device, tcp_host, tcp_port))
            throw UsageError("Invalid device given: " + o.device +
                             " (--device takes a serial device or tcp://HOST:PORT, the port 1 "
                             "to 65535).");
    }
    check_device_options(o);
    const bool device = given(o.manifest_opt);
    if (!device) require(o.host_opt, "-h");
    o.baud = static_cast<unsigned>(parse_uint(o.baud_text, "baud rate", "--baud", 50, 4000000));
    parse_choice(o.flow, "flow control", "--flow", {"none", "hardware"});
    o.timeout_s = parse_seconds(o.timeout_text, "timeout", "--timeout");
    o.port = static_cast<unsigned>(parse_uint(o.port_text, "port", "-p", 1, 65535));
    o.keepalive = static_cast<unsigned>(
        parse_uint(o.keepalive_text, "keepalive", "-k", 0, qmt::kMaxKeepalive,
                   "0 to " + std::to_string(qmt::kMaxKeepalive) + " seconds"));
    if (o.protocol == "31" || o.protocol == "mqttv31") {
        o.version = 3;
    } else if (o.protocol == "311" || o.protocol == "mqttv311") {
        o.version = 4;
    } else {
        throw UsageError("Invalid protocol version given: " + o.protocol +
                         " (-V takes 31 or 311).");
    }
    o.pkt_timeout =
        static_cast<unsigned>(parse_uint(o.pkt_timeout_text, "packet timeout", "--pkt-timeout",
                                         qmt::kMinPktTimeout, qmt::kMaxPktTimeout,
                                         std::to_string(qmt::kMinPktTimeout) + " to " +
                                             std::to_string(qmt::kMaxPktTimeout) + " seconds"));
    o.retry_times = static_cast<unsigned>(
        parse_uint(o.retry_text, "retry count", "--retry", 0, qmt::kMaxRetryTimes));
    check_will(o);
    if (device) return;

    check_field(o.host, "host", "-h", 1, qmt::kMaxHost);
    if (given(o.id_opt)) {
        check_field(o.client_id, "client id", "-i", 1, kMaxClientId);
        check_utf8(o.client_id, "client id", "-i");
    }
    check_field(o.username, "username", "-u", 0, kMaxCredential);
    check_utf8(o.username, "username", "-u");
    check_password_source(o);
    if (!o.password.empty() && o.username.empty())
        throw UsageError("A password (" + o.password_source + ") needs a username (-u).");
}

void check_device(const CommonOptions& o) {
#ifndef _WIN32
    if (o.device.compare(0, 6, "tcp://") == 0) return;
    const std::string head = "cannot open serial device " + o.device + ": ";
    struct stat st {};
    if (::stat(o.device.c_str(), &st) != 0)
        throw CommandFailure(kExitNoDevice, head + std::strerror(errno));
    const char* kind = S_ISDIR(st.st_mode)    ? "it is a directory"
                       : S_ISREG(st.st_mode)  ? "it is a regular file"
                       : S_ISFIFO(st.st_mode) ? "it is a FIFO"
                       : S_ISSOCK(st.st_mode) ? "it is a socket"
                       : S_ISBLK(st.st_mode)  ? "it is a block device"
                       : !S_ISCHR(st.st_mode) ? "it is not a device"
                                              : nullptr;
    if (kind != nullptr)
        throw CommandFailure(
            kExitNoDevice, head + kind + ", not a serial device" +
                               (S_ISSOCK(st.st_mode) ? " (a TCP device is tcp://HOST:PORT)" : ""));
    if (::access(o.device.c_str(), R_OK | W_OK) != 0)
        throw CommandFailure(kExitNoDevice, head + std::strerror(errno));
#else
    (void)o;
#endif
}

std::string device_open_failure(const std::string& device, const std::string& what,
                                std::error_code ec) {
#ifndef _WIN32
    const bool not_a_tty = ec.value() == ENOTTY;  // asio's system category, errno values
#else
    const bool not_a_tty = false;
#endif
    if (not_a_tty && device.compare(0, 6, "tcp://") != 0)
        return "cannot open serial device " + device + ": it is not a terminal (" + ec.message() +
               ")";
    return what;
}

void check_stdin_readable() {
#ifndef _WIN32
    struct stat st {};
    if (::fstat(STDIN_FILENO, &st) != 0)
        throw CommandFailure(kExitNoInput, "cannot read stdin: it is not open");
    if (S_ISDIR(st.st_mode))
        throw CommandFailure(kExitNoInput, "cannot read stdin: Is a directory");
#endif
}

std::string client_id_for(const CommonOptions& o, const std::string& prefix) {
    if (given(o.id_opt)) return o.client_id;
    std::string id = prefix;
    std::random_device rd;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) id += hex[rd() & 0xF];
    return id;
}

qmt::Session make_session(const CommonOptions& o, const std::string& client_id) {
    qmt::Session s;
    s.host = o.host;
    s.port = static_cast<std::uint16_t>(o.port);
    s.client_id = client_id;
    s.username = o.username;
    s.password = o.password;
    apply_settings(o, s);
    return s;
}

void apply_settings(const CommonOptions& o, qmt::Session& s) {
    s.settings.version = o.version;
    s.settings.keepalive_s = static_cast<std::uint16_t>(o.keepalive);
    s.settings.clean_session = !o.disable_clean_session;
    s.settings.pkt_timeout_s = static_cast<std::uint8_t>(o.pkt_timeout);
    s.settings.retry_times = static_cast<std::uint8_t>(o.retry_times);
    s.has_will = o.has_will;
    if (o.has_will) {
        s.will.qos = o.will_qos;
        s.will.retain = o.will_retain;
        s.will.topic = o.will_topic;
        s.will.message = o.will_payload;
    }
}

// ---------------------------------------------------------------------------- offline client

namespace {
struct DropWriter final : at::Writer {
    std::size_t write(const std::uint8_t*, std::size_t n) override { return n; }
};
struct QuietListener final : qmt::Listener {};
}  // namespace

struct OfflineClient::Impl {
    DropWriter writer;
    QuietListener listener;
    qmt::Client<> client{writer, listener};
};

OfflineClient::OfflineClient() : impl_(std::make_unique<Impl>()) {}
OfflineClient::~OfflineClient() = default;
qmt::ClientCore& OfflineClient::core() {
    return impl_->client;
}

void check_session_offline(OfflineClient& c, const qmt::Session& s) {
    if (auto r = c.core().configure(s); !r)
        throw UsageError("Invalid session: " + std::string(qmt::to_string(r.error().code)) + ".");
}

// ---------------------------------------------------------------------------- reporting

namespace {
bool quiet_ = false;
}  // namespace

void set_quiet(bool quiet) {
    quiet_ = quiet;
}

void warn(const std::string& tool, const std::string& what) {
    if (quiet_) return;
    std::cout.flush();
    std::cerr << "qmtkit " << tool << ": " << what << std::endl;
}

int unavailable(const std::string& tool, const std::string& what) {
    std::cout.flush();
    std::cerr << "qmtkit " << tool << ": not available in the Windows build: " << what << std::endl;
    return kExitUnavailable;
}

int fail(const std::string& tool, const std::string& cause) {
    warn(tool, cause);
    return kExitFailed;
}

std::chrono::milliseconds seconds(double s) {
    return std::chrono::milliseconds(static_cast<long long>(std::llround(s * 1000.0)));
}

std::string format_seconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.15g", s);
    return b;
}

}  // namespace qmtkit::cli
