// What the example firmware does with the client, apart from the board: subscribe to
// qmtkit/example/<device>/cmd, publish n=1 .. n=20 at QoS 1 to qmtkit/example/<device>/telemetry
// as the outbox takes them, and count each one acknowledged once and whether `stop` came.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/qmt/client.hpp"

namespace qmtkit::example {

class ExampleApp final : public qmt::Listener {
  public:
    static constexpr std::uint32_t kMessages = 20;

    explicit ExampleApp(qmt::ClientCore& client) : client_(client) {}

    // Composes the topics and registers the subscription (sent at bring-up). False when the
    // device name does not fit a topic or the client refused the filter: fault() says which.
    bool begin(std::string_view device_name);
    // Queues the next readings while the outbox has room; call every superloop turn.
    void step();

    bool done() const { return acked_ == kMessages && stop_seen_; }
    std::string_view fault() const { return fault_; }  // empty: nothing went wrong
    std::uint32_t queued() const { return next_ - 1; }
    std::uint32_t acknowledged() const { return acked_; }
    bool stop_seen() const { return stop_seen_; }
    std::uint32_t bringup_errors() const { return bringup_errors_; }
    qmt::LinkState link() const { return link_; }

    // ---- qmt::Listener
    void on_link(qmt::LinkState s) override { link_ = s; }
    void on_bringup_error(qmt::LinkState, const qmt::ClientError&) override { ++bringup_errors_; }
    void on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) override;
    void on_subscribed(std::uint32_t, const qmt::Result<qmt::SubscribeReport>& r) override;
    void on_message(const qmt::Message& m) override;

  private:
    static bool compose(char* out, std::size_t cap, std::string_view device, std::string_view leaf);

    qmt::ClientCore& client_;
    char telemetry_[64] = {};
    char cmd_[64] = {};
    std::uint32_t tickets_[kMessages] = {};  // the outbox's ticket of n = i + 1
    bool acked_n_[kMessages] = {};
    std::uint32_t next_ = 1;  // the next n to queue
    std::uint32_t acked_ = 0;
    std::uint32_t bringup_errors_ = 0;
    std::string_view fault_;
    qmt::LinkState link_ = qmt::LinkState::stopped;
    bool stop_seen_ = false;
};

}  // namespace qmtkit::example
