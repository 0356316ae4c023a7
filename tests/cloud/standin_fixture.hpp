// Private test helper for tests/cloud: starts a REAL mosquitto (127.0.0.1, free port) with the
// qmtkit_cloud_auth plugin, and qmtkit-token-server, and always stops them. Readiness is
// detected from their output (mosquitto's "mosquitto version X running" log line, the token
// server's first stdout line), never by sleeping. Process exit is awaited on a pidfd.
//
// Written because tests/harness/broker.hpp did not exist when these tests were written; switch
// to it once it does.
#pragma once

#include <mosquitto.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace qmtkit::test {

using namespace std::chrono_literals;

// A child process with its stdout and stderr on pipes.
class Child {
public:
    Child(const std::vector<std::string>& argv) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            ::dup2(err[1], 2);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
        pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() { stop(); }

    // Reads one line from fd (stdout or stderr), waiting at most `timeout`.
    std::optional<std::string> read_line(int fd, std::chrono::milliseconds timeout) {
        std::string& buf = fd == out_ ? out_buf_ : err_buf_;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            auto nl = buf.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf.substr(0, nl);
                buf.erase(0, nl + 1);
                return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
            char tmp[4096];
            const auto n = ::read(fd, tmp, sizeof tmp);
            if (n <= 0) return std::nullopt;  // EOF: the child closed it (or exited)
            buf.append(tmp, static_cast<std::size_t>(n));
        }
    }
    int out_fd() const { return out_; }
    int err_fd() const { return err_; }
    pid_t pid() const { return pid_; }

    // SIGTERM, wait (event: pidfd readable) up to 5 s, then SIGKILL; reap. Pipes stay open
    // (a reader thread sees EOF) until close_pipes() / the destructor.
    void terminate_and_wait() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        bool exited = false;
        if (pidfd_ >= 0) {
            pollfd p{pidfd_, POLLIN, 0};
            exited = ::poll(&p, 1, 5000) > 0;
        }
        if (!exited) ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    void close_pipes() {
        for (int* fd : {&out_, &err_, &pidfd_})
            if (*fd >= 0) ::close(*fd), *fd = -1;
    }
    void stop() {
        terminate_and_wait();
        close_pipes();
    }

private:
    pid_t pid_ = -1;
    int out_ = -1, err_ = -1, pidfd_ = -1;
    std::string out_buf_, err_buf_;
};

inline std::string current_user() {
    const passwd* pw = ::getpwuid(::geteuid());
    return pw && pw->pw_name ? pw->pw_name : "root";
}

// A loopback TCP port nobody listens on right now (bind to 0, read it back, release).
inline std::uint16_t free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/qmtkit-cloud-test-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        path_ = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
    const std::string& path() const { return path_; }
    std::string write(const std::string& name, const std::string& content) const {
        const std::string p = path_ + "/" + name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

private:
    std::string path_;
};

// mosquitto + plugin + token server.
class Standin {
public:
    Standin(const std::string& registry_json) {
        try {
            start(registry_json);
        } catch (...) {
            shutdown();
            throw;
        }
    }
    ~Standin() { shutdown(); }

    std::uint16_t mqtt_port() const { return mqtt_port_; }
    std::string token_url() const {
        return "http://127.0.0.1:" + std::to_string(http_port_) + "/token";
    }

private:
    void shutdown() {
        for (auto* c : {&broker_, &token_})
            if (*c) (*c)->terminate_and_wait();  // EOF ends the drain threads
        if (broker_log_.joinable()) broker_log_.join();
        if (token_log_.joinable()) token_log_.join();
        broker_.reset();
        token_.reset();
    }

    void start(const std::string& registry_json) {
        registry_ = dir_.write("registry.json", registry_json);

        token_ = std::make_unique<Child>(std::vector<std::string>{
            QMTKIT_TOKEN_SERVER, "--registry", registry_, "--port", "0"});
        auto port_line = token_->read_line(token_->out_fd(), 10s);
        if (!port_line) throw std::runtime_error("token server did not print its port");
        http_port_ = static_cast<std::uint16_t>(std::stoi(*port_line));
        token_log_ = std::thread([this] { drain(*token_, token_->err_fd(), token_lines_); });

        // A free port can be taken between free_port() and mosquitto's bind: retry a few times.
        for (int attempt = 0; attempt < 5 && !broker_; ++attempt) {
            mqtt_port_ = free_port();
            const std::string conf = dir_.write(
                "mosquitto.conf",
                "per_listener_settings false\n"
                "listener " + std::to_string(mqtt_port_) + " 127.0.0.1\n"
                "allow_anonymous false\npersistence false\n"
                // Run as whoever runs the test (as root, mosquitto would otherwise switch to
                // the "mosquitto" user, which cannot read our private temp directory).
                "user " + current_user() + "\n"
                "plugin " QMTKIT_CLOUD_AUTH_PLUGIN "\n"
                "plugin_opt_registry " + registry_ + "\n"
                "log_dest stderr\nlog_type all\nconnection_messages true\n");
            auto b = std::make_unique<Child>(
                std::vector<std::string>{QMTKIT_MOSQUITTO, "-c", conf});
            bool ready = false;
            while (auto line = b->read_line(b->err_fd(), 10s)) {
                broker_lines_.push_back(*line);
                // Logged after every listener is bound and listening ("Opening ipv4 listen
                // socket" comes before bind/listen, so it is too early).
                if (line->find(" running") != std::string::npos &&
                    line->find("mosquitto version") != std::string::npos) {
                    ready = true;
                    break;
                }
            }
            if (ready) broker_ = std::move(b);
        }
        if (!broker_) throw std::runtime_error("mosquitto did not start: " + broker_log());
        broker_log_ = std::thread([this] { drain(*broker_, broker_->err_fd(), broker_lines_); });
    }

public:
    std::string broker_log() {
        std::lock_guard<std::mutex> l(mu_);
        std::string all;
        for (const auto& s : broker_lines_) all += s + "\n";
        return all;
    }
    std::string token_log() {
        std::lock_guard<std::mutex> l(mu_);
        std::string all;
        for (const auto& s : token_lines_) all += s + "\n";
        return all;
    }
    // Waits (on the log stream, not by sleeping) until the broker logged a line containing s.
    bool wait_broker_log(const std::string& s, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock<std::mutex> l(mu_);
        return cv_.wait_for(l, timeout, [&] {
            for (const auto& line : broker_lines_)
                if (line.find(s) != std::string::npos) return true;
            return false;
        });
    }

private:
    void drain(Child& c, int fd, std::vector<std::string>& lines) {
        // Blocks in read_line (poll + read); ends at EOF when the child exits.
        while (auto line = c.read_line(fd, std::chrono::hours(24))) {
            std::lock_guard<std::mutex> l(mu_);
            lines.push_back(*line);
            cv_.notify_all();
        }
    }

    TempDir dir_;
    std::string registry_;
    std::unique_ptr<Child> token_, broker_;
    std::thread token_log_, broker_log_;
    std::uint16_t http_port_ = 0, mqtt_port_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::string> broker_lines_, token_lines_;
};

// A libmosquitto MQTT 3.1.1 client driven by its own network thread; waits on callbacks.
class MqttClient {
public:
    MqttClient(const std::string& client_id) {
        static const int init = mosquitto_lib_init();
        (void)init;
        m_ = mosquitto_new(client_id.c_str(), true, this);
        if (!m_) throw std::runtime_error("mosquitto_new");
        mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
        mosquitto_connect_callback_set(m_, [](mosquitto*, void* self, int rc) {
            auto* c = static_cast<MqttClient*>(self);
            std::lock_guard<std::mutex> l(c->mu_);
            c->connack_ = rc;
            c->cv_.notify_all();
        });
        mosquitto_subscribe_callback_set(
            m_, [](mosquitto*, void* self, int, int, const int*) {
                auto* c = static_cast<MqttClient*>(self);
                std::lock_guard<std::mutex> l(c->mu_);
                ++c->subacks_;
                c->cv_.notify_all();
            });
        mosquitto_publish_callback_set(m_, [](mosquitto*, void* self, int) {
            auto* c = static_cast<MqttClient*>(self);
            std::lock_guard<std::mutex> l(c->mu_);
            ++c->pubacks_;
            c->cv_.notify_all();
        });
        mosquitto_message_callback_set(
            m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
                auto* c = static_cast<MqttClient*>(self);
                std::lock_guard<std::mutex> l(c->mu_);
                c->messages_.emplace_back(
                    msg->topic, std::string(static_cast<const char*>(msg->payload),
                                            static_cast<std::size_t>(msg->payloadlen)));
                c->cv_.notify_all();
            });
    }
    ~MqttClient() {
        mosquitto_disconnect(m_);
        mosquitto_loop_stop(m_, true);
        mosquitto_destroy(m_);
    }

    // CONNECT; returns the CONNACK return code (0 accepted, 5 not authorized, ...), or -1 when
    // no CONNACK arrived within the timeout.
    int connect(std::uint16_t port, const std::optional<std::string>& user,
                const std::optional<std::string>& pass, std::chrono::milliseconds timeout = 10s) {
        mosquitto_username_pw_set(m_, user ? user->c_str() : nullptr,
                                  pass ? pass->c_str() : nullptr);
        // Refused clients must not be retried behind our back.
        mosquitto_reconnect_delay_set(m_, 3600, 3600, false);
        if (mosquitto_connect(m_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) return -2;
        mosquitto_loop_start(m_);
        std::unique_lock<std::mutex> l(mu_);
        if (!cv_.wait_for(l, timeout, [&] { return connack_.has_value(); })) return -1;
        return *connack_;
    }
    bool subscribe(const std::string& topic, int qos = 1) {
        int before;
        {
            std::lock_guard<std::mutex> l(mu_);
            before = subacks_;
        }
        if (mosquitto_subscribe(m_, nullptr, topic.c_str(), qos) != MOSQ_ERR_SUCCESS) return false;
        std::unique_lock<std::mutex> l(mu_);
        return cv_.wait_for(l, 10s, [&] { return subacks_ > before; });
    }
    bool publish(const std::string& topic, const std::string& payload, int qos = 1) {
        int before;
        {
            std::lock_guard<std::mutex> l(mu_);
            before = pubacks_;
        }
        if (mosquitto_publish(m_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                              payload.data(), qos, false) != MOSQ_ERR_SUCCESS)
            return false;
        std::unique_lock<std::mutex> l(mu_);
        return cv_.wait_for(l, 10s, [&] { return pubacks_ > before; });
    }
    std::optional<std::pair<std::string, std::string>> wait_message(
        std::chrono::milliseconds timeout = 10s) {
        std::unique_lock<std::mutex> l(mu_);
        if (!cv_.wait_for(l, timeout, [&] { return !messages_.empty(); })) return std::nullopt;
        auto m = messages_.front();
        messages_.erase(messages_.begin());
        return m;
    }

private:
    mosquitto* m_ = nullptr;
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<int> connack_;
    int subacks_ = 0, pubacks_ = 0;
    std::vector<std::pair<std::string, std::string>> messages_;
};

}  // namespace qmtkit::test
