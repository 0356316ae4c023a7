#include "mqtt_client.hpp"

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
std::atomic<int> g_counter{0};
}  // namespace

MqttClient::MqttClient(const std::string& host, std::uint16_t port, Options opt, Ms timeout) {
    lib_init();
    if (opt.client_id.empty()) opt.client_id = "qmtkit-test-" + std::to_string(++g_counter);
    m_ = mosquitto_new(opt.client_id.c_str(), opt.clean_session, this);
    if (!m_) throw std::runtime_error("mosquitto_new failed");
    mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION,
                         opt.version == 3 ? MQTT_PROTOCOL_V31 : MQTT_PROTOCOL_V311);
    if (opt.username) {
        mosquitto_username_pw_set(m_, opt.username->c_str(),
                                  opt.password ? opt.password->c_str() : nullptr);
    }
    mosquitto_connect_callback_set(m_, &MqttClient::on_connect);
    mosquitto_publish_callback_set(m_, &MqttClient::on_publish);
    mosquitto_subscribe_callback_set(m_, &MqttClient::on_subscribe);
    mosquitto_message_callback_set(m_, &MqttClient::on_message);
    if (mosquitto_connect(m_, host.c_str(), port, opt.keepalive) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(m_);
        m_ = nullptr;
        throw std::runtime_error("cannot connect to the broker");
    }
    mosquitto_loop_start(m_);
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, timeout, [this] { return connack_rc_ != -1; });
}

MqttClient::~MqttClient() {
    if (!m_) return;
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, false);
    mosquitto_destroy(m_);
}

bool MqttClient::subscribe(const std::string& topic, int qos, Ms timeout) {
    int mid = 0;
    if (mosquitto_subscribe(m_, &mid, topic.c_str(), qos) != MOSQ_ERR_SUCCESS) return false;
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return acked_.count(mid) > 0; });
}

bool MqttClient::publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                         Ms timeout) {
    int mid = 0;
    if (mosquitto_publish(m_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(),
                          qos, retain) != MOSQ_ERR_SUCCESS) {
        return false;
    }
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return acked_.count(mid) > 0; });
}

std::optional<MqttClient::Message> MqttClient::wait_message(
    const std::function<bool(const Message&)>& pred, Ms timeout) {
    std::unique_lock<std::mutex> lk(mu_);
    std::optional<Message> found;
    cv_.wait_for(lk, timeout, [&] {
        for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
            if (pred(*it)) {
                found = *it;
                inbox_.erase(it);
                return true;
            }
        }
        return false;
    });
    return found;
}

std::optional<MqttClient::Message> MqttClient::wait_message(const std::string& topic, Ms timeout) {
    return wait_message([&topic](const Message& m) { return m.topic == topic; }, timeout);
}

void MqttClient::on_connect(mosquitto*, void* obj, int rc) {
    auto* self = static_cast<MqttClient*>(obj);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->connack_rc_ = rc;
    self->cv_.notify_all();
}

void MqttClient::on_publish(mosquitto*, void* obj, int mid) {
    auto* self = static_cast<MqttClient*>(obj);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->acked_.insert(mid);
    self->cv_.notify_all();
}

void MqttClient::on_subscribe(mosquitto*, void* obj, int mid, int, const int*) {
    auto* self = static_cast<MqttClient*>(obj);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->acked_.insert(mid);
    self->cv_.notify_all();
}

void MqttClient::on_message(mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* self = static_cast<MqttClient*>(obj);
    Message m;
    m.topic = msg->topic ? msg->topic : "";
    if (msg->payload && msg->payloadlen > 0) {
        m.payload.assign(static_cast<const char*>(msg->payload),
                         static_cast<std::size_t>(msg->payloadlen));
    }
    m.qos = msg->qos;
    m.retain = msg->retain;
    std::lock_guard<std::mutex> lk(self->mu_);
    self->inbox_.push_back(std::move(m));
    self->cv_.notify_all();
}

}  // namespace qmtkit::test
