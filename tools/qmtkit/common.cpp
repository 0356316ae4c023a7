#include "common.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>

#include "qmtkit/at/fields.hpp"

namespace qmtkit::cli {

const char* const kExitStatusHelp =
    "Exit status:\n"
    "  0    success\n"
    "  1    failure, with one line on stderr naming the cause: a message, subscription or\n"
    "       device failed, the link did not come up (a cause retrying cannot heal at once,\n"
    "       others after --timeout), the device went away; or a usage error (\"Error: ...\",\n"
    "       nothing was sent), as mosquitto_pub\n"
    "  2    verify: the manifest is invalid or cannot be read (FILE:LINE:COL: ... lines)\n"
    "  130  stopped by SIGINT (Ctrl+C); pub and sub send DISCONNECT and CLOSE first (at most\n"
    "       3 s; a second signal ends at once)\n"
    "  143  stopped by SIGTERM, as SIGINT\n";

// ----------------------------------------------------------------------------- usage errors

namespace {

std::string invalid(const std::string& what, const std::string& text, const std::string& option,
                    const std::string& allowed) {
    return "Invalid " + what + " given: " + text + " (" + option + " takes " + allowed + ").";
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
                                "required")
                     ->type_name("HOST")
                     ->group("Broker");
    app.add_option("-p,--port", o.port_text, "Broker port (1..65535)")
        ->capture_default_str()
        ->type_name("N")
        ->group("Broker");
    o.id_opt = app.add_option("-i,--id", o.client_id,
                              "MQTT client id, 1..255 bytes (default: qmtkit-<tool>-<random>)")
                   ->type_name("ID")
                   ->group("Broker");
    app.add_option("-u,--username", o.username, "MQTT user name (at most 255 bytes)")
        ->type_name("USER")
        ->group("Broker");
    o.password_opt = app.add_option("-P,--pw", o.password,
                                    "MQTT password, at most 255 bytes (never printed, masked in "
                                    "--trace)")
                         ->type_name("PASSWORD")
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
}

void check_common(CommonOptions& o) {
    require(o.device_opt, "--device");
    require(o.host_opt, "-h");
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

    check_field(o.host, "host", "-h", 1, qmt::kMaxHost);
    if (given(o.id_opt)) check_field(o.client_id, "client id", "-i", 1, kMaxClientId);
    check_field(o.username, "username", "-u", 0, kMaxCredential);
    check_field(o.password, "password", "-P", 0, kMaxCredential);
    if (!o.password.empty() && o.username.empty())
        throw UsageError("A password (-P) needs a username (-u).");
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
    s.settings.version = o.version;
    s.settings.keepalive_s = static_cast<std::uint16_t>(o.keepalive);
    s.settings.clean_session = !o.disable_clean_session;
    s.settings.pkt_timeout_s = static_cast<std::uint8_t>(o.pkt_timeout);
    s.settings.retry_times = static_cast<std::uint8_t>(o.retry_times);
    return s;
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

void warn(const std::string& tool, const std::string& what) {
    std::cout.flush();
    std::cerr << "qmtkit " << tool << ": " << what << std::endl;
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
