// Where QoS >= 1 messages live while unacknowledged, so a reset does not lose them with the RAM.
// The client journals a message before it is queued, releases it when the module reports its
// result, and after a restart re-sends what the store still holds, in order, before new ones.
//
// An OEM backs it with flash (see qmt/flash_log.hpp, a log-structured reference over a
// page-erase flash); a gateway with a file (platforms/host: host::FileStore).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/common/expected.hpp"
#include "qmtkit/common/types.hpp"

namespace qmtkit::qmt {

enum class StoreError : std::uint8_t {
    full,     // no room for the record: the caller keeps it (publish() answers queue_full)
    io,       // the medium refused a write or a read
    corrupt,  // a record failed its check (reported once by the store, then skipped)
};

std::string_view to_string(StoreError e);

// One journaled message. `id` is the store's: unique, increasing in append order, kept across
// restarts (the client uses it as the message's ticket).
struct StoredMessage {
    std::uint32_t id = 0;
    std::uint8_t qos = 1;
    bool retain = false;
    bool fixed = false;  // sent in fixed-length form
    std::string_view topic;
    ByteView payload;
    // Set by next(): the record's sizes, also when a buffer was too small for them.
    std::size_t topic_size = 0;
    std::size_t payload_size = 0;
};

class OutboxStore {
  public:
    // Journals a message and returns its id. Durable when it returns: a power cut after this
    // call does not lose the record; one during it loses only this record.
    virtual Expected<std::uint32_t, StoreError> append(const StoredMessage& m) = 0;
    // The message's result came (or it was given up): its record may be reclaimed. Durable like
    // append(); a power cut during release() leaves the record pending (sent again: at least once).
    virtual void release(std::uint32_t id) = 0;
    // The oldest unreleased record whose id is > `after`, copied into the caller's buffers
    // (`out.topic` / `out.payload` point into them). False: no such record. When a buffer is
    // too small nothing is copied: `out` gets the id, the flags and topic_size / payload_size,
    // its views stay empty, and next() returns true (the client asks for the sizes this way
    // first, with no room, then reads the record straight into its outbox).
    virtual bool next(std::uint32_t after, StoredMessage& out, char* topic_buf,
                      std::size_t topic_cap, std::uint8_t* payload_buf,
                      std::size_t payload_cap) = 0;

  protected:
    ~OutboxStore() = default;
};

}  // namespace qmtkit::qmt
