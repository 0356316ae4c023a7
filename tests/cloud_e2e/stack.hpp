// The whole cloud stack for end-to-end tests: a real mosquitto with the stand-in's auth plugin and
// registry, qmtkit-token-server on the same registry (both shared by a test suite), and one
// bc28-sim per test whose --token-url points at that token server.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "cloud_standin.hpp"
#include "sim_process.hpp"

namespace qmtkit::cloud_e2e {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// The devices of the registry (what the clouds would have on record).
inline const std::string kAliPk = "a1SimPK0001";
inline const std::string kAliDn = "sim-ali";
inline const std::string kAliSecret = "SimAliSecret-0123456789abcdef";
inline const std::string kSuitePid = "iotsim01";
inline const std::string kSuiteDn = "sim-ten";
inline const std::string kSuiteSecret = "SimSuiteSecret-42";
inline const std::string kTokenKey = "SimTokenServerKey-9f3";
inline const std::string kObserverUser = "observer";
inline const std::string kObserverPass = "observer-pass-77";
inline const std::string kWrongSecret = "WrongSecret-ZZZ-000";

inline test::StandinRegistry registry(const std::string& token_key = kTokenKey) {
    test::StandinRegistry r;
    r.aliyun.push_back({kAliPk, kAliDn, kAliSecret});
    r.tencent_suite.push_back({kSuitePid, kSuiteDn, kSuiteSecret});
    r.plain.push_back({kObserverUser, kObserverPass});
    r.token_key = token_key;
    return r;
}

inline std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::time(nullptr));
}

// Every secret of this stack, for "never appears in ..." checks.
inline std::vector<std::string> device_secrets() {
    return {kAliSecret, kSuiteSecret, kTokenKey, kObserverPass, kWrongSecret};
}

// The first match of `re`'s group 1 in `text`; nullopt if none.
inline std::optional<std::string> find_group(const std::string& text, const std::string& re) {
    std::smatch m;
    if (std::regex_search(text, m, std::regex(re)) && m.size() > 1) return m[1].str();
    return std::nullopt;
}

// mosquitto logs "New client connected from <addr> as <client id> (p2, c1, k120, u'<username>')."
// for an accepted CONNECT: the username the broker received from that client id.
inline std::optional<std::string> logged_username(const std::string& broker_log,
                                                  const std::string& client_id) {
    const std::string key = " as " + client_id + " (";
    const auto at = broker_log.find(key);
    if (at == std::string::npos) return std::nullopt;
    const auto eol = broker_log.find('\n', at);
    const std::string line =
        broker_log.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    const auto u = line.find("u'");
    if (u == std::string::npos) return std::nullopt;
    const auto end = line.rfind("')");
    if (end == std::string::npos || end < u + 2) return std::nullopt;
    return line.substr(u + 2, end - u - 2);
}

// A suite sharing one stand-in (mosquitto + plugin + token server).
class StackTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        try {
            cloud_ = new test::CloudStandin(registry());
        } catch (const std::exception& e) {
            start_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete cloud_;
        cloud_ = nullptr;
    }
    // A stack that does not start fails every test (a suite-level error would only skip them).
    void SetUp() override { ASSERT_NE(cloud_, nullptr) << start_error_; }

    // bc28-sim with its default token URL at the stand-in's token server (or `token_url`).
    static std::unique_ptr<test::SimProcess> start_sim(bool open_pty,
                                                       const std::string& token_url = "") {
        test::SimProcess::Options o;
        o.exe = BC28SIM_EXE;
        o.args = {"--token-url", token_url.empty() ? cloud_->token_url() : token_url};
        o.open_pty = open_pty;
        return std::make_unique<test::SimProcess>(o);
    }

    static test::CloudStandin& cloud() { return *cloud_; }

    static inline test::CloudStandin* cloud_ = nullptr;
    static inline std::string start_error_;
};

}  // namespace qmtkit::cloud_e2e
