// Two helper processes (ledger_helper.cpp) racing to bind 200 IMEIs over a batch of 150 records
// on one ledger: what several fixtures or line PCs do at once. Used with a SQLite file and with a
// PostgreSQL database.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "support.hpp"

namespace qmtkit::test {

struct HelperLines {
    std::vector<std::string> lines;
    std::optional<int> status;
};

// Reads every line of a helper until it exits (or `timeout`), then its exit status.
inline HelperLines drain(Process& p, std::chrono::milliseconds timeout) {
    HelperLines out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto line = p.read_stdout_line(std::chrono::milliseconds(500));
        if (!line) {
            if (!p.running()) break;
            continue;
        }
        out.lines.push_back(*line);
    }
    out.status = p.wait(std::chrono::milliseconds(5000));
    return out;
}

inline std::vector<std::string> words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    return w;
}

inline void race_two_processes(const std::string& helper, const std::string& url) {
    constexpr int kRecords = 150, kPerProcess = 100;
    Process::Options po;
    po.capture_stdout = true;
    std::vector<std::unique_ptr<Process>> procs;
    for (int i = 0; i < 2; ++i)
        procs.push_back(std::make_unique<Process>(
            std::vector<std::string>{helper, "--ledger", url, "--records", std::to_string(kRecords),
                                     "--imei-from", std::to_string(i * kPerProcess), "--count",
                                     std::to_string(kPerProcess), "--station",
                                     "pc-" + std::to_string(i)},
            po));
    std::map<std::string, std::string> imei_of_record;  // record index -> IMEI
    std::set<std::string> bound_imeis;
    int norec = 0, bound = 0;
    std::vector<int> per_process(2, 0);
    for (int i = 0; i < 2; ++i) {
        const auto out = drain(*procs[i], std::chrono::milliseconds(60000));
        ASSERT_EQ(out.status, std::optional<int>(0))
            << "helper " << i << " ended with " << out.status.value_or(-1)
            << "; last line: " << (out.lines.empty() ? "(none)" : out.lines.back());
        for (const auto& line : out.lines) {
            const auto w = words(line);
            if (w.empty()) continue;
            if (w[0] == "NOREC") ++norec;
            if (w[0] != "BOUND") continue;
            ASSERT_EQ(w.size(), 5u) << line;
            EXPECT_EQ(w[3], "0") << "a fresh IMEI came back as already bound: " << line;
            ++bound;
            ++per_process[i];
            EXPECT_TRUE(bound_imeis.insert(w[1]).second) << "IMEI bound twice: " << line;
            EXPECT_TRUE(imei_of_record.emplace(w[2], w[1]).second)
                << "record " << w[2] << " bound to " << imei_of_record[w[2]] << " and " << w[1];
        }
    }
    EXPECT_EQ(bound, kRecords);
    EXPECT_EQ(imei_of_record.size(), static_cast<std::size_t>(kRecords));
    EXPECT_EQ(norec, 2 * kPerProcess - kRecords);
    EXPECT_GT(per_process[0], 0) << "no race: one process bound everything";
    EXPECT_GT(per_process[1], 0) << "no race: one process bound everything";

    // What the ledger holds agrees, every binding as reported.
    ledger::OpenOptions existing;
    existing.create = false;
    auto l = ledger::Ledger::open(url, existing);
    ASSERT_TRUE(l) << l.error().message;
    const auto c = l->counts();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->records, kRecords);
    EXPECT_EQ(c->bound, kRecords);
    EXPECT_EQ(c->attempts, 2 * kPerProcess);
    EXPECT_EQ(c->provisioned, kRecords);
    EXPECT_EQ(c->failed, 2 * kPerProcess - kRecords);
    EXPECT_EQ(c->batches, 1);
    for (const auto& [index, imei] : imei_of_record) {
        const auto b = l->binding_of(imei);
        ASSERT_TRUE(b && *b) << imei;
        EXPECT_EQ(std::to_string((*b)->record.index), index);
    }
    EXPECT_EQ(*l->check(), "ok");
}

}  // namespace qmtkit::test
