// Making one of gridlet's own components (a gridlet::Plugin class linked
// into the kernel) into a plugin instance named `name`, handed `ctx`. Used
// by each component's make_*_instance(). Kernel thread.
#pragma once

#include <gridlet/plugin.hpp>

#include <memory>
#include <string>

#include "kernel/components.h"

namespace gridlet::kernel {

template <class Component>
Expected<std::unique_ptr<plugin::PluginInstance>> make_component_instance(const std::string& name,
                                                                         ComponentContext& ctx,
                                                                         plugin::HostServices services,
                                                                         uint32_t index) {
    auto lib = plugin::PluginLibrary::from_entry("builtin:" + name, &gridlet::detail::Adapter<Component>::entry,
                                                 plugin::host_api_table());
    if (!lib) return lib.status();
    auto inst =
        plugin::PluginInstance::make(name, *lib, nlohmann::json::object(), nlohmann::json::array(), services, index);
    if (!inst) return inst.status();
    (*inst)->set_component(&ctx);
    return inst;
}

}  // namespace gridlet::kernel
