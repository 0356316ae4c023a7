#include "qmtkit/host/runner.hpp"

#include <algorithm>

#include "qmtkit/qmt/client.hpp"

namespace qmtkit::host {

namespace {
// Deadlines further out than this are "never" (and would overflow a time_point).
constexpr Instant kFarFuture = 10ull * 365 * 24 * 3600 * 1000;
}  // namespace

Instant Runner::now() {
    return static_cast<Instant>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count());
}

Runner::Runner(std::shared_ptr<Transport> transport, at::EngineCore& engine)
    : transport_(std::move(transport)),
      executor_(transport_->executor()),
      timer_(executor_),
      port_timer_(executor_),
      engine_(&engine) {}

Runner::Runner(std::shared_ptr<Transport> transport, qmt::ClientCore& client)
    : transport_(std::move(transport)),
      executor_(transport_->executor()),
      timer_(executor_),
      port_timer_(executor_),
      engine_(&client.engine()),
      client_(&client) {}

Runner::~Runner() {
    *alive_ = false;
    alive_.reset();
    stop();
    if (trace_) engine_->set_trace({});
}

void Runner::start() {
    if (started_) return;
    started_ = true;
    if (transport_->byte_time_us() != 0) engine_->set_byte_time_us(transport_->byte_time_us());
    attach();
    service();
    arm_port_timer();
}

void Runner::attach() {
    transport_->set_drain_handler([this] { service(); });
    transport_->start([this](const std::uint8_t* d, std::size_t n) { on_receive(d, n); },
                      [this](std::error_code ec) { on_transport_error(ec); });
}

void Runner::stop() {
    if (stopped_) return;
    stopped_ = true;
    ++gen_;
    armed_ = false;
    timer_.cancel();
    ++port_gen_;
    port_timer_.cancel();
    transport_->close();  // cancels a reopen under way too
}

void Runner::set_reopen(const ReopenPolicy& policy) {
    reopen_ = policy;
    if (reopen_.interval.count() < 1) reopen_.interval = std::chrono::milliseconds(1);
    if (reopen_.give_up.count() < 0) reopen_.give_up = std::chrono::milliseconds(0);
    reopen_on_ = true;
    if (started_ && !stopped_ && !down_) arm_port_timer();
}

void Runner::notify(PortEvent e, std::error_code ec) {
    if (on_port_) on_port_(e, ec);
}

// ---------------------------------------------------------------- a device that goes away

void Runner::port_lost(std::error_code ec) {
    transport_->close();  // already closed after an I/O failure; not after a failed check
    down_ = true;
    gave_up_ = false;
    lost_at_ = Clock::now();
    lost_ec_ = ec;
    reopen_ec_ = {};
    ++losses_;
    // The core is frozen while its module is away: no timer, no polls (touch / service / rearm
    // do nothing while down_), so its bring-up does not churn through timeouts into a dead port.
    ++gen_;
    armed_ = false;
    timer_.cancel();
    // Everything on the wire is gone: QoS >= 1 publishes back to the outbox, the link off line
    // (transport_reset(): bring-up waits for the next poll, and there is none while down).
    ++depth_;
    if (client_ != nullptr)
        client_->transport_reset(now());
    else
        engine_->abort_all();
    --depth_;
    notify(PortEvent::lost, ec);
    if (!stopped_) arm_port_timer();
}

void Runner::arm_port_timer() {
    if (!reopen_on_ || stopped_ || !started_) return;
    if (!down_ && !transport_->reopenable()) return;  // nothing to check, nothing to reopen
    auto at = Clock::now() + reopen_.interval;
    if (down_) at = std::min(at, lost_at_ + reopen_.give_up);
    if (attempting_) at = lost_at_ + reopen_.give_up;  // a connect under way: only the limit
    const std::uint64_t g = ++port_gen_;
    port_timer_.expires_at(at);
    port_timer_.async_wait([this, g, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
        if (ec == asio::error::operation_aborted) return;
        if (!alive.lock()) return;
        if (g != port_gen_ || stopped_) return;
        on_port_timer();
    });
}

void Runner::on_port_timer() {
    if (down_ && attempting_) return give_up();  // a connect that outlasted the limit
    if (!down_) {
        // The open device's node: gone (ENOENT) or another device now (a USB modem that
        // re-enumerated, a symlink made again elsewhere)? The descriptor may still work — a
        // pty's does — but it is not the device the name gives any more.
        if (const std::error_code ec = transport_->check_present()) return port_lost(ec);
        return arm_port_timer();
    }
    try_reopen();
}

void Runner::try_reopen() {
    ++reopen_attempts_;
    attempting_ = true;
    transport_->reopen([this, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
        if (!alive.lock() || stopped_ || !down_) return;
        attempting_ = false;
        if (!ec) return port_back();
        reopen_ec_ = ec;
        if (Clock::now() >= lost_at_ + reopen_.give_up) return give_up();
        arm_port_timer();
    });
    // A serial device answered at once; a TCP connect is under way: bound it by the limit.
    if (attempting_) arm_port_timer();
}

void Runner::give_up() {
    gave_up_ = true;
    stop();
    if (on_error_) on_error_(lost_ec_);
}

void Runner::port_back() {
    down_ = false;
    ++reopens_;
    attach();
    const Instant t = now();
    ++depth_;
    // Whatever was submitted while the device was away went nowhere; then the engine's clock is
    // brought up to date (commands submitted next count from now) and bring-up starts over, as
    // after a module reboot: a module behind a re-enumerated port may be a fresh one.
    if (client_ == nullptr) engine_->abort_all();
    engine_->poll(t);
    if (client_ != nullptr) client_->transport_reset(t);
    --depth_;
    notify(PortEvent::reopened, {});
    if (stopped_) return;
    service();
    arm_port_timer();
}

namespace {
std::string format_duration(Runner::Clock::duration d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    std::string s = std::to_string(ms / 1000);
    if (ms % 1000 >= 100 && ms < 100'000) s += "." + std::to_string((ms % 1000) / 100);
    return s + " s";
}
}  // namespace

std::string describe_port_error(std::error_code ec) {
    if (ec == asio::error::eof) return "closed by the other end";
    if (ec == std::errc::no_such_device) return "the name gives another device now";
    return ec.message();
}

std::string Runner::port_situation() const {
    if (!down_) return {};
    std::string s = transport_->description() + ": went away";
    if (gave_up_) {
        s += " (" + describe_port_error(lost_ec_) + ") and did not come back within " +
             format_duration(reopen_.give_up);
    } else {
        s += " " + format_duration(Clock::now() - lost_at_) + " ago (" +
             describe_port_error(lost_ec_) + ") and is not back";
    }
    // (Asio's and the standard library's categories differ for one errno: compare the words.)
    if (reopen_ec_ && reopen_ec_.message() != lost_ec_.message())
        s += " (opening it: " + reopen_ec_.message() + ")";
    return s;
}

void Runner::set_trace(TraceFn fn) {
    trace_ = std::move(fn);
    if (trace_)
        engine_->set_trace(at::TraceHook::bind<&Runner::on_trace>(this));
    else
        engine_->set_trace({});
}

void Runner::on_trace(at::TraceKind kind, std::string_view text) {
    if (trace_) trace_(kind, text);
}

void Runner::on_receive(const std::uint8_t* data, std::size_t n) {
    const Instant t = now();
    do_feed(data, n, t);
    if (on_tap_) on_tap_(data, n);
    if (!stopped_ && !down_) rearm(t);
}

void Runner::on_transport_error(std::error_code ec) {
    if (reopen_on_ && transport_->reopenable() && !stopped_) return port_lost(ec);
    stop();
    if (on_error_) on_error_(ec);
}

void Runner::do_feed(const std::uint8_t* d, std::size_t n, Instant t) {
    ++feeds_;
    ++depth_;
    if (client_ != nullptr)
        client_->feed(d, n, t);
    else
        engine_->feed(d, n, t);
    --depth_;
}

void Runner::do_poll(Instant t) {
    ++polls_;
    ++depth_;
    if (client_ != nullptr)
        client_->poll(t);
    else
        engine_->poll(t);
    --depth_;
}

Instant Runner::deadline() const {
    return client_ != nullptr ? client_->next_deadline() : engine_->next_deadline();
}

void Runner::touch() {
    if (depth_ > 0 || down_)
        return;  // called from inside the core's callbacks: its clock is current
    do_poll(now());
}

void Runner::service() {
    if (depth_ > 0 || stopped_ || down_) return;
    const Instant t = now();
    do_poll(t);
    rearm(t);
}

void Runner::rearm(Instant t) {
    if (depth_ > 0 || stopped_ || down_) return;
    Instant d = deadline();
    if (d <= t) {
        // Work is due already (a feed made a deadline of "now"): do it once, then never spin —
        // whatever is still due waits for the next millisecond.
        do_poll(t);
        d = deadline();
        if (d <= t) d = t + 1;
    }
    if (d >= t + kFarFuture) {  // nothing to wait for
        if (armed_) {
            armed_ = false;
            ++gen_;
            timer_.cancel();
        }
        return;
    }
    if (armed_ && armed_at_ == d) return;
    armed_ = true;
    armed_at_ = d;
    const std::uint64_t gen = ++gen_;
    timer_.expires_at(Clock::time_point(std::chrono::milliseconds(d)));
    timer_.async_wait([this, gen, alive = std::weak_ptr<bool>(alive_)](std::error_code ec) {
        if (ec == asio::error::operation_aborted) return;
        if (!alive.lock()) return;
        if (gen != gen_ || stopped_) return;  // re-armed or stopped since
        armed_ = false;
        ++wakeups_;
        service();
    });
}

}  // namespace qmtkit::host
