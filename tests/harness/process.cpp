#include "process.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace qmtkit::test {

using namespace std::chrono;

Process::Process(const std::vector<std::string>& argv, const Options& opt) {
    if (argv.empty()) throw std::invalid_argument("Process: empty argv");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int pipefd[2] = {-1, -1};
    if (opt.capture_stdout) {
        if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    } else {
        const std::string out = opt.stdout_path.empty() ? "/dev/null" : opt.stdout_path;
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    const std::string err = opt.stderr_path.empty() ? "/dev/null" : opt.stderr_path;
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (opt.capture_stdout) {
        ::close(pipefd[1]);
        stdout_fd_ = pipefd[0];
    }
    if (rc != 0) {
        pid_ = -1;
        if (stdout_fd_ >= 0) ::close(stdout_fd_);
        stdout_fd_ = -1;
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    }
}

Process::~Process() {
    stop();
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool Process::running() {
    if (pid_ < 0 || reaped_) return false;
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
        reaped_ = true;
        return false;
    }
    return true;
}

void Process::signal(int sig) {
    if (running()) ::kill(pid_, sig);
}

std::optional<int> Process::wait(milliseconds timeout) {
    const auto deadline = steady_clock::now() + timeout;
    while (running()) {
        if (steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(milliseconds(5));  // polling a child's exit, not synchronising
    }
    if (pid_ < 0) return std::nullopt;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

void Process::stop(milliseconds grace) {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    if (!wait(grace)) {
        ::kill(pid_, SIGKILL);
        wait(milliseconds(5000));
    }
}

std::optional<std::string> Process::read_stdout_line(milliseconds timeout) {
    if (stdout_fd_ < 0) return std::nullopt;
    const auto deadline = steady_clock::now() + timeout;
    while (true) {
        const auto nl = stdout_buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = stdout_buf_.substr(0, nl);
            stdout_buf_.erase(0, nl + 1);
            return line;
        }
        const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0) return std::nullopt;
        pollfd p{stdout_fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        char buf[512];
        const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
        if (n <= 0) return std::nullopt;
        stdout_buf_.append(buf, static_cast<std::size_t>(n));
    }
}

unsigned short free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("bind failed");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string make_temp_dir(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

void remove_tree(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace qmtkit::test
