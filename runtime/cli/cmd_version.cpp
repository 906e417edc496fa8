// `gridlet version`: versions of gridlet, its plugin ABI and its libraries.
#include <CLI/CLI.hpp>
#include <gridlet/plugin.h>
#include <luajit-2.1/luajit.h>
#include <rocksdb/version.h>
#include <spdlog/version.h>
#include <zmq.h>

#include <cstdio>

#include "cli/commands.h"

namespace gridlet::cli {

void register_version_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("version", "Print the versions of gridlet, its plugin ABI and its libraries");
    cmd->callback([] {
        int zmaj = 0, zmin = 0, zpatch = 0;
        zmq_version(&zmaj, &zmin, &zpatch);
        std::printf("gridlet %s\nplugin ABI %d.%d\nzeromq %d.%d.%d\nrocksdb %d.%d.%d\n%s\nspdlog %d.%d.%d\n",
                    GRIDLET_VERSION, GL_ABI_MAJOR, GL_ABI_MINOR, zmaj, zmin, zpatch, ROCKSDB_MAJOR, ROCKSDB_MINOR,
                    ROCKSDB_PATCH, LUAJIT_VERSION, SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
    });
}

}  // namespace gridlet::cli
