// LineSource: stdin split into lines and queued for the main thread. How stdin is read, peeked
// and taken is the Platform's (line_source_posix.cpp, line_source_win.cpp).
#include <algorithm>
#include <cstring>
#include <system_error>
#include <vector>

#include "line_source.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::cli {

namespace {
// A peek buffer: a pipe holds 64 KiB by default, and a line the module can send is far shorter.
constexpr std::size_t kPeek = 65536;
}  // namespace

LineSource::LineSource(asio::io_context& io, bool durable) : io_(io) {
    open_platform(durable);
    try {
        reader_ = std::thread([this] { read_loop(); });
    } catch (...) {
        close_platform();
        throw;
    }
}

LineSource::~LineSource() {
    {
        std::lock_guard<std::mutex> l(m_);
        stop_ = true;
    }
    cv_.notify_all();
    wake_reader();
    reader_.join();
    close_platform();
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
        std::size_t n = 0;
        const Got got = read_some(buf, sizeof buf, n, error);
        if (got == Got::stop) return false;
        if (got != Got::data) break;
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
        std::size_t n = 0;
        bool last = false;  // nothing more will come after these bytes
        const Got got = peek_some(buf.data(), buf.size(), n, last, error);
        if (got == Got::stop) return false;
        if (got != Got::data) break;  // the end (a pipe: empty and no writer; a file: its end)
        const char* end = buf.data() + n;
        const char* p = buf.data();
        std::size_t taken = 0;  // bytes of complete lines (queued, or skipped)
        while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
            const char* stop = static_cast<const char*>(nl);
            append(p, static_cast<std::size_t>(stop - p));
            p = stop + 1;
            taken = static_cast<std::size_t>(p - buf.data());
            if (!end_line()) return false;  // waits for room in the queue
        }
        std::size_t rest = static_cast<std::size_t>(end - p);
        if (taken == 0 && rest > 0) {
            if (last || rest == buf.size()) {
                // The last line without its newline, or a line longer than any buffer (it is
                // too long for the module, so it is skipped either way): take it as it is.
                append(p, rest);
                taken = n;
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
        if (!take(taken, error)) return true;
        if (last && rest == 0 && taken == n) break;
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
