// The ledger across processes on one SQLite file: two helpers racing for records, a helper killed
// with SIGKILL at random moments again and again, and `qmtkit ledger export | status`.
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "race.hpp"

namespace qmtkit::test {
struct TempDir {
    std::string path = make_temp_dir("qmtkit-ledger-proc-");
    ~TempDir() { remove_tree(path); }
};
std::string ledger_url(const std::string& name) {
    static const TempDir dir;
    return "sqlite:" + dir.path + "/" + name + ".db";
}
}  // namespace qmtkit::test

namespace {

namespace lg = qmtkit::ledger;
using namespace std::chrono;
using qmtkit::test::drain;
using qmtkit::test::ledger_url;
using qmtkit::test::Process;
using qmtkit::test::words;

std::string path_of(const std::string& url) {
    return url.substr(7);
}

// PRAGMA integrity_check straight through sqlite3, not through the library.
std::string raw_integrity(const std::string& path) {
    sqlite3* db = nullptr;
    std::string out = "cannot open";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        out.clear();
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW)
                out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

TEST(LedgerProcesses, TwoProcessesRaceOnOneSqliteFile) {
    qmtkit::test::race_two_processes(LEDGER_HELPER_EXE, ledger_url("race"));
}

// kill -9 at random moments (while creating the schema, importing, inside a bind or an attempt):
// every line the helper printed (it prints after commit) is in the ledger, nothing is bound
// twice, the file passes integrity_check, and the next run carries on where it stopped.
TEST(LedgerProcesses, Kill9AtRandomMomentsLosesNothingCommitted) {
    const std::string url = ledger_url("kill9");
    const unsigned seed = std::random_device{}();
    std::mt19937 rng(seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::map<std::string, std::string> record_of;  // IMEI -> record index, as reported
    std::set<std::string> records_seen;
    long next = 0;
    int attempts_reported = 0, already_seen = 0, kills = 0, unreported = 0;
    const auto start = steady_clock::now();
    for (int round = 0; round < 60 && steady_clock::now() - start < seconds(20); ++round) {
        Process::Options po;
        po.capture_stdout = true;
        Process p({LEDGER_HELPER_EXE, "--ledger", url, "--records", "5000", "--listed", "20",
                   "--imei-from", std::to_string(std::max(0L, next - 3)), "--count", "100000",
                   "--secrets", "--station", "kill9"},
                  po);
        // Early rounds die young (schema creation, import); later ones mid-loop.
        const int window = round < 5 ? 15 : 150;
        std::this_thread::sleep_for(
            milliseconds(std::uniform_int_distribution<int>(0, window)(rng)));
        if (p.running()) ++kills;
        p.signal(SIGKILL);
        const auto out = drain(p, milliseconds(10000));
        for (const auto& line : out.lines) {
            const auto w = words(line);
            if (w.empty()) continue;
            ASSERT_NE(w[0], "ERROR") << line;
            if (w[0] == "ATTEMPT") ++attempts_reported;
            if (w[0] != "BOUND") continue;
            ASSERT_EQ(w.size(), 5u) << line;
            const auto [it, fresh] = record_of.emplace(w[1], w[2]);
            if (!fresh) {
                EXPECT_EQ(it->second, w[2]) << "IMEI " << w[1] << " rebound: " << line;
                EXPECT_EQ(w[3], "1") << line;
                ++already_seen;
            } else {
                // already = 1 on first sight: the run before committed it and was killed before
                // it could print the line (at most once a kill).
                if (w[3] == "1") ++unreported;
                EXPECT_TRUE(records_seen.insert(w[2]).second) << "record bound twice: " << line;
            }
            next = std::max(next, std::stol(w[4]) + 1);
        }
        if (!std::filesystem::exists(path_of(url))) continue;  // killed before it made the file
        ASSERT_EQ(raw_integrity(path_of(url)), "ok") << "round " << round;
    }
    EXPECT_GE(kills, 10) << "the helper kept finishing before the kill";
    EXPECT_GT(record_of.size(), 20u) << "too few bindings to prove anything";
    EXPECT_GT(already_seen, 0) << "no run carried on over IMEIs bound by the run before";
    EXPECT_LE(unreported, kills);

    auto l = lg::Ledger::open(url);
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(*l->check(), "ok");
    for (const auto& [imei, index] : record_of) {
        const auto b = l->binding_of(imei);
        ASSERT_TRUE(b && *b) << "committed binding of " << imei << " lost";
        EXPECT_EQ(std::to_string((*b)->record.index), index) << imei;
    }
    const auto c = l->counts();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->batches, 1);
    EXPECT_EQ(c->records, 5000);
    // A binding may have committed with the kill before its line was printed, never fewer.
    EXPECT_GE(c->bound, static_cast<std::int64_t>(record_of.size()));
    EXPECT_LE(c->bound, static_cast<std::int64_t>(record_of.size()) + kills);
    EXPECT_GE(c->attempts, attempts_reported);
    // The next run carries on: a fresh IMEI gets the next record.
    const auto batch =
        l->find_batch(qmtkit::test::synthetic_batch("a1racePK", 5000, 20).manifest_id);
    ASSERT_TRUE(batch);
    auto fresh = l->bind(batch->id, qmtkit::test::imei_for(900000));
    ASSERT_TRUE(fresh) << fresh.error().message;
    EXPECT_FALSE(fresh->already);
}

// ---------------------------------------------------------------------- qmtkit ledger ...

struct Run {
    int status = -1;
    std::string out, err;
};

Run run_qmtkit(const std::vector<std::string>& args, const std::string& dir) {
    Process::Options po;
    po.stdout_path = dir + "/out.txt";
    po.stderr_path = dir + "/err.txt";
    std::vector<std::string> argv{QMTKIT_EXE};
    argv.insert(argv.end(), args.begin(), args.end());
    Run r;
    {
        Process p(argv, po);
        r.status = p.wait(milliseconds(30000)).value_or(-1);
    }
    const auto slurp = [](const std::string& f) {
        std::ifstream in(f);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    r.out = slurp(dir + "/out.txt");
    r.err = slurp(dir + "/err.txt");
    return r;
}

TEST(LedgerCli, ExportWritesEveryAttemptAndNoSecret) {
    const std::string url = ledger_url("cli");
    const std::string dir = std::filesystem::path(path_of(url)).parent_path().string();
    {
        Process::Options po;
        po.capture_stdout = true;
        Process p({LEDGER_HELPER_EXE, "--ledger", url, "--records", "8", "--imei-from", "0",
                   "--count", "10", "--secrets"},
                  po);
        const auto out = drain(p, milliseconds(30000));
        ASSERT_EQ(out.status, std::optional<int>(0));
    }
    const auto jl = run_qmtkit({"ledger", "export", "--ledger", url}, dir);
    ASSERT_EQ(jl.status, 0) << jl.err;
    EXPECT_EQ(jl.err, "");
    std::istringstream in(jl.out);
    int lines = 0, failed = 0;
    for (std::string line; std::getline(in, line); ++lines) {
        const auto j = nlohmann::json::parse(line);
        failed += j["result"] == "failed" ? 1 : 0;
        EXPECT_EQ(j["steps"].size(), 3u);
    }
    EXPECT_EQ(lines, 10);
    EXPECT_EQ(failed, 2);
    // The helper stored "SECRET-<imei>" for every bound record; none of it is exported.
    EXPECT_EQ(jl.out.find("SECRET"), std::string::npos);
    const auto csv = run_qmtkit(
        {"ledger", "export", "--ledger", url, "--format", "csv", "--output", dir + "/export.csv"},
        dir);
    ASSERT_EQ(csv.status, 0) << csv.err;
    std::ifstream f(dir + "/export.csv");
    const std::string text(std::istreambuf_iterator<char>(f), {});
    EXPECT_EQ(text.rfind("attempt_id,time,batch,", 0), 0u) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 11);
    EXPECT_EQ(text.find("SECRET"), std::string::npos);
    const auto st = run_qmtkit({"ledger", "status", "--ledger", url}, dir);
    ASSERT_EQ(st.status, 0) << st.err;
    EXPECT_NE(st.out.find("bound        8\n"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("failed       2\n"), std::string::npos) << st.out;
    const auto one =
        run_qmtkit({"ledger", "export", "--ledger", url, "--batch",
                    qmtkit::test::synthetic_batch("a1racePK", 8).manifest_id, "--format", "csv"},
                   dir);
    EXPECT_EQ(one.status, 0) << one.err;
    EXPECT_EQ(std::count(one.out.begin(), one.out.end(), '\n'), 11);
}

TEST(LedgerCli, FailuresAndUsageErrorsAreOneLine) {
    const std::string url = ledger_url("cli-missing");
    const std::string dir = std::filesystem::path(path_of(url)).parent_path().string();
    const auto missing = run_qmtkit({"ledger", "export", "--ledger", url}, dir);
    EXPECT_EQ(missing.status, 1);
    EXPECT_EQ(missing.err.rfind("qmtkit ledger export: cannot open ", 0), 0u) << missing.err;
    EXPECT_FALSE(std::filesystem::exists(path_of(url))) << "export created a ledger";
    const auto pw = run_qmtkit(
        {"ledger", "export", "--ledger", "postgresql://line:Hunter2pw@127.0.0.1:1/x"}, dir);
    EXPECT_EQ(pw.status, 1);
    EXPECT_EQ(pw.err.find("Hunter2pw"), std::string::npos) << pw.err;
    EXPECT_NE(pw.err.find("line:***@"), std::string::npos) << pw.err;
    const auto none = run_qmtkit({"ledger", "export"}, dir);
    EXPECT_EQ(none.status, 1);
    EXPECT_EQ(none.err, "Error: --ledger is required.\n");
    const auto fmt = run_qmtkit({"ledger", "export", "--ledger", url, "--format", "xml"}, dir);
    EXPECT_EQ(fmt.status, 1);
    EXPECT_EQ(fmt.err.rfind("Error: Invalid format given: xml", 0), 0u) << fmt.err;
    const auto sub = run_qmtkit({"ledger"}, dir);
    EXPECT_EQ(sub.status, 1);
    EXPECT_EQ(sub.err, "Error: A ledger subcommand is required: export or status.\n");
    const auto help = run_qmtkit({"ledger", "export", "--help"}, dir);
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("Exit status:"), std::string::npos);
}

}  // namespace
