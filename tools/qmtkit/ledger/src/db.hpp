// The ledger's view of a database: statements with '?' parameters returning rows of text, write
// transactions, and errors sorted into what a retry can heal. One implementation per backend
// (sqlite.cpp, postgresql.cpp); the ledger's logic (ledger.cpp) is written once against this.
// Implementations throw DbError; ledger.cpp turns every exception into an Error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "qmtkit/ledger/ledger.hpp"

namespace qmtkit::ledger {

using Param = std::variant<std::monostate, std::int64_t, std::string>;  // NULL, integer, text
using Value = std::optional<std::string>;                               // NULL or text
using Row = std::vector<Value>;

class DbError : public std::runtime_error {
  public:
    enum class Kind {
        unique,  // a unique / primary key constraint refused the statement (retry: re-read)
        busy,    // locked, a serialization failure or a deadlock (retry)
        open,    // cannot open / connect
        other,   // anything else (no retry)
    };
    DbError(Kind k, const std::string& what) : std::runtime_error(what), kind(k) {}
    Kind kind;
};

// The DDL differences: an auto-assigned 64-bit key, a 64-bit integer.
struct Dialect {
    const char* id_column;  // "INTEGER PRIMARY KEY" | "BIGSERIAL PRIMARY KEY"
    const char* integer;    // "INTEGER" | "BIGINT"
    // Appended to the "next unbound record" query: "" | " FOR UPDATE OF r SKIP LOCKED"
    const char* skip_locked;
    const char* lock_wait;  // "" | " FOR UPDATE OF r" (SQLite's BEGIN IMMEDIATE locks it all)
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;
    virtual const Dialect& dialect() const = 0;
    // One statement; '?' are the parameters, in order.
    virtual std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) = 0;
    // Several statements without parameters (the schema).
    virtual void exec_script(const std::string& sql) = 0;
    // A write transaction that holds what it reads (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN
    // and an advisory / row lock where needed).
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;
    // Serialises schema creation between processes (inside a transaction).
    virtual void lock_schema() = 0;
    virtual bool table_exists(const std::string& table) = 0;
    // The database's own check: "ok" or the problems, one per line.
    virtual std::string integrity() = 0;

    std::string display_url;
    int busy_timeout_ms = 15000;  // OpenOptions: how long locks and conflicts are retried
};

// Where a URL holds a password (user:PW@, password=PW): (offset, length) pairs, in order.
std::vector<std::pair<std::size_t, std::size_t>> password_spans(const std::string& url);

std::unique_ptr<Backend> open_sqlite(const std::string& path, const OpenOptions& opt);
std::unique_ptr<Backend> open_postgresql(const std::string& url, const OpenOptions& opt);

}  // namespace qmtkit::ledger
