// The engine harness: interprets a program (engine_harness.hpp) against an at::EngineCore and
// keeps a model of every submitted command, to check the invariants below after every callback,
// every write and every operation. Invariant names (E1...) appear in the reports.
//
//   E1  every accepted command ends exactly once: on_final with an error; on_final OK for a
//       one-phase (or ESC-cancelled) command; on_final OK and then exactly one on_result that
//       says done or one on_result_error for a two-phase one; abandon() also ends it
//   E2  no callback for a seq that was never accepted or was abandon()ed
//   E3  next_deadline() is never "never" while a command is queued, running or awaited
//   E4  at the end of the input, driving the clock by next_deadline() alone ends every command
//   E5  a payload reaches the Writer only after on_prompt() (called for a '>' fed since that
//       command's line was written), right after that line, byte for byte what on_prompt gave
//   E6  command lines reach the Writer whole, as submitted, one after the other
//   E7  commands are written in the order they were submitted
//   E8  a callback's CommandRef carries the tag and spec given to submit()
//   E9  module answers (OK / ERROR / CME) end only a command whose line is written; a refused
//       submit writes nothing
//   E10 a result line reaches only a command whose result prefix and keys it repeats
//   E11 seqs are unique and increasing
//   E12 abandon() says true exactly for a command the engine still holds
//   E13 abort_all() ends every command that existed when it was called, with `aborted`
#include "engine_harness.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "program.hpp"
#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/recv.hpp"

namespace qmtkit::fuzz {
namespace {

using at::CommandRef;
using at::ErrorKind;
using at::Payload;
using at::ResultVerdict;

constexpr Instant kNever = ~Instant{0};
constexpr Instant kStart = 1000;
constexpr Millis kDrainSpan = 10'000'000;  // virtual ms the drive at the end may take
constexpr int kDrainPolls = 10'000;
constexpr int kMaxResubmits = 32;  // submits from callbacks, per case
constexpr std::size_t kMaxCommands = 400;

// CommandRef::prompt_late (a payload asked for when the '>' did not come in time: only a fixed-
// length one is written, blind) and EngineCore::settling() (the engine's own ESC / AT after a
// timeout) came with 0c5afaa. Read through these, the harness still builds against the cores
// before it, so the regressions replay on the code that had the defects.
template <class R>
auto prompt_late_of(const R& r, int) -> decltype(bool(r.prompt_late)) {
    return r.prompt_late;
}
template <class R>
bool prompt_late_of(const R&, long) {
    return false;
}
template <class E>
auto settling_of(const E& e, int) -> decltype(bool(e.settling())) {
    return e.settling();
}
template <class E>
bool settling_of(const E&, long) {
    return false;
}

// Small capacities reach "every result slot busy" and "queue full" in a few operations.
struct Tiny : at::EngineConfig {
    static constexpr std::size_t line_capacity = 160;
    static constexpr std::size_t queue_depth = 3;
    static constexpr std::size_t result_slots = 2;
};

struct Arg {
    bool quoted;
    std::int64_t num;
    std::string text;
};

// The harness's model of one submitted command.
struct Cmd {
    std::uint32_t seq = 0;
    std::uint32_t tag = 0;
    EngineCmd kind = EngineCmd::at;
    const at::CommandSpec* spec = nullptr;
    std::vector<Arg> args;
    std::string text;  // the line the engine must write, CR included
    std::string key;   // the keys its result line repeats ("0,<msgID>")
    std::uint8_t plan = 0;
    std::uint8_t extra = 0;
    Payload::End end = Payload::End::ctrl_z;
    std::vector<std::uint8_t> payload;  // handed out by on_prompt(); freed when the command ends
    std::string wire_payload;           // what the Writer must then see: payload and end byte
    bool accepted = false;              // submit() said yes
    bool refused = false;
    bool written = false;  // its line started on the wire
    bool text_done = false;
    bool prompted = false;
    bool cancelled = false;  // ESC: no result line follows
    bool final_seen = false;
    bool final_ok = false;
    bool result_done = false;
    bool ended = false;
    bool abandoned = false;
    bool held = false;         // abandoned while running: the engine still finishes it on the wire
    std::uint8_t results = 0;  // on_result calls
    std::uint64_t gt_at_write = 0;  // '>' bytes fed when its line started
    std::string how;                // what ended it
};

std::string join_args(const std::vector<Arg>& args, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n && i < args.size(); ++i) {
        if (i > 0) s += ',';
        s += args[i].quoted ? "\"" + args[i].text + "\"" : std::to_string(args[i].num);
    }
    return s;
}

bool continues(const std::string& expect, std::size_t off, std::string_view got) {
    return off + got.size() <= expect.size() && expect.compare(off, got.size(), got) == 0;
}

std::string describe(const at::AtError& e) {
    std::string s(at::to_string(e.kind));
    if (e.kind == ErrorKind::cme) s += " " + std::to_string(static_cast<unsigned>(e.cme));
    return s;
}

std::string describe(const at::Outcome& o) {
    return o ? "OK" : describe(o.error());
}

// Module lines the dictionary op feeds: chapter 6's answers and what else a BC28 says.
std::string_view token(std::uint8_t i) {
    static const std::string kLong = std::string(1400, 'x') + "\r\n";
    static const std::string_view kTokens[] = {
        "\r\nOK\r\n",
        "\r\nERROR\r\n",
        "\r\n+CME ERROR: 159\r\n",
        "\r\n+CME ERROR: 3\r\n",
        "\r\n+CME ERROR: 50\r\n",
        "\r\n+CME ERROR: incorrect parameters\r\n",
        "\r\n> ",
        "\r\n>",
        ">",
        "\r\n+QMTPUB: 0,1,0\r\n",
        "\r\n+QMTPUB: 0,0,0\r\n",
        "\r\n+QMTPUB: 0,1,1,1\r\n",
        "\r\n+QMTPUB: 0,2,2\r\n",
        "\r\n+QMTSTAT: 0,1\r\n",
        "\r\n+QMTRECV: 0,1,\"t\",\"x\"\r\n",
        "\r\n+QMTRECV: 0,0,\"topic/pub\",这是测试数据, hello MQTT.\r\n",
        "\r\n+QMTOPEN: 0,0\r\n",
        "\r\n+QMTOPEN: 0,2\r\n",
        "\r\n+QMTOPEN: 0,\"iot-as-mgtt.cn-shanghai.aliyuncs.com\",1883\r\n",
        "\r\n+QMTCONN: 0,0,0\r\n",
        "\r\n+QMTCONN: 0,1\r\n",
        "\r\n+QMTCONN: 0,3\r\n",
        "\r\n+QMTSUB: 0,1,0,2\r\n",
        "\r\n+QMTUNS: 0,2,0\r\n",
        "\r\n+QMTDISC: 0,0\r\n",
        "\r\n+QMTCLOSE: 0,0\r\n",
        "\r\n+QMTTENAUTH: 0,\"tok\"\r\n",
        "\r\n+CGATT:1\r\n",
        "\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n",
        "AT\r",
        "AT+QMTPUB=0,0,0,0,\"topic/pub\"\r",
        "\r\n",
        "\r",
        "\n",
        "garbage\r\n",
        kLong,
        "\x1A",
        "\x1B",
        "\r\n+QMTRECV: 0,3,\"t/last\",ends the stream",
        "\r\n+QMTOPEN: (0),<host_name>,<port>\r\n",
    };
    return kTokens[i % (sizeof(kTokens) / sizeof(kTokens[0]))];
}

std::string_view final_line(std::uint8_t k) {
    static const std::string_view kFinals[] = {
        "\r\nOK\r\n", "\r\nERROR\r\n", "\r\n+CME ERROR: 159\r\n", "\r\n+CME ERROR: 3\r\n",
        "OK\r\n",     "\r\nOK\r\n",    "\r\n+CME ERROR: 50\r\n",  "\r\nOK\r\n\r\n",
    };
    return kFinals[k % (sizeof(kFinals) / sizeof(kFinals[0]))];
}

std::string urc_text(std::uint8_t b) {
    switch (b % 8) {
        case 0:
        case 1:
            return "\r\n+QMTSTAT: 0," + std::to_string(1 + (b >> 3) % 7) + "\r\n";
        case 2:
            return "\r\nREBOOT_CAUSE_APPLICATION_WATCHDOG\r\nNeul\r\nOK\r\n";
        case 3:
            return "\r\n+QMTRECV: 0,1,\"t\",\"x\"\r\n";
        case 4:
            return "\r\n+QMTRECV: 0,2,\"t/b\",line one\r\nline two\r\n";
        case 5:
            return "\r\n+QMTRECV: 0,1,\"t/q\",\"quoted, with \"\"commas\"\"\"\r\n";
        case 6:
            return "\r\n+QMTRECV: 0,3,\"t/last\",ends";
        default:
            return "\r\nREBOOTING\r\n";
    }
}

class EngineHarness final : public at::CommandHandler, public at::Writer {
  public:
    EngineHarness(const std::uint8_t* data, std::size_t size, bool tracing)
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
    enum class Unit : std::uint8_t { none, text, payload };

    // ------------------------------------------------------------ set-up and operations

    void setup() {
        const std::uint8_t h = in_.u8();
        const std::uint8_t w = in_.u8();
        if (h & engine_header::tiny) {
            tiny_ = std::make_unique<at::Engine<Tiny>>(*this);
            e_ = tiny_.get();
            slots_ = Tiny::result_slots;
            depth_ = Tiny::queue_depth;
            pool_ = Tiny::command_pool;
        } else {
            big_ = std::make_unique<at::Engine<>>(*this);
            e_ = big_.get();
            slots_ = at::EngineConfig::result_slots;
            depth_ = at::EngineConfig::queue_depth;
            pool_ = at::EngineConfig::command_pool;
        }
        if (h & engine_header::zero_byte_time) e_->set_byte_time_us(0);
        stat_link_lost_ = (h & engine_header::stat_link_lost) != 0;
        if (h & (engine_header::stat_log | engine_header::stat_link_lost))
            e_->on_urc(at::cmd::urc_stat, at::UrcHandler::bind<&EngineHarness::on_stat>(this));
        if (h & engine_header::reboot_aborts) {
            e_->on_urc("REBOOT_CAUSE", at::UrcHandler::bind<&EngineHarness::on_reboot>(this),
                       /*bare=*/true);
        }
        if (h & engine_header::claim_recv) {
            quoting_ = (h & engine_header::quoting_bare)     ? qmt::PayloadQuoting::bare
                       : (h & engine_header::quoting_quoted) ? qmt::PayloadQuoting::quoted
                                                             : qmt::PayloadQuoting::detect;
            e_->on_urc_claim(at::cmd::urc_recv,
                             at::ClaimHandler::bind<&EngineHarness::on_recv>(this));
        }
        set_writer(w);
        ck_.trace([&] {
            return "header: " + std::string(tiny_ ? "tiny engine" : "default engine") +
                   " flags=" + std::to_string(h) + " writer=" + std::to_string(w);
        });
        e_->poll(now_);
    }

    void set_writer(std::uint8_t b) {
        stalled_ = (b & 0xC0) == 0xC0;
        budget_ = (b & 0x3F) == 0 ? SIZE_MAX : ((b & 0x3F) % 8) + 1;
    }

    const char* step() {
        const auto op = static_cast<EngineOp>(in_.u8() % kEngineOpCount);
        switch (op) {
            case EngineOp::submit: {
                const std::uint8_t t = in_.u8();
                const std::uint8_t v = in_.u8();
                const std::uint8_t plan = in_.u8();
                const std::uint8_t extra = in_.u8();
                submit(t, v, plan, extra, "submit");
                return "submit";
            }
            case EngineOp::feed_token: {
                const std::uint8_t i = in_.u8();
                feed(token(i), in_.u8());
                return "feed";
            }
            case EngineOp::feed_raw: {
                const std::string s(in_.bytes(in_.u8()));
                feed(s, in_.u8());
                return "feed";
            }
            case EngineOp::feed_result: {
                Cmd* c = recent(in_.u8());
                const std::uint8_t r = in_.u8();
                if (c != nullptr) feed(result_line(*c, r), 0);
                return "feed result";
            }
            case EngineOp::feed_prompt: {
                static const std::string_view kForms[] = {"\r\n> ", "\r\n>", ">", "> "};
                feed(kForms[in_.u8() % 4], 0);
                return "feed prompt";
            }
            case EngineOp::feed_echo: {
                Cmd* c = recent(in_.u8());
                const std::uint8_t b = in_.u8();
                if (c != nullptr) {
                    std::string s = c->text;
                    if (b & 1) s.append(c->wire_payload.begin(), c->wire_payload.end());
                    feed(s, b >> 1);
                }
                return "feed echo";
            }
            case EngineOp::feed_final:
                feed(final_line(in_.u8()), 0);
                return "feed final";
            case EngineOp::advance_small:
                now_ += in_.u8();
                ck_.trace([&] { return "t=" + std::to_string(now_) + " (clock)"; });
                return "advance";
            case EngineOp::advance_large:
                now_ += (in_.u8() + 1u) * 1000u;
                ck_.trace([&] { return "t=" + std::to_string(now_) + " (clock)"; });
                return "advance";
            case EngineOp::poll:
                ck_.trace([&] { return "t=" + std::to_string(now_) + " poll()"; });
                e_->poll(now_);
                return "poll";
            case EngineOp::abandon:
                abandon_op(in_.u8());
                after_top_level_abandon();
                return "abandon";
            case EngineOp::abandon_all:
                abandon_all((in_.u8() & 1) == 0, "abandon_all op");
                after_top_level_abandon();
                return "abandon_all";
            case EngineOp::abort_all:
                abort_all("abort_all()");
                return "abort_all";
            case EngineOp::writer: {
                const std::uint8_t b = in_.u8();
                set_writer(b);
                ck_.trace([&] {
                    return "writer: " + std::string(stalled_ ? "stalled" : "open") +
                           (budget_ == SIZE_MAX ? "" : ", " + std::to_string(budget_) + " B/write");
                });
                return "writer";
            }
            case EngineOp::feed_urc: {
                const std::uint8_t b = in_.u8();
                feed(urc_text(b), in_.u8());
                return "feed urc";
            }
            case EngineOp::to_deadline: {
                const Instant t = e_->next_deadline();
                if (t != kNever && t > now_) now_ = t;
                ck_.trace([&] { return "t=" + std::to_string(now_) + " poll() at next_deadline"; });
                e_->poll(now_);
                return "poll at next_deadline";
            }
            case EngineOp::count:
                break;
        }
        return "?";
    }

    void feed(std::string_view s, std::uint8_t chunking) {
        const std::size_t chunk = (chunking & 0x0F) == 0 ? s.size() : (chunking & 0x0F);
        ck_.trace([&] {
            return "t=" + std::to_string(now_) + " feed " + printable(s) +
                   (chunk < s.size() ? " in chunks of " + std::to_string(chunk) : "");
        });
        for (std::size_t off = 0; off < s.size() && !ck_.failed(); off += chunk) {
            const std::string_view part = s.substr(off, chunk);
            gt_fed_ += static_cast<std::uint64_t>(std::count(part.begin(), part.end(), '>'));
            e_->feed(part, now_);
        }
    }

    Cmd* recent(std::uint8_t b) {
        const std::size_t n = cmds_.size();
        if (n == 0) return nullptr;
        if (b >= 0xF0) return cmds_[b % n].get();
        return cmds_[n - 1 - b % std::min<std::size_t>(n, 8)].get();
    }

    // ------------------------------------------------------------ submitting

    void build(Cmd& c, EngineCmd k, std::uint8_t v, std::uint8_t plan, std::uint8_t extra) {
        namespace cmd = at::cmd;
        const int cid = (v & 7) == 7 ? 1 : 0;  // mostly 0: a different id must not correlate
        const int msg = (v >> 3) & 3;          // few msgIDs: equal keys are served oldest first
        c.kind = k;
        c.plan = plan;
        c.extra = extra;
        c.tag = next_tag_++;
        const unsigned end = (plan >> engine_plan::end_shift) & 3u;
        c.end = end < 2    ? Payload::End::ctrl_z
                : end == 2 ? Payload::End::fixed
                           : Payload::End::cancel;
        auto num = [&](std::int64_t n) { c.args.push_back(Arg{false, n, {}}); };
        auto str = [&](std::string s) { c.args.push_back(Arg{true, 0, std::move(s)}); };
        switch (k) {
            case EngineCmd::at:
                c.spec = &cmd::at;
                break;
            case EngineCmd::cgatt:
                c.spec = &cmd::attach_query;
                break;
            case EngineCmd::ati:
                c.spec = &cmd::identify;
                break;
            case EngineCmd::cfg_keepalive:
                c.spec = &cmd::cfg_keepalive;
                num(0);
                num(extra);
                break;
            case EngineCmd::aliauth:
                c.spec = &cmd::cfg_aliauth;
                num(0);
                str("oyjtmPl5a5j");
                str("MQTT_TEST");
                str("wN9Y6pZSIIy7Exa5qVzcmigEGO4kAazZ");
                break;
            case EngineCmd::open_test:
                c.spec = &cmd::open_test;
                break;
            case EngineCmd::open:
                c.spec = &cmd::open;
                num(cid);
                str("iot-as-mqtt.cn-shanghai.aliyuncs.com");
                num(1883);
                break;
            case EngineCmd::open_query:
                c.spec = &cmd::open_query;
                break;
            case EngineCmd::conn_test:
                c.spec = &cmd::conn_test;
                break;
            case EngineCmd::conn:
                c.spec = &cmd::conn;
                num(cid);
                str("MQTT_TEST");
                if (v & 0x20) {
                    str("user");
                    str("ConnPass");
                }
                break;
            case EngineCmd::conn_query:
                c.spec = &cmd::conn_query;
                break;
            case EngineCmd::sub_test:
                c.spec = &cmd::sub_test;
                break;
            case EngineCmd::sub:
                c.spec = &cmd::sub;
                num(cid);
                num(msg);
                str("topic/example");
                num(2);
                break;
            case EngineCmd::uns:
                c.spec = &cmd::uns;
                num(cid);
                num(msg);
                str("topic/example");
                break;
            case EngineCmd::pub_test:
                c.spec = &cmd::pub_test;
                break;
            case EngineCmd::pub:
                c.spec = &cmd::pub;
                num(cid);
                num(msg);
                num((v >> 5) % 3);
                num(0);
                str("topic/pub");
                break;
            case EngineCmd::disc:
                c.spec = &cmd::disc;
                num(cid);
                break;
            case EngineCmd::close:
                c.spec = &cmd::close;
                num(cid);
                break;
            case EngineCmd::tenauth:
                c.spec = &cmd::tenauth;
                str("pid");
                str("dev");
                str("pid@dev");
                str("TenSecret");
                num(30);
                break;
            case EngineCmd::reboot:
                c.spec = &cmd::reboot;
                break;
            case EngineCmd::bad_argument:
            case EngineCmd::count:
                c.kind = EngineCmd::bad_argument;
                c.spec = &cmd::cfg_will;
                num(0);
                num(1);
                num(0);
                num(0);
                str("t");
                str("bad\"quote");
                break;
        }
        if (c.spec->prompt) {
            // A payload that names its command, so a payload under the wrong line shows.
            std::string p = "p" + std::to_string(c.tag) + ":";
            if (plan & engine_plan::binary) p += std::string("\x1A\x1B\0\r\nOK\r\n>", 10);
            p += std::string(extra % 48, static_cast<char>('a' + c.tag % 26));
            c.payload.assign(p.begin(), p.end());
            if (c.end == Payload::End::fixed) num(static_cast<std::int64_t>(c.payload.size()));
            if (c.end == Payload::End::cancel) {
                c.wire_payload = "\x1B";
            } else {
                c.wire_payload = p;
                if (c.end == Payload::End::ctrl_z) c.wire_payload += '\x1A';
            }
        }
        c.text = "AT" + std::string(c.spec->name);
        switch (c.spec->form) {
            case at::Form::exec:
                break;
            case at::Form::test:
                c.text += "=?";
                break;
            case at::Form::query:
                c.text += "?";
                break;
            case at::Form::set:
                c.text += "=";
                break;
        }
        c.text += std::string(c.spec->head);
        if (!c.spec->head.empty() && !c.args.empty()) c.text += ",";
        c.text += join_args(c.args, c.args.size()) + "\r";
        if (c.spec->result_keys > 0 && c.args.size() >= c.spec->result_keys)
            c.key = join_args(c.args, c.spec->result_keys);
    }

    void submit(std::uint8_t t, std::uint8_t v, std::uint8_t plan, std::uint8_t extra,
                const char* from) {
        if (cmds_.size() >= kMaxCommands) return;
        cmds_.push_back(std::make_unique<Cmd>());
        Cmd& c = *cmds_.back();
        build(c, static_cast<EngineCmd>(t % static_cast<std::uint8_t>(EngineCmd::count)), v, plan,
              extra);
        at::Timeouts to{};
        if (plan & engine_plan::timeouts)
            to = at::Timeouts{50u * (extra % 8u + 1u), 100u * (extra / 8u % 8u + 1u)};
        ck_.trace([&] {
            return "t=" + std::to_string(now_) + " " + from + " #" + std::to_string(c.tag) + " " +
                   printable(c.text) + " plan=" + std::to_string(plan) +
                   (plan & engine_plan::timeouts
                        ? " timeouts=" + std::to_string(to.final) + "/" + std::to_string(to.result)
                        : "");
        });
        submitting_ = &c;  // the engine may write its line before submit() returns
        auto r = e_->submit_with(*c.spec, this, c.tag, to, [&](at::ArgWriter& w) {
            for (const Arg& a : c.args) {
                if (a.quoted)
                    w.quoted(a.text);
                else
                    w.integer(a.num);
            }
        });
        submitting_ = nullptr;
        if (!r) {
            c.refused = true;
            ck_.trace([&] { return "  refused: " + describe(r.error()); });
            if (c.written) {
                fail("E9 refused-writes-nothing", "submit() refused #" + std::to_string(c.tag) +
                                                      " " + printable(c.text) + " (" +
                                                      describe(r.error()) + ") but wrote it");
            } else if (r.error().kind == ErrorKind::bad_argument &&
                       c.kind != EngineCmd::bad_argument) {
                fail("E9 refused-writes-nothing",
                     "submit() refused the valid " + printable(c.text) + " as a bad argument");
            } else if (r.error().kind == ErrorKind::queue_full && e_->queued() < depth_ &&
                       pool_bound() + c.text.size() <= pool_) {
                fail("E9 refused-writes-nothing",
                     "submit() said queue_full with queued()=" + std::to_string(e_->queued()) +
                         " of " + std::to_string(depth_) + " and at most " +
                         std::to_string(pool_bound()) + " of " + std::to_string(pool_) +
                         " pool bytes taken");
            }
            if (!ck_.failed()) cmds_.pop_back();
            return;
        }
        if (c.kind == EngineCmd::bad_argument) {
            fail("E9 refused-writes-nothing",
                 "submit() accepted a string holding a quote: " + printable(c.text));
        }
        c.seq = *r;
        c.accepted = true;
        ck_.trace([&] { return "  accepted: seq " + std::to_string(c.seq); });
        if (c.seq <= last_seq_) {
            fail("E11 seq-unique", "submit() returned seq " + std::to_string(c.seq) +
                                       " after seq " + std::to_string(last_seq_));
        }
        last_seq_ = c.seq;
        by_seq_[c.seq] = &c;
        ++outstanding_;
    }

    void resubmit(const Cmd& c) {
        if (resubmits_ >= kMaxResubmits) return;
        ++resubmits_;
        const auto plan = static_cast<std::uint8_t>(
            c.plan & ~(engine_plan::resubmit_final | engine_plan::resubmit_result));
        submit(c.extra, static_cast<std::uint8_t>(c.extra ^ 0x5A), plan,
               static_cast<std::uint8_t>(c.extra >> 1), "  submit from a callback");
    }

    // ------------------------------------------------------------ abandon / abort

    // QMTKIT_FUZZ_POLL_AFTER_ABANDON=1: poll() right after a top-level abandon(), the work-around
    // a host can use, so that a long run looks past that known defect for others.
    void after_top_level_abandon() {
        static const bool poll_after = std::getenv("QMTKIT_FUZZ_POLL_AFTER_ABANDON") != nullptr;
        if (poll_after) e_->poll(now_);
    }

    void abandon_op(std::uint8_t b) {
        if (cmds_.empty() || b >= 0xF8) {
            const std::uint32_t seq = (b & 1) ? 0u : last_seq_ + 1u + (b & 3u);
            ck_.trace([&] { return "abandon(" + std::to_string(seq) + ") (unknown seq)"; });
            if (e_->abandon(seq))
                fail("E12 abandon-return", "abandon(" + std::to_string(seq) +
                                               ") returned true for a seq never handed out");
            return;
        }
        abandon(*recent(b), "abandon()");
    }

    void abandon(Cmd& c, const char* from) {
        ck_.trace([&] {
            return std::string(from) + " seq " + std::to_string(c.seq) + " (" + state(c) + ")";
        });
        const bool was_abandoned = c.abandoned;
        const bool expect = !c.ended;
        const bool queued_before = !c.ended && !c.final_seen;  // in the engine's queue
        const std::size_t queued = e_->queued();
        // Ended before the call: abandon() may start the next command and write it at once.
        // Held for now: if it is the running one, it still goes on the wire.
        if (!c.ended) {
            c.abandoned = true;
            c.held = queued_before;
            finish(c, "abandon()", /*release=*/false);  // its payload may still be on the wire
        }
        const bool got = e_->abandon(c.seq);
        if (queued_before) {
            // A queued command leaves the queue; the running one stays until it has finished.
            const bool running = e_->queued() == queued;
            c.held = running;
            if (running) {
                for (auto& d : cmds_) {
                    if (d.get() != &c) d->held = false;  // one command runs at a time
                }
            }
        }
        if (!was_abandoned && got != expect) {
            fail("E12 abandon-return",
                 "abandon(" + std::to_string(c.seq) + ") returned " + (got ? "true" : "false") +
                     " for " + printable(c.text) + ", which " +
                     (expect ? "had not ended" : "had ended (" + c.how + ")"));
        }
    }

    void abandon_all(bool two_phase_only, const char* from) {
        const std::size_t n = cmds_.size();
        for (std::size_t i = 0; i < n && !ck_.failed(); ++i) {
            Cmd& c = *cmds_[i];
            if (c.accepted && !c.ended && (!two_phase_only || c.spec->two_phase()))
                abandon(c, from);
        }
    }

    void abort_all(const char* from) {
        ck_.trace([&] { return std::string(from) + ": abort_all()"; });
        std::vector<Cmd*> before;
        for (auto& c : cmds_) {
            if (c->accepted && !c->ended) before.push_back(c.get());
        }
        ++in_abort_;
        e_->abort_all();
        --in_abort_;
        for (Cmd* c : before) {
            if (!c->ended) {
                fail("E13 abort-all-ends-everything",
                     "seq " + std::to_string(c->seq) + " " + printable(c->text) +
                         " is still outstanding after " + from + " (" + state(*c) + ")");
                return;
            }
        }
    }

    // ------------------------------------------------------------ URC handlers

    void on_stat(std::string_view line) {
        ck_.trace([&] { return "  urc " + printable(line); });
        if (stat_link_lost_) abandon_all(true, "  +QMTSTAT handler (link lost): abandon");
    }

    void on_reboot(std::string_view line) {
        ck_.trace([&] { return "  urc " + printable(line); });
        abort_all("  REBOOT_CAUSE handler");
    }

    at::Claim on_recv(ByteView b, at::ClaimPhase phase) {
        const qmt::RecvParse p = qmt::parse_recv(b, phase, quoting_);
        if (p.status == qmt::RecvParse::Status::need_more) return at::Claim::need_more();
        ck_.trace([&] { return "  claimed " + printable(b.as_text().substr(0, p.consumed)); });
        return at::Claim::done(p.consumed);
    }

    // ------------------------------------------------------------ the Writer

    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        if (stalled_ || n == 0) return 0;
        const std::size_t k = std::min(n, budget_);
        on_wire(std::string_view(reinterpret_cast<const char*>(d), k));
        return k;
    }

    void on_wire(std::string_view b) {
        ck_.trace([&] { return "  wire <- " + printable(b); });
        if (ck_.failed()) return;
        if (settling_of(*e_, 0)) {
            // The engine's own ESC / AT while the line settles after a timeout.
            if (std::string_view("AT\r").find(b) != std::string_view::npos || b == "\x1B") return;
            fail("E6 wire-lines", "while settling the engine wrote " + printable(b));
            return;
        }
        if (unit_ == Unit::text && unit_off_ < unit_cmd_->text.size()) {
            if (continues(unit_cmd_->text, unit_off_, b)) {
                unit_off_ += b.size();
                if (unit_off_ == unit_cmd_->text.size()) unit_cmd_->text_done = true;
                return;
            }
            if (unit_cmd_->abandoned && reattribute(b)) return;
            if (!unit_cmd_->ended) {
                fail("E6 wire-lines", "the line " + printable(unit_cmd_->text) + " of seq " +
                                          std::to_string(unit_cmd_->seq) + " was cut after " +
                                          std::to_string(unit_off_) + " bytes by " + printable(b) +
                                          " while the command is still running");
                return;
            }
        } else if (unit_ == Unit::payload && unit_off_ < unit_cmd_->wire_payload.size()) {
            if (continues(unit_cmd_->wire_payload, unit_off_, b)) {
                unit_off_ += b.size();
                return;
            }
            // A final result ends the command's time on the wire: the rest of a payload may go.
            if (!unit_cmd_->ended && !unit_cmd_->final_seen) {
                fail("E5 payload-after-prompt",
                     "seq " + std::to_string(unit_cmd_->seq) + ": the Writer got " + printable(b) +
                         " where the rest of its payload " +
                         printable(unit_cmd_->wire_payload.substr(unit_off_)) + " belongs");
                return;
            }
        }
        unit_ = Unit::none;
        // ESC alone: the engine cancels a prompt nobody will answer (an abandoned command).
        if (b == "\x1B") return;
        start_line(b);
    }

    // At most the bytes of the engine's command pool in use: the lines of every accepted command
    // without a final result (abandoned ones included: one may still be on the wire).
    std::size_t pool_bound() const {
        std::size_t n = 0;
        for (const auto& c : cmds_) {
            if (!c->refused && c->accepted && !c->final_seen) n += c->text.size();
        }
        return n;
    }

    // Commands the engine's queue must hold: submitted (or being submitted), no final result yet.
    std::size_t in_queue() const {
        std::size_t n = 0;
        for (const auto& c : cmds_) {
            n += !c->refused && (c->accepted || c.get() == submitting_) && !c->final_seen &&
                         !c->ended
                     ? 1u
                     : 0u;
        }
        return n;
    }

    // Not written yet and may still be: accepted (or being submitted) and not ended — or
    // abandoned while running (with a stalled Writer: no byte out yet) and still in the engine's
    // queue, since such a command still goes on the wire.
    bool may_be_written(const Cmd& c, bool held_alive) const {
        if (c.refused || c.written || !(c.accepted || &c == submitting_)) return false;
        return !c.ended || (c.held && held_alive);
    }

    // A line taken for an abandoned command goes on differently: it was the start of a later
    // command's line after all.
    bool reattribute(std::string_view b) {
        Cmd* was = unit_cmd_;
        was->held = false;
        const std::string line = was->text.substr(0, unit_off_) + std::string(b);
        for (auto& c : cmds_) {
            if (c.get() != was && may_be_written(*c, true) && continues(c->text, 0, line)) {
                start_line(line);
                return true;
            }
        }
        return false;
    }

    void start_line(std::string_view b) {
        // An abandoned command still running is the one being written, if the engine's queue
        // holds one more command than the model's.
        const bool held_alive = e_->queued() > in_queue();
        Cmd* first = nullptr;  // the command that must come next
        for (auto& c : cmds_) {
            if (!may_be_written(*c, held_alive)) continue;
            if (continues(c->text, 0, b)) {
                if (first != nullptr) {
                    fail("E7 wire-order", "seq " + std::to_string(c->seq) + " " +
                                              printable(c->text) + " was written before seq " +
                                              std::to_string(first->seq) + " " +
                                              printable(first->text) +
                                              ", which was submitted earlier and is still queued");
                    return;
                }
                // A command that was never abandoned starts: whatever was held has finished.
                if (!c->held) {
                    for (auto& d : cmds_) d->held = false;
                }
                c->written = true;
                c->gt_at_write = gt_fed_;
                unit_ = Unit::text;
                unit_cmd_ = c.get();
                unit_off_ = b.size();
                if (unit_off_ == c->text.size()) c->text_done = true;
                return;
            }
            if (first == nullptr && !c->ended) first = c.get();
        }
        fail("E5 payload-after-prompt",
             "the Writer got " + printable(b) + ", which is neither the next command line (" +
                 (first != nullptr
                      ? "seq " + std::to_string(first->seq) + " " + printable(first->text)
                      : std::string("none is waiting")) +
                 ") nor a payload that on_prompt() handed out after a '>'");
    }

    // ------------------------------------------------------------ the handler

    Cmd* lookup(const CommandRef& r, const char* cb) {
        auto it = by_seq_.find(r.seq);
        if (it == by_seq_.end()) {
            fail("E2 no-callback-after-end", std::string(cb) + " for seq " + std::to_string(r.seq) +
                                                 ", which submit() never handed out");
            return nullptr;
        }
        Cmd& c = *it->second;
        if (c.abandoned) {
            fail("E2 no-callback-after-end", std::string(cb) + " for seq " + std::to_string(c.seq) +
                                                 " " + printable(c.text) + " after abandon(" +
                                                 std::to_string(c.seq) + ")");
            return nullptr;
        }
        if (c.ended) {
            fail("E1 ends-exactly-once", std::string(cb) + " for seq " + std::to_string(c.seq) +
                                             " " + printable(c.text) +
                                             ", which had already ended (" + c.how + ")");
            return nullptr;
        }
        if (r.tag != c.tag || r.spec != c.spec) {
            fail("E8 ref", std::string(cb) + " for seq " + std::to_string(c.seq) + " with tag " +
                               std::to_string(r.tag) + " (submitted with " + std::to_string(c.tag) +
                               ") or another spec");
            return nullptr;
        }
        return &c;
    }

    void finish(Cmd& c, std::string how, bool release = true) {
        c.ended = true;
        c.how = std::move(how);
        --outstanding_;
        ck_.trace([&] { return "  => seq " + std::to_string(c.seq) + " ended: " + c.how; });
        // The engine may not touch the payload after the command's end: make ASan see it.
        if (release) std::vector<std::uint8_t>().swap(c.payload);
    }

    void on_info(const CommandRef& r, std::string_view line) override {
        Cmd* c = lookup(r, "on_info");
        if (c == nullptr) return;
        ck_.trace(
            [&] { return "  on_info seq " + std::to_string(c->seq) + " " + printable(line); });
        if (c->final_seen) {
            fail("E1 ends-exactly-once", "on_info " + printable(line) + " for seq " +
                                             std::to_string(c->seq) + " after its final result");
        }
    }

    Payload on_prompt(const CommandRef& r) override {
        Cmd* c = lookup(r, "on_prompt");
        if (c == nullptr) return {};
        const bool late = prompt_late_of(r, 0);
        ck_.trace(
            [&] { return "  on_prompt seq " + std::to_string(c->seq) + (late ? " (late)" : ""); });
        const std::string who = "seq " + std::to_string(c->seq) + " " + printable(c->text);
        if (!c->spec->prompt) {
            fail("E5 payload-after-prompt", "on_prompt for " + who + ", which has no prompt");
        } else if (c->final_seen) {
            fail("E5 payload-after-prompt", "on_prompt for " + who + " after its final result");
        } else if (c->prompted) {
            fail("E5 payload-after-prompt", "a second on_prompt for " + who);
        } else if (unit_cmd_ != c || !c->text_done) {
            fail("E5 payload-after-prompt",
                 "on_prompt for " + who + " while the last line written is " +
                     (unit_cmd_ != nullptr ? "seq " + std::to_string(unit_cmd_->seq) + "'s"
                                           : "none") +
                     (c->text_done ? "" : " (its own line is not completely written)"));
        } else if (!late && gt_fed_ <= c->gt_at_write) {
            fail("E5 payload-after-prompt",
                 "on_prompt for " + who + ", but no '>' was fed since its line was written");
        }
        c->prompted = true;
        unit_cmd_ = c;
        unit_off_ = 0;
        unit_ = Unit::payload;
        if (c->end == Payload::End::cancel) {
            c->cancelled = !late;
            return Payload{{}, Payload::End::cancel};
        }
        // Late and not fixed length: the engine cancels it itself and times the command out.
        if (late && c->end != Payload::End::fixed) unit_ = Unit::none;
        return Payload{ByteView(c->payload.data(), c->payload.size()), c->end};
    }

    void on_final(const CommandRef& r, const at::Outcome& o) override {
        Cmd* c = lookup(r, "on_final");
        if (c == nullptr) return;
        ck_.trace([&] { return "  on_final seq " + std::to_string(c->seq) + " " + describe(o); });
        const std::string who = "seq " + std::to_string(c->seq) + " " + printable(c->text);
        if (c->final_seen) {
            fail("E1 ends-exactly-once", "a second on_final (" + describe(o) + ") for " + who);
            return;
        }
        const bool answer =
            o || o.error().kind == ErrorKind::error || o.error().kind == ErrorKind::cme;
        if (!o &&
            (o.error().kind == ErrorKind::queue_full || o.error().kind == ErrorKind::bad_argument ||
             o.error().kind == ErrorKind::result_timeout)) {
            fail("E1 ends-exactly-once", "on_final for " + who + " with " + describe(o));
        } else if (answer && !c->text_done) {
            fail("E9 answers-after-the-line",
                 "on_final " + describe(o) + " for " + who + " before its line was written");
        } else if (in_abort_ > 0 && (o || o.error().kind != ErrorKind::aborted)) {
            fail("E13 abort-all-ends-everything",
                 "on_final " + describe(o) + " for " + who + " inside abort_all()");
        }
        c->final_seen = true;
        c->final_ok = o.has_value();
        if (!o) {
            finish(*c, "on_final " + describe(o));
        } else if (!c->spec->two_phase() || c->cancelled) {
            finish(*c, c->cancelled ? "on_final OK after ESC" : "on_final OK");
        } else if (c->result_done) {
            finish(*c, "on_final OK after its result");
        }
        if (c->plan & engine_plan::resubmit_final) resubmit(*c);
    }

    bool repeats_keys(const Cmd& c, std::string_view line) const {
        const std::string_view p = c.spec->result;
        if (line.size() <= p.size() || line.compare(0, p.size(), p) != 0 || line[p.size()] != ':')
            return false;
        std::string_view body = line.substr(p.size() + 1);
        while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
        if (c.key.empty()) return true;
        if (body.size() < c.key.size() || body.compare(0, c.key.size(), c.key) != 0) return false;
        return body.size() == c.key.size() || body[c.key.size()] == ',';
    }

    ResultVerdict on_result(const CommandRef& r, std::string_view line) override {
        Cmd* c = lookup(r, "on_result");
        if (c == nullptr) return ResultVerdict::done;
        ResultVerdict v = ResultVerdict::done;
        switch (c->plan & engine_plan::verdict_mask) {
            case 1:
                v = c->results == 0 ? ResultVerdict::intermediate : ResultVerdict::done;
                break;
            case 2:
                v = c->results == 0 ? ResultVerdict::not_mine : ResultVerdict::done;
                break;
            case 3:
                v = ResultVerdict::not_mine;
                break;
            default:
                break;
        }
        ++c->results;
        ck_.trace([&] {
            return "  on_result seq " + std::to_string(c->seq) + " " + printable(line) + " -> " +
                   (v == ResultVerdict::done           ? "done"
                    : v == ResultVerdict::intermediate ? "intermediate"
                                                       : "not_mine");
        });
        const std::string who = "seq " + std::to_string(c->seq) + " " + printable(c->text);
        if (!c->spec->two_phase()) {
            fail("E1 ends-exactly-once", "on_result for the one-phase " + who);
        } else if (c->result_done) {
            fail("E1 ends-exactly-once",
                 "on_result " + printable(line) + " for " + who + " after its result was done");
        } else if (c->cancelled) {
            fail("E1 ends-exactly-once",
                 "on_result " + printable(line) + " for " + who + ", cancelled with ESC");
        } else if (!repeats_keys(*c, line)) {
            fail("E10 correlation", "the line " + printable(line) + " went to " + who +
                                        ", whose result prefix and keys \"" + c->key +
                                        "\" it does not repeat");
        }
        if (v == ResultVerdict::done) {
            c->result_done = true;
            if (c->final_seen) finish(*c, "on_result done");
        }
        if (c->plan & engine_plan::resubmit_result) resubmit(*c);
        return v;
    }

    void on_result_error(const CommandRef& r, const at::AtError& e) override {
        Cmd* c = lookup(r, "on_result_error");
        if (c == nullptr) return;
        ck_.trace(
            [&] { return "  on_result_error seq " + std::to_string(c->seq) + " " + describe(e); });
        const std::string who = "seq " + std::to_string(c->seq) + " " + printable(c->text);
        if (!c->spec->two_phase()) {
            fail("E1 ends-exactly-once", "on_result_error for the one-phase " + who);
        } else if (!c->final_ok) {
            fail("E1 ends-exactly-once",
                 "on_result_error " + describe(e) + " for " + who + " before its OK");
        } else if (c->result_done || c->cancelled) {
            fail("E1 ends-exactly-once",
                 "on_result_error " + describe(e) + " for " + who +
                     (c->cancelled ? ", cancelled with ESC" : ", after its result"));
        } else if (e.kind != ErrorKind::result_timeout && e.kind != ErrorKind::aborted) {
            fail("E1 ends-exactly-once", "on_result_error " + describe(e) + " for " + who);
        } else if (in_abort_ > 0 && e.kind != ErrorKind::aborted) {
            fail("E13 abort-all-ends-everything",
                 "on_result_error " + describe(e) + " for " + who + " inside abort_all()");
        }
        finish(*c, "on_result_error " + describe(e));
    }

    // ------------------------------------------------------------ global checks

    std::string result_line(const Cmd& c, std::uint8_t r) const {
        const std::string_view prefix = (r & 0x80) ? "" : "\r\n";
        if (!c.spec->two_phase()) {
            // Its information line instead.
            if (c.spec->info.empty()) return std::string(prefix) + "OK\r\n";
            if (c.spec->info == at::kAnyLine) return std::string(prefix) + "Quectel\r\n";
            return std::string(prefix) + std::string(c.spec->info) + (r & 1 ? ":1" : ": 0,3") +
                   "\r\n";
        }
        std::string key = c.key;
        if (r & 0x40) key += "9";  // keys that do not match
        std::string body;
        switch (c.kind) {
            case EngineCmd::pub:
                body = key + "," + std::to_string(r % 3) +
                       ((r & 4) ? "," + std::to_string((r >> 3) & 3) : "");
                break;
            case EngineCmd::sub:
                body = key + (r % 3 == 0 ? ",0,2" : r % 3 == 1 ? ",1" : ",2");
                break;
            case EngineCmd::uns:
                body = key + "," + std::to_string(r % 3);
                break;
            case EngineCmd::conn:
                body = key + (r % 3 == 0 ? ",0,0" : r % 3 == 1 ? ",1" : ",0,5");
                break;
            case EngineCmd::tenauth:
                body = (r & 1) ? "0,\"tok\"" : "6";
                break;
            default:
                body = key + "," + std::to_string(static_cast<int>(r % 4) - 1);
                break;
        }
        return std::string(prefix) + std::string(c.spec->result) + ": " + body + "\r\n";
    }

    std::string state(const Cmd& c) const {
        if (c.ended) return "ended: " + c.how;
        if (!c.written) return "queued, never written";
        if (!c.text_done) return "its line partly written";
        if (!c.final_seen)
            return c.prompted ? "prompted, awaiting its final result"
                              : "written, awaiting its final result";
        return "OK came, awaiting its result line";
    }

    std::string outstanding_text() const {
        std::string s;
        int shown = 0;
        for (const auto& c : cmds_) {
            if (!c->accepted || c->ended) continue;
            if (shown == 4) {
                s += ", ...";
                break;
            }
            if (shown++ > 0) s += ", ";
            s +=
                "seq " + std::to_string(c->seq) + " " + printable(c->text) + " (" + state(*c) + ")";
        }
        return s;
    }

    void check_global(const char* after) {
        if (ck_.failed()) return;
        const Instant t = e_->next_deadline();
        if (t == kNever && (outstanding_ > 0 || e_->queued() > 0 || e_->awaiting_results() > 0)) {
            fail("E3 deadline-never",
                 std::string("after ") + after + ": next_deadline() is 'never' (~0) while " +
                     (outstanding_ > 0 ? outstanding_text() : std::string("nothing of ours")) +
                     " is outstanding (queued()=" + std::to_string(e_->queued()) +
                     ", awaiting_results()=" + std::to_string(e_->awaiting_results()) +
                     "): a host that sleeps until next_deadline() never polls again");
        } else if (e_->awaiting_results() > slots_ || e_->queued() > depth_) {
            fail("E3 deadline-never",
                 "capacities exceeded: queued()=" + std::to_string(e_->queued()) +
                     ", awaiting_results()=" + std::to_string(e_->awaiting_results()));
        }
    }

    void drain() {
        ck_.trace([&] {
            return "-- end of input: the Writer takes everything, poll() at next_deadline() only";
        });
        stalled_ = false;
        budget_ = SIZE_MAX;
        const Instant limit = now_ + kDrainSpan;
        int polls = 0;
        for (; polls < kDrainPolls && !ck_.failed(); ++polls) {
            const Instant t = e_->next_deadline();
            if (t == kNever || t > limit) break;
            if (t > now_) now_ = t;
            ck_.trace([&] { return "t=" + std::to_string(now_) + " poll() at next_deadline"; });
            e_->poll(now_);
            check_global("a poll at next_deadline() while draining");
        }
        if (ck_.failed()) return;
        if (outstanding_ > 0) {
            fail("E4 every-command-ends",
                 "after the input, " + std::to_string(polls) +
                     " polls at next_deadline() up to t=" + std::to_string(now_) + " left " +
                     outstanding_text() + " without its final outcome");
        } else if (!e_->idle()) {
            fail("E4 every-command-ends",
                 "every command ended, yet the engine is not idle: queued()=" +
                     std::to_string(e_->queued()) +
                     ", awaiting_results()=" + std::to_string(e_->awaiting_results()));
        }
    }

    void fail(std::string invariant, std::string detail) {
        ck_.fail(std::move(invariant), std::move(detail));
    }

    ProgramReader in_;
    Checker ck_;
    std::unique_ptr<at::Engine<>> big_;
    std::unique_ptr<at::Engine<Tiny>> tiny_;
    at::EngineCore* e_ = nullptr;
    std::size_t slots_ = 0;
    std::size_t depth_ = 0;
    std::size_t pool_ = 0;
    qmt::PayloadQuoting quoting_ = qmt::PayloadQuoting::detect;
    bool stat_link_lost_ = false;

    Instant now_ = kStart;
    std::vector<std::unique_ptr<Cmd>> cmds_;  // in submission order
    std::unordered_map<std::uint32_t, Cmd*> by_seq_;
    Cmd* submitting_ = nullptr;
    std::uint32_t last_seq_ = 0;
    std::uint32_t next_tag_ = 1;
    std::size_t outstanding_ = 0;  // accepted and not ended
    int resubmits_ = 0;
    int in_abort_ = 0;
    std::uint64_t gt_fed_ = 0;  // '>' bytes fed so far

    // The Writer.
    bool stalled_ = false;
    std::size_t budget_ = SIZE_MAX;
    Unit unit_ = Unit::none;  // what the bytes written last belong to
    Cmd* unit_cmd_ = nullptr;
    std::size_t unit_off_ = 0;
};

}  // namespace

Verdict check_engine_case(const std::uint8_t* data, std::size_t size) {
    return check_case<EngineHarness>(data, size);
}

Verdict trace_engine_case(const std::uint8_t* data, std::size_t size) {
    return EngineHarness(data, size, true).run();
}

void run_engine_case(const std::uint8_t* data, std::size_t size) {
    const Verdict v = check_engine_case(data, size);
    if (!v.ok) report_and_abort("engine", v);
}

}  // namespace qmtkit::fuzz
