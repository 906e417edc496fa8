#include "core/series_registry.h"

#include <gtest/gtest.h>

using namespace gridlet;

namespace {
SeriesMeta meta(std::string name, std::string unit = "A", SeriesKind kind = SeriesKind::gauge) {
    SeriesMeta m;
    m.name = std::move(name);
    m.unit = std::move(unit);
    m.kind = kind;
    return m;
}

class MemoryBackend : public SeriesRegistryBackend {
public:
    std::vector<SeriesMeta> rows;
    int persists = 0;
    Expected<std::vector<SeriesMeta>> load_all() override { return rows; }
    Status persist(const SeriesMeta& m) override {
        ++persists;
        for (auto& r : rows)
            if (r.id == m.id) {
                r = m;
                return Status::ok();
            }
        rows.push_back(m);
        return Status::ok();
    }
};
}  // namespace

TEST(SeriesRegistry, InternGivesDenseStableIds) {
    SeriesRegistry r;
    auto a = r.intern(meta("panel1/branch01/current"));
    auto b = r.intern(meta("panel1/branch02/current"));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, 1u);
    EXPECT_EQ(*b, 2u);
    EXPECT_EQ(*r.intern(meta("panel1/branch01/current")), 1u);
    EXPECT_EQ(r.name(2), "panel1/branch02/current");
    EXPECT_EQ(r.find("panel1/branch02/current"), 2u);
    EXPECT_FALSE(r.find("nope/x").has_value());
    EXPECT_EQ(r.size(), 2u);
}

TEST(SeriesRegistry, RefusesBadNamesWithTheName) {
    SeriesRegistry r;
    auto bad = r.intern(meta("no slash"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.status().message().find("'no slash'"), std::string::npos);
}

TEST(SeriesRegistry, MetadataUpdateKeepsTheId) {
    MemoryBackend be;
    SeriesRegistry r;
    ASSERT_TRUE(r.attach(&be));
    ASSERT_EQ(*r.intern(meta("m/e", "kWh", SeriesKind::counter)), 1u);
    EXPECT_EQ(be.persists, 1);
    ASSERT_EQ(*r.intern(meta("m/e", "kWh", SeriesKind::counter)), 1u);
    EXPECT_EQ(be.persists, 1) << "unchanged metadata must not be written again";
    ASSERT_EQ(*r.intern(meta("m/e", "Wh", SeriesKind::counter)), 1u);
    EXPECT_EQ(be.persists, 2);
    EXPECT_EQ(r.get(1)->unit, "Wh");
}

TEST(SeriesRegistry, IdsSurviveARestartThroughTheBackend) {
    MemoryBackend be;
    {
        SeriesRegistry r;
        ASSERT_TRUE(r.attach(&be));
        ASSERT_TRUE(r.intern(meta("a/x")));
        ASSERT_TRUE(r.intern(meta("b/y")));
    }
    SeriesRegistry r2;
    ASSERT_TRUE(r2.attach(&be));
    EXPECT_EQ(r2.find("b/y"), 2u);
    EXPECT_EQ(*r2.intern(meta("c/z")), 3u);
}

TEST(SeriesRegistry, AttachRefusesDuplicateIds) {
    MemoryBackend be;
    be.rows = {meta("a/x"), meta("b/y")};
    be.rows[0].id = 1;
    be.rows[1].id = 1;
    SeriesRegistry r;
    Status st = r.attach(&be);
    EXPECT_EQ(st.code(), StatusCode::corruption);
}

TEST(SeriesRegistry, SelectByPatternAndTags) {
    SeriesRegistry r;
    SeriesMeta m1 = meta("p1/b01/current");
    m1.tags = {{"site", "paris"}, {"usage", "lighting"}};
    SeriesMeta m2 = meta("p1/b02/current");
    m2.tags = {{"site", "paris"}, {"usage", "ev"}};
    SeriesMeta m3 = meta("p2/b01/kw", "kW");
    ASSERT_TRUE(r.intern(m1) && r.intern(m2) && r.intern(m3));
    EXPECT_EQ(r.select("p1/*/current")->size(), 2u);
    EXPECT_EQ(r.select("**/current", "usage=ev")->size(), 1u);
    EXPECT_EQ(r.select("", "site=paris")->size(), 2u);
    EXPECT_FALSE(r.select("", "broken"));
}

TEST(SeriesRegistry, ParsesTagsAndStates) {
    auto t = parse_tags(" site = paris , floor=2 ");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->at("site"), "paris");
    EXPECT_EQ(t->at("floor"), "2");
    auto s = parse_states("0=off,1=on,2=alarm");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->at(2), "alarm");
    EXPECT_FALSE(parse_states("x=off"));
}
