#include "link.hpp"

#include <signal.h>

#include <csignal>
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

namespace {
// +QMTTENAUTH result 3 is what the module reports for any HTTP answer but 200: a token server
// refusing the device's signature (it will refuse it again) or one having a bad moment. One is
// retried; the same answer on the next attempt ends the run.
bool token_refused(const qmt::ClientError& e) {
    return e.code == qmt::Error::tenauth_failed &&
           e.value == static_cast<int>(qmt::TenAuthResult::http_packet_error);
}
}  // namespace

Link::Link(const std::string& device, const host::SerialOptions& serial)
    : bc_(device, serial), signals_(bc_.io()) {
    bc_.set_link_observer([this](qmt::LinkState s) { on_link(s); });
    bc_.set_bringup_observer(
        [this](qmt::LinkState during, const qmt::ClientError& e) { on_bringup_error(during, e); });
    bc_.set_stat_observer([this](qmt::StatCode c) { on_stat(c); });
    bc_.set_port_observer([this](host::PortEvent e, std::error_code ec) { on_port(e, ec); });
}

Link::~Link() {
    std::error_code ignored;
    signals_.clear(ignored);
}

void Link::set_reopen(Duration give_up) {
    host::ReopenPolicy p;
    p.interval = std::chrono::milliseconds(1000);
    p.give_up = give_up;
    bc_.set_reopen(p);
}

void Link::on_port(host::PortEvent e, std::error_code ec) {
    if (e == host::PortEvent::lost) {
        const std::string what =
            bc_.transport().description() + ": went away (" + host::describe_port_error(ec) + ")";
        debug(what + "; looking for it once a second");
        // (While stopping, BlockingClient::stop() ends the stop: there is no module to talk to.)
        attempt_cause_ = what;  // the cause of this outage, whatever the aborted commands said
        last_cause_ = what;
    } else {
        debug(bc_.transport().description() + ": reopened; bringing the link up again");
        attempt_cause_.clear();  // a new attempt; the outage stays the last cause until online
    }
}

void Link::set_trace(bool on) {
    if (!on) {
        bc_.set_trace({});
        return;
    }
    bc_.set_trace([](at::TraceKind k, std::string_view t) {
        std::cerr << host::format_trace(k, t) << std::endl;
    });
}

void Link::debug(const std::string& what) const {
    if (debug_tool_.empty()) return;
    std::cout.flush();
    std::cerr << "qmtkit " << debug_tool_ << ": " << what << std::endl;
}

namespace {
bool ignored_at_start(int sig) {
#ifdef _WIN32
    // No sigaction: the CRT's signal() tells the old handler only by replacing it.
    const auto old = std::signal(sig, SIG_DFL);
    std::signal(sig, old);
    return old == SIG_IGN;
#else
    struct sigaction old {};
    return ::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN;
#endif
}
}  // namespace

void Link::catch_signals() {
    for (const int sig : {SIGINT, SIGTERM}) {
        // A signal ignored when the process started (nohup, a background job of a script) stays
        // ignored, as the shell meant.
        if (ignored_at_start(sig)) continue;
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

namespace {
qmt::ClientError core_error(const host::Error& e) {
    if (e.kind == host::FailureKind::client) return e.client;
    return qmt::ClientError{qmt::Error::not_running, at::Cme::none, 0};  // transport gone
}
}  // namespace

qmt::Result<void> Link::start(const qmt::Session& session) {
    if (auto r = bc_.start(session); !r) return unexpected(core_error(r.error()));
    return {};
}

qmt::Result<std::uint32_t> Link::publish(std::string_view topic, ByteView payload,
                                         qmt::PublishOptions opts) {
    auto r = bc_.publish_async(topic, payload, opts);
    if (!r) return unexpected(core_error(r.error()));
    return r.value();
}

qmt::Result<std::uint32_t> Link::subscribe(std::string_view filter, std::uint8_t qos) {
    auto r = bc_.subscribe_async(filter, qos);
    if (!r) return unexpected(core_error(r.error()));
    return r.value();
}

qmt::Result<std::uint32_t> Link::unsubscribe(std::string_view filter) {
    auto r = bc_.unsubscribe_async(filter);
    if (!r) return unexpected(core_error(r.error()));
    return r.value();
}

bool Link::stop(Duration timeout) {
    stopping_ = true;
    return bc_.stop(timeout).has_value();
}

std::string Link::situation() const {
    if (bc_.port_down()) return bc_.port_situation();
    std::string s = "link " + std::string(qmt::to_string(bc_.state()));
    if (!cause().empty()) s += "; " + cause();
    return s;
}

void Link::on_link(qmt::LinkState state) {
    if (state == qmt::LinkState::online) {
        attempt_cause_.clear();
        last_cause_.clear();
        tenauth_refusals_ = 0;
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
    if (bc_.state() == qmt::LinkState::backing_off) last_cause_ = attempt_cause_;
}

void Link::on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) {
    const std::string what = describe_cause(during, e);
    debug(what);
    // Our own DISCONNECT / CLOSE, and the clean-up CLOSE before a new attempt, report "failed"
    // when the network is already closed: never the cause of anything. Nor is a step aborted
    // because the device went away (the runner aborts what was on the wire; on_port() names it).
    if (stopping_ || e.code == qmt::Error::close_failed || e.code == qmt::Error::aborted) return;
    note_cause(what);
    tenauth_refusals_ = token_refused(e) ? tenauth_refusals_ + 1 : 0;
    if (fatal_.empty() && (cannot_heal(e) || tenauth_refusals_ >= 2)) fatal_ = what;
}

void Link::on_stat(qmt::StatCode code) {
    const std::string what = "+QMTSTAT " + std::to_string(static_cast<unsigned>(code)) + " (" +
                             std::string(qmt::to_string(code)) + ")";
    debug(what);
    if (stopping_ || code == qmt::StatCode::disconnected) return;  // 5: after our DISCONNECT
    note_cause(what);
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
