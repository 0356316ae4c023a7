// The client harness: runs a program (client_harness.hpp) against a qmt::Client<>, parses what
// it writes and checks, after every write, callback and operation (names appear in reports):
//
//   C1 never more than five publishes in flight (in_flight(), stats().max_in_flight)
//   C2 msgIDs: 0 exactly for QoS 0; two unacknowledged QoS >= 1 publishes never go out with the
//      same msgID in one network session (between AT+QMTOPEN lines)
//   C3 every payload written is, byte for byte, the payload handed to publish() for the topic on
//      the AT+QMTPUB line above it, with that publish's QoS and retain flag
//   C4 on_published() once per ticket publish() returned, never for another ticket
//   C5 publish() accepted = completed (on_published) + outbox(), at all times
//   C6 next_deadline() is not "never" while the engine holds a command, while the supervisor is
//      between stopped and online, or while online with publishes not yet in flight
//   C7 the client writes command lines only ("AT...\r"), and a payload only after AT+QMTPUB
#include "client_harness.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "program.hpp"
#include "qmtkit/qmt/client.hpp"

namespace qmtkit::fuzz {
namespace {

using qmt::LinkState;

constexpr Instant kNever = ~Instant{0};
constexpr Instant kStart = 1000;
constexpr Millis kDrainSpan = 3'000'000;
constexpr int kDrainPolls = 2000;
constexpr int kDrainRounds = 3;
constexpr std::size_t kMaxPublishes = 300;

bool starts(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// A publish the harness made: its topic "t/<n>" names it, its payload starts "p<n>:".
struct Pub {
    std::uint32_t ticket = 0;
    std::uint8_t qos = 0;
    bool retain = false;
    std::string topic;
    std::string payload;
    bool accepted = false;
    bool completed = false;
    long msg_id = -1;         // on its latest command line
    std::uint32_t epoch = 0;  // network session of that line
};

// A command line the client wrote.
struct Line {
    std::string text;
    int pub = -1;  // AT+QMTPUB=...: which publish
    long msg_id = -1;
    long len = -1;  // fixed-length form
    bool prompted = false;
    bool answered = false;
};

std::vector<std::string> split_args(std::string_view s) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (char c : s) {
        if (c == '"') quoted = !quoted;
        if (c == ',' && !quoted) {
            out.emplace_back();
            continue;
        }
        out.back() += c;
    }
    return out;
}

long to_long(const std::string& s) {
    if (s.empty() || s.size() > 9) return -2;
    long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -2;
        v = v * 10 + (c - '0');
    }
    return v;
}

std::string_view token(std::uint8_t i) {
    static const std::string_view kTokens[] = {
        "\r\nOK\r\n",
        "\r\nERROR\r\n",
        "\r\n> ",
        "\r\n+CME ERROR: 3\r\n",
        "\r\n+CME ERROR: 159\r\n",
        "\r\n+CME ERROR: 50\r\n",
        "\r\n+QMTSTAT: 0,1\r\n",
        "\r\n+QMTSTAT: 0,5\r\n",
        "\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n",
        "\r\n+QMTOPEN: 0,0\r\n",
        "\r\n+QMTOPEN: 0,2\r\n",
        "\r\n+QMTCONN: 0,0,0\r\n",
        "\r\n+QMTCONN: 0,1\r\n",
        "\r\n+QMTCONN: 0,3\r\n",
        "\r\n+QMTCONN: 0,0,5\r\n",
        "\r\n+CGATT:1\r\n",
        "\r\n+CGATT:0\r\n",
        "\r\n+QMTSUB: 0,1,0,2\r\n",
        "\r\n+QMTRECV: 0,1,\"s/1/x\",\"hello\"\r\n",
        "\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n",
        "\r\n+QMTPUB: 0,0,0\r\n",
        "\r\n+QMTPUB: 0,1,0\r\n",
        "\r\n+QMTPUB: 0,1,1,1\r\n",
        "\r\n+QMTTENAUTH: 0,\"tok\"\r\n",
        "\r\n+QMTDISC: 0,0\r\n",
        "\r\n+QMTCLOSE: 0,0\r\n",
        "\r\n+QMTTENAUTH: <product_id>,<device_name>,<client_id>,<device_secret>\r\n",
        "\r\n",
    };
    return kTokens[i % (sizeof(kTokens) / sizeof(kTokens[0]))];
}

std::string_view filter(std::uint8_t i) {
    static const std::string_view kFilters[] = {"topic/example", "topic/pub", "s/+/x", "cmd/#",
                                                "a/b"};
    return kFilters[i % 5];
}

class ClientHarness final : public at::Writer, public qmt::Listener {
  public:
    ClientHarness(const std::uint8_t* data, std::size_t size, bool tracing)
        : in_(data, size), ck_(tracing) {}

    Verdict run() {
        setup();
        while (!in_.done() && !ck_.failed()) {
            const char* what = step();
            check_global(what);
        }
        if (!ck_.failed()) drain();
        return ck_.take();
    }

  private:
    enum class Ws : std::uint8_t { line, maybe_payload, payload };

    // ------------------------------------------------------------ set-up

    void setup() {
        const std::uint8_t h = in_.u8();
        const std::uint8_t r = in_.u8();
        refill_ = r & 0x0F;
        refill_qos_ = static_cast<std::uint8_t>((r >> 4) % 3);
        client_ = std::make_unique<qmt::Client<>>(*this, *this);
        qmt::Session s;
        s.host = "broker.local";
        s.client_id = "dev-1";
        s.username = "user";
        s.password = "s3cret";
        switch (h & client_header::session_mask) {
            case 1:  // chapter 6: aliauth, so CONNECT names the client only
                s.host = "iot-as-mqtt.cn-shanghai.aliyuncs.com";
                s.client_id = "MQTT_TEST";
                s.username = {};
                s.password = {};
                s.use_aliauth = true;
                s.aliauth = {"oyjtmPl5a5j", "MQTT_TEST", "wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ"};
                break;
            case 2:
                s.host = "iot.tencent.example";
                s.client_id = "PID@dev";
                s.password = {};
                s.use_tenauth = true;
                s.tenauth.product_id = "PID";
                s.tenauth.device_name = "dev";
                s.tenauth.device_secret = "TenSecret";
                break;
            case 3:
                s.has_will = true;
                s.will = {1, false, "will/t", "bye"};
                break;
            default:
                break;
        }
        static const std::uint8_t kPkt[] = {1, 2, 5, 10};
        s.settings.pkt_timeout_s = kPkt[(h >> client_header::pkt_timeout_shift) & 3];
        s.settings.retry_times = (h & client_header::no_retries) ? 0 : 3;
        s.settings.timeout_notice = (h & client_header::timeout_notice) != 0;
        s.recv_quoting = (h & client_header::quoting_bare) ? qmt::PayloadQuoting::bare
                                                           : qmt::PayloadQuoting::detect;
        if (h & client_header::fast_backoff) client_->set_backoff(qmt::Backoff{50, 400, 25, 1});
        ck_.trace([&] {
            return "header: session " + std::to_string(h & client_header::session_mask) +
                   " pkt_timeout=" + std::to_string(s.settings.pkt_timeout_s) +
                   " retry_times=" + std::to_string(s.settings.retry_times) +
                   " refill=" + std::to_string(refill_) + " qos " + std::to_string(refill_qos_);
        });
        if (!client_->configure(s)) {
            fail("C0 set-up", "configure() refused the harness's session");
            return;
        }
        client_->start(now_);
    }

    // ------------------------------------------------------------ operations

    const char* step() {
        const auto op = static_cast<ClientOp>(in_.u8() % kClientOpCount);
        switch (op) {
            case ClientOp::publish: {
                const std::uint8_t f = in_.u8();
                publish(f, in_.u8(), "publish");
                return "publish";
            }
            case ClientOp::publish_qos1:
                publish(1, in_.u8(), "publish");
                return "publish";
            case ClientOp::answer:
                answer(in_.u8());
                return "answer";
            case ClientOp::release:
                release(in_.u8());
                return "release";
            case ClientOp::feed_pub_result: {
                const std::uint8_t b = in_.u8();
                pub_result(b, in_.u8());
                return "feed +QMTPUB";
            }
            case ClientOp::feed_token: {
                const std::uint8_t i = in_.u8();
                feed(token(i), in_.u8());
                return "feed";
            }
            case ClientOp::feed_raw: {
                const std::string s(in_.bytes(in_.u8()));
                feed(s, in_.u8());
                return "feed";
            }
            case ClientOp::advance_small:
                now_ += in_.u8();
                ck_.trace([&] { return "t=" + std::to_string(now_) + " (clock)"; });
                return "advance";
            case ClientOp::advance_large:
                now_ += (in_.u8() + 1u) * 1000u;
                ck_.trace([&] { return "t=" + std::to_string(now_) + " (clock)"; });
                return "advance";
            case ClientOp::poll:
                ck_.trace([&] { return "t=" + std::to_string(now_) + " poll()"; });
                client_->poll(now_);
                return "poll";
            case ClientOp::refill: {
                const std::uint8_t b = in_.u8();
                refill_ = b & 0x0F;
                refill_qos_ = static_cast<std::uint8_t>((b >> 4) % 3);
                ck_.trace([&] { return "on_published() will publish " + std::to_string(refill_); });
                return "refill";
            }
            case ClientOp::subscribe:
                subscribe(in_.u8());
                return "subscribe/unsubscribe";
            case ClientOp::feed_echo: {
                const std::uint8_t b = in_.u8();
                if (!lines_.empty()) feed(lines_.back().text + "\r", b);
                return "feed echo";
            }
            case ClientOp::stop_start:
                if (in_.u8() & 1) {
                    ck_.trace([&] { return "t=" + std::to_string(now_) + " stop()"; });
                    client_->stop();
                } else {
                    ck_.trace([&] { return "t=" + std::to_string(now_) + " start()"; });
                    client_->start(now_);
                }
                return "stop/start";
            case ClientOp::link_event: {
                const std::uint8_t b = in_.u8();
                feed(b % 8 == 7
                         ? std::string("\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n")
                         : "\r\n+QMTSTAT: 0," + std::to_string(b % 8 + 1) + "\r\n",
                     0);
                return "link event";
            }
            case ClientOp::to_deadline: {
                const Instant t = client_->next_deadline();
                if (t != kNever && t > now_) now_ = t;
                ck_.trace([&] { return "t=" + std::to_string(now_) + " poll() at next_deadline"; });
                client_->poll(now_);
                return "poll at next_deadline";
            }
            case ClientOp::count:
                break;
        }
        return "?";
    }

    void feed(std::string_view s, std::uint8_t chunking) {
        const std::size_t chunk = (chunking & 0x0F) == 0 ? s.size() : (chunking & 0x0F);
        ck_.trace([&] {
            return "t=" + std::to_string(now_) + " module: " + printable(s) +
                   (chunk < s.size() ? " in chunks of " + std::to_string(chunk) : "");
        });
        for (std::size_t off = 0; off < s.size() && !ck_.failed(); off += chunk) {
            const std::string_view part = s.substr(off, chunk);
            client_->feed(reinterpret_cast<const std::uint8_t*>(part.data()), part.size(), now_);
        }
    }

    // A publish with a topic and a payload of its own, so the harness knows which payload
    // belongs under which command line.
    bool publish(std::uint8_t flags, std::uint8_t len, const char* from) {
        if (pubs_.size() >= kMaxPublishes) return false;
        const std::size_t n = pubs_.size();
        pubs_.emplace_back();  // before publish(): the client may write its line at once
        Pub& p = pubs_.back();
        p.qos = static_cast<std::uint8_t>((flags & 3) % 3);
        p.retain = (flags & 4) != 0;
        p.topic = "t/" + std::to_string(n);
        p.payload = "p" + std::to_string(n) + ":";
        if (flags & 8) p.payload += std::string("\x1A\x1B\0\r\n", 5);
        const std::size_t fill =
            len >= 0xF8 ? qmt::kMaxPayload - p.payload.size() : static_cast<std::size_t>(len % 64);
        p.payload += std::string(fill, static_cast<char>('a' + n % 26));
        qmt::PublishOptions o;
        o.qos = p.qos;
        o.retain = p.retain;
        o.form = static_cast<qmt::PayloadForm>((flags >> 4) % 3);
        const std::string topic = p.topic;
        const std::string payload = p.payload;
        ck_.trace([&] {
            return "t=" + std::to_string(now_) + " " + from + " " + topic + " qos " +
                   std::to_string(o.qos) + (o.retain ? " retain" : "") + " form " +
                   std::to_string((flags >> 4) % 3) + " " + printable(payload, 40);
        });
        const qmt::Result<std::uint32_t> r = client_->publish(topic, ByteView(payload), o);
        if (!r) {
            ck_.trace([&] { return "  refused: " + std::string(qmt::to_string(r.error().code)); });
            const qmt::Error e = r.error().code;
            if (e != qmt::Error::queue_full && e != qmt::Error::payload_needs_fixed_length) {
                fail("C5 outbox-accounting",
                     "publish(" + topic + ") refused: " + std::string(qmt::to_string(e)));
            }
            if (!ck_.failed()) pubs_.pop_back();
            return false;
        }
        Pub& q = pubs_[n];
        auto it = by_ticket_.find(*r);
        if (it != by_ticket_.end() && !pubs_[it->second].completed) {
            fail("C4 completes-once", "publish(" + topic + ") returned ticket " +
                                          std::to_string(*r) + ", still held by " +
                                          pubs_[it->second].topic);
        }
        q.ticket = *r;
        q.accepted = true;
        by_ticket_[*r] = n;
        ++accepted_;
        ck_.trace([&] { return "  ticket " + std::to_string(*r); });
        return true;
    }

    void subscribe(std::uint8_t b) {
        const std::string_view f = filter(b);
        if (b & 0x80) {
            ck_.trace(
                [&] { return "t=" + std::to_string(now_) + " unsubscribe " + std::string(f); });
            client_->unsubscribe(f);
        } else {
            ck_.trace([&] { return "t=" + std::to_string(now_) + " subscribe " + std::string(f); });
            client_->subscribe(f, static_cast<std::uint8_t>((b >> 3) % 3));
        }
    }

    // ------------------------------------------------------------ the module's side

    // Answers the latest command line the way the note's module does.
    void answer(std::uint8_t v) {
        Line* l = nullptr;
        for (std::size_t i = lines_.size(); i > 0 && i + 4 > lines_.size(); --i) {
            if (!lines_[i - 1].answered) {
                l = &lines_[i - 1];
                break;
            }
        }
        if (l == nullptr) {
            ck_.trace([&] { return "answer: no command to answer"; });
            return;
        }
        const std::string t = l->text;
        const int mode = v % 8;
        if (mode == 5) {
            l->answered = true;
            return feed("\r\nERROR\r\n", 0);
        }
        if (mode == 6) {
            l->answered = true;
            return feed((v & 8) ? "\r\n+CME ERROR: 3\r\n" : "\r\n+CME ERROR: 159\r\n", 0);
        }
        if (mode == 7) {
            l->answered = true;
            ck_.trace([&] { return "answer " + printable(t) + ": silence"; });
            return;
        }
        std::string info, result;
        bool later = (v & client_answer::result_later) != 0;
        if (l->pub >= 0) {
            if (!l->prompted) {
                l->prompted = true;
                return feed((v & client_answer::bare_prompt) ? "\r\n>" : "\r\n> ", 0);
            }
            result = "+QMTPUB: 0," + std::to_string(l->msg_id) + ",0";
            later = mode != 4 && !(v & client_answer::result_now);
        } else if (starts(t, "AT+QMTOPEN=") && t != "AT+QMTOPEN=?") {
            result = "+QMTOPEN: 0,0";
        } else if (starts(t, "AT+QMTCONN=") && t != "AT+QMTCONN=?") {
            result = "+QMTCONN: 0,0,0";
        } else if (starts(t, "AT+QMTSUB=") && t != "AT+QMTSUB=?") {
            const std::vector<std::string> a = split_args(t.substr(10));
            result = "+QMTSUB: 0," + (a.size() > 1 ? a[1] : "1") + ",0," + a.back();
        } else if (starts(t, "AT+QMTUNS=") && t != "AT+QMTUNS=?") {
            const std::vector<std::string> a = split_args(t.substr(10));
            result = "+QMTUNS: 0," + (a.size() > 1 ? a[1] : "1") + ",0";
        } else if (starts(t, "AT+QMTDISC=0")) {
            result = "+QMTDISC: 0,0";
        } else if (starts(t, "AT+QMTCLOSE=0")) {
            result = "+QMTCLOSE: 0,0";
        } else if (t == "AT+QMTTENAUTH=?" || t == "AT+QMTENAUTH=?") {
            info = "+QMTTENAUTH: <product_id>,<device_name>,<client_id>,<device_secret>";
        } else if (starts(t, "AT+QMTTENAUTH=") || starts(t, "AT+QMTENAUTH=")) {
            result = "+QMTTENAUTH: 0,\"tok\"";
        } else if (t == "AT+CGATT?") {
            info = "+CGATT:1";
        } else if (t == "AT+QMTCONN?") {
            info = "+QMTCONN: 0,3";
        }
        l->answered = true;
        std::string out;
        if (!info.empty()) out += "\r\n" + info + "\r\n";
        out += "\r\nOK\r\n";
        if (!result.empty() && !later) out += "\r\n" + result + "\r\n";
        if (!result.empty() && later) pending_.push_back(result);
        feed(out, 0);
    }

    void release(std::uint8_t b) {
        if (pending_.empty()) return;
        const std::size_t i = b % pending_.size();
        const std::string r = pending_[i];
        if (!(b & 0x80)) pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
        feed("\r\n" + r + "\r\n", 0);
    }

    void pub_result(std::uint8_t which, std::uint8_t r) {
        std::vector<const Line*> pubs;
        for (std::size_t i = lines_.size(); i > 0 && pubs.size() < 6; --i) {
            if (lines_[i - 1].pub >= 0) pubs.push_back(&lines_[i - 1]);
        }
        if (pubs.empty()) return;
        const Line& l = *pubs[which % pubs.size()];
        std::string s = "\r\n+QMTPUB: 0," + std::to_string(l.msg_id) + "," + std::to_string(r % 3);
        if (r & 4) s += "," + std::to_string((r >> 3) & 3);
        feed(s + "\r\n", 0);
    }

    // ------------------------------------------------------------ the Writer: what was written

    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        for (std::size_t i = 0; i < n && !ck_.failed(); ++i) byte(d[i]);
        return n;
    }

    void byte(std::uint8_t b) {
        switch (ws_) {
            case Ws::maybe_payload:
                if (b == 'A') {  // no payload went: the next command line
                    ws_ = Ws::line;
                    break;
                }
                if (b == 0x1B) {  // cancelled before any byte (our payloads start with 'p')
                    ck_.trace([&] { return "  wire <- ESC (publish cancelled)"; });
                    ws_ = Ws::line;
                    return;
                }
                ws_ = Ws::payload;
                pay_.clear();
                payload_byte(b);
                return;
            case Ws::payload:
                payload_byte(b);
                return;
            case Ws::line:
                break;
        }
        if (b == '\r') {
            std::string t;
            t.swap(cur_);
            if (!t.empty()) line_done(t);
            return;
        }
        if (b == '\n') return;
        if (b == 0x1B && cur_.empty()) {
            ck_.trace([&] { return "  wire <- ESC"; });
            return;
        }
        cur_ += static_cast<char>(b);
        if (cur_.size() > 1200) fail("C7 wire-lines", "a line without CR: " + printable(cur_));
    }

    void payload_byte(std::uint8_t b) {
        const Line& l = lines_[pay_line_];
        if (l.len >= 0) {
            pay_ += static_cast<char>(b);
            if (pay_.size() == static_cast<std::size_t>(l.len)) payload_done(false);
            return;
        }
        if (b == 0x1A) return payload_done(false);
        if (b == 0x1B) return payload_done(true);
        pay_ += static_cast<char>(b);
        if (pay_.size() > qmt::kMaxPayload + 16)
            fail("C3 payload-under-its-line",
                 "a payload under " + printable(l.text) + " runs past 1024 bytes without Ctrl-Z");
    }

    void line_done(const std::string& t) {
        ck_.trace([&] { return "  wire <- " + printable(t + "\r"); });
        Line l;
        l.text = t;
        if (!starts(t, "AT")) {
            fail("C7 wire-lines",
                 "the client wrote " + printable(t) + ", which is no command line");
            return;
        }
        if (starts(t, "AT+QMTOPEN=") && t != "AT+QMTOPEN=?") ++epoch_;
        if (starts(t, "AT+QMTPUB=") && t != "AT+QMTPUB=?") parse_pub(l);
        lines_.push_back(l);
        if (l.pub >= 0) {
            ws_ = Ws::maybe_payload;
            pay_line_ = lines_.size() - 1;
        }
    }

    void parse_pub(Line& l) {
        const std::vector<std::string> a = split_args(std::string_view(l.text).substr(10));
        const std::string topic = a.size() >= 5 && a[4].size() >= 2 && a[4].front() == '"'
                                      ? a[4].substr(1, a[4].size() - 2)
                                      : std::string();
        const long n = starts(topic, "t/") ? to_long(topic.substr(2)) : -1;
        if (a.size() < 5 || a.size() > 6 || n < 0 || static_cast<std::size_t>(n) >= pubs_.size()) {
            fail("C3 payload-under-its-line",
                 "the line " + printable(l.text) + " names no publish the harness made");
            return;
        }
        Pub& p = pubs_[static_cast<std::size_t>(n)];
        l.pub = static_cast<int>(n);
        l.msg_id = to_long(a[1]);
        l.len = a.size() == 6 ? to_long(a[5]) : -1;
        if (to_long(a[2]) != p.qos || to_long(a[3]) != (p.retain ? 1 : 0)) {
            fail("C3 payload-under-its-line", "the line " + printable(l.text) + " does not carry " +
                                                  p.topic + "'s QoS " + std::to_string(p.qos) +
                                                  " and retain " + std::to_string(p.retain));
        } else if (p.qos == 0 ? l.msg_id != 0 : (l.msg_id < 1 || l.msg_id > 65535)) {
            fail("C2 msgid-unique", "the line " + printable(l.text) + " has msgID " + a[1] +
                                        " for a QoS " + std::to_string(p.qos) + " publish");
        } else if (p.qos > 0) {
            for (const Pub& o : pubs_) {
                if (&o != &p && o.accepted && o.qos > 0 && !o.completed && o.msg_id == l.msg_id &&
                    o.epoch == epoch_) {
                    fail("C2 msgid-unique",
                         "the line " + printable(l.text) + " reuses msgID " + a[1] + " of " +
                             o.topic + " (ticket " + std::to_string(o.ticket) +
                             "), which went out in this session and is not acknowledged");
                    break;
                }
            }
        }
        p.msg_id = l.msg_id;
        p.epoch = epoch_;
    }

    void payload_done(bool esc) {
        ws_ = Ws::line;
        const Line& l = lines_[pay_line_];
        const Pub& p = pubs_[static_cast<std::size_t>(l.pub)];
        ck_.trace([&] {
            return "  wire <- payload " + printable(pay_, 60) + (esc ? " + ESC" : "") +
                   (l.len >= 0 ? " (fixed length)"
                    : esc      ? ""
                               : " + Ctrl-Z");
        });
        if (esc) {
            fail("C3 payload-under-its-line", "the payload under " + printable(l.text) + " (" +
                                                  printable(pay_, 60) + ") was cut by ESC");
            return;
        }
        if (pay_ == p.payload) return;
        std::string whose = "no publish's payload";
        for (const Pub& o : pubs_) {
            if (o.accepted && o.payload == pay_)
                whose = "the payload of " + o.topic + " (ticket " + std::to_string(o.ticket) + ")";
        }
        fail("C3 payload-under-its-line",
             "under the line " + printable(l.text) + " the client wrote " + printable(pay_, 60) +
                 ": " + whose + "; " + p.topic + " (ticket " + std::to_string(p.ticket) +
                 (p.completed ? ", already completed" : "") + ") was published with " +
                 printable(p.payload, 60));
    }

    // ------------------------------------------------------------ the Listener

    void on_link(LinkState s) override {
        if (draining_ && s == LinkState::backing_off) ++backoffs_;
        ck_.trace([&] { return "  on_link " + std::string(qmt::to_string(s)); });
    }
    void on_bringup_error(LinkState during, const qmt::ClientError& e) override {
        ck_.trace([&] {
            return "  on_bringup_error during " + std::string(qmt::to_string(during)) + ": " +
                   std::string(qmt::to_string(e.code));
        });
    }
    void on_published(std::uint32_t ticket, const qmt::Result<qmt::PublishReport>& r) override {
        ck_.trace([&] {
            return "  on_published ticket " + std::to_string(ticket) + ": " +
                   (r ? "OK msgID " + std::to_string(r->msg_id)
                      : std::string(qmt::to_string(r.error().code)));
        });
        auto it = by_ticket_.find(ticket);
        if (it == by_ticket_.end()) {
            fail("C4 completes-once", "on_published for ticket " + std::to_string(ticket) +
                                          ", which publish() never returned");
            return;
        }
        Pub& p = pubs_[it->second];
        if (p.completed) {
            fail("C4 completes-once", "a second on_published for ticket " + std::to_string(ticket) +
                                          " (" + p.topic + ")");
            return;
        }
        p.completed = true;
        ++completed_;
        if (r && p.qos > 0 && p.msg_id >= 0 && r->msg_id != p.msg_id) {
            fail("C4 completes-once", "on_published for " + p.topic + " reports msgID " +
                                          std::to_string(r->msg_id) + ", its line had " +
                                          std::to_string(p.msg_id));
            return;
        }
        // Keep the outbox topped up from inside the callback, as `qmtkit pub -l` does.
        for (int i = 0; i < 2 && refill_ > 0 && !ck_.failed(); ++i) {
            --refill_;
            if (!publish(refill_qos_, static_cast<std::uint8_t>(refill_ * 7),
                         "  on_published: publish"))
                break;
        }
    }
    void on_subscribed(std::uint32_t ticket, const qmt::Result<qmt::SubscribeReport>& r) override {
        ck_.trace(
            [&] { return "  on_subscribed " + std::to_string(ticket) + (r ? " OK" : " failed"); });
    }
    void on_message(const qmt::Message& m) override {
        ck_.trace([&] { return "  on_message " + printable(m.topic); });
    }

    // ------------------------------------------------------------ global checks

    void check_global(const char* after) {
        if (ck_.failed()) return;
        // Built only for a report: check_global runs after every step.
        const auto when = [after] { return std::string(" (after ") + after + ")"; };
        const std::size_t flying = client_->in_flight();
        if (flying > qmt::kFlightWindow || client_->stats().max_in_flight > qmt::kFlightWindow) {
            fail("C1 window", "in_flight()=" + std::to_string(flying) + ", max_in_flight=" +
                                  std::to_string(client_->stats().max_in_flight) +
                                  ": more than five publishes in flight" + when());
            return;
        }
        if (accepted_ - completed_ != client_->outbox()) {
            fail("C5 outbox-accounting",
                 std::to_string(accepted_) + " publishes accepted, " + std::to_string(completed_) +
                     " completed, but outbox()=" + std::to_string(client_->outbox()) + when());
            return;
        }
        if (client_->next_deadline() != kNever) return;
        at::EngineCore& e = client_->engine();
        const LinkState s = client_->state();
        if (e.queued() > 0 || e.awaiting_results() > 0) {
            fail("C6 deadline-never",
                 "next_deadline() is 'never' while the engine holds commands"
                 " (queued()=" +
                     std::to_string(e.queued()) +
                     ", awaiting_results()=" + std::to_string(e.awaiting_results()) + ")" + when());
        } else if (s != LinkState::stopped && s != LinkState::online) {
            fail("C6 deadline-never", "next_deadline() is 'never' in state " +
                                          std::string(qmt::to_string(s)) +
                                          ": the supervisor waits for nothing" + when());
        } else if (s == LinkState::online && client_->outbox() > flying) {
            fail("C6 deadline-never", "online with " + std::to_string(client_->outbox() - flying) +
                                          " publishes not in flight, and next_deadline() is "
                                          "'never'" +
                                          when());
        }
    }

    // After the input the module is silent: every timeout the client holds fires, and the
    // supervisor goes round its bring-up loop. Between the first and the third entry into
    // backing off lie two whole rounds; past them the polls only repeat (with 2,000 polls the
    // harness spent 80 % of its time there, for no new coverage).
    void drain() {
        ck_.trace([&] { return "-- end of input: poll() at next_deadline() only"; });
        draining_ = true;
        const Instant limit = now_ + kDrainSpan;
        for (int i = 0; i < kDrainPolls && !ck_.failed() && backoffs_ < kDrainRounds; ++i) {
            const Instant t = client_->next_deadline();
            if (t == kNever || t > limit) break;
            if (t > now_) now_ = t;
            client_->poll(now_);
            check_global("a poll at next_deadline() while draining");
        }
    }

    void fail(std::string invariant, std::string detail) {
        ck_.fail(std::move(invariant), std::move(detail));
    }

    ProgramReader in_;
    Checker ck_;
    std::unique_ptr<qmt::Client<>> client_;
    Instant now_ = kStart;

    std::vector<Pub> pubs_;  // index n: topic "t/<n>"
    std::unordered_map<std::uint32_t, std::size_t> by_ticket_;
    std::size_t accepted_ = 0;
    std::size_t completed_ = 0;
    int refill_ = 0;
    std::uint8_t refill_qos_ = 1;

    std::vector<Line> lines_;
    std::vector<std::string> pending_;  // results the module holds back
    std::uint32_t epoch_ = 0;           // AT+QMTOPEN lines so far

    bool draining_ = false;
    int backoffs_ = 0;  // entries into backing off while draining

    Ws ws_ = Ws::line;
    std::string cur_;
    std::string pay_;
    std::size_t pay_line_ = 0;
};

}  // namespace

Verdict check_client_case(const std::uint8_t* data, std::size_t size) {
    return check_case<ClientHarness>(data, size);
}

Verdict trace_client_case(const std::uint8_t* data, std::size_t size) {
    return ClientHarness(data, size, true).run();
}

void run_client_case(const std::uint8_t* data, std::size_t size) {
    const Verdict v = check_client_case(data, size);
    if (!v.ok) report_and_abort("client", v);
}

}  // namespace qmtkit::fuzz
