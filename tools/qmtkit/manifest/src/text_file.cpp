// manifest::read_text_file on its own: `--pw-file` needs it in builds without the manifest (the
// Windows build, which has no OpenSSL for the rest of the manifest library).
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "qmtkit/manifest/manifest.hpp"

namespace qmtkit::manifest {

std::optional<std::string> read_text_file(const std::string& path, bool strip_one_newline,
                                          std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (error) *error = std::strerror(errno);
        return std::nullopt;
    }
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        if (error) *error = "read error";
        return std::nullopt;
    }
    if (strip_one_newline && !s.empty() && s.back() == '\n') {
        s.pop_back();
        if (!s.empty() && s.back() == '\r') s.pop_back();
    }
    return s;
}

}  // namespace qmtkit::manifest
