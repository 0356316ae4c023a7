// The AT+QMT client: every command of the note typed and validated, publishes pipelined through
// the module's five-message window, incoming messages dispatched by topic filter, and a
// supervisor that brings the link up, recovers per +QMTSTAT and re-sends what the link lost.
//
//   qmtkit::qmt::Client<> client(uart, listener);
//   client.configure(session);            // validated and copied: the caller's strings may go
//   client.start(now);
//   client.subscribe("cmd/#", 1, on_command);
//   client.publish("telemetry", payload, {/*qos=*/1});
//   ... client.feed(bytes, n, now);  client.poll(now);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/recv.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

enum class PayloadForm : std::uint8_t {
    automatic,        // fixed length when the payload holds 0x1A, 0x1B or other non-text bytes
    fixed_length,     // always AT+QMTPUB=...,<len>
    variable_length,  // always Ctrl+Z-terminated (refused for payloads holding 0x1A / 0x1B)
};

struct PublishOptions {
    std::uint8_t qos = 1;
    bool retain = false;
    PayloadForm form = PayloadForm::automatic;
};

struct PublishReport {
    std::uint16_t msg_id = 0;
    std::uint8_t retransmissions = 0;  // highest count the module reported (timeout_notice = 1)
    std::uint8_t attempts = 1;         // times the client sent it (re-sent after a link drop)
};

struct SubscribeReport {
    std::uint16_t msg_id = 0;
    std::uint8_t granted_qos = 0;
};

struct Will {
    std::uint8_t qos = 0;
    bool retain = false;
    std::string_view topic;
    std::string_view message;
};

// AT+QMTCFG items the supervisor applies after every module (re)start.
struct Settings {
    std::uint8_t version = 4;  // 3 = MQTT 3.1, 4 = MQTT 3.1.1
    std::uint16_t keepalive_s = 120;
    bool clean_session = true;
    std::uint8_t pkt_timeout_s = 10;
    std::uint8_t retry_times = 3;
    bool timeout_notice = false;
};

struct AliAuth {
    std::string_view product_key;
    std::string_view device_name;
    std::string_view device_secret;
};

struct TenAuth {
    std::string_view product_id;
    std::string_view device_name;
    std::string_view device_secret;
    std::uint8_t expire_days = 60;
    std::string_view url;  // empty: the module's default
};

// Everything the supervisor needs to bring a session up.
struct Session {
    std::string_view host;
    std::uint16_t port = 1883;
    std::string_view client_id;
    std::string_view username;  // empty with aliauth: the module signs
    std::string_view password;
    Settings settings;
    bool has_will = false;
    Will will;
    bool use_aliauth = false;
    AliAuth aliauth;
    bool use_tenauth = false;  // the token's password is used for CONNECT
    TenAuth tenauth;
    PayloadQuoting recv_quoting = PayloadQuoting::detect;
};

struct Backoff {
    Millis initial = 1000;
    Millis max = 60000;
    std::uint8_t jitter_percent = 25;  // each wait is spread by +/- this much
    std::uint32_t seed = 0x9E3779B9u;  // jitter is pseudo-random from this seed: reproducible
};

// Low-level operations, for Listener::on_reply.
enum class Op : std::uint8_t {
    sync,
    echo_off,
    cmee,
    attach_query,
    cfg,
    cfg_query,
    cfg_test,
    tenauth,
    tenauth_probe,
    tenauth_query,
    open,
    open_query,
    open_test,
    close,
    close_test,
    connect,
    conn_query,
    conn_test,
    disconnect,
    disc_test,
    sub_test,
    uns_test,
    pub_test,
    reboot,
};

struct Reply {
    Op op = Op::sync;
    std::int32_t result = 0;  // the module's <result> / <state> / <result_code>
    std::int32_t value = -1;  // CONNACK ret_code, granted QoS, ... (-1: absent)
    std::string_view text;    // the information line of a query / test, or the token password
};

class Listener {
  public:
    virtual void on_link(LinkState /*state*/) {}
    // A bring-up step failed (OPEN refused, CONNECT refused, no attach, a command timed out);
    // the supervisor backs off and tries again. `during` is the state the step belonged to.
    virtual void on_bringup_error(LinkState /*during*/, const ClientError& /*error*/) {}
    virtual void on_stat(StatCode /*code*/) {}
    virtual void on_published(std::uint32_t /*ticket*/, const Result<PublishReport>& /*r*/) {}
    // Fires for each (re)subscription of a filter: after every reconnect, with the same ticket.
    virtual void on_subscribed(std::uint32_t /*ticket*/, const Result<SubscribeReport>& /*r*/) {}
    virtual void on_unsubscribed(std::uint32_t /*ticket*/, const Result<void>& /*r*/) {}
    // Messages no subscription handler took (filters registered without a handler included).
    virtual void on_message(const Message& /*m*/) {}
    // A message longer than the client can hold arrived and was skipped (ClientStats::dropped).
    virtual void on_message_dropped(const DroppedMessage& /*m*/) {}
    // Completion of a low-level operation (open, connect, queries, ...).
    virtual void on_reply(std::uint32_t /*ticket*/, const Result<Reply>& /*r*/) {}

  protected:
    ~Listener() = default;
};

using MessageHandler = Delegate<void(const Message&)>;

struct ClientStats {
    std::uint32_t published = 0;      // +QMTPUB result 0
    std::uint32_t resent = 0;         // publishes sent again after a link drop / failure
    std::uint32_t backpressure = 0;   // +CME ERROR: 159 answers
    std::uint32_t received = 0;       // +QMTRECV messages
    std::uint32_t malformed = 0;      // +QMTRECV that did not parse
    std::uint32_t dropped = 0;        // +QMTRECV longer than the client can hold (reported)
    std::uint32_t stats = 0;          // +QMTSTAT URCs
    std::uint32_t reboots = 0;        // module restarts seen
    std::uint32_t sessions = 0;       // times the link came online
    std::uint32_t max_in_flight = 0;  // most publishes awaiting their result at once
    std::uint32_t link_checks = 0;    // AT+QMTCONN? after CME 3 / a timeout while online
    std::uint32_t silent_drops = 0;   // links found down without a +QMTSTAT
    std::uint32_t late_results = 0;   // results of an earlier attempt while a re-send was out
};

struct ClientConfig {
    static constexpr std::size_t publish_slots = 8;  // the outbox: queued + in flight
    static constexpr std::size_t window = kFlightWindow;
    static constexpr std::size_t subscriptions = 8;
    static constexpr std::size_t payload_capacity = kMaxPayload;
    static constexpr std::size_t string_capacity = 256;  // client id, credentials
    struct Engine : at::EngineConfig {
        static constexpr std::size_t queue_depth = 12;
        static constexpr std::size_t result_slots = 10;
    };
};

namespace detail {
inline constexpr std::size_t kSessionStrings = 14;
struct PubSlot {
    // acked: an earlier attempt's result came while the current attempt's command is still on
    // the wire; the slot keeps its payload until that command has ended.
    enum class State : std::uint8_t { free, queued, sending, awaiting, retry_wait, acked } state;
    std::uint32_t ticket;
    std::uint32_t order;  // enqueue order: re-sends keep it
    std::uint32_t engine_seq;
    std::uint16_t msg_id;
    std::uint8_t qos;
    bool retain;
    bool fixed;
    std::uint8_t attempts;
    std::uint8_t retransmissions;
    std::uint8_t busy_retries;  // CME 159 answers in a row
    std::uint8_t failures;      // answers retrying may not heal, since the link last came up
    Instant retry_at;
    std::uint16_t topic_len;
    std::uint16_t payload_len;
    char* topic;
    std::uint8_t* payload;
};
struct SubSlot {
    enum class State : std::uint8_t { free, pending, sending, active, refused } state;
    std::uint32_t ticket;
    std::uint32_t engine_seq;
    std::uint16_t msg_id;
    std::uint8_t qos;
    std::uint16_t filter_len;
    char filter[kMaxTopic + 1];
    MessageHandler handler;
};
struct ClientStorage {
    PubSlot* pubs;
    std::size_t pub_count;
    char* topics;            // pub_count x (kMaxTopic + 1)
    std::uint8_t* payloads;  // pub_count x payload_capacity
    std::size_t payload_capacity;
    std::size_t window;
    SubSlot* subs;
    std::size_t sub_count;
    char* strings;  // kStrings x string_capacity: the copied Session
    std::size_t string_capacity;
};
}  // namespace detail

class ClientCore {
  public:
    ClientCore(at::EngineCore& engine, Listener& listener, const detail::ClientStorage& storage);

    // ---- supervisor
    // Validates the session and copies every string; nothing is sent.
    Result<void> configure(const Session& s);
    void set_backoff(const Backoff& b);
    // Brings the link up and keeps it up until stop().
    Result<void> start(Instant now);
    // DISCONNECT, CLOSE, then stopped. Queued publishes stay in the outbox.
    void stop();
    LinkState state() const { return state_; }
    bool online() const { return state_ == LinkState::online; }

    // ---- application
    // Queues a publish (payload and topic copied). QoS >= 1 publishes survive link drops and
    // module reboots and are sent again, in order, until acknowledged.
    Result<std::uint32_t> publish(std::string_view topic, ByteView payload, PublishOptions o = {});
    // Registers a filter (kept across reconnects); subscribed now if online, else on bring-up.
    Result<std::uint32_t> subscribe(std::string_view filter, std::uint8_t qos,
                                    MessageHandler h = {});
    Result<std::uint32_t> unsubscribe(std::string_view filter);
    std::size_t outbox() const;     // publishes not yet acknowledged
    std::size_t in_flight() const;  // publishes awaiting their +QMTPUB result

    // ---- low-level commands (manual mode, tools, tests); completion via Listener::on_reply.
    Result<std::uint32_t> open(std::string_view host, std::uint16_t port);
    Result<std::uint32_t> close();
    Result<std::uint32_t> connect(std::string_view client_id, std::string_view username = {},
                                  std::string_view password = {});
    Result<std::uint32_t> disconnect();
    Result<std::uint32_t> set_version(std::uint8_t vsn);
    Result<std::uint32_t> set_keepalive(std::uint16_t seconds);
    Result<std::uint32_t> set_session(bool clean);
    Result<std::uint32_t> set_timeout(std::uint8_t pkt_timeout_s, std::uint8_t retry_times,
                                      bool notice);
    Result<std::uint32_t> set_will(const Will* will);  // nullptr: no will
    Result<std::uint32_t> set_aliauth(const AliAuth& a);
    Result<std::uint32_t> tenauth(const TenAuth& t);
    // "version" | "keepalive" | "session" | "timeout" | "will" | "aliauth": the query form.
    Result<std::uint32_t> query_cfg(std::string_view item);
    Result<std::uint32_t> query_open();
    Result<std::uint32_t> query_conn();
    Result<std::uint32_t> query_tenauth();
    Result<std::uint32_t> test(Op which);  // cfg_test, open_test, ..., pub_test
    // A subscribe / unsubscribe of several filters in one command (msgID 1..65535).
    Result<std::uint32_t> subscribe_many(std::uint16_t msg_id, const std::string_view* filters,
                                         const std::uint8_t* qos, std::size_t n);
    Result<std::uint32_t> unsubscribe_many(std::uint16_t msg_id, const std::string_view* filters,
                                           std::size_t n);

    // ---- I/O and time
    void feed(const std::uint8_t* data, std::size_t n, Instant now);
    void poll(Instant now);
    Instant next_deadline() const;
    at::EngineCore& engine() { return engine_; }
    const ClientStats& stats() const { return stats_; }

  private:
    // What the engine reports about the client's commands.
    at::Payload on_prompt(const at::CommandRef& r);
    void on_info(const at::CommandRef& r, std::string_view line);
    void on_final(const at::CommandRef& r, const at::Outcome& o);
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line);
    void on_result_error(const at::CommandRef& r, const at::AtError& e);

    struct Handler final : at::CommandHandler {
        explicit Handler(ClientCore& c) : self(c) {}
        at::Payload on_prompt(const at::CommandRef& r) override { return self.on_prompt(r); }
        void on_info(const at::CommandRef& r, std::string_view l) override { self.on_info(r, l); }
        void on_final(const at::CommandRef& r, const at::Outcome& o) override {
            self.on_final(r, o);
        }
        at::ResultVerdict on_result(const at::CommandRef& r, std::string_view l) override {
            return self.on_result(r, l);
        }
        void on_result_error(const at::CommandRef& r, const at::AtError& e) override {
            self.on_result_error(r, e);
        }
        ClientCore& self;
    };

    struct Impl;
    friend struct Impl;

    at::EngineCore& engine_;
    Listener& listener_;
    Handler handler_{*this};
    detail::ClientStorage st_;
    ClientStats stats_{};
    LinkState state_ = LinkState::stopped;
    Backoff backoff_{};
    std::uint32_t rng_ = 0x9E3779B9u;
    Instant wake_at_ = ~Instant{0};
    Instant now_ = 0;
    std::uint8_t step_ = 0;  // bring-up step
    std::uint8_t step_tries_ = 0;
    std::uint8_t resume_step_ = 0;  // where to go on at wake_at_
    std::uint8_t attempt_ = 0;      // consecutive failed bring-ups (back-off exponent)
    bool configured_ = false;
    bool stopping_ = false;
    bool rebooting_ = false;
    bool tenauth_alt_spelling_ = false;  // the module answers AT+QMTENAUTH, not AT+QMTTENAUTH
    bool tenauth_probed_ = false;
    std::uint32_t next_ticket_ = 1;
    std::uint32_t next_order_ = 1;
    std::uint16_t next_msg_id_ = 1;
    std::uint32_t step_seq_ = 0;  // engine seq of the running bring-up command
    Session session_{};           // views into st_.strings
    Settings applied_{};          // the module's current "timeout" setting, for result waits
    char query_buf_[192] = {};    // info line of the running query / the token password
    std::size_t query_len_ = 0;
    std::int32_t info_int_ = -1;  // first integer of a bring-up info line (+CGATT:1)
};

namespace detail {
// Storage of a Client, a base so it exists before ClientCore is constructed over it.
template <class Config>
struct ClientStore {
    explicit ClientStore(at::Writer& writer) : store_engine_(writer) {}
    detail::ClientStorage storage() {
        return detail::ClientStorage{pubs_,
                                     Config::publish_slots,
                                     topics_,
                                     payloads_,
                                     Config::payload_capacity,
                                     Config::window,
                                     subs_,
                                     Config::subscriptions,
                                     strings_,
                                     Config::string_capacity};
    }
    at::Engine<typename Config::Engine> store_engine_;
    PubSlot pubs_[Config::publish_slots]{};
    char topics_[Config::publish_slots * (kMaxTopic + 1)]{};
    std::uint8_t payloads_[Config::publish_slots * Config::payload_capacity]{};
    SubSlot subs_[Config::subscriptions]{};
    char strings_[kSessionStrings * Config::string_capacity]{};
};
}  // namespace detail

// A client with all its storage inside: every capacity a compile-time setting, no heap.
template <class Config = ClientConfig>
class Client final : private detail::ClientStore<Config>, public ClientCore {
    // ClientCore is usable only through Client<>, which owns its storage.
  public:
    Client(at::Writer& writer, Listener& listener)
        : detail::ClientStore<Config>(writer),
          ClientCore(this->store_engine_, listener, detail::ClientStore<Config>::storage()) {}
    static_assert(Config::window >= 1 && Config::window <= kFlightWindow,
                  "the module allows 1..5 in flight");
    static_assert(Config::payload_capacity >= 1 && Config::payload_capacity <= kMaxPayload,
                  "1..1024 bytes");
};

}  // namespace qmtkit::qmt
