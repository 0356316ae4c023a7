#include "message_log.hpp"

#include <mosquitto.h>

#include <atomic>
#include <stdexcept>

namespace qmtkit::test {

namespace {
void lib_init() {
    static const int once = [] {
        mosquitto_lib_init();
        return 0;
    }();
    (void)once;
}
std::atomic<int> g_logs{0};
}  // namespace

MessageLog::MessageLog(const std::string& host, std::uint16_t port, const std::string& filter,
                       int qos, Ms timeout)
    : MessageLog(host, port, Options{filter, qos, false, "", timeout}) {}

MessageLog::MessageLog(const std::string& host, std::uint16_t port, const Options& opt)
    : opt_(opt) {
    lib_init();
    const std::string id =
        opt_.client_id.empty() ? "qmtkit-log-" + std::to_string(++g_logs) : opt_.client_id;
    m_ = mosquitto_new(id.c_str(), !opt_.persistent, this);
    if (!m_) throw std::runtime_error("mosquitto_new failed");
    mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_with_flags_callback_set(m_, &MessageLog::on_connect);
    mosquitto_disconnect_callback_set(m_, &MessageLog::on_disconnect);
    mosquitto_subscribe_callback_set(m_, &MessageLog::on_subscribe);
    mosquitto_message_callback_set(m_, &MessageLog::on_message);
    if (mosquitto_connect(m_, host.c_str(), port, 30) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(m_);
        m_ = nullptr;
        throw std::runtime_error("MessageLog: cannot connect to the broker");
    }
    mosquitto_loop_start(m_);
    const auto deadline = Clock::now() + opt_.timeout;
    {
        std::unique_lock<std::mutex> lk(mu_);
        if (!cv_.wait_until(lk, deadline, [this] { return connack_rc_ != -1; }) ||
            connack_rc_ != 0) {
            lk.unlock();
            shutdown();
            throw std::runtime_error("MessageLog: no CONNACK from the broker");
        }
    }
    if (mosquitto_subscribe(m_, nullptr, opt_.filter.c_str(), opt_.qos) != MOSQ_ERR_SUCCESS) {
        shutdown();
        throw std::runtime_error("MessageLog: subscribe failed");
    }
    std::unique_lock<std::mutex> lk(mu_);
    if (!cv_.wait_until(lk, deadline, [this] { return subscribed_; })) {
        lk.unlock();
        shutdown();
        throw std::runtime_error("MessageLog: no SUBACK from the broker");
    }
}

MessageLog::~MessageLog() {
    shutdown();
}

void MessageLog::shutdown() {
    if (!m_) return;
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, false);
    mosquitto_destroy(m_);
    m_ = nullptr;
}

std::vector<MessageLog::Entry> MessageLog::snapshot() const {
    std::lock_guard<std::mutex> lk(mu_);
    return entries_;
}

std::size_t MessageLog::size() const {
    std::lock_guard<std::mutex> lk(mu_);
    return entries_.size();
}

bool MessageLog::wait(const Predicate& pred, Ms timeout) const {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return pred(entries_); });
}

bool MessageLog::wait_for(const std::string& topic, const std::string& payload, Ms timeout) const {
    return wait(
        [&](const std::vector<Entry>& all) {
            for (const auto& e : all) {
                if (e.topic == topic && e.payload == payload) return true;
            }
            return false;
        },
        timeout);
}

std::size_t MessageLog::connects() const {
    std::lock_guard<std::mutex> lk(mu_);
    return connects_;
}

bool MessageLog::wait_reconnected(std::size_t seen, Ms timeout) const {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return connected_ && connects_ > seen && subscribed_; });
}

void MessageLog::on_connect(mosquitto* m, void* obj, int rc, int flags) {
    auto* self = static_cast<MessageLog*>(obj);
    bool again = false;
    {
        std::lock_guard<std::mutex> lk(self->mu_);
        self->connack_rc_ = rc;
        if (rc == 0) {
            self->connected_ = true;
            ++self->connects_;
            // A reconnect the broker kept no session for (not persistent, or it forgot): the
            // subscription is gone with it. The first connect subscribes in the constructor.
            again = self->connects_ > 1 && (flags & 1) == 0;
            if (again) self->subscribed_ = false;
        }
        self->cv_.notify_all();
    }
    if (again) mosquitto_subscribe(m, nullptr, self->opt_.filter.c_str(), self->opt_.qos);
}

void MessageLog::on_disconnect(mosquitto*, void* obj, int) {
    auto* self = static_cast<MessageLog*>(obj);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->connected_ = false;
    self->cv_.notify_all();
}

void MessageLog::on_subscribe(mosquitto*, void* obj, int, int, const int*) {
    auto* self = static_cast<MessageLog*>(obj);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->subscribed_ = true;
    self->cv_.notify_all();
}

void MessageLog::on_message(mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* self = static_cast<MessageLog*>(obj);
    Entry e;
    e.topic = msg->topic ? msg->topic : "";
    if (msg->payload && msg->payloadlen > 0) {
        e.payload.assign(static_cast<const char*>(msg->payload),
                         static_cast<std::size_t>(msg->payloadlen));
    }
    e.qos = msg->qos;
    e.retain = msg->retain;
    e.at = Clock::now();
    std::lock_guard<std::mutex> lk(self->mu_);
    self->entries_.push_back(std::move(e));
    self->cv_.notify_all();
}

}  // namespace qmtkit::test
