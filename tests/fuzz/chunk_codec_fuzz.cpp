// Fuzz target: the chunk codec (store/chunk_codec.h). Any bytes (a damaged
// file) decode to samples or to a corruption status, never a crash or an
// endless loop; any valid samples round-trip exactly (values bit for bit).
#include <cstring>
#include <stdexcept>

#include "fuzz_driver.h"
#include "store/aggregation.h"
#include "store/chunk_codec.h"

using namespace gridlet::store;

namespace {
void check(bool ok, const char* what) {
    if (!ok) throw std::logic_error(what);  // an uncaught exception aborts: the fuzzer reports it
}

void round_trip(std::vector<Sample> samples) {
    sort_and_dedup(samples);
    if (samples.empty()) return;
    std::string chunk;
    encode_chunk(samples, chunk);
    std::vector<Sample> back;
    check(static_cast<bool>(decode_chunk(chunk, back)), "an encoded chunk does not decode");
    check(back.size() == samples.size(), "round trip changed the sample count");
    for (size_t i = 0; i < back.size(); ++i) {
        check(back[i].ts == samples[i].ts && back[i].quality == samples[i].quality, "round trip changed a sample");
        check(std::memcmp(&back[i].value, &samples[i].value, sizeof(double)) == 0, "round trip changed a value");
    }
    auto h = peek_chunk_header(chunk);
    check(h && h->count == samples.size() && h->first_ts == samples.front().ts && h->last_ts == samples.back().ts,
          "header disagrees with the samples");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // 1. The bytes as a stored chunk.
    std::vector<Sample> decoded;
    if (decode_chunk(bytes, decoded)) round_trip(decoded);
    (void)peek_chunk_header(bytes);
    (void)chunk_value_mode(bytes);
    // 2. The bytes as samples (17 bytes each) to encode; times within the
    //    store's range (the writer never hands it others).
    std::vector<Sample> samples;
    const uint64_t span = static_cast<uint64_t>(kMaxStoreTime - kMinStoreTime);
    for (size_t i = 0; i + 17 <= size; i += 17) {
        uint64_t t = 0;
        Sample s;
        std::memcpy(&t, data + i, 8);
        std::memcpy(&s.value, data + i + 8, 8);
        s.quality = data[i + 16];
        // Mostly near each other (real chunks), sometimes anywhere.
        s.ts = (t >> 63) ? kMinStoreTime + static_cast<int64_t>(t % span) : 1'700'000'000'000 + static_cast<int64_t>(t % 100'000'000);
        samples.push_back(s);
    }
    round_trip(samples);
    return 0;
}

std::vector<std::string> fuzz_seeds() {
    std::vector<std::string> seeds;
    auto encoded = [&](std::vector<Sample> s) {
        std::string c;
        encode_chunk(s, c);
        seeds.push_back(c);
        std::string raw;
        for (const Sample& x : s) {
            const uint64_t t = static_cast<uint64_t>(x.ts - 1'700'000'000'000);
            raw.append(reinterpret_cast<const char*>(&t), 8);
            raw.append(reinterpret_cast<const char*>(&x.value), 8);
            raw.push_back(static_cast<char>(x.quality));
        }
        seeds.push_back(raw);
    };
    std::vector<Sample> gauge, counter, odd;
    for (int i = 0; i < 200; ++i) {
        gauge.push_back({1'700'000'000'000 + i * 1000 + (i % 3), 20.0 + (i % 7) * 0.1, 192});
        counter.push_back({1'700'000'000'000 + i * 600'000, 40482.83 + i * 0.25, static_cast<uint8_t>(i % 37 ? 192 : 0)});
    }
    odd = {{1'700'000'000'000, std::nan(""), 0}, {1'700'000'000'001, -0.0, 192}, {1'700'000'000'500, 1e308, 192},
           {1'700'000'060'000, -1e-300, 1}, {1'700'000'060'001, HUGE_VAL, 0}};
    encoded(gauge);
    encoded(counter);
    encoded(odd);
    encoded({{kMinStoreTime, 1, 192}, {kMaxStoreTime, 2, 192}});
    return seeds;
}
