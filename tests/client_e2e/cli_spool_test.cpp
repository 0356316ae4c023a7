// qmtkit pub -l --spool DIR: every QoS >= 1 line is journaled before it is queued and released when
// acknowledged, so a pub killed with SIGKILL at any moment and started again with the same spool
// delivers what was not yet acknowledged, then goes on with stdin. Checked where it counts: at a
// subscriber on the broker, through bc28-sim.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "cli_child.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

class CliSpool : public CliOnSim {
  protected:
    void SetUp() override {
        CliOnSim::SetUp();
        spool = test::make_temp_dir("qmtkit-spool-");
        peer = std::make_unique<test::MqttClient>(broker.host(), broker.port());
        ASSERT_TRUE(peer->subscribe("spool/t", 1));
    }
    void TearDown() override { test::remove_tree(spool); }

    std::vector<std::string> pub_args(const Sim& sim, std::vector<std::string> more = {},
                                      const std::string& timeout = "60") const {
        std::vector<std::string> v{"-t",      "spool/t", "-q",        "1",    "-l",
                                   "--spool", spool,     "--timeout", timeout};
        v.insert(v.end(), more.begin(), more.end());
        return args("pub", sim, v);
    }
    // Takes every message that has arrived (waiting up to `first` for one); counts them.
    std::size_t collect(std::chrono::milliseconds first) {
        std::size_t n = 0;
        for (auto wait = first;; wait = 0ms) {
            auto m = peer->wait_message("spool/t", wait);
            if (!m) return n;
            ++n;
            ++copies;
            seen.insert(m->payload);
        }
    }

    std::string spool;
    std::unique_ptr<test::MqttClient> peer;
    std::set<std::string> seen;
    std::size_t copies = 0;
};

// 500 lines through 20 SIGKILLs at random moments (during bring-up, with the window full, while
// the spool is being written or compacted), each followed by a new pub on the same spool and the
// same stdin: every line arrives, at least once.
TEST_F(CliSpool, TwentyKillsLoseNoLine) {
    constexpr int kLines = 500, kKills = 20;
    const unsigned seed = std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Sim sim;

    // stdin of every pub: a pipe the test holds both ends of, so what one pub leaves in it the
    // next one reads. The lines come in bursts, as a logger writes them.
    int in[2];
    ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
    std::atomic<bool> writing{true};
    std::thread writer([&, burst_seed = rng()] {
        std::mt19937 r(burst_seed);
        for (int i = 1; i <= kLines;) {
            std::string burst;
            for (int k = std::uniform_int_distribution<int>(1, 5)(r); k > 0 && i <= kLines; --k)
                burst += "n=" + std::to_string(i++) + "\n";
            for (std::size_t off = 0; off < burst.size();) {
                const ssize_t w = ::write(in[1], burst.data() + off, burst.size() - off);
                if (w > 0) off += static_cast<std::size_t>(w);
            }
            std::this_thread::sleep_for(  // the input's own pace, not synchronisation
                std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 100)(r)));
        }
        writing = false;
    });

    for (int kill = 0; kill < kKills; ++kill) {
        CliChild p(pub_args(sim), false, "", in[0]);
        // Half the kills at a random moment after the start (bring-up included), half once a
        // random number of new messages has arrived (the window full, the spool busy).
        const bool all_in = !writing && static_cast<int>(seen.size()) == kLines;
        if (kill % 2 == 0 || all_in) {
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 1200)(rng)));
        } else {
            const std::size_t target =
                copies + std::uniform_int_distribution<std::size_t>(1, 40)(rng);
            while (copies < target && collect(5s) > 0) {
            }
        }
        p.signal(SIGKILL);
        ASSERT_EQ(p.wait(10s), 128 + SIGKILL) << p.err();

        collect(0ms);
    }
    writer.join();
    ::close(in[1]);  // the input ends: the last pub delivers what is left and exits
    CliChild last(pub_args(sim), false, "", in[0]);
    const auto status = last.wait(120s);
    ::close(in[0]);
    EXPECT_EQ(status, 0) << last.err();
    while (static_cast<int>(seen.size()) < kLines && collect(10s) > 0) {
    }
    std::vector<int> missing;
    for (int i = 1; i <= kLines; ++i)
        if (seen.count("n=" + std::to_string(i)) == 0) missing.push_back(i);
    EXPECT_TRUE(missing.empty()) << missing.size() << " line(s) lost, first n=" << missing.front();
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kLines));
    RecordProperty("copies", static_cast<int>(copies));  // at least once: duplicates allowed
    std::cout << "delivered " << seen.size() << " distinct lines in " << copies << " messages\n";
}

// What the spool holds outlives the run: a pub that gives up (the broker refuses it until
// --timeout) leaves its unacknowledged messages in the spool, and a pub started later with
// nothing on stdin delivers them first.
TEST_F(CliSpool, AnotherRunDeliversWhatTheSpoolHolds) {
    {
        Sim sim({"--fault", "refuse-conn 3"});  // CONNECT refused (server unavailable): retried
        CliChild p(pub_args(sim, {}, "2"), true);
        ASSERT_TRUE(p.write_input("kept-1\nkept-2\nkept-3\n"));
        p.close_input();
        EXPECT_EQ(p.wait(30s), 1) << p.err();
        EXPECT_NE(p.err().find("timed out after 0 of 3 message(s) acknowledged"), std::string::npos)
            << p.err();
    }
    Sim sim;
    CliChild p(pub_args(sim), false, "/dev/null");
    EXPECT_EQ(p.wait(60s), 0) << p.err();
    while (seen.size() < 3 && collect(10s) > 0) {
    }
    EXPECT_EQ(seen, (std::set<std::string>{"kept-1", "kept-2", "kept-3"}));
    // Delivered and released: a third run has nothing to send.
    CliChild again(pub_args(sim), false, "/dev/null");
    EXPECT_EQ(again.wait(60s), 0) << again.err();
    EXPECT_EQ(collect(1s), 0u);
}

// A full spool is said, and the lines wait (stdin is not read further) until room comes.
TEST_F(CliSpool, FullSpoolIsReportedAndStdinWaits) {
    Sim sim({"--fault", "refuse-conn 3"});
    CliChild p(pub_args(sim, {"--spool-max", "4096"}, "4"), true);
    std::string lines;
    for (int i = 0; i < 100; ++i) lines += std::string(100, 'a' + i % 26) + "\n";
    ASSERT_TRUE(p.write_input(lines));
    EXPECT_TRUE(p.stderr_has("is full", 20s)) << p.err();
    p.close_input();
    EXPECT_EQ(p.wait(30s), 1) << p.err();
    EXPECT_NE(p.err().find("spool " + spool), std::string::npos) << p.err();
}

// The spool's own problems are usage errors, said before the port is opened: no -l, QoS 0,
// a spool another pub is using.
TEST_F(CliSpool, BadSpoolUse) {
    Sim sim;
    CliChild q0(args("pub", sim, {"-t", "x", "-q", "0", "-l", "--spool", spool}), false,
                "/dev/null");
    EXPECT_EQ(q0.wait(10s), 1);
    EXPECT_NE(q0.err().find("--spool"), std::string::npos) << q0.err();
    CliChild m(args("pub", sim, {"-t", "x", "-q", "1", "-m", "hi", "--spool", spool}), false,
               "/dev/null");
    EXPECT_EQ(m.wait(10s), 1);
    EXPECT_NE(m.err().find("--spool"), std::string::npos) << m.err();
    CliChild holder(pub_args(sim, {"-d"}), true);  // holds the spool while its stdin is open
    ASSERT_TRUE(holder.stderr_has("link online", 20s)) << holder.err();
    CliChild second(pub_args(sim), false, "/dev/null");
    EXPECT_EQ(second.wait(10s), 1);
    EXPECT_NE(second.err().find(spool), std::string::npos) << second.err();
    EXPECT_NE(second.err().find("in use"), std::string::npos) << second.err();
}

}  // namespace
}  // namespace qmtkit::e2e
