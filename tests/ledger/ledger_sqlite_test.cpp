// The SQLite backend underneath (raw sqlite3 next to the ledger): WAL, the schema's unique
// constraints refusing a second binding by themselves, schema versions, URLs and messages.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>

#include "process.hpp"
#include "support.hpp"

namespace qmtkit::test {

// Every test of this binary: a SQLite file in one temporary directory, removed at exit.
struct TempDir {
    std::string path = make_temp_dir("qmtkit-ledger-");
    ~TempDir() { remove_tree(path); }
};
std::string ledger_dir() {
    static const TempDir dir;
    return dir.path;
}
std::string ledger_url(const std::string& name) {
    return "sqlite:" + ledger_dir() + "/" + name + ".db";
}

}  // namespace qmtkit::test

namespace {

namespace lg = qmtkit::ledger;
using qmtkit::test::imei_for;
using qmtkit::test::ledger_dir;

struct Raw {
    explicit Raw(const std::string& path) { EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK); }
    ~Raw() { sqlite3_close(db); }
    int exec(const std::string& sql) {
        return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    }
    std::string one(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        std::string out;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return out;
    }
    sqlite3* db = nullptr;
};

TEST(LedgerSqlite, WalFullSyncAndSchemaVersionOne) {
    const std::string path = ledger_dir() + "/wal.db";
    auto l = lg::Ledger::open("sqlite:" + path);
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(l->backend_name(), "sqlite");
    Raw raw(path);
    EXPECT_EQ(raw.one("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.one("SELECT version FROM schema_version"), "1");
    EXPECT_EQ(raw.one("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                      "('batches', 'records', 'record_secrets', 'bindings', 'attempts')"),
              "5");
    // A bare path is a SQLite file too.
    auto bare = lg::Ledger::open(ledger_dir() + "/bare.db");
    ASSERT_TRUE(bare) << bare.error().message;
    EXPECT_TRUE(std::filesystem::exists(ledger_dir() + "/bare.db"));
}

TEST(LedgerSqlite, TheSchemaItselfRefusesASecondBinding) {
    const std::string path = ledger_dir() + "/constraints.db";
    auto l = lg::Ledger::open("sqlite:" + path);
    ASSERT_TRUE(l);
    auto b = l->import_batch(qmtkit::test::synthetic_batch("pkRaw", 3));
    ASSERT_TRUE(b);
    auto r = l->bind(b->id, imei_for(1));
    ASSERT_TRUE(r);
    Raw raw(path);
    const std::string rec = std::to_string(r->record.id);
    // Around the library: the same record to another IMEI, the same IMEI to another record.
    EXPECT_EQ(raw.exec("INSERT INTO bindings (record_id, imei, station, bound_at) VALUES (" + rec +
                       ", '" + imei_for(2) + "', 'x', 'now')") &
                  0xff,
              SQLITE_CONSTRAINT);
    EXPECT_EQ(raw.exec("INSERT INTO bindings (record_id, imei, station, bound_at) VALUES (" +
                       std::to_string(r->record.id + 1) + ", '" + imei_for(1) + "', 'x', 'now')") &
                  0xff,
              SQLITE_CONSTRAINT);
    EXPECT_EQ(raw.exec("INSERT INTO attempts (batch_id, at, station, port, imei, imsi, iccid, "
                       "firmware, result, failed_step, reason, steps_json) VALUES (1, 'now', '', "
                       "'', '', '', '', '', 'maybe', '', '', '[]')") &
                  0xff,
              SQLITE_CONSTRAINT);
    EXPECT_EQ(raw.one("SELECT COUNT(*) FROM bindings"), "1");
}

TEST(LedgerSqlite, UrlsAndMessagesNeverShowAPassword) {
    auto bad = lg::Ledger::open("mysql://user:Hunter2pw@db.example/x");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, lg::Errc::bad_url);
    EXPECT_EQ(bad.error().message.find("Hunter2pw"), std::string::npos) << bad.error().message;
    EXPECT_EQ(lg::Ledger::open("sqlite:").error().code, lg::Errc::bad_url);
    // Nothing listens on port 1: the message names the server, not the password.
    auto pg = lg::Ledger::open("postgresql://line:Hunter2pw@127.0.0.1:1/ledger?connect_timeout=2");
    ASSERT_FALSE(pg);
    EXPECT_EQ(pg.error().code, lg::Errc::cannot_open);
    EXPECT_EQ(pg.error().message.find("Hunter2pw"), std::string::npos) << pg.error().message;
    EXPECT_NE(pg.error().message.find("postgresql://line:***@127.0.0.1:1/ledger"),
              std::string::npos)
        << pg.error().message;
    EXPECT_EQ(pg.error().message.find('\n'), std::string::npos) << pg.error().message;
    EXPECT_EQ(lg::redact_url("postgresql://u:p@h/db?password=q&sslmode=require"),
              "postgresql://u:***@h/db?password=***&sslmode=require");
    EXPECT_EQ(lg::redact_url("postgresql://u@h/db"), "postgresql://u@h/db");
}

TEST(LedgerSqlite, OpenWithoutCreateAndNewerSchemasAreRefused) {
    lg::OpenOptions existing;
    existing.create = false;
    const std::string missing = ledger_dir() + "/missing.db";
    EXPECT_EQ(lg::Ledger::open("sqlite:" + missing, existing).error().code, lg::Errc::cannot_open);
    EXPECT_FALSE(std::filesystem::exists(missing));
    const std::string empty = ledger_dir() + "/empty.db";
    {
        Raw raw(empty);
        raw.exec("CREATE TABLE unrelated (x)");
    }
    EXPECT_EQ(lg::Ledger::open("sqlite:" + empty, existing).error().code, lg::Errc::not_a_ledger);
    const std::string newer = ledger_dir() + "/newer.db";
    ASSERT_TRUE(lg::Ledger::open("sqlite:" + newer));
    {
        Raw raw(newer);
        raw.exec("UPDATE schema_version SET version = 99");
    }
    const auto e = lg::Ledger::open("sqlite:" + newer);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, lg::Errc::schema_too_new);
    EXPECT_NE(e.error().message.find("99"), std::string::npos);
}

}  // namespace
