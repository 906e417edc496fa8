// The dashboard's files (web/, built by esbuild into <build>/web or
// installed in <datadir>/gridlet/web), read once when the API starts and
// served from memory: index.html for "/" and for any path of the
// single-page application (no extension), the hashed assets with a cache of
// a year (the server compresses them for a client that accepts it).
// Owner: ApiServer; load() before the server starts, then find() from any
// of its threads (read-only).
#pragma once

#include <map>
#include <string>

#include "core/status.h"

namespace gridlet::http {

struct WebFile {
    std::string bytes;
    std::string content_type;
    bool immutable = false;      // a hashed name ("app-3F2A9C.js"): cached for a year
};

class WebFiles {
public:
    // Reads every regular file under `dir` (at most 16 MB in all: a
    // dashboard, not a file server). No index.html there: not_found, and
    // the API runs without a dashboard.
    Status load(const std::string& dir);

    // The file for a request path ("/", "/alarms", "/app-3F2A9C.js"): a
    // name with an extension is that file or nothing; without one, it is a
    // page of the application: index.html. A path with ".." or a
    // backslash: nothing.
    const WebFile* find(const std::string& path) const;

    bool loaded() const { return !files_.empty(); }
    const std::string& dir() const { return dir_; }
    size_t bytes() const { return bytes_; }

private:
    std::string dir_;
    std::map<std::string, WebFile> files_;  // by path from the folder ("index.html", "assets/x.png")
    size_t bytes_ = 0;
};

}  // namespace gridlet::http
