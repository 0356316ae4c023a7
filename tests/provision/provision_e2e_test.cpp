// `qmtkit provision` end to end (docs/provisioning.md): the real executable against bc28-sim
// modules on pseudo-terminals and the cloud stand-in (mosquitto + libqmtkit_cloud_auth.so), the
// ledger on SQLite and on a real PostgreSQL (tests/harness PgServer).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud_standin.hpp"
#include "pg_server.hpp"
#include "qmtkit/image/credential_image.hpp"
#include "qmtkit/image/intel_hex.hpp"
#include "qmtkit/ledger/ledger.hpp"
#include "sim_process.hpp"
#include "support.hpp"

namespace qmtkit::cli_test {
namespace {

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
        std::set<std::string> names;
        for (const auto& [imei, name] : after) names.insert(name);
        EXPECT_EQ(names.size(), 8u) << "a record bound twice";
        for (const auto& [port, o] : by_port(r)) {
            EXPECT_EQ(o["result"], "provisioned") << o.dump();
            EXPECT_EQ(o["device_name"], after.at(o["imei"].get<std::string>()));
        }
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
        expect_clean(r, url);
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

}  // namespace
}  // namespace qmtkit::cli_test
