// mosquitto 2.0 plugin (plugin API version 5): authenticates CONNECT as Aliyun and Tencent do,
// from the JSON registry named by `plugin_opt_registry`. See docs/cloud-standin.md.
//
// Refusals return MOSQ_ERR_AUTH. mosquitto 2.0 answers that with CONNACK return code 5
// "not authorized" for MQTT 3.1 / 3.1.1 (reason code 0x87 for MQTT 5): a plugin cannot pick
// code 4. Log lines name the client id, the username and the reason, never a password or secret.
#include "registry.hpp"

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>

namespace {

struct PluginState {
    mosquitto_plugin_id_t* id = nullptr;
    qmtkit::standin::Registry registry;
    std::string registry_path;
};

std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

int on_basic_auth(int /*event*/, void* event_data, void* userdata) {
    auto* st = static_cast<PluginState*>(userdata);
    auto* ed = static_cast<mosquitto_evt_basic_auth*>(event_data);
    const char* cid_c = mosquitto_client_id(ed->client);
    const std::string cid = cid_c ? cid_c : "";
    std::optional<std::string> user, pass;
    if (ed->username) user = std::string(ed->username);
    if (ed->password) pass = std::string(ed->password);
    try {
        const auto v = qmtkit::standin::authenticate(st->registry, cid, user, pass, now_unix());
        if (v.ok) {
            mosquitto_log_printf(MOSQ_LOG_INFO, "qmtkit_cloud_auth: accepted %s client '%s'",
                                 v.scheme.c_str(), cid.c_str());
            return MOSQ_ERR_SUCCESS;
        }
        mosquitto_log_printf(
            MOSQ_LOG_NOTICE, "qmtkit_cloud_auth: refused client '%s' username '%s': %s%s%s",
            cid.c_str(), user ? user->c_str() : "(none)", v.scheme.empty() ? "" : v.scheme.c_str(),
            v.scheme.empty() ? "" : ": ", v.reason.c_str());
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "qmtkit_cloud_auth: internal error: %s", e.what());
    }
    return MOSQ_ERR_AUTH;
}

}  // namespace

#define QMTKIT_PLUGIN_API __attribute__((visibility("default")))

extern "C" {

QMTKIT_PLUGIN_API int mosquitto_plugin_version(int supported_version_count,
                                               const int* supported_versions) {
    for (int i = 0; i < supported_version_count; ++i)
        if (supported_versions[i] == 5) return 5;
    return -1;
}

QMTKIT_PLUGIN_API int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                            struct mosquitto_opt* options, int option_count) {
    auto st = std::make_unique<PluginState>();
    st->id = identifier;
    for (int i = 0; i < option_count; ++i) {
        if (std::string(options[i].key) == "registry") st->registry_path = options[i].value;
    }
    if (st->registry_path.empty()) {
        mosquitto_log_printf(MOSQ_LOG_ERR,
                             "qmtkit_cloud_auth: plugin_opt_registry <file> is required");
        return MOSQ_ERR_INVAL;
    }
    try {
        st->registry = qmtkit::standin::Registry::load_file(st->registry_path);
    } catch (const std::exception& e) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "qmtkit_cloud_auth: %s", e.what());
        return MOSQ_ERR_INVAL;
    }
    const int rc = mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth,
                                               nullptr, st.get());
    if (rc != MOSQ_ERR_SUCCESS) return rc;
    mosquitto_log_printf(MOSQ_LOG_INFO,
                         "qmtkit_cloud_auth: registry %s: %zu aliyun, %zu tencent, %zu "
                         "tencent_suite, %zu plain",
                         st->registry_path.c_str(), st->registry.aliyun.size(),
                         st->registry.tencent.size(), st->registry.tencent_suite.size(),
                         st->registry.plain.size());
    *userdata = st.release();
    return MOSQ_ERR_SUCCESS;
}

QMTKIT_PLUGIN_API int mosquitto_plugin_cleanup(void* userdata, struct mosquitto_opt* /*options*/,
                                               int /*option_count*/) {
    auto* st = static_cast<PluginState*>(userdata);
    if (st) {
        mosquitto_callback_unregister(st->id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, nullptr);
        delete st;
    }
    return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
