// The credential image all the way (issue: provisioning, part 1): the host writer makes a
// manifest device's image (as Intel HEX, read back as a flasher would), the core's parser and
// cloud profile turn it into a qmt::Session, and the core client (host::BlockingClient) brings
// it up through bc28-sim to the cloud stand-in and publishes; a plain observer receives it.
// One test per profile; a wrong secret is refused by the stand-in just the same.
#include <gtest/gtest.h>

#include "cloud_standin.hpp"
#include "qmtkit/cloud/image_session.hpp"
#include "qmtkit/cloud/signing.hpp"
#include "qmtkit/host/blocking_client.hpp"
#include "qmtkit/image/intel_hex.hpp"
#include "qmtkit/image/writer.hpp"
#include "sim_process.hpp"

namespace qmtkit::image {
namespace {

using namespace std::chrono_literals;
namespace mf = qmtkit::manifest;

const std::string kImei = "490154203237518";
const std::string kAliSecret = "ImgAliSecret-01", kPsk = "ImgTencentPsk-01",
                  kSuiteSecret = "ImgSuiteSecret-01", kObserverPass = "img-observer-9";

test::StandinRegistry registry() {
    test::StandinRegistry r;
    r.aliyun = {{"a1ImgPK0001", "img-ali", kAliSecret}};
    r.tencent = {{"IMGPID0001", "img-ten", cloud::base64_encode(kPsk)}};
    r.tencent_suite = {{"imgsuite", "img-suite", kSuiteSecret}};
    r.plain = {{"observer", kObserverPass}};
    r.token_key = "image-e2e-token-key";
    return r;
}

class ImageE2E : public ::testing::Test {
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
    void SetUp() override { ASSERT_NE(cloud_, nullptr) << start_error_; }

    // A manifest of one device, its broker the stand-in.
    static mf::Manifest manifest(mf::Cloud c, const std::string& product, const std::string& name) {
        mf::Manifest m;
        m.cloud = c;
        m.endpoint = cloud_->host();
        m.port = cloud_->mqtt_port();
        m.token_url = cloud_->token_url();
        m.expire_days = 1;
        mf::Device d;
        d.product = product;
        d.device_name = name;
        d.imei = kImei;
        m.devices.push_back(d);
        return m;
    }

    // writer -> Intel HEX -> bytes -> parser -> profile session -> online -> publish -> observer.
    void round_trip(const mf::Manifest& m, const std::string& secret, bool sign_on_host,
                    Profile expect) {
        DeviceImageOptions o{kImei};
        o.sign_on_host = sign_on_host;
        const auto img = device_image(m, m.devices[0], secret, o);
        ASSERT_EQ(img.profile, expect);
        const std::string hex = to_intel_hex(img.bytes.data(), img.bytes.size(), kFlashAddress);
        const HexData flashed = from_intel_hex(hex);
        ASSERT_EQ(flashed.address, kFlashAddress);
        std::vector<std::uint8_t> region = flashed.bytes;  // the 4 KB region the firmware reads
        region.resize(kFlashRegion, kErased);

        cloud::ProfileStore store;
        const auto parsed = cloud::load_image(ByteView(region.data(), region.size()), store);
        ASSERT_TRUE(parsed.has_value()) << describe(parsed.error());

        test::SimProcess::Options so;
        so.exe = BC28SIM_EXE;
        so.open_pty = false;
        test::SimProcess sim(so);
        auto observer = cloud_->observer();
        const std::string topic = "img/" + m.devices[0].device_name + "/up";
        ASSERT_TRUE(observer->subscribe(topic, 1));

        host::BlockingClient client(sim.pty_path());
        qmt::Backoff b;
        b.initial = 100;
        b.max = 400;
        client.set_backoff(b);
        std::string trace;
        client.set_trace(
            [&](at::TraceKind, std::string_view t) { trace += std::string(t) + "\n"; });
        ASSERT_TRUE(client.start(store.session).has_value());
        const auto online = client.wait_online(15s);
        ASSERT_TRUE(online.has_value()) << host::describe(online.error()) << "\n"
                                        << trace << sim.log();
        const std::string payload =
            "{\"from\":\"image\",\"profile\":" + std::to_string(static_cast<int>(expect)) + "}";
        const auto rep = client.publish(topic, ByteView(payload), {1}, 10s);
        ASSERT_TRUE(rep.has_value()) << host::describe(rep.error());
        const auto msg = observer->wait_message(topic, 10s);
        ASSERT_TRUE(msg.has_value()) << "the observer got nothing";
        EXPECT_EQ(msg->payload, payload);
        EXPECT_TRUE(client.stop(10s).has_value());
        for (const std::string& s : {kAliSecret, kPsk, kSuiteSecret})
            EXPECT_EQ(trace.find(s), std::string::npos) << "a secret in the trace:\n" << trace;
    }

    static inline test::CloudStandin* cloud_ = nullptr;
    static inline std::string start_error_;
};

TEST_F(ImageE2E, AliyunAliauthImage) {
    round_trip(manifest(mf::Cloud::aliyun, "a1ImgPK0001", "img-ali"), kAliSecret, false,
               Profile::aliyun_aliauth);
    EXPECT_TRUE(cloud_->wait_broker_log("accepted aliyun client 'a1ImgPK0001.img-ali|"))
        << cloud_->broker_log();
}

TEST_F(ImageE2E, AliyunSignedOnTheHostIsAPresignedImage) {
    round_trip(manifest(mf::Cloud::aliyun, "a1ImgPK0001", "img-ali"), kAliSecret, true,
               Profile::presigned);
}

TEST_F(ImageE2E, TencentSignedOnTheHostImage) {
    round_trip(manifest(mf::Cloud::tencent, "IMGPID0001", "img-ten"), cloud::base64_encode(kPsk),
               false, Profile::tencent_signed);
}

TEST_F(ImageE2E, TencentTokenImage) {
    round_trip(manifest(mf::Cloud::tencent_token, "imgsuite", "img-suite"), kSuiteSecret, false,
               Profile::tencent_token);
    EXPECT_TRUE(cloud_->wait_token_log("POST /token imgsuite/img-suite -> 0"))
        << cloud_->token_log();
}

TEST_F(ImageE2E, WrongSecretInTheImageIsRefusedByTheCloud) {
    const auto m = manifest(mf::Cloud::aliyun, "a1ImgPK0001", "img-ali");
    const auto img = device_image(m, m.devices[0], "NotTheSecret-1", {kImei});
    cloud::ProfileStore store;
    ASSERT_TRUE(cloud::load_image(ByteView(img.bytes.data(), img.bytes.size()), store));
    test::SimProcess::Options so;
    so.exe = BC28SIM_EXE;
    so.open_pty = false;
    test::SimProcess sim(so);
    host::BlockingClient client(sim.pty_path());
    ASSERT_TRUE(client.start(store.session).has_value());
    EXPECT_TRUE(client.run_until(
        [&] { return client.last_problem().find("CONNACK return code 5") != std::string::npos; },
        10s))
        << client.last_problem();
    const auto r = client.wait_online(1ms);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(host::describe(r.error()).find("CONNACK return code 5"), std::string::npos)
        << host::describe(r.error());
}

}  // namespace
}  // namespace qmtkit::image
