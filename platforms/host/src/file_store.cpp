// The journal (integers little-endian):
//
//   file header (16 B): "QMTKJRNL", base_id u32 (the next id when the file was written),
//                       crc32 of the 12 bytes before
//   append  (16 B + body): 'A', flags (qos | retain << 2 | fixed << 3), topic length u8, 0,
//                          payload length u32, id u32, crc32 over header[0..11] + topic + payload;
//                          then the topic and the payload
//   release (16 B):        'R', 0, 0, 0, 0 u32, id u32, crc32 over header[0..11]
//
// Records are only ever appended; the first one that is short or fails its CRC ends the journal
// (a crash during its write) and is cut off when the spool is opened.
#include "qmtkit/host/file_store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "qmtkit/common/crc32.hpp"
#include "qmtkit/common/le_bytes.hpp"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace qmtkit::host {

namespace {

// --- The file system: every OS call of the store, each answering 0 or an errno. -------------

#ifndef _WIN32

struct File {
    int fd = -1;
};

int make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return 0;
    return errno;
}

int open_file(const std::string& path, bool create, File& f) {
    const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    f.fd = ::open(path.c_str(), flags, 0644);
    return f.fd < 0 ? errno : 0;
}

void close_file(File& f) {
    if (f.fd >= 0) ::close(f.fd);
    f.fd = -1;
}

// EWOULDBLOCK: another open file description holds it.
int lock_file(File& f) {
    return ::flock(f.fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
}

int file_size(File& f, std::uint64_t& size) {
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return errno;
    size = static_cast<std::uint64_t>(st.st_size);
    return 0;
}

int read_at(File& f, std::uint64_t off, void* buf, std::size_t n, std::size_t& got) {
    got = 0;
    while (got < n) {
        const ssize_t r =
            ::pread(f.fd, static_cast<char*>(buf) + got, n - got, static_cast<off_t>(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return 0;
}

int write_at(File& f, std::uint64_t off, const void* data, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
        const ssize_t r = ::pwrite(f.fd, static_cast<const char*>(data) + done, n - done,
                                   static_cast<off_t>(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        done += static_cast<std::size_t>(r);
    }
    return 0;
}

int sync_file(File& f) {
    return ::fsync(f.fd) == 0 ? 0 : errno;
}

int truncate_file(File& f, std::uint64_t size) {
    return ::ftruncate(f.fd, static_cast<off_t>(size)) == 0 ? 0 : errno;
}

int rename_file(const std::string& from, const std::string& to) {
    return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

void remove_file(const std::string& path) {
    ::unlink(path.c_str());
}

// A rename is durable once the directory holding it is synced.
int sync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    const int r = ::fsync(fd) == 0 ? 0 : errno;
    ::close(fd);
    return r;
}

int own_pid() {
    return static_cast<int>(::getpid());
}

// The journal may be replaced only while no handle holds it (Windows refuses a rename over an
// open file): compact() lets go of it first. Nothing to do here.
void let_go_for_rename(File&) {}

#else  // Windows: handles; the same answers (0 or an errno) so the store's logic is shared.

struct File {
    HANDLE h = INVALID_HANDLE_VALUE;
};

// The errno a Win32 error means to the store (ENOENT, EWOULDBLOCK are acted upon).
int errno_of(DWORD e) {
    switch (e) {
        case ERROR_FILE_NOT_FOUND:
        case ERROR_PATH_NOT_FOUND:
            return ENOENT;
        case ERROR_ALREADY_EXISTS:
        case ERROR_FILE_EXISTS:
            return EEXIST;
        case ERROR_ACCESS_DENIED:
            return EACCES;
        case ERROR_SHARING_VIOLATION:
        case ERROR_LOCK_VIOLATION:
            return EWOULDBLOCK;
        case ERROR_DISK_FULL:
        case ERROR_HANDLE_DISK_FULL:
            return ENOSPC;
        case ERROR_DIRECTORY:
            return ENOTDIR;
        default:
            return EIO;
    }
}
int last_errno() {
    return errno_of(::GetLastError());
}

// Paths are UTF-8; the wide API takes any name Windows allows.
std::wstring wide(const std::string& s) {
    if (s.empty()) return {};
    const int n =
        ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring w(static_cast<std::size_t>(n > 0 ? n : 0), L'\0');
    if (n > 0) ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), n);
    return w;
}

int make_dir(const std::string& path) {
    if (::CreateDirectoryW(wide(path).c_str(), nullptr) != 0) return 0;
    const int e = last_errno();
    return e == EEXIST ? 0 : e;
}

int open_file(const std::string& path, bool create, File& f) {
    // FILE_SHARE_DELETE: the temporary file is renamed while it is open (compact()).
    f.h = ::CreateFileW(wide(path).c_str(), GENERIC_READ | GENERIC_WRITE,
                        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                        create ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    return f.h == INVALID_HANDLE_VALUE ? last_errno() : 0;
}

void close_file(File& f) {
    if (f.h != INVALID_HANDLE_VALUE) ::CloseHandle(f.h);
    f.h = INVALID_HANDLE_VALUE;
}

// Windows byte-range locks are mandatory: one byte far past the end is locked, so the pid at
// the start stays readable to a second opener that wants to name the owner. Released when the
// handle closes, or the process ends.
int lock_file(File& f) {
    OVERLAPPED ov{};
    ov.OffsetHigh = 0x40000000;
    if (::LockFileEx(f.h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov) != 0)
        return 0;
    return last_errno();
}

int file_size(File& f, std::uint64_t& size) {
    LARGE_INTEGER n{};
    if (::GetFileSizeEx(f.h, &n) == 0) return last_errno();
    size = static_cast<std::uint64_t>(n.QuadPart);
    return 0;
}

OVERLAPPED at_offset(std::uint64_t off) {
    OVERLAPPED ov{};
    ov.Offset = static_cast<DWORD>(off & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(off >> 32);
    return ov;
}

int read_at(File& f, std::uint64_t off, void* buf, std::size_t n, std::size_t& got) {
    got = 0;
    while (got < n) {
        OVERLAPPED ov = at_offset(off + got);
        const DWORD want = static_cast<DWORD>(std::min<std::size_t>(n - got, 1u << 30));
        DWORD r = 0;
        if (::ReadFile(f.h, static_cast<char*>(buf) + got, want, &r, &ov) == 0) {
            if (::GetLastError() == ERROR_HANDLE_EOF) break;
            return last_errno();
        }
        if (r == 0) break;
        got += r;
    }
    return 0;
}

int write_at(File& f, std::uint64_t off, const void* data, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
        OVERLAPPED ov = at_offset(off + done);
        const DWORD want = static_cast<DWORD>(std::min<std::size_t>(n - done, 1u << 30));
        DWORD w = 0;
        if (::WriteFile(f.h, static_cast<const char*>(data) + done, want, &w, &ov) == 0)
            return last_errno();
        done += w;
    }
    return 0;
}

// Through the OS cache to the device, as fsync.
int sync_file(File& f) {
    return ::FlushFileBuffers(f.h) != 0 ? 0 : last_errno();
}

int truncate_file(File& f, std::uint64_t size) {
    FILE_END_OF_FILE_INFO eof{};
    eof.EndOfFile.QuadPart = static_cast<LONGLONG>(size);
    return ::SetFileInformationByHandle(f.h, FileEndOfFileInfo, &eof, sizeof eof) != 0
               ? 0
               : last_errno();
}

// MOVEFILE_WRITE_THROUGH: returns once the rename is on disk (what sync_dir does on POSIX).
int rename_file(const std::string& from, const std::string& to) {
    return ::MoveFileExW(wide(from).c_str(), wide(to).c_str(),
                         MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) != 0
               ? 0
               : last_errno();
}

void remove_file(const std::string& path) {
    ::DeleteFileW(wide(path).c_str());
}

// The rename was written through (rename_file); a directory handle cannot be flushed anyway.
int sync_dir(const std::string&) {
    return 0;
}

int own_pid() {
    return static_cast<int>(::GetCurrentProcessId());
}

// Windows refuses to rename over a file some handle holds open.
void let_go_for_rename(File& f) {
    close_file(f);
}

#endif

bool is_open(const File& f) {
#ifdef _WIN32
    return f.h != INVALID_HANDLE_VALUE;
#else
    return f.fd >= 0;
#endif
}

// --- The format ------------------------------------------------------------------------------

constexpr std::size_t kHdr = 16;
constexpr char kMagic[8] = {'Q', 'M', 'T', 'K', 'J', 'R', 'N', 'L'};
constexpr std::uint8_t kAppend = 'A';
constexpr std::uint8_t kRelease = 'R';
constexpr std::uint32_t kMaxPayload = 16u * 1024 * 1024;  // far above the module's 1 KB

void file_header(std::uint8_t* h, std::uint32_t base_id) {
    std::memcpy(h, kMagic, 8);
    put_le32(h + 8, base_id);
    put_le32(h + 12, crc32(h, 12));
}

// A record's header; its CRC covers `body` (topic then payload).
void record_header(std::uint8_t* h, std::uint8_t type, std::uint8_t flags, std::uint8_t tlen,
                   std::uint32_t plen, std::uint32_t id, const void* topic, const void* payload) {
    h[0] = type;
    h[1] = flags;
    h[2] = tlen;
    h[3] = 0;
    put_le32(h + 4, plen);
    put_le32(h + 8, id);
    std::uint32_t crc = crc32_update(kCrc32Init, h, 12);
    crc = crc32_update(crc, topic, tlen);
    crc = crc32_update(crc, payload, plen);
    put_le32(h + 12, crc32_final(crc));
}

std::string describe_errno(int e) {
    return e == 0 ? "unknown error" : std::strerror(e);
}

// All `n` bytes or an error (EIO: the file ends first).
int read_exact(File& f, std::uint64_t off, void* buf, std::size_t n) {
    std::size_t got = 0;
    const int e = read_at(f, off, buf, n, got);
    return e != 0 ? e : got < n ? EIO : 0;
}

}  // namespace

struct FileStore::Impl {
    struct Loc {
        std::uint64_t offset;  // of the record's header
        std::uint32_t payload_len;
        std::uint8_t topic_len;
        std::uint8_t flags;
        std::uint64_t size() const { return kHdr + topic_len + payload_len; }
    };

    std::string dir;
    std::string journal_path;
    std::string tmp_path;
    std::string lock_path;
    std::uint64_t max_bytes = 0;
    File journal;
    File lock;
    std::uint64_t size = 0;        // of the journal
    std::uint64_t live_bytes = 0;  // of the pending records
    std::uint64_t dropped = 0;
    std::uint32_t next_id = 1;
    std::map<std::uint32_t, Loc> pending;
    std::string last_error;
    int last_errno = 0;

    ~Impl() {
        close_file(journal);
        close_file(lock);  // releases the flock
    }

    std::string where() const { return "spool " + dir; }
    void fail(const std::string& what, int e) {
        last_errno = e;
        last_error = where() + ": " + what + ": " + describe_errno(e);
    }

    // Worth rewriting: most of the file is released records, or it is at its bound.
    bool should_compact(std::uint64_t extra) const {
        const std::uint64_t dead = size - kHdr - live_bytes;
        if (dead == 0) return false;
        const std::uint64_t floor = max_bytes / 2 < 65536 ? max_bytes / 2 : 65536;
        return (size >= floor && dead > live_bytes) || size + extra > max_bytes;
    }

    // Reads the journal; the first short or failing record ends it and is cut off.
    int recover(FileStoreError& err) {
        if (int e = file_size(journal, size); e != 0) {
            err = {FileStoreError::Kind::io, e,
                   where() + ": cannot stat " + journal_path + ": " + describe_errno(e)};
            return e;
        }
        std::uint8_t h[kHdr];
        std::size_t got = 0;
        if (int e = read_at(journal, 0, h, kHdr, got); e != 0) {
            err = {FileStoreError::Kind::io, e,
                   where() + ": cannot read " + journal_path + ": " + describe_errno(e)};
            return e;
        }
        if (got < kHdr || std::memcmp(h, kMagic, 8) != 0 || crc32(h, 12) != get_le32(h + 12)) {
            err = {
                FileStoreError::Kind::not_a_journal, 0,
                where() + ": " + journal_path + " is not a qmtkit outbox journal (left as it is)"};
            return EINVAL;
        }
        next_id = get_le32(h + 8) > 1 ? get_le32(h + 8) : 1;
        std::uint64_t off = kHdr;
        std::vector<std::uint8_t> body;
        while (off < size) {
            if (size - off < kHdr || read_exact(journal, off, h, kHdr) != 0) break;
            const std::uint8_t type = h[0];
            const std::uint8_t tlen = h[2];
            const std::uint32_t plen = get_le32(h + 4);
            const std::uint32_t id = get_le32(h + 8);
            if ((type != kAppend && type != kRelease) || h[3] != 0 || plen > kMaxPayload ||
                (type == kRelease && (tlen != 0 || plen != 0 || h[1] != 0)))
                break;
            const std::size_t n = static_cast<std::size_t>(tlen) + plen;
            if (size - off - kHdr < n) break;
            body.resize(n);
            if (read_exact(journal, off + kHdr, body.data(), n) != 0) break;
            std::uint32_t crc = crc32_update(kCrc32Init, h, 12);
            crc = crc32_update(crc, body.data(), n);
            if (crc32_final(crc) != get_le32(h + 12)) break;
            if (type == kAppend) {
                pending[id] = Loc{off, plen, tlen, h[1]};
                live_bytes += kHdr + n;
            } else if (auto it = pending.find(id); it != pending.end()) {
                live_bytes -= it->second.size();
                pending.erase(it);
            }
            if (id >= next_id) next_id = id + 1;
            off += kHdr + n;
        }
        if (off < size) {  // a torn last record: cut off, so appends follow sound ones
            dropped = size - off;
            int e = truncate_file(journal, off);
            if (e == 0) e = sync_file(journal);
            if (e != 0) {
                err = {FileStoreError::Kind::io, e,
                       where() + ": cannot cut the torn last record off " + journal_path + ": " +
                           describe_errno(e)};
                return e;
            }
            size = off;
        }
        return 0;
    }

    // Appends bytes and syncs; on failure the file is cut back to where it was.
    bool append_durably(const std::uint8_t* h, const void* topic, std::size_t tlen,
                        const void* payload, std::size_t plen, const char* what) {
        // Built by insert, not memcpy at offsets: GCC 12 at -O3 takes the offsets for a wrapped
        // size and fails the release build with -Wstringop-overflow.
        const auto* t = static_cast<const std::uint8_t*>(topic);
        const auto* p = static_cast<const std::uint8_t*>(payload);
        std::vector<std::uint8_t> rec;
        rec.reserve(kHdr + tlen + plen);
        rec.insert(rec.end(), h, h + kHdr);
        if (tlen > 0) rec.insert(rec.end(), t, t + tlen);
        if (plen > 0) rec.insert(rec.end(), p, p + plen);
        int e = write_at(journal, size, rec.data(), rec.size());
        if (e == 0) e = sync_file(journal);
        if (e != 0) {
            fail(std::string("writing ") + what + " to " + journal_path, e);
            truncate_file(journal, size);
            return false;
        }
        size += rec.size();
        return true;
    }

    bool compact() {
        File out;
        remove_file(tmp_path);
        int e = open_file(tmp_path, true, out);
        std::map<std::uint32_t, Loc> moved;
        std::uint64_t off = kHdr;
        if (e == 0) {
            std::uint8_t h[kHdr];
            file_header(h, next_id);
            e = write_at(out, 0, h, kHdr);
        }
        std::vector<std::uint8_t> rec;
        for (auto it = pending.begin(); e == 0 && it != pending.end(); ++it) {
            rec.resize(it->second.size());
            e = read_exact(journal, it->second.offset, rec.data(), rec.size());
            if (e == 0) e = write_at(out, off, rec.data(), rec.size());
            Loc l = it->second;
            l.offset = off;
            moved.emplace(it->first, l);
            off += rec.size();
        }
        if (e == 0) e = sync_file(out);
        const bool had_journal = is_open(journal);
        if (e == 0) {
            let_go_for_rename(journal);
            e = rename_file(tmp_path, journal_path);
        }
        if (e != 0) {
            fail("compacting into " + tmp_path, e);
            close_file(out);
            remove_file(tmp_path);
            // The old journal goes on (Windows let go of it for the rename).
            if (had_journal && !is_open(journal)) open_file(journal_path, false, journal);
            return false;
        }
        // Renamed: the new file is the journal whatever happens to the directory sync.
        close_file(journal);
        journal = out;
        size = off;
        pending.swap(moved);
        if (e = sync_dir(dir); e != 0) {
            fail("syncing the directory after compacting", e);
            return false;
        }
        return true;
    }
};

FileStore::FileStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileStore::FileStore(FileStore&&) noexcept = default;
FileStore& FileStore::operator=(FileStore&&) noexcept = default;
FileStore::~FileStore() = default;

Expected<FileStore, FileStoreError> FileStore::open(const std::string& dir,
                                                    std::uint64_t max_bytes) {
    auto s = std::make_unique<Impl>();
    s->dir = dir;
    s->journal_path = dir + "/outbox.journal";
    s->tmp_path = dir + "/outbox.journal.tmp";
    s->lock_path = dir + "/outbox.lock";
    s->max_bytes = max_bytes;
    using Kind = FileStoreError::Kind;
    if (max_bytes < 2 * kHdr + 1) {
        return unexpected(FileStoreError{Kind::bad_limit, 0,
                                         s->where() + ": a limit of " + std::to_string(max_bytes) +
                                             " bytes holds no message (at least " +
                                             std::to_string(2 * kHdr + 1) + ")"});
    }
    auto io_error = [&](const std::string& what, int e) {
        return unexpected(
            FileStoreError{Kind::io, e, s->where() + ": " + what + ": " + describe_errno(e)});
    };
    if (int e = make_dir(dir); e != 0) return io_error("cannot create the directory", e);
    if (int e = open_file(s->lock_path, true, s->lock); e != 0)
        return io_error("cannot open " + s->lock_path, e);
    if (int e = lock_file(s->lock); e != 0) {
        if (e != EWOULDBLOCK && e != EAGAIN) return io_error("cannot lock " + s->lock_path, e);
        char pid[32] = {};
        std::size_t got = 0;
        read_at(s->lock, 0, pid, sizeof pid - 1, got);
        std::string owner = got > 0 ? std::string(pid, got) : std::string();
        while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
        return unexpected(
            FileStoreError{Kind::in_use, e,
                           s->where() + " is in use by another process" +
                               (owner.empty() ? std::string() : " (pid " + owner + ")") +
                               "; lock " + s->lock_path});
    }
    const std::string pid = std::to_string(own_pid()) + "\n";
    if (truncate_file(s->lock, 0) == 0) write_at(s->lock, 0, pid.data(), pid.size());

    // A compaction a crash interrupted left its temporary file; the journal is still whole.
    remove_file(s->tmp_path);
    if (int e = open_file(s->journal_path, false, s->journal); e == ENOENT) {
        // A new spool: written like a compaction, so the journal never exists half-made.
        if (!s->compact()) {
            return unexpected(FileStoreError{Kind::io, s->last_errno, s->last_error});
        }
    } else if (e != 0) {
        return io_error("cannot open " + s->journal_path, e);
    } else {
        FileStoreError err;
        if (s->recover(err) != 0) return unexpected(err);
    }
    return FileStore(std::move(s));
}

Expected<std::uint32_t, qmt::StoreError> FileStore::append(const qmt::StoredMessage& m) {
    Impl& s = *impl_;
    const std::uint64_t need = kHdr + m.topic.size() + m.payload.size;
    if (m.topic.size() > 0xFF || m.payload.size > kMaxPayload) {
        s.last_error = s.where() + ": a message of " + std::to_string(need) +
                       " bytes is larger than a journal record can be";
        return unexpected(qmt::StoreError::full);
    }
    if (s.size + need > s.max_bytes && s.should_compact(need)) s.compact();
    if (s.size + need > s.max_bytes) {
        s.last_error = s.where() + ": full: " + std::to_string(s.pending.size()) +
                       " unsent messages in " + std::to_string(s.size) + " of " +
                       std::to_string(s.max_bytes) + " bytes; this one needs " +
                       std::to_string(need);
        return unexpected(qmt::StoreError::full);
    }
    const std::uint32_t id = s.next_id;
    const auto flags =
        static_cast<std::uint8_t>((m.qos & 3u) | (m.retain ? 4u : 0u) | (m.fixed ? 8u : 0u));
    std::uint8_t h[kHdr];
    record_header(h, kAppend, flags, static_cast<std::uint8_t>(m.topic.size()),
                  static_cast<std::uint32_t>(m.payload.size), id, m.topic.data(), m.payload.data);
    const std::uint64_t at = s.size;
    if (!s.append_durably(h, m.topic.data(), m.topic.size(), m.payload.data, m.payload.size,
                          "a message"))
        return unexpected(qmt::StoreError::io);
    ++s.next_id;
    s.pending[id] = Impl::Loc{at, static_cast<std::uint32_t>(m.payload.size),
                              static_cast<std::uint8_t>(m.topic.size()), flags};
    s.live_bytes += need;
    return id;
}

void FileStore::release(std::uint32_t id) {
    Impl& s = *impl_;
    auto it = s.pending.find(id);
    if (it == s.pending.end()) return;
    s.live_bytes -= it->second.size();
    s.pending.erase(it);
    // A compaction drops the record without a release record; if it fails, the record goes on.
    if (s.should_compact(kHdr) && s.compact()) return;
    std::uint8_t h[kHdr];
    record_header(h, kRelease, 0, 0, 0, id, nullptr, nullptr);
    s.append_durably(h, nullptr, 0, nullptr, 0, "a release");
}

bool FileStore::next(std::uint32_t after, qmt::StoredMessage& out, char* topic_buf,
                     std::size_t topic_cap, std::uint8_t* payload_buf, std::size_t payload_cap) {
    Impl& s = *impl_;
    for (auto it = s.pending.upper_bound(after); it != s.pending.end(); ++it) {
        const Impl::Loc& l = it->second;
        out.id = it->first;
        out.qos = static_cast<std::uint8_t>(l.flags & 3u);
        out.retain = (l.flags & 4u) != 0;
        out.fixed = (l.flags & 8u) != 0;
        out.topic_size = l.topic_len;
        out.payload_size = l.payload_len;
        if (l.topic_len > topic_cap || l.payload_len > payload_cap) {
            out.topic = {};  // the caller asked for the sizes (or has no room): nothing copied
            out.payload = {};
            return true;
        }
        std::uint8_t h[kHdr];
        int e = read_exact(s.journal, l.offset, h, kHdr);
        if (e == 0 && l.topic_len > 0)
            e = read_exact(s.journal, l.offset + kHdr, topic_buf, l.topic_len);
        if (e == 0 && l.payload_len > 0)
            e = read_exact(s.journal, l.offset + kHdr + l.topic_len, payload_buf, l.payload_len);
        std::uint32_t crc = crc32_update(kCrc32Init, h, 12);
        crc = crc32_update(crc, topic_buf, l.topic_len);
        crc = crc32_update(crc, payload_buf, l.payload_len);
        if (e != 0 || crc32_final(crc) != get_le32(h + 12)) {
            // Changed under us since it was written or read back: not sent as it is.
            s.last_error = s.where() + ": message " + std::to_string(it->first) +
                           " in the journal failed its check; skipped";
            continue;
        }
        out.topic = std::string_view(topic_buf, l.topic_len);
        out.payload = ByteView(payload_buf, l.payload_len);
        return true;
    }
    return false;
}

bool FileStore::compact() {
    return impl_->compact();
}
const std::string& FileStore::last_error() const {
    return impl_->last_error;
}
const std::string& FileStore::dir() const {
    return impl_->dir;
}
std::uint64_t FileStore::max_bytes() const {
    return impl_->max_bytes;
}
std::uint64_t FileStore::journal_bytes() const {
    return impl_->size;
}
std::size_t FileStore::pending() const {
    return impl_->pending.size();
}
std::uint64_t FileStore::dropped_bytes() const {
    return impl_->dropped;
}

}  // namespace qmtkit::host
