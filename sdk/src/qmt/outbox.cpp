#include "qmtkit/qmt/outbox.hpp"

#include <cstring>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/qmt/errors.hpp"
#include "qmtkit/qmt/replies.hpp"
#include "qmtkit/qmt/supervisor.hpp"

namespace qmtkit::qmt::detail {
namespace {

// Answers of a connected module that retrying may not heal (result 2, ERROR, a CME other than
// 3 / 159, timeouts) before a QoS >= 1 publish is reported failed. A lost link never counts.
constexpr std::uint8_t kMaxFailures = 8;
constexpr Millis kFailureBackoff = 200;  // first wait before re-sending after such an answer
constexpr Millis kBusyBackoff = 100;     // CME 159: first wait, doubling
constexpr Millis kMaxWait = 5000;

bool needs_fixed(ByteView p) {
    for (std::size_t i = 0; i < p.size; ++i) {
        const std::uint8_t b = p.data[i];
        if (b == 0x1A || b == 0x1B) return true;
        if (b < 0x20 && b != '\r' && b != '\n' && b != '\t') return true;  // not text
        if (b == 0x7F) return true;
    }
    return false;
}

PublishReport report_of(const OutboxRecord& r) {
    return PublishReport{r.msg_id, r.retransmissions, r.attempts};
}

bool in_flight_state(OutboxRecord::State s) {
    using S = OutboxRecord::State;
    return s == S::sending || s == S::awaiting || s == S::acked;
}

// Keeps the pool's records where they are while it is walked: a callback may publish.
struct Walk {
    explicit Walk(std::uint8_t& n) : n_(n) { ++n_; }
    ~Walk() { --n_; }
    std::uint8_t& n_;
};

}  // namespace

Result<std::uint32_t> Outbox::publish(std::string_view topic, ByteView payload, PublishOptions o) {
    if (auto r = validate_topic(topic); !r) return failure<std::uint32_t>(r);
    if (o.qos > 2) return failure<std::uint32_t>(Error::qos_out_of_range);
    // The note's fixed-length form takes 1..1024 bytes; an empty payload goes as Ctrl+Z alone.
    if (payload.size == 0 && o.form == PayloadForm::fixed_length)
        return failure<std::uint32_t>(Error::payload_empty);
    if (payload.size > kMaxPayload || !pool_.fits(topic.size(), payload.size))
        return failure<std::uint32_t>(Error::payload_too_long);
    const bool fixed_needed = needs_fixed(payload);
    if (o.form == PayloadForm::variable_length && fixed_needed)
        return failure<std::uint32_t>(Error::payload_needs_fixed_length);
    StoredMessage m;
    m.qos = o.qos;
    m.retain = o.retain;
    m.fixed =
        o.form == PayloadForm::fixed_length || (o.form == PayloadForm::automatic && fixed_needed);
    m.topic = topic;
    m.payload = payload;
    reclaim();
    std::uint32_t ticket = 0;
    if (store_ != nullptr && o.qos > 0) {
        // Journaled first; it enters RAM now only if nothing older still waits in the store.
        const auto id = store_->append(m);
        if (!id)
            return failure<std::uint32_t>(id.error() == StoreError::full ? Error::queue_full
                                                                         : Error::store_failed);
        ticket = *id;
        if (first_new_ == 0) first_new_ = ticket;
        Record* r = waiting_ == 0 && !store_unread_ ? enqueue(ticket, m) : nullptr;
        if (r != nullptr) {
            r->stored = true;
            last_loaded_ = ticket;
        } else {
            ++waiting_;
        }
    } else {
        ticket = ctx_.ticket();
        if (enqueue(ticket, m) == nullptr) return failure<std::uint32_t>(Error::queue_full);
    }
    pump();
    return ticket;
}

Outbox::Record* Outbox::enqueue(std::uint32_t ticket, const StoredMessage& m) {
    return fill(pool_.allocate(m.topic.size(), m.payload.size), ticket, m);
}

Outbox::Record* Outbox::fill(Record* r, std::uint32_t ticket, const StoredMessage& m) {
    if (r == nullptr) return nullptr;
    r->ticket = ticket;
    r->qos = m.qos & 3u;  // validated: 0..2
    r->retain = m.retain;
    r->fixed = m.fixed;
    r->msg_id = m.qos == 0 ? 0 : ctx_.new_msg_id();
    r->topic_len = static_cast<std::uint16_t>(m.topic.size());
    r->payload_len = static_cast<std::uint16_t>(m.payload.size);
    // The store's next() may have written the bytes in place already.
    if (!m.topic.empty() && m.topic.data() != r->topic())
        std::memcpy(r->topic(), m.topic.data(), m.topic.size());
    if (m.payload.size > 0 && m.payload.data != r->payload())
        std::memcpy(r->payload(), m.payload.data, m.payload.size);
    set_state(*r, Record::State::queued);
    return r;
}

void Outbox::reclaim() {
    if (walking_ == 0) pool_.reclaim(ctx_.engine);
}

void Outbox::set_store(OutboxStore* store) {
    store_ = store;
    last_loaded_ = 0;
    first_new_ = 0;
    waiting_ = 0;
    store_unread_ = store != nullptr;
}

// Records of the store not in RAM yet, oldest first, as long as there is room.
void Outbox::load_stored() {
    while (store_ != nullptr && (waiting_ > 0 || store_unread_)) {
        StoredMessage head;
        // Its sizes first (no room offered: nothing is copied), then the bytes in place.
        if (!store_->next(last_loaded_, head, nullptr, 0, nullptr, 0)) {
            store_unread_ = false;
            waiting_ = 0;
            return;
        }
        const std::uint32_t id = head.id;
        const bool ours = first_new_ != 0 && id >= first_new_;
        const std::size_t tl = head.topic_size, pl = head.payload_size;
        if (tl == 0 || tl > kMaxTopic || pl > kMaxPayload || !pool_.fits(tl, pl)) {
            // Never fits this client (written by another build): given up, not lost silently.
            last_loaded_ = id;
            if (ours && waiting_ > 0) --waiting_;
            store_->release(id);
            ctx_.listener.on_published(id, failure<PublishReport>(Error::payload_too_long));
            continue;
        }
        Record* r = pool_.allocate(tl, pl);
        if (r == nullptr) return;  // loaded when room frees
        r->topic_len = static_cast<std::uint16_t>(tl);
        StoredMessage m;
        if (!store_->next(last_loaded_, m, r->topic(), tl, r->payload(), pl) || m.id != id) {
            set_state(*r, Record::State::free);  // the store changed under us: read it again later
            return;
        }
        fill(r, id, m)->stored = true;
        last_loaded_ = id;
        if (ours && waiting_ > 0) --waiting_;
    }
}

bool Outbox::can_send() const {
    return ctx_.supervisor->session_up() && !ctx_.supervisor->checking_link();
}

void Outbox::pump() {
    reclaim();
    load_stored();
    if (!can_send()) return;
    Walk walk(walking_);
    std::size_t flying = in_flight();
    for (Record* r = pool_.first(); r != nullptr && flying < window_; r = pool_.next(r)) {
        const bool ready = r->state == Record::State::queued ||
                           (r->state == Record::State::retry_wait && r->retry_at <= ctx_.now);
        if (!ready) continue;
        if (!send(*r)) {
            if (r->state == Record::State::free) continue;  // its line can never be sent
            // The engine's queue or command pool is full: tried again when a command has ended
            // (feed() and poll() pump after the engine).
            return;
        }
        ++flying;
        if (flying > ctx_.stats.max_in_flight)
            ctx_.stats.max_in_flight = static_cast<std::uint32_t>(flying);
    }
}

bool Outbox::send(Record& r) {
    const std::string_view topic(r.topic(), r.topic_len);
    auto s = ctx_.engine.submit_with(at::cmd::pub, this, 0, at::Timeouts{0, ctx_.packet_wait()},
                                     [&](at::ArgWriter& w) {
                                         w.integer(0).integer(r.msg_id).integer(r.qos);
                                         w.integer(r.retain ? 1 : 0).quoted(topic);
                                         if (r.fixed) w.integer(r.payload_len);
                                     });
    if (!s) {
        // Longer than the engine's longest command line: no retry would ever send it.
        if (s.error().kind != at::ErrorKind::queue_full)
            finish(r, unexpected(to_client_error(s.error())));
        return false;
    }
    r.engine_seq = *s;
    set_state(r, Record::State::sending);
    if (r.attempts > 0) ++ctx_.stats.resent;
    if (r.attempts < 255) ++r.attempts;
    return true;
}

void Outbox::finish(Record& r, const Result<PublishReport>& result) {
    const std::uint32_t ticket = r.ticket;
    const bool stored = r.stored;
    set_state(r, Record::State::free);  // r may be reused from here on
    if (stored && store_ != nullptr) store_->release(ticket);
    ctx_.listener.on_published(ticket, result);
}

// At least once: a QoS >= 1 publish whose fate is unknown is sent again; QoS 0 is at most once.
// Nothing is counted against the message: the link went, or its answer did.
void Outbox::requeue(Record& r, const ClientError& e) {
    if (r.qos > 0) {
        set_state(r, Record::State::queued);
        return;
    }
    finish(r, unexpected(e));
}

// The module answered and the answer was no: a QoS >= 1 publish is tried again after a growing
// pause, up to kMaxFailures answers of that kind.
void Outbox::failed(Record& r, const ClientError& e) {
    if (r.qos == 0 || ++r.failures >= kMaxFailures) return finish(r, unexpected(e));
    Millis wait = kFailureBackoff;
    for (std::uint8_t i = 1; i < r.failures && wait < kMaxWait; ++i) wait *= 2;
    set_state(r, Record::State::retry_wait);
    r.retry_at = ctx_.now + wait;
}

// `r` goes again at once (its command ended before the module took it): the publishes queued in
// the engine behind it, not written yet, are taken back so that they follow it, in the order
// they were queued. Their attempts did not happen.
void Outbox::take_back_after(Record& r) {
    Walk walk(walking_);
    for (Record* o = pool_.next(&r); o != nullptr; o = pool_.next(o)) {
        if (o->state != Record::State::sending || ctx_.engine.on_wire(o->engine_seq)) continue;
        ctx_.engine.abandon(o->engine_seq);
        set_state(*o, Record::State::queued);
        if (o->attempts > 0) --o->attempts;
        if (o->attempts > 0) --ctx_.stats.resent;
    }
}

void Outbox::link_lost() {
    Walk walk(walking_);
    for (Record* r = pool_.first(); r != nullptr; r = pool_.next(r)) {
        r->failures = 0;  // what failed on a dying link says nothing about the message
        if (r->state == Record::State::acked) {
            ctx_.engine.abandon(r->engine_seq);
            finish(*r, report_of(*r));
        } else if (r->state == Record::State::sending || r->state == Record::State::awaiting) {
            ctx_.engine.abandon(r->engine_seq);
            requeue(*r, client_error(Error::aborted));
        }
    }
}

std::size_t Outbox::count() const {
    std::size_t n = waiting_;
    for (const Record* r = pool_.first(); r != nullptr; r = pool_.next(r))
        n += r->state != Record::State::free ? 1u : 0u;
    return n;
}

std::size_t Outbox::in_flight() const {
    return flying_;
}

// Every change of a record's state goes through here: in_flight() is a counter, and
// next_deadline() walks the pool only while a retry pause may be running (the host asks for
// both every loop).
void Outbox::set_state(Record& r, Record::State s) {
    flying_ = static_cast<std::uint8_t>(flying_ - in_flight_state(r.state) + in_flight_state(s));
    if (s == Record::State::retry_wait) may_pause_ = true;
    r.state = s;
}

bool Outbox::uses_msg_id(std::uint16_t id) const {
    for (const Record* r = pool_.first(); r != nullptr; r = pool_.next(r)) {
        if (r->state != Record::State::free && r->qos > 0 && r->msg_id == id) return true;
    }
    return false;
}

Instant Outbox::next_deadline(Instant t) const {
    if (!may_pause_) return t;
    Instant overdue = kNever;  // the earliest pause already over
    bool pausing = false;
    for (const Record* r = pool_.first(); r != nullptr; r = pool_.next(r)) {
        if (r->state != Record::State::retry_wait) continue;
        pausing = true;
        if (r->retry_at > ctx_.now) {
            if (r->retry_at < t) t = r->retry_at;
        } else if (r->retry_at < overdue) {
            overdue = r->retry_at;
        }
    }
    may_pause_ = pausing;  // none left: no walk until a record pauses again
    // A pause already over is due only if nothing else holds it: when the window is full, a
    // link check runs, the link is down or the engine has commands queued, that thing has its
    // own deadline or event, and repeating a past time would spin the host. Otherwise it is
    // due: the host may not have called poll() since its time came (only fed bytes).
    if (overdue < t && can_send() && in_flight() < window_ && ctx_.engine.queued() == 0)
        t = overdue;
    return t;
}

Outbox::Record* Outbox::find(std::uint32_t seq) {
    for (Record* r = pool_.first(); r != nullptr; r = pool_.next(r)) {
        if (r->state != Record::State::free && r->engine_seq == seq) return r;
    }
    return nullptr;
}

// ---------------------------------------------------------------- the engine's reports

at::Payload Outbox::on_prompt(const at::CommandRef& ref) {
    const Record* r = find(ref.seq);
    // Only the record's own command gets its payload: anything else is cancelled (ESC).
    if (r == nullptr) return {};
    const at::Payload mine{ByteView(r->payload(), r->payload_len),
                           r->fixed ? at::Payload::End::fixed : at::Payload::End::ctrl_z};
    if (r->state == Record::State::sending) return mine;
    // Acknowledged already (an earlier attempt's late result): cancel the re-send. A fixed-length
    // data mode cannot be left with ESC, so it gets the same bytes once more.
    if (r->state == Record::State::acked && r->fixed) return mine;
    return {};
}

void Outbox::on_final(const at::CommandRef& ref, const at::Outcome& o) {
    Record* r = find(ref.seq);
    if (r == nullptr) return;
    if (r->state == Record::State::acked) {
        // The re-send is off the wire (cancelled, refused or sent again): the earlier
        // attempt's acknowledgement stands.
        finish(*r, report_of(*r));
        return pump();
    }
    if (r->state != Record::State::sending) return;
    if (o) {
        set_state(*r, Record::State::awaiting);
        return;
    }
    const ClientError e = to_client_error(o.error());
    if (e.code == Error::cme && e.cme == at::Cme::uplink_busy) {
        // Flow control: not a failure. Wait and send again; the attempt does not count.
        ++ctx_.stats.backpressure;
        if (r->attempts > 0) --r->attempts;
        Millis wait = kBusyBackoff;
        for (std::uint8_t i = 0; i < r->busy_retries && wait < kMaxWait; ++i) wait *= 2;
        set_state(*r, Record::State::retry_wait);
        r->retry_at = ctx_.now + (wait > kMaxWait ? kMaxWait : wait);
        if (r->busy_retries < 255) ++r->busy_retries;
        return;
    }
    if (e.code == Error::cme && e.cme == at::Cme::operation_not_allowed) {
        // "Operation not allowed": the module has no MQTT connection. Nothing was sent, so
        // even QoS 0 goes again, once the link is back.
        if (r->attempts > 0) --r->attempts;
        set_state(*r, Record::State::queued);
        take_back_after(*r);
        return ctx_.supervisor->check_link();
    }
    if (e.code == Error::aborted) return requeue(*r, e);
    if (e.code == Error::timeout) {
        const bool again = r->qos > 0;  // QoS 0 is reported aborted (at most once)
        requeue(*r, e);
        if (again) take_back_after(*r);
        return ctx_.supervisor->check_link();
    }
    failed(*r, e);
}

at::ResultVerdict Outbox::on_result(const at::CommandRef& ref, std::string_view line) {
    const PacketReply d = decode_packet(line, at::cmd::pub.result);
    if (!d.ok) return at::ResultVerdict::not_mine;
    Record* r = find(ref.seq);
    if (r == nullptr ||
        (r->state != Record::State::sending && r->state != Record::State::awaiting)) {
        return at::ResultVerdict::done;  // no longer this record's command
    }
    if (ref.before_payload) {
        // The re-send's payload is not out yet, so this answers an earlier attempt of the same
        // msgID. Its ACK completes the message, but the record stays with the command on the
        // wire until that has ended (see on_prompt / on_final).
        ++ctx_.stats.late_results;
        if (d.result != PacketResult::acked) return at::ResultVerdict::intermediate;
        ++ctx_.stats.published;
        set_state(*r, Record::State::acked);
        return at::ResultVerdict::done;
    }
    if (d.result == PacketResult::retransmission) {
        if (d.value > r->retransmissions)
            r->retransmissions = static_cast<std::uint8_t>(d.value > 255 ? 255 : d.value);
        return at::ResultVerdict::intermediate;
    }
    if (d.result == PacketResult::acked) {
        ++ctx_.stats.published;
        finish(*r, report_of(*r));
    } else {
        // The module gave up sending: the message may be fine and the link not.
        failed(*r, outcome_of(d).error());
        ctx_.supervisor->check_link();
    }
    pump();
    return at::ResultVerdict::done;
}

void Outbox::on_result_error(const at::CommandRef& ref, const at::AtError& e) {
    Record* r = find(ref.seq);
    if (r == nullptr || r->state != Record::State::awaiting) return;
    const ClientError ce = to_client_error(e);
    if (e.kind == at::ErrorKind::aborted) return requeue(*r, ce);
    // No result in the module's whole retry budget: count it, and ask whether the link is
    // still there (a silent drop shows up exactly like this).
    if (r->qos > 0 && r->failures + 1 < kMaxFailures) {
        ++r->failures;
        requeue(*r, ce);
    } else {
        finish(*r, unexpected(ce));
    }
    ctx_.supervisor->check_link();
}

}  // namespace qmtkit::qmt::detail
