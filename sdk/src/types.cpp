#include "qmtkit/qmt/types.hpp"
#include "qmtkit/qmt/outbox_store.hpp"

#include "qmtkit/common/text.hpp"

namespace qmtkit::qmt {

std::string_view to_string(Error e) {
    switch (e) {
        case Error::forbidden_char:
            return "a string holds a quote, CR, LF or NUL";
        case Error::host_empty:
            return "host is empty";
        case Error::host_too_long:
            return "host is longer than 100 bytes";
        case Error::topic_empty:
            return "topic is empty";
        case Error::topic_too_long:
            return "topic is longer than 255 bytes";
        case Error::topic_has_wildcard:
            return "cannot publish to a topic with '+' or '#'";
        case Error::bad_topic_filter:
            return "malformed topic filter";
        case Error::will_topic_empty:
            return "will topic is empty";
        case Error::will_topic_too_long:
            return "will topic is longer than 255 bytes";
        case Error::will_message_too_long:
            return "will message is longer than 255 bytes";
        case Error::payload_empty:
            return "payload is empty (the fixed-length form takes 1..1024 bytes)";
        case Error::payload_too_long:
            return "payload is longer than 1024 bytes";
        case Error::payload_needs_fixed_length:
            return "payload holds 0x1A or 0x1B: needs the fixed-length form";
        case Error::keepalive_out_of_range:
            return "keepalive outside 0..3600 s";
        case Error::pkt_timeout_out_of_range:
            return "pkt_timeout outside 1..60 s";
        case Error::retry_times_out_of_range:
            return "retry_times outside 0..10";
        case Error::qos_out_of_range:
            return "QoS outside 0..2";
        case Error::msg_id_out_of_range:
            return "msgID outside 1..65535";
        case Error::version_out_of_range:
            return "MQTT version must be 3 (3.1) or 4 (3.1.1)";
        case Error::expire_out_of_range:
            return "expire outside 1..60 days";
        case Error::client_id_empty:
            return "client ID is empty";
        case Error::field_empty:
            return "a required field is empty";
        case Error::field_too_long:
            return "a field is longer than the client can hold";
        case Error::no_topics:
            return "no topics";
        case Error::too_many_topics:
            return "too many topics for one command";
        case Error::password_without_username:
            return "a password needs a username";
        case Error::not_utf8:
            return "a topic, filter, client ID or user name is not valid UTF-8";
        case Error::queue_full:
            return "queue full";
        case Error::not_running:
            return "the client is stopped";
        case Error::module_error:
            return "the module answered ERROR";
        case Error::cme:
            return "the module answered +CME ERROR";
        case Error::timeout:
            return "the module did not answer in time";
        case Error::result_timeout:
            return "the module did not report the result in time";
        case Error::aborted:
            return "aborted (module restart or link reset)";
        case Error::open_failed:
            return "opening the network failed";
        case Error::connect_failed:
            return "CONNECT could not be sent";
        case Error::connect_refused:
            return "the broker refused the connection";
        case Error::packet_failed:
            return "the packet could not be sent";
        case Error::subscription_refused:
            return "the broker refused the subscription";
        case Error::tenauth_failed:
            return "fetching the Tencent token failed";
        case Error::close_failed:
            return "closing failed";
        case Error::link_down:
            return "the module has no MQTT connection (lost without +QMTSTAT)";
        case Error::malformed_reply:
            return "the module's reply did not parse";
        case Error::store_failed:
            return "the outbox store could not journal the message";
        case Error::not_built:
            return "this build has no such bring-up (QMTKIT_ALIAUTH / QMTKIT_TENAUTH)";
    }
    return "?";
}

StatAction recommended_action(StatCode c) {
    switch (c) {
        case StatCode::closed_by_peer:
            return StatAction::reopen;
        case StatCode::ping_failed:
            return StatAction::reactivate_pdp_and_reopen;
        case StatCode::connect_failed:
        case StatCode::connack_failed:
            return StatAction::check_credentials_and_reconnect;
        case StatCode::disconnected:
            return StatAction::none;
        case StatCode::send_failed:
            return StatAction::check_data_and_reopen;
        case StatCode::link_down:
            return StatAction::wait_for_link;
    }
    return StatAction::wait_for_link;  // 8..255: reserved
}

std::string_view to_string(StatCode c) {
    switch (c) {
        case StatCode::closed_by_peer:
            return "connection closed or reset by peer";
        case StatCode::ping_failed:
            return "PINGREQ timed out or failed";
        case StatCode::connect_failed:
            return "sending CONNECT timed out or failed";
        case StatCode::connack_failed:
            return "receiving CONNACK timed out or failed";
        case StatCode::disconnected:
            return "server closed the connection after DISCONNECT";
        case StatCode::send_failed:
            return "sending kept failing; client closed the connection";
        case StatCode::link_down:
            return "link not active or server unavailable";
    }
    return "reserved";
}

std::string_view to_string(TenAuthResult r) {
    switch (r) {
        case TenAuthResult::ok:
            return "got password";
        case TenAuthResult::dns_failed:
            return "DNS failure";
        case TenAuthResult::socket_init_failed:
            return "socket init failure";
        case TenAuthResult::http_packet_error:
            return "HTTP packet error";
        case TenAuthResult::socket_send_error:
            return "socket send error";
        case TenAuthResult::http_parse_error:
            return "HTTP parse error";
        case TenAuthResult::timeout:
            return "timeout";
    }
    return "unknown";
}

std::string_view to_string(LinkState s) {
    switch (s) {
        case LinkState::stopped:
            return "stopped";
        case LinkState::syncing:
            return "syncing";
        case LinkState::configuring:
            return "configuring";
        case LinkState::attaching:
            return "attaching";
        case LinkState::authorizing:
            return "authorizing";
        case LinkState::opening:
            return "opening";
        case LinkState::connecting:
            return "connecting";
        case LinkState::subscribing:
            return "subscribing";
        case LinkState::online:
            return "online";
        case LinkState::backing_off:
            return "backing off";
        case LinkState::disconnecting:
            return "disconnecting";
    }
    return "?";
}

bool topic_matches(std::string_view filter, std::string_view topic) {
    // Topics starting with '$' are not matched by a leading wildcard (MQTT 3.1.1, 4.7.2).
    if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
        (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    // One pass over both, byte by byte (a third of the flash of splitting levels): a '+' or '#'
    // is a wildcard only as a whole level, anywhere else it is an ordinary byte.
    const std::size_t fn = filter.size(), tn = topic.size();
    std::size_t f = 0, t = 0;
    while (f < fn) {
        const char c = filter[f];
        const bool whole_level =
            (f == 0 || filter[f - 1] == '/') && (f + 1 == fn || filter[f + 1] == '/');
        if (c == '#' && whole_level) return true;  // this level and everything below
        if (c == '+' && whole_level) {
            while (t < tn && topic[t] != '/') ++t;
            ++f;
            continue;
        }
        if (t == tn || topic[t] != c) {
            // "a/#" matches "a": the filter has one more level, and it is '#'.
            return t == tn && filter.substr(f) == "/#";
        }
        ++f;
        ++t;
    }
    return t == tn;
}

std::string_view to_string(StoreError e) {
    switch (e) {
        case StoreError::full:
            return "the outbox store is full";
        case StoreError::io:
            return "the outbox store's medium failed";
        case StoreError::corrupt:
            return "an outbox store record failed its check";
    }
    return "?";
}

}  // namespace qmtkit::qmt
