// host::FileStore — an OutboxStore in a spool directory, for gateways and tools: QoS >= 1
// messages not yet acknowledged survive a crash or a power loss of the host.
//
// The directory holds an append-only journal (outbox.journal: a record per append and per
// release, each with a CRC-32, fsync'ed before append() / release() return) and a lock file
// (outbox.lock, flock'ed, holding the owner's pid) so two processes never share a spool. When
// most of the journal is released records it is rewritten with only the pending ones (a new file,
// fsync, rename, fsync of the directory). A torn last record (a crash during a write) is dropped
// when the spool is opened. Format and guarantees: docs/porting.md.
//
//   auto spool = qmtkit::host::FileStore::open("/var/spool/qmtkit", 1 << 20);
//   if (!spool) { std::cerr << spool.error().message() << "\n"; return 1; }
//   qmt::OutboxStore& store = spool.value();
//
// Not thread-safe (like the client it serves). POSIX (fsync, flock, rename) and Windows
// (FlushFileBuffers, LockFileEx on one byte past the end, MoveFileExW with
// MOVEFILE_WRITE_THROUGH); paths are UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "qmtkit/common/expected.hpp"
#include "qmtkit/qmt/outbox_store.hpp"

namespace qmtkit::host {

struct FileStoreError {
    enum class Kind : std::uint8_t {
        in_use,         // another process holds the spool's lock
        io,             // the directory or a file could not be created, read, written or synced
        not_a_journal,  // outbox.journal is not a qmtkit journal: left as it is
        bad_limit,      // max_bytes too small for even one record
    };
    Kind kind = Kind::io;
    int sys_errno = 0;  // with io: the errno
    std::string text;   // one line naming the path and the cause
    const std::string& message() const { return text; }
};

class FileStore final : public qmt::OutboxStore {
  public:
    // The journal's own bytes: the file header and a record's header (a release is just one).
    static constexpr std::uint64_t kHeaderBytes = 16;

    // Creates `dir` if it is missing (not its parents), locks it and recovers its journal.
    // `max_bytes` bounds the journal file: an append that would pass it (after compacting)
    // is StoreError::full.
    static Expected<FileStore, FileStoreError> open(const std::string& dir,
                                                    std::uint64_t max_bytes);

    FileStore(FileStore&&) noexcept;
    FileStore& operator=(FileStore&&) noexcept;
    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;
    ~FileStore();  // unlocks the spool

    Expected<std::uint32_t, qmt::StoreError> append(const qmt::StoredMessage& m) override;
    void release(std::uint32_t id) override;
    // A record larger than the caller's buffers is skipped (it stays in the journal).
    bool next(std::uint32_t after, qmt::StoredMessage& out, char* topic_buf, std::size_t topic_cap,
              std::uint8_t* payload_buf, std::size_t payload_cap) override;

    // Rewrites the journal with only the pending records; false (and last_error()) on failure,
    // the old journal then kept. append() and release() call it when it is worth it.
    bool compact();

    // The last failure, one line naming the spool ("spool /var/spool/qmtkit: full: ...");
    // empty if none.
    const std::string& last_error() const;
    const std::string& dir() const;
    std::uint64_t max_bytes() const;
    std::uint64_t journal_bytes() const;  // the journal file's size now
    std::size_t pending() const;          // records not released
    // Bytes of a torn last record open() dropped (0 normally).
    std::uint64_t dropped_bytes() const;

  private:
    struct Impl;
    explicit FileStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace qmtkit::host
