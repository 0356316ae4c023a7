#include "qmtkit/qmt/client.hpp"

#include <cstring>

#include "qmtkit/common/arith.hpp"

namespace qmtkit::qmt {
namespace {

constexpr Instant kNever = ~Instant{0};
// Answers of a connected module that retrying may not heal (result 2, ERROR, a CME other than
// 3 / 159, timeouts) before a QoS >= 1 publish is reported failed. A lost link never counts.
constexpr std::uint8_t kMaxFailures = 8;
constexpr Millis kFailureBackoff = 200;    // first wait before re-sending after such an answer
constexpr std::uint8_t kSyncTries = 5;     // AT probes before backing off
constexpr std::uint8_t kAttachTries = 60;  // AT+CGATT? polls, one a second
constexpr Millis kStepPause = 1000;        // between AT / AT+CGATT? probes
constexpr Millis kResultMargin = 2000;     // on top of the module's own retry budget

// Tag layout: kind (4 bits) | op or step (8 bits) | id (20 bits).
enum Kind : std::uint32_t { kPub = 1, kSub = 2, kUns = 3, kStep = 4, kOp = 5 };
constexpr std::uint32_t make_tag(Kind k, std::uint32_t op, std::uint32_t id) {
    return (static_cast<std::uint32_t>(k) << 28) | ((op & 0xFFu) << 20) | (id & 0xFFFFFu);
}
constexpr Kind tag_kind(std::uint32_t tag) {
    return static_cast<Kind>(tag >> 28);
}
constexpr std::uint32_t tag_op(std::uint32_t tag) {
    return (tag >> 20) & 0xFFu;
}
constexpr std::uint32_t tag_id(std::uint32_t tag) {
    return tag & 0xFFFFFu;
}

// Bring-up steps, in order.
enum Step : std::uint8_t {
    s_sync,
    s_echo,
    s_cmee,
    s_version,
    s_keepalive,
    s_session,
    s_timeout,
    s_will,
    s_aliauth,
    s_attach,
    s_tenauth_probe,
    s_tenauth,
    s_open,
    s_close_first,
    s_connect,
    s_subscribe,
    s_online,
    s_disc,
    s_close,
    s_stopped,
    // Online: AT+QMTCONN? after a timeout or a CME 3. It tells a lost answer from a dead module
    // and a live link from one that died without a +QMTSTAT.
    s_check,
};

enum Str : std::size_t {
    str_host,
    str_client_id,
    str_username,
    str_password,
    str_will_topic,
    str_will_message,
    str_ali_pk,
    str_ali_dn,
    str_ali_ds,
    str_ten_pid,
    str_ten_dn,
    str_ten_ds,
    str_ten_url,
    str_ten_cid,
};

ClientError err(Error e, std::int32_t value = 0) {
    return ClientError{e, at::Cme::none, value};
}

ClientError from_at(const at::AtError& e) {
    switch (e.kind) {
        case at::ErrorKind::error:
            return err(Error::module_error);
        case at::ErrorKind::cme:
            return ClientError{Error::cme, e.cme, static_cast<std::int32_t>(e.cme)};
        case at::ErrorKind::timeout:
            return err(Error::timeout);
        case at::ErrorKind::result_timeout:
            return err(Error::result_timeout);
        case at::ErrorKind::aborted:
            return err(Error::aborted);
        case at::ErrorKind::queue_full:
            return err(Error::queue_full);
        case at::ErrorKind::bad_argument:
            return err(e.arg == at::ArgError::forbidden_char ? Error::forbidden_char
                                                             : Error::field_too_long);
    }
    return err(Error::module_error);
}

template <class T>
Result<T> fail(Error e) {
    return unexpected(err(e));
}

bool has_wildcard(std::string_view t) {
    return t.find('+') != std::string_view::npos || t.find('#') != std::string_view::npos;
}

// Topic filter rules (MQTT 3.1.1, 4.7.1): '#' alone in the last level, '+' alone in its level.
bool valid_filter(std::string_view f) {
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '#' && (i + 1 != f.size() || (i > 0 && f[i - 1] != '/'))) return false;
        if (f[i] == '+' && ((i > 0 && f[i - 1] != '/') || (i + 1 < f.size() && f[i + 1] != '/')))
            return false;
    }
    return true;
}

Error check_topic(std::string_view t, bool filter) {
    if (t.empty()) return Error::topic_empty;
    if (t.size() > kMaxTopic) return Error::topic_too_long;
    if (!at::is_at_safe(t)) return Error::forbidden_char;
    if (filter ? !valid_filter(t) : has_wildcard(t))
        return filter ? Error::bad_topic_filter : Error::topic_has_wildcard;
    return Error::malformed_reply;  // sentinel: no error
}
constexpr Error kOk = Error::malformed_reply;

bool needs_fixed(ByteView p) {
    for (std::size_t i = 0; i < p.size; ++i) {
        const std::uint8_t b = p.data[i];
        if (b == 0x1A || b == 0x1B) return true;
        if (b < 0x20 && b != '\r' && b != '\n' && b != '\t') return true;  // not text
        if (b == 0x7F) return true;
    }
    return false;
}

// Reads "+NAME: a,b[,c]" into up to three integers; returns how many were read.
int read_ints(std::string_view line, std::string_view name, std::int32_t* out, int max) {
    at::FieldReader r(line);
    r.prefix(name);
    int n = 0;
    while (n < max && r.has_more()) {
        std::int32_t v = 0;
        r.integer(v);
        if (!r.ok()) break;
        out[n++] = v;
    }
    return r.ok() || n > 0 ? n : 0;
}

}  // namespace

// Everything that needs the private parts but no public declaration.
struct ClientCore::Impl {
    static std::string_view str(ClientCore& c, Str i) {
        return std::string_view(c.st_.strings + i * c.st_.string_capacity,
                                std::strlen(c.st_.strings + i * c.st_.string_capacity));
    }
    static bool store(ClientCore& c, Str i, std::string_view v) {
        if (v.size() + 1 > c.st_.string_capacity) return false;
        char* dst = c.st_.strings + i * c.st_.string_capacity;
        if (!v.empty()) std::memcpy(dst, v.data(), v.size());  // an empty view may be null
        dst[v.size()] = '\0';
        return true;
    }

    static void set_state(ClientCore& c, LinkState s) {
        if (c.state_ == s) return;
        c.state_ = s;
        c.listener_.on_link(s);
    }

    static Millis pkt_result_timeout(const ClientCore& c) {
        return static_cast<Millis>(c.applied_.pkt_timeout_s) * 1000u *
                   (c.applied_.retry_times + 1u) +
               kResultMargin;
    }
    static Millis conn_result_timeout(const ClientCore& c) { return pkt_result_timeout(c); }

    // ------------------------------------------------------------ supervisor
    static void go(ClientCore& c, std::uint8_t step) {
        c.step_ = step;
        c.step_tries_ = 0;
        issue(c);
    }

    static void wait_then(ClientCore& c, std::uint8_t step, Millis delay) {
        c.resume_step_ = step;
        c.wake_at_ = c.now_ + delay;
    }

    static void back_off(ClientCore& c, std::uint8_t resume) {
        // Exponential, capped, with jitter from a seeded xorshift so runs are reproducible.
        std::uint64_t d = c.backoff_.initial;
        for (std::uint8_t i = 0; i < c.attempt_ && d < c.backoff_.max; ++i) d *= 2u;
        if (d > c.backoff_.max) d = c.backoff_.max;
        c.rng_ ^= c.rng_ << 13;
        c.rng_ ^= c.rng_ >> 17;
        c.rng_ ^= c.rng_ << 5;
        // No 64-bit division (a runtime helper on a 32-bit MCU): div_small(), and a 32-bit
        // modulus whenever the range fits 32 bits (a wider range leaves rng_ as it is anyway).
        const std::uint64_t spread = div_small(d * c.backoff_.jitter_percent, 100).quot;
        if (spread > 0) {
            const std::uint64_t range = 2u * spread + 1u;
            const std::uint32_t jitter =
                range > 0xFFFFFFFFu ? c.rng_ : c.rng_ % static_cast<std::uint32_t>(range);
            d = d - spread + jitter;
        }
        if (c.attempt_ < 30) ++c.attempt_;
        set_state(c, LinkState::backing_off);
        c.step_seq_ = 0;
        wait_then(c, resume, static_cast<Millis>(d));
    }

    static bool submit_step(ClientCore& c, const Expected<std::uint32_t, at::AtError>& r) {
        if (!r) {
            // The engine's queue is full (the application filled it): try again shortly.
            wait_then(c, c.step_, 50);
            return false;
        }
        c.step_seq_ = *r;
        return true;
    }

    template <class... A>
    static void step_cmd(ClientCore& c, const at::CommandSpec& spec, at::Timeouts t,
                         const A&... args) {
        c.info_int_ = -1;
        submit_step(c, c.engine_.submit_with(spec, &c.handler_, make_tag(kStep, c.step_, 0), t,
                                             [&](at::ArgWriter& w) { (put(w, args), ...); }));
    }
    static void put(at::ArgWriter& w, std::string_view s) { w.quoted(s); }
    static void put(at::ArgWriter& w, int v) { w.integer(v); }

    static void issue(ClientCore& c) {
        const Session& s = c.session_;
        c.wake_at_ = kNever;
        switch (c.step_) {
            case s_sync:
                set_state(c, LinkState::syncing);
                return step_cmd(c, at::cmd::at, {});
            case s_echo:
                set_state(c, LinkState::configuring);
                return step_cmd(c, at::cmd::echo_off, {});
            case s_cmee:
                return step_cmd(c, at::cmd::cmee, {}, 1);
            case s_version:
                return step_cmd(c, at::cmd::cfg_version, {}, 0, int{s.settings.version});
            case s_keepalive:
                return step_cmd(c, at::cmd::cfg_keepalive, {}, 0, int{s.settings.keepalive_s});
            case s_session:
                return step_cmd(c, at::cmd::cfg_session, {}, 0, s.settings.clean_session ? 1 : 0);
            case s_timeout:
                return step_cmd(c, at::cmd::cfg_timeout, {}, 0, int{s.settings.pkt_timeout_s},
                                int{s.settings.retry_times}, s.settings.timeout_notice ? 1 : 0);
            case s_will:
                if (s.has_will) {
                    return step_cmd(c, at::cmd::cfg_will, {}, 0, 1, int{s.will.qos},
                                    s.will.retain ? 1 : 0, s.will.topic, s.will.message);
                }
                return step_cmd(c, at::cmd::cfg_will, {}, 0, 0);
            case s_aliauth:
                if (!s.use_aliauth) return go(c, s_attach);
                return step_cmd(c, at::cmd::cfg_aliauth, {}, 0, s.aliauth.product_key,
                                s.aliauth.device_name, s.aliauth.device_secret);
            case s_attach:
                set_state(c, LinkState::attaching);
                return step_cmd(c, at::cmd::attach_query, {});
            case s_tenauth_probe:
                if (!s.use_tenauth) return go(c, s_open);
                set_state(c, LinkState::authorizing);
                if (c.tenauth_probed_) return go(c, s_tenauth);
                return step_cmd(c, at::cmd::tenauth_test, {});
            case s_tenauth: {
                const at::CommandSpec& spec =
                    c.tenauth_alt_spelling_ ? at::cmd::enauth : at::cmd::tenauth;
                if (s.tenauth.url.empty()) {
                    return step_cmd(c, spec, {}, s.tenauth.product_id, s.tenauth.device_name,
                                    str(c, str_ten_cid), s.tenauth.device_secret,
                                    int{s.tenauth.expire_days});
                }
                return step_cmd(c, spec, {}, s.tenauth.product_id, s.tenauth.device_name,
                                str(c, str_ten_cid), s.tenauth.device_secret,
                                int{s.tenauth.expire_days}, s.tenauth.url);
            }
            case s_open:
                set_state(c, LinkState::opening);
                return step_cmd(c, at::cmd::open, {}, 0, s.host, int{s.port});
            case s_close_first:
                return step_cmd(c, at::cmd::close, {}, 0);
            case s_connect: {
                set_state(c, LinkState::connecting);
                const at::Timeouts t{0, conn_result_timeout(c)};
                const std::string_view pw = str(c, str_password);
                // After aliauth, or a token with no username configured, the module supplies the
                // credentials itself: CONNECT names the client only.
                if (s.username.empty()) return step_cmd(c, at::cmd::conn, t, 0, s.client_id);
                if (!pw.empty())
                    return step_cmd(c, at::cmd::conn, t, 0, s.client_id, s.username, pw);
                return step_cmd(c, at::cmd::conn, t, 0, s.client_id, s.username);
            }
            case s_subscribe:
                set_state(c, LinkState::subscribing);
                for (std::size_t i = 0; i < c.st_.sub_count; ++i) {
                    detail::SubSlot& sub = c.st_.subs[i];
                    if (sub.state != detail::SubSlot::State::free)
                        sub.state = detail::SubSlot::State::pending;
                }
                pump_subs(c);
                return maybe_online(c);
            case s_online:
                set_state(c, LinkState::online);
                c.attempt_ = 0;
                ++c.stats_.sessions;
                pump_pubs(c);
                return;
            case s_disc:
                set_state(c, LinkState::disconnecting);
                return step_cmd(c, at::cmd::disc, {}, 0);
            case s_close:
                return step_cmd(c, at::cmd::close, {}, 0);
            case s_stopped:
                c.stopping_ = false;
                set_state(c, LinkState::stopped);
                return;
            case s_check:
                ++c.stats_.link_checks;
                return step_cmd(c, at::cmd::conn_query, {});
            default:
                return;
        }
    }

    // Something suggests the link is gone (CME 3: not connected; a timeout): ask the module.
    // Publishing pauses until it has answered.
    static void check_link(ClientCore& c) {
        if (c.state_ != LinkState::online || c.step_seq_ != 0) return;
        c.step_ = s_check;
        issue(c);
    }
    static bool checking_link(const ClientCore& c) {
        return c.step_ == s_check && c.step_seq_ != 0;
    }

    static void maybe_online(ClientCore& c) {
        if (c.step_ != s_subscribe) return;
        for (std::size_t i = 0; i < c.st_.sub_count; ++i) {
            const auto st = c.st_.subs[i].state;
            if (st == detail::SubSlot::State::pending || st == detail::SubSlot::State::sending)
                return;
        }
        go(c, s_online);
    }

    // A bring-up command finished: OK (and, for two-phase ones, its result) or an error.
    static void step_ok(ClientCore& c, std::uint8_t step) {
        if (step == s_timeout) c.applied_ = c.session_.settings;  // result waits follow it now
        // Sync and configuration run in the order the Step enum declares them.
        if (step < s_attach) return go(c, static_cast<std::uint8_t>(step + 1));
        switch (step) {
            case s_attach:
                if (c.info_int_ == 1) return go(c, s_tenauth_probe);
                if (++c.step_tries_ >= kAttachTries) return back_off(c, s_sync);
                return wait_then(c, s_attach, kStepPause);
            case s_tenauth_probe:
                c.tenauth_probed_ = true;
                return go(c, s_tenauth);
            case s_tenauth:
                return go(c, s_open);
            case s_open:
                return go(c, s_connect);
            case s_close_first:
                return go(c, s_open);
            case s_connect:
                return go(c, s_subscribe);
            case s_disc:
                return go(c, s_close);
            case s_close:
                return go(c, s_stopped);
            case s_check:
                if (c.info_int_ == static_cast<int>(ConnState::connected)) {
                    pump_subs(c);
                    return pump_pubs(c);  // the module answers and is connected: carry on
                }
                // Gone without a word (the network detached silently): recover as after a
                // +QMTSTAT, from the attach check on; the outbox is kept.
                ++c.stats_.silent_drops;
                c.listener_.on_bringup_error(c.state_, err(Error::link_down, c.info_int_));
                link_lost(c);
                return back_off(c, s_attach);
            default:
                return;
        }
    }

    static void step_failed(ClientCore& c, std::uint8_t step, const ClientError& e) {
        if (step == s_close_first && e.code == Error::close_failed) {
            // "+QMTCLOSE: 0,-1": there was no network to close (a refused CONNECT closes it
            // itself). Not a problem of its own: open at once, and keep the real cause reported.
            return go(c, s_open);
        }
        c.listener_.on_bringup_error(c.state_, e);
        if (c.stopping_ && (step == s_disc || step == s_close)) {
            // Already down, or the module has no session: stopping is done either way.
            return go(c, step == s_disc ? s_close : s_stopped);
        }
        switch (step) {
            case s_sync:
                if (++c.step_tries_ < kSyncTries) return wait_then(c, s_sync, kStepPause / 2);
                return back_off(c, s_sync);
            case s_tenauth_probe:
                if (e.code == Error::timeout) return back_off(c, s_sync);
                // The module does not know this spelling: the note's other one it is.
                c.tenauth_probed_ = true;
                c.tenauth_alt_spelling_ = !c.tenauth_alt_spelling_;
                return go(c, s_tenauth);
            case s_open:
                if (e.code == Error::open_failed &&
                    e.value == static_cast<int>(OpenResult::identifier_occupied)) {
                    return go(c, s_close_first);  // a session is still open on the module: close it
                }
                return back_off(c, e.code == Error::timeout ? s_sync : s_attach);
            case s_close_first:
                return back_off(c, s_open);
            case s_connect:
                return back_off(c, s_close_first);
            case s_check:
                // The module does not answer: treat the link as lost and start over.
                link_lost(c);
                return back_off(c, s_sync);
            default:
                // A configuration command failed or the module stopped answering: start over.
                return back_off(c, s_sync);
        }
    }

    // The link is gone: QoS >= 1 publishes go back to the outbox, subscriptions will be redone.
    static void link_lost(ClientCore& c) {
        if (c.step_seq_ != 0) {
            c.engine_.abandon(c.step_seq_);
            c.step_seq_ = 0;
        }
        for (std::size_t i = 0; i < c.st_.pub_count; ++i) {
            detail::PubSlot& p = c.st_.pubs[i];
            p.failures = 0;  // what failed on a dying link says nothing about the message
            if (p.state == detail::PubSlot::State::acked) {
                c.engine_.abandon(p.engine_seq);
                finish_pub(c, p, report_of(p));
            } else if (p.state == detail::PubSlot::State::sending ||
                       p.state == detail::PubSlot::State::awaiting) {
                c.engine_.abandon(p.engine_seq);
                requeue(c, p, err(Error::aborted));
            }
        }
        for (std::size_t i = 0; i < c.st_.sub_count; ++i) {
            detail::SubSlot& s = c.st_.subs[i];
            if (s.state == detail::SubSlot::State::sending) {
                c.engine_.abandon(s.engine_seq);
                s.state = detail::SubSlot::State::pending;
            }
        }
    }

    // ------------------------------------------------------------ publishes
    static std::size_t count_in_flight(const ClientCore& c) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < c.st_.pub_count; ++i) {
            const auto st = c.st_.pubs[i].state;
            n += (st == detail::PubSlot::State::sending || st == detail::PubSlot::State::awaiting ||
                  st == detail::PubSlot::State::acked)
                     ? 1u
                     : 0u;
        }
        return n;
    }

    static PublishReport report_of(const detail::PubSlot& p) {
        return PublishReport{p.msg_id, p.retransmissions, p.attempts};
    }

    static void pump_pubs(ClientCore& c) {
        if (c.state_ != LinkState::online || checking_link(c)) return;
        std::size_t flying = count_in_flight(c);
        while (flying < c.st_.window) {
            detail::PubSlot* next = nullptr;
            for (std::size_t i = 0; i < c.st_.pub_count; ++i) {
                detail::PubSlot& p = c.st_.pubs[i];
                const bool ready =
                    p.state == detail::PubSlot::State::queued ||
                    (p.state == detail::PubSlot::State::retry_wait && p.retry_at <= c.now_);
                if (ready && (next == nullptr || p.order < next->order)) next = &p;
            }
            if (next == nullptr) return;
            const std::size_t idx = static_cast<std::size_t>(next - c.st_.pubs);
            const std::string_view topic(next->topic, next->topic_len);
            auto r = c.engine_.submit_with(
                at::cmd::pub, &c.handler_, make_tag(kPub, 0, static_cast<std::uint32_t>(idx)),
                at::Timeouts{0, pkt_result_timeout(c)}, [&](at::ArgWriter& w) {
                    w.integer(0)
                        .integer(next->msg_id)
                        .integer(next->qos)
                        .integer(next->retain ? 1 : 0)
                        .quoted(topic);
                    if (next->fixed) w.integer(next->payload_len);
                });
            if (!r) return;  // engine queue full: the next poll tries again
            next->engine_seq = *r;
            next->state = detail::PubSlot::State::sending;
            if (next->attempts > 0) ++c.stats_.resent;
            if (next->attempts < 255) ++next->attempts;
            ++flying;
            if (flying > c.stats_.max_in_flight)
                c.stats_.max_in_flight = static_cast<std::uint32_t>(flying);
        }
    }

    static void finish_pub(ClientCore& c, detail::PubSlot& p, const Result<PublishReport>& r) {
        const std::uint32_t ticket = p.ticket;
        p.state = detail::PubSlot::State::free;
        c.listener_.on_published(ticket, r);
    }

    // At least once: a QoS >= 1 publish whose fate is unknown is sent again; QoS 0 is at most
    // once. Nothing is counted against the message: the link went, or its answer did.
    static void requeue(ClientCore& c, detail::PubSlot& p, const ClientError& e) {
        if (p.qos > 0) {
            p.state = detail::PubSlot::State::queued;
            return;
        }
        finish_pub(c, p, unexpected(e));
    }

    // The module answered and the answer was no: a QoS >= 1 publish is tried again after a
    // growing pause, up to kMaxFailures answers of that kind.
    static void failed(ClientCore& c, detail::PubSlot& p, const ClientError& e) {
        if (p.qos == 0 || ++p.failures >= kMaxFailures) return finish_pub(c, p, unexpected(e));
        Millis wait = kFailureBackoff;
        for (std::uint8_t i = 1; i < p.failures && wait < 5000; ++i) wait *= 2;
        p.state = detail::PubSlot::State::retry_wait;
        p.retry_at = c.now_ + wait;
    }

    static std::uint16_t alloc_msg_id(ClientCore& c) {
        for (std::uint32_t tries = 0; tries < 65535u; ++tries) {
            const std::uint16_t id = c.next_msg_id_;
            c.next_msg_id_ = static_cast<std::uint16_t>(id == 65535u ? 1u : id + 1u);
            bool used = false;
            for (std::size_t i = 0; i < c.st_.pub_count && !used; ++i) {
                const detail::PubSlot& p = c.st_.pubs[i];
                used = p.state != detail::PubSlot::State::free && p.qos > 0 && p.msg_id == id;
            }
            for (std::size_t i = 0; i < c.st_.sub_count && !used; ++i) {
                const detail::SubSlot& s = c.st_.subs[i];
                used = s.state == detail::SubSlot::State::sending && s.msg_id == id;
            }
            if (!used) return id;
        }
        return 1;  // unreachable: fewer slots than ids
    }

    // ------------------------------------------------------------ subscriptions
    static void pump_subs(ClientCore& c) {
        if (c.state_ != LinkState::online && c.state_ != LinkState::subscribing) return;
        for (std::size_t i = 0; i < c.st_.sub_count; ++i) {
            detail::SubSlot& s = c.st_.subs[i];
            if (s.state != detail::SubSlot::State::pending) continue;
            s.msg_id = alloc_msg_id(c);
            auto r = c.engine_.submit_with(
                at::cmd::sub, &c.handler_, make_tag(kSub, 0, static_cast<std::uint32_t>(i)),
                at::Timeouts{0, pkt_result_timeout(c)}, [&](at::ArgWriter& w) {
                    w.integer(0)
                        .integer(s.msg_id)
                        .quoted(std::string_view(s.filter, s.filter_len))
                        .integer(s.qos);
                });
            if (!r) return;
            s.engine_seq = *r;
            s.state = detail::SubSlot::State::sending;
        }
    }

    static void dispatch(ClientCore& c, const Message& m) {
        bool taken = false;
        for (std::size_t i = 0; i < c.st_.sub_count; ++i) {
            const detail::SubSlot& s = c.st_.subs[i];
            if (s.state == detail::SubSlot::State::free || !s.handler) continue;
            if (topic_matches(std::string_view(s.filter, s.filter_len), m.topic)) {
                s.handler(m);
                taken = true;
            }
        }
        if (!taken) c.listener_.on_message(m);
    }

    static at::Claim on_recv(ClientCore& c, ByteView b, at::ClaimPhase phase) {
        const RecvParse p = parse_recv(b, phase, c.session_.recv_quoting);
        switch (p.status) {
            case RecvParse::Status::need_more:
                return at::Claim::need_more();
            case RecvParse::Status::malformed:
                ++c.stats_.malformed;
                return at::Claim::done(p.consumed);
            case RecvParse::Status::complete:
                ++c.stats_.received;
                dispatch(c, Message{p.message.msg_id, p.message.topic, p.message.payload});
                return at::Claim::done(p.consumed);
        }
        return at::Claim::done(b.size);
    }

    static void on_recv_overflow(ClientCore& c, ByteView head, std::size_t total) {
        const RecvOverflow o = parse_recv_overflow(head, total, c.session_.recv_quoting);
        ++c.stats_.dropped;
        c.listener_.on_message_dropped(DroppedMessage{o.msg_id, o.topic, o.payload_size});
    }

    static void on_stat(ClientCore& c, std::string_view line) {
        std::int32_t v[2] = {0, 0};
        if (read_ints(line, "+QMTSTAT", v, 2) < 2) return;
        ++c.stats_.stats;
        const auto code = static_cast<StatCode>(v[1]);
        c.listener_.on_stat(code);
        if (c.state_ == LinkState::stopped) return;
        if (c.stopping_) {
            link_lost(c);
            return go(c, s_close);
        }
        if (c.state_ == LinkState::backing_off || c.step_ < s_open) return;  // not up yet anyway
        link_lost(c);
        const StatAction a = recommended_action(code);
        const bool check_link =
            a == StatAction::reactivate_pdp_and_reopen || a == StatAction::wait_for_link;
        back_off(c, check_link ? s_attach : s_open);
    }

    static void on_reboot(ClientCore& c, std::string_view) {
        ++c.stats_.reboots;
        // Every setting is gone (the note: not kept across power loss) and so is every command.
        c.rebooting_ = true;
        c.step_seq_ = 0;
        c.engine_.abort_all();
        c.rebooting_ = false;
        link_lost(c);
        c.tenauth_probed_ = false;
        if (c.state_ == LinkState::stopped) return;
        if (c.stopping_) return go(c, s_stopped);
        set_state(c, LinkState::syncing);
        wait_then(c, s_sync, kStepPause);
    }

    static ClientError result_error(Op op, std::int32_t result, std::int32_t value) {
        switch (op) {
            case Op::open:
                return err(Error::open_failed, result);
            case Op::connect:
                return result == 0 ? err(Error::connect_refused, value)
                                   : err(Error::connect_failed, result);
            case Op::tenauth:
                return err(Error::tenauth_failed, result);
            case Op::close:
            case Op::disconnect:
                return err(Error::close_failed, result);
            default:
                return err(Error::packet_failed, result);
        }
    }

    // +QMTxxx: 0,... result line of a bring-up step or a low-level op; returns done/intermediate.
    static at::ResultVerdict parse_result(std::string_view line, const at::CommandSpec& spec, Op op,
                                          std::int32_t& result, std::int32_t& value, bool& ok) {
        std::int32_t v[3] = {0, 0, -1};
        ok = false;
        if (op == Op::tenauth) {
            at::FieldReader r(line);
            r.prefix(spec.result).integer(result);
            value = -1;
            ok = r.ok() && result == 0;
            return r.ok() ? at::ResultVerdict::done : at::ResultVerdict::not_mine;
        }
        const int n = read_ints(line, spec.result, v, 3);
        if (n < 2) return at::ResultVerdict::not_mine;  // e.g. the query's +QMTOPEN: 0,"host",port
        result = v[1];
        value = n >= 3 ? v[2] : -1;
        if (op == Op::connect) {
            if (result == 1) return at::ResultVerdict::intermediate;  // retransmission
            ok = result == 0 && value <= 0;
        } else {
            ok = result == 0;
        }
        return at::ResultVerdict::done;
    }

    static Op step_op(std::uint8_t step) {
        switch (step) {
            case s_open:
                return Op::open;
            case s_connect:
                return Op::connect;
            case s_tenauth:
                return Op::tenauth;
            case s_close_first:
            case s_close:
                return Op::close;
            case s_disc:
                return Op::disconnect;
            default:
                return Op::sync;
        }
    }
};

// ================================================================ public API

ClientCore::ClientCore(at::EngineCore& engine, Listener& listener,
                       const detail::ClientStorage& storage)
    : engine_(engine), listener_(listener), st_(storage) {
    for (std::size_t i = 0; i < st_.pub_count; ++i) {
        st_.pubs[i].state = detail::PubSlot::State::free;
        st_.pubs[i].topic = st_.topics + i * (kMaxTopic + 1);
        st_.pubs[i].payload = st_.payloads + i * st_.payload_capacity;
    }
    engine_.on_urc(at::cmd::urc_stat, at::UrcHandler(this, [](void* c, std::string_view l) {
                       Impl::on_stat(*static_cast<ClientCore*>(c), l);
                   }));
    engine_.on_urc("REBOOT_CAUSE",
                   at::UrcHandler(this,
                                  [](void* c, std::string_view l) {
                                      Impl::on_reboot(*static_cast<ClientCore*>(c), l);
                                  }),
                   /*bare=*/true);
    engine_.on_urc_claim(at::cmd::urc_recv,
                         at::ClaimHandler(this,
                                          [](void* c, ByteView b, at::ClaimPhase p) {
                                              return Impl::on_recv(*static_cast<ClientCore*>(c), b,
                                                                   p);
                                          }),
                         at::ClaimOverflowHandler(this, [](void* c, ByteView head, std::size_t n) {
                             Impl::on_recv_overflow(*static_cast<ClientCore*>(c), head, n);
                         }));
}

Result<void> ClientCore::configure(const Session& s) {
    if (s.host.empty()) return fail<void>(Error::host_empty);
    if (s.host.size() > kMaxHost) return fail<void>(Error::host_too_long);
    if (s.client_id.empty()) return fail<void>(Error::client_id_empty);
    if (s.settings.version != 3 && s.settings.version != 4)
        return fail<void>(Error::version_out_of_range);
    if (s.settings.keepalive_s > kMaxKeepalive) return fail<void>(Error::keepalive_out_of_range);
    if (s.settings.pkt_timeout_s < kMinPktTimeout || s.settings.pkt_timeout_s > kMaxPktTimeout) {
        return fail<void>(Error::pkt_timeout_out_of_range);
    }
    if (s.settings.retry_times > kMaxRetryTimes) return fail<void>(Error::retry_times_out_of_range);
    if (!s.password.empty() && s.username.empty() && !s.use_tenauth)
        return fail<void>(Error::password_without_username);
    if (s.has_will) {
        if (s.will.topic.empty()) return fail<void>(Error::will_topic_empty);
        if (s.will.topic.size() > kMaxTopic) return fail<void>(Error::will_topic_too_long);
        if (has_wildcard(s.will.topic)) return fail<void>(Error::topic_has_wildcard);
        if (s.will.message.size() > kMaxWillMessage)
            return fail<void>(Error::will_message_too_long);
        if (s.will.qos > 2) return fail<void>(Error::qos_out_of_range);
    }
    if (s.use_aliauth && (s.aliauth.product_key.empty() || s.aliauth.device_name.empty() ||
                          s.aliauth.device_secret.empty())) {
        return fail<void>(Error::field_empty);
    }
    if (s.use_tenauth) {
        if (s.tenauth.product_id.empty() || s.tenauth.device_name.empty() ||
            s.tenauth.device_secret.empty()) {
            return fail<void>(Error::field_empty);
        }
        if (s.tenauth.expire_days < 1 || s.tenauth.expire_days > kMaxExpireDays) {
            return fail<void>(Error::expire_out_of_range);
        }
    }
    const std::string_view strings[] = {s.host,
                                        s.client_id,
                                        s.username,
                                        s.password,
                                        s.will.topic,
                                        s.will.message,
                                        s.aliauth.product_key,
                                        s.aliauth.device_name,
                                        s.aliauth.device_secret,
                                        s.tenauth.product_id,
                                        s.tenauth.device_name,
                                        s.tenauth.device_secret,
                                        s.tenauth.url};
    for (std::string_view v : strings) {
        if (!at::is_at_safe(v)) return fail<void>(Error::forbidden_char);
        if (v.size() + 1 > st_.string_capacity) return fail<void>(Error::field_too_long);
    }
    if (s.use_tenauth &&
        s.tenauth.product_id.size() + s.tenauth.device_name.size() + 2 > st_.string_capacity) {
        return fail<void>(Error::field_too_long);
    }
    // Everything is valid: copy, and point the kept session at the copies.
    for (std::size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); ++i) {
        Impl::store(*this, static_cast<Str>(i), strings[i]);
    }
    session_ = s;
    session_.host = Impl::str(*this, str_host);
    session_.client_id = Impl::str(*this, str_client_id);
    session_.username = Impl::str(*this, str_username);
    session_.password = Impl::str(*this, str_password);
    session_.will.topic = Impl::str(*this, str_will_topic);
    session_.will.message = Impl::str(*this, str_will_message);
    session_.aliauth = AliAuth{Impl::str(*this, str_ali_pk), Impl::str(*this, str_ali_dn),
                               Impl::str(*this, str_ali_ds)};
    session_.tenauth.product_id = Impl::str(*this, str_ten_pid);
    session_.tenauth.device_name = Impl::str(*this, str_ten_dn);
    session_.tenauth.device_secret = Impl::str(*this, str_ten_ds);
    session_.tenauth.url = Impl::str(*this, str_ten_url);
    if (s.use_tenauth) {
        char* cid = st_.strings + str_ten_cid * st_.string_capacity;
        std::size_t n = 0;
        for (char ch : s.tenauth.product_id) cid[n++] = ch;
        cid[n++] = '@';
        for (char ch : s.tenauth.device_name) cid[n++] = ch;
        cid[n] = '\0';
    }
    applied_ = s.settings;
    configured_ = true;
    return {};
}

void ClientCore::set_backoff(const Backoff& b) {
    backoff_ = b;
    rng_ = b.seed != 0 ? b.seed : 0x9E3779B9u;
}

Result<void> ClientCore::start(Instant now) {
    if (!configured_) return fail<void>(Error::not_running);
    now_ = now;
    stopping_ = false;
    attempt_ = 0;
    Impl::go(*this, s_sync);
    return {};
}

void ClientCore::stop() {
    if (state_ == LinkState::stopped) return;
    stopping_ = true;
    if (step_seq_ != 0) {
        engine_.abandon(step_seq_);
        step_seq_ = 0;
    }
    const bool session_up = state_ == LinkState::online || state_ == LinkState::subscribing;
    Impl::go(*this, session_up ? s_disc : s_close);
}

Result<std::uint32_t> ClientCore::publish(std::string_view topic, ByteView payload,
                                          PublishOptions o) {
    const Error te = check_topic(topic, false);
    if (te != kOk) return fail<std::uint32_t>(te);
    if (o.qos > 2) return fail<std::uint32_t>(Error::qos_out_of_range);
    if (payload.size == 0) return fail<std::uint32_t>(Error::payload_empty);
    if (payload.size > kMaxPayload || payload.size > st_.payload_capacity) {
        return fail<std::uint32_t>(Error::payload_too_long);
    }
    const bool fixed_needed = needs_fixed(payload);
    if (o.form == PayloadForm::variable_length && fixed_needed) {
        return fail<std::uint32_t>(Error::payload_needs_fixed_length);
    }
    detail::PubSlot* slot = nullptr;
    for (std::size_t i = 0; i < st_.pub_count && slot == nullptr; ++i) {
        // A free slot whose last command is still on the wire lends it its payload bytes.
        const detail::PubSlot& p = st_.pubs[i];
        if (p.state == detail::PubSlot::State::free && !engine_.on_wire(p.engine_seq))
            slot = &st_.pubs[i];
    }
    if (slot == nullptr) return fail<std::uint32_t>(Error::queue_full);
    slot->ticket = next_ticket_;
    next_ticket_ = (next_ticket_ % 0xFFFFFu) + 1u;
    slot->order = next_order_++;
    slot->qos = o.qos;
    slot->msg_id = o.qos == 0 ? 0 : Impl::alloc_msg_id(*this);
    slot->retain = o.retain;
    slot->fixed =
        o.form == PayloadForm::fixed_length || (o.form == PayloadForm::automatic && fixed_needed);
    slot->attempts = 0;
    slot->retransmissions = 0;
    slot->busy_retries = 0;
    slot->failures = 0;
    slot->retry_at = 0;
    slot->topic_len = static_cast<std::uint16_t>(topic.size());
    std::memcpy(slot->topic, topic.data(), topic.size());
    slot->payload_len = static_cast<std::uint16_t>(payload.size);
    std::memcpy(slot->payload, payload.data, payload.size);
    slot->state = detail::PubSlot::State::queued;
    Impl::pump_pubs(*this);
    return slot->ticket;
}

Result<std::uint32_t> ClientCore::subscribe(std::string_view filter, std::uint8_t qos,
                                            MessageHandler h) {
    const Error te = check_topic(filter, true);
    if (te != kOk) return fail<std::uint32_t>(te);
    if (qos > 2) return fail<std::uint32_t>(Error::qos_out_of_range);
    detail::SubSlot* slot = nullptr;
    for (std::size_t i = 0; i < st_.sub_count && slot == nullptr; ++i) {
        detail::SubSlot& s = st_.subs[i];
        if (s.state != detail::SubSlot::State::free &&
            std::string_view(s.filter, s.filter_len) == filter)
            slot = &s;
    }
    for (std::size_t i = 0; i < st_.sub_count && slot == nullptr; ++i) {
        if (st_.subs[i].state == detail::SubSlot::State::free) slot = &st_.subs[i];
    }
    if (slot == nullptr) return fail<std::uint32_t>(Error::queue_full);
    if (slot->state == detail::SubSlot::State::sending) engine_.abandon(slot->engine_seq);
    slot->ticket = next_ticket_;
    next_ticket_ = (next_ticket_ % 0xFFFFFu) + 1u;
    slot->qos = qos;
    slot->handler = h;
    slot->filter_len = static_cast<std::uint16_t>(filter.size());
    std::memcpy(slot->filter, filter.data(), filter.size());
    slot->state = detail::SubSlot::State::pending;
    Impl::pump_subs(*this);
    return slot->ticket;
}

Result<std::uint32_t> ClientCore::unsubscribe(std::string_view filter) {
    const Error te = check_topic(filter, true);
    if (te != kOk) return fail<std::uint32_t>(te);
    detail::SubSlot* slot = nullptr;
    for (std::size_t i = 0; i < st_.sub_count && slot == nullptr; ++i) {
        detail::SubSlot& s = st_.subs[i];
        if (s.state != detail::SubSlot::State::free &&
            std::string_view(s.filter, s.filter_len) == filter)
            slot = &s;
    }
    const std::uint32_t ticket = next_ticket_;
    next_ticket_ = (next_ticket_ % 0xFFFFFu) + 1u;
    if (slot != nullptr) {
        if (slot->state == detail::SubSlot::State::sending) engine_.abandon(slot->engine_seq);
        slot->state = detail::SubSlot::State::free;
        // The bring-up may have been waiting for just this subscription.
        Impl::maybe_online(*this);
    }
    if (state_ != LinkState::online) {
        listener_.on_unsubscribed(ticket, Result<void>{});  // nothing to tell the broker now
        return ticket;
    }
    const std::uint16_t id = Impl::alloc_msg_id(*this);
    auto r =
        engine_.submit_with(at::cmd::uns, &handler_, make_tag(kUns, 0, ticket),
                            at::Timeouts{0, Impl::pkt_result_timeout(*this)},
                            [&](at::ArgWriter& w) { w.integer(0).integer(id).quoted(filter); });
    if (!r) return unexpected(from_at(r.error()));
    return ticket;
}

std::size_t ClientCore::outbox() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < st_.pub_count; ++i)
        n += st_.pubs[i].state != detail::PubSlot::State::free ? 1u : 0u;
    return n;
}

std::size_t ClientCore::in_flight() const {
    return Impl::count_in_flight(*this);
}

// ---------------------------------------------------------------- low-level commands

namespace {
template <class Fn>
Result<std::uint32_t> op_submit(at::EngineCore& e, at::CommandHandler* h,
                                std::uint32_t& next_ticket, const at::CommandSpec& spec, Op op,
                                at::Timeouts t, Fn&& args) {
    const std::uint32_t ticket = next_ticket;
    auto r = e.submit_with(spec, h, make_tag(kOp, static_cast<std::uint32_t>(op), ticket), t, args);
    if (!r) return unexpected(from_at(r.error()));
    next_ticket = (next_ticket % 0xFFFFFu) + 1u;
    return ticket;
}
}  // namespace

Result<std::uint32_t> ClientCore::open(std::string_view host, std::uint16_t port) {
    if (host.empty()) return fail<std::uint32_t>(Error::host_empty);
    if (host.size() > kMaxHost) return fail<std::uint32_t>(Error::host_too_long);
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::open, Op::open, {},
                     [&](at::ArgWriter& w) { w.integer(0).quoted(host).integer(port); });
}

Result<std::uint32_t> ClientCore::close() {
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::close, Op::close, {},
                     [](at::ArgWriter& w) { w.integer(0); });
}

Result<std::uint32_t> ClientCore::connect(std::string_view client_id, std::string_view username,
                                          std::string_view password) {
    if (client_id.empty()) return fail<std::uint32_t>(Error::client_id_empty);
    if (!password.empty() && username.empty())
        return fail<std::uint32_t>(Error::password_without_username);
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::conn, Op::connect,
                     {0, Impl::conn_result_timeout(*this)}, [&](at::ArgWriter& w) {
                         w.integer(0).quoted(client_id);
                         if (!username.empty()) w.quoted(username);
                         if (!password.empty()) w.quoted(password);
                     });
}

Result<std::uint32_t> ClientCore::disconnect() {
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::disc, Op::disconnect, {},
                     [](at::ArgWriter& w) { w.integer(0); });
}

Result<std::uint32_t> ClientCore::set_version(std::uint8_t vsn) {
    if (vsn != 3 && vsn != 4) return fail<std::uint32_t>(Error::version_out_of_range);
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::cfg_version, Op::cfg, {},
                     [&](at::ArgWriter& w) { w.integer(0).integer(vsn); });
}

Result<std::uint32_t> ClientCore::set_keepalive(std::uint16_t seconds) {
    if (seconds > kMaxKeepalive) return fail<std::uint32_t>(Error::keepalive_out_of_range);
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::cfg_keepalive, Op::cfg, {},
                     [&](at::ArgWriter& w) { w.integer(0).integer(seconds); });
}

Result<std::uint32_t> ClientCore::set_session(bool clean) {
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::cfg_session, Op::cfg, {},
                     [&](at::ArgWriter& w) { w.integer(0).integer(clean ? 1 : 0); });
}

Result<std::uint32_t> ClientCore::set_timeout(std::uint8_t pkt_timeout_s, std::uint8_t retry_times,
                                              bool notice) {
    if (pkt_timeout_s < kMinPktTimeout || pkt_timeout_s > kMaxPktTimeout) {
        return fail<std::uint32_t>(Error::pkt_timeout_out_of_range);
    }
    if (retry_times > kMaxRetryTimes) return fail<std::uint32_t>(Error::retry_times_out_of_range);
    auto r = op_submit(
        engine_, &handler_, next_ticket_, at::cmd::cfg_timeout, Op::cfg, {}, [&](at::ArgWriter& w) {
            w.integer(0).integer(pkt_timeout_s).integer(retry_times).integer(notice ? 1 : 0);
        });
    if (r) {
        applied_.pkt_timeout_s = pkt_timeout_s;
        applied_.retry_times = retry_times;
        applied_.timeout_notice = notice;
    }
    return r;
}

Result<std::uint32_t> ClientCore::set_will(const Will* will) {
    if (will == nullptr) {
        return op_submit(engine_, &handler_, next_ticket_, at::cmd::cfg_will, Op::cfg, {},
                         [](at::ArgWriter& w) { w.integer(0).integer(0); });
    }
    if (will->topic.empty()) return fail<std::uint32_t>(Error::will_topic_empty);
    if (will->topic.size() > kMaxTopic) return fail<std::uint32_t>(Error::will_topic_too_long);
    if (has_wildcard(will->topic)) return fail<std::uint32_t>(Error::topic_has_wildcard);
    if (will->message.size() > kMaxWillMessage)
        return fail<std::uint32_t>(Error::will_message_too_long);
    if (will->qos > 2) return fail<std::uint32_t>(Error::qos_out_of_range);
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::cfg_will, Op::cfg, {},
                     [&](at::ArgWriter& w) {
                         w.integer(0)
                             .integer(1)
                             .integer(will->qos)
                             .integer(will->retain ? 1 : 0)
                             .quoted(will->topic)
                             .quoted(will->message);
                     });
}

Result<std::uint32_t> ClientCore::set_aliauth(const AliAuth& a) {
    if (a.product_key.empty() || a.device_name.empty() || a.device_secret.empty()) {
        return fail<std::uint32_t>(Error::field_empty);
    }
    return op_submit(
        engine_, &handler_, next_ticket_, at::cmd::cfg_aliauth, Op::cfg, {}, [&](at::ArgWriter& w) {
            w.integer(0).quoted(a.product_key).quoted(a.device_name).quoted(a.device_secret);
        });
}

Result<std::uint32_t> ClientCore::tenauth(const TenAuth& t) {
    if (t.product_id.empty() || t.device_name.empty() || t.device_secret.empty()) {
        return fail<std::uint32_t>(Error::field_empty);
    }
    if (t.expire_days < 1 || t.expire_days > kMaxExpireDays)
        return fail<std::uint32_t>(Error::expire_out_of_range);
    char cid[192];
    if (t.product_id.size() + t.device_name.size() + 1 > sizeof(cid))
        return fail<std::uint32_t>(Error::field_too_long);
    std::size_t n = 0;
    for (char ch : t.product_id) cid[n++] = ch;
    cid[n++] = '@';
    for (char ch : t.device_name) cid[n++] = ch;
    const at::CommandSpec& spec = tenauth_alt_spelling_ ? at::cmd::enauth : at::cmd::tenauth;
    return op_submit(engine_, &handler_, next_ticket_, spec, Op::tenauth, {},
                     [&](at::ArgWriter& w) {
                         w.quoted(t.product_id)
                             .quoted(t.device_name)
                             .quoted(std::string_view(cid, n))
                             .quoted(t.device_secret);
                         w.integer(t.expire_days);
                         if (!t.url.empty()) w.quoted(t.url);
                     });
}

Result<std::uint32_t> ClientCore::query_cfg(std::string_view item) {
    const at::CommandSpec* spec = item == "version"     ? &at::cmd::cfg_version
                                  : item == "keepalive" ? &at::cmd::cfg_keepalive
                                  : item == "session"   ? &at::cmd::cfg_session
                                  : item == "timeout"   ? &at::cmd::cfg_timeout
                                  : item == "will"      ? &at::cmd::cfg_will
                                  : item == "aliauth"   ? &at::cmd::cfg_aliauth
                                                        : nullptr;
    if (spec == nullptr) return fail<std::uint32_t>(Error::field_empty);
    return op_submit(engine_, &handler_, next_ticket_, *spec, Op::cfg_query, {},
                     [](at::ArgWriter& w) { w.integer(0); });
}

Result<std::uint32_t> ClientCore::query_open() {
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::open_query, Op::open_query, {},
                     [](at::ArgWriter&) {});
}

Result<std::uint32_t> ClientCore::query_conn() {
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::conn_query, Op::conn_query, {},
                     [](at::ArgWriter&) {});
}

Result<std::uint32_t> ClientCore::query_tenauth() {
    const at::CommandSpec& spec =
        tenauth_alt_spelling_ ? at::cmd::enauth_query : at::cmd::tenauth_query;
    return op_submit(engine_, &handler_, next_ticket_, spec, Op::tenauth_query, {},
                     [](at::ArgWriter&) {});
}

Result<std::uint32_t> ClientCore::test(Op which) {
    struct Entry {
        Op op;
        const at::CommandSpec* spec;
    };
    static constexpr Entry kTests[] = {
        {Op::cfg_test, &at::cmd::cfg_test},     {Op::open_test, &at::cmd::open_test},
        {Op::close_test, &at::cmd::close_test}, {Op::conn_test, &at::cmd::conn_test},
        {Op::disc_test, &at::cmd::disc_test},   {Op::sub_test, &at::cmd::sub_test},
        {Op::uns_test, &at::cmd::uns_test},     {Op::pub_test, &at::cmd::pub_test},
    };
    const at::CommandSpec* spec = nullptr;
    if (which == Op::tenauth_probe) {
        spec = tenauth_alt_spelling_ ? &at::cmd::enauth_test : &at::cmd::tenauth_test;
    }
    for (const Entry& e : kTests) {
        if (e.op == which) spec = e.spec;
    }
    if (spec == nullptr) return fail<std::uint32_t>(Error::field_empty);
    return op_submit(engine_, &handler_, next_ticket_, *spec, which, {}, [](at::ArgWriter&) {});
}

Result<std::uint32_t> ClientCore::subscribe_many(std::uint16_t msg_id,
                                                 const std::string_view* filters,
                                                 const std::uint8_t* qos, std::size_t n) {
    if (n == 0) return fail<std::uint32_t>(Error::no_topics);
    if (n > 7)
        return fail<std::uint32_t>(Error::too_many_topics);  // 0,msgID + 2 per topic <= 16 args
    if (msg_id == 0) return fail<std::uint32_t>(Error::msg_id_out_of_range);
    for (std::size_t i = 0; i < n; ++i) {
        const Error te = check_topic(filters[i], true);
        if (te != kOk) return fail<std::uint32_t>(te);
        if (qos[i] > 2) return fail<std::uint32_t>(Error::qos_out_of_range);
    }
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::sub, Op::sync,
                     {0, Impl::pkt_result_timeout(*this)}, [&](at::ArgWriter& w) {
                         w.integer(0).integer(msg_id);
                         for (std::size_t i = 0; i < n; ++i) w.quoted(filters[i]).integer(qos[i]);
                     });
}

Result<std::uint32_t> ClientCore::unsubscribe_many(std::uint16_t msg_id,
                                                   const std::string_view* filters, std::size_t n) {
    if (n == 0) return fail<std::uint32_t>(Error::no_topics);
    if (n > 14) return fail<std::uint32_t>(Error::too_many_topics);
    if (msg_id == 0) return fail<std::uint32_t>(Error::msg_id_out_of_range);
    for (std::size_t i = 0; i < n; ++i) {
        const Error te = check_topic(filters[i], true);
        if (te != kOk) return fail<std::uint32_t>(te);
    }
    return op_submit(engine_, &handler_, next_ticket_, at::cmd::uns, Op::sync,
                     {0, Impl::pkt_result_timeout(*this)}, [&](at::ArgWriter& w) {
                         w.integer(0).integer(msg_id);
                         for (std::size_t i = 0; i < n; ++i) w.quoted(filters[i]);
                     });
}

// ---------------------------------------------------------------- I/O and time

void ClientCore::feed(const std::uint8_t* data, std::size_t n, Instant now) {
    now_ = now;
    engine_.feed(data, n, now);
    Impl::pump_pubs(*this);
}

void ClientCore::poll(Instant now) {
    now_ = now;
    engine_.poll(now);
    if (wake_at_ != kNever && now >= wake_at_) {
        wake_at_ = kNever;
        if (state_ != LinkState::stopped) {
            step_ = resume_step_;
            Impl::issue(*this);
        }
    }
    Impl::pump_subs(*this);
    Impl::pump_pubs(*this);
}

Instant ClientCore::next_deadline() const {
    Instant t = engine_.next_deadline();
    if (wake_at_ < t) t = wake_at_;
    for (std::size_t i = 0; i < st_.pub_count; ++i) {
        // A pause already over was offered to pump_pubs() by the last poll(); if it is still
        // waiting, something else holds it (window full, link check, offline), and that thing
        // has its own deadline or event. Repeating a past time would spin the host.
        const detail::PubSlot& p = st_.pubs[i];
        if (p.state == detail::PubSlot::State::retry_wait && p.retry_at > now_ && p.retry_at < t)
            t = p.retry_at;
    }
    return t;
}

// ---------------------------------------------------------------- engine callbacks

at::Payload ClientCore::on_prompt(const at::CommandRef& r) {
    if (tag_kind(r.tag) != kPub) return {};
    const detail::PubSlot& p = st_.pubs[tag_id(r.tag)];
    // Only the slot's own command gets its payload: anything else is cancelled (ESC).
    if (p.engine_seq != r.seq) return {};
    const at::Payload mine{ByteView(p.payload, p.payload_len),
                           p.fixed ? at::Payload::End::fixed : at::Payload::End::ctrl_z};
    if (p.state == detail::PubSlot::State::sending) return mine;
    // Acknowledged already (an earlier attempt's late result): cancel the re-send. A fixed-length
    // data mode cannot be left with ESC, so it gets the same bytes once more.
    if (p.state == detail::PubSlot::State::acked && p.fixed) return mine;
    return {};
}

void ClientCore::on_info(const at::CommandRef& r, std::string_view line) {
    const Kind k = tag_kind(r.tag);
    if (k == kStep) {
        std::int32_t v[2] = {-1, -1};
        const int n = read_ints(line, r.spec->info, v, 2);
        // +CGATT:<state>, but +QMTCONN: 0,<state>.
        if (tag_op(r.tag) == s_check) {
            if (n >= 2) info_int_ = v[1];
        } else if (n >= 1) {
            info_int_ = v[0];
        }
        return;
    }
    if (k == kOp) {
        // Keep the first line (queries answer one); more are rare and only for test forms.
        if (query_len_ == 0) {
            query_len_ = line.size() < sizeof(query_buf_) ? line.size() : sizeof(query_buf_);
            std::memcpy(query_buf_, line.data(), query_len_);
        }
    }
}

void ClientCore::on_final(const at::CommandRef& r, const at::Outcome& o) {
    const Kind k = tag_kind(r.tag);
    const std::uint32_t id = tag_id(r.tag);
    switch (k) {
        case kPub: {
            detail::PubSlot& p = st_.pubs[id];
            if (p.engine_seq != r.seq) return;
            if (p.state == detail::PubSlot::State::acked) {
                // The re-send is off the wire (cancelled, refused or sent again): the earlier
                // attempt's acknowledgement stands.
                Impl::finish_pub(*this, p, Impl::report_of(p));
                Impl::pump_pubs(*this);
                return;
            }
            if (p.state != detail::PubSlot::State::sending) return;
            if (o) {
                p.state = detail::PubSlot::State::awaiting;
                return;
            }
            const ClientError e = from_at(o.error());
            if (e.code == Error::cme && e.cme == at::Cme::uplink_busy) {
                // Flow control: not a failure. Wait and send again; the attempt does not count.
                ++stats_.backpressure;
                if (p.attempts > 0) --p.attempts;
                p.state = detail::PubSlot::State::retry_wait;
                Millis wait = 100;
                for (std::uint8_t i = 0; i < p.busy_retries && wait < 5000; ++i) wait *= 2;
                p.retry_at = now_ + (wait > 5000 ? 5000 : wait);
                if (p.busy_retries < 255) ++p.busy_retries;
                return;
            }
            if (e.code == Error::cme && e.cme == at::Cme::operation_not_allowed) {
                // "Operation not allowed": the module has no MQTT connection. Nothing was sent,
                // so even QoS 0 goes again, once the link is back.
                if (p.attempts > 0) --p.attempts;
                p.state = detail::PubSlot::State::queued;
                Impl::check_link(*this);
                return;
            }
            if (e.code == Error::aborted) return Impl::requeue(*this, p, e);
            if (e.code == Error::timeout) {
                Impl::requeue(*this, p, e);
                Impl::check_link(*this);
                return;
            }
            Impl::failed(*this, p, e);
            return;
        }
        case kSub: {
            detail::SubSlot& s = st_.subs[id];
            if (s.state != detail::SubSlot::State::sending || s.engine_seq != r.seq || o) return;
            if (o.error().kind == at::ErrorKind::aborted) {
                s.state = detail::SubSlot::State::pending;  // a reboot or a new port: sent again
                return;
            }
            if (o.error().kind == at::ErrorKind::timeout) {
                s.state = detail::SubSlot::State::pending;  // sent again once the module answers
                Impl::check_link(*this);
                return;
            }
            s.state = detail::SubSlot::State::refused;
            listener_.on_subscribed(s.ticket, unexpected(from_at(o.error())));
            Impl::maybe_online(*this);
            return;
        }
        case kUns:
            if (!o) listener_.on_unsubscribed(id, unexpected(from_at(o.error())));
            return;
        case kStep: {
            if (rebooting_ || r.seq != step_seq_) return;
            const std::uint8_t step = static_cast<std::uint8_t>(tag_op(r.tag));
            if (!o) {
                step_seq_ = 0;
                return Impl::step_failed(*this, step, from_at(o.error()));
            }
            if (!r.spec->two_phase()) {
                step_seq_ = 0;
                Impl::step_ok(*this, step);
            }
            return;
        }
        case kOp: {
            const Op op = static_cast<Op>(tag_op(r.tag));
            if (!o) {
                query_len_ = 0;
                listener_.on_reply(id, unexpected(from_at(o.error())));
                return;
            }
            if (r.spec->two_phase()) return;
            Reply reply;
            reply.op = op;
            reply.text = std::string_view(query_buf_, query_len_);
            query_len_ = 0;
            listener_.on_reply(id, reply);
            return;
        }
    }
}

at::ResultVerdict ClientCore::on_result(const at::CommandRef& r, std::string_view line) {
    const Kind k = tag_kind(r.tag);
    const std::uint32_t id = tag_id(r.tag);
    std::int32_t v[4] = {0, 0, 0, -1};
    switch (k) {
        case kPub: {
            detail::PubSlot& p = st_.pubs[id];
            const int n = read_ints(line, "+QMTPUB", v, 4);
            if (n < 3) return at::ResultVerdict::not_mine;
            if (p.engine_seq != r.seq || (p.state != detail::PubSlot::State::sending &&
                                          p.state != detail::PubSlot::State::awaiting)) {
                return at::ResultVerdict::done;  // no longer this slot's command
            }
            if (r.before_payload) {
                // The re-send's payload is not out yet, so this answers an earlier attempt of the
                // same msgID. Its ACK completes the message, but the slot stays with the command
                // on the wire until that has ended (see on_prompt / on_final).
                ++stats_.late_results;
                if (v[2] != 0) return at::ResultVerdict::intermediate;  // the re-send stands
                ++stats_.published;
                p.state = detail::PubSlot::State::acked;
                return at::ResultVerdict::done;
            }
            if (v[2] == 1) {  // retransmission report
                if (n >= 4 && v[3] > p.retransmissions)
                    p.retransmissions = static_cast<std::uint8_t>(v[3] > 255 ? 255 : v[3]);
                return at::ResultVerdict::intermediate;
            }
            if (v[2] == 0) {
                ++stats_.published;
                Impl::finish_pub(*this, p, Impl::report_of(p));
            } else {
                // The module gave up sending: the message may be fine and the link not.
                Impl::failed(*this, p, err(Error::packet_failed, v[2]));
                Impl::check_link(*this);
            }
            Impl::pump_pubs(*this);
            return at::ResultVerdict::done;
        }
        case kSub: {
            detail::SubSlot& s = st_.subs[id];
            const int n = read_ints(line, "+QMTSUB", v, 4);
            if (n < 3) return at::ResultVerdict::not_mine;
            if (v[2] == 1) return at::ResultVerdict::intermediate;
            if (v[2] == 0 && n >= 4 && v[3] != 128) {
                s.state = detail::SubSlot::State::active;
                listener_.on_subscribed(s.ticket,
                                        SubscribeReport{s.msg_id, static_cast<std::uint8_t>(v[3])});
            } else {
                s.state = detail::SubSlot::State::refused;
                listener_.on_subscribed(
                    s.ticket,
                    unexpected(err(v[2] == 0 ? Error::subscription_refused : Error::packet_failed,
                                   v[2] == 0 ? 128 : v[2])));
            }
            Impl::maybe_online(*this);
            return at::ResultVerdict::done;
        }
        case kUns: {
            const int n = read_ints(line, "+QMTUNS", v, 3);
            if (n < 3) return at::ResultVerdict::not_mine;
            if (v[2] == 1) return at::ResultVerdict::intermediate;
            if (v[2] == 0)
                listener_.on_unsubscribed(id, Result<void>{});
            else
                listener_.on_unsubscribed(id, unexpected(err(Error::packet_failed, v[2])));
            return at::ResultVerdict::done;
        }
        case kStep: {
            const std::uint8_t step = static_cast<std::uint8_t>(tag_op(r.tag));
            const Op op = Impl::step_op(step);
            std::int32_t result = 0, value = -1;
            bool ok = false;
            const at::ResultVerdict verdict =
                Impl::parse_result(line, *r.spec, op, result, value, ok);
            if (verdict != at::ResultVerdict::done || r.seq != step_seq_) return verdict;
            step_seq_ = 0;
            if (op == Op::tenauth && ok) {
                // +QMTTENAUTH: 0,"<password>": the token becomes the CONNECT password.
                at::FieldReader f(line);
                std::int32_t code = 0;
                std::string_view pw;
                f.prefix(r.spec->result).integer(code).string(pw);
                if (!f.ok() || !Impl::store(*this, str_password, pw)) {
                    Impl::step_failed(*this, step, err(Error::malformed_reply));
                    return verdict;
                }
            }
            if (ok)
                Impl::step_ok(*this, step);
            else
                Impl::step_failed(*this, step, Impl::result_error(op, result, value));
            return verdict;
        }
        case kOp: {
            const Op op = static_cast<Op>(tag_op(r.tag));
            Reply reply;
            reply.op = op;
            bool ok = false;
            const at::ResultVerdict verdict =
                Impl::parse_result(line, *r.spec, op, reply.result, reply.value, ok);
            if (verdict != at::ResultVerdict::done) return verdict;
            if (op == Op::tenauth && ok) {
                at::FieldReader f(line);
                std::int32_t code = 0;
                std::string_view pw;
                f.prefix(r.spec->result).integer(code).string(pw);
                query_len_ = pw.size() < sizeof(query_buf_) ? pw.size() : sizeof(query_buf_);
                std::memcpy(query_buf_, pw.data(), query_len_);
                reply.text = std::string_view(query_buf_, query_len_);
            }
            if (op == Op::sync) ok = reply.result == 0;  // subscribe_many / unsubscribe_many
            if (ok)
                listener_.on_reply(id, reply);
            else
                listener_.on_reply(id,
                                   unexpected(Impl::result_error(op, reply.result, reply.value)));
            query_len_ = 0;
            return verdict;
        }
    }
    return at::ResultVerdict::done;
}

void ClientCore::on_result_error(const at::CommandRef& r, const at::AtError& e) {
    const Kind k = tag_kind(r.tag);
    const std::uint32_t id = tag_id(r.tag);
    switch (k) {
        case kPub: {
            detail::PubSlot& p = st_.pubs[id];
            if (p.state != detail::PubSlot::State::awaiting || p.engine_seq != r.seq) return;
            if (e.kind == at::ErrorKind::aborted) return Impl::requeue(*this, p, from_at(e));
            // No result in the module's whole retry budget: count it, and ask whether the link
            // is still there (a silent drop shows up exactly like this).
            if (p.qos > 0 && p.failures + 1 < kMaxFailures) {
                ++p.failures;
                Impl::requeue(*this, p, from_at(e));
            } else {
                Impl::finish_pub(*this, p, unexpected(from_at(e)));
            }
            Impl::check_link(*this);
            return;
        }
        case kSub: {
            detail::SubSlot& s = st_.subs[id];
            if (s.engine_seq != r.seq) return;
            if (e.kind == at::ErrorKind::aborted) {
                s.state = detail::SubSlot::State::pending;
                return;
            }
            s.state = detail::SubSlot::State::refused;
            listener_.on_subscribed(s.ticket, unexpected(from_at(e)));
            Impl::maybe_online(*this);
            return;
        }
        case kUns:
            listener_.on_unsubscribed(id, unexpected(from_at(e)));
            return;
        case kStep:
            if (rebooting_ || r.seq != step_seq_) return;
            step_seq_ = 0;
            Impl::step_failed(*this, static_cast<std::uint8_t>(tag_op(r.tag)), from_at(e));
            return;
        case kOp:
            listener_.on_reply(id, unexpected(from_at(e)));
            return;
    }
}

}  // namespace qmtkit::qmt
