// qmtkit pub: publish one message (-m, -f, -s, optionally --repeat N) or every line of stdin (-l),
// pipelined through the module's five-message window. Exit 0 only when every message got
// +QMTPUB result 0. The whole command line is checked before the port is opened; a bring-up
// cause retrying cannot heal ends the run at once; SIGINT / SIGTERM disconnect and close first.
#include <fcntl.h>
#include <signal.h>
#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <system_error>

#include "common.hpp"
#include "line_source.hpp"
#include "link.hpp"
#include "qmtkit/host/file_store.hpp"
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
    std::string spool;
    std::string spool_max_text = "16M";
    CLI::Option* topic_opt = nullptr;
    CLI::Option* m_opt = nullptr;
    CLI::Option* f_opt = nullptr;
    CLI::Option* l_opt = nullptr;
    CLI::Option* s_opt = nullptr;
    CLI::Option* spool_opt = nullptr;
    CLI::Option* spool_max_opt = nullptr;
    // Checked (check_pub).
    unsigned repeat = 1;
    std::uint64_t spool_max = 0;
    qmt::PublishOptions publish;
};

std::string errno_text(int e) {
    return std::strerror(e);
}

#ifdef _WIN32
// The CRT's descriptors: O_BINARY, or CR LF would become LF in a binary -f / -s payload.
constexpr int kReadFlags = O_RDONLY | O_BINARY;
constexpr int kStdin = 0;
bool stdin_open() {
    return ::_get_osfhandle(kStdin) != -1;
}
void binary_stdin() {
    ::_setmode(kStdin, O_BINARY);
}
#else
constexpr int kReadFlags = O_RDONLY | O_CLOEXEC;
constexpr int kStdin = STDIN_FILENO;
bool stdin_open() {
    return ::fcntl(kStdin, F_GETFD) >= 0;
}
void binary_stdin() {}
#endif

// Reads `fd` into `out` up to its end or kMaxPayload + 1 bytes, whichever comes first (an endless
// input, -f /dev/zero, is then known to be too long: no need to read on); returns the length
// read, or nullopt with the reason in `why`.
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
        out.append(buf, std::min(got, qmt::kMaxPayload + 1 - out.size()));
        total += got;
        if (total > qmt::kMaxPayload) return total;
    }
}

std::optional<std::size_t> read_file(const std::string& path, std::string& out, std::string& why) {
    const int fd = ::open(path.c_str(), kReadFlags);
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

// -t checked by the SDK itself, on a client that never runs (configured with a stand-in session:
// the real one may come from a manifest, read later).
void check_topic_offline(const PubOptions& o) {
    OfflineClient offline;
    qmt::Session s;
    s.host = "h";
    s.client_id = "c";
    check_session_offline(offline, s);
    qmt::PublishOptions popts = o.publish;
    popts.form = qmt::PayloadForm::automatic;
    auto r = offline.core().publish(o.topic, ByteView("x"), popts);
    if (r) return;
    if (r.error().code == qmt::Error::topic_has_wildcard)
        throw UsageError("Invalid publish topic '" + o.topic + "', does it contain '+' or '#'?");
    throw UsageError("Invalid topic (-t): " + std::string(qmt::to_string(r.error().code)) + ".");
}

// The whole command line, before anything is read or opened (UsageError).
void check_pub(PubOptions& o) {
    check_common(o.common);
    require(o.topic_opt, "-t");
    const std::size_t sources = o.m_opt->count() + o.f_opt->count() + o.l_opt->count() +
                                o.s_opt->count() + (o.null_message ? 1u : 0u);
    if (sources == 0) throw UsageError("Nothing to publish: give -m, -f, -l, -s or -n.");
    if (sources > 1) throw UsageError("Give only one of -m, -f, -l, -s and -n.");
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
    check_utf8(o.topic, "topic", "-t");
    check_topic_offline(o);
    if (given(o.m_opt) && o.message.empty())
        throw UsageError("Invalid message (-m): it is empty (-n sends an empty, null, message).");
    if (given(o.m_opt) && o.message.size() > qmt::kMaxPayload)
        throw UsageError("Invalid message (-m): " + std::to_string(o.message.size()) +
                         " bytes; at most " + std::to_string(qmt::kMaxPayload) + ".");
    if (o.null_message && o.publish.form == qmt::PayloadForm::fixed_length)
        throw UsageError(
            "-n sends an empty message in the variable-length form: the fixed-length form "
            "takes 1..1024 bytes (--form fixed).");
    if (given(o.spool_max_opt) && !given(o.spool_opt))
        throw UsageError("--spool-max needs --spool DIR.");
    if (given(o.spool_opt)) {
        if (!o.lines) throw UsageError("--spool journals the lines of stdin: it needs -l.");
        if (o.publish.qos == 0)
            throw UsageError(
                "--spool keeps messages until they are acknowledged: it needs -q 1 or -q 2 "
                "(QoS 0 messages are never acknowledged).");
        if (o.spool.empty()) throw UsageError("Invalid spool directory given: '' (--spool).");
        o.spool_max =
            parse_size(o.spool_max_text, "spool size", "--spool-max", 4096, std::uint64_t{1} << 40);
    }
}

// The SDK's own checks of the session, on a client that never runs.
void check_offline(const qmt::Session& session) {
    OfflineClient offline;
    check_session_offline(offline, session);
}

const char* signal_name(int sig) {
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

int run_pub(PubOptions& o) {
    const std::string tool = "pub";
    check_pub(o);
    set_quiet(o.quiet);
    // The order of the checks (docs/host-and-cli.md, "Refused input"): the command line (1), the
    // device's path (74), the manifest (2), stdin and -f (66; their content: 2), opening the
    // device (74). Nothing reaches the module before the last.
    check_device(o.common);
    int status = kExitOk;
    const auto rs = make_run_session(o.common, tool, "qmtkit-pub-", status);
    if (!rs) return status;
    const qmt::Session& session = rs->session();
    check_offline(session);

    if (o.lines || o.whole_stdin) {
        if (!stdin_open()) throw CommandFailure(kExitNoInput, "cannot read stdin: it is not open");
        check_stdin_readable();
    }
    std::string single;
    if (!o.lines) {
        std::string why;
        std::size_t size = 0;
        if (given(o.f_opt)) {
            auto n = read_file(o.file, single, why);
            if (!n) throw CommandFailure(kExitNoInput, "cannot read " + o.file + ": " + why);
            size = *n;
        } else if (o.whole_stdin) {
            binary_stdin();
            auto n = read_message(kStdin, single, why);
            if (!n) throw CommandFailure(kExitNoInput, "cannot read stdin: " + why);
            size = *n;
        } else {
            single = o.message;
            size = single.size();
        }
        const std::string from = given(o.f_opt) ? o.file : "stdin";
        if (size == 0 && !o.null_message) {
            fail(tool, "empty message in " + from + ": give -n to send an empty (null) message");
            return kExitBadInput;
        }
        if (size > qmt::kMaxPayload) {
            fail(tool,
                 "message in " + from + " is longer than 1024 bytes, the most the module sends");
            return kExitBadInput;
        }
    }

    // The spool before the port: a spool another pub holds is said before anything is sent. It
    // outlives `link` (declared first), whose client journals into it.
    std::optional<host::FileStore> spool;
    std::size_t restored = 0;
    if (given(o.spool_opt)) {
        auto s = host::FileStore::open(o.spool, o.spool_max);
        if (!s) return fail(tool, s.error().message());
        spool.emplace(std::move(s.value()));
        restored = spool->pending();
    }

    std::unique_ptr<Link> link;
    try {
        link = open_link(o.common, tool);
    } catch (const host::TransportError& e) {
        fail(tool, device_open_failure(o.common.device, e.what(), e.code()));
        return kExitNoDevice;
    }
    Link& c = *link;
    if (spool) {
        c.set_store(&*spool);
        if (o.common.debug && restored > 0)
            warn(tool, "spool " + o.spool + ": " + std::to_string(restored) +
                           " message(s) of an earlier run go first");
    }
    if (auto r = c.start(session); !r)
        return fail(tool, "invalid session: " + host::describe(r.error()));

    // Declared after `link`: a LineSource posts to c.io(), so it is destroyed (joined) first.
    std::unique_ptr<Source> source;
    try {
        if (o.lines)
            source = std::make_unique<LineSource>(c.io(), /*durable=*/spool.has_value());
        else
            source = std::make_unique<RepeatSource>(single, o.repeat);
    } catch (const std::system_error& e) {
        return fail(tool, std::string("cannot start reading stdin: ") + e.what());
    }

    using Clock = Link::Clock;
    const auto progress_timeout = seconds(o.common.timeout_s);
    // Messages an earlier run journaled count as sent: their results come like the others'.
    std::size_t sent = restored, acked = 0, failed = 0, skipped = 0;
    bool spool_full = false;  // said once per time it fills
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
        // With a spool the outbox takes every line (the spool holds what RAM cannot), each one
        // fsync'ed: between them, what the module said is read before its deadlines are judged.
        for (std::size_t handed = 0; refused.empty() && !c.ended() && source->ready(); ++handed) {
            if (handed > 0 && handed % 8 == 0) c.run_ready();
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
                    // With a spool, the outbox never refuses for room in RAM: the spool is full.
                    if (spool && !spool_full)
                        warn(tool, "spool " + o.spool + " is full (" +
                                       std::to_string(spool->max_bytes()) +
                                       " bytes, --spool-max): waiting for acknowledgements");
                    spool_full = spool.has_value();
                    outbox_full = true;
                    break;
                }
                if (m.line != 0 && payload_error(e)) {
                    skip(host::describe(e));
                    continue;
                }
                refused = e.code == qmt::Error::store_failed && spool
                              ? name(m) + " not journaled: " + spool->last_error()
                              : name(m) + " refused: " + host::describe(e);
                break;
            }
            source->pop();  // for a spool: journaled, so stdin may let it go
            ++sent;
            spool_full = false;
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
                  "Send an empty (null) message: AT+QMTPUB in the variable-length form and a "
                  "bare Ctrl+Z (the fixed-length form takes 1..1024 bytes)")
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
    o->spool_opt =
        app->add_option("--spool", o->spool,
                        "With -l and QoS 1 or 2: journal every line in DIR (fsync) before it is "
                        "queued, and release it when acknowledged; a pub killed at any moment and "
                        "started again with the same DIR delivers what was not acknowledged "
                        "first (at least once), then goes on with stdin. One pub per DIR")
            ->type_name("DIR")
            ->group("Message");
    o->spool_max_opt =
        app->add_option("--spool-max", o->spool_max_text,
                        "Most bytes the spool may hold (4096..1T; K, M, G: binary multiples); "
                        "when full, stdin waits for acknowledgements")
            ->capture_default_str()
            ->type_name("BYTES")
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
