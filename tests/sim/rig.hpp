// What the model tests share: the module's line shapes, and a module model on the fake network
// whose every command is run to the end under virtual time (timers and network included).
#pragma once

#include "bc28sim/module.hpp"
#include "fake_network.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

namespace bc28sim::test {

inline std::string ok() {
    return "\r\nOK\r\n";
}
inline std::string line(const std::string& s) {
    return "\r\n" + s + "\r\n";
}
inline std::string cme(int n) {
    return line("+CME ERROR: " + std::to_string(n));
}

// A fixed wall clock for signatures, so answers are the same every run.
inline std::uint64_t fixed_unix_ms() {
    return 1700000000123;
}

// A module model and what it writes, run to the end under virtual time: each rig below makes
// its Module with an Output that appends to `out`, and resets `m` in its destructor (the Module
// closes its networks, which are the rig's own members and go first otherwise).
struct ModuleRig {
    std::string out;
    std::unique_ptr<Module> m;

    void run() {
        while (const auto d = m->next_deadline_us()) m->advance_us(*d);
    }
    // Everything the module writes for these bytes.
    std::string all(const std::string& bytes) {
        out.clear();
        m->feed(bytes);
        run();
        return take();
    }
    std::string cmd(const std::string& l) { return all(l + "\r"); }
    std::string take() {
        std::string s;
        s.swap(out);
        return s;
    }
};

// cmd() answers everything the command leads to: the OK, then its result once the model's
// processing delay, round trips and timers have run out.
struct SettledSim : ModuleRig {
    FakeNetwork net;

    explicit SettledSim(Options o = {}) {
        o.boot_ms = 100;
        o.unix_ms = fixed_unix_ms;
        m = std::make_unique<Module>(
            net, [this](std::string_view b) { out.append(b); }, std::move(o));
    }
    ~SettledSim() { m.reset(); }
    // A message from the broker, and what the module writes for it.
    std::string message(const std::string& topic, const std::string& payload, int qos = 0,
                        std::uint16_t id = 0) {
        out.clear();
        net.ev->net_message(id, topic, payload, qos, false);
        run();
        return take();
    }
    // Echo off, numeric errors, the network open and CONNECT accepted.
    void connected() {
        cmd("ATE0");
        cmd("AT+CMEE=1");
        ASSERT_EQ(cmd("AT+QMTOPEN=0,\"127.0.0.1\",1883"), ok() + line("+QMTOPEN: 0,0"));
        ASSERT_EQ(cmd("AT+QMTCONN=0,\"dev\""), ok() + line("+QMTCONN: 0,0,0"));
    }
};

}  // namespace bc28sim::test
