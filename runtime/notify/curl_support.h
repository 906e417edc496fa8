// What the libcurl transfers of gridlet share (notify/delivery.cpp,
// export/transport.cpp): an upload read from a string, the progress
// callback that aborts a transfer when `cancel` says so, and the easy
// handle with its lists freed on every path. Any thread; one transfer per
// handle.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

namespace gridlet::notify::curl {

// CURLOPT_READDATA for read_upload: the bytes sent and how far.
struct Upload {
    const std::string* data;
    size_t pos = 0;
};

// CURLOPT_READFUNCTION.
inline size_t read_upload(char* buf, size_t size, size_t n, void* user) {
    auto* u = static_cast<Upload*>(user);
    const size_t take = std::min(size * n, u->data->size() - u->pos);
    std::memcpy(buf, u->data->data() + u->pos, take);
    u->pos += take;
    return take;
}

// CURLOPT_XFERINFOFUNCTION, with CURLOPT_XFERINFODATA a
// `const std::function<bool()>*` (may hold nothing): a true answer aborts.
inline int cancel_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* cancel = static_cast<const std::function<bool()>*>(user);
    return (*cancel && (*cancel)()) ? 1 : 0;
}

// An easy handle (h null if curl_easy_init failed) and the slists set on it.
struct Easy {
    CURL* h = curl_easy_init();
    curl_slist* quote = nullptr;
    curl_slist* headers = nullptr;
    Easy() = default;
    Easy(const Easy&) = delete;
    Easy& operator=(const Easy&) = delete;
    ~Easy() {
        curl_slist_free_all(quote);
        curl_slist_free_all(headers);
        if (h) curl_easy_cleanup(h);
    }
};

}  // namespace gridlet::notify::curl
