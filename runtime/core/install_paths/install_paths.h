// Where gridlet's own files are, found from the running file itself: the
// `gridlet` executable (/proc/self/exe) or a first-party plugin's .so
// (dladdr). A file inside the build tree uses the build tree (plugins in
// <build>/plugins, profiles and Lua library in the source tree); an
// installed file uses its own prefix, wherever that is (/usr, /usr/local,
// /opt/gridlet, a staging folder): <prefix>/<libdir>/gridlet/plugins and
// <prefix>/<datadir>/gridlet/{config/profiles,scripts/lib}. The relative
// layout comes from CMake's GNUInstallDirs at configure time.
// Header-only (the kernel and the Modbus plugin use it); pure, any thread.
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <cstdlib>
#include <string>
#include <vector>
#include <system_error>

namespace gridlet {

struct InstallPaths {
    bool build_tree = false;
    std::string plugin_dir;  // first-party plugins
    std::string data_dir;    // holds config/profiles and scripts/lib
    std::string web_dir;     // the dashboard's built files (<build>/web, <datadir>/gridlet/web)
};

namespace install_detail {
inline std::filesystem::path canonical_or_self(const std::filesystem::path& p) {
    std::error_code ec;
    auto c = std::filesystem::weakly_canonical(p, ec);
    return ec ? p : c;
}
inline bool inside(const std::filesystem::path& file, const std::filesystem::path& dir) {
    const std::string f = file.string(), d = canonical_or_self(dir).string();
    return !d.empty() && f.size() > d.size() && f.compare(0, d.size(), d) == 0 && f[d.size()] == '/';
}
}  // namespace install_detail

// `file`: the gridlet executable (from_plugin false) or a first-party
// plugin's .so in the plugin folder (from_plugin true).
inline InstallPaths install_paths_for(const std::string& file, bool from_plugin) {
    namespace fs = std::filesystem;
    using install_detail::canonical_or_self;
    const fs::path self = canonical_or_self(file);
    InstallPaths p;
    if (install_detail::inside(self, GRIDLET_BUILD_DIR)) {
        p.build_tree = true;
        p.plugin_dir = GRIDLET_BUILD_DIR "/plugins";
        p.data_dir = GRIDLET_SOURCE_DIR;
        p.web_dir = GRIDLET_BUILD_DIR "/web";
        return p;
    }
    const fs::path dir = self.parent_path();
    if (from_plugin) {
        p.plugin_dir = dir.string();
        p.data_dir = (dir / GRIDLET_REL_PLUGINS_TO_DATA).lexically_normal().string();
    } else {
        p.plugin_dir = (dir / GRIDLET_REL_BIN_TO_PLUGINS).lexically_normal().string();
        p.data_dir = (dir / GRIDLET_REL_BIN_TO_DATA).lexically_normal().string();
    }
    p.web_dir = p.data_dir + "/web";
    return p;
}

// The running executable's paths ("" on a system without /proc: nothing found).
inline const InstallPaths& executable_install_paths() {
    static const InstallPaths paths = [] {
        std::error_code ec;
        const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
        return ec ? InstallPaths{} : install_paths_for(exe.string(), false);
    }();
    return paths;
}

// The paths of the shared object that holds `address` (a function of the caller's).
inline InstallPaths shared_object_install_paths(const void* address) {
    Dl_info info{};
    if (dladdr(address, &info) == 0 || !info.dli_fname) return {};
    return install_paths_for(info.dli_fname, true);
}

// The folders a plugin searches for profiles, in order: `configured` (a
// ':'-separated list, e.g. a profiles_dir key), $GRIDLET_PROFILE_DIR,
// ./config/profiles, then gridlet's own: the source tree's for a plugin in
// the build tree, else those of the prefix the plugin (the shared object
// holding `address`) is installed in.
inline std::vector<std::string> profile_search_dirs(const std::string& configured, const void* address) {
    std::vector<std::string> dirs;
    auto add = [&](const std::string& list) {
        size_t at = 0;
        while (at <= list.size()) {
            const size_t c = list.find(':', at);
            std::string part = list.substr(at, c == std::string::npos ? std::string::npos : c - at);
            if (!part.empty()) dirs.push_back(part);
            if (c == std::string::npos) break;
            at = c + 1;
        }
    };
    add(configured);
    if (const char* env = std::getenv("GRIDLET_PROFILE_DIR")) add(env);
    dirs.push_back("config/profiles");
    const InstallPaths own = shared_object_install_paths(address);
    if (!own.data_dir.empty()) dirs.push_back(own.data_dir + "/config/profiles");
    return dirs;
}

}  // namespace gridlet
