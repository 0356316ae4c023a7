// Shared by every qmtkit subcommand: the common options (device, broker, credentials, trace),
// building a session from them, and reporting a failure as one line on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qmtkit/host/blocking_client.hpp"

namespace qmtkit::cli {

// One subcommand: its CLI11 app and what runs when it was chosen. Each subcommand lives in its
// own file and registers itself from main.cpp (add_pub, add_sub, later add_sign, ...).
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

struct CommonOptions {
    std::string device;
    unsigned baud = 9600;
    std::string flow = "none";
    std::string host;
    unsigned port = 1883;
    std::string client_id;
    std::string username;
    std::string password;
    unsigned keepalive = 60;
    std::string protocol = "311";
    bool disable_clean_session = false;
    unsigned pkt_timeout = 10;
    unsigned retry_times = 3;
    bool trace = false;
    double timeout_s = 60;
};

// Adds --device, --baud, --flow, -h/--host, -p/--port, -i/--id, -u/--username, -P/--pw,
// -k/--keepalive, -V/--protocol-version, -c, --pkt-timeout, --retry, --trace, --timeout.
void add_common_options(CLI::App& app, CommonOptions& o);

// The session the supervisor brings up. Its string views point into `o` and `default_id`.
qmt::Session make_session(const CommonOptions& o, const std::string& default_id);

// Opens the device, installs --trace and starts the supervisor. Throws host::TransportError;
// on a refused session prints the cause and returns nullptr.
std::unique_ptr<host::BlockingClient> open_client(const CommonOptions& o, const std::string& tool,
                                                  const std::string& default_id_prefix);

// Prints "qmtkit <tool>: <cause>" on stderr and returns the exit code for a failure (1).
int fail(const std::string& tool, const std::string& cause);
// Prints "qmtkit <tool>: <what>" on stderr (something went wrong, the command goes on).
void warn(const std::string& tool, const std::string& what);

std::chrono::milliseconds seconds(double s);

// main.cpp calls these; each is defined in its own cmd_*.cpp.
Command add_pub(CLI::App& root);
Command add_sub(CLI::App& root);
Command add_sign(CLI::App& root);    // cmd_sign.cpp
Command add_verify(CLI::App& root);  // cmd_verify.cpp

}  // namespace qmtkit::cli
