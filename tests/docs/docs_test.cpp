// The docs' commands work as written (issue 9, defect 13): every command line in README.md and
// docs/*.md (fenced blocks and `inline code`) names its build directory as a preset builds it
// (build/<preset>, CMakePresets.json), the paths under it exist in this build, the targets of
// `cmake --build` exist, and each `ctest --test-dir ...` selects at least one test here. And the
// exit-status table of docs/host-and-cli.md is the one every `qmtkit ... --help` ends with.
//
// Run it after a full build (`cmake --build --preset dev`, as ./dev.sh test does): a path or a
// test of a target that was not built is reported as missing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// stdout + stderr of a shell command line; its wait status in `status`.
std::string capture(const std::string& cmd, int* status = nullptr) {
    std::string out;
    FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
    if (f == nullptr) return out;
    char b[4096];
    std::size_t n = 0;
    while ((n = std::fread(b, 1, sizeof b, f)) > 0) out.append(b, n);
    const int st = ::pclose(f);
    if (status != nullptr) *status = st;
    return out;
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// A command as the docs write it: where, and its words (shell quoting undone, a trailing
// "# comment" dropped).
struct CommandLine {
    std::string where;  // "docs/emulator.md:27"
    std::vector<std::string> words;
};

std::vector<std::string> shell_words(const std::string& text) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else {
                cur += c;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '#' && !in_word) {
            break;
        } else if (c == ' ' || c == '\t') {
            if (in_word) words.push_back(cur);
            cur.clear();
            in_word = false;
        } else if (c == '\\' && i + 1 < text.size()) {
            cur += text[++i];
            in_word = true;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(cur);
    return words;
}

// Every command line of README.md and docs/*.md: the lines of fenced blocks (a trailing '\'
// continues a line) and each `inline code` span elsewhere.
std::vector<CommandLine> doc_commands() {
    const fs::path src = QMTKIT_SOURCE_DIR;
    std::vector<fs::path> files{src / "README.md"};
    for (const auto& e : fs::directory_iterator(src / "docs"))
        if (e.path().extension() == ".md") files.push_back(e.path());
    std::vector<CommandLine> cmds;
    for (const auto& f : files) {
        const std::string rel = fs::relative(f, src).string();
        std::istringstream in(slurp(f));
        std::string line, pending;
        int no = 0, pending_no = 0;
        bool fenced = false;
        while (std::getline(in, line)) {
            ++no;
            if (line.rfind("```", 0) == 0) {
                fenced = !fenced;
                continue;
            }
            if (fenced) {
                if (pending.empty()) pending_no = no;
                if (!line.empty() && line.back() == '\\') {
                    pending += line.substr(0, line.size() - 1) + " ";
                    continue;
                }
                cmds.push_back(
                    {rel + ":" + std::to_string(pending_no), shell_words(pending + line)});
                pending.clear();
                continue;
            }
            for (std::size_t at = line.find('`'); at != std::string::npos;) {
                const auto end = line.find('`', at + 1);
                if (end == std::string::npos) break;
                cmds.push_back({rel + ":" + std::to_string(no),
                                shell_words(line.substr(at + 1, end - at - 1))});
                at = line.find('`', end + 1);
            }
        }
    }
    return cmds;
}

// The configure presets' names: each builds into build/<name>.
std::set<std::string> presets() {
    const auto j = nlohmann::json::parse(slurp(fs::path(QMTKIT_SOURCE_DIR) / "CMakePresets.json"));
    std::set<std::string> names;
    for (const auto& p : j.at("configurePresets"))
        if (!p.value("hidden", false)) names.insert(p.at("name").get<std::string>());
    return names;
}

// "build/<preset>[/rest]" -> rest ("" for the directory itself); nullopt when not of that form.
std::optional<std::string> under_preset_dir(std::string word, const std::set<std::string>& ps) {
    while (!word.empty() && std::string(",;:)").find(word.back()) != std::string::npos)
        word.pop_back();
    if (word.rfind("build/", 0) != 0) return std::nullopt;
    const std::string after = word.substr(6);
    const std::string preset = after.substr(0, after.find('/'));
    const bool placeholder = preset.size() > 2 && preset.front() == '<' && preset.back() == '>';
    if (ps.count(preset) == 0 && !placeholder) return std::nullopt;  // build/<preset> is the rule
    if (after.size() <= preset.size() + 1) return std::string();
    return after.substr(preset.size() + 1);
}

// A path into a build directory ("build" alone is one only as the argument of --build or
// --test-dir: `./dev.sh build dev` is a subcommand).
bool is_build_word(const std::string& w) {
    return w.rfind("build/", 0) == 0;
}

TEST(DocsCommands, BuildDirectoriesArePresetDirectoriesAndTheirPathsExist) {
    const auto ps = presets();
    const fs::path bin = QMTKIT_BINARY_DIR;
    std::size_t seen = 0;
    for (const auto& c : doc_commands()) {
        for (std::size_t i = 0; i < c.words.size(); ++i) {
            const std::string& w = c.words[i];
            const bool dir_arg =
                i > 0 && (c.words[i - 1] == "--build" || c.words[i - 1] == "--test-dir");
            if (!is_build_word(w) && !dir_arg) continue;
            if (dir_arg && !w.empty() && w[0] == '-') continue;  // cmake --build --preset dev
            ++seen;
            const auto rest = under_preset_dir(w, ps);
            if (!rest) {
                ADD_FAILURE() << c.where << ": `" << w
                              << "` is not a preset's build directory (build/dev, build/release, "
                                 "...: CMakePresets.json builds into build/<preset>)";
                continue;
            }
            if (!rest->empty()) {
                EXPECT_TRUE(fs::exists(bin / *rest))
                    << c.where << ": `" << w << "` does not exist after a build (looked for "
                    << (bin / *rest).string() << ")";
            }
        }
    }
    EXPECT_GT(seen, 5u) << "the docs name no build paths at all?";
}

TEST(DocsCommands, BuildTargetsExist) {
    const fs::path bin = QMTKIT_BINARY_DIR;
    const std::string ninja = slurp(bin / "build.ninja");
    const std::string make = slurp(bin / "Makefile");
    ASSERT_FALSE(ninja.empty() && make.empty()) << "neither build.ninja nor Makefile in " << bin;
    const auto known = [&](const std::string& t) {
        if (!ninja.empty()) return ninja.find("\nbuild " + t + ": phony") != std::string::npos;
        return make.find("\n" + t + ":") != std::string::npos;
    };
    for (const auto& c : doc_commands()) {
        const auto& w = c.words;
        for (std::size_t i = 0; i + 1 < w.size(); ++i) {
            if (w[i] != "--target") continue;
            for (std::size_t j = i + 1; j < w.size() && w[j][0] != '-'; ++j)
                EXPECT_TRUE(known(w[j])) << c.where << ": no target `" << w[j] << "`";
        }
    }
}

// `ctest --test-dir build` (no preset directory) ran 0 tests and exited 0: every ctest command of
// the docs, pointed at this build, must select tests.
TEST(DocsCommands, CtestCommandsSelectTests) {
    // gtest_discover_tests lists a test target that was not built as <target>_NOT_BUILT.
    std::string not_built;
    {
        std::istringstream all(capture("cd " + shell_quote(QMTKIT_BINARY_DIR) + " && " +
                                       shell_quote(QMTKIT_CTEST) + " -N"));
        std::string line;
        while (std::getline(all, line)) {
            const auto at = line.find("_NOT_BUILT");
            if (at == std::string::npos) continue;
            const auto colon = line.find(": ");
            if (colon != std::string::npos && colon < at)
                not_built += " " + line.substr(colon + 2, at - colon - 2);
        }
        if (!not_built.empty())
            not_built = "\n(this build has test targets that were not built:" + not_built +
                        "; build everything first, e.g. cmake --build --preset dev)";
    }
    std::size_t seen = 0;
    for (const auto& c : doc_commands()) {
        const auto& w = c.words;
        if (w.empty() || w[0] != "ctest") continue;
        // Without --test-dir the docs mean "in the build directory": run it there.
        std::string cmd =
            "cd " + shell_quote(QMTKIT_BINARY_DIR) + " && " + shell_quote(QMTKIT_CTEST) + " -N";
        for (std::size_t i = 1; i < w.size(); ++i) {
            if (w[i] == "--test-dir" && i + 1 < w.size()) {
                cmd += " --test-dir " + shell_quote(QMTKIT_BINARY_DIR);
                ++i;
            } else if (w[i] == "--preset" && i + 1 < w.size()) {
                ++i;  // the preset's filter applies to its own build directory; ours is this one
                cmd += " --test-dir " + shell_quote(QMTKIT_BINARY_DIR);
            } else {
                cmd += " " + shell_quote(w[i]);
            }
        }
        ++seen;
        const std::string out = capture(cmd);
        std::smatch m;
        ASSERT_TRUE(std::regex_search(out, m, std::regex("Total Tests: ([0-9]+)")))
            << c.where << ": " << cmd << "\n"
            << out;
        EXPECT_GT(std::stoi(m[1]), 0) << c.where << ": selects no test: " << cmd << not_built;
    }
    EXPECT_GT(seen, 0u);
}

// ------------------------------------------------------------------------ exit statuses

// The codes of the "Exit status" table of docs/host-and-cli.md.
std::set<int> documented_codes() {
    std::istringstream in(slurp(fs::path(QMTKIT_SOURCE_DIR) / "docs/host-and-cli.md"));
    std::string line;
    bool in_section = false;
    std::set<int> codes;
    const std::regex row(R"(^\| *`?([0-9]+)`? *\|)");
    while (std::getline(in, line)) {
        if (line.rfind("#", 0) == 0) in_section = line.find("Exit status") != std::string::npos;
        std::smatch m;
        if (in_section && std::regex_search(line, m, row)) codes.insert(std::stoi(m[1]));
    }
    return codes;
}

// The codes listed after "Exit status:" in a --help.
std::set<int> help_codes(const std::string& help) {
    std::set<int> codes;
    const auto at = help.find("Exit status:\n");
    if (at == std::string::npos) return codes;
    std::istringstream in(help.substr(at));
    std::string line;
    const std::regex row(R"(^  ([0-9]+) )");
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, row)) codes.insert(std::stoi(m[1]));
    }
    return codes;
}

TEST(DocsExitStatus, DocsAndEveryHelpShowTheSameTable) {
    const auto docs = documented_codes();
    EXPECT_EQ(docs, (std::set<int>{0, 1, 2, 66, 69, 74, 130, 143}));
#ifdef QMTKIT_EXE
    for (const std::string sub :
         {"", "pub", "sub", "sign", "sign aliyun", "sign tencent", "sign tencent-token", "verify",
          "image", "image inspect", "image build"}) {
        int status = -1;
        const std::string help = capture(shell_quote(QMTKIT_EXE) + " " + sub + " --help", &status);
        EXPECT_EQ(status, 0) << "qmtkit " << sub << " --help";
        EXPECT_EQ(help_codes(help), docs) << "qmtkit " << sub << " --help:\n" << help;
    }
#endif
}

}  // namespace
