// FileWatch: inotify on the folders that hold a set of files, so that an edit
// (in place, or an editor's write-then-rename) is noticed. Folders are
// watched rather than files because rename-replace changes the inode.
//
// Threads: one owner thread (the engine thread).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace gridlet::script {

class FileWatch {
public:
    static Expected<std::unique_ptr<FileWatch>> create();
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    // Readable (poll/epoll) when events are pending. Non-blocking.
    int fd() const noexcept { return fd_; }
    // Watch exactly the folders of `files` from now on.
    void set_files(const std::vector<std::string>& files);
    // Drains pending events; true if one concerned a watched file.
    bool changed();

private:
    explicit FileWatch(int fd) : fd_(fd) {}
    int fd_;
    std::map<int, std::string> dirs_by_wd_;
    std::map<std::string, int> wd_by_dir_;
    std::set<std::string> files_;  // absolute paths
};

}  // namespace gridlet::script
