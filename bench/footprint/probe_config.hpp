// Which configuration a probe is built in: the same source is linked twice, as is and with
// -DQMTKIT_PROBE_COMPACT=1 (qmt::CompactConfig), so every row of the report has both.
#pragma once

#include "probe.hpp"
#include "qmtkit/qmt/client.hpp"
#include "qmtkit/qmt/config.hpp"

#ifndef QMTKIT_PROBE_COMPACT
#define QMTKIT_PROBE_COMPACT 0
#endif

namespace probe {
#if QMTKIT_PROBE_COMPACT
using ClientConfig = qmtkit::qmt::CompactConfig;
using EngineConfig = qmtkit::qmt::CompactConfig::Engine;
#else
using ClientConfig = qmtkit::qmt::ClientConfig;
using EngineConfig = qmtkit::at::EngineConfig;  // the engine alone: at::Engine<>
#endif
}  // namespace probe

// The RAM of each part of Client<Config> (sizeof on the target), for the report's table:
// qmtkit_sizeof_part_<part>_<config>. The engine's arrays are private: their element type
// times the capacity is what they hold (no padding between arrays of these types).
#define QMTKIT_PROBE_PART(part, config, ...)                   \
    extern "C" __attribute__((used, section(".qmtkit_sizes"))) \
    const std::uint32_t qmtkit_sizeof_part_##part##_##config = \
        static_cast<std::uint32_t>(__VA_ARGS__)
#define QMTKIT_PROBE_PARTS(C, config)                                                             \
    QMTKIT_PROBE_PART(outbox_pool, config, sizeof(qmtkit::qmt::detail::ClientStore<C>::outbox_)); \
    QMTKIT_PROBE_PART(line_buffer, config, C::Engine::line_capacity);                             \
    QMTKIT_PROBE_PART(command_pool, config, C::Engine::command_pool);                             \
    QMTKIT_PROBE_PART(command_queue, config,                                                      \
                      sizeof(qmtkit::at::detail::QueueSlot) * C::Engine::queue_depth);            \
    QMTKIT_PROBE_PART(result_slots, config,                                                       \
                      sizeof(qmtkit::at::detail::ResultSlot) * C::Engine::result_slots);          \
    QMTKIT_PROBE_PART(urc_table, config,                                                          \
                      sizeof(qmtkit::at::detail::UrcSlot) * C::Engine::urc_handlers);             \
    QMTKIT_PROBE_PART(trace_buffer, config, QMTKIT_TRACE ? C::Engine::trace_capacity : 1);        \
    QMTKIT_PROBE_PART(engine_core, config, sizeof(qmtkit::at::EngineCore));                       \
    QMTKIT_PROBE_PART(subscriptions, config, sizeof(qmtkit::qmt::detail::ClientStore<C>::subs_)); \
    QMTKIT_PROBE_PART(filters, config, sizeof(qmtkit::qmt::detail::ClientStore<C>::filters_));    \
    QMTKIT_PROBE_PART(session_strings, config,                                                    \
                      sizeof(qmtkit::qmt::detail::ClientStore<C>::strings_));                     \
    QMTKIT_PROBE_PART(client_core, config, sizeof(qmtkit::qmt::ClientCore));                      \
    QMTKIT_PROBE_PART(total, config, sizeof(qmtkit::qmt::Client<C>))
