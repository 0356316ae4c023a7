// qmtkit pub: publish one message (-m, -f, -s, optionally --repeat N) or every line of stdin (-l),
// pipelined through the module's five-message window. Exit 0 only when every message got
// +QMTPUB result 0. The whole command line is checked before the port is opened; a bring-up
// cause retrying cannot heal ends the run at once; SIGINT / SIGTERM disconnect and close first.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "common.hpp"
#include "link.hpp"
#include "session.hpp"

namespace qmtkit::cli {
namespace {

struct PubOptions {
    CommonOptions common;
    std::string topic;
    std::string message;
    std::string file;
    bool lines = false;
    bool whole_stdin = false;
    bool null_message = false;
    bool quiet = false;
    std::string qos_text = "0";
    bool retain = false;
    std::string repeat_text = "1";
    std::string form = "auto";
    CLI::Option* topic_opt = nullptr;
    CLI::Option* m_opt = nullptr;
    CLI::Option* f_opt = nullptr;
    CLI::Option* l_opt = nullptr;
    CLI::Option* s_opt = nullptr;
    // Checked (check_pub).
    unsigned repeat = 1;
    qmt::PublishOptions publish;
};

// One message to send.
struct Item {
    std::string payload;    // at most qmt::kMaxPayload + 1 bytes of it (a longer one is cut)
    std::size_t bytes = 0;  // its whole length
    std::size_t line = 0;   // its line of stdin (1-based, empty lines counted); 0 when not -l
};

// Where the messages come from. ready(): a message can be taken now; done(): none will come;
// error(): why the input ended early ("" when it simply ended).
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

std::string errno_text(int e) {
    return std::strerror(e);
}

// Lines of stdin, read by a helper thread into a small bounded queue: stdin is read as the
// outbox drains (at most kDepth lines and one read buffer ahead), never all at once, and never
// blocks the io_context. A line longer than the module sends keeps only its first
// kMaxPayload + 1 bytes (and its length), so memory stays bounded whatever comes in.
//
// The thread never outlives what it uses: it waits in poll() on stdin and on a self-pipe, or on
// the condition variable for room in the queue, and the destructor wakes it through both and
// joins it. It posts wake-ups to the io_context, so destroy the LineSource before the
// BlockingClient that owns it. poll() + read() work for a pipe, a terminal and a regular file
// alike (a regular file is always readable), and stdin's flags are left alone: it may be the
// user's terminal.
class LineSource final : public Source {
  public:
    static constexpr std::size_t kDepth = 16;

    // Throws std::system_error when the pipe or the thread cannot be made.
    explicit LineSource(asio::io_context& io) : io_(io) {
        if (::pipe(wake_) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
        for (const int fd : wake_) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
        try {
            reader_ = std::thread([this] { read_loop(); });
        } catch (...) {
            ::close(wake_[0]);
            ::close(wake_[1]);
            throw;
        }
    }
    ~LineSource() override {
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
        }
        cv_.notify_all();
        const char b = 1;
        while (::write(wake_[1], &b, 1) < 0 && errno == EINTR) {
        }
        reader_.join();
        ::close(wake_[0]);
        ::close(wake_[1]);
    }
    LineSource(const LineSource&) = delete;
    LineSource& operator=(const LineSource&) = delete;

    bool ready() override {
        std::lock_guard<std::mutex> l(m_);
        return !q_.empty();
    }
    bool done() override {
        std::lock_guard<std::mutex> l(m_);
        return q_.empty() && ended_;
    }
    Item& front() override {  // a deque keeps references to its other elements across push_back
        std::lock_guard<std::mutex> l(m_);
        return q_.front();
    }
    void pop() override {
        {
            std::lock_guard<std::mutex> l(m_);
            q_.pop_front();
        }
        cv_.notify_one();
    }
    std::string error() override {
        std::lock_guard<std::mutex> l(m_);
        return error_;
    }

  private:
    void read_loop() noexcept {
        std::string error;
        try {
            if (!read_lines(error)) return;  // shutting down: nobody waits for the rest
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
    bool read_lines(std::string& error) {
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

    void append(const char* p, std::size_t n) {
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
    void keep(const char* p, std::size_t n) {
        constexpr std::size_t cap = qmt::kMaxPayload + 1;
        if (cur_.size() < cap) cur_.append(p, std::min(n, cap - cur_.size()));
        cur_bytes_ += n;
    }

    // Queues the line just read (waiting for room); false when shutting down.
    bool end_line() {
        ++line_no_;
        Item item;
        item.payload = std::move(cur_);
        item.bytes = cur_bytes_;
        item.line = line_no_;
        cur_.clear();
        cur_bytes_ = 0;
        cur_cr_ = false;                   // a trailing CR (CR LF input) is dropped
        if (item.bytes == 0) return true;  // the module cannot send an empty payload
        {
            std::unique_lock<std::mutex> l(m_);
            cv_.wait(l, [&] { return stop_ || q_.size() < kDepth; });
            if (stop_) return false;
            q_.push_back(std::move(item));
        }
        wake_main();
        return true;
    }

    void wake_main() noexcept {
        try {
            asio::post(io_, [] {});  // ends the io_context wait in run_until()
        } catch (...) {
            // Out of memory: the main loop still looks again at its next deadline.
        }
    }

    asio::io_context& io_;
    int wake_[2] = {-1, -1};  // the self-pipe: written once, by the destructor
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

// Reads `fd` to its end into `out`, keeping at most kMaxPayload + 1 bytes; returns the whole
// length, or nullopt with the reason in `why`.
std::optional<std::size_t> read_message(int fd, std::string& out, std::string& why) {
    std::size_t total = 0;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            why = errno_text(errno);
            return std::nullopt;
        }
        if (n == 0) return total;
        const auto got = static_cast<std::size_t>(n);
        if (out.size() <= qmt::kMaxPayload)
            out.append(buf, std::min(got, qmt::kMaxPayload + 1 - out.size()));
        total += got;
    }
}

std::optional<std::size_t> read_file(const std::string& path, std::string& out, std::string& why) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        why = errno_text(errno);
        return std::nullopt;
    }
    auto r = read_message(fd, out, why);
    ::close(fd);
    return r;
}

// The core refuses this payload (not the topic or the session): skip the line, go on.
bool payload_error(const qmt::ClientError& e) {
    switch (e.code) {
        case qmt::Error::payload_empty:
        case qmt::Error::payload_too_long:
        case qmt::Error::payload_needs_fixed_length:
            return true;
        default:
            return false;
    }
}

// The whole command line, before anything is read or opened (UsageError).
void check_pub(PubOptions& o) {
    if (o.null_message)
        throw UsageError(
            "-n is not supported: qmtkit's client cannot send an empty payload "
            "(the SDK refuses one, although the module takes an empty "
            "variable-length payload).");
    check_common(o.common);
    require(o.topic_opt, "-t");
    const std::size_t sources =
        o.m_opt->count() + o.f_opt->count() + o.l_opt->count() + o.s_opt->count();
    if (sources == 0) throw UsageError("Nothing to publish: give -m, -f, -l or -s.");
    if (sources > 1) throw UsageError("Give only one of -m, -f, -l and -s.");
    o.publish.qos = static_cast<std::uint8_t>(
        parse_uint(o.qos_text, "QoS", "-q", 0, 2, one_of({"0", "1", "2"})));
    o.publish.retain = o.retain;
    o.repeat =
        static_cast<unsigned>(parse_uint(o.repeat_text, "repeat count", "--repeat", 1, 1000000));
    const std::string form =
        parse_choice(o.form, "payload form", "--form", {"auto", "fixed", "variable"});
    o.publish.form = form == "fixed"      ? qmt::PayloadForm::fixed_length
                     : form == "variable" ? qmt::PayloadForm::variable_length
                                          : qmt::PayloadForm::automatic;
    check_field(o.topic, "topic", "-t", 1, qmt::kMaxTopic);
}

// The SDK's own checks of the session and the topic, on a client that never runs.
void check_offline(const PubOptions& o, const qmt::Session& session) {
    OfflineClient offline;
    check_session_offline(offline, session);
    qmt::PublishOptions popts = o.publish;
    popts.form = qmt::PayloadForm::automatic;
    auto r = offline.core().publish(o.topic, ByteView("x"), popts);
    if (r) return;
    if (r.error().code == qmt::Error::topic_has_wildcard)
        throw UsageError("Invalid publish topic '" + o.topic + "', does it contain '+' or '#'?");
    throw UsageError("Invalid topic (-t): " + std::string(qmt::to_string(r.error().code)) + ".");
}

const char* signal_name(int sig) {
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

int run_pub(PubOptions& o) {
    const std::string tool = "pub";
    check_pub(o);
    set_quiet(o.quiet);
    int status = kExitOk;
    const auto rs = make_run_session(o.common, tool, "qmtkit-pub-", status);
    if (!rs) return status;
    const qmt::Session& session = rs->session();
    check_offline(o, session);

    if ((o.lines || o.whole_stdin) && ::fcntl(STDIN_FILENO, F_GETFD) < 0)
        return fail(tool, "cannot read stdin: it is not open");
    std::string single;
    if (!o.lines) {
        std::string why;
        std::size_t size = 0;
        if (given(o.f_opt)) {
            auto n = read_file(o.file, single, why);
            if (!n) return fail(tool, "cannot read " + o.file + ": " + why);
            size = *n;
        } else if (o.whole_stdin) {
            auto n = read_message(STDIN_FILENO, single, why);
            if (!n) return fail(tool, "cannot read stdin: " + why);
            size = *n;
        } else {
            single = o.message;
            size = single.size();
        }
        if (size == 0)
            return fail(tool, "empty message: the module sends payloads of 1..1024 bytes");
        if (size > qmt::kMaxPayload)
            return fail(tool, "message of " + std::to_string(size) +
                                  " bytes: the module sends at most 1024");
    }

    std::unique_ptr<Link> link;
    try {
        link = open_link(o.common, tool);
    } catch (const host::TransportError& e) {
        return fail(tool, e.what());
    }
    Link& c = *link;
    if (auto r = c.start(session); !r)
        return fail(tool, "invalid session: " + host::describe(r.error()));

    // Declared after `link`: a LineSource posts to c.io(), so it is destroyed (joined) first.
    std::unique_ptr<Source> source;
    try {
        if (o.lines)
            source = std::make_unique<LineSource>(c.io());
        else
            source = std::make_unique<RepeatSource>(single, o.repeat);
    } catch (const std::system_error& e) {
        return fail(tool, std::string("cannot start reading stdin: ") + e.what());
    }

    using Clock = Link::Clock;
    const auto progress_timeout = seconds(o.common.timeout_s);
    std::size_t sent = 0, acked = 0, failed = 0, skipped = 0;
    std::string first_failure;
    std::string refused;  // a message the core refused before sending: stop reading
    auto last_progress = Clock::now();
    bool was_idle = false;
    bool outbox_full = false;
    const auto tally = [&] {
        return std::to_string(acked) + " of " + std::to_string(sent) + " message(s) acknowledged";
    };
    const auto name = [&](const Item& m) {
        return m.line != 0 ? "line " + std::to_string(m.line)
                           : "message " + std::to_string(sent + 1);
    };
    const auto skip = [&](const std::string& why) {
        warn(tool, name(source->front()) + " skipped: " + why);
        ++skipped;
        source->pop();
    };

    for (;;) {
        // The --timeout clock runs only while pub waits for the module: for the link to come
        // (back) up, or for the messages already handed over. Waiting for stdin with the link
        // online and nothing outstanding is not waiting for the module.
        const bool idle = c.state() == qmt::LinkState::online && acked + failed == sent;
        if (idle || was_idle) last_progress = Clock::now();
        was_idle = idle;

        // Hand the core as many messages as its outbox takes.
        outbox_full = false;
        while (refused.empty() && !c.ended() && source->ready()) {
            Item& m = source->front();
            if (m.bytes > qmt::kMaxPayload) {
                skip("payload of " + std::to_string(m.bytes) +
                     " bytes is longer than 1024 bytes (the module's limit)");
                continue;
            }
            auto t = c.publish(o.topic, ByteView(m.payload), o.publish);
            if (!t) {
                const auto& e = t.error();
                if (e.code == qmt::Error::queue_full) {
                    outbox_full = true;
                    break;
                }
                if (m.line != 0 && payload_error(e)) {
                    skip(host::describe(e));
                    continue;
                }
                refused = name(m) + " refused: " + host::describe(e);
                break;
            }
            source->pop();
            ++sent;
        }
        // Collect completions.
        while (auto d = c.take_published()) {
            last_progress = Clock::now();
            if (d->result) {
                ++acked;
            } else {
                ++failed;
                if (first_failure.empty()) first_failure = host::describe(d->result.error());
            }
        }
        const bool input_over = !refused.empty() || source->done();
        if (input_over && acked + failed == sent) break;
        if (c.signal() != 0) {
            (void)c.stop(std::chrono::seconds(3));  // DISCONNECT + CLOSE, bounded
            if (acked < sent)
                warn(tool, std::string("interrupted by ") + signal_name(c.signal()) + " after " +
                               tally());
            return exit_for_signal(c.signal());
        }
        if (!c.fatal().empty()) {
            (void)c.stop(std::chrono::seconds(3));  // the supervisor would retry: stop it
            return fail(tool, c.fatal() + (acked > 0 ? " (" + tally() + ")" : std::string()));
        }
        if (c.transport_failed()) return fail(tool, c.transport_error() + " (" + tally() + ")");

        const auto now = Clock::now();
        if (now - last_progress >= progress_timeout) {
            (void)c.stop(std::chrono::seconds(3));
            return fail(tool, "timed out after " + tally() + " (" + c.situation() + ")");
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            progress_timeout - (now - last_progress));
        // Wait for a completion, for more input (or its end) while the outbox has room, or, when
        // idle, for the link to drop (the clock starts then).
        const bool accept_input = !outbox_full && refused.empty() && !input_over;
        c.run_until(
            [&] {
                return c.published_pending() > 0 ||
                       (accept_input && (source->ready() || source->done())) ||
                       (idle && c.state() != qmt::LinkState::online);
            },
            wait);
    }

    (void)c.stop(
        std::chrono::seconds(5));  // DISCONNECT + CLOSE; the messages are delivered either way
    std::string problems;
    const auto add = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
    if (const std::string e = source->error(); !e.empty()) add("cannot read stdin: " + e);
    if (!refused.empty()) add(refused);
    if (failed > 0) {
        add(std::to_string(failed) + " of " + std::to_string(sent) +
            " message(s) not acknowledged; first: " + first_failure);
    }
    if (skipped > 0)
        add(std::to_string(skipped) + (skipped == 1 ? " line" : " lines") + " skipped");
    if (problems.empty()) return kExitOk;
    return fail(tool, problems + " (" + tally() + ")");
}

}  // namespace

Command add_pub(CLI::App& root) {
    auto o = std::make_shared<PubOptions>();
    CLI::App* app =
        root.add_subcommand("pub", "Publish messages through the module (like mosquitto_pub)");
    app->allow_extras();
    add_common_options(*app, o->common);
    app->get_option("--timeout")
        ->description(
            "Give up (exit 1, naming the cause) when the link does not come up, or the messages "
            "already read are not acknowledged, for this many seconds (0.001..1000000); waiting "
            "for stdin (-l) never times out; a cause retrying cannot heal (a refused CONNECT, a "
            "host name that does not resolve) ends the run at once");
    o->topic_opt =
        app->add_option("-t,--topic", o->topic, "Topic to publish to (no wildcards, <= 255 bytes)")
            ->type_name("TOPIC")
            ->group("Message");
    o->m_opt = app->add_option("-m,--message", o->message, "Send this message (1..1024 bytes)")
                   ->type_name("MESSAGE")
                   ->group("Message");
    o->f_opt = app->add_option("-f,--file", o->file,
                               "Send the contents of FILE as one message (binary safe)")
                   ->type_name("FILE")
                   ->group("Message");
    o->l_opt = app->add_flag("-l,--stdin-line", o->lines,
                             "Send each line of stdin as a message, pipelined through the window, "
                             "as the lines come (empty lines are skipped; a line longer than 1024 "
                             "bytes is reported and skipped, and the exit status is then 1)")
                   ->group("Message");
    o->s_opt = app->add_flag("-s,--stdin-file", o->whole_stdin, "Send all of stdin as one message")
                   ->group("Message");
    app->add_flag("-n,--null-message", o->null_message,
                  "Not supported (refused): an empty message. The module takes an empty "
                  "variable-length payload, but the SDK's publish() refuses one")
        ->group("Message");
    app->add_flag("--quiet", o->quiet,
                  "Print no error or warning lines (\"qmtkit pub: ...\"); the exit status still "
                  "tells. Usage errors, -d and --trace still print")
        ->group("Message");
    app->add_option("-q,--qos", o->qos_text, "Quality of service: 0, 1 or 2")
        ->capture_default_str()
        ->type_name("0|1|2")
        ->group("Message");
    app->add_flag("-r,--retain", o->retain, "Ask the broker to retain the message")
        ->group("Message");
    app->add_option("--repeat", o->repeat_text,
                    "Send the message N times (with -m, -f or -s; 1..1000000)")
        ->capture_default_str()
        ->type_name("N")
        ->group("Message");
    app->add_option("--form", o->form,
                    "AT+QMTPUB form: auto (fixed length when the payload holds 0x1A/0x1B or "
                    "non-text bytes), fixed, or variable (Ctrl+Z)")
        ->capture_default_str()
        ->type_name("auto|fixed|variable")
        ->group("Message");
    return Command{app, [o] { return run_pub(*o); }};
}

}  // namespace qmtkit::cli
