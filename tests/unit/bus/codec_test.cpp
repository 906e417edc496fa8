#include "bus/codec.h"

#include <gtest/gtest.h>

#include <random>

using namespace gridlet;
using namespace gridlet::bus;

namespace {
std::string samples_frame(std::string_view topic, const std::vector<gl_sample>& s) {
    std::string out(samples_frame_size(topic, s.size()), '\0');
    encode_samples(topic, s.data(), s.size(), out.data());
    return out;
}
}  // namespace

TEST(Codec, SamplesRoundTrip) {
    std::vector<gl_sample> in;
    for (uint32_t i = 0; i < 300; ++i) {
        gl_sample s{};
        s.series_id = i + 1;
        s.ts_ms = 1700000000000 + i;
        s.value = i * 0.5 - 7;
        s.quality = i % 2 ? GL_QUALITY_GOOD : GL_QUALITY_BAD;
        in.push_back(s);
    }
    std::string frame = samples_frame("data/panel1/", in);
    EXPECT_EQ(frame.size(), 12 + 1 + 4 + 4 + 300 * 24u);
    auto f = decode_frame(frame);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->topic, "data/panel1/");
    EXPECT_EQ(f->type, MessageType::samples);
    auto n = sample_count(f->body);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, 300u);
    std::vector<gl_sample> out;
    copy_samples(f->body, *n, out);
    for (size_t i = 0; i < in.size(); ++i) {
        EXPECT_EQ(out[i].series_id, in[i].series_id);
        EXPECT_EQ(out[i].ts_ms, in[i].ts_ms);
        EXPECT_EQ(out[i].value, in[i].value);
        EXPECT_EQ(out[i].quality, in[i].quality);
    }
}

TEST(Codec, EventCommandReplyRoundTrip) {
    EventView e{123, GL_SEV_WARNING, "panel1", "offline", "{\"polls\":3}"};
    auto ef = decode_frame(encode_event("event/panel1/offline", e));
    ASSERT_TRUE(ef);
    auto ed = decode_event(ef->body);
    ASSERT_TRUE(ed);
    EXPECT_EQ(ed->ts_ms, 123);
    EXPECT_EQ(ed->severity, GL_SEV_WARNING);
    EXPECT_EQ(ed->source, "panel1");
    EXPECT_EQ(ed->type, "offline");
    EXPECT_EQ(ed->body_json, "{\"polls\":3}");

    CommandView c;
    c.request_id = 0xABCDEF0123ull;
    c.value = 16.5;
    c.timeout_ms = 2500;
    c.target = "ev1/setpoint";
    c.sender = "rules";
    auto cd = decode_command(decode_frame(encode_command("cmd/ev1/setpoint", c))->body);
    ASSERT_TRUE(cd);
    EXPECT_EQ(cd->request_id, c.request_id);
    EXPECT_EQ(cd->value, 16.5);
    EXPECT_EQ(cd->timeout_ms, 2500u);
    EXPECT_EQ(cd->target, "ev1/setpoint");
    EXPECT_EQ(cd->sender, "rules");
    EXPECT_FALSE(cd->has_text);
    c.has_text = true;
    c.text = "reset_demand";
    cd = decode_command(decode_frame(encode_command("cmd/ev1/x", c))->body);
    ASSERT_TRUE(cd);
    EXPECT_TRUE(cd->has_text);
    EXPECT_EQ(cd->text, "reset_demand");

    ReplyView r{77, GL_ERR_INVALID, "ev1/setpoint", "Modbus exception 02: illegal data address"};
    auto rd = decode_reply(decode_frame(encode_reply("reply/rules/", r))->body);
    ASSERT_TRUE(rd);
    EXPECT_EQ(rd->request_id, 77u);
    EXPECT_EQ(rd->status, GL_ERR_INVALID);
    EXPECT_EQ(rd->error, "Modbus exception 02: illegal data address");
}

TEST(Codec, MalformedFramesAreRefusedWithAReason) {
    auto msg = [](std::string_view f) {
        auto r = decode_frame(f);
        return r ? std::string("accepted") : r.status().message();
    };
    EXPECT_EQ(msg("no terminator"), "bus frame: no topic terminator");
    EXPECT_EQ(msg(std::string("t\0G\1", 4)), "bus frame: shorter than its header");
    EXPECT_EQ(msg(std::string("t\0X\1\1\0", 6)), "bus frame: bad magic byte");
    EXPECT_EQ(msg(std::string("t\0G\2\1\0", 6)), "bus frame: unknown version");
    EXPECT_EQ(msg(std::string("t\0G\1\x09\0", 6)), "bus frame: unknown message type");

    std::vector<gl_sample> two(2);
    std::string f = samples_frame("data/x/", two);
    auto body = decode_frame(f)->body;
    EXPECT_FALSE(sample_count(body.substr(0, body.size() - 1)));  // one byte short
    EXPECT_FALSE(sample_count(body.substr(0, 3)));                // count cut
    std::string longer(body);
    longer.push_back('x');
    EXPECT_FALSE(sample_count(longer));
    // A count that would overflow a 32-bit multiply must not be trusted.
    std::string huge("\xff\xff\xff\xff", 4);
    EXPECT_FALSE(sample_count(huge));

    std::string ev = encode_event("event/a/b", EventView{1, 1, "a", "b", "{}"});
    auto eb = decode_frame(ev)->body;
    EXPECT_FALSE(decode_event(eb.substr(0, eb.size() - 1)));
    EXPECT_FALSE(decode_event(std::string(eb) + "z"));
    EXPECT_FALSE(decode_command(eb));
    EXPECT_FALSE(decode_reply(std::string_view(eb).substr(0, 5)));
}

TEST(Codec, RandomBytesNeverCrashOrOverRead) {
    // Every prefix and random mutations of valid frames: decoding must
    // refuse or accept, never read past the end (run under ASan in fuzz/).
    std::mt19937 rng(12345);
    std::vector<std::string> seeds = {
        samples_frame("data/p/", std::vector<gl_sample>(3)),
        encode_event("event/a/b", EventView{1, 2, "a", "b", "{\"k\":1}"}),
        encode_command("cmd/a/b", CommandView{9, 1.5, 100, "a/b", "me", true, "txt"}),
        encode_reply("reply/me/", ReplyView{9, 0, "a/b", ""}),
    };
    size_t accepted = 0, refused = 0;
    for (const std::string& seed : seeds) {
        for (size_t cut = 0; cut <= seed.size(); ++cut) {
            std::string s = seed.substr(0, cut);
            for (int m = 0; m < 20; ++m) {
                std::string t = s;
                if (!t.empty()) t[rng() % t.size()] = static_cast<char>(rng());
                auto f = decode_frame(t);
                if (!f) {
                    ++refused;
                    continue;
                }
                bool ok = false;
                switch (f->type) {
                    case MessageType::samples: ok = sample_count(f->body).has_value(); break;
                    case MessageType::event: ok = decode_event(f->body).has_value(); break;
                    case MessageType::command: ok = decode_command(f->body).has_value(); break;
                    case MessageType::reply: ok = decode_reply(f->body).has_value(); break;
                }
                ok ? ++accepted : ++refused;
            }
        }
    }
    EXPECT_GT(refused, 0u);
    EXPECT_GT(accepted, 0u);
}
