// `qmtkit sub`'s mosquitto_sub options through bc28-sim and a real mosquitto (issue 9): -F and
// its fields (what +QMTRECV cannot tell — QoS 2 vs 1, the retain flag — prints '?'), -N, -T,
// -E and -U on a persistent session; and defect 5: a payload longer than the client can hold is
// reported (topic and size) and the exit status is 1, while one that fits is printed.
// `pub --quiet`. The retained message each test publishes first is its synchronisation: once sub
// prints it, sub is subscribed.
#include <regex>

#include "cli_child.hpp"
#include "fixture.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

class CliSubOptions : public CliOnSim {
  protected:
    // The exit status (-1: still running after 20 s, then killed).
    static int finish(CliChild& p) { return p.wait(20s).value_or(-1); }
};

// Defect 5: the emulator delivers a 3000-byte payload whole (its log shows the +QMTRECV); the
// client cannot hold it: one line naming topic and size, the other messages still printed (a
// 1200-byte one fits the client's line buffer with a short topic), exit 1 at the end.
TEST_F(CliSubOptions, MessageTooLongForTheClientIsReportedAndTheExitIsOne) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("big", "first", 1, true));
    Sim sim;
    CliChild p(args("sub", sim, {"-t", "big", "-q", "1", "-C", "4", "-v"}));
    ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "big first") << p.err();
    const std::string too_long(3000, 'z'), fits(1200, 'y');
    ASSERT_TRUE(pubber.publish("big", too_long, 1));
    ASSERT_TRUE(pubber.publish("big", fits, 1));
    ASSERT_TRUE(pubber.publish("big", "after", 1));
    EXPECT_EQ(p.stdout_line(20s).value_or("(none)"), "big " + fits);
    EXPECT_EQ(p.stdout_line(20s).value_or("(none)"), "big after");
    EXPECT_EQ(finish(p), 1);
    EXPECT_EQ(p.err(),
              "qmtkit sub: message on big dropped: 3000 bytes, more than the client can hold\n"
              "qmtkit sub: 1 of 4 message(s) dropped\n");
    EXPECT_NE(sim.log().find(",\"big\"," + too_long), std::string::npos) << "not delivered whole";
}

// -F: topic, payload, length, hex, msgID, QoS as far as +QMTRECV tells it, retain as '?', time
// fields, escapes; -N leaves the newline out (here the format has its own).
TEST_F(CliSubOptions, FormatPrintsWhatTheModuleReports) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("fmt/a", "hi", 1, true));
    Sim sim;
    CliChild p(args("sub", sim,
                    {"-t", "fmt/#", "-q", "1", "-C", "2", "-N", "-F",
                     "%t|%p|%l|%x|%X|%q|%r|%m|%%|@@|\\t|%I|%U|@Y\\n"}));
    const std::regex time_tail(R"(\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}\|\d+\.\d{9}\|\d{4}$)");
    const auto first = p.stdout_line(20s).value_or("(none)");
    // Retained, sent at QoS 1: a msgID; nothing granted 2, so QoS 1.
    EXPECT_TRUE(std::regex_search(
        first, std::regex(R"(^fmt/a\|hi\|2\|6869\|6869\|1\|\?\|[1-9]\d*\|%\|@\|\t)")))
        << first;
    EXPECT_TRUE(std::regex_search(first, time_tail)) << first;
    ASSERT_TRUE(pubber.publish("fmt/b", std::string("\x01\xfe", 2), 0));
    const auto second = p.stdout_line(20s).value_or("(none)");
    EXPECT_EQ(second.rfind(std::string("fmt/b|\x01\xfe|2|01fe|01FE|0|?|0|%|@|\t|"), 0), 0u)
        << second;
    EXPECT_EQ(finish(p), 0) << p.err();
    EXPECT_EQ(p.err(), "");

    // Granted QoS 2: a message with a msgID was sent at QoS 1 or 2, which +QMTRECV does not say.
    Sim sim2;
    CliChild q(args("sub", sim2, {"-t", "fmt/a", "-q", "2", "-C", "1", "-F", "%q %r %p"}));
    EXPECT_EQ(q.stdout_line(20s).value_or("(none)"), "? ? hi") << q.err();
    EXPECT_EQ(finish(q), 0);
}

// -N without -F: payloads back to back; -v still puts the topic first.
TEST_F(CliSubOptions, NoNewline) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("nl", "one", 1, true));
    Sim sim;
    CliChild p(args("sub", sim, {"-t", "nl", "-q", "1", "-C", "3", "-N", "-v", "-d"}));
    ASSERT_TRUE(p.stderr_has("qmtkit sub: subscribed nl (granted QoS 1)\n", 20s)) << p.err();
    ASSERT_TRUE(pubber.publish("nl", "two", 1));
    ASSERT_TRUE(pubber.publish("nl", "three", 1));
    EXPECT_EQ(finish(p), 0) << p.err();
    EXPECT_EQ(p.out(), "nl onenl twonl three");
}

// -T: messages on matching topics are neither printed nor counted.
TEST_F(CliSubOptions, FilterOutSkipsMatchingTopics) {
    test::MqttClient pubber(broker.host(), broker.port());
    ASSERT_TRUE(pubber.publish("ft/r", "yes0", 1, true));
    Sim sim;
    CliChild p(
        args("sub", sim, {"-t", "ft/#", "-q", "1", "-C", "3", "-T", "ft/skip/#", "-T", "ft/+/no"}));
    ASSERT_EQ(p.stdout_line(20s).value_or("(none)"), "yes0") << p.err();
    for (const auto& [topic, payload] :
         std::vector<std::pair<std::string, std::string>>{{"ft/skip", "no"},
                                                          {"ft/skip/x", "no"},
                                                          {"ft/a", "yes1"},
                                                          {"ft/b/no", "no"},
                                                          {"ft/b", "yes2"}})
        ASSERT_TRUE(pubber.publish(topic, payload, 1));
    EXPECT_EQ(finish(p), 0) << p.err();
    EXPECT_EQ(p.out(), "yes0\nyes1\nyes2\n");
}

// -E makes a persistent session (-c) that collects messages while no one listens; -U ends its
// subscription: a message published after it is not kept (the broker hands the session's queue
// over in order, so "gone" would come before "marker").
TEST_F(CliSubOptions, ExitOnceSubscribedThenUnsubscribe) {
    test::MqttClient pubber(broker.host(), broker.port());
    const std::vector<std::string> session{"-c", "-i", "qmtkit-persistent", "-q", "1"};
    const auto with = [&](const Sim& sim, std::vector<std::string> more) {
        auto v = args("sub", sim, session);
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    Sim sim;
    {
        CliChild e(with(sim, {"-t", "ps/a", "-t", "ps/b", "-E"}));
        EXPECT_EQ(finish(e), 0) << e.err();
        EXPECT_EQ(e.out() + e.err(), "");
    }
    ASSERT_TRUE(pubber.publish("ps/a", "kept", 1));
    {
        CliChild u(with(sim, {"-U", "ps/a", "-d"}));
        EXPECT_EQ(finish(u), 0) << u.err();
        EXPECT_NE(u.err().find("qmtkit sub: unsubscribed ps/a\n"), std::string::npos) << u.err();
        EXPECT_EQ(u.out(), "");  // -U prints no message, not even the queued "kept"
        EXPECT_NE(sim.log().find("cmd AT+QMTUNS set"), std::string::npos);
    }
    ASSERT_TRUE(pubber.publish("ps/a", "gone", 1));
    ASSERT_TRUE(pubber.publish("ps/b", "marker", 1));
    CliChild r(with(sim, {"-t", "ps/b", "-C", "1"}));
    EXPECT_EQ(r.stdout_line(20s).value_or("(none)"), "marker") << r.err();
    EXPECT_EQ(finish(r), 0);
}

// pub --quiet: a refused CONNECT ends with exit 1 and nothing on stderr.
TEST_F(CliSubOptions, PubQuietPrintsNoErrors) {
    Sim sim({"--fault", "refuse-conn 5"});
    CliChild p(args("pub", sim, {"-t", "q", "-m", "x", "--quiet"}));
    EXPECT_EQ(finish(p), 1);
    EXPECT_EQ(p.out() + p.err(), "");
}

}  // namespace
}  // namespace qmtkit::e2e
