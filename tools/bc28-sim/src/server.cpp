#include "server.hpp"

#include "mosquitto_network.hpp"

#include <qmtkit/cloud/signing.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

namespace bc28sim {

namespace {

using Clock = std::chrono::steady_clock;

// A write queue in front of an Asio stream.
template <class Stream>
class Writer {
  public:
    explicit Writer(Stream& s) : s_(s) {}
    void write(std::string bytes) {
        q_.push_back(std::move(bytes));
        if (!busy_) next();
    }

  private:
    void next() {
        if (q_.empty()) {
            busy_ = false;
            return;
        }
        busy_ = true;
        asio::async_write(s_, asio::buffer(q_.front()),
                          [this](const asio::error_code& ec, std::size_t) {
                              if (ec) {
                                  q_.clear();
                                  busy_ = false;
                                  return;
                              }
                              q_.pop_front();
                              next();
                          });
    }
    Stream& s_;
    std::deque<std::string> q_;
    bool busy_ = false;
};

std::string hex_decode(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(std::strtol(hex.substr(i, 2).c_str(), nullptr, 16));
    }
    return out;
}

bool parse_long(const std::string& s, long& out) {
    if (s.empty()) return false;
    char* end = nullptr;
    out = std::strtol(s.c_str(), &end, 10);
    return end && *end == '\0';
}

class Server {
  public:
    explicit Server(const ServerConfig& cfg)
        : cfg_(cfg),
          start_(Clock::now()),
          net_([this](std::function<void()> fn) { post(std::move(fn)); },
               [this](const std::string& s) { log("net: " + s); }, cfg.token_timeout_ms),
          module_(
              net_, [this](std::string_view b) { to_host(std::string(b)); }, make_options(cfg)),
          model_timer_(io_),
          poll_timer_(io_),
          signals_(io_, SIGINT, SIGTERM),
          pty_(io_),
          pty_writer_(pty_),
          tcp_acceptor_(io_),
          control_acceptor_(io_) {
        if (cfg.verbose) module_.set_log([this](std::string_view s) { log(std::string(s)); });
    }

    // Connect IDs 1-5 (--variant): a MosquittoNetwork each, its own client, made on the id's
    // first AT+QMTOPEN. Id 0 is net_.
    Network& network_for(int id) {
        auto& n = extra_nets_[id];
        if (!n) {
            const std::string tag = "net" + std::to_string(id) + ": ";
            n = std::make_unique<MosquittoNetwork>(
                [this](std::function<void()> fn) { post(std::move(fn)); },
                [this, tag](const std::string& s) { log(tag + s); }, cfg_.token_timeout_ms);
        }
        return *n;
    }
    bool any_active() const {
        if (net_.active()) return true;
        for (const auto& [id, n] : extra_nets_) {
            if (n->active()) return true;
        }
        return false;
    }
    void poll_networks() {
        if (net_.active()) net_.poll();
        for (auto& [id, n] : extra_nets_) {
            if (n->active()) n->poll();
        }
    }

    int run() {
        if (!open_pty()) return 1;
        if (!cfg_.link.empty()) {
            ::unlink(cfg_.link.c_str());
            if (::symlink(slave_path_.c_str(), cfg_.link.c_str()) != 0) {
                std::cerr << "bc28-sim: cannot create symlink " << cfg_.link << "\n";
                return 1;
            }
        }
        unsigned short tcp_port = 0;
        if (cfg_.tcp_port >= 0) {
            asio::ip::tcp::endpoint ep(asio::ip::make_address(cfg_.tcp_bind),
                                       static_cast<unsigned short>(cfg_.tcp_port));
            tcp_acceptor_.open(ep.protocol());
            tcp_acceptor_.set_option(asio::socket_base::reuse_address(true));
            tcp_acceptor_.bind(ep);
            tcp_acceptor_.listen();
            tcp_port = tcp_acceptor_.local_endpoint().port();
            accept_tcp();
        }
        if (!cfg_.control.empty()) {
            ::unlink(cfg_.control.c_str());
            control_acceptor_ = asio::local::stream_protocol::acceptor(
                io_, asio::local::stream_protocol::endpoint(cfg_.control));
            accept_control();
        }
        for (const auto& f : cfg_.faults) {
            const std::string r = control_command(module_, f);
            if (r.rfind("OK", 0) != 0) {
                std::cerr << "bc28-sim: --fault \"" << f << "\": " << r << "\n";
                return 2;
            }
        }
        signals_.async_wait([this](const asio::error_code&, int) { io_.stop(); });
        read_pty();
        schedule_poll();
        kick();

        // The log line first: whoever waits for the path on stdout then finds a log that says
        // nothing more until the module is spoken to.
        log("serving " + slave_path_);
        std::cout << slave_path_ << "\n";
        if (cfg_.tcp_port >= 0) std::cout << "tcp " << tcp_port << "\n";
        std::cout.flush();

        io_.run();

        if (!cfg_.link.empty()) ::unlink(cfg_.link.c_str());
        if (!cfg_.control.empty()) ::unlink(cfg_.control.c_str());
        if (slave_fd_ >= 0) ::close(slave_fd_);
        return 0;
    }

  private:
    Options make_options(const ServerConfig& cfg) {
        Options o = cfg.module;
        o.network_for = [this](int id) -> Network& { return network_for(id); };
        o.baud = cfg.baud;  // the model paces the UART: the same byte times as under virtual time
        o.unix_ms = [] {
            return static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
        };
        o.sign_aliyun = [](const AliyunSignInput& in) -> std::optional<SignedCredentials> {
            qmtkit::cloud::AliyunParams p;
            p.product_key = in.product_key;
            p.device_name = in.device_name;
            p.device_secret = in.device_secret;
            p.client_id = in.client_id;
            p.timestamp_ms = in.timestamp_ms;
            p.method = qmtkit::cloud::SignMethod::hmacsha256;
            p.secure_mode = 3;
            auto r = qmtkit::cloud::sign_aliyun(p);
            if (const auto* c = std::get_if<qmtkit::cloud::MqttCredentials>(&r)) {
                return SignedCredentials{c->client_id, c->username, c->password};
            }
            return std::nullopt;
        };
        return o;
    }

    Millis now_ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
    }
    Micros now_us() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_).count();
    }

    void log(const std::string& s) {
        if (!cfg_.verbose) return;
        std::fprintf(stderr, "[bc28-sim %8lld] %s\n", static_cast<long long>(now_ms()), s.c_str());
    }

    void post(std::function<void()> fn) {
        asio::post(io_, [this, fn = std::move(fn)] {
            module_.advance_us(now_us());  // a network event counts its delays from now
            fn();
            kick();
        });
    }

    // Bring the model up to now and re-arm its timer.
    void kick() {
        module_.advance_us(now_us());
        const auto d = module_.next_deadline();  // whole ms: a paced line wakes us once a ms
        model_timer_.cancel();
        if (d) {
            model_timer_.expires_at(start_ + std::chrono::milliseconds(*d));
            model_timer_.async_wait([this](const asio::error_code& ec) {
                if (!ec) kick();
            });
        }
        if (any_active() && !fast_poll_) schedule_poll();
    }

    void schedule_poll() {
        fast_poll_ = any_active();
        poll_timer_.cancel();
        poll_timer_.expires_after(std::chrono::milliseconds(fast_poll_ ? 5 : 100));
        poll_timer_.async_wait([this](const asio::error_code& ec) {
            if (ec) return;
            if (any_active()) {
                poll_networks();
                kick();
            }
            schedule_poll();
        });
    }

    // -------------------------------------------------------------------------------- host side

    void from_host(std::string_view bytes) {
        module_.advance_us(now_us());  // the bytes start on the line now
        module_.feed(bytes);
        kick();
    }

    void to_host(std::string bytes) {
        if (tcp_) tcp_->write(bytes);
        pty_writer_.write(std::move(bytes));
    }

    bool open_pty() {
        const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
        if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
            std::cerr << "bc28-sim: cannot create a pseudo-terminal\n";
            return false;
        }
        const char* name = ::ptsname(master);
        if (!name) return false;
        slave_path_ = name;
        // Hold the slave open ourselves: the master then never sees EIO between host sessions.
        slave_fd_ = ::open(name, O_RDWR | O_NOCTTY);
        if (slave_fd_ < 0) return false;
        termios t{};
        ::tcgetattr(slave_fd_, &t);
        ::cfmakeraw(&t);
        ::tcsetattr(slave_fd_, TCSANOW, &t);
        ::fcntl(master, F_SETFL, ::fcntl(master, F_GETFL) | O_NONBLOCK);
        pty_.assign(master);
        return true;
    }

    void read_pty() {
        pty_.async_read_some(asio::buffer(pty_buf_), [this](const asio::error_code& ec,
                                                            std::size_t n) {
            if (ec) {
                // EIO while no one holds the slave: try again shortly.
                auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
                t->async_wait([this, t](const asio::error_code&) { read_pty(); });
                return;
            }
            from_host(std::string_view(pty_buf_.data(), n));
            read_pty();
        });
    }

    // One TCP client: its socket, write queue and read buffer live and die together.
    struct TcpSession : std::enable_shared_from_this<TcpSession> {
        explicit TcpSession(asio::ip::tcp::socket s) : socket(std::move(s)) {}
        void write(std::string bytes) {
            q.push_back(std::move(bytes));
            if (!busy) next();
        }
        void next() {
            if (q.empty()) {
                busy = false;
                return;
            }
            busy = true;
            auto self = shared_from_this();  // pending writes keep the session alive
            asio::async_write(socket, asio::buffer(q.front()),
                              [self](const asio::error_code& ec, std::size_t) {
                                  if (ec) {
                                      self->q.clear();
                                      self->busy = false;
                                      return;
                                  }
                                  self->q.pop_front();
                                  self->next();
                              });
        }
        asio::ip::tcp::socket socket;
        std::deque<std::string> q;
        bool busy = false;
        std::array<char, 4096> buf{};
    };

    void accept_tcp() {
        tcp_acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket s) {
            if (!ec) {
                // A terminal server has one client: a new one replaces the old.
                if (tcp_) {
                    asio::error_code ignored;
                    tcp_->socket.close(ignored);
                }
                tcp_ = std::make_shared<TcpSession>(std::move(s));
                log("tcp client connected");
                read_tcp(tcp_);
            }
            accept_tcp();
        });
    }

    void read_tcp(std::shared_ptr<TcpSession> t) {
        auto* raw = t.get();
        raw->socket.async_read_some(asio::buffer(raw->buf),
                                    [this, t](const asio::error_code& ec, std::size_t n) {
                                        if (ec) {
                                            if (tcp_ == t) tcp_.reset();
                                            return;
                                        }
                                        if (tcp_ == t)
                                            from_host(std::string_view(t->buf.data(), n));
                                        read_tcp(t);
                                    });
    }

    struct ControlSession : std::enable_shared_from_this<ControlSession> {
        explicit ControlSession(Server& s, asio::local::stream_protocol::socket sock)
            : server(s), socket(std::move(sock)) {}
        void start() { read(); }
        void read() {
            auto self = shared_from_this();
            asio::async_read_until(
                socket, asio::dynamic_buffer(in), '\n',
                [self](const asio::error_code& ec, std::size_t n) {
                    if (ec) return;
                    std::string line = self->in.substr(0, n - 1);
                    self->in.erase(0, n);
                    if (!line.empty() && line.back() == '\r') line.pop_back();
                    self->out = control_command(self->server.module_, line) + "\n";
                    self->server.log("control: " + line);
                    self->server.kick();
                    asio::async_write(self->socket, asio::buffer(self->out),
                                      [self](const asio::error_code& wec, std::size_t) {
                                          if (!wec) self->read();
                                      });
                });
        }
        Server& server;
        asio::local::stream_protocol::socket socket;
        std::string in;
        std::string out;
    };

    void accept_control() {
        control_acceptor_.async_accept(
            [this](const asio::error_code& ec, asio::local::stream_protocol::socket s) {
                if (!ec) std::make_shared<ControlSession>(*this, std::move(s))->start();
                accept_control();
            });
    }

    ServerConfig cfg_;
    Clock::time_point start_;
    asio::io_context io_;
    MosquittoNetwork net_;
    std::map<int, std::unique_ptr<MosquittoNetwork>> extra_nets_;  // outlive module_
    Module module_;
    asio::steady_timer model_timer_;
    asio::steady_timer poll_timer_;
    bool fast_poll_ = false;
    asio::signal_set signals_;
    asio::posix::stream_descriptor pty_;
    Writer<asio::posix::stream_descriptor> pty_writer_;
    std::array<char, 4096> pty_buf_{};
    std::string slave_path_;
    int slave_fd_ = -1;
    asio::ip::tcp::acceptor tcp_acceptor_;
    std::shared_ptr<TcpSession> tcp_;
    asio::local::stream_protocol::acceptor control_acceptor_;
};

}  // namespace

std::string control_command(Module& m, const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    std::string rest;
    std::getline(in, rest);
    while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    long n = 0;
    auto on_off = [&rest](bool& out) {
        if (rest == "on" || rest == "1" || rest.empty())
            out = true;
        else if (rest == "off" || rest == "0")
            out = false;
        else
            return false;
        return true;
    };

    if (cmd.empty() || cmd == "help") {
        return "OK commands: status | drop [stat] | ping-timeout | stat <n> | reboot [cause] | "
               "garbage [count] | garbage-hex <hex> | split <ms> | delay <ms> | "
               "delay-prompt <ms> | delay-result <ms> | urc <line> | urc-in-reply <line> | "
               "refuse-open on|off | refuse-conn <rc>|off | stall-acks on|off | rtt <ms> | "
               "uplink <kbps> | proc <ms> | csq <n>";
    }
    if (cmd == "status") {
        return "OK state=" + m.state_name() +
               " inflight=" + std::to_string(m.inflight_publishes()) +
               " data_mode=" + (m.in_data_mode() ? "1" : "0");
    }
    if (cmd == "drop" || cmd == "stat") {
        long code = 7;
        if (!rest.empty() && (!parse_long(rest, code) || code < 0 || code > 255))
            return "ERR bad code";
        if (cmd == "stat" && rest.empty()) return "ERR stat needs a code";
        m.drop_link(static_cast<int>(code));
        return "OK";
    }
    if (cmd == "ping-timeout") {
        m.ping_timeout();
        return "OK";
    }
    if (cmd == "reboot") {
        m.reboot(rest.empty() ? "REBOOT_CAUSE_APPLICATION_WATCHDOG" : rest);
        return "OK";
    }
    if (cmd == "garbage") {
        long count = 16;
        if (!rest.empty() && (!parse_long(rest, count) || count < 1 || count > 65536))
            return "ERR bad count";
        std::string g;
        std::uint32_t x = 0x2545F491u;
        for (long i = 0; i < count; ++i) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            g += static_cast<char>(x & 0xFF);
        }
        m.garbage(g);
        return "OK";
    }
    if (cmd == "garbage-hex") {
        if (rest.empty() || rest.size() % 2) return "ERR hex bytes expected";
        m.garbage(hex_decode(rest));
        return "OK";
    }
    if (cmd == "split" || cmd == "delay" || cmd == "delay-prompt" || cmd == "delay-result") {
        if (!parse_long(rest, n) || n < 0) return "ERR milliseconds expected";
        if (cmd == "split")
            m.split_next(n);
        else if (cmd == "delay")
            m.delay_next(n);
        else if (cmd == "delay-prompt")
            m.delay_prompt(n);
        else
            m.delay_result(n);
        return "OK";
    }
    if (cmd == "urc") {
        if (rest.empty()) return "ERR line expected";
        m.urc(rest);
        return "OK";
    }
    if (cmd == "urc-in-reply") {
        if (rest.empty()) return "ERR line expected";
        m.urc_in_next_reply(rest);
        return "OK";
    }
    if (cmd == "refuse-open") {
        bool on = false;
        if (!on_off(on)) return "ERR on|off";
        m.refuse_open(on);
        return "OK";
    }
    if (cmd == "refuse-conn") {
        if (rest == "off" || rest == "0") {
            m.refuse_connect(0);
            return "OK";
        }
        if (rest.empty())
            n = 5;
        else if (!parse_long(rest, n) || n < 1 || n > 5)
            return "ERR return code 1..5 or off";
        m.refuse_connect(static_cast<int>(n));
        return "OK";
    }
    if (cmd == "stall-acks") {
        bool on = false;
        if (!on_off(on)) return "ERR on|off";
        m.stall_acks(on);
        return "OK";
    }
    if (cmd == "rtt") {
        if (!parse_long(rest, n) || n < 0) return "ERR milliseconds expected";
        m.set_rtt(n);
        return "OK";
    }
    if (cmd == "proc") {
        if (!parse_long(rest, n) || n < 0) return "ERR milliseconds expected";
        m.set_proc(n);
        return "OK";
    }
    if (cmd == "uplink") {
        if (!parse_long(rest, n) || n < 0) return "ERR kbps expected";
        m.set_uplink_kbps(static_cast<unsigned>(n));
        return "OK";
    }
    if (cmd == "csq") {
        if (!parse_long(rest, n) || n < 0 || n > 99) return "ERR 0..31 or 99";
        m.set_csq(static_cast<int>(n));
        return "OK";
    }
    return "ERR unknown command (try help)";
}

int run_server(const ServerConfig& cfg) {
    ::signal(SIGPIPE, SIG_IGN);
    Server s(cfg);
    return s.run();
}

}  // namespace bc28sim
