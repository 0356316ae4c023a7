// The supervisor: brings the link up by a script of steps (one command each, the LinkState it
// belongs to, where success and failure lead), recovers per +QMTSTAT and module restarts, backs
// off between attempts, and checks a link that may have died without a word.
#pragma once

#include <cstdint>
#include <string_view>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/context.hpp"
#include "qmtkit/qmt/session.hpp"

namespace qmtkit::qmt::detail {

// Bring-up steps, in script order (the order is also the order of the bring-up).
enum class Step : std::uint8_t {
    sync,
    echo_off,
    cmee,
    version,
    keepalive,
    session,
    timeout,
    will,
    aliauth,
    attach,
    tenauth_probe,
    tenauth,
    open,
    close_first,
    connect,
    subscribe,
    online,
    disconnect,
    close,
    stopped,
    // Online: AT+QMTCONN? after a timeout or a CME 3. It tells a lost answer from a dead module
    // and a live link from one that died without a +QMTSTAT.
    check,
};

class Supervisor final : public at::CommandHandler {
  public:
    Supervisor(Context& ctx, SessionStore& session)
        : ctx_(ctx),
          session_(session),
          stopping_(false),
          quiet_(false),
          tenauth_alt_(false),
          tenauth_probed_(false) {}

    void set_backoff(const Backoff& b);
    void start();
    void stop();
    // The serial port was reopened: what was on the wire is gone; bring-up runs again.
    void transport_reset();
    void poll();
    Instant wake_at() const { return wake_at_; }

    LinkState state() const { return state_; }
    bool online() const { return state_ == LinkState::online; }
    // Connected: online, or restoring subscriptions. Publishing need not wait for the SUBACKs:
    // the SUB commands are queued first, so the broker sees SUBSCRIBE before any PUBLISH.
    bool session_up() const {
        return state_ == LinkState::online || state_ == LinkState::subscribing;
    }
    // A link check is on the wire: publishing pauses until it has answered.
    bool checking_link() const { return step_ == Step::check && step_seq_ != 0; }
    // Something suggests the link is gone (CME 3: not connected; a timeout): ask the module.
    void check_link();
    // The subscribing step waits for this.
    void subscriptions_settled();
    bool tenauth_alt_spelling() const { return tenauth_alt_; }

    void on_stat(std::string_view line);
    void on_reboot(std::string_view line);

    // One row of the bring-up script.
    struct StepSpec;

  private:
    void on_info(const at::CommandRef& r, std::string_view line) override;
    void on_final(const at::CommandRef& r, const at::Outcome& o) override;
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override;
    void on_result_error(const at::CommandRef& r, const at::AtError& e) override;

    static const StepSpec& spec_of(Step s);
    void go(Step s);
    void issue();
    void wait_then(Step s, Millis delay);
    void back_off(Step resume);
    void succeeded();
    void failed(const ClientError& e);
    void link_lost();
    void abort_quietly();
    void set_state(LinkState s);
    // Script actions of the steps that send nothing.
    void enter_subscribe();
    void enter_online();
    void enter_stopped();

    Context& ctx_;
    SessionStore& session_;
    Backoff backoff_{};
    std::uint32_t rng_ = 0x9E3779B9u;
    Instant wake_at_ = kNever;
    std::uint32_t step_seq_ = 0;  // engine seq of the running step's command
    std::int32_t info_ = -1;      // the running step's decoded information line
    LinkState state_ = LinkState::stopped;
    Step step_ = Step::stopped;
    Step checked_from_ = Step::online;  // where a link check that finds the link up returns
    Step resume_ = Step::sync;          // where to go on at wake_at_
    std::uint8_t tries_ = 0;
    std::uint8_t attempt_ = 0;  // consecutive failed bring-ups (back-off exponent)
    bool stopping_ : 1;
    bool quiet_ : 1;        // aborting everything on purpose: no bring-up error for it
    bool tenauth_alt_ : 1;  // the module answers AT+QMTENAUTH, not AT+QMTTENAUTH
    bool tenauth_probed_ : 1;
};

}  // namespace qmtkit::qmt::detail
