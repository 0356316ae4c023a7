// Throughput against the module's rules (issue 13), deterministic: qmt::Client and the emulator's
// module model (tools/bc28-sim/model) in one process, joined by the model's link (UART baud, RTT,
// uplink rate) under a virtual clock in microseconds. No wall clock is read: every figure is exact
// and the same on every machine. docs/performance.md derives the ceiling printed beside each cell.
//
//   qmtkit_bench_throughput [--json FILE] [--dat FILE] [--text FILE] [--messages N]
//                           [--uplink-kbps N] [--log ...] [--log-bringup ...] [--smoke]
//
// --smoke runs two cells twice and exits 1 if the runs differ or a cell beats its ceiling (a
// wrong ceiling or a wrong model); the CTest test bench.throughput_smoke runs it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bc28sim/module.hpp"
#include "fake_network.hpp"
#include "qmtkit/qmt/client.hpp"

using namespace qmtkit;
using bc28sim::Micros;

namespace {

constexpr const char* kTopic = "bench/t";
// An address, not a name: AT+QMTOPEN then costs the TCP connect only (a name adds a DNS round
// trip, docs/emulator.md "Timing"), and six bytes on the line like the "broker" the figures in
// docs/performance were taken with.
constexpr const char* kHost = "fd00::";
constexpr const char* kClientId = "bench";

// ------------------------------------------------------------------------------ the link and cells

struct Link {
    unsigned baud = 115200;
    unsigned rtt_ms = 200;
    unsigned uplink_kbps = 0;  // 0 = unlimited
};

struct Cell {
    Link link;
    unsigned payload = 16;
    int qos = 1;
    int window = 5;  // 0 = the stop-and-wait driver
};

// ------------------------------------------------------------------------------------ the ceiling
//
// Per message (docs/performance.md), with b = 10 / baud seconds a byte:
//   host -> module: command line Lc, payload P + 1 (Ctrl+Z)
//   module -> host: prompt 3 ("\r\n>"), OK 6, result line R
//   T_line = b (Lc + 3 + P + 1 + 5)            the AT line: one command at a time, each phase
//                                              waiting for the one before (OK read at its CR)
//   S      = b (Lc + 3 + P + 1) + max(b 6, T_up + RTT [QoS >= 1]) + b (R - 1)
//                                              a slot, from the command's first byte until its
//                                              result line is read
//   rate  <= min(W / S, 1 / T_line, 1 / T_up, baud/10 / (Lc + P + 1), baud/10 / (9 + R))
struct Ceiling {
    double lc = 0, p1 = 0, r = 0;  // bytes (Lc and R averaged over the msgIDs measured)
    double t_line = 0, slot = 0, t_up = 0, rtt = 0;
    double window_term = 0, line_term = 0, uplink_term = 0, h2m_term = 0, m2h_term = 0;
    double rate = 0;
    const char* binds = "";
};

int digits(unsigned v) {
    int d = 1;
    while (v >= 10) {
        v /= 10;
        ++d;
    }
    return d;
}

Ceiling ceiling(const Cell& c, int window, double avg_id_digits) {
    Ceiling k;
    const double b = 10.0 / c.link.baud;
    // AT+QMTPUB=0,<id>,<qos>,0,"<topic>"<CR>
    k.lc = 10 + 2 + avg_id_digits + 1 + 1 + 1 + 2 + std::strlen(kTopic) + 2 + 1;
    k.p1 = c.payload + 1.0;
    // <CR><LF>+QMTPUB: 0,<id>,0<CR><LF>
    k.r = 2 + 11 + avg_id_digits + 2 + 2;
    k.rtt = c.link.rtt_ms / 1000.0;
    // What the model's uplink carries for a publish: payload + topic + 4 header bytes.
    k.t_up = c.link.uplink_kbps
                 ? (c.payload + std::strlen(kTopic) + 4.0) * 8 / (c.link.uplink_kbps * 1000.0)
                 : 0;
    // A line is read at its CR: the LF after it is framing the host need not wait for.
    k.t_line = b * (k.lc + 3 + k.p1 + 5);
    k.slot =
        b * (k.lc + 3 + k.p1) + std::max(b * 6, k.t_up + (c.qos > 0 ? k.rtt : 0)) + b * (k.r - 1);
    k.window_term = window / k.slot;
    k.line_term = 1 / k.t_line;
    k.uplink_term = k.t_up > 0 ? 1 / k.t_up : INFINITY;
    k.h2m_term = 1 / (b * (k.lc + k.p1));
    k.m2h_term = 1 / (b * (9 + k.r));
    k.rate = k.window_term;
    k.binds = "window";
    const std::pair<double, const char*> others[] = {{k.line_term, "AT line"},
                                                     {k.uplink_term, "uplink"},
                                                     {k.h2m_term, "UART in"},  // host -> module
                                                     {k.m2h_term, "UART out"}};
    for (const auto& [v, name] : others) {
        if (v < k.rate) {
            k.rate = v;
            k.binds = name;
        }
    }
    return k;
}

// --------------------------------------------------------------------------- the trace of a run

// What the host sees and does on the serial line, with virtual times: the basis of every figure.
struct Message {
    Micros cmd = -1;     // first byte of AT+QMTPUB written
    Micros prompt = -1;  // '>' read
    Micros data = -1;    // payload written
    Micros ok = -1;      // OK read
    Micros result = -1;  // +QMTPUB result read
    int id = -1;         // msgID of the result matched to it
    int sent_id = -1;    // msgID of its command line
};

class Trace {
  public:
    std::vector<Message> msgs;
    std::size_t host_bytes = 0;  // written by the host since the first publish command

    bool log = false;
    static std::string shown(std::string_view b) {
        std::string s;
        for (const char c : b) {
            if (c == '\r')
                s += "\\r";
            else if (c == '\n')
                s += "\\n";
            else if (c == 0x1A)
                s += "^Z";
            else
                s += c;
        }
        return s.size() > 60 ? s.substr(0, 28) + "..." + s.substr(s.size() - 28) : s;
    }

    void host_wrote(std::string_view b, Micros now) {
        if (b.empty()) return;
        if (log) std::printf("%12.3f ms  host   %s\n", now / 1000.0, shown(b).c_str());
        if (b.rfind("AT+QMTPUB=", 0) == 0) {
            msgs.push_back({});
            msgs.back().cmd = now;
            msgs.back().sent_id = std::atoi(std::string(b.substr(12)).c_str());
            publishing_ = true;
            want_ok_ = false;
        } else if (publishing_ && after_prompt_) {
            msgs.back().data = now;
            after_prompt_ = false;
            want_ok_ = true;
        }
        if (publishing_) host_bytes += b.size();
    }

    void module_wrote(std::string_view b, Micros now) {
        if (log) std::printf("%12.3f ms  module %s\n", now / 1000.0, shown(b).c_str());
        for (const char c : b) {
            if (c == '>' && line_.empty() && !msgs.empty() && msgs.back().prompt < 0) {
                msgs.back().prompt = now;
                after_prompt_ = true;
                continue;
            }
            if (c == '\r') {  // the host knows the line at its CR
                on_line(now);
                line_.clear();
                continue;
            }
            if (c != '\n') line_ += c;
        }
    }

  private:
    void on_line(Micros now) {
        if (line_ == "OK" && want_ok_ && !msgs.empty()) {
            msgs.back().ok = now;
            want_ok_ = false;
        } else if (line_.rfind("+QMTPUB: 0,", 0) == 0) {
            // In order: a constant round trip and an in-order network acknowledge in order.
            while (next_result_ < msgs.size() && msgs[next_result_].result >= 0) ++next_result_;
            if (next_result_ < msgs.size()) {
                msgs[next_result_].result = now;
                msgs[next_result_].id = std::atoi(line_.c_str() + 11);
                ++next_result_;
            }
        }
    }

    std::string line_;
    bool publishing_ = false;
    bool after_prompt_ = false;
    bool want_ok_ = false;
    std::size_t next_result_ = 0;
};

// ------------------------------------------------------------------------------ the virtual rig

// The module and its link, and the host's side of the UART: whoever drives it (the SDK or the
// stop-and-wait driver) writes through host_write() and reads what on_module hands it.
class Rig {
  public:
    explicit Rig(const Link& l) {
        bc28sim::Options o;
        o.baud = l.baud;
        o.rtt_ms = l.rtt_ms;
        o.uplink_kbps = l.uplink_kbps;
        // The figures in docs/performance were taken with results in the OK's burst; bc28-sim's
        // processing delay (Options::proc_ms, 20 ms by default) stays out of them.
        o.proc_ms = 0;
        o.unix_ms = [] { return std::uint64_t{1700000000000}; };
        module_ = std::make_unique<bc28sim::Module>(
            net_,
            [this](std::string_view b) {
                from_module_.append(b);
                trace.module_wrote(b, now_);
            },
            o);
    }

    void host_write(std::string_view b) {
        module_->advance_us(now_);  // the bytes start on the line now
        module_->feed(b);
        trace.host_wrote(b, now_);
        host_bytes_ += b.size();
    }
    Micros now() const { return now_; }
    Instant now_ms() const { return static_cast<Instant>(now_ / 1000); }
    std::size_t host_bytes() const { return host_bytes_; }

    // One turn: the module's bytes to the host, the host's turn, then time to the next event.
    // host_deadline is in microseconds (~0: none).
    template <class Host>
    void step(Host& host) {
        std::string bytes;
        bytes.swap(from_module_);
        host.take(bytes, *this);
        if (!from_module_.empty()) return;  // more came at this same instant
        const auto md = module_->next_deadline_us();
        Micros next = md ? *md : INT64_MAX;
        const Micros hd = host.deadline_us(*this);
        if (hd <= now_)
            next = std::min(next, (now_ / 1000 + 1) * 1000);  // due: its next millisecond
        else
            next = std::min(next, hd);
        if (next == INT64_MAX) next = now_ + 1000;
        now_ = std::max(next, now_);
        module_->advance_us(now_);
    }

    Trace trace;

  private:
    bc28sim::test::FakeNetwork net_;
    std::unique_ptr<bc28sim::Module> module_;
    std::string from_module_;
    Micros now_ = 0;
    std::size_t host_bytes_ = 0;
};

std::string payload_of(unsigned n) {
    std::string p(n, 'x');
    for (unsigned i = 0; i < n; ++i) p[i] = static_cast<char>('a' + i % 26);
    return p;
}

// ------------------------------------------------------------------------------------ the SDK host

template <std::size_t W>
struct WindowConfig : qmt::ClientConfig {
    static constexpr std::size_t window = W;
};

struct Acks final : qmt::Listener {
    std::vector<Micros> at;  // virtual time of each on_published, in order
    const Rig* rig = nullptr;
    void on_published(std::uint32_t, const qmt::Result<qmt::PublishReport>& r) override {
        if (r) at.push_back(rig->now());
    }
};

struct ToRig final : at::Writer {
    Rig* rig = nullptr;
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        rig->host_write(std::string_view(reinterpret_cast<const char*>(d), n));
        return n;
    }
};

template <std::size_t W>
class SdkHost {
  public:
    SdkHost(Rig& rig, const Cell& c, unsigned total, unsigned subscriptions)
        : client_((uart_.rig = &rig, uart_), acks_),
          payload_(payload_of(c.payload)),
          c_(c),
          total_(total) {
        acks_.rig = &rig;
        qmt::Session s;
        s.host = kHost;
        s.client_id = kClientId;
        s.settings.pkt_timeout_s = 60;
        client_.configure(s);
        static const char* const filters[] = {"bench/cmd", "bench/cfg/#", "bench/ota"};
        for (unsigned i = 0; i < subscriptions && i < 3; ++i) client_.subscribe(filters[i], 1);
        top_up();  // queued before start(): the first publish goes as soon as it may
        client_.start(rig.now_ms());
    }
    void take(const std::string& bytes, Rig& rig) {
        if (!bytes.empty())
            client_.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(),
                         rig.now_ms());
        top_up();
        client_.poll(rig.now_ms());
    }
    Micros deadline_us(const Rig&) const {
        const Instant d = client_.next_deadline();
        return d == ~Instant{0} ? INT64_MAX : static_cast<Micros>(d) * 1000;
    }
    bool done() const { return acks_.at.size() >= total_; }
    const std::vector<Micros>& acks() const { return acks_.at; }

  private:
    // Keep the outbox full: a slot that frees must find a message waiting.
    void top_up() {
        while (queued_ < total_ && client_.publish(kTopic, ByteView(std::string_view(payload_)),
                                                   {static_cast<std::uint8_t>(c_.qos)}))
            ++queued_;
    }
    ToRig uart_;
    Acks acks_;
    qmt::Client<WindowConfig<W>> client_;
    std::string payload_;
    Cell c_;
    unsigned total_;
    unsigned queued_ = 0;
};

// ------------------------------------------------------------------------- the stop-and-wait host

// What every surveyed SDK does: one publish, wait for its result, the next. Raw AT lines, the
// same command bytes and msgIDs as the SDK's, no window.
class StopAndWait {
  public:
    StopAndWait(Rig& rig, const Cell& c, unsigned total)
        : payload_(payload_of(c.payload)), c_(c), total_(total) {
        rig.host_write("ATE0\r");
    }
    void take(const std::string& bytes, Rig& rig) {
        for (const char ch : bytes) {
            if (ch == '>' && line_.empty() && step_ == Step::prompt) {
                rig.host_write(payload_ + "\x1A");
                step_ = Step::ok;
                continue;
            }
            if (ch != '\r') {  // a line is known at its CR, as the SDK reads it
                if (ch != '\n') line_ += ch;
                continue;
            }
            const std::string l = line_;
            line_.clear();
            if (l.empty()) continue;
            switch (step_) {
                case Step::echo_off:
                    if (l == "OK") {
                        rig.host_write(std::string("AT+QMTOPEN=0,\"") + kHost + "\",1883\r");
                        step_ = Step::open;
                    }
                    break;
                case Step::open:
                    if (l == "+QMTOPEN: 0,0") {
                        rig.host_write(std::string("AT+QMTCONN=0,\"") + kClientId + "\"\r");
                        step_ = Step::conn;
                    }
                    break;
                case Step::conn:
                    if (l == "+QMTCONN: 0,0,0") send(rig);
                    break;
                case Step::ok:
                    if (l == "OK") step_ = Step::result;
                    break;
                case Step::result:
                    if (l.rfind("+QMTPUB: 0,", 0) == 0) {
                        acks_.push_back(rig.now());
                        if (acks_.size() < total_) send(rig);
                    }
                    break;
                default:
                    break;
            }
        }
    }
    Micros deadline_us(const Rig&) const { return INT64_MAX; }
    bool done() const { return acks_.size() >= total_; }
    const std::vector<Micros>& acks() const { return acks_; }

  private:
    enum class Step { echo_off, open, conn, prompt, ok, result };
    void send(Rig& rig) {
        const unsigned id = c_.qos > 0 ? static_cast<unsigned>(acks_.size() + 1) : 0;
        rig.host_write("AT+QMTPUB=0," + std::to_string(id) + "," + std::to_string(c_.qos) +
                       ",0,\"" + kTopic + "\"\r");
        step_ = Step::prompt;
    }
    std::string payload_;
    Cell c_;
    unsigned total_;
    std::vector<Micros> acks_;
    std::string line_;
    Step step_ = Step::echo_off;
};

// ----------------------------------------------------------------------------------- one run

struct Breakdown {
    double slot_ms = 0;          // command's first byte -> its result read, per message
    double rtt_send_ms = 0;      // RTT + the bytes of one exchange at the baud (the ideal slot)
    double line_ms = 0;          // between consecutive commands (1 / achieved when line-bound)
    double t_line_ms = 0;        // the AT line's minimum per message
    double host_idle_ms = 0;     // line and a slot free, host not sending (an SDK gap)
    double slot_wait_ms = 0;     // a slot free (result read), its next command not yet out
    double prompt_react_ms = 0;  // '>' read -> payload written
    double module_late_ms = 0;   // prompt and OK later than their bytes need (line out busy)
    double result_late_ms = 0;   // result later than RTT and its bytes need (held, line busy)
    double host_bytes = 0;       // host -> module bytes per message
};

struct Run {
    double rate = 0;  // messages per second, steady state
    Ceiling ceil;
    Breakdown br;
    std::vector<Message> msgs;
    Micros first_ack = -1;  // from start (t = 0) to the first acknowledged publish
    bool complete = false;
};

template <class Host>
void drive(Rig& rig, Host& host, Micros limit) {
    while (!host.done() && rig.now() < limit) rig.step(host);
}

// The steady state: from the warm-up's last result to the last measured one. More messages
// follow the measured ones, so the line is as busy at the end as in the middle.
Run measure(const Cell& c, unsigned warm, unsigned count, bool log = false) {
    Rig rig(c.link);
    rig.trace.log = log;
    const unsigned measured_end = warm + count;
    const unsigned total = measured_end + 6;
    const Micros limit = 24LL * 3600 * 1000000;
    std::vector<Micros> acks;
    bool done = false;
    auto run_sdk = [&](auto w) {
        constexpr std::size_t W = decltype(w)::value;
        SdkHost<W> host(rig, c, total, 0);
        drive(rig, host, limit);
        acks = host.acks();
        done = host.done();
    };
    switch (c.window) {
        case 0: {
            StopAndWait host(rig, c, total);
            drive(rig, host, limit);
            acks = host.acks();
            done = host.done();
            break;
        }
        case 1:
            run_sdk(std::integral_constant<std::size_t, 1>{});
            break;
        case 2:
            run_sdk(std::integral_constant<std::size_t, 2>{});
            break;
        case 3:
            run_sdk(std::integral_constant<std::size_t, 3>{});
            break;
        case 4:
            run_sdk(std::integral_constant<std::size_t, 4>{});
            break;
        default:
            run_sdk(std::integral_constant<std::size_t, 5>{});
            break;
    }
    Run r;
    r.complete = done;
    r.msgs = rig.trace.msgs;
    if (!done || acks.size() < total || r.msgs.size() < total) return r;
    r.first_ack = acks.front();
    const auto& m = r.msgs;
    r.rate = count * 1e6 / static_cast<double>(m[measured_end - 1].result - m[warm - 1].result);
    double digit_sum = 0;
    for (unsigned i = warm; i < measured_end; ++i)
        digit_sum += digits(static_cast<unsigned>(m[i].id));
    const int w = c.window == 0 ? 1 : c.window;
    r.ceil = ceiling(c, w, digit_sum / count);

    // Where the time goes, per message over the measured ones.
    const double b = 10.0 / c.link.baud * 1000;  // ms a byte
    Breakdown& br = r.br;
    for (unsigned i = warm; i < measured_end; ++i) {
        br.slot_ms += (m[i].result - m[i].cmd) / 1000.0;
        br.line_ms += (m[i].cmd - m[i - 1].cmd) / 1000.0;
        br.prompt_react_ms += (m[i].data - m[i].prompt) / 1000.0;
        // Free to send message i: the line (OK of i-1 read) and a slot (result of i-w read).
        Micros free_at = m[i - 1].ok;
        if (i >= static_cast<unsigned>(w)) free_at = std::max(free_at, m[i - w].result);
        br.host_idle_ms += std::max<Micros>(0, m[i].cmd - free_at) / 1000.0;
        if (i >= static_cast<unsigned>(w)) br.slot_wait_ms += (m[i].cmd - m[i - w].result) / 1000.0;
        const double lc = r.ceil.lc, p1 = r.ceil.p1;
        const double late_prompt = (m[i].prompt - m[i].cmd) / 1000.0 - b * (lc + 3);
        const double late_ok = (m[i].ok - m[i].data) / 1000.0 - b * (p1 + 6);
        br.module_late_ms += std::max(0.0, late_prompt) + std::max(0.0, late_ok);
        const double ideal_result =
            b * p1 + std::max(b * 6, r.ceil.t_up * 1000 + (c.qos > 0 ? c.link.rtt_ms : 0)) +
            b * (r.ceil.r - 1);
        br.result_late_ms += std::max(0.0, (m[i].result - m[i].data) / 1000.0 - ideal_result);
    }
    br.slot_ms /= count;
    br.line_ms /= count;
    br.prompt_react_ms /= count;
    br.host_idle_ms /= count;
    br.slot_wait_ms /= count;
    br.module_late_ms /= count;
    br.result_late_ms /= count;
    br.rtt_send_ms = r.ceil.slot * 1000;
    br.t_line_ms = r.ceil.t_line * 1000;
    br.host_bytes = static_cast<double>(rig.trace.host_bytes) / total;
    return r;
}

// ------------------------------------------------------------------------------ bring-up

struct Bringup {
    unsigned rtt_ms = 0;
    unsigned baud = 0;
    double sdk_ms = 0, sdk_sub_ms = 0, sdk_sub2_ms = 0;  // start() -> first acknowledged publish
    double sdk_local_ms = 0;  // the same at RTT 0: UART and module time alone
    double sdk_rtts = 0, sdk_sub_rtts = 0, sdk_sub2_rtts = 0;
    double min_ms = 0, min_local_ms = 0;  // the protocol's minimum: OPEN, CONNECT, PUBLISH
};

double first_ack_ms(unsigned rtt, unsigned baud, unsigned subscriptions, bool log = false) {
    Cell c;
    c.link.rtt_ms = rtt;
    c.link.baud = baud;
    Rig rig(c.link);
    rig.trace.log = log;
    SdkHost<5> host(rig, c, 1, subscriptions);
    drive(rig, host, 24LL * 3600 * 1000000);
    return host.done() ? host.acks().front() / 1000.0 : -1;
}

Bringup bringup(unsigned rtt, unsigned baud) {
    Bringup g;
    g.rtt_ms = rtt;
    g.baud = baud;
    // Round trips: what the run takes beyond the same run at RTT 0 (its UART and module time).
    g.sdk_ms = first_ack_ms(rtt, baud, 0);
    g.sdk_sub_ms = first_ack_ms(rtt, baud, 1);
    g.sdk_sub2_ms = first_ack_ms(rtt, baud, 2);
    g.sdk_local_ms = first_ack_ms(0, baud, 0);
    g.sdk_rtts = rtt ? (g.sdk_ms - g.sdk_local_ms) / rtt : 0;
    g.sdk_sub_rtts = rtt ? (g.sdk_sub_ms - first_ack_ms(0, baud, 1)) / rtt : 0;
    g.sdk_sub2_rtts = rtt ? (g.sdk_sub2_ms - first_ack_ms(0, baud, 2)) / rtt : 0;
    // The protocol's minimum, a lower bound: OPEN, CONNECT and the first PUBLISH, echo off (as if
    // ATE0 were free: echo only adds). Each: its line, then the later of its OK and the round
    // trip, then its result line; the publish also waits for its prompt before the payload.
    const double bt = 10.0 / baud * 1000;  // ms a byte
    const double rt = rtt;
    auto exchange = [&](double line_bytes, double result_bytes) {
        return line_bytes * bt + std::max(6 * bt, rt) + result_bytes * bt;
    };
    auto exchange_local = [&](double line_bytes, double result_bytes) {
        return line_bytes * bt + 6 * bt + result_bytes * bt;
    };
    const double open_line = std::strlen("AT+QMTOPEN=0,\"\",1883\r") + std::strlen(kHost);
    const double conn_line = std::strlen("AT+QMTCONN=0,\"\"\r") + std::strlen(kClientId);
    const double pub_line = std::strlen("AT+QMTPUB=0,1,1,0,\"\"\r") + std::strlen(kTopic) +
                            3 /* prompt */ + 17 /* 16 B and Ctrl+Z */;
    const double open_res = std::strlen("\r\n+QMTOPEN: 0,0\r\n");
    const double conn_res = std::strlen("\r\n+QMTCONN: 0,0,0\r\n");
    const double pub_res = std::strlen("\r\n+QMTPUB: 0,1,0\r\n");
    g.min_ms =
        exchange(open_line, open_res) + exchange(conn_line, conn_res) + exchange(pub_line, pub_res);
    g.min_local_ms = exchange_local(open_line, open_res) + exchange_local(conn_line, conn_res) +
                     exchange_local(pub_line, pub_res);
    return g;
}

// ------------------------------------------------------------------------------------- output

std::string json_cell(const Cell& c, const Run& r, const Run& sw) {
    std::ostringstream o;
    o.precision(6);
    o << "{\"rtt_ms\":" << c.link.rtt_ms << ",\"baud\":" << c.link.baud
      << ",\"payload\":" << c.payload << ",\"qos\":" << c.qos << ",\"window\":" << c.window
      << ",\"uplink_kbps\":" << c.link.uplink_kbps << ",\"achieved\":" << r.rate
      << ",\"ceiling\":" << r.ceil.rate << ",\"efficiency\":" << r.rate / r.ceil.rate
      << ",\"binds\":\"" << r.ceil.binds << "\",\"terms\":{\"window\":" << r.ceil.window_term
      << ",\"at_line\":" << r.ceil.line_term
      << ",\"uplink\":" << (std::isinf(r.ceil.uplink_term) ? -1 : r.ceil.uplink_term)
      << ",\"uart_h2m\":" << r.ceil.h2m_term << ",\"uart_m2h\":" << r.ceil.m2h_term
      << "},\"inputs\":{\"cmd_bytes\":" << r.ceil.lc << ",\"data_bytes\":" << r.ceil.p1
      << ",\"prompt_bytes\":3,\"ok_bytes\":6,\"result_bytes\":" << r.ceil.r
      << ",\"t_line_ms\":" << r.ceil.t_line * 1000 << ",\"slot_ms\":" << r.ceil.slot * 1000
      << ",\"t_up_ms\":" << r.ceil.t_up * 1000
      << "},\"breakdown\":{\"slot_held_ms\":" << r.br.slot_ms
      << ",\"rtt_plus_send_ms\":" << r.br.rtt_send_ms << ",\"between_commands_ms\":" << r.br.line_ms
      << ",\"t_line_ms\":" << r.br.t_line_ms << ",\"host_idle_ms\":" << r.br.host_idle_ms
      << ",\"slot_wait_ms\":" << r.br.slot_wait_ms
      << ",\"prompt_to_payload_ms\":" << r.br.prompt_react_ms
      << ",\"prompt_ok_late_ms\":" << r.br.module_late_ms
      << ",\"result_late_ms\":" << r.br.result_late_ms
      << ",\"host_bytes_per_msg\":" << r.br.host_bytes << "}";
    if (sw.rate > 0)
        o << ",\"stop_and_wait\":" << sw.rate << ",\"stop_and_wait_ceiling\":" << sw.ceil.rate
          << ",\"vs_stop_and_wait\":" << r.rate / sw.rate;
    o << "}";
    return o.str();
}

struct Options {
    std::string json, dat, text, log, log_bringup, cell;
    // 60: a whole number of cycles of every window size (results of a window-bound run come in
    // bursts of W), so the rate over them is the period's.
    unsigned warm = 10, count = 60;
    unsigned uplink_kbps = 0;  // the grid's uplink (0 = unlimited)
    bool smoke = false;
};

int smoke(const Options& opt) {
    // Two cells, each twice: identical figures, and never above the ceiling.
    Cell a;
    a.link = {115200, 20, 0};
    a.payload = 16;
    a.qos = 1;
    Cell b;
    b.link = {9600, 1000, 0};
    b.payload = 256;
    b.qos = 0;
    int bad = 0;
    for (const Cell& c : {a, b}) {
        Cell sw = c;
        sw.window = 0;
        const Run r1 = measure(c, opt.warm, opt.count), r2 = measure(c, opt.warm, opt.count);
        const Run s = measure(sw, opt.warm, opt.count);
        const std::string j1 = json_cell(c, r1, s), j2 = json_cell(c, r2, s);
        std::printf("%s\n", j1.c_str());
        if (!r1.complete || !s.complete) {
            std::printf("FAIL: a run did not complete\n");
            ++bad;
            continue;
        }
        if (j1 != j2) {
            std::printf("FAIL: two runs of one cell differ:\n%s\n", j2.c_str());
            ++bad;
        }
        if (r1.msgs.size() != r2.msgs.size() ||
            !std::equal(r1.msgs.begin(), r1.msgs.end(), r2.msgs.begin(),
                        [](const Message& x, const Message& y) {
                            return x.cmd == y.cmd && x.prompt == y.prompt && x.data == y.data &&
                                   x.ok == y.ok && x.result == y.result && x.id == y.id;
                        })) {
            std::printf("FAIL: two runs of one cell traced differently\n");
            ++bad;
        }
        // Results are matched to commands in order (a constant round trip): the msgIDs agree.
        for (const Run* run : {&r1, &s}) {
            std::size_t matched = 0;
            for (const Message& m : run->msgs) {
                if (m.result < 0) continue;
                if (m.id != m.sent_id) {
                    std::printf("FAIL: result for msgID %d matched to the command of %d\n", m.id,
                                m.sent_id);
                    ++bad;
                    break;
                }
                ++matched;
            }
            if (matched < opt.warm + opt.count) {
                std::printf("FAIL: %zu results traced\n", matched);
                ++bad;
            }
        }
        const double eff = r1.rate / r1.ceil.rate, sw_eff = s.rate / s.ceil.rate;
        if (!(eff > 0 && eff <= 1 + 1e-9) || !(sw_eff > 0 && sw_eff <= 1 + 1e-9)) {
            std::printf("FAIL: efficiency %.6f (stop-and-wait %.6f): above the ceiling\n", eff,
                        sw_eff);
            ++bad;
        }
    }
    std::printf(bad ? "smoke: FAILED\n" : "smoke: ok\n");
    return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--json")
            opt.json = value();
        else if (a == "--dat")
            opt.dat = value();
        else if (a == "--text")
            opt.text = value();
        else if (a == "--messages")
            opt.count = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--log")  // RTT,BAUD,PAYLOAD,QOS,WINDOW: the line, byte by byte
            opt.log = value();
        else if (a == "--cell")  // RTT,BAUD,PAYLOAD,QOS: one cell, SDK and stop-and-wait, as JSON
            opt.cell = value();
        else if (a == "--log-bringup")  // RTT,BAUD,SUBSCRIPTIONS(0|1)
            opt.log_bringup = value();
        else if (a == "--uplink-kbps")
            opt.uplink_kbps = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--smoke")
            opt.smoke = true;
        else {
            std::fprintf(stderr,
                         "usage: %s [--json FILE] [--dat FILE] [--text FILE] [--messages N] "
                         "[--uplink-kbps N] [--log RTT,BAUD,PAYLOAD,QOS,WINDOW] "
                         "[--cell RTT,BAUD,PAYLOAD,QOS] "
                         "[--log-bringup RTT,BAUD,SUBSCRIPTIONS] [--smoke]\n",
                         argv[0]);
            return 2;
        }
    }
    if (opt.smoke) return smoke(opt);
    if (!opt.log_bringup.empty()) {
        unsigned rtt = 0, baud = 0, sub = 0;
        if (std::sscanf(opt.log_bringup.c_str(), "%u,%u,%u", &rtt, &baud, &sub) != 3) return 2;
        std::printf("first acknowledged publish at %.3f ms\n", first_ack_ms(rtt, baud, sub, true));
        return 0;
    }
    if (!opt.cell.empty()) {  // bench/realtime.sh compares a wall-clock run with this
        Cell c;
        int q = 1;
        if (std::sscanf(opt.cell.c_str(), "%u,%u,%u,%d", &c.link.rtt_ms, &c.link.baud, &c.payload,
                        &q) != 4)
            return 2;
        c.qos = q;
        c.link.uplink_kbps = opt.uplink_kbps;
        Cell sw = c;
        sw.window = 0;
        const Run r = measure(c, opt.warm, opt.count);
        const Run s = measure(sw, opt.warm, opt.count);
        if (!r.complete || !s.complete) return 1;
        std::printf("%s\n", json_cell(c, r, s).c_str());
        return 0;
    }
    if (!opt.log.empty()) {
        Cell c;
        int q = 1, w = 5;
        if (std::sscanf(opt.log.c_str(), "%u,%u,%u,%d,%d", &c.link.rtt_ms, &c.link.baud, &c.payload,
                        &q, &w) != 5)
            return 2;
        c.qos = q;
        c.window = w;
        const Run r = measure(c, opt.warm, opt.count, true);
        std::printf("%s\n", json_cell(c, r, Run{}).c_str());
        return 0;
    }

    std::ostringstream text;
    char line[512];
    std::vector<std::string> cells_json;
    std::vector<double> effs;
    text
        << "Throughput, virtual time (the SDK, window 5, and the module model; " << opt.count
        << " messages after " << opt.warm << "; uplink "
        << (opt.uplink_kbps ? std::to_string(opt.uplink_kbps) + " kbit/s" : "unlimited") << ")\n"
        << "msg/s achieved | ceiling | efficiency | what binds | stop-and-wait | x s&w | slot held "
           "ms (ideal) | slot waits for the line ms | host idle ms/msg | prompt+OK late, result "
           "late ms/msg\n";
    std::snprintf(line, sizeof line,
                  "%6s %7s %5s %3s | %9s %9s %6s %-8s | %8s %6s | %9s %9s %9s | %6s %8s %8s\n",
                  "RTT ms", "baud", "bytes", "QoS", "achieved", "ceiling", "eff", "binds", "s&w",
                  "x s&w", "slot ms", "ideal", "slot wait", "idle", ">/OK late", "res late");
    text << line;
    for (const unsigned rtt : {20u, 200u, 1000u, 3000u}) {
        for (const unsigned baud : {9600u, 115200u, 921600u}) {
            for (const unsigned payload : {16u, 256u, 1024u}) {
                for (const int qos : {0, 1}) {
                    Cell c;
                    c.link = {baud, rtt, opt.uplink_kbps};
                    c.payload = payload;
                    c.qos = qos;
                    Cell sw = c;
                    sw.window = 0;
                    const Run r = measure(c, opt.warm, opt.count);
                    const Run s = measure(sw, opt.warm, opt.count);
                    if (!r.complete || !s.complete) {
                        std::fprintf(stderr, "a run did not complete: RTT %u baud %u %u B QoS %d\n",
                                     rtt, baud, payload, qos);
                        return 1;
                    }
                    effs.push_back(r.rate / r.ceil.rate);
                    std::snprintf(line, sizeof line,
                                  "%6u %7u %5u %3d | %9.2f %9.2f %6.4f %-8s | %8.2f %6.2f | "
                                  "%9.2f %9.2f %9.3f | %6.3f %8.3f %8.3f\n",
                                  rtt, baud, payload, qos, r.rate, r.ceil.rate,
                                  r.rate / r.ceil.rate, r.ceil.binds, s.rate, r.rate / s.rate,
                                  r.br.slot_ms, r.br.rtt_send_ms, r.br.slot_wait_ms,
                                  r.br.host_idle_ms, r.br.module_late_ms, r.br.result_late_ms);
                    text << line;
                    cells_json.push_back(json_cell(c, r, s));
                }
            }
        }
    }
    std::vector<double> sorted = effs;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted.size() % 2
                              ? sorted[sorted.size() / 2]
                              : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
    std::snprintf(line, sizeof line, "efficiency: worst %.4f, median %.4f, best %.4f (%zu cells)\n",
                  sorted.front(), median, sorted.back(), sorted.size());
    text << line;

    // The plot's data: windows 1..5 and stop-and-wait against RTT, each beside its ceiling.
    std::ostringstream dat;
    std::vector<std::string> sweep_json;
    const unsigned sweep_baud = 115200, sweep_payload = 256;
    text << "\nWindow sizes against RTT (" << sweep_baud << " baud, " << sweep_payload
         << " B, QoS 1), msg/s achieved / ceiling\n";
    std::snprintf(line, sizeof line, "%6s | %15s | %15s | %15s | %15s | %15s | %15s\n", "RTT ms",
                  "stop-and-wait", "window 1", "window 2", "window 3", "window 4", "window 5");
    text << line;
    dat << "# rtt_ms sw sw_ceil w1 w1_ceil w2 w2_ceil w3 w3_ceil w4 w4_ceil w5 w5_ceil\n";
    for (const unsigned rtt : {20u, 50u, 100u, 200u, 500u, 1000u, 2000u, 3000u}) {
        std::snprintf(line, sizeof line, "%6u", rtt);
        text << line;
        dat << rtt;
        std::ostringstream js;
        js << "{\"rtt_ms\":" << rtt;
        for (int w = 0; w <= 5; ++w) {
            Cell c;
            c.link = {sweep_baud, rtt, 0};
            c.payload = sweep_payload;
            c.qos = 1;
            c.window = w;
            const Run r = measure(c, opt.warm, opt.count);
            std::snprintf(line, sizeof line, " | %7.2f/%7.2f", r.rate, r.ceil.rate);
            text << line;
            dat << " " << r.rate << " " << r.ceil.rate;
            js << ",\"" << (w == 0 ? std::string("stop_and_wait") : "window_" + std::to_string(w))
               << "\":{\"achieved\":" << r.rate << ",\"ceiling\":" << r.ceil.rate << "}";
        }
        text << "\n";
        dat << "\n";
        js << "}";
        sweep_json.push_back(js.str());
    }

    // Bring-up: start() to the first acknowledged publish.
    std::vector<std::string> bring_json;
    text << "\nBring-up: start() to the first acknowledged publish (queued before start)\n";
    std::snprintf(line, sizeof line, "%6s %7s | %10s %6s %9s | %10s %6s | %10s %6s | %10s %9s\n",
                  "RTT ms", "baud", "SDK ms", "RTTs", "local ms", "1 sub ms", "RTTs", "2 subs ms",
                  "RTTs", "minimum ms", "local ms");
    text << line;
    for (const unsigned baud : {9600u, 115200u}) {
        for (const unsigned rtt : {20u, 200u, 1000u, 3000u}) {
            const Bringup g = bringup(rtt, baud);
            std::snprintf(line, sizeof line,
                          "%6u %7u | %10.1f %6.2f %9.1f | %10.1f %6.2f | %10.1f %6.2f | %10.1f "
                          "%9.1f\n",
                          rtt, baud, g.sdk_ms, g.sdk_rtts, g.sdk_local_ms, g.sdk_sub_ms,
                          g.sdk_sub_rtts, g.sdk_sub2_ms, g.sdk_sub2_rtts, g.min_ms, g.min_local_ms);
            text << line;
            std::ostringstream js;
            js.precision(6);
            js << "{\"rtt_ms\":" << rtt << ",\"baud\":" << baud << ",\"sdk_ms\":" << g.sdk_ms
               << ",\"sdk_round_trips\":" << g.sdk_rtts << ",\"sdk_local_ms\":" << g.sdk_local_ms
               << ",\"sdk_with_subscription_ms\":" << g.sdk_sub_ms
               << ",\"sdk_with_subscription_round_trips\":" << g.sdk_sub_rtts
               << ",\"sdk_with_2_subscriptions_ms\":" << g.sdk_sub2_ms
               << ",\"sdk_with_2_subscriptions_round_trips\":" << g.sdk_sub2_rtts
               << ",\"minimum_ms\":" << g.min_ms << ",\"minimum_round_trips\":3"
               << ",\"minimum_local_ms\":" << g.min_local_ms << "}";
            bring_json.push_back(js.str());
        }
    }

    std::fputs(text.str().c_str(), stdout);
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ",\n  " : "\n  ") + v[i];
        return s + "\n";
    };
    if (!opt.json.empty()) {
        std::ofstream f(opt.json);
        char head[160];
        std::snprintf(head, sizeof head,
                      "{\"messages\":%u,\"warmup\":%u,\"efficiency_worst\":%.6f,"
                      "\"efficiency_median\":%.6f,\n\"cells\":[",
                      opt.count, opt.warm, sorted.front(), median);
        f << head << join(cells_json) << "],\n\"windows\":[" << join(sweep_json)
          << "],\n\"bringup\":[" << join(bring_json) << "]}\n";
    }
    if (!opt.dat.empty()) std::ofstream(opt.dat) << dat.str();
    if (!opt.text.empty()) std::ofstream(opt.text) << text.str();
    return 0;
}
