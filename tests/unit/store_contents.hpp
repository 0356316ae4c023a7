// Test support for the OutboxStore implementations (FlashLog here, host::FileStore in
// tests/host): a message as the test means it, and everything a store reports, by id.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <string>

#include "qmtkit/qmt/outbox_store.hpp"

namespace qmtkit::test {

struct Msg {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 1;
    bool retain = false;
    bool fixed = false;
    bool operator==(const Msg& o) const {
        return topic == o.topic && payload == o.payload && qos == o.qos && retain == o.retain &&
               fixed == o.fixed;
    }
    qmt::StoredMessage stored() const {
        qmt::StoredMessage m;
        m.qos = qos;
        m.retain = retain;
        m.fixed = fixed;
        m.topic = topic;
        m.payload = ByteView(payload);
        return m;
    }
};

inline std::ostream& operator<<(std::ostream& os, const Msg& m) {
    return os << "{" << m.topic.size() << "-byte topic, " << m.payload.size() << "-byte payload}";
}

using Contents = std::map<std::uint32_t, Msg>;

// Everything next() reports, from the oldest; ids must come strictly increasing, each once.
inline Contents drain(qmt::OutboxStore& store) {
    Contents out;
    static char topic[256];
    static std::uint8_t payload[4096];
    qmt::StoredMessage m;
    std::uint32_t after = 0;
    while (store.next(after, m, topic, sizeof topic, payload, sizeof payload)) {
        EXPECT_GT(m.id, after);
        after = m.id;
        Msg x{std::string(m.topic), std::string(m.payload.as_text()), m.qos, m.retain, m.fixed};
        EXPECT_TRUE(out.emplace(m.id, x).second) << "id " << m.id << " twice";
    }
    return out;
}

}  // namespace qmtkit::test
