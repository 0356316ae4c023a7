// The connect IDs: AT+QMTOPEN / CLOSE / CONN / DISC / SUB / UNS / PUB on the link they name, its
// operations in flight and their timers, and the events of its network. One Link per connect ID
// (link.hpp); the default variant answers ID 0 only, --variant bg95 / ec2x IDs 0-5, each on a
// network of its own with its own MQTT session, publish window, msgIDs and receive buffer.
#include "bc28sim/module.hpp"

#include "checks.hpp"

#include <algorithm>
#include <utility>

namespace bc28sim {

using namespace detail;

// ---------------------------------------------------------------------------------- the links

int Link::inflight_publishes() const {
    return static_cast<int>(std::count_if(
        ops.begin(), ops.end(), [](const auto& kv) { return kv.second.kind == OpKind::pub; }));
}

bool Link::msg_id_in_flight(OpKind kind, int msg_id) const {
    return std::any_of(ops.begin(), ops.end(), [&](const auto& kv) {
        return kv.second.kind == kind && kv.second.msg_id == msg_id;
    });
}

void Link::Events::net_open_result(int result) {
    module->net_open_result(module->links_[id], result);
}
void Link::Events::net_connack(int return_code) {
    module->net_connack(module->links_[id], return_code);
}
void Link::Events::net_suback(OpId op, std::vector<int> granted_qos) {
    module->net_suback(module->links_[id], op, std::move(granted_qos));
}
void Link::Events::net_unsuback(OpId op) {
    module->net_unsuback(module->links_[id], op);
}
void Link::Events::net_published(OpId op) {
    module->net_published(module->links_[id], op);
}
void Link::Events::net_message(std::uint16_t packet_id, std::string topic, std::string payload,
                               int qos, bool /*retain*/) {
    module->net_message(module->links_[id], packet_id, std::move(topic), std::move(payload), qos);
}
void Link::Events::net_disconnected() {
    module->net_disconnected(module->links_[id]);
}
void Link::Events::net_link_lost(int stat_code) {
    module->net_link_lost(module->links_[id], stat_code);
}
void Link::Events::net_token(OpId op, int result_code, std::string username, std::string password) {
    module->net_token(op, result_code, std::move(username), std::move(password));
}

Link* Module::link_arg(const Arg& a) {
    const auto v = a.as_int();
    if (!v || *v < 0 || *v >= link_count()) return nullptr;
    return &links_[static_cast<std::size_t>(*v)];
}

Network* Module::link_net(Link& l) {
    if (!l.net && opt_.network_for) {
        l.net = &opt_.network_for(l.id);
        l.net->attach(&l.events);
    }
    return l.net;
}

int Module::inflight_publishes(int id) const {
    if (id < 0 || id >= kLinkCount) return 0;
    return links_[static_cast<std::size_t>(id)].inflight_publishes();
}

std::string Module::state_name(int id) const {
    if (rebooting_) return "rebooting";
    if (id < 0 || id >= kLinkCount) return "?";
    switch (links_[static_cast<std::size_t>(id)].state) {
        case NetState::closed:
            return "closed";
        case NetState::opening:
            return "opening";
        case NetState::opened:
            return "opened";
        case NetState::connecting:
            return "connecting";
        case NetState::connected:
            return "connected";
        case NetState::disconnecting:
            return "disconnecting";
    }
    return "?";
}

void Module::set_radio(bool on) {
    for (auto& l : links_) {
        if (l.net) l.net->radio(on);
    }
}

// --------------------------------------------------------------------------- AT+QMTOPEN/CLOSE

Module::Reply Module::cmd_open(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTOPEN: " + link_ids() + ",<host_name>,<port>"});
    if (c.form == Form::query) {  // a line for each link that is not closed
        std::vector<std::string> lines;
        for (int i = 0; i < link_count(); ++i) {
            const Link& l = links_[static_cast<std::size_t>(i)];
            if (l.state != NetState::closed)
                lines.push_back(l.head("+QMTOPEN") + quoted(l.host) + "," + std::to_string(l.port));
        }
        return ok(std::move(lines));
    }
    if (c.form != Form::set) return error(kNotSupported);
    long port = 0;
    Link* const lp = c.args.size() == 3 ? link_arg(c.args[0]) : nullptr;
    if (!lp || !str_len(c.args[1], 1, kMaxHost) || !int_in(c.args[2], 0, 65535, port)) {
        return error(kBadParam);
    }
    Link& l = *lp;
    if (l.state != NetState::closed) {
        after_proc([this, &l] { result_line(l.head("+QMTOPEN") + "2"); });  // identifier occupied
        return ok();
    }
    if (port == 0 || !usable_host(c.args[1].text)) {
        // Within the note's table, yet nothing can be opened with it: result 1, wrong parameter.
        log("open: unusable host or port 0");
        after_proc([this, &l] { result_line(l.head("+QMTOPEN") + "1"); });
        return ok();
    }
    if (!link_net(l)) {  // an in-process model with no network for this id
        log("open: no network for connect ID " + std::to_string(l.id));
        after_proc([this, &l] { result_line(l.head("+QMTOPEN") + "-1"); });
        return ok();
    }
    l.closed_by_disc = false;
    l.host = c.args[1].text;
    l.port = static_cast<int>(port);
    l.state = NetState::opening;
    l.open_deadline = now_ + opt_.open_timeout_ms * 1000;
    const auto e = l.epoch;
    l.open_dns = !is_ip_literal(l.host);
    if (!s_.cgatt || !s_.cfun) {
        after_proc([this, &l, e] {  // the PDP context cannot be activated: no network exchange
            if (e != l.epoch || l.state != NetState::opening) return;
            l.state = NetState::closed;
            ++l.epoch;
            result_line(l.head("+QMTOPEN") + "3");
        });
        return ok();
    }
    if (refuse_open_) {
        uplink(60, [this, &l, e] {
            if (e == l.epoch) net_open_result(l, -1);
        });
        return ok();
    }
    uplink(60, [this, &l, e, h = l.host, p = static_cast<std::uint16_t>(port)] {
        if (e == l.epoch) l.net->open(h, p);
    });
    return ok();
}

Module::Reply Module::cmd_close(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTCLOSE: " + link_ids()});
    if (c.form != Form::set) return error(kNotSupported);
    Link* const lp = c.args.size() == 1 ? link_arg(c.args[0]) : nullptr;
    if (!lp) return error(kBadParam);
    Link& l = *lp;
    if (l.state == NetState::closed) {
        // After AT+QMTDISC the network is closed already (the note, 3.2.6: DISCONNECT tells the
        // server the TCP/IP connection is about to close): nothing to close, unless asked.
        const bool ok_anyway = l.closed_by_disc && opt_.close_after_disc_ok;
        l.closed_by_disc = false;
        after_proc(
            [this, &l, ok_anyway] { result_line(l.head("+QMTCLOSE") + (ok_anyway ? "0" : "-1")); });
        return ok();
    }
    l.net->close();
    link_closed(l, 0, false);
    after_proc([this, &l] { result_line(l.head("+QMTCLOSE") + "0"); });
    return ok();
}

// ---------------------------------------------------------------------------- AT+QMTCONN/DISC

Module::Reply Module::cmd_conn(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTCONN: " + link_ids() + ",<clientID>,<username>,<password>"});
    if (c.form == Form::query) {  // a line for each link that is not closed
        std::vector<std::string> lines;
        for (int i = 0; i < link_count(); ++i) {
            const Link& l = links_[static_cast<std::size_t>(i)];
            int st = 0;
            switch (l.state) {
                case NetState::closed:
                    continue;
                case NetState::opening:
                case NetState::opened:
                    st = 1;
                    break;
                case NetState::connecting:
                    st = 2;
                    break;
                case NetState::connected:
                    st = 3;
                    break;
                case NetState::disconnecting:
                    st = 4;
                    break;
            }
            lines.push_back(l.head("+QMTCONN") + std::to_string(st));
        }
        return ok(std::move(lines));
    }
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    Link* const lp = a.size() >= 2 && a.size() <= 4 ? link_arg(a[0]) : nullptr;
    if (!lp || !str_len(a[1], 1, kMaxClientId)) return error(kBadParam);
    Link& l = *lp;
    if (a.size() >= 3 && !str_len(a[2], 0, kMaxCredential)) return error(kBadParam);
    if (a.size() >= 4 && !str_len(a[3], 0, kMaxCredential)) return error(kBadParam);
    if (l.state != NetState::opened) return error(kNotAllowed);

    ConnectRequest req;
    req.version = l.cfg.version;
    req.keepalive_s = l.cfg.keepalive;
    req.clean_session = l.cfg.clean == 1;
    req.will = l.cfg.will;
    req.client_id = a[1].text;
    if (a.size() >= 3) req.username = a[2].text;
    if (a.size() >= 4) req.password = a[3].text;
    bool sign_failed = false;
    if (a.size() == 2 && l.cfg.aliauth) {
        std::optional<SignedCredentials> cred;
        if (opt_.sign_aliyun) {
            cred = opt_.sign_aliyun(
                AliyunSignInput{a[1].text, l.cfg.ali_pk, l.cfg.ali_dn, l.cfg.ali_ds, wall_ms()});
        }
        if (cred) {
            req.client_id = cred->client_id;
            req.username = cred->username;
            req.password = cred->password;
            log("CONNECT signed for Aliyun (client id " + req.client_id + ")");
        } else {
            sign_failed = true;
        }
    } else if (a.size() == 2 && s_.have_token) {
        req.username = s_.token_user;
        req.password = s_.token_password;
        log("CONNECT with the Tencent token");
    }

    l.state = NetState::connecting;
    const OpId id = new_op(l, OpKind::conn, 0, 0);
    const auto e = l.epoch;
    if (sign_failed) {
        log("aliauth signing failed");
        after_proc([this, &l, e, id] {
            if (e != l.epoch) return;
            l.ops.erase(id);
            result_line(l.head("+QMTCONN") + "2");
            l.net->close();
            link_closed(l, 3, true);
        });
        return ok();
    }
    if (refuse_connect_rc_ != 0) {
        const int rc = refuse_connect_rc_;
        uplink(100, [this, &l, e, rc] {
            if (e == l.epoch) net_connack(l, rc);
        });
        return ok();
    }
    const std::size_t size = 14 + req.client_id.size() + (req.username ? req.username->size() : 0) +
                             (req.password ? req.password->size() : 0) + req.will.topic.size() +
                             req.will.message.size();
    uplink(size, [this, &l, e, req = std::move(req)] {
        if (e == l.epoch) l.net->connect(req);
    });
    return ok();
}

Module::Reply Module::cmd_disc(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTDISC: " + link_ids()});
    if (c.form != Form::set) return error(kNotSupported);
    Link* const lp = c.args.size() == 1 ? link_arg(c.args[0]) : nullptr;
    if (!lp) return error(kBadParam);
    Link& l = *lp;
    if (l.state != NetState::connected) {
        after_proc([this, &l] { result_line(l.head("+QMTDISC") + "-1"); });
        return ok();
    }
    l.state = NetState::disconnecting;
    l.disc_deadline = now_ + (opt_.proc_ms + opt_.rtt_ms + l.cfg.pkt_timeout * 1000) * 1000;
    const auto e = l.epoch;
    uplink(2, [this, &l, e] {
        if (e == l.epoch) l.net->disconnect();
    });
    return ok();
}

// ------------------------------------------------------------------------- AT+QMTSUB/UNS/PUB

Module::Reply Module::cmd_sub(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTSUB: " + link_ids() + ",(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]"});
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    long mid = 0;
    Link* const lp = a.size() >= 4 && (a.size() - 2) % 2 == 0 ? link_arg(a[0]) : nullptr;
    if (!lp || !int_in(a[1], 1, 65535, mid)) return error(kBadParam);
    Link& l = *lp;
    std::vector<std::pair<std::string, int>> topics;
    std::size_t size = 5;
    for (std::size_t i = 2; i < a.size(); i += 2) {
        long q = 0;
        if (!str_len(a[i], 1, kMaxTopic) || !valid_filter(a[i].text) || !int_in(a[i + 1], 0, 2, q))
            return error(kBadParam);
        topics.emplace_back(a[i].text, static_cast<int>(q));
        size += a[i].text.size() + 3;
    }
    if (l.state != NetState::connected) return error(kNotAllowed);
    if (l.msg_id_in_flight(OpKind::sub, static_cast<int>(mid))) return error(kBadParam);
    const OpId id = new_op(l, OpKind::sub, static_cast<int>(mid), 1);
    const auto e = l.epoch;
    uplink(size, [this, &l, e, id, topics = std::move(topics)] {
        if (e == l.epoch) l.net->subscribe(id, topics);
    });
    return ok();
}

Module::Reply Module::cmd_uns(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTUNS: " + link_ids() + ",(1-65535),<topic>[,<topic>...]"});
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    long mid = 0;
    Link* const lp = a.size() >= 3 ? link_arg(a[0]) : nullptr;
    if (!lp || !int_in(a[1], 1, 65535, mid)) return error(kBadParam);
    Link& l = *lp;
    std::vector<std::string> topics;
    std::size_t size = 4;
    for (std::size_t i = 2; i < a.size(); ++i) {
        if (!str_len(a[i], 1, kMaxTopic) || !valid_filter(a[i].text)) return error(kBadParam);
        topics.push_back(a[i].text);
        size += a[i].text.size() + 2;
    }
    if (l.state != NetState::connected) return error(kNotAllowed);
    if (l.msg_id_in_flight(OpKind::uns, static_cast<int>(mid))) return error(kBadParam);
    const OpId id = new_op(l, OpKind::uns, static_cast<int>(mid), 1);
    const auto e = l.epoch;
    uplink(size, [this, &l, e, id, topics = std::move(topics)] {
        if (e == l.epoch) l.net->unsubscribe(id, topics);
    });
    return ok();
}

Module::Reply Module::cmd_pub(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTPUB: " + link_ids() + ",(0-65535),(0-2),(0,1),<topic>,(1-1024)"});
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    long mid = 0, q = 0, rt = 0, len = 0;
    Link* const lp = a.size() == 5 || a.size() == 6 ? link_arg(a[0]) : nullptr;
    if (!lp || !int_in(a[1], 0, 65535, mid) || !int_in(a[2], 0, 2, q) || !int_in(a[3], 0, 1, rt) ||
        !str_len(a[4], 1, kMaxTopic) || !valid_topic_name(a[4].text)) {
        return error(kBadParam);
    }
    // QoS 1 and 2 need a msgID (1-65535). QoS 0 carries none on the wire: the id the host gives
    // comes back in the result, and only strict_pub_msgid refuses one other than 0.
    if (q > 0 && mid == 0) return error(kBadParam);
    if (q == 0 && mid != 0 && opt_.strict_pub_msgid) return error(kBadParam);
    if (a.size() == 6 && !int_in(a[5], 1, static_cast<long>(kMaxPayload), len))
        return error(kBadParam);
    Link& l = *lp;
    if (l.state != NetState::connected) return error(kNotAllowed);
    if (l.inflight_publishes() >= opt_.max_inflight) return error(kUplinkBusy);  // per link
    if (q > 0 && l.msg_id_in_flight(OpKind::pub, static_cast<int>(mid))) return error(kBadParam);
    DataMode d;
    d.link = l.id;
    d.msg_id = static_cast<int>(mid);
    d.qos = static_cast<int>(q);
    d.retain = rt == 1;
    d.topic = a[4].text;
    if (a.size() == 6) d.fixed_len = static_cast<std::size_t>(len);
    data_ = std::move(d);
    Reply r;
    r.prompt = true;
    return r;
}

// The payload is in (Ctrl+Z or its fixed length): the PUBLISH goes out on its link.
void Module::send_publish(Link& l, DataMode d, bool pubex) {
    const OpId id = new_op(l, OpKind::pub, d.msg_id, d.qos);
    if (pubex) l.pubex_ops.insert(id);
    log("publish msgID " + std::to_string(d.msg_id) + " qos " + std::to_string(d.qos) + " topic " +
        d.topic + " (" + std::to_string(d.payload.size()) + " bytes)");
    if (l.state != NetState::connected) {
        // The link went away while the host typed the payload.
        after_proc([this, &l, id] { fail_op(l, id); });
        return;
    }
    const std::size_t size = d.payload.size() + d.topic.size() + 4;
    const auto e = l.epoch;
    const bool qos0 = d.qos == 0;
    uplink(size, [this, &l, e, id, d = std::move(d)] {
        if (e != l.epoch) return;
        l.net->publish(id, d.qos, d.retain, d.topic, d.payload);
    });
    if (qos0) {
        // QoS 0 result 0 means "sent" (the note): once the packet has left the module, not a
        // round trip later. The network's own report then finds the op gone.
        at(uplink_free_, [this, &l, e, id] {
            if (e != l.epoch) return;
            const auto it = l.ops.find(id);
            if (it == l.ops.end()) return;
            const int mid = it->second.msg_id;
            l.ops.erase(it);
            result_line(pub_head(l, id, true) + std::to_string(mid) + ",0");
        });
    }
}

// ------------------------------------------------------------------------------ op bookkeeping

OpId Module::new_op(Link& l, OpKind kind, int msg_id, int qos) {
    const OpId id = next_op_++;
    Op op;
    op.kind = kind;
    op.msg_id = msg_id;
    op.qos = qos;
    const Micros pkt = static_cast<Micros>(l.cfg.pkt_timeout) * 1'000'000;
    // QoS 0 is never retransmitted: it only has until the whole retry budget is spent.
    op.deadline = now_ + (kind == OpKind::pub && qos == 0 ? pkt * (l.cfg.retry_times + 1) : pkt);
    if (kind == OpKind::pub && qos == 0) op.retries = l.cfg.retry_times;
    l.ops.emplace(id, op);
    return id;
}

void Module::fail_op(Link& l, OpId id) {
    const auto it = l.ops.find(id);
    if (it == l.ops.end()) return;
    const Op op = it->second;
    l.ops.erase(it);
    const std::string mid = std::to_string(op.msg_id);
    switch (op.kind) {
        case OpKind::pub:
            result_line(pub_head(l, id, true) + mid + ",2");
            break;
        case OpKind::sub:
            result_line(l.head("+QMTSUB") + mid + ",2");
            break;
        case OpKind::uns:
            result_line(l.head("+QMTUNS") + mid + ",2");
            break;
        case OpKind::conn:
            result_line(l.head("+QMTCONN") + "2");
            l.net->close();
            link_closed(l, 4, true);
            break;
    }
}

void Module::check_link_timers(Link& l) {
    if (l.state == NetState::opening && now_ >= l.open_deadline) {
        l.net->close();
        link_closed(l, 0, false);
        result_line(l.head("+QMTOPEN") + "-1");
    }
    if (l.state == NetState::disconnecting && now_ >= l.disc_deadline) {
        l.net->close();
        link_closed(l, 0, false);
        result_line(l.head("+QMTDISC") + "-1");
    }
    std::vector<OpId> due;
    for (const auto& [id, op] : l.ops) {
        if (op.deadline <= now_) due.push_back(id);
    }
    for (const OpId id : due) {
        auto it = l.ops.find(id);
        if (it == l.ops.end()) continue;
        Op& op = it->second;
        if (op.retries >= l.cfg.retry_times) {
            log("op msgID " + std::to_string(op.msg_id) + " failed after retries");
            fail_op(l, id);
            continue;
        }
        ++op.retries;
        op.deadline += static_cast<Micros>(l.cfg.pkt_timeout) * 1'000'000;
        if (l.cfg.timeout_notice == 1) {
            const std::string mid = std::to_string(op.msg_id);
            const std::string n = std::to_string(op.retries);
            switch (op.kind) {
                case OpKind::pub:
                    result_line(pub_head(l, id, false) + mid + ",1," + n);
                    break;
                case OpKind::sub:
                    result_line(l.head("+QMTSUB") + mid + ",1," + n);
                    break;
                case OpKind::uns:
                    result_line(l.head("+QMTUNS") + mid + ",1");
                    break;
                case OpKind::conn:
                    result_line(l.head("+QMTCONN") + "1");
                    break;
            }
        }
        l.net->retransmit(id);
    }
}

void Module::link_closed(Link& l, int stat_code, bool report) {
    ++l.epoch;
    l.state = NetState::closed;
    l.ops.clear();  // whatever was in flight is gone with the link; +QMTSTAT is the report
    l.pubex_ops.clear();
    if (report) urc_line(l.head("+QMTSTAT") + std::to_string(stat_code));
}

void Module::drop_link(int stat_code, int id) {
    if (id < 0 || id >= kLinkCount) return;
    Link& l = links_[static_cast<std::size_t>(id)];
    if (l.state == NetState::closed) return;
    log("link " + std::to_string(id) + " dropped, +QMTSTAT code " + std::to_string(stat_code));
    l.net->close();
    link_closed(l, stat_code, stat_code > 0);
}

void Module::drop_all() {
    for (int i = 0; i < kLinkCount; ++i) drop_link(7, i);
}

// ------------------------------------------------------------------------------ network events

void Module::net_open_result(Link& l, int result) {
    const auto e = l.epoch;
    // The network resolved and connected in one call: a named host cost a DNS round trip before
    // the TCP handshake (a name that did not resolve, 4, cost only that one).
    const int more = l.open_dns && result != 4 ? 1 : 0;
    downlink(
        [this, &l, e, result] {
            if (e != l.epoch || l.state != NetState::opening) return;
            l.state = result == 0 ? NetState::opened : NetState::closed;
            if (result != 0) ++l.epoch;
            result_line(l.head("+QMTOPEN") + std::to_string(result));
        },
        more);
}

void Module::apply_connack(Link& l, int return_code) {
    if (l.state != NetState::connecting) return;
    for (auto it = l.ops.begin(); it != l.ops.end(); ++it) {
        if (it->second.kind == OpKind::conn) {
            l.ops.erase(it);
            break;
        }
    }
    if (return_code == 0) {
        l.state = NetState::connected;
        result_line(l.head("+QMTCONN") + "0,0");
        return;
    }
    result_line(l.head("+QMTCONN") + "0," + std::to_string(return_code));
    l.net->close();
    link_closed(l, 4, true);
}

void Module::net_connack(Link& l, int return_code) {
    const auto e = l.epoch;
    downlink([this, &l, e, return_code] {
        if (e != l.epoch || stall_acks_) return;
        apply_connack(l, return_code);
    });
}

void Module::net_suback(Link& l, OpId op, std::vector<int> granted_qos) {
    const auto e = l.epoch;
    downlink([this, &l, e, op, g = std::move(granted_qos)] {
        if (e != l.epoch || stall_acks_) return;
        const auto it = l.ops.find(op);
        if (it == l.ops.end()) return;
        std::string line = l.head("+QMTSUB") + std::to_string(it->second.msg_id) + ",0";
        for (const int q : g) line += "," + std::to_string(q);
        l.ops.erase(it);
        result_line(line);
    });
}

void Module::net_unsuback(Link& l, OpId op) {
    const auto e = l.epoch;
    downlink([this, &l, e, op] {
        if (e != l.epoch || stall_acks_) return;
        const auto it = l.ops.find(op);
        if (it == l.ops.end()) return;
        const int mid = it->second.msg_id;
        l.ops.erase(it);
        result_line(l.head("+QMTUNS") + std::to_string(mid) + ",0");
    });
}

void Module::net_published(Link& l, OpId op) {
    const auto e = l.epoch;
    // QoS 2 is two exchanges: PUBLISH -> PUBREC, PUBREL -> PUBCOMP.
    const auto found = l.ops.find(op);
    const int more = found != l.ops.end() && found->second.qos == 2 ? 1 : 0;
    downlink(
        [this, &l, e, op] {
            if (e != l.epoch) return;
            const auto it = l.ops.find(op);
            if (it == l.ops.end()) return;
            if (stall_acks_ && it->second.qos > 0) return;
            const int mid = it->second.msg_id;
            l.ops.erase(it);
            result_line(pub_head(l, op, true) + std::to_string(mid) + ",0");
        },
        more);
}

void Module::net_message(Link& l, std::uint16_t packet_id, std::string topic, std::string payload,
                         int qos) {
    const auto e = l.epoch;
    const int mid = qos == 0 ? 0 : packet_id;
    downlink([this, &l, e, mid, t = std::move(topic), p = std::move(payload)] {
        if (e != l.epoch) return;
        if (l.state != NetState::connected && l.state != NetState::disconnecting) return;
        deliver(l, mid, t, p);
    });
}

void Module::net_disconnected(Link& l) {
    const auto e = l.epoch;
    downlink([this, &l, e] {
        if (e != l.epoch || l.state != NetState::disconnecting) return;
        link_closed(l, 0, false);
        l.closed_by_disc = true;
        result_line(l.head("+QMTDISC") + "0");
    });
}

void Module::net_link_lost(Link& l, int stat_code) {
    const auto e = l.epoch;
    downlink([this, &l, e, stat_code] {
        if (e != l.epoch) return;
        if (l.state == NetState::closed || l.state == NetState::opening) return;
        if (l.state == NetState::disconnecting) {
            // The server closed after our DISCONNECT: that is the disconnect completing.
            link_closed(l, 0, false);
            l.closed_by_disc = true;
            result_line(l.head("+QMTDISC") + "0");
            return;
        }
        log("link lost, +QMTSTAT code " + std::to_string(stat_code));
        link_closed(l, stat_code, true);
    });
}

}  // namespace bc28sim
