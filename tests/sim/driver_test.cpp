// bc28-sim driven the way third-party BC28 drivers are written: the driver owns the serial port,
// writes one command, reads CR LF-terminated lines one at a time, counts them (the empty line
// before an answer and the echo included, as RT-Thread's at_client does), stops at a line
// starting "OK" or holding "ERROR", and takes lines that start with a known URC prefix out of
// the count. The bring-up script is the manual's examples in the order such drivers send them.
#include "broker.hpp"
#include "mqtt_client.hpp"
#include "sim_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using qmtkit::test::Broker;
using qmtkit::test::MqttClient;
using qmtkit::test::SimProcess;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

namespace {

// A serial-port AT client of the kind embedded SDKs ship.
class LineDriver {
  public:
    struct Response {
        bool ok = false;  // ended with OK (false: ERROR / +CME ERROR / timeout / prompt)
        bool timed_out = false;
        bool prompt = false;             // stopped at the end sign '>'
        std::vector<std::string> lines;  // every line, CR LF stripped; 1-based in line()
        std::string line(std::size_t n) const {
            return n >= 1 && n <= lines.size() ? lines[n - 1] : "";
        }
        // The first line starting with `kw`, as at_resp_get_line_by_kw.
        std::optional<std::string> by_kw(const std::string& kw) const {
            for (const auto& l : lines)
                if (l.rfind(kw, 0) == 0) return l;
            return std::nullopt;
        }
    };

    explicit LineDriver(const std::string& port) {
        fd_ = ::open(port.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error("cannot open " + port + ": " + std::strerror(errno));
        termios t{};
        ::tcgetattr(fd_, &t);
        ::cfmakeraw(&t);
        ::cfsetspeed(&t, B9600);
        ::tcsetattr(fd_, TCSANOW, &t);
    }
    ~LineDriver() { ::close(fd_); }
    LineDriver(const LineDriver&) = delete;
    LineDriver& operator=(const LineDriver&) = delete;

    std::vector<std::string> urc_prefixes = {
        "+QMTOPEN:", "+QMTCONN:",  "+QMTSUB:", "+QMTPUB:", "+QMTRECV:", "+QMTSTAT:",
        "+QMTDISC:", "+QMTCLOSE:", "+NPSMR:",  "REBOOT_",  "Neul"};
    std::deque<std::string> urcs;  // URC lines, in arrival order

    // at_obj_exec_cmd: one command, its response.
    Response exec(const std::string& cmd, Ms timeout = Ms(5000), char end_sign = 0) {
        drop_stale();
        write_all(cmd + "\r");
        Response r;
        const auto deadline = Clock::now() + timeout;
        while (true) {
            auto l = read_line(deadline, end_sign);
            if (!l) {
                r.timed_out = true;
                return r;
            }
            if (end_sign != 0 && !l->empty() && l->back() == end_sign) {
                r.lines.push_back(*l);
                r.prompt = true;
                return r;
            }
            if (is_urc(*l)) {
                urcs.push_back(*l);
                continue;
            }
            r.lines.push_back(*l);
            if (l->rfind("OK", 0) == 0) {
                r.ok = true;
                return r;
            }
            if (l->find("ERROR") != std::string::npos) return r;
        }
    }
    // Payload bytes after a '>' prompt (Ctrl+Z included by the caller), then the final result.
    Response send_data(const std::string& bytes, Ms timeout = Ms(5000)) {
        write_all(bytes);
        Response r;
        const auto deadline = Clock::now() + timeout;
        while (auto l = read_line(deadline, 0)) {
            if (is_urc(*l)) {
                urcs.push_back(*l);
                continue;
            }
            r.lines.push_back(*l);
            if (l->rfind("OK", 0) == 0) {
                r.ok = true;
                return r;
            }
            if (l->find("ERROR") != std::string::npos) return r;
        }
        r.timed_out = true;
        return r;
    }
    // The next URC starting with `prefix` (earlier ones of other kinds stay queued).
    std::optional<std::string> wait_urc(const std::string& prefix, Ms timeout = Ms(5000)) {
        const auto deadline = Clock::now() + timeout;
        while (true) {
            for (auto it = urcs.begin(); it != urcs.end(); ++it) {
                if (it->rfind(prefix, 0) == 0) {
                    std::string u = *it;
                    urcs.erase(it);
                    return u;
                }
            }
            auto l = read_line(deadline, 0);
            if (!l) return std::nullopt;
            if (is_urc(*l)) urcs.push_back(*l);
            // Anything else outside a command is dropped, as an AT client with no response
            // pending does.
        }
    }
    // True when no URC starting with `prefix` arrives within `window`.
    bool no_urc(const std::string& prefix, Ms window) { return !wait_urc(prefix, window); }

  private:
    // Lines that came while no command was pending: URCs are kept, the rest is dropped (the
    // parser thread of such clients reads continuously and has no response to put them in).
    void drop_stale() {
        while (auto l = read_line(Clock::now(), 0)) {
            if (is_urc(*l)) urcs.push_back(*l);
        }
    }
    bool is_urc(const std::string& l) const {
        for (const auto& p : urc_prefixes)
            if (l.rfind(p, 0) == 0) return true;
        return false;
    }
    void write_all(const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            const ssize_t n = ::write(fd_, s.data() + off, s.size() - off);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                throw std::runtime_error(std::string("write: ") + std::strerror(errno));
            } else {
                std::this_thread::sleep_for(1ms);
            }
        }
    }
    // at_recv_readline: bytes up to and including CR LF (or the end sign); the CR LF is
    // stripped, an empty line is a line.
    std::optional<std::string> read_line(Clock::time_point deadline, char end_sign) {
        while (true) {
            for (std::size_t i = 0; i < buf_.size(); ++i) {
                const bool crlf = buf_[i] == '\n' && i > 0 && buf_[i - 1] == '\r';
                const bool sign = end_sign != 0 && buf_[i] == end_sign;
                if (!crlf && !sign) continue;
                std::string l = buf_.substr(0, crlf ? i - 1 : i + 1);
                buf_.erase(0, i + 1);
                while (crlf && !l.empty() && l.back() == '\r') l.pop_back();  // echo "AT\r" + CR LF
                return l;
            }
            const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 100))) > 0) {
                char tmp[512];
                const ssize_t n = ::read(fd_, tmp, sizeof tmp);
                if (n > 0) {
                    buf_.append(tmp, static_cast<std::size_t>(n));
                    continue;
                }
            }
            if (left <= 0) return std::nullopt;
        }
    }

    int fd_ = -1;
    std::string buf_;
};

SimProcess::Options sim_opts(std::vector<std::string> args = {}) {
    SimProcess::Options o;
    o.exe = BC28SIM_EXE;
    o.args = std::move(args);
    o.open_pty = false;  // the driver owns the serial port
    return o;
}

std::string scan_word(const std::string& line, const char* fmt) {
    char buf[128] = {0};
    if (std::sscanf(line.c_str(), fmt, buf) != 1) return "";
    return buf;
}

class Driver : public ::testing::Test {
  protected:
    void SetUp() override { broker.start(); }
    std::string port() const { return std::to_string(broker.port()); }
    Broker broker;
};

}  // namespace

// The manual's bring-up examples, one command at a time, echo on (the module's default), then
// MQTT: what a third-party driver does on a freshly powered module.
TEST_F(Driver, BringUpScriptThenMqtt) {
    SimProcess sim(sim_opts({"--imei", "867726030047601", "--imsi", "460111174805111"}));
    LineDriver d(sim.pty_path());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("drv/up", 1));

    auto r = d.exec("AT");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.line(1), "AT");  // the echo is line 1

    r = d.exec("ATI");
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.lines.size(), 6u);  // echo, Quectel, model, revision, empty, OK
    EXPECT_EQ(r.line(2), "Quectel");
    EXPECT_EQ(r.line(3), "BC28");
    EXPECT_EQ(r.line(4).rfind("Revision:", 0), 0u) << r.line(4);

    r = d.exec("AT+CGMR");
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.by_kw("APPLICATION_A,")) << r.line(2);
    EXPECT_TRUE(r.by_kw("RADIO,"));

    r = d.exec("AT+NBAND?");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.line(2), "+NBAND:1,3,5,8,20,28");

    for (const char* cmd : {"AT+NCONFIG=AUTOCONNECT,FALSE", "AT+QREGSWT=2", "AT+NSONMI=2",
                            "AT+CEDRXS=0,5", "AT+CPSMS=0", "AT+CFUN=1"}) {
        r = d.exec(cmd);
        EXPECT_TRUE(r.ok) << cmd << " -> " << (r.lines.empty() ? "(nothing)" : r.lines.back());
        EXPECT_EQ(r.lines.size(), 2u) << cmd;  // the echo, OK
    }

    // at_device_bc28.c: at_resp_parse_line_args(resp, 2, "+CGSN:%s", imei).
    r = d.exec("AT+CGSN=1");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(scan_word(r.line(2), "+CGSN:%127s"), "867726030047601");

    r = d.exec("AT+CIMI");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.line(2), "460111174805111");

    r = d.exec("AT+CGATT=1");
    ASSERT_TRUE(r.ok);
    r = d.exec("AT+CGATT?");
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.by_kw("+CGATT:"));
    EXPECT_EQ(*r.by_kw("+CGATT:"), "+CGATT:1");

    // "+CGPADDR:%*d,%s"
    r = d.exec("AT+CGPADDR");
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.by_kw("+CGPADDR:"));
    EXPECT_EQ(scan_word(*r.by_kw("+CGPADDR:"), "+CGPADDR:%*d,%127s"), "100.64.0.2");

    r = d.exec("AT+NUESTATS");
    ASSERT_TRUE(r.ok);
    ASSERT_TRUE(r.by_kw("Signal power:"));
    EXPECT_EQ(*r.by_kw("Signal power:"), "Signal power:-650");  // csq 24: -65 dBm
    EXPECT_TRUE(r.by_kw("ECL:"));

    // MQTT, the note's sequence.
    r = d.exec("AT+QMTOPEN=0,\"127.0.0.1\"," + port());
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(d.wait_urc("+QMTOPEN:"), "+QMTOPEN: 0,0");
    r = d.exec("AT+QMTCONN=0,\"drv-dev\"");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(d.wait_urc("+QMTCONN:"), "+QMTCONN: 0,0,0");
    r = d.exec("AT+QMTSUB=0,1,\"drv/down\",1");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(d.wait_urc("+QMTSUB:"), "+QMTSUB: 0,1,0,1");
    r = d.exec("AT+QMTPUB=0,1,1,0,\"drv/up\"", Ms(5000), '>');
    ASSERT_TRUE(r.prompt) << (r.lines.empty() ? "(nothing)" : r.lines.back());
    r = d.send_data("hello from the driver\x1a");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(d.wait_urc("+QMTPUB:"), "+QMTPUB: 0,1,0");
    auto m = watcher.wait_message("drv/up");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->payload, "hello from the driver");

    ASSERT_TRUE(watcher.publish("drv/down", "to the driver", 1));
    auto recv = d.wait_urc("+QMTRECV:");
    ASSERT_TRUE(recv);
    EXPECT_EQ(recv->rfind("+QMTRECV: 0,", 0), 0u) << *recv;
    EXPECT_NE(recv->find(",\"drv/down\",to the driver"), std::string::npos) << *recv;
}

// at_device_bc28.c's own order, AT+NRB included: NV settings survive the reboot, AUTOCONNECT
// FALSE boots at minimum functionality, the driver sets the band, powers up and attaches.
TEST_F(Driver, RtThreadBc28InitSequence) {
    SimProcess sim(sim_opts({"--boot-ms", "300"}));
    LineDriver d(sim.pty_path());
    auto ok = [&](const std::string& cmd) {
        const auto r = d.exec(cmd);
        EXPECT_TRUE(r.ok) << cmd << " -> " << (r.lines.empty() ? "(nothing)" : r.lines.back());
        return r;
    };
    ok("ATE0");
    ok("AT+QREGSWT=2");
    ok("AT+NCONFIG=AUTOCONNECT,FALSE");
    // AT+NRB: REBOOTING, then the boot banner. The driver waits, then sends AT until it answers.
    const auto nrb = d.exec("AT+NRB", Ms(200));
    EXPECT_TRUE(nrb.timed_out);
    EXPECT_TRUE(nrb.by_kw("REBOOTING"));
    EXPECT_TRUE(d.wait_urc("Neul", Ms(5000)));
    bool up = false;
    for (int i = 0; i < 20 && !up; ++i) up = d.exec("AT", Ms(300)).ok;
    ASSERT_TRUE(up);
    auto r = ok("AT+CGSN=1");
    EXPECT_EQ(scan_word(r.line(2), "+CGSN:%127s"), "866971030000001");
    ok("AT+NBAND=8");  // allowed: AUTOCONNECT FALSE booted at AT+CFUN=0
    ok("AT+CFUN=1");
    ok("AT+NSONMI=2");
    ok("AT+CEDRXS=0,5");
    ok("AT+CPSMS=0");
    ok("AT+CIMI");
    ok("AT+CGATT=1");
    r = ok("AT+NATSPEED?");
    EXPECT_EQ(scan_word(*r.by_kw("+NATSPEED:"), "+NATSPEED:%127[0-9]"), "9600");
    r = ok("ATI");
    EXPECT_EQ(r.line(2), "Quectel");  // echo back on after the reboot, as the driver sees it
    r = ok("AT+CPIN?");
    EXPECT_TRUE(r.by_kw("+CPIN:READY"));
    r = ok("AT+CSQ");
    EXPECT_EQ(*r.by_kw("+CSQ:"), "+CSQ:24,99");
    r = ok("AT+CGATT?");
    EXPECT_EQ(*r.by_kw("+CGATT:"), "+CGATT:1");
    r = ok("AT+CGPADDR");
    EXPECT_EQ(scan_word(*r.by_kw("+CGPADDR:"), "+CGPADDR:%*d,%127s"), "100.64.0.2");
    r = ok("AT+QREGSWT?");
    EXPECT_EQ(*r.by_kw("+QREGSWT:"), "+QREGSWT:2");  // NV: kept across AT+NRB
    r = ok("AT+NBAND?");
    EXPECT_EQ(*r.by_kw("+NBAND:"), "+NBAND:8");
}

// PSM through the pty, T3324 = 2 s: +NPSMR:1, a message published to the module meanwhile is not
// delivered, a host command wakes it (+NPSMR:0) and the message arrives.
TEST_F(Driver, PsmHoldsDeliveryUntilTheHostWakesIt) {
    SimProcess sim(sim_opts());
    LineDriver d(sim.pty_path());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(d.exec("ATE0").ok);
    ASSERT_TRUE(d.exec("AT+CMEE=1").ok);
    ASSERT_TRUE(d.exec("AT+NPSMR=1").ok);
    ASSERT_TRUE(d.exec("AT+QMTOPEN=0,\"127.0.0.1\"," + port()).ok);
    ASSERT_EQ(d.wait_urc("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_TRUE(d.exec("AT+QMTCONN=0,\"psm-dev\"").ok);
    ASSERT_EQ(d.wait_urc("+QMTCONN:"), "+QMTCONN: 0,0,0");
    ASSERT_TRUE(d.exec("AT+QMTSUB=0,1,\"psm/down\",1").ok);
    ASSERT_EQ(d.wait_urc("+QMTSUB:"), "+QMTSUB: 0,1,0,1");
    ASSERT_TRUE(d.exec("AT+CPSMS=1,,,01000011,00000001").ok);  // T3412 30 h, T3324 2 s

    ASSERT_EQ(d.wait_urc("+NPSMR:", Ms(5000)), "+NPSMR:1");
    ASSERT_TRUE(watcher.publish("psm/down", "sent while asleep", 1));
    EXPECT_TRUE(d.no_urc("+QMTRECV:", Ms(1500)));  // asleep: nothing comes in

    const auto r = d.exec("AT");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(d.wait_urc("+NPSMR:"), "+NPSMR:0");  // before the OK, taken out as a URC
    const auto recv = d.wait_urc("+QMTRECV:");
    ASSERT_TRUE(recv);
    EXPECT_NE(recv->find(",\"psm/down\",sent while asleep"), std::string::npos) << *recv;
    // And back to sleep T3324 after that.
    EXPECT_EQ(d.wait_urc("+NPSMR:", Ms(5000)), "+NPSMR:1");
}

// No PINGREQ goes out while asleep: with keep-alive 5 s the broker gives up on the session after
// 1.5 x 5 s of silence and publishes the will; woken, the module finds the link closed.
TEST_F(Driver, BrokerDropsTheSessionOfASleepingModule) {
    SimProcess sim(sim_opts());
    LineDriver d(sim.pty_path());
    MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("psm/will", 1));
    ASSERT_TRUE(d.exec("ATE0").ok);
    ASSERT_TRUE(d.exec("AT+NPSMR=1").ok);
    ASSERT_TRUE(d.exec("AT+QMTCFG=\"keepalive\",0,5").ok);
    ASSERT_TRUE(d.exec("AT+QMTCFG=\"will\",0,1,1,0,\"psm/will\",\"gone\"").ok);
    ASSERT_TRUE(d.exec("AT+QMTOPEN=0,\"127.0.0.1\"," + port()).ok);
    ASSERT_EQ(d.wait_urc("+QMTOPEN:"), "+QMTOPEN: 0,0");
    ASSERT_TRUE(d.exec("AT+QMTCONN=0,\"psm-ka\"").ok);
    ASSERT_EQ(d.wait_urc("+QMTCONN:"), "+QMTCONN: 0,0,0");
    ASSERT_TRUE(d.exec("AT+CPSMS=1,,,01000011,00000001").ok);
    ASSERT_EQ(d.wait_urc("+NPSMR:", Ms(5000)), "+NPSMR:1");
    const auto asleep_at = Clock::now();

    auto will = watcher.wait_message("psm/will", Ms(15000));
    ASSERT_TRUE(will) << "the broker kept the session: a keep-alive went out while asleep";
    EXPECT_EQ(will->payload, "gone");
    // 1.5 x keep-alive after the last packet the broker heard (the CONNECT, ~2 s before PSM).
    EXPECT_GE(Clock::now() - asleep_at, 4s);

    EXPECT_TRUE(d.exec("AT").ok);
    EXPECT_EQ(d.wait_urc("+NPSMR:"), "+NPSMR:0");
    EXPECT_EQ(d.wait_urc("+QMTSTAT:"), "+QMTSTAT: 0,1");  // closed by the peer
}
