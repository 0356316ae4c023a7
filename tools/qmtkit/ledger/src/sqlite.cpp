// The SQLite backend: one connection, WAL journal, synchronous=FULL (a commit is on disk before
// it returns: a power cut loses nothing committed), foreign keys on, write transactions with
// BEGIN IMMEDIATE (the write lock is taken first, so two processes binding at once take turns).
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "db.hpp"

namespace qmtkit::ledger {
namespace {

const Dialect kSqlite{"INTEGER PRIMARY KEY", "INTEGER", "", ""};

class SqliteBackend final : public Backend {
  public:
    SqliteBackend(const std::string& path, const OpenOptions& opt) {
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
        if (opt.create) flags |= SQLITE_OPEN_CREATE;
        const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
        if (rc != SQLITE_OK) {
            const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw DbError(DbError::Kind::open, "cannot open " + path + ": " + why);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, opt.busy_timeout_ms);
        try {
            // WAL: readers never block the writer; the mode is kept in the file. Switching to
            // it takes an exclusive lock and SQLite may answer SQLITE_BUSY at once, without its
            // busy handler, while another process opens the same new file: retried here.
            const auto deadline =
                std::chrono::steady_clock::now() + std::chrono::milliseconds(opt.busy_timeout_ms);
            std::vector<Row> mode;
            while (true) {
                try {
                    mode = query("PRAGMA journal_mode=WAL", {});
                    break;
                } catch (const DbError& e) {
                    if (e.kind != DbError::Kind::busy ||
                        std::chrono::steady_clock::now() >= deadline)
                        throw;
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
            if (mode.empty() || !mode[0][0] || *mode[0][0] != "wal")
                throw DbError(DbError::Kind::open, "cannot open " + path + ": WAL mode refused");
            exec_script("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        } catch (const DbError& e) {
            close();
            if (e.kind == DbError::Kind::open) throw;
            throw DbError(DbError::Kind::open, "cannot open " + path + ": " + e.what());
        }
    }
    ~SqliteBackend() override { close(); }

    std::string_view name() const override { return "sqlite"; }
    const Dialect& dialect() const override { return kSqlite; }

    std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) override {
        sqlite3_stmt* st = prepare(sql);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        int i = 1;
        for (const auto& p : params) {
            int rc = SQLITE_OK;
            if (std::holds_alternative<std::int64_t>(p)) {
                rc = sqlite3_bind_int64(st, i, std::get<std::int64_t>(p));
            } else if (std::holds_alternative<std::string>(p)) {
                const auto& s = std::get<std::string>(p);
                rc = sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()),
                                       SQLITE_TRANSIENT);
            } else {
                rc = sqlite3_bind_null(st, i);
            }
            if (rc != SQLITE_OK) fail(rc);
            ++i;
        }
        std::vector<Row> rows;
        while (true) {
            const int rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) {
                sqlite3_reset(st);
                fail(rc);
            }
            Row r;
            const int n = sqlite3_column_count(st);
            for (int c = 0; c < n; ++c) {
                if (sqlite3_column_type(st, c) == SQLITE_NULL) {
                    r.emplace_back(std::nullopt);
                } else {
                    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
                    r.emplace_back(
                        std::string(t, static_cast<std::size_t>(sqlite3_column_bytes(st, c))));
                }
            }
            rows.push_back(std::move(r));
        }
        sqlite3_reset(st);
        return rows;
    }

    void exec_script(const std::string& sql) override {
        char* err = nullptr;
        const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            const std::string why = err ? err : sqlite3_errstr(rc);
            sqlite3_free(err);
            throw DbError(kind_of(rc), why);
        }
    }

    void begin() override { exec_script("BEGIN IMMEDIATE"); }
    void commit() override { exec_script("COMMIT"); }
    void rollback() noexcept override {
        if (db_ && !sqlite3_get_autocommit(db_))
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void lock_schema() override {}  // BEGIN IMMEDIATE holds the write lock already

    bool table_exists(const std::string& table) override {
        return !query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", {table})
                    .empty();
    }

    std::string integrity() override {
        std::string out;
        for (const auto& r : query("PRAGMA integrity_check", {}))
            if (r[0] && *r[0] != "ok") out += *r[0] + "\n";
        for (const auto& r : query("PRAGMA foreign_key_check", {}))
            out += "foreign key violation in " + r[0].value_or("?") + "\n";
        return out.empty() ? "ok" : out;
    }

  private:
    static DbError::Kind kind_of(int rc) {
        switch (rc & 0xff) {
            case SQLITE_BUSY:
            case SQLITE_LOCKED:
                return DbError::Kind::busy;
            case SQLITE_CONSTRAINT:
                return (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                           ? DbError::Kind::unique
                           : DbError::Kind::other;
            default:
                return DbError::Kind::other;
        }
    }
    [[noreturn]] void fail(int rc) { throw DbError(kind_of(rc), sqlite3_errmsg(db_)); }

    sqlite3_stmt* prepare(const std::string& sql) {
        auto it = stmts_.find(sql);
        if (it != stmts_.end()) return it->second;
        sqlite3_stmt* st = nullptr;
        const int rc =
            sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st, nullptr);
        if (rc != SQLITE_OK) fail(rc);
        stmts_.emplace(sql, st);
        return st;
    }

    void close() noexcept {
        for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
        stmts_.clear();
        if (db_) sqlite3_close_v2(db_);
        db_ = nullptr;
    }

    sqlite3* db_ = nullptr;
    std::map<std::string, sqlite3_stmt*> stmts_;
};

}  // namespace

std::unique_ptr<Backend> open_sqlite(const std::string& path, const OpenOptions& opt) {
    return std::make_unique<SqliteBackend>(path, opt);
}

}  // namespace qmtkit::ledger
