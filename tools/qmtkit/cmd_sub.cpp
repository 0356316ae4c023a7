// qmtkit sub: subscribe to one or more filters and print each payload on its own line
// (-v: "topic payload"; -F: a mosquitto_sub format; -N: no newline). Exit 0 after -C COUNT
// messages (-E: once subscribed; -U: after unsubscribing); non-zero after -W SECONDS, or when a
// message longer than the client can hold was dropped (one line on stderr each). The whole
// command line is checked before the port is opened; a bring-up cause retrying cannot heal ends
// the run at once; SIGINT / SIGTERM disconnect and close first.
#include <time.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

#include <cstdio>
#include <iostream>
#include <optional>

#include "common.hpp"
#include "link.hpp"
#include "session.hpp"

namespace qmtkit::cli {
namespace {

// One piece of a -F format, parsed when the command line is checked.
struct FormatPart {
    enum class Kind { text, field, time } kind = Kind::text;
    std::string text;  // Kind::text
    char code = 0;     // Kind::field: t p q r m l x X I U; Kind::time: a strftime letter or N
};

struct SubOptions {
    CommonOptions common;
    std::vector<std::string> topics;
    std::vector<std::string> filter_outs;
    std::vector<std::string> unsubscribe;
    std::string qos_text = "0";
    std::string count_text;
    std::string wait_text;
    std::string format;
    bool verbose = false;
    bool no_eol = false;
    bool exit_subscribed = false;
    bool skip_retained = false;
    CLI::Option* topic_opt = nullptr;
    CLI::Option* count_opt = nullptr;
    CLI::Option* wait_opt = nullptr;
    CLI::Option* format_opt = nullptr;
    CLI::Option* unsub_opt = nullptr;
    // Checked (check_sub).
    std::uint8_t qos = 0;
    std::uint64_t count = 0;  // 0: no limit
    double wait_s = 0;        // 0: no limit
    std::vector<FormatPart> parts;
};

// mosquitto_sub's -F: %t %p %q %r %m %l %x %X %I %U %%, @<strftime letter> @N @@, and the
// escapes \\ \0 \a \e \n \r \t \v. What qmtkit cannot print honestly is refused, by name.
std::vector<FormatPart> parse_format(const std::string& f) {
    const std::string head = "Invalid format (-F): ";
    std::vector<FormatPart> parts;
    const auto literal = [&](char c) {
        if (parts.empty() || parts.back().kind != FormatPart::Kind::text) parts.emplace_back();
        parts.back().text += c;
    };
    for (std::size_t i = 0; i < f.size(); ++i) {
        const char c = f[i];
        if (c != '%' && c != '@' && c != '\\') {
            literal(c);
            continue;
        }
        if (i + 1 == f.size())
            throw UsageError(head + "'" + std::string(1, c) + "' at its end is incomplete.");
        const char n = f[++i];
        if (c == '\\') {
            static const std::string from = "\\0aenrtv", to("\\\0\a\033\n\r\t\v", 8);
            const auto at = from.find(n);
            if (at == std::string::npos)
                throw UsageError(head + "unknown escape '\\" + std::string(1, n) + "'.");
            literal(to[at]);
        } else if (c == '@') {
            if (n == '@') {
                literal('@');
            } else if ((n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z')) {
                parts.push_back({FormatPart::Kind::time, {}, n});
            } else {
                throw UsageError(head + "unknown time specifier '@" + std::string(1, n) + "'.");
            }
        } else if (n == '%') {
            literal('%');
        } else if (std::string("tpqrmlxXIU").find(n) != std::string::npos) {
            parts.push_back({FormatPart::Kind::field, {}, n});
        } else if (n == '-' || n == '.' || (n >= '0' && n <= '9')) {
            throw UsageError(head +
                             "field widths, padding and precision (%-10t, %05l, %.3p) "
                             "are not supported.");
        } else if (n == 'j' || n == 'J') {
            throw UsageError(head + "%" + std::string(1, n) + " (JSON) is not supported.");
        } else if (std::string("ACDEFPRS").find(n) != std::string::npos) {
            throw UsageError(head + "%" + std::string(1, n) +
                             " is an MQTT 5 property; the module speaks MQTT 3.1 / 3.1.1.");
        } else {
            throw UsageError(head + "unknown specifier '%" + std::string(1, n) + "'.");
        }
    }
    return parts;
}

// A filter checked by the SDK itself (a client that never runs: nothing is sent).
void check_filter(OfflineClient& offline, const std::string& f, const std::string& what,
                  const std::string& option) {
    check_field(f, what, option, 1, qmt::kMaxTopic);
    check_utf8(f, what, option);
    auto r = offline.core().unsubscribe(f);
    if (r) return;
    if (r.error().code == qmt::Error::bad_topic_filter)
        throw UsageError("Invalid " + what + " '" + f +
                         "', are all '+' and '#' wildcards correct?");
    throw UsageError("Invalid " + what + " (" + option +
                     "): " + std::string(qmt::to_string(r.error().code)) + ".");
}

// The -t filters checked by the SDK itself, on a client that never runs (configured with a
// stand-in session: the real one may come from a manifest, read later).
void check_topics_offline(const SubOptions& o) {
    OfflineClient offline;
    qmt::Session s;
    s.host = "h";
    s.client_id = "c";
    check_session_offline(offline, s);
    for (const auto& t : o.topics) {
        auto r = offline.core().subscribe(t, o.qos);
        if (r) continue;
        if (r.error().code == qmt::Error::bad_topic_filter)
            throw UsageError("Invalid subscription topic '" + t +
                             "', are all '+' and '#' wildcards correct?");
        if (r.error().code == qmt::Error::queue_full)
            throw UsageError("Too many topics (-t): at most " +
                             std::to_string(qmt::ClientConfig::subscriptions) + ".");
        throw UsageError("Invalid topic (-t): " + std::string(qmt::to_string(r.error().code)) +
                         ".");
    }
}

// The whole command line, before anything is opened (UsageError).
void check_sub(SubOptions& o) {
    if (o.skip_retained)
        throw UsageError(
            "-R is not supported: +QMTRECV carries no retain flag, so a retained "
            "message cannot be told from a new one.");
    check_common(o.common);
    OfflineClient offline;
    if (given(o.unsub_opt)) {
        if (given(o.topic_opt))
            throw UsageError("Give -t or -U, not both: -U unsubscribes, then exits.");
        if (o.unsubscribe.size() > qmt::ClientConfig::subscriptions)
            throw UsageError("Too many topics (-U): at most " +
                             std::to_string(qmt::ClientConfig::subscriptions) + ".");
        for (const auto& f : o.unsubscribe) check_filter(offline, f, "unsubscribe topic", "-U");
    } else {
        require(o.topic_opt, "-t");
    }
    o.qos = static_cast<std::uint8_t>(
        parse_uint(o.qos_text, "QoS", "-q", 0, 2, one_of({"0", "1", "2"})));
    if (given(o.count_opt)) o.count = parse_uint(o.count_text, "count", "-C", 1, 4294967295u);
    if (given(o.wait_opt)) o.wait_s = parse_seconds(o.wait_text, "wait", "-W");
    for (const auto& t : o.topics) {
        check_field(t, "topic", "-t", 1, qmt::kMaxTopic);
        check_utf8(t, "topic", "-t");
    }
    check_topics_offline(o);
    for (const auto& f : o.filter_outs) check_filter(offline, f, "filter topic", "-T");
    if (given(o.format_opt)) o.parts = parse_format(o.format);
}

// The SDK's own checks of the session, on a client that never runs.
void check_offline(const qmt::Session& session) {
    OfflineClient offline;
    check_session_offline(offline, session);
}

// %q: +QMTRECV carries no QoS. A QoS 0 message has no packet id (msgID 0); one with a msgID was
// sent at QoS 1 or 2, at most the QoS granted: 1 when nothing was granted 2, else unknown ("?").
std::string qos_of(std::uint16_t msg_id, unsigned max_granted) {
    if (msg_id == 0) return "0";
    return max_granted <= 1 ? "1" : "?";
}

void append_hex(std::string& out, const std::string& bytes, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (const unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 0xF];
    }
}

void print_formatted(const SubOptions& o, const host::ReceivedMessage& m, unsigned max_granted) {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    tm local{};
#ifdef _WIN32
    ::localtime_s(&local, &now.tv_sec);
#else
    ::localtime_r(&now.tv_sec, &local);
#endif
    const auto strf = [&](const char* f) {
        char b[100];
        const std::size_t n = std::strftime(b, sizeof b, f, &local);
        return std::string(b, n);
    };
    std::string out;
    for (const auto& p : o.parts) {
        if (p.kind == FormatPart::Kind::text) {
            out += p.text;
        } else if (p.kind == FormatPart::Kind::time) {
            if (p.code == 'N') {
                char b[16];
                std::snprintf(b, sizeof b, "%09ld", static_cast<long>(now.tv_nsec));
                out += b;
            } else {
                const char f[3] = {'%', p.code, '\0'};
                out += strf(f);
            }
        } else {
            switch (p.code) {
                case 't':
                    out += m.topic;
                    break;
                case 'p':
                    out += m.payload;
                    break;
                case 'q':
                    out += qos_of(m.msg_id, max_granted);
                    break;
                case 'r':
                    out += '?';  // +QMTRECV carries no retain flag
                    break;
                case 'm':
                    out += std::to_string(m.msg_id);
                    break;
                case 'l':
                    out += std::to_string(m.payload.size());
                    break;
                case 'x':
                case 'X':
                    append_hex(out, m.payload, p.code == 'X');
                    break;
                case 'I':
                    out += strf("%FT%T%z");
                    break;
                case 'U': {
                    char b[40];
                    std::snprintf(b, sizeof b, "%lld.%09ld", static_cast<long long>(now.tv_sec),
                                  static_cast<long>(now.tv_nsec));
                    out += b;
                    break;
                }
                default:
                    break;
            }
        }
    }
    if (!o.no_eol) out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
}

void print_message(const SubOptions& o, const host::ReceivedMessage& m, unsigned max_granted) {
    if (!o.parts.empty() || given(o.format_opt)) {
        print_formatted(o, m, max_granted);
    } else {
        if (o.verbose) {
            std::fwrite(m.topic.data(), 1, m.topic.size(), stdout);
            std::fputc(' ', stdout);
        }
        std::fwrite(m.payload.data(), 1, m.payload.size(), stdout);
        if (!o.no_eol) std::fputc('\n', stdout);
    }
    std::fflush(stdout);
}

int run_sub(SubOptions& o) {
    const std::string tool = "sub";
    check_sub(o);
    // The order of the checks (docs/host-and-cli.md, "Refused input"): the command line (1), the
    // device's path (74), the manifest (2), opening the device (74).
    check_device(o.common);
    int status = kExitOk;
    const auto rs = make_run_session(o.common, tool, "qmtkit-sub-", status);
    if (!rs) return status;
    const qmt::Session& session = rs->session();
    check_offline(session);
#ifdef _WIN32
    // Payloads byte for byte: the CRT's text mode would turn every LF into CR LF.
    ::_setmode(::_fileno(stdout), _O_BINARY);
#endif

    using Clock = Link::Clock;
    const bool bounded = o.wait_s > 0;
    const auto deadline = bounded ? Clock::now() + seconds(o.wait_s) : Clock::time_point::max();
    auto remaining = [&] {
        if (!bounded) return std::chrono::milliseconds(3600 * 1000);
        auto r = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return r.count() > 0 ? r : std::chrono::milliseconds(0);
    };

    std::unique_ptr<Link> link;
    try {
        link = open_link(o.common, tool);
    } catch (const host::TransportError& e) {
        fail(tool, device_open_failure(o.common.device, e.what(), e.code()));
        return kExitNoDevice;
    }
    Link& c = *link;
    if (auto r = c.start(session); !r)
        return fail(tool, "invalid session: " + host::describe(r.error()));

    // A signal, a cause retrying cannot heal, the device gone: the exit status, after DISCONNECT
    // and CLOSE where the module can still hear them.
    const auto ended = [&]() -> std::optional<int> {
        if (c.signal() != 0) {
            (void)c.stop(std::chrono::seconds(3));
            return exit_for_signal(c.signal());
        }
        if (!c.fatal().empty()) {
            (void)c.stop(std::chrono::seconds(3));  // the supervisor would retry: stop it
            return fail(tool, c.fatal());
        }
        if (c.transport_failed()) return fail(tool, c.transport_error());
        return std::nullopt;
    };
    const auto timed_out = [&](double after, const std::string& what) {
        const std::string cause =
            "timed out after " + format_seconds(after) + " s " + what + " (" + c.situation() + ")";
        (void)c.stop(std::chrono::seconds(3));
        return fail(tool, cause);
    };
    const auto setup_wait = [&] { return bounded ? remaining() : seconds(o.common.timeout_s); };
    const double setup_s = bounded ? o.wait_s : o.common.timeout_s;

    // -U: once online, unsubscribe every filter, wait for each +QMTUNS result, then exit.
    if (!o.unsubscribe.empty()) {
        if (!c.run_until([&] { return c.state() == qmt::LinkState::online; }, setup_wait())) {
            if (auto e = ended()) return *e;
            return timed_out(setup_s, "unsubscribing");
        }
        std::vector<std::uint32_t> tickets;
        for (const auto& f : o.unsubscribe) {
            auto r = c.unsubscribe(f);
            if (!r) {
                (void)c.stop(std::chrono::seconds(3));
                return fail(tool, "unsubscribe " + f + ": " + host::describe(r.error()));
            }
            tickets.push_back(*r);
        }
        const bool done = c.run_until(
            [&] {
                for (const auto t : tickets)
                    if (c.unsubscribed(t) == nullptr) return false;
                return true;
            },
            setup_wait());
        if (!done) {
            if (auto e = ended()) return *e;
            return timed_out(setup_s, "unsubscribing");
        }
        for (std::size_t i = 0; i < tickets.size(); ++i) {
            const auto& r = *c.unsubscribed(tickets[i]);
            if (!r) {
                (void)c.stop(std::chrono::seconds(3));
                return fail(tool,
                            "unsubscribe " + o.unsubscribe[i] + ": " + host::describe(r.error()));
            }
            if (o.common.debug)
                std::fprintf(stderr, "qmtkit sub: unsubscribed %s\n", o.unsubscribe[i].c_str());
        }
        (void)c.stop(std::chrono::seconds(3));
        return kExitOk;
    }

    // Register every filter; the supervisor subscribes them once online (and again after every
    // reconnect). Wait for each +QMTSUB result, bounded by -W or --timeout.
    std::vector<std::uint32_t> tickets;
    for (const auto& t : o.topics) {
        auto r = c.subscribe(t, o.qos);
        if (!r) return fail(tool, "subscribe " + t + ": " + host::describe(r.error()));
        tickets.push_back(*r);
    }
    const bool subscribed = c.run_until(
        [&] {
            for (const auto t : tickets)
                if (c.subscribed(t) == nullptr) return false;
            return true;
        },
        setup_wait());
    if (!subscribed) {
        if (auto e = ended()) return *e;
        return timed_out(setup_s, "subscribing");
    }
    unsigned max_granted = 0;
    for (std::size_t i = 0; i < tickets.size(); ++i) {
        const auto& r = *c.subscribed(tickets[i]);
        if (!r) {
            (void)c.stop(std::chrono::seconds(3));
            return fail(tool, "subscribe " + o.topics[i] + ": " + host::describe(r.error()));
        }
        max_granted = std::max<unsigned>(max_granted, r->granted_qos);
        if (o.common.debug)
            std::fprintf(stderr, "qmtkit sub: subscribed %s (granted QoS %u)\n",
                         o.topics[i].c_str(), unsigned{r->granted_qos});
    }
    if (o.exit_subscribed) {
        (void)c.stop(std::chrono::seconds(3));
        return kExitOk;
    }

    const auto filtered_out = [&](const std::string& topic) {
        for (const auto& f : o.filter_outs)
            if (qmt::topic_matches(f, topic)) return true;
        return false;
    };
    std::uint64_t got = 0, dropped = 0;
    while (o.count == 0 || got < o.count) {
        if (!c.run_until([&] { return c.messages_pending() > 0 || c.dropped_pending() > 0; },
                         remaining())) {
            if (auto e = ended()) return *e;
            if (bounded && Clock::now() >= deadline)
                return timed_out(o.wait_s, "with " + std::to_string(got) + " message(s) received");
            continue;
        }
        // A message too long for the client: one line each, counted (for -C and the exit status).
        if (auto d = c.take_dropped()) {
            if (!d->topic.empty() && filtered_out(d->topic)) continue;
            ++got;
            ++dropped;
            warn(tool, (d->topic.empty() ? std::string("message") : "message on " + d->topic) +
                           " dropped: " + std::to_string(d->size) +
                           " bytes, more than the client can hold");
            continue;
        }
        const auto m = c.take_message();
        if (!m || filtered_out(m->topic)) continue;
        ++got;
        print_message(o, *m, max_granted);
    }
    (void)c.stop(std::chrono::seconds(3));
    if (dropped > 0)
        return fail(tool,
                    std::to_string(dropped) + " of " + std::to_string(got) + " message(s) dropped");
    return kExitOk;
}

}  // namespace

Command add_sub(CLI::App& root) {
    auto o = std::make_shared<SubOptions>();
    CLI::App* app = root.add_subcommand("sub", "Subscribe and print messages (like mosquitto_sub)");
    app->allow_extras();
    add_common_options(*app, o->common);
    o->topic_opt =
        app->add_option("-t,--topic", o->topics,
                        "Topic filter to subscribe to (MQTT wildcards + and #); repeat for several "
                        "(at most 8)")
            ->type_name("FILTER")
            ->group("Messages");
    app->add_option("-q,--qos", o->qos_text, "Requested quality of service: 0, 1 or 2")
        ->capture_default_str()
        ->type_name("0|1|2")
        ->group("Messages");
    o->count_opt = app->add_option("-C,--count", o->count_text,
                                   "Exit after receiving COUNT messages (1..4294967295; a "
                                   "dropped message counts)")
                       ->type_name("COUNT")
                       ->group("Messages");
    o->wait_opt =
        app->add_option("-W,--wait", o->wait_text,
                        "Exit 1 after SECONDS (0.001..1000000) if COUNT messages have not arrived "
                        "(or, without -C, after SECONDS anyway)")
            ->type_name("SECONDS")
            ->group("Messages");
    app->add_flag("-v,--verbose", o->verbose, "Print the topic, a space, then the payload")
        ->group("Messages");
    app->add_flag("-N", o->no_eol, "Do not add a newline after each message (also with -F)")
        ->group("Messages");
    o->format_opt =
        app->add_option("-F", o->format,
                        "Print each message in this format (mosquitto_sub's; -v is then "
                        "ignored): %t topic, %p payload, %l its length, %x / %X it in hex, %m the "
                        "module's msgID (0 for QoS 0), %I ISO-8601 local time, %U Unix time, %% "
                        "a '%', @<letter> a strftime field (@N nanoseconds, @@ a '@'), \\n \\t "
                        "\\r \\v \\a \\e \\0 \\\\ escapes. +QMTRECV carries no QoS and no retain "
                        "flag: %q prints 0 for a message without msgID (QoS 0), 1 for one with a "
                        "msgID when no filter was granted QoS 2, else '?'; %r always prints '?'. "
                        "Not supported: field widths, %j / %J (JSON), MQTT 5 properties")
            ->type_name("FORMAT")
            ->group("Messages");
    app->add_option("-T,--filter-out", o->filter_outs,
                    "Do not print (or count) messages whose topic matches FILTER; repeatable")
        ->type_name("FILTER")
        ->group("Messages");
    app->add_flag("-E", o->exit_subscribed,
                  "Exit 0 once every -t subscription is acknowledged (with -c: a persistent "
                  "session, to collect messages later)")
        ->group("Messages");
    o->unsub_opt = app->add_option("-U,--unsubscribe", o->unsubscribe,
                                   "Unsubscribe from FILTER (repeatable, at most 8), then exit 0 "
                                   "(with -c: to end a subscription of a persistent session); "
                                   "instead of -t")
                       ->type_name("FILTER")
                       ->group("Messages");
    app->add_flag("-R", o->skip_retained,
                  "Not supported (refused): skipping retained messages needs their retain flag, "
                  "which +QMTRECV does not carry. --retained-only is left out for the same "
                  "reason")
        ->group("Messages");
    return Command{app, [o] { return run_sub(*o); }};
}

}  // namespace qmtkit::cli
