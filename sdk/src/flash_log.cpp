// The log's layout (all integers little-endian; W = the write unit, A(n) = n rounded up to W,
// M = A(4) = the marker size; a marker is "set" when all its bytes are 0x00):
//
//   page:   header (16 B: "QMTL", seq u32, base_id u32, crc32 of the 12 bytes before)
//           retire marker (M)  — set just before the page is erased
//           records, from offset 16 + M, until the first blank (0xFF) header; a torn one is
//           stepped over (its length if its header is sound, else the 32 bytes of its first
//           program() call) so the page stays usable after a reset
//   record: header (16 B: 'Q' 'r', flags (qos | retain << 2 | fixed << 3), topic length u8,
//                   payload length u16, id u32, crc32 over header[0..9] + topic + payload,
//                   low 16 bits of crc32 over header[0..13])
//           topic, payload, 0xFF up to A(16 + topic + payload)
//           commit marker (M)   — programmed after the body: a torn append has none
//           release marker (M)  — programmed by release()
//
// Pages form a ring; the log is the run of valid pages with consecutive sequence numbers
// ending at the highest one (the tail). base_id is the next id when the page was opened, so ids
// keep increasing after every record has been released and erased.
#include "qmtkit/qmt/flash_log.hpp"

#include <cstring>

#include "qmtkit/common/crc32.hpp"
#include "qmtkit/common/le_bytes.hpp"

namespace qmtkit::qmt {

namespace {

constexpr std::uint32_t kHeader = 16;  // page header and record header alike
constexpr std::uint32_t kMarkerMin = 4;
constexpr std::uint32_t kPageMagic = 0x4C544D51u;  // "QMTL"
constexpr std::uint8_t kRecMagic0 = 'Q';
constexpr std::uint8_t kRecMagic1 = 'r';
constexpr std::uint32_t kChunk = FlashLog::kChunk;

bool all_of(const std::uint8_t* p, std::size_t n, std::uint8_t v) {
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != v) return false;
    return true;
}

std::uint16_t header_check(const std::uint8_t* hdr) {
    return static_cast<std::uint16_t>(crc32(hdr, 14) & 0xFFFFu);
}

// Programs a stream of bytes in whole-unit chunks of at most kChunk bytes.
class Stager {
  public:
    Stager(Flash& flash, std::uint32_t addr, std::uint32_t unit)
        : flash_(flash), addr_(addr), unit_(unit) {}
    bool put(const std::uint8_t* p, std::size_t n) {
        while (n > 0) {
            const std::size_t k = n < kChunk - fill_ ? n : kChunk - fill_;
            std::memcpy(buf_ + fill_, p, k);
            fill_ += static_cast<std::uint32_t>(k);
            p += k;
            n -= k;
            if (fill_ == kChunk && !flush()) return false;
        }
        return true;
    }
    // Pads the last chunk to a whole unit with erased bytes.
    bool finish() {
        while (fill_ % unit_ != 0) buf_[fill_++] = 0xFF;
        return fill_ == 0 || flush();
    }

  private:
    bool flush() {
        const bool ok = flash_.program(addr_, buf_, fill_);
        addr_ += fill_;
        fill_ = 0;
        return ok;
    }
    Flash& flash_;
    std::uint32_t addr_;
    std::uint32_t unit_;
    std::uint32_t fill_ = 0;
    std::uint8_t buf_[kChunk];
};

}  // namespace

struct FlashLog::Rec {
    std::uint8_t hdr[kHeader];
    std::uint32_t addr;      // of the header
    std::uint32_t body_end;  // where the commit marker is
    std::uint32_t size;      // markers included
    std::uint32_t id;
    std::uint16_t payload_len;
    std::uint8_t topic_len;
    bool pending;  // committed, not released
};

FlashLog::Read FlashLog::read_record(std::uint32_t addr, std::uint32_t limit, Rec& r) {
    if (limit < addr || limit - addr < kHeader + 2 * marker_) return Read::end;
    if (!flash_.read(addr, r.hdr, kHeader)) return Read::io;
    if (all_of(r.hdr, kHeader, 0xFF)) return Read::end;
    r.addr = addr;
    if (r.hdr[0] != kRecMagic0 || r.hdr[1] != kRecMagic1 || (r.hdr[2] & 0xF0u) != 0 ||
        header_check(r.hdr) != get_le16(r.hdr + 14)) {
        // A record's first program() call holds its header and is at most kChunk bytes: a torn
        // header means nothing after those kChunk bytes was written.
        r.size = kChunk;
        return Read::torn;
    }
    r.topic_len = r.hdr[3];
    r.payload_len = get_le16(r.hdr + 4);
    r.id = get_le32(r.hdr + 6);
    r.body_end = addr + align(kHeader + r.topic_len + r.payload_len);
    r.size = (r.body_end - addr) + 2 * marker_;
    if (r.size > limit - addr) return Read::bad;
    std::uint8_t m[2 * kMaxWriteUnit];
    if (!flash_.read(r.body_end, m, std::size_t{2} * marker_)) return Read::io;
    if (!all_of(m, marker_, 0x00)) return Read::torn;  // not committed: a torn append
    r.pending = !all_of(m + marker_, marker_, 0x00);   // a torn release leaves it pending
    return Read::ok;
}

bool FlashLog::walk(Cursor& c, Rec& r) {
    while (c.k < used_) {
        const std::uint32_t page = page_at(c.k);
        if (c.off == 0) c.off = data_start_;
        const std::uint32_t base = page_addr(page);
        const Read x = read_record(base + c.off, base + page_end(page), r);
        if (x == Read::ok || x == Read::torn) c.off += r.size;
        if (x == Read::ok) return true;
        if (x == Read::torn) continue;
        ++c.k;
        c.off = 0;
    }
    return false;
}

FlashLog::Read FlashLog::read_page_header(std::uint32_t page, std::uint32_t& seq,
                                          std::uint32_t& base_id) {
    std::uint8_t h[kHeader + kMaxWriteUnit];
    if (!flash_.read(page_addr(page), h, kHeader + marker_)) return Read::io;
    if (get_le32(h) != kPageMagic || crc32(h, 12) != get_le32(h + 12)) return Read::bad;
    if (!all_of(h + kHeader, marker_, 0xFF)) return Read::bad;  // retired: being erased
    seq = get_le32(h + 4);
    base_id = get_le32(h + 8);
    return Read::ok;
}

bool FlashLog::is_blank(std::uint32_t addr, std::uint32_t n, bool& blank) {
    std::uint8_t buf[kChunk];
    blank = true;
    for (std::uint32_t done = 0; done < n;) {
        const std::uint32_t k = n - done < kChunk ? n - done : kChunk;
        if (!flash_.read(addr + done, buf, k)) return false;
        if (!all_of(buf, k, 0xFF)) {
            blank = false;
            return true;
        }
        done += k;
    }
    return true;
}

bool FlashLog::program_zeros(std::uint32_t addr) {
    std::uint8_t z[kMaxWriteUnit] = {};
    return flash_.program(addr, z, marker_);
}

FlashLog::Read FlashLog::check_body(const Rec& r) {
    std::uint32_t crc = crc32_update(kCrc32Init, r.hdr, 10);
    std::uint8_t buf[kChunk];
    const std::uint32_t n = r.topic_len + r.payload_len;
    for (std::uint32_t done = 0; done < n;) {
        const std::uint32_t k = n - done < kChunk ? n - done : kChunk;
        if (!flash_.read(r.addr + kHeader + done, buf, k)) return Read::io;
        crc = crc32_update(crc, buf, k);
        done += k;
    }
    return crc32_final(crc) == get_le32(r.hdr + 10) ? Read::ok : Read::bad;
}

bool FlashLog::has_copy_after_head(std::uint32_t id) {
    Cursor c;
    c.k = 1;
    Rec r;
    while (walk(c, r))
        if (r.id == id && r.pending) return true;
    return false;
}

// Whether moving the head forward can gain room: some record is released, or some page holds
// dead bytes (a torn append) or nothing.
bool FlashLog::reclaimable() {
    for (std::uint32_t k = 0; k < used_; ++k) {
        const std::uint32_t page = page_at(k);
        const std::uint32_t base = page_addr(page);
        std::uint32_t off = data_start_;
        std::uint32_t records = 0;
        Rec r;
        for (;;) {
            const Read x = read_record(base + off, base + page_end(page), r);
            if (x == Read::bad || x == Read::torn) return true;
            if (x != Read::ok) break;
            if (!r.pending) return true;
            off += r.size;
            ++records;
        }
        if (page == tail_ ? tail_closed_ : records == 0) return true;
    }
    return false;
}

Expected<void, StoreError> FlashLog::open_page() {
    const std::uint32_t p = (tail_ + 1) % count_;
    bool blank = false;
    if (!is_blank(page_addr(p), psize_, blank)) return unexpected(StoreError::io);
    if (!blank && !flash_.erase(p)) return unexpected(StoreError::io);
    std::uint8_t h[kHeader];
    put_le32(h, kPageMagic);
    put_le32(h + 4, next_seq_);
    put_le32(h + 8, next_id_);
    put_le32(h + 12, crc32(h, 12));
    if (!flash_.program(page_addr(p), h, kHeader)) return unexpected(StoreError::io);
    if (used_ == 0) head_ = p;
    tail_ = p;
    ++used_;
    ++next_seq_;
    tail_off_ = data_start_;
    tail_closed_ = false;
    return {};
}

Expected<void, StoreError> FlashLog::copy_record(const Rec& r) {
    const std::uint32_t dst = page_addr(tail_) + tail_off_;
    const std::uint32_t n = r.body_end - r.addr;
    std::uint8_t buf[kChunk];
    for (std::uint32_t done = 0; done < n;) {
        const std::uint32_t k = n - done < kChunk ? n - done : kChunk;
        if (!flash_.read(r.addr + done, buf, k) || !flash_.program(dst + done, buf, k)) {
            tail_closed_ = true;
            return unexpected(StoreError::io);
        }
        done += k;
    }
    if (!program_zeros(dst + n)) {
        tail_closed_ = true;
        return unexpected(StoreError::io);
    }
    tail_off_ += r.size;
    return {};
}

// Moves the head page's pending records to the tail (each copy committed before its original is
// released), then retires and erases the head page.
Expected<void, StoreError> FlashLog::rotate_head() {
    const std::uint32_t h = head_;
    if (h == tail_) {  // copies must not land in the page about to be erased
        if (free_pages() == 0) return unexpected(StoreError::full);
        if (auto o = open_page(); !o) return o;
    }
    const std::uint32_t base = page_addr(h);
    std::uint32_t off = data_start_;
    Rec r;
    for (;;) {
        const Read x = read_record(base + off, base + psize_, r);
        if (x == Read::io) return unexpected(StoreError::io);
        if (x != Read::ok && x != Read::torn) break;
        off += r.size;
        if (x == Read::torn || !r.pending) continue;
        if (tail_closed_ || tail_off_ + r.size > psize_) {
            if (free_pages() == 0) return unexpected(StoreError::full);
            if (auto o = open_page(); !o) return o;
        }
        if (auto c = copy_record(r); !c) return c;
        if (!program_zeros(r.body_end + marker_)) return unexpected(StoreError::io);
    }
    // Retired first, so a reset during the erase cannot bring the page back half-erased.
    if (!program_zeros(base + kHeader)) return unexpected(StoreError::io);
    head_ = (h + 1) % count_;
    --used_;
    if (!flash_.erase(h)) return unexpected(StoreError::io);
    return {};
}

Expected<void, StoreError> FlashLog::make_room(std::uint32_t need) {
    // No free page at all: a reset interrupted a reclamation; finish it first if it can be.
    if (used_ >= 2 && free_pages() == 0) {
        if (auto r = rotate_head(); !r && r.error() == StoreError::io) return r;
    }
    for (std::uint32_t round = 0; round <= 2 * count_; ++round) {
        if (used_ > 0 && !tail_closed_ && tail_off_ + need <= psize_) return {};
        // The last free page is kept for moving the head's pending records forward.
        if (free_pages() >= 2) {
            if (auto o = open_page(); !o) return o;
            continue;
        }
        if (!reclaimable()) return unexpected(StoreError::full);
        if (auto r = rotate_head(); !r) return r;
    }
    return unexpected(StoreError::full);
}

Expected<void, StoreError> FlashLog::mount() {
    mounted_ = false;
    psize_ = flash_.page_size();
    count_ = flash_.page_count();
    unit_ = flash_.write_unit();
    if (unit_ == 0 || unit_ > kMaxWriteUnit || (unit_ & (unit_ - 1)) != 0 || count_ < 2 ||
        psize_ % unit_ != 0 || count_ > 0xFFFFFFFFu / psize_)
        return unexpected(StoreError::io);
    marker_ = align(kMarkerMin);
    data_start_ = kHeader + marker_;
    if (psize_ < data_start_ + kHeader + 2 * marker_) return unexpected(StoreError::io);
    corrupt_ = 0;
    used_ = 0;
    tail_closed_ = false;
    next_id_ = 1;
    next_seq_ = 1;

    // The tail: the valid page with the highest sequence number.
    bool any = false;
    std::uint32_t tail_seq = 0;
    std::uint32_t tail_base = 0;
    for (std::uint32_t p = 0; p < count_; ++p) {
        std::uint32_t seq = 0;
        std::uint32_t base = 0;
        const Read x = read_page_header(p, seq, base);
        if (x == Read::io) return unexpected(StoreError::io);
        if (x == Read::ok && (!any || seq > tail_seq)) {
            any = true;
            tail_ = p;
            tail_seq = seq;
            tail_base = base;
        }
    }
    if (!any) {  // blank or foreign flash: every page is erased before use
        tail_ = count_ - 1;
        head_ = 0;
        mounted_ = true;
        return {};
    }
    // The head: back from the tail while the sequence numbers run on.
    head_ = tail_;
    used_ = 1;
    for (std::uint32_t seq = tail_seq; used_ < count_; --seq) {
        const std::uint32_t prev = (head_ + count_ - 1) % count_;
        std::uint32_t s = 0;
        std::uint32_t b = 0;
        const Read x = read_page_header(prev, s, b);
        if (x == Read::io) return unexpected(StoreError::io);
        if (x != Read::ok || s != seq - 1) break;
        head_ = prev;
        ++used_;
    }
    next_seq_ = tail_seq + 1;
    next_id_ = tail_base > 1 ? tail_base : 1;

    // The append point: after the tail page's last record (a torn one too: the append that a
    // reset interrupted), if all after it is blank.
    const std::uint32_t tbase = page_addr(tail_);
    std::uint32_t off = data_start_;
    Rec r;
    Read x = Read::end;
    for (;;) {
        x = read_record(tbase + off, tbase + psize_, r);
        if (x == Read::io) return unexpected(StoreError::io);
        if (x != Read::ok && x != Read::torn) break;
        off += r.size;
    }
    if (off > psize_) off = psize_;
    tail_off_ = off;
    bool blank = true;
    if (x == Read::end && !is_blank(tbase + off, psize_ - off, blank))
        return unexpected(StoreError::io);
    tail_closed_ = x == Read::bad || !blank;

    // Ids, and the bodies of the pending records.
    Cursor c;
    while (walk(c, r)) {
        if (r.id >= next_id_) next_id_ = r.id + 1;
        if (!r.pending) continue;
        const Read b = check_body(r);
        if (b == Read::io) return unexpected(StoreError::io);
        if (b == Read::bad) {
            ++corrupt_;
            program_zeros(r.body_end + marker_);
        }
    }
    // A reset between committing a copy and releasing its original leaves the id twice.
    Cursor h;
    while (used_ >= 2 && walk(h, r) && h.k == 0) {
        if (r.pending && has_copy_after_head(r.id)) program_zeros(r.body_end + marker_);
    }
    mounted_ = true;
    return {};
}

Expected<std::uint32_t, StoreError> FlashLog::do_append(const StoredMessage& m) {
    if (!mounted_) return unexpected(StoreError::io);
    if (m.topic.size() > 0xFFu || m.payload.size > 0xFFFFu) return unexpected(StoreError::full);
    const auto tl = static_cast<std::uint32_t>(m.topic.size());
    const auto pl = static_cast<std::uint32_t>(m.payload.size);
    const std::uint32_t need = align(kHeader + tl + pl) + 2 * marker_;
    if (need > psize_ - data_start_) return unexpected(StoreError::full);
    if (auto r = make_room(need); !r) return unexpected(r.error());

    const std::uint32_t id = next_id_++;
    std::uint8_t hdr[kHeader];
    hdr[0] = kRecMagic0;
    hdr[1] = kRecMagic1;
    hdr[2] = static_cast<std::uint8_t>((m.qos & 3u) | (m.retain ? 4u : 0u) | (m.fixed ? 8u : 0u));
    hdr[3] = static_cast<std::uint8_t>(tl);
    put_le16(hdr + 4, static_cast<std::uint16_t>(pl));
    put_le32(hdr + 6, id);
    std::uint32_t crc = crc32_update(kCrc32Init, hdr, 10);
    crc = crc32_update(crc, m.topic.data(), tl);
    if (pl > 0) crc = crc32_update(crc, m.payload.data, pl);
    put_le32(hdr + 10, crc32_final(crc));
    put_le16(hdr + 14, header_check(hdr));

    const std::uint32_t addr = page_addr(tail_) + tail_off_;
    Stager s(flash_, addr, unit_);
    const bool ok = s.put(hdr, kHeader) &&
                    s.put(reinterpret_cast<const std::uint8_t*>(m.topic.data()), tl) &&
                    (pl == 0 || s.put(m.payload.data, pl)) && s.finish() &&
                    program_zeros(addr + align(kHeader + tl + pl));
    if (!ok) {
        tail_closed_ = true;  // what was written cannot be written over
        return unexpected(StoreError::io);
    }
    tail_off_ += need;
    return id;
}

void FlashLog::do_release(std::uint32_t id) {
    if (!mounted_) return;
    // Every copy: a reset during reclamation may have left two.
    Cursor c;
    Rec r;
    while (walk(c, r))
        if (r.id == id && r.pending) program_zeros(r.body_end + marker_);
}

bool FlashLog::do_next(std::uint32_t after, StoredMessage& out, char* topic_buf,
                       std::size_t topic_cap, std::uint8_t* payload_buf, std::size_t payload_cap) {
    if (!mounted_) return false;
    for (;;) {
        Cursor c;
        Rec r;
        Rec best{};
        bool found = false;
        while (walk(c, r))
            if (r.pending && r.id > after && (!found || r.id < best.id)) {
                best = r;
                found = true;
            }
        if (!found) return false;
        out.id = best.id;
        out.qos = static_cast<std::uint8_t>(best.hdr[2] & 3u);
        out.retain = (best.hdr[2] & 4u) != 0;
        out.fixed = (best.hdr[2] & 8u) != 0;
        out.topic_size = best.topic_len;
        out.payload_size = best.payload_len;
        if (best.topic_len > topic_cap || best.payload_len > payload_cap) {
            out.topic = {};  // the caller asked for the sizes (or has no room): nothing copied
            out.payload = {};
            return true;
        }
        const std::uint32_t body = best.addr + kHeader;
        if ((best.topic_len > 0 &&
             !flash_.read(body, reinterpret_cast<std::uint8_t*>(topic_buf), best.topic_len)) ||
            (best.payload_len > 0 &&
             !flash_.read(body + best.topic_len, payload_buf, best.payload_len)))
            return false;
        std::uint32_t crc = crc32_update(kCrc32Init, best.hdr, 10);
        crc = crc32_update(crc, topic_buf, best.topic_len);
        crc = crc32_update(crc, payload_buf, best.payload_len);
        if (crc32_final(crc) != get_le32(best.hdr + 10)) {
            ++corrupt_;
            // Released so it is reported once; another copy of the id may still be sound.
            if (!program_zeros(best.body_end + marker_)) after = best.id;
            continue;
        }
        out.topic = std::string_view(topic_buf, best.topic_len);
        out.payload = ByteView(payload_buf, best.payload_len);
        return true;
    }
}

std::size_t FlashLog::max_payload(std::size_t topic_len) const {
    if (!mounted_) return 0;
    const std::uint32_t room = (psize_ - data_start_ - 2 * marker_) & ~(unit_ - 1);
    if (room < kHeader + topic_len) return 0;
    const std::size_t p = room - kHeader - topic_len;
    return p < 0xFFFFu ? p : 0xFFFFu;
}

}  // namespace qmtkit::qmt
