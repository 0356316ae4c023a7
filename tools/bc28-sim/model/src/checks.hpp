// What module.cpp and link.cpp both check AT parameters with: the note's limits and the MQTT
// 3.1.1 rules for topics and filters. Internal to the model.
#pragma once

#include "bc28sim/at_line.hpp"

#include <cctype>
#include <cstddef>
#include <string>

namespace bc28sim::detail {

inline constexpr char kCtrlZ = 0x1A;
inline constexpr char kEsc = 0x1B;
inline constexpr std::size_t kMaxLine = 2048;
inline constexpr std::size_t kMaxPayload = 1024;
inline constexpr std::size_t kMaxTopic = 255;
inline constexpr std::size_t kMaxHost = 100;
inline constexpr std::size_t kMaxWillMsg = 255;
inline constexpr std::size_t kMaxClientId = 255;  // the note gives none: its longest other string
inline constexpr std::size_t kMaxCredential = 256;

// CME error codes the model answers with.
inline constexpr int kNotAllowed = 3;
inline constexpr int kNotSupported = 4;
inline constexpr int kBadParam = 50;
inline constexpr int kUplinkBusy = 159;

inline std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

inline bool int_in(const Arg& a, long lo, long hi, long& out) {
    const auto v = a.as_int();
    if (!v || *v < lo || *v > hi) return false;
    out = *v;
    return true;
}

inline bool str_len(const Arg& a, std::size_t lo, std::size_t hi) {
    return a.is_string() && a.text.size() >= lo && a.text.size() <= hi;
}

inline std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}

// MQTT 3.1.1 section 1.5.3: UTF-8, well formed, no NUL.
inline bool valid_utf8(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0) return false;
        std::size_t n = 0;
        if (c < 0x80)
            n = 0;
        else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
            n = 1;
        else if ((c & 0xF0) == 0xE0)
            n = 2;
        else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
            n = 3;
        else
            return false;
        if (i + n >= s.size()) return false;  // a sequence cut short
        for (std::size_t k = 1; k <= n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n + 1;
    }
    return true;
}

// MQTT 3.1.1 section 4.7.1: '#' alone in the last level, '+' alone in its level.
inline bool valid_filter(const std::string& f) {
    if (!valid_utf8(f)) return false;
    std::size_t start = 0;
    for (;;) {
        const auto end = f.find('/', start);
        const std::string level = f.substr(start, end == std::string::npos ? end : end - start);
        if (level.find('#') != std::string::npos && (level != "#" || end != std::string::npos))
            return false;
        if (level.find('+') != std::string::npos && level != "+") return false;
        if (end == std::string::npos) return true;
        start = end + 1;
    }
}

// MQTT 3.1.1 section 4.7.3: a topic name carries no wildcard.
inline bool valid_topic_name(const std::string& t) {
    return valid_utf8(t) && t.find_first_of("+#") == std::string::npos;
}

// What AT+QMTOPEN can use: an IPv4 address, an IPv6 literal, or a host name (RFC 1123 labels,
// '_' tolerated as resolvers do). Anything else is the note's result 1, wrong parameter.
inline bool usable_host(const std::string& h) {
    if (h.find(':') != std::string::npos) {
        return h.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
    }
    if (h.find_first_not_of("0123456789.") == std::string::npos) {
        int dots = 0;
        long octet = -1;
        for (const char c : h + ".") {
            if (c == '.') {
                if (octet < 0 || octet > 255) return false;
                ++dots;
                octet = -1;
            } else {
                octet = (octet < 0 ? 0 : octet * 10) + (c - '0');
                if (octet > 999) return false;
            }
        }
        return dots == 4;
    }
    std::size_t start = 0;
    std::string name = h;
    if (!name.empty() && name.back() == '.') name.pop_back();  // an absolute name
    if (name.empty() || name.size() > 253) return false;
    for (;;) {
        const auto end = name.find('.', start);
        const std::string label = name.substr(start, end == std::string::npos ? end : end - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (const char c : label) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
        }
        if (end == std::string::npos) return true;
        start = end + 1;
    }
}

// An IPv4 dotted quad or an IPv6 literal: no DNS round trip before the connect.
inline bool is_ip_literal(const std::string& h) {
    if (h.find(':') != std::string::npos) return true;
    int dots = 0;
    for (const char c : h) {
        if (c == '.')
            ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(c)))
            return false;
    }
    return dots == 3;
}

// The host part of a URL: scheme://host[:port]/path, [v6] kept as is.
inline std::string url_host(const std::string& url) {
    std::string h = url;
    const auto scheme = h.find("://");
    if (scheme != std::string::npos) h.erase(0, scheme + 3);
    const auto slash = h.find_first_of("/?#");
    if (slash != std::string::npos) h.erase(slash);
    const auto at = h.rfind('@');
    if (at != std::string::npos) h.erase(0, at + 1);
    if (!h.empty() && h.front() == '[') return h;  // an IPv6 literal
    const auto colon = h.find(':');
    if (colon != std::string::npos) h.erase(colon);
    return h;
}

}  // namespace bc28sim::detail
