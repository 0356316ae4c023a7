// Every command the SDK sends, declared once. Timeouts are the note's maximum response times;
// callers may override them per request (QMTCONN waits pkt_timeout, SUB/UNS/PUB wait
// pkt_timeout x (retry_times + 1), from the module's current "timeout" setting).
#pragma once

#include "qmtkit/at/command.hpp"

namespace qmtkit::at::cmd {

inline constexpr Millis kQuick = 300;             // "300 毫秒"
inline constexpr Millis kOpenResult = 75000;      // AT+QMTOPEN: 75 s
inline constexpr Millis kConnResult = 10000;      // AT+QMTCONN: pkt_timeout, 10 s by default
inline constexpr Millis kPacketResult = 40000;    // SUB/UNS/PUB: 10 s x (3 retries + first try)
inline constexpr Millis kTenAuthResult = 195000;  // AT+QMTTENAUTH: 195 s
// The note gives no time for the '>' of AT+QMTPUB. A module busy on the radio answers late, and
// giving up too early costs a cancel and a re-send; 2 s is far above what a healthy module
// takes (tens of ms) and still bounds a stalled line. See docs/at-engine.md, "Prompt".
inline constexpr Millis kPrompt = 2000;

namespace detail {
constexpr CommandSpec plain(std::string_view name, Form form, std::string_view info,
                            Millis timeout = kQuick) {
    CommandSpec s{};
    s.name = name;
    s.form = form;
    s.info = info;
    s.timeout = timeout;
    return s;
}
constexpr CommandSpec with_secret_fields(CommandSpec s, std::uint16_t fields) {
    s.secret_fields = fields;
    return s;
}
constexpr CommandSpec cfg(std::string_view head, std::uint16_t secrets = 0) {
    CommandSpec s = plain("+QMTCFG", Form::set, "+QMTCFG");
    s.head = head;
    s.secret_args = secrets;
    return s;
}
constexpr CommandSpec two_phase(std::string_view name, std::string_view result, std::uint8_t keys,
                                Millis result_timeout, std::uint16_t secrets = 0,
                                bool prompt = false) {
    CommandSpec s = plain(name, Form::set, {});
    s.result = result;
    s.result_keys = keys;
    s.result_timeout = result_timeout;
    s.secret_args = secrets;
    s.prompt = prompt;
    s.prompt_timeout = prompt ? kPrompt : 0;
    return s;
}
constexpr std::uint16_t arg(unsigned i) {
    return static_cast<std::uint16_t>(1u << i);
}
constexpr std::uint16_t field(unsigned i) {
    return static_cast<std::uint16_t>(1u << i);
}
}  // namespace detail

// --- bring-up (3GPP / Neul commands; BC28 answers these without a space after the colon)
inline constexpr CommandSpec at = detail::plain("", Form::exec, {});
inline constexpr CommandSpec echo_off = detail::plain("E0", Form::exec, {});
inline constexpr CommandSpec echo_on = detail::plain("E1", Form::exec, {});
inline constexpr CommandSpec identify = detail::plain("I", Form::exec, kAnyLine);
inline constexpr CommandSpec cmee = detail::plain("+CMEE", Form::set, {});
inline constexpr CommandSpec imei = detail::plain("+CGSN", Form::set, "+CGSN");  // AT+CGSN=1
inline constexpr CommandSpec imsi = detail::plain("+CIMI", Form::exec, kAnyLine);
inline constexpr CommandSpec iccid = detail::plain("+NCCID", Form::exec, "+NCCID");
inline constexpr CommandSpec attach_query = detail::plain("+CGATT", Form::query, "+CGATT");
inline constexpr CommandSpec reg_query = detail::plain("+CEREG", Form::query, "+CEREG");
inline constexpr CommandSpec signal_query = detail::plain("+CSQ", Form::exec, "+CSQ");
inline constexpr CommandSpec fun_query = detail::plain("+CFUN", Form::query, "+CFUN");
// REBOOTING, REBOOT_CAUSE_..., Neul, OK: everything up to OK is information.
inline constexpr CommandSpec reboot = detail::plain("+NRB", Form::exec, kAnyLine, 15000);

// --- AT+QMTCFG: the set form with the value omitted is the query (answers +QMTCFG: "<item>",...)
inline constexpr CommandSpec cfg_test = detail::plain("+QMTCFG", Form::test, "+QMTCFG");
inline constexpr CommandSpec cfg_version = detail::cfg("\"version\"");
inline constexpr CommandSpec cfg_keepalive = detail::cfg("\"keepalive\"");
inline constexpr CommandSpec cfg_session = detail::cfg("\"session\"");
inline constexpr CommandSpec cfg_timeout = detail::cfg("\"timeout\"");
inline constexpr CommandSpec cfg_will = detail::cfg("\"will\"");
// "aliauth",0,<productkey>,<devicename>,<devicesecret>: argument 4 is the secret.
inline constexpr CommandSpec cfg_aliauth = detail::cfg("\"aliauth\"", detail::arg(4));

// --- AT+QMTTENAUTH (the note also spells it AT+QMTENAUTH; its result line is +QMTTENAUTH)
// <product_id>,<device_name>,<client_id>,<device_secret>[,<expire>[,<url>]]: argument 3 is secret.
// The result "+QMTTENAUTH: <result_code>[,<password>]" carries the fetched password in field 1;
// the query's answer "+QMTTENAUTH: <password>" in field 0.
inline constexpr CommandSpec tenauth_test = detail::plain("+QMTTENAUTH", Form::test, "+QMTTENAUTH");
inline constexpr CommandSpec tenauth_query = detail::with_secret_fields(
    detail::plain("+QMTTENAUTH", Form::query, "+QMTTENAUTH"), detail::field(0));
inline constexpr CommandSpec tenauth = detail::with_secret_fields(
    detail::two_phase("+QMTTENAUTH", "+QMTTENAUTH", 0, kTenAuthResult, detail::arg(3)),
    detail::field(1));
inline constexpr CommandSpec enauth_test = detail::plain("+QMTENAUTH", Form::test, "+QMTTENAUTH");
inline constexpr CommandSpec enauth_query = detail::with_secret_fields(
    detail::plain("+QMTENAUTH", Form::query, "+QMTTENAUTH"), detail::field(0));
inline constexpr CommandSpec enauth = detail::with_secret_fields(
    detail::two_phase("+QMTENAUTH", "+QMTTENAUTH", 0, kTenAuthResult, detail::arg(3)),
    detail::field(1));

// --- network and session
inline constexpr CommandSpec open_test = detail::plain("+QMTOPEN", Form::test, "+QMTOPEN");
inline constexpr CommandSpec open_query = detail::plain("+QMTOPEN", Form::query, "+QMTOPEN");
inline constexpr CommandSpec open = detail::two_phase("+QMTOPEN", "+QMTOPEN", 1, kOpenResult);
inline constexpr CommandSpec close_test = detail::plain("+QMTCLOSE", Form::test, "+QMTCLOSE");
inline constexpr CommandSpec close = detail::two_phase("+QMTCLOSE", "+QMTCLOSE", 1, kQuick);
inline constexpr CommandSpec conn_test = detail::plain("+QMTCONN", Form::test, "+QMTCONN");
inline constexpr CommandSpec conn_query = detail::plain("+QMTCONN", Form::query, "+QMTCONN");
// 0,<clientID>[,<username>[,<password>]]: argument 3 is the password.
inline constexpr CommandSpec conn =
    detail::two_phase("+QMTCONN", "+QMTCONN", 1, kConnResult, detail::arg(3));
inline constexpr CommandSpec disc_test = detail::plain("+QMTDISC", Form::test, "+QMTDISC");
inline constexpr CommandSpec disc = detail::two_phase("+QMTDISC", "+QMTDISC", 1, kQuick);

// --- messages
inline constexpr CommandSpec sub_test = detail::plain("+QMTSUB", Form::test, "+QMTSUB");
inline constexpr CommandSpec sub = detail::two_phase("+QMTSUB", "+QMTSUB", 2, kPacketResult);
inline constexpr CommandSpec uns_test = detail::plain("+QMTUNS", Form::test, "+QMTUNS");
inline constexpr CommandSpec uns = detail::two_phase("+QMTUNS", "+QMTUNS", 2, kPacketResult);
inline constexpr CommandSpec pub_test = detail::plain("+QMTPUB", Form::test, "+QMTPUB");
inline constexpr CommandSpec pub = detail::two_phase("+QMTPUB", "+QMTPUB", 2, kPacketResult, 0,
                                                     /*prompt=*/true);

// Commands whose answers hold secrets. A line with one of their prefixes that no running or
// awaited command explains (a late or unsolicited answer) is traced with all their secret fields
// masked at once: which of them it answers cannot be told.
inline constexpr const CommandSpec* secret_answers[] = {&tenauth, &tenauth_query, &enauth,
                                                        &enauth_query};

// URC prefixes of chapter 4.
inline constexpr std::string_view urc_stat = "+QMTSTAT";
inline constexpr std::string_view urc_recv = "+QMTRECV";

}  // namespace qmtkit::at::cmd
