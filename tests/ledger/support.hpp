// Shared by the ledger tests and their helper: synthetic IMEIs and batches, and where a test's
// ledger lives (ledger_url(): a SQLite file or a PostgreSQL database, per test binary).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "qmtkit/ledger/ledger.hpp"

namespace qmtkit::test {

// A valid IMEI (Luhn check digit) for number n: "35" + 12 digits + check digit.
inline std::string imei_for(std::uint64_t n) {
    char body[16];
    std::snprintf(body, sizeof body, "35%012llu",
                  static_cast<unsigned long long>(n % 1000000000000ULL));
    int sum = 0;
    for (int i = 0; i < 14; ++i) {
        int d = body[i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return std::string(body) + static_cast<char>('0' + (10 - sum % 10) % 10);
}

// `records` devices of product `product` ("dev-00000", ...); the first `listed` list imei_for(i).
inline ledger::BatchSpec synthetic_batch(const std::string& product, int records, int listed = 0) {
    ledger::BatchSpec b;
    b.cloud = "aliyun";
    b.source = "synthetic";
    for (int i = 0; i < records; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "dev-%05d", i);
        ledger::RecordSpec r{product, name, std::nullopt};
        if (i < listed) r.imei = imei_for(static_cast<std::uint64_t>(i));
        b.records.push_back(r);
    }
    b.manifest_id = ledger::manifest_id_of(b.cloud, b.records);
    return b;
}

// The ledger URL of a fresh ledger named `name` (defined by each test binary).
std::string ledger_url(const std::string& name);

}  // namespace qmtkit::test
