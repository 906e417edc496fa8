// Standalone driver for a libFuzzer target when libFuzzer is not used:
//   target --runs N        the seeds, then N deterministic mutations of them
//   target FILE...         each file as one input (reproduce a crash)
// Mutations: bit flips, byte replacement with interesting values, inserted
// and deleted runs, splices of two seeds. Fixed PRNG seed: a failure is
// reproducible by running again. Prints a JSON line with what it did.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>

#include "fuzz_driver.h"

namespace {
// Runs one input; an input that throws is saved (to reproduce: target FILE).
void one(const std::string& s) {
    try {
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    } catch (...) {
        const std::string path = "/tmp/fuzz-crash-" + std::to_string(std::hash<std::string>{}(s)) + ".bin";
        std::ofstream(path, std::ios::binary) << s;
        std::fprintf(stderr, "fuzz: this input threw; saved as %s\n", path.c_str());
        throw;
    }
}

std::string mutate(std::string s, const std::vector<std::string>& seeds, std::mt19937_64& rng) {
    auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
    static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '-', '+', ':', 'T', 'Z', '9', '@', '.'};
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
        switch (rng() % 6) {
            case 0:
                if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
                break;
            case 1:
                if (!s.empty()) s[pick(s.size())] = static_cast<char>(interesting[pick(sizeof interesting)]);
                break;
            case 2:
                s.insert(pick(s.size() + 1), std::string(1 + pick(8), static_cast<char>(rng())));
                break;
            case 3:
                if (!s.empty()) {
                    size_t at = pick(s.size());
                    s.erase(at, 1 + pick(s.size() - at));
                }
                break;
            case 4: {
                const std::string& o = seeds[pick(seeds.size())];
                s = s.substr(0, pick(s.size() + 1)) + o.substr(pick(o.size() + 1));
                break;
            }
            default:
                if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        }
    }
    return s;
}
}  // namespace

int main(int argc, char** argv) {
    long runs = 10000;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atol(argv[++i]);
        else files.emplace_back(argv[i]);
    }
    if (!files.empty()) {
        for (const std::string& f : files) {
            std::ifstream in(f, std::ios::binary);
            one(std::string(std::istreambuf_iterator<char>(in), {}));
        }
        std::printf("{\"inputs\": %zu}\n", files.size());
        return 0;
    }
    const std::vector<std::string> seeds = fuzz_seeds();
    for (const std::string& s : seeds) one(s);
    std::mt19937_64 rng(20261130);
    for (long r = 0; r < runs; ++r) one(mutate(seeds[static_cast<size_t>(rng() % seeds.size())], seeds, rng));
    std::printf("{\"seeds\": %zu, \"mutations\": %ld}\n", seeds.size(), runs);
    return 0;
}
