// FeedService: what backs the ABI 1.2 feed_* host services (store-and-
// forward feeds of north plugins, see plugin.h). The kernel implements it
// over the store's outbox (kernel/north_feeds.h); a kernel without a store
// has none, and the services answer GL_ERR_UNSUPPORTED.
//
// Threads: open() from the instance's plugin thread; the others from any
// thread. Implementations are thread-safe.
#pragma once

#include <gridlet/plugin.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace gridlet::plugin {

struct FeedSpec {
    std::vector<std::string> series;  // globs over series names
    std::vector<std::string> events;  // globs over "source/type"
    uint64_t max_bytes = 0;           // 0: the default budget
};

class FeedService {
public:
    virtual ~FeedService() = default;
    // Opens (or re-opens with another spec) the feed of `instance`.
    virtual Status open(const std::string& instance, const FeedSpec& spec) = 0;
    // Entries with seq > after, at most max; `fn` returns false to stop.
    virtual Status read(const std::string& instance, uint64_t after, size_t max,
                        const std::function<bool(const gl_feed_item&)>& fn) = 0;
    virtual Status done(const std::string& instance, const std::vector<uint64_t>& seqs) = 0;
    virtual Status stats(const std::string& instance, gl_feed_stats* out) = 0;
};

}  // namespace gridlet::plugin
