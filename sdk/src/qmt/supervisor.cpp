#include "qmtkit/qmt/supervisor.hpp"

#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/outbox.hpp"
#include "qmtkit/qmt/replies.hpp"
#include "qmtkit/qmt/subscriptions.hpp"
#include "supervisor_script.hpp"

namespace qmtkit::qmt::detail {
namespace {
constexpr std::uint8_t kSyncTries = 5;     // AT probes before backing off
constexpr std::uint8_t kAttachTries = 60;  // AT+CGATT? polls, one a second
constexpr Millis kStepPause = 1000;        // between AT / AT+CGATT? probes
constexpr Millis kQueueRetry = 50;         // the engine's queue was full (the application's doing)

bool before(Step a, Step b) {
    return static_cast<std::uint8_t>(a) < static_cast<std::uint8_t>(b);
}
}  // namespace

void Supervisor::set_backoff(const Backoff& b) {
    backoff_ = b;
    rng_ = b.seed != 0 ? b.seed : 0x9E3779B9u;
}

void Supervisor::start() {
    stopping_ = false;
    attempt_ = 0;
    go(Step::sync);
}

void Supervisor::stop() {
    if (state_ == LinkState::stopped) return;
    stopping_ = true;
    if (step_seq_ != 0) {
        ctx_.engine.abandon(step_seq_);
        step_seq_ = 0;
    }
    go(session_up() ? Step::disconnect : Step::close);
}

void Supervisor::transport_reset() {
    // Whatever was written went into a port that is no more: every command ends aborted, QoS >= 1
    // publishes go back to the outbox, subscriptions will be redone.
    abort_quietly();
    link_lost();
    tenauth_probed_ = false;  // the module behind the new port may be another one
    if (state_ == LinkState::stopped) return;
    if (stopping_) return go(Step::stopped);
    // From AT at the next poll(): nothing is written before the caller's I/O is back.
    attempt_ = 0;
    set_state(LinkState::syncing);
    wait_then(Step::sync, 0);
}

void Supervisor::poll() {
    if (wake_at_ == kNever || ctx_.now < wake_at_) return;
    wake_at_ = kNever;
    if (state_ == LinkState::stopped) return;
    step_ = resume_;  // tries are kept: a step resumed after a pause counts on
    issue();
}

void Supervisor::check_link() {
    if (!session_up() || step_seq_ != 0) return;
    checked_from_ = step_;  // online, or restoring subscriptions (publishing goes on there too)
    step_ = Step::check;
    issue();
}

void Supervisor::subscriptions_settled() {
    if (step_ == Step::subscribe) go(Step::online);
}

// ---------------------------------------------------------------- running the script

void Supervisor::go(Step s) {
    step_ = s;
    tries_ = 0;
    issue();
}

void Supervisor::issue() {
    const StepSpec& row = spec_of(step_);
    wake_at_ = kNever;
    if (((row.flags & kSkipNoAliauth) && !session_.use_aliauth()) ||
        ((row.flags & kSkipNoTenauth) && !session_.use_tenauth()))
        return go(row.skip_to);
    if (!(row.flags & kKeepsState)) set_state(row.state);
    if (row.rule == Rule::spelling && tenauth_probed_) return go(row.on_ok);  // known already
    if (row.command == nullptr) {
        if (row.rule == Rule::subscribe) return enter_subscribe();
        if (row.rule == Rule::online) return enter_online();
        return enter_stopped();
    }
    if (row.rule == Rule::check) ++ctx_.stats.link_checks;
    info_ = -1;
    const at::CommandSpec& command =
        tenauth_alt_ && (row.flags & kAltSpelling) ? other_spelling(*row.command) : *row.command;
    const at::Timeouts t{0, row.rule == Rule::packet_wait ? ctx_.packet_wait() : 0};
    auto r = ctx_.engine.submit_with(command, this, static_cast<std::uint32_t>(step_), t,
                                     [&](at::ArgWriter& w) {
                                         if (row.args != nullptr) row.args(session_, w);
                                     });
    if (!r) return wait_then(step_, kQueueRetry);
    step_seq_ = *r;
}

void Supervisor::wait_then(Step s, Millis delay) {
    resume_ = s;
    wake_at_ = ctx_.now + delay;
}

void Supervisor::back_off(Step resume) {
    // Exponential, capped, with jitter from a seeded xorshift so runs are reproducible. All in
    // 32 bits (no 64-bit multiply or division on a 32-bit MCU): doubling stops at the cap, and
    // d * j / 100 is (d / 100) * j + (d % 100) * j / 100, exact for j <= 100.
    const Millis cap = backoff_.max;
    Millis d = backoff_.initial;
    for (std::uint8_t i = 0; i < attempt_ && d < cap; ++i) d = d > cap / 2 ? cap : d * 2u;
    if (d > cap) d = cap;
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    const std::uint32_t j = backoff_.jitter_percent < 100 ? backoff_.jitter_percent : 100u;
    const std::uint32_t spread = (d / 100u) * j + (d % 100u) * j / 100u;
    if (spread > 0) {
        // 2 * spread + 1 values; past 32 bits, any rng_ is in range.
        const std::uint32_t jitter = spread >= 0x80000000u ? rng_ : rng_ % (2u * spread + 1u);
        d = d - spread + jitter;  // modulo 2^32, as the wait was always cut to 32 bits
    }
    if (attempt_ < 30) ++attempt_;
    set_state(LinkState::backing_off);
    step_seq_ = 0;
    wait_then(resume, static_cast<Millis>(d));
}

void Supervisor::succeeded() {
    const StepSpec& row = spec_of(step_);
    switch (row.rule) {
        case Rule::settings:
            ctx_.applied = session_.settings();  // result waits follow it from now
            break;
        case Rule::poll:
            if (info_ == 1) break;
            if (++tries_ >= kAttachTries) return back_off(Step::sync);
            return wait_then(step_, kStepPause);
        case Rule::spelling:
            tenauth_probed_ = true;
            break;
        case Rule::check:
            if (info_ == static_cast<std::int32_t>(ConnState::connected)) {
                // The module answers and is connected: carry on where the check began.
                step_ = checked_from_;
                ctx_.subscriptions->pump();
                if (step_ == Step::subscribe && ctx_.subscriptions->settled())
                    return go(Step::online);
                return ctx_.outbox->pump();
            }
            // Gone without a word (the network detached silently): recover as after a
            // +QMTSTAT, from the attach check on; the outbox is kept.
            ++ctx_.stats.silent_drops;
            ctx_.listener.on_bringup_error(state_, client_error(Error::link_down, info_));
            link_lost();
            return back_off(Step::attach);
        default:
            break;
    }
    go(row.on_ok);
}

void Supervisor::failed(const ClientError& e) {
    const StepSpec& row = spec_of(step_);
    if (row.rule == Rule::close_first && e.code == Error::close_failed) {
        // "+QMTCLOSE: 0,-1": there was no network to close (a refused CONNECT closes it
        // itself). Not a problem of its own: open at once, and keep the real cause reported.
        return go(row.on_ok);
    }
    ctx_.listener.on_bringup_error(state_, e);
    if (stopping_ && (step_ == Step::disconnect || step_ == Step::close)) {
        // Already down, or the module has no session: stopping is done either way.
        return go(row.on_ok);
    }
    switch (row.rule) {
        case Rule::probe:
            if (++tries_ < kSyncTries) return wait_then(step_, kStepPause / 2);
            break;
        case Rule::spelling:
            if (e.code == Error::timeout) break;
            // The module does not know this spelling: the note's other one it is.
            tenauth_probed_ = true;
            tenauth_alt_ = !tenauth_alt_;
            return go(row.on_ok);
        case Rule::open:
            if (e.code == Error::open_failed &&
                e.value == static_cast<std::int32_t>(OpenResult::identifier_occupied)) {
                return go(Step::close_first);  // a session is still open on the module
            }
            if (e.code == Error::timeout) return back_off(Step::sync);
            break;
        case Rule::check:
            // The module does not answer: treat the link as lost and start over.
            link_lost();
            break;
        default:
            break;
    }
    back_off(row.on_error);
}

void Supervisor::link_lost() {
    if (step_seq_ != 0) {
        ctx_.engine.abandon(step_seq_);
        step_seq_ = 0;
    }
    ctx_.outbox->link_lost();
    ctx_.subscriptions->link_lost();
}

void Supervisor::abort_quietly() {
    quiet_ = true;
    step_seq_ = 0;
    ctx_.engine.abort_all();
    quiet_ = false;
}

void Supervisor::set_state(LinkState s) {
    if (state_ == s) return;
    state_ = s;
    ctx_.listener.on_link(s);
}

void Supervisor::enter_subscribe() {
    ++ctx_.stats.sessions;  // CONNECT accepted: publishing starts now, subscriptions or not
    ctx_.subscriptions->resubscribe_all();
    ctx_.subscriptions->pump();
    if (ctx_.subscriptions->settled()) return go(Step::online);
    ctx_.outbox->pump();  // behind the SUB commands: the first publish costs no extra round trip
}

void Supervisor::enter_online() {
    attempt_ = 0;
    ctx_.outbox->pump();
}

void Supervisor::enter_stopped() {
    stopping_ = false;
}

// ---------------------------------------------------------------- the engine's reports

void Supervisor::on_info(const at::CommandRef& r, std::string_view line) {
    const StepSpec& row = spec_of(static_cast<Step>(r.tag));
    std::int32_t v = -1;
    if (read_info(row.rule, line, v)) info_ = v;
}

void Supervisor::on_final(const at::CommandRef& r, const at::Outcome& o) {
    if (quiet_ || r.seq != step_seq_) return;
    if (!o) {
        step_seq_ = 0;
        return failed(to_client_error(o.error()));
    }
    if (!r.spec->two_phase()) {
        step_seq_ = 0;
        succeeded();
    }
}

at::ResultVerdict Supervisor::on_result(const at::CommandRef& r, std::string_view line) {
    const StepSpec& row = spec_of(static_cast<Step>(r.tag));
    const StepResult res = decode_result(row.reply, line);
    if (res.verdict != at::ResultVerdict::done || r.seq != step_seq_) return res.verdict;
    step_seq_ = 0;
    if (res.outcome && !(QMTKIT_TENAUTH && res.has_token)) {
        succeeded();
    } else if (res.outcome) {
        if (session_.set_token(res.token))
            succeeded();
        else
            failed(client_error(Error::malformed_reply));
    } else {
        failed(res.outcome.error());
    }
    return res.verdict;
}

void Supervisor::on_result_error(const at::CommandRef& r, const at::AtError& e) {
    if (quiet_ || r.seq != step_seq_) return;
    step_seq_ = 0;
    failed(to_client_error(e));
}

void Supervisor::on_stat(std::string_view line) {
    const StatUrc stat = decode_stat(line);
    if (!stat.ok) return;
    ++ctx_.stats.stats;
    ctx_.listener.on_stat(stat.code);
    if (state_ == LinkState::stopped) return;
    if (stopping_) {
        link_lost();
        return go(Step::close);
    }
    if (state_ == LinkState::backing_off || before(step_, Step::open)) return;  // not up yet
    link_lost();
    const StatAction a = recommended_action(stat.code);
    const bool check_attach =
        a == StatAction::reactivate_pdp_and_reopen || a == StatAction::wait_for_link;
    back_off(check_attach ? Step::attach : Step::open);
}

void Supervisor::on_reboot(std::string_view) {
    ++ctx_.stats.reboots;
    // Every setting is gone (the note: not kept across power loss) and so is every command.
    abort_quietly();
    link_lost();
    tenauth_probed_ = false;
    if (state_ == LinkState::stopped) return;
    if (stopping_) return go(Step::stopped);
    set_state(LinkState::syncing);
    wait_then(Step::sync, kStepPause);
}

}  // namespace qmtkit::qmt::detail
