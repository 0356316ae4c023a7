// The Windows build's sign, verify, ledger and provision: each is there by name (so
// `qmtkit sign …` is not an unknown subcommand and --help says why) and answers one line, exit
// kExitUnavailable, whatever its arguments. Debian has no mingw-w64 build of the libraries they
// need; the Linux build has the real ones (cmd_sign.cpp, cmd_verify.cpp, ...). `image build`
// answers so from cmd_image.cpp, whose `image inspect` the Windows build has.
#include "common.hpp"

namespace qmtkit::cli {
namespace {

Command unavailable_command(CLI::App& root, const std::string& name, const std::string& why) {
    CLI::App* app = root.add_subcommand(name, "Not available in the Windows build: " + why);
    app->footer(kExitStatusHelp);
    app->allow_extras();
    app->prefix_command();  // everything after the name is left alone: nothing is checked
    Command c{app, [name, why] { return unavailable(name, why); }};
    c.unavailable = true;
    return c;
}

}  // namespace

Command add_sign(CLI::App& root) {
    return unavailable_command(root, "sign", "it signs with OpenSSL (HMAC)");
}

Command add_verify(CLI::App& root) {
    return unavailable_command(root, "verify",
                               "it signs with OpenSSL and connects with libmosquitto");
}

Command add_ledger(CLI::App& root) {
    return unavailable_command(root, "ledger", "the ledger is SQLite or PostgreSQL (libpq)");
}

Command add_provision(CLI::App& root) {
    return unavailable_command(root, "provision",
                               "it needs OpenSSL, libcurl and the ledger (SQLite, libpq)");
}

}  // namespace qmtkit::cli
