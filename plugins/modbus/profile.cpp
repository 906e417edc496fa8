#include "profile.h"
#include "toml_syntax.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace gridlet::modbus {
namespace {

class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) {}

    Profile load(const toml::table& root) {
        Profile p;
        p.file = file_;
        check_keys(root, {"profile", "readable", "point", "command"}, "the top level");
        const toml::table* head = root.get_as<toml::table>("profile");
        if (!head) fail(root, "missing [profile] table (name, address_base, ...)");
        check_keys(*head, {"name", "description", "address_base", "max_registers", "max_bits", "max_gap", "word_order",
                           "byte_order"},
                   "[profile]");
        p.name = str(*head, "name", "");
        if (p.name.empty()) fail(*head, "[profile] needs a non-empty 'name'");
        p.description = str(*head, "description", "");
        p.address_base = static_cast<int>(integer(*head, "address_base", 0, 0, 1));
        p.max_registers = static_cast<int>(integer(*head, "max_registers", 125, 1, 125));
        p.max_bits = static_cast<int>(integer(*head, "max_bits", 2000, 1, 2000));
        p.max_gap = static_cast<int>(integer(*head, "max_gap", 0, 0, 124));
        word_order_ = order(*head, "word_order", Order::Big);
        byte_order_ = order(*head, "byte_order", Order::Big);
        base_ = p.address_base;

        for_each_table(root, "readable", [&](const toml::table& t) {
            check_keys(t, {"fc", "first", "last"}, "[[readable]]");
            ReadableRange r;
            r.fc = static_cast<int>(integer(t, "fc", 3, 1, 4));
            r.first = wire(t, "first", required_int(t, "first"), 1);
            r.last = wire(t, "last", required_int(t, "last"), 1);
            if (r.last < r.first) fail(t, "[[readable]] 'last' is below 'first'");
            p.readable.push_back(r);
        });
        for_each_table(root, "point", [&](const toml::table& t) { parse_point(p, t); });
        for_each_table(root, "command", [&](const toml::table& t) { parse_command(p, t); });
        if (p.points.empty()) fail(*head, "profile '" + p.name + "' defines no [[point]]");
        return p;
    }

private:
    [[noreturn]] void fail(const toml::node& n, const std::string& msg) const {
        throw ProfileError(file_ + ":" + std::to_string(n.source().begin.line) + ": " + msg);
    }
    std::string where(const toml::node& n) const { return file_ + ":" + std::to_string(n.source().begin.line); }

    void check_keys(const toml::table& t, std::initializer_list<const char*> allowed, const std::string& ctx) const {
        for (auto&& [k, v] : t) {
            bool ok = false;
            for (const char* a : allowed) ok = ok || k.str() == a;
            if (!ok) {
                std::string list;
                for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
                fail(v, "unknown key '" + std::string(k.str()) + "' in " + ctx + " (allowed: " + list + ")");
            }
        }
    }

    template <class F>
    void for_each_table(const toml::table& root, const char* key, F&& f) {
        const toml::node* n = root.get(key);
        if (!n) return;
        const toml::array* arr = n->as_array();
        if (!arr) fail(*n, std::string("'") + key + "' must be an array of tables ([[" + key + "]])");
        for (const toml::node& e : *arr) {
            const toml::table* t = e.as_table();
            if (!t) fail(e, std::string("each '") + key + "' entry must be a table");
            f(*t);
        }
    }

    std::string str(const toml::table& t, const char* key, const std::string& def) const {
        const toml::node* n = t.get(key);
        if (!n) return def;
        if (!n->is_string()) fail(*n, std::string("'") + key + "' must be a string");
        return std::string(n->as_string()->get());
    }

    int64_t integer(const toml::table& t, const char* key, int64_t def, int64_t lo, int64_t hi) const {
        const toml::node* n = t.get(key);
        if (!n) return def;
        if (!n->is_integer()) fail(*n, std::string("'") + key + "' must be an integer");
        int64_t v = n->as_integer()->get();
        if (v < lo || v > hi)
            fail(*n, std::string("'") + key + "' = " + std::to_string(v) + " is out of range " + std::to_string(lo) +
                         ".." + std::to_string(hi));
        return v;
    }

    int64_t required_int(const toml::table& t, const char* key) const {
        const toml::node* n = t.get(key);
        if (!n) fail(t, std::string("missing required key '") + key + "'");
        return integer(t, key, 0, INT64_MIN, INT64_MAX);
    }

    bool boolean(const toml::table& t, const char* key, bool def) const {
        const toml::node* n = t.get(key);
        if (!n) return def;
        if (!n->is_boolean()) fail(*n, std::string("'") + key + "' must be true or false");
        return n->as_boolean()->get();
    }

    Order order(const toml::table& t, const char* key, Order def) const {
        const toml::node* n = t.get(key);
        if (!n) return def;
        std::string s = str(t, key, "");
        if (s == "big") return Order::Big;
        if (s == "little") return Order::Little;
        fail(*n, std::string("'") + key + "' must be \"big\" or \"little\", not \"" + s + "\"");
    }

    // Documented address -> wire address, checking the range for `count` registers.
    uint32_t wire(const toml::table& t, const char* key, int64_t doc, int count) const {
        int64_t w = doc - base_;
        const toml::node* n = t.get(key);
        const toml::node& at = n ? *n : static_cast<const toml::node&>(t);
        if (w < 0 || w + count - 1 > 65535)
            fail(at, std::string("'") + key + "' = " + std::to_string(doc) + " is outside the register space (" +
                         std::to_string(base_) + ".." + std::to_string(65535 + base_) + ")");
        return static_cast<uint32_t>(w);
    }

    // "branch{ch:02}/x" with ch = 7 -> "branch07/x".
    std::string expand(const toml::table& t, const std::string& tmpl, int ch) const {
        std::string out;
        for (size_t i = 0; i < tmpl.size();) {
            if (tmpl[i] != '{') {
                out += tmpl[i++];
                continue;
            }
            size_t close = tmpl.find('}', i);
            std::string field = close == std::string::npos ? "" : tmpl.substr(i + 1, close - i - 1);
            int width = 0;
            if (field == "ch") {
            } else if (field.rfind("ch:0", 0) == 0 && field.size() == 5 && std::isdigit(static_cast<unsigned char>(field[4]))) {
                width = field[4] - '0';
            } else {
                fail(t, "bad template field '{" + field + "}' in name '" + tmpl + "' (use {ch} or {ch:02})");
            }
            std::string num = std::to_string(ch);
            if (static_cast<int>(num.size()) < width) num.insert(0, width - num.size(), '0');
            out += num;
            i = close + 1;
        }
        return out;
    }

    // The channel list of a templated entry: [first, last]; {0, 0} when none.
    std::pair<int, int> channels(const toml::table& t, const std::string& name) const {
        const toml::node* n = t.get("channels");
        bool templ = name.find('{') != std::string::npos;
        if (!n) {
            if (templ) fail(t, "name '" + name + "' has a {ch} template but no 'channels = [first, last]'");
            return {0, 0};
        }
        const toml::array* a = n->as_array();
        if (!a || a->size() != 2 || !(*a)[0].is_integer() || !(*a)[1].is_integer())
            fail(*n, "'channels' must be [first, last] (two integers)");
        int first = static_cast<int>((*a)[0].as_integer()->get()), last = static_cast<int>((*a)[1].as_integer()->get());
        if (first < 0 || last < first || last - first >= 4096) fail(*n, "'channels' must satisfy 0 <= first <= last < first + 4096");
        if (!templ) fail(*n, "'channels' given but name '" + name + "' has no {ch} template");
        return {first, last};
    }

    void add_name(Profile&, const std::string& name, const toml::table& t) {
        if (!valid_series_path(name))
            fail(t, "name '" + name + "' is not a series path (segments of A-Z a-z 0-9 _ . - separated by '/')");
        if (!names_.insert(name).second) fail(t, "duplicate point or command name '" + name + "'");
    }

    void check_readable(const Profile& p, const toml::table& t, const std::string& name, int fc, uint32_t first, int count) const {
        if (!p.readable_span(fc, first, first + count - 1))
            fail(t, "point '" + name + "' (fc " + std::to_string(fc) + ", register " + std::to_string(first + base_) +
                        ") lies outside every [[readable]] range of fc " + std::to_string(fc));
    }

    void parse_point(Profile& p, const toml::table& t) {
        check_keys(t, {"name", "channels", "fc", "address", "stride", "type", "word_order", "byte_order", "bit", "scale",
                       "scale_register", "scale_stride", "scale_fc", "multiplier", "unit", "kind", "states", "invalid",
                       "description", "writable", "write_fc", "alarm"},
                   "[[point]]");
        std::string name = str(t, "name", "");
        if (name.empty()) fail(t, "[[point]] needs a 'name'");
        auto [first, last] = channels(t, name);
        Point pt;
        pt.where = where(t);
        pt.fc = static_cast<int>(integer(t, "fc", 3, 1, 4));
        std::string type = str(t, "type", pt.fc <= 2 ? "bool" : "uint16");
        auto vt = parse_value_type(type);
        if (!vt) fail(*t.get("type"), "unknown type '" + type + "' (bool, int16, uint16, int32, uint32, float32, int64, uint64)");
        pt.type = *vt;
        if ((pt.fc <= 2) != (pt.type == ValueType::Bool))
            fail(t, pt.fc <= 2 ? "function codes 1 and 2 read bits: type must be \"bool\""
                               : "type \"bool\" needs function code 1 (coils) or 2 (discrete inputs)");
        int count = register_count(pt.type);
        pt.word_order = order(t, "word_order", word_order_);
        pt.byte_order = order(t, "byte_order", byte_order_);
        pt.bit = static_cast<int>(integer(t, "bit", -1, 0, 16 * count - 1));
        if (pt.bit >= 0 && !is_integer(pt.type)) fail(t, "'bit' needs an integer type");
        pt.scale = static_cast<int>(integer(t, "scale", 0, -15, 15));
        if (const toml::node* m = t.get("multiplier")) {
            if (!m->is_number()) fail(*m, "'multiplier' must be a number");
            pt.multiplier = m->value<double>().value_or(1.0);
            if (pt.multiplier == 0) fail(*m, "'multiplier' must not be 0");
        }
        int64_t stride = integer(t, "stride", count, -65535, 65535);
        int64_t scale_doc = -1, scale_stride = stride;
        if (t.get("scale_register")) {
            scale_doc = required_int(t, "scale_register");
            scale_stride = integer(t, "scale_stride", stride, -65535, 65535);
            pt.has_scale_register = true;
            pt.scale_register.fc = static_cast<int>(integer(t, "scale_fc", pt.fc, 3, 4));
        } else if (t.get("scale_stride") || t.get("scale_fc")) {
            fail(t, "'scale_stride' / 'scale_fc' need 'scale_register'");
        }
        pt.unit = str(t, "unit", "");
        pt.description = str(t, "description", "");
        pt.alarm = str(t, "alarm", "");
        if (!pt.alarm.empty() && pt.alarm != "information" && pt.alarm != "non_critical" && pt.alarm != "critical")
            fail(*t.get("alarm"), "'alarm' is the criticality of the device alarm this point reports: information, "
                                  "non_critical or critical (got '" + pt.alarm + "')");
        std::string kind = str(t, "kind", "");
        if (const toml::node* s = t.get("states")) {
            const toml::table* st = s->as_table();
            if (!st) fail(*s, "'states' must be a table of value = \"name\" (e.g. { 0 = \"normal\", 1 = \"alarm\" })");
            std::map<long, std::string> sorted;
            for (auto&& [k, v] : *st) {
                char* end = nullptr;
                std::string ks(k.str());
                long num = std::strtol(ks.c_str(), &end, 10);
                if (ks.empty() || *end) fail(v, "state key '" + ks + "' is not an integer");
                if (!v.is_string()) fail(v, "state name for " + ks + " must be a string");
                sorted[num] = std::string(v.as_string()->get());
            }
            for (auto& [num, nm] : sorted) pt.states += (pt.states.empty() ? "" : ",") + std::to_string(num) + "=" + nm;
            if (kind.empty()) kind = "state";
            if (kind != "state") fail(*s, "'states' needs kind = \"state\"");
        }
        if (kind.empty()) kind = pt.bit >= 0 || pt.type == ValueType::Bool ? "state" : "gauge";
        if (kind == "gauge") pt.kind = GL_SERIES_GAUGE;
        else if (kind == "counter") pt.kind = GL_SERIES_COUNTER;
        else if (kind == "state") pt.kind = GL_SERIES_STATE;
        else fail(*t.get("kind"), "kind must be \"gauge\", \"counter\" or \"state\", not \"" + kind + "\"");
        if (const toml::node* inv = t.get("invalid")) {
            auto add = [&](const toml::node& e) {
                if (!e.is_integer()) fail(e, "'invalid' markers must be integers (raw register contents, e.g. 0x8000)");
                pt.invalid.push_back(static_cast<uint64_t>(e.as_integer()->get()));
            };
            if (const toml::array* a = inv->as_array()) {
                for (const toml::node& e : *a) add(e);
            } else {
                add(*inv);
            }
        }
        pt.writable = boolean(t, "writable", false);
        if (pt.writable) {
            if (pt.fc == 2 || pt.fc == 4)
                fail(t, "point '" + name + "' is writable but fc " + std::to_string(pt.fc) + " is a read-only table");
            int def = pt.fc == 1 ? 5 : (count == 1 ? 6 : 16);
            pt.write_fc = static_cast<int>(integer(t, "write_fc", def, 5, 16));
            bool ok = pt.fc == 1 ? (pt.write_fc == 5 || pt.write_fc == 15)
                                 : (pt.write_fc == 16 || (pt.write_fc == 6 && count == 1));
            if (!ok) fail(*t.get("write_fc"), "write_fc " + std::to_string(pt.write_fc) + " does not fit fc " +
                                                  std::to_string(pt.fc) + " / type " + type);
            if (pt.bit >= 0) fail(t, "a 'bit' point cannot be writable (write the whole register)");
        } else if (t.get("write_fc")) {
            fail(*t.get("write_fc"), "'write_fc' needs writable = true");
        }
        int64_t base_addr = required_int(t, "address");
        bool templ = first != 0 || last != 0 || name.find('{') != std::string::npos;
        int lo = templ ? first : 0, hi = templ ? last : 0;
        for (int ch = lo; ch <= hi; ++ch) {
            Point e = pt;
            e.name = templ ? expand(t, name, ch) : name;
            add_name(p, e.name, t);
            e.address = wire(t, "address", base_addr + (ch - lo) * stride, count);
            if (pt.has_scale_register) e.scale_register.address = wire(t, "scale_register", scale_doc + (ch - lo) * scale_stride, 1);
            check_readable(p, t, e.name, e.fc, e.address, pt.fc <= 2 ? 1 : count);
            if (e.has_scale_register) check_readable(p, t, e.name + " (scale register)", e.scale_register.fc, e.scale_register.address, 1);
            p.points.push_back(std::move(e));
        }
    }

    void parse_command(Profile& p, const toml::table& t) {
        check_keys(t, {"name", "channels", "fc", "address", "stride", "value", "description"}, "[[command]]");
        std::string name = str(t, "name", "");
        if (name.empty()) fail(t, "[[command]] needs a 'name'");
        auto [first, last] = channels(t, name);
        Command c;
        c.where = where(t);
        c.description = str(t, "description", "");
        c.fc = static_cast<int>(integer(t, "fc", 6, 5, 16));
        if (c.fc != 5 && c.fc != 6 && c.fc != 15 && c.fc != 16) fail(*t.get("fc"), "command fc must be 5, 6, 15 or 16");
        const toml::node* v = t.get("value");
        if (!v) fail(t, "[[command]] '" + name + "' needs a 'value' (the code to write)");
        auto word = [&](const toml::node& e) {
            if (!e.is_integer()) fail(e, "command values must be integers");
            int64_t x = e.as_integer()->get();
            if (x < 0 || x > 65535) fail(e, "command value " + std::to_string(x) + " does not fit a register (0..65535)");
            if ((c.fc == 5 || c.fc == 15) && x > 1) fail(e, "coil command values are 0 or 1");
            c.words.push_back(static_cast<uint16_t>(x));
        };
        if (const toml::array* a = v->as_array()) {
            for (const toml::node& e : *a) word(e);
        } else {
            word(*v);
        }
        if (c.words.empty()) fail(*v, "command 'value' is empty");
        if ((c.fc == 5 || c.fc == 6) && c.words.size() != 1) fail(*v, "fc 5 and 6 write exactly one value");
        int64_t stride = integer(t, "stride", 1, -65535, 65535);
        int64_t base_addr = required_int(t, "address");
        bool templ = name.find('{') != std::string::npos;
        for (int ch = templ ? first : 0; ch <= (templ ? last : 0); ++ch) {
            Command e = c;
            e.name = templ ? expand(t, name, ch) : name;
            add_name(p, e.name, t);
            e.address = wire(t, "address", base_addr + (ch - (templ ? first : 0)) * stride, static_cast<int>(c.words.size()));
            p.commands.push_back(std::move(e));
        }
    }

    std::string file_;
    int base_ = 0;
    Order word_order_ = Order::Big, byte_order_ = Order::Big;
    std::set<std::string> names_;
};

}  // namespace

bool valid_series_path(const std::string& s) {
    if (s.empty() || s.front() == '/' || s.back() == '/') return false;
    bool prev_slash = false;
    for (char c : s) {
        if (c == '/') {
            if (prev_slash) return false;
            prev_slash = true;
            continue;
        }
        prev_slash = false;
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
    }
    return true;
}

const Point* Profile::find_point(const std::string& n) const {
    for (const Point& p : points)
        if (p.name == n) return &p;
    return nullptr;
}

const Command* Profile::find_command(const std::string& n) const {
    for (const Command& c : commands)
        if (c.name == n) return &c;
    return nullptr;
}

bool Profile::readable_span(int fc, uint32_t first, uint32_t last) const {
    bool any = false;
    for (const ReadableRange& r : readable) {
        if (r.fc != fc) continue;
        any = true;
        if (first >= r.first && last <= r.last) return true;
    }
    return !any;
}

Profile parse_profile(const std::string& text, const std::string& file) {
    toml::table root;
    try {
        root = toml::parse(text, file);
    } catch (const toml::parse_error& e) {
        throw ProfileError(file + ":" + std::to_string(e.source().begin.line) + ": " + toml_syntax_message(e.description()));
    }
    return Loader(file).load(root);
}

Profile load_profile(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw ProfileError(path + ":0: cannot open profile file");
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_profile(ss.str(), path);
}

}  // namespace gridlet::modbus
