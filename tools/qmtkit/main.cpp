// qmtkit — the command-line tool: `qmtkit pub`, `qmtkit sub`, `qmtkit sign`, `qmtkit verify`
// (mosquitto_pub / mosquitto_sub habits: -h is the broker host, help is --help).
#include <exception>
#include <iostream>
#include <vector>

#include "common.hpp"

namespace {

int run(int argc, char** argv) {
    CLI::App app{"qmtkit: MQTT through a Quectel BC28 / BC35-G module (AT+QMT... commands)"};
    app.set_help_flag("--help", "Print this help message and exit");
    app.require_subcommand(1);
    app.fallthrough(false);

    std::vector<qmtkit::cli::Command> commands;
    commands.push_back(qmtkit::cli::add_pub(app));
    commands.push_back(qmtkit::cli::add_sub(app));
    commands.push_back(qmtkit::cli::add_sign(app));
    commands.push_back(qmtkit::cli::add_verify(app));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    for (auto& c : commands) {
        if (!c.app->parsed()) continue;
        // The backstop: each subcommand reports what it expects as one line itself; whatever
        // else is thrown still ends as one line and exit 1, never an abort.
        try {
            return c.run();
        } catch (const std::exception& e) {
            return qmtkit::cli::fail(c.app->get_name(), e.what());
        } catch (...) {
            return qmtkit::cli::fail(c.app->get_name(), "unexpected error");
        }
    }
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << "qmtkit: " << e.what() << std::endl;
    } catch (...) {
        std::cout.flush();
        std::cerr << "qmtkit: unexpected error" << std::endl;
    }
    return 1;
}
