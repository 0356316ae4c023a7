#include "provision.hpp"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <random>
#include <utility>
#include <variant>

#include "link.hpp"
#include "qmtkit/at/commands.hpp"
#include "qmtkit/cloud/image_session.hpp"
#include "qmtkit/host/blocking_client.hpp"
#include "qmtkit/host/runner.hpp"
#include "qmtkit/host/transport.hpp"
#include "qmtkit/image/credential_image.hpp"
#include "qmtkit/image/intel_hex.hpp"
#include "qmtkit/image/writer.hpp"
#include "qmtkit/qmt/client.hpp"

namespace qmtkit::cli::provision {

namespace mf = qmtkit::manifest;
namespace lg = qmtkit::ledger;
using Clock = std::chrono::steady_clock;

bool needs_registration(const mf::Manifest& m, const mf::Device& /*d*/) {
    return m.dynamic_registration;
}

Registration register_device(const mf::Manifest& m, const mf::Device& d, const std::string& imei) {
    const mf::SecretValue product_secret = mf::resolve_product_secret(m);
    if (!product_secret.value)
        return {std::nullopt, product_secret.error ? product_secret.error->to_string()
                                                   : "the manifest has no product secret"};
    auto r = mf::register_dynamic(m, d, *product_secret.value);
    if (auto* secret = std::get_if<std::string>(&r)) return {std::move(*secret), {}};
    return {std::nullopt, "dynamic registration of " + d.device_name + " (IMEI " + imei +
                              ") failed: " + std::get<cloud::DynregError>(r).message};
}

std::string test_topic(const std::string& tmpl, mf::Cloud cloud, const std::string& product,
                       const std::string& device, const std::string& imei) {
    std::string t = tmpl;
    if (t.empty())
        t = cloud == mf::Cloud::aliyun ? "/{product}/{device}/user/provision"
                                       : "{product}/{device}/data";
    const auto put = [&](const std::string& key, const std::string& v) {
        for (auto at = t.find(key); at != std::string::npos; at = t.find(key, at + v.size()))
            t.replace(at, key.size(), v);
    };
    put("{product}", product);
    put("{device}", device);
    put("{imei}", imei);
    return t;
}

namespace {

std::string at_error(const at::AtError& e) {
    if (e.kind == at::ErrorKind::cme)
        return "+CME ERROR: " + std::to_string(static_cast<unsigned>(e.cme));
    return std::string(at::to_string(e.kind));
}

// "+CGSN:866971030000001" / "+CGSN: 866..." / a bare line: the value, trimmed.
std::string info_value(std::string_view line, std::string_view prefix) {
    if (!prefix.empty() && line.substr(0, prefix.size()) == prefix) {
        line.remove_prefix(prefix.size());
        if (!line.empty() && line.front() == ':') line.remove_prefix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '"')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '"' || line.back() == '\r'))
        line.remove_suffix(1);
    return std::string(line);
}

// Written beside, synced, then renamed over `path`: a flasher never reads half an image.
// Mode 0600: the image holds the device's secret.
void write_file_atomic(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(e));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot rename " + tmp + ": " + std::strerror(e));
    }
}

std::string nonce() {
    static std::mt19937_64 rng(std::random_device{}());
    static const char* hex = "0123456789abcdef";
    std::string s = "qmtkit-provision-";
    for (int i = 0; i < 16; ++i) s += hex[rng() % 16];
    return s;
}

// How long a port is left to bring in what a previous run left on its way before the first AT.
constexpr std::chrono::milliseconds kQuiet{150};

bool token_refused(const qmt::ClientError& e) {
    return e.code == qmt::Error::tenauth_failed &&
           e.value == static_cast<int>(qmt::TenAuthResult::http_packet_error);
}

}  // namespace

// ------------------------------------------------------------------------------ one port

class Run::Job final : public qmt::Listener, public at::CommandHandler {
  public:
    Job(Context& c, std::size_t index, std::string device)
        : c_(c), index_(index), deadline_(c.io), close_timer_(c.io), quiet_(c.io) {
        r_.port = std::move(device);
        r_.cloud = std::string(mf::to_string(c.manifest.cloud));
    }
    ~Job() {
        if (runner_) runner_->stop();
    }
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    void start();
    // SIGINT / SIGTERM: abandon the device at its step (the module closed cleanly first).
    void interrupt() { fail("interrupted"); }
    bool done() const { return done_; }
    const Report& report() const { return r_; }
    std::function<void()> notify;  // after the port is done

  private:
    enum Tag : std::uint32_t { t_at = 1, t_echo, t_cmee, t_imei, t_imsi, t_iccid, t_ident };

    void step(const char* name);
    void log(const std::string& line) { c_.observer->on_log(index_, line); }
    void later(std::function<void()> fn) {
        asio::post(c_.io, [this, fn = std::move(fn)] {
            if (!done_) fn();
        });
    }
    void send(Tag t);
    void set_baud(unsigned baud);
    void on_command(Tag t, const at::Outcome& outcome);
    void bind();
    void sign(const std::string& secret);
    void live();
    void live_done();
    void write_images();
    void fail(const std::string& reason);
    // DISCONNECT and CLOSE when the live check started the link (at most 3 s), then `next`.
    void close_module(std::function<void()> next);
    void finish(lg::Outcome outcome);

    // at::CommandHandler (the sync and identity commands)
    void on_info(const at::CommandRef&, std::string_view line) override {
        info_.emplace_back(line);
    }
    void on_final(const at::CommandRef& ref, const at::Outcome& outcome) override {
        const Tag t = static_cast<Tag>(ref.tag);
        later([this, t, outcome] { on_command(t, outcome); });
    }
    // qmt::Listener (the live check)
    void on_link(qmt::LinkState s) override;
    void on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) override;
    void on_stat(qmt::StatCode code) override {
        cause_ = "+QMTSTAT " + std::to_string(static_cast<int>(code)) + " (" +
                 std::string(qmt::to_string(code)) + ")";
    }
    void on_subscribed(std::uint32_t, const qmt::Result<qmt::SubscribeReport>& r) override;
    void on_published(std::uint32_t, const qmt::Result<qmt::PublishReport>& r) override {
        if (!r) {
            const std::string why =
                "PUBLISH to the test topic failed: " + host::describe(r.error());
            later([this, why] { fail(why); });
        }
    }
    void on_message(const qmt::Message& m) override {
        const std::string_view payload(reinterpret_cast<const char*>(m.payload.data),
                                       m.payload.size);
        if (m.topic == topic_ && payload == nonce_ && !echoed_) {
            echoed_ = true;
            later([this] { live_done(); });
        }
    }

    Context& c_;
    std::size_t index_;
    Report r_;
    std::shared_ptr<host::Transport> transport_;
    bool serial_ = false;
    std::unique_ptr<qmt::Client<>> client_;
    std::unique_ptr<host::Runner> runner_;
    asio::steady_timer deadline_;
    asio::steady_timer close_timer_;
    asio::steady_timer quiet_;
    Clock::time_point started_at_{}, step_at_{};
    const char* cur_step_ = "open";

    std::vector<std::string> info_;
    std::size_t baud_index_ = 0;
    int at_tries_ = 0;

    std::optional<lg::Record> record_;
    bool bound_before_ = false;  // the IMEI was bound to this record by an earlier run
    bool provisioned_before_ = false;
    const mf::Device* device_ = nullptr;
    std::vector<std::uint8_t> image_;
    cloud::ProfileStore profile_;
    std::string broker_host_;
    std::string topic_, nonce_;
    std::string cause_;  // the live check's last problem (for a timeout's message)
    int tenauth_refusals_ = 0;

    bool live_started_ = false;
    bool published_ = false;
    bool echoed_ = false;
    bool closing_ = false;
    bool failing_ = false;
    bool transport_failed_ = false;
    bool done_ = false;
    std::function<void()> after_close_;
};

void Run::Job::step(const char* name) {
    const auto now = Clock::now();
    if (step_at_ != Clock::time_point{})
        r_.steps.push_back(
            {cur_step_, std::chrono::duration<double, std::milli>(now - step_at_).count()});
    step_at_ = now;
    cur_step_ = name;
    c_.observer->on_step(index_, name);
}

void Run::Job::start() {
    started_at_ = Clock::now();
    step("open");
    const Settings& s = c_.settings;
    try {
        transport_ = host::open_transport(c_.io, r_.port, {s.bauds.front()});
    } catch (const std::exception& e) {
        fail(e.what());
        return;
    }
    r_.opened = true;
    serial_ = r_.port.rfind("tcp://", 0) != 0;
    client_ = std::make_unique<qmt::Client<>>(*transport_, *this);
    runner_ = std::make_unique<host::Runner>(transport_, *client_);
    runner_->set_error_handler([this](std::error_code ec) {
        transport_failed_ = true;
        const std::string why = "the port failed: " + host::describe_port_error(ec);
        later([this, why] { fail(why); });
    });
    if (s.trace)
        runner_->set_trace(
            [this](at::TraceKind k, std::string_view t) { log(host::format_trace(k, t)); });
    runner_->start();
    deadline_.expires_after(s.timeout);
    deadline_.async_wait([this](const std::error_code& ec) {
        if (ec || done_) return;
        std::string why =
            "timed out after " + format_seconds(c_.settings.timeout.count() / 1000.0) + " s";
        if (!cause_.empty()) why += " (" + cause_ + ")";
        fail(why);
    });
    step("sync");
    set_baud(s.bauds.front());
    // What a previous run left unread (a killed provisioner's last answers: "OK" to a command it
    // never heard back) must not answer our first commands: drop what the port holds, and let
    // what is still on its way arrive before the first AT (a final result with no command
    // running is ignored by the engine).
    if (auto* serial = dynamic_cast<host::SerialTransport*>(transport_.get()))
        ::tcflush(serial->port().native_handle(), TCIOFLUSH);
    quiet_.expires_after(kQuiet);
    quiet_.async_wait([this](const std::error_code& ec) {
        if (!ec && !done_ && !failing_) send(t_at);
    });
}

void Run::Job::set_baud(unsigned baud) {
    if (!serial_) return;
    auto* serial = dynamic_cast<host::SerialTransport*>(transport_.get());
    if (serial == nullptr) return;
    std::error_code ec;
    serial->port().set_option(asio::serial_port_base::baud_rate(baud), ec);
    if (ec) log("cannot set " + std::to_string(baud) + " baud: " + ec.message());
    client_->engine().set_byte_time_us((10'000'000u + baud / 2) / baud);
}

void Run::Job::send(Tag t) {
    info_.clear();
    auto r = runner_->apply([&]() -> Expected<std::uint32_t, at::AtError> {
        at::EngineCore& e = client_->engine();
        switch (t) {
            case t_at:
                return e.submit(at::cmd::at, this, t);
            case t_echo:
                return e.submit(at::cmd::echo_off, this, t);
            case t_cmee:
                return e.submit(at::cmd::cmee, this, t, 1);
            case t_imei:
                return e.submit(at::cmd::imei, this, t, 1);
            case t_imsi:
                return e.submit(at::cmd::imsi, this, t);
            case t_iccid:
                return e.submit(at::cmd::iccid, this, t);
            case t_ident:
                return e.submit(at::cmd::identify, this, t);
        }
        return e.submit(at::cmd::at, this, t);
    });
    if (!r) fail("cannot send the command: " + at_error(r.error()));
}

void Run::Job::on_command(Tag t, const at::Outcome& outcome) {
    if (failing_) return;
    const bool ok = outcome.has_value();
    switch (t) {
        case t_at:
            if (ok) return send(t_echo);
            if (++at_tries_ < 2) return send(t_at);
            at_tries_ = 0;
            if (serial_ && ++baud_index_ < c_.settings.bauds.size()) {
                set_baud(c_.settings.bauds[baud_index_]);
                return send(t_at);
            }
            {
                std::string rates;
                for (unsigned b : c_.settings.bauds)
                    rates += (rates.empty() ? "" : ", ") + std::to_string(b);
                return fail(serial_ ? "no answer to AT at " + rates + " baud" : "no answer to AT");
            }
        case t_echo:
            if (!ok) return fail("ATE0: " + at_error(outcome.error()));
            return send(t_cmee);
        case t_cmee:
            if (!ok) return fail("AT+CMEE=1: " + at_error(outcome.error()));
            step("identity");
            return send(t_imei);
        case t_imei:
            if (!ok) return fail("AT+CGSN=1: " + at_error(outcome.error()));
            for (const auto& l : info_)
                if (l.rfind("+CGSN", 0) == 0) r_.imei = info_value(l, "+CGSN");
            if (r_.imei.empty()) return fail("AT+CGSN=1 gave no IMEI");
            if (!mf::imei_valid(r_.imei)) {
                const std::string shown = r_.imei;
                r_.imei.clear();  // not an IMEI: kept out of the report's imei
                return fail("the module's IMEI '" + shown +
                            "' is not 15 digits ending in its Luhn check digit");
            }
            return send(t_imsi);
        case t_imsi:  // a module without a SIM still has an IMEI: IMSI and ICCID may be empty
            if (ok && !info_.empty()) r_.imsi = info_value(info_.front(), "");
            return send(t_iccid);
        case t_iccid:
            if (ok)
                for (const auto& l : info_)
                    if (l.rfind("+NCCID", 0) == 0) r_.iccid = info_value(l, "+NCCID");
            return send(t_ident);
        case t_ident:
            if (ok) {
                std::string all;
                for (const auto& l : info_) {
                    if (l.rfind("Revision", 0) == 0) r_.firmware = info_value(l, "Revision");
                    all += (all.empty() ? "" : " ") + l;
                }
                if (r_.firmware.empty()) r_.firmware = all;
            }
            return bind();
    }
}

void Run::Job::bind() {
    step("bind");
    const mf::Manifest& m = c_.manifest;
    if (c_.settings.dry_run) {
        // What bind() would answer, without writing: the IMEI's binding, else the record listing
        // it, else the lowest free unlisted record not already picked by another port of this run.
        if (c_.ledger != nullptr) {
            auto b = c_.ledger->binding_of(r_.imei);
            if (!b) return fail(b.error().message);
            if (*b && (*b)->record.batch_id != c_.batch_id)
                return fail("IMEI " + r_.imei + " is bound to a record of another batch");
        }
        std::optional<std::int64_t> index;
        if (auto it = c_.bound.find(r_.imei); it != c_.bound.end()) {
            record_ = it->second;
            index = it->second.index;
            bound_before_ = true;
            if (c_.ledger != nullptr) {
                auto p = c_.ledger->provisioned_before(it->second.id, r_.imei);
                if (!p) return fail(p.error().message);
                provisioned_before_ = *p;
            }
        } else {
            for (std::size_t i = 0; i < m.devices.size() && !index; ++i)
                if (m.devices[i].imei && *m.devices[i].imei == r_.imei) {
                    if (c_.taken.count(static_cast<std::int64_t>(i)) != 0)
                        return fail("the record listing IMEI " + r_.imei +
                                    " is bound to another IMEI");
                    index = static_cast<std::int64_t>(i);
                }
            for (std::size_t i = 0; i < m.devices.size() && !index; ++i)
                if (!m.devices[i].imei && c_.taken.count(static_cast<std::int64_t>(i)) == 0)
                    index = static_cast<std::int64_t>(i);
            if (!index) return fail("no record left: every record of the batch is bound");
            c_.taken.insert(*index);
        }
        device_ = &m.devices[static_cast<std::size_t>(*index)];
    } else {
        auto b = c_.ledger->bind(c_.batch_id, r_.imei, c_.settings.station);
        if (!b) return fail(b.error().message);
        record_ = b->record;
        bound_before_ = b->already;
        if (b->already) {
            auto p = c_.ledger->provisioned_before(b->record.id, r_.imei);
            if (!p) return fail(p.error().message);
            provisioned_before_ = *p;
        }
        if (b->record.index < 0 || static_cast<std::size_t>(b->record.index) >= m.devices.size())
            return fail("the ledger's record " + std::to_string(b->record.index) +
                        " is not in the manifest");
        device_ = &m.devices[static_cast<std::size_t>(b->record.index)];
    }
    r_.product = device_->product;
    r_.device_name = device_->device_name;
    log("bound to record " + r_.product + "/" + r_.device_name +
        (bound_before_ ? " (bound before)" : ""));

    if (needs_registration(m, *device_)) {
        step("register");
        std::optional<std::string> secret;
        if (record_ && c_.ledger != nullptr) {
            auto kept = c_.ledger->secret(record_->id);
            if (!kept) return fail(kept.error().message);
            secret = *kept;
        }
        if (!secret && c_.settings.dry_run) {
            // A registration is no dry run: the cloud issues (Aliyun: replaces) the device's
            // secret, and a product that registers a name once would refuse the real run. The
            // host-side check takes a placeholder of the issued secret's form instead.
            log("would register " + r_.product + "/" + r_.device_name +
                " (dry run: not registered)");
            secret = m.cloud == mf::Cloud::tencent ? std::string("AAAAAAAAAAAAAAAAAAAAAA==")
                                                   : std::string(32, '0');
        }
        if (!secret) {
            auto reg = register_device(m, *device_, r_.imei);
            if (!reg.device_secret) return fail(reg.error);
            auto st = c_.ledger->store_secret(record_->id, *reg.device_secret);
            if (!st) return fail(st.error().message);
            secret = std::move(reg.device_secret);
        }
        return sign(*secret);
    }
    auto secret = mf::resolve_secret(m, *device_);
    if (!secret.value) return fail(secret.error->to_string());
    sign(*secret.value);
}

void Run::Job::sign(const std::string& secret) {
    step("sign");
    image::DeviceImageOptions o;
    o.imei = r_.imei;
    o.sign_on_host = c_.settings.sign_on_host;
    try {
        image_ = image::device_image(c_.manifest, *device_, secret, o).bytes;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    // The writer checked it already; the session comes from the bytes as the firmware reads them.
    auto parsed = image::parse_image(image_.data(), image_.size());
    if (!parsed) return fail("the image does not parse: " + image::describe(parsed.error()));
    if (parsed.value().imei != r_.imei) return fail("the image's IMEI is not the module's");
    if (auto s = cloud::session_from_image(parsed.value(), profile_); !s)
        return fail("the image's cloud profile refused it: " + image::describe(s.error()));
    qmt::Session& session = profile_.session;
    if (!c_.settings.broker_host.empty()) {
        broker_host_ = c_.settings.broker_host;
        session.host = broker_host_;
        if (c_.settings.broker_port) session.port = *c_.settings.broker_port;
    }
    topic_ =
        test_topic(c_.settings.test_topic, c_.manifest.cloud, r_.product, r_.device_name, r_.imei);
    if (auto v = qmt::validate_topic(topic_); !v)
        return fail("the test topic '" + topic_ +
                    "' cannot be published to: " + host::describe(v.error()));
    if (c_.settings.dry_run)
        return finish(provisioned_before_ ? lg::Outcome::already : lg::Outcome::provisioned);
    live();
}

void Run::Job::live() {
    step("verify");
    nonce_ = nonce();
    if (auto r = client_->configure(profile_.session); !r)
        return fail("the module cannot take the session: " + host::describe(r.error()));
    if (auto r = client_->subscribe(topic_, 1); !r)
        return fail("cannot subscribe to the test topic: " + host::describe(r.error()));
    live_started_ = true;
    auto r = runner_->apply([&] { return client_->start(host::Runner::now()); });
    if (!r) return fail("cannot start the link: " + host::describe(r.error()));
}

void Run::Job::on_link(qmt::LinkState s) {
    log(std::string("link ") + std::string(qmt::to_string(s)));
    if (closing_ && s == qmt::LinkState::stopped && after_close_) {
        auto next = std::move(after_close_);
        after_close_ = nullptr;
        close_timer_.cancel();
        later(std::move(next));
    }
}

void Run::Job::on_bringup_error(qmt::LinkState during, const qmt::ClientError& e) {
    if (!live_started_ || closing_) return;
    cause_ = describe_cause(during, e);
    log("bring-up: " + cause_);
    tenauth_refusals_ = token_refused(e) ? tenauth_refusals_ + 1 : 0;
    if (cannot_heal(e) || tenauth_refusals_ >= 2) {
        const std::string why = cause_;
        later([this, why] { fail(why); });
    }
}

void Run::Job::on_subscribed(std::uint32_t, const qmt::Result<qmt::SubscribeReport>& r) {
    if (!r) {
        const std::string why = "SUBSCRIBE to the test topic failed: " + host::describe(r.error());
        later([this, why] { fail(why); });
        return;
    }
    if (published_) return;  // a resubscription after a reconnect
    published_ = true;
    if (auto p = client_->publish(topic_, ByteView(nonce_), {1}); !p) {
        const std::string why = "cannot publish to the test topic: " + host::describe(p.error());
        later([this, why] { fail(why); });
    }
}

void Run::Job::live_done() {
    if (failing_ || closing_) return;
    log("test message read back on " + topic_);
    close_module([this] {
        if (!failing_) write_images();
    });
}

void Run::Job::write_images() {
    step("write");
    const std::string base = c_.settings.out_dir + "/" + r_.imei;
    try {
        write_file_atomic(base + ".bin", std::string(image_.begin(), image_.end()));
        write_file_atomic(base + ".hex", image::to_intel_hex(image_.data(), image_.size(),
                                                             c_.settings.flash_address));
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    finish(provisioned_before_ ? lg::Outcome::already : lg::Outcome::provisioned);
}

void Run::Job::close_module(std::function<void()> next) {
    const bool up = live_started_ && !transport_failed_ && client_ &&
                    client_->state() != qmt::LinkState::stopped;
    if (!up || closing_) {
        if (!closing_) next();
        return;
    }
    closing_ = true;
    after_close_ = std::move(next);
    runner_->apply([&] { client_->stop(); });
    close_timer_.expires_after(std::chrono::seconds(3));
    close_timer_.async_wait([this](const std::error_code& ec) {
        if (ec || !after_close_) return;
        log("the module did not report the link closed within 3 s");
        auto n = std::move(after_close_);
        after_close_ = nullptr;
        n();
    });
}

void Run::Job::fail(const std::string& reason) {
    if (done_ || failing_) return;
    failing_ = true;
    r_.step = cur_step_;
    r_.reason = reason;
    log("failed at " + r_.step + ": " + reason);
    if (closing_) {  // already closing (after the echo): finish when that is over
        after_close_ = [this] { finish(lg::Outcome::failed); };
        return;
    }
    close_module([this] { finish(lg::Outcome::failed); });
}

void Run::Job::finish(lg::Outcome outcome) {
    if (done_) return;
    step("done");  // closes the last step's time; "done" itself is no step
    r_.result = outcome;
    r_.ms = std::chrono::duration<double, std::milli>(Clock::now() - started_at_).count();
    if (!c_.settings.dry_run && c_.ledger != nullptr && c_.batch_id != 0) {
        lg::Attempt a;
        a.station = c_.settings.station;
        a.port = r_.port;
        a.imei = r_.imei;
        a.imsi = r_.imsi;
        a.iccid = r_.iccid;
        a.firmware = r_.firmware;
        if (record_) a.record_id = record_->id;
        a.result = r_.result;
        a.failed_step = r_.step;
        a.reason = r_.reason;
        a.steps = r_.steps;
        if (auto id = c_.ledger->record_attempt(c_.batch_id, a); !id) {
            log("cannot record the attempt: " + id.error().message);
            if (r_.result != lg::Outcome::failed) {
                r_.result = lg::Outcome::failed;
                r_.step = "record";
                r_.reason = "cannot record the attempt: " + id.error().message;
            }
        }
    }
    done_ = true;
    deadline_.cancel();
    close_timer_.cancel();
    quiet_.cancel();
    if (runner_) runner_->stop();
    c_.observer->on_done(index_, r_);
    if (notify) notify();
}

// --------------------------------------------------------------------------------- the run

Run::Run(Context& ctx, std::vector<std::string> devices)
    : ctx_(ctx), devices_(std::move(devices)) {}
Run::~Run() = default;

std::vector<Report> Run::run() {
    asio::signal_set signals(ctx_.io);
    for (const int sig : {SIGINT, SIGTERM}) {
        // A signal ignored when the process started stays ignored, as the shell meant.
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        std::error_code ec;
        signals.add(sig, ec);
    }
    signals.async_wait([this, &signals](const std::error_code& ec, int sig) {
        if (ec) return;
        signal_ = sig;
        std::error_code ignored;
        signals.clear(ignored);  // back to the default action: a second signal ends at once
        for (auto& j : jobs_)
            if (!j->done()) j->interrupt();
    });
    for (std::size_t i = 0; i < devices_.size(); ++i)
        jobs_.push_back(std::make_unique<Job>(ctx_, i, devices_[i]));
    // Ends when every port is done: their timers and transports are gone by then, and the
    // signal set is cancelled here.
    for (auto& j : jobs_) {
        j->notify = [this, &signals] {
            for (auto& other : jobs_)
                if (!other->done()) return;
            std::error_code ignored;
            signals.cancel(ignored);
        };
        asio::post(ctx_.io, [&j] { j->start(); });
    }
    ctx_.io.run();
    std::vector<Report> out;
    for (auto& j : jobs_) out.push_back(j->report());
    return out;
}

}  // namespace qmtkit::cli::provision
