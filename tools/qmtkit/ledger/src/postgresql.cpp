// The PostgreSQL backend (libpq): one connection per Ledger, READ COMMITTED transactions; the
// next unbound record is taken with SELECT ... FOR UPDATE SKIP LOCKED so line PCs binding at once
// do not queue behind each other, and the unique indexes settle what a snapshot could not see
// (ledger.cpp retries on a unique violation). Messages never carry the URL's password: libpq's
// are screened for it, and only a statement's primary message is kept (no DETAIL with values).
#include <libpq-fe.h>

#include <map>
#include <string>

#include "db.hpp"

namespace qmtkit::ledger {
namespace {

const Dialect kPostgres{"BIGSERIAL PRIMARY KEY", "BIGINT", " FOR UPDATE OF r SKIP LOCKED",
                        " FOR UPDATE OF r"};

// The first line of a libpq message, with `secret` (the password) replaced.
std::string one_line(std::string m, const std::string& secret) {
    if (!secret.empty())
        for (auto at = m.find(secret); at != std::string::npos; at = m.find(secret, at))
            m.replace(at, secret.size(), "***");
    for (char& c : m)
        if (c == '\t') c = ' ';
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    // libpq's connection messages run over lines ("...failed: Connection refused\n Is the
    // server running ..."): keep them, on one line.
    std::string out;
    for (char c : m) {
        if (c == '\n') {
            if (!out.empty() && out.back() != ' ') out += ' ';
            continue;
        }
        out += c;
    }
    return out;
}

// '?' -> $1, $2, ... (the ledger's statements hold no '?' in literals).
std::string numbered(const std::string& sql) {
    std::string out;
    int n = 0;
    for (char c : sql) {
        if (c == '?')
            out += "$" + std::to_string(++n);
        else
            out += c;
    }
    return out;
}

class PgResult {
  public:
    explicit PgResult(PGresult* r) : r_(r) {}
    ~PgResult() { PQclear(r_); }
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    PGresult* get() const { return r_; }

  private:
    PGresult* r_;
};

class PgBackend final : public Backend {
  public:
    PgBackend(const std::string& url, const std::string& password) : password_(password) {
        // Earlier keywords are defaults the URL's own parameters override.
        const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
        const char* values[] = {"10", "qmtkit-ledger", url.c_str(), nullptr};
        conn_ = PQconnectdbParams(keys, values, 1);
        if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
            const std::string why =
                conn_ ? one_line(PQerrorMessage(conn_), password_) : "out of memory";
            PQfinish(conn_);
            conn_ = nullptr;
            throw DbError(DbError::Kind::open, why);
        }
        query("SET client_min_messages = warning", {});
    }
    ~PgBackend() override { PQfinish(conn_); }

    std::string_view name() const override { return "postgresql"; }
    const Dialect& dialect() const override { return kPostgres; }

    std::vector<Row> query(const std::string& sql, const std::vector<Param>& params) override {
        auto it = numbered_.find(sql);
        if (it == numbered_.end()) it = numbered_.emplace(sql, numbered(sql)).first;
        std::vector<std::string> text(params.size());
        std::vector<const char*> values(params.size(), nullptr);
        for (std::size_t i = 0; i < params.size(); ++i) {
            if (std::holds_alternative<std::int64_t>(params[i])) {
                text[i] = std::to_string(std::get<std::int64_t>(params[i]));
                values[i] = text[i].c_str();
            } else if (std::holds_alternative<std::string>(params[i])) {
                values[i] = std::get<std::string>(params[i]).c_str();
            }
        }
        PgResult res(PQexecParams(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                  nullptr, values.data(), nullptr, nullptr, 0));
        check(res.get());
        std::vector<Row> rows;
        const int n = PQntuples(res.get()), cols = PQnfields(res.get());
        rows.reserve(static_cast<std::size_t>(n));
        for (int r = 0; r < n; ++r) {
            Row row;
            for (int c = 0; c < cols; ++c) {
                if (PQgetisnull(res.get(), r, c))
                    row.emplace_back(std::nullopt);
                else
                    row.emplace_back(
                        std::string(PQgetvalue(res.get(), r, c),
                                    static_cast<std::size_t>(PQgetlength(res.get(), r, c))));
            }
            rows.push_back(std::move(row));
        }
        return rows;
    }

    void exec_script(const std::string& sql) override {
        PgResult res(PQexec(conn_, sql.c_str()));
        check(res.get());
    }

    void begin() override {
        if (PQstatus(conn_) != CONNECTION_OK) {
            PQreset(conn_);  // a server restart between operations: reconnect once
            if (PQstatus(conn_) != CONNECTION_OK)
                throw DbError(DbError::Kind::other,
                              "connection lost: " + one_line(PQerrorMessage(conn_), password_));
        }
        exec_script("BEGIN");
    }
    void commit() override { exec_script("COMMIT"); }
    void rollback() noexcept override {
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
    }
    // One key of the advisory lock space: released at the end of the transaction.
    void lock_schema() override { query("SELECT pg_advisory_xact_lock(7302514821)", {}); }

    bool table_exists(const std::string& table) override {
        const auto r = query("SELECT to_regclass(?) IS NOT NULL", {table});
        return !r.empty() && r[0][0] && *r[0][0] == "t";
    }

    std::string integrity() override { return "ok"; }  // PostgreSQL keeps its own

  private:
    void check(PGresult* r) {
        const auto st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
        if (r == nullptr || PQstatus(conn_) != CONNECTION_OK)
            throw DbError(DbError::Kind::other,
                          "connection lost: " + one_line(PQerrorMessage(conn_), password_));
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const std::string code = state ? state : "";
        const std::string msg = one_line(primary ? primary : PQresultErrorMessage(r), password_);
        DbError::Kind k = DbError::Kind::other;
        if (code == "23505")
            k = DbError::Kind::unique;
        else if (code == "40001" || code == "40P01" || code == "55P03")
            k = DbError::Kind::busy;  // serialization failure, deadlock, lock not available
        throw DbError(k, msg + (code.empty() ? "" : " (SQLSTATE " + code + ")"));
    }

    PGconn* conn_ = nullptr;
    std::string password_;
    std::map<std::string, std::string> numbered_;
};

// The password of a postgresql:// URL (user:PASSWORD@) or of a password= parameter.
std::string password_of(const std::string& url) {
    const auto spans = password_spans(url);
    return spans.empty() ? std::string() : url.substr(spans[0].first, spans[0].second);
}

}  // namespace

std::unique_ptr<Backend> open_postgresql(const std::string& url, const OpenOptions&) {
    return std::make_unique<PgBackend>(url, password_of(url));
}

}  // namespace qmtkit::ledger
