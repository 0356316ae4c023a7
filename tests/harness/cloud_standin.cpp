#include "cloud_standin.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace qmtkit::test {

using namespace std::chrono;

// ------------------------------------------------------------------------------ registry JSON

std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", u);
                    out += b;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

namespace {

template <class T, class F>
void json_array(std::ostringstream& o, const char* name, const std::vector<T>& v, F&& fields,
                bool& first) {
    if (v.empty()) return;
    o << (first ? "" : ",\n") << "  " << json_quote(name) << ": [";
    first = false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        o << (i ? ",\n    " : "\n    ") << "{ " << fields(v[i]) << " }";
    }
    o << "\n  ]";
}

std::string kv(const char* k, const std::string& v) {
    return json_quote(k) + ": " + json_quote(v);
}

}  // namespace

std::string StandinRegistry::to_json() const {
    std::ostringstream o;
    bool first = true;
    o << "{\n";
    json_array(
        o, "aliyun", aliyun,
        [](const Aliyun& d) {
            return kv("product_key", d.product_key) + ", " + kv("device_name", d.device_name) +
                   ", " + kv("device_secret", d.device_secret);
        },
        first);
    json_array(
        o, "tencent", tencent,
        [](const Tencent& d) {
            return kv("product_id", d.product_id) + ", " + kv("device_name", d.device_name) + ", " +
                   kv("device_psk", d.device_psk);
        },
        first);
    json_array(
        o, "tencent_suite", tencent_suite,
        [](const Suite& d) {
            return kv("product_id", d.product_id) + ", " + kv("device_name", d.device_name) + ", " +
                   kv("device_secret", d.device_secret);
        },
        first);
    json_array(
        o, "plain", plain,
        [](const Plain& p) {
            return kv("username", p.username) + ", " + kv("password", p.password);
        },
        first);
    auto scalar = [&](const std::string& text) {
        o << (first ? "" : ",\n") << "  " << text;
        first = false;
    };
    if (!token_key.empty()) scalar(kv("token_key", token_key));
    if (token_max_skew_s)
        scalar(json_quote("token_max_skew_s") + ": " + std::to_string(*token_max_skew_s));
    if (token_max_expire_s)
        scalar(json_quote("token_max_expire_s") + ": " + std::to_string(*token_max_expire_s));
    o << "\n}\n";
    return o.str();
}

// ------------------------------------------------------------------------------ files

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool wait_file_contains(const std::string& path, const std::string& needle, milliseconds timeout) {
    const auto slash = path.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    // Watch first, then read: a write between the two is seen either by the read or as an event.
    const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0) throw std::runtime_error(std::string("inotify_init1: ") + std::strerror(errno));
    if (::inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) <
        0) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error("inotify_add_watch " + dir + ": " + std::strerror(e));
    }
    const auto deadline = steady_clock::now() + timeout;
    bool found = false;
    while (true) {
        if (read_file(path).find(needle) != std::string::npos) {
            found = true;
            break;
        }
        const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) > 0) {
            alignas(inotify_event) char buf[4096];
            while (::read(fd, buf, sizeof buf) > 0) {
            }
        }
    }
    ::close(fd);
    return found;
}

namespace {

std::string from_env_or(const char* var, const char* built) {
    const char* env = std::getenv(var);
    if (env && *env) return env;
    return built;
}

}  // namespace

// ------------------------------------------------------------------------------ token server

TokenServer::TokenServer(Options opt, Ms timeout) {
    if (opt.registry_path.empty())
        throw std::invalid_argument("TokenServer: registry_path is required");
    if (opt.exe.empty()) opt.exe = CloudStandin::default_token_server();
    if (opt.exe.empty())
        throw std::runtime_error("TokenServer: no qmtkit-token-server (set $QMTKIT_TOKEN_SERVER)");
    own_dir_ = opt.dir.empty();
    dir_ = own_dir_ ? make_temp_dir("qmtkit-token-") : opt.dir;
    std::vector<std::string> argv{opt.exe, "--registry", opt.registry_path, "--port", "0"};
    argv.insert(argv.end(), opt.args.begin(), opt.args.end());
    Process::Options po;
    po.capture_stdout = true;
    po.stderr_path = log_path();
    try {
        proc_ = std::make_unique<Process>(argv, po);
    } catch (...) {
        if (own_dir_) remove_tree(dir_);
        throw;
    }
    // First stdout line: the port, printed once the socket is bound and listening.
    const auto line = proc_->read_stdout_line(timeout);
    int port = 0;
    try {
        port = line ? std::stoi(*line) : 0;
    } catch (const std::exception&) {
        port = 0;
    }
    if (port <= 0 || port > 65535) {
        proc_.reset();
        const std::string err = log();
        if (own_dir_) remove_tree(dir_);
        throw std::runtime_error("qmtkit-token-server did not print its port: " + err);
    }
    port_ = static_cast<std::uint16_t>(port);
}

TokenServer::~TokenServer() {
    proc_.reset();  // SIGTERM, then SIGKILL
    if (own_dir_) remove_tree(dir_);
}

// ------------------------------------------------------------------------------ stand-in

std::string CloudStandin::default_plugin() {
#ifdef QMTKIT_HARNESS_CLOUD_AUTH_PLUGIN
    return from_env_or("QMTKIT_CLOUD_AUTH_PLUGIN", QMTKIT_HARNESS_CLOUD_AUTH_PLUGIN);
#else
    return from_env_or("QMTKIT_CLOUD_AUTH_PLUGIN", "");
#endif
}

std::string CloudStandin::default_token_server() {
#ifdef QMTKIT_HARNESS_TOKEN_SERVER
    return from_env_or("QMTKIT_TOKEN_SERVER", QMTKIT_HARNESS_TOKEN_SERVER);
#else
    return from_env_or("QMTKIT_TOKEN_SERVER", "");
#endif
}

CloudStandin::CloudStandin(const StandinRegistry& registry) : CloudStandin(registry, Options{}) {}

CloudStandin::CloudStandin(const StandinRegistry& registry, Options opt) {
    if (!registry.plain.empty()) observer_ = registry.plain.front();
    start(registry.to_json(), std::move(opt));
}

CloudStandin::CloudStandin(const std::string& registry_json)
    : CloudStandin(registry_json, Options{}) {}

CloudStandin::CloudStandin(const std::string& registry_json, Options opt) {
    start(registry_json, std::move(opt));
}

void CloudStandin::start(const std::string& registry_json, Options opt) {
    if (opt.plugin.empty()) opt.plugin = default_plugin();
    if (opt.plugin.empty())
        throw std::runtime_error("CloudStandin: no plugin (set $QMTKIT_CLOUD_AUTH_PLUGIN)");
    dir_ = make_temp_dir("qmtkit-standin-");
    try {
        registry_path_ = dir_ + "/registry.json";
        {
            std::ofstream f(registry_path_, std::ios::binary);
            f << registry_json;
            if (!f) throw std::runtime_error("cannot write " + registry_path_);
        }
        if (opt.start_token_server) {
            TokenServer::Options to;
            to.exe = opt.token_server;
            to.registry_path = registry_path_;
            to.dir = dir_;
            token_ = std::make_unique<TokenServer>(to);
        }
        opt.broker.allow_anonymous = false;
        broker_ = std::make_unique<Broker>(opt.broker);
        broker_->add_plugin(opt.plugin, {{"registry", registry_path_}});
        broker_->start();
    } catch (...) {
        broker_.reset();
        token_.reset();
        remove_tree(dir_);
        throw;
    }
}

CloudStandin::~CloudStandin() {
    broker_.reset();
    token_.reset();
    remove_tree(dir_);
}

std::string CloudStandin::token_url() const {
    if (!token_) throw std::logic_error("CloudStandin: started without the token server");
    return token_->url();
}

TokenServer& CloudStandin::token_server() {
    if (!token_) throw std::logic_error("CloudStandin: started without the token server");
    return *token_;
}

std::unique_ptr<MqttClient> CloudStandin::client(const std::string& client_id,
                                                 const std::optional<std::string>& username,
                                                 const std::optional<std::string>& password,
                                                 Ms timeout) const {
    MqttClient::Options o;
    o.client_id = client_id;
    o.username = username;
    o.password = password;
    return std::make_unique<MqttClient>(host(), mqtt_port(), o, timeout);
}

std::unique_ptr<MqttClient> CloudStandin::observer(const std::string& client_id) const {
    if (!observer_)
        throw std::logic_error("CloudStandin: the registry has no \"plain\" user to observe with");
    auto c = client(client_id, observer_->username, observer_->password);
    if (!c->connected()) {
        throw std::runtime_error("the stand-in refused the observer (CONNACK " +
                                 std::to_string(c->connack_rc()) + "); broker log:\n" +
                                 broker_log());
    }
    return c;
}

}  // namespace qmtkit::test
