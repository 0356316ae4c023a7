#include "pg_server.hpp"

#include "broker.hpp"  // wait_for_port

#include <signal.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace qmtkit::test {

using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

std::string find_bindir() {
    const char* env = std::getenv("QMTKIT_PG_BINDIR");
    if (env && *env) return env;
    std::vector<std::pair<int, std::string>> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const auto bin = e.path() / "bin";
        if (!fs::exists(bin / "initdb")) continue;
        const std::string v = e.path().filename().string();
        found.emplace_back(std::atoi(v.c_str()), bin.string());
    }
    if (found.empty()) return {};
    std::sort(found.begin(), found.end());
    return found.back().second;
}

std::string find_runuser() {
    for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"})
        if (::access(p, X_OK) == 0) return p;
    return "runuser";
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

bool PgServer::available() {
    return !find_bindir().empty();
}

PgServer::PgServer() : PgServer(Options{}) {}

PgServer::PgServer(Options opt) : opt_(std::move(opt)), dir_(make_temp_dir("qmtkit-pg-")) {
    if (opt_.bindir.empty()) opt_.bindir = find_bindir();
    port_ = opt_.port;
    if (::geteuid() == 0) {
        const passwd* pw = ::getpwnam(user_.c_str());
        if (pw == nullptr)
            throw std::runtime_error("PgServer: running as root and there is no postgres user");
        if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("PgServer: cannot give " + dir_ + " to postgres");
    } else if (const passwd* me = ::getpwuid(::geteuid())) {
        user_ = me->pw_name;
    }
    ::chmod(dir_.c_str(), 0700);
}

PgServer::~PgServer() {
    try {
        stop();
    } catch (...) {
    }
    // A server that would not stop: kill the postmaster named in its lock file.
    std::ifstream pidfile(dir_ + "/data/postmaster.pid");
    long pid = 0;
    if (pidfile >> pid && pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
    remove_tree(dir_);
}

std::vector<std::string> PgServer::as_server_user(std::vector<std::string> argv) const {
    if (::geteuid() != 0) return argv;
    std::vector<std::string> out{find_runuser(), "-u", user_, "--"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

int PgServer::run(const std::vector<std::string>& argv, milliseconds timeout) const {
    Process::Options po;
    po.stdout_path = dir_ + "/cmd.out";
    po.stderr_path = dir_ + "/cmd.err";
    Process p(argv, po);
    const auto rc = p.wait(timeout);
    if (!rc) {
        p.stop();
        return -1;
    }
    return *rc;
}

void PgServer::start(milliseconds timeout) {
    if (running()) return;
    if (opt_.bindir.empty())
        throw std::runtime_error(
            "PgServer: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): install "
            "the postgresql package (./dev.sh test does)");
    const std::string data = dir_ + "/data";
    if (!initialised_) {
        std::vector<std::string> argv{opt_.bindir + "/initdb",
                                      "-D",
                                      data,
                                      "-U",
                                      user_,
                                      "--no-sync",
                                      "-E",
                                      "UTF8",
                                      "--locale=C",
                                      "--auth-local=trust"};
        if (opt_.password.empty()) {
            argv.push_back("--auth-host=trust");
        } else {
            const std::string pwfile = dir_ + "/pwfile";
            std::ofstream(pwfile) << opt_.password << "\n";
            if (::geteuid() == 0) {
                const passwd* pw = ::getpwnam(user_.c_str());
                if (pw == nullptr || ::chown(pwfile.c_str(), pw->pw_uid, pw->pw_gid) != 0)
                    throw std::runtime_error("PgServer: cannot give the password file to postgres");
            }
            argv.push_back("--auth-host=scram-sha-256");
            argv.push_back("--pwfile=" + pwfile);
        }
        if (run(as_server_user(argv), milliseconds(60000)) != 0)
            throw std::runtime_error("initdb failed: " + slurp(dir_ + "/cmd.err") +
                                     slurp(dir_ + "/cmd.out"));
        initialised_ = true;
    }
    const bool fixed = port_ != 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!fixed) port_ = free_loopback_port();
        std::string o = "-p " + std::to_string(port_) + " -k " + dir_ +
                        " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
                        "-c max_connections=40 -c shared_buffers=16MB";
        for (const auto& s : opt_.settings) o += " -c " + s;
        const int rc = run(
            as_server_user({opt_.bindir + "/pg_ctl", "-D", data, "-l", dir_ + "/postgres.log", "-w",
                            "-t", std::to_string(timeout.count() / 1000 + 1), "-o", o, "start"}),
            timeout + milliseconds(5000));
        if (rc == 0 && wait_for_port(host(), port_, milliseconds(5000))) {
            started_ = true;
            return;
        }
        stop();
        if (fixed) break;
    }
    throw std::runtime_error("postgres did not start on port " + std::to_string(port_) + ": " +
                             slurp(dir_ + "/cmd.err") + log());
}

void PgServer::stop() {
    if (!initialised_) return;
    const std::string data = dir_ + "/data";
    if (!fs::exists(data + "/postmaster.pid")) {
        started_ = false;
        return;
    }
    if (run(as_server_user(
                {opt_.bindir + "/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "10", "stop"}),
            milliseconds(15000)) != 0)
        run(as_server_user(
                {opt_.bindir + "/pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "10", "stop"}),
            milliseconds(15000));
    started_ = false;
}

bool PgServer::running() const {
    return started_ && fs::exists(dir_ + "/data/postmaster.pid");
}

std::string PgServer::log() const {
    return slurp(dir_ + "/postgres.log");
}

std::string PgServer::url(const std::string& db) const {
    std::string auth = user_;
    if (!opt_.password.empty()) auth += ":" + opt_.password;
    return "postgresql://" + auth + "@" + host() + ":" + std::to_string(port_) + "/" + db;
}

void PgServer::create_database(const std::string& name) {
    const int rc = run({opt_.bindir + "/createdb", "--maintenance-db=" + url("postgres"), name},
                       milliseconds(30000));
    if (rc != 0)
        throw std::runtime_error("createdb " + name + " failed: " + slurp(dir_ + "/cmd.err"));
}

}  // namespace qmtkit::test
