// `qmtkit pub -l` (and the other message sources) when things go wrong: the CLI must always end,
// with the right exit status and one line naming the cause, and never lose or crash on input.
// The test plays the input generator: qmtkit's stdin is a pipe the test writes (or a file).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "fixture.hpp"

extern char** environ;

namespace qmtkit::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A qmtkit process: stdin is a pipe (write_input / close_input) or the file `stdin_path`, stdout
// is /dev/null, stderr is read through a pipe. The end of stderr (EOF) is how wait() learns that
// the process exited: qmtkit starts no children, so nothing else holds that pipe.
class Child {
  public:
    explicit Child(const std::vector<std::string>& argv, const std::string& stdin_path = "") {
        int err[2];
        if (::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        int in[2] = {-1, -1};
        if (stdin_path.empty() && ::pipe2(in, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (stdin_path.empty())
            posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        else
            posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, stdin_path.c_str(), O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(err[1]);
        err_fd_ = err[0];
        if (in[0] >= 0) ::close(in[0]);
        in_fd_ = in[1];
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start " + argv[0]);
        }
        started_ = Clock::now();
    }
    ~Child() {
        close_input();
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (err_fd_ >= 0) ::close(err_fd_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Writes all of `s` to the child's stdin; false when the child no longer reads it (EPIPE).
    // SIGPIPE is blocked around the write (and a pending one consumed) so the test survives.
    bool write_input(const std::string& s) {
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        bool ok = in_fd_ >= 0;
        for (std::size_t off = 0; ok && off < s.size();) {
            const ssize_t n = ::write(in_fd_, s.data() + off, s.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ok = false;
                const timespec zero{0, 0};
                ::sigtimedwait(&pipe_set, nullptr, &zero);
                break;
            }
            off += static_cast<std::size_t>(n);
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
        return ok;
    }
    void close_input() {
        if (in_fd_ >= 0) ::close(in_fd_);
        in_fd_ = -1;
    }

    // The exit status (128 + signal when killed by one), or nullopt when the process is still
    // running after `timeout` (it is killed then). Collects stderr meanwhile.
    std::optional<int> wait(Ms timeout) {
        const auto deadline = Clock::now() + timeout;
        while (err_fd_ >= 0) {
            const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
            if (left.count() <= 0) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
                reaped_ = true;
                return std::nullopt;
            }
            pollfd p{err_fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char b[1024];
            const ssize_t n = ::read(err_fd_, b, sizeof b);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                ::close(err_fd_);
                err_fd_ = -1;
                break;
            }
            err_.append(b, static_cast<std::size_t>(n));
        }
        if (reaped_) return status_;
        int st = 0;
        ::waitpid(pid_, &st, 0);  // stderr closed: the process is exiting
        reaped_ = true;
        ended_ = Clock::now();
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
    }
    const std::string& err() const { return err_; }
    Ms run_time() const { return std::chrono::duration_cast<Ms>(ended_ - started_); }

  private:
    pid_t pid_ = -1;
    int in_fd_ = -1;
    int err_fd_ = -1;
    bool reaped_ = false;
    int status_ = -1;
    std::string err_;
    Clock::time_point started_, ended_;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> v;
    std::size_t at = 0;
    while (at < text.size()) {
        auto nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        v.push_back(text.substr(at, nl - at));
        at = nl + 1;
    }
    return v;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

std::string numbered(const std::string& prefix, int from, int to) {
    std::string s;
    for (int i = from; i <= to; ++i) s += prefix + std::to_string(i) + "\n";
    return s;
}

class CliPub : public ::testing::Test {
  protected:
    void SetUp() override {
        broker.start();
        dir = test::make_temp_dir("qmtkit-cli-pub-");
    }
    void TearDown() override { test::remove_tree(dir); }

    std::vector<std::string> pub(const std::string& device, std::uint16_t port,
                                 std::vector<std::string> more) const {
        std::vector<std::string> v{QMTKIT_EXE, "pub",         "--device", device,
                                   "-h",       broker.host(), "-p",       std::to_string(port)};
        v.insert(v.end(), more.begin(), more.end());
        return v;
    }

    test::Broker broker;
    std::string dir;
};

// The module's OPEN fails (nothing listens on the broker port): --timeout ends the run with one
// line, whether the stdin reader is waiting for room in its queue (100 lines, more than it reads
// ahead) or waiting for input that never comes (stdin left open: bring-up is still bounded).
TEST_F(CliPub, LinesGiveUpAfterTheTimeoutWhenTheBrokerIsUnreachable) {
    Sim sim;
    const std::uint16_t dead_port = test::free_loopback_port();
    const auto args = pub(sim.pty(), dead_port, {"-t", "t", "-l", "--timeout", "3"});
    {
        Child p(args);
        ASSERT_TRUE(p.write_input(numbered("m-", 1, 100)));  // seq -f m-%g 1 100 |
        p.close_input();
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running after 15 s; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_LT(p.run_time(), 8s);
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << p.err();
        EXPECT_EQ(err[0].rfind("qmtkit pub: timed out after 0 of ", 0), 0u) << err[0];
        EXPECT_NE(err[0].find("QMTOPEN"), std::string::npos) << err[0];
    }
    {
        Child p(args);  // stdin open, nothing written
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running after 15 s; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_LT(p.run_time(), 8s);
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << p.err();
        EXPECT_EQ(err[0].rfind("qmtkit pub: timed out after 0 of 0 ", 0), 0u) << err[0];
    }
}

// A line longer than the module sends is reported once, by its line number, and skipped; the lines
// around it are delivered (in order: the long line never went out); the exit status says
// something was not sent. Three runs: the old reader crashed about one run in four.
TEST_F(CliPub, LinesSkipATooLongLineAndDeliverTheRest) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("mix/#", 1));
    Sim sim;
    for (int run = 0; run < 3; ++run) {
        const std::string topic = "mix/" + std::to_string(run);
        Child p(pub(sim.pty(), broker.port(), {"-t", topic, "-l", "-q", "1"}));
        // Line 2 is empty (skipped, not a message), line 3 is 1025 bytes.
        ASSERT_TRUE(p.write_input("one\n\n" + std::string(1025, 'x') + "\nthree\n"));
        p.close_input();
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << "still running after 15 s; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << p.err();
        EXPECT_EQ(count_of(p.err(), "line 3"), 1u) << p.err();
        EXPECT_NE(p.err().find("longer than 1024"), std::string::npos) << p.err();
        EXPECT_EQ(p.err().find("xxxxxxxx"), std::string::npos);  // never the payload itself
        auto first = watcher.wait_message(topic, 10s);
        ASSERT_TRUE(first.has_value()) << p.err();
        EXPECT_EQ(first->payload, "one");
        auto second = watcher.wait_message(topic, 10s);
        ASSERT_TRUE(second.has_value()) << "\"three\" never arrived; stderr:\n" << p.err();
        EXPECT_EQ(second->payload, "three");
    }
}

// The emulator goes away mid-stream (seq 300 |, the reader's queue full): pub ends promptly,
// non-zero, with one line naming the device.
TEST_F(CliPub, LinesEndWhenTheModuleGoesAway) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("gone", 1));
    auto sim = std::make_unique<Sim>(std::vector<std::string>{"--rtt-ms", "100"});
    const std::string pty = sim->pty();
    Child p(pub(pty, broker.port(), {"-t", "gone", "-q", "1", "-l"}));
    ASSERT_TRUE(p.write_input(numbered("", 1, 300)));
    p.close_input();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(watcher.wait_message("gone", 10s)) << i;
    sim.reset();  // bc28-sim exits: the pty's other end closes
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << "still running 10 s after the module went away; stderr:\n"
                                << p.err();
    EXPECT_EQ(*st, 1) << p.err();
    const auto err = lines_of(p.err());
    ASSERT_EQ(err.size(), 1u) << p.err();
    EXPECT_EQ(err[0].rfind("qmtkit pub: ", 0), 0u) << err[0];
    EXPECT_NE(err[0].find(pty), std::string::npos) << err[0];
}

// A pause in the input longer than --timeout is not a timeout: --timeout bounds the wait for
// messages already read, never the wait for stdin.
TEST_F(CliPub, LinesWaitForQuietStdinWithoutTimingOut) {
    test::MqttClient watcher(broker.host(), broker.port());
    ASSERT_TRUE(watcher.subscribe("quiet", 1));
    Sim sim;
    Child p(pub(sim.pty(), broker.port(), {"-t", "quiet", "-l", "-q", "1", "--timeout", "2"}));
    ASSERT_TRUE(p.write_input("a\n"));
    auto a = watcher.wait_message("quiet", 10s);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->payload, "a");
    std::this_thread::sleep_for(4s);  // the input generator pauses: twice --timeout
    const bool wrote_b = p.write_input("b\n");
    p.close_input();
    const auto st = p.wait(10s);
    ASSERT_TRUE(st.has_value()) << p.err();
    EXPECT_TRUE(wrote_b) << "pub stopped reading stdin: " << p.err();
    ASSERT_EQ(*st, 0) << p.err();
    EXPECT_EQ(p.err(), "");
    auto b = watcher.wait_message("quiet", 10s);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->payload, "b");
}

// -f naming something that cannot be read: one line with the file and the reason, exit 1.
TEST_F(CliPub, FileThatCannotBeReadFailsNamingTheReason) {
    Sim sim;
    auto d = run_process(pub(sim.pty(), broker.port(), {"-t", "f", "-f", dir}), 20s, dir);
    EXPECT_EQ(d.status, 1);
    EXPECT_EQ(d.err, "qmtkit pub: cannot read " + dir + ": Is a directory\n");
    const std::string missing = dir + "/missing.bin";
    auto m = run_process(pub(sim.pty(), broker.port(), {"-t", "f", "-f", missing}), 20s, dir);
    EXPECT_EQ(m.status, 1);
    EXPECT_EQ(m.err, "qmtkit pub: cannot read " + missing + ": No such file or directory\n");
}

// stdin that cannot be read (a directory redirected with <) is an error, not an empty input.
TEST_F(CliPub, StdinThatCannotBeReadFailsNamingTheReason) {
    Sim sim;
    for (const char* mode : {"-l", "-s"}) {
        Child p(pub(sim.pty(), broker.port(), {"-t", "f", mode, "--timeout", "5"}), dir);
        const auto st = p.wait(15s);
        ASSERT_TRUE(st.has_value()) << mode << ": still running; stderr:\n" << p.err();
        EXPECT_EQ(*st, 1) << mode;
        const auto err = lines_of(p.err());
        ASSERT_EQ(err.size(), 1u) << mode << ": " << p.err();
        EXPECT_EQ(err[0].rfind("qmtkit pub: cannot read stdin: Is a directory", 0), 0u)
            << mode << ": " << err[0];
    }
}

// The backstop: an exception from any subcommand (here nlohmann::json refusing a non-UTF-8 string
// in `sign --json`) is one line and exit 1, not an abort.
TEST_F(CliPub, NoExceptionEscapesMain) {
    const std::string not_utf8 = std::string("a\xff") + "b";
    auto r = run_process({QMTKIT_EXE, "sign", "aliyun", "--product-key", not_utf8, "--device-name",
                          "dn", "--device-secret", "s", "--json"},
                         20s, dir);
    EXPECT_EQ(r.status, 1);
    const auto err = lines_of(r.err);
    ASSERT_EQ(err.size(), 1u) << r.err;
    EXPECT_EQ(err[0].rfind("qmtkit sign: ", 0), 0u) << err[0];
}

}  // namespace
}  // namespace qmtkit::e2e
