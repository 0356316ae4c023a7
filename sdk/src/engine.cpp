#include "qmtkit/at/engine.hpp"

#include <cstring>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/common/arith.hpp"
#include "qmtkit/common/text.hpp"

namespace qmtkit::at {
namespace {

constexpr Instant kNever = ~Instant{0};
constexpr Millis kRetryWrite = 10;  // a stalled Writer is offered bytes again after this
// Result deadlines are kept as 32 bits (detail::ResultSlot::due) and compared by wrap-around
// difference, so a result wait is at most 2^31 - 1 ms (24.8 days).
constexpr Millis kMaxResultWait = 0x7FFFFFFFu;
std::uint32_t due_at(Instant now, Millis wait) {
    return static_cast<std::uint32_t>(now) + wait;
}
bool reached(Instant now, std::uint32_t due) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(now) - due) >= 0;
}
// The Instant of a 32-bit deadline, `base` being a time less than 2^31 ms from it.
Instant due_instant(Instant base, std::uint32_t due) {
    const auto d = static_cast<std::int32_t>(due - static_cast<std::uint32_t>(base));
    return d >= 0 ? base + static_cast<Instant>(d)
                  : base - static_cast<Instant>(-static_cast<std::int64_t>(d));
}
constexpr std::uint8_t kCtrlZ = 0x1A;
constexpr std::uint8_t kEsc = 0x1B;
constexpr char kEscText[] = "\x1B";  // settle probes
constexpr char kProbeText[] = "AT\r";

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with(std::string_view s, std::string_view p) {
    return has_prefix(s, p);
}

bool starts_with_nocase(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (lower(s[i]) != lower(p[i])) return false;
    }
    return true;
}

// Body of a line after "<name>:" and any spaces.
std::string_view body_after(std::string_view line, std::string_view name) {
    std::string_view b = sub_view(line, name.size() + 1);
    while (!b.empty() && b.front() == ' ') b.remove_prefix(1);
    return b;
}

AtError error_of(ErrorKind k) {
    return AtError{k, Cme::none, ArgError::none};
}

}  // namespace

std::string_view to_string(ErrorKind k) {
    if (!QMTKIT_NAMES) return "AT error";
    switch (k) {
        case ErrorKind::error:
            return "ERROR";
        case ErrorKind::cme:
            return "+CME ERROR";
        case ErrorKind::timeout:
            return "timeout";
        case ErrorKind::result_timeout:
            return "result timeout";
        case ErrorKind::aborted:
            return "aborted";
        case ErrorKind::queue_full:
            return "queue full";
        case ErrorKind::bad_argument:
            return "bad argument";
    }
    return "?";
}

EngineCore::EngineCore(Writer& writer, const detail::Storage& storage)
    : writer_(writer), storage_(storage), line_cap_(storage.line_capacity) {}

// ---------------------------------------------------------------- submitting

Expected<std::uint32_t, AtError> EngineCore::submit_args(const CommandSpec& spec,
                                                         CommandHandler* handler, std::uint32_t tag,
                                                         Timeouts timeouts, WriteArgs write_args,
                                                         void* context) {
    if (q_count_ >= storage_.queue_depth)
        return unexpected(AtError{ErrorKind::queue_full, Cme::none, ArgError::none});
    // Written straight into the pool's free end, one byte kept for the CR. Past the room there
    // it is only measured: "too long" and "no room just now" differ.
    const std::size_t room = storage_.pool_size - pool_used_;
    ArgWriter w(storage_.pool + pool_used_, room > 0 ? room - 1 : 0, storage_.command_capacity - 1);
    if (!begin(spec, w)) return unexpected(AtError{ErrorKind::bad_argument, Cme::none, w.error()});
    write_args(context, w);
    return commit(spec, handler, tag, timeouts, w);
}

bool EngineCore::begin(const CommandSpec& spec, ArgWriter& w) {
    w.append_text("AT");
    w.append_text(spec.name);
    switch (spec.form) {
        case Form::exec:
            break;
        case Form::test:
            w.append_text("=?");
            break;
        case Form::query:
            w.append_text("?");
            break;
        case Form::set:
            w.append_text("=");
            break;
    }
    if (!spec.head.empty()) w.raw(spec.head);
    return w.ok();
}

Expected<std::uint32_t, AtError> EngineCore::commit(const CommandSpec& spec,
                                                    CommandHandler* handler, std::uint32_t tag,
                                                    Timeouts timeouts, const ArgWriter& w) {
    if (!w.ok()) return unexpected(AtError{ErrorKind::bad_argument, Cme::none, w.error()});
    std::size_t key_begin = 0;
    std::size_t key_len = 0;
    if (spec.result_keys > 0 && w.arg_count() >= spec.result_keys) {
        key_begin = w.arg_start(0);
        key_len = w.arg_end(spec.result_keys - 1u) - key_begin;
        // Keys are integers ("0,<msgID>"): longer ones could never be matched.
        if (key_len > detail::kResultKeyCapacity || key_begin > 0xFF)
            return unexpected(AtError{ErrorKind::bad_argument, Cme::none, ArgError::too_long});
    }
    if (!w.stored()) return unexpected(error_of(ErrorKind::queue_full));  // measured, not kept
    detail::QueueSlot& slot = storage_.queue[(q_head_ + q_count_) % storage_.queue_depth];
    slot.spec = &spec;
    slot.handler = handler;
    slot.tag = tag;
    slot.seq = next_seq_++;
    slot.timeouts = timeouts;
    slot.len = static_cast<std::uint16_t>(w.size() + 1);
    slot.key_begin = static_cast<std::uint8_t>(key_begin);
    slot.key_len = static_cast<std::uint8_t>(key_len);
    storage_.pool[pool_used_ + w.size()] = '\r';
    pool_used_ += slot.len;
    ++q_count_;
    if (busy_ == 0) pump(now_);
    return slot.seq;
}

bool EngineCore::on_urc(std::string_view prefix, UrcHandler handler, bool bare) {
    if (urc_count_ >= storage_.urc_capacity || prefix.size() > 0xFF) return false;
    detail::UrcSlot& u = storage_.urcs[urc_count_++];
    u.text = prefix.data();
    u.text_len = static_cast<std::uint8_t>(prefix.size());
    u.bare = bare;
    u.claims = false;
    u.fn.line = handler;
    u.overflow = ClaimOverflowHandler{};
    return true;
}

bool EngineCore::on_wire(std::uint32_t seq) const {
    return running() && q_count_ > 0 && storage_.queue[q_head_].seq == seq;
}

bool EngineCore::abandon(std::uint32_t seq) {
    bool found = false;
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        detail::ResultSlot& r = storage_.results[i];
        if (r.active && r.seq == seq) {
            r.active = false;
            found = true;
        }
    }
    for (std::size_t k = 0; k < q_count_; ++k) {
        detail::QueueSlot& s = storage_.queue[(q_head_ + k) % storage_.queue_depth];
        if (s.seq != seq) continue;
        found = true;
        if (k == 0 && running()) {
            s.handler = nullptr;  // on the wire already: let it finish, tell no one
            running_result_ = nullptr;
            break;
        }
        // Close the gap: the later lines move back in the pool, their entries one place forward.
        std::size_t off = 0;
        for (std::size_t j = 0; j < k; ++j)
            off += storage_.queue[(q_head_ + j) % storage_.queue_depth].len;
        std::memmove(storage_.pool + off, storage_.pool + off + s.len, pool_used_ - off - s.len);
        pool_used_ -= s.len;
        for (std::size_t j = k; j + 1 < q_count_; ++j) {
            storage_.queue[(q_head_ + j) % storage_.queue_depth] =
                storage_.queue[(q_head_ + j + 1) % storage_.queue_depth];
        }
        --q_count_;
        break;
    }
    // A freed result slot may let a queued command go: outside feed()/poll() nobody else would
    // start it, and a host sleeping until next_deadline() would never come back.
    if (found && busy_ == 0) pump(now_);
    return found;
}

bool EngineCore::on_urc_claim(std::string_view prefix, ClaimHandler handler,
                              ClaimOverflowHandler overflow) {
    if (urc_count_ >= storage_.urc_capacity || prefix.size() > 0xFF) return false;
    detail::UrcSlot& u = storage_.urcs[urc_count_++];
    u.text = prefix.data();
    u.text_len = static_cast<std::uint8_t>(prefix.size());
    u.bare = false;
    u.claims = true;
    u.fn.claim = handler;
    u.overflow = overflow;
    if (prefix.size() > claim_window_) claim_window_ = u.text_len;
    if (claim_shortest_ == 0 || prefix.size() < claim_shortest_) claim_shortest_ = u.text_len;
    plain_ = plain_state();
    return true;
}

// ---------------------------------------------------------------- transmit side

Instant EngineCore::wire_deadline(const detail::QueueSlot& s, Millis base, std::size_t extra_bytes,
                                  Instant now) const {
    // Our bytes and their echo both cross the line before the answer can.
    const std::uint64_t wire_us =
        (static_cast<std::uint64_t>(s.len) + extra_bytes) * 2u * byte_time_us_;
    return now + base + static_cast<Millis>(div_small(wire_us + 999u, 1000).quot);
}

Instant EngineCore::final_deadline(const detail::QueueSlot& s, std::size_t extra_bytes,
                                   Instant now) const {
    return wire_deadline(s, s.timeouts.final != 0 ? s.timeouts.final : s.spec->timeout, extra_bytes,
                         now);
}

bool EngineCore::result_pending_for(std::string_view name) const {
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        const detail::ResultSlot& r = storage_.results[i];
        if (r.active && r.spec->result == name) return true;
    }
    return false;
}

detail::ResultSlot* EngineCore::free_result_slot() {
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        if (!storage_.results[i].active) return &storage_.results[i];
    }
    return nullptr;
}

std::size_t EngineCore::awaiting_results() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < storage_.result_slots; ++i)
        n += storage_.results[i].active ? 1u : 0u;
    return n;
}

bool EngineCore::start_next(Instant now) {
    if (q_count_ == 0) return false;
    detail::QueueSlot& s = storage_.queue[q_head_];
    // A query whose answer shares its prefix with an awaited result would be ambiguous
    // (+QMTCONN: 0,1 is both "retransmission" and "state 1"): it waits until the result is in.
    if (!s.spec->info.empty() && result_pending_for(s.spec->info)) return false;
    detail::ResultSlot* r = nullptr;
    if (s.spec->two_phase()) {
        r = free_result_slot();
        if (r == nullptr) return false;  // every result slot busy: back-pressure, not failure
        // Armed from the start so a result that overtakes the OK is still matched.
        r->active = true;
        r->armed = false;
        r->payload_out = !s.spec->prompt;
        r->spec = s.spec;
        r->handler = s.handler;
        r->tag = s.tag;
        r->seq = s.seq;
        r->timeout = s.timeouts.result != 0 ? s.timeouts.result : s.spec->result_timeout;
        if (r->timeout > kMaxResultWait) r->timeout = kMaxResultWait;
        r->due = 0;
        std::memcpy(r->key, storage_.pool + s.key_begin, s.key_len);  // the head's line
        r->key_len = s.key_len & 0xFu;                                // <= kResultKeyCapacity
    }
    running_result_ = r;
    phase_ = Phase::sending;
    tx_off_ = 0;
    saw_echo_ = false;
    prompt_done_ = false;
    // A prompt command waits for its '>' first; the final timeout runs once the payload is out.
    deadline_ = s.spec->prompt && s.spec->prompt_timeout != 0
                    ? wire_deadline(s, s.spec->prompt_timeout, 0, now)
                    : final_deadline(s, 0, now);
    ++counters_.commands;
    trace_command(TraceKind::tx, s);
    return true;
}

void EngineCore::pump(Instant now) {
    writer_blocked_ = false;
    for (;;) {
        if (phase_ == Phase::idle) {
            if (!start_next(now)) return;
        }
        if (phase_ == Phase::sending) {
            detail::QueueSlot& s = storage_.queue[q_head_];
            while (tx_off_ < s.len) {
                const std::size_t n =
                    writer_.write(reinterpret_cast<const std::uint8_t*>(storage_.pool) + tx_off_,
                                  s.len - tx_off_);
                if (n == 0) {
                    writer_blocked_ = true;
                    return;
                }
                tx_off_ = static_cast<std::uint16_t>(tx_off_ + n);
            }
            phase_ = Phase::awaiting_final;
            return;
        }
        if (phase_ == Phase::writing_payload) {
            while (payload_off_ < payload_.bytes.size) {
                const std::size_t n = writer_.write(payload_.bytes.data + payload_off_,
                                                    payload_.bytes.size - payload_off_);
                if (n == 0) {
                    writer_blocked_ = true;
                    return;
                }
                payload_off_ = static_cast<std::uint16_t>(payload_off_ + n);
            }
            if (payload_end_pending_) {
                const std::uint8_t end = payload_.end == Payload::End::cancel ? kEsc : kCtrlZ;
                if (writer_.write(&end, 1) == 0) {
                    writer_blocked_ = true;
                    return;
                }
                payload_end_pending_ = false;
            }
            // From now on the module may publish it, and its result may come.
            if (running_result_ != nullptr) running_result_->payload_out = true;
            phase_ = Phase::awaiting_final;
            deadline_ = final_deadline(storage_.queue[q_head_], payload_.bytes.size, now);
            return;
        }
        if (phase_ == Phase::settling) {
            while (settle_out_len_ > 0) {
                const std::size_t n = writer_.write(
                    reinterpret_cast<const std::uint8_t*>(settle_out_), settle_out_len_);
                if (n == 0) {
                    writer_blocked_ = true;
                    return;
                }
                settle_out_ += n;
                settle_out_len_ = static_cast<std::uint8_t>(settle_out_len_ - n);
            }
            return;
        }
        return;  // awaiting_final: nothing to write
    }
}

void EngineCore::on_prompt(Instant now) {
    detail::QueueSlot& s = storage_.queue[q_head_];
    prompt_done_ = true;
    trace_text(TraceKind::prompt, ">");
    const CommandRef ref{s.spec, s.tag, s.seq};
    start_payload(s.handler != nullptr ? s.handler->on_prompt(ref) : Payload{}, now);
}

void EngineCore::start_payload(const Payload& p, Instant now) {
    const detail::QueueSlot& s = storage_.queue[q_head_];
    payload_ = p;
    // No AT+QMTPUB payload is longer than 1,024 bytes; anything past 16 bits is a handler's bug:
    // cancelled rather than written in part (payload_off_ is 16 bits).
    if (payload_.bytes.size > 0xFFFFu) payload_.end = Payload::End::cancel;
    if (payload_.end == Payload::End::cancel) {
        payload_.bytes = {};
        // ESC withdraws the command: its OK may come, its result line never will.
        if (running_result_ != nullptr && running_result_->seq == s.seq)
            running_result_->active = false;
        running_result_ = nullptr;
    }
    payload_off_ = 0;
    payload_end_pending_ = payload_.end != Payload::End::fixed;
    echo_payload_ = saw_echo_ ? payload_.bytes : ByteView{};
    echo_off_ = 0;
    if (QMTKIT_TRACE && trace_) {
        ArgWriter w(storage_.trace, storage_.trace_capacity);
        w.integer(static_cast<std::int64_t>(payload_.bytes.size));
        w.append_text(payload_.end == Payload::End::cancel  ? " bytes, cancelled (ESC)"
                      : payload_.end == Payload::End::fixed ? " bytes, fixed length"
                                                            : " bytes + Ctrl-Z");
        trace_(TraceKind::payload, std::string_view(w.data(), w.size()));
    }
    phase_ = Phase::writing_payload;
    pump(now);
}

void EngineCore::pop_front() {
    // The lines stay contiguous, the head's at the pool's start: one move per finished command
    // (at most the pool) keeps every reader of a line (Writer, echo, trace) on one span.
    const std::size_t len = storage_.queue[q_head_].len;
    std::memmove(storage_.pool, storage_.pool + len, pool_used_ - len);
    pool_used_ = static_cast<std::uint16_t>(pool_used_ - len);
    q_head_ = static_cast<std::uint16_t>((q_head_ + 1u) % storage_.queue_depth);
    --q_count_;
}

void EngineCore::finish_running(const Outcome& outcome, Instant now) {
    detail::QueueSlot& s = storage_.queue[q_head_];
    const CommandRef ref{s.spec, s.tag, s.seq};
    CommandHandler* h = s.handler;
    detail::ResultSlot* r = running_result_;
    running_result_ = nullptr;
    if (r != nullptr && r->active && r->seq == ref.seq) {
        if (outcome.has_value()) {
            r->armed = true;
            r->due = due_at(now, r->timeout);
        } else {
            r->active = false;  // the command failed: no result line will follow
        }
    }
    pop_front();
    phase_ = Phase::idle;
    payload_ = Payload{};
    payload_end_pending_ = false;
    echo_payload_ = ByteView{};
    if (h != nullptr) h->on_final(ref, outcome);
}

// ---------------------------------------------------------------- receive side

void EngineCore::feed(const std::uint8_t* data, std::size_t size, Instant now) {
    now_ = now;
    if (size == 1) {
        last_rx_ = now;
        if (take_plain_byte(*data)) {
            // A plain byte changes nothing on the transmit side; a stalled Writer is offered
            // its bytes again.
            if (writer_blocked_) pump(now);
            return;
        }
    } else if (size == 0) {
        return;
    }
    last_rx_ = now;
    feed_run(data, size, now);
}

void EngineCore::feed_run(const std::uint8_t* data, std::size_t size, Instant now) {
    ++busy_;
    consume(data, data + size, now);
    --busy_;
    plain_ = plain_state();
    if (has_output()) pump(now);
}

// Fed one byte at a time (a UART interrupt), most bytes are the middle of a line, of a claimed
// URC or of a payload echo, or the LF of an empty line: plain_ says which, so they are taken here
// with a compare or two. False: consume() decides.
inline bool EngineCore::take_plain_byte(std::uint8_t b) {
    // Tested by frequency: claimed payload bytes, line bytes, payload echo.
    if (plain_ == Plain::claim) {
        if (b == '\n' || line_len_ >= line_cap_) return false;
    } else if (plain_ == Plain::line) {
        if (b <= '\r') return line_len_ == 0 && (b == '\r' || b == '\n');  // an empty line
        if (line_len_ >= line_cap_) return false;
        // A line's first byte may be a prompt or the start of a claimed URC.
        if (line_len_ == 0 && (b == '>' || b == '+')) return false;
    } else if (plain_ == Plain::echo) {
        if (b != echo_payload_.data[echo_off_]) return false;
        if (++echo_off_ == echo_payload_.size) plain_ = plain_state();
        return true;
    } else if (plain_ == Plain::claim_prefix) {
        // Still spelling the one claim prefix it may become; its last byte starts the claim.
        const std::string_view pre = storage_.urcs[claim_urc_].prefix();
        if (line_len_ + 1 >= pre.size() || b != static_cast<std::uint8_t>(pre[line_len_]))
            return false;
    } else if (plain_ == Plain::prompt_space) {
        if (b != ' ') return false;
        rx_ = Rx::line;
        plain_ = plain_state();
        return true;
    } else {
        return false;
    }
    storage_.line[line_len_++] = static_cast<char>(b);
    return true;
}

EngineCore::Plain EngineCore::plain_state() {
    if (rx_ == Rx::skip_prompt_space) return Plain::prompt_space;
    if (echo_off_ < echo_payload_.size) return Plain::echo;
    if (rx_ == Rx::claim) return claim_after_lf_ ? Plain::none : Plain::claim;
    if (rx_ != Rx::line) return Plain::none;
    // A '+' line that may still become a claimed URC: byte by byte while it spells one prefix.
    if (line_len_ > 0 && line_len_ < claim_window_ && storage_.line[0] == '+') {
        std::size_t candidates = 0;
        for (std::size_t i = 0; i < urc_count_; ++i) {
            const detail::UrcSlot& u = storage_.urcs[i];
            if (!u.claims || u.text_len <= line_len_) continue;
            std::size_t k = 0;
            while (k < line_len_ && storage_.line[k] == u.text[k]) ++k;
            if (k == line_len_) {
                ++candidates;
                claim_urc_ = static_cast<std::uint8_t>(i);
            }
        }
        if (candidates > 0) return candidates == 1 ? Plain::claim_prefix : Plain::none;
    }
    return Plain::line;
}

void EngineCore::reset_rx() {
    line_len_ = 0;
    overflow_total_ = 0;
    rx_ = Rx::line;
    claim_after_lf_ = false;
    echo_payload_ = ByteView{};
    echo_off_ = 0;
    plain_ = plain_state();
}

namespace {

// First CR or LF in [p, end), or end. Bytes above '\r' (nearly all) cost one compare.
inline const std::uint8_t* find_eol(const std::uint8_t* p, const std::uint8_t* end) {
    for (; p < end; ++p) {
        if (*p <= '\r' && (*p == '\r' || *p == '\n')) break;
    }
    return p;
}

// First LF in [p, p + n), or nullptr: memchr for a run, a plain loop for a byte or a few.
inline const std::uint8_t* find_lf(const std::uint8_t* p, std::size_t n) {
    if (n >= 16) return static_cast<const std::uint8_t*>(std::memchr(p, '\n', n));
    for (const std::uint8_t* e = p + n; p < e; ++p) {
        if (*p == '\n') return p;
    }
    return nullptr;
}

// How many leading bytes of a and b agree, up to n.
inline std::size_t match_len(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
    if (n >= 16 && std::memcmp(a, b, n) == 0) return n;
    std::size_t k = 0;
    while (k < n && a[k] == b[k]) ++k;
    return k;
}

}  // namespace

// Each step takes the longest run of bytes its state can take at once and returns where it
// stopped; a state change (line end, prompt, claim start) ends the run.
void EngineCore::consume(const std::uint8_t* p, const std::uint8_t* end, Instant now) {
    while (p < end) {
        if (rx_ == Rx::skip_prompt_space) {
            // Before the payload echo: the module sends "> " and then repeats the payload.
            rx_ = Rx::line;
            if (*p == ' ') {
                ++p;
                continue;
            }
        }
        if (echo_off_ < echo_payload_.size) {
            p = skip_payload_echo(p, end);
            continue;
        }
        switch (rx_) {
            case Rx::line:
            case Rx::skip_prompt_space:  // handled above
                p = rx_line(p, end, now);
                break;
            case Rx::claim:
                p = rx_claim(p, end, now);
                break;
            case Rx::discard:
            case Rx::claim_overflow:
                p = rx_skip_to_eol(p, end);
                break;
        }
    }
}

const std::uint8_t* EngineCore::skip_payload_echo(const std::uint8_t* p, const std::uint8_t* end) {
    const std::size_t left = echo_payload_.size - echo_off_;
    const std::size_t n = static_cast<std::size_t>(end - p) < left ? end - p : left;
    const std::size_t k = match_len(p, echo_payload_.data + echo_off_, n);
    echo_off_ += k;
    if (k < n) echo_payload_ = ByteView{};  // not an echo after all: parse normally
    return p + k;
}

// Discarding the rest of a line too long for the buffer, or of a claim too long to hold.
const std::uint8_t* EngineCore::rx_skip_to_eol(const std::uint8_t* p, const std::uint8_t* end) {
    const std::uint8_t* eol = find_eol(p, end);
    if (rx_ == Rx::claim_overflow) {
        overflow_total_ += static_cast<std::size_t>(eol - p);
        if (eol < end) end_claim_overflow();
    } else if (eol < end) {
        rx_ = Rx::line;
        ++counters_.resyncs;
    }
    return eol < end ? eol + 1 : end;
}

// A '>' at the start of a line: the prompt the running command waits for, or one that comes
// while settling. False: an ordinary byte.
bool EngineCore::take_prompt(Instant now) {
    if (phase_ == Phase::awaiting_final && !prompt_done_ && storage_.queue[q_head_].spec->prompt) {
        rx_ = Rx::skip_prompt_space;
        on_prompt(now);
        return true;
    }
    if (phase_ == Phase::settling) {
        // A prompt after we gave up on it: the module is in data mode now. Its OK to our ESC may
        // still follow; if not, the next probe is an ESC, never a command line.
        rx_ = Rx::skip_prompt_space;
        settle_saw_prompt_ = true;
        deadline_ = now + storage_.settle_ms;
        trace_text(TraceKind::prompt, "> (while settling)");
        return true;
    }
    return false;
}

// The bytes of [p, p + run) that complete a claim prefix at the line's start (the shortest
// such prefix wins), or 0. Sets claim_urc_.
std::size_t EngineCore::claim_cut(const std::uint8_t* p, std::size_t run) {
    const char* line = storage_.line;
    std::size_t best = 0;
    for (std::size_t i = 0; i < urc_count_; ++i) {
        const detail::UrcSlot& u = storage_.urcs[i];
        const std::size_t n = u.text_len;
        if (!u.claims || n <= line_len_ || n > line_len_ + run || n > storage_.line_capacity ||
            (best != 0 && n >= best))
            continue;
        if (std::memcmp(line, u.text, line_len_) == 0 &&
            std::memcmp(p, u.text + line_len_, n - line_len_) == 0) {
            best = n;
            claim_urc_ = static_cast<std::uint8_t>(i);
        }
    }
    return best != 0 ? best - line_len_ : 0;
}

const std::uint8_t* EngineCore::rx_line(const std::uint8_t* p, const std::uint8_t* end,
                                        Instant now) {
    char* line = storage_.line;
    if (line_len_ == 0 && *p == '>' && take_prompt(now)) return p + 1;
    const std::uint8_t* eol = find_eol(p, end);
    std::size_t run = static_cast<std::size_t>(eol - p);
    // A claiming URC starts once its prefix is in: its bytes are not a line any more.
    if (line_len_ < claim_window_ && line_len_ + run >= claim_shortest_ && run > 0 &&
        (line_len_ > 0 ? line[0] : *p) == '+') {
        const std::size_t cut = claim_cut(p, run);
        if (cut > 0) {
            std::memcpy(line + line_len_, p, cut);
            line_len_ += cut;
            rx_ = Rx::claim;
            claim_after_lf_ = false;
            return p + cut;
        }
    }
    const std::size_t room = storage_.line_capacity - line_len_;
    if (run > room) {
        // Too long: drop it, count it, and resynchronise at the next line end.
        std::memcpy(line + line_len_, p, room);
        ++counters_.overflows;
        trace_text(TraceKind::overflow, std::string_view(line, 16));
        line_len_ = 0;
        rx_ = Rx::discard;
        return p + room + 1;
    }
    std::memcpy(line + line_len_, p, run);
    line_len_ += run;
    if (eol == end) return end;
    if (line_len_ > 0) {
        const std::string_view l(line, line_len_);
        line_len_ = 0;
        on_line(l, now);
    }
    return eol + 1;
}

void EngineCore::start_claim_overflow(std::uint8_t b) {
    // Too long to hold: keep its head (the owner reports what it was), count the rest.
    ++counters_.overflows;
    trace_text(TraceKind::overflow, storage_.urcs[claim_urc_].prefix());
    claim_after_lf_ = false;
    overflow_total_ = line_len_;
    rx_ = Rx::claim_overflow;
    if (b == '\n' || b == '\r') {
        end_claim_overflow();
    } else {
        ++overflow_total_;
    }
}

// A claimed URC's raw bytes: copied up to the next LF, where the handler is asked; the byte
// after an LF is offered on its own.
const std::uint8_t* EngineCore::rx_claim(const std::uint8_t* p, const std::uint8_t* end,
                                         Instant now) {
    char* line = storage_.line;
    const std::size_t room = storage_.line_capacity - line_len_;
    if (room == 0) {
        start_claim_overflow(*p);
        return p + 1;
    }
    if (claim_after_lf_) {
        const std::uint8_t b = *p;
        line[line_len_++] = static_cast<char>(b);
        claim_after_lf_ = false;
        offer_claim(ClaimPhase::next_byte, now);
        // A claim that still wants more and just got another LF.
        if (rx_ == Rx::claim && b == '\n') {
            claim_after_lf_ = true;
            offer_claim(ClaimPhase::line_end, now);
        }
        return p + 1;
    }
    const std::size_t avail = static_cast<std::size_t>(end - p);
    const std::size_t n = avail < room ? avail : room;
    const std::uint8_t* lf = find_lf(p, n);
    const std::size_t k = lf != nullptr ? static_cast<std::size_t>(lf - p) + 1 : n;
    std::memcpy(line + line_len_, p, k);
    line_len_ += k;
    if (lf != nullptr) {
        claim_after_lf_ = true;
        offer_claim(ClaimPhase::line_end, now);
    }
    return p + k;
}

void EngineCore::end_claim_overflow() {
    const detail::UrcSlot& u = storage_.urcs[claim_urc_];
    if (u.overflow) {
        u.overflow(ByteView(reinterpret_cast<const std::uint8_t*>(storage_.line), line_len_),
                   overflow_total_);
    }
    line_len_ = 0;
    overflow_total_ = 0;
    rx_ = Rx::line;
    ++counters_.resyncs;
}

void EngineCore::offer_claim(ClaimPhase phase, Instant now) {
    const detail::UrcSlot& u = storage_.urcs[claim_urc_];
    const ByteView buffered(reinterpret_cast<const std::uint8_t*>(storage_.line), line_len_);
    const Claim c = u.fn.claim(buffered, phase);
    if (!c.complete) {
        if (phase != ClaimPhase::idle) return;
        // The handler could not make sense of it even at idle: drop it, count it.
        ++counters_.unclaimed;
        trace_text(TraceKind::unclaimed, u.prefix());
        line_len_ = 0;
        rx_ = Rx::line;
        claim_after_lf_ = false;
        return;
    }
    ++counters_.claims;
    ++counters_.urcs;
    trace_text(TraceKind::claimed, u.prefix());
    const std::size_t consumed = c.consumed < line_len_ ? c.consumed : line_len_;
    std::uint8_t rest[4];
    std::size_t nrest = line_len_ - consumed;
    if (nrest > sizeof(rest)) {
        ++counters_.resyncs;  // the handler left more than it may; resynchronise at a line end
        nrest = 0;
    }
    std::memcpy(rest, storage_.line + consumed, nrest);
    line_len_ = 0;
    rx_ = Rx::line;
    claim_after_lf_ = false;
    consume(rest, rest + nrest, now);
}

void EngineCore::on_line(std::string_view line, Instant now) {
    // 1. The module's echo of the running command (ATE1).
    if (running()) {
        const detail::QueueSlot& s = storage_.queue[q_head_];
        const std::string_view sent(storage_.pool, s.len - 1u);  // the head's line
        if (line.size() == sent.size() && (line == sent || starts_with_nocase(line, sent))) {
            saw_echo_ = true;
            trace_command(TraceKind::echo, s);
            return;
        }
    }
    trace_rx(line);
    // 2. Final result of the running command.
    if (handle_final(line, now)) return;
    // 3. The later result of a two-phase command, oldest first.
    if (handle_result(line, now)) return;
    // 4. Information lines of the running command, by its declared prefix; or (6.) every line
    // that is no URC, for a command whose lines are all information (ATI, AT+CIMI, AT+NRB).
    const detail::QueueSlot* head = this->running() ? &storage_.queue[q_head_] : nullptr;
    const std::string_view info = head != nullptr ? head->spec->info : std::string_view{};
    const bool any_line = info == kAnyLine;
    bool mine = !info.empty() && !any_line && line_has_prefix(line, info);
    if (!mine) {
        // 5. URCs by prefix.
        for (std::size_t i = 0; i < urc_count_; ++i) {
            const detail::UrcSlot& u = storage_.urcs[i];
            if (!u.claims && u.fn.line &&
                (u.bare ? starts_with(line, u.prefix()) : line_has_prefix(line, u.prefix()))) {
                ++counters_.urcs;
                trace_text(TraceKind::urc, u.prefix());
                u.fn.line(line);
                return;
            }
        }
        mine = any_line;
    }
    if (mine && head != nullptr) {  // (mine implies a head: said again for the analyzer)
        if (head->handler != nullptr)
            head->handler->on_info(CommandRef{head->spec, head->tag, head->seq}, line);
        return;
    }
    ++counters_.unclaimed;
    // The line itself was traced (masked) by trace_rx; a stray line may hold a secret.
    trace_text(TraceKind::unclaimed, "line taken by nobody");
}

bool EngineCore::handle_final(std::string_view line, Instant now) {
    Outcome outcome;
    if (line == "OK") {
        outcome = Outcome{};
    } else if (line == "ERROR") {
        outcome = unexpected(error_of(ErrorKind::error));
    } else if (starts_with(line, "+CME ERROR:")) {
        outcome =
            unexpected(AtError{ErrorKind::cme, cme_parse(sub_view(line, 11)), ArgError::none});
    } else {
        return false;
    }
    if (phase_ == Phase::settling) {
        // The late answer of the timed-out command, or of our probe: the module is in command
        // mode and listening again.
        trace_text(TraceKind::settle, "settled");
        phase_ = Phase::idle;
        settle_out_len_ = 0;
        return true;
    }
    if (phase_ == Phase::idle || phase_ == Phase::sending) {
        ++counters_.stray_finals;
        return true;
    }
    // A module answers a prompt command with '>' before its OK: an OK before the prompt is the
    // late answer of an earlier command. Taking it would leave the module's data mode unserved.
    if (outcome.has_value() && !prompt_done_ && storage_.queue[q_head_].spec->prompt) {
        ++counters_.stray_finals;
        return true;
    }
    finish_running(outcome, now);
    return true;
}

bool EngineCore::handle_result(std::string_view line, Instant now) {
    if (line.empty() || line.front() != '+') return false;
    std::uint32_t after = 0;  // visit matching slots by ascending seq
    for (;;) {
        detail::ResultSlot* best = nullptr;
        for (std::size_t i = 0; i < storage_.result_slots; ++i) {
            detail::ResultSlot& r = storage_.results[i];
            if (!r.active || r.seq <= after || (best != nullptr && r.seq >= best->seq)) continue;
            if (!line_has_prefix(line, r.spec->result)) continue;
            const std::string_view body = body_after(line, r.spec->result);
            const std::string_view key(r.key, r.key_len);
            if (!starts_with(body, key)) continue;
            if (body.size() > key.size() && key.size() > 0 && body[key.size()] != ',') continue;
            best = &r;
        }
        if (best == nullptr) return false;
        after = best->seq;
        CommandRef ref{best->spec, best->tag, best->seq};
        ref.before_payload = !best->payload_out;
        const ResultVerdict v =
            best->handler != nullptr ? best->handler->on_result(ref, line) : ResultVerdict::done;
        if (v == ResultVerdict::not_mine) continue;
        if (v == ResultVerdict::intermediate) {
            if (best->armed) best->due = due_at(now, best->timeout);  // each report restarts it
        } else {
            best->active = false;
        }
        return true;
    }
}

// ---------------------------------------------------------------- time

void EngineCore::on_timeout(Instant now) {
    const detail::QueueSlot& s = storage_.queue[q_head_];
    const bool prompt_missing = s.spec->prompt && !prompt_done_;
    if (prompt_missing && phase_ == Phase::awaiting_final) {
        ++counters_.late_prompts;
        // The module may be in data mode already. A fixed-length payload is what it waits for;
        // anything else must not be written: cancel with ESC and let the line settle.
        CommandRef ref{s.spec, s.tag, s.seq};
        ref.prompt_late = true;
        if (s.handler != nullptr) {
            const Payload p = s.handler->on_prompt(ref);
            if (p.end == Payload::End::fixed && p.bytes.size > 0) {
                prompt_done_ = true;
                trace_text(TraceKind::prompt, "> (late: fixed-length payload written without it)");
                start_payload(p, now);
                return;
            }
        }
    }
    // Variable-length data mode is left with ESC; in command mode the module ignores it or
    // answers ERROR, which settles the line as well.
    const bool cancel = prompt_missing ||
                        (phase_ == Phase::writing_payload && payload_.end == Payload::End::ctrl_z);
    ++counters_.timeouts;
    trace_text(TraceKind::timeout, s.spec->name);
    finish_running(unexpected(error_of(ErrorKind::timeout)), now);
    begin_settle(now, cancel);
}

void EngineCore::begin_settle(Instant now, bool cancel) {
    ++counters_.settles;
    phase_ = Phase::settling;
    settle_left_ = storage_.settle_probes;
    settle_saw_prompt_ = false;
    settle_out_len_ = 0;
    settle_escaped_ = cancel;
    deadline_ = now + storage_.settle_ms;
    if (cancel) {
        settle_out_ = kEscText;
        settle_out_len_ = 1;
        trace_text(TraceKind::settle, "ESC");
    }
}

void EngineCore::settle_probe(Instant now) {
    if (settle_left_ == 0) {
        // Not a word from the module: go on; the next command's own timeout tells the owner.
        ++counters_.settle_failures;
        trace_text(TraceKind::settle, "gave up");
        phase_ = Phase::idle;
        settle_out_len_ = 0;
        return;
    }
    // The first probe is ESC as well when the module has said nothing: it may be waiting for
    // the rest of a payload a host that restarted (or a port that was reopened) never finished,
    // and takes "AT" as payload bytes then; ESC cancels that publish and in command mode it is
    // ignored (V.250 5.2.2).
    const bool first = settle_left_ == storage_.settle_probes && !settle_escaped_;
    --settle_left_;
    ++counters_.settle_probes;
    if (settle_saw_prompt_ || first) {
        settle_saw_prompt_ = false;
        settle_out_ = kEscText;
        settle_out_len_ = 1;
        trace_text(TraceKind::settle, "ESC");
    } else {
        settle_out_ = kProbeText;
        settle_out_len_ = 3;
        trace_text(TraceKind::settle, "AT");
    }
    deadline_ = now + storage_.settle_ms;
}

void EngineCore::poll(Instant now) {
    now_ = now;
    ++busy_;
    if (running() && now >= deadline_) {
        on_timeout(now);
    } else if (phase_ == Phase::settling && now >= deadline_) {
        settle_probe(now);
    }
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        detail::ResultSlot& r = storage_.results[i];
        if (r.active && r.armed && reached(now, r.due)) {
            r.active = false;
            ++counters_.result_timeouts;
            trace_text(TraceKind::timeout, r.spec->result);
            if (r.handler != nullptr) {
                r.handler->on_result_error(CommandRef{r.spec, r.tag, r.seq},
                                           error_of(ErrorKind::result_timeout));
            }
        }
    }
    if (rx_ == Rx::claim && now >= last_rx_ + storage_.claim_idle)
        offer_claim(ClaimPhase::idle, now);
    if (rx_ == Rx::claim_overflow && now >= last_rx_ + storage_.claim_idle) end_claim_overflow();
    --busy_;
    plain_ = plain_state();
    pump(now);
}

Instant EngineCore::next_deadline() const {
    Instant t = kNever;
    if (phase_ != Phase::idle && deadline_ < t) t = deadline_;
    // The Writer took only part of what we have for it: offer the rest again soon.
    const bool stalled =
        phase_ == Phase::sending || phase_ == Phase::writing_payload || settle_out_len_ > 0;
    if (stalled && now_ + kRetryWrite < t) t = now_ + kRetryWrite;
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        const detail::ResultSlot& r = storage_.results[i];
        if (r.active && r.armed && due_instant(now_, r.due) < t) t = due_instant(now_, r.due);
    }
    if ((rx_ == Rx::claim || rx_ == Rx::claim_overflow) && last_rx_ + storage_.claim_idle < t)
        t = last_rx_ + storage_.claim_idle;
    // Never "never" while work is queued: a host that sleeps until then must come back.
    if (t == kNever && q_count_ > 0) t = now_ + kRetryWrite;
    return t;
}

void EngineCore::abort_all() {
    ++busy_;
    // Only what exists now: handlers may submit again from their callbacks (the supervisor
    // re-running bring-up), and those commands must survive.
    const std::uint32_t limit = next_seq_;
    if (phase_ == Phase::settling) {
        phase_ = Phase::idle;  // a restarted module has nothing to settle
        settle_out_len_ = 0;
    }
    if (running()) {
        finish_running(unexpected(error_of(ErrorKind::aborted)), now_);
    }
    while (q_count_ > 0 && storage_.queue[q_head_].seq < limit) {
        detail::QueueSlot& s = storage_.queue[q_head_];
        const CommandRef ref{s.spec, s.tag, s.seq};
        CommandHandler* h = s.handler;
        pop_front();
        if (h != nullptr) h->on_final(ref, unexpected(error_of(ErrorKind::aborted)));
    }
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        detail::ResultSlot& r = storage_.results[i];
        if (r.active && r.seq < limit) {
            r.active = false;
            if (r.handler != nullptr) {
                r.handler->on_result_error(CommandRef{r.spec, r.tag, r.seq},
                                           error_of(ErrorKind::aborted));
            }
        }
    }
    --busy_;
    plain_ = plain_state();
    // Called from a URC handler inside feed() (a reboot banner), the rest of that chunk arrived
    // before anything we write now: feed() starts the next command once it has all been read.
    if (busy_ == 0) pump(now_);
}

// ---------------------------------------------------------------- trace

void EngineCore::trace_text(TraceKind kind, std::string_view text) {
    if (!QMTKIT_TRACE || !trace_) return;
    if (text.size() > storage_.trace_capacity) text = sub_view(text, 0, storage_.trace_capacity);
    trace_(kind, text);
}

void EngineCore::trace_command(TraceKind kind, const detail::QueueSlot& s) {
    if (!QMTKIT_TRACE || !trace_) return;
    char* out = storage_.trace;
    const std::size_t cap = storage_.trace_capacity;
    const char* text = storage_.pool;    // only the head's line is ever traced
    const std::size_t end = s.len - 1u;  // without the CR
    std::size_t n = 0;
    std::size_t i = 0;
    // Arguments follow the first '='; commas inside quotes are text (a quoted argument cannot
    // hold a quote), so the line itself says where argument k starts.
    std::size_t arg = 0;
    bool in_args = false;
    bool quoted = false;
    bool at_arg_start = false;
    while (i < end && n < cap) {
        const char c = text[i];
        if (!in_args && c == '=' && s.spec->form == Form::set) {
            in_args = true;
            at_arg_start = true;
            out[n++] = c;
            ++i;
            continue;
        }
        if (at_arg_start) {
            at_arg_start = false;
            if (arg < 16 && ((s.spec->secret_args >> arg) & 1u)) {
                // Mask the whole argument; nothing of a secret, not even its length, is shown.
                constexpr std::string_view kMask = "\"***\"";
                for (char m : kMask) {
                    if (n < cap) out[n++] = m;
                }
                bool q = false;
                while (i < end && (q || text[i] != ',')) {
                    if (text[i] == '"') q = !q;
                    ++i;
                }
                continue;
            }
        }
        if (in_args) {
            if (c == '"') quoted = !quoted;
            if (c == ',' && !quoted) {
                ++arg;
                at_arg_start = true;
            }
        }
        out[n++] = c;
        ++i;
    }
    trace_(kind, std::string_view(out, n));
}

// The secret fields of a received line: those its command declares, when the running command's
// information prefix or an awaited result's prefix is the line's; when no command explains it,
// those of every declared command that could have sent it.
std::uint16_t EngineCore::secret_fields_of(std::string_view line) const {
    std::uint16_t mask = 0;
    bool explained = false;
    if (running()) {
        const CommandSpec& r = *storage_.queue[q_head_].spec;
        if (!r.info.empty() && r.info != kAnyLine && line_has_prefix(line, r.info)) {
            mask |= r.secret_fields;
            explained = true;
        }
    }
    for (std::size_t i = 0; i < storage_.result_slots; ++i) {
        const detail::ResultSlot& r = storage_.results[i];
        if (r.active && line_has_prefix(line, r.spec->result)) {
            mask |= r.spec->secret_fields;
            explained = true;
        }
    }
    if (explained) return mask;
    for (const CommandSpec* c : cmd::secret_answers) {
        if ((!c->info.empty() && line_has_prefix(line, c->info)) ||
            (c->two_phase() && line_has_prefix(line, c->result)))
            mask |= c->secret_fields;
    }
    return mask;
}

void EngineCore::trace_rx(std::string_view line) {
    if (!QMTKIT_TRACE || !trace_) return;
    // An echo we could not match to the running command may hold credentials: never show it.
    if (starts_with_nocase(line, "AT")) {
        trace_(TraceKind::rx, "AT... (unmatched echo, hidden)");
        return;
    }
    const std::uint16_t secret = secret_fields_of(line);
    const std::size_t colon = line.find(':');
    if (secret == 0 || colon == std::string_view::npos) {
        trace_text(TraceKind::rx, line);
        return;
    }
    char* out = storage_.trace;
    const std::size_t cap = storage_.trace_capacity;
    std::size_t n = 0;
    auto put = [&](std::string_view t) {
        for (char c : t) {
            if (n < cap) out[n++] = c;
        }
    };
    put(sub_view(line, 0, colon + 1));
    std::string_view body = sub_view(line, colon + 1);
    while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
    put(" ");
    for (unsigned field = 0; !body.empty(); ++field) {
        if (field > 0) put(",");
        const bool masked = field < 16 && ((secret >> field) & 1u);
        if (masked && (secret >> field) == 1u) {
            put("\"***\"");  // the last secret field: the rest of the line may be more of it
            break;
        }
        // A quoted field ends at the quote before a comma or the end; a bare one at a comma.
        std::size_t len = body.find(',');
        if (body.front() == '"') {
            len = body.find("\",", 1);
            len = len == std::string_view::npos ? std::string_view::npos : len + 1;
        }
        put(masked ? std::string_view("\"***\"") : sub_view(body, 0, len));
        if (len == std::string_view::npos) break;
        body.remove_prefix(len + 1);
    }
    trace_(TraceKind::rx, std::string_view(out, n));
}

}  // namespace qmtkit::at
