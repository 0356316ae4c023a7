// The ledger on a real PostgreSQL server (tests/harness PgServer, started once for this binary):
// the backend-independent tests of ledger_api_test.cpp, each in a database of its own, two
// helper processes racing on one database, and password authentication.
#include <gtest/gtest.h>

#include <memory>

#include "pg_server.hpp"
#include "race.hpp"

namespace qmtkit::test {

PgServer& server() {
    static std::unique_ptr<PgServer> pg;
    if (!pg) {
        pg = std::make_unique<PgServer>();
        pg->start();
    }
    return *pg;
}

std::string ledger_url(const std::string& name) {
    std::string db = "ledger_";
    for (char c : name) db += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    server().create_database(db);
    return server().url(db);
}

}  // namespace qmtkit::test

namespace {

namespace lg = qmtkit::ledger;
using qmtkit::test::PgServer;

class PgEnvironment : public ::testing::Environment {
  public:
    void TearDown() override {}  // the static server stops when the process ends
};

TEST(LedgerPg, ServerIsRealAndTheBackendIsPostgresql) {
    ASSERT_TRUE(PgServer::available()) << "install the postgresql package (./dev.sh test does)";
    auto l = lg::Ledger::open(qmtkit::test::ledger_url("backend"));
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_EQ(l->backend_name(), "postgresql");
    EXPECT_EQ(l->display_url().rfind("postgresql://", 0), 0u);
}

TEST(LedgerPg, TwoProcessesRaceOnOneDatabase) {
    qmtkit::test::race_two_processes(LEDGER_HELPER_EXE, qmtkit::test::ledger_url("race"));
}

TEST(LedgerPg, PasswordAuthenticationAndNoPasswordInMessages) {
    PgServer::Options o;
    o.password = "Line-PC-pw-93";
    PgServer pg(o);
    pg.start();
    pg.create_database("ledger");
    auto good = lg::Ledger::open(pg.url("ledger"));
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_EQ(good->display_url().find("Line-PC-pw-93"), std::string::npos);
    EXPECT_NE(good->display_url().find(":***@"), std::string::npos);
    const std::string wrong =
        "postgresql://postgres:Wrong-pw-77@127.0.0.1:" + std::to_string(pg.port()) + "/ledger";
    auto bad = lg::Ledger::open(wrong);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, lg::Errc::cannot_open);
    EXPECT_NE(bad.error().message.find("password authentication failed"), std::string::npos)
        << bad.error().message;
    EXPECT_EQ(bad.error().message.find("Wrong-pw-77"), std::string::npos) << bad.error().message;
    EXPECT_EQ(bad.error().message.find('\n'), std::string::npos);
}

}  // namespace
