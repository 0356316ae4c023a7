#include "bc28sim/module.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace bc28sim {

namespace {

constexpr char kCtrlZ = 0x1A;
constexpr char kEsc = 0x1B;
constexpr std::size_t kMaxLine = 2048;
constexpr std::size_t kMaxPayload = 1024;
constexpr std::size_t kMaxTopic = 255;
constexpr std::size_t kMaxHost = 100;
constexpr std::size_t kMaxWillMsg = 255;
constexpr std::size_t kMaxClientId = 255;  // the note gives none: its longest other string
constexpr std::size_t kMaxCredential = 256;

// CME error codes the model answers with.
constexpr int kNotAllowed = 3;
constexpr int kNotSupported = 4;
constexpr int kBadParam = 50;
constexpr int kUplinkBusy = 159;

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool int_in(const Arg& a, long lo, long hi, long& out) {
    const auto v = a.as_int();
    if (!v || *v < lo || *v > hi) return false;
    out = *v;
    return true;
}

bool is_conn_id(const Arg& a) {
    const auto v = a.as_int();
    return v && *v == 0;
}

bool str_len(const Arg& a, std::size_t lo, std::size_t hi) {
    return a.is_string() && a.text.size() >= lo && a.text.size() <= hi;
}

std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}

// MQTT 3.1.1 section 1.5.3: UTF-8, well formed, no NUL.
bool valid_utf8(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0) return false;
        std::size_t n = 0;
        if (c < 0x80)
            n = 0;
        else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
            n = 1;
        else if ((c & 0xF0) == 0xE0)
            n = 2;
        else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
            n = 3;
        else
            return false;
        if (i + n >= s.size()) return false;  // a sequence cut short
        for (std::size_t k = 1; k <= n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n + 1;
    }
    return true;
}

// MQTT 3.1.1 section 4.7.1: '#' alone in the last level, '+' alone in its level.
bool valid_filter(const std::string& f) {
    if (!valid_utf8(f)) return false;
    std::size_t start = 0;
    for (;;) {
        const auto end = f.find('/', start);
        const std::string level = f.substr(start, end == std::string::npos ? end : end - start);
        if (level.find('#') != std::string::npos && (level != "#" || end != std::string::npos))
            return false;
        if (level.find('+') != std::string::npos && level != "+") return false;
        if (end == std::string::npos) return true;
        start = end + 1;
    }
}

// MQTT 3.1.1 section 4.7.3: a topic name carries no wildcard.
bool valid_topic_name(const std::string& t) {
    return valid_utf8(t) && t.find_first_of("+#") == std::string::npos;
}

// What AT+QMTOPEN can use: an IPv4 address, an IPv6 literal, or a host name (RFC 1123 labels,
// '_' tolerated as resolvers do). Anything else is the note's result 1, wrong parameter.
bool usable_host(const std::string& h) {
    if (h.find(':') != std::string::npos) {
        return h.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
    }
    if (h.find_first_not_of("0123456789.") == std::string::npos) {
        int dots = 0;
        long octet = -1;
        for (const char c : h + ".") {
            if (c == '.') {
                if (octet < 0 || octet > 255) return false;
                ++dots;
                octet = -1;
            } else {
                octet = (octet < 0 ? 0 : octet * 10) + (c - '0');
                if (octet > 999) return false;
            }
        }
        return dots == 4;
    }
    std::size_t start = 0;
    std::string name = h;
    if (!name.empty() && name.back() == '.') name.pop_back();  // an absolute name
    if (name.empty() || name.size() > 253) return false;
    for (;;) {
        const auto end = name.find('.', start);
        const std::string label = name.substr(start, end == std::string::npos ? end : end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (const char c : label) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
        }
        if (end == std::string::npos) return true;
        start = end + 1;
    }
}

// An IPv4 dotted quad or an IPv6 literal: no DNS round trip before the connect.
bool is_ip_literal(const std::string& h) {
    if (h.find(':') != std::string::npos) return true;
    int dots = 0;
    for (const char c : h) {
        if (c == '.')
            ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(c)))
            return false;
    }
    return dots == 3;
}

// The host part of a URL: scheme://host[:port]/path, [v6] kept as is.
std::string url_host(const std::string& url) {
    std::string h = url;
    const auto scheme = h.find("://");
    if (scheme != std::string::npos) h.erase(0, scheme + 3);
    const auto slash = h.find_first_of("/?#");
    if (slash != std::string::npos) h.erase(slash);
    const auto at = h.rfind('@');
    if (at != std::string::npos) h.erase(0, at + 1);
    if (!h.empty() && h.front() == '[') return h;  // an IPv6 literal
    const auto colon = h.find(':');
    if (colon != std::string::npos) h.erase(colon);
    return h;
}

}  // namespace

Module::Module(Network& net, Output out, Options opt)
    : net_(net), out_(std::move(out)), opt_(std::move(opt)) {
    net_.attach(this);
}

Module::~Module() {
    net_.attach(nullptr);
}

// ------------------------------------------------------------------------------------------ time

void Module::advance_us(Micros now) {
    // Visit every deadline on the way, so that a long step fires each retransmission in turn
    // (and, on a paced UART, takes each byte at its own time).
    for (int guard = 0; guard < 10000000; ++guard) {
        const auto d = next_deadline_us();
        if (!d || *d > now) break;
        if (*d > now_) now_ = *d;
        run_due();
        const auto after = next_deadline_us();
        if (after && *after == *d && *d <= now_) break;  // nothing consumed it (cannot happen)
    }
    if (now > now_) now_ = now;
    run_due();
}

void Module::at(Micros when, std::function<void()> fn) {
    actions_.emplace(when, std::move(fn));
}

void Module::run_due() {
    for (int guard = 0; guard < 100000; ++guard) {
        bool progressed = false;
        while (!outq_.empty() && outq_.front().first <= now_) {
            std::string bytes = std::move(outq_.front().second);
            outq_.pop_front();
            to_uart(std::move(bytes));
            progressed = true;
        }
        while (!rx_.empty() && rx_due() <= now_) {
            const auto [c, first] = rx_.front();
            rx_.pop_front();
            ++rx_done_;
            take_byte(c, first);
            emit(std::string());  // the echo, byte by byte as it came in
            progressed = true;
        }
        if (!actions_.empty() && actions_.begin()->first <= now_) {
            auto fn = std::move(actions_.begin()->second);
            actions_.erase(actions_.begin());
            fn();
            progressed = true;
        }
        if (!progressed) break;
    }
    check_timers();
    // Timers may have queued immediate work.
    while (!actions_.empty() && actions_.begin()->first <= now_) {
        auto fn = std::move(actions_.begin()->second);
        actions_.erase(actions_.begin());
        fn();
    }
    // Module bytes whose last bit is out reach the host.
    std::size_t n = 0;
    while (n < tx_.size() && tx_start_ + uart_done_us(tx_done_ + n, opt_.baud) <= now_) ++n;
    if (n > 0) {
        std::string bytes = tx_.substr(0, n);
        tx_.erase(0, n);
        tx_done_ += n;
        out_(bytes);
    }
}

void Module::to_uart(std::string bytes) {
    if (bytes.empty()) return;
    if (opt_.baud == 0) {
        out_(bytes);
        return;
    }
    if (tx_.empty()) {  // the line was idle: a new burst from now
        tx_start_ = now_;
        tx_done_ = 0;
    }
    tx_ += bytes;
}

std::optional<Millis> Module::next_deadline() const {
    const auto d = next_deadline_us();
    if (!d) return std::nullopt;
    return (*d + 999) / 1000;
}

std::optional<Micros> Module::next_deadline_us() const {
    std::optional<Micros> d;
    auto take = [&d](Micros t) {
        if (!d || t < *d) d = t;
    };
    if (!actions_.empty()) take(actions_.begin()->first);
    if (!outq_.empty()) take(outq_.front().first);
    for (const auto& [id, op] : ops_) take(op.deadline);
    if (state_ == NetState::opening) take(open_deadline_);
    if (state_ == NetState::disconnecting) take(disc_deadline_);
    if (!rx_.empty()) take(rx_due());
    if (!tx_.empty()) take(tx_due());
    if (const auto p = psm_deadline()) take(*p);
    return d;
}

void Module::uplink(std::size_t bytes, std::function<void()> fn) {
    const Micros start = std::max(now_ + proc_us(), uplink_free_);
    Micros tx = 0;
    if (opt_.uplink_kbps > 0) {
        // kbit/s == bit/ms
        tx = static_cast<Micros>((bytes * 8 * 1000 + opt_.uplink_kbps - 1) / opt_.uplink_kbps);
    }
    uplink_free_ = start + tx;
    psm_touch();
    at(uplink_free_ + opt_.rtt_ms / 2 * 1000, [this, fn = std::move(fn)] {
        psm_touch();
        fn();
    });
}

void Module::downlink(std::function<void()> fn, int more_rtts) {
    at(now_ + (opt_.rtt_ms - opt_.rtt_ms / 2 + more_rtts * opt_.rtt_ms) * 1000,
       [this, fn = std::move(fn)] {
           psm_touch();
           fn();
       });
}

void Module::after_proc(std::function<void()> fn) {
    at(now_ + proc_us(), std::move(fn));
}

std::uint64_t Module::wall_ms() const {
    if (opt_.unix_ms) return opt_.unix_ms();
    return 1700000000000ULL + static_cast<std::uint64_t>(now_ / 1000);
}

void Module::log(const std::string& s) const {
    if (log_) log_(s);
}

// ---------------------------------------------------------------------------------------- output

void Module::emit(std::string bytes) {
    if (!echo_.empty()) {
        std::string e;
        e.swap(echo_);
        emit(std::move(e));
    }
    if (bytes.empty()) return;
    if (outq_.empty()) {
        to_uart(std::move(bytes));
    } else {
        outq_.emplace_back(outq_.back().first, std::move(bytes));
    }
}

void Module::emit_at(Micros due, std::string bytes) {
    emit(std::string());  // the echo before it is not held back
    if (!outq_.empty() && outq_.back().first > due) due = outq_.back().first;  // UART order
    outq_.emplace_back(std::max(due, now_), std::move(bytes));
}

void Module::send_reply(const Reply& r) {
    std::string head;
    if (!r.info.empty()) {
        head = "\r\n";
        for (std::size_t i = 0; i < r.info.size(); ++i) {
            if (i) head += "\r\n";
            head += r.info[i];
        }
        head += "\r\n";
    }
    std::string tail;
    if (urc_next_ && (!r.final_line.empty() || r.prompt)) {
        tail += "\r\n" + *urc_next_ + "\r\n";
        urc_next_.reset();
    }
    if (!r.final_line.empty()) tail += "\r\n" + r.final_line + "\r\n";
    std::string prompt;
    if (r.prompt) prompt = opt_.prompt_space ? "\r\n> " : "\r\n>";
    if (!prompt.empty() && delay_prompt_) {
        // In data mode already; only the '>' is late.
        const Millis late = *delay_prompt_;
        delay_prompt_.reset();
        write_reply(head + tail);
        log("prompt held back " + std::to_string(late) + " ms");
        emit_at(now_ + late * 1000, std::move(prompt));
        return;
    }
    write_reply(head + tail + prompt);
}

void Module::write_reply(std::string all) {
    if (all.empty()) return;
    emit(std::string());  // flush the echo first, undelayed
    if (delay_next_) {
        const Millis late = *delay_next_;
        delay_next_.reset();
        emit_at(now_ + late * 1000, std::move(all));
        return;
    }
    if (split_next_ && all.size() >= 2) {
        const Millis gap = *split_next_;
        split_next_.reset();
        const std::size_t half = all.size() / 2;
        emit(all.substr(0, half));
        emit_at(now_ + gap * 1000, all.substr(half));
        return;
    }
    emit(std::move(all));
}

void Module::result_line(const std::string& line) {
    write_line(LineKind::result, line);
}

void Module::urc_line(const std::string& line) {
    write_line(LineKind::urc, line);
}

void Module::write_line(LineKind kind, const std::string& line) {
    if (data_) {
        deferred_.emplace_back(kind, line);
        return;
    }
    const bool late = kind == LineKind::result && delay_result_.has_value();
    std::string shown = line;
    if (line.rfind("+QMTTENAUTH: 0,", 0) == 0) shown = "+QMTTENAUTH: 0,<password redacted>";
    log(std::string(kind == LineKind::urc ? "urc " : "result ") + shown +
        (late ? " (held back " + std::to_string(*delay_result_) + " ms)" : ""));
    if (late) {
        const Micros due = now_ + *delay_result_ * 1000;
        delay_result_.reset();
        emit_at(due, "\r\n" + line + "\r\n");
        return;
    }
    emit("\r\n" + line + "\r\n");
}

void Module::flush_deferred() {
    auto lines = std::move(deferred_);
    deferred_.clear();
    for (const auto& [kind, l] : lines) write_line(kind, l);
}

void Module::urc(const std::string& line) {
    urc_line(line);
}

void Module::garbage(std::string_view bytes) {
    emit(std::string(bytes));
}

void Module::split_next(Millis gap_ms) {
    split_next_ = gap_ms;
}
void Module::delay_next(Millis delay_ms) {
    delay_next_ = delay_ms;
}
void Module::delay_prompt(Millis delay_ms) {
    delay_prompt_ = delay_ms;
}
void Module::delay_result(Millis delay_ms) {
    delay_result_ = delay_ms;
}
void Module::urc_in_next_reply(std::string line) {
    urc_next_ = std::move(line);
}

Module::Reply Module::error(int cme) const {
    Reply r;
    r.final_line = s_.cmee == 1 ? "+CME ERROR: " + std::to_string(cme) : "ERROR";
    return r;
}

Module::Reply Module::ok(std::vector<std::string> info) const {
    Reply r;
    r.info = std::move(info);
    r.final_line = "OK";
    return r;
}

// ----------------------------------------------------------------------------------------- input

void Module::feed(std::string_view bytes) {
    if (opt_.baud > 0) {
        // On the line: each byte is taken in advance() once its last bit is in.
        if (rx_.empty()) {  // the line was idle: a new burst from now
            rx_start_ = now_;
            rx_done_ = 0;
        }
        bool first = true;
        for (const char c : bytes) {
            rx_.emplace_back(c, first);
            first = false;
        }
        return;
    }
    bool first = true;
    for (const char c : bytes) {
        take_byte(c, first);
        first = false;
    }
    skip_lf_ = false;
    emit(std::string());  // flush the echo
    run_due();
}

void Module::take_byte(char c, bool first_of_write) {
    if (rebooting_) return;  // a rebooting module hears nothing
    psm_host_byte();
    if (first_of_write) skip_lf_ = false;
    if (skip_lf_ && c == '\n') {
        skip_lf_ = false;  // the LF of a CR LF that ended AT+QMTPUB is not payload
        return;
    }
    skip_lf_ = false;
    if (data_) {
        feed_data_byte(c);
    } else {
        feed_byte(c);
    }
}

void Module::feed_byte(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\r' && c != '\n' && c != 0x08) {
        // V.250 5.2.2: control characters in a command line are ignored. A stray ESC or Ctrl+Z
        // (a host cancelling a publish the module never took) neither echoes nor spoils the
        // next command line.
        return;
    }
    if (s_.echo) echo_ += c;
    if (c == '\r') {
        std::string line;
        line.swap(line_);
        const bool overflow = overflow_;
        overflow_ = false;
        if (overflow) {
            send_reply(error(kNotSupported));
            return;
        }
        if (!line.empty()) run_line(line);
        if (data_) skip_lf_ = true;
        return;
    }
    if (c == '\n') return;
    if (c == 0x08 || c == 0x7F) {
        if (!line_.empty()) line_.pop_back();
        return;
    }
    if (line_.size() >= kMaxLine) {
        overflow_ = true;
        return;
    }
    line_ += c;
}

void Module::feed_data_byte(char c) {
    DataMode& d = *data_;
    if (d.fixed_len) {
        d.payload += c;
        if (s_.echo) echo_ += c;
        if (d.payload.size() >= *d.fixed_len) finish_data(true);
        return;
    }
    if (c == kCtrlZ) {
        finish_data(true);
        return;
    }
    if (c == kEsc) {
        finish_data(false);
        return;
    }
    if (d.payload.size() >= kMaxPayload) return;  // beyond 1024 bytes: ignored, nor echoed
    if (s_.echo) echo_ += c;
    d.payload += c;
}

void Module::finish_data(bool send) {
    DataMode d = std::move(*data_);
    data_.reset();
    const bool pubex = var_.typing_pubex;
    var_.typing_pubex = false;
    if (!send) {
        log("publish cancelled (ESC)");
        send_reply(ok());
        flush_deferred();
        return;
    }
    send_reply(ok());
    const OpId id = new_op(OpKind::pub, d.msg_id, d.qos);
    if (pubex) var_.pubex_ops.insert(id);
    log("publish msgID " + std::to_string(d.msg_id) + " qos " + std::to_string(d.qos) + " topic " +
        d.topic + " (" + std::to_string(d.payload.size()) + " bytes)");
    if (state_ != NetState::connected) {
        // The link went away while the host typed the payload.
        after_proc([this, id] { fail_op(id); });
    } else {
        const std::size_t size = d.payload.size() + d.topic.size() + 4;
        const auto e = link_epoch_;
        const bool qos0 = d.qos == 0;
        uplink(size, [this, e, id, d = std::move(d)] {
            if (e != link_epoch_) return;
            net_.publish(id, d.qos, d.retain, d.topic, d.payload);
        });
        if (qos0) {
            // QoS 0 result 0 means "sent" (the note): once the packet has left the module, not a
            // round trip later. The network's own report then finds the op gone.
            at(uplink_free_, [this, e, id] {
                if (e != link_epoch_) return;
                const auto it = ops_.find(id);
                if (it == ops_.end()) return;
                const int mid = it->second.msg_id;
                ops_.erase(it);
                result_line(pub_head(id, true) + std::to_string(mid) + ",0");
            });
        }
    }
    flush_deferred();
}

void Module::run_line(const std::string& raw) {
    // V.250 5.2.1: a command line begins with the "AT" prefix; what came before it on the line
    // (line noise, the rest of a payload the module never asked for) is not part of it.
    std::string_view line = raw;
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
        if ((line[i] == 'A' || line[i] == 'a') && (line[i + 1] == 'T' || line[i + 1] == 't')) {
            if (i > 0) log("ignored " + std::to_string(i) + " byte(s) before the AT prefix");
            line.remove_prefix(i);
            break;
        }
    }
    const ParseResult p = parse_command_line(line);
    if (!p.cmd) {
        log("bad command line");
        send_reply(error(p.error == ParseError::not_at ? kNotSupported : kBadParam));
        return;
    }
    const CommandLine& c = *p.cmd;
    {
        static const char* forms[] = {"exec", "query", "test", "set"};
        log(std::string("cmd AT") + c.name + " " + forms[static_cast<int>(c.form)]);
    }
    const Reply r = dispatch(c);
    send_reply(r);
    if (r.prompt) log("prompt");
}

Module::Reply Module::dispatch(const CommandLine& c) {
    if (!c.extended) return cmd_basic(c);
    const std::string& n = c.name;
    if (n == "+QMTCFG") return cmd_qmtcfg(c);
    if (n == "+QMTTENAUTH" || n == "+QMTENAUTH") return cmd_tenauth(c);
    if (n == "+QMTOPEN") return cmd_open(c);
    if (n == "+QMTCLOSE") return cmd_close(c);
    if (n == "+QMTCONN") return cmd_conn(c);
    if (n == "+QMTDISC") return cmd_disc(c);
    if (n == "+QMTSUB") return cmd_sub(c);
    if (n == "+QMTUNS") return cmd_uns(c);
    if (n == "+QMTPUB") return cmd_pub(c);
    if (auto r = cmd_nb(c)) return *r;  // NB-IoT bring-up and PSM (nb_commands.cpp)
    if (variant_on()) {
        if (auto r = dispatch_variant(c)) return *r;
    }
    return cmd_3gpp(c);
}

// -------------------------------------------------------------------------- bring-up commands

Module::Reply Module::cmd_basic(const CommandLine& c) {
    if (c.form != Form::exec) return error(kNotSupported);
    const std::string& n = c.name;
    if (n.empty() || n == "Z" || n == "&F" || n == "&W") return ok();
    if (n == "E0" || n == "E") {
        s_.echo = false;
        return ok();
    }
    if (n == "E1") {
        s_.echo = true;
        return ok();
    }
    if (n == "I" || n == "I0") {
        return ok({"Quectel", opt_.identity.model, "Revision:" + opt_.identity.revision});
    }
    return error(kNotSupported);
}

Module::Reply Module::cmd_3gpp(const CommandLine& c) {
    const std::string& n = c.name;
    long v = 0;
    if (n == "+CMEE") {
        if (c.form == Form::query) return ok({"+CMEE:" + std::to_string(s_.cmee)});
        if (c.form == Form::test) return ok({"+CMEE:(0,1)"});
        if (c.form == Form::set && c.args.size() == 1 && int_in(c.args[0], 0, 1, v)) {
            s_.cmee = static_cast<int>(v);
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+CIMI") {
        if (c.form == Form::test) return ok();
        if (c.form != Form::exec) return error(kNotSupported);
        if (s_.cfun == 0) return error(kNotAllowed);
        return ok({opt_.identity.imsi});
    }
    if (n == "+NCCID") {
        if (c.form == Form::test) return ok();
        if (c.form != Form::exec && c.form != Form::query) return error(kNotSupported);
        return ok({"+NCCID:" + opt_.identity.iccid});
    }
    if (n == "+CGATT") {
        if (c.form == Form::query) return ok({"+CGATT:" + std::to_string(s_.cgatt)});
        if (c.form == Form::test) return ok({"+CGATT:(0,1)"});
        if (c.form == Form::set && c.args.size() == 1 && int_in(c.args[0], 0, 1, v)) {
            s_.cgatt = static_cast<int>(v);
            if (s_.cgatt == 0) at(now_, [this] { drop_link(7); });  // after the OK
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+CEREG") {
        const int stat = (s_.cgatt && s_.cfun) ? 1 : 0;
        if (c.form == Form::query) {
            return ok({"+CEREG:" + std::to_string(s_.cereg_n) + "," + std::to_string(stat)});
        }
        if (c.form == Form::test) return ok({"+CEREG:(0-5)"});
        if (c.form == Form::set && c.args.size() == 1 && int_in(c.args[0], 0, 5, v)) {
            s_.cereg_n = static_cast<int>(v);
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+CSQ") {
        if (c.form == Form::test) return ok({"+CSQ:(0-31,99),(99)"});
        if (c.form != Form::exec) return error(kNotSupported);
        const int rssi = (s_.cgatt && s_.cfun) ? opt_.csq : 99;
        return ok({"+CSQ:" + std::to_string(rssi) + ",99"});
    }
    if (n == "+CFUN") {
        if (c.form == Form::query) return ok({"+CFUN:" + std::to_string(s_.cfun)});
        if (c.form == Form::test) return ok({"+CFUN:(0,1)"});
        if (c.form == Form::set && !c.args.empty() && c.args.size() <= 2 &&
            int_in(c.args[0], 0, 1, v)) {
            s_.cfun = static_cast<int>(v);
            if (s_.cfun == 0) at(now_, [this] { drop_link(7); });
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+NRB") {
        if (c.form != Form::exec) return error(kNotSupported);
        emit(std::string());
        Reply r;
        r.info = {"REBOOTING"};
        send_reply(r);
        reboot("REBOOT_CAUSE_APPLICATION_AT");
        return Reply{};
    }
    return error(kNotSupported);
}

void Module::reboot(const std::string& cause) {
    log("reboot (" + cause + ")");
    if (state_ != NetState::closed) net_.close();
    ++boot_epoch_;
    ++link_epoch_;
    state_ = NetState::closed;
    ops_.clear();
    token_op_ = 0;
    actions_.clear();
    deferred_.clear();
    outq_.clear();  // output held back by a fault was never written: it dies with the firmware
    data_.reset();
    line_.clear();
    echo_.clear();
    overflow_ = false;
    split_next_.reset();
    delay_next_.reset();
    delay_prompt_.reset();
    delay_result_.reset();
    urc_next_.reset();
    uplink_free_ = now_;
    const bool echo = s_.echo;
    s_ = Settings{};  // nothing survives a reboot (the note: 掉电后不保存)
    nb_reboot();      // but the NB-IoT NV settings do (nb_commands.cpp)
    if (opt_.reboot_keeps_echo) s_.echo = echo;
    closed_by_disc_ = false;
    var_ = VariantState{};
    rebooting_ = true;
    const auto be = boot_epoch_;
    at(now_ + opt_.boot_ms * 1000, [this, be, cause] {
        if (be == boot_epoch_) boot_done(cause);
    });
}

void Module::boot_done(const std::string& cause) {
    rebooting_ = false;
    log("boot complete");
    emit("\r\n" + cause + "\r\nNeul\r\nOK\r\n");
}

// ---------------------------------------------------------------------------------- AT+QMTCFG

Module::Reply Module::cmd_qmtcfg(const CommandLine& c) {
    if (c.form == Form::test) {
        std::vector<std::string> lines{
            "+QMTCFG: \"version\",(0),(3,4)",
            "+QMTCFG: \"keepalive\",(0),(0-3600)",
            "+QMTCFG: \"session\",(0),(0,1)",
            "+QMTCFG: \"timeout\",(0),(1-60),(0-10),(0,1)",
            "+QMTCFG: \"will\",(0),(0,1),(0-2),(0,1),<will_topic>,<will_msg>",
            "+QMTCFG: \"aliauth\",(0),<productkey>,<devicename>,<devicesecret>",
        };
        if (variant_on()) qmtcfg_test_variant(lines);
        return ok(std::move(lines));
    }
    if (c.form != Form::set) return error(kNotSupported);
    if (c.args.size() < 2 || !c.args[0].is_string() || !is_conn_id(c.args[1]))
        return error(kBadParam);
    const std::string item = lower(c.args[0].text);
    const std::vector<Arg> v(c.args.begin() + 2, c.args.end());
    const std::string head = "+QMTCFG: \"" + item + "\",";
    long x = 0;

    if (item == "version") {
        if (v.empty()) return ok({head + std::to_string(s_.version)});
        if (v.size() == 1 && int_in(v[0], 3, 4, x)) {
            s_.version = static_cast<int>(x);
            return ok();
        }
        return error(kBadParam);
    }
    if (item == "keepalive") {
        if (v.empty()) return ok({head + std::to_string(s_.keepalive)});
        if (v.size() == 1 && int_in(v[0], 0, 3600, x)) {
            s_.keepalive = static_cast<int>(x);
            return ok();
        }
        return error(kBadParam);
    }
    if (item == "session") {
        if (v.empty()) return ok({head + std::to_string(s_.clean)});
        if (v.size() == 1 && int_in(v[0], 0, 1, x)) {
            s_.clean = static_cast<int>(x);
            return ok();
        }
        return error(kBadParam);
    }
    if (item == "timeout") {
        if (v.empty()) {
            return ok({head + std::to_string(s_.pkt_timeout) + "," +
                       std::to_string(s_.retry_times) + "," + std::to_string(s_.timeout_notice)});
        }
        if (v.size() > 3) return error(kBadParam);
        long p = 0, r = s_.retry_times, n = s_.timeout_notice;
        if (!int_in(v[0], 1, 60, p)) return error(kBadParam);
        if (v.size() >= 2 && !int_in(v[1], 0, 10, r)) return error(kBadParam);
        if (v.size() >= 3 && !int_in(v[2], 0, 1, n)) return error(kBadParam);
        s_.pkt_timeout = static_cast<int>(p);
        s_.retry_times = static_cast<int>(r);
        s_.timeout_notice = static_cast<int>(n);
        return ok();
    }
    if (item == "will") {
        if (v.empty()) {
            if (!s_.will.enabled) return ok({head + "0"});
            return ok({head + "1," + std::to_string(s_.will.qos) + "," +
                       std::to_string(s_.will.retain ? 1 : 0) + "," + quoted(s_.will.topic) + "," +
                       quoted(s_.will.message)});
        }
        long fg = 0;
        if (!int_in(v[0], 0, 1, fg)) return error(kBadParam);
        if (fg == 0) {
            // will_fg = 0: the other four must be left out.
            if (v.size() != 1) return error(kBadParam);
            s_.will = Will{};
            return ok();
        }
        // will_fg = 1: all four must follow.
        long q = 0, rt = 0;
        if (v.size() != 5 || !int_in(v[1], 0, 2, q) || !int_in(v[2], 0, 1, rt) ||
            !str_len(v[3], 1, kMaxTopic) || !valid_topic_name(v[3].text) ||
            !str_len(v[4], 0, kMaxWillMsg)) {
            return error(kBadParam);
        }
        s_.will.enabled = true;
        s_.will.qos = static_cast<int>(q);
        s_.will.retain = rt == 1;
        s_.will.topic = v[3].text;
        s_.will.message = v[4].text;
        return ok();
    }
    if (item == "aliauth") {
        if (v.empty()) {
            if (!s_.aliauth) return ok();
            return ok(
                {head + quoted(s_.ali_pk) + "," + quoted(s_.ali_dn) + "," + quoted(s_.ali_ds)});
        }
        if (v.size() != 3 || !str_len(v[0], 1, kMaxCredential) ||
            !str_len(v[1], 1, kMaxCredential) || !str_len(v[2], 1, kMaxCredential)) {
            return error(kBadParam);
        }
        s_.aliauth = true;
        s_.ali_pk = v[0].text;
        s_.ali_dn = v[1].text;
        s_.ali_ds = v[2].text;
        return ok();
    }
    if (variant_on()) {
        if (auto r = qmtcfg_variant(item, v)) return *r;
    }
    return error(kBadParam);
}

// ------------------------------------------------------------------------------ AT+QMTTENAUTH

Module::Reply Module::cmd_tenauth(const CommandLine& c) {
    if (c.form == Form::test) {
        return ok(
            {"+QMTTENAUTH: <product_id>,<device_name>,<client_id>,<device_secret>,<expire>,<url>"});
    }
    if (c.form == Form::query) {
        if (!s_.have_token) return ok();
        return ok({"+QMTTENAUTH: " + s_.token_password});
    }
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    if (a.size() < 4 || a.size() > 6) return error(kBadParam);
    for (int i = 0; i < 4; ++i) {
        if (!str_len(a[i], 1, kMaxCredential)) return error(kBadParam);
    }
    if (a[2].text != a[0].text + "@" + a[1].text) return error(kBadParam);
    long expire = 60;
    if (a.size() >= 5 && !a[4].is_empty() && !int_in(a[4], 1, 60, expire)) return error(kBadParam);
    std::string url = opt_.token_url;
    if (a.size() == 6) {
        if (!str_len(a[5], 1, 255)) return error(kBadParam);
        url = a[5].text;
    }
    if (token_op_ != 0) return error(kNotAllowed);  // one request at a time

    TokenFetch f;
    f.url = url;
    f.product_id = a[0].text;
    f.device_name = a[1].text;
    f.client_id = a[2].text;
    f.device_secret = a[3].text;
    f.expire_days = static_cast<unsigned>(expire);
    const OpId id = next_op_++;
    token_op_ = id;
    if (!s_.cgatt || !s_.cfun) {
        // No bearer: the socket cannot be set up (2), no network exchange.
        const auto be0 = boot_epoch_;
        after_proc([this, be0, id] { token_result(be0, id, 2, {}, {}); });
        return ok();
    }
    token_dns_ = !is_ip_literal(url_host(url));
    const auto be = boot_epoch_;
    uplink(200, [this, be, id, f = std::move(f)] {
        if (be == boot_epoch_) net_.fetch_token(id, f);
    });
    return ok();
}

// --------------------------------------------------------------------------- AT+QMTOPEN/CLOSE

Module::Reply Module::cmd_open(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTOPEN: (0),<host_name>,<port>"});
    if (c.form == Form::query) {
        if (state_ == NetState::closed) return ok();
        return ok({"+QMTOPEN: 0," + quoted(host_) + "," + std::to_string(port_)});
    }
    if (c.form != Form::set) return error(kNotSupported);
    long port = 0;
    if (c.args.size() != 3 || !is_conn_id(c.args[0]) || !str_len(c.args[1], 1, kMaxHost) ||
        !int_in(c.args[2], 0, 65535, port)) {
        return error(kBadParam);
    }
    if (state_ != NetState::closed) {
        after_proc([this] { result_line("+QMTOPEN: 0,2"); });  // identifier occupied
        return ok();
    }
    if (port == 0 || !usable_host(c.args[1].text)) {
        // Within the note's table, yet nothing can be opened with it: result 1, wrong parameter.
        log("open: unusable host or port 0");
        after_proc([this] { result_line("+QMTOPEN: 0,1"); });
        return ok();
    }
    closed_by_disc_ = false;
    host_ = c.args[1].text;
    port_ = static_cast<int>(port);
    state_ = NetState::opening;
    open_deadline_ = now_ + opt_.open_timeout_ms * 1000;
    const auto e = link_epoch_;
    open_dns_ = !is_ip_literal(host_);
    if (!s_.cgatt || !s_.cfun) {
        after_proc([this, e] {  // the PDP context cannot be activated: no network exchange
            if (e != link_epoch_ || state_ != NetState::opening) return;
            state_ = NetState::closed;
            ++link_epoch_;
            result_line("+QMTOPEN: 0,3");
        });
        return ok();
    }
    if (refuse_open_) {
        uplink(60, [this, e] {
            if (e == link_epoch_) net_open_result(-1);
        });
        return ok();
    }
    uplink(60, [this, e, h = host_, p = static_cast<std::uint16_t>(port)] {
        if (e == link_epoch_) net_.open(h, p);
    });
    return ok();
}

Module::Reply Module::cmd_close(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTCLOSE: (0)"});
    if (c.form != Form::set) return error(kNotSupported);
    if (c.args.size() != 1 || !is_conn_id(c.args[0])) return error(kBadParam);
    if (state_ == NetState::closed) {
        // After AT+QMTDISC the network is closed already (the note, 3.2.6: DISCONNECT tells the
        // server the TCP/IP connection is about to close): nothing to close, unless asked.
        const bool ok_anyway = closed_by_disc_ && opt_.close_after_disc_ok;
        closed_by_disc_ = false;
        after_proc(
            [this, ok_anyway] { result_line(ok_anyway ? "+QMTCLOSE: 0,0" : "+QMTCLOSE: 0,-1"); });
        return ok();
    }
    net_.close();
    link_closed(0, false);
    after_proc([this] { result_line("+QMTCLOSE: 0,0"); });
    return ok();
}

// ---------------------------------------------------------------------------- AT+QMTCONN/DISC

Module::Reply Module::cmd_conn(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTCONN: (0),<clientID>,<username>,<password>"});
    if (c.form == Form::query) {
        int st = 0;
        switch (state_) {
            case NetState::closed:
                return ok();
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
        return ok({"+QMTCONN: 0," + std::to_string(st)});
    }
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    if (a.size() < 2 || a.size() > 4 || !is_conn_id(a[0]) || !str_len(a[1], 1, kMaxClientId)) {
        return error(kBadParam);
    }
    if (a.size() >= 3 && !str_len(a[2], 0, kMaxCredential)) return error(kBadParam);
    if (a.size() >= 4 && !str_len(a[3], 0, kMaxCredential)) return error(kBadParam);
    if (state_ != NetState::opened) return error(kNotAllowed);

    ConnectRequest req;
    req.version = s_.version;
    req.keepalive_s = s_.keepalive;
    req.clean_session = s_.clean == 1;
    req.will = s_.will;
    req.client_id = a[1].text;
    if (a.size() >= 3) req.username = a[2].text;
    if (a.size() >= 4) req.password = a[3].text;
    bool sign_failed = false;
    if (a.size() == 2 && s_.aliauth) {
        std::optional<SignedCredentials> cred;
        if (opt_.sign_aliyun) {
            cred = opt_.sign_aliyun(
                AliyunSignInput{a[1].text, s_.ali_pk, s_.ali_dn, s_.ali_ds, wall_ms()});
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

    state_ = NetState::connecting;
    const OpId id = new_op(OpKind::conn, 0, 0);
    const auto e = link_epoch_;
    if (sign_failed) {
        log("aliauth signing failed");
        after_proc([this, e, id] {
            if (e != link_epoch_) return;
            ops_.erase(id);
            result_line("+QMTCONN: 0,2");
            net_.close();
            link_closed(3, true);
        });
        return ok();
    }
    if (refuse_connect_rc_ != 0) {
        const int rc = refuse_connect_rc_;
        uplink(100, [this, e, rc] {
            if (e == link_epoch_) net_connack(rc);
        });
        return ok();
    }
    const std::size_t size = 14 + req.client_id.size() + (req.username ? req.username->size() : 0) +
                             (req.password ? req.password->size() : 0) + req.will.topic.size() +
                             req.will.message.size();
    uplink(size, [this, e, req = std::move(req)] {
        if (e == link_epoch_) net_.connect(req);
    });
    return ok();
}

Module::Reply Module::cmd_disc(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTDISC: (0)"});
    if (c.form != Form::set) return error(kNotSupported);
    if (c.args.size() != 1 || !is_conn_id(c.args[0])) return error(kBadParam);
    if (state_ != NetState::connected) {
        after_proc([this] { result_line("+QMTDISC: 0,-1"); });
        return ok();
    }
    state_ = NetState::disconnecting;
    disc_deadline_ = now_ + (opt_.proc_ms + opt_.rtt_ms + s_.pkt_timeout * 1000) * 1000;
    const auto e = link_epoch_;
    uplink(2, [this, e] {
        if (e == link_epoch_) net_.disconnect();
    });
    return ok();
}

// ------------------------------------------------------------------------- AT+QMTSUB/UNS/PUB

Module::Reply Module::cmd_sub(const CommandLine& c) {
    if (c.form == Form::test)
        return ok({"+QMTSUB: (0),(1-65535),<topic>,(0-2)[,<topic>,(0-2)...]"});
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    long mid = 0;
    if (a.size() < 4 || (a.size() - 2) % 2 != 0 || !is_conn_id(a[0]) ||
        !int_in(a[1], 1, 65535, mid)) {
        return error(kBadParam);
    }
    std::vector<std::pair<std::string, int>> topics;
    std::size_t size = 5;
    for (std::size_t i = 2; i < a.size(); i += 2) {
        long q = 0;
        if (!str_len(a[i], 1, kMaxTopic) || !valid_filter(a[i].text) || !int_in(a[i + 1], 0, 2, q))
            return error(kBadParam);
        topics.emplace_back(a[i].text, static_cast<int>(q));
        size += a[i].text.size() + 3;
    }
    if (state_ != NetState::connected) return error(kNotAllowed);
    if (msg_id_in_flight(OpKind::sub, static_cast<int>(mid))) return error(kBadParam);
    const OpId id = new_op(OpKind::sub, static_cast<int>(mid), 1);
    const auto e = link_epoch_;
    uplink(size, [this, e, id, topics = std::move(topics)] {
        if (e == link_epoch_) net_.subscribe(id, topics);
    });
    return ok();
}

Module::Reply Module::cmd_uns(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTUNS: (0),(1-65535),<topic>[,<topic>...]"});
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    long mid = 0;
    if (a.size() < 3 || !is_conn_id(a[0]) || !int_in(a[1], 1, 65535, mid)) return error(kBadParam);
    std::vector<std::string> topics;
    std::size_t size = 4;
    for (std::size_t i = 2; i < a.size(); ++i) {
        if (!str_len(a[i], 1, kMaxTopic) || !valid_filter(a[i].text)) return error(kBadParam);
        topics.push_back(a[i].text);
        size += a[i].text.size() + 2;
    }
    if (state_ != NetState::connected) return error(kNotAllowed);
    if (msg_id_in_flight(OpKind::uns, static_cast<int>(mid))) return error(kBadParam);
    const OpId id = new_op(OpKind::uns, static_cast<int>(mid), 1);
    const auto e = link_epoch_;
    uplink(size, [this, e, id, topics = std::move(topics)] {
        if (e == link_epoch_) net_.unsubscribe(id, topics);
    });
    return ok();
}

Module::Reply Module::cmd_pub(const CommandLine& c) {
    if (c.form == Form::test) return ok({"+QMTPUB: (0),(0-65535),(0-2),(0,1),<topic>,(1-1024)"});
    if (c.form != Form::set) return error(kNotSupported);
    const auto& a = c.args;
    long mid = 0, q = 0, rt = 0, len = 0;
    if ((a.size() != 5 && a.size() != 6) || !is_conn_id(a[0]) || !int_in(a[1], 0, 65535, mid) ||
        !int_in(a[2], 0, 2, q) || !int_in(a[3], 0, 1, rt) || !str_len(a[4], 1, kMaxTopic) ||
        !valid_topic_name(a[4].text)) {
        return error(kBadParam);
    }
    // QoS 1 and 2 need a msgID (1-65535). QoS 0 carries none on the wire: the id the host gives
    // comes back in the result, and only strict_pub_msgid refuses one other than 0.
    if (q > 0 && mid == 0) return error(kBadParam);
    if (q == 0 && mid != 0 && opt_.strict_pub_msgid) return error(kBadParam);
    if (a.size() == 6 && !int_in(a[5], 1, static_cast<long>(kMaxPayload), len))
        return error(kBadParam);
    if (state_ != NetState::connected) return error(kNotAllowed);
    if (inflight_publishes() >= opt_.max_inflight) return error(kUplinkBusy);
    if (q > 0 && msg_id_in_flight(OpKind::pub, static_cast<int>(mid))) return error(kBadParam);
    DataMode d;
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

// ------------------------------------------------------------------------------ op bookkeeping

OpId Module::new_op(OpKind kind, int msg_id, int qos) {
    const OpId id = next_op_++;
    Op op;
    op.kind = kind;
    op.msg_id = msg_id;
    op.qos = qos;
    const Micros pkt = static_cast<Micros>(s_.pkt_timeout) * 1'000'000;
    // QoS 0 is never retransmitted: it only has until the whole retry budget is spent.
    op.deadline = now_ + (kind == OpKind::pub && qos == 0 ? pkt * (s_.retry_times + 1) : pkt);
    if (kind == OpKind::pub && qos == 0) op.retries = s_.retry_times;
    ops_.emplace(id, op);
    return id;
}

bool Module::msg_id_in_flight(OpKind kind, int msg_id) const {
    return std::any_of(ops_.begin(), ops_.end(), [&](const auto& kv) {
        return kv.second.kind == kind && kv.second.msg_id == msg_id;
    });
}

int Module::inflight_publishes() const {
    return static_cast<int>(std::count_if(
        ops_.begin(), ops_.end(), [](const auto& kv) { return kv.second.kind == OpKind::pub; }));
}

std::string Module::state_name() const {
    if (rebooting_) return "rebooting";
    switch (state_) {
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

void Module::fail_op(OpId id) {
    const auto it = ops_.find(id);
    if (it == ops_.end()) return;
    const Op op = it->second;
    ops_.erase(it);
    const std::string mid = std::to_string(op.msg_id);
    switch (op.kind) {
        case OpKind::pub:
            result_line(pub_head(id, true) + mid + ",2");
            break;
        case OpKind::sub:
            result_line("+QMTSUB: 0," + mid + ",2");
            break;
        case OpKind::uns:
            result_line("+QMTUNS: 0," + mid + ",2");
            break;
        case OpKind::conn:
            result_line("+QMTCONN: 0,2");
            net_.close();
            link_closed(4, true);
            break;
    }
}

void Module::check_timers() {
    psm_check();
    if (state_ == NetState::opening && now_ >= open_deadline_) {
        net_.close();
        link_closed(0, false);
        result_line("+QMTOPEN: 0,-1");
    }
    if (state_ == NetState::disconnecting && now_ >= disc_deadline_) {
        net_.close();
        link_closed(0, false);
        result_line("+QMTDISC: 0,-1");
    }
    std::vector<OpId> due;
    for (const auto& [id, op] : ops_) {
        if (op.deadline <= now_) due.push_back(id);
    }
    for (const OpId id : due) {
        auto it = ops_.find(id);
        if (it == ops_.end()) continue;
        Op& op = it->second;
        if (op.retries >= s_.retry_times) {
            log("op msgID " + std::to_string(op.msg_id) + " failed after retries");
            fail_op(id);
            continue;
        }
        ++op.retries;
        op.deadline += static_cast<Micros>(s_.pkt_timeout) * 1'000'000;
        if (s_.timeout_notice == 1) {
            const std::string mid = std::to_string(op.msg_id);
            const std::string n = std::to_string(op.retries);
            switch (op.kind) {
                case OpKind::pub:
                    result_line(pub_head(id, false) + mid + ",1," + n);
                    break;
                case OpKind::sub:
                    result_line("+QMTSUB: 0," + mid + ",1," + n);
                    break;
                case OpKind::uns:
                    result_line("+QMTUNS: 0," + mid + ",1");
                    break;
                case OpKind::conn:
                    result_line("+QMTCONN: 0,1");
                    break;
            }
        }
        net_.retransmit(id);
    }
}

void Module::link_closed(int stat_code, bool report) {
    ++link_epoch_;
    state_ = NetState::closed;
    ops_.clear();  // whatever was in flight is gone with the link; +QMTSTAT is the report
    var_.pubex_ops.clear();
    if (report) urc_line("+QMTSTAT: 0," + std::to_string(stat_code));
}

void Module::drop_link(int stat_code) {
    if (state_ == NetState::closed) return;
    log("link dropped, +QMTSTAT code " + std::to_string(stat_code));
    net_.close();
    link_closed(stat_code, stat_code > 0);
}

// ------------------------------------------------------------------------------ network events

void Module::net_open_result(int result) {
    const auto e = link_epoch_;
    // The network resolved and connected in one call: a named host cost a DNS round trip before
    // the TCP handshake (a name that did not resolve, 4, cost only that one).
    const int more = open_dns_ && result != 4 ? 1 : 0;
    downlink(
        [this, e, result] {
            if (e != link_epoch_ || state_ != NetState::opening) return;
            state_ = result == 0 ? NetState::opened : NetState::closed;
            if (result != 0) ++link_epoch_;
            result_line("+QMTOPEN: 0," + std::to_string(result));
        },
        more);
}

void Module::apply_connack(int return_code) {
    if (state_ != NetState::connecting) return;
    for (auto it = ops_.begin(); it != ops_.end(); ++it) {
        if (it->second.kind == OpKind::conn) {
            ops_.erase(it);
            break;
        }
    }
    if (return_code == 0) {
        state_ = NetState::connected;
        result_line("+QMTCONN: 0,0,0");
        return;
    }
    result_line("+QMTCONN: 0,0," + std::to_string(return_code));
    net_.close();
    link_closed(4, true);
}

void Module::net_connack(int return_code) {
    const auto e = link_epoch_;
    downlink([this, e, return_code] {
        if (e != link_epoch_ || stall_acks_) return;
        apply_connack(return_code);
    });
}

void Module::net_suback(OpId op, std::vector<int> granted_qos) {
    const auto e = link_epoch_;
    downlink([this, e, op, g = std::move(granted_qos)] {
        if (e != link_epoch_ || stall_acks_) return;
        const auto it = ops_.find(op);
        if (it == ops_.end()) return;
        std::string line = "+QMTSUB: 0," + std::to_string(it->second.msg_id) + ",0";
        for (const int q : g) line += "," + std::to_string(q);
        ops_.erase(it);
        result_line(line);
    });
}

void Module::net_unsuback(OpId op) {
    const auto e = link_epoch_;
    downlink([this, e, op] {
        if (e != link_epoch_ || stall_acks_) return;
        const auto it = ops_.find(op);
        if (it == ops_.end()) return;
        const int mid = it->second.msg_id;
        ops_.erase(it);
        result_line("+QMTUNS: 0," + std::to_string(mid) + ",0");
    });
}

void Module::net_published(OpId op) {
    const auto e = link_epoch_;
    // QoS 2 is two exchanges: PUBLISH -> PUBREC, PUBREL -> PUBCOMP.
    const auto found = ops_.find(op);
    const int more = found != ops_.end() && found->second.qos == 2 ? 1 : 0;
    downlink(
        [this, e, op] {
            if (e != link_epoch_) return;
            const auto it = ops_.find(op);
            if (it == ops_.end()) return;
            if (stall_acks_ && it->second.qos > 0) return;
            const int mid = it->second.msg_id;
            ops_.erase(it);
            result_line(pub_head(op, true) + std::to_string(mid) + ",0");
        },
        more);
}

void Module::net_message(std::uint16_t packet_id, std::string topic, std::string payload, int qos,
                         bool retain) {
    (void)retain;
    const auto e = link_epoch_;
    const int mid = qos == 0 ? 0 : packet_id;
    downlink([this, e, mid, t = std::move(topic), p = std::move(payload)] {
        if (e != link_epoch_) return;
        if (state_ != NetState::connected && state_ != NetState::disconnecting) return;
        deliver(mid, t, p);
    });
}

void Module::net_disconnected() {
    const auto e = link_epoch_;
    downlink([this, e] {
        if (e != link_epoch_ || state_ != NetState::disconnecting) return;
        link_closed(0, false);
        closed_by_disc_ = true;
        result_line("+QMTDISC: 0,0");
    });
}

void Module::net_link_lost(int stat_code) {
    const auto e = link_epoch_;
    downlink([this, e, stat_code] {
        if (e != link_epoch_) return;
        if (state_ == NetState::closed || state_ == NetState::opening) return;
        if (state_ == NetState::disconnecting) {
            // The server closed after our DISCONNECT: that is the disconnect completing.
            link_closed(0, false);
            closed_by_disc_ = true;
            result_line("+QMTDISC: 0,0");
            return;
        }
        log("link lost, +QMTSTAT code " + std::to_string(stat_code));
        link_closed(stat_code, true);
    });
}

void Module::net_token(OpId op, int result_code, std::string username, std::string password) {
    const auto be = boot_epoch_;
    // An HTTP request over its own TCP connection: [DNS,] connect, request -> response. A name
    // that did not resolve (1) cost the DNS exchange; a refused connection (2) the connect too.
    const int dns = token_dns_ ? 1 : 0;
    const int exchanges = result_code == 1 ? 1 : result_code == 2 ? dns + 1 : dns + 2;
    downlink([this, be, op, result_code, u = std::move(username),
              p = std::move(password)] { token_result(be, op, result_code, u, p); },
             std::max(exchanges, 1) - 1);
}

void Module::token_result(std::uint32_t be, OpId op, int result_code, const std::string& u,
                          const std::string& p) {
    if (be != boot_epoch_ || op != token_op_) return;
    token_op_ = 0;
    if (result_code == 0) {
        s_.have_token = true;
        s_.token_user = u;
        s_.token_password = p;
        result_line("+QMTTENAUTH: 0," + quoted(p));
    } else {
        log("token fetch failed, code " + std::to_string(result_code));
        result_line("+QMTTENAUTH: " + std::to_string(result_code));
    }
}

}  // namespace bc28sim
