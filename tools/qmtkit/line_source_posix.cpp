// LineSource's Platform on POSIX: the reader waits in poll() on stdin and a self-pipe; a pipe is
// peeked with tee(2), a regular file with pread at its offset.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "line_source.hpp"

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
}  // namespace

void LineSource::open_platform(bool durable) {
    make_pipe(wake_, "pipe");
    if (!durable) return;
    struct stat st {};
    if (::fstat(STDIN_FILENO, &st) != 0) return;
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

void LineSource::wake_reader() noexcept {
    const char b = 1;
    while (::write(wake_[1], &b, 1) < 0 && errno == EINTR) {
    }
}

void LineSource::close_platform() noexcept {
    close_pair(wake_);
    close_pair(tee_);
}

LineSource::Got LineSource::read_some(char* buf, std::size_t cap, std::size_t& n,
                                      std::string& error) {
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            error = errno_text(errno);
            return Got::error;
        }
        if (fds[1].revents != 0) return Got::stop;
        if ((fds[0].revents & POLLNVAL) != 0) {
            error = "not open";
            return Got::error;
        }
        const ssize_t r = ::read(STDIN_FILENO, buf, cap);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            error = errno_text(errno);
            return Got::error;
        }
        if (r == 0) return Got::end;
        n = static_cast<std::size_t>(r);
        return Got::data;
    }
}

LineSource::Got LineSource::peek_some(char* buf, std::size_t cap, std::size_t& n, bool& last,
                                      std::string& error) {
    for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        if (input_ == Input::pipe && ::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            error = errno_text(errno);
            return Got::error;
        }
        if (fds[1].revents != 0) return Got::stop;
        // The writer has gone: what the pipe still holds is all there is.
        const bool hangup = input_ == Input::pipe && (fds[0].revents & POLLHUP) != 0;
        ssize_t r = 0;
        if (input_ == Input::pipe) {
            r = ::tee(STDIN_FILENO, tee_[1], cap, SPLICE_F_NONBLOCK);
            if (r > 0) {
                std::size_t got = 0;  // the copy is ours alone: it reads back whole
                while (got < static_cast<std::size_t>(r)) {
                    const ssize_t c = ::read(tee_[0], buf + got, static_cast<std::size_t>(r) - got);
                    if (c <= 0) {
                        if (c < 0 && errno == EINTR) continue;
                        error = c < 0 ? errno_text(errno) : "tee copy ended early";
                        return Got::error;
                    }
                    got += static_cast<std::size_t>(c);
                }
            }
        } else {
            const off_t at = ::lseek(STDIN_FILENO, 0, SEEK_CUR);
            r = at < 0 ? -1 : ::pread(STDIN_FILENO, buf, cap, at);
        }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            error = errno_text(errno);
            return Got::error;
        }
        if (r == 0) return Got::end;
        n = static_cast<std::size_t>(r);
        // A file's end is known when the peek did not fill the buffer.
        last = hangup || (input_ == Input::file && n < cap);
        return Got::data;
    }
}

bool LineSource::take(std::size_t n, std::string& error) {
    if (input_ == Input::file) {
        if (::lseek(STDIN_FILENO, static_cast<off_t>(n), SEEK_CUR) >= 0) return true;
        error = errno_text(errno);
        return false;
    }
    char buf[4096];
    while (n > 0) {
        const ssize_t r = ::read(STDIN_FILENO, buf, n < sizeof buf ? n : sizeof buf);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            error = r < 0 ? errno_text(errno) : "stdin ended early";
            return false;
        }
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

bool LineSource::wait_wake(int ms) {
    pollfd fd{wake_[0], POLLIN, 0};
    const int r = ::poll(&fd, 1, ms);
    return !(r > 0 && fd.revents != 0);
}

}  // namespace qmtkit::cli
