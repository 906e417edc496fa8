// The Socomec export files (runtime/export/socomec_files.h): the manual's
// Annex I (CSV) and Annex II (EMS) rebuilt from synthetic data, compared as
// cell matrices with the annexes (golden/*.tsv, taken from the manual's
// text) and byte for byte in the default dialect (golden/*.default.csv).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "export/csv_writer.h"
#include "export/socomec_files.h"

using namespace gridlet;
using namespace gridlet::exporter;
using namespace gridlet::exporter::socomec;

namespace {

std::string golden(const std::string& name) {
    std::ifstream f(std::string(GRIDLET_TEST_SOURCE_DIR) + "/tests/unit/export/golden/" + name, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

CellMatrix golden_cells(const std::string& name) {
    auto m = read_csv(golden(name), '\t');
    EXPECT_TRUE(m) << m.status().to_string();
    return m ? *m : CellMatrix{};
}

int64_t utc(const std::string& iso) { return *TimeZone::utc().parse_iso(iso + "Z"); }

}  // namespace

TEST(SocomecEms, AnnexTwoIsRebuiltCellForCellAndByteForByte) {
    EmsHeader h;
    h.type = DataType::avg;
    h.time_zone = "UTC";
    h.transfer_cycle_s = 600;
    h.site = "socomec";
    h.server = "E5C801";
    std::vector<EmsVariable> vars;
    const struct {
        const char* q;
        double coef;
        const char* unit;
        int64_t id;
    } quantities[] = {{"THD I1", 100, "%", 100006}, {"THD I2", 100, "%", 100007}, {"THD I3", 100, "%", 100008},
                      {"I1 AVG", 1000, "A", 10023}, {"I2 AVG", 1000, "A", 10024},  {"I3 AVG", 1000, "A", 10025}};
    for (const auto& q : quantities) {
        EmsVariable v;
        v.name = std::string(q.q) + " of PC 1-2-3 of I-35@4";
        v.use = "Use2";
        v.coef = q.coef;
        v.unit = q.unit;
        v.device_id = 14;
        v.index = 1;
        v.data_id = q.id;
        vars.push_back(v);
    }
    // Engineering values (raw ÷ coef), given oldest first and shuffled: the
    // file is grouped by key, newest first.
    std::vector<std::vector<Reading>> readings(vars.size());
    const double thd1[] = {1.99, 2.11, 2.31, 2.10, 1.98, 2.00, 2.01, 1.90, 2.37, 2.34};  // 15:05 .. 15:14
    for (int i = 0; i < 10; ++i) readings[0].push_back({utc("2019-01-18T15:05:00") + i * 60'000, thd1[i], 192});
    const double thd2[] = {209.01, 198.04, 216.05, 200.01};  // 15:11 .. 15:14
    for (int i = 0; i < 4; ++i) readings[1].push_back({utc("2019-01-18T15:11:00") + i * 60'000, thd2[i], 192});
    std::shuffle(readings[0].begin(), readings[0].end(), std::mt19937(3));
    const CellMatrix m = ems_matrix(h, vars, readings, TimeZone::utc());

    // The annex prints six variables and the data of the first two.
    EXPECT_EQ(m, golden_cells("annex2_ems.tsv"));
    EXPECT_EQ(write_csv(m, CsvDialect{}), golden("annex2_ems.default.csv"));
    EXPECT_EQ(ems_file_name("socomec", "E5C801", "I-35@4", DataType::avg, utc("2019-01-18T15:15:10"), TimeZone::utc()),
              "socomec_E5C801_I-35@4_Avg_2019-01-18_15-15-10.csv");
    EXPECT_EQ(ems_file_name("socomec", "E5C801", "I35", DataType::load_curve, utc("2019-01-18T15:15:10"),
                            TimeZone::utc()),
              "socomec_E5C801_I35_LoadCurve_2019-01-18_15-15-10.csv");
    // Decoding as the manual does: "THD I1 ... is equal to 2.34% on January 18th, 2019, at 3.14 pm".
    EXPECT_EQ(m[4][1], "socomec E5C801 14 1 ANA 100006");
    EXPECT_EQ(m[12][1], "2019-01-18T15:14:00");
    EXPECT_DOUBLE_EQ(std::stod(m[12][2]) / std::stod(m[4][6]), 2.34);
    EXPECT_EQ(m[4][7], "%");
}

TEST(SocomecCsv, AnnexOneIsRebuiltCellForCellAndByteForByte) {
    CsvDevice d;
    d.name = "I35_102";
    d.ip = "0.0.0.0";
    d.modbus_address = "102";
    d.begin_ms = utc("2000-01-01T00:00:00");
    d.end_ms = utc("2018-09-26T09:55:00");
    std::vector<CsvColumn> cols;
    for (const char* load : {"Security lighting Circulation", "Security lighting Storage Metrol"})
        for (const char* q : {"EA+", "EA-"}) cols.push_back({load, "Heating", "Elec", q, "Wh", 1.0});
    std::vector<CsvLine> lines;  // oldest first: the file is newest first
    for (int64_t t = utc("2018-09-26T03:00:00"); t <= utc("2018-09-26T09:50:00"); t += 600'000)
        lines.push_back({t, {0.0, 0.0, 0.0, 0.0}});
    const CellMatrix m = csv_matrix(d, cols, lines, TimeZone::utc(), CsvDialect{});
    EXPECT_EQ(m, golden_cells("annex1_csv.tsv"));
    EXPECT_EQ(write_csv(m, CsvDialect{}), golden("annex1_csv.default.csv"));
}

TEST(SocomecCsv, ScaleValuesAndTimesFollowTheDialectAndTheSiteZone) {
    CsvDialect comma = *make_dialect(";", ",", "lf");
    CsvDevice d{"Panel 1", "192.168.1.20", "1", 0, 0};
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    d.begin_ms = *paris.parse_iso("2024-10-27T01:00");
    d.end_ms = *paris.parse_iso("2024-10-27T04:00");
    std::vector<CsvColumn> cols{{"Heating; floor 2", "Heating", "Elec", "EA+", "kWh", 0.001},
                                {"Lighting \"east\"", "Lighting", "Elec", "EA+", "Wh", 1}};
    std::vector<CsvLine> lines{{*paris.parse_iso("2024-10-27T01:30"), {1.5, std::nullopt}},
                               {*paris.parse_iso("2024-10-27T02:30+01:00"), {0.25, 12.5}}};
    const CellMatrix m = csv_matrix(d, cols, lines, paris, comma);
    EXPECT_EQ(m[7], (CsvRow{"Scale", "0,0010000", "1,0000000"}));
    // Newest first; local time (the repeated 02:30 of the change is written as such).
    EXPECT_EQ(m[8], (CsvRow{"2024-10-27T02:30:00", "250", "12,5"}));
    EXPECT_EQ(m[9], (CsvRow{"2024-10-27T01:30:00", "1500", ""}));
    // An average's noise is not written: 9 decimals.
    const CellMatrix noisy = csv_matrix(d, {cols[1]}, {{d.begin_ms, {(3.123456 + 3.123456 + 3.123456) / 3}}}, paris, comma);
    EXPECT_EQ(noisy[8][1], "3,123456");
    const std::string bytes = write_csv(m, comma);
    EXPECT_NE(bytes.find("Load Name;\"Heating; floor 2\";\"Lighting \"\"east\"\"\"\n"), std::string::npos) << bytes;
    EXPECT_EQ(bytes.find('\r'), std::string::npos);
    auto back = read_csv(bytes, ';');
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, m);  // a name holding the delimiter or quotes is still one cell
}

TEST(CsvDialect, BadDialectsAreRefusedWithTheChoices) {
    EXPECT_FALSE(make_dialect(",", ",", "crlf"));  // numbers would split
    EXPECT_NE(make_dialect(",", ",", "crlf").status().message().find("also the delimiter"), std::string::npos);
    EXPECT_NE(make_dialect(":", ".", "crlf").status().message().find("\"tab\""), std::string::npos);
    EXPECT_FALSE(make_dialect(";", "·", "crlf"));
    EXPECT_FALSE(make_dialect(";", ".", "cr"));
    auto tab = make_dialect("tab", ",", "crlf");
    ASSERT_TRUE(tab);
    EXPECT_EQ(write_csv({{"a", "b;c"}, {}, {"1,5"}}, *tab), "a\tb;c\r\n\r\n1,5\r\n");
    EXPECT_FALSE(read_csv("a;\"b\r\n", ';'));  // a quote never closed
}

TEST(CsvDialect, NumbersAreExactOrFixed) {
    const CsvDialect dot, comma{';', ',', "\r\n"};
    EXPECT_EQ(format_fixed(1, 7, dot), "1.0000000");
    EXPECT_EQ(format_fixed(0.00000005, 7, dot), "0.0000001");  // half away from zero
    EXPECT_EQ(format_fixed(-0.00000001, 7, dot), "0.0000000");  // no "-0"
    EXPECT_EQ(format_fixed(2.5, 0, comma), "3");
    EXPECT_EQ(format_number(234, dot), "234");
    EXPECT_EQ(format_number(-0.0, dot), "0");
    EXPECT_EQ(format_number(0.1 + 0.2, comma), "0,30000000000000004");
    EXPECT_EQ(format_number(1e300, dot), "1e+300");
}

TEST(SocomecFiles, NamesHoldingTheFileNameSeparatorStillSplitIntoSixFields) {
    const std::string name = ems_file_name("my_site", "srv/1", "I-35@4_b", DataType::index,
                                           utc("2024-03-31T01:30:00"), *TimeZone::load("Europe/Paris"));
    EXPECT_EQ(name, "my-site_srv-1_I-35@4-b_Index_2024-03-31_03-30-00.csv");  // local time, after the spring change
    EXPECT_EQ(std::count(name.begin(), name.end(), '_'), 5);
    EXPECT_EQ(file_name_field(".."), "-");
    EXPECT_EQ(file_name_field("a\"b|c<d>e:f*g?h"), "a-b-c-d-e-f-g-h");  // not allowed in Windows names
    // The hour repeated when DST ends: the second 02:00 gets "_2" instead of
    // overwriting the first (found by the retest).
    const TimeZone paris = *TimeZone::load("Europe/Paris");
    const int64_t first = utc("2024-10-27T00:00:00"), second = utc("2024-10-27T01:00:00");  // 02:00 CEST, 02:00 CET
    EXPECT_EQ(ems_file_name("s", "g", "d", DataType::avg, first, paris), "s_g_d_Avg_2024-10-27_02-00-00.csv");
    EXPECT_EQ(ems_file_name("s", "g", "d", DataType::avg, second, paris), "s_g_d_Avg_2024-10-27_02-00-00_2.csv");
    EXPECT_EQ(file_name_field(""), "-");
    EXPECT_EQ(file_name_field("a\nb"), "a-b");
    // The cells keep the names as they are.
    EmsHeader h;
    h.site = "my_site";
    h.server = "srv/1";
    EXPECT_EQ(ems_matrix(h, {}, {}, TimeZone::utc())[1][6], "my_site");
    EXPECT_TRUE(parse_data_type("load_curve"));
    EXPECT_EQ(parse_data_type("LoadCurve").value(), DataType::load_curve);
    EXPECT_FALSE(parse_data_type("curve"));
}
