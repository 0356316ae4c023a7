// manifest::read_text_file on its own: `--pw-file` needs it in builds without the manifest (the
// Windows build, which has no OpenSSL for the rest of the manifest library).
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::manifest {

std::optional<std::string> read_text_file(const std::string& path, bool strip_one_newline,
                                          std::string* error, std::size_t max_bytes) {
    // stdio, not an ifstream: libstdc++'s filebuf throws from an istreambuf_iterator when read()
    // fails (a directory: EISDIR) instead of setting badbit.
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        if (error) *error = std::strerror(errno);
        return std::nullopt;
    }
    std::string s;
    char buf[4096];
    for (;;) {
        errno = 0;
        const std::size_t n = std::fread(buf, 1, sizeof buf, f);
        s.append(buf, n);
        if (s.size() > max_bytes) {
            std::fclose(f);
            if (error) *error = "it is larger than " + std::to_string(max_bytes) + " bytes";
            return std::nullopt;
        }
        if (n == sizeof buf) continue;
        if (std::ferror(f)) {
            const int e = errno;
            std::fclose(f);
            if (error) *error = e != 0 ? std::strerror(e) : "read error";
            return std::nullopt;
        }
        break;
    }
    std::fclose(f);
    if (strip_one_newline && !s.empty() && s.back() == '\n') {
        s.pop_back();
        if (!s.empty() && s.back() == '\r') s.pop_back();
    }
    return s;
}

}  // namespace qmtkit::manifest
