// One bc28-sim process on a real pseudo-terminal, driven with raw AT bytes.
//
//   qmtkit::test::SimProcess sim({.exe = BC28SIM_EXE});
//   sim.command("ATE0");                                   // waits for the final result
//   sim.send_line("AT+QMTOPEN=0,\"127.0.0.1\",1883");
//   sim.wait_line("+QMTOPEN: 0,", 5s);                     // a result line / URC
//   sim.control("drop 7");                                 // fault over the control socket
//
// Every wait has a deadline; on timeout a std::runtime_error carries what was received.
#pragma once

#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qmtkit::test {

class SimProcess {
  public:
    struct Options {
        std::string exe;                // "" = $BC28SIM_EXE or "bc28-sim" on PATH
        std::vector<std::string> args;  // extra command-line options
        bool control = true;            // --control <tmpdir>/control.sock
        bool tcp = false;               // --tcp 0
        bool verbose = true;            // -v, into <tmpdir>/bc28-sim.log
        bool open_pty = true;           // false: leave the pty to the code under test (send /
                                        // read then throw; control() still works)
    };
    using Ms = std::chrono::milliseconds;

    SimProcess();
    explicit SimProcess(Options opt);
    ~SimProcess();
    SimProcess(const SimProcess&) = delete;
    SimProcess& operator=(const SimProcess&) = delete;

    const std::string& pty_path() const { return pty_path_; }
    std::uint16_t tcp_port() const { return tcp_port_; }
    const std::string& dir() const { return dir_; }
    std::string log() const;  // the emulator's stderr (-v)
    Process& process() { return *proc_; }

    void send(std::string_view bytes);
    void send_line(const std::string& line) { send(line + "\r"); }

    // Consumes received bytes until `match` returns a count > 0 (bytes to consume, counted from
    // the start of the buffer); returns them. Throws on timeout.
    using Matcher = std::function<std::size_t(std::string_view buffer)>;
    std::string read_until(const Matcher& match, Ms timeout);
    // Through the first occurrence of `needle`.
    std::string expect(std::string_view needle, Ms timeout = Ms(5000));
    // The next complete line ("\r\n<line>\r\n" framing, or after an echo) starting with `prefix`;
    // returns the line without CR LF, consumes everything up to it.
    std::string wait_line(std::string_view prefix, Ms timeout = Ms(5000));
    // Sends `line` + CR and reads through its final result (OK / ERROR / +CME ERROR: n) or the
    // '>' prompt. Returns every byte received on the way.
    std::string command(const std::string& line, Ms timeout = Ms(5000));
    // Whatever arrives within `window` (for "nothing else came" checks, never for synchronisation).
    std::string drain(Ms window);
    // Bytes received and not consumed yet.
    const std::string& pending() const { return buf_; }

    // One control-channel command; returns its reply line ("OK ..." / "ERR ...").
    std::string control(const std::string& cmd, Ms timeout = Ms(5000));

  private:
    bool fill(Ms timeout);  // read what is there, waiting up to timeout; false on timeout

    Options opt_;
    std::string dir_;
    std::string control_path_;
    std::string pty_path_;
    std::uint16_t tcp_port_ = 0;
    std::unique_ptr<Process> proc_;
    int fd_ = -1;
    std::string buf_;
};

}  // namespace qmtkit::test
