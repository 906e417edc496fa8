// `gridlet plugins <file.so>...`: describe plugin files (name, version, ABI,
// kind, config and device schemas) without running them.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "core/config_schema.h"
#include "plugin/plugin_instance.h"
#include "plugin/plugin_library.h"

namespace gridlet::cli {

void register_plugins_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("plugins", "Describe plugin files: name, version, ABI, kind, config schema");
    auto files = std::make_shared<std::vector<std::string>>();
    cmd->add_option("files", *files,
                    "Plugin files (.so), or names searched in $GRIDLET_PLUGIN_PATH and the plugin folders")
        ->required();
    cmd->footer("Exit status: 0 all described; 2 a file was refused (the reason is printed).");
    cmd->callback([files] {
        bool bad = false;
        for (const std::string& f : *files) {
            auto path = plugin::find_plugin_file(f, plugin::default_plugin_dirs());
            if (!path) {
                std::fprintf(stderr, "%s\n", path.status().message().c_str());
                bad = true;
                continue;
            }
            auto lib = plugin::PluginLibrary::open(*path, plugin::host_api_table());
            if (!lib) {
                std::fprintf(stderr, "%s\n", lib.status().message().c_str());
                bad = true;
                continue;
            }
            const gl_plugin_descriptor& d = (*lib)->descriptor();
            std::printf("%s\n  name:        %s\n  version:     %s\n  ABI:         %u.%u (host %d.%d)\n"
                        "  kind:        %s\n  description: %s\n",
                        path->c_str(), d.name, d.version, d.abi_major, d.abi_minor, GL_ABI_MAJOR, GL_ABI_MINOR,
                        plugin::PluginLibrary::kind_name(d.kind), d.description ? d.description : "");
            std::printf("  config keys ([plugins.config]):%s\n%s", (*lib)->config_keys().empty() ? " none" : "",
                        config::describe((*lib)->config_keys(), "    ").c_str());
            std::printf("  device keys ([[devices]], besides name and plugin):%s\n%s",
                        (*lib)->device_keys().empty() ? " none" : "",
                        config::describe((*lib)->device_keys(), "    ").c_str());
            std::printf("  callbacks:  %s%s%s%s%s\n", d.start ? " start" : "", d.stop ? " stop" : "",
                        d.on_message ? " on_message" : "", d.on_command ? " on_command" : "",
                        d.on_timer ? " on_timer" : "");
        }
        if (bad) throw CLI::RuntimeError(2);
    });
}

}  // namespace gridlet::cli
