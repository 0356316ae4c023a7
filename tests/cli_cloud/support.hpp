// Runs the real `qmtkit` executable as a subprocess (tests/harness Process) with a controlled
// environment and collects its exit status, stdout and stderr.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "process.hpp"

namespace qmtkit::cli_test {

struct CliRun {
    int status = -1;
    std::string out;
    std::string err;
    std::string all() const { return out + err; }
};

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

// A temp dir per test, removed afterwards.
class TempDir {
  public:
    TempDir() : path_(test::make_temp_dir("qmtkit-cli-cloud-")) {}
    ~TempDir() { test::remove_tree(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

// `qmtkit <args...>` with QMTKIT_DEVICE_SECRET / QMTKIT_DEVICE_PSK / QMTKIT_PASSWORD removed
// from the environment and `env` added. Waits for the exit (the process is killed after `timeout`).
inline CliRun run_qmtkit(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(60000)) {
    TempDir dir;
    std::vector<std::string> argv = {"/usr/bin/env",      "-u", "QMTKIT_DEVICE_SECRET", "-u",
                                     "QMTKIT_DEVICE_PSK", "-u", "QMTKIT_PASSWORD"};
    for (const auto& [k, v] : env) argv.push_back(k + "=" + v);
    argv.push_back(QMTKIT_EXE);
    argv.insert(argv.end(), args.begin(), args.end());
    test::Process::Options po;
    po.stdout_path = dir.file("stdout");
    po.stderr_path = dir.file("stderr");
    CliRun r;
    {
        test::Process p(argv, po);
        auto st = p.wait(timeout);
        r.status = st ? *st : -1;
    }
    r.out = slurp(dir.file("stdout"));
    r.err = slurp(dir.file("stderr"));
    return r;
}

}  // namespace qmtkit::cli_test
