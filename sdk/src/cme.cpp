#include "qmtkit/at/cme.hpp"

namespace qmtkit::at {
namespace {

struct Entry {
    Cme code;
    std::string_view name;
};

// Chapter 5, tables 4 (27.007) and 5 (27.005), in the wording of 3GPP's verbose result codes.
#if QMTKIT_NAMES
constexpr Entry kTable[] = {
    {Cme::operation_not_allowed, "operation not allowed"},
    {Cme::operation_not_supported, "operation not supported"},
    {Cme::memory_failure, "memory failure"},
    {Cme::no_network_service, "no network service"},
    {Cme::incorrect_parameters, "incorrect parameters"},
    {Cme::command_disabled, "command implemented but currently disabled"},
    {Cme::aborted_by_user, "command aborted by user"},
    {Cme::uplink_busy, "uplink busy/flow control"},
    {Cme::me_failure, "ME failure"},
    {Cme::sms_me_reserved, "SMS service of ME reserved"},
    {Cme::sms_operation_not_allowed, "operation not allowed (SMS)"},
    {Cme::sms_operation_not_supported, "operation not supported (SMS)"},
    {Cme::invalid_pdu_mode_parameter, "invalid PDU mode parameter"},
    {Cme::invalid_text_mode_parameter, "invalid text mode parameter"},
    {Cme::usim_not_inserted, "USIM not inserted"},
    {Cme::usim_pin_required, "USIM PIN required"},
    {Cme::ph_usim_pin_required, "PH-USIM PIN required"},
    {Cme::usim_failure, "USIM failure"},
    {Cme::usim_busy, "USIM busy"},
    {Cme::usim_wrong, "USIM wrong"},
    {Cme::usim_puk_required, "USIM PUK required"},
    {Cme::usim_pin2_required, "USIM PIN2 required"},
    {Cme::usim_puk2_required, "USIM PUK2 required"},
    {Cme::sms_memory_failure, "memory failure (SMS)"},
    {Cme::invalid_memory_index, "invalid memory index"},
    {Cme::memory_full, "memory full"},
    {Cme::smsc_address_unknown, "SMSC address unknown"},
    {Cme::sms_no_network_service, "no network service (SMS)"},
    {Cme::network_timeout, "network timeout"},
    {Cme::no_cnma_expected, "no +CNMA acknowledgement expected"},
    {Cme::unknown_error, "unknown error"},
};
#else
constexpr Entry kTable[] = {{Cme::none, {}}};  // names compiled out (QMTKIT_NAMES 0)
#endif

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

std::string_view cme_name(Cme code) {
    for (const Entry& e : kTable) {
        if (e.code == code) return e.name;
    }
    if (code == Cme::unrecognised_text) return "unrecognised verbose error";
    if (code == Cme::none) return "none";
    return "unknown CME error";
}

bool cme_known(Cme code) {
    for (const Entry& e : kTable) {
        if (e.code == code) return true;
    }
    return false;
}

Cme cme_parse(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text.empty()) return Cme::unrecognised_text;
    bool digits = true;
    std::uint32_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9' || v > 0xFFFFu) {
            digits = false;
            break;
        }
        v = v * 10u + static_cast<std::uint32_t>(c - '0');
    }
    if (digits && v < 0xFFFEu) return static_cast<Cme>(v);
    for (const Entry& e : kTable) {
        if (iequal(e.name, text)) return e.code;
    }
    return Cme::unrecognised_text;
}

}  // namespace qmtkit::at
