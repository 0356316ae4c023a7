// qmtkit pub: publish one message (-m, -f, -s, optionally --repeat N) or every line of stdin (-l),
// pipelined through the module's five-message window. Exit 0 only when every message got
// +QMTPUB result 0.
#include <condition_variable>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "common.hpp"

namespace qmtkit::cli {
namespace {

struct PubOptions {
    CommonOptions common;
    std::string topic;
    std::string message;
    std::string file;
    bool lines = false;
    bool whole_stdin = false;
    unsigned qos = 0;
    bool retain = false;
    unsigned repeat = 1;
    std::string form = "auto";
};

// Where the messages come from. ready(): a message can be taken now; done(): none will come.
class Source {
  public:
    virtual ~Source() = default;
    virtual bool ready() = 0;
    virtual bool done() = 0;
    virtual std::string& front() = 0;
    virtual void pop() = 0;
};

// The same payload N times.
class RepeatSource final : public Source {
  public:
    RepeatSource(std::string payload, unsigned n) : payload_(std::move(payload)), left_(n) {}
    bool ready() override { return left_ > 0; }
    bool done() override { return left_ == 0; }
    std::string& front() override { return payload_; }
    void pop() override { --left_; }

  private:
    std::string payload_;
    unsigned left_;
};

// Lines of stdin, read by a helper thread into a small bounded queue: stdin is read as the
// outbox drains (at most kDepth lines ahead), never all at once, and never blocks the io_context.
class LineSource final : public Source {
  public:
    static constexpr std::size_t kDepth = 16;

    explicit LineSource(asio::io_context& io) : io_(io) {
        reader_ = std::thread([this] { read_loop(); });
        reader_.detach();  // it may stay blocked in read(2) on a terminal when we give up early
    }
    bool ready() override {
        std::lock_guard<std::mutex> l(m_);
        return !q_.empty();
    }
    bool done() override {
        std::lock_guard<std::mutex> l(m_);
        return q_.empty() && eof_;
    }
    std::string& front() override {
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
    std::size_t line_number() const { return taken_; }

  private:
    void read_loop() {
        std::string line;
        while (std::getline(std::cin, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();  // CR LF input
            if (line.empty()) continue;  // the module cannot send an empty payload
            std::unique_lock<std::mutex> l(m_);
            cv_.wait(l, [&] { return q_.size() < kDepth; });
            q_.push_back(std::move(line));
            l.unlock();
            asio::post(io_, [] {});  // wake the loop waiting in run_one_until()
        }
        {
            std::lock_guard<std::mutex> l(m_);
            eof_ = true;
        }
        asio::post(io_, [] {});
    }

    asio::io_context& io_;
    std::thread reader_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::string> q_;
    bool eof_ = false;
    std::size_t taken_ = 0;
};

int run_pub(PubOptions& o) {
    const std::string tool = "pub";
    std::string single;
    if (!o.lines) {
        if (!o.file.empty()) {
            std::ifstream in(o.file, std::ios::binary);
            if (!in) return fail(tool, "cannot read " + o.file);
            single.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        } else if (o.whole_stdin) {
            std::ostringstream ss;
            ss << std::cin.rdbuf();
            single = ss.str();
        } else {
            single = o.message;
        }
        if (single.empty())
            return fail(tool, "empty message: the module sends payloads of 1..1024 bytes");
        if (single.size() > qmt::kMaxPayload)
            return fail(tool, "message of " + std::to_string(single.size()) +
                                  " bytes: the module sends at most 1024");
    }

    std::unique_ptr<host::BlockingClient> client;
    try {
        client = open_client(o.common, tool, "qmtkit-pub-");
    } catch (const host::TransportError& e) {
        return fail(tool, e.what());
    }
    if (!client) return 1;
    host::BlockingClient& c = *client;

    std::unique_ptr<Source> source;
    if (o.lines)
        source = std::make_unique<LineSource>(c.io());
    else
        source = std::make_unique<RepeatSource>(single, o.repeat);

    qmt::PublishOptions popts;
    popts.qos = static_cast<std::uint8_t>(o.qos);
    popts.retain = o.retain;
    popts.form = o.form == "fixed"      ? qmt::PayloadForm::fixed_length
                 : o.form == "variable" ? qmt::PayloadForm::variable_length
                                        : qmt::PayloadForm::automatic;

    const auto progress_timeout = seconds(o.common.timeout_s);
    std::size_t sent = 0, acked = 0, failed = 0;
    std::string first_failure;
    std::string refused;  // a message the core refused before sending: stop reading
    auto last_progress = host::Runner::Clock::now();
    bool outbox_full = false;

    for (;;) {
        // Hand the core as many messages as its outbox takes.
        outbox_full = false;
        while (refused.empty() && source->ready()) {
            std::string& m = source->front();
            auto t = c.publish_async(o.topic, ByteView(m), popts);
            if (!t) {
                const auto& e = t.error();
                if (e.kind == host::FailureKind::client &&
                    e.client.code == qmt::Error::queue_full) {
                    outbox_full = true;
                    break;
                }
                refused = "message " + std::to_string(sent + 1) + " refused: " + host::describe(e);
                break;
            }
            source->pop();
            ++sent;
        }
        // Collect completions.
        while (c.completions_pending() > 0) {
            auto d = c.next_published(std::chrono::milliseconds(0));
            if (!d) break;
            last_progress = host::Runner::Clock::now();
            if (d->result) {
                ++acked;
            } else {
                ++failed;
                if (first_failure.empty()) first_failure = host::describe(d->result.error());
            }
        }
        const bool input_over = !refused.empty() || source->done();
        if (input_over && acked + failed == sent) break;
        if (c.transport_failed()) return fail(tool, c.last_problem());

        const auto now = host::Runner::Clock::now();
        if (now - last_progress >= progress_timeout) {
            std::string cause = "timed out after " + std::to_string(acked) + " of " +
                                std::to_string(sent) + " message(s) acknowledged (link " +
                                std::string(qmt::to_string(c.state()));
            if (!c.last_problem().empty()) cause += "; last problem: " + c.last_problem();
            return fail(tool, cause + ")");
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            progress_timeout - (now - last_progress));
        // Wait for a completion, or for more input (or its end) while the outbox has room.
        const bool accept_input = !outbox_full && refused.empty() && !input_over;
        c.run_until(
            [&] {
                return c.completions_pending() > 0 || c.transport_failed() ||
                       (accept_input && (source->ready() || source->done()));
            },
            wait);
    }

    (void)c.stop(
        std::chrono::seconds(5));  // DISCONNECT + CLOSE; the messages are delivered either way
    if (!refused.empty()) return fail(tool, refused);
    if (failed > 0) {
        return fail(tool, std::to_string(failed) + " of " + std::to_string(sent) +
                              " message(s) not acknowledged; first: " + first_failure);
    }
    return 0;
}

}  // namespace

Command add_pub(CLI::App& root) {
    auto o = std::make_shared<PubOptions>();
    CLI::App* app =
        root.add_subcommand("pub", "Publish messages through the module (like mosquitto_pub)");
    add_common_options(*app, o->common);
    app->add_option("-t,--topic", o->topic, "Topic to publish to (no wildcards, <= 255 bytes)")
        ->required()
        ->group("Message");
    auto* m = app->add_option("-m,--message", o->message, "Send this message (1..1024 bytes)")
                  ->group("Message");
    auto* f = app->add_option("-f,--file", o->file,
                              "Send the contents of FILE as one message (binary safe)")
                  ->group("Message");
    auto* l = app->add_flag("-l,--stdin-line", o->lines,
                            "Send each line of stdin as a message, pipelined through the window "
                            "(empty lines are skipped)")
                  ->group("Message");
    auto* s = app->add_flag("-s,--stdin-file", o->whole_stdin, "Send all of stdin as one message")
                  ->group("Message");
    m->excludes(f)->excludes(l)->excludes(s);
    f->excludes(l)->excludes(s);
    l->excludes(s);
    app->add_option("-q,--qos", o->qos, "Quality of service: 0, 1 or 2")
        ->capture_default_str()
        ->check(CLI::Range(0u, 2u))
        ->group("Message");
    app->add_flag("-r,--retain", o->retain, "Ask the broker to retain the message")
        ->group("Message");
    app->add_option("--repeat", o->repeat, "Send the message N times (with -m, -f or -s)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1000000u))
        ->group("Message");
    app->add_option("--form", o->form,
                    "AT+QMTPUB form: auto (fixed length when the payload holds 0x1A/0x1B or "
                    "non-text bytes), fixed, or variable (Ctrl+Z)")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "fixed", "variable"}))
        ->group("Message");
    app->callback([app, m, f, l, s] {
        if (m->count() + f->count() + l->count() + s->count() == 0)
            throw CLI::RequiredError("one of -m, -f, -l or -s");
        (void)app;
    });
    return Command{app, [o] { return run_pub(*o); }};
}

}  // namespace qmtkit::cli
