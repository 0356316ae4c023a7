// The client and the emulator's module model (tools/bc28-sim/model) in one process under a
// virtual clock, as bench/bench_window.cpp runs them: the real module's AT behaviour, no pty.
#pragma once

#include <algorithm>
#include <string>

#include "bc28sim/module.hpp"
#include "fake_network.hpp"
#include "qmtkit/qmt/client.hpp"

namespace qmtkit::test {

// The module's UART as seen by the client: bytes the client writes go into the model.
struct ToModel final : at::Writer {
    bc28sim::Module* module = nullptr;
    std::size_t write(const std::uint8_t* d, std::size_t n) override {
        module->feed(std::string_view(reinterpret_cast<const char*>(d), n));
        return n;
    }
};

template <class Config = qmt::ClientConfig>
struct ModelRig {
    explicit ModelRig(qmt::Listener& l, bc28sim::Options opt = {})
        : module(
              net, [this](std::string_view b) { from_module.append(b); }, opt),
          client((uart.module = &module, uart), l) {}

    static qmt::Session session() {
        qmt::Session s;
        s.host = "broker";
        s.client_id = "rig";
        return s;
    }

    // One turn: the module's bytes to the client, both polled, time moved to the next deadline.
    void step() {
        std::string bytes;
        bytes.swap(from_module);
        if (!bytes.empty())
            client.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), now);
        client.poll(now);
        module.advance(static_cast<bc28sim::Millis>(now));
        const auto md = module.next_deadline();
        const Instant mine = client.next_deadline();
        const Instant theirs = md ? static_cast<Instant>(*md) : ~Instant{0};
        const Instant next = std::min(mine, theirs);
        if (from_module.empty()) now = std::max(now + 1, next == ~Instant{0} ? now + 1 : next);
    }
    template <class Pred>
    bool run_until(Pred done, Millis limit = 600000) {
        const Instant end = now + limit;
        while (!done() && now < end) step();
        return done();
    }
    bool bring_up(const qmt::Session& s = session()) {
        if (!client.configure(s) || !client.start(now)) return false;
        return run_until([&] { return client.online(); });
    }

    bc28sim::test::FakeNetwork net;
    std::string from_module;
    bc28sim::Module module;
    ToModel uart;
    qmt::Client<Config> client;
    Instant now = 0;
};

}  // namespace qmtkit::test
