// qmt::FlashLog — an OutboxStore over a page-erase NOR flash, for firmware: log-structured, no
// heap, no per-record RAM (60 bytes of state on a Cortex-M3; at most about 330 bytes of stack
// besides the Flash driver's), every write a clearing of bits in erased flash, and a power cut
// at any point leaving a store that mount() recovers. The format and the guarantees:
// docs/porting.md, "An outbox that survives a reset".
//
//   MyFlash flash;                       // implements qmt::Flash over 4 pages of the part
//   qmt::FlashLog log(flash);
//   if (!log.mount()) { ... }            // after every reset, before anything else
//   auto id = log.append({0, 1, false, false, "t", ByteView("21.5")});
#pragma once

#include <cstddef>
#include <cstdint>

#include "qmtkit/common/expected.hpp"
#include "qmtkit/qmt/outbox_store.hpp"

namespace qmtkit::qmt {

// The flash region an OEM gives the log: page_count() pages of page_size() bytes, addressed
// from 0. NOR semantics: erase() sets a page to 0xFF; program() only clears bits (1 -> 0).
class Flash {
  public:
    // The erase unit in bytes: a multiple of write_unit().
    virtual std::uint32_t page_size() const = 0;
    // At least 2 (one of them is always kept free, for moving pending records forward).
    virtual std::uint32_t page_count() const = 0;
    // The program unit: 1, 2, 4, 8 or 16 bytes. program() is only called with an address and a
    // length that are multiples of it.
    virtual std::uint32_t write_unit() const = 0;
    // False: the part refused (the store answers StoreError::io).
    virtual bool read(std::uint32_t addr, std::uint8_t* buf, std::size_t n) = 0;
    // A unit is programmed once after an erase, except with all zeros over a unit whose
    // program a power cut interrupted (NOR allows it; so does ECC flash like STM32L4's).
    virtual bool program(std::uint32_t addr, const std::uint8_t* data, std::size_t n) = 0;
    virtual bool erase(std::uint32_t page) = 0;

  protected:
    ~Flash() = default;
};

class FlashLog final : public OutboxStore {
  public:
    static constexpr std::uint32_t kMaxWriteUnit = 16;
    // Bytes staged on the stack per program() call (a multiple of every write unit).
    static constexpr std::uint32_t kChunk = 32;
    static_assert(kChunk % kMaxWriteUnit == 0, "chunks are whole write units");

    explicit FlashLog(Flash& flash) : flash_(flash) {}

    // Scans the flash: finds the live pages, the append point and the next id; drops a torn
    // last append; collapses duplicates a power cut during reclamation left. Call after every
    // reset, before anything else (the other calls fail until it succeeds). io: the part
    // refused, or its geometry is unusable (see Flash).
    Expected<void, StoreError> mount();

    // The overrides are inline so the vtable (and its typeinfo, in a build with RTTI such as a
    // sanitizer's) is emitted where the log is used: the core itself is built without RTTI.
    Expected<std::uint32_t, StoreError> append(const StoredMessage& m) override {
        return do_append(m);
    }
    void release(std::uint32_t id) override { do_release(id); }
    // A record larger than the caller's buffers is skipped (it stays in the store).
    bool next(std::uint32_t after, StoredMessage& out, char* topic_buf, std::size_t topic_cap,
              std::uint8_t* payload_buf, std::size_t payload_cap) override {
        return do_next(after, out, topic_buf, topic_cap, payload_buf, payload_cap);
    }

    bool mounted() const { return mounted_; }
    // Records that failed their CRC since mount() (each reported once, then released).
    std::uint32_t corrupt_records() const { return corrupt_; }
    // The largest payload a record with a topic of `topic_len` bytes can carry (one page).
    std::size_t max_payload(std::size_t topic_len) const;
    // Pages in the log now (the rest are erased or to be erased).
    std::uint32_t pages_used() const { return used_; }

  private:
    struct Rec;
    struct Cursor {
        std::uint32_t k = 0;    // page index from the head
        std::uint32_t off = 0;  // offset in that page; 0: not started
    };
    // ok: a committed record; torn: bytes to step over (Rec::size); end: blank or no room;
    // bad: nothing more in this page can be read.
    enum class Read : std::uint8_t { ok, torn, end, bad, io };

    Expected<std::uint32_t, StoreError> do_append(const StoredMessage& m);
    void do_release(std::uint32_t id);
    bool do_next(std::uint32_t after, StoredMessage& out, char* topic_buf, std::size_t topic_cap,
                 std::uint8_t* payload_buf, std::size_t payload_cap);
    std::uint32_t align(std::uint32_t n) const { return (n + unit_ - 1) & ~(unit_ - 1); }
    std::uint32_t page_addr(std::uint32_t page) const { return page * psize_; }
    std::uint32_t page_at(std::uint32_t k) const { return (head_ + k) % count_; }
    std::uint32_t page_end(std::uint32_t page) const { return page == tail_ ? tail_off_ : psize_; }
    std::uint32_t free_pages() const { return count_ - used_; }

    Read read_record(std::uint32_t addr, std::uint32_t limit, Rec& r);
    bool walk(Cursor& c, Rec& r);
    Read read_page_header(std::uint32_t page, std::uint32_t& seq, std::uint32_t& base_id);
    bool is_blank(std::uint32_t addr, std::uint32_t n, bool& blank);
    bool program_zeros(std::uint32_t addr);
    Read check_body(const Rec& r);
    bool has_copy_after_head(std::uint32_t id);  // a pending one
    bool reclaimable();
    Expected<void, StoreError> open_page();
    Expected<void, StoreError> copy_record(const Rec& r);
    Expected<void, StoreError> rotate_head();
    Expected<void, StoreError> make_room(std::uint32_t need);

    Flash& flash_;
    std::uint32_t psize_ = 0;
    std::uint32_t count_ = 0;
    std::uint32_t unit_ = 1;
    std::uint32_t marker_ = 4;      // bytes of a commit / release / retire marker
    std::uint32_t data_start_ = 0;  // first record's offset in a page
    std::uint32_t head_ = 0;        // oldest page of the log
    std::uint32_t tail_ = 0;        // page appended to
    std::uint32_t used_ = 0;        // pages head..tail
    std::uint32_t tail_off_ = 0;    // append point in the tail page
    std::uint32_t next_id_ = 1;
    std::uint32_t next_seq_ = 1;  // sequence number of the next page opened
    std::uint32_t corrupt_ = 0;
    bool tail_closed_ = false;  // a torn or failed write: nothing more goes in the tail page
    bool mounted_ = false;
};

}  // namespace qmtkit::qmt
