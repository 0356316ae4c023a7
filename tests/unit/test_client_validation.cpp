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
const std::string kLatin1("caf\xE9");           // ISO 8859-1, not UTF-8
const std::string kSurrogate("a\xED\xA0\x80");  // U+D800 encoded
const std::string kOverlong("\xC0\xAF");        // '/' in two bytes

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
        // MQTT strings must be UTF-8 (a broker would drop the connection)
        {"publish topic Latin-1", Error::not_utf8,
         [=](ClientCore& c) { return code_of(c.publish(kLatin1, bv("p"))); }},
        {"publish topic overlong", Error::not_utf8,
         [=](ClientCore& c) { return code_of(c.publish(kOverlong, bv("p"))); }},
        {"subscribe filter surrogate", Error::not_utf8,
         [=](ClientCore& c) { return code_of(c.subscribe(kSurrogate, 1)); }},
        {"unsubscribe filter Latin-1", Error::not_utf8,
         [=](ClientCore& c) { return code_of(c.unsubscribe(kLatin1)); }},
        {"connect client id Latin-1", Error::not_utf8,
         [=](ClientCore& c) { return code_of(c.connect(kLatin1)); }},
        {"connect username surrogate", Error::not_utf8,
         [=](ClientCore& c) { return code_of(c.connect("c", kSurrogate, "pw")); }},
        {"will topic Latin-1", Error::not_utf8,
         [=](ClientCore& c) {
             Will w{0, false, kLatin1, "bye"};
             return code_of(c.set_will(&w));
         }},
        {"session client id Latin-1", Error::not_utf8,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) { s.client_id = kLatin1; });
         }},
        {"session username overlong", Error::not_utf8,
         [=](ClientCore& c) {
             return configure_with(c, [](Session& s) { s.username = kOverlong; });
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
    // UTF-8 of every length, and a password that is not text at all (MQTT binary data).
    EXPECT_TRUE(client.publish("温度/\xF0\x9F\x8C\xA1/é", ByteView(payload)));
    EXPECT_TRUE(client.subscribe("设备/+", 1));
    Client<> fresh(wire, quiet);  // the first client's command queue is full by now
    const auto r = fresh.connect("客户端", "用户", "\xFF\xFE");
    EXPECT_TRUE(r) << to_string(r.error().code);
}

TEST(ClientValidation, Utf8ErrorNamesTheFirstBadByte) {
    using at::utf8_error_at;
    constexpr auto npos = std::string_view::npos;
    static_assert(utf8_error_at("plain/ascii") == npos);
    static_assert(utf8_error_at("ab\xC3") == 2);  // cut short
    EXPECT_EQ(utf8_error_at(""), npos);
    EXPECT_EQ(utf8_error_at("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"), npos);
    EXPECT_EQ(utf8_error_at("ok\x80"), 2u);                    // a lone continuation byte
    EXPECT_EQ(utf8_error_at("\xC1\xBF"), 0u);                  // overlong, 2 bytes
    EXPECT_EQ(utf8_error_at("x\xE0\x9F\xBF"), 1u);             // overlong, 3 bytes
    EXPECT_EQ(utf8_error_at("xy\xF0\x8F\xBF\xBF"), 2u);        // overlong, 4 bytes
    EXPECT_EQ(utf8_error_at("\xED\x9F\xBF\xED\xA0\x80"), 3u);  // U+D7FF fine, U+D800 not
    EXPECT_EQ(utf8_error_at("\xF4\x90\x80\x80"), 0u);          // above U+10FFFF
    EXPECT_EQ(utf8_error_at("\xF5\x80\x80\x80"), 0u);
    EXPECT_EQ(utf8_error_at("\xE4\xB8x"), 0u);  // a continuation missing
    EXPECT_EQ(utf8_error_at("a\xFF"), 1u);
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
