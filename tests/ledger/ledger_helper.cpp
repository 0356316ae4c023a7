// The ledger tests' helper process: opens a ledger, imports a synthetic batch and binds IMEIs in a
// loop, recording an attempt for each — what one provisioning station does, minus the module.
// Every line is printed (and flushed) only after the operation it reports has committed, so a
// test that kills this process with SIGKILL knows what must be in the ledger.
//
//   qmtkit-ledger-helper --ledger URL --records N [--listed L] --imei-from K --count C
//                        [--station S] [--secrets]
//
// Lines: "OPEN <batch_id>", "BOUND <imei> <record_index> <already 0|1> <n>", "ATTEMPT <imei> <id>",
// "NOREC <imei>", "DONE"; on any other error "ERROR <code> <message>" and exit status 3.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "support.hpp"

namespace lg = qmtkit::ledger;

namespace {

int error(const lg::Error& e) {
    std::cout << "ERROR " << lg::to_string(e.code) << " " << e.message << std::endl;
    return 3;
}

}  // namespace

int main(int argc, char** argv) {
    std::string url, station = "station-1";
    int records = 0, listed = 0;
    long from = 0, count = 0;
    bool secrets = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--ledger")
            url = next();
        else if (a == "--records")
            records = std::atoi(next().c_str());
        else if (a == "--listed")
            listed = std::atoi(next().c_str());
        else if (a == "--imei-from")
            from = std::atol(next().c_str());
        else if (a == "--count")
            count = std::atol(next().c_str());
        else if (a == "--station")
            station = next();
        else if (a == "--secrets")
            secrets = true;
        else {
            std::cerr << "unknown argument " << a << "\n";
            return 2;
        }
    }
    auto l = lg::Ledger::open(url);
    if (!l) return error(l.error());
    auto b = l->import_batch(qmtkit::test::synthetic_batch("a1racePK", records, listed));
    if (!b) return error(b.error());
    std::cout << "OPEN " << b->id << std::endl;
    for (long n = from; n < from + count; ++n) {
        const std::string imei = qmtkit::test::imei_for(static_cast<std::uint64_t>(n));
        lg::Attempt a;
        a.station = station;
        a.port = "/dev/ttyUSB" + std::to_string(n % 4);
        a.imei = imei;
        a.imsi = "46000" + imei.substr(5);
        a.iccid = "8986" + imei;
        a.firmware = "BC28JAR01A10";
        auto bound = l->bind(b->id, imei, station);
        if (!bound) {
            if (bound.error().code != lg::Errc::no_record_left) return error(bound.error());
            std::cout << "NOREC " << imei << std::endl;
            a.result = lg::Outcome::failed;
            a.failed_step = "bind";
            a.reason = bound.error().message;
        } else {
            std::cout << "BOUND " << imei << " " << bound->record.index << " "
                      << (bound->already ? 1 : 0) << " " << n << std::endl;
            if (secrets) {
                const auto s = l->store_secret(bound->record.id, "SECRET-" + imei);
                if (!s) return error(s.error());
            }
            a.record_id = bound->record.id;
            a.result = bound->already ? lg::Outcome::already : lg::Outcome::provisioned;
        }
        a.steps = {{"identify", 120.5}, {"bind", 3.25}, {"write", 840}};
        const auto id = l->record_attempt(b->id, a);
        if (!id) return error(id.error());
        std::cout << "ATTEMPT " << imei << " " << *id << std::endl;
    }
    std::cout << "DONE" << std::endl;
    return 0;
}
