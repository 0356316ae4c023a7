// Bad input gets a typed error and not one byte reaches the module.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "qmtkit/qmt/client.hpp"
#include "support.hpp"

using namespace qmtkit;
using namespace qmtkit::qmt;

namespace {

struct Quiet final : Listener {};

struct Case {
    const char* name;
    Error expected;
    std::function<Error(ClientCore&)> call;
};

template <class R>
Error code_of(const R& r) {
    return r ? Error::malformed_reply /* "accepted": never expected here */ : r.error().code;
}

Session good() {
    Session s;
    s.host = "h";
    s.client_id = "c";
    return s;
}

Error configure_with(ClientCore& c, const std::function<void(Session&)>& change) {
    Session s = good();
    change(s);
    return code_of(c.configure(s));
}

const std::string k101(101, 'h');
const std::string k256(256, 't');
const std::string k1025(1025, 'p');
const std::string kWill256(256, 'w');
const std::string kNul("a\0b", 3);
const std::string k300(300, 'x');

std::vector<Case> catalogue() {
    auto bv = [](const std::string& s) { return ByteView(s); };
    return {
        // publish
        {"publish empty topic", Error::topic_empty,
         [=](ClientCore& c) { return code_of(c.publish("", bv("p"))); }},
        {"publish topic 256 B", Error::topic_too_long,
         [=](ClientCore& c) { return code_of(c.publish(k256, bv("p"))); }},
        {"publish topic with quote", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.publish("a\"b", bv("p"))); }},
        {"publish topic with CR", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.publish("a\rb", bv("p"))); }},
        {"publish topic with LF", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.publish("a\nb", bv("p"))); }},
        {"publish topic with NUL", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.publish(kNul, bv("p"))); }},
        {"publish topic with +", Error::topic_has_wildcard,
         [=](ClientCore& c) { return code_of(c.publish("a/+", bv("p"))); }},
        {"publish topic with #", Error::topic_has_wildcard,
         [=](ClientCore& c) { return code_of(c.publish("a/#", bv("p"))); }},
        {"publish empty payload, fixed length", Error::payload_empty,
         [=](ClientCore& c) {
             return code_of(c.publish("t", bv(""), {1, false, PayloadForm::fixed_length}));
         }},
        {"publish payload 1025 B", Error::payload_too_long,
         [=](ClientCore& c) { return code_of(c.publish("t", bv(k1025))); }},
        {"publish qos 3", Error::qos_out_of_range,
         [=](ClientCore& c) { return code_of(c.publish("t", bv("p"), {3})); }},
        {"publish 0x1A variable form", Error::payload_needs_fixed_length,
         [=](ClientCore& c) {
             return code_of(c.publish("t", bv("a\x1A"), {1, false, PayloadForm::variable_length}));
         }},
        {"publish 0x1B variable form", Error::payload_needs_fixed_length,
         [=](ClientCore& c) {
             return code_of(c.publish("t", bv("a\x1B"), {1, false, PayloadForm::variable_length}));
         }},
        // subscribe / unsubscribe
        {"subscribe empty filter", Error::topic_empty,
         [=](ClientCore& c) { return code_of(c.subscribe("", 0)); }},
        {"subscribe filter 256 B", Error::topic_too_long,
         [=](ClientCore& c) { return code_of(c.subscribe(k256, 0)); }},
        {"subscribe # not last", Error::bad_topic_filter,
         [=](ClientCore& c) { return code_of(c.subscribe("a/#/b", 0)); }},
        {"subscribe + sharing a level", Error::bad_topic_filter,
         [=](ClientCore& c) { return code_of(c.subscribe("a/b+", 0)); }},
        {"subscribe # sharing a level", Error::bad_topic_filter,
         [=](ClientCore& c) { return code_of(c.subscribe("a#", 0)); }},
        {"subscribe qos 3", Error::qos_out_of_range,
         [=](ClientCore& c) { return code_of(c.subscribe("a", 3)); }},
        {"subscribe filter with quote", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.subscribe("a\"", 1)); }},
        {"unsubscribe empty", Error::topic_empty,
         [=](ClientCore& c) { return code_of(c.unsubscribe("")); }},
        {"subscribe_many none", Error::no_topics,
         [=](ClientCore& c) { return code_of(c.subscribe_many(1, nullptr, nullptr, 0)); }},
        {"subscribe_many msgID 0", Error::msg_id_out_of_range,
         [=](ClientCore& c) {
             std::string_view f[] = {"a"};
             std::uint8_t q[] = {0};
             return code_of(c.subscribe_many(0, f, q, 1));
         }},
        {"subscribe_many too many", Error::too_many_topics,
         [=](ClientCore& c) {
             std::string_view f[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
             std::uint8_t q[8] = {};
             return code_of(c.subscribe_many(1, f, q, 8));
         }},
        {"unsubscribe_many msgID 0", Error::msg_id_out_of_range,
         [=](ClientCore& c) {
             std::string_view f[] = {"a"};
             return code_of(c.unsubscribe_many(0, f, 1));
         }},
        // open / connect
        {"open empty host", Error::host_empty,
         [=](ClientCore& c) { return code_of(c.open("", 1883)); }},
        {"open host 101 B", Error::host_too_long,
         [=](ClientCore& c) { return code_of(c.open(k101, 1883)); }},
        {"open host with quote", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.open("h\"", 1883)); }},
        {"connect empty client id", Error::client_id_empty,
         [=](ClientCore& c) { return code_of(c.connect("")); }},
        {"connect password only", Error::password_without_username,
         [=](ClientCore& c) { return code_of(c.connect("c", "", "pw")); }},
        {"connect password with CR", Error::forbidden_char,
         [=](ClientCore& c) { return code_of(c.connect("c", "u", "p\r")); }},
        // configuration commands
        {"version 5", Error::version_out_of_range,
         [=](ClientCore& c) { return code_of(c.set_version(5)); }},
        {"keepalive 3601", Error::keepalive_out_of_range,
         [=](ClientCore& c) { return code_of(c.set_keepalive(3601)); }},
        {"pkt_timeout 0", Error::pkt_timeout_out_of_range,
         [=](ClientCore& c) { return code_of(c.set_timeout(0, 3, false)); }},
        {"pkt_timeout 61", Error::pkt_timeout_out_of_range,
         [=](ClientCore& c) { return code_of(c.set_timeout(61, 3, false)); }},
        {"retry 11", Error::retry_times_out_of_range,
         [=](ClientCore& c) { return code_of(c.set_timeout(10, 11, false)); }},
        {"will empty topic", Error::will_topic_empty,
         [=](ClientCore& c) {
             Will w{0, false, "", "m"};
             return code_of(c.set_will(&w));
         }},
        {"will topic 256 B", Error::will_topic_too_long,
         [=](ClientCore& c) {
             Will w{0, false, k256, "m"};
             return code_of(c.set_will(&w));
         }},
        {"will message 256 B", Error::will_message_too_long,
         [=](ClientCore& c) {
             Will w{0, false, "t", kWill256};
             return code_of(c.set_will(&w));
         }},
        {"will qos 3", Error::qos_out_of_range,
         [=](ClientCore& c) {
             Will w{3, false, "t", "m"};
             return code_of(c.set_will(&w));
         }},
        {"will topic wildcard", Error::topic_has_wildcard,
         [=](ClientCore& c) {
             Will w{0, false, "t/#", "m"};
             return code_of(c.set_will(&w));
         }},
        {"will message with LF", Error::forbidden_char,
         [=](ClientCore& c) {
             Will w{0, false, "t", "a\nb"};
             return code_of(c.set_will(&w));
         }},
        {"aliauth empty secret", Error::field_empty,
         [=](ClientCore& c) {
             return code_of(c.set_aliauth({"pk", "dn", ""}));
         }},
        {"aliauth secret with quote", Error::forbidden_char,
         [=](ClientCore& c) {
             return code_of(c.set_aliauth({"pk", "dn", "s\"x"}));
         }},
        {"tenauth expire 0", Error::expire_out_of_range,
         [=](ClientCore& c) {
             return code_of(c.tenauth({"p", "d", "s", 0, {}}));
         }},
        {"tenauth expire 61", Error::expire_out_of_range,
         [=](ClientCore& c) {
             return code_of(c.tenauth({"p", "d", "s", 61, {}}));
         }},
        {"tenauth empty product", Error::field_empty,
         [=](ClientCore& c) {
             return code_of(c.tenauth({"", "d", "s", 30, {}}));
         }},
        {"tenauth url with quote", Error::forbidden_char,
         [=](ClientCore& c) {
             return code_of(c.tenauth({"p", "d", "s", 30, "http://x\""}));
         }},
        {"query unknown item", Error::field_empty,
         [=](ClientCore& c) { return code_of(c.query_cfg("nonsense")); }},
        // the supervisor's session
        {"session empty host", Error::host_empty,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.host = ""; }); }},
        {"session host 101 B", Error::host_too_long,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.host = k101; }); }},
        {"session empty client id", Error::client_id_empty,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.client_id = ""; }); }},
        {"session version 2", Error::version_out_of_range,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) { s.settings.version = 2; });
         }},
        {"session keepalive 4000", Error::keepalive_out_of_range,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) { s.settings.keepalive_s = 4000; });
         }},
        {"session pkt_timeout 0", Error::pkt_timeout_out_of_range,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) { s.settings.pkt_timeout_s = 0; });
         }},
        {"session retry 11", Error::retry_times_out_of_range,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) { s.settings.retry_times = 11; });
         }},
        {"session password only", Error::password_without_username,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.password = "p"; }); }},
        {"session will without topic", Error::will_topic_empty,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.has_will = true; }); }},
        {"session client id with NUL", Error::forbidden_char,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.client_id = kNul; }); }},
        {"session username too long", Error::field_too_long,
         [=](ClientCore& c) { return configure_with(c, [](Session& s) { s.username = k300; }); }},
        {"session aliauth incomplete", Error::field_empty,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) {
                 s.use_aliauth = true;
                 s.aliauth = {"pk", "", "ds"};
             });
         }},
        {"session tenauth expire 99", Error::expire_out_of_range,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) {
                 s.use_tenauth = true;
                 s.tenauth = {"p", "d", "s", 99, {}};
             });
         }},
        {"start before configure", Error::not_running,
         [=](ClientCore& c) { return code_of(c.start(0)); }},
    };
}

TEST(ClientValidation, EveryBadInputIsRefusedBeforeAnyByteIsWritten) {
    const auto cases = catalogue();
    ASSERT_GE(cases.size(), 40u);
    for (const Case& k : cases) {
        test::CaptureWriter wire;
        Quiet quiet;
        Client<> client(wire, quiet);
        const Error got = k.call(client);
        EXPECT_EQ(got, k.expected) << k.name << ": got \"" << to_string(got) << "\"";
        EXPECT_EQ(wire.out, "") << k.name << " wrote to the module";
        EXPECT_EQ(client.outbox(), 0u) << k.name;
    }
}

TEST(ClientValidation, LimitsThemselvesAreAccepted) {
    test::CaptureWriter wire;
    Quiet quiet;
    Client<> client(wire, quiet);
    const std::string topic(255, 't');
    const std::string payload(1024, 'p');
    EXPECT_TRUE(client.publish(topic, ByteView(payload), {2, true}));
    EXPECT_TRUE(client.subscribe("a/+/b/#", 2));
    EXPECT_TRUE(client.set_keepalive(3600));
    EXPECT_TRUE(client.set_keepalive(0));
    EXPECT_TRUE(client.set_timeout(60, 10, true));
    EXPECT_TRUE(client.set_timeout(1, 0, false));
    const std::string will_message(255, 'w');
    Will w{2, true, topic, will_message};
    EXPECT_TRUE(client.set_will(&w));
    EXPECT_TRUE(client.open(std::string(100, 'h'), 65535));
    EXPECT_TRUE(client.tenauth({"p", "d", "s", 60, {}}));
}

TEST(ClientValidation, FullOutboxIsQueueFullNotALoss) {
    test::CaptureWriter wire;
    Quiet quiet;
    Client<> client(wire, quiet);
    // The outbox is a byte pool: it holds as many messages as their bytes allow.
    const std::string payload(100, 'p');
    const std::size_t fits =
        ClientConfig::outbox_bytes / detail::OutboxPool::record_size(1, payload.size());
    for (std::size_t i = 0; i < fits; ++i) {
        ASSERT_TRUE(client.publish("t", ByteView(payload))) << i;
    }
    auto r = client.publish("t", ByteView(payload));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::queue_full);
    EXPECT_EQ(client.outbox(), fits);
}

}  // namespace
