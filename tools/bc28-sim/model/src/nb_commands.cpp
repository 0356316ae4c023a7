// The NB-IoT / 3GPP bring-up commands a BC28 driver sends before any AT+QMT command: formats of
// the Quectel "BC35-G&BC28&BC95 R2.0 AT Commands Manual" (BC28 style: no space after the colon).
// docs/emulator.md, "BC28 bring-up commands", lists every answer and where it comes from.
#include "bc28sim/module.hpp"

#include <algorithm>
#include <cctype>

namespace bc28sim {

namespace {

constexpr int kNotAllowed = 3;
constexpr int kNotSupported = 4;
constexpr int kBadParam = 50;

// A CGNAT address (RFC 6598), as operators hand NB-IoT devices; nothing routes to it.
const char* const kPdpAddress = "100.64.0.2";
const std::vector<int> kSupportedBands = {1, 3, 5, 8, 20, 28};  // BC28 / BC35-G

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool int_arg(const Arg& a, long lo, long hi, long& out) {
    const auto v = a.as_int();
    if (!v || *v < lo || *v > hi) return false;
    out = *v;
    return true;
}

// A bit string of exactly `n` characters, quoted or bare (27.007 calls the timers strings,
// drivers send them either way: both are taken).
bool bits_arg(const Arg& a, std::size_t n, std::string& out) {
    if (a.is_empty() || a.text.size() != n) return false;
    if (!std::all_of(a.text.begin(), a.text.end(), [](char c) { return c == '0' || c == '1'; }))
        return false;
    out = a.text;
    return true;
}

// The AT+NCONFIG items of the R2.0 firmware (V150R100C10B300), in the order AT+NCONFIG? lists
// them. AUTOCONNECT is kept apart (it changes what the module does at boot).
struct NconfigItem {
    const char* name;
    const char* values;  // "bool", or a range "lo-hi", or a list "A|B"
    const char* dflt;
};
const NconfigItem kNconfig[] = {
    {"CR_0354_0338_SCRAMBLING", "bool", "TRUE"},
    {"CR_0859_SI_AVOID", "bool", "TRUE"},
    {"COMBINE_ATTACH", "bool", "FALSE"},
    {"CELL_RESELECTION", "bool", "TRUE"},
    {"ENABLE_BIP", "bool", "FALSE"},
    {"MULTITONE", "bool", "TRUE"},
    {"NAS_SIM_POWER_SAVING_ENABLE", "bool", "TRUE"},
    {"BARRING_RELEASE_DELAY", "0-1800", "64"},
    {"RELEASE_VERSION", "13|14", "13"},
    {"RPM", "bool", "FALSE"},
    {"SYNC_TIME_PERIOD", "0-65535", "0"},
    {"IPV6_GET_PREFIX_TIME", "0-65535", "15"},
    {"NB_CATEGORY", "1|2", "1"},
    {"RAI", "bool", "FALSE"},
    {"HEAD_COMPRESS", "bool", "FALSE"},
    {"RLF_UPDATE", "bool", "FALSE"},
    {"CONNECTION_REESTABLISHMENT", "bool", "FALSE"},
    {"PCO_IE_TYPE", "PCO|EPCO", "EPCO"},
};

// Canonical value for item `it`, or "" if `v` is not one of its values.
std::string nconfig_value(const NconfigItem& it, const std::string& v) {
    const std::string u = upper(v);
    const std::string kinds = it.values;
    if (kinds == "bool") return (u == "TRUE" || u == "FALSE") ? u : "";
    const auto dash = kinds.find('-');
    if (dash != std::string::npos) {
        Arg a;
        a.kind = Arg::Kind::bare;
        a.text = v;
        long x = 0;
        if (!int_arg(a, std::stol(kinds.substr(0, dash)), std::stol(kinds.substr(dash + 1)), x))
            return "";
        return std::to_string(x);
    }
    std::size_t start = 0;
    while (start <= kinds.size()) {
        const auto bar = kinds.find('|', start);
        const std::string choice =
            kinds.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
        if (u == choice) return choice;
        if (bar == std::string::npos) break;
        start = bar + 1;
    }
    return "";
}

std::string nconfig_test_list(const NconfigItem& it) {
    const std::string kinds = it.values;
    if (kinds == "bool") return "(FALSE,TRUE)";
    std::string r = kinds;
    std::replace(r.begin(), r.end(), '|', ',');
    return "(" + r + ")";
}

}  // namespace

std::optional<Module::Reply> Module::cmd_nb(const CommandLine& c) {
    const std::string& n = c.name;
    const auto& a = c.args;
    long v = 0;
    const bool attached = s_.cfun == 1 && s_.cgatt == 1;

    if (n == "+CGSN") {
        // 27.007 §5.4 / manual: +CGSN:<sn|imei|imeisv|svn>; 0 (and the bare form) is the
        // serial number, which this module reports as its IMEI.
        if (c.form == Form::test) return ok({"+CGSN:(0,1,2,3)"});
        long snt = 0;
        if (c.form == Form::set) {
            if (a.size() != 1 || !int_arg(a[0], 0, 3, snt)) return error(kBadParam);
        } else if (c.form != Form::exec) {
            return error(kNotSupported);
        }
        const std::string& imei = opt_.identity.imei;
        const std::string svn = "01";
        switch (snt) {
            case 2:
                return ok(
                    {"+CGSN:" + imei.substr(0, std::min<std::size_t>(14, imei.size())) + svn});
            case 3:
                return ok({"+CGSN:" + svn});
            default:
                return ok({"+CGSN:" + imei});
        }
    }
    if (n == "+CGMR") {
        if (c.form == Form::test) return ok();
        if (c.form != Form::exec) return error(kNotSupported);
        return ok({"SSB,V150R100C10B200SP1", "SECURITY_A,V150R100C20B300SP7",
                   "PROTOCOL_A,V150R100C20B300SP7", "APPLICATION_A,V150R100C20B300SP7",
                   "SECURITY_B,V150R100C20B300SP7", "RADIO,Hi2115_RF7"});
    }
    if (n == "+CPIN") {
        if (c.form == Form::test) return ok();
        if (c.form != Form::query) return error(kNotSupported);
        if (s_.cfun == 0) return error(kNotAllowed);  // the SIM is off at minimum functionality
        return ok({"+CPIN:READY"});
    }
    if (n == "+NATSPEED") {
        if (c.form == Form::query) return ok({"+NATSPEED:9600,0,1,0,0"});
        if (c.form == Form::test)
            return ok(
                {"+NATSPEED:(4800,9600,57600,115200,230400,460800),(0-30000),(1,2),(0-2),"
                 "(0,1)"});
        return error(kNotSupported);  // changing the line speed is not modelled
    }
    if (n == "+NBAND") {
        if (c.form == Form::test) return ok({"+NBAND:(1,3,5,8,20,28)"});
        if (c.form == Form::query) {
            std::string l = "+NBAND:";
            for (std::size_t i = 0; i < nv_.bands.size(); ++i)
                l += (i ? "," : "") + std::to_string(nv_.bands[i]);
            return ok({l});
        }
        if (c.form != Form::set || a.empty() || a.size() > kSupportedBands.size())
            return error(kBadParam);
        std::vector<int> bands;
        for (const auto& arg : a) {
            if (!int_arg(arg, 1, 255, v)) return error(kBadParam);
            const int b = static_cast<int>(v);
            if (std::find(kSupportedBands.begin(), kSupportedBands.end(), b) ==
                    kSupportedBands.end() ||
                std::find(bands.begin(), bands.end(), b) != bands.end())
                return error(kBadParam);
            bands.push_back(b);
        }
        if (s_.cfun != 0) return error(kNotAllowed);  // bands change at minimum functionality
        nv_.bands = std::move(bands);
        return ok();
    }
    if (n == "+NCONFIG") {
        if (c.form == Form::query) {
            std::vector<std::string> lines = {std::string("+NCONFIG:AUTOCONNECT,") +
                                              (nv_.autoconnect ? "TRUE" : "FALSE")};
            for (const auto& it : kNconfig) {
                const auto f = nv_.nconfig.find(it.name);
                lines.push_back(std::string("+NCONFIG:") + it.name + "," +
                                (f == nv_.nconfig.end() ? std::string(it.dflt) : f->second));
            }
            return ok(lines);
        }
        if (c.form == Form::test) {
            std::string l = "+NCONFIG:(AUTOCONNECT,(FALSE,TRUE))";
            for (const auto& it : kNconfig)
                l += std::string(",(") + it.name + "," + nconfig_test_list(it) + ")";
            return ok({l});
        }
        if (c.form != Form::set || a.size() != 2 || a[0].is_empty() || a[1].is_empty())
            return error(kBadParam);
        const std::string fn = upper(a[0].text);
        if (fn == "AUTOCONNECT") {
            const std::string val = upper(a[1].text);
            if (val != "TRUE" && val != "FALSE") return error(kBadParam);
            nv_.autoconnect = val == "TRUE";  // takes effect at the next boot
            return ok();
        }
        for (const auto& it : kNconfig) {
            if (fn != it.name) continue;
            const std::string val = nconfig_value(it, a[1].text);
            if (val.empty()) return error(kBadParam);
            nv_.nconfig[it.name] = val;
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+QREGSWT") {
        if (c.form == Form::query) return ok({"+QREGSWT:" + std::to_string(nv_.qregswt)});
        if (c.form == Form::test) return ok({"+QREGSWT:(0-2)"});
        if (c.form == Form::set && a.size() == 1 && int_arg(a[0], 0, 2, v)) {
            nv_.qregswt = static_cast<int>(v);
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+NSONMI") {
        if (c.form == Form::query) return ok({"+NSONMI:" + std::to_string(nb_.nsonmi)});
        if (c.form == Form::test) return ok({"+NSONMI:(0,1,2,3)"});
        if (c.form == Form::set && a.size() == 1 && int_arg(a[0], 0, 3, v)) {
            nb_.nsonmi = static_cast<int>(v);
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+NPSMR") {
        if (c.form == Form::query) {
            if (nb_.npsmr == 0) return ok({"+NPSMR:0"});
            return ok({std::string("+NPSMR:1,") + (psm_asleep_ ? "1" : "0")});
        }
        if (c.form == Form::test) return ok({"+NPSMR:(0,1)"});
        if (c.form == Form::set && a.size() == 1 && int_arg(a[0], 0, 1, v)) {
            nb_.npsmr = static_cast<int>(v);
            return ok();
        }
        return error(kBadParam);
    }
    if (n == "+CPSMS") {
        // +CPSMS=[<mode>[,<Requested_Periodic-RAU>[,<Requested_GPRS-READY-timer>
        //        [,<Requested_Periodic-TAU>[,<Requested_Active-Time>]]]]]
        if (c.form == Form::query) {
            return ok(
                {"+CPSMS:" + std::to_string(nv_.cpsms) + ",,," + nv_.t3412 + "," + nv_.t3324});
        }
        if (c.form == Form::test)
            return ok({"+CPSMS:(0,1,2),,,(00000000-11111111),(00000000-11111111)"});
        if (c.form != Form::set || a.empty() || a.size() > 5) return error(kBadParam);
        const NbNv defaults;
        if (a.size() == 1 && a[0].is_empty()) {  // "AT+CPSMS=": off, timers to defaults
            nv_.cpsms = 0;
            nv_.t3412 = defaults.t3412;
            nv_.t3324 = defaults.t3324;
            return ok();
        }
        long mode = 0;
        if (!int_arg(a[0], 0, 2, mode)) return error(kBadParam);
        // RAU and GPRS-READY are GERAN/UTRAN timers: NB-IoT ignores them (8-bit strings if
        // given).
        std::string ignored;
        for (std::size_t i = 1; i < std::min<std::size_t>(a.size(), 3); ++i)
            if (!a[i].is_empty() && !bits_arg(a[i], 8, ignored)) return error(kBadParam);
        std::string t3412 = nv_.t3412, t3324 = nv_.t3324;
        if (a.size() >= 4 && !a[3].is_empty() && !bits_arg(a[3], 8, t3412)) return error(kBadParam);
        if (a.size() >= 5 && !a[4].is_empty() && !bits_arg(a[4], 8, t3324)) return error(kBadParam);
        if (mode == 2) {  // 27.007: disable PSM and discard the requested values
            nv_.cpsms = 0;
            nv_.t3412 = defaults.t3412;
            nv_.t3324 = defaults.t3324;
            return ok();
        }
        nv_.cpsms = static_cast<int>(mode);
        nv_.t3412 = t3412;
        nv_.t3324 = t3324;
        return ok();
    }
    if (n == "+CEDRXS") {
        // +CEDRXS=[<mode>,[,<AcT-type>[,<Requested_eDRX_value>]]]; AcT-type 5 = NB-S1.
        if (c.form == Form::query) {
            if (nv_.cedrxs == 0) return ok();
            return ok({"+CEDRXS:5,\"" + nv_.edrx + "\""});
        }
        if (c.form == Form::test) return ok({"+CEDRXS:(0,1,2,3),(5),(\"0000\"-\"1111\")"});
        if (c.form != Form::set || a.empty() || a.size() > 3) return error(kBadParam);
        long mode = 0, act = 5;
        if (!int_arg(a[0], 0, 3, mode)) return error(kBadParam);
        if (a.size() >= 2 && !a[1].is_empty() && !int_arg(a[1], 5, 5, act)) return error(kBadParam);
        std::string value = nv_.edrx;
        if (a.size() >= 3 && !a[2].is_empty() && !bits_arg(a[2], 4, value)) return error(kBadParam);
        if (mode == 3) {  // disable and discard the parameters
            nv_.cedrxs = 0;
            nv_.edrx = NbNv{}.edrx;
            return ok();
        }
        nv_.cedrxs = static_cast<int>(mode);
        nv_.edrx = value;
        return ok();
    }
    if (n == "+CGPADDR") {
        if (c.form == Form::test) return ok({"+CGPADDR:(0)"});
        if (c.form == Form::set && (a.size() != 1 || !int_arg(a[0], 0, 0, v)))
            return error(kBadParam);
        if (c.form != Form::set && c.form != Form::exec) return error(kNotSupported);
        return ok({attached ? std::string("+CGPADDR:0,") + kPdpAddress : "+CGPADDR:0"});
    }
    if (n == "+NUESTATS") {
        if (c.form == Form::test) return ok({"+NUESTATS:(RADIO,CELL,BLER,THP,APPSMEM,ALL)"});
        const bool radio_type = c.form == Form::set && a.size() == 1 && !a[0].is_string() &&
                                upper(a[0].text) == "RADIO";
        if (c.form == Form::set && !radio_type) {
            static const char* kTypes[] = {"CELL", "BLER", "THP", "APPSMEM", "ALL"};
            const bool known =
                a.size() == 1 && std::any_of(std::begin(kTypes), std::end(kTypes),
                                             [&](const char* t) { return upper(a[0].text) == t; });
            return error(known ? kNotSupported : kBadParam);  // only RADIO is modelled
        }
        if (c.form != Form::set && c.form != Form::exec) return error(kNotSupported);
        // Radio figures in centibels (tenths of dBm) as the firmware reports them; the signal
        // follows --csq (rssi = -113 + 2 x csq dBm), nothing is measured.
        const bool on = attached;
        const int signal = on ? (-113 + 2 * opt_.csq) * 10 : -32768;
        const std::vector<std::pair<std::string, std::string>> f = {
            {"Signal power", std::to_string(signal)},
            {"Total power", std::to_string(on ? signal + 60 : -32768)},
            {"TX power", on ? "-1" : "-32768"},
            {"TX time", std::to_string(now_ / 1'000'000 % 100000)},
            {"RX time", std::to_string(now_ / 100'000 % 1000000)},
            {"Cell ID", on ? "27447298" : "0"},
            {"ECL", on ? "0" : "255"},
            {"SNR", on ? "128" : "-32768"},
            {"EARFCN", on ? "3736" : "0"},
            {"PCI", on ? "11" : "0"},
            {"RSRQ", on ? "-108" : "-32768"},
            {"OPERATOR MODE", on ? "4" : "0"},
            {"CURRENT BAND", on ? std::to_string(nv_.bands.empty() ? 0 : nv_.bands.front()) : "0"},
        };
        std::vector<std::string> lines;
        for (const auto& [k, val] : f)
            lines.push_back(radio_type ? "NUESTATS:RADIO," + k + "," + val : k + ":" + val);
        return ok(lines);
    }
    return std::nullopt;
}

void Module::nb_reboot() {
    nb_ = NbRam{};
    if (psm_asleep_) {
        psm_asleep_ = false;
        set_radio(true);
    }
    psm_last_activity_ = now_;
    // AUTOCONNECT=FALSE: the module boots at minimum functionality and does not attach; the
    // host sends AT+CFUN=1 and AT+CGATT=1 (the manual's manual-attach sequence).
    if (!nv_.autoconnect) {
        s_.cfun = 0;
        s_.cgatt = 0;
    }
}

}  // namespace bc28sim
