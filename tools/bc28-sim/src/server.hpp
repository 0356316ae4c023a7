// The bc28-sim process: a module model behind a pseudo-terminal (and optionally a TCP port),
// a libmosquitto network, UART pacing and a control channel for faults. Single-threaded on Asio.
#pragma once

#include "bc28sim/module.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bc28sim {

struct ServerConfig {
    Options module;
    std::string link;   // symlink to the pty slave ("" = none)
    int tcp_port = -1;  // -1 = no TCP, 0 = pick a free port
    std::string tcp_bind = "127.0.0.1";
    std::string control;  // Unix socket path ("" = none)
    unsigned baud = 0;    // 0 = no pacing
    long token_timeout_ms = 195000;
    std::vector<std::string> faults;  // control commands applied at start
    bool verbose = false;
};

// Runs until SIGINT / SIGTERM. Prints the pty path (and "tcp <port>") on stdout once ready.
int run_server(const ServerConfig& cfg);

// Applies one control-channel command; returns the reply line ("OK ..." or "ERR ...").
std::string control_command(Module& m, const std::string& line);

}  // namespace bc28sim
