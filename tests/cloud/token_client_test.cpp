// fetch_token's mapping of failures to +QMTTENAUTH result codes, against an in-process
// cpp-httplib server on 127.0.0.1 that misbehaves on purpose. (1 DNS and 2 refused are in
// signing_test.cpp; 4 "socket send error" has no reliable local trigger and is not tested.)
#include "qmtkit/cloud/signing.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace qmtkit::cloud;

namespace {

class FakeTokenServer {
  public:
    FakeTokenServer() {
        svr_.Post("/ok", [](const httplib::Request& req, httplib::Response& res) {
            // Echo that the body is the documented form, then answer as IoT Suite does.
            const bool form =
                req.body.rfind("clientId=p%40d&deviceName=d&expire=172800&", 0) == 0 &&
                req.get_header_value("Content-Type") == "application/x-www-form-urlencoded";
            res.set_content(
                form
                    ? R"({"returnCode":0,"returnMessage":"ok","data":{"id":"user-1","secret":"pw-1","expire":172800}})"
                    : R"({"returnCode":9,"returnMessage":"bad form"})",
                "application/json");
        });
        svr_.Post("/500", [](const httplib::Request&, httplib::Response& res) {
            res.status = 500;
            res.set_content("oops", "text/plain");
        });
        svr_.Post("/junk", [](const httplib::Request&, httplib::Response& res) {
            res.set_content("<html>not json</html>", "text/html");
        });
        svr_.Post("/nodata", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"returnCode":0})", "application/json");
        });
        svr_.Post("/refuse", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(R"({"returnCode":1003,"returnMessage":"signature mismatch"})",
                            "application/json");
        });
        svr_.Post("/hang", [this](const httplib::Request&, httplib::Response& res) {
            // Holds the answer until the test releases it (after the client timed out).
            std::unique_lock<std::mutex> l(mu_);
            cv_.wait(l, [&] { return released_; });
            res.set_content("{}", "application/json");
        });
        port_ = svr_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { svr_.listen_after_bind(); });
        // bind_to_any_port already listens: connections queue until the accept loop runs.
    }
    ~FakeTokenServer() {
        release();
        svr_.stop();
        thread_.join();
    }
    void release() {
        std::lock_guard<std::mutex> l(mu_);
        released_ = true;
        cv_.notify_all();
    }
    std::string url(const char* path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }

  private:
    httplib::Server svr_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool released_ = false;
};

TokenRequest req() {
    TokenRequest r;
    r.product_id = "p";
    r.device_name = "d";
    r.client_id = "p@d";
    r.device_secret = "secret";
    r.expire_days = 2;
    return r;
}

}  // namespace

TEST(CloudTokenClient, ResultCodeMapping) {
    FakeTokenServer s;
    auto ok = fetch_token(s.url("/ok"), req(), 5000);
    ASSERT_EQ(ok.result_code, 0) << ok.message;
    EXPECT_EQ(ok.token->username, "user-1");
    EXPECT_EQ(ok.token->password, "pw-1");
    EXPECT_EQ(ok.token->expire_s, 172800u);
    EXPECT_EQ(ok.message.find("pw-1"), std::string::npos);

    EXPECT_EQ(fetch_token(s.url("/500"), req(), 5000).result_code, 3);      // non-2xx
    EXPECT_EQ(fetch_token(s.url("/missing"), req(), 5000).result_code, 3);  // 404
    EXPECT_EQ(fetch_token(s.url("/refuse"), req(), 5000).result_code, 3);   // returnCode != 0
    EXPECT_EQ(fetch_token(s.url("/junk"), req(), 5000).result_code, 5);     // not JSON
    EXPECT_EQ(fetch_token(s.url("/nodata"), req(), 5000).result_code, 5);   // no data.id/secret
    auto slow = fetch_token(s.url("/hang"), req(), 300);
    EXPECT_EQ(slow.result_code, 6) << slow.message;  // timeout
    s.release();
}
