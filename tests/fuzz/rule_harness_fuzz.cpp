// Fuzz target: a rule source and a timeline, run through the offline harness
// (`gridlet test-rule`) with small budgets (issue 12). Whatever the bytes, the
// harness gives a report or a clear error, never a crash, a hang beyond the
// budgets, or text that is not valid UTF-8; the report always serialises.
//
// Input: the rule's Lua source, a line "--- timeline", then JSONL timeline
// lines (timeline.h).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "core/text.h"
#include "fuzz_driver.h"
#include "script/harness.h"

using namespace gridlet;
using namespace gridlet::script;

namespace {

const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("gridlet_rule_fuzz_" + std::to_string(getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const size_t split = input.find("\n--- timeline\n");
    const std::string source = split == std::string::npos ? input : input.substr(0, split);
    std::string timeline = split == std::string::npos ? "" : input.substr(split + 14);
    if (timeline.find("\"start\"") == std::string::npos)
        timeline = "{\"start\": \"2024-01-15T06:00:00Z\"}\n" + timeline;
    std::ofstream(scratch() / "fuzz.lua", std::ios::binary | std::ios::trunc) << source;
    std::ofstream(scratch() / "fuzz.jsonl", std::ios::binary | std::ios::trunc) << timeline;
    HarnessOptions o;
    o.rule_file = (scratch() / "fuzz.lua").string();
    o.timeline_file = (scratch() / "fuzz.jsonl").string();
    o.budgets.instructions = 200'000;
    o.budgets.time_ms = 50;
    o.budgets.memory_bytes = 4u << 20;
    auto report = run_rule_test(o);
    if (!report) {
        if (!is_valid_text(report.status().message())) throw std::logic_error("error text is not valid UTF-8");
        return 0;
    }
    const std::string json = report_to_json(*report).dump();  // throws on invalid UTF-8
    const std::string text = report_to_text(*report);
    if (!is_valid_text(text)) throw std::logic_error("report text is not valid UTF-8");
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    return {
        "gridlet.on('m/p', function(v, s, t) if v > 10 then gridlet.emit('high', 'warning', {v = v}) end end)\n"
        "--- timeline\n{\"t\": \"+1s\", \"series\": \"m/p\", \"value\": 12}\n{\"t\": \"+2s\", \"series\": \"m/p\", \"value\": 3}\n",
        "local n = 0\ngridlet.every('1s', function() n = n + 1 gridlet.state.n = n end)\n"
        "--- timeline\n{\"t\": \"+10s\", \"series\": \"x/y\", \"value\": 1}\n",
        "gridlet.on('a/', function(b) for i = 1, b.n do gridlet.write('d/sp', b.value[i]) end end, {batch = true})\n"
        "--- timeline\n{\"t\": \"+1s\", \"series\": \"a/b\", \"value\": 6}\n{\"t\": \"+1s\", \"series\": \"a/c\", \"value\": 7}\n",
        "local v = gridlet.latest({'m/a', 'm/b'})\ngridlet.at('00:00', function() gridlet.log.info('%s', tostring(v.value[1])) end)\n"
        "--- timeline\n{\"t\": \"+25h\", \"series\": \"m/a\", \"value\": 1}\n",
        "error('bad \\255')\n--- timeline\n",
        "gridlet.on('q/r', function() local r = gridlet.query{series = 'q/r', last = '1h', step = '15m'} "
        "gridlet.state.rows = #r end)\n--- timeline\n{\"t\": \"+1s\", \"series\": \"q/r\", \"value\": 1}\n",
        "while true do end\n--- timeline\n",
        "local t = {} for i = 1, 1e7 do t[i] = i end\n--- timeline\n",
        // Found by this target: a state key that is not UTF-8 (LuaJIT identifiers take bytes >= 0x80).
        "local n = 0\ngridlet.every('1s', function() n = n + 1 gridlet.state.n\xC2= n end)\n"
        "--- timeline\n{\"t\": \"+10s\", \"series\": \"x/y\", \"value\": 1}\n",
    };
}
