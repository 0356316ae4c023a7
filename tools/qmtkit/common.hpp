// Shared by every qmtkit subcommand: the common options (device, broker, credentials, trace),
// checking a command line completely before anything is opened, building a session from it, the
// exit statuses, and reporting a failure as one line on stderr.
//
// Two kinds of message, each one line on stderr:
//   "Error: <what>"          the command line is wrong (a usage error, as mosquitto_pub prints
//                            it); nothing was opened or sent. Exit status 1.
//   "qmtkit <tool>: <cause>" the command ran and failed (a message, the link, a device). Exit 1.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "qmtkit/qmt/client.hpp"

namespace qmtkit::cli {

// ---------------------------------------------------------------------------- exit statuses

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // a message, subscription, device or the link failed
inline constexpr int kExitUsage = 1;     // the command line is wrong (as mosquitto_pub)
inline constexpr int kExitManifest = 2;  // verify, pub / sub --manifest: the manifest is invalid
inline constexpr int kExitBadImage = 2;  // image inspect: corrupt, truncated or unreadable image
// pub -f FILE / -s: the message is empty (without -n) or over 1024 bytes: a data error, as a
// manifest's.
inline constexpr int kExitBadInput = 2;
// A file the command line names (pub -f, --pw-file, sign --device-secret-file, verify --cafile)
// or stdin (pub -l, -s) cannot be read;
// sysexits.h's EX_NOINPUT. Nothing was sent.
inline constexpr int kExitNoInput = 66;
// The device (--device) cannot be opened: it does not exist, is a directory, a regular file, a
// FIFO or another thing that is not a terminal, permission is denied, a tcp:// device does not
// resolve or refuses; sysexits.h's EX_IOERR. Nothing was sent. (A device that goes away during a
// run is a failure, 1.)
inline constexpr int kExitNoDevice = 74;
// Not in this build (the Windows build: sign, verify, image build, ledger, provision,
// --manifest); sysexits.h's EX_UNAVAILABLE, so a script can tell it from a failure.
inline constexpr int kExitUnavailable = 69;
// Stopped by SIGINT / SIGTERM (after DISCONNECT and CLOSE): 128 + the signal, 130 / 143.
inline int exit_for_signal(int sig) {
    return 128 + sig;
}
// The table every --help ends with (docs/host-and-cli.md, "Exit status", has the same rows).
extern const char* const kExitStatusHelp;

// ----------------------------------------------------------------------------- usage errors

// The command line is wrong: main() prints "Error: <what()>" and exits kExitUsage.
class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The command ran and could not go on before anything was sent: main() prints
// "qmtkit <tool>: <what()>" (unless --quiet) and exits status() (kExitNoInput, kExitNoDevice).
class CommandFailure : public std::runtime_error {
  public:
    CommandFailure(int status, const std::string& what)
        : std::runtime_error(what), status_(status) {}
    int status() const { return status_; }

  private:
    int status_;
};

// An unsigned decimal integer in [lo, hi] (digits only: no sign, no exponent, no spaces), or a
// UsageError "Invalid <what> given: <text> (<option> takes <allowed>)." — `allowed` defaults to
// "<lo> to <hi>".
std::uint64_t parse_uint(const std::string& text, const std::string& what,
                         const std::string& option, std::uint64_t lo, std::uint64_t hi,
                         const std::string& allowed = {});
// A size in bytes: parse_uint's digits, optionally followed by K, M or G (x 1024, 1024^2,
// 1024^3), in [lo, hi]; UsageError otherwise.
std::uint64_t parse_size(const std::string& text, const std::string& what,
                         const std::string& option, std::uint64_t lo, std::uint64_t hi);
// A finite decimal number of seconds in [0.001, 1000000]; UsageError otherwise.
double parse_seconds(const std::string& text, const std::string& what, const std::string& option);
inline constexpr double kMinSeconds = 0.001, kMaxSeconds = 1000000;
// One of `choices`; UsageError "Invalid <what> given: <text> (<option> takes a, b or c)." else.
std::string parse_choice(const std::string& text, const std::string& what,
                         const std::string& option, const std::vector<std::string>& choices);
// "a", "a or b", "a, b or c".
std::string one_of(const std::vector<std::string>& choices);

// A string that goes on an AT command line: refused with its name unless it is `min`..`max`
// bytes and free of '"', CR, LF and NUL. Never repeats the value (it may be a secret).
//   "Invalid client id (-i): it holds a double quote, which an AT command line cannot carry."
//   "Invalid client id (-i): 256 bytes; at most 255."     "Invalid client id (-i): it is empty."
void check_field(std::string_view value, const std::string& what, const std::string& option,
                 std::size_t min, std::size_t max);
// A topic, a filter, a client id or a user name: MQTT strings are UTF-8 (a broker closes the
// connection on anything else). UsageError "Invalid <what> (<option>): it is not valid UTF-8
// (byte N)." otherwise; never repeats the value.
void check_utf8(std::string_view value, const std::string& what, const std::string& option);
// `value` holds none of `separators`, or UsageError
//   "Invalid <what> (<option>): it holds '<c>', which <role> uses as a separator."
void check_separators(std::string_view value, const std::string& what, const std::string& option,
                      std::string_view separators, const std::string& role);

// --broker HOST, HOST:PORT or [V6]:PORT into host and port (port left as it is without one);
// UsageError naming --broker otherwise.
void parse_broker(const std::string& text, std::string& host, std::optional<std::uint16_t>& port);

// Limits of what goes to the module. The note gives 100 bytes for a host and 255 for topics and
// will strings, and no length for the client id or the credentials: qmtkit takes 255 for those
// too (the SDK's default capacity; docs/host-and-cli.md, docs/emulator.md).
inline constexpr std::size_t kMaxClientId = 255;
inline constexpr std::size_t kMaxCredential = 255;

// ------------------------------------------------------------------------ subcommand registry

// One subcommand: its CLI11 app and what runs when it was chosen. run() checks the whole command
// line first (throwing UsageError) and only then opens or sends anything.
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
    // A subcommand this build lacks: its run() answers without looking at its arguments, so
    // main() does not check them either.
    bool unavailable = false;
};

// Every value option is kept as text as given and checked by the subcommand, so that each
// message names the option and its range in words (see parse_uint). `given(o)`: it was on the
// command line.
inline bool given(const CLI::Option* o) {
    return o != nullptr && o->count() > 0;
}
// Throws UsageError("<name> is required.") unless the option was given.
void require(const CLI::Option* o, const std::string& name);

// ------------------------------------------------------------------------- common options

struct CommonOptions {
    // As given.
    std::string device;
    std::string pw_file;
    std::string will_topic;
    std::string will_payload;
    std::string will_qos_text = "0";
    bool will_retain = false;
    // A device of a manifest (docs/signing.md): its broker, client id and credentials.
    std::string manifest;
    std::string device_name;
    std::string imei;
    bool sign_on_host = false;
    std::string broker;
    std::string token_url;
    std::string baud_text = "9600";
    std::string flow = "none";
    std::string host;
    std::string port_text = "1883";
    std::string client_id;
    std::string username;
    std::string password;
    std::string keepalive_text = "60";
    std::string protocol = "311";
    std::string pkt_timeout_text = "10";
    std::string retry_text = "3";
    std::string timeout_text = "60";
    bool disable_clean_session = false;
    bool trace = false;
    bool debug = false;
    CLI::Option* device_opt = nullptr;
    CLI::Option* host_opt = nullptr;
    CLI::Option* id_opt = nullptr;
    CLI::Option* password_opt = nullptr;
    CLI::Option* port_opt = nullptr;
    CLI::Option* username_opt = nullptr;
    CLI::Option* pw_file_opt = nullptr;
    CLI::Option* will_topic_opt = nullptr;
    CLI::Option* will_payload_opt = nullptr;
    CLI::Option* will_qos_opt = nullptr;
    CLI::Option* will_retain_opt = nullptr;
    CLI::Option* manifest_opt = nullptr;
    CLI::Option* device_name_opt = nullptr;
    CLI::Option* imei_opt = nullptr;
    CLI::Option* sign_on_host_opt = nullptr;
    CLI::Option* broker_opt = nullptr;
    CLI::Option* token_url_opt = nullptr;

    // Checked (check_common).
    unsigned baud = 9600;
    unsigned port = 1883;
    unsigned keepalive = 60;
    std::uint8_t version = 4;
    unsigned pkt_timeout = 10;
    unsigned retry_times = 3;
    double timeout_s = 60;
    // Where the password came from: "" (none), "-P", "--pw-file" or "$QMTKIT_PASSWORD"; the
    // password itself is in `password` (a file's content without one trailing newline).
    std::string password_source;
    bool has_will = false;
    std::uint8_t will_qos = 0;
    std::string broker_host;  // --broker HOST[:PORT]
    std::optional<std::uint16_t> broker_port;
};

// The environment variable a password may come from (exactly one of -P, --pw-file and it).
inline constexpr const char* kPasswordEnv = "QMTKIT_PASSWORD";

// Adds --device, --baud, --flow, -h/--host, -p/--port, -i/--id, -u/--username, -P/--pw,
// --pw-file, -k/--keepalive, -V/--protocol-version, -c, --pkt-timeout, --retry, the will
// options, the manifest device options (--manifest, --device-name, --imei, --sign-on-host,
// --broker, --token-url), --trace, -d/--debug, --timeout, and the exit-status table to --help.
void add_common_options(CLI::App& app, CommonOptions& o);
// Checks every common option (required ones, numbers, the strings that go to the module, which
// options go together) and reads the password from --pw-file or $QMTKIT_PASSWORD.
void check_common(CommonOptions& o);

// --device before anything is read or opened: a tcp:// device must be tcp://HOST:PORT
// (UsageError); a serial device must exist and be a character device this process may read and
// write (CommandFailure kExitNoDevice "cannot open serial device PATH: ..."). Opening it
// (open_link) catches the rest: a character device that is not a terminal (/dev/null).
void check_device(const CommonOptions& o);
// The line of a device that did not open (open_link's host::TransportError): its message, with
// "it is not a terminal" for a character device that is not one (/dev/null: ENOTTY).
std::string device_open_failure(const std::string& device, const std::string& what,
                                std::error_code ec);
// pub -l / -s: stdin must be open and not a directory (CommandFailure kExitNoInput).
void check_stdin_readable();

// The session the supervisor brings up from -h, -p, -i, -u and the password. Its string views
// point into `o` and `client_id`.
qmt::Session make_session(const CommonOptions& o, const std::string& client_id);
// The module settings (-k, -V, -c, --pkt-timeout, --retry) and the will (views into `o`).
void apply_settings(const CommonOptions& o, qmt::Session& s);
// The client id: -i, or `prefix` and 8 random hex digits.
std::string client_id_for(const CommonOptions& o, const std::string& prefix);

// A client that never runs (its writer drops everything, nothing is ever started): the checks
// the SDK makes on a session, a topic or a filter, made before the real port is touched.
class OfflineClient {
  public:
    OfflineClient();
    ~OfflineClient();
    OfflineClient(const OfflineClient&) = delete;
    OfflineClient& operator=(const OfflineClient&) = delete;
    qmt::ClientCore& core();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Checks `s` on an offline client (a UsageError naming the SDK's reason if it refuses; the CLI's
// own field checks come first and name the option).
void check_session_offline(OfflineClient& c, const qmt::Session& s);

// ---------------------------------------------------------------------------- reporting

// Prints "qmtkit <tool>: <cause>" on stderr and returns kExitFailed.
int fail(const std::string& tool, const std::string& cause);
// Prints "qmtkit <tool>: not available in the Windows build: <what>" on stderr (even with
// --quiet: nothing was tried) and returns kExitUnavailable.
int unavailable(const std::string& tool, const std::string& what);
// Prints "qmtkit <tool>: <what>" on stderr (something went wrong, the command goes on).
void warn(const std::string& tool, const std::string& what);
// pub --quiet: warn() and fail() print nothing from now on (the exit status still tells; usage
// errors, -d and --trace still print).
void set_quiet(bool quiet);

std::chrono::milliseconds seconds(double s);
// "2", "2.5", "0.001": seconds as a person writes them.
std::string format_seconds(double s);

// main.cpp calls these; each is defined in its own cmd_*.cpp.
Command add_pub(CLI::App& root);
Command add_sub(CLI::App& root);
Command add_sign(CLI::App& root);    // cmd_sign.cpp
Command add_verify(CLI::App& root);  // cmd_verify.cpp
Command add_image(CLI::App& root);   // cmd_image.cpp (Windows build: cmd_unavailable.cpp)

}  // namespace qmtkit::cli
