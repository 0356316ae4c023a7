// qmtkit-token-server: the Tencent IoT Suite `/token` endpoint of the cloud stand-in, and the
// dynamic registration endpoints (Aliyun `/auth/register/device`, Tencent `/device/register`).
// Binds 127.0.0.1 only. `--port 0` picks a free port; the chosen port is the first stdout line.
// Logs go to stderr and never contain a secret (neither device secrets nor issued passwords).
#include "dynreg_server.hpp"
#include "registry.hpp"

#include <httplib.h>
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

namespace {

std::uint64_t now_unix() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

// One line, one write: the server answers on several threads, and tests read this log.
void log_line(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "qmtkit-token-server: Tencent IoT Suite token endpoint (POST /token) and dynamic "
        "registration (POST /auth/register/device, POST /device/register) of the qmtkit cloud "
        "stand-in"};
    std::string registry_path;
    int port = 0;
    bool quiet = false;
    app.add_option("--registry", registry_path, "JSON device registry (see docs/cloud-standin.md)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--port", port, "TCP port; 0 picks a free one (printed on stdout's first line)")
        ->check(CLI::Range(0, 65535));
    app.add_flag("--quiet", quiet, "do not log requests");
    CLI11_PARSE(app, argc, argv);

    qmtkit::standin::Registry reg;
    try {
        reg = qmtkit::standin::Registry::load_file(registry_path);
    } catch (const std::exception& e) {
        std::cerr << "qmtkit-token-server: " << e.what() << "\n";
        return 2;
    }

    // Block SIGINT/SIGTERM in every thread; one thread waits for them and stops the server.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    httplib::Server svr;
    svr.Post("/token", [&](const httplib::Request& req, httplib::Response& res) {
        qmtkit::standin::TokenAnswer a;
        auto form = qmtkit::standin::parse_form(req.body);
        if (!form) {
            a.return_code = 1001;
            a.return_message = "malformed form body";
        } else {
            a = qmtkit::standin::issue_token(reg, *form, now_unix());
        }
        res.status = a.http_status;
        res.set_content(a.to_json(), "application/json");
        if (!quiet) {
            const auto dn = form && form->count("deviceName") ? form->at("deviceName") : "?";
            const auto pid = form && form->count("productId") ? form->at("productId") : "?";
            log_line("qmtkit-token-server: POST /token " + pid + "/" + dn + " -> " +
                     std::to_string(a.return_code) + " " + a.return_message + "\n");
        }
    });

    // Dynamic registration (docs/dynamic-registration.md), same registry.
    qmtkit::standin::DynregState dynreg_state;
    auto log_dynreg = [&](const char* path, const qmtkit::standin::DynregAnswer& a) {
        if (quiet) return;
        log_line(std::string("qmtkit-token-server: POST ") + path + " " +
                 (a.product.empty() ? "?" : a.product) + "/" + (a.device.empty() ? "?" : a.device) +
                 " -> " + a.code + " " + a.message + "\n");
    };
    svr.Post("/auth/register/device", [&](const httplib::Request& req, httplib::Response& res) {
        qmtkit::standin::DynregAnswer a;
        if (auto form = qmtkit::standin::parse_form(req.body)) {
            a = qmtkit::standin::register_aliyun(reg, *form, dynreg_state);
        } else {
            a.code = "460";
            a.message = "request parameter error: malformed form body";
            a.body = R"({"code":460,"message":"request parameter error: malformed form body"})";
        }
        res.status = a.http_status;
        res.set_content(a.body, "application/json");
        log_dynreg("/auth/register/device", a);
    });
    svr.Post("/device/register", [&](const httplib::Request& req, httplib::Response& res) {
        std::map<std::string, std::string> headers;
        for (const char* k :
             {"Host", "X-TC-Algorithm", "X-TC-Timestamp", "X-TC-Nonce", "X-TC-Signature"}) {
            std::string name = k;
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (req.has_header(k)) headers[name] = req.get_header_value(k);
        }
        const auto a =
            qmtkit::standin::register_tencent(reg, headers, req.body, now_unix(), dynreg_state);
        res.status = a.http_status;
        res.set_content(a.body, "application/json");
        log_dynreg("/device/register", a);
    });

    const int bound = port == 0 ? svr.bind_to_any_port("127.0.0.1")
                                : (svr.bind_to_port("127.0.0.1", port) ? port : -1);
    if (bound <= 0) {
        std::cerr << "qmtkit-token-server: cannot bind 127.0.0.1:" << port << "\n";
        return 1;
    }
    std::cout << bound << std::endl;  // first stdout line: the port

    std::thread waiter([&] {
        int sig = 0;
        sigwait(&set, &sig);
        svr.stop();
    });
    const bool ok = svr.listen_after_bind();
    // listen returned: either stop() from the waiter or a failure; release the waiter if needed.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    return ok ? 0 : 1;
}
