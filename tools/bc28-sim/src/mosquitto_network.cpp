#include "mosquitto_network.hpp"

#include <qmtkit/cloud/signing.hpp>

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bc28sim {

namespace {

struct LibInit {
    LibInit() { mosquitto_lib_init(); }
    ~LibInit() { mosquitto_lib_cleanup(); }
};

void lib_init() {
    static LibInit once;
}

// DNS, then a TCP connect to see that something listens: +QMTOPEN's result code. The connect
// waits up to 20 s in slices, so a cancelled probe ends within one (DNS itself cannot be cut
// short: it is bounded by the resolver's own timeouts).
int probe(const std::string& host, std::uint16_t port, const std::atomic<bool>& cancelled) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
        return 4;  // failed to parse the domain name
    }
    int result = -1;
    for (addrinfo* ai = res; ai && result != 0; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            int ready = 0;
            for (int waited = 0; ready == 0 && waited < 20000 && !cancelled.load(); waited += 100)
                ready = ::poll(&p, 1, 100);
            if (ready == 1) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                rc = err == 0 ? 0 : -1;
            } else {
                rc = -1;
            }
        }
        if (rc == 0) result = 0;
        ::close(fd);
    }
    freeaddrinfo(res);
    return result;
}

}  // namespace

struct MosquittoNetwork::Conn {
    MosquittoNetwork* self = nullptr;
    mosquitto* m = nullptr;
    std::uint32_t gen = 0;
    bool connack = false;
    bool graceful = false;  // disconnect() asked for
    bool dead = false;
    struct SubState {
        OpId op = 0;
        std::size_t pending = 0;
        std::vector<int> granted;
    };
    std::map<int, OpId> pub_mids;
    std::map<int, std::pair<std::shared_ptr<SubState>, std::size_t>> sub_mids;
    std::map<int, OpId> uns_mids;
    std::vector<int>
        early_pubs;  // on_publish can fire inside mosquitto_publish (QoS 0 written at once)
};

MosquittoNetwork::MosquittoNetwork(Post post, Log log, long token_timeout_ms)
    : post_(std::move(post)),
      log_(std::move(log)),
      token_timeout_ms_(token_timeout_ms),
      alive_(std::make_shared<std::atomic<bool>>(true)),
      gate_(std::make_shared<Gate>()) {
    gate_->post = post_;
    gate_->self = this;
    lib_init();
}

MosquittoNetwork::~MosquittoNetwork() {
    alive_->store(false);
    {
        // After this no helper posts anything; one inside post() finishes first.
        std::lock_guard<std::mutex> g(gate_->mu);
        gate_->self = nullptr;
    }
    destroy_conn();
    // Every helper is joined: a cancelled probe or token request ends within about a second
    // (a DNS lookup within the resolver's timeout), and none outlives the network.
    gate_->cancelled.store(true);
    std::lock_guard<std::mutex> lk(threads_mu_);
    for (auto& w : threads_) w.thread.join();
}

void MosquittoNetwork::spawn(std::function<Completion(const std::atomic<bool>&)> job) {
    std::lock_guard<std::mutex> lk(threads_mu_);
    // Reap the helpers that are done, so a long session does not pile up threads.
    for (auto it = threads_.begin(); it != threads_.end();) {
        if (it->done->load()) {
            it->thread.join();
            it = threads_.erase(it);
        } else {
            ++it;
        }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    threads_.push_back(Worker{std::thread([job = std::move(job), done, gate = gate_] {
                                  Completion completion = job(gate->cancelled);
                                  {
                                      std::lock_guard<std::mutex> g(gate->mu);
                                      if (gate->self != nullptr && completion) {
                                          gate->post([gate, c = std::move(completion)] {
                                              MosquittoNetwork* n = nullptr;
                                              {
                                                  std::lock_guard<std::mutex> l(gate->mu);
                                                  n = gate->self;
                                              }
                                              if (n != nullptr) c(*n);
                                          });
                                      }
                                  }
                                  done->store(true);
                              }),
                              done});
}

void MosquittoNetwork::open(const std::string& host, std::uint16_t port) {
    host_ = host;
    port_ = port;
    const std::uint32_t gen = ++open_gen_;
    spawn([gen, host, port](const std::atomic<bool>& cancelled) -> Completion {
        const int r = probe(host, port, cancelled);
        return [gen, r](MosquittoNetwork& n) {  // runs on the model's thread
            if (gen != n.open_gen_ || !n.ev_) return;
            n.ev_->net_open_result(r);
        };
    });
}

void MosquittoNetwork::connect(const ConnectRequest& req) {
    destroy_conn();
    conn_ = std::make_unique<Conn>();
    conn_->self = this;
    conn_->gen = ++conn_gen_;
    mosquitto* m = mosquitto_new(req.client_id.c_str(), req.clean_session, conn_.get());
    if (!m) {
        lost(3);
        return;
    }
    conn_->m = m;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
                         req.version == 3 ? MQTT_PROTOCOL_V31 : MQTT_PROTOCOL_V311);
    if (req.username) {
        mosquitto_username_pw_set(m, req.username->c_str(),
                                  req.password ? req.password->c_str() : nullptr);
    }
    if (req.will.enabled) {
        mosquitto_will_set(m, req.will.topic.c_str(), static_cast<int>(req.will.message.size()),
                           req.will.message.data(), req.will.qos, req.will.retain);
    }
    mosquitto_connect_callback_set(m, &MosquittoNetwork::on_connect);
    mosquitto_disconnect_callback_set(m, &MosquittoNetwork::on_disconnect);
    mosquitto_publish_callback_set(m, &MosquittoNetwork::on_publish);
    mosquitto_subscribe_callback_set(m, &MosquittoNetwork::on_subscribe);
    mosquitto_unsubscribe_callback_set(m, &MosquittoNetwork::on_unsubscribe);
    mosquitto_message_callback_set(m, &MosquittoNetwork::on_message);
    // libmosquitto refuses keep-alives of 1..4 s; 0 (none) and 5.. are passed through.
    int keepalive = req.keepalive_s;
    if (keepalive > 0 && keepalive < 5) keepalive = 5;
    const int rc = mosquitto_connect_async(m, host_.c_str(), port_, keepalive);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (log_) log_(std::string("CONNECT could not be sent: ") + mosquitto_strerror(rc));
        lost(3);
        return;
    }
    poll();
}

void MosquittoNetwork::subscribe(OpId op, const std::vector<std::pair<std::string, int>>& topics) {
    if (!conn_ || conn_->dead) return;
    // One SUBSCRIBE per topic (libmosquitto has one QoS per call); the answer waits for all.
    auto st = std::make_shared<Conn::SubState>();
    st->op = op;
    st->pending = topics.size();
    st->granted.assign(topics.size(), 128);
    for (std::size_t i = 0; i < topics.size(); ++i) {
        int mid = 0;
        const int rc =
            mosquitto_subscribe(conn_->m, &mid, topics[i].first.c_str(), topics[i].second);
        if (rc != MOSQ_ERR_SUCCESS) {
            lost(6);
            return;
        }
        conn_->sub_mids[mid] = {st, i};
    }
    poll();
}

void MosquittoNetwork::unsubscribe(OpId op, const std::vector<std::string>& topics) {
    if (!conn_ || conn_->dead) return;
    std::vector<char*> v;
    for (const auto& t : topics) v.push_back(const_cast<char*>(t.c_str()));
    int mid = 0;
    const int rc = mosquitto_unsubscribe_multiple(conn_->m, &mid, static_cast<int>(v.size()),
                                                  v.data(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
        lost(6);
        return;
    }
    conn_->uns_mids[mid] = op;
    poll();
}

void MosquittoNetwork::publish(OpId op, int qos, bool retain, const std::string& topic,
                               const std::string& payload) {
    if (!conn_ || conn_->dead) return;
    int mid = 0;
    const int rc = mosquitto_publish(conn_->m, &mid, topic.c_str(),
                                     static_cast<int>(payload.size()), payload.data(), qos, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (log_) log_(std::string("PUBLISH could not be sent: ") + mosquitto_strerror(rc));
        lost(6);
        return;
    }
    const auto early = std::find(conn_->early_pubs.begin(), conn_->early_pubs.end(), mid);
    if (early != conn_->early_pubs.end()) {
        conn_->early_pubs.erase(early);
        if (ev_) ev_->net_published(op);
    } else {
        conn_->pub_mids[mid] = op;
    }
    poll();
}

void MosquittoNetwork::disconnect() {
    if (!conn_ || conn_->dead) {
        post_([this, alive = alive_] {
            if (alive->load() && ev_) ev_->net_disconnected();
        });
        return;
    }
    conn_->graceful = true;
    mosquitto_disconnect(conn_->m);
    poll();
}

void MosquittoNetwork::close() {
    ++open_gen_;  // a probe still running is forgotten
    destroy_conn();
}

void MosquittoNetwork::destroy_conn() {
    if (!conn_) return;
    // mosquitto_destroy closes the socket without DISCONNECT: the broker publishes the will.
    if (conn_->m) mosquitto_destroy(conn_->m);
    conn_.reset();
}

void MosquittoNetwork::lost(int stat_code) {
    if (!conn_) return;
    conn_->dead = true;
    post_([this, alive = alive_, gen = conn_->gen, stat_code] {
        if (!alive->load() || !conn_ || conn_->gen != gen) return;  // already closed or replaced
        destroy_conn();
        if (ev_) ev_->net_link_lost(stat_code);
    });
}

void MosquittoNetwork::finished() {
    if (!conn_) return;
    conn_->dead = true;
    post_([this, alive = alive_, gen = conn_->gen] {
        if (!alive->load() || !conn_ || conn_->gen != gen) return;
        destroy_conn();
        if (ev_) ev_->net_disconnected();
    });
}

void MosquittoNetwork::poll() {
    if (!radio_on_ || !conn_ || conn_->dead || !conn_->m) return;
    const int rc = mosquitto_loop(conn_->m, 0, 16);
    if (rc == MOSQ_ERR_SUCCESS || !conn_ || conn_->dead) return;
    // on_disconnect has normally reported this already; a failing connect may not call it.
    if (rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO || rc == MOSQ_ERR_NO_CONN ||
        rc == MOSQ_ERR_PROTOCOL || rc == MOSQ_ERR_KEEPALIVE) {
        if (conn_->graceful) {
            finished();
            return;
        }
        lost(rc == MOSQ_ERR_KEEPALIVE ? 2 : (conn_->connack ? 1 : 4));
    }
}

void MosquittoNetwork::fetch_token(OpId op, const TokenFetch& req) {
    qmtkit::cloud::TokenRequest tr;
    tr.product_id = req.product_id;
    tr.device_name = req.device_name;
    tr.client_id = req.client_id;
    tr.device_secret = req.device_secret;
    tr.expire_days = req.expire_days;
    const std::string url = req.url;
    const long timeout = token_timeout_ms_;
    spawn([op, tr, url, timeout](const std::atomic<bool>& cancelled) -> Completion {
        qmtkit::cloud::TokenOutcome out = qmtkit::cloud::fetch_token(url, tr, timeout, &cancelled);
        std::string user, pass;
        if (out.result_code == 0 && out.token) {
            user = out.token->username;
            pass = out.token->password;
        }
        const int code = out.result_code == 0 && !out.token ? 5 : out.result_code;
        const std::string msg = out.message;                       // never carries a secret
        return [op, code, user, pass, msg](MosquittoNetwork& n) {  // on the model's thread
            if (n.log_ && code != 0)
                n.log_("token request failed (" + std::to_string(code) + "): " + msg);
            if (n.ev_) n.ev_->net_token(op, code, user, pass);
        };
    });
}

// ------------------------------------------------------------------------ libmosquitto callbacks

void MosquittoNetwork::on_connect(mosquitto*, void* obj, int rc) {
    auto* c = static_cast<Conn*>(obj);
    c->connack = true;
    if (c->self->ev_) c->self->ev_->net_connack(rc);
}

void MosquittoNetwork::on_disconnect(mosquitto*, void* obj, int rc) {
    auto* c = static_cast<Conn*>(obj);
    if (c->dead) return;
    MosquittoNetwork* self = c->self;
    if (c->graceful) {
        self->finished();
        return;
    }
    if (!c->connack) {
        self->lost(4);  // the link ended before any CONNACK
        return;
    }
    self->lost(rc == MOSQ_ERR_KEEPALIVE ? 2 : 1);
}

void MosquittoNetwork::on_publish(mosquitto*, void* obj, int mid) {
    auto* c = static_cast<Conn*>(obj);
    const auto it = c->pub_mids.find(mid);
    if (it == c->pub_mids.end()) {
        c->early_pubs.push_back(mid);
        return;
    }
    const OpId op = it->second;
    c->pub_mids.erase(it);
    if (c->self->ev_) c->self->ev_->net_published(op);
}

void MosquittoNetwork::on_subscribe(mosquitto*, void* obj, int mid, int qos_count,
                                    const int* granted) {
    auto* c = static_cast<Conn*>(obj);
    const auto it = c->sub_mids.find(mid);
    if (it == c->sub_mids.end()) return;
    auto [st, index] = it->second;
    c->sub_mids.erase(it);
    st->granted[index] = qos_count > 0 ? granted[0] : 128;
    if (--st->pending == 0 && c->self->ev_) c->self->ev_->net_suback(st->op, st->granted);
}

void MosquittoNetwork::on_unsubscribe(mosquitto*, void* obj, int mid) {
    auto* c = static_cast<Conn*>(obj);
    const auto it = c->uns_mids.find(mid);
    if (it == c->uns_mids.end()) return;
    const OpId op = it->second;
    c->uns_mids.erase(it);
    if (c->self->ev_) c->self->ev_->net_unsuback(op);
}

void MosquittoNetwork::on_message(mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* c = static_cast<Conn*>(obj);
    if (!c->self->ev_ || !msg) return;
    std::string payload;
    if (msg->payload && msg->payloadlen > 0) {
        payload.assign(static_cast<const char*>(msg->payload),
                       static_cast<std::size_t>(msg->payloadlen));
    }
    c->self->ev_->net_message(static_cast<std::uint16_t>(msg->mid), msg->topic ? msg->topic : "",
                              std::move(payload), msg->qos, msg->retain);
}

}  // namespace bc28sim
