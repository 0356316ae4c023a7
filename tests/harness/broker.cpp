#include "broker.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

namespace qmtkit::test {

using namespace std::chrono;

bool wait_for_port(const std::string& host, std::uint16_t port, milliseconds timeout) {
    const auto deadline = steady_clock::now() + timeout;
    while (steady_clock::now() < deadline) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (ok) return true;
        std::this_thread::sleep_for(milliseconds(10));  // retry interval of a readiness probe
    }
    return false;
}

Broker::Broker() : Broker(Options{}) {}

Broker::Broker(Options opt) : opt_(std::move(opt)), dir_(make_temp_dir("qmtkit-broker-")) {
    if (opt_.mosquitto.empty()) {
        const char* env = std::getenv("MOSQUITTO");
        opt_.mosquitto = env && *env ? env : "/usr/sbin/mosquitto";
    }
    port_ = opt_.port;
    extra_ = opt_.extra_config;
}

Broker::~Broker() {
    proc_.reset();  // kills it
    remove_tree(dir_);
}

Broker& Broker::add_plugin(const std::string& so_path,
                           const std::map<std::string, std::string>& options) {
    plugin_lines_.push_back("plugin " + so_path);
    for (const auto& [k, v] : options) plugin_lines_.push_back("plugin_opt_" + k + " " + v);
    return *this;
}

Broker& Broker::add_config(const std::string& line) {
    extra_.push_back(line);
    return *this;
}

void Broker::write_config() const {
    std::ofstream f(config_path());
    f << "per_listener_settings false\n";
    f << "listener " << port_ << " 127.0.0.1\n";
    f << "allow_anonymous " << (opt_.allow_anonymous ? "true" : "false") << "\n";
    if (opt_.persistence) {
        f << "persistence true\npersistence_location " << dir_ << "/\n";
    } else {
        f << "persistence false\n";
    }
    f << "log_dest file " << log_path() << "\n";
    f << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
    f << "connection_messages true\n";
    if (::geteuid() == 0)
        f << "user root\n";  // else mosquitto drops to a user that cannot write here
    for (const auto& l : plugin_lines_) f << l << "\n";
    for (const auto& l : extra_) f << l << "\n";
}

void Broker::start(milliseconds timeout) {
    if (running()) return;
    const bool fixed = port_ != 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!fixed) port_ = free_loopback_port();
        write_config();
        Process::Options po;
        po.stdout_path = dir_ + "/mosquitto.stdout";
        po.stderr_path = dir_ + "/mosquitto.stderr";
        proc_ = std::make_unique<Process>(
            std::vector<std::string>{opt_.mosquitto, "-c", config_path()}, po);
        const auto deadline = steady_clock::now() + timeout;
        while (steady_clock::now() < deadline && proc_->running()) {
            if (wait_for_port(host(), port_, milliseconds(50))) return;
        }
        proc_.reset();
        if (fixed) break;  // the port was asked for; another one would not do
    }
    std::ifstream err(dir_ + "/mosquitto.stderr");
    std::stringstream ss;
    ss << err.rdbuf();
    throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) + ": " +
                             ss.str() + log());
}

void Broker::stop() {
    if (proc_) proc_->stop();
    proc_.reset();
}

void Broker::restart(milliseconds timeout) {
    stop();
    start(timeout);
}

void Broker::kill() {
    if (proc_) {
        proc_->signal(SIGKILL);
        proc_->wait(milliseconds(5000));
    }
    proc_.reset();
}

bool Broker::running() {
    return proc_ && proc_->running();
}

std::string Broker::log() const {
    std::ifstream f(log_path());
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace qmtkit::test
