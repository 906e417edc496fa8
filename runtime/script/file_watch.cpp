#include "script/file_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace gridlet::script {

namespace fs = std::filesystem;

Expected<std::unique_ptr<FileWatch>> FileWatch::create() {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return Status::io_error(std::string("inotify_init1: ") + std::strerror(errno));
    return std::unique_ptr<FileWatch>(new FileWatch(fd));
}

FileWatch::~FileWatch() { ::close(fd_); }

void FileWatch::set_files(const std::vector<std::string>& files) {
    std::set<std::string> dirs;
    files_.clear();
    for (const std::string& f : files) {
        std::error_code ec;
        fs::path abs = fs::absolute(f, ec).lexically_normal();
        if (ec) continue;
        files_.insert(abs.string());
        dirs.insert(abs.parent_path().string());
    }
    for (auto it = wd_by_dir_.begin(); it != wd_by_dir_.end();) {
        if (dirs.count(it->first) == 0) {
            inotify_rm_watch(fd_, it->second);
            dirs_by_wd_.erase(it->second);
            it = wd_by_dir_.erase(it);
        } else {
            ++it;
        }
    }
    for (const std::string& d : dirs) {
        if (wd_by_dir_.count(d) != 0) continue;
        int wd = inotify_add_watch(fd_, d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY);
        if (wd < 0) continue;  // folder gone: the reload will report the missing file
        wd_by_dir_[d] = wd;
        dirs_by_wd_[wd] = d;
    }
}

bool FileWatch::changed() {
    bool relevant = false;
    alignas(inotify_event) char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->len == 0) continue;
            auto dir = dirs_by_wd_.find(ev->wd);
            if (dir == dirs_by_wd_.end()) continue;
            if (files_.count((fs::path(dir->second) / ev->name).string()) != 0) relevant = true;
        }
    }
    return relevant;
}

}  // namespace gridlet::script
