// --variant bg95 / ec2x: the MQTT commands that drivers for Quectel's BG9x and EC2x modules send
// on top of the BC28 note (Quectel "BG95&BG77&BG600L Series MQTT Application Note", "EC2x&EG9x
// MQTT Application Note"): AT+QMTCFG "recv/mode", "pdpcid" and "ssl", AT+QMTRECV (the buffered
// receive mode), AT+QMTPUBEX; each on the connect ID it names, 0-5 (docs/emulator.md, "Other
// Quectel modules"; the links themselves are in link.cpp).
// With the default variant (bc28) none of this is reachable and the model is the note's.
#include "bc28sim/module.hpp"

#include <algorithm>

namespace bc28sim {

namespace {

constexpr int kBadParam = 50;
constexpr int kNotSupported = 4;

std::string quote(const std::string& s) {
    return "\"" + s + "\"";
}

bool int_arg(const Arg& a, long lo, long hi, long& out) {
    const auto v = a.as_int();
    if (!v || *v < lo || *v > hi) return false;
    out = *v;
    return true;
}

}  // namespace

std::optional<Module::Reply> Module::dispatch_variant(const CommandLine& c) {
    if (c.name == "+QMTRECV") return cmd_recv(c);
    if (c.name == "+QMTPUBEX") return cmd_pubex(c);
    return std::nullopt;
}

void Module::qmtcfg_test_variant(std::vector<std::string>& lines) const {
    lines.push_back("+QMTCFG: \"pdpcid\"," + link_ids() + ",(1-16)");
    lines.push_back("+QMTCFG: \"ssl\"," + link_ids() + ",(0,1),(0-5)");
    lines.push_back("+QMTCFG: \"recv/mode\"," + link_ids() + ",(0,1),(0,1)");
}

std::optional<Module::Reply> Module::qmtcfg_variant(Link& l, const std::string& item,
                                                    const std::vector<Arg>& v) {
    Link::Cfg& cf = l.cfg;
    const std::string head = "+QMTCFG: \"" + item + "\",";
    long a = 0, b = 0;
    if (item == "recv/mode") {
        // [,<msg_recv_mode>[,<msg_len_enable>]]: 0 URC with the message / 1 buffered; 1 = the
        // URC or the read carries the payload length. A value left out keeps its setting.
        if (v.empty())
            return ok({head + std::to_string(cf.recv_mode) + "," + std::to_string(cf.recv_len)});
        b = cf.recv_len;
        if (v.size() > 2 || !int_arg(v[0], 0, 1, a) || (v.size() == 2 && !int_arg(v[1], 0, 1, b)))
            return error(kBadParam);
        cf.recv_mode = static_cast<int>(a);
        cf.recv_len = static_cast<int>(b);
        return ok();
    }
    if (item == "pdpcid") {
        if (v.empty()) return ok({head + std::to_string(cf.pdpcid)});
        if (v.size() != 1 || !int_arg(v[0], 1, 16, a)) return error(kBadParam);
        cf.pdpcid = static_cast<int>(a);  // one bearer here: remembered, not used
        return ok();
    }
    if (item == "ssl") {
        if (v.empty())
            return ok({head + std::to_string(cf.ssl) + "," + std::to_string(cf.ssl_ctx)});
        b = 0;
        if (v.size() > 2 || !int_arg(v[0], 0, 1, a) || (v.size() == 2 && !int_arg(v[1], 0, 5, b)))
            return error(kBadParam);
        cf.ssl = static_cast<int>(a);
        cf.ssl_ctx = static_cast<int>(b);
        if (cf.ssl) log("ssl set: the emulator still connects in plain TCP");
        return ok();
    }
    return std::nullopt;
}

// +QMTRECV: <id>,<msgID>,"<topic>"[,<payload_len>],<payload>
std::string Module::recv_line(const Link& l, int msg_id, const std::string& topic,
                              const std::string& payload) const {
    std::string s = l.head("+QMTRECV") + std::to_string(msg_id) + "," + quote(topic) + ",";
    if (variant_on() && l.cfg.recv_len == 1) s += std::to_string(payload.size()) + ",";
    return s + (opt_.recv_quoted ? quote(payload) : payload);
}

void Module::deliver(Link& l, int msg_id, const std::string& topic, const std::string& payload) {
    if (!variant_on() || l.cfg.recv_mode == 0) {
        urc_line(recv_line(l, msg_id, topic, payload));
        return;
    }
    // Buffered: the message waits in one of five slots; the URC only says which.
    for (std::size_t i = 0; i < l.slots.size(); ++i) {
        auto& slot = l.slots[i];
        if (slot.full) continue;
        slot.full = true;
        slot.msg_id = msg_id;
        slot.topic = topic;
        slot.payload = payload;
        urc_line(l.head("+QMTRECV") + std::to_string(i));
        return;
    }
    log("receive buffer of connect ID " + std::to_string(l.id) + " full (5 messages): message on " +
        topic + " dropped");
}

Module::Reply Module::cmd_recv(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTRECV: " + link_ids() + ",(0-4)"});
    if (c.form == Form::query) {
        // +QMTRECV: <client_idx>,<status_0>,...,<status_4>: 1 where a message waits. Connect
        // ID 0 always, the others while open or holding a message.
        std::vector<std::string> lines;
        for (const auto& l : links_) {
            const bool waiting = std::any_of(l.slots.begin(), l.slots.end(),
                                             [](const Link::Slot& sl) { return sl.full; });
            if (l.id != 0 && l.state == NetState::closed && !waiting) continue;
            std::string s = "+QMTRECV: " + std::to_string(l.id);
            for (const auto& slot : l.slots) s += slot.full ? ",1" : ",0";
            lines.push_back(s);
        }
        return ok(std::move(lines));
    }
    if (c.form != Form::set) return error(kNotSupported);
    long slot_id = -1;
    Link* const lp = !c.args.empty() && c.args.size() <= 2 ? link_arg(c.args[0]) : nullptr;
    if (!lp || (c.args.size() == 2 && !int_arg(c.args[1], 0, 4, slot_id))) return error(kBadParam);
    Link& l = *lp;
    // AT+QMTRECV=0,<recv_id> reads that slot; AT+QMTRECV=0 every full one. Read is freed.
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < l.slots.size(); ++i) {
        if (slot_id >= 0 && static_cast<long>(i) != slot_id) continue;
        auto& slot = l.slots[i];
        if (!slot.full) continue;
        lines.push_back(recv_line(l, slot.msg_id, slot.topic, slot.payload));
        slot = Link::Slot{};
    }
    return ok(std::move(lines));
}

// AT+QMTPUBEX=<client_idx>,<msgID>,<qos>,<retain>,"<topic>",<length>: AT+QMTPUB's fixed-length
// form under its own name; its results are +QMTPUBEX lines.
Module::Reply Module::cmd_pubex(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTPUBEX: " + link_ids() + ",<msgid>,(0-2),(0,1),\"topic\",\"length\""});
    if (c.form != Form::set) return error(kNotSupported);
    if (c.args.size() != 6) return error(kBadParam);
    CommandLine pub = c;
    pub.name = "+QMTPUB";
    Reply r = cmd_pub(pub);
    if (r.prompt) typing_pubex_ = true;
    return r;
}

std::string Module::pub_head(Link& l, OpId op, bool done) {
    const auto it = l.pubex_ops.find(op);
    if (it == l.pubex_ops.end()) return l.head("+QMTPUB");
    if (done) l.pubex_ops.erase(it);
    return l.head("+QMTPUBEX");
}

}  // namespace bc28sim
