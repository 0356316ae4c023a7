// bc28-sim: a Quectel BC28 / BC35-G NB-IoT module (its MQTT AT commands) on a pseudo-terminal.
#include "server.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
    bc28sim::ServerConfig cfg;
    auto& mo = cfg.module;
    std::string preset;
    long rtt = -1;
    long uplink = -1;
    long proc = -1;
    std::string variant = "bc28";

    CLI::App app{
        "bc28-sim: emulates a Quectel BC28 / BC35-G NB-IoT module and its MQTT client (AT+QMT...)\n"
        "on a pseudo-terminal. Prints the pty path as the first line of stdout (then \"tcp "
        "<port>\"\n"
        "when --tcp is given). The broker is whatever AT+QMTOPEN names, as on the real module.\n\n"
        "Link presets (--preset), rough NB-IoT figures (override with --rtt-ms / --uplink-kbps /\n"
        "--proc-ms); a two-phase result comes proc + k x RTT after the command "
        "(docs/emulator.md):\n"
        "  lan   RTT 0 ms, uplink unlimited, processing 20 ms (default)\n"
        "  ecl0  RTT 2000 ms (1-3 s at coverage level 0), uplink 20 kbit/s, processing 20 ms\n"
        "  ecl1  RTT 5000 ms, uplink 5 kbit/s, processing 20 ms\n"
        "  ecl2  RTT 15000 ms (10-25 s at coverage level 2), uplink 1 kbit/s, processing 20 ms\n\n"
        "Control channel (--control PATH, one command a line, answers \"OK ...\" or \"ERR ...\"):\n"
        "  status | drop [stat] | ping-timeout | stat <n> | reboot [cause] | garbage [count] |\n"
        "  garbage-hex <hex> | split <ms> | delay <ms> | urc <line> | urc-in-reply <line> |\n"
        "  refuse-open on|off | refuse-conn <rc>|off | stall-acks on|off | rtt <ms> | uplink "
        "<kbps> |\n"
        "  proc <ms> | csq <n>        (see docs/emulator.md)",
        "bc28-sim"};
    app.option_defaults()->always_capture_default();

    app.add_option("--link", cfg.link, "Create a symlink PATH to the pty device (removed on exit)");
    app.add_option(
        "--tcp", cfg.tcp_port,
        "Also serve the serial line on this TCP port, like a terminal server (0 = pick a "
        "free port and print it as \"tcp <port>\"); one client at a time");
    app.add_option("--tcp-bind", cfg.tcp_bind, "Address the TCP port binds to");
    app.add_option("--control", cfg.control,
                   "Unix socket for run-time fault injection (line-based)");
    app.add_option(
        "--fault", cfg.faults,
        "Control command applied at start-up (repeatable), e.g. --fault 'refuse-conn 5'");
    app.add_option("--preset", preset, "Link preset: lan, ecl0, ecl1, ecl2")
        ->check(CLI::IsMember({"lan", "ecl0", "ecl1", "ecl2"}));
    app.add_option("--rtt-ms", rtt,
                   "Network round trip in ms: each exchange of a command (DNS, TCP connect, "
                   "CONNECT/CONNACK, SUBSCRIBE/SUBACK, ...) costs one (half each way)");
    app.add_option("--proc-ms", proc,
                   "Processing delay in ms before every two-phase result (+QMTOPEN, +QMTCONN, "
                   "+QMTSUB, +QMTPUB, ...): the module acts on a command this long after its CR "
                   "(default 20; 0 = results in the OK's burst)");
    app.add_option("--uplink-kbps", uplink,
                   "Uplink rate in kbit/s; packets queue behind each other (0 = unlimited)");
    app.add_option("--baud", cfg.baud,
                   "Pace the serial line as a UART at N baud, 8N1 (0 = unpaced)");
    app.add_option("--imei", mo.identity.imei, "IMEI answered to AT+CGSN=1");
    app.add_option("--imsi", mo.identity.imsi, "IMSI answered to AT+CIMI");
    app.add_option("--iccid", mo.identity.iccid, "ICCID answered to AT+NCCID");
    app.add_option("--model", mo.identity.model, "Model line of ATI (BC28 or BC35-G)");
    app.add_option("--revision", mo.identity.revision, "Firmware revision line of ATI");
    app.add_flag("--recv-quoted", mo.recv_quoted,
                 "Quote the +QMTRECV payload (\"...\"); default: bare, up to the end of the line");
    app.add_flag("--prompt-space", mo.prompt_space,
                 "Send \"> \" (with a space) after AT+QMTPUB instead of \">\"");
    app.add_option("--token-url", mo.token_url,
                   "Token URL of AT+QMTTENAUTH when the command gives none");
    app.add_option("--token-timeout-ms", cfg.token_timeout_ms,
                   "Token request timeout (maps to +QMTTENAUTH: 6); the note allows 195 s");
    app.add_option("--boot-ms", mo.boot_ms,
                   "Time from REBOOTING to the boot banner (AT+NRB, reboot fault)");
    app.add_option("--csq", mo.csq, "Signal quality answered to AT+CSQ (0-31, 99)");
    app.add_option("--max-inflight", mo.max_inflight,
                   "Publishes awaiting +QMTPUB before AT+QMTPUB answers +CME ERROR: 159");
    app.add_flag("--strict-msgid", mo.strict_pub_msgid,
                 "Refuse AT+QMTPUB with QoS 0 and a msgID other than 0 (+CME ERROR: 50); "
                 "default: accepted, the id comes back in +QMTPUB");
    app.add_flag("--close-after-disc-ok", mo.close_after_disc_ok,
                 "AT+QMTCLOSE right after AT+QMTDISC answers +QMTCLOSE: 0,0 (default 0,-1: the "
                 "network is closed already)");
    app.add_flag("--reboot-keeps-echo", mo.reboot_keeps_echo,
                 "ATE0 survives AT+NRB and resets (default: echo is on again after a reset)");
    app.add_option("--variant", variant,
                   "Module family: bc28 (the BC28 / BC35-G note, default), bg95 or ec2x (adds "
                   "AT+QMTCFG \"recv/mode\" / \"pdpcid\" / \"ssl\", AT+QMTRECV, AT+QMTPUBEX; "
                   "connect IDs 0-5, each its own MQTT client)")
        ->check(CLI::IsMember({"bc28", "bg95", "ec2x"}));
    app.add_flag("-v,--verbose", cfg.verbose,
                 "Log commands, results and network events to stderr (no secrets)");

    CLI11_PARSE(app, argc, argv);

    if (preset == "ecl0") {
        mo.rtt_ms = 2000;
        mo.uplink_kbps = 20;
    } else if (preset == "ecl1") {
        mo.rtt_ms = 5000;
        mo.uplink_kbps = 5;
    } else if (preset == "ecl2") {
        mo.rtt_ms = 15000;
        mo.uplink_kbps = 1;
    }
    // Every preset keeps the module's own processing delay (Options::proc_ms, 20 ms): it does
    // not depend on the radio's coverage level.
    if (rtt >= 0) mo.rtt_ms = rtt;
    if (proc >= 0) mo.proc_ms = proc;
    if (variant == "bg95" || variant == "ec2x") {
        mo.variant = variant == "bg95" ? bc28sim::Variant::bg95 : bc28sim::Variant::ec2x;
        // ATI names the module asked for, unless --model / --revision say otherwise.
        if (app.count("--model") == 0) mo.identity.model = variant == "bg95" ? "BG95-M3" : "EC21";
        if (app.count("--revision") == 0)
            mo.identity.revision = variant == "bg95" ? "BG95M3LAR02A03" : "EC21EFAR06A01M4G";
    }
    if (uplink >= 0) mo.uplink_kbps = static_cast<unsigned>(uplink);
    if (mo.max_inflight < 1) {
        std::cerr << "bc28-sim: --max-inflight must be at least 1\n";
        return 2;
    }
    return bc28sim::run_server(cfg);
}
