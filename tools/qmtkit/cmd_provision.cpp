// `qmtkit provision`: factory provisioning of many modules at once (docs/provisioning.md). The
// command line, the checks made before any port is opened, the ledger and the batch, the live
// view (a line per port and a progress bar on a terminal, plain lines otherwise), the --json
// report and the exit status. The ports themselves: provision.hpp.
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "provision.hpp"
#include "qmtkit/ledger/ledger.hpp"
#include "qmtkit/manifest/manifest.hpp"
#include "session.hpp"

namespace qmtkit::cli {
namespace {

namespace mf = qmtkit::manifest;
namespace lg = qmtkit::ledger;
namespace pv = qmtkit::cli::provision;

const char* const kProvisionExitHelp =
    "Exit status (provision):\n"
    "  0    every port provisioned or already provisioned\n"
    "  1    a usage error (\"Error: ...\"), or the run could not start (ledger, --out)\n"
    "  3    one or more ports failed (the others were still provisioned)\n"
    "  4    the manifest is invalid, or a device's secret cannot be resolved\n"
    "  5    no port could be opened\n"
    "  130  interrupted by SIGINT (143: SIGTERM): ports in flight closed and recorded failed\n";

struct ProvisionOpts {
    std::string manifest;
    std::vector<std::string> devices;
    std::vector<std::string> globs;
    std::string out;
    std::string ledger;
    std::vector<std::string> bauds;
    std::string station;
    bool json = false;
    bool dry_run = false;
    std::string flash_address = "0";
    std::string broker;
    bool sign_on_host = false;
    std::string test_topic;
    std::string timeout_text = "120";
    std::string log;
    bool trace = false;
    CLI::Option* manifest_opt = nullptr;
    CLI::Option* out_opt = nullptr;
    CLI::Option* trace_opt = nullptr;
};

const std::vector<unsigned> kDefaultBauds{9600, 115200, 57600, 38400, 19200, 4800};

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown-station";
    return buf;
}

// `<manifest>.ledger.sqlite` beside the manifest: batch-17.json -> batch-17.ledger.sqlite.
std::string default_ledger(const std::string& manifest) {
    const auto slash = manifest.rfind('/');
    const auto dot = manifest.rfind('.');
    const std::string stem =
        dot != std::string::npos && (slash == std::string::npos || dot > slash + 1)
            ? manifest.substr(0, dot)
            : manifest;
    return "sqlite:" + stem + ".ledger.sqlite";
}

std::uint32_t parse_address(const std::string& text) {
    const std::string bad = "Invalid flash address given: " + text +
                            " (--flash-address takes 0 to 0xFFFFFFFF, decimal or 0x...).";
    if (text.empty()) throw UsageError(bad);
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const std::string digits = hex ? text.substr(2) : text;
    if (digits.empty() || digits.size() > (hex ? 8u : 10u)) throw UsageError(bad);
    for (char ch : digits)
        if (!(hex ? std::isxdigit(static_cast<unsigned char>(ch))
                  : std::isdigit(static_cast<unsigned char>(ch))))
            throw UsageError(bad);
    const unsigned long long v = std::stoull(digits, nullptr, hex ? 16 : 10);
    if (v > 0xFFFFFFFFull) throw UsageError(bad);
    return static_cast<std::uint32_t>(v);
}

bool make_dirs(const std::string& path, std::string& error) {
    std::string at;
    std::stringstream parts(path);
    std::string part;
    if (!path.empty() && path[0] == '/') at = "/";
    while (std::getline(parts, part, '/')) {
        if (part.empty()) continue;
        at += part + "/";
        if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST) {
            error = "cannot create " + at + ": " + std::strerror(errno);
            return false;
        }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        error = path + " is not a directory";
        return false;
    }
    return true;
}

std::string seconds_text(double ms) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << ms / 1000.0 << " s";
    return s.str();
}

// --------------------------------------------------------------------------- the live view

// On a terminal: one line per port (its step, then its result) and a progress bar, redrawn in
// place. Otherwise: one plain line per port as it ends. --log: every step, the module's
// identity, failures and (with --trace) the masked AT exchange, with a UTC time.
class View final : public pv::Observer {
  public:
    View(std::vector<std::string> ports, std::ostream& out, bool tty, std::ofstream* log,
         bool dry_run)
        : ports_(std::move(ports)),
          out_(out),
          tty_(tty),
          log_(log),
          dry_(dry_run),
          steps_(ports_.size(), "waiting"),
          reports_(ports_.size()),
          done_(ports_.size(), false) {
        for (const auto& p : ports_) width_ = std::max(width_, p.size());
        if (tty_) draw(true);
    }

    void on_step(std::size_t i, std::string_view step) override {
        steps_[i] = std::string(step);
        if (step != "done") on_log(i, "step " + std::string(step));
        if (tty_) draw(false);
    }
    void on_done(std::size_t i, const pv::Report& r) override {
        reports_[i] = r;
        done_[i] = true;
        on_log(i, line(r));
        if (tty_)
            draw(false);
        else
            out_ << "qmtkit provision: " << line(r) << std::endl;
    }
    void on_log(std::size_t i, std::string_view text) override {
        if (log_ == nullptr) return;
        *log_ << lg::now_utc() << ' ' << ports_[i] << ": " << text << '\n';
        log_->flush();
    }

  private:
    std::string line(const pv::Report& r) const {
        std::string s = r.port + ": ";
        if (r.result == lg::Outcome::failed) {
            s += std::string(dry_ ? "would fail" : "failed") + " at " + r.step + ": " + r.reason;
            if (!r.imei.empty()) s += " (IMEI " + r.imei + ")";
        } else {
            s += outcome_words(r) + " " + r.imei + " as " + r.product + "/" + r.device_name;
        }
        return s + " (" + seconds_text(r.ms) + ")";
    }

    // "provisioned", "already provisioned"; a dry run: "would provision", "already provisioned".
    std::string outcome_words(const pv::Report& r) const {
        if (r.result == lg::Outcome::already) return "already provisioned";
        return dry_ ? "would provision" : "provisioned";
    }

    void draw(bool first) {
        std::ostringstream s;
        if (!first) s << "\x1b[" << ports_.size() + 1 << "F";
        std::size_t ok = 0, failed = 0;
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            s << "\x1b[2K" << std::left << std::setw(static_cast<int>(width_)) << ports_[i] << "  ";
            if (!done_[i]) {
                s << steps_[i] << " ...";
            } else {
                const auto& r = reports_[i];
                if (r.result == lg::Outcome::failed) {
                    ++failed;
                    s << "FAILED at " << r.step << ": " << r.reason;
                } else {
                    ++ok;
                    s << outcome_words(r) << "  " << r.imei << "  " << r.product << "/"
                      << r.device_name;
                }
                s << "  (" << seconds_text(r.ms) << ")";
            }
            s << '\n';
        }
        const std::size_t n = ports_.size(), finished = ok + failed, bar = 30;
        const std::size_t fill = n == 0 ? bar : finished * bar / n;
        s << "\x1b[2K[" << std::string(fill, '#') << std::string(bar - fill, '-') << "] "
          << finished << "/" << n << " done, " << ok << " ok, " << failed << " failed\n";
        out_ << s.str() << std::flush;
    }

    std::vector<std::string> ports_;
    std::ostream& out_;
    bool tty_;
    std::ofstream* log_;
    bool dry_;
    std::vector<std::string> steps_;
    std::vector<pv::Report> reports_;
    std::vector<bool> done_;
    std::size_t width_ = 4;
};

nlohmann::ordered_json report_json(const pv::Report& r, bool dry_run) {
    using J = nlohmann::ordered_json;
    const auto text = [](const std::string& s) { return s.empty() ? J(nullptr) : J(s); };
    J j;
    j["port"] = r.port;
    j["imei"] = text(r.imei);
    j["imsi"] = text(r.imsi);
    j["iccid"] = text(r.iccid);
    j["firmware"] = text(r.firmware);
    j["cloud"] = r.cloud;
    j["product"] = text(r.product);
    j["device_name"] = text(r.device_name);
    j["result"] = std::string(lg::to_string(r.result));
    const bool failed = r.result == lg::Outcome::failed;
    j["step"] = failed ? J(r.step) : J(nullptr);
    j["reason"] = failed ? J(r.reason) : J(nullptr);
    j["ms"] = static_cast<std::int64_t>(r.ms + 0.5);
    if (dry_run) j["dry_run"] = true;
    return j;
}

// ------------------------------------------------------------------------------- the run

int run_provision(ProvisionOpts& o) {
    const std::string tool = "provision";
    // Everything on the command line first: nothing is opened before it is all checked.
    require(o.manifest_opt, "--manifest");
    if (o.devices.empty() && o.globs.empty())
        throw UsageError("--device or --devices is required.");
    if (!o.dry_run) require(o.out_opt, "--out");
    pv::Settings s;
    if (!o.bauds.empty()) {
        s.bauds.clear();
        for (const auto& b : o.bauds)
            s.bauds.push_back(
                static_cast<unsigned>(parse_uint(b, "baud rate", "--baud", 50, 4000000)));
    } else {
        s.bauds = kDefaultBauds;
    }
    s.flash_address = parse_address(o.flash_address);
    s.timeout = seconds(parse_seconds(o.timeout_text, "timeout", "--timeout"));
    if (!o.broker.empty()) parse_broker(o.broker, s.broker_host, s.broker_port);
    if (given(o.trace_opt) && o.log.empty()) throw UsageError("--trace needs --log FILE.");
    s.trace = o.trace;
    s.station = o.station.empty() ? host_name() : o.station;
    check_field(s.station, "station", "--station", 1, 255);
    s.dry_run = o.dry_run;
    s.out_dir = o.out;
    s.sign_on_host = o.sign_on_host;
    s.test_topic = o.test_topic;
    const std::string ledger_url = o.ledger.empty() ? default_ledger(o.manifest) : o.ledger;
    if (auto p = lg::parse_url(ledger_url); !p) throw UsageError(p.error().message + ".");

    // The manifest, and every secret it names (a registration manifest: none to resolve).
    auto loaded = mf::load_manifest(o.manifest);
    if (!loaded.manifest) {
        print_diagnostics(tool, o.manifest, loaded.errors);
        return pv::kExitBadManifest;
    }
    const mf::Manifest& m = *loaded.manifest;
    if (m.cloud == mf::Cloud::aliyun && m.secure_mode != 3) {
        fail(tool, o.manifest + ": secure_mode " + std::to_string(m.secure_mode) +
                       " (TLS) cannot be used: the module's MQTT connection (AT+QMTOPEN) is "
                       "plain TCP, secure_mode 3");
        return pv::kExitBadManifest;
    }
    if (m.cloud == mf::Cloud::tencent_token && s.sign_on_host)
        throw UsageError(
            "--sign-on-host cannot be used with a tencent-token manifest: a token "
            "expires, so the module fetches it.");
    {
        std::vector<mf::Diagnostic> errors;
        for (const auto& d : m.devices) {
            if (pv::needs_registration(m, d)) continue;
            auto sv = mf::resolve_secret(m, d);
            if (!sv.value) errors.push_back(*sv.error);
        }
        // tencent: every PSK decodes; dynamic registration: the product secret resolves.
        if (errors.empty() && (m.cloud == mf::Cloud::tencent || m.dynamic_registration))
            errors = mf::check_secrets(m);
        if (!errors.empty()) {
            print_diagnostics(tool, o.manifest, errors);
            return pv::kExitBadManifest;
        }
    }

    // The ports: --device as given, --devices expanded (sorted), each once.
    std::vector<std::string> ports;
    std::set<std::string> seen;
    const auto add_port = [&](const std::string& p) {
        if (seen.insert(p).second) ports.push_back(p);
    };
    for (const auto& d : o.devices) add_port(d);
    for (const auto& g : o.globs) {
        glob_t gl{};
        const int rc = ::glob(g.c_str(), 0, nullptr, &gl);
        if (rc == 0)
            for (std::size_t i = 0; i < gl.gl_pathc; ++i) add_port(gl.gl_pathv[i]);
        ::globfree(&gl);
    }
    if (ports.empty()) {
        fail(tool, "--devices matched no device (" + one_of(o.globs) + ")");
        return pv::kExitNoPort;
    }

    // The ledger and the batch (a dry run writes nothing: no ledger is created, no batch added).
    std::optional<lg::Ledger> ledger;
    std::int64_t batch_id = 0;
    asio::io_context io;
    pv::Context ctx{io, m};
    const lg::BatchSpec spec = lg::batch_from_manifest(m);
    if (o.dry_run) {
        lg::OpenOptions opt;
        opt.create = false;
        const auto where = lg::parse_url(ledger_url);
        struct stat st {};
        const bool absent = where->first == lg::Scheme::sqlite &&
                            ::stat(where->second.c_str(), &st) != 0 && errno == ENOENT;
        auto l = absent ? lg::Result<lg::Ledger>(lg::Error{lg::Errc::not_a_ledger, "no ledger"})
                        : lg::Ledger::open(ledger_url, opt);
        if (l) {
            ledger = std::move(*l);
            if (auto b = ledger->find_batch(spec.manifest_id)) {
                batch_id = b->id;
                auto all = ledger->bindings(batch_id);
                if (!all) return fail(tool, all.error().message);
                for (auto& bd : *all) {
                    ctx.taken.insert(bd.record.index);
                    ctx.bound.emplace(bd.imei, bd.record);
                }
            }
        } else if (l.error().code != lg::Errc::not_a_ledger) {
            return fail(tool, l.error().message);
        }
    } else {
        auto l = lg::Ledger::open(ledger_url);
        if (!l) return fail(tool, l.error().message);
        ledger = std::move(*l);
        auto b = ledger->import_batch(spec);
        if (!b) {
            fail(tool, o.manifest + ": " + b.error().message);
            return b.error().code == lg::Errc::batch_mismatch ||
                           b.error().code == lg::Errc::record_in_other_batch
                       ? pv::kExitBadManifest
                       : kExitFailed;
        }
        batch_id = b->id;
        std::string error;
        if (!make_dirs(o.out, error)) return fail(tool, error);
    }
    ctx.ledger = ledger ? &*ledger : nullptr;
    ctx.batch_id = batch_id;
    ctx.settings = s;

    std::ofstream log;
    if (!o.log.empty()) {
        log.open(o.log, std::ios::app);
        if (!log) return fail(tool, "cannot write " + o.log);
    }
    std::ostream& term = o.json ? std::cerr : std::cout;
    const bool tty = ::isatty(o.json ? 2 : 1) == 1;
    View view(ports, term, tty, o.log.empty() ? nullptr : &log, o.dry_run);
    ctx.observer = &view;

    const auto t0 = std::chrono::steady_clock::now();
    pv::Run run(ctx, ports);
    const auto reports = run.run();
    const double wall =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    std::size_t provisioned = 0, already = 0, failed = 0, opened = 0;
    for (const auto& r : reports) {
        opened += r.opened ? 1 : 0;
        if (r.result == lg::Outcome::provisioned) ++provisioned;
        if (r.result == lg::Outcome::already) ++already;
        if (r.result == lg::Outcome::failed) ++failed;
    }
    std::ostringstream summary;
    summary << "qmtkit provision: " << reports.size() << " port(s)"
            << (o.dry_run ? " (dry run)" : "") << ": " << provisioned << " provisioned, " << already
            << " already, " << failed << " failed in " << seconds_text(wall);
    if (run.signal() != 0) summary << "; interrupted";
    term << summary.str() << std::endl;
    if (log.is_open()) log << lg::now_utc() << ' ' << summary.str() << std::endl;
    if (o.json) {
        nlohmann::ordered_json arr = nlohmann::ordered_json::array();
        for (const auto& r : reports) arr.push_back(report_json(r, o.dry_run));
        std::cout << arr.dump(2) << std::endl;
    }
    if (run.signal() != 0) return exit_for_signal(run.signal());
    if (opened == 0) return pv::kExitNoPort;
    return failed == 0 ? kExitOk : pv::kExitSomeFailed;
}

}  // namespace

Command add_provision(CLI::App& root) {
    auto o = std::make_shared<ProvisionOpts>();
    auto* app = root.add_subcommand(
        "provision",
        "Factory provisioning: per module on each port, read its identity, bind a credential "
        "record of the manifest (ledger), verify it through the module, write its image");
    app->set_help_flag("--help", "Print this help message and exit");
    app->footer(kProvisionExitHelp);
    app->allow_extras();
    o->manifest_opt =
        app->add_option("--manifest", o->manifest, "The device manifest (JSON; required)")
            ->type_name("FILE");
    app->add_option("--device", o->devices,
                    "A module's serial device or tcp://HOST:PORT (repeat for more ports)")
        ->type_name("PATH");
    app->add_option("--devices", o->globs, "Every device matching GLOB ('/dev/ttyUSB*')")
        ->type_name("GLOB");
    o->out_opt = app->add_option("--out", o->out,
                                 "Directory for DIR/<IMEI>.bin and DIR/<IMEI>.hex (required, "
                                 "created if absent)")
                     ->type_name("DIR");
    app->add_option("--ledger", o->ledger,
                    "sqlite:PATH or postgresql://... (default: <manifest>.ledger.sqlite beside "
                    "the manifest)")
        ->type_name("URL");
    app->add_option("--baud", o->bauds,
                    "Baud rate(s) to find the module at, tried in order (repeat; default 9600, "
                    "115200, 57600, 38400, 19200, 4800)")
        ->type_name("N");
    app->add_option("--station", o->station,
                    "This line PC / fixture in the ledger (default: the host name)")
        ->type_name("NAME");
    app->add_flag("--json", o->json,
                  "One JSON array on stdout, an object per port (the live view goes to stderr)");
    app->add_flag("--dry-run", o->dry_run,
                  "Identity and the host-side check only: show what would be bound; no ledger "
                  "write, no live check, no image");
    app->add_option("--flash-address", o->flash_address,
                    "Address of the Intel HEX image (decimal or 0x...; default 0)")
        ->type_name("A");
    app->add_option("--broker", o->broker,
                    "HOST[:PORT] for the live check instead of the device's broker (the image "
                    "keeps the manifest's)");
    app->add_flag("--sign-on-host", o->sign_on_host,
                  "aliyun: sign on the host (image profile 4) instead of the module (profile 1)");
    app->add_option("--test-topic", o->test_topic,
                    "The live check's topic; {product}, {device}, {imei} replaced (default: "
                    "aliyun /{product}/{device}/user/provision, tencent {product}/{device}/data)")
        ->type_name("TEMPLATE");
    app->add_option("--timeout", o->timeout_text,
                    "Seconds each port may take, open to image (default 120)")
        ->type_name("S");
    app->add_option("--log", o->log, "Append every port's steps and results to FILE (no secret)")
        ->type_name("FILE");
    o->trace_opt = app->add_flag("--trace", o->trace,
                                 "With --log: the AT exchange too (secrets masked as \"***\")");
    return {app, [o]() { return run_provision(*o); }};
}

}  // namespace qmtkit::cli
