#include "common.hpp"

#include <cmath>
#include <iostream>
#include <random>

namespace qmtkit::cli {

void add_common_options(CLI::App& app, CommonOptions& o) {
    app.set_help_flag("--help", "Print this help message and exit");
    auto* dev = app.add_option("--device", o.device,
                               "The module's serial device (/dev/ttyUSB0, COM3) or tcp://HOST:PORT "
                               "(a terminal server, the emulator's TCP mode)")
                    ->required()
                    ->group("Module");
    (void)dev;
    app.add_option("--baud", o.baud, "Serial baud rate (8N1); ignored for tcp://")
        ->capture_default_str()
        ->check(CLI::Range(50u, 4000000u))
        ->group("Module");
    app.add_option("--flow", o.flow, "Serial flow control: none or hardware (RTS/CTS)")
        ->capture_default_str()
        ->check(CLI::IsMember({"none", "hardware"}))
        ->group("Module");
    app.add_flag("--trace", o.trace,
                 "Print the AT exchange on stderr (passwords and secrets are masked)")
        ->group("Module");
    app.add_option("--timeout", o.timeout_s,
                   "Give up (non-zero exit, naming the cause) when nothing progresses for this "
                   "many seconds")
        ->capture_default_str()
        ->check(CLI::PositiveNumber)
        ->group("Module");

    app.add_option("-h,--host", o.host,
                   "Broker host name or IP as given to AT+QMTOPEN (<= 100 bytes)")
        ->required()
        ->group("Broker");
    app.add_option("-p,--port", o.port, "Broker port")
        ->capture_default_str()
        ->check(CLI::Range(1u, 65535u))
        ->group("Broker");
    app.add_option("-i,--id", o.client_id, "MQTT client id (default: qmtkit-<tool>-<random>)")
        ->group("Broker");
    app.add_option("-u,--username", o.username, "MQTT user name")->group("Broker");
    app.add_option("-P,--pw", o.password, "MQTT password (never printed, masked in --trace)")
        ->group("Broker");
    app.add_option("-k,--keepalive", o.keepalive, "Keep-alive in seconds (0..3600, 0 = off)")
        ->capture_default_str()
        ->check(CLI::Range(0u, 3600u))
        ->group("Broker");
    app.add_option("-V,--protocol-version", o.protocol, "MQTT protocol version: 31 or 311")
        ->capture_default_str()
        ->check(CLI::IsMember({"31", "311", "mqttv31", "mqttv311"}))
        ->group("Broker");
    app.add_flag("-c,--disable-clean-session", o.disable_clean_session,
                 "Keep the session on the broker (clean_session = 0)")
        ->group("Broker");
    app.add_option("--pkt-timeout", o.pkt_timeout,
                   "The module's packet timeout in seconds (AT+QMTCFG=\"timeout\", 1..60)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 60u))
        ->group("Broker");
    app.add_option("--retry", o.retry_times, "The module's retransmissions per packet (0..10)")
        ->capture_default_str()
        ->check(CLI::Range(0u, 10u))
        ->group("Broker");
}

qmt::Session make_session(const CommonOptions& o, const std::string& default_id) {
    qmt::Session s;
    s.host = o.host;
    s.port = static_cast<std::uint16_t>(o.port);
    s.client_id =
        o.client_id.empty() ? std::string_view(default_id) : std::string_view(o.client_id);
    s.username = o.username;
    s.password = o.password;
    s.settings.version = (o.protocol == "31" || o.protocol == "mqttv31") ? 3 : 4;
    s.settings.keepalive_s = static_cast<std::uint16_t>(o.keepalive);
    s.settings.clean_session = !o.disable_clean_session;
    s.settings.pkt_timeout_s = static_cast<std::uint8_t>(o.pkt_timeout);
    s.settings.retry_times = static_cast<std::uint8_t>(o.retry_times);
    return s;
}

std::unique_ptr<host::BlockingClient> open_client(const CommonOptions& o, const std::string& tool,
                                                  const std::string& default_id_prefix) {
    host::SerialOptions serial;
    serial.baud = o.baud;
    serial.flow = o.flow == "hardware" ? host::FlowControl::hardware : host::FlowControl::none;
    auto c = std::make_unique<host::BlockingClient>(o.device, serial);
    if (o.trace) {
        c->set_trace([](at::TraceKind k, std::string_view t) {
            std::cerr << host::format_trace(k, t) << '\n';
        });
    }
    // configure() copies every string: `id` only has to live until start() returns.
    std::string id = default_id_prefix;
    if (o.client_id.empty()) {
        std::random_device rd;
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 8; ++i) id += hex[rd() & 0xF];
    }
    const qmt::Session session = make_session(o, id);
    if (auto r = c->start(session); !r) {
        fail(tool, "invalid session: " + host::describe(r.error()));
        return nullptr;
    }
    return c;
}

void warn(const std::string& tool, const std::string& what) {
    std::cout.flush();
    std::cerr << "qmtkit " << tool << ": " << what << std::endl;
}

int fail(const std::string& tool, const std::string& cause) {
    warn(tool, cause);
    return 1;
}

std::chrono::milliseconds seconds(double s) {
    return std::chrono::milliseconds(static_cast<long long>(std::llround(s * 1000.0)));
}

}  // namespace qmtkit::cli
