// +CME ERROR codes of the note's chapter 5 (3GPP 27.007 and 27.005 tables), decoded to names.
#pragma once

#include <cstdint>
#include <string_view>

#include "qmtkit/common/build.hpp"

namespace qmtkit::at {

enum class Cme : std::uint16_t {
    // 27.007
    operation_not_allowed = 3,
    operation_not_supported = 4,
    memory_failure = 23,
    no_network_service = 30,
    incorrect_parameters = 50,
    command_disabled = 51,
    aborted_by_user = 52,
    uplink_busy = 159,  // flow control: back-pressure, not a failure
    // 27.005
    me_failure = 300,
    sms_me_reserved = 301,
    sms_operation_not_allowed = 302,
    sms_operation_not_supported = 303,
    invalid_pdu_mode_parameter = 304,
    invalid_text_mode_parameter = 305,
    usim_not_inserted = 310,
    usim_pin_required = 311,
    ph_usim_pin_required = 312,
    usim_failure = 313,
    usim_busy = 314,
    usim_wrong = 315,
    usim_puk_required = 316,
    usim_pin2_required = 317,
    usim_puk2_required = 318,
    sms_memory_failure = 320,
    invalid_memory_index = 321,
    memory_full = 322,
    smsc_address_unknown = 330,
    sms_no_network_service = 331,
    network_timeout = 332,
    no_cnma_expected = 340,
    unknown_error = 500,
    // Not a module code: a verbose "+CME ERROR: <text>" whose text matched no known name.
    unrecognised_text = 0xFFFE,
    none = 0xFFFF,
};

// The note's description ("operation not allowed"); "unknown CME error" for codes outside the
// tables.
std::string_view cme_name(Cme code);
// True for codes that appear in either table of chapter 5.
bool cme_known(Cme code);
// Decodes the text after "+CME ERROR:" — a number, or a verbose name (case-insensitive).
Cme cme_parse(std::string_view text);

}  // namespace qmtkit::at
