// `qmtkit provision` end to end (docs/provisioning.md): the real executable against bc28-sim
// modules on pseudo-terminals and the cloud stand-in (mosquitto + libqmtkit_cloud_auth.so), the
// ledger on SQLite and on a real PostgreSQL (tests/harness PgServer); aliyun, tencent (PSK, dynamic
// registration) and tencent-token manifests.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud_standin.hpp"
#include "pg_server.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/image/credential_image.hpp"
#include "qmtkit/image/intel_hex.hpp"
#include "qmtkit/ledger/ledger.hpp"
#include "sim_process.hpp"
#include "support.hpp"
#include "text.hpp"

namespace qmtkit::cli_test {
namespace {

using test::count_of;

using namespace std::chrono_literals;
using nlohmann::json;
namespace lg = qmtkit::ledger;

constexpr int kRecords = 10;
const std::string kProduct = "a1ProvPK01";
const std::string kWrong = "CANARY-wrong-secret-77";
std::string secret_of(int i) {
    return "ProvSecret-" + std::to_string(i) + "-canary";
}
std::string name_of(int i) {
    return "prov-" + std::to_string(100 + i).substr(1);
}

// 14 digits and their Luhn check digit.
std::string imei_of(int i) {
    std::string s = "8669710310000" + std::to_string(i);  // i < 10
    int sum = 0;
    for (int k = 0; k < 14; ++k) {
        int d = s[13 - k] - '0';
        if (k % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return s + std::to_string((10 - sum % 10) % 10);
}

test::StandinRegistry registry() {
    test::StandinRegistry r;
    for (int i = 0; i < kRecords; ++i) r.aliyun.push_back({kProduct, name_of(i), secret_of(i)});
    r.plain = {{"observer", "ObserverPass-prov-1"}};
    return r;
}

std::vector<std::string> all_secrets() {
    std::vector<std::string> s{kWrong, "ObserverPass-prov-1"};
    for (int i = 0; i < kRecords; ++i) s.push_back(secret_of(i));
    return s;
}

void expect_no_secret(const std::string& what, const std::string& text) {
    for (const auto& s : all_secrets())
        EXPECT_EQ(text.find(s), std::string::npos) << s << " in " << what << ":\n" << text;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

class Provision : public ::testing::Test {
  protected:
    Provision() : cloud(registry()) {}
    // A stand-in on a registry given as JSON (the products of dynamic registration, ...).
    explicit Provision(const std::string& registry_json) : cloud(registry_json) {}

    // `n` emulated modules, IMEIs imei_of(first ...).
    void start_modules(int n, int rtt_ms = 0, int first = 0) {
        for (int i = 0; i < n; ++i) {
            test::SimProcess::Options o;
            o.exe = BC28SIM_EXE;
            o.open_pty = false;
            o.verbose = false;
            o.control = false;
            o.args = {"--imei", imei_of(first + i), "--rtt-ms", std::to_string(rtt_ms)};
            sims.push_back(std::make_unique<test::SimProcess>(o));
        }
    }
    // A manifest of kRecords devices; `listed` maps a record to the IMEI it lists, `wrong` the
    // records given a wrong secret.
    std::string manifest(const std::map<int, std::string>& listed = {},
                         const std::set<int>& wrong = {}) const {
        json devs = json::array();
        for (int i = 0; i < kRecords; ++i) {
            json d{{"product_key", kProduct},
                   {"device_name", name_of(i)},
                   {"device_secret", wrong.count(i) ? kWrong : secret_of(i)}};
            if (auto it = listed.find(i); it != listed.end()) d["imei"] = it->second;
            devs.push_back(d);
        }
        const std::string p = dir.file("batch.json");
        write_file(p, json{{"cloud", "aliyun"}, {"devices", devs}}.dump(2));
        return p;
    }
    std::vector<std::string> args(const std::string& m, std::vector<std::string> more = {}) const {
        std::vector<std::string> a{"provision",
                                   "--manifest",
                                   m,
                                   "--out",
                                   dir.file("out"),
                                   "--broker",
                                   cloud.host() + ":" + std::to_string(cloud.mqtt_port()),
                                   "--json",
                                   "--log",
                                   dir.file("provision.log"),
                                   "--trace"};
        for (const auto& s : sims) {
            a.push_back("--device");
            a.push_back(s->pty_path());
        }
        a.insert(a.end(), more.begin(), more.end());
        return a;
    }
    // qmtkit with `a`, running on (stdout and stderr into <name>.out / <name>.err).
    std::unique_ptr<test::Process> spawn(const std::vector<std::string>& a,
                                         const std::string& name) const {
        std::vector<std::string> argv{QMTKIT_EXE};
        argv.insert(argv.end(), a.begin(), a.end());
        test::Process::Options po;
        po.stdout_path = dir.file(name + ".out");
        po.stderr_path = dir.file(name + ".err");
        return std::make_unique<test::Process>(argv, po);
    }
    CliRun provision(const std::string& m, std::vector<std::string> more = {}) const {
        return run_qmtkit(args(m, std::move(more)), {}, 60s);
    }
    // The --json report by port; every object has the documented keys.
    std::map<std::string, json> by_port(const CliRun& r) const {
        std::map<std::string, json> out;
        const json arr = json::parse(r.out);
        EXPECT_TRUE(arr.is_array());
        for (const auto& o : arr) {
            for (const char* k : {"port", "imei", "imsi", "iccid", "firmware", "cloud", "product",
                                  "device_name", "result", "step", "reason", "ms"})
                EXPECT_TRUE(o.contains(k)) << k << " in " << o.dump();
            out[o["port"].get<std::string>()] = o;
        }
        EXPECT_EQ(out.size(), arr.size());
        return out;
    }
    std::string ledger_url() const { return "sqlite:" + dir.file("batch.ledger.sqlite"); }
    std::string export_text(const std::string& url) const {
        const CliRun e = run_qmtkit({"ledger", "export", "--ledger", url});
        EXPECT_EQ(e.status, 0) << e.err;
        return e.out;
    }
    void expect_clean(const CliRun& r, const std::string& url) const {
        expect_no_secret("stdout", r.out);
        expect_no_secret("stderr", r.err);
        expect_no_secret("the log", slurp(dir.file("provision.log")));
        expect_no_secret("the export", export_text(url));
    }
    // Each IMEI's record in the ledger.
    static std::map<std::string, std::string> bindings(const std::string& url,
                                                       const std::vector<std::string>& imeis) {
        lg::OpenOptions o;
        o.create = false;
        auto l = lg::Ledger::open(url, o);
        EXPECT_TRUE(l.ok()) << (l ? "" : l.error().message);
        std::map<std::string, std::string> out;
        if (!l) return out;
        for (const auto& imei : imeis) {
            auto b = l->binding_of(imei);
            EXPECT_TRUE(b.ok());
            if (b && *b) out[imei] = (*b)->record.device_name;
        }
        return out;
    }
    std::vector<std::string> imeis() const {
        std::vector<std::string> v;
        for (std::size_t i = 0; i < sims.size(); ++i) v.push_back(imei_of(static_cast<int>(i)));
        return v;
    }

    // A report object of a module provisioned with the record the ledger bound to its IMEI.
    static void expect_provisioned(const json& o, const std::map<std::string, std::string>& bound) {
        EXPECT_EQ(o["result"], "provisioned") << o.dump();
        EXPECT_EQ(o["device_name"], bound.at(o["imei"].get<std::string>()));
    }
    // Eight IMEIs bound to eight distinct records, all provisioned, the ledger consistent.
    static void expect_eight_distinct(const std::string& url,
                                      const std::map<std::string, std::string>& bound) {
        std::set<std::string> names;
        for (const auto& [imei, name] : bound) names.insert(name);
        EXPECT_EQ(names.size(), 8u) << "a record bound twice";
        lg::OpenOptions oo;
        oo.create = false;
        auto l = lg::Ledger::open(url, oo);
        ASSERT_TRUE(l.ok());
        const auto c = l->counts();
        ASSERT_TRUE(c.ok());
        EXPECT_EQ(c->bound, 8);
        EXPECT_EQ(c->unbound, kRecords - 8);
        EXPECT_EQ(c->provisioned, 8);
        EXPECT_EQ(*l->check(), "ok");
    }

    // Killed with SIGKILL while every port is in its live check, then run again on the same
    // ledger: nothing bound twice, nothing bound lost, every module provisioned.
    void kill_and_resume(const std::string& url) {
        start_modules(8, 400);
        const std::string m = manifest();
        const std::vector<std::string> a = args(m, {"--ledger", url});
        {
            auto p = spawn(a, "killed");
            ASSERT_TRUE(test::wait_file_contains(dir.file("provision.log"), "step verify", 20s));
            p->signal(SIGKILL);
            EXPECT_EQ(p->wait(5s), 128 + SIGKILL);
        }
        const auto before = bindings(url, imeis());
        EXPECT_FALSE(before.empty()) << "killed before any binding";
        const CliRun r = run_qmtkit(a, {}, 60s);
        EXPECT_EQ(r.status, 0) << r.err << slurp(dir.file("provision.log"));
        const auto after = bindings(url, imeis());
        EXPECT_EQ(after.size(), 8u);
        for (const auto& [imei, name] : before) EXPECT_EQ(after.at(imei), name) << imei;
        for (const auto& [port, o] : by_port(r)) expect_provisioned(o, after);
        expect_eight_distinct(url, after);
        expect_clean(r, url);
    }

    // Two line PCs on one batch: two provision processes with four modules each, one ledger,
    // started together, racing for the next unbound record: eight modules provisioned, eight
    // distinct records, none bound twice.
    void two_stations(const std::string& url) {
        start_modules(8, 100);
        const std::string m = manifest();
        const auto station = [&](int first, const std::string& name) {
            std::vector<std::string> a{"provision",
                                       "--manifest",
                                       m,
                                       "--out",
                                       dir.file("out-" + name),
                                       "--broker",
                                       cloud.host() + ":" + std::to_string(cloud.mqtt_port()),
                                       "--json",
                                       "--ledger",
                                       url,
                                       "--station",
                                       name};
            for (int i = first; i < first + 4; ++i) {
                a.push_back("--device");
                a.push_back(sims[static_cast<std::size_t>(i)]->pty_path());
            }
            return spawn(a, name);
        };
        auto pc1 = station(0, "pc1");
        auto pc2 = station(4, "pc2");
        EXPECT_EQ(pc1->wait(60s), 0) << slurp(dir.file("pc1.err"));
        EXPECT_EQ(pc2->wait(60s), 0) << slurp(dir.file("pc2.err"));
        const auto after = bindings(url, imeis());
        EXPECT_EQ(after.size(), 8u);
        for (const std::string pc : {"pc1", "pc2"}) {
            const json arr = json::parse(slurp(dir.file(pc + ".out")));
            ASSERT_EQ(arr.size(), 4u) << pc;
            for (const auto& o : arr) expect_provisioned(o, after);
        }
        expect_eight_distinct(url, after);
        const std::string exported = export_text(url);
        EXPECT_NE(exported.find("pc1"), std::string::npos);
        EXPECT_NE(exported.find("pc2"), std::string::npos);
        expect_no_secret("the export", exported);
    }

    test::CloudStandin cloud;
    TempDir dir;
    std::vector<std::unique_ptr<test::SimProcess>> sims;
};

// Eight modules at once: all provisioned, each IMEI its own record, eight images that the core's
// parser reads back (.bin and .hex), the test message of each seen by the broker; a rerun is
// "already" with the same records; no secret anywhere.
TEST_F(Provision, EightModulesAtOnceThenRerunIsAlready) {
    start_modules(8);
    auto observer = cloud.observer();
    ASSERT_TRUE(observer->subscribe("/" + kProduct + "/#", 1));
    const std::string m = manifest();
    const CliRun r = provision(m);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto first = by_port(r);
    ASSERT_EQ(first.size(), 8u);
    std::set<std::string> names;
    std::map<std::string, std::string> record_of;
    for (std::size_t i = 0; i < sims.size(); ++i) {
        const json& o = first.at(sims[i]->pty_path());
        EXPECT_EQ(o["result"], "provisioned") << o.dump();
        EXPECT_EQ(o["imei"], imei_of(static_cast<int>(i)));
        EXPECT_EQ(o["imsi"], "460001234567890");
        EXPECT_EQ(o["iccid"], "89860000000000000001");
        EXPECT_EQ(o["firmware"], "BC28JAR01A10");
        EXPECT_EQ(o["cloud"], "aliyun");
        EXPECT_EQ(o["product"], kProduct);
        EXPECT_TRUE(o["step"].is_null());
        names.insert(o["device_name"].get<std::string>());
        const std::string imei = o["imei"];
        record_of[imei] = o["device_name"];
        const std::string bin = slurp(dir.file("out/" + imei + ".bin"));
        auto im = image::parse_image(reinterpret_cast<const std::uint8_t*>(bin.data()), bin.size());
        ASSERT_TRUE(im.has_value()) << imei;
        EXPECT_EQ(im.value().profile, image::Profile::aliyun_aliauth);
        EXPECT_EQ(im.value().imei, imei);
        EXPECT_EQ(im.value().device_name, o["device_name"].get<std::string>());
        const auto hex = image::from_intel_hex(slurp(dir.file("out/" + imei + ".hex")));
        EXPECT_EQ(hex.address, 0u);
        EXPECT_EQ(std::string(hex.bytes.begin(), hex.bytes.end()), bin);
        struct stat st {};
        ASSERT_EQ(::stat(dir.file("out/" + imei + ".bin").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        const std::string topic =
            "/" + kProduct + "/" + o["device_name"].get<std::string>() + "/user/provision";
        EXPECT_TRUE(observer->wait_message(topic, 5s).has_value()) << topic;
    }
    EXPECT_EQ(names.size(), 8u);
    expect_clean(r, ledger_url());

    const CliRun again = provision(m);
    ASSERT_EQ(again.status, 0) << again.err;
    for (const auto& [port, o] : by_port(again)) {
        EXPECT_EQ(o["result"], "already") << o.dump();
        EXPECT_EQ(o["device_name"], record_of.at(o["imei"].get<std::string>()));
        EXPECT_TRUE(exists(dir.file("out/" + o["imei"].get<std::string>() + ".bin")));
    }
    expect_clean(again, ledger_url());
    const CliRun status = run_qmtkit({"ledger", "status", "--ledger", ledger_url()});
    EXPECT_NE(status.out.find("bound        8\n"), std::string::npos) << status.out;
    EXPECT_NE(status.out.find("already      8\n"), std::string::npos) << status.out;
}

// The record listed for the second module has a wrong secret: that module fails at verify with
// the broker's refusal, no image; the others are provisioned; exit status 3.
TEST_F(Provision, WrongSecretFailsThatDeviceOnly) {
    start_modules(3);
    const std::string m = manifest({{0, imei_of(0)}, {1, imei_of(1)}, {2, imei_of(2)}}, {1});
    const CliRun r = provision(m);
    EXPECT_EQ(r.status, 3) << r.err;
    const auto rep = by_port(r);
    const json& bad = rep.at(sims[1]->pty_path());
    EXPECT_EQ(bad["result"], "failed");
    EXPECT_EQ(bad["step"], "verify");
    EXPECT_EQ(bad["reason"], "CONNECT refused: not authorized (CONNACK 5)");
    EXPECT_EQ(bad["device_name"], name_of(1));
    EXPECT_FALSE(exists(dir.file("out/" + imei_of(1) + ".bin")));
    for (int i : {0, 2}) {
        const json& ok = rep.at(sims[static_cast<std::size_t>(i)]->pty_path());
        EXPECT_EQ(ok["result"], "provisioned") << ok.dump();
        EXPECT_EQ(ok["device_name"], name_of(i));
        EXPECT_TRUE(exists(dir.file("out/" + imei_of(i) + ".bin")));
    }
    const std::string exp = export_text(ledger_url());
    EXPECT_NE(exp.find("\"failed_step\":\"verify\",\"reason\":\"CONNECT refused: not authorized "
                       "(CONNACK 5)\""),
              std::string::npos)
        << exp;
    expect_clean(r, ledger_url());
}

TEST_F(Provision, KilledMidRunThenResumedSqlite) {
    kill_and_resume(ledger_url());
}

TEST_F(Provision, KilledMidRunThenResumedPostgres) {
    ASSERT_TRUE(test::PgServer::available()) << "install the postgresql package (./dev.sh test)";
    test::PgServer pg;
    pg.start();
    pg.create_database("provision");
    kill_and_resume(pg.url("provision"));
}

TEST_F(Provision, TwoStationsRaceOnOnePostgresBatch) {
    ASSERT_TRUE(test::PgServer::available()) << "install the postgresql package (./dev.sh test)";
    test::PgServer pg;
    pg.start();
    pg.create_database("stations");
    two_stations(pg.url("stations"));
}

TEST_F(Provision, TwoStationsRaceOnOneSqliteBatch) {
    two_stations(ledger_url());
}

// SIGINT while the ports are in their live check (the link online): each module disconnected and
// closed, each port recorded as failed at its step with reason "interrupted"; exit status 130.
TEST_F(Provision, InterruptRecordsInFlightPortsAsInterrupted) {
    start_modules(2, 400);
    const std::string m = manifest();
    auto p = spawn(args(m), "interrupted");
    ASSERT_TRUE(test::wait_file_contains(dir.file("provision.log"), "link online", 20s));
    p->signal(SIGINT);
    EXPECT_EQ(p->wait(10s), 130);
    const std::string exp = export_text(ledger_url());
    std::istringstream lines(exp);
    int n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
        const json j = json::parse(line);
        EXPECT_EQ(j["result"], "failed");
        EXPECT_EQ(j["reason"], "interrupted");
        EXPECT_EQ(j["failed_step"], "verify");
    }
    EXPECT_EQ(n, 2);
    EXPECT_NE(slurp(dir.file("provision.log")).find("AT> AT+QMTDISC"), std::string::npos);
}

// --dry-run: identity and the records that would be bound, distinct per module; no ledger,
// no image, no live check.
TEST_F(Provision, DryRunBindsNothing) {
    start_modules(2);
    const std::string m = manifest();
    const CliRun r = provision(m, {"--dry-run"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::set<std::string> names;
    for (const auto& [port, o] : by_port(r)) {
        EXPECT_EQ(o["result"], "provisioned");
        EXPECT_EQ(o["dry_run"], true);
        names.insert(o["device_name"].get<std::string>());
    }
    EXPECT_EQ(names.size(), 2u);
    EXPECT_FALSE(exists(dir.file("batch.ledger.sqlite")));
    EXPECT_FALSE(exists(dir.file("out")));
    EXPECT_EQ(slurp(dir.file("provision.log")).find("AT+QMTOPEN"), std::string::npos);
    expect_no_secret("stdout", r.out);
    expect_no_secret("stderr", r.err);
}

// Exit statuses 1 (usage), 4 (bad manifest), 5 (no port); 0 and 3 are above.
TEST(ProvisionCli, ExitStatuses) {
    TempDir dir;
    const std::string m = dir.file("m.json");
    write_file(m, R"({"cloud": "aliyun", "devices": [{"product_key": "a1P", "device_name": "d",
                      "device_secret": "s3cret-canary"}]})");
    const CliRun usage = run_qmtkit({"provision", "--manifest", m, "--device", "/dev/null"});
    EXPECT_EQ(usage.status, 1);
    EXPECT_EQ(usage.err, "Error: --out is required.\n");
    const CliRun no_dev = run_qmtkit({"provision", "--manifest", m, "--out", dir.file("o")});
    EXPECT_EQ(no_dev.status, 1);
    EXPECT_EQ(no_dev.err, "Error: --device or --devices is required.\n");
    const CliRun baud = run_qmtkit({"provision", "--manifest", m, "--out", dir.file("o"),
                                    "--device", "/dev/null", "--baud", "fast"});
    EXPECT_EQ(baud.status, 1);
    EXPECT_NE(baud.err.find("--baud"), std::string::npos);

    const std::string broken = dir.file("broken.json");
    write_file(broken, R"({"cloud": "aliyun", "devices": [{"product_key": "a1P"}]})");
    const CliRun bad = run_qmtkit(
        {"provision", "--manifest", broken, "--out", dir.file("o"), "--device", "/dev/null"});
    EXPECT_EQ(bad.status, 4) << bad.err;
    EXPECT_NE(bad.err.find("broken.json:1:"), std::string::npos) << bad.err;
    const std::string nofile = dir.file("nofile.json");
    write_file(nofile, R"({"cloud": "aliyun", "devices": [{"product_key": "a1P",
        "device_name": "d", "device_secret_file": "missing.secret"}]})");
    const CliRun sec = run_qmtkit(
        {"provision", "--manifest", nofile, "--out", dir.file("o"), "--device", "/dev/null"});
    EXPECT_EQ(sec.status, 4) << sec.err;

    const CliRun none = run_qmtkit({"provision", "--manifest", m, "--out", dir.file("o"),
                                    "--device", dir.file("no-such-tty"), "--json"});
    EXPECT_EQ(none.status, 5) << none.err;
    const json arr = json::parse(none.out);
    ASSERT_EQ(arr.size(), 1u);
    EXPECT_EQ(arr[0]["result"], "failed");
    EXPECT_EQ(arr[0]["step"], "open");
    const CliRun glob = run_qmtkit(
        {"provision", "--manifest", m, "--out", dir.file("o"), "--devices", dir.file("tty*")});
    EXPECT_EQ(glob.status, 5) << glob.err;
    for (const CliRun* r : {&usage, &no_dev, &bad, &sec, &none, &glob})
        EXPECT_EQ(r->all().find("s3cret-canary"), std::string::npos);
}

// ----------------------------------------- dynamic registration, Tencent signed and token flow

const std::string kAliDyn = "a1ProvDyn1";
const std::string kTenDyn = "TCPROVDYN1";
const std::string kTenPid = "TCPROVPSK1";
const std::string kSuitePid = "provsuite";
const std::string kAliProductSecret = "AliProvProductSecret-canary-01";
const std::string kTenProductSecret = "TenProvProductSecret-canary-02";
const std::string kWrongProductSecret = "WrongProductSecret-canary-03";
const std::string kDynregKey = "ProvDynregKey-canary-04";
const std::string kTokenKey = "ProvTokenKey-canary-05";
const std::string kObserverPass = "ObserverPass-prov-2";
const char* const kProductSecretEnv = "QMTKIT_PROV_PRODUCT_SECRET";
constexpr int kDynRecords = 4;  // one record more than modules: the spare stays unregistered

std::string dyn_name(int i) {
    return "dyn-" + std::to_string(100 + i).substr(1);
}
std::string psk_of(int i) {
    return cloud::base64_encode("TenProvPsk-" + std::to_string(i) + "-canary");
}
std::string suite_name(int i) {
    return "suite-" + std::to_string(100 + i).substr(1);
}
std::string suite_secret(int i) {
    return "SuiteProvSecret-" + std::to_string(i) + "-canary";
}

// Registration products (pre-registered names, a second registration of a name refused: a rerun
// that registered again would fail), Tencent PSK devices, IoT Suite devices, an observer.
std::string clouds_registry() {
    json names = json::array();
    for (int i = 0; i < kDynRecords; ++i) names.push_back(dyn_name(i));
    json r{{"aliyun_products",
            {{{"product_key", kAliDyn},
              {"product_secret", kAliProductSecret},
              {"devices", names},
              {"allow_reregister", false}}}},
           {"tencent_products",
            {{{"product_id", kTenDyn},
              {"product_secret", kTenProductSecret},
              {"devices", names},
              {"allow_reregister", false}}}},
           {"tencent", json::array()},
           {"tencent_suite", json::array()},
           {"plain", {{{"username", "observer"}, {"password", kObserverPass}}}},
           {"token_key", kTokenKey},
           {"dynreg_key", kDynregKey}};
    for (int i = 0; i < 3; ++i) {
        r["tencent"].push_back(
            {{"product_id", kTenPid}, {"device_name", name_of(i)}, {"device_psk", psk_of(i)}});
        r["tencent_suite"].push_back({{"product_id", kSuitePid},
                                      {"device_name", suite_name(i)},
                                      {"device_secret", suite_secret(i)}});
    }
    return r.dump();
}

class ProvisionClouds : public Provision {
  protected:
    ProvisionClouds() : Provision(clouds_registry()) {}

    // http://127.0.0.1:PORT, the registration endpoints' base (the token server's).
    std::string base_url() const {
        const std::string t = cloud.token_url();
        return t.substr(0, t.rfind('/'));
    }
    std::unique_ptr<test::MqttClient> observe(const std::string& topics) const {
        auto o = cloud.client("obs-provision", "observer", kObserverPass, 10s);
        EXPECT_EQ(o->connack_rc(), 0);
        EXPECT_TRUE(o->subscribe(topics, 1));
        return o;
    }
    // A dynamic-registration manifest of kDynRecords devices without secrets; the product
    // secret from the file product.secret (aliyun) or $QMTKIT_PROV_PRODUCT_SECRET (tencent).
    std::string dynreg_manifest(bool aliyun) const {
        json devs = json::array();
        for (int i = 0; i < kDynRecords; ++i)
            devs.push_back({{aliyun ? "product_key" : "product_id", aliyun ? kAliDyn : kTenDyn},
                            {"device_name", dyn_name(i)}});
        json m{{"cloud", aliyun ? "aliyun" : "tencent"},
               {"dynamic_registration", true},
               {"registration_url", base_url()},
               {"devices", devs}};
        if (aliyun)
            m["product_secret_file"] = "product.secret";
        else
            m["product_secret_env"] = kProductSecretEnv;
        const std::string p = dir.file("batch.json");
        write_file(p, m.dump(2));
        return p;
    }
    CliRun provision_env(const std::string& m, const std::map<std::string, std::string>& env,
                         std::vector<std::string> more = {}) const {
        return run_qmtkit(args(m, std::move(more)), env, 60s);
    }
    // The secret the ledger keeps for the record `imei` is bound to (nullopt: none).
    std::optional<std::string> kept_secret(const std::string& imei) const {
        lg::OpenOptions o;
        o.create = false;
        auto l = lg::Ledger::open(ledger_url(), o);
        EXPECT_TRUE(l.ok());
        if (!l) return std::nullopt;
        auto b = l->binding_of(imei);
        EXPECT_TRUE(b.ok() && b->has_value()) << imei;
        if (!b || !*b) return std::nullopt;
        auto s = l->secret((*b)->record.id);
        EXPECT_TRUE(s.ok());
        return s ? *s : std::nullopt;
    }
    image::CredentialImage parsed(const std::string& imei) {
        images_.push_back(slurp(dir.file("out/" + imei + ".bin")));
        const std::string& bin = images_.back();
        auto im = image::parse_image(reinterpret_cast<const std::uint8_t*>(bin.data()), bin.size());
        EXPECT_TRUE(im.has_value()) << imei;
        return im ? im.value() : image::CredentialImage{};
    }
    std::vector<std::string> secrets() const {
        std::vector<std::string> s{kAliProductSecret, kTenProductSecret, kWrongProductSecret,
                                   kDynregKey,        kTokenKey,         kObserverPass};
        for (int i = 0; i < 3; ++i) {
            s.push_back(psk_of(i));
            s.push_back(*cloud::base64_decode(psk_of(i)));
            s.push_back(suite_secret(i));
        }
        s.insert(s.end(), issued.begin(), issued.end());
        return s;
    }
    // No secret of the registry, nor one the registration issued, in the run's stdout and
    // stderr, the --trace log, the ledger's export or the stand-in's logs.
    void expect_no_secrets(const CliRun& r) const {
        const std::vector<std::pair<std::string, std::string>> texts{
            {"stdout", r.out},
            {"stderr", r.err},
            {"the log", slurp(dir.file("provision.log"))},
            {"the export", export_text(ledger_url())},
            {"the stand-in's logs", cloud.broker_log() + cloud.token_log()}};
        for (const auto& [what, text] : texts)
            for (const auto& s : secrets())
                EXPECT_EQ(text.find(s), std::string::npos) << s << " in " << what << ":\n" << text;
    }

    // The --json report by port, `n` ports in it.
    std::map<std::string, json> report(const CliRun& r, std::size_t n) const {
        auto rep = by_port(r);
        EXPECT_EQ(rep.size(), n) << r.out;
        return rep;
    }

    std::vector<std::string> issued;  // the secrets the registration issued (from the ledger)
    std::deque<std::string> images_;  // parse_image's views point into these
};

// Aliyun one product, one secret: a wrong product secret fails every module at `register` with
// the cloud's refusal; a dry run registers nothing; with the right one each module's device is
// registered once, its secret kept in the ledger (and in its aliauth image), the live check
// connects with it; a rerun is `already`, the secret from the ledger, nothing registered again.
TEST_F(ProvisionClouds, AliyunDynamicRegistrationThenRerunFromTheLedger) {
    start_modules(3);
    auto observer = observe("/" + kAliDyn + "/#");
    const std::string m = dynreg_manifest(true);
    const std::string reg_line = "POST /auth/register/device " + kAliDyn + "/";

    write_file(dir.file("product.secret"), kWrongProductSecret + "\n");
    const CliRun wrong = provision(m);
    EXPECT_EQ(wrong.status, 3) << wrong.err;
    for (const auto& [port, o] : report(wrong, 3)) {
        EXPECT_EQ(o["result"], "failed") << o.dump();
        EXPECT_EQ(o["step"], "register") << o.dump();
        const std::string reason = o["reason"].is_string() ? o["reason"].get<std::string>() : "";
        EXPECT_NE(reason.find("Aliyun refused the registration of " + kAliDyn + "/" +
                              o["device_name"].get<std::string>() +
                              ": code 401 (request auth error: sign mismatch)"),
                  std::string::npos)
            << reason;
        EXPECT_FALSE(exists(dir.file("out/" + o["imei"].get<std::string>() + ".bin")));
    }
    EXPECT_EQ(count_of(cloud.token_log(), " -> 401 "), 3u) << cloud.token_log();
    EXPECT_NE(export_text(ledger_url()).find("\"failed_step\":\"register\""), std::string::npos);
    for (const auto& imei : imeis()) EXPECT_FALSE(kept_secret(imei).has_value()) << imei;
    expect_no_secrets(wrong);

    write_file(dir.file("product.secret"), kAliProductSecret + "\n");
    const CliRun dry = provision(m, {"--dry-run"});
    EXPECT_EQ(dry.status, 0) << dry.err;
    for (const auto& [port, o] : report(dry, 3)) EXPECT_EQ(o["result"], "provisioned") << o.dump();
    EXPECT_EQ(count_of(slurp(dir.file("provision.log")), "(dry run: not registered)"), 3u);
    EXPECT_EQ(count_of(cloud.token_log(), reg_line), 3u) << "the dry run registered\n"
                                                         << cloud.token_log();

    const CliRun r = provision(m);
    ASSERT_EQ(r.status, 0) << r.err << slurp(dir.file("provision.log"));
    std::set<std::string> names;
    for (const auto& [port, o] : report(r, 3)) {
        EXPECT_EQ(o["result"], "provisioned") << o.dump();
        EXPECT_EQ(o["product"], kAliDyn);
        const std::string imei = o["imei"], name = o["device_name"];
        names.insert(name);
        EXPECT_EQ(count_of(cloud.token_log(), reg_line + name + " -> 200 success"), 1u) << name;
        const auto secret = kept_secret(imei);
        ASSERT_TRUE(secret.has_value()) << imei;
        EXPECT_EQ(secret->size(), 32u);
        issued.push_back(*secret);
        const auto im = parsed(imei);
        EXPECT_EQ(im.profile, image::Profile::aliyun_aliauth);
        EXPECT_EQ(im.imei, imei);
        EXPECT_EQ(im.product, kAliDyn);
        EXPECT_EQ(im.device_name, name);
        EXPECT_EQ(im.secret, *secret) << "the image does not hold the issued secret";
        const std::string topic = "/" + kAliDyn + "/" + name + "/user/provision";
        EXPECT_TRUE(observer->wait_message(topic, 5s).has_value()) << topic;
    }
    EXPECT_EQ(names.size(), 3u);
    EXPECT_EQ(count_of(cloud.token_log(), reg_line), 6u) << cloud.token_log();
    expect_no_secrets(r);
    const CliRun status = run_qmtkit({"ledger", "status", "--ledger", ledger_url()});
    EXPECT_NE(status.out.find("secrets      3\n"), std::string::npos) << status.out;

    const CliRun again = provision(m);
    ASSERT_EQ(again.status, 0) << again.err;
    for (const auto& [port, o] : report(again, 3)) {
        EXPECT_EQ(o["result"], "already") << o.dump();
        EXPECT_EQ(names.count(o["device_name"].get<std::string>()), 1u);
    }
    EXPECT_EQ(count_of(cloud.token_log(), reg_line), 6u) << "registered again\n"
                                                         << cloud.token_log();
    expect_no_secrets(again);
}

// Tencent dynamic registration (the PSK from /device/register, the product secret from the
// environment): a wrong product secret fails at `register` with the cloud's code; the right
// one registers each device once, the PSK kept in the ledger, the image signed on the host with
// it (profile 2, no PSK in it), the live check connects; a rerun registers nothing.
TEST_F(ProvisionClouds, TencentDynamicRegistrationThenRerunFromTheLedger) {
    start_modules(2);
    auto observer = observe(kTenDyn + "/#");
    const std::string m = dynreg_manifest(false);
    const std::string reg_line = "POST /device/register " + kTenDyn + "/";

    const CliRun wrong = provision_env(m, {{kProductSecretEnv, kWrongProductSecret}});
    EXPECT_EQ(wrong.status, 3) << wrong.err;
    for (const auto& [port, o] : report(wrong, 2)) {
        EXPECT_EQ(o["result"], "failed") << o.dump();
        EXPECT_EQ(o["step"], "register") << o.dump();
        const std::string reason = o["reason"].is_string() ? o["reason"].get<std::string>() : "";
        EXPECT_NE(reason.find("Tencent refused the registration of " + kTenDyn + "/" +
                              o["device_name"].get<std::string>() +
                              ": AuthFailure.SignatureFailure (signature mismatch)"),
                  std::string::npos)
            << reason;
    }
    expect_no_secrets(wrong);

    const std::map<std::string, std::string> env{{kProductSecretEnv, kTenProductSecret}};
    const CliRun r = provision_env(m, env);
    ASSERT_EQ(r.status, 0) << r.err << slurp(dir.file("provision.log"));
    std::set<std::string> names;
    for (const auto& [port, o] : report(r, 2)) {
        EXPECT_EQ(o["result"], "provisioned") << o.dump();
        EXPECT_EQ(o["cloud"], "tencent");
        const std::string imei = o["imei"], name = o["device_name"];
        names.insert(name);
        EXPECT_EQ(count_of(cloud.token_log(), reg_line + name + " -> 0 "), 1u) << name;
        const auto psk = kept_secret(imei);
        ASSERT_TRUE(psk.has_value()) << imei;
        const auto raw = cloud::base64_decode(*psk);
        ASSERT_TRUE(raw.has_value());
        EXPECT_EQ(raw->size(), 16u);
        issued.push_back(*psk);
        issued.push_back(*raw);
        const auto im = parsed(imei);
        EXPECT_EQ(im.profile, image::Profile::tencent_signed);
        EXPECT_EQ(im.imei, imei);
        EXPECT_EQ(im.client_id, kTenDyn + name);
        EXPECT_EQ(im.username.rfind(kTenDyn + name + ";12010126;", 0), 0u) << im.username;
        EXPECT_FALSE(im.has(image::Tag::secret));
        EXPECT_TRUE(observer->wait_message(kTenDyn + "/" + name + "/data", 5s).has_value());
    }
    EXPECT_EQ(names.size(), 2u);
    const std::size_t registrations = count_of(cloud.token_log(), reg_line);
    EXPECT_EQ(registrations, 4u) << cloud.token_log();  // 2 refused, 2 registered
    expect_no_secrets(r);

    const CliRun again = provision_env(m, env);
    ASSERT_EQ(again.status, 0) << again.err;
    for (const auto& [port, o] : report(again, 2)) EXPECT_EQ(o["result"], "already") << o.dump();
    EXPECT_EQ(count_of(cloud.token_log(), reg_line), registrations) << "registered again";
    expect_no_secrets(again);
}

// Tencent PSK devices (signed on the host: profile 2, username and password in the image, no
// PSK) and IoT Suite devices (the module fetches its token: profile 3 with the device secret,
// the token URL and the lifetime), two modules each, through the live check.
TEST_F(ProvisionClouds, TencentSignedAndTokenManifests) {
    start_modules(2);
    auto observer = observe("#");
    json psk_devs = json::array(), suite_devs = json::array();
    for (int i = 0; i < 3; ++i) {
        psk_devs.push_back(
            {{"product_id", kTenPid}, {"device_name", name_of(i)}, {"device_psk", psk_of(i)}});
        write_file(dir.file("suite-" + std::to_string(i) + ".secret"), suite_secret(i) + "\n");
        suite_devs.push_back({{"product_id", kSuitePid},
                              {"device_name", suite_name(i)},
                              {"device_secret_file", "suite-" + std::to_string(i) + ".secret"}});
    }
    const std::string signed_m = dir.file("tencent.json");
    write_file(signed_m, json{{"cloud", "tencent"}, {"devices", psk_devs}}.dump(2));
    const CliRun r = provision(signed_m, {"--ledger", ledger_url()});
    ASSERT_EQ(r.status, 0) << r.err << slurp(dir.file("provision.log"));
    for (const auto& [port, o] : report(r, 2)) {
        EXPECT_EQ(o["result"], "provisioned") << o.dump();
        EXPECT_EQ(o["cloud"], "tencent");
        const std::string imei = o["imei"], name = o["device_name"];
        const auto im = parsed(imei);
        EXPECT_EQ(im.profile, image::Profile::tencent_signed);
        EXPECT_EQ(im.imei, imei);
        EXPECT_EQ(im.product, kTenPid);
        EXPECT_EQ(im.device_name, name);
        EXPECT_EQ(im.host, kTenPid + ".iotcloud.tencentdevices.com");
        EXPECT_EQ(im.client_id, kTenPid + name);
        EXPECT_EQ(im.username.rfind(kTenPid + name + ";12010126;", 0), 0u) << im.username;
        EXPECT_NE(im.password.find(";hmacsha256"), std::string::npos);
        EXPECT_FALSE(im.has(image::Tag::secret));
        EXPECT_TRUE(observer->wait_message(kTenPid + "/" + name + "/data", 5s).has_value());
    }
    expect_no_secrets(r);

    const std::string token_m = dir.file("suite.json");
    write_file(token_m, json{{"cloud", "tencent-token"},
                             {"token_url", cloud.token_url()},
                             {"expire_days", 2},
                             {"devices", suite_devs}}
                            .dump(2));
    const std::string suite_ledger = "sqlite:" + dir.file("suite.ledger.sqlite");
    const CliRun t = provision(token_m);
    ASSERT_EQ(t.status, 0) << t.err << slurp(dir.file("provision.log"));
    for (const auto& [port, o] : report(t, 2)) {
        EXPECT_EQ(o["result"], "provisioned") << o.dump();
        EXPECT_EQ(o["cloud"], "tencent-token");
        const std::string imei = o["imei"], name = o["device_name"];
        const int i = name.back() - '0';
        const auto im = parsed(imei);
        EXPECT_EQ(im.profile, image::Profile::tencent_token);
        EXPECT_EQ(im.imei, imei);
        EXPECT_EQ(im.product, kSuitePid);
        EXPECT_EQ(im.device_name, name);
        EXPECT_EQ(im.secret, suite_secret(i));
        EXPECT_EQ(im.token_url, cloud.token_url());
        EXPECT_EQ(im.expire_days, 2);
        EXPECT_NE(cloud.token_log().find("POST /token " + kSuitePid + "/" + name + " -> 0"),
                  std::string::npos)
            << cloud.token_log();
        EXPECT_TRUE(observer->wait_message(kSuitePid + "/" + name + "/data", 5s).has_value());
    }
    EXPECT_NE(slurp(dir.file("provision.log")).find("AT> AT+QMTTENAUTH=\"" + kSuitePid + "\""),
              std::string::npos);
    const CliRun e = run_qmtkit({"ledger", "export", "--ledger", suite_ledger});
    EXPECT_EQ(e.status, 0) << e.err;
    for (const auto& s : secrets()) EXPECT_EQ(e.out.find(s), std::string::npos) << s;
    expect_no_secrets(t);
}

// A dynamic-registration manifest whose product secret does not resolve is refused before any
// port is opened (exit 4), as a device secret that does not resolve.
TEST(ProvisionCli, ProductSecretCheckedBeforeAnyPort) {
    TempDir dir;
    const std::string m = dir.file("dyn.json");
    write_file(m, R"({"cloud": "aliyun", "dynamic_registration": true,
  "product_secret_file": "missing.secret", "registration_url": "http://127.0.0.1:1",
  "devices": [{"product_key": "a1P", "device_name": "d"}]})");
    const CliRun r = run_qmtkit({"provision", "--manifest", m, "--out", dir.file("o"), "--device",
                                 dir.file("no-such-tty")});
    EXPECT_EQ(r.status, 4) << r.err;
    EXPECT_NE(r.err.find("dyn.json:2:"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("no-such-tty"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qmtkit::cli_test
