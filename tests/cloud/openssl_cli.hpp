// Helpers for checking the host crypto against the openssl command line (an independent
// implementation): temporary input files, running a shell pipeline, hex.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace qmtkit::test {

inline std::string hex(std::string_view b) {
    static const char d[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : b) {
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 15]);
    }
    return out;
}

// A file holding `content` exactly, removed on destruction.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string& content) {
        char tmpl[] = "/tmp/qmtkit-cloud-XXXXXX";
        int fd = ::mkstemp(tmpl);
        if (fd < 0) throw std::runtime_error("mkstemp");
        path = tmpl;
        std::size_t off = 0;
        while (off < content.size()) {
            auto n = ::write(fd, content.data() + off, content.size() - off);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }
    ~TempFile() { ::unlink(path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
};

// stdout of `sh -c cmd`, trailing newlines removed.
inline std::string run(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    ::pclose(f);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

// "HMAC-SHA256(stdin)= <hex>" or "SHA2-256(stdin)= <hex>" → "<hex>"
inline std::string after_eq(const std::string& s) {
    auto p = s.rfind("= ");
    return p == std::string::npos ? s : s.substr(p + 2);
}

}  // namespace qmtkit::test
