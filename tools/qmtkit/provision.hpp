// Factory provisioning (`qmtkit provision`, docs/provisioning.md): many modules at once, one
// process, one asio::io_context, one state machine per port (PortJob). Each port has its own
// transport, qmt::Client and host::Runner on the shared io_context; nothing here starts a thread.
//
// A port's steps, in order (the names are the report's "step" and the ledger's failed_step):
//
//   open      the device (serial path or tcp://HOST:PORT)
//   sync      AT until OK, trying each --baud in turn; then ATE0, AT+CMEE=1
//   identity  AT+CGSN=1 (IMEI, Luhn-checked), AT+CIMI, AT+NCCID, ATI
//   bind      a record of the manifest through the ledger (its constraints: one IMEI per record,
//             one record per IMEI, across runs and line PCs)
//   register  only for a manifest naming a product secret: dynamic registration at the cloud
//             (the issued secret kept in the ledger; a kept secret is used instead, a dry run
//             registers nothing)
//   sign      the host side: the credential image built (signed on the host where the cloud
//             needs it), parsed back by the firmware's parser and turned into the session by
//             the firmware's cloud profile
//   verify    the live check through the module with that session: configure, OPEN, CONNECT,
//             SUBSCRIBE a per-device test topic, PUBLISH to it, read it back; then DISCONNECT
//             and CLOSE
//   write     DIR/<IMEI>.bin and DIR/<IMEI>.hex (mode 0600: the image holds the secret)
//
// A port that fails stops only itself (its module is left closed), and every attempt goes into
// the ledger. No secret is ever put into a report, a log line or a message.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "qmtkit/ledger/ledger.hpp"
#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::cli::provision {

// Exit statuses of `qmtkit provision` (docs/provisioning.md); 0 and 1 as every subcommand.
inline constexpr int kExitSomeFailed = 3;   // one or more ports failed
inline constexpr int kExitBadManifest = 4;  // invalid manifest, or a secret that does not resolve
inline constexpr int kExitNoPort = 5;       // no port could be opened

struct Settings {
    std::vector<unsigned> bauds{9600};  // tried in order until the module answers AT
    std::string station;                // the ledger's station (default: the host name)
    bool dry_run = false;
    std::string out_dir;
    std::uint32_t flash_address = 0;
    std::string broker_host;  // the live check's broker instead of the image's (empty: image's)
    std::optional<std::uint16_t> broker_port;
    bool sign_on_host = false;  // aliyun: profile 4 (signed here) instead of 1 (aliauth)
    std::string test_topic;     // template: {product} {device} {imei}; empty: per cloud
    std::chrono::milliseconds timeout{120000};  // per port, open to write
    bool trace = false;                         // the AT exchange into the log (masked)
};

// One port's outcome: the --json object, the plain line, the ledger's attempt.
struct Report {
    std::string port, imei, imsi, iccid, firmware, cloud, product, device_name;
    ledger::Outcome result = ledger::Outcome::failed;
    std::string step;    // failed: the step that failed
    std::string reason;  // failed: why (one line, no secret)
    double ms = 0;
    bool opened = false;  // the device could be opened
    std::vector<ledger::StepTime> steps;
};

// What the ports tell the run (the live view, the log).
class Observer {
  public:
    virtual void on_step(std::size_t port, std::string_view step) = 0;
    virtual void on_done(std::size_t port, const Report& r) = 0;
    virtual void on_log(std::size_t port, std::string_view line) = 0;

  protected:
    ~Observer() = default;
};

// What every port shares. Used on the io_context's thread only.
struct Context {
    Context(asio::io_context& i, const manifest::Manifest& m) : io(i), manifest(m) {}
    asio::io_context& io;
    const manifest::Manifest& manifest;
    ledger::Ledger* ledger = nullptr;  // dry run: may be nullptr (no ledger yet)
    std::int64_t batch_id = 0;         // dry run: 0 when the batch is not in the ledger yet
    Settings settings;
    Observer* observer = nullptr;
    // Dry run: the batch's bindings (by IMEI) and the record indexes this run would take.
    std::map<std::string, ledger::Record> bound;
    std::set<std::int64_t> taken;
};

// Provisions `devices` concurrently on ctx.io; the reports in the order of `devices`. SIGINT /
// SIGTERM (unless ignored at start) abandon every port still running: each is closed cleanly
// and recorded as failed at its step, reason "interrupted"; a second signal ends the process.
class Run {
  public:
    Run(Context& ctx, std::vector<std::string> devices);
    ~Run();
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

    std::vector<Report> run();
    int signal() const { return signal_; }  // 0: not interrupted

  private:
    class Job;
    Context& ctx_;
    std::vector<std::string> devices_;
    std::vector<std::unique_ptr<Job>> jobs_;
    int signal_ = 0;
};

// ------------------------------------------------------------------- dynamic registration

// True when the manifest names a product secret instead of this device's secret (dynamic
// registration: the cloud hands out the device secret): "dynamic_registration": true.
bool needs_registration(const manifest::Manifest& m, const manifest::Device& d);

struct Registration {
    std::optional<std::string> device_secret;  // set on success
    std::string error;                         // otherwise: why (no secret)
};
// Asks the cloud for the device secret of `d` (bound to `imei`): manifest::register_dynamic with
// the manifest's product secret. The provisioner keeps what it returns in the ledger
// (Ledger::store_secret) before using it. Blocks (libcurl) until the cloud answers.
Registration register_device(const manifest::Manifest& m, const manifest::Device& d,
                             const std::string& imei);

// The per-device test topic of the live check: `tmpl` with {product}, {device} and {imei}
// replaced; an empty template is the cloud's usual device topic (aliyun
// "/{product}/{device}/user/provision", tencent "{product}/{device}/data").
std::string test_topic(const std::string& tmpl, manifest::Cloud cloud, const std::string& product,
                       const std::string& device, const std::string& imei);

}  // namespace qmtkit::cli::provision
