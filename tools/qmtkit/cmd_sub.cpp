// qmtkit sub: subscribe to one or more filters and print each payload on its own line
// (-v: "topic payload"). Exit 0 after -C COUNT messages; non-zero after -W SECONDS. The whole
// command line is checked before the port is opened; a bring-up cause retrying cannot heal ends
// the run at once; SIGINT / SIGTERM disconnect and close first.
#include <cstdio>
#include <iostream>
#include <optional>

#include "common.hpp"
#include "link.hpp"

namespace qmtkit::cli {
namespace {

struct SubOptions {
    CommonOptions common;
    std::vector<std::string> topics;
    std::string qos_text = "0";
    std::string count_text;
    std::string wait_text;
    bool verbose = false;
    CLI::Option* topic_opt = nullptr;
    CLI::Option* count_opt = nullptr;
    CLI::Option* wait_opt = nullptr;
    // Checked (check_sub).
    std::uint8_t qos = 0;
    std::uint64_t count = 0;  // 0: no limit
    double wait_s = 0;        // 0: no limit
};

// The whole command line, before anything is opened (UsageError).
void check_sub(SubOptions& o) {
    check_common(o.common);
    require(o.topic_opt, "-t");
    o.qos = static_cast<std::uint8_t>(
        parse_uint(o.qos_text, "QoS", "-q", 0, 2, one_of({"0", "1", "2"})));
    if (given(o.count_opt)) o.count = parse_uint(o.count_text, "count", "-C", 1, 4294967295u);
    if (given(o.wait_opt)) o.wait_s = parse_seconds(o.wait_text, "wait", "-W");
    for (const auto& t : o.topics) check_field(t, "topic", "-t", 1, qmt::kMaxTopic);
}

// The SDK's own checks of the session and the filters, on a client that never runs.
void check_offline(const SubOptions& o, const qmt::Session& session) {
    OfflineClient offline;
    check_session_offline(offline, session);
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

int run_sub(SubOptions& o) {
    const std::string tool = "sub";
    check_sub(o);
    const std::string client_id = client_id_for(o.common, "qmtkit-sub-");
    const qmt::Session session = make_session(o.common, client_id);
    check_offline(o, session);

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
        return fail(tool, e.what());
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
        bounded ? remaining() : seconds(o.common.timeout_s));
    if (!subscribed) {
        if (auto e = ended()) return *e;
        return timed_out(bounded ? o.wait_s : o.common.timeout_s, "subscribing");
    }
    for (std::size_t i = 0; i < tickets.size(); ++i) {
        const auto& r = *c.subscribed(tickets[i]);
        if (!r) {
            (void)c.stop(std::chrono::seconds(3));
            return fail(tool, "subscribe " + o.topics[i] + ": " + host::describe(r.error()));
        }
        if (o.common.debug)
            std::fprintf(stderr, "qmtkit sub: subscribed %s (granted QoS %u)\n",
                         o.topics[i].c_str(), unsigned{r->granted_qos});
    }

    std::uint64_t got = 0;
    while (o.count == 0 || got < o.count) {
        if (!c.run_until([&] { return c.messages_pending() > 0; }, remaining())) {
            if (auto e = ended()) return *e;
            if (bounded && Clock::now() >= deadline)
                return timed_out(o.wait_s, "with " + std::to_string(got) + " message(s) received");
            continue;
        }
        const auto m = c.take_message();
        ++got;
        if (o.verbose) {
            std::fwrite(m->topic.data(), 1, m->topic.size(), stdout);
            std::fputc(' ', stdout);
        }
        std::fwrite(m->payload.data(), 1, m->payload.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    (void)c.stop(std::chrono::seconds(3));
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
                                   "Exit 0 after receiving COUNT messages (1..4294967295)")
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
    return Command{app, [o] { return run_sub(*o); }};
}

}  // namespace qmtkit::cli
