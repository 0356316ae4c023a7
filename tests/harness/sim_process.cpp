#include "sim_process.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

namespace qmtkit::test {

using namespace std::chrono;

namespace {

std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (u < 0x20 || u == 0x7F) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02X", u);
            out += b;
        } else
            out += c;
    }
    return out;
}

}  // namespace

SimProcess::SimProcess() : SimProcess(Options{}) {}

SimProcess::SimProcess(Options opt) : opt_(std::move(opt)), dir_(make_temp_dir("qmtkit-sim-")) {
    if (opt_.exe.empty()) {
        const char* env = std::getenv("BC28SIM_EXE");
        opt_.exe = env && *env ? env : "bc28-sim";
    }
    std::vector<std::string> argv{opt_.exe};
    if (opt_.control) {
        control_path_ = dir_ + "/control.sock";
        argv.insert(argv.end(), {"--control", control_path_});
    }
    if (opt_.tcp) argv.insert(argv.end(), {"--tcp", "0"});
    if (opt_.verbose) argv.push_back("-v");
    argv.insert(argv.end(), opt_.args.begin(), opt_.args.end());
    Process::Options po;
    po.capture_stdout = true;
    po.stderr_path = dir_ + "/bc28-sim.log";
    proc_ = std::make_unique<Process>(argv, po);
    auto first = proc_->read_stdout_line(Ms(10000));
    if (!first || first->empty()) {
        throw std::runtime_error("bc28-sim printed no pty path; log: " + log());
    }
    pty_path_ = *first;
    if (opt_.tcp) {
        auto second = proc_->read_stdout_line(Ms(5000));
        if (!second || second->rfind("tcp ", 0) != 0)
            throw std::runtime_error("bc28-sim printed no tcp port");
        tcp_port_ = static_cast<std::uint16_t>(std::stoi(second->substr(4)));
    }
    if (!opt_.open_pty) return;
    fd_ = ::open(pty_path_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("cannot open " + pty_path_ + ": " + std::strerror(errno));
    termios t{};
    ::tcgetattr(fd_, &t);
    ::cfmakeraw(&t);
    ::tcsetattr(fd_, TCSANOW, &t);
}

SimProcess::~SimProcess() {
    if (fd_ >= 0) ::close(fd_);
    proc_.reset();
    remove_tree(dir_);
}

std::string SimProcess::log() const {
    std::ifstream f(dir_ + "/bc28-sim.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void SimProcess::send(std::string_view bytes) {
    if (fd_ < 0) throw std::runtime_error("SimProcess: the pty was left to the code under test");
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                pollfd p{fd_, POLLOUT, 0};
                ::poll(&p, 1, 1000);
                continue;
            }
            throw std::runtime_error(std::string("pty write failed: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool SimProcess::fill(Ms timeout) {
    if (fd_ < 0) throw std::runtime_error("SimProcess: the pty was left to the code under test");
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r <= 0) return false;
    char b[4096];
    const ssize_t n = ::read(fd_, b, sizeof b);
    if (n > 0) buf_.append(b, static_cast<std::size_t>(n));
    return n > 0;
}

std::string SimProcess::read_until(const Matcher& match, Ms timeout) {
    const auto deadline = steady_clock::now() + timeout;
    while (true) {
        const std::size_t n = match(buf_);
        if (n > 0) {
            std::string out = buf_.substr(0, n);
            buf_.erase(0, n);
            return out;
        }
        const auto left = duration_cast<Ms>(deadline - steady_clock::now());
        if (left.count() <= 0) {
            throw std::runtime_error("timed out; received so far: \"" + printable(buf_) + "\"");
        }
        fill(left);
    }
}

std::string SimProcess::expect(std::string_view needle, Ms timeout) {
    const std::string n(needle);
    return read_until(
        [&n](std::string_view b) -> std::size_t {
            const auto p = b.find(n);
            return p == std::string_view::npos ? 0 : p + n.size();
        },
        timeout);
}

std::string SimProcess::wait_line(std::string_view prefix, Ms timeout) {
    const std::string p(prefix);
    std::size_t line_start = 0, line_end = 0;
    const std::string got = read_until(
        [&](std::string_view b) -> std::size_t {
            std::size_t from = 0;
            while (true) {
                const auto at = b.find(p, from);
                if (at == std::string_view::npos) return 0;
                // A line starts at the beginning or right after CR / LF.
                if (at == 0 || b[at - 1] == '\n' || b[at - 1] == '\r') {
                    const auto end = b.find("\r\n", at);
                    if (end == std::string_view::npos) return 0;
                    line_start = at;
                    line_end = end;
                    return end + 2;
                }
                from = at + 1;
            }
        },
        timeout);
    return got.substr(line_start, line_end - line_start);
}

std::string SimProcess::command(const std::string& line, Ms timeout) {
    send_line(line);
    return read_until(
        [](std::string_view b) -> std::size_t {
            std::size_t best = 0;
            auto consider = [&](std::size_t end) {
                if (end != 0 && (best == 0 || end < best)) best = end;
            };
            for (const char* fin : {"\r\nOK\r\n", "\r\nERROR\r\n"}) {
                const auto at = b.find(fin);
                if (at != std::string_view::npos) consider(at + std::strlen(fin));
            }
            const auto cme = b.find("\r\n+CME ERROR: ");
            if (cme != std::string_view::npos) {
                const auto end = b.find("\r\n", cme + 2);
                if (end != std::string_view::npos) consider(end + 2);
            }
            const auto prompt = b.find("\r\n>");
            if (prompt != std::string_view::npos) {
                std::size_t end = prompt + 3;
                if (end < b.size() && b[end] == ' ') ++end;
                consider(end);
            }
            return best;
        },
        timeout);
}

std::string SimProcess::drain(Ms window) {
    const auto deadline = steady_clock::now() + window;
    while (true) {
        const auto left = duration_cast<Ms>(deadline - steady_clock::now());
        if (left.count() <= 0) break;
        fill(left);
    }
    std::string out;
    out.swap(buf_);
    return out;
}

std::string SimProcess::control(const std::string& cmd, Ms timeout) {
    if (control_path_.empty()) throw std::runtime_error("bc28-sim was started without --control");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, control_path_.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot connect to the control socket " + control_path_);
    }
    const std::string line = cmd + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        ::close(fd);
        throw std::runtime_error("control write failed");
    }
    std::string reply;
    const auto deadline = steady_clock::now() + timeout;
    while (reply.find('\n') == std::string::npos) {
        const auto left = duration_cast<Ms>(deadline - steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char b[512];
        const ssize_t n = ::read(fd, b, sizeof b);
        if (n <= 0) break;
        reply.append(b, static_cast<std::size_t>(n));
    }
    ::close(fd);
    const auto nl = reply.find('\n');
    if (nl == std::string::npos) throw std::runtime_error("no control reply to \"" + cmd + "\"");
    return reply.substr(0, nl);
}

}  // namespace qmtkit::test
