// Zero heap allocations over a long engine session, and over a long client session. Every global
// allocation function is replaced by a counting one; the session (100 000 commands of every kind:
// plain, queries, CME errors, publishes with prompts and payload echo, two-phase results, claimed
// +QMTRECV, URCs, garbage, overlong lines, timeouts) runs with handlers that use no heap, and the
// count must not move.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "count_allocations.hpp"
#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/client.hpp"
#include "qmtkit/qmt/recv.hpp"

using qmtkit::test::g_allocations;

using namespace qmtkit;
using namespace qmtkit::at;

namespace {

// Keeps the last bytes written and a running checksum; no heap.
struct FixedWriter final : Writer {
    char last[700] = {};
    std::size_t last_len = 0;
    std::uint64_t total = 0;
    std::uint32_t sum = 0;
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i) {
            sum = sum * 31u + d[i];
            if (last_len < sizeof(last)) last[last_len++] = static_cast<char>(d[i]);
        }
        total += n;
        return n;
    }
    std::string_view take() {
        const std::string_view s(last, last_len);
        last_len = 0;
        return s;
    }
};

// Builds lines in a fixed buffer.
struct Text {
    char buf[1400];
    std::size_t len = 0;
    Text& add(std::string_view s) {
        std::memcpy(buf + len, s.data(), s.size());
        len += s.size();
        return *this;
    }
    Text& num(std::uint32_t v) {
        char rev[12];
        std::size_t n = 0;
        do {
            rev[n++] = static_cast<char>('0' + v % 10u);
            v /= 10u;
        } while (v != 0u);
        while (n > 0) buf[len++] = rev[--n];
        return *this;
    }
    std::string_view view() const { return {buf, len}; }
};

struct Tally final : CommandHandler {
    std::uint32_t ok = 0, errors = 0, timeouts = 0, cme = 0, infos = 0, prompts = 0, results = 0,
                  result_errors = 0, intermediates = 0;
    ByteView payload;
    Payload::End end = Payload::End::ctrl_z;
    void on_info(const CommandRef&, std::string_view line) override {
        FieldReader f(line);
        std::int32_t v = 0;
        f.prefix("+CGATT").integer(v);
        infos += f.ok() && v == 1 ? 1u : 0u;
    }
    Payload on_prompt(const CommandRef&) override {
        ++prompts;
        return Payload{payload, end};
    }
    void on_final(const CommandRef&, const Outcome& o) override {
        if (o) {
            ++ok;
        } else if (o.error().kind == ErrorKind::timeout) {
            ++timeouts;
        } else if (o.error().kind == ErrorKind::cme) {
            ++cme;
        } else {
            ++errors;
        }
    }
    ResultVerdict on_result(const CommandRef& r, std::string_view line) override {
        FieldReader f(line);
        std::int32_t id = 0, msg = 0, res = 0;
        f.prefix(r.spec->result).integer(id).integer(msg).integer(res);
        if (f.ok() && res == 1) {
            ++intermediates;
            return ResultVerdict::intermediate;
        }
        ++results;
        return ResultVerdict::done;
    }
    void on_result_error(const CommandRef&, const AtError&) override { ++result_errors; }
};

struct Session {
    FixedWriter wire;
    Engine<> engine{wire};
    Tally h;
    Instant now = 0;
    std::uint32_t recv_ok = 0, recv_bytes = 0, stats = 0;
    std::uint32_t rng = 12345u;
    std::uint32_t mismatches = 0;  // written bytes that differed from what was expected

    Claim on_recv(ByteView b, ClaimPhase phase) {
        const qmt::RecvParse p = qmt::parse_recv(b, phase);
        if (p.status == qmt::RecvParse::Status::need_more) return Claim::need_more();
        if (p.status == qmt::RecvParse::Status::complete) {
            ++recv_ok;
            recv_bytes += static_cast<std::uint32_t>(p.message.payload.size);
        }
        return Claim::done(p.consumed);
    }
    void on_stat(std::string_view) { ++stats; }

    std::uint32_t next() {
        rng = rng * 1103515245u + 12345u;
        return rng >> 8;
    }
    // Feeds in pseudo-random chunks.
    void rx(std::string_view s) {
        std::size_t at = 0;
        while (at < s.size()) {
            std::size_t k = 1 + next() % 40u;
            if (k > s.size() - at) k = s.size() - at;
            engine.feed(s.substr(at, k), now);
            at += k;
        }
    }
    void expect_written(std::string_view s) {
        if (wire.take() != s) ++mismatches;
    }
    void setup() {
        engine.on_urc_claim(cmd::urc_recv, ClaimHandler::bind<&Session::on_recv>(this));
        engine.on_urc(cmd::urc_stat, UrcHandler::bind<&Session::on_stat>(this));
        engine.poll(now);
    }

    void one(std::uint32_t i) {
        now += 5;
        const bool echo = (i % 3u) == 0u;
        switch (i % 10u) {
            case 0: {  // plain AT
                engine.submit(cmd::at, &h, i);
                expect_written("AT\r");
                rx(echo ? "AT\r\r\nOK\r\n" : "\r\nOK\r\n");
                break;
            }
            case 1: {  // query with an information line
                engine.submit(cmd::attach_query, &h, i);
                expect_written("AT+CGATT?\r");
                rx("\r\n+CGATT:1\r\n\r\nOK\r\n");
                break;
            }
            case 2: {  // QoS 1 publish with a prompt, a retransmission report and a result
                static const char kPayload[] = "temperature=21.5, humidity=40%";
                h.payload =
                    ByteView(reinterpret_cast<const std::uint8_t*>(kPayload), sizeof(kPayload) - 1);
                h.end = Payload::End::ctrl_z;
                const std::uint32_t id = 1u + i % 65535u;
                engine.submit(cmd::pub, &h, i, 0, id, 1, 0, "sensors/room1");
                Text cmdline;
                cmdline.add("AT+QMTPUB=0,").num(id).add(",1,0,\"sensors/room1\"\r");
                expect_written(cmdline.view());
                if (echo) rx(cmdline.view());
                rx("\r\n> ");
                Text sent;
                sent.add(kPayload).add("\x1A");
                expect_written(sent.view());
                Text answer;
                answer.add("\r\nOK\r\n\r\n+QMTPUB: 0,")
                    .num(id)
                    .add(",1,1\r\n\r\n+QMTPUB: 0,")
                    .num(id)
                    .add(",0\r\n");
                rx(answer.view());
                break;
            }
            case 3: {  // a claimed bare +QMTRECV with commas and CR LF, then a +QMTSTAT
                Text u;
                u.add("\r\n+QMTRECV: 0,").num(i % 65536u).add(",\"t/in\",a,b,\"c\"\r\nline two");
                for (std::uint32_t k = 0; k < 200u; ++k) u.add("xyz,");
                u.add("\r\n\r\n+QMTSTAT: 0,1\r\n");
                rx(u.view());
                break;
            }
            case 4: {  // a command that times out; its late OK lets the line settle
                engine.submit(cmd::at, &h, i);
                expect_written("AT\r");
                now = engine.next_deadline();
                engine.poll(now);
                rx("\r\nOK\r\n");
                break;
            }
            case 5: {  // garbage, an overlong line, then a command
                char g[1600];
                const std::size_t n = (i % 20u == 5u) ? sizeof(g) : 1u + next() % 200u;
                for (std::size_t k = 0; k < n; ++k) {
                    char c = static_cast<char>(next() & 0xFFu);
                    if (c == '\r' || c == '\n' || c == '+' || c == 'O' || c == 'E') c = '.';
                    g[k] = c;
                }
                rx(std::string_view(g, n));
                rx("\r\n");
                engine.submit(cmd::echo_off, &h, i);
                expect_written("ATE0\r");
                rx("\r\nOK\r\n");
                break;
            }
            case 6: {  // CME error
                engine.submit(cmd::conn, &h, i, 0, "client-1", "user", "secret");
                expect_written("AT+QMTCONN=0,\"client-1\",\"user\",\"secret\"\r");
                rx("\r\n+CME ERROR: 159\r\n");
                break;
            }
            case 7: {  // two-phase subscribe
                const std::uint32_t id = 1u + i % 65535u;
                engine.submit(cmd::sub, &h, i, 0, id, "cmd/#", 1);
                expect_written(Text().add("AT+QMTSUB=0,").num(id).add(",\"cmd/#\",1\r").view());
                rx(Text().add("\r\nOK\r\n\r\n+QMTSUB: 0,").num(id).add(",0,1\r\n").view());
                break;
            }
            case 8: {  // fixed-length publish with 0x1A / 0x1B in the payload, echo on
                static const std::uint8_t kBin[] = {'a', 0x1A, 'b', 0x1B, '\r', '\n', 0, 'z'};
                h.payload = ByteView(kBin, sizeof(kBin));
                h.end = Payload::End::fixed;
                engine.submit(cmd::pub, &h, i, 0, 0, 0, 0, "bin", static_cast<int>(sizeof(kBin)));
                const std::string_view line = wire.take();
                if (line != "AT+QMTPUB=0,0,0,0,\"bin\",8\r") ++mismatches;
                rx("AT+QMTPUB=0,0,0,0,\"bin\",8\r\r\n>");
                expect_written(std::string_view(reinterpret_cast<const char*>(kBin), sizeof(kBin)));
                rx(std::string_view(reinterpret_cast<const char*>(kBin), sizeof(kBin)));
                rx("\r\nOK\r\n\r\n+QMTPUB: 0,0,0\r\n");
                break;
            }
            case 9: {  // a two-phase result that never comes, then a stray OK
                engine.submit(cmd::disc, &h, i, 0);
                expect_written("AT+QMTDISC=0\r");
                rx("\r\nOK\r\n");
                now += cmd::kQuick;
                engine.poll(now);
                rx("\r\nOK\r\n");
                break;
            }
        }
    }
};

TEST(ZeroAlloc, TheCounterCountsEveryForm) {
    struct alignas(64) Wide {
        char c[64];
    };
    static volatile void* sink = nullptr;
    const std::size_t before = g_allocations.load();
    int* a = new int(7);
    sink = a;
    delete a;
    int* b = new int[3];
    sink = b;
    delete[] b;
    int* c = new (std::nothrow) int(1);
    sink = c;
    delete c;
    Wide* w = new Wide;
    sink = w;
    delete w;
    EXPECT_EQ(g_allocations.load() - before, 4u);
    (void)sink;
}

TEST(ZeroAlloc, LongSessionAllocatesNothing) {
    constexpr std::uint32_t kCommands = 100000;
    constexpr std::uint32_t kRounds = 112000;  // one round in ten is URCs only: 100 800 commands
    // Construct everything before the window: the engine, the handlers, gtest's own state.
    static Session s;  // static: keeps the 8 KiB engine off a small stack
    s.setup();
    const std::size_t before = g_allocations.load();
    std::uint32_t submitted = 0;
    for (std::uint32_t i = 0; i < kRounds; ++i) {
        if (i % 10u != 3u) ++submitted;
        s.one(i);
    }
    const std::size_t during = g_allocations.load() - before;

    EXPECT_EQ(during, 0u) << "heap allocations during the session";
    EXPECT_GE(submitted, kCommands);
    EXPECT_EQ(s.mismatches, 0u);
    const std::uint32_t per_kind = kRounds / 10u;
    EXPECT_EQ(s.recv_ok, per_kind);
    EXPECT_EQ(s.stats, per_kind);
    EXPECT_EQ(s.h.infos, per_kind);
    EXPECT_EQ(s.h.prompts, 2u * per_kind);
    EXPECT_EQ(s.h.timeouts, per_kind);
    EXPECT_EQ(s.h.cme, per_kind);
    EXPECT_EQ(s.h.intermediates, per_kind);
    EXPECT_EQ(s.h.results, 3u * per_kind);   // publish, subscribe, fixed publish
    EXPECT_EQ(s.h.result_errors, per_kind);  // the disconnect results that never came
    EXPECT_EQ(s.h.ok, 7u * per_kind);
    EXPECT_TRUE(s.engine.idle());
    const Counters& c = s.engine.counters();
    EXPECT_EQ(c.stray_finals, per_kind);
    EXPECT_GT(c.overflows, 0u);
    EXPECT_EQ(c.overflows, c.resyncs);
    EXPECT_EQ(c.claims, per_kind);
}

}  // namespace

// ---- the client and its supervisor, over a long session with link drops, without the heap

namespace {

bool starts(const char* s, std::size_t n, const char* p) {
    const std::size_t k = std::strlen(p);
    return n >= k && std::memcmp(s, p, k) == 0;
}

// A scripted module with fixed buffers: answers the client's commands, keeps a window of five,
// and delivers two-phase results a little later so the client's window fills.
struct NoHeapModule final : Writer {
    char line[700];
    std::size_t line_len = 0;
    bool payload = false;
    std::size_t fixed_left = 0;
    char out[16384];
    std::size_t out_len = 0;
    struct Pending {
        char text[48];
        std::size_t len;
        Instant due;
        bool pub;
    };
    Pending pend[32];
    std::size_t npend = 0;
    std::size_t in_flight = 0;
    std::size_t max_in_flight = 0;
    std::uint32_t acked = 0;
    std::uint16_t pub_id = 0;
    Instant now = 0;

    void put(const char* t, std::size_t n) {
        if (out_len + n <= sizeof(out)) {
            std::memcpy(out + out_len, t, n);
            out_len += n;
        }
    }
    void put(const char* t) { put(t, std::strlen(t)); }
    void later(const char* text, bool pub) {
        if (npend == sizeof(pend) / sizeof(pend[0])) return;
        Pending& p = pend[npend++];
        p.len = std::strlen(text);
        std::memcpy(p.text, text, p.len);
        p.due = now + 50;
        p.pub = pub;
    }
    void result_line(const char* head, std::uint32_t a, std::uint32_t b, int c, bool pub) {
        char t[48];
        std::snprintf(t, sizeof(t), "\r\n%s: 0,%u,%u%s\r\n", head, a, b, c >= 0 ? ",1" : "");
        later(t, pub);
    }
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i) byte(static_cast<char>(d[i]));
        return n;
    }
    void byte(char c) {
        if (payload) {
            if ((fixed_left > 0 && --fixed_left == 0) || (fixed_left == 0 && c == 0x1A)) {
                payload = false;
                put("\r\nOK\r\n");
                ++in_flight;
                if (in_flight > max_in_flight) max_in_flight = in_flight;
                char t[48];
                std::snprintf(t, sizeof(t), "\r\n+QMTPUB: 0,%u,0\r\n", pub_id);
                later(t, true);
            }
            return;
        }
        if (c != '\r') {
            if (c != '\n' && line_len + 1 < sizeof(line)) line[line_len++] = c;
            return;
        }
        line[line_len] = '\0';  // strtol below must stop at the end of this line
        const char* l = line;
        const std::size_t n = line_len;
        line_len = 0;
        if (starts(l, n, "AT+CGATT?")) return put("\r\n+CGATT:1\r\n\r\nOK\r\n");
        if (starts(l, n, "AT+QMTOPEN=")) {
            put("\r\nOK\r\n");
            return later("\r\n+QMTOPEN: 0,0\r\n", false);
        }
        if (starts(l, n, "AT+QMTCONN=")) {
            put("\r\nOK\r\n");
            return later("\r\n+QMTCONN: 0,0,0\r\n", false);
        }
        if (starts(l, n, "AT+QMTSUB=0,")) {
            put("\r\nOK\r\n");
            char t[48];
            std::snprintf(t, sizeof(t), "\r\n+QMTSUB: 0,%ld,0,1\r\n",
                          std::strtol(l + 12, nullptr, 10));
            return later(t, false);
        }
        if (starts(l, n, "AT+QMTPUB=0,")) {
            if (in_flight >= 5) return put("\r\n+CME ERROR: 159\r\n");
            pub_id = static_cast<std::uint16_t>(std::strtol(l + 12, nullptr, 10));
            // Fixed length when the line ends with ",<len>" after the topic's closing quote.
            const char* q = static_cast<const char*>(std::memchr(l, '"', n));
            const char* q2 = q ? static_cast<const char*>(std::memchr(
                                     q + 1, '"', n - static_cast<std::size_t>(q + 1 - l)))
                               : nullptr;
            fixed_left = (q2 && q2 + 1 < l + n && q2[1] == ',')
                             ? static_cast<std::size_t>(std::strtol(q2 + 2, nullptr, 10))
                             : 0;
            payload = true;
            return put("\r\n> ");
        }
        put("\r\nOK\r\n");  // AT, ATE0, CMEE, QMTCFG
    }
    void tick(qmt::ClientCore& c) {
        now += 10;
        for (std::size_t i = 0; i < npend;) {
            if (pend[i].due <= now) {
                put(pend[i].text, pend[i].len);
                if (pend[i].pub) {
                    ++acked;
                    if (in_flight > 0) --in_flight;
                }
                pend[i] = pend[--npend];
            } else {
                ++i;
            }
        }
        flush(c);
        c.poll(now);
        flush(c);
    }
    void flush(qmt::ClientCore& c) {
        static char stage[sizeof(out)];
        while (out_len > 0) {
            const std::size_t n = out_len;
            std::memcpy(stage, out, n);
            out_len = 0;
            c.feed(reinterpret_cast<const std::uint8_t*>(stage), n, now);
        }
    }
    void drop_link() {
        npend = 0;
        in_flight = 0;
        put("\r\n+QMTSTAT: 0,1\r\n");
    }
};

struct ClientTally final : qmt::Listener {
    std::uint32_t ok = 0, failed = 0, messages = 0, sessions = 0;
    void on_published(std::uint32_t, const qmt::Result<qmt::PublishReport>& r) override {
        r ? ++ok : ++failed;
    }
    void on_link(qmt::LinkState s) override { sessions += s == qmt::LinkState::online ? 1u : 0u; }
    void on_message(const qmt::Message&) override { ++messages; }
};

}  // namespace

TEST(ZeroAlloc, ClientSessionWithLinkDropsAllocatesNothing) {
    static NoHeapModule module;
    static ClientTally tally;
    static qmt::Client<> client(module, tally);
    qmt::Session session;
    session.host = "broker.local";
    session.client_id = "zero-alloc";
    ASSERT_TRUE(client.configure(session));
    static const char kPayload[] = "temperature=21.5, humidity=40%";
    static const std::uint8_t kBinary[] = {'x', 0x1A, 0x1B, 0, 'y'};
    const std::size_t before = g_allocations.load();

    ASSERT_TRUE(client.start(module.now));
    ASSERT_TRUE(client.subscribe("cmd/#", 1));
    constexpr std::uint32_t kPublishes = 20000;
    std::uint32_t queued = 0;
    for (std::uint32_t round = 0; round < 400000 && tally.ok + tally.failed < kPublishes; ++round) {
        while (queued < kPublishes) {
            const bool binary = queued % 7u == 0u;
            auto r = binary ? client.publish("t/bin", ByteView(kBinary, sizeof(kBinary)), {1})
                            : client.publish("t/x", ByteView(std::string_view(kPayload)), {1});
            if (!r) break;  // outbox full: wait for acknowledgements
            ++queued;
        }
        if (round % 50u == 7u) module.put("\r\n+QMTRECV: 0,0,\"cmd/x\",reboot, now\r\n\r\n");
        if (round % 5000u == 4999u) module.drop_link();
        module.tick(client);
    }
    const std::size_t during = g_allocations.load() - before;

    EXPECT_EQ(during, 0u) << "heap allocations during the client session";
    EXPECT_EQ(tally.ok, kPublishes);
    EXPECT_EQ(tally.failed, 0u);
    EXPECT_GT(tally.messages, 0u);
    EXPECT_GT(tally.sessions, 2u);  // the link came back after the drops
    EXPECT_EQ(module.max_in_flight, 5u);
    EXPECT_GE(module.acked, kPublishes);  // re-sends after drops may be acknowledged twice
}

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
