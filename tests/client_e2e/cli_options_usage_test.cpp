// The options added for mosquitto users (issue 9: wills, --pw-file / $QMTKIT_PASSWORD, pub -n
// and --quiet, sub -N -F -R -T -E -U, the manifest device options) given wrongly: one line naming
// the option, exit 1, and nothing sent to the module — checked before the port is opened. What
// qmtkit cannot do honestly (-n, -R, %j, widths) is refused by name instead of faked.
#include <fstream>

#include "fixture.hpp"

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;

class CliOptionsUsage : public ::testing::Test {
  protected:
    void SetUp() override { dir = test::make_temp_dir("qmtkit-cli-options-"); }
    void TearDown() override { test::remove_tree(dir); }

    std::string file(const std::string& name, const std::string& content) const {
        const std::string p = dir + "/" + name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    // `qmtkit <args>` with $QMTKIT_PASSWORD unset, or set to `env_password`.
    RunResult run(const std::vector<std::string>& args,
                  const std::optional<std::string>& env_password = std::nullopt) const {
        std::vector<std::string> v{"/usr/bin/env", "-u", "QMTKIT_PASSWORD"};
        if (env_password) v.push_back("QMTKIT_PASSWORD=" + *env_password);
        v.push_back(QMTKIT_EXE);
        v.insert(v.end(), args.begin(), args.end());
        return run_process(v, 20s, dir);
    }
    void expect(const std::vector<std::string>& args, const std::string& err,
                const std::optional<std::string>& env_password = std::nullopt,
                int status = 1) const {
        std::string cmd;
        for (const auto& a : args) cmd += a + " ";
        const auto r = run(args, env_password);
        EXPECT_EQ(r.status, status) << cmd;
        EXPECT_EQ(r.err, err) << cmd;
        EXPECT_TRUE(r.out.empty()) << cmd;
    }

    std::string dir;
};

TEST_F(CliOptionsUsage, WrongNewOptionsAreNamedAndNothingReachesTheModule) {
    Sim sim;
    const auto pub = [&](std::vector<std::string> more) {
        std::vector<std::string> v{"pub", "--device", sim.pty(), "-h", "127.0.0.1",
                                   "-t",  "t",        "-m",      "m"};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    const auto sub = [&](std::vector<std::string> more) {
        std::vector<std::string> v{"sub", "--device", sim.pty(), "-h", "127.0.0.1"};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    const std::string pw = file("pw", "Secret-In-File\n");
    const std::string empty_pw = file("empty", "\n");
    const std::string q = "\"";
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        // Wills.
        {pub({"--will-payload", "bye"}),
         "Error: A will payload (--will-payload) needs a will topic (--will-topic).\n"},
        {pub({"--will-qos", "1"}),
         "Error: A will QoS (--will-qos) needs a will topic (--will-topic).\n"},
        {pub({"--will-retain"}), "Error: --will-retain needs a will topic (--will-topic).\n"},
        {pub({"--will-topic", "w/+"}),
         "Error: Invalid will topic 'w/+', does it contain '+' or '#'?\n"},
        {pub({"--will-topic", std::string(256, 'w')}),
         "Error: Invalid will topic (--will-topic): 256 bytes; at most 255.\n"},
        {pub({"--will-topic", "w", "--will-payload", std::string(256, 'p')}),
         "Error: Invalid will payload (--will-payload): 256 bytes; at most 255.\n"},
        {pub({"--will-topic", "w", "--will-payload", "a" + q}),
         "Error: Invalid will payload (--will-payload): it holds a double quote, which an AT "
         "command line cannot carry.\n"},
        {sub({"-t", "t", "--will-topic", "w", "--will-qos", "3"}),
         "Error: Invalid will QoS given: 3 (--will-qos takes 0, 1 or 2).\n"},
        // Passwords: one source; never repeated.
        {pub({"--pw-file", pw}), "Error: A password (--pw-file) needs a username (-u).\n"},
        {pub({"-u", "u", "--pw-file", empty_pw}),
         "Error: Invalid password (--pw-file): it is empty.\n"},
        {pub({"-u", "u", "-P", "Secret-On-Line", "--pw-file", pw}),
         "Error: Give the password one way only: -P and --pw-file are both given.\n"},
        // Pub: -n is a message source of its own, in the variable-length form only.
        {pub({"-n"}), "Error: Give only one of -m, -f, -l, -s and -n.\n"},
        // Sub.
        {sub({"-t", "t", "-R"}),
         "Error: -R is not supported: +QMTRECV carries no retain flag, so a retained message "
         "cannot be told from a new one.\n"},
        {sub({"-t", "t", "--retained-only"}), "Error: Unknown option '--retained-only'.\n"},
        {sub({"-t", "t", "-F", "%z"}), "Error: Invalid format (-F): unknown specifier '%z'.\n"},
        {sub({"-t", "t", "-F", "50%"}),
         "Error: Invalid format (-F): '%' at its end is incomplete.\n"},
        {sub({"-t", "t", "-F", "\\q"}), "Error: Invalid format (-F): unknown escape '\\q'.\n"},
        {sub({"-t", "t", "-F", "%-10t"}),
         "Error: Invalid format (-F): field widths, padding and precision (%-10t, %05l, %.3p) "
         "are not supported.\n"},
        {sub({"-t", "t", "-F", "%j"}), "Error: Invalid format (-F): %j (JSON) is not supported.\n"},
        {sub({"-t", "t", "-F", "%P"}),
         "Error: Invalid format (-F): %P is an MQTT 5 property; the module speaks MQTT 3.1 / "
         "3.1.1.\n"},
        {sub({"-t", "t", "-T", "a/#/b"}),
         "Error: Invalid filter topic 'a/#/b', are all '+' and '#' wildcards correct?\n"},
        {sub({"-U", "a/#/b"}),
         "Error: Invalid unsubscribe topic 'a/#/b', are all '+' and '#' wildcards correct?\n"},
        {sub({"-t", "t", "-U", "u"}),
         "Error: Give -t or -U, not both: -U unsubscribes, then exits.\n"},
        // The manifest device options.
        {sub({"-t", "t", "--device-name", "d"}), "Error: --device-name needs --manifest.\n"},
        {sub({"-t", "t", "--sign-on-host"}), "Error: --sign-on-host needs --manifest.\n"},
        {sub({"-t", "t", "--broker", "b:1"}), "Error: --broker needs --manifest.\n"},
        {sub({"-t", "t", "--manifest", "m.json", "--device-name", "d"}),
         "Error: -h cannot be used with --manifest: the broker is the device's (override it with "
         "--broker HOST:PORT).\n"},
    };
    for (const auto& [args, err] : cases) expect(args, err);
    // A password file that cannot be read is no input (66), not a usage error.
    expect(pub({"-u", "u", "--pw-file", dir + "/missing"}),
           "qmtkit pub: cannot read the password file (--pw-file) " + dir +
               "/missing: No such file or directory\n",
           std::nullopt, 66);
    // Two sources, one of them the environment.
    expect(pub({"-u", "u", "-P", "Secret-On-Line"}),
           "Error: Give the password one way only: -P and $QMTKIT_PASSWORD are both given.\n",
           "Secret-In-Env");
    expect(pub({"-u", "u", "-P", "x", "--pw-file", pw}),
           "Error: Give the password one way only: -P, --pw-file and $QMTKIT_PASSWORD are all "
           "given.\n",
           "Secret-In-Env");
    const std::string log = sim.log();
    EXPECT_EQ(log.find("] cmd "), std::string::npos) << "the module was sent commands:\n" << log;
}

// The manifest device options without -h: which device, and the broker override's form.
TEST_F(CliOptionsUsage, ManifestDeviceOptions) {
    const auto sub = [&](std::vector<std::string> more) {
        std::vector<std::string> v{"sub", "--device",   "/dev/null", "-t",
                                   "t",   "--manifest", "m.json"};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    };
    expect(sub({}), "Error: --manifest needs the device: give --device-name NAME or --imei N.\n");
    expect(sub({"--device-name", "d", "--imei", "490154203237518"}),
           "Error: Give --device-name or --imei, not both.\n");
    expect(sub({"--imei", "49015420323751"}),
           "Error: Invalid IMEI given: 49015420323751 (--imei takes 15 decimal digits).\n");
    for (const std::string b : {"host:", ":1883", "host:0", "host:65536", "[::1", "[::1]x"})
        expect(sub({"--device-name", "d", "--broker", b}),
               "Error: Invalid broker given: " + b +
                   " (--broker takes HOST or HOST:PORT, the port 1 to 65535).\n");
    expect(sub({"--device-name", "d", "-i", "id"}),
           "Error: -i cannot be used with --manifest: the client id is the device's.\n");
    expect(sub({"--device-name", "d", "-u", "u"}),
           "Error: -u cannot be used with --manifest: the credentials are the device's.\n");
    expect(sub({"--device-name", "d"}),
           "Error: $QMTKIT_PASSWORD is set, but --manifest takes the device's credentials: "
           "unset it.\n",
           "x");
}

}  // namespace
}  // namespace qmtkit::e2e
