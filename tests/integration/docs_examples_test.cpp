// Every TOML example in the docs is a site (or part of one) that `gridlet
// check` accepts (issue 10 item 15): an example a user copies must work.
//
// Each ```toml block of every Markdown file of the tree is checked as a site
// file placed in <tmp>/config/ (as config/demo.toml is, so "../scripts/..."
// reaches gridlet's own rules through a link to the source tree's scripts/).
// A block that is only part of a site gets what it needs around it:
//   - no [site]: a [site] with a name of its own;
//   - [[plugins.config.X]] without [[plugins]]: the sim plugin entry it extends;
//   - a [profile] (Modbus register map): a site with one device using it.
// A ```lua block whose first line is "-- <path>.lua" is written to that path
// (relative to the site file) first, so that the rules the examples name exist.
// Absolute paths the docs build to (/tmp/hello/hello.so) stand for the build's.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/process.h"

using namespace gridlet::testing;
namespace fs = std::filesystem;

namespace {

struct Block {
    std::string lang, text;
    int line = 0;  // of the opening fence
};

std::vector<Block> fenced_blocks(const std::string& file) {
    std::vector<Block> out;
    std::istringstream in(slurp(file));
    std::string l;
    int n = 0;
    Block* open = nullptr;
    while (std::getline(in, l)) {
        ++n;
        if (l.rfind("```", 0) == 0) {
            if (open) {
                open = nullptr;
            } else {
                out.push_back({l.substr(3), "", n});
                open = &out.back();
            }
        } else if (open) {
            open->text += l + "\n";
        }
    }
    return out;
}

std::vector<std::string> markdown_files() {
    std::vector<std::string> out;
    const fs::path root = source_dir();
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        const std::string name = it->path().filename().string();
        if (it->is_directory() && (name.rfind("build", 0) == 0 || name[0] == '.' || name == "node_modules")) {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && it->path().extension() == ".md") out.push_back(it->path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
    return s;
}

}  // namespace

TEST(DocsExamples, EveryTomlBlockIsASiteThatCheckAccepts) {
    const std::string tmp = "/tmp/gridlet-docs-" + std::to_string(getpid());
    fs::remove_all(tmp);
    fs::create_directories(tmp + "/config/lib");  // the lib_dirs the examples name
    fs::create_directory_symlink(source_dir() + "/scripts", tmp + "/scripts");
    const std::map<std::string, std::string> built = {{"/tmp/hello/hello.so", build_dir() + "/plugins/hello.so"}};

    size_t checked = 0;
    for (const std::string& md : markdown_files()) {
        const auto blocks = fenced_blocks(md);
        for (const Block& b : blocks) {
            if (b.lang != "lua" || b.text.rfind("-- ", 0) != 0) continue;
            const std::string path = b.text.substr(3, b.text.find('\n') - 3);
            if (path.size() < 5 || path.compare(path.size() - 4, 4, ".lua") != 0 || path.find(' ') != std::string::npos)
                continue;
            fs::create_directories(fs::path(tmp + "/config/" + path).parent_path());
            std::ofstream(tmp + "/config/" + path) << b.text;
        }
        for (const Block& b : blocks) {
            if (b.lang != "toml") continue;
            const std::string where = md + ":" + std::to_string(b.line);
            std::string site = b.text;
            for (const auto& [from, to] : built) site = replace_all(site, from, to);
            if (site.find("[profile]") != std::string::npos) {
                std::ofstream(tmp + "/config/doc_profile.toml") << site;
                site = "[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n[[devices]]\nname = \"d\"\nplugin = \"modbus\"\n"
                       "profile = \"" + tmp + "/config/doc_profile.toml\"\naddress = \"127.0.0.1:1502\"\nunit_id = 1\n";
            }
            if (site.find("[[plugins.config.") != std::string::npos && site.find("[[plugins]]") == std::string::npos)
                site = "[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n" + site;
            if (site.find("[site]") == std::string::npos)
                site = "[site]\nname = \"docs" + std::to_string(checked) + "\"\n" + site;
            // Secrets an example names come from the environment, as its
            // comments say: "# export NAME=value".
            for (size_t at = site.find("# export "); at != std::string::npos; at = site.find("# export ", at + 1)) {
                const std::string rest = site.substr(at + 9, site.find_first_of(" \n", at + 9) - at - 9);
                const size_t eq = rest.find('=');
                if (eq != std::string::npos) setenv(rest.substr(0, eq).c_str(), rest.substr(eq + 1).c_str(), 1);
            }
            const std::string file = tmp + "/config/site.toml";
            std::ofstream(file) << site;
            Result r = run({gridlet_bin(), "check", file});
            EXPECT_EQ(r.code, 0) << where << ": the example is refused:\n" << r.err << "\n--- as checked:\n" << site;
            ++checked;
        }
    }
    EXPECT_GE(checked, 12u) << "the docs hold at least this many TOML examples";
    fs::remove_all(tmp);
}

// The console plugin README's example prints what the README shows (values
// aside), on the demo's simulated BCPM panel.
TEST(DocsExamples, ConsoleReadmeExamplePrintsItsSampleLines) {
    std::string block, sample;
    for (const Block& b : fenced_blocks(source_dir() + "/plugins/console/README.md")) {
        if (b.lang == "toml" && b.text.find("name = \"console\"") != std::string::npos) block = b.text;
        if (b.lang.empty() && !block.empty() && sample.empty()) sample = b.text;
    }
    ASSERT_FALSE(block.empty());
    ASSERT_FALSE(sample.empty());
    const int port = free_port();
    const std::string dir = "/tmp/gridlet-it-console-" + std::to_string(getpid());
    fs::create_directories(dir);
    std::ofstream(dir + "/site.toml") << "[site]\nname = \"console_doc\"\n[kernel]\ncontrol = \"ipc://" << dir
                                      << "/ctl.sock\"\n[[plugins]]\nname = \"sim\"\nfile = \"sim\"\n[plugins.config]\n"
                                         "bcpm = [ { name = \"sim1\", port = "
                                      << port << " } ]\n[[plugins]]\nname = \"modbus\"\nfile = \"modbus\"\n"
                                      << block << "[[devices]]\nname = \"panel1\"\nplugin = \"modbus\"\nprofile = \"bcpm\"\n"
                                      << "address = \"127.0.0.1:" << port << "\"\n";
    Process p({gridlet_bin(), "run", dir + "/site.toml"});
    // Each sample line as a pattern: the time and the numbers vary.
    std::vector<std::regex> lines;
    std::istringstream in(sample);
    for (std::string l; std::getline(in, l);) {
        std::string re = std::regex_replace(l, std::regex(R"([.?*+()\[\]])"), "\\$&");
        re = std::regex_replace(re, std::regex(R"(\d\d:\d\d:\d\d)"), R"(\d\d:\d\d:\d\d)");
        re = std::regex_replace(re, std::regex(R"(=\d+\\\.\d)"), R"(=-?\d+\.\d)");
        lines.emplace_back(re);
    }
    bool all = false;
    for (int i = 0; i < 50 && !all; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const std::string out = p.out();
        all = true;
        for (const std::regex& r : lines) all = all && std::regex_search(out, r);
    }
    p.signal(SIGINT);
    EXPECT_EQ(p.wait(), 0) << p.err();
    EXPECT_TRUE(all) << "README sample:\n" << sample << "printed:\n" << p.out();
    fs::remove_all(dir);
}

// Every `build/gridlet test-rule ... --input tests/rules/<case>.jsonl` the
// docs show runs as written, from the source tree, and meets the
// expectations in its timeline's header (exit 0).
TEST(DocsExamples, EveryTestRuleCommandOnOurOwnCasesPasses) {
    const std::regex command(R"(build/gridlet (test-rule --input tests/rules/[A-Za-z0-9_]+\.jsonl(?: --lib scripts/lib)?))");
    int found = 0;
    for (const std::string& file : markdown_files()) {
        const std::string text = slurp(file);
        for (auto it = std::sregex_iterator(text.begin(), text.end(), command); it != std::sregex_iterator(); ++it) {
            ++found;
            std::vector<std::string> argv{gridlet_bin()};
            std::istringstream words((*it)[1].str());
            for (std::string w; words >> w;) argv.push_back(w.rfind("tests/", 0) == 0 || w == "scripts/lib" ? source_dir() + "/" + w : w);
            const Result r = run(argv);
            EXPECT_EQ(r.code, 0) << file << ": " << it->str() << "\n" << r.out << r.err;
        }
    }
    EXPECT_GE(found, 2) << "the README's and the Lua library's examples";
}
