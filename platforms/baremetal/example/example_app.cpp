#include "example_app.hpp"

namespace qmtkit::example {

bool ExampleApp::compose(char* out, std::size_t cap, std::string_view device,
                         std::string_view leaf) {
    constexpr std::string_view prefix = "qmtkit/example/";
    if (prefix.size() + device.size() + leaf.size() >= cap) return false;
    std::size_t n = 0;
    for (std::string_view part : {prefix, device, leaf})
        for (char c : part) out[n++] = c;
    out[n] = '\0';
    return true;
}

bool ExampleApp::begin(std::string_view device_name) {
    if (!compose(telemetry_, sizeof telemetry_, device_name, "/telemetry") ||
        !compose(cmd_, sizeof cmd_, device_name, "/cmd")) {
        fault_ = "the device name is too long for the example's topics";
        return false;
    }
    if (!client_.subscribe(cmd_, 1)) {
        fault_ = "the client refused the cmd subscription";
        return false;
    }
    return true;
}

void ExampleApp::step() {
    while (next_ <= kMessages && fault_.empty()) {
        char payload[8] = {'n', '='};
        std::size_t len = 2;
        if (next_ >= 10) payload[len++] = static_cast<char>('0' + next_ / 10);
        payload[len++] = static_cast<char>('0' + next_ % 10);
        const auto t =
            client_.publish(telemetry_, ByteView(std::string_view(payload, len)), {/*qos=*/1});
        if (!t) {
            // A full outbox is the normal case: acknowledgements make room, try next turn.
            if (t.error().code != qmt::Error::queue_full) fault_ = "publish() refused a reading";
            return;
        }
        tickets_[next_ - 1] = *t;
        ++next_;
    }
}

void ExampleApp::on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) {
    for (std::uint32_t i = 0; i + 1 < next_; ++i) {
        if (tickets_[i] != ticket) continue;
        if (!r) {
            fault_ = "a QoS 1 reading was reported failed";
        } else if (!acked_n_[i]) {
            acked_n_[i] = true;
            ++acked_;
        }
        return;
    }
}

void ExampleApp::on_subscribed(std::uint32_t, const qmt::Result<qmt::SubscribeReport>& r) {
    if (!r) fault_ = "the cmd subscription was refused";
}

void ExampleApp::on_message(const qmt::Message& m) {
    const std::string_view payload = m.payload.as_text();
    if (m.topic == std::string_view(cmd_) && payload == "stop") stop_seen_ = true;
}

}  // namespace qmtkit::example
