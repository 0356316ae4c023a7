// --variant bg95 / ec2x: the MQTT commands that drivers for Quectel's BG9x and EC2x modules send
// on top of the BC28 note (Quectel "BG95&BG77&BG600L Series MQTT Application Note", "EC2x&EG9x
// MQTT Application Note"): AT+QMTCFG "recv/mode", "pdpcid" and "ssl", AT+QMTRECV (the buffered
// receive mode), AT+QMTPUBEX. Connect ID 0 only (docs/emulator.md, "Other Quectel modules").
// With the default variant (bc28) none of this is reachable and the model is the note's.
#include "bc28sim/module.hpp"

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
    lines.emplace_back("+QMTCFG: \"pdpcid\",(0),(1-16)");
    lines.emplace_back("+QMTCFG: \"ssl\",(0),(0,1),(0-5)");
    lines.emplace_back("+QMTCFG: \"recv/mode\",(0),(0,1),(0,1)");
}

std::optional<Module::Reply> Module::qmtcfg_variant(const std::string& item,
                                                    const std::vector<Arg>& v) {
    const std::string head = "+QMTCFG: \"" + item + "\",";
    long a = 0, b = 0;
    if (item == "recv/mode") {
        // [,<msg_recv_mode>[,<msg_len_enable>]]: 0 URC with the message / 1 buffered; 1 = the
        // URC or the read carries the payload length. A value left out keeps its setting.
        if (v.empty())
            return ok(
                {head + std::to_string(var_.recv_mode) + "," + std::to_string(var_.recv_len)});
        b = var_.recv_len;
        if (v.size() > 2 || !int_arg(v[0], 0, 1, a) || (v.size() == 2 && !int_arg(v[1], 0, 1, b)))
            return error(kBadParam);
        var_.recv_mode = static_cast<int>(a);
        var_.recv_len = static_cast<int>(b);
        return ok();
    }
    if (item == "pdpcid") {
        if (v.empty()) return ok({head + std::to_string(var_.pdpcid)});
        if (v.size() != 1 || !int_arg(v[0], 1, 16, a)) return error(kBadParam);
        var_.pdpcid = static_cast<int>(a);  // one bearer here: remembered, not used
        return ok();
    }
    if (item == "ssl") {
        if (v.empty())
            return ok({head + std::to_string(var_.ssl) + "," + std::to_string(var_.ssl_ctx)});
        b = 0;
        if (v.size() > 2 || !int_arg(v[0], 0, 1, a) || (v.size() == 2 && !int_arg(v[1], 0, 5, b)))
            return error(kBadParam);
        var_.ssl = static_cast<int>(a);
        var_.ssl_ctx = static_cast<int>(b);
        if (var_.ssl) log("ssl set: the emulator still connects in plain TCP");
        return ok();
    }
    return std::nullopt;
}

// +QMTRECV: 0,<msgID>,"<topic>"[,<payload_len>],<payload>
std::string Module::recv_line(int msg_id, const std::string& topic,
                              const std::string& payload) const {
    std::string l = "+QMTRECV: 0," + std::to_string(msg_id) + "," + quote(topic) + ",";
    if (variant_on() && var_.recv_len == 1) l += std::to_string(payload.size()) + ",";
    return l + (opt_.recv_quoted ? quote(payload) : payload);
}

void Module::deliver(int msg_id, const std::string& topic, const std::string& payload) {
    if (!variant_on() || var_.recv_mode == 0) {
        urc_line(recv_line(msg_id, topic, payload));
        return;
    }
    // Buffered: the message waits in one of five slots; the URC only says which.
    for (std::size_t i = 0; i < var_.slots.size(); ++i) {
        auto& slot = var_.slots[i];
        if (slot.full) continue;
        slot.full = true;
        slot.msg_id = msg_id;
        slot.topic = topic;
        slot.payload = payload;
        urc_line("+QMTRECV: 0," + std::to_string(i));
        return;
    }
    log("receive buffer full (5 messages): message on " + topic + " dropped");
}

Module::Reply Module::cmd_recv(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTRECV: (0),(0-4)"});
    if (c.form == Form::query) {
        // +QMTRECV: <client_idx>,<status_0>,...,<status_4>: 1 where a message waits.
        std::string l = "+QMTRECV: 0";
        for (const auto& slot : var_.slots) l += slot.full ? ",1" : ",0";
        return ok({l});
    }
    if (c.form != Form::set) return error(kNotSupported);
    long id = 0, slot_id = -1;
    if (c.args.empty() || c.args.size() > 2 || !int_arg(c.args[0], 0, 0, id) ||
        (c.args.size() == 2 && !int_arg(c.args[1], 0, 4, slot_id))) {
        return error(kBadParam);
    }
    // AT+QMTRECV=0,<recv_id> reads that slot; AT+QMTRECV=0 every full one. Read is freed.
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < var_.slots.size(); ++i) {
        if (slot_id >= 0 && static_cast<long>(i) != slot_id) continue;
        auto& slot = var_.slots[i];
        if (!slot.full) continue;
        lines.push_back(recv_line(slot.msg_id, slot.topic, slot.payload));
        slot = VariantState::Slot{};
    }
    return ok(std::move(lines));
}

// AT+QMTPUBEX=<client_idx>,<msgID>,<qos>,<retain>,"<topic>",<length>: AT+QMTPUB's fixed-length
// form under its own name; its results are +QMTPUBEX lines.
Module::Reply Module::cmd_pubex(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTPUBEX: (0),<msgid>,(0-2),(0,1),\"topic\",\"length\""});
    if (c.form != Form::set) return error(kNotSupported);
    if (c.args.size() != 6) return error(kBadParam);
    CommandLine pub = c;
    pub.name = "+QMTPUB";
    Reply r = cmd_pub(pub);
    if (r.prompt) var_.typing_pubex = true;
    return r;
}

std::string Module::pub_head(OpId op, bool done) {
    const auto it = var_.pubex_ops.find(op);
    if (it == var_.pubex_ops.end()) return "+QMTPUB: 0,";
    if (done) var_.pubex_ops.erase(it);
    return "+QMTPUBEX: 0,";
}

}  // namespace bc28sim
