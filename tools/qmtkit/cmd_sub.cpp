// qmtkit sub: subscribe to one or more filters and print each payload on its own line
// (-v: "topic payload"). Exit 0 after -C COUNT messages; non-zero after -W SECONDS.
#include <cstdio>
#include <iostream>

#include "common.hpp"

namespace qmtkit::cli {
namespace {

struct SubOptions {
    CommonOptions common;
    std::vector<std::string> topics;
    unsigned qos = 0;
    unsigned count = 0;  // 0: no limit
    double wait_s = 0;   // 0: no limit
    bool verbose = false;
    bool debug = false;
};

int run_sub(SubOptions& o) {
    const std::string tool = "sub";
    using Clock = host::Runner::Clock;
    const bool bounded = o.wait_s > 0;
    const auto deadline = bounded ? Clock::now() + seconds(o.wait_s) : Clock::time_point::max();
    auto remaining = [&] {
        if (!bounded) return std::chrono::milliseconds(3600 * 1000);
        auto r = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return r.count() > 0 ? r : std::chrono::milliseconds(0);
    };
    auto timed_out = [&](host::BlockingClient& c, const std::string& what) {
        std::string cause = "timed out after " + std::to_string(o.wait_s) + " s " + what +
                            " (link " + std::string(qmt::to_string(c.state()));
        if (!c.last_problem().empty()) cause += "; last problem: " + c.last_problem();
        return fail(tool, cause + ")");
    };

    std::unique_ptr<host::BlockingClient> client;
    try {
        client = open_client(o.common, tool, "qmtkit-sub-");
    } catch (const host::TransportError& e) {
        return fail(tool, e.what());
    }
    if (!client) return 1;
    host::BlockingClient& c = *client;
    if (o.debug) {
        c.set_link_observer([](qmt::LinkState s) {
            std::fprintf(stderr, "qmtkit sub: link %s\n", std::string(qmt::to_string(s)).c_str());
        });
    }

    // Register every filter; the supervisor subscribes them once online (and again after every
    // reconnect). Wait for each +QMTSUB result, bounded by -W or --timeout.
    const auto sub_wait = bounded ? remaining() : seconds(o.common.timeout_s);
    const auto sub_deadline = Clock::now() + sub_wait;
    for (const auto& t : o.topics) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(sub_deadline - Clock::now());
        if (left.count() < 0) left = std::chrono::milliseconds(0);
        auto r = c.subscribe(t, static_cast<std::uint8_t>(o.qos), left);
        if (!r) {
            if (r.error().kind == host::FailureKind::deadline && bounded)
                return timed_out(c, "subscribing");
            return fail(tool, "subscribe " + t + ": " + host::describe(r.error()));
        }
        if (o.debug)
            std::fprintf(stderr, "qmtkit sub: subscribed %s (granted QoS %u)\n", t.c_str(),
                         unsigned{r->granted_qos});
    }

    unsigned got = 0;
    while (o.count == 0 || got < o.count) {
        auto m = c.next_message(remaining());
        if (!m) {
            if (c.transport_failed()) return fail(tool, c.last_problem());
            if (bounded && Clock::now() >= deadline) {
                return timed_out(c, "with " + std::to_string(got) + " message(s) received");
            }
            continue;
        }
        ++got;
        if (o.verbose) {
            std::fwrite(m->topic.data(), 1, m->topic.size(), stdout);
            std::fputc(' ', stdout);
        }
        std::fwrite(m->payload.data(), 1, m->payload.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    (void)c.stop(std::chrono::seconds(5));
    return 0;
}

}  // namespace

Command add_sub(CLI::App& root) {
    auto o = std::make_shared<SubOptions>();
    CLI::App* app = root.add_subcommand("sub", "Subscribe and print messages (like mosquitto_sub)");
    add_common_options(*app, o->common);
    app->add_option("-t,--topic", o->topics,
                    "Topic filter to subscribe to (MQTT wildcards + and #); repeat for several")
        ->required()
        ->group("Messages");
    app->add_option("-q,--qos", o->qos, "Requested quality of service: 0, 1 or 2")
        ->capture_default_str()
        ->check(CLI::Range(0u, 2u))
        ->group("Messages");
    app->add_option("-C,--count", o->count, "Exit 0 after receiving COUNT messages")
        ->check(CLI::PositiveNumber)
        ->group("Messages");
    app->add_option(
           "-W,--wait", o->wait_s,
           "Exit non-zero after SECONDS if COUNT messages have not arrived (or, without -C, "
           "after SECONDS anyway)")
        ->check(CLI::PositiveNumber)
        ->group("Messages");
    app->add_flag("-v,--verbose", o->verbose, "Print the topic, a space, then the payload")
        ->group("Messages");
    app->add_flag("-d,--debug", o->debug,
                  "Report link states and granted subscriptions on stderr (never credentials)")
        ->group("Messages");
    return Command{app, [o] { return run_sub(*o); }};
}

}  // namespace qmtkit::cli
