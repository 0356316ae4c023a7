// host::FileStore in a real spool directory: the basics across reopening, a crash at every byte
// of the last record (the journal cut there, then reopened), compaction, the size bound, the
// lock against a second opener (in this process and in another), and files that are not ours.
#ifdef _WIN32
#include <process.h>
#else
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>

#include "../unit/store_contents.hpp"
#include "qmtkit/host/file_store.hpp"

namespace qmtkit::host {
namespace {

namespace fs = std::filesystem;
using qmt::StoreError;
using qmtkit::test::Contents;
using qmtkit::test::drain;
using qmtkit::test::Msg;

int own_pid() {
#ifdef _WIN32
    return ::_getpid();
#else
    return static_cast<int>(::getpid());
#endif
}

// A fresh directory under $TMPDIR (Windows: %TEMP%), removed with everything in it.
class TempDir {
  public:
    TempDir() {
#ifdef _WIN32
        // No mkdtemp: a name of our own, made only if it is new.
        std::random_device rd;
        for (int i = 0; i < 100 && path_.empty(); ++i) {
            const fs::path p =
                fs::temp_directory_path() /
                ("qmtkit-spool-" + std::to_string(own_pid()) + "-" + std::to_string(rd()));
            if (fs::create_directory(p)) path_ = p.generic_string();
        }
        if (path_.empty()) throw std::runtime_error("cannot make a temporary directory");
#else
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/qmtkit-spool-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
#endif
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& path() const {
        return path_;
    }
    std::string spool() const {
        return path_ + "/spool";
    }

  private:
    std::string path_;
};

FileStore open_ok(const std::string& dir, std::uint64_t max = 1 << 20) {
    auto r = FileStore::open(dir, max);
    if (!r) throw std::runtime_error(r.error().message());
    return std::move(r.value());
}

std::uint32_t append_ok(FileStore& s, const Msg& m) {
    auto r = s.append(m.stored());
    EXPECT_TRUE(r.has_value()) << s.last_error();
    return r ? r.value() : 0;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_all(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

TEST(FileStore, AppendNextReleaseAndReopen) {
    TempDir t;
    Contents want;
    std::uint32_t last = 0;
    {
        FileStore s = open_ok(t.spool());
        EXPECT_TRUE(drain(s).empty());
        const Msg a{"a", "", 1, false, false};
        const Msg b{std::string(255, 't'), std::string(1024, '\x1a'), 2, true, true};
        const Msg c{"c/d", std::string("\0\xff", 2), 1, false, true};
        want[append_ok(s, a)] = a;
        last = append_ok(s, b);
        want[last] = b;
        want[append_ok(s, c)] = c;
        EXPECT_EQ(want.begin()->first, 1u);
        EXPECT_EQ(drain(s), want);
        s.release(last);
        want.erase(last);
        EXPECT_EQ(s.pending(), 2u);
        EXPECT_EQ(drain(s), want);
        last = want.rbegin()->first;
    }
    FileStore s = open_ok(t.spool());
    EXPECT_EQ(drain(s), want);
    EXPECT_EQ(s.dropped_bytes(), 0u);
    EXPECT_GT(append_ok(s, Msg{"x", "y"}), last);
    // Moved into an optional, as a tool keeps it.
    std::optional<FileStore> kept;
    kept.emplace(std::move(s));
    EXPECT_EQ(kept->pending(), 3u);
}

// Buffers too small for a record: nothing copied, its sizes reported (how the client sizes its
// outbox record before reading the message into it).
TEST(FileStore, NextReportsSizesWhenTheBuffersAreTooSmall) {
    TempDir t;
    FileStore s = open_ok(t.spool());
    const std::uint32_t id = append_ok(s, Msg{"topic/x", std::string(700, 'p')});
    qmt::StoredMessage out;
    char topic[4];
    std::uint8_t payload[4] = {7, 7, 7, 7};
    ASSERT_TRUE(s.next(0, out, topic, sizeof topic, payload, sizeof payload));
    EXPECT_EQ(out.id, id);
    EXPECT_EQ(out.topic_size, 7u);
    EXPECT_EQ(out.payload_size, 700u);
    EXPECT_TRUE(out.topic.empty());
    EXPECT_EQ(payload[0], 7) << "copied into a buffer too small";
    EXPECT_FALSE(s.next(id, out, topic, sizeof topic, payload, sizeof payload));
}

// A crash while the last record was being written, at every byte of it: reopening never yields
// a corrupt record, keeps every record before it, cuts the torn bytes off, and goes on.
TEST(FileStore, ReopenAfterTornLastRecordAtEveryByte) {
    for (const bool last_is_release : {false, true}) {
        TempDir t;
        Contents before;
        std::uint32_t released = 0;
        std::uint64_t tail_start = 0;
        {
            FileStore s = open_ok(t.spool());
            for (int i = 0; i < 4; ++i) {
                const Msg m{"topic/" + std::to_string(i), std::string(10 + i * 7, char('a' + i))};
                before[append_ok(s, m)] = m;
            }
            released = before.begin()->first;
            s.release(released);
            before.erase(released);
            tail_start = s.journal_bytes();
            if (last_is_release) {
                s.release(before.rbegin()->first);
            } else {
                append_ok(s, Msg{"the/last", std::string(40, 'L')});
            }
        }
        const std::string journal = t.spool() + "/outbox.journal";
        const std::string whole = read_all(journal);
        ASSERT_GT(whole.size(), tail_start);
        for (std::size_t cut = tail_start; cut <= whole.size(); ++cut) {
            const std::string where = "cut at " + std::to_string(cut) + " of " +
                                      std::to_string(whole.size()) +
                                      (last_is_release ? " (a release)" : " (an append)");
            write_all(journal, whole.substr(0, cut));
            Contents got;
            std::uint32_t probe = 0;
            {
                FileStore s = open_ok(t.spool());
                got = drain(s);
                if (cut < whole.size()) {
                    EXPECT_EQ(got, before) << where;  // the torn one is not there, nor changed
                    EXPECT_EQ(s.dropped_bytes(), cut - tail_start) << where;
                    EXPECT_EQ(s.journal_bytes(), tail_start) << where;
                } else {
                    EXPECT_EQ(got.size(), last_is_release ? before.size() - 1 : before.size() + 1)
                        << where;
                }
                EXPECT_EQ(got.count(released), 0u) << where;
                probe = append_ok(s, Msg{"probe", "p"});
                EXPECT_GT(probe, before.rbegin()->first) << where;
            }
            FileStore again = open_ok(t.spool());
            Contents with_probe = got;
            with_probe[probe] = Msg{"probe", "p"};
            EXPECT_EQ(drain(again), with_probe) << where;
            EXPECT_EQ(again.dropped_bytes(), 0u) << where;
            if (::testing::Test::HasFailure()) return;
        }
    }
}

// Bytes that are not a record after the last one (a torn write of garbage) are dropped too.
TEST(FileStore, GarbageTailIsDropped) {
    TempDir t;
    Contents want;
    {
        FileStore s = open_ok(t.spool());
        want[append_ok(s, Msg{"g", "good"})] = Msg{"g", "good"};
    }
    const std::string journal = t.spool() + "/outbox.journal";
    write_all(journal,
              read_all(journal) + std::string("A\x01\x05\x00garbage that is no record", 30));
    FileStore s = open_ok(t.spool());
    EXPECT_EQ(drain(s), want);
    EXPECT_EQ(s.dropped_bytes(), 30u);
}

TEST(FileStore, CompactsWhenMostIsReleasedAndIdsGoOn) {
    TempDir t;
    const std::uint64_t max = 8 * 1024;  // compacts from 4 KB
    Contents want;
    std::uint32_t last = 0;
    std::uint64_t peak = 0;
    {
        FileStore s = open_ok(t.spool(), max);
        for (int i = 0; i < 300; ++i) {  // 36 KB written in all
            const Msg m{"c/" + std::to_string(i), std::string(100, char('0' + i % 10))};
            last = append_ok(s, m);
            want[last] = m;
            if (i % 10 != 0) {  // every tenth stays pending
                s.release(last);
                want.erase(last);
            }
            peak = std::max(peak, s.journal_bytes());
        }
        EXPECT_LE(peak, max);
        EXPECT_EQ(drain(s), want);
        EXPECT_TRUE(s.compact()) << s.last_error();
        std::uint64_t live = FileStore::kHeaderBytes;
        for (const auto& w : want) live += 16 + w.second.topic.size() + w.second.payload.size();
        EXPECT_EQ(s.journal_bytes(), live);
        for (const auto& w : want) s.release(w.first);
        EXPECT_TRUE(s.compact());
        EXPECT_EQ(s.journal_bytes(), FileStore::kHeaderBytes);
    }
    EXPECT_FALSE(fs::exists(t.spool() + "/outbox.journal.tmp"));
    FileStore s = open_ok(t.spool(), max);
    EXPECT_TRUE(drain(s).empty());
    EXPECT_GT(append_ok(s, Msg{"after", "compaction"}), last);  // the header keeps the next id
}

TEST(FileStore, FullThenRoomAfterReleases) {
    TempDir t;
    FileStore s = open_ok(t.spool(), 2048);
    const Msg m{"full", std::string(200, 'f')};
    std::vector<std::uint32_t> ids;
    for (;;) {
        auto r = s.append(m.stored());
        if (!r) {
            EXPECT_EQ(r.error(), StoreError::full);
            break;
        }
        ids.push_back(r.value());
    }
    EXPECT_EQ(ids.size(), (2048 - 16) / (16 + 4 + 200));
    EXPECT_NE(s.last_error().find("spool " + t.spool() + ": full"), std::string::npos)
        << s.last_error();
    EXPECT_LE(s.journal_bytes(), 2048u);
    s.release(ids[3]);
    s.release(ids[0]);
    const std::uint32_t a = append_ok(s, m);
    EXPECT_GT(a, ids.back());
    EXPECT_LE(s.journal_bytes(), 2048u);
    EXPECT_EQ(drain(s).size(), ids.size() - 1);

    auto tiny = FileStore::open(t.path() + "/tiny", 20);
    ASSERT_FALSE(tiny);
    EXPECT_EQ(tiny.error().kind, FileStoreError::Kind::bad_limit);
}

TEST(FileStore, SecondOpenerIsToldTheSpoolIsInUse) {
    TempDir t;
    std::optional<FileStore> first;
    first.emplace(open_ok(t.spool()));
    append_ok(*first, Msg{"held", "x"});

    auto second = FileStore::open(t.spool(), 1 << 20);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().kind, FileStoreError::Kind::in_use);
    const std::string& msg = second.error().message();
    EXPECT_NE(msg.find(t.spool()), std::string::npos) << msg;
    EXPECT_NE(msg.find("in use by another process (pid " + std::to_string(own_pid()) + ")"),
              std::string::npos)
        << msg;

#ifndef _WIN32  // (Windows: a second qmtkit pub on a held spool, tests/windows)
    // Another process is refused as well.
    const pid_t child = ::fork();
    if (child == 0) {
        auto r = FileStore::open(t.spool(), 1 << 20);
        ::_exit(!r && r.error().kind == FileStoreError::Kind::in_use ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif

    first.reset();  // unlocked
    FileStore again = open_ok(t.spool());
    EXPECT_EQ(again.pending(), 1u);
}

TEST(FileStore, AFileThatIsNotAJournalIsLeftAlone) {
    TempDir t;
    fs::create_directory(t.spool());
    const std::string journal = t.spool() + "/outbox.journal";
    write_all(journal, "not a journal at all, but someone's data");
    auto r = FileStore::open(t.spool(), 1 << 20);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, FileStoreError::Kind::not_a_journal);
    EXPECT_NE(r.error().message().find(journal), std::string::npos) << r.error().message();
    EXPECT_EQ(read_all(journal), "not a journal at all, but someone's data");

    auto missing = FileStore::open(t.path() + "/no/such/parent", 1 << 20);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, FileStoreError::Kind::io);
    EXPECT_NE(missing.error().message().find(t.path() + "/no/such/parent"), std::string::npos);
}

// A compaction a crash interrupted leaves its temporary file: the journal is still whole.
TEST(FileStore, LeftoverCompactionFileIsIgnored) {
    TempDir t;
    Contents want;
    {
        FileStore s = open_ok(t.spool());
        want[append_ok(s, Msg{"kept", "k"})] = Msg{"kept", "k"};
    }
    write_all(t.spool() + "/outbox.journal.tmp", "half a compaction");
    FileStore s = open_ok(t.spool());
    EXPECT_EQ(drain(s), want);
    EXPECT_FALSE(fs::exists(t.spool() + "/outbox.journal.tmp"));
}

}  // namespace
}  // namespace qmtkit::host
