// The example firmware (qmtkit-example-fw.elf) on a real QEMU mps2-an385, its UART0 on bc28-sim's
// TCP port, mosquitto behind it: the credential image built by `qmtkit image build` and placed
// where a flasher puts it, 20 QoS 1 readings at a subscriber, a `stop` from the broker reaching
// the firmware, a link drop mid-run losing nothing, and a missing or corrupt image reported. The
// firmware's semihosting exit status is the verdict; its stdout carries the stack high-water,
// written to <build>/baremetal/ for the footprint report.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

#include "broker.hpp"
#include "message_log.hpp"
#include "mqtt_client.hpp"
#include "process.hpp"
#include "sim_process.hpp"

namespace qmtkit::test {
namespace {

using namespace std::chrono_literals;

const std::string kDevice = "fw-0001";
const std::string kImei = "490154203237518";
const std::string kTelemetry = "qmtkit/example/" + kDevice + "/telemetry";
const std::string kCmd = "qmtkit/example/" + kDevice + "/cmd";
constexpr auto kRunLimit = 60s;  // the firmware gives up after 120 s; CTest's TIMEOUT is 150 s

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::set<std::string> payloads(const std::vector<MessageLog::Entry>& all) {
    std::set<std::string> s;
    for (const auto& e : all) s.insert(e.payload);
    return s;
}

bool has_all_readings(const std::vector<MessageLog::Entry>& all) {
    const auto s = payloads(all);
    for (int n = 1; n <= 20; ++n)
        if (s.count("n=" + std::to_string(n)) == 0) return false;
    return true;
}

class FirmwareE2E : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = make_temp_dir("qmtkit-fw-"); }
    void TearDown() override { remove_tree(dir_); }

    // `qmtkit image build` as a factory would run it: the presigned profile (signed on the
    // host), its broker this test's mosquitto.
    std::string build_image(std::uint16_t port) {
        const std::string manifest = dir_ + "/manifest.json";
        std::ofstream(manifest) << R"({"cloud": "aliyun", "endpoint": "127.0.0.1", "port": )"
                                << port << R"(, "devices": [{"product_key": "a1FwPK00001", )"
                                << R"("device_name": ")" << kDevice
                                << R"(", "device_secret": "FwSecret-0001", "imei": ")" << kImei
                                << R"("}]})";
        const std::string image = dir_ + "/image.bin";
        Process::Options po;
        po.stderr_path = dir_ + "/image-build.err";
        Process build({QMTKIT_EXE, "image", "build", "--manifest", manifest, "--imei", kImei,
                       "--sign-on-host", "--out", image},
                      po);
        const auto rc = build.wait(30s);
        EXPECT_EQ(rc, 0) << slurp(po.stderr_path);
        return image;
    }

    // QEMU as docs/porting.md gives it; `serial` is "tcp:127.0.0.1:PORT,nodelay=on" or "null".
    std::unique_ptr<Process> start_qemu(const std::string& serial, const std::string& image) {
        std::vector<std::string> argv{QEMU_SYSTEM_ARM,
                                      "-M",
                                      "mps2-an385",
                                      "-nographic",
                                      "-monitor",
                                      "none",
                                      "-kernel",
                                      QMTKIT_EXAMPLE_FW_ELF,
                                      "-serial",
                                      serial,
                                      "-semihosting-config",
                                      "enable=on,target=native"};
        if (!image.empty())
            argv.insert(argv.end(), {"-device", "loader,file=" + image + ",addr=0x003FF000"});
        Process::Options po;
        po.stdout_path = dir_ + "/qemu.out";
        po.stderr_path = dir_ + "/qemu.err";
        return std::make_unique<Process>(argv, po);
    }
    // bc28-sim serving its TCP port (QEMU's serial line connects to it), no pty.
    static SimProcess::Options sim_over_tcp(std::vector<std::string> args = {}) {
        SimProcess::Options so;
        so.exe = BC28SIM_EXE;
        so.tcp = true;
        so.open_pty = false;
        so.args = std::move(args);
        return so;
    }
    std::unique_ptr<Process> start_qemu_on(SimProcess& sim, const std::string& image) {
        return start_qemu("tcp:127.0.0.1:" + std::to_string(sim.tcp_port()) + ",nodelay=on", image);
    }
    std::string qemu_output() const {
        return slurp(dir_ + "/qemu.out") + slurp(dir_ + "/qemu.err");
    }

    // The firmware's parseable figures; the high-water also goes to a file for the report.
    void record_stack(const std::string& file) {
        const std::string out = slurp(dir_ + "/qemu.out");
        std::smatch m;
        ASSERT_TRUE(
            std::regex_search(out, m, std::regex(R"(stack high-water: (\d+) B of (\d+) B)")))
            << out;
        const int used = std::stoi(m[1]), size = std::stoi(m[2]);
        EXPECT_GT(used, 0);
        EXPECT_LT(used, size) << "the stack overflowed its painted region";
        std::smatch r;
        ASSERT_TRUE(std::regex_search(out, r, std::regex(R"(ram: (\d+) B of (\d+) B)"))) << out;
        EXPECT_LE(std::stoi(r[1]), 8192) << "the example firmware should fit 8 KB of RAM";
        std::ofstream(std::string(QMTKIT_BAREMETAL_OUT) + "/" + file)
            << "stack high-water: " << used << " B of " << size << " B\nram: " << r[1] << " B\n";
    }

    void run_with_fault(const std::string& fault, const std::string& stack_file);

    std::string dir_;
};

TEST_F(FirmwareE2E, TwentyQos1ReadingsArriveAndStopReachesTheFirmware) {
    Broker broker;
    broker.start();
    const std::string image = build_image(broker.port());
    MessageLog log(broker.host(), broker.port(), kTelemetry, 1);
    SimProcess sim(sim_over_tcp());
    auto qemu = start_qemu_on(sim, image);
    // The client queues the cmd subscription's SUB before the first PUB, and the broker handles
    // one connection's packets in order: once n=1 is here, the subscription is in place.
    ASSERT_TRUE(log.wait_for(kTelemetry, "n=1", 30s)) << qemu_output() << sim.log();
    MqttClient commander(broker.host(), broker.port());
    ASSERT_TRUE(commander.publish(kCmd, "stop", 1));
    const auto rc = qemu->wait(kRunLimit);
    ASSERT_TRUE(rc.has_value()) << "the firmware did not finish\n" << qemu_output();
    EXPECT_EQ(*rc, 0) << qemu_output() << sim.log();
    EXPECT_NE(qemu_output().find("done: 20 of 20 acknowledged, stop received"), std::string::npos)
        << qemu_output();
    // Without a fault each reading arrives once, in order.
    ASSERT_TRUE(log.wait(has_all_readings, 5s));
    const auto all = log.snapshot();
    ASSERT_EQ(all.size(), 20u);
    for (int n = 1; n <= 20; ++n) EXPECT_EQ(all[n - 1].payload, "n=" + std::to_string(n));
    std::cout << qemu_output();
    record_stack("stack-high-water.txt");
}

// A fault on the link after the subscriber saw n=5; the firmware must recover and lose nothing.
void FirmwareE2E::run_with_fault(const std::string& fault, const std::string& stack_file) {
    Broker broker;
    broker.start();
    const std::string image = build_image(broker.port());
    MessageLog log(broker.host(), broker.port(), kTelemetry, 1);
    // A 100 ms round trip keeps the window's five readings in flight for a while: the fault
    // lands with readings still to go however late this process sees n=5.
    SimProcess sim(sim_over_tcp({"--rtt-ms", "100"}));
    auto qemu = start_qemu_on(sim, image);
    ASSERT_TRUE(log.wait_for(kTelemetry, "n=5", 30s)) << qemu_output() << sim.log();
    EXPECT_EQ(sim.control(fault).rfind("OK", 0), 0u);
    // At least once: every reading arrives (duplicates allowed). Then `stop`, retained: the
    // last readings can arrive before the firmware has even noticed the fault, so its new
    // session may not have subscribed yet, and a retained message reaches a later subscription.
    ASSERT_TRUE(log.wait(has_all_readings, 75s)) << qemu_output() << sim.log();
    MqttClient commander(broker.host(), broker.port());
    ASSERT_TRUE(commander.publish(kCmd, "stop", 1, /*retain=*/true));
    const auto rc = qemu->wait(kRunLimit);
    ASSERT_TRUE(rc.has_value()) << "the firmware did not finish\n" << qemu_output();
    EXPECT_EQ(*rc, 0) << qemu_output() << sim.log();
    // The fault was real: the firmware came online a second time.
    std::smatch m;
    const std::string out = qemu_output();
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(link sessions (\d+), resent (\d+))")))
        << out;
    EXPECT_GE(std::stoi(m[1]), 2) << out;
    EXPECT_GE(std::stoi(m[2]), 1) << "nothing was in flight at the fault:\n" << out;
    for (const auto& e : log.snapshot())
        EXPECT_TRUE(std::regex_match(e.payload, std::regex(R"(n=([1-9]|1[0-9]|20))")))
            << "a foreign payload: " << e.payload;
    std::cout << out;
    record_stack(stack_file);
}

// The link goes down under the firmware: socket closed, +QMTSTAT: 0,7, what was in flight
// discarded by the module.
TEST_F(FirmwareE2E, LinkDropMidRunLosesNoQos1Reading) {
    run_with_fault("drop", "stack-high-water-link-drop.txt");
}

// A silent detach: no +QMTSTAT at all, the five readings in flight never answered. The client
// finds it when their results time out (pkt_timeout x (retry_times + 1) = 40 s with the default
// settings) and asks the module, so this case takes about 45 s.
TEST_F(FirmwareE2E, SilentDetachMidRunLosesNoQos1Reading) {
    run_with_fault("drop 0", "stack-high-water-silent-drop.txt");
}

TEST_F(FirmwareE2E, MissingImageIsReportedWithANonZeroExit) {
    auto qemu = start_qemu("null", "");
    const auto rc = qemu->wait(20s);
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, 2);
    EXPECT_NE(qemu_output().find("FAIL: no valid credential image at 0x003FF000: bad magic"),
              std::string::npos)
        << qemu_output();
}

TEST_F(FirmwareE2E, CorruptImageIsReportedWithANonZeroExit) {
    std::string bytes = slurp(build_image(1883));
    ASSERT_GT(bytes.size(), 40u);
    bytes[30] = static_cast<char>(bytes[30] ^ 0x01);  // a TLV byte: the CRC no longer matches
    const std::string corrupt = dir_ + "/corrupt.bin";
    std::ofstream(corrupt, std::ios::binary) << bytes;
    auto qemu = start_qemu("null", corrupt);
    const auto rc = qemu->wait(20s);
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, 2);
    EXPECT_NE(qemu_output().find("FAIL: no valid credential image at 0x003FF000: CRC mismatch"),
              std::string::npos)
        << qemu_output();
}

}  // namespace
}  // namespace qmtkit::test
