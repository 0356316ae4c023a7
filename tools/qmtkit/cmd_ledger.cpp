// `qmtkit ledger export | status`: read the binding ledger of factory provisioning
// (docs/ledger.md). export writes every provisioning attempt (JSON lines or CSV) with its
// station, port, module identity, record, result, failing step and per-step durations, and never
// a secret; status prints the counts. The ledger is opened without creating anything: a URL that
// names no ledger is a failure, not a new empty ledger.
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "common.hpp"
#include "qmtkit/ledger/ledger.hpp"

namespace qmtkit::cli {
namespace {

namespace lg = qmtkit::ledger;

struct LedgerOpts {
    std::string url;
    std::string format = "jsonl";
    std::string batch;
    std::string output;
    CLI::Option* url_opt = nullptr;
    CLI::Option* format_opt = nullptr;
};

void add_ledger_option(CLI::App& app, LedgerOpts& o) {
    o.url_opt = app.add_option("--ledger", o.url,
                               "The ledger: sqlite:PATH (or PATH) or postgresql://USER@HOST/DB "
                               "(required)")
                    ->type_name("URL");
    app.add_option("--batch", o.batch, "Only this batch (its manifest id, \"sha256:...\")")
        ->type_name("ID");
}

// The ledger, or a failure line (the URL without its password). A missing or malformed --ledger
// is a usage error.
std::optional<lg::Ledger> open_ledger(const LedgerOpts& o, const std::string& tool,
                                      std::optional<std::int64_t>& batch, int& status) {
    require(o.url_opt, "--ledger");
    const auto parsed = lg::parse_url(o.url);
    if (!parsed) throw UsageError(parsed.error().message + ".");
    lg::OpenOptions opt;
    opt.create = false;
    auto l = lg::Ledger::open(o.url, opt);
    if (!l) {
        status = fail(tool, l.error().message);
        return std::nullopt;
    }
    if (!o.batch.empty()) {
        auto b = l->find_batch(o.batch);
        if (!b) {
            status = fail(tool, b.error().message);
            return std::nullopt;
        }
        batch = b->id;
    }
    return std::move(*l);
}

int run_export(const LedgerOpts& o) {
    const auto format = parse_choice(o.format, "format", "--format", {"jsonl", "csv"});
    int status = kExitFailed;
    std::optional<std::int64_t> batch;
    auto l = open_ledger(o, "ledger export", batch, status);
    if (!l) return status;
    std::ofstream file;
    if (!o.output.empty()) {
        file.open(o.output, std::ios::binary | std::ios::trunc);
        if (!file) return fail("ledger export", "cannot write " + o.output);
    }
    std::ostream& out = o.output.empty() ? std::cout : file;
    const auto r = l->export_attempts(
        out, format == "csv" ? lg::ExportFormat::csv : lg::ExportFormat::jsonl, batch);
    if (!r) return fail("ledger export", r.error().message);
    return kExitOk;
}

int run_status(const LedgerOpts& o) {
    int status = kExitFailed;
    std::optional<std::int64_t> batch;
    auto l = open_ledger(o, "ledger status", batch, status);
    if (!l) return status;
    const auto c = l->counts(batch);
    if (!c) return fail("ledger status", c.error().message);
    std::cout << "batches      " << c->batches << "\n"
              << "records      " << c->records << "\n"
              << "bound        " << c->bound << "\n"
              << "unbound      " << c->unbound << "\n"
              << "secrets      " << c->secrets << "\n"
              << "attempts     " << c->attempts << "\n"
              << "provisioned  " << c->provisioned << "\n"
              << "already      " << c->already << "\n"
              << "failed       " << c->failed << "\n";
    return kExitOk;
}

// A subcommand with qmtkit's help flag and exit-status table.
CLI::App* add_app(CLI::App& parent, const std::string& name, const std::string& what) {
    auto* app = parent.add_subcommand(name, what);
    app->set_help_flag("--help", "Print this help message and exit");
    app->footer(kExitStatusHelp);
    app->allow_extras();
    return app;
}

}  // namespace

Command add_ledger(CLI::App& root) {
    auto* app =
        add_app(root, "ledger", "Read the binding ledger of factory provisioning (docs/ledger.md)");
    app->require_subcommand(0, 1);

    auto ex = std::make_shared<LedgerOpts>();
    auto* exp = add_app(*app, "export",
                        "Every provisioning attempt, oldest first: JSON lines or CSV; never a "
                        "secret");
    add_ledger_option(*exp, *ex);
    ex->format_opt = exp->add_option("--format", ex->format, "jsonl or csv")
                         ->capture_default_str()
                         ->type_name("FORMAT");
    exp->add_option("--output", ex->output, "Write to this file instead of stdout")
        ->type_name("FILE");

    auto st = std::make_shared<LedgerOpts>();
    auto* sta = add_app(*app, "status", "Counts: records bound and unbound, attempts");
    add_ledger_option(*sta, *st);

    return {app, [exp, sta, ex, st]() {
                if (exp->parsed()) return run_export(*ex);
                if (sta->parsed()) return run_status(*st);
                return kExitUsage;  // check_chain required a subcommand already
            }};
}

}  // namespace qmtkit::cli
