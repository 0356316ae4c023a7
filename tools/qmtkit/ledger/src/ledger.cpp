// The ledger's logic, once for both backends (db.hpp): the schema, import, bind, secrets,
// attempts, export. Every public operation is one transaction run by transact(): a unique
// violation or a lock is retried from the start (with a fresh snapshot) until the busy timeout,
// any other failure rolls back and becomes an Error.
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "db.hpp"
#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::ledger {

// ------------------------------------------------------------------------------ small things

std::string_view to_string(Errc e) {
    switch (e) {
        case Errc::bad_url:
            return "bad_url";
        case Errc::cannot_open:
            return "cannot_open";
        case Errc::not_a_ledger:
            return "not_a_ledger";
        case Errc::schema_too_new:
            return "schema_too_new";
        case Errc::invalid_argument:
            return "invalid_argument";
        case Errc::unknown_batch:
            return "unknown_batch";
        case Errc::unknown_record:
            return "unknown_record";
        case Errc::batch_mismatch:
            return "batch_mismatch";
        case Errc::record_in_other_batch:
            return "record_in_other_batch";
        case Errc::imei_in_other_batch:
            return "imei_in_other_batch";
        case Errc::listed_record_taken:
            return "listed_record_taken";
        case Errc::no_record_left:
            return "no_record_left";
        case Errc::secret_conflict:
            return "secret_conflict";
        case Errc::busy:
            return "busy";
        case Errc::backend:
            return "backend";
    }
    return "backend";
}

std::string_view to_string(Outcome o) {
    switch (o) {
        case Outcome::provisioned:
            return "provisioned";
        case Outcome::already:
            return "already";
        case Outcome::failed:
            return "failed";
    }
    return "failed";
}

std::optional<Outcome> outcome_from(std::string_view s) {
    for (Outcome o : {Outcome::provisioned, Outcome::already, Outcome::failed})
        if (to_string(o) == s) return o;
    return std::nullopt;
}

std::string now_utc() {
    using namespace std::chrono;
    const auto t = system_clock::now();
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
    const std::time_t secs = system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    return buf;
}

Result<std::pair<Scheme, std::string>> parse_url(const std::string& url) {
    if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
        return std::make_pair(Scheme::postgresql, url);
    std::string path = url;
    if (url.rfind("sqlite:", 0) == 0) {
        path = url.substr(7);
        if (path.rfind("//", 0) == 0) path = path.substr(2);  // sqlite://PATH as well
    } else if (url.find("://") != std::string::npos) {
        return Error{Errc::bad_url, "unknown ledger URL scheme in " + redact_url(url) +
                                        " (sqlite:PATH or postgresql://...)"};
    }
    if (path.empty()) return Error{Errc::bad_url, "the ledger URL names no file (sqlite:PATH)"};
    return std::make_pair(Scheme::sqlite, path);
}

std::vector<std::pair<std::size_t, std::size_t>> password_spans(const std::string& url) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    const auto scheme = url.find("://");
    if (scheme != std::string::npos) {
        const auto start = scheme + 3;
        const auto at = url.find('@', start);
        const auto slash = url.find('/', start);
        const auto colon = url.find(':', start);
        if (at != std::string::npos && (slash == std::string::npos || at < slash) &&
            colon != std::string::npos && colon < at)
            spans.emplace_back(colon + 1, at - colon - 1);
    }
    for (auto p = url.find("password="); p != std::string::npos; p = url.find("password=", p + 1)) {
        const auto end = url.find_first_of("& ", p);
        spans.emplace_back(p + 9, (end == std::string::npos ? url.size() : end) - p - 9);
    }
    return spans;
}

std::string redact_url(const std::string& url) {
    std::string out = url;
    const auto spans = password_spans(url);
    for (auto it = spans.rbegin(); it != spans.rend(); ++it)
        out.replace(it->first, it->second, "***");
    return out;
}

namespace {

std::string sha256_hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

}  // namespace

std::string manifest_id_of(const std::string& cloud, const std::vector<RecordSpec>& records) {
    // Length-prefixed fields: no separator a name could contain makes two listings collide.
    std::string canon = "qmtkit-ledger-batch-v1\n";
    const auto field = [&](const std::string& s) { canon += std::to_string(s.size()) + ":" + s; };
    field(cloud);
    for (const auto& r : records) {
        field(r.product);
        field(r.device_name);
        field(r.imei.value_or(""));
    }
    return "sha256:" + sha256_hex(canon);
}

BatchSpec batch_from_manifest(const manifest::Manifest& m) {
    BatchSpec b;
    b.cloud = std::string(manifest::to_string(m.cloud));
    b.source = m.file;
    for (const auto& d : m.devices) b.records.push_back({d.product, d.device_name, d.imei});
    b.manifest_id = manifest_id_of(b.cloud, b.records);
    return b;
}

const std::vector<std::string>& export_columns() {
    static const std::vector<std::string> cols{
        "attempt_id",  "time",   "batch",       "cloud",    "station",      "port",
        "imei",        "imsi",   "iccid",       "firmware", "record_index", "product",
        "device_name", "result", "failed_step", "reason",   "steps",        "total_ms"};
    return cols;
}

// --------------------------------------------------------------------------------- schema

namespace {

std::string schema_sql(const Dialect& d) {
    std::string s = R"(
CREATE TABLE schema_version (version {INT} NOT NULL);
CREATE TABLE batches (
    id {ID},
    manifest_id TEXT NOT NULL UNIQUE,
    cloud TEXT NOT NULL,
    source TEXT NOT NULL,
    record_count {INT} NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE records (
    id {ID},
    batch_id {INT} NOT NULL REFERENCES batches(id),
    record_index {INT} NOT NULL,
    cloud TEXT NOT NULL,
    product TEXT NOT NULL,
    device_name TEXT NOT NULL,
    listed_imei TEXT,
    UNIQUE (batch_id, record_index),
    UNIQUE (cloud, product, device_name));
CREATE UNIQUE INDEX records_listed_imei ON records (listed_imei);
CREATE TABLE record_secrets (
    record_id {INT} PRIMARY KEY REFERENCES records(id),
    secret TEXT NOT NULL,
    stored_at TEXT NOT NULL);
CREATE TABLE bindings (
    record_id {INT} PRIMARY KEY REFERENCES records(id),
    imei TEXT NOT NULL UNIQUE,
    station TEXT NOT NULL,
    bound_at TEXT NOT NULL);
CREATE TABLE attempts (
    id {ID},
    batch_id {INT} NOT NULL REFERENCES batches(id),
    record_id {INT} REFERENCES records(id),
    at TEXT NOT NULL,
    station TEXT NOT NULL,
    port TEXT NOT NULL,
    imei TEXT NOT NULL,
    imsi TEXT NOT NULL,
    iccid TEXT NOT NULL,
    firmware TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('provisioned', 'already', 'failed')),
    failed_step TEXT NOT NULL,
    reason TEXT NOT NULL,
    steps_json TEXT NOT NULL);
CREATE INDEX attempts_batch ON attempts (batch_id, id);
)";
    const auto put = [&](const std::string& key, const std::string& v) {
        for (auto at = s.find(key); at != std::string::npos; at = s.find(key, at + v.size()))
            s.replace(at, key.size(), v);
    };
    put("{ID}", d.id_column);
    put("{INT}", d.integer);
    return s;
}

std::int64_t to_int(const Value& v) {
    return v ? std::stoll(*v) : 0;
}

constexpr const char* kRecordColumns =
    "r.id, r.batch_id, r.record_index, r.cloud, r.product, r.device_name, r.listed_imei";

Record record_from(const Row& row, std::size_t at = 0) {
    Record r;
    r.id = to_int(row[at]);
    r.batch_id = to_int(row[at + 1]);
    r.index = to_int(row[at + 2]);
    r.cloud = row[at + 3].value_or("");
    r.product = row[at + 4].value_or("");
    r.device_name = row[at + 5].value_or("");
    r.listed_imei = row[at + 6];
    return r;
}

// One line for a message: control characters become spaces.
std::string clean(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------- ledger

namespace {

// Runs `fn` in one write transaction: commit when it returns a value, roll back when it returns
// an Error or throws; a unique violation or a lock starts it again (fresh snapshot, jittered
// pause) until `timeout_ms` has passed.
template <class T>
Result<T> transact(Backend& b, int timeout_ms, const std::function<Result<T>()>& fn) {
    using namespace std::chrono;
    const auto deadline = steady_clock::now() + milliseconds(timeout_ms);
    std::minstd_rand rng(static_cast<unsigned>(steady_clock::now().time_since_epoch().count()));
    for (int attempt = 0;; ++attempt) {
        try {
            b.begin();
            Result<T> r = fn();
            if (!r.ok()) {
                b.rollback();
                return r;
            }
            b.commit();
            return r;
        } catch (const DbError& e) {
            b.rollback();
            const bool retry = e.kind == DbError::Kind::unique || e.kind == DbError::Kind::busy;
            if (!retry) return Error{Errc::backend, clean(e.what())};
            if (steady_clock::now() >= deadline)
                return Error{Errc::busy, "the ledger stayed busy: " + clean(e.what())};
            const int cap = std::min(50, 1 + attempt * 5);
            std::this_thread::sleep_for(
                milliseconds(std::uniform_int_distribution<int>(0, cap)(rng)));
        } catch (const std::exception& e) {
            b.rollback();
            return Error{Errc::backend, clean(e.what())};
        }
    }
}

}  // namespace

Ledger::Ledger(std::unique_ptr<Backend> b) : b_(std::move(b)) {}
Ledger::Ledger(Ledger&&) noexcept = default;
Ledger& Ledger::operator=(Ledger&&) noexcept = default;
Ledger::~Ledger() = default;

const std::string& Ledger::display_url() const {
    return b_->display_url;
}
std::string_view Ledger::backend_name() const {
    return b_->name();
}

Result<Ledger> Ledger::open(const std::string& url, const OpenOptions& opt) {
    auto parsed = parse_url(url);
    if (!parsed) return parsed.error();
    const std::string shown = redact_url(url);
    std::unique_ptr<Backend> b;
    try {
        b = parsed->first == Scheme::sqlite ? open_sqlite(parsed->second, opt)
                                            : open_postgresql(parsed->second, opt);
    } catch (const DbError& e) {
        std::string why = clean(e.what());
        if (parsed->first == Scheme::postgresql) why = "cannot open " + shown + ": " + why;
        return Error{Errc::cannot_open, why};
    } catch (const std::exception& e) {
        return Error{Errc::cannot_open, "cannot open " + shown + ": " + clean(e.what())};
    }
    b->display_url = shown;
    b->busy_timeout_ms = opt.busy_timeout_ms;
    Backend& db = *b;
    auto version = transact<std::int64_t>(db, opt.busy_timeout_ms, [&]() -> Result<std::int64_t> {
        db.lock_schema();
        if (!db.table_exists("schema_version")) {
            if (!opt.create)
                return Error{Errc::not_a_ledger, shown + " is not a qmtkit ledger (no schema)"};
            db.exec_script(schema_sql(db.dialect()));
            db.query("INSERT INTO schema_version (version) VALUES (?)",
                     {std::int64_t{kSchemaVersion}});
            return std::int64_t{kSchemaVersion};
        }
        const auto rows = db.query("SELECT MAX(version) FROM schema_version", {});
        if (rows.empty() || !rows[0][0])
            return Error{Errc::not_a_ledger, shown + ": schema_version is empty"};
        return to_int(rows[0][0]);
    });
    if (!version) {
        Error e = version.error();
        if (e.code == Errc::backend) e.message = shown + ": " + e.message;
        return e;
    }
    if (*version > kSchemaVersion)
        return Error{Errc::schema_too_new, shown + " has ledger schema " +
                                               std::to_string(*version) + "; this qmtkit knows " +
                                               std::to_string(kSchemaVersion)};
    return Ledger(std::move(b));
}

Result<Batch> Ledger::find_batch(const std::string& manifest_id) {
    Backend& db = *b_;
    return transact<Batch>(db, db.busy_timeout_ms, [&]() -> Result<Batch> {
        const auto rows = db.query(
            "SELECT id, manifest_id, cloud, record_count FROM batches WHERE manifest_id = ?",
            {manifest_id});
        if (rows.empty()) return Error{Errc::unknown_batch, "no batch " + clean(manifest_id)};
        return Batch{to_int(rows[0][0]), *rows[0][1], *rows[0][2],
                     static_cast<std::size_t>(to_int(rows[0][3])), false};
    });
}

Result<Batch> Ledger::import_batch(const BatchSpec& spec) {
    if (spec.manifest_id.empty())
        return Error{Errc::invalid_argument, "the batch has no manifest id"};
    if (spec.records.empty()) return Error{Errc::invalid_argument, "the batch has no records"};
    for (const auto& r : spec.records)
        if (r.product.empty() || r.device_name.empty() || (r.imei && r.imei->empty()))
            return Error{Errc::invalid_argument, "a record without a product or device name"};
    Backend& db = *b_;
    const std::string mid = clean(spec.manifest_id);
    return transact<Batch>(db, db.busy_timeout_ms, [&]() -> Result<Batch> {
        const auto found =
            db.query("SELECT id, cloud, record_count FROM batches WHERE manifest_id = ?",
                     {spec.manifest_id});
        if (!found.empty()) {
            Batch b{to_int(found[0][0]), spec.manifest_id, found[0][1].value_or(""),
                    static_cast<std::size_t>(to_int(found[0][2])), false};
            if (b.cloud != spec.cloud || b.records != spec.records.size())
                return Error{Errc::batch_mismatch, "batch " + mid + " exists with other records (" +
                                                       clean(b.cloud) + ", " +
                                                       std::to_string(b.records) + " records)"};
            const auto rows = db.query(
                "SELECT record_index, product, device_name, listed_imei FROM records "
                "WHERE batch_id = ? ORDER BY record_index",
                {b.id});
            bool same = rows.size() == spec.records.size();
            for (std::size_t i = 0; same && i < rows.size(); ++i) {
                const auto& s = spec.records[i];
                same = to_int(rows[i][0]) == static_cast<std::int64_t>(i) &&
                       rows[i][1] == s.product && rows[i][2] == s.device_name &&
                       rows[i][3] == s.imei;
            }
            if (!same)
                return Error{Errc::batch_mismatch, "batch " + mid + " exists with other records"};
            return b;
        }
        const std::string now = now_utc();
        const auto ins = db.query(
            "INSERT INTO batches (manifest_id, cloud, source, record_count, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            {spec.manifest_id, spec.cloud, spec.source,
             static_cast<std::int64_t>(spec.records.size()), now});
        const std::int64_t id = to_int(ins.at(0)[0]);
        for (std::size_t i = 0; i < spec.records.size(); ++i) {
            const auto& s = spec.records[i];
            const auto other = db.query(
                "SELECT b.manifest_id, r.product, r.device_name FROM records r "
                "JOIN batches b ON b.id = r.batch_id "
                "WHERE (r.cloud = ? AND r.product = ? AND r.device_name = ?) OR r.listed_imei = ?",
                {spec.cloud, s.product, s.device_name,
                 s.imei ? Param{*s.imei} : Param{std::monostate{}}});
            if (!other.empty())
                return Error{Errc::record_in_other_batch,
                             "device " + clean(s.product) + "/" + clean(s.device_name) +
                                 (s.imei ? " (IMEI " + clean(*s.imei) + ")" : std::string()) +
                                 " is already in batch " + clean(other[0][0].value_or("?"))};
            db.query(
                "INSERT INTO records (batch_id, record_index, cloud, product, device_name, "
                "listed_imei) VALUES (?, ?, ?, ?, ?, ?)",
                {id, static_cast<std::int64_t>(i), spec.cloud, s.product, s.device_name,
                 s.imei ? Param{*s.imei} : Param{std::monostate{}}});
        }
        return Batch{id, spec.manifest_id, spec.cloud, spec.records.size(), true};
    });
}

Result<Binding> Ledger::bind(std::int64_t batch_id, const std::string& imei,
                             const std::string& station) {
    if (imei.empty()) return Error{Errc::invalid_argument, "bind: the IMEI is empty"};
    Backend& db = *b_;
    const Dialect& d = db.dialect();
    const std::string shown = clean(imei);
    const std::string cols = kRecordColumns;
    return transact<Binding>(db, db.busy_timeout_ms, [&]() -> Result<Binding> {
        if (db.query("SELECT 1 FROM batches WHERE id = ?", {batch_id}).empty())
            return Error{Errc::unknown_batch, "no batch with id " + std::to_string(batch_id)};
        // 1. This IMEI's binding: the same record again, never a second one.
        auto rows = db.query("SELECT " + cols +
                                 " FROM bindings b JOIN records r ON r.id = b.record_id "
                                 "WHERE b.imei = ?",
                             {imei});
        if (!rows.empty()) {
            Binding out{record_from(rows[0]), imei, true};
            if (out.record.batch_id != batch_id)
                return Error{Errc::imei_in_other_batch,
                             "IMEI " + shown + " is bound to " + clean(out.record.product) + "/" +
                                 clean(out.record.device_name) + " of another batch"};
            return out;
        }
        // 2. The record the manifest lists this IMEI for.
        rows = db.query("SELECT " + cols + " FROM records r WHERE r.listed_imei = ?", {imei});
        Record rec;
        if (!rows.empty()) {
            rec = record_from(rows[0]);
            if (rec.batch_id != batch_id)
                return Error{Errc::imei_in_other_batch,
                             "IMEI " + shown + " is listed for " + clean(rec.product) + "/" +
                                 clean(rec.device_name) + " of another batch"};
            const auto taken = db.query("SELECT imei FROM bindings WHERE record_id = ?", {rec.id});
            if (!taken.empty())
                return Error{Errc::listed_record_taken,
                             "the record listing IMEI " + shown + " (" + clean(rec.product) + "/" +
                                 clean(rec.device_name) + ") is bound to IMEI " +
                                 clean(taken[0][0].value_or("?"))};
        } else {
            // 3. The next unbound record not reserved for a listed IMEI. PostgreSQL: skip rows
            // another line PC holds; when that leaves none, wait for them (they may roll back).
            const std::string next = "SELECT " + cols +
                                     " FROM records r WHERE r.batch_id = ? AND "
                                     "r.listed_imei IS NULL AND NOT EXISTS (SELECT 1 FROM "
                                     "bindings b WHERE b.record_id = r.id) "
                                     "ORDER BY r.record_index LIMIT 1";
            rows = db.query(next + d.skip_locked, {batch_id});
            if (rows.empty() && *d.lock_wait) rows = db.query(next + d.lock_wait, {batch_id});
            if (rows.empty())
                return Error{Errc::no_record_left, "no record left in the batch for IMEI " + shown};
            rec = record_from(rows[0]);
        }
        // The unique keys (record_id, imei) refuse a second binding whatever raced us; a refusal
        // is retried from step 1.
        db.query("INSERT INTO bindings (record_id, imei, station, bound_at) VALUES (?, ?, ?, ?)",
                 {rec.id, imei, station, now_utc()});
        return Binding{rec, imei, false};
    });
}

Result<std::optional<Binding>> Ledger::binding_of(const std::string& imei) {
    Backend& db = *b_;
    return transact<std::optional<Binding>>(
        db, db.busy_timeout_ms, [&]() -> Result<std::optional<Binding>> {
            const auto rows = db.query(std::string("SELECT ") + kRecordColumns +
                                           " FROM bindings b JOIN records r ON r.id = "
                                           "b.record_id WHERE b.imei = ?",
                                       {imei});
            if (rows.empty()) return std::optional<Binding>();
            return std::optional<Binding>(Binding{record_from(rows[0]), imei, true});
        });
}

Result<std::vector<Binding>> Ledger::bindings(std::int64_t batch_id) {
    Backend& db = *b_;
    return transact<std::vector<Binding>>(
        db, db.busy_timeout_ms, [&]() -> Result<std::vector<Binding>> {
            const auto rows = db.query(std::string("SELECT ") + kRecordColumns +
                                           ", b.imei FROM bindings b JOIN records r ON r.id = "
                                           "b.record_id WHERE r.batch_id = ? ORDER BY "
                                           "r.record_index",
                                       {batch_id});
            std::vector<Binding> out;
            for (const auto& row : rows)
                out.push_back(Binding{record_from(row), row[7].value_or(""), true});
            return out;
        });
}

Result<bool> Ledger::provisioned_before(std::int64_t record_id, const std::string& imei) {
    Backend& db = *b_;
    return transact<bool>(db, db.busy_timeout_ms, [&]() -> Result<bool> {
        const auto rows = db.query(
            "SELECT 1 FROM attempts WHERE record_id = ? AND imei = ? AND result IN "
            "('provisioned', 'already') LIMIT 1",
            {record_id, imei});
        return !rows.empty();
    });
}

Status Ledger::store_secret(std::int64_t record_id, const std::string& secret) {
    if (secret.empty()) return Error{Errc::invalid_argument, "store_secret: the secret is empty"};
    Backend& db = *b_;
    return transact<Done>(db, db.busy_timeout_ms, [&]() -> Status {
        if (db.query("SELECT 1 FROM records WHERE id = ?", {record_id}).empty())
            return Error{Errc::unknown_record, "no record with id " + std::to_string(record_id)};
        const auto rows =
            db.query("SELECT secret FROM record_secrets WHERE record_id = ?", {record_id});
        if (!rows.empty()) {
            if (rows[0][0] == secret) return Done{};
            return Error{Errc::secret_conflict,
                         "record " + std::to_string(record_id) + " already has a different secret"};
        }
        db.query("INSERT INTO record_secrets (record_id, secret, stored_at) VALUES (?, ?, ?)",
                 {record_id, secret, now_utc()});
        return Done{};
    });
}

Result<std::optional<std::string>> Ledger::secret(std::int64_t record_id) {
    Backend& db = *b_;
    return transact<std::optional<std::string>>(
        db, db.busy_timeout_ms, [&]() -> Result<std::optional<std::string>> {
            const auto rows =
                db.query("SELECT secret FROM record_secrets WHERE record_id = ?", {record_id});
            if (rows.empty()) return std::optional<std::string>();
            return std::optional<std::string>(rows[0][0]);
        });
}

Result<std::int64_t> Ledger::record_attempt(std::int64_t batch_id, const Attempt& a) {
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const auto& s : a.steps) steps.push_back({{"step", s.step}, {"ms", s.ms}});
    const std::string steps_text =
        steps.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    Backend& db = *b_;
    return transact<std::int64_t>(db, db.busy_timeout_ms, [&]() -> Result<std::int64_t> {
        if (db.query("SELECT 1 FROM batches WHERE id = ?", {batch_id}).empty())
            return Error{Errc::unknown_batch, "no batch with id " + std::to_string(batch_id)};
        if (a.record_id && db.query("SELECT 1 FROM records WHERE id = ? AND batch_id = ?",
                                    {*a.record_id, batch_id})
                               .empty())
            return Error{Errc::unknown_record,
                         "no record with id " + std::to_string(*a.record_id) + " in the batch"};
        const auto rows = db.query(
            "INSERT INTO attempts (batch_id, record_id, at, station, port, imei, imsi, iccid, "
            "firmware, result, failed_step, reason, steps_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            {batch_id, a.record_id ? Param{*a.record_id} : Param{std::monostate{}},
             a.time.empty() ? now_utc() : a.time, a.station, a.port, a.imei, a.imsi, a.iccid,
             a.firmware, std::string(to_string(a.result)), a.failed_step, a.reason, steps_text});
        return to_int(rows.at(0)[0]);
    });
}

namespace {

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

}  // namespace

Status Ledger::export_attempts(std::ostream& out, ExportFormat format,
                               std::optional<std::int64_t> batch_id) {
    Backend& db = *b_;
    // Read in one transaction: a consistent snapshot. No column of record_secrets is read.
    auto rows =
        transact<std::vector<Row>>(db, db.busy_timeout_ms, [&]() -> Result<std::vector<Row>> {
            std::string sql =
                "SELECT a.id, a.at, b.manifest_id, b.cloud, a.station, a.port, a.imei, a.imsi, "
                "a.iccid, a.firmware, r.record_index, r.product, r.device_name, a.result, "
                "a.failed_step, a.reason, a.steps_json FROM attempts a "
                "JOIN batches b ON b.id = a.batch_id LEFT JOIN records r ON r.id = a.record_id";
            std::vector<Param> p;
            if (batch_id) {
                sql += " WHERE a.batch_id = ?";
                p.emplace_back(*batch_id);
            }
            return db.query(sql + " ORDER BY a.id", p);
        });
    if (!rows) return rows.error();
    const auto& cols = export_columns();
    if (format == ExportFormat::csv) {
        for (std::size_t i = 0; i < cols.size(); ++i) out << (i ? "," : "") << cols[i];
        out << "\r\n";
    }
    for (const Row& r : *rows) {
        nlohmann::ordered_json steps = nlohmann::ordered_json::array();
        try {
            steps = nlohmann::ordered_json::parse(r[16].value_or("[]"));
        } catch (const std::exception&) {
        }
        double total = 0;
        for (const auto& s : steps)
            if (s.is_object() && s.contains("ms") && s["ms"].is_number())
                total += s["ms"].get<double>();
        if (format == ExportFormat::jsonl) {
            nlohmann::ordered_json j;
            for (std::size_t c = 0; c < 16; ++c) {
                const bool number = c == 0 || c == 10;
                if (!r[c])
                    j[cols[c]] = nullptr;
                else if (number)
                    j[cols[c]] = std::stoll(*r[c]);
                else
                    j[cols[c]] = *r[c];
            }
            j["steps"] = steps;
            j["total_ms"] = total;
            out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        } else {
            for (std::size_t c = 0; c < 16; ++c)
                out << (c ? "," : "") << csv_field(r[c].value_or(""));
            std::ostringstream t;
            t << total;
            out << "," << csv_field(steps.dump()) << "," << t.str() << "\r\n";
        }
    }
    out.flush();
    if (!out) return Error{Errc::backend, "cannot write the export"};
    return Done{};
}

Result<Counts> Ledger::counts(std::optional<std::int64_t> batch_id) {
    Backend& db = *b_;
    return transact<Counts>(db, db.busy_timeout_ms, [&]() -> Result<Counts> {
        const std::string where_b = batch_id ? " WHERE id = ?" : "";
        const std::string where_r = batch_id ? " WHERE r.batch_id = ?" : "";
        const std::string where_a = batch_id ? " WHERE batch_id = ?" : "";
        std::vector<Param> p;
        if (batch_id) p.emplace_back(*batch_id);
        const auto one = [&](const std::string& sql) { return to_int(db.query(sql, p).at(0)[0]); };
        Counts c;
        c.batches = one("SELECT COUNT(*) FROM batches" + where_b);
        c.records = one("SELECT COUNT(*) FROM records r" + where_r);
        c.bound =
            one("SELECT COUNT(*) FROM bindings b JOIN records r ON r.id = b.record_id" + where_r);
        c.unbound = c.records - c.bound;
        c.secrets = one(
            "SELECT COUNT(*) FROM record_secrets s JOIN records r ON r.id = s.record_id" + where_r);
        const auto rows =
            db.query("SELECT result, COUNT(*) FROM attempts" + where_a + " GROUP BY result", p);
        for (const auto& r : rows) {
            const auto n = to_int(r[1]);
            c.attempts += n;
            const auto o = outcome_from(r[0].value_or(""));
            if (o == Outcome::provisioned) c.provisioned += n;
            if (o == Outcome::already) c.already += n;
            if (o == Outcome::failed) c.failed += n;
        }
        return c;
    });
}

Result<std::string> Ledger::check() {
    Backend& db = *b_;
    return transact<std::string>(db, db.busy_timeout_ms, [&]() -> Result<std::string> {
        std::string problems;
        const std::string own = db.integrity();
        if (own != "ok") problems += own;
        const auto count = [&](const std::string& sql) {
            return to_int(db.query(sql, {}).at(0)[0]);
        };
        if (count("SELECT COUNT(*) FROM schema_version") != 1)
            problems += "schema_version has not exactly one row\n";
        if (const auto n = count("SELECT COUNT(*) FROM (SELECT imei FROM bindings GROUP BY imei "
                                 "HAVING COUNT(*) > 1) x"))
            problems += std::to_string(n) + " IMEI(s) bound more than once\n";
        if (const auto n = count("SELECT COUNT(*) FROM bindings b JOIN records r ON r.id = "
                                 "b.record_id WHERE r.listed_imei IS NOT NULL AND r.listed_imei "
                                 "<> b.imei"))
            problems += std::to_string(n) + " record(s) bound to another IMEI than listed\n";
        if (const auto n = count("SELECT COUNT(*) FROM batches b WHERE b.record_count <> (SELECT "
                                 "COUNT(*) FROM records r WHERE r.batch_id = b.id)"))
            problems += std::to_string(n) + " batch(es) missing records\n";
        if (problems.empty()) return std::string("ok");
        if (problems.back() == '\n') problems.pop_back();
        return problems;
    });
}

}  // namespace qmtkit::ledger
