#include "qmtkit/host/blocking_client.hpp"

#include <algorithm>

namespace qmtkit::host {

std::string describe(const qmt::ClientError& e) {
    std::string s(qmt::to_string(e.code));
    switch (e.code) {
        case qmt::Error::cme:
            s += " (+CME ERROR: " + std::to_string(static_cast<unsigned>(e.cme)) + ", " +
                 std::string(at::cme_name(e.cme)) + ")";
            break;
        case qmt::Error::open_failed:
            s += " (+QMTOPEN result " + std::to_string(e.value) + ")";
            break;
        case qmt::Error::connect_refused:
            s += " (CONNACK return code " + std::to_string(e.value) + ")";
            break;
        case qmt::Error::tenauth_failed:
            s += " (+QMTTENAUTH result " + std::to_string(e.value) + ")";
            break;
        case qmt::Error::packet_failed:
        case qmt::Error::connect_failed:
        case qmt::Error::close_failed:
            if (e.value != 0) s += " (result " + std::to_string(e.value) + ")";
            break;
        default:
            if (e.value != 0) s += " (value " + std::to_string(e.value) + ")";
            break;
    }
    return s;
}

std::string describe(const Error& e) {
    std::string s;
    switch (e.kind) {
        case FailureKind::client:
            s = describe(e.client);
            break;
        case FailureKind::deadline:
            s = "timed out";
            break;
        case FailureKind::transport:
            s = "transport failed";
            break;
    }
    if (!e.detail.empty()) s += ": " + e.detail;
    return s;
}

namespace {
Error client_error(const qmt::ClientError& ce) {
    return Error{FailureKind::client, ce, {}};
}
}  // namespace

BlockingClient::BlockingClient(const std::string& device, const SerialOptions& serial)
    : work_(asio::make_work_guard(io_)),
      transport_(open_transport(io_, device, serial)),
      client_(std::make_unique<ClientType>(*transport_, static_cast<qmt::Listener&>(*this))),
      runner_(std::make_unique<Runner>(transport_, static_cast<qmt::ClientCore&>(*client_))) {
    runner_->set_error_handler([this](std::error_code ec) {
        transport_failed_ = true;
        transport_error_ = runner_->gave_up()
                               ? runner_->port_situation()
                               : transport_->description() + ": " + describe_port_error(ec);
        last_problem_ = transport_error_;
    });
    runner_->set_port_observer([this](PortEvent e, std::error_code ec) {
        if (e == PortEvent::lost)
            last_problem_ =
                transport_->description() + ": went away (" + describe_port_error(ec) + ")";
        else
            last_problem_ = transport_->description() + ": reopened";
        if (port_observer_) port_observer_(e, ec);
    });
    runner_->set_trace([this](at::TraceKind k, std::string_view t) { on_trace(k, t); });
    runner_->start();
}

void BlockingClient::set_reopen(const ReopenPolicy& policy) {
    runner_->set_reopen(policy);
}

void BlockingClient::on_trace(at::TraceKind kind, std::string_view text) {
    if (user_trace_) user_trace_(kind, text);
}

BlockingClient::~BlockingClient() {
    runner_.reset();  // closes the transport, cancels the timer
    client_.reset();
}

bool BlockingClient::run_one_until(Runner::Clock::time_point deadline) {
    if (Runner::Clock::now() >= deadline) return false;
    if (io_.stopped()) io_.restart();
    io_.run_one_until(deadline);
    return true;
}

Error BlockingClient::deadline_error(const char* what) const {
    std::string d = what;
    d += " (";
    if (runner_->port_down()) {
        d += runner_->port_situation();
    } else {
        d += "link ";
        d += qmt::to_string(client_->state());
        if (!last_problem_.empty()) d += "; last problem: " + last_problem_;
    }
    d += ")";
    return Error{FailureKind::deadline, {}, d};
}

Error BlockingClient::transport_error() const {
    return Error{FailureKind::transport, {}, transport_error_};
}

Error BlockingClient::abandon_port() {
    transport_error_ = runner_->port_situation() + "; stopped";
    runner_->stop();  // no more reopening: the caller is done with this device
    transport_failed_ = true;
    last_problem_ = transport_error_;
    return transport_error();
}

Result<void> BlockingClient::start(const qmt::Session& session) {
    if (transport_failed_) return unexpected(transport_error());
    if (auto r = client_->configure(session); !r) return unexpected(client_error(r.error()));
    auto r = runner_->apply([&] { return client_->start(Runner::now()); });
    if (!r) return unexpected(client_error(r.error()));
    return {};
}

Result<void> BlockingClient::wait_online(Duration timeout) {
    if (run_until([&] { return client_->online(); }, timeout)) return {};
    if (transport_failed_) return unexpected(transport_error());
    return unexpected(deadline_error("waiting for the link to come online"));
}

Result<std::uint32_t> BlockingClient::publish_async(std::string_view topic, ByteView payload,
                                                    qmt::PublishOptions opts) {
    if (transport_failed_) return unexpected(transport_error());
    auto r = runner_->apply([&] { return client_->publish(topic, payload, opts); });
    if (!r) return unexpected(client_error(r.error()));
    return r.value();
}

Result<qmt::PublishReport> BlockingClient::publish(std::string_view topic, ByteView payload,
                                                   qmt::PublishOptions opts, Duration timeout) {
    const auto deadline = Runner::Clock::now() + timeout;
    auto ticket = publish_async(topic, payload, opts);
    // A full outbox: wait for room (other publishes completing) until the deadline.
    while (!ticket && ticket.error().kind == FailureKind::client &&
           ticket.error().client.code == qmt::Error::queue_full) {
        const std::size_t before = client_->outbox();
        if (!run_until([&] { return client_->outbox() < before; },
                       std::chrono::duration_cast<Duration>(deadline - Runner::Clock::now())))
            return unexpected(transport_failed_ ? transport_error()
                                                : deadline_error("waiting for room in the outbox"));
        ticket = publish_async(topic, payload, opts);
    }
    if (!ticket) return unexpected(ticket.error());
    const std::uint32_t t = ticket.value();
    const bool done =
        run_until([&] { return published_.count(t) != 0; },
                  std::chrono::duration_cast<Duration>(deadline - Runner::Clock::now()));
    if (!done) {
        return unexpected(transport_failed_ ? transport_error()
                                            : deadline_error("waiting for the +QMTPUB result"));
    }
    auto it = published_.find(t);
    qmt::Result<qmt::PublishReport> res = it->second;
    published_.erase(it);
    pub_order_.erase(std::remove(pub_order_.begin(), pub_order_.end(), t), pub_order_.end());
    if (!res) return unexpected(client_error(res.error()));
    return res.value();
}

std::optional<PublishDone> BlockingClient::next_published(Duration timeout) {
    if (!run_until([&] { return !pub_order_.empty(); }, timeout)) return std::nullopt;
    const std::uint32_t t = pub_order_.front();
    pub_order_.pop_front();
    auto it = published_.find(t);
    PublishDone d{t, it->second};
    published_.erase(it);
    return d;
}

Result<std::uint32_t> BlockingClient::subscribe_async(std::string_view filter, std::uint8_t qos) {
    if (transport_failed_) return unexpected(transport_error());
    auto ticket =
        runner_->apply([&] { return client_->subscribe(filter, qos, qmt::MessageHandler{}); });
    if (!ticket) return unexpected(client_error(ticket.error()));
    return ticket.value();
}

const qmt::Result<qmt::SubscribeReport>* BlockingClient::subscription(std::uint32_t ticket) const {
    const auto it = subscribed_.find(ticket);
    return it == subscribed_.end() ? nullptr : &it->second;
}

Result<qmt::SubscribeReport> BlockingClient::subscribe(std::string_view filter, std::uint8_t qos,
                                                       Duration timeout) {
    auto ticket = subscribe_async(filter, qos);
    if (!ticket) return unexpected(ticket.error());
    const std::uint32_t t = ticket.value();
    if (!run_until([&] { return subscription(t) != nullptr; }, timeout)) {
        return unexpected(transport_failed_ ? transport_error()
                                            : deadline_error("waiting for the +QMTSUB result"));
    }
    const qmt::Result<qmt::SubscribeReport>& res = *subscription(t);
    if (!res) return unexpected(client_error(res.error()));
    return res.value();
}

Result<std::uint32_t> BlockingClient::unsubscribe_async(std::string_view filter) {
    if (transport_failed_) return unexpected(transport_error());
    auto ticket = runner_->apply([&] { return client_->unsubscribe(filter); });
    if (!ticket) return unexpected(client_error(ticket.error()));
    return ticket.value();
}

const qmt::Result<void>* BlockingClient::unsubscription(std::uint32_t ticket) const {
    const auto it = unsubscribed_.find(ticket);
    return it == unsubscribed_.end() ? nullptr : &it->second;
}

namespace {
template <class T>
std::optional<T> take_front(std::deque<T>& q) {
    if (q.empty()) return std::nullopt;
    T v = std::move(q.front());
    q.pop_front();
    return v;
}
}  // namespace

std::optional<ReceivedMessage> BlockingClient::next_message(Duration timeout) {
    run_until([&] { return !messages_.empty(); }, timeout);
    return take_front(messages_);
}

std::optional<DroppedMessage> BlockingClient::next_dropped(Duration timeout) {
    run_until([&] { return !dropped_.empty(); }, timeout);
    return take_front(dropped_);
}

Result<void> BlockingClient::stop(Duration timeout) {
    if (transport_failed_) return unexpected(transport_error());
    if (runner_->port_down()) return unexpected(abandon_port());
    runner_->apply([&] { client_->stop(); });
    if (run_until(
            [&] { return client_->state() == qmt::LinkState::stopped || runner_->port_down(); },
            timeout) &&
        client_->state() == qmt::LinkState::stopped)
        return {};
    if (transport_failed_) return unexpected(transport_error());
    if (runner_->port_down()) return unexpected(abandon_port());
    return unexpected(deadline_error("waiting for DISCONNECT / CLOSE"));
}

// ---------------------------------------------------------------- qmt::Listener

void BlockingClient::on_link(qmt::LinkState state) {
    if (state == qmt::LinkState::online) last_problem_.clear();
    if (link_observer_) link_observer_(state);
}

void BlockingClient::on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) {
    last_problem_ = std::string(qmt::to_string(during)) + ": " + describe(e);
    if (bringup_observer_) bringup_observer_(during, e);
}

void BlockingClient::on_stat(qmt::StatCode code) {
    const std::string stat = "+QMTSTAT " + std::to_string(static_cast<unsigned>(code)) + " (" +
                             std::string(qmt::to_string(code)) + ")";
    // Keep the more specific cause a refused CONNECT / failed OPEN gave just before.
    if (!last_problem_.empty() && last_problem_.rfind("+QMTSTAT", 0) != 0 &&
        last_problem_.find(", then +QMTSTAT") == std::string::npos) {
        last_problem_ += ", then " + stat;
    } else {
        last_problem_ = stat;
    }
    if (stat_observer_) stat_observer_(code);
}

void BlockingClient::on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) {
    if (!r) last_problem_ = "publish: " + describe(r.error());
    published_.insert_or_assign(ticket, r);
    pub_order_.push_back(ticket);
}

void BlockingClient::on_subscribed(std::uint32_t ticket,
                                   const qmt::Result<qmt::SubscribeReport>& r) {
    if (!r) last_problem_ = "subscribe: " + describe(r.error());
    subscribed_.emplace(ticket, r);  // the first result; re-subscriptions keep it
}

void BlockingClient::on_message(const qmt::Message& m) {
    ReceivedMessage rm;
    rm.msg_id = m.msg_id;
    rm.topic.assign(m.topic.data(), m.topic.size());
    rm.payload.assign(reinterpret_cast<const char*>(m.payload.data), m.payload.size);
    messages_.push_back(std::move(rm));
}

void BlockingClient::on_message_dropped(const qmt::DroppedMessage& m) {
    dropped_.push_back(DroppedMessage{m.msg_id, std::string(m.topic), m.size});
}

void BlockingClient::on_unsubscribed(std::uint32_t ticket, const qmt::Result<void>& r) {
    if (!r) last_problem_ = "unsubscribe: " + describe(r.error());
    unsubscribed_.emplace(ticket, r);
}

void BlockingClient::on_reply(std::uint32_t, const qmt::Result<qmt::Reply>& r) {
    if (!r) last_problem_ = describe(r.error());
}

}  // namespace qmtkit::host
