// A child process the harness owns: started with posix_spawn, always stopped in the destructor.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace qmtkit::test {

class Process {
  public:
    struct Options {
        bool capture_stdout = false;  // read it with read_stdout_line()
        std::string stdout_path;      // else: stdout to this file ("" = /dev/null)
        std::string stderr_path;      // "" = /dev/null
    };

    Process(const std::vector<std::string>& argv, const Options& opt);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    void signal(int sig);
    // SIGTERM, then SIGKILL after `grace`; reaps the child. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
    // Waits for the exit status (nullopt on timeout).
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // One line of the child's stdout (without '\n'); nullopt on timeout or EOF.
    std::optional<std::string> read_stdout_line(std::chrono::milliseconds timeout);

  private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = 0;
    int stdout_fd_ = -1;
    std::string stdout_buf_;
};

// A free TCP port on 127.0.0.1 (bound, read, released).
unsigned short free_loopback_port();

// mkdtemp under $TMPDIR (or /tmp) with the given prefix; removed with remove_tree().
std::string make_temp_dir(const std::string& prefix);
void remove_tree(const std::string& path);

}  // namespace qmtkit::test
