#include "bc28sim/module.hpp"

#include "checks.hpp"

#include <algorithm>
#include <utility>

namespace bc28sim {

using namespace detail;

Module::Module(Network& net, Output out, Options opt) : out_(std::move(out)), opt_(std::move(opt)) {
    for (int i = 0; i < kLinkCount; ++i) {
        links_[i].id = i;
        links_[i].events.module = this;
        links_[i].events.id = i;
    }
    links_[0].net = &net;
    net.attach(&links_[0].events);
}

Module::~Module() {
    for (auto& l : links_) {
        if (l.net) l.net->attach(nullptr);
    }
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

void Module::check_timers() {
    psm_check();
    for (auto& l : links_) check_link_timers(l);
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
    for (const auto& l : links_) {
        for (const auto& [id, op] : l.ops) take(op.deadline);
        if (l.state == NetState::opening) take(l.open_deadline);
        if (l.state == NetState::disconnecting) take(l.disc_deadline);
    }
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
    const bool pubex = typing_pubex_;
    typing_pubex_ = false;
    if (!send) {
        log("publish cancelled (ESC)");
        send_reply(ok());
        flush_deferred();
        return;
    }
    send_reply(ok());
    Link& l = links_[d.link];
    send_publish(l, std::move(d), pubex);
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
            if (s_.cgatt == 0) at(now_, [this] { drop_all(); });  // after the OK
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
            if (s_.cfun == 0) at(now_, [this] { drop_all(); });
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
    for (auto& l : links_) {  // every connection goes, without +QMTSTAT, and its settings
        if (l.state != NetState::closed) l.net->close();
        ++l.epoch;
        l.state = NetState::closed;
        l.ops.clear();
        l.pubex_ops.clear();
        l.closed_by_disc = false;
        l.cfg = Link::Cfg{};
        l.slots = {};
    }
    ++boot_epoch_;
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
    typing_pubex_ = false;
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
            "+QMTCFG: \"version\"," + link_ids() + ",(3,4)",
            "+QMTCFG: \"keepalive\"," + link_ids() + ",(0-3600)",
            "+QMTCFG: \"session\"," + link_ids() + ",(0,1)",
            "+QMTCFG: \"timeout\"," + link_ids() + ",(1-60),(0-10),(0,1)",
            "+QMTCFG: \"will\"," + link_ids() + ",(0,1),(0-2),(0,1),<will_topic>,<will_msg>",
            "+QMTCFG: \"aliauth\"," + link_ids() + ",<productkey>,<devicename>,<devicesecret>",
        };
        if (variant_on()) qmtcfg_test_variant(lines);
        return ok(std::move(lines));
    }
    if (c.form != Form::set) return error(kNotSupported);
    Link* const lp = c.args.size() >= 2 ? link_arg(c.args[1]) : nullptr;
    if (!lp || !c.args[0].is_string()) return error(kBadParam);
    Link::Cfg& cf = lp->cfg;
    const std::string item = lower(c.args[0].text);
    const std::vector<Arg> v(c.args.begin() + 2, c.args.end());
    const std::string head = "+QMTCFG: \"" + item + "\",";
    long x = 0;

    if (item == "version") {
        if (v.empty()) return ok({head + std::to_string(cf.version)});
        if (v.size() == 1 && int_in(v[0], 3, 4, x)) {
            cf.version = static_cast<int>(x);
            return ok();
        }
        return error(kBadParam);
    }
    if (item == "keepalive") {
        if (v.empty()) return ok({head + std::to_string(cf.keepalive)});
        if (v.size() == 1 && int_in(v[0], 0, 3600, x)) {
            cf.keepalive = static_cast<int>(x);
            return ok();
        }
        return error(kBadParam);
    }
    if (item == "session") {
        if (v.empty()) return ok({head + std::to_string(cf.clean)});
        if (v.size() == 1 && int_in(v[0], 0, 1, x)) {
            cf.clean = static_cast<int>(x);
            return ok();
        }
        return error(kBadParam);
    }
    if (item == "timeout") {
        if (v.empty()) {
            return ok({head + std::to_string(cf.pkt_timeout) + "," +
                       std::to_string(cf.retry_times) + "," + std::to_string(cf.timeout_notice)});
        }
        if (v.size() > 3) return error(kBadParam);
        long p = 0, r = cf.retry_times, n = cf.timeout_notice;
        if (!int_in(v[0], 1, 60, p)) return error(kBadParam);
        if (v.size() >= 2 && !int_in(v[1], 0, 10, r)) return error(kBadParam);
        if (v.size() >= 3 && !int_in(v[2], 0, 1, n)) return error(kBadParam);
        cf.pkt_timeout = static_cast<int>(p);
        cf.retry_times = static_cast<int>(r);
        cf.timeout_notice = static_cast<int>(n);
        return ok();
    }
    if (item == "will") {
        if (v.empty()) {
            if (!cf.will.enabled) return ok({head + "0"});
            return ok({head + "1," + std::to_string(cf.will.qos) + "," +
                       std::to_string(cf.will.retain ? 1 : 0) + "," + quoted(cf.will.topic) + "," +
                       quoted(cf.will.message)});
        }
        long fg = 0;
        if (!int_in(v[0], 0, 1, fg)) return error(kBadParam);
        if (fg == 0) {
            // will_fg = 0: the other four must be left out.
            if (v.size() != 1) return error(kBadParam);
            cf.will = Will{};
            return ok();
        }
        // will_fg = 1: all four must follow.
        long q = 0, rt = 0;
        if (v.size() != 5 || !int_in(v[1], 0, 2, q) || !int_in(v[2], 0, 1, rt) ||
            !str_len(v[3], 1, kMaxTopic) || !valid_topic_name(v[3].text) ||
            !str_len(v[4], 0, kMaxWillMsg)) {
            return error(kBadParam);
        }
        cf.will.enabled = true;
        cf.will.qos = static_cast<int>(q);
        cf.will.retain = rt == 1;
        cf.will.topic = v[3].text;
        cf.will.message = v[4].text;
        return ok();
    }
    if (item == "aliauth") {
        if (v.empty()) {
            if (!cf.aliauth) return ok();
            return ok(
                {head + quoted(cf.ali_pk) + "," + quoted(cf.ali_dn) + "," + quoted(cf.ali_ds)});
        }
        if (v.size() != 3 || !str_len(v[0], 1, kMaxCredential) ||
            !str_len(v[1], 1, kMaxCredential) || !str_len(v[2], 1, kMaxCredential)) {
            return error(kBadParam);
        }
        cf.aliauth = true;
        cf.ali_pk = v[0].text;
        cf.ali_dn = v[1].text;
        cf.ali_ds = v[2].text;
        return ok();
    }
    if (variant_on()) {
        if (auto r = qmtcfg_variant(*lp, item, v)) return *r;
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
        // The HTTP request is the module's, not a connection's: connect ID 0's network makes it.
        if (be == boot_epoch_) links_[0].net->fetch_token(id, f);
    });
    return ok();
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
