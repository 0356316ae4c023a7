// Subscriptions and dispatch: the registered filters (kept across reconnects, their text in one
// pool), their AT+QMTSUB / AT+QMTUNS, and the +QMTRECV messages routed to the matching handlers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/context.hpp"

namespace qmtkit::qmt::detail {

struct Subscription {
    enum class State : std::uint8_t { free, pending, sending, active, refused };
    State state;
    std::uint8_t qos;
    std::uint16_t msg_id;
    std::uint16_t filter_at;  // in the filter pool
    std::uint16_t filter_len;
    std::uint32_t ticket;
    std::uint32_t engine_seq;
    MessageHandler handler;
};

class Subscriptions final : public at::CommandHandler {
  public:
    Subscriptions(Context& ctx, Subscription* table, std::size_t count, char* filters,
                  std::size_t filter_bytes);

    Result<std::uint32_t> subscribe(std::string_view filter, std::uint8_t qos, MessageHandler h);
    Result<std::uint32_t> unsubscribe(std::string_view filter);
    // Bring-up: every registered filter is subscribed again.
    void resubscribe_all();
    void pump();
    // Every registered filter has its answer (none pending or on the wire).
    bool settled() const;
    void link_lost();
    bool uses_msg_id(std::uint16_t id) const;
    void set_quoting(PayloadQuoting q) { quoting_ = q; }

    // The engine's claim of +QMTRECV.
    at::Claim on_recv(ByteView buffered, at::ClaimPhase phase);
    void on_recv_overflow(ByteView head, std::size_t total);

  private:
    void on_final(const at::CommandRef& r, const at::Outcome& o) override;
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override;
    void on_result_error(const at::CommandRef& r, const at::AtError& e) override;

    // AT+QMTUNS completions: the ticket is the tag.
    struct Unsubscribes final : at::CommandHandler {
        explicit Unsubscribes(Context& c) : ctx(c) {}
        void on_final(const at::CommandRef& r, const at::Outcome& o) override;
        at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override;
        void on_result_error(const at::CommandRef& r, const at::AtError& e) override;
        Context& ctx;
    };

    std::string_view filter(const Subscription& s) const {
        return std::string_view(filters_ + s.filter_at, s.filter_len);
    }
    Subscription* find(std::string_view filter);
    Subscription* find_seq(std::uint32_t seq);
    void release(Subscription& s);
    void refused(Subscription& s, const ClientError& e);
    void dispatch(const Message& m);

    Context& ctx_;
    Unsubscribes uns_;
    Subscription* table_;
    char* filters_;
    std::uint16_t count_;
    std::uint16_t filter_cap_;  // below 64 KiB (Client<> checks it)
    std::uint16_t filter_used_ = 0;
    PayloadQuoting quoting_ = PayloadQuoting::detect;
};

}  // namespace qmtkit::qmt::detail
