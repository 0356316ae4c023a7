// The AT engine: bytes in by feed(), bytes out through a Writer, time in by argument. One command
// on the wire at a time; the later results of two-phase commands are awaited side by side, so
// a new command goes out while earlier ones still wait for their +QMTxxx result line.
//
//   qmtkit::at::Engine<> engine(uart_writer);
//   engine.on_urc(cmd::urc_stat, Delegate<void(std::string_view)>::bind<&App::on_stat>(&app));
//   engine.submit(cmd::open, &handler, /*tag=*/1, 0, "broker.example", 1883);
//   ... uart_rx_isr_or_loop:  engine.feed(bytes, n, now_ms);
//   ... superloop:            engine.poll(now_ms);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "qmtkit/at/cme.hpp"
#include "qmtkit/at/command.hpp"
#include "qmtkit/at/fields.hpp"
#include "qmtkit/common/build.hpp"
#include "qmtkit/common/delegate.hpp"
#include "qmtkit/common/expected.hpp"
#include "qmtkit/common/types.hpp"

namespace qmtkit::at {

// Where the engine's bytes go (a UART driver, a serial port, a pty). Non-blocking: it returns
// how many bytes it took; the engine offers the rest again on the next feed()/poll().
class Writer {
  public:
    virtual std::size_t write(const std::uint8_t* data, std::size_t size) = 0;

  protected:
    ~Writer() = default;
};

enum class ErrorKind : std::uint8_t {
    error,           // the module answered ERROR
    cme,             // the module answered +CME ERROR (see AtError::cme)
    timeout,         // no final result within the command's timeout
    result_timeout,  // OK came, the two-phase result line did not
    aborted,         // abort_all(): module reboot, link reset
    queue_full,      // submit(): the bounded queue is full
    bad_argument,    // submit(): an argument was refused (see AtError::arg)
};

std::string_view to_string(ErrorKind k);

struct AtError {
    ErrorKind kind = ErrorKind::error;
    Cme cme = Cme::none;
    ArgError arg = ArgError::none;
};

using Outcome = Expected<void, AtError>;

// Identifies a submitted command to its handler: the caller's tag plus the engine's sequence.
struct CommandRef {
    const CommandSpec* spec;
    std::uint32_t tag;
    std::uint32_t seq;
    // on_result(): the line came before this command's payload was written, so it cannot be this
    // command's own result. It answers an earlier command with the same keys (a publish re-sent
    // after its result timed out): results are correlated by msgID only.
    bool before_payload = false;
    // on_prompt(): no '>' came within the prompt timeout. Only a fixed-length payload is written
    // then (the module takes exactly <len> bytes after the command line, prompt shown or not);
    // anything else is cancelled with ESC.
    bool prompt_late = false;
};

// What to send after the '>' prompt. The bytes must stay valid while on_wire(seq) is true.
struct Payload {
    enum class End : std::uint8_t {
        ctrl_z,  // variable length: append 0x1A
        fixed,   // fixed length declared in the command: send exactly these bytes
        cancel,  // send ESC (0x1B): the module drops the command
    };
    ByteView bytes;
    End end = End::cancel;
};

enum class ResultVerdict : std::uint8_t {
    not_mine,      // same prefix and keys, but not this command's result (e.g. a query's answer)
    intermediate,  // a report that precedes the result (retransmission count): keep waiting
    done,          // the result
};

// Receives everything about the commands it submitted. Lines are valid only during the call.
class CommandHandler {
  public:
    virtual void on_info(const CommandRef&, std::string_view /*line*/) {}
    // The payload for the '>' prompt (also asked with ref.prompt_late when the prompt is late).
    virtual Payload on_prompt(const CommandRef&) { return {}; }
    // The final result (OK / ERROR / +CME ERROR / timeout / aborted). For a two-phase command an
    // OK is followed by on_result() or on_result_error() later.
    virtual void on_final(const CommandRef&, const Outcome& outcome) = 0;
    virtual ResultVerdict on_result(const CommandRef&, std::string_view /*line*/) {
        return ResultVerdict::done;
    }
    virtual void on_result_error(const CommandRef&, const AtError&) {}

  protected:
    ~CommandHandler() = default;
};

// A URC line handler.
using UrcHandler = Delegate<void(std::string_view line)>;

// A URC whose body may hold CR LF (+QMTRECV) claims exactly the bytes it needs. The engine offers
// the buffered bytes, from the prefix on, at three moments; the handler answers need_more or how
// many bytes it consumed.
enum class ClaimPhase : std::uint8_t {
    line_end,   // the buffer ends with LF
    next_byte,  // one byte arrived after an LF (the handler may leave that byte: consumed = size-1)
    idle,       // no byte for claim_idle: the handler must consume what it has
};
struct Claim {
    bool complete = false;
    std::size_t consumed = 0;
    static constexpr Claim need_more() { return {}; }
    static constexpr Claim done(std::size_t n) { return {true, n}; }
};
using ClaimHandler = Delegate<Claim(ByteView buffered, ClaimPhase phase)>;
// A claimed URC longer than the line buffer: `head` holds its first line_capacity bytes (the
// header, for +QMTRECV), `total` how long it was up to its line end. The rest is skipped.
using ClaimOverflowHandler = Delegate<void(ByteView head, std::size_t total)>;

enum class TraceKind : std::uint8_t {
    tx,         // a command line as sent, secrets masked
    rx,         // a received line (secrets in +QMTTENAUTH lines masked)
    echo,       // the module's echo of the command, masked like tx
    prompt,     // '>' seen
    payload,    // payload sent: "<n> bytes"
    urc,        // a line given to a URC handler
    claimed,    // bytes claimed by a URC handler: "<prefix> <n> bytes"
    unclaimed,  // a line nobody wanted
    timeout,    // a command or result timed out: the command name
    overflow,   // a line longer than the buffer was dropped
    settle,     // after a timeout: "ESC" / "AT" written, "settled", "gave up"
};
using TraceHook = Delegate<void(TraceKind kind, std::string_view text)>;

struct Counters {
    std::uint32_t commands = 0;         // commands written
    std::uint32_t timeouts = 0;         // final results that never came
    std::uint32_t result_timeouts = 0;  // two-phase results that never came
    std::uint32_t overflows = 0;        // lines longer than the line buffer
    std::uint32_t resyncs = 0;        // times the parser re-found a line start after dropping bytes
    std::uint32_t unclaimed = 0;      // lines that were no reply, result or known URC
    std::uint32_t stray_finals = 0;   // OK / ERROR with no command running
    std::uint32_t urcs = 0;           // lines given to URC handlers
    std::uint32_t claims = 0;         // URCs that claimed raw bytes
    std::uint32_t late_prompts = 0;   // prompts that did not come in time (cancelled or blind)
    std::uint32_t settles = 0;        // times the line was let settle after a timeout
    std::uint32_t settle_probes = 0;  // ESC / AT written while settling
    std::uint32_t settle_failures = 0;  // settling gave up: the module said nothing at all
};

// Per-request overrides of the declared timeouts (0 keeps the declared value).
struct Timeouts {
    Millis final = 0;
    Millis result = 0;
};

struct EngineConfig {
    // Longest line, including a claimed +QMTRECV: prefix + msgID + 255-byte topic + 1024-byte
    // payload (quoted) + separators.
    // A compact client (messages up to ~450 B) may set ~600; longer +QMTRECVs are then reported
    // through the claim's overflow handler.
    static constexpr std::size_t line_capacity = 1344;
    // Longest line (AT+QMTSUB with 255-byte topics); a pool smaller than this bounds it instead.
    static constexpr std::size_t command_capacity = 600;
    // Bytes shared by the lines of every queued command, the running one included (a QoS 1
    // AT+QMTPUB with a 255-byte topic takes ~290 B, a short one ~45 B). A command that does not
    // fit now is refused with queue_full; one longer than the pool (or command_capacity) with
    // bad_argument / too_long.
    static constexpr std::size_t command_pool = 1024;
    static constexpr std::size_t queue_depth = 8;   // commands waiting for the line
    static constexpr std::size_t result_slots = 8;  // two-phase results awaited at once
    static constexpr std::size_t urc_handlers = 6;
    static constexpr std::size_t trace_capacity = 200;  // longer trace lines are cut
    static constexpr Millis claim_idle = 100;           // quiet time that ends a claimed URC
    // After a timeout the module may still answer, or sit in data mode: nothing else goes on the
    // line until it has said OK / ERROR, or settle_probes probes of settle_ms each went unanswered.
    static constexpr Millis settle_ms = 500;
    static constexpr std::uint8_t settle_probes = 3;
};

namespace detail {
// The result keys a two-phase command's result line repeats: "<connectID>,<msgID>" at most
// ("0,65535").
inline constexpr std::size_t kResultKeyCapacity = 7;

// A queued command. Its line "AT+...=...\r" is in the command pool, right after the lines of the
// commands before it (the head's at the pool's start).
struct QueueSlot {
    const CommandSpec* spec;
    CommandHandler* handler;
    std::uint32_t tag;
    std::uint32_t seq;
    Timeouts timeouts;
    std::uint16_t len;       // bytes of the line, CR included
    std::uint8_t key_begin;  // the result keys ("0,<msgID>") within the line
    std::uint8_t key_len;
};
// 32 bytes: the deadline is kept as the low 32 bits of its Instant (armed deadlines are less
// than 2^31 ms away, so it compares by wrap-around difference).
struct ResultSlot {
    const CommandSpec* spec;
    CommandHandler* handler;
    std::uint32_t tag;
    std::uint32_t seq;
    Millis timeout;
    std::uint32_t due;  // armed: the deadline's low 32 bits
    bool active : 1;
    bool armed : 1;        // OK received: the result deadline runs
    bool payload_out : 1;  // the command's payload (if it has one) is written: its result may come
    std::uint8_t key_len : 4;
    char key[kResultKeyCapacity];
};
// 24 bytes: a line handler or a claim (with its overflow handler), never both.
struct UrcSlot {
    const char* text;
    std::uint8_t text_len;
    bool bare;
    bool claims;  // fn.claim and overflow are set, else fn.line
    union Fn {
        UrcHandler line;
        ClaimHandler claim;
        constexpr Fn() : line() {}
    } fn;
    ClaimOverflowHandler overflow;
    std::string_view prefix() const { return std::string_view(text, text_len); }
};
struct Storage {
    QueueSlot* queue;
    char* pool;
    ResultSlot* results;
    UrcSlot* urcs;
    char* line;
    char* trace;
    Millis claim_idle;
    Millis settle_ms;
    std::uint16_t queue_depth;
    std::uint16_t pool_size;
    std::uint16_t command_capacity;
    std::uint16_t result_slots;
    std::uint16_t urc_capacity;
    std::uint16_t line_capacity;
    std::uint16_t trace_capacity;
    std::uint8_t settle_probes;
};
}  // namespace detail

// The engine's logic over caller-provided storage; use Engine<Config> below.
class EngineCore {
  public:
    EngineCore(Writer& writer, const detail::Storage& storage);
    EngineCore(const EngineCore&) = delete;
    EngineCore& operator=(const EngineCore&) = delete;

    // Bytes from the module, any chunking. `now` is the platform's monotonic time in ms.
    void feed(const std::uint8_t* data, std::size_t size, Instant now);
    void feed(std::string_view text, Instant now) {
        feed(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), now);
    }
    // Forgets a half-received line, claim or payload echo: the serial port was reopened, and
    // bytes of the old port must not prefix those of the new one. Commands are left as they are
    // (their timeouts still run).
    void reset_rx();
    // Runs timeouts, ends idle claims, resumes writing. Call it whenever convenient, and by
    // next_deadline() at the latest.
    void poll(Instant now);
    // The earliest time poll() has work to do (no work: Instant max).
    Instant next_deadline() const;

    // Queues a command and, when the line is free, starts writing it at once. Its deadline counts
    // from the last time given to feed() or poll(). The arguments after `tag` are written in order
    // — integers as numbers, strings (std::string_view / const char*) quoted. Refused before
    // anything is written when an argument cannot travel on an AT line, the line is longer than
    // command_capacity (bad_argument), or the queue or its command pool is full (queue_full).
    template <class... Args>
    Expected<std::uint32_t, AtError> submit(const CommandSpec& spec, CommandHandler* handler,
                                            std::uint32_t tag, const Args&... args) {
        return submit_with(spec, handler, tag, Timeouts{},
                           [&](ArgWriter& w) { (put_arg(w, args), ...); });
    }
    // Same, with a function that writes the arguments (for lists: AT+QMTSUB with N topics).
    template <class Fn>
    Expected<std::uint32_t, AtError> submit_with(const CommandSpec& spec, CommandHandler* handler,
                                                 std::uint32_t tag, Timeouts timeouts,
                                                 Fn&& write_args) {
        // Everything but the arguments is out of line (submit_args): one copy of the queueing
        // code, not one per call site.
        using F = std::remove_reference_t<Fn>;
        return submit_args(
            spec, handler, tag, timeouts, [](void* f, ArgWriter& w) { (*static_cast<F*>(f))(w); },
            const_cast<void*>(static_cast<const void*>(&write_args)));
    }
    // The arguments written by write_args(context, writer).
    using WriteArgs = void (*)(void* context, ArgWriter& w);
    Expected<std::uint32_t, AtError> submit_args(const CommandSpec& spec, CommandHandler* handler,
                                                 std::uint32_t tag, Timeouts timeouts,
                                                 WriteArgs write_args, void* context);

    // Registers a URC handler by prefix ("+QMTSTAT" matches "+QMTSTAT: 0,1"). False when the
    // table is full. With `bare` the prefix matches any line that starts with it, for the
    // module's banner lines that have no colon ("REBOOT_CAUSE_...", "Neul").
    bool on_urc(std::string_view prefix, UrcHandler handler, bool bare = false);
    bool on_urc_claim(std::string_view prefix, ClaimHandler handler,
                      ClaimOverflowHandler overflow = {});

    // Fails every queued, running and awaited command with ErrorKind::aborted (module reboot).
    void abort_all();
    // Forgets one command silently: dropped from the queue, or its awaited result no longer
    // waited for (the link dropped and its owner will send it again). A running command still
    // finishes on the wire, but its handler is not called. False when `seq` is unknown.
    bool abandon(std::uint32_t seq);
    // True while command `seq` is being written or awaits its final result — also after
    // abandon(): its payload bytes must stay valid until then.
    bool on_wire(std::uint32_t seq) const;

    // The time one byte takes on the line, in microseconds (default 1042: 9600 baud 8N1). Added
    // to each command's timeout for the bytes of the command, its echo and its payload.
    void set_byte_time_us(std::uint32_t us) { byte_time_us_ = us; }
    void set_trace(TraceHook hook) { trace_ = hook; }

    const Counters& counters() const { return counters_; }
    std::size_t queued() const { return q_count_; }
    std::size_t awaiting_results() const;
    bool idle() const { return q_count_ == 0 && awaiting_results() == 0; }
    // Letting the line settle after a timeout: queued commands wait.
    bool settling() const { return phase_ == Phase::settling; }

  private:
    static void put_arg(ArgWriter& w, std::string_view s) { w.quoted(s); }
    static void put_arg(ArgWriter& w, const char* s) { w.quoted(s); }
    template <class T>
    static void put_arg(ArgWriter& w, T v) {
        static_assert(sizeof(T) <= 8, "integers only");
        w.integer(static_cast<std::int64_t>(v));
    }

    enum class Phase : std::uint8_t {
        idle,
        sending,
        awaiting_final,
        writing_payload,
        settling,  // the last command timed out: wait for the module before the next one
    };
    bool running() const {
        return phase_ == Phase::sending || phase_ == Phase::awaiting_final ||
               phase_ == Phase::writing_payload;
    }
    enum class Rx : std::uint8_t { line, discard, claim, claim_overflow, skip_prompt_space };
    // Anything for pump() to write: checked inline after each feed(), which mostly has nothing.
    bool has_output() const {
        return phase_ == Phase::sending || phase_ == Phase::writing_payload ||
               settle_out_len_ > 0 || (phase_ == Phase::idle && q_count_ > 0);
    }

    bool begin(const CommandSpec& spec, ArgWriter& w);
    Expected<std::uint32_t, AtError> commit(const CommandSpec& spec, CommandHandler* handler,
                                            std::uint32_t tag, Timeouts timeouts,
                                            const ArgWriter& w);

    void pump(Instant now);
    bool start_next(Instant now);
    // The receive side takes a run of bytes at a time: each returns where it stopped.
    void consume(const std::uint8_t* p, const std::uint8_t* end, Instant now);
    // What a byte fed on its own most likely continues (see take_plain_byte()); set again after
    // everything that changes the receive state.
    enum class Plain : std::uint8_t { none, line, claim, echo, claim_prefix, prompt_space };
    // Sets claim_urc_ for claim_prefix. Out of line: off the one-byte path's frame.
    [[gnu::noinline]] Plain plain_state();
    bool take_plain_byte(std::uint8_t b);
    // Out of line, so the one-byte path of feed() needs no stack frame.
    [[gnu::noinline]] void feed_run(const std::uint8_t* data, std::size_t size, Instant now);
    const std::uint8_t* rx_line(const std::uint8_t* p, const std::uint8_t* end, Instant now);
    const std::uint8_t* rx_claim(const std::uint8_t* p, const std::uint8_t* end, Instant now);
    const std::uint8_t* rx_skip_to_eol(const std::uint8_t* p, const std::uint8_t* end);
    const std::uint8_t* skip_payload_echo(const std::uint8_t* p, const std::uint8_t* end);
    bool take_prompt(Instant now);
    std::size_t claim_cut(const std::uint8_t* p, std::size_t run);
    void on_line(std::string_view line, Instant now);
    bool handle_final(std::string_view line, Instant now);
    bool handle_result(std::string_view line, Instant now);
    void finish_running(const Outcome& outcome, Instant now);
    void start_claim_overflow(std::uint8_t b);
    void end_claim_overflow();
    void offer_claim(ClaimPhase phase, Instant now);
    void on_prompt(Instant now);
    void start_payload(const Payload& p, Instant now);
    void on_timeout(Instant now);
    void begin_settle(Instant now, bool cancel);
    void settle_probe(Instant now);
    void pop_front();
    bool result_pending_for(std::string_view name) const;
    detail::ResultSlot* free_result_slot();
    Instant final_deadline(const detail::QueueSlot& s, std::size_t extra_bytes, Instant now) const;
    Instant wire_deadline(const detail::QueueSlot& s, Millis base, std::size_t extra_bytes,
                          Instant now) const;

    void trace_text(TraceKind kind, std::string_view text);
    void trace_command(TraceKind kind, const detail::QueueSlot& s);
    void trace_rx(std::string_view line);
    std::uint16_t secret_fields_of(std::string_view line) const;

    Writer& writer_;
    detail::Storage storage_;
    Counters counters_{};
    TraceHook trace_{};
    std::uint32_t byte_time_us_ = 1042;
    std::uint32_t next_seq_ = 1;

    // Command queue: a ring; the head is the running command once phase_ != idle. Their lines
    // fill the pool's first pool_used_ bytes in queue order.
    Instant deadline_ = 0;
    detail::ResultSlot* running_result_ = nullptr;  // the head's reserved result slot

    // Payload after the prompt.
    Payload payload_{};
    // With echo on, the module repeats the payload: skip it byte by byte while it matches.
    ByteView echo_payload_{};
    std::size_t echo_off_ = 0;

    // Receive side.
    std::size_t line_len_ = 0;
    std::size_t line_cap_;  // storage_.line_capacity, widened once: compared on every byte
    std::size_t overflow_total_ = 0;  // length so far of a claimed URC too long for the buffer
    Instant last_rx_ = 0;
    Instant now_ = 0;

    // Small members last, packed together (the engine lives in MCU RAM). The queue's ring and
    // its pool are bounded by Storage's 16-bit capacities, the URC table by 255 slots.
    std::uint16_t q_head_ = 0;
    std::uint16_t q_count_ = 0;
    std::uint16_t pool_used_ = 0;
    std::uint16_t tx_off_ = 0;       // bytes of the head's text already written
    std::uint16_t payload_off_ = 0;  // bytes of the payload written (<= kMaxPayload)
    std::uint8_t urc_count_ = 0;
    std::uint8_t claim_urc_ = 0;       // which URC slot claims
    std::uint8_t claim_window_ = 0;    // longest claim prefix: a '+' line shorter may still claim
    std::uint8_t claim_shortest_ = 0;  // shortest claim prefix
    std::uint8_t busy_ = 0;            // >0 inside feed/poll: submit() leaves writing to them
    Phase phase_ = Phase::idle;
    Rx rx_ = Rx::line;
    Plain plain_ = Plain::line;
    bool saw_echo_ = false;
    bool prompt_done_ = false;
    bool payload_end_pending_ = false;
    bool claim_after_lf_ = false;
    bool writer_blocked_ = false;      // the Writer took less than offered: offer it again
    bool settle_saw_prompt_ = false;   // a '>' came while settling: the module is in data mode
    bool settle_escaped_ = false;      // this settle began with an ESC (a prompt was seen)
    std::uint8_t settle_left_ = 0;     // probes still to try
    std::uint8_t settle_out_len_ = 0;  // probe bytes still to write (from settle_out_)
    const char* settle_out_ = nullptr;
};

// An engine with its storage inside: every capacity a compile-time setting, no heap.
template <class Config = EngineConfig>
class Engine : public EngineCore {
  public:
    // The longest command: command_capacity, or the whole pool when that is smaller.
    static constexpr std::size_t kCommandCapacity = Config::command_capacity < Config::command_pool
                                                        ? Config::command_capacity
                                                        : Config::command_pool;
    static_assert(kCommandCapacity >= 16 && kCommandCapacity <= 0xFFFF,
                  "QueueSlot::len is 16 bits");
    static_assert(Config::line_capacity >= 16, "the overflow trace shows a line's first 16 bytes");
    static_assert(Config::line_capacity <= 0xFFFF && Config::command_pool <= 0xFFFF &&
                      Config::queue_depth <= 0xFFFF && Config::result_slots <= 0xFFFF &&
                      Config::urc_handlers <= 0xFF && Config::trace_capacity <= 0xFFFF,
                  "the engine's capacities are 16-bit");

    explicit Engine(Writer& writer) : EngineCore(writer, storage()) {}

  private:
    detail::Storage storage() {
        return detail::Storage{queue_,
                               pool_,
                               results_,
                               urcs_,
                               line_,
                               trace_buf_,
                               Config::claim_idle,
                               Config::settle_ms,
                               Config::queue_depth,
                               Config::command_pool,
                               kCommandCapacity,
                               Config::result_slots,
                               Config::urc_handlers,
                               Config::line_capacity,
                               kTraceCapacity,
                               Config::settle_probes};
    }
    detail::QueueSlot queue_[Config::queue_depth]{};
    char pool_[Config::command_pool]{};
    detail::ResultSlot results_[Config::result_slots]{};
    detail::UrcSlot urcs_[Config::urc_handlers]{};
    char line_[Config::line_capacity]{};
    // No trace buffer when tracing is compiled out (QMTKIT_TRACE 0): one byte, never written.
    static constexpr std::size_t kTraceCapacity = QMTKIT_TRACE ? Config::trace_capacity : 1;
    char trace_buf_[kTraceCapacity]{};
};

}  // namespace qmtkit::at
