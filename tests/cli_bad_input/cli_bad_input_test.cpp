// The catalogue of refused input (issue 13, "Bad input"): every malformed option value, unusable
// file, manifest or device given to the real `qmtkit` binary gets exactly one line on stderr
// naming the option or the field, the exit status of its category (docs/host-and-cli.md,
// "Refused input"), no secret in the output, and — for a row with a device — not one byte on
// the device.
//
// The device is a pseudo-terminal this test owns (openpty): qmtkit is given the slave's name and
// the test reads the master. To know that nothing was written without waiting for anything, the
// test writes a marker into the slave after qmtkit exited and reads the master up to it: the pty
// keeps order, so whatever qmtkit wrote comes before the marker. A FIFO device is read the same
// way (the test holds its read end and writes the marker after the run).
//
// QMTKIT_CATALOGUE_OUT=FILE writes the catalogue as the Markdown rows of the docs' table.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

// Rows leave the fields after `names` at their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

using Clock = std::chrono::steady_clock;

// Every row must end by itself; this bound only stops a hang from blocking the suite (a row that
// reaches it fails as a hang).
constexpr auto kHangBound = std::chrono::seconds(30);

const std::string kSecret = "S3cr3t-never-shown";  // every password and device secret
const std::string kMark = "<<qmtkit-bad-input-mark>>";

enum class Stdin { null, directory, closed, big, empty, zero };

struct Row {
    std::string what;               // the case, for the table and for failures
    std::vector<std::string> args;  // after `qmtkit`; "{dev}" is the device, "{dir}" the temp dir
    int status;                     // the exit status
    std::string names;              // the line names the field: this substring is in it
    std::string device = "pty";     // pty: the owned pty as {dev}; fifo: a FIFO the test reads
    Stdin in = Stdin::null;
    std::vector<std::pair<std::string, std::string>> env;
    bool nobody = false;  // run qmtkit as user nobody (the permission row, when the test is root)
};

struct Outcome {
    int status = -1;
    bool hung = false;
    std::string out, err;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// Runs qmtkit with `args` (as user nobody when `nobody`), stdout and stderr to files (nothing to
// drain while it runs), and waits for its exit on a pidfd, up to kHangBound.
Outcome run_qmtkit(const std::vector<std::string>& args, const std::string& dir, Stdin in,
                   const std::vector<std::pair<std::string, std::string>>& env, bool nobody) {
    const std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
    Outcome o;
    int stdin_fd = -1;
    switch (in) {
        case Stdin::null:
            stdin_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            break;
        case Stdin::directory:
            stdin_fd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
            break;
        case Stdin::closed:
            break;
        case Stdin::zero:
            stdin_fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
            break;
        case Stdin::big:
            spit(dir + "/big.stdin", std::string(2000, 'b'));
            stdin_fd = ::open((dir + "/big.stdin").c_str(), O_RDONLY | O_CLOEXEC);
            break;
        case Stdin::empty:
            spit(dir + "/empty.stdin", "");
            stdin_fd = ::open((dir + "/empty.stdin").c_str(), O_RDONLY | O_CLOEXEC);
            break;
    }
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    std::vector<std::string> env_text;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string v = *e;
        if (v.rfind("QMTKIT_PASSWORD=", 0) == 0) continue;  // only a row's own
        env_text.push_back(v);
    }
    for (const auto& [k, v] : env) env_text.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& v : env_text) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_text{QMTKIT_EXE};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Only async-signal-safe calls from here to exec.
        if (stdin_fd >= 0) {
            ::dup2(stdin_fd, 0);
        } else {
            ::close(0);
        }
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        if (nobody &&
            (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
            ::_exit(125);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    if (stdin_fd >= 0) ::close(stdin_fd);
    ::close(out_fd);
    ::close(err_fd);
    if (pid < 0) {
        o.err = "fork failed";
        return o;
    }
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        const int ms = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(kHangBound).count());
        int n = 0;
        do {
            n = ::poll(&p, 1, ms);
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            ::kill(pid, SIGKILL);
            o.hung = true;
        }
        ::close(pidfd);
    }
    int ws = 0;
    while (::waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    o.out = slurp(out_path);
    o.err = slurp(err_path);
    return o;
}

// A device the test reads: whatever was written to it before mark_and_drain().
class OwnedDevice {
  public:
    virtual ~OwnedDevice() = default;
    virtual const std::string& path() const = 0;
    // Writes the marker behind whatever qmtkit wrote and returns what came before it.
    virtual std::string drain() = 0;
};

// Reads `fd` (blocking, with poll's safety bound) until `kMark` arrives; returns what preceded it.
std::string read_to_mark(int fd) {
    std::string got;
    const auto deadline = Clock::now() + kHangBound;
    while (got.find(kMark) == std::string::npos && Clock::now() < deadline) {
        char b[4096];
        const ssize_t n = ::read(fd, b, sizeof b);
        if (n > 0) got.append(b, static_cast<std::size_t>(n));
        if (n == 0) break;
        if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    const auto at = got.find(kMark);
    return at == std::string::npos ? "<marker lost> " + got : got.substr(0, at);
}

class Pty final : public OwnedDevice {
  public:
    Pty() {
        char name[256];
        if (::openpty(&master_, &slave_, name, nullptr, nullptr) != 0)
            throw std::runtime_error("openpty failed");
        path_ = name;
        termios t{};
        ::tcgetattr(slave_, &t);
        ::cfmakeraw(&t);
        ::tcsetattr(slave_, TCSANOW, &t);
    }
    ~Pty() override {
        ::close(slave_);
        ::close(master_);
    }
    const std::string& path() const override { return path_; }
    std::string drain() override {
        // qmtkit may have left the slave in any mode: raw again, so the marker passes unchanged.
        termios t{};
        ::tcgetattr(slave_, &t);
        ::cfmakeraw(&t);
        ::tcsetattr(slave_, TCSANOW, &t);
        if (::write(slave_, kMark.data(), kMark.size()) != static_cast<ssize_t>(kMark.size()))
            return "<marker not written>";
        return read_to_mark(master_);
    }

  private:
    int master_ = -1, slave_ = -1;
    std::string path_;
};

class Fifo final : public OwnedDevice {
  public:
    explicit Fifo(const std::string& path) : path_(path) {
        if (::mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
        // The test holds the read end; nobody writes while qmtkit runs (the write end is opened
        // for the marker only, after the run: with a reader there, that open does not wait).
        read_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        const int fl = ::fcntl(read_, F_GETFL);
        ::fcntl(read_, F_SETFL, fl & ~O_NONBLOCK);
    }
    ~Fifo() override {
        ::close(read_);
        if (write_ >= 0) ::close(write_);
        ::unlink(path_.c_str());
    }
    const std::string& path() const override { return path_; }
    std::string drain() override {
        if (write_ < 0) write_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
        if (::write(write_, kMark.data(), kMark.size()) != static_cast<ssize_t>(kMark.size()))
            return "<marker not written>";
        return read_to_mark(read_);
    }

  private:
    std::string path_;
    int read_ = -1, write_ = -1;
};

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

std::string make_dir() {
    char tmpl[] = "/tmp/qmtkit-bad-input-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    if (d == nullptr) throw std::runtime_error("mkdtemp failed");
    return d;
}

class CliBadInput : public ::testing::Test {
  protected:
    void SetUp() override {
        dir = make_dir();
        spit(dir + "/empty.bin", "");
        spit(dir + "/big.bin", std::string(2000, 'x'));
        spit(dir + "/regular", "not a device\n");
        spit(dir + "/m.json", R"({
  "cloud": "aliyun",
  "region": "cn-shanghai",
  "secure_mode": 3,
  "devices": [
    {"product_key": "a1demoPK001", "device_name": "meter-0001",
     "device_secret": ")" + kSecret +
                                  R"(", "imei": "490154203237518"}
  ]
}
)");
        spit(dir + "/bad-json.json",
             "{\n  \"cloud\": \"aliyun\",\n  \"devices\": [\n    {\"device_secret\": \"" + kSecret +
                 "\",}\n  ]\n}\n");
        spit(dir + "/schema.json", "{\n  \"cloud\": \"aliyun\",\n  \"devices\": []\n}\n");
        spit(dir + "/no-secret-file.json", R"({
  "cloud": "aliyun",
  "region": "cn-shanghai",
  "secure_mode": 3,
  "devices": [
    {"product_key": "a1demoPK001", "device_name": "meter-0001",
     "device_secret_file": "missing.secret"}
  ]
}
)");
        ::mkdir((dir + "/subdir").c_str(), 0700);
        // A UNIX socket as a device.
        sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", dir.c_str());
        ::bind(sock, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    void TearDown() override {
        ::close(sock);
        const std::string cmd = "rm -rf '" + dir + "'";
        if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << cmd;
    }

    std::string dir;
    int sock = -1;
};

// qmtkit pub --device {dev} -h 127.0.0.1 -t t -m m, then `more` (appended: CLI11 takes the last
// one of a repeated option only when allowed, so a row changes what it needs by adding)
std::vector<std::string> pub(std::vector<std::string> more, bool with_message = true) {
    std::vector<std::string> v{"pub", "--device", "{dev}", "-h", "127.0.0.1", "-t", "t"};
    if (with_message) {
        v.push_back("-m");
        v.push_back("m");
    }
    v.insert(v.end(), more.begin(), more.end());
    return v;
}
std::vector<std::string> sub(std::vector<std::string> more) {
    std::vector<std::string> v{"sub", "--device", "{dev}", "-h", "127.0.0.1"};
    v.insert(v.end(), more.begin(), more.end());
    return v;
}
std::vector<std::string> pub_bare(std::vector<std::string> more) {
    std::vector<std::string> v{"pub", "--device", "{dev}"};
    v.insert(v.end(), more.begin(), more.end());
    return v;
}

std::vector<Row> catalogue() {
    const std::string bad_utf8 = "a\xff";
    const std::string overlong = "a\xc0\xaf";  // '/' encoded in two bytes
    const std::string q = "\"";
    constexpr int usage = 1, data = 2, no_input = 66, no_device = 74;
    std::vector<Row> r = {
        // ---- numbers
        {"QoS not a number", pub({"-q", "abc"}), usage, "(-q takes 0, 1 or 2)"},
        {"QoS out of range", pub({"-q", "3"}), usage, "(-q takes 0, 1 or 2)"},
        {"QoS negative", pub({"-q", "-1"}), usage, "(-q takes 0, 1 or 2)"},
        {"QoS empty", pub({"-q", ""}), usage, "(-q takes 0, 1 or 2)"},
        {"port overflow", pub({"-p", "99999999999999999999"}), usage, "(-p takes 1 to 65535)"},
        {"port 0", pub({"-p", "0"}), usage, "(-p takes 1 to 65535)"},
        {"port empty", pub({"-p", ""}), usage, "(-p takes 1 to 65535)"},
        {"port with a sign", pub({"-p", "+1883"}), usage, "(-p takes 1 to 65535)"},
        {"baud negative", pub({"--baud", "-9600"}), usage, "--baud takes 50 to 4000000"},
        {"baud overflow", pub({"--baud", "18446744073709551616"}), usage, "--baud"},
        {"keepalive out of range", pub({"-k", "3601"}), usage, "-k takes 0 to 3600"},
        {"packet timeout 0", pub({"--pkt-timeout", "0"}), usage, "--pkt-timeout"},
        {"retry count too high", pub({"--retry", "11"}), usage, "--retry"},
        {"timeout NaN", pub({"--timeout", "nan"}), usage, "--timeout takes 0.001"},
        {"timeout huge", pub({"--timeout", "1e400"}), usage, "--timeout takes 0.001"},
        {"timeout empty", pub({"--timeout", ""}), usage, "--timeout takes 0.001"},
        {"repeat 0", pub({"--repeat", "0"}), usage, "--repeat takes 1 to 1000000"},
        {"repeat overflow", pub({"--repeat", "99999999999999999999"}), usage, "--repeat"},
        {"sub count 0", sub({"-t", "t", "-C", "0"}), usage, "-C takes 1 to 4294967295"},
        {"sub count overflow", sub({"-t", "t", "-C", "4294967296"}), usage, "-C takes"},
        {"sub wait negative", sub({"-t", "t", "-W", "-1"}), usage, "-W takes 0.001"},
        {"spool size too small",
         pub({"-l", "-q", "1", "--spool", "{dir}/spool", "--spool-max", "1K"}, false), usage,
         "--spool-max takes 4096"},
        // ---- choices
        {"protocol version", pub({"-V", "5"}), usage, "-V takes 31 or 311"},
        {"flow control", pub({"--flow", "xon"}), usage, "--flow takes none or hardware"},
        {"payload form", pub({"--form", "long"}), usage, "--form takes auto, fixed or variable"},
        {"will QoS", pub({"--will-topic", "w", "--will-qos", "3"}), usage, "--will-qos"},
        {"sub QoS", sub({"-t", "t", "-q", "7"}), usage, "(-q takes 0, 1 or 2)"},
        {"sub format specifier", sub({"-t", "t", "-F", "%z"}), usage, "(-F)"},
        // ---- topics and filters
        {"publish topic with +", pub({}, false), usage, "'a/+'"},
        {"publish topic with #", pub({}, false), usage, "'a/#'"},
        {"publish topic empty", pub({}, false), usage, "(-t): it is empty"},
        {"publish topic 256 bytes", pub({}, false), usage, "(-t): 256 bytes; at most 255"},
        {"publish topic with a quote", pub({}, false), usage, "(-t): it holds a double quote"},
        {"publish topic not UTF-8", pub({}, false), usage, "(-t): it is not valid UTF-8 (byte 2)"},
        {"publish topic overlong UTF-8", pub({}, false), usage, "(-t): it is not valid UTF-8"},
        {"subscription filter # not last", sub({"-t", "ok", "-t", "a/#/b"}), usage, "'a/#/b'"},
        {"subscription filter empty", sub({"-t", ""}), usage, "(-t): it is empty"},
        {"subscription filter not UTF-8", sub({"-t", bad_utf8}), usage, "(-t): it is not valid"},
        {"subscription filter 256 bytes", sub({"-t", std::string(256, 'f')}), usage,
         "(-t): 256 bytes"},
        {"too many filters",
         sub({"-t", "1", "-t", "2", "-t", "3", "-t", "4", "-t", "5", "-t", "6", "-t", "7", "-t",
              "8", "-t", "9"}),
         usage, "(-t): at most 8"},
        {"filter-out filter invalid", sub({"-t", "t", "-T", "a/#/b"}), usage, "filter topic"},
        {"unsubscribe filter not UTF-8", sub({"-U", bad_utf8}), usage, "(-U)"},
        {"will topic with #", pub({"--will-topic", "w/#"}), usage, "will topic 'w/#'"},
        {"will topic not UTF-8", pub({"--will-topic", bad_utf8}), usage, "(--will-topic)"},
        // ---- strings that go to the module
        {"host 101 bytes",
         {"pub", "--device", "{dev}", "-h", std::string(101, 'h'), "-t", "t", "-m", "m"},
         usage,
         "(-h): 101 bytes"},
        {"client id 256 bytes", pub({"-i", std::string(256, 'i')}), usage, "(-i): 256 bytes"},
        {"client id empty", pub({"-i", ""}), usage, "(-i): it is empty"},
        {"client id not UTF-8", pub({"-i", bad_utf8}), usage, "(-i): it is not valid UTF-8"},
        {"username with a quote", pub({"-u", "a" + q + "b"}), usage, "(-u)"},
        {"password with a quote", pub({"-u", "u", "-P", kSecret + q}), usage, "(-P)"},
        {"password 256 bytes", pub({"-u", "u", "-P", kSecret + std::string(240, 'p')}), usage,
         "(-P): 258 bytes"},
        {"password without username", pub({"-P", kSecret}), usage, "(-P) needs a username"},
        {"password given twice",
         pub({"-u", "u", "-P", kSecret}),
         usage,
         "-P and $QMTKIT_PASSWORD",
         "pty",
         Stdin::null,
         {{"QMTKIT_PASSWORD", kSecret}}},
        {"password variable empty",
         pub({"-u", "u"}),
         usage,
         "($QMTKIT_PASSWORD): it is empty",
         "pty",
         Stdin::null,
         {{"QMTKIT_PASSWORD", ""}}},
        {"message empty", pub({"-m", ""}, false), usage, "(-m): it is empty"},
        {"message 1025 bytes", pub({"-m", std::string(1025, 'm')}, false), usage,
         "(-m): 1025 bytes"},
        // ---- missing, conflicting options
        {"no --device", {"pub", "-h", "h", "-t", "t", "-m", "m"}, usage, "--device is required"},
        {"--device empty",
         {"pub", "--device", "", "-h", "h", "-t", "t", "-m", "m"},
         usage,
         "(--device): it is empty"},
        {"--device malformed tcp://", pub({}), usage, "--device takes"},
        {"no -h", pub_bare({"-t", "t", "-m", "m"}), usage, "-h is required"},
        {"no -t", pub_bare({"-h", "h", "-m", "m"}), usage, "-t is required"},
        {"nothing to publish", pub({}, false), usage, "-m, -f, -l, -s or -n"},
        {"two sources", pub({"-l"}), usage, "one of -m, -f, -l, -s and -n"},
        {"option given twice", pub({"-q", "1", "-q", "2"}), usage, "--qos given more than once"},
        {"option without its value", pub({"--timeout"}), usage, "--timeout needs a value"},
        {"unknown option", pub({"-x"}), usage, "'-x'"},
        {"unexpected argument", pub({"extra"}), usage, "'extra'"},
        {"null message in the fixed form", pub({"-n", "--form", "fixed"}, false), usage, "-n"},
        {"--spool without -l", pub({"-q", "1", "--spool", "{dir}/spool"}), usage, "--spool"},
        {"--spool at QoS 0", pub({"-l", "--spool", "{dir}/spool"}, false), usage, "-q 1"},
        {"will payload without topic", pub({"--will-payload", "x"}), usage, "(--will-payload)"},
        {"sub -t and -U", sub({"-t", "t", "-U", "t"}), usage, "-t or -U"},
        {"sub -R", sub({"-t", "t", "-R"}), usage, "-R"},
        {"--manifest with -h",
         {"pub", "--device", "{dev}", "--manifest", "{dir}/m.json", "--device-name", "meter-0001",
          "-h", "h", "-t", "t", "-m", "m"},
         usage,
         "-h cannot be used with --manifest"},
        {"--manifest without a device",
         pub_bare({"--manifest", "{dir}/m.json", "-t", "t", "-m", "m"}), usage,
         "--device-name NAME or --imei N"},
        {"--imei malformed",
         pub_bare({"--manifest", "{dir}/m.json", "--imei", "12345", "-t", "t", "-m", "m"}), usage,
         "--imei takes 15 decimal digits"},
        {"--device-name without --manifest", pub({"--device-name", "x"}), usage,
         "--device-name needs --manifest"},
        {"--broker malformed",
         pub_bare({"--manifest", "{dir}/m.json", "--device-name", "meter-0001", "--broker",
                   "h:99999", "-t", "t", "-m", "m"}),
         usage, "--broker takes"},
        {"device not in the manifest",
         pub_bare({"--manifest", "{dir}/m.json", "--device-name", "nope", "-t", "t", "-m", "m"}),
         usage, "No device named 'nope'"},
        // ---- data errors
        {"manifest missing",
         pub_bare({"--manifest", "{dir}/nope.json", "--device-name", "x", "-t", "t", "-m", "m"}),
         data, "nope.json: cannot read the manifest"},
        {"manifest is a directory",
         pub_bare({"--manifest", "{dir}/subdir", "--device-name", "x", "-t", "t", "-m", "m"}), data,
         "subdir: cannot read the manifest"},
        {"manifest not JSON",
         pub_bare(
             {"--manifest", "{dir}/bad-json.json", "--device-name", "x", "-t", "t", "-m", "m"}),
         data, "bad-json.json:4:"},
        {"manifest against the schema",
         {"sub", "--device", "{dev}", "--manifest", "{dir}/schema.json", "--device-name", "x", "-t",
          "t"},
         data,
         "schema.json:3:"},
        {"manifest secret file missing",
         pub_bare({"--manifest", "{dir}/no-secret-file.json", "--device-name", "meter-0001", "-t",
                   "t", "-m", "m"}),
         data, "device_secret_file"},
        {"-f file empty", pub({"-f", "{dir}/empty.bin"}, false), data, "empty.bin"},
        {"-f file over 1024 bytes", pub({"-f", "{dir}/big.bin"}, false), data, "big.bin"},
        {"-s stdin over 1024 bytes", pub({"-s"}, false), data, "stdin", "pty", Stdin::big},
        {"-s stdin empty", pub({"-s"}, false), data, "stdin", "pty", Stdin::empty},
        {"-s stdin endless", pub({"-s"}, false), data, "stdin is longer than 1024", "pty",
         Stdin::zero},
        {"-f file endless", pub({"-f", "/dev/zero"}, false), data, "/dev/zero is longer than 1024"},
        {"manifest endless",
         pub_bare({"--manifest", "/dev/zero", "--device-name", "x", "-t", "t", "-m", "m"}), data,
         "/dev/zero: cannot read the manifest: it is larger than 16777216 bytes"},
        // ---- no input
        {"-f file missing", pub({"-f", "{dir}/missing.bin"}, false), no_input, "missing.bin"},
        {"-f file is a directory", pub({"-f", "{dir}/subdir"}, false), no_input, "subdir"},
        {"--pw-file missing", pub({"-u", "u", "--pw-file", "{dir}/nope"}), no_input, "--pw-file"},
        {"--pw-file endless", pub({"-u", "u", "--pw-file", "/dev/zero"}), no_input,
         "(--pw-file) /dev/zero: it is larger than 4096 bytes"},
        {"--pw-file is a directory", sub({"-t", "t", "-u", "u", "--pw-file", "{dir}/subdir"}),
         no_input, "--pw-file"},
        {"-l stdin is a directory", pub({"-l"}, false), no_input, "stdin", "pty", Stdin::directory},
        {"-s stdin is a directory", pub({"-s"}, false), no_input, "stdin", "pty", Stdin::directory},
        {"-l stdin closed", pub({"-l"}, false), no_input, "stdin", "pty", Stdin::closed},
        // ---- the device
        {"device missing", pub({}), no_device, "/nope/ttyUSB0", "/nope/ttyUSB0"},
        {"sub device missing", sub({"-t", "t"}), no_device, "/nope/ttyUSB0", "/nope/ttyUSB0"},
        {"device is a directory", pub({}), no_device, "subdir: it is a directory", "{dir}/subdir"},
        {"device is a regular file", pub({}), no_device, "it is a regular file", "{dir}/regular"},
        {"device is a FIFO nobody writes", pub({}), no_device, "it is a FIFO", "fifo"},
        {"device is a socket", pub({}), no_device, "it is a socket", "{dir}/sock"},
        {"device is not a terminal", pub({}), no_device, "/dev/null: it is not a terminal",
         "/dev/null"},
        {"tcp:// device refuses", pub({}), no_device, "tcp://127.0.0.1:1", "tcp://127.0.0.1:1"},
        {"device missing, secrets given", pub({"-u", "u", "-P", kSecret}), no_device,
         "/nope/ttyUSB0", "/nope/ttyUSB0"},
        // ---- the subcommands without a device
        {"sign: secret file missing",
         {"sign", "aliyun", "--product-key", "pk", "--device-name", "dn", "--device-secret-file",
          "{dir}/nope"},
         no_input,
         "--device-secret-file",
         "none"},
        {"sign: secret file is a directory",
         {"sign", "aliyun", "--product-key", "pk", "--device-name", "dn", "--device-secret-file",
          "{dir}/subdir"},
         no_input,
         "--device-secret-file",
         "none"},
        {"sign: timestamp overflow",
         {"sign", "aliyun", "--product-key", "pk", "--device-name", "dn", "--device-secret",
          kSecret, "--timestamp", "99999999999999999999"},
         usage,
         "--timestamp takes",
         "none"},
        {"verify: CA file missing",
         {"verify", "--manifest", "{dir}/m.json", "--tls", "--cafile", "{dir}/nope.pem", "--broker",
          "127.0.0.1:1"},
         no_input,
         "(--cafile)",
         "none"},
        {"verify: manifest is a directory",
         {"verify", "--manifest", "{dir}/subdir"},
         data,
         "subdir: cannot read the manifest",
         "none"},
        {"image inspect: a directory",
         {"image", "inspect", "{dir}/subdir"},
         data,
         "subdir: Is a directory",
         "none"},
        {"image build: output directory missing",
         {"image", "build", "--manifest", "{dir}/m.json", "--device-name", "meter-0001", "--imei",
          "490154203237518", "--out", "{dir}/nodir/x.bin"},
         1,
         "nodir/x.bin: No such file or directory",
         "none"},
    };
    // The values the rows above leave to here (a row's own -t after pub()'s "-t t" would be a
    // repeated option).
    const auto set_topic = [&](const std::string& what, const std::string& topic) {
        for (auto& row : r) {
            if (row.what != what) continue;
            for (std::size_t i = 0; i + 1 < row.args.size(); ++i)
                if (row.args[i] == "-t") row.args[i + 1] = topic;
            if (what.rfind("publish", 0) == 0) {
                row.args.push_back("-m");
                row.args.push_back("m");
            }
        }
    };
    set_topic("publish topic with +", "a/+");
    set_topic("publish topic with #", "a/#");
    set_topic("publish topic empty", "");
    set_topic("publish topic 256 bytes", std::string(256, 't'));
    set_topic("publish topic with a quote", "t" + q);
    set_topic("publish topic not UTF-8", bad_utf8);
    set_topic("publish topic overlong UTF-8", overlong);
    for (auto& row : r)
        if (row.what == "--device malformed tcp://") row.device = "tcp://127.0.0.1";
    // A pty the test owns, mode 000; root opens anything, so then qmtkit runs as nobody.
    Row noperm{"device permission denied", pub({}), no_device, "Permission denied", "pty-noperm"};
    noperm.nobody = ::geteuid() == 0;
    r.push_back(noperm);
    return r;
}

TEST_F(CliBadInput, EveryRowIsOneLineItsExitStatusAndNothingSent) {
    std::ofstream table;
    if (const char* out = std::getenv("QMTKIT_CATALOGUE_OUT")) table.open(out);
    ::chmod(dir.c_str(), 0755);  // the nobody row's qmtkit reaches its files
    const auto rows = catalogue();
    for (const auto& row : rows) {
        SCOPED_TRACE(row.what);
        std::unique_ptr<OwnedDevice> owned;
        std::string device = replace_all(row.device, "{dir}", dir);
        if (row.device == "pty" || row.device == "pty-noperm") {
            owned = std::make_unique<Pty>();
            device = owned->path();
            if (row.device == "pty-noperm") ::chmod(device.c_str(), 0);
        } else if (row.device == "fifo") {
            owned = std::make_unique<Fifo>(dir + "/fifo");
            device = owned->path();
        }
        std::vector<std::string> args;
        for (const auto& a : row.args)
            args.push_back(replace_all(replace_all(a, "{dir}", dir), "{dev}", device));
        const Outcome o = run_qmtkit(args, dir, row.in, row.env, row.nobody);
        std::string cmd = "qmtkit";
        for (const auto& a : args) cmd += " " + a;
        EXPECT_FALSE(o.hung) << cmd << ": did not end within the bound";
        EXPECT_EQ(o.status, row.status) << cmd << "\nstderr: " << o.err;
        const auto err = lines_of(o.err);
        EXPECT_EQ(err.size(), 1u) << cmd << "\nstderr: " << o.err;
        EXPECT_EQ(o.err.empty() ? '\0' : o.err.back(), '\n') << cmd;
        EXPECT_NE(o.err.find(row.names), std::string::npos)
            << cmd << "\nthe line does not name '" << row.names << "': " << o.err;
        EXPECT_EQ(o.err.find(kSecret), std::string::npos) << cmd << ": a secret is shown";
        EXPECT_EQ(o.out, "") << cmd;
        if (owned) {
            const std::string written = owned->drain();
            EXPECT_EQ(written, "")
                << cmd << ": the device received " << written.size() << " byte(s): " << written;
        }
        if (table.is_open()) {
            std::string line = err.empty() ? "" : err.front();
            line = replace_all(replace_all(line, dir, "DIR"), "|", "\\|");
            line = std::regex_replace(line, std::regex("/dev/pts/[0-9]+"), "/dev/pts/N");
            table << "| " << row.what << " | " << row.status << " | `" << line << "` |\n";
        }
    }
}

// The control of the zero-bytes check above: a valid command line on the same kind of device
// does write to it (AT, the bring-up's first command; nobody answers, so it ends at --timeout).
// Were the check blind, every row would pass it.
TEST_F(CliBadInput, TheDeviceCheckSeesWhatQmtkitSends) {
    Pty pty;
    const Outcome o = run_qmtkit({"pub", "--device", pty.path(), "-h", "127.0.0.1", "-t", "t", "-m",
                                  "m", "--timeout", "0.5"},
                                 dir, Stdin::null, {}, false);
    EXPECT_FALSE(o.hung);
    EXPECT_EQ(o.status, 1) << o.err;
    const std::string written = pty.drain();
    EXPECT_EQ(written.rfind("AT", 0), 0u) << "the device received: " << written;
}

}  // namespace
