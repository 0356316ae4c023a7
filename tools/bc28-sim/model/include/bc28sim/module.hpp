// The BC28 / BC35-G module model: host bytes in, module bytes out, time injected.
//
// Pure logic: no I/O, no threads, no clock reads (the wall clock used to timestamp Aliyun
// signatures is injected too). The pty / TCP executable, in-process tests and benchmarks drive
// it the same way:
//   feed(bytes)      bytes the host wrote to the UART (at the model's current time: advance first)
//   advance(now_ms)  move the clock forward; runs due timers and network events
//   next_deadline()  when advance() must be called next, if nothing else happens before
// and receive the module's bytes through the Output callback. The clock counts microseconds
// inside (advance_us / next_deadline_us), so a paced UART (Options::baud) keeps exact byte times;
// the millisecond calls are the same clock, whole milliseconds.
#pragma once

#include "bc28sim/at_line.hpp"
#include "bc28sim/link.hpp"
#include "bc28sim/network.hpp"

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bc28sim {

// An 8N1 UART: 10 bits a byte. When the last bit of byte number `index` (from 0) of a burst that
// started at 0 is on the wire, in microseconds rounded up; bc28-sim's pty and TCP line use the
// same model, so virtual-time runs and real runs agree.
constexpr Micros uart_done_us(std::uint64_t index, unsigned baud) {
    return static_cast<Micros>(((index + 1) * 10'000'000ULL + baud - 1) / baud);
}

struct Identity {
    std::string imei = "866971030000001";
    std::string imsi = "460001234567890";
    std::string iccid = "89860000000000000001";
    std::string model = "BC28";
    std::string revision = "BC28JAR01A10";
};

// Aliyun signing, injected so the model stays free of OpenSSL (the executable wires it to
// qmtkit::cloud::sign_aliyun). Returns the final MQTT clientId / username / password, or
// nullopt if signing failed.
struct AliyunSignInput {
    std::string client_id;  // as given to AT+QMTCONN
    std::string product_key;
    std::string device_name;
    std::string device_secret;
    std::uint64_t timestamp_ms = 0;
};
struct SignedCredentials {
    std::string client_id;
    std::string username;
    std::string password;
};
using AliyunSigner = std::function<std::optional<SignedCredentials>(const AliyunSignInput&)>;

// --variant: which module's MQTT commands the model answers. bc28 is the note (the default);
// bg95 / ec2x add what drivers for those modules send (docs/emulator.md, "Other Quectel
// modules"): AT+QMTCFG "recv/mode", "pdpcid", "ssl", AT+QMTRECV (buffered receive) and
// AT+QMTPUBEX, and connect IDs 0-5 (each a connection of its own).
enum class Variant { bc28, bg95, ec2x };

struct Options {
    Identity identity;
    bool recv_quoted =
        false;  // +QMTRECV payload in quotes (default bare, as the note's last example)
    bool prompt_space = false;                              // "> " instead of ">" after AT+QMTPUB
    std::string token_url = "http://127.0.0.1:8080/token";  // AT+QMTTENAUTH without <url>
    Millis boot_ms = 1000;                                  // AT+NRB: REBOOTING ... boot banner
    Millis rtt_ms = 0;  // each network exchange: half up, half down
    // The serial line, both ways, as an 8N1 UART at this baud rate (10 bits a byte): the module
    // acts on a host byte once its last bit is in, and hands its own bytes to Output once each is
    // out. 0 = instant (bytes in and out at the time of feed() / of the write).
    unsigned baud = 0;
    unsigned uplink_kbps = 0;  // 0 = unlimited
    int max_inflight = 5;      // publishes awaiting their +QMTPUB result
    int csq = 24;
    Millis open_timeout_ms = 75000;
    std::function<std::uint64_t()> unix_ms;  // wall clock for signatures; null: derived from now
    AliyunSigner sign_aliyun;                // null: aliauth CONNECT fails (+QMTCONN: 0,2)

    // ---- timing and behaviour switches (docs/emulator.md, "Timing" and "Behaviour ...")
    // Processing delay of every two-phase result: the module acts on a command (sends its packet,
    // or writes a result that needs no network) proc_ms after the command's CR is in, so no
    // result ever shares the OK's burst. A result comes proc_ms + k x rtt_ms after the CR, k the
    // command's network exchanges (the table in docs/emulator.md).
    Millis proc_ms = 20;
    // Where the note leaves room (docs/emulator.md gives the reasons for each default):
    bool strict_pub_msgid = false;     // AT+QMTPUB with QoS 0 and a msgID other than 0: +CME 50
    bool close_after_disc_ok = false;  // AT+QMTCLOSE right after AT+QMTDISC: 0,0 (default 0,-1)
    bool reboot_keeps_echo = false;    // ATE0 survives AT+NRB / reset (default: echo on again)
    Variant variant = Variant::bc28;
    // Under a variant: the network of connect ID 1-5, asked for on the first AT+QMTOPEN of that
    // id and kept for the Module's life (the Module attaches to it and detaches when destroyed).
    // Connect ID 0 always uses the constructor's network. Null: AT+QMTOPEN on 1-5 gives
    // +QMTOPEN: <id>,-1 (nothing to connect with).
    std::function<Network&(int id)> network_for;
};

class Module final {
  public:
    using Output = std::function<void(std::string_view)>;
    using Log = std::function<void(std::string_view)>;

    Module(Network& net, Output out, Options opt = {});
    ~Module();
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    void feed(std::string_view bytes);
    void advance(Millis now) { advance_us(now * 1000); }
    void poll(Millis now) { advance(now); }
    // Whole milliseconds, rounded up: advance(*next_deadline()) runs what is due.
    std::optional<Millis> next_deadline() const;
    Millis now() const { return now_ / 1000; }
    void advance_us(Micros now);
    std::optional<Micros> next_deadline_us() const;
    Micros now_us() const { return now_; }

    // Log lines never contain secrets (device secrets, passwords, tokens).
    void set_log(Log log) { log_ = std::move(log); }

    // ---- faults and run-time control (the control channel maps onto these)
    void reboot(
        const std::string& cause = "REBOOT_CAUSE_APPLICATION_WATCHDOG");  // unexpected reset
    // Abrupt close of connect ID `id`, +QMTSTAT: <id>,<code> (the control channel's drop, stat,
    // ping-timeout: id 0).
    void drop_link(int stat_code = 7, int id = 0);
    void ping_timeout(int id = 0) { drop_link(2, id); }
    void garbage(std::string_view bytes);  // raw bytes to the host, now
    void split_next(Millis gap_ms);        // next reply in two pieces, gap_ms apart
    void delay_next(Millis delay_ms);      // next reply late by delay_ms
    // The next AT+QMTPUB '>' prompt is written delay_ms late. The module is in data mode as soon
    // as it has parsed the command line; only the '>' is late (later output queues behind it).
    void delay_prompt(Millis delay_ms);
    // The next result line of a two-phase command (+QMTOPEN/CLOSE/CONN/DISC/SUB/UNS/PUB/TENAUTH,
    // retransmission reports included; not the URCs +QMTSTAT / +QMTRECV) is written delay_ms
    // late. The module's bookkeeping is not: the operation completed when its ack arrived.
    void delay_result(Millis delay_ms);
    void urc_in_next_reply(
        std::string line);              // next reply carries this URC before its final result
    void urc(const std::string& line);  // a URC now
    void refuse_open(bool on) { refuse_open_ = on; }
    void refuse_connect(int return_code) { refuse_connect_rc_ = return_code; }  // 0 = off
    void stall_acks(bool on) { stall_acks_ = on; }  // swallow acks: timers and retransmissions run
    void set_csq(int csq) { opt_.csq = csq; }
    void set_rtt(Millis rtt_ms) { opt_.rtt_ms = rtt_ms; }
    void set_proc(Millis proc_ms) { opt_.proc_ms = proc_ms; }
    void set_uplink_kbps(unsigned kbps) { opt_.uplink_kbps = kbps; }

    // ---- introspection (tests, control channel "status"), of connect ID `id`
    int inflight_publishes(int id = 0) const;
    bool in_data_mode() const { return data_.has_value(); }
    std::size_t uart_rx_pending() const { return rx_.size(); }  // host bytes still on the line
    std::size_t uart_tx_pending() const { return tx_.size(); }  // module bytes still on the line
    bool rebooting() const { return rebooting_; }
    std::string state_name(int id = 0) const;
    const Options& options() const { return opt_; }

  private:
    friend class Link::Events;
    using NetState = Link::State;
    using OpKind = Link::OpKind;
    using Op = Link::Op;

    struct Settings {  // the module's own; each connect ID's AT+QMTCFG items are in its Link
        bool echo = true;
        int cmee = 0;
        bool have_token = false;
        std::string token_user, token_password;
        int cfun = 1;
        int cgatt = 1;
        int cereg_n = 0;
    };

    struct DataMode {
        int link = 0;  // the connect ID published on
        int msg_id = 0;
        int qos = 0;
        bool retain = false;
        std::string topic;
        std::optional<std::size_t> fixed_len;
        std::string payload;
    };

    struct Reply {
        std::vector<std::string> info;
        std::string final_line;  // "OK", "ERROR", "+CME ERROR: n"; empty: no final now
        bool prompt = false;     // AT+QMTPUB accepted: '>' and data mode
    };

    // A link's network events (Link::Events forwards them; queued, then applied in advance())
    void net_open_result(Link& l, int result);
    void net_connack(Link& l, int return_code);
    void net_suback(Link& l, OpId op, std::vector<int> granted_qos);
    void net_unsuback(Link& l, OpId op);
    void net_published(Link& l, OpId op);
    void net_message(Link& l, std::uint16_t packet_id, std::string topic, std::string payload,
                     int qos);
    void net_disconnected(Link& l);
    void net_link_lost(Link& l, int stat_code);
    void net_token(OpId op, int result_code, std::string username, std::string password);

    // input
    void feed_byte(char c);
    void feed_data_byte(char c);
    void run_line(const std::string& raw);
    Reply dispatch(const CommandLine& c);
    Reply error(int cme) const;
    Reply ok(std::vector<std::string> info = {}) const;

    // commands
    Reply cmd_qmtcfg(const CommandLine& c);
    Reply cmd_tenauth(const CommandLine& c);
    Reply cmd_open(const CommandLine& c);
    Reply cmd_close(const CommandLine& c);
    Reply cmd_conn(const CommandLine& c);
    Reply cmd_disc(const CommandLine& c);
    Reply cmd_sub(const CommandLine& c);
    Reply cmd_uns(const CommandLine& c);
    Reply cmd_pub(const CommandLine& c);
    Reply cmd_basic(const CommandLine& c);
    Reply cmd_3gpp(const CommandLine& c);

    // output
    enum class LineKind { result, urc };
    void emit(std::string bytes);
    void emit_at(Micros due, std::string bytes);  // written at `due`, later output behind it
    void send_reply(const Reply& r);
    void write_reply(std::string bytes);        // the delay / split faults apply here
    void result_line(const std::string& line);  // the later result of a two-phase command
    void urc_line(const std::string& line);     // +QMTSTAT, +QMTRECV, urc <line>
    void write_line(LineKind kind, const std::string& line);
    void flush_deferred();

    // publish
    void finish_data(bool send);

    // network plumbing
    // A packet leaves proc_ms after now (behind the uplink queue) and reaches the far end half a
    // round trip later; an answer arriving from the network is seen half a round trip (plus
    // `more_rtts` whole ones: exchanges the network made in one call) after it came.
    void uplink(std::size_t bytes, std::function<void()> fn);
    void downlink(std::function<void()> fn, int more_rtts = 0);
    void after_proc(std::function<void()> fn);  // a result that needs no network
    Micros proc_us() const { return opt_.proc_ms * 1000; }
    void at(Micros when, std::function<void()> fn);
    void to_uart(std::string bytes);  // module -> host, paced when Options::baud is set
    void take_byte(char c, bool first_of_write);
    Micros rx_due() const { return rx_start_ + uart_done_us(rx_done_, opt_.baud); }
    Micros tx_due() const { return tx_start_ + uart_done_us(tx_done_, opt_.baud); }
    void run_due();
    void check_timers();
    void boot_done(const std::string& cause);

    // connect IDs (src/link.cpp)
    int link_count() const { return variant_on() ? kLinkCount : 1; }
    std::string link_ids() const { return variant_on() ? "(0-5)" : "(0)"; }  // test forms
    Link* link_arg(const Arg& a);  // the connect ID parameter; null: out of range (+CME 50)
    Network* link_net(Link& l);    // the link's network, asked for on first use
    void check_link_timers(Link& l);
    void link_closed(Link& l, int stat_code, bool report);
    void apply_connack(Link& l, int return_code);
    void fail_op(Link& l, OpId id);
    OpId new_op(Link& l, OpKind kind, int msg_id, int qos);
    void send_publish(Link& l, DataMode d, bool pubex);
    void drop_all();          // the bearer went down: every open link, +QMTSTAT: <id>,7
    void set_radio(bool on);  // PSM: every link's network
    std::uint64_t wall_ms() const;
    void log(const std::string& s) const;

    Output out_;
    Options opt_;
    Log log_;

    Micros now_ = 0;
    Settings s_;
    std::array<Link, kLinkCount> links_;  // the connect IDs; the default variant uses only 0
    OpId next_op_ = 1;                    // unique over every link
    OpId token_op_ = 0;
    std::uint32_t boot_epoch_ = 0;  // bumped on reboot: everything stale is dropped

    std::string line_;
    std::string echo_;  // echo not yet written (flushed before any other output)
    bool overflow_ = false;
    bool skip_lf_ = false;
    std::optional<DataMode> data_;
    std::vector<std::pair<LineKind, std::string>> deferred_;  // held while a payload is typed
    bool rebooting_ = false;

    // time-ordered work: network calls, network events, boot completion
    std::multimap<Micros, std::function<void()>> actions_;
    Micros uplink_free_ = 0;

    // output held back by delay/split faults; everything after it queues behind
    std::deque<std::pair<Micros, std::string>> outq_;

    // The paced UART. A burst is bytes back to back from rx/tx_start_; *_done_ of them are
    // through. An empty queue is an idle line: the next byte starts a new burst.
    std::deque<std::pair<char, bool>> rx_;  // host bytes on the line; true: first of its write
    Micros rx_start_ = 0;
    std::uint64_t rx_done_ = 0;
    std::string tx_;
    Micros tx_start_ = 0;
    std::uint64_t tx_done_ = 0;

    // armed faults
    std::optional<Millis> split_next_;
    std::optional<Millis> delay_next_;
    std::optional<Millis> delay_prompt_;
    std::optional<Millis> delay_result_;
    std::optional<std::string> urc_next_;
    bool refuse_open_ = false;
    int refuse_connect_rc_ = 0;
    bool stall_acks_ = false;

  public:
    // NB-IoT settings and PSM (nb_commands.cpp, psm.cpp)
    bool psm_asleep() const { return psm_asleep_; }  // in PSM: radio off, nothing in or out

  private:
    struct NbNv {  // the manual's NV settings: kept across AT+NRB and reboot
        bool autoconnect = true;
        std::map<std::string, std::string> nconfig;  // other AT+NCONFIG items, upper case
        std::vector<int> bands = {1, 3, 5, 8, 20, 28};
        int qregswt = 1;
        int cpsms = 0;
        std::string t3412 = "01000011";  // GPRS Timer 3 (27.007 / 24.008 10.5.7.4a)
        std::string t3324 = "01000011";  // GPRS Timer 2 (24.008 10.5.7.3)
        int cedrxs = 0;
        std::string edrx = "0101";
    };
    struct NbRam {  // lost on reboot
        int nsonmi = 1;
        int npsmr = 0;
    };
    std::optional<Reply> cmd_nb(const CommandLine& c);  // nullopt: not an NB-IoT command
    void nb_reboot();                                   // after Settings are reset
    void psm_touch();                                   // network activity now
    void psm_host_byte();                               // a host byte: wakes the module
    void psm_check();                                   // enter / leave PSM when due
    std::optional<Micros> psm_deadline() const;
    void psm_enter();
    void psm_wake(const char* why);
    NbNv nv_;
    NbRam nb_;
    bool psm_asleep_ = false;
    Micros psm_last_activity_ = 0;

    // ---- network exchanges of the command in progress (the timing table)
    bool token_dns_ = false;  // the AT+QMTTENAUTH URL named a host: a DNS round trip first
    void token_result(std::uint32_t boot_epoch, OpId op, int result_code, const std::string& user,
                      const std::string& password);

    // ---- --variant (src/variant.cpp)
    bool typing_pubex_ = false;  // the payload in data mode is AT+QMTPUBEX's
    bool variant_on() const { return opt_.variant != Variant::bc28; }
    std::optional<Reply> dispatch_variant(const CommandLine& c);
    std::optional<Reply> qmtcfg_variant(Link& l, const std::string& item,
                                        const std::vector<Arg>& v);
    void qmtcfg_test_variant(std::vector<std::string>& lines) const;
    Reply cmd_recv(const CommandLine& c);
    Reply cmd_pubex(const CommandLine& c);
    void deliver(Link& l, int msg_id, const std::string& topic, const std::string& payload);
    std::string recv_line(const Link& l, int msg_id, const std::string& topic,
                          const std::string& payload) const;
    std::string pub_head(Link& l, OpId op, bool done);  // "+QMTPUB: <id>," or "+QMTPUBEX: <id>,"
};

}  // namespace bc28sim
