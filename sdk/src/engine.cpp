#include "qmtkit/at/engine.hpp"

#include <cstring>

#include "qmtkit/common/arith.hpp"
#include "qmtkit/common/text.hpp"

namespace qmtkit::at {
namespace {

constexpr Instant kNever = ~Instant{0};
constexpr Millis kRetryWrite = 10;  // a stalled Writer is offered bytes again after this
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

bool is_integer(std::string_view s) {
    if (!s.empty() && s.front() == '-') s.remove_prefix(1);
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

AtError error_of(ErrorKind k) {
    return AtError{k, Cme::none, ArgError::none};
}

}  // namespace

std::string_view to_string(ErrorKind k) {
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
    : writer_(writer), storage_(storage) {}

// ---------------------------------------------------------------- submitting

detail::QueueSlot* EngineCore::reserve() {
    if (q_count_ >= storage_.queue_depth) return nullptr;
    const std::size_t idx = (q_head_ + q_count_) % storage_.queue_depth;
    detail::QueueSlot* s = &storage_.queue[idx];
    s->text = storage_.command_buf + idx * storage_.command_capacity;
    return s;
}

bool EngineCore::begin(detail::QueueSlot&, const CommandSpec& spec, ArgWriter& w) {
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

Expected<std::uint32_t, AtError> EngineCore::commit(detail::QueueSlot& slot,
                                                    const CommandSpec& spec,
                                                    CommandHandler* handler, std::uint32_t tag,
                                                    Timeouts timeouts, const ArgWriter& w) {
    if (!w.ok()) return unexpected(AtError{ErrorKind::bad_argument, Cme::none, w.error()});
    slot.spec = &spec;
    slot.handler = handler;
    slot.tag = tag;
    slot.seq = next_seq_++;
    slot.timeouts = timeouts;
    slot.len = static_cast<std::uint16_t>(w.size() + 1);
    slot.text[w.size()] = '\r';
    slot.nargs = static_cast<std::uint16_t>(w.arg_count());
    for (std::size_t i = 0; i < w.arg_count(); ++i) {
        slot.arg_start[i] = w.arg_start(i);
        slot.arg_end[i] = w.arg_end(i);
    }
    slot.key_begin = 0;
    slot.key_len = 0;
    if (spec.result_keys > 0 && w.arg_count() >= spec.result_keys) {
        slot.key_begin = w.arg_start(0);
        slot.key_len =
            static_cast<std::uint16_t>(w.arg_end(spec.result_keys - 1u) - w.arg_start(0));
    }
    ++q_count_;
    if (busy_ == 0) pump(now_);
    return slot.seq;
}

bool EngineCore::on_urc(std::string_view prefix, UrcHandler handler, bool bare) {
    if (urc_count_ >= storage_.urc_capacity) return false;
    storage_.urcs[urc_count_++] =
        detail::UrcSlot{prefix, handler, ClaimHandler{}, ClaimOverflowHandler{}, bare};
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
        // Close the gap: shift the later entries' metadata and text one place forward.
        for (std::size_t j = k; j + 1 < q_count_; ++j) {
            const std::size_t a = (q_head_ + j) % storage_.queue_depth;
            const std::size_t b = (q_head_ + j + 1) % storage_.queue_depth;
            char* text_a = storage_.command_buf + a * storage_.command_capacity;
            std::memcpy(text_a, storage_.queue[b].text, storage_.queue[b].len);
            storage_.queue[a] = storage_.queue[b];
            storage_.queue[a].text = text_a;
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
    if (urc_count_ >= storage_.urc_capacity) return false;
    storage_.urcs[urc_count_++] = detail::UrcSlot{prefix, UrcHandler{}, handler, overflow, false};
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
        r->deadline = kNever;
        const std::size_t klen = s.key_len < sizeof(r->key) ? s.key_len : sizeof(r->key);
        std::memcpy(r->key, s.text + s.key_begin, klen);
        r->key_len = static_cast<std::uint8_t>(klen);
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
    for (;;) {
        if (phase_ == Phase::idle) {
            if (!start_next(now)) return;
        }
        if (phase_ == Phase::sending) {
            detail::QueueSlot& s = storage_.queue[q_head_];
            while (tx_off_ < s.len) {
                const std::size_t n = writer_.write(
                    reinterpret_cast<const std::uint8_t*>(s.text) + tx_off_, s.len - tx_off_);
                if (n == 0) return;
                tx_off_ += n;
            }
            phase_ = Phase::awaiting_final;
            return;
        }
        if (phase_ == Phase::writing_payload) {
            while (payload_off_ < payload_.bytes.size) {
                const std::size_t n = writer_.write(payload_.bytes.data + payload_off_,
                                                    payload_.bytes.size - payload_off_);
                if (n == 0) return;
                payload_off_ += n;
            }
            if (payload_end_pending_) {
                const std::uint8_t end = payload_.end == Payload::End::cancel ? kEsc : kCtrlZ;
                if (writer_.write(&end, 1) == 0) return;
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
                if (n == 0) return;
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
    if (trace_) {
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
    q_head_ = (q_head_ + 1) % storage_.queue_depth;
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
            r->deadline = now + r->timeout;
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
    ++busy_;
    for (std::size_t i = 0; i < size; ++i) on_byte(data[i], now);
    --busy_;
    pump(now);
}

void EngineCore::on_byte(std::uint8_t b, Instant now) {
    last_rx_ = now;
    if (rx_ == Rx::skip_prompt_space) {
        // Before the payload echo: the module sends "> " and then repeats the payload.
        rx_ = Rx::line;
        if (b == ' ') return;
    }
    if (echo_off_ < echo_payload_.size) {
        if (b == echo_payload_.data[echo_off_]) {
            ++echo_off_;
            return;
        }
        echo_payload_ = ByteView{};  // not an echo after all: parse normally
    }
    char* line = storage_.line;
    switch (rx_) {
        case Rx::discard:
            if (b == '\n' || b == '\r') {
                rx_ = Rx::line;
                ++counters_.resyncs;
            }
            return;
        case Rx::claim_overflow:
            if (b == '\n' || b == '\r') {
                end_claim_overflow();
                return;
            }
            ++overflow_total_;
            return;
        case Rx::claim:
            if (line_len_ >= storage_.line_capacity) {
                // Too long to hold: keep its head (the owner reports what it was), count the rest.
                ++counters_.overflows;
                trace_text(TraceKind::overflow, storage_.urcs[claim_urc_].prefix);
                claim_after_lf_ = false;
                overflow_total_ = line_len_;
                rx_ = Rx::claim_overflow;
                if (b == '\n' || b == '\r') {
                    end_claim_overflow();
                } else {
                    ++overflow_total_;
                }
                return;
            }
            line[line_len_++] = static_cast<char>(b);
            if (claim_after_lf_) {
                claim_after_lf_ = false;
                offer_claim(ClaimPhase::next_byte, now);
                // A claim that still wants more and just got another LF.
                if (rx_ == Rx::claim && b == '\n') {
                    claim_after_lf_ = true;
                    offer_claim(ClaimPhase::line_end, now);
                }
            } else if (b == '\n') {
                claim_after_lf_ = true;
                offer_claim(ClaimPhase::line_end, now);
            }
            return;
        case Rx::skip_prompt_space:  // consumed above, before the payload echo
        case Rx::line:
            break;
    }
    if (b == '\r' || b == '\n') {
        if (line_len_ > 0) {
            const std::string_view l(line, line_len_);
            line_len_ = 0;
            on_line(l, now);
        }
        return;
    }
    if (line_len_ == 0 && b == '>' && phase_ == Phase::awaiting_final && !prompt_done_ &&
        storage_.queue[q_head_].spec->prompt) {
        rx_ = Rx::skip_prompt_space;
        on_prompt(now);
        return;
    }
    if (line_len_ == 0 && b == '>' && phase_ == Phase::settling) {
        // A prompt after we gave up on it: the module is in data mode now. Its OK to our ESC may
        // still follow; if not, the next probe is an ESC, never a command line.
        rx_ = Rx::skip_prompt_space;
        settle_saw_prompt_ = true;
        deadline_ = now + storage_.settle_ms;
        trace_text(TraceKind::prompt, "> (while settling)");
        return;
    }
    if (line_len_ >= storage_.line_capacity) {
        ++counters_.overflows;
        trace_text(TraceKind::overflow, std::string_view(line, 16));
        line_len_ = 0;
        rx_ = Rx::discard;
        return;
    }
    line[line_len_++] = static_cast<char>(b);
    if (line[0] == '+') check_claim_start();
}

void EngineCore::check_claim_start() {
    const std::string_view l(storage_.line, line_len_);
    for (std::size_t i = 0; i < urc_count_; ++i) {
        const detail::UrcSlot& u = storage_.urcs[i];
        if (u.claim && u.prefix.size() == line_len_ && l == u.prefix) {
            rx_ = Rx::claim;
            claim_urc_ = i;
            claim_after_lf_ = false;
            return;
        }
    }
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
    const Claim c = u.claim(buffered, phase);
    if (!c.complete) {
        if (phase != ClaimPhase::idle) return;
        // The handler could not make sense of it even at idle: drop it, count it.
        ++counters_.unclaimed;
        trace_text(TraceKind::unclaimed, u.prefix);
        line_len_ = 0;
        rx_ = Rx::line;
        claim_after_lf_ = false;
        return;
    }
    ++counters_.claims;
    ++counters_.urcs;
    trace_text(TraceKind::claimed, u.prefix);
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
    for (std::size_t i = 0; i < nrest; ++i) on_byte(rest[i], now);
}

void EngineCore::on_line(std::string_view line, Instant now) {
    // 1. The module's echo of the running command (ATE1).
    if (running()) {
        const detail::QueueSlot& s = storage_.queue[q_head_];
        const std::string_view sent(s.text, s.len - 1u);
        if (line.size() == sent.size() && starts_with_nocase(line, sent)) {
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
    // 4. Information lines of the running command, by its declared prefix.
    const CommandSpec* running = this->running() ? storage_.queue[q_head_].spec : nullptr;
    if (running != nullptr && !running->info.empty() && running->info != kAnyLine &&
        line_has_prefix(line, running->info)) {
        const detail::QueueSlot& s = storage_.queue[q_head_];
        if (s.handler != nullptr) s.handler->on_info(CommandRef{s.spec, s.tag, s.seq}, line);
        return;
    }
    // 5. URCs by prefix.
    for (std::size_t i = 0; i < urc_count_; ++i) {
        const detail::UrcSlot& u = storage_.urcs[i];
        if (u.line && (u.bare ? starts_with(line, u.prefix) : line_has_prefix(line, u.prefix))) {
            ++counters_.urcs;
            trace_text(TraceKind::urc, u.prefix);
            u.line(line);
            return;
        }
    }
    // 6. Commands whose every line is information (ATI, AT+CIMI, AT+NRB).
    if (running != nullptr && running->info == kAnyLine) {
        const detail::QueueSlot& s = storage_.queue[q_head_];
        if (s.handler != nullptr) s.handler->on_info(CommandRef{s.spec, s.tag, s.seq}, line);
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
            if (best->armed) best->deadline = now + best->timeout;  // each report restarts the wait
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
    --settle_left_;
    ++counters_.settle_probes;
    if (settle_saw_prompt_) {
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
        if (r.active && r.armed && now >= r.deadline) {
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
        if (r.active && r.armed && r.deadline < t) t = r.deadline;
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
    // Called from a URC handler inside feed() (a reboot banner), the rest of that chunk arrived
    // before anything we write now: feed() starts the next command once it has all been read.
    if (busy_ == 0) pump(now_);
}

// ---------------------------------------------------------------- trace

void EngineCore::trace_text(TraceKind kind, std::string_view text) {
    if (!trace_) return;
    if (text.size() > storage_.trace_capacity) text = sub_view(text, 0, storage_.trace_capacity);
    trace_(kind, text);
}

void EngineCore::trace_command(TraceKind kind, const detail::QueueSlot& s) {
    if (!trace_) return;
    char* out = storage_.trace;
    const std::size_t cap = storage_.trace_capacity;
    std::size_t n = 0;
    std::size_t i = 0;
    const std::size_t end = s.len - 1u;  // without the CR
    std::size_t arg = 0;
    while (i < end && n < cap) {
        if (arg < s.nargs && i == s.arg_start[arg]) {
            if ((s.spec->secret_args >> arg) & 1u) {
                // Mask the whole argument; nothing of a secret, not even its length, is shown.
                constexpr std::string_view kMask = "\"***\"";
                for (char c : kMask) {
                    if (n < cap) out[n++] = c;
                }
                i = s.arg_end[arg];
                ++arg;
                continue;
            }
            ++arg;
        }
        out[n++] = s.text[i++];
    }
    trace_(kind, std::string_view(out, n));
}

void EngineCore::trace_rx(std::string_view line) {
    if (!trace_) return;
    // An echo we could not match to the running command may hold credentials: never show it.
    if (starts_with_nocase(line, "AT")) {
        trace_(TraceKind::rx, "AT... (unmatched echo, hidden)");
        return;
    }
    // +QMTTENAUTH lines carry the password the module fetched: keep only the integer fields.
    if (line_has_prefix(line, "+QMTTENAUTH") || line_has_prefix(line, "+QMTENAUTH")) {
        char* out = storage_.trace;
        const std::size_t cap = storage_.trace_capacity;
        const std::size_t colon = line.find(':');
        std::size_t n = 0;
        for (std::size_t k = 0; k <= colon && n < cap; ++k) out[n++] = line[k];
        std::string_view body = sub_view(line, colon + 1);
        while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
        if (n < cap) out[n++] = ' ';
        bool first = true;
        while (!body.empty() || first) {
            const std::size_t comma = body.find(',');
            const std::string_view field = sub_view(body, 0, comma);
            if (!first && n < cap) out[n++] = ',';
            const std::string_view shown = is_integer(field) ? field : std::string_view("\"***\"");
            for (char c : shown) {
                if (n < cap) out[n++] = c;
            }
            first = false;
            if (comma == std::string_view::npos) break;
            body.remove_prefix(comma + 1);
        }
        trace_(TraceKind::rx, std::string_view(out, n));
        return;
    }
    trace_text(TraceKind::rx, line);
}

}  // namespace qmtkit::at
