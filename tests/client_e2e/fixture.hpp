// E2E fixture: a real mosquitto, a bc28-sim process on its own pty (the client under test opens
// the pty; the harness never reads it), its control socket for fault injection, and a plain MQTT
// client on the broker to count what arrives.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker.hpp"
#include "mqtt_client.hpp"
#include "process.hpp"

namespace qmtkit::e2e {

using Ms = std::chrono::milliseconds;

class Sim {
  public:
    explicit Sim(std::vector<std::string> extra = {}) {
        dir_ = test::make_temp_dir("qmtkit-e2e-");
        control_ = dir_ + "/control.sock";
        std::vector<std::string> argv{BC28SIM_EXE, "--control", control_, "-v"};
        // QMTKIT_SIM_ARGS="--variant bg95" runs a whole suite against other emulator options.
        if (const char* env = std::getenv("QMTKIT_SIM_ARGS")) {
            std::istringstream words(env);
            for (std::string w; words >> w;) argv.push_back(w);
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        test::Process::Options po;
        po.capture_stdout = true;
        po.stderr_path = dir_ + "/bc28-sim.log";
        proc_ = std::make_unique<test::Process>(argv, po);
        auto first = proc_->read_stdout_line(Ms(10000));
        if (!first || first->empty()) throw std::runtime_error("bc28-sim printed no pty path");
        pty_ = *first;
        for (const auto& a : extra) {
            if (a != "--tcp") continue;
            auto second = proc_->read_stdout_line(Ms(5000));
            if (!second || second->rfind("tcp ", 0) != 0)
                throw std::runtime_error("bc28-sim printed no tcp port");
            tcp_port_ = static_cast<std::uint16_t>(std::stoi(second->substr(4)));
        }
    }
    ~Sim() {
        proc_.reset();
        test::remove_tree(dir_);
    }
    const std::string& pty() const { return pty_; }
    std::uint16_t tcp_port() const { return tcp_port_; }
    const std::string& dir() const { return dir_; }
    std::string log() const {
        std::ifstream in(dir_ + "/bc28-sim.log");
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    // One control command; returns the reply line ("OK ..." / "ERR ...").
    std::string control(const std::string& cmd, Ms timeout = Ms(5000)) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, control_.c_str(), sizeof a.sun_path - 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            throw std::runtime_error("cannot connect to " + control_);
        }
        const std::string line = cmd + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
            ::close(fd);
            throw std::runtime_error("control write failed");
        }
        std::string reply;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (reply.find('\n') == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char b[256];
            const ssize_t n = ::read(fd, b, sizeof b);
            if (n <= 0) break;
            reply.append(b, static_cast<std::size_t>(n));
        }
        ::close(fd);
        return reply.substr(0, reply.find('\n'));
    }

  private:
    std::string dir_;
    std::string control_;
    std::string pty_;
    std::uint16_t tcp_port_ = 0;
    std::unique_ptr<test::Process> proc_;
};

// Runs a process to completion, capturing stdout lines; returns {exit status, stdout lines}.
struct RunResult {
    int status = -1;
    std::vector<std::string> out;
    std::string err;
};

inline RunResult run_process(const std::vector<std::string>& argv, Ms timeout,
                             const std::string& dir) {
    test::Process::Options po;
    po.capture_stdout = true;
    po.stderr_path = dir + "/stderr.txt";
    test::Process p(argv, po);
    RunResult r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        auto line = p.read_stdout_line(left);
        if (!line) break;  // EOF (the process ended) or timeout
        r.out.push_back(*line);
    }
    const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    auto st = p.wait(left.count() > 0 ? left : Ms(1));
    r.status = st ? *st : -1;
    std::ifstream in(dir + "/stderr.txt");
    r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
}

}  // namespace qmtkit::e2e
