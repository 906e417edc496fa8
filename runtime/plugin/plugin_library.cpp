#include "plugin/plugin_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "install_paths.h"
#include "plugin/plugin_instance.h"

namespace gridlet::plugin {

namespace {

std::string abi(unsigned major, unsigned minor) { return std::to_string(major) + "." + std::to_string(minor); }

Expected<std::vector<config::KeySpec>> convert_schema(const gl_config_key* keys, size_t n, const std::string& path,
                                                      const char* which) {
    std::vector<config::KeySpec> out;
    if (n && !keys) return Status::invalid("plugin " + path + ": " + which + " has " + std::to_string(n) + " keys but no array");
    std::set<std::string> seen;
    for (size_t i = 0; i < n; ++i) {
        const gl_config_key& k = keys[i];
        std::string where = "plugin " + path + ": " + which + " key #" + std::to_string(i);
        if (!k.key || !*k.key) return Status::invalid(where + " has no name");
        if (!seen.insert(k.key).second) return Status::invalid(where + " '" + k.key + "' is declared twice");
        config::KeySpec s;
        s.key = k.key;
        switch (k.type) {
            case GL_CFG_STRING: s.type = config::ValueType::string; break;
            case GL_CFG_INT: s.type = config::ValueType::integer; break;
            case GL_CFG_DOUBLE: s.type = config::ValueType::number; break;
            case GL_CFG_BOOL: s.type = config::ValueType::boolean; break;
            case GL_CFG_TABLE: s.type = config::ValueType::table; break;
            case GL_CFG_ARRAY: s.type = config::ValueType::array; break;
            default: return Status::invalid(where + " '" + k.key + "' has unknown type " + std::to_string(k.type));
        }
        if (k.default_value) {
            s.default_toml = k.default_value;
            if (!config::parse_toml_literal(k.default_value))
                return Status::invalid(where + " '" + k.key + "' has a default that is not a TOML value: " + k.default_value);
        }
        s.help = k.help ? k.help : "";
        s.required = k.required != 0;
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace

const char* PluginLibrary::kind_name(gl_plugin_kind kind) noexcept {
    switch (kind) {
        case GL_KIND_DRIVER: return "driver";
        case GL_KIND_LOGIC: return "logic";
        case GL_KIND_NORTH: return "north";
        case GL_KIND_SIMULATOR: return "simulator";
    }
    return "unknown";
}

PluginLibrary::~PluginLibrary() {
    if (handle_) dlclose(handle_);
}

Expected<std::shared_ptr<PluginLibrary>> PluginLibrary::open(const std::string& path, const gl_host_api* host) {
    std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
    lib->path_ = path;
    dlerror();
    lib->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle_) {
        const char* e = dlerror();
        return Status::invalid("plugin " + path + ": cannot load: " + (e ? e : "unknown dlopen error"));
    }
    void* sym = dlsym(lib->handle_, GL_PLUGIN_ENTRY_SYMBOL);
    if (!sym)
        return Status::invalid("plugin " + path + ": missing entry point '" GL_PLUGIN_ENTRY_SYMBOL
                               "' (found no such exported symbol; wanted `const gl_plugin_descriptor* " GL_PLUGIN_ENTRY_SYMBOL
                               "(const gl_host_api*)`, e.g. from GRIDLET_PLUGIN(Class))");
    Status st = check_entry(*lib, reinterpret_cast<gl_plugin_entry_fn>(sym), host);
    if (!st) return st;
    return lib;
}

Expected<std::shared_ptr<PluginLibrary>> PluginLibrary::from_entry(const std::string& label, gl_plugin_entry_fn entry,
                                                                   const gl_host_api* host) {
    std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
    lib->path_ = label;
    Status st = check_entry(*lib, entry, host);
    if (!st) return st;
    return lib;
}

Status PluginLibrary::check_entry(PluginLibrary& lib, gl_plugin_entry_fn entry, const gl_host_api* host) {
    const std::string& path = lib.path_;
    const gl_plugin_descriptor* d = entry(host);
    if (!d)
        return Status::invalid("plugin " + path + ": refused the host (host ABI " + abi(GL_ABI_MAJOR, GL_ABI_MINOR) +
                               "); it was built for another ABI major");
    if (d->struct_size < offsetof(gl_plugin_descriptor, abi_minor) + sizeof(d->abi_minor))
        return Status::invalid("plugin " + path + ": descriptor is " + std::to_string(d->struct_size) +
                               " bytes, too small to hold its ABI version; wanted at least " +
                               std::to_string(kMinDescriptorSize) + " bytes (ABI " + abi(GL_ABI_MAJOR, 0) + ")");
    if (d->abi_major != GL_ABI_MAJOR)
        return Status::invalid("plugin " + path + ": plugin ABI " + abi(d->abi_major, d->abi_minor) + ", host wants ABI " +
                               abi(GL_ABI_MAJOR, GL_ABI_MINOR) + " (major " + std::to_string(GL_ABI_MAJOR) + ")");
    if (d->struct_size < kMinDescriptorSize)
        return Status::invalid("plugin " + path + ": descriptor is " + std::to_string(d->struct_size) +
                               " bytes; ABI " + abi(GL_ABI_MAJOR, 0) + " wants at least " + std::to_string(kMinDescriptorSize));
    if (!d->name || !*d->name) return Status::invalid("plugin " + path + ": descriptor has no name");
    if (!d->version || !*d->version) return Status::invalid("plugin " + path + ": descriptor has no version");
    if (d->kind < GL_KIND_DRIVER || d->kind > GL_KIND_SIMULATOR)
        return Status::invalid("plugin " + path + ": unknown kind " + std::to_string(d->kind) +
                               " (wanted 1 driver, 2 logic, 3 north or 4 simulator)");
    if (!d->create || !d->destroy)
        return Status::invalid("plugin " + path + ": descriptor has no create or destroy callback (both are required)");
    auto ck = convert_schema(d->config_schema, d->config_schema_len, path, "config schema");
    if (!ck) return ck.status();
    auto dk = convert_schema(d->device_schema, d->device_schema_len, path, "device schema");
    if (!dk) return dk.status();
    for (const auto& k : *dk)
        if (k.key == "name" || k.key == "plugin")
            return Status::invalid("plugin " + path + ": device schema must not declare '" + k.key +
                                   "' (the host owns it)");
    lib.desc_ = d;
    lib.config_keys_ = std::move(*ck);
    lib.device_keys_ = std::move(*dk);
    return Status::ok();
}

std::vector<std::string> default_plugin_dirs() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("GRIDLET_PLUGIN_PATH")) {
        std::string s = env;
        size_t pos = 0;
        while (pos <= s.size()) {
            size_t c = s.find(':', pos);
            if (c == std::string::npos) c = s.size();
            if (c > pos) dirs.push_back(s.substr(pos, c - pos));
            pos = c + 1;
        }
    }
    // Then gridlet's own: the build tree's, or the install prefix's of this binary.
    if (const std::string& own = executable_install_paths().plugin_dir; !own.empty()) dirs.push_back(own);
    return dirs;
}

Expected<std::string> find_plugin_file(const std::string& name, const std::vector<std::string>& dirs) {
    namespace fs = std::filesystem;
    if (name.find('/') != std::string::npos) {
        if (fs::exists(name)) return name;
        return Status::not_found("plugin file " + name + " does not exist");
    }
    std::string looked;
    for (const std::string& d : dirs) {
        for (const std::string& f : {name, name + ".so", "gridlet_" + name + ".so"}) {
            fs::path p = fs::path(d) / f;
            if (fs::is_regular_file(p)) return p.string();
        }
        looked += (looked.empty() ? "" : ", ") + d;
    }
    return Status::not_found("plugin '" + name + "' not found (looked for " + name + ", " + name + ".so and gridlet_" + name +
                             ".so in: " + (looked.empty() ? "no folder" : looked) + ")");
}

}  // namespace gridlet::plugin

namespace gridlet::plugin {

std::vector<ConfigProblem> PluginLibrary::validate(const std::string& instance, const nlohmann::json& config,
                                                   const nlohmann::json& devices,
                                                   std::vector<ConfigProblem>* warnings, bool has_store) const {
    if (!GL_HAS_FIELD(desc_, gl_plugin_descriptor, validate) || !desc_->validate) return {};
    ConfigCheck check;
    check.name = instance;
    check.has_store = has_store;
    check.config = config;
    check.config_text = config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    check.devices_text = devices.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    gl_host_ctx ctx;
    ctx.check = &check;
    gl_status st = desc_->validate(&ctx);
    if (st != GL_OK && check.problems.empty())
        check.problems.push_back({"", "validate failed with status " + std::to_string(st)});
    if (warnings != nullptr) *warnings = std::move(check.warnings);
    return std::move(check.problems);
}

}  // namespace gridlet::plugin
