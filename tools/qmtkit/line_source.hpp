// Where `qmtkit pub`'s messages come from: the same payload N times, or the lines of stdin as they
// come (-l), read by a helper thread so the io_context never blocks on stdin.
#pragma once

#include <asio.hpp>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace qmtkit::cli {

// One message to send.
struct Item {
    std::string payload;    // at most qmt::kMaxPayload + 1 bytes of it (a longer one is cut)
    std::size_t bytes = 0;  // its whole length
    std::size_t line = 0;   // its line of stdin (1-based, empty lines counted); 0 when not -l
};

// ready(): a message can be taken now; done(): none will come; error(): why the input ended
// early ("" when it simply ended). pop() once the message is handed over (for a durable source:
// once it is journaled).
class Source {
  public:
    virtual ~Source() = default;
    virtual bool ready() = 0;
    virtual bool done() = 0;
    virtual Item& front() = 0;
    virtual void pop() = 0;
    virtual std::string error() { return {}; }
};

// The same payload N times.
class RepeatSource final : public Source {
  public:
    RepeatSource(std::string payload, unsigned n) : left_(n) {
        item_.bytes = payload.size();
        item_.payload = std::move(payload);
    }
    bool ready() override { return left_ > 0; }
    bool done() override { return left_ == 0; }
    Item& front() override { return item_; }
    void pop() override { --left_; }

  private:
    Item item_;
    unsigned left_;
};

// Lines of stdin, read by a helper thread into a small bounded queue: stdin is read as the
// outbox drains (at most kDepth lines and one read buffer ahead), never all at once. A line
// longer than the module sends keeps only its first kMaxPayload + 1 bytes (and its length).
// Empty lines are skipped (counted in line numbers).
//
// Durable (--spool): a line leaves stdin only after it was handed over (pop(): journaled), so a
// process killed at any moment loses no line — the next one reads it again (at least once).
// stdin is peeked, not read: a pipe with tee(2), a regular file by its offset (both shared with
// whoever gave us stdin). Other kinds (a terminal, a socket; on Windows also a pipe) are read as
// usual: a line read in the instant before a kill is lost with the process.
//
// The thread never outlives what it uses: it waits in poll() on stdin and on a self-pipe
// (Windows: on a stop event, and in a read that the destructor cancels), or on the condition
// variable, and the destructor wakes it through both and joins it. It posts wake-ups to the
// io_context, so destroy the LineSource before what owns that io_context. stdin's flags are
// left alone: it may be the user's terminal.
//
// line_source.cpp splits stdin into lines; the reading itself is line_source_posix.cpp or
// line_source_win.cpp (the Platform calls below).
class LineSource final : public Source {
  public:
    static constexpr std::size_t kDepth = 16;

    // Throws std::system_error when a pipe or the thread cannot be made.
    LineSource(asio::io_context& io, bool durable);
    ~LineSource() override;
    LineSource(const LineSource&) = delete;
    LineSource& operator=(const LineSource&) = delete;

    bool ready() override;
    bool done() override;
    Item& front() override;  // a deque keeps references to its other elements across push_back
    void pop() override;
    std::string error() override;
    // How stdin is read (for -d): "peeked (pipe)", "peeked (file)", "read".
    const char* mode() const;

  private:
    enum class Input : std::uint8_t { read, pipe, file };

    // What the reader thread is told by a Platform call.
    enum class Got : std::uint8_t { data, end, stop, error };

    void read_loop() noexcept;
    bool read_lines(std::string& error);
    bool peek_lines(std::string& error);
    void append(const char* p, std::size_t n);
    void keep(const char* p, std::size_t n);
    bool end_line();
    bool wait_popped();
    void wake_main() noexcept;

    // --- Platform (line_source_posix.cpp, line_source_win.cpp) ---
    // Sets input_ (durable: how stdin can be peeked) and what the reader waits on; throws
    // std::system_error.
    void open_platform(bool durable);
    // Wakes the reader wherever it waits (once, from the destructor); then frees what
    // open_platform made, after the join.
    void wake_reader() noexcept;
    void close_platform() noexcept;
    // Input::read: the next bytes of stdin (data: `n` > 0 of them), blocking until some come.
    Got read_some(char* buf, std::size_t cap, std::size_t& n, std::string& error);
    // Input::pipe / file: what stdin holds from its current position, not taken (data: `n` > 0;
    // `last`: no more will come after these). Blocks until there is something, or the end.
    Got peek_some(char* buf, std::size_t cap, std::size_t& n, bool& last, std::string& error);
    // Takes `n` peeked bytes from stdin; false with `error` set.
    bool take(std::size_t n, std::string& error);
    // Waits `ms` for the destructor's wake-up; false when it came.
    bool wait_wake(int ms);

    asio::io_context& io_;
    Input input_ = Input::read;
#ifdef _WIN32
    void* stdin_ = nullptr;       // HANDLE
    void* stop_event_ = nullptr;  // HANDLE: a manual-reset event, set by the destructor
    bool piped_read_ = false;     // Input::read of a pipe PeekNamedPipe sees: polled
#else
    int wake_[2] = {-1, -1};  // the self-pipe: written once, by the destructor
    int tee_[2] = {-1, -1};   // Input::pipe: tee(2)'s copy of what stdin holds
#endif
    std::thread reader_;
    // Reader thread only: the line being read.
    std::string cur_;
    std::size_t cur_bytes_ = 0;
    bool cur_cr_ = false;
    std::size_t line_no_ = 0;
    // Shared, under m_.
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Item> q_;
    bool ended_ = false;
    bool stop_ = false;
    std::string error_;
};

}  // namespace qmtkit::cli
