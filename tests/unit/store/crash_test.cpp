// kill -9 test: a child process (store_ingest_child) ingests and reports each
// acknowledged batch through a pipe; the test kills it at random moments,
// reopens the database and checks that every acknowledged sample is there
// with its value, and that rollups agree with raw data.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <sstream>

#include "test_util.h"

using namespace gridlet;
using namespace gridlet::store;
using namespace gridlet::store::test;

namespace {
constexpr int kSeries = 10;
constexpr int64_t kStart = 1704067200000;
double expected_value(int n, int64_t ts) { return static_cast<double>((ts / 1000) % 100000) / 10.0 + n; }

struct Ack {
    int64_t base;
    int count;
};

// Runs the child for about `run_ms`, kills it with SIGKILL, returns its acks.
std::vector<Ack> run_and_kill(const std::string& db, uint64_t seed, int run_ms) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        std::string s = std::to_string(seed);
        execl(STORE_INGEST_CHILD, STORE_INGEST_CHILD, db.c_str(), s.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
    bool killed = false;
    for (;;) {
        auto now = std::chrono::steady_clock::now();
        if (!killed && now >= deadline) {
            kill(pid, SIGKILL);
            killed = true;
        }
        int wait_ms = killed ? 1000 : static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
        pollfd p{fds[0], POLLIN, 0};
        int r = poll(&p, 1, wait_ms);
        if (r > 0) {
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) break;  // EOF: the child is dead
            text.append(buf, static_cast<size_t>(n));
        }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself (status " << status << "): it failed before the kill";
    std::vector<Ack> acks;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (in.eof()) break;  // a line cut by the kill has no '\n'
        std::istringstream l(line);
        std::string word;
        Ack a{};
        if (l >> word >> a.base >> a.count && word == "ack") acks.push_back(a);
    }
    return acks;
}
}  // namespace

TEST(StoreCrash, AcknowledgedSamplesSurviveKill9) {
    TempDir dir;
    const std::string db = (dir.path() / "db").string();
    std::mt19937_64 rng(std::random_device{}());
    std::vector<Ack> acked;
    size_t total_acks = 0;
    const auto started = std::chrono::steady_clock::now();
    int rounds = 0;
    for (; rounds < 40; ++rounds) {
        if (rounds >= 20 && std::chrono::steady_clock::now() - started > std::chrono::seconds(45)) break;
        int run_ms = 80 + static_cast<int>(rng() % 600);
        auto acks = run_and_kill(db, rng(), run_ms);
        total_acks += acks.size();
        acked.insert(acked.end(), acks.begin(), acks.end());

        StoreOptions o = test_options(dir.path());
        o.chunk_max_samples = 64;
        auto store = Store::open(o);
        ASSERT_TRUE(store) << "round " << rounds << ": the database does not open: " << store.status().to_string();
        auto& reg = (*store)->registry();
        // Killed before it registered its series (a loaded machine, a short
        // round): nothing was acknowledged, so nothing is owed.
        if (acked.empty()) continue;
        ASSERT_EQ(reg.size(), static_cast<size_t>(kSeries)) << "round " << rounds;
        for (int n = 0; n < kSeries; ++n) {
            ASSERT_EQ(reg.find("crash/s" + std::to_string(n)), static_cast<uint32_t>(n + 1)) << "ids must be stable";
            auto raw = (*store)->query().raw(static_cast<uint32_t>(n + 1), kStart, std::numeric_limits<int64_t>::max());
            ASSERT_TRUE(raw) << raw.status().to_string();
            // Index by ts (the store may hold more than was acked: writes in flight at the kill).
            std::vector<double> by_second;
            for (const Sample& s : *raw) {
                ASSERT_EQ(s.ts % 1000, 0);
                size_t k = static_cast<size_t>((s.ts - kStart) / 1000);
                if (by_second.size() <= k) by_second.resize(k + 1, -1);
                by_second[k] = s.value;
            }
            for (const Ack& a : acked)
                for (int k = 0; k < a.count; ++k) {
                    int64_t ts = a.base + k * 1000;
                    size_t i = static_cast<size_t>((ts - kStart) / 1000);
                    ASSERT_LT(i, by_second.size()) << "round " << rounds << ": acked sample lost: series " << n << " ts " << ts;
                    ASSERT_EQ(by_second[i], expected_value(n, ts))
                        << "round " << rounds << ": acked sample lost or wrong: series " << n << " ts " << ts;
                }
        }
        // Rollups written before the kill agree with the raw data.
        auto last = (*store)->query().last(1);
        if (last && *last) {
            for (uint32_t id : {1u, 2u}) {
                auto edges = QueryEngine::step_edges(kStart, (*last)->ts + 1, 15 * 60'000);
                ASSERT_TRUE(edges);
                auto fast = (*store)->query().aggregate(id, *edges);
                auto slow = (*store)->query().aggregate(id, *edges, nullptr, true);
                ASSERT_TRUE(fast && slow);
                ASSERT_EQ(fast->size(), slow->size());
                for (size_t i = 0; i < fast->size(); ++i) {
                    ASSERT_EQ((*fast)[i].count, (*slow)[i].count) << "round " << rounds << " bucket " << i;
                    ASSERT_EQ((*fast)[i].max, (*slow)[i].max) << "round " << rounds << " bucket " << i;
                    ASSERT_NEAR((*fast)[i].consumption, (*slow)[i].consumption, 1e-6) << "round " << rounds;
                }
            }
        }
        EXPECT_EQ((*store)->db().chunk_merge().corrupt_inputs(), 0u);
    }
    EXPECT_GE(rounds, 20);
    EXPECT_GT(total_acks, static_cast<size_t>(rounds));  // the kills landed mid-ingest, not before it started
    RecordProperty("rounds", rounds);
    RecordProperty("acks", static_cast<int>(total_acks));
}
