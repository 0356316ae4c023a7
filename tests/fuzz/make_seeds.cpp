// Writes the seed corpus: make_seeds <dir> puts <dir>/engine/seed-*.bin and
// <dir>/client/seed-*.bin (run it on tests/fuzz/corpus after changing a program format).
#include <cstdio>
#include <fstream>
#include <string>

#include "seeds.hpp"

namespace {
bool write_all(const std::string& dir, const std::vector<qmtkit::fuzz::Seed>& seeds) {
    for (const auto& s : seeds) {
        const std::string path = dir + "/" + s.name;
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char*>(s.bytes.data()),
                static_cast<std::streamsize>(s.bytes.size()));
        if (!f) {
            std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
            return false;
        }
        std::printf("%s (%zu bytes)\n", path.c_str(), s.bytes.size());
    }
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus dir>   (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    const bool ok = write_all(dir + "/engine", qmtkit::fuzz::engine_seeds()) &&
                    write_all(dir + "/client", qmtkit::fuzz::client_seeds());
    return ok ? 0 : 1;
}
