// A real PostgreSQL server on a free loopback port in a temporary directory, for tests (Debian's
// `postgresql` package). Stopped and removed in the destructor.
//
//   qmtkit::test::PgServer pg;             // or PgServer({.password = "s3cret"}) for password auth
//   pg.start();                            // initdb on the first start, then pg_ctl start -w
//   pg.create_database("ledger1");
//   ... pg.url("ledger1") ...              // postgresql://postgres[:pw]@127.0.0.1:PORT/ledger1
//
// initdb, pg_ctl and postgres refuse to run as root: as root they run as the `postgres` user
// (runuser), and the temporary directory is given to that user. The server listens on TCP
// 127.0.0.1 only (its Unix socket is in the directory); authentication is trust, or SCRAM with
// `password` over TCP. fsync is off: a test server, not a durability test of PostgreSQL.
#pragma once

#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace qmtkit::test {

class PgServer {
  public:
    struct Options {
        std::string bindir;    // "" = $QMTKIT_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin
        std::string password;  // "" = trust; else the superuser's password (scram-sha-256)
        std::uint16_t port = 0;             // 0 = pick a free loopback port
        std::vector<std::string> settings;  // more "-c name=value" settings, as "name=value"
    };

    PgServer();
    explicit PgServer(Options opt);
    ~PgServer();
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    // The server's binaries were found (the `postgresql` package is installed).
    static bool available();

    // initdb (first time), then starts the server and waits until it accepts connections.
    // Throws with the server's log when it does not come up within `timeout`.
    void start(std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));
    void stop();  // pg_ctl stop -m fast (immediate if that does not end it); the port is kept
    bool running() const;

    std::string host() const { return "127.0.0.1"; }
    std::uint16_t port() const { return port_; }
    const std::string& user() const { return user_; }
    const std::string& dir() const { return dir_; }
    std::string log() const;

    // CREATE DATABASE (createdb over TCP).
    void create_database(const std::string& name);
    // A libpq URL of database `db` as the superuser (with the password when there is one).
    std::string url(const std::string& db) const;

  private:
    std::vector<std::string> as_server_user(std::vector<std::string> argv) const;
    int run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) const;

    Options opt_;
    std::string dir_;
    std::string user_ = "postgres";
    std::uint16_t port_ = 0;
    bool initialised_ = false;
    bool started_ = false;
};

}  // namespace qmtkit::test
