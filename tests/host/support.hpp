// Host test support: a real pseudo-terminal pair whose master side the test plays as the module,
// and helpers that run an io_context until a condition holds (never sleeping).
#pragma once

#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <asio.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "qmtkit/at/engine.hpp"

namespace qmtkit::host::test {

// Runs `io` until `done()` or `timeout`; returns done().
template <class Pred>
bool run_until(asio::io_context& io, Pred done,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return done();
        if (io.stopped()) io.restart();
        if (io.run_one_until(deadline) == 0 && io.stopped()) {
            // Out of work: nothing can make done() true any more.
            return done();
        }
    }
    return true;
}

// A pty whose slave side is raw, so nothing is translated on the way; the slave stays open (the
// caller closes it) so the pty lives while a transport reopens it by path.
struct RawPty {
    int master = -1;
    int slave = -1;
    std::string slave_path;
};
inline RawPty open_raw_pty() {
    RawPty p;
    char name[256] = {};
    if (::openpty(&p.master, &p.slave, name, nullptr, nullptr) != 0)
        throw std::runtime_error("openpty failed");
    termios t{};
    if (::tcgetattr(p.slave, &t) == 0) {
        ::cfmakeraw(&t);
        ::tcsetattr(p.slave, TCSANOW, &t);
    }
    p.slave_path = name;
    return p;
}

// The module's side of a pty: reads what the host writes (asynchronously, into `received`) and
// writes raw answers.
class PtyModule {
  public:
    explicit PtyModule(asio::io_context& io) : master_(io) {
        const RawPty p = open_raw_pty();
        slave_fd_ = p.slave;
        slave_path_ = p.slave_path;
        master_.assign(p.master);
        read_next();
    }
    ~PtyModule() {
        std::error_code ignored;
        master_.close(ignored);
        if (slave_fd_ >= 0) ::close(slave_fd_);
    }

    const std::string& slave_path() const { return slave_path_; }

    void write(const std::string& bytes) { asio::write(master_, asio::buffer(bytes)); }
    // Everything the host wrote so far.
    std::string received;

  private:
    void read_next() {
        master_.async_read_some(asio::buffer(buf_), [this](std::error_code ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;  // closed: `this` may be gone
            received.append(buf_, n);
            if (!ec) read_next();
        });
    }
    asio::posix::stream_descriptor master_;
    int slave_fd_ = -1;
    std::string slave_path_;
    char buf_[512];
};

// Records the engine's callbacks.
struct Recorder final : at::CommandHandler {
    std::vector<std::string> events;
    void on_info(const at::CommandRef&, std::string_view line) override {
        events.push_back("info:" + std::string(line));
    }
    void on_final(const at::CommandRef& r, const at::Outcome& o) override {
        events.push_back("final:" + std::to_string(r.tag) + ":" +
                         (o ? std::string("ok") : std::string(at::to_string(o.error().kind))));
    }
    bool has(const std::string& e) const {
        for (const auto& x : events) {
            if (x == e) return true;
        }
        return false;
    }
};

}  // namespace qmtkit::host::test
