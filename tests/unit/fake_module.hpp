// A deterministic, in-process stand-in for a BC28, for virtual-time unit tests of the client.
// It answers the commands the client sends the way the note describes, keeps the five-message
// window (a sixth publish gets +CME ERROR: 159), and can drop the link or reboot on demand.
// The real emulator (tools/bc28-sim) is an independent implementation used by e2e tests.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "qmtkit/qmt/client.hpp"

namespace qmtkit::test {

struct Published {
    std::uint16_t msg_id;
    int qos;
    bool retain;
    std::string topic;
    std::string payload;
    bool fixed;
};

class FakeModule final : public at::Writer {
  public:
    // Behaviour.
    std::size_t window = 5;
    Millis answer_delay = 10;    // OK / ERROR after a command
    Millis network_delay = 200;  // two-phase results
    int open_result = 0;
    int conn_ret = 0;
    bool attached = true;
    bool knows_tenauth_double_t = true;  // answers AT+QMTTENAUTH=?, else only AT+QMTENAUTH=?
    bool results_enabled = true;         // false: OK comes, results never do
    // Lets a test answer a command itself: return true when handled.
    std::function<bool(const std::string& cmd)> intercept;

    // What it saw.
    std::vector<std::string> commands;  // every command line, without CR
    std::string wire;                   // every byte the client wrote
    std::vector<Published> published;   // publishes the module acknowledged, in order
    std::size_t in_flight = 0;
    std::size_t max_in_flight = 0;
    int busy_answers = 0;
    bool connected = false;

    explicit FakeModule(const Instant& clock) : now_(clock) {}

    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        wire.append(reinterpret_cast<const char*>(d), n);
        for (std::size_t i = 0; i < n; ++i) byte(static_cast<char>(d[i]));
        return n;
    }

    void emit(Millis after, std::string bytes) {
        const Instant at = now_ + after;
        auto it = out_.begin();
        while (it != out_.end() && it->first <= at) ++it;
        out_.insert(it, {at, std::move(bytes)});
    }
    void line(Millis after, const std::string& l) { emit(after, "\r\n" + l + "\r\n"); }

    Instant next_due() const { return out_.empty() ? ~Instant{0} : out_.front().first; }
    void deliver(qmt::ClientCore& c, Instant t) {
        while (!out_.empty() && out_.front().first <= t) {
            auto [at, bytes] = out_.front();
            out_.pop_front();
            c.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), at);
        }
    }

    // Faults.
    void drop_link(int stat = 1) {
        cancel_results();
        connected = false;
        line(1, "+QMTSTAT: 0," + std::to_string(stat));
    }
    // The network detached without a word: no +QMTSTAT, whatever was in flight is gone.
    void silent_drop() {
        cancel_results();
        connected = false;
    }
    void reboot() {
        cancel_results();
        connected = false;
        emit(1, "\r\nREBOOT_CAUSE_APPLICATION_AT\r\nNeul \r\nOK\r\n");
    }

    // For an intercepted AT+QMTPUB: read (and drop) the payload that follows the prompt.
    void swallow_payload() {
        payload_mode_ = true;
        swallow_ = true;
        fixed_ = false;
        payload_.clear();
    }

    int count(const std::string& prefix) const {
        int n = 0;
        for (const auto& c : commands) n += c.rfind(prefix, 0) == 0 ? 1 : 0;
        return n;
    }

  private:
    void cancel_results() {
        // Pending two-phase results die with the link.
        std::deque<std::pair<Instant, std::string>> keep;
        for (auto& o : out_) {
            if (o.second.find("+QMTPUB:") == std::string::npos &&
                o.second.find("+QMTSUB:") == std::string::npos)
                keep.push_back(o);
        }
        out_.swap(keep);
        in_flight = 0;
        pending_.clear();
        pending_order_.clear();
        settle_at_.clear();
    }

    void byte(char c) {
        if (payload_mode_) {
            if (!fixed_) {
                if (c == 0x1B) return end_payload(false);
                if (c == 0x1A) return end_payload(true);
            }
            payload_ += c;
            if (fixed_ && payload_.size() == fixed_len_) end_payload(true);
            return;
        }
        if (c == '\r') {
            std::string cmd;
            cmd.swap(line_);
            if (!cmd.empty()) command(cmd);
            return;
        }
        if (c != '\n') line_ += c;
    }

    static std::vector<std::string> split_args(const std::string& s) {
        std::vector<std::string> out;
        std::string cur;
        bool q = false;
        for (char c : s) {
            if (c == '"') {
                q = !q;
                continue;
            }
            if (c == ',' && !q) {
                out.push_back(cur);
                cur.clear();
                continue;
            }
            cur += c;
        }
        out.push_back(cur);
        return out;
    }

    void ok() { line(answer_delay, "OK"); }

    void command(const std::string& cmd) {
        commands.push_back(cmd);
        if (intercept && intercept(cmd)) return;
        auto starts = [&](const char* p) { return cmd.rfind(p, 0) == 0; };
        if (cmd == "AT" || cmd == "ATE0" || starts("AT+CMEE=") || starts("AT+QMTCFG=")) return ok();
        if (cmd == "AT+QMTCONN?") {
            if (connected) line(answer_delay, "+QMTCONN: 0,3");
            return ok();
        }
        if (cmd == "AT+CGATT?") {
            line(answer_delay, attached ? "+CGATT:1" : "+CGATT:0");
            return ok();
        }
        if (cmd == "AT+QMTTENAUTH=?") {
            if (!knows_tenauth_double_t) return line(answer_delay, "ERROR");
            line(answer_delay,
                 "+QMTTENAUTH: "
                 "<product_id>,<device_name>,<client_id>,<device_secret>,<expire>,<url>");
            return ok();
        }
        if (cmd == "AT+QMTENAUTH=?") {
            line(answer_delay,
                 "+QMTTENAUTH: "
                 "<product_id>,<device_name>,<client_id>,<device_secret>,<expire>,<url>");
            return ok();
        }
        if (starts("AT+QMTTENAUTH=") || starts("AT+QMTENAUTH=")) {
            ok();
            return line(network_delay, "+QMTTENAUTH: 0,\"tok-123\"");
        }
        if (starts("AT+QMTOPEN=")) {
            cancel_results();  // a new network session: nothing of the old one is in flight
            ok();
            return line(network_delay, "+QMTOPEN: 0," + std::to_string(open_result));
        }
        if (starts("AT+QMTCONN=")) {
            ok();
            connected = conn_ret == 0;
            return line(network_delay, "+QMTCONN: 0,0," + std::to_string(conn_ret));
        }
        if (starts("AT+QMTDISC=") || starts("AT+QMTCLOSE=")) {
            ok();
            connected = false;
            return line(network_delay / 4,
                        (starts("AT+QMTDISC=") ? "+QMTDISC: 0,0" : "+QMTCLOSE: 0,0"));
        }
        if (starts("AT+QMTSUB=")) {
            const auto a = split_args(cmd.substr(10));
            ok();
            if (results_enabled) line(network_delay, "+QMTSUB: 0," + a[1] + ",0," + a.back());
            return;
        }
        if (starts("AT+QMTUNS=")) {
            const auto a = split_args(cmd.substr(10));
            ok();
            return line(network_delay, "+QMTUNS: 0," + a[1] + ",0");
        }
        if (starts("AT+QMTPUB=")) {
            const auto a = split_args(cmd.substr(10));
            if (in_flight >= window) {
                ++busy_answers;
                return line(answer_delay, "+CME ERROR: 159");
            }
            cur_ = Published{static_cast<std::uint16_t>(std::stoi(a[1])),
                             std::stoi(a[2]),
                             a[3] == "1",
                             a[4],
                             {},
                             a.size() > 5};
            fixed_ = a.size() > 5;
            fixed_len_ = fixed_ ? static_cast<std::size_t>(std::stoi(a[5])) : 0;
            payload_.clear();
            payload_mode_ = true;
            return emit(answer_delay, "\r\n> ");
        }
        line(answer_delay, "ERROR");
    }

    void end_payload(bool send) {
        payload_mode_ = false;
        if (swallow_) {
            swallow_ = false;
            return;
        }
        if (!send) return ok();
        cur_.payload = payload_;
        ok();
        ++in_flight;
        if (in_flight > max_in_flight) max_in_flight = in_flight;
        const std::uint16_t id = cur_.msg_id;
        pending_[next_pending_] = cur_;
        if (!results_enabled) return;
        // The result comes when the network has answered: the module then frees its window slot.
        const int key = next_pending_++;
        emit(network_delay, std::string("\r\n+QMTPUB: 0,") + std::to_string(id) + ",0\r\n");
        pending_order_.push_back(key);
        // Bookkeeping of acknowledgements happens when the result is delivered (see settle()).
        settle_at_.push_back(now_ + network_delay);
    }

  public:
    // Moves acknowledged publishes (results delivered by `t`) into `published`.
    void settle(Instant t) {
        while (!settle_at_.empty() && settle_at_.front() <= t) {
            settle_at_.pop_front();
            const int key = pending_order_.front();
            pending_order_.pop_front();
            auto it = pending_.find(key);
            if (it != pending_.end()) {
                published.push_back(it->second);
                pending_.erase(it);
                if (in_flight > 0) --in_flight;
            }
        }
        if (pending_.empty()) {
            settle_at_.clear();
            pending_order_.clear();
        }
    }

  private:
    const Instant& now_;
    std::deque<std::pair<Instant, std::string>> out_;
    std::string line_;
    bool payload_mode_ = false;
    bool swallow_ = false;
    bool fixed_ = false;
    std::size_t fixed_len_ = 0;
    std::string payload_;
    Published cur_{};
    std::map<int, Published> pending_;
    std::deque<int> pending_order_;
    std::deque<Instant> settle_at_;
    int next_pending_ = 0;
};

// Runs client and module under virtual time until `done()` or `until`.
template <class Done>
bool run_until(qmt::ClientCore& c, FakeModule& m, Instant& now, Instant until, Done done) {
    c.poll(now);
    while (!done()) {
        Instant next = std::min(c.next_deadline(), m.next_due());
        if (next > until) {
            now = until;
            return done();
        }
        if (next > now) now = next;
        m.settle(now);
        m.deliver(c, now);
        c.poll(now);
    }
    return true;
}

}  // namespace qmtkit::test
