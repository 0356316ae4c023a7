// qmtkit — the command-line tool: `qmtkit pub`, `qmtkit sub`, `qmtkit sign`, `qmtkit verify`,
// `qmtkit image`, `qmtkit ledger`, `qmtkit provision`
// (mosquitto_pub / mosquitto_sub habits: -h is the broker host, help is --help, a usage error is
// one "Error: ..." line and exit status 1).
#include <exception>
#include <iostream>
#include <vector>

#include "common.hpp"

namespace qmtkit::cli {
Command add_ledger(CLI::App& root);     // cmd_ledger.cpp
Command add_provision(CLI::App& root);  // cmd_provision.cpp
}  // namespace qmtkit::cli

namespace {

using qmtkit::cli::UsageError;

// The first word of CLI11's "--qos: 1 required TEXT missing": the option's name.
std::string option_in(const std::string& message) {
    return message.substr(0, message.find(':'));
}

// CLI11's messages in mosquitto_pub's words. Everything else (numbers, choices, required options)
// the subcommands check themselves, with the option and its range in the message.
std::string usage_message(const CLI::ParseError& e) {
    const std::string m = e.what();
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
        if (m.find(" required ") != std::string::npos && m.size() > 8 &&
            m.compare(m.size() - 8, 8, " missing") == 0)
            return option_in(m) + " needs a value.";
        if (m.find("At Most ") != std::string::npos) return option_in(m) + " given more than once.";
    }
    std::string s = m;
    if (!s.empty() && s.back() != '.') s += '.';
    return s;
}

// What was left over on the command line of `app` (a parsed app), in mosquitto_pub's words:
// "Unknown option '-x'.", "Unexpected argument 'extra'.", or an unknown subcommand.
void check_leftovers(CLI::App& app, const std::string& subcommands) {
    const auto rest = app.remaining(false);
    if (rest.empty()) return;
    const std::string& first = rest.front();
    if (first.size() > 1 && first[0] == '-')
        throw UsageError("Unknown option '" + first.substr(0, first.find('=')) + "'.");
    if (!subcommands.empty() && app.get_subcommands().empty()) {
        const std::string what =
            app.get_parent() == nullptr ? "subcommand" : app.get_name() + " subcommand";
        throw UsageError("Unknown " + what + " '" + first + "' (" + subcommands + ").");
    }
    throw UsageError("Unexpected argument '" + first + "'.");
}

// Root and subcommands that group others (sign): leftovers and a missing subcommand.
void check_chain(CLI::App& root) {
    check_leftovers(root, "pub, sub, sign, verify, image, ledger or provision");
    if (root.get_subcommands().empty())
        throw UsageError(
            "A subcommand is required: pub, sub, sign, verify, image, ledger or provision.");
    CLI::App* app = root.get_subcommands().front();
    while (app != nullptr) {
        std::string names;
        std::vector<std::string> list;
        for (const CLI::App* s : app->get_subcommands({})) list.push_back(s->get_name());
        names = qmtkit::cli::one_of(list);
        check_leftovers(*app, names);
        if (!list.empty() && app->get_subcommands().empty())
            throw UsageError((app->get_name()[0] == 'i' ? "An " : "A ") + app->get_name() +
                             " subcommand is required: " + names + ".");
        app = app->get_subcommands().empty() ? nullptr : app->get_subcommands().front();
    }
}

int usage_error(const std::string& what) {
    std::cout.flush();
    std::cerr << "Error: " << what << std::endl;
    return qmtkit::cli::kExitUsage;
}

int run(int argc, char** argv) {
    CLI::App app{"qmtkit: MQTT through a Quectel BC28 / BC35-G module (AT+QMT... commands)"};
    app.set_help_flag("--help", "Print this help message and exit");
    app.footer(qmtkit::cli::kExitStatusHelp);
    app.require_subcommand(0, 1);
    app.fallthrough(false);
    app.allow_extras();
    // CLI11 takes "/x" for an option on Windows: a path like /tmp/image.bin would be one. Set
    // before the subcommands are added, which inherit it.
    app.allow_windows_style_options(false);

    std::vector<qmtkit::cli::Command> commands;
    commands.push_back(qmtkit::cli::add_pub(app));
    commands.push_back(qmtkit::cli::add_sub(app));
    commands.push_back(qmtkit::cli::add_sign(app));
    commands.push_back(qmtkit::cli::add_verify(app));
    commands.push_back(qmtkit::cli::add_image(app));
    commands.push_back(qmtkit::cli::add_ledger(app));
    commands.push_back(qmtkit::cli::add_provision(app));

    try {
        app.parse(argc, argv);
        for (auto& c : commands)
            if (c.unavailable && c.app->parsed()) return c.run();  // its arguments do not matter
        check_chain(app);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return usage_error(usage_message(e));
    } catch (const UsageError& e) {
        return usage_error(e.what());
    }
    for (auto& c : commands) {
        if (!c.app->parsed()) continue;
        // The backstop: each subcommand reports what it expects as one line itself; whatever
        // else is thrown still ends as one line and exit 1, never an abort.
        try {
            return c.run();
        } catch (const UsageError& e) {
            return usage_error(e.what());
        } catch (const qmtkit::cli::CommandFailure& e) {
            qmtkit::cli::warn(c.app->get_name(), e.what());
            return e.status();
        } catch (const std::exception& e) {
            return qmtkit::cli::fail(c.app->get_name(), e.what());
        } catch (...) {
            return qmtkit::cli::fail(c.app->get_name(), "unexpected error");
        }
    }
    return qmtkit::cli::kExitFailed;
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
    return qmtkit::cli::kExitFailed;
}
