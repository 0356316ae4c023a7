// Power saving mode (AT+CPSMS, AT+NPSMR) under the model's clock.
//
// With AT+CPSMS=1 and the module attached, the T3324 active timer runs from the last activity
// (a host byte on the UART, a packet the module sends, an event from the network). When it
// expires the module enters PSM: Network::radio(false) (nothing goes out, not even PINGREQ, and
// nothing comes in), +NPSMR:1 with AT+NPSMR=1. A host byte wakes it (+NPSMR:0 before anything
// else, then the command runs as usual), and so does the periodic TAU, T3412 after the last
// activity. docs/emulator.md, "Power saving (PSM, eDRX)", says what is modelled and what is not.
#include "bc28sim/module.hpp"

namespace bc28sim {

namespace {

constexpr Micros kSec = 1'000'000;

// GPRS Timer 3 (3GPP TS 24.008 10.5.7.4a), the T3412 extended value of 27.007's +CPSMS:
// bits 8-6 the unit, bits 5-1 the value. nullopt: deactivated.
std::optional<Micros> gprs_timer3(const std::string& bits) {
    if (bits.size() != 8) return std::nullopt;
    const int unit = std::stoi(bits.substr(0, 3), nullptr, 2);
    const Micros value = std::stoi(bits.substr(3), nullptr, 2);
    switch (unit) {
        case 0:
            return value * 600 * kSec;  // 10 minutes
        case 1:
            return value * 3600 * kSec;  // 1 hour
        case 2:
            return value * 36000 * kSec;  // 10 hours
        case 3:
            return value * 2 * kSec;  // 2 seconds
        case 4:
            return value * 30 * kSec;  // 30 seconds
        case 5:
            return value * 60 * kSec;  // 1 minute
        case 6:
            return value * 320 * 3600 * kSec;  // 320 hours
        default:
            return std::nullopt;  // 111: deactivated
    }
}

// GPRS Timer 2 (24.008 10.5.7.3), T3324: 000 2 s, 001 1 min, 010 decihours, 111 deactivated;
// other units are read as 1 minute (as 24.008 says for this version of the protocol).
std::optional<Micros> gprs_timer2(const std::string& bits) {
    if (bits.size() != 8) return std::nullopt;
    const int unit = std::stoi(bits.substr(0, 3), nullptr, 2);
    const Micros value = std::stoi(bits.substr(3), nullptr, 2);
    switch (unit) {
        case 0:
            return value * 2 * kSec;
        case 2:
            return value * 360 * kSec;
        case 7:
            return std::nullopt;
        default:
            return value * 60 * kSec;
    }
}

}  // namespace

void Module::psm_touch() {
    psm_last_activity_ = now_;
}

void Module::psm_host_byte() {
    if (psm_asleep_) psm_wake("host");
    psm_last_activity_ = now_;
}

std::optional<Micros> Module::psm_deadline() const {
    const auto t3324 = gprs_timer2(nv_.t3324);
    if (psm_asleep_) {
        // The periodic TAU wakes it (only when T3412 outlasts T3324: otherwise it never sleeps
        // between two updates, and there is nothing to wake from).
        const auto t3412 = gprs_timer3(nv_.t3412);
        if (!t3412 || !t3324 || *t3412 <= *t3324) return std::nullopt;
        return psm_last_activity_ + *t3412;
    }
    const bool eligible =
        nv_.cpsms == 1 && s_.cfun == 1 && s_.cgatt == 1 && !rebooting_ && !data_.has_value();
    if (!eligible || !t3324) return std::nullopt;
    return psm_last_activity_ + *t3324;
}

void Module::psm_check() {
    const auto d = psm_deadline();
    if (!d || *d > now_) return;
    if (psm_asleep_) {
        psm_wake("periodic TAU (T3412)");
    } else {
        psm_enter();
    }
}

void Module::psm_enter() {
    psm_asleep_ = true;
    log("PSM: entered (T3324 expired), radio off");
    set_radio(false);
    if (nb_.npsmr == 1) urc_line("+NPSMR:1");
}

void Module::psm_wake(const char* why) {
    psm_asleep_ = false;
    psm_last_activity_ = now_;
    log(std::string("PSM: woken (") + why + "), radio on");
    set_radio(true);
    if (nb_.npsmr == 1) urc_line("+NPSMR:0");
}

}  // namespace bc28sim
