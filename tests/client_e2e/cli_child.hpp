// A `qmtkit` process for the CLI tests that watch it while it runs: stdin is a pipe the test
// writes, a file, or /dev/null; stdout and stderr are read as they come, so a test can wait for an
// event the process reports (a line on stdout, a trace line on stderr) and then signal it. The end
// of both pipes (EOF) is how wait() learns that the process exited: qmtkit starts no children.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fixture.hpp"

extern char** environ;

namespace qmtkit::e2e {

class CliChild {
  public:
    using Clock = std::chrono::steady_clock;
    using Ms = std::chrono::milliseconds;

    // stdin: a pipe the test writes (stdin_pipe), else the file `stdin_path`, else /dev/null —
    // or the test's own descriptor `stdin_fd` (shared: what one child leaves, the next reads).
    explicit CliChild(const std::vector<std::string>& argv, bool stdin_pipe = false,
                      const std::string& stdin_path = "", int stdin_fd = -1) {
        int out[2], err[2], in[2] = {-1, -1};
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe failed");
        if (stdin_pipe && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        const std::string from = stdin_path.empty() ? "/dev/null" : stdin_path;
        if (stdin_fd >= 0)
            posix_spawn_file_actions_adddup2(&fa, stdin_fd, STDIN_FILENO);
        else if (stdin_pipe)
            posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        else
            posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, from.c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        ::close(err[1]);
        if (in[0] >= 0) ::close(in[0]);
        out_fd_ = out[0];
        err_fd_ = err[0];
        in_fd_ = in[1];
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start " + argv[0]);
        }
        started_ = Clock::now();
    }
    ~CliChild() {
        close_input();
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_fd_ >= 0) ::close(out_fd_);
        if (err_fd_ >= 0) ::close(err_fd_);
    }
    CliChild(const CliChild&) = delete;
    CliChild& operator=(const CliChild&) = delete;

    // Writes all of `s` to stdin (SIGPIPE blocked around it); false once the child stopped reading.
    bool write_input(const std::string& s) {
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        bool ok = in_fd_ >= 0;
        for (std::size_t off = 0; ok && off < s.size();) {
            const ssize_t n = ::write(in_fd_, s.data() + off, s.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ok = false;
                const timespec zero{0, 0};
                ::sigtimedwait(&pipe_set, nullptr, &zero);
                break;
            }
            off += static_cast<std::size_t>(n);
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        return ok;
    }
    void close_input() {
        if (in_fd_ >= 0) ::close(in_fd_);
        in_fd_ = -1;
    }

    void signal(int sig) {
        if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
        signalled_ = Clock::now();
    }

    // The next complete stdout line (without '\n'); nullopt on timeout or EOF.
    std::optional<std::string> stdout_line(Ms timeout) {
        pump(timeout, [&] { return out_.find('\n', taken_) != std::string::npos; });
        const auto nl = out_.find('\n', taken_);
        if (nl == std::string::npos) return std::nullopt;
        std::string line = out_.substr(taken_, nl - taken_);
        taken_ = nl + 1;
        return line;
    }
    // Waits until stderr holds `what`; false on timeout or EOF.
    bool stderr_has(const std::string& what, Ms timeout) {
        pump(timeout, [&] { return err_.find(what) != std::string::npos; });
        return err_.find(what) != std::string::npos;
    }

    // The exit status (128 + signal when killed by one), or nullopt when the process is still
    // running after `timeout` (it is killed then).
    std::optional<int> wait(Ms timeout) {
        pump(timeout, [] { return false; });
        if (out_fd_ >= 0 || err_fd_ >= 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            reaped_ = true;
            return std::nullopt;
        }
        if (!reaped_) {
            int st = 0;
            ::waitpid(pid_, &st, 0);  // both pipes closed: the process is exiting
            reaped_ = true;
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        return status_;
    }
    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }
    // From the last signal() to the end of the output (the exit).
    Ms since_signal() const { return std::chrono::duration_cast<Ms>(ended_ - signalled_); }
    // From the start to the end of the output (the exit).
    Ms run_time() const { return std::chrono::duration_cast<Ms>(ended_ - started_); }

  private:
    template <class Pred>
    void pump(Ms timeout, Pred done) {
        const auto deadline = Clock::now() + timeout;
        while (!done() && (out_fd_ >= 0 || err_fd_ >= 0)) {
            const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
            if (left.count() <= 0) return;
            pollfd p[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
            if (::poll(p, 2, static_cast<int>(left.count())) <= 0) continue;
            read_from(p[0], out_fd_, out_);
            read_from(p[1], err_fd_, err_);
            if (out_fd_ < 0 && err_fd_ < 0) ended_ = Clock::now();
        }
    }
    static void read_from(const pollfd& p, int& fd, std::string& into) {
        if (fd < 0 || p.revents == 0) return;
        char b[4096];
        const ssize_t n = ::read(fd, b, sizeof b);
        if (n < 0 && errno == EINTR) return;
        if (n <= 0) {
            ::close(fd);
            fd = -1;
            return;
        }
        into.append(b, static_cast<std::size_t>(n));
    }

    pid_t pid_ = -1;
    int in_fd_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    bool reaped_ = false;
    int status_ = -1;
    std::string out_, err_;
    std::size_t taken_ = 0;
    Clock::time_point started_{}, signalled_{}, ended_{};
};

// A real mosquitto for CLI tests against bc28-sim, and the command line that points a tool at both.
class CliOnSim : public ::testing::Test {
  protected:
    void SetUp() override { broker.start(); }

    std::vector<std::string> args(const std::string& tool, const Sim& sim,
                                  std::vector<std::string> more) const {
        std::vector<std::string> v{
            QMTKIT_EXE, tool,          "--device", sim.pty(),
            "-h",       broker.host(), "-p",       std::to_string(broker.port())};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    }

    test::Broker broker;
};

}  // namespace qmtkit::e2e
