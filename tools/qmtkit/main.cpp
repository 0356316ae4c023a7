// qmtkit — the command-line tool: `qmtkit pub`, `qmtkit sub`, `qmtkit sign`, `qmtkit verify`
// (mosquitto_pub / mosquitto_sub habits: -h is the broker host, help is --help).
#include <iostream>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
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
        if (c.app->parsed()) return c.run();
    }
    return 1;
}
