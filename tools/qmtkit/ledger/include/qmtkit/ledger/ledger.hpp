// The binding ledger of factory provisioning: which credential record of a manifest went to which
// module (IMEI), and every provisioning attempt. Two backends behind one interface:
//
//   sqlite:PATH (or a bare PATH)      one line PC; WAL mode, synchronous=FULL, BEGIN IMMEDIATE
//   postgresql://USER[:PW]@HOST/DB    several line PCs sharing one batch (libpq; also postgres://)
//
// The guarantees come from the schema's unique constraints, not from this code: a record is bound
// to at most one IMEI, an IMEI to at most one record, a device (cloud, product, name) is in at
// most one batch. Every operation is one transaction: what returned success is committed (a
// `kill -9` or a power cut after it loses nothing), what did not left nothing behind.
// docs/ledger.md describes the schema, the URLs and the guarantees.
//
// No operation throws: each returns a Result<T> holding a value or an Error (a code and a one-line
// message that never contains a password from the URL nor a stored secret). A Ledger is one
// connection: use it from one thread at a time (several processes or Ledgers may share a file or
// a database).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace qmtkit::manifest {
struct Manifest;
}

namespace qmtkit::ledger {

// ------------------------------------------------------------------------------------- errors

enum class Errc {
    bad_url,                // not sqlite:PATH, PATH or postgresql://...
    cannot_open,            // the file / server cannot be opened or reached, or refused us
    not_a_ledger,           // open without create: no ledger there (no schema_version table)
    schema_too_new,         // written by a newer qmtkit (schema_version above ours)
    invalid_argument,       // an empty IMEI, an unknown result, a batch without records, ...
    unknown_batch,          // no batch with that id
    unknown_record,         // no record with that id
    batch_mismatch,         // import: the batch id exists with other records (or another cloud)
    record_in_other_batch,  // import: a device of this manifest belongs to another batch
    imei_in_other_batch,    // bind: the IMEI is bound to a record of another batch
    listed_record_taken,    // bind: the record listing this IMEI is bound to another IMEI
    no_record_left,         // bind: every record of the batch is bound (or reserved by an IMEI)
    secret_conflict,        // store_secret: a different secret is already stored for the record
    busy,                   // the database stayed locked / kept conflicting past the retry limit
    backend,                // any other database error (the message tells)
};
std::string_view to_string(Errc e);  // "no_record_left", ...

struct Error {
    Errc code = Errc::backend;
    std::string message;  // one line, no password, no secret
};

struct Done {};

// Expected-like: a value or an Error.
template <class T>
class Result {
  public:
    Result(T v) : v_(std::move(v)) {}      // NOLINT(google-explicit-constructor)
    Result(Error e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};
using Status = Result<Done>;

// ----------------------------------------------------------------------------- the records

// One device of a manifest, as the ledger keeps it: identity only, never its secret.
struct RecordSpec {
    std::string product;  // Aliyun product_key, Tencent product_id
    std::string device_name;
    std::optional<std::string> imei;  // the IMEI the manifest lists for it
};

// A batch: one manifest's records, in manifest order (record index = position).
struct BatchSpec {
    std::string manifest_id;  // identifies the batch; batch_from_manifest: "sha256:<hex>"
    std::string cloud;        // "aliyun" | "tencent" | "tencent-token"
    std::string source;       // where it came from (the manifest's file name); informational
    std::vector<RecordSpec> records;
};

// The batch of a loaded manifest: its id is "sha256:" + the SHA-256 of the cloud and of every
// device's product, name and listed IMEI in order (no secret goes into it), so the same manifest
// is the same batch on every line PC.
BatchSpec batch_from_manifest(const manifest::Manifest& m);
// The id batch_from_manifest computes, from a spec's cloud and records.
std::string manifest_id_of(const std::string& cloud, const std::vector<RecordSpec>& records);

struct Batch {
    std::int64_t id = 0;
    std::string manifest_id;
    std::string cloud;
    std::size_t records = 0;
    bool created = false;  // import: this call created it (false: it was there already)
};

struct Record {
    std::int64_t id = 0;
    std::int64_t batch_id = 0;
    std::int64_t index = 0;  // position in the manifest's "devices"
    std::string cloud;
    std::string product;
    std::string device_name;
    std::optional<std::string> listed_imei;
};

struct Binding {
    Record record;
    std::string imei;
    bool already = false;  // the IMEI was bound before this call (to this same record)
};

// --------------------------------------------------------------------------------- attempts

enum class Outcome { provisioned, already, failed };
std::string_view to_string(Outcome o);  // "provisioned" | "already" | "failed"
std::optional<Outcome> outcome_from(std::string_view s);

struct StepTime {
    std::string step;  // "at", "imei", "bind", "register", "write", "verify", ...
    double ms = 0;
};

struct Attempt {
    std::string time;  // ISO 8601 UTC ("2024-05-01T08:30:00.123Z"); empty: now
    std::string station;
    std::string port;
    std::string imei;  // may be empty when the module never told it
    std::string imsi;
    std::string iccid;
    std::string firmware;
    std::optional<std::int64_t> record_id;
    Outcome result = Outcome::failed;
    std::string failed_step;      // result failed: the step that failed
    std::string reason;           // result failed: why (one line; no secret)
    std::vector<StepTime> steps;  // in order
};

enum class ExportFormat { jsonl, csv };
// The columns of an export, in order (CSV header; JSONL keys).
const std::vector<std::string>& export_columns();

struct Counts {
    std::int64_t batches = 0;
    std::int64_t records = 0;
    std::int64_t bound = 0;
    std::int64_t unbound = 0;
    std::int64_t secrets = 0;
    std::int64_t attempts = 0;
    std::int64_t provisioned = 0;
    std::int64_t already = 0;
    std::int64_t failed = 0;
};

struct OpenOptions {
    bool create = true;           // create the schema when absent (false: Errc::not_a_ledger)
    int busy_timeout_ms = 15000;  // how long a locked database / conflicting bind is retried
};

// ---------------------------------------------------------------------------------- ledger

class Backend;  // the implementation (SQLite or PostgreSQL)

class Ledger {
  public:
    static Result<Ledger> open(const std::string& url, const OpenOptions& opt = {});

    Ledger(Ledger&&) noexcept;
    Ledger& operator=(Ledger&&) noexcept;
    ~Ledger();

    // The URL with any password replaced by "***" (for messages and logs).
    const std::string& display_url() const;
    std::string_view backend_name() const;  // "sqlite" | "postgresql"
    static constexpr int kSchemaVersion = 1;

    // Creates the batch and its records, or finds them (idempotent: the same spec again changes
    // nothing; several line PCs may import at once).
    Result<Batch> import_batch(const BatchSpec& spec);
    Result<Batch> find_batch(const std::string& manifest_id);

    // Binds `imei` to a record of the batch, in one transaction: the same IMEI again returns its
    // record with already = true (never a second one); else the record listing this IMEI, else
    // the unbound record with the lowest index among those listing no IMEI. Errors:
    // no_record_left, imei_in_other_batch, listed_record_taken, busy.
    Result<Binding> bind(std::int64_t batch_id, const std::string& imei,
                         const std::string& station = {});
    // The binding of an IMEI, if any (any batch).
    Result<std::optional<Binding>> binding_of(const std::string& imei);

    // Every binding of a batch, by record index (a dry run's view of what is taken).
    Result<std::vector<Binding>> bindings(std::int64_t batch_id);
    // An attempt of `imei` on `record_id` was recorded as provisioned or already: the module is
    // done (a rerun reports it "already").
    Result<bool> provisioned_before(std::int64_t record_id, const std::string& imei);

    // Keeps a record's secret that the provisioner needs later (e.g. the device secret dynamic
    // registration returned). The same secret again: ok; a different one: secret_conflict.
    // Secrets are never exported.
    Status store_secret(std::int64_t record_id, const std::string& secret);
    Result<std::optional<std::string>> secret(std::int64_t record_id);

    // Appends one attempt; returns its id.
    Result<std::int64_t> record_attempt(std::int64_t batch_id, const Attempt& a);

    // Every attempt (of one batch, or all), oldest first, one JSON object a line or CSV with a
    // header: export_columns(). Never a secret.
    Status export_attempts(std::ostream& out, ExportFormat format,
                           std::optional<std::int64_t> batch_id = std::nullopt);

    Result<Counts> counts(std::optional<std::int64_t> batch_id = std::nullopt);

    // The database's own consistency check (SQLite: integrity_check and foreign_key_check) and
    // the ledger's invariants; "ok" or what is wrong.
    Result<std::string> check();

  private:
    explicit Ledger(std::unique_ptr<Backend> b);
    std::unique_ptr<Backend> b_;
};

// "sqlite:PATH" / "PATH" -> sqlite; "postgresql://" / "postgres://" -> postgresql.
enum class Scheme { sqlite, postgresql };
Result<std::pair<Scheme, std::string>> parse_url(const std::string& url);  // scheme, target
std::string redact_url(const std::string& url);

// ISO 8601 UTC with milliseconds: "2024-05-01T08:30:00.123Z".
std::string now_utc();

}  // namespace qmtkit::ledger
