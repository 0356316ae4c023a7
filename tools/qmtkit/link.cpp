#include "link.hpp"

#include <signal.h>

#include <iostream>

namespace qmtkit::cli {

namespace {

// The note's meanings (chapter 3.2.3: +QMTOPEN <result>; 3.2.5: CONNACK <ret_code>).
std::string open_result_text(std::int32_t v) {
    switch (v) {
        case -1:
            return "failed to open the network";
        case 1:
            return "wrong parameter";
        case 2:
            return "the MQTT identifier is occupied";
        case 3:
            return "failed to activate PDP";
        case 4:
            return "failed to parse the domain name";
        case 5:
            return "the network is disconnected";
        default:
            return "unknown result";
    }
}

std::string connack_text(std::int32_t v) {
    switch (v) {
        case 1:
            return "unacceptable protocol version";
        case 2:
            return "identifier rejected";
        case 3:
            return "server unavailable";
        case 4:
            return "bad user name or password";
        case 5:
            return "not authorized";
        default:
            return "unknown return code";
    }
}

}  // namespace

std::string describe_cause(qmt::LinkState during, const qmt::ClientError& e) {
    const std::string n = std::to_string(e.value);
    switch (e.code) {
        case qmt::Error::open_failed:
            return "OPEN failed: " + open_result_text(e.value) + " (+QMTOPEN result " + n + ")";
        case qmt::Error::connect_refused:
            return "CONNECT refused: " + connack_text(e.value) + " (CONNACK " + n + ")";
        case qmt::Error::connect_failed:
            return "CONNECT failed: it could not be sent or no CONNACK came (+QMTCONN result " +
                   (e.value != 0 ? n : std::string("2")) + ")";
        case qmt::Error::tenauth_failed:
            return "token request failed: +QMTTENAUTH result " + n + " (" +
                   std::string(qmt::to_string(static_cast<qmt::TenAuthResult>(e.value))) + ")";
        case qmt::Error::timeout:
        case qmt::Error::result_timeout:
            return "no answer from the module while " + std::string(qmt::to_string(during));
        case qmt::Error::link_down:
            return "the module lost the connection without +QMTSTAT";
        default:
            return std::string(qmt::to_string(during)) + ": " + host::describe(e);
    }
}

bool cannot_heal(const qmt::ClientError& e) {
    if (e.code == qmt::Error::connect_refused) {
        return e.value == static_cast<int>(qmt::ConnectReturn::bad_protocol_version) ||
               e.value == static_cast<int>(qmt::ConnectReturn::identifier_rejected) ||
               e.value == static_cast<int>(qmt::ConnectReturn::bad_credentials) ||
               e.value == static_cast<int>(qmt::ConnectReturn::not_authorized);
    }
    if (e.code == qmt::Error::open_failed) {
        return e.value == static_cast<int>(qmt::OpenResult::wrong_parameter) ||
               e.value == static_cast<int>(qmt::OpenResult::dns_failed);
    }
    return false;
}

Link::Link(const std::string& device, const host::SerialOptions& serial)
    : work_(asio::make_work_guard(io_)),
      signals_(io_),
      transport_(host::open_transport(io_, device, serial)),
      client_(std::make_unique<qmt::Client<>>(*transport_, static_cast<qmt::Listener&>(*this))),
      runner_(std::make_unique<host::Runner>(transport_, static_cast<qmt::ClientCore&>(*client_))) {
    runner_->set_error_handler([this](std::error_code ec) {
        transport_failed_ = true;
        transport_error_ = runner_->gave_up()
                               ? runner_->port_situation()
                               : transport_->description() + ": " + host::describe_port_error(ec);
    });
    runner_->set_port_observer([this](host::PortEvent e, std::error_code ec) { on_port(e, ec); });
    runner_->start();
}

void Link::set_reopen(Duration give_up) {
    host::ReopenPolicy p;
    p.interval = std::chrono::milliseconds(1000);
    p.give_up = give_up;
    runner_->set_reopen(p);
}

void Link::on_port(host::PortEvent e, std::error_code ec) {
    if (e == host::PortEvent::lost) {
        const std::string what =
            transport_->description() + ": went away (" + host::describe_port_error(ec) + ")";
        debug(what + "; looking for it once a second");
        if (stopping_) {
            // DISCONNECT / CLOSE cannot reach a module that is gone: the stop ends here.
            runner_->stop();
            transport_failed_ = true;
            transport_error_ = what;
            return;
        }
        attempt_cause_ = what;  // the cause of this outage, whatever the aborted commands said
        last_cause_ = what;
    } else {
        debug(transport_->description() + ": reopened; bringing the link up again");
        attempt_cause_.clear();  // a new attempt; the outage stays the last cause until online
    }
}

Link::~Link() {
    std::error_code ignored;
    signals_.clear(ignored);
    runner_.reset();  // closes the transport, cancels the timer
    client_.reset();
}

void Link::set_trace(bool on) {
    if (!on) {
        runner_->set_trace({});
        return;
    }
    runner_->set_trace([](at::TraceKind k, std::string_view t) {
        std::cerr << host::format_trace(k, t) << std::endl;
    });
}

void Link::set_debug(const std::string& tool) {
    debug_tool_ = tool;
}

void Link::debug(const std::string& what) const {
    if (debug_tool_.empty()) return;
    std::cout.flush();
    std::cerr << "qmtkit " << debug_tool_ << ": " << what << std::endl;
}

void Link::catch_signals() {
    for (const int sig : {SIGINT, SIGTERM}) {
        // A signal ignored when the process started (nohup, a background job of a script) stays
        // ignored, as the shell meant.
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        std::error_code ec;
        signals_.add(sig, ec);
    }
    signals_.async_wait([this](const std::error_code& ec, int sig) {
        if (ec) return;
        signal_ = sig;
        // Back to the default action: a second signal ends the process at once.
        std::error_code ignored;
        signals_.clear(ignored);
    });
}

qmt::Result<void> Link::start(const qmt::Session& session) {
    if (auto r = client_->configure(session); !r) return r;
    return runner_->apply([&] { return client_->start(host::Runner::now()); });
}

qmt::Result<std::uint32_t> Link::publish(std::string_view topic, ByteView payload,
                                         qmt::PublishOptions opts) {
    return runner_->apply([&] { return client_->publish(topic, payload, opts); });
}

std::optional<Link::Published> Link::take_published() {
    if (published_.empty()) return std::nullopt;
    Published p = std::move(published_.front());
    published_.pop_front();
    return p;
}

qmt::Result<std::uint32_t> Link::subscribe(std::string_view filter, std::uint8_t qos) {
    return runner_->apply([&] { return client_->subscribe(filter, qos, qmt::MessageHandler{}); });
}

const qmt::Result<qmt::SubscribeReport>* Link::subscribed(std::uint32_t ticket) const {
    const auto it = subscribed_.find(ticket);
    return it == subscribed_.end() ? nullptr : &it->second;
}

std::optional<host::ReceivedMessage> Link::take_message() {
    if (messages_.empty()) return std::nullopt;
    host::ReceivedMessage m = std::move(messages_.front());
    messages_.pop_front();
    return m;
}

std::optional<Link::Dropped> Link::take_dropped() {
    if (dropped_.empty()) return std::nullopt;
    Dropped d = std::move(dropped_.front());
    dropped_.pop_front();
    return d;
}

qmt::Result<std::uint32_t> Link::unsubscribe(std::string_view filter) {
    return runner_->apply([&] { return client_->unsubscribe(filter); });
}

const qmt::Result<void>* Link::unsubscribed(std::uint32_t ticket) const {
    const auto it = unsubscribed_.find(ticket);
    return it == unsubscribed_.end() ? nullptr : &it->second;
}

bool Link::run_one_until(Clock::time_point deadline) {
    if (Clock::now() >= deadline) return false;
    if (io_.stopped()) io_.restart();
    io_.run_one_until(deadline);
    return true;
}

bool Link::stop(Duration timeout) {
    if (transport_failed_) return false;
    if (runner_->port_down()) {
        runner_->stop();  // nothing to say DISCONNECT to; and no more reopening
        return false;
    }
    stopping_ = true;
    runner_->apply([&] { client_->stop(); });
    const auto deadline = Clock::now() + timeout;
    while (client_->state() != qmt::LinkState::stopped) {
        if (transport_failed_ || !run_one_until(deadline)) return false;
    }
    return true;
}

std::string Link::situation() const {
    if (runner_->port_down()) return runner_->port_situation();
    std::string s = "link " + std::string(qmt::to_string(client_->state()));
    if (!cause().empty()) s += "; " + cause();
    return s;
}

// ---------------------------------------------------------------- qmt::Listener

void Link::on_link(qmt::LinkState state) {
    if (state == qmt::LinkState::online) {
        attempt_cause_.clear();
        last_cause_.clear();
    } else if (state == qmt::LinkState::backing_off) {
        if (!attempt_cause_.empty()) last_cause_ = attempt_cause_;
    } else if (prev_state_ == qmt::LinkState::backing_off) {
        attempt_cause_.clear();  // a new attempt
    }
    prev_state_ = state;
    debug("link " + std::string(qmt::to_string(state)));
}

void Link::note_cause(const std::string& what) {
    if (attempt_cause_.empty()) attempt_cause_ = what;
    if (client_->state() == qmt::LinkState::backing_off) last_cause_ = attempt_cause_;
}

void Link::on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) {
    const std::string what = describe_cause(during, e);
    debug(what);
    // Our own DISCONNECT / CLOSE, and the clean-up CLOSE before a new attempt, report "failed"
    // when the network is already closed: never the cause of anything. Nor is a step aborted
    // because the device went away (the runner aborts what was on the wire; on_port() names it).
    if (stopping_ || e.code == qmt::Error::close_failed || e.code == qmt::Error::aborted) return;
    note_cause(what);
    if (fatal_.empty() && cannot_heal(e)) fatal_ = what;
}

void Link::on_stat(qmt::StatCode code) {
    const std::string what = "+QMTSTAT " + std::to_string(static_cast<unsigned>(code)) + " (" +
                             std::string(qmt::to_string(code)) + ")";
    debug(what);
    if (stopping_ || code == qmt::StatCode::disconnected) return;  // 5: after our DISCONNECT
    note_cause(what);
}

void Link::on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) {
    published_.push_back(Published{ticket, r});
}

void Link::on_subscribed(std::uint32_t ticket, const qmt::Result<qmt::SubscribeReport>& r) {
    subscribed_.emplace(ticket, r);  // the first result; re-subscriptions keep it
}

void Link::on_message(const qmt::Message& m) {
    host::ReceivedMessage rm;
    rm.msg_id = m.msg_id;
    rm.topic.assign(m.topic.data(), m.topic.size());
    rm.payload.assign(reinterpret_cast<const char*>(m.payload.data), m.payload.size);
    messages_.push_back(std::move(rm));
}

void Link::on_message_dropped(const qmt::DroppedMessage& m) {
    dropped_.push_back(Dropped{m.msg_id, std::string(m.topic), m.size});
}

void Link::on_unsubscribed(std::uint32_t ticket, const qmt::Result<void>& r) {
    unsubscribed_.emplace(ticket, r);
}

std::unique_ptr<Link> open_link(const CommonOptions& o, const std::string& tool) {
    host::SerialOptions serial;
    serial.baud = o.baud;
    serial.flow = o.flow == "hardware" ? host::FlowControl::hardware : host::FlowControl::none;
    auto link = std::make_unique<Link>(o.device, serial);
    link->set_trace(o.trace);
    if (o.debug) link->set_debug(tool);
    link->catch_signals();
    link->set_reopen(seconds(o.timeout_s));
    return link;
}

}  // namespace qmtkit::cli
