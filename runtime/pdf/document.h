// A small document drawn as A4 PDF pages with cairo (a well-kept library,
// Debian's libcairo2): a title, then blocks flowing down the pages:
// headings, paragraphs (wrapped), tables (split across pages with their
// header repeated) and bar charts (one bar per period; a period without
// data has no bar and says so under the axis). Text is DejaVu Sans (Debian's
// fonts-dejavu-core), UTF-8.
//
// The bytes depend only on the document: the PDF's creation date is the
// document's `date` (not the clock), so the same report built twice is the
// same file (the export outbox tells a repeat by its bytes).
//
// Pure functions; any thread (each call has its own cairo surface).
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"

namespace gridlet::pdf {

struct Heading {
    std::string text;
};

struct Paragraph {
    std::string text;  // wrapped at the page width; "\n" starts a new line
};

struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;  // each as many cells as header
    // Each column's share of the page width (empty: equal shares).
    std::vector<double> widths;
    // Columns from this one on are right-aligned (numbers).
    size_t numbers_from = 1;
    bool last_row_total = false;  // the last row in bold, under a rule
};

struct BarChart {
    std::string title;                        // "Electricity per day"
    std::string unit;                         // the value axis's unit, "kWh"
    std::vector<std::string> labels;          // one per bar, under the axis ("1", "2", ... or "Jan")
    std::vector<std::optional<double>> values;  // nullopt: no data (no bar)
    // The last `upcoming` periods have not begun (a report of the month in
    // progress): no bar, no "–", and not counted as without data.
    size_t upcoming = 0;
};

using Block = std::variant<Heading, Paragraph, Table, BarChart>;

struct Document {
    std::string title;     // on the first page and in the PDF's metadata
    std::string subtitle;  // under the title
    std::string footer;    // on every page, left; "Page N" right
    std::string date;      // ISO 8601 UTC ("2026-12-01T00:00:00Z"): the PDF's creation date
    std::vector<Block> blocks;
};

// The document as PDF bytes. Errors: cairo failed (internal, with its reason).
Expected<std::string> render(const Document& doc);

// The value axis of a bar chart: from `bottom` (0, or below for negative
// values) to `top` in `step`s of 1, 2 or 5 × 10^n, 3 to 8 of them.
struct Axis {
    double bottom = 0, top = 1, step = 1;
};
Axis nice_axis(double min_value, double max_value);

struct Rect {
    double x = 0, y = 0, w = 0, h = 0;  // y down, as on the page
};
// Each value's bar in `plot` (equal slots, the bar 70 % of its slot, from
// the zero line up, or down for a negative value); nullopt for a value
// without data.
std::vector<std::optional<Rect>> bar_rects(const std::vector<std::optional<double>>& values, const Rect& plot,
                                           const Axis& axis);

}  // namespace gridlet::pdf
