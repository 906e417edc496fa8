// The PDF documents of the reports (pdf/document.h): the chart's axis and
// bars (geometry), and pages read back by poppler as a reader would: the
// title, the table cells in order, a long table continued on a second page
// under its header again, UTF-8 text, and the same bytes for the same
// document.
#include <gtest/gtest.h>

#include "pdf/document.h"
#include "support/pdf_text.h"

using namespace gridlet;
using namespace gridlet::pdf;

TEST(PdfAxis, StepsOfOneTwoOrFiveUpToAboveTheLargestValue) {
    const Axis a = nice_axis(0, 72);
    EXPECT_DOUBLE_EQ(a.bottom, 0);
    EXPECT_DOUBLE_EQ(a.step, 20);
    EXPECT_DOUBLE_EQ(a.top, 80);
    const Axis b = nice_axis(0, 0.93);
    EXPECT_DOUBLE_EQ(b.step, 0.2);
    EXPECT_NEAR(b.top, 1.0, 1e-12);
    const Axis c = nice_axis(-12, 40);  // a negative residual goes below zero
    EXPECT_DOUBLE_EQ(c.step, 20);
    EXPECT_DOUBLE_EQ(c.bottom, -20);
    EXPECT_DOUBLE_EQ(c.top, 40);
    const Axis none = nice_axis(0, 0);  // no data: still an axis
    EXPECT_GT(none.top, none.bottom);
}

TEST(PdfBars, HeightsFollowTheValuesAndAMissingValueHasNoBar) {
    const Rect plot{100, 50, 300, 150};
    const Axis axis{0, 80, 20};
    const auto r = bar_rects({80.0, 40.0, std::nullopt, 0.0}, plot, axis);
    ASSERT_EQ(r.size(), 4u);
    ASSERT_TRUE(r[0] && r[1] && r[3]);
    EXPECT_FALSE(r[2]) << "no data: no bar, never a guess";
    EXPECT_DOUBLE_EQ(r[0]->y, 50);  // the axis's top
    EXPECT_DOUBLE_EQ(r[0]->h, 150);
    EXPECT_DOUBLE_EQ(r[1]->h, 75);
    EXPECT_DOUBLE_EQ(r[1]->y + r[1]->h, 200);  // from the zero line
    EXPECT_DOUBLE_EQ(r[3]->h, 0);
    EXPECT_DOUBLE_EQ(r[0]->w, 300.0 / 4 * 0.7);
    EXPECT_DOUBLE_EQ(r[1]->x - r[0]->x, 75);  // equal slots
    const auto neg = bar_rects({-10.0}, plot, Axis{-20, 40, 20});
    ASSERT_TRUE(neg[0]);
    EXPECT_DOUBLE_EQ(neg[0]->y, 50 + 150 * 40.0 / 60);  // starts at zero, goes down
    EXPECT_DOUBLE_EQ(neg[0]->h, 150 * 10.0 / 60);
}

Document sample(size_t rows) {
    Document d;
    d.title = "Summary report — November 2026";
    d.subtitle = "Site lyon-3 · water in m³";
    d.footer = "summary-monthly-report_2026-11.pdf";
    d.date = "2026-12-01T00:00:00Z";
    d.blocks.push_back(Heading{"Electricity"});
    BarChart c;
    c.title = "Electricity per day";
    c.unit = "kWh";
    for (int i = 1; i <= 30; ++i) {
        c.labels.push_back(std::to_string(i));
        c.values.push_back(i == 5 ? std::nullopt : std::optional<double>(i * 2.5));
    }
    d.blocks.push_back(c);
    Table t;
    t.header = {"Day", "Consumption (kWh)", "Cost (EUR)"};
    for (size_t i = 0; i < rows; ++i)
        t.rows.push_back({"row-" + std::to_string(i), std::to_string(1000 + i) + ".500", "12.25"});
    t.rows.push_back({"Total", "99 999.000", "1 234.56"});
    t.last_row_total = true;
    d.blocks.push_back(t);
    return d;
}

TEST(PdfDocument, ReadsBackAsTheTitleTheChartAndTheTable) {
    auto pdf = render(sample(3));
    ASSERT_TRUE(pdf) << pdf.status().message();
    ASSERT_EQ(pdf->rfind("%PDF-", 0), 0u);
    EXPECT_EQ(test::pdf_pages(*pdf), 1);
    const std::string text = test::pdf_text(*pdf);
    EXPECT_NE(text.find("Summary report — November 2026"), std::string::npos) << text;
    EXPECT_NE(text.find("m³"), std::string::npos) << "UTF-8 text: " << text;
    EXPECT_NE(text.find("Electricity per day (kWh)"), std::string::npos) << text;
    EXPECT_NE(text.find("1 of 30 periods without data"), std::string::npos) << text;
    // A row's cells on one line, in order.
    EXPECT_NE(text.find("row-1"), std::string::npos);
    const size_t row = text.find("row-1");
    const std::string line = text.substr(row, text.find('\n', row) - row);
    EXPECT_NE(line.find("1001.500"), std::string::npos) << line;
    EXPECT_LT(line.find("1001.500"), line.find("12.25")) << line;
    EXPECT_NE(text.find("99 999.000"), std::string::npos);
    EXPECT_NE(text.find("Page 1"), std::string::npos);
}

TEST(PdfDocument, ALongTableGoesOnToTheNextPageUnderItsHeaderAgain) {
    auto pdf = render(sample(120));
    ASSERT_TRUE(pdf) << pdf.status().message();
    const int pages = test::pdf_pages(*pdf);
    EXPECT_GE(pages, 3);
    const std::string text = test::pdf_text(*pdf);
    const size_t second = text.find('\f');
    ASSERT_NE(second, std::string::npos);
    const std::string page2 = text.substr(second, text.find('\f', second + 1) - second);
    EXPECT_NE(page2.find("Consumption (kWh)"), std::string::npos) << "the header again: " << page2;
    EXPECT_NE(page2.find("Page 2"), std::string::npos);
    for (size_t i = 0; i < 120; i += 17) EXPECT_NE(text.find("row-" + std::to_string(i) + " "), std::string::npos) << i;
}

TEST(PdfDocument, TheSameDocumentIsTheSameBytes) {
    auto a = render(sample(10));
    auto b = render(sample(10));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b) << "the creation date is the document's, not the clock's";
    EXPECT_NE(a->find("/CreationDate (20261201000000"), std::string::npos) << "the PDF's CreationDate (cairo 1.16 leaves out the D: prefix)";
}
