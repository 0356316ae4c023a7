// A module model on the fake network under virtual time, for the NB-IoT and PSM tests.
#pragma once

#include "rig.hpp"

#include <memory>
#include <string>

namespace bc28sim::test {

struct NbRig {
    FakeNetwork net;
    std::string out;
    std::unique_ptr<Module> m;
    Millis t = 0;

    // proc_ms 0: these tests read a two-phase result in the OK's burst (timing_test.cpp checks
    // the processing delay).
    static Options instant() {
        Options o;
        o.proc_ms = 0;
        return o;
    }
    explicit NbRig(Options o = instant()) {
        if (!o.unix_ms) o.unix_ms = fixed_unix_ms;
        m = std::make_unique<Module>(
            net, [this](std::string_view b) { out.append(b); }, std::move(o));
    }
    // Sends "<line>\r" and returns everything the module wrote up to now.
    std::string cmd(const std::string& l) {
        m->feed(l + "\r");
        return take();
    }
    std::string take() {
        std::string s;
        s.swap(out);
        return s;
    }
    // Moves the clock `ms` forward.
    std::string run(Millis ms) {
        t += ms;
        m->advance(t);
        return take();
    }
    // Moves the clock to `at` (absolute, ms).
    std::string run_to(Millis at) {
        t = at;
        m->advance(t);
        return take();
    }
    // Ctrl+Z: ends a variable-length AT+QMTPUB payload.
    std::string raw_ctrl_z() {
        m->feed("\x1a");
        return take();
    }
    void quiet() {
        cmd("ATE0");
        cmd("AT+CMEE=1");
    }
    void reboot_now() {
        cmd("AT+NRB");
        run(m->options().boot_ms);
        take();
    }
};

}  // namespace bc28sim::test
