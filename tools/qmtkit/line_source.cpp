#include "line_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "qmtkit/qmt/types.hpp"

namespace qmtkit::cli {

namespace {
std::string errno_text(int e) {
    return std::strerror(e);
}

void close_pair(int (&fds)[2]) {
    for (int& fd : fds) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
}

void make_pipe(int (&fds)[2], const char* what) {
    if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), what);
    for (const int fd : fds) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
}

// A peek buffer: a pipe holds 64 KiB by default, and a line the module can send is far shorter.
constexpr std::size_t kPeek = 65536;
}  // namespace

LineSource::LineSource(asio::io_context& io, bool durable) : io_(io) {
    make_pipe(wake_, "pipe");
    if (durable) {
        struct stat st {};
        if (::fstat(STDIN_FILENO, &st) == 0) {
            if (S_ISREG(st.st_mode) && ::lseek(STDIN_FILENO, 0, SEEK_CUR) >= 0) {
                input_ = Input::file;
            } else if (S_ISFIFO(st.st_mode)) {
                try {
                    make_pipe(tee_, "pipe");
                    input_ = Input::pipe;
                } catch (const std::system_error&) {
                    close_pair(wake_);
                    throw;
                }
            }
        }
    }
    try {
        reader_ = std::thread([this] { read_loop(); });
    } catch (...) {
        close_pair(wake_);
        close_pair(tee_);
        throw;
    }
}

LineSource::~LineSource() {
    {
        std::lock_guard<std::mutex> l(m_);
        stop_ = true;
    }
    cv_.notify_all();
    const char b = 1;
    while (::write(wake_[1], &b, 1) < 0 && errno == EINTR) {
    }
    reader_.join();
    close_pair(wake_);
    close_pair(tee_);
}

bool LineSource::ready() {
    std::lock_guard<std::mutex> l(m_);
    return !q_.empty();
}

bool LineSource::done() {
    std::lock_guard<std::mutex> l(m_);
    return q_.empty() && ended_;
}

Item& LineSource::front() {
    std::lock_guard<std::mutex> l(m_);
    return q_.front();
}

void LineSource::pop() {
    {
        std::lock_guard<std::mutex> l(m_);
        q_.pop_front();
    }
    cv_.notify_one();
}

std::string LineSource::error() {
    std::lock_guard<std::mutex> l(m_);
    return error_;
}

const char* LineSource::mode() const {
    switch (input_) {
        case Input::pipe:
            return "peeked (pipe)";
        case Input::file:
            return "peeked (file)";
        case Input::read:
            break;
    }
    return "read";
}

void LineSource::read_loop() noexcept {
    std::string error;
    try {
        const bool more = input_ == Input::read ? read_lines(error) : peek_lines(error);
        if (!more) return;  // shutting down: nobody waits for the rest
    } catch (const std::exception& e) {
        error = e.what();
    }
    {
        std::lock_guard<std::mutex> l(m_);
        ended_ = true;
        error_ = error;
    }
    wake_main();
}

// Reads stdin to its end (true) or to a read error (true, `error` set); false on shutdown.
bool LineSource::read_lines(std::string& error) {
    char buf[4096];
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            error = errno_text(errno);
            return true;
        }
        if (fds[1].revents != 0) return false;
        if ((fds[0].revents & POLLNVAL) != 0) {
            error = "not open";
            return true;
        }
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            error = errno_text(errno);
            break;
        }
        if (n == 0) break;
        for (const char *p = buf, *end = buf + n; p < end;) {
            const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
            const char* stop = nl ? static_cast<const char*>(nl) : end;
            append(p, static_cast<std::size_t>(stop - p));
            p = stop;
            if (nl) {
                ++p;
                if (!end_line()) return false;
            }
        }
    }
    // A last line without its newline still counts (and a read error keeps what came before).
    if (cur_bytes_ > 0 || cur_cr_) return end_line();
    return true;
}

// Durable reading: look at what stdin holds without taking it, queue its complete lines, and take
// their bytes from stdin only once every one of them was popped (journaled).
bool LineSource::peek_lines(std::string& error) {
    std::vector<char> buf(kPeek);
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        if (input_ == Input::pipe && ::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            error = errno_text(errno);
            return true;
        }
        if (fds[1].revents != 0) return false;
        // The writer has gone: what the pipe still holds is all there is.
        const bool hangup = input_ == Input::pipe && (fds[0].revents & POLLHUP) != 0;
        ssize_t n = 0;
        if (input_ == Input::pipe) {
            n = ::tee(STDIN_FILENO, tee_[1], buf.size(), SPLICE_F_NONBLOCK);
            if (n > 0) {
                std::size_t got = 0;  // the copy is ours alone: it reads back whole
                while (got < static_cast<std::size_t>(n)) {
                    const ssize_t r = ::read(tee_[0], buf.data() + got, n - got);
                    if (r <= 0) {
                        if (r < 0 && errno == EINTR) continue;
                        error = r < 0 ? errno_text(errno) : "tee copy ended early";
                        return true;
                    }
                    got += static_cast<std::size_t>(r);
                }
            }
        } else {
            const off_t at = ::lseek(STDIN_FILENO, 0, SEEK_CUR);
            n = at < 0 ? -1 : ::pread(STDIN_FILENO, buf.data(), buf.size(), at);
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            error = errno_text(errno);
            break;
        }
        if (n == 0) break;  // the end (a pipe: empty and no writer; a file: its end)
        // The end of the input is known when the peek did not fill the buffer of a file, or the
        // pipe's writer is gone.
        const bool last =
            hangup || (input_ == Input::file && static_cast<std::size_t>(n) < buf.size());
        const char* end = buf.data() + n;
        const char* p = buf.data();
        std::size_t take = 0;  // bytes of complete lines (queued, or skipped)
        while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
            const char* stop = static_cast<const char*>(nl);
            append(p, static_cast<std::size_t>(stop - p));
            p = stop + 1;
            take = static_cast<std::size_t>(p - buf.data());
            if (!end_line()) return false;  // waits for room in the queue
        }
        std::size_t rest = static_cast<std::size_t>(end - p);
        if (take == 0 && rest > 0) {
            if (last || rest == buf.size()) {
                // The last line without its newline, or a line longer than any buffer (it is
                // too long for the module, so it is skipped either way): take it as it is.
                append(p, rest);
                take = static_cast<std::size_t>(n);
                if (last && !end_line()) return false;
                rest = 0;
            } else if (!wait_wake(20)) {
                return false;  // a line still being written: look again shortly
            } else {
                continue;
            }
        }
        if (!wait_popped()) return false;
        // Everything queued is journaled: now take its bytes from stdin.
        if (input_ == Input::pipe) {
            std::size_t left = take;
            while (left > 0) {
                const ssize_t r = ::read(STDIN_FILENO, buf.data(), left);
                if (r <= 0) {
                    if (r < 0 && errno == EINTR) continue;
                    error = r < 0 ? errno_text(errno) : "stdin ended early";
                    return true;
                }
                left -= static_cast<std::size_t>(r);
            }
        } else if (::lseek(STDIN_FILENO, static_cast<off_t>(take), SEEK_CUR) < 0) {
            error = errno_text(errno);
            return true;
        }
        if (last && rest == 0 && take == static_cast<std::size_t>(n)) break;
    }
    if (cur_bytes_ > 0 || cur_cr_) return end_line();
    return true;
}

// Waits until the main thread popped every queued line; false on shutdown.
bool LineSource::wait_popped() {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return stop_ || q_.empty(); });
    return !stop_;
}

// Waits `ms` for the destructor's wake-up; false when it came.
bool LineSource::wait_wake(int ms) {
    pollfd fd{wake_[0], POLLIN, 0};
    const int r = ::poll(&fd, 1, ms);
    return !(r > 0 && fd.revents != 0);
}

void LineSource::append(const char* p, std::size_t n) {
    if (n == 0) return;
    if (cur_cr_) {  // a CR not at the end of the line is payload
        keep("\r", 1);
        cur_cr_ = false;
    }
    if (p[n - 1] == '\r') {  // perhaps CR LF: hold the CR until we know
        cur_cr_ = true;
        --n;
    }
    keep(p, n);
}

void LineSource::keep(const char* p, std::size_t n) {
    constexpr std::size_t cap = qmt::kMaxPayload + 1;
    if (cur_.size() < cap) cur_.append(p, std::min(n, cap - cur_.size()));
    cur_bytes_ += n;
}

// Queues the line just read (waiting for room); false when shutting down.
bool LineSource::end_line() {
    ++line_no_;
    Item item;
    item.payload = std::move(cur_);
    item.bytes = cur_bytes_;
    item.line = line_no_;
    cur_.clear();
    cur_bytes_ = 0;
    cur_cr_ = false;                   // a trailing CR (CR LF input) is dropped
    if (item.bytes == 0) return true;  // empty lines are not messages
    {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return stop_ || q_.size() < kDepth; });
        if (stop_) return false;
        q_.push_back(std::move(item));
    }
    wake_main();
    return true;
}

void LineSource::wake_main() noexcept {
    try {
        asio::post(io_, [] {});  // ends the io_context wait in run_until()
    } catch (...) {
        // Out of memory: the main loop still looks again at its next deadline.
    }
}

}  // namespace qmtkit::cli
