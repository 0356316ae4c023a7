// `qmtkit pub` / `qmtkit sub` command lines that are wrong: one line in mosquitto_pub's words
// naming the option (and the allowed range), exit status 1, and nothing sent to the module —
// everything is checked before the port is opened (issue 9, defects 8, 10, 11 and 14).
#include <fstream>

#include "fixture.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

struct Case {
    std::vector<std::string> args;  // after `qmtkit`
    std::string err;                // the whole of stderr
};

class CliUsage : public ::testing::Test {
  protected:
    void SetUp() override { dir = test::make_temp_dir("qmtkit-cli-usage-"); }
    void TearDown() override { test::remove_tree(dir); }

    // qmtkit <tool> --device DEVICE -h 127.0.0.1 <more>
    static std::vector<std::string> with(const std::string& tool, const std::string& device,
                                         std::vector<std::string> more) {
        std::vector<std::string> v{tool, "--device", device, "-h", "127.0.0.1"};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    }
    RunResult run(std::vector<std::string> args) const {
        args.insert(args.begin(), QMTKIT_EXE);
        return run_process(args, 20s, dir);
    }
    void expect_usage_error(const Case& c) const {
        std::string cmd;
        for (const auto& a : c.args) cmd += a + " ";
        const auto r = run(c.args);
        EXPECT_EQ(r.status, 1) << cmd;
        EXPECT_EQ(r.err, c.err) << cmd;
        EXPECT_TRUE(r.out.empty()) << cmd;
    }

    std::string dir;
};

// Defects 8 and 10: out-of-range and malformed numbers name the option and the range in plain
// words (no 309-digit bound, no "not in range" for a word); huge, NaN and infinite timeouts are
// refused instead of acting as zero; an unknown option is "Unknown option", as mosquitto_pub.
TEST_F(CliUsage, ValuesOutOfRangeNameTheOptionAndTheRange) {
    const auto pub = [](std::vector<std::string> more) {
        auto v = with("pub", "/dev/null", {"-t", "t", "-m", "m"});
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    const auto sub = [](std::vector<std::string> more) {
        auto v = with("sub", "/dev/null", {"-t", "t"});
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    const std::string timeout_range = " (--timeout takes 0.001 to 1000000 seconds).\n";
    std::vector<Case> cases;
    for (const char* t : {"1e10", "9.3e9", "1e18", "nan", "inf", "-1", "0", "abc", "1e-9"})
        cases.push_back({pub({"--timeout", t}),
                         "Error: Invalid timeout given: " + std::string(t) + timeout_range});
    cases.push_back(
        {sub({"--timeout", "inf"}), "Error: Invalid timeout given: inf" + timeout_range});
    for (const char* q : {"abc", "3", "-1", "1.5"}) {
        const std::string line =
            "Error: Invalid QoS given: " + std::string(q) + " (-q takes 0, 1 or 2).\n";
        cases.push_back({pub({"-q", q}), line});
        cases.push_back({sub({"-q", q}), line});
    }
    cases.push_back({pub({"-p", "0"}), "Error: Invalid port given: 0 (-p takes 1 to 65535).\n"});
    cases.push_back(
        {pub({"-p", "65536"}), "Error: Invalid port given: 65536 (-p takes 1 to 65535).\n"});
    cases.push_back({pub({"-k", "3601"}),
                     "Error: Invalid keepalive given: 3601 (-k takes 0 to 3600 seconds).\n"});
    cases.push_back(
        {pub({"-V", "5"}), "Error: Invalid protocol version given: 5 (-V takes 31 or 311).\n"});
    cases.push_back({pub({"--baud", "fast"}),
                     "Error: Invalid baud rate given: fast (--baud takes 50 to 4000000).\n"});
    cases.push_back({pub({"--flow", "xon"}),
                     "Error: Invalid flow control given: xon (--flow takes none or hardware).\n"});
    cases.push_back(
        {pub({"--pkt-timeout", "61"}),
         "Error: Invalid packet timeout given: 61 (--pkt-timeout takes 1 to 60 seconds).\n"});
    cases.push_back({pub({"--retry", "11"}),
                     "Error: Invalid retry count given: 11 (--retry takes 0 to 10).\n"});
    cases.push_back({pub({"--repeat", "0"}),
                     "Error: Invalid repeat count given: 0 (--repeat takes 1 to 1000000).\n"});
    cases.push_back(
        {pub({"--form", "long"}),
         "Error: Invalid payload form given: long (--form takes auto, fixed or variable).\n"});
    cases.push_back({sub({"-W", "1e10"}),
                     "Error: Invalid wait given: 1e10 (-W takes 0.001 to 1000000 seconds).\n"});
    cases.push_back(
        {sub({"-C", "0"}), "Error: Invalid count given: 0 (-C takes 1 to 4294967295).\n"});
    cases.push_back({pub({"-x", "5"}), "Error: Unknown option '-x'.\n"});
    cases.push_back({sub({"--no-such=3"}), "Error: Unknown option '--no-such'.\n"});
    cases.push_back({pub({"extra"}), "Error: Unexpected argument 'extra'.\n"});
    cases.push_back({pub({"--timeout"}), "Error: --timeout needs a value.\n"});
    for (const auto& c : cases) expect_usage_error(c);
}

// Defect 14: usage errors exit 1 as in mosquitto_pub (not CLI11's 105, 106, 108, 109, 114), with
// one line.
TEST_F(CliUsage, UsageErrorsExitOneWithOneLine) {
    const std::vector<Case> cases = {
        {{"pub", "-h", "h", "-t", "t", "-m", "m"}, "Error: --device is required.\n"},
        {{"pub", "--device", "/dev/null", "-t", "t", "-m", "m"}, "Error: -h is required.\n"},
        {with("pub", "/dev/null", {"-m", "m"}), "Error: -t is required.\n"},
        {with("sub", "/dev/null", {}), "Error: -t is required.\n"},
        {with("pub", "/dev/null", {"-t", "t"}),
         "Error: Nothing to publish: give -m, -f, -l, -s or -n.\n"},
        {with("pub", "/dev/null", {"-t", "t", "-m", "m", "-f", "x"}),
         "Error: Give only one of -m, -f, -l, -s and -n.\n"},
        {with("pub", "/dev/null", {"-t", "t", "-m", "m", "-q", "1", "-q", "2"}),
         "Error: --qos given more than once.\n"},
        {{},
         "Error: A subcommand is required: pub, sub, sign, verify, image, ledger or provision.\n"},
        {{"nosuch"},
         "Error: Unknown subcommand 'nosuch' (pub, sub, sign, verify, image, ledger or "
         "provision).\n"},
    };
    for (const auto& c : cases) expect_usage_error(c);
}

// Defects 11 and 14: a field the module cannot take is named (not "a string holds a quote" for
// any of -i, -u, -P; not a client id too long for the client to hold at 256 bytes), and found
// before the port is touched: the emulator hears nothing at all (no AT, no AT+QMTCLOSE).
// Client ids of 1..255 bytes are valid (docs/host-and-cli.md, docs/emulator.md).
TEST_F(CliUsage, FieldsTheModuleCannotTakeAreNamedBeforeThePortIsOpened) {
    Sim sim;
    const std::string q = "\"";
    const std::vector<Case> cases = {
        {with("pub", sim.pty(), {"-t", "a/+", "-m", "m"}),
         "Error: Invalid publish topic 'a/+', does it contain '+' or '#'?\n"},
        {with("pub", sim.pty(), {"-t", "a/#", "-l"}),
         "Error: Invalid publish topic 'a/#', does it contain '+' or '#'?\n"},
        {with("sub", sim.pty(), {"-t", "ok", "-t", "a/#/b"}),
         "Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?\n"},
        {with("pub", sim.pty(), {"-t", std::string(256, 't'), "-m", "m"}),
         "Error: Invalid topic (-t): 256 bytes; at most 255.\n"},
        {with("pub", sim.pty(), {"-t", "t" + q, "-m", "m"}),
         "Error: Invalid topic (-t): it holds a double quote, which an AT command line cannot "
         "carry.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-i", "a" + q + "b"}),
         "Error: Invalid client id (-i): it holds a double quote, which an AT command line "
         "cannot carry.\n"},
        {with("sub", sim.pty(), {"-t", "t", "-u", "a" + q + "b"}),
         "Error: Invalid username (-u): it holds a double quote, which an AT command line cannot "
         "carry.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-u", "user", "-P", "p" + q + "w"}),
         "Error: Invalid password (-P): it holds a double quote, which an AT command line cannot "
         "carry.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-u", "user", "-P", "p\nw"}),
         "Error: Invalid password (-P): it holds a line feed, which an AT command line cannot "
         "carry.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-i", std::string(256, 'i')}),
         "Error: Invalid client id (-i): 256 bytes; at most 255.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-i", ""}),
         "Error: Invalid client id (-i): it is empty.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-u", std::string(256, 'u')}),
         "Error: Invalid username (-u): 256 bytes; at most 255.\n"},
        {{"pub", "--device", sim.pty(), "-h", std::string(101, 'h'), "-t", "t", "-m", "m"},
         "Error: Invalid host (-h): 101 bytes; at most 100.\n"},
        {with("pub", sim.pty(), {"-t", "t", "-m", "m", "-P", "pw"}),
         "Error: A password (-P) needs a username (-u).\n"},
    };
    for (const auto& c : cases) expect_usage_error(c);
    const std::string log = sim.log();
    EXPECT_EQ(log.find("] cmd "), std::string::npos) << "the module was sent commands:\n" << log;
}

// The limit of the refusal above is the limit of the whole chain: a 255-byte client id goes
// through the CLI, the SDK and the emulator to the broker.
TEST_F(CliUsage, ClientIdOf255BytesIsAccepted) {
    test::Broker broker;
    broker.start();
    Sim sim;
    auto r =
        run({"pub", "--device", sim.pty(), "-h", broker.host(), "-p", std::to_string(broker.port()),
             "-t", "t", "-m", "m", "-q", "1", "-i", std::string(255, 'i'), "--timeout", "10"});
    EXPECT_EQ(r.status, 0) << r.err << sim.log();
    EXPECT_EQ(r.err, "");
}

// Defect 14: `pub` has -d / --debug (link states on stderr, never credentials), like `sub`.
TEST_F(CliUsage, PubHasDebug) {
    test::Broker broker;
    broker.start();
    Sim sim;
    auto r =
        run({"pub", "--device", sim.pty(), "-h", broker.host(), "-p", std::to_string(broker.port()),
             "-t", "t", "-m", "m", "-q", "1", "-u", "user", "-P", "s3cret-pw", "-d"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("qmtkit pub: link online\n"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("s3cret-pw"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace qmtkit::e2e
