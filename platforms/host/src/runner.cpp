#include "qmtkit/host/runner.hpp"

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
      engine_(&engine) {}

Runner::Runner(std::shared_ptr<Transport> transport, qmt::ClientCore& client)
    : transport_(std::move(transport)),
      executor_(transport_->executor()),
      timer_(executor_),
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
    transport_->set_drain_handler([this] { service(); });
    transport_->start([this](const std::uint8_t* d, std::size_t n) { on_receive(d, n); },
                      [this](std::error_code ec) { on_transport_error(ec); });
    service();
}

void Runner::stop() {
    if (stopped_) return;
    stopped_ = true;
    ++gen_;
    armed_ = false;
    timer_.cancel();
    transport_->close();
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
    if (!stopped_) rearm(t);
}

void Runner::on_transport_error(std::error_code ec) {
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
    if (depth_ > 0) return;  // called from inside the core's callbacks: its clock is current
    do_poll(now());
}

void Runner::service() {
    if (depth_ > 0 || stopped_) return;
    const Instant t = now();
    do_poll(t);
    rearm(t);
}

void Runner::rearm(Instant t) {
    if (depth_ > 0 || stopped_) return;
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
